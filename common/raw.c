/*  raw.c - the raw landing area's keys and objects. */
#include "common/raw.h"

#include <assert.h>
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#define RAW_MAX_OBJECT (256u << 20) /* refuse to inflate past this */

static int s_hour(int64_t unix_s, struct tm *tm)
{
    time_t t = (time_t) unix_s;
    return gmtime_r(&t, tm) ? 0 : -1;
}

int raw_hour_prefix(const char *flow, int64_t unix_s, char *out, size_t size)
{
    struct tm tm;
    if (s_hour(unix_s, &tm) != 0)
        return -1;
    int n = snprintf(out, size, "raw/%s/%04d/%02d/%02d/%02d/", flow, tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour);
    return n > 0 && (size_t) n < size ? 0 : -1;
}

int raw_key(const char *flow, const proto_page_t *page, char *out, size_t size)
{
    char prefix[128];
    if (raw_hour_prefix(flow, page->fetched_at_ms / 1000, prefix, sizeof prefix) != 0)
        return -1;
    int n = snprintf(out, size, "%s%" PRId64 "/%02d-%02d-%" PRId64 "-%" PRId64 ".json.gz", prefix, page->window_id,
                     page->page, page->attempt, page->fetched_at_ms, page->target_id);
    return n > 0 && (size_t) n < size ? 0 : -1;
}

int raw_key_parse(const char *key, int64_t *fetched_at_ms, int64_t *window_id)
{
    const char *file = strrchr(key, '/');
    if (!file || file == key)
        return -1;
    const char *dir = file - 1;
    while (dir > key && *dir != '/')
        dir--;
    if (*dir != '/')
        return -1;
    char *end;
    long long w = strtoll(dir + 1, &end, 10);
    if (end != file || w <= 0)
        return -1;
    int page, attempt;
    long long ms, target;
    int used = 0;
    if (sscanf(file + 1, "%d-%d-%lld-%lld%n", &page, &attempt, &ms, &target, &used) != 4
        || strcmp(file + 1 + used, ".json.gz") != 0)
        return -1;
    *fetched_at_ms = ms;
    *window_id = w;
    return 0;
}

static char *s_context(const char *flow, const proto_page_t *p)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "flow", flow);
    cJSON_AddNumberToObject(o, "window_id", (double) p->window_id);
    cJSON_AddNumberToObject(o, "catalog_id", p->catalog_id);
    cJSON_AddNumberToObject(o, "page", p->page);
    cJSON_AddNumberToObject(o, "attempt", p->attempt);
    cJSON_AddNumberToObject(o, "fetched_at_ms", (double) p->fetched_at_ms);
    cJSON_AddNumberToObject(o, "http_status", p->http_status);
    cJSON_AddStringToObject(o, "site", p->site ? p->site : "");
    cJSON_AddStringToObject(o, "api", p->api ? p->api : "");
    if (p->url)
        cJSON_AddStringToObject(o, "url", p->url);
    else
        cJSON_AddNullToObject(o, "url");
    if (p->error)
        cJSON_AddStringToObject(o, "error", p->error);
    else
        cJSON_AddNullToObject(o, "error");
    cJSON_AddNumberToObject(o, "n_items", p->n_items);
    cJSON_AddNumberToObject(o, "max_item_id", (double) p->max_item_id);
    cJSON_AddBoolToObject(o, "more", p->more);
    cJSON_AddNumberToObject(o, "total_pages", p->total_pages);
    cJSON_AddNumberToObject(o, "kind", p->kind);
    cJSON_AddNumberToObject(o, "target_id", (double) p->target_id);
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return text;
}

int raw_encode(const char *flow, const proto_page_t *page, uint8_t **out, size_t *len)
{
    char *ctx = s_context(flow, page);
    if (!ctx)
        return -1;
    size_t ctx_len = strlen(ctx);
    z_stream z = { 0 };
    if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
        free(ctx);
        return -1;
    }
    size_t cap = deflateBound(&z, (uLong) (ctx_len + 1 + page->body_len)) + 64;
    uint8_t *buf = malloc(cap);
    z.next_out = buf;
    z.avail_out = (uInt) cap;
    static const uint8_t newline = '\n';
    const uint8_t *parts[] = { (const uint8_t *) ctx, &newline, page->body };
    size_t sizes[] = { ctx_len, 1, page->body_len };
    int rc = Z_OK;
    for (int i = 0; i < 3 && rc == Z_OK; i++) {
        z.next_in = (Bytef *) parts[i];
        z.avail_in = (uInt) sizes[i];
        if (sizes[i] > 0)
            rc = deflate(&z, i == 2 ? Z_FINISH : Z_NO_FLUSH);
        else if (i == 2)
            rc = deflate(&z, Z_FINISH);
    }
    free(ctx);
    if (rc != Z_STREAM_END) {
        deflateEnd(&z);
        free(buf);
        return -1;
    }
    *out = buf;
    *len = z.total_out;
    deflateEnd(&z);
    return 0;
}

static int s_inflate(const uint8_t *data, size_t len, uint8_t **out, size_t *out_len, char *err, size_t errlen)
{
    z_stream z = { 0 };
    if (inflateInit2(&z, 15 + 16) != Z_OK) {
        snprintf(err, errlen, "zlib init failed");
        return -1;
    }
    size_t cap = len * 4 + 1024, used = 0;
    uint8_t *buf = malloc(cap);
    z.next_in = (Bytef *) data;
    z.avail_in = (uInt) len;
    int rc;
    do {
        if (cap - used < 4096) {
            if (cap * 2 > RAW_MAX_OBJECT) {
                snprintf(err, errlen, "object inflates past %u bytes", RAW_MAX_OBJECT);
                rc = Z_MEM_ERROR;
                break;
            }
            cap *= 2;
            buf = realloc(buf, cap);
        }
        z.next_out = buf + used;
        z.avail_out = (uInt) (cap - used);
        rc = inflate(&z, Z_NO_FLUSH);
        used = cap - z.avail_out;
    } while (rc == Z_OK);
    inflateEnd(&z);
    if (rc != Z_STREAM_END) {
        if (rc != Z_MEM_ERROR)
            snprintf(err, errlen, "not a complete gzip stream (zlib %d)", rc);
        free(buf);
        return -1;
    }
    *out = buf;
    *out_len = used;
    return 0;
}

static const cJSON *s_field(const cJSON *o, const char *name, int type_ok, char *err, size_t errlen)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    if (!v || !type_ok) {
        snprintf(err, errlen, "context field '%s' missing or of the wrong type", name);
        return NULL;
    }
    return v;
}

proto_msg_t *raw_decode(const uint8_t *data, size_t len, char *err, size_t errlen)
{
    uint8_t *plain;
    size_t plain_len;
    if (s_inflate(data, len, &plain, &plain_len, err, errlen) != 0)
        return NULL;
    uint8_t *nl = memchr(plain, '\n', plain_len);
    if (!nl) {
        snprintf(err, errlen, "no context line");
        free(plain);
        return NULL;
    }
    cJSON *ctx = cJSON_ParseWithLength((const char *) plain, (size_t) (nl - plain));
    proto_msg_t *msg = NULL;
    if (!ctx || !cJSON_IsObject(ctx)) {
        snprintf(err, errlen, "context line is not a JSON object");
        goto done;
    }
    const char *numbers[] = { "window_id", "catalog_id", "page", "attempt", "fetched_at_ms", "http_status",
                              "n_items", "max_item_id", "total_pages", "kind", "target_id" };
    /* each a whole number its C field can hold (int64 ones: exact in a double) */
    const bool wide[] = { true, false, false, false, true, false, false, true, false, false, true };
    double v[11];
    for (int i = 0; i < 11; i++) {
        const cJSON *f = cJSON_GetObjectItemCaseSensitive(ctx, numbers[i]);
        if (!s_field(ctx, numbers[i], cJSON_IsNumber(f), err, errlen))
            goto done;
        v[i] = f->valuedouble;
        double limit = wide[i] ? 9007199254740992.0 : 2147483647.0;
        if (!(v[i] >= -limit && v[i] <= limit) || v[i] != (double) (int64_t) v[i]) {
            snprintf(err, errlen, "context field '%s' is not a whole number in range", numbers[i]);
            goto done;
        }
    }
    const cJSON *site = cJSON_GetObjectItemCaseSensitive(ctx, "site");
    const cJSON *api = cJSON_GetObjectItemCaseSensitive(ctx, "api");
    const cJSON *more = cJSON_GetObjectItemCaseSensitive(ctx, "more");
    const cJSON *url = cJSON_GetObjectItemCaseSensitive(ctx, "url");
    const cJSON *error = cJSON_GetObjectItemCaseSensitive(ctx, "error");
    if (!s_field(ctx, "site", cJSON_IsString(site), err, errlen) || !s_field(ctx, "api", cJSON_IsString(api), err, errlen)
        || !s_field(ctx, "more", cJSON_IsBool(more), err, errlen))
        goto done;
    msg = proto_msg_new(PROTO_RESULT);
    msg->body = PROTO_BODY_PAGE;
    proto_page_t *p = &msg->u.page;
    p->window_id = (int64_t) v[0];
    p->catalog_id = (int32_t) v[1];
    p->page = (int32_t) v[2];
    p->attempt = (int32_t) v[3];
    p->fetched_at_ms = (int64_t) v[4];
    p->http_status = (int32_t) v[5];
    p->n_items = (int32_t) v[6];
    p->max_item_id = (int64_t) v[7];
    p->total_pages = (int32_t) v[8];
    p->kind = (int32_t) v[9];
    p->target_id = (int64_t) v[10];
    p->more = cJSON_IsTrue(more);
    p->site = proto_msg_strdup(msg, site->valuestring);
    p->api = proto_msg_strdup(msg, api->valuestring);
    p->url = cJSON_IsString(url) ? proto_msg_strdup(msg, url->valuestring) : NULL;
    p->error = cJSON_IsString(error) ? proto_msg_strdup(msg, error->valuestring) : NULL;
    p->body_len = plain_len - (size_t) (nl + 1 - plain);
    p->body = proto_msg_alloc(msg, p->body_len ? p->body_len : 1);
    memcpy(p->body, nl + 1, p->body_len);
done:
    cJSON_Delete(ctx);
    free(plain);
    return msg;
}

/* gzip of a NUL-terminated text, for the self-test's hand-made objects */
static size_t s_test_gzip(const char *text, uint8_t *out, size_t cap)
{
    z_stream z = { 0 };
    assert(deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK);
    z.next_in = (Bytef *) text;
    z.avail_in = (uInt) strlen(text);
    z.next_out = out;
    z.avail_out = (uInt) cap;
    assert(deflate(&z, Z_FINISH) == Z_STREAM_END);
    size_t len = cap - z.avail_out;
    deflateEnd(&z);
    return len;
}

void raw_test(bool verbose)
{
    (void) verbose;
    proto_page_t page = { .window_id = 12, .catalog_id = 221, .page = 3, .attempt = 1, .kind = 0, .target_id = 0,
                          .fetched_at_ms = 1795600800123, .http_status = 200, .site = "pt", .api = "svc",
                          .url = "https://api.vinted.pt/svc-catalogue/items?page=3", .error = NULL,
                          .n_items = 2, .max_item_id = 7000000123, .more = true, .total_pages = 10 };
    const char body[] = "{\"items\":[{\"id\":1,\"title\":\"caf\xc3\xa9 \\n \\u0000\"}]}\n\0tail";
    page.body = (uint8_t *) body;
    page.body_len = sizeof body - 1;

    char key[256];
    assert(raw_key("catalog", &page, key, sizeof key) == 0);
    assert(strcmp(key, "raw/catalog/2026/11/25/10/12/03-01-1795600800123-0.json.gz") == 0);
    int64_t ms, window;
    assert(raw_key_parse(key, &ms, &window) == 0 && ms == 1795600800123 && window == 12);
    assert(raw_key_parse("raw/catalog/2026/11/25/10/12/03-01.json.gz", &ms, &window) == -1);
    assert(raw_key_parse("raw/catalog/2026/11/25/10/12/03-01-5-0.json", &ms, &window) == -1);
    assert(raw_key_parse("raw/catalog/x/03-01-5.json.gz", &ms, &window) == -1);
    assert(raw_key_parse("nothing", &ms, &window) == -1);
    char prefix[64];
    assert(raw_hour_prefix("catalog", 1795600800, prefix, sizeof prefix) == 0);
    assert(strcmp(prefix, "raw/catalog/2026/11/25/10/") == 0);

    uint8_t *obj;
    size_t len;
    assert(raw_encode("catalog", &page, &obj, &len) == 0);
    assert(len > 18 && obj[0] == 0x1f && obj[1] == 0x8b); /* gzip */
    char err[128];
    proto_msg_t *msg = raw_decode(obj, len, err, sizeof err);
    assert(msg && msg->cmd == PROTO_RESULT && msg->body == PROTO_BODY_PAGE);
    proto_page_t *p = &msg->u.page;
    assert(p->window_id == 12 && p->catalog_id == 221 && p->page == 3 && p->attempt == 1);
    assert(p->fetched_at_ms == 1795600800123 && p->http_status == 200 && p->more && p->total_pages == 10);
    assert(p->max_item_id == 7000000123 && p->n_items == 2 && p->error == NULL);
    assert(p->kind == 0 && p->target_id == 0);
    assert(strcmp(p->site, "pt") == 0 && strcmp(p->api, "svc") == 0 && strcmp(p->url, page.url) == 0);
    assert(p->body_len == page.body_len && memcmp(p->body, body, page.body_len) == 0); /* untouched */
    uint8_t *enc;
    size_t enc_len;
    assert(proto_encode(msg, &enc, &enc_len) == 0); /* a valid message */
    free(enc);
    proto_msg_destroy(&msg);

    /* damaged objects are refused with a reason, never half-read */
    assert(raw_decode(obj, len / 2, err, sizeof err) == NULL && strstr(err, "gzip"));
    assert(raw_decode((const uint8_t *) "plain", 5, err, sizeof err) == NULL);
    free(obj);
    /* a number its field cannot hold (found by tests/fuzz/fuzz_raw.c) */
    uint8_t gz[512];
    const char *ctx_fmt = "{\"window_id\":1,\"catalog_id\":2,\"page\":%s,\"attempt\":0,\"fetched_at_ms\":1,"
                          "\"http_status\":200,\"n_items\":0,\"max_item_id\":0,\"total_pages\":0,\"kind\":0,"
                          "\"target_id\":0,\"site\":\"pt\",\"api\":\"v2\",\"more\":false}\n{}";
    const char *pages[] = { "1e119", "2147483648", "1.5", "-1e300" };
    for (size_t i = 0; i < sizeof pages / sizeof pages[0]; i++) {
        char text[400];
        snprintf(text, sizeof text, ctx_fmt, pages[i]);
        assert(raw_decode(gz, s_test_gzip(text, gz, sizeof gz), err, sizeof err) == NULL);
        assert(strstr(err, "'page' is not a whole number in range"));
    }
    char text[400];
    snprintf(text, sizeof text, ctx_fmt, "2147483647");
    msg = raw_decode(gz, s_test_gzip(text, gz, sizeof gz), err, sizeof err);
    assert(msg && msg->u.page.page == 2147483647);
    proto_msg_destroy(&msg);

    page.body = NULL; /* an empty body (a 5xx that came through) round-trips too */
    page.body_len = 0;
    page.error = "malformed json after 4 attempts";
    page.kind = PROTO_FETCH_USER_ITEMS; /* a tracking page keeps its target */
    page.target_id = 55;
    assert(raw_key("tracking", &page, key, sizeof key) == 0);
    assert(strcmp(key, "raw/tracking/2026/11/25/10/12/03-01-1795600800123-55.json.gz") == 0);
    assert(raw_encode("tracking", &page, &obj, &len) == 0);
    msg = raw_decode(obj, len, err, sizeof err);
    assert(msg && msg->u.page.body_len == 0 && strcmp(msg->u.page.error, page.error) == 0);
    assert(msg->u.page.kind == PROTO_FETCH_USER_ITEMS && msg->u.page.target_id == 55);
    proto_msg_destroy(&msg);
    free(obj);
}
