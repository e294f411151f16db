/*  window.h - a window: one pull of one catalog's new listings, and the
    slicing of time into fixed windows. The broker keeps open windows in
    memory (this struct) and durably in PostgreSQL (broker/store.c).
*/
#ifndef WINDOW_H_INCLUDED
#define WINDOW_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>

#define WINDOW_PER_PAGE 96
#define WINDOW_MAX_PAGES 10 /* the API serves at most 960 results per query */

typedef enum { WINDOW_PENDING = 0, WINDOW_RUNNING, WINDOW_DONE, WINDOW_FAILED } window_state_t;

typedef struct {
    int64_t id;
    int32_t catalog_id;
    int64_t start_s, end_s;       /* UTC unix seconds: the time range it stands for */
    window_state_t state;
    int64_t hwm_before;           /* catalog mark when it started */
    int32_t next_page;            /* next page to fetch (0: fetching is over) */
    int32_t last_page;            /* last page to commit, 0 while unknown */
    int32_t pages_done;           /* pages 1..pages_done are committed */
    bool committed[WINDOW_MAX_PAGES + 1];
    int32_t fetch_attempt;        /* bumps each time a fetch task is dispatched again */
    bool truncated;               /* stopped at the result cap before the mark */
    bool degraded;                /* a page was quarantined: keep the mark where it was */
    int64_t max_item_id;
    int32_t items;
    int32_t requests;
    int32_t failures;             /* NACKs so far */
} window_t;

window_t *window_new(int64_t id, int32_t catalog_id, int64_t start_s, int64_t end_s);
void window_destroy(window_t **self_p);

/* Mark page committed; advances pages_done over the contiguous prefix. */
void window_commit_page(window_t *self, int32_t page);
/* All pages fetched and committed. */
bool window_complete(const window_t *self);

/* The fixed window [start, end) of length len_s that contains t. */
void window_slice(int64_t t, int64_t len_s, int64_t *start_s, int64_t *end_s);

const char *window_state_name(window_state_t state);

void window_test(bool verbose);

#endif
