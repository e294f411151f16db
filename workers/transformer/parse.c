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
    if (!code) {
        const cJSON *cn = s_get(it, "currency");
        if (!cn || cJSON_IsNull(cn))
            return s_reject_item(ctx, pos, "currency_unknown", "no currency", it);
        s_repr(r, sizeof r, cn);
        snprintf(detail, sizeof detail, "currency is %s, not a code", r);
        return s_reject_item(ctx, pos, "currency_unknown", detail, it);
    }
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
