/*  routing.c - vinted-bench-routing: a stand-in worker for the broker benchmark
    (tests/bench/routing.py). It speaks the real protocol (common/worker.c,
    proto/) with small payloads and does no work, so that the broker's routing
    is what gets measured:
        fetch      FETCH -> takes a token, answers a one-page PAGE (more = false,
                   N items, ids rising) with a short body
        store      LOAD  -> the PAGE the key names (window from the key, page 1..)
                   PAGE  -> STORED
        transform  PAGE  -> BATCH of N minimal items
        sink       BATCH -> COMMIT
    Runs until SIGTERM, then prints how many tasks it answered.

        vinted-bench-routing STAGE [--broker ENDPOINT] [--capacity N] [--items N]
*/
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/raw.h"
#include "common/worker.h"
#include "proto/proto.h"

static const char s_body[] = "{\"items\":[{\"id\":1}],\"pagination\":{\"total_pages\":1}}";

static proto_msg_t *s_result(const proto_msg_t *task, proto_body_t body)
{
    proto_msg_t *res = proto_msg_new(PROTO_RESULT);
    res->task_id = task->task_id;
    res->body = body;
    return res;
}

static void s_page(proto_msg_t *res, int64_t window_id, int32_t catalog_id, int32_t page, int32_t items,
                   int64_t max_id)
{
    proto_page_t *p = &res->u.page;
    p->window_id = window_id;
    p->catalog_id = catalog_id;
    p->page = page;
    p->fetched_at_ms = clock_wall_ms();
    p->http_status = 200;
    p->site = proto_msg_strdup(res, "pt");
    p->api = proto_msg_strdup(res, "v2");
    p->url = proto_msg_strdup(res, "https://www.vinted.pt/api/v2/catalog/items");
    p->n_items = items;
    p->max_item_id = max_id;
    p->more = false;
    p->total_pages = 1;
    p->body_len = sizeof s_body - 1;
    p->body = proto_msg_alloc(res, p->body_len);
    memcpy(p->body, s_body, p->body_len);
}

/* The answer to one task at this stage, or NULL to refuse it. */
static proto_msg_t *s_answer(worker_t *w, proto_stage_t stage, const proto_msg_t *task, int items,
                             int64_t *next_id)
{
    if (task->cmd != PROTO_TASK)
        return NULL;
    proto_msg_t *res = NULL;
    if (stage == PROTO_STAGE_FETCH && task->body == PROTO_BODY_FETCH) {
        if (worker_token(w) < 0)
            return NULL;
        res = s_result(task, PROTO_BODY_PAGE);
        *next_id += items;
        s_page(res, task->u.fetch.window_id, task->u.fetch.catalog_id, task->u.fetch.page, items, *next_id);
        res->u.page.attempt = task->u.fetch.attempt;
        res->u.page.kind = task->u.fetch.kind;
        res->u.page.target_id = task->u.fetch.target_id;
    }
    else if (stage == PROTO_STAGE_STORE && task->body == PROTO_BODY_LOAD) {
        int64_t fetched_ms = 0, window_id = 0;
        const char *key = task->u.load.key ? task->u.load.key : "";
        const char *file = strrchr(key, '/');
        if (raw_key_parse(key, &fetched_ms, &window_id) != 0 || !file)
            return NULL;
        res = s_result(task, PROTO_BODY_PAGE);
        s_page(res, window_id, 1, atoi(file + 1), items, *next_id += items);
        res->u.page.fetched_at_ms = fetched_ms;
    }
    else if (stage == PROTO_STAGE_STORE && task->body == PROTO_BODY_PAGE) {
        res = s_result(task, PROTO_BODY_STORED);
        res->u.stored.window_id = task->u.page.window_id;
        res->u.stored.page = task->u.page.page;
        res->u.stored.attempt = task->u.page.attempt;
        res->u.stored.key = proto_msg_strdup(res, "raw/bench");
        res->u.stored.bytes = (int64_t)task->u.page.body_len;
    }
    else if (stage == PROTO_STAGE_TRANSFORM && task->body == PROTO_BODY_PAGE) {
        const proto_page_t *p = &task->u.page;
        res = s_result(task, PROTO_BODY_BATCH);
        proto_batch_of_page(res, p);
        proto_batch_t *b = &res->u.batch;
        b->n_items = (size_t)items;
        b->items = proto_msg_alloc(res, (size_t)items * sizeof *b->items);
        for (int i = 0; i < items; i++) {
            proto_item_t *it = &b->items[i];
            it->item_id = p->max_item_id - i;
            it->catalog_id = p->catalog_id;
            it->title = proto_msg_strdup(res, "t");
            it->price = 1000;
            it->currency = proto_msg_strdup(res, "EUR");
            it->service_fee = it->total_price = PROTO_NULL;
            it->user_id = it->favourite_count = it->view_count = it->created_at = PROTO_NULL;
            it->first_seen_at_ms = p->fetched_at_ms;
            it->pos = i;
        }
    }
    else if (stage == PROTO_STAGE_SINK && task->body == PROTO_BODY_BATCH) {
        res = s_result(task, PROTO_BODY_COMMIT);
        res->u.commit.window_id = task->u.batch.window_id;
        res->u.commit.page = task->u.batch.page;
        res->u.commit.attempt = task->u.batch.attempt;
        res->u.commit.rows = (int32_t)task->u.batch.n_items;
    }
    return res;
}

int main(int argc, char **argv)
{
    const char *endpoint = getenv("VINTED_BROKER") ? getenv("VINTED_BROKER") : "tcp://127.0.0.1:5555";
    int capacity = 64, items = 1;
    proto_stage_t stage = PROTO_STAGE_NONE;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0) {
            printf(
                "Usage: vinted-bench-routing fetch|store|transform|sink [--broker ENDPOINT] [--capacity N] "
                "[--items N]\nA stand-in worker that answers every task at once with a small payload, for "
                "the "
                "broker benchmark.\n");
            return 0;
        }
        if (strcmp(argv[i], "--broker") == 0 && i + 1 < argc)
            endpoint = argv[++i];
        else if (strcmp(argv[i], "--capacity") == 0 && i + 1 < argc)
            capacity = atoi(argv[++i]);
        else if (strcmp(argv[i], "--items") == 0 && i + 1 < argc)
            items = atoi(argv[++i]);
        else if (stage == PROTO_STAGE_NONE && (stage = proto_stage_from_name(argv[i])) != PROTO_STAGE_NONE)
            ;
        else {
            fprintf(stderr, "vinted-bench-routing: unknown argument '%s' (try --help)\n", argv[i]);
            return 2;
        }
    }
    if (stage == PROTO_STAGE_NONE || capacity < 1 || capacity > 1000 || items < 0 || items > 1000) {
        fprintf(stderr,
                "vinted-bench-routing: need a stage (fetch, store, transform, sink), --capacity 1..1000 "
                "and --items 0..1000\n");
        return 2;
    }
    log_init("bench-routing");
    worker_t *w = worker_new(endpoint, stage, capacity, "bench-routing");
    if (!w)
        return 1;
    int64_t next_id = clock_wall_ms() * 100; /* ids rise across runs too */
    uint64_t answered = 0, refused = 0;
    while (!worker_interrupted(w)) {
        proto_msg_t *task = worker_next(w, 500);
        if (!task)
            continue;
        proto_msg_t *res = s_answer(w, stage, task, items, &next_id);
        if (res) {
            worker_send(w, res);
            answered++;
        }
        else
            refused++;
        proto_msg_destroy(&res);
        proto_msg_destroy(&task);
    }
    printf("stage=%s answered=%" PRIu64 " unanswered=%" PRIu64 "\n", proto_stage_name(stage), answered,
           refused);
    worker_destroy(&w);
    return 0;
}
