/*  pgsink.c - write the sink's tasks into PostgreSQL (see pgsink.h): what happens
    to one batch of tasks, from checking them to COMMIT. The rows are encoded by
    rows.c, the SQL is upsert.c's, and connecting and retrying is pgconn.c's. */
#include "workers/pg-sink/pgsink.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "workers/pg-sink/copy.h"
#include "workers/pg-sink/pgconn.h"
#include "workers/pg-sink/rows.h"
#include "workers/pg-sink/upsert.h"

#define PGSINK_CHUNK (256 * 1024) /* bytes per PQputCopyData */

struct _pgsink_t {
    pgconn_t *db; /* the connection, reconnected and retried */
    upsert_t *upsert;
    copy_t *buf[ROWS_NTABLES]; /* one task's rows per staging table (checking a task) */
    copy_t *stream;            /* rows on their way to the server, at most PGSINK_CHUNK and a task */
    size_t rows[ROWS_NTABLES]; /* rows of the transaction per staging table */
    bool gave_up;
    metrics_series_t *m_transactions, *m_failed, *m_commit_seconds;
    metrics_series_t *m_rows[ROWS_NTABLES];
};

/* The staging tables and statements, on every fresh connection. */
static pgconn_status_t s_setup(void *arg, PGconn *conn, char *err, size_t errlen)
{
    return upsert_prepare(arg, conn, err, errlen);
}

pgsink_t *pgsink_new(const char *conninfo)
{
    pgsink_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->db = pgconn_new(conninfo);
    self->upsert = upsert_new();
    bool ok = self->db != NULL && self->upsert != NULL;
    for (int i = 0; i < ROWS_NTABLES; i++)
        ok = (self->buf[i] = copy_new()) != NULL && ok;
    ok = (self->stream = copy_new()) != NULL && ok;
    if (ok)
        pgconn_set_setup(self->db, s_setup, self->upsert);
    else
        pgsink_destroy(&self);
    return self;
}

void pgsink_destroy(pgsink_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    pgsink_t *self = *self_p;
    pgconn_destroy(&self->db);
    upsert_destroy(&self->upsert);
    for (int i = 0; i < ROWS_NTABLES; i++)
        copy_destroy(&self->buf[i]);
    copy_destroy(&self->stream);
    free(self);
    *self_p = NULL;
}

void pgsink_set_sleeper(pgsink_t *self, pgsink_sleep_fn *fn, void *arg)
{
    pgconn_set_sleeper(self->db, fn, arg);
}

bool pgsink_gave_up(const pgsink_t *self)
{
    return self->gave_up;
}

int pgsink_connect(pgsink_t *self)
{
    return pgconn_connect(self->db);
}

PGconn *pgsink_conn(pgsink_t *self)
{
    return pgconn_conn(self->db);
}

/* Encode one task into the staging buffers, every table (adds to what they hold).
   -1 with a reason if it cannot be stored. */
static int s_encode(pgsink_t *self, const proto_msg_t *task, char *err, size_t errlen)
{
    for (int t = 0; t < ROWS_NTABLES; t++)
        if (rows_encode(task, t, self->buf[t], err, errlen) != 0)
            return -1;
    return 0;
}

/* Check every task before the database is asked anything (a bad one is refused at
   once, connected or not) and count the rows of each staging table. */
static int s_check(pgsink_t *self, proto_msg_t **tasks, size_t n, char *err, size_t errlen)
{
    memset(self->rows, 0, sizeof self->rows);
    for (size_t i = 0; i < n; i++) {
        for (int t = 0; t < ROWS_NTABLES; t++)
            copy_reset(self->buf[t]);
        if (s_encode(self, tasks[i], err, errlen) != 0)
            return -1;
        for (int t = 0; t < ROWS_NTABLES; t++)
            self->rows[t] += copy_rows(self->buf[t]);
    }
    for (int t = 0; t < ROWS_NTABLES; t++)
        copy_reset(self->buf[t]);
    return 0;
}

/* COPY one staging table's rows of every task, encoded as they go: memory holds one
   chunk, not the whole transaction (the sink stays small whatever the batch). */
static pgconn_status_t s_copy(pgsink_t *self, PGconn *conn, int table, proto_msg_t **tasks,
                              size_t n, char *err, size_t errlen)
{
    const char *what = upsert_copy_what(table);
    PGresult *res = PQexec(conn, upsert_copy_sql(table));
    if (PQresultStatus(res) != PGRES_COPY_IN) {
        pgconn_status_t rc = pgconn_failure(conn, res, what, err, errlen);
        PQclear(res);
        return rc == PGCONN_OK ? PGCONN_DATA : rc;
    }
    PQclear(res);
    copy_t *c = self->stream;
    copy_reset(c);
    bool sent = true;
    const char *refused = NULL;
    for (size_t i = 0; sent && !refused && i <= n; i++) {
        if (i < n && rows_encode(tasks[i], table, c, err, errlen) != 0)
            refused = err; /* checked before: only memory can run out here */
        else if (copy_size(c) >= PGSINK_CHUNK || (i == n && copy_size(c) > 0)) {
            sent = PQputCopyData(conn, copy_data(c), (int) copy_size(c)) == 1;
            copy_reset(c);
        }
    }
    if (PQputCopyEnd(conn, !sent ? "client failed to send" : refused ? "client refused a row" : NULL) != 1)
        sent = false;
    pgconn_status_t rc = PGCONN_OK;
    while ((res = PQgetResult(conn)) != NULL) {
        if (rc == PGCONN_OK && PQresultStatus(res) != PGRES_COMMAND_OK && !refused)
            rc = pgconn_failure(conn, res, what, err, errlen);
        PQclear(res);
        if (PQstatus(conn) != CONNECTION_OK)
            break;
    }
    if (refused)
        return sent ? PGCONN_DATA : PGCONN_CONN;
    if (rc == PGCONN_OK && !sent)
        rc = pgconn_failure(conn, NULL, what, err, errlen);
    return rc == PGCONN_OK && !sent ? PGCONN_CONN : rc;
}

/* One attempt at the transaction of checked tasks. */
static pgconn_status_t s_attempt(pgsink_t *self, PGconn *conn, proto_msg_t **tasks, size_t n,
                                 char *err, size_t errlen)
{
    pgconn_status_t rc = pgconn_command(conn, "BEGIN", NULL, "begin", err, errlen);
    unsigned staged = 0;
    for (int i = 0; i < ROWS_NTABLES; i++)
        if (self->rows[i] > 0)
            staged |= ROWS_BIT(i);
    for (int i = 0; rc == PGCONN_OK && i < ROWS_NTABLES; i++)
        if (staged & ROWS_BIT(i))
            rc = s_copy(self, conn, i, tasks, n, err, errlen);
    if (rc == PGCONN_OK)
        rc = upsert_apply(conn, staged, err, errlen);
    if (rc == PGCONN_OK) {
        PGresult *res = PQexec(conn, "COMMIT");
        if (PQresultStatus(res) != PGRES_COMMAND_OK)
            rc = pgconn_failure(conn, res, "commit", err, errlen);
        else if (strcmp(PQcmdStatus(res), "COMMIT") != 0) {
            snprintf(err, errlen, "commit: the transaction was rolled back");
            rc = PGCONN_DATA;
        }
        PQclear(res);
        return rc;
    }
    if (PQstatus(conn) == CONNECTION_OK &&
        PQtransactionStatus(conn) != PQTRANS_IDLE) {
        char ignored[256];
        pgconn_command(conn, "ROLLBACK", NULL, "rollback", ignored, sizeof ignored);
    }
    return rc;
}

/* The tasks of one transaction, for its attempts. */
typedef struct {
    pgsink_t *self;
    proto_msg_t **tasks;
    size_t n;
} s_job_t;

static pgconn_status_t s_attempt_job(void *arg, PGconn *conn, char *err, size_t errlen)
{
    s_job_t *job = arg;
    return s_attempt(job->self, conn, job->tasks, job->n, err, errlen);
}

/* Check, then run the transaction until it commits, fails on the data, or the
   sleeper gives up. */
static pgconn_status_t s_transact(pgsink_t *self, proto_msg_t **tasks, size_t n, char *err,
                                  size_t errlen)
{
    if (s_check(self, tasks, n, err, errlen) != 0)
        return PGCONN_DATA;
    s_job_t job = { self, tasks, n };
    return pgconn_retry(self->db, s_attempt_job, &job, err, errlen);
}

void pgsink_set_metrics(pgsink_t *self, metrics_t *m)
{
    /* the table each staging buffer ends in */
    static const char *const tables[ROWS_NTABLES] = {
        [ROWS_ITEMS] = "items",           [ROWS_QUARANTINE] = "quarantine", [ROWS_PHOTOS] = "photos",
        [ROWS_SNAPSHOTS] = "item_snapshots", [ROWS_USERS] = "user_snapshots", [ROWS_STORED] = "photos_stored",
        [ROWS_CATALOGS] = "catalogs",
    };
    self->m_transactions = metrics_counter(m, "vinted_sink_transactions_total", "Transactions committed");
    self->m_failed = metrics_counter(m, "vinted_sink_transactions_failed_total",
                                     "Transactions not committed (refused data, or gave up waiting for the database)");
    self->m_commit_seconds = metrics_histogram(m, "vinted_sink_commit_seconds",
                                               "Time of one transaction, from encoding to COMMIT, reconnects included",
                                               metrics_latency_buckets, metrics_latency_buckets_n);
    metrics_family_t *rows = metrics_family(m, METRICS_COUNTER, "vinted_sink_rows_total",
                                            "Rows written in committed transactions, by table (items: item rows "
                                            "staged, duplicates within a batch included)", "table", NULL, 0);
    for (int i = 0; i < ROWS_NTABLES; i++)
        self->m_rows[i] = metrics_series(rows, tables[i]);
}

int pgsink_write(pgsink_t *self, proto_msg_t **tasks, size_t n, char *err, size_t errlen)
{
    self->gave_up = false;
    if (n == 0)
        return 0;
    int64_t start = clock_mono_ms();
    pgconn_status_t rc = s_transact(self, tasks, n, err, errlen);
    if (rc == PGCONN_OK) {
        log_debug("transaction committed",
                  "tasks=%zu items=%zu quarantined=%zu photos=%zu snapshots=%zu users=%zu"
                  " stored=%zu catalogs=%zu ms=%" PRId64,
                  n, self->rows[ROWS_ITEMS], self->rows[ROWS_QUARANTINE], self->rows[ROWS_PHOTOS],
                  self->rows[ROWS_SNAPSHOTS], self->rows[ROWS_USERS], self->rows[ROWS_STORED],
                  self->rows[ROWS_CATALOGS], clock_mono_ms() - start);
        metrics_inc(self->m_transactions);
        metrics_observe(self->m_commit_seconds, (double) (clock_mono_ms() - start) / 1000.0);
        for (int i = 0; i < ROWS_NTABLES; i++)
            metrics_add(self->m_rows[i], (double) self->rows[i]);
        return 0;
    }
    metrics_inc(self->m_failed);
    self->gave_up = rc == PGCONN_GAVE_UP;
    return -1;
}

int pgsink_write_each(pgsink_t *self, proto_msg_t **tasks, size_t n, pgsink_done_fn *done,
                      void *arg)
{
    char err[1024];
    if (n == 0)
        return 0;
    if (pgsink_write(self, tasks, n, err, sizeof err) == 0) {
        for (size_t i = 0; i < n; i++)
            done(arg, i, NULL);
        return 0;
    }
    if (self->gave_up)
        return -1;
    if (n > 1)
        log_warn("transaction refused, writing tasks one by one", "tasks=%zu error=%s", n,
                 log_str(err));
    for (size_t i = 0; i < n; i++) {
        if (n == 1 || pgsink_write(self, &tasks[i], 1, err, sizeof err) != 0) {
            if (self->gave_up)
                return -1;
            log_warn("task refused", "task=%" PRIu64 " body=%d error=%s", tasks[i]->task_id,
                     (int) tasks[i]->body, log_str(err));
            done(arg, i, err);
        } else
            done(arg, i, NULL);
    }
    return 0;
}


/* -------------------------------------------------------------------------- */
/* Self-test: no database needed (the encoding is rows.c's test, the SQL upsert.c's). */

typedef struct {
    size_t calls;
    size_t failed;
    char last[256];
} s_outcome_t;

static void s_test_done(void *arg, size_t index, const char *error)
{
    s_outcome_t *o = arg;
    (void) index;
    o->calls++;
    if (error) {
        o->failed++;
        snprintf(o->last, sizeof o->last, "%s", error);
    }
}

static int s_test_give_up(void *arg, int64_t ms)
{
    (void) ms;
    int *calls = arg;
    (*calls)++;
    return -1;
}

void pgsink_test(bool verbose)
{
    if (verbose)
        printf(" * pgsink: ");
    pgsink_t *sink = pgsink_new(NULL);
    assert(sink);
    assert(pgsink_conn(sink) == NULL);

    /* a batch of one item and one quarantine record, and a stored photo */
    proto_item_t items[1] = { { .item_id = 7001, .price = 1999, .service_fee = PROTO_NULL,
                                .total_price = PROTO_NULL, .user_id = PROTO_NULL,
                                .favourite_count = PROTO_NULL, .view_count = PROTO_NULL,
                                .created_at = PROTO_NULL, .first_seen_at_ms = PROTO_NULL } };
    proto_quarantine_t quarantine[1] = { { 2, "id_missing", "no id", NULL, 0 } };
    proto_batch_t batch = { .window_id = 12, .catalog_id = 221, .page = 3,
                            .fetched_at_ms = 1795628806123LL, .n_items = 1, .items = items,
                            .n_quarantine = 1, .quarantine = quarantine };
    proto_photo_stored_t stored = { .window_id = 12, .item_id = 7001, .photo_id = 91,
                                    .key = "images/7001/91.webp", .bytes = 48213,
                                    .content_type = "image/webp" };

    /* write_each refuses each bad task on its own and reports every one */
    proto_item_t noid[1] = { { .item_id = PROTO_NULL, .pos = 5 } };
    proto_batch_t bad1 = batch;
    bad1.items = noid;
    proto_batch_t bad3 = batch;
    bad3.fetched_at_ms = 0;
    bad3.n_items = 0;
    proto_msg_t t1 = { .cmd = PROTO_TASK, .task_id = 1, .body = PROTO_BODY_BATCH, .u.batch = bad1 };
    proto_msg_t t2 = { .cmd = PROTO_TASK, .task_id = 1, .body = PROTO_BODY_PHOTO,
                       .u.photo = { .key = "k" } };
    proto_msg_t t3 = { .cmd = PROTO_TASK, .task_id = 1, .body = PROTO_BODY_BATCH, .u.batch = bad3 };
    proto_msg_t *bads[] = { &t1, &t2, &t3 };
    s_outcome_t outcome = { 0 };
    assert(pgsink_write_each(sink, bads, 3, s_test_done, &outcome) == 0);
    assert(outcome.calls == 3 && outcome.failed == 3);
    assert(strstr(outcome.last, "fetch time"));
    char err[256] = "";
    assert(pgsink_write(sink, bads, 0, err, sizeof err) == 0);
    pgsink_destroy(&sink);
    assert(sink == NULL);

    /* an unreachable database: the sleeper is asked and may give up */
    sink = pgsink_new("host=/nonexistent/vinted-pgsink-test port=1 connect_timeout=1");
    assert(sink);
    assert(pgsink_connect(sink) == -1);
    int sleeps = 0;
    pgsink_set_sleeper(sink, s_test_give_up, &sleeps);
    proto_msg_t good = { .cmd = PROTO_TASK, .task_id = 1, .body = PROTO_BODY_BATCH, .u.batch = batch };
    proto_msg_t good_photo = { .cmd = PROTO_TASK, .task_id = 1, .body = PROTO_BODY_PHOTO,
                               .u.photo = stored };
    proto_msg_t *goods[] = { &good, &good_photo };
    outcome = (s_outcome_t) { 0 };
    assert(pgsink_write_each(sink, goods, 2, s_test_done, &outcome) == -1);
    assert(pgsink_gave_up(sink));
    assert(sleeps == 1 && outcome.calls == 0);
    pgsink_destroy(&sink);
    if (verbose)
        printf("OK\n");
}
