/*  flows.c - the broker's flows other than catalog windows: tracking runs (the
    sampled items' sellers, then the item pages they did not show), images windows
    (the photos a committed window brought in, and the retry of those not stored),
    replays of the raw landing area, and the catalog tree refresh. Each is a window
    counted by its tasks: done when none is outstanding (broker_counted_idle).
*/
#include "broker/broker_internal.h"

#include "common/clock.h"
#include "common/log.h"
#include "common/raw.h"

static void s_free_item(void **item)
{
    free(*item);
    *item = NULL;
}

/* A tracking (or catalog tree) fetch, on the site the seller's or item's listing lives
   on (NULL or "": the fetcher's default site). */
void broker_track_fetch(broker_t *self, window_t *w, proto_fetch_kind_t kind, int64_t target, int32_t page,
                        const char *site)
{
    proto_msg_t *msg = proto_msg_new(PROTO_TASK);
    msg->body = PROTO_BODY_FETCH;
    msg->u.fetch.site = site && *site ? proto_msg_strdup(msg, site) : NULL;
    msg->u.fetch.window_id = w->id;
    msg->u.fetch.page = page;
    msg->u.fetch.api_page = page;
    msg->u.fetch.per_page = WINDOW_PER_PAGE;
    msg->u.fetch.kind = kind;
    msg->u.fetch.target_id = target;
    broker_task_new(self, PROTO_STAGE_FETCH, w->id, page, msg);
    proto_msg_destroy(&msg);
    if (page == 1)
        w->expected++;
}

static int s_track_target(void *arg, const int64_t *cols, const char *text)
{
    void **ctx = arg;
    broker_t *self = ctx[0];
    window_t *w = ctx[1];
    if (cols[0] > 0) {
        broker_track_fetch(self, w, PROTO_FETCH_USER_ITEMS, cols[0], 1, text);
        broker_track_fetch(self, w, PROTO_FETCH_USER, cols[0], 1, text); /* the seller's counters */
    }
    else if (cols[1] > 0)
        broker_track_fetch(self, w, PROTO_FETCH_ITEM_PAGE, cols[1], 1, text);
    return 0;
}

/* Phase 0 of a tracking run: the item lists and profiles of the sampled items' sellers. */
void broker_track_start(broker_t *self, window_t *w)
{
    w->phase = 0;
    w->expected = w->completed = 0;
    void *ctx[] = { self, w };
    if (store_track_targets(self->store, self->cfg.sample_threshold, s_track_target, ctx) != 0) {
        broker_window_failed(self, w, "cannot read the sample from the database");
        return;
    }
    log_info("tracking run started", "window=%" PRId64 " requests_planned=%d", w->id, w->expected);
    if (w->outstanding == 0)
        broker_window_done(self, w);
}

static int s_track_missing(void *arg, const int64_t *cols, const char *text)
{
    void **ctx = arg;
    broker_track_fetch(ctx[0], ctx[1], PROTO_FETCH_ITEM_PAGE, cols[0], 1, text);
    return 0;
}

/* The run has nothing outstanding: after the sellers' lists, the item pages of what they
   did not show; after those, done. */
void broker_counted_idle(broker_t *self, window_t *w)
{
    if (w->kind == WINDOW_TRACKING && w->phase == 0) {
        w->phase = 1;
        void *ctx[] = { self, w };
        int before = w->expected;
        if (store_track_missing(self->store, w->id, self->cfg.sample_threshold, s_track_missing, ctx) != 0) {
            broker_window_failed(self, w, "cannot read the sample from the database");
            return;
        }
        log_info("tracking run: item pages for what the sellers' lists did not show", "window=%" PRId64 " items=%d",
                 w->id, w->expected - before);
        if (w->outstanding > 0)
            return;
    }
    broker_window_done(self, w);
}

static int s_image_collect(void *arg, const int64_t *cols, const char *url)
{
    zlistx_t *tasks = arg;
    proto_msg_t *msg = proto_msg_new(PROTO_TASK);
    msg->body = PROTO_BODY_IMAGE;
    msg->u.image.item_id = cols[0];
    msg->u.image.photo_id = cols[1];
    msg->u.image.url = proto_msg_strdup(msg, url ? url : "");
    zlistx_add_end(tasks, msg);
    return 0;
}

static void s_msg_destructor(void **item)
{
    proto_msg_destroy((proto_msg_t **) item);
}

#define S_PHOTO_RETRY_MAX 10000 /* photos one retry window takes on */

/* The photos a committed catalog window (or tracking run) brought in: all photos of sampled
   items (and, with VINTED_IMAGES=main, the main photo of every item), those not stored yet.
   parent_id 0: the retry of what earlier images windows could not store (VINTED_PHOTO_RETRY).
   An images window is created only when there is something to fetch. */
void broker_images_start(broker_t *self, int64_t parent_id, int32_t catalog_id, window_t *existing)
{
    if (self->cfg.images_off && !existing)
        return;
    zlistx_t *tasks = zlistx_new();
    zlistx_set_destructor(tasks, s_msg_destructor);
    int rc = parent_id > 0 ? store_photos_to_fetch(self->store, parent_id, self->cfg.sample_threshold,
                                                   self->cfg.images_main, s_image_collect, tasks)
                           : store_photos_to_retry(self->store, self->cfg.photo_retry_ms, S_PHOTO_RETRY_MAX,
                                                   self->cfg.sample_threshold, self->cfg.images_main,
                                                   s_image_collect, tasks);
    if (rc != 0) {
        zlistx_destroy(&tasks);
        if (existing)
            broker_window_failed(self, existing, "cannot read the photos to fetch from the database");
        return;
    }
    window_t *w = existing;
    if (!w && zlistx_size(tasks) > 0) {
        int64_t now_s = clock_wall_ms() / 1000, id = 0;
        if (store_window_create(self->store, "", catalog_id, now_s, now_s + 1, "images", &id) != 0) {
            zlistx_destroy(&tasks);
            return;
        }
        store_window_set_parent(self->store, id, parent_id);
        w = window_new(id, catalog_id, now_s, now_s + 1);
        w->kind = WINDOW_IMAGES;
        w->parent_id = parent_id;
        w->state = WINDOW_RUNNING;
        broker_window_add(self, w);
        store_window_start(self->store, w);
    }
    if (!w) {
        zlistx_destroy(&tasks);
        return;
    }
    w->expected = w->completed = 0;
    for (proto_msg_t *msg = zlistx_first(tasks); msg; msg = zlistx_next(tasks)) {
        msg->u.image.window_id = parent_id;
        broker_task_new(self, PROTO_STAGE_PHOTO, w->id, 0, msg);
        w->expected++;
    }
    zlistx_destroy(&tasks);
    log_info("images window started", "window=%" PRId64 " for_window=%" PRId64 " photos=%d", w->id, parent_id,
             w->expected);
    if (w->outstanding == 0)
        broker_window_done(self, w);
}

/* A photo is in the object store: the sink records it in its row. */
void broker_on_photo_stored(broker_t *self, window_t *w, proto_msg_t *msg)
{
    msg->body = PROTO_BODY_PHOTO;
    broker_task_new(self, PROTO_STAGE_SINK, w->id, 0, msg);
}

/* A tracking page came back: transform and land it; a seller with more items: next page. */
void broker_on_tracked(broker_t *self, window_t *w, proto_msg_t *msg)
{
    proto_page_t *page = &msg->u.page;
    msg->body = PROTO_BODY_PAGE;
    broker_task_new(self, PROTO_STAGE_TRANSFORM, w->id, page->page, msg);
    broker_task_new(self, PROTO_STAGE_STORE, w->id, page->page, msg);
    if (page->kind == PROTO_FETCH_USER_ITEMS && page->more && page->page < WINDOW_MAX_PAGES)
        broker_track_fetch(self, w, PROTO_FETCH_USER_ITEMS, page->target_id, page->page + 1, page->site);
}

/* -------------------------------------------------------------- replay */


typedef struct {
    broker_t *self;
    window_t *w;
    int64_t from_ms, to_ms;
} s_replay_list_t;

static int s_replay_key(void *arg, const char *key, int64_t size)
{
    (void) size;
    s_replay_list_t *r = arg;
    int64_t fetched_ms, window_id;
    if (raw_key_parse(key, &fetched_ms, &window_id) != 0 || fetched_ms < r->from_ms || fetched_ms >= r->to_ms)
        return 0;
    proto_msg_t *msg = proto_msg_new(PROTO_TASK);
    msg->body = PROTO_BODY_LOAD;
    msg->u.load.key = (char *) key;
    broker_task_new(r->self, PROTO_STAGE_STORE, r->w->id, 0, msg);
    msg->u.load.key = NULL;
    proto_msg_destroy(&msg);
    r->w->expected++;
    return 0;
}

/* A replay: the raw pages fetched in [from_s, to_s) of flow fed back through
   transformer and sink (vinted-ctl replay; see broker/control.c). The running
   window, or NULL when it could not be recorded; err is non-empty when the raw
   area could not be listed (the window is then still open, for the caller to fail). */
window_t *broker_replay_start(broker_t *self, const char *flow, int64_t from_s, int64_t to_s, char *err,
                              size_t err_size)
{
    int64_t id = 0;
    *err = 0;
    if (store_window_create(self->store, "", 0, from_s, to_s, "replay", &id) != 0)
        return NULL;
    window_t *w = window_new(id, 0, from_s, to_s);
    w->kind = WINDOW_REPLAY;
    w->replayed = zhashx_new();
    zhashx_set_destructor(w->replayed, s_free_item);
    broker_window_add(self, w);
    store_window_start(self->store, w);
    w->state = WINDOW_RUNNING;
    /* list the raw area hour by hour: keys sort by flow and time of fetch */
    s_replay_list_t r = { self, w, from_s * 1000, to_s * 1000 };
    for (int64_t hour = from_s - from_s % 3600; hour < to_s; hour += 3600) {
        char prefix[128];
        raw_hour_prefix(flow, hour, prefix, sizeof prefix);
        if (objstore_list(self->objects, prefix, NULL, s_replay_key, &r, err, err_size) != 0)
            break;
    }
    return w;
}

/* A replay committed: recorded with the original windows it replayed. */
int broker_replay_finish(broker_t *self, window_t *w)
{
    zhashx_t *replayed = w->replayed;
    size_t n = replayed ? zhashx_size(replayed) : 0, i = 0;
    int64_t *windows = calloc(n + 1, sizeof *windows);
    int32_t *catalogs = calloc(n + 1, sizeof *catalogs);
    for (int32_t *cat = replayed ? zhashx_first(replayed) : NULL; cat; cat = zhashx_next(replayed), i++) {
        windows[i] = strtoll(zhashx_cursor(replayed), NULL, 10);
        catalogs[i] = *cat;
    }
    int rc = store_replay_finish(self->store, w, windows, catalogs, n);
    free(windows);
    free(catalogs);
    return rc;
}

/* ------------------------------------------------------- started now */


/* Create a tracking run and start it. The window id, or -1. */
int64_t broker_track_now(broker_t *self)
{
    int64_t now_s = clock_wall_ms() / 1000, id = 0;
    int64_t every_s = self->cfg.track_every_ms > 0 ? self->cfg.track_every_ms / 1000 : 1;
    if (store_window_create(self->store, "", 0, now_s - every_s, now_s, "tracking", &id) != 0)
        return -1;
    window_t *w = window_new(id, 0, now_s - every_s, now_s);
    w->kind = WINDOW_TRACKING;
    broker_window_add(self, w);
    store_window_start(self->store, w);
    w->state = WINDOW_RUNNING;
    broker_track_start(self, w);
    return id;
}

/* A refresh of the site's catalog tree now. The window id, or -1. */
int64_t broker_catalogs_now(broker_t *self)
{
    int64_t now_s = clock_wall_ms() / 1000, id = 0;
    if (store_window_create(self->store, "", 0, now_s, now_s + 1, "catalogs", &id) != 0)
        return -1;
    window_t *w = window_new(id, 0, now_s, now_s + 1);
    w->kind = WINDOW_CATALOGS;
    broker_window_add(self, w);
    store_window_start(self->store, w);
    w->state = WINDOW_RUNNING;
    broker_track_fetch(self, w, PROTO_FETCH_CATALOGS, 0, 1, NULL);
    log_info("catalog tree refresh started", "window=%" PRId64, id);
    return id;
}

/* Every VINTED_PHOTO_RETRY, the photos earlier images windows could not store (a CDN
   that was down) are tried again, once no images window is open (while one is, its
   own retries are still going: the next check is a period later). */
void broker_photo_retry(broker_t *self)
{
    int64_t now = clock_mono_ms();
    if (self->cfg.photo_retry_ms <= 0 || self->cfg.images_off)
        return;
    if (self->next_photo_retry == 0)
        self->next_photo_retry = now + self->cfg.photo_retry_ms;
    if (now < self->next_photo_retry)
        return;
    self->next_photo_retry = now + self->cfg.photo_retry_ms;
    for (window_t *w = zhashx_first(self->windows); w; w = zhashx_next(self->windows))
        if (w->kind == WINDOW_IMAGES)
            return;
    broker_images_start(self, 0, 0, NULL);
}
