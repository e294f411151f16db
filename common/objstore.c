/*  objstore.c - the object store of objstore.h: a plain directory (file://) or an
    S3-compatible API (s3://) spoken with libcurl, requests signed by libcurl's own
    AWS SigV4 support, payload hashes computed with OpenSSL.

    file://  a key is a path under the directory; a put writes a temp file
             (".objstore-tmp-XXXXXX") next to the target, fsyncs it and renames it
             over the target, so readers see the old or the new object, never half.
    s3://    path-style URLs {endpoint}/{bucket}/{prefix}/{key}, one CURL easy handle
             per store (connection reuse), retries with exponential back-off and
             jitter on network errors, 429 and 5xx.

    An objstore_t is for one thread at a time (it owns one CURL handle); give each
    thread its own. Secrets never appear in messages, logs or objstore_describe().

    Keys are validated the same way for both: UTF-8, at most 1024 bytes, no control
    characters, no leading "/", no empty, "." or ".." segments.
*/
#include "common/objstore.h"

#include <assert.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/evp.h>

#include "common/clock.h"
#include "common/log.h"

#define OBJSTORE_KEY_MAX 1024
#define OBJSTORE_TMP_PREFIX ".objstore-tmp-"
#define OBJSTORE_ATTEMPTS 4        /* tries per S3 request */
#define OBJSTORE_BACKOFF_MS 100    /* first back-off; doubles, with jitter 0.5x..1.5x */
#define OBJSTORE_CONNECT_MS 10000
#define OBJSTORE_LOW_SPEED_S 30    /* abort a transfer slower than 1 KB/s for this long */
#define OBJSTORE_EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

typedef enum { OBJSTORE_FILE = 1, OBJSTORE_S3 = 2 } objstore_kind_t;

struct _objstore_t {
    objstore_kind_t kind;
    char *description;
    /* file:// */
    char *root;          /* the directory, without trailing "/" ("/" stays "/") */
    /* s3:// */
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
};

/* The settings objstore_new reads from the environment (a struct so the self-test
   can pass its own). */
typedef struct {
    const char *endpoint;
    const char *access_key;
    const char *secret_key;
    const char *region;
    const char *session_token;
} objstore_env_t;

/* ------------------------------------------------------------------------- */
/* small helpers */

static int s_fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int s_fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

typedef struct {
    char *data;
    size_t len;
    size_t cap;
} s_buf_t;

/* Append n bytes (keeps a NUL after them). 0 ok, -1 out of memory. */
static int s_buf_add(s_buf_t *b, const void *p, size_t n)
{
    if (b->len + n + 1 < b->len)
        return -1;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1) {
            if (cap > SIZE_MAX / 2)
                return -1;
            cap *= 2;
        }
        char *data = realloc(b->data, cap);
        if (!data)
            return -1;
        b->data = data;
        b->cap = cap;
    }
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

static int s_buf_str(s_buf_t *b, const char *s)
{
    return s_buf_add(b, s, strlen(s));
}

static void s_buf_free(s_buf_t *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

/* A printable copy of text for error messages: at most 120 bytes, control bytes as '?'. */
static const char *s_shown(const char *text, char *buf, size_t size)
{
    size_t n = 0;
    for (const char *p = text; p && *p && n + 4 < size && n < 120; p++)
        buf[n++] = (unsigned char) *p < 0x20 || *p == 0x7f ? '?' : *p;
    if (text && strlen(text) > n && n + 4 < size) {
        memcpy(buf + n, "...", 3);
        n += 3;
    }
    buf[n] = '\0';
    return buf;
}

static bool s_starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* Length of the valid UTF-8 sequence at p (at most n bytes), 0 if invalid. */
static size_t s_utf8_len(const unsigned char *p, size_t n)
{
    if (p[0] < 0x80)
        return 1;
    size_t len;
    unsigned char lo = 0x80, hi = 0xBF;
    if (p[0] >= 0xC2 && p[0] <= 0xDF)
        len = 2;
    else if (p[0] >= 0xE0 && p[0] <= 0xEF) {
        len = 3;
        if (p[0] == 0xE0)
            lo = 0xA0;
        else if (p[0] == 0xED)
            hi = 0x9F;
    }
    else if (p[0] >= 0xF0 && p[0] <= 0xF4) {
        len = 4;
        if (p[0] == 0xF0)
            lo = 0x90;
        else if (p[0] == 0xF4)
            hi = 0x8F;
    }
    else
        return 0;
    if (n < len || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (p[i] < 0x80 || p[i] > 0xBF)
            return 0;
    return len;
}

/* Is key usable? A prefix (is_prefix) may be empty and its last segment is partial:
   it may be empty ("raw/") or anything a key segment may start with. */
static int s_check_key(const char *key, bool is_prefix, char *err, size_t errlen)
{
    char shown[160];
    const char *what = is_prefix ? "prefix" : "key";
    if (!key)
        return is_prefix ? 0 : s_fail(err, errlen, "no key");
    size_t len = strlen(key);
    if (len == 0)
        return is_prefix ? 0 : s_fail(err, errlen, "empty key");
    if (len > OBJSTORE_KEY_MAX)
        return s_fail(err, errlen, "bad %s \"%s\": longer than %d bytes", what, s_shown(key, shown, sizeof shown),
                      OBJSTORE_KEY_MAX);
    if (key[0] == '/')
        return s_fail(err, errlen, "bad %s \"%s\": starts with \"/\"", what, s_shown(key, shown, sizeof shown));
    const unsigned char *p = (const unsigned char *) key;
    for (size_t i = 0; i < len;) {
        if (p[i] < 0x20 || p[i] == 0x7f)
            return s_fail(err, errlen, "bad %s \"%s\": control character 0x%02x at byte %zu", what,
                          s_shown(key, shown, sizeof shown), p[i], i);
        size_t n = s_utf8_len(p + i, len - i);
        if (n == 0)
            return s_fail(err, errlen, "bad %s \"%s\": invalid UTF-8 at byte %zu", what,
                          s_shown(key, shown, sizeof shown), i);
        i += n;
    }
    const char *seg = key;
    while (true) {
        const char *slash = strchr(seg, '/');
        size_t n = slash ? (size_t) (slash - seg) : strlen(seg);
        bool last = slash == NULL;
        if (!(is_prefix && last)) {
            if (n == 0)
                return s_fail(err, errlen, "bad %s \"%s\": empty segment (\"//\" or a trailing \"/\")", what,
                              s_shown(key, shown, sizeof shown));
            if ((n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.'))
                return s_fail(err, errlen, "bad %s \"%s\": \".\" or \"..\" segment", what,
                              s_shown(key, shown, sizeof shown));
        }
        if (strncmp(seg, OBJSTORE_TMP_PREFIX, strlen(OBJSTORE_TMP_PREFIX)) == 0 && n >= strlen(OBJSTORE_TMP_PREFIX))
            return s_fail(err, errlen, "bad %s \"%s\": segments starting with \"%s\" are reserved", what,
                          s_shown(key, shown, sizeof shown), OBJSTORE_TMP_PREFIX);
        if (last)
            break;
        seg = slash + 1;
    }
    return 0;
}

/* s with every byte outside RFC 3986's unreserved set (A-Z a-z 0-9 - . _ ~)
   as %XX (upper-case hex); "/" is kept when keep_slash. Appended to b. */
static int s_encode(s_buf_t *b, const char *s, bool keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *) s; *p; p++) {
        if (isalnum(*p) || *p == '-' || *p == '.' || *p == '_' || *p == '~' || (keep_slash && *p == '/')) {
            if (s_buf_add(b, p, 1))
                return -1;
        }
        else {
            char esc[3] = { '%', hex[*p >> 4], hex[*p & 15] };
            if (s_buf_add(b, esc, 3))
                return -1;
        }
    }
    return 0;
}

/* Lower-case hex SHA-256 of data into out (65 bytes). */
static int s_sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (!EVP_Digest(data ? data : "", len, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32)
        return -1;
    for (unsigned int i = 0; i < mdlen; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
    out[64] = '\0';
    return 0;
}

/* ------------------------------------------------------------------------- */
/* minimal XML: the text of <tag>...</tag> with entities decoded */

/* Append the UTF-8 encoding of code point cp. */
static int s_utf8_put(s_buf_t *b, uint32_t cp)
{
    unsigned char u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (unsigned char) cp;
        n = 1;
    }
    else if (cp < 0x800) {
        u[0] = (unsigned char) (0xC0 | (cp >> 6));
        u[1] = (unsigned char) (0x80 | (cp & 0x3F));
        n = 2;
    }
    else if (cp < 0x10000) {
        u[0] = (unsigned char) (0xE0 | (cp >> 12));
        u[1] = (unsigned char) (0x80 | ((cp >> 6) & 0x3F));
        u[2] = (unsigned char) (0x80 | (cp & 0x3F));
        n = 3;
    }
    else {
        u[0] = (unsigned char) (0xF0 | (cp >> 18));
        u[1] = (unsigned char) (0x80 | ((cp >> 12) & 0x3F));
        u[2] = (unsigned char) (0x80 | ((cp >> 6) & 0x3F));
        u[3] = (unsigned char) (0x80 | (cp & 0x3F));
        n = 4;
    }
    return s_buf_add(b, u, n);
}

/* Decode the character data [p, end) (entities: the five predefined ones, &#N; and
   &#xH;) into a malloc'ed string. NULL with a reason on a bad entity. */
static char *s_xml_text(const char *p, const char *end, char *err, size_t errlen)
{
    s_buf_t b = { 0 };
    if (s_buf_add(&b, "", 0))
        goto nomem;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t) (end - p));
        const char *stop = amp ? amp : end;
        if (s_buf_add(&b, p, (size_t) (stop - p)))
            goto nomem;
        if (!amp)
            break;
        const char *semi = memchr(amp, ';', (size_t) (end - amp));
        if (!semi || semi - amp > 12) {
            s_fail(err, errlen, "XML: unterminated entity");
            goto fail;
        }
        size_t n = (size_t) (semi - amp - 1);
        const char *name = amp + 1;
        static const struct {
            const char *name;
            char c;
        } named[] = { { "amp", '&' }, { "lt", '<' }, { "gt", '>' }, { "quot", '"' }, { "apos", '\'' } };
        bool done = false;
        for (size_t i = 0; i < sizeof named / sizeof named[0] && !done; i++)
            if (strlen(named[i].name) == n && memcmp(name, named[i].name, n) == 0) {
                if (s_buf_add(&b, &named[i].c, 1))
                    goto nomem;
                done = true;
            }
        if (!done && n >= 2 && name[0] == '#') {
            bool hex = name[1] == 'x' || name[1] == 'X';
            const char *digits = name + (hex ? 2 : 1);
            uint32_t cp = 0;
            bool ok = digits < semi;
            for (const char *d = digits; d < semi && ok; d++) {
                int v = isdigit((unsigned char) *d) ? *d - '0'
                        : hex && isxdigit((unsigned char) *d) ? tolower((unsigned char) *d) - 'a' + 10
                                                              : -1;
                if (v < 0 || cp > 0x10FFFF)
                    ok = false;
                else
                    cp = cp * (hex ? 16 : 10) + (uint32_t) v;
            }
            if (!ok || cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
                s_fail(err, errlen, "XML: bad character reference &%.*s;", (int) n, name);
                goto fail;
            }
            if (s_utf8_put(&b, cp))
                goto nomem;
            done = true;
        }
        if (!done) {
            s_fail(err, errlen, "XML: unknown entity &%.*s;", (int) n, name);
            goto fail;
        }
        p = semi + 1;
    }
    return b.data;
nomem:
    s_fail(err, errlen, "out of memory");
fail:
    s_buf_free(&b);
    return NULL;
}

/* Find <tag>text</tag> in [from, end): sets the text span and returns the end of the
   element, or NULL when there is none. */
static const char *s_xml_find(const char *from, const char *end, const char *tag, const char **text,
                              const char **text_end)
{
    char open[64], close[64];
    snprintf(open, sizeof open, "<%s>", tag);
    snprintf(close, sizeof close, "</%s>", tag);
    size_t on = strlen(open), cn = strlen(close);
    const char *o = from;
    while (o && (size_t) (end - o) >= on && memcmp(o, open, on) != 0)
        o = memchr(o + 1, '<', (size_t) (end - o - 1));
    if (!o || (size_t) (end - o) < on)
        return NULL;
    const char *t = o + on;
    const char *c = t;
    while (c && (size_t) (end - c) >= cn && memcmp(c, close, cn) != 0)
        c = memchr(c + 1, '<', (size_t) (end - c - 1));
    if (!c || (size_t) (end - c) < cn)
        return NULL;
    *text = t;
    *text_end = c;
    return c + cn;
}

typedef struct {
    char *key;
    int64_t size;
} s_entry_t;

typedef struct {
    s_entry_t *v;
    size_t n;
    size_t cap;
} s_entries_t;

static int s_entries_add(s_entries_t *e, char *key, int64_t size)
{
    if (e->n == e->cap) {
        size_t cap = e->cap ? e->cap * 2 : 64;
        s_entry_t *v = realloc(e->v, cap * sizeof *v);
        if (!v)
            return -1;
        e->v = v;
        e->cap = cap;
    }
    e->v[e->n].key = key;
    e->v[e->n].size = size;
    e->n++;
    return 0;
}

static void s_entries_free(s_entries_t *e)
{
    for (size_t i = 0; i < e->n; i++)
        free(e->v[i].key);
    free(e->v);
    e->v = NULL;
    e->n = e->cap = 0;
}

typedef struct {
    s_entries_t entries;
    bool truncated;
    char *next_token; /* NULL when absent */
} s_page_t;

static void s_page_free(s_page_t *page)
{
    s_entries_free(&page->entries);
    free(page->next_token);
    page->next_token = NULL;
}

/* One ListObjectsV2 response: every <Contents>' Key and Size, IsTruncated and
   NextContinuationToken. 0 ok, -1 with a reason (page emptied). */
static int s_list_parse(const char *xml, size_t len, s_page_t *page, char *err, size_t errlen)
{
    memset(page, 0, sizeof *page);
    const char *end = xml + len;
    const char *t, *te;
    if (!memmem(xml, len, "<ListBucketResult", strlen("<ListBucketResult")))
        return s_fail(err, errlen, "list response is not a ListBucketResult: %.80s", xml);
    const char *p = xml;
    const char *next;
    while ((next = s_xml_find(p, end, "Contents", &t, &te))) {
        const char *kt, *kte, *st, *ste;
        if (!s_xml_find(t, te, "Key", &kt, &kte) || !s_xml_find(t, te, "Size", &st, &ste)) {
            s_page_free(page);
            return s_fail(err, errlen, "list response: <Contents> without <Key> or <Size>");
        }
        char *key = s_xml_text(kt, kte, err, errlen);
        if (!key) {
            s_page_free(page);
            return -1;
        }
        int64_t size = 0;
        bool ok = st < ste;
        for (const char *d = st; d < ste && ok; d++) {
            if (!isdigit((unsigned char) *d) || size > (INT64_MAX - 9) / 10)
                ok = false;
            else
                size = size * 10 + (*d - '0');
        }
        if (!ok) {
            free(key);
            s_page_free(page);
            return s_fail(err, errlen, "list response: bad <Size> \"%.*s\"", (int) (ste - st > 30 ? 30 : ste - st),
                          st);
        }
        if (s_entries_add(&page->entries, key, size)) {
            free(key);
            s_page_free(page);
            return s_fail(err, errlen, "out of memory");
        }
        p = next;
    }
    if (s_xml_find(xml, end, "IsTruncated", &t, &te))
        page->truncated = te - t == 4 && memcmp(t, "true", 4) == 0;
    if (s_xml_find(xml, end, "NextContinuationToken", &t, &te)) {
        page->next_token = s_xml_text(t, te, err, errlen);
        if (!page->next_token) {
            s_page_free(page);
            return -1;
        }
    }
    if (page->truncated && (!page->next_token || !*page->next_token)) {
        s_page_free(page);
        return s_fail(err, errlen, "list response is truncated but has no NextContinuationToken");
    }
    return 0;
}

/* ------------------------------------------------------------------------- */
/* constructor */

static int s_parse_file_url(objstore_t *self, const char *path, char *err, size_t errlen)
{
    /* file://./DIR is DIR under the working directory (the programs' default) */
    char cwd_path[4096];
    if (strncmp(path, "./", 2) == 0) {
        char cwd[2048];
        if (!getcwd(cwd, sizeof cwd))
            return s_fail(err, errlen, "file store %s: cannot read the working directory", path);
        snprintf(cwd_path, sizeof cwd_path, "%s/%s", strcmp(cwd, "/") == 0 ? "" : cwd, path + 2);
        path = cwd_path;
    }
    if (path[0] != '/')
        return s_fail(err, errlen,
                      "file store URL needs an absolute path, as in file:///var/raw, or one under the "
                      "working directory, as in file://./var/raw (got file://%s)",
                      path);
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/')
        n--;
    self->root = strndup(path, n);
    if (!self->root)
        return s_fail(err, errlen, "out of memory");
    struct stat st;
    if (stat(self->root, &st) == 0 && !S_ISDIR(st.st_mode))
        return s_fail(err, errlen, "file store %s exists and is not a directory", self->root);
    if (asprintf(&self->description, "file://%s", self->root) < 0) {
        self->description = NULL;
        return s_fail(err, errlen, "out of memory");
    }
    return 0;
}

static int s_parse_s3_url(objstore_t *self, const char *rest, const objstore_env_t *env, char *err, size_t errlen)
{
    const char *slash = strchr(rest, '/');
    size_t bn = slash ? (size_t) (slash - rest) : strlen(rest);
    if (bn < 3 || bn > 63)
        return s_fail(err, errlen, "S3 store URL needs a bucket name of 3 to 63 characters, as in s3://bucket/prefix "
                                   "(got s3://%s)", rest);
    for (size_t i = 0; i < bn; i++) {
        char c = rest[i];
        bool edge = i == 0 || i == bn - 1;
        if (!(islower((unsigned char) c) || isdigit((unsigned char) c) || (!edge && (c == '-' || c == '.'))))
            return s_fail(err, errlen, "bad S3 bucket name \"%.*s\": lower-case letters, digits, '-' and '.' only, "
                                       "starting and ending with a letter or digit", (int) bn, rest);
    }
    self->bucket = strndup(rest, bn);
    const char *prefix = slash ? slash + 1 : "";
    size_t pn = strlen(prefix);
    while (pn > 0 && prefix[pn - 1] == '/')
        pn--;
    self->prefix = strndup(prefix, pn);
    if (!self->bucket || !self->prefix)
        return s_fail(err, errlen, "out of memory");
    if (pn > 0 && s_check_key(self->prefix, false, err, errlen))
        return -1;

    if (!env->access_key || !*env->access_key)
        return s_fail(err, errlen, "an s3:// store needs AWS_ACCESS_KEY_ID (not set)");
    if (!env->secret_key || !*env->secret_key)
        return s_fail(err, errlen, "an s3:// store needs AWS_SECRET_ACCESS_KEY (not set)");
    const char *region = env->region && *env->region ? env->region : "us-east-1";
    for (const char *c = region; *c; c++)
        if (!(islower((unsigned char) *c) || isdigit((unsigned char) *c) || *c == '-'))
            return s_fail(err, errlen, "bad AWS_REGION \"%s\": lower-case letters, digits and '-' only", region);
    self->region = strdup(region);
    self->access_key = strdup(env->access_key);
    self->secret_key = strdup(env->secret_key);
    if (env->session_token && *env->session_token)
        self->session_token = strdup(env->session_token);
    if (!self->region || !self->access_key || !self->secret_key
        || (env->session_token && *env->session_token && !self->session_token))
        return s_fail(err, errlen, "out of memory");

    if (env->endpoint && *env->endpoint)
        self->endpoint = strdup(env->endpoint);
    else if (asprintf(&self->endpoint, "https://s3.%s.amazonaws.com", region) < 0)
        self->endpoint = NULL;
    if (!self->endpoint)
        return s_fail(err, errlen, "out of memory");
    size_t en = strlen(self->endpoint);
    while (en > 0 && self->endpoint[en - 1] == '/')
        self->endpoint[--en] = '\0';
    const char *host = s_starts_with(self->endpoint, "http://")    ? self->endpoint + 7
                       : s_starts_with(self->endpoint, "https://") ? self->endpoint + 8
                                                                   : NULL;
    if (!host || !*host || *host == '/')
        return s_fail(err, errlen, "bad VINTED_S3_ENDPOINT \"%s\": want http://host[:port] or https://host[:port]",
                      self->endpoint);
    if (strpbrk(self->endpoint, "?#@ "))
        return s_fail(err, errlen, "bad VINTED_S3_ENDPOINT \"%s\": no query, fragment, user or spaces", self->endpoint);
    if (asprintf(&self->sigv4, "aws:amz:%s:s3", region) < 0) {
        self->sigv4 = NULL;
        return s_fail(err, errlen, "out of memory");
    }
    if (asprintf(&self->description, "s3://%s%s%s at %s", self->bucket, pn ? "/" : "", self->prefix,
                 self->endpoint) < 0) {
        self->description = NULL;
        return s_fail(err, errlen, "out of memory");
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return s_fail(err, errlen, "curl_global_init failed");
    self->curl = curl_easy_init();
    if (!self->curl)
        return s_fail(err, errlen, "curl_easy_init failed");
    self->seed = (unsigned int) (clock_mono_ms() ^ (int64_t) getpid() ^ (int64_t) (uintptr_t) self);
    return 0;
}

static objstore_t *s_new(const char *url, const objstore_env_t *env, char *err, size_t errlen)
{
    if (!url || !*url) {
        s_fail(err, errlen, "no object store URL (want s3://bucket/prefix or file:///path)");
        return NULL;
    }
    objstore_t *self = calloc(1, sizeof *self);
    if (!self) {
        s_fail(err, errlen, "out of memory");
        return NULL;
    }
    int rc;
    if (s_starts_with(url, "file://")) {
        self->kind = OBJSTORE_FILE;
        rc = s_parse_file_url(self, url + 7, err, errlen);
    }
    else if (s_starts_with(url, "s3://")) {
        self->kind = OBJSTORE_S3;
        rc = s_parse_s3_url(self, url + 5, env, err, errlen);
    }
    else {
        char shown[160];
        rc = s_fail(err, errlen, "unsupported object store URL \"%s\": want s3://bucket/prefix or file:///path",
                    s_shown(url, shown, sizeof shown));
    }
    if (rc != 0)
        objstore_destroy(&self);
    return self;
}

objstore_t *objstore_new(const char *url, char *err, size_t errlen)
{
    objstore_env_t env = {
        .endpoint = getenv("VINTED_S3_ENDPOINT"),
        .access_key = getenv("AWS_ACCESS_KEY_ID"),
        .secret_key = getenv("AWS_SECRET_ACCESS_KEY"),
        .region = getenv("AWS_REGION"),
        .session_token = getenv("AWS_SESSION_TOKEN"),
    };
    return s_new(url, &env, err, errlen);
}

void objstore_destroy(objstore_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    objstore_t *self = *self_p;
    if (self->curl)
        curl_easy_cleanup(self->curl);
    if (self->secret_key)
        memset(self->secret_key, 0, strlen(self->secret_key));
    free(self->description);
    free(self->root);
    free(self->bucket);
    free(self->prefix);
    free(self->endpoint);
    free(self->region);
    free(self->access_key);
    free(self->secret_key);
    free(self->session_token);
    free(self->sigv4);
    free(self);
    *self_p = NULL;
}

const char *objstore_describe(objstore_t *self)
{
    return self ? self->description : "(no store)";
}

/* ------------------------------------------------------------------------- */
/* file:// */

static char *s_file_path(objstore_t *self, const char *key)
{
    char *path = NULL;
    if (asprintf(&path, "%s%s%s", self->root, strcmp(self->root, "/") == 0 ? "" : "/", key) < 0)
        return NULL;
    return path;
}

/* mkdir -p dir (mode 0755). */
static int s_mkdirs(char *dir, char *err, size_t errlen)
{
    struct stat st;
    if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
        return 0;
    for (char *p = dir + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char c = *p;
            *p = '\0';
            int rc = mkdir(dir, 0755);
            int e = errno;
            if (rc != 0 && e == EEXIST && (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))) {
                *p = c;
                return s_fail(err, errlen, "cannot create directory %.*s: a file of that name exists",
                              (int) (p - dir), dir);
            }
            if (rc != 0 && e != EEXIST) {
                int r = s_fail(err, errlen, "cannot create directory %s: %s", dir, strerror(e));
                *p = c;
                return r;
            }
            *p = c;
            if (c == '\0')
                break;
        }
    }
    return 0;
}

static int s_file_put(objstore_t *self, const char *key, const void *data, size_t len, char *err, size_t errlen)
{
    char *path = s_file_path(self, key);
    char *tmp = NULL;
    int fd = -1;
    int rc = -1;
    if (!path) {
        s_fail(err, errlen, "out of memory");
        goto done;
    }
    char *slash = strrchr(path, '/');
    *slash = '\0';
    if (s_mkdirs(path, err, errlen)) {
        *slash = '/';
        goto done;
    }
    if (asprintf(&tmp, "%s/%sXXXXXX", path, OBJSTORE_TMP_PREFIX) < 0) {
        tmp = NULL;
        *slash = '/';
        s_fail(err, errlen, "out of memory");
        goto done;
    }
    *slash = '/';
    fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        s_fail(err, errlen, "put %s: cannot create a temp file in %.*s: %s", key, (int) (slash - path), path,
               strerror(errno));
        goto done;
    }
    if (fchmod(fd, 0644) != 0) {
        s_fail(err, errlen, "put %s: fchmod %s: %s", key, tmp, strerror(errno));
        goto done;
    }
    const char *p = data;
    size_t left = len;
    while (left > 0) {
        ssize_t n = write(fd, p, left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            s_fail(err, errlen, "put %s: write %s: %s", key, tmp, strerror(errno));
            goto done;
        }
        p += n;
        left -= (size_t) n;
    }
    if (fsync(fd) != 0) {
        s_fail(err, errlen, "put %s: fsync %s: %s", key, tmp, strerror(errno));
        goto done;
    }
    int c = close(fd);
    fd = -1;
    if (c != 0) {
        s_fail(err, errlen, "put %s: close %s: %s", key, tmp, strerror(errno));
        goto done;
    }
    if (rename(tmp, path) != 0) {
        s_fail(err, errlen, "put %s: rename to %s: %s%s", key, path, strerror(errno),
               errno == EISDIR ? " (the key is a directory: other keys start with it and a \"/\")" : "");
        goto done;
    }
    rc = 0;
done:
    if (fd >= 0)
        close(fd);
    if (rc != 0 && tmp)
        unlink(tmp);
    free(tmp);
    free(path);
    return rc;
}

static int s_file_get(objstore_t *self, const char *key, uint8_t **data, size_t *len, char *err, size_t errlen)
{
    char *path = s_file_path(self, key);
    if (!path)
        return s_fail(err, errlen, "out of memory");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        int rc = e == ENOENT || e == ENOTDIR ? 1 : s_fail(err, errlen, "get %s: open %s: %s", key, path, strerror(e));
        free(path);
        return rc;
    }
    struct stat st;
    if (fstat(fd, &st) != 0)
        st.st_mode = 0;
    if (!S_ISREG(st.st_mode)) {
        int rc = S_ISDIR(st.st_mode) ? 1 : s_fail(err, errlen, "get %s: %s is not a regular file", key, path);
        close(fd);
        free(path);
        return rc;
    }
    s_buf_t b = { 0 };
    int rc = s_buf_add(&b, "", 0);
    char chunk[65536];
    while (rc == 0) {
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            rc = s_fail(err, errlen, "get %s: read %s: %s", key, path, strerror(errno));
        else if (n == 0)
            break;
        else if (s_buf_add(&b, chunk, (size_t) n))
            rc = s_fail(err, errlen, "get %s: out of memory", key);
    }
    if (rc == 0 && b.data == NULL)
        rc = s_fail(err, errlen, "get %s: out of memory", key);
    close(fd);
    free(path);
    if (rc != 0) {
        s_buf_free(&b);
        return rc;
    }
    *data = (uint8_t *) b.data;
    *len = b.len;
    return 0;
}

static int s_file_exists(objstore_t *self, const char *key, int64_t *size, char *err, size_t errlen)
{
    char *path = s_file_path(self, key);
    if (!path)
        return s_fail(err, errlen, "out of memory");
    struct stat st;
    int rc;
    if (stat(path, &st) != 0)
        rc = errno == ENOENT || errno == ENOTDIR ? 0 : s_fail(err, errlen, "exists %s: stat %s: %s", key, path,
                                                              strerror(errno));
    else if (S_ISREG(st.st_mode)) {
        rc = 1;
        if (size)
            *size = (int64_t) st.st_size;
    }
    else
        rc = 0;
    free(path);
    return rc;
}

/* Collect the keys under dir (whose key prefix is dirkey: "" or "a/b/") that start
   with prefix and come after start_after. Descends only into directories that can
   hold such keys. */
static int s_file_walk(const char *dir, const char *dirkey, const char *prefix, const char *start_after,
                       s_entries_t *out, char *err, size_t errlen)
{
    DIR *d = opendir(dir);
    if (!d) {
        if (errno == ENOENT || errno == ENOTDIR)
            return 0;
        return s_fail(err, errlen, "list: opendir %s: %s", dir, strerror(errno));
    }
    int rc = 0;
    size_t plen = strlen(prefix);
    struct dirent *de;
    while (rc == 0) {
        errno = 0;
        de = readdir(d);
        if (!de) {
            if (errno != 0)
                rc = s_fail(err, errlen, "list: readdir %s: %s", dir, strerror(errno));
            break;
        }
        const char *name = de->d_name;
        if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0 || s_starts_with(name, OBJSTORE_TMP_PREFIX))
            continue;
        char *key = NULL;
        if (asprintf(&key, "%s%s", dirkey, name) < 0) {
            rc = s_fail(err, errlen, "out of memory");
            break;
        }
        struct stat st;
        if (fstatat(dirfd(d), name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
            if (errno != ENOENT) /* removed meanwhile: not there */
                rc = s_fail(err, errlen, "list: stat %s/%s: %s", dir, name, strerror(errno));
            free(key);
            continue;
        }
        size_t klen = strlen(key);
        if (S_ISDIR(st.st_mode)) {
            /* keys inside start with key + "/": wanted when that and the prefix
               agree on their common length (one is a prefix of the other) */
            bool wanted = strncmp(key, prefix, plen < klen ? plen : klen) == 0
                          && (plen <= klen || prefix[klen] == '/');
            if (wanted) {
                char *sub = NULL, *subkey = NULL;
                if (asprintf(&sub, "%s/%s", dir, name) < 0)
                    sub = NULL;
                if (asprintf(&subkey, "%s/", key) < 0)
                    subkey = NULL;
                if (!sub || !subkey)
                    rc = s_fail(err, errlen, "out of memory");
                else
                    rc = s_file_walk(sub, subkey, prefix, start_after, out, err, errlen);
                free(sub);
                free(subkey);
            }
            free(key);
        }
        else if (S_ISREG(st.st_mode) && klen >= plen && strncmp(key, prefix, plen) == 0
                 && (!start_after || strcmp(key, start_after) > 0)) {
            char why[200];
            if (s_check_key(key, false, why, sizeof why) != 0) {
                log_warn("objstore: file not listed", "dir=%s name=%s reason=%s", log_str(dir), log_str(name),
                         log_str(why));
                free(key);
            }
            else if (s_entries_add(out, key, (int64_t) st.st_size)) {
                free(key);
                rc = s_fail(err, errlen, "out of memory");
            }
        }
        else
            free(key);
    }
    closedir(d);
    return rc;
}

static int s_entry_cmp(const void *a, const void *b)
{
    return strcmp(((const s_entry_t *) a)->key, ((const s_entry_t *) b)->key);
}

static int s_file_list(objstore_t *self, const char *prefix, const char *start_after,
                       int (*fn)(void *arg, const char *key, int64_t size), void *arg, char *err, size_t errlen)
{
    /* start at the deepest directory the prefix names: "raw/cat" -> "raw/" */
    const char *slash = strrchr(prefix, '/');
    size_t dn = slash ? (size_t) (slash - prefix) : 0;
    char *dir = NULL, *dirkey = NULL;
    if (asprintf(&dir, "%s%s%.*s", self->root, dn ? "/" : "", (int) dn, prefix) < 0)
        dir = NULL;
    if (asprintf(&dirkey, "%.*s%s", (int) dn, prefix, dn ? "/" : "") < 0)
        dirkey = NULL;
    s_entries_t entries = { 0 };
    int rc = !dir || !dirkey ? s_fail(err, errlen, "out of memory")
                             : s_file_walk(dir, dirkey, prefix, start_after, &entries, err, errlen);
    free(dir);
    free(dirkey);
    if (rc == 0 && entries.n > 1)
        qsort(entries.v, entries.n, sizeof entries.v[0], s_entry_cmp);
    for (size_t i = 0; rc == 0 && i < entries.n; i++)
        if (fn(arg, entries.v[i].key, entries.v[i].size) != 0)
            break;
    s_entries_free(&entries);
    return rc;
}

/* ------------------------------------------------------------------------- */
/* s3:// */

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
    return s_buf_add(arg, data, n) == 0 ? n : 0;
}

/* The URL of key (NULL: of the bucket itself) into b. */
static int s_s3_url(objstore_t *self, const char *key, s_buf_t *b)
{
    if (s_buf_str(b, self->endpoint) || s_buf_str(b, "/") || s_encode(b, self->bucket, false))
        return -1;
    if (!key)
        return 0;
    if (s_buf_str(b, "/"))
        return -1;
    if (*self->prefix && (s_encode(b, self->prefix, true) || s_buf_str(b, "/")))
        return -1;
    return s_encode(b, key, true);
}

/* The ListObjectsV2 URL, its query parameters sorted by name and encoded as SigV4's
   canonical query string wants them (so any signer agrees with what is sent). */
static int s_s3_list_url(objstore_t *self, const char *prefix, const char *start_after, const char *token,
                         s_buf_t *b)
{
    if (s_s3_url(self, NULL, b))
        return -1;
    int rc = 0;
    if (token && *token)
        rc |= s_buf_str(b, "?continuation-token=") | s_encode(b, token, false);
    rc |= s_buf_str(b, token && *token ? "&list-type=2" : "?list-type=2");
    if (prefix && *prefix)
        rc |= s_buf_str(b, "&prefix=") | s_encode(b, prefix, false);
    if (start_after && *start_after)
        rc |= s_buf_str(b, "&start-after=") | s_encode(b, start_after, false);
    return rc ? -1 : 0;
}

/* The store's full key for key: "prefix/key" or key. */
static char *s_s3_full(objstore_t *self, const char *key)
{
    char *full = NULL;
    if (asprintf(&full, "%s%s%s", self->prefix, *self->prefix ? "/" : "", key ? key : "") < 0)
        return NULL;
    return full;
}

typedef struct {
    long status;
    s_buf_t body;
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

/* "Code: Message" of an S3 error body, or "" */
static void s_s3_error_text(const s_buf_t *body, char *out, size_t size)
{
    out[0] = '\0';
    if (!body->data || body->len == 0)
        return;
    const char *end = body->data + body->len;
    const char *ct, *cte, *mt, *mte;
    bool code = s_xml_find(body->data, end, "Code", &ct, &cte) != NULL;
    bool msg = s_xml_find(body->data, end, "Message", &mt, &mte) != NULL;
    if (code && msg)
        snprintf(out, size, " %.*s (%.*s)", (int) (cte - ct > 64 ? 64 : cte - ct), ct,
                 (int) (mte - mt > 200 ? 200 : mte - mt), mt);
    else if (code)
        snprintf(out, size, " %.*s", (int) (cte - ct > 64 ? 64 : cte - ct), ct);
}

/* Does an S3 error body carry this <Code>? */
static bool s_s3_error_is(const s_buf_t *body, const char *code)
{
    const char *ct, *cte;
    if (!body->data || !s_xml_find(body->data, body->data + body->len, "Code", &ct, &cte))
        return false;
    return (size_t) (cte - ct) == strlen(code) && memcmp(ct, code, strlen(code)) == 0;
}

/* One S3 request with retries. method: "PUT", "GET" or "HEAD". 0 with resp->status
   for any answer that is not worth retrying; -1 with a reason (after the attempts)
   on network errors and 429/5xx. what names the operation in messages. */
static int s_s3_request(objstore_t *self, const char *method, const char *url, const void *body, size_t len,
                        const char *content_type, const char *what, s_resp_t *resp, char *err, size_t errlen)
{
    char sha[65];
    if (s_sha256_hex(body, len, sha))
        return s_fail(err, errlen, "%s: SHA-256 failed", what);
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
            return s_fail(err, errlen, "AWS_SESSION_TOKEN is too long");
        }
        snprintf(h_token, sizeof h_token, "x-amz-security-token: %s", self->session_token);
        ok = (h = curl_slist_append(headers, h_token)) != NULL;
        headers = ok ? h : headers;
    }
    if (!ok) {
        curl_slist_free_all(headers);
        return s_fail(err, errlen, "out of memory");
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
        s_buf_free(&resp->body);
        resp->status = 0;
        resp->length = -1;
        curl_easy_reset(c); /* keeps the connection cache */
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, curl_err);
        curl_easy_setopt(c, CURLOPT_USERAGENT, "vinted-pipeline-objstore/1");
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long) OBJSTORE_CONNECT_MS);
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1024L);
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, (long) OBJSTORE_LOW_SPEED_S);
        curl_easy_setopt(c, CURLOPT_AWS_SIGV4, self->sigv4);
        curl_easy_setopt(c, CURLOPT_USERNAME, self->access_key);
        curl_easy_setopt(c, CURLOPT_PASSWORD, self->secret_key);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, s_on_write);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, &resp->body);
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
            s_s3_error_text(&resp->body, text, sizeof text);
            snprintf(last, sizeof last, "HTTP %ld%s", resp->status, text);
            retry = resp->status == 429 || resp->status >= 500
                    || (resp->status == 400 && s_s3_error_is(&resp->body, "RequestTimeout"));
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
        s_fail(err, errlen, "%s: %s (%d attempt%s over %.1f s%s)", what, last, tried, tried == 1 ? "" : "s",
               (double) (clock_mono_ms() - started) / 1000.0, tried == 1 ? ", not retryable" : "");
    }
    return rc;
}

/* The reason for an unexpected answer. */
static int s_s3_unexpected(const char *what, s_resp_t *resp, char *err, size_t errlen)
{
    char text[300];
    s_s3_error_text(&resp->body, text, sizeof text);
    const char *hint = resp->status == 403 ? " (check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_REGION)"
                       : resp->status == 301 ? " (the bucket lives in another region: check AWS_REGION)"
                                             : "";
    return s_fail(err, errlen, "%s: HTTP %ld%s%s", what, resp->status, text, hint);
}

static int s_s3_put(objstore_t *self, const char *key, const void *data, size_t len, const char *content_type,
                    char *err, size_t errlen)
{
    s_buf_t url = { 0 };
    s_resp_t resp = { 0 };
    char what[200];
    snprintf(what, sizeof what, "PUT %.160s", key);
    int rc = s_s3_url(self, key, &url) ? s_fail(err, errlen, "out of memory")
                                       : s_s3_request(self, "PUT", url.data, data, len, content_type, what, &resp,
                                                      err, errlen);
    if (rc == 0 && (resp.status < 200 || resp.status > 299))
        rc = s_s3_unexpected(what, &resp, err, errlen);
    s_buf_free(&url);
    s_buf_free(&resp.body);
    return rc;
}

static int s_s3_get(objstore_t *self, const char *key, uint8_t **data, size_t *len, char *err, size_t errlen)
{
    s_buf_t url = { 0 };
    s_resp_t resp = { 0 };
    char what[200];
    snprintf(what, sizeof what, "GET %.160s", key);
    int rc = s_s3_url(self, key, &url) ? s_fail(err, errlen, "out of memory")
                                       : s_s3_request(self, "GET", url.data, NULL, 0, NULL, what, &resp, err, errlen);
    if (rc == 0) {
        if (resp.status == 404 && !s_s3_error_is(&resp.body, "NoSuchBucket"))
            rc = 1;
        else if (resp.status != 200)
            rc = s_s3_unexpected(what, &resp, err, errlen);
        else if (!resp.body.data && s_buf_add(&resp.body, "", 0))
            rc = s_fail(err, errlen, "out of memory");
        else {
            *data = (uint8_t *) resp.body.data;
            *len = resp.body.len;
            resp.body.data = NULL;
        }
    }
    s_buf_free(&url);
    s_buf_free(&resp.body);
    return rc;
}

static int s_s3_exists(objstore_t *self, const char *key, int64_t *size, char *err, size_t errlen)
{
    s_buf_t url = { 0 };
    s_resp_t resp = { 0 };
    char what[200];
    snprintf(what, sizeof what, "HEAD %.160s", key);
    int rc = s_s3_url(self, key, &url) ? s_fail(err, errlen, "out of memory")
                                       : s_s3_request(self, "HEAD", url.data, NULL, 0, NULL, what, &resp, err, errlen);
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
    s_buf_free(&url);
    s_buf_free(&resp.body);
    return rc;
}

static int s_s3_list(objstore_t *self, const char *prefix, const char *start_after,
                     int (*fn)(void *arg, const char *key, int64_t size), void *arg, char *err, size_t errlen)
{
    char *full_prefix = s_s3_full(self, prefix);
    char *full_after = start_after ? s_s3_full(self, start_after) : NULL;
    char *strip = s_s3_full(self, ""); /* "prefix/" or "" */
    char *token = NULL;
    int rc = !full_prefix || !strip || (start_after && !full_after) ? s_fail(err, errlen, "out of memory") : 0;
    char what[200];
    snprintf(what, sizeof what, "LIST %.160s", prefix ? prefix : "");
    bool stop = false;
    int pages = 0;
    while (rc == 0 && !stop) {
        s_buf_t url = { 0 };
        s_resp_t resp = { 0 };
        /* start-after only on the first page: the token carries the position after it */
        if (s_s3_list_url(self, full_prefix, pages == 0 ? full_after : NULL, token, &url))
            rc = s_fail(err, errlen, "out of memory");
        else
            rc = s_s3_request(self, "GET", url.data, NULL, 0, NULL, what, &resp, err, errlen);
        if (rc == 0 && resp.status != 200)
            rc = s_s3_unexpected(what, &resp, err, errlen);
        s_page_t page = { 0 };
        if (rc == 0 && s_list_parse(resp.body.data ? resp.body.data : "", resp.body.len, &page, err, errlen))
            rc = -1;
        pages++;
        size_t sn = strlen(strip);
        for (size_t i = 0; rc == 0 && !stop && i < page.entries.n; i++) {
            const char *key = page.entries.v[i].key;
            if (strncmp(key, strip, sn) != 0)
                rc = s_fail(err, errlen, "%s: the server listed \"%.200s\", outside the prefix", what, key);
            else if (fn(arg, key + sn, page.entries.v[i].size) != 0)
                stop = true;
        }
        if (rc == 0 && !page.truncated)
            stop = true;
        if (rc == 0 && !stop) {
            if (token && strcmp(token, page.next_token) == 0)
                rc = s_fail(err, errlen, "%s: the server repeated continuation token", what);
            free(token);
            token = page.next_token;
            page.next_token = NULL;
        }
        s_page_free(&page);
        s_buf_free(&url);
        s_buf_free(&resp.body);
    }
    free(token);
    free(full_prefix);
    free(full_after);
    free(strip);
    return rc;
}

/* ------------------------------------------------------------------------- */
/* the interface */

int objstore_put(objstore_t *self, const char *key, const void *data, size_t len, const char *content_type,
                 char *err, size_t errlen)
{
    assert(self);
    if (s_check_key(key, false, err, errlen))
        return -1;
    if (!data && len > 0)
        return s_fail(err, errlen, "put %s: no data", key);
    if (self->kind == OBJSTORE_FILE)
        return s_file_put(self, key, data, len, err, errlen);
    return s_s3_put(self, key, data, len, content_type, err, errlen);
}

int objstore_get(objstore_t *self, const char *key, uint8_t **data, size_t *len, char *err, size_t errlen)
{
    assert(self && data && len);
    *data = NULL;
    *len = 0;
    if (s_check_key(key, false, err, errlen))
        return -1;
    if (self->kind == OBJSTORE_FILE)
        return s_file_get(self, key, data, len, err, errlen);
    return s_s3_get(self, key, data, len, err, errlen);
}

int objstore_exists(objstore_t *self, const char *key, int64_t *size, char *err, size_t errlen)
{
    assert(self);
    if (s_check_key(key, false, err, errlen))
        return -1;
    if (self->kind == OBJSTORE_FILE)
        return s_file_exists(self, key, size, err, errlen);
    return s_s3_exists(self, key, size, err, errlen);
}

int objstore_list(objstore_t *self, const char *prefix, const char *start_after,
                  int (*fn)(void *arg, const char *key, int64_t size), void *arg, char *err, size_t errlen)
{
    assert(self && fn);
    if (!prefix)
        prefix = "";
    if (s_check_key(prefix, true, err, errlen))
        return -1;
    if (start_after && strlen(start_after) > OBJSTORE_KEY_MAX)
        return s_fail(err, errlen, "list: start_after longer than %d bytes", OBJSTORE_KEY_MAX);
    if (self->kind == OBJSTORE_FILE)
        return s_file_list(self, prefix, start_after, fn, arg, err, errlen);
    return s_s3_list(self, prefix, start_after, fn, arg, err, errlen);
}

/* ------------------------------------------------------------------------- */
/* self-test */

typedef struct {
    char keys[16][64];
    int64_t sizes[16];
    int n;
    int stop_after; /* stop when n reaches it (0: never) */
} s_collect_t;

static int s_collect(void *arg, const char *key, int64_t size)
{
    s_collect_t *c = arg;
    assert(c->n < 16);
    snprintf(c->keys[c->n], sizeof c->keys[0], "%s", key);
    c->sizes[c->n] = size;
    c->n++;
    return c->stop_after && c->n >= c->stop_after;
}

static int s_test_remove(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void) st;
    (void) type;
    (void) ftw;
    return remove(path);
}

static void s_test_file(bool verbose)
{
    char dir[] = "/tmp/objstore-test-XXXXXX";
    assert(mkdtemp(dir));
    char url[128], err[512];
    snprintf(url, sizeof url, "file://%s/store/", dir);
    objstore_t *store = objstore_new(url, err, sizeof err);
    assert(store);
    if (verbose)
        printf("\n  store: %s\n", objstore_describe(store));
    char want[128];
    snprintf(want, sizeof want, "file://%s/store", dir);
    assert(strcmp(objstore_describe(store), want) == 0);

    /* nothing yet: the directory does not even exist */
    uint8_t *data = NULL;
    size_t len = 99;
    int64_t size = -1;
    assert(objstore_get(store, "a", &data, &len, err, sizeof err) == 1 && data == NULL && len == 0);
    assert(objstore_exists(store, "a", &size, err, sizeof err) == 0);
    s_collect_t c = { 0 };
    assert(objstore_list(store, "", NULL, s_collect, &c, err, sizeof err) == 0 && c.n == 0);

    /* put, nested keys, binary data with NULs, empty object */
    const uint8_t bin[] = { 0, 1, 2, 0, 255, 0 };
    assert(objstore_put(store, "raw/b/2.bin", bin, sizeof bin, NULL, err, sizeof err) == 0);
    assert(objstore_put(store, "raw/a/1.json", "{}", 2, "application/json", err, sizeof err) == 0);
    assert(objstore_put(store, "raw/a/10.json", "[1]", 3, NULL, err, sizeof err) == 0);
    assert(objstore_put(store, "raw/a-z", "x", 1, NULL, err, sizeof err) == 0);
    assert(objstore_put(store, "empty", "", 0, NULL, err, sizeof err) == 0);
    assert(objstore_put(store, "img/ü +.jpg", "jpg", 3, "image/jpeg", err, sizeof err) == 0);

    assert(objstore_get(store, "raw/b/2.bin", &data, &len, err, sizeof err) == 0);
    assert(len == sizeof bin && memcmp(data, bin, len) == 0);
    free(data);
    assert(objstore_get(store, "empty", &data, &len, err, sizeof err) == 0 && len == 0 && data != NULL);
    free(data);
    assert(objstore_exists(store, "raw/a/10.json", &size, err, sizeof err) == 1 && size == 3);
    assert(objstore_exists(store, "raw/a", &size, err, sizeof err) == 0); /* a "directory" is no object */
    assert(objstore_get(store, "raw/a", &data, &len, err, sizeof err) == 1);
    assert(objstore_get(store, "empty/x", &data, &len, err, sizeof err) == 1); /* under a file */

    /* overwrite; no temp file left behind */
    assert(objstore_put(store, "raw/a/1.json", "{\"v\":2}", 7, NULL, err, sizeof err) == 0);
    assert(objstore_get(store, "raw/a/1.json", &data, &len, err, sizeof err) == 0);
    assert(len == 7 && memcmp(data, "{\"v\":2}", 7) == 0);
    free(data);
    char path[256];
    snprintf(path, sizeof path, "%s/store/raw/a/1.json", dir);
    struct stat st;
    assert(stat(path, &st) == 0 && (st.st_mode & 0777) == 0644);
    DIR *d;
    snprintf(path, sizeof path, "%s/store/raw/a", dir);
    assert((d = opendir(path)));
    struct dirent *de;
    int files = 0;
    while ((de = readdir(d)))
        if (de->d_name[0] != '.')
            files++;
        else
            assert(strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0);
    closedir(d);
    assert(files == 2);
    /* a stray temp file (a crashed put) is not listed */
    snprintf(path, sizeof path, "%s/store/raw/a/" OBJSTORE_TMP_PREFIX "abc123", dir);
    FILE *f = fopen(path, "w");
    assert(f);
    fclose(f);

    /* list: lexical (byte) order, prefixes that are not directories, start_after, stop */
    memset(&c, 0, sizeof c);
    assert(objstore_list(store, NULL, NULL, s_collect, &c, err, sizeof err) == 0);
    const char *all[] = { "empty", "img/ü +.jpg", "raw/a-z", "raw/a/1.json", "raw/a/10.json", "raw/b/2.bin" };
    assert(c.n == 6);
    for (int i = 0; i < 6; i++)
        assert(strcmp(c.keys[i], all[i]) == 0);
    assert(c.sizes[0] == 0 && c.sizes[3] == 7 && c.sizes[5] == (int64_t) sizeof bin);
    memset(&c, 0, sizeof c);
    assert(objstore_list(store, "raw/a", NULL, s_collect, &c, err, sizeof err) == 0);
    assert(c.n == 3 && strcmp(c.keys[0], "raw/a-z") == 0 && strcmp(c.keys[2], "raw/a/10.json") == 0);
    memset(&c, 0, sizeof c);
    assert(objstore_list(store, "raw/a/", NULL, s_collect, &c, err, sizeof err) == 0);
    assert(c.n == 2 && strcmp(c.keys[0], "raw/a/1.json") == 0);
    memset(&c, 0, sizeof c);
    assert(objstore_list(store, "raw/a/1", NULL, s_collect, &c, err, sizeof err) == 0 && c.n == 2);
    memset(&c, 0, sizeof c);
    assert(objstore_list(store, "raw/", "raw/a/1.json", s_collect, &c, err, sizeof err) == 0);
    assert(c.n == 2 && strcmp(c.keys[0], "raw/a/10.json") == 0 && strcmp(c.keys[1], "raw/b/2.bin") == 0);
    memset(&c, 0, sizeof c);
    assert(objstore_list(store, "nothing/here", NULL, s_collect, &c, err, sizeof err) == 0 && c.n == 0);
    memset(&c, 0, sizeof c);
    c.stop_after = 2;
    assert(objstore_list(store, "", NULL, s_collect, &c, err, sizeof err) == 0 && c.n == 2);

    /* bad keys are refused with a reason, and nothing is written */
    const char *bad[] = { "", "/abs", "a//b", "a/", "../x", "a/../b", "a/./b", ".", "a/..", "a\nb",
                          "bad\xff utf8", "\xc3", "x/" OBJSTORE_TMP_PREFIX "1" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        assert(objstore_put(store, bad[i], "x", 1, NULL, err, sizeof err) == -1);
        assert(err[0] != '\0');
        if (verbose)
            printf("  refused: %s\n", err);
        assert(objstore_get(store, bad[i], &data, &len, err, sizeof err) == -1);
        assert(objstore_exists(store, bad[i], &size, err, sizeof err) == -1);
    }
    assert(objstore_put(store, NULL, "x", 1, NULL, err, sizeof err) == -1);
    char longkey[OBJSTORE_KEY_MAX + 2];
    memset(longkey, 'k', sizeof longkey - 1);
    longkey[sizeof longkey - 1] = '\0';
    assert(objstore_put(store, longkey, "x", 1, NULL, err, sizeof err) == -1 && strstr(err, "longer"));
    assert(objstore_list(store, "../", NULL, s_collect, &c, err, sizeof err) == -1);
    assert(objstore_list(store, "/x", NULL, s_collect, &c, err, sizeof err) == -1);
    /* a key under an existing object: the parent is a file */
    assert(objstore_put(store, "empty/x", "x", 1, NULL, err, sizeof err) == -1);
    memset(&c, 0, sizeof c);
    assert(objstore_list(store, "", NULL, s_collect, &c, err, sizeof err) == 0 && c.n == 6);
    objstore_destroy(&store);
    assert(store == NULL);
    objstore_destroy(&store);

    /* a root that is a file */
    snprintf(url, sizeof url, "file://%s/store/empty", dir);
    assert(objstore_new(url, err, sizeof err) == NULL && strstr(err, "not a directory"));

    assert(nftw(dir, s_test_remove, 16, FTW_DEPTH | FTW_PHYS) == 0);
}

static void s_test_urls(bool verbose)
{
    char err[512];
    objstore_env_t env = { .access_key = "AKIDEXAMPLE", .secret_key = "secret/Key+1", .region = NULL,
                           .endpoint = "http://127.0.0.1:4568/" };
    char here[2048], want_here[2100], *here_url = "file://./var/store";
    assert(getcwd(here, sizeof here));
    objstore_t *rel = objstore_new(here_url, err, sizeof err);
    assert(rel);
    snprintf(want_here, sizeof want_here, "file://%s/var/store", strcmp(here, "/") == 0 ? "" : here);
    assert(strcmp(objstore_describe(rel), want_here) == 0);
    objstore_destroy(&rel);
    const char *bad[] = { NULL, "", "http://x", "file://relative/dir", "s3://", "s3://ab", "s3://Upper",
                          "s3://-bucket", "s3://bucket_x", "s3://bucket/a//b", "s3://bucket/../x" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        assert(s_new(bad[i], &env, err, sizeof err) == NULL);
        assert(err[0]);
        if (verbose)
            printf("  refused URL %s: %s\n", bad[i] ? bad[i] : "(null)", err);
    }
    objstore_env_t noid = env;
    noid.access_key = "";
    assert(s_new("s3://vinted/raw", &noid, err, sizeof err) == NULL && strstr(err, "AWS_ACCESS_KEY_ID"));
    objstore_env_t nosecret = env;
    nosecret.secret_key = NULL;
    assert(s_new("s3://vinted/raw", &nosecret, err, sizeof err) == NULL && strstr(err, "AWS_SECRET_ACCESS_KEY"));
    objstore_env_t badend = env;
    badend.endpoint = "ftp://host";
    assert(s_new("s3://vinted", &badend, err, sizeof err) == NULL && strstr(err, "VINTED_S3_ENDPOINT"));
    objstore_env_t badregion = env;
    badregion.region = "EU West";
    assert(s_new("s3://vinted", &badregion, err, sizeof err) == NULL && strstr(err, "AWS_REGION"));

    /* defaults: us-east-1 and its AWS endpoint */
    objstore_env_t aws = env;
    aws.endpoint = NULL;
    objstore_t *s = s_new("s3://my.bucket-1/", &aws, err, sizeof err);
    assert(s);
    assert(strcmp(objstore_describe(s), "s3://my.bucket-1 at https://s3.us-east-1.amazonaws.com") == 0);
    assert(strcmp(s->sigv4, "aws:amz:us-east-1:s3") == 0 && strcmp(s->prefix, "") == 0);
    s_buf_t b = { 0 };
    assert(s_s3_url(s, "a b/c", &b) == 0 && strcmp(b.data, "https://s3.us-east-1.amazonaws.com/my.bucket-1/a%20b/c") == 0);
    s_buf_free(&b);
    objstore_destroy(&s);
    /* the secret never shows in the description */
    s = s_new("s3://vinted/raw/area/", &env, err, sizeof err);
    assert(s);
    assert(strcmp(objstore_describe(s), "s3://vinted/raw/area at http://127.0.0.1:4568") == 0);
    assert(!strstr(objstore_describe(s), "secret") && !strstr(objstore_describe(s), "AKID"));

    /* object URLs: RFC 3986 unreserved kept, "/" kept, UTF-8 bytes and the rest %XX */
    assert(s_s3_url(s, "img/ü +&=~_-.x(1)*'!$,;:@", &b) == 0);
    assert(strcmp(b.data, "http://127.0.0.1:4568/vinted/raw/area/img/%C3%BC%20%2B%26%3D~_-.x%281%29%2A%27%21%24%2C%3B%3A%40")
           == 0);
    s_buf_free(&b);
    /* list URLs: parameters sorted by name, "/" encoded in values */
    assert(s_s3_list_url(s, "raw/area/a b/", "raw/area/a b/x+y", NULL, &b) == 0);
    assert(strcmp(b.data, "http://127.0.0.1:4568/vinted?list-type=2&prefix=raw%2Farea%2Fa%20b%2F"
                          "&start-after=raw%2Farea%2Fa%20b%2Fx%2By") == 0);
    s_buf_free(&b);
    assert(s_s3_list_url(s, "", NULL, "1/Ab+c==", &b) == 0);
    assert(strcmp(b.data, "http://127.0.0.1:4568/vinted?continuation-token=1%2FAb%2Bc%3D%3D&list-type=2") == 0);
    s_buf_free(&b);
    char *full = s_s3_full(s, "k");
    assert(strcmp(full, "raw/area/k") == 0);
    free(full);
    /* bad keys are refused before any network */
    assert(objstore_put(s, "a//b", "x", 1, NULL, err, sizeof err) == -1 && strstr(err, "empty segment"));
    objstore_destroy(&s);

    char sha[65];
    assert(s_sha256_hex("", 0, sha) == 0 && strcmp(sha, OBJSTORE_EMPTY_SHA256) == 0);
    assert(s_sha256_hex("abc", 3, sha) == 0
           && strcmp(sha, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") == 0);
}

static void s_test_xml(bool verbose)
{
    char err[256];
    const char *xml =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
        "<Name>vinted</Name><Prefix>raw/</Prefix><KeyCount>3</KeyCount><MaxKeys>3</MaxKeys>"
        "<IsTruncated>true</IsTruncated>"
        "<Contents><Key>raw/a&amp;b &lt;1&gt; &quot;q&quot; &apos;s&apos;</Key>"
        "<LastModified>2026-11-25T17:00:00.000Z</LastModified><ETag>&quot;9a0364b9e99bb480dd25e1f0284c8555&quot;</ETag>"
        "<Size>7</Size><StorageClass>STANDARD</StorageClass></Contents>"
        "<Contents><Key>raw/&#252;&#x2b;&#X1F600;</Key><Size>0</Size></Contents>"
        "<Contents>\n  <Key>raw/z</Key>\n  <Size>12345678901</Size>\n</Contents>"
        "<NextContinuationToken>1/abc+def=&amp;</NextContinuationToken>"
        "</ListBucketResult>";
    s_page_t page;
    assert(s_list_parse(xml, strlen(xml), &page, err, sizeof err) == 0);
    assert(page.entries.n == 3);
    assert(strcmp(page.entries.v[0].key, "raw/a&b <1> \"q\" 's'") == 0 && page.entries.v[0].size == 7);
    assert(strcmp(page.entries.v[1].key, "raw/\xc3\xbc+\xf0\x9f\x98\x80") == 0 && page.entries.v[1].size == 0);
    assert(strcmp(page.entries.v[2].key, "raw/z") == 0 && page.entries.v[2].size == 12345678901LL);
    assert(page.truncated && strcmp(page.next_token, "1/abc+def=&") == 0);
    s_page_free(&page);

    const char *last = "<ListBucketResult><IsTruncated>false</IsTruncated><KeyCount>0</KeyCount></ListBucketResult>";
    assert(s_list_parse(last, strlen(last), &page, err, sizeof err) == 0);
    assert(page.entries.n == 0 && !page.truncated && page.next_token == NULL);
    s_page_free(&page);

    const char *bad[] = {
        "<Error><Code>AccessDenied</Code></Error>",
        "<ListBucketResult><Contents><Key>a</Key></Contents></ListBucketResult>",
        "<ListBucketResult><Contents><Key>a</Key><Size>-1</Size></Contents></ListBucketResult>",
        "<ListBucketResult><Contents><Key>a&bogus;</Key><Size>1</Size></Contents></ListBucketResult>",
        "<ListBucketResult><Contents><Key>a&#0;</Key><Size>1</Size></Contents></ListBucketResult>",
        "<ListBucketResult><Contents><Key>a&#xD800;</Key><Size>1</Size></Contents></ListBucketResult>",
        "<ListBucketResult><Contents><Key>a &amp</Key><Size>1</Size></Contents></ListBucketResult>",
        "<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        assert(s_list_parse(bad[i], strlen(bad[i]), &page, err, sizeof err) == -1);
        assert(err[0] && page.entries.n == 0 && page.next_token == NULL);
        if (verbose)
            printf("  refused XML %zu: %s\n", i, err);
    }

    s_buf_t body = { 0 };
    const char *e = "<?xml version=\"1.0\"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate."
                    "</Message></Error>";
    assert(s_buf_str(&body, e) == 0);
    char text[300];
    s_s3_error_text(&body, text, sizeof text);
    assert(strcmp(text, " SlowDown (Please reduce your request rate.)") == 0);
    assert(s_s3_error_is(&body, "SlowDown") && !s_s3_error_is(&body, "Slow"));
    s_buf_free(&body);
}

void objstore_test(bool verbose)
{
    s_test_file(verbose);
    s_test_urls(verbose);
    s_test_xml(verbose);
}
