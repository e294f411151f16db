/*  fetcher.h - one fetch task from start to answer: open the Vinted session
    if needed, GET what the task's kind asks for (a broker token per request),
    retry what is worth retrying, and turn the outcome into the message the
    broker gets. Kinds (proto_fetch_t.kind, echoed with target_id in the PAGE):
      CATALOG      a catalog search page (v2 or svc, by configuration)
      USER_ITEMS   {www}/api/v2/users/{target_id}/items?page=N&per_page=96 (both generations);
                   more = total_pages known and page < total_pages, at most 10 pages
      ITEM_PAGE    {www}/items/{target_id}, HTML (n_items 1, max_item_id = target_id)
      USER         {www}/api/v2/users/{target_id}, the seller's profile {user:{...}}
                   (both generations; n_items 0, more false; rate-limited quickly, so
                   429 with Retry-After is routine)
      CATALOGS     {www}/api/v2/catalogs, the site's catalog tree {catalogs:{..} or [..]}
                   (n_items 0, more false, target_id 0; 404 is a permanent failure)
    Outcomes:
      200 + an items array        RESULT(PAGE): the untouched body, what the pager saw
      200 + bad JSON              retried 3 times, then RESULT(PAGE) with error set
                                  (USER: also JSON without a user object;
                                  CATALOGS: without a catalogs object or array)
      200 HTML without </html>    (item pages) likewise, as a truncated page
      404 on USER_ITEMS,          RESULT(PAGE) with http_status 404 and the body, no error:
          ITEM_PAGE or USER       a seller or an item that is gone is an observation
      401                         session renewed, retried at most twice, then NACK
      429, 5xx, network errors    backoff (Retry-After first), 6 retries, then NACK
      403                         the identity's session dropped, REPORT "blocked" (with the identity:
                                  the broker pauses it alone), NACK to retry (another identity may take it)
      404 code 104 (v2 catalog)   NACK permanent: the v2 endpoint is gone, use svc
      other statuses              NACK permanent with the status and a snippet
*/
#ifndef FETCHER_H_INCLUDED
#define FETCHER_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>

#include "../../common/metrics.h"
#include "../../proto/proto.h"
#include "session.h"
#include "vinted.h"

#define FETCHER_TRANSIENT_RETRIES 6 /* 429, 5xx, network: retries before NACK */
#define FETCHER_RENEWALS 2          /* 401: session renewals before NACK */
#define FETCHER_BAD_BODY_RETRIES 3  /* 200 with unreadable JSON: retries before giving up */

typedef struct {
    int64_t timeout_ms;       /* one HTTP request */
    int64_t backoff_base_ms;  /* first retry waits up to this */
    int64_t backoff_max_ms;   /* no retry waits longer; a longer Retry-After is left to the broker */
    int64_t block_backoff_ms; /* after a 403: how long all fetching stops */
    metrics_t *metrics;       /* Prometheus registry (borrowed), or NULL */
    const proxies_t *proxies; /* the egress identities (borrowed), or NULL: one, direct */
    /* for the other sites a FETCH names (VINTED_SITES): as vinted_new takes them, or NULL */
    const char *www_setting, *api_setting, *user_agent;
} fetcher_settings_t;

#define FETCHER_MAX_SITES 32 /* sites one fetcher serves (each its own settings and sessions) */

typedef struct _fetcher_t fetcher_t;

/* The vinted settings (the default site: FETCH tasks without a site) are
   borrowed and must outlive the fetcher. */
fetcher_t *fetcher_new(const vinted_t *vinted, const fetcher_settings_t *settings,
                       const session_gate_t *gate);
void fetcher_destroy(fetcher_t **self_p);

/* Carry out one TASK (a proto_fetch_t). Returns the RESULT or NACK to send
   (the caller owns it), or NULL if the task was abandoned because the gate
   failed (broker lost or interrupted: send nothing). *report_p receives a
   REPORT to send before the answer, or NULL. */
proto_msg_t *fetcher_run(fetcher_t *self, const proto_msg_t *task, proto_msg_t **report_p);

void fetcher_test(bool verbose);

#endif
