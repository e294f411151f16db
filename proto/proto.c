/*  proto.c - the vinted-pipeline wire format (see proto.h; the layouts are
    specified in PROTOCOL.md, which must stay in step with the tables below).

    Every body and record is described once, as a table of fields in wire
    order; the encoder and the decoder both walk those tables.

    Encoding packs with msgpack-c's packer into one malloc'ed buffer.
    Decoding untrusted bytes runs in three steps:
      1. s_scan walks the raw bytes once and checks that every announced
         length and element count fits in the bytes that remain (each element
         takes at least one byte), that the frame is not truncated and that
         nothing trails it. msgpack-c allocates an object per announced
         element, so this keeps a forged count from asking for gigabytes;
      2. msgpack_unpack_next builds the object tree (strings and binaries
         still point into the input);
      3. the tables check every field's type and range and copy it into the
         message; strings (NUL-terminated) and arrays go into the message's
         arena, a list of blocks freed together by proto_msg_destroy.
*/
#include "proto.h"

#include <assert.h>
#include <inttypes.h>
#include <msgpack.h>
#include <stdalign.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Largest counts a decoder accepts (PROTOCOL.md, "Limits"). */
#define S_MAX_ITEMS 100000
#define S_MAX_QUARANTINE 100000

/* ---------------------------------------------------------------- arena */

#define S_ARENA_FIRST 4096             /* first block of a built message */
#define S_ARENA_MAX_GROW (1024 * 1024) /* blocks double up to this size */
#define S_ALIGN (alignof(max_align_t))

struct proto_arena {
    struct proto_arena *next; /* older blocks */
    size_t size;
    size_t used;
    alignas(max_align_t) unsigned char data[];
};

static struct proto_arena *s_block_new(size_t size, struct proto_arena *next)
{
    struct proto_arena *b = malloc(sizeof(*b) + size);
    if (!b)
        return NULL;
    b->next = next;
    b->size = size;
    b->used = 0;
    return b;
}

/* Memory from the message's arena; align is 1 for strings, S_ALIGN otherwise. */
static void *s_arena_alloc(proto_msg_t *msg, size_t size, size_t align)
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
    size_t grow = head ? head->size * 2 : S_ARENA_FIRST;
    if (grow > S_ARENA_MAX_GROW)
        grow = S_ARENA_MAX_GROW;
    if (head && size > grow / 2) {
        /* a big piece gets a block of its own, behind the head, so the head's
           free space stays in use */
        struct proto_arena *b = s_block_new(size, head->next);
        if (!b)
            return NULL;
        b->used = size;
        head->next = b;
        return b->data;
    }
    struct proto_arena *b = s_block_new(size > grow ? size : grow, head);
    if (!b)
        return NULL;
    b->used = size;
    msg->arena_ = b;
    return b->data;
}

/* Start the arena with one block of this size (decode knows roughly what it needs). */
static int s_arena_reserve(proto_msg_t *msg, size_t size)
{
    assert(msg->arena_ == NULL);
    msg->arena_ = s_block_new(size < S_ARENA_FIRST ? S_ARENA_FIRST : size, NULL);
    return msg->arena_ ? 0 : -1;
}

static char *s_arena_strndup(proto_msg_t *msg, const char *s, size_t len)
{
    char *copy = s_arena_alloc(msg, len + 1, 1);
    if (copy) {
        if (len) /* msgpack-c may hand an empty string as NULL */
            memcpy(copy, s, len);
        copy[len] = '\0';
    }
    return copy;
}

char *proto_msg_strdup(proto_msg_t *msg, const char *s)
{
    assert(msg);
    return s ? s_arena_strndup(msg, s, strlen(s)) : NULL;
}

void *proto_msg_alloc(proto_msg_t *msg, size_t size)
{
    assert(msg);
    void *p = s_arena_alloc(msg, size, S_ALIGN);
    if (p)
        memset(p, 0, size);
    return p;
}

/* --------------------------------------------------------------- message */

proto_msg_t *proto_msg_new(proto_cmd_t cmd)
{
    if (cmd < PROTO_READY || cmd > PROTO_REPORT)
        return NULL;
    proto_msg_t *msg = calloc(1, sizeof(*msg));
    if (!msg)
        return NULL;
    msg->cmd = cmd;
    if (cmd == PROTO_NACK)
        msg->u.nack.retry_after_ms = PROTO_NULL;
    else if (cmd == PROTO_REPORT)
        msg->u.report.backoff_ms = PROTO_NULL;
    return msg;
}

void proto_msg_destroy(proto_msg_t **self_p)
{
    assert(self_p);
    proto_msg_t *msg = *self_p;
    if (!msg)
        return;
    struct proto_arena *b = msg->arena_;
    while (b) {
        struct proto_arena *next = b->next;
        free(b);
        b = next;
    }
    free(msg);
    *self_p = NULL;
}

/* ------------------------------------------------------------------ names */

static const char *s_cmd_names[] = {
    NULL,        "READY", "HEARTBEAT",  "TASK",    "RESULT",  "NACK",
    "TOKEN_REQ", "TOKEN", "DISCONNECT", "CTL_REQ", "CTL_REP", "REPORT",
};

const char *proto_cmd_name(proto_cmd_t cmd)
{
    return cmd >= PROTO_READY && cmd <= PROTO_REPORT ? s_cmd_names[cmd] : "UNKNOWN";
}

static const char *s_stage_names[PROTO_STAGES] = {"none", "fetch", "transform", "sink", "store", "photo"};

const char *proto_stage_name(proto_stage_t stage)
{
    return stage < PROTO_STAGES ? s_stage_names[stage] : "unknown";
}

proto_stage_t proto_stage_from_name(const char *name)
{
    for (int i = PROTO_STAGE_FETCH; name && i < PROTO_STAGES; i++)
        if (strcmp(name, s_stage_names[i]) == 0)
            return (proto_stage_t)i;
    return PROTO_STAGE_NONE;
}

static const char *s_body_names[] = {"NONE", "FETCH", "PAGE", "BATCH", "COMMIT", "LOAD", "STORED", "IMAGE", "PHOTO"};

static const char *s_null_names[PROTO_NULL_FIELDS] = {
    "title", "price", "currency", "brand",      "size",  "condition",
    "user",  "url",   "photo",    "favourites", "views", "created",
};

const char *proto_null_field_name(int bit)
{
    return bit >= 0 && bit < PROTO_NULL_FIELDS ? s_null_names[bit] : "unknown";
}

uint32_t proto_item_null_mask(const proto_item_t *item)
{
    assert(item);
    uint32_t mask = 0;
    if (!item->title)
        mask |= PROTO_NULL_TITLE;
    if (item->price == PROTO_NULL)
        mask |= PROTO_NULL_PRICE;
    if (!item->currency)
        mask |= PROTO_NULL_CURRENCY;
    if (!item->brand)
        mask |= PROTO_NULL_BRAND;
    if (!item->size_title)
        mask |= PROTO_NULL_SIZE;
    if (!item->condition)
        mask |= PROTO_NULL_CONDITION;
    if (item->user_id == PROTO_NULL)
        mask |= PROTO_NULL_USER;
    if (!item->url)
        mask |= PROTO_NULL_URL;
    if (!item->photo_url)
        mask |= PROTO_NULL_PHOTO;
    if (item->favourite_count == PROTO_NULL)
        mask |= PROTO_NULL_FAVOURITES;
    if (item->view_count == PROTO_NULL)
        mask |= PROTO_NULL_VIEWS;
    if (item->created_at == PROTO_NULL)
        mask |= PROTO_NULL_CREATED;
    return mask;
}

/* ----------------------------------------------------------- field tables */

typedef enum {
    F_I32,   /* int32_t: integer */
    F_I64,   /* int64_t: integer */
    F_I64N,  /* int64_t: integer, or nil for PROTO_NULL */
    F_BOOL,  /* bool: true/false */
    F_STR,   /* char *: string, required */
    F_STRN,  /* char *: string, or nil for NULL */
    F_BIN,   /* uint8_t * + size_t: bin, or nil for NULL */
    F_STAGE, /* proto_stage_t: integer 1..3 */
} s_ftype_t;

typedef struct {
    const char *name;
    uint8_t type;
    uint16_t off;     /* offset of the member */
    uint16_t len_off; /* F_BIN: offset of the size_t length */
} s_field_t;

#define FLD(T, type, m)                                                                                      \
    {                                                                                                        \
#m, type, offsetof(T, m), 0                                                                          \
    }
#define BIN(T, m, len)                                                                                       \
    {                                                                                                        \
#m, F_BIN, offsetof(T, m), offsetof(T, len)                                                          \
    }
#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const s_field_t s_ready_fields[] = {
    FLD(proto_ready_t, F_STAGE, stage),
    FLD(proto_ready_t, F_STR, name),
    FLD(proto_ready_t, F_I32, capacity),
};

static const s_field_t s_nack_fields[] = {
    FLD(proto_nack_t, F_STR, reason),
    FLD(proto_nack_t, F_I64N, retry_after_ms),
    FLD(proto_nack_t, F_BOOL, permanent),
};

static const s_field_t s_report_fields[] = {
    FLD(proto_report_t, F_STR, event),
    FLD(proto_report_t, F_STRN, detail),
    FLD(proto_report_t, F_I64N, backoff_ms),
    FLD(proto_report_t, F_I32, identity),
};

static const s_field_t s_token_fields[] = {
    FLD(proto_token_t, F_I32, identity),
};

static const s_field_t s_ctl_rep_fields[] = {
    FLD(proto_ctl_rep_t, F_I32, status),
    FLD(proto_ctl_rep_t, F_STRN, message),
    FLD(proto_ctl_rep_t, F_STRN, json),
};

static const s_field_t s_fetch_fields[] = {
    FLD(proto_fetch_t, F_I64, window_id), FLD(proto_fetch_t, F_I32, catalog_id),
    FLD(proto_fetch_t, F_I32, page),      FLD(proto_fetch_t, F_I32, per_page),
    FLD(proto_fetch_t, F_I64, hwm),       FLD(proto_fetch_t, F_I32, attempt),
    FLD(proto_fetch_t, F_I32, kind),      FLD(proto_fetch_t, F_I64, target_id),
    FLD(proto_fetch_t, F_I32, api_page),  FLD(proto_fetch_t, F_I64, price_from),
    FLD(proto_fetch_t, F_I64, price_to),  FLD(proto_fetch_t, F_I64, pin_time),
    FLD(proto_fetch_t, F_STRN, site),
};

static const s_field_t s_page_fields[] = {
    FLD(proto_page_t, F_I64, window_id),     FLD(proto_page_t, F_I32, catalog_id),
    FLD(proto_page_t, F_I32, page),          FLD(proto_page_t, F_I32, attempt),
    FLD(proto_page_t, F_I64, fetched_at_ms), FLD(proto_page_t, F_I32, http_status),
    FLD(proto_page_t, F_STR, site),          FLD(proto_page_t, F_STR, api),
    FLD(proto_page_t, F_STRN, url),          FLD(proto_page_t, F_STRN, error),
    FLD(proto_page_t, F_I32, n_items),       FLD(proto_page_t, F_I64, max_item_id),
    FLD(proto_page_t, F_BOOL, more),         FLD(proto_page_t, F_I32, total_pages),
    BIN(proto_page_t, body, body_len),       FLD(proto_page_t, F_I32, kind),
    FLD(proto_page_t, F_I64, target_id),     FLD(proto_page_t, F_I64, pin_time),
};

/* The batch body is these fields, then its lists (s_batch_lists) in order. */
static const s_field_t s_batch_fields[] = {
    FLD(proto_batch_t, F_I64, window_id),     FLD(proto_batch_t, F_I32, catalog_id),
    FLD(proto_batch_t, F_I32, page),          FLD(proto_batch_t, F_I32, attempt),
    FLD(proto_batch_t, F_I64, fetched_at_ms), FLD(proto_batch_t, F_I64, target_id),
    FLD(proto_batch_t, F_STRN, site),
};

static const s_field_t s_item_fields[] = {
    FLD(proto_item_t, F_I64, item_id),
    FLD(proto_item_t, F_I32, catalog_id),
    FLD(proto_item_t, F_STRN, title),
    FLD(proto_item_t, F_I64N, price),
    FLD(proto_item_t, F_STRN, currency),
    FLD(proto_item_t, F_I64N, service_fee),
    FLD(proto_item_t, F_I64N, total_price),
    FLD(proto_item_t, F_STRN, brand),
    FLD(proto_item_t, F_STRN, size_title),
    FLD(proto_item_t, F_STRN, size_kind),
    FLD(proto_item_t, F_STRN, size_value),
    FLD(proto_item_t, F_STRN, condition),
    FLD(proto_item_t, F_I64N, user_id),
    FLD(proto_item_t, F_STRN, user_login),
    FLD(proto_item_t, F_STRN, url),
    FLD(proto_item_t, F_STRN, photo_url),
    FLD(proto_item_t, F_I64N, favourite_count),
    FLD(proto_item_t, F_I64N, view_count),
    FLD(proto_item_t, F_I64N, created_at),
    FLD(proto_item_t, F_I64, first_seen_at_ms),
    FLD(proto_item_t, F_I32, pos),
    FLD(proto_item_t, F_BOOL, promoted),
};

static const s_field_t s_quarantine_fields[] = {
    FLD(proto_quarantine_t, F_I32, pos),
    FLD(proto_quarantine_t, F_STR, rule),
    FLD(proto_quarantine_t, F_STRN, detail),
    BIN(proto_quarantine_t, raw, raw_len),
};

static const s_field_t s_photo_fields[] = {
    FLD(proto_photo_t, F_I64, item_id), FLD(proto_photo_t, F_I64, photo_id), FLD(proto_photo_t, F_STR, url),
    FLD(proto_photo_t, F_BOOL, is_main), FLD(proto_photo_t, F_I32, position),
};

static const s_field_t s_snapshot_fields[] = {
    FLD(proto_snapshot_t, F_I64, item_id),          FLD(proto_snapshot_t, F_I64N, user_id),
    FLD(proto_snapshot_t, F_I64N, price),           FLD(proto_snapshot_t, F_STRN, currency),
    FLD(proto_snapshot_t, F_I64N, favourite_count), FLD(proto_snapshot_t, F_I64N, view_count),
    FLD(proto_snapshot_t, F_BOOL, is_reserved),     FLD(proto_snapshot_t, F_BOOL, is_hidden),
    FLD(proto_snapshot_t, F_BOOL, is_closed),       FLD(proto_snapshot_t, F_STRN, closing_action),
    FLD(proto_snapshot_t, F_BOOL, removed),
};

static const s_field_t s_user_fields[] = {
    FLD(proto_user_snapshot_t, F_I64, user_id),
    FLD(proto_user_snapshot_t, F_STRN, login),
    FLD(proto_user_snapshot_t, F_I64N, item_count),
    FLD(proto_user_snapshot_t, F_I64N, feedback_count),
    FLD(proto_user_snapshot_t, F_I64N, feedback_reputation),
    FLD(proto_user_snapshot_t, F_I64N, positive_feedback_count),
    FLD(proto_user_snapshot_t, F_I64N, neutral_feedback_count),
    FLD(proto_user_snapshot_t, F_I64N, negative_feedback_count),
    FLD(proto_user_snapshot_t, F_I64N, followers_count),
    FLD(proto_user_snapshot_t, F_STRN, city),
    FLD(proto_user_snapshot_t, F_STRN, country),
};

static const s_field_t s_catalog_fields[] = {
    FLD(proto_catalog_t, F_I32, catalog_id), FLD(proto_catalog_t, F_I32, parent_id),
    FLD(proto_catalog_t, F_STR, title),      FLD(proto_catalog_t, F_STRN, code),
    FLD(proto_catalog_t, F_STRN, url),       FLD(proto_catalog_t, F_I32, depth),
};

/* The lists a batch carries after its fields, in wire order. */
typedef struct {
    const char *name, *scope;
    const s_field_t *fields;
    size_t n_fields, size, max, count_off, array_off;
} s_list_t;

#define LIST(name, scope, fields, T, max, count, array)                                                      \
    { name, scope, fields, COUNT(fields), sizeof(T), max, offsetof(proto_batch_t, count),                 \
      offsetof(proto_batch_t, array) }

static const s_list_t s_batch_lists[] = {
    LIST("items", "item", s_item_fields, proto_item_t, S_MAX_ITEMS, n_items, items),
    LIST("quarantine", "quarantine", s_quarantine_fields, proto_quarantine_t, S_MAX_QUARANTINE, n_quarantine,
         quarantine),
    LIST("photos", "photo", s_photo_fields, proto_photo_t, S_MAX_ITEMS * 8, n_photos, photos),
    LIST("snapshots", "snapshot", s_snapshot_fields, proto_snapshot_t, S_MAX_ITEMS, n_snapshots, snapshots),
    LIST("users", "user", s_user_fields, proto_user_snapshot_t, S_MAX_ITEMS, n_users, users),
    LIST("catalogs", "catalog", s_catalog_fields, proto_catalog_t, S_MAX_ITEMS, n_catalogs, catalogs),
};

static const s_field_t s_image_fields[] = {
    FLD(proto_image_t, F_I64, window_id), FLD(proto_image_t, F_I64, item_id),
    FLD(proto_image_t, F_I64, photo_id),  FLD(proto_image_t, F_STR, url),
};

static const s_field_t s_photo_stored_fields[] = {
    FLD(proto_photo_stored_t, F_I64, window_id), FLD(proto_photo_stored_t, F_I64, item_id),
    FLD(proto_photo_stored_t, F_I64, photo_id),  FLD(proto_photo_stored_t, F_STR, key),
    FLD(proto_photo_stored_t, F_I64, bytes),     FLD(proto_photo_stored_t, F_STRN, content_type),
    FLD(proto_photo_stored_t, F_STRN, sha256),   FLD(proto_photo_stored_t, F_BOOL, skipped),
};

static const s_field_t s_commit_fields[] = {
    FLD(proto_commit_t, F_I64, window_id),   FLD(proto_commit_t, F_I32, page),
    FLD(proto_commit_t, F_I32, attempt),     FLD(proto_commit_t, F_I32, rows),
    FLD(proto_commit_t, F_I32, quarantined),
};

static const s_field_t s_load_fields[] = {
    FLD(proto_load_t, F_STR, key),
};

static const s_field_t s_stored_fields[] = {
    FLD(proto_stored_t, F_I64, window_id), FLD(proto_stored_t, F_I32, page),
    FLD(proto_stored_t, F_I32, attempt),   FLD(proto_stored_t, F_STR, key),
    FLD(proto_stored_t, F_I64, bytes),
};

/* Fields of each command's array, version and command included. */
static const uint8_t s_cmd_fields[] = {0, 5, 2, 5, 5, 6, 2, 3, 2, 4, 5, 6};

/* May a TASK (or a RESULT) carry this body? */
static bool s_body_allowed(proto_cmd_t cmd, uint64_t body)
{
    if (cmd == PROTO_TASK)
        return body == PROTO_BODY_FETCH || body == PROTO_BODY_PAGE || body == PROTO_BODY_BATCH ||
               body == PROTO_BODY_LOAD || body == PROTO_BODY_IMAGE || body == PROTO_BODY_PHOTO;
    return body == PROTO_BODY_PAGE || body == PROTO_BODY_BATCH || body == PROTO_BODY_COMMIT ||
           body == PROTO_BODY_STORED || body == PROTO_BODY_PHOTO;
}

/* --------------------------------------------------------------- encoding */

static int s_pack_str(msgpack_packer *pk, const char *s)
{
    size_t len = strlen(s);
    if (len > UINT32_MAX)
        return -1;
    return msgpack_pack_str_with_body(pk, s, len);
}

static int s_pack_fields(msgpack_packer *pk, const s_field_t *tab, size_t n, const void *base)
{
    const char *b = base;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const void *p = b + tab[i].off;
        switch (tab[i].type) {
        case F_I32:
            rc = msgpack_pack_int64(pk, *(const int32_t *)p);
            break;
        case F_I64:
            rc = msgpack_pack_int64(pk, *(const int64_t *)p);
            break;
        case F_I64N: {
            int64_t v = *(const int64_t *)p;
            rc = v == PROTO_NULL ? msgpack_pack_nil(pk) : msgpack_pack_int64(pk, v);
            break;
        }
        case F_BOOL:
            rc = *(const bool *)p ? msgpack_pack_true(pk) : msgpack_pack_false(pk);
            break;
        case F_STR:
        case F_STRN: {
            const char *s = *(char *const *)p;
            if (s)
                rc = s_pack_str(pk, s);
            else
                rc = tab[i].type == F_STR ? -1 : msgpack_pack_nil(pk);
            break;
        }
        case F_BIN: {
            const uint8_t *data = *(uint8_t *const *)p;
            size_t len = *(const size_t *)(b + tab[i].len_off);
            if (!data)
                rc = len ? -1 : msgpack_pack_nil(pk);
            else if (len > UINT32_MAX)
                rc = -1;
            else
                rc = msgpack_pack_bin_with_body(pk, data, len);
            break;
        }
        case F_STAGE: {
            proto_stage_t stage = *(const proto_stage_t *)p;
            if (stage < PROTO_STAGE_FETCH || stage >= PROTO_STAGES)
                rc = -1;
            else
                rc = msgpack_pack_int64(pk, stage);
            break;
        }
        default:
            rc = -1;
        }
    }
    return rc;
}

static int s_pack_list(msgpack_packer *pk, const s_field_t *tab, size_t nfields, const void *array,
                       size_t elem_size, size_t n, size_t max)
{
    if (n > max || (n > 0 && !array) || msgpack_pack_array(pk, n) != 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (msgpack_pack_array(pk, nfields) != 0 ||
            s_pack_fields(pk, tab, nfields, (const char *)array + i * elem_size) != 0)
            return -1;
    }
    return 0;
}

static int s_pack_body(msgpack_packer *pk, const proto_msg_t *msg)
{
    switch (msg->body) {
    case PROTO_BODY_FETCH:
        return msgpack_pack_array(pk, COUNT(s_fetch_fields)) ||
                       s_pack_fields(pk, s_fetch_fields, COUNT(s_fetch_fields), &msg->u.fetch)
                   ? -1
                   : 0;
    case PROTO_BODY_PAGE:
        return msgpack_pack_array(pk, COUNT(s_page_fields)) ||
                       s_pack_fields(pk, s_page_fields, COUNT(s_page_fields), &msg->u.page)
                   ? -1
                   : 0;
    case PROTO_BODY_COMMIT:
        return msgpack_pack_array(pk, COUNT(s_commit_fields)) ||
                       s_pack_fields(pk, s_commit_fields, COUNT(s_commit_fields), &msg->u.commit)
                   ? -1
                   : 0;
    case PROTO_BODY_LOAD:
        return msgpack_pack_array(pk, COUNT(s_load_fields)) ||
                       s_pack_fields(pk, s_load_fields, COUNT(s_load_fields), &msg->u.load)
                   ? -1
                   : 0;
    case PROTO_BODY_STORED:
        return msgpack_pack_array(pk, COUNT(s_stored_fields)) ||
                       s_pack_fields(pk, s_stored_fields, COUNT(s_stored_fields), &msg->u.stored)
                   ? -1
                   : 0;
    case PROTO_BODY_IMAGE:
        return msgpack_pack_array(pk, COUNT(s_image_fields)) ||
                       s_pack_fields(pk, s_image_fields, COUNT(s_image_fields), &msg->u.image)
                   ? -1
                   : 0;
    case PROTO_BODY_PHOTO:
        return msgpack_pack_array(pk, COUNT(s_photo_stored_fields)) ||
                       s_pack_fields(pk, s_photo_stored_fields, COUNT(s_photo_stored_fields), &msg->u.photo)
                   ? -1
                   : 0;
    case PROTO_BODY_BATCH: {
        const proto_batch_t *bt = &msg->u.batch;
        if (msgpack_pack_array(pk, COUNT(s_batch_fields) + COUNT(s_batch_lists)) ||
            s_pack_fields(pk, s_batch_fields, COUNT(s_batch_fields), bt))
            return -1;
        for (size_t l = 0; l < COUNT(s_batch_lists); l++) {
            const s_list_t *L = &s_batch_lists[l];
            const char *base = (const char *)bt;
            if (s_pack_list(pk, L->fields, L->n_fields, *(void *const *)(base + L->array_off), L->size,
                            *(const size_t *)(base + L->count_off), L->max))
                return -1;
        }
        return 0;
    }
    default:
        return -1;
    }
}

static int s_pack_ctl_req(msgpack_packer *pk, const proto_ctl_req_t *req)
{
    if (!req->verb || req->n_args > PROTO_CTL_MAXARGS)
        return -1;
    for (size_t i = 0; i < req->n_args; i++) {
        if (!req->keys[i] || !*req->keys[i] || !req->values[i])
            return -1;
        for (size_t j = 0; j < i; j++)
            if (strcmp(req->keys[i], req->keys[j]) == 0)
                return -1;
    }
    if (s_pack_str(pk, req->verb) || msgpack_pack_map(pk, req->n_args))
        return -1;
    for (size_t i = 0; i < req->n_args; i++)
        if (s_pack_str(pk, req->keys[i]) || s_pack_str(pk, req->values[i]))
            return -1;
    return 0;
}

/* A first guess of the encoded size, so that big messages rarely reallocate. */
static size_t s_size_hint(const proto_msg_t *msg)
{
    size_t hint = 256;
    if ((msg->cmd == PROTO_TASK || msg->cmd == PROTO_RESULT) && msg->body == PROTO_BODY_PAGE)
        hint += msg->u.page.body_len;
    else if ((msg->cmd == PROTO_TASK || msg->cmd == PROTO_RESULT) && msg->body == PROTO_BODY_BATCH &&
             msg->u.batch.n_items <= S_MAX_ITEMS && msg->u.batch.n_quarantine <= S_MAX_QUARANTINE) {
        hint += msg->u.batch.n_items * 512 + msg->u.batch.n_quarantine * 128;
        for (size_t i = 0; msg->u.batch.quarantine && i < msg->u.batch.n_quarantine; i++)
            hint += msg->u.batch.quarantine[i].raw_len;
    }
    return hint;
}

int proto_encode(const proto_msg_t *msg, uint8_t **data, size_t *size)
{
    assert(msg && data && size);
    *data = NULL;
    *size = 0;
    proto_cmd_t cmd = msg->cmd;
    if (cmd < PROTO_READY || cmd > PROTO_REPORT)
        return -1;
    if ((cmd == PROTO_TASK || cmd == PROTO_RESULT) && !s_body_allowed(cmd, msg->body))
        return -1;
    if (cmd == PROTO_READY && msg->u.ready.capacity < 1)
        return -1;

    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init(&sbuf);
    size_t hint = s_size_hint(msg);
    sbuf.data = malloc(hint);
    if (!sbuf.data)
        return -1;
    sbuf.alloc = hint;
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sbuf, msgpack_sbuffer_write);

    int rc = msgpack_pack_array(&pk, s_cmd_fields[cmd]) || msgpack_pack_int64(&pk, PROTO_VERSION) ||
             msgpack_pack_int64(&pk, cmd);
    if (rc == 0) {
        switch (cmd) {
        case PROTO_READY:
            rc = s_pack_fields(&pk, s_ready_fields, COUNT(s_ready_fields), &msg->u.ready);
            break;
        case PROTO_TASK:
        case PROTO_RESULT:
            rc = msgpack_pack_uint64(&pk, msg->task_id) || msgpack_pack_int64(&pk, msg->body) ||
                 s_pack_body(&pk, msg);
            break;
        case PROTO_NACK:
            rc = msgpack_pack_uint64(&pk, msg->task_id) ||
                 s_pack_fields(&pk, s_nack_fields, COUNT(s_nack_fields), &msg->u.nack);
            break;
        case PROTO_CTL_REQ:
            rc = s_pack_ctl_req(&pk, &msg->u.ctl_req);
            break;
        case PROTO_CTL_REP:
            rc = s_pack_fields(&pk, s_ctl_rep_fields, COUNT(s_ctl_rep_fields), &msg->u.ctl_rep);
            break;
        case PROTO_REPORT:
            rc = s_pack_fields(&pk, s_report_fields, COUNT(s_report_fields), &msg->u.report);
            break;
        case PROTO_TOKEN:
            rc = s_pack_fields(&pk, s_token_fields, COUNT(s_token_fields), &msg->u.token);
            break;
        default: /* HEARTBEAT, TOKEN_REQ, DISCONNECT: no fields */
            break;
        }
    }
    if (rc != 0) {
        msgpack_sbuffer_destroy(&sbuf);
        return -1;
    }
    *data = (uint8_t *)sbuf.data;
    *size = sbuf.size;
    return 0;
}

/* --------------------------------------------------------------- decoding */

typedef struct {
    char *err;
    size_t errlen;
    proto_msg_t *msg;
    proto_cmd_t cmd;   /* 0 until known */
    proto_body_t body; /* 0 outside a body */
    const char *scope; /* NULL, "body", "item", "quarantine" */
    size_t index;      /* of the item or quarantine record */
} s_dec_t;

/* Write "<CMD> <BODY>: <scope> <index> <what>" into err; returns -1. */
static int s_fail(s_dec_t *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int s_fail(s_dec_t *d, const char *fmt, ...)
{
    if (!d->err || d->errlen == 0)
        return -1;
    char prefix[96] = "";
    if (d->cmd) {
        int n = snprintf(prefix, sizeof(prefix), "%s%s%s: ", proto_cmd_name(d->cmd), d->body ? " " : "",
                         d->body ? s_body_names[d->body] : "");
        if (d->scope && n > 0 && (size_t)n < sizeof(prefix)) {
            if (strcmp(d->scope, "body") == 0)
                snprintf(prefix + n, sizeof(prefix) - n, "body ");
            else
                snprintf(prefix + n, sizeof(prefix) - n, "%s %zu ", d->scope, d->index);
        }
    }
    char what[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    snprintf(d->err, d->errlen, "%s%s", prefix, what);
    return -1;
}

static uint64_t s_be(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

/* How each msgpack header byte 0xc0..0xdf continues (the msgpack spec, "formats"). */
enum { S_FIXED, S_PAYLOAD, S_EXT, S_ARRAY, S_MAP, S_INVALID };
static const struct {
    uint8_t kind;
    uint8_t lenbytes; /* size of the big-endian length or count that follows */
    uint8_t skip;     /* S_FIXED: payload bytes */
} s_formats[32] = {
    {S_FIXED, 0, 0},   /* c0 nil */
    {S_INVALID, 0, 0}, /* c1 never used */
    {S_FIXED, 0, 0},   /* c2 false */
    {S_FIXED, 0, 0},   /* c3 true */
    {S_PAYLOAD, 1, 0}, /* c4 bin 8 */
    {S_PAYLOAD, 2, 0}, /* c5 bin 16 */
    {S_PAYLOAD, 4, 0}, /* c6 bin 32 */
    {S_EXT, 1, 0},     /* c7 ext 8 */
    {S_EXT, 2, 0},     /* c8 ext 16 */
    {S_EXT, 4, 0},     /* c9 ext 32 */
    {S_FIXED, 0, 4},   /* ca float 32 */
    {S_FIXED, 0, 8},   /* cb float 64 */
    {S_FIXED, 0, 1},   /* cc uint 8 */
    {S_FIXED, 0, 2},   /* cd uint 16 */
    {S_FIXED, 0, 4},   /* ce uint 32 */
    {S_FIXED, 0, 8},   /* cf uint 64 */
    {S_FIXED, 0, 1},   /* d0 int 8 */
    {S_FIXED, 0, 2},   /* d1 int 16 */
    {S_FIXED, 0, 4},   /* d2 int 32 */
    {S_FIXED, 0, 8},   /* d3 int 64 */
    {S_FIXED, 0, 2},   /* d4 fixext 1 (type + data) */
    {S_FIXED, 0, 3},   /* d5 fixext 2 */
    {S_FIXED, 0, 5},   /* d6 fixext 4 */
    {S_FIXED, 0, 9},   /* d7 fixext 8 */
    {S_FIXED, 0, 17},  /* d8 fixext 16 */
    {S_PAYLOAD, 1, 0}, /* d9 str 8 */
    {S_PAYLOAD, 2, 0}, /* da str 16 */
    {S_PAYLOAD, 4, 0}, /* db str 32 */
    {S_ARRAY, 2, 0},   /* dc array 16 */
    {S_ARRAY, 4, 0},   /* dd array 32 */
    {S_MAP, 2, 0},     /* de map 16 */
    {S_MAP, 4, 0},     /* df map 32 */
};

/* Check the raw msgpack structure before msgpack-c allocates anything (see the top). */
static int s_scan(s_dec_t *d, const uint8_t *p, size_t size)
{
    if (size == 0)
        return s_fail(d, "empty frame");
    size_t pos = 0;
    uint64_t pending = 1; /* values still to read; each takes at least one byte */
    while (pending > 0) {
        if (pos >= size)
            return s_fail(d, "truncated: %" PRIu64 " values missing at byte %zu", pending, pos);
        size_t at = pos;
        uint8_t b = p[pos++];
        pending--;
        uint64_t skip = 0;          /* payload bytes after the header */
        uint64_t elems = 0;         /* values contained */
        if (b <= 0x7f || b >= 0xe0) /* positive and negative fixint */
            ;
        else if (b <= 0x8f) /* fixmap */
            elems = 2u * (b & 0x0f);
        else if (b <= 0x9f) /* fixarray */
            elems = b & 0x0f;
        else if (b <= 0xbf) /* fixstr */
            skip = b & 0x1f;
        else {
            int kind = s_formats[b - 0xc0].kind;
            size_t lenbytes = s_formats[b - 0xc0].lenbytes;
            if (kind == S_INVALID)
                return s_fail(d, "invalid msgpack byte 0x%02x at byte %zu", b, at);
            skip = s_formats[b - 0xc0].skip;
            if (lenbytes) {
                if (size - pos < lenbytes)
                    return s_fail(d, "truncated: length at byte %zu cut short", at);
                uint64_t len = s_be(p + pos, lenbytes);
                pos += lenbytes;
                if (kind == S_PAYLOAD)
                    skip = len;
                else if (kind == S_EXT)
                    skip = len + 1; /* the type byte */
                else
                    elems = kind == S_ARRAY ? len : 2 * len;
            }
        }
        if (skip > size - pos)
            return s_fail(d, "truncated: value at byte %zu announces %" PRIu64 " bytes, %zu left", at, skip,
                          size - pos);
        pos += skip;
        pending += elems;
        if (pending > size - pos)
            return s_fail(d, "truncated: container at byte %zu announces more values than the %zu bytes left",
                          at, size - pos);
    }
    if (pos != size)
        return s_fail(d, "%zu bytes of trailing garbage after the message", size - pos);
    return 0;
}

/* A msgpack string usable as a C string: no NUL inside (an empty one may have ptr NULL). */
static bool s_str_ok(const msgpack_object *o)
{
    return o->type == MSGPACK_OBJECT_STR &&
           (o->via.str.size == 0 || !memchr(o->via.str.ptr, 0, o->via.str.size));
}

/* One field, checked against its description and stored at base. */
static int s_get_field(s_dec_t *d, const msgpack_object *o, const s_field_t *f, size_t index, void *base)
{
    char *p = (char *)base + f->off;
    const char *problem = NULL;
    switch (f->type) {
    case F_I32:
    case F_I64:
    case F_I64N:
    case F_STAGE: {
        int64_t v;
        if (o->type == MSGPACK_OBJECT_NIL && f->type == F_I64N) {
            *(int64_t *)p = PROTO_NULL;
            return 0;
        }
        if (o->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
            if (o->via.u64 > INT64_MAX) {
                problem = "is out of range";
                break;
            }
            v = (int64_t)o->via.u64;
        }
        else if (o->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
            v = o->via.i64;
        else {
            problem = f->type == F_I64N ? "is not an integer or nil" : "is not an integer";
            break;
        }
        if (f->type == F_I32) {
            if (v < INT32_MIN || v > INT32_MAX)
                problem = "is out of range for int32";
            else
                *(int32_t *)p = (int32_t)v;
        }
        else if (f->type == F_STAGE) {
            if (v < PROTO_STAGE_FETCH || v >= PROTO_STAGES)
                problem = "is not a stage (1 fetch, 2 transform, 3 sink, 4 store, 5 photo)";
            else
                *(proto_stage_t *)p = (proto_stage_t)v;
        }
        else
            *(int64_t *)p = v;
        break;
    }
    case F_BOOL:
        if (o->type == MSGPACK_OBJECT_BOOLEAN)
            *(bool *)p = o->via.boolean;
        else
            problem = "is not a boolean";
        break;
    case F_STR:
    case F_STRN:
        if (o->type == MSGPACK_OBJECT_NIL && f->type == F_STRN)
            *(char **)p = NULL;
        else if (o->type != MSGPACK_OBJECT_STR)
            problem = f->type == F_STRN ? "is not a string or nil" : "is not a string";
        else if (!s_str_ok(o))
            problem = "contains a NUL byte";
        else if (!(*(char **)p = s_arena_strndup(d->msg, o->via.str.ptr, o->via.str.size)))
            problem = "is too big (out of memory)";
        break;
    case F_BIN: {
        uint8_t **data = (uint8_t **)p;
        size_t *len = (size_t *)((char *)base + f->len_off);
        if (o->type == MSGPACK_OBJECT_NIL) {
            *data = NULL;
            *len = 0;
        }
        else if (o->type != MSGPACK_OBJECT_BIN)
            problem = "is not binary or nil";
        else if (!(*data = s_arena_alloc(d->msg, o->via.bin.size, 1)))
            problem = "is too big (out of memory)";
        else {
            if (o->via.bin.size)
                memcpy(*data, o->via.bin.ptr, o->via.bin.size);
            *len = o->via.bin.size;
        }
        break;
    }
    default:
        problem = "has an unknown type";
    }
    return problem ? s_fail(d, "field %zu (%s) %s", index, f->name, problem) : 0;
}

/* Fields tab[0..n) from objects o[0..n), numbered from first in errors. */
static int s_get_fields(s_dec_t *d, const msgpack_object *o, size_t first, const s_field_t *tab, size_t n,
                        void *base)
{
    for (size_t i = 0; i < n; i++)
        if (s_get_field(d, &o[i], &tab[i], first + i, base) != 0)
            return -1;
    return 0;
}

/* A body or record: an array of exactly n fields. */
static int s_get_record(s_dec_t *d, const msgpack_object *o, const s_field_t *tab, size_t n, void *base)
{
    if (o->type != MSGPACK_OBJECT_ARRAY)
        return s_fail(d, "is not an array");
    if (o->via.array.size != n)
        return s_fail(d, "has %" PRIu32 " fields, expected %zu", o->via.array.size, n);
    return s_get_fields(d, o->via.array.ptr, 0, tab, n, base);
}

/* A list of records (items, quarantine) into a new array in the arena. */
static int s_get_list(s_dec_t *d, const msgpack_object *o, size_t index, const char *name, const char *scope,
                      const s_field_t *tab, size_t nfields, size_t elem_size, size_t max, void **array,
                      size_t *count)
{
    if (o->type != MSGPACK_OBJECT_ARRAY)
        return s_fail(d, "field %zu (%s) is not an array", index, name);
    size_t n = o->via.array.size;
    if (n > max)
        return s_fail(d, "field %zu (%s) has %zu records, at most %zu allowed", index, name, n, max);
    *array = NULL;
    *count = 0;
    if (n == 0)
        return 0;
    char *records = s_arena_alloc(d->msg, n * elem_size, S_ALIGN);
    if (!records)
        return s_fail(d, "field %zu (%s) is too big (out of memory)", index, name);
    memset(records, 0, n * elem_size);
    d->scope = scope;
    for (size_t i = 0; i < n; i++) {
        d->index = i;
        if (s_get_record(d, &o->via.array.ptr[i], tab, nfields, records + i * elem_size) != 0)
            return -1;
    }
    d->scope = "body";
    *array = records;
    *count = n;
    return 0;
}

static int s_get_body(s_dec_t *d, const msgpack_object *o)
{
    proto_msg_t *msg = d->msg;
    d->body = msg->body;
    d->scope = "body";
    switch (msg->body) {
    case PROTO_BODY_FETCH:
        return s_get_record(d, o, s_fetch_fields, COUNT(s_fetch_fields), &msg->u.fetch);
    case PROTO_BODY_PAGE:
        return s_get_record(d, o, s_page_fields, COUNT(s_page_fields), &msg->u.page);
    case PROTO_BODY_COMMIT:
        return s_get_record(d, o, s_commit_fields, COUNT(s_commit_fields), &msg->u.commit);
    case PROTO_BODY_LOAD:
        return s_get_record(d, o, s_load_fields, COUNT(s_load_fields), &msg->u.load);
    case PROTO_BODY_STORED:
        return s_get_record(d, o, s_stored_fields, COUNT(s_stored_fields), &msg->u.stored);
    case PROTO_BODY_IMAGE:
        return s_get_record(d, o, s_image_fields, COUNT(s_image_fields), &msg->u.image);
    case PROTO_BODY_PHOTO:
        return s_get_record(d, o, s_photo_stored_fields, COUNT(s_photo_stored_fields), &msg->u.photo);
    case PROTO_BODY_BATCH: {
        proto_batch_t *bt = &msg->u.batch;
        size_t n = COUNT(s_batch_fields) + COUNT(s_batch_lists);
        if (o->via.array.size != n)
            return s_fail(d, "has %" PRIu32 " fields, expected %zu", o->via.array.size, n);
        const msgpack_object *f = o->via.array.ptr;
        if (s_get_fields(d, f, 0, s_batch_fields, COUNT(s_batch_fields), bt) != 0)
            return -1;
        for (size_t l = 0; l < COUNT(s_batch_lists); l++) {
            const s_list_t *L = &s_batch_lists[l];
            size_t index = COUNT(s_batch_fields) + l;
            char *base = (char *)bt;
            void *array = NULL;
            if (s_get_list(d, &f[index], index, L->name, L->scope, L->fields, L->n_fields, L->size, L->max, &array,
                           (size_t *)(base + L->count_off)) != 0)
                return -1;
            *(void **)(base + L->array_off) = array;
        }
        return 0;
    }
    default:
        return s_fail(d, "unknown body kind");
    }
}

static int s_get_ctl_req(s_dec_t *d, const msgpack_object *f)
{
    static const s_field_t verb = FLD(proto_ctl_req_t, F_STR, verb);
    proto_ctl_req_t *req = &d->msg->u.ctl_req;
    if (s_get_field(d, &f[2], &verb, 2, req) != 0)
        return -1;
    if (f[3].type != MSGPACK_OBJECT_MAP)
        return s_fail(d, "field 3 (args) is not a map");
    size_t n = f[3].via.map.size;
    if (n > PROTO_CTL_MAXARGS)
        return s_fail(d, "field 3 (args) has %zu arguments, at most %d allowed", n, PROTO_CTL_MAXARGS);
    for (size_t i = 0; i < n; i++) {
        const msgpack_object *k = &f[3].via.map.ptr[i].key;
        const msgpack_object *v = &f[3].via.map.ptr[i].val;
        if (!s_str_ok(k) || k->via.str.size == 0)
            return s_fail(d, "argument %zu: key is not a non-empty string", i);
        if (!s_str_ok(v))
            return s_fail(d, "argument %zu: value is not a string", i);
        for (size_t j = 0; j < i; j++)
            if (f[3].via.map.ptr[j].key.via.str.size == k->via.str.size &&
                memcmp(f[3].via.map.ptr[j].key.via.str.ptr, k->via.str.ptr, k->via.str.size) == 0)
                return s_fail(d, "argument %zu: duplicate key \"%.*s\"", i,
                              (int)(k->via.str.size > 32 ? 32 : k->via.str.size), k->via.str.ptr);
        req->keys[i] = s_arena_strndup(d->msg, k->via.str.ptr, k->via.str.size);
        req->values[i] = s_arena_strndup(d->msg, v->via.str.ptr, v->via.str.size);
        if (!req->keys[i] || !req->values[i])
            return s_fail(d, "out of memory");
        req->n_args = i + 1;
    }
    return 0;
}

/* A uint64 field (task_id). */
static int s_get_u64(s_dec_t *d, const msgpack_object *o, size_t index, const char *name, uint64_t *out)
{
    if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return s_fail(d, "field %zu (%s) is not a non-negative integer", index, name);
    *out = o->via.u64;
    return 0;
}

/* What the arena of a decoded TASK or RESULT needs: the frame's bytes cover every
   string with its NUL (each has a header byte), and a BATCH's lists also need their
   records. Reserving it all up front makes one block; sized on the frame alone, a
   BATCH grew a second block twice the first (the sink keeps dozens of them). The
   record counts were checked against the frame by s_scan, as s_get_list does. */
static size_t s_decoded_size(const msgpack_object *f, size_t size)
{
    size_t need = size + 256;
    if (f[3].type != MSGPACK_OBJECT_POSITIVE_INTEGER || f[3].via.u64 != PROTO_BODY_BATCH ||
        f[4].type != MSGPACK_OBJECT_ARRAY || f[4].via.array.size != COUNT(s_batch_fields) + COUNT(s_batch_lists))
        return need;
    for (size_t l = 0; l < COUNT(s_batch_lists); l++) {
        const msgpack_object *list = &f[4].via.array.ptr[COUNT(s_batch_fields) + l];
        if (list->type == MSGPACK_OBJECT_ARRAY && list->via.array.size <= s_batch_lists[l].max)
            need += list->via.array.size * s_batch_lists[l].size + S_ALIGN;
    }
    return need;
}

static int s_get_msg(s_dec_t *d, const msgpack_object *root, size_t size)
{
    if (root->type != MSGPACK_OBJECT_ARRAY)
        return s_fail(d, "not a msgpack array");
    const msgpack_object *f = root->via.array.ptr;
    uint32_t n = root->via.array.size;
    if (n < 2)
        return s_fail(d, "array of %" PRIu32 " fields, expected [version, command, ...]", n);
    if (f[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return s_fail(d, "version is not a non-negative integer");
    if (f[0].via.u64 != PROTO_VERSION)
        return s_fail(d, "version %" PRIu64 " not supported (this peer speaks %d)", f[0].via.u64,
                      PROTO_VERSION);
    if (f[1].type != MSGPACK_OBJECT_POSITIVE_INTEGER)
        return s_fail(d, "command is not a non-negative integer");
    if (f[1].via.u64 < PROTO_READY || f[1].via.u64 > PROTO_REPORT)
        return s_fail(d, "unknown command %" PRIu64, f[1].via.u64);
    proto_cmd_t cmd = (proto_cmd_t)f[1].via.u64;
    d->cmd = cmd;
    if (n != s_cmd_fields[cmd])
        return s_fail(d, "%" PRIu32 " fields, expected %u", n, s_cmd_fields[cmd]);

    /* bodies need about as much arena as the frame: one block up front; the
       small commands allocate lazily (HEARTBEAT and TOKEN not at all) */
    proto_msg_t *msg = d->msg = proto_msg_new(cmd);
    if (!msg || ((cmd == PROTO_TASK || cmd == PROTO_RESULT) && s_arena_reserve(msg, s_decoded_size(f, size)) != 0))
        return s_fail(d, "out of memory");
    switch (cmd) {
    case PROTO_READY:
        if (s_get_fields(d, f + 2, 2, s_ready_fields, COUNT(s_ready_fields), &msg->u.ready) != 0)
            return -1;
        if (msg->u.ready.capacity < 1)
            return s_fail(d, "field 4 (capacity) is %" PRId32 ", must be at least 1", msg->u.ready.capacity);
        return 0;
    case PROTO_TASK:
    case PROTO_RESULT:
        if (s_get_u64(d, &f[2], 2, "task_id", &msg->task_id) != 0)
            return -1;
        if (f[3].type != MSGPACK_OBJECT_POSITIVE_INTEGER)
            return s_fail(d, "field 3 (body_kind) is not a non-negative integer");
        if (!s_body_allowed(cmd, f[3].via.u64))
            return s_fail(d, "field 3 (body_kind) %" PRIu64 " is not allowed in a %s", f[3].via.u64,
                          proto_cmd_name(cmd));
        msg->body = (proto_body_t)f[3].via.u64;
        if (f[4].type != MSGPACK_OBJECT_ARRAY)
            return s_fail(d, "field 4 (body) is not an array");
        return s_get_body(d, &f[4]);
    case PROTO_NACK:
        if (s_get_u64(d, &f[2], 2, "task_id", &msg->task_id) != 0)
            return -1;
        return s_get_fields(d, f + 3, 3, s_nack_fields, COUNT(s_nack_fields), &msg->u.nack);
    case PROTO_CTL_REQ:
        return s_get_ctl_req(d, f);
    case PROTO_CTL_REP:
        return s_get_fields(d, f + 2, 2, s_ctl_rep_fields, COUNT(s_ctl_rep_fields), &msg->u.ctl_rep);
    case PROTO_REPORT:
        if (s_get_fields(d, f + 2, 2, s_report_fields, COUNT(s_report_fields), &msg->u.report) != 0)
            return -1;
        if (msg->u.report.identity < 0)
            return s_fail(d, "field 5 (identity) is %" PRId32 ", must be at least 0", msg->u.report.identity);
        return 0;
    case PROTO_TOKEN:
        if (s_get_fields(d, f + 2, 2, s_token_fields, COUNT(s_token_fields), &msg->u.token) != 0)
            return -1;
        if (msg->u.token.identity < 0)
            return s_fail(d, "field 2 (identity) is %" PRId32 ", must be at least 0", msg->u.token.identity);
        return 0;
    default: /* HEARTBEAT, TOKEN_REQ, DISCONNECT */
        return 0;
    }
}

proto_msg_t *proto_decode(const uint8_t *data, size_t size, char *err, size_t errlen)
{
    s_dec_t d = {.err = err, .errlen = errlen};
    if (err && errlen)
        err[0] = '\0';
    if (!data && size)
        size = 0;
    if (s_scan(&d, data, size) != 0)
        return NULL;
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    size_t off = 0;
    msgpack_unpack_return rc = msgpack_unpack_next(&up, (const char *)data, size, &off);
    int ok = -1;
    if ((rc == MSGPACK_UNPACK_SUCCESS || rc == MSGPACK_UNPACK_EXTRA_BYTES) && off == size)
        ok = s_get_msg(&d, &up.data, size);
    else if (rc == MSGPACK_UNPACK_NOMEM_ERROR)
        s_fail(&d, "out of memory or nested too deeply");
    else
        s_fail(&d, "malformed msgpack (nested too deeply?)");
    msgpack_unpacked_destroy(&up);
    if (ok != 0) {
        proto_msg_destroy(&d.msg);
        return NULL;
    }
    return d.msg;
}

/* ------------------------------------------------------------------ tests */

/* ------------------------------------------------------------------ tests */

/* xorshift64: a fixed-seed generator for the mutation loop */
static uint64_t s_rand(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *state = x;
}

static double s_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static bool s_str_eq(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

/* Item i of a test batch; full: every optional field set, else all absent. */
static void s_test_item(proto_msg_t *msg, proto_item_t *it, size_t i, bool full)
{
    char buf[160];
    memset(it, 0, sizeof(*it));
    it->item_id = 7000000000LL + (int64_t)i;
    it->catalog_id = 221;
    it->first_seen_at_ms = 1795000000123LL;
    it->pos = (int32_t)i;
    it->promoted = full && i % 2;
    if (!full) {
        it->price = it->service_fee = it->total_price = PROTO_NULL;
        it->user_id = it->favourite_count = it->view_count = it->created_at = PROTO_NULL;
        return;
    }
    snprintf(buf, sizeof(buf), "T-shirt \xc3\xa0 riscas n.\xc2\xba %zu, quase nova", i);
    it->title = proto_msg_strdup(msg, buf);
    it->price = 2050 + (int64_t)i;
    it->currency = "EUR"; /* builders may point at memory that outlives the encode */
    it->service_fee = 173;
    it->total_price = 2223 + (int64_t)i;
    it->brand = proto_msg_strdup(msg, "Zara");
    it->size_title = proto_msg_strdup(msg, "M / 38 / 10");
    it->size_kind = "letter";
    it->size_value = "M";
    it->condition = proto_msg_strdup(msg, "Muito bom");
    it->user_id = -(int64_t)i - 1; /* negative, to cover negative integers */
    snprintf(buf, sizeof(buf), "seller_%zu", i);
    it->user_login = proto_msg_strdup(msg, buf);
    snprintf(buf, sizeof(buf), "https://www.vinted.pt/items/%" PRId64 "-t-shirt-as-riscas", it->item_id);
    it->url = proto_msg_strdup(msg, buf);
    snprintf(buf, sizeof(buf),
             "https://images1.vinted.net/t/01_00abc_%zu/f800/1795000000.webp?s=0123456789abcdef", i);
    it->photo_url = proto_msg_strdup(msg, buf);
    it->favourite_count = (int64_t)i * 3;
    it->view_count = INT64_MAX;
    it->created_at = 1795000000;
}

static proto_msg_t *s_test_batch(proto_cmd_t cmd, size_t n_items, size_t n_quarantine, bool full)
{
    proto_msg_t *msg = proto_msg_new(cmd);
    assert(msg);
    msg->task_id = 42;
    msg->body = PROTO_BODY_BATCH;
    proto_batch_t *bt = &msg->u.batch;
    bt->window_id = 12;
    bt->catalog_id = 221;
    bt->page = 3;
    bt->attempt = 1;
    bt->fetched_at_ms = 1795000000123LL;
    bt->target_id = full ? 55 : 0;
    bt->site = full ? proto_msg_strdup(msg, "co.uk") : NULL;
    bt->n_items = n_items;
    bt->items = n_items ? proto_msg_alloc(msg, n_items * sizeof(proto_item_t)) : NULL;
    for (size_t i = 0; i < n_items; i++)
        s_test_item(msg, &bt->items[i], i, full);
    bt->n_quarantine = n_quarantine;
    bt->quarantine = n_quarantine ? proto_msg_alloc(msg, n_quarantine * sizeof(proto_quarantine_t)) : NULL;
    for (size_t i = 0; i < n_quarantine; i++) {
        proto_quarantine_t *q = &bt->quarantine[i];
        q->pos = i == 0 ? -1 : (int32_t)i;
        q->rule = proto_msg_strdup(msg, i == 0 ? "malformed_page" : "price_invalid");
        if (full) {
            q->detail = proto_msg_strdup(msg, "price \"abc\" is not a decimal");
            q->raw = proto_msg_alloc(msg, 5);
            memcpy(q->raw, "{\"a\"\0", 5); /* binary: a NUL inside */
            q->raw_len = 5;
        }
    }
    if (n_items > 0) {
        bt->n_photos = 2;
        bt->photos = proto_msg_alloc(msg, 2 * sizeof(proto_photo_t));
        for (size_t i = 0; i < 2; i++)
            bt->photos[i] = (proto_photo_t){.item_id = 7000000001LL, .photo_id = 900 + (int64_t)i,
                                            .url = proto_msg_strdup(msg, "https://images1.vinted.net/t/a/f800/1.webp?s=x"),
                                            .is_main = i == 0, .position = (int32_t)i};
        bt->n_snapshots = 2;
        bt->snapshots = proto_msg_alloc(msg, 2 * sizeof(proto_snapshot_t));
        bt->snapshots[0] = (proto_snapshot_t){.item_id = 7000000001LL, .user_id = 55, .price = 1999,
                                              .currency = proto_msg_strdup(msg, "EUR"), .favourite_count = 3,
                                              .view_count = 40, .is_reserved = true, .is_closed = full,
                                              .closing_action = full ? proto_msg_strdup(msg, "sold") : NULL};
        bt->snapshots[1] = (proto_snapshot_t){.item_id = 7000000002LL, .user_id = PROTO_NULL, .price = PROTO_NULL,
                                              .favourite_count = PROTO_NULL, .view_count = PROTO_NULL,
                                              .removed = true};
        bt->n_users = 1;
        bt->users = proto_msg_alloc(msg, sizeof(proto_user_snapshot_t));
        bt->users[0] = (proto_user_snapshot_t){.user_id = 55, .login = proto_msg_strdup(msg, "ana"),
                                               .item_count = 12, .feedback_count = PROTO_NULL,
                                               .feedback_reputation = full ? 973 : PROTO_NULL,
                                               .positive_feedback_count = PROTO_NULL,
                                               .neutral_feedback_count = PROTO_NULL,
                                               .negative_feedback_count = PROTO_NULL, .followers_count = 4,
                                               .city = full ? proto_msg_strdup(msg, "Lisboa") : NULL};
        bt->n_catalogs = 2;
        bt->catalogs = proto_msg_alloc(msg, 2 * sizeof(proto_catalog_t));
        bt->catalogs[0] = (proto_catalog_t){.catalog_id = 1904, .title = proto_msg_strdup(msg, "Mulher"),
                                            .code = full ? proto_msg_strdup(msg, "WOMENS") : NULL};
        bt->catalogs[1] = (proto_catalog_t){.catalog_id = 4, .parent_id = 1904, .depth = 1,
                                            .title = proto_msg_strdup(msg, "Roupa"),
                                            .url = full ? proto_msg_strdup(msg, "/women/clothes") : NULL};
    }
    return msg;
}

/* One sample of every command and body kind, full or with optional fields absent. */
static size_t s_test_samples(proto_msg_t **out, bool full)
{
    size_t n = 0;
    proto_msg_t *m;
    for (int cmd = PROTO_HEARTBEAT; cmd <= PROTO_DISCONNECT; cmd++)
        if (cmd != PROTO_TASK && cmd != PROTO_RESULT && cmd != PROTO_NACK)
            out[n++] = proto_msg_new((proto_cmd_t)cmd);

    m = out[n++] = proto_msg_new(PROTO_READY);
    m->u.ready.stage = full ? PROTO_STAGE_SINK : PROTO_STAGE_FETCH;
    m->u.ready.name = proto_msg_strdup(m, "worker-7:1234");
    m->u.ready.capacity = full ? INT32_MAX : 1;

    m = out[n++] = proto_msg_new(PROTO_TASK);
    m->task_id = full ? UINT64_MAX : 0;
    m->body = PROTO_BODY_FETCH;
    m->u.fetch = (proto_fetch_t){.window_id = 12,
                                 .catalog_id = 221,
                                 .page = 1,
                                 .per_page = 96,
                                 .hwm = full ? 7000000000LL : 0,
                                 .attempt = full ? 2 : 0,
                                 .kind = full ? PROTO_FETCH_USER_ITEMS : PROTO_FETCH_CATALOG,
                                 .target_id = full ? 55 : 0,
                                 .api_page = 1,
                                 .price_from = full ? 1250 : 0,
                                 .price_to = full ? INT64_MAX : 0,
                                 .pin_time = full ? 1760373805 : 0};
    m->u.fetch.site = full ? proto_msg_strdup(m, "fr") : NULL;

    for (int cmd = PROTO_TASK; cmd <= PROTO_RESULT; cmd++) {
        m = out[n++] = proto_msg_new((proto_cmd_t)cmd);
        m->task_id = 99;
        m->body = PROTO_BODY_PAGE;
        proto_page_t *pg = &m->u.page;
        pg->window_id = 12;
        pg->catalog_id = INT32_MIN;
        pg->page = 2;
        pg->attempt = 0;
        pg->fetched_at_ms = 1795000000123LL;
        pg->http_status = 200;
        pg->site = proto_msg_strdup(m, "co.uk");
        pg->api = proto_msg_strdup(m, "v2");
        pg->n_items = 96;
        pg->max_item_id = 7000000095LL;
        pg->more = full;
        pg->total_pages = 10;
        pg->pin_time = full ? 1760373805 : 0;
        if (full) {
            pg->url = proto_msg_strdup(m, "https://www.vinted.co.uk/api/v2/catalog/items?page=2");
            pg->error = proto_msg_strdup(m, "malformed json");
            pg->body_len = 300;
            pg->body = proto_msg_alloc(m, pg->body_len);
            for (size_t i = 0; i < pg->body_len; i++)
                pg->body[i] = (uint8_t)(i * 7);
        }
    }

    out[n++] = s_test_batch(PROTO_TASK, full ? 3 : 2, full ? 2 : 0, full);
    out[n++] = s_test_batch(PROTO_RESULT, full ? 3 : 0, full ? 1 : 0, full);

    m = out[n++] = proto_msg_new(PROTO_RESULT);
    m->task_id = 5;
    m->body = PROTO_BODY_COMMIT;
    m->u.commit = (proto_commit_t){
        .window_id = 12, .page = 3, .attempt = 1, .rows = full ? 96 : 0, .quarantined = full ? 4 : 0};

    m = out[n++] = proto_msg_new(PROTO_TASK);
    m->task_id = 7;
    m->body = PROTO_BODY_LOAD;
    m->u.load.key = proto_msg_strdup(m, full ? "raw/catalog/2026/11/25/17/12/0003-01.json.gz" : "k");

    m = out[n++] = proto_msg_new(PROTO_RESULT);
    m->task_id = 8;
    m->body = PROTO_BODY_STORED;
    m->u.stored.key = proto_msg_strdup(m, "raw/catalog/2026/11/25/17/12/0003-01.json.gz");
    if (full)
        m->u.stored = (proto_stored_t){.window_id = 12, .page = 3, .attempt = 1, .key = m->u.stored.key, .bytes = 7021};

    m = out[n++] = proto_msg_new(PROTO_TASK);
    m->task_id = 11;
    m->body = PROTO_BODY_IMAGE;
    m->u.image = (proto_image_t){.window_id = 3, .item_id = 7000000001LL, .photo_id = 901,
                                 .url = proto_msg_strdup(m, "https://images1.vinted.net/t/a/f800/1.webp?s=x")};

    m = out[n++] = proto_msg_new(full ? PROTO_RESULT : PROTO_TASK);
    m->task_id = 12;
    m->body = PROTO_BODY_PHOTO;
    m->u.photo = (proto_photo_stored_t){.window_id = 3, .item_id = 7000000001LL, .photo_id = 901,
                                        .key = proto_msg_strdup(m, "images/7000000001/901.webp"), .bytes = 4096,
                                        .content_type = full ? proto_msg_strdup(m, "image/webp") : NULL,
                                        .sha256 = full ? proto_msg_strdup(m, "ab12") : NULL, .skipped = full};

    m = out[n++] = proto_msg_new(PROTO_NACK);
    m->task_id = 6;
    m->u.nack.reason = proto_msg_strdup(m, "http 429");
    if (full) {
        m->u.nack.retry_after_ms = 30000;
        m->u.nack.permanent = true;
    }

    m = out[n++] = proto_msg_new(PROTO_CTL_REQ);
    m->u.ctl_req.verb = proto_msg_strdup(m, "window");
    if (full) {
        const char *kv[][2] = {{"catalog", "221"},
                               {"from", "2026-11-25T12:00:00Z"},
                               {"to", "2026-11-25T13:00:00Z"},
                               {"wait", "1"},
                               {"note", ""}};
        for (size_t i = 0; i < 5; i++) {
            m->u.ctl_req.keys[i] = proto_msg_strdup(m, kv[i][0]);
            m->u.ctl_req.values[i] = proto_msg_strdup(m, kv[i][1]);
        }
        m->u.ctl_req.n_args = 5;
    }

    m = out[n++] = proto_msg_new(PROTO_CTL_REP);
    m->u.ctl_rep.status = full ? 3 : 0;
    if (full) {
        m->u.ctl_rep.message = proto_msg_strdup(m, "window 12 failed");
        m->u.ctl_rep.json = proto_msg_strdup(m, "{\"window\":12,\"state\":\"failed\"}");
    }

    m = out[n++] = proto_msg_new(PROTO_REPORT);
    m->u.report.event = proto_msg_strdup(m, "blocked");
    if (full) {
        m->u.report.detail = proto_msg_strdup(m, "403 from www.vinted.pt (cloudflare)");
        m->u.report.backoff_ms = 3600000;
        m->u.report.identity = 3;
    }

    m = out[n++] = proto_msg_new(PROTO_TOKEN);
    m->u.token.identity = full ? 63 : 0;
    for (size_t i = 0; i < n; i++)
        assert(out[i]);
    return n;
}
#define S_TEST_SAMPLES 32

/* Encode, decode, encode again: the same bytes (so every field survived). */
static proto_msg_t *s_test_roundtrip(const proto_msg_t *msg, uint8_t **data, size_t *size)
{
    char err[256];
    int rc = proto_encode(msg, data, size);
    assert(rc == 0 && *data && *size > 0);
    proto_msg_t *copy = proto_decode(*data, *size, err, sizeof(err));
    if (!copy)
        fprintf(stderr, "proto_test: %s does not decode: %s\n", proto_cmd_name(msg->cmd), err);
    assert(copy);
    assert(copy->cmd == msg->cmd && copy->task_id == msg->task_id && copy->body == msg->body);
    uint8_t *again;
    size_t again_size;
    assert(proto_encode(copy, &again, &again_size) == 0);
    assert(again_size == *size && memcmp(again, *data, *size) == 0);
    free(again);
    return copy;
}

static void s_test_item_eq(const proto_item_t *a, const proto_item_t *b)
{
    assert(a->item_id == b->item_id && a->catalog_id == b->catalog_id);
    assert(s_str_eq(a->title, b->title) && a->price == b->price && s_str_eq(a->currency, b->currency));
    assert(a->service_fee == b->service_fee && a->total_price == b->total_price);
    assert(s_str_eq(a->brand, b->brand) && s_str_eq(a->size_title, b->size_title));
    assert(s_str_eq(a->size_kind, b->size_kind) && s_str_eq(a->size_value, b->size_value));
    assert(s_str_eq(a->condition, b->condition) && a->user_id == b->user_id);
    assert(s_str_eq(a->user_login, b->user_login) && s_str_eq(a->url, b->url));
    assert(s_str_eq(a->photo_url, b->photo_url) && a->favourite_count == b->favourite_count);
    assert(a->view_count == b->view_count && a->created_at == b->created_at);
    assert(a->first_seen_at_ms == b->first_seen_at_ms && a->pos == b->pos && a->promoted == b->promoted);
}

/* Field-by-field checks on top of the byte comparison. */
static void s_test_equal(const proto_msg_t *a, const proto_msg_t *b)
{
    switch (a->cmd) {
    case PROTO_READY:
        assert(a->u.ready.stage == b->u.ready.stage && a->u.ready.capacity == b->u.ready.capacity);
        assert(s_str_eq(a->u.ready.name, b->u.ready.name));
        break;
    case PROTO_NACK:
        assert(s_str_eq(a->u.nack.reason, b->u.nack.reason));
        assert(a->u.nack.retry_after_ms == b->u.nack.retry_after_ms);
        assert(a->u.nack.permanent == b->u.nack.permanent);
        break;
    case PROTO_REPORT:
        assert(s_str_eq(a->u.report.event, b->u.report.event));
        assert(s_str_eq(a->u.report.detail, b->u.report.detail));
        assert(a->u.report.backoff_ms == b->u.report.backoff_ms);
        assert(a->u.report.identity == b->u.report.identity);
        break;
    case PROTO_TOKEN:
        assert(a->u.token.identity == b->u.token.identity);
        break;
    case PROTO_CTL_REQ:
        assert(s_str_eq(a->u.ctl_req.verb, b->u.ctl_req.verb));
        assert(a->u.ctl_req.n_args == b->u.ctl_req.n_args);
        for (size_t i = 0; i < a->u.ctl_req.n_args; i++)
            assert(s_str_eq(a->u.ctl_req.keys[i], b->u.ctl_req.keys[i]) &&
                   s_str_eq(a->u.ctl_req.values[i], b->u.ctl_req.values[i]));
        break;
    case PROTO_CTL_REP:
        assert(a->u.ctl_rep.status == b->u.ctl_rep.status);
        assert(s_str_eq(a->u.ctl_rep.message, b->u.ctl_rep.message));
        assert(s_str_eq(a->u.ctl_rep.json, b->u.ctl_rep.json));
        break;
    case PROTO_TASK:
    case PROTO_RESULT:
        if (a->body == PROTO_BODY_FETCH) {
            proto_fetch_t x = a->u.fetch, y = b->u.fetch;
            assert(s_str_eq(x.site, y.site));
            x.site = y.site = NULL;
            assert(memcmp(&x, &y, sizeof x) == 0);
        }
        else if (a->body == PROTO_BODY_COMMIT)
            assert(memcmp(&a->u.commit, &b->u.commit, sizeof(a->u.commit)) == 0);
        else if (a->body == PROTO_BODY_LOAD)
            assert(s_str_eq(a->u.load.key, b->u.load.key));
        else if (a->body == PROTO_BODY_IMAGE) {
            const proto_image_t *p = &a->u.image, *q = &b->u.image;
            assert(p->window_id == q->window_id && p->item_id == q->item_id && p->photo_id == q->photo_id);
            assert(s_str_eq(p->url, q->url));
        }
        else if (a->body == PROTO_BODY_PHOTO) {
            const proto_photo_stored_t *p = &a->u.photo, *q = &b->u.photo;
            assert(p->window_id == q->window_id && p->item_id == q->item_id && p->photo_id == q->photo_id);
            assert(s_str_eq(p->key, q->key) && p->bytes == q->bytes && p->skipped == q->skipped);
            assert(s_str_eq(p->content_type, q->content_type) && s_str_eq(p->sha256, q->sha256));
        }
        else if (a->body == PROTO_BODY_STORED) {
            const proto_stored_t *p = &a->u.stored, *q = &b->u.stored;
            assert(p->window_id == q->window_id && p->page == q->page && p->attempt == q->attempt);
            assert(s_str_eq(p->key, q->key) && p->bytes == q->bytes);
        }
        else if (a->body == PROTO_BODY_PAGE) {
            const proto_page_t *p = &a->u.page, *q = &b->u.page;
            assert(p->window_id == q->window_id && p->catalog_id == q->catalog_id);
            assert(p->page == q->page && p->attempt == q->attempt);
            assert(p->fetched_at_ms == q->fetched_at_ms && p->http_status == q->http_status);
            assert(s_str_eq(p->site, q->site) && s_str_eq(p->api, q->api));
            assert(s_str_eq(p->url, q->url) && s_str_eq(p->error, q->error));
            assert(p->n_items == q->n_items && p->max_item_id == q->max_item_id);
            assert(p->more == q->more && p->total_pages == q->total_pages);
            assert(p->body_len == q->body_len && (p->body == NULL) == (q->body == NULL));
            assert(p->body_len == 0 || memcmp(p->body, q->body, p->body_len) == 0);
            assert(p->kind == q->kind && p->target_id == q->target_id && p->pin_time == q->pin_time);
        }
        else {
            const proto_batch_t *p = &a->u.batch, *q = &b->u.batch;
            assert(p->window_id == q->window_id && p->catalog_id == q->catalog_id);
            assert(p->page == q->page && p->attempt == q->attempt);
            assert(p->fetched_at_ms == q->fetched_at_ms && p->target_id == q->target_id);
            assert(s_str_eq(p->site, q->site));
            assert(p->n_items == q->n_items && p->n_quarantine == q->n_quarantine);
            for (size_t i = 0; i < p->n_items; i++) {
                s_test_item_eq(&p->items[i], &q->items[i]);
                assert(proto_item_null_mask(&p->items[i]) == proto_item_null_mask(&q->items[i]));
            }
            assert(p->n_photos == q->n_photos && p->n_snapshots == q->n_snapshots && p->n_users == q->n_users);
            for (size_t i = 0; i < p->n_photos; i++) {
                const proto_photo_t *x = &p->photos[i], *y = &q->photos[i];
                assert(x->item_id == y->item_id && x->photo_id == y->photo_id && s_str_eq(x->url, y->url));
                assert(x->is_main == y->is_main && x->position == y->position);
            }
            for (size_t i = 0; i < p->n_snapshots; i++) {
                const proto_snapshot_t *x = &p->snapshots[i], *y = &q->snapshots[i];
                assert(x->item_id == y->item_id && x->user_id == y->user_id && x->price == y->price);
                assert(s_str_eq(x->currency, y->currency) && x->favourite_count == y->favourite_count);
                assert(x->view_count == y->view_count && x->is_reserved == y->is_reserved);
                assert(x->is_hidden == y->is_hidden && x->is_closed == y->is_closed && x->removed == y->removed);
                assert(s_str_eq(x->closing_action, y->closing_action));
            }
            for (size_t i = 0; i < p->n_users; i++) {
                const proto_user_snapshot_t *x = &p->users[i], *y = &q->users[i];
                assert(x->user_id == y->user_id && s_str_eq(x->login, y->login) && x->item_count == y->item_count);
                assert(x->feedback_count == y->feedback_count && x->feedback_reputation == y->feedback_reputation);
                assert(x->positive_feedback_count == y->positive_feedback_count);
                assert(x->neutral_feedback_count == y->neutral_feedback_count);
                assert(x->negative_feedback_count == y->negative_feedback_count);
                assert(x->followers_count == y->followers_count && s_str_eq(x->city, y->city));
                assert(s_str_eq(x->country, y->country));
            }
            assert(p->n_catalogs == q->n_catalogs);
            for (size_t i = 0; i < p->n_catalogs; i++) {
                const proto_catalog_t *x = &p->catalogs[i], *y = &q->catalogs[i];
                assert(x->catalog_id == y->catalog_id && x->parent_id == y->parent_id && x->depth == y->depth);
                assert(s_str_eq(x->title, y->title) && s_str_eq(x->code, y->code) && s_str_eq(x->url, y->url));
            }
            for (size_t i = 0; i < p->n_quarantine; i++) {
                const proto_quarantine_t *x = &p->quarantine[i], *y = &q->quarantine[i];
                assert(x->pos == y->pos && s_str_eq(x->rule, y->rule) && s_str_eq(x->detail, y->detail));
                assert(x->raw_len == y->raw_len && (x->raw == NULL) == (y->raw == NULL));
                assert(x->raw_len == 0 || memcmp(x->raw, y->raw, x->raw_len) == 0);
            }
        }
        break;
    default:
        break;
    }
}

/* A frame built by hand with the packer, for the malformation tests. */
typedef struct {
    msgpack_sbuffer sbuf;
    msgpack_packer pk;
} s_frame_t;

static msgpack_packer *s_frame_begin(s_frame_t *f)
{
    msgpack_sbuffer_init(&f->sbuf);
    msgpack_packer_init(&f->pk, &f->sbuf, msgpack_sbuffer_write);
    return &f->pk;
}

/* Decoding must fail with err containing needle; the frame is freed. */
static void s_expect_reject(const void *data, size_t size, const char *needle, bool verbose)
{
    char err[256];
    /* a private copy of exactly size bytes, so that ASan sees any overread */
    uint8_t *copy = malloc(size ? size : 1);
    assert(copy);
    if (size)
        memcpy(copy, data, size);
    proto_msg_t *msg = proto_decode(copy, size, err, sizeof(err));
    free(copy);
    if (msg || !strstr(err, needle))
        fprintf(stderr, "proto_test: expected rejection with \"%s\", got %s \"%s\"\n", needle,
                msg ? "a message" : "", err);
    assert(!msg && err[0] && strstr(err, needle));
    if (verbose)
        printf("  rejected: %s\n", err);
}

static void s_frame_reject(s_frame_t *f, const char *needle, bool verbose)
{
    s_expect_reject(f->sbuf.data, f->sbuf.size, needle, verbose);
    msgpack_sbuffer_destroy(&f->sbuf);
}

static void s_pack_head(msgpack_packer *pk, size_t n, int cmd)
{
    msgpack_pack_array(pk, n);
    msgpack_pack_int(pk, PROTO_VERSION);
    msgpack_pack_int(pk, cmd);
}

static void s_pack_fetch_body(msgpack_packer *pk, size_t nfields, int bad_field)
{
    msgpack_pack_array(pk, nfields);
    for (size_t i = 0; i < nfields; i++) {
        if ((int)i == bad_field)
            msgpack_pack_str_with_body(pk, "1", 1);
        else if ((int)i == bad_field - 100)
            msgpack_pack_int64(pk, (int64_t)1 << 40);
        else if ((int)i == bad_field - 200)
            msgpack_pack_uint64(pk, UINT64_MAX);
        else
            msgpack_pack_int(pk, 1);
    }
}

static void s_test_malformed(bool verbose)
{
    s_frame_t f;
    msgpack_packer *pk;
    static const uint8_t c1[] = {0x92, 0x01, 0xc1};
    static const uint8_t forged_str[] = {0x93, 0x01, 0x01, 0xdb, 0xff, 0xff, 0xff, 0xff, 'x'};
    static const uint8_t forged_array[] = {0x95, 0x01, 0x03, 0x01, 0x03, 0x97, 0x01, 0x01, 0x01,
                                           0x01, 0x01, 0xdd, 0xff, 0xff, 0xff, 0xff, 0xc0, 0xc0};
    static const uint8_t forged_map[] = {0x94, 0x01, 0x09, 0xa1, 'w', 0xdf, 0x80, 0x00, 0x00, 0x00};
    static const uint8_t cut_length[] = {0x93, 0x01, 0x01, 0xda, 0x00};
    static const uint8_t ext_version[] = {0x92, 0xd4, 0x01, 0x01, 0x02};
    static const uint8_t heartbeat_garbage[] = {0x92, 0x01, 0x02, 0x00};

    s_expect_reject("", 0, "empty frame", verbose);
    s_expect_reject(c1, sizeof(c1), "invalid msgpack byte 0xc1", verbose);
    s_expect_reject(forged_str, sizeof(forged_str), "truncated", verbose);
    s_expect_reject(forged_array, sizeof(forged_array), "truncated", verbose);
    s_expect_reject(forged_map, sizeof(forged_map), "truncated", verbose);
    s_expect_reject(cut_length, sizeof(cut_length), "truncated", verbose);
    s_expect_reject(ext_version, sizeof(ext_version), "version is not", verbose);
    s_expect_reject(heartbeat_garbage, sizeof(heartbeat_garbage), "1 bytes of trailing garbage", verbose);

    /* nesting deeper than msgpack-c's parser stack */
    uint8_t deep[200];
    memset(deep, 0x91, sizeof(deep) - 1);
    deep[sizeof(deep) - 1] = 0xc0;
    s_expect_reject(deep, sizeof(deep), "nested", verbose);

    pk = s_frame_begin(&f);
    msgpack_pack_int(pk, 5);
    s_frame_reject(&f, "not a msgpack array", verbose);

    pk = s_frame_begin(&f);
    msgpack_pack_array(pk, 1);
    msgpack_pack_int(pk, 1);
    s_frame_reject(&f, "expected [version, command", verbose);

    pk = s_frame_begin(&f);
    msgpack_pack_array(pk, 2);
    msgpack_pack_int(pk, 2);
    msgpack_pack_int(pk, PROTO_HEARTBEAT);
    s_frame_reject(&f, "version 2 not supported", verbose);

    pk = s_frame_begin(&f);
    s_pack_head(pk, 2, 42);
    s_frame_reject(&f, "unknown command 42", verbose);

    pk = s_frame_begin(&f);
    s_pack_head(pk, 2, -3);
    s_frame_reject(&f, "command is not", verbose);

    pk = s_frame_begin(&f);
    s_pack_head(pk, 3, PROTO_HEARTBEAT);
    msgpack_pack_nil(pk);
    s_frame_reject(&f, "HEARTBEAT: 3 fields, expected 2", verbose);

    /* READY */
    pk = s_frame_begin(&f);
    s_pack_head(pk, 5, PROTO_READY);
    msgpack_pack_int(pk, 7);
    msgpack_pack_str_with_body(pk, "w", 1);
    msgpack_pack_int(pk, 1);
    s_frame_reject(&f, "READY: field 2 (stage) is not a stage", verbose);

    pk = s_frame_begin(&f);
    s_pack_head(pk, 5, PROTO_READY);
    msgpack_pack_int(pk, PROTO_STAGE_FETCH);
    msgpack_pack_nil(pk);
    msgpack_pack_int(pk, 1);
    s_frame_reject(&f, "READY: field 3 (name) is not a string", verbose);

    pk = s_frame_begin(&f);
    s_pack_head(pk, 5, PROTO_READY);
    msgpack_pack_int(pk, PROTO_STAGE_FETCH);
    msgpack_pack_str_with_body(pk, "a\0b", 3);
    msgpack_pack_int(pk, 1);
    s_frame_reject(&f, "field 3 (name) contains a NUL byte", verbose);

    pk = s_frame_begin(&f);
    s_pack_head(pk, 5, PROTO_READY);
    msgpack_pack_int(pk, PROTO_STAGE_FETCH);
    msgpack_pack_str_with_body(pk, "w", 1);
    msgpack_pack_int(pk, 0);
    s_frame_reject(&f, "field 4 (capacity) is 0, must be at least 1", verbose);

    pk = s_frame_begin(&f);
    s_pack_head(pk, 5, PROTO_READY);
    msgpack_pack_int(pk, PROTO_STAGE_FETCH);
    msgpack_pack_str_with_body(pk, "w", 1);
    msgpack_pack_double(pk, 2.0);
    s_frame_reject(&f, "field 4 (capacity) is not an integer", verbose);

    /* TASK and RESULT envelopes */
    pk = s_frame_begin(&f);
    s_pack_head(pk, 5, PROTO_TASK);
    msgpack_pack_int(pk, -1);
    msgpack_pack_int(pk, PROTO_BODY_FETCH);
    s_pack_fetch_body(pk, COUNT(s_fetch_fields), -1000);
    s_frame_reject(&f, "TASK: field 2 (task_id) is not a non-negative integer", verbose);

    pk = s_frame_begin(&f);
    s_pack_head(pk, 5, PROTO_TASK);
    msgpack_pack_int(pk, 1);
    msgpack_pack_int(pk, PROTO_BODY_COMMIT);
    s_pack_fetch_body(pk, 5, -1000);
    s_frame_reject(&f, "TASK: field 3 (body_kind) 4 is not allowed in a TASK", verbose);

    pk = s_frame_begin(&f);
    s_pack_head(pk, 5, PROTO_RESULT);
    msgpack_pack_int(pk, 1);
    msgpack_pack_int(pk, PROTO_BODY_FETCH);
    s_pack_fetch_body(pk, COUNT(s_fetch_fields), -1000);
    s_frame_reject(&f, "RESULT: field 3 (body_kind) 1 is not allowed in a RESULT", verbose);

    pk = s_frame_begin(&f);
    s_pack_head(pk, 5, PROTO_TASK);
    msgpack_pack_int(pk, 1);
    msgpack_pack_int(pk, PROTO_BODY_FETCH);
    msgpack_pack_str_with_body(pk, "x", 1);
    s_frame_reject(&f, "TASK: field 4 (body) is not an array", verbose);

    pk = s_frame_begin(&f);
    s_pack_head(pk, 4, PROTO_TASK);
    msgpack_pack_int(pk, 1);
    msgpack_pack_int(pk, PROTO_BODY_FETCH);
    s_frame_reject(&f, "TASK: 4 fields, expected 5", verbose);

    /* bodies */
    pk = s_frame_begin(&f);
    s_pack_head(pk, 5, PROTO_TASK);
    msgpack_pack_int(pk, 1);
    msgpack_pack_int(pk, PROTO_BODY_FETCH);
    s_pack_fetch_body(pk, 5, -1000);
    s_frame_reject(&f, "TASK FETCH: body has 5 fields, expected 13", verbose);

    pk = s_frame_begin(&f);
    s_pack_head(pk, 5, PROTO_TASK);
    msgpack_pack_int(pk, 1);
    msgpack_pack_int(pk, PROTO_BODY_FETCH);
    s_pack_fetch_body(pk, COUNT(s_fetch_fields), 2);
    s_frame_reject(&f, "TASK FETCH: body field 2 (page) is not an integer", verbose);

    pk = s_frame_begin(&f);
    s_pack_head(pk, 5, PROTO_TASK);
    msgpack_pack_int(pk, 1);
    msgpack_pack_int(pk, PROTO_BODY_FETCH);
    s_pack_fetch_body(pk, COUNT(s_fetch_fields), 101);
    s_frame_reject(&f, "body field 1 (catalog_id) is out of range for int32", verbose);

    pk = s_frame_begin(&f);
    s_pack_head(pk, 5, PROTO_TASK);
    msgpack_pack_int(pk, 1);
    msgpack_pack_int(pk, PROTO_BODY_FETCH);
    s_pack_fetch_body(pk, COUNT(s_fetch_fields), 200);
    s_frame_reject(&f, "body field 0 (window_id) is out of range", verbose);

    /* a PAGE whose body is a string, not bin */
    pk = s_frame_begin(&f);
    s_pack_head(pk, 5, PROTO_RESULT);
    msgpack_pack_int(pk, 1);
    msgpack_pack_int(pk, PROTO_BODY_PAGE);
    msgpack_pack_array(pk, COUNT(s_page_fields));
    for (int i = 0; i < (int)COUNT(s_page_fields); i++) {
        if ((i >= 6 && i <= 9) || i == 14)
            msgpack_pack_str_with_body(pk, "pt", 2);
        else if (i == 12)
            msgpack_pack_false(pk);
        else
            msgpack_pack_int(pk, 1);
    }
    s_frame_reject(&f, "RESULT PAGE: body field 14 (body) is not binary or nil", verbose);

    /* batches: a bad item, a short item, a non-array item list, too many items */
    for (int variant = 0; variant < 5; variant++) {
        pk = s_frame_begin(&f);
        s_pack_head(pk, 5, PROTO_RESULT);
        msgpack_pack_int(pk, 1);
        msgpack_pack_int(pk, PROTO_BODY_BATCH);
        msgpack_pack_array(pk, COUNT(s_batch_fields) + COUNT(s_batch_lists));
        for (int i = 0; i + 1 < (int)COUNT(s_batch_fields); i++)
            msgpack_pack_int(pk, 1);
        msgpack_pack_nil(pk); /* site */
        if (variant == 2)
            msgpack_pack_map(pk, 0);
        else if (variant == 3) {
            msgpack_pack_array(pk, S_MAX_ITEMS + 1);
            for (int i = 0; i <= S_MAX_ITEMS; i++)
                msgpack_pack_nil(pk);
        }
        else {
            msgpack_pack_array(pk, 2);
            for (int item = 0; item < 2; item++) {
                size_t n = variant == 1 && item == 1 ? 21 : 22;
                msgpack_pack_array(pk, n);
                for (size_t i = 0; i < n; i++) {
                    if (variant == 0 && item == 1 && i == 3)
                        msgpack_pack_double(pk, 20.5);
                    else if (s_item_fields[i].type == F_BOOL)
                        msgpack_pack_true(pk);
                    else if (s_item_fields[i].type == F_I32 || s_item_fields[i].type == F_I64)
                        msgpack_pack_int(pk, 1);
                    else
                        msgpack_pack_nil(pk);
                }
            }
        }
        if (variant == 4) {
            msgpack_pack_array(pk, 1);
            msgpack_pack_array(pk, 4);
            msgpack_pack_int(pk, 0);
            msgpack_pack_nil(pk);
            msgpack_pack_nil(pk);
            msgpack_pack_nil(pk);
        }
        else
            msgpack_pack_array(pk, 0);
        for (size_t l = 2; l < COUNT(s_batch_lists); l++)
            msgpack_pack_array(pk, 0); /* photos, snapshots, users, catalogs */
        static const char *needles[] = {
            "RESULT BATCH: item 1 field 3 (price) is not an integer or nil",
            "RESULT BATCH: item 1 has 21 fields, expected 22",
            "RESULT BATCH: body field 7 (items) is not an array",
            "body field 7 (items) has 100001 records, at most 100000 allowed",
            "RESULT BATCH: quarantine 0 field 1 (rule) is not a string",
        };
        s_frame_reject(&f, needles[variant], verbose);
    }

    /* NACK */
    pk = s_frame_begin(&f);
    s_pack_head(pk, 6, PROTO_NACK);
    msgpack_pack_int(pk, 1);
    msgpack_pack_str_with_body(pk, "x", 1);
    msgpack_pack_nil(pk);
    msgpack_pack_int(pk, 1);
    s_frame_reject(&f, "NACK: field 5 (permanent) is not a boolean", verbose);

    pk = s_frame_begin(&f);
    s_pack_head(pk, 6, PROTO_NACK);
    msgpack_pack_int(pk, 1);
    msgpack_pack_str_with_body(pk, "x", 1);
    msgpack_pack_str_with_body(pk, "5", 1);
    msgpack_pack_false(pk);
    s_frame_reject(&f, "NACK: field 4 (retry_after_ms) is not an integer or nil", verbose);

    /* CTL_REQ */
    for (int variant = 0; variant < 5; variant++) {
        pk = s_frame_begin(&f);
        s_pack_head(pk, 4, PROTO_CTL_REQ);
        msgpack_pack_str_with_body(pk, "window", 6);
        if (variant == 0)
            msgpack_pack_array(pk, 0);
        else if (variant == 1) {
            msgpack_pack_map(pk, PROTO_CTL_MAXARGS + 1);
            for (int i = 0; i <= PROTO_CTL_MAXARGS; i++) {
                char key[16];
                snprintf(key, sizeof(key), "k%d", i);
                msgpack_pack_str_with_body(pk, key, strlen(key));
                msgpack_pack_str_with_body(pk, "v", 1);
            }
        }
        else {
            msgpack_pack_map(pk, 2);
            msgpack_pack_str_with_body(pk, "from", 4);
            msgpack_pack_str_with_body(pk, "x", 1);
            if (variant == 2)
                msgpack_pack_str_with_body(pk, "from", 4);
            else if (variant == 3)
                msgpack_pack_int(pk, 1);
            else
                msgpack_pack_str_with_body(pk, "to", 2);
            if (variant == 4)
                msgpack_pack_int(pk, 1);
            else
                msgpack_pack_str_with_body(pk, "y", 1);
        }
        static const char *needles[] = {
            "CTL_REQ: field 3 (args) is not a map",
            "field 3 (args) has 17 arguments, at most 16 allowed",
            "CTL_REQ: argument 1: duplicate key \"from\"",
            "CTL_REQ: argument 1: key is not a non-empty string",
            "CTL_REQ: argument 1: value is not a string",
        };
        s_frame_reject(&f, needles[variant], verbose);
    }

    /* REPORT */
    pk = s_frame_begin(&f);
    s_pack_head(pk, 6, PROTO_REPORT);
    msgpack_pack_bin_with_body(pk, "blocked", 7);
    msgpack_pack_nil(pk);
    msgpack_pack_nil(pk);
    msgpack_pack_int(pk, 0);
    s_frame_reject(&f, "REPORT: field 2 (event) is not a string", verbose);
    pk = s_frame_begin(&f);
    s_pack_head(pk, 6, PROTO_REPORT);
    msgpack_pack_str_with_body(pk, "blocked", 7);
    msgpack_pack_nil(pk);
    msgpack_pack_nil(pk);
    msgpack_pack_int(pk, -1);
    s_frame_reject(&f, "REPORT: field 5 (identity) is -1", verbose);

    /* TOKEN */
    pk = s_frame_begin(&f);
    s_pack_head(pk, 2, PROTO_TOKEN);
    s_frame_reject(&f, "TOKEN: 2 fields, expected 3", verbose);
    pk = s_frame_begin(&f);
    s_pack_head(pk, 3, PROTO_TOKEN);
    msgpack_pack_str_with_body(pk, "0", 1);
    s_frame_reject(&f, "TOKEN: field 2 (identity) is not an integer", verbose);
}

/* Messages the encoder refuses: it never writes what the decoder would reject. */
static void s_test_encode_refuses(void)
{
    uint8_t *data = (uint8_t *)"x";
    size_t size = 1;
    proto_msg_t *m = proto_msg_new(PROTO_READY);
    m->u.ready.stage = PROTO_STAGE_FETCH;
    m->u.ready.capacity = 1;
    assert(proto_encode(m, &data, &size) == -1 && data == NULL && size == 0); /* no name */
    m->u.ready.name = "w";
    m->u.ready.capacity = 0;
    assert(proto_encode(m, &data, &size) == -1);
    m->u.ready.capacity = 1;
    m->u.ready.stage = PROTO_STAGE_NONE;
    assert(proto_encode(m, &data, &size) == -1);
    m->u.ready.stage = PROTO_STAGE_SINK;
    assert(proto_encode(m, &data, &size) == 0);
    free(data);
    proto_msg_destroy(&m);
    assert(m == NULL);
    proto_msg_destroy(&m); /* harmless */

    m = proto_msg_new(PROTO_TASK); /* body NONE */
    assert(proto_encode(m, &data, &size) == -1);
    m->body = PROTO_BODY_COMMIT;
    assert(proto_encode(m, &data, &size) == -1);
    m->body = PROTO_BODY_PAGE; /* site and api missing */
    assert(proto_encode(m, &data, &size) == -1);
    m->u.page.site = "pt";
    m->u.page.api = "v2";
    m->u.page.body_len = 3; /* without a body */
    assert(proto_encode(m, &data, &size) == -1);
    m->u.page.body_len = 0;
    assert(proto_encode(m, &data, &size) == 0);
    free(data);
    proto_msg_destroy(&m);

    m = proto_msg_new(PROTO_RESULT);
    m->body = PROTO_BODY_BATCH;
    m->u.batch.n_items = 2; /* items missing */
    assert(proto_encode(m, &data, &size) == -1);
    m->u.batch.n_items = S_MAX_ITEMS + 1;
    assert(proto_encode(m, &data, &size) == -1);
    m->u.batch.n_items = 0;
    m->u.batch.n_quarantine = 1;
    m->u.batch.quarantine = proto_msg_alloc(m, sizeof(proto_quarantine_t)); /* rule missing */
    assert(proto_encode(m, &data, &size) == -1);
    proto_msg_destroy(&m);

    m = proto_msg_new(PROTO_NACK);
    assert(m->u.nack.retry_after_ms == PROTO_NULL);
    assert(proto_encode(m, &data, &size) == -1); /* no reason */
    proto_msg_destroy(&m);

    m = proto_msg_new(PROTO_REPORT);
    assert(m->u.report.backoff_ms == PROTO_NULL);
    assert(proto_encode(m, &data, &size) == -1); /* no event */
    proto_msg_destroy(&m);

    m = proto_msg_new(PROTO_CTL_REQ);
    m->u.ctl_req.verb = "window";
    m->u.ctl_req.n_args = 2;
    m->u.ctl_req.keys[0] = m->u.ctl_req.keys[1] = "from";
    m->u.ctl_req.values[0] = m->u.ctl_req.values[1] = "x";
    assert(proto_encode(m, &data, &size) == -1); /* duplicate key */
    m->u.ctl_req.keys[1] = "";
    assert(proto_encode(m, &data, &size) == -1); /* empty key */
    m->u.ctl_req.keys[1] = "to";
    m->u.ctl_req.values[1] = NULL;
    assert(proto_encode(m, &data, &size) == -1);
    m->u.ctl_req.n_args = PROTO_CTL_MAXARGS + 1;
    assert(proto_encode(m, &data, &size) == -1);
    proto_msg_destroy(&m);

    assert(proto_msg_new((proto_cmd_t)0) == NULL && proto_msg_new((proto_cmd_t)12) == NULL);
}

/* Flip, cut, insert and overwrite bytes of valid frames: decoding never crashes,
   and whatever it accepts encodes again and decodes to the same bytes. */
static void s_test_mutations(uint8_t **frames, const size_t *sizes, size_t n, int iterations, bool verbose)
{
    static const uint8_t interesting[] = {0x00, 0x01, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xc0, 0xc1,
                                          0xc2, 0xc3, 0xc4, 0xc6, 0xca, 0xcb, 0xcf, 0xd3, 0xd4,
                                          0xd9, 0xdb, 0xdc, 0xdd, 0xde, 0xdf, 0xe0, 0xff};
    uint64_t rng = 0x9e3779b97f4a7c15ULL;
    int accepted = 0;
    char err[256];
    for (int it = 0; it < iterations; it++) {
        size_t k = s_rand(&rng) % n;
        size_t len = sizes[k];
        uint8_t *buf = malloc(len + 8);
        assert(buf);
        memcpy(buf, frames[k], len);
        int edits = 1 + (int)(s_rand(&rng) % 3);
        for (int e = 0; e < edits && len > 0; e++) {
            size_t at = s_rand(&rng) % len;
            switch (s_rand(&rng) % 6) {
            case 0: /* flip a bit */
                buf[at] ^= (uint8_t)(1u << (s_rand(&rng) % 8));
                break;
            case 1: /* truncate */
                len = at;
                break;
            case 2: /* insert a byte */
                if (len < sizes[k] + 8) {
                    memmove(buf + at + 1, buf + at, len - at);
                    buf[at] = (uint8_t)s_rand(&rng);
                    len++;
                }
                break;
            case 3: /* delete a byte */
                memmove(buf + at, buf + at + 1, len - at - 1);
                len--;
                break;
            case 4: /* a type byte that changes the structure */
                buf[at] = interesting[s_rand(&rng) % sizeof(interesting)];
                break;
            default: /* a forged length */
                for (size_t i = at; i < len && i < at + 4; i++)
                    buf[i] = 0xff;
                break;
            }
        }
        uint8_t *exact = malloc(len ? len : 1); /* so that ASan sees any overread */
        assert(exact);
        memcpy(exact, buf, len);
        free(buf);
        proto_msg_t *msg = proto_decode(exact, len, err, sizeof(err));
        if (msg) {
            accepted++;
            uint8_t *again;
            size_t again_size;
            assert(proto_encode(msg, &again, &again_size) == 0);
            proto_msg_t *twice = proto_decode(again, again_size, NULL, 0);
            assert(twice && twice->cmd == msg->cmd);
            proto_msg_destroy(&twice);
            free(again);
            proto_msg_destroy(&msg);
        }
        else
            assert(err[0]); /* a reason, always */
        free(exact);
    }
    if (verbose)
        printf("  mutations: %d frames, %d still valid, %d rejected with a reason\n", iterations, accepted,
               iterations - accepted);
}

static void s_test_bench(void)
{
    proto_msg_t *msg = s_test_batch(PROTO_RESULT, 96, 2, true);
    uint8_t *data;
    size_t size;
    assert(proto_encode(msg, &data, &size) == 0);
    free(data);
    int rounds = 0;
    double start = s_now(), elapsed;
    do {
        for (int i = 0; i < 100; i++, rounds++) {
            assert(proto_encode(msg, &data, &size) == 0);
            proto_msg_t *copy = proto_decode(data, size, NULL, 0);
            assert(copy && copy->u.batch.n_items == 96);
            proto_msg_destroy(&copy);
            free(data);
        }
        elapsed = s_now() - start;
    } while (elapsed < 0.3);
    printf("  bench: 96-item batch (%zu bytes) encode+decode %.0f/s = %.0f items/s\n", size, rounds / elapsed,
           rounds * 96 / elapsed);
    proto_msg_destroy(&msg);
}

void proto_test(bool verbose)
{
    printf(" * proto: ");
    if (verbose)
        printf("\n");

    /* names */
    assert(strcmp(proto_cmd_name(PROTO_TASK), "TASK") == 0);
    assert(strcmp(proto_cmd_name(PROTO_REPORT), "REPORT") == 0);
    assert(strcmp(proto_cmd_name((proto_cmd_t)99), "UNKNOWN") == 0);
    assert(strcmp(proto_stage_name(PROTO_STAGE_FETCH), "fetch") == 0);
    assert(strcmp(proto_stage_name(PROTO_STAGE_TRANSFORM), "transform") == 0);
    assert(strcmp(proto_stage_name(PROTO_STAGE_SINK), "sink") == 0);
    assert(strcmp(proto_stage_name((proto_stage_t)9), "unknown") == 0);
    for (int s = PROTO_STAGE_FETCH; s < PROTO_STAGES; s++)
        assert(proto_stage_from_name(proto_stage_name((proto_stage_t)s)) == (proto_stage_t)s);
    assert(proto_stage_from_name("none") == PROTO_STAGE_NONE);
    assert(proto_stage_from_name("Fetch") == PROTO_STAGE_NONE);
    assert(proto_stage_from_name(NULL) == PROTO_STAGE_NONE);
    assert(strcmp(proto_null_field_name(0), "title") == 0);
    assert(strcmp(proto_null_field_name(11), "created") == 0);
    assert(strcmp(proto_null_field_name(12), "unknown") == 0);
    assert(strcmp(proto_null_field_name(-1), "unknown") == 0);

    /* the null mask */
    {
        proto_msg_t *m = s_test_batch(PROTO_RESULT, 2, 0, true);
        proto_item_t *it = &m->u.batch.items[0];
        assert(proto_item_null_mask(it) == 0);
        it->price = PROTO_NULL;
        it->photo_url = NULL;
        it->created_at = PROTO_NULL;
        assert(proto_item_null_mask(it) == (PROTO_NULL_PRICE | PROTO_NULL_PHOTO | PROTO_NULL_CREATED));
        s_test_item(m, it, 0, false);
        assert(proto_item_null_mask(it) == (1u << PROTO_NULL_FIELDS) - 1);
        proto_msg_destroy(&m);
    }

    /* the arena: alignment, zeroing, growth, big pieces */
    {
        proto_msg_t *m = proto_msg_new(PROTO_HEARTBEAT);
        assert(proto_msg_strdup(m, NULL) == NULL);
        char *s = proto_msg_strdup(m, "abc");
        for (int i = 0; i < 2000; i++) {
            size_t n = (size_t)(i * 37 % 700) + 1;
            uint8_t *p = proto_msg_alloc(m, n);
            assert(p && (uintptr_t)p % S_ALIGN == 0);
            for (size_t j = 0; j < n; j++)
                assert(p[j] == 0);
            memset(p, 0xab, n);
        }
        uint8_t *big = proto_msg_alloc(m, 3 * 1024 * 1024);
        assert(big && big[3 * 1024 * 1024 - 1] == 0);
        assert(proto_msg_alloc(m, 0) != NULL);
        assert(proto_msg_alloc(m, SIZE_MAX) == NULL);
        assert(strcmp(s, "abc") == 0);
        proto_msg_destroy(&m);
    }

    /* every command and body kind, full and with optional fields absent */
    proto_msg_t *samples[2][S_TEST_SAMPLES];
    size_t n_samples[2];
    uint8_t *frames[2 * S_TEST_SAMPLES];
    size_t sizes[2 * S_TEST_SAMPLES];
    size_t n_frames = 0;
    for (int full = 0; full < 2; full++) {
        n_samples[full] = s_test_samples(samples[full], full);
        assert(n_samples[full] <= S_TEST_SAMPLES);
        for (size_t i = 0; i < n_samples[full]; i++) {
            proto_msg_t *copy = s_test_roundtrip(samples[full][i], &frames[n_frames], &sizes[n_frames]);
            s_test_equal(samples[full][i], copy);
            if (copy->cmd == PROTO_RESULT && copy->body == PROTO_BODY_BATCH && copy->u.batch.n_items)
                assert(proto_item_null_mask(&copy->u.batch.items[0]) ==
                       (full ? 0 : (1u << PROTO_NULL_FIELDS) - 1));
            if (copy->cmd == PROTO_NACK)
                assert(copy->u.nack.retry_after_ms == (full ? 30000 : PROTO_NULL));
            if (copy->cmd == PROTO_TASK && copy->body == PROTO_BODY_PAGE) {
                assert((copy->u.page.body != NULL) == full && copy->u.page.body_len == (full ? 300u : 0u));
                assert(!full || copy->u.page.body[299] == (uint8_t)(299 * 7));
                assert(strcmp(copy->u.page.site, "co.uk") == 0);
            }
            if (verbose)
                printf("  round trip %-10s %-6s %-7s %5zu bytes\n", proto_cmd_name(copy->cmd),
                       copy->cmd == PROTO_TASK || copy->cmd == PROTO_RESULT ? s_body_names[copy->body] : "",
                       full ? "full" : "minimal", sizes[n_frames]);
            proto_msg_destroy(&copy);
            n_frames++;
        }
    }
    /* an exact wire layout, byte for byte, as PROTOCOL.md shows it */
    {
        proto_msg_t *m = proto_msg_new(PROTO_NACK);
        m->task_id = 7;
        m->u.nack.reason = "http 429";
        uint8_t *data;
        size_t size;
        assert(proto_encode(m, &data, &size) == 0);
        static const uint8_t expect[] = {0x96, 0x01, 0x05, 0x07, 0xa8, 'h',  't', 't',
                                         'p',  ' ',  '4',  '2',  '9',  0xc0, 0xc2};
        assert(size == sizeof(expect) && memcmp(data, expect, size) == 0);
        free(data);
        proto_msg_destroy(&m);
    }

    /* an empty string last in a frame: msgpack-c hands it over as (NULL, 0) (found by fuzzing) */
    {
        static const uint8_t frame[] = {0x95, 0x01, 0x0a, 0x00, 0xa0, 0xc0};
        proto_msg_t *m = proto_decode(frame, sizeof(frame), NULL, 0);
        assert(m && m->u.ctl_rep.status == 0 && strcmp(m->u.ctl_rep.message, "") == 0);
        assert(m->u.ctl_rep.json == NULL);
        proto_msg_destroy(&m);
    }

    /* every strict prefix of a full batch, and every sample with a byte appended */
    for (size_t i = 0; i < n_frames; i++) {
        if (samples[1][0] && frames[i] && sizes[i] > 200) {
            for (size_t cut = 0; cut < sizes[i]; cut++) {
                char err[256];
                assert(proto_decode(frames[i], cut, err, sizeof(err)) == NULL && err[0]);
            }
            break;
        }
    }
    for (size_t i = 0; i < n_frames; i++) {
        uint8_t *longer = malloc(sizes[i] + 1);
        memcpy(longer, frames[i], sizes[i]);
        longer[sizes[i]] = 0xc0;
        s_expect_reject(longer, sizes[i] + 1, "trailing garbage", false);
        free(longer);
    }

    s_test_malformed(verbose);
    s_test_encode_refuses();
    s_test_mutations(frames, sizes, n_frames, 20000, verbose);
    if (verbose)
        s_test_bench();

    for (size_t i = 0; i < n_frames; i++)
        free(frames[i]);
    for (int full = 0; full < 2; full++)
        for (size_t i = 0; i < n_samples[full]; i++)
            proto_msg_destroy(&samples[full][i]);
    printf("OK\n");
}
