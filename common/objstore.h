/*  objstore.h - an object store: the raw landing area and the photos live here.
    Two back ends behind one interface, picked by one URL (VINTED_STORE):
        s3://bucket/prefix   any S3-compatible endpoint (AWS, MinIO, SeaweedFS...):
                             VINTED_S3_ENDPOINT (default https://s3.<region>.amazonaws.com),
                             AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION
                             (default us-east-1); requests signed with AWS SigV4
        file:///path         a plain directory (the embedded default)
    Keys are relative paths like "raw/catalog/2026/11/25/17/12/0003-0.json.gz";
    the store prepends its prefix.
*/
#ifndef OBJSTORE_H_INCLUDED
#define OBJSTORE_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct _objstore_t objstore_t;

/* NULL with a reason in err when the URL or the S3 settings are unusable. */
objstore_t *objstore_new(const char *url, char *err, size_t errlen);
void objstore_destroy(objstore_t **self_p);

/* Store data under key (overwrites). 0 ok, -1 with a reason. */
int objstore_put(objstore_t *self, const char *key, const void *data, size_t len, const char *content_type,
                 char *err, size_t errlen);

/* Read a whole object into a malloc'ed buffer. 0 ok, 1 no such key, -1 error. */
int objstore_get(objstore_t *self, const char *key, uint8_t **data, size_t *len, char *err, size_t errlen);

/* 1 exists (size set if not NULL), 0 does not, -1 error. */
int objstore_exists(objstore_t *self, const char *key, int64_t *size, char *err, size_t errlen);

/* Every key under prefix, in lexical order, after start_after (NULL: from the start).
   fn returns 0 to go on, non-zero to stop. 0 ok, -1 error. */
int objstore_list(objstore_t *self, const char *prefix, const char *start_after,
                  int (*fn)(void *arg, const char *key, int64_t size), void *arg, char *err, size_t errlen);

/* A description for logs: "s3://bucket/prefix at http://127.0.0.1:4568" or "file:///var/raw". */
const char *objstore_describe(objstore_t *self);

void objstore_test(bool verbose);

#endif
