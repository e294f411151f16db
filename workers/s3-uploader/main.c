/*  vinted-s3-uploader - two stages over the object store: the store stage (raw
    pages in, raw pages back out for replays) and the photo stage (listing photos
    downloaded from the CDN into the store). Each stage's capacity is that many
    threads, each with its own connection to the broker (a credit of one), its own
    object-store handle and (photo) CDN client: the tasks in flight at a worker are
    really worked on at the same time, and a photo download waiting on a dead CDN
    never holds up the raw landing a catalog window waits for.
    --stages store or --stages photo runs one of them (to scale them apart). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>

#include "common/config.h"
#include "common/curve.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/startup.h"
#include "common/objstore.h"
#include "common/worker.h"
#include "workers/s3-uploader/cdn.h"
#include "workers/s3-uploader/uploader.h"

static config_opt_t s_opts[] = {
    { "broker", "VINTED_BROKER", "tcp://127.0.0.1:5555", "broker endpoint to connect to", NULL },
    { "store", "VINTED_STORE", "file://./var/store",
      "object store: s3://bucket/prefix (VINTED_S3_ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION) or file:///path",
      NULL },
    { "stages", "VINTED_UPLOAD_STAGES", "store,photo",
      "stages served, each over its own broker connection: store (raw landing, replay loads), photo (photo downloads)",
      NULL },
    { "capacity", "VINTED_UPLOAD_CAPACITY", "4",
      "store stage: tasks in flight at this worker, each in its own thread (1..64)", NULL },
    { "photo-capacity", "VINTED_PHOTO_CAPACITY", "4",
      "photo stage: downloads in flight at this worker, each in its own thread (1..64)", NULL },
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

/* One thread of a stage served by this process: its broker connection (credit
   one), its object store handle and (photo stage) its CDN client. */
typedef struct {
    proto_stage_t stage;
    worker_t *worker;
    objstore_t *store;
    cdn_t *cdn;
    const s_metrics_t *sm;
    pthread_t thread;
    bool threaded;
} s_stage_t;

static void *s_serve(void *arg)
{
    s_stage_t *st = arg;
    while (!worker_interrupted(st->worker)) {
        proto_msg_t *task = worker_next(st->worker, 1000);
        if (!task)
            continue;
        proto_msg_t *reply = uploader_handle_patiently(st->store, st->cdn, task, s_sleep, st->worker,
                                                       UPLOADER_STORE_PATIENCE_MS);
        s_metrics_count(st->sm, reply);
        if (reply && worker_send(st->worker, reply) != 0)
            log_warn("cannot send to the broker", "stage=%s cmd=%s", proto_stage_name(st->stage),
                     proto_cmd_name(reply->cmd));
        proto_msg_destroy(&reply);
        proto_msg_destroy(&task);
    }
    return NULL;
}

static void s_stage_close(s_stage_t *st)
{
    cdn_destroy(&st->cdn);
    worker_destroy(&st->worker);
    objstore_destroy(&st->store);
}

/* --stages: "store", "photo" or both, comma-separated. 0 ok, -1 (said) if bad. */
static int s_parse_stages(const char *text, bool *store, bool *photo)
{
    *store = *photo = false;
    const char *p = text ? text : "";
    while (*p) {
        size_t n = strcspn(p, ",");
        if (n == 5 && strncmp(p, "store", 5) == 0)
            *store = true;
        else if (n == 5 && strncmp(p, "photo", 5) == 0)
            *photo = true;
        else {
            fprintf(stderr, "invalid --stages / VINTED_UPLOAD_STAGES '%s': '%.*s' is not a stage (store, photo)\n",
                    text, (int) n, p);
            return -1;
        }
        p += n;
        if (*p == ',')
            p++;
    }
    if (!*store && !*photo) {
        fprintf(stderr, "invalid --stages / VINTED_UPLOAD_STAGES '%s': name store, photo or both\n", text ? text : "");
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    int rc = config_parse(s_opts, argc, argv, "vinted-s3-uploader",
                          "Stores every raw API page, gzip-compressed with its request context, in the\n"
                          "object store's raw landing area, and reads stored pages back for replays\n"
                          "(the store stage). Downloads listing photos from the image CDN (retrying 5xx,\n"
                          "429, network errors and damaged bodies) into images/<item_id>/<photo_id>.<ext>,\n"
                          "skips photos already stored, and reports key, size, content type and SHA-256\n"
                          "(the photo stage). Each stage has its own broker connection, credit and thread.");
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    int64_t capacity, photo_capacity, cdn_timeout_ms;
    bool want_store, want_photo;
    if (config_int(s_opts, "capacity", 1, UPLOADER_THREADS_MAX, &capacity) != 0
        || config_int(s_opts, "photo-capacity", 1, UPLOADER_THREADS_MAX, &photo_capacity) != 0
        || config_duration_ms(s_opts, "cdn-timeout", &cdn_timeout_ms) != 0
        || config_endpoint(s_opts, "broker", false) != 0
        || s_parse_stages(config_get(s_opts, "stages"), &want_store, &want_photo) != 0)
        return 2;
    if (cdn_timeout_ms <= 0) {
        fprintf(stderr, "invalid --cdn-timeout: must be more than 0\n");
        return 2;
    }
    log_init("s3-uploader");
    metrics_t *metrics;
    curve_t *curve; /* CURVE keys for the broker socket, or NULL */
    rc = startup_keys_metrics(s_opts, false, &curve, &metrics);
    if (rc != 0)
        return rc;
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
    /* every thread gets its own store handle (libcurl handles are not shared across
       threads): the store stage's first, then the photo stage's */
    int n_store = want_store ? (int) capacity : 0, n = n_store + (want_photo ? (int) photo_capacity : 0);
    s_stage_t *stages = calloc((size_t) n, sizeof *stages);
    if (!stages) {
        log_error("out of memory", NULL);
        curl_global_cleanup();
        metrics_destroy(&metrics);
        curve_destroy(&curve);
        return 1;
    }
    rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        s_stage_t *st = &stages[i];
        st->stage = i < n_store ? PROTO_STAGE_STORE : PROTO_STAGE_PHOTO;
        st->sm = &sm;
        st->store = objstore_new(config_get(s_opts, "store"), err, sizeof err);
        if (!st->store) {
            fprintf(stderr, "invalid --store / VINTED_STORE '%s': %s\n", config_get(s_opts, "store"), err);
            rc = 2;
            break;
        }
        if (i == 0)
            log_info("object store", "store=%s store_threads=%d photo_threads=%d",
                     log_str(objstore_describe(st->store)), n_store, n - n_store);
        st->worker = worker_new_curve(config_get(s_opts, "broker"), st->stage, 1, "s3-uploader", curve);
        if (st->worker && st->stage == PROTO_STAGE_PHOTO) {
            cdn_gate_t gate = { s_pump, s_sleep, st->worker };
            st->cdn = cdn_new(&settings, &gate, err, sizeof err);
        }
        if (!st->worker || (st->stage == PROTO_STAGE_PHOTO && !st->cdn)) {
            log_error("cannot start", "stage=%s broker=%s error=%s", proto_stage_name(st->stage),
                      log_str(config_get(s_opts, "broker")), log_str(st->worker ? err : "no worker"));
            rc = 1;
        }
    }
    if (rc == 0 && want_photo)
        log_info("cdn", "cdn_url=%s timeout_ms=%lld retries=%d",
                 log_str(settings.base_url && *settings.base_url ? settings.base_url : "(as served)"),
                 (long long) cdn_timeout_ms, CDN_RETRIES);
    if (rc == 0) {
        /* every thread but the last in a thread of its own; the last one here */
        for (int i = 0; i < n - 1 && rc == 0; i++) {
            if (pthread_create(&stages[i].thread, NULL, s_serve, &stages[i]) != 0) {
                log_error("cannot start a stage's thread", "stage=%s", proto_stage_name(stages[i].stage));
                rc = 1;
            }
            else
                stages[i].threaded = true;
        }
        if (rc == 0)
            s_serve(&stages[n - 1]);
        else
            zsys_interrupted = 1; /* the threads started end */
        for (int i = 0; i < n; i++)
            if (stages[i].threaded)
                pthread_join(stages[i].thread, NULL);
    }
    for (int i = 0; i < n; i++)
        s_stage_close(&stages[i]);
    free(stages);
    curl_global_cleanup();
    metrics_destroy(&metrics);
    curve_destroy(&curve);
    return rc;
}
