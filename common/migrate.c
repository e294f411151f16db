/*  migrate.c - apply the embedded schema migrations (see migrate.h).

    Under a session advisory lock (so concurrent starters queue up), make sure
    schema_migrations exists, then run each step not recorded there in its own
    transaction together with the row that records it.
*/
#include "common/migrate.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

/* A fixed key for pg_advisory_lock: "vintmigr" read as ASCII. */
#define MIGRATE_LOCK_KEY "8532472415361001330"

/* Run a statement without parameters; 0 if it gave the expected status. */
static int s_exec(PGconn *conn, const char *sql, ExecStatusType want, const char *what)
{
    PGresult *res = PQexec(conn, sql);
    int rc = 0;
    if (PQresultStatus(res) != want) {
        log_error("migration statement failed", "what=%s error=%s", what,
                  log_str(PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY)
                              ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY)
                              : PQerrorMessage(conn)));
        rc = -1;
    }
    PQclear(res);
    return rc;
}

/* 1 if version is recorded, 0 if not, -1 on error. */
static int s_applied(PGconn *conn, int version)
{
    char text[16];
    snprintf(text, sizeof text, "%d", version);
    const char *params[1] = { text };
    PGresult *res = PQexecParams(conn, "SELECT 1 FROM schema_migrations WHERE version = $1::int",
                                 1, NULL, params, NULL, NULL, 0);
    int rc;
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        log_error("migration lookup failed", "version=%d error=%s", version,
                  log_str(PQerrorMessage(conn)));
        rc = -1;
    } else
        rc = PQntuples(res) > 0 ? 1 : 0;
    PQclear(res);
    return rc;
}

/* One step in its own transaction: 0 applied or already there, -1 failed. */
static int s_step(PGconn *conn, const migrate_step_t *step)
{
    if (s_exec(conn, "BEGIN", PGRES_COMMAND_OK, "begin") != 0)
        return -1;
    int applied = s_applied(conn, step->version);
    if (applied != 0) {
        s_exec(conn, applied == 1 ? "COMMIT" : "ROLLBACK", PGRES_COMMAND_OK, "end");
        return applied == 1 ? 0 : -1;
    }
    /* a step is a script of several statements: the simple query protocol runs them all */
    PGresult *res = PQexec(conn, step->sql);
    ExecStatusType st = PQresultStatus(res);
    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK && st != PGRES_EMPTY_QUERY) {
        const char *primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
        log_error("migration failed", "version=%d name=%s error=%s", step->version,
                  log_str(step->name), log_str(primary ? primary : PQerrorMessage(conn)));
        PQclear(res);
        s_exec(conn, "ROLLBACK", PGRES_COMMAND_OK, "rollback");
        return -1;
    }
    PQclear(res);
    char version[16];
    snprintf(version, sizeof version, "%d", step->version);
    const char *params[2] = { version, step->name };
    res = PQexecParams(conn,
                       "INSERT INTO schema_migrations (version, name, applied_at) "
                       "VALUES ($1::int, $2::text, now())",
                       2, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        log_error("migration record failed", "version=%d error=%s", step->version,
                  log_str(PQerrorMessage(conn)));
        PQclear(res);
        s_exec(conn, "ROLLBACK", PGRES_COMMAND_OK, "rollback");
        return -1;
    }
    PQclear(res);
    /* COMMIT of a failed transaction answers ROLLBACK: check the tag */
    res = PQexec(conn, "COMMIT");
    int rc = PQresultStatus(res) == PGRES_COMMAND_OK && strcmp(PQcmdStatus(res), "COMMIT") == 0
                 ? 0
                 : -1;
    if (rc != 0)
        log_error("migration commit failed", "version=%d error=%s", step->version,
                  log_str(PQerrorMessage(conn)));
    else
        log_info("migration applied", "version=%d name=%s", step->version, log_str(step->name));
    PQclear(res);
    return rc;
}

int migrate_apply(PGconn *conn)
{
    if (!conn || PQstatus(conn) != CONNECTION_OK) {
        log_error("migration needs a connection", NULL);
        return -1;
    }
    /* quiet the "already exists, skipping" notices; the old level is restored at the end */
    char level[32] = "";
    PGresult *res = PQexec(conn, "SELECT current_setting('client_min_messages'), "
                                 "set_config('client_min_messages', 'warning', false)");
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1)
        snprintf(level, sizeof level, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    bool locked =
        s_exec(conn, "SELECT pg_advisory_lock(" MIGRATE_LOCK_KEY ")", PGRES_TUPLES_OK, "lock") == 0;
    int rc = !locked ? -1 : s_exec(conn,
                    "CREATE TABLE IF NOT EXISTS schema_migrations ("
                    " version int PRIMARY KEY,"
                    " name text NOT NULL,"
                    " applied_at timestamptz NOT NULL DEFAULT now())",
                    PGRES_COMMAND_OK, "schema_migrations");
    int last = 0;
    for (const migrate_step_t *step = migrate_steps; rc == 0 && step->sql; step++) {
        if (step->version <= last) {
            log_error("migration out of order", "version=%d name=%s after=%d", step->version,
                      log_str(step->name), last);
            rc = -1;
            break;
        }
        last = step->version;
        rc = s_step(conn, step);
    }
    if (rc == 0) {
        /* a database migrated by a newer build: say so, the old steps are still there */
        char text[16];
        snprintf(text, sizeof text, "%d", last);
        const char *params[1] = { text };
        PGresult *newer = PQexecParams(conn,
                                       "SELECT max(version) FROM schema_migrations "
                                       "WHERE version > $1::int",
                                       1, NULL, params, NULL, NULL, 0);
        if (PQresultStatus(newer) == PGRES_TUPLES_OK && PQntuples(newer) == 1 &&
            !PQgetisnull(newer, 0, 0))
            log_warn("database has newer migrations", "known=%d database=%s", last,
                     PQgetvalue(newer, 0, 0));
        PQclear(newer);
    }
    /* released with the session anyway if the connection is gone */
    if (locked && PQstatus(conn) == CONNECTION_OK)
        s_exec(conn, "SELECT pg_advisory_unlock(" MIGRATE_LOCK_KEY ")", PGRES_TUPLES_OK, "unlock");
    if (*level && PQstatus(conn) == CONNECTION_OK) {
        const char *params[1] = { level };
        res = PQexecParams(conn, "SELECT set_config('client_min_messages', $1, false)", 1, NULL,
                           params, NULL, NULL, 0);
        PQclear(res);
    }
    return rc;
}
