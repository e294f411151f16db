/*  main.c - vinted-transformer: takes TASK(PAGE) from the broker, turns the
    raw Vinted response (a catalog page, a seller's list or profile, or an item page)
    into a normalized batch (parse.h) and answers with
    RESULT(BATCH) under the same task id. Stateless and idempotent: the same
    page always yields the same batch, so redelivery is harmless.
*/
#include <stdio.h>
#include <string.h>

#include "common/clock.h"
#include "common/config.h"
#include "common/curve.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/startup.h"
#include "common/worker.h"
#include "proto/proto.h"
#include "workers/transformer/jsonmem.h"
#include "workers/transformer/parse.h"

#define S_STATS_MS 10000 /* a throughput line this often, when there was work */
#define S_JSON_KEEP (2u << 20) /* cJSON arena kept between pages: a whole svc page fits */

typedef struct {
    int64_t pages;
    int64_t items;
    int64_t quarantined;
    int64_t busy_ms;  /* time spent parsing */
} xform_stats_t;

/* Prometheus series (NULL when metrics are off). */
typedef struct {
    metrics_series_t *pages, *items_in, *items_out, *refused, *seconds;
    metrics_family_t *quarantined; /* by rule */
} xform_metrics_t;

static void s_metrics_init(metrics_t *m, xform_metrics_t *xm)
{
    xm->pages = metrics_counter(m, "vinted_transform_pages_total", "Pages transformed into batches");
    xm->items_in = metrics_counter(m, "vinted_transform_items_in_total",
                                   "Records in the pages received, as the fetcher counted them");
    xm->items_out = metrics_counter(m, "vinted_transform_items_out_total",
                                    "Records out: normalized listings and item snapshots");
    xm->quarantined = metrics_family(m, METRICS_COUNTER, "vinted_transform_quarantined_total",
                                     "Records or pages quarantined, by validation rule", "rule", NULL, 0);
    xm->refused = metrics_counter(m, "vinted_transform_refused_total", "Tasks refused (NACK)");
    xm->seconds = metrics_histogram(m, "vinted_transform_seconds", "Time to transform one page",
                                    metrics_latency_buckets, metrics_latency_buckets_n);
}

static int
s_nack(worker_t *w, uint64_t task_id, const char *reason, bool permanent)
{
    proto_msg_t *nack = proto_msg_new(PROTO_NACK);
    if (!nack)
        return -1;
    nack->task_id = task_id;
    nack->u.nack.reason = proto_msg_strdup(nack, reason);
    nack->u.nack.retry_after_ms = PROTO_NULL;
    nack->u.nack.permanent = permanent;
    int rc = worker_send(w, nack);
    proto_msg_destroy(&nack);
    return rc;
}

static void
s_handle(worker_t *w, const proto_msg_t *task, xform_stats_t *stats, const xform_metrics_t *xm)
{
    if (task->cmd != PROTO_TASK) {
        log_warn("unexpected message", "cmd=%s", proto_cmd_name(task->cmd));
        return;
    }
    if (task->body != PROTO_BODY_PAGE) {
        log_warn("task refused", "task=%llu body=%d reason=%s", (unsigned long long) task->task_id,
                 (int) task->body, log_str("unexpected body"));
        s_nack(w, task->task_id, "unexpected body", true);
        metrics_inc(xm->refused);
        return;
    }
    const proto_page_t *page = &task->u.page;
    int64_t t0 = clock_mono_ms();
    proto_msg_t *result = proto_msg_new(PROTO_RESULT);
    if (!result || parse_page(page, result) != 0) {
        proto_msg_destroy(&result);
        log_error("out of memory", "task=%llu window=%lld page=%d",
                  (unsigned long long) task->task_id, (long long) page->window_id, (int) page->page);
        s_nack(w, task->task_id, "transformer out of memory", false);
        metrics_inc(xm->refused);
        return;
    }
    result->task_id = task->task_id;
    const proto_batch_t *b = &result->u.batch;
    int64_t ms = clock_mono_ms() - t0;
    stats->pages++;
    stats->items += (int64_t) (b->n_items + b->n_snapshots); /* records out: listings or observations */
    stats->quarantined += (int64_t) b->n_quarantine;
    stats->busy_ms += ms;
    metrics_inc(xm->pages);
    metrics_add(xm->items_in, (double) page->n_items);
    metrics_add(xm->items_out, (double) (b->n_items + b->n_snapshots));
    metrics_observe(xm->seconds, (double) ms / 1000.0);
    for (size_t i = 0; xm->quarantined && i < b->n_quarantine; i++)
        metrics_inc(metrics_series(xm->quarantined, b->quarantine[i].rule));
    if (log_enabled(LOG_LEVEL_DEBUG))
        log_debug("page transformed",
                  "task=%llu window=%lld catalog=%d page=%d attempt=%d api=%s kind=%d target=%lld "
                  "items=%zu snapshots=%zu users=%zu photos=%zu quarantined=%zu bytes=%zu ms=%lld",
                  (unsigned long long) task->task_id, (long long) page->window_id,
                  (int) page->catalog_id, (int) page->page, (int) page->attempt,
                  log_str(page->api), (int) page->kind, (long long) page->target_id, b->n_items,
                  b->n_snapshots, b->n_users, b->n_photos, b->n_quarantine, page->body_len,
                  (long long) ms);
    if (b->n_quarantine == 1 && b->quarantine[0].pos == -1)
        log_warn("page rejected", "window=%lld page=%d kind=%d target=%lld rule=%s detail=%s",
                 (long long) page->window_id, (int) page->page, (int) page->kind,
                 (long long) page->target_id, log_str(b->quarantine[0].rule),
                 log_str(b->quarantine[0].detail));
    if (worker_send(w, result) != 0)
        log_warn("result not sent", "task=%llu", (unsigned long long) task->task_id);
    proto_msg_destroy(&result);
}

int
main(int argc, char **argv)
{
    log_init("transformer");
    config_opt_t opts[] = {
        {"broker", "VINTED_BROKER", "tcp://127.0.0.1:5555", "broker endpoint for workers", NULL},
        {"capacity", "VINTED_TRANSFORM_CAPACITY", "4", "pages the broker may have in flight here (1..1000)",
         NULL},
        METRICS_CONFIG_OPTS,
        CURVE_CLIENT_CONFIG_OPTS,
        {NULL, NULL, NULL, NULL, NULL},
    };
    int rc = config_parse(opts, argc, argv, "vinted-transformer",
                          "Turns raw Vinted pages (catalog, seller lists, seller profiles, item pages) into\n"
                          "normalized batches.");
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    int64_t capacity = 0;
    if (config_int(opts, "capacity", 1, 1000, &capacity) != 0)
        return 2;
    const char *endpoint = config_get(opts, "broker");
    if (config_endpoint(opts, "broker", false) != 0)
        return 2;
    metrics_t *metrics;
    curve_t *curve; /* CURVE keys for the broker socket, or NULL */
    rc = startup_keys_metrics(opts, false, &curve, &metrics);
    if (rc != 0)
        return rc;
    xform_metrics_t xm;
    s_metrics_init(metrics, &xm);

    /* the worker adds @host:pid to the name */
    worker_t *w = worker_new_curve(endpoint, PROTO_STAGE_TRANSFORM, (int) capacity, "transformer", curve);
    if (!w) {
        log_error("cannot start worker", "broker=%s", log_str(endpoint));
        metrics_destroy(&metrics);
        curve_destroy(&curve);
        return 1;
    }
    log_info("started", "broker=%s capacity=%lld", log_str(endpoint), (long long) capacity);
    jsonmem_install(S_JSON_KEEP);

    xform_stats_t total = {0}, last = {0};
    int64_t last_report = clock_mono_ms();
    while (!worker_interrupted(w)) {
        proto_msg_t *task = worker_next(w, 1000);
        if (task) {
            s_handle(w, task, &total, &xm);
            proto_msg_destroy(&task);
            jsonmem_release(); /* the page's JSON trees, all at once */
        }
        int64_t now = clock_mono_ms();
        if (now - last_report >= S_STATS_MS) {
            if (total.pages > last.pages) {
                double secs = (double) (now - last_report) / 1000.0;
                int64_t items = total.items - last.items;
                int64_t busy = total.busy_ms - last.busy_ms;
                log_info("throughput",
                         "pages=%lld items=%lld quarantined=%lld items_per_s=%.0f "
                         "busy_items_per_s=%.0f",
                         (long long) (total.pages - last.pages), (long long) items,
                         (long long) (total.quarantined - last.quarantined), (double) items / secs,
                         busy > 0 ? (double) items * 1000.0 / (double) busy : 0.0);
            }
            last = total;
            last_report = now;
        }
    }
    log_info("stopped", "pages=%lld items=%lld quarantined=%lld", (long long) total.pages,
             (long long) total.items, (long long) total.quarantined);
    jsonmem_uninstall();
    worker_destroy(&w);
    metrics_destroy(&metrics);
    curve_destroy(&curve);
    return 0;
}
