/*  broker_internal.h - what the broker's files share, and nothing else includes.

    The broker is one object (struct _broker_t) split over these files:
        broker.c          the routing tables: a worker's message to its handler, a task's
                          result to what it becomes next (fetched page -> transformed ->
                          committed); the sockets, the event loop, new/destroy/run
        tasks.c           peers and tasks: the queue per stage, flow control, dispatch,
                          request tokens, heartbeats and deadlines, rejected frames,
                          why work stalls
        inflight.c        the windows in flight: created, started per catalog in order, paged,
                          done or failed, resumed at start (window.c: one window's pages)
        flows.c           the flows besides catalog windows: tracking runs, images windows
                          and the photo retry, replays, the catalog tree refresh
        scheduler.c       when windows are due: fixed slices or the adaptive schedule's
                          glue (broker/schedule.c plans), tracking and catalog periods
        control.c         the control verbs of vinted-ctl (window, replay, track, ...)
        broker_metrics.c  what the broker publishes to Prometheus
    Functions one file gives the others are declared here with the broker_ prefix;
    what stays in one file is static (s_).
*/
#ifndef BROKER_INTERNAL_H_INCLUDED
#define BROKER_INTERNAL_H_INCLUDED

#include <czmq.h>
#include <inttypes.h>

#include "broker/broker.h"
#include "broker/budget.h"
#include "broker/schedule.h"
#include "broker/stall.h"
#include "broker/store.h"
#include "broker/window.h"
#include "common/curve.h"
#include "common/metrics.h"
#include "common/objstore.h"
#include "proto/proto.h"

typedef struct {
    char key[64];        /* routing identity as hex */
    zframe_t *identity;
    char *name;
    proto_stage_t stage;
    int capacity;
    int inflight;
    uint64_t done;
    int64_t expiry;      /* mono ms: dead if silent past this */
    int64_t last_send;   /* mono ms */
    int64_t window_id;   /* fetchers: window of the task in hand, for request accounting */
} peer_t;

typedef struct {
    uint64_t id;
    char key[24];
    proto_stage_t stage;
    proto_body_t body;   /* what the TASK carries */
    int64_t window_id;   /* the window it counts towards */
    int32_t page;
    uint8_t *data;       /* the encoded TASK message */
    size_t size;
    peer_t *peer;        /* NULL while queued */
    void *queue_handle;  /* in queue[stage] while queued */
    int64_t deadline;    /* mono ms */
    int64_t not_before;  /* mono ms */
    int64_t dispatched_at; /* mono ms, last dispatch */
    int refusals;        /* NACKs (a lost worker or a deadline is not the task's fault) */
    char *refusal;       /* the last NACK's reason, or NULL (said by get while it waits) */
} task_t;

/* What the broker publishes to Prometheus (all NULL when metrics are off). */
typedef struct {
    metrics_series_t *workers[PROTO_STAGES], *queued[PROTO_STAGES], *queued_bytes[PROTO_STAGES];
    metrics_series_t *inflight[PROTO_STAGES], *held;
    metrics_series_t *completed[PROTO_STAGES];
    metrics_series_t *dispatched, *redelivered, *nacked, *invalid_frames, *refused, *tokens, *token_waiters;
    metrics_series_t *backoff, *rate, *open_windows, *batch_commit;
    metrics_series_t *windows[WINDOW_KINDS][4]; /* kind x state */
    int64_t next_publish, next_windows; /* mono ms */
} broker_metrics_t;

struct _broker_t {
    broker_config_t cfg;
    zsock_t *workers;
    zsock_t *control;
    curve_watch_t *watch[2];          /* CURVE on: handshakes of the worker and control sockets */
    uint64_t refused;                 /* handshakes refused (key not in the allow-list, no CURVE) */
    store_t *store;
    objstore_t *objects;              /* the raw landing area, listed by replays */
    zhashx_t *peers;                  /* key -> peer_t */
    zhashx_t *tasks;                  /* key -> task_t */
    zlistx_t *queue[PROTO_STAGES];    /* task_t waiting for a worker */
    size_t queued_bytes[PROTO_STAGES]; /* encoded size of the tasks in queue[stage] */
    size_t queued_peak[PROTO_STAGES]; /* the most queued_bytes[stage] ever reached */
    size_t task_max[PROTO_STAGES];    /* the largest task ever queued for the stage (flow control's bound) */
    size_t queued_n[PROTO_STAGES][PROTO_BODY_PHOTO + 1]; /* tasks in queue[stage] per body */
    uint64_t held;                    /* dispatches held back by flow control */
    zlistx_t *token_waiters;          /* peer keys (char*) */
    zhashx_t *windows;                /* "id" -> window_t, open windows only */
    zhashx_t *bands;                  /* "catalog" -> price bands its next window starts from (window_bands_next) */
    uint64_t next_task_id;
    budget_t *budget;                 /* request tokens per egress identity (VINTED_PROXIES, VINTED_RATE) */
    int64_t next_heartbeat;
    int64_t next_sweep;
    int64_t next_retry;               /* mono: when s_retry runs next */
    int64_t next_schedule_s;          /* wall: when the next scheduled windows are due */
    int64_t next_track;               /* mono: when the next tracking run is due */
    int64_t next_catalogs;            /* mono: when the next catalog tree refresh is due */
    int64_t next_photo_retry;         /* mono: when unstored photos are tried again */
    schedule_t *schedule;             /* VINTED_SCHEDULE=adaptive, else NULL */
    int64_t *poll_end_s;              /* adaptive, per configured catalog: end of its last scheduled window */
    int64_t *poll_not_before;         /* adaptive, per configured catalog: wall ms before which none is created */
    int64_t next_adaptive;            /* mono: when the adaptive schedule is looked at next */
    char last_error[512];
    uint64_t results[PROTO_STAGES];   /* tasks completed per stage */
    uint64_t dispatched, redelivered, nacked, invalid_frames;
    int64_t reject_second;            /* mono s of the invalid frames counted in reject_logged */
    int reject_logged;                /* invalid frames logged in that second */
    uint64_t reject_quiet;            /* invalid frames not logged since the last summary */
    int64_t stage_seen[PROTO_STAGES]; /* mono: when the stage last lost a worker (start: the broker's start) */
    int64_t stall_logged[PROTO_STAGES]; /* mono: when "no worker of stage" was last logged */
    broker_metrics_t metrics;
};

/* tasks.c */
/* A frame that is rejected: counted and logged (at most so many lines a second). */
void broker_reject(broker_t *self, const char *socket, zframe_t *identity, size_t bytes, const char *reason);
void broker_send_cmd(broker_t *self, peer_t *peer, proto_cmd_t cmd);
void broker_queue_remove(broker_t *self, task_t *task);
void broker_requeue(broker_t *self, task_t *task, int64_t delay_ms);
void broker_peer_remove(broker_t *self, peer_t *peer, const char *why);
void broker_peer_free(void **item);
void broker_task_destructor(void **item);
task_t *broker_task_new(broker_t *self, proto_stage_t stage, int64_t window_id, int32_t page, proto_msg_t *msg);
void broker_task_ahead(broker_t *self, task_t *task);
void broker_dispatch(broker_t *self);
void broker_grant_tokens(broker_t *self);
void broker_pipeline(const broker_t *self, stall_pipeline_t *p);
stall_reason_t broker_window_stall(broker_t *self, const window_t *w, proto_stage_t *stage, char *text,
                                   size_t size);
stall_reason_t broker_stage_stall(broker_t *self, const stall_pipeline_t *p, proto_stage_t stage, char *text,
                                  size_t size);
void broker_sweep(broker_t *self);
void broker_count_workers(broker_t *self, int workers[PROTO_STAGES], int inflight[PROTO_STAGES]);

/* inflight.c */
/* The key of a catalog of a site in the per-catalog maps: "pt:221". */
void broker_catalog_key(char *buf, size_t size, const char *site, int32_t catalog);
/* The index of (site, catalog) among the configured catalogs, or -1. */
int broker_config_index(const broker_t *self, const char *site, int32_t catalog);
window_t *broker_window(broker_t *self, int64_t id);
void broker_window_destructor(void **item);
void broker_fetch_page(broker_t *self, window_t *w, int part, int32_t api_page);
void broker_fetch_parts(broker_t *self, window_t *w);
void broker_window_done(broker_t *self, window_t *w);
void broker_window_failed(broker_t *self, window_t *w, const char *reason);
void broker_window_add(broker_t *self, window_t *w);
void broker_window_loaded(void *arg, window_t *w);
zhashx_t *broker_catalog_heads(broker_t *self);
void broker_start_windows(broker_t *self);
int64_t broker_create_window(broker_t *self, const char *site, int32_t catalog, int64_t start_s, int64_t end_s,
                             const char *kind);
void broker_retry(broker_t *self);

/* flows.c */
void broker_track_fetch(broker_t *self, window_t *w, proto_fetch_kind_t kind, int64_t target, int32_t page,
                        const char *site);
void broker_track_start(broker_t *self, window_t *w);
void broker_counted_idle(broker_t *self, window_t *w);
void broker_images_start(broker_t *self, int64_t parent_id, int32_t catalog_id, window_t *existing);
void broker_on_photo_stored(broker_t *self, window_t *w, proto_msg_t *msg);
void broker_on_tracked(broker_t *self, window_t *w, proto_msg_t *msg);
window_t *broker_replay_start(broker_t *self, const char *flow, int64_t from_s, int64_t to_s, char *err,
                              size_t err_size);
int broker_replay_finish(broker_t *self, window_t *w);
int64_t broker_track_now(broker_t *self);
int64_t broker_catalogs_now(broker_t *self);
void broker_photo_retry(broker_t *self);

/* scheduler.c */
/* Requests a minute all identities together may send: VINTED_RATE each, VINTED_RATE_TOTAL at most. */
double broker_rate_total(const broker_t *self);
void broker_schedule(broker_t *self);
void broker_schedule_learn(broker_t *self, const window_t *w);
int broker_schedule_setup(broker_t *self);
char *broker_schedule_json(broker_t *self);

/* control.c */
void broker_on_control_message(broker_t *self);

/* broker_metrics.c */
void broker_metrics_init(broker_t *self);
void broker_metrics_publish(broker_t *self);

#endif
