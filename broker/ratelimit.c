/*  ratelimit.c - the global request budget. */
#include "broker/ratelimit.h"

#include <assert.h>

void ratelimit_init(ratelimit_t *self, double per_minute, int64_t now_ms)
{
    assert(per_minute > 0);
    self->interval_ms = (int64_t) (60000.0 / per_minute);
    if (self->interval_ms < 1)
        self->interval_ms = 1;
    self->next_at_ms = now_ms;
    self->paused_until = 0;
    self->granted = 0;
}

int64_t ratelimit_wait_ms(const ratelimit_t *self, int64_t now_ms)
{
    int64_t at = self->next_at_ms > self->paused_until ? self->next_at_ms : self->paused_until;
    return at > now_ms ? at - now_ms : 0;
}

bool ratelimit_take(ratelimit_t *self, int64_t now_ms)
{
    if (ratelimit_wait_ms(self, now_ms) > 0)
        return false;
    /* no saving up: an idle period does not allow a burst afterwards */
    self->next_at_ms = now_ms + self->interval_ms;
    self->granted++;
    return true;
}

void ratelimit_pause(ratelimit_t *self, int64_t now_ms, int64_t pause_ms)
{
    if (now_ms + pause_ms > self->paused_until)
        self->paused_until = now_ms + pause_ms;
}

void ratelimit_test(bool verbose)
{
    (void) verbose;
    ratelimit_t r;
    ratelimit_init(&r, 60, 1000); /* one a second */
    assert(ratelimit_take(&r, 1000));
    assert(!ratelimit_take(&r, 1500));
    assert(ratelimit_wait_ms(&r, 1500) == 500);
    assert(ratelimit_take(&r, 2000));
    /* an idle minute grants one token, not sixty */
    assert(ratelimit_take(&r, 62000));
    assert(!ratelimit_take(&r, 62001));
    /* never more than the rate over any span: 1000 attempts, every ms, over 10 s */
    ratelimit_init(&r, 60, 0);
    int granted = 0;
    for (int64_t t = 0; t < 10000; t++)
        granted += ratelimit_take(&r, t);
    assert(granted == 10);
    ratelimit_pause(&r, 10000, 30000);
    assert(!ratelimit_take(&r, 20000));
    assert(ratelimit_wait_ms(&r, 20000) == 20000);
    assert(ratelimit_take(&r, 40000));
    assert(r.granted == 11);
}
