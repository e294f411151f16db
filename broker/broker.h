/*  broker.h - the broker: slices time into windows per catalog, dispatches
    tasks to the workers registered per stage, routes each stage's output to
    the next stage, and marks a window done once the sink has committed it.
    The whole journey of a message is in broker.c's dispatch (s_on_result).
*/
#ifndef BROKER_H_INCLUDED
#define BROKER_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>

#include "common/curve.h"
#include "common/metrics.h"
#include "common/proxies.h"

#define BROKER_MAX_CATALOGS 4096
#define BROKER_CONTROL_MAX_MESSAGE (1 << 20) /* control requests are small: larger frames are refused */

typedef struct {
    const char *endpoint;     /* ROUTER for workers */
    const char *control;      /* ROUTER for vinted-ctl */
    const char *pg;           /* libpq connection string ("" = PG* variables) */
    const char *store;        /* object store URL: the raw landing area replays read */
    int32_t catalogs[BROKER_MAX_CATALOGS];
    char sites[BROKER_MAX_CATALOGS][8]; /* the site of each catalog ("pt", "co.uk"; VINTED_SITES) */
    char default_site[8];     /* VINTED_SITE: catalogs and ad-hoc windows that name no site */
    double weights[BROKER_MAX_CATALOGS]; /* adaptive: each catalog's share of a short budget (default 1) */
    int n_catalogs;
    int64_t window_ms;        /* window length (adaptive: the first interval, until a rate is known) */
    bool adaptive;            /* VINTED_SCHEDULE=adaptive: poll times from each catalog's rate (broker/schedule.h) */
    int64_t min_interval_ms;  /* adaptive: polls of one catalog at least this far apart */
    int64_t max_interval_ms;  /* adaptive: ... and, budget allowing, at most this far */
    double rate_per_min;      /* requests per minute per egress identity, all fetchers together */
    double rate_total_per_min; /* ... and all identities together at most (0: no cap) */
    const proxies_t *proxies; /* the egress identities (VINTED_PROXIES; borrowed), or NULL: one, direct */
    int64_t task_timeout_ms;  /* a task unanswered this long is dispatched again */
    int max_attempts;         /* NACKs/redeliveries of one task before its window fails */
    size_t max_queued;        /* flow control: bytes a stage may have waiting before what feeds it is held */
    uint64_t sample_threshold; /* items whose sample bucket is below this are followed (common/sample.h) */
    int64_t track_every_ms;   /* a tracking run this often (0: only on request) */
    int64_t catalogs_every_ms; /* refresh the catalog tree this often (0: only on request) */
    bool images_off;          /* no images windows */
    bool images_main;         /* also the main photo of every item, not only the sample's photos */
    int64_t photo_retry_ms;   /* photos left unstored by their images window are tried again this often (0: never) */
    int64_t max_message;      /* largest frame accepted on the worker socket (ZMQ_MAXMSGSIZE) */
    metrics_t *metrics;       /* Prometheus registry (borrowed), or NULL when metrics are off */
    const curve_t *curve;     /* CURVE keys and allow-list of both sockets (borrowed), or NULL: plain */
} broker_config_t;

typedef struct _broker_t broker_t;

/* Whether text looks like a Vinted site tld ("pt", "co.uk"): lowercase letters and dots, 2..7 bytes. */
bool broker_site_ok(const char *text);

broker_t *broker_new(const broker_config_t *config);
void broker_destroy(broker_t **self_p);
/* Serve until SIGINT/SIGTERM. 0 on a clean stop. */
int broker_run(broker_t *self);

#endif
