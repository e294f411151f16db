/*  vinted-ctl - talk to the broker's control endpoint: push windows, show status. */
#include <cjson/cJSON.h>
#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/config.h"
#include "common/log.h"
#include "proto/proto.h"

static config_opt_t s_opts[] = {
    { "control", "VINTED_CONTROL", "tcp://127.0.0.1:5556", "the broker's control endpoint", NULL },
    { "catalog", NULL, NULL, "window: the catalog id", NULL },
    { "from", NULL, NULL, "window: start of the time range (UTC, e.g. 2026-11-25T10:00:00Z; default: one window ago)", NULL },
    { "to", NULL, NULL, "window: end of the time range (UTC; default: now)", NULL },
    { "wait", NULL, "flag", "window: wait until the window is committed; exit non-zero if it fails", NULL },
    { "window", NULL, NULL, "get: the window id", NULL },
    { "flow", NULL, NULL, "replay: the flow whose raw pages to replay (catalog)", NULL },
    { "timeout", "VINTED_CTL_TIMEOUT", NULL, "how long to wait for the broker (default 10s, or 6h with --wait)", NULL },
    { "json", NULL, "flag", "print the broker's answer as JSON", NULL },
    { NULL, NULL, NULL, NULL, NULL },
};

static const char *s_summary =
    "Commands:\n"
    "  window --catalog ID [--from T --to T] [--wait]   push an ad-hoc window job\n"
    "  replay --flow catalog --from T --to T [--wait]  feed the raw pages fetched in [T, T) back\n"
    "                                                  through transformer and sink (idempotent)\n"
    "  track [--wait]                                  a tracking run now (snapshots of the sampled items)\n"
    "  get --window ID                                 one window's state\n"
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
    cJSON *kind;
    cJSON_ArrayForEach(kind, cJSON_GetObjectItemCaseSensitive(root, "windows_by_kind"))
    {
        printf("  %-9s pending %.0f, running %.0f, done %.0f, failed %.0f\n", kind->string,
               cJSON_GetObjectItemCaseSensitive(kind, "pending")->valuedouble,
               cJSON_GetObjectItemCaseSensitive(kind, "running")->valuedouble,
               cJSON_GetObjectItemCaseSensitive(kind, "done")->valuedouble,
               cJSON_GetObjectItemCaseSensitive(kind, "failed")->valuedouble);
    }
    printf("requests granted: %.0f (budget %.0f/min), back-off: %.0f ms\n",
           cJSON_GetObjectItemCaseSensitive(root, "requests")->valuedouble,
           cJSON_GetObjectItemCaseSensitive(root, "rate_per_min")->valuedouble,
           cJSON_GetObjectItemCaseSensitive(root, "backoff_ms")->valuedouble);
    cJSON *err = cJSON_GetObjectItemCaseSensitive(root, "last_error");
    printf("last error: %s\n", cJSON_IsString(err) ? err->valuestring : "none");
    cJSON_Delete(root);
}

/* One request, one reply, on a fresh DEALER socket (so a late answer to an
   abandoned request can never be read as the answer to this one).
   NULL with *unreachable set when no answer came within timeout_ms. */
static proto_msg_t *s_request(const char *endpoint, const proto_msg_t *req, int64_t timeout_ms, bool *unreachable)
{
    *unreachable = false;
    uint8_t *data;
    size_t size;
    if (proto_encode(req, &data, &size) != 0) {
        fprintf(stderr, "vinted-ctl: cannot encode the request\n");
        return NULL;
    }
    zsock_t *sock = zsock_new(ZMQ_DEALER);
    zsock_set_linger(sock, 0);
    if (zsock_connect(sock, "%s", endpoint) != 0) {
        fprintf(stderr, "vinted-ctl: invalid control endpoint '%s'\n", endpoint);
        free(data);
        zsock_destroy(&sock);
        return NULL;
    }
    zframe_t *frame = zframe_new(data, size);
    free(data);
    zframe_send(&frame, sock, 0);
    zpoller_t *poller = zpoller_new(sock, NULL);
    void *ready = zpoller_wait(poller, timeout_ms > INT32_MAX ? INT32_MAX : (int) timeout_ms);
    zpoller_destroy(&poller);
    proto_msg_t *rep = NULL;
    if (ready) {
        zframe_t *reply = zframe_recv(sock);
        char err[256] = "no frame";
        rep = reply ? proto_decode(zframe_data(reply), zframe_size(reply), err, sizeof err) : NULL;
        zframe_destroy(&reply);
        if (!rep || rep->cmd != PROTO_CTL_REP) {
            fprintf(stderr, "vinted-ctl: malformed answer from the broker: %s\n", rep ? "not a CTL_REP" : err);
            proto_msg_destroy(&rep);
        }
    }
    else
        *unreachable = true;
    zsock_destroy(&sock);
    return rep;
}

static void s_add_arg(proto_msg_t *req, const char *key, const char *value)
{
    proto_ctl_req_t *r = &req->u.ctl_req;
    r->keys[r->n_args] = proto_msg_strdup(req, key);
    r->values[r->n_args++] = proto_msg_strdup(req, value);
}

/* --wait: poll the window's state until it is done or failed, riding out broker restarts. */
static int s_wait_window(const char *endpoint, int64_t window_id, int64_t deadline, bool json)
{
    char id[24];
    snprintf(id, sizeof id, "%lld", (long long) window_id);
    bool said_unreachable = false;
    int64_t poll_ms = 50;
    while (!zsys_interrupted) {
        proto_msg_t *req = proto_msg_new(PROTO_CTL_REQ);
        req->u.ctl_req.verb = proto_msg_strdup(req, "get");
        s_add_arg(req, "window", id);
        int64_t left = deadline - clock_mono_ms();
        bool unreachable;
        proto_msg_t *rep = s_request(endpoint, req, left < 5000 ? (left > 0 ? left : 1) : 5000, &unreachable);
        proto_msg_destroy(&req);
        if (rep && rep->u.ctl_rep.status != 0) {
            fprintf(stderr, "%s\n", rep->u.ctl_rep.message ? rep->u.ctl_rep.message : "error");
            int status = rep->u.ctl_rep.status;
            proto_msg_destroy(&rep);
            return status >= 1 && status <= 3 ? status : 1;
        }
        if (rep) {
            said_unreachable = false;
            cJSON *root = rep->u.ctl_rep.json ? cJSON_Parse(rep->u.ctl_rep.json) : NULL;
            cJSON *state = root ? cJSON_GetObjectItemCaseSensitive(root, "state") : NULL;
            const char *st = cJSON_IsString(state) ? state->valuestring : "";
            int rc = strcmp(st, "done") == 0 ? 0 : strcmp(st, "failed") == 0 ? 1 : -1;
            if (rc >= 0) {
                if (json)
                    printf("%s\n", rep->u.ctl_rep.json);
                else
                    fprintf(rc == 0 ? stdout : stderr, "%s\n", rep->u.ctl_rep.message ? rep->u.ctl_rep.message : st);
            }
            cJSON_Delete(root);
            proto_msg_destroy(&rep);
            if (rc >= 0)
                return rc;
        }
        else if (unreachable && !said_unreachable) {
            fprintf(stderr, "vinted-ctl: the broker at %s does not answer; still waiting for window %s\n", endpoint, id);
            said_unreachable = true;
        }
        if (clock_mono_ms() >= deadline) {
            fprintf(stderr, "vinted-ctl: window %s not committed within the timeout\n", id);
            return 3;
        }
        zclock_sleep((int) poll_ms);
        poll_ms = poll_ms * 2 > 500 ? 500 : poll_ms * 2;
    }
    return 1;
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
        fprintf(stderr, "vinted-ctl: a command is needed: window, replay, track, get or status (see --help)\n");
        return 2;
    }
    const char *verb = positional[0];
    bool wait = config_get(s_opts, "wait") != NULL;
    bool json = config_get(s_opts, "json") != NULL;
    int64_t timeout_ms;
    const char *timeout_text = config_get(s_opts, "timeout");
    if (!timeout_text)
        timeout_text = wait ? "6h" : "10s";
    if (config_parse_duration_ms(timeout_text, &timeout_ms) != 0) {
        fprintf(stderr, "vinted-ctl: invalid --timeout '%s' (examples: 30s, 5m)\n", timeout_text);
        return 2;
    }
    int64_t deadline = clock_mono_ms() + timeout_ms;
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
        s_add_arg(req, "catalog", catalog);
        const char *times[] = { "from", "to" };
        for (size_t i = 0; i < 2; i++) {
            const char *v = config_get(s_opts, times[i]);
            int64_t t;
            if (v && config_parse_time(v, &t) != 0) {
                fprintf(stderr, "vinted-ctl window: --%s '%s' is not a UTC time like 2026-11-25T10:00:00Z\n", times[i], v);
                proto_msg_destroy(&req);
                return 2;
            }
            if (v)
                s_add_arg(req, times[i], v);
        }
    }
    else if (strcmp(verb, "replay") == 0) {
        const char *flow = config_get(s_opts, "flow");
        const char *from = config_get(s_opts, "from"), *to = config_get(s_opts, "to");
        int64_t a, b;
        if (!flow || (strcmp(flow, "catalog") != 0 && strcmp(flow, "tracking") != 0)) {
            fprintf(stderr, "vinted-ctl replay: --flow catalog|tracking is required (the flow whose raw pages to replay)\n");
            proto_msg_destroy(&req);
            return 2;
        }
        if (!from || !to || config_parse_time(from, &a) != 0 || config_parse_time(to, &b) != 0 || b <= a) {
            fprintf(stderr, "vinted-ctl replay: --from and --to are required UTC times like 2026-11-25T10:00:00Z, from before to\n");
            proto_msg_destroy(&req);
            return 2;
        }
        s_add_arg(req, "flow", flow);
        s_add_arg(req, "from", from);
        s_add_arg(req, "to", to);
    }
    else if (strcmp(verb, "track") == 0) {
    }
    else if (strcmp(verb, "get") == 0) {
        const char *window = config_get(s_opts, "window");
        if (!window) {
            fprintf(stderr, "vinted-ctl get: --window ID is required\n");
            proto_msg_destroy(&req);
            return 2;
        }
        s_add_arg(req, "window", window);
    }
    else if (strcmp(verb, "status") != 0) {
        fprintf(stderr, "vinted-ctl: unknown command '%s' (window, replay, track, get, status)\n", verb);
        proto_msg_destroy(&req);
        return 2;
    }
    const char *endpoint = config_get(s_opts, "control");
    bool unreachable;
    proto_msg_t *rep = s_request(endpoint, req, wait && timeout_ms > 10000 ? 10000 : timeout_ms, &unreachable);
    proto_msg_destroy(&req);
    if (!rep) {
        if (unreachable)
            fprintf(stderr, "vinted-ctl: could not reach the broker at %s (no answer within %s)\n", endpoint,
                    wait && timeout_ms > 10000 ? "10s" : timeout_text);
        return unreachable ? 3 : 1;
    }
    int status = rep->u.ctl_rep.status;
    if (status == 0 && wait && (strcmp(verb, "window") == 0 || strcmp(verb, "replay") == 0 || strcmp(verb, "track") == 0)) {
        cJSON *root = rep->u.ctl_rep.json ? cJSON_Parse(rep->u.ctl_rep.json) : NULL;
        cJSON *id = root ? cJSON_GetObjectItemCaseSensitive(root, "window_id") : NULL;
        int64_t window_id = cJSON_IsNumber(id) ? (int64_t) id->valuedouble : 0;
        cJSON_Delete(root);
        proto_msg_destroy(&rep);
        if (window_id <= 0) {
            fprintf(stderr, "vinted-ctl: the broker did not say which window it queued\n");
            return 1;
        }
        return s_wait_window(endpoint, window_id, deadline, json);
    }
    if (json)
        printf("%s\n", rep->u.ctl_rep.json ? rep->u.ctl_rep.json : "{}");
    else if (strcmp(verb, "status") == 0 && status == 0 && rep->u.ctl_rep.json)
        s_print_status(rep->u.ctl_rep.json);
    else
        fprintf(status == 0 ? stdout : stderr, "%s\n", rep->u.ctl_rep.message ? rep->u.ctl_rep.message : "");
    proto_msg_destroy(&rep);
    return status >= 0 && status <= 3 ? status : 1;
}
