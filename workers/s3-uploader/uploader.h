/*  uploader.h - the object-store stage: lands raw pages in the raw area
    (TASK(PAGE) -> RESULT(STORED)), reads them back for replays
    (TASK(LOAD) -> RESULT(PAGE)), and stores listing photos
    (TASK(IMAGE) -> RESULT(PHOTO)): downloaded from the CDN (cdn.h) under the
    deterministic key images/<item_id>/<photo_id>.<ext>, skipped when that key
    is stored already (the stored object is read back and hashed so the answer
    is complete). Every reply is built here; main.c only moves messages.
*/
#ifndef UPLOADER_H_INCLUDED
#define UPLOADER_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/objstore.h"
#include "proto/proto.h"
#include "workers/s3-uploader/cdn.h"

/* The answer to one task: a RESULT or a NACK (caller destroys it), or NULL when
   an IMAGE task was abandoned because the broker was lost (send nothing).
   cdn may be NULL for a stage that takes no IMAGE tasks (they are NACKed). */
proto_msg_t *uploader_handle(objstore_t *store, cdn_t *cdn, const proto_msg_t *task);

/* Sleeps ms while keeping the broker conversation alive; 0, or -1 when the broker
   was lost meanwhile (worker_sleep). */
typedef int(uploader_sleep_fn)(void *arg, int64_t ms);

#define UPLOADER_STORE_WAIT_MIN_MS 500    /* first wait for an object store that failed */
#define UPLOADER_STORE_WAIT_MAX_MS 4000   /* the waits double up to this */
#define UPLOADER_STORE_PATIENCE_MS 120000 /* waited in all before the task is refused */
#define UPLOADER_THREADS_MAX 64 /* threads per stage (one per task in flight) */

/* uploader_handle, but while the object store itself fails (a put, a get or an
   existence check; not a CDN download, not a bad task) the task is tried again after
   waits of 0.5, 1, 2, 4, 4 ... s through sleep_fn, up to patience_ms in all, before the
   NACK is returned: an outage of the store holds the task (and, through the broker's
   flow control, the fetching upstream) instead of using up its dispatches. NULL when
   sleep_fn reports the broker lost (send nothing), or as uploader_handle. */
proto_msg_t *uploader_handle_patiently(objstore_t *store, cdn_t *cdn, const proto_msg_t *task,
                                       uploader_sleep_fn *sleep_fn, void *arg, int64_t patience_ms);

/* "images/<item_id>/<photo_id>.<ext>" into buf. 0 ok, -1 if an id is not > 0,
   ext is not a short lower-case word, or it does not fit. */
int uploader_photo_key(int64_t item_id, int64_t photo_id, const char *ext, char *buf, size_t size);

void uploader_test(bool verbose);

#endif
