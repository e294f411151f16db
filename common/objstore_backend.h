/*  objstore_backend.h - what a back end of the object store (objstore.h) is, and
    what the interface and its back ends share.

    A back end (objstore_file.h, objstore_s3.h) is an objstore_backend_t: the URL
    scheme it serves and the table of operations objstore.c dispatches to, on a
    store of the back end's own type. objstore.c checks every key and prefix
    (objstore_backend_check_key) before a back end sees it, so a back end can trust
    them; a back end uses the same check on names it finds itself.

    Keys: UTF-8, at most OBJSTORE_KEY_MAX bytes, no control characters, no leading
    "/", no empty, "." or ".." segments, no segment starting with OBJSTORE_TMP_PREFIX
    (reserved for the file back end's temp files).
*/
#ifndef OBJSTORE_BACKEND_H_INCLUDED
#define OBJSTORE_BACKEND_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OBJSTORE_KEY_MAX 1024
#define OBJSTORE_TMP_PREFIX ".objstore-tmp-"

/* The settings objstore_new reads from the environment (a struct so the self-tests
   can pass their own); only the S3 back end uses them. NULL or "" is not set. */
typedef struct {
    const char *endpoint;      /* VINTED_S3_ENDPOINT (default https://s3.<region>.amazonaws.com) */
    const char *access_key;    /* AWS_ACCESS_KEY_ID */
    const char *secret_key;    /* AWS_SECRET_ACCESS_KEY */
    const char *region;        /* AWS_REGION (default us-east-1) */
    const char *session_token; /* AWS_SESSION_TOKEN */
} objstore_env_t;

/* One back end. objstore.c allocates size zeroed bytes for a store (impl), opens it
   and, when the store goes (or open failed), closes and frees it. The operations
   do what the objstore_ function of the same name in objstore.h promises. */
typedef struct {
    const char *scheme; /* the URLs it serves start with this: "file://" */
    size_t size;        /* of its store */
    /* Set up impl from rest (the URL after the scheme). 0 ok, -1 with a reason. */
    int (*open)(void *impl, const char *rest, const objstore_env_t *env, char *err, size_t errlen);
    /* Free what open set up, also after a failed open (not impl itself). */
    void (*close)(void *impl);
    int (*put)(void *impl, const char *key, const void *data, size_t len, const char *content_type, char *err,
               size_t errlen);
    int (*get)(void *impl, const char *key, uint8_t **data, size_t *len, char *err, size_t errlen);
    int (*exists)(void *impl, const char *key, int64_t *size, char *err, size_t errlen);
    int (*list)(void *impl, const char *prefix, const char *start_after,
                int (*fn)(void *arg, const char *key, int64_t size), void *arg, char *err, size_t errlen);
    const char *(*describe)(void *impl);
} objstore_backend_t;

/* Write the reason into err (when err is not NULL) and return -1. */
int objstore_backend_fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* A printable copy of text for error messages: at most 120 bytes, control bytes as '?'. */
const char *objstore_backend_shown(const char *text, char *buf, size_t size);

bool objstore_backend_starts_with(const char *s, const char *prefix);

/* Is key usable? A prefix (is_prefix) may be empty and its last segment is partial:
   it may be empty ("raw/") or anything a key segment may start with. 0 yes, -1 with a reason. */
int objstore_backend_check_key(const char *key, bool is_prefix, char *err, size_t errlen);

/* A list of keys with their sizes, as a listing gathers them. */
typedef struct {
    char *key;
    int64_t size;
} objstore_backend_entry_t;

typedef struct {
    objstore_backend_entry_t *v;
    size_t n;
    size_t cap;
} objstore_backend_entries_t;

/* Append key; the list owns it from then on (freed by objstore_backend_entries_free),
   but not when this fails. 0 ok, -1 out of memory. */
int objstore_backend_entries_add(objstore_backend_entries_t *e, char *key, int64_t size);
void objstore_backend_entries_free(objstore_backend_entries_t *e);

#endif
