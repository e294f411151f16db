/*  fetcher.c - one fetch task from start to answer (see fetcher.h): the sites
    a fetcher serves (each its own settings and sessions), and the request loop
    that retries what is worth retrying. The checks of a task and the messages
    it is answered with are answer.c's; the self-test is fetcher_selftest.c.
*/
#include "fetcher.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/clock.h"
#include "../../common/log.h"
#include "answer.h"
#include "common/backoff.h"
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

proto_msg_t *fetcher_run(fetcher_t *self, const proto_msg_t *task, proto_msg_t **report_p)
{
    *report_p = NULL;
    char reason[2048], url[1024], snippet[200];
    if (answer_check(task, reason, sizeof(reason)) != 0)
        return answer_nack(task, reason, PROTO_NULL, true);
    const proto_fetch_t *f = &task->u.fetch;
    char site_err[256];
    if (s_use_site(self, f->site, site_err, sizeof site_err) != 0) {
        snprintf(reason, sizeof reason, "invalid fetch task: site '%s': %s", f->site, site_err);
        return answer_nack(task, reason, PROTO_NULL, true);
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
        return answer_nack(task, "request URL does not fit (check VINTED_WWW_URL / VINTED_API_URL)",
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
                                       home ? "home" : answer_kind_name(f->kind)));
        }
        log_debug("http request",
                  "task=%llu kind=%s status=%ld url=%s elapsed_ms=%lld bytes=%zu attempt=%d try=%d "
                  "error=%s",
                  (unsigned long long) task->task_id, home ? "home" : answer_kind_name(f->kind), status,
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
            answer = answer_nack(task, reason, cfg->proxies && cfg->proxies->n > 1 ? 1000 : backoff, false);
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
                answer = answer_nack(task, why, delay, false);
                break;
            }
            if (ra_ms > cfg->backoff_max_ms) { /* too long to hold the task: the broker waits */
                char why[2200];
                snprintf(why, sizeof(why), "%s with Retry-After %s", reason, resp.retry_after);
                log_warn("rate limited", "status=%ld url=%s retry_after_ms=%lld", status,
                         log_str(req_url), (long long) ra_ms);
                answer = answer_nack(task, why, ra_ms, false);
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
                answer = answer_nack(task, reason, PROTO_NULL, false);
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
            bool scanned;
            if (answer_body_ok(f, &resp, &scan, &scanned, err, sizeof(err))) {
                answer = answer_page(self->vinted, task, url, &resp, scanned ? &scan : NULL, NULL);
                break;
            }
            bool page = f->kind == PROTO_FETCH_ITEM_PAGE;
            snprintf(bad_reason, sizeof(bad_reason), "%s", err);
            if (bad >= FETCHER_BAD_BODY_RETRIES) {
                char why[400];
                snprintf(why, sizeof(why), "%s after %d attempts: %s",
                         page ? "truncated html" : "malformed json", bad + 1, bad_reason);
                log_warn("unreadable page", "url=%s error=%s", log_str(url), log_str(why));
                answer = answer_page(self->vinted, task, url, &resp, NULL, why);
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
                     (unsigned long long) task->task_id, answer_kind_name(f->kind),
                     (long long) f->target_id, log_str(url));
            answer = answer_page(self->vinted, task, url, &resp, NULL, NULL);
            break;
        }
        answer_snippet(&resp, snippet, sizeof(snippet));
        if (f->kind == PROTO_FETCH_CATALOG
            && vinted_endpoint_gone(self->vinted, status, resp.body, resp.len))
            snprintf(reason, sizeof(reason),
                     "the v2 catalog endpoint is gone on this site (404 code 104): set "
                     "VINTED_API=svc (url %s)",
                     url);
        else
            snprintf(reason, sizeof(reason), "HTTP %ld on %s: %s", status, url, snippet);
        answer = answer_nack(task, reason, PROTO_NULL, true);
    }
    session_resp_reset(&resp);
    return answer;
}
