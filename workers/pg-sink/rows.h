/*  rows.h - a sink task's rows for the staging tables: checked and encoded as
    COPY text (copy.h), one staging table at a time, in the column order of
    that table's COPY statement (upsert.c).

    Every value is checked while it is encoded, so a task that encodes is one the
    database can take, and a refusal names the record (window, page, position).

        copy_t *c = copy_new();
        if (rows_encode(task, ROWS_ITEMS, c, err, sizeof err) != 0) refuse(err);
        ... PQputCopyData(conn, copy_data(c), copy_size(c)) ...
*/
#ifndef ROWS_H_INCLUDED
#define ROWS_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>

#include "proto/proto.h"
#include "workers/pg-sink/copy.h"

/* The staging tables, one staging buffer each. */
enum {
    ROWS_ITEMS,
    ROWS_QUARANTINE,
    ROWS_PHOTOS,
    ROWS_SNAPSHOTS,
    ROWS_USERS,
    ROWS_STORED,
    ROWS_CATALOGS,
    ROWS_NTABLES
};
#define ROWS_BIT(table) (1u << (table))

/* Encode a task's rows of one staging table (ROWS_ITEMS ...) into c, adding to what
   it holds. The task is a TASK whose body is PROTO_BODY_BATCH or PROTO_BODY_PHOTO.
   -1 with a reason in err if they cannot be stored (or memory ran out). */
int rows_encode(const proto_msg_t *task, int table, copy_t *c, char *err, size_t errlen);

void rows_test(bool verbose);

#endif
