/*  worker.c - the worker side of the broker conversation (proto/PROTOCOL.md). */
#include "common/worker.h"

#include <czmq.h>
#include <malloc.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"

#define WORKER_QUEUE_MAX 1024

struct _worker_t {
    char *endpoint;
    char *name;
    proto_stage_t stage;
    int capacity;
    zsock_t *sock;
    int64_t last_send;    /* mono ms */
    int64_t last_recv;    /* mono ms */
    proto_msg_t **queue;  /* tasks received, not yet taken */
    int queued;
    bool token;           /* a TOKEN arrived */
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
       some 300 KB, and the copy was as much memory again) */
    zmq_msg_t frame;
    if (zmq_msg_init_data(&frame, data, size, s_free_frame, NULL) != 0) {
        free(data);
        return -1;
    }
    int rc = zmq_msg_send(&frame, zsock_resolve(self->sock), 0) < 0 ? -1 : 0;
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
    zsock_destroy(&self->sock);
    self->sock = zsock_new(ZMQ_DEALER);
    assert(self->sock);
    zsock_set_linger(self->sock, 0);
    zsock_set_sndhwm(self->sock, 10000);
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
    /* A worker handles messages of hundreds of KB one after another. A fixed mmap
       threshold gives every such buffer back to the system when it is freed; glibc's
       default raises the threshold after the first big free, and the heap then keeps
       several of them resident for good (tests/bench/replay.py measures it). */
    mallopt(M_MMAP_THRESHOLD, 64 * 1024);
    worker_t *self = calloc(1, sizeof *self);
    assert(self);
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
    log_info("worker started", "stage=%s name=%s broker=%s capacity=%d", proto_stage_name(stage),
             log_str(self->name), log_str(endpoint), self->capacity);
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
    zmq_pollitem_t item = { zsock_resolve(self->sock), 0, ZMQ_POLLIN, 0 };
    int rc = zmq_poll(&item, 1, (long) wait_ms);
    if (rc <= 0)
        return;
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
    return 0;
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
}
