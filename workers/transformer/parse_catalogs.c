/*  parse_catalogs.c - the catalog tree (/api/v2/catalogs), nested or flat,
    into batch.catalogs with parent_id and depth.
*/
#include "parse_internal.h"
#include "common/utf8.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Nodes of a nested tree (each node's "catalogs" array holds its children). */
static size_t
s_tree_count(const cJSON *list)
{
    size_t n = 0;
    if (!cJSON_IsArray(list))
        return 0;
    for (const cJSON *c = list->child; c; c = c->next)
        n += 1 + s_tree_count(parse_get(c, "catalogs"));
    return n;
}

/* A catalog id: a positive integer that fits an int32, else 0. */
static int32_t
s_catalog_id(const cJSON *n)
{
    int64_t v = 0;
    return parse_uint(n, &v) && v > 0 && v <= INT32_MAX ? (int32_t) v : 0;
}

/* Keeps one node as batch.catalogs[n_catalogs], or quarantines it (id_missing,
   title_missing, text_invalid) at pos; returns 1 kept, 0 quarantined, -1 oom. */
static int
s_catalog_node(parse_ctx_t *ctx, const cJSON *node, int32_t pos, int32_t parent, int32_t depth)
{
    char detail[PARSE_DETAIL], r[96];
    proto_batch_t *b = ctx->batch;
    /* the raw record is the node without its children (they are records of their own) */
    cJSON *copy = cJSON_Duplicate(node, false);
    if (copy && cJSON_IsObject(node))
        for (const cJSON *c = node->child; c; c = c->next)
            if (!(c->string && strcmp(c->string, "catalogs") == 0)) {
                cJSON *d = cJSON_Duplicate(c, true);
                if (d)
                    cJSON_AddItemToObject(copy, c->string, d);
            }
    const cJSON *raw = copy ? copy : node;
    int rc = 0;
    int32_t id = s_catalog_id(parse_get(node, "id"));
    const char *title = parse_string(node, "title");
    const char *code = parse_string(node, "code");
    const char *url = parse_string(node, "url");
    if (!cJSON_IsObject(node)) {
        snprintf(detail, sizeof detail, "catalog node is not an object");
        rc = parse_reject_item(ctx, pos, "item_not_object", detail, raw);
    }
    else if (id == 0) {
        parse_repr(r, sizeof r, parse_get(node, "id"));
        snprintf(detail, sizeof detail, "catalog id is not a positive 32-bit integer: %s", r);
        rc = parse_reject_item(ctx, pos, "id_missing", detail, raw);
    }
    else if (!title || parse_blank(title)) {
        snprintf(detail, sizeof detail, "catalog %d has no title", (int) id);
        rc = parse_reject_item(ctx, pos, "title_missing", detail, raw);
    }
    else if (!utf8_valid(title, strlen(title)) || (code && !utf8_valid(code, strlen(code)))
             || (url && !utf8_valid(url, strlen(url)))) {
        snprintf(detail, sizeof detail, "catalog %d: a text is not valid UTF-8 or contains NUL",
                 (int) id);
        rc = parse_reject_item(ctx, pos, "text_invalid", detail, raw);
    }
    else {
        proto_catalog_t *c = &b->catalogs[b->n_catalogs];
        c->catalog_id = id;
        c->parent_id = parent;
        c->depth = depth;
        c->title = parse_dup(ctx, title);
        c->code = code && *code ? parse_dup(ctx, code) : NULL;
        c->url = url && *url ? parse_dup(ctx, url) : NULL;
        rc = ctx->oom ? -1 : 1;
        if (rc == 1)
            b->n_catalogs++;
    }
    cJSON_Delete(copy);
    return rc;
}

/* The nested form: walks the children; a skipped node's children hang from
   its nearest kept ancestor. */
static int
s_catalog_walk(parse_ctx_t *ctx, const cJSON *list, int32_t *pos, int32_t parent, int32_t depth)
{
    for (const cJSON *c = list->child; c; c = c->next) {
        int kept = s_catalog_node(ctx, c, (*pos)++, parent, depth);
        if (kept < 0)
            return -1;
        const cJSON *kids = parse_get(c, "catalogs");
        if (cJSON_IsArray(kids)) {
            int32_t id = kept ? ctx->batch->catalogs[ctx->batch->n_catalogs - 1].catalog_id : parent;
            if (s_catalog_walk(ctx, kids, pos, id, kept ? depth + 1 : depth) != 0)
                return -1;
        }
    }
    return 0;
}

/* The flat form: {catalogs:{"<id>":{id,parent_id,...}}, catalog_children_tree:{"<parent>":[ids]}}.
   parent_id from the node, else from the children tree; depth by following parents. */
static int
s_catalog_flat(parse_ctx_t *ctx, const cJSON *root, const cJSON *catalogs)
{
    proto_batch_t *b = ctx->batch;
    const cJSON *tree = parse_get(root, "catalog_children_tree");
    int32_t pos = 0;
    for (const cJSON *c = catalogs->child; c; c = c->next, pos++) {
        int32_t parent = s_catalog_id(parse_get(c, "parent_id"));
        if (parent == 0 && cJSON_IsObject(tree)) {
            int32_t id = s_catalog_id(parse_get(c, "id"));
            for (const cJSON *t = tree->child; t && id && !parent; t = t->next)
                if (cJSON_IsArray(t) && t->string)
                    for (const cJSON *k = t->child; k; k = k->next)
                        if (s_catalog_id(k) == id) {
                            char *endp = NULL;
                            long v = strtol(t->string, &endp, 10);
                            if (endp && *endp == '\0' && v > 0 && v <= INT32_MAX && v != id)
                                parent = (int32_t) v;
                            break;
                        }
        }
        if (s_catalog_node(ctx, c, pos, parent, 0) < 0)
            return -1;
    }
    /* depth: the ancestors found by following parent links among the kept nodes
       (a parent that is not in the tree still counts as one level) */
    for (size_t i = 0; i < b->n_catalogs; i++) {
        int32_t depth = 0, at = b->catalogs[i].parent_id;
        while (at != 0 && depth <= (int32_t) b->n_catalogs) {
            depth++;
            int32_t next = 0;
            for (size_t j = 0; j < b->n_catalogs; j++)
                if (b->catalogs[j].catalog_id == at) {
                    next = b->catalogs[j].parent_id;
                    break;
                }
            at = next;
        }
        b->catalogs[i].depth = depth > (int32_t) b->n_catalogs ? -1 : depth;
    }
    /* a parent chain that loops has no depth: those nodes are quarantined */
    size_t kept = 0;
    for (size_t i = 0; i < b->n_catalogs; i++) {
        proto_catalog_t *c = &b->catalogs[i];
        if (c->depth >= 0) {
            b->catalogs[kept++] = *c;
            continue;
        }
        char detail[PARSE_DETAIL];
        snprintf(detail, sizeof detail, "catalog %d: its parent chain loops", (int) c->catalog_id);
        const cJSON *node = catalogs->child;
        int32_t at = 0;
        for (; node && s_catalog_id(parse_get(node, "id")) != c->catalog_id; node = node->next)
            at++;
        if (parse_reject_item(ctx, at, "parent_invalid", detail, node) != 0)
            return -1;
    }
    b->n_catalogs = kept;
    return 0;
}

/* The catalog tree, nested {catalogs:[{id,title,code,url,catalogs:[...]}]} or
   flat {catalogs:{"<id>":{...}}, catalog_children_tree:{...}}. */
int
parse_catalogs(parse_ctx_t *ctx, const cJSON *root)
{
    char detail[PARSE_DETAIL];
    const cJSON *catalogs = parse_get(root, "catalogs");
    bool nested = cJSON_IsArray(catalogs);
    if (!nested && !cJSON_IsObject(catalogs)) {
        parse_missing(root, "catalogs", true, detail, sizeof detail);
        return parse_reject_page(ctx, "malformed_page", detail);
    }
    size_t n = 0;
    if (nested)
        n = s_tree_count(catalogs);
    else
        for (const cJSON *c = catalogs->child; c; c = c->next)
            n++;
    if (n > PARSE_MAX_ITEMS) {
        snprintf(detail, sizeof detail, "%zu catalogs in one tree, more than %d", n,
                 PARSE_MAX_ITEMS);
        return parse_reject_page(ctx, "malformed_page", detail);
    }
    if (n == 0)
        return 0;
    proto_batch_t *b = ctx->batch;
    b->catalogs = proto_msg_alloc(ctx->out, n * sizeof *b->catalogs);
    b->quarantine = proto_msg_alloc(ctx->out, n * sizeof *b->quarantine);
    if (!b->catalogs || !b->quarantine)
        return -1;
    ctx->cap = n;
    int32_t pos = 0;
    return nested ? s_catalog_walk(ctx, catalogs, &pos, 0, 0) : s_catalog_flat(ctx, root, catalogs);
}

/* ------------------------------------------------------------------ test */

static const proto_catalog_t *
s_find_catalog(const proto_batch_t *b, int32_t id)
{
    for (size_t i = 0; i < b->n_catalogs; i++)
        if (b->catalogs[i].catalog_id == id)
            return &b->catalogs[i];
    return NULL;
}

/* The catalog tree, nested and flat. */
void
parse_catalogs_test(bool verbose)
{
    /* nested: parents from the walk; nodes without an id or a title are quarantined,
       their children hang from the nearest kept ancestor */
    proto_msg_t *out = parse_test_run_fixture(
        "{'catalogs':[{'id':1904,'title':'Mulher','code':'WOMEN','url':'/mulher','catalogs':["
        "{'id':4,'title':'Roupa','code':'CLOTHES','url':'/mulher/roupa','catalogs':["
        "{'id':2320,'title':'Camisolas','catalogs':[]}]},"
        "{'id':'x','title':'Sem id','catalogs':[{'id':77,'title':'Neto','code':''}]},"
        "{'id':78,'code':'NO_TITLE'}]},"
        "{'id':5,'title':'Homem'}],'code':0}",
        PROTO_FETCH_CATALOGS, 0, 200);
    const proto_batch_t *b = &out->u.batch;
    assert(b->n_catalogs == 5 && b->n_quarantine == 2 && b->n_items == 0);
    const proto_catalog_t *c = &b->catalogs[0];
    assert(c->catalog_id == 1904 && c->parent_id == 0 && c->depth == 0);
    parse_test_streq(c->title, "Mulher");
    parse_test_streq(c->code, "WOMEN");
    parse_test_streq(c->url, "/mulher");
    c = s_find_catalog(b, 2320);
    assert(c && c->parent_id == 4 && c->depth == 2 && !c->code && !c->url);
    parse_test_streq(c->title, "Camisolas");
    c = s_find_catalog(b, 77);
    assert(c && c->parent_id == 1904 && c->depth == 1 && !c->code);
    c = s_find_catalog(b, 5);
    assert(c && c->parent_id == 0 && c->depth == 0);
    parse_test_streq(b->quarantine[0].rule, "id_missing");
    assert(b->quarantine[0].pos == 3 && b->quarantine[0].raw && !memmem(b->quarantine[0].raw, b->quarantine[0].raw_len, "Neto", 4));
    parse_test_streq(b->quarantine[1].rule, "title_missing");
    assert(strstr(b->quarantine[1].detail, "78"));
    proto_msg_destroy(&out);

    /* flat: parent_id from the node, else from the children tree; depth by following parents */
    out = parse_test_run_fixture(
        "{'catalog_root':'/catalog','catalogs':{"
        "'1904':{'id':1904,'title':'Women','code':'WOMEN_ROOT','parent_id':0,'url':'/women'},"
        "'4':{'id':4,'title':'Clothes','code':'WOMENS','parent_id':1904,'url':'/women/clothes'},"
        "'10':{'id':10,'title':'Dresses','code':'DRESSES','url':'/women/clothes/dresses'},"
        "'178':{'id':178,'title':'Mini-dresses','parent_id':10,'url':null},"
        "'5':{'id':5,'title':'Men','parent_id':null},"
        "'9':{'title':'No id','parent_id':5},"
        "'31':{'id':31,'title':'Loop a','parent_id':32},"
        "'32':{'id':32,'title':'Loop b','parent_id':31}},"
        "'catalog_children_tree':{'1904':[4],'4':[10],'10':[178]}}",
        PROTO_FETCH_CATALOGS, 0, 200);
    b = &out->u.batch;
    assert(b->n_catalogs == 5 && b->n_quarantine == 3);
    c = s_find_catalog(b, 1904);
    assert(c && c->parent_id == 0 && c->depth == 0);
    parse_test_streq(c->code, "WOMEN_ROOT");
    c = s_find_catalog(b, 10);
    assert(c && c->parent_id == 4 && c->depth == 2);
    c = s_find_catalog(b, 178);
    assert(c && c->parent_id == 10 && c->depth == 3 && !c->url && !c->code);
    parse_test_streq(c->title, "Mini-dresses");
    c = s_find_catalog(b, 5);
    assert(c && c->parent_id == 0 && c->depth == 0);
    assert(!s_find_catalog(b, 31) && !s_find_catalog(b, 32));
    parse_test_streq(b->quarantine[0].rule, "id_missing");
    parse_test_streq(b->quarantine[1].rule, "parent_invalid");
    parse_test_streq(b->quarantine[2].rule, "parent_invalid");
    proto_msg_destroy(&out);

    /* neither form; not JSON; an empty tree */
    out = parse_test_run_fixture("{'catalogs':5,'code':0}", PROTO_FETCH_CATALOGS, 0, 200);
    assert(out->u.batch.n_catalogs == 0 && out->u.batch.n_quarantine == 1);
    parse_test_streq(out->u.batch.quarantine[0].rule, "malformed_page");
    assert(out->u.batch.quarantine[0].pos == -1);
    proto_msg_destroy(&out);
    parse_test_expect_kind_rule("{\"catalogs\":[", 13, PROTO_FETCH_CATALOGS, 0, 200, "malformed_page");
    out = parse_test_run_fixture("{'catalogs':[]}", PROTO_FETCH_CATALOGS, 0, 200);
    assert(out->u.batch.n_catalogs == 0 && out->u.batch.n_quarantine == 0);
    proto_msg_destroy(&out);
    if (verbose)
        printf("   catalogs: OK\n");
}
