/*  cdn_format.c - the photo formats, URLs and hashes of cdn.h: file
    extensions and content types, whether bytes are a whole image of their
    format, the CDN base rewrite and a URL's host, the SHA-256 of a photo.
*/
#include "workers/s3-uploader/cdn.h"

#include <assert.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <openssl/evp.h>

#include "workers/s3-uploader/cdn_internal.h"

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
const char *cdn_sniff(const uint8_t *data, size_t len)
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
    const char *format = cdn_sniff(data, len);
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
bool cdn_url_clean(const char *text)
{
    for (const unsigned char *p = (const unsigned char *) text; *p; p++)
        if (*p <= 0x20 || *p == 0x7f)
            return false;
    return true;
}

/* Where the host starts in an absolute http(s) URL, or NULL. */
const char *cdn_url_host(const char *url)
{
    if (strncasecmp(url, "http://", 7) == 0)
        return url + 7;
    if (strncasecmp(url, "https://", 8) == 0)
        return url + 8;
    return NULL;
}

int cdn_rewrite(const char *base, const char *url, char *buf, size_t size)
{
    if (!url || !cdn_url_clean(url))
        return -1;
    const char *host = cdn_url_host(url);
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
void cdn_url_authority(const char *url, char *out, size_t size)
{
    out[0] = '\0';
    const char *host = cdn_url_host(url);
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

/* --------------------------------------------------------------------------- */

/* A webp-shaped file of len bytes (len >= 20, even): RIFF header, VP8L chunk, filler. */
void cdn_fake_webp(uint8_t *buf, size_t len)
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

void cdn_format_test(bool verbose)
{
    if (verbose)
        printf(" * cdn_format: ");
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
    cdn_fake_webp(webp, sizeof(webp));
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
    if (verbose)
        printf("OK\n");
}
