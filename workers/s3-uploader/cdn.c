/*  cdn.c - photo downloads from the image CDN (see cdn.h). */
#include "workers/s3-uploader/cdn.h"

#include <assert.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <curl/curl.h>
#include <openssl/evp.h>

#include "common/clock.h"
#include "common/curlsetup.h"
#include "common/log.h"
#include "common/httpstub.h"

#define CDN_BASE_MAX 256

struct _cdn_t {
    char base[CDN_BASE_MAX]; /* "" = URLs as they are */
    cdn_settings_t settings;
    cdn_gate_t gate;
    CURL *curl;
    uint64_t rng; /* backoff jitter */
    /* the transfer in progress */
    cdn_photo_t *photo;
    size_t cap;
    bool too_large;
    curlsetup_pump_t pump; /* the gate's pump, pumped during a transfer */
    char retry_after[64];
    char errbuf[CURL_ERROR_SIZE];
};

/* --------------------------------------------------------------------------- */
/* Formats, URLs and hashes */

void cdn_sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    static const char hex[] = "0123456789abcdef";
    if (EVP_Digest(data ? data : "", len, md, &md_len, EVP_sha256(), NULL) != 1 || md_len != 32) {
        out[0] = '\0';
        return;
    }
    for (unsigned int i = 0; i < 32; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[64] = '\0';
}

/* The normalized extension for a file extension or image subtype, or NULL. */
static const char *s_ext_of(const char *name, size_t len)
{
    static const struct { const char *name; const char *ext; } names[] = {
        { "webp", "webp" }, { "jpg", "jpg" }, { "jpeg", "jpg" }, { "pjpeg", "jpg" },
        { "png", "png" },   { "gif", "gif" }, { NULL, NULL },
    };
    for (int i = 0; names[i].name; i++)
        if (strlen(names[i].name) == len && strncasecmp(names[i].name, name, len) == 0)
            return names[i].ext;
    return NULL;
}

const char *cdn_ext_from_url(const char *url)
{
    if (!url)
        return NULL;
    const char *path = strstr(url, "://");
    path = path ? path + 3 : url;
    path += strcspn(path, "/?#"); /* past the host */
    if (*path != '/')
        return NULL;
    size_t path_len = strcspn(path, "?#");
    const char *slash = path;
    for (size_t i = 0; i < path_len; i++)
        if (path[i] == '/')
            slash = path + i;
    const char *end = path + path_len;
    const char *dot = NULL;
    for (const char *p = slash; p < end; p++)
        if (*p == '.')
            dot = p;
    if (!dot || dot + 1 >= end)
        return NULL;
    return s_ext_of(dot + 1, (size_t) (end - dot - 1));
}

const char *cdn_ext_from_content_type(const char *content_type)
{
    if (!content_type || strncasecmp(content_type, "image/", 6) != 0)
        return "bin";
    const char *sub = content_type + 6;
    const char *ext = s_ext_of(sub, strcspn(sub, "; \t"));
    return ext ? ext : "bin";
}

const char *cdn_content_type_of_ext(const char *ext)
{
    if (ext && strcmp(ext, "webp") == 0)
        return "image/webp";
    if (ext && strcmp(ext, "jpg") == 0)
        return "image/jpeg";
    if (ext && strcmp(ext, "png") == 0)
        return "image/png";
    if (ext && strcmp(ext, "gif") == 0)
        return "image/gif";
    return "application/octet-stream";
}

/* The format the bytes start with ("webp", "jpg", "png", "gif"), or NULL. */
static const char *s_sniff(const uint8_t *data, size_t len)
{
    if (len >= 12 && memcmp(data, "RIFF", 4) == 0 && memcmp(data + 8, "WEBP", 4) == 0)
        return "webp";
    if (len >= 3 && data[0] == 0xff && data[1] == 0xd8 && data[2] == 0xff)
        return "jpg";
    if (len >= 8 && memcmp(data, "\x89PNG\r\n\x1a\n", 8) == 0)
        return "png";
    if (len >= 6 && (memcmp(data, "GIF87a", 6) == 0 || memcmp(data, "GIF89a", 6) == 0))
        return "gif";
    return NULL;
}

int cdn_check_image(const char *content_type, const uint8_t *data, size_t len, char *err,
                    size_t errlen)
{
    const char *ct = content_type && *content_type ? content_type : "(none)";
    if (!data || len == 0) {
        snprintf(err, errlen, "empty body");
        return -1;
    }
    const char *format = s_sniff(data, len);
    if (!format) {
        const char *claimed = cdn_ext_from_content_type(ct);
        if (strcmp(claimed, "bin") != 0) {
            snprintf(err, errlen, "the body is not a %s image", ct);
            return -1;
        }
        if (strncasecmp(ct, "image/", 6) == 0)
            return 0; /* a format we do not know: trust the server */
        snprintf(err, errlen, "content type %.100s is not an image", ct);
        return -1;
    }
    if (strcmp(format, "webp") == 0) {
        uint64_t riff = (uint64_t) data[4] | (uint64_t) data[5] << 8 | (uint64_t) data[6] << 16
                        | (uint64_t) data[7] << 24;
        if (riff + 8 != len) {
            snprintf(err, errlen, "webp cut or padded: RIFF says %llu bytes, got %zu",
                     (unsigned long long) (riff + 8), len);
            return -1;
        }
    }
    else if (strcmp(format, "png") == 0) {
        if (len < 20 || memcmp(data + len - 8, "IEND\xae\x42\x60\x82", 8) != 0) {
            snprintf(err, errlen, "png without its IEND chunk (cut short)");
            return -1;
        }
    }
    else if (strcmp(format, "gif") == 0 && data[len - 1] != 0x3b) {
        snprintf(err, errlen, "gif without its trailer (cut short)");
        return -1;
    }
    return 0;
}

/* Whether text holds no spaces or control characters. */
static bool s_clean(const char *text)
{
    for (const unsigned char *p = (const unsigned char *) text; *p; p++)
        if (*p <= 0x20 || *p == 0x7f)
            return false;
    return true;
}

/* Where the host starts in an absolute http(s) URL, or NULL. */
static const char *s_host(const char *url)
{
    if (strncasecmp(url, "http://", 7) == 0)
        return url + 7;
    if (strncasecmp(url, "https://", 8) == 0)
        return url + 8;
    return NULL;
}

int cdn_rewrite(const char *base, const char *url, char *buf, size_t size)
{
    if (!url || !s_clean(url))
        return -1;
    const char *host = s_host(url);
    if (!host)
        return -1;
    const char *rest = host + strcspn(host, "/?#");
    if (rest == host)
        return -1;
    int n;
    if (!base || !*base)
        n = snprintf(buf, size, "%s", url);
    else
        n = snprintf(buf, size, "%s%s%s", base, *rest == '/' ? "" : "/", rest);
    return n < 0 || (size_t) n >= size ? -1 : 0;
}

/* host[:port] of a URL, lower case, without user info; "" if none. */
static void s_authority(const char *url, char *out, size_t size)
{
    out[0] = '\0';
    const char *host = s_host(url);
    if (!host)
        return;
    size_t len = strcspn(host, "/?#");
    const char *at = memchr(host, '@', len);
    if (at) {
        len -= (size_t) (at + 1 - host);
        host = at + 1;
    }
    if (len >= size)
        return;
    for (size_t i = 0; i < len; i++)
        out[i] = (char) tolower((unsigned char) host[i]);
    out[len] = '\0';
}

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

/* --------------------------------------------------------------------------- */
/* The client */

static size_t s_on_body(char *data, size_t size, size_t nmemb, void *arg)
{
    cdn_t *self = arg;
    cdn_photo_t *photo = self->photo;
    size_t n = size * nmemb;
    if (photo->len + n > CDN_MAX_BYTES) {
        self->too_large = true;
        return 0;
    }
    uint8_t *grown = curlsetup_grow(photo->data, &self->cap, photo->len + n);
    if (!grown)
        return 0;
    photo->data = grown;
    memcpy(photo->data + photo->len, data, n);
    photo->len += n;
    return n;
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
        const char *host = s_host(base);
        if (!host || len >= CDN_BASE_MAX || (size_t) (host - base) >= len || !s_clean(base)
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
    self->rng = (uint64_t) clock_mono_ms() * 0x9e3779b97f4a7c15ULL ^ (uint64_t) getpid() << 17;
    if (!self->rng)
        self->rng = 1;
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

/* A Retry-After value (seconds or an HTTP date) in ms from now; -1 if unreadable. */
static int64_t s_retry_after_ms(const char *text)
{
    if (!text || !*text)
        return -1;
    if (strspn(text, "0123456789") == strlen(text)) {
        if (strlen(text) > 9)
            return -1;
        return (int64_t) atol(text) * 1000;
    }
    time_t at = curl_getdate(text, NULL);
    if (at == (time_t) -1)
        return -1;
    int64_t ms = (int64_t) at * 1000 - clock_wall_ms();
    return ms > 0 ? ms : 0;
}

/* Full-jitter exponential backoff for retry number n (0-based). */
static int64_t s_backoff_ms(cdn_t *self, int n)
{
    int64_t ceiling = self->settings.backoff_base_ms;
    for (int i = 0; i < n && ceiling < self->settings.backoff_max_ms; i++)
        ceiling *= 2;
    if (ceiling > self->settings.backoff_max_ms)
        ceiling = self->settings.backoff_max_ms;
    if (ceiling <= 0)
        return 0;
    self->rng ^= self->rng << 13;
    self->rng ^= self->rng >> 7;
    self->rng ^= self->rng << 17;
    return (int64_t) (self->rng % (uint64_t) (ceiling + 1));
}

/* One GET of url into photo (data, len, status); the curl code. */
static CURLcode s_perform(cdn_t *self, const char *url, cdn_photo_t *photo)
{
    free(photo->data);
    photo->data = NULL;
    photo->len = 0;
    photo->status = 0;
    self->photo = photo;
    self->cap = 0;
    self->too_large = false;
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
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(headers);
    self->photo = NULL;
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
    const char *format = s_sniff(photo->data, photo->len);
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
        if (rc == CURLE_FILESIZE_EXCEEDED || self->too_large) {
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
            s_authority(current, from, sizeof(from));
            s_authority(location, to, sizeof(to));
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
        int64_t delay = ra >= 0 ? ra : s_backoff_ms(self, transient);
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

/* A webp-shaped file of len bytes (len >= 20, even): RIFF header, VP8L chunk, filler. */
static void s_fake_webp(uint8_t *buf, size_t len)
{
    uint32_t riff = (uint32_t) (len - 8), chunk = (uint32_t) (len - 20);
    memcpy(buf, "RIFF", 4);
    for (int i = 0; i < 4; i++)
        buf[4 + i] = (uint8_t) (riff >> (8 * i));
    memcpy(buf + 8, "WEBPVP8L", 8);
    for (int i = 0; i < 4; i++)
        buf[16 + i] = (uint8_t) (chunk >> (8 * i));
    for (size_t i = 20; i < len; i++)
        buf[i] = (uint8_t) (i * 31 + 7);
}

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
    char hex[65], buf[256], err[256];

    /* sha256 of known inputs */
    cdn_sha256_hex("abc", 3, hex);
    assert(strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") == 0);
    cdn_sha256_hex(NULL, 0, hex);
    assert(strcmp(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855") == 0);

    /* extensions: from the URL path, else from the content type */
    const char *real = "https://images1.vinted.net/t/01_00abc/f800/1790000123.webp?s=5f1e";
    assert(strcmp(cdn_ext_from_url(real), "webp") == 0);
    assert(strcmp(cdn_ext_from_url("https://h/t/x/f800/1.JPEG"), "jpg") == 0);
    assert(strcmp(cdn_ext_from_url("https://h/t/x/f800/1.jpg?x=1#f"), "jpg") == 0);
    assert(strcmp(cdn_ext_from_url("http://h:8/a.png"), "png") == 0);
    assert(strcmp(cdn_ext_from_url("http://h/a.b.gif"), "gif") == 0);
    assert(!cdn_ext_from_url("https://h/t/x/f800/1790000123"));
    assert(!cdn_ext_from_url("https://h/dir.webp/photo"));
    assert(!cdn_ext_from_url("https://h/photo?name=a.png"));
    assert(!cdn_ext_from_url("https://h/photo.tiff") && !cdn_ext_from_url("https://h/photo."));
    assert(!cdn_ext_from_url("https://images1.vinted.net") && !cdn_ext_from_url(NULL));
    assert(!cdn_ext_from_url("https://h.webp"));
    assert(strcmp(cdn_ext_from_content_type("image/jpeg"), "jpg") == 0);
    assert(strcmp(cdn_ext_from_content_type("IMAGE/WebP; charset=x"), "webp") == 0);
    assert(strcmp(cdn_ext_from_content_type("image/png"), "png") == 0);
    assert(strcmp(cdn_ext_from_content_type("image/avif"), "bin") == 0);
    assert(strcmp(cdn_ext_from_content_type("text/html"), "bin") == 0);
    assert(strcmp(cdn_ext_from_content_type(NULL), "bin") == 0);
    assert(strcmp(cdn_content_type_of_ext("jpg"), "image/jpeg") == 0);
    assert(strcmp(cdn_content_type_of_ext("webp"), "image/webp") == 0);
    assert(strcmp(cdn_content_type_of_ext("bin"), "application/octet-stream") == 0);

    /* the CDN base rewrite keeps path and query */
    assert(cdn_rewrite("http://127.0.0.1:8080", real, buf, sizeof(buf)) == 0);
    assert(strcmp(buf, "http://127.0.0.1:8080/t/01_00abc/f800/1790000123.webp?s=5f1e") == 0);
    assert(cdn_rewrite("", real, buf, sizeof(buf)) == 0 && strcmp(buf, real) == 0);
    assert(cdn_rewrite(NULL, real, buf, sizeof(buf)) == 0 && strcmp(buf, real) == 0);
    assert(cdn_rewrite("http://b", "https://h?x=1", buf, sizeof(buf)) == 0);
    assert(strcmp(buf, "http://b/?x=1") == 0);
    assert(cdn_rewrite("http://b", "ftp://h/x.webp", buf, sizeof(buf)) == -1);
    assert(cdn_rewrite("http://b", "images1.vinted.net/t/x.webp", buf, sizeof(buf)) == -1);
    assert(cdn_rewrite("http://b", "https:///t/x.webp", buf, sizeof(buf)) == -1);
    assert(cdn_rewrite("http://b", "https://h/a b.webp", buf, sizeof(buf)) == -1);
    assert(cdn_rewrite("http://b", "https://h/a\n.webp", buf, sizeof(buf)) == -1);
    assert(cdn_rewrite("http://b", NULL, buf, sizeof(buf)) == -1);
    volatile size_t small = 12;
    assert(cdn_rewrite("http://b", real, buf, small) == -1);

    /* whole images only */
    uint8_t webp[600];
    s_fake_webp(webp, sizeof(webp));
    assert(cdn_check_image("image/webp", webp, sizeof(webp), err, sizeof(err)) == 0);
    assert(cdn_check_image("image/webp", webp, 300, err, sizeof(err)) == -1 && strstr(err, "RIFF"));
    const char *html = "<html><body>Error</body></html><html><body>Error</body></html>";
    assert(cdn_check_image("image/webp", (const uint8_t *) html, strlen(html), err, sizeof(err)) == -1);
    assert(strstr(err, "not a image/webp image"));
    assert(cdn_check_image("text/html", (const uint8_t *) html, strlen(html), err, sizeof(err)) == -1);
    assert(strstr(err, "not an image"));
    assert(cdn_check_image("image/avif", (const uint8_t *) html, 10, err, sizeof(err)) == 0);
    assert(cdn_check_image("image/webp", webp, 0, err, sizeof(err)) == -1 && strstr(err, "empty"));
    const uint8_t png[] = "\x89PNG\r\n\x1a\n\0\0\0\rIHDRxxxxxxxxxxxxx\0\0\0\0IEND\xae\x42\x60\x82";
    assert(cdn_check_image("image/png", png, sizeof(png) - 1, err, sizeof(err)) == 0);
    assert(cdn_check_image("image/png", png, sizeof(png) - 5, err, sizeof(err)) == -1);
    const uint8_t gif[] = "GIF89a\x01\x00\x01\x00\x00\x00\x00;";
    assert(cdn_check_image("image/gif", gif, sizeof(gif) - 1, err, sizeof(err)) == 0);
    assert(cdn_check_image("image/gif", gif, sizeof(gif) - 2, err, sizeof(err)) == -1);
    const uint8_t jpeg[] = "\xff\xd8\xff\xe0\0\x10JFIF\0";
    assert(cdn_check_image("image/jpeg", jpeg, sizeof(jpeg) - 1, err, sizeof(err)) == 0);
    /* a generic content type over real image bytes is fine */
    assert(cdn_check_image("application/octet-stream", webp, sizeof(webp), err, sizeof(err)) == 0);

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
