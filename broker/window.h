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

/* What a window does. A catalog window pulls pages of one catalog; the others
   are a set of tasks that is done when none is left outstanding. */
typedef enum {
    WINDOW_CATALOG = 0, /* kind 'scheduled' or 'adhoc' in the windows table */
    WINDOW_REPLAY,      /* stored raw pages fed back through transformer and sink */
    WINDOW_TRACKING,    /* a tracking run: snapshots of the sampled items */
    WINDOW_IMAGES,      /* the photos a committed catalog window asked for */
    WINDOW_CATALOGS,    /* a refresh of the site's catalog tree (names for the reports) */
} window_kind_t;
#define WINDOW_KINDS 5

typedef struct {
    int64_t id;
    int32_t catalog_id;
    int64_t start_s, end_s;       /* UTC unix seconds: the time range it stands for */
    window_state_t state;
    int64_t hwm_before;           /* catalog mark when it started */
    int32_t next_page;            /* next page to fetch (0: fetching is over) */
    int32_t last_page;            /* last page to commit, 0 while unknown */
    int32_t pages_done;           /* pages 1..pages_done are committed and stored */
    uint8_t page_state[WINDOW_MAX_PAGES + 1]; /* WINDOW_PAGE_* bits per page */
    int32_t fetch_attempt;        /* bumps each time the window resumes after a broker restart */
    bool truncated;               /* stopped at the result cap before the mark */
    bool degraded;                /* a page was quarantined: keep the mark where it was */
    bool finish_pending;          /* complete, but recording it failed (database down): retried */
    int64_t polled_ms;            /* catalog window: when page 1 was fetched (UTC ms; 0: not yet) */
    int64_t new_items;            /* catalog window, once done: listings it saw first */
    int64_t max_item_id;
    int32_t items;
    int32_t requests;
    int32_t failures;             /* NACKs so far */
    window_kind_t kind;
    int32_t outstanding;          /* tasks of this window not yet answered */
    int32_t expected;             /* replay: raw pages; tracking: sellers and item pages; images: photos */
    int32_t completed;            /* of which done */
    int32_t phase;                /* tracking: 0 seller pages, 1 item pages of what they did not show */
    int64_t parent_id;            /* images: the catalog window that asked for them */
    void *replayed;               /* replay: the original windows its pages came from (broker-owned) */
} window_t;

#define WINDOW_PAGE_COMMITTED 1 /* the sink committed its batch */
#define WINDOW_PAGE_STORED 2    /* the raw page is in the landing area */
#define WINDOW_PAGE_DONE (WINDOW_PAGE_COMMITTED | WINDOW_PAGE_STORED)

window_t *window_new(int64_t id, int32_t catalog_id, int64_t start_s, int64_t end_s);
void window_destroy(window_t **self_p);

/* Record what happened to a page (WINDOW_PAGE_* bits); advances pages_done over
   the contiguous prefix of pages that are committed and stored. */
void window_page_done(window_t *self, int32_t page, int what);
/* A catalog window: all pages fetched, committed and stored. Any other kind:
   no task outstanding. */
bool window_complete(const window_t *self);

/* The fixed window [start, end) of length len_s that contains t. */
void window_slice(int64_t t, int64_t len_s, int64_t *start_s, int64_t *end_s);

const char *window_state_name(window_state_t state);
/* The windows table's kind column: "replay", "tracking", "images", "catalogs"; anything else is a catalog window. */
window_kind_t window_kind_from_name(const char *name);
const char *window_kind_name(window_kind_t kind);

void window_test(bool verbose);

#endif
