/*  session.h - the fetcher's HTTP client and its anonymous Vinted session:
    one libcurl easy handle kept for the whole process (connection reuse,
    compressed transfers, an in-memory cookie jar), the home-page visit that
    opens a session (access_token_web, refresh_token_web, anon_id cookies), and
    plain GETs of API URLs and item pages.

    Every request first asks the gate for a token (the broker's global request
    rate) and pumps the gate during the transfer so heartbeats go on; when the
    gate fails the request is abandoned and the call returns -1.
*/
#ifndef SESSION_H_INCLUDED
#define SESSION_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../common/proxies.h"
#include "vinted.h"

/* The broker, seen from the HTTP client (main wires these to worker_token,
   worker_pump and worker_sleep). Each returns 0, or -1 to abandon the task;
   token returns the egress identity the token is for (0..) or -1. */
typedef struct {
    int (*token)(void *ctx);
    int (*pump)(void *ctx);
    int (*sleep)(void *ctx, int64_t ms);
    void *ctx;
} session_gate_t;

#define SESSION_MAX_BODY (32 * 1024 * 1024) /* larger answers are refused */

/* One HTTP exchange. status 0 means no response: error says why. */
typedef struct {
    long status;
    char *body;            /* NUL-terminated (not counted in len); owned */
    size_t len;
    char retry_after[64];  /* the Retry-After header, "" if none */
    int64_t fetched_at_ms; /* UTC unix ms when the response was complete */
    int64_t elapsed_ms;
    char error[256];
} session_resp_t;

typedef struct _session_t session_t;

/* timeout_ms bounds a whole request. The vinted settings are borrowed. proxies:
   the egress identities (NULL: one, direct); each has its own connection and
   cookies, and every request goes through the identity its token names. */
session_t *session_new(const vinted_t *vinted, int64_t timeout_ms, const session_gate_t *gate,
                       const proxies_t *proxies);
void session_destroy(session_t **self_p);

/* Whether the current identity's home-page visit succeeded since its last reset/drop. */
bool session_is_open(const session_t *self);
/* The identity of the last token (what reset, drop and cookie apply to). */
int session_identity(const session_t *self);
/* One request (one token): if the token's identity has no open session, its home
   page (*home true, the URL is not fetched: ask again), else the URL. 0 with
   *resp filled, -1 if abandoned. */
int session_request(session_t *self, const char *url, vinted_req_t req, session_resp_t *resp, bool *home);
/* GET the www home page (one token) and keep its cookies; a 2xx answer opens
   the session. 0 with *resp filled (whatever the status), -1 if abandoned. */
int session_open(session_t *self, session_resp_t *resp);
/* GET a URL (one token) with the headers of this kind of request and the
   session's cookies. Redirects are followed for pages (VINTED_REQ_ITEM_PAGE:
   /items/{id} moves to /items/{id}-{slug}), never for API calls.
   0 with *resp filled, -1 if abandoned. */
int session_get(session_t *self, const char *url, vinted_req_t req, session_resp_t *resp);
/* The current identity renews on its next request: visits the home page again, keeping the cookies (401). */
void session_reset(session_t *self);
/* The current identity forgets everything: drops every cookie, visits the home page next time (403). */
void session_drop(session_t *self);
/* The value of a session cookie into buf: 0, or -1 if there is none. */
int session_cookie(session_t *self, const char *name, char *buf, size_t size);

/* Sleep through the gate: 0, or -1 to abandon. */
int session_sleep(session_t *self, int64_t ms);

/* Free the body and clear *resp. */
void session_resp_reset(session_resp_t *resp);

void session_test(bool verbose);

#endif
