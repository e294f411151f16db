/*  fuzz_raw.c - libFuzzer harness for the raw landing area's format
    (common/raw.h): raw_decode of a stored object and raw_key_parse of an
    object key, both read back from the object store by replays.

    Input: the first byte chooses. Odd: the rest is given to raw_decode as
    it is (a gzip stream, mostly damaged). Even: the rest is gzip-compressed
    first, so the fuzzer explores the context line and the body behind it.
    Every input is also tried as a key. A decoded page must come back the
    same through raw_encode and raw_decode.
*/
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "common/raw.h"
#include "proto/proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void s_fail(const char *what)
{
    fprintf(stderr, "fuzz_raw: %s\n", what);
    abort();
}

static int s_gzip(const uint8_t *in, size_t len, uint8_t **out, size_t *out_len)
{
    z_stream z = {0};
    if (deflateInit2(&z, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return -1;
    size_t cap = deflateBound(&z, (uLong)len);
    *out = malloc(cap);
    if (!*out) {
        deflateEnd(&z);
        return -1;
    }
    z.next_in = (Bytef *)in;
    z.avail_in = (uInt)len;
    z.next_out = *out;
    z.avail_out = (uInt)cap;
    int rc = deflate(&z, Z_FINISH);
    *out_len = cap - z.avail_out;
    deflateEnd(&z);
    if (rc != Z_STREAM_END) {
        free(*out);
        return -1;
    }
    return 0;
}

static bool s_same_str(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static void s_round_trip(const proto_page_t *p)
{
    uint8_t *object;
    size_t len;
    if (raw_encode("catalog", p, &object, &len) != 0)
        s_fail("a decoded page does not encode");
    char err[256];
    proto_msg_t *back = raw_decode(object, len, err, sizeof err);
    free(object);
    if (!back) {
        fprintf(stderr, "fuzz_raw: a re-encoded page does not decode: %s\n", err);
        abort();
    }
    const proto_page_t *q = &back->u.page;
    if (q->window_id != p->window_id || q->catalog_id != p->catalog_id || q->page != p->page ||
        q->attempt != p->attempt || q->fetched_at_ms != p->fetched_at_ms ||
        q->http_status != p->http_status || q->n_items != p->n_items || q->max_item_id != p->max_item_id ||
        q->more != p->more || q->total_pages != p->total_pages || q->kind != p->kind ||
        q->target_id != p->target_id)
        s_fail("a number changed in the round trip");
    if (!s_same_str(q->site, p->site) || !s_same_str(q->api, p->api) || !s_same_str(q->url, p->url) ||
        !s_same_str(q->error, p->error))
        s_fail("a string changed in the round trip");
    if (q->body_len != p->body_len || (p->body_len && memcmp(q->body, p->body, p->body_len) != 0))
        s_fail("the body changed in the round trip");
    proto_msg_destroy(&back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    /* the key: NUL-terminated, as it comes from a listing */
    char *key = malloc(size);
    if (!key)
        return 0;
    memcpy(key, data + 1, size - 1);
    key[size - 1] = 0;
    int64_t fetched_ms, window;
    if (raw_key_parse(key, &fetched_ms, &window) == 0 && window <= 0)
        s_fail("a key with a window id that is not positive was accepted");
    free(key);

    uint8_t *object = (uint8_t *)data + 1;
    size_t len = size - 1;
    uint8_t *zipped = NULL;
    if (!(data[0] & 1)) {
        if (s_gzip(data + 1, size - 1, &zipped, &len) != 0)
            return 0;
        object = zipped;
    }
    char err[256] = "";
    proto_msg_t *msg = raw_decode(object, len, err, sizeof err);
    if (!msg && !err[0])
        s_fail("rejected without a reason");
    if (msg) {
        if (msg->cmd != PROTO_RESULT || msg->body != PROTO_BODY_PAGE)
            s_fail("decoded into something else than RESULT(PAGE)");
        s_round_trip(&msg->u.page);
    }
    proto_msg_destroy(&msg);
    free(zipped);
    return 0;
}
