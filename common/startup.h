/*  startup.h - the start-up every pipeline process shares once its options are
    parsed: its CURVE keys for the broker sockets (the broker's server keys or a
    worker's client keys, common/curve.h) and its Prometheus endpoint
    (common/metrics.h). A bad setting is said on stderr, and then nothing is
    left to free.

        curve_t *curve;
        metrics_t *metrics;
        int rc = startup_keys_metrics(opts, false, &curve, &metrics);
        if (rc != 0)
            return rc;                  the exit status
        ...
        metrics_destroy(&metrics);
        curve_destroy(&curve);
*/
#ifndef STARTUP_H_INCLUDED
#define STARTUP_H_INCLUDED

#include <stdbool.h>

#include "common/config.h"
#include "common/curve.h"
#include "common/metrics.h"

/* From opts, which include METRICS_CONFIG_OPTS and CURVE_SERVER_CONFIG_OPTS (server)
   or CURVE_CLIENT_CONFIG_OPTS: *curve the keys (NULL: plain ZeroMQ) and *metrics the
   registry serving them (NULL: off). 0, or the exit status of curve_*_setup or
   metrics_setup with *curve and *metrics NULL. */
int startup_keys_metrics(const config_opt_t *opts, bool server, curve_t **curve, metrics_t **metrics);

void startup_test(bool verbose);

#endif
