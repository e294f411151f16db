/*  parse_testing.c - the kit the parser's self-tests share (parse_internal.h):
    pages run through parse_page, expectations on their batches, and the
    invariants every batch must satisfy whatever the input.
*/
#include "parse_internal.h"
#include "money.h"
#include "common/utf8.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Fixtures use ' for " to stay readable (a real apostrophe would be \u0027). */
char *
parse_test_fixture(const char *text)
{
    char *s = strdup(text);
    assert(s);
    for (char *p = s; *p; p++)
        if (*p == '\'')
            *p = '"';
    return s;
}

proto_msg_t *
parse_test_run_bytes(const char *body, size_t len, const char *site, int status, const char *error)
{
    proto_page_t page;
    memset(&page, 0, sizeof page);
    page.window_id = 7;
    page.catalog_id = 221;
    page.page = 2;
    page.attempt = 1;
    page.fetched_at_ms = INT64_C(1764092806123);
    page.http_status = status;
    page.site = (char *) site;
    page.api = (char *) "v2";
    page.error = (char *) error;
    page.body = (uint8_t *) body;
    page.body_len = len;
    proto_msg_t *out = proto_msg_new(PROTO_RESULT);
    assert(out);
    out->task_id = 99;
    int rc = parse_page(&page, out);
    assert(rc == 0);
    assert(out->body == PROTO_BODY_BATCH);
    const proto_batch_t *b = &out->u.batch;
    assert(b->window_id == 7 && b->catalog_id == 221 && b->page == 2 && b->attempt == 1);
    assert(b->fetched_at_ms == INT64_C(1764092806123));
    return out;
}

proto_msg_t *
parse_test_run(const char *fixture, const char *site)
{
    char *body = parse_test_fixture(fixture);
    proto_msg_t *out = parse_test_run_bytes(body, strlen(body), site, 200, NULL);
    free(body);
    return out;
}

/* A page holding one item. */
static proto_msg_t *
s_one(const char *item_fixture, const char *site)
{
    size_t n = strlen(item_fixture) + 32;
    char *page = malloc(n);
    assert(page);
    snprintf(page, n, "{'items':[%s]}", item_fixture);
    proto_msg_t *out = parse_test_run(page, site);
    free(page);
    return out;
}

/* The single item of a one-item page must be quarantined under rule. */
void
parse_test_expect_rule(const char *item_fixture, const char *rule, bool verbose)
{
    proto_msg_t *out = s_one(item_fixture, "pt");
    const proto_batch_t *b = &out->u.batch;
    if (b->n_quarantine != 1 || strcmp(b->quarantine[0].rule, rule) != 0)
        fprintf(stderr, "parse: %s -> items=%zu rule=%s, want %s\n", item_fixture, b->n_items,
                b->n_quarantine ? b->quarantine[0].rule : "-", rule);
    assert(b->n_items == 0);
    assert(b->n_quarantine == 1);
    const proto_quarantine_t *q = &b->quarantine[0];
    assert(strcmp(q->rule, rule) == 0);
    assert(q->pos == 0);
    assert(q->detail && *q->detail);
    assert(utf8_valid_str(q->detail));
    assert(q->raw && q->raw_len > 0);
    if (verbose)
        printf("     %-18s %s\n", q->rule, q->detail);
    proto_msg_destroy(&out);
}

/* A one-item page must give one item; returns the message for more checks. */
proto_msg_t *
parse_test_expect_item(const char *item_fixture, const char *site)
{
    proto_msg_t *out = s_one(item_fixture, site);
    const proto_batch_t *b = &out->u.batch;
    if (b->n_items != 1)
        fprintf(stderr, "parse: %s -> quarantined %s: %s\n", item_fixture,
                b->n_quarantine ? b->quarantine[0].rule : "-",
                b->n_quarantine ? b->quarantine[0].detail : "-");
    assert(b->n_items == 1 && b->n_quarantine == 0);
    assert(b->items[0].pos == 0);
    return out;
}

void
parse_test_streq(const char *got, const char *want)
{
    if (!got || !want) {
        if (got != want)
            fprintf(stderr, "parse: got %s, want %s\n", got ? got : "NULL", want ? want : "NULL");
        assert(got == want);
        return;
    }
    if (strcmp(got, want) != 0)
        fprintf(stderr, "parse: got '%s', want '%s'\n", got, want);
    assert(strcmp(got, want) == 0);
}

/* What every batch must satisfy, whatever the input. */
void
parse_test_check_batch(const proto_batch_t *b)
{
    for (size_t i = 0; i < b->n_items; i++) {
        const proto_item_t *it = &b->items[i];
        assert(it->item_id > 0 && it->price > 0 && it->price <= MONEY_MAX_CENTS);
        assert(it->currency && strlen(it->currency) == 3);
        assert(it->title && *it->title);
        const char *texts[] = {it->title, it->brand, it->size_title, it->size_kind, it->size_value,
                               it->condition, it->user_login, it->url, it->photo_url};
        for (size_t k = 0; k < sizeof texts / sizeof texts[0]; k++)
            assert(utf8_valid_str(texts[k]));
        assert(!it->size_title == !it->size_kind);
        assert(i == 0 || it->pos > b->items[i - 1].pos);
    }
    for (size_t i = 0; i < b->n_quarantine; i++) {
        const proto_quarantine_t *q = &b->quarantine[i];
        assert(q->rule && q->detail && utf8_valid_str(q->detail));
        assert(q->pos >= -1);
        if (q->pos == -1)
            assert(b->n_quarantine == 1 && b->n_items == 0);
    }
    if (b->n_quarantine == 1 && b->quarantine[0].pos == -1)
        assert(b->n_photos == 0 && b->n_snapshots == 0 && b->n_users == 0 && b->n_catalogs == 0);
    for (size_t i = 0; i < b->n_photos; i++) {
        const proto_photo_t *p = &b->photos[i];
        assert(p->item_id > 0 && p->photo_id > 0 && p->position >= 0);
        assert(p->url && utf8_valid_str(p->url) && strncmp(p->url, "http", 4) == 0);
        bool owner = false;
        for (size_t k = 0; k < b->n_items && !owner; k++)
            owner = b->items[k].item_id == p->item_id;
        for (size_t k = 0; k < b->n_snapshots && !owner; k++)
            owner = b->snapshots[k].item_id == p->item_id;
        assert(owner);
        for (size_t k = 0; k < i; k++)
            assert(b->photos[k].item_id != p->item_id || b->photos[k].photo_id != p->photo_id);
    }
    for (size_t i = 0; i < b->n_snapshots; i++) {
        const proto_snapshot_t *s = &b->snapshots[i];
        assert(s->item_id > 0);
        assert(s->price == PROTO_NULL || (s->price > 0 && s->price <= MONEY_MAX_CENTS));
        assert(!s->currency || strlen(s->currency) == 3);
        assert(utf8_valid_str(s->closing_action));
        assert(s->favourite_count == PROTO_NULL || (s->favourite_count >= 0 && s->favourite_count <= INT32_MAX));
        assert(s->view_count == PROTO_NULL || (s->view_count >= 0 && s->view_count <= INT32_MAX));
        for (size_t k = 0; k < i; k++)
            assert(b->snapshots[k].item_id != s->item_id);
    }
    assert(b->n_users <= 1);
    for (size_t i = 0; i < b->n_users; i++) {
        const proto_user_snapshot_t *u = &b->users[i];
        assert(u->user_id > 0);
        assert(utf8_valid_str(u->login) && utf8_valid_str(u->city) && utf8_valid_str(u->country));
        assert(u->feedback_reputation == PROTO_NULL
               || (u->feedback_reputation >= 0 && u->feedback_reputation <= 1000));
    }
    assert(b->n_items == 0 || (b->n_snapshots == 0 && b->n_users == 0));
}

proto_msg_t *
parse_test_run_kind(const char *body, size_t len, int32_t kind, int64_t target, int status)
{
    proto_page_t page;
    memset(&page, 0, sizeof page);
    page.window_id = 8;
    page.page = 1;
    page.fetched_at_ms = INT64_C(1764092806123);
    page.http_status = status;
    page.site = (char *) "pt";
    page.api = (char *) "v2";
    page.body = (uint8_t *) body;
    page.body_len = len;
    page.kind = kind;
    page.target_id = target;
    proto_msg_t *out = proto_msg_new(PROTO_RESULT);
    assert(out);
    assert(parse_page(&page, out) == 0);
    assert(out->body == PROTO_BODY_BATCH && out->u.batch.window_id == 8);
    parse_test_check_batch(&out->u.batch);
    return out;
}

/* A page of this kind whose first quarantine record must be under rule. */
void
parse_test_expect_kind_rule(const char *body, size_t len, int32_t kind, int64_t target, int status,
                            const char *rule)
{
    proto_msg_t *out = parse_test_run_kind(body, len, kind, target, status);
    parse_test_streq(out->u.batch.quarantine[0].rule, rule);
    proto_msg_destroy(&out);
}

/* A fixture (' for ") as a page of this kind. */
proto_msg_t *
parse_test_run_fixture(const char *fixture, int32_t kind, int64_t target, int status)
{
    char *body = parse_test_fixture(fixture);
    proto_msg_t *out = parse_test_run_kind(body, strlen(body), kind, target, status);
    free(body);
    return out;
}

const proto_photo_t *
parse_test_find_photo(const proto_batch_t *b, int64_t item_id, int64_t photo_id)
{
    for (size_t i = 0; i < b->n_photos; i++)
        if (b->photos[i].item_id == item_id && b->photos[i].photo_id == photo_id)
            return &b->photos[i];
    return NULL;
}

void
parse_test_expect_photo(const proto_batch_t *b, int64_t item_id, int64_t photo_id, const char *url,
                        bool is_main, int32_t position)
{
    const proto_photo_t *p = parse_test_find_photo(b, item_id, photo_id);
    if (!p)
        fprintf(stderr, "parse: no photo %lld of item %lld\n", (long long) photo_id, (long long) item_id);
    assert(p);
    if (url)
        parse_test_streq(p->url, url);
    assert(p->is_main == is_main);
    assert(p->position == position);
}
