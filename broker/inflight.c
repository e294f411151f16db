/*  inflight.c - the broker's windows in flight (broker/window.c is one window's pages
    and price bands): created and recorded, started one at a time per catalog in
    order, a catalog window's pages asked for, done (marks advanced, the images
    flow follows) or failed, resumed from the database at start, and retried while
    the database was down.
*/
#include "broker/broker_internal.h"

#include "common/clock.h"
#include "common/config.h"
#include "common/log.h"

/* The key of a catalog of a site in the per-catalog maps: "pt:221". */
void broker_catalog_key(char *buf, size_t size, const char *site, int32_t catalog)
{
    snprintf(buf, size, "%s:%d", site, catalog);
}

/* The index of (site, catalog) among the configured catalogs, or -1. */
int broker_config_index(const broker_t *self, const char *site, int32_t catalog)
{
    for (int i = 0; i < self->cfg.n_catalogs; i++)
        if (self->cfg.catalogs[i] == catalog && strcmp(self->cfg.sites[i], site) == 0)
            return i;
    return -1;
}

window_t *broker_window(broker_t *self, int64_t id)
{
    char key[24];
    snprintf(key, sizeof key, "%" PRId64, id);
    return zhashx_lookup(self->windows, key);
}

void broker_window_destructor(void **item)
{
    window_t *w = *item;
    if (w && w->replayed) {
        zhashx_t *replayed = w->replayed;
        zhashx_destroy(&replayed);
    }
    window_destroy((window_t **) item);
}

/* API page api_page of part `part` of catalog window w (a split window's halves go
   ahead too: they page down to the mark the truncated query could not reach). */
void broker_fetch_page(broker_t *self, window_t *w, int part, int32_t api_page)
{
    const window_part_t *p = &w->parts[part];
    proto_msg_t *msg = proto_msg_new(PROTO_TASK);
    msg->body = PROTO_BODY_FETCH;
    msg->u.fetch.window_id = w->id;
    msg->u.fetch.catalog_id = w->catalog_id;
    msg->u.fetch.page = window_page_of(part, api_page);
    msg->u.fetch.api_page = api_page;
    msg->u.fetch.per_page = WINDOW_PER_PAGE;
    msg->u.fetch.hwm = w->hwm_before;
    msg->u.fetch.attempt = w->fetch_attempt;
    msg->u.fetch.price_from = p->price_from;
    msg->u.fetch.price_to = p->price_to;
    msg->u.fetch.pin_time = part > 0 || api_page > 1 ? w->pin_time : 0; /* as of part 0's page 1 */
    msg->u.fetch.site = w->site[0] ? proto_msg_strdup(msg, w->site) : NULL;
    task_t *task = broker_task_new(self, PROTO_STAGE_FETCH, w->id, msg->u.fetch.page, msg);
    if (api_page > 1 || part > 0)
        broker_task_ahead(self, task);
    proto_msg_destroy(&msg);
}

/* Every part of w still paging asks for its next page (a window starting, or
   resuming); while a probe's page 1 is out, only that (the bands wait for its time). */
void broker_fetch_parts(broker_t *self, window_t *w)
{
    for (int i = 0; i < w->n_parts; i++)
        if (w->parts[i].next_page > 0 && (i == 0 || !w->parts[0].probe || w->parts[0].last_page > 0))
            broker_fetch_page(self, w, i, w->parts[i].next_page);
}

/* A window is over (done or failed): forget it and start the catalog's next one. */
static void s_window_close(broker_t *self, window_t *w)
{
    /* drop its queued tasks; tasks in flight are dropped when they answer */
    for (int stage = PROTO_STAGE_FETCH; stage < PROTO_STAGES; stage++) {
        zlistx_t *q = self->queue[stage];
        task_t *task = zlistx_first(q);
        while (task) {
            task_t *next = zlistx_next(q);
            if (task->window_id == w->id) {
                broker_queue_remove(self, task);
                zhashx_delete(self->tasks, task->key);
            }
            task = next;
        }
    }
    char key[24];
    snprintf(key, sizeof key, "%" PRId64, w->id);
    zhashx_delete(self->windows, key);
    broker_start_windows(self);
}

/* A catalog window committed: the price bands its catalog's next window starts from
   (none when it needed no split, or its bands merge back into one). */
static void s_bands_learn(broker_t *self, const window_t *w)
{
    char key[24], bands[WINDOW_MAX_PARTS * 48];
    broker_catalog_key(key, sizeof key, w->site, w->catalog_id);
    window_bands_next(w, bands, sizeof bands);
    if (*bands)
        zhashx_update(self->bands, key, strdup(bands));
    else
        zhashx_delete(self->bands, key);
}

static int s_window_record_done(broker_t *self, window_t *w)
{
    switch (w->kind) {
    case WINDOW_REPLAY: return broker_replay_finish(self, w);
    case WINDOW_TRACKING:
    case WINDOW_IMAGES:
    case WINDOW_CATALOGS: return store_window_finish_counted(self->store, w);
    default: return store_window_finish(self->store, w);
    }
}

void broker_window_done(broker_t *self, window_t *w)
{
    w->state = WINDOW_DONE;
    if (s_window_record_done(self, w) != 0) {
        /* keep it open: broker_retry records it once the database answers again */
        w->state = WINDOW_RUNNING;
        w->finish_pending = true;
        snprintf(self->last_error, sizeof self->last_error, "window %" PRId64 ": cannot record completion", w->id);
        return;
    }
    if (w->kind == WINDOW_REPLAY)
        log_info("replay committed", "window=%" PRId64 " pages=%d items=%d original_windows=%zu", w->id,
                 w->completed, w->items, w->replayed ? zhashx_size(w->replayed) : 0);
    else if (w->kind != WINDOW_CATALOG)
        log_info("window committed", "window=%" PRId64 " kind=%s done=%d of=%d failures=%d requests=%d", w->id,
                 window_kind_name(w->kind), w->completed, w->expected, w->failures, w->requests);
    else
        log_info("window committed", "window=%" PRId64 " catalog=%d pages=%d items=%d requests=%d max_item_id=%" PRId64
                 " truncated=%d degraded=%d parts=%d", w->id, w->catalog_id, w->pages_done, w->items, w->requests,
                 w->max_item_id, w->truncated, w->degraded, w->n_parts);
    broker_schedule_learn(self, w);
    if (w->kind == WINDOW_CATALOG)
        s_bands_learn(self, w);
    /* what committed brings in photos: the images flow follows (for a replay: the photos of
       every window it replayed, found already stored, so only their rows are filled in) */
    int64_t id = w->id;
    int32_t catalog = w->catalog_id;
    window_kind_t kind = w->kind;
    zhashx_t *replayed = w->replayed;
    w->replayed = NULL;
    s_window_close(self, w);
    if (kind == WINDOW_CATALOG || kind == WINDOW_TRACKING)
        broker_images_start(self, id, catalog, NULL);
    for (int32_t *cat = replayed ? zhashx_first(replayed) : NULL; cat; cat = zhashx_next(replayed))
        broker_images_start(self, strtoll(zhashx_cursor(replayed), NULL, 10), *cat, NULL);
    zhashx_destroy(&replayed);
}

void broker_window_failed(broker_t *self, window_t *w, const char *reason)
{
    w->state = WINDOW_FAILED;
    store_window_fail(self->store, w, reason);
    snprintf(self->last_error, sizeof self->last_error, "window %" PRId64 " failed: %s", w->id, reason);
    log_error("window failed", "window=%" PRId64 " catalog=%d reason=%s", w->id, w->catalog_id, log_str(reason));
    s_window_close(self, w);
}

void broker_window_add(broker_t *self, window_t *w)
{
    char key[24];
    snprintf(key, sizeof key, "%" PRId64, w->id);
    zhashx_insert(self->windows, key, w);
}

void broker_window_loaded(void *arg, window_t *w)
{
    broker_t *self = arg;
    broker_window_add(self, w);
    if (w->kind == WINDOW_REPLAY) {
        /* the list of pages to replay lived in memory: the replay must be asked for again */
        broker_window_failed(self, w, "the broker restarted during this replay; run it again (replays are idempotent)");
        return;
    }
    if (w->kind == WINDOW_TRACKING) {
        log_info("tracking run resumed from its start", "window=%" PRId64, w->id);
        w->state = WINDOW_RUNNING;
        broker_track_start(self, w);
        return;
    }
    if (w->kind == WINDOW_IMAGES) {
        w->state = WINDOW_RUNNING;
        broker_images_start(self, w->parent_id, w->catalog_id, w);
        return;
    }
    if (w->kind == WINDOW_CATALOGS) {
        w->state = WINDOW_RUNNING;
        broker_track_fetch(self, w, PROTO_FETCH_CATALOGS, 0, 1, NULL);
        return;
    }
    if (w->state == WINDOW_RUNNING) {
        log_info("window resumed", "window=%" PRId64 " catalog=%d parts=%d from_page=%d", w->id, w->catalog_id,
                 w->n_parts, w->parts[0].next_page);
        w->fetch_attempt++;
        broker_fetch_parts(self, w);
    }
}

/* Per catalog: the running window, else the oldest pending one (one pass over the
   open windows, so a backlog of many pending windows stays cheap). An images window
   carries its catalog window's catalog but is not one of its windows: the next
   catalog window never waits on photo downloads. */
zhashx_t *broker_catalog_heads(broker_t *self)
{
    zhashx_t *heads = zhashx_new();
    for (window_t *w = zhashx_first(self->windows); w; w = zhashx_next(self->windows)) {
        if ((w->state != WINDOW_RUNNING && w->state != WINDOW_PENDING) || w->kind == WINDOW_IMAGES)
            continue;
        char key[24];
        broker_catalog_key(key, sizeof key, w->site, w->catalog_id);
        window_t *head = zhashx_lookup(heads, key);
        if (!head || (head->state == WINDOW_PENDING
                      && (w->state == WINDOW_RUNNING || w->id < head->id)))
            zhashx_update(heads, key, w);
    }
    return heads;
}

/* Start the oldest pending window of every catalog that has none running. */
void broker_start_windows(broker_t *self)
{
    zhashx_t *heads = broker_catalog_heads(self);
    zlistx_t *start = zlistx_new();
    for (window_t *w = zhashx_first(heads); w; w = zhashx_next(heads))
        if (w->state == WINDOW_PENDING)
            zlistx_add_end(start, w);
    zhashx_destroy(&heads);
    for (window_t *w = zlistx_first(start); w; w = zlistx_next(start)) {
        if (store_window_start(self->store, w) != 0)
            continue;
        w->state = WINDOW_RUNNING;
        /* a catalog whose last window was split starts split the same way */
        char key[24];
        broker_catalog_key(key, sizeof key, w->site, w->catalog_id);
        const char *bands = zhashx_lookup(self->bands, key);
        if (bands && window_bands_parse(w, bands) != 0)
            log_warn("remembered price bands unreadable, starting unsplit", "catalog=%d bands=%s", w->catalog_id,
                     bands);
        log_info("window started", "window=%" PRId64 " catalog=%d hwm=%" PRId64 " parts=%d", w->id, w->catalog_id,
                 w->hwm_before, w->n_parts);
        broker_fetch_parts(self, w);
    }
    zlistx_destroy(&start);
}

int64_t broker_create_window(broker_t *self, const char *site, int32_t catalog, int64_t start_s, int64_t end_s,
                             const char *kind)
{
    int64_t id = 0;
    int rc = store_window_create(self->store, site, catalog, start_s, end_s, kind, &id);
    if (rc != 0)
        return rc < 0 ? -1 : 0;
    window_t *w = window_new(id, catalog, start_s, end_s);
    snprintf(w->site, sizeof w->site, "%s", site);
    broker_window_add(self, w);
    char a[32], b[32];
    log_info("window created", "window=%" PRId64 " site=%s catalog=%d kind=%s from=%s to=%s", id, site, catalog,
             kind, config_format_time(start_s, a, sizeof a), config_format_time(end_s, b, sizeof b));
    return id;
}

/* What the database refused while it was down, tried again every second: windows
   whose completion could not be recorded, and pending windows that could not start. */
void broker_retry(broker_t *self)
{
    zlistx_t *finish = zlistx_new();
    bool pending = false;
    for (window_t *w = zhashx_first(self->windows); w; w = zhashx_next(self->windows)) {
        if (w->finish_pending && w->state == WINDOW_RUNNING)
            zlistx_add_end(finish, w);
        pending |= w->state == WINDOW_PENDING;
    }
    for (window_t *w = zlistx_first(finish); w; w = zlistx_next(finish)) {
        w->finish_pending = false;
        broker_window_done(self, w);
    }
    zlistx_destroy(&finish);
    if (pending)
        broker_start_windows(self);
}
