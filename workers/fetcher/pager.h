/*  pager.h - reading one catalog (or seller) page just enough to drive the paging: the
    item ids, their count and maximum, pagination.total_pages, and the stop
    rule that decides whether the broker should ask for the next page.

    Stop rule (the page's items in the order the API gave them):
      - no items, or page * per_page >= 960 (the API's cap), or page >= total_pages
        (when known): stop;
      - hwm > 0 and the page reached the mark: stop. newest_first mixes pushed-up
        (bumped) old items among new ones, so one old id (<= hwm) is not the mark;
        the mark is reached when the page ends with a run of at least
        PAGER_OLD_RUN consecutive old ids, or when every id on a shorter page is old;
      - otherwise: go on.
*/
#ifndef PAGER_H_INCLUDED
#define PAGER_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PAGER_OLD_RUN 5 /* trailing old ids that mean "we are past the mark" */

typedef struct {
    int32_t n_items;     /* elements of the items array */
    int32_t n_ids;       /* of which carry a usable id */
    int64_t max_item_id; /* 0 if none */
    int32_t total_pages; /* 0 if unknown */
    int64_t time;        /* pagination.time: the result set's time (unix s), 0 if absent */
    int32_t old_run;     /* trailing run of ids <= hwm (0 when hwm is 0) */
    bool reached_mark;   /* the stop rule's verdict on the ids */
} pager_scan_t;

/* Scan a response body: 0 and *out filled if it is one complete JSON object
   with an "items" array; -1 and the reason in err otherwise (malformed or
   truncated JSON, trailing garbage, no items array). Ids come from numbers
   (valuedouble) that are whole and in 1..2^53; other items are counted but
   carry no id. */
int pager_scan(const char *body, size_t len, int64_t hwm, pager_scan_t *out, char *err,
               size_t errlen);

/* True if the ids (page order) reached the high-water mark (see above). */
bool pager_mark_reached(const int64_t *ids, size_t n, int64_t hwm);

/* Whether the broker should fetch page + 1 after this scanned page. */
bool pager_more(int32_t page, int32_t per_page, const pager_scan_t *scan);

/* Whether the broker should fetch page + 1 of a seller's item list: only when
   total_pages is known and not reached, and never past VINTED_USER_MAX_PAGES
   (no high-water mark: every item of the seller is an observation). */
bool pager_more_user_items(int32_t page, const pager_scan_t *scan);

/* Whether paging goes on past a page that could not be read: only the cap stops it. */
bool pager_more_after_error(int32_t page, int32_t per_page);

void pager_test(bool verbose);

#endif
