/*  parse.c - raw Vinted page -> normalized batch. See parse.h.

    The body is parsed once with cJSON. Before that, two things cJSON would get
    wrong are neutralised in a private copy of the body (only when present):
    a NUL (raw, or escaped as \u0000) would silently cut a string short, and
    an unpaired UTF-16 surrogate escape would fail the whole page. Both become
    a 0xFF byte, which is invalid UTF-8, so only the item holding them is
    quarantined (text_invalid) and its neighbours survive.
*/
#include "parse.h"
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

typedef struct {
    const proto_page_t *page;
    proto_msg_t *out;
    proto_batch_t *batch;
    size_t cap;     /* room in batch->items and batch->quarantine */
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

/* ---------------------------------------------------------------- escapes */

static bool
s_hex4(const char *p, const char *end, unsigned *out)
{
    if (end - p < 4)
        return false;
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned) (c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned) (c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned) (c - 'A' + 10);
        else
            return false;
    }
    *out = v;
    return true;
}

/* At a backslash: *adv = bytes the escape spans; returns true if it is one cJSON
   would mangle (\u0000) or refuse (an unpaired surrogate). */
static bool
s_escape_bad(const char *p, const char *end, size_t *adv)
{
    unsigned cp, lo;
    if (end - p < 2) {
        *adv = 1;
        return false;
    }
    if (p[1] != 'u' || !s_hex4(p + 2, end, &cp)) {
        *adv = 2;
        return false;
    }
    *adv = 6;
    if (cp == 0 || (cp >= 0xDC00 && cp <= 0xDFFF))
        return true;
    if (cp >= 0xD800 && cp <= 0xDBFF) {
        if (end - p >= 12 && p[6] == '\\' && p[7] == 'u' && s_hex4(p + 8, end, &lo)
            && lo >= 0xDC00 && lo <= 0xDFFF) {
            *adv = 12;
            return false;
        }
        return true;
    }
    return false;
}

static bool
s_needs_fixing(const char *s, size_t len)
{
    if (memchr(s, '\0', len))
        return true;
    const char *end = s + len;
    const char *p = s;
    while (p < end && (p = memchr(p, '\\', (size_t) (end - p)))) {
        size_t adv;
        if (s_escape_bad(p, end, &adv))
            return true;
        p += adv;
    }
    return false;
}

/* Copy s into out (len bytes, enough), bad escapes and NULs replaced by 0xFF. */
static size_t
s_fix(const char *s, size_t len, char *out)
{
    const char *end = s + len;
    size_t o = 0;
    for (const char *p = s; p < end;) {
        if (*p == '\0') {
            out[o++] = (char) 0xFF;
            p++;
        }
        else if (*p == '\\') {
            size_t adv;
            if (s_escape_bad(p, end, &adv))
                out[o++] = (char) 0xFF;
            else {
                memcpy(out + o, p, adv);
                o += adv;
            }
            p += adv;
        }
        else
            out[o++] = *p++;
    }
    return o;
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

/* Free text for a detail: valid UTF-8 only, at most ~48 bytes, no control characters. */
static void
s_show(char *dst, size_t cap, const char *s)
{
    size_t n = strlen(s);
    if (!utf8_valid(s, n)) {
        snprintf(dst, cap, "<invalid UTF-8>");
        return;
    }
    size_t lim = cap - 4 < 48 ? cap - 4 : 48;
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
    else if (cJSON_IsNumber(n))
        snprintf(dst, cap, "%.17g", n->valuedouble);
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
    free(raw);
    return rc;
}

/* The whole page is unusable: no items, one record at pos -1 with the body. */
static int
s_reject_page(parse_ctx_t *ctx, const char *rule, const char *detail)
{
    proto_batch_t *b = ctx->batch;
    b->n_items = 0;
    b->n_quarantine = 0;
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

static int
s_item(parse_ctx_t *ctx, const cJSON *it, int32_t pos)
{
    char detail[S_DETAIL], r[96];
    const char *why = NULL;

    if (!cJSON_IsObject(it)) {
        s_repr(r, sizeof r, it);
        snprintf(detail, sizeof detail, "item is %s, not an object", r);
        return s_reject_item(ctx, pos, "item_not_object", detail, it);
    }

    /* id */
    int64_t id = 0;
    const cJSON *idn = s_get(it, "id");
    if (!s_uint(idn, &id) || id <= 0) {
        s_repr(r, sizeof r, idn);
        snprintf(detail, sizeof detail, "id is not a positive integer: %s", r);
        return s_reject_item(ctx, pos, "id_missing", detail, it);
    }

    /* prices */
    char mwhy[160];
    int64_t price = 0, fee = PROTO_NULL, total = PROTO_NULL;
    const char *code = NULL;
    const cJSON *pn = s_get(it, "price");
    if (!pn || cJSON_IsNull(pn))
        pn = s_get(it, "price_numeric");
    int rc = s_money(pn, &price, &code, mwhy, sizeof mwhy);
    if (rc == 1)
        return s_reject_item(ctx, pos, "price_missing", "no price", it);
    if (rc < 0) {
        snprintf(detail, sizeof detail, "price: %s", mwhy);
        return s_reject_item(ctx, pos, "price_invalid", detail, it);
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
            return s_reject_item(ctx, pos, "price_invalid", detail, it);
        }
        if (rc == 0)
            *dest[i] = v;
    }
    if (price <= 0) {
        s_cents_text(r, sizeof r, price);
        snprintf(detail, sizeof detail, "price is %s", r);
        return s_reject_item(ctx, pos, "price_not_positive", detail, it);
    }

    /* currency: inside the price object, else the legacy separate field */
    if (!code)
        code = s_string(it, "currency");
    if (!code)
        code = s_string(it, "currency_code");
    char currency[4];
    if (!code)
        return s_reject_item(ctx, pos, "currency_unknown", "no currency", it);
    if (!money_currency(code, currency)) {
        s_show(r, sizeof r, code);
        snprintf(detail, sizeof detail, "currency \"%s\" is not an ISO 4217 code", r);
        return s_reject_item(ctx, pos, "currency_unknown", detail, it);
    }

    /* title */
    const cJSON *tn = s_get(it, "title");
    if (!cJSON_IsString(tn) || s_blank(tn->valuestring)) {
        s_repr(r, sizeof r, tn);
        snprintf(detail, sizeof detail, "title is %s",
                 cJSON_IsString(tn) ? "empty" : r);
        return s_reject_item(ctx, pos, "title_missing", detail, it);
    }
    const char *title = tn->valuestring;

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

    /* user, url, photo, counters */
    const cJSON *user = s_get(it, "user");
    int64_t user_id = PROTO_NULL;
    if (!s_uint(s_get(user, "id"), &user_id) && !s_uint(s_get(it, "user_id"), &user_id))
        user_id = PROTO_NULL;
    if (user_id == 0)
        user_id = PROTO_NULL;
    const char *login = s_string(user, "login");
    const char *url = s_string(it, "url");
    if (!url || !*url)
        url = s_string(it, "path");
    const cJSON *photo = s_main_photo(it);
    const char *photo_url = s_string(photo, "url");
    if (!photo_url || !*photo_url)
        photo_url = s_string(photo, "full_size_url");
    int64_t created = PROTO_NULL;
    if (!s_uint(s_get(s_get(photo, "high_resolution"), "timestamp"), &created) || created == 0)
        created = PROTO_NULL;
    int64_t favourites = PROTO_NULL, views = PROTO_NULL;
    if (!s_uint(s_get(it, "favourite_count"), &favourites))
        favourites = PROTO_NULL;
    if (!s_uint(s_get(it, "view_count"), &views))
        views = PROTO_NULL;

    /* text kept verbatim must be UTF-8 without NUL */
    struct {
        const char *name;
        const char *s;
        size_t n;
    } texts[] = {
        {"title", title, strlen(title)},
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
            return s_reject_item(ctx, pos, "text_invalid", detail, it);
        }

    /* build */
    proto_batch_t *b = ctx->batch;
    assert(b->n_items < ctx->cap);
    proto_item_t *item = &b->items[b->n_items];
    item->item_id = id;
    item->catalog_id = ctx->page->catalog_id;
    item->title = s_dup(ctx, title);
    item->price = price;
    item->currency = s_dupn(ctx, currency, 3);
    item->service_fee = fee;
    item->total_price = total;
    item->brand = s_dup(ctx, brand);
    item->size_title = NULL;
    item->size_kind = NULL;
    item->size_value = NULL;
    if (size.s && size.n > 0) {
        item->size_title = s_dupn(ctx, size.s, size.n);
        char value[SIZE_VALUE_MAX];
        const char *kind = item->size_title ? size_parse(item->size_title, value, sizeof value) : NULL;
        if (kind) {
            item->size_kind = s_dup(ctx, kind);
            item->size_value = s_dup(ctx, value);
        }
    }
    item->condition = cond.s && cond.n > 0 ? s_dupn(ctx, cond.s, cond.n) : NULL;
    item->user_id = user_id;
    item->user_login = login && *login ? s_dup(ctx, login) : NULL;
    item->url = s_absolute_url(ctx, url);
    item->photo_url = photo_url && *photo_url ? s_dup(ctx, photo_url) : NULL;
    item->favourite_count = favourites;
    item->view_count = views;
    item->created_at = created;
    item->first_seen_at_ms = ctx->page->fetched_at_ms;
    item->pos = pos;
    item->promoted = cJSON_IsTrue(s_get(it, "promoted"));
    if (ctx->oom)
        return -1;
    b->n_items++;
    return 0;
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

    parse_ctx_t ctx = {.page = page, .out = out, .batch = b};
    s_base(&ctx, page->site);
    char detail[S_DETAIL];

    if (page->error) {
        char e[80];
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
    if (s_needs_fixing(text, len)) {
        fixed = malloc(len);
        if (!fixed)
            return -1;
        len = s_fix(text, len, fixed);
        text = fixed;
    }
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, len, &end, false);
    int rc = 0;
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
    const cJSON *items = s_get(root, "items");
    if (!cJSON_IsArray(items)) {
        if (!cJSON_IsObject(root))
            snprintf(detail, sizeof detail, "body is not a JSON object");
        else if (items)
            snprintf(detail, sizeof detail, "items is not an array");
        else {
            int64_t code = 0;
            const char *msg = s_string(root, "message");
            if (!msg)
                msg = s_string(root, "message_code");
            char m[80] = "";
            if (msg)
                s_show(m, sizeof m, msg);
            if (s_uint(s_get(root, "code"), &code))
                snprintf(detail, sizeof detail, "no items array (code %lld%s%s)", (long long) code,
                         msg ? ": " : "", m);
            else
                snprintf(detail, sizeof detail, "no items array");
        }
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
        b->items = proto_msg_alloc(out, n * sizeof *b->items);
        b->quarantine = proto_msg_alloc(out, n * sizeof *b->quarantine);
        if (!b->items || !b->quarantine) {
            rc = -1;
            goto done;
        }
        ctx.cap = n;
    }
    int32_t pos = 0;
    for (const cJSON *c = items->child; c; c = c->next, pos++)
        if (s_item(&ctx, c, pos) != 0) {
            rc = -1;
            break;
        }
done:
    cJSON_Delete(root);
    free(fixed);
    return rc;
}

@@TEST@@