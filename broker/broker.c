/*  broker.c - windows in, tasks out: the broker's event loop and dispatch.

    A window's journey (the tables s_commands and s_routes below say where
    each message goes; s_on_result follows a RESULT):
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
#include "broker/broker_internal.h"

#include "common/clock.h"
#include "common/config.h"
#include "common/log.h"
#include "common/pgconf.h"

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

/* ------------------------------------------------------------- dispatch */

/* Where a worker's message goes: the two tables below are the whole of it.
   s_commands: a registered worker's command to its handler (READY and the
   messages of unregistered peers are dealt with in s_on_worker_message).
   s_routes: a RESULT, by the body of the task it answers and the body it
   carries (and, where it matters, the kind of window), to what it becomes next.
   A catalog page's journey: s_on_fetched -> s_on_transformed -> s_on_committed,
   with s_on_stored for its copy in the raw landing area. */

static void s_on_result(broker_t *self, peer_t *peer, proto_msg_t *msg);
static void s_on_nack(broker_t *self, peer_t *peer, proto_msg_t *msg);
static void s_on_token_req(broker_t *self, peer_t *peer, proto_msg_t *msg);
static void s_on_report(broker_t *self, peer_t *peer, proto_msg_t *msg);
static void s_on_disconnect(broker_t *self, peer_t *peer, proto_msg_t *msg);

typedef struct {
    proto_cmd_t cmd;
    void (*handle)(broker_t *self, peer_t *peer, proto_msg_t *msg); /* NULL: nothing to do */
} s_command_t;

static const s_command_t s_commands[] = {
    { PROTO_HEARTBEAT, NULL },             /* liveness only (renewed by every message) */
    { PROTO_RESULT, s_on_result },         /* a task done: routed by s_routes */
    { PROTO_NACK, s_on_nack },             /* a task refused: again later, or its window fails */
    { PROTO_TOKEN_REQ, s_on_token_req },   /* a fetcher waits for a request token */
    { PROTO_REPORT, s_on_report },         /* a fetcher was blocked: its identity pauses */
    { PROTO_DISCONNECT, s_on_disconnect }, /* a worker leaves: its tasks go back to the queue */
};

static void s_on_fetched(broker_t *self, window_t *w, proto_msg_t *msg);
static void s_on_transformed(broker_t *self, window_t *w, proto_msg_t *msg);
static void s_on_loaded(broker_t *self, window_t *w, proto_msg_t *msg);
static void s_on_committed(broker_t *self, window_t *w, proto_msg_t *msg);
static void s_on_stored(broker_t *self, window_t *w, proto_msg_t *msg);

#define S_KIND(k) (1u << (k))

typedef struct {
    proto_body_t sent;   /* what the TASK carried */
    proto_body_t got;    /* what its RESULT carries */
    unsigned kinds;      /* the kinds of window the row is for (S_KIND bits), 0: any */
    void (*handle)(broker_t *self, window_t *w, proto_msg_t *msg);
} s_route_t;

/* The first row that matches routes the result; none: its window fails. */
static const s_route_t s_routes[] = {
    /* fetcher: a tracking or catalog tree page: transform and land it (broker/flows.c) */
    { PROTO_BODY_FETCH, PROTO_BODY_PAGE, S_KIND(WINDOW_TRACKING) | S_KIND(WINDOW_CATALOGS), broker_on_tracked },
    /* fetcher: a catalog page: to a transformer and the raw area, and the next page */
    { PROTO_BODY_FETCH, PROTO_BODY_PAGE, 0, s_on_fetched },
    /* transformer: a batch, to a sink */
    { PROTO_BODY_PAGE, PROTO_BODY_BATCH, 0, s_on_transformed },
    /* sink: the batch committed */
    { PROTO_BODY_BATCH, PROTO_BODY_COMMIT, 0, s_on_committed },
    /* store stage: the raw page landed */
    { PROTO_BODY_PAGE, PROTO_BODY_STORED, 0, s_on_stored },
    /* store stage: a replayed page loaded from the raw area, to a transformer */
    { PROTO_BODY_LOAD, PROTO_BODY_PAGE, S_KIND(WINDOW_REPLAY), s_on_loaded },
    /* photo stage: a photo in the object store, to a sink for its row (broker/flows.c) */
    { PROTO_BODY_IMAGE, PROTO_BODY_PHOTO, 0, broker_on_photo_stored },
    /* sink: the photo's row committed */
    { PROTO_BODY_PHOTO, PROTO_BODY_COMMIT, 0, s_on_committed },
};

static const s_command_t *s_command(proto_cmd_t cmd)
{
    for (size_t i = 0; i < sizeof s_commands / sizeof s_commands[0]; i++)
        if (s_commands[i].cmd == cmd)
            return &s_commands[i];
    return NULL;
}

static const s_route_t *s_route(proto_body_t sent, proto_body_t got, window_kind_t kind)
{
    for (size_t i = 0; i < sizeof s_routes / sizeof s_routes[0]; i++) {
        const s_route_t *r = &s_routes[i];
        if (r->sent == sent && r->got == got && (r->kinds == 0 || (r->kinds & S_KIND(kind))))
            return r;
    }
    return NULL;
}

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
    broker_task_new(self, PROTO_STAGE_TRANSFORM, w->id, page->page, msg);
    broker_task_new(self, PROTO_STAGE_STORE, w->id, page->page, msg);
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
        broker_fetch_parts(self, w);
        return;
    }
    if (page->more && api_page < WINDOW_MAX_PAGES) {
        p->next_page = api_page + 1;
        broker_fetch_page(self, w, part, p->next_page);
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
        broker_fetch_page(self, w, before, 1);
        broker_fetch_page(self, w, before + 1, 1);
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
    broker_task_new(self, PROTO_STAGE_SINK, w->id, msg->u.batch.page, msg);
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
    broker_task_new(self, PROTO_STAGE_TRANSFORM, w->id, page->page, msg);
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
        broker_window_done(self, w);
    else
        store_window_progress(self->store, w);
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
        broker_queue_remove(self, task);
    task->peer = NULL;
    peer->done++;
    self->results[task->stage]++;
    proto_body_t sent = task->body;
    int64_t window_id = task->window_id;
    if (sent == PROTO_BODY_BATCH && msg->body == PROTO_BODY_COMMIT)
        metrics_observe(self->metrics.batch_commit, (double) (clock_mono_ms() - task->dispatched_at) / 1000.0);
    zhashx_delete(self->tasks, key);

    window_t *w = broker_window(self, window_id);
    if (!w || w->state != WINDOW_RUNNING)
        return;
    w->outstanding--;
    /* the routing table (s_routes): what the task's result becomes */
    const s_route_t *route = s_route(sent, msg->body, w->kind);
    if (!route) {
        broker_window_failed(self, w, "a worker answered with the wrong kind of result");
        return;
    }
    route->handle(self, w, msg);
    w = broker_window(self, window_id); /* routing may have closed it */
    if (w && w->state == WINDOW_RUNNING && w->kind != WINDOW_CATALOG && w->outstanding == 0)
        broker_counted_idle(self, w);
}

/* The photo stage refused a photo for good (the CDN said 404, 410 or another 4xx):
   the photo is marked gone at its URL, so that no later window asks for it again. */
static void s_photo_gone(broker_t *self, const task_t *task, const char *reason)
{
    char err[256];
    proto_msg_t *image = proto_decode(task->data, task->size, err, sizeof err);
    if (image && image->body == PROTO_BODY_IMAGE && image->u.image.url) {
        const proto_image_t *im = &image->u.image;
        if (store_photo_gone(self->store, im->item_id, im->photo_id, im->url, reason) == 0)
            log_info("photo marked gone", "item=%" PRId64 " photo=%" PRId64 " reason=%s", im->item_id,
                     im->photo_id, log_str(reason));
    }
    proto_msg_destroy(&image);
}

static void s_on_nack(broker_t *self, peer_t *peer, proto_msg_t *msg)
{
    char key[24];
    snprintf(key, sizeof key, "%" PRIu64, msg->task_id);
    task_t *task = zhashx_lookup(self->tasks, key);
    if (!task || task->peer != peer)
        return;
    window_t *w = broker_window(self, task->window_id);
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
        if (w->kind == WINDOW_IMAGES && msg->u.nack.permanent)
            s_photo_gone(self, task, reason);
        task->peer->inflight--;
        task->peer = NULL;
        zhashx_delete(self->tasks, key);
        if (w->kind == WINDOW_TRACKING || w->kind == WINDOW_IMAGES || w->kind == WINDOW_CATALOGS) {
            /* one seller or one photo that cannot be had does not sink the run: count it and go on */
            w->outstanding--;
            w->failures++;
            if (w->outstanding == 0)
                broker_counted_idle(self, w);
            return;
        }
        broker_window_failed(self, w, reason);
        return;
    }
    int64_t delay = msg->u.nack.retry_after_ms != PROTO_NULL ? msg->u.nack.retry_after_ms : 1000;
    broker_requeue(self, task, delay);
}

static void s_on_token_req(broker_t *self, peer_t *peer, proto_msg_t *msg)
{
    (void) msg;
    zlistx_add_end(self->token_waiters, strdup(peer->key));
}

static void s_on_disconnect(broker_t *self, peer_t *peer, proto_msg_t *msg)
{
    (void) msg;
    broker_peer_remove(self, peer, "worker said goodbye");
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
        broker_reject(self, "worker", identity, zmsg_content_size(zmsg) + (body ? zframe_size(body) : 0), why);
        goto done;
    }
    char err[256];
    proto_msg_t *msg = proto_decode(zframe_data(body), zframe_size(body), err, sizeof err);
    if (!msg) {
        broker_reject(self, "worker", identity, zframe_size(body), err);
        goto done;
    }
    char *hex = zframe_strhex(identity);
    peer_t *peer = zhashx_lookup(self->peers, hex);
    const char *refused = peer && msg->cmd != PROTO_READY ? s_not_allowed(self, peer, msg) : NULL;
    if (refused) {
        broker_reject(self, "worker", identity, zframe_size(body), refused);
        peer->expiry = clock_mono_ms() + PROTO_LIVENESS_MS;
        free(hex);
        proto_msg_destroy(&msg);
        goto done;
    }
    if (msg->cmd == PROTO_READY) {
        if (peer)
            broker_peer_remove(self, peer, "announced itself again");
        if (msg->u.ready.stage <= PROTO_STAGE_NONE || msg->u.ready.stage >= PROTO_STAGES) {
            char why[64];
            snprintf(why, sizeof why, "READY with an unknown stage %d", (int) msg->u.ready.stage);
            broker_reject(self, "worker", identity, zframe_size(body), why);
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
            broker_send_cmd(self, &tmp, PROTO_DISCONNECT);
    }
    else {
        peer->expiry = clock_mono_ms() + PROTO_LIVENESS_MS;
        const s_command_t *command = s_command(msg->cmd);
        if (command && command->handle)
            command->handle(self, peer, msg);
        else if (!command) {
            char why[64];
            snprintf(why, sizeof why, "%s is not a command a worker sends", proto_cmd_name(msg->cmd));
            broker_reject(self, "worker", identity, zframe_size(body), why);
        }
    }
    free(hex);
    proto_msg_destroy(&msg);
done:
    zframe_destroy(&identity);
    zframe_destroy(&body);
    zmsg_destroy(&zmsg);
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
    zhashx_set_destructor(self->peers, broker_peer_free);
    self->tasks = zhashx_new();
    zhashx_set_destructor(self->tasks, broker_task_destructor);
    self->windows = zhashx_new();
    zhashx_set_destructor(self->windows, broker_window_destructor);
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
    broker_metrics_init(self);
    if (broker_schedule_setup(self) != 0) {
        log_error("cannot set up the adaptive schedule (database error or out of memory)", NULL);
        broker_destroy(&self);
        return NULL;
    }
    if (store_claim_site(self->store, config->default_site) != 0)
        log_warn("cannot give windows and marks from before sites to the default site", "site=%s",
                 config->default_site);
    store_windows_open(self->store, broker_window_loaded, self);
    broker_start_windows(self);
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

/* A peer's CURVE handshake was refused: said once per refusal, with its own reason,
   and counted. A connection closed mid-handshake is not a refusal (ZeroMQ retries). */
static void s_on_handshakes(broker_t *self, int which)
{
    char why[256];
    int kind;
    while ((kind = curve_watch_next(self->watch[which], why, sizeof why)) != CURVE_EVENT_NONE) {
        if (kind != CURVE_EVENT_REFUSED)
            continue;
        self->refused++;
        log_warn("peer refused at the CURVE handshake", "socket=%s total=%" PRIu64 " detail=%s",
                 which ? "control" : "workers", self->refused, log_str(why));
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
            broker_on_control_message(self);
        for (int i = 0; i < 2; i++)
            if (self->watch[i])
                s_on_handshakes(self, i);
        broker_schedule(self);
        broker_sweep(self);
        broker_grant_tokens(self);
        broker_dispatch(self);
        broker_metrics_publish(self);
    }
    log_info("broker stopping", "open_windows=%zu tasks=%zu", zhashx_size(self->windows), zhashx_size(self->tasks));
    return 0;
}
