/*  rows.c - a sink task's rows, checked and COPY-encoded per staging table (see rows.h). */
#include "workers/pg-sink/rows.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* The batch's position, for refusal reasons. */
#define S_WHERE "window %" PRId64 " page %d"

/* Encode the rows of one staging table (ROWS_ITEMS ...) of a batch into c. -1 with a
   reason if they cannot be stored. */
static int s_encode_batch(const proto_batch_t *b, int table, copy_t *c, char *err, size_t errlen)
{
    for (size_t i = 0; table == ROWS_ITEMS && i < b->n_items; i++) {
        const proto_item_t *it = &b->items[i];
        int64_t seen = it->first_seen_at_ms > 0 ? it->first_seen_at_ms : b->fetched_at_ms;
        if (it->item_id <= 0) {
            snprintf(err, errlen, "window %" PRId64 " page %d pos %d: item without a valid id",
                     b->window_id, b->page, it->pos);
            return -1;
        }
        if (seen <= 0) {
            snprintf(err, errlen, "window %" PRId64 " page %d item %" PRId64 ": no fetch time",
                     b->window_id, b->page, it->item_id);
            return -1;
        }
        copy_int(c, b->window_id);
        copy_int(c, b->page);
        copy_int(c, it->pos);
        copy_int(c, it->item_id);
        int32_t catalog = it->catalog_id > 0 ? it->catalog_id : b->catalog_id;
        copy_int(c, catalog > 0 ? catalog : PROTO_NULL);
        copy_text(c, it->title);
        copy_money(c, it->price);
        copy_text(c, it->currency);
        copy_money(c, it->service_fee);
        copy_money(c, it->total_price);
        copy_text(c, it->brand);
        copy_text(c, it->size_title);
        copy_text(c, it->size_kind);
        copy_text(c, it->size_value);
        copy_text(c, it->condition);
        copy_int(c, it->user_id);
        copy_text(c, it->user_login);
        copy_text(c, it->url);
        copy_text(c, it->photo_url);
        copy_int(c, it->favourite_count);
        copy_int(c, it->view_count);
        copy_bool(c, it->promoted);
        if (copy_time_s(c, it->created_at) != 0) {
            snprintf(err, errlen,
                     "window %" PRId64 " page %d item %" PRId64 ": created_at %" PRId64
                     " out of range",
                     b->window_id, b->page, it->item_id, it->created_at);
            return -1;
        }
        if (copy_time_ms(c, seen) != 0) {
            snprintf(err, errlen,
                     "window %" PRId64 " page %d item %" PRId64 ": fetch time %" PRId64
                     " out of range",
                     b->window_id, b->page, it->item_id, seen);
            return -1;
        }
        copy_int(c, (int64_t) proto_item_null_mask(it));
        copy_text(c, b->site);
        copy_row_end(c);
    }
    for (size_t i = 0; table == ROWS_QUARANTINE && i < b->n_quarantine; i++) {
        const proto_quarantine_t *q = &b->quarantine[i];
        if (!q->rule || !*q->rule) {
            snprintf(err, errlen, "window %" PRId64 " page %d pos %d: quarantine record without rule",
                     b->window_id, b->page, q->pos);
            return -1;
        }
        copy_int(c, b->window_id);
        copy_int(c, b->target_id == PROTO_NULL ? 0 : b->target_id);
        copy_int(c, b->page);
        copy_int(c, q->pos);
        copy_text(c, q->rule);
        copy_text(c, q->detail);
        copy_bytea(c, q->raw, q->raw_len);
        if (b->fetched_at_ms <= 0 || copy_time_ms(c, b->fetched_at_ms) != 0) {
            snprintf(err, errlen, "window %" PRId64 " page %d: fetch time %" PRId64 " invalid",
                     b->window_id, b->page, b->fetched_at_ms);
            return -1;
        }
        copy_row_end(c);
    }
    bool fetched = b->fetched_at_ms > 0 && b->fetched_at_ms != PROTO_NULL;
    bool rows = (table == ROWS_PHOTOS && b->n_photos) || (table == ROWS_SNAPSHOTS && b->n_snapshots) ||
                (table == ROWS_USERS && b->n_users) || (table == ROWS_CATALOGS && b->n_catalogs);
    if (rows && !fetched) {
        snprintf(err, errlen, S_WHERE ": fetch time %" PRId64 " invalid", b->window_id, b->page,
                 b->fetched_at_ms);
        return -1;
    }
    for (size_t i = 0; table == ROWS_PHOTOS && i < b->n_photos; i++) {
        const proto_photo_t *p = &b->photos[i];
        const char *why = p->item_id <= 0 || p->photo_id <= 0 ? "without a valid id"
                          : !p->url                           ? "without url"
                          : p->position < 0                   ? "with a negative position"
                                                              : NULL;
        if (why) {
            snprintf(err, errlen, S_WHERE ": photo %" PRId64 " of item %" PRId64 " %s",
                     b->window_id, b->page, p->photo_id, p->item_id, why);
            return -1;
        }
        copy_int(c, p->item_id);
        copy_int(c, p->photo_id);
        copy_text(c, p->url);
        copy_bool(c, p->is_main);
        copy_int(c, p->position);
        if (copy_time_ms(c, b->fetched_at_ms) != 0) {
            snprintf(err, errlen, S_WHERE ": fetch time %" PRId64 " out of range", b->window_id,
                     b->page, b->fetched_at_ms);
            return -1;
        }
        copy_row_end(c);
    }
    for (size_t i = 0; table == ROWS_SNAPSHOTS && i < b->n_snapshots; i++) {
        const proto_snapshot_t *s = &b->snapshots[i];
        if (s->item_id <= 0) {
            snprintf(err, errlen, S_WHERE ": snapshot %zu without a valid item id", b->window_id,
                     b->page, i);
            return -1;
        }
        copy_int(c, s->item_id);
        copy_int(c, b->window_id);
        if (copy_time_ms(c, b->fetched_at_ms) != 0) {
            snprintf(err, errlen, S_WHERE ": fetch time %" PRId64 " out of range", b->window_id,
                     b->page, b->fetched_at_ms);
            return -1;
        }
        copy_int(c, s->user_id);
        copy_money(c, s->price);
        copy_text(c, s->currency);
        copy_int(c, s->favourite_count);
        copy_int(c, s->view_count);
        copy_bool(c, s->is_reserved);
        copy_bool(c, s->is_hidden);
        copy_bool(c, s->is_closed);
        copy_text(c, s->closing_action);
        copy_bool(c, s->removed);
        copy_row_end(c);
    }
    for (size_t i = 0; table == ROWS_USERS && i < b->n_users; i++) {
        const proto_user_snapshot_t *u = &b->users[i];
        if (u->user_id <= 0) {
            snprintf(err, errlen, S_WHERE ": user snapshot %zu without a valid user id",
                     b->window_id, b->page, i);
            return -1;
        }
        /* a fraction in thousandths: 0.973 -> 973 */
        if (u->feedback_reputation != PROTO_NULL &&
            (u->feedback_reputation < 0 || u->feedback_reputation > 1000)) {
            snprintf(err, errlen,
                     S_WHERE ": user %" PRId64 ": feedback_reputation %" PRId64
                     " thousandths outside 0..1000",
                     b->window_id, b->page, u->user_id, u->feedback_reputation);
            return -1;
        }
        copy_int(c, u->user_id);
        copy_int(c, b->window_id);
        if (copy_time_ms(c, b->fetched_at_ms) != 0) {
            snprintf(err, errlen, S_WHERE ": fetch time %" PRId64 " out of range", b->window_id,
                     b->page, b->fetched_at_ms);
            return -1;
        }
        copy_text(c, u->login);
        copy_int(c, u->item_count);
        copy_int(c, u->feedback_count);
        copy_scaled(c, u->feedback_reputation, 3);
        copy_int(c, u->positive_feedback_count);
        copy_int(c, u->neutral_feedback_count);
        copy_int(c, u->negative_feedback_count);
        copy_int(c, u->followers_count);
        copy_text(c, u->city);
        copy_text(c, u->country);
        copy_row_end(c);
    }
    for (size_t i = 0; table == ROWS_CATALOGS && i < b->n_catalogs; i++) {
        const proto_catalog_t *k = &b->catalogs[i];
        const char *why = k->catalog_id <= 0             ? "without a valid id"
                          : !k->title || !*k->title      ? "without a title"
                          : k->parent_id < 0             ? "with a negative parent id"
                          : k->parent_id == k->catalog_id ? "that is its own parent"
                          : k->depth < 0                 ? "with a negative depth"
                                                         : NULL;
        if (why) {
            snprintf(err, errlen, S_WHERE ": catalog %zu (id %d) %s", b->window_id, b->page, i,
                     (int) k->catalog_id, why);
            return -1;
        }
        copy_int(c, k->catalog_id);
        copy_int(c, k->parent_id > 0 ? k->parent_id : PROTO_NULL);
        copy_text(c, k->title);
        copy_text(c, k->code);
        copy_text(c, k->url);
        copy_int(c, k->depth);
        if (copy_time_ms(c, b->fetched_at_ms) != 0) {
            snprintf(err, errlen, S_WHERE ": fetch time %" PRId64 " out of range", b->window_id,
                     b->page, b->fetched_at_ms);
            return -1;
        }
        copy_row_end(c);
    }
    return 0;
}

/* True if s is NULL or 64 lowercase hex digits. */
static bool s_sha256_ok(const char *s)
{
    if (!s)
        return true;
    size_t n = 0;
    for (; s[n]; n++)
        if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')))
            return false;
    return n == 64;
}

/* Encode one stored photo. -1 with a reason if it cannot be recorded. */
static int s_encode_photo(const proto_photo_stored_t *p, copy_t *c, char *err, size_t errlen)
{
    const char *why = p->item_id <= 0 || p->photo_id <= 0          ? "without a valid id"
                      : !p->key || !*p->key                        ? "without an object key"
                      : p->bytes < 0 && p->bytes != PROTO_NULL     ? "with a negative size"
                      : !s_sha256_ok(p->sha256) ? "with a sha256 that is not 64 hex digits"
                                                : NULL;
    if (why) {
        snprintf(err, errlen,
                 "window %" PRId64 ": stored photo %" PRId64 " of item %" PRId64 " %s",
                 p->window_id, p->photo_id, p->item_id, why);
        return -1;
    }
    copy_int(c, p->item_id);
    copy_int(c, p->photo_id);
    copy_text(c, p->key);
    copy_int(c, p->bytes);
    copy_text(c, p->content_type);
    copy_text(c, p->sha256);
    copy_row_end(c);
    return 0;
}

int rows_encode(const proto_msg_t *task, int table, copy_t *c, char *err, size_t errlen)
{
    int rc;
    if (task->cmd == PROTO_TASK && task->body == PROTO_BODY_BATCH)
        rc = s_encode_batch(&task->u.batch, table, c, err, errlen);
    else if (task->cmd == PROTO_TASK && task->body == PROTO_BODY_PHOTO)
        rc = table == ROWS_STORED ? s_encode_photo(&task->u.photo, c, err, errlen) : 0;
    else {
        snprintf(err, errlen, "the sink takes a batch or a stored photo, not %s with body %d",
                 proto_cmd_name(task->cmd), (int) task->body);
        return -1;
    }
    if (rc == 0 && !copy_ok(c)) {
        snprintf(err, errlen, "task %" PRIu64 ": out of memory encoding", task->task_id);
        rc = -1;
    }
    return rc;
}

/* -------------------------------------------------------------------------- */
/* Self-test. */

static void s_test_item(proto_item_t *it, int64_t id, int32_t pos)
{
    memset(it, 0, sizeof *it);
    it->item_id = id;
    it->price = 1999;
    it->service_fee = PROTO_NULL;
    it->total_price = PROTO_NULL;
    it->user_id = PROTO_NULL;
    it->favourite_count = PROTO_NULL;
    it->view_count = PROTO_NULL;
    it->created_at = PROTO_NULL;
    it->first_seen_at_ms = PROTO_NULL;
    it->pos = pos;
}

/* A TASK message wrapping a batch or a stored photo, on the stack (never destroyed). */
static proto_msg_t s_test_task(proto_body_t body, const void *payload)
{
    proto_msg_t m = { .cmd = PROTO_TASK, .task_id = 1, .body = body };
    if (body == PROTO_BODY_BATCH)
        m.u.batch = *(const proto_batch_t *) payload;
    else if (body == PROTO_BODY_PHOTO)
        m.u.photo = *(const proto_photo_stored_t *) payload;
    return m;
}

/* Encode one task from empty buffers, every staging table. */
static int s_test_encode(copy_t **buf, proto_body_t body, const void *payload, char *err,
                         size_t errlen)
{
    for (int i = 0; i < ROWS_NTABLES; i++)
        copy_reset(buf[i]);
    proto_msg_t m = s_test_task(body, payload);
    for (int t = 0; t < ROWS_NTABLES; t++)
        if (rows_encode(&m, t, buf[t], err, errlen) != 0)
            return -1;
    return 0;
}

void rows_test(bool verbose)
{
    if (verbose)
        printf(" * rows: ");
    copy_t *buf[ROWS_NTABLES];
    for (int i = 0; i < ROWS_NTABLES; i++) {
        buf[i] = copy_new();
        assert(buf[i]);
    }

    /* a batch with awkward text encodes to one row per item and quarantine record */
    proto_item_t items[2];
    s_test_item(&items[0], 7001, 0);
    items[0].title = "Vestido\t\"azul\"\n\\ 👗";
    items[0].currency = "EUR";
    items[0].user_id = 42;
    items[0].user_login = "ana";
    items[0].created_at = 1795628800;
    items[0].promoted = true;
    s_test_item(&items[1], 7002, 1);
    items[1].price = PROTO_NULL;
    items[1].first_seen_at_ms = 1795628806999LL;
    uint8_t raw[] = "{\"id\":null}";
    proto_quarantine_t quarantine[1] = { { 2, "id_missing", "no id", raw, sizeof raw - 1 } };
    proto_photo_t photos[2] = { { 7001, 91, "https://cdn/t/a/f800/1.webp?s=x\ty", true, 0 },
                                { 7001, 92, "https://cdn/t/b/f800/2.webp", false, 1 } };
    proto_batch_t batch = { .window_id = 12, .catalog_id = 221, .page = 3, .attempt = 0,
                            .fetched_at_ms = 1795628806123LL, .n_items = 2, .items = items,
                            .n_quarantine = 1, .quarantine = quarantine, .n_photos = 2,
                            .photos = photos };
    char err[256] = "";
    assert(s_test_encode(buf, PROTO_BODY_BATCH, &batch, err, sizeof err) == 0);
    assert(copy_rows(buf[ROWS_ITEMS]) == 2 && copy_rows(buf[ROWS_QUARANTINE]) == 1);
    const char *data = copy_data(buf[ROWS_ITEMS]);
    const char *first = "12\t3\t0\t7001\t221\tVestido\\t\"azul\"\\n\\\\ 👗\t19.99\tEUR\t\\N\t\\N\t";
    assert(strncmp(data, first, strlen(first)) == 0);
    assert(strstr(data, "\t42\tana\t"));
    assert(strstr(data, "\tt\t2026-11-25 17:46:40+00\t2026-11-25 17:46:46.123+00\t"));
    assert(strstr(data, "\n12\t3\t1\t7002\t221\t\\N\t\\N\t"));
    assert(strstr(data, "\tf\t\\N\t2026-11-25 17:46:46.999+00\t"));
    assert(strncmp(copy_data(buf[ROWS_QUARANTINE]),
                   "12\t0\t3\t2\tid_missing\tno id\t\\\\x7b226964223a6e756c6c7d\t"
                   "2026-11-25 17:46:46.123+00\n",
                   copy_size(buf[ROWS_QUARANTINE])) == 0);
    /* photos: seen at the batch's fetch time */
    const char *want_photos = "7001\t91\thttps://cdn/t/a/f800/1.webp?s=x\\ty\tt\t0\t"
                              "2026-11-25 17:46:46.123+00\n"
                              "7001\t92\thttps://cdn/t/b/f800/2.webp\tf\t1\t"
                              "2026-11-25 17:46:46.123+00\n";
    assert(copy_size(buf[ROWS_PHOTOS]) == strlen(want_photos));
    assert(memcmp(copy_data(buf[ROWS_PHOTOS]), want_photos, strlen(want_photos)) == 0);

    /* a tracking batch: snapshots (booleans, NULLs) and a seller (thousandths) */
    proto_snapshot_t snaps[2] = {
        { .item_id = 8001, .user_id = 42, .price = 1250, .currency = "EUR",
          .favourite_count = 3, .view_count = PROTO_NULL, .is_reserved = true,
          .is_closed = true, .closing_action = "sold" },
        { .item_id = 8002, .user_id = PROTO_NULL, .price = PROTO_NULL,
          .favourite_count = PROTO_NULL, .view_count = PROTO_NULL, .is_hidden = true,
          .removed = true },
    };
    proto_user_snapshot_t users[1] = { { .user_id = 42, .login = "ana", .item_count = 17,
                                         .feedback_count = 120, .feedback_reputation = 973,
                                         .positive_feedback_count = 115,
                                         .neutral_feedback_count = 3,
                                         .negative_feedback_count = PROTO_NULL,
                                         .followers_count = 0, .city = "Lisboa",
                                         .country = NULL } };
    proto_quarantine_t tq[1] = { { -1, "malformed_page", "not json", NULL, 0 } };
    proto_batch_t tracking = { .window_id = 77, .page = 1, .fetched_at_ms = 1795628806123LL,
                               .target_id = 4242, .n_snapshots = 2, .snapshots = snaps,
                               .n_users = 1, .users = users, .n_quarantine = 1, .quarantine = tq };
    assert(s_test_encode(buf, PROTO_BODY_BATCH, &tracking, err, sizeof err) == 0);
    assert(copy_size(buf[ROWS_ITEMS]) == 0 && copy_size(buf[ROWS_PHOTOS]) == 0);
    /* the page's target keys its quarantine records */
    const char *want_tq = "77\t4242\t1\t-1\tmalformed_page\tnot json\t\\N\t"
                          "2026-11-25 17:46:46.123+00\n";
    assert(copy_size(buf[ROWS_QUARANTINE]) == strlen(want_tq));
    assert(memcmp(copy_data(buf[ROWS_QUARANTINE]), want_tq, strlen(want_tq)) == 0);
    const char *want_snaps = "8001\t77\t2026-11-25 17:46:46.123+00\t42\t12.50\tEUR\t3\t\\N\tt\tf\tt\tsold\tf\n"
                             "8002\t77\t2026-11-25 17:46:46.123+00\t\\N\t\\N\t\\N\t\\N\t\\N\tf\tt\tf\t\\N\tt\n";
    assert(copy_size(buf[ROWS_SNAPSHOTS]) == strlen(want_snaps));
    assert(memcmp(copy_data(buf[ROWS_SNAPSHOTS]), want_snaps, strlen(want_snaps)) == 0);
    const char *want_users = "42\t77\t2026-11-25 17:46:46.123+00\tana\t17\t120\t0.973\t115\t3\t"
                             "\\N\t0\tLisboa\t\\N\n";
    assert(copy_size(buf[ROWS_USERS]) == strlen(want_users));
    assert(memcmp(copy_data(buf[ROWS_USERS]), want_users, strlen(want_users)) == 0);
    users[0].feedback_reputation = 1000;
    assert(s_test_encode(buf, PROTO_BODY_BATCH, &tracking, err, sizeof err) == 0);
    assert(strstr(copy_data(buf[ROWS_USERS]), "\t120\t1.000\t"));
    users[0].feedback_reputation = 5;
    assert(s_test_encode(buf, PROTO_BODY_BATCH, &tracking, err, sizeof err) == 0);
    assert(strstr(copy_data(buf[ROWS_USERS]), "\t120\t0.005\t"));
    users[0].feedback_reputation = PROTO_NULL;
    assert(s_test_encode(buf, PROTO_BODY_BATCH, &tracking, err, sizeof err) == 0);
    assert(strstr(copy_data(buf[ROWS_USERS]), "\t120\t\\N\t"));

    /* a stored photo */
    char sha[65];
    memset(sha, 'a', 64);
    sha[64] = 0;
    proto_photo_stored_t stored = { .window_id = 12, .item_id = 7001, .photo_id = 91,
                                    .key = "images/7001/91.webp", .bytes = 48213,
                                    .content_type = "image/webp", .sha256 = sha };
    assert(s_test_encode(buf, PROTO_BODY_PHOTO, &stored, err, sizeof err) == 0);
    char want_stored[160];
    snprintf(want_stored, sizeof want_stored, "7001\t91\timages/7001/91.webp\t48213\timage/webp\t%s\n",
             sha);
    assert(copy_size(buf[ROWS_STORED]) == strlen(want_stored));
    assert(memcmp(copy_data(buf[ROWS_STORED]), want_stored, strlen(want_stored)) == 0);

    /* a catalog tree: roots get a NULL parent, every node the tree's fetch time */
    proto_catalog_t cats[3] = {
        { .catalog_id = 1904, .parent_id = 0, .title = "Mulher", .code = "WOMEN",
          .url = "/women", .depth = 0 },
        { .catalog_id = 4, .parent_id = 1904, .title = "Roupa\tde \\ senhora", .code = NULL,
          .url = "/women/clothes", .depth = 1 },
        { .catalog_id = 10, .parent_id = 4, .title = "Vestidos", .code = "DRESSES", .url = NULL,
          .depth = 2 },
    };
    proto_batch_t tree = { .window_id = 90, .page = 1, .fetched_at_ms = 1795628806123LL,
                           .target_id = 0, .n_catalogs = 3, .catalogs = cats };
    assert(s_test_encode(buf, PROTO_BODY_BATCH, &tree, err, sizeof err) == 0);
    const char *want_cats = "1904\t\\N\tMulher\tWOMEN\t/women\t0\t2026-11-25 17:46:46.123+00\n"
                            "4\t1904\tRoupa\\tde \\\\ senhora\t\\N\t/women/clothes\t1\t"
                            "2026-11-25 17:46:46.123+00\n"
                            "10\t4\tVestidos\tDRESSES\t\\N\t2\t2026-11-25 17:46:46.123+00\n";
    assert(copy_rows(buf[ROWS_CATALOGS]) == 3);
    assert(copy_size(buf[ROWS_CATALOGS]) == strlen(want_cats));
    assert(memcmp(copy_data(buf[ROWS_CATALOGS]), want_cats, strlen(want_cats)) == 0);
    assert(copy_size(buf[ROWS_ITEMS]) == 0 && copy_size(buf[ROWS_QUARANTINE]) == 0);
    /* bad nodes refuse the whole tree with a reason */
    proto_batch_t badtree = tree;
    cats[2].title = "";
    assert(s_test_encode(buf, PROTO_BODY_BATCH, &badtree, err, sizeof err) == -1);
    assert(strstr(err, "window 90 page 1: catalog 2 (id 10) without a title"));
    cats[2].title = NULL;
    assert(s_test_encode(buf, PROTO_BODY_BATCH, &badtree, err, sizeof err) == -1);
    assert(strstr(err, "without a title"));
    cats[2].title = "Vestidos";
    cats[1].catalog_id = 0;
    assert(s_test_encode(buf, PROTO_BODY_BATCH, &badtree, err, sizeof err) == -1);
    assert(strstr(err, "catalog 1 (id 0) without a valid id"));
    cats[1].catalog_id = -4;
    assert(s_test_encode(buf, PROTO_BODY_BATCH, &badtree, err, sizeof err) == -1);
    assert(strstr(err, "without a valid id"));
    cats[1].catalog_id = 4;
    cats[1].parent_id = -1;
    assert(s_test_encode(buf, PROTO_BODY_BATCH, &badtree, err, sizeof err) == -1);
    assert(strstr(err, "negative parent id"));
    cats[1].parent_id = 4;
    assert(s_test_encode(buf, PROTO_BODY_BATCH, &badtree, err, sizeof err) == -1);
    assert(strstr(err, "its own parent"));
    cats[1].parent_id = 1904;
    cats[1].depth = -1;
    assert(s_test_encode(buf, PROTO_BODY_BATCH, &badtree, err, sizeof err) == -1);
    assert(strstr(err, "negative depth"));
    cats[1].depth = 1;
    badtree.fetched_at_ms = PROTO_NULL;
    assert(s_test_encode(buf, PROTO_BODY_BATCH, &badtree, err, sizeof err) == -1);
    assert(strstr(err, "window 90 page 1: fetch time"));
    assert(s_test_encode(buf, PROTO_BODY_BATCH, &tree, err, sizeof err) == 0);

    /* bad tasks are refused with a reason before any database is involved */
    proto_batch_t bad1 = batch;
    proto_item_t noid[1];
    s_test_item(&noid[0], PROTO_NULL, 5);
    bad1.items = noid;
    bad1.n_items = 1;
    assert(s_test_encode(buf, PROTO_BODY_BATCH, &bad1, err, sizeof err) == -1);
    assert(strstr(err, "pos 5: item without a valid id"));
    proto_batch_t bad2 = batch;
    proto_item_t future[1];
    s_test_item(&future[0], 9, 0);
    future[0].created_at = INT64_MAX;
    bad2.items = future;
    bad2.n_items = 1;
    assert(s_test_encode(buf, PROTO_BODY_BATCH, &bad2, err, sizeof err) == -1);
    assert(strstr(err, "created_at"));
    proto_batch_t bad3 = batch;
    bad3.fetched_at_ms = 0;
    bad3.n_items = 0;
    assert(s_test_encode(buf, PROTO_BODY_BATCH, &bad3, err, sizeof err) == -1);
    assert(strstr(err, "fetch time"));
    proto_quarantine_t norule[1] = { { -1, NULL, "x", NULL, 0 } };
    proto_batch_t bad4 = batch;
    bad4.n_items = 0;
    bad4.quarantine = norule;
    assert(s_test_encode(buf, PROTO_BODY_BATCH, &bad4, err, sizeof err) == -1);
    assert(strstr(err, "without rule"));
    proto_batch_t bad5 = batch;
    proto_photo_t badphoto[1] = { { 7001, 93, NULL, false, 0 } };
    bad5.photos = badphoto;
    bad5.n_photos = 1;
    assert(s_test_encode(buf, PROTO_BODY_BATCH, &bad5, err, sizeof err) == -1);
    assert(strstr(err, "photo 93 of item 7001 without url"));
    badphoto[0] = (proto_photo_t) { 7001, 0, "u", false, 0 };
    assert(s_test_encode(buf, PROTO_BODY_BATCH, &bad5, err, sizeof err) == -1);
    assert(strstr(err, "without a valid id"));
    badphoto[0] = (proto_photo_t) { 7001, 93, "u", false, -1 };
    assert(s_test_encode(buf, PROTO_BODY_BATCH, &bad5, err, sizeof err) == -1);
    assert(strstr(err, "negative position"));
    proto_batch_t bad6 = tracking;
    bad6.fetched_at_ms = PROTO_NULL;
    assert(s_test_encode(buf, PROTO_BODY_BATCH, &bad6, err, sizeof err) == -1);
    assert(strstr(err, "window 77 page 1: fetch time"));
    bad6 = tracking;
    users[0].feedback_reputation = 1001;
    assert(s_test_encode(buf, PROTO_BODY_BATCH, &bad6, err, sizeof err) == -1);
    assert(strstr(err, "feedback_reputation 1001 thousandths outside 0..1000"));
    users[0].feedback_reputation = -1;
    assert(s_test_encode(buf, PROTO_BODY_BATCH, &bad6, err, sizeof err) == -1);
    users[0].feedback_reputation = 973;
    users[0].user_id = 0;
    assert(s_test_encode(buf, PROTO_BODY_BATCH, &bad6, err, sizeof err) == -1);
    assert(strstr(err, "user snapshot 0 without a valid user id"));
    users[0].user_id = 42;
    snaps[1].item_id = PROTO_NULL;
    assert(s_test_encode(buf, PROTO_BODY_BATCH, &bad6, err, sizeof err) == -1);
    assert(strstr(err, "snapshot 1 without a valid item id"));
    snaps[1].item_id = 8002;
    assert(s_test_encode(buf, PROTO_BODY_BATCH, &tracking, err, sizeof err) == 0);
    proto_photo_stored_t badstored = stored;
    badstored.key = "";
    assert(s_test_encode(buf, PROTO_BODY_PHOTO, &badstored, err, sizeof err) == -1);
    assert(strstr(err, "stored photo 91 of item 7001 without an object key"));
    badstored = stored;
    badstored.sha256 = "ABC";
    assert(s_test_encode(buf, PROTO_BODY_PHOTO, &badstored, err, sizeof err) == -1);
    assert(strstr(err, "sha256"));
    badstored = stored;
    badstored.bytes = -3;
    assert(s_test_encode(buf, PROTO_BODY_PHOTO, &badstored, err, sizeof err) == -1);
    assert(strstr(err, "negative size"));
    badstored = stored;
    badstored.sha256 = NULL;
    badstored.bytes = PROTO_NULL;
    badstored.content_type = NULL;
    assert(s_test_encode(buf, PROTO_BODY_PHOTO, &badstored, err, sizeof err) == 0);
    assert(s_test_encode(buf, PROTO_BODY_FETCH, &stored, err, sizeof err) == -1);
    assert(strstr(err, "not TASK with body 1"));

    for (int i = 0; i < ROWS_NTABLES; i++)
        copy_destroy(&buf[i]);
    if (verbose)
        printf("OK\n");
}
