/*  proto_test_samples.c - the proto self-test's sample messages: one of every
    command and body kind, full or with its optional fields absent, and the
    field-by-field comparison of a message with its decoded copy.
*/
#include "proto_internal.h"
#include "proto_test.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static bool s_str_eq(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

/* Item i of a test batch; full: every optional field set, else all absent. */
void proto_test_item(proto_msg_t *msg, proto_item_t *it, size_t i, bool full)
{
    char buf[160];
    memset(it, 0, sizeof(*it));
    it->item_id = 7000000000LL + (int64_t)i;
    it->catalog_id = 221;
    it->first_seen_at_ms = 1795000000123LL;
    it->pos = (int32_t)i;
    it->promoted = full && i % 2;
    if (!full) {
        it->price = it->service_fee = it->total_price = PROTO_NULL;
        it->user_id = it->favourite_count = it->view_count = it->created_at = PROTO_NULL;
        return;
    }
    snprintf(buf, sizeof(buf), "T-shirt \xc3\xa0 riscas n.\xc2\xba %zu, quase nova", i);
    it->title = proto_msg_strdup(msg, buf);
    it->price = 2050 + (int64_t)i;
    it->currency = "EUR"; /* builders may point at memory that outlives the encode */
    it->service_fee = 173;
    it->total_price = 2223 + (int64_t)i;
    it->brand = proto_msg_strdup(msg, "Zara");
    it->size_title = proto_msg_strdup(msg, "M / 38 / 10");
    it->size_kind = "letter";
    it->size_value = "M";
    it->condition = proto_msg_strdup(msg, "Muito bom");
    it->user_id = -(int64_t)i - 1; /* negative, to cover negative integers */
    snprintf(buf, sizeof(buf), "seller_%zu", i);
    it->user_login = proto_msg_strdup(msg, buf);
    snprintf(buf, sizeof(buf), "https://www.vinted.pt/items/%" PRId64 "-t-shirt-as-riscas", it->item_id);
    it->url = proto_msg_strdup(msg, buf);
    snprintf(buf, sizeof(buf),
             "https://images1.vinted.net/t/01_00abc_%zu/f800/1795000000.webp?s=0123456789abcdef", i);
    it->photo_url = proto_msg_strdup(msg, buf);
    it->favourite_count = (int64_t)i * 3;
    it->view_count = INT64_MAX;
    it->created_at = 1795000000;
}

proto_msg_t *proto_test_batch(proto_cmd_t cmd, size_t n_items, size_t n_quarantine, bool full)
{
    proto_msg_t *msg = proto_msg_new_body(cmd, 42, PROTO_BODY_BATCH);
    assert(msg);
    proto_batch_t *bt = &msg->u.batch;
    *bt = (proto_batch_t){.window_id = 12, .catalog_id = 221, .page = 3, .attempt = 1,
                          .fetched_at_ms = 1795000000123LL, .target_id = full ? 55 : 0};
    bt->site = full ? proto_msg_strdup(msg, "co.uk") : NULL;
    bt->n_items = n_items;
    bt->items = n_items ? proto_msg_alloc(msg, n_items * sizeof(proto_item_t)) : NULL;
    for (size_t i = 0; i < n_items; i++)
        proto_test_item(msg, &bt->items[i], i, full);
    bt->n_quarantine = n_quarantine;
    bt->quarantine = n_quarantine ? proto_msg_alloc(msg, n_quarantine * sizeof(proto_quarantine_t)) : NULL;
    for (size_t i = 0; i < n_quarantine; i++) {
        proto_quarantine_t *q = &bt->quarantine[i];
        q->pos = i == 0 ? -1 : (int32_t)i;
        q->rule = proto_msg_strdup(msg, i == 0 ? "malformed_page" : "price_invalid");
        if (full) {
            q->detail = proto_msg_strdup(msg, "price \"abc\" is not a decimal");
            q->raw = proto_msg_alloc(msg, 5);
            memcpy(q->raw, "{\"a\"\0", 5); /* binary: a NUL inside */
            q->raw_len = 5;
        }
    }
    if (n_items > 0) {
        bt->n_photos = 2;
        bt->photos = proto_msg_alloc(msg, 2 * sizeof(proto_photo_t));
        for (size_t i = 0; i < 2; i++)
            bt->photos[i] = (proto_photo_t){.item_id = 7000000001LL, .photo_id = 900 + (int64_t)i,
                                            .url = proto_msg_strdup(msg, "https://images1.vinted.net/t/a/f800/1.webp?s=x"),
                                            .is_main = i == 0, .position = (int32_t)i};
        bt->n_snapshots = 2;
        bt->snapshots = proto_msg_alloc(msg, 2 * sizeof(proto_snapshot_t));
        bt->snapshots[0] = (proto_snapshot_t){.item_id = 7000000001LL, .user_id = 55, .price = 1999,
                                              .currency = proto_msg_strdup(msg, "EUR"), .favourite_count = 3,
                                              .view_count = 40, .is_reserved = true, .is_closed = full,
                                              .closing_action = full ? proto_msg_strdup(msg, "sold") : NULL};
        bt->snapshots[1] = (proto_snapshot_t){.item_id = 7000000002LL, .user_id = PROTO_NULL, .price = PROTO_NULL,
                                              .favourite_count = PROTO_NULL, .view_count = PROTO_NULL,
                                              .removed = true};
        bt->n_users = 1;
        bt->users = proto_msg_alloc(msg, sizeof(proto_user_snapshot_t));
        bt->users[0] = (proto_user_snapshot_t){.user_id = 55, .login = proto_msg_strdup(msg, "ana"),
                                               .item_count = 12, .feedback_count = PROTO_NULL,
                                               .feedback_reputation = full ? 973 : PROTO_NULL,
                                               .positive_feedback_count = PROTO_NULL,
                                               .neutral_feedback_count = PROTO_NULL,
                                               .negative_feedback_count = PROTO_NULL, .followers_count = 4,
                                               .city = full ? proto_msg_strdup(msg, "Lisboa") : NULL};
        bt->n_catalogs = 2;
        bt->catalogs = proto_msg_alloc(msg, 2 * sizeof(proto_catalog_t));
        bt->catalogs[0] = (proto_catalog_t){.catalog_id = 1904, .title = proto_msg_strdup(msg, "Mulher"),
                                            .code = full ? proto_msg_strdup(msg, "WOMENS") : NULL};
        bt->catalogs[1] = (proto_catalog_t){.catalog_id = 4, .parent_id = 1904, .depth = 1,
                                            .title = proto_msg_strdup(msg, "Roupa"),
                                            .url = full ? proto_msg_strdup(msg, "/women/clothes") : NULL};
    }
    return msg;
}

/* One sample of every command and body kind, full or with optional fields absent. */
size_t proto_test_samples(proto_msg_t **out, bool full)
{
    size_t n = 0;
    proto_msg_t *m;
    for (int cmd = PROTO_HEARTBEAT; cmd <= PROTO_DISCONNECT; cmd++)
        if (cmd != PROTO_TASK && cmd != PROTO_RESULT && cmd != PROTO_NACK)
            out[n++] = proto_msg_new((proto_cmd_t)cmd);

    m = out[n++] = proto_msg_new(PROTO_READY);
    m->u.ready.stage = full ? PROTO_STAGE_SINK : PROTO_STAGE_FETCH;
    m->u.ready.name = proto_msg_strdup(m, "worker-7:1234");
    m->u.ready.capacity = full ? INT32_MAX : 1;

    m = out[n++] = proto_msg_new(PROTO_TASK);
    m->task_id = full ? UINT64_MAX : 0;
    m->body = PROTO_BODY_FETCH;
    m->u.fetch = (proto_fetch_t){.window_id = 12,
                                 .catalog_id = 221,
                                 .page = 1,
                                 .per_page = 96,
                                 .hwm = full ? 7000000000LL : 0,
                                 .attempt = full ? 2 : 0,
                                 .kind = full ? PROTO_FETCH_USER_ITEMS : PROTO_FETCH_CATALOG,
                                 .target_id = full ? 55 : 0,
                                 .api_page = 1,
                                 .price_from = full ? 1250 : 0,
                                 .price_to = full ? INT64_MAX : 0,
                                 .pin_time = full ? 1760373805 : 0};
    m->u.fetch.site = full ? proto_msg_strdup(m, "fr") : NULL;

    for (int cmd = PROTO_TASK; cmd <= PROTO_RESULT; cmd++) {
        m = out[n++] = proto_msg_new((proto_cmd_t)cmd);
        m->task_id = 99;
        m->body = PROTO_BODY_PAGE;
        proto_page_t *pg = &m->u.page;
        pg->window_id = 12;
        pg->catalog_id = INT32_MIN;
        pg->page = 2;
        pg->attempt = 0;
        pg->fetched_at_ms = 1795000000123LL;
        pg->http_status = 200;
        pg->site = proto_msg_strdup(m, "co.uk");
        pg->api = proto_msg_strdup(m, "v2");
        pg->n_items = 96;
        pg->max_item_id = 7000000095LL;
        pg->more = full;
        pg->total_pages = 10;
        pg->pin_time = full ? 1760373805 : 0;
        if (full) {
            pg->url = proto_msg_strdup(m, "https://www.vinted.co.uk/api/v2/catalog/items?page=2");
            pg->error = proto_msg_strdup(m, "malformed json");
            pg->body_len = 300;
            pg->body = proto_msg_alloc(m, pg->body_len);
            for (size_t i = 0; i < pg->body_len; i++)
                pg->body[i] = (uint8_t)(i * 7);
        }
    }

    out[n++] = proto_test_batch(PROTO_TASK, full ? 3 : 2, full ? 2 : 0, full);
    out[n++] = proto_test_batch(PROTO_RESULT, full ? 3 : 0, full ? 1 : 0, full);

    m = out[n++] = proto_msg_new(PROTO_RESULT);
    m->task_id = 5;
    m->body = PROTO_BODY_COMMIT;
    m->u.commit = (proto_commit_t){
        .window_id = 12, .page = 3, .attempt = 1, .rows = full ? 96 : 0, .quarantined = full ? 4 : 0};

    m = out[n++] = proto_msg_new(PROTO_TASK);
    m->task_id = 7;
    m->body = PROTO_BODY_LOAD;
    m->u.load.key = proto_msg_strdup(m, full ? "raw/catalog/2026/11/25/17/12/0003-01.json.gz" : "k");

    m = out[n++] = proto_msg_new(PROTO_RESULT);
    m->task_id = 8;
    m->body = PROTO_BODY_STORED;
    m->u.stored.key = proto_msg_strdup(m, "raw/catalog/2026/11/25/17/12/0003-01.json.gz");
    if (full)
        m->u.stored = (proto_stored_t){.window_id = 12, .page = 3, .attempt = 1, .key = m->u.stored.key, .bytes = 7021};

    m = out[n++] = proto_msg_new(PROTO_TASK);
    m->task_id = 11;
    m->body = PROTO_BODY_IMAGE;
    m->u.image = (proto_image_t){.window_id = 3, .item_id = 7000000001LL, .photo_id = 901,
                                 .url = proto_msg_strdup(m, "https://images1.vinted.net/t/a/f800/1.webp?s=x")};

    m = out[n++] = proto_msg_new(full ? PROTO_RESULT : PROTO_TASK);
    m->task_id = 12;
    m->body = PROTO_BODY_PHOTO;
    m->u.photo = (proto_photo_stored_t){.window_id = 3, .item_id = 7000000001LL, .photo_id = 901,
                                        .key = proto_msg_strdup(m, "images/7000000001/901.webp"), .bytes = 4096,
                                        .content_type = full ? proto_msg_strdup(m, "image/webp") : NULL,
                                        .sha256 = full ? proto_msg_strdup(m, "ab12") : NULL, .skipped = full};

    m = out[n++] = proto_msg_new(PROTO_NACK);
    m->task_id = 6;
    m->u.nack.reason = proto_msg_strdup(m, "http 429");
    if (full) {
        m->u.nack.retry_after_ms = 30000;
        m->u.nack.permanent = true;
    }

    m = out[n++] = proto_msg_new(PROTO_CTL_REQ);
    m->u.ctl_req.verb = proto_msg_strdup(m, "window");
    if (full) {
        const char *kv[][2] = {{"catalog", "221"},
                               {"from", "2026-11-25T12:00:00Z"},
                               {"to", "2026-11-25T13:00:00Z"},
                               {"wait", "1"},
                               {"note", ""}};
        for (size_t i = 0; i < 5; i++) {
            m->u.ctl_req.keys[i] = proto_msg_strdup(m, kv[i][0]);
            m->u.ctl_req.values[i] = proto_msg_strdup(m, kv[i][1]);
        }
        m->u.ctl_req.n_args = 5;
    }

    m = out[n++] = proto_msg_new(PROTO_CTL_REP);
    m->u.ctl_rep.status = full ? 3 : 0;
    if (full) {
        m->u.ctl_rep.message = proto_msg_strdup(m, "window 12 failed");
        m->u.ctl_rep.json = proto_msg_strdup(m, "{\"window\":12,\"state\":\"failed\"}");
    }

    m = out[n++] = proto_msg_new(PROTO_REPORT);
    m->u.report.event = proto_msg_strdup(m, "blocked");
    if (full) {
        m->u.report.detail = proto_msg_strdup(m, "403 from www.vinted.pt (cloudflare)");
        m->u.report.backoff_ms = 3600000;
        m->u.report.identity = 3;
    }

    m = out[n++] = proto_msg_new(PROTO_TOKEN);
    m->u.token.identity = full ? 63 : 0;
    for (size_t i = 0; i < n; i++)
        assert(out[i]);
    return n;
}

static void s_test_item_eq(const proto_item_t *a, const proto_item_t *b)
{
    assert(a->item_id == b->item_id && a->catalog_id == b->catalog_id);
    assert(s_str_eq(a->title, b->title) && a->price == b->price && s_str_eq(a->currency, b->currency));
    assert(a->service_fee == b->service_fee && a->total_price == b->total_price);
    assert(s_str_eq(a->brand, b->brand) && s_str_eq(a->size_title, b->size_title));
    assert(s_str_eq(a->size_kind, b->size_kind) && s_str_eq(a->size_value, b->size_value));
    assert(s_str_eq(a->condition, b->condition) && a->user_id == b->user_id);
    assert(s_str_eq(a->user_login, b->user_login) && s_str_eq(a->url, b->url));
    assert(s_str_eq(a->photo_url, b->photo_url) && a->favourite_count == b->favourite_count);
    assert(a->view_count == b->view_count && a->created_at == b->created_at);
    assert(a->first_seen_at_ms == b->first_seen_at_ms && a->pos == b->pos && a->promoted == b->promoted);
}

/* Field-by-field checks on top of the byte comparison. */
void proto_test_equal(const proto_msg_t *a, const proto_msg_t *b)
{
    switch (a->cmd) {
    case PROTO_READY:
        assert(a->u.ready.stage == b->u.ready.stage && a->u.ready.capacity == b->u.ready.capacity);
        assert(s_str_eq(a->u.ready.name, b->u.ready.name));
        break;
    case PROTO_NACK:
        assert(s_str_eq(a->u.nack.reason, b->u.nack.reason));
        assert(a->u.nack.retry_after_ms == b->u.nack.retry_after_ms);
        assert(a->u.nack.permanent == b->u.nack.permanent);
        break;
    case PROTO_REPORT:
        assert(s_str_eq(a->u.report.event, b->u.report.event));
        assert(s_str_eq(a->u.report.detail, b->u.report.detail));
        assert(a->u.report.backoff_ms == b->u.report.backoff_ms);
        assert(a->u.report.identity == b->u.report.identity);
        break;
    case PROTO_TOKEN:
        assert(a->u.token.identity == b->u.token.identity);
        break;
    case PROTO_CTL_REQ:
        assert(s_str_eq(a->u.ctl_req.verb, b->u.ctl_req.verb));
        assert(a->u.ctl_req.n_args == b->u.ctl_req.n_args);
        for (size_t i = 0; i < a->u.ctl_req.n_args; i++)
            assert(s_str_eq(a->u.ctl_req.keys[i], b->u.ctl_req.keys[i]) &&
                   s_str_eq(a->u.ctl_req.values[i], b->u.ctl_req.values[i]));
        break;
    case PROTO_CTL_REP:
        assert(a->u.ctl_rep.status == b->u.ctl_rep.status);
        assert(s_str_eq(a->u.ctl_rep.message, b->u.ctl_rep.message));
        assert(s_str_eq(a->u.ctl_rep.json, b->u.ctl_rep.json));
        break;
    case PROTO_TASK:
    case PROTO_RESULT:
        if (a->body == PROTO_BODY_FETCH) {
            proto_fetch_t x = a->u.fetch, y = b->u.fetch;
            assert(s_str_eq(x.site, y.site));
            x.site = y.site = NULL;
            assert(memcmp(&x, &y, sizeof x) == 0);
        }
        else if (a->body == PROTO_BODY_COMMIT)
            assert(memcmp(&a->u.commit, &b->u.commit, sizeof(a->u.commit)) == 0);
        else if (a->body == PROTO_BODY_LOAD)
            assert(s_str_eq(a->u.load.key, b->u.load.key));
        else if (a->body == PROTO_BODY_IMAGE) {
            const proto_image_t *p = &a->u.image, *q = &b->u.image;
            assert(p->window_id == q->window_id && p->item_id == q->item_id && p->photo_id == q->photo_id);
            assert(s_str_eq(p->url, q->url));
        }
        else if (a->body == PROTO_BODY_PHOTO) {
            const proto_photo_stored_t *p = &a->u.photo, *q = &b->u.photo;
            assert(p->window_id == q->window_id && p->item_id == q->item_id && p->photo_id == q->photo_id);
            assert(s_str_eq(p->key, q->key) && p->bytes == q->bytes && p->skipped == q->skipped);
            assert(s_str_eq(p->content_type, q->content_type) && s_str_eq(p->sha256, q->sha256));
        }
        else if (a->body == PROTO_BODY_STORED) {
            const proto_stored_t *p = &a->u.stored, *q = &b->u.stored;
            assert(p->window_id == q->window_id && p->page == q->page && p->attempt == q->attempt);
            assert(s_str_eq(p->key, q->key) && p->bytes == q->bytes);
        }
        else if (a->body == PROTO_BODY_PAGE) {
            const proto_page_t *p = &a->u.page, *q = &b->u.page;
            assert(p->window_id == q->window_id && p->catalog_id == q->catalog_id);
            assert(p->page == q->page && p->attempt == q->attempt);
            assert(p->fetched_at_ms == q->fetched_at_ms && p->http_status == q->http_status);
            assert(s_str_eq(p->site, q->site) && s_str_eq(p->api, q->api));
            assert(s_str_eq(p->url, q->url) && s_str_eq(p->error, q->error));
            assert(p->n_items == q->n_items && p->max_item_id == q->max_item_id);
            assert(p->more == q->more && p->total_pages == q->total_pages);
            assert(p->body_len == q->body_len && (p->body == NULL) == (q->body == NULL));
            assert(p->body_len == 0 || memcmp(p->body, q->body, p->body_len) == 0);
            assert(p->kind == q->kind && p->target_id == q->target_id && p->pin_time == q->pin_time);
        }
        else {
            const proto_batch_t *p = &a->u.batch, *q = &b->u.batch;
            assert(p->window_id == q->window_id && p->catalog_id == q->catalog_id);
            assert(p->page == q->page && p->attempt == q->attempt);
            assert(p->fetched_at_ms == q->fetched_at_ms && p->target_id == q->target_id);
            assert(s_str_eq(p->site, q->site));
            assert(p->n_items == q->n_items && p->n_quarantine == q->n_quarantine);
            for (size_t i = 0; i < p->n_items; i++) {
                s_test_item_eq(&p->items[i], &q->items[i]);
                assert(proto_item_null_mask(&p->items[i]) == proto_item_null_mask(&q->items[i]));
            }
            assert(p->n_photos == q->n_photos && p->n_snapshots == q->n_snapshots && p->n_users == q->n_users);
            for (size_t i = 0; i < p->n_photos; i++) {
                const proto_photo_t *x = &p->photos[i], *y = &q->photos[i];
                assert(x->item_id == y->item_id && x->photo_id == y->photo_id && s_str_eq(x->url, y->url));
                assert(x->is_main == y->is_main && x->position == y->position);
            }
            for (size_t i = 0; i < p->n_snapshots; i++) {
                const proto_snapshot_t *x = &p->snapshots[i], *y = &q->snapshots[i];
                assert(x->item_id == y->item_id && x->user_id == y->user_id && x->price == y->price);
                assert(s_str_eq(x->currency, y->currency) && x->favourite_count == y->favourite_count);
                assert(x->view_count == y->view_count && x->is_reserved == y->is_reserved);
                assert(x->is_hidden == y->is_hidden && x->is_closed == y->is_closed && x->removed == y->removed);
                assert(s_str_eq(x->closing_action, y->closing_action));
            }
            for (size_t i = 0; i < p->n_users; i++) {
                const proto_user_snapshot_t *x = &p->users[i], *y = &q->users[i];
                assert(x->user_id == y->user_id && s_str_eq(x->login, y->login) && x->item_count == y->item_count);
                assert(x->feedback_count == y->feedback_count && x->feedback_reputation == y->feedback_reputation);
                assert(x->positive_feedback_count == y->positive_feedback_count);
                assert(x->neutral_feedback_count == y->neutral_feedback_count);
                assert(x->negative_feedback_count == y->negative_feedback_count);
                assert(x->followers_count == y->followers_count && s_str_eq(x->city, y->city));
                assert(s_str_eq(x->country, y->country));
            }
            assert(p->n_catalogs == q->n_catalogs);
            for (size_t i = 0; i < p->n_catalogs; i++) {
                const proto_catalog_t *x = &p->catalogs[i], *y = &q->catalogs[i];
                assert(x->catalog_id == y->catalog_id && x->parent_id == y->parent_id && x->depth == y->depth);
                assert(s_str_eq(x->title, y->title) && s_str_eq(x->code, y->code) && s_str_eq(x->url, y->url));
            }
            for (size_t i = 0; i < p->n_quarantine; i++) {
                const proto_quarantine_t *x = &p->quarantine[i], *y = &q->quarantine[i];
                assert(x->pos == y->pos && s_str_eq(x->rule, y->rule) && s_str_eq(x->detail, y->detail));
                assert(x->raw_len == y->raw_len && (x->raw == NULL) == (y->raw == NULL));
                assert(x->raw_len == 0 || memcmp(x->raw, y->raw, x->raw_len) == 0);
            }
        }
        break;
    default:
        break;
    }
}
