/*  uploader.c - the object-store stage's work. */
#include "workers/s3-uploader/uploader.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "common/raw.h"

#define UPLOADER_FLOW "catalog"

static proto_msg_t *s_nack(const proto_msg_t *task, const char *reason, bool permanent)
{
    proto_msg_t *nack = proto_msg_new(PROTO_NACK);
    nack->task_id = task->task_id;
    nack->u.nack.reason = proto_msg_strdup(nack, reason);
    nack->u.nack.retry_after_ms = permanent ? PROTO_NULL : 2000;
    nack->u.nack.permanent = permanent;
    return nack;
}

static proto_msg_t *s_store_raw(objstore_t *store, const proto_msg_t *task)
{
    const proto_page_t *page = &task->u.page;
    char key[512], err[512];
    uint8_t *obj;
    size_t len;
    if (raw_key(UPLOADER_FLOW, page, key, sizeof key) != 0 || raw_encode(UPLOADER_FLOW, page, &obj, &len) != 0)
        return s_nack(task, "cannot encode the raw page", true);
    int rc = objstore_put(store, key, obj, len, "application/gzip", err, sizeof err);
    free(obj);
    if (rc != 0) {
        char reason[700];
        snprintf(reason, sizeof reason, "raw page not stored: %s", err);
        log_warn("raw page not stored", "key=%s error=%s", log_str(key), log_str(err));
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

static proto_msg_t *s_load_raw(objstore_t *store, const proto_msg_t *task)
{
    const char *key = task->u.load.key;
    char err[512], reason[900];
    uint8_t *data;
    size_t len;
    int rc = objstore_get(store, key, &data, &len, err, sizeof err);
    if (rc != 0) {
        snprintf(reason, sizeof reason, "raw object %s: %s", key, rc > 0 ? "not found" : err);
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

proto_msg_t *uploader_handle(objstore_t *store, const proto_msg_t *task)
{
    if (task->body == PROTO_BODY_PAGE)
        return s_store_raw(store, task);
    if (task->body == PROTO_BODY_LOAD)
        return s_load_raw(store, task);
    return s_nack(task, "the object-store stage takes PAGE and LOAD tasks only", true);
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

    proto_msg_t *task = proto_msg_new(PROTO_TASK);
    task->task_id = 9;
    task->body = PROTO_BODY_PAGE;
    proto_page_t *p = &task->u.page;
    p->window_id = 4;
    p->catalog_id = 221;
    p->page = 2;
    p->fetched_at_ms = 1795600800123;
    p->http_status = 200;
    p->site = "pt";
    p->api = "v2";
    p->body = (uint8_t *) "{\"items\":[]}";
    p->body_len = 12;

    proto_msg_t *stored = uploader_handle(store, task);
    assert(stored->cmd == PROTO_RESULT && stored->body == PROTO_BODY_STORED && stored->task_id == 9);
    assert(stored->u.stored.window_id == 4 && stored->u.stored.page == 2 && stored->u.stored.bytes > 0);

    proto_msg_t *load = proto_msg_new(PROTO_TASK);
    load->task_id = 10;
    load->body = PROTO_BODY_LOAD;
    load->u.load.key = stored->u.stored.key;
    proto_msg_t *page = uploader_handle(store, load);
    assert(page->cmd == PROTO_RESULT && page->body == PROTO_BODY_PAGE && page->task_id == 10);
    assert(page->u.page.window_id == 4 && page->u.page.body_len == 12);
    assert(memcmp(page->u.page.body, "{\"items\":[]}", 12) == 0);
    proto_msg_destroy(&page);

    load->u.load.key = "raw/catalog/2026/11/25/10/4/09-00-1.json.gz";
    proto_msg_t *missing = uploader_handle(store, load);
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
    objstore_destroy(&store);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert(system(cmd) == 0);
}
