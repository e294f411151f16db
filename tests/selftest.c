/*  vinted-selftest - runs every module's self-test, in the manner of czmq's selftest:
        vinted-selftest              all of them
        vinted-selftest --list       their names
        vinted-selftest NAME...      only these
    A failed assertion aborts with a non-zero status. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"

/* Every module with a self-test, in dependency order. */
#define SELFTESTS(X)                                                                           \
    X(log) X(redact) X(proxies) X(config) X(pgconf) X(metrics) X(metrics_http) X(sample) X(proto) X(raw) \
    X(objstore_sigv4) X(objstore_s3_xml) X(objstore_s3) X(objstore_file) X(objstore) X(curve) X(worker) \
    X(startup) X(httpstub) X(curlsetup) \
    X(window) X(stall) X(ratelimit) X(budget) X(schedule) X(vinted) X(pager) X(backoff) X(session) X(fetcher) \
    X(jsontext) X(money) X(utf8) X(size) X(ldjson) X(parse) X(jsonmem) X(copy) X(rows) X(upsert) X(pgconn) X(pgsink) X(uploader) X(cdn) X(cdn_format) \
    X(bar) X(svg) X(report) X(html) X(control) X(keygen) X(backfill)

#define DECLARE(name) void name##_test(bool verbose);
SELFTESTS(DECLARE)

typedef struct {
    const char *name;
    void (*fn)(bool);
} selftest_t;

#define ENTRY(name) { #name, name##_test },
static const selftest_t s_tests[] = { SELFTESTS(ENTRY) { NULL, NULL } };

int main(int argc, char **argv)
{
    bool verbose = false;
    int selected = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--list") == 0) {
            for (const selftest_t *t = s_tests; t->name; t++)
                printf("%s\n", t->name);
            return 0;
        }
        if (strcmp(argv[i], "-v") == 0 || strcmp(argv[i], "--verbose") == 0)
            verbose = true;
        else if (strcmp(argv[i], "--help") == 0) {
            printf("Usage: vinted-selftest [-v] [--list] [NAME...]\nRuns the self-test of every module (or the named ones).\n");
            return 0;
        }
        else
            selected++;
    }
    log_init("selftest");
    if (!verbose)
        log_set_level(LOG_LEVEL_ERROR);
    int ran = 0;
    for (const selftest_t *t = s_tests; t->name; t++) {
        bool wanted = selected == 0;
        for (int i = 1; i < argc && !wanted; i++)
            wanted = strcmp(argv[i], t->name) == 0;
        if (!wanted)
            continue;
        int64_t start = clock_mono_ms();
        printf("selftest %-12s ", t->name);
        fflush(stdout);
        t->fn(verbose);
        printf("ok (%lld ms)\n", (long long) (clock_mono_ms() - start));
        ran++;
    }
    if (ran == 0) {
        fprintf(stderr, "vinted-selftest: no such test\n");
        return 2;
    }
    printf("selftest: %d modules passed\n", ran);
    return 0;
}
