/*  backoff.h - how long to wait before trying Vinted or its photo CDN again: exponential
    backoff with full jitter (a random delay between 0 and min(cap, base * 2^n)),
    and the server's own Retry-After header (delay-seconds or an HTTP date).
    The random state is the caller's (no hidden globals).
*/
#ifndef BACKOFF_H_INCLUDED
#define BACKOFF_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>

/* A seed for backoff_rand from the clock and the process id. */
uint64_t backoff_seed(void);
/* The next pseudo-random number of the sequence in *state (splitmix64). */
uint64_t backoff_rand(uint64_t *state);

/* The ceiling of retry n (0-based): min(max_ms, base_ms * 2^n), never negative. */
int64_t backoff_ceiling_ms(int64_t base_ms, int64_t max_ms, int retry);
/* A delay drawn uniformly from [0, backoff_ceiling_ms(...)]. */
int64_t backoff_delay_ms(int64_t base_ms, int64_t max_ms, int retry, uint64_t *state);

/* Parse a Retry-After value: "120" (seconds) or "Wed, 21 Oct 2026 07:28:00 GMT"
   (relative to now_ms, UTC unix milliseconds; a past date means 0).
   0 and the delay in *out_ms, or -1 if the value is neither. */
int backoff_retry_after_ms(const char *value, int64_t now_ms, int64_t *out_ms);

void backoff_test(bool verbose);

#endif
