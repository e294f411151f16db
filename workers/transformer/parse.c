/*  parse.c - raw Vinted page -> normalized batch. See parse.h.

    The body is parsed once with cJSON. Before that, two things cJSON would get
    wrong are neutralised in a private copy of the body (only when present,
    common/jsontext.h): a NUL (raw, or escaped as \u0000) would silently cut a
    string short, and an unpaired UTF-16 surrogate escape would fail the whole
    page. Both become a 0xFF byte, which is invalid UTF-8, so only the item
    holding them is quarantined (text_invalid) and its neighbours survive. An
    item page's HTML gets the same treatment before its JSON-LD blocks are read
    (ldjson.h). The fetcher reads the page the same way to page on.

    This file is the entry point: parse_page checks the page as a whole and
    hands its body to the reader of its kind (parse_internal.h lists the
    files), and keeps the quarantine records. parse_test runs every file's
    self-test and the tests of whole pages.
*/
#include "parse_internal.h"
#include "common/jsontext.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ------------------------------------------------------------ quarantine */

static int
s_quarantine(parse_ctx_t *ctx, int32_t pos, const char *rule, const char *detail,
             const uint8_t *raw, size_t raw_len)
{
    proto_batch_t *b = ctx->batch;
    assert(b->n_quarantine < ctx->cap);
    proto_quarantine_t *q = &b->quarantine[b->n_quarantine];
    q->pos = pos;
    q->rule = parse_dup(ctx, rule);
    q->detail = parse_dup(ctx, detail);
    if (raw && raw_len > 0) {
        q->raw = proto_msg_alloc(ctx->out, raw_len);
        if (!q->raw)
            ctx->oom = true;
        else {
            memcpy(q->raw, raw, raw_len);
            q->raw_len = raw_len;
        }
    }
    if (ctx->oom)
        return -1;
    b->n_quarantine++;
    return 0;
}

int
parse_reject_item(parse_ctx_t *ctx, int32_t pos, const char *rule, const char *detail,
                  const cJSON *item)
{
    char *raw = cJSON_PrintUnformatted(item);
    int rc = s_quarantine(ctx, pos, rule, detail, (const uint8_t *) raw, raw ? strlen(raw) : 0);
    cJSON_free(raw); /* cJSON's memory goes back through cJSON (jsonmem.h) */
    return rc;
}

/* The whole page is unusable: no items, one record at pos -1 with the body. */
int
parse_reject_page(parse_ctx_t *ctx, const char *rule, const char *detail)
{
    proto_batch_t *b = ctx->batch;
    b->n_items = 0;
    b->n_quarantine = 0;
    b->n_photos = 0;
    b->n_snapshots = 0;
    b->n_users = 0;
    b->n_catalogs = 0;
    if (ctx->cap == 0) {
        b->quarantine = proto_msg_alloc(ctx->out, sizeof *b->quarantine);
        if (!b->quarantine)
            return -1;
        ctx->cap = 1;
    }
    return s_quarantine(ctx, -1, rule, detail, ctx->page->body, ctx->page->body_len);
}

/* ------------------------------------------------------------------ page */

static void
s_base(parse_ctx_t *ctx, const char *site)
{
    ctx->base[0] = '\0';
    if (!site)
        return;
    size_t n = strlen(site);
    if (n < 2 || n > 16 || site[0] == '.' || site[n - 1] == '.')
        return;
    for (size_t i = 0; i < n; i++) {
        char c = site[i];
        if (!((c >= 'a' && c <= 'z') || c == '.'))
            return;
    }
    snprintf(ctx->base, sizeof ctx->base, "https://www.vinted.%s", site);
}

int
parse_page(const proto_page_t *page, proto_msg_t *out)
{
    assert(page && out);
    proto_batch_of_page(out, page);
    proto_batch_t *b = &out->u.batch;

    parse_ctx_t ctx = {.page = page, .out = out, .batch = b};
    s_base(&ctx, page->site);
    char detail[PARSE_DETAIL];

    bool seller = page->kind == PROTO_FETCH_USER_ITEMS;
    bool item_page = page->kind == PROTO_FETCH_ITEM_PAGE;
    bool profile = page->kind == PROTO_FETCH_USER;
    bool tree = page->kind == PROTO_FETCH_CATALOGS;
    if (!seller && !item_page && !profile && !tree && page->kind != PROTO_FETCH_CATALOG) {
        snprintf(detail, sizeof detail, "unknown page kind %d", (int) page->kind);
        return parse_reject_page(&ctx, "malformed_page", detail);
    }
    if (item_page && page->target_id <= 0) {
        snprintf(detail, sizeof detail, "item page without an item id (target %lld)",
                 (long long) page->target_id);
        return parse_reject_page(&ctx, "malformed_page", detail);
    }
    if (profile && page->target_id <= 0) {
        snprintf(detail, sizeof detail, "profile without a user id (target %lld)",
                 (long long) page->target_id);
        return parse_reject_page(&ctx, "malformed_page", detail);
    }
    if (item_page && page->http_status == 404)
        return parse_removed(&ctx); /* an observation, not an error */
    if (profile && page->http_status == 404)
        return 0; /* the seller is gone: nothing to observe, not an error */
    if (page->error) {
        char e[160];
        parse_show(e, sizeof e, page->error);
        snprintf(detail, sizeof detail, "fetch failed: %s", e);
        return parse_reject_page(&ctx, "malformed_page", detail);
    }
    if (page->http_status != 0 && page->http_status != 200) {
        snprintf(detail, sizeof detail, "HTTP status %d", (int) page->http_status);
        return parse_reject_page(&ctx, "http_error", detail);
    }
    const char *text = (const char *) page->body;
    size_t len = page->body_len;
    while (text && len > 0 && text[len - 1] == '\0')
        len--; /* a terminating NUL sent along is not content */
    if (!text || len == 0)
        return parse_reject_page(&ctx, "malformed_page", "empty body");

    char *fixed = NULL;
    if (jsontext_needs_repair(text, len)) {
        fixed = malloc(len);
        if (!fixed)
            return -1;
        len = jsontext_repair(text, len, fixed);
        text = fixed;
    }
    const char *end = NULL;
    cJSON *root = NULL;
    int rc = 0;
    if (item_page) {
        rc = parse_item_page(&ctx, text, len);
        goto done;
    }
    root = cJSON_ParseWithLengthOpts(text, len, &end, false);
    if (!root) {
        size_t at = end && end >= text && end <= text + len ? (size_t) (end - text) : 0;
        snprintf(detail, sizeof detail, "body is not JSON (error at byte %zu of %zu)", at, len);
        rc = parse_reject_page(&ctx, "malformed_page", detail);
        goto done;
    }
    while (end < text + len && (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r'))
        end++;
    if (end < text + len) {
        snprintf(detail, sizeof detail, "trailing data after the JSON at byte %zu of %zu",
                 (size_t) (end - text), len);
        rc = parse_reject_page(&ctx, "malformed_page", detail);
        goto done;
    }
    if (profile) {
        rc = parse_profile(&ctx, root);
        goto done;
    }
    if (tree) {
        rc = parse_catalogs(&ctx, root);
        goto done;
    }
    const cJSON *items = parse_get(root, "items");
    if (!cJSON_IsArray(items)) {
        parse_missing(root, "items", true, detail, sizeof detail);
        rc = parse_reject_page(&ctx, "malformed_page", detail);
        goto done;
    }
    size_t n = 0;
    for (const cJSON *c = items->child; c; c = c->next)
        n++;
    if (n > PARSE_MAX_ITEMS) {
        snprintf(detail, sizeof detail, "%zu items on one page, more than %d", n, PARSE_MAX_ITEMS);
        rc = parse_reject_page(&ctx, "malformed_page", detail);
        goto done;
    }
    if (n > 0) {
        if (seller)
            b->snapshots = proto_msg_alloc(out, n * sizeof *b->snapshots);
        else
            b->items = proto_msg_alloc(out, n * sizeof *b->items);
        b->quarantine = proto_msg_alloc(out, n * sizeof *b->quarantine);
        if (!(seller ? (void *) b->snapshots : (void *) b->items) || !b->quarantine) {
            rc = -1;
            goto done;
        }
        ctx.cap = n;
    }
    int32_t pos = 0;
    for (const cJSON *c = items->child; c; c = c->next, pos++)
        if ((seller ? parse_seller_item(&ctx, c, pos) : parse_item(&ctx, c, pos)) != 0) {
            rc = -1;
            break;
        }
done:
    cJSON_Delete(root);
    free(fixed);
    return rc;
}

/* ------------------------------------------------------------------ test */

/* The page must be rejected as a whole under rule, with the body as raw. */
static void
s_expect_page_rule(const char *body, size_t len, int status, const char *error, const char *rule,
                   const char *detail_part, bool verbose)
{
    proto_msg_t *out = parse_test_run_bytes(body, len, "fr", status, error);
    const proto_batch_t *b = &out->u.batch;
    assert(b->n_items == 0);
    assert(b->n_quarantine == 1);
    const proto_quarantine_t *q = &b->quarantine[0];
    if (strcmp(q->rule, rule) != 0 || !strstr(q->detail, detail_part))
        fprintf(stderr, "parse page: %s: %s\n", q->rule, q->detail);
    assert(q->pos == -1);
    assert(strcmp(q->rule, rule) == 0);
    assert(strstr(q->detail, detail_part));
    assert(q->raw_len == len);
    assert(len == 0 || memcmp(q->raw, body, len) == 0);
    if (verbose)
        printf("     %-18s %s\n", q->rule, q->detail);
    proto_msg_destroy(&out);
}

/* One item shaped like a real v2 search result (thumbnails and all), for the benchmark. */
static int
s_bench_item(char *dst, size_t cap, int i)
{
    long long id = 7292729681LL + i;
    return snprintf(dst, cap,
        "{\"id\":%lld,\"title\":\"Spodnie ch\xc5\x82opi\xc4\x99" "ce NIKE %d\",\"price\":{\"amount\":\"%d.%d\","
        "\"currency_code\":\"PLN\"},\"is_visible\":true,\"brand_title\":\"Nike\",\"path\":"
        "\"/items/%lld-spodnie-chlopiece-nike\",\"user\":{\"id\":%d,\"login\":\"user%d\","
        "\"profile_url\":\"https://www.vinted.pl/member/%d-user\",\"photo\":{\"id\":240777819,"
        "\"width\":600,\"height\":800,\"temp_uuid\":null,\"url\":\"https://images1.vinted.net/t/"
        "03_01e91_w5prQJKDqNLW3WoNWwsWHzs6/f800/1745321558.webp?s=78b709fac77b531391a4c111c5006044cf50dd6e\","
        "\"dominant_color\":\"#31abc2\",\"dominant_color_opaque\":\"#C1E6ED\",\"thumbnails\":["
        "{\"type\":\"thumb310\",\"url\":\"https://images1.vinted.net/t/03_01e91_w5prQJKDqNLW3WoNWwsWHzs6/310x310/1745321558.webp?s=f97bfab1cb3f8f087487e6c368321d6170001eea\",\"width\":310,\"height\":310,\"original_size\":null},"
        "{\"type\":\"thumb150\",\"url\":\"https://images1.vinted.net/t/03_01e91_w5prQJKDqNLW3WoNWwsWHzs6/150x150/1745321558.webp?s=c7d00e5c5ec6bc6a24ab96814a66f3a8742a528f\",\"width\":150,\"height\":150,\"original_size\":null},"
        "{\"type\":\"thumb100\",\"url\":\"https://images1.vinted.net/t/03_01e91_w5prQJKDqNLW3WoNWwsWHzs6/100x100/1745321558.webp?s=2a3bdaf4f80ed48de3685075d59dfb6b9b287760\",\"width\":100,\"height\":100,\"original_size\":null}],"
        "\"is_suspicious\":false,\"orientation\":null,\"high_resolution\":{\"id\":\"03_01e91\","
        "\"timestamp\":1745321558,\"orientation\":null},\"full_size_url\":\"https://images1.vinted.net/tc/"
        "03_01e91_w5prQJKDqNLW3WoNWwsWHzs6/1745321558.webp?s=a23980d644d0f26034246137bec05998f8f794a7\","
        "\"is_hidden\":false,\"extra\":{}},\"business\":false},\"conversion\":null,\"url\":"
        "\"https://www.vinted.pl/items/%lld-spodnie-chlopiece-nike\",\"promoted\":false,\"photo\":"
        "{\"id\":29720248985,\"image_no\":1,\"width\":633,\"height\":800,\"dominant_color\":\"#373129\","
        "\"dominant_color_opaque\":\"#C3C1BF\",\"url\":\"https://images1.vinted.net/t/02_025aa_NWJ7hfHopQtcvzAZNH84QoB1/f800/1760263592.webp?s=d28e490361b7b82a20eddcb72f526a05aee3eb10\","
        "\"is_main\":true,\"thumbnails\":["
        "{\"type\":\"thumb70x100\",\"url\":\"https://images1.vinted.net/t/02_025aa_NWJ7hfHopQtcvzAZNH84QoB1/70x100/1760263592.webp?s=42196d12f8a1acff530481305deef25707f3005f\",\"width\":70,\"height\":100,\"original_size\":null},"
        "{\"type\":\"thumb150x210\",\"url\":\"https://images1.vinted.net/t/02_025aa_NWJ7hfHopQtcvzAZNH84QoB1/150x210/1760263592.webp?s=391281c20ee2e8dfd3017233aa6c7059cd127234\",\"width\":150,\"height\":210,\"original_size\":null},"
        "{\"type\":\"thumb310x430\",\"url\":\"https://images1.vinted.net/t/02_025aa_NWJ7hfHopQtcvzAZNH84QoB1/310x430/1760263592.webp?s=4550f90b7d2ca4af3ba9b2d8031c7427f9cb73c9\",\"width\":310,\"height\":430,\"original_size\":null},"
        "{\"type\":\"thumb428x624\",\"url\":\"https://images1.vinted.net/t/02_025aa_NWJ7hfHopQtcvzAZNH84QoB1/f800/1760263592.webp?s=d28e490361b7b82a20eddcb72f526a05aee3eb10\",\"width\":338,\"height\":428,\"original_size\":true},"
        "{\"type\":\"thumb624x428\",\"url\":\"https://images1.vinted.net/t/02_025aa_NWJ7hfHopQtcvzAZNH84QoB1/f800/1760263592.webp?s=d28e490361b7b82a20eddcb72f526a05aee3eb10\",\"width\":493,\"height\":624,\"original_size\":true},"
        "{\"type\":\"thumb364x428\",\"url\":\"https://images1.vinted.net/t/02_025aa_NWJ7hfHopQtcvzAZNH84QoB1/f800/1760263592.webp?s=d28e490361b7b82a20eddcb72f526a05aee3eb10\",\"width\":288,\"height\":364,\"original_size\":true}],"
        "\"high_resolution\":{\"id\":\"02_025aa\",\"timestamp\":1760263592,\"orientation\":null},"
        "\"is_suspicious\":false,\"full_size_url\":\"https://images1.vinted.net/tc/02_025aa_NWJ7hfHopQtcvzAZNH84QoB1/1760263592.webp?s=fba86d0102f1b241b9c13db6d8b54581820fc915\","
        "\"is_hidden\":false,\"extra\":{}},\"favourite_count\":%d,\"is_favourite\":false,"
        "\"service_fee\":{\"amount\":\"3.9\",\"currency_code\":\"PLN\"},\"total_item_price\":"
        "{\"amount\":\"23.9\",\"currency_code\":\"PLN\"},\"view_count\":0,\"size_title\":\"%s\","
        "\"content_source\":\"search\",\"status\":\"Bardzo dobry\",\"item_box\":{\"first_line\":\"Nike\","
        "\"second_line\":\"%s \xc2\xb7 Bardzo dobry\",\"exposures\":[],\"accessibility_label\":"
        "\"Spodnie ch\xc5\x82opi\xc4\x99" "ce NIKE, marka: Nike, stan: Bardzo dobry, rozmiar: 152 cm / 12 lat, 20,00 z\xc5\x82\","
        "\"badge\":null,\"item_id\":%lld},\"search_tracking_params\":{\"score\":39.74531,"
        "\"matched_queries\":[\"next_search\",\"full_text_search\",\"boost_by_newest_items\"]}}",
        id, i, 10 + i, i % 10, id, 1000 + i, i, 1000 + i, id, i % 50,
        i % 3 == 0 ? "152 cm / 12 lat" : i % 3 == 1 ? "M" : "42",
        i % 3 == 0 ? "152 cm / 12 lat" : i % 3 == 1 ? "M" : "42", id);
}

static double
s_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double) ts.tv_sec + (double) ts.tv_nsec / 1e9;
}

/* Mutated tracking pages never crash and always give a well-formed batch. */
static void
s_test_tracking_mutations(bool verbose)
{
    char *seller = parse_test_fixture(
        "{'items':[{'id':101,'title':'Open','price':{'amount':'12.5','currency_code':'EUR'},"
        "'favourite_count':3,'view_count':40,'is_reserved':true,'is_closed':true,'item_closing_action':'sold',"
        "'user':{'id':500,'login':'ana','feedback_reputation':0.97,'city':'Lisboa'},"
        "'photos':[{'id':1001,'url':'https://img/1001','is_main':true},{'id':1002,'url':'https://img/1002'}]},"
        "{'id':102,'title':'R','price':'20.0','currency':'EUR','photo':{'id':7,'url':'https://i/7'}}],'code':0}");
    const char *item =
        "<html><head>" PARSE_TEST_CRUMBS "<script type=\"application/ld+json\">{\"@type\":\"Product\",\"productID\":\"777\","
        "\"offers\":{\"price\":\"12.50\",\"priceCurrency\":\"EUR\",\"availability\":\"https://schema.org/SoldOut\"}}"
        "</script></head></html>";
    char *profile = parse_test_fixture(
        "{'user':{'id':500,'login':'ana','item_count':4,'feedback_count':12,'feedback_reputation':0.97,"
        "'positive_feedback_count':11,'neutral_feedback_count':1,'negative_feedback_count':0,"
        "'followers_count':3,'city':'Lisboa','country_title':'Portugal'},'code':0}");
    const char *seeds[] = {seller, item, profile};
    const int32_t kinds[] = {PROTO_FETCH_USER_ITEMS, PROTO_FETCH_ITEM_PAGE, PROTO_FETCH_USER};
    static const char *const names[] = {"seller", "item", "profile"};
    uint32_t rng = 777;
    for (int k = 0; k < 3; k++) {
        size_t seed_len = strlen(seeds[k]);
        char *buf = malloc(seed_len + 64);
        assert(buf);
        int observed = 0;
        for (int iter = 0; iter < 1000; iter++) {
            memcpy(buf, seeds[k], seed_len);
            size_t len = seed_len;
            int edits = 1 + (int) (rng % 3);
            for (int e = 0; e < edits && len > 1; e++) {
                rng = rng * 1103515245u + 12345u;
                size_t at = (rng >> 8) % len;
                uint8_t byte = (uint8_t) (rng >> 20);
                switch ((rng >> 28) % 4) {
                case 0: buf[at] = (char) byte; break;
                case 1: len = at; break;
                case 2:
                    memmove(buf + at + 1, buf + at, len - at);
                    buf[at] = "\\\"{}[],:0<>\x00\xff"[byte % 13];
                    len++;
                    break;
                default:
                    memmove(buf + at, buf + at + 1, len - at - 1);
                    len--;
                }
                if (len >= seed_len + 32)
                    break;
            }
            proto_msg_t *m = parse_test_run_kind(buf, len, kinds[k], kinds[k] == PROTO_FETCH_ITEM_PAGE ? 777 : 500, 200);
            observed += (int) (m->u.batch.n_snapshots + m->u.batch.n_users);
            /* a profile gives one users entry or one quarantine record, never both */
            if (kinds[k] == PROTO_FETCH_USER)
                assert(m->u.batch.n_users + m->u.batch.n_quarantine == 1
                       && m->u.batch.n_snapshots == 0 && m->u.batch.n_photos == 0);
            proto_msg_destroy(&m);
        }
        if (verbose)
            printf("   mutations: 1000 %s pages, %d observations\n", names[k], observed);
        free(buf);
    }
    free(seller);
    free(profile);
}

void
parse_test(bool verbose)
{
    if (verbose)
        printf(" * parse:\n");

    /* --- items of both generations */
    parse_item_test(verbose);
    parse_svc_test(verbose);

    proto_msg_t *out, *back;
    uint8_t *wire = NULL;
    size_t wire_len = 0;
    char err[128];

    /* --- a mixed page: positions, and one bad item does not spoil the others */
    out = parse_test_run("{'items':[{'id':11,'title':'A','price':'1','currency':'EUR'},"
                         "{'id':12,'title':'lone \\ud800','price':'1','currency':'EUR'},"
                         "{'id':13,'title':'C','price':'1','currency':'EUR'},"
                         "{'id':14,'price':'1','currency':'EUR'}],"
                         "'pagination':{'current_page':1,'total_pages':1},'code':0}", "pt");
    const proto_batch_t *b = &out->u.batch;
    assert(b->n_items == 2 && b->n_quarantine == 2);
    assert(b->items[0].item_id == 11 && b->items[0].pos == 0);
    assert(b->items[1].item_id == 13 && b->items[1].pos == 2);
    assert(b->quarantine[0].pos == 1 && strcmp(b->quarantine[0].rule, "text_invalid") == 0);
    assert(b->quarantine[1].pos == 3 && strcmp(b->quarantine[1].rule, "title_missing") == 0);
    assert(b->quarantine[1].raw[0] == '{' && b->quarantine[1].raw[b->quarantine[1].raw_len - 1] == '}');
    assert(memmem(b->quarantine[1].raw, b->quarantine[1].raw_len, "\"id\":14", 7));
    wire = NULL;
    assert(proto_encode(out, &wire, &wire_len) == 0);
    back = proto_decode(wire, wire_len, err, sizeof err);
    assert(back && back->u.batch.n_items == 2 && back->u.batch.n_quarantine == 2);
    assert(back->u.batch.quarantine[1].raw_len == b->quarantine[1].raw_len);
    proto_msg_destroy(&back);
    free(wire);
    proto_msg_destroy(&out);

    /* an empty page is fine; a raw NUL inside a string spoils only its item */
    out = parse_test_run("{'items':[]}", "pt");
    assert(out->u.batch.n_items == 0 && out->u.batch.n_quarantine == 0);
    proto_msg_destroy(&out);
    {
        static const char body[] = "{\"items\":[{\"id\":1,\"title\":\"a\0b\",\"price\":\"1\",\"currency\":\"EUR\"},"
                                   "{\"id\":2,\"title\":\"ok\",\"price\":\"1\",\"currency\":\"EUR\"}]}";
        out = parse_test_run_bytes(body, sizeof body - 1, "pt", 200, NULL);
        b = &out->u.batch;
        assert(b->n_items == 1 && b->items[0].item_id == 2);
        assert(b->n_quarantine == 1 && strcmp(b->quarantine[0].rule, "text_invalid") == 0);
        proto_msg_destroy(&out);
        /* a terminating NUL counted in the length is tolerated; so is status 0 (not recorded) */
        static const char term[] = "{\"items\":[]}";
        out = parse_test_run_bytes(term, sizeof term, "pt", 0, NULL);
        assert(out->u.batch.n_items == 0 && out->u.batch.n_quarantine == 0);
        proto_msg_destroy(&out);
    }

    /* --- whole pages rejected */
    if (verbose)
        printf("   pages:\n");
    static const char ok_body[] = "{\"items\":[{\"id\":1,\"title\":\"T\",\"price\":\"1\",\"currency\":\"EUR\"}]}";
    s_expect_page_rule(ok_body, sizeof ok_body - 1, 200, "malformed json", "malformed_page",
                       "malformed json", verbose);
    s_expect_page_rule(ok_body, sizeof ok_body - 1, 403, NULL, "http_error", "403", verbose);
    s_expect_page_rule(ok_body, sizeof ok_body - 1, 500, NULL, "http_error", "500", verbose);
    static const struct {
        const char *body, *detail;
    } pages[] = {
        {"<html><body>Just a moment...</body></html>", "not JSON"},
        {"{\"items\":[{\"id\":1", "not JSON"},
        {"{\"items\":[]} trailing", "trailing data"},
        {"{\"items\":[]}{\"items\":[]}", "trailing data"},
        {"{\"code\":104,\"message\":\"Not found\"}", "code 104: Not found"},
        {"{\"code\":100,\"message_code\":\"invalid_authentication_token\"}",
         "code 100: invalid_authentication_token"},
        {"{\"items\":{}}", "items is not an array"},
        {"{\"items\":null}", "items is not an array"},
        {"[1,2]", "not a JSON object"},
        {"\"items\"", "not a JSON object"},
        {"{\"Items\":[]}", "no items array"},
        {"", "empty body"},
        {"{\"items\":[\"\\ud800\"", "not JSON"},
    };
    for (size_t i = 0; i < sizeof pages / sizeof pages[0]; i++)
        s_expect_page_rule(pages[i].body, strlen(pages[i].body), 200, NULL, "malformed_page",
                           pages[i].detail, verbose);
    /* deep nesting is refused by cJSON's limit, not by the stack */
    {
        size_t depth = 5000;
        char *deep = malloc(2 * depth + 16);
        assert(deep);
        size_t o = (size_t) sprintf(deep, "{\"items\":");
        for (size_t i = 0; i < depth; i++)
            deep[o++] = '[';
        for (size_t i = 0; i < depth; i++)
            deep[o++] = ']';
        deep[o++] = '}';
        s_expect_page_rule(deep, o, 200, NULL, "malformed_page", "not JSON", false);
        free(deep);
    }

    /* --- mutated pages never crash and always give a well-formed batch */
    {
        char *seed = parse_test_fixture(
            "{'items':[{'id':11,'title':'A \\u00e9','price':{'amount':'1.5','currency_code':'EUR'},"
            "'brand_title':'B','size_title':'S / 36','status':'Bom','user':{'id':3,'login':'x'},"
            "'photo':{'url':'https://i/1','high_resolution':{'timestamp':1760263592}},'url':'https://u'},"
            "{'id':12,'title':'C','price':'2','currency':'PLN','item_box':{'first_line':'Z',"
            "'second_line':'W32 | L34 \xc2\xb7 Muito bom'},'photos':[{'url':'/p','is_main':true}],"
            "'url':'/items/12'}],'code':0}");
        size_t seed_len = strlen(seed);
        char *buf = malloc(seed_len + 64);
        assert(buf);
        uint32_t rng = 12345;
        int kept = 0;
        for (int iter = 0; iter < 3000; iter++) {
            memcpy(buf, seed, seed_len);
            size_t len = seed_len;
            int edits = 1 + (int) (rng % 4);
            for (int e = 0; e < edits; e++) {
                rng = rng * 1103515245u + 12345u;
                size_t at = (rng >> 8) % len;
                uint8_t byte = (uint8_t) (rng >> 20);
                switch ((rng >> 28) % 4) {
                case 0: buf[at] = (char) byte; break;                     /* overwrite */
                case 1: len = at; break;                                  /* truncate */
                case 2:                                                   /* insert */
                    memmove(buf + at + 1, buf + at, len - at);
                    buf[at] = "\\\"{}[],:0\x00\xff"[byte % 11];
                    len++;
                    break;
                default:                                                  /* delete */
                    memmove(buf + at, buf + at + 1, len - at - 1);
                    len--;
                }
                if (len == 0 || len >= seed_len + 32)
                    break;
            }
            proto_msg_t *m = parse_test_run_bytes(buf, len, "pt", 200, NULL);
            parse_test_check_batch(&m->u.batch);
            kept += (int) m->u.batch.n_items;
            proto_msg_destroy(&m);
        }
        if (verbose)
            printf("   mutations: 3000 pages, %d items survived\n", kept);
        free(buf);
        free(seed);
    }

    /* --- photos, and the tracking flow's pages */
    parse_photos_test(verbose);
    parse_seller_test(verbose);
    parse_item_page_test(verbose);
    parse_catalogs_test(verbose);
    s_test_tracking_mutations(verbose);

    /* --- throughput on 96-item pages shaped like the real ones */
    if (verbose) {
        size_t cap = 96 * 8192 + 64, len = 0;
        char *page = malloc(cap);
        assert(page);
        len += (size_t) snprintf(page + len, cap - len, "{\"items\":[");
        for (int i = 0; i < 96; i++) {
            if (i)
                page[len++] = ',';
            int n = s_bench_item(page + len, cap - len, i);
            assert(n > 0 && (size_t) n < cap - len);
            len += (size_t) n;
        }
        len += (size_t) snprintf(page + len, cap - len,
                                 "],\"pagination\":{\"current_page\":1,\"total_pages\":10,"
                                 "\"total_entries\":960,\"per_page\":96},\"code\":0}");
        double t0 = s_now(), t = t0;
        long pages_done = 0, items = 0;
        while (t - t0 < 0.5) {
            proto_msg_t *r = parse_test_run_bytes(page, len, "pl", 200, NULL);
            assert(r->u.batch.n_items == 96 && r->u.batch.n_quarantine == 0);
            items += (long) r->u.batch.n_items;
            pages_done++;
            proto_msg_destroy(&r);
            t = s_now();
        }
        double secs = t - t0;
        printf("   throughput: %.0f items/s, %.0f pages/s, %.0f MB/s (96-item pages of %zu KB)\n",
               (double) items / secs, (double) pages_done / secs,
               (double) pages_done * (double) len / secs / 1e6, len / 1024);
        free(page);
    }
    if (verbose)
        printf("   OK\n");
}
