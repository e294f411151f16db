/*  proto_test.c - the proto self-test (proto_test, run by vinted-selftest proto):
    names, the arena, a round trip of every sample message (proto_test_samples.c),
    the example encodings PROTOCOL.md shows, the hostile frames
    (proto_test_malformed.c), a mutation loop, the message table's own
    consistency, and with -v a bench of a 96-item batch.
*/
#include "proto_internal.h"
#include "proto_test.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

/* Decoding must fail with err containing needle; the frame is freed. */
void proto_test_expect_reject(const void *data, size_t size, const char *needle, bool verbose)
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

/* The example encodings of PROTOCOL.md ("Example encodings"), built again and
   compared byte for byte; each hex string must also stand in the document when
   it can be read (the self-test runs from the top of the tree), so that
   neither can drift. */
static proto_msg_t *s_example(int i)
{
    proto_msg_t *m = NULL;
    switch (i) {
    case 0:
        return proto_msg_new(PROTO_HEARTBEAT);
    case 1:
    case 2:
        m = proto_msg_new(PROTO_READY);
        m->u.ready = (proto_ready_t){.stage = i == 1 ? PROTO_STAGE_TRANSFORM : PROTO_STAGE_STORE,
                                     .name = "h:42", .capacity = 4};
        return m;
    case 3:
        m = proto_msg_new_body(PROTO_TASK, 17, PROTO_BODY_FETCH);
        m->u.fetch = (proto_fetch_t){.window_id = 12, .catalog_id = 221, .page = 1, .per_page = 96, .api_page = 1};
        return m;
    case 4:
        m = proto_msg_new_body(PROTO_TASK, 18, PROTO_BODY_FETCH);
        m->u.fetch = (proto_fetch_t){.window_id = 40, .page = 2, .per_page = 96, .kind = PROTO_FETCH_USER_ITEMS,
                                     .target_id = 1234, .api_page = 2};
        return m;
    case 5:
        m = proto_msg_new_body(PROTO_RESULT, 22, PROTO_BODY_BATCH);
        m->u.batch = (proto_batch_t){.window_id = 12, .catalog_id = 221, .page = 3};
        return m;
    case 6:
        m = proto_msg_new(PROTO_NACK);
        m->task_id = 7;
        m->u.nack.reason = "http 429";
        return m;
    case 7:
        m = proto_msg_new(PROTO_CTL_REQ);
        m->u.ctl_req.verb = "status";
        return m;
    case 8:
        m = proto_msg_new(PROTO_REPORT);
        m->u.report = (proto_report_t){.event = "blocked", .backoff_ms = 3600000, .identity = 1};
        return m;
    case 9:
        m = proto_msg_new(PROTO_TOKEN);
        m->u.token.identity = 1;
        return m;
    default:
        return NULL;
    }
}

static void s_test_examples(bool verbose)
{
    static const char *hex[] = {
        "92 01 02",
        "95 01 01 02 a4 68 3a 34 32 04",
        "95 01 01 04 a4 68 3a 34 32 04",
        "95 01 03 11 01 9d 0c cc dd 01 60 00 00 00 00 01 00 00 00 c0",
        "95 01 03 12 01 9d 28 00 02 60 00 00 01 cd 04 d2 02 00 00 00 c0",
        "95 01 04 16 03 9d 0c cc dd 03 00 00 00 c0 90 90 90 90 90 90",
        "96 01 05 07 a8 68 74 74 70 20 34 32 39 c0 c2",
        "94 01 09 a6 73 74 61 74 75 73 80",
        "96 01 0b a7 62 6c 6f 63 6b 65 64 c0 ce 00 36 ee 80 01",
        "93 01 07 01",
    };
    FILE *doc = fopen("proto/PROTOCOL.md", "rb");
    char *text = NULL;
    size_t len = 0;
    if (doc) {
        text = malloc(1 << 20);
        assert(text);
        len = fread(text, 1, (1 << 20) - 1, doc);
        text[len] = '\0';
        fclose(doc);
    }
    for (size_t i = 0; i < PROTO_COUNT(hex); i++) {
        proto_msg_t *m = s_example((int)i);
        assert(m);
        uint8_t *data;
        size_t size;
        assert(proto_encode(m, &data, &size) == 0);
        char got[256] = "";
        for (size_t b = 0, at = 0; b < size && at + 4 < sizeof(got); b++)
            at += (size_t)snprintf(got + at, sizeof(got) - at, b ? " %02x" : "%02x", data[b]);
        if (strcmp(got, hex[i]) != 0)
            fprintf(stderr, "proto_test: example %zu encodes as %s, expected %s\n", i, got, hex[i]);
        assert(strcmp(got, hex[i]) == 0);
        if (text && !strstr(text, hex[i]))
            fprintf(stderr, "proto_test: example %zu (%s) is not in proto/PROTOCOL.md\n", i, hex[i]);
        assert(!text || strstr(text, hex[i]));
        proto_msg_t *back = proto_decode(data, size, NULL, 0);
        assert(back && back->cmd == m->cmd);
        proto_msg_destroy(&back);
        free(data);
        proto_msg_destroy(&m);
    }
    if (verbose)
        printf("  examples: %zu encodings as PROTOCOL.md shows them%s\n", PROTO_COUNT(hex),
               text ? " (and found in it)" : "");
    free(text);
}

/* The message table itself: what the encoder and decoder assume of it. */
static void s_test_table(void)
{
    for (int c = PROTO_READY; c <= PROTO_CMD_LAST; c++) {
        const proto_cmd_row_t *row = &proto_cmds[c];
        assert(row->name && row->direction && row->meaning && (row->n_fields == 0 || row->fields));
        bool kind = false;
        for (size_t i = 0; i < row->n_fields; i++) {
            const proto_field_t *f = &row->fields[i];
            assert(f->name && f->meaning && f->off < sizeof(proto_msg_t));
            assert(!f->has_min || f->type == F_I32 || f->type == F_I64);
            if (f->type == F_BODY_KIND)
                kind = true;
            assert(f->type != F_BODY || kind); /* the kind comes first */
        }
        assert(proto_cmd_has_body((proto_cmd_t)c) == (c == PROTO_TASK || c == PROTO_RESULT));
    }
    assert(!proto_cmd_has_body((proto_cmd_t)0) && !proto_cmd_has_body((proto_cmd_t)99));
    for (int k = 0; k < PROTO_BODIES; k++) {
        const proto_body_row_t *b = &proto_bodies[k];
        assert(b->name && (k == 0) == (b->carried_by == 0));
        assert((b->carried_by & ~((1u << PROTO_TASK) | (1u << PROTO_RESULT))) == 0);
        for (size_t i = 0; i < b->n_fields; i++)
            assert(b->fields[i].type <= F_STAGE && b->fields[i].meaning);
        for (size_t l = 0; l < b->n_lists; l++)
            for (size_t i = 0; i < b->lists[l].n_fields; i++)
                assert(b->lists[l].fields[i].type <= F_STAGE && b->lists[l].fields[i].off < b->lists[l].size);
    }
    assert(proto_body_allowed(PROTO_TASK, PROTO_BODY_FETCH) && !proto_body_allowed(PROTO_RESULT, PROTO_BODY_FETCH));
    assert(!proto_body_allowed(PROTO_TASK, PROTO_BODY_COMMIT) && proto_body_allowed(PROTO_RESULT, PROTO_BODY_COMMIT));
    assert(!proto_body_allowed(PROTO_NACK, PROTO_BODY_PAGE) && !proto_body_allowed(PROTO_TASK, PROTO_BODIES));
    assert(!proto_body_allowed(PROTO_TASK, PROTO_BODY_NONE));
    assert(strcmp(proto_type_name(F_I64N), "i64?") == 0 && strcmp(proto_type_name((proto_ftype_t)99), "?") == 0);
    proto_msg_t *m = proto_msg_new_body(PROTO_RESULT, 5, PROTO_BODY_STORED);
    assert(m && m->task_id == 5 && m->body == PROTO_BODY_STORED);
    proto_msg_destroy(&m);
    assert(proto_msg_new_body(PROTO_TASK, 5, PROTO_BODY_STORED) == NULL);
    assert(proto_msg_new_body(PROTO_NACK, 5, PROTO_BODY_PAGE) == NULL);
}

static void s_test_bench(void)
{
    proto_msg_t *msg = proto_test_batch(PROTO_RESULT, 96, 2, true);
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
        proto_msg_t *m = proto_test_batch(PROTO_RESULT, 2, 0, true);
        proto_item_t *it = &m->u.batch.items[0];
        assert(proto_item_null_mask(it) == 0);
        it->price = PROTO_NULL;
        it->photo_url = NULL;
        it->created_at = PROTO_NULL;
        assert(proto_item_null_mask(it) == (PROTO_NULL_PRICE | PROTO_NULL_PHOTO | PROTO_NULL_CREATED));
        proto_test_item(m, it, 0, false);
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
            assert(p && (uintptr_t)p % PROTO_ALIGN == 0);
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
        n_samples[full] = proto_test_samples(samples[full], full);
        assert(n_samples[full] <= S_TEST_SAMPLES);
        for (size_t i = 0; i < n_samples[full]; i++) {
            proto_msg_t *copy = s_test_roundtrip(samples[full][i], &frames[n_frames], &sizes[n_frames]);
            proto_test_equal(samples[full][i], copy);
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
                       copy->cmd == PROTO_TASK || copy->cmd == PROTO_RESULT ? proto_bodies[copy->body].name : "",
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
        proto_test_expect_reject(longer, sizes[i] + 1, "trailing garbage", false);
        free(longer);
    }

    s_test_examples(verbose);
    s_test_table();
    proto_test_malformed(verbose);
    proto_test_encode_refuses();
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
