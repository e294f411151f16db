/*  stall.h - why a window is not progressing, in words a user can act on.

    The broker gathers what it knows about one window (its tasks per stage:
    queued, held back, waiting to be retried, in flight) and about the pipeline
    (workers per stage and since when a stage has none, flow control, the
    request budget, a 403 pause, the database), and stall_explain turns that
    into one reason: the first of

        database      the database does not answer
        recording     the window's completion or start could not be recorded yet
        behind        a pending window waits for its catalog's running window
        no_worker     a stage its tasks wait for has no worker (for how long)
        flow_control  its tasks are held back because a stage they feed is full
        blocked       fetching is paused after a 403 block
        budget        its fetch waits for a request token
        retry         its tasks wait to be tried again after a refusal
        busy          its tasks wait for a free worker (every one at capacity)
        working       tasks are in flight: it is progressing (not a stall)

    vinted-ctl get, status and window --wait show it. A self-test covers each rule.
*/
#ifndef STALL_H_INCLUDED
#define STALL_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/proto.h"

typedef enum {
    STALL_NONE = 0, /* nothing outstanding (about to finish) */
    STALL_DATABASE,
    STALL_RECORDING,
    STALL_BEHIND,
    STALL_NO_WORKER,
    STALL_FLOW_CONTROL,
    STALL_BLOCKED,
    STALL_BUDGET,
    STALL_RETRY,
    STALL_BUSY,
    STALL_WORKING,
} stall_reason_t;

/* The pipeline as a whole, per stage. */
typedef struct {
    int workers[PROTO_STAGES];           /* live workers */
    int free_credit[PROTO_STAGES];       /* tasks the live workers could still take */
    int64_t no_worker_ms[PROTO_STAGES];  /* how long the stage has had no worker (0: it has some) */
    size_t queued_bytes[PROTO_STAGES];   /* what waits for the stage */
    size_t max_queued;                   /* VINTED_MAX_QUEUED */
    int64_t db_down_ms;                  /* 0: the database answers */
    int64_t paused_ms;                   /* left of the pause after a 403 block */
    int64_t next_token_ms;               /* until the next request token */
    double rate_per_min;
} stall_pipeline_t;

/* One window's tasks, per stage. */
typedef struct {
    int queued[PROTO_STAGES];            /* waiting for a worker, due now */
    unsigned feeds[PROTO_STAGES];        /* the stages those queued tasks feed (bit per stage) */
    int delayed[PROTO_STAGES];           /* waiting to be tried again after a refusal */
    int64_t delayed_ms;                  /* until the first of those is due */
    const char *refusal;                 /* the last refusal's reason, or NULL */
    int inflight[PROTO_STAGES];          /* at workers */
    bool token_wait;                     /* a fetch of this window waits for a request token */
    bool pending;                        /* not started */
    int64_t behind;                      /* pending: the running window of its catalog (0: none) */
    bool recording;                      /* completion or start not recorded (database error) */
} stall_window_t;

/* The reason, and its words in text (a line, no trailing newline). *stage_out
   (may be NULL) gets the stage the reason is about, or PROTO_STAGE_NONE. */
stall_reason_t stall_explain(const stall_pipeline_t *p, const stall_window_t *w, proto_stage_t *stage_out,
                             char *text, size_t size);

/* Why the tasks queued for one stage wait, pipeline-wide (for status): a reason
   other than STALL_WORKING/STALL_NONE and its words, or STALL_NONE when nothing
   queued there waits on anything but time. queued: tasks due now for the stage,
   feeds: the stages they feed. */
stall_reason_t stall_stage(const stall_pipeline_t *p, proto_stage_t stage, int queued, unsigned feeds,
                           char *text, size_t size);

/* STALL_BLOCKED and its words when fetching is paused after a 403 block, else STALL_NONE. */
stall_reason_t stall_paused(const stall_pipeline_t *p, char *text, size_t size);

/* "database", "no_worker", ... */
const char *stall_reason_name(stall_reason_t reason);

void stall_test(bool verbose);

#endif
