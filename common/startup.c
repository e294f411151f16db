/*  startup.c - the start-up every pipeline process shares (see startup.h). */
#include "common/startup.h"

#include <assert.h>
#include <stddef.h>

int startup_keys_metrics(const config_opt_t *opts, bool server, curve_t **curve, metrics_t **metrics)
{
    *metrics = NULL;
    int rc = server ? curve_server_setup(opts, curve) : curve_client_setup(opts, curve);
    if (rc != 0)
        return rc;
    rc = metrics_setup(opts, metrics);
    if (rc != 0)
        curve_destroy(curve);
    return rc;
}

void startup_test(bool verbose)
{
    (void) verbose;
    config_opt_t opts[] = { CURVE_CLIENT_CONFIG_OPTS, METRICS_CONFIG_OPTS, { NULL, NULL, NULL, NULL, NULL } };
    config_opt_t sopts[] = { CURVE_SERVER_CONFIG_OPTS, METRICS_CONFIG_OPTS, { NULL, NULL, NULL, NULL, NULL } };
    curve_t *curve = (curve_t *) 1;
    metrics_t *metrics = (metrics_t *) 1;
    /* both off */
    assert(startup_keys_metrics(opts, false, &curve, &metrics) == 0 && !curve && !metrics);
    assert(startup_keys_metrics(sopts, true, &curve, &metrics) == 0 && !curve && !metrics);
    /* half a CURVE pair: refused before the metrics are looked at */
    opts[0].value = "broker.key";
    opts[2].value = "http";
    metrics = (metrics_t *) 1;
    assert(startup_keys_metrics(opts, false, &curve, &metrics) == 2 && !curve && !metrics);
    /* a bad metrics port */
    opts[0].value = NULL;
    assert(startup_keys_metrics(opts, false, &curve, &metrics) == 2 && !curve && !metrics);
    sopts[2].value = "70000";
    assert(startup_keys_metrics(sopts, true, &curve, &metrics) == 2 && !curve && !metrics);
}
