/*  uploader.c - the object-store stage's work (see uploader.h). */
#include "workers/s3-uploader/uploader.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/raw.h"
#include "common/httpstub.h"

#define UPLOADER_RETRY_MS 2000 /* a retryable NACK's default wait */

static proto_msg_t *s_nack_after(const proto_msg_t *task, const char *reason, bool permanent,
                                 int64_t retry_after_ms)
{
    proto_msg_t *nack = proto_msg_new(PROTO_NACK);
    nack->task_id = task->task_id;
    nack->u.nack.reason = proto_msg_strdup(nack, reason);
    nack->u.nack.retry_after_ms = permanent ? PROTO_NULL : retry_after_ms;
    nack->u.nack.permanent = permanent;
    return nack;
}

static proto_msg_t *s_nack(const proto_msg_t *task, const char *reason, bool permanent)
{
    return s_nack_after(task, reason, permanent, UPLOADER_RETRY_MS);
}

/* Every handler below sets *store_failed when the object store itself failed (as
   opposed to the task, or the CDN): waiting for the store is then worth it. */
static proto_msg_t *s_store_raw(objstore_t *store, const proto_msg_t *task, bool *store_failed)
{
    const proto_page_t *page = &task->u.page;
    char key[512], err[512];
    uint8_t *obj;
    size_t len;
    /* catalog pages land under raw/catalog/, the catalog tree under raw/catalogs/, sellers'
       lists, profiles and item pages under raw/tracking/ */
    const char *flow = page->kind == PROTO_FETCH_CATALOG    ? "catalog"
                       : page->kind == PROTO_FETCH_CATALOGS ? "catalogs"
                                                            : "tracking";
    if (raw_key(flow, page, key, sizeof key) != 0 || raw_encode(flow, page, &obj, &len) != 0)
        return s_nack(task, "cannot encode the raw page", true);
    int rc = objstore_put(store, key, obj, len, "application/gzip", err, sizeof err);
    free(obj);
    if (rc != 0) {
        char reason[700];
        snprintf(reason, sizeof reason, "raw page not stored: %s", err);
        log_warn("raw page not stored", "key=%s error=%s", log_str(key), log_str(err));
        *store_failed = true;
        return s_nack(task, reason, false);
    }
    log_debug("raw page stored", "key=%s bytes=%zu", log_str(key), len);
    proto_msg_t *res = proto_msg_new(PROTO_RESULT);
    res->task_id = task->task_id;
    res->body = PROTO_BODY_STORED;
    res->u.stored.window_id = page->window_id;
    res->u.stored.page = page->page;
    res->u.stored.attempt = page->attempt;
    res->u.stored.key = proto_msg_strdup(res, key);
    res->u.stored.bytes = (int64_t) len;
    return res;
}

static proto_msg_t *s_load_raw(objstore_t *store, const proto_msg_t *task, bool *store_failed)
{
    const char *key = task->u.load.key;
    char err[512], reason[900];
    uint8_t *data;
    size_t len;
    int rc = objstore_get(store, key, &data, &len, err, sizeof err);
    if (rc != 0) {
        snprintf(reason, sizeof reason, "raw object %s: %s", key, rc > 0 ? "not found" : err);
        *store_failed = rc < 0;
        return s_nack(task, reason, rc > 0);
    }
    proto_msg_t *res = raw_decode(data, len, err, sizeof err);
    free(data);
    if (!res) {
        snprintf(reason, sizeof reason, "raw object %s is damaged: %s", key, err);
        return s_nack(task, reason, true);
    }
    res->task_id = task->task_id;
    return res;
}

int uploader_photo_key(int64_t item_id, int64_t photo_id, const char *ext, char *buf, size_t size)
{
    if (item_id <= 0 || photo_id <= 0 || !ext || !*ext || strlen(ext) > 8)
        return -1;
    for (const char *p = ext; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')))
            return -1;
    int n = snprintf(buf, size, "images/%" PRId64 "/%" PRId64 ".%s", item_id, photo_id, ext);
    return n < 0 || (size_t) n >= size ? -1 : 0;
}

static proto_msg_t *s_photo_result(const proto_msg_t *task, const char *key, int64_t bytes,
                                   const char *content_type, const char *sha256, bool skipped)
{
    const proto_image_t *im = &task->u.image;
    proto_msg_t *res = proto_msg_new(PROTO_RESULT);
    res->task_id = task->task_id;
    res->body = PROTO_BODY_PHOTO;
    proto_photo_stored_t *ph = &res->u.photo;
    ph->window_id = im->window_id;
    ph->item_id = im->item_id;
    ph->photo_id = im->photo_id;
    ph->key = proto_msg_strdup(res, key);
    ph->bytes = bytes;
    ph->content_type = proto_msg_strdup(res, content_type);
    ph->sha256 = proto_msg_strdup(res, sha256);
    ph->skipped = skipped;
    return res;
}

/* If key is stored already: *answer_p gets RESULT(PHOTO skipped) from the
   stored bytes, or a NACK if the store failed; returns 1. 0 if not stored. */
static int s_photo_stored(objstore_t *store, const proto_msg_t *task, const char *key,
                          const char *ext, proto_msg_t **answer_p, bool *store_failed)
{
    char err[512], reason[800];
    int64_t size = 0;
    int rc = objstore_exists(store, key, &size, err, sizeof err);
    if (rc == 0)
        return 0;
    if (rc < 0) {
        snprintf(reason, sizeof reason, "object store unavailable checking %s: %s", key, err);
        log_warn("photo not checked", "key=%s error=%s", log_str(key), log_str(err));
        *store_failed = true;
        *answer_p = s_nack(task, reason, false);
        return 1;
    }
    uint8_t *data = NULL;
    size_t len = 0;
    rc = objstore_get(store, key, &data, &len, err, sizeof err);
    if (rc == 1)
        return 0; /* gone meanwhile: store it again */
    if (rc != 0) {
        snprintf(reason, sizeof reason, "object store unavailable reading %s: %s", key, err);
        log_warn("photo not read back", "key=%s error=%s", log_str(key), log_str(err));
        *store_failed = true;
        *answer_p = s_nack(task, reason, false);
        return 1;
    }
    char sha[65];
    cdn_sha256_hex(data, len, sha);
    free(data);
    const char *content_type = cdn_content_type_of_ext(ext);
    log_info("photo already stored", "item=%" PRId64 " photo=%" PRId64 " key=%s bytes=%zu sha256=%s",
             task->u.image.item_id, task->u.image.photo_id, log_str(key), len, sha);
    *answer_p = s_photo_result(task, key, (int64_t) len, content_type, sha, true);
    return 1;
}

static proto_msg_t *s_store_photo(objstore_t *store, cdn_t *cdn, const proto_msg_t *task, bool *store_failed)
{
    const proto_image_t *im = &task->u.image;
    char reason[1200], key[256], err[512];
    if (im->item_id <= 0 || im->photo_id <= 0 || !im->url || !*im->url) {
        snprintf(reason, sizeof reason,
                 "invalid image task: item_id %" PRId64 ", photo_id %" PRId64 " (want > 0), url %s",
                 im->item_id, im->photo_id, im->url && *im->url ? "set" : "missing");
        return s_nack(task, reason, true);
    }
    if (!cdn)
        return s_nack(task, "this object-store worker has no CDN client", false);
    proto_msg_t *answer = NULL;
    const char *ext = cdn_ext_from_url(im->url);
    if (ext) {
        if (uploader_photo_key(im->item_id, im->photo_id, ext, key, sizeof key) != 0)
            return s_nack(task, "photo key does not fit", true);
        if (s_photo_stored(store, task, key, ext, &answer, store_failed))
            return answer;
    }
    cdn_photo_t photo = { 0 };
    cdn_result_t rc = cdn_fetch(cdn, im->url, &photo);
    if (rc != CDN_OK) {
        snprintf(reason, sizeof reason, "photo %" PRId64 "/%" PRId64 " not downloaded: %s",
                 im->item_id, im->photo_id, photo.error);
        if (rc == CDN_ABANDONED)
            log_info("photo abandoned", "item=%" PRId64 " photo=%" PRId64 " reason=%s",
                     im->item_id, im->photo_id, log_str(photo.error));
        else
            log_warn("photo not downloaded",
                     "item=%" PRId64 " photo=%" PRId64 " outcome=%s attempts=%d url=%s reason=%s",
                     im->item_id, im->photo_id, cdn_result_name(rc), photo.attempts,
                     log_str(photo.url), log_str(photo.error));
        if (rc == CDN_PERMANENT)
            answer = s_nack(task, reason, true);
        else if (rc == CDN_RETRY)
            answer = s_nack_after(task, reason, false,
                                  photo.retry_after_ms >= 0 ? photo.retry_after_ms
                                                            : UPLOADER_RETRY_MS);
        cdn_photo_reset(&photo);
        return answer; /* NULL when abandoned */
    }
    if (!ext) { /* the URL did not say: the response does */
        ext = cdn_ext_from_content_type(photo.content_type);
        if (uploader_photo_key(im->item_id, im->photo_id, ext, key, sizeof key) != 0) {
            cdn_photo_reset(&photo);
            return s_nack(task, "photo key does not fit", true);
        }
        if (s_photo_stored(store, task, key, ext, &answer, store_failed)) {
            cdn_photo_reset(&photo);
            return answer;
        }
    }
    if (objstore_put(store, key, photo.data, photo.len, photo.content_type, err, sizeof err) != 0) {
        snprintf(reason, sizeof reason, "photo not stored at %s: %s", key, err);
        log_warn("photo not stored", "key=%s error=%s", log_str(key), log_str(err));
        cdn_photo_reset(&photo);
        *store_failed = true;
        return s_nack(task, reason, false);
    }
    log_info("photo stored",
             "item=%" PRId64 " photo=%" PRId64 " key=%s bytes=%zu content_type=%s sha256=%s "
             "attempts=%d",
             im->item_id, im->photo_id, log_str(key), photo.len, log_str(photo.content_type),
             photo.sha256, photo.attempts);
    answer = s_photo_result(task, key, (int64_t) photo.len, photo.content_type, photo.sha256, false);
    cdn_photo_reset(&photo);
    return answer;
}

static proto_msg_t *s_handle(objstore_t *store, cdn_t *cdn, const proto_msg_t *task, bool *store_failed)
{
    *store_failed = false;
    if (task->cmd == PROTO_TASK && task->body == PROTO_BODY_PAGE)
        return s_store_raw(store, task, store_failed);
    if (task->cmd == PROTO_TASK && task->body == PROTO_BODY_LOAD)
        return s_load_raw(store, task, store_failed);
    if (task->cmd == PROTO_TASK && task->body == PROTO_BODY_IMAGE)
        return s_store_photo(store, cdn, task, store_failed);
    return s_nack(task, "the object-store stage takes PAGE, LOAD and IMAGE tasks only", true);
}

proto_msg_t *uploader_handle(objstore_t *store, cdn_t *cdn, const proto_msg_t *task)
{
    bool store_failed;
    return s_handle(store, cdn, task, &store_failed);
}

proto_msg_t *uploader_handle_patiently(objstore_t *store, cdn_t *cdn, const proto_msg_t *task,
                                       uploader_sleep_fn *sleep_fn, void *arg, int64_t patience_ms)
{
    bool store_failed;
    proto_msg_t *answer = s_handle(store, cdn, task, &store_failed);
    int64_t waited = 0, delay = UPLOADER_STORE_WAIT_MIN_MS;
    while (answer && answer->cmd == PROTO_NACK && !answer->u.nack.permanent && store_failed
           && waited < patience_ms) {
        if (delay > patience_ms - waited)
            delay = patience_ms - waited;
        log_info("object store unavailable, waiting for it", "task=%" PRIu64 " waited_ms=%" PRId64
                 " next_try_in_ms=%" PRId64 " patience_ms=%" PRId64 " reason=%s", task->task_id, waited, delay,
                 patience_ms, log_str(answer->u.nack.reason));
        proto_msg_destroy(&answer);
        if (sleep_fn(arg, delay) != 0)
            return NULL; /* the broker was lost: it dispatches the task again */
        waited += delay;
        delay = delay * 2 > UPLOADER_STORE_WAIT_MAX_MS ? UPLOADER_STORE_WAIT_MAX_MS : delay * 2;
        answer = s_handle(store, cdn, task, &store_failed);
    }
    if (waited > 0 && answer && answer->cmd == PROTO_RESULT)
        log_info("object store back", "task=%" PRIu64 " waited_ms=%" PRId64, task->task_id, waited);
    return answer;
}

/* A task to store one photo. */
static proto_msg_t *s_image_task(uint64_t id, int64_t item_id, int64_t photo_id, const char *url)
{
    proto_msg_t *task = proto_msg_new(PROTO_TASK);
    task->task_id = id;
    task->body = PROTO_BODY_IMAGE;
    task->u.image.window_id = 12;
    task->u.image.item_id = item_id;
    task->u.image.photo_id = photo_id;
    task->u.image.url = proto_msg_strdup(task, url);
    return task;
}

/* A sleeper for uploader_handle_patiently: counts, and at call number `clear_at`
   removes the file that made the store fail; `lost` plays a broker lost meanwhile. */
typedef struct {
    int calls;
    int64_t slept;
    int clear_at;
    const char *obstacle;
    bool lost;
} s_sleeps_t;

static int s_test_sleep(void *arg, int64_t ms)
{
    s_sleeps_t *sl = arg;
    sl->calls++;
    sl->slept += ms;
    if (sl->calls == sl->clear_at)
        assert(unlink(sl->obstacle) == 0);
    return sl->lost ? -1 : 0;
}

/* Whether the file at dir/key holds exactly data. */
static bool s_file_is(const char *dir, const char *key, const void *data, size_t len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, key);
    FILE *f = fopen(path, "rb");
    if (!f)
        return false;
    uint8_t *buf = malloc(len + 1);
    size_t got = fread(buf, 1, len + 1, f);
    fclose(f);
    bool same = got == len && memcmp(buf, data, len) == 0;
    free(buf);
    return same;
}

/* The IMAGE flow against a scripted CDN and the file store in dir. */
static void s_test_photos(objstore_t *store, const char *dir)
{
    char key[64], err[256], base[64], sha[65];
    /* the key rules */
    assert(uploader_photo_key(123, 4567, "webp", key, sizeof key) == 0);
    assert(strcmp(key, "images/123/4567.webp") == 0);
    assert(uploader_photo_key(9007199254740993LL, 1, "jpg", key, sizeof key) == 0);
    assert(strcmp(key, "images/9007199254740993/1.jpg") == 0);
    assert(uploader_photo_key(0, 1, "jpg", key, sizeof key) == -1);
    assert(uploader_photo_key(1, -1, "jpg", key, sizeof key) == -1);
    assert(uploader_photo_key(1, 1, "../x", key, sizeof key) == -1);
    assert(uploader_photo_key(1, 1, "", key, sizeof key) == -1);
    assert(uploader_photo_key(1, 1, NULL, key, sizeof key) == -1);
    volatile size_t small = 10;
    assert(uploader_photo_key(123, 4567, "webp", key, small) == -1);

    /* a webp-shaped photo and a jpeg */
    uint8_t webp[400];
    memcpy(webp, "RIFF", 4);
    webp[4] = (uint8_t) ((sizeof webp - 8) & 0xff);
    webp[5] = (uint8_t) ((sizeof webp - 8) >> 8);
    webp[6] = webp[7] = 0;
    memcpy(webp + 8, "WEBPVP8L", 8);
    for (size_t i = 16; i < sizeof webp; i++)
        webp[i] = (uint8_t) (i * 13);
    uint8_t jpeg[300] = { 0xff, 0xd8, 0xff, 0xe0 };
    for (size_t i = 4; i < sizeof jpeg; i++)
        jpeg[i] = (uint8_t) (i * 7);

    httpstub_t *stub = httpstub_new();
    assert(stub);
    snprintf(base, sizeof base, "http://127.0.0.1:%d", httpstub_port(stub));
    cdn_settings_t cfg = { base, 2000, 1, 4, 2 };
    cdn_t *cdn = cdn_new(&cfg, NULL, err, sizeof err);
    assert(cdn);
    const httpstub_reply_t ok = { 200, "Content-Type: image/webp\r\n", webp, sizeof webp, 0 };
    const httpstub_reply_t okj = { 200, "Content-Type: image/jpeg\r\n", jpeg, sizeof jpeg, 0 };
    const httpstub_reply_t r500 = { 500, NULL, "oops", 4, 0 };
    const httpstub_reply_t r404 = { 404, "Content-Type: application/xml\r\n",
                                    "<Error><Code>NoSuchKey</Code></Error>", 37, 0 };
    const char *url = "https://images1.vinted.net/t/01_abc/f800/1790000000.webp?s=0f0f";

    /* downloaded, stored, reported */
    proto_msg_t *task = s_image_task(30, 77, 701, url);
    httpstub_script(stub, (httpstub_reply_t[]) { r500, ok }, 2);
    proto_msg_t *res = uploader_handle(store, cdn, task);
    assert(res && res->cmd == PROTO_RESULT && res->body == PROTO_BODY_PHOTO && res->task_id == 30);
    proto_photo_stored_t *ph = &res->u.photo;
    cdn_sha256_hex(webp, sizeof webp, sha);
    assert(ph->window_id == 12 && ph->item_id == 77 && ph->photo_id == 701 && !ph->skipped);
    assert(strcmp(ph->key, "images/77/701.webp") == 0 && ph->bytes == (int64_t) sizeof webp);
    assert(strcmp(ph->content_type, "image/webp") == 0 && strcmp(ph->sha256, sha) == 0);
    assert(httpstub_served(stub) == 2);
    assert(httpstub_saw(stub, 1, "GET /t/01_abc/f800/1790000000.webp?s=0f0f HTTP/1.1"));
    assert(s_file_is(dir, "images/77/701.webp", webp, sizeof webp));
    proto_msg_destroy(&res);
    /* asked again: skipped without a download, the row still complete */
    httpstub_script(stub, &ok, 1);
    res = uploader_handle(store, cdn, task);
    assert(res && res->cmd == PROTO_RESULT && res->body == PROTO_BODY_PHOTO);
    ph = &res->u.photo;
    assert(ph->skipped && httpstub_served(stub) == 0 && strcmp(ph->key, "images/77/701.webp") == 0);
    assert(ph->bytes == (int64_t) sizeof webp && strcmp(ph->sha256, sha) == 0);
    assert(strcmp(ph->content_type, "image/webp") == 0 && ph->photo_id == 701);
    proto_msg_destroy(&res);
    proto_msg_destroy(&task);

    /* no extension in the URL: the content type names it */
    task = s_image_task(31, 77, 702, "https://images1.vinted.net/tc/01_def/1790000001?s=1");
    httpstub_script(stub, &okj, 1);
    res = uploader_handle(store, cdn, task);
    assert(res && res->cmd == PROTO_RESULT && !res->u.photo.skipped);
    assert(strcmp(res->u.photo.key, "images/77/702.jpg") == 0);
    assert(strcmp(res->u.photo.content_type, "image/jpeg") == 0);
    assert(s_file_is(dir, "images/77/702.jpg", jpeg, sizeof jpeg));
    proto_msg_destroy(&res);
    httpstub_script(stub, &okj, 1); /* downloaded to learn the key, then found stored */
    res = uploader_handle(store, cdn, task);
    assert(res && res->cmd == PROTO_RESULT && res->u.photo.skipped && httpstub_served(stub) == 1);
    cdn_sha256_hex(jpeg, sizeof jpeg, sha);
    assert(strcmp(res->u.photo.sha256, sha) == 0 && res->u.photo.bytes == (int64_t) sizeof jpeg);
    proto_msg_destroy(&res);
    proto_msg_destroy(&task);

    /* a vanished photo: permanent, with the reason */
    task = s_image_task(32, 78, 801, url);
    httpstub_script(stub, &r404, 1);
    res = uploader_handle(store, cdn, task);
    assert(res && res->cmd == PROTO_NACK && res->u.nack.permanent && res->task_id == 32);
    assert(strstr(res->u.nack.reason, "78/801") && strstr(res->u.nack.reason, "HTTP 404"));
    proto_msg_destroy(&res);
    /* a CDN that keeps failing: retryable */
    httpstub_script(stub, (httpstub_reply_t[]) { r500, r500, r500 }, 3);
    res = uploader_handle(store, cdn, task);
    assert(res && res->cmd == PROTO_NACK && !res->u.nack.permanent && httpstub_served(stub) == 3);
    assert(res->u.nack.retry_after_ms == UPLOADER_RETRY_MS && strstr(res->u.nack.reason, "HTTP 500"));
    proto_msg_destroy(&res);
    proto_msg_destroy(&task);

    /* a failed put: retryable (a file stands where the item's folder should be) */
    char path[512];
    snprintf(path, sizeof path, "%s/images/79", dir);
    FILE *f = fopen(path, "w");
    assert(f);
    fclose(f);
    task = s_image_task(33, 79, 901, url);
    httpstub_script(stub, &ok, 1);
    res = uploader_handle(store, cdn, task);
    assert(res && res->cmd == PROTO_NACK && !res->u.nack.permanent);
    assert(strstr(res->u.nack.reason, "images/79/901.webp"));
    proto_msg_destroy(&res);
    /* patiently: the store keeps failing past the patience (waits 500 + 1000 + 500 ms), then
       comes back during the wait (the obstacle goes at the second sleep) */
    s_sleeps_t sl = { .clear_at = -1 };
    httpstub_script(stub, (httpstub_reply_t[]) { ok, ok, ok, ok }, 4);
    res = uploader_handle_patiently(store, cdn, task, s_test_sleep, &sl, 2000);
    assert(res && res->cmd == PROTO_NACK && !res->u.nack.permanent && sl.calls == 3 && sl.slept == 2000);
    proto_msg_destroy(&res);
    sl = (s_sleeps_t) { .clear_at = 2, .obstacle = path };
    httpstub_script(stub, (httpstub_reply_t[]) { ok, ok, ok }, 3);
    res = uploader_handle_patiently(store, cdn, task, s_test_sleep, &sl, 60000);
    assert(res && res->cmd == PROTO_RESULT && !res->u.photo.skipped && sl.calls == 2 && sl.slept == 1500);
    assert(s_file_is(dir, "images/79/901.webp", webp, sizeof webp));
    proto_msg_destroy(&res);
    /* a CDN failure is not worth waiting for; a broker lost during the wait abandons */
    sl = (s_sleeps_t) { .clear_at = -1 };
    httpstub_script(stub, (httpstub_reply_t[]) { r500, r500, r500 }, 3);
    proto_msg_t *other = s_image_task(37, 80, 902, url);
    res = uploader_handle_patiently(store, cdn, other, s_test_sleep, &sl, 60000);
    assert(res && res->cmd == PROTO_NACK && sl.calls == 0);
    proto_msg_destroy(&res);
    proto_msg_destroy(&other);
    snprintf(path, sizeof path, "%s/images/81", dir);
    f = fopen(path, "w");
    assert(f);
    fclose(f);
    other = s_image_task(38, 81, 903, url);
    sl = (s_sleeps_t) { .clear_at = -1, .lost = true };
    httpstub_script(stub, &ok, 1);
    assert(uploader_handle_patiently(store, cdn, other, s_test_sleep, &sl, 60000) == NULL && sl.calls == 1);
    proto_msg_destroy(&other);
    proto_msg_destroy(&task);
    assert(unlink(path) == 0);

    /* invalid tasks are refused without a request */
    httpstub_script(stub, &ok, 1);
    task = s_image_task(34, 0, 1, url);
    res = uploader_handle(store, cdn, task);
    assert(res->cmd == PROTO_NACK && res->u.nack.permanent && strstr(res->u.nack.reason, "item_id 0"));
    proto_msg_destroy(&res);
    proto_msg_destroy(&task);
    task = s_image_task(35, 5, 1, NULL);
    res = uploader_handle(store, cdn, task);
    assert(res->cmd == PROTO_NACK && res->u.nack.permanent && strstr(res->u.nack.reason, "url missing"));
    proto_msg_destroy(&res);
    res = uploader_handle(store, NULL, task); /* no CDN client: still refused as invalid */
    assert(res->cmd == PROTO_NACK && res->u.nack.permanent);
    proto_msg_destroy(&res);
    proto_msg_destroy(&task);
    task = s_image_task(36, 5, 1, "file:///etc/passwd");
    res = uploader_handle(store, cdn, task);
    assert(res->cmd == PROTO_NACK && res->u.nack.permanent && strstr(res->u.nack.reason, "not a usable"));
    proto_msg_destroy(&res);
    task->body = PROTO_BODY_COMMIT;
    res = uploader_handle(store, cdn, task);
    assert(res->cmd == PROTO_NACK && res->u.nack.permanent && strstr(res->u.nack.reason, "IMAGE"));
    proto_msg_destroy(&res);
    proto_msg_destroy(&task);
    assert(httpstub_served(stub) == 0);

    cdn_destroy(&cdn);
    httpstub_destroy(&stub);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s/images'", dir);
    assert(system(cmd) == 0);
}

void uploader_test(bool verbose)
{
    (void) verbose;
    char dir[] = "/tmp/vinted-uploader-test.XXXXXX";
    assert(mkdtemp(dir));
    char url[128], err[256];
    snprintf(url, sizeof url, "file://%s", dir);
    objstore_t *store = objstore_new(url, err, sizeof err);
    assert(store);

    proto_msg_t *task = proto_msg_new_body(PROTO_TASK, 9, PROTO_BODY_PAGE);
    proto_page_t *p = &task->u.page;
    *p = (proto_page_t) {.window_id = 4, .catalog_id = 221, .page = 2, .fetched_at_ms = 1795600800123,
                         .http_status = 200, .site = "pt", .api = "v2",
                         .body = (uint8_t *) "{\"items\":[]}", .body_len = 12};

    proto_msg_t *stored = uploader_handle(store, NULL, task);
    assert(stored->cmd == PROTO_RESULT && stored->body == PROTO_BODY_STORED && stored->task_id == 9);
    assert(stored->u.stored.window_id == 4 && stored->u.stored.page == 2 && stored->u.stored.bytes > 0);

    proto_msg_t *load = proto_msg_new(PROTO_TASK);
    load->task_id = 10;
    load->body = PROTO_BODY_LOAD;
    load->u.load.key = stored->u.stored.key;
    proto_msg_t *page = uploader_handle(store, NULL, load);
    assert(page->cmd == PROTO_RESULT && page->body == PROTO_BODY_PAGE && page->task_id == 10);
    assert(page->u.page.window_id == 4 && page->u.page.body_len == 12);
    assert(memcmp(page->u.page.body, "{\"items\":[]}", 12) == 0);
    proto_msg_destroy(&page);

    load->u.load.key = "raw/catalog/2026/11/25/10/4/09-00-1.json.gz";
    proto_msg_t *missing = uploader_handle(store, NULL, load);
    assert(missing->cmd == PROTO_NACK && missing->u.nack.permanent);
    load->u.load.key = NULL;
    proto_msg_destroy(&missing);
    proto_msg_destroy(&load);

    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, stored->u.stored.key);
    assert(unlink(path) == 0);
    proto_msg_destroy(&stored);
    p->body = NULL;
    p->site = p->api = NULL;
    proto_msg_destroy(&task);

    s_test_photos(store, dir);

    objstore_destroy(&store);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert(system(cmd) == 0);
}
