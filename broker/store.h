/*  store.h - the broker's durable state in PostgreSQL: windows, their
    progress, each catalog's high-water mark and the per-window data-quality
    report. A restarted broker reloads open windows from here and resumes.
*/
#ifndef STORE_H_INCLUDED
#define STORE_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "broker/window.h"

typedef struct _store_t store_t;

/* Connect (retrying until timeout_ms) and apply migrations. NULL on failure. */
store_t *store_new(const char *conninfo, int64_t timeout_ms);
void store_destroy(store_t **self_p);

/* Insert a window of a site ("pt", ...; "" for windows of no site: replays,
   tracking runs). kind "scheduled" windows are unique per (site, catalog, start):
   returns 1 and no id when it already exists; 0 with *id on insert; -1 on error. */
int store_window_create(store_t *self, const char *site, int32_t catalog_id, int64_t start_s, int64_t end_s,
                        const char *kind, int64_t *id);
/* Windows and marks from before sites (site '') become the default site's. 0 or -1. */
int store_claim_site(store_t *self, const char *site);

/* Call fn for every pending or running window, oldest first. */
int store_windows_open(store_t *self, void (*fn)(void *arg, window_t *window), void *arg);

/* Mark running and read the catalog's mark into window->hwm_before. */
int store_window_start(store_t *self, window_t *window);
/* Persist pages_done, last_page, max_item_id, items, requests, truncated, degraded. */
int store_window_progress(store_t *self, const window_t *window);
/* Done: in one transaction, state done, the catalog mark advanced (unless degraded),
   and the data-quality report computed from the window's sightings and quarantine. */
int store_window_finish(store_t *self, window_t *window); /* also sets window->new_items */
/* A replay is done: state done, and the quality report of every original window it
   replayed computed again from the (replayed) sightings. */
int store_replay_finish(store_t *self, const window_t *window, const int64_t *windows, const int32_t *catalogs,
                        size_t n);
int store_window_fail(store_t *self, const window_t *window, const char *error);

/* Read one window (any state) into *window, with its error text if any.
   0 found, 1 no such window, -1 database error. */
int store_window_get(store_t *self, int64_t id, window_t *window, char *error, size_t error_size);

/* Record which catalog window an images window works for. */
int store_window_set_parent(store_t *self, int64_t id, int64_t parent_id);

/* Row callbacks get the row's first columns as integers (cols) and its text column, if any. */
typedef int (*store_row_fn)(void *arg, const int64_t *cols, const char *text);

/* Tracking: sellers of sampled live items (cols: user_id, 0) and sampled live items
   without a known seller (cols: 0, item_id). */
int store_track_targets(store_t *self, uint64_t threshold, store_row_fn fn, void *arg);
/* Tracking: sampled live items no snapshot of run_id shows yet (cols: item_id). */
int store_track_missing(store_t *self, int64_t run_id, uint64_t threshold, store_row_fn fn, void *arg);
/* Images: unstored photos of the items a window (catalog window or tracking run) saw, of sampled items (all photos) or, with
   main_of_all, the main photo of every item (cols: item_id, photo_id; text: url); photos marked
   gone left out. */
/* The retry of what images windows left: unstored photos (same policy) of items first seen more than
   older_ms ago, at most limit of them. */
int store_photos_to_retry(store_t *self, int64_t older_ms, int limit, uint64_t threshold, bool main_of_all,
                          store_row_fn fn, void *arg);
int store_photos_to_fetch(store_t *self, int64_t window_id, uint64_t threshold, bool main_of_all, store_row_fn fn,
                          void *arg);
/* The CDN refused a photo for good at this URL (404, 410, another 4xx): marked gone with
   the reason, and asked for by neither query above until a listing serves a new URL. */
int store_photo_gone(store_t *self, int64_t item_id, int64_t photo_id, const char *url, const char *reason);
/* Catalogs in the catalog tree table (-1 on error). */
int64_t store_catalogs_count(store_t *self);
/* A tracking run, images window or catalog refresh is done. */
int store_window_finish_counted(store_t *self, const window_t *window);

/* Adaptive schedule: the last per_catalog done catalog windows of every catalog that
   recorded a poll, oldest first (cols: catalog_id, polled_at ms, new_items, truncated). */
int store_schedule_history(store_t *self, int per_catalog, store_row_fn fn, void *arg);
/* The end (unix s) of every catalog's last scheduled window (cols: catalog_id, end). */
int store_schedule_last_ends(store_t *self, store_row_fn fn, void *arg);

/* 0 while the database answers; during an outage, the milliseconds since the
   first connection attempt that failed (for status: the counts below are then
   unknown, not zero). */
int64_t store_down_ms(const store_t *self);

/* Window counts by state, and by kind (window_kind_t) and state, for status. */
int store_window_counts(store_t *self, int64_t counts[4], int64_t by_kind[WINDOW_KINDS][4]);

#endif
