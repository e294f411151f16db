/*  fetcher.c - one fetch task from start to answer (see fetcher.h). */
#include "fetcher.h"

#include <assert.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/clock.h"
#include "../../common/httpstub.h"
#include "../../common/log.h"
#include "backoff.h"
#include "pager.h"

/* One site this fetcher has fetched from: its settings and its sessions. */
typedef struct {
    const vinted_t *vinted;
    vinted_t *owned; /* NULL for the default site (borrowed) */
    session_t *session;
} s_site_t;

struct _fetcher_t {
    const vinted_t *vinted;   /* the current task's site */
    fetcher_settings_t settings;
    session_t *session;       /* ... and its sessions */
    const session_gate_t *gate;
    s_site_t sites[FETCHER_MAX_SITES];
    int n_sites;
    uint64_t rng; /* jitter */
    metrics_family_t *m_requests; /* by status and kind */
    metrics_family_t *m_retries;  /* by reason */
    metrics_series_t *m_backoff;  /* seconds of back-off slept */
};

fetcher_t *fetcher_new(const vinted_t *vinted, const fetcher_settings_t *settings,
                       const session_gate_t *gate)
{
    fetcher_t *self = calloc(1, sizeof(*self));
    if (!self)
        return NULL;
    self->vinted = vinted;
    self->settings = *settings;
    self->rng = backoff_seed();
    self->m_requests = metrics_family(settings->metrics, METRICS_COUNTER, "vinted_fetch_requests_total",
                                      "HTTP requests to Vinted by status (error: no HTTP answer) and kind "
                                      "(home: the session visit)", "status,kind", NULL, 0);
    self->m_retries = metrics_family(settings->metrics, METRICS_COUNTER, "vinted_fetch_retries_total",
                                     "Requests retried within a task, by reason (transient: 429, 5xx, network; "
                                     "session: 401; bad_body: unreadable 200)", "reason", NULL, 0);
    self->m_backoff = metrics_counter(settings->metrics, "vinted_fetch_backoff_seconds_total",
                                      "Seconds of retry back-off slept");
    self->session = session_new(vinted, settings->timeout_ms, gate, settings->proxies);
    if (!self->session) {
        free(self);
        return NULL;
    }
    self->gate = gate;
    self->sites[0] = (s_site_t){ .vinted = vinted, .session = self->session };
    self->n_sites = 1;
    return self;
}

/* The site a task names (NULL or "": the default), set up the first time: 0, or
   -1 with the reason (an unknown site, or too many). */
static int s_use_site(fetcher_t *self, const char *tld, char *err, size_t errlen)
{
    int i = 0;
    if (tld && *tld) {
        for (i = 0; i < self->n_sites; i++)
            if (strcmp(vinted_site(self->sites[i].vinted)->tld, tld) == 0)
                break;
        if (i == self->n_sites) {
            if (self->n_sites == FETCHER_MAX_SITES) {
                snprintf(err, errlen, "more than %d sites", FETCHER_MAX_SITES);
                return -1;
            }
            s_site_t *s = &self->sites[i];
            s->owned = vinted_new(tld, vinted_api(self->sites[0].vinted), self->settings.www_setting,
                                  self->settings.api_setting, self->settings.user_agent, err, errlen);
            s->session = s->owned ? session_new(s->owned, self->settings.timeout_ms, self->gate,
                                                self->settings.proxies) : NULL;
            if (!s->session) {
                vinted_destroy(&s->owned);
                return -1;
            }
            s->vinted = s->owned;
            self->n_sites++;
        }
    }
    self->vinted = self->sites[i].vinted;
    self->session = self->sites[i].session;
    return 0;
}

void fetcher_destroy(fetcher_t **self_p)
{
    if (self_p && *self_p) {
        for (int i = 0; i < (*self_p)->n_sites; i++) {
            session_destroy(&(*self_p)->sites[i].session);
            vinted_destroy(&(*self_p)->sites[i].owned);
        }
        free(*self_p);
        *self_p = NULL;
    }
}

/* "catalog", "user_items", "item_page", "user", "catalogs" for logs. */
static const char *s_kind_name(int32_t kind)
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

static proto_msg_t *s_nack(const proto_msg_t *task, const char *reason, int64_t retry_after_ms,
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
    const char *kind = task->body == PROTO_BODY_FETCH ? s_kind_name(f->kind) : "none";
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

static proto_msg_t *s_result(fetcher_t *self, const proto_msg_t *task, const char *url,
                             const session_resp_t *resp, const pager_scan_t *scan,
                             const char *error)
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
    p->site = proto_msg_strdup(msg, vinted_site(self->vinted)->tld);
    p->api = proto_msg_strdup(msg, vinted_api_name(vinted_api(self->vinted)));
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
             (unsigned long long) task->task_id, s_kind_name(f->kind), (long long) p->target_id,
             (long long) f->window_id, (int) f->catalog_id,
             (int) f->page, resp->status, (int) p->n_items, (long long) p->max_item_id,
             (int) p->total_pages, p->more ? "true" : "false", resp->len, log_str(error));
    return msg;
}

/* The first bytes of a body, printable, for error messages. */
static void s_snippet(const session_resp_t *resp, char *buf, size_t size)
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
static int s_check(const proto_msg_t *task, char *reason, size_t size)
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
                     s_kind_name(f->kind), (long long) f->target_id, what);
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

proto_msg_t *fetcher_run(fetcher_t *self, const proto_msg_t *task, proto_msg_t **report_p)
{
    *report_p = NULL;
    char reason[2048], url[1024], snippet[200];
    if (s_check(task, reason, sizeof(reason)) != 0)
        return s_nack(task, reason, PROTO_NULL, true);
    const proto_fetch_t *f = &task->u.fetch;
    char site_err[256];
    if (s_use_site(self, f->site, site_err, sizeof site_err) != 0) {
        snprintf(reason, sizeof reason, "invalid fetch task: site '%s': %s", f->site, site_err);
        return s_nack(task, reason, PROTO_NULL, true);
    }
    const fetcher_settings_t *cfg = &self->settings;
    vinted_req_t req = VINTED_REQ_CATALOG;
    int url_rc;
    if (f->kind == PROTO_FETCH_USER_ITEMS) {
        req = VINTED_REQ_WWW_API;
        url_rc = vinted_user_items_url(self->vinted, f->target_id, f->page, VINTED_MAX_PER_PAGE,
                                       url, sizeof(url));
    }
    else if (f->kind == PROTO_FETCH_ITEM_PAGE) {
        req = VINTED_REQ_ITEM_PAGE;
        url_rc = vinted_item_page_url(self->vinted, f->target_id, url, sizeof(url));
    }
    else if (f->kind == PROTO_FETCH_USER) {
        req = VINTED_REQ_WWW_API;
        url_rc = vinted_user_url(self->vinted, f->target_id, url, sizeof(url));
    }
    else if (f->kind == PROTO_FETCH_CATALOGS) {
        req = VINTED_REQ_WWW_API;
        url_rc = vinted_catalogs_url(self->vinted, url, sizeof(url));
    }
    else {
        vinted_query_t q = { .price_from = f->price_from, .price_to = f->price_to, .pin_time = f->pin_time };
        url_rc = vinted_catalog_url(self->vinted, f->catalog_id, f->api_page, f->per_page, &q, url, sizeof(url));
    }
    if (url_rc != 0)
        return s_nack(task, "request URL does not fit (check VINTED_WWW_URL / VINTED_API_URL)",
                      PROTO_NULL, true);

    int transient = 0, renewals = 0, bad = 0, requests = 0;
    char bad_reason[256] = "";
    session_resp_t resp = { 0 };
    proto_msg_t *answer = NULL;
    while (!answer) {
        bool home;
        requests++;
        int rc = session_request(self->session, url, req, &resp, &home);
        if (rc != 0) {
            log_info("fetch abandoned", "task=%llu reason=%s", (unsigned long long) task->task_id,
                     log_str("broker lost or interrupted"));
            break;
        }
        char home_url[512] = "";
        if (home)
            vinted_home_url(self->vinted, home_url, sizeof(home_url));
        const char *req_url = home ? home_url : url;
        long status = resp.status;
        if (self->m_requests) {
            char label[16];
            snprintf(label, sizeof label, "%ld", status);
            metrics_inc(metrics_series(self->m_requests, status ? label : "error",
                                       home ? "home" : s_kind_name(f->kind)));
        }
        log_debug("http request",
                  "task=%llu kind=%s status=%ld url=%s elapsed_ms=%lld bytes=%zu attempt=%d try=%d "
                  "error=%s",
                  (unsigned long long) task->task_id, home ? "home" : s_kind_name(f->kind), status,
                  log_str(req_url), (long long) resp.elapsed_ms, resp.len, (int) f->attempt,
                  requests, log_str(resp.error[0] ? resp.error : NULL));

        if (status == 403) {
            vinted_block_t kind = vinted_classify_block(resp.body, resp.len);
            session_drop(self->session);
            int64_t backoff = cfg->block_backoff_ms;
            int identity = session_identity(self->session);
            const char *label = cfg->proxies ? cfg->proxies->label[identity] : "direct";
            snprintf(reason, sizeof(reason), "blocked by vinted: HTTP 403 (%s) on %s through identity %d (%s)",
                     vinted_block_name(kind), req_url, identity, label);
            log_warn("vinted is blocking this client",
                     "status=403 kind=%s url=%s identity=%d proxy=%s backoff_ms=%lld meaning=%s",
                     log_str(vinted_block_name(kind)), log_str(req_url), identity, log_str(label),
                     (long long) backoff,
                     log_str("Vinted's anti-bot refused our requests through this identity; it pauses "
                             "for the block backoff (the other identities go on) and new listings are "
                             "caught up afterwards; if this repeats, lower the request rate or use "
                             "another IP"));
            proto_msg_t *report = proto_msg_new(PROTO_REPORT);
            if (report) {
                report->u.report.event = proto_msg_strdup(report, "blocked");
                report->u.report.detail = proto_msg_strdup(report, reason);
                report->u.report.backoff_ms = backoff;
                report->u.report.identity = identity;
                *report_p = report;
            }
            /* another identity may carry the task at once; the broker holds this one back */
            answer = s_nack(task, reason, cfg->proxies && cfg->proxies->n > 1 ? 1000 : backoff, false);
            if (!answer)
                proto_msg_destroy(report_p);
            break;
        }
        bool ok = status >= 200 && status < 300;
        if (status == 0 || status == 429 || status >= 500 || (home && !ok)) {
            /* transient: back off and try again */
            int64_t delay, ra_ms = -1;
            if (resp.retry_after[0]
                && backoff_retry_after_ms(resp.retry_after, clock_wall_ms(), &ra_ms) != 0)
                ra_ms = -1;
            if (status == 0)
                snprintf(reason, sizeof(reason), "%s on %s", resp.error, req_url);
            else
                snprintf(reason, sizeof(reason), "HTTP %ld on %s", status, req_url);
            if (transient >= FETCHER_TRANSIENT_RETRIES) {
                delay = ra_ms >= 0 ? ra_ms
                                   : backoff_ceiling_ms(cfg->backoff_base_ms, cfg->backoff_max_ms,
                                                        transient);
                char why[2200];
                snprintf(why, sizeof(why), "%s after %d attempts", reason, transient + 1);
                answer = s_nack(task, why, delay, false);
                break;
            }
            if (ra_ms > cfg->backoff_max_ms) { /* too long to hold the task: the broker waits */
                char why[2200];
                snprintf(why, sizeof(why), "%s with Retry-After %s", reason, resp.retry_after);
                log_warn("rate limited", "status=%ld url=%s retry_after_ms=%lld", status,
                         log_str(req_url), (long long) ra_ms);
                answer = s_nack(task, why, ra_ms, false);
                break;
            }
            delay = ra_ms >= 0 ? ra_ms
                               : backoff_delay_ms(cfg->backoff_base_ms, cfg->backoff_max_ms,
                                                  transient, &self->rng);
            transient++;
            const char *kv = "status=%ld url=%s retry=%d delay_ms=%lld retry_after=%s error=%s";
            const char *ra = resp.retry_after[0] ? resp.retry_after : NULL;
            const char *error = resp.error[0] ? resp.error : NULL;
            if (status == 429)
                log_warn("rate limited", kv, status, log_str(req_url), transient, (long long) delay,
                         log_str(ra), log_str(error));
            else
                log_info("request failed", kv, status, log_str(req_url), transient,
                         (long long) delay, log_str(ra), log_str(error));
            metrics_inc(metrics_series(self->m_retries, "transient"));
            metrics_add(self->m_backoff, (double) delay / 1000.0);
            if (session_sleep(self->session, delay) != 0) {
                log_info("fetch abandoned", "task=%llu reason=%s",
                         (unsigned long long) task->task_id, log_str("broker lost during backoff"));
                break;
            }
            continue;
        }
        if (home)
            continue; /* the session is open: now the page */
        if (status == 401) {
            if (renewals >= FETCHER_RENEWALS) {
                snprintf(reason, sizeof(reason), "HTTP 401 on %s after %d session renewals", url,
                         renewals);
                session_reset(self->session); /* the next task starts with a new visit */
                answer = s_nack(task, reason, PROTO_NULL, false);
                break;
            }
            renewals++;
            metrics_inc(metrics_series(self->m_retries, "session"));
            log_info("session expired", "status=401 url=%s renewal=%d", log_str(url), renewals);
            session_reset(self->session);
            continue;
        }
        if (ok) {
            pager_scan_t scan;
            char err[200];
            bool page = f->kind == PROTO_FETCH_ITEM_PAGE;
            if (page && vinted_html_complete(resp.body, resp.len)) {
                answer = s_result(self, task, url, &resp, NULL, NULL);
                break;
            }
            if (page)
                snprintf(err, sizeof(err), "no closing </html> in %zu bytes", resp.len);
            else if (f->kind == PROTO_FETCH_USER) {
                if (vinted_user_body_ok(resp.body, resp.len, err, sizeof(err))) {
                    answer = s_result(self, task, url, &resp, NULL, NULL);
                    break;
                }
            }
            else if (f->kind == PROTO_FETCH_CATALOGS) {
                if (vinted_catalogs_body_ok(resp.body, resp.len, err, sizeof(err))) {
                    answer = s_result(self, task, url, &resp, NULL, NULL);
                    break;
                }
            }
            else if (pager_scan(resp.body, resp.len,
                                f->kind == PROTO_FETCH_CATALOG ? f->hwm : 0, &scan, err,
                                sizeof(err))
                     == 0) {
                answer = s_result(self, task, url, &resp, &scan, NULL);
                break;
            }
            snprintf(bad_reason, sizeof(bad_reason), "%s", err);
            if (bad >= FETCHER_BAD_BODY_RETRIES) {
                char why[400];
                snprintf(why, sizeof(why), "%s after %d attempts: %s",
                         page ? "truncated html" : "malformed json", bad + 1, bad_reason);
                log_warn("unreadable page", "url=%s error=%s", log_str(url), log_str(why));
                answer = s_result(self, task, url, &resp, NULL, why);
                break;
            }
            int64_t delay = backoff_delay_ms(cfg->backoff_base_ms, cfg->backoff_max_ms, bad,
                                             &self->rng);
            bad++;
            log_info("unreadable page, retrying", "url=%s retry=%d delay_ms=%lld error=%s",
                     log_str(url), bad, (long long) delay, log_str(err));
            metrics_inc(metrics_series(self->m_retries, "bad_body"));
            metrics_add(self->m_backoff, (double) delay / 1000.0);
            if (session_sleep(self->session, delay) != 0)
                break;
            continue;
        }
        if (status == 404 && f->kind != PROTO_FETCH_CATALOG && f->kind != PROTO_FETCH_CATALOGS) {
            /* a seller or an item that is gone: an observation, not an error */
            log_info(f->kind == PROTO_FETCH_ITEM_PAGE ? "item gone" : "seller gone",
                     "task=%llu kind=%s target=%lld status=404 url=%s",
                     (unsigned long long) task->task_id, s_kind_name(f->kind),
                     (long long) f->target_id, log_str(url));
            answer = s_result(self, task, url, &resp, NULL, NULL);
            break;
        }
        s_snippet(&resp, snippet, sizeof(snippet));
        if (f->kind == PROTO_FETCH_CATALOG
            && vinted_endpoint_gone(self->vinted, status, resp.body, resp.len))
            snprintf(reason, sizeof(reason),
                     "the v2 catalog endpoint is gone on this site (404 code 104): set "
                     "VINTED_API=svc (url %s)",
                     url);
        else
            snprintf(reason, sizeof(reason), "HTTP %ld on %s: %s", status, url, snippet);
        answer = s_nack(task, reason, PROTO_NULL, true);
    }
    session_resp_reset(&resp);
    return answer;
}

/* --------------------------------------------------------------------------- */
/* Self-test: the fetcher against a scripted HTTP server (common/httpstub.h). */

typedef struct {
    int tokens;
    int sleeps;
    int refuse_after; /* refuse tokens after this many (-1: never) */
    int64_t slept_ms; /* the last sleep asked for */
    int64_t max_sleep_ms; /* no sleep may be longer (the settings' backoff cap) */
} s_gate_t;

static int s_gate_token(void *ctx)
{
    s_gate_t *g = ctx;
    g->tokens++;
    return g->refuse_after >= 0 && g->tokens > g->refuse_after ? -1 : 0;
}

static int s_gate_pump(void *ctx)
{
    (void) ctx;
    return 0;
}

static int s_gate_sleep(void *ctx, int64_t ms)
{
    s_gate_t *g = ctx;
    g->sleeps++;
    g->slept_ms = ms;
    assert(ms >= 0 && ms <= g->max_sleep_ms);
    return 0;
}

static proto_msg_t *s_task(uint64_t id, int32_t page, int32_t per_page, int64_t hwm)
{
    proto_msg_t *task = proto_msg_new(PROTO_TASK);
    assert(task);
    task->task_id = id;
    task->body = PROTO_BODY_FETCH;
    task->u.fetch.window_id = 7;
    task->u.fetch.catalog_id = 221;
    task->u.fetch.page = page;
    task->u.fetch.api_page = page;
    task->u.fetch.per_page = per_page;
    task->u.fetch.hwm = hwm;
    task->u.fetch.attempt = 1;
    return task;
}

/* Run one task against a script; returns the answer, *report_p the report. */
static proto_msg_t *s_run(fetcher_t *f, httpstub_t *srv, const httpstub_reply_t *script, int n,
                          proto_msg_t *task, proto_msg_t **report_p, int *served)
{
    httpstub_script(srv, script, n);
    proto_msg_t *answer = fetcher_run(f, task, report_p);
    *served = httpstub_served(srv);
    return answer;
}

void fetcher_test(bool verbose)
{
    if (verbose)
        printf(" * fetcher: ");
    httpstub_t *srv = httpstub_new();
    assert(srv);
    char base[64], err[256];
    snprintf(base, sizeof(base), "http://127.0.0.1:%d", httpstub_port(srv));
    vinted_t *svc = vinted_new("pt", VINTED_API_SVC, base, base, "SelfTest/1", err, sizeof(err));
    assert(svc);
    s_gate_t g = { 0, 0, -1, 0, 4 };
    session_gate_t gate = { s_gate_token, s_gate_pump, s_gate_sleep, &g };
    fetcher_settings_t cfg = { 2000, 1, 4, 3600000, NULL, NULL, NULL, NULL, NULL };
    fetcher_t *f = fetcher_new(svc, &cfg, &gate);
    assert(f);

    const httpstub_reply_t home = httpstub_text(200,
                                                "Set-Cookie: access_token_web=tok1; Path=/; HttpOnly\r\n"
                                                "Set-Cookie: anon_id=anon-42; Path=/\r\n",
                                                "<html>home</html>");
    const char *page_body = "{\"items\":[{\"id\":105},{\"id\":104},{\"id\":50},{\"id\":103}],"
                            "\"pagination\":{\"current_page\":1,\"total_pages\":5},\"code\":0}";
    const httpstub_reply_t page = httpstub_text(200, "Content-Type: application/json\r\n", page_body);
    const httpstub_reply_t r401 =
        httpstub_text(401, "", "{\"code\":100,\"message_code\":\"invalid_authentication_token\"}");
    const httpstub_reply_t r429 = httpstub_text(429, "", "{\"code\":429}");
    const httpstub_reply_t r500 = httpstub_text(500, "", "<h1>500</h1>");
    const httpstub_reply_t bad = httpstub_text(200, "", "{\"items\":[{\"id\":1},,}]\"unterminated");
    proto_msg_t *report = NULL, *answer, *task;
    int served;

    /* a fresh process: home page, then the page, with the svc headers and cookies */
    task = s_task(1, 1, 96, 100);
    answer = s_run(f, srv, (httpstub_reply_t[]) { home, page }, 2, task, &report, &served);
    assert(answer && !report && served == 2 && g.tokens == 2 && g.sleeps == 0);
    assert(answer->cmd == PROTO_RESULT && answer->task_id == 1 && answer->body == PROTO_BODY_PAGE);
    proto_page_t *p = &answer->u.page;
    assert(p->window_id == 7 && p->catalog_id == 221 && p->page == 1 && p->attempt == 1);
    assert(p->http_status == 200 && !p->error && strcmp(p->site, "pt") == 0);
    assert(strcmp(p->api, "svc") == 0 && strstr(p->url, "attribute_ids%5Bcatalog%5D=221"));
    assert(p->body_len == strlen(page_body) && memcmp(p->body, page_body, p->body_len) == 0);
    assert(p->n_items == 4 && p->max_item_id == 105 && p->total_pages == 5);
    assert(p->more); /* 50 is a bumped item, the page ends with a new one */
    assert(p->fetched_at_ms > 1700000000000);
    assert(p->kind == PROTO_FETCH_CATALOG && p->target_id == 0);
    assert(httpstub_saw(srv, 0, "GET / HTTP/1.1") && httpstub_saw(srv, 0, "User-Agent: SelfTest/1"));
    assert(httpstub_saw(srv, 1, "GET /svc-catalogue/items?attribute_ids%5Bcatalog%5D=221&order="
                                 "newest_first&per_page=96&page=1 HTTP/1.1"));
    assert(httpstub_saw(srv, 1, "X-Anon-Id: anon-42") && httpstub_saw(srv, 1, "Platform: web"));
    assert(httpstub_saw(srv, 1, "access_token_web=tok1") && httpstub_saw(srv, 1, "Locale: pt-PT"));
    assert(httpstub_saw(srv, 1, "Accept: application/json, text/plain, */*"));
    proto_msg_destroy(&answer);
    proto_msg_destroy(&task);

    /* the mark reached: a trailing run of old ids stops the paging */
    task = s_task(2, 2, 96, 105); /* every id on this short page is old */
    answer = s_run(f, srv, (httpstub_reply_t[]) { page }, 1, task, &report, &served);
    assert(answer && served == 1 && answer->cmd == PROTO_RESULT && !answer->u.page.more);
    proto_msg_destroy(&answer);
    proto_msg_destroy(&task);

    /* 401: renew the session (home page) and retry */
    g.tokens = 0;
    task = s_task(3, 1, 96, 0);
    answer = s_run(f, srv, (httpstub_reply_t[]) { r401, home, page }, 3, task, &report, &served);
    assert(answer && answer->cmd == PROTO_RESULT && served == 3 && g.tokens == 3);
    assert(httpstub_saw(srv, 1, "GET / HTTP/1.1"));
    proto_msg_destroy(&answer);
    /* ... at most twice */
    answer = s_run(f, srv, (httpstub_reply_t[]) { r401, home, r401, home, r401 }, 5, task, &report,
                   &served);
    assert(answer && answer->cmd == PROTO_NACK && served == 5 && !answer->u.nack.permanent);
    assert(strstr(answer->u.nack.reason, "401"));
    proto_msg_destroy(&answer);
    proto_msg_destroy(&task);

    /* 429 and 5xx: backoff and retry */
    g.sleeps = 0;
    task = s_task(4, 1, 96, 0);
    answer = s_run(f, srv, (httpstub_reply_t[]) { home, r429, r500, page }, 4, task, &report, &served);
    assert(answer && answer->cmd == PROTO_RESULT && served == 4 && g.sleeps == 2);
    proto_msg_destroy(&answer);
    /* a Retry-After longer than the backoff cap goes back to the broker at once */
    const httpstub_reply_t r429ra = httpstub_text(429, "Retry-After: 120\r\n", "{}");
    answer = s_run(f, srv, (httpstub_reply_t[]) { r429ra }, 1, task, &report, &served);
    assert(answer && answer->cmd == PROTO_NACK && served == 1 && !answer->u.nack.permanent);
    assert(answer->u.nack.retry_after_ms == 120000 && strstr(answer->u.nack.reason, "Retry-After"));
    proto_msg_destroy(&answer);
    /* a short one is honoured here */
    g.sleeps = 0;
    const httpstub_reply_t r503ra = httpstub_text(503, "Retry-After: 0\r\n", "");
    answer = s_run(f, srv, (httpstub_reply_t[]) { r503ra, page }, 2, task, &report, &served);
    assert(answer && answer->cmd == PROTO_RESULT && g.sleeps == 1);
    proto_msg_destroy(&answer);
    /* six retries, then NACK */
    g.sleeps = 0;
    answer = s_run(f, srv, (httpstub_reply_t[]) { r500, r500, r500, r500, r500, r500, r500, page }, 8,
                   task, &report, &served);
    assert(answer && answer->cmd == PROTO_NACK && served == 7 && g.sleeps == 6);
    assert(!answer->u.nack.permanent && answer->u.nack.retry_after_ms == 4);
    assert(strstr(answer->u.nack.reason, "HTTP 500") && strstr(answer->u.nack.reason, "7 attempts"));
    proto_msg_destroy(&answer);
    proto_msg_destroy(&task);

    /* malformed JSON: 3 retries, then the page goes on with its error */
    task = s_task(5, 2, 96, 0);
    answer = s_run(f, srv, (httpstub_reply_t[]) { bad, bad, page }, 3, task, &report, &served);
    assert(answer && answer->cmd == PROTO_RESULT && !answer->u.page.error && served == 3);
    proto_msg_destroy(&answer);
    answer = s_run(f, srv, (httpstub_reply_t[]) { bad, bad, bad, bad, page }, 5, task, &report, &served);
    assert(answer && answer->cmd == PROTO_RESULT && served == 4);
    p = &answer->u.page;
    assert(p->error && strncmp(p->error, "malformed json after 4 attempts", 31) == 0);
    assert(p->body_len == strlen(bad.body) && memcmp(p->body, bad.body, p->body_len) == 0);
    assert(p->more && p->n_items == 0 && p->http_status == 200);
    proto_msg_destroy(&answer);
    proto_msg_destroy(&task);
    task = s_task(6, 10, 96, 0); /* the last page the API serves */
    answer = s_run(f, srv, (httpstub_reply_t[]) { bad, bad, bad, bad }, 4, task, &report, &served);
    assert(answer && answer->u.page.error && !answer->u.page.more);
    proto_msg_destroy(&answer);
    proto_msg_destroy(&task);

    /* 403: the session is dropped, the block reported, the task handed back */
    task = s_task(7, 1, 96, 0);
    const httpstub_reply_t r403 = httpstub_text(403, "Server: cloudflare\r\n",
                                                "<title>Attention Required! | Cloudflare</title>");
    answer = s_run(f, srv, (httpstub_reply_t[]) { r403 }, 1, task, &report, &served);
    assert(answer && answer->cmd == PROTO_NACK && !answer->u.nack.permanent && served == 1);
    assert(answer->u.nack.retry_after_ms == 3600000);
    assert(report && report->cmd == PROTO_REPORT && strcmp(report->u.report.event, "blocked") == 0);
    assert(report->u.report.backoff_ms == 3600000 && strstr(report->u.report.detail, "cloudflare"));
    proto_msg_destroy(&answer);
    proto_msg_destroy(&report);
    /* the next task starts a new session, without the old cookies */
    answer = s_run(f, srv, (httpstub_reply_t[]) { home, page }, 2, task, &report, &served);
    assert(answer && answer->cmd == PROTO_RESULT && !report && served == 2);
    assert(httpstub_saw(srv, 0, "GET / ") && !httpstub_saw(srv, 0, "tok1"));
    proto_msg_destroy(&answer);
    /* other 4xx: permanent, with the status and a snippet */
    const httpstub_reply_t r410 = httpstub_text(410, "", "{\"code\":55,\"message\":\"gone\"}");
    answer = s_run(f, srv, (httpstub_reply_t[]) { r410 }, 1, task, &report, &served);
    assert(answer && answer->cmd == PROTO_NACK && answer->u.nack.permanent);
    assert(strstr(answer->u.nack.reason, "HTTP 410") && strstr(answer->u.nack.reason, "gone"));
    proto_msg_destroy(&answer);
    proto_msg_destroy(&task);

    /* invalid tasks are refused without a request */
    g.tokens = 0;
    task = s_task(8, 1, 0, 0);
    answer = s_run(f, srv, NULL, 0, task, &report, &served);
    assert(answer && answer->cmd == PROTO_NACK && answer->u.nack.permanent && served == 0);
    assert(strstr(answer->u.nack.reason, "per_page 0") && g.tokens == 0);
    proto_msg_destroy(&answer);
    task->u.fetch.per_page = 96;
    task->u.fetch.catalog_id = -1;
    answer = s_run(f, srv, NULL, 0, task, &report, &served);
    assert(answer && answer->u.nack.permanent && strstr(answer->u.nack.reason, "catalog_id"));
    proto_msg_destroy(&answer);
    task->u.fetch.catalog_id = 221;
    task->body = PROTO_BODY_PAGE;
    answer = s_run(f, srv, NULL, 0, task, &report, &served);
    assert(answer && answer->u.nack.permanent);
    proto_msg_destroy(&answer);
    task->body = PROTO_BODY_FETCH;
    task->u.fetch.site = "zz"; /* a site Vinted does not have: refused, no request */
    answer = s_run(f, srv, NULL, 0, task, &report, &served);
    assert(answer && answer->u.nack.permanent && strstr(answer->u.nack.reason, "site 'zz'") && served == 0);
    proto_msg_destroy(&answer);
    task->u.fetch.site = NULL;

    /* no token: the task is abandoned, nothing to send */
    g.tokens = 0;
    g.refuse_after = 1;
    answer = s_run(f, srv, (httpstub_reply_t[]) { r500, page }, 2, task, &report, &served);
    assert(!answer && !report && served == 1 && g.tokens == 2);
    g.refuse_after = -1;
    proto_msg_destroy(&task);
    fetcher_destroy(&f);
    assert(f == NULL);
    vinted_destroy(&svc);

    /* v2 where the endpoint is retired: a permanent NACK that names the fix */
    vinted_t *v2 = vinted_new("pt", VINTED_API_V2, base, NULL, NULL, err, sizeof(err));
    assert(v2);
    f = fetcher_new(v2, &cfg, &gate);
    task = s_task(9, 1, 96, 0);
    const httpstub_reply_t r104 = httpstub_text(404, "", "{\"code\":104,\"message\":\"Not found\"}");
    answer = s_run(f, srv, (httpstub_reply_t[]) { home, r104 }, 2, task, &report, &served);
    assert(answer && answer->cmd == PROTO_NACK && answer->u.nack.permanent && served == 2);
    assert(strstr(answer->u.nack.reason, "VINTED_API=svc"));
    assert(httpstub_saw(srv, 1, "GET /api/v2/catalog/items?catalog_ids=221&order=newest_first"));
    assert(!httpstub_saw(srv, 1, "X-Anon-Id"));
    proto_msg_destroy(&answer);
    proto_msg_destroy(&task);
    fetcher_destroy(&f);
    vinted_destroy(&v2);

    /* the tracking flow: a seller's items and the item page, on the www host */
    svc = vinted_new("pt", VINTED_API_SVC, base, "http://127.0.0.1:1", "SelfTest/1", err,
                     sizeof(err));
    assert(svc);
    f = fetcher_new(svc, &cfg, &gate);
    assert(f);
    const char *seller_body = "{\"items\":[{\"id\":9001,\"is_closed\":true},{\"id\":9003},"
                              "{\"id\":8000}],\"pagination\":{\"current_page\":1,"
                              "\"total_pages\":3,\"total_entries\":250,\"per_page\":96},"
                              "\"code\":0}";
    const httpstub_reply_t seller = httpstub_text(200, "Content-Type: application/json\r\n", seller_body);
    task = s_task(20, 1, 0, 0); /* per_page and catalog_id mean nothing here */
    task->u.fetch.catalog_id = 0;
    task->u.fetch.kind = PROTO_FETCH_USER_ITEMS;
    task->u.fetch.target_id = 555;
    answer = s_run(f, srv, (httpstub_reply_t[]) { home, seller }, 2, task, &report, &served);
    assert(answer && !report && served == 2 && answer->cmd == PROTO_RESULT);
    p = &answer->u.page;
    assert(p->kind == PROTO_FETCH_USER_ITEMS && p->target_id == 555 && p->http_status == 200);
    assert(p->n_items == 3 && p->max_item_id == 9003 && p->total_pages == 3 && p->more);
    assert(!p->error && p->body_len == strlen(seller_body) && strstr(p->url, "/api/v2/users/555/"));
    assert(httpstub_saw(srv, 1, "GET /api/v2/users/555/items?page=1&per_page=96&order=newest_first "
                                 "HTTP/1.1"));
    assert(httpstub_saw(srv, 1, "Accept: application/json, text/plain, */*"));
    assert(httpstub_saw(srv, 1, "access_token_web=tok1") && !httpstub_saw(srv, 1, "Platform:"));
    assert(!httpstub_saw(srv, 1, "X-Anon-Id"));
    proto_msg_destroy(&answer);
    /* the last page, and the 10-page cap */
    task->u.fetch.page = 3;
    answer = s_run(f, srv, (httpstub_reply_t[]) { seller }, 1, task, &report, &served);
    assert(answer && answer->cmd == PROTO_RESULT && !answer->u.page.more);
    proto_msg_destroy(&answer);
    const httpstub_reply_t seller_long = httpstub_text(200, "", "{\"items\":[{\"id\":5}],\"pagination\":"
                                                       "{\"total_pages\":40}}");
    task->u.fetch.page = 9;
    answer = s_run(f, srv, (httpstub_reply_t[]) { seller_long }, 1, task, &report, &served);
    assert(answer && answer->cmd == PROTO_RESULT && answer->u.page.more);
    proto_msg_destroy(&answer);
    task->u.fetch.page = 10;
    answer = s_run(f, srv, (httpstub_reply_t[]) { seller_long }, 1, task, &report, &served);
    assert(answer && answer->cmd == PROTO_RESULT && !answer->u.page.more);
    proto_msg_destroy(&answer);
    /* a seller who is gone: 404 is an observation, not an error */
    task->u.fetch.page = 1;
    answer = s_run(f, srv, (httpstub_reply_t[]) { r104 }, 1, task, &report, &served);
    assert(answer && answer->cmd == PROTO_RESULT && served == 1 && !report);
    p = &answer->u.page;
    assert(p->http_status == 404 && !p->error && !p->more && p->n_items == 0);
    assert(p->kind == PROTO_FETCH_USER_ITEMS && p->target_id == 555);
    assert(p->body_len == strlen(r104.body) && memcmp(p->body, r104.body, p->body_len) == 0);
    proto_msg_destroy(&answer);
    /* unreadable seller pages: retried, then passed on with the error and no more paging */
    answer = s_run(f, srv, (httpstub_reply_t[]) { bad, bad, bad, bad }, 4, task, &report, &served);
    assert(answer && answer->cmd == PROTO_RESULT && served == 4);
    assert(answer->u.page.error && strstr(answer->u.page.error, "malformed json"));
    assert(!answer->u.page.more);
    proto_msg_destroy(&answer);
    /* 5xx is retried as for catalog pages */
    g.sleeps = 0;
    answer = s_run(f, srv, (httpstub_reply_t[]) { r500, seller }, 2, task, &report, &served);
    assert(answer && answer->cmd == PROTO_RESULT && g.sleeps == 1 && answer->u.page.more);
    proto_msg_destroy(&answer);
    /* a seller id is required */
    task->u.fetch.target_id = 0;
    answer = s_run(f, srv, NULL, 0, task, &report, &served);
    assert(answer && answer->cmd == PROTO_NACK && answer->u.nack.permanent && served == 0);
    assert(strstr(answer->u.nack.reason, "target_id 0"));
    proto_msg_destroy(&answer);
    task->u.fetch.target_id = 555;
    task->u.fetch.kind = 9;
    answer = s_run(f, srv, NULL, 0, task, &report, &served);
    assert(answer && answer->cmd == PROTO_NACK && answer->u.nack.permanent && served == 0);
    assert(strstr(answer->u.nack.reason, "kind 9"));
    proto_msg_destroy(&answer);
    proto_msg_destroy(&task);

    /* the item page: HTML, untouched */
    const char *item_html = "<!DOCTYPE html><html><head><script type=\"application/ld+json\">"
                            "{\"@type\":\"Product\",\"sku\":\"7340954839\"}</script></head>"
                            "<body>x</body></html>\n";
    const httpstub_reply_t item = httpstub_text(200, "Content-Type: text/html; charset=utf-8\r\n", item_html);
    const httpstub_reply_t item404 = httpstub_text(404, "Content-Type: text/html\r\n",
                                                   "<html><body>Page not found</body></html>");
    task = s_task(21, 1, 0, 0);
    task->u.fetch.catalog_id = 0;
    task->u.fetch.kind = PROTO_FETCH_ITEM_PAGE;
    task->u.fetch.target_id = 7340954839LL;
    g.tokens = 0;
    answer = s_run(f, srv, (httpstub_reply_t[]) { item }, 1, task, &report, &served);
    assert(answer && answer->cmd == PROTO_RESULT && served == 1 && g.tokens == 1);
    p = &answer->u.page;
    assert(p->kind == PROTO_FETCH_ITEM_PAGE && p->target_id == 7340954839LL);
    assert(p->http_status == 200 && !p->error && !p->more && p->n_items == 1);
    assert(p->max_item_id == 7340954839LL && p->total_pages == 0);
    assert(p->body_len == strlen(item_html) && memcmp(p->body, item_html, p->body_len) == 0);
    assert(httpstub_saw(srv, 0, "GET /items/7340954839 HTTP/1.1"));
    assert(httpstub_saw(srv, 0, "Accept: text/html,application/xhtml+xml"));
    assert(httpstub_saw(srv, 0, "User-Agent: SelfTest/1"));
    proto_msg_destroy(&answer);
    /* a removed item: 404 is an observation, with its body */
    answer = s_run(f, srv, (httpstub_reply_t[]) { item404 }, 1, task, &report, &served);
    assert(answer && answer->cmd == PROTO_RESULT && served == 1 && !report);
    p = &answer->u.page;
    assert(p->http_status == 404 && !p->error && !p->more && p->n_items == 0);
    assert(p->max_item_id == 0 && p->target_id == 7340954839LL);
    assert(p->body_len == strlen(item404.body) && memcmp(p->body, item404.body, p->body_len) == 0);
    proto_msg_destroy(&answer);
    /* /items/{id} moves to /items/{id}-{slug}: followed */
    const httpstub_reply_t moved = httpstub_text(301, "Location: /items/7340954839-blue-shirt\r\n", "");
    answer = s_run(f, srv, (httpstub_reply_t[]) { moved, item }, 2, task, &report, &served);
    assert(answer && answer->cmd == PROTO_RESULT && served == 2);
    assert(answer->u.page.http_status == 200 && answer->u.page.n_items == 1);
    assert(httpstub_saw(srv, 1, "GET /items/7340954839-blue-shirt HTTP/1.1"));
    proto_msg_destroy(&answer);
    /* a page cut short is fetched again; after 4 tries it goes on with the error */
    const httpstub_reply_t cut = httpstub_text(200, "", "<!DOCTYPE html><html><head><script type=\"applic");
    answer = s_run(f, srv, (httpstub_reply_t[]) { cut, item }, 2, task, &report, &served);
    assert(answer && answer->cmd == PROTO_RESULT && !answer->u.page.error && served == 2);
    proto_msg_destroy(&answer);
    answer = s_run(f, srv, (httpstub_reply_t[]) { cut, cut, cut, cut }, 4, task, &report, &served);
    assert(answer && answer->cmd == PROTO_RESULT && served == 4);
    assert(answer->u.page.error && strstr(answer->u.page.error, "truncated html after 4 attempts"));
    proto_msg_destroy(&answer);
    /* 429 and 5xx back off, 401 renews the session, 403 is a block */
    g.sleeps = 0;
    answer = s_run(f, srv, (httpstub_reply_t[]) { r429, r500, item }, 3, task, &report, &served);
    assert(answer && answer->cmd == PROTO_RESULT && g.sleeps == 2 && served == 3);
    proto_msg_destroy(&answer);
    answer = s_run(f, srv, (httpstub_reply_t[]) { r401, home, item }, 3, task, &report, &served);
    assert(answer && answer->cmd == PROTO_RESULT && served == 3);
    proto_msg_destroy(&answer);
    answer = s_run(f, srv, (httpstub_reply_t[]) { r403 }, 1, task, &report, &served);
    assert(answer && answer->cmd == PROTO_NACK && !answer->u.nack.permanent && report);
    proto_msg_destroy(&answer);
    proto_msg_destroy(&report);
    /* other statuses stay permanent failures */
    answer = s_run(f, srv, (httpstub_reply_t[]) { home, r410 }, 2, task, &report, &served);
    assert(answer && answer->cmd == PROTO_NACK && answer->u.nack.permanent);
    proto_msg_destroy(&answer);
    task->u.fetch.target_id = -2;
    answer = s_run(f, srv, NULL, 0, task, &report, &served);
    assert(answer && answer->cmd == PROTO_NACK && answer->u.nack.permanent && served == 0);
    assert(strstr(answer->u.nack.reason, "item_page") && strstr(answer->u.nack.reason, "-2"));
    proto_msg_destroy(&answer);
    proto_msg_destroy(&task);
    fetcher_destroy(&f);
    vinted_destroy(&svc);

    /* the seller's profile, on the www host; a backoff cap long enough to honour
       the profile endpoint's usual Retry-After */
    svc = vinted_new("pt", VINTED_API_SVC, base, "http://127.0.0.1:1", "SelfTest/1", err,
                     sizeof(err));
    assert(svc);
    fetcher_settings_t cfg_user = { 2000, 1, 10000, 3600000, NULL, NULL, NULL, NULL, NULL };
    g.max_sleep_ms = 10000;
    f = fetcher_new(svc, &cfg_user, &gate);
    assert(f);
    const char *profile_body = "{\"user\":{\"id\":555,\"login\":\"ana\",\"item_count\":4,"
                               "\"feedback_count\":12,\"feedback_reputation\":0.97,"
                               "\"city\":\"Lisboa\",\"country_title\":\"Portugal\"},\"code\":0}";
    const httpstub_reply_t profile = httpstub_text(200, "Content-Type: application/json\r\n", profile_body);
    task = s_task(22, 1, 0, 0);
    task->u.fetch.catalog_id = 0;
    task->u.fetch.kind = PROTO_FETCH_USER;
    task->u.fetch.target_id = 555;
    g.tokens = 0;
    answer = s_run(f, srv, (httpstub_reply_t[]) { home, profile }, 2, task, &report, &served);
    assert(answer && !report && served == 2 && g.tokens == 2 && answer->cmd == PROTO_RESULT);
    p = &answer->u.page;
    assert(p->kind == PROTO_FETCH_USER && p->target_id == 555 && p->http_status == 200);
    assert(!p->error && !p->more && p->n_items == 0 && p->max_item_id == 0 && p->total_pages == 0);
    assert(p->window_id == 7 && p->page == 1 && p->attempt == 1);
    assert(p->body_len == strlen(profile_body) && memcmp(p->body, profile_body, p->body_len) == 0);
    assert(strstr(p->url, "/api/v2/users/555") && !strstr(p->url, "/items"));
    assert(httpstub_saw(srv, 1, "GET /api/v2/users/555 HTTP/1.1"));
    assert(httpstub_saw(srv, 1, "Accept: application/json, text/plain, */*"));
    assert(httpstub_saw(srv, 1, "access_token_web=tok1") && !httpstub_saw(srv, 1, "Platform:"));
    assert(!httpstub_saw(srv, 1, "X-Anon-Id"));
    proto_msg_destroy(&answer);
    /* rate-limited: the Retry-After is honoured here, then the profile comes */
    const httpstub_reply_t r429u = httpstub_text(429, "Retry-After: 7\r\n",
                                                 "{\"code\":429,\"message_code\":\"too_many_requests\"}");
    g.sleeps = 0;
    g.tokens = 0;
    answer = s_run(f, srv, (httpstub_reply_t[]) { r429u, r429u, profile }, 3, task, &report, &served);
    assert(answer && answer->cmd == PROTO_RESULT && served == 3 && g.tokens == 3);
    assert(g.sleeps == 2 && g.slept_ms == 7000 && answer->u.page.http_status == 200);
    proto_msg_destroy(&answer);
    /* ... a Retry-After beyond the cap goes back to the broker */
    answer = s_run(f, srv, (httpstub_reply_t[]) { r429ra }, 1, task, &report, &served);
    assert(answer && answer->cmd == PROTO_NACK && !answer->u.nack.permanent && served == 1);
    assert(answer->u.nack.retry_after_ms == 120000);
    proto_msg_destroy(&answer);
    /* ... and a limit that never lifts: six retries, then NACK */
    g.sleeps = 0;
    answer = s_run(f, srv, (httpstub_reply_t[]) { r429u, r429u, r429u, r429u, r429u, r429u, r429u }, 7,
                   task, &report, &served);
    assert(answer && answer->cmd == PROTO_NACK && !answer->u.nack.permanent && served == 7);
    assert(g.sleeps == 6 && answer->u.nack.retry_after_ms == 7000);
    assert(strstr(answer->u.nack.reason, "HTTP 429") && strstr(answer->u.nack.reason, "7 attempts"));
    proto_msg_destroy(&answer);
    /* 5xx backs off; 401 renews the session */
    g.sleeps = 0;
    answer = s_run(f, srv, (httpstub_reply_t[]) { r500, profile }, 2, task, &report, &served);
    assert(answer && answer->cmd == PROTO_RESULT && g.sleeps == 1 && served == 2);
    assert(g.slept_ms <= 10000);
    proto_msg_destroy(&answer);
    answer = s_run(f, srv, (httpstub_reply_t[]) { r401, home, profile }, 3, task, &report, &served);
    assert(answer && answer->cmd == PROTO_RESULT && served == 3 && answer->u.page.http_status == 200);
    assert(httpstub_saw(srv, 1, "GET / HTTP/1.1") && httpstub_saw(srv, 2, "/api/v2/users/555 "));
    proto_msg_destroy(&answer);
    /* a seller who is gone: 404 is an observation, not an error */
    const httpstub_reply_t r404u = httpstub_text(404, "", "{\"code\":104}");
    answer = s_run(f, srv, (httpstub_reply_t[]) { r404u }, 1, task, &report, &served);
    assert(answer && answer->cmd == PROTO_RESULT && served == 1 && !report);
    p = &answer->u.page;
    assert(p->http_status == 404 && !p->error && !p->more && p->n_items == 0);
    assert(p->kind == PROTO_FETCH_USER && p->target_id == 555);
    assert(p->body_len == strlen(r404u.body) && memcmp(p->body, r404u.body, p->body_len) == 0);
    proto_msg_destroy(&answer);
    /* unreadable profiles (broken JSON, or no user object): retried, then passed on */
    const httpstub_reply_t nouser = httpstub_text(200, "", "{\"code\":0}");
    answer = s_run(f, srv, (httpstub_reply_t[]) { bad, nouser, profile }, 3, task, &report, &served);
    assert(answer && answer->cmd == PROTO_RESULT && served == 3 && !answer->u.page.error);
    proto_msg_destroy(&answer);
    answer = s_run(f, srv, (httpstub_reply_t[]) { nouser, nouser, nouser, nouser }, 4, task, &report,
                   &served);
    assert(answer && answer->cmd == PROTO_RESULT && served == 4 && !answer->u.page.more);
    assert(answer->u.page.error && strstr(answer->u.page.error, "malformed json after 4 attempts"));
    assert(strstr(answer->u.page.error, "no user object") && answer->u.page.http_status == 200);
    proto_msg_destroy(&answer);
    /* 403 is a block, as everywhere */
    answer = s_run(f, srv, (httpstub_reply_t[]) { r403 }, 1, task, &report, &served);
    assert(answer && answer->cmd == PROTO_NACK && !answer->u.nack.permanent && report);
    assert(strcmp(report->u.report.event, "blocked") == 0);
    proto_msg_destroy(&answer);
    proto_msg_destroy(&report);
    /* other statuses are permanent failures */
    answer = s_run(f, srv, (httpstub_reply_t[]) { home, r410 }, 2, task, &report, &served);
    assert(answer && answer->cmd == PROTO_NACK && answer->u.nack.permanent);
    assert(strstr(answer->u.nack.reason, "HTTP 410") && strstr(answer->u.nack.reason, "/users/555"));
    proto_msg_destroy(&answer);
    /* a user id is required; the page number is not looked at */
    task->u.fetch.page = 0;
    answer = s_run(f, srv, (httpstub_reply_t[]) { profile }, 1, task, &report, &served);
    assert(answer && answer->cmd == PROTO_RESULT && served == 1);
    proto_msg_destroy(&answer);
    task->u.fetch.target_id = 0;
    answer = s_run(f, srv, NULL, 0, task, &report, &served);
    assert(answer && answer->cmd == PROTO_NACK && answer->u.nack.permanent && served == 0);
    assert(strstr(answer->u.nack.reason, "invalid user task") && strstr(answer->u.nack.reason, "user id"));
    proto_msg_destroy(&answer);
    proto_msg_destroy(&task);

    /* the catalog tree, on the www host, same session (already open here) */
    const char *tree_body = "{\"catalogs\":[{\"id\":1904,\"title\":\"Mulher\",\"catalogs\":[]}]}";
    const httpstub_reply_t tree = httpstub_text(200, "Content-Type: application/json\r\n", tree_body);
    task = s_task(23, 1, 0, 0);
    task->u.fetch.catalog_id = 0;
    task->u.fetch.page = 0;
    task->u.fetch.kind = PROTO_FETCH_CATALOGS;
    task->u.fetch.target_id = 99; /* not looked at, not echoed */
    g.tokens = 0;
    answer = s_run(f, srv, (httpstub_reply_t[]) { tree }, 1, task, &report, &served);
    assert(answer && !report && served == 1 && g.tokens == 1 && answer->cmd == PROTO_RESULT);
    p = &answer->u.page;
    assert(p->kind == PROTO_FETCH_CATALOGS && p->target_id == 0 && p->http_status == 200);
    assert(!p->error && !p->more && p->n_items == 0 && p->max_item_id == 0);
    assert(p->body_len == strlen(tree_body) && memcmp(p->body, tree_body, p->body_len) == 0);
    assert(strstr(p->url, "/api/v2/catalogs"));
    assert(httpstub_saw(srv, 0, "GET /api/v2/catalogs HTTP/1.1"));
    assert(httpstub_saw(srv, 0, "access_token_web=") && !httpstub_saw(srv, 0, "Platform:"));
    proto_msg_destroy(&answer);
    /* 401 renews the session; 5xx backs off */
    answer = s_run(f, srv, (httpstub_reply_t[]) { r401, home, r500, tree }, 4, task, &report, &served);
    assert(answer && answer->cmd == PROTO_RESULT && served == 4 && !answer->u.page.error);
    assert(httpstub_saw(srv, 1, "GET / HTTP/1.1") && httpstub_saw(srv, 3, "/api/v2/catalogs "));
    proto_msg_destroy(&answer);
    /* unreadable trees (broken JSON, or no catalogs): retried, then passed on with the error */
    const httpstub_reply_t notree = httpstub_text(200, "", "{\"code\":0}");
    answer = s_run(f, srv, (httpstub_reply_t[]) { bad, notree, tree }, 3, task, &report, &served);
    assert(answer && answer->cmd == PROTO_RESULT && served == 3 && !answer->u.page.error);
    proto_msg_destroy(&answer);
    answer = s_run(f, srv, (httpstub_reply_t[]) { notree, notree, notree, notree }, 4, task, &report,
                   &served);
    assert(answer && answer->cmd == PROTO_RESULT && served == 4 && !answer->u.page.more);
    assert(answer->u.page.error && strstr(answer->u.page.error, "malformed json after 4 attempts"));
    assert(strstr(answer->u.page.error, "no catalogs") && answer->u.page.kind == PROTO_FETCH_CATALOGS);
    proto_msg_destroy(&answer);
    /* a 404 is no observation here: a permanent failure */
    answer = s_run(f, srv, (httpstub_reply_t[]) { r404u }, 1, task, &report, &served);
    assert(answer && answer->cmd == PROTO_NACK && answer->u.nack.permanent && served == 1);
    assert(strstr(answer->u.nack.reason, "HTTP 404") && strstr(answer->u.nack.reason, "/catalogs"));
    proto_msg_destroy(&answer);
    proto_msg_destroy(&task);
    fetcher_destroy(&f);
    vinted_destroy(&svc);

    httpstub_destroy(&srv);
    if (verbose)
        printf("OK\n");
}
