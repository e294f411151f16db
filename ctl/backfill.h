/*  backfill.h - vinted-ctl backfill: split a time range into windows, push each
    to the broker with the "window" verb, then follow them with "get" until all
    are done or failed. On a terminal a progress bar (windows done/total, items,
    items/s, ETA) is redrawn on stderr; otherwise one line per finished window.
    A catalog's windows run one after another in the broker, so only the oldest
    unfinished window is asked about on each round; when the broker says it does
    not progress, why is said on stderr every 10 s, and at the timeout.
*/
#ifndef CTL_BACKFILL_H_INCLUDED
#define CTL_BACKFILL_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>

#define BACKFILL_MAX_WINDOWS 100000

typedef struct {
    int64_t from, to; /* unix seconds, [from, to) */
} backfill_span_t;

/* [from, to) cut into spans of len seconds (the last one shorter when it must).
   Their count and a malloc'ed array, or -1 when the range is empty, len is not
   positive or it would make more than BACKFILL_MAX_WINDOWS windows. */
int backfill_split(int64_t from, int64_t to, int64_t len, backfill_span_t **spans);

/* Push and follow the windows. progress: draw a bar on stderr (a terminal);
   json: print one JSON summary on stdout at the end instead of lines.
   Exit status: 0 all committed, 1 some failed (named on stderr) or interrupted,
   2 the broker refused the arguments, 3 the broker unreachable, 4 not all
   finished within timeout_ms (the windows go on in the broker). */
int backfill_run(const char *endpoint, const char *catalog, const backfill_span_t *spans, int n,
                 int64_t timeout_ms, bool progress, bool json);

void backfill_test(bool verbose);

#endif
