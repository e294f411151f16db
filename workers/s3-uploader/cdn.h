/*  cdn.h - photo downloads from Vinted's image CDN for the store stage: one
    libcurl easy handle kept for the process, the CDN base rewrite
    (VINTED_CDN_URL: https://images1.vinted.net/t/.. -> http://127.0.0.1:PORT/t/..,
    path and query kept), retries with backoff on 5xx, 429, network errors and
    damaged bodies (Content-Length not met, not a whole image of its format),
    no redirects to other hosts, a size cap, the SHA-256 of the bytes, and the
    photo formats: file extensions and content types.

    Outcomes of one download:
      2xx with a whole image       CDN_OK: bytes, content type, sha256
      404, 403, 410, other 4xx,    CDN_PERMANENT with the reason (the photo is gone or
      too large, foreign redirect  refused: asking again will not help)
      429, 5xx, network, damaged   retried with backoff (Retry-After first); after the
                                   last retry CDN_RETRY (the broker tries again later)
      the gate failed              CDN_ABANDONED: the broker is lost, send nothing
*/
#ifndef CDN_H_INCLUDED
#define CDN_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CDN_MAX_BYTES (20 * 1024 * 1024) /* a larger photo is refused */
#define CDN_RETRIES 4                    /* transient failures retried before CDN_RETRY */
#define CDN_BACKOFF_BASE_MS 500
#define CDN_BACKOFF_MAX_MS 15000
#define CDN_MAX_REDIRECTS 3              /* on the same host */
#define CDN_URL_MAX 2048
#define CDN_USER_AGENT                                                             \
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like " \
    "Gecko) Chrome/142.0.0.0 Safari/537.36"

/* The broker, seen from a long download (main wires these to worker_pump and
   worker_sleep so heartbeats go on). Each returns 0, or -1 to abandon. NULL
   functions: no pumping, plain sleeps. */
typedef struct {
    int (*pump)(void *ctx);
    int (*sleep)(void *ctx, int64_t ms);
    void *ctx;
} cdn_gate_t;

typedef struct {
    const char *base_url;   /* NULL or "": download URLs as they are */
    int64_t timeout_ms;     /* one request, whole */
    int64_t backoff_base_ms;
    int64_t backoff_max_ms; /* no retry waits longer; a longer Retry-After ends with CDN_RETRY */
    int retries;
} cdn_settings_t;

typedef enum {
    CDN_OK = 0,
    CDN_RETRY = 1,
    CDN_PERMANENT = 2,
    CDN_ABANDONED = 3,
} cdn_result_t;

/* One download's outcome. */
typedef struct {
    long status;               /* last HTTP status, 0 if none */
    uint8_t *data;             /* CDN_OK: the bytes (owned) */
    size_t len;
    char content_type[128];    /* CDN_OK: from the response, parameters dropped, lower case */
    char sha256[65];           /* CDN_OK: hex */
    char url[CDN_URL_MAX];     /* the URL asked (after the rewrite) */
    int attempts;
    int64_t retry_after_ms;    /* CDN_RETRY: when to try again, -1 for the caller's default */
    char error[600];           /* not CDN_OK: why */
} cdn_photo_t;

typedef struct _cdn_t cdn_t;

/* NULL with a reason when the base URL is not http(s)://host[:port] or curl fails. */
cdn_t *cdn_new(const cdn_settings_t *settings, const cdn_gate_t *gate, char *err, size_t errlen);
void cdn_destroy(cdn_t **self_p);

/* Download one photo into *photo (reset first). */
cdn_result_t cdn_fetch(cdn_t *self, const char *url, cdn_photo_t *photo);
/* Free the bytes and clear *photo. */
void cdn_photo_reset(cdn_photo_t *photo);
const char *cdn_result_name(cdn_result_t result);

/* The URL with its scheme and host replaced by base (NULL or "": unchanged).
   0 ok, -1 if url is not an absolute http(s) URL, holds spaces or control
   characters, or does not fit. */
int cdn_rewrite(const char *base, const char *url, char *buf, size_t size);

/* "webp", "jpg" (jpg/jpeg), "png" or "gif" from the extension of the URL's path; NULL if none. */
const char *cdn_ext_from_url(const char *url);
/* The same from a content type (image/jpeg -> "jpg"); "bin" for anything else. */
const char *cdn_ext_from_content_type(const char *content_type);
/* The content type of an extension: "webp" -> "image/webp"; application/octet-stream otherwise. */
const char *cdn_content_type_of_ext(const char *ext);

/* Whether data is a whole image as the content type says: webp (RIFF size), png (IEND),
   gif (trailer), jpeg (SOI); other image types pass; non-image types fail.
   0 ok, -1 with the reason. */
int cdn_check_image(const char *content_type, const uint8_t *data, size_t len, char *err,
                    size_t errlen);

/* SHA-256 of data as 64 hex digits and a NUL. */
void cdn_sha256_hex(const void *data, size_t len, char out[65]);

void cdn_test(bool verbose);

#endif
