/*  vinted-ctl - talk to the broker's control endpoint: push windows, show status. */
#include <cjson/cJSON.h>
#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/config.h"
#include "common/log.h"
#include "proto/proto.h"

static config_opt_t s_opts[] = {
    { "control", "VINTED_CONTROL", "tcp://127.0.0.1:5556", "the broker's control endpoint", NULL },
    { "catalog", NULL, NULL, "window: the catalog id", NULL },
    { "from", NULL, NULL, "window: start of the time range (UTC, e.g. 2026-11-25T10:00:00Z; default: one window ago)", NULL },
    { "to", NULL, NULL, "window: end of the time range (UTC; default: now)", NULL },
    { "wait", NULL, "flag", "window: wait until the window is committed; exit non-zero if it fails", NULL },
    { "timeout", "VINTED_CTL_TIMEOUT", NULL, "how long to wait for the broker (default 10s, or 6h with --wait)", NULL },
    { "json", NULL, "flag", "print the broker's answer as JSON", NULL },
    { NULL, NULL, NULL, NULL, NULL },
};

static const char *s_summary =
    "Commands:\n"
    "  window --catalog ID [--from T --to T] [--wait]   push an ad-hoc window job\n"
    "  status                                          workers, queues, windows, budget, last error\n"
    "Exit status: 0 ok; 1 the broker answered with an error (or the window failed);\n"
    "2 bad arguments; 3 the broker could not be reached or could not do it (database error).";

static void s_print_status(const char *json)
{
    cJSON *root = cJSON_Parse(json);
    if (!root) {
        printf("%s\n", json);
        return;
    }
    cJSON *stages = cJSON_GetObjectItemCaseSensitive(root, "stages");
    printf("%-10s %8s %8s %9s %10s\n", "stage", "workers", "queued", "inflight", "done");
    cJSON *st;
    cJSON_ArrayForEach(st, stages)
    {
        printf("%-10s %8d %8d %9d %10.0f\n", st->string,
               cJSON_GetObjectItemCaseSensitive(st, "workers")->valueint,
               cJSON_GetObjectItemCaseSensitive(st, "queued")->valueint,
               cJSON_GetObjectItemCaseSensitive(st, "inflight")->valueint,
               cJSON_GetObjectItemCaseSensitive(st, "done")->valuedouble);
    }
    printf("\nworkers:\n");
    cJSON *w;
    cJSON_ArrayForEach(w, cJSON_GetObjectItemCaseSensitive(root, "workers"))
    {
        printf("  %-10s %-40s inflight %d/%d done %.0f alive\n",
               cJSON_GetObjectItemCaseSensitive(w, "stage")->valuestring,
               cJSON_GetObjectItemCaseSensitive(w, "name")->valuestring,
               cJSON_GetObjectItemCaseSensitive(w, "inflight")->valueint,
               cJSON_GetObjectItemCaseSensitive(w, "capacity")->valueint,
               cJSON_GetObjectItemCaseSensitive(w, "done")->valuedouble);
    }
    cJSON *win = cJSON_GetObjectItemCaseSensitive(root, "windows");
    printf("\nwindows: pending %.0f, running %.0f, done %.0f, failed %.0f\n",
           cJSON_GetObjectItemCaseSensitive(win, "pending")->valuedouble,
           cJSON_GetObjectItemCaseSensitive(win, "running")->valuedouble,
           cJSON_GetObjectItemCaseSensitive(win, "done")->valuedouble,
           cJSON_GetObjectItemCaseSensitive(win, "failed")->valuedouble);
    printf("requests granted: %.0f (budget %.0f/min), back-off: %.0f ms\n",
           cJSON_GetObjectItemCaseSensitive(root, "requests")->valuedouble,
           cJSON_GetObjectItemCaseSensitive(root, "rate_per_min")->valuedouble,
           cJSON_GetObjectItemCaseSensitive(root, "backoff_ms")->valuedouble);
    cJSON *err = cJSON_GetObjectItemCaseSensitive(root, "last_error");
    printf("last error: %s\n", cJSON_IsString(err) ? err->valuestring : "none");
    cJSON_Delete(root);
}

int main(int argc, char **argv)
{
    const char *positional[2];
    int n_pos = 0;
    int rc = config_parse_positional(s_opts, argc, argv, "vinted-ctl", s_summary, positional, 1, &n_pos);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    log_init("ctl");
    if (n_pos != 1) {
        fprintf(stderr, "vinted-ctl: a command is needed: window or status (see --help)\n");
        return 2;
    }
    const char *verb = positional[0];
    bool wait = config_get(s_opts, "wait") != NULL;
    proto_msg_t *req = proto_msg_new(PROTO_CTL_REQ);
    req->u.ctl_req.verb = proto_msg_strdup(req, verb);
    if (strcmp(verb, "window") == 0) {
        const char *catalog = config_get(s_opts, "catalog");
        char *end;
        long id = catalog ? strtol(catalog, &end, 10) : 0;
        if (!catalog || *end || id <= 0) {
            fprintf(stderr, "vinted-ctl window: --catalog ID is required and must be a positive number\n");
            proto_msg_destroy(&req);
            return 2;
        }
        const char *keys[] = { "catalog", "from", "to" };
        for (size_t i = 0; i < 3; i++) {
            const char *v = config_get(s_opts, keys[i]);
            int64_t t;
            if (v && i > 0 && config_parse_time(v, &t) != 0) {
                fprintf(stderr, "vinted-ctl window: --%s '%s' is not a UTC time like 2026-11-25T10:00:00Z\n", keys[i], v);
                proto_msg_destroy(&req);
                return 2;
            }
            if (v) {
                req->u.ctl_req.keys[req->u.ctl_req.n_args] = proto_msg_strdup(req, keys[i]);
                req->u.ctl_req.values[req->u.ctl_req.n_args++] = proto_msg_strdup(req, v);
            }
        }
        req->u.ctl_req.keys[req->u.ctl_req.n_args] = proto_msg_strdup(req, "wait");
        req->u.ctl_req.values[req->u.ctl_req.n_args++] = proto_msg_strdup(req, wait ? "1" : "0");
    }
    else if (strcmp(verb, "status") != 0) {
        fprintf(stderr, "vinted-ctl: unknown command '%s' (window, status)\n", verb);
        proto_msg_destroy(&req);
        return 2;
    }
    int64_t timeout_ms;
    const char *timeout_text = config_get(s_opts, "timeout");
    if (config_parse_duration_ms(timeout_text ? timeout_text : (wait ? "6h" : "10s"), &timeout_ms) != 0) {
        fprintf(stderr, "vinted-ctl: invalid --timeout '%s' (examples: 30s, 5m)\n", timeout_text);
        proto_msg_destroy(&req);
        return 2;
    }
    uint8_t *data;
    size_t size;
    if (proto_encode(req, &data, &size) != 0) {
        proto_msg_destroy(&req);
        return 1;
    }
    proto_msg_destroy(&req);
    const char *endpoint = config_get(s_opts, "control");
    zsock_t *sock = zsock_new(ZMQ_DEALER);
    zsock_set_linger(sock, 0);
    if (zsock_connect(sock, "%s", endpoint) != 0) {
        fprintf(stderr, "vinted-ctl: invalid control endpoint '%s'\n", endpoint);
        free(data);
        zsock_destroy(&sock);
        return 2;
    }
    zframe_t *frame = zframe_new(data, size);
    free(data);
    zframe_send(&frame, sock, 0);
    zpoller_t *poller = zpoller_new(sock, NULL);
    void *ready = zpoller_wait(poller, timeout_ms > INT32_MAX ? INT32_MAX : (int) timeout_ms);
    zpoller_destroy(&poller);
    if (!ready) {
        fprintf(stderr, "vinted-ctl: could not reach the broker at %s (no answer within %s)\n", endpoint,
                timeout_text ? timeout_text : (wait ? "6h" : "10s"));
        zsock_destroy(&sock);
        return 3;
    }
    zframe_t *reply = zframe_recv(sock);
    char err[256];
    proto_msg_t *rep = reply ? proto_decode(zframe_data(reply), zframe_size(reply), err, sizeof err) : NULL;
    zframe_destroy(&reply);
    zsock_destroy(&sock);
    if (!rep || rep->cmd != PROTO_CTL_REP) {
        fprintf(stderr, "vinted-ctl: malformed answer from the broker: %s\n", rep ? "not a CTL_REP" : err);
        proto_msg_destroy(&rep);
        return 1;
    }
    int status = rep->u.ctl_rep.status;
    bool json = config_get(s_opts, "json") != NULL;
    if (json)
        printf("%s\n", rep->u.ctl_rep.json ? rep->u.ctl_rep.json : "{}");
    else if (strcmp(verb, "status") == 0 && status == 0 && rep->u.ctl_rep.json)
        s_print_status(rep->u.ctl_rep.json);
    else
        fprintf(status == 0 ? stdout : stderr, "%s\n", rep->u.ctl_rep.message ? rep->u.ctl_rep.message : "");
    proto_msg_destroy(&rep);
    return status >= 0 && status <= 3 ? status : 1;
}
