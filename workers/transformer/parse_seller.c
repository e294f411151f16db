/*  parse_seller.c - a seller's pages: the item list (/api/v2/users/{id}/items),
    one snapshot per valid item and the seller from the first one that embeds
    them, and the profile (/api/v2/users/{id}), one users entry.
*/
#include "parse_internal.h"
#include "common/utf8.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A 0..1 reputation, as JSON number or decimal text, in thousandths rounded
   half up: 0.9725 -> 973. A number is read back as the shortest text that
   gives the same double (what the sender wrote). -1 if not such a value. */
static int
s_thousandths(const cJSON *n, int64_t *out)
{
    char text[40];
    const char *s;
    if (cJSON_IsNumber(n)) {
        double v = n->valuedouble;
        if (!(v >= 0 && v <= 1))
            return -1;
        for (int prec = 1; prec <= 17; prec++) {
            snprintf(text, sizeof text, "%.*f", prec, v);
            if (strtod(text, NULL) == v)
                break;
        }
        s = text;
    }
    else if (cJSON_IsString(n))
        s = n->valuestring;
    else
        return -1;
    /* [digits][.digits], value <= 1 */
    int64_t whole = 0, frac = 0;
    int nd = 0, nf = 0;
    for (; *s >= '0' && *s <= '9'; s++, nd++)
        if ((whole = whole * 10 + (*s - '0')) > 1)
            return -1;
    if (*s == '.') {
        for (s++; *s >= '0' && *s <= '9'; s++, nf++) {
            if (nf < 3)
                frac = frac * 10 + (*s - '0');
            else if (nf == 3 && *s >= '5')
                frac++; /* half up; later digits cannot change it */
        }
    }
    if (*s != '\0' || nd + nf == 0)
        return -1;
    for (int k = nf; k < 3; k++)
        frac *= 10;
    int64_t v = whole * 1000 + frac;
    if (v > 1000)
        return -1;
    *out = v;
    return 0;
}

/* A text worth keeping: valid UTF-8, not blank; else NULL. */
static char *
s_text(parse_ctx_t *ctx, const char *s)
{
    if (!s || parse_blank(s) || !utf8_valid(s, strlen(s)))
        return NULL;
    return parse_dup(ctx, s);
}

/* The seller, from the embedded user object of an item of their list. */
static int
s_seller(parse_ctx_t *ctx, const cJSON *user, int64_t user_id)
{
    proto_batch_t *b = ctx->batch;
    b->users = proto_msg_alloc(ctx->out, sizeof *b->users);
    if (!b->users)
        return -1;
    proto_user_snapshot_t *u = &b->users[0];
    u->user_id = user_id;
    u->login = s_text(ctx, parse_string(user, "login"));
    u->item_count = parse_count(parse_get(user, "item_count"));
    u->feedback_count = parse_count(parse_get(user, "feedback_count"));
    if (s_thousandths(parse_get(user, "feedback_reputation"), &u->feedback_reputation) != 0)
        u->feedback_reputation = PROTO_NULL;
    u->positive_feedback_count = parse_count(parse_get(user, "positive_feedback_count"));
    u->neutral_feedback_count = parse_count(parse_get(user, "neutral_feedback_count"));
    u->negative_feedback_count = parse_count(parse_get(user, "negative_feedback_count"));
    u->followers_count = parse_count(parse_get(user, "followers_count"));
    u->city = s_text(ctx, parse_string(user, "city"));
    const char *country = parse_string(user, "country_title");
    if (!country || parse_blank(country))
        country = parse_string(user, "country_code");
    if (!country || parse_blank(country))
        country = parse_string(user, "country");
    u->country = s_text(ctx, country);
    if (ctx->oom)
        return -1;
    b->n_users = 1;
    return 0;
}

/* One item of a seller's list: a snapshot and its photos, or a quarantine
   record (the catalog rules). The first valid item also gives the seller. */
int
parse_seller_item(parse_ctx_t *ctx, const cJSON *it, int32_t pos)
{
    parse_fields_t f;
    int rc = parse_validate(ctx, it, pos, &f);
    if (rc != 0)
        return rc < 0 ? -1 : 0;
    const cJSON *can = parse_get(it, "item_closing_action");
    const char *action = NULL;
    if (cJSON_IsString(can) && !parse_blank(can->valuestring))
        action = can->valuestring;
    else if (can && !cJSON_IsNull(can) && !cJSON_IsString(can)) {
        char r[96], detail[PARSE_DETAIL];
        parse_repr(r, sizeof r, can);
        snprintf(detail, sizeof detail, "item_closing_action is %s, not a text", r);
        return parse_reject_item(ctx, pos, "text_invalid", detail, it);
    }
    if (action && !utf8_valid(action, strlen(action)))
        return parse_reject_item(ctx, pos, "text_invalid",
                                 "item_closing_action is not valid UTF-8 or contains NUL", it);

    proto_batch_t *b = ctx->batch;
    int64_t seller = ctx->page->target_id > 0 ? ctx->page->target_id : PROTO_NULL;
    int64_t user_id = f.user_id != PROTO_NULL ? f.user_id : seller;
    const cJSON *user = parse_get(it, "user");
    if (b->n_users == 0 && user_id != PROTO_NULL && cJSON_IsObject(user) && s_seller(ctx, user, user_id) != 0)
        return -1;
    for (size_t i = 0; i < b->n_snapshots; i++)
        if (b->snapshots[i].item_id == f.id)
            return 0; /* shown twice on one page: one observation */
    assert(b->n_snapshots < ctx->cap);
    proto_snapshot_t *s = &b->snapshots[b->n_snapshots];
    s->item_id = f.id;
    s->user_id = user_id;
    s->price = f.price;
    s->currency = parse_dupn(ctx, f.currency, 3);
    s->favourite_count = f.favourites;
    s->view_count = f.views;
    s->is_reserved = cJSON_IsTrue(parse_get(it, "is_reserved"));
    s->is_hidden = cJSON_IsTrue(parse_get(it, "is_hidden"));
    s->is_closed = cJSON_IsTrue(parse_get(it, "is_closed"));
    s->closing_action = parse_dup(ctx, action);
    s->removed = false;
    if (ctx->oom)
        return -1;
    b->n_snapshots++;
    return parse_photos(ctx, it, f.id);
}

/* A seller's profile {user:{...}}: one users entry, or a quarantine record
   (no user object: malformed_page; a bad or other id: id_missing, id_mismatch;
   a kept text that is not UTF-8: text_invalid). */
int
parse_profile(parse_ctx_t *ctx, const cJSON *root)
{
    char detail[PARSE_DETAIL], r[96];
    const cJSON *user = parse_get(root, "user");
    if (!cJSON_IsObject(user)) {
        parse_missing(root, "user", false, detail, sizeof detail);
        return parse_reject_page(ctx, "malformed_page", detail);
    }
    proto_batch_t *b = ctx->batch;
    b->quarantine = proto_msg_alloc(ctx->out, sizeof *b->quarantine);
    if (!b->quarantine)
        return -1;
    ctx->cap = 1;
    int64_t id = 0;
    const cJSON *idn = parse_get(user, "id");
    if (!parse_uint(idn, &id) || id <= 0) {
        parse_repr(r, sizeof r, idn);
        snprintf(detail, sizeof detail, "user.id is not a positive integer: %s", r);
        return parse_reject_item(ctx, 0, "id_missing", detail, user);
    }
    if (id != ctx->page->target_id) {
        snprintf(detail, sizeof detail, "the profile is user %lld, not %lld", (long long) id,
                 (long long) ctx->page->target_id);
        return parse_reject_item(ctx, 0, "id_mismatch", detail, user);
    }
    static const char *const texts[] = {"login", "city", "country_title", "country_code", "country"};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        const char *t = parse_string(user, texts[i]);
        if (t && !utf8_valid(t, strlen(t))) {
            snprintf(detail, sizeof detail, "user.%s is not valid UTF-8 or contains NUL", texts[i]);
            return parse_reject_item(ctx, 0, "text_invalid", detail, user);
        }
    }
    return s_seller(ctx, user, id);
}

/* ------------------------------------------------------------------ test */

static void
s_test_seller(bool verbose)
{
    if (verbose)
        printf("   seller pages:\n");
    proto_msg_t *out = parse_test_run_fixture(
        "{'items':["
        /* 0: open, every counter, the seller with some of theirs */
        "{'id':101,'title':'Open','price':{'amount':'12.5','currency_code':'EUR'},'price_numeric':'12.5',"
        "'currency':'EUR','favourite_count':3,'view_count':40,'is_reserved':false,'is_hidden':false,"
        "'is_closed':false,'item_closing_action':null,'is_visible':true,"
        "'user':{'id':500,'login':'ana','profile_url':'https://www.vinted.pt/member/500-ana',"
        "'feedback_reputation':0.9725,'feedback_count':12,'city':'Lisboa','country_title':'Portugal'},"
        "'photos':[{'id':1001,'url':'https://img/1001','is_main':true},{'id':1002,'url':'https://img/1002','is_main':false}]},"
        /* 1: reserved, legacy price, no counters */
        "{'id':102,'title':'Reserved','price':'20.0','currency':'EUR','is_reserved':true,'is_closed':false,"
        "'user':{'id':500,'login':'ana'}},"
        /* 2: hidden, only price_numeric */
        "{'id':103,'title':'Hidden','price_numeric':'7.00','currency':'EUR','is_hidden':true,'is_visible':false,"
        "'favourite_count':0,'view_count':0,'user':{'id':500}},"
        /* 3: sold */
        "{'id':104,'title':'Sold','price':{'amount':'9.99','currency_code':'EUR'},'is_closed':true,"
        "'item_closing_action':'sold','favourite_count':8,'view_count':99,'user':{'id':500},"
        "'photos':[{'id':1041,'url':'https://img/1041'}]},"
        /* 4, 5: broken, quarantined like catalog items */
        "{'title':'No id','price':'1','currency':'EUR'},"
        "{'id':106,'title':'Bad price','price':{'amount':'abc','currency_code':'EUR'}},"
        /* 6: shown twice */
        "{'id':101,'title':'Open','price':{'amount':'12.5','currency_code':'EUR'},'user':{'id':500}},"
        /* 7: no user object: the seller asked for */
        "{'id':107,'title':'Bare','price':'3','currency':'EUR','favourite_count':1e12}"
        "],'pagination':{'current_page':1,'total_pages':1},'code':0}",
        PROTO_FETCH_USER_ITEMS, 500, 200);
    const proto_batch_t *b = &out->u.batch;
    assert(b->n_items == 0 && !b->items);
    assert(b->n_snapshots == 5 && b->n_quarantine == 2 && b->n_users == 1);
    assert(b->quarantine[0].pos == 4 && strcmp(b->quarantine[0].rule, "id_missing") == 0);
    assert(b->quarantine[1].pos == 5 && strcmp(b->quarantine[1].rule, "price_invalid") == 0);
    const proto_snapshot_t *s = &b->snapshots[0];
    assert(s->item_id == 101 && s->user_id == 500 && s->price == 1250);
    parse_test_streq(s->currency, "EUR");
    assert(s->favourite_count == 3 && s->view_count == 40);
    assert(!s->is_reserved && !s->is_hidden && !s->is_closed && !s->removed && !s->closing_action);
    s = &b->snapshots[1];
    assert(s->item_id == 102 && s->price == 2000 && s->is_reserved && !s->is_closed);
    assert(s->favourite_count == PROTO_NULL && s->view_count == PROTO_NULL);
    s = &b->snapshots[2];
    assert(s->item_id == 103 && s->price == 700 && s->is_hidden && !s->is_reserved);
    assert(s->favourite_count == 0 && s->view_count == 0);
    s = &b->snapshots[3];
    assert(s->item_id == 104 && s->price == 999 && s->is_closed && !s->removed);
    parse_test_streq(s->closing_action, "sold");
    assert(s->favourite_count == 8 && s->view_count == 99);
    s = &b->snapshots[4];
    assert(s->item_id == 107 && s->user_id == 500 && s->price == 300);
    assert(s->favourite_count == PROTO_NULL); /* beyond int */
    const proto_user_snapshot_t *u = &b->users[0];
    assert(u->user_id == 500);
    parse_test_streq(u->login, "ana");
    assert(u->feedback_reputation == 973 && u->feedback_count == 12);
    assert(u->item_count == PROTO_NULL && u->positive_feedback_count == PROTO_NULL);
    assert(u->neutral_feedback_count == PROTO_NULL && u->negative_feedback_count == PROTO_NULL);
    assert(u->followers_count == PROTO_NULL);
    parse_test_streq(u->city, "Lisboa");
    parse_test_streq(u->country, "Portugal");
    assert(b->n_photos == 3);
    parse_test_expect_photo(b, 101, 1001, "https://img/1001", true, 0);
    parse_test_expect_photo(b, 101, 1002, "https://img/1002", false, 1);
    parse_test_expect_photo(b, 104, 1041, "https://img/1041", true, 0);
    /* the observations survive the wire */
    uint8_t *wire = NULL;
    size_t wire_len = 0;
    char err[128];
    assert(proto_encode(out, &wire, &wire_len) == 0);
    proto_msg_t *back = proto_decode(wire, wire_len, err, sizeof err);
    if (!back)
        fprintf(stderr, "parse: seller batch does not decode: %s\n", err);
    assert(back);
    const proto_batch_t *bb = &back->u.batch;
    assert(bb->n_snapshots == 5 && bb->n_users == 1 && bb->n_photos == 3 && bb->n_quarantine == 2);
    assert(bb->snapshots[3].item_id == 104 && bb->snapshots[3].is_closed);
    parse_test_streq(bb->snapshots[3].closing_action, "sold");
    assert(bb->snapshots[1].favourite_count == PROTO_NULL && bb->snapshots[1].is_reserved);
    assert(bb->users[0].feedback_reputation == 973 && bb->users[0].item_count == PROTO_NULL);
    parse_test_streq(bb->users[0].city, "Lisboa");
    assert(bb->photos[1].photo_id == 1002 && !bb->photos[1].is_main && bb->photos[1].position == 1);
    proto_msg_destroy(&back);
    free(wire);
    if (verbose)
        printf("     %zu snapshots, %zu photos, %zu quarantined, seller %lld reputation %lld\n",
               b->n_snapshots, b->n_photos, b->n_quarantine, (long long) u->user_id,
               (long long) u->feedback_reputation);
    proto_msg_destroy(&out);

    /* the seller's counters in every form */
    static const struct {
        const char *user;
        int64_t reputation, feedback, followers;
        const char *country;
    } sellers[] = {
        {"{'id':9,'login':'x'}", PROTO_NULL, PROTO_NULL, PROTO_NULL, NULL},
        {"{'id':9,'feedback_reputation':1,'feedback_count':0,'followers_count':5,'country_code':'PT'}",
         1000, 0, 5, "PT"},
        {"{'id':9,'feedback_reputation':0,'country_title':' ','country_code':'FR'}", 0, PROTO_NULL, PROTO_NULL, "FR"},
        {"{'id':9,'feedback_reputation':0.5}", 500, PROTO_NULL, PROTO_NULL, NULL},
        {"{'id':9,'feedback_reputation':0.97}", 970, PROTO_NULL, PROTO_NULL, NULL},
        {"{'id':9,'feedback_reputation':0.973}", 973, PROTO_NULL, PROTO_NULL, NULL},
        {"{'id':9,'feedback_reputation':0.97249}", 972, PROTO_NULL, PROTO_NULL, NULL},
        {"{'id':9,'feedback_reputation':0.0005}", 1, PROTO_NULL, PROTO_NULL, NULL},
        {"{'id':9,'feedback_reputation':0.99951}", 1000, PROTO_NULL, PROTO_NULL, NULL},
        {"{'id':9,'feedback_reputation':'0.9725'}", 973, PROTO_NULL, PROTO_NULL, NULL},
        {"{'id':9,'feedback_reputation':1.5,'feedback_count':-1}", PROTO_NULL, PROTO_NULL, PROTO_NULL, NULL},
        {"{'id':9,'feedback_reputation':-0.1,'feedback_count':1.5}", PROTO_NULL, PROTO_NULL, PROTO_NULL, NULL},
        {"{'id':9,'feedback_reputation':'high','feedback_count':'7'}", PROTO_NULL, 7, PROTO_NULL, NULL},
        {"{'id':9,'feedback_reputation':true,'feedback_count':null}", PROTO_NULL, PROTO_NULL, PROTO_NULL, NULL},
        {"{'id':9,'feedback_reputation':'1.0005'}", PROTO_NULL, PROTO_NULL, PROTO_NULL, NULL},
    };
    for (size_t i = 0; i < sizeof sellers / sizeof sellers[0]; i++) {
        char page[512];
        snprintf(page, sizeof page, "{'items':[{'id':1,'title':'T','price':'1','currency':'EUR','user':%s}]}",
                 sellers[i].user);
        out = parse_test_run_fixture(page, PROTO_FETCH_USER_ITEMS, 9, 200);
        b = &out->u.batch;
        assert(b->n_snapshots == 1 && b->n_users == 1);
        u = &b->users[0];
        if (u->feedback_reputation != sellers[i].reputation)
            fprintf(stderr, "parse: seller %s -> reputation %lld\n", sellers[i].user,
                    (long long) u->feedback_reputation);
        assert(u->user_id == 9);
        assert(u->feedback_reputation == sellers[i].reputation);
        assert(u->feedback_count == sellers[i].feedback);
        assert(u->followers_count == sellers[i].followers);
        parse_test_streq(u->country, sellers[i].country);
        assert(!u->city);
        proto_msg_destroy(&out);
    }

    /* a seller whose list holds only broken items, or none: no seller row */
    out = parse_test_run_fixture("{'items':[{'title':'x','price':'1','currency':'EUR','user':{'id':9,'login':'x'}}]}",
                                 PROTO_FETCH_USER_ITEMS, 9, 200);
    assert(out->u.batch.n_snapshots == 0 && out->u.batch.n_users == 0 && out->u.batch.n_quarantine == 1);
    proto_msg_destroy(&out);
    out = parse_test_run_fixture("{'items':[],'pagination':{'current_page':1,'total_pages':0}}", PROTO_FETCH_USER_ITEMS, 9, 200);
    assert(out->u.batch.n_snapshots == 0 && out->u.batch.n_users == 0 && out->u.batch.n_quarantine == 0);
    proto_msg_destroy(&out);
    /* the seller comes from the first valid item that embeds them */
    out = parse_test_run_fixture("{'items':[{'id':1,'title':'T','price':'1','currency':'EUR'},"
                                 "{'id':2,'title':'T','price':'1','currency':'EUR','user':{'id':9,'login':'bo'}}]}",
                                 PROTO_FETCH_USER_ITEMS, 9, 200);
    assert(out->u.batch.n_snapshots == 2 && out->u.batch.n_users == 1);
    assert(out->u.batch.snapshots[0].user_id == 9 && out->u.batch.users[0].user_id == 9);
    parse_test_streq(out->u.batch.users[0].login, "bo");
    proto_msg_destroy(&out);
    /* a closing action that is not a text is rejected with a reason */
    out = parse_test_run_fixture("{'items':[{'id':1,'title':'T','price':'1','currency':'EUR','item_closing_action':5}]}",
                                 PROTO_FETCH_USER_ITEMS, 9, 200);
    assert(out->u.batch.n_snapshots == 0 && out->u.batch.n_quarantine == 1);
    parse_test_streq(out->u.batch.quarantine[0].rule, "text_invalid");
    proto_msg_destroy(&out);
    /* whole pages: an unknown seller, a page without items */
    static const char unknown[] = "{\"code\":104,\"message\":\"Not found\"}";
    out = parse_test_run_kind(unknown, sizeof unknown - 1, PROTO_FETCH_USER_ITEMS, 9, 404);
    assert(out->u.batch.n_quarantine == 1 && out->u.batch.quarantine[0].pos == -1);
    parse_test_streq(out->u.batch.quarantine[0].rule, "http_error");
    proto_msg_destroy(&out);
    out = parse_test_run_kind(unknown, sizeof unknown - 1, PROTO_FETCH_USER_ITEMS, 9, 200);
    parse_test_streq(out->u.batch.quarantine[0].rule, "malformed_page");
    assert(out->u.batch.n_snapshots == 0 && out->u.batch.n_users == 0);
    proto_msg_destroy(&out);
}

/* A profile body (fixture, ' for ") of user 500, as the page of a USER fetch. */
static proto_msg_t *
s_run_profile(const char *fixture, int status)
{
    proto_msg_t *out = parse_test_run_fixture(fixture, PROTO_FETCH_USER, 500, status);
    const proto_batch_t *b = &out->u.batch;
    assert(b->n_items == 0 && b->n_snapshots == 0 && b->n_photos == 0);
    assert(b->target_id == 500 && b->fetched_at_ms == INT64_C(1764092806123));
    return out;
}

static void
s_expect_profile_rule(const char *fixture, const char *rule, int32_t pos, const char *detail)
{
    proto_msg_t *out = s_run_profile(fixture, 200);
    const proto_batch_t *b = &out->u.batch;
    assert(b->n_users == 0 && b->n_quarantine == 1);
    parse_test_streq(b->quarantine[0].rule, rule);
    assert(b->quarantine[0].pos == pos && b->quarantine[0].raw_len > 0);
    if (!strstr(b->quarantine[0].detail, detail)) {
        fprintf(stderr, "parse: profile detail \"%s\", want \"%s\"\n", b->quarantine[0].detail, detail);
        assert(0);
    }
    proto_msg_destroy(&out);
}

static void
s_test_profile(bool verbose)
{
    if (verbose)
        printf("   profiles:\n");
    /* the shape the real API and the simulator serve, every key we map */
    proto_msg_t *out = s_run_profile(
        "{'user':{'id':500,'anon_id':'x','login':'ana_silva','real_name':null,'item_count':14,"
        "'given_item_count':30,'taken_item_count':2,'followers_count':7,'following_count':1,"
        "'positive_feedback_count':40,'neutral_feedback_count':2,'negative_feedback_count':1,"
        "'feedback_reputation':0.97,'feedback_count':43,'city':'Porto','city_id':12345,"
        "'country_id':16,'country_code':'PT','country_title':'Portugal','country_title_local':'Portugal',"
        "'last_loged_on_ts':'2026-09-21T16:55:02+00:00','profile_url':'https://www.vinted.pt/member/500-ana',"
        "'photo':null,'business':false,'verification':{'email':{'valid':true}},'locale':'pt'},'code':0}",
        200);
    const proto_batch_t *b = &out->u.batch;
    assert(b->n_users == 1 && b->n_quarantine == 0);
    const proto_user_snapshot_t *u = &b->users[0];
    assert(u->user_id == 500);
    parse_test_streq(u->login, "ana_silva");
    assert(u->item_count == 14 && u->feedback_count == 43 && u->feedback_reputation == 970);
    assert(u->positive_feedback_count == 40 && u->neutral_feedback_count == 2);
    assert(u->negative_feedback_count == 1 && u->followers_count == 7);
    parse_test_streq(u->city, "Porto");
    parse_test_streq(u->country, "Portugal");
    {   /* it survives the wire */
        uint8_t *wire = NULL;
        size_t wire_len = 0;
        char err[128];
        assert(proto_encode(out, &wire, &wire_len) == 0);
        proto_msg_t *back = proto_decode(wire, wire_len, err, sizeof err);
        assert(back && back->body == PROTO_BODY_BATCH && back->u.batch.n_users == 1);
        assert(back->u.batch.users[0].feedback_reputation == 970 && back->u.batch.target_id == 500);
        parse_test_streq(back->u.batch.users[0].country, "Portugal");
        proto_msg_destroy(&back);
        free(wire);
    }
    proto_msg_destroy(&out);

    /* a new seller: no feedback yet, no city; counters as strings; the country by code */
    out = s_run_profile("{'user':{'id':'500','login':'bo','item_count':'3','feedback_count':0,"
                        "'feedback_reputation':0,'positive_feedback_count':0,'city':null,"
                        "'country_title':'  ','country_code':'PT'}}", 200);
    u = &out->u.batch.users[0];
    assert(out->u.batch.n_users == 1 && u->user_id == 500 && u->item_count == 3);
    assert(u->feedback_count == 0 && u->feedback_reputation == 0 && u->positive_feedback_count == 0);
    assert(u->neutral_feedback_count == PROTO_NULL && u->followers_count == PROTO_NULL);
    assert(!u->city);
    parse_test_streq(u->country, "PT");
    proto_msg_destroy(&out);

    /* reputations in thousandths, half up; unusable values and counters are NULL */
    static const struct {
        const char *rep;
        int64_t want;
    } reps[] = {
        {"1", 1000}, {"1.0", 1000}, {"0.9725", 973}, {"0.9724", 972}, {"'0.5'", 500},
        {"0.0005", 1}, {"0.0004", 0}, {"1.5", PROTO_NULL}, {"-0.1", PROTO_NULL},
        {"'abc'", PROTO_NULL}, {"null", PROTO_NULL}, {"true", PROTO_NULL},
    };
    for (size_t i = 0; i < sizeof reps / sizeof reps[0]; i++) {
        char fx[256];
        snprintf(fx, sizeof fx, "{'user':{'id':500,'feedback_reputation':%s,'followers_count':-2,"
                 "'item_count':1.5,'feedback_count':3000000000}}", reps[i].rep);
        out = s_run_profile(fx, 200);
        u = &out->u.batch.users[0];
        assert(out->u.batch.n_users == 1 && out->u.batch.n_quarantine == 0);
        if (u->feedback_reputation != reps[i].want) {
            fprintf(stderr, "parse: reputation %s -> %lld\n", reps[i].rep, (long long) u->feedback_reputation);
            assert(0);
        }
        assert(u->followers_count == PROTO_NULL && u->item_count == PROTO_NULL);
        assert(u->feedback_count == PROTO_NULL && !u->login && !u->city && !u->country);
        proto_msg_destroy(&out);
    }

    /* a seller who is gone: nothing to observe, and not an error */
    static const char gone[] = "{\"code\":104,\"message\":\"Not found\"}";
    out = parse_test_run_kind(gone, sizeof gone - 1, PROTO_FETCH_USER, 500, 404);
    assert(out->u.batch.n_users == 0 && out->u.batch.n_quarantine == 0 && out->u.batch.target_id == 500);
    proto_msg_destroy(&out);
    out = parse_test_run_kind("<html>gone</html>", 17, PROTO_FETCH_USER, 500, 404);
    assert(out->u.batch.n_users == 0 && out->u.batch.n_quarantine == 0);
    proto_msg_destroy(&out);

    /* whole pages that are no profile */
    s_expect_profile_rule("{'code':104,'message':'Not found'}", "malformed_page", -1,
                          "no user object (code 104: Not found)");
    s_expect_profile_rule("{'user':null}", "malformed_page", -1, "user is not an object (null)");
    s_expect_profile_rule("{'user':[1]}", "malformed_page", -1, "user is not an object");
    s_expect_profile_rule("[{'user':{'id':500}}]", "malformed_page", -1, "not a JSON object");
    s_expect_profile_rule("{'user':{'id':500}", "malformed_page", -1, "not JSON");
    s_expect_profile_rule("{'user':{'id':500}} {}", "malformed_page", -1, "trailing data");
    /* a profile that is not the one asked for, or has no id */
    s_expect_profile_rule("{'user':{'login':'ana'}}", "id_missing", 0, "absent");
    s_expect_profile_rule("{'user':{'id':-5}}", "id_missing", 0, "-5");
    s_expect_profile_rule("{'user':{'id':501,'login':'x'}}", "id_mismatch", 0, "user 501, not 500");
    /* a kept text that is not UTF-8 */
    s_expect_profile_rule("{'user':{'id':500,'city':'Lisb\xc3'}}", "text_invalid", 0, "user.city");
    s_expect_profile_rule("{'user':{'id':500,'login':'a\\u0000b'}}", "text_invalid", 0, "user.login");
    /* a fetch that failed, another status, an empty body */
    parse_test_expect_kind_rule("{\"user\":{", 9, PROTO_FETCH_USER, 500, 200, "malformed_page");
    {
        proto_page_t page;
        memset(&page, 0, sizeof page);
        page.http_status = 200;
        page.kind = PROTO_FETCH_USER;
        page.target_id = 500;
        page.error = (char *) "malformed json after 4 attempts: no user object";
        page.body = (uint8_t *) "{}";
        page.body_len = 2;
        proto_msg_t *m = proto_msg_new(PROTO_RESULT);
        assert(m && parse_page(&page, m) == 0);
        assert(m->u.batch.n_users == 0 && m->u.batch.n_quarantine == 1);
        parse_test_streq(m->u.batch.quarantine[0].rule, "malformed_page");
        assert(strstr(m->u.batch.quarantine[0].detail, "no user object"));
        proto_msg_destroy(&m);
    }
    parse_test_expect_kind_rule("{}", 2, PROTO_FETCH_USER, 500, 500, "http_error");
    parse_test_expect_kind_rule("", 0, PROTO_FETCH_USER, 500, 200, "malformed_page");
    /* a profile task needs its user */
    out = parse_test_run_fixture("{'user':{'id':500}}", PROTO_FETCH_USER, 0, 200);
    assert(out->u.batch.n_users == 0 && out->u.batch.n_quarantine == 1);
    assert(strstr(out->u.batch.quarantine[0].detail, "without a user id"));
    proto_msg_destroy(&out);
    if (verbose)
        printf("   profiles: OK\n");
}

void
parse_seller_test(bool verbose)
{
    s_test_seller(verbose);
    s_test_profile(verbose);
}
