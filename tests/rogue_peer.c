/*  vinted-rogue-peer - a hostile peer for the broker's bad-input test
    (tests/e2e/test_badinput.py). It connects to the worker endpoint and the
    control endpoint like a worker and a vinted-ctl would, and for --seconds
    sends, round after round:

      worker socket: random garbage frames, empty frames, messages of many
        frames, valid msgpack of another protocol version, an unknown command,
        a header with a truncated body, trailing bytes, READY with a bogus stage;
        then, registered as a sink: RESULTs and NACKs for task ids it never got,
        a REPORT and a TOKEN_REQ it may not send, a CTL_REQ on the wrong socket,
        and DISCONNECT (so the broker never hands it real work);
        every --oversized-every rounds, one frame of --oversized-mb MiB;
      control socket: the same garbage, CTL_REQs with unknown verbs, hostile
        and malformed arguments, one argument too many, and a frame over the
        control socket's 1 MiB limit;

    It first sends one frame of each kind and waits a second (the broker logs
    the first 50 rejections of every second and counts the rest, so each kind
    shows in its log), then floods. It checks on the way that the broker
    answers the control frames it can read with status 2, and a real `status`
    request with status 0. At the end
    it prints one logfmt line per kind of frame sent and a summary:
        rogue sent kind=garbage frames=1234
        rogue summary rounds=... control_replies=... bad_request_replies=...
              status_ok=... worker_disconnects=... broker_alive=1
    Exit status 0 if the broker was alive and answering at the end, 1 if not,
    2 for bad arguments.
*/
#include <czmq.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/config.h"
#include "proto/proto.h"

#define ROGUE_PROGRAM "vinted-rogue-peer"

enum {
    K_GARBAGE,
    K_EMPTY,
    K_MULTI,
    K_VERSION,
    K_UNKNOWN_CMD,
    K_TRUNCATED,
    K_TRAILING,
    K_BAD_STAGE,
    K_FOREIGN_RESULT,
    K_FOREIGN_NACK,
    K_NOT_ALLOWED,
    K_OVERSIZED,
    K_CTL_GARBAGE,
    K_CTL_BAD,
    K_KINDS
};
static const char *const s_kind_names[K_KINDS] = {
    "garbage",     "empty",          "many_frames",     "wrong_version",      "unknown_command",
    "truncated",   "trailing_bytes", "bogus_stage",     "foreign_result",     "foreign_nack",
    "not_allowed", "oversized",      "control_garbage", "control_bad_request"};

typedef struct {
    zsock_t *worker;
    zsock_t *control;
    zactor_t *monitor;
    uint64_t rng;
    uint64_t sent[K_KINDS];
    uint64_t control_sent, control_replies, bad_request_replies, status_ok, worker_disconnects;
} rogue_t;

static uint64_t s_rand(rogue_t *self)
{
    uint64_t x = self->rng;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return self->rng = x;
}

/* Send one frame of len bytes (copied) on sock; never blocks for long. */
static void s_send(zsock_t *sock, const void *data, size_t len)
{
    zframe_t *f = zframe_new(data, len);
    if (zframe_send(&f, sock, ZFRAME_DONTWAIT) != 0)
        zframe_destroy(&f);
}

static void s_send_msg(rogue_t *self, int kind, const proto_msg_t *msg)
{
    uint8_t *data;
    size_t len;
    if (proto_encode(msg, &data, &len) == 0) {
        s_send(self->worker, data, len);
        free(data);
        self->sent[kind]++;
    }
}

/* Hand-made msgpack, for what proto_encode refuses to produce. */
static void s_send_packed(rogue_t *self, zsock_t *sock, int kind, msgpack_sbuffer *buf)
{
    s_send(sock, buf->data, buf->size);
    msgpack_sbuffer_clear(buf);
    self->sent[kind]++;
}

static void s_garbage(rogue_t *self, zsock_t *sock, int kind)
{
    uint8_t buf[2048];
    size_t len = 1 + s_rand(self) % sizeof buf;
    for (size_t i = 0; i < len; i++)
        buf[i] = (uint8_t)s_rand(self);
    if (s_rand(self) % 2)
        buf[0] = 0x90 + (uint8_t)(s_rand(self) % 16); /* looks like a msgpack array */
    s_send(sock, buf, len);
    self->sent[kind]++;
}

static void s_many_frames(rogue_t *self, zsock_t *sock, int kind)
{
    zmsg_t *m = zmsg_new();
    for (int i = 0; i < 20; i++)
        zmsg_addstr(m, "x");
    if (zmsg_send(&m, sock) != 0)
        zmsg_destroy(&m);
    self->sent[kind]++;
}

/* A PAGE result with a body, encoded: the base of the truncated and trailing frames. */
static int s_page_frame(uint8_t **data, size_t *len)
{
    proto_msg_t *m = proto_msg_new_body(PROTO_RESULT, 1, PROTO_BODY_PAGE);
    proto_page_t *p = &m->u.page;
    *p = (proto_page_t){.window_id = 1, .page = 1, .http_status = 200, .site = "pt", .api = "v2", .body_len = 4096};
    p->body = proto_msg_alloc(m, p->body_len);
    memset(p->body, '{', p->body_len);
    int rc = proto_encode(m, data, len);
    proto_msg_destroy(&m);
    return rc;
}

static void s_worker_round(rogue_t *self, msgpack_sbuffer *buf, msgpack_packer *pk, int garbage)
{
    for (int i = 0; i < garbage; i++)
        s_garbage(self, self->worker, K_GARBAGE);
    s_send(self->worker, "", 0);
    self->sent[K_EMPTY]++;
    s_many_frames(self, self->worker, K_MULTI);

    /* another version: a READY with version 2, and one with version "1" as text */
    msgpack_pack_array(pk, 5);
    msgpack_pack_int(pk, 2);
    msgpack_pack_int(pk, PROTO_READY);
    msgpack_pack_int(pk, PROTO_STAGE_SINK);
    msgpack_pack_str_with_body(pk, "rogue", 5);
    msgpack_pack_int(pk, 1);
    s_send_packed(self, self->worker, K_VERSION, buf);
    msgpack_pack_array(pk, 2);
    msgpack_pack_str_with_body(pk, "1", 1);
    msgpack_pack_int(pk, PROTO_HEARTBEAT);
    s_send_packed(self, self->worker, K_VERSION, buf);
    /* a command that does not exist */
    msgpack_pack_array(pk, 2);
    msgpack_pack_int(pk, PROTO_VERSION);
    msgpack_pack_int(pk, 99);
    s_send_packed(self, self->worker, K_UNKNOWN_CMD, buf);

    uint8_t *page;
    size_t len;
    if (s_page_frame(&page, &len) == 0) {
        s_send(self->worker, page, len / 2); /* valid header, body cut short */
        self->sent[K_TRUNCATED]++;
        uint8_t *longer = malloc(len + 3);
        memcpy(longer, page, len);
        memcpy(longer + len, "\xc0\xc0\xc0", 3); /* three nils after the message */
        s_send(self->worker, longer, len + 3);
        self->sent[K_TRAILING]++;
        free(longer);
        free(page);
    }

    /* READY for stages that do not exist, and with no credit */
    int stages[] = {0, 5, 99, -1};
    for (size_t i = 0; i < sizeof stages / sizeof stages[0]; i++) {
        msgpack_pack_array(pk, 5);
        msgpack_pack_int(pk, PROTO_VERSION);
        msgpack_pack_int(pk, PROTO_READY);
        msgpack_pack_int(pk, stages[i]);
        msgpack_pack_str_with_body(pk, "rogue", 5);
        msgpack_pack_int(pk, i == 0 ? 0 : 1);
        s_send_packed(self, self->worker, K_BAD_STAGE, buf);
    }

    /* registered as a sink: answers to tasks it never got, commands it may not send;
       then goodbye, in the same burst, so the broker never gives it real work (a
       task dispatched in between goes back to the queue on DISCONNECT) */
    proto_msg_t *m = proto_msg_new(PROTO_READY);
    m->u.ready.stage = PROTO_STAGE_SINK;
    m->u.ready.name = proto_msg_strdup(m, "rogue'); DROP TABLE windows; -- %s%n");
    m->u.ready.capacity = 1;
    s_send_msg(self, K_NOT_ALLOWED, m);
    proto_msg_destroy(&m);
    for (int i = 0; i < 5; i++) {
        m = proto_msg_new(PROTO_RESULT);
        m->task_id = s_rand(self);
        m->body = PROTO_BODY_COMMIT;
        m->u.commit = (proto_commit_t){.window_id = 1, .page = 1, .rows = 96};
        s_send_msg(self, K_FOREIGN_RESULT, m);
        proto_msg_destroy(&m);
        m = proto_msg_new(PROTO_NACK);
        m->task_id = s_rand(self);
        m->u.nack.reason = proto_msg_strdup(m, "rogue");
        m->u.nack.retry_after_ms = PROTO_NULL;
        m->u.nack.permanent = true;
        s_send_msg(self, K_FOREIGN_NACK, m);
        proto_msg_destroy(&m);
    }
    m = proto_msg_new(PROTO_REPORT);
    m->u.report.event = proto_msg_strdup(m, "blocked");
    m->u.report.detail = proto_msg_strdup(m, "a sink pretending to be blocked: would pause all fetching");
    m->u.report.backoff_ms = INT64_C(365) * 86400000;
    s_send_msg(self, K_NOT_ALLOWED, m);
    proto_msg_destroy(&m);
    proto_cmd_t cmds[] = {PROTO_TOKEN_REQ, PROTO_TOKEN, PROTO_CTL_REP, PROTO_DISCONNECT};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        m = proto_msg_new(cmds[i]);
        s_send_msg(self, K_NOT_ALLOWED, m);
        proto_msg_destroy(&m);
    }
}

/* Control requests built by hand (what ctl would never send). */
static void s_ctl_req(msgpack_packer *pk, const char *verb, int n, const char *const *kv)
{
    msgpack_pack_array(pk, 4);
    msgpack_pack_int(pk, PROTO_VERSION);
    msgpack_pack_int(pk, PROTO_CTL_REQ);
    msgpack_pack_str_with_body(pk, verb, strlen(verb));
    msgpack_pack_map(pk, (size_t)n);
    for (int i = 0; i < 2 * n; i++)
        msgpack_pack_str_with_body(pk, kv[i], strlen(kv[i]));
}

static void s_control_round(rogue_t *self, msgpack_sbuffer *buf, msgpack_packer *pk, int garbage)
{
    for (int i = 0; i < garbage; i++)
        s_garbage(self, self->control, K_CTL_GARBAGE);
    s_send(self->control, "", 0);
    self->sent[K_CTL_GARBAGE]++;
    s_many_frames(self, self->control, K_CTL_GARBAGE);
    self->control_sent += (uint64_t)garbage + 2;

    s_ctl_req(pk, "drop-everything", 0, NULL);
    s_send_packed(self, self->control, K_CTL_BAD, buf);
    const char *hostile[] = {"catalog", "221; DROP TABLE windows; --", "from", "2026-13-45"};
    s_ctl_req(pk, "window", 2, hostile);
    s_send_packed(self, self->control, K_CTL_BAD, buf);
    const char *inverted[] = {"catalog", "221", "from", "2026-11-25T12:00:00Z", "to", "2026-11-25T10:00:00Z"};
    s_ctl_req(pk, "window", 3, inverted);
    s_send_packed(self, self->control, K_CTL_BAD, buf);
    const char *format[] = {"window", "%s%s%s%n%n"};
    s_ctl_req(pk, "get", 1, format);
    s_send_packed(self, self->control, K_CTL_BAD, buf);
    const char *flow[] = {"flow", "../../etc", "from", "2026-11-25", "to", "2026-11-26"};
    s_ctl_req(pk, "replay", 3, flow);
    s_send_packed(self, self->control, K_CTL_BAD, buf);
    /* one argument more than the protocol allows */
    const char *many[2 * (PROTO_CTL_MAXARGS + 1)];
    char keys[PROTO_CTL_MAXARGS + 1][16];
    for (int i = 0; i <= PROTO_CTL_MAXARGS; i++) {
        snprintf(keys[i], sizeof keys[i], "k%d", i);
        many[2 * i] = keys[i];
        many[2 * i + 1] = "v";
    }
    s_ctl_req(pk, "status", PROTO_CTL_MAXARGS + 1, many);
    s_send_packed(self, self->control, K_CTL_BAD, buf);
    self->control_sent += 6;
}

/* Read what came back. Control replies: count them and their status. */
static void s_drain(rogue_t *self)
{
    zframe_t *f;
    while ((zsock_events(self->worker) & ZMQ_POLLIN) && (f = zframe_recv(self->worker)))
        zframe_destroy(&f);
    while ((zsock_events(self->control) & ZMQ_POLLIN) && (f = zframe_recv(self->control))) {
        char err[256];
        proto_msg_t *rep = proto_decode(zframe_data(f), zframe_size(f), err, sizeof err);
        if (rep && rep->cmd == PROTO_CTL_REP) {
            self->control_replies++;
            if (rep->u.ctl_rep.status == 2)
                self->bad_request_replies++;
        }
        proto_msg_destroy(&rep);
        zframe_destroy(&f);
    }
    while (zsock_events(zactor_sock(self->monitor)) & ZMQ_POLLIN) {
        zmsg_t *ev = zmsg_recv(self->monitor);
        char *name = ev ? zmsg_popstr(ev) : NULL;
        if (name && strcmp(name, "DISCONNECTED") == 0)
            self->worker_disconnects++;
        zstr_free(&name);
        zmsg_destroy(&ev);
    }
}

static void s_oversized(rogue_t *self, size_t mib)
{
    zframe_t *f = zframe_new(NULL, mib << 20);
    if (!f)
        return;
    memset(zframe_data(f), 0x91, zframe_size(f));
    if (zframe_send(&f, self->worker, 0) != 0)
        zframe_destroy(&f);
    self->sent[K_OVERSIZED]++;
    zframe_t *c = zframe_new(NULL, (size_t)2 << 20); /* over the control socket's 1 MiB */
    memset(zframe_data(c), 0x91, zframe_size(c));
    if (zframe_send(&c, self->control, ZFRAME_DONTWAIT) != 0)
        zframe_destroy(&c);
    self->sent[K_OVERSIZED]++;
}

/* A real status request on a fresh socket: is the broker still serving? */
static bool s_status_ok(const char *endpoint)
{
    zsock_t *s = zsock_new(ZMQ_DEALER);
    zsock_set_linger(s, 0);
    bool ok = false;
    if (zsock_connect(s, "%s", endpoint) == 0) {
        proto_msg_t *req = proto_msg_new(PROTO_CTL_REQ);
        req->u.ctl_req.verb = proto_msg_strdup(req, "status");
        uint8_t *data;
        size_t len;
        if (proto_encode(req, &data, &len) == 0) {
            s_send(s, data, len);
            free(data);
            zpoller_t *p = zpoller_new(s, NULL);
            if (zpoller_wait(p, 5000)) {
                zframe_t *f = zframe_recv(s);
                char err[128];
                proto_msg_t *rep = f ? proto_decode(zframe_data(f), zframe_size(f), err, sizeof err) : NULL;
                ok = rep && rep->cmd == PROTO_CTL_REP && rep->u.ctl_rep.status == 0;
                proto_msg_destroy(&rep);
                zframe_destroy(&f);
            }
            zpoller_destroy(&p);
        }
        proto_msg_destroy(&req);
    }
    zsock_destroy(&s);
    return ok;
}

int main(int argc, char **argv)
{
    config_opt_t opts[] = {
        {"broker", "VINTED_BROKER", "tcp://127.0.0.1:5555", "the broker's worker endpoint", NULL},
        {"control", "VINTED_CONTROL", "tcp://127.0.0.1:5556", "the broker's control endpoint", NULL},
        {"seconds", NULL, "5", "how long to keep sending", NULL},
        {"oversized-mb", NULL, "100", "size of the oversized frames on the worker socket, in MiB (0: none)",
         NULL},
        {"oversized-every", NULL, "50", "one oversized frame every this many rounds", NULL},
        {"seed", NULL, "1", "seed of the garbage", NULL},
        {NULL, NULL, NULL, NULL, NULL},
    };
    int rc = config_parse(opts, argc, argv, ROGUE_PROGRAM,
                          "Sends invalid, oversized and unexpected frames to the broker's worker and\n"
                          "control endpoints, and checks that it keeps answering (a test tool).");
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    int64_t seconds, oversized_mb, every, seed;
    if (config_int(opts, "seconds", 1, 3600, &seconds) != 0 ||
        config_int(opts, "oversized-mb", 0, 1024, &oversized_mb) != 0 ||
        config_int(opts, "oversized-every", 1, 1000000, &every) != 0 ||
        config_int(opts, "seed", 1, INT64_MAX, &seed) != 0)
        return 2;
    const char *broker = config_get(opts, "broker"), *control = config_get(opts, "control");
    zsys_init();
    zsys_set_logstream(NULL);
    rogue_t self = {.rng = (uint64_t)seed * 0x9E3779B97F4A7C15u + 1};
    self.worker = zsock_new(ZMQ_DEALER);
    self.control = zsock_new(ZMQ_DEALER);
    if (!self.worker || !self.control) {
        fprintf(stderr, ROGUE_PROGRAM ": cannot create sockets\n");
        return 2;
    }
    zsock_set_linger(self.worker, 0);
    zsock_set_linger(self.control, 0);
    zsock_set_sndtimeo(self.worker, 1000);
    self.monitor = zactor_new(zmonitor, self.worker);
    zstr_sendx(self.monitor, "LISTEN", "DISCONNECTED", NULL);
    zstr_sendx(self.monitor, "START", NULL);
    zsock_wait(self.monitor);
    if (zsock_connect(self.worker, "%s", broker) != 0 || zsock_connect(self.control, "%s", control) != 0) {
        fprintf(stderr, ROGUE_PROGRAM ": invalid --broker '%s' or --control '%s'\n", broker, control);
        zactor_destroy(&self.monitor);
        zsock_destroy(&self.worker);
        zsock_destroy(&self.control);
        return 2;
    }
    msgpack_sbuffer buf;
    msgpack_sbuffer_init(&buf);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &buf, msgpack_sbuffer_write);
    /* first one frame of each kind, alone in its second: the broker logs each of
       them (it logs a flood's first frames of every second, and counts the rest) */
    int64_t end = clock_mono_ms() + seconds * 1000;
    s_worker_round(&self, &buf, &pk, 1);
    s_control_round(&self, &buf, &pk, 1);
    for (int i = 0; i < 22; i++) {
        zclock_sleep(50);
        s_drain(&self);
    }
    uint64_t rounds = 1;
    while (clock_mono_ms() < end && !zsys_interrupted) {
        s_worker_round(&self, &buf, &pk, 20);
        s_control_round(&self, &buf, &pk, 5);
        if (oversized_mb > 0 && rounds % (uint64_t)every == 1)
            s_oversized(&self, (size_t)oversized_mb);
        rounds++;
        s_drain(&self);
        zclock_sleep(10);
        if (rounds % 100 == 0 && s_status_ok(control))
            self.status_ok++;
    }
    /* let the last replies come back, then ask once more */
    for (int i = 0; i < 20; i++) {
        zclock_sleep(50);
        s_drain(&self);
    }
    bool alive = s_status_ok(control);
    for (int k = 0; k < K_KINDS; k++)
        printf("rogue sent kind=%s frames=%llu\n", s_kind_names[k], (unsigned long long)self.sent[k]);
    printf("rogue summary rounds=%llu control_sent=%llu control_replies=%llu bad_request_replies=%llu "
           "status_ok=%llu worker_disconnects=%llu broker_alive=%d\n",
           (unsigned long long)rounds, (unsigned long long)self.control_sent,
           (unsigned long long)self.control_replies, (unsigned long long)self.bad_request_replies,
           (unsigned long long)self.status_ok + alive, (unsigned long long)self.worker_disconnects, alive);
    msgpack_sbuffer_destroy(&buf);
    zactor_destroy(&self.monitor);
    zsock_destroy(&self.worker);
    zsock_destroy(&self.control);
    return alive ? 0 : 1;
}
