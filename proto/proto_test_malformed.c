/*  proto_test_malformed.c - the proto self-test's hostile frames: each malformed
    frame the decoder must reject, with the reason it must give, and the messages
    the encoder must refuse to write.
*/
#include "proto_internal.h"
#include "proto_test.h"

#include <assert.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const proto_body_row_t *const s_batch = &proto_bodies[PROTO_BODY_BATCH];

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

static void s_frame_reject(s_frame_t *f, const char *needle, bool verbose)
{
    proto_test_expect_reject(f->sbuf.data, f->sbuf.size, needle, verbose);
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

/* A TASK or RESULT of this body kind whose body is nfields integers (s_pack_fetch_body):
   decoding must fail with needle. */
static void s_fetch_reject(int cmd, int body, size_t nfields, int bad_field, const char *needle, bool verbose)
{
    s_frame_t f;
    msgpack_packer *pk = s_frame_begin(&f);
    s_pack_head(pk, 5, cmd);
    msgpack_pack_int(pk, 1);
    msgpack_pack_int(pk, body);
    s_pack_fetch_body(pk, nfields, bad_field);
    s_frame_reject(&f, needle, verbose);
}

void proto_test_malformed(bool verbose)
{
    const size_t nfetch = proto_bodies[PROTO_BODY_FETCH].n_fields;
    /* what the batch variants and the CTL_REQ variants below must be rejected with */
    static const char *batch_needles[] = {"RESULT BATCH: item 1 field 3 (price) is not an integer or nil",
                                          "RESULT BATCH: item 1 has 21 fields, expected 22",
                                          "RESULT BATCH: body field 7 (items) is not an array",
                                          "body field 7 (items) has 100001 records, at most 100000 allowed",
                                          "RESULT BATCH: quarantine 0 field 1 (rule) is not a string"};
    static const char *ctl_needles[] = {"CTL_REQ: field 3 (args) is not a map",
                                        "field 3 (args) has 17 arguments, at most 16 allowed",
                                        "CTL_REQ: argument 1: duplicate key \"from\"",
                                        "CTL_REQ: argument 1: key is not a non-empty string",
                                        "CTL_REQ: argument 1: value is not a string"};
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

    proto_test_expect_reject("", 0, "empty frame", verbose);
    proto_test_expect_reject(c1, sizeof(c1), "invalid msgpack byte 0xc1", verbose);
    proto_test_expect_reject(forged_str, sizeof(forged_str), "truncated", verbose);
    proto_test_expect_reject(forged_array, sizeof(forged_array), "truncated", verbose);
    proto_test_expect_reject(forged_map, sizeof(forged_map), "truncated", verbose);
    proto_test_expect_reject(cut_length, sizeof(cut_length), "truncated", verbose);
    proto_test_expect_reject(ext_version, sizeof(ext_version), "version is not", verbose);
    proto_test_expect_reject(heartbeat_garbage, sizeof(heartbeat_garbage), "1 bytes of trailing garbage", verbose);

    /* nesting deeper than msgpack-c's parser stack */
    uint8_t deep[200];
    memset(deep, 0x91, sizeof(deep) - 1);
    deep[sizeof(deep) - 1] = 0xc0;
    proto_test_expect_reject(deep, sizeof(deep), "nested", verbose);

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

    /* READY: stage, name (NULL: nil), capacity (-1: a float) */
    static const struct {
        int stage;
        const char *name;
        size_t name_len;
        int capacity;
        const char *needle;
    } ready[] = {
        {7, "w", 1, 1, "READY: field 2 (stage) is not a stage"},
        {PROTO_STAGE_FETCH, NULL, 0, 1, "READY: field 3 (name) is not a string"},
        {PROTO_STAGE_FETCH, "a\0b", 3, 1, "field 3 (name) contains a NUL byte"},
        {PROTO_STAGE_FETCH, "w", 1, 0, "field 4 (capacity) is 0, must be at least 1"},
        {PROTO_STAGE_FETCH, "w", 1, -1, "field 4 (capacity) is not an integer"},
    };
    for (size_t i = 0; i < PROTO_COUNT(ready); i++) {
        pk = s_frame_begin(&f);
        s_pack_head(pk, 5, PROTO_READY);
        msgpack_pack_int(pk, ready[i].stage);
        if (ready[i].name)
            msgpack_pack_str_with_body(pk, ready[i].name, ready[i].name_len);
        else
            msgpack_pack_nil(pk);
        if (ready[i].capacity < 0)
            msgpack_pack_double(pk, 2.0);
        else
            msgpack_pack_int(pk, ready[i].capacity);
        s_frame_reject(&f, ready[i].needle, verbose);
    }

    /* TASK and RESULT envelopes */
    pk = s_frame_begin(&f);
    s_pack_head(pk, 5, PROTO_TASK);
    msgpack_pack_int(pk, -1);
    msgpack_pack_int(pk, PROTO_BODY_FETCH);
    s_pack_fetch_body(pk, proto_bodies[PROTO_BODY_FETCH].n_fields, -1000);
    s_frame_reject(&f, "TASK: field 2 (task_id) is not a non-negative integer", verbose);

    s_fetch_reject(PROTO_TASK, PROTO_BODY_COMMIT, 5, -1000,
                   "TASK: field 3 (body_kind) 4 is not allowed in a TASK", verbose);

    s_fetch_reject(PROTO_RESULT, PROTO_BODY_FETCH, nfetch, -1000,
                   "RESULT: field 3 (body_kind) 1 is not allowed in a RESULT", verbose);

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
    s_fetch_reject(PROTO_TASK, PROTO_BODY_FETCH, 5, -1000, "TASK FETCH: body has 5 fields, expected 13", verbose);

    s_fetch_reject(PROTO_TASK, PROTO_BODY_FETCH, nfetch, 2,
                   "TASK FETCH: body field 2 (page) is not an integer", verbose);

    s_fetch_reject(PROTO_TASK, PROTO_BODY_FETCH, nfetch, 101,
                   "body field 1 (catalog_id) is out of range for int32", verbose);

    s_fetch_reject(PROTO_TASK, PROTO_BODY_FETCH, nfetch, 200, "body field 0 (window_id) is out of range", verbose);

    /* a PAGE whose body is a string, not bin */
    pk = s_frame_begin(&f);
    s_pack_head(pk, 5, PROTO_RESULT);
    msgpack_pack_int(pk, 1);
    msgpack_pack_int(pk, PROTO_BODY_PAGE);
    msgpack_pack_array(pk, proto_bodies[PROTO_BODY_PAGE].n_fields);
    for (int i = 0; i < (int)proto_bodies[PROTO_BODY_PAGE].n_fields; i++) {
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
        msgpack_pack_array(pk, s_batch->n_fields + s_batch->n_lists);
        for (int i = 0; i + 1 < (int)s_batch->n_fields; i++)
            msgpack_pack_int(pk, 1);
        msgpack_pack_nil(pk); /* site */
        if (variant == 2)
            msgpack_pack_map(pk, 0);
        else if (variant == 3) {
            msgpack_pack_array(pk, PROTO_MAX_ITEMS + 1);
            for (int i = 0; i <= PROTO_MAX_ITEMS; i++)
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
                    else if (s_batch->lists[0].fields[i].type == F_BOOL)
                        msgpack_pack_true(pk);
                    else if (s_batch->lists[0].fields[i].type == F_I32 || s_batch->lists[0].fields[i].type == F_I64)
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
        for (size_t l = 2; l < s_batch->n_lists; l++)
            msgpack_pack_array(pk, 0); /* photos, snapshots, users, catalogs */
        s_frame_reject(&f, batch_needles[variant], verbose);
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
        s_frame_reject(&f, ctl_needles[variant], verbose);
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
void proto_test_encode_refuses(void)
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
    m->u.batch.n_items = PROTO_MAX_ITEMS + 1;
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
