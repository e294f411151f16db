/*  worker.h - the worker side of the broker conversation (see proto/PROTOCOL.md),
    shared by every worker process: connect a DEALER socket to the broker,
    announce the stage with READY, heartbeat both ways, reconnect when the
    broker goes silent, hand tasks to the caller, send results back, and ask
    the broker for request tokens (the global Vinted rate limit).

        worker_t *w = worker_new("tcp://127.0.0.1:5555", PROTO_STAGE_TRANSFORM, 4, "transformer");
        while (!worker_interrupted(w)) {
            proto_msg_t *task = worker_next(w, 1000);
            if (!task) continue;
            ... build a RESULT or NACK with the same task_id ...
            worker_send(w, result);
            proto_msg_destroy(&result);
            proto_msg_destroy(&task);
        }
        worker_destroy(&w);

    When the broker is lost, tasks not yet answered are abandoned: the broker
    dispatches them again, which is why every stage must be idempotent.
*/
#ifndef WORKER_H_INCLUDED
#define WORKER_H_INCLUDED

#include <stdbool.h>
#include "../proto/proto.h"
#include "common/curve.h"

typedef struct _worker_t worker_t;

/* capacity: tasks the broker may have in flight at this worker (its credit). */
worker_t *worker_new(const char *endpoint, proto_stage_t stage, int capacity, const char *name);
/* The same over CURVE when curve is not NULL (common/curve.h; borrowed: keep it until
   worker_destroy). A broker that refuses the handshake is logged, once a minute. */
worker_t *worker_new_curve(const char *endpoint, proto_stage_t stage, int capacity, const char *name,
                           const curve_t *curve);
void worker_destroy(worker_t **self_p);

/* The next task, waiting up to timeout_ms (-1 forever) while heartbeating.
   NULL on timeout or interruption (check worker_interrupted). Caller owns the task. */
proto_msg_t *worker_next(worker_t *self, int timeout_ms);

/* Send a RESULT, NACK or REPORT. 0 ok, -1 failed. */
int worker_send(worker_t *self, const proto_msg_t *msg);

/* Block until the broker grants one request token: the egress identity it is for
   (0.., the VINTED_PROXIES index), or -1: interrupted or the broker was lost
   (abandon the current task). */
int worker_token(worker_t *self);

/* Service heartbeats and incoming messages without blocking; call during long work.
   Returns -1 if the broker was lost meanwhile (abandon the current task), else 0. */
int worker_pump(worker_t *self);

/* Sleep ms while servicing heartbeats. -1 if interrupted or the broker was lost. */
int worker_sleep(worker_t *self, int64_t ms);

/* True once SIGINT or SIGTERM arrived. */
bool worker_interrupted(worker_t *self);

/* Tasks received and not yet taken with worker_next (the sink drains these to batch). */
int worker_pending(worker_t *self);

void worker_test(bool verbose);

#endif
