/*  vinted-fetcher - fetches catalog pages, seller item lists, seller profiles and item pages
    from Vinted for the broker: takes one fetch task at a time, answers with the raw page (RESULT) or a NACK,
    and asks the broker for a token before every request to Vinted. */
#include <stdio.h>
#include <string.h>
#include <curl/curl.h>

#include "../../common/config.h"
#include "../../common/log.h"
#include "../../common/proxies.h"
#include "../../common/startup.h"
#include "../../common/worker.h"
#include "fetcher.h"
#include "session.h"
#include "vinted.h"

static int s_token(void *ctx) { return worker_token(ctx); }
static int s_pump(void *ctx) { return worker_pump(ctx); }
static int s_sleep(void *ctx, int64_t ms) { return worker_sleep(ctx, ms); }

static void s_send(worker_t *w, proto_msg_t **msg_p)
{
    if (*msg_p && worker_send(w, *msg_p) != 0)
        log_warn("cannot send to the broker", "cmd=%s", proto_cmd_name((*msg_p)->cmd));
    proto_msg_destroy(msg_p);
}

int main(int argc, char **argv)
{
    config_opt_t opts[] = {
        { "broker", "VINTED_BROKER", "tcp://127.0.0.1:5555", "broker endpoint", NULL },
        { "site", "VINTED_SITE", "pt", "Vinted site (country tld) of tasks that name none: pt, fr, co.uk, ... (a task names its site: VINTED_SITES)", NULL },
        { "api", "VINTED_API", "svc", "catalog API generation: svc (since Sept 2026) or v2", NULL },
        { "www-url", "VINTED_WWW_URL", "", "www base URL, or per site pt=URL,fr=URL; empty: https://www.vinted.<site>", NULL },
        { "api-url", "VINTED_API_URL", "", "api base URL, or per site pt=URL,fr=URL; empty: https://api.vinted.<site>", NULL },
        { "user-agent", "VINTED_USER_AGENT", "", "browser User-Agent; empty: a desktop Chrome", NULL },
        { "timeout", "VINTED_FETCH_TIMEOUT", "30s", "timeout of one HTTP request", NULL },
        { "backoff-base", "VINTED_BACKOFF_BASE", "1s", "first retry backoff (full jitter)", NULL },
        { "backoff-max", "VINTED_BACKOFF_MAX", "60s", "longest retry backoff", NULL },
        { "block-backoff", "VINTED_BLOCK_BACKOFF", "1h", "pause of an identity's fetching after a 403 block", NULL },
        { "proxies", "VINTED_PROXIES", "", "egress identities: proxy URLs, comma-separated, or @file (one a line);"
          " each has its own cookies, budget and block pause (the broker must read the same list); empty: direct", NULL },
        METRICS_CONFIG_OPTS,
        CURVE_CLIENT_CONFIG_OPTS,
        { NULL, NULL, NULL, NULL, NULL },
    };
    int rc = config_parse(opts, argc, argv, "vinted-fetcher",
                          "Fetches Vinted pages for the broker, one task at a time: catalog search\n"
                          "pages, sellers' item lists (/api/v2/users/{id}/items, tracking), sellers'\n"
                          "profiles (/api/v2/users/{id}, tracking) and public item pages (/items/{id},\n"
                          "tracking); a 404 on a tracking source is an observation.");
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    log_init("fetcher");

    const char *site = config_get(opts, "site");
    if (!vinted_site_find(site)) {
        fprintf(stderr, "invalid --site: unknown site '%s' (valid: %s)\n", site ? site : "",
                vinted_site_list());
        return 2;
    }
    vinted_api_t api;
    const char *api_name = config_get(opts, "api");
    if (vinted_api_from_name(api_name, &api) != 0) {
        fprintf(stderr, "invalid --api: '%s' (valid: %s)\n", api_name ? api_name : "",
                VINTED_API_LIST);
        return 2;
    }
    const char *broker = config_get(opts, "broker");
    if (config_endpoint(opts, "broker", false) != 0)
        return 2;
    fetcher_settings_t settings;
    if (config_duration_ms(opts, "timeout", &settings.timeout_ms) != 0
        || config_duration_ms(opts, "backoff-base", &settings.backoff_base_ms) != 0
        || config_duration_ms(opts, "backoff-max", &settings.backoff_max_ms) != 0
        || config_duration_ms(opts, "block-backoff", &settings.block_backoff_ms) != 0)
        return 2;
    if (settings.timeout_ms <= 0) {
        fprintf(stderr, "invalid --timeout: must be more than 0\n");
        return 2;
    }
    if (settings.backoff_max_ms < settings.backoff_base_ms) {
        fprintf(stderr, "invalid --backoff-max: shorter than --backoff-base\n");
        return 2;
    }
    if (settings.block_backoff_ms <= 0) {
        fprintf(stderr, "invalid --block-backoff: must be more than 0\n");
        return 2;
    }
    static proxies_t proxies; /* large: not on the stack */
    if (proxies_load(config_get(opts, "proxies"), &proxies) != 0)
        return 2;
    settings.proxies = &proxies;
    settings.www_setting = config_get(opts, "www-url");
    settings.api_setting = config_get(opts, "api-url");
    settings.user_agent = config_get(opts, "user-agent");
    curve_t *curve; /* CURVE keys for the broker socket, or NULL */
    rc = startup_keys_metrics(opts, false, &curve, &settings.metrics);
    if (rc != 0)
        return rc;
    metrics_t *metrics = settings.metrics;
    metrics_family_t *m_answers = metrics_family(metrics, METRICS_COUNTER, "vinted_fetch_tasks_total",
        "Fetch tasks answered, by outcome (page: RESULT with the page; refused: NACK)", "outcome", NULL, 0);
    metrics_series_t *m_pages = metrics_series(m_answers, "page");
    metrics_series_t *m_refused = metrics_series(m_answers, "refused");
    metrics_family_t *m_fetched = metrics_family(metrics, METRICS_COUNTER, "vinted_fetch_pages_total",
        "Pages brought back to the broker, by kind", "kind", NULL, 0);
    metrics_series_t *m_blocks = metrics_counter(metrics, "vinted_fetch_blocks_total",
        "403 blocks reported to the broker (the identity pauses)");
    char err[512];
    vinted_t *vinted = vinted_new(site, api, config_get(opts, "www-url"),
                                  config_get(opts, "api-url"), config_get(opts, "user-agent"),
                                  err, sizeof(err));
    if (!vinted) {
        fprintf(stderr, "invalid setting: %s\n", err);
        metrics_destroy(&metrics);
        curve_destroy(&curve);
        return 2;
    }

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        log_error("cannot initialize libcurl", NULL);
        vinted_destroy(&vinted);
        metrics_destroy(&metrics);
        curve_destroy(&curve);
        return 1;
    }
    int status = 0;
    worker_t *w = worker_new_curve(broker, PROTO_STAGE_FETCH, 1, "fetcher", curve);
    session_gate_t gate = { s_token, s_pump, s_sleep, w };
    fetcher_t *fetcher = w ? fetcher_new(vinted, &settings, &gate) : NULL;
    if (!fetcher) {
        log_error("cannot start", "broker=%s", log_str(broker));
        status = 1;
    }
    else
        log_info("fetcher started",
                 "broker=%s site=%s api=%s www=%s api_base=%s timeout_ms=%lld backoff_base_ms=%lld "
                 "backoff_max_ms=%lld block_backoff_ms=%lld identities=%d",
                 log_str(broker), site, vinted_api_name(api), log_str(vinted_www_base(vinted)),
                 log_str(vinted_api_base(vinted)), (long long) settings.timeout_ms,
                 (long long) settings.backoff_base_ms, (long long) settings.backoff_max_ms,
                 (long long) settings.block_backoff_ms, proxies.n);

    while (fetcher && !worker_interrupted(w)) {
        proto_msg_t *task = worker_next(w, 1000);
        if (!task)
            continue;
        proto_msg_t *report = NULL;
        proto_msg_t *answer = fetcher_run(fetcher, task, &report);
        if (report)
            metrics_inc(m_blocks);
        if (answer && answer->cmd == PROTO_RESULT) {
            metrics_inc(m_pages);
            static const char *const kinds[] = { "catalog", "user_items", "item_page", "user" };
            int32_t kind = task->u.fetch.kind;
            if (m_fetched)
                metrics_inc(metrics_series(m_fetched, kind >= 0 && kind < 4 ? kinds[kind] : "unknown"));
        }
        else if (answer)
            metrics_inc(m_refused);
        s_send(w, &report);
        s_send(w, &answer);
        proto_msg_destroy(&task);
    }
    if (fetcher)
        log_info("fetcher stopping", NULL);
    fetcher_destroy(&fetcher);
    worker_destroy(&w);
    vinted_destroy(&vinted);
    curl_global_cleanup();
    metrics_destroy(&metrics);
    curve_destroy(&curve);
    return status;
}
