/*  ldjson.c - JSON-LD blocks of an HTML page. See ldjson.h. */
#include "ldjson.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_MAX_DEPTH 8 /* nesting of lists and @graph looked into */

static bool
s_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

static char
s_lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char) (c + 32) : c;
}

/* Do the n bytes at p equal lit (lowercase), ignoring ASCII case? */
static bool
s_ieq(const char *p, const char *end, const char *lit, size_t n)
{
    if ((size_t) (end - p) < n)
        return false;
    for (size_t i = 0; i < n; i++)
        if (s_lower(p[i]) != lit[i])
            return false;
    return true;
}

/* The first lit (lowercase, starting with '<') in [p, end), any case; NULL if none. */
static const char *
s_ifind(const char *p, const char *end, const char *lit)
{
    size_t n = strlen(lit);
    while (p < end && (p = memchr(p, '<', (size_t) (end - p)))) {
        if (s_ieq(p, end, lit, n))
            return p;
        p++;
    }
    return NULL;
}

/* Is the attribute value [v, v+n) the JSON-LD media type (parameters allowed)? */
static bool
s_ld_type(const char *v, size_t n)
{
    static const char want[] = "application/ld+json";
    size_t wn = sizeof want - 1;
    while (n > 0 && s_space(*v)) {
        v++;
        n--;
    }
    while (n > 0 && s_space(v[n - 1]))
        n--;
    if (n < wn || !s_ieq(v, v + n, want, wn))
        return false;
    if (n == wn)
        return true;
    size_t i = wn;
    while (i < n && s_space(v[i]))
        i++;
    return i < n && v[i] == ';';
}

/* At the end of "<script": read the attributes up to '>'. Sets *content to the
   first byte after it and *is_ld if a type attribute names JSON-LD. Returns
   false if the tag never closes or closes itself ("/>"). */
static bool
s_script_tag(const char *p, const char *end, const char **content, bool *is_ld)
{
    *is_ld = false;
    while (p < end) {
        while (p < end && (s_space(*p) || *p == '/')) {
            if (*p == '/' && p + 1 < end && p[1] == '>')
                return false; /* <script ... /> holds nothing */
            p++;
        }
        if (p >= end)
            return false;
        if (*p == '>') {
            *content = p + 1;
            return true;
        }
        const char *name = p;
        while (p < end && !s_space(*p) && *p != '=' && *p != '>' && *p != '/')
            p++;
        size_t name_n = (size_t) (p - name);
        while (p < end && s_space(*p))
            p++;
        const char *val = NULL;
        size_t val_n = 0;
        if (p < end && *p == '=') {
            p++;
            while (p < end && s_space(*p))
                p++;
            if (p < end && (*p == '"' || *p == '\'')) {
                char q = *p++;
                val = p;
                while (p < end && *p != q)
                    p++;
                val_n = (size_t) (p - val);
                if (p < end)
                    p++;
            }
            else {
                val = p;
                while (p < end && !s_space(*p) && *p != '>')
                    p++;
                val_n = (size_t) (p - val);
            }
        }
        if (name_n == 4 && s_ieq(name, end, "type", 4) && val)
            *is_ld = s_ld_type(val, val_n);
    }
    return false;
}

static bool
s_type_matches(const char *s, const char *type)
{
    size_t n = strlen(s), tn = strlen(type);
    if (n == tn)
        return strcmp(s, type) == 0;
    if (n > tn && strcmp(s + n - tn, type) == 0)
        return s[n - tn - 1] == '/' || s[n - tn - 1] == ':';
    return false;
}

bool
ldjson_is_type(const cJSON *node, const char *type)
{
    if (!cJSON_IsObject(node))
        return false;
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(node, "@type");
    if (cJSON_IsString(t))
        return s_type_matches(t->valuestring, type);
    if (cJSON_IsArray(t))
        for (const cJSON *e = t->child; e; e = e->next)
            if (cJSON_IsString(e) && s_type_matches(e->valuestring, type))
                return true;
    return false;
}

static const cJSON *
s_search(const cJSON *n, const char *type, int depth)
{
    if (depth > S_MAX_DEPTH)
        return NULL;
    if (cJSON_IsObject(n)) {
        if (ldjson_is_type(n, type))
            return n;
        const cJSON *graph = cJSON_GetObjectItemCaseSensitive(n, "@graph");
        return cJSON_IsArray(graph) ? s_search(graph, type, depth + 1) : NULL;
    }
    if (cJSON_IsArray(n))
        for (const cJSON *e = n->child; e; e = e->next) {
            const cJSON *hit = s_search(e, type, depth + 1);
            if (hit)
                return hit;
        }
    return NULL;
}

/* Parse one block's text; NULL if it is not exactly one JSON value. */
static cJSON *
s_parse_block(const char *s, size_t n)
{
    while (n > 0 && s_space(*s)) {
        s++;
        n--;
    }
    while (n > 0 && s_space(s[n - 1]))
        n--;
    /* an HTML comment around the JSON, an old habit */
    if (n >= 7 && memcmp(s, "<!--", 4) == 0 && memcmp(s + n - 3, "-->", 3) == 0) {
        s += 4;
        n -= 7;
    }
    if (n == 0)
        return NULL;
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(s, n, &end, false);
    if (!root)
        return NULL;
    while (end < s + n && s_space(*end))
        end++;
    if (end < s + n) {
        cJSON_Delete(root);
        return NULL;
    }
    return root;
}

cJSON *
ldjson_find(const char *html, size_t len, const char *type, const cJSON **node, char *why,
            size_t whylen)
{
    assert(node && type);
    *node = NULL;
    int blocks = 0, bad = 0;
    const char *end = html ? html + len : NULL;
    const char *p = html;
    while (p && p < end && (p = s_ifind(p, end, "<script"))) {
        p += 7;
        if (p < end && !s_space(*p) && *p != '>' && *p != '/')
            continue; /* <scripts>, <script-x> */
        const char *content = NULL;
        bool is_ld = false;
        if (!s_script_tag(p, end, &content, &is_ld))
            continue;
        const char *close = s_ifind(content, end, "</script");
        const char *stop = close ? close : end;
        p = close ? close + 8 : end;
        if (!is_ld)
            continue;
        blocks++;
        cJSON *root = s_parse_block(content, (size_t) (stop - content));
        if (!root) {
            bad++;
            continue;
        }
        const cJSON *hit = s_search(root, type, 0);
        if (hit) {
            *node = hit;
            return root;
        }
        cJSON_Delete(root);
    }
    if (blocks == 0)
        snprintf(why, whylen, "no JSON-LD block");
    else if (bad > 0)
        snprintf(why, whylen, "%d JSON-LD block%s (%d not JSON), none with @type %s", blocks,
                 blocks > 1 ? "s" : "", bad, type);
    else
        snprintf(why, whylen, "%d JSON-LD block%s, none with @type %s", blocks,
                 blocks > 1 ? "s" : "", type);
    return NULL;
}

/* ------------------------------------------------------------------ test */

/* The node's "sku" if found, else NULL; *why filled either way. */
static char *
s_find_sku(const char *html, char *why, size_t whylen)
{
    const cJSON *node = NULL;
    why[0] = '\0';
    cJSON *root = ldjson_find(html, strlen(html), "Product", &node, why, whylen);
    if (!root) {
        assert(!node && why[0]);
        return NULL;
    }
    assert(node && ldjson_is_type(node, "Product"));
    const cJSON *sku = cJSON_GetObjectItemCaseSensitive(node, "sku");
    char *out = strdup(cJSON_IsString(sku) ? sku->valuestring : "?");
    assert(out);
    cJSON_Delete(root);
    return out;
}

void
ldjson_test(bool verbose)
{
    if (verbose)
        printf(" * ldjson:\n");
    static const struct {
        const char *html, *sku, *why;
    } cases[] = {
        /* the simulator's shape: breadcrumbs first, then the product */
        {"<html><head><script type=\"application/ld+json\">{\"@type\":\"BreadcrumbList\"}</script>"
         "<script type=\"application/ld+json\">{\"@context\":\"https://schema.org\",\"@type\":\"Product\","
         "\"sku\":\"1\"}</script></head></html>", "1", NULL},
        /* attribute order, quotes, case, whitespace */
        {"<SCRIPT data-x='y' TYPE = 'Application/LD+JSON' nonce=abc>{\"@type\":\"Product\",\"sku\":\"2\"}"
         "</SCRIPT >", "2", NULL},
        {"<script\n\ttype=application/ld+json>\n {\"@type\":\"Product\",\"sku\":\"3\"} \n</script>", "3", NULL},
        {"<script type=\"application/ld+json; charset=utf-8\">{\"@type\":\"Product\",\"sku\":\"4\"}</script>",
         "4", NULL},
        /* a list, a @graph, a type list, a full IRI type, an HTML comment around it */
        {"<script type=\"application/ld+json\">[{\"@type\":\"Organization\"},{\"@type\":\"Product\","
         "\"sku\":\"5\"}]</script>", "5", NULL},
        {"<script type=\"application/ld+json\">{\"@context\":\"https://schema.org\",\"@graph\":["
         "{\"@type\":\"WebPage\"},{\"@type\":[\"Thing\",\"Product\"],\"sku\":\"6\"}]}</script>", "6", NULL},
        {"<script type=\"application/ld+json\">{\"@type\":\"http://schema.org/Product\",\"sku\":\"7\"}</script>",
         "7", NULL},
        {"<script type=\"application/ld+json\"><!-- {\"@type\":\"Product\",\"sku\":\"8\"} --></script>", "8", NULL},
        /* a broken block does not hide a later good one; other scripts are ignored */
        {"<script>var x = {\"@type\":\"Product\",\"sku\":\"no\"};</script>"
         "<script type=\"text/javascript\">{\"@type\":\"Product\",\"sku\":\"no\"}</script>"
         "<script type=\"application/ld+json\">{\"@type\":\"Product\",,</script>"
         "<script type=\"application/ld+json\">{\"@type\":\"Product\",\"sku\":\"9\"}</script>", "9", NULL},
        /* a product named in text, not a node, is no product; a "ProductGroup" neither */
        {"<script type=\"application/ld+json\">{\"@type\":\"ProductGroup\",\"name\":\"Product\"}</script>",
         NULL, "1 JSON-LD block, none with @type Product"},
        {"<script type=\"application/ld+json\">{\"@type\":\"Product\"</script>"
         "<script type=\"application/ld+json\"></script>", NULL,
         "2 JSON-LD blocks (2 not JSON), none with @type Product"},
        {"<script type=\"application/ld+json\">{\"@type\":\"Product\"} trailing</script>", NULL,
         "1 JSON-LD block (1 not JSON), none with @type Product"},
        {"<html><body>Just a moment...</body></html>", NULL, "no JSON-LD block"},
        {"", NULL, "no JSON-LD block"},
        {"<script type=\"application/ld+json\"/>{\"@type\":\"Product\"}", NULL, "no JSON-LD block"},
        {"<scripts type=\"application/ld+json\">{\"@type\":\"Product\"}</scripts>", NULL, "no JSON-LD block"},
        {"<script type=\"application/ld+jsonx\">{\"@type\":\"Product\"}</script>", NULL, "no JSON-LD block"},
        /* an unclosed tag or block at the end of a cut page */
        {"<script type=\"application/ld+json\"", NULL, "no JSON-LD block"},
        {"<script type=\"application/ld+json\">{\"@type\":\"Product\",\"sku\":\"10\"}", "10", NULL},
        {"<script type='application/ld+json>{}</script>", NULL, "no JSON-LD block"},
    };
    char why[160];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *sku = s_find_sku(cases[i].html, why, sizeof why);
        if (cases[i].sku) {
            if (!sku || strcmp(sku, cases[i].sku) != 0)
                fprintf(stderr, "ldjson case %zu: got %s (%s)\n", i, sku ? sku : "NULL", why);
            assert(sku && strcmp(sku, cases[i].sku) == 0);
        }
        else {
            if (sku || strcmp(why, cases[i].why) != 0)
                fprintf(stderr, "ldjson case %zu: got %s, why '%s'\n", i, sku ? sku : "NULL", why);
            assert(!sku);
            assert(strcmp(why, cases[i].why) == 0);
        }
        if (verbose)
            printf("   %2zu: %s\n", i, sku ? sku : why);
        free(sku);
    }
    /* NULL html, and a deep list, are refused without harm */
    const cJSON *node = (const cJSON *) 1;
    assert(!ldjson_find(NULL, 0, "Product", &node, why, sizeof why) && !node);
    {
        char deep[256];
        size_t o = (size_t) snprintf(deep, sizeof deep, "<script type=application/ld+json>");
        for (int i = 0; i < 12; i++)
            deep[o++] = '[';
        o += (size_t) snprintf(deep + o, sizeof deep - o, "{\"@type\":\"Product\"}");
        for (int i = 0; i < 12; i++)
            deep[o++] = ']';
        snprintf(deep + o, sizeof deep - o, "</script>");
        assert(!s_find_sku(deep, why, sizeof why));
    }
    assert(ldjson_is_type(cJSON_GetArrayItem(NULL, 0), "Product") == false);
    if (verbose)
        printf("   OK\n");
}
