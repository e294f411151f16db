/*  vinted-pg-sink - the last stage: takes normalized batches (TASK with a
    proto_batch_t) and stored photos (TASK with a proto_photo_stored_t) from the
    broker, writes several at a time in one PostgreSQL transaction, and
    acknowledges each with RESULT(COMMIT) only after the commit:
      - a batch: window_id/page/attempt of the batch, rows = items + item
        snapshots written, quarantined = quarantine records;
      - a stored photo: window_id of the photo, page 0, attempt 0, rows 1.
    A task the database refuses is answered with a NACK carrying the reason.
*/
#include <assert.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/config.h"
#include "common/pgconf.h"
#include "common/curve.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/startup.h"
#include "common/migrate.h"
#include "common/worker.h"
#include "workers/pg-sink/pgsink.h"

#define SINK_BATCH_MAX 1024

/* Set by SIGINT/SIGTERM before the worker exists (czmq takes the signals over then;
   worker_interrupted reports them). */
static volatile sig_atomic_t s_interrupted = 0;

static void s_on_signal(int sig)
{
    (void) sig;
    s_interrupted = 1;
}

static config_opt_t s_opts[] = {
    { "broker", "VINTED_BROKER", "tcp://127.0.0.1:5555", "broker endpoint", NULL },
    { "pg", "VINTED_PG", NULL,
      "PostgreSQL connection string or URI (unset: libpq's PG* variables)", NULL },
    { "batch", "VINTED_SINK_BATCH", "12", "tasks written per transaction (1..1024)", NULL },
    METRICS_CONFIG_OPTS,
    CURVE_CLIENT_CONFIG_OPTS,
    { NULL, NULL, NULL, NULL, NULL }
};

/* What the done callback needs to answer the broker. */
typedef struct {
    worker_t *worker;
    proto_msg_t **tasks; /* as handed to pgsink */
} s_answer_t;

static void s_done(void *arg, size_t index, const char *error)
{
    s_answer_t *a = arg;
    const proto_msg_t *task = a->tasks[index];
    proto_msg_t *reply;
    if (!error) {
        reply = proto_msg_new(PROTO_RESULT);
        reply->body = PROTO_BODY_COMMIT;
        if (task->body == PROTO_BODY_PHOTO) {
            reply->u.commit.window_id = task->u.photo.window_id;
            reply->u.commit.rows = 1;
        } else {
            const proto_batch_t *b = &task->u.batch;
            reply->u.commit.window_id = b->window_id;
            reply->u.commit.page = b->page;
            reply->u.commit.attempt = b->attempt;
            reply->u.commit.rows = (int32_t) (b->n_items + b->n_snapshots);
            reply->u.commit.quarantined = (int32_t) b->n_quarantine;
        }
    } else {
        reply = proto_msg_new(PROTO_NACK);
        reply->u.nack.reason = proto_msg_strdup(reply, error);
        reply->u.nack.retry_after_ms = PROTO_NULL;
        reply->u.nack.permanent = false; /* the broker decides how often to retry */
    }
    reply->task_id = task->task_id;
    if (worker_send(a->worker, reply) != 0)
        log_warn("answer not sent", "task=%" PRIu64 " body=%d", task->task_id,
                 (int) task->body);
    proto_msg_destroy(&reply);
}

/* Backoff while the database is away: keep heartbeating, stop if the broker is lost. */
static int s_sleep(void *arg, int64_t ms)
{
    return worker_sleep((worker_t *) arg, ms);
}

/* Refuse a task the sink does not take; a permanent NACK, it will never become one. */
static void s_refuse(worker_t *worker, const proto_msg_t *task, const char *why)
{
    log_warn("task refused", "task=%" PRIu64 " reason=%s", task->task_id, log_str(why));
    proto_msg_t *nack = proto_msg_new(PROTO_NACK);
    nack->task_id = task->task_id;
    nack->u.nack.reason = proto_msg_strdup(nack, why);
    nack->u.nack.retry_after_ms = PROTO_NULL;
    nack->u.nack.permanent = true;
    worker_send(worker, nack);
    proto_msg_destroy(&nack);
}

/* Connect until the database answers (or a signal arrives), then migrate. */
static int s_start_database(pgsink_t *sink)
{
    int64_t delay = 1000;
    while (!s_interrupted) {
        if (pgsink_connect(sink) == 0) {
            if (migrate_apply(pgsink_conn(sink)) == 0)
                return 0;
            log_error("migrations failed, retrying", "in_ms=%" PRId64, delay);
        } else
            log_info("waiting for the database", "in_ms=%" PRId64, delay);
        for (int64_t slept = 0; slept < delay && !s_interrupted; slept += 100)
            clock_sleep_ms(100);
        delay = delay * 2 > 30000 ? 30000 : delay * 2;
    }
    return -1;
}

static void s_serve(worker_t *worker, pgsink_t *sink, int batch_max)
{
    proto_msg_t **tasks = calloc((size_t) batch_max, sizeof *tasks);
    assert(tasks);
    pgsink_set_sleeper(sink, s_sleep, worker);
    while (!worker_interrupted(worker) && !s_interrupted) {
        proto_msg_t *task = worker_next(worker, 1000);
        if (!task)
            continue;
        /* take what is already queued, up to the batch size */
        int n = 0;
        while (task) {
            if (task->cmd != PROTO_TASK ||
                (task->body != PROTO_BODY_BATCH && task->body != PROTO_BODY_PHOTO)) {
                char why[128];
                snprintf(why, sizeof why,
                         "pg-sink expects a batch or a stored photo, got %s with body %d",
                         proto_cmd_name(task->cmd), (int) task->body);
                s_refuse(worker, task, why);
                proto_msg_destroy(&task);
            } else
                tasks[n++] = task;
            task = n < batch_max && worker_pending(worker) > 0 ? worker_next(worker, 0) : NULL;
        }
        s_answer_t answer = { worker, tasks };
        int64_t start = clock_mono_ms();
        if (n > 0 && pgsink_write_each(sink, tasks, (size_t) n, s_done, &answer) != 0)
            log_warn("write abandoned, the broker will dispatch the tasks again", "tasks=%d", n);
        else if (n > 0 && log_enabled(LOG_LEVEL_DEBUG)) {
            size_t rows = 0, photos = 0;
            for (int i = 0; i < n; i++) {
                if (tasks[i]->body == PROTO_BODY_PHOTO)
                    photos++;
                else
                    rows += tasks[i]->u.batch.n_items + tasks[i]->u.batch.n_snapshots;
            }
            log_debug("tasks written", "tasks=%d rows=%zu stored_photos=%zu ms=%" PRId64, n, rows,
                      photos, clock_mono_ms() - start);
        }
        for (int i = 0; i < n; i++)
            proto_msg_destroy(&tasks[i]);
    }
    free(tasks);
}

int main(int argc, char **argv)
{
    log_init("pg-sink");
    int rc = config_parse(s_opts, argc, argv, "vinted-pg-sink",
                          "Writes normalized batches and stored photos into PostgreSQL and "
                          "acknowledges each after the commit.");
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    int64_t batch_max;
    if (config_int(s_opts, "batch", 1, SINK_BATCH_MAX, &batch_max) != 0
        || config_endpoint(s_opts, "broker", false) != 0 || pgconf_check(s_opts, "pg") != 0)
        return 2;
    const char *conninfo = config_get(s_opts, "pg");
    const char *endpoint = config_get(s_opts, "broker");
    metrics_t *metrics;
    curve_t *curve; /* CURVE keys for the broker socket, or NULL */
    rc = startup_keys_metrics(s_opts, false, &curve, &metrics);
    if (rc != 0)
        return rc;

    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = s_on_signal;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, NULL);
    sigaction(SIGTERM, &action, NULL);
    pgsink_t *sink = pgsink_new(conninfo);
    if (!sink) {
        log_error("cannot create the sink", NULL);
        metrics_destroy(&metrics);
        curve_destroy(&curve);
        return 1;
    }
    pgsink_set_metrics(sink, metrics);
    if (s_start_database(sink) != 0) {
        pgsink_destroy(&sink);
        metrics_destroy(&metrics);
        curve_destroy(&curve);
        log_info("interrupted before start", NULL);
        return 0;
    }
    /* credit for a batch and half another: the next transaction's tasks arrive while one
       commits, and the decoded tasks are most of the sink's memory (tests/bench/replay.py) */
    worker_t *worker = worker_new_curve(endpoint, PROTO_STAGE_SINK, (int) (batch_max + (batch_max + 1) / 2), "pg-sink",
                                        curve);
    s_serve(worker, sink, (int) batch_max);
    worker_destroy(&worker);
    pgsink_destroy(&sink);
    metrics_destroy(&metrics);
    curve_destroy(&curve);
    log_info("stopped", NULL);
    return 0;
}
