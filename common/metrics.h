/*  metrics.h - Prometheus metrics of one process: a registry of counters,
    gauges and histograms (optionally labelled), served over HTTP by
    libmicrohttpd as GET /metrics in the text exposition format 0.0.4.

        metrics_t *m = NULL;
        int rc = metrics_setup(opts, &m);        // VINTED_METRICS / --metrics, VINTED_METRICS_BIND
        if (rc != 0) return rc;                  // 2: bad value (named on stderr), 1: cannot serve
        metrics_family_t *req = metrics_family(m, METRICS_COUNTER, "vinted_fetch_requests_total",
                                               "HTTP requests to Vinted by status", "status", NULL, 0);
        metrics_inc(metrics_series(req, "200"));
        ...
        metrics_destroy(&m);                     // stops the server

    The registry is off (m == NULL) unless a port is configured: every function
    takes NULL for the registry, a family or a series and then does nothing, so
    instrumented code needs no "if". Series are created on first use (that
    allocates once) and live as long as the registry; keep the handle and the hot
    path is a lock-free atomic update that never allocates. Updates, registration
    and rendering are thread-safe (the HTTP server runs in its own thread).
*/
#ifndef METRICS_H_INCLUDED
#define METRICS_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>

#include "common/config.h"

#define METRICS_MAX_LABELS 3
#define METRICS_MAX_BUCKETS 32

typedef enum { METRICS_COUNTER = 0, METRICS_GAUGE, METRICS_HISTOGRAM } metrics_type_t;

typedef struct _metrics_t metrics_t;
typedef struct _metrics_family_t metrics_family_t;
typedef struct _metrics_series_t metrics_series_t;

/* The two config rows every program adds to its options (before the { NULL } row). */
#define METRICS_CONFIG_OPTS                                                                         \
    { "metrics", "VINTED_METRICS", "",                                                              \
      "port serving Prometheus metrics at GET /metrics (empty or 0: off)", NULL },                  \
    { "metrics-bind", "VINTED_METRICS_BIND", "127.0.0.1",                                           \
      "address the metrics port listens on (0.0.0.0 or :: for every interface)", NULL }

/* Bucket upper bounds (seconds) for latencies from milliseconds to minutes. */
extern const double metrics_latency_buckets[];
extern const int metrics_latency_buckets_n;

metrics_t *metrics_new(void);
/* Stops the server if it runs, frees every family and series. */
void metrics_destroy(metrics_t **self_p);

/* Register (or find, when name exists with the same type) a family. labels:
   comma-separated label names ("stage,state"), or NULL for none. buckets: a
   histogram's increasing upper bounds (le), +Inf is implied. NULL on a bad name,
   bad labels or buckets, or a clash with an existing family (logged). */
metrics_family_t *metrics_family(metrics_t *self, metrics_type_t type, const char *name,
                                 const char *help, const char *labels, const double *buckets,
                                 int n_buckets);

/* The series of family with these label values (one const char * per label name,
   NULL taken as ""), created at first use. */
metrics_series_t *metrics_series(metrics_family_t *family, ...);

/* Shortcuts: an unlabelled family and its only series. */
metrics_series_t *metrics_counter(metrics_t *self, const char *name, const char *help);
metrics_series_t *metrics_gauge(metrics_t *self, const char *name, const char *help);
metrics_series_t *metrics_histogram(metrics_t *self, const char *name, const char *help,
                                    const double *buckets, int n_buckets);

/* Counter or gauge: add 1, add v (a counter ignores v < 0), set v (a counter may be
   set to mirror a monotonic count kept elsewhere). Histogram: observe v. */
void metrics_inc(metrics_series_t *series);
void metrics_add(metrics_series_t *series, double v);
void metrics_set(metrics_series_t *series, double v);
void metrics_observe(metrics_series_t *series, double v);
/* Current value (a histogram: its count); 0 for NULL. */
double metrics_value(const metrics_series_t *series);

/* The exposition text (caller frees), or NULL without a registry. */
char *metrics_render(metrics_t *self, size_t *len_p);

/* Serve GET /metrics on bind:port (bind: a numeric IPv4 or IPv6 address; port 0:
   an ephemeral port, see metrics_port). 0 ok, -1 failed (logged). */
int metrics_start(metrics_t *self, const char *bind, int port);
/* The port served, 0 when not serving. */
int metrics_port(const metrics_t *self);
void metrics_stop(metrics_t *self);

/* Read --metrics / --metrics-bind from opts (which include METRICS_CONFIG_OPTS).
   Off (port empty or 0): *out = NULL and 0. On: a registry serving on that port,
   with vinted_process_start_time_seconds in it, and 0. A bad value: message naming
   it on stderr, 2. Cannot listen: message on stderr, 1. */
int metrics_setup(const config_opt_t *opts, metrics_t **out);

void metrics_test(bool verbose);

#endif
