/*  objstore_sigv4.h - the parts of AWS Signature Version 4 the S3 back end
    (objstore_s3.h) does itself. libcurl computes the signature (CURLOPT_AWS_SIGV4)
    from the request as sent, so what is sent must already be in SigV4's canonical
    form: path and query values encoded as below, query parameters sorted by name
    (objstore_s3.c builds them that way), and the payload's SHA-256 sent as
    x-amz-content-sha256.
*/
#ifndef OBJSTORE_SIGV4_H_INCLUDED
#define OBJSTORE_SIGV4_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>

#include "common/objstore_buf.h"

/* s with every byte outside RFC 3986's unreserved set (A-Z a-z 0-9 - . _ ~)
   as %XX (upper-case hex); "/" is kept when keep_slash. Appended to b.
   0 ok, -1 out of memory. */
int objstore_sigv4_encode(objstore_buf_t *b, const char *s, bool keep_slash);

/* Lower-case hex SHA-256 of data (NULL when len is 0) into out (65 bytes). 0 ok, -1 error. */
int objstore_sigv4_sha256_hex(const void *data, size_t len, char out[65]);

void objstore_sigv4_test(bool verbose);

#endif
