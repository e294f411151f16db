/*  metrics_http.h - the HTTP server of a metrics registry (metrics.h): GET /metrics
    answered with metrics_render()'s text from libmicrohttpd's own thread. Only
    metrics.c uses it (metrics_start, metrics_port, metrics_stop); libmicrohttpd is
    loaded on the first server, so a program with metrics off never maps it.
*/
#ifndef METRICS_HTTP_H_INCLUDED
#define METRICS_HTTP_H_INCLUDED

#include <stdbool.h>

#include "common/metrics.h"

typedef struct _metrics_http_t metrics_http_t;

/* Serve registry on bind (numeric IPv4 or IPv6; NULL or "": 127.0.0.1) and port
   (0: an ephemeral one); NULL when it cannot (logged). */
metrics_http_t *metrics_http_new(metrics_t *registry, const char *bind, int port);
/* Stops the server (its thread is joined); *self_p becomes NULL. */
void metrics_http_destroy(metrics_http_t **self_p);
/* The port it listens on. */
int metrics_http_port(const metrics_http_t *self);

void metrics_http_test(bool verbose);

#endif
