/*  control.h - one request to the broker's control endpoint and its answer
    (CTL_REQ / CTL_REP over a fresh DEALER socket), as used by every vinted-ctl
    verb that talks to the broker. With CURVE keys set once at start
    (control_set_curve), every request goes over CURVE, and a broker that refuses
    the handshake is said at once instead of waiting for the timeout.

        const char *keys[] = { "window" }, *values[] = { "12" };
        bool unreachable;
        proto_msg_t *rep = control_request(endpoint, "get", keys, values, 1, 5000, &unreachable);
        ... rep->u.ctl_rep.status, .message, .json ...
        proto_msg_destroy(&rep);
*/
#ifndef CTL_CONTROL_H_INCLUDED
#define CTL_CONTROL_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>

#include "common/curve.h"
#include "proto/proto.h"

/* The CURVE keys of every later request (borrowed; keep them until the last
   request), or NULL for plain ZeroMQ. Set once, at start. */
void control_set_curve(const curve_t *curve);

/* Send verb with n_args key/value pairs and wait up to timeout_ms for the answer.
   The CTL_REP, or NULL: *unreachable is then true when no answer came in time,
   false when the request or the answer was malformed or the broker refused the
   CURVE handshake (said on stderr). */
proto_msg_t *control_request(const char *endpoint, const char *verb, const char *const *keys,
                             const char *const *values, int n_args, int64_t timeout_ms, bool *unreachable);

/* A command that waits for a window says why it does not progress this often. */
#define CONTROL_SAY_MS 10000

/* The "waiting" message of a get answer's JSON (why the window is not
   progressing), or NULL when it progresses. */
struct cJSON;
const char *control_waiting(const struct cJSON *root);

void control_test(bool verbose);

#endif
