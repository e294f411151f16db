/*  schedule.h - adaptive polling (VINTED_SCHEDULE=adaptive). Per catalog it keeps
    an estimate of the arrival rate of new listings, learnt from what the catalog's
    windows committed (new items, the moment page 1 was fetched, truncation), and
    chooses when the catalog is polled next: late enough that the poll finds close
    to a whole number of pages of new listings (one request then brings ~96), early
    enough that it never meets more than one query reaches (960). The request budget
    is shared across catalogs; when it cannot cover the arrivals it is spent by
    weight (water-filling: no catalog gets more than it needs), each short catalog
    is polled at full truncated queries (96 listings a request), and the listings
    expected to be missed are reported per catalog.

    Pure computation: no clock, no I/O. Times are wall milliseconds passed in. The
    broker persists what it observes (windows.polled_at, windows.new_items), so the
    estimates are rebuilt after a restart by observing the stored windows again. */
#ifndef SCHEDULE_H_INCLUDED
#define SCHEDULE_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>

#define SCHEDULE_PER_PAGE 96    /* listings one catalog request returns */
#define SCHEDULE_MAX_PAGES 10   /* pages one query reaches: 960 results */
#define SCHEDULE_TARGET 800     /* new listings a full-capture poll aims at: 8.3 pages, leaving room
                                   on the 9th for pushed-up listings, the listings that arrive while
                                   it pages and the fetcher's run of old ids; 960 is 5 sd away */

typedef struct {
    double budget_per_min;     /* requests a minute the catalog polls may spend */
    int64_t min_interval_ms;   /* a catalog is never polled more often */
    int64_t max_interval_ms;   /* budget allowing, every catalog is polled at least this often */
    int64_t first_interval_ms; /* the interval until a catalog's rate is known */
    int64_t half_life_ms;      /* how fast the rate estimate forgets what it saw */
    int64_t request_ms;        /* time between two requests at the full request rate: the
                                  listings that arrive while a poll pages push the rest down */
} schedule_settings_t;

typedef struct _schedule_t schedule_t;

/* One catalog's plan, as status and the metrics show it. */
typedef struct {
    int32_t catalog;
    double weight;
    double rate_per_h;       /* estimated new listings an hour (0: not known yet) */
    int64_t interval_ms;     /* planned time between polls */
    double requests_per_h;   /* what the plan spends on it */
    double missed_per_h;     /* new listings an hour the plan expects to lose (budget short) */
    int64_t last_poll_ms;    /* 0: never polled */
    int64_t due_ms;          /* when the next poll is due (0: now) */
    bool short_of_budget;    /* polled at truncated queries: the budget does not cover it */
} schedule_plan_t;

schedule_t *schedule_new(const schedule_settings_t *settings);
void schedule_destroy(schedule_t **self_p);

/* Add a catalog (weight > 0; a catalog added twice keeps the first). 0, or -1 when full. */
int schedule_add(schedule_t *self, int32_t catalog, double weight);
/* A poll of the catalog committed: page 1 was fetched at polled_ms and the window
   found new_items listings never seen before; truncated: it stopped at the query's
   cap, so new_items is only a lower bound. The first poll only sets the start. */
void schedule_observe(schedule_t *self, int32_t catalog, int64_t polled_ms, int64_t new_items, bool truncated);
/* Recompute every catalog's interval under the budget (after observations). */
void schedule_replan(schedule_t *self);
/* Pages pinned to their poll's page 1 (v2's time=) do not shift as listings arrive:
   the target then leaves no room for arrivals while a poll pages (request_ms 0). */
void schedule_set_request_ms(schedule_t *self, int64_t request_ms);
/* When the catalog's next poll is due (wall ms; 0: at once; -1: unknown catalog). */
int64_t schedule_due_ms(const schedule_t *self, int32_t catalog);
/* The plan of the i-th catalog in id order (0 <= i < schedule_size). */
int schedule_size(const schedule_t *self);
void schedule_get(const schedule_t *self, int i, schedule_plan_t *out);
/* Whole plan: requests an hour spent, and listings an hour expected missed. */
void schedule_totals(const schedule_t *self, double *requests_per_h, double *missed_per_h);

void schedule_test(bool verbose);

#endif
