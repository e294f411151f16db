/*  backfill.c - a range of windows pushed to the broker and followed to the end. */
#include "ctl/backfill.h"

#include <assert.h>
#include <cjson/cJSON.h>
#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/config.h"
#include "ctl/bar.h"
#include "ctl/control.h"
#include "ctl/report.h"

typedef struct {
    int64_t id;
    int items, pages;
    bool finished, failed;
    char error[256];
    char why[512]; /* unfinished: the broker's word on its state, and why it waits */
    bool waits;    /* the broker says the window is not progressing */
} s_window_t;

int backfill_split(int64_t from, int64_t to, int64_t len, backfill_span_t **spans)
{
    *spans = NULL;
    if (to <= from || len <= 0)
        return -1;
    int64_t n = (to - from + len - 1) / len;
    if (n > BACKFILL_MAX_WINDOWS)
        return -1;
    backfill_span_t *s = calloc((size_t) n, sizeof *s);
    assert(s);
    for (int64_t i = 0; i < n; i++) {
        s[i].from = from + i * len;
        s[i].to = s[i].from + len < to ? s[i].from + len : to;
    }
    *spans = s;
    return (int) n;
}

/* Push one window: its id (> 0), or -status. */
static int64_t s_push(const char *endpoint, const char *catalog, const backfill_span_t *span)
{
    char from[32], to[32];
    config_format_time(span->from, from, sizeof from);
    config_format_time(span->to, to, sizeof to);
    const char *keys[] = { "catalog", "from", "to" }, *values[] = { catalog, from, to };
    bool unreachable;
    proto_msg_t *rep = control_request(endpoint, "window", keys, values, 3, 10000, &unreachable);
    if (!rep) {
        if (unreachable)
            fprintf(stderr, "vinted-ctl backfill: could not reach the broker at %s (no answer within 10s)\n", endpoint);
        return unreachable ? -3 : -1;
    }
    int64_t id = -1;
    if (rep->u.ctl_rep.status != 0) {
        fprintf(stderr, "vinted-ctl backfill: window %s..%s refused: %s\n", from, to,
                rep->u.ctl_rep.message ? rep->u.ctl_rep.message : "error");
        id = rep->u.ctl_rep.status >= 1 && rep->u.ctl_rep.status <= 3 ? -rep->u.ctl_rep.status : -1;
    }
    else {
        cJSON *root = rep->u.ctl_rep.json ? cJSON_Parse(rep->u.ctl_rep.json) : NULL;
        cJSON *wid = root ? cJSON_GetObjectItemCaseSensitive(root, "window_id") : NULL;
        if (cJSON_IsNumber(wid) && wid->valuedouble > 0)
            id = (int64_t) wid->valuedouble;
        else
            fprintf(stderr, "vinted-ctl backfill: the broker did not say which window it queued\n");
        cJSON_Delete(root);
    }
    proto_msg_destroy(&rep);
    return id;
}

/* Ask for one window's state: 0 answered (w updated), 3 no answer, 1 error answer. */
static int s_poll(const char *endpoint, s_window_t *w)
{
    char id[24];
    snprintf(id, sizeof id, "%lld", (long long) w->id);
    const char *keys[] = { "window" }, *values[] = { id };
    bool unreachable;
    proto_msg_t *rep = control_request(endpoint, "get", keys, values, 1, 5000, &unreachable);
    if (!rep)
        return unreachable ? 3 : 1;
    int rc = 1;
    if (rep->u.ctl_rep.status == 0 && rep->u.ctl_rep.json) {
        cJSON *root = cJSON_Parse(rep->u.ctl_rep.json);
        cJSON *state = cJSON_GetObjectItemCaseSensitive(root, "state");
        cJSON *items = cJSON_GetObjectItemCaseSensitive(root, "items");
        cJSON *pages = cJSON_GetObjectItemCaseSensitive(root, "pages");
        cJSON *error = cJSON_GetObjectItemCaseSensitive(root, "error");
        if (cJSON_IsString(state)) {
            w->items = cJSON_IsNumber(items) ? items->valueint : 0;
            w->pages = cJSON_IsNumber(pages) ? pages->valueint : 0;
            w->finished = strcmp(state->valuestring, "done") == 0 || strcmp(state->valuestring, "failed") == 0;
            w->failed = strcmp(state->valuestring, "failed") == 0;
            snprintf(w->error, sizeof w->error, "%s", cJSON_IsString(error) ? error->valuestring : "");
            snprintf(w->why, sizeof w->why, "%s", rep->u.ctl_rep.message ? rep->u.ctl_rep.message : "");
            w->waits = !w->finished && control_waiting(root) != NULL;
            rc = 0;
        }
        cJSON_Delete(root);
    }
    else
        fprintf(stderr, "vinted-ctl backfill: window %s: %s\n", id,
                rep->u.ctl_rep.message ? rep->u.ctl_rep.message : "no state");
    proto_msg_destroy(&rep);
    return rc;
}

static void s_draw(int done, int n, int64_t items, int64_t elapsed_ms, bool final)
{
    char bar[256], eta[32] = "?";
    bar_progress(bar, sizeof bar, done, n, 30);
    if (done > 0 && done < n)
        bar_duration(eta, sizeof eta, elapsed_ms * (n - done) / done / 1000);
    else if (done == n)
        snprintf(eta, sizeof eta, "0s");
    long long rate = elapsed_ms > 0 ? (long long) (items * 1000 / elapsed_ms) : 0;
    fprintf(stderr, "\r%s %d/%d windows  %lld items  %lld items/s  ETA %s\033[K%s", bar, done, n, (long long) items,
            rate, eta, final ? "\n" : "");
    fflush(stderr);
}

int backfill_run(const char *endpoint, const char *catalog, const backfill_span_t *spans, int n,
                 int64_t timeout_ms, bool progress, bool json)
{
    int64_t start = clock_mono_ms(), deadline = start + timeout_ms;
    s_window_t *w = calloc((size_t) n, sizeof *w);
    assert(w);
    for (int i = 0; i < n; i++) {
        int64_t id = s_push(endpoint, catalog, &spans[i]);
        if (id <= 0) {
            if (i > 0)
                fprintf(stderr, "vinted-ctl backfill: %d of %d windows were queued before that (ids %lld..%lld)\n",
                        i, n, (long long) w[0].id, (long long) w[i - 1].id);
            free(w);
            return id < 0 ? (int) -id : 1;
        }
        w[i].id = id;
    }
    if (!json && !progress)
        printf("backfill: %d windows queued for catalog %s (ids %lld..%lld)\n", n, catalog, (long long) w[0].id,
               (long long) w[n - 1].id);
    fflush(stdout);
    int next = 0, done = 0, rc = 0;
    int64_t items = 0, poll_ms = 100, next_say = clock_mono_ms() + CONTROL_SAY_MS;
    bool said_unreachable = false;
    while (next < n) {
        if (zsys_interrupted) {
            if (progress)
                fputc('\n', stderr);
            fprintf(stderr, "vinted-ctl backfill: interrupted; the queued windows go on in the broker\n");
            rc = 1;
            break;
        }
        int answered = s_poll(endpoint, &w[next]);
        if (answered == 3 && !said_unreachable) {
            fprintf(stderr, "%svinted-ctl backfill: the broker at %s does not answer; still waiting\n",
                    progress ? "\n" : "", endpoint);
            said_unreachable = true;
        }
        else if (answered == 0)
            said_unreachable = false;
        if (answered == 0 && w[next].waits && clock_mono_ms() >= next_say) {
            fprintf(stderr, "%svinted-ctl backfill: %s\n", progress ? "\n" : "", w[next].why);
            next_say = clock_mono_ms() + CONTROL_SAY_MS;
        }
        if (answered == 0 && w[next].finished) {
            s_window_t *x = &w[next];
            items += x->items;
            done++;
            if (x->failed)
                rc = 1;
            if (!progress && !json) {
                char from[32], to[32];
                printf("window %lld %s..%s %s: %d pages, %d items%s%s (%d/%d)\n", (long long) x->id,
                       config_format_time(spans[next].from, from, sizeof from),
                       config_format_time(spans[next].to, to, sizeof to), x->failed ? "failed" : "done", x->pages,
                       x->items, *x->error ? "; " : "", x->error, done, n);
                fflush(stdout);
            }
            next++;
            next_say = clock_mono_ms() + CONTROL_SAY_MS;
            poll_ms = 20; /* the next one may well be done already */
        }
        else {
            poll_ms = poll_ms * 2 > 500 ? 500 : poll_ms * 2;
        }
        if (progress)
            s_draw(done, n, items + (next < n && !w[next].finished ? w[next].items : 0), clock_mono_ms() - start,
                   next == n);
        if (next < n) {
            if (clock_mono_ms() >= deadline) {
                fprintf(stderr,
                        "%svinted-ctl backfill: %d of %d windows not finished within the timeout (they go on in "
                        "the broker); window %lld: %s\n",
                        progress ? "\n" : "", n - next, n, (long long) w[next].id,
                        *w[next].why ? w[next].why : said_unreachable ? "the broker does not answer" : "no answer yet");
                rc = 4;
                break;
            }
            zclock_sleep((int) poll_ms);
        }
    }
    int failed = 0;
    for (int i = 0; i < n; i++)
        if (w[i].failed) {
            failed++;
            fprintf(stderr, "vinted-ctl backfill: window %lld failed: %s\n", (long long) w[i].id,
                    *w[i].error ? w[i].error : "(no error recorded)");
        }
    if (json) {
        cJSON *root = cJSON_CreateObject();
        cJSON_AddStringToObject(root, "catalog", catalog);
        cJSON_AddNumberToObject(root, "windows", n);
        cJSON_AddNumberToObject(root, "done", done - failed);
        cJSON_AddNumberToObject(root, "failed", failed);
        cJSON_AddNumberToObject(root, "items", (double) items);
        cJSON *list = cJSON_AddArrayToObject(root, "list");
        for (int i = 0; i < n; i++) {
            char from[32], to[32];
            cJSON *o = cJSON_CreateObject();
            cJSON_AddNumberToObject(o, "window_id", (double) w[i].id);
            cJSON_AddStringToObject(o, "from", config_format_time(spans[i].from, from, sizeof from));
            cJSON_AddStringToObject(o, "to", config_format_time(spans[i].to, to, sizeof to));
            cJSON_AddStringToObject(o, "state", !w[i].finished ? "unfinished" : w[i].failed ? "failed" : "done");
            cJSON_AddNumberToObject(o, "items", w[i].items);
            if (*w[i].error)
                cJSON_AddStringToObject(o, "error", w[i].error);
            cJSON_AddItemToArray(list, o);
        }
        report_json_print(root, stdout);
    }
    else if (rc == 0 || rc == 1) {
        printf("backfill: %d of %d windows committed, %d failed, %lld items in %llds\n", done - failed, n, failed,
               (long long) items, (long long) ((clock_mono_ms() - start) / 1000));
    }
    free(w);
    return rc;
}

void backfill_test(bool verbose)
{
    (void) verbose;
    backfill_span_t *s;
    assert(backfill_split(0, 3 * 3600, 3600, &s) == 3);
    assert(s[0].from == 0 && s[0].to == 3600 && s[2].from == 7200 && s[2].to == 10800);
    free(s);
    /* the last window is cut at the end of the range */
    assert(backfill_split(100, 100 + 2 * 3600 + 60, 3600, &s) == 3);
    assert(s[2].from == 100 + 7200 && s[2].to == 100 + 7260);
    free(s);
    assert(backfill_split(0, 10, 3600, &s) == 1 && s[0].to == 10);
    free(s);
    assert(backfill_split(10, 10, 60, &s) == -1 && !s);
    assert(backfill_split(10, 0, 60, &s) == -1);
    assert(backfill_split(0, 60, 0, &s) == -1);
    assert(backfill_split(0, (int64_t) BACKFILL_MAX_WINDOWS * 60 + 1, 60, &s) == -1);
}
