/*  objstore_s3.c - the s3:// back end of objstore_s3.h, spoken with libcurl:
    requests signed by libcurl's own AWS SigV4 support, URLs encoded and payload
    hashes computed as SigV4 wants them by objstore_sigv4.c, XML answers read by
    objstore_s3_xml.c.

    Path-style URLs {endpoint}/{bucket}/{prefix}/{key}, one CURL easy handle per
    store (connection reuse; set up with the options the HTTP clients share,
    common/curlsetup.h), retries with exponential back-off and jitter on
    network errors, 429 and 5xx.
*/
#include "common/objstore_s3.h"

#include <assert.h>
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include <curl/curl.h>

#include "common/clock.h"
#include "common/curlsetup.h"
#include "common/log.h"
#include "common/objstore_buf.h"
#include "common/objstore_s3_xml.h"
#include "common/objstore_sigv4.h"

#define OBJSTORE_ATTEMPTS 4        /* tries per S3 request */
#define OBJSTORE_BACKOFF_MS 100    /* first back-off; doubles, with jitter 0.5x..1.5x */
#define OBJSTORE_LOW_SPEED_S 30    /* abort a transfer slower than 1 KB/s for this long */

typedef struct {
    char *description;
    char *bucket;
    char *prefix;        /* "" or "a/b" (no leading or trailing "/") */
    char *endpoint;      /* "https://host[:port][/path]" without trailing "/" */
    char *region;
    char *access_key;
    char *secret_key;
    char *session_token; /* AWS_SESSION_TOKEN, or NULL */
    char *sigv4;         /* "aws:amz:<region>:s3" */
    CURL *curl;
    unsigned int seed;   /* back-off jitter */
} objstore_s3_t;

/* ------------------------------------------------------------------------- */
/* open and close */

static int s_s3_open(void *impl, const char *rest, const objstore_env_t *env, char *err, size_t errlen)
{
    objstore_s3_t *self = impl;
    const char *slash = strchr(rest, '/');
    size_t bn = slash ? (size_t) (slash - rest) : strlen(rest);
    if (bn < 3 || bn > 63)
        return objstore_backend_fail(err, errlen,
                                     "S3 store URL needs a bucket name of 3 to 63 characters, as in s3://bucket/prefix "
                                     "(got s3://%s)",
                                     rest);
    for (size_t i = 0; i < bn; i++) {
        char c = rest[i];
        bool edge = i == 0 || i == bn - 1;
        if (!(islower((unsigned char) c) || isdigit((unsigned char) c) || (!edge && (c == '-' || c == '.'))))
            return objstore_backend_fail(err, errlen,
                                         "bad S3 bucket name \"%.*s\": lower-case letters, digits, '-' and '.' only, "
                                         "starting and ending with a letter or digit",
                                         (int) bn, rest);
    }
    self->bucket = strndup(rest, bn);
    const char *prefix = slash ? slash + 1 : "";
    size_t pn = strlen(prefix);
    while (pn > 0 && prefix[pn - 1] == '/')
        pn--;
    self->prefix = strndup(prefix, pn);
    if (!self->bucket || !self->prefix)
        return objstore_backend_fail(err, errlen, "out of memory");
    if (pn > 0 && objstore_backend_check_key(self->prefix, false, err, errlen))
        return -1;

    if (!env->access_key || !*env->access_key)
        return objstore_backend_fail(err, errlen, "an s3:// store needs AWS_ACCESS_KEY_ID (not set)");
    if (!env->secret_key || !*env->secret_key)
        return objstore_backend_fail(err, errlen, "an s3:// store needs AWS_SECRET_ACCESS_KEY (not set)");
    const char *region = env->region && *env->region ? env->region : "us-east-1";
    for (const char *c = region; *c; c++)
        if (!(islower((unsigned char) *c) || isdigit((unsigned char) *c) || *c == '-'))
            return objstore_backend_fail(err, errlen, "bad AWS_REGION \"%s\": lower-case letters, digits and '-' only",
                                         region);
    self->region = strdup(region);
    self->access_key = strdup(env->access_key);
    self->secret_key = strdup(env->secret_key);
    if (env->session_token && *env->session_token)
        self->session_token = strdup(env->session_token);
    if (!self->region || !self->access_key || !self->secret_key
        || (env->session_token && *env->session_token && !self->session_token))
        return objstore_backend_fail(err, errlen, "out of memory");

    if (env->endpoint && *env->endpoint)
        self->endpoint = strdup(env->endpoint);
    else if (asprintf(&self->endpoint, "https://s3.%s.amazonaws.com", region) < 0)
        self->endpoint = NULL;
    if (!self->endpoint)
        return objstore_backend_fail(err, errlen, "out of memory");
    size_t en = strlen(self->endpoint);
    while (en > 0 && self->endpoint[en - 1] == '/')
        self->endpoint[--en] = '\0';
    const char *host = objstore_backend_starts_with(self->endpoint, "http://")    ? self->endpoint + 7
                       : objstore_backend_starts_with(self->endpoint, "https://") ? self->endpoint + 8
                                                                                  : NULL;
    if (!host || !*host || *host == '/')
        return objstore_backend_fail(err, errlen,
                                     "bad VINTED_S3_ENDPOINT \"%s\": want http://host[:port] or https://host[:port]",
                                     self->endpoint);
    if (strpbrk(self->endpoint, "?#@ "))
        return objstore_backend_fail(err, errlen, "bad VINTED_S3_ENDPOINT \"%s\": no query, fragment, user or spaces",
                                     self->endpoint);
    if (asprintf(&self->sigv4, "aws:amz:%s:s3", region) < 0) {
        self->sigv4 = NULL;
        return objstore_backend_fail(err, errlen, "out of memory");
    }
    if (asprintf(&self->description, "s3://%s%s%s at %s", self->bucket, pn ? "/" : "", self->prefix,
                 self->endpoint) < 0) {
        self->description = NULL;
        return objstore_backend_fail(err, errlen, "out of memory");
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return objstore_backend_fail(err, errlen, "curl_global_init failed");
    self->curl = curl_easy_init();
    if (!self->curl)
        return objstore_backend_fail(err, errlen, "curl_easy_init failed");
    self->seed = (unsigned int) (clock_mono_ms() ^ (int64_t) getpid() ^ (int64_t) (uintptr_t) self);
    return 0;
}

static void s_s3_close(void *impl)
{
    objstore_s3_t *self = impl;
    if (self->curl)
        curl_easy_cleanup(self->curl);
    if (self->secret_key)
        memset(self->secret_key, 0, strlen(self->secret_key));
    free(self->description);
    free(self->bucket);
    free(self->prefix);
    free(self->endpoint);
    free(self->region);
    free(self->access_key);
    free(self->secret_key);
    free(self->session_token);
    free(self->sigv4);
}

static const char *s_s3_describe(void *impl)
{
    return ((objstore_s3_t *) impl)->description;
}

/* ------------------------------------------------------------------------- */
/* requests (the operations take the store as the table's void *, which converts
   to objstore_s3_t * where it is passed on) */

typedef struct {
    const char *data;
    size_t len;
    size_t pos;
} s_upload_t;

static size_t s_on_read(char *buf, size_t size, size_t nitems, void *arg)
{
    s_upload_t *up = arg;
    size_t n = size * nitems;
    if (n > up->len - up->pos)
        n = up->len - up->pos;
    if (n)
        memcpy(buf, up->data + up->pos, n);
    up->pos += n;
    return n;
}

static int s_on_seek(void *arg, curl_off_t offset, int origin)
{
    s_upload_t *up = arg;
    curl_off_t base = origin == SEEK_SET ? 0 : origin == SEEK_CUR ? (curl_off_t) up->pos : (curl_off_t) up->len;
    if (base + offset < 0 || base + offset > (curl_off_t) up->len)
        return CURL_SEEKFUNC_FAIL;
    up->pos = (size_t) (base + offset);
    return CURL_SEEKFUNC_OK;
}

static size_t s_on_write(char *data, size_t size, size_t nmemb, void *arg)
{
    size_t n = size * nmemb;
    return objstore_buf_add(arg, data, n) == 0 ? n : 0;
}

/* The URL of key (NULL: of the bucket itself) into b. */
static int s_s3_url(objstore_s3_t *self, const char *key, objstore_buf_t *b)
{
    if (objstore_buf_str(b, self->endpoint) || objstore_buf_str(b, "/")
        || objstore_sigv4_encode(b, self->bucket, false))
        return -1;
    if (!key)
        return 0;
    if (objstore_buf_str(b, "/"))
        return -1;
    if (*self->prefix && (objstore_sigv4_encode(b, self->prefix, true) || objstore_buf_str(b, "/")))
        return -1;
    return objstore_sigv4_encode(b, key, true);
}

/* The ListObjectsV2 URL, its query parameters sorted by name and encoded as SigV4's
   canonical query string wants them (so any signer agrees with what is sent). */
static int s_s3_list_url(objstore_s3_t *self, const char *prefix, const char *start_after, const char *token,
                         objstore_buf_t *b)
{
    if (s_s3_url(self, NULL, b))
        return -1;
    int rc = 0;
    if (token && *token)
        rc |= objstore_buf_str(b, "?continuation-token=") | objstore_sigv4_encode(b, token, false);
    rc |= objstore_buf_str(b, token && *token ? "&list-type=2" : "?list-type=2");
    if (prefix && *prefix)
        rc |= objstore_buf_str(b, "&prefix=") | objstore_sigv4_encode(b, prefix, false);
    if (start_after && *start_after)
        rc |= objstore_buf_str(b, "&start-after=") | objstore_sigv4_encode(b, start_after, false);
    return rc ? -1 : 0;
}

/* The store's full key for key: "prefix/key" or key. */
static char *s_s3_full(objstore_s3_t *self, const char *key)
{
    char *full = NULL;
    if (asprintf(&full, "%s%s%s", self->prefix, *self->prefix ? "/" : "", key ? key : "") < 0)
        return NULL;
    return full;
}

typedef struct {
    long status;
    objstore_buf_t body;
    int64_t length; /* Content-Length of a HEAD answer, -1 unknown */
} s_resp_t;

static bool s_curl_retryable(CURLcode code)
{
    switch (code) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
        return true;
    default:
        return false;
    }
}

/* One S3 request with retries. method: "PUT", "GET" or "HEAD". 0 with resp->status
   for any answer that is not worth retrying; -1 with a reason (after the attempts)
   on network errors and 429/5xx. what names the operation in messages. */
static int s_s3_request(objstore_s3_t *self, const char *method, const char *url, const void *body, size_t len,
                        const char *content_type, const char *what, s_resp_t *resp, char *err, size_t errlen)
{
    char sha[65];
    if (objstore_sigv4_sha256_hex(body, len, sha))
        return objstore_backend_fail(err, errlen, "%s: SHA-256 failed", what);
    char h_sha[100], h_type[300], h_token[4096];
    snprintf(h_sha, sizeof h_sha, "x-amz-content-sha256: %s", sha);
    struct curl_slist *headers = NULL, *h;
    bool put = strcmp(method, "PUT") == 0;
    bool ok = (h = curl_slist_append(headers, h_sha)) != NULL;
    headers = ok ? h : headers;
    if (ok && put) {
        snprintf(h_type, sizeof h_type, "Content-Type: %s",
                 content_type && *content_type ? content_type : "application/octet-stream");
        ok = (h = curl_slist_append(headers, h_type)) != NULL;
        headers = ok ? h : headers;
        /* Not "Expect:" here to turn 100-continue off: libcurl 7.88 would list
           "expect" in SignedHeaders though it sends no such header, and S3 would
           then compute another signature. libcurl's own Expect is not signed. */
    }
    if (ok && self->session_token) {
        if (strlen(self->session_token) > sizeof h_token - 32) {
            curl_slist_free_all(headers);
            return objstore_backend_fail(err, errlen, "AWS_SESSION_TOKEN is too long");
        }
        snprintf(h_token, sizeof h_token, "x-amz-security-token: %s", self->session_token);
        ok = (h = curl_slist_append(headers, h_token)) != NULL;
        headers = ok ? h : headers;
    }
    if (!ok) {
        curl_slist_free_all(headers);
        return objstore_backend_fail(err, errlen, "out of memory");
    }

    int64_t started = clock_mono_ms();
    int64_t delay = OBJSTORE_BACKOFF_MS;
    char last[512] = "";
    int attempt;
    int rc = -1;
    for (attempt = 1; attempt <= OBJSTORE_ATTEMPTS; attempt++) {
        CURL *c = self->curl;
        char curl_err[CURL_ERROR_SIZE] = "";
        s_upload_t up = { body, len, 0 };
        objstore_buf_free(&resp->body);
        resp->status = 0;
        resp->length = -1;
        curl_easy_reset(c); /* keeps the connection cache */
        /* no bound on a whole request (an object may be large), connecting
           CURLSETUP_CONNECT_MAX_MS, no header or progress callback */
        (void) curlsetup_handle(c, 0, s_on_write, NULL, &resp->body, NULL, curl_err);
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_USERAGENT, "vinted-pipeline-objstore/1");
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1024L);
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, (long) OBJSTORE_LOW_SPEED_S);
        curl_easy_setopt(c, CURLOPT_AWS_SIGV4, self->sigv4);
        curl_easy_setopt(c, CURLOPT_USERNAME, self->access_key);
        curl_easy_setopt(c, CURLOPT_PASSWORD, self->secret_key);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
        if (put) {
            curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
            curl_easy_setopt(c, CURLOPT_READFUNCTION, s_on_read);
            curl_easy_setopt(c, CURLOPT_READDATA, &up);
            curl_easy_setopt(c, CURLOPT_SEEKFUNCTION, s_on_seek);
            curl_easy_setopt(c, CURLOPT_SEEKDATA, &up);
            curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t) len);
        }
        else if (strcmp(method, "HEAD") == 0)
            curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
        else
            curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);

        CURLcode code = curl_easy_perform(c);
        bool retry;
        if (code != CURLE_OK) {
            snprintf(last, sizeof last, "%s%s%s%s", curl_easy_strerror(code), *curl_err ? " (" : "", curl_err,
                     *curl_err ? ")" : "");
            retry = s_curl_retryable(code);
        }
        else {
            curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
            curl_off_t cl = -1;
            if (curl_easy_getinfo(c, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl) == CURLE_OK)
                resp->length = (int64_t) cl;
            char text[300];
            objstore_s3_xml_error_text(&resp->body, text, sizeof text);
            snprintf(last, sizeof last, "HTTP %ld%s", resp->status, text);
            retry = resp->status == 429 || resp->status >= 500
                    || (resp->status == 400 && objstore_s3_xml_error_is(&resp->body, "RequestTimeout"));
            if (!retry) {
                rc = 0;
                break;
            }
        }
        if (!retry)
            break;
        if (attempt < OBJSTORE_ATTEMPTS) {
            /* jitter in [0.5, 1.5) of the delay */
            int64_t sleep_ms = delay / 2 + (int64_t) (rand_r(&self->seed) % (unsigned int) (delay > 0 ? delay : 1));
            log_warn("objstore: retrying", "op=%s attempt=%d error=%s sleep_ms=%" PRId64, log_str(what), attempt,
                     log_str(last), sleep_ms);
            clock_sleep_ms(sleep_ms);
            delay *= 2;
        }
    }
    curl_slist_free_all(headers);
    if (rc != 0) {
        int tried = attempt > OBJSTORE_ATTEMPTS ? OBJSTORE_ATTEMPTS : attempt;
        objstore_backend_fail(err, errlen, "%s: %s (%d attempt%s over %.1f s%s)", what, last, tried,
                              tried == 1 ? "" : "s", (double) (clock_mono_ms() - started) / 1000.0,
                              tried == 1 ? ", not retryable" : "");
    }
    return rc;
}

/* The reason for an unexpected answer. */
static int s_s3_unexpected(const char *what, s_resp_t *resp, char *err, size_t errlen)
{
    char text[300];
    objstore_s3_xml_error_text(&resp->body, text, sizeof text);
    const char *hint = resp->status == 403 ? " (check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_REGION)"
                       : resp->status == 301 ? " (the bucket lives in another region: check AWS_REGION)"
                                             : "";
    return objstore_backend_fail(err, errlen, "%s: HTTP %ld%s%s", what, resp->status, text, hint);
}

/* One request on one key: what is "METHOD key" for errors; 0 with *resp filled, or -1. */
static int s_s3_key_request(objstore_s3_t *self, const char *method, const char *key, const void *body, size_t len,
                            const char *content_type, char *what, size_t whatsize, s_resp_t *resp, char *err,
                            size_t errlen)
{
    objstore_buf_t url = { 0 };
    snprintf(what, whatsize, "%s %.160s", method, key);
    int rc = s_s3_url(self, key, &url) ? objstore_backend_fail(err, errlen, "out of memory")
                                       : s_s3_request(self, method, url.data, body, len, content_type, what, resp,
                                                      err, errlen);
    objstore_buf_free(&url);
    return rc;
}

static int s_s3_put(void *self, const char *key, const void *data, size_t len, const char *content_type, char *err,
                    size_t errlen)
{
    s_resp_t resp = { 0 };
    char what[200];
    int rc = s_s3_key_request(self, "PUT", key, data, len, content_type, what, sizeof what, &resp, err, errlen);
    if (rc == 0 && (resp.status < 200 || resp.status > 299))
        rc = s_s3_unexpected(what, &resp, err, errlen);
    objstore_buf_free(&resp.body);
    return rc;
}

static int s_s3_get(void *self, const char *key, uint8_t **data, size_t *len, char *err, size_t errlen)
{
    s_resp_t resp = { 0 };
    char what[200];
    int rc = s_s3_key_request(self, "GET", key, NULL, 0, NULL, what, sizeof what, &resp, err, errlen);
    if (rc == 0) {
        if (resp.status == 404 && !objstore_s3_xml_error_is(&resp.body, "NoSuchBucket"))
            rc = 1;
        else if (resp.status != 200)
            rc = s_s3_unexpected(what, &resp, err, errlen);
        else if (!resp.body.data && objstore_buf_add(&resp.body, "", 0))
            rc = objstore_backend_fail(err, errlen, "out of memory");
        else {
            *data = (uint8_t *) resp.body.data;
            *len = resp.body.len;
            resp.body.data = NULL;
        }
    }
    objstore_buf_free(&resp.body);
    return rc;
}

static int s_s3_exists(void *self, const char *key, int64_t *size, char *err, size_t errlen)
{
    s_resp_t resp = { 0 };
    char what[200];
    int rc = s_s3_key_request(self, "HEAD", key, NULL, 0, NULL, what, sizeof what, &resp, err, errlen);
    if (rc == 0) {
        if (resp.status == 200) {
            rc = 1;
            if (size)
                *size = resp.length;
        }
        else if (resp.status == 404)
            rc = 0;
        else
            rc = s_s3_unexpected(what, &resp, err, errlen);
    }
    objstore_buf_free(&resp.body);
    return rc;
}

static int s_s3_list(void *self, const char *prefix, const char *start_after,
                     int (*fn)(void *arg, const char *key, int64_t size), void *arg, char *err, size_t errlen)
{
    char *full_prefix = s_s3_full(self, prefix);
    char *full_after = start_after ? s_s3_full(self, start_after) : NULL;
    char *strip = s_s3_full(self, ""); /* "prefix/" or "" */
    char *token = NULL;
    int rc = !full_prefix || !strip || (start_after && !full_after)
                 ? objstore_backend_fail(err, errlen, "out of memory")
                 : 0;
    char what[200];
    snprintf(what, sizeof what, "LIST %.160s", prefix ? prefix : "");
    bool stop = false;
    int pages = 0;
    while (rc == 0 && !stop) {
        objstore_buf_t url = { 0 };
        s_resp_t resp = { 0 };
        /* start-after only on the first page: the token carries the position after it */
        if (s_s3_list_url(self, full_prefix, pages == 0 ? full_after : NULL, token, &url))
            rc = objstore_backend_fail(err, errlen, "out of memory");
        else
            rc = s_s3_request(self, "GET", url.data, NULL, 0, NULL, what, &resp, err, errlen);
        if (rc == 0 && resp.status != 200)
            rc = s_s3_unexpected(what, &resp, err, errlen);
        objstore_s3_xml_page_t page = { 0 };
        if (rc == 0
            && objstore_s3_xml_list_parse(resp.body.data ? resp.body.data : "", resp.body.len, &page, err, errlen))
            rc = -1;
        pages++;
        size_t sn = strlen(strip);
        for (size_t i = 0; rc == 0 && !stop && i < page.entries.n; i++) {
            const char *key = page.entries.v[i].key;
            if (strncmp(key, strip, sn) != 0)
                rc = objstore_backend_fail(err, errlen, "%s: the server listed \"%.200s\", outside the prefix", what,
                                           key);
            else if (fn(arg, key + sn, page.entries.v[i].size) != 0)
                stop = true;
        }
        if (rc == 0 && !page.truncated)
            stop = true;
        if (rc == 0 && !stop) {
            if (token && strcmp(token, page.next_token) == 0)
                rc = objstore_backend_fail(err, errlen, "%s: the server repeated continuation token", what);
            free(token);
            token = page.next_token;
            page.next_token = NULL;
        }
        objstore_s3_xml_page_free(&page);
        objstore_buf_free(&url);
        objstore_buf_free(&resp.body);
    }
    free(token);
    free(full_prefix);
    free(full_after);
    free(strip);
    return rc;
}

const objstore_backend_t objstore_s3_backend = { .scheme = "s3://", .size = sizeof(objstore_s3_t),
    .open = s_s3_open, .close = s_s3_close, .put = s_s3_put, .get = s_s3_get, .exists = s_s3_exists,
    .list = s_s3_list, .describe = s_s3_describe };

/* ------------------------------------------------------------------------- */
/* self-test */

/* A store made as objstore.c makes one, for the self-test to look inside; NULL
   when open fails. */
static objstore_s3_t *s_test_new(const char *rest, const objstore_env_t *env, char *err, size_t errlen)
{
    objstore_s3_t *self = calloc(1, sizeof *self);
    assert(self);
    if (s_s3_open(self, rest, env, err, errlen) != 0) {
        s_s3_close(self);
        free(self);
        return NULL;
    }
    return self;
}

static void s_test_destroy(objstore_s3_t **self_p)
{
    s_s3_close(*self_p);
    free(*self_p);
    *self_p = NULL;
}

void objstore_s3_test(bool verbose)
{
    (void) verbose;
    char err[512];
    objstore_env_t env = { .access_key = "AKIDEXAMPLE", .secret_key = "secret/Key+1", .region = NULL,
                           .endpoint = "http://127.0.0.1:4568/" };
    objstore_env_t noid = env;
    noid.access_key = "";
    assert(s_test_new("vinted/raw", &noid, err, sizeof err) == NULL && strstr(err, "AWS_ACCESS_KEY_ID"));
    objstore_env_t nosecret = env;
    nosecret.secret_key = NULL;
    assert(s_test_new("vinted/raw", &nosecret, err, sizeof err) == NULL && strstr(err, "AWS_SECRET_ACCESS_KEY"));
    objstore_env_t badend = env;
    badend.endpoint = "ftp://host";
    assert(s_test_new("vinted", &badend, err, sizeof err) == NULL && strstr(err, "VINTED_S3_ENDPOINT"));
    objstore_env_t badregion = env;
    badregion.region = "EU West";
    assert(s_test_new("vinted", &badregion, err, sizeof err) == NULL && strstr(err, "AWS_REGION"));

    /* defaults: us-east-1 and its AWS endpoint */
    objstore_env_t aws = env;
    aws.endpoint = NULL;
    objstore_s3_t *s = s_test_new("my.bucket-1/", &aws, err, sizeof err);
    assert(s);
    assert(strcmp(s_s3_describe(s), "s3://my.bucket-1 at https://s3.us-east-1.amazonaws.com") == 0);
    assert(strcmp(s->sigv4, "aws:amz:us-east-1:s3") == 0 && strcmp(s->prefix, "") == 0);
    objstore_buf_t b = { 0 };
    assert(s_s3_url(s, "a b/c", &b) == 0 && strcmp(b.data, "https://s3.us-east-1.amazonaws.com/my.bucket-1/a%20b/c") == 0);
    objstore_buf_free(&b);
    s_test_destroy(&s);
    /* the secret never shows in the description */
    s = s_test_new("vinted/raw/area/", &env, err, sizeof err);
    assert(s);
    assert(strcmp(s_s3_describe(s), "s3://vinted/raw/area at http://127.0.0.1:4568") == 0);
    assert(!strstr(s_s3_describe(s), "secret") && !strstr(s_s3_describe(s), "AKID"));

    /* object URLs: RFC 3986 unreserved kept, "/" kept, UTF-8 bytes and the rest %XX */
    assert(s_s3_url(s, "img/ü +&=~_-.x(1)*'!$,;:@", &b) == 0);
    assert(strcmp(b.data, "http://127.0.0.1:4568/vinted/raw/area/img/%C3%BC%20%2B%26%3D~_-.x%281%29%2A%27%21%24%2C%3B%3A%40")
           == 0);
    objstore_buf_free(&b);
    /* list URLs: parameters sorted by name, "/" encoded in values */
    assert(s_s3_list_url(s, "raw/area/a b/", "raw/area/a b/x+y", NULL, &b) == 0);
    assert(strcmp(b.data, "http://127.0.0.1:4568/vinted?list-type=2&prefix=raw%2Farea%2Fa%20b%2F"
                          "&start-after=raw%2Farea%2Fa%20b%2Fx%2By") == 0);
    objstore_buf_free(&b);
    assert(s_s3_list_url(s, "", NULL, "1/Ab+c==", &b) == 0);
    assert(strcmp(b.data, "http://127.0.0.1:4568/vinted?continuation-token=1%2FAb%2Bc%3D%3D&list-type=2") == 0);
    objstore_buf_free(&b);
    char *full = s_s3_full(s, "k");
    assert(strcmp(full, "raw/area/k") == 0);
    free(full);
    s_test_destroy(&s);
}
