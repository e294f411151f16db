/*  migrate.h - versioned schema migrations (deploy/migrations/NNN_name.sql,
    embedded at build time) applied at start by the processes that use the
    database. Safe to run twice and from several processes at once: each step
    runs in its own transaction under an advisory lock and is recorded in
    schema_migrations.
*/
#ifndef MIGRATE_H_INCLUDED
#define MIGRATE_H_INCLUDED

#include <libpq-fe.h>

typedef struct {
    int version;
    const char *name;
    const char *sql;
} migrate_step_t;

extern const migrate_step_t migrate_steps[]; /* ends with { 0, NULL, NULL } */

/* Apply every step not yet applied. 0 ok, -1 on error (logged). */
int migrate_apply(PGconn *conn);

#endif
