/*  pgsink.h - write the sink's tasks into PostgreSQL: normalized batches
    (proto_batch_t) and stored photos (proto_photo_stored_t).

    Several tasks go in one transaction: their records are COPY'd into
    per-connection temporary staging tables, then prepared set-based upserts
    move them into the tables. Every task is checked (encoded once) before the
    database is asked anything; the COPY text is then encoded as it is sent, in
    chunks of 256 KB, so memory holds the tasks, not the transaction's rows. The result does not depend on the order tasks
    arrive in, and writing the same task again changes nothing (rows that
    would not change are not rewritten):
      - items/users: first_seen_at is the earliest sighting (first_window_id
        follows it), last_seen_at the latest (last_window_id follows it), and
        every other column comes from the latest sighting, ordered by
        (seen_at, window_id);
      - sightings/quarantine: one row per key, the earliest fetch of it
        (quarantine is keyed by the page's target_id too: tracking pages of
        one run share window and page numbers);
      - photos (batch.photos, seen at the batch's fetch time): first_seen_at the
        earliest sighting, last_seen_at the latest, url/is_main/position from the
        latest (ties: the greatest (url, is_main, -position)); the stored
        columns are never touched by a sighting;
      - item_snapshots/user_snapshots (batch.snapshots/users, run_id = the
        batch's window_id, observed_at = its fetch time): one row per
        (id, run), the earliest observation (ties: a fixed order on every column);
      - items.closed_seen_at/closing_action and removed_seen_at: the earliest
        closed (removed) observation in item_snapshots, for items that exist;
        recomputed for the items of every transaction, so a tracking
        observation written before its item still marks it;
      - a stored photo (TASK PHOTO) sets object_key, bytes, content_type,
        sha256 and stored_at (kept from the first time) on its photos row;
        without a row it inserts one with url '', is_main false, position 0 and
        first_seen_at 'infinity', last_seen_at '-infinity' (never seen), which
        the first sighting replaces whatever the order.

    A lost connection is re-established with backoff (1 s doubling to 5 s)
    and the whole transaction retried; the sleeper (pgsink_set_sleeper) lets
    the caller keep heartbeating meanwhile, or give up.

    The parts: rows.c encodes a task's rows for the staging tables, upsert.c
    holds the SQL (staging tables, COPY and upsert statements), pgconn.c
    connects and retries, and pgsink.c runs one transaction of tasks.

        pgsink_t *sink = pgsink_new(getenv("VINTED_PG"));
        while (pgsink_connect(sink) != 0) sleep...;
        migrate_apply(pgsink_conn(sink));
        pgsink_write_each(sink, tasks, n, on_done, arg);
        pgsink_destroy(&sink);
*/
#ifndef PGSINK_H_INCLUDED
#define PGSINK_H_INCLUDED

#include <libpq-fe.h>
#include <stdbool.h>
#include <stddef.h>

#include "common/metrics.h"
#include "proto/proto.h"

typedef struct _pgsink_t pgsink_t;

/* Sleep ms (for the reconnect backoff); return -1 to give up the write. */
typedef int(pgsink_sleep_fn)(void *arg, int64_t ms);
/* A task's outcome: error NULL when it is committed, else why it was refused. */
typedef void(pgsink_done_fn)(void *arg, size_t index, const char *error);

/* conninfo: a libpq connection string or URI; NULL or "" uses libpq's PG* variables.
   Does not connect yet. */
pgsink_t *pgsink_new(const char *conninfo);
void pgsink_destroy(pgsink_t **self_p);

/* Replace the backoff sleeper (default: plain sleep, never gives up). */
void pgsink_set_sleeper(pgsink_t *self, pgsink_sleep_fn *fn, void *arg);

/* Count transactions, their commit latency and rows per table in m (NULL: off). */
void pgsink_set_metrics(pgsink_t *self, metrics_t *m);

/* Connect once if not connected. 0 ok, -1 failed (logged). */
int pgsink_connect(pgsink_t *self);
/* The live connection (for migrations), or NULL. */
PGconn *pgsink_conn(pgsink_t *self);

/* Write n tasks (TASK messages whose body is PROTO_BODY_BATCH or PROTO_BODY_PHOTO)
   in one transaction, reconnecting and retrying on connection loss.
   0: committed. -1: not committed, err says why (a data error, or the sleeper gave up:
   see pgsink_gave_up). */
int pgsink_write(pgsink_t *self, proto_msg_t **tasks, size_t n, char *err, size_t errlen);

/* True if the last failed write stopped because the sleeper gave up. */
bool pgsink_gave_up(const pgsink_t *self);

/* Write n tasks in one transaction; if that fails on the data, write them one by
   one so that only the bad ones are refused. done is called once for each task
   that was committed or refused. 0: every task got its done call; -1: the sleeper
   gave up and the tasks without a call are neither committed nor refused. */
int pgsink_write_each(pgsink_t *self, proto_msg_t **tasks, size_t n, pgsink_done_fn *done,
                      void *arg);

void pgsink_test(bool verbose);

#endif
