/*  upsert.h - the sink's SQL: the per-connection temporary staging tables, the
    COPY into each (columns in the order rows.h encodes them), and the prepared
    set-based statements that move staged rows into items, users, sightings,
    quarantine, photos, item/user snapshots and catalogs, and mark closed and
    removed items (the rules are in pgsink.h). No statement takes a value from
    the data: the data only ever arrives through COPY.

        upsert_t *u = upsert_new();
        upsert_prepare(u, conn, err, sizeof err);      on every fresh connection
        BEGIN; PQexec(conn, upsert_copy_sql(ROWS_ITEMS)) ... COPY ...;
        upsert_apply(conn, ROWS_BIT(ROWS_ITEMS), err, sizeof err); COMMIT
        upsert_destroy(&u);
*/
#ifndef UPSERT_H_INCLUDED
#define UPSERT_H_INCLUDED

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

#include "workers/pg-sink/pgconn.h"
#include "workers/pg-sink/rows.h"

typedef struct _upsert_t upsert_t;

/* Build the statements that are generated from column lists. NULL: out of memory. */
upsert_t *upsert_new(void);
void upsert_destroy(upsert_t **self_p);

/* The COPY ... FROM STDIN of a staging table (ROWS_ITEMS ...), and what it is
   called in error messages ("copy items"). */
const char *upsert_copy_sql(int table);
const char *upsert_copy_what(int table);

/* Create the staging tables and prepare the statements on a fresh connection. */
pgconn_status_t upsert_prepare(const upsert_t *self, PGconn *conn, char *err, size_t errlen);

/* In a transaction whose staging tables hold rows, run in order the prepared
   statements that the staged tables (ROWS_BIT()s) make worth running. */
pgconn_status_t upsert_apply(PGconn *conn, unsigned staged, char *err, size_t errlen);

void upsert_test(bool verbose);

#endif
