/*  proto_encode.c - proto_encode: a message into one msgpack frame, by walking
    the message table (proto_table.c): the command's row, then its body kind's
    row and that body's lists.

    It packs with msgpack-c's packer into one malloc'ed buffer, sized up front
    from the message so that big messages rarely reallocate. It refuses (returns
    -1) anything the decoder would reject: a required string missing, a value
    below its field's minimum, a body kind the command may not carry, a count
    above its list's limit, a NULL array or binary with a non-zero length.
*/
#include "proto_internal.h"

#include <assert.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

static inline int s_pack_str(msgpack_packer *pk, const char *s)
{
    size_t len = strlen(s);
    if (len > UINT32_MAX)
        return -1;
    return msgpack_pack_str_with_body(pk, s, len);
}

/* F_ARGS: the CTL_REQ map (keys non-empty and distinct, values present). */
static int s_pack_args(msgpack_packer *pk, const proto_ctl_req_t *req)
{
    if (req->n_args > PROTO_CTL_MAXARGS)
        return -1;
    for (size_t i = 0; i < req->n_args; i++) {
        if (!req->keys[i] || !*req->keys[i] || !req->values[i])
            return -1;
        for (size_t j = 0; j < i; j++)
            if (strcmp(req->keys[i], req->keys[j]) == 0)
                return -1;
    }
    if (msgpack_pack_map(pk, req->n_args))
        return -1;
    for (size_t i = 0; i < req->n_args; i++)
        if (s_pack_str(pk, req->keys[i]) || s_pack_str(pk, req->values[i]))
            return -1;
    return 0;
}

/* Fields of a body or record (a leaf: the hot loop of a batch's records). */
static int s_pack_fields(msgpack_packer *pk, const proto_field_t *tab, size_t n, const void *base)
{
    const char *b = base;
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const proto_field_t *f = &tab[i];
        const void *p = b + f->off;
        switch (f->type) {
        case F_I32: {
            int32_t v = *(const int32_t *)p;
            rc = f->has_min && v < f->min ? -1 : msgpack_pack_int64(pk, v);
            break;
        }
        case F_I64: {
            int64_t v = *(const int64_t *)p;
            rc = f->has_min && v < f->min ? -1 : msgpack_pack_int64(pk, v);
            break;
        }
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
                rc = f->type == F_STR ? -1 : msgpack_pack_nil(pk);
            break;
        }
        case F_BIN: {
            const uint8_t *data = *(uint8_t *const *)p;
            size_t len = *(const size_t *)(b + f->len_off);
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
        default: /* the command-level kinds are s_pack_msg_fields' */
            rc = -1;
        }
    }
    return rc;
}

static int s_pack_list(msgpack_packer *pk, const proto_list_t *L, const char *body)
{
    const char *array = *(char *const *)(body + L->array_off);
    size_t n = *(const size_t *)(body + L->count_off);
    if (n > L->max || (n > 0 && !array) || msgpack_pack_array(pk, n) != 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (msgpack_pack_array(pk, L->n_fields) != 0 ||
            s_pack_fields(pk, L->fields, L->n_fields, array + i * L->size) != 0)
            return -1;
    }
    return 0;
}

/* F_BODY: the body's fields, then its lists, in one array. */
static int s_pack_body(msgpack_packer *pk, const proto_msg_t *msg)
{
    if (!proto_body_allowed(msg->cmd, msg->body))
        return -1;
    const proto_body_row_t *row = &proto_bodies[msg->body];
    const char *base = (const char *)msg + row->off;
    if (msgpack_pack_array(pk, row->n_fields + row->n_lists) || s_pack_fields(pk, row->fields, row->n_fields, base))
        return -1;
    for (size_t l = 0; l < row->n_lists; l++)
        if (s_pack_list(pk, &row->lists[l], base))
            return -1;
    return 0;
}

/* The fields of a command, whose base is the message: task_id, the body kind and
   the body, the CTL_REQ map, and the others as s_pack_fields packs them. */
static int s_pack_msg_fields(msgpack_packer *pk, const proto_field_t *tab, size_t n, const proto_msg_t *msg)
{
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const void *p = (const char *)msg + tab[i].off;
        switch (tab[i].type) {
        case F_U64:
            rc = msgpack_pack_uint64(pk, *(const uint64_t *)p);
            break;
        case F_BODY_KIND:
            rc = proto_body_allowed(msg->cmd, msg->body) ? msgpack_pack_int64(pk, msg->body) : -1;
            break;
        case F_BODY:
            rc = s_pack_body(pk, msg);
            break;
        case F_ARGS:
            rc = s_pack_args(pk, p);
            break;
        default:
            rc = s_pack_fields(pk, &tab[i], 1, msg);
        }
    }
    return rc;
}

/* The bytes of the bin fields of one record or body. */
static size_t s_bin_bytes(const proto_field_t *tab, size_t n, const char *base)
{
    size_t bytes = 0;
    for (size_t i = 0; i < n; i++)
        if (tab[i].type == F_BIN)
            bytes += *(const size_t *)(base + tab[i].len_off);
    return bytes;
}

static bool s_has_bin(const proto_field_t *tab, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (tab[i].type == F_BIN)
            return true;
    return false;
}

/* A first guess of the encoded size, so that big messages rarely reallocate:
   a body's binaries, and each list's records at their hint plus their binaries. */
static size_t s_size_hint(const proto_msg_t *msg)
{
    size_t hint = 256;
    if (!proto_cmd_has_body(msg->cmd) || !proto_body_allowed(msg->cmd, msg->body))
        return hint;
    const proto_body_row_t *row = &proto_bodies[msg->body];
    const char *base = (const char *)msg + row->off;
    hint += s_bin_bytes(row->fields, row->n_fields, base);
    for (size_t l = 0; l < row->n_lists; l++) {
        const proto_list_t *L = &row->lists[l];
        const char *array = *(char *const *)(base + L->array_off);
        size_t n = *(const size_t *)(base + L->count_off);
        if (n > L->max)
            return 256; /* refused anyway */
        hint += n * L->hint;
        if (array && s_has_bin(L->fields, L->n_fields))
            for (size_t i = 0; i < n; i++)
                hint += s_bin_bytes(L->fields, L->n_fields, array + i * L->size);
    }
    return hint;
}

int proto_encode(const proto_msg_t *msg, uint8_t **data, size_t *size)
{
    assert(msg && data && size);
    *data = NULL;
    *size = 0;
    proto_cmd_t cmd = msg->cmd;
    if (cmd < PROTO_READY || cmd > PROTO_CMD_LAST)
        return -1;
    const proto_cmd_row_t *row = &proto_cmds[cmd];

    msgpack_sbuffer sbuf;
    msgpack_sbuffer_init(&sbuf);
    size_t hint = s_size_hint(msg);
    sbuf.data = malloc(hint);
    if (!sbuf.data)
        return -1;
    sbuf.alloc = hint;
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sbuf, msgpack_sbuffer_write);

    int rc = msgpack_pack_array(&pk, 2 + row->n_fields) || msgpack_pack_int64(&pk, PROTO_VERSION) ||
             msgpack_pack_int64(&pk, cmd) || s_pack_msg_fields(&pk, row->fields, row->n_fields, msg);
    if (rc != 0) {
        msgpack_sbuffer_destroy(&sbuf);
        return -1;
    }
    *data = (uint8_t *)sbuf.data;
    *size = sbuf.size;
    return 0;
}
