/*  fetcher_selftest.c - the fetcher's self-test (fetcher_test, fetcher.h): the
    fetcher against a scripted HTTP server (common/httpstub.h) and a scripted
    gate, every kind of task through fetcher_run and every outcome fetcher.h
    lists. A file of its own: the scripts run to nearly 600 lines, and beside
    the request loop they would take fetcher.c past 900.
*/
#include "fetcher.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/httpstub.h"


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

/* A seller who is gone (the task's target, 555): the 404 is an observation, a
   RESULT with its body and no error, not an error. */
static void s_expect_gone(fetcher_t *f, httpstub_t *srv, proto_msg_t *task, httpstub_reply_t r404)
{
    proto_msg_t *report = NULL;
    int served;
    proto_msg_t *answer = s_run(f, srv, &r404, 1, task, &report, &served);
    assert(answer && answer->cmd == PROTO_RESULT && served == 1 && !report);
    const proto_page_t *p = &answer->u.page;
    assert(p->http_status == 404 && !p->error && !p->more && p->n_items == 0);
    assert(p->kind == task->u.fetch.kind && p->target_id == 555);
    assert(p->body_len == strlen(r404.body) && memcmp(p->body, r404.body, p->body_len) == 0);
    proto_msg_destroy(&answer);
}

/* A kind whose 200 must hold a JSON object (the profile, the catalog tree):
   broken JSON (bad) and JSON without it (empty) are retried until the good
   answer comes; four unreadable answers pass on with the error, which names
   what is missing. */
static void s_expect_unreadable(fetcher_t *f, httpstub_t *srv, proto_msg_t *task, httpstub_reply_t bad,
                                httpstub_reply_t empty, httpstub_reply_t good, const char *missing)
{
    proto_msg_t *report = NULL;
    int served;
    proto_msg_t *answer = s_run(f, srv, (httpstub_reply_t[]) { bad, empty, good }, 3, task, &report, &served);
    assert(answer && answer->cmd == PROTO_RESULT && served == 3 && !answer->u.page.error);
    proto_msg_destroy(&answer);
    answer = s_run(f, srv, (httpstub_reply_t[]) { empty, empty, empty, empty }, 4, task, &report, &served);
    assert(answer && answer->cmd == PROTO_RESULT && served == 4 && !answer->u.page.more);
    assert(answer->u.page.error && strstr(answer->u.page.error, "malformed json after 4 attempts"));
    assert(strstr(answer->u.page.error, missing) && answer->u.page.http_status == 200);
    assert(answer->u.page.kind == task->u.fetch.kind);
    proto_msg_destroy(&answer);
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
    s_expect_gone(f, srv, task, r104);
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
    s_expect_gone(f, srv, task, r404u);
    /* unreadable profiles (broken JSON, or no user object): retried, then passed on */
    const httpstub_reply_t nouser = httpstub_text(200, "", "{\"code\":0}");
    s_expect_unreadable(f, srv, task, bad, nouser, profile, "no user object");
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
    s_expect_unreadable(f, srv, task, bad, notree, tree, "no catalogs");
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
