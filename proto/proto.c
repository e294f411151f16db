/*  proto.c - the vinted-pipeline wire format (see proto.h): a message's arena,
    its constructor and destructor, and the names of commands, stages and
    null-mask bits.

    The module's files: proto_table.c, the message table (the one place that
    describes the layout: read it first); proto_encode.c and proto_decode.c, the
    generic loops over it; proto_test.c and proto_test_malformed.c, the
    self-test; protodoc.c, vinted-protodoc, which keeps PROTOCOL.md's tables in
    step with the table.
*/
#include "proto_internal.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- arena */

#define S_ARENA_FIRST 4096             /* first block of a built message */
#define S_ARENA_MAX_GROW (1024 * 1024) /* blocks double up to this size */

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

/* The arena's slow path (proto_arena_alloc in proto_internal.h is the fast one):
   the head block is missing or full. */
void *proto_arena_grow(proto_msg_t *msg, size_t size)
{
    struct proto_arena *head = msg->arena_;
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

int proto_arena_reserve(proto_msg_t *msg, size_t size)
{
    assert(msg->arena_ == NULL);
    msg->arena_ = s_block_new(size < S_ARENA_FIRST ? S_ARENA_FIRST : size, NULL);
    return msg->arena_ ? 0 : -1;
}

char *proto_msg_strdup(proto_msg_t *msg, const char *s)
{
    assert(msg);
    return s ? proto_arena_strndup(msg, s, strlen(s)) : NULL;
}

void *proto_msg_alloc(proto_msg_t *msg, size_t size)
{
    assert(msg);
    void *p = proto_arena_alloc(msg, size, PROTO_ALIGN);
    if (p)
        memset(p, 0, size);
    return p;
}

/* --------------------------------------------------------------- message */

proto_msg_t *proto_msg_new(proto_cmd_t cmd)
{
    if (cmd < PROTO_READY || cmd > PROTO_CMD_LAST)
        return NULL;
    proto_msg_t *msg = calloc(1, sizeof(*msg));
    if (!msg)
        return NULL;
    msg->cmd = cmd;
    /* integers that may be absent start absent (NACK retry_after_ms, REPORT backoff_ms) */
    const proto_cmd_row_t *row = &proto_cmds[cmd];
    for (size_t i = 0; i < row->n_fields; i++)
        if (row->fields[i].type == F_I64N)
            *(int64_t *)((char *)msg + row->fields[i].off) = PROTO_NULL;
    return msg;
}

proto_msg_t *proto_msg_new_body(proto_cmd_t cmd, uint64_t task_id, proto_body_t body)
{
    if (!proto_body_allowed(cmd, body))
        return NULL;
    proto_msg_t *msg = proto_msg_new(cmd);
    if (msg) {
        msg->task_id = task_id;
        msg->body = body;
    }
    return msg;
}

void proto_batch_of_page(proto_msg_t *msg, const proto_page_t *page)
{
    assert(msg && page);
    msg->body = PROTO_BODY_BATCH;
    proto_batch_t *b = &msg->u.batch;
    memset(b, 0, sizeof *b);
    b->window_id = page->window_id;
    b->catalog_id = page->catalog_id;
    b->page = page->page;
    b->attempt = page->attempt;
    b->fetched_at_ms = page->fetched_at_ms;
    b->target_id = page->target_id;
    b->site = page->site && *page->site ? proto_msg_strdup(msg, page->site) : NULL;
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

const char *proto_cmd_name(proto_cmd_t cmd)
{
    return cmd >= PROTO_READY && cmd <= PROTO_CMD_LAST ? proto_cmds[cmd].name : "UNKNOWN";
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
