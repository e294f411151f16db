/*  window.h - a window: one pull of one catalog's new listings, and the
    slicing of time into fixed windows. The broker keeps open windows in
    memory (this struct) and durably in PostgreSQL (broker/store.c).
*/
#ifndef WINDOW_H_INCLUDED
#define WINDOW_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WINDOW_PER_PAGE 96
#define WINDOW_MAX_PAGES 10 /* the API serves at most 960 results per query */
#define WINDOW_MAX_PARTS 16 /* sub-queries of one window split past the cap */
#define WINDOW_SLOTS (WINDOW_MAX_PARTS * WINDOW_MAX_PAGES) /* window pages: part * 10 + API page */
#define WINDOW_MERGE_PAGES 8 /* learnt bands that paged this much together merge back (~770 listings:
                                what an adaptive poll aims at, with room below the cap) */

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

/* One query of a catalog window: the whole catalog, or a price band of it once
   the window is split. Each pages newest first from API page 1 down to the
   window's mark (hwm_before). A part that meets the 960-result cap before the
   mark is split: two halves of its band (bounds inclusive, so they overlap by
   one price) page down to the same mark.

   Part 0 is always the whole catalog: its page 1 is the newest listing of the
   catalog when the window began, which is the mark the window leaves (any
   listing it did not see came later, so has a larger id), and on v2 its
   pagination.time pins every other request of the window to that moment. A
   window that starts from learnt bands has part 0 as a probe: page 1 only, the
   bands start when it is back. */
typedef struct {
    int64_t price_from, price_to; /* minor units (scale 2); 0: open */
    int32_t next_page;            /* API page to fetch next; 0: paging is over */
    int32_t last_page;            /* API page paging stopped at; 0 while paging */
    bool truncated;               /* met the cap before the mark */
    bool split;                   /* ... and was replaced by two halves */
    bool probe;                   /* part 0 of a window started in bands: page 1 only */
} window_part_t;

typedef struct {
    int64_t id;
    int32_t catalog_id;
    char site[8];                 /* the Vinted site ("pt", "co.uk"); "" for windows of no site */
    int64_t start_s, end_s;       /* UTC unix seconds: the time range it stands for */
    window_state_t state;
    int64_t hwm_before;           /* catalog mark when it started */
    window_part_t parts[WINDOW_MAX_PARTS]; /* catalog window: its queries (1 unless split) */
    int32_t n_parts;
    int64_t pin_time;             /* pagination.time of part 0's page 1 (0: none, or not yet) */
    int64_t mark_id;              /* the largest id on part 0's page 1: the mark the window leaves (0: unknown) */
    int32_t pages_done;           /* pages committed and stored */
    int32_t prefix_done;          /* part 0's pages 1..prefix_done are (where an unsplit window resumes) */
    uint8_t page_state[WINDOW_SLOTS + 1]; /* WINDOW_PAGE_* bits per window page */
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

/* Record what happened to a window page (WINDOW_PAGE_* bits); counts pages_done
   and advances prefix_done. */
void window_page_done(window_t *self, int32_t page, int what);
/* A catalog window: every part's pages fetched, committed and stored. Any other
   kind: no task outstanding. */
bool window_complete(const window_t *self);
/* The window page of a part's API page, and back (0 / -1 out of range). */
int32_t window_page_of(int part, int32_t api_page);
int window_part_of(int32_t page, int32_t *api_page);
/* Pages the window fetched in all (the sum of its parts' last pages), 0 while any pages. */
int32_t window_pages(const window_t *self);

/* Add a part for the band [price_from, price_to] paging from API page 1: its index,
   or -1 when the window has WINDOW_MAX_PARTS. */
int window_part_add(window_t *self, int64_t price_from, int64_t price_to);
/* Part i met the cap: replace it by two halves of its band (marked split, the
   halves added). False, and the part stays truncated, when its band cannot be
   halved (one price) or the window has no room for two more parts. */
bool window_part_split(window_t *self, int i);
/* Where [from, to] (0: open) is halved: a whole currency unit where the band is
   wider than two, the geometric middle of a closed band, twice from for an open
   one; -1 if the band is a single price. */
int64_t window_band_middle(int64_t from, int64_t to);
/* How many bands the window's queries end in (parts neither split nor the probe). */
int window_bands_count(const window_t *self);
/* The bands of the parts not split (nor the probe), "from-to,from-to" in minor
   units (0: open), into buf; an unsplit window writes "". */
void window_bands_format(const window_t *self, char *buf, size_t size);
/* The bands the catalog's next window should start from, into buf: this (done)
   window's bands not split, in price order, with neighbours merged while their
   pages together are at most WINDOW_MERGE_PAGES (room left below the cap);
   "" when that leaves one open band (the next window need not split). */
void window_bands_next(const window_t *self, char *buf, size_t size);
/* Replace the parts by a probe (part 0) and the bands of a window_bands_format
   string, each from page 1: 0, or -1 (parts unchanged) if it is malformed or has
   more than WINDOW_MAX_PARTS - 1 bands. */
int window_bands_parse(window_t *self, const char *text);

/* The fixed window [start, end) of length len_s that contains t. */
void window_slice(int64_t t, int64_t len_s, int64_t *start_s, int64_t *end_s);

const char *window_state_name(window_state_t state);
/* The windows table's kind column: "replay", "tracking", "images", "catalogs"; anything else is a catalog window. */
window_kind_t window_kind_from_name(const char *name);
const char *window_kind_name(window_kind_t kind);

void window_test(bool verbose);

#endif
