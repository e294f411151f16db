/*  vinted-s3-uploader - the object-store stage: raw pages in, raw pages back out
    for replays, and listing photos downloaded from the CDN into the store. */
#include <stdio.h>
#include <curl/curl.h>

#include "common/config.h"
#include "common/curve.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/objstore.h"
#include "common/worker.h"
#include "workers/s3-uploader/cdn.h"
#include "workers/s3-uploader/uploader.h"

static config_opt_t s_opts[] = {
    { "broker", "VINTED_BROKER", "tcp://127.0.0.1:5555", "broker endpoint to connect to", NULL },
    { "store", "VINTED_STORE", "file://./var/store",
      "object store: s3://bucket/prefix (VINTED_S3_ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION) or file:///path",
      NULL },
    { "capacity", "VINTED_UPLOAD_CAPACITY", "4", "tasks in flight at this worker", NULL },
    { "cdn-url", "VINTED_CDN_URL", "",
      "image CDN base that replaces the scheme and host of photo URLs (http(s)://host[:port]); empty: "
      "download photo URLs as they are",
      NULL },
    { "cdn-timeout", "VINTED_CDN_TIMEOUT", "30s", "timeout of one photo download request", NULL },
    METRICS_CONFIG_OPTS,
    CURVE_CLIENT_CONFIG_OPTS,
    { NULL, NULL, NULL, NULL, NULL },
};

/* Prometheus series (NULL when metrics are off). */
typedef struct {
    metrics_series_t *raw_pages, *loads, *photos_stored, *photos_skipped, *raw_bytes, *photo_bytes, *refused;
} s_metrics_t;

static void s_metrics_init(metrics_t *m, s_metrics_t *sm)
{
    sm->raw_pages = metrics_counter(m, "vinted_store_raw_pages_total", "Raw API pages stored in the landing area");
    sm->loads = metrics_counter(m, "vinted_store_loads_total", "Raw pages read back for replays");
    metrics_family_t *photos = metrics_family(m, METRICS_COUNTER, "vinted_store_photos_total",
        "Photos handled, by outcome (stored: downloaded and written; skipped: already in the store)", "outcome", NULL, 0);
    sm->photos_stored = metrics_series(photos, "stored");
    sm->photos_skipped = metrics_series(photos, "skipped");
    metrics_family_t *bytes = metrics_family(m, METRICS_COUNTER, "vinted_store_bytes_total",
        "Bytes written to the object store, by what (raw: compressed pages; photo: downloaded photos)", "what", NULL, 0);
    sm->raw_bytes = metrics_series(bytes, "raw");
    sm->photo_bytes = metrics_series(bytes, "photo");
    sm->refused = metrics_counter(m, "vinted_store_refused_total", "Tasks refused (NACK)");
}

static void s_metrics_count(const s_metrics_t *sm, const proto_msg_t *reply)
{
    if (!reply)
        return;
    if (reply->cmd != PROTO_RESULT) {
        metrics_inc(sm->refused);
        return;
    }
    if (reply->body == PROTO_BODY_STORED) {
        metrics_inc(sm->raw_pages);
        metrics_add(sm->raw_bytes, (double) reply->u.stored.bytes);
    }
    else if (reply->body == PROTO_BODY_PAGE)
        metrics_inc(sm->loads);
    else if (reply->body == PROTO_BODY_PHOTO && reply->u.photo.skipped)
        metrics_inc(sm->photos_skipped);
    else if (reply->body == PROTO_BODY_PHOTO) {
        metrics_inc(sm->photos_stored);
        metrics_add(sm->photo_bytes, (double) reply->u.photo.bytes);
    }
}

static int s_pump(void *ctx) { return worker_pump(ctx); }
static int s_sleep(void *ctx, int64_t ms) { return worker_sleep(ctx, ms); }

int main(int argc, char **argv)
{
    int rc = config_parse(s_opts, argc, argv, "vinted-s3-uploader",
                          "Stores every raw API page, gzip-compressed with its request context, in the\n"
                          "object store's raw landing area, and reads stored pages back for replays.\n"
                          "Downloads listing photos from the image CDN (retrying 5xx, 429, network\n"
                          "errors and damaged bodies) into images/<item_id>/<photo_id>.<ext>, skips\n"
                          "photos already stored, and reports key, size, content type and SHA-256.");
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    int64_t capacity, cdn_timeout_ms;
    if (config_int(s_opts, "capacity", 1, 1000, &capacity) != 0
        || config_duration_ms(s_opts, "cdn-timeout", &cdn_timeout_ms) != 0
        || config_endpoint(s_opts, "broker", false) != 0)
        return 2;
    if (cdn_timeout_ms <= 0) {
        fprintf(stderr, "invalid --cdn-timeout: must be more than 0\n");
        return 2;
    }
    log_init("s3-uploader");
    metrics_t *metrics = NULL;
    curve_t *curve = NULL; /* CURVE keys for the broker socket, or NULL */
    rc = curve_client_setup(s_opts, &curve);
    if (rc != 0)
        return rc;
    rc = metrics_setup(s_opts, &metrics);
    if (rc != 0) {
        curve_destroy(&curve);
        return rc;
    }
    s_metrics_t sm;
    s_metrics_init(metrics, &sm);
    /* libcurl initializes itself (thread-safely, since 7.84) with the first handle: an S3
       store at start, a photo download on the first IMAGE task; a file:// store that only
       lands and replays raw pages never pays for its TLS setup */
    char err[512];
    cdn_settings_t settings = { config_get(s_opts, "cdn-url"), cdn_timeout_ms, CDN_BACKOFF_BASE_MS,
                                CDN_BACKOFF_MAX_MS, CDN_RETRIES };
    /* the gate's worker is set once it exists; a dummy first validates the settings */
    cdn_t *cdn = cdn_new(&settings, NULL, err, sizeof err);
    if (!cdn) {
        fprintf(stderr, "invalid --cdn-url / VINTED_CDN_URL '%s': %s\n", config_get(s_opts, "cdn-url"), err);
        curl_global_cleanup();
        metrics_destroy(&metrics);
        curve_destroy(&curve);
        return 2;
    }
    cdn_destroy(&cdn);
    objstore_t *store = objstore_new(config_get(s_opts, "store"), err, sizeof err);
    if (!store) {
        fprintf(stderr, "invalid --store / VINTED_STORE '%s': %s\n", config_get(s_opts, "store"), err);
        curl_global_cleanup();
        metrics_destroy(&metrics);
        curve_destroy(&curve);
        return 2;
    }
    log_info("object store", "store=%s", log_str(objstore_describe(store)));
    worker_t *w = worker_new_curve(config_get(s_opts, "broker"), PROTO_STAGE_STORE, (int) capacity,
                                   "s3-uploader", curve);
    cdn_gate_t gate = { s_pump, s_sleep, w };
    cdn = w ? cdn_new(&settings, &gate, err, sizeof err) : NULL;
    if (!cdn) {
        log_error("cannot start", "broker=%s error=%s", log_str(config_get(s_opts, "broker")),
                  log_str(w ? err : "no worker"));
        worker_destroy(&w);
        objstore_destroy(&store);
        curl_global_cleanup();
        metrics_destroy(&metrics);
        curve_destroy(&curve);
        return 1;
    }
    log_info("cdn", "cdn_url=%s timeout_ms=%lld retries=%d",
             log_str(settings.base_url && *settings.base_url ? settings.base_url : "(as served)"),
             (long long) cdn_timeout_ms, CDN_RETRIES);
    while (!worker_interrupted(w)) {
        proto_msg_t *task = worker_next(w, 1000);
        if (!task)
            continue;
        proto_msg_t *reply = uploader_handle_patiently(store, cdn, task, s_sleep, w, UPLOADER_STORE_PATIENCE_MS);
        s_metrics_count(&sm, reply);
        if (reply && worker_send(w, reply) != 0)
            log_warn("cannot send to the broker", "cmd=%s", proto_cmd_name(reply->cmd));
        proto_msg_destroy(&reply);
        proto_msg_destroy(&task);
    }
    cdn_destroy(&cdn);
    worker_destroy(&w);
    objstore_destroy(&store);
    curl_global_cleanup();
    metrics_destroy(&metrics);
    curve_destroy(&curve);
    return 0;
}
