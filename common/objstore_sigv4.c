/*  objstore_sigv4.c - SigV4's URI encoding and payload hash (OpenSSL) for the S3
    back end. See objstore_sigv4.h.
*/
#include "common/objstore_sigv4.h"

#include <assert.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#define OBJSTORE_EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

int objstore_sigv4_encode(objstore_buf_t *b, const char *s, bool keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *) s; *p; p++) {
        if (isalnum(*p) || *p == '-' || *p == '.' || *p == '_' || *p == '~' || (keep_slash && *p == '/')) {
            if (objstore_buf_add(b, p, 1))
                return -1;
        }
        else {
            char esc[3] = { '%', hex[*p >> 4], hex[*p & 15] };
            if (objstore_buf_add(b, esc, 3))
                return -1;
        }
    }
    return 0;
}

int objstore_sigv4_sha256_hex(const void *data, size_t len, char out[65])
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

void objstore_sigv4_test(bool verbose)
{
    (void) verbose;
    char sha[65];
    assert(objstore_sigv4_sha256_hex("", 0, sha) == 0 && strcmp(sha, OBJSTORE_EMPTY_SHA256) == 0);
    assert(objstore_sigv4_sha256_hex("abc", 3, sha) == 0
           && strcmp(sha, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") == 0);
}
