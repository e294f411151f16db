/*  control.c - the control socket: vinted-ctl's requests, one handler per verb
    (the table s_verbs: window, replay, track, refresh-catalogs, get, status), each
    answered with a status, a message and a JSON document.
*/
#include "broker/broker_internal.h"

#include "common/clock.h"
#include "common/config.h"
#include "common/log.h"

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
    int64_t id = broker_create_window(self, site, (int32_t) cat, from_s, to_s, "adhoc");
    if (id <= 0) {
        s_ctl_reply(self, identity, 3, "window: the broker could not record the window (database error)", NULL);
        return;
    }
    char message[128], json[160];
    snprintf(message, sizeof message, "window %" PRId64 " queued for catalog %ld of %s", id, cat, site);
    snprintf(json, sizeof json, "{\"window_id\":%" PRId64 ",\"site\":\"%s\",\"catalog_id\":%ld,\"state\":\"pending\"}",
             id, site, cat);
    s_ctl_reply(self, identity, 0, message, json);
    broker_start_windows(self);
}

/* "replay": feed the raw pages fetched in [from, to) back through transformer and sink
   (broker_replay_start, broker/flows.c). */
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
    char err[512] = "";
    window_t *w = broker_replay_start(self, flow, from_s, to_s, err, sizeof err);
    if (!w) {
        s_ctl_reply(self, identity, 3, "replay: the broker could not record the replay (database error)", NULL);
        return;
    }
    int64_t id = w->id;
    char message[700], json[160];
    if (*err) {
        snprintf(message, sizeof message, "replay: cannot list the raw area: %s", err);
        broker_window_failed(self, w, message);
        s_ctl_reply(self, identity, 3, message, NULL);
        return;
    }
    snprintf(message, sizeof message, "replay %" PRId64 " queued: %d raw pages", id, w->expected);
    snprintf(json, sizeof json, "{\"window_id\":%" PRId64 ",\"state\":\"running\",\"pages\":%d}", id, w->expected);
    log_info("replay started", "window=%" PRId64 " flow=%s pages=%d", id, flow, w->expected);
    s_ctl_reply(self, identity, 0, message, json);
    if (w->expected == 0)
        broker_window_done(self, w);
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
    window_t copy, *w = broker_window(self, id);
    char error[256] = "", waiting[512] = "", waiting_json[1024] = "null";
    if (w) {
        /* open: why it is not progressing (or what it is doing) */
        proto_stage_t stage;
        stall_reason_t why = broker_window_stall(self, w, &stage, waiting, sizeof waiting);
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

static void s_ctl_status(broker_t *self, zframe_t *identity, proto_ctl_req_t *req)
{
    (void) req;
    size_t size = 65536, o = 0;
    char *json = malloc(size);
    int64_t now = clock_mono_ms();
    o += (size_t) snprintf(json + o, size - o, "{\"workers\":[");
    bool first = true;
    int workers[PROTO_STAGES], inflight[PROTO_STAGES];
    broker_count_workers(self, workers, inflight);
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
    broker_pipeline(self, &pipe);
    char stalls[PROTO_STAGES][600];
    stall_reason_t why[PROTO_STAGES];
    for (int s = PROTO_STAGE_FETCH; s < PROTO_STAGES; s++) {
        char text[512];
        why[s] = broker_stage_stall(self, &pipe, (proto_stage_t) s, text, sizeof text);
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
                           broker_rate_total(self), budget_all_paused_ms(self->budget, now),
                           zlistx_size(self->token_waiters), self->dispatched, self->redelivered, self->nacked,
                           self->invalid_frames, self->refused, db_down_ms,
                           self->last_error[0] || db_down_ms > 0 ? err : "null");
    char *schedule = broker_schedule_json(self);
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

/* "track": a tracking run now. */
static void s_ctl_track(broker_t *self, zframe_t *identity, proto_ctl_req_t *req)
{
    (void) req;
    s_ctl_started(self, identity, broker_track_now(self), "track", "tracking run");
}

/* "refresh-catalogs": a refresh of the catalog tree now. */
static void s_ctl_refresh_catalogs(broker_t *self, zframe_t *identity, proto_ctl_req_t *req)
{
    (void) req;
    s_ctl_started(self, identity, broker_catalogs_now(self), "refresh-catalogs", "catalog tree refresh");
}

/* The verbs: where each control request goes (ctl/ sends them). */
typedef struct {
    const char *name;
    void (*handle)(broker_t *self, zframe_t *identity, proto_ctl_req_t *req);
} s_verb_t;

static const s_verb_t s_verbs[] = {
    { "window", s_ctl_window },                     /* an ad-hoc window of one catalog */
    { "track", s_ctl_track },                       /* a tracking run now */
    { "refresh-catalogs", s_ctl_refresh_catalogs }, /* the catalog tree now */
    { "replay", s_ctl_replay },                     /* the raw area back through transform and sink */
    { "get", s_ctl_get },                           /* one window's state */
    { "status", s_ctl_status },                     /* workers, stages, stalls, windows, schedule */
};

/* The verb called name, or NULL. */
static const s_verb_t *s_verb(const char *name)
{
    for (size_t i = 0; i < sizeof s_verbs / sizeof s_verbs[0]; i++)
        if (strcmp(s_verbs[i].name, name) == 0)
            return &s_verbs[i];
    return NULL;
}

void broker_on_control_message(broker_t *self)
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
        const s_verb_t *verb;
        if (frames != 2)
            snprintf(err, sizeof err, "%zu frames, expected one message frame", frames - 1);
        else
            msg = proto_decode(zframe_data(body), zframe_size(body), err, sizeof err);
        if (!msg || msg->cmd != PROTO_CTL_REQ || !msg->u.ctl_req.verb) {
            char why[300];
            snprintf(why, sizeof why, "malformed control request: %s", msg ? "not a CTL_REQ" : err);
            broker_reject(self, "control", identity, zframe_size(body) + zmsg_content_size(zmsg), why);
            s_ctl_reply(self, identity, 2, why, NULL);
        }
        else if ((verb = s_verb(msg->u.ctl_req.verb)) != NULL)
            verb->handle(self, identity, &msg->u.ctl_req);
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
