/*  parse_item_page.c - the public item page (/items/{id}, HTML): the offer of
    its JSON-LD Product (ldjson.h) is one snapshot; a 404 is the snapshot of
    a listing that is gone.
*/
#include "parse_internal.h"
#include "ldjson.h"
#include "money.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool
s_ends_with(const char *s, const char *tail)
{
    size_t n = strlen(s), tn = strlen(tail);
    return n >= tn && strcmp(s + n - tn, tail) == 0;
}

/* The public item page: the JSON-LD Product's offer is the observation. */
int
parse_item_page(parse_ctx_t *ctx, const char *text, size_t len)
{
    proto_batch_t *b = ctx->batch;
    const proto_page_t *page = ctx->page;
    char detail[PARSE_DETAIL], why[160], r[96];
    const cJSON *product = NULL;
    cJSON *root = ldjson_find(text, len, "Product", &product, why, sizeof why);
    if (!root) {
        snprintf(detail, sizeof detail, "no Product in the item page: %s", why);
        return parse_reject_page(ctx, "malformed_page", detail);
    }
    int rc = 0;
    b->quarantine = proto_msg_alloc(ctx->out, sizeof *b->quarantine);
    b->snapshots = proto_msg_alloc(ctx->out, sizeof *b->snapshots);
    if (!b->quarantine || !b->snapshots) {
        rc = -1;
        goto done;
    }
    ctx->cap = 1;

    /* the page must be the one asked for */
    int64_t pid = 0;
    const cJSON *idn = parse_get(product, "productID");
    if (!idn)
        idn = parse_get(product, "sku");
    if (idn && parse_uint(idn, &pid) && pid != page->target_id) {
        snprintf(detail, sizeof detail, "the page shows item %lld, not %lld", (long long) pid,
                 (long long) page->target_id);
        rc = parse_reject_item(ctx, 0, "id_mismatch", detail, product);
        goto done;
    }

    const cJSON *offers = parse_get(product, "offers");
    if (cJSON_IsArray(offers)) {
        const cJSON *o = offers->child;
        while (o && !cJSON_IsObject(o))
            o = o->next;
        offers = o;
    }
    /* price: absent is shown as NULL (the availability is the observation);
       present, it follows the catalog rules */
    int64_t price = PROTO_NULL;
    char code[4] = "";
    const cJSON *pn = parse_get(offers, "price");
    if (pn && !cJSON_IsNull(pn)) {
        const char *reason = NULL;
        int mrc;
        if (cJSON_IsString(pn))
            mrc = money_parse_cents(pn->valuestring, &price, &reason);
        else if (cJSON_IsNumber(pn))
            mrc = money_double_cents(pn->valuedouble, &price, &reason);
        else {
            mrc = -1;
            reason = "not a number";
        }
        if (mrc != 0) {
            parse_repr(r, sizeof r, pn);
            snprintf(detail, sizeof detail, "offers.price: %s (%s)", reason, r);
            rc = parse_reject_item(ctx, 0, "price_invalid", detail, product);
            goto done;
        }
        if (price <= 0) {
            parse_cents_text(r, sizeof r, price);
            snprintf(detail, sizeof detail, "offers.price is %s", r);
            rc = parse_reject_item(ctx, 0, "price_not_positive", detail, product);
            goto done;
        }
        const cJSON *cn = parse_get(offers, "priceCurrency");
        if (!cJSON_IsString(cn) || !money_currency(cn->valuestring, code)) {
            if (cJSON_IsString(cn)) {
                parse_show(r, sizeof r, cn->valuestring);
                snprintf(detail, sizeof detail, "offers.priceCurrency \"%s\" is not an ISO 4217 code", r);
            }
            else {
                parse_repr(r, sizeof r, cn);
                snprintf(detail, sizeof detail, "offers.priceCurrency is %s", r);
            }
            rc = parse_reject_item(ctx, 0, "currency_unknown", detail, product);
            goto done;
        }
    }
    const char *availability = parse_string(offers, "availability");
    bool closed = availability
                  && (s_ends_with(availability, "SoldOut") || s_ends_with(availability, "OutOfStock"));

    proto_snapshot_t *s = &b->snapshots[0];
    s->item_id = page->target_id;
    s->user_id = PROTO_NULL;
    s->price = price;
    s->currency = code[0] ? parse_dupn(ctx, code, 3) : NULL;
    s->favourite_count = PROTO_NULL;
    s->view_count = PROTO_NULL;
    s->is_closed = closed;
    s->closing_action = closed ? parse_dup(ctx, "sold") : NULL;
    if (ctx->oom) {
        rc = -1;
        goto done;
    }
    b->n_snapshots = 1;
done:
    cJSON_Delete(root);
    return rc;
}

/* A 404 item page: the listing is gone. */
int
parse_removed(parse_ctx_t *ctx)
{
    proto_batch_t *b = ctx->batch;
    b->snapshots = proto_msg_alloc(ctx->out, sizeof *b->snapshots);
    if (!b->snapshots)
        return -1;
    proto_snapshot_t *s = &b->snapshots[0];
    s->item_id = ctx->page->target_id;
    s->user_id = PROTO_NULL;
    s->price = PROTO_NULL;
    s->currency = NULL;
    s->favourite_count = PROTO_NULL;
    s->view_count = PROTO_NULL;
    s->removed = true;
    b->n_snapshots = 1;
    return 0;
}

/* ------------------------------------------------------------------ test */

/* An item page for item 777 whose product block is ld (or none). */
static proto_msg_t *
s_run_item_page(const char *ld, int status)
{
    char html[2048];
    snprintf(html, sizeof html,
             "<!DOCTYPE html>\n<html lang=\"pt\"><head><meta charset=\"utf-8\"><title>Blusa | Vinted</title>\n"
             "%s\n%s\n</head><body><div id=\"__next\"><h1>Blusa</h1></div></body></html>\n",
             PARSE_TEST_CRUMBS, ld ? ld : "");
    return parse_test_run_kind(html, strlen(html), PROTO_FETCH_ITEM_PAGE, 777, status);
}

static void
s_expect_observed(proto_msg_t *out, int64_t price, const char *currency, bool closed)
{
    const proto_batch_t *b = &out->u.batch;
    if (b->n_snapshots != 1)
        fprintf(stderr, "parse: item page -> %s: %s\n", b->n_quarantine ? b->quarantine[0].rule : "-",
                b->n_quarantine ? b->quarantine[0].detail : "-");
    assert(b->n_snapshots == 1 && b->n_quarantine == 0 && b->n_items == 0);
    assert(b->n_photos == 0 && b->n_users == 0);
    const proto_snapshot_t *s = &b->snapshots[0];
    assert(s->item_id == 777 && s->user_id == PROTO_NULL);
    assert(s->price == price);
    parse_test_streq(s->currency, currency);
    assert(s->favourite_count == PROTO_NULL && s->view_count == PROTO_NULL);
    assert(!s->is_reserved && !s->is_hidden && !s->removed);
    assert(s->is_closed == closed);
    parse_test_streq(s->closing_action, closed ? "sold" : NULL);
    proto_msg_destroy(&out);
}

static void
s_expect_item_rule(proto_msg_t *out, int32_t pos, const char *rule, const char *detail_part, bool verbose)
{
    const proto_batch_t *b = &out->u.batch;
    assert(b->n_snapshots == 0 && b->n_quarantine == 1);
    const proto_quarantine_t *q = &b->quarantine[0];
    if (strcmp(q->rule, rule) != 0 || !strstr(q->detail, detail_part))
        fprintf(stderr, "parse: item page -> %s: %s\n", q->rule, q->detail);
    assert(q->pos == pos && strcmp(q->rule, rule) == 0 && strstr(q->detail, detail_part));
    assert(q->raw && q->raw_len > 0);
    if (verbose)
        printf("     %-18s %s\n", q->rule, q->detail);
    proto_msg_destroy(&out);
}

void
parse_item_page_test(bool verbose)
{
    if (verbose)
        printf("   item pages:\n");
    /* the simulator's shape, in stock and sold */
    s_expect_observed(s_run_item_page(PARSE_TEST_LD_OPEN "{\"@context\":\"https://schema.org\",\"@type\":\"Product\","
                                      "\"productID\":\"777\",\"sku\":\"777\",\"name\":\"Blusa \\u003cb\\u003e\","
                                      "\"image\":\"https://img/1\",\"offers\":{\"@type\":\"Offer\",\"priceCurrency\":\"EUR\","
                                      "\"availability\":\"https://schema.org/InStock\",\"url\":\"https://www.vinted.pt/items/777\","
                                      "\"itemCondition\":\"https://schema.org/UsedCondition\",\"price\":\"12.50\"}}</script>", 200),
                      1250, "EUR", false);
    s_expect_observed(s_run_item_page(PARSE_TEST_LD_OPEN "{\"@type\":\"Product\",\"productID\":\"777\",\"offers\":{"
                                      "\"priceCurrency\":\"EUR\",\"availability\":\"https://schema.org/SoldOut\","
                                      "\"price\":\"9.00\"}}</script>", 200),
                      900, "EUR", true);
    /* other shapes: number price, @graph, offers list, OutOfStock, odd attribute quoting */
    s_expect_observed(s_run_item_page("<script nonce='n' type='application/ld+json' >{\"@graph\":[{\"@type\":\"WebPage\"},"
                                      "{\"@type\":\"Product\",\"offers\":[{\"@type\":\"Offer\",\"price\":12.5,"
                                      "\"priceCurrency\":\"pln\",\"availability\":\"http://schema.org/OutOfStock\"}]}]}"
                                      "</script>", 200),
                      1250, "PLN", true);
    s_expect_observed(s_run_item_page("<SCRIPT TYPE=application/ld+json>[{\"@type\":\"Organization\"},"
                                      "{\"@type\":\"Product\",\"sku\":777,\"offers\":{\"price\":\"3\",\"priceCurrency\":\"GBP\","
                                      "\"availability\":\"InStock\"}}]</SCRIPT>", 200),
                      300, "GBP", false);
    /* no price shown: the availability is still an observation */
    s_expect_observed(s_run_item_page(PARSE_TEST_LD_OPEN "{\"@type\":\"Product\",\"offers\":{\"priceCurrency\":\"EUR\","
                                      "\"availability\":\"https://schema.org/SoldOut\"}}</script>", 200),
                      PROTO_NULL, NULL, true);
    s_expect_observed(s_run_item_page(PARSE_TEST_LD_OPEN "{\"@type\":\"Product\"}</script>", 200), PROTO_NULL, NULL, false);

    /* broken offers: the item's rules, the product as raw */
    s_expect_item_rule(s_run_item_page(PARSE_TEST_LD_OPEN "{\"@type\":\"Product\",\"offers\":{\"price\":\"abc\","
                                       "\"priceCurrency\":\"EUR\"}}</script>", 200),
                       0, "price_invalid", "offers.price", verbose);
    s_expect_item_rule(s_run_item_page(PARSE_TEST_LD_OPEN "{\"@type\":\"Product\",\"offers\":{\"price\":\"-20.0\","
                                       "\"priceCurrency\":\"EUR\"}}</script>", 200),
                       0, "price_not_positive", "-20.00", verbose);
    s_expect_item_rule(s_run_item_page(PARSE_TEST_LD_OPEN "{\"@type\":\"Product\",\"offers\":{\"price\":\"20.0\","
                                       "\"priceCurrency\":\"XYZ\"}}</script>", 200),
                       0, "currency_unknown", "XYZ", verbose);
    s_expect_item_rule(s_run_item_page(PARSE_TEST_LD_OPEN "{\"@type\":\"Product\",\"offers\":{\"price\":\"20.0\"}}</script>", 200),
                       0, "currency_unknown", "absent", verbose);
    s_expect_item_rule(s_run_item_page(PARSE_TEST_LD_OPEN "{\"@type\":\"Product\",\"productID\":\"778\",\"offers\":{"
                                       "\"price\":\"1\",\"priceCurrency\":\"EUR\"}}</script>", 200),
                       0, "id_mismatch", "778", verbose);
    /* no product: the whole page, with the body */
    s_expect_item_rule(s_run_item_page(NULL, 200), -1, "malformed_page", "no Product", verbose);
    s_expect_item_rule(s_run_item_page(PARSE_TEST_LD_OPEN "{\"@type\":\"Product\",\"productID\":\"777\",,\"offers\":{</script>", 200),
                       -1, "malformed_page", "1 not JSON", verbose);
    static const char cf[] = "<html><body>Just a moment...</body></html>";
    s_expect_item_rule(parse_test_run_kind(cf, sizeof cf - 1, PROTO_FETCH_ITEM_PAGE, 777, 200), -1, "malformed_page",
                       "no JSON-LD block", verbose);
    s_expect_item_rule(parse_test_run_kind(cf, sizeof cf - 1, PROTO_FETCH_ITEM_PAGE, 777, 403), -1, "http_error", "403",
                       verbose);
    s_expect_item_rule(parse_test_run_kind(cf, sizeof cf - 1, PROTO_FETCH_ITEM_PAGE, 0, 200), -1, "malformed_page",
                       "without an item id", verbose);
    s_expect_item_rule(parse_test_run_kind(cf, sizeof cf - 1, 9, 777, 200), -1, "malformed_page", "unknown page kind",
                       verbose);

    /* 404: the listing is gone, whatever the body */
    static const char gone[] = "<!DOCTYPE html><title>404</title><h1>P\xc3\xa1gina n\xc3\xa3o encontrada</h1>";
    for (int i = 0; i < 2; i++) {
        proto_msg_t *out = parse_test_run_kind(gone, i ? 0 : sizeof gone - 1, PROTO_FETCH_ITEM_PAGE, 777, 404);
        const proto_batch_t *b = &out->u.batch;
        assert(b->n_snapshots == 1 && b->n_quarantine == 0 && b->n_items == 0 && b->n_users == 0);
        const proto_snapshot_t *s = &b->snapshots[0];
        assert(s->item_id == 777 && s->removed);
        assert(s->user_id == PROTO_NULL && s->price == PROTO_NULL && !s->currency);
        assert(s->favourite_count == PROTO_NULL && s->view_count == PROTO_NULL);
        assert(!s->is_reserved && !s->is_hidden && !s->is_closed && !s->closing_action);
        uint8_t *wire = NULL;
        size_t wire_len = 0;
        char err[128];
        assert(proto_encode(out, &wire, &wire_len) == 0);
        proto_msg_t *back = proto_decode(wire, wire_len, err, sizeof err);
        assert(back && back->u.batch.n_snapshots == 1);
        s = &back->u.batch.snapshots[0];
        assert(s->item_id == 777 && s->removed && s->price == PROTO_NULL && !s->currency);
        proto_msg_destroy(&back);
        free(wire);
        proto_msg_destroy(&out);
    }
    /* a catalog or seller page answering 404 is still an error */
    parse_test_expect_kind_rule(gone, sizeof gone - 1, PROTO_FETCH_CATALOG, 0, 404, "http_error");
}
