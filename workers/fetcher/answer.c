/*  answer.c - what the fetcher answers a task with (see answer.h). */
#include "answer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/log.h"

/* "catalog", "user_items", "item_page", "user", "catalogs" for logs. */
const char *answer_kind_name(int32_t kind)
{
    switch (kind) {
    case PROTO_FETCH_CATALOG: return "catalog";
    case PROTO_FETCH_USER_ITEMS: return "user_items";
    case PROTO_FETCH_ITEM_PAGE: return "item_page";
    case PROTO_FETCH_USER: return "user";
    case PROTO_FETCH_CATALOGS: return "catalogs";
    default: return "unknown";
    }
}

proto_msg_t *answer_nack(const proto_msg_t *task, const char *reason, int64_t retry_after_ms,
                         bool permanent)
{
    proto_msg_t *nack = proto_msg_new(PROTO_NACK);
    if (!nack)
        return NULL;
    nack->task_id = task->task_id;
    nack->u.nack.reason = proto_msg_strdup(nack, reason);
    nack->u.nack.retry_after_ms = retry_after_ms;
    nack->u.nack.permanent = permanent;
    const char *kv = "task=%llu kind=%s target=%lld catalog=%d page=%d permanent=%s "
                     "retry_after_ms=%lld reason=%s";
    const proto_fetch_t *f = &task->u.fetch;
    unsigned long long id = (unsigned long long) task->task_id;
    long long after = (long long) (retry_after_ms == PROTO_NULL ? -1 : retry_after_ms);
    const char *kind = task->body == PROTO_BODY_FETCH ? answer_kind_name(f->kind) : "none";
    long long target = task->body == PROTO_BODY_FETCH ? (long long) f->target_id : 0;
    int catalog = task->body == PROTO_BODY_FETCH ? (int) f->catalog_id : 0;
    int page = task->body == PROTO_BODY_FETCH ? (int) f->page : 0;
    if (permanent)
        log_warn("fetch failed for good", kv, id, kind, target, catalog, page, "true", after,
                 log_str(reason));
    else
        log_info("fetch failed, to retry", kv, id, kind, target, catalog, page, "false", after,
                 log_str(reason));
    return nack;
}

proto_msg_t *answer_page(const vinted_t *vinted, const proto_msg_t *task, const char *url,
                         const session_resp_t *resp, const pager_scan_t *scan, const char *error)
{
    const proto_fetch_t *f = &task->u.fetch;
    proto_msg_t *msg = proto_msg_new(PROTO_RESULT);
    if (!msg)
        return NULL;
    msg->task_id = task->task_id;
    msg->body = PROTO_BODY_PAGE;
    proto_page_t *p = &msg->u.page;
    p->window_id = f->window_id;
    p->catalog_id = f->catalog_id;
    p->page = f->page;
    p->attempt = f->attempt;
    p->fetched_at_ms = resp->fetched_at_ms;
    p->http_status = (int32_t) resp->status;
    p->site = proto_msg_strdup(msg, vinted_site(vinted)->tld);
    p->api = proto_msg_strdup(msg, vinted_api_name(vinted_api(vinted)));
    p->url = proto_msg_strdup(msg, url);
    p->error = error ? proto_msg_strdup(msg, error) : NULL;
    p->kind = f->kind;
    p->target_id = f->kind == PROTO_FETCH_CATALOG || f->kind == PROTO_FETCH_CATALOGS ? 0 : f->target_id;
    bool found = resp->status >= 200 && resp->status < 300;
    if (f->kind == PROTO_FETCH_ITEM_PAGE) {
        /* one item, untouched HTML; a 404 (removed) shows none */
        p->n_items = found ? 1 : 0;
        p->max_item_id = found ? f->target_id : 0;
        p->more = false;
    }
    else if (f->kind == PROTO_FETCH_USER || f->kind == PROTO_FETCH_CATALOGS) {
        /* one profile or the catalog tree: no items, nothing to page */
        p->n_items = 0;
        p->max_item_id = 0;
        p->more = false;
    }
    else if (scan) {
        p->n_items = scan->n_items;
        p->max_item_id = scan->max_item_id;
        p->total_pages = scan->total_pages;
        p->pin_time = f->kind == PROTO_FETCH_CATALOG ? scan->time : 0;
        p->more = f->kind == PROTO_FETCH_USER_ITEMS ? pager_more_user_items(f->page, scan)
                                                    : pager_more(f->api_page, f->per_page, scan);
    }
    else /* unreadable, or a seller that is gone: a seller's paging stops, a catalog's goes on */
        p->more = f->kind == PROTO_FETCH_CATALOG && pager_more_after_error(f->api_page, f->per_page);
    if (resp->len > 0) {
        p->body = proto_msg_alloc(msg, resp->len);
        if (!p->body) {
            proto_msg_destroy(&msg);
            return NULL;
        }
        memcpy(p->body, resp->body, resp->len);
        p->body_len = resp->len;
    }
    log_info("page fetched",
             "task=%llu kind=%s target=%lld window=%lld catalog=%d page=%d status=%ld items=%d "
             "max_id=%lld total_pages=%d more=%s bytes=%zu error=%s",
             (unsigned long long) task->task_id, answer_kind_name(f->kind), (long long) p->target_id,
             (long long) f->window_id, (int) f->catalog_id,
             (int) f->page, resp->status, (int) p->n_items, (long long) p->max_item_id,
             (int) p->total_pages, p->more ? "true" : "false", resp->len, log_str(error));
    return msg;
}

/* The first bytes of a body, printable, for error messages. */
void answer_snippet(const session_resp_t *resp, char *buf, size_t size)
{
    size_t n = 0;
    for (size_t i = 0; i < resp->len && n + 1 < size && i < 160; i++) {
        unsigned char c = (unsigned char) resp->body[i];
        if (c == '\n' || c == '\r' || c == '\t')
            c = ' ';
        buf[n++] = (c < 0x20 || c == 0x7f) ? '.' : (char) c;
    }
    buf[n] = '\0';
}

/* Checks a task's fields; 0 ok, -1 with the reason. */
int answer_check(const proto_msg_t *task, char *reason, size_t size)
{
    if (task->cmd != PROTO_TASK || task->body != PROTO_BODY_FETCH) {
        snprintf(reason, size, "the fetcher takes fetch tasks, not %s body %d",
                 proto_cmd_name(task->cmd), (int) task->body);
        return -1;
    }
    const proto_fetch_t *f = &task->u.fetch;
    if (f->kind == PROTO_FETCH_USER_ITEMS || f->kind == PROTO_FETCH_ITEM_PAGE
        || f->kind == PROTO_FETCH_USER) {
        const char *what = f->kind == PROTO_FETCH_ITEM_PAGE ? "item id" : "user id";
        if (f->target_id <= 0)
            snprintf(reason, size, "invalid %s task: target_id %lld (want the %s, > 0)",
                     answer_kind_name(f->kind), (long long) f->target_id, what);
        else if (f->kind == PROTO_FETCH_USER_ITEMS && f->page < 1)
            snprintf(reason, size, "invalid user_items task: page %d (want >= 1)", (int) f->page);
        else
            return 0;
        return -1;
    }
    if (f->kind == PROTO_FETCH_CATALOGS)
        return 0; /* the whole tree: nothing to check */
    if (f->kind != PROTO_FETCH_CATALOG)
        snprintf(reason, size,
                 "invalid fetch task: kind %d (want %d catalog, %d user_items, %d item_page, "
                 "%d user or %d catalogs)",
                 (int) f->kind, PROTO_FETCH_CATALOG, PROTO_FETCH_USER_ITEMS, PROTO_FETCH_ITEM_PAGE,
                 PROTO_FETCH_USER, PROTO_FETCH_CATALOGS);
    else if (f->catalog_id <= 0)
        snprintf(reason, size, "invalid fetch task: catalog_id %d (want > 0)", (int) f->catalog_id);
    else if (f->page < 1)
        snprintf(reason, size, "invalid fetch task: page %d (want >= 1)", (int) f->page);
    else if (f->api_page < 1 || f->api_page > VINTED_MAX_RESULTS)
        snprintf(reason, size, "invalid fetch task: api_page %d (want 1..%d)", (int) f->api_page,
                 VINTED_MAX_RESULTS);
    else if (f->price_from < 0 || f->price_to < 0 || (f->price_to > 0 && f->price_to < f->price_from))
        snprintf(reason, size, "invalid fetch task: price band %lld..%lld (want 0 <= price_from <= price_to, 0: open)",
                 (long long) f->price_from, (long long) f->price_to);
    else if (f->pin_time < 0)
        snprintf(reason, size, "invalid fetch task: pin_time %lld (want >= 0)", (long long) f->pin_time);
    else if (f->per_page < 1 || f->per_page > VINTED_MAX_PER_PAGE)
        snprintf(reason, size, "invalid fetch task: per_page %d (want 1..%d)", (int) f->per_page,
                 VINTED_MAX_PER_PAGE);
    else if (f->hwm < 0)
        snprintf(reason, size, "invalid fetch task: hwm %lld (want >= 0)", (long long) f->hwm);
    else
        return 0;
    return -1;
}

bool answer_body_ok(const proto_fetch_t *f, const session_resp_t *resp, pager_scan_t *scan,
                    bool *scanned, char *err, size_t size)
{
    *scanned = false;
    switch (f->kind) {
    case PROTO_FETCH_ITEM_PAGE:
        if (vinted_html_complete(resp->body, resp->len))
            return true;
        snprintf(err, size, "no closing </html> in %zu bytes", resp->len);
        return false;
    case PROTO_FETCH_USER:
        return vinted_user_body_ok(resp->body, resp->len, err, size);
    case PROTO_FETCH_CATALOGS:
        return vinted_catalogs_body_ok(resp->body, resp->len, err, size);
    default: /* catalog and seller's items pages (answer_check let no other kind by) */
        *scanned = pager_scan(resp->body, resp->len, f->kind == PROTO_FETCH_CATALOG ? f->hwm : 0,
                              scan, err, size)
                   == 0;
        return *scanned;
    }
}
