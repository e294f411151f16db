/*  fuzz_parse.c - libFuzzer harness for the transformer's page parsing
    (workers/transformer/parse.h): every entry point of parse_page, that is
    catalog pages of both API generations, sellers' item lists, item pages
    (HTML with JSON-LD), seller profiles and the catalog tree.

    Input: an optional header line "<kind> <http_status> <target_id> <site>\n"
    (e.g. "2 200 7000123456 pt"), then the response body. Without a header that
    parses, the whole input is the body of a catalog page (kind 0, 200).

    Besides "no crash, no leak, no hang", it checks what parse.h promises of
    every batch: the counts fit the arrays, every kept string is UTF-8 without
    NUL, money is within numeric(12,2), a quarantine record has a rule, and the
    batch encodes on the wire (so the transformer can always answer).
*/
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/proto.h"
#include "tests/fuzz/page_input.h"
#include "workers/transformer/money.h"
#include "workers/transformer/parse.h"
#include "common/utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void s_fail(const char *what)
{
    fprintf(stderr, "fuzz_parse: %s\n", what);
    abort();
}

static void s_text(const char *s, const char *what)
{
    if (s && !utf8_valid_str(s))
        s_fail(what);
}

static void s_money(int64_t cents, bool nullable, const char *what)
{
    if (nullable && cents == PROTO_NULL)
        return;
    if (cents < -MONEY_MAX_CENTS || cents > MONEY_MAX_CENTS)
        s_fail(what);
}

/* A counter the database keeps as int, or unknown. */
static void s_count(int64_t v, const char *what)
{
    if (v != PROTO_NULL && (v < 0 || v > INT32_MAX))
        s_fail(what);
}

static void s_check(const proto_msg_t *out)
{
    const proto_batch_t *b = &out->u.batch;
    if (out->body != PROTO_BODY_BATCH)
        s_fail("the result is not a batch");
    if ((b->n_items && !b->items) || (b->n_quarantine && !b->quarantine) || (b->n_photos && !b->photos) ||
        (b->n_snapshots && !b->snapshots) || (b->n_users && !b->users) || (b->n_catalogs && !b->catalogs))
        s_fail("a count without its array");
    for (size_t i = 0; i < b->n_items; i++) {
        const proto_item_t *it = &b->items[i];
        if (it->item_id <= 0)
            s_fail("an item without a positive id was kept");
        const struct {
            const char *s, *what;
        } texts[] = {{it->title, "item title is not UTF-8"},
                     {it->brand, "item brand is not UTF-8"},
                     {it->size_title, "item size is not UTF-8"},
                     {it->size_value, "item size value is not UTF-8"},
                     {it->condition, "item condition is not UTF-8"},
                     {it->user_login, "item login is not UTF-8"},
                     {it->url, "item url is not UTF-8"},
                     {it->photo_url, "item photo url is not UTF-8"}};
        for (size_t k = 0; k < sizeof texts / sizeof texts[0]; k++)
            s_text(texts[k].s, texts[k].what);
        if (!it->currency || strlen(it->currency) != 3)
            s_fail("an item without a 3-letter currency was kept");
        s_money(it->price, false, "item price out of range");
        if (it->price <= 0)
            s_fail("an item with a price that is not positive was kept");
        s_money(it->service_fee, true, "item fee out of range");
        s_money(it->total_price, true, "item total out of range");
        s_count(it->favourite_count, "item favourites out of the int range");
        s_count(it->view_count, "item views out of the int range");
        /* timestamptz ends with the year 9999 */
        if (it->created_at != PROTO_NULL && (it->created_at < 0 || it->created_at > INT64_C(253402300799)))
            s_fail("item created_at out of the timestamptz range");
    }
    for (size_t i = 0; i < b->n_quarantine; i++) {
        const proto_quarantine_t *q = &b->quarantine[i];
        if (!q->rule || !*q->rule)
            s_fail("a quarantine record without a rule");
        if (q->raw_len && !q->raw)
            s_fail("a quarantine length without its bytes");
    }
    for (size_t i = 0; i < b->n_snapshots; i++) {
        s_text(b->snapshots[i].currency, "snapshot currency is not UTF-8");
        s_text(b->snapshots[i].closing_action, "snapshot closing action is not UTF-8");
        s_money(b->snapshots[i].price, true, "snapshot price out of range");
        s_count(b->snapshots[i].favourite_count, "snapshot favourites out of the int range");
        s_count(b->snapshots[i].view_count, "snapshot views out of the int range");
    }
    for (size_t i = 0; i < b->n_users; i++) {
        s_text(b->users[i].login, "user login is not UTF-8");
        s_text(b->users[i].city, "user city is not UTF-8");
        s_text(b->users[i].country, "user country is not UTF-8");
        const proto_user_snapshot_t *u = &b->users[i];
        int64_t counts[] = {u->item_count,
                            u->feedback_count,
                            u->positive_feedback_count,
                            u->neutral_feedback_count,
                            u->negative_feedback_count,
                            u->followers_count};
        for (size_t k = 0; k < sizeof counts / sizeof counts[0]; k++)
            s_count(counts[k], "a user counter out of the int range");
        /* numeric(4,3) */
        if (u->feedback_reputation != PROTO_NULL &&
            (u->feedback_reputation < 0 || u->feedback_reputation > 9999))
            s_fail("a user reputation out of the numeric(4,3) range");
    }
    for (size_t i = 0; i < b->n_photos; i++)
        s_text(b->photos[i].url, "photo url is not UTF-8");
    for (size_t i = 0; i < b->n_catalogs; i++) {
        if (!b->catalogs[i].title)
            s_fail("a catalog without a title was kept");
        s_text(b->catalogs[i].title, "catalog title is not UTF-8");
        s_text(b->catalogs[i].code, "catalog code is not UTF-8");
        s_text(b->catalogs[i].url, "catalog url is not UTF-8");
    }
    uint8_t *wire;
    size_t wire_len;
    if (proto_encode(out, &wire, &wire_len) != 0)
        s_fail("the batch does not encode");
    char err[256];
    proto_msg_t *back = proto_decode(wire, wire_len, err, sizeof err);
    if (!back) {
        fprintf(stderr, "fuzz_parse: the encoded batch does not decode: %s\n", err);
        abort();
    }
    proto_msg_destroy(&back);
    free(wire);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    page_input_t in;
    page_input_read(&in, data, size);
    /* a private copy of the body, so that reading past it is caught */
    uint8_t *body = malloc(in.page.body_len ? in.page.body_len : 1);
    if (!body)
        return 0;
    memcpy(body, in.page.body, in.page.body_len);
    in.page.body = body;
    proto_msg_t *out = proto_msg_new(PROTO_RESULT);
    out->task_id = 1;
    if (parse_page(&in.page, out) == 0)
        s_check(out);
    proto_msg_destroy(&out);
    free(body);
    return 0;
}
