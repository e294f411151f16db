/*  curlsetup.c - the shared libcurl easy-handle settings (see curlsetup.h). */
#include "common/curlsetup.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/httpstub.h"

static int s_on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
                         curl_off_t ulnow)
{
    (void) dltotal, (void) dlnow, (void) ultotal, (void) ulnow;
    curlsetup_pump_t *pump = arg;
    int64_t now = clock_mono_ms();
    if (now - pump->last_ms < CURLSETUP_PUMP_MS)
        return 0;
    pump->last_ms = now;
    if (pump->pump && pump->pump(pump->ctx) != 0) {
        pump->abandoned = true;
        return 1; /* aborts the transfer */
    }
    return 0;
}

CURLcode curlsetup_handle(CURL *c, int64_t timeout_ms, curl_write_callback on_body,
                          curl_write_callback on_header, void *ctx, curlsetup_pump_t *pump, char *errbuf)
{
    CURLcode rc = CURLE_OK;
    rc |= curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    if (timeout_ms > 0)
        rc |= curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long) timeout_ms);
    rc |= curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                           (long) (timeout_ms > 0 && timeout_ms < CURLSETUP_CONNECT_MAX_MS
                                       ? timeout_ms
                                       : CURLSETUP_CONNECT_MAX_MS));
    rc |= curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    rc |= curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    rc |= curl_easy_setopt(c, CURLOPT_WRITEDATA, ctx);
    if (on_header) {
        rc |= curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
        rc |= curl_easy_setopt(c, CURLOPT_HEADERDATA, ctx);
    }
    if (pump) {
        rc |= curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
        rc |= curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, s_on_progress);
        rc |= curl_easy_setopt(c, CURLOPT_XFERINFODATA, pump);
    }
    rc |= curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    return rc;
}

void curlsetup_pump_start(curlsetup_pump_t *pump, int64_t now_ms)
{
    pump->abandoned = false;
    pump->last_ms = now_ms;
}

void *curlsetup_grow(void *buf, size_t *cap, size_t need)
{
    if (need <= *cap)
        return buf;
    size_t grown_cap = *cap ? *cap : 64 * 1024;
    while (grown_cap < need)
        grown_cap *= 2;
    void *grown = realloc(buf, grown_cap);
    if (grown)
        *cap = grown_cap;
    return grown;
}

size_t curlsetup_body_add(curlsetup_body_t *body, const char *data, size_t n)
{
    if (body->len + n > body->max) {
        body->too_large = true;
        return 0;
    }
    char *grown = curlsetup_grow(body->data, &body->cap, body->len + n + 1); /* and the NUL */
    if (!grown)
        return 0;
    body->data = grown;
    memcpy(body->data + body->len, data, n);
    body->len += n;
    body->data[body->len] = '\0';
    return n;
}

/* --------------------------------------------------------------------------- */

typedef struct {
    char body[64];
    size_t len;
    int headers;
    int pumps;
    int fail_at; /* the pump fails from this call on (0: never) */
} s_test_t;

static size_t s_test_body(char *data, size_t size, size_t nmemb, void *arg)
{
    s_test_t *t = arg;
    size_t n = size * nmemb;
    if (t->len + n >= sizeof(t->body))
        return 0;
    memcpy(t->body + t->len, data, n);
    t->len += n;
    t->body[t->len] = '\0';
    return n;
}

static size_t s_test_header(char *data, size_t size, size_t nmemb, void *arg)
{
    (void) data;
    s_test_t *t = arg;
    t->headers++;
    return size * nmemb;
}

static int s_test_pump(void *ctx)
{
    s_test_t *t = ctx;
    t->pumps++;
    return t->fail_at > 0 && t->pumps >= t->fail_at ? -1 : 0;
}

void curlsetup_test(bool verbose)
{
    if (verbose)
        printf(" * curlsetup: ");
    httpstub_t *stub = httpstub_new();
    assert(stub);
    char url[64], errbuf[CURL_ERROR_SIZE];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/x", httpstub_port(stub));
    s_test_t t = { .fail_at = 0 };
    curlsetup_pump_t pump = { s_test_pump, &t, 0, false };
    CURL *c = curl_easy_init();
    assert(c);
    assert(curlsetup_handle(c, 5000, s_test_body, s_test_header, &t, &pump, errbuf) == CURLE_OK);
    assert(curl_easy_setopt(c, CURLOPT_URL, url) == CURLE_OK);

    /* a plain answer: the body and the headers reach the callbacks */
    const httpstub_reply_t ok = httpstub_text(200, "X-Test: 1\r\n", "hello");
    httpstub_script(stub, &ok, 1);
    curlsetup_pump_start(&pump, clock_mono_ms());
    assert(curl_easy_perform(c) == CURLE_OK && !pump.abandoned);
    assert(t.len == 5 && strcmp(t.body, "hello") == 0 && t.headers >= 4);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    assert(status == 200 && httpstub_served(stub) == 1);

    /* the gate fails at its first pump (due at once): the transfer is abandoned */
    t = (s_test_t) { .fail_at = 1 };
    httpstub_script(stub, &ok, 1);
    curlsetup_pump_start(&pump, clock_mono_ms() - CURLSETUP_PUMP_MS);
    assert(curl_easy_perform(c) == CURLE_ABORTED_BY_CALLBACK);
    assert(pump.abandoned && t.pumps == 1);
    /* ... and the next transfer starts afresh */
    t = (s_test_t) { .fail_at = 0 };
    httpstub_script(stub, &ok, 1);
    curlsetup_pump_start(&pump, clock_mono_ms());
    assert(curl_easy_perform(c) == CURLE_OK && !pump.abandoned && t.len == 5);

    /* nothing listening: curl's error text lands in errbuf */
    snprintf(url, sizeof(url), "http://127.0.0.1:1/x");
    assert(curl_easy_setopt(c, CURLOPT_URL, url) == CURLE_OK);
    errbuf[0] = '\0';
    curlsetup_pump_start(&pump, clock_mono_ms());
    assert(curl_easy_perform(c) == CURLE_COULDNT_CONNECT && errbuf[0] != '\0');
    /* only http and https */
    assert(curl_easy_setopt(c, CURLOPT_URL, "file:///etc/hostname") == CURLE_OK);
    assert(curl_easy_perform(c) == CURLE_UNSUPPORTED_PROTOCOL);

    curl_easy_cleanup(c);
    httpstub_destroy(&stub);

    /* the body buffer: kept while it is large enough, else doubled from 64 KiB */
    size_t cap = 0;
    char *buf = curlsetup_grow(NULL, &cap, 10);
    assert(buf && cap == 64 * 1024);
    assert(curlsetup_grow(buf, &cap, 64 * 1024) == buf && cap == 64 * 1024);
    buf = curlsetup_grow(buf, &cap, 64 * 1024 * 3 + 1);
    assert(buf && cap == 64 * 1024 * 4);
    free(buf);

    /* the body of a transfer: NUL-terminated, refused past its max */
    curlsetup_body_t body = { .max = 8 };
    assert(curlsetup_body_add(&body, "abc", 3) == 3 && body.len == 3 && strcmp(body.data, "abc") == 0);
    assert(body.cap == 64 * 1024 && !body.too_large);
    assert(curlsetup_body_add(&body, "defgh", 5) == 5 && strcmp(body.data, "abcdefgh") == 0);
    assert(curlsetup_body_add(&body, "i", 1) == 0 && body.too_large && body.len == 8);
    free(body.data);
    if (verbose)
        printf("OK\n");
}
