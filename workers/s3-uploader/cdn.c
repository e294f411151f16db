/*  cdn.c - photo downloads from the image CDN (see cdn.h): the client, its
    libcurl handle and the retries of one download. The photo formats, URLs and
    hashes are cdn_format.c's.
*/
#include "workers/s3-uploader/cdn.h"

#include <assert.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <curl/curl.h>

#include "common/backoff.h"
#include "common/clock.h"
#include "common/curlsetup.h"
#include "common/log.h"
#include "common/httpstub.h"
#include "workers/s3-uploader/cdn_internal.h"

#define CDN_BASE_MAX 256

struct _cdn_t {
    char base[CDN_BASE_MAX]; /* "" = URLs as they are */
    cdn_settings_t settings;
    cdn_gate_t gate;
    CURL *curl;
    uint64_t rng; /* backoff jitter */
    /* the transfer in progress */
    curlsetup_body_t body; /* the photo's bytes while they come */
    curlsetup_pump_t pump; /* the gate's pump, pumped during a transfer */
    char retry_after[64];
    char errbuf[CURL_ERROR_SIZE];
};

const char *cdn_result_name(cdn_result_t result)
{
    switch (result) {
    case CDN_OK: return "ok";
    case CDN_RETRY: return "retry";
    case CDN_PERMANENT: return "permanent";
    case CDN_ABANDONED: return "abandoned";
    default: return "unknown";
    }
}

static size_t s_on_body(char *data, size_t size, size_t nmemb, void *arg)
{
    return curlsetup_body_add(&((cdn_t *) arg)->body, data, size * nmemb);
}

static size_t s_on_header(char *data, size_t size, size_t nmemb, void *arg)
{
    cdn_t *self = arg;
    size_t n = size * nmemb;
    if (n >= 5 && strncmp(data, "HTTP/", 5) == 0)
        self->retry_after[0] = '\0';
    else if (n > 12 && strncasecmp(data, "Retry-After:", 12) == 0) {
        const char *v = data + 12;
        size_t len = n - 12;
        while (len > 0 && (*v == ' ' || *v == '\t'))
            v++, len--;
        while (len > 0 && (v[len - 1] == '\r' || v[len - 1] == '\n' || v[len - 1] == ' '))
            len--;
        if (len >= sizeof(self->retry_after))
            len = sizeof(self->retry_after) - 1;
        memcpy(self->retry_after, v, len);
        self->retry_after[len] = '\0';
    }
    return n;
}

/* The curl handle, made on the first download: a store stage that only lands and
   replays raw pages never initializes libcurl's TLS (2 MB of resident memory). */
static int s_handle(cdn_t *self, char *err, size_t errlen)
{
    if (self->curl)
        return 0;
    self->curl = curl_easy_init();
    if (!self->curl) {
        snprintf(err, errlen, "cannot create a curl handle");
        return -1;
    }
    CURL *c = self->curl;
    CURLcode rc = curlsetup_handle(c, self->settings.timeout_ms, s_on_body, s_on_header, self, &self->pump,
                                   self->errbuf);
    rc |= curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L); /* redirects are checked by hand */
    rc |= curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t) CDN_MAX_BYTES);
    rc |= curl_easy_setopt(c, CURLOPT_USERAGENT, CDN_USER_AGENT);
    if (rc != CURLE_OK) {
        snprintf(err, errlen, "curl setup failed: %s", curl_easy_strerror(rc));
        curl_easy_cleanup(self->curl);
        self->curl = NULL;
        return -1;
    }
    return 0;
}

cdn_t *cdn_new(const cdn_settings_t *settings, const cdn_gate_t *gate, char *err, size_t errlen)
{
    cdn_t *self = calloc(1, sizeof(*self));
    if (!self) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    const char *base = settings->base_url;
    if (base && *base) {
        size_t len = strlen(base);
        while (len > 0 && base[len - 1] == '/')
            len--;
        const char *host = cdn_url_host(base);
        if (!host || len >= CDN_BASE_MAX || (size_t) (host - base) >= len || !cdn_url_clean(base)
            || strpbrk(base, "?#")) {
            snprintf(err, errlen, "invalid CDN URL '%.200s' (want http(s)://host[:port])", base);
            free(self);
            return NULL;
        }
        memcpy(self->base, base, len);
        self->base[len] = '\0';
    }
    self->settings = *settings;
    self->settings.base_url = self->base;
    if (self->settings.timeout_ms <= 0)
        self->settings.timeout_ms = 30000;
    if (self->settings.retries < 0)
        self->settings.retries = 0;
    if (gate)
        self->gate = *gate;
    self->pump = (curlsetup_pump_t) { self->gate.pump, self->gate.ctx, 0, false };
    self->rng = backoff_seed();
    return self;
}

void cdn_destroy(cdn_t **self_p)
{
    if (self_p && *self_p) {
        if ((*self_p)->curl)
            curl_easy_cleanup((*self_p)->curl);
        free(*self_p);
        *self_p = NULL;
    }
}

void cdn_photo_reset(cdn_photo_t *photo)
{
    free(photo->data);
    memset(photo, 0, sizeof(*photo));
}

/* A Retry-After value (seconds or an HTTP date) in ms from now; -1 if absent or unreadable. */
static int64_t s_retry_after_ms(const char *text)
{
    int64_t ms;
    return backoff_retry_after_ms(text, clock_wall_ms(), &ms) == 0 ? ms : -1;
}

/* One GET of url into photo (data, len, status); the curl code. */
static CURLcode s_perform(cdn_t *self, const char *url, cdn_photo_t *photo)
{
    free(photo->data);
    photo->data = NULL;
    photo->len = 0;
    photo->status = 0;
    self->body = (curlsetup_body_t) { NULL, 0, 0, CDN_MAX_BYTES, false };
    self->retry_after[0] = '\0';
    self->errbuf[0] = '\0';
    curlsetup_pump_start(&self->pump, clock_mono_ms());
    struct curl_slist *headers =
        curl_slist_append(NULL, "Accept: image/avif,image/webp,image/apng,image/*,*/*;q=0.8");
    CURL *c = self->curl;
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
    CURLcode rc = curl_easy_perform(c);
    photo->data = (uint8_t *) self->body.data;
    photo->len = self->body.len;
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(headers);
    if (rc == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &photo->status);
    return rc;
}

/* The first bytes of a body, printable, for error messages. */
static void s_snippet(const cdn_photo_t *photo, char *buf, size_t size)
{
    size_t n = 0;
    for (size_t i = 0; i < photo->len && n + 1 < size && i < 120; i++) {
        unsigned char ch = photo->data[i];
        buf[n++] = (ch < 0x20 || ch >= 0x7f) ? '.' : (char) ch;
    }
    buf[n] = '\0';
}

/* The response's content type, parameters dropped, lower case; else from the bytes or URL. */
static void s_content_type(cdn_t *self, const char *url, cdn_photo_t *photo)
{
    char *ct = NULL;
    curl_easy_getinfo(self->curl, CURLINFO_CONTENT_TYPE, &ct);
    size_t len = ct ? strcspn(ct, "; \t") : 0;
    if (len >= sizeof(photo->content_type))
        len = 0;
    for (size_t i = 0; i < len; i++)
        photo->content_type[i] = (char) tolower((unsigned char) ct[i]);
    photo->content_type[len] = '\0';
    if (strncmp(photo->content_type, "image/", 6) == 0)
        return;
    /* missing, or a generic type over image bytes: name the format */
    const char *format = cdn_sniff(photo->data, photo->len);
    if (!format && len == 0)
        format = cdn_ext_from_url(url);
    if (format)
        snprintf(photo->content_type, sizeof(photo->content_type), "%s",
                 cdn_content_type_of_ext(format));
}

cdn_result_t cdn_fetch(cdn_t *self, const char *url, cdn_photo_t *photo)
{
    cdn_photo_reset(photo);
    photo->retry_after_ms = -1;
    if (cdn_rewrite(self->base, url, photo->url, sizeof(photo->url)) != 0) {
        snprintf(photo->error, sizeof(photo->error),
                 "not a usable photo URL (want an absolute http(s) URL): %.300s", url ? url : "");
        return CDN_PERMANENT;
    }
    char current[CDN_URL_MAX], reason[sizeof(photo->error)], snippet[130];
    if (s_handle(self, reason, sizeof reason) != 0) {
        snprintf(photo->error, sizeof(photo->error), "%s", reason);
        return CDN_RETRY;
    }
    snprintf(current, sizeof(current), "%s", photo->url);
    int transient = 0, redirects = 0;
    while (true) {
        photo->attempts++;
        CURLcode rc = s_perform(self, current, photo);
        if (self->pump.abandoned) {
            snprintf(photo->error, sizeof(photo->error), "abandoned: the broker is lost");
            return CDN_ABANDONED;
        }
        long status = photo->status;
        log_debug("cdn request", "url=%s status=%ld bytes=%zu curl=%d try=%d", log_str(current),
                  status, photo->len, (int) rc, photo->attempts);
        if (rc == CURLE_FILESIZE_EXCEEDED || self->body.too_large) {
            snprintf(photo->error, sizeof(photo->error), "photo larger than %d bytes at %.300s",
                     CDN_MAX_BYTES, current);
            return CDN_PERMANENT;
        }
        if (rc != CURLE_OK) {
            snprintf(reason, sizeof(reason), "%s%s%s%.200s on %.300s",
                     rc == CURLE_PARTIAL_FILE ? "truncated body: " : "", curl_easy_strerror(rc),
                     self->errbuf[0] ? ": " : "", self->errbuf, current);
        }
        else if (status >= 300 && status < 400) {
            char *location = NULL, from[256], to[256];
            curl_easy_getinfo(self->curl, CURLINFO_REDIRECT_URL, &location);
            if (!location || strlen(location) >= sizeof(current)) {
                snprintf(photo->error, sizeof(photo->error), "HTTP %ld without a usable Location on %.300s",
                         status, current);
                return CDN_PERMANENT;
            }
            cdn_url_authority(current, from, sizeof(from));
            cdn_url_authority(location, to, sizeof(to));
            if (!to[0] || strcmp(from, to) != 0) {
                snprintf(photo->error, sizeof(photo->error),
                         "HTTP %ld redirects to another host (%.250s), not followed", status,
                         location);
                return CDN_PERMANENT;
            }
            if (++redirects > CDN_MAX_REDIRECTS) {
                snprintf(photo->error, sizeof(photo->error), "more than %d redirects from %.300s",
                         CDN_MAX_REDIRECTS, photo->url);
                return CDN_PERMANENT;
            }
            snprintf(current, sizeof(current), "%s", location);
            continue;
        }
        else if (status >= 200 && status < 300) {
            curl_off_t expected = -1;
            char err[200];
            curl_easy_getinfo(self->curl, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &expected);
            s_content_type(self, current, photo);
            if (expected >= 0 && (size_t) expected != photo->len)
                snprintf(reason, sizeof(reason), "truncated body: %zu of %lld bytes on %.300s",
                         photo->len, (long long) expected, current);
            else if (cdn_check_image(photo->content_type, photo->data, photo->len, err,
                                     sizeof(err)) != 0)
                snprintf(reason, sizeof(reason), "damaged body: %s on %.300s", err, current);
            else {
                cdn_sha256_hex(photo->data, photo->len, photo->sha256);
                return CDN_OK;
            }
        }
        else if (status == 408 || status == 429 || status >= 500)
            snprintf(reason, sizeof(reason), "HTTP %ld on %.300s", status, current);
        else {
            s_snippet(photo, snippet, sizeof(snippet));
            snprintf(photo->error, sizeof(photo->error), "HTTP %ld on %.300s: %s", status, current,
                     snippet);
            free(photo->data);
            photo->data = NULL;
            photo->len = 0;
            return CDN_PERMANENT;
        }
        /* transient: back off and try again */
        free(photo->data);
        photo->data = NULL;
        photo->len = 0;
        int64_t ra = s_retry_after_ms(self->retry_after);
        if (transient >= self->settings.retries || ra > self->settings.backoff_max_ms) {
            if (ra > self->settings.backoff_max_ms)
                snprintf(photo->error, sizeof(photo->error), "%.400s with Retry-After %s", reason,
                         self->retry_after);
            else
                snprintf(photo->error, sizeof(photo->error), "%.400s after %d attempts", reason,
                         transient + 1);
            photo->retry_after_ms = ra;
            return CDN_RETRY;
        }
        int64_t delay = ra >= 0 ? ra
                                : backoff_delay_ms(self->settings.backoff_base_ms, self->settings.backoff_max_ms,
                                                   transient, &self->rng);
        transient++;
        log_info("photo download failed, retrying", "url=%s retry=%d delay_ms=%lld reason=%s",
                 log_str(current), transient, (long long) delay, log_str(reason));
        int slept = 0;
        if (self->gate.sleep)
            slept = self->gate.sleep(self->gate.ctx, delay);
        else
            clock_sleep_ms(delay);
        if (slept != 0) {
            snprintf(photo->error, sizeof(photo->error), "abandoned during backoff: the broker is lost");
            return CDN_ABANDONED;
        }
    }
}

/* --------------------------------------------------------------------------- */

typedef struct {
    int sleeps;
    int64_t slept_ms;
    bool refuse;
} s_gate_state_t;

static int s_test_sleep(void *ctx, int64_t ms)
{
    s_gate_state_t *g = ctx;
    g->sleeps++;
    g->slept_ms += ms;
    return g->refuse ? -1 : 0;
}

static int s_test_pump(void *ctx)
{
    return ((s_gate_state_t *) ctx)->refuse ? -1 : 0;
}

void cdn_test(bool verbose)
{
    if (verbose)
        printf(" * cdn: ");
    char err[256];
    const char *real = "https://images1.vinted.net/t/01_00abc/f800/1790000123.webp?s=5f1e";
    uint8_t webp[600];
    cdn_fake_webp(webp, sizeof(webp));
    const char *html = "<html><body>Error</body></html><html><body>Error</body></html>";

    /* bad settings are refused */
    cdn_settings_t cfg = { "ftp://x", 2000, 1, 4, 3 };
    assert(!cdn_new(&cfg, NULL, err, sizeof(err)) && strstr(err, "invalid CDN URL"));
    cfg.base_url = "http://h/?x";
    assert(!cdn_new(&cfg, NULL, err, sizeof(err)));
    cfg.base_url = "http://";
    assert(!cdn_new(&cfg, NULL, err, sizeof(err)));

    /* downloads from a scripted CDN */
    httpstub_t *stub = httpstub_new();
    assert(stub);
    char base[64], want[128];
    snprintf(base, sizeof(base), "http://127.0.0.1:%d/", httpstub_port(stub));
    s_gate_state_t g = { 0, 0, false };
    cdn_gate_t gate = { s_test_pump, s_test_sleep, &g };
    cfg.base_url = base;
    cdn_t *cdn = cdn_new(&cfg, &gate, err, sizeof(err));
    assert(cdn);
    cdn_sha256_hex(webp, sizeof(webp), want);
    const httpstub_reply_t ok = { 200, "Content-Type: image/webp\r\nETag: \"x\"\r\n", webp,
                                  sizeof(webp), 0 };
    const httpstub_reply_t r500 = { 500, "Content-Type: text/html\r\n", "<h1>500</h1>", 12, 0 };
    const httpstub_reply_t r404 = { 404, "Content-Type: application/xml\r\n",
                                    "<Error><Code>NoSuchKey</Code></Error>", 37, 0 };
    const httpstub_reply_t r403 = { 403, NULL, "<Error><Code>AccessDenied</Code></Error>", 40, 0 };
    const httpstub_reply_t cut = { 200, "Content-Type: image/webp\r\n", webp, sizeof(webp), 250 };
    const httpstub_reply_t half = { 200, "Content-Type: image/webp\r\n", webp, 300, 0 };
    const httpstub_reply_t junk = { 200, "Content-Type: image/webp\r\n", html, strlen(html), 0 };
    cdn_photo_t photo = { 0 };

    httpstub_script(stub, &ok, 1);
    assert(cdn_fetch(cdn, real, &photo) == CDN_OK);
    assert(photo.status == 200 && photo.len == sizeof(webp) && memcmp(photo.data, webp, photo.len) == 0);
    assert(strcmp(photo.sha256, want) == 0 && strcmp(photo.content_type, "image/webp") == 0);
    assert(photo.attempts == 1 && g.sleeps == 0 && httpstub_served(stub) == 1);
    assert(httpstub_saw(stub, 0, "GET /t/01_00abc/f800/1790000123.webp?s=5f1e HTTP/1.1"));
    assert(httpstub_saw(stub, 0, "User-Agent: Mozilla/5.0") && httpstub_saw(stub, 0, "Accept: image/"));
    assert(strstr(photo.url, "http://127.0.0.1:") && strstr(photo.url, "/t/01_00abc/"));

    /* a 500, then the photo */
    httpstub_script(stub, (httpstub_reply_t[]) { r500, ok }, 2);
    assert(cdn_fetch(cdn, real, &photo) == CDN_OK);
    assert(photo.attempts == 2 && g.sleeps == 1 && strcmp(photo.sha256, want) == 0);
    /* a body cut short (the connection closes early), then the photo */
    httpstub_script(stub, (httpstub_reply_t[]) { cut, ok }, 2);
    assert(cdn_fetch(cdn, real, &photo) == CDN_OK && photo.attempts == 2);
    assert(photo.len == sizeof(webp) && strcmp(photo.sha256, want) == 0);
    /* half an image under a matching Content-Length, junk under image/webp: damaged, retried */
    httpstub_script(stub, (httpstub_reply_t[]) { half, junk, ok }, 3);
    assert(cdn_fetch(cdn, real, &photo) == CDN_OK && photo.attempts == 3);
    assert(strcmp(photo.sha256, want) == 0);
    /* 404 and 403: permanent, at once, with the reason */
    g.sleeps = 0;
    httpstub_script(stub, &r404, 1);
    assert(cdn_fetch(cdn, real, &photo) == CDN_PERMANENT && photo.attempts == 1 && g.sleeps == 0);
    assert(strstr(photo.error, "HTTP 404") && strstr(photo.error, "NoSuchKey") && !photo.data);
    httpstub_script(stub, &r403, 1);
    assert(cdn_fetch(cdn, real, &photo) == CDN_PERMANENT && strstr(photo.error, "HTTP 403"));
    /* transient failures past the retries: CDN_RETRY */
    httpstub_script(stub, (httpstub_reply_t[]) { r500, r500, r500, r500, r500, ok }, 6);
    assert(cdn_fetch(cdn, real, &photo) == CDN_RETRY);
    assert(photo.attempts == 4 && httpstub_served(stub) == 4 && g.sleeps == 3);
    assert(strstr(photo.error, "HTTP 500") && strstr(photo.error, "after 4 attempts"));
    assert(photo.retry_after_ms == -1 && !photo.data);
    /* a long Retry-After goes back to the broker; a short one is honoured */
    const httpstub_reply_t r429 = { 429, "Retry-After: 120\r\n", "{}", 2, 0 };
    httpstub_script(stub, &r429, 1);
    assert(cdn_fetch(cdn, real, &photo) == CDN_RETRY && photo.retry_after_ms == 120000);
    assert(strstr(photo.error, "Retry-After 120"));
    const httpstub_reply_t r503 = { 503, "Retry-After: 0\r\n", "", 0, 0 };
    g.sleeps = 0;
    g.slept_ms = 0;
    httpstub_script(stub, (httpstub_reply_t[]) { r503, ok }, 2);
    assert(cdn_fetch(cdn, real, &photo) == CDN_OK && g.sleeps == 1 && g.slept_ms == 0);
    /* redirects: on the same host followed, to another host refused */
    const httpstub_reply_t moved = { 302, "Location: /t/other/f800/1.webp?s=2\r\n", "", 0, 0 };
    httpstub_script(stub, (httpstub_reply_t[]) { moved, ok }, 2);
    assert(cdn_fetch(cdn, real, &photo) == CDN_OK && httpstub_served(stub) == 2);
    assert(httpstub_saw(stub, 1, "GET /t/other/f800/1.webp?s=2 HTTP/1.1"));
    const httpstub_reply_t away = { 301, "Location: http://evil.example/x.webp\r\n", "", 0, 0 };
    httpstub_script(stub, &away, 1);
    assert(cdn_fetch(cdn, real, &photo) == CDN_PERMANENT && strstr(photo.error, "another host"));
    assert(httpstub_served(stub) == 1);
    /* too large: refused for good without reading it all */
    const httpstub_reply_t huge = { 200, "Content-Type: image/webp\r\n", webp, 30000000, 100 };
    httpstub_script(stub, &huge, 1);
    assert(cdn_fetch(cdn, real, &photo) == CDN_PERMANENT && strstr(photo.error, "larger than"));
    /* no content type: named from the bytes */
    const httpstub_reply_t bare = { 200, NULL, webp, sizeof(webp), 0 };
    httpstub_script(stub, &bare, 1);
    assert(cdn_fetch(cdn, real, &photo) == CDN_OK && strcmp(photo.content_type, "image/webp") == 0);
    /* an unusable URL is permanent without a request */
    httpstub_script(stub, &ok, 1);
    assert(cdn_fetch(cdn, "/t/x.webp", &photo) == CDN_PERMANENT && httpstub_served(stub) == 0);
    assert(strstr(photo.error, "not a usable photo URL"));
    /* the broker lost during a backoff: abandoned */
    g.refuse = true;
    httpstub_script(stub, (httpstub_reply_t[]) { r500, ok }, 2);
    assert(cdn_fetch(cdn, real, &photo) == CDN_ABANDONED && httpstub_served(stub) == 1);
    g.refuse = false;
    cdn_photo_reset(&photo);
    cdn_destroy(&cdn);
    assert(cdn == NULL);
    httpstub_destroy(&stub);

    /* a network error (nothing listens on port 1) is transient */
    cfg.base_url = "http://127.0.0.1:1";
    cfg.retries = 1;
    cdn = cdn_new(&cfg, &gate, err, sizeof(err));
    assert(cdn);
    assert(cdn_fetch(cdn, real, &photo) == CDN_RETRY && photo.attempts == 2 && photo.status == 0);
    assert(strstr(photo.error, "127.0.0.1:1") && strstr(photo.error, "after 2 attempts"));
    cdn_photo_reset(&photo);
    cdn_destroy(&cdn);
    if (verbose)
        printf("OK\n");
}
