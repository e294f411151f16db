/*  broker.c - windows in, tasks out: the broker's event loop and dispatch.

    A window's journey (read s_on_result to follow a message):
        window starts      -> TASK(FETCH page 1)             to a fetcher
        RESULT(PAGE)       -> TASK(PAGE)                     to a transformer
                              TASK(PAGE)                     to the store stage (raw landing area)
                              and TASK(FETCH page+1) while the fetcher says "more"
        RESULT(STORED)     -> page stored
        RESULT(BATCH)      -> TASK(BATCH)                    to a sink
        RESULT(COMMIT)     -> page committed; when every page is committed and
                              stored: window done, catalog mark advanced,
                              data-quality report stored
    A replay (vinted-ctl replay) lists the raw area instead of asking Vinted:
        TASK(LOAD key)     to the store stage, RESULT(PAGE) -> TASK(PAGE) to a
                              transformer and on as above, without storing again.
    A tracking run (every VINTED_TRACK_EVERY, or vinted-ctl track) asks for the
    sellers' item lists of the sampled items, then for the item pages of the
    sampled items no seller list showed:
        TASK(FETCH USER_ITEMS / ITEM_PAGE) -> RESULT(PAGE) -> transform, sink, store
    A committed catalog window triggers its images window:
        TASK(IMAGE)        to the photo stage, RESULT(PHOTO) -> TASK(PHOTO) to a sink
                              (its own stage and credit: a dead CDN never holds up
                              the raw landing a catalog window waits for)
    Windows other than catalog windows are done when no task of theirs is left.
    Every task stays in `tasks` until its result arrives; a task whose worker
    dies or whose deadline passes is dispatched again (at-least-once; the
    stages are idempotent, so the outcome is exactly-once).
*/
#include "broker/broker.h"

#include <czmq.h>
#include <inttypes.h>

#include "broker/budget.h"
#include "broker/schedule.h"
#include "broker/stall.h"
#include "broker/store.h"
#include "broker/window.h"
#include "common/clock.h"
#include "common/objstore.h"
#include "common/raw.h"
#include "common/pgconf.h"
#include "common/redact.h"
#include "common/config.h"
#include "common/log.h"
#include "common/metrics.h"
#include "proto/proto.h"

typedef struct {
    char key[64];        /* routing identity as hex */
    zframe_t *identity;
    char *name;
    proto_stage_t stage;
    int capacity;
    int inflight;
    uint64_t done;
    int64_t expiry;      /* mono ms: dead if silent past this */
    int64_t last_send;   /* mono ms */
    int64_t window_id;   /* fetchers: window of the task in hand, for request accounting */
} peer_t;

typedef struct {
    uint64_t id;
    char key[24];
    proto_stage_t stage;
    proto_body_t body;   /* what the TASK carries */
    int64_t window_id;   /* the window it counts towards */
    int32_t page;
    uint8_t *data;       /* the encoded TASK message */
    size_t size;
    peer_t *peer;        /* NULL while queued */
    void *queue_handle;  /* in queue[stage] while queued */
    int64_t deadline;    /* mono ms */
    int64_t not_before;  /* mono ms */
    int64_t dispatched_at; /* mono ms, last dispatch */
    int refusals;        /* NACKs (a lost worker or a deadline is not the task's fault) */
    char *refusal;       /* the last NACK's reason, or NULL (said by get while it waits) */
} task_t;

/* What the broker publishes to Prometheus (all NULL when metrics are off). */
typedef struct {
    metrics_series_t *workers[PROTO_STAGES], *queued[PROTO_STAGES], *queued_bytes[PROTO_STAGES];
    metrics_series_t *inflight[PROTO_STAGES], *held;
    metrics_series_t *completed[PROTO_STAGES];
    metrics_series_t *dispatched, *redelivered, *nacked, *invalid_frames, *refused, *tokens, *token_waiters;
    metrics_series_t *backoff, *rate, *open_windows, *batch_commit;
    metrics_series_t *windows[WINDOW_KINDS][4]; /* kind x state */
    int64_t next_publish, next_windows; /* mono ms */
} broker_metrics_t;

struct _broker_t {
    broker_config_t cfg;
    zsock_t *workers;
    zsock_t *control;
    curve_watch_t *watch[2];          /* CURVE on: handshakes of the worker and control sockets */
    uint64_t refused;                 /* handshakes refused (key not in the allow-list, no CURVE) */
    store_t *store;
    objstore_t *objects;              /* the raw landing area, listed by replays */
    zhashx_t *peers;                  /* key -> peer_t */
    zhashx_t *tasks;                  /* key -> task_t */
    zlistx_t *queue[PROTO_STAGES];    /* task_t waiting for a worker */
    size_t queued_bytes[PROTO_STAGES]; /* encoded size of the tasks in queue[stage] */
    size_t queued_peak[PROTO_STAGES]; /* the most queued_bytes[stage] ever reached */
    size_t task_max[PROTO_STAGES];    /* the largest task ever queued for the stage (flow control's bound) */
    size_t queued_n[PROTO_STAGES][PROTO_BODY_PHOTO + 1]; /* tasks in queue[stage] per body */
    uint64_t held;                    /* dispatches held back by flow control */
    zlistx_t *token_waiters;          /* peer keys (char*) */
    zhashx_t *windows;                /* "id" -> window_t, open windows only */
    zhashx_t *bands;                  /* "catalog" -> price bands its next window starts from (window_bands_next) */
    uint64_t next_task_id;
    budget_t *budget;                 /* request tokens per egress identity (VINTED_PROXIES, VINTED_RATE) */
    int64_t next_heartbeat;
    int64_t next_sweep;
    int64_t next_retry;               /* mono: when s_retry runs next */
    int64_t next_schedule_s;          /* wall: when the next scheduled windows are due */
    int64_t next_track;               /* mono: when the next tracking run is due */
    int64_t next_catalogs;            /* mono: when the next catalog tree refresh is due */
    int64_t next_photo_retry;         /* mono: when unstored photos are tried again */
    schedule_t *schedule;             /* VINTED_SCHEDULE=adaptive, else NULL */
    int64_t *poll_end_s;              /* adaptive, per configured catalog: end of its last scheduled window */
    int64_t *poll_not_before;         /* adaptive, per configured catalog: wall ms before which none is created */
    int64_t next_adaptive;            /* mono: when the adaptive schedule is looked at next */
    char last_error[512];
    uint64_t results[PROTO_STAGES];   /* tasks completed per stage */
    uint64_t dispatched, redelivered, nacked, invalid_frames;
    int64_t reject_second;            /* mono s of the invalid frames counted in reject_logged */
    int reject_logged;                /* invalid frames logged in that second */
    uint64_t reject_quiet;            /* invalid frames not logged since the last summary */
    int64_t stage_seen[PROTO_STAGES]; /* mono: when the stage last lost a worker (start: the broker's start) */
    int64_t stall_logged[PROTO_STAGES]; /* mono: when "no worker of stage" was last logged */
    broker_metrics_t metrics;
};

#define S_SCHEDULE_SHARE 0.9 /* adaptive: the share of VINTED_RATE catalog polls plan to spend (the rest:
                                 tracking, sessions, the catalog tree, retries) */
#define S_SCHEDULE_HALF_LIFE_MS 3600000 /* adaptive: how fast a catalog's rate estimate forgets */
#define S_SCHEDULE_HISTORY 16  /* adaptive: stored polls per catalog read back at start */

static void s_window_failed(broker_t *self, window_t *w, const char *reason);

bool broker_site_ok(const char *text)
{
    size_t n = text ? strlen(text) : 0;
    if (n < 2 || n > 7 || text[0] == '.' || text[n - 1] == '.')
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((text[i] >= 'a' && text[i] <= 'z') || text[i] == '.'))
            return false;
    return true;
}

/* The key of a catalog of a site in the per-catalog maps: "pt:221". */
static void s_catalog_key(char *buf, size_t size, const char *site, int32_t catalog)
{
    snprintf(buf, size, "%s:%d", site, catalog);
}

/* The index of (site, catalog) among the configured catalogs, or -1. */
static int s_config_index(const broker_t *self, const char *site, int32_t catalog)
{
    for (int i = 0; i < self->cfg.n_catalogs; i++)
        if (self->cfg.catalogs[i] == catalog && strcmp(self->cfg.sites[i], site) == 0)
            return i;
    return -1;
}

/* Requests a minute all identities together may send: VINTED_RATE each, VINTED_RATE_TOTAL at most. */
static double s_rate_total(const broker_t *self)
{
    double all = self->cfg.rate_per_min * (self->cfg.proxies ? self->cfg.proxies->n : 1);
    return self->cfg.rate_total_per_min > 0 && self->cfg.rate_total_per_min < all ? self->cfg.rate_total_per_min : all;
}
static void s_schedule_learn(broker_t *self, const window_t *w);
static void s_start_windows(broker_t *self);
static void s_track_start(broker_t *self, window_t *w);
static void s_track_fetch(broker_t *self, window_t *w, proto_fetch_kind_t kind, int64_t target, int32_t page,
                          const char *site);

/* ------------------------------------------------------------------ peers */

static void s_send_to(broker_t *self, peer_t *peer, const uint8_t *data, size_t size)
{
    zmsg_t *msg = zmsg_new();
    zmsg_addmem(msg, zframe_data(peer->identity), zframe_size(peer->identity));
    zmsg_addmem(msg, data, size);
    zmsg_send(&msg, self->workers);
    peer->last_send = clock_mono_ms();
}

/* Encode msg and send it to peer; destroys msg. */
static void s_send_msg(broker_t *self, peer_t *peer, proto_msg_t **msg_p)
{
    uint8_t *data;
    size_t size;
    if (proto_encode(*msg_p, &data, &size) == 0) {
        s_send_to(self, peer, data, size);
        free(data);
    }
    proto_msg_destroy(msg_p);
}

static void s_send_cmd(broker_t *self, peer_t *peer, proto_cmd_t cmd)
{
    proto_msg_t *msg = proto_msg_new(cmd);
    s_send_msg(self, peer, &msg);
}

static void s_task_free(task_t **task_p)
{
    task_t *task = *task_p;
    if (task) {
        free(task->data);
        free(task->refusal);
        free(task);
        *task_p = NULL;
    }
}

static window_t *s_window(broker_t *self, int64_t id)
{
    char key[24];
    snprintf(key, sizeof key, "%" PRId64, id);
    return zhashx_lookup(self->windows, key);
}

/* Every task enters and leaves its stage's queue through these two, so that
   queued_bytes[] (what flow control looks at) stays exact. */
static void s_queue_add(broker_t *self, task_t *task)
{
    task->queue_handle = zlistx_add_end(self->queue[task->stage], task);
    self->queued_bytes[task->stage] += task->size;
    self->queued_n[task->stage][task->body]++;
    if (task->size > self->task_max[task->stage])
        self->task_max[task->stage] = task->size;
    if (self->queued_bytes[task->stage] > self->queued_peak[task->stage])
        self->queued_peak[task->stage] = self->queued_bytes[task->stage];
}

static void s_queue_remove(broker_t *self, task_t *task)
{
    zlistx_delete(self->queue[task->stage], task->queue_handle);
    task->queue_handle = NULL;
    self->queued_bytes[task->stage] -= task->size;
    self->queued_n[task->stage][task->body]--;
}

/* Put a task (back) in its stage's queue, or drop it if its window is gone. */
static void s_requeue(broker_t *self, task_t *task, int64_t delay_ms)
{
    if (task->peer) {
        task->peer->inflight--;
        task->peer = NULL;
    }
    if (!s_window(self, task->window_id)) {
        zhashx_delete(self->tasks, task->key);
        return;
    }
    task->not_before = clock_mono_ms() + delay_ms;
    s_queue_add(self, task);
    self->redelivered++;
}

static void s_peer_remove(broker_t *self, peer_t *peer, const char *why)
{
    log_warn("worker gone, its tasks go back to the queue", "stage=%s worker=%s inflight=%d reason=%s",
             proto_stage_name(peer->stage), log_str(peer->name), peer->inflight, log_str(why));
    zlistx_t *mine = zlistx_new();
    for (task_t *t = zhashx_first(self->tasks); t; t = zhashx_next(self->tasks))
        if (t->peer == peer)
            zlistx_add_end(mine, t);
    for (task_t *t = zlistx_first(mine); t; t = zlistx_next(mine))
        s_requeue(self, t, 0);
    zlistx_destroy(&mine);
    self->stage_seen[peer->stage] = clock_mono_ms(); /* "no worker for N s" counts from here */
    zhashx_delete(self->peers, peer->key);
}

static void s_peer_free(void **item)
{
    peer_t *peer = *item;
    if (peer) {
        zframe_destroy(&peer->identity);
        free(peer->name);
        free(peer);
        *item = NULL;
    }
}

static void s_free_item(void **item)
{
    free(*item);
    *item = NULL;
}

static void s_task_destructor(void **item)
{
    s_task_free((task_t **) item);
}

static void s_window_destructor(void **item)
{
    window_t *w = *item;
    if (w && w->replayed) {
        zhashx_t *replayed = w->replayed;
        zhashx_destroy(&replayed);
    }
    window_destroy((window_t **) item);
}

/* ------------------------------------------------------------------ tasks */

/* Encode msg as a TASK and queue it for its stage. Takes ownership of nothing.
   The task, or NULL if it could not be encoded. */
static task_t *s_task_new(broker_t *self, proto_stage_t stage, int64_t window_id, int32_t page, proto_msg_t *msg)
{
    task_t *task = calloc(1, sizeof *task);
    assert(task);
    task->id = ++self->next_task_id;
    snprintf(task->key, sizeof task->key, "%" PRIu64, task->id);
    task->stage = stage;
    task->body = msg->body;
    task->window_id = window_id;
    task->page = page;
    msg->cmd = PROTO_TASK;
    msg->task_id = task->id;
    if (proto_encode(msg, &task->data, &task->size) != 0) {
        log_error("cannot encode task", "stage=%s window=%" PRId64, proto_stage_name(stage), window_id);
        free(task);
        return NULL;
    }
    zhashx_insert(self->tasks, task->key, task);
    s_queue_add(self, task);
    window_t *w = s_window(self, window_id);
    if (w)
        w->outstanding++;
    return task;
}

/* A window's next catalog page goes ahead of the first pages of other windows:
   newest_first pages shift down as listings arrive, so the longer the gap between
   two pages of a window, the more of the next page repeats the last (measured by
   tests/bench/capture.py: +55% requests over the floor under a tight budget when
   three catalogs' pages took turns). */
static void s_task_ahead(broker_t *self, task_t *task)
{
    if (task && task->queue_handle)
        zlistx_move_start(self->queue[task->stage], task->queue_handle);
}

/* API page api_page of part `part` of catalog window w (a split window's halves go
   ahead too: they page down to the mark the truncated query could not reach). */
static void s_fetch_page(broker_t *self, window_t *w, int part, int32_t api_page)
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
    task_t *task = s_task_new(self, PROTO_STAGE_FETCH, w->id, msg->u.fetch.page, msg);
    if (api_page > 1 || part > 0)
        s_task_ahead(self, task);
    proto_msg_destroy(&msg);
}

/* Every part of w still paging asks for its next page (a window starting, or
   resuming); while a probe's page 1 is out, only that (the bands wait for its time). */
static void s_fetch_parts(broker_t *self, window_t *w)
{
    for (int i = 0; i < w->n_parts; i++)
        if (w->parts[i].next_page > 0 && (i == 0 || !w->parts[0].probe || w->parts[0].last_page > 0))
            s_fetch_page(self, w, i, w->parts[i].next_page);
}

/* The least loaded worker of a stage with credit left, or NULL. */
static peer_t *s_pick(broker_t *self, proto_stage_t stage)
{
    peer_t *best = NULL;
    for (peer_t *p = zhashx_first(self->peers); p; p = zhashx_next(self->peers)) {
        if (p->stage != stage || p->inflight >= p->capacity)
            continue;
        if (!best || p->inflight * best->capacity < best->inflight * p->capacity
            || (p->inflight * best->capacity == best->inflight * p->capacity && p->done < best->done))
            best = p;
    }
    return best;
}

/* Flow control. The stages a task's result feeds: a fetched page goes to a
   transformer and to the raw area, a transformed batch to a sink, a page loaded
   from the raw area to a transformer, a downloaded photo (photo stage) to a sink; a sink's
   commit and a stored page feed nothing. A task is held back while one of the
   stages it feeds has more than VINTED_MAX_QUEUED bytes waiting, so a slow or
   absent stage stops the work upstream of it instead of piling up in the broker:
   queued bytes per stage stay under max_queued plus what the tasks in flight
   upstream return. The graph has no cycle, so holding never deadlocks. */
static unsigned s_feeds(proto_stage_t stage, proto_body_t body)
{
    if (stage == PROTO_STAGE_FETCH)
        return 1u << PROTO_STAGE_TRANSFORM | 1u << PROTO_STAGE_STORE;
    if (stage == PROTO_STAGE_TRANSFORM)
        return 1u << PROTO_STAGE_SINK;
    if (stage == PROTO_STAGE_STORE && body == PROTO_BODY_LOAD)
        return 1u << PROTO_STAGE_TRANSFORM;
    if (stage == PROTO_STAGE_PHOTO)
        return 1u << PROTO_STAGE_SINK;
    return 0;
}

static bool s_held(broker_t *self, unsigned feeds)
{
    for (int s = PROTO_STAGE_FETCH; s < PROTO_STAGES; s++)
        if ((feeds & 1u << s) && self->queued_bytes[s] > self->cfg.max_queued)
            return true;
    return false;
}

static void s_dispatch(broker_t *self)
{
    int64_t now = clock_mono_ms();
    for (int stage = PROTO_STAGE_FETCH; stage < PROTO_STAGES; stage++) {
        zlistx_t *q = self->queue[stage];
        /* skip the queue when every task in it is held (a replay's thousands of loads) */
        bool all_held = true;
        for (int b = PROTO_BODY_NONE; b <= PROTO_BODY_PHOTO && all_held; b++)
            all_held = self->queued_n[stage][b] == 0
                       || s_held(self, s_feeds((proto_stage_t) stage, (proto_body_t) b));
        if (all_held) {
            if (zlistx_size(q) > 0)
                self->held++;
            continue;
        }
        bool held = false;
        task_t *task = zlistx_first(q);
        while (task) {
            task_t *next = zlistx_next(q);
            if (task->not_before <= now) {
                if (s_held(self, s_feeds(task->stage, task->body))) {
                    held = true;
                    task = next;
                    continue;
                }
                peer_t *peer = s_pick(self, (proto_stage_t) stage);
                if (!peer)
                    break;
                s_queue_remove(self, task);
                task->peer = peer;
                task->dispatched_at = now;
                int64_t timeout = self->cfg.task_timeout_ms;
                task->deadline = now + timeout;
                peer->inflight++;
                self->dispatched++;
                if (stage == PROTO_STAGE_FETCH)
                    peer->window_id = task->window_id;
                s_send_to(self, peer, task->data, task->size);
            }
            task = next;
        }
        if (held)
            self->held++;
    }
}

static void s_grant_tokens(broker_t *self)
{
    while (zlistx_size(self->token_waiters) > 0) {
        int64_t now = clock_mono_ms();
        int identity = budget_take(self->budget, now);
        if (identity < 0)
            return;
        char *key = zlistx_detach(self->token_waiters, NULL);
        peer_t *peer = zhashx_lookup(self->peers, key);
        free(key);
        if (!peer) {
            budget_give_back(self->budget, identity, now); /* its fetcher is gone */
            continue;
        }
        window_t *w = s_window(self, peer->window_id);
        if (w)
            w->requests++;
        proto_msg_t *msg = proto_msg_new(PROTO_TOKEN);
        msg->u.token.identity = identity;
        s_send_msg(self, peer, &msg);
    }
}

/* -------------------------------------------------------------- windows */

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
                s_queue_remove(self, task);
                zhashx_delete(self->tasks, task->key);
            }
            task = next;
        }
    }
    char key[24];
    snprintf(key, sizeof key, "%" PRId64, w->id);
    zhashx_delete(self->windows, key);
    s_start_windows(self);
}

static int s_replay_finish(broker_t *self, window_t *w)
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

static void s_images_start(broker_t *self, int64_t parent_id, int32_t catalog_id, window_t *existing);

/* A catalog window committed: the price bands its catalog's next window starts from
   (none when it needed no split, or its bands merge back into one). */
static void s_bands_learn(broker_t *self, const window_t *w)
{
    char key[24], bands[WINDOW_MAX_PARTS * 48];
    s_catalog_key(key, sizeof key, w->site, w->catalog_id);
    window_bands_next(w, bands, sizeof bands);
    if (*bands)
        zhashx_update(self->bands, key, strdup(bands));
    else
        zhashx_delete(self->bands, key);
}

static int s_window_record_done(broker_t *self, window_t *w)
{
    switch (w->kind) {
    case WINDOW_REPLAY: return s_replay_finish(self, w);
    case WINDOW_TRACKING:
    case WINDOW_IMAGES:
    case WINDOW_CATALOGS: return store_window_finish_counted(self->store, w);
    default: return store_window_finish(self->store, w);
    }
}

static void s_window_done(broker_t *self, window_t *w)
{
    w->state = WINDOW_DONE;
    if (s_window_record_done(self, w) != 0) {
        /* keep it open: s_retry records it once the database answers again */
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
    s_schedule_learn(self, w);
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
        s_images_start(self, id, catalog, NULL);
    for (int32_t *cat = replayed ? zhashx_first(replayed) : NULL; cat; cat = zhashx_next(replayed))
        s_images_start(self, strtoll(zhashx_cursor(replayed), NULL, 10), *cat, NULL);
    zhashx_destroy(&replayed);
}

static void s_window_failed(broker_t *self, window_t *w, const char *reason)
{
    w->state = WINDOW_FAILED;
    store_window_fail(self->store, w, reason);
    snprintf(self->last_error, sizeof self->last_error, "window %" PRId64 " failed: %s", w->id, reason);
    log_error("window failed", "window=%" PRId64 " catalog=%d reason=%s", w->id, w->catalog_id, log_str(reason));
    s_window_close(self, w);
}

static void s_window_add(broker_t *self, window_t *w)
{
    char key[24];
    snprintf(key, sizeof key, "%" PRId64, w->id);
    zhashx_insert(self->windows, key, w);
}

static void s_window_loaded(void *arg, window_t *w)
{
    broker_t *self = arg;
    s_window_add(self, w);
    if (w->kind == WINDOW_REPLAY) {
        /* the list of pages to replay lived in memory: the replay must be asked for again */
        s_window_failed(self, w, "the broker restarted during this replay; run it again (replays are idempotent)");
        return;
    }
    if (w->kind == WINDOW_TRACKING) {
        log_info("tracking run resumed from its start", "window=%" PRId64, w->id);
        w->state = WINDOW_RUNNING;
        s_track_start(self, w);
        return;
    }
    if (w->kind == WINDOW_IMAGES) {
        w->state = WINDOW_RUNNING;
        s_images_start(self, w->parent_id, w->catalog_id, w);
        return;
    }
    if (w->kind == WINDOW_CATALOGS) {
        w->state = WINDOW_RUNNING;
        s_track_fetch(self, w, PROTO_FETCH_CATALOGS, 0, 1, NULL);
        return;
    }
    if (w->state == WINDOW_RUNNING) {
        log_info("window resumed", "window=%" PRId64 " catalog=%d parts=%d from_page=%d", w->id, w->catalog_id,
                 w->n_parts, w->parts[0].next_page);
        w->fetch_attempt++;
        s_fetch_parts(self, w);
    }
}

/* Per catalog: the running window, else the oldest pending one (one pass over the
   open windows, so a backlog of many pending windows stays cheap). An images window
   carries its catalog window's catalog but is not one of its windows: the next
   catalog window never waits on photo downloads. */
static zhashx_t *s_catalog_heads(broker_t *self)
{
    zhashx_t *heads = zhashx_new();
    for (window_t *w = zhashx_first(self->windows); w; w = zhashx_next(self->windows)) {
        if ((w->state != WINDOW_RUNNING && w->state != WINDOW_PENDING) || w->kind == WINDOW_IMAGES)
            continue;
        char key[24];
        s_catalog_key(key, sizeof key, w->site, w->catalog_id);
        window_t *head = zhashx_lookup(heads, key);
        if (!head || (head->state == WINDOW_PENDING
                      && (w->state == WINDOW_RUNNING || w->id < head->id)))
            zhashx_update(heads, key, w);
    }
    return heads;
}

/* Start the oldest pending window of every catalog that has none running. */
static void s_start_windows(broker_t *self)
{
    zhashx_t *heads = s_catalog_heads(self);
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
        s_catalog_key(key, sizeof key, w->site, w->catalog_id);
        const char *bands = zhashx_lookup(self->bands, key);
        if (bands && window_bands_parse(w, bands) != 0)
            log_warn("remembered price bands unreadable, starting unsplit", "catalog=%d bands=%s", w->catalog_id,
                     bands);
        log_info("window started", "window=%" PRId64 " catalog=%d hwm=%" PRId64 " parts=%d", w->id, w->catalog_id,
                 w->hwm_before, w->n_parts);
        s_fetch_parts(self, w);
    }
    zlistx_destroy(&start);
}

static int64_t s_create_window(broker_t *self, const char *site, int32_t catalog, int64_t start_s, int64_t end_s,
                               const char *kind)
{
    int64_t id = 0;
    int rc = store_window_create(self->store, site, catalog, start_s, end_s, kind, &id);
    if (rc != 0)
        return rc < 0 ? -1 : 0;
    window_t *w = window_new(id, catalog, start_s, end_s);
    snprintf(w->site, sizeof w->site, "%s", site);
    s_window_add(self, w);
    char a[32], b[32];
    log_info("window created", "window=%" PRId64 " site=%s catalog=%d kind=%s from=%s to=%s", id, site, catalog,
             kind, config_format_time(start_s, a, sizeof a), config_format_time(end_s, b, sizeof b));
    return id;
}

static int64_t s_track_now(broker_t *self);
static int64_t s_catalogs_now(broker_t *self);

/* Every VINTED_PHOTO_RETRY, the photos earlier images windows could not store (a CDN
   that was down) are tried again, once no images window is open (while one is, its
   own retries are still going: the next check is a period later). */
static void s_photo_retry(broker_t *self)
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
    s_images_start(self, 0, 0, NULL);
}

/* VINTED_SCHEDULE=adaptive: four times a second, a window for every configured catalog
   whose next poll is due (broker/schedule.c) and that has none open. Each window
   starts where the catalog's last scheduled one ended, so the windows still tile
   time; what a poll pulls is decided by the mark, as with fixed windows. */
static void s_schedule_adaptive(broker_t *self)
{
    int64_t mono = clock_mono_ms();
    if (mono < self->next_adaptive)
        return;
    self->next_adaptive = mono + 250;
    int64_t now_ms = clock_wall_ms(), now_s = now_ms / 1000;
    int64_t first_s = self->cfg.window_ms / 1000 > 0 ? self->cfg.window_ms / 1000 : 1;
    zhashx_t *heads = s_catalog_heads(self);
    bool created = false;
    for (int i = 0; i < self->cfg.n_catalogs; i++) {
        int32_t catalog = self->cfg.catalogs[i];
        char key[24];
        s_catalog_key(key, sizeof key, self->cfg.sites[i], catalog);
        if (zhashx_lookup(heads, key) || now_ms < self->poll_not_before[i]
            || now_ms < schedule_due_ms(self->schedule, i))
            continue;
        int64_t start_s = self->poll_end_s[i] > 0 ? self->poll_end_s[i] : now_s - first_s;
        if (start_s >= now_s)
            continue;
        if (s_create_window(self, self->cfg.sites[i], catalog, start_s, now_s, "scheduled") >= 0) {
            self->poll_end_s[i] = now_s;
            created = true;
        }
        /* one window of a catalog per min interval, whatever becomes of it (a failed
           window teaches the estimate nothing and must not turn into a loop) */
        self->poll_not_before[i] = now_ms + self->cfg.min_interval_ms;
    }
    zhashx_destroy(&heads);
    if (created)
        s_start_windows(self);
}

/* A catalog window committed: what it found teaches the adaptive schedule. */
static void s_schedule_learn(broker_t *self, const window_t *w)
{
    int i = self->schedule && w->kind == WINDOW_CATALOG ? s_config_index(self, w->site, w->catalog_id) : -1;
    if (i < 0) /* not scheduled (an ad-hoc window of a catalog not configured) */
        return;
    schedule_observe(self->schedule, i, w->polled_ms > 0 ? w->polled_ms : w->end_s * 1000, w->new_items,
                     w->truncated);
    /* pinned pages (v2) do not shift while a poll pages: no room to leave for that */
    schedule_set_request_ms(self->schedule, w->pin_time > 0 ? 0 : (int64_t) (60000.0 / s_rate_total(self)));
    schedule_replan(self->schedule);
}

static int s_history_row(void *arg, const int64_t *cols, const char *text)
{
    broker_t *self = arg;
    int i = s_config_index(self, text ? text : "", (int32_t) cols[0]);
    if (i >= 0)
        schedule_observe(self->schedule, i, cols[1], cols[2], cols[3] != 0);
    return 0;
}

static int s_last_end_row(void *arg, const int64_t *cols, const char *text)
{
    broker_t *self = arg;
    int i = s_config_index(self, text ? text : "", (int32_t) cols[0]);
    if (i >= 0)
        self->poll_end_s[i] = cols[1];
    return 0;
}

/* At start: the adaptive schedule, its estimates rebuilt from the stored polls. */
static int s_schedule_setup(broker_t *self)
{
    if (!self->cfg.adaptive)
        return 0;
    schedule_settings_t st = { .budget_per_min = s_rate_total(self) * S_SCHEDULE_SHARE,
                               .min_interval_ms = self->cfg.min_interval_ms,
                               .max_interval_ms = self->cfg.max_interval_ms,
                               .first_interval_ms = self->cfg.window_ms, .half_life_ms = S_SCHEDULE_HALF_LIFE_MS,
                               .request_ms = (int64_t) (60000.0 / s_rate_total(self)) };
    self->schedule = schedule_new(&st);
    int n = self->cfg.n_catalogs > 0 ? self->cfg.n_catalogs : 1;
    self->poll_end_s = calloc((size_t) n, sizeof *self->poll_end_s);
    self->poll_not_before = calloc((size_t) n, sizeof *self->poll_not_before);
    if (!self->schedule || !self->poll_end_s || !self->poll_not_before)
        return -1;
    for (int i = 0; i < self->cfg.n_catalogs; i++) {
        if (schedule_add(self->schedule, i, self->cfg.weights[i] > 0 ? self->cfg.weights[i] : 1) /* by index */
            != 0)
            return -1;
    }
    if (store_schedule_last_ends(self->store, s_last_end_row, self) != 0
        || store_schedule_history(self->store, S_SCHEDULE_HISTORY, s_history_row, self) != 0)
        return -1;
    schedule_replan(self->schedule);
    double req, missed;
    schedule_totals(self->schedule, &req, &missed);
    log_info("adaptive schedule", "catalogs=%d budget_per_min=%g requests_per_h=%.1f missed_per_h=%.1f",
             self->cfg.n_catalogs, s_rate_total(self) * S_SCHEDULE_SHARE, req, missed);
    return 0;
}

/* At each window boundary, one window per configured catalog for the period just closed;
   every VINTED_TRACK_EVERY, a tracking run unless one is still going. */
static void s_schedule(broker_t *self)
{
    s_photo_retry(self);
    if (self->cfg.catalogs_every_ms > 0) {
        int64_t now = clock_mono_ms();
        if (self->next_catalogs == 0) {
            /* at start: at once when no tree was ever loaded, else after a full period */
            self->next_catalogs = store_catalogs_count(self->store) == 0 ? now : now + self->cfg.catalogs_every_ms;
        }
        if (now >= self->next_catalogs) {
            s_catalogs_now(self);
            self->next_catalogs = now + self->cfg.catalogs_every_ms;
        }
    }
    if (self->cfg.track_every_ms > 0) {
        int64_t now = clock_mono_ms();
        if (self->next_track == 0)
            self->next_track = now + self->cfg.track_every_ms;
        else if (now >= self->next_track) {
            bool running = false;
            for (window_t *w = zhashx_first(self->windows); w && !running; w = zhashx_next(self->windows))
                running = w->kind == WINDOW_TRACKING;
            if (!running)
                s_track_now(self);
            self->next_track = now + self->cfg.track_every_ms;
        }
    }
    if (self->cfg.n_catalogs == 0)
        return;
    if (self->schedule) {
        s_schedule_adaptive(self);
        return;
    }
    int64_t now_s = clock_wall_ms() / 1000;
    if (now_s < self->next_schedule_s)
        return;
    int64_t len_s = self->cfg.window_ms / 1000 > 0 ? self->cfg.window_ms / 1000 : 1;
    int64_t start, end;
    window_slice(now_s, len_s, &start, &end);
    bool failed = false;
    for (int i = 0; i < self->cfg.n_catalogs; i++)
        failed |= s_create_window(self, self->cfg.sites[i], self->cfg.catalogs[i], start - len_s, start, "scheduled") < 0;
    /* database down: try again in a second (creating is idempotent); a period missed
       entirely is no loss: the next window of a catalog pulls everything past its mark */
    self->next_schedule_s = failed ? now_s + 1 : end;
    s_start_windows(self);
}

/* ------------------------------------------------------------- dispatch */

static void s_on_fetched(broker_t *self, window_t *w, proto_msg_t *msg)
{
    proto_page_t *page = &msg->u.page;
    if (page->page == 1 && w->polled_ms == 0)
        w->polled_ms = page->fetched_at_ms;
    if (page->max_item_id > w->max_item_id)
        w->max_item_id = page->max_item_id;
    if (page->error) {
        w->degraded = true;
        log_warn("page could not be parsed, it goes to quarantine", "window=%" PRId64 " page=%d error=%s",
                 w->id, page->page, log_str(page->error));
    }
    /* forward untouched to a transformer, and to the raw landing area */
    msg->body = PROTO_BODY_PAGE;
    s_task_new(self, PROTO_STAGE_TRANSFORM, w->id, page->page, msg);
    s_task_new(self, PROTO_STAGE_STORE, w->id, page->page, msg);
    /* and page on, or note the part's last page; a part that met the cap splits */
    int32_t api_page;
    int part = window_part_of(page->page, &api_page);
    if (part < 0 || part >= w->n_parts)
        return; /* cannot be: the broker numbered the page */
    window_part_t *p = &w->parts[part];
    if (page->page == 1) {
        w->pin_time = page->pin_time;
        w->mark_id = page->error ? 0 : page->max_item_id;
    }
    if (p->probe) { /* the newest listings and the window's time: now the bands */
        p->next_page = 0;
        p->last_page = 1;
        s_fetch_parts(self, w);
        return;
    }
    if (page->more && api_page < WINDOW_MAX_PAGES) {
        p->next_page = api_page + 1;
        s_fetch_page(self, w, part, p->next_page);
        return;
    }
    p->next_page = 0;
    p->last_page = api_page;
    p->truncated = api_page >= WINDOW_MAX_PAGES && page->n_items >= WINDOW_PER_PAGE;
    if (!p->truncated)
        return;
    int before = w->n_parts;
    /* a catalog's first window has no mark to reach: the backlog is the catalog's whole
       history, so it takes the newest 960 and leaves the mark there (no split) */
    if (w->hwm_before > 0 && window_part_split(w, part)) {
        log_info("query met the result cap, split in two price bands", "window=%" PRId64 " catalog=%d part=%d"
                 " from=%" PRId64 " to=%" PRId64 " middle=%" PRId64, w->id, w->catalog_id, part, p->price_from,
                 p->price_to, w->parts[before].price_to);
        s_fetch_page(self, w, before, 1);
        s_fetch_page(self, w, before + 1, 1);
    }
    else {
        w->truncated = true;
        log_warn(w->hwm_before > 0 ? "query met the result cap and cannot split further: listings lost"
                                   : "first window of the catalog met the result cap: the mark starts here",
                 "window=%" PRId64
                 " catalog=%d part=%d from=%" PRId64 " to=%" PRId64 " parts=%d", w->id, w->catalog_id, part,
                 p->price_from, p->price_to, w->n_parts);
    }
}

static void s_on_transformed(broker_t *self, window_t *w, proto_msg_t *msg)
{
    w->items += (int32_t) (msg->u.batch.n_items + msg->u.batch.n_snapshots);
    msg->body = PROTO_BODY_BATCH;
    s_task_new(self, PROTO_STAGE_SINK, w->id, msg->u.batch.page, msg);
}

/* A replayed page came back from the raw area: on to a transformer. */
static void s_on_loaded(broker_t *self, window_t *w, proto_msg_t *msg)
{
    proto_page_t *page = &msg->u.page;
    char key[24];
    snprintf(key, sizeof key, "%" PRId64, page->window_id);
    if (!zhashx_lookup(w->replayed, key)) {
        int32_t *catalog = malloc(sizeof *catalog);
        *catalog = page->catalog_id;
        zhashx_insert(w->replayed, key, catalog);
    }
    msg->body = PROTO_BODY_PAGE;
    s_task_new(self, PROTO_STAGE_TRANSFORM, w->id, page->page, msg);
}

static void s_on_page_done(broker_t *self, window_t *w, int32_t page, int what)
{
    if (w->kind != WINDOW_CATALOG) {
        if (w->kind != WINDOW_TRACKING || what == WINDOW_PAGE_COMMITTED)
            w->completed++;
        return; /* done when nothing is outstanding: see s_on_result */
    }
    window_page_done(w, page, what);
    if (window_complete(w))
        s_window_done(self, w);
    else
        store_window_progress(self->store, w);
}

/* ------------------------------------------------------------ tracking */

/* A tracking (or catalog tree) fetch, on the site the seller's or item's listing lives
   on (NULL or "": the fetcher's default site). */
static void s_track_fetch(broker_t *self, window_t *w, proto_fetch_kind_t kind, int64_t target, int32_t page,
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
    s_task_new(self, PROTO_STAGE_FETCH, w->id, page, msg);
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
        s_track_fetch(self, w, PROTO_FETCH_USER_ITEMS, cols[0], 1, text);
        s_track_fetch(self, w, PROTO_FETCH_USER, cols[0], 1, text); /* the seller's counters */
    }
    else if (cols[1] > 0)
        s_track_fetch(self, w, PROTO_FETCH_ITEM_PAGE, cols[1], 1, text);
    return 0;
}

/* Phase 0 of a tracking run: the item lists and profiles of the sampled items' sellers. */
static void s_track_start(broker_t *self, window_t *w)
{
    w->phase = 0;
    w->expected = w->completed = 0;
    void *ctx[] = { self, w };
    if (store_track_targets(self->store, self->cfg.sample_threshold, s_track_target, ctx) != 0) {
        s_window_failed(self, w, "cannot read the sample from the database");
        return;
    }
    log_info("tracking run started", "window=%" PRId64 " requests_planned=%d", w->id, w->expected);
    if (w->outstanding == 0)
        s_window_done(self, w);
}

static int s_track_missing(void *arg, const int64_t *cols, const char *text)
{
    void **ctx = arg;
    s_track_fetch(ctx[0], ctx[1], PROTO_FETCH_ITEM_PAGE, cols[0], 1, text);
    return 0;
}

/* The run has nothing outstanding: after the sellers' lists, the item pages of what they
   did not show; after those, done. */
static void s_counted_idle(broker_t *self, window_t *w)
{
    if (w->kind == WINDOW_TRACKING && w->phase == 0) {
        w->phase = 1;
        void *ctx[] = { self, w };
        int before = w->expected;
        if (store_track_missing(self->store, w->id, self->cfg.sample_threshold, s_track_missing, ctx) != 0) {
            s_window_failed(self, w, "cannot read the sample from the database");
            return;
        }
        log_info("tracking run: item pages for what the sellers' lists did not show", "window=%" PRId64 " items=%d",
                 w->id, w->expected - before);
        if (w->outstanding > 0)
            return;
    }
    s_window_done(self, w);
}

/* -------------------------------------------------------------- images */

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
static void s_images_start(broker_t *self, int64_t parent_id, int32_t catalog_id, window_t *existing)
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
            s_window_failed(self, existing, "cannot read the photos to fetch from the database");
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
        s_window_add(self, w);
        store_window_start(self->store, w);
    }
    if (!w) {
        zlistx_destroy(&tasks);
        return;
    }
    w->expected = w->completed = 0;
    for (proto_msg_t *msg = zlistx_first(tasks); msg; msg = zlistx_next(tasks)) {
        msg->u.image.window_id = parent_id;
        s_task_new(self, PROTO_STAGE_PHOTO, w->id, 0, msg);
        w->expected++;
    }
    zlistx_destroy(&tasks);
    log_info("images window started", "window=%" PRId64 " for_window=%" PRId64 " photos=%d", w->id, parent_id,
             w->expected);
    if (w->outstanding == 0)
        s_window_done(self, w);
}

/* A photo is in the object store: the sink records it in its row. */
static void s_on_photo_stored(broker_t *self, window_t *w, proto_msg_t *msg)
{
    msg->body = PROTO_BODY_PHOTO;
    s_task_new(self, PROTO_STAGE_SINK, w->id, 0, msg);
}

/* A tracking page came back: transform and land it; a seller with more items: next page. */
static void s_on_tracked(broker_t *self, window_t *w, proto_msg_t *msg)
{
    proto_page_t *page = &msg->u.page;
    msg->body = PROTO_BODY_PAGE;
    s_task_new(self, PROTO_STAGE_TRANSFORM, w->id, page->page, msg);
    s_task_new(self, PROTO_STAGE_STORE, w->id, page->page, msg);
    if (page->kind == PROTO_FETCH_USER_ITEMS && page->more && page->page < WINDOW_MAX_PAGES)
        s_track_fetch(self, w, PROTO_FETCH_USER_ITEMS, page->target_id, page->page + 1, page->site);
}

static void s_on_committed(broker_t *self, window_t *w, proto_msg_t *msg)
{
    s_on_page_done(self, w, msg->u.commit.page, WINDOW_PAGE_COMMITTED);
}

static void s_on_stored(broker_t *self, window_t *w, proto_msg_t *msg)
{
    s_on_page_done(self, w, msg->u.stored.page, WINDOW_PAGE_STORED);
}

static void s_on_result(broker_t *self, peer_t *peer, proto_msg_t *msg)
{
    char key[24];
    snprintf(key, sizeof key, "%" PRIu64, msg->task_id);
    task_t *task = zhashx_lookup(self->tasks, key);
    if (!task) {
        log_debug("late result ignored", "task=%s worker=%s", key, log_str(peer->name));
        return;
    }
    if (task->peer)
        task->peer->inflight--;
    else if (task->queue_handle)
        s_queue_remove(self, task);
    task->peer = NULL;
    peer->done++;
    self->results[task->stage]++;
    proto_body_t sent = task->body;
    int64_t window_id = task->window_id;
    if (sent == PROTO_BODY_BATCH && msg->body == PROTO_BODY_COMMIT)
        metrics_observe(self->metrics.batch_commit, (double) (clock_mono_ms() - task->dispatched_at) / 1000.0);
    zhashx_delete(self->tasks, key);

    window_t *w = s_window(self, window_id);
    if (!w || w->state != WINDOW_RUNNING)
        return;
    w->outstanding--;
    /* the routing table: what each task's result becomes */
    if (sent == PROTO_BODY_FETCH && msg->body == PROTO_BODY_PAGE
        && (w->kind == WINDOW_TRACKING || w->kind == WINDOW_CATALOGS))
        s_on_tracked(self, w, msg);
    else if (sent == PROTO_BODY_FETCH && msg->body == PROTO_BODY_PAGE)
        s_on_fetched(self, w, msg);
    else if (sent == PROTO_BODY_PAGE && msg->body == PROTO_BODY_BATCH)
        s_on_transformed(self, w, msg);
    else if (sent == PROTO_BODY_BATCH && msg->body == PROTO_BODY_COMMIT)
        s_on_committed(self, w, msg);
    else if (sent == PROTO_BODY_PAGE && msg->body == PROTO_BODY_STORED)
        s_on_stored(self, w, msg);
    else if (sent == PROTO_BODY_LOAD && msg->body == PROTO_BODY_PAGE && w->kind == WINDOW_REPLAY)
        s_on_loaded(self, w, msg);
    else if (sent == PROTO_BODY_IMAGE && msg->body == PROTO_BODY_PHOTO)
        s_on_photo_stored(self, w, msg);
    else if (sent == PROTO_BODY_PHOTO && msg->body == PROTO_BODY_COMMIT)
        s_on_committed(self, w, msg);
    else {
        s_window_failed(self, w, "a worker answered with the wrong kind of result");
        return;
    }
    w = s_window(self, window_id); /* routing may have closed it */
    if (w && w->state == WINDOW_RUNNING && w->kind != WINDOW_CATALOG && w->outstanding == 0)
        s_counted_idle(self, w);
}

static void s_on_nack(broker_t *self, peer_t *peer, proto_msg_t *msg)
{
    char key[24];
    snprintf(key, sizeof key, "%" PRIu64, msg->task_id);
    task_t *task = zhashx_lookup(self->tasks, key);
    if (!task || task->peer != peer)
        return;
    window_t *w = s_window(self, task->window_id);
    const char *reason = msg->u.nack.reason ? msg->u.nack.reason : "no reason given";
    log_warn("task refused", "stage=%s window=%" PRId64 " page=%d worker=%s permanent=%d reason=%s",
             proto_stage_name(task->stage), task->window_id, task->page, log_str(peer->name),
             msg->u.nack.permanent, log_str(reason));
    snprintf(self->last_error, sizeof self->last_error, "%s", reason);
    self->nacked++;
    task->refusals++;
    free(task->refusal);
    task->refusal = strdup(reason);
    if (w && (msg->u.nack.permanent || task->refusals >= self->cfg.max_attempts)) {
        task->peer->inflight--;
        task->peer = NULL;
        zhashx_delete(self->tasks, key);
        if (w->kind == WINDOW_TRACKING || w->kind == WINDOW_IMAGES || w->kind == WINDOW_CATALOGS) {
            /* one seller or one photo that cannot be had does not sink the run: count it and go on */
            w->outstanding--;
            w->failures++;
            if (w->outstanding == 0)
                s_counted_idle(self, w);
            return;
        }
        s_window_failed(self, w, reason);
        return;
    }
    int64_t delay = msg->u.nack.retry_after_ms != PROTO_NULL ? msg->u.nack.retry_after_ms : 1000;
    s_requeue(self, task, delay);
}

static void s_on_report(broker_t *self, peer_t *peer, proto_msg_t *msg)
{
    proto_report_t *r = &msg->u.report;
    log_warn("worker report", "worker=%s event=%s detail=%s backoff_ms=%" PRId64, log_str(peer->name),
             log_str(r->event), log_str(r->detail), r->backoff_ms);
    if (r->event && strcmp(r->event, "blocked") == 0 && r->backoff_ms > 0) {
        int n = budget_identities(self->budget), id = r->identity < n ? r->identity : 0;
        if (r->identity >= n)
            log_warn("block reported for an identity the broker does not have: the broker and the fetchers must"
                     " read the same VINTED_PROXIES", "identity=%d identities=%d", r->identity, n);
        budget_pause(self->budget, id, clock_mono_ms(), r->backoff_ms);
        snprintf(self->last_error, sizeof self->last_error,
                 "blocked by Vinted (%s); identity %d (%s) paused %" PRId64 " s%s", r->detail ? r->detail : "403", id,
                 self->cfg.proxies ? self->cfg.proxies->label[id] : "direct", r->backoff_ms / 1000,
                 n > 1 ? ", the other identities go on" : ": all fetching paused");
    }
}

#define S_REJECT_LOGS 50 /* invalid frames logged per second; the rest are summed up */

/* A frame that is rejected (section 9.1 of PROTOCOL.md): counted, and logged
   with the peer, its size and the reason; a flood costs at most S_REJECT_LOGS
   lines a second plus one line saying how many more there were. */
static void s_reject(broker_t *self, const char *socket, zframe_t *identity, size_t bytes, const char *reason)
{
    self->invalid_frames++;
    int64_t second = clock_mono_ms() / 1000;
    if (second != self->reject_second) {
        if (self->reject_quiet > 0)
            log_warn("more invalid frames rejected without a log line", "count=%" PRIu64, self->reject_quiet);
        self->reject_second = second;
        self->reject_logged = 0;
        self->reject_quiet = 0;
    }
    if (self->reject_logged >= S_REJECT_LOGS) {
        self->reject_quiet++;
        return;
    }
    self->reject_logged++;
    char *hex = identity ? zframe_strhex(identity) : NULL;
    log_warn("invalid frame rejected", "socket=%s peer=%s bytes=%zu reason=%s total=%" PRIu64, socket,
             hex ? hex : "none", bytes, log_str(reason), self->invalid_frames);
    free(hex);
}

/* A command a registered worker may not send (PROTOCOL.md 9.1): why, or NULL if it may.
   Only fetchers take request tokens and report blocks; a RESULT must come from a
   worker of the stage its task was given to. */
static const char *s_not_allowed(broker_t *self, const peer_t *peer, const proto_msg_t *msg)
{
    if ((msg->cmd == PROTO_TOKEN_REQ || msg->cmd == PROTO_REPORT) && peer->stage != PROTO_STAGE_FETCH)
        return msg->cmd == PROTO_TOKEN_REQ ? "TOKEN_REQ from a worker that is not a fetcher"
                                           : "REPORT from a worker that is not a fetcher";
    if (msg->cmd == PROTO_RESULT) {
        char key[24];
        snprintf(key, sizeof key, "%" PRIu64, msg->task_id);
        const task_t *task = zhashx_lookup(self->tasks, key);
        if (task && task->stage != peer->stage)
            return "RESULT for a task of another stage";
    }
    return NULL;
}

static void s_on_worker_message(broker_t *self)
{
    zmsg_t *zmsg = zmsg_recv(self->workers);
    if (!zmsg)
        return;
    size_t frames = zmsg_size(zmsg);
    zframe_t *identity = zmsg_pop(zmsg);
    zframe_t *body = zmsg_pop(zmsg);
    if (!identity || !body || zmsg_size(zmsg) != 0) {
        char why[64];
        snprintf(why, sizeof why, "%zu frames, expected one message frame", frames ? frames - 1 : 0);
        s_reject(self, "worker", identity, zmsg_content_size(zmsg) + (body ? zframe_size(body) : 0), why);
        goto done;
    }
    char err[256];
    proto_msg_t *msg = proto_decode(zframe_data(body), zframe_size(body), err, sizeof err);
    if (!msg) {
        s_reject(self, "worker", identity, zframe_size(body), err);
        goto done;
    }
    char *hex = zframe_strhex(identity);
    peer_t *peer = zhashx_lookup(self->peers, hex);
    const char *refused = peer && msg->cmd != PROTO_READY ? s_not_allowed(self, peer, msg) : NULL;
    if (refused) {
        s_reject(self, "worker", identity, zframe_size(body), refused);
        peer->expiry = clock_mono_ms() + PROTO_LIVENESS_MS;
        free(hex);
        proto_msg_destroy(&msg);
        goto done;
    }
    if (msg->cmd == PROTO_READY) {
        if (peer)
            s_peer_remove(self, peer, "announced itself again");
        if (msg->u.ready.stage <= PROTO_STAGE_NONE || msg->u.ready.stage >= PROTO_STAGES) {
            char why[64];
            snprintf(why, sizeof why, "READY with an unknown stage %d", (int) msg->u.ready.stage);
            s_reject(self, "worker", identity, zframe_size(body), why);
        }
        else {
            peer = calloc(1, sizeof *peer);
            snprintf(peer->key, sizeof peer->key, "%s", hex);
            peer->identity = zframe_dup(identity);
            peer->name = strdup(msg->u.ready.name ? msg->u.ready.name : "?");
            peer->stage = msg->u.ready.stage;
            peer->capacity = msg->u.ready.capacity > 0 ? msg->u.ready.capacity : 1;
            peer->expiry = clock_mono_ms() + PROTO_LIVENESS_MS;
            zhashx_insert(self->peers, peer->key, peer);
            log_info("worker ready", "stage=%s worker=%s capacity=%d", proto_stage_name(peer->stage),
                     log_str(peer->name), peer->capacity);
        }
    }
    else if (!peer) {
        /* not (or no longer) registered: tell it to start over */
        peer_t tmp = { .identity = identity };
        if (msg->cmd != PROTO_DISCONNECT)
            s_send_cmd(self, &tmp, PROTO_DISCONNECT);
    }
    else {
        peer->expiry = clock_mono_ms() + PROTO_LIVENESS_MS;
        switch (msg->cmd) {
        case PROTO_HEARTBEAT: break;
        case PROTO_RESULT: s_on_result(self, peer, msg); break;
        case PROTO_NACK: s_on_nack(self, peer, msg); break;
        case PROTO_TOKEN_REQ: zlistx_add_end(self->token_waiters, strdup(peer->key)); break;
        case PROTO_REPORT: s_on_report(self, peer, msg); break;
        case PROTO_DISCONNECT: s_peer_remove(self, peer, "worker said goodbye"); break;
        default: {
            char why[64];
            snprintf(why, sizeof why, "%s is not a command a worker sends", proto_cmd_name(msg->cmd));
            s_reject(self, "worker", identity, zframe_size(body), why);
            break;
        }
        }
    }
    free(hex);
    proto_msg_destroy(&msg);
done:
    zframe_destroy(&identity);
    zframe_destroy(&body);
    zmsg_destroy(&zmsg);
}

/* -------------------------------------------------------------- stalls */

/* The pipeline-wide facts a stall is explained with (broker/stall.h). */
static void s_pipeline(const broker_t *self, stall_pipeline_t *p)
{
    int64_t now = clock_mono_ms();
    memset(p, 0, sizeof *p);
    for (peer_t *peer = zhashx_first(self->peers); peer; peer = zhashx_next(self->peers)) {
        p->workers[peer->stage]++;
        if (peer->capacity > peer->inflight)
            p->free_credit[peer->stage] += peer->capacity - peer->inflight;
    }
    for (int s = PROTO_STAGE_FETCH; s < PROTO_STAGES; s++) {
        p->no_worker_ms[s] = p->workers[s] > 0 ? 0 : now - self->stage_seen[s];
        p->queued_bytes[s] = self->queued_bytes[s];
    }
    p->max_queued = self->cfg.max_queued;
    p->db_down_ms = store_down_ms(self->store);
    p->paused_ms = budget_all_paused_ms(self->budget, now);
    p->next_token_ms = budget_wait_ms(self->budget, now);
    p->rate_per_min = s_rate_total(self);
}

/* Why window w is not progressing: its reason, in words into text. */
static stall_reason_t s_window_stall(broker_t *self, const window_t *w, proto_stage_t *stage, char *text,
                                     size_t size)
{
    stall_pipeline_t p;
    s_pipeline(self, &p);
    stall_window_t sw = { .pending = w->state == WINDOW_PENDING, .recording = w->finish_pending };
    int64_t now = clock_mono_ms(), first_due = INT64_MAX;
    for (task_t *t = zhashx_first(self->tasks); t; t = zhashx_next(self->tasks)) {
        if (t->window_id != w->id)
            continue;
        if (t->peer)
            sw.inflight[t->stage]++;
        else if (t->not_before > now) {
            sw.delayed[t->stage]++;
            if (t->not_before < first_due) {
                first_due = t->not_before;
                sw.refusal = t->refusal;
            }
        }
        else if (t->queue_handle) {
            sw.queued[t->stage]++;
            sw.feeds[t->stage] |= s_feeds(t->stage, t->body);
        }
    }
    sw.delayed_ms = first_due == INT64_MAX ? 0 : first_due - now;
    for (char *key = zlistx_first(self->token_waiters); key && !sw.token_wait; key = zlistx_next(self->token_waiters)) {
        peer_t *peer = zhashx_lookup(self->peers, key);
        sw.token_wait = peer && peer->window_id == w->id;
    }
    if (sw.pending) {
        zhashx_t *heads = s_catalog_heads(self);
        char key[24];
        s_catalog_key(key, sizeof key, w->site, w->catalog_id);
        window_t *head = zhashx_lookup(heads, key);
        sw.behind = head && head != w && head->state == WINDOW_RUNNING ? head->id : 0;
        zhashx_destroy(&heads);
    }
    return stall_explain(&p, &sw, stage, text, size);
}

/* Per stage, why the tasks queued there wait (pipeline-wide, for status): the
   reason, its words in text (empty when none). */
static stall_reason_t s_stage_stall(broker_t *self, const stall_pipeline_t *p, proto_stage_t stage, char *text,
                                    size_t size)
{
    int queued = 0;
    unsigned feeds = 0;
    int64_t now = clock_mono_ms();
    for (task_t *t = zlistx_first(self->queue[stage]); t; t = zlistx_next(self->queue[stage]))
        if (t->not_before <= now) {
            queued++;
            feeds |= s_feeds(t->stage, t->body);
        }
    text[0] = 0;
    return stall_stage(p, stage, queued, feeds, text, size);
}

#define S_STALL_LOG_MS 30000 /* a stage with work waiting and no worker this long is logged (then once a minute) */

/* Said in the log: a stage that has had work waiting and no worker for 30 s. */
static void s_log_stalls(broker_t *self)
{
    stall_pipeline_t p;
    s_pipeline(self, &p);
    int64_t now = clock_mono_ms();
    for (int s = PROTO_STAGE_FETCH; s < PROTO_STAGES; s++) {
        if (p.workers[s] > 0 || p.no_worker_ms[s] < S_STALL_LOG_MS || zlistx_size(self->queue[s]) == 0
            || now - self->stall_logged[s] < 2 * S_STALL_LOG_MS)
            continue;
        char text[256];
        if (s_stage_stall(self, &p, (proto_stage_t) s, text, sizeof text) != STALL_NO_WORKER)
            continue;
        self->stall_logged[s] = now;
        log_warn("work waits for a stage that has no worker", "stage=%s no_worker_s=%" PRId64 " queued=%zu detail=%s",
                 proto_stage_name((proto_stage_t) s), p.no_worker_ms[s] / 1000, zlistx_size(self->queue[s]),
                 log_str(text));
    }
}

/* What the database refused while it was down, tried again every second: windows
   whose completion could not be recorded, and pending windows that could not start. */
static void s_retry(broker_t *self)
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
        s_window_done(self, w);
    }
    zlistx_destroy(&finish);
    if (pending)
        s_start_windows(self);
}

/* Heartbeats out, silent workers and overdue tasks back to the queue. */
static void s_sweep(broker_t *self)
{
    int64_t now = clock_mono_ms();
    if (now >= self->next_heartbeat) {
        for (peer_t *p = zhashx_first(self->peers); p; p = zhashx_next(self->peers))
            if (now - p->last_send >= PROTO_HEARTBEAT_MS)
                s_send_cmd(self, p, PROTO_HEARTBEAT);
        self->next_heartbeat = now + PROTO_HEARTBEAT_MS / 2;
    }
    if (now < self->next_sweep)
        return;
    self->next_sweep = now + 250;
    if (now >= self->next_retry) {
        self->next_retry = now + 1000;
        s_retry(self);
        s_log_stalls(self);
    }
    zlistx_t *dead = zlistx_new();
    for (peer_t *p = zhashx_first(self->peers); p; p = zhashx_next(self->peers))
        if (p->expiry < now)
            zlistx_add_end(dead, p);
    for (peer_t *p = zlistx_first(dead); p; p = zlistx_next(dead))
        s_peer_remove(self, p, "silent past its liveness");
    zlistx_purge(dead);
    for (task_t *t = zhashx_first(self->tasks); t; t = zhashx_next(self->tasks))
        if (t->peer && t->deadline < now)
            zlistx_add_end(dead, t);
    for (task_t *t = zlistx_first(dead); t; t = zlistx_next(dead)) {
        log_warn("task overdue, dispatching it again", "stage=%s window=%" PRId64 " page=%d worker=%s",
                 proto_stage_name(t->stage), t->window_id, t->page, log_str(t->peer->name));
        s_requeue(self, t, 0);
    }
    zlistx_destroy(&dead);
}

/* ------------------------------------------------------------- control */

static const char *s_arg(proto_ctl_req_t *req, const char *key)
{
    for (size_t i = 0; i < req->n_args; i++)
        if (req->keys[i] && strcmp(req->keys[i], key) == 0)
            return req->values[i];
    return NULL;
}

static void s_json_str(char *out, size_t size, const char *s)
{
    size_t o = 0;
    out[o++] = '"';
    for (; s && *s && o + 8 < size; s++) {
        unsigned char c = (unsigned char) *s;
        if (c == '"' || c == '\\') {
            out[o++] = '\\';
            out[o++] = (char) c;
        }
        else if (c < 0x20)
            o += (size_t) snprintf(out + o, size - o, "\\u%04x", c);
        else
            out[o++] = (char) c;
    }
    out[o++] = '"';
    out[o] = 0;
}

static void s_ctl_reply(broker_t *self, zframe_t *identity, int status, const char *message, const char *json)
{
    proto_msg_t *rep = proto_msg_new(PROTO_CTL_REP);
    rep->u.ctl_rep.status = status;
    rep->u.ctl_rep.message = (char *) message;
    rep->u.ctl_rep.json = (char *) json;
    uint8_t *data;
    size_t size;
    if (proto_encode(rep, &data, &size) == 0) {
        zmsg_t *msg = zmsg_new();
        zmsg_addmem(msg, zframe_data(identity), zframe_size(identity));
        zmsg_addmem(msg, data, size);
        zmsg_send(&msg, self->control);
        free(data);
    }
    rep->u.ctl_rep.message = NULL;
    rep->u.ctl_rep.json = NULL;
    proto_msg_destroy(&rep);
}

static void s_ctl_window(broker_t *self, zframe_t *identity, proto_ctl_req_t *req)
{
    const char *catalog = s_arg(req, "catalog"), *from = s_arg(req, "from"), *to = s_arg(req, "to");
    char *end;
    long cat = catalog ? strtol(catalog, &end, 10) : 0;
    if (!catalog || *end || cat <= 0 || cat > INT32_MAX) {
        s_ctl_reply(self, identity, 2, "window: --catalog must be a positive catalog id", NULL);
        return;
    }
    int64_t now_s = clock_wall_ms() / 1000, from_s = now_s - self->cfg.window_ms / 1000, to_s = now_s;
    if ((from && config_parse_time(from, &from_s) != 0) || (to && config_parse_time(to, &to_s) != 0)) {
        s_ctl_reply(self, identity, 2, "window: --from/--to must be UTC times like 2026-11-25T10:00:00Z", NULL);
        return;
    }
    if (to_s <= from_s) {
        s_ctl_reply(self, identity, 2, "window: --to must be after --from", NULL);
        return;
    }
    const char *site = s_arg(req, "site");
    if (!site || !*site)
        site = self->cfg.default_site;
    if (!broker_site_ok(site)) {
        s_ctl_reply(self, identity, 2, "window: --site must be a Vinted site like pt, fr or co.uk", NULL);
        return;
    }
    int64_t id = s_create_window(self, site, (int32_t) cat, from_s, to_s, "adhoc");
    if (id <= 0) {
        s_ctl_reply(self, identity, 3, "window: the broker could not record the window (database error)", NULL);
        return;
    }
    char message[128], json[160];
    snprintf(message, sizeof message, "window %" PRId64 " queued for catalog %ld of %s", id, cat, site);
    snprintf(json, sizeof json, "{\"window_id\":%" PRId64 ",\"site\":\"%s\",\"catalog_id\":%ld,\"state\":\"pending\"}",
             id, site, cat);
    s_ctl_reply(self, identity, 0, message, json);
    s_start_windows(self);
}

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
    s_task_new(r->self, PROTO_STAGE_STORE, r->w->id, 0, msg);
    msg->u.load.key = NULL;
    proto_msg_destroy(&msg);
    r->w->expected++;
    return 0;
}

/* "replay": feed the raw pages fetched in [from, to) back through transformer and sink. */
static void s_ctl_replay(broker_t *self, zframe_t *identity, proto_ctl_req_t *req)
{
    const char *flow = s_arg(req, "flow"), *from = s_arg(req, "from"), *to = s_arg(req, "to");
    int64_t from_s, to_s;
    if (!flow || (strcmp(flow, "catalog") != 0 && strcmp(flow, "tracking") != 0 && strcmp(flow, "catalogs") != 0)) {
        s_ctl_reply(self, identity, 2, "replay: --flow must be catalog, tracking or catalogs", NULL);
        return;
    }
    if (!from || !to || config_parse_time(from, &from_s) != 0 || config_parse_time(to, &to_s) != 0 || to_s <= from_s) {
        s_ctl_reply(self, identity, 2, "replay: --from and --to are required UTC times, from before to", NULL);
        return;
    }
    int64_t id = 0;
    if (store_window_create(self->store, "", 0, from_s, to_s, "replay", &id) != 0) {
        s_ctl_reply(self, identity, 3, "replay: the broker could not record the replay (database error)", NULL);
        return;
    }
    window_t *w = window_new(id, 0, from_s, to_s);
    w->kind = WINDOW_REPLAY;
    w->replayed = zhashx_new();
    zhashx_set_destructor(w->replayed, s_free_item);
    s_window_add(self, w);
    store_window_start(self->store, w);
    w->state = WINDOW_RUNNING;
    /* list the raw area hour by hour: keys sort by flow and time of fetch */
    s_replay_list_t r = { self, w, from_s * 1000, to_s * 1000 };
    char err[512] = "";
    for (int64_t hour = from_s - from_s % 3600; hour < to_s; hour += 3600) {
        char prefix[128];
        raw_hour_prefix(flow, hour, prefix, sizeof prefix);
        if (objstore_list(self->objects, prefix, NULL, s_replay_key, &r, err, sizeof err) != 0)
            break;
    }
    char message[700], json[160];
    if (*err) {
        snprintf(message, sizeof message, "replay: cannot list the raw area: %s", err);
        s_window_failed(self, w, message);
        s_ctl_reply(self, identity, 3, message, NULL);
        return;
    }
    snprintf(message, sizeof message, "replay %" PRId64 " queued: %d raw pages", id, w->expected);
    snprintf(json, sizeof json, "{\"window_id\":%" PRId64 ",\"state\":\"running\",\"pages\":%d}", id, w->expected);
    log_info("replay started", "window=%" PRId64 " flow=%s pages=%d", id, flow, w->expected);
    s_ctl_reply(self, identity, 0, message, json);
    if (w->expected == 0)
        s_window_done(self, w);
}

/* Create a tracking run and start it. The window id, or -1. */
static int64_t s_track_now(broker_t *self)
{
    int64_t now_s = clock_wall_ms() / 1000, id = 0;
    int64_t every_s = self->cfg.track_every_ms > 0 ? self->cfg.track_every_ms / 1000 : 1;
    if (store_window_create(self->store, "", 0, now_s - every_s, now_s, "tracking", &id) != 0)
        return -1;
    window_t *w = window_new(id, 0, now_s - every_s, now_s);
    w->kind = WINDOW_TRACKING;
    s_window_add(self, w);
    store_window_start(self->store, w);
    w->state = WINDOW_RUNNING;
    s_track_start(self, w);
    return id;
}

/* A refresh of the site's catalog tree now. The window id, or -1. */
static int64_t s_catalogs_now(broker_t *self)
{
    int64_t now_s = clock_wall_ms() / 1000, id = 0;
    if (store_window_create(self->store, "", 0, now_s, now_s + 1, "catalogs", &id) != 0)
        return -1;
    window_t *w = window_new(id, 0, now_s, now_s + 1);
    w->kind = WINDOW_CATALOGS;
    s_window_add(self, w);
    store_window_start(self->store, w);
    w->state = WINDOW_RUNNING;
    s_track_fetch(self, w, PROTO_FETCH_CATALOGS, 0, 1, NULL);
    log_info("catalog tree refresh started", "window=%" PRId64, id);
    return id;
}

/* The answer to a verb that starts a window now: its id, or why it could not start. */
static void s_ctl_started(broker_t *self, zframe_t *identity, int64_t id, const char *verb, const char *what)
{
    char message[160], json[128];
    if (id < 0) {
        snprintf(message, sizeof message, "%s: the broker could not record the %s (database error)", verb,
                 strrchr(what, ' ') ? strrchr(what, ' ') + 1 : what);
        s_ctl_reply(self, identity, 3, message, NULL);
        return;
    }
    snprintf(message, sizeof message, "%s %" PRId64 " started", what, id);
    snprintf(json, sizeof json, "{\"window_id\":%" PRId64 ",\"state\":\"running\"}", id);
    s_ctl_reply(self, identity, 0, message, json);
}

/* "get": one window's state, from memory while it is open, else from the database. */
static void s_ctl_get(broker_t *self, zframe_t *identity, proto_ctl_req_t *req)
{
    const char *text = s_arg(req, "window");
    char *end;
    long long id = text ? strtoll(text, &end, 10) : 0;
    if (!text || *end || id <= 0) {
        s_ctl_reply(self, identity, 2, "get: --window must be a window id", NULL);
        return;
    }
    window_t copy, *w = s_window(self, id);
    char error[256] = "", waiting[512] = "", waiting_json[1024] = "null";
    if (w) {
        /* open: why it is not progressing (or what it is doing) */
        proto_stage_t stage;
        stall_reason_t why = s_window_stall(self, w, &stage, waiting, sizeof waiting);
        char text[600];
        s_json_str(text, sizeof text, waiting);
        snprintf(waiting_json, sizeof waiting_json, "{\"reason\":\"%s\",\"stage\":%s%s%s,\"message\":%s}",
                 stall_reason_name(why), stage ? "\"" : "", stage ? proto_stage_name(stage) : "null",
                 stage ? "\"" : "", text);
    }
    else {
        int rc = store_window_get(self->store, id, &copy, error, sizeof error);
        if (rc != 0) {
            s_ctl_reply(self, identity, rc > 0 ? 2 : 3, rc > 0 ? "get: no such window" : "get: database error", NULL);
            return;
        }
        w = &copy;
        snprintf(waiting, sizeof waiting, "as the database records it (this broker does not hold it open)");
    }
    char message[1024], json[4096], err_json[600], bands[WINDOW_MAX_PARTS * 48], split[64] = "";
    s_json_str(err_json, sizeof err_json, error);
    window_bands_format(w, bands, sizeof bands);
    if (*bands)
        snprintf(split, sizeof split, ", split in %d price bands", window_bands_count(w));
    snprintf(json, sizeof json,
             "{\"window_id\":%" PRId64 ",\"catalog_id\":%d,\"kind\":\"%s\",\"state\":\"%s\",\"pages\":%d,"
             "\"items\":%d,\"requests\":%d,\"max_item_id\":%" PRId64 ",\"truncated\":%s,\"replay\":%s,\"error\":%s,"
             "\"bands\":\"%s\",\"waiting\":%s}",
             w->id, w->catalog_id, window_kind_name(w->kind), window_state_name(w->state),
             (w->kind == WINDOW_REPLAY) ? w->completed : w->pages_done, w->items, w->requests, w->max_item_id,
             w->truncated ? "true" : "false", (w->kind == WINDOW_REPLAY) ? "true" : "false", *error ? err_json : "null",
             bands, waiting_json);
    if (w->state == WINDOW_DONE && (w->kind == WINDOW_REPLAY))
        snprintf(message, sizeof message, "replay %" PRId64 " committed: %d pages, %d items", w->id,
                 w->pages_done, w->items);
    else if (w->state == WINDOW_DONE)
        snprintf(message, sizeof message, "window %" PRId64 " committed: catalog %d, %d pages, %d items, %d requests%s%s%s%s",
                 w->id, w->catalog_id, w->pages_done, w->items, w->requests, split,
                 w->truncated ? ", stopped at the 960-result cap" : "", *error ? "; " : "", error);
    else if (w->state == WINDOW_FAILED)
        snprintf(message, sizeof message, "window %" PRId64 " failed: %s", w->id, error);
    else if (w->kind == WINDOW_REPLAY)
        snprintf(message, sizeof message, "replay %" PRId64 " %s: %d of %d pages committed; %s", w->id,
                 window_state_name(w->state), w->completed, w->expected, waiting);
    else if (w->kind != WINDOW_CATALOG)
        snprintf(message, sizeof message, "window %" PRId64 " (%s) %s: %d of %d tasks done; %s", w->id,
                 window_kind_name(w->kind), window_state_name(w->state), w->completed, w->expected, waiting);
    else
        snprintf(message, sizeof message, "window %" PRId64 " %s: %d pages committed; %s", w->id,
                 window_state_name(w->state), w->pages_done, waiting);
    s_ctl_reply(self, identity, 0, message, json);
}

/* Per stage: the worker processes (distinct names; an s3-uploader connects once per
   thread of a stage) and the tasks in flight at them. */
static void s_count_workers(broker_t *self, int workers[PROTO_STAGES], int inflight[PROTO_STAGES])
{
    memset(workers, 0, PROTO_STAGES * sizeof *workers);
    memset(inflight, 0, PROTO_STAGES * sizeof *inflight);
    zhashx_t *seen = zhashx_new();
    for (peer_t *p = zhashx_first(self->peers); p; p = zhashx_next(self->peers)) {
        inflight[p->stage] += p->inflight;
        char key[320];
        snprintf(key, sizeof key, "%d %s", (int) p->stage, p->name ? p->name : "?");
        if (zhashx_insert(seen, key, p) == 0)
            workers[p->stage]++;
    }
    zhashx_destroy(&seen);
}

/* Status: the adaptive schedule's plan, per catalog (NULL with fixed windows). */
static char *s_schedule_json(broker_t *self)
{
    if (!self->schedule)
        return NULL;
    int n = schedule_size(self->schedule);
    size_t size = 256 + (size_t) n * 260, o = 0;
    char *json = malloc(size);
    if (!json)
        return NULL;
    double req, missed;
    schedule_totals(self->schedule, &req, &missed);
    int64_t now = clock_wall_ms();
    o += (size_t) snprintf(json + o, size - o,
                           "{\"mode\":\"adaptive\",\"budget_per_min\":%g,\"requests_per_h\":%.1f,"
                           "\"missed_per_h\":%.1f,\"catalogs\":[",
                           s_rate_total(self) * S_SCHEDULE_SHARE, req, missed);
    for (int i = 0; i < n; i++) {
        schedule_plan_t p;
        schedule_get(self->schedule, i, &p);
        int64_t due_in = p.due_ms > now ? p.due_ms - now : 0;
        o += (size_t) snprintf(json + o, size - o,
                               "%s{\"site\":\"%s\",\"catalog\":%d,\"weight\":%g,\"rate_per_h\":%.1f,\"interval_s\":%.0f,"
                               "\"requests_per_h\":%.2f,\"missed_per_h\":%.1f,\"short_of_budget\":%s,"
                               "\"due_in_s\":%.0f}",
                               i ? "," : "", self->cfg.sites[p.catalog], self->cfg.catalogs[p.catalog], p.weight, p.rate_per_h, (double) p.interval_ms / 1000.0,
                               p.requests_per_h, p.missed_per_h, p.short_of_budget ? "true" : "false",
                               (double) due_in / 1000.0);
    }
    snprintf(json + o, size - o, "]}");
    return json;
}

static void s_ctl_status(broker_t *self, zframe_t *identity)
{
    size_t size = 65536, o = 0;
    char *json = malloc(size);
    int64_t now = clock_mono_ms();
    o += (size_t) snprintf(json + o, size - o, "{\"workers\":[");
    bool first = true;
    int workers[PROTO_STAGES], inflight[PROTO_STAGES];
    s_count_workers(self, workers, inflight);
    for (peer_t *p = zhashx_first(self->peers); p; p = zhashx_next(self->peers)) {
        if (o + 16384 > size) /* room for the rest, stages and stalls included (under 12 KiB) */
            continue;
        char name[300];
        s_json_str(name, sizeof name, p->name);
        o += (size_t) snprintf(json + o, size - o,
                               "%s{\"name\":%s,\"stage\":\"%s\",\"capacity\":%d,\"inflight\":%d,\"done\":%" PRIu64
                               ",\"alive\":true,\"expires_in_ms\":%" PRId64 "}",
                               first ? "" : ",", name, proto_stage_name(p->stage), p->capacity, p->inflight, p->done,
                               p->expiry - now);
        first = false;
    }
    /* the egress identities: each one's tokens and block pause (labels carry no credentials) */
    o += (size_t) snprintf(json + o, size - o, "],\"identities\":[");
    for (int i = 0; i < budget_identities(self->budget) && o + 14000 < size; i++) {
        char label[PROXIES_URL_MAX + 8];
        s_json_str(label, sizeof label, self->cfg.proxies ? self->cfg.proxies->label[i] : "direct");
        o += (size_t) snprintf(json + o, size - o,
                               "%s{\"identity\":%d,\"proxy\":%s,\"requests\":%" PRId64 ",\"blocked_ms\":%" PRId64 "}",
                               i ? "," : "", i, label, budget_granted(self->budget, i),
                               budget_paused_ms(self->budget, i, now));
    }
    o += (size_t) snprintf(json + o, size - o, "],\"stages\":{");
    /* per stage, why what is queued there waits (a stage without workers, flow control, ...) */
    stall_pipeline_t pipe;
    s_pipeline(self, &pipe);
    char stalls[PROTO_STAGES][600];
    stall_reason_t why[PROTO_STAGES];
    for (int s = PROTO_STAGE_FETCH; s < PROTO_STAGES; s++) {
        char text[512];
        why[s] = s_stage_stall(self, &pipe, (proto_stage_t) s, text, sizeof text);
        if (why[s] == STALL_NONE)
            snprintf(stalls[s], sizeof stalls[s], "null");
        else
            s_json_str(stalls[s], sizeof stalls[s], text);
        o += (size_t) snprintf(json + o, size - o, "%s\"%s\":{\"workers\":%d,\"queued\":%zu,\"queued_bytes\":%zu,"
                               "\"queued_bytes_peak\":%zu,\"task_bytes_max\":%zu,\"inflight\":%d,\"done\":%" PRIu64
                               ",\"no_worker_ms\":%" PRId64 ",\"waiting\":%s}",
                               s == PROTO_STAGE_FETCH ? "" : ",", proto_stage_name((proto_stage_t) s), workers[s],
                               zlistx_size(self->queue[s]), self->queued_bytes[s], self->queued_peak[s],
                               self->task_max[s], inflight[s], self->results[s], pipe.no_worker_ms[s], stalls[s]);
    }
    o += (size_t) snprintf(json + o, size - o, "},\"stalls\":[");
    first = true;
    for (int s = PROTO_STAGE_FETCH; s < PROTO_STAGES; s++)
        if (why[s] != STALL_NONE) {
            o += (size_t) snprintf(json + o, size - o, "%s%s", first ? "" : ",", stalls[s]);
            first = false;
        }
    char paused[160], quoted[200];
    if (stall_paused(&pipe, paused, sizeof paused) == STALL_BLOCKED) {
        s_json_str(quoted, sizeof quoted, paused);
        o += (size_t) snprintf(json + o, size - o, "%s%s", first ? "" : ",", quoted);
    }
    int64_t counts[4], by_kind[WINDOW_KINDS][4];
    /* database down: the counts are unknown (null), and that is the error to show */
    if (store_window_counts(self->store, counts, by_kind) != 0) {
        for (int i = 0; i < 4; i++) {
            counts[i] = -1;
            for (int k = 0; k < WINDOW_KINDS; k++)
                by_kind[k][i] = -1;
        }
    }
    int64_t db_down_ms = store_down_ms(self->store);
    char err[600], down[160];
    snprintf(down, sizeof down, "the database does not answer (for %" PRId64 " s); work waits for it",
             db_down_ms / 1000);
    s_json_str(err, sizeof err, db_down_ms > 0 ? down : self->last_error);
    o += (size_t) snprintf(json + o, size - o,
                           "],\"windows_by_kind\":{");
    for (int k = WINDOW_CATALOG; k < WINDOW_KINDS; k++)
        o += (size_t) snprintf(json + o, size - o,
                               "%s\"%s\":{\"pending\":%" PRId64 ",\"running\":%" PRId64 ",\"done\":%" PRId64
                               ",\"failed\":%" PRId64 "}",
                               k ? "," : "", window_kind_name((window_kind_t) k), by_kind[k][0], by_kind[k][1],
                               by_kind[k][2], by_kind[k][3]);
    o += (size_t) snprintf(json + o, size - o,
                           "},\"windows\":{\"pending\":%" PRId64 ",\"running\":%" PRId64 ",\"done\":%" PRId64
                           ",\"failed\":%" PRId64 "},\"requests\":%" PRId64 ",\"rate_per_min\":%g,\"backoff_ms\":%" PRId64
                           ",\"token_waiters\":%zu,\"dispatched\":%" PRIu64 ",\"redelivered\":%" PRIu64
                           ",\"nacked\":%" PRIu64 ",\"invalid_frames\":%" PRIu64 ",\"refused_handshakes\":%" PRIu64
                           ",\"database_down_ms\":%" PRId64 ",\"last_error\":%s}",
                           counts[0], counts[1], counts[2], counts[3], budget_granted(self->budget, -1),
                           s_rate_total(self), budget_all_paused_ms(self->budget, now),
                           zlistx_size(self->token_waiters), self->dispatched, self->redelivered, self->nacked,
                           self->invalid_frames, self->refused, db_down_ms,
                           self->last_error[0] || db_down_ms > 0 ? err : "null");
    char *schedule = s_schedule_json(self);
    if (schedule && o + 2 < size) {
        /* "...}" + ",\"schedule\":{...}}" */
        size_t n = strlen(schedule);
        char *both = malloc(o + n + 32);
        if (both) {
            memcpy(both, json, o - 1);
            snprintf(both + o - 1, n + 32, ",\"schedule\":%s}", schedule);
            free(json);
            json = both;
        }
    }
    free(schedule);
    s_ctl_reply(self, identity, 0, "status", json);
    free(json);
}

static void s_on_control_message(broker_t *self)
{
    zmsg_t *zmsg = zmsg_recv(self->control);
    if (!zmsg)
        return;
    size_t frames = zmsg_size(zmsg);
    zframe_t *identity = zmsg_pop(zmsg);
    zframe_t *body = zmsg_pop(zmsg);
    if (identity && body) {
        char err[256];
        proto_msg_t *msg = NULL;
        if (frames != 2)
            snprintf(err, sizeof err, "%zu frames, expected one message frame", frames - 1);
        else
            msg = proto_decode(zframe_data(body), zframe_size(body), err, sizeof err);
        if (!msg || msg->cmd != PROTO_CTL_REQ || !msg->u.ctl_req.verb) {
            char why[300];
            snprintf(why, sizeof why, "malformed control request: %s", msg ? "not a CTL_REQ" : err);
            s_reject(self, "control", identity, zframe_size(body) + zmsg_content_size(zmsg), why);
            s_ctl_reply(self, identity, 2, why, NULL);
        }
        else if (strcmp(msg->u.ctl_req.verb, "window") == 0)
            s_ctl_window(self, identity, &msg->u.ctl_req);
        else if (strcmp(msg->u.ctl_req.verb, "track") == 0)
            s_ctl_started(self, identity, s_track_now(self), "track", "tracking run");
        else if (strcmp(msg->u.ctl_req.verb, "refresh-catalogs") == 0)
            s_ctl_started(self, identity, s_catalogs_now(self), "refresh-catalogs", "catalog tree refresh");
        else if (strcmp(msg->u.ctl_req.verb, "replay") == 0)
            s_ctl_replay(self, identity, &msg->u.ctl_req);
        else if (strcmp(msg->u.ctl_req.verb, "get") == 0)
            s_ctl_get(self, identity, &msg->u.ctl_req);
        else if (strcmp(msg->u.ctl_req.verb, "status") == 0)
            s_ctl_status(self, identity);
        else {
            char why[300];
            snprintf(why, sizeof why, "unknown control verb '%.200s'", msg->u.ctl_req.verb);
            s_ctl_reply(self, identity, 2, why, NULL);
        }
        proto_msg_destroy(&msg);
    }
    zframe_destroy(&identity);
    zframe_destroy(&body);
    zmsg_destroy(&zmsg);
}

/* ------------------------------------------------------------- metrics */

static void s_metrics_init(broker_t *self)
{
    metrics_t *m = self->cfg.metrics;
    broker_metrics_t *bm = &self->metrics;
    if (!m)
        return;
    metrics_family_t *workers = metrics_family(m, METRICS_GAUGE, "vinted_broker_workers",
        "Live worker processes per stage (a worker silent past the heartbeat liveness is dropped)", "stage", NULL, 0);
    metrics_family_t *queued = metrics_family(m, METRICS_GAUGE, "vinted_broker_queued_tasks",
        "Tasks waiting for a worker, per stage", "stage", NULL, 0);
    metrics_family_t *queued_bytes = metrics_family(m, METRICS_GAUGE, "vinted_broker_queued_bytes",
        "Bytes of tasks waiting for a worker, per stage (flow control holds what feeds a stage past VINTED_MAX_QUEUED)",
        "stage", NULL, 0);
    metrics_family_t *inflight = metrics_family(m, METRICS_GAUGE, "vinted_broker_inflight_tasks",
        "Tasks dispatched and not yet answered, per stage", "stage", NULL, 0);
    metrics_family_t *completed = metrics_family(m, METRICS_COUNTER, "vinted_broker_tasks_completed_total",
        "Tasks answered with a result, per stage", "stage", NULL, 0);
    for (int s = PROTO_STAGE_FETCH; s < PROTO_STAGES; s++) {
        const char *name = proto_stage_name((proto_stage_t) s);
        bm->workers[s] = metrics_series(workers, name);
        bm->queued[s] = metrics_series(queued, name);
        bm->queued_bytes[s] = metrics_series(queued_bytes, name);
        bm->inflight[s] = metrics_series(inflight, name);
        bm->completed[s] = metrics_series(completed, name);
    }
    bm->dispatched = metrics_counter(m, "vinted_broker_tasks_dispatched_total", "Task dispatches to workers, redeliveries included");
    bm->redelivered = metrics_counter(m, "vinted_broker_tasks_redelivered_total",
        "Tasks put back in the queue (worker lost, deadline passed, or refused and retried)");
    bm->nacked = metrics_counter(m, "vinted_broker_tasks_nacked_total", "Tasks refused by a worker (NACK)");
    bm->held = metrics_counter(m, "vinted_broker_flow_held_total",
        "Dispatch passes that held a stage's tasks back because a stage they feed had VINTED_MAX_QUEUED waiting");
    bm->invalid_frames = metrics_counter(m, "vinted_broker_invalid_frames_total", "Malformed messages from workers, rejected");
    bm->refused = metrics_counter(m, "vinted_broker_refused_handshakes_total",
        "Peers refused at the CURVE handshake (key not in the allow-list, or no CURVE)");
    bm->tokens = metrics_counter(m, "vinted_broker_tokens_granted_total", "Request tokens granted to fetchers (requests to Vinted)");
    bm->token_waiters = metrics_gauge(m, "vinted_broker_token_waiters", "Fetchers waiting for a request token");
    bm->backoff = metrics_gauge(m, "vinted_broker_backoff_seconds", "Seconds left of the pause of all fetching after a 403 block");
    bm->rate = metrics_gauge(m, "vinted_broker_rate_per_minute", "Request budget: most requests per minute to Vinted");
    bm->open_windows = metrics_gauge(m, "vinted_broker_open_windows", "Windows the broker holds open (pending or running)");
    metrics_family_t *windows = metrics_family(m, METRICS_GAUGE, "vinted_broker_windows",
        "Windows in the database by kind and state (refreshed every few seconds)", "kind,state", NULL, 0);
    for (int k = WINDOW_CATALOG; k < WINDOW_KINDS; k++)
        for (int st = WINDOW_PENDING; st <= WINDOW_FAILED; st++)
            bm->windows[k][st] = metrics_series(windows, window_kind_name((window_kind_t) k),
                                                window_state_name((window_state_t) st));
    bm->batch_commit = metrics_series(metrics_family(m, METRICS_HISTOGRAM, "vinted_broker_batch_commit_seconds",
        "From a batch dispatched to a sink to its COMMIT, as the broker sees it", NULL,
        metrics_latency_buckets, metrics_latency_buckets_n));
}

/* Mirror the broker's state into the registry: every 200 ms, and the windows
   table (one query) every 5 s. */
static void s_metrics_publish(broker_t *self)
{
    broker_metrics_t *bm = &self->metrics;
    int64_t now = clock_mono_ms();
    if (!self->cfg.metrics || now < bm->next_publish)
        return;
    bm->next_publish = now + 200;
    int workers[PROTO_STAGES], inflight[PROTO_STAGES];
    s_count_workers(self, workers, inflight);
    for (int s = PROTO_STAGE_FETCH; s < PROTO_STAGES; s++) {
        metrics_set(bm->workers[s], workers[s]);
        metrics_set(bm->inflight[s], inflight[s]);
        metrics_set(bm->queued[s], (double) zlistx_size(self->queue[s]));
        metrics_set(bm->queued_bytes[s], (double) self->queued_bytes[s]);
        metrics_set(bm->completed[s], (double) self->results[s]);
    }
    metrics_set(bm->dispatched, (double) self->dispatched);
    metrics_set(bm->redelivered, (double) self->redelivered);
    metrics_set(bm->nacked, (double) self->nacked);
    metrics_set(bm->held, (double) self->held);
    metrics_set(bm->invalid_frames, (double) self->invalid_frames);
    metrics_set(bm->refused, (double) self->refused);
    metrics_set(bm->tokens, (double) budget_granted(self->budget, -1));
    metrics_set(bm->token_waiters, (double) zlistx_size(self->token_waiters));
    metrics_set(bm->backoff, (double) budget_all_paused_ms(self->budget, now) / 1000.0);
    metrics_set(bm->rate, s_rate_total(self));
    metrics_set(bm->open_windows, (double) zhashx_size(self->windows));
    if (now >= bm->next_windows) {
        bm->next_windows = now + 5000;
        int64_t counts[4] = { 0 }, by_kind[WINDOW_KINDS][4] = { { 0 } };
        if (store_window_counts(self->store, counts, by_kind) == 0)
            for (int k = 0; k < WINDOW_KINDS; k++)
                for (int st = 0; st < 4; st++)
                    metrics_set(bm->windows[k][st], (double) by_kind[k][st]);
    }
}

/* ---------------------------------------------------------------- life */

broker_t *broker_new(const broker_config_t *config)
{
    broker_t *self = calloc(1, sizeof *self);
    assert(self);
    self->cfg = *config;
    self->store = store_new(config->pg, 60000);
    if (!self->store) {
        char shown[512];
        log_error("cannot open the database", "pg=%s",
                  log_str(pgconf_shown(config->pg, shown, sizeof shown)));
        broker_destroy(&self);
        return NULL;
    }
    char err[512];
    self->objects = objstore_new(config->store, err, sizeof err);
    if (!self->objects) {
        log_error("cannot open the object store", "store=%s error=%s", log_str(config->store), log_str(err));
        broker_destroy(&self);
        return NULL;
    }
    self->workers = zsock_new(ZMQ_ROUTER);
    self->control = zsock_new(ZMQ_ROUTER);
    zsock_set_router_mandatory(self->workers, 0);
    zsock_set_sndhwm(self->workers, 100000);
    zsock_set_rcvhwm(self->workers, 100000);
    zsock_set_maxmsgsize(self->workers, (int) (config->max_message > 0 ? config->max_message : 64 << 20));
    zsock_set_maxmsgsize(self->control, BROKER_CONTROL_MAX_MESSAGE);
    if (curve_apply(config->curve, self->workers) != 0 || curve_apply(config->curve, self->control) != 0) {
        log_error("cannot make the broker sockets CURVE servers", NULL);
        broker_destroy(&self);
        return NULL;
    }
    if (config->curve) {
        /* ZeroMQ refuses an unlisted key silently: watch the handshakes to say so */
        self->watch[0] = curve_watch_new(self->workers);
        self->watch[1] = curve_watch_new(self->control);
    }
    /* task ids never repeat across restarts: a late answer to a task of an
       earlier broker run cannot be taken for one of this run */
    self->next_task_id = (uint64_t) clock_wall_ms() * 1000;
    if (zsock_bind(self->workers, "%s", config->endpoint) < 0) {
        log_error("cannot bind the worker endpoint", "endpoint=%s error=%s", log_str(config->endpoint),
                  log_str(zmq_strerror(zmq_errno())));
        broker_destroy(&self);
        return NULL;
    }
    if (zsock_bind(self->control, "%s", config->control) < 0) {
        log_error("cannot bind the control endpoint", "endpoint=%s error=%s", log_str(config->control),
                  log_str(zmq_strerror(zmq_errno())));
        broker_destroy(&self);
        return NULL;
    }
    self->peers = zhashx_new();
    zhashx_set_destructor(self->peers, s_peer_free);
    self->tasks = zhashx_new();
    zhashx_set_destructor(self->tasks, s_task_destructor);
    self->windows = zhashx_new();
    zhashx_set_destructor(self->windows, s_window_destructor);
    self->bands = zhashx_new();
    zhashx_set_destructor(self->bands, (zhashx_destructor_fn *) zstr_free);
    for (int s = 0; s < PROTO_STAGES; s++)
        self->queue[s] = zlistx_new();
    self->token_waiters = zlistx_new();
    zlistx_set_destructor(self->token_waiters, (zlistx_destructor_fn *) zstr_free);
    self->budget = budget_new(config->proxies ? config->proxies->n : 1, config->rate_per_min,
                              config->rate_total_per_min, clock_mono_ms());
    assert(self->budget);
    for (int s = 0; s < PROTO_STAGES; s++)
        self->stage_seen[s] = clock_mono_ms();
    s_metrics_init(self);
    if (s_schedule_setup(self) != 0) {
        log_error("cannot set up the adaptive schedule (database error or out of memory)", NULL);
        broker_destroy(&self);
        return NULL;
    }
    if (store_claim_site(self->store, config->default_site) != 0)
        log_warn("cannot give windows and marks from before sites to the default site", "site=%s",
                 config->default_site);
    store_windows_open(self->store, s_window_loaded, self);
    s_start_windows(self);
    log_info("broker started",
             "workers=%s control=%s catalogs=%d window_ms=%" PRId64 " rate_per_min=%g curve=%s public_key=%s"
             " allowed_clients=%d",
             log_str(config->endpoint), log_str(config->control), config->n_catalogs, config->window_ms,
             config->rate_per_min, config->curve ? "on" : "off", log_str(curve_public_short(config->curve)),
             curve_clients(config->curve));
    return self;
}

void broker_destroy(broker_t **self_p)
{
    broker_t *self = *self_p;
    if (!self)
        return;
    zhashx_destroy(&self->windows);
    zhashx_destroy(&self->bands);
    schedule_destroy(&self->schedule);
    free(self->poll_end_s);
    free(self->poll_not_before);
    for (int s = 0; s < PROTO_STAGES; s++)
        zlistx_destroy(&self->queue[s]);
    zhashx_destroy(&self->tasks);
    zhashx_destroy(&self->peers);
    zlistx_destroy(&self->token_waiters);
    budget_destroy(&self->budget);
    curve_watch_destroy(&self->watch[0]);
    curve_watch_destroy(&self->watch[1]);
    zsock_destroy(&self->workers);
    zsock_destroy(&self->control);
    store_destroy(&self->store);
    objstore_destroy(&self->objects);
    free(self);
    *self_p = NULL;
}

/* A peer's CURVE handshake was refused: said once per event, counted. */
static void s_on_handshakes(broker_t *self, int which)
{
    char why[256] = "";
    int n = curve_watch_failures(self->watch[which], why, sizeof why, NULL);
    if (n > 0) {
        self->refused += (uint64_t) n;
        log_warn("peer refused at the CURVE handshake", "socket=%s refused=%d total=%" PRIu64 " detail=%s",
                 which ? "control" : "workers", n, self->refused, log_str(why));
    }
}

int broker_run(broker_t *self)
{
    zmq_pollitem_t items[4] = {
        { zsock_resolve(self->workers), 0, ZMQ_POLLIN, 0 },
        { zsock_resolve(self->control), 0, ZMQ_POLLIN, 0 },
    };
    int n_items = 2;
    for (int i = 0; i < 2; i++)
        if (self->watch[i])
            items[n_items++] = (zmq_pollitem_t) { zsock_resolve(curve_watch_sock(self->watch[i])), 0, ZMQ_POLLIN, 0 };
    while (!zsys_interrupted) {
        long timeout = 100;
        if (zlistx_size(self->token_waiters) > 0) {
            int64_t wait = budget_wait_ms(self->budget, clock_mono_ms());
            if (wait < timeout)
                timeout = (long) wait;
        }
        int rc = zmq_poll(items, n_items, timeout);
        if (rc < 0 && zmq_errno() != EINTR)
            break;
        for (int n = 0; n < 1000 && (zsock_events(self->workers) & ZMQ_POLLIN); n++)
            s_on_worker_message(self);
        for (int n = 0; n < 100 && (zsock_events(self->control) & ZMQ_POLLIN); n++)
            s_on_control_message(self);
        for (int i = 0; i < 2; i++)
            if (self->watch[i])
                s_on_handshakes(self, i);
        s_schedule(self);
        s_sweep(self);
        s_grant_tokens(self);
        s_dispatch(self);
        s_metrics_publish(self);
    }
    log_info("broker stopping", "open_windows=%zu tasks=%zu", zhashx_size(self->windows), zhashx_size(self->tasks));
    return 0;
}
