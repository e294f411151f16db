/*  parse_photos.c - batch.photos: every photo a catalog or seller item shows
    (v2 `photo`, svc `photos[]`), each (item, photo) pair once per batch; a
    photo without a positive integer id or an http(s) url is skipped.
*/
#include "parse_internal.h"
#include "common/utf8.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static proto_photo_t *
s_photo_slot(parse_ctx_t *ctx)
{
    proto_batch_t *b = ctx->batch;
    if (b->n_photos == ctx->photo_cap) {
        size_t cap = ctx->photo_cap ? 2 * ctx->photo_cap : 64;
        proto_photo_t *grown = proto_msg_alloc(ctx->out, cap * sizeof *grown);
        if (!grown) {
            ctx->oom = true;
            return NULL;
        }
        if (b->n_photos)
            memcpy(grown, b->photos, b->n_photos * sizeof *grown);
        b->photos = grown; /* the old array stays in the arena, unused */
        ctx->photo_cap = cap;
    }
    return &b->photos[b->n_photos];
}

/* Add one photo object of item id unless it has no numeric id or no usable
   url (skipped: the listing is still fine), or it is already there. */
static void
s_photo(parse_ctx_t *ctx, int64_t item_id, const cJSON *p, bool main_default, int32_t position,
        size_t first)
{
    int64_t photo_id = 0;
    if (!cJSON_IsObject(p) || !parse_uint(parse_get(p, "id"), &photo_id) || photo_id <= 0)
        return;
    const char *url = parse_string(p, "url");
    if (!url || !*url || !utf8_valid(url, strlen(url)))
        return;
    if (strncmp(url, "https://", 8) != 0 && strncmp(url, "http://", 7) != 0)
        return; /* nothing a downloader could fetch */
    proto_batch_t *b = ctx->batch;
    for (size_t i = first; i < b->n_photos; i++)
        if (b->photos[i].item_id == item_id && b->photos[i].photo_id == photo_id)
            return;
    proto_photo_t *ph = s_photo_slot(ctx);
    if (!ph)
        return;
    const cJSON *flag = parse_get(p, "is_main");
    ph->item_id = item_id;
    ph->photo_id = photo_id;
    ph->url = parse_dup(ctx, url);
    ph->is_main = cJSON_IsBool(flag) ? cJSON_IsTrue(flag) : main_default;
    ph->position = position;
    if (!ctx->oom)
        b->n_photos++;
}

/* Every photo an item shows: v2 `photo` (the main one, position 0), then
   `photos[]` (position = index; without flags the first is the main one). */
int
parse_photos(parse_ctx_t *ctx, const cJSON *it, int64_t item_id)
{
    proto_batch_t *b = ctx->batch;
    /* Photos of an item id met earlier on this page count as duplicates too. */
    size_t first = b->n_photos;
    for (size_t i = 0; i < b->n_photos; i++)
        if (b->photos[i].item_id == item_id) {
            first = i;
            break;
        }
    const cJSON *photo = parse_get(it, "photo");
    const cJSON *photos = parse_get(it, "photos");
    bool flagged = false; /* some photo says is_main: true */
    if (cJSON_IsObject(photo)) {
        s_photo(ctx, item_id, photo, true, 0, first);
        flagged = true;
    }
    if (cJSON_IsArray(photos)) {
        for (const cJSON *p = photos->child; p && !flagged; p = p->next)
            flagged = cJSON_IsTrue(parse_get(p, "is_main"));
        int32_t index = 0;
        bool first_valid = true;
        for (const cJSON *p = photos->child; p; p = p->next, index++) {
            size_t before = b->n_photos;
            s_photo(ctx, item_id, p, !flagged && first_valid, index, first);
            if (b->n_photos > before)
                first_valid = false;
        }
    }
    return ctx->oom ? -1 : 0;
}

/* ------------------------------------------------------------------ test */

void
parse_photos_test(bool verbose)
{
    if (verbose)
        printf("   photos:\n");
    /* v2: the main photo; is_main taken from the flag, else main */
    proto_msg_t *out = parse_test_expect_item("{'id':1,'title':'T','price':'1','currency':'EUR',"
                                              "'photo':{'id':10,'url':'https://img/10','is_main':true,"
                                              "'thumbnails':[{'id':99,'url':'https://img/t'}]}}", "pt");
    assert(out->u.batch.n_photos == 1);
    parse_test_expect_photo(&out->u.batch, 1, 10, "https://img/10", true, 0);
    proto_msg_destroy(&out);
    out = parse_test_expect_item("{'id':1,'title':'T','price':'1','currency':'EUR',"
                                 "'photo':{'id':'29720248985','url':'https://img/10'}}", "pt");
    assert(out->u.batch.n_photos == 1);
    parse_test_expect_photo(&out->u.batch, 1, INT64_C(29720248985), "https://img/10", true, 0);
    proto_msg_destroy(&out);
    /* v2 photo plus photos[] that repeats it */
    out = parse_test_expect_item("{'id':1,'title':'T','price':'1','currency':'EUR','photo':{'id':10,'url':'https://img/10'},"
                                 "'photos':[{'id':10,'url':'https://img/10'},{'id':11,'url':'https://img/11'}]}", "pt");
    assert(out->u.batch.n_photos == 2);
    parse_test_expect_photo(&out->u.batch, 1, 10, "https://img/10", true, 0);
    parse_test_expect_photo(&out->u.batch, 1, 11, "https://img/11", false, 1);
    proto_msg_destroy(&out);
    /* svc: photos[] with flags, and without (the first is the main one) */
    out = parse_test_expect_item("{'id':2,'title':'T','price':'1','currency':'EUR','photos':["
                                 "{'id':20,'url':'https://img/20','is_main':false},"
                                 "{'id':21,'url':'https://img/21','is_main':true}]}", "pt");
    assert(out->u.batch.n_photos == 2);
    parse_test_expect_photo(&out->u.batch, 2, 20, "https://img/20", false, 0);
    parse_test_expect_photo(&out->u.batch, 2, 21, "https://img/21", true, 1);
    proto_msg_destroy(&out);
    out = parse_test_expect_item("{'id':3,'title':'T','price':'1','currency':'EUR','photos':["
                                 "{'id':30,'url':'https://img/30'},{'id':31,'url':'https://img/31'}]}", "pt");
    assert(out->u.batch.n_photos == 2);
    parse_test_expect_photo(&out->u.batch, 3, 30, "https://img/30", true, 0);
    parse_test_expect_photo(&out->u.batch, 3, 31, "https://img/31", false, 1);
    proto_msg_destroy(&out);
    /* photos without a numeric id or a fetchable url are skipped, not errors */
    out = parse_test_expect_item("{'id':4,'title':'T','price':'1','currency':'EUR','photos':["
                                 "7,{'url':'https://img/x'},{'id':'abc','url':'https://img/y'},{'id':0,'url':'https://img/z'},"
                                 "{'id':32,'url':'https://img/32'},{'id':32,'url':'https://img/32b'},{'id':33},"
                                 "{'id':34,'url':'/relative.webp'},{'id':36,'url':'https://img/\xff'},"
                                 "{'id':35,'url':'http://127.0.0.1:8080/t/h/f800/1.webp?s=x'}]}", "pt");
    assert(out->u.batch.n_photos == 2);
    parse_test_expect_photo(&out->u.batch, 4, 32, "https://img/32", true, 4);
    parse_test_expect_photo(&out->u.batch, 4, 35, "http://127.0.0.1:8080/t/h/f800/1.webp?s=x", false, 9);
    proto_msg_destroy(&out);
    /* no photo at all; a v2 photo without id (the item keeps its photo_url) */
    out = parse_test_expect_item("{'id':5,'title':'T','price':'1','currency':'EUR','photo':{'url':'https://img/5'}}", "pt");
    assert(out->u.batch.n_photos == 0);
    parse_test_streq(out->u.batch.items[0].photo_url, "https://img/5");
    proto_msg_destroy(&out);
    /* a page: quarantined items give no photos; the same item twice gives its photos once */
    out = parse_test_run("{'items':[{'id':1,'title':'A','price':'1','currency':'EUR','photo':{'id':10,'url':'https://img/10'}},"
                         "{'id':2,'price':'1','currency':'EUR','photo':{'id':20,'url':'https://img/20'}},"
                         "{'id':3,'title':'C','price':'1','currency':'EUR','photos':[{'id':30,'url':'https://img/30'}]},"
                         "{'id':1,'title':'A','price':'1','currency':'EUR','photo':{'id':10,'url':'https://img/10'}}]}",
                         "pt");
    const proto_batch_t *b = &out->u.batch;
    assert(b->n_items == 3 && b->n_quarantine == 1 && b->n_photos == 2);
    assert(!parse_test_find_photo(b, 2, 20));
    parse_test_expect_photo(b, 1, 10, "https://img/10", true, 0);
    parse_test_expect_photo(b, 3, 30, "https://img/30", true, 0);
    assert(b->n_snapshots == 0 && b->n_users == 0);
    parse_test_check_batch(b);
    proto_msg_destroy(&out);
    /* many photos on one page: the list grows */
    {
        size_t cap = 200 * 120 + 64, len = 0;
        char *page = malloc(cap);
        assert(page);
        len += (size_t) snprintf(page, cap, "{'items':[");
        for (int i = 1; i <= 40; i++) {
            len += (size_t) snprintf(page + len, cap - len, "%s{'id':%d,'title':'T','price':'1','currency':'EUR','photos':[",
                                     i > 1 ? "," : "", i);
            for (int k = 0; k < 5; k++)
                len += (size_t) snprintf(page + len, cap - len, "%s{'id':%d,'url':'https://img/%d'}",
                                         k ? "," : "", i * 10 + k, i * 10 + k);
            len += (size_t) snprintf(page + len, cap - len, "]}");
        }
        snprintf(page + len, cap - len, "]}");
        out = parse_test_run(page, "pt");
        b = &out->u.batch;
        assert(b->n_items == 40 && b->n_photos == 200);
        for (int i = 1; i <= 40; i++)
            for (int k = 0; k < 5; k++)
                parse_test_expect_photo(b, i, i * 10 + k, NULL, k == 0, k) ;
        proto_msg_destroy(&out);
        free(page);
    }
}
