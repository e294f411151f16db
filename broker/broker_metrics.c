/*  broker_metrics.c - what the broker publishes to Prometheus: its series made at
    start, and the broker's state mirrored into them from the event loop.
*/
#include "broker/broker_internal.h"

#include "common/clock.h"

void broker_metrics_init(broker_t *self)
{
    metrics_t *m = self->cfg.metrics;
    broker_metrics_t *bm = &self->metrics;
    if (!m)
        return;
    metrics_family_t *workers = metrics_family(m, METRICS_GAUGE, "vinted_broker_workers",
        "Live worker processes per stage (a worker silent past the heartbeat liveness is dropped)", "stage", NULL, 0);
    metrics_family_t *queued = metrics_family(m, METRICS_GAUGE, "vinted_broker_queued_tasks",
        "Tasks waiting for a worker, per stage", "stage", NULL, 0);
    metrics_family_t *queued_bytes = metrics_family(m, METRICS_GAUGE, "vinted_broker_queued_bytes",
        "Bytes of tasks waiting for a worker, per stage (flow control holds what feeds a stage past VINTED_MAX_QUEUED)",
        "stage", NULL, 0);
    metrics_family_t *inflight = metrics_family(m, METRICS_GAUGE, "vinted_broker_inflight_tasks",
        "Tasks dispatched and not yet answered, per stage", "stage", NULL, 0);
    metrics_family_t *completed = metrics_family(m, METRICS_COUNTER, "vinted_broker_tasks_completed_total",
        "Tasks answered with a result, per stage", "stage", NULL, 0);
    for (int s = PROTO_STAGE_FETCH; s < PROTO_STAGES; s++) {
        const char *name = proto_stage_name((proto_stage_t) s);
        bm->workers[s] = metrics_series(workers, name);
        bm->queued[s] = metrics_series(queued, name);
        bm->queued_bytes[s] = metrics_series(queued_bytes, name);
        bm->inflight[s] = metrics_series(inflight, name);
        bm->completed[s] = metrics_series(completed, name);
    }
    bm->dispatched = metrics_counter(m, "vinted_broker_tasks_dispatched_total", "Task dispatches to workers, redeliveries included");
    bm->redelivered = metrics_counter(m, "vinted_broker_tasks_redelivered_total",
        "Tasks put back in the queue (worker lost, deadline passed, or refused and retried)");
    bm->nacked = metrics_counter(m, "vinted_broker_tasks_nacked_total", "Tasks refused by a worker (NACK)");
    bm->held = metrics_counter(m, "vinted_broker_flow_held_total",
        "Dispatch passes that held a stage's tasks back because a stage they feed had VINTED_MAX_QUEUED waiting");
    bm->invalid_frames = metrics_counter(m, "vinted_broker_invalid_frames_total", "Malformed messages from workers, rejected");
    bm->refused = metrics_counter(m, "vinted_broker_refused_handshakes_total",
        "Peers refused at the CURVE handshake (key not in the allow-list, or no CURVE)");
    bm->tokens = metrics_counter(m, "vinted_broker_tokens_granted_total", "Request tokens granted to fetchers (requests to Vinted)");
    bm->token_waiters = metrics_gauge(m, "vinted_broker_token_waiters", "Fetchers waiting for a request token");
    bm->backoff = metrics_gauge(m, "vinted_broker_backoff_seconds", "Seconds left of the pause of all fetching after a 403 block");
    bm->rate = metrics_gauge(m, "vinted_broker_rate_per_minute", "Request budget: most requests per minute to Vinted");
    bm->open_windows = metrics_gauge(m, "vinted_broker_open_windows", "Windows the broker holds open (pending or running)");
    metrics_family_t *windows = metrics_family(m, METRICS_GAUGE, "vinted_broker_windows",
        "Windows in the database by kind and state (refreshed every few seconds)", "kind,state", NULL, 0);
    for (int k = WINDOW_CATALOG; k < WINDOW_KINDS; k++)
        for (int st = WINDOW_PENDING; st <= WINDOW_FAILED; st++)
            bm->windows[k][st] = metrics_series(windows, window_kind_name((window_kind_t) k),
                                                window_state_name((window_state_t) st));
    bm->batch_commit = metrics_series(metrics_family(m, METRICS_HISTOGRAM, "vinted_broker_batch_commit_seconds",
        "From a batch dispatched to a sink to its COMMIT, as the broker sees it", NULL,
        metrics_latency_buckets, metrics_latency_buckets_n));
}

/* Mirror the broker's state into the registry: every 200 ms, and the windows
   table (one query) every 5 s. */
void broker_metrics_publish(broker_t *self)
{
    broker_metrics_t *bm = &self->metrics;
    int64_t now = clock_mono_ms();
    if (!self->cfg.metrics || now < bm->next_publish)
        return;
    bm->next_publish = now + 200;
    int workers[PROTO_STAGES], inflight[PROTO_STAGES];
    broker_count_workers(self, workers, inflight);
    for (int s = PROTO_STAGE_FETCH; s < PROTO_STAGES; s++) {
        metrics_set(bm->workers[s], workers[s]);
        metrics_set(bm->inflight[s], inflight[s]);
        metrics_set(bm->queued[s], (double) zlistx_size(self->queue[s]));
        metrics_set(bm->queued_bytes[s], (double) self->queued_bytes[s]);
        metrics_set(bm->completed[s], (double) self->results[s]);
    }
    metrics_set(bm->dispatched, (double) self->dispatched);
    metrics_set(bm->redelivered, (double) self->redelivered);
    metrics_set(bm->nacked, (double) self->nacked);
    metrics_set(bm->held, (double) self->held);
    metrics_set(bm->invalid_frames, (double) self->invalid_frames);
    metrics_set(bm->refused, (double) self->refused);
    metrics_set(bm->tokens, (double) budget_granted(self->budget, -1));
    metrics_set(bm->token_waiters, (double) zlistx_size(self->token_waiters));
    metrics_set(bm->backoff, (double) budget_all_paused_ms(self->budget, now) / 1000.0);
    metrics_set(bm->rate, broker_rate_total(self));
    metrics_set(bm->open_windows, (double) zhashx_size(self->windows));
    if (now >= bm->next_windows) {
        bm->next_windows = now + 5000;
        int64_t counts[4] = { 0 }, by_kind[WINDOW_KINDS][4] = { { 0 } };
        if (store_window_counts(self->store, counts, by_kind) == 0)
            for (int k = 0; k < WINDOW_KINDS; k++)
                for (int st = 0; st < 4; st++)
                    metrics_set(bm->windows[k][st], (double) by_kind[k][st]);
    }
}
