/*  vinted-ctl - the command-line client: push windows and backfills to the broker's
    control endpoint, show its status, and read the reports (prices, data quality,
    catalogs, an HTML page) straight from PostgreSQL. main.c parses the command
    line and dispatches the verbs; the work lives in control.c (broker requests),
    backfill.c, report.c (SQL reports), html.c and svg.c (the HTML report) and
    bar.c (terminal bars). */
#include <cjson/cJSON.h>
#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/config.h"
#include "common/pgconf.h"
#include "common/curve.h"
#include "common/log.h"
#include "ctl/backfill.h"
#include "ctl/control.h"
#include "ctl/html.h"
#include "ctl/keygen.h"
#include "ctl/report.h"
#include "proto/proto.h"

static config_opt_t s_opts[] = {
    { "control", "VINTED_CONTROL", "tcp://127.0.0.1:5556", "the broker's control endpoint", NULL },
    { "pg", "VINTED_PG", "", "prices, quality, catalogs, report: libpq connection string or URI (empty: libpq PG* variables)", NULL },
    { "catalog", NULL, NULL, "window, backfill: the catalog id; prices: only this catalog", NULL },
    { "site", NULL, NULL, "window: the catalog's site (pt, fr, co.uk; default: the broker's VINTED_SITE)", NULL },
    { "from", NULL, NULL, "window, backfill, replay: start of the time range (UTC, e.g. 2026-11-25T10:00:00Z; window default: one window ago)", NULL },
    { "to", NULL, NULL, "window, backfill, replay: end of the time range (UTC; window default: now)", NULL },
    { "wait", NULL, "flag", "window, replay, track, refresh-catalogs: wait until the window is committed; exit non-zero if it fails", NULL },
    { "window", NULL, NULL, "get: the window id; backfill: window length (default VINTED_WINDOW, else 1h)", NULL },
    { "flow", NULL, NULL, "replay: the flow whose raw pages to replay (catalog or tracking)", NULL },
    { "brand", NULL, NULL, "prices: only this brand (exact)", NULL },
    { "condition", NULL, NULL, "prices: only this condition (exact text, as the site writes it)", NULL },
    { "since", NULL, NULL, "prices, quality, report: only data since this UTC time, or this long ago (24h, 7d)", NULL },
    { "by", NULL, "catalog", "prices: group by catalog, brand, condition or size", NULL },
    { "search", NULL, NULL, "catalogs: only catalogs whose name (or id) contains this text", NULL },
    { "html", NULL, NULL, "report: the HTML file to write", NULL },
    { "timeout", "VINTED_CTL_TIMEOUT", NULL, "how long to wait for the broker (default 10s, or 6h with --wait and backfill)", NULL },
    { "json", NULL, "flag", "print the answer as JSON (for scripts)", NULL },
    { "out", NULL, NULL, "keygen: the directory to write the key pair into", NULL },
    CURVE_CLIENT_CONFIG_OPTS,
    { NULL, NULL, NULL, NULL, NULL },
};

static const char *s_summary =
    "Commands (broker, over the control endpoint):\n"
    "  window --catalog ID [--site S] [--from T --to T] [--wait]   push an ad-hoc window job\n"
    "  backfill --catalog ID --from T --to T [--window 1h]\n"
    "                                                  split the range into windows, push them and follow\n"
    "                                                  them to the end (progress bar on a terminal)\n"
    "  replay --flow catalog --from T --to T [--wait]  feed the raw pages fetched in [T, T) back\n"
    "                                                  through transformer and sink (idempotent)\n"
    "  track [--wait]                                  a tracking run now (snapshots of the sampled items)\n"
    "  refresh-catalogs [--wait]                       load the site's catalog tree now (names for reports)\n"
    "  get --window ID                                 one window's state\n"
    "  status                                          workers, queues, windows, budget, last error\n"
    "Commands (PostgreSQL, --pg / VINTED_PG):\n"
    "  prices [--catalog ID] [--brand B] [--condition C] [--since T] [--by catalog|brand|condition|size]\n"
    "                                                  count, min, p25, median, p75, max, mean per group and\n"
    "                                                  currency, with a histogram\n"
    "  quality [--since T]                             per-window data-quality reports, quarantine by rule\n"
    "  catalogs [--search TEXT]                        catalog ids (with names once the catalogs table exists)\n"
    "  report --html FILE [--since T]                  one self-contained HTML page with charts\n"
    "Commands (local):\n"
    "  keygen --out DIR NAME                           write a CURVE key pair: DIR/NAME (public) and\n"
    "                                                  DIR/NAME_secret (mode 0600), never overwriting\n"
    "With --curve-server and --curve-cert, broker commands go over CURVE (README, Security).\n"
    "Exit status: 0 ok; 1 the broker answered with an error, refused our CURVE key (or a window failed);\n"
    "2 bad arguments; 3 the broker or the database could not be reached or could not do it;\n"
    "4 --wait or backfill: the window was not done within --timeout (the reason it was waiting is said).\n"
    "While --wait or backfill waits, the reason a window is not progressing is said on stderr every 10 s.";

/* The workers of one stage (any stage if only is NULL) not shown yet, a line per
   process: a process with several connections to the stage (the s3-uploader's
   threads) is summed on one line, with its connection count. */
static void s_print_workers(cJSON *workers, bool *shown, const char *only)
{
    int i = 0;
    for (cJSON *w = workers ? workers->child : NULL; w; w = w->next, i++) {
        const char *stage = cJSON_GetObjectItemCaseSensitive(w, "stage")->valuestring;
        const char *name = cJSON_GetObjectItemCaseSensitive(w, "name")->valuestring;
        if (shown[i] || (only && strcmp(stage, only) != 0))
            continue;
        int inflight = 0, capacity = 0, connections = 0;
        double done = 0;
        int j = i;
        for (cJSON *v = w; v; v = v->next, j++) {
            if (shown[j] || strcmp(cJSON_GetObjectItemCaseSensitive(v, "stage")->valuestring, stage) != 0
                || strcmp(cJSON_GetObjectItemCaseSensitive(v, "name")->valuestring, name) != 0)
                continue;
            shown[j] = true;
            connections++;
            inflight += cJSON_GetObjectItemCaseSensitive(v, "inflight")->valueint;
            capacity += cJSON_GetObjectItemCaseSensitive(v, "capacity")->valueint;
            done += cJSON_GetObjectItemCaseSensitive(v, "done")->valuedouble;
        }
        char conns[32] = "";
        if (connections > 1)
            snprintf(conns, sizeof conns, " (%d connections)", connections);
        printf("  %-10s %-40s inflight %d/%d done %.0f alive%s\n", stage, name, inflight, capacity, done, conns);
    }
}

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
    /* one line per worker process and stage, in the pipeline's order of stages */
    printf("\nworkers:\n");
    cJSON *workers = cJSON_GetObjectItemCaseSensitive(root, "workers");
    bool *shown = calloc((size_t) cJSON_GetArraySize(workers) + 1, sizeof *shown);
    cJSON_ArrayForEach(st, stages)
        s_print_workers(workers, shown, st->string);
    s_print_workers(workers, shown, NULL); /* a stage the list does not name */
    free(shown);
    cJSON *win = cJSON_GetObjectItemCaseSensitive(root, "windows");
    if (cJSON_GetObjectItemCaseSensitive(win, "pending")->valuedouble < 0)
        printf("\nwindows: unknown (the database does not answer)\n");
    else
        printf("\nwindows: pending %.0f, running %.0f, done %.0f, failed %.0f\n",
               cJSON_GetObjectItemCaseSensitive(win, "pending")->valuedouble,
               cJSON_GetObjectItemCaseSensitive(win, "running")->valuedouble,
               cJSON_GetObjectItemCaseSensitive(win, "done")->valuedouble,
               cJSON_GetObjectItemCaseSensitive(win, "failed")->valuedouble);
    cJSON *kind;
    cJSON_ArrayForEach(kind, cJSON_GetObjectItemCaseSensitive(root, "windows_by_kind"))
    {
        if (cJSON_GetObjectItemCaseSensitive(kind, "pending")->valuedouble < 0)
            continue;
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
    cJSON *ident, *idents = cJSON_GetObjectItemCaseSensitive(root, "identities");
    if (cJSON_GetArraySize(idents) > 1)
        cJSON_ArrayForEach(ident, idents)
        {
            cJSON *proxy = cJSON_GetObjectItemCaseSensitive(ident, "proxy");
            double blocked = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(ident, "blocked_ms"));
            printf("  identity %d %s: %.0f requests%s", cJSON_GetObjectItemCaseSensitive(ident, "identity")->valueint,
                   cJSON_IsString(proxy) ? proxy->valuestring : "?",
                   cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(ident, "requests")),
                   blocked > 0 ? ", BLOCKED" : "");
            if (blocked > 0)
                printf(" for %.0f s more", blocked / 1000);
            printf("\n");
        }
    cJSON *err = cJSON_GetObjectItemCaseSensitive(root, "last_error");
    printf("last error: %s\n", cJSON_IsString(err) ? err->valuestring : "none");
    cJSON *stall;
    bool said = false;
    cJSON_ArrayForEach(stall, cJSON_GetObjectItemCaseSensitive(root, "stalls"))
    {
        if (!cJSON_IsString(stall))
            continue;
        printf("%s %s\n", said ? "        " : "waiting:", stall->valuestring);
        said = true;
    }
    cJSON_Delete(root);
}

/* --wait: poll the window's state until it is done or failed, riding out broker restarts. */
static int s_wait_window(const char *endpoint, int64_t window_id, int64_t deadline, const char *timeout_text,
                         bool json)
{
    char id[24];
    snprintf(id, sizeof id, "%lld", (long long) window_id);
    bool said_unreachable = false;
    int64_t poll_ms = 50, next_say = clock_mono_ms() + CONTROL_SAY_MS;
    char why[1024] = "";
    while (!zsys_interrupted) {
        const char *keys[] = { "window" }, *values[] = { id };
        int64_t left = deadline - clock_mono_ms();
        bool unreachable;
        proto_msg_t *rep = control_request(endpoint, "get", keys, values, 1, left < 5000 ? (left > 0 ? left : 1) : 5000,
                                           &unreachable);
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
            const char *waiting = root ? control_waiting(root) : NULL;
            if (rc < 0 && rep->u.ctl_rep.message)
                snprintf(why, sizeof why, "%s", rep->u.ctl_rep.message);
            if (rc < 0 && waiting && clock_mono_ms() >= next_say) {
                fprintf(stderr, "vinted-ctl: %s\n", why);
                next_say = clock_mono_ms() + CONTROL_SAY_MS;
            }
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
        else if (!unreachable)
            return 1; /* malformed answer, or the broker refused our key: said on stderr */
        else {
            /* a request cut short by the deadline says nothing new: keep the last reason */
            if (left >= 1000 || !*why)
                snprintf(why, sizeof why, "the broker at %s does not answer", endpoint);
            if (!said_unreachable) {
                fprintf(stderr, "vinted-ctl: the broker at %s does not answer; still waiting for window %s\n", endpoint,
                        id);
                said_unreachable = true;
            }
        }
        if (clock_mono_ms() >= deadline) {
            fprintf(stderr, "vinted-ctl: window %s not done within --timeout %s: %s\n", id, timeout_text,
                    *why ? why : "no answer yet");
            return 4;
        }
        zclock_sleep((int) poll_ms);
        poll_ms = poll_ms * 2 > 500 ? 500 : poll_ms * 2;
    }
    return 1;
}

/* --since: a UTC time, or a duration meaning that long ago. 0 ok, -1 bad. */
static int s_since(const char *text, int64_t *since)
{
    *since = 0;
    if (!text)
        return 0;
    int64_t ms;
    if (config_parse_time(text, since) == 0)
        return 0;
    if (config_parse_duration_ms(text, &ms) == 0 && ms > 0) {
        *since = clock_wall_ms() / 1000 - ms / 1000;
        return 0;
    }
    return -1;
}

/* A catalog id: digits, positive, fits an int. */
static bool s_catalog_ok(const char *text)
{
    if (!text || !*text)
        return false;
    char *end;
    long long id = strtoll(text, &end, 10);
    return !*end && id > 0 && id <= INT32_MAX;
}

/* prices, quality, catalogs, report: read PostgreSQL. */
static int s_db_verb(const char *verb, bool json)
{
    report_filter_t filter = { 0 };
    const char *since = config_get(s_opts, "since");
    if (s_since(since, &filter.since) != 0) {
        fprintf(stderr, "vinted-ctl %s: invalid --since '%s' (a UTC time like 2026-11-25T10:00:00Z, or a duration like 24h)\n",
                verb, since);
        return 2;
    }
    const char *html = config_get(s_opts, "html");
    if (strcmp(verb, "prices") == 0) {
        filter.catalog = config_get(s_opts, "catalog");
        filter.brand = config_get(s_opts, "brand");
        filter.condition = config_get(s_opts, "condition");
        filter.by = config_get(s_opts, "by");
        if (filter.catalog && !s_catalog_ok(filter.catalog)) {
            fprintf(stderr, "vinted-ctl prices: invalid --catalog '%s' (a positive catalog id)\n", filter.catalog);
            return 2;
        }
        if (!report_group_expr(filter.by)) {
            fprintf(stderr, "vinted-ctl prices: invalid --by '%s' (catalog, brand, condition or size)\n", filter.by);
            return 2;
        }
    }
    else if (strcmp(verb, "catalogs") == 0)
        filter.search = config_get(s_opts, "search");
    else if (strcmp(verb, "report") == 0 && (!html || !*html)) {
        fprintf(stderr, "vinted-ctl report: --html FILE is required (the page to write)\n");
        return 2;
    }
    PGconn *db = report_connect(config_get(s_opts, "pg"));
    if (!db)
        return 3;
    int rc;
    if (strcmp(verb, "prices") == 0)
        rc = report_prices(db, &filter, json, stdout);
    else if (strcmp(verb, "quality") == 0)
        rc = report_quality(db, &filter, json, stdout);
    else if (strcmp(verb, "catalogs") == 0)
        rc = report_catalogs(db, &filter, json, stdout);
    else {
        /* write next to the target, then rename: a reader never sees half a page */
        size_t len = strlen(html) + 16;
        char *tmp = malloc(len);
        snprintf(tmp, len, "%s.tmp", html);
        FILE *out = fopen(tmp, "w");
        if (!out) {
            fprintf(stderr, "vinted-ctl report: cannot write --html '%s': %m\n", html);
            free(tmp);
            PQfinish(db);
            return 2;
        }
        rc = html_report(db, filter.since, out);
        if (fclose(out) != 0 && rc == 0) {
            fprintf(stderr, "vinted-ctl report: cannot write '%s': %m\n", tmp);
            rc = 1;
        }
        if (rc == 0 && rename(tmp, html) != 0) {
            fprintf(stderr, "vinted-ctl report: cannot rename '%s' to '%s': %m\n", tmp, html);
            rc = 1;
        }
        if (rc != 0)
            unlink(tmp);
        else if (json) {
            cJSON *root = cJSON_CreateObject();
            cJSON_AddStringToObject(root, "html", html);
            report_json_print(root, stdout);
        }
        else
            printf("report written to %s\n", html);
        free(tmp);
    }
    PQfinish(db);
    return rc;
}

static int s_backfill(const char *endpoint, int64_t timeout_ms, bool json)
{
    const char *catalog = config_get(s_opts, "catalog");
    if (!s_catalog_ok(catalog)) {
        fprintf(stderr, "vinted-ctl backfill: --catalog ID is required and must be a positive number\n");
        return 2;
    }
    const char *from = config_get(s_opts, "from"), *to = config_get(s_opts, "to");
    int64_t a, b;
    if (!from || config_parse_time(from, &a) != 0) {
        fprintf(stderr, "vinted-ctl backfill: --from is required, a UTC time like 2026-11-25T10:00:00Z\n");
        return 2;
    }
    if (!to || config_parse_time(to, &b) != 0 || b <= a) {
        fprintf(stderr, "vinted-ctl backfill: --to is required, a UTC time like 2026-11-25T10:00:00Z after --from\n");
        return 2;
    }
    const char *len_text = config_get(s_opts, "window");
    const char *len_from = "--window";
    if (!len_text) {
        len_text = getenv("VINTED_WINDOW");
        len_from = "VINTED_WINDOW";
    }
    if (!len_text || !*len_text) {
        len_text = "1h";
        len_from = "the default";
    }
    int64_t len_ms;
    if (config_parse_duration_ms(len_text, &len_ms) != 0 || len_ms < 1000) {
        fprintf(stderr, "vinted-ctl backfill: invalid %s '%s' (a window length like 1h or 300s)\n", len_from, len_text);
        return 2;
    }
    backfill_span_t *spans;
    int n = backfill_split(a, b, len_ms / 1000, &spans);
    if (n <= 0) {
        fprintf(stderr, "vinted-ctl backfill: --from..--to makes more than %d windows of %s; use a longer --window\n",
                BACKFILL_MAX_WINDOWS, len_text);
        return 2;
    }
    int rc = backfill_run(endpoint, catalog, spans, n, timeout_ms, isatty(STDERR_FILENO) != 0, json);
    free(spans);
    return rc;
}

/* keygen --out DIR NAME */
static int s_keygen(const char *name, bool json)
{
    const char *out = config_get(s_opts, "out");
    if (!out || !*out || !name) {
        fprintf(stderr, "vinted-ctl keygen: usage: vinted-ctl keygen --out DIR NAME\n");
        return 2;
    }
    char key[41], err[512];
    if (keygen_write(out, name, key, err, sizeof err) != 0) {
        fprintf(stderr, "vinted-ctl keygen: %s\n", err);
        return 2;
    }
    if (json) {
        cJSON *root = cJSON_CreateObject();
        cJSON_AddStringToObject(root, "name", name);
        char path[512];
        snprintf(path, sizeof path, "%s/%s", out, name);
        cJSON_AddStringToObject(root, "public", path);
        snprintf(path, sizeof path, "%s/%s_secret", out, name);
        cJSON_AddStringToObject(root, "secret", path);
        cJSON_AddStringToObject(root, "public_key", key);
        report_json_print(root, stdout);
    }
    else
        printf("public certificate: %s/%s (for the broker's --curve-clients directory, or --curve-server)\n"
               "secret certificate: %s/%s_secret (mode 0600: this program's --curve-cert, or the broker's "
               "--curve-secret)\n"
               "public key: %s\n",
               out, name, out, name, key);
    return 0;
}

static int s_broker_verb(const char *verb, bool wait, bool json, bool curve);

int main(int argc, char **argv)
{
    const char *positional[2];
    int n_pos = 0;
    int rc = config_parse_positional(s_opts, argc, argv, "vinted-ctl", s_summary, positional, 2, &n_pos);
    if (rc != 0)
        return rc > 0 ? 0 : 2;
    log_init("ctl");
    if (n_pos == 2 && strcmp(positional[0], "keygen") != 0) {
        fprintf(stderr, "vinted-ctl: unexpected argument '%s' (see --help)\n", positional[1]);
        return 2;
    }
    if (n_pos < 1) {
        fprintf(stderr, "vinted-ctl: a command is needed: window, backfill, replay, track, get, status, prices, "
                        "quality, catalogs or report (see --help)\n");
        return 2;
    }
    const char *verb = positional[0];
    bool wait = config_get(s_opts, "wait") != NULL;
    bool json = config_get(s_opts, "json") != NULL;
    if (strcmp(verb, "keygen") == 0)
        return s_keygen(n_pos == 2 ? positional[1] : NULL, json);
    if (strcmp(verb, "prices") == 0 || strcmp(verb, "quality") == 0 || strcmp(verb, "catalogs") == 0 ||
        strcmp(verb, "report") == 0)
        return pgconf_check(s_opts, "pg") != 0 ? 2 : s_db_verb(verb, json);
    curve_t *curve = NULL;
    rc = curve_client_setup(s_opts, &curve);
    if (rc != 0)
        return rc;
    control_set_curve(curve);
    rc = s_broker_verb(verb, wait, json, curve != NULL);
    control_set_curve(NULL);
    curve_destroy(&curve);
    return rc;
}

/* window, backfill, replay, track, refresh-catalogs, get, status: over the control endpoint. */
static int s_broker_verb(const char *verb, bool wait, bool json, bool curve)
{
    bool backfill = strcmp(verb, "backfill") == 0;
    int64_t timeout_ms;
    const char *timeout_text = config_get(s_opts, "timeout");
    if (!timeout_text)
        timeout_text = wait || backfill ? "6h" : "10s";
    if (config_parse_duration_ms(timeout_text, &timeout_ms) != 0 || timeout_ms <= 0) {
        fprintf(stderr, "vinted-ctl: invalid --timeout '%s' (examples: 30s, 5m)\n", timeout_text);
        return 2;
    }
    if (config_endpoint(s_opts, "control", false) != 0)
        return 2;
    int64_t deadline = clock_mono_ms() + timeout_ms;
    const char *endpoint = config_get(s_opts, "control");
    if (backfill)
        return s_backfill(endpoint, timeout_ms, json);
    const char *keys[PROTO_CTL_MAXARGS], *values[PROTO_CTL_MAXARGS];
    int n_args = 0;
    if (strcmp(verb, "window") == 0) {
        const char *catalog = config_get(s_opts, "catalog");
        if (!s_catalog_ok(catalog)) {
            fprintf(stderr, "vinted-ctl window: --catalog ID is required and must be a positive number\n");
            return 2;
        }
        keys[n_args] = "catalog";
        values[n_args++] = catalog;
        const char *site = config_get(s_opts, "site");
        if (site) {
            keys[n_args] = "site";
            values[n_args++] = site;
        }
        const char *times[] = { "from", "to" };
        int64_t t[2] = { 0, 0 };
        for (size_t i = 0; i < 2; i++) {
            const char *v = config_get(s_opts, times[i]);
            if (v && config_parse_time(v, &t[i]) != 0) {
                fprintf(stderr, "vinted-ctl window: --%s '%s' is not a UTC time like 2026-11-25T10:00:00Z\n", times[i], v);
                return 2;
            }
            if (v) {
                keys[n_args] = times[i];
                values[n_args++] = v;
            }
        }
        if (config_get(s_opts, "from") && config_get(s_opts, "to") && t[0] >= t[1]) {
            fprintf(stderr, "vinted-ctl window: --from '%s' is not before --to '%s'\n", config_get(s_opts, "from"),
                    config_get(s_opts, "to"));
            return 2;
        }
    }
    else if (strcmp(verb, "replay") == 0) {
        const char *flow = config_get(s_opts, "flow");
        const char *from = config_get(s_opts, "from"), *to = config_get(s_opts, "to");
        int64_t a, b;
        if (!flow || (strcmp(flow, "catalog") != 0 && strcmp(flow, "tracking") != 0 && strcmp(flow, "catalogs") != 0)) {
            fprintf(stderr, "vinted-ctl replay: --flow catalog|tracking|catalogs is required (the flow whose raw pages to replay)\n");
            return 2;
        }
        if (!from || !to || config_parse_time(from, &a) != 0 || config_parse_time(to, &b) != 0 || b <= a) {
            fprintf(stderr, "vinted-ctl replay: --from and --to are required UTC times like 2026-11-25T10:00:00Z, from before to\n");
            return 2;
        }
        keys[0] = "flow", values[0] = flow;
        keys[1] = "from", values[1] = from;
        keys[2] = "to", values[2] = to;
        n_args = 3;
    }
    else if (strcmp(verb, "get") == 0) {
        const char *window = config_get(s_opts, "window");
        char *end = NULL;
        long long id = window ? strtoll(window, &end, 10) : 0;
        if (!window || !*window || *end || id <= 0) {
            fprintf(stderr, "vinted-ctl get: --window ID is required, a window id (a positive number), not '%s'\n",
                    window ? window : "");
            return 2;
        }
        keys[0] = "window", values[0] = window;
        n_args = 1;
    }
    else if (strcmp(verb, "status") != 0 && strcmp(verb, "track") != 0 && strcmp(verb, "refresh-catalogs") != 0) {
        fprintf(stderr, "vinted-ctl: unknown command '%s' (window, backfill, replay, track, refresh-catalogs, get, "
                        "status, prices, quality, catalogs, report)\n", verb);
        return 2;
    }
    bool unreachable;
    proto_msg_t *rep = control_request(endpoint, verb, keys, values, n_args,
                                       wait && timeout_ms > 10000 ? 10000 : timeout_ms, &unreachable);
    if (!rep) {
        if (unreachable)
            fprintf(stderr, "vinted-ctl: could not reach the broker at %s (no answer within %s)%s\n",
                    endpoint,
                    wait && timeout_ms > 10000 ? "10s" : timeout_text,
                    curve ? "; with CURVE on, check that --curve-server is the broker's public key" : "");
        return unreachable ? 3 : 1;
    }
    int status = rep->u.ctl_rep.status;
    if (status == 0 && wait
        && (strcmp(verb, "window") == 0 || strcmp(verb, "replay") == 0 || strcmp(verb, "track") == 0
            || strcmp(verb, "refresh-catalogs") == 0)) {
        cJSON *root = rep->u.ctl_rep.json ? cJSON_Parse(rep->u.ctl_rep.json) : NULL;
        cJSON *id = root ? cJSON_GetObjectItemCaseSensitive(root, "window_id") : NULL;
        int64_t window_id = cJSON_IsNumber(id) ? (int64_t) id->valuedouble : 0;
        cJSON_Delete(root);
        proto_msg_destroy(&rep);
        if (window_id <= 0) {
            fprintf(stderr, "vinted-ctl: the broker did not say which window it queued\n");
            return 1;
        }
        return s_wait_window(endpoint, window_id, deadline, timeout_text, json);
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
