/*  worker.c - the worker side of the broker conversation (proto/PROTOCOL.md). */
#include "common/worker.h"

#include <czmq.h>
#include <sys/stat.h>
#include <malloc.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/curve.h"
#include "common/log.h"

#define WORKER_QUEUE_MAX 1024
#define WORKER_REFUSED_LOG_MS 60000 /* a refused handshake is said at once, then this often */

struct _worker_t {
    char *endpoint;
    char *name;
    proto_stage_t stage;
    int capacity;
    zsock_t *sock;
    const curve_t *curve; /* CURVE keys (borrowed), or NULL: plain ZeroMQ */
    curve_watch_t *watch; /* the socket's failed handshakes */
    int64_t refused_said; /* mono ms of the last "handshake refused" line, 0: never */
    int refused;          /* failed handshakes not yet said */
    int64_t last_send;    /* mono ms */
    int64_t last_recv;    /* mono ms */
    proto_msg_t **queue;  /* tasks received, not yet taken */
    int queued;
    bool token;           /* a TOKEN arrived */
    int32_t token_identity; /* ... for this egress identity */
    bool lost;            /* the broker was lost since the current task began */
};

static void s_free_frame(void *data, void *hint)
{
    (void) hint;
    free(data);
}

static int s_send(worker_t *self, const proto_msg_t *msg)
{
    uint8_t *data;
    size_t size;
    if (proto_encode(msg, &data, &size) != 0) {
        log_error("cannot encode message", "cmd=%s", proto_cmd_name(msg->cmd));
        return -1;
    }
    /* no copy: ZeroMQ sends the encoded bytes and frees them (a replayed page is
       some 300 KB, and the copy was as much memory again); and never block: after a
       refused handshake ZeroMQ drops the pipe and a blocking send would wait forever
       (what is not sent is moot: the broker is lost) */
    zmq_msg_t frame;
    if (zmq_msg_init_data(&frame, data, size, s_free_frame, NULL) != 0) {
        free(data);
        return -1;
    }
    int rc = zmq_msg_send(&frame, zsock_resolve(self->sock), ZMQ_DONTWAIT) < 0 ? -1 : 0;
    if (rc == 0)
        self->last_send = clock_mono_ms();
    else
        zmq_msg_close(&frame);
    return rc;
}

static void s_send_cmd(worker_t *self, proto_cmd_t cmd)
{
    proto_msg_t *msg = proto_msg_new(cmd);
    s_send(self, msg);
    proto_msg_destroy(&msg);
}

static void s_drop_queue(worker_t *self)
{
    for (int i = 0; i < self->queued; i++)
        proto_msg_destroy(&self->queue[i]);
    self->queued = 0;
}

static void s_connect(worker_t *self)
{
    curve_watch_destroy(&self->watch);
    zsock_destroy(&self->sock);
    self->sock = zsock_new(ZMQ_DEALER);
    assert(self->sock);
    zsock_set_linger(self->sock, 0);
    zsock_set_sndhwm(self->sock, 10000);
    if (curve_apply(self->curve, self->sock) != 0)
        log_error("cannot set the CURVE keys on the broker socket", NULL);
    self->watch = curve_watch_new(self->sock);
    if (zsock_connect(self->sock, "%s", self->endpoint) != 0)
        log_error("cannot connect to broker", "endpoint=%s", log_str(self->endpoint));
    proto_msg_t *ready = proto_msg_new(PROTO_READY);
    ready->u.ready.stage = self->stage;
    ready->u.ready.name = self->name;
    ready->u.ready.capacity = self->capacity;
    s_send(self, ready);
    ready->u.ready.name = NULL;
    proto_msg_destroy(&ready);
    self->last_recv = clock_mono_ms();
}

static void s_reconnect(worker_t *self, const char *why)
{
    log_warn("broker lost, reconnecting", "reason=%s endpoint=%s abandoned_tasks=%d", log_str(why),
             log_str(self->endpoint), self->queued);
    s_drop_queue(self);
    self->token = false;
    self->lost = true;
    s_connect(self);
}

worker_t *worker_new(const char *endpoint, proto_stage_t stage, int capacity, const char *name)
{
    return worker_new_curve(endpoint, stage, capacity, name, NULL);
}

worker_t *worker_new_curve(const char *endpoint, proto_stage_t stage, int capacity, const char *name,
                           const curve_t *curve)
{
    /* A worker handles messages of hundreds of KB one after another. A fixed mmap
       threshold gives every such buffer back to the system when it is freed; glibc's
       default raises the threshold after the first big free, and the heap then keeps
       several of them resident for good (tests/bench/replay.py measures it). */
    mallopt(M_MMAP_THRESHOLD, 64 * 1024);
    worker_t *self = calloc(1, sizeof *self);
    assert(self);
    self->curve = curve;
    self->endpoint = strdup(endpoint);
    char host[128] = "";
    gethostname(host, sizeof host - 1);
    char buf[256];
    snprintf(buf, sizeof buf, "%s@%s:%d", name, host, (int) getpid());
    self->name = strdup(buf);
    self->stage = stage;
    self->capacity = capacity > 0 ? capacity : 1;
    self->queue = calloc(WORKER_QUEUE_MAX, sizeof *self->queue);
    s_connect(self);
    log_info("worker started", "stage=%s name=%s broker=%s capacity=%d curve=%s public_key=%s",
             proto_stage_name(stage), log_str(self->name), log_str(endpoint), self->capacity,
             curve ? "on" : "off", log_str(curve ? curve_public_short(curve) : ""));
    return self;
}

void worker_destroy(worker_t **self_p)
{
    worker_t *self = *self_p;
    if (!self)
        return;
    if (self->sock)
        s_send_cmd(self, PROTO_DISCONNECT);
    s_drop_queue(self);
    free(self->queue);
    curve_watch_destroy(&self->watch);
    zsock_destroy(&self->sock);
    free(self->endpoint);
    free(self->name);
    free(self);
    *self_p = NULL;
}

/* Handle one incoming frame. */
static void s_handle(worker_t *self, zframe_t *frame)
{
    self->last_recv = clock_mono_ms();
    char err[256];
    proto_msg_t *msg = proto_decode(zframe_data(frame), zframe_size(frame), err, sizeof err);
    if (!msg) {
        log_warn("malformed message from broker rejected", "reason=%s", log_str(err));
        return;
    }
    switch (msg->cmd) {
    case PROTO_HEARTBEAT:
        break;
    case PROTO_TASK:
        if (self->queued < WORKER_QUEUE_MAX) {
            self->queue[self->queued++] = msg;
            return;
        }
        log_error("task queue full, task dropped (the broker will redispatch it)", "task=%llu",
                  (unsigned long long) msg->task_id);
        break;
    case PROTO_TOKEN:
        self->token = true;
        self->token_identity = msg->u.token.identity;
        break;
    case PROTO_DISCONNECT:
        proto_msg_destroy(&msg);
        s_reconnect(self, "broker sent DISCONNECT");
        return;
    default:
        log_warn("unexpected command from broker", "cmd=%s", proto_cmd_name(msg->cmd));
        break;
    }
    proto_msg_destroy(&msg);
}

/* Failed handshakes: said at once, then at most every WORKER_REFUSED_LOG_MS with a count
   (a refused worker tries again at every reconnection). */
static void s_check_handshakes(worker_t *self)
{
    char why[256] = "";
    bool ok = false;
    int failed = curve_watch_failures(self->watch, why, sizeof why, &ok);
    if (ok && self->refused_said) {
        log_info("handshake with broker succeeded", "endpoint=%s", log_str(self->endpoint));
        self->refused_said = 0;
        self->refused = 0;
    }
    if (failed == 0)
        return;
    self->refused += failed;
    int64_t now = clock_mono_ms();
    if (self->refused_said == 0 || now - self->refused_said >= WORKER_REFUSED_LOG_MS) {
        log_warn("broker refused the connection", "endpoint=%s reason=%s failed_handshakes=%d",
                 log_str(self->endpoint), log_str(why), self->refused);
        self->refused_said = now;
        self->refused = 0;
    }
}

/* Heartbeat if due, detect a silent broker; then wait up to wait_ms for input and handle it. */
static void s_service(worker_t *self, int64_t wait_ms)
{
    int64_t now = clock_mono_ms();
    if (now - self->last_send >= PROTO_HEARTBEAT_MS)
        s_send_cmd(self, PROTO_HEARTBEAT);
    if (now - self->last_recv > PROTO_LIVENESS_MS) {
        s_reconnect(self, "no heartbeat from broker");
        return;
    }
    int64_t until_beat = PROTO_HEARTBEAT_MS - (now - self->last_send);
    if (wait_ms > until_beat)
        wait_ms = until_beat;
    if (wait_ms < 0)
        wait_ms = 0;
    zmq_pollitem_t items[2] = { { zsock_resolve(self->sock), 0, ZMQ_POLLIN, 0 },
                                { self->watch ? zsock_resolve(curve_watch_sock(self->watch)) : NULL, 0,
                                  ZMQ_POLLIN, 0 } };
    int rc = zmq_poll(items, self->watch ? 2 : 1, (long) wait_ms);
    if (rc <= 0)
        return;
    if (self->watch && (items[1].revents & ZMQ_POLLIN))
        s_check_handshakes(self);
    /* drain everything that is ready */
    while (zsock_events(self->sock) & ZMQ_POLLIN) {
        zframe_t *frame = zframe_recv(self->sock);
        if (!frame)
            break;
        s_handle(self, frame);
        zframe_destroy(&frame);
    }
}

proto_msg_t *worker_next(worker_t *self, int timeout_ms)
{
    int64_t deadline = timeout_ms < 0 ? INT64_MAX : clock_mono_ms() + timeout_ms;
    while (!zsys_interrupted) {
        if (self->queued > 0) {
            proto_msg_t *task = self->queue[0];
            memmove(self->queue, self->queue + 1, (size_t) (self->queued - 1) * sizeof *self->queue);
            self->queued--;
            self->lost = false;
            return task;
        }
        int64_t left = deadline - clock_mono_ms();
        if (left < 0)
            return NULL;
        s_service(self, left);
        if (timeout_ms == 0 && self->queued == 0)
            return NULL;
    }
    return NULL;
}

int worker_send(worker_t *self, const proto_msg_t *msg)
{
    if (self->lost)
        return -1; /* the broker we got this task from is gone; its result is moot */
    return s_send(self, msg);
}

int worker_token(worker_t *self)
{
    if (self->lost)
        return -1;
    self->token = false;
    s_send_cmd(self, PROTO_TOKEN_REQ);
    while (!self->token) {
        if (zsys_interrupted || self->lost)
            return -1;
        s_service(self, PROTO_HEARTBEAT_MS);
    }
    self->token = false;
    return self->token_identity;
}

int worker_pump(worker_t *self)
{
    if (!self->lost)
        s_service(self, 0);
    return self->lost || zsys_interrupted ? -1 : 0;
}

int worker_sleep(worker_t *self, int64_t ms)
{
    int64_t deadline = clock_mono_ms() + ms;
    while (!zsys_interrupted && !self->lost) {
        int64_t left = deadline - clock_mono_ms();
        if (left <= 0)
            return 0;
        s_service(self, left);
    }
    return -1;
}

bool worker_interrupted(worker_t *self)
{
    (void) self;
    return zsys_interrupted != 0;
}

int worker_pending(worker_t *self)
{
    return self->queued;
}

void worker_test(bool verbose)
{
    (void) verbose;
    /* A worker against a bare ROUTER playing the broker: READY arrives, a TASK goes
       through, a TOKEN_REQ is granted, and a silent broker is detected. */
    zsock_t *router = zsock_new_router("tcp://127.0.0.1:*");
    assert(router);
    int port = zsock_endpoint(router) ? atoi(strrchr(zsock_endpoint(router), ':') + 1) : 0;
    char ep[64];
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%d", port);
    worker_t *w = worker_new(ep, PROTO_STAGE_TRANSFORM, 3, "test");

    zmsg_t *m = zmsg_recv(router);
    assert(m && zmsg_size(m) == 2);
    zframe_t *id = zmsg_pop(m);
    zframe_t *body = zmsg_pop(m);
    char err[128];
    proto_msg_t *ready = proto_decode(zframe_data(body), zframe_size(body), err, sizeof err);
    assert(ready && ready->cmd == PROTO_READY && ready->u.ready.stage == PROTO_STAGE_TRANSFORM);
    assert(ready->u.ready.capacity == 3);
    proto_msg_destroy(&ready);
    zframe_destroy(&body);
    zmsg_destroy(&m);

    proto_msg_t *task = proto_msg_new(PROTO_TASK);
    task->task_id = 42;
    task->body = PROTO_BODY_FETCH;
    task->u.fetch.window_id = 7;
    task->u.fetch.page = 2;
    uint8_t *data;
    size_t size;
    assert(proto_encode(task, &data, &size) == 0);
    proto_msg_destroy(&task);
    zframe_send(&id, router, ZFRAME_MORE | ZFRAME_REUSE);
    zframe_t *f = zframe_new(data, size);
    zframe_send(&f, router, 0);
    free(data);

    proto_msg_t *got = worker_next(w, 2000);
    assert(got && got->task_id == 42 && got->u.fetch.page == 2);
    proto_msg_destroy(&got);
    assert(worker_next(w, 0) == NULL);
    zframe_destroy(&id);
    worker_destroy(&w);
    assert(w == NULL);
    zsock_destroy(&router);

    /* A worker whose key a CURVE broker refuses: no task, heartbeats do not block
       (ZeroMQ drops the pipe after a refused handshake), and it stops at once. */
    if (!zsys_has_curve())
        return;
    char dir[] = "/tmp/vinted-worker-test-XXXXXX";
    assert(mkdtemp(dir));
    char clients[96], server[96], server_secret[104], client_secret[104], why[256];
    snprintf(clients, sizeof clients, "%s/clients", dir);
    assert(mkdir(clients, 0700) == 0);
    snprintf(server, sizeof server, "%s/broker", dir);
    snprintf(server_secret, sizeof server_secret, "%s_secret", server);
    snprintf(client_secret, sizeof client_secret, "%s/rogue_secret", dir);
    zcert_t *cert = zcert_new();
    assert(zcert_save(cert, server) == 0);
    zcert_destroy(&cert);
    cert = zcert_new();
    assert(zcert_save_secret(cert, client_secret) == 0);
    zcert_destroy(&cert);
    curve_t *srv = curve_server_new(server_secret, clients, why, sizeof why);
    curve_t *rogue = curve_client_new(server, client_secret, why, sizeof why);
    assert(srv && rogue);
    router = zsock_new(ZMQ_ROUTER);
    assert(curve_apply(srv, router) == 0);
    port = zsock_bind(router, "tcp://127.0.0.1:*");
    snprintf(ep, sizeof ep, "tcp://127.0.0.1:%d", port);
    w = worker_new_curve(ep, PROTO_STAGE_TRANSFORM, 1, "rogue", rogue);
    int64_t t0 = clock_mono_ms();
    assert(worker_next(w, PROTO_HEARTBEAT_MS + 300) == NULL);
    assert(clock_mono_ms() - t0 < PROTO_HEARTBEAT_MS + 1000);
    zpoller_t *poller = zpoller_new(router, NULL);
    assert(zpoller_wait(poller, 0) == NULL); /* not even READY arrived */
    zpoller_destroy(&poller);
    t0 = clock_mono_ms();
    worker_destroy(&w);
    assert(clock_mono_ms() - t0 < 1000);
    zsock_destroy(&router);
    curve_destroy(&rogue);
    curve_destroy(&srv);
    zdir_t *zdir = zdir_new(dir, NULL);
    zdir_remove(zdir, true);
    zdir_destroy(&zdir);
}
