/*  parse_item.c - catalog items (/api/v2/catalog/items and
    /svc-catalogue/items): the item rules of parse.h, which read either API
    generation by the keys present (v2 brand_title, size_title, status,
    absolute url, photo{...}; svc item_box, relative url, photos[]), and the
    catalog item record. Sellers' lists apply the same rules (parse_seller.c).
*/
#include "parse_internal.h"
#include "money.h"
#include "size.h"
#include "common/utf8.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const cJSON *
s_main_photo(const cJSON *it)
{
    const cJSON *photo = parse_get(it, "photo");
    if (cJSON_IsObject(photo))
        return photo;
    const cJSON *photos = parse_get(it, "photos");
    if (!cJSON_IsArray(photos))
        return NULL;
    const cJSON *first = NULL;
    for (const cJSON *p = photos->child; p; p = p->next) {
        if (!cJSON_IsObject(p))
            continue;
        if (!first)
            first = p;
        if (cJSON_IsTrue(parse_get(p, "is_main")))
            return p;
    }
    return first;
}

static char *
s_absolute_url(parse_ctx_t *ctx, const char *url)
{
    if (!url || !*url)
        return NULL;
    if (strncmp(url, "https://", 8) == 0 || strncmp(url, "http://", 7) == 0)
        return parse_dup(ctx, url);
    if (!ctx->base[0])
        return NULL; /* relative, and no usable site to anchor it */
    size_t bn = strlen(ctx->base), un = strlen(url);
    bool slash = url[0] == '/';
    char *d = proto_msg_alloc(ctx->out, bn + un + 2);
    if (!d) {
        ctx->oom = true;
        return NULL;
    }
    memcpy(d, ctx->base, bn);
    if (!slash)
        d[bn++] = '/';
    memcpy(d + bn, url, un + 1);
    return d;
}

/* The item rules (see parse.h), shared by catalog and seller pages.
   0: valid, fields filled; 1: quarantined; -1: out of memory. */
int
parse_validate(parse_ctx_t *ctx, const cJSON *it, int32_t pos, parse_fields_t *f)
{
    char detail[PARSE_DETAIL], r[96];

    if (!cJSON_IsObject(it)) {
        parse_repr(r, sizeof r, it);
        snprintf(detail, sizeof detail, "item is %s, not an object", r);
        return parse_reject_item(ctx, pos, "item_not_object", detail, it) ? -1 : 1;
    }

    /* id */
    int64_t id = 0;
    const cJSON *idn = parse_get(it, "id");
    if (!parse_uint(idn, &id) || id <= 0) {
        parse_repr(r, sizeof r, idn);
        snprintf(detail, sizeof detail, "id is not a positive integer: %s", r);
        return parse_reject_item(ctx, pos, "id_missing", detail, it) ? -1 : 1;
    }
    f->id = id;

    /* prices */
    char mwhy[160];
    int64_t price = 0, fee = PROTO_NULL, total = PROTO_NULL;
    const char *code = NULL;
    const cJSON *pn = parse_get(it, "price");
    if (!pn || cJSON_IsNull(pn))
        pn = parse_get(it, "price_numeric");
    int rc = parse_money(pn, &price, &code, mwhy, sizeof mwhy);
    if (rc == 1)
        return parse_reject_item(ctx, pos, "price_missing", "no price", it) ? -1 : 1;
    if (rc < 0) {
        snprintf(detail, sizeof detail, "price: %s", mwhy);
        return parse_reject_item(ctx, pos, "price_invalid", detail, it) ? -1 : 1;
    }
    static const char *const extra[] = {"service_fee", "total_item_price"};
    int64_t *dest[] = {&fee, &total};
    for (int i = 0; i < 2; i++) {
        int64_t v = 0;
        rc = parse_money(parse_get(it, extra[i]), &v, NULL, mwhy, sizeof mwhy);
        if (rc < 0 || (rc == 0 && v < 0)) {
            if (rc == 0)
                snprintf(mwhy, sizeof mwhy, "negative");
            snprintf(detail, sizeof detail, "%s: %s", extra[i], mwhy);
            return parse_reject_item(ctx, pos, "price_invalid", detail, it) ? -1 : 1;
        }
        if (rc == 0)
            *dest[i] = v;
    }
    if (price <= 0) {
        parse_cents_text(r, sizeof r, price);
        snprintf(detail, sizeof detail, "price is %s", r);
        return parse_reject_item(ctx, pos, "price_not_positive", detail, it) ? -1 : 1;
    }
    f->price = price;
    f->fee = fee;
    f->total = total;

    /* currency: inside the price object, else the legacy separate field */
    if (!code)
        code = parse_string(it, "currency");
    if (!code)
        code = parse_string(it, "currency_code");
    if (!code) {
        const cJSON *cn = parse_get(it, "currency");
        if (!cn || cJSON_IsNull(cn))
            return parse_reject_item(ctx, pos, "currency_unknown", "no currency", it) ? -1 : 1;
        parse_repr(r, sizeof r, cn);
        snprintf(detail, sizeof detail, "currency is %s, not a code", r);
        return parse_reject_item(ctx, pos, "currency_unknown", detail, it) ? -1 : 1;
    }
    if (!money_currency(code, f->currency)) {
        parse_show(r, sizeof r, code);
        snprintf(detail, sizeof detail, "currency \"%s\" is not an ISO 4217 code", r);
        return parse_reject_item(ctx, pos, "currency_unknown", detail, it) ? -1 : 1;
    }

    /* title */
    const cJSON *tn = parse_get(it, "title");
    if (!cJSON_IsString(tn) || parse_blank(tn->valuestring)) {
        parse_repr(r, sizeof r, tn);
        snprintf(detail, sizeof detail, "title is %s",
                 cJSON_IsString(tn) ? "empty" : r);
        return parse_reject_item(ctx, pos, "title_missing", detail, it) ? -1 : 1;
    }
    f->title = tn->valuestring;

    /* brand, size, condition: v2 keys when present, else item_box */
    const cJSON *box = parse_get(it, "item_box");
    const char *brand;
    if (parse_get(it, "brand_title"))
        brand = parse_string(it, "brand_title");
    else
        brand = parse_string(box, "first_line");
    parse_span_t size = {NULL, 0}, cond = {NULL, 0};
    bool v2_size = parse_get(it, "size_title") != NULL;
    const char *st = parse_string(it, "size_title");
    const char *status = parse_string(it, "status");
    if (st)
        size = parse_trim(st, strlen(st));
    if (status)
        cond = parse_trim(status, strlen(status));
    if (!v2_size || !status) {
        parse_span_t s2, c2;
        parse_second_line(parse_string(box, "second_line"), &s2, &c2);
        if (!v2_size)
            size = s2;
        if (!status)
            cond = c2;
    }
    if (brand && parse_blank(brand))
        brand = NULL;
    f->brand = brand;
    f->size = size;
    f->cond = cond;

    /* user, url, photo, counters */
    const cJSON *user = parse_get(it, "user");
    int64_t user_id = PROTO_NULL;
    if (!parse_uint(parse_get(user, "id"), &user_id) && !parse_uint(parse_get(it, "user_id"), &user_id))
        user_id = PROTO_NULL;
    if (user_id == 0)
        user_id = PROTO_NULL;
    f->user_id = user_id;
    f->login = parse_string(user, "login");
    const char *url = parse_string(it, "url");
    if (!url || !*url)
        url = parse_string(it, "path");
    f->url = url;
    f->photo = s_main_photo(it);
    const char *photo_url = parse_string(f->photo, "url");
    if (!photo_url || !*photo_url)
        photo_url = parse_string(f->photo, "full_size_url");
    f->photo_url = photo_url;
    f->created = PROTO_NULL;
    if (!parse_uint(parse_get(parse_get(f->photo, "high_resolution"), "timestamp"), &f->created))
        f->created = PROTO_NULL;
    else
        f->created = parse_plausible_time(f->created);
    f->favourites = parse_count(parse_get(it, "favourite_count"));
    f->views = parse_count(parse_get(it, "view_count"));

    /* text kept verbatim must be UTF-8 without NUL */
    const char *login = f->login;
    struct {
        const char *name;
        const char *s;
        size_t n;
    } texts[] = {
        {"title", f->title, strlen(f->title)},
        {"brand", brand, brand ? strlen(brand) : 0},
        {"size", size.s, size.n},
        {"condition", cond.s, cond.n},
        {"user login", login, login ? strlen(login) : 0},
        {"url", url, url ? strlen(url) : 0},
        {"photo url", photo_url, photo_url ? strlen(photo_url) : 0},
    };
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++)
        if (texts[i].s && !utf8_valid(texts[i].s, texts[i].n)) {
            snprintf(detail, sizeof detail, "%s is not valid UTF-8 or contains NUL", texts[i].name);
            return parse_reject_item(ctx, pos, "text_invalid", detail, it) ? -1 : 1;
        }
    return 0;
}

/* One catalog item: the item and its photos, or a quarantine record. */
int
parse_item(parse_ctx_t *ctx, const cJSON *it, int32_t pos)
{
    parse_fields_t f;
    int rc = parse_validate(ctx, it, pos, &f);
    if (rc != 0)
        return rc < 0 ? -1 : 0;

    proto_batch_t *b = ctx->batch;
    assert(b->n_items < ctx->cap);
    proto_item_t *item = &b->items[b->n_items];
    item->item_id = f.id;
    item->catalog_id = ctx->page->catalog_id;
    item->title = parse_dup(ctx, f.title);
    item->price = f.price;
    item->currency = parse_dupn(ctx, f.currency, 3);
    item->service_fee = f.fee;
    item->total_price = f.total;
    item->brand = parse_dup(ctx, f.brand);
    item->size_title = NULL;
    item->size_kind = NULL;
    item->size_value = NULL;
    if (f.size.s && f.size.n > 0) {
        item->size_title = parse_dupn(ctx, f.size.s, f.size.n);
        char value[SIZE_VALUE_MAX];
        const char *kind = item->size_title ? size_parse(item->size_title, value, sizeof value) : NULL;
        if (kind) {
            item->size_kind = parse_dup(ctx, kind);
            item->size_value = parse_dup(ctx, value);
        }
    }
    item->condition = f.cond.s && f.cond.n > 0 ? parse_dupn(ctx, f.cond.s, f.cond.n) : NULL;
    item->user_id = f.user_id;
    item->user_login = f.login && *f.login ? parse_dup(ctx, f.login) : NULL;
    item->url = s_absolute_url(ctx, f.url);
    item->photo_url = f.photo_url && *f.photo_url ? parse_dup(ctx, f.photo_url) : NULL;
    item->favourite_count = f.favourites;
    item->view_count = f.views;
    item->created_at = f.created;
    item->first_seen_at_ms = ctx->page->fetched_at_ms;
    item->pos = pos;
    item->promoted = cJSON_IsTrue(parse_get(it, "promoted"));
    if (ctx->oom)
        return -1;
    b->n_items++;
    return parse_photos(ctx, it, f.id);
}

/* ------------------------------------------------------------------ test */

void
parse_item_test(bool verbose)
{
    /* --- a v2 item, every field */
    proto_msg_t *out = parse_test_expect_item(
        "{'id':7292729681,'title':'Spodnie ch\xc5\x82opi\xc4\x99" "ce NIKE',"
        "'price':{'amount':'20.0','currency_code':'PLN'},'is_visible':true,'brand_title':'Nike',"
        "'path':'/items/7292729681-spodnie','user':{'id':93043565,'login':'susiaxd',"
        "'profile_url':'https://www.vinted.pl/member/93043565-susiaxd','photo':{'url':'https://x/u.webp'}},"
        "'url':'https://www.vinted.pl/items/7292729681-spodnie','promoted':false,"
        "'photo':{'id':1,'url':'https://images1.vinted.net/t/a/f800/1760263592.webp?s=x','is_main':true,"
        "'high_resolution':{'id':'a','timestamp':1760263592}},'favourite_count':15,"
        "'service_fee':{'amount':'3.9','currency_code':'PLN'},"
        "'total_item_price':{'amount':'23.9','currency_code':'PLN'},'view_count':0,"
        "'size_title':'152 cm / 12 lat','status':'Bardzo dobry',"
        "'item_box':{'first_line':'Nike','second_line':'152 cm / 12 lat \xc2\xb7 Bardzo dobry'}}",
        "pl");
    const proto_item_t *it = &out->u.batch.items[0];
    assert(it->item_id == INT64_C(7292729681));
    assert(it->catalog_id == 221);
    parse_test_streq(it->title, "Spodnie ch\xc5\x82opi\xc4\x99" "ce NIKE");
    assert(it->price == 2000 && it->service_fee == 390 && it->total_price == 2390);
    parse_test_streq(it->currency, "PLN");
    parse_test_streq(it->brand, "Nike");
    parse_test_streq(it->size_title, "152 cm / 12 lat");
    parse_test_streq(it->size_kind, "age");
    parse_test_streq(it->size_value, "12y");
    parse_test_streq(it->condition, "Bardzo dobry");
    assert(it->user_id == 93043565);
    parse_test_streq(it->user_login, "susiaxd");
    parse_test_streq(it->url, "https://www.vinted.pl/items/7292729681-spodnie");
    parse_test_streq(it->photo_url, "https://images1.vinted.net/t/a/f800/1760263592.webp?s=x");
    assert(it->favourite_count == 15 && it->view_count == 0);
    assert(it->created_at == 1760263592);
    assert(it->first_seen_at_ms == INT64_C(1764092806123));
    assert(!it->promoted);
    assert(proto_item_null_mask(it) == 0);

    /* the batch survives the wire */
    uint8_t *wire = NULL;
    size_t wire_len = 0;
    assert(proto_encode(out, &wire, &wire_len) == 0);
    char err[128];
    proto_msg_t *back = proto_decode(wire, wire_len, err, sizeof err);
    assert(back);
    assert(back->cmd == PROTO_RESULT && back->task_id == 99 && back->body == PROTO_BODY_BATCH);
    assert(back->u.batch.n_items == 1);
    assert(back->u.batch.items[0].item_id == INT64_C(7292729681));
    parse_test_streq(back->u.batch.items[0].size_value, "12y");
    proto_msg_destroy(&back);
    free(wire);
    proto_msg_destroy(&out);

    /* --- an svc-catalogue item: item_box, relative url, photos[], no timestamp */
    out = parse_test_expect_item(
        "{'business_user':false,'favourite_count':3,'id':7300000001,"
        "'item_box':{'first_line':'Zara','second_line':'M \xc2\xb7 Muito bom'},"
        "'photos':[{'url':'https://img/1.webp','is_main':false,'high_resolution':{'id':'x'}},"
        "{'url':'https://img/2.webp','is_main':true,'high_resolution':{'id':'y'}}],"
        "'price':{'amount':'12.50','currency_code':'EUR'},'promoted':true,'title':'Blusa',"
        "'url':'/items/7300000001-blusa','user':{'business':false,'id':5,'login':'ana'},'view_count':2}",
        "pt");
    it = &out->u.batch.items[0];
    assert(it->item_id == INT64_C(7300000001));
    parse_test_streq(it->brand, "Zara");
    parse_test_streq(it->size_title, "M");
    parse_test_streq(it->size_kind, "letter");
    parse_test_streq(it->size_value, "M");
    parse_test_streq(it->condition, "Muito bom");
    parse_test_streq(it->url, "https://www.vinted.pt/items/7300000001-blusa");
    parse_test_streq(it->photo_url, "https://img/2.webp");
    assert(it->created_at == PROTO_NULL);
    assert(it->price == 1250 && it->service_fee == PROTO_NULL && it->total_price == PROTO_NULL);
    assert(it->user_id == 5 && it->view_count == 2 && it->favourite_count == 3 && it->promoted);
    assert(proto_item_null_mask(it) == PROTO_NULL_CREATED);
    proto_msg_destroy(&out);

    /* numbers the database cannot hold are unknown, not a failed batch */
    out = parse_test_run("{'items':[{'id':7300000002,'title':'Huge counters','price':{'amount':'5','currency_code':'EUR'},"
                         "'favourite_count':3000000000,'view_count':1e30,"
                         "'photo':{'url':'https://img/3.webp','high_resolution':{'timestamp':100000000000000}}}]}",
                         "pt");
    assert(out->u.batch.n_items == 1 && out->u.batch.n_quarantine == 0);
    it = &out->u.batch.items[0];
    assert(it->favourite_count == PROTO_NULL && it->view_count == PROTO_NULL && it->created_at == PROTO_NULL);
    proto_msg_destroy(&out);

    /* a photo timestamp in milliseconds is the same time */
    out = parse_test_run("{'items':[{'id':7300000003,'title':'Ms','price':{'amount':'5','currency_code':'EUR'},"
                         "'photo':{'url':'https://img/3.webp','high_resolution':{'timestamp':1760263592123}}}]}",
                         "pt");
    assert(out->u.batch.n_items == 1 && out->u.batch.items[0].created_at == 1760263592);
    proto_msg_destroy(&out);


    /* no item_box at all, v2 empty strings: NULLs, not errors */
    out = parse_test_expect_item("{'id':1,'title':'T','price':'2.5','currency':'EUR'}", "pt");
    it = &out->u.batch.items[0];
    assert(!it->brand && !it->size_title && !it->size_kind && !it->condition && !it->url);
    assert(!it->photo_url && it->user_id == PROTO_NULL && !it->user_login);
    assert(it->favourite_count == PROTO_NULL && it->view_count == PROTO_NULL);
    assert(it->price == 250);
    uint32_t mask = proto_item_null_mask(it);
    assert(mask & PROTO_NULL_BRAND && mask & PROTO_NULL_SIZE && mask & PROTO_NULL_URL);
    proto_msg_destroy(&out);
    out = parse_test_expect_item("{'id':1,'title':'T','price':'2.5','currency':'EUR','brand_title':'',"
                                 "'size_title':'','status':'Good','item_box':{'first_line':'X','second_line':'M'}}",
                                 "pt");
    it = &out->u.batch.items[0];
    assert(!it->brand && !it->size_title);
    parse_test_streq(it->condition, "Good");
    proto_msg_destroy(&out);

    /* --- prices and ids in every accepted form */
    static const struct {
        const char *item;
        int64_t id, price, fee;
        const char *currency;
    } forms[] = {
        {"{'id':1,'title':'T','price':'3.0','currency':'EUR'}", 1, 300, PROTO_NULL, "EUR"},
        {"{'id':2,'title':'T','price':12.5,'currency':'eur'}", 2, 1250, PROTO_NULL, "EUR"},
        {"{'id':3,'title':'T','price':{'amount':20,'currency_code':'GBP'}}", 3, 2000, PROTO_NULL, "GBP"},
        {"{'id':4,'title':'T','price':{'amount':'0.05'},'currency':'SEK'}", 4, 5, PROTO_NULL, "SEK"},
        {"{'id':'7292729681','title':'T','price':'1','currency':'HUF'}", INT64_C(7292729681), 100,
         PROTO_NULL, "HUF"},
        {"{'id':9007199254740991,'title':'T','price':'1','currency':'CZK'}",
         INT64_C(9007199254740991), 100, PROTO_NULL, "CZK"},
        {"{'id':6,'title':'T','price_numeric':'5.00','currency':'DKK'}", 6, 500, PROTO_NULL, "DKK"},
        {"{'id':7,'title':'T','price':'19.99','service_fee':'0','currency':'RON'}", 7, 1999, 0, "RON"},
        {"{'id':8,'title':'T','price':{'amount':'1.5','currency_code':'USD'},"
         "'service_fee':{'amount':'0.85','currency_code':'USD'},'total_item_price':null}",
         8, 150, 85, "USD"},
        {"{'id':9,'title':'T','price':'9999999999.99','currency':'PLN'}", 9,
         INT64_C(999999999999), PROTO_NULL, "PLN"},
    };
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        out = parse_test_expect_item(forms[i].item, "pt");
        it = &out->u.batch.items[0];
        assert(it->item_id == forms[i].id);
        assert(it->price == forms[i].price);
        assert(it->service_fee == forms[i].fee);
        assert(it->total_price == PROTO_NULL);
        parse_test_streq(it->currency, forms[i].currency);
        proto_msg_destroy(&out);
    }

    /* --- every rule, and their order */
    static const struct {
        const char *item, *rule;
    } rules[] = {
        {"42", "item_not_object"},
        {"'just text'", "item_not_object"},
        {"[1,2]", "item_not_object"},
        {"null", "item_not_object"},
        {"{'title':'T','price':'1.0','currency':'EUR'}", "id_missing"},
        {"{'id':'abc','title':'T','price':'1.0','currency':'EUR'}", "id_missing"},
        {"{'id':-5,'title':'T','price':'1.0','currency':'EUR'}", "id_missing"},
        {"{'id':0,'title':'T','price':'1.0','currency':'EUR'}", "id_missing"},
        {"{'id':1.5,'title':'T','price':'1.0','currency':'EUR'}", "id_missing"},
        {"{'id':1e300,'title':'T','price':'1.0','currency':'EUR'}", "id_missing"},
        {"{'id':null,'title':'T','price':'1.0','currency':'EUR'}", "id_missing"},
        {"{'id':true,'title':'T','price':'1.0','currency':'EUR'}", "id_missing"},
        {"{'id':1,'title':'T'}", "price_missing"},
        {"{'id':1,'title':'T','price':null,'currency':'EUR'}", "price_missing"},
        {"{'id':1,'title':'T','price':{'currency_code':'EUR'}}", "price_missing"},
        {"{'id':1,'title':'T','price':'20.555','currency':'EUR'}", "price_invalid"},
        {"{'id':1,'title':'T','price':'abc','currency':'EUR'}", "price_invalid"},
        {"{'id':1,'title':'T','price':true,'currency':'EUR'}", "price_invalid"},
        {"{'id':1,'title':'T','price':[1],'currency':'EUR'}", "price_invalid"},
        {"{'id':1,'title':'T','price':{'amount':'1,5','currency_code':'EUR'}}", "price_invalid"},
        {"{'id':1,'title':'T','price':{'amount':'1e20','currency_code':'EUR'}}", "price_invalid"},
        {"{'id':1,'title':'T','price':'1','currency':'EUR','service_fee':'x'}", "price_invalid"},
        {"{'id':1,'title':'T','price':'1','currency':'EUR','service_fee':'-1'}", "price_invalid"},
        {"{'id':1,'title':'T','price':'1','currency':'EUR','total_item_price':{'amount':'1.234'}}",
         "price_invalid"},
        {"{'id':1,'title':'T','price':'0.0','currency':'EUR'}", "price_not_positive"},
        {"{'id':1,'title':'T','price':'-1','currency':'EUR'}", "price_not_positive"},
        {"{'id':1,'title':'T','price':{'amount':'0','currency_code':'EUR'}}", "price_not_positive"},
        {"{'id':1,'title':'T','price':'1.0'}", "currency_unknown"},
        {"{'id':1,'title':'T','price':'1.0','currency':'XYZ'}", "currency_unknown"},
        {"{'id':1,'title':'T','price':{'amount':'1','currency_code':'EURO'}}", "currency_unknown"},
        {"{'id':1,'title':'T','price':'1.0','currency':5}", "currency_unknown"},
        {"{'id':1,'title':'T','price':{'amount':'1','currency_code':'z\xc5\x82'}}", "currency_unknown"},
        {"{'id':1,'price':'1.0','currency':'EUR'}", "title_missing"},
        {"{'id':1,'title':'','price':'1.0','currency':'EUR'}", "title_missing"},
        {"{'id':1,'title':'  \\t ','price':'1.0','currency':'EUR'}", "title_missing"},
        {"{'id':1,'title':42,'price':'1.0','currency':'EUR'}", "title_missing"},
        {"{'id':1,'title':null,'price':'1.0','currency':'EUR'}", "title_missing"},
        {"{'id':1,'title':'bad \xff byte','price':'1.0','currency':'EUR'}", "text_invalid"},
        {"{'id':1,'title':'cut \xc3','price':'1.0','currency':'EUR'}", "text_invalid"},
        {"{'id':1,'title':'nul \\u0000 inside','price':'1.0','currency':'EUR'}", "text_invalid"},
        {"{'id':1,'title':'lone \\ud800 surrogate','price':'1.0','currency':'EUR'}", "text_invalid"},
        {"{'id':1,'title':'lone \\uDC00 low','price':'1.0','currency':'EUR'}", "text_invalid"},
        {"{'id':1,'title':'T','brand_title':'B\\u0000','price':'1.0','currency':'EUR'}", "text_invalid"},
        {"{'id':1,'title':'T','price':'1.0','currency':'EUR','user':{'id':2,'login':'\xc0\xaf'}}",
         "text_invalid"},
        {"{'id':1,'title':'T','price':'1.0','currency':'EUR','item_box':{'second_line':'M \xc2\xb7 \xed\xa0\x80'}}",
         "text_invalid"},
        /* order: the first failing rule wins */
        {"{'title':'','price':'abc'}", "id_missing"},
        {"{'id':1,'price':'abc'}", "price_invalid"},
        {"{'id':1,'price':'0','currency':'XYZ'}", "price_not_positive"},
        {"{'id':1,'price':'1','currency':'XYZ','title':''}", "currency_unknown"},
        {"{'id':1,'price':'1','currency':'EUR','title':'','brand_title':'\xff'}", "title_missing"},
    };
    if (verbose)
        printf("   rules:\n");
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++)
        parse_test_expect_rule(rules[i].item, rules[i].rule, verbose);

    /* --- awkward titles are kept byte for byte */
    static const struct {
        const char *json, *want;
    } titles[] = {
        {"He said \\'hi\\'", "He said \"hi\""},
        {"line\\nbreak\\ttab", "line\nbreak\ttab"},
        {"\\u00e9t\\u00e9 \\u20ac", "\xc3\xa9t\xc3\xa9 \xe2\x82\xac"},
        {"back\\\\slash \\\\u0000 not a nul", "back\\slash \\u0000 not a nul"},
        {"\\ud83d\\udc57 dress \xf0\x9f\x91\x97", "\xf0\x9f\x91\x97 dress \xf0\x9f\x91\x97"},
        {"\xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d \xd9\x85\xd8\xb1\xd8\xad\xd8\xa8\xd8\xa7",
         "\xd7\xa9\xd7\x9c\xd7\x95\xd7\x9d \xd9\x85\xd8\xb1\xd8\xad\xd8\xa8\xd8\xa7"},
        {"  padded  ", "  padded  "},
        {"<script>alert(1)</script>; DROP TABLE items;--", "<script>alert(1)</script>; DROP TABLE items;--"},
        {"\\u0001ctrl", "\x01" "ctrl"},
    };
    for (size_t i = 0; i < sizeof titles / sizeof titles[0]; i++) {
        char item[512];
        snprintf(item, sizeof item, "{'id':1,'title':'%s','price':'1','currency':'EUR'}",
                 titles[i].json);
        out = parse_test_expect_item(item, "pt");
        parse_test_streq(out->u.batch.items[0].title, titles[i].want);
        proto_msg_destroy(&out);
    }

    /* --- urls: relative ones anchored on the page's site, only a sane site */
    static const struct {
        const char *site, *url, *want;
    } urls[] = {
        {"pt", "/items/1-x", "https://www.vinted.pt/items/1-x"},
        {"co.uk", "/items/1-x", "https://www.vinted.co.uk/items/1-x"},
        {"fr", "items/1-x", "https://www.vinted.fr/items/1-x"},
        {"fr", "https://www.vinted.fr/items/1-x", "https://www.vinted.fr/items/1-x"},
        {NULL, "/items/1-x", NULL},
        {"evil.com/x", "/items/1-x", NULL},
        {"PT", "/items/1-x", NULL},
        {"pt", "", NULL},
    };
    for (size_t i = 0; i < sizeof urls / sizeof urls[0]; i++) {
        char item[512];
        snprintf(item, sizeof item, "{'id':1,'title':'T','price':'1','currency':'EUR','url':'%s'}",
                 urls[i].url);
        out = parse_test_expect_item(item, urls[i].site);
        parse_test_streq(out->u.batch.items[0].url, urls[i].want);
        proto_msg_destroy(&out);
    }
    /* v2 path when url is absent; photos[] without is_main takes the first */
    out = parse_test_expect_item("{'id':1,'title':'T','price':'1','currency':'EUR','path':'/items/1-p',"
                                 "'photos':[7,{'url':'https://img/a'},{'url':'https://img/b'}]}", "de");
    parse_test_streq(out->u.batch.items[0].url, "https://www.vinted.de/items/1-p");
    parse_test_streq(out->u.batch.items[0].photo_url, "https://img/a");
    proto_msg_destroy(&out);
}
