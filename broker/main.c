/*  vinted-broker - schedules windows and routes work between the stages. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/broker.h"
#include "common/config.h"
#include "common/pgconf.h"
#include "common/curve.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/objstore.h"
#include "common/proxies.h"
#include "common/sample.h"
#include "common/startup.h"

static config_opt_t s_opts[] = {
    { "broker", "VINTED_BROKER", "tcp://127.0.0.1:5555", "endpoint the broker binds for workers", NULL },
    { "control", "VINTED_CONTROL", "tcp://127.0.0.1:5556", "endpoint the broker binds for vinted-ctl", NULL },
    { "pg", "VINTED_PG", "", "PostgreSQL connection string or URI (empty: libpq's PG* variables)", NULL },
    { "store", "VINTED_STORE", "file://./var/store", "object store holding the raw landing area (s3://bucket/prefix or file:///path)", NULL },
    { "catalogs", "VINTED_CATALOGS", "", "comma-separated catalog ids to schedule every window (empty: only ad-hoc windows)", NULL },
    { "site", "VINTED_SITE", "pt", "the Vinted site of VINTED_CATALOGS and of ad-hoc windows that name none", NULL },
    { "sites", "VINTED_SITES", "", "several sites: catalogs per site, like pt:221,1242;fr:221 (replaces VINTED_CATALOGS)", NULL },
    { "window", "VINTED_WINDOW", "1h", "window length, e.g. 1h, 300s (adaptive: the first interval of a catalog, until its rate is known)", NULL },
    { "schedule", "VINTED_SCHEDULE", "fixed", "fixed: every catalog polled every window; adaptive: each catalog polled when about a whole number of pages of new listings is due, the budget shared across catalogs", NULL },
    { "min-interval", "VINTED_MIN_INTERVAL", "1m", "adaptive: polls of one catalog at least this far apart", NULL },
    { "max-interval", "VINTED_MAX_INTERVAL", "24h", "adaptive: polls of one catalog, budget allowing, at most this far apart", NULL },
    { "catalog-weights", "VINTED_CATALOG_WEIGHTS", "", "adaptive: a short budget's share per catalog, like 221=3,1242=0.5 (default 1)", NULL },
    { "rate", "VINTED_RATE", "1", "most requests per minute all fetchers together send to Vinted through one egress identity", NULL },
    { "rate-total", "VINTED_RATE_TOTAL", "0", "most requests per minute through all identities together (0: no cap beyond VINTED_RATE each)", NULL },
    { "proxies", "VINTED_PROXIES", "", "egress identities, as the fetchers read them (proxy URLs, comma-separated, or @file): each gets VINTED_RATE and pauses alone when blocked; empty: one, direct", NULL },
    { "sample-frac", "VINTED_SAMPLE_FRAC", "0.01", "fraction of items the tracking and images flows follow (0..1)", NULL },
    { "track-every", "VINTED_TRACK_EVERY", "6h", "a tracking run this often (0: only on vinted-ctl track)", NULL },
    { "catalogs-every", "VINTED_CATALOGS_EVERY", "24h", "refresh the site's catalog tree (names for the reports) this often; also at start when none is loaded (0: only on vinted-ctl refresh-catalogs)", NULL },
    { "images", "VINTED_IMAGES", "sampled", "photos to store: sampled (all photos of sampled items), main (also the main photo of every item), off", NULL },
    { "photo-retry", "VINTED_PHOTO_RETRY", "1h", "try again this often the photos their images window could not store (a CDN that was down); 0: never", NULL },
    { "task-timeout", "VINTED_TASK_TIMEOUT", "10m", "a task unanswered this long is dispatched again", NULL },
    { "max-attempts", "VINTED_MAX_ATTEMPTS", "8", "refusals of one task before its window fails", NULL },
    { "max-queued", "VINTED_MAX_QUEUED", "32M", "flow control: when this much work waits for a stage, the stages feeding it are held back (bytes, or with K, M, G; bounds the broker's memory)", NULL },
    { "max-message", "VINTED_MAX_MESSAGE", "64M", "largest frame a worker may send (bytes, or with K, M, G); a peer sending more is disconnected by ZeroMQ", NULL },
    METRICS_CONFIG_OPTS,
    CURVE_SERVER_CONFIG_OPTS,
    { NULL, NULL, NULL, NULL, NULL },
};

/* Append the comma-separated catalog ids of text to cfg, each of site; `what` names
   the setting in errors; unique: a catalog may appear once per site. 0 or -1. */
static int s_add_catalogs(broker_config_t *cfg, const char *text, const char *site, const char *what, bool unique)
{
    for (const char *p = text; p && *p;) {
        char *end;
        long id = strtol(p, &end, 10);
        if (end == p || id <= 0 || id > 2147483647 || (*end && *end != ',')) {
            fprintf(stderr, "invalid %s '%s': expected comma-separated positive ids, like 221,1242\n", what, text);
            return -1;
        }
        if (cfg->n_catalogs == BROKER_MAX_CATALOGS) {
            fprintf(stderr, "invalid %s: more than %d catalogs\n", what, BROKER_MAX_CATALOGS);
            return -1;
        }
        for (int j = 0; unique && j < cfg->n_catalogs; j++)
            if (cfg->catalogs[j] == (int32_t) id && strcmp(cfg->sites[j], site) == 0) {
                fprintf(stderr, "invalid %s: catalog %ld of %s twice\n", what, id, site);
                return -1;
            }
        snprintf(cfg->sites[cfg->n_catalogs], sizeof cfg->sites[0], "%.7s", site);
        cfg->catalogs[cfg->n_catalogs++] = (int32_t) id;
        p = *end ? end + 1 : end;
    }
    return 0;
}

static int s_parse_catalogs(const char *text, broker_config_t *cfg)
{
    cfg->n_catalogs = 0;
    return s_add_catalogs(cfg, text, cfg->default_site, "--catalogs / VINTED_CATALOGS", false);
}

/* --sites "pt:221,1242;fr:221": catalogs per site, in place of --catalogs. */
static int s_parse_sites(const char *text, broker_config_t *cfg)
{
    if (!text || !*text)
        return 0;
    cfg->n_catalogs = 0;
    for (const char *p = text; *p;) {
        const char *colon = strchr(p, ':'), *semi = strchr(p, ';');
        size_t part = semi ? (size_t) (semi - p) : strlen(p);
        char site[16] = "";
        if (colon && (size_t) (colon - p) < sizeof site && (size_t) (colon - p) < part)
            memcpy(site, p, (size_t) (colon - p));
        if (!broker_site_ok(site)) {
            fprintf(stderr, "invalid --sites / VINTED_SITES '%s': expected site:ids;site:ids, like pt:221,1242;fr:221"
                            " (sites like pt, fr, co.uk)\n", text);
            return -1;
        }
        char ids[4096];
        size_t n = part - (size_t) (colon - p) - 1;
        if (n >= sizeof ids) {
            fprintf(stderr, "invalid --sites / VINTED_SITES: the catalogs of %s are too long\n", site);
            return -1;
        }
        memcpy(ids, colon + 1, n);
        ids[n] = '\0';
        if (!*ids) {
            fprintf(stderr, "invalid --sites / VINTED_SITES '%s': site %s needs catalog ids, like %s:221,1242\n", text,
                    site, site);
            return -1;
        }
        if (s_add_catalogs(cfg, ids, site, "--sites / VINTED_SITES", true) != 0)
            return -1;
        p += part + (semi ? 1 : 0);
    }
    return 0;
}

/* --catalog-weights "id=w,...": each id must be a configured catalog. */
static int s_parse_weights(const char *text, broker_config_t *cfg)
{
    for (int i = 0; i < cfg->n_catalogs; i++)
        cfg->weights[i] = 1.0;
    const char *p = text;
    while (p && *p) {
        char *end;
        long id = strtol(p, &end, 10);
        double w = 0;
        if (end != p && *end == '=') {
            const char *q = end + 1;
            w = strtod(q, &end);
            if (end == q)
                w = 0;
        }
        if (w <= 0 || !(w < 1e6) || (*end && *end != ',')) {
            fprintf(stderr, "invalid --catalog-weights / VINTED_CATALOG_WEIGHTS '%s': expected id=weight pairs with"
                            " weights above 0, like 221=3,1242=0.5\n", text);
            return -1;
        }
        int i = 0;
        while (i < cfg->n_catalogs && cfg->catalogs[i] != id)
            i++;
        if (i == cfg->n_catalogs) {
            fprintf(stderr, "invalid --catalog-weights / VINTED_CATALOG_WEIGHTS '%s': catalog %ld is not in"
                            " --catalogs / VINTED_CATALOGS\n", text, id);
            return -1;
        }
        cfg->weights[i] = w;
        p = *end ? end + 1 : end;
    }
    return 0;
}

int main(int argc, char **argv)
{
    int rc = config_parse(s_opts, argc, argv, "vinted-broker",
                          "Slices time into windows per catalog, dispatches fetch, transform and sink tasks\n"
                          "to the workers of each stage over ZeroMQ, and records windows and each catalog's\n"
                          "high-water mark in PostgreSQL so a restart resumes where it stopped.");
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    log_init("broker");
    static broker_config_t cfg; /* 48 KB of catalogs: not on the stack */
    cfg.endpoint = config_get(s_opts, "broker");
    cfg.control = config_get(s_opts, "control");
    cfg.pg = config_get(s_opts, "pg");
    cfg.store = config_get(s_opts, "store");
    int64_t rate, attempts, max_queued;
    const char *site = config_get(s_opts, "site");
    if (!broker_site_ok(site)) {
        fprintf(stderr, "invalid --site / VINTED_SITE '%s': a Vinted site like pt, fr or co.uk\n", site);
        return 2;
    }
    snprintf(cfg.default_site, sizeof cfg.default_site, "%s", site);
    if (s_parse_catalogs(config_get(s_opts, "catalogs"), &cfg) != 0
        || s_parse_sites(config_get(s_opts, "sites"), &cfg) != 0
        || config_duration_ms(s_opts, "window", &cfg.window_ms) != 0
        || config_duration_ms(s_opts, "task-timeout", &cfg.task_timeout_ms) != 0
        || config_int(s_opts, "rate", 1, 1000000, &rate) != 0
        || config_int(s_opts, "max-attempts", 1, 1000, &attempts) != 0
        || config_size(s_opts, "max-queued", 1, (int64_t) 1 << 40, &max_queued) != 0
        || config_size(s_opts, "max-message", 1 << 20, 1 << 30, &cfg.max_message) != 0)
        return 2;
    const char *schedule = config_get(s_opts, "schedule");
    if (strcmp(schedule, "fixed") != 0 && strcmp(schedule, "adaptive") != 0) {
        fprintf(stderr, "invalid --schedule / VINTED_SCHEDULE '%s': fixed or adaptive\n", schedule);
        return 2;
    }
    cfg.adaptive = strcmp(schedule, "adaptive") == 0;
    if (config_duration_ms(s_opts, "min-interval", &cfg.min_interval_ms) != 0
        || config_duration_ms(s_opts, "max-interval", &cfg.max_interval_ms) != 0
        || s_parse_weights(config_get(s_opts, "catalog-weights"), &cfg) != 0)
        return 2;
    if (cfg.min_interval_ms < 1000) {
        fprintf(stderr, "invalid --min-interval / VINTED_MIN_INTERVAL '%s': at least 1s\n",
                config_get(s_opts, "min-interval"));
        return 2;
    }
    if (cfg.max_interval_ms < cfg.min_interval_ms) {
        fprintf(stderr, "invalid --max-interval / VINTED_MAX_INTERVAL '%s': less than --min-interval '%s'\n",
                config_get(s_opts, "max-interval"), config_get(s_opts, "min-interval"));
        return 2;
    }
    if (cfg.window_ms < 1000) {
        fprintf(stderr, "invalid --window / VINTED_WINDOW '%s': at least 1s\n", config_get(s_opts, "window"));
        return 2;
    }
    cfg.rate_per_min = (double) rate;
    int64_t rate_total;
    if (config_int(s_opts, "rate-total", 0, 1000000, &rate_total) != 0)
        return 2;
    cfg.rate_total_per_min = (double) rate_total;
    static proxies_t proxies; /* large: not on the stack */
    if (proxies_load(config_get(s_opts, "proxies"), &proxies) != 0)
        return 2;
    cfg.proxies = &proxies;
    const char *frac_text = config_get(s_opts, "sample-frac");
    char *end;
    double frac = strtod(frac_text, &end);
    if (*end || end == frac_text || frac < 0 || frac > 1) {
        fprintf(stderr, "invalid --sample-frac / VINTED_SAMPLE_FRAC '%s': a fraction between 0 and 1\n", frac_text);
        return 2;
    }
    cfg.sample_threshold = sample_threshold(frac);
    if (strcmp(config_get(s_opts, "track-every"), "0") == 0)
        cfg.track_every_ms = 0;
    else if (config_duration_ms(s_opts, "track-every", &cfg.track_every_ms) != 0)
        return 2;
    if (strcmp(config_get(s_opts, "photo-retry"), "0") == 0)
        cfg.photo_retry_ms = 0;
    else if (config_duration_ms(s_opts, "photo-retry", &cfg.photo_retry_ms) != 0)
        return 2;
    if (strcmp(config_get(s_opts, "catalogs-every"), "0") == 0)
        cfg.catalogs_every_ms = 0;
    else if (config_duration_ms(s_opts, "catalogs-every", &cfg.catalogs_every_ms) != 0)
        return 2;
    const char *images = config_get(s_opts, "images");
    if (strcmp(images, "sampled") != 0 && strcmp(images, "main") != 0 && strcmp(images, "off") != 0) {
        fprintf(stderr, "invalid --images / VINTED_IMAGES '%s': sampled, main or off\n", images);
        return 2;
    }
    cfg.images_off = strcmp(images, "off") == 0;
    cfg.images_main = strcmp(images, "main") == 0;
    cfg.max_attempts = (int) attempts;
    if (config_endpoint(s_opts, "broker", true) != 0 || config_endpoint(s_opts, "control", true) != 0
        || pgconf_check(s_opts, "pg") != 0)
        return 2;
    if (strcmp(config_get(s_opts, "broker"), config_get(s_opts, "control")) == 0) {
        fprintf(stderr, "invalid --control / VINTED_CONTROL '%s': the same endpoint as --broker\n",
                config_get(s_opts, "control"));
        return 2;
    }
    cfg.max_queued = (size_t) max_queued;
    curve_t *curve;
    rc = startup_keys_metrics(s_opts, true, &curve, &cfg.metrics);
    if (rc != 0)
        return rc;
    cfg.curve = curve;
    char err[512];
    objstore_t *store = objstore_new(config_get(s_opts, "store"), err, sizeof err);
    if (!store) {
        fprintf(stderr, "invalid --store / VINTED_STORE '%s': %s\n", config_get(s_opts, "store"), err);
        metrics_destroy(&cfg.metrics);
        curve_destroy(&curve);
        return 2;
    }
    objstore_destroy(&store);
    broker_t *broker = broker_new(&cfg);
    if (!broker) {
        metrics_destroy(&cfg.metrics);
        curve_destroy(&curve);
        return 1;
    }
    rc = broker_run(broker);
    broker_destroy(&broker);
    metrics_destroy(&cfg.metrics);
    curve_destroy(&curve);
    return rc;
}
