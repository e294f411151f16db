/*  ratelimit.h - the global request budget: a token bucket of one token that
    refills at `per_minute`, shared by all fetchers through the broker, plus a
    hard pause (after a 403 block) during which no token is granted.
*/
#ifndef RATELIMIT_H_INCLUDED
#define RATELIMIT_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>

typedef struct {
    int64_t interval_ms;  /* 60000 / per_minute */
    int64_t next_at_ms;   /* monotonic time the next token may be granted */
    int64_t paused_until; /* monotonic; 0 when not paused */
    int64_t granted;
} ratelimit_t;

void ratelimit_init(ratelimit_t *self, double per_minute, int64_t now_ms);
/* Take a token if one is available now. */
bool ratelimit_take(ratelimit_t *self, int64_t now_ms);
/* Milliseconds until a token can be taken (0 = now). */
int64_t ratelimit_wait_ms(const ratelimit_t *self, int64_t now_ms);
void ratelimit_pause(ratelimit_t *self, int64_t now_ms, int64_t pause_ms);

void ratelimit_test(bool verbose);

#endif
