/*  cdn_internal.h - what the files of the CDN client share; for
    workers/s3-uploader/cdn*.c only (the API is cdn.h). cdn.c holds the client
    and its downloads, cdn_format.c the photo formats, URLs and hashes; each
    has its self-test (cdn_test, cdn_format_test).
*/
#ifndef CDN_INTERNAL_H_INCLUDED
#define CDN_INTERNAL_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The format the bytes start with ("webp", "jpg", "png", "gif"), or NULL. */
const char *cdn_sniff(const uint8_t *data, size_t len);

/* Whether text holds no spaces or control characters. */
bool cdn_url_clean(const char *text);
/* Where the host starts in an absolute http(s) URL, or NULL. */
const char *cdn_url_host(const char *url);
/* host[:port] of a URL, lower case, without user info; "" if none. */
void cdn_url_authority(const char *url, char *out, size_t size);

/* For self-tests: a webp-shaped file of len bytes (len >= 20, even): RIFF
   header, VP8L chunk, filler. */
void cdn_fake_webp(uint8_t *buf, size_t len);

void cdn_format_test(bool verbose);

#endif
