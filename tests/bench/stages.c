/*  stages.c - vinted-bench-stages: the CPU cost of each stage's work on a raw
    archive, in isolation (no sockets, no database), so that a change to one
    stage can be measured without the noise of the whole pipeline:
        load       raw_decode of every object (the store stage's LOAD: gunzip,
                   context line, PAGE)
        page wire  proto_encode + proto_decode of each PAGE (what the broker and
                   the transformer do with a replayed page)
        transform  parse_page (the transformer's work)
        batch wire proto_encode + proto_decode of each BATCH (broker and sink)
    Reads every *.json.gz under DIR (a file:// store, e.g. an archive made by
    tests/bench/rawgen.py) into memory first, then times each step ROUNDS times
    and prints the best round per step, in microseconds per item record.

        vinted-bench-stages DIR [ROUNDS]
    VINTED_BENCH_MALLOC=1 parses with cJSON on plain malloc instead of the
    transformer's arena (jsonmem.h), for comparison.
*/
#include <ftw.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/raw.h"
#include "proto/proto.h"
#include "workers/transformer/jsonmem.h"
#include "workers/transformer/parse.h"

typedef struct {
    uint8_t *data;
    size_t len;
} s_object_t;

static s_object_t *s_objects;
static size_t s_count, s_cap;

static int s_collect(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)ftw;
    size_t n = strlen(path);
    if (flag != FTW_F || n < 8 || strcmp(path + n - 8, ".json.gz") != 0)
        return 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    uint8_t *data = malloc((size_t)st->st_size + 1);
    size_t got = data ? fread(data, 1, (size_t)st->st_size, f) : 0;
    fclose(f);
    if (got != (size_t)st->st_size) {
        free(data);
        return 0;
    }
    if (s_count == s_cap) {
        s_cap = s_cap ? s_cap * 2 : 1024;
        s_objects = realloc(s_objects, s_cap * sizeof *s_objects);
        if (!s_objects)
            return -1;
    }
    s_objects[s_count++] = (s_object_t){data, got};
    return 0;
}

static double s_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Encode msg, decode it back; the decoded message (caller destroys), NULL on error. */
static proto_msg_t *s_wire(const proto_msg_t *msg, size_t *bytes)
{
    uint8_t *data;
    size_t size;
    if (proto_encode(msg, &data, &size) != 0)
        return NULL;
    char err[256];
    proto_msg_t *back = proto_decode(data, size, err, sizeof err);
    free(data);
    *bytes += size;
    if (!back)
        fprintf(stderr, "decode failed: %s\n", err);
    return back;
}

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0) {
        printf("Usage: vinted-bench-stages DIR [ROUNDS]\n"
               "CPU cost per item record of each stage's work on the raw objects under DIR.\n");
        return argc < 2 ? 2 : 0;
    }
    int rounds = argc > 2 ? atoi(argv[2]) : 3;
    if (rounds < 1) {
        fprintf(stderr, "vinted-bench-stages: ROUNDS must be at least 1\n");
        return 2;
    }
    if (nftw(argv[1], s_collect, 32, FTW_PHYS) != 0 || s_count == 0) {
        fprintf(stderr, "vinted-bench-stages: no raw objects (*.json.gz) under %s\n", argv[1]);
        return 1;
    }
    mallopt(M_MMAP_THRESHOLD, 64 * 1024); /* as every worker runs (worker_new) */
    bool arena = !getenv("VINTED_BENCH_MALLOC");
    if (arena)
        jsonmem_install(4u << 20);
    double best[4] = {1e30, 1e30, 1e30, 1e30};
    size_t items = 0, raw_bytes = 0, page_bytes = 0, batch_bytes = 0;
    for (int r = 0; r < rounds; r++) {
        double t[4] = {0};
        items = raw_bytes = page_bytes = batch_bytes = 0;
        for (size_t i = 0; i < s_count; i++) {
            char err[256];
            double t0 = s_now();
            proto_msg_t *page = raw_decode(s_objects[i].data, s_objects[i].len, err, sizeof err);
            double t1 = s_now();
            if (!page) {
                fprintf(stderr, "object %zu is damaged: %s\n", i, err);
                return 1;
            }
            raw_bytes += page->u.page.body_len;
            page->cmd = PROTO_TASK;
            proto_msg_t *task = s_wire(page, &page_bytes);
            double t2 = s_now();
            proto_msg_t *batch = proto_msg_new(PROTO_RESULT);
            if (!task || parse_page(&task->u.page, batch) != 0) {
                fprintf(stderr, "object %zu: transform failed\n", i);
                return 1;
            }
            double t3 = s_now();
            items += batch->u.batch.n_items + batch->u.batch.n_quarantine;
            if (arena)
                jsonmem_release();
            proto_msg_t *sink = s_wire(batch, &batch_bytes);
            double t4 = s_now();
            if (!sink)
                return 1;
            t[0] += t1 - t0;
            t[1] += t2 - t1;
            t[2] += t3 - t2;
            t[3] += t4 - t3;
            proto_msg_destroy(&sink);
            proto_msg_destroy(&batch);
            proto_msg_destroy(&task);
            proto_msg_destroy(&page);
        }
        for (int s = 0; s < 4; s++)
            if (t[s] < best[s])
                best[s] = t[s];
    }
    static const char *names[] = {"load (raw_decode)", "page wire (encode+decode)", "transform (parse_page)",
                                  "batch wire (encode+decode)"};
    printf("%zu objects, %zu item records, %.1f MB of bodies, PAGE frames %.1f MB, BATCH frames %.1f MB; "
           "best of %d rounds, CPU time\n",
           s_count, items, (double)raw_bytes / 1e6, (double)page_bytes / 1e6, (double)batch_bytes / 1e6,
           rounds);
    if (arena)
        printf("cJSON on the transformer's arena: at most %.1f MB for one page\n",
               (double)jsonmem_peak() / 1e6);
    else
        printf("cJSON on malloc (VINTED_BENCH_MALLOC)\n");
    double total = 0;
    for (int s = 0; s < 4; s++) {
        printf("  %-28s %7.3f s  %6.2f us/item  %8.0f items/s\n", names[s], best[s],
               1e6 * best[s] / (double)items, (double)items / best[s]);
        total += best[s];
    }
    printf("  %-28s %7.3f s  %6.2f us/item  %8.0f items/s\n", "all four", total, 1e6 * total / (double)items,
           (double)items / total);
    for (size_t i = 0; i < s_count; i++)
        free(s_objects[i].data);
    free(s_objects);
    return 0;
}
