/*  seed.c - fuzz-seed: writes the seed corpora of the proto and raw harnesses
    from the pages of the parse corpus, so every seed is something the project
    itself produces (tests/fuzz/seed.py runs it after fetching the pages from
    the simulator).

        fuzz-seed PARSE_DIR PROTO_DIR RAW_DIR

    For each page of PARSE_DIR (page_input.h format): RESULT(PAGE), TASK(PAGE),
    the transformer's RESULT(BATCH) and TASK(BATCH) frames into PROTO_DIR; the
    raw object (plain and gzip'd, see fuzz_raw.c) into RAW_DIR. Then one frame
    of every other command and body kind, and a raw key.
*/
#include <dirent.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "common/raw.h"
#include "proto/proto.h"
#include "tests/fuzz/page_input.h"
#include "workers/transformer/parse.h"

static int s_written;

static void s_write(const char *dir, const char *name, uint8_t prefix, bool with_prefix, const uint8_t *data,
                    size_t len)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f) {
        perror(path);
        exit(1);
    }
    if (with_prefix)
        fputc(prefix, f);
    if (len)
        fwrite(data, 1, len, f);
    if (fclose(f) != 0) {
        perror(path);
        exit(1);
    }
    s_written++;
}

static void s_frame(const char *dir, const char *name, const proto_msg_t *msg)
{
    uint8_t *data;
    size_t len;
    if (proto_encode(msg, &data, &len) != 0) {
        fprintf(stderr, "fuzz-seed: %s does not encode\n", name);
        exit(1);
    }
    s_write(dir, name, 0, false, data, len);
    free(data);
}

static int s_gunzip(const uint8_t *in, size_t len, uint8_t **out, size_t *out_len)
{
    z_stream z = {0};
    if (inflateInit2(&z, 15 + 16) != Z_OK)
        return -1;
    size_t cap = len * 8 + 1024;
    *out = malloc(cap);
    z.next_in = (Bytef *)in;
    z.avail_in = (uInt)len;
    int rc = Z_OK;
    while (rc == Z_OK) {
        if (z.total_out == cap) {
            cap *= 2;
            *out = realloc(*out, cap);
        }
        z.next_out = *out + z.total_out;
        z.avail_out = (uInt)(cap - z.total_out);
        rc = inflate(&z, Z_NO_FLUSH);
    }
    *out_len = z.total_out;
    inflateEnd(&z);
    return rc == Z_STREAM_END ? 0 : -1;
}

static void s_page(const char *name, const uint8_t *data, size_t size, const char *proto_dir,
                   const char *raw_dir)
{
    page_input_t in;
    page_input_read(&in, data, size);
    char out_name[512];
    proto_msg_t *page = proto_msg_new(PROTO_RESULT);
    page->task_id = 42;
    page->body = PROTO_BODY_PAGE;
    page->u.page = in.page;
    page->u.page.url = "https://www.vinted.pt/api/v2/catalog/items?page=1";
    page->u.page.n_items = 2;
    page->u.page.max_item_id = 7000000123;
    page->u.page.more = true;
    page->u.page.total_pages = 3;
    snprintf(out_name, sizeof out_name, "result-page-%s", name);
    s_frame(proto_dir, out_name, page);
    page->cmd = PROTO_TASK;
    snprintf(out_name, sizeof out_name, "task-page-%s", name);
    s_frame(proto_dir, out_name, page);

    proto_msg_t *batch = proto_msg_new(PROTO_RESULT);
    batch->task_id = 42;
    if (parse_page(&in.page, batch) == 0) {
        snprintf(out_name, sizeof out_name, "result-batch-%s", name);
        s_frame(proto_dir, out_name, batch);
        batch->cmd = PROTO_TASK;
        snprintf(out_name, sizeof out_name, "task-batch-%s", name);
        s_frame(proto_dir, out_name, batch);
    }
    proto_msg_destroy(&batch);

    uint8_t *object, *plain;
    size_t len, plain_len;
    if (raw_encode("catalog", &page->u.page, &object, &len) == 0) {
        snprintf(out_name, sizeof out_name, "gzip-%s", name);
        s_write(raw_dir, out_name, 1, true, object, len);
        if (s_gunzip(object, len, &plain, &plain_len) == 0) {
            snprintf(out_name, sizeof out_name, "plain-%s", name);
            s_write(raw_dir, out_name, 0, true, plain, plain_len);
        }
        free(plain);
        free(object);
    }
    proto_msg_destroy(&page);
}

/* One frame of every command and body kind the pages do not give. */
static void s_fixed(const char *dir)
{
    proto_msg_t *m = proto_msg_new(PROTO_READY);
    m->u.ready.stage = PROTO_STAGE_TRANSFORM;
    m->u.ready.name = proto_msg_strdup(m, "transformer@host:1234");
    m->u.ready.capacity = 4;
    s_frame(dir, "ready", m);
    proto_msg_destroy(&m);

    proto_cmd_t plain[] = {PROTO_HEARTBEAT, PROTO_TOKEN_REQ, PROTO_TOKEN, PROTO_DISCONNECT};
    for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++) {
        m = proto_msg_new(plain[i]);
        s_frame(dir, proto_cmd_name(plain[i]), m);
        proto_msg_destroy(&m);
    }

    for (int kind = PROTO_FETCH_CATALOG; kind <= PROTO_FETCH_CATALOGS; kind++) {
        m = proto_msg_new(PROTO_TASK);
        m->task_id = 1795600800123000 + (uint64_t)kind;
        m->body = PROTO_BODY_FETCH;
        m->u.fetch = (proto_fetch_t){.window_id = 12,
                                     .catalog_id = 221,
                                     .page = 2,
                                     .per_page = 96,
                                     .hwm = 7000000000,
                                     .attempt = 1,
                                     .kind = kind,
                                     .target_id = kind ? 123456 : 0,
                                     .api_page = 2,
                                     .price_from = kind ? 0 : 1500,
                                     .pin_time = kind ? 0 : 1760373805};
        char name[32];
        snprintf(name, sizeof name, "task-fetch-%d", kind);
        s_frame(dir, name, m);
        proto_msg_destroy(&m);
    }

    m = proto_msg_new(PROTO_NACK);
    m->task_id = 7;
    m->u.nack.reason = proto_msg_strdup(m, "HTTP 429 Too Many Requests");
    m->u.nack.retry_after_ms = 5000;
    m->u.nack.permanent = false;
    s_frame(dir, "nack", m);
    proto_msg_destroy(&m);

    m = proto_msg_new(PROTO_REPORT);
    m->u.report.event = proto_msg_strdup(m, "blocked");
    m->u.report.detail = proto_msg_strdup(m, "403 cloudflare");
    m->u.report.backoff_ms = 3600000;
    s_frame(dir, "report", m);
    proto_msg_destroy(&m);

    m = proto_msg_new(PROTO_CTL_REQ);
    m->u.ctl_req.verb = proto_msg_strdup(m, "window");
    const char *keys[] = {"catalog", "from", "to"};
    const char *values[] = {"221", "2026-11-25T10:00:00Z", "2026-11-25T11:00:00Z"};
    for (int i = 0; i < 3; i++) {
        m->u.ctl_req.keys[i] = proto_msg_strdup(m, keys[i]);
        m->u.ctl_req.values[i] = proto_msg_strdup(m, values[i]);
    }
    m->u.ctl_req.n_args = 3;
    s_frame(dir, "ctl-req", m);
    proto_msg_destroy(&m);

    m = proto_msg_new(PROTO_CTL_REP);
    m->u.ctl_rep.status = 0;
    m->u.ctl_rep.message = proto_msg_strdup(m, "window 12 queued for catalog 221");
    m->u.ctl_rep.json = proto_msg_strdup(m, "{\"window_id\":12,\"catalog_id\":221,\"state\":\"pending\"}");
    s_frame(dir, "ctl-rep", m);
    proto_msg_destroy(&m);

    m = proto_msg_new(PROTO_RESULT);
    m->task_id = 9;
    m->body = PROTO_BODY_COMMIT;
    m->u.commit = (proto_commit_t){.window_id = 12, .page = 3, .attempt = 1, .rows = 96, .quarantined = 2};
    s_frame(dir, "result-commit", m);
    proto_msg_destroy(&m);

    m = proto_msg_new(PROTO_TASK);
    m->task_id = 10;
    m->body = PROTO_BODY_LOAD;
    m->u.load.key = proto_msg_strdup(m, "raw/catalog/2026/11/25/10/12/03-01-1795600800123-0.json.gz");
    s_frame(dir, "task-load", m);
    proto_msg_destroy(&m);

    m = proto_msg_new(PROTO_RESULT);
    m->task_id = 11;
    m->body = PROTO_BODY_STORED;
    m->u.stored.window_id = 12;
    m->u.stored.page = 3;
    m->u.stored.attempt = 1;
    m->u.stored.key = proto_msg_strdup(m, "raw/catalog/2026/11/25/10/12/03-01-1795600800123-0.json.gz");
    m->u.stored.bytes = 18234;
    s_frame(dir, "result-stored", m);
    proto_msg_destroy(&m);

    m = proto_msg_new(PROTO_TASK);
    m->task_id = 12;
    m->body = PROTO_BODY_IMAGE;
    m->u.image = (proto_image_t){.window_id = 12, .item_id = 7000000123, .photo_id = 21000000001};
    m->u.image.url =
        proto_msg_strdup(m, "https://images1.vinted.net/t/02_0abcd_xyz/f800/1790000000.webp?s=1");
    s_frame(dir, "task-image", m);
    proto_msg_destroy(&m);

    m = proto_msg_new(PROTO_RESULT);
    m->task_id = 13;
    m->body = PROTO_BODY_PHOTO;
    m->u.photo = (proto_photo_stored_t){
        .window_id = 12, .item_id = 7000000123, .photo_id = 21000000001, .bytes = 5120, .skipped = false};
    m->u.photo.key = proto_msg_strdup(m, "images/7000000123/21000000001.webp");
    m->u.photo.content_type = proto_msg_strdup(m, "image/webp");
    m->u.photo.sha256 =
        proto_msg_strdup(m, "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08");
    s_frame(dir, "result-photo", m);
    m->cmd = PROTO_TASK;
    s_frame(dir, "task-photo", m);
    proto_msg_destroy(&m);
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: fuzz-seed PARSE_DIR PROTO_DIR RAW_DIR\n");
        return 2;
    }
    DIR *d = opendir(argv[1]);
    if (!d) {
        perror(argv[1]);
        return 1;
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", argv[1], e->d_name);
        FILE *f = fopen(path, "rb");
        if (!f)
            continue;
        fseek(f, 0, SEEK_END);
        long size = ftell(f);
        fseek(f, 0, SEEK_SET);
        uint8_t *data = malloc(size > 0 ? (size_t)size : 1);
        size_t got = size > 0 ? fread(data, 1, (size_t)size, f) : 0;
        fclose(f);
        s_page(e->d_name, data, got, argv[2], argv[3]);
        free(data);
    }
    closedir(d);
    s_fixed(argv[2]);
    const char *key = "raw/catalog/2026/11/25/10/12/03-01-1795600800123-0.json.gz";
    s_write(argv[3], "key", 1, true, (const uint8_t *)key, strlen(key));
    printf("fuzz-seed: %d seeds written\n", s_written);
    return 0;
}
