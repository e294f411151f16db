/*  vinted-objstore-probe - a small command-line client of the object store
    (common/objstore.h), for operators and for the object store's tests:

        vinted-objstore-probe put KEY FILE          store FILE ("-": stdin) under KEY
        vinted-objstore-probe get KEY               the object's bytes on stdout
        vinted-objstore-probe exists KEY            prints its size
        vinted-objstore-probe list [PREFIX]         "KEY<TAB>SIZE" lines, in key order
        vinted-objstore-probe copy-from URL [PREFIX]  copy every object under PREFIX of
                                                    another store (e.g. file:///dir) here

    The store is VINTED_STORE (or --store), s3:// settings as in objstore.h.
    Exit status: 0 done, 1 no such key, 2 bad arguments or settings, 3 store error.
*/
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/config.h"
#include "common/log.h"
#include "common/objstore.h"

#define PROBE_PROGRAM "vinted-objstore-probe"

/* The whole of a file (or stdin for "-") into a malloc'ed buffer. 0 ok, -1 errno set. */
static int s_slurp(const char *path, char **data, size_t *len)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f)
        return -1;
    size_t cap = 65536, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        if (n == cap) {
            char *bigger = realloc(buf, cap * 2);
            if (!bigger) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = bigger;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    int failed = !buf || ferror(f);
    int e = buf ? EIO : ENOMEM;
    if (f != stdin)
        fclose(f);
    if (failed) {
        free(buf);
        errno = e;
        return -1;
    }
    *data = buf;
    *len = n;
    return 0;
}

static int s_print_entry(void *arg, const char *key, int64_t size)
{
    (void) arg;
    printf("%s\t%lld\n", key, (long long) size);
    return ferror(stdout) ? 1 : 0;
}

typedef struct {
    objstore_t *from;
    objstore_t *to;
    long copied;
    int64_t bytes;
    int failed; /* 3 once a copy failed */
    char err[512];
} s_copy_t;

static int s_copy_one(void *arg, const char *key, int64_t size)
{
    (void) size;
    s_copy_t *c = arg;
    uint8_t *data = NULL;
    size_t len = 0;
    int rc = objstore_get(c->from, key, &data, &len, c->err, sizeof c->err);
    if (rc == 1)
        return 0; /* removed since it was listed */
    if (rc == 0)
        rc = objstore_put(c->to, key, data, len, NULL, c->err, sizeof c->err);
    free(data);
    if (rc != 0) {
        log_error("copy failed", "key=%s error=%s", log_str(key), log_str(c->err));
        c->failed = 3;
        return 1;
    }
    c->copied++;
    c->bytes += (int64_t) len;
    return 0;
}

static int s_usage_error(const char *what)
{
    fprintf(stderr, "%s: %s (see --help)\n", PROBE_PROGRAM, what);
    return 2;
}

int main(int argc, char **argv)
{
    config_opt_t opts[] = {
        { "store", "VINTED_STORE", NULL, "the object store: s3://bucket/prefix or file:///path", NULL },
        { "content-type", NULL, "application/octet-stream", "Content-Type of a put", NULL },
        { "start-after", NULL, NULL, "list: only keys after this one", NULL },
        { NULL, NULL, NULL, NULL, NULL },
    };
    const char *pos[4] = { NULL };
    int npos = 0;
    int prc = config_parse_positional(
        opts, argc, argv, PROBE_PROGRAM,
        "Talks to the object store. Verbs:\n"
        "  put KEY FILE            store FILE (\"-\": stdin) under KEY\n"
        "  get KEY                 write the object to stdout\n"
        "  exists KEY              print the object's size\n"
        "  list [PREFIX]           print \"KEY<TAB>SIZE\" for every key under PREFIX, in key order\n"
        "  copy-from URL [PREFIX]  copy every object under PREFIX of the store at URL into this one\n"
        "s3:// stores read VINTED_S3_ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION.\n"
        "Exit status: 0 done, 1 no such key, 2 bad arguments or settings, 3 store error.",
        pos, 4, &npos);
    if (prc != 0)
        return prc > 0 ? 0 : 2;
    log_init("objstore-probe");
    if (npos == 0)
        return s_usage_error("a verb is needed: put, get, exists, list or copy-from");
    const char *verb = pos[0];
    struct {
        const char *name;
        int min, max;
    } verbs[] = { { "put", 3, 3 }, { "get", 2, 2 }, { "exists", 2, 2 }, { "list", 1, 2 }, { "copy-from", 2, 3 } };
    int v = -1;
    for (int i = 0; i < (int) (sizeof verbs / sizeof verbs[0]); i++)
        if (strcmp(verb, verbs[i].name) == 0)
            v = i;
    if (v < 0) {
        fprintf(stderr, "%s: unknown verb '%s': want put, get, exists, list or copy-from\n", PROBE_PROGRAM, verb);
        return 2;
    }
    if (npos < verbs[v].min || npos > verbs[v].max) {
        fprintf(stderr, "%s: wrong number of arguments for '%s' (see --help)\n", PROBE_PROGRAM, verb);
        return 2;
    }
    const char *url = config_get(opts, "store");
    if (!url || !*url)
        return s_usage_error("no store: set VINTED_STORE or --store");
    char err[1024];
    objstore_t *store = objstore_new(url, err, sizeof err);
    if (!store) {
        fprintf(stderr, "%s: %s\n", PROBE_PROGRAM, err);
        return 2;
    }
    int rc = 0;
    if (strcmp(verb, "put") == 0) {
        char *data = NULL;
        size_t len = 0;
        if (s_slurp(pos[2], &data, &len) != 0) {
            fprintf(stderr, "%s: cannot read '%s': %s\n", PROBE_PROGRAM, pos[2], strerror(errno));
            rc = 2;
        }
        else if (objstore_put(store, pos[1], data, len, config_get(opts, "content-type"), err, sizeof err) != 0)
            rc = 3;
        else
            log_info("put", "key=%s bytes=%zu store=%s", log_str(pos[1]), len, log_str(objstore_describe(store)));
        free(data);
    }
    else if (strcmp(verb, "get") == 0) {
        uint8_t *data = NULL;
        size_t len = 0;
        int g = objstore_get(store, pos[1], &data, &len, err, sizeof err);
        if (g == 1) {
            fprintf(stderr, "%s: no such key: %s\n", PROBE_PROGRAM, pos[1]);
            rc = 1;
        }
        else if (g != 0)
            rc = 3;
        else if (fwrite(data, 1, len, stdout) != len || fflush(stdout) != 0) {
            fprintf(stderr, "%s: writing stdout: %s\n", PROBE_PROGRAM, strerror(errno));
            rc = 3;
        }
        free(data);
    }
    else if (strcmp(verb, "exists") == 0) {
        int64_t size = -1;
        int e = objstore_exists(store, pos[1], &size, err, sizeof err);
        if (e == 1)
            printf("%lld\n", (long long) size);
        rc = e == 1 ? 0 : e == 0 ? 1 : 3;
    }
    else if (strcmp(verb, "list") == 0) {
        if (objstore_list(store, npos > 1 ? pos[1] : "", config_get(opts, "start-after"), s_print_entry, NULL, err,
                          sizeof err) != 0)
            rc = 3;
        if (fflush(stdout) != 0 || ferror(stdout)) {
            fprintf(stderr, "%s: writing stdout failed\n", PROBE_PROGRAM);
            rc = 3;
        }
    }
    else { /* copy-from */
        s_copy_t c = { .to = store };
        c.from = objstore_new(pos[1], err, sizeof err);
        if (!c.from) {
            fprintf(stderr, "%s: source store: %s\n", PROBE_PROGRAM, err);
            rc = 2;
        }
        else {
            int64_t t0 = clock_mono_ms();
            if (objstore_list(c.from, npos > 2 ? pos[2] : "", NULL, s_copy_one, &c, err, sizeof err) != 0)
                rc = 3;
            else
                rc = c.failed;
            if (c.failed)
                snprintf(err, sizeof err, "%s", c.err);
            log_info("copied", "objects=%ld bytes=%lld ms=%lld from=%s to=%s", c.copied, (long long) c.bytes,
                     (long long) (clock_mono_ms() - t0), log_str(objstore_describe(c.from)),
                     log_str(objstore_describe(store)));
            printf("%ld\n", c.copied);
            objstore_destroy(&c.from);
        }
    }
    if (rc == 3) {
        log_error("objstore failed", "verb=%s store=%s error=%s", verb, log_str(objstore_describe(store)),
                  log_str(err));
    }
    objstore_destroy(&store);
    return rc;
}
