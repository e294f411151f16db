/*  uploader.h - the object-store stage: lands raw pages in the raw area
    (TASK(PAGE) -> RESULT(STORED)) and reads them back for replays
    (TASK(LOAD) -> RESULT(PAGE)). Every reply is built here; main.c only
    moves messages.
*/
#ifndef UPLOADER_H_INCLUDED
#define UPLOADER_H_INCLUDED

#include <stdbool.h>

#include "common/objstore.h"
#include "proto/proto.h"

/* The answer to one task: a RESULT or a NACK (caller destroys it). */
proto_msg_t *uploader_handle(objstore_t *store, const proto_msg_t *task);

void uploader_test(bool verbose);

#endif
