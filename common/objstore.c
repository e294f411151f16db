/*  objstore.c - the object store of objstore.h: one interface over two back ends,
    a plain directory (objstore_file.c) and an S3-compatible API (objstore_s3.c),
    picked by the URL's scheme. Each back end is reached through its table of
    operations (objstore_backend.h).

    Keys and prefixes are checked here, the same way for both back ends, before a
    back end sees them (the rules are in objstore_backend.h).

    An objstore_t is for one thread at a time (an S3 store owns one CURL handle);
    give each thread its own. Secrets never appear in messages, logs or
    objstore_describe().
*/
#include "common/objstore.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/objstore_backend.h"
#include "common/objstore_file.h"
#include "common/objstore_s3.h"

struct _objstore_t {
    const objstore_backend_t *backend;
    void *impl; /* the back end's store, backend->size bytes */
};

/* The back ends, by the scheme of the URLs they serve. */
static const objstore_backend_t *const s_backends[] = { &objstore_file_backend, &objstore_s3_backend };

/* ------------------------------------------------------------------------- */
/* constructor */

static objstore_t *s_new(const char *url, const objstore_env_t *env, char *err, size_t errlen)
{
    if (!url || !*url) {
        objstore_backend_fail(err, errlen, "no object store URL (want s3://bucket/prefix or file:///path)");
        return NULL;
    }
    const objstore_backend_t *backend = NULL;
    for (size_t i = 0; i < sizeof s_backends / sizeof s_backends[0] && !backend; i++)
        if (objstore_backend_starts_with(url, s_backends[i]->scheme))
            backend = s_backends[i];
    if (!backend) {
        char shown[160];
        objstore_backend_fail(err, errlen,
                              "unsupported object store URL \"%s\": want s3://bucket/prefix or file:///path",
                              objstore_backend_shown(url, shown, sizeof shown));
        return NULL;
    }
    objstore_t *self = calloc(1, sizeof *self);
    if (self) {
        self->backend = backend;
        self->impl = calloc(1, backend->size);
    }
    if (!self || !self->impl) {
        objstore_backend_fail(err, errlen, "out of memory");
        objstore_destroy(&self);
        return NULL;
    }
    if (backend->open(self->impl, url + strlen(backend->scheme), env, err, errlen) != 0)
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
    if (self->impl) {
        self->backend->close(self->impl);
        free(self->impl);
    }
    free(self);
    *self_p = NULL;
}

const char *objstore_describe(objstore_t *self)
{
    return self ? self->backend->describe(self->impl) : "(no store)";
}

/* ------------------------------------------------------------------------- */
/* the interface */

int objstore_put(objstore_t *self, const char *key, const void *data, size_t len, const char *content_type,
                 char *err, size_t errlen)
{
    assert(self);
    if (objstore_backend_check_key(key, false, err, errlen))
        return -1;
    if (!data && len > 0)
        return objstore_backend_fail(err, errlen, "put %s: no data", key);
    return self->backend->put(self->impl, key, data, len, content_type, err, errlen);
}

int objstore_get(objstore_t *self, const char *key, uint8_t **data, size_t *len, char *err, size_t errlen)
{
    assert(self && data && len);
    *data = NULL;
    *len = 0;
    if (objstore_backend_check_key(key, false, err, errlen))
        return -1;
    return self->backend->get(self->impl, key, data, len, err, errlen);
}

int objstore_exists(objstore_t *self, const char *key, int64_t *size, char *err, size_t errlen)
{
    assert(self);
    if (objstore_backend_check_key(key, false, err, errlen))
        return -1;
    return self->backend->exists(self->impl, key, size, err, errlen);
}

int objstore_list(objstore_t *self, const char *prefix, const char *start_after,
                  int (*fn)(void *arg, const char *key, int64_t size), void *arg, char *err, size_t errlen)
{
    assert(self && fn);
    if (!prefix)
        prefix = "";
    if (objstore_backend_check_key(prefix, true, err, errlen))
        return -1;
    if (start_after && strlen(start_after) > OBJSTORE_KEY_MAX)
        return objstore_backend_fail(err, errlen, "list: start_after longer than %d bytes", OBJSTORE_KEY_MAX);
    return self->backend->list(self->impl, prefix, start_after, fn, arg, err, errlen);
}

/* ------------------------------------------------------------------------- */
/* self-test: what the interface refuses itself (each back end tests the rest) */

void objstore_test(bool verbose)
{
    char err[512];
    objstore_env_t env = { .access_key = "AKIDEXAMPLE", .secret_key = "secret/Key+1", .region = NULL,
                              .endpoint = "http://127.0.0.1:4568/" };
    const char *bad[] = { NULL, "", "http://x", "file://relative/dir", "s3://", "s3://ab", "s3://Upper",
                          "s3://-bucket", "s3://bucket_x", "s3://bucket/a//b", "s3://bucket/../x" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        assert(s_new(bad[i], &env, err, sizeof err) == NULL);
        assert(err[0]);
        if (verbose)
            printf("  refused URL %s: %s\n", bad[i] ? bad[i] : "(null)", err);
    }
    /* bad keys are refused before any network */
    objstore_t *s = s_new("s3://vinted/raw/area/", &env, err, sizeof err);
    assert(s);
    assert(objstore_put(s, "a//b", "x", 1, NULL, err, sizeof err) == -1 && strstr(err, "empty segment"));
    objstore_destroy(&s);
}
