/*  budget.c - the request budget across egress identities (see budget.h). */
#include "broker/budget.h"

#include <assert.h>
#include <stdlib.h>

struct _budget_t {
    ratelimit_t *ident; /* one per identity: its rate and its block pause */
    int n;
    int next;           /* the identity asked first next time (turns) */
    ratelimit_t total;  /* the global cap */
    bool capped;
};

budget_t *budget_new(int n, double per_minute, double total_per_minute, int64_t now_ms)
{
    if (n < 1 || per_minute <= 0 || total_per_minute < 0)
        return NULL;
    budget_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->ident = calloc((size_t) n, sizeof *self->ident);
    if (!self->ident) {
        free(self);
        return NULL;
    }
    self->n = n;
    for (int i = 0; i < n; i++)
        ratelimit_init(&self->ident[i], per_minute, now_ms);
    self->capped = total_per_minute > 0;
    if (self->capped)
        ratelimit_init(&self->total, total_per_minute, now_ms);
    return self;
}

void budget_destroy(budget_t **self_p)
{
    if (*self_p) {
        free((*self_p)->ident);
        free(*self_p);
        *self_p = NULL;
    }
}

int budget_identities(const budget_t *self)
{
    return self->n;
}

int budget_take(budget_t *self, int64_t now_ms)
{
    if (self->capped && ratelimit_wait_ms(&self->total, now_ms) > 0)
        return -1;
    for (int k = 0; k < self->n; k++) {
        int i = (self->next + k) % self->n;
        if (ratelimit_take(&self->ident[i], now_ms)) {
            if (self->capped)
                ratelimit_take(&self->total, now_ms);
            self->next = (i + 1) % self->n;
            return i;
        }
    }
    return -1;
}

void budget_give_back(budget_t *self, int i, int64_t now_ms)
{
    if (i < 0 || i >= self->n)
        return;
    self->ident[i].next_at_ms = now_ms;
    self->ident[i].granted--;
    if (self->capped) {
        self->total.next_at_ms = now_ms;
        self->total.granted--;
    }
}

int64_t budget_wait_ms(const budget_t *self, int64_t now_ms)
{
    int64_t best = INT64_MAX;
    for (int i = 0; i < self->n; i++) {
        int64_t w = ratelimit_wait_ms(&self->ident[i], now_ms);
        if (w < best)
            best = w;
    }
    if (self->capped) {
        int64_t w = ratelimit_wait_ms(&self->total, now_ms);
        if (w > best)
            best = w;
    }
    return best;
}

void budget_pause(budget_t *self, int i, int64_t now_ms, int64_t pause_ms)
{
    if (i >= 0 && i < self->n)
        ratelimit_pause(&self->ident[i], now_ms, pause_ms);
}

int64_t budget_paused_ms(const budget_t *self, int i, int64_t now_ms)
{
    if (i < 0 || i >= self->n)
        return 0;
    int64_t until = self->ident[i].paused_until;
    return until > now_ms ? until - now_ms : 0;
}

int64_t budget_all_paused_ms(const budget_t *self, int64_t now_ms)
{
    int64_t least = INT64_MAX;
    for (int i = 0; i < self->n; i++) {
        int64_t p = budget_paused_ms(self, i, now_ms);
        if (p < least)
            least = p;
    }
    return least;
}

int64_t budget_granted(const budget_t *self, int i)
{
    if (i >= 0)
        return i < self->n ? self->ident[i].granted : 0;
    int64_t sum = 0;
    for (int k = 0; k < self->n; k++)
        sum += self->ident[k].granted;
    return sum;
}

void budget_test(bool verbose)
{
    (void) verbose;
    assert(budget_new(0, 1, 0, 0) == NULL && budget_new(1, 0, 0, 0) == NULL);
    /* two identities at one a second each, no cap: two tokens a second, in turn */
    budget_t *b = budget_new(2, 60, 0, 1000);
    assert(b && budget_identities(b) == 2);
    assert(budget_take(b, 1000) == 0 && budget_take(b, 1000) == 1 && budget_take(b, 1000) == -1);
    assert(budget_wait_ms(b, 1500) == 500);
    assert(budget_take(b, 2000) == 0 && budget_take(b, 2000) == 1);
    /* identity 0 is blocked: identity 1 alone goes on at its own rate */
    budget_pause(b, 0, 2000, 60000);
    assert(budget_paused_ms(b, 0, 2000) == 60000 && budget_paused_ms(b, 1, 2000) == 0);
    assert(budget_all_paused_ms(b, 2000) == 0);
    assert(budget_take(b, 3000) == 1 && budget_take(b, 3000) == -1);
    assert(budget_take(b, 4000) == 1);
    budget_give_back(b, 1, 4000);
    assert(budget_take(b, 4000) == 1 && budget_granted(b, 1) == 4);
    /* both blocked: nothing until the first pause ends */
    budget_pause(b, 1, 5000, 10000);
    assert(budget_all_paused_ms(b, 5000) == 10000);
    assert(budget_take(b, 14999) == -1 && budget_take(b, 15000) == 1);
    assert(budget_take(b, 62000) == 0); /* identity 0's pause is over */
    assert(budget_granted(b, -1) == budget_granted(b, 0) + budget_granted(b, 1));
    budget_destroy(&b);
    assert(b == NULL);
    /* a global cap of one a second over four identities */
    b = budget_new(4, 60, 60, 0);
    assert(budget_take(b, 0) == 0 && budget_take(b, 0) == -1 && budget_wait_ms(b, 0) == 1000);
    assert(budget_take(b, 1000) == 1 && budget_take(b, 2000) == 2);
    budget_destroy(&b);
}
