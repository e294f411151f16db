/*  proto_decode.c - proto_decode: untrusted bytes into a message, by walking the
    message table (proto_table.c).

    Decoding runs in three steps:
      1. s_scan walks the raw bytes once and checks that every announced
         length and element count fits in the bytes that remain (each element
         takes at least one byte), that the frame is not truncated and that
         nothing trails it. msgpack-c allocates an object per announced
         element, so this keeps a forged count from asking for gigabytes;
      2. msgpack_unpack_next builds the object tree (strings and binaries
         still point into the input);
      3. the command's row, its body kind's row and that body's lists check
         every field's type and range and copy it into the message; strings
         (NUL-terminated) and arrays go into the message's arena.
    Every rejection says why, as "<CMD> <BODY>: <scope> <index> <what>".
*/
#include "proto_internal.h"

#include <inttypes.h>
#include <msgpack.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

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
                         d->body ? proto_bodies[d->body].name : "");
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

/* One field of a body or record, checked against its description and stored
   at base (a leaf: the hot loop of a batch's records). */
static int s_get_field(s_dec_t *d, const msgpack_object *o, const proto_field_t *f, size_t index, void *base)
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
        if (!problem && f->has_min && v < f->min)
            return s_fail(d, "field %zu (%s) is %" PRId64 ", must be at least %" PRId32, index, f->name, v, f->min);
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
        else if (!(*(char **)p = proto_arena_strndup(d->msg, o->via.str.ptr, o->via.str.size)))
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
        else if (!(*data = proto_arena_alloc(d->msg, o->via.bin.size, 1)))
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
static int s_get_fields(s_dec_t *d, const msgpack_object *o, size_t first, const proto_field_t *tab, size_t n,
                        void *base)
{
    for (size_t i = 0; i < n; i++)
        if (s_get_field(d, &o[i], &tab[i], first + i, base) != 0)
            return -1;
    return 0;
}

/* A body or record: an array of exactly n fields. */
static int s_get_record(s_dec_t *d, const msgpack_object *o, const proto_field_t *tab, size_t n, void *base)
{
    if (o->type != MSGPACK_OBJECT_ARRAY)
        return s_fail(d, "is not an array");
    if (o->via.array.size != n)
        return s_fail(d, "has %" PRIu32 " fields, expected %zu", o->via.array.size, n);
    return s_get_fields(d, o->via.array.ptr, 0, tab, n, base);
}

/* A list of records (items, quarantine ...) into a new array in the arena. */
static int s_get_list(s_dec_t *d, const msgpack_object *o, size_t index, const proto_list_t *L, char *body)
{
    if (o->type != MSGPACK_OBJECT_ARRAY)
        return s_fail(d, "field %zu (%s) is not an array", index, L->name);
    size_t n = o->via.array.size;
    if (n > L->max)
        return s_fail(d, "field %zu (%s) has %zu records, at most %zu allowed", index, L->name, n, L->max);
    void **array = (void **)(body + L->array_off);
    size_t *count = (size_t *)(body + L->count_off);
    *array = NULL;
    *count = 0;
    if (n == 0)
        return 0;
    char *records = proto_arena_alloc(d->msg, n * L->size, PROTO_ALIGN);
    if (!records)
        return s_fail(d, "field %zu (%s) is too big (out of memory)", index, L->name);
    memset(records, 0, n * L->size);
    d->scope = L->scope;
    for (size_t i = 0; i < n; i++) {
        d->index = i;
        if (s_get_record(d, &o->via.array.ptr[i], L->fields, L->n_fields, records + i * L->size) != 0)
            return -1;
    }
    d->scope = "body";
    *array = records;
    *count = n;
    return 0;
}

/* F_BODY: the fields of the message's body kind, then its lists (o is an array). */
static int s_get_body(s_dec_t *d, const msgpack_object *o)
{
    proto_msg_t *msg = d->msg;
    const proto_body_row_t *row = &proto_bodies[msg->body];
    d->body = msg->body;
    d->scope = "body";
    size_t n = row->n_fields + row->n_lists;
    if (o->via.array.size != n)
        return s_fail(d, "has %" PRIu32 " fields, expected %zu", o->via.array.size, n);
    char *base = (char *)msg + row->off;
    const msgpack_object *f = o->via.array.ptr;
    if (s_get_fields(d, f, 0, row->fields, row->n_fields, base) != 0)
        return -1;
    for (size_t l = 0; l < row->n_lists; l++)
        if (s_get_list(d, &f[row->n_fields + l], row->n_fields + l, &row->lists[l], base) != 0)
            return -1;
    return 0;
}

/* F_ARGS: the CTL_REQ map of string arguments. */
static int s_get_args(s_dec_t *d, const msgpack_object *o, const proto_field_t *f, size_t index,
                      proto_ctl_req_t *req)
{
    if (o->type != MSGPACK_OBJECT_MAP)
        return s_fail(d, "field %zu (%s) is not a map", index, f->name);
    size_t n = o->via.map.size;
    if (n > PROTO_CTL_MAXARGS)
        return s_fail(d, "field %zu (%s) has %zu arguments, at most %d allowed", index, f->name, n,
                      PROTO_CTL_MAXARGS);
    for (size_t i = 0; i < n; i++) {
        const msgpack_object *k = &o->via.map.ptr[i].key;
        const msgpack_object *v = &o->via.map.ptr[i].val;
        if (!s_str_ok(k) || k->via.str.size == 0)
            return s_fail(d, "argument %zu: key is not a non-empty string", i);
        if (!s_str_ok(v))
            return s_fail(d, "argument %zu: value is not a string", i);
        for (size_t j = 0; j < i; j++)
            if (o->via.map.ptr[j].key.via.str.size == k->via.str.size &&
                memcmp(o->via.map.ptr[j].key.via.str.ptr, k->via.str.ptr, k->via.str.size) == 0)
                return s_fail(d, "argument %zu: duplicate key \"%.*s\"", i,
                              (int)(k->via.str.size > 32 ? 32 : k->via.str.size), k->via.str.ptr);
        req->keys[i] = proto_arena_strndup(d->msg, k->via.str.ptr, k->via.str.size);
        req->values[i] = proto_arena_strndup(d->msg, v->via.str.ptr, v->via.str.size);
        if (!req->keys[i] || !req->values[i])
            return s_fail(d, "out of memory");
        req->n_args = i + 1;
    }
    return 0;
}

/* One field of a command, whose base is the message: task_id, the body kind and
   the body, the CTL_REQ map, and the others as s_get_field reads them. */
static int s_get_msg_field(s_dec_t *d, const msgpack_object *o, const proto_field_t *f, size_t index,
                           proto_msg_t *msg)
{
    char *p = (char *)msg + f->off;
    const char *problem = NULL;
    switch (f->type) {
    case F_U64:
        if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
            problem = "is not a non-negative integer";
        else
            *(uint64_t *)p = o->via.u64;
        break;
    case F_BODY_KIND:
        if (o->type != MSGPACK_OBJECT_POSITIVE_INTEGER)
            problem = "is not a non-negative integer";
        else if (!proto_body_allowed(d->cmd, o->via.u64))
            return s_fail(d, "field %zu (%s) %" PRIu64 " is not allowed in a %s", index, f->name, o->via.u64,
                          proto_cmd_name(d->cmd));
        else
            *(proto_body_t *)p = (proto_body_t)o->via.u64;
        break;
    case F_BODY:
        if (o->type != MSGPACK_OBJECT_ARRAY)
            problem = "is not an array";
        else
            return s_get_body(d, o);
        break;
    case F_ARGS:
        return s_get_args(d, o, f, index, (proto_ctl_req_t *)p);
    default:
        return s_get_field(d, o, f, index, msg);
    }
    return problem ? s_fail(d, "field %zu (%s) %s", index, f->name, problem) : 0;
}

/* What the arena of a decoded TASK or RESULT needs: the frame's bytes cover every
   string with its NUL (each has a header byte), and a BATCH's lists also need their
   records. Reserving it all up front makes one block; sized on the frame alone, a
   BATCH grew a second block twice the first (the sink keeps dozens of them). The
   record counts were checked against the frame by s_scan, as s_get_list does. */
static size_t s_decoded_size(const proto_cmd_row_t *row, const msgpack_object *f, size_t size)
{
    size_t need = size + 256;
    const msgpack_object *kind = NULL, *body = NULL;
    for (size_t i = 0; i < row->n_fields; i++) {
        if (row->fields[i].type == F_BODY_KIND)
            kind = &f[2 + i];
        else if (row->fields[i].type == F_BODY)
            body = &f[2 + i];
    }
    if (!kind || !body || kind->type != MSGPACK_OBJECT_POSITIVE_INTEGER || kind->via.u64 >= PROTO_BODIES)
        return need;
    const proto_body_row_t *b = &proto_bodies[kind->via.u64];
    if (b->n_lists == 0 || body->type != MSGPACK_OBJECT_ARRAY || body->via.array.size != b->n_fields + b->n_lists)
        return need;
    for (size_t l = 0; l < b->n_lists; l++) {
        const msgpack_object *list = &body->via.array.ptr[b->n_fields + l];
        if (list->type == MSGPACK_OBJECT_ARRAY && list->via.array.size <= b->lists[l].max)
            need += list->via.array.size * b->lists[l].size + PROTO_ALIGN;
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
    if (f[1].via.u64 < PROTO_READY || f[1].via.u64 > PROTO_CMD_LAST)
        return s_fail(d, "unknown command %" PRIu64, f[1].via.u64);
    proto_cmd_t cmd = (proto_cmd_t)f[1].via.u64;
    const proto_cmd_row_t *row = &proto_cmds[cmd];
    d->cmd = cmd;
    if (n != 2 + row->n_fields)
        return s_fail(d, "%" PRIu32 " fields, expected %zu", n, 2 + row->n_fields);

    /* bodies need about as much arena as the frame: one block up front; the
       small commands allocate lazily (HEARTBEAT and TOKEN not at all) */
    proto_msg_t *msg = d->msg = proto_msg_new(cmd);
    if (!msg || (proto_cmd_has_body(cmd) && proto_arena_reserve(msg, s_decoded_size(row, f, size)) != 0))
        return s_fail(d, "out of memory");
    for (size_t i = 0; i < row->n_fields; i++)
        if (s_get_msg_field(d, &f[2 + i], &row->fields[i], 2 + i, msg) != 0)
            return -1;
    return 0;
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
