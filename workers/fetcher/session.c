/*  session.c - one libcurl handle and the anonymous Vinted session (see session.h). */
#include "session.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../../common/clock.h"
#include "../../common/curlsetup.h"
#include "../../common/log.h"
#include "../../common/redact.h"

/* One egress identity: its own connection (through its proxy) and cookie jar. */
typedef struct {
    CURL *curl;
    bool open;
} s_ident_t;

struct _session_t {
    const vinted_t *vinted;
    session_gate_t gate;
    s_ident_t *ident;
    int n_ident;
    int cur;        /* the identity of the last token */
    CURL *curl;     /* ident[cur].curl */
    /* the transfer in progress */
    session_resp_t *resp;
    curlsetup_body_t body; /* resp's body while it comes */
    curlsetup_pump_t pump; /* the gate's pump, pumped during a transfer */
    char errbuf[CURL_ERROR_SIZE];
};

static size_t s_on_body(char *data, size_t size, size_t nmemb, void *arg)
{
    return curlsetup_body_add(&((session_t *) arg)->body, data, size * nmemb);
}

static size_t s_on_header(char *data, size_t size, size_t nmemb, void *arg)
{
    session_t *self = arg;
    size_t n = size * nmemb;
    if (n >= 5 && strncmp(data, "HTTP/", 5) == 0) /* a new response (redirects): forget the last */
        self->resp->retry_after[0] = '\0';
    else if (n > 12 && strncasecmp(data, "Retry-After:", 12) == 0) {
        size_t len = n - 12;
        if (len >= sizeof(self->resp->retry_after))
            len = sizeof(self->resp->retry_after) - 1;
        memcpy(self->resp->retry_after, data + 12, len);
        self->resp->retry_after[len] = '\0';
        /* trim the line end and the leading space */
        char *v = self->resp->retry_after;
        size_t vlen = strlen(v);
        while (vlen > 0 && (v[vlen - 1] == '\r' || v[vlen - 1] == '\n' || v[vlen - 1] == ' '))
            v[--vlen] = '\0';
        size_t lead = strspn(v, " \t");
        memmove(v, v + lead, vlen - lead + 1);
    }
    return n;
}

static CURL *s_handle(session_t *self, int64_t timeout_ms, const char *proxy);

session_t *session_new(const vinted_t *vinted, int64_t timeout_ms, const session_gate_t *gate,
                       const proxies_t *proxies)
{
    session_t *self = calloc(1, sizeof(*self));
    if (!self)
        return NULL;
    self->vinted = vinted;
    self->gate = *gate;
    self->pump = (curlsetup_pump_t) { gate->pump, gate->ctx, 0, false };
    self->n_ident = proxies ? proxies->n : 1;
    self->ident = calloc((size_t) self->n_ident, sizeof *self->ident);
    if (!self->ident) {
        free(self);
        return NULL;
    }
    if (timeout_ms <= 0)
        timeout_ms = 30000;
    for (int i = 0; i < self->n_ident; i++) {
        self->ident[i].curl = s_handle(self, timeout_ms, proxies ? proxies->url[i] : "");
        if (!self->ident[i].curl) {
            session_destroy(&self);
            return NULL;
        }
    }
    self->curl = self->ident[0].curl;
    return self;
}

/* A libcurl handle of one identity: in-memory cookies, its proxy ("" none). */
static CURL *s_handle(session_t *self, int64_t timeout_ms, const char *proxy)
{
    CURL *c = curl_easy_init();
    if (!c)
        return NULL;
    CURLcode rc = curlsetup_handle(c, timeout_ms, s_on_body, s_on_header, self, &self->pump, self->errbuf);
    if (proxy && *proxy)
        rc |= curl_easy_setopt(c, CURLOPT_PROXY, proxy);
    else
        rc |= curl_easy_setopt(c, CURLOPT_PROXY, ""); /* direct, whatever http_proxy says */
    rc |= curl_easy_setopt(c, CURLOPT_COOKIEFILE, ""); /* in-memory cookie engine */
    rc |= curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, ""); /* every encoding curl can decode */
    rc |= curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    rc |= curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
    if (rc != CURLE_OK) {
        log_error("curl setup failed", "error=%s", log_str(curl_easy_strerror(rc)));
        curl_easy_cleanup(c);
        return NULL;
    }
    return c;
}

void session_destroy(session_t **self_p)
{
    if (self_p && *self_p) {
        session_t *self = *self_p;
        for (int i = 0; self->ident && i < self->n_ident; i++)
            if (self->ident[i].curl)
                curl_easy_cleanup(self->ident[i].curl);
        free(self->ident);
        free(self);
        *self_p = NULL;
    }
}

bool session_is_open(const session_t *self)
{
    return self->ident[self->cur].open;
}

int session_identity(const session_t *self)
{
    return self->cur;
}

/* A token: the identity it is for becomes the current one. 0, or -1 to abandon
   (or a token for an identity this fetcher does not have: VINTED_PROXIES differ). */
static int s_token(session_t *self, session_resp_t *resp)
{
    int k = self->gate.token ? self->gate.token(self->gate.ctx) : 0;
    if (k < 0)
        return -1;
    if (k >= self->n_ident) {
        log_error("token for an identity this fetcher does not have: the broker and the fetchers must"
                  " read the same VINTED_PROXIES", "identity=%d identities=%d", k, self->n_ident);
        snprintf(resp->error, sizeof resp->error, "token for identity %d of %d (VINTED_PROXIES differ)", k,
                 self->n_ident);
        k = 0;
    }
    self->cur = k;
    self->curl = self->ident[k].curl;
    return 0;
}

void session_resp_reset(session_resp_t *resp)
{
    free(resp->body);
    memset(resp, 0, sizeof(*resp));
}

/* One GET through the current identity (its token taken). */
static int s_get(session_t *self, const char *url, vinted_req_t req, session_resp_t *resp)
{
    char anon[256] = "";
    if (req == VINTED_REQ_CATALOG)
        session_cookie(self, VINTED_COOKIE_ANON, anon, sizeof(anon));
    struct curl_slist *headers = vinted_headers(self->vinted, req, anon);
    if (!headers) {
        snprintf(resp->error, sizeof(resp->error), "out of memory building headers");
        return 0;
    }
    CURL *c = self->curl;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    bool page = req == VINTED_REQ_HOME || req == VINTED_REQ_ITEM_PAGE;
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, page ? 1L : 0L);
    self->resp = resp;
    self->body = (curlsetup_body_t) { resp->body, resp->len, 0, SESSION_MAX_BODY, false };
    self->errbuf[0] = '\0';
    int64_t start = clock_mono_ms();
    curlsetup_pump_start(&self->pump, start);
    CURLcode rc = curl_easy_perform(c);
    resp->body = self->body.data;
    resp->len = self->body.len;
    resp->elapsed_ms = clock_mono_ms() - start;
    resp->fetched_at_ms = clock_wall_ms();
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(headers);
    self->resp = NULL;
    if (self->pump.abandoned)
        return -1;
    if (rc != CURLE_OK) {
        resp->status = 0;
        if (self->body.too_large)
            snprintf(resp->error, sizeof(resp->error), "response larger than %d bytes",
                     SESSION_MAX_BODY);
        else
            snprintf(resp->error, sizeof(resp->error), "%.50s%s%.190s", curl_easy_strerror(rc),
                     self->errbuf[0] ? ": " : "", self->errbuf);
        return 0;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
    if (!resp->body) { /* an empty body is still a NUL-terminated string */
        resp->body = calloc(1, 1);
        if (!resp->body) {
            resp->status = 0;
            snprintf(resp->error, sizeof(resp->error), "out of memory");
        }
    }
    return 0;
}

/* The home page visit of the current identity (its token taken). */
static int s_open(session_t *self, session_resp_t *resp)
{
    char url[512];
    if (vinted_home_url(self->vinted, url, sizeof(url)) != 0) {
        snprintf(resp->error, sizeof(resp->error), "home URL too long");
        return 0;
    }
    if (s_get(self, url, VINTED_REQ_HOME, resp) != 0)
        return -1;
    if (resp->status >= 200 && resp->status < 300) {
        bool token = session_cookie(self, VINTED_COOKIE_ACCESS, NULL, 0) == 0;
        self->ident[self->cur].open = true;
        if (token)
            log_info("session opened", "url=%s identity=%d", log_str(url), self->cur);
        else
            log_warn("session opened without an access token", "url=%s cookie=%s identity=%d", log_str(url),
                     VINTED_COOKIE_ACCESS, self->cur);
    }
    return 0;
}

int session_open(session_t *self, session_resp_t *resp)
{
    session_resp_reset(resp);
    if (s_token(self, resp) != 0)
        return -1;
    return resp->error[0] ? 0 : s_open(self, resp);
}

int session_get(session_t *self, const char *url, vinted_req_t req, session_resp_t *resp)
{
    session_resp_reset(resp);
    if (s_token(self, resp) != 0)
        return -1;
    return resp->error[0] ? 0 : s_get(self, url, req, resp);
}

int session_request(session_t *self, const char *url, vinted_req_t req, session_resp_t *resp, bool *home)
{
    session_resp_reset(resp);
    *home = false;
    if (s_token(self, resp) != 0)
        return -1;
    if (resp->error[0])
        return 0;
    *home = !self->ident[self->cur].open;
    return *home ? s_open(self, resp) : s_get(self, url, req, resp);
}

void session_reset(session_t *self)
{
    self->ident[self->cur].open = false;
}

void session_drop(session_t *self)
{
    self->ident[self->cur].open = false;
    curl_easy_setopt(self->curl, CURLOPT_COOKIELIST, "ALL");
}

int session_cookie(session_t *self, const char *name, char *buf, size_t size)
{
    struct curl_slist *cookies = NULL;
    if (curl_easy_getinfo(self->curl, CURLINFO_COOKIELIST, &cookies) != CURLE_OK)
        return -1;
    int found = -1;
    size_t name_len = strlen(name);
    /* Netscape lines: domain, subdomains, path, secure, expiry, name, value (tab-separated) */
    for (struct curl_slist *line = cookies; line && found != 0; line = line->next) {
        const char *field = line->data;
        for (int i = 0; i < 5 && field; i++) {
            field = strchr(field, '\t');
            field = field ? field + 1 : NULL;
        }
        if (!field || strncmp(field, name, name_len) != 0 || field[name_len] != '\t')
            continue;
        const char *value = field + name_len + 1;
        if (!*value)
            continue;
        if (buf && size > 0)
            snprintf(buf, size, "%s", value);
        found = 0;
    }
    curl_slist_free_all(cookies);
    return found;
}

int session_sleep(session_t *self, int64_t ms)
{
    if (ms < 0)
        ms = 0;
    if (self->gate.sleep) /* even for 0 ms: it services the broker */
        return self->gate.sleep(self->gate.ctx, ms) == 0 ? 0 : -1;
    clock_sleep_ms(ms);
    return 0;
}

/* --------------------------------------------------------------------------- */

typedef struct {
    int tokens;
    int sleeps;
    int64_t slept_ms;
    bool refuse;
    int identity; /* what the next token is for */
} s_gate_state_t;

static int s_test_token(void *ctx)
{
    s_gate_state_t *state = ctx;
    state->tokens++;
    return state->refuse ? -1 : state->identity;
}

static int s_test_sleep(void *ctx, int64_t ms)
{
    s_gate_state_t *state = ctx;
    state->sleeps++;
    state->slept_ms += ms;
    return state->refuse ? -1 : 0;
}

void session_test(bool verbose)
{
    if (verbose)
        printf(" * session: ");
    char err[256], value[64];
    /* port 1 on the loopback refuses connections: a network error without a network */
    vinted_t *v = vinted_new("pt", VINTED_API_SVC, "http://127.0.0.1:1", "http://127.0.0.1:1",
                             NULL, err, sizeof(err));
    assert(v);
    s_gate_state_t state = { 0 };
    session_gate_t gate = { s_test_token, NULL, s_test_sleep, &state };
    session_t *s = session_new(v, 2000, &gate, NULL);
    assert(s);
    assert(!session_is_open(s));

    /* the cookie jar: read, then dropped */
    assert(session_cookie(s, VINTED_COOKIE_ANON, value, sizeof(value)) == -1);
    curl_easy_setopt(s->curl, CURLOPT_COOKIELIST,
                     ".vinted.pt\tTRUE\t/\tFALSE\t0\tanon_id\t6f1c-42");
    curl_easy_setopt(s->curl, CURLOPT_COOKIELIST,
                     "#HttpOnly_.vinted.pt\tTRUE\t/\tTRUE\t0\taccess_token_web\teyJ.x.y");
    assert(session_cookie(s, VINTED_COOKIE_ANON, value, sizeof(value)) == 0);
    assert(strcmp(value, "6f1c-42") == 0);
    assert(session_cookie(s, VINTED_COOKIE_ACCESS, value, sizeof(value)) == 0);
    assert(strcmp(value, "eyJ.x.y") == 0);
    assert(session_cookie(s, "anon", value, sizeof(value)) == -1); /* whole names only */
    session_drop(s);
    assert(session_cookie(s, VINTED_COOKIE_ANON, value, sizeof(value)) == -1);

    /* every request takes a token; a refused connection is a response with status 0 */
    session_resp_t resp = { 0 };
    assert(session_open(s, &resp) == 0);
    assert(state.tokens == 1 && resp.status == 0 && resp.error[0] && !session_is_open(s));
    assert(session_get(s, "http://127.0.0.1:1/svc-catalogue/items", VINTED_REQ_CATALOG, &resp) == 0);
    assert(state.tokens == 2 && resp.status == 0 && resp.body == NULL);
    /* no token, no request */
    state.refuse = true;
    assert(session_get(s, "http://127.0.0.1:1/svc-catalogue/items", VINTED_REQ_CATALOG, &resp) == -1);
    assert(state.tokens == 3);
    assert(session_sleep(s, 5) == -1 && state.sleeps == 1);
    state.refuse = false;
    assert(session_sleep(s, 5) == 0 && state.slept_ms == 10);
    assert(session_sleep(s, 0) == 0 && state.sleeps == 3);
    session_resp_reset(&resp);
    session_destroy(&s);
    assert(s == NULL);

    /* two identities: each token names one; cookies and the open state are its own */
    proxies_t *px = calloc(1, sizeof *px);
    assert(px && proxies_parse("http://127.0.0.1:1,http://127.0.0.1:2", px, err, sizeof err) == 0);
    s = session_new(v, 2000, &gate, px);
    assert(s && session_identity(s) == 0);
    curl_easy_setopt(s->curl, CURLOPT_COOKIELIST, ".vinted.pt\tTRUE\t/\tFALSE\t0\tanon_id\tfirst");
    s->ident[0].open = true;
    bool home;
    state.identity = 1;
    assert(session_request(s, "http://127.0.0.1:1/x", VINTED_REQ_CATALOG, &resp, &home) == 0);
    assert(session_identity(s) == 1 && home && resp.status == 0); /* identity 1 has no session: home page */
    assert(session_cookie(s, VINTED_COOKIE_ANON, value, sizeof(value)) == -1);
    state.identity = 0;
    assert(session_request(s, "http://127.0.0.1:1/x", VINTED_REQ_CATALOG, &resp, &home) == 0);
    assert(session_identity(s) == 0 && !home && session_is_open(s));
    assert(session_cookie(s, VINTED_COOKIE_ANON, value, sizeof(value)) == 0 && strcmp(value, "first") == 0);
    state.identity = 5; /* the broker has more identities than this fetcher: an error, not a crash */
    assert(session_request(s, "http://127.0.0.1:1/x", VINTED_REQ_CATALOG, &resp, &home) == 0);
    assert(resp.status == 0 && strstr(resp.error, "VINTED_PROXIES"));
    session_resp_reset(&resp);
    session_destroy(&s);
    free(px);
    redact_clear();
    vinted_destroy(&v);
    if (verbose)
        printf("OK\n");
}
