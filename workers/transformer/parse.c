/*  parse.c - raw Vinted page -> normalized batch. See parse.h.

    The body is parsed once with cJSON. Before that, two things cJSON would get
    wrong are neutralised in a private copy of the body (only when present,
    common/jsontext.h): a NUL (raw, or escaped as \u0000) would silently cut a
    string short, and an unpaired UTF-16 surrogate escape would fail the whole
    page. Both become a 0xFF byte, which is invalid UTF-8, so only the item
    holding them is quarantined (text_invalid) and its neighbours survive. An
    item page's HTML gets the same treatment before its JSON-LD blocks are read
    (ldjson.h). The fetcher reads the page the same way to page on.
*/
#include "parse.h"
#include "common/jsontext.h"
#include "ldjson.h"
#include "money.h"
#include "size.h"
#include "utf8.h"

#include <assert.h>
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define S_DETAIL 256
#define S_MAX_EXACT 9007199254740992.0 /* 2^53: doubles are exact integers below */
#define S_LISTED_FROM INT64_C(946684800)  /* 2000-01-01: no listing is older (Vinted began in 2008) */
#define S_LISTED_TO INT64_C(4102444800)   /* 2100-01-01 */

typedef struct {
    const proto_page_t *page;
    proto_msg_t *out;
    proto_batch_t *batch;
    size_t cap;     /* room in batch->items (or snapshots) and batch->quarantine */
    size_t photo_cap; /* room in batch->photos */
    char base[64];  /* "https://www.vinted.pt", or "" when the page's site is unusable */
    bool oom;
} parse_ctx_t;

/* Condition labels, lowercase. Vinted's five conditions in the site languages. */
static const char *const s_conditions[] = {
    /* en */ "new with tags", "new without tags", "very good", "good", "satisfactory",
    /* pt */ "novo com etiquetas", "novo com etiqueta", "novo sem etiquetas", "novo sem etiqueta",
    "muito bom", "bom", "satisfatório", "satisfatorio",
    /* fr */ "neuf avec étiquette", "neuf avec étiquettes", "neuf sans étiquette",
    "neuf sans étiquettes", "très bon état", "bon état", "satisfaisant", "état satisfaisant",
    /* de */ "neu mit etikett", "neu mit etiketten", "neu ohne etikett", "neu ohne etiketten",
    "sehr gut", "gut", "zufriedenstellend",
    /* es */ "nuevo con etiquetas", "nuevo con etiqueta", "nuevo sin etiquetas",
    "nuevo sin etiqueta", "muy bueno", "bueno", "satisfactorio",
    /* it */ "nuovo con cartellino", "nuovo senza cartellino", "nuovo con etichetta",
    "nuovo senza etichetta", "ottime condizioni", "buone condizioni", "discrete condizioni",
    "condizioni discrete", "ottimo", "buono", "discreto",
    /* pl */ "nowy z metką", "nowy z metkami", "nowy bez metki", "nowy bez metek", "bardzo dobry",
    "dobry", "zadowalający", "zadowalajacy",
    /* nl */ "nieuw met prijskaartje", "nieuw zonder prijskaartje", "nieuw met label",
    "nieuw zonder label", "zeer goed", "goed", "redelijk", "tevredenstellend",
    /* cs */ "nové s visačkou", "nové bez visačky", "velmi dobré", "velmi dobrý", "dobré", "dobrý",
    "uspokojivé", "uspokojivý",
    /* sk */ "nové so štítkom", "nové bez štítku", "veľmi dobrý", "veľmi dobré", "uspokojivý stav",
    /* sv */ "ny med prislapp", "ny utan prislapp", "nytt med prislapp", "nytt utan prislapp",
    "mycket bra", "bra", "tillfredsställande",
    /* da */ "ny med prismærke", "ny uden prismærke", "meget god", "god", "tilfredsstillende",
    /* fi */ "uusi, hintalapullinen", "uusi ilman hintalappua", "erittäin hyvä", "hyvä",
    "tyydyttävä",
    /* lt */ "nauja su etiketėmis", "nauja be etikečių", "labai gera", "gera", "patenkinama",
    /* ro */ "nou cu etichetă", "nou fără etichetă", "foarte bun", "bun", "satisfăcător",
    /* hu */ "új, címkével", "új, címke nélkül", "új címkével", "új címke nélkül", "nagyon jó",
    "jó", "kielégítő", "megfelelő",
    /* hr */ "novo s etiketom", "novo bez etikete", "vrlo dobro", "dobro", "zadovoljavajuće",
    /* el */ "καινούργιο με ετικέτα", "καινούργιο χωρίς ετικέτα", "πολύ καλή", "καλή",
    "ικανοποιητική",
    NULL,
};

/* Fold ASCII and Latin-1 capitals (À..Þ) of s, compare with a lowercase label. */
static bool
s_label_eq(const char *s, size_t n, const char *label)
{
    const unsigned char *a = (const unsigned char *) s;
    const unsigned char *b = (const unsigned char *) label;
    size_t i = 0;
    for (; i < n && *b; i++, b++) {
        unsigned char c = a[i];
        if (c >= 'A' && c <= 'Z')
            c = (unsigned char) (c + 32);
        else if (i > 0 && a[i - 1] == 0xC3 && c >= 0x80 && c <= 0x9E && c != 0x97)
            c = (unsigned char) (c + 32);
        if (c != *b)
            return false;
    }
    return i == n && *b == '\0';
}

bool
parse_is_condition(const char *s, size_t len)
{
    while (len > 0 && (*s == ' ' || *s == '\t')) {
        s++;
        len--;
    }
    while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '.'))
        len--;
    if (len == 0)
        return false;
    for (const char *const *l = s_conditions; *l; l++)
        if (s_label_eq(s, len, *l))
            return true;
    return false;
}

/* ---------------------------------------------------------------- helpers */

static char *
s_dupn(parse_ctx_t *ctx, const char *s, size_t n)
{
    if (!s)
        return NULL;
    char *d = proto_msg_alloc(ctx->out, n + 1);
    if (!d) {
        ctx->oom = true;
        return NULL;
    }
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

static char *
s_dup(parse_ctx_t *ctx, const char *s)
{
    return s ? s_dupn(ctx, s, strlen(s)) : NULL;
}

static const cJSON *
s_get(const cJSON *obj, const char *key)
{
    return cJSON_IsObject(obj) ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;
}

static const char *
s_string(const cJSON *obj, const char *key)
{
    const cJSON *n = s_get(obj, key);
    return cJSON_IsString(n) ? n->valuestring : NULL;
}

static bool
s_blank(const char *s)
{
    for (; *s; s++)
        if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r')
            return false;
    return true;
}

/* A non-negative integer: a JSON number that is integral and exact, or a string of digits. */
static bool
s_uint(const cJSON *n, int64_t *out)
{
    if (cJSON_IsNumber(n)) {
        double v = n->valuedouble;
        if (!(v >= 0 && v <= S_MAX_EXACT))
            return false;
        int64_t i = (int64_t) v;
        if ((double) i != v)
            return false;
        *out = i;
        return true;
    }
    if (cJSON_IsString(n)) {
        const char *s = n->valuestring;
        if (!*s || strlen(s) > 18)
            return false;
        int64_t v = 0;
        for (; *s; s++) {
            if (*s < '0' || *s > '9')
                return false;
            v = v * 10 + (*s - '0');
        }
        *out = v;
        return true;
    }
    return false;
}

/* A photo's upload time: Unix seconds, or milliseconds as some answers send it
   (a changed field format); anything else is unknown. Fixed bounds, not the clock,
   so that a replay gives the same rows. */
static int64_t
s_plausible_time(int64_t t)
{
    if (t >= S_LISTED_FROM && t < S_LISTED_TO)
        return t;
    if (t / 1000 >= S_LISTED_FROM && t / 1000 < S_LISTED_TO)
        return t / 1000;
    return PROTO_NULL;
}

/* Free text for a detail: valid UTF-8 only, cut to fit cap (>= 8), no control characters. */
static void
s_show(char *dst, size_t cap, const char *s)
{
    size_t n = strlen(s);
    if (!utf8_valid(s, n)) {
        snprintf(dst, cap, "<invalid UTF-8>");
        return;
    }
    size_t lim = cap - 4;
    bool cut = n > lim;
    if (cut) {
        n = lim;
        while (n > 0 && ((unsigned char) s[n] & 0xC0) == 0x80)
            n--;
    }
    size_t o = 0;
    for (size_t i = 0; i < n; i++)
        dst[o++] = (unsigned char) s[i] < 0x20 ? '?' : s[i];
    if (cut) {
        memcpy(dst + o, "...", 3);
        o += 3;
    }
    dst[o] = '\0';
}

/* A short description of a JSON value for a detail: 1.5, "abc", an object... */
static void
s_repr(char *dst, size_t cap, const cJSON *n)
{
    char tmp[64];
    if (!n)
        snprintf(dst, cap, "absent");
    else if (cJSON_IsNull(n))
        snprintf(dst, cap, "null");
    else if (cJSON_IsBool(n))
        snprintf(dst, cap, "%s", cJSON_IsTrue(n) ? "true" : "false");
    else if (cJSON_IsNumber(n)) {
        snprintf(dst, cap, "%.15g", n->valuedouble);
        if (strtod(dst, NULL) != n->valuedouble)
            snprintf(dst, cap, "%.17g", n->valuedouble);
    }
    else if (cJSON_IsString(n)) {
        s_show(tmp, sizeof tmp, n->valuestring);
        snprintf(dst, cap, "\"%s\"", tmp);
    }
    else if (cJSON_IsArray(n))
        snprintf(dst, cap, "an array");
    else if (cJSON_IsObject(n))
        snprintf(dst, cap, "an object");
    else
        snprintf(dst, cap, "an unknown value");
}

static void
s_cents_text(char *dst, size_t cap, int64_t c)
{
    uint64_t a = c < 0 ? (uint64_t) 0 - (uint64_t) c : (uint64_t) c;
    snprintf(dst, cap, "%s%llu.%02llu", c < 0 ? "-" : "", (unsigned long long) (a / 100),
             (unsigned long long) (a % 100));
}

/* A money value: {amount, currency_code}, "3.0", or 3.0.
   1: absent (missing or null); 0: ok; -1: invalid, reason in why. */
static int
s_money(const cJSON *n, int64_t *cents, const char **code, char *why, size_t whylen)
{
    const char *reason = NULL;
    if (!n || cJSON_IsNull(n))
        return 1;
    const cJSON *amount = n;
    if (cJSON_IsObject(n)) {
        amount = cJSON_GetObjectItemCaseSensitive(n, "amount");
        if (code)
            *code = s_string(n, "currency_code");
        if (!amount || cJSON_IsNull(amount))
            return 1;
    }
    int rc;
    if (cJSON_IsString(amount))
        rc = money_parse_cents(amount->valuestring, cents, &reason);
    else if (cJSON_IsNumber(amount))
        rc = money_double_cents(amount->valuedouble, cents, &reason);
    else {
        rc = -1;
        reason = "not a number";
    }
    if (rc != 0) {
        char r[80];
        s_repr(r, sizeof r, amount);
        snprintf(why, whylen, "%s (%s)", reason, r);
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------ quarantine */

static int
s_quarantine(parse_ctx_t *ctx, int32_t pos, const char *rule, const char *detail,
             const uint8_t *raw, size_t raw_len)
{
    proto_batch_t *b = ctx->batch;
    assert(b->n_quarantine < ctx->cap);
    proto_quarantine_t *q = &b->quarantine[b->n_quarantine];
    q->pos = pos;
    q->rule = s_dup(ctx, rule);
    q->detail = s_dup(ctx, detail);
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

static int
s_reject_item(parse_ctx_t *ctx, int32_t pos, const char *rule, const char *detail,
              const cJSON *item)
{
    char *raw = cJSON_PrintUnformatted(item);
    int rc = s_quarantine(ctx, pos, rule, detail, (const uint8_t *) raw, raw ? strlen(raw) : 0);
    cJSON_free(raw); /* cJSON's memory goes back through cJSON (jsonmem.h) */
    return rc;
}

/* The whole page is unusable: no items, one record at pos -1 with the body. */
static int
s_reject_page(parse_ctx_t *ctx, const char *rule, const char *detail)
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

/* ----------------------------------------------------------------- items */

typedef struct {
    const char *s;
    size_t n;
} parse_span_t;

static parse_span_t
s_trim(const char *s, size_t n)
{
    while (n > 0 && (*s == ' ' || *s == '\t')) {
        s++;
        n--;
    }
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    return (parse_span_t){s, n};
}

/* item_box.second_line: "size · condition", "condition" or "size". */
static void
s_second_line(const char *line, parse_span_t *size, parse_span_t *cond)
{
    static const char dot[] = "\xc2\xb7"; /* U+00B7 MIDDLE DOT */
    size->s = cond->s = NULL;
    size->n = cond->n = 0;
    if (!line)
        return;
    size_t len = strlen(line);
    const char *first = strstr(line, dot);
    if (!first) {
        parse_span_t whole = s_trim(line, len);
        if (whole.n == 0)
            return;
        if (parse_is_condition(whole.s, whole.n))
            *cond = whole;
        else
            *size = whole;
        return;
    }
    const char *last = first;
    for (const char *p; (p = strstr(last + 2, dot));)
        last = p;
    parse_span_t head = s_trim(line, (size_t) (first - line));
    parse_span_t tail = s_trim(last + 2, len - (size_t) (last + 2 - line));
    if (!parse_is_condition(tail.s, tail.n) && parse_is_condition(head.s, head.n)) {
        /* "condition · size": the unusual order */
        *cond = head;
        *size = s_trim(first + 2, len - (size_t) (first + 2 - line));
    }
    else {
        *cond = tail;
        *size = s_trim(line, (size_t) (last - line));
    }
    if (size->n == 0)
        size->s = NULL;
    if (cond->n == 0)
        cond->s = NULL;
}

static const cJSON *
s_main_photo(const cJSON *it)
{
    const cJSON *photo = s_get(it, "photo");
    if (cJSON_IsObject(photo))
        return photo;
    const cJSON *photos = s_get(it, "photos");
    if (!cJSON_IsArray(photos))
        return NULL;
    const cJSON *first = NULL;
    for (const cJSON *p = photos->child; p; p = p->next) {
        if (!cJSON_IsObject(p))
            continue;
        if (!first)
            first = p;
        if (cJSON_IsTrue(s_get(p, "is_main")))
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
        return s_dup(ctx, url);
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

/* What an item that passed the rules holds (pointers into the cJSON tree). */
typedef struct {
    int64_t id;
    int64_t price, fee, total; /* cents; fee and total may be PROTO_NULL */
    char currency[4];
    const char *title, *brand, *login, *url, *photo_url;
    parse_span_t size, cond;
    const cJSON *photo; /* the main photo object, or NULL */
    int64_t user_id, created, favourites, views;
} parse_fields_t;

/* A counter the database keeps as int: PROTO_NULL when absent or out of range. */
static int64_t
s_count(const cJSON *n)
{
    int64_t v = 0;
    if (!s_uint(n, &v) || v > INT32_MAX)
        return PROTO_NULL;
    return v;
}

/* The item rules (see parse.h), shared by catalog and seller pages.
   0: valid, fields filled; 1: quarantined; -1: out of memory. */
static int
s_validate(parse_ctx_t *ctx, const cJSON *it, int32_t pos, parse_fields_t *f)
{
    char detail[S_DETAIL], r[96];

    if (!cJSON_IsObject(it)) {
        s_repr(r, sizeof r, it);
        snprintf(detail, sizeof detail, "item is %s, not an object", r);
        return s_reject_item(ctx, pos, "item_not_object", detail, it) ? -1 : 1;
    }

    /* id */
    int64_t id = 0;
    const cJSON *idn = s_get(it, "id");
    if (!s_uint(idn, &id) || id <= 0) {
        s_repr(r, sizeof r, idn);
        snprintf(detail, sizeof detail, "id is not a positive integer: %s", r);
        return s_reject_item(ctx, pos, "id_missing", detail, it) ? -1 : 1;
    }
    f->id = id;

    /* prices */
    char mwhy[160];
    int64_t price = 0, fee = PROTO_NULL, total = PROTO_NULL;
    const char *code = NULL;
    const cJSON *pn = s_get(it, "price");
    if (!pn || cJSON_IsNull(pn))
        pn = s_get(it, "price_numeric");
    int rc = s_money(pn, &price, &code, mwhy, sizeof mwhy);
    if (rc == 1)
        return s_reject_item(ctx, pos, "price_missing", "no price", it) ? -1 : 1;
    if (rc < 0) {
        snprintf(detail, sizeof detail, "price: %s", mwhy);
        return s_reject_item(ctx, pos, "price_invalid", detail, it) ? -1 : 1;
    }
    static const char *const extra[] = {"service_fee", "total_item_price"};
    int64_t *dest[] = {&fee, &total};
    for (int i = 0; i < 2; i++) {
        int64_t v = 0;
        rc = s_money(s_get(it, extra[i]), &v, NULL, mwhy, sizeof mwhy);
        if (rc < 0 || (rc == 0 && v < 0)) {
            if (rc == 0)
                snprintf(mwhy, sizeof mwhy, "negative");
            snprintf(detail, sizeof detail, "%s: %s", extra[i], mwhy);
            return s_reject_item(ctx, pos, "price_invalid", detail, it) ? -1 : 1;
        }
        if (rc == 0)
            *dest[i] = v;
    }
    if (price <= 0) {
        s_cents_text(r, sizeof r, price);
        snprintf(detail, sizeof detail, "price is %s", r);
        return s_reject_item(ctx, pos, "price_not_positive", detail, it) ? -1 : 1;
    }
    f->price = price;
    f->fee = fee;
    f->total = total;

    /* currency: inside the price object, else the legacy separate field */
    if (!code)
        code = s_string(it, "currency");
    if (!code)
        code = s_string(it, "currency_code");
    if (!code) {
        const cJSON *cn = s_get(it, "currency");
        if (!cn || cJSON_IsNull(cn))
            return s_reject_item(ctx, pos, "currency_unknown", "no currency", it) ? -1 : 1;
        s_repr(r, sizeof r, cn);
        snprintf(detail, sizeof detail, "currency is %s, not a code", r);
        return s_reject_item(ctx, pos, "currency_unknown", detail, it) ? -1 : 1;
    }
    if (!money_currency(code, f->currency)) {
        s_show(r, sizeof r, code);
        snprintf(detail, sizeof detail, "currency \"%s\" is not an ISO 4217 code", r);
        return s_reject_item(ctx, pos, "currency_unknown", detail, it) ? -1 : 1;
    }

    /* title */
    const cJSON *tn = s_get(it, "title");
    if (!cJSON_IsString(tn) || s_blank(tn->valuestring)) {
        s_repr(r, sizeof r, tn);
        snprintf(detail, sizeof detail, "title is %s",
                 cJSON_IsString(tn) ? "empty" : r);
        return s_reject_item(ctx, pos, "title_missing", detail, it) ? -1 : 1;
    }
    f->title = tn->valuestring;

    /* brand, size, condition: v2 keys when present, else item_box */
    const cJSON *box = s_get(it, "item_box");
    const char *brand;
    if (s_get(it, "brand_title"))
        brand = s_string(it, "brand_title");
    else
        brand = s_string(box, "first_line");
    parse_span_t size = {NULL, 0}, cond = {NULL, 0};
    bool v2_size = s_get(it, "size_title") != NULL;
    const char *st = s_string(it, "size_title");
    const char *status = s_string(it, "status");
    if (st)
        size = s_trim(st, strlen(st));
    if (status)
        cond = s_trim(status, strlen(status));
    if (!v2_size || !status) {
        parse_span_t s2, c2;
        s_second_line(s_string(box, "second_line"), &s2, &c2);
        if (!v2_size)
            size = s2;
        if (!status)
            cond = c2;
    }
    if (brand && s_blank(brand))
        brand = NULL;
    f->brand = brand;
    f->size = size;
    f->cond = cond;

    /* user, url, photo, counters */
    const cJSON *user = s_get(it, "user");
    int64_t user_id = PROTO_NULL;
    if (!s_uint(s_get(user, "id"), &user_id) && !s_uint(s_get(it, "user_id"), &user_id))
        user_id = PROTO_NULL;
    if (user_id == 0)
        user_id = PROTO_NULL;
    f->user_id = user_id;
    f->login = s_string(user, "login");
    const char *url = s_string(it, "url");
    if (!url || !*url)
        url = s_string(it, "path");
    f->url = url;
    f->photo = s_main_photo(it);
    const char *photo_url = s_string(f->photo, "url");
    if (!photo_url || !*photo_url)
        photo_url = s_string(f->photo, "full_size_url");
    f->photo_url = photo_url;
    f->created = PROTO_NULL;
    if (!s_uint(s_get(s_get(f->photo, "high_resolution"), "timestamp"), &f->created))
        f->created = PROTO_NULL;
    else
        f->created = s_plausible_time(f->created);
    f->favourites = s_count(s_get(it, "favourite_count"));
    f->views = s_count(s_get(it, "view_count"));

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
            return s_reject_item(ctx, pos, "text_invalid", detail, it) ? -1 : 1;
        }
    return 0;
}

/* ---------------------------------------------------------------- photos */

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
    if (!cJSON_IsObject(p) || !s_uint(s_get(p, "id"), &photo_id) || photo_id <= 0)
        return;
    const char *url = s_string(p, "url");
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
    const cJSON *flag = s_get(p, "is_main");
    ph->item_id = item_id;
    ph->photo_id = photo_id;
    ph->url = s_dup(ctx, url);
    ph->is_main = cJSON_IsBool(flag) ? cJSON_IsTrue(flag) : main_default;
    ph->position = position;
    if (!ctx->oom)
        b->n_photos++;
}

/* Every photo an item shows: v2 `photo` (the main one, position 0), then
   `photos[]` (position = index; without flags the first is the main one). */
static int
s_photos(parse_ctx_t *ctx, const cJSON *it, int64_t item_id)
{
    proto_batch_t *b = ctx->batch;
    /* Photos of an item id met earlier on this page count as duplicates too. */
    size_t first = b->n_photos;
    for (size_t i = 0; i < b->n_photos; i++)
        if (b->photos[i].item_id == item_id) {
            first = i;
            break;
        }
    const cJSON *photo = s_get(it, "photo");
    const cJSON *photos = s_get(it, "photos");
    bool flagged = false; /* some photo says is_main: true */
    if (cJSON_IsObject(photo)) {
        s_photo(ctx, item_id, photo, true, 0, first);
        flagged = true;
    }
    if (cJSON_IsArray(photos)) {
        for (const cJSON *p = photos->child; p && !flagged; p = p->next)
            flagged = cJSON_IsTrue(s_get(p, "is_main"));
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

/* ----------------------------------------------------------------- items */

/* One catalog item: the item and its photos, or a quarantine record. */
static int
s_item(parse_ctx_t *ctx, const cJSON *it, int32_t pos)
{
    parse_fields_t f;
    int rc = s_validate(ctx, it, pos, &f);
    if (rc != 0)
        return rc < 0 ? -1 : 0;

    proto_batch_t *b = ctx->batch;
    assert(b->n_items < ctx->cap);
    proto_item_t *item = &b->items[b->n_items];
    item->item_id = f.id;
    item->catalog_id = ctx->page->catalog_id;
    item->title = s_dup(ctx, f.title);
    item->price = f.price;
    item->currency = s_dupn(ctx, f.currency, 3);
    item->service_fee = f.fee;
    item->total_price = f.total;
    item->brand = s_dup(ctx, f.brand);
    item->size_title = NULL;
    item->size_kind = NULL;
    item->size_value = NULL;
    if (f.size.s && f.size.n > 0) {
        item->size_title = s_dupn(ctx, f.size.s, f.size.n);
        char value[SIZE_VALUE_MAX];
        const char *kind = item->size_title ? size_parse(item->size_title, value, sizeof value) : NULL;
        if (kind) {
            item->size_kind = s_dup(ctx, kind);
            item->size_value = s_dup(ctx, value);
        }
    }
    item->condition = f.cond.s && f.cond.n > 0 ? s_dupn(ctx, f.cond.s, f.cond.n) : NULL;
    item->user_id = f.user_id;
    item->user_login = f.login && *f.login ? s_dup(ctx, f.login) : NULL;
    item->url = s_absolute_url(ctx, f.url);
    item->photo_url = f.photo_url && *f.photo_url ? s_dup(ctx, f.photo_url) : NULL;
    item->favourite_count = f.favourites;
    item->view_count = f.views;
    item->created_at = f.created;
    item->first_seen_at_ms = ctx->page->fetched_at_ms;
    item->pos = pos;
    item->promoted = cJSON_IsTrue(s_get(it, "promoted"));
    if (ctx->oom)
        return -1;
    b->n_items++;
    return s_photos(ctx, it, f.id);
}

/* ------------------------------------------------------------ tracking */

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
    if (!s || s_blank(s) || !utf8_valid(s, strlen(s)))
        return NULL;
    return s_dup(ctx, s);
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
    u->login = s_text(ctx, s_string(user, "login"));
    u->item_count = s_count(s_get(user, "item_count"));
    u->feedback_count = s_count(s_get(user, "feedback_count"));
    if (s_thousandths(s_get(user, "feedback_reputation"), &u->feedback_reputation) != 0)
        u->feedback_reputation = PROTO_NULL;
    u->positive_feedback_count = s_count(s_get(user, "positive_feedback_count"));
    u->neutral_feedback_count = s_count(s_get(user, "neutral_feedback_count"));
    u->negative_feedback_count = s_count(s_get(user, "negative_feedback_count"));
    u->followers_count = s_count(s_get(user, "followers_count"));
    u->city = s_text(ctx, s_string(user, "city"));
    const char *country = s_string(user, "country_title");
    if (!country || s_blank(country))
        country = s_string(user, "country_code");
    if (!country || s_blank(country))
        country = s_string(user, "country");
    u->country = s_text(ctx, country);
    if (ctx->oom)
        return -1;
    b->n_users = 1;
    return 0;
}

/* One item of a seller's list: a snapshot and its photos, or a quarantine
   record (the catalog rules). The first valid item also gives the seller. */
static int
s_seller_item(parse_ctx_t *ctx, const cJSON *it, int32_t pos)
{
    parse_fields_t f;
    int rc = s_validate(ctx, it, pos, &f);
    if (rc != 0)
        return rc < 0 ? -1 : 0;
    const cJSON *can = s_get(it, "item_closing_action");
    const char *action = NULL;
    if (cJSON_IsString(can) && !s_blank(can->valuestring))
        action = can->valuestring;
    else if (can && !cJSON_IsNull(can) && !cJSON_IsString(can)) {
        char r[96], detail[S_DETAIL];
        s_repr(r, sizeof r, can);
        snprintf(detail, sizeof detail, "item_closing_action is %s, not a text", r);
        return s_reject_item(ctx, pos, "text_invalid", detail, it);
    }
    if (action && !utf8_valid(action, strlen(action)))
        return s_reject_item(ctx, pos, "text_invalid",
                             "item_closing_action is not valid UTF-8 or contains NUL", it);

    proto_batch_t *b = ctx->batch;
    int64_t seller = ctx->page->target_id > 0 ? ctx->page->target_id : PROTO_NULL;
    int64_t user_id = f.user_id != PROTO_NULL ? f.user_id : seller;
    const cJSON *user = s_get(it, "user");
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
    s->currency = s_dupn(ctx, f.currency, 3);
    s->favourite_count = f.favourites;
    s->view_count = f.views;
    s->is_reserved = cJSON_IsTrue(s_get(it, "is_reserved"));
    s->is_hidden = cJSON_IsTrue(s_get(it, "is_hidden"));
    s->is_closed = cJSON_IsTrue(s_get(it, "is_closed"));
    s->closing_action = s_dup(ctx, action);
    s->removed = false;
    if (ctx->oom)
        return -1;
    b->n_snapshots++;
    return s_photos(ctx, it, f.id);
}

static bool
s_ends_with(const char *s, const char *tail)
{
    size_t n = strlen(s), tn = strlen(tail);
    return n >= tn && strcmp(s + n - tn, tail) == 0;
}

/* The public item page: the JSON-LD Product's offer is the observation. */
static int
s_item_page(parse_ctx_t *ctx, const char *text, size_t len)
{
    proto_batch_t *b = ctx->batch;
    const proto_page_t *page = ctx->page;
    char detail[S_DETAIL], why[160], r[96];
    const cJSON *product = NULL;
    cJSON *root = ldjson_find(text, len, "Product", &product, why, sizeof why);
    if (!root) {
        snprintf(detail, sizeof detail, "no Product in the item page: %s", why);
        return s_reject_page(ctx, "malformed_page", detail);
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
    const cJSON *idn = s_get(product, "productID");
    if (!idn)
        idn = s_get(product, "sku");
    if (idn && s_uint(idn, &pid) && pid != page->target_id) {
        snprintf(detail, sizeof detail, "the page shows item %lld, not %lld", (long long) pid,
                 (long long) page->target_id);
        rc = s_reject_item(ctx, 0, "id_mismatch", detail, product);
        goto done;
    }

    const cJSON *offers = s_get(product, "offers");
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
    const cJSON *pn = s_get(offers, "price");
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
            s_repr(r, sizeof r, pn);
            snprintf(detail, sizeof detail, "offers.price: %s (%s)", reason, r);
            rc = s_reject_item(ctx, 0, "price_invalid", detail, product);
            goto done;
        }
        if (price <= 0) {
            s_cents_text(r, sizeof r, price);
            snprintf(detail, sizeof detail, "offers.price is %s", r);
            rc = s_reject_item(ctx, 0, "price_not_positive", detail, product);
            goto done;
        }
        const cJSON *cn = s_get(offers, "priceCurrency");
        if (!cJSON_IsString(cn) || !money_currency(cn->valuestring, code)) {
            if (cJSON_IsString(cn)) {
                s_show(r, sizeof r, cn->valuestring);
                snprintf(detail, sizeof detail, "offers.priceCurrency \"%s\" is not an ISO 4217 code", r);
            }
            else {
                s_repr(r, sizeof r, cn);
                snprintf(detail, sizeof detail, "offers.priceCurrency is %s", r);
            }
            rc = s_reject_item(ctx, 0, "currency_unknown", detail, product);
            goto done;
        }
    }
    const char *availability = s_string(offers, "availability");
    bool closed = availability
                  && (s_ends_with(availability, "SoldOut") || s_ends_with(availability, "OutOfStock"));

    proto_snapshot_t *s = &b->snapshots[0];
    s->item_id = page->target_id;
    s->user_id = PROTO_NULL;
    s->price = price;
    s->currency = code[0] ? s_dupn(ctx, code, 3) : NULL;
    s->favourite_count = PROTO_NULL;
    s->view_count = PROTO_NULL;
    s->is_closed = closed;
    s->closing_action = closed ? s_dup(ctx, "sold") : NULL;
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
static int
s_removed(parse_ctx_t *ctx)
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

/* Why root holds no usable key (an array for "items", an object for "user"):
   "body is not a JSON object", "items is not an array (null)", "no items array
   (code 104: Not found)"... */
static void
s_missing(const cJSON *root, const char *key, bool array, char *detail, size_t cap)
{
    const cJSON *n = s_get(root, key);
    const char *what = array ? "array" : "object";
    if (!cJSON_IsObject(root)) {
        snprintf(detail, cap, "body is not a JSON object");
        return;
    }
    if (n) {
        char r[96];
        s_repr(r, sizeof r, n);
        snprintf(detail, cap, "%s is not an %s (%s)", key, what, r);
        return;
    }
    int64_t code = 0;
    const char *msg = s_string(root, "message");
    if (!msg)
        msg = s_string(root, "message_code");
    char m[80] = "";
    if (msg)
        s_show(m, sizeof m, msg);
    if (s_uint(s_get(root, "code"), &code))
        snprintf(detail, cap, "no %s %s (code %lld%s%s)", key, what, (long long) code,
                 msg ? ": " : "", m);
    else
        snprintf(detail, cap, "no %s %s", key, what);
}

/* A seller's profile {user:{...}}: one users entry, or a quarantine record
   (no user object: malformed_page; a bad or other id: id_missing, id_mismatch;
   a kept text that is not UTF-8: text_invalid). */
static int
s_profile(parse_ctx_t *ctx, const cJSON *root)
{
    char detail[S_DETAIL], r[96];
    const cJSON *user = s_get(root, "user");
    if (!cJSON_IsObject(user)) {
        s_missing(root, "user", false, detail, sizeof detail);
        return s_reject_page(ctx, "malformed_page", detail);
    }
    proto_batch_t *b = ctx->batch;
    b->quarantine = proto_msg_alloc(ctx->out, sizeof *b->quarantine);
    if (!b->quarantine)
        return -1;
    ctx->cap = 1;
    int64_t id = 0;
    const cJSON *idn = s_get(user, "id");
    if (!s_uint(idn, &id) || id <= 0) {
        s_repr(r, sizeof r, idn);
        snprintf(detail, sizeof detail, "user.id is not a positive integer: %s", r);
        return s_reject_item(ctx, 0, "id_missing", detail, user);
    }
    if (id != ctx->page->target_id) {
        snprintf(detail, sizeof detail, "the profile is user %lld, not %lld", (long long) id,
                 (long long) ctx->page->target_id);
        return s_reject_item(ctx, 0, "id_mismatch", detail, user);
    }
    static const char *const texts[] = {"login", "city", "country_title", "country_code", "country"};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        const char *t = s_string(user, texts[i]);
        if (t && !utf8_valid(t, strlen(t))) {
            snprintf(detail, sizeof detail, "user.%s is not valid UTF-8 or contains NUL", texts[i]);
            return s_reject_item(ctx, 0, "text_invalid", detail, user);
        }
    }
    return s_seller(ctx, user, id);
}

/* -------------------------------------------------------------- catalogs */

/* Nodes of a nested tree (each node's "catalogs" array holds its children). */
static size_t
s_tree_count(const cJSON *list)
{
    size_t n = 0;
    if (!cJSON_IsArray(list))
        return 0;
    for (const cJSON *c = list->child; c; c = c->next)
        n += 1 + s_tree_count(s_get(c, "catalogs"));
    return n;
}

/* A catalog id: a positive integer that fits an int32, else 0. */
static int32_t
s_catalog_id(const cJSON *n)
{
    int64_t v = 0;
    return s_uint(n, &v) && v > 0 && v <= INT32_MAX ? (int32_t) v : 0;
}

/* Keeps one node as batch.catalogs[n_catalogs], or quarantines it (id_missing,
   title_missing, text_invalid) at pos; returns 1 kept, 0 quarantined, -1 oom. */
static int
s_catalog_node(parse_ctx_t *ctx, const cJSON *node, int32_t pos, int32_t parent, int32_t depth)
{
    char detail[S_DETAIL], r[96];
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
    int32_t id = s_catalog_id(s_get(node, "id"));
    const char *title = s_string(node, "title");
    const char *code = s_string(node, "code");
    const char *url = s_string(node, "url");
    if (!cJSON_IsObject(node)) {
        snprintf(detail, sizeof detail, "catalog node is not an object");
        rc = s_reject_item(ctx, pos, "item_not_object", detail, raw);
    }
    else if (id == 0) {
        s_repr(r, sizeof r, s_get(node, "id"));
        snprintf(detail, sizeof detail, "catalog id is not a positive 32-bit integer: %s", r);
        rc = s_reject_item(ctx, pos, "id_missing", detail, raw);
    }
    else if (!title || s_blank(title)) {
        snprintf(detail, sizeof detail, "catalog %d has no title", (int) id);
        rc = s_reject_item(ctx, pos, "title_missing", detail, raw);
    }
    else if (!utf8_valid(title, strlen(title)) || (code && !utf8_valid(code, strlen(code)))
             || (url && !utf8_valid(url, strlen(url)))) {
        snprintf(detail, sizeof detail, "catalog %d: a text is not valid UTF-8 or contains NUL",
                 (int) id);
        rc = s_reject_item(ctx, pos, "text_invalid", detail, raw);
    }
    else {
        proto_catalog_t *c = &b->catalogs[b->n_catalogs];
        c->catalog_id = id;
        c->parent_id = parent;
        c->depth = depth;
        c->title = s_dup(ctx, title);
        c->code = code && *code ? s_dup(ctx, code) : NULL;
        c->url = url && *url ? s_dup(ctx, url) : NULL;
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
        const cJSON *kids = s_get(c, "catalogs");
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
    const cJSON *tree = s_get(root, "catalog_children_tree");
    int32_t pos = 0;
    for (const cJSON *c = catalogs->child; c; c = c->next, pos++) {
        int32_t parent = s_catalog_id(s_get(c, "parent_id"));
        if (parent == 0 && cJSON_IsObject(tree)) {
            int32_t id = s_catalog_id(s_get(c, "id"));
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
        char detail[S_DETAIL];
        snprintf(detail, sizeof detail, "catalog %d: its parent chain loops", (int) c->catalog_id);
        const cJSON *node = catalogs->child;
        int32_t at = 0;
        for (; node && s_catalog_id(s_get(node, "id")) != c->catalog_id; node = node->next)
            at++;
        if (s_reject_item(ctx, at, "parent_invalid", detail, node) != 0)
            return -1;
    }
    b->n_catalogs = kept;
    return 0;
}

/* The catalog tree, nested {catalogs:[{id,title,code,url,catalogs:[...]}]} or
   flat {catalogs:{"<id>":{...}}, catalog_children_tree:{...}}. */
static int
s_catalogs(parse_ctx_t *ctx, const cJSON *root)
{
    char detail[S_DETAIL];
    const cJSON *catalogs = s_get(root, "catalogs");
    bool nested = cJSON_IsArray(catalogs);
    if (!nested && !cJSON_IsObject(catalogs)) {
        s_missing(root, "catalogs", true, detail, sizeof detail);
        return s_reject_page(ctx, "malformed_page", detail);
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
        return s_reject_page(ctx, "malformed_page", detail);
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
    out->body = PROTO_BODY_BATCH;
    proto_batch_t *b = &out->u.batch;
    memset(b, 0, sizeof *b);
    b->window_id = page->window_id;
    b->catalog_id = page->catalog_id;
    b->page = page->page;
    b->attempt = page->attempt;
    b->fetched_at_ms = page->fetched_at_ms;
    b->target_id = page->target_id;
    b->site = page->site && *page->site ? proto_msg_strdup(out, page->site) : NULL;

    parse_ctx_t ctx = {.page = page, .out = out, .batch = b};
    s_base(&ctx, page->site);
    char detail[S_DETAIL];

    bool seller = page->kind == PROTO_FETCH_USER_ITEMS;
    bool item_page = page->kind == PROTO_FETCH_ITEM_PAGE;
    bool profile = page->kind == PROTO_FETCH_USER;
    bool tree = page->kind == PROTO_FETCH_CATALOGS;
    if (!seller && !item_page && !profile && !tree && page->kind != PROTO_FETCH_CATALOG) {
        snprintf(detail, sizeof detail, "unknown page kind %d", (int) page->kind);
        return s_reject_page(&ctx, "malformed_page", detail);
    }
    if (item_page && page->target_id <= 0) {
        snprintf(detail, sizeof detail, "item page without an item id (target %lld)",
                 (long long) page->target_id);
        return s_reject_page(&ctx, "malformed_page", detail);
    }
    if (profile && page->target_id <= 0) {
        snprintf(detail, sizeof detail, "profile without a user id (target %lld)",
                 (long long) page->target_id);
        return s_reject_page(&ctx, "malformed_page", detail);
    }
    if (item_page && page->http_status == 404)
        return s_removed(&ctx); /* an observation, not an error */
    if (profile && page->http_status == 404)
        return 0; /* the seller is gone: nothing to observe, not an error */
    if (page->error) {
        char e[160];
        s_show(e, sizeof e, page->error);
        snprintf(detail, sizeof detail, "fetch failed: %s", e);
        return s_reject_page(&ctx, "malformed_page", detail);
    }
    if (page->http_status != 0 && page->http_status != 200) {
        snprintf(detail, sizeof detail, "HTTP status %d", (int) page->http_status);
        return s_reject_page(&ctx, "http_error", detail);
    }
    const char *text = (const char *) page->body;
    size_t len = page->body_len;
    while (text && len > 0 && text[len - 1] == '\0')
        len--; /* a terminating NUL sent along is not content */
    if (!text || len == 0)
        return s_reject_page(&ctx, "malformed_page", "empty body");

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
        rc = s_item_page(&ctx, text, len);
        goto done;
    }
    root = cJSON_ParseWithLengthOpts(text, len, &end, false);
    if (!root) {
        size_t at = end && end >= text && end <= text + len ? (size_t) (end - text) : 0;
        snprintf(detail, sizeof detail, "body is not JSON (error at byte %zu of %zu)", at, len);
        rc = s_reject_page(&ctx, "malformed_page", detail);
        goto done;
    }
    while (end < text + len && (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r'))
        end++;
    if (end < text + len) {
        snprintf(detail, sizeof detail, "trailing data after the JSON at byte %zu of %zu",
                 (size_t) (end - text), len);
        rc = s_reject_page(&ctx, "malformed_page", detail);
        goto done;
    }
    if (profile) {
        rc = s_profile(&ctx, root);
        goto done;
    }
    if (tree) {
        rc = s_catalogs(&ctx, root);
        goto done;
    }
    const cJSON *items = s_get(root, "items");
    if (!cJSON_IsArray(items)) {
        s_missing(root, "items", true, detail, sizeof detail);
        rc = s_reject_page(&ctx, "malformed_page", detail);
        goto done;
    }
    size_t n = 0;
    for (const cJSON *c = items->child; c; c = c->next)
        n++;
    if (n > PARSE_MAX_ITEMS) {
        snprintf(detail, sizeof detail, "%zu items on one page, more than %d", n, PARSE_MAX_ITEMS);
        rc = s_reject_page(&ctx, "malformed_page", detail);
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
        if ((seller ? s_seller_item(&ctx, c, pos) : s_item(&ctx, c, pos)) != 0) {
            rc = -1;
            break;
        }
done:
    cJSON_Delete(root);
    free(fixed);
    return rc;
}

/* ------------------------------------------------------------------ test */

/* Fixtures use ' for " to stay readable (a real apostrophe would be \u0027). */
static char *
s_fixture(const char *text)
{
    char *s = strdup(text);
    assert(s);
    for (char *p = s; *p; p++)
        if (*p == '\'')
            *p = '"';
    return s;
}

static proto_msg_t *
s_run_bytes(const char *body, size_t len, const char *site, int status, const char *error)
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

static proto_msg_t *
s_run(const char *fixture, const char *site)
{
    char *body = s_fixture(fixture);
    proto_msg_t *out = s_run_bytes(body, strlen(body), site, 200, NULL);
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
    proto_msg_t *out = s_run(page, site);
    free(page);
    return out;
}

/* The single item of a one-item page must be quarantined under rule. */
static void
s_expect_rule(const char *item_fixture, const char *rule, bool verbose)
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
static proto_msg_t *
s_expect_item(const char *item_fixture, const char *site)
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

/* The page must be rejected as a whole under rule, with the body as raw. */
static void
s_expect_page_rule(const char *body, size_t len, int status, const char *error, const char *rule,
                   const char *detail_part, bool verbose)
{
    proto_msg_t *out = s_run_bytes(body, len, "fr", status, error);
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

static void
s_streq(const char *got, const char *want)
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

/* What every batch must satisfy, whatever the input. */
static void
s_check_batch(const proto_batch_t *b)
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

/* ------------------------------------------------------- tracking tests */

static proto_msg_t *
s_run_kind(const char *body, size_t len, int32_t kind, int64_t target, int status)
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
    s_check_batch(&out->u.batch);
    return out;
}

/* A fixture (' for ") as a page of this kind. */
static proto_msg_t *
s_run_fixture(const char *fixture, int32_t kind, int64_t target, int status)
{
    char *body = s_fixture(fixture);
    proto_msg_t *out = s_run_kind(body, strlen(body), kind, target, status);
    free(body);
    return out;
}

static const proto_photo_t *
s_find_photo(const proto_batch_t *b, int64_t item_id, int64_t photo_id)
{
    for (size_t i = 0; i < b->n_photos; i++)
        if (b->photos[i].item_id == item_id && b->photos[i].photo_id == photo_id)
            return &b->photos[i];
    return NULL;
}

static void
s_expect_photo(const proto_batch_t *b, int64_t item_id, int64_t photo_id, const char *url,
               bool is_main, int32_t position)
{
    const proto_photo_t *p = s_find_photo(b, item_id, photo_id);
    if (!p)
        fprintf(stderr, "parse: no photo %lld of item %lld\n", (long long) photo_id, (long long) item_id);
    assert(p);
    if (url)
        s_streq(p->url, url);
    assert(p->is_main == is_main);
    assert(p->position == position);
}

static void
s_test_photos(bool verbose)
{
    if (verbose)
        printf("   photos:\n");
    /* v2: the main photo; is_main taken from the flag, else main */
    proto_msg_t *out = s_expect_item("{'id':1,'title':'T','price':'1','currency':'EUR',"
                                     "'photo':{'id':10,'url':'https://img/10','is_main':true,"
                                     "'thumbnails':[{'id':99,'url':'https://img/t'}]}}", "pt");
    assert(out->u.batch.n_photos == 1);
    s_expect_photo(&out->u.batch, 1, 10, "https://img/10", true, 0);
    proto_msg_destroy(&out);
    out = s_expect_item("{'id':1,'title':'T','price':'1','currency':'EUR',"
                        "'photo':{'id':'29720248985','url':'https://img/10'}}", "pt");
    assert(out->u.batch.n_photos == 1);
    s_expect_photo(&out->u.batch, 1, INT64_C(29720248985), "https://img/10", true, 0);
    proto_msg_destroy(&out);
    /* v2 photo plus photos[] that repeats it */
    out = s_expect_item("{'id':1,'title':'T','price':'1','currency':'EUR','photo':{'id':10,'url':'https://img/10'},"
                        "'photos':[{'id':10,'url':'https://img/10'},{'id':11,'url':'https://img/11'}]}", "pt");
    assert(out->u.batch.n_photos == 2);
    s_expect_photo(&out->u.batch, 1, 10, "https://img/10", true, 0);
    s_expect_photo(&out->u.batch, 1, 11, "https://img/11", false, 1);
    proto_msg_destroy(&out);
    /* svc: photos[] with flags, and without (the first is the main one) */
    out = s_expect_item("{'id':2,'title':'T','price':'1','currency':'EUR','photos':["
                        "{'id':20,'url':'https://img/20','is_main':false},"
                        "{'id':21,'url':'https://img/21','is_main':true}]}", "pt");
    assert(out->u.batch.n_photos == 2);
    s_expect_photo(&out->u.batch, 2, 20, "https://img/20", false, 0);
    s_expect_photo(&out->u.batch, 2, 21, "https://img/21", true, 1);
    proto_msg_destroy(&out);
    out = s_expect_item("{'id':3,'title':'T','price':'1','currency':'EUR','photos':["
                        "{'id':30,'url':'https://img/30'},{'id':31,'url':'https://img/31'}]}", "pt");
    assert(out->u.batch.n_photos == 2);
    s_expect_photo(&out->u.batch, 3, 30, "https://img/30", true, 0);
    s_expect_photo(&out->u.batch, 3, 31, "https://img/31", false, 1);
    proto_msg_destroy(&out);
    /* photos without a numeric id or a fetchable url are skipped, not errors */
    out = s_expect_item("{'id':4,'title':'T','price':'1','currency':'EUR','photos':["
                        "7,{'url':'https://img/x'},{'id':'abc','url':'https://img/y'},{'id':0,'url':'https://img/z'},"
                        "{'id':32,'url':'https://img/32'},{'id':32,'url':'https://img/32b'},{'id':33},"
                        "{'id':34,'url':'/relative.webp'},{'id':36,'url':'https://img/\xff'},"
                        "{'id':35,'url':'http://127.0.0.1:8080/t/h/f800/1.webp?s=x'}]}", "pt");
    assert(out->u.batch.n_photos == 2);
    s_expect_photo(&out->u.batch, 4, 32, "https://img/32", true, 4);
    s_expect_photo(&out->u.batch, 4, 35, "http://127.0.0.1:8080/t/h/f800/1.webp?s=x", false, 9);
    proto_msg_destroy(&out);
    /* no photo at all; a v2 photo without id (the item keeps its photo_url) */
    out = s_expect_item("{'id':5,'title':'T','price':'1','currency':'EUR','photo':{'url':'https://img/5'}}", "pt");
    assert(out->u.batch.n_photos == 0);
    s_streq(out->u.batch.items[0].photo_url, "https://img/5");
    proto_msg_destroy(&out);
    /* a page: quarantined items give no photos; the same item twice gives its photos once */
    out = s_run("{'items':[{'id':1,'title':'A','price':'1','currency':'EUR','photo':{'id':10,'url':'https://img/10'}},"
                "{'id':2,'price':'1','currency':'EUR','photo':{'id':20,'url':'https://img/20'}},"
                "{'id':3,'title':'C','price':'1','currency':'EUR','photos':[{'id':30,'url':'https://img/30'}]},"
                "{'id':1,'title':'A','price':'1','currency':'EUR','photo':{'id':10,'url':'https://img/10'}}]}",
                "pt");
    const proto_batch_t *b = &out->u.batch;
    assert(b->n_items == 3 && b->n_quarantine == 1 && b->n_photos == 2);
    assert(!s_find_photo(b, 2, 20));
    s_expect_photo(b, 1, 10, "https://img/10", true, 0);
    s_expect_photo(b, 3, 30, "https://img/30", true, 0);
    assert(b->n_snapshots == 0 && b->n_users == 0);
    s_check_batch(b);
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
        out = s_run(page, "pt");
        b = &out->u.batch;
        assert(b->n_items == 40 && b->n_photos == 200);
        for (int i = 1; i <= 40; i++)
            for (int k = 0; k < 5; k++)
                s_expect_photo(b, i, i * 10 + k, NULL, k == 0, k) ;
        proto_msg_destroy(&out);
        free(page);
    }
}

static void
s_test_seller(bool verbose)
{
    if (verbose)
        printf("   seller pages:\n");
    proto_msg_t *out = s_run_fixture(
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
    s_streq(s->currency, "EUR");
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
    s_streq(s->closing_action, "sold");
    assert(s->favourite_count == 8 && s->view_count == 99);
    s = &b->snapshots[4];
    assert(s->item_id == 107 && s->user_id == 500 && s->price == 300);
    assert(s->favourite_count == PROTO_NULL); /* beyond int */
    const proto_user_snapshot_t *u = &b->users[0];
    assert(u->user_id == 500);
    s_streq(u->login, "ana");
    assert(u->feedback_reputation == 973 && u->feedback_count == 12);
    assert(u->item_count == PROTO_NULL && u->positive_feedback_count == PROTO_NULL);
    assert(u->neutral_feedback_count == PROTO_NULL && u->negative_feedback_count == PROTO_NULL);
    assert(u->followers_count == PROTO_NULL);
    s_streq(u->city, "Lisboa");
    s_streq(u->country, "Portugal");
    assert(b->n_photos == 3);
    s_expect_photo(b, 101, 1001, "https://img/1001", true, 0);
    s_expect_photo(b, 101, 1002, "https://img/1002", false, 1);
    s_expect_photo(b, 104, 1041, "https://img/1041", true, 0);
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
    s_streq(bb->snapshots[3].closing_action, "sold");
    assert(bb->snapshots[1].favourite_count == PROTO_NULL && bb->snapshots[1].is_reserved);
    assert(bb->users[0].feedback_reputation == 973 && bb->users[0].item_count == PROTO_NULL);
    s_streq(bb->users[0].city, "Lisboa");
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
        out = s_run_fixture(page, PROTO_FETCH_USER_ITEMS, 9, 200);
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
        s_streq(u->country, sellers[i].country);
        assert(!u->city);
        proto_msg_destroy(&out);
    }

    /* a seller whose list holds only broken items, or none: no seller row */
    out = s_run_fixture("{'items':[{'title':'x','price':'1','currency':'EUR','user':{'id':9,'login':'x'}}]}",
                        PROTO_FETCH_USER_ITEMS, 9, 200);
    assert(out->u.batch.n_snapshots == 0 && out->u.batch.n_users == 0 && out->u.batch.n_quarantine == 1);
    proto_msg_destroy(&out);
    out = s_run_fixture("{'items':[],'pagination':{'current_page':1,'total_pages':0}}", PROTO_FETCH_USER_ITEMS, 9, 200);
    assert(out->u.batch.n_snapshots == 0 && out->u.batch.n_users == 0 && out->u.batch.n_quarantine == 0);
    proto_msg_destroy(&out);
    /* the seller comes from the first valid item that embeds them */
    out = s_run_fixture("{'items':[{'id':1,'title':'T','price':'1','currency':'EUR'},"
                        "{'id':2,'title':'T','price':'1','currency':'EUR','user':{'id':9,'login':'bo'}}]}",
                        PROTO_FETCH_USER_ITEMS, 9, 200);
    assert(out->u.batch.n_snapshots == 2 && out->u.batch.n_users == 1);
    assert(out->u.batch.snapshots[0].user_id == 9 && out->u.batch.users[0].user_id == 9);
    s_streq(out->u.batch.users[0].login, "bo");
    proto_msg_destroy(&out);
    /* a closing action that is not a text is rejected with a reason */
    out = s_run_fixture("{'items':[{'id':1,'title':'T','price':'1','currency':'EUR','item_closing_action':5}]}",
                        PROTO_FETCH_USER_ITEMS, 9, 200);
    assert(out->u.batch.n_snapshots == 0 && out->u.batch.n_quarantine == 1);
    s_streq(out->u.batch.quarantine[0].rule, "text_invalid");
    proto_msg_destroy(&out);
    /* whole pages: an unknown seller, a page without items */
    static const char unknown[] = "{\"code\":104,\"message\":\"Not found\"}";
    out = s_run_kind(unknown, sizeof unknown - 1, PROTO_FETCH_USER_ITEMS, 9, 404);
    assert(out->u.batch.n_quarantine == 1 && out->u.batch.quarantine[0].pos == -1);
    s_streq(out->u.batch.quarantine[0].rule, "http_error");
    proto_msg_destroy(&out);
    out = s_run_kind(unknown, sizeof unknown - 1, PROTO_FETCH_USER_ITEMS, 9, 200);
    s_streq(out->u.batch.quarantine[0].rule, "malformed_page");
    assert(out->u.batch.n_snapshots == 0 && out->u.batch.n_users == 0);
    proto_msg_destroy(&out);
}

#define S_LD_OPEN "<script type=\"application/ld+json\">"
#define S_CRUMBS S_LD_OPEN "{\"@context\":\"https://schema.org\",\"@type\":\"BreadcrumbList\",\"itemListElement\":[]}</script>"

/* An item page for item 777 whose product block is ld (or none). */
static proto_msg_t *
s_run_item_page(const char *ld, int status)
{
    char html[2048];
    snprintf(html, sizeof html,
             "<!DOCTYPE html>\n<html lang=\"pt\"><head><meta charset=\"utf-8\"><title>Blusa | Vinted</title>\n"
             "%s\n%s\n</head><body><div id=\"__next\"><h1>Blusa</h1></div></body></html>\n",
             S_CRUMBS, ld ? ld : "");
    return s_run_kind(html, strlen(html), PROTO_FETCH_ITEM_PAGE, 777, status);
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
    s_streq(s->currency, currency);
    assert(s->favourite_count == PROTO_NULL && s->view_count == PROTO_NULL);
    assert(!s->is_reserved && !s->is_hidden && !s->removed);
    assert(s->is_closed == closed);
    s_streq(s->closing_action, closed ? "sold" : NULL);
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

static void
s_test_item_pages(bool verbose)
{
    if (verbose)
        printf("   item pages:\n");
    /* the simulator's shape, in stock and sold */
    s_expect_observed(s_run_item_page(S_LD_OPEN "{\"@context\":\"https://schema.org\",\"@type\":\"Product\","
                                      "\"productID\":\"777\",\"sku\":\"777\",\"name\":\"Blusa \\u003cb\\u003e\","
                                      "\"image\":\"https://img/1\",\"offers\":{\"@type\":\"Offer\",\"priceCurrency\":\"EUR\","
                                      "\"availability\":\"https://schema.org/InStock\",\"url\":\"https://www.vinted.pt/items/777\","
                                      "\"itemCondition\":\"https://schema.org/UsedCondition\",\"price\":\"12.50\"}}</script>", 200),
                      1250, "EUR", false);
    s_expect_observed(s_run_item_page(S_LD_OPEN "{\"@type\":\"Product\",\"productID\":\"777\",\"offers\":{"
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
    s_expect_observed(s_run_item_page(S_LD_OPEN "{\"@type\":\"Product\",\"offers\":{\"priceCurrency\":\"EUR\","
                                      "\"availability\":\"https://schema.org/SoldOut\"}}</script>", 200),
                      PROTO_NULL, NULL, true);
    s_expect_observed(s_run_item_page(S_LD_OPEN "{\"@type\":\"Product\"}</script>", 200), PROTO_NULL, NULL, false);

    /* broken offers: the item's rules, the product as raw */
    s_expect_item_rule(s_run_item_page(S_LD_OPEN "{\"@type\":\"Product\",\"offers\":{\"price\":\"abc\","
                                       "\"priceCurrency\":\"EUR\"}}</script>", 200),
                       0, "price_invalid", "offers.price", verbose);
    s_expect_item_rule(s_run_item_page(S_LD_OPEN "{\"@type\":\"Product\",\"offers\":{\"price\":\"-20.0\","
                                       "\"priceCurrency\":\"EUR\"}}</script>", 200),
                       0, "price_not_positive", "-20.00", verbose);
    s_expect_item_rule(s_run_item_page(S_LD_OPEN "{\"@type\":\"Product\",\"offers\":{\"price\":\"20.0\","
                                       "\"priceCurrency\":\"XYZ\"}}</script>", 200),
                       0, "currency_unknown", "XYZ", verbose);
    s_expect_item_rule(s_run_item_page(S_LD_OPEN "{\"@type\":\"Product\",\"offers\":{\"price\":\"20.0\"}}</script>", 200),
                       0, "currency_unknown", "absent", verbose);
    s_expect_item_rule(s_run_item_page(S_LD_OPEN "{\"@type\":\"Product\",\"productID\":\"778\",\"offers\":{"
                                       "\"price\":\"1\",\"priceCurrency\":\"EUR\"}}</script>", 200),
                       0, "id_mismatch", "778", verbose);
    /* no product: the whole page, with the body */
    s_expect_item_rule(s_run_item_page(NULL, 200), -1, "malformed_page", "no Product", verbose);
    s_expect_item_rule(s_run_item_page(S_LD_OPEN "{\"@type\":\"Product\",\"productID\":\"777\",,\"offers\":{</script>", 200),
                       -1, "malformed_page", "1 not JSON", verbose);
    static const char cf[] = "<html><body>Just a moment...</body></html>";
    s_expect_item_rule(s_run_kind(cf, sizeof cf - 1, PROTO_FETCH_ITEM_PAGE, 777, 200), -1, "malformed_page",
                       "no JSON-LD block", verbose);
    s_expect_item_rule(s_run_kind(cf, sizeof cf - 1, PROTO_FETCH_ITEM_PAGE, 777, 403), -1, "http_error", "403",
                       verbose);
    s_expect_item_rule(s_run_kind(cf, sizeof cf - 1, PROTO_FETCH_ITEM_PAGE, 0, 200), -1, "malformed_page",
                       "without an item id", verbose);
    s_expect_item_rule(s_run_kind(cf, sizeof cf - 1, 9, 777, 200), -1, "malformed_page", "unknown page kind",
                       verbose);

    /* 404: the listing is gone, whatever the body */
    static const char gone[] = "<!DOCTYPE html><title>404</title><h1>P\xc3\xa1gina n\xc3\xa3o encontrada</h1>";
    for (int i = 0; i < 2; i++) {
        proto_msg_t *out = s_run_kind(gone, i ? 0 : sizeof gone - 1, PROTO_FETCH_ITEM_PAGE, 777, 404);
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
    proto_msg_t *out = s_run_kind(gone, sizeof gone - 1, PROTO_FETCH_CATALOG, 0, 404);
    s_streq(out->u.batch.quarantine[0].rule, "http_error");
    proto_msg_destroy(&out);
}

/* A profile body (fixture, ' for ") of user 500, as the page of a USER fetch. */
static proto_msg_t *
s_run_profile(const char *fixture, int status)
{
    proto_msg_t *out = s_run_fixture(fixture, PROTO_FETCH_USER, 500, status);
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
    s_streq(b->quarantine[0].rule, rule);
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
    s_streq(u->login, "ana_silva");
    assert(u->item_count == 14 && u->feedback_count == 43 && u->feedback_reputation == 970);
    assert(u->positive_feedback_count == 40 && u->neutral_feedback_count == 2);
    assert(u->negative_feedback_count == 1 && u->followers_count == 7);
    s_streq(u->city, "Porto");
    s_streq(u->country, "Portugal");
    {   /* it survives the wire */
        uint8_t *wire = NULL;
        size_t wire_len = 0;
        char err[128];
        assert(proto_encode(out, &wire, &wire_len) == 0);
        proto_msg_t *back = proto_decode(wire, wire_len, err, sizeof err);
        assert(back && back->body == PROTO_BODY_BATCH && back->u.batch.n_users == 1);
        assert(back->u.batch.users[0].feedback_reputation == 970 && back->u.batch.target_id == 500);
        s_streq(back->u.batch.users[0].country, "Portugal");
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
    s_streq(u->country, "PT");
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
    out = s_run_kind(gone, sizeof gone - 1, PROTO_FETCH_USER, 500, 404);
    assert(out->u.batch.n_users == 0 && out->u.batch.n_quarantine == 0 && out->u.batch.target_id == 500);
    proto_msg_destroy(&out);
    out = s_run_kind("<html>gone</html>", 17, PROTO_FETCH_USER, 500, 404);
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
    out = s_run_kind("{\"user\":{", 9, PROTO_FETCH_USER, 500, 200);
    s_streq(out->u.batch.quarantine[0].rule, "malformed_page");
    proto_msg_destroy(&out);
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
        s_streq(m->u.batch.quarantine[0].rule, "malformed_page");
        assert(strstr(m->u.batch.quarantine[0].detail, "no user object"));
        proto_msg_destroy(&m);
    }
    out = s_run_kind("{}", 2, PROTO_FETCH_USER, 500, 500);
    s_streq(out->u.batch.quarantine[0].rule, "http_error");
    proto_msg_destroy(&out);
    out = s_run_kind("", 0, PROTO_FETCH_USER, 500, 200);
    s_streq(out->u.batch.quarantine[0].rule, "malformed_page");
    proto_msg_destroy(&out);
    /* a profile task needs its user */
    out = s_run_fixture("{'user':{'id':500}}", PROTO_FETCH_USER, 0, 200);
    assert(out->u.batch.n_users == 0 && out->u.batch.n_quarantine == 1);
    assert(strstr(out->u.batch.quarantine[0].detail, "without a user id"));
    proto_msg_destroy(&out);
    if (verbose)
        printf("   profiles: OK\n");
}

static const proto_catalog_t *
s_find_catalog(const proto_batch_t *b, int32_t id)
{
    for (size_t i = 0; i < b->n_catalogs; i++)
        if (b->catalogs[i].catalog_id == id)
            return &b->catalogs[i];
    return NULL;
}

/* The catalog tree, nested and flat. */
static void
s_test_catalogs(bool verbose)
{
    /* nested: parents from the walk; nodes without an id or a title are quarantined,
       their children hang from the nearest kept ancestor */
    proto_msg_t *out = s_run_fixture(
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
    s_streq(c->title, "Mulher");
    s_streq(c->code, "WOMEN");
    s_streq(c->url, "/mulher");
    c = s_find_catalog(b, 2320);
    assert(c && c->parent_id == 4 && c->depth == 2 && !c->code && !c->url);
    s_streq(c->title, "Camisolas");
    c = s_find_catalog(b, 77);
    assert(c && c->parent_id == 1904 && c->depth == 1 && !c->code);
    c = s_find_catalog(b, 5);
    assert(c && c->parent_id == 0 && c->depth == 0);
    s_streq(b->quarantine[0].rule, "id_missing");
    assert(b->quarantine[0].pos == 3 && b->quarantine[0].raw && !memmem(b->quarantine[0].raw, b->quarantine[0].raw_len, "Neto", 4));
    s_streq(b->quarantine[1].rule, "title_missing");
    assert(strstr(b->quarantine[1].detail, "78"));
    proto_msg_destroy(&out);

    /* flat: parent_id from the node, else from the children tree; depth by following parents */
    out = s_run_fixture(
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
    s_streq(c->code, "WOMEN_ROOT");
    c = s_find_catalog(b, 10);
    assert(c && c->parent_id == 4 && c->depth == 2);
    c = s_find_catalog(b, 178);
    assert(c && c->parent_id == 10 && c->depth == 3 && !c->url && !c->code);
    s_streq(c->title, "Mini-dresses");
    c = s_find_catalog(b, 5);
    assert(c && c->parent_id == 0 && c->depth == 0);
    assert(!s_find_catalog(b, 31) && !s_find_catalog(b, 32));
    s_streq(b->quarantine[0].rule, "id_missing");
    s_streq(b->quarantine[1].rule, "parent_invalid");
    s_streq(b->quarantine[2].rule, "parent_invalid");
    proto_msg_destroy(&out);

    /* neither form; not JSON; an empty tree */
    out = s_run_fixture("{'catalogs':5,'code':0}", PROTO_FETCH_CATALOGS, 0, 200);
    assert(out->u.batch.n_catalogs == 0 && out->u.batch.n_quarantine == 1);
    s_streq(out->u.batch.quarantine[0].rule, "malformed_page");
    assert(out->u.batch.quarantine[0].pos == -1);
    proto_msg_destroy(&out);
    out = s_run_kind("{\"catalogs\":[", 13, PROTO_FETCH_CATALOGS, 0, 200);
    s_streq(out->u.batch.quarantine[0].rule, "malformed_page");
    proto_msg_destroy(&out);
    out = s_run_fixture("{'catalogs':[]}", PROTO_FETCH_CATALOGS, 0, 200);
    assert(out->u.batch.n_catalogs == 0 && out->u.batch.n_quarantine == 0);
    proto_msg_destroy(&out);
    if (verbose)
        printf("   catalogs: OK\n");
}

/* Mutated tracking pages never crash and always give a well-formed batch. */
static void
s_test_tracking_mutations(bool verbose)
{
    char *seller = s_fixture(
        "{'items':[{'id':101,'title':'Open','price':{'amount':'12.5','currency_code':'EUR'},"
        "'favourite_count':3,'view_count':40,'is_reserved':true,'is_closed':true,'item_closing_action':'sold',"
        "'user':{'id':500,'login':'ana','feedback_reputation':0.97,'city':'Lisboa'},"
        "'photos':[{'id':1001,'url':'https://img/1001','is_main':true},{'id':1002,'url':'https://img/1002'}]},"
        "{'id':102,'title':'R','price':'20.0','currency':'EUR','photo':{'id':7,'url':'https://i/7'}}],'code':0}");
    const char *item =
        "<html><head>" S_CRUMBS "<script type=\"application/ld+json\">{\"@type\":\"Product\",\"productID\":\"777\","
        "\"offers\":{\"price\":\"12.50\",\"priceCurrency\":\"EUR\",\"availability\":\"https://schema.org/SoldOut\"}}"
        "</script></head></html>";
    char *profile = s_fixture(
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
            proto_msg_t *m = s_run_kind(buf, len, kinds[k], kinds[k] == PROTO_FETCH_ITEM_PAGE ? 777 : 500, 200);
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

    /* --- a v2 item, every field */
    proto_msg_t *out = s_expect_item(
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
    s_streq(it->title, "Spodnie ch\xc5\x82opi\xc4\x99" "ce NIKE");
    assert(it->price == 2000 && it->service_fee == 390 && it->total_price == 2390);
    s_streq(it->currency, "PLN");
    s_streq(it->brand, "Nike");
    s_streq(it->size_title, "152 cm / 12 lat");
    s_streq(it->size_kind, "age");
    s_streq(it->size_value, "12y");
    s_streq(it->condition, "Bardzo dobry");
    assert(it->user_id == 93043565);
    s_streq(it->user_login, "susiaxd");
    s_streq(it->url, "https://www.vinted.pl/items/7292729681-spodnie");
    s_streq(it->photo_url, "https://images1.vinted.net/t/a/f800/1760263592.webp?s=x");
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
    s_streq(back->u.batch.items[0].size_value, "12y");
    proto_msg_destroy(&back);
    free(wire);
    proto_msg_destroy(&out);

    /* --- an svc-catalogue item: item_box, relative url, photos[], no timestamp */
    out = s_expect_item(
        "{'business_user':false,'favourite_count':3,'id':7300000001,"
        "'item_box':{'first_line':'Zara','second_line':'M \xc2\xb7 Muito bom'},"
        "'photos':[{'url':'https://img/1.webp','is_main':false,'high_resolution':{'id':'x'}},"
        "{'url':'https://img/2.webp','is_main':true,'high_resolution':{'id':'y'}}],"
        "'price':{'amount':'12.50','currency_code':'EUR'},'promoted':true,'title':'Blusa',"
        "'url':'/items/7300000001-blusa','user':{'business':false,'id':5,'login':'ana'},'view_count':2}",
        "pt");
    it = &out->u.batch.items[0];
    assert(it->item_id == INT64_C(7300000001));
    s_streq(it->brand, "Zara");
    s_streq(it->size_title, "M");
    s_streq(it->size_kind, "letter");
    s_streq(it->size_value, "M");
    s_streq(it->condition, "Muito bom");
    s_streq(it->url, "https://www.vinted.pt/items/7300000001-blusa");
    s_streq(it->photo_url, "https://img/2.webp");
    assert(it->created_at == PROTO_NULL);
    assert(it->price == 1250 && it->service_fee == PROTO_NULL && it->total_price == PROTO_NULL);
    assert(it->user_id == 5 && it->view_count == 2 && it->favourite_count == 3 && it->promoted);
    assert(proto_item_null_mask(it) == PROTO_NULL_CREATED);
    proto_msg_destroy(&out);

    /* numbers the database cannot hold are unknown, not a failed batch */
    out = s_run("{'items':[{'id':7300000002,'title':'Huge counters','price':{'amount':'5','currency_code':'EUR'},"
                "'favourite_count':3000000000,'view_count':1e30,"
                "'photo':{'url':'https://img/3.webp','high_resolution':{'timestamp':100000000000000}}}]}",
                "pt");
    assert(out->u.batch.n_items == 1 && out->u.batch.n_quarantine == 0);
    it = &out->u.batch.items[0];
    assert(it->favourite_count == PROTO_NULL && it->view_count == PROTO_NULL && it->created_at == PROTO_NULL);
    proto_msg_destroy(&out);

    /* a photo timestamp in milliseconds is the same time */
    out = s_run("{'items':[{'id':7300000003,'title':'Ms','price':{'amount':'5','currency_code':'EUR'},"
                "'photo':{'url':'https://img/3.webp','high_resolution':{'timestamp':1760263592123}}}]}",
                "pt");
    assert(out->u.batch.n_items == 1 && out->u.batch.items[0].created_at == 1760263592);
    proto_msg_destroy(&out);

    /* svc second_line forms */
    static const struct {
        const char *line, *size, *kind, *value, *cond;
    } lines[] = {
        {"Muito bom", NULL, NULL, NULL, "Muito bom"},
        {"Very good", NULL, NULL, NULL, "Very good"},
        {"Neuf avec \xc3\xa9tiquette", NULL, NULL, NULL, "Neuf avec \xc3\xa9tiquette"},
        {"TR\xc3\x88S BON \xc3\x89TAT", NULL, NULL, NULL, "TR\xc3\x88S BON \xc3\x89TAT"},
        {"Nowy z metk\xc4\x85", NULL, NULL, NULL, "Nowy z metk\xc4\x85"},
        {"Sehr gut", NULL, NULL, NULL, "Sehr gut"},
        {"Muy bueno", NULL, NULL, NULL, "Muy bueno"},
        {"Ottime condizioni", NULL, NULL, NULL, "Ottime condizioni"},
        {"Zeer goed", NULL, NULL, NULL, "Zeer goed"},
        {"42", "42", "eu", "42", NULL},
        {"W32 | L34", "W32 | L34", "waist", "W32 L34", NULL},
        {"152 cm / 12 lat \xc2\xb7 Bardzo dobry", "152 cm / 12 lat", "age", "12y", "Bardzo dobry"},
        {"Tamanho \xc3\xbanico \xc2\xb7 Novo com etiquetas", "Tamanho \xc3\xbanico", "one", "one",
         "Novo com etiquetas"},
        {"Bom \xc2\xb7 38", "38", "eu", "38", "Bom"},
        {"S / 36 \xc2\xb7 Satisfat\xc3\xb3rio", "S / 36", "letter", "S", "Satisfat\xc3\xb3rio"},
        {"", NULL, NULL, NULL, NULL},
        {"  ", NULL, NULL, NULL, NULL},
        {" \xc2\xb7 Bom", NULL, NULL, NULL, "Bom"},
    };
    for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
        char item[512];
        snprintf(item, sizeof item,
                 "{'id':%zu,'title':'T','price':{'amount':'1','currency_code':'EUR'},"
                 "'item_box':{'first_line':'B','second_line':'%s'}}",
                 i + 1, lines[i].line);
        out = s_expect_item(item, "pt");
        it = &out->u.batch.items[0];
        s_streq(it->size_title, lines[i].size);
        s_streq(it->size_kind, lines[i].kind);
        s_streq(it->size_value, lines[i].value);
        s_streq(it->condition, lines[i].cond);
        proto_msg_destroy(&out);
    }
    /* no item_box at all, v2 empty strings: NULLs, not errors */
    out = s_expect_item("{'id':1,'title':'T','price':'2.5','currency':'EUR'}", "pt");
    it = &out->u.batch.items[0];
    assert(!it->brand && !it->size_title && !it->size_kind && !it->condition && !it->url);
    assert(!it->photo_url && it->user_id == PROTO_NULL && !it->user_login);
    assert(it->favourite_count == PROTO_NULL && it->view_count == PROTO_NULL);
    assert(it->price == 250);
    uint32_t mask = proto_item_null_mask(it);
    assert(mask & PROTO_NULL_BRAND && mask & PROTO_NULL_SIZE && mask & PROTO_NULL_URL);
    proto_msg_destroy(&out);
    out = s_expect_item("{'id':1,'title':'T','price':'2.5','currency':'EUR','brand_title':'',"
                        "'size_title':'','status':'Good','item_box':{'first_line':'X','second_line':'M'}}",
                        "pt");
    it = &out->u.batch.items[0];
    assert(!it->brand && !it->size_title);
    s_streq(it->condition, "Good");
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
        out = s_expect_item(forms[i].item, "pt");
        it = &out->u.batch.items[0];
        assert(it->item_id == forms[i].id);
        assert(it->price == forms[i].price);
        assert(it->service_fee == forms[i].fee);
        assert(it->total_price == PROTO_NULL);
        s_streq(it->currency, forms[i].currency);
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
        s_expect_rule(rules[i].item, rules[i].rule, verbose);

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
        out = s_expect_item(item, "pt");
        s_streq(out->u.batch.items[0].title, titles[i].want);
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
        out = s_expect_item(item, urls[i].site);
        s_streq(out->u.batch.items[0].url, urls[i].want);
        proto_msg_destroy(&out);
    }
    /* v2 path when url is absent; photos[] without is_main takes the first */
    out = s_expect_item("{'id':1,'title':'T','price':'1','currency':'EUR','path':'/items/1-p',"
                        "'photos':[7,{'url':'https://img/a'},{'url':'https://img/b'}]}", "de");
    s_streq(out->u.batch.items[0].url, "https://www.vinted.de/items/1-p");
    s_streq(out->u.batch.items[0].photo_url, "https://img/a");
    proto_msg_destroy(&out);

    /* --- a mixed page: positions, and one bad item does not spoil the others */
    out = s_run("{'items':[{'id':11,'title':'A','price':'1','currency':'EUR'},"
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
    out = s_run("{'items':[]}", "pt");
    assert(out->u.batch.n_items == 0 && out->u.batch.n_quarantine == 0);
    proto_msg_destroy(&out);
    {
        static const char body[] = "{\"items\":[{\"id\":1,\"title\":\"a\0b\",\"price\":\"1\",\"currency\":\"EUR\"},"
                                   "{\"id\":2,\"title\":\"ok\",\"price\":\"1\",\"currency\":\"EUR\"}]}";
        out = s_run_bytes(body, sizeof body - 1, "pt", 200, NULL);
        b = &out->u.batch;
        assert(b->n_items == 1 && b->items[0].item_id == 2);
        assert(b->n_quarantine == 1 && strcmp(b->quarantine[0].rule, "text_invalid") == 0);
        proto_msg_destroy(&out);
        /* a terminating NUL counted in the length is tolerated; so is status 0 (not recorded) */
        static const char term[] = "{\"items\":[]}";
        out = s_run_bytes(term, sizeof term, "pt", 0, NULL);
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
        char *seed = s_fixture(
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
            proto_msg_t *m = s_run_bytes(buf, len, "pt", 200, NULL);
            s_check_batch(&m->u.batch);
            kept += (int) m->u.batch.n_items;
            proto_msg_destroy(&m);
        }
        if (verbose)
            printf("   mutations: 3000 pages, %d items survived\n", kept);
        free(buf);
        free(seed);
    }

    /* --- photos, and the tracking flow's pages */
    s_test_photos(verbose);
    s_test_seller(verbose);
    s_test_item_pages(verbose);
    s_test_profile(verbose);
    s_test_catalogs(verbose);
    s_test_tracking_mutations(verbose);

    /* the condition labels */
    assert(parse_is_condition("Muito bom", 9));
    assert(parse_is_condition("  very GOOD. ", 13));
    assert(parse_is_condition("Bardzo dobry", 12));
    assert(!parse_is_condition("M", 1));
    assert(!parse_is_condition("Muito", 5));
    assert(!parse_is_condition("Muito bom!", 10));
    assert(!parse_is_condition("", 0));

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
            proto_msg_t *r = s_run_bytes(page, len, "pl", 200, NULL);
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
