/*  stall.c - why a window is not progressing (see stall.h). */
#include "broker/stall.h"

#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const char *s_names[] = { "none",  "database", "recording", "behind", "no_worker", "flow_control",
                                 "blocked", "budget", "retry",     "busy",   "working" };

const char *stall_reason_name(stall_reason_t reason)
{
    return (size_t) reason < sizeof s_names / sizeof s_names[0] ? s_names[reason] : "unknown";
}

static void s_put(char *text, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void s_put(char *text, size_t size, const char *fmt, ...)
{
    if (!text || size == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, size, fmt, ap);
    va_end(ap);
}

/* Seconds, rounded up: a stage without workers for 300 ms has had none "for 1 s". */
static long long s_secs(int64_t ms)
{
    return ms <= 0 ? 0 : (long long) ((ms + 999) / 1000);
}

static void s_bytes(size_t n, char *buf, size_t size)
{
    if (n >= 1024 * 1024)
        snprintf(buf, size, "%.1f MiB", (double) n / (1024.0 * 1024.0));
    else if (n >= 1024)
        snprintf(buf, size, "%zu KiB", n / 1024);
    else
        snprintf(buf, size, "%zu bytes", n);
}

static const char *s_tasks(int n)
{
    return n == 1 ? "task waits" : "tasks wait";
}

stall_reason_t stall_paused(const stall_pipeline_t *p, char *text, size_t size)
{
    if (p->paused_ms <= 0)
        return STALL_NONE;
    s_put(text, size, "fetching paused after a 403 block (%lld s left)", s_secs(p->paused_ms));
    return STALL_BLOCKED;
}

stall_reason_t stall_stage(const stall_pipeline_t *p, proto_stage_t stage, int queued, unsigned feeds,
                           char *text, size_t size)
{
    const char *name = proto_stage_name(stage);
    if (queued <= 0)
        return STALL_NONE;
    if (p->workers[stage] == 0) {
        s_put(text, size, "no worker of stage %s for %lld s (%d %s for one)", name, s_secs(p->no_worker_ms[stage]),
              queued, s_tasks(queued));
        return STALL_NO_WORKER;
    }
    for (int s = PROTO_STAGE_FETCH; s < PROTO_STAGES; s++) {
        if (!(feeds & 1u << s) || p->queued_bytes[s] <= p->max_queued)
            continue;
        char have[32], limit[32], why[96] = "";
        s_bytes(p->queued_bytes[s], have, sizeof have);
        s_bytes(p->max_queued, limit, sizeof limit);
        if (p->workers[s] == 0)
            snprintf(why, sizeof why, "; no worker of stage %s for %lld s", proto_stage_name((proto_stage_t) s),
                     s_secs(p->no_worker_ms[s]));
        else if (p->free_credit[s] == 0)
            snprintf(why, sizeof why, "; every worker of stage %s is at capacity", proto_stage_name((proto_stage_t) s));
        s_put(text, size, "stage %s held by flow control: stage %s has %s waiting (VINTED_MAX_QUEUED %s)%s", name,
              proto_stage_name((proto_stage_t) s), have, limit, why);
        return STALL_FLOW_CONTROL;
    }
    if (stage == PROTO_STAGE_FETCH && stall_paused(p, text, size) == STALL_BLOCKED)
        return STALL_BLOCKED;
    if (p->free_credit[stage] == 0) {
        s_put(text, size, "%d %s for a free worker of stage %s (%d %s, all at capacity)", queued, s_tasks(queued), name,
              p->workers[stage], p->workers[stage] == 1 ? "worker" : "workers");
        return STALL_BUSY;
    }
    return STALL_NONE;
}

stall_reason_t stall_explain(const stall_pipeline_t *p, const stall_window_t *w, proto_stage_t *stage_out,
                             char *text, size_t size)
{
    proto_stage_t dummy;
    proto_stage_t *stage = stage_out ? stage_out : &dummy;
    *stage = PROTO_STAGE_NONE;
    if (p->db_down_ms > 0) {
        s_put(text, size, "the database does not answer (for %lld s); work waits for it", s_secs(p->db_down_ms));
        return STALL_DATABASE;
    }
    if (w->recording) {
        s_put(text, size, "its progress could not be recorded yet (database error); the broker retries every second");
        return STALL_RECORDING;
    }
    if (w->pending) {
        if (w->behind > 0) {
            s_put(text, size, "waits for window %" PRId64 " of the same catalog to finish (one window per catalog "
                              "runs at a time)", w->behind);
            return STALL_BEHIND;
        }
        s_put(text, size, "not started yet: its start could not be recorded (database error); retried every second");
        return STALL_RECORDING;
    }
    stall_reason_t busy = STALL_NONE;
    char busy_text[256] = "";
    proto_stage_t busy_stage = PROTO_STAGE_NONE;
    for (int s = PROTO_STAGE_FETCH; s < PROTO_STAGES; s++) {
        char line[256];
        stall_reason_t r = stall_stage(p, (proto_stage_t) s, w->queued[s], w->feeds[s], line, sizeof line);
        if (r == STALL_BUSY && busy == STALL_NONE) {
            busy = r;
            busy_stage = (proto_stage_t) s;
            snprintf(busy_text, sizeof busy_text, "%s", line);
        }
        else if (r != STALL_NONE && r != STALL_BUSY) {
            *stage = (proto_stage_t) s;
            s_put(text, size, "%s", line);
            return r;
        }
    }
    if (w->token_wait) {
        *stage = PROTO_STAGE_FETCH;
        if (stall_paused(p, text, size) == STALL_BLOCKED)
            return STALL_BLOCKED;
        s_put(text, size, "waiting for the request budget (%g requests a minute; next token in %lld s)",
              p->rate_per_min, s_secs(p->next_token_ms));
        return STALL_BUDGET;
    }
    for (int s = PROTO_STAGE_FETCH; s < PROTO_STAGES; s++) {
        if (w->delayed[s] > 0) {
            *stage = (proto_stage_t) s;
            s_put(text, size, "%d %s of stage %s to be tried again (in %lld s) after a refusal: %s", w->delayed[s],
                  w->delayed[s] == 1 ? "task waits" : "tasks wait", proto_stage_name((proto_stage_t) s),
                  s_secs(w->delayed_ms), w->refusal ? w->refusal : "no reason given");
            return STALL_RETRY;
        }
    }
    if (busy != STALL_NONE) {
        *stage = busy_stage;
        s_put(text, size, "%s", busy_text);
        return busy;
    }
    size_t o = 0;
    for (int s = PROTO_STAGE_FETCH; s < PROTO_STAGES && text && o < size; s++) {
        if (w->inflight[s] <= 0)
            continue;
        if (*stage == PROTO_STAGE_NONE)
            *stage = (proto_stage_t) s;
        int n = snprintf(text + o, size - o, "%s%d at stage %s", o ? ", " : "in progress: ", w->inflight[s],
                         proto_stage_name((proto_stage_t) s));
        o += n > 0 ? (size_t) n : 0;
    }
    if (*stage != PROTO_STAGE_NONE)
        return STALL_WORKING;
    s_put(text, size, "nothing outstanding");
    return STALL_NONE;
}

void stall_test(bool verbose)
{
    (void) verbose;
    char text[512];
    proto_stage_t stage;
    stall_pipeline_t p = { .max_queued = 1 << 20, .rate_per_min = 60 };
    for (int s = PROTO_STAGE_FETCH; s < PROTO_STAGES; s++) {
        p.workers[s] = 1;
        p.free_credit[s] = 2;
    }
    stall_window_t w = { 0 };
    assert(stall_explain(&p, &w, &stage, text, sizeof text) == STALL_NONE && stage == PROTO_STAGE_NONE);

    /* in flight only: progressing */
    w.inflight[PROTO_STAGE_TRANSFORM] = 2;
    w.inflight[PROTO_STAGE_STORE] = 1;
    assert(stall_explain(&p, &w, &stage, text, sizeof text) == STALL_WORKING && stage == PROTO_STAGE_TRANSFORM);
    assert(strcmp(text, "in progress: 2 at stage transform, 1 at stage store") == 0);

    /* the raw page waits for a store stage that has no worker: said with how long */
    w.queued[PROTO_STAGE_STORE] = 3;
    p.workers[PROTO_STAGE_STORE] = 0;
    p.free_credit[PROTO_STAGE_STORE] = 0;
    p.no_worker_ms[PROTO_STAGE_STORE] = 30000;
    assert(stall_explain(&p, &w, &stage, text, sizeof text) == STALL_NO_WORKER && stage == PROTO_STAGE_STORE);
    assert(strcmp(text, "no worker of stage store for 30 s (3 tasks wait for one)") == 0);
    assert(strcmp(stall_reason_name(STALL_NO_WORKER), "no_worker") == 0);
    p.workers[PROTO_STAGE_STORE] = 1;
    p.free_credit[PROTO_STAGE_STORE] = 0;
    /* every store worker busy: a lesser reason, after anything else */
    assert(stall_explain(&p, &w, &stage, text, sizeof text) == STALL_BUSY && stage == PROTO_STAGE_STORE);
    assert(strstr(text, "3 tasks wait for a free worker of stage store (1 worker, all at capacity)"));
    w.queued[PROTO_STAGE_STORE] = 0;

    /* a fetch held back because the sink's queue is full and the sink has no worker */
    w.queued[PROTO_STAGE_TRANSFORM] = 1;
    w.feeds[PROTO_STAGE_TRANSFORM] = 1u << PROTO_STAGE_SINK;
    p.queued_bytes[PROTO_STAGE_SINK] = (size_t) 3 << 19; /* 1.5 MiB */
    p.workers[PROTO_STAGE_SINK] = 0;
    p.no_worker_ms[PROTO_STAGE_SINK] = 12300;
    assert(stall_explain(&p, &w, &stage, text, sizeof text) == STALL_FLOW_CONTROL && stage == PROTO_STAGE_TRANSFORM);
    assert(strcmp(text, "stage transform held by flow control: stage sink has 1.5 MiB waiting (VINTED_MAX_QUEUED "
                        "1.0 MiB); no worker of stage sink for 13 s") == 0);
    p.workers[PROTO_STAGE_SINK] = 2;
    p.free_credit[PROTO_STAGE_SINK] = 0;
    assert(stall_explain(&p, &w, &stage, text, sizeof text) == STALL_FLOW_CONTROL);
    assert(strstr(text, "; every worker of stage sink is at capacity"));
    p.queued_bytes[PROTO_STAGE_SINK] = 1 << 20; /* at the limit is not over it */
    p.free_credit[PROTO_STAGE_SINK] = 2;
    assert(stall_explain(&p, &w, &stage, text, sizeof text) == STALL_WORKING);
    w.queued[PROTO_STAGE_TRANSFORM] = 0;

    /* a fetch waiting for a token: the budget, or a 403 pause */
    w.token_wait = true;
    p.next_token_ms = 1500;
    assert(stall_explain(&p, &w, &stage, text, sizeof text) == STALL_BUDGET && stage == PROTO_STAGE_FETCH);
    assert(strcmp(text, "waiting for the request budget (60 requests a minute; next token in 2 s)") == 0);
    p.paused_ms = 3600000;
    assert(stall_explain(&p, &w, &stage, text, sizeof text) == STALL_BLOCKED);
    assert(strcmp(text, "fetching paused after a 403 block (3600 s left)") == 0);
    char paused[64];
    assert(stall_paused(&p, paused, sizeof paused) == STALL_BLOCKED && strcmp(paused, text) == 0);
    w.token_wait = false;
    w.queued[PROTO_STAGE_FETCH] = 1;
    p.free_credit[PROTO_STAGE_FETCH] = 0;
    assert(stall_explain(&p, &w, &stage, text, sizeof text) == STALL_BLOCKED);
    w.queued[PROTO_STAGE_FETCH] = 0;
    p.paused_ms = 0;
    assert(stall_paused(&p, paused, sizeof paused) == STALL_NONE);

    /* a refused task waiting for its retry */
    w.delayed[PROTO_STAGE_PHOTO] = 1;
    w.delayed_ms = 4000;
    w.refusal = "photo 1/2 not downloaded: could not resolve host";
    assert(stall_explain(&p, &w, &stage, text, sizeof text) == STALL_RETRY && stage == PROTO_STAGE_PHOTO);
    assert(strcmp(text, "1 task waits of stage photo to be tried again (in 4 s) after a refusal: photo 1/2 not "
                        "downloaded: could not resolve host") == 0);
    w.delayed[PROTO_STAGE_PHOTO] = 0;

    /* pending behind its catalog's running window; the database first of all */
    w.pending = true;
    w.behind = 41;
    assert(stall_explain(&p, &w, &stage, text, sizeof text) == STALL_BEHIND);
    assert(strstr(text, "waits for window 41 of the same catalog"));
    w.behind = 0;
    assert(stall_explain(&p, &w, &stage, text, sizeof text) == STALL_RECORDING);
    p.db_down_ms = 10001;
    assert(stall_explain(&p, &w, &stage, text, sizeof text) == STALL_DATABASE);
    assert(strcmp(text, "the database does not answer (for 11 s); work waits for it") == 0);
    p.db_down_ms = 0;
    w.pending = false;
    w.recording = true;
    assert(stall_explain(&p, &w, &stage, text, sizeof text) == STALL_RECORDING);

    /* the pipeline-wide view of one stage */
    assert(stall_stage(&p, PROTO_STAGE_SINK, 0, 0, text, sizeof text) == STALL_NONE);
    p.workers[PROTO_STAGE_PHOTO] = 0;
    p.no_worker_ms[PROTO_STAGE_PHOTO] = 61000;
    assert(stall_stage(&p, PROTO_STAGE_PHOTO, 1, 1u << PROTO_STAGE_SINK, text, sizeof text) == STALL_NO_WORKER);
    assert(strcmp(text, "no worker of stage photo for 61 s (1 task waits for one)") == 0);
    /* a short buffer is cut, not overrun */
    char tiny[8];
    assert(stall_stage(&p, PROTO_STAGE_PHOTO, 1, 0, tiny, sizeof tiny) == STALL_NO_WORKER && strlen(tiny) == 7);
}
