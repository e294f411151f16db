/*  control.c - one request to the broker's control endpoint and its answer. */
#include "ctl/control.h"

#include <assert.h>
#include <cjson/cJSON.h>
#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Set once at start by vinted-ctl's main (control_set_curve). */
static const curve_t *s_curve;

void control_set_curve(const curve_t *curve)
{
    s_curve = curve;
}

proto_msg_t *control_request(const char *endpoint, const char *verb, const char *const *keys,
                             const char *const *values, int n_args, int64_t timeout_ms, bool *unreachable)
{
    *unreachable = false;
    if (n_args < 0 || n_args > PROTO_CTL_MAXARGS) {
        fprintf(stderr, "vinted-ctl: too many arguments for one control request\n");
        return NULL;
    }
    proto_msg_t *req = proto_msg_new(PROTO_CTL_REQ);
    req->u.ctl_req.verb = proto_msg_strdup(req, verb);
    for (int i = 0; i < n_args; i++) {
        req->u.ctl_req.keys[i] = proto_msg_strdup(req, keys[i]);
        req->u.ctl_req.values[i] = proto_msg_strdup(req, values[i]);
    }
    req->u.ctl_req.n_args = n_args;
    uint8_t *data;
    size_t size;
    int rc = proto_encode(req, &data, &size);
    proto_msg_destroy(&req);
    if (rc != 0) {
        fprintf(stderr, "vinted-ctl: cannot encode the request\n");
        return NULL;
    }
    /* a fresh socket per request: a late answer to an abandoned request can never
       be read as the answer to this one */
    zsock_t *sock = zsock_new(ZMQ_DEALER);
    if (!sock) {
        free(data);
        fprintf(stderr, "vinted-ctl: cannot create a ZeroMQ socket\n");
        return NULL;
    }
    zsock_set_linger(sock, 0);
    if (curve_apply(s_curve, sock) != 0) {
        fprintf(stderr, "vinted-ctl: cannot set the CURVE keys on the control socket\n");
        free(data);
        zsock_destroy(&sock);
        return NULL;
    }
    /* a refused handshake is silent in ZeroMQ: watch for it */
    curve_watch_t *watch = curve_watch_new(sock);
    if (zsock_connect(sock, "%s", endpoint) != 0) {
        fprintf(stderr, "vinted-ctl: invalid control endpoint '%s'\n", endpoint);
        free(data);
        curve_watch_destroy(&watch);
        zsock_destroy(&sock);
        return NULL;
    }
    zframe_t *frame = zframe_new(data, size);
    free(data);
    zframe_send(&frame, sock, 0);
    zpoller_t *poller = zpoller_new(sock, curve_watch_sock(watch), NULL);
    int64_t deadline = zclock_mono() + (timeout_ms < 1 ? 1 : timeout_ms);
    void *ready = NULL;
    bool refused = false;
    char why[256] = "";
    while (!ready && !refused) {
        int64_t left = deadline - zclock_mono();
        if (left <= 0)
            break;
        ready = zpoller_wait(poller, left > INT32_MAX ? INT32_MAX : (int) left);
        if (ready && ready != sock) { /* a handshake event */
            bool ok = false;
            refused = curve_watch_failures(watch, why, sizeof why, &ok) > 0;
            if (refused)
                fprintf(stderr, "vinted-ctl: the broker at %s refused the connection: %s\n", endpoint, why);
            else if (ok)
                why[0] = '\0';
            ready = NULL;
        }
        else if (!ready)
            break;
    }
    if (!ready && !refused && why[0])
        fprintf(stderr, "vinted-ctl: handshakes with the broker at %s failed: %s\n", endpoint, why);
    zpoller_destroy(&poller);
    curve_watch_destroy(&watch);
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
        *unreachable = !refused;
    zsock_destroy(&sock);
    return rep;
}

/* A stand-in broker for the self-test: answers one request with the verb's
   first argument as the message. */
static void s_test_broker(zsock_t *pipe, void *args)
{
    zsock_t *router = args;
    zsock_signal(pipe, 0);
    zmsg_t *msg = zmsg_recv(router);
    if (msg) {
        zframe_t *id = zmsg_pop(msg);
        zframe_t *body = zmsg_pop(msg);
        char err[128];
        proto_msg_t *req = proto_decode(zframe_data(body), zframe_size(body), err, sizeof err);
        assert(req && req->cmd == PROTO_CTL_REQ);
        proto_msg_t *rep = proto_msg_new(PROTO_CTL_REP);
        rep->u.ctl_rep.status = strcmp(req->u.ctl_req.verb, "get") == 0 ? 0 : 2;
        rep->u.ctl_rep.message = proto_msg_strdup(rep, req->u.ctl_req.n_args ? req->u.ctl_req.values[0] : "none");
        rep->u.ctl_rep.json = proto_msg_strdup(rep, "{\"state\":\"done\"}");
        uint8_t *data;
        size_t size;
        assert(proto_encode(rep, &data, &size) == 0);
        zmsg_t *out = zmsg_new();
        zmsg_append(out, &id);
        zmsg_addmem(out, data, size);
        zmsg_send(&out, router);
        free(data);
        proto_msg_destroy(&rep);
        proto_msg_destroy(&req);
        zframe_destroy(&body);
        zmsg_destroy(&msg);
    }
    zmsg_t *term = zmsg_recv(pipe); /* $TERM: the actor is being destroyed */
    zmsg_destroy(&term);
}

const char *control_waiting(const cJSON *root)
{
    cJSON *waiting = cJSON_GetObjectItemCaseSensitive(root, "waiting");
    cJSON *message = cJSON_IsObject(waiting) ? cJSON_GetObjectItemCaseSensitive(waiting, "message") : NULL;
    return cJSON_IsString(message) ? message->valuestring : NULL;
}

void control_test(bool verbose)
{
    (void) verbose;
    zsock_t *router = zsock_new_router("inproc://control-test");
    assert(router);
    zactor_t *broker = zactor_new(s_test_broker, router);
    const char *keys[] = { "window" }, *values[] = { "42" };
    bool unreachable = true;
    proto_msg_t *rep = control_request("inproc://control-test", "get", keys, values, 1, 2000, &unreachable);
    assert(rep && !unreachable);
    assert(rep->u.ctl_rep.status == 0);
    assert(strcmp(rep->u.ctl_rep.message, "42") == 0);
    assert(strstr(rep->u.ctl_rep.json, "done"));
    proto_msg_destroy(&rep);
    zactor_destroy(&broker);
    zsock_destroy(&router);

    /* nobody there: unreachable within the timeout */
    rep = control_request("inproc://control-test-nobody", "status", NULL, NULL, 0, 50, &unreachable);
    assert(!rep && unreachable);
    /* a bad endpoint is not "unreachable" */
    rep = control_request("nonsense", "status", NULL, NULL, 0, 50, &unreachable);
    assert(!rep && !unreachable);
}
