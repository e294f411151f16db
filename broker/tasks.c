/*  tasks.c - the broker's peers and tasks: every task waits in its stage's queue
    until a worker of the stage has credit, and stays in `tasks` until its result
    arrives; flow control holds back what feeds a stage with too much waiting; a
    worker gone silent or a task past its deadline goes back to the queue; fetchers
    wait here for their request tokens. And why work waits (stalls, for get/status).
*/
#include "broker/broker_internal.h"

#include "common/clock.h"
#include "common/log.h"

static void s_send_to(broker_t *self, peer_t *peer, const uint8_t *data, size_t size)
{
    zmsg_t *msg = zmsg_new();
    zmsg_addmem(msg, zframe_data(peer->identity), zframe_size(peer->identity));
    zmsg_addmem(msg, data, size);
    zmsg_send(&msg, self->workers);
    peer->last_send = clock_mono_ms();
}

#define S_REJECT_LOGS 50 /* invalid frames logged per second; the rest are summed up */

/* A frame that is rejected (section 9.1 of PROTOCOL.md): counted, and logged
   with the peer, its size and the reason; a flood costs at most S_REJECT_LOGS
   lines a second plus one line saying how many more there were. */
void broker_reject(broker_t *self, const char *socket, zframe_t *identity, size_t bytes, const char *reason)
{
    self->invalid_frames++;
    int64_t second = clock_mono_ms() / 1000;
    if (second != self->reject_second) {
        if (self->reject_quiet > 0)
            log_warn("more invalid frames rejected without a log line", "count=%" PRIu64, self->reject_quiet);
        self->reject_second = second;
        self->reject_logged = 0;
        self->reject_quiet = 0;
    }
    if (self->reject_logged >= S_REJECT_LOGS) {
        self->reject_quiet++;
        return;
    }
    self->reject_logged++;
    char *hex = identity ? zframe_strhex(identity) : NULL;
    log_warn("invalid frame rejected", "socket=%s peer=%s bytes=%zu reason=%s total=%" PRIu64, socket,
             hex ? hex : "none", bytes, log_str(reason), self->invalid_frames);
    free(hex);
}

/* Encode msg and send it to peer; destroys msg. */
static void s_send_msg(broker_t *self, peer_t *peer, proto_msg_t **msg_p)
{
    uint8_t *data;
    size_t size;
    if (proto_encode(*msg_p, &data, &size) == 0) {
        s_send_to(self, peer, data, size);
        free(data);
    }
    proto_msg_destroy(msg_p);
}

void broker_send_cmd(broker_t *self, peer_t *peer, proto_cmd_t cmd)
{
    proto_msg_t *msg = proto_msg_new(cmd);
    s_send_msg(self, peer, &msg);
}

static void s_task_free(task_t **task_p)
{
    task_t *task = *task_p;
    if (task) {
        free(task->data);
        free(task->refusal);
        free(task);
        *task_p = NULL;
    }
}

/* Every task enters and leaves its stage's queue through these two, so that
   queued_bytes[] (what flow control looks at) stays exact. */
static void s_queue_add(broker_t *self, task_t *task)
{
    task->queue_handle = zlistx_add_end(self->queue[task->stage], task);
    self->queued_bytes[task->stage] += task->size;
    self->queued_n[task->stage][task->body]++;
    if (task->size > self->task_max[task->stage])
        self->task_max[task->stage] = task->size;
    if (self->queued_bytes[task->stage] > self->queued_peak[task->stage])
        self->queued_peak[task->stage] = self->queued_bytes[task->stage];
}

void broker_queue_remove(broker_t *self, task_t *task)
{
    zlistx_delete(self->queue[task->stage], task->queue_handle);
    task->queue_handle = NULL;
    self->queued_bytes[task->stage] -= task->size;
    self->queued_n[task->stage][task->body]--;
}

/* Put a task (back) in its stage's queue, or drop it if its window is gone. */
void broker_requeue(broker_t *self, task_t *task, int64_t delay_ms)
{
    if (task->peer) {
        task->peer->inflight--;
        task->peer = NULL;
    }
    if (!broker_window(self, task->window_id)) {
        zhashx_delete(self->tasks, task->key);
        return;
    }
    task->not_before = clock_mono_ms() + delay_ms;
    s_queue_add(self, task);
    self->redelivered++;
}

void broker_peer_remove(broker_t *self, peer_t *peer, const char *why)
{
    log_warn("worker gone, its tasks go back to the queue", "stage=%s worker=%s inflight=%d reason=%s",
             proto_stage_name(peer->stage), log_str(peer->name), peer->inflight, log_str(why));
    zlistx_t *mine = zlistx_new();
    for (task_t *t = zhashx_first(self->tasks); t; t = zhashx_next(self->tasks))
        if (t->peer == peer)
            zlistx_add_end(mine, t);
    for (task_t *t = zlistx_first(mine); t; t = zlistx_next(mine))
        broker_requeue(self, t, 0);
    zlistx_destroy(&mine);
    self->stage_seen[peer->stage] = clock_mono_ms(); /* "no worker for N s" counts from here */
    zhashx_delete(self->peers, peer->key);
}

void broker_peer_free(void **item)
{
    peer_t *peer = *item;
    if (peer) {
        zframe_destroy(&peer->identity);
        free(peer->name);
        free(peer);
        *item = NULL;
    }
}

void broker_task_destructor(void **item)
{
    s_task_free((task_t **) item);
}

/* Encode msg as a TASK and queue it for its stage. Takes ownership of nothing.
   The task, or NULL if it could not be encoded. */
task_t *broker_task_new(broker_t *self, proto_stage_t stage, int64_t window_id, int32_t page, proto_msg_t *msg)
{
    task_t *task = calloc(1, sizeof *task);
    assert(task);
    task->id = ++self->next_task_id;
    snprintf(task->key, sizeof task->key, "%" PRIu64, task->id);
    task->stage = stage;
    task->body = msg->body;
    task->window_id = window_id;
    task->page = page;
    msg->cmd = PROTO_TASK;
    msg->task_id = task->id;
    if (proto_encode(msg, &task->data, &task->size) != 0) {
        log_error("cannot encode task", "stage=%s window=%" PRId64, proto_stage_name(stage), window_id);
        free(task);
        return NULL;
    }
    zhashx_insert(self->tasks, task->key, task);
    s_queue_add(self, task);
    window_t *w = broker_window(self, window_id);
    if (w)
        w->outstanding++;
    return task;
}

/* A window's next catalog page goes ahead of the first pages of other windows:
   newest_first pages shift down as listings arrive, so the longer the gap between
   two pages of a window, the more of the next page repeats the last (measured by
   tests/bench/capture.py: +55% requests over the floor under a tight budget when
   three catalogs' pages took turns). */
void broker_task_ahead(broker_t *self, task_t *task)
{
    if (task && task->queue_handle)
        zlistx_move_start(self->queue[task->stage], task->queue_handle);
}

/* The least loaded worker of a stage with credit left, or NULL. */
static peer_t *s_pick(broker_t *self, proto_stage_t stage)
{
    peer_t *best = NULL;
    for (peer_t *p = zhashx_first(self->peers); p; p = zhashx_next(self->peers)) {
        if (p->stage != stage || p->inflight >= p->capacity)
            continue;
        if (!best || p->inflight * best->capacity < best->inflight * p->capacity
            || (p->inflight * best->capacity == best->inflight * p->capacity && p->done < best->done))
            best = p;
    }
    return best;
}

/* Flow control. The stages a task's result feeds: a fetched page goes to a
   transformer and to the raw area, a transformed batch to a sink, a page loaded
   from the raw area to a transformer, a downloaded photo (photo stage) to a sink; a sink's
   commit and a stored page feed nothing. A task is held back while one of the
   stages it feeds has more than VINTED_MAX_QUEUED bytes waiting, so a slow or
   absent stage stops the work upstream of it instead of piling up in the broker:
   queued bytes per stage stay under max_queued plus what the tasks in flight
   upstream return. The graph has no cycle, so holding never deadlocks. */
static unsigned s_feeds(proto_stage_t stage, proto_body_t body)
{
    if (stage == PROTO_STAGE_FETCH)
        return 1u << PROTO_STAGE_TRANSFORM | 1u << PROTO_STAGE_STORE;
    if (stage == PROTO_STAGE_TRANSFORM)
        return 1u << PROTO_STAGE_SINK;
    if (stage == PROTO_STAGE_STORE && body == PROTO_BODY_LOAD)
        return 1u << PROTO_STAGE_TRANSFORM;
    if (stage == PROTO_STAGE_PHOTO)
        return 1u << PROTO_STAGE_SINK;
    return 0;
}

static bool s_held(broker_t *self, unsigned feeds)
{
    for (int s = PROTO_STAGE_FETCH; s < PROTO_STAGES; s++)
        if ((feeds & 1u << s) && self->queued_bytes[s] > self->cfg.max_queued)
            return true;
    return false;
}

void broker_dispatch(broker_t *self)
{
    int64_t now = clock_mono_ms();
    for (int stage = PROTO_STAGE_FETCH; stage < PROTO_STAGES; stage++) {
        zlistx_t *q = self->queue[stage];
        /* skip the queue when every task in it is held (a replay's thousands of loads) */
        bool all_held = true;
        for (int b = PROTO_BODY_NONE; b <= PROTO_BODY_PHOTO && all_held; b++)
            all_held = self->queued_n[stage][b] == 0
                       || s_held(self, s_feeds((proto_stage_t) stage, (proto_body_t) b));
        if (all_held) {
            if (zlistx_size(q) > 0)
                self->held++;
            continue;
        }
        bool held = false;
        task_t *task = zlistx_first(q);
        while (task) {
            task_t *next = zlistx_next(q);
            if (task->not_before <= now) {
                if (s_held(self, s_feeds(task->stage, task->body))) {
                    held = true;
                    task = next;
                    continue;
                }
                peer_t *peer = s_pick(self, (proto_stage_t) stage);
                if (!peer)
                    break;
                broker_queue_remove(self, task);
                task->peer = peer;
                task->dispatched_at = now;
                int64_t timeout = self->cfg.task_timeout_ms;
                task->deadline = now + timeout;
                peer->inflight++;
                self->dispatched++;
                if (stage == PROTO_STAGE_FETCH)
                    peer->window_id = task->window_id;
                s_send_to(self, peer, task->data, task->size);
            }
            task = next;
        }
        if (held)
            self->held++;
    }
}

void broker_grant_tokens(broker_t *self)
{
    while (zlistx_size(self->token_waiters) > 0) {
        int64_t now = clock_mono_ms();
        int identity = budget_take(self->budget, now);
        if (identity < 0)
            return;
        char *key = zlistx_detach(self->token_waiters, NULL);
        peer_t *peer = zhashx_lookup(self->peers, key);
        free(key);
        if (!peer) {
            budget_give_back(self->budget, identity, now); /* its fetcher is gone */
            continue;
        }
        window_t *w = broker_window(self, peer->window_id);
        if (w)
            w->requests++;
        proto_msg_t *msg = proto_msg_new(PROTO_TOKEN);
        msg->u.token.identity = identity;
        s_send_msg(self, peer, &msg);
    }
}

/* -------------------------------------------------------------- stalls */


/* The pipeline-wide facts a stall is explained with (broker/stall.h). */
void broker_pipeline(const broker_t *self, stall_pipeline_t *p)
{
    int64_t now = clock_mono_ms();
    memset(p, 0, sizeof *p);
    for (peer_t *peer = zhashx_first(self->peers); peer; peer = zhashx_next(self->peers)) {
        p->workers[peer->stage]++;
        if (peer->capacity > peer->inflight)
            p->free_credit[peer->stage] += peer->capacity - peer->inflight;
    }
    for (int s = PROTO_STAGE_FETCH; s < PROTO_STAGES; s++) {
        p->no_worker_ms[s] = p->workers[s] > 0 ? 0 : now - self->stage_seen[s];
        p->queued_bytes[s] = self->queued_bytes[s];
    }
    p->max_queued = self->cfg.max_queued;
    p->db_down_ms = store_down_ms(self->store);
    p->paused_ms = budget_all_paused_ms(self->budget, now);
    p->next_token_ms = budget_wait_ms(self->budget, now);
    p->rate_per_min = broker_rate_total(self);
}

/* Why window w is not progressing: its reason, in words into text. */
stall_reason_t broker_window_stall(broker_t *self, const window_t *w, proto_stage_t *stage, char *text,
                                   size_t size)
{
    stall_pipeline_t p;
    broker_pipeline(self, &p);
    stall_window_t sw = { .pending = w->state == WINDOW_PENDING, .recording = w->finish_pending };
    int64_t now = clock_mono_ms(), first_due = INT64_MAX;
    for (task_t *t = zhashx_first(self->tasks); t; t = zhashx_next(self->tasks)) {
        if (t->window_id != w->id)
            continue;
        if (t->peer)
            sw.inflight[t->stage]++;
        else if (t->not_before > now) {
            sw.delayed[t->stage]++;
            if (t->not_before < first_due) {
                first_due = t->not_before;
                sw.refusal = t->refusal;
            }
        }
        else if (t->queue_handle) {
            sw.queued[t->stage]++;
            sw.feeds[t->stage] |= s_feeds(t->stage, t->body);
        }
    }
    sw.delayed_ms = first_due == INT64_MAX ? 0 : first_due - now;
    for (char *key = zlistx_first(self->token_waiters); key && !sw.token_wait; key = zlistx_next(self->token_waiters)) {
        peer_t *peer = zhashx_lookup(self->peers, key);
        sw.token_wait = peer && peer->window_id == w->id;
    }
    if (sw.pending) {
        zhashx_t *heads = broker_catalog_heads(self);
        char key[24];
        broker_catalog_key(key, sizeof key, w->site, w->catalog_id);
        window_t *head = zhashx_lookup(heads, key);
        sw.behind = head && head != w && head->state == WINDOW_RUNNING ? head->id : 0;
        zhashx_destroy(&heads);
    }
    return stall_explain(&p, &sw, stage, text, size);
}

/* Per stage, why the tasks queued there wait (pipeline-wide, for status): the
   reason, its words in text (empty when none). */
stall_reason_t broker_stage_stall(broker_t *self, const stall_pipeline_t *p, proto_stage_t stage, char *text,
                                  size_t size)
{
    int queued = 0;
    unsigned feeds = 0;
    int64_t now = clock_mono_ms();
    for (task_t *t = zlistx_first(self->queue[stage]); t; t = zlistx_next(self->queue[stage]))
        if (t->not_before <= now) {
            queued++;
            feeds |= s_feeds(t->stage, t->body);
        }
    text[0] = 0;
    return stall_stage(p, stage, queued, feeds, text, size);
}

#define S_STALL_LOG_MS 30000 /* a stage with work waiting and no worker this long is logged (then once a minute) */

/* Said in the log: a stage that has had work waiting and no worker for 30 s. */
static void s_log_stalls(broker_t *self)
{
    stall_pipeline_t p;
    broker_pipeline(self, &p);
    int64_t now = clock_mono_ms();
    for (int s = PROTO_STAGE_FETCH; s < PROTO_STAGES; s++) {
        if (p.workers[s] > 0 || p.no_worker_ms[s] < S_STALL_LOG_MS || zlistx_size(self->queue[s]) == 0
            || now - self->stall_logged[s] < 2 * S_STALL_LOG_MS)
            continue;
        char text[256];
        if (broker_stage_stall(self, &p, (proto_stage_t) s, text, sizeof text) != STALL_NO_WORKER)
            continue;
        self->stall_logged[s] = now;
        log_warn("work waits for a stage that has no worker", "stage=%s no_worker_s=%" PRId64 " queued=%zu detail=%s",
                 proto_stage_name((proto_stage_t) s), p.no_worker_ms[s] / 1000, zlistx_size(self->queue[s]),
                 log_str(text));
    }
}

/* Heartbeats out, silent workers and overdue tasks back to the queue. */
void broker_sweep(broker_t *self)
{
    int64_t now = clock_mono_ms();
    if (now >= self->next_heartbeat) {
        for (peer_t *p = zhashx_first(self->peers); p; p = zhashx_next(self->peers))
            if (now - p->last_send >= PROTO_HEARTBEAT_MS)
                broker_send_cmd(self, p, PROTO_HEARTBEAT);
        self->next_heartbeat = now + PROTO_HEARTBEAT_MS / 2;
    }
    if (now < self->next_sweep)
        return;
    self->next_sweep = now + 250;
    if (now >= self->next_retry) {
        self->next_retry = now + 1000;
        broker_retry(self);
        s_log_stalls(self);
    }
    zlistx_t *dead = zlistx_new();
    for (peer_t *p = zhashx_first(self->peers); p; p = zhashx_next(self->peers))
        if (p->expiry < now)
            zlistx_add_end(dead, p);
    for (peer_t *p = zlistx_first(dead); p; p = zlistx_next(dead))
        broker_peer_remove(self, p, "silent past its liveness");
    zlistx_purge(dead);
    for (task_t *t = zhashx_first(self->tasks); t; t = zhashx_next(self->tasks))
        if (t->peer && t->deadline < now)
            zlistx_add_end(dead, t);
    for (task_t *t = zlistx_first(dead); t; t = zlistx_next(dead)) {
        log_warn("task overdue, dispatching it again", "stage=%s window=%" PRId64 " page=%d worker=%s",
                 proto_stage_name(t->stage), t->window_id, t->page, log_str(t->peer->name));
        broker_requeue(self, t, 0);
    }
    zlistx_destroy(&dead);
}

/* Per stage: the worker processes (distinct names; an s3-uploader connects once per
   thread of a stage) and the tasks in flight at them. */
void broker_count_workers(broker_t *self, int workers[PROTO_STAGES], int inflight[PROTO_STAGES])
{
    memset(workers, 0, PROTO_STAGES * sizeof *workers);
    memset(inflight, 0, PROTO_STAGES * sizeof *inflight);
    zhashx_t *seen = zhashx_new();
    for (peer_t *p = zhashx_first(self->peers); p; p = zhashx_next(self->peers)) {
        inflight[p->stage] += p->inflight;
        char key[320];
        snprintf(key, sizeof key, "%d %s", (int) p->stage, p->name ? p->name : "?");
        if (zhashx_insert(seen, key, p) == 0)
            workers[p->stage]++;
    }
    zhashx_destroy(&seen);
}
