/*  pgconn.h - the sink's PostgreSQL connection: connecting, telling a failure
    that reconnecting cures from one that it does not, and running a
    transaction until it commits, fails on its data, or the sleeper gives up.

    A lost connection is re-established with backoff (1 s doubling to 5 s) and
    the whole attempt run again; serialization failures and deadlocks are run
    again at once (a few times). A fresh connection runs the setup step once
    (pgconn_set_setup: staging tables, prepared statements) before its first
    attempt.

        pgconn_t *conn = pgconn_new(getenv("VINTED_PG"));
        pgconn_set_setup(conn, prepare, arg);
        rc = pgconn_retry(conn, attempt, arg, err, sizeof err);
        pgconn_destroy(&conn);
*/
#ifndef PGCONN_H_INCLUDED
#define PGCONN_H_INCLUDED

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct _pgconn_t pgconn_t;

/* Outcome of one transaction attempt (or of a step of it). */
typedef enum {
    PGCONN_OK = 0,
    PGCONN_DATA,      /* the data (or the schema) was refused: retrying will not help */
    PGCONN_CONN,      /* the connection or the server failed: reconnect and retry */
    PGCONN_TRANSIENT, /* serialization failure or deadlock: retry now */
    PGCONN_GAVE_UP,   /* the sleeper said stop */
} pgconn_status_t;

/* Sleep ms (for the reconnect backoff); return -1 to give up. */
typedef int(pgconn_sleep_fn)(void *arg, int64_t ms);
/* One step on the live connection conn (a setup or a transaction attempt); err
   says why when it is not PGCONN_OK. */
typedef pgconn_status_t(pgconn_step_fn)(void *arg, PGconn *conn, char *err, size_t errlen);

/* conninfo: a libpq connection string or URI; NULL or "" uses libpq's PG* variables.
   Does not connect yet. */
pgconn_t *pgconn_new(const char *conninfo);
void pgconn_destroy(pgconn_t **self_p);

/* Replace the backoff sleeper (default: plain sleep, never gives up). */
void pgconn_set_sleeper(pgconn_t *self, pgconn_sleep_fn *fn, void *arg);
/* The step run on every fresh connection before its first attempt (default: none);
   until it succeeds the connection is not used for attempts. */
void pgconn_set_setup(pgconn_t *self, pgconn_step_fn *fn, void *arg);

/* Connect once if not connected. 0 ok, -1 failed (logged). */
int pgconn_connect(pgconn_t *self);
/* The live connection, or NULL. */
PGconn *pgconn_conn(pgconn_t *self);
/* Close the connection (the next pgconn_connect opens a fresh one). */
void pgconn_disconnect(pgconn_t *self);

/* Classify a failed result on conn (res may be NULL: the connection's own error)
   and describe it in err as "what: message (detail) [SQLSTATE] at context". */
pgconn_status_t pgconn_failure(PGconn *conn, PGresult *res, const char *what, char *err,
                               size_t errlen);
/* Run a statement that returns no rows on conn: sql as a simple query, or, with
   prepared set, the prepared statement of that name (no parameters). */
pgconn_status_t pgconn_command(PGconn *conn, const char *sql, const char *prepared,
                               const char *what, char *err, size_t errlen);

/* Run attempt, (re)connecting and setting up as needed, until it returns PGCONN_OK
   or PGCONN_DATA, conflicts too often (PGCONN_DATA), or the sleeper gives up
   (PGCONN_GAVE_UP). */
pgconn_status_t pgconn_retry(pgconn_t *self, pgconn_step_fn *attempt, void *arg, char *err,
                             size_t errlen);

void pgconn_test(bool verbose);

#endif
