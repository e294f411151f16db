/*  proto_internal.h - what the files of the proto module share (not a public API):
    the message table (proto_table.c) and the arena (proto.c). The parts of the
    self-test share proto_test.h.

    The message table describes every command, body kind and record once; the
    encoder (proto_encode.c), the decoder (proto_decode.c) and the document
    generator (protodoc.c, which writes PROTOCOL.md's field tables) all walk it.
*/
#ifndef PROTO_INTERNAL_H_INCLUDED
#define PROTO_INTERNAL_H_INCLUDED

#include "proto.h"

#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Largest counts a decoder accepts (PROTOCOL.md, "Limits"). */
#define PROTO_MAX_ITEMS 100000
#define PROTO_MAX_QUARANTINE 100000

#define PROTO_ALIGN (alignof(max_align_t))
#define PROTO_COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* ------------------------------------------------------------ the table */

/* How one field travels and where it lives in C. */
typedef enum {
    F_I32,       /* int32_t: integer */
    F_I64,       /* int64_t: integer */
    F_I64N,      /* int64_t: integer, or nil for PROTO_NULL */
    F_BOOL,      /* bool: true/false */
    F_STR,       /* char *: string, required */
    F_STRN,      /* char *: string, or nil for NULL */
    F_BIN,       /* uint8_t * + size_t: bin, or nil for NULL */
    F_STAGE,     /* proto_stage_t: integer 1..PROTO_STAGES-1 */
    F_U64,       /* uint64_t: non-negative integer (task_id) */
    F_BODY_KIND, /* proto_body_t: a body kind the command may carry (proto_body_allowed) */
    F_BODY,      /* the body, an array laid out by the row of the message's body kind */
    F_ARGS,      /* proto_ctl_req_t: the CTL_REQ map of string arguments */
} proto_ftype_t;

typedef struct {
    const char *name;
    uint8_t type;     /* proto_ftype_t */
    bool has_min;     /* integers: a value below min is refused (encode) and rejected (decode) */
    uint16_t off;     /* offset of the member (in its body or record; in proto_msg_t for commands) */
    uint16_t len_off; /* F_BIN: offset of the size_t length */
    int32_t min;
    const char *meaning; /* one line: the "Meaning" column of PROTOCOL.md */
} proto_field_t;

/* A list of records that a body carries after its fields (BATCH's items ...). */
typedef struct {
    const char *name;  /* the field's name: "items" */
    const char *scope; /* a record's name in errors: "item" (in PROTOCOL.md: ITEM) */
    const proto_field_t *fields;
    size_t n_fields;
    size_t size;      /* of one record */
    size_t max;       /* records a decoder accepts */
    size_t count_off; /* offset of the size_t count in the body */
    size_t array_off; /* offset of the array pointer in the body */
    size_t hint;      /* bytes a record takes encoded, about (the encoder's first buffer) */
    const char *meaning; /* after "up to N RECORD records" in PROTOCOL.md; may be "" */
    const char *record_meaning; /* what one record is, for the record's own section */
} proto_list_t;

/* A body kind: what a TASK or RESULT carries. */
typedef struct {
    const char *name;    /* "FETCH" */
    uint32_t carried_by; /* bit 1 << command for each command that may carry it */
    size_t off;          /* where it lives in proto_msg_t (the union member) */
    const proto_field_t *fields;
    size_t n_fields;
    const proto_list_t *lists; /* after the fields, in wire order */
    size_t n_lists;
    const char *meaning; /* one line */
    const char *flow;    /* from → to */
} proto_body_row_t;

/* A command: the fields after version and command, in wire order. */
typedef struct {
    const char *name;      /* "READY" */
    const char *direction; /* "worker → broker" */
    const proto_field_t *fields;
    size_t n_fields;
    const char *meaning; /* one line */
} proto_cmd_row_t;

#define PROTO_CMD_LAST PROTO_REPORT
#define PROTO_BODIES 9 /* body kinds 0 (NONE) .. 8 (PHOTO) */

extern const proto_cmd_row_t proto_cmds[PROTO_CMD_LAST + 1]; /* by number; 0 unused */
extern const proto_body_row_t proto_bodies[PROTO_BODIES];   /* by kind; 0 is NONE */

/* May this command carry this body kind? */
bool proto_body_allowed(proto_cmd_t cmd, uint64_t body);
/* Does the command have a body field (TASK, RESULT)? */
bool proto_cmd_has_body(proto_cmd_t cmd);
/* "i64?", "str", ... as PROTOCOL.md writes the type. */
const char *proto_type_name(proto_ftype_t type);

/* ------------------------------------------------------------ the arena */

/* A message's arena: a list of blocks, the newest first, freed together by
   proto_msg_destroy. The fast path is inline here, because the decoder calls it
   for every string (a call into proto.c cost the bench about 5 %). */
struct proto_arena {
    struct proto_arena *next; /* older blocks */
    size_t size;
    size_t used;
    alignas(max_align_t) unsigned char data[];
};

/* The slow path: a new block (proto.c). */
void *proto_arena_grow(proto_msg_t *msg, size_t size);

/* Memory from the message's arena; align is 1 for strings, PROTO_ALIGN otherwise. */
static inline void *proto_arena_alloc(proto_msg_t *msg, size_t size, size_t align)
{
    if (size == 0)
        size = 1;
    if (size > SIZE_MAX / 2)
        return NULL;
    struct proto_arena *head = msg->arena_;
    if (head) {
        size_t at = (head->used + align - 1) & ~(align - 1);
        if (at <= head->size && head->size - at >= size) {
            head->used = at + size;
            return head->data + at;
        }
    }
    return proto_arena_grow(msg, size);
}

static inline char *proto_arena_strndup(proto_msg_t *msg, const char *s, size_t len)
{
    char *copy = proto_arena_alloc(msg, len + 1, 1);
    if (copy) {
        if (len) /* msgpack-c may hand an empty string as NULL */
            memcpy(copy, s, len);
        copy[len] = '\0';
    }
    return copy;
}

/* Start the arena with one block of this size (decode knows roughly what it needs). */
int proto_arena_reserve(proto_msg_t *msg, size_t size);

#endif
