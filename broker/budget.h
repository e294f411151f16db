/*  budget.h - the request budget across egress identities (VINTED_PROXIES): each
    identity has its own rate (VINTED_RATE requests a minute, one token at a time,
    no saving up) and its own pause after a 403 block, and all of them together
    an optional global cap (VINTED_RATE_TOTAL). A token is granted for the
    identity that can take one now, in turn; a blocked identity pauses alone.
*/
#ifndef BUDGET_H_INCLUDED
#define BUDGET_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "broker/ratelimit.h"

typedef struct _budget_t budget_t;

/* n identities at per_minute each; total_per_minute caps them together (0: no cap). */
budget_t *budget_new(int n, double per_minute, double total_per_minute, int64_t now_ms);
void budget_destroy(budget_t **self_p);

int budget_identities(const budget_t *self);
/* A token now: the identity it is for, or -1 (none can take one yet). */
int budget_take(budget_t *self, int64_t now_ms);
/* Give back a token taken for identity i (its fetcher was gone): it may be taken again at once. */
void budget_give_back(budget_t *self, int i, int64_t now_ms);
/* Milliseconds until some identity can take a token (0: now). */
int64_t budget_wait_ms(const budget_t *self, int64_t now_ms);
/* Identity i was blocked: no token for it for pause_ms from now (a later block extends it). */
void budget_pause(budget_t *self, int i, int64_t now_ms, int64_t pause_ms);
/* How long until an identity is no longer paused (0: not paused). */
int64_t budget_paused_ms(const budget_t *self, int i, int64_t now_ms);
/* Until every identity can fetch again: 0 unless all of them are paused. */
int64_t budget_all_paused_ms(const budget_t *self, int64_t now_ms);
/* Tokens granted, for identity i (or all: i < 0). */
int64_t budget_granted(const budget_t *self, int i);

void budget_test(bool verbose);

#endif
