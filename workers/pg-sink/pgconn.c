/*  pgconn.c - the sink's PostgreSQL connection and retry loop (see pgconn.h). */
#include "workers/pg-sink/pgconn.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"

#define PGCONN_BACKOFF_MIN_MS 1000
#define PGCONN_BACKOFF_MAX_MS 5000 /* a database back from an outage is found within 5 s */
#define PGCONN_TRANSIENT_TRIES 5 /* serialization failures and deadlocks */

struct _pgconn_t {
    char *conninfo;
    PGconn *conn;
    bool ready; /* the setup step succeeded on this connection */
    pgconn_sleep_fn *sleep_fn;
    void *sleep_arg;
    pgconn_step_fn *setup_fn;
    void *setup_arg;
};

static int s_default_sleep(void *arg, int64_t ms)
{
    (void) arg;
    clock_sleep_ms(ms);
    return 0;
}

pgconn_t *pgconn_new(const char *conninfo)
{
    pgconn_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->conninfo = strdup(conninfo ? conninfo : "");
    self->sleep_fn = s_default_sleep;
    if (!self->conninfo)
        pgconn_destroy(&self);
    return self;
}

void pgconn_destroy(pgconn_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    pgconn_t *self = *self_p;
    if (self->conn)
        PQfinish(self->conn);
    free(self->conninfo);
    free(self);
    *self_p = NULL;
}

void pgconn_set_sleeper(pgconn_t *self, pgconn_sleep_fn *fn, void *arg)
{
    self->sleep_fn = fn ? fn : s_default_sleep;
    self->sleep_arg = fn ? arg : NULL;
}

void pgconn_set_setup(pgconn_t *self, pgconn_step_fn *fn, void *arg)
{
    self->setup_fn = fn;
    self->setup_arg = arg;
    self->ready = false;
}

/* libpq's text without its trailing newline and with inner newlines as spaces. */
static void s_oneline(char *out, size_t outlen, const char *text)
{
    snprintf(out, outlen, "%s", text ? text : "");
    for (char *p = out; *p; p++)
        if (*p == '\n' || *p == '\r' || *p == '\t')
            *p = ' ';
    size_t len = strlen(out);
    while (len > 0 && out[len - 1] == ' ')
        out[--len] = 0;
}

static void s_notice(void *arg, const char *message)
{
    (void) arg;
    char text[512];
    s_oneline(text, sizeof text, message);
    log_debug("postgres notice", "text=%s", log_str(text));
}

void pgconn_disconnect(pgconn_t *self)
{
    if (self->conn)
        PQfinish(self->conn);
    self->conn = NULL;
    self->ready = false;
}

int pgconn_connect(pgconn_t *self)
{
    if (self->conn && PQstatus(self->conn) == CONNECTION_OK)
        return 0;
    pgconn_disconnect(self);
    /* later entries override earlier ones: the caller's string wins over our defaults */
    const char *keys[6];
    const char *values[6];
    int n = 0;
    if (!getenv("PGCONNECT_TIMEOUT")) {
        keys[n] = "connect_timeout";
        values[n++] = "10";
    }
    /* no GSSAPI encryption unless asked for (gssencmode in VINTED_PG, or PGGSSENCMODE):
       trying it sets up Kerberos, half a megabyte of the sink's memory for nothing on
       the usual password or TLS connection */
    if (!getenv("PGGSSENCMODE")) {
        keys[n] = "gssencmode";
        values[n++] = "disable";
    }
    keys[n] = "fallback_application_name";
    values[n++] = "vinted-pg-sink";
    if (*self->conninfo) {
        keys[n] = "dbname";
        values[n++] = self->conninfo;
    }
    keys[n] = NULL;
    values[n] = NULL;
    self->conn = PQconnectdbParams(keys, values, 1);
    if (!self->conn) {
        log_warn("database connection failed", "error=%s", log_str("out of memory"));
        return -1;
    }
    if (PQstatus(self->conn) != CONNECTION_OK) {
        char text[512];
        s_oneline(text, sizeof text, PQerrorMessage(self->conn));
        log_warn("database connection failed", "error=%s", log_str(text));
        pgconn_disconnect(self);
        return -1;
    }
    PQsetNoticeProcessor(self->conn, s_notice, NULL);
    if (PQsetClientEncoding(self->conn, "UTF8") != 0) {
        log_warn("database connection failed", "error=%s", log_str("cannot set UTF8"));
        pgconn_disconnect(self);
        return -1;
    }
    log_info("database connected", "server_version=%d db=%s", PQserverVersion(self->conn),
             log_str(PQdb(self->conn)));
    return 0;
}

PGconn *pgconn_conn(pgconn_t *self)
{
    return self->conn && PQstatus(self->conn) == CONNECTION_OK ? self->conn : NULL;
}

/* Classify a failed result and describe it in err. */
pgconn_status_t pgconn_failure(PGconn *conn, PGresult *res, const char *what, char *err,
                               size_t errlen)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    const char *detail = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL) : NULL;
    const char *context = res ? PQresultErrorField(res, PG_DIAG_CONTEXT) : NULL;
    char text[1024];
    if (primary)
        snprintf(text, sizeof text, "%s: %s%s%s%s [%s]%s%s", what, primary,
                 detail ? " (" : "", detail ? detail : "", detail ? ")" : "",
                 state ? state : "?", context ? " at " : "", context ? context : "");
    else
        snprintf(text, sizeof text, "%s: %s", what, PQerrorMessage(conn));
    s_oneline(err, errlen, text);
    if (PQstatus(conn) != CONNECTION_OK || !state)
        return PQstatus(conn) != CONNECTION_OK ? PGCONN_CONN : PGCONN_DATA;
    /* 08: connection exception; 57P: server shutting down; 53: out of resources */
    if (strncmp(state, "08", 2) == 0 || strncmp(state, "57P", 3) == 0 ||
        strncmp(state, "53", 2) == 0)
        return PGCONN_CONN;
    if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0)
        return PGCONN_TRANSIENT;
    return PGCONN_DATA;
}

/* Run a statement (simple or prepared) that returns no rows. */
pgconn_status_t pgconn_command(PGconn *conn, const char *sql, const char *prepared,
                               const char *what, char *err, size_t errlen)
{
    PGresult *res = prepared ? PQexecPrepared(conn, prepared, 0, NULL, NULL, NULL, 0)
                             : PQexec(conn, sql);
    pgconn_status_t rc = PGCONN_OK;
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        rc = pgconn_failure(conn, res, what, err, errlen);
    PQclear(res);
    return rc;
}

/* Run the setup step on a fresh connection. */
static pgconn_status_t s_setup(pgconn_t *self, char *err, size_t errlen)
{
    pgconn_status_t rc = self->setup_fn ? self->setup_fn(self->setup_arg, self->conn, err, errlen)
                                        : PGCONN_OK;
    self->ready = rc == PGCONN_OK;
    return rc;
}

pgconn_status_t pgconn_retry(pgconn_t *self, pgconn_step_fn *attempt, void *arg, char *err,
                             size_t errlen)
{
    int64_t delay = 0;
    int transient = 0;
    for (;;) {
        if (!pgconn_conn(self)) {
            if (delay > 0) {
                log_info("database reconnect", "in_ms=%" PRId64, delay);
                if (self->sleep_fn(self->sleep_arg, delay) != 0) {
                    snprintf(err, errlen, "gave up waiting for the database");
                    return PGCONN_GAVE_UP;
                }
            }
            delay = delay ? (delay * 2 > PGCONN_BACKOFF_MAX_MS ? PGCONN_BACKOFF_MAX_MS : delay * 2)
                          : PGCONN_BACKOFF_MIN_MS;
            if (pgconn_connect(self) != 0)
                continue;
        }
        pgconn_status_t rc = self->ready ? PGCONN_OK : s_setup(self, err, errlen);
        if (rc == PGCONN_OK)
            rc = attempt(arg, self->conn, err, errlen);
        if (rc == PGCONN_OK || rc == PGCONN_DATA)
            return rc;
        if (rc == PGCONN_TRANSIENT) {
            if (++transient > PGCONN_TRANSIENT_TRIES)
                return PGCONN_DATA;
            log_warn("transaction conflict, retrying", "error=%s", log_str(err));
            if (self->sleep_fn(self->sleep_arg, 50 * transient) != 0) {
                snprintf(err, errlen, "gave up retrying a conflict");
                return PGCONN_GAVE_UP;
            }
            continue;
        }
        log_warn("database connection lost", "error=%s", log_str(err));
        pgconn_disconnect(self);
    }
}

/* -------------------------------------------------------------------------- */
/* Self-test: no database needed. */

/* Note the delay asked for, and give up. */
static int s_test_sleep(void *arg, int64_t ms)
{
    int64_t *asked = arg;
    *asked = ms;
    return -1;
}

static pgconn_status_t s_test_step(void *arg, PGconn *conn, char *err, size_t errlen)
{
    (void) conn;
    (void) err;
    (void) errlen;
    int *calls = arg;
    (*calls)++;
    return PGCONN_OK;
}

void pgconn_test(bool verbose)
{
    if (verbose)
        printf(" * pgconn: ");
    pgconn_t *conn = pgconn_new(NULL);
    assert(conn);
    assert(pgconn_conn(conn) == NULL);
    /* without a connection a failure is the connection's, on one line */
    char err[256] = "";
    assert(pgconn_failure(pgconn_conn(conn), NULL, "begin", err, sizeof err) == PGCONN_CONN);
    assert(strncmp(err, "begin: ", 7) == 0 && !strchr(err, '\n'));
    pgconn_destroy(&conn);
    assert(conn == NULL);
    pgconn_destroy(&conn);

    /* an unreachable database: the sleeper is asked, may give up, and neither the
       setup nor the attempt ever runs */
    conn = pgconn_new("host=/nonexistent/vinted-pgconn-test port=1 connect_timeout=1");
    assert(conn);
    assert(pgconn_connect(conn) == -1);
    assert(pgconn_conn(conn) == NULL);
    int64_t asked = 0;
    int setups = 0, attempts = 0;
    pgconn_set_sleeper(conn, s_test_sleep, &asked);
    pgconn_set_setup(conn, s_test_step, &setups);
    assert(pgconn_retry(conn, s_test_step, &attempts, err, sizeof err) == PGCONN_GAVE_UP);
    assert(strcmp(err, "gave up waiting for the database") == 0);
    assert(asked == PGCONN_BACKOFF_MIN_MS && setups == 0 && attempts == 0);
    pgconn_destroy(&conn);
    if (verbose)
        printf("OK\n");
}
