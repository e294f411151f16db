/*  parse_fields.c - the field readers every page format of the parser shares
    (parse_internal.h): strings copied into the result's arena, members of a
    JSON object, ids and counters as exact non-negative integers, photo
    times, money values, blanks and trimming, and the short descriptions of
    a value or of a missing key that quarantine details quote. Amounts and
    currencies, sizes and UTF-8 have modules of their own (money.h, size.h,
    utf8.h).
*/
#include "parse_internal.h"
#include "money.h"
#include "common/utf8.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_MAX_EXACT 9007199254740992.0 /* 2^53: doubles are exact integers below */
#define S_LISTED_FROM INT64_C(946684800)  /* 2000-01-01: no listing is older (Vinted began in 2008) */
#define S_LISTED_TO INT64_C(4102444800)   /* 2100-01-01 */

char *
parse_dupn(parse_ctx_t *ctx, const char *s, size_t n)
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

char *
parse_dup(parse_ctx_t *ctx, const char *s)
{
    return s ? parse_dupn(ctx, s, strlen(s)) : NULL;
}

const cJSON *
parse_get(const cJSON *obj, const char *key)
{
    return cJSON_IsObject(obj) ? cJSON_GetObjectItemCaseSensitive(obj, key) : NULL;
}

const char *
parse_string(const cJSON *obj, const char *key)
{
    const cJSON *n = parse_get(obj, key);
    return cJSON_IsString(n) ? n->valuestring : NULL;
}

bool
parse_blank(const char *s)
{
    for (; *s; s++)
        if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r')
            return false;
    return true;
}

/* A non-negative integer: a JSON number that is integral and exact, or a string of digits. */
bool
parse_uint(const cJSON *n, int64_t *out)
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
int64_t
parse_plausible_time(int64_t t)
{
    if (t >= S_LISTED_FROM && t < S_LISTED_TO)
        return t;
    if (t / 1000 >= S_LISTED_FROM && t / 1000 < S_LISTED_TO)
        return t / 1000;
    return PROTO_NULL;
}

/* Free text for a detail: valid UTF-8 only, cut to fit cap (>= 8), no control characters. */
void
parse_show(char *dst, size_t cap, const char *s)
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
void
parse_repr(char *dst, size_t cap, const cJSON *n)
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
        parse_show(tmp, sizeof tmp, n->valuestring);
        snprintf(dst, cap, "\"%s\"", tmp);
    }
    else if (cJSON_IsArray(n))
        snprintf(dst, cap, "an array");
    else if (cJSON_IsObject(n))
        snprintf(dst, cap, "an object");
    else
        snprintf(dst, cap, "an unknown value");
}

void
parse_cents_text(char *dst, size_t cap, int64_t c)
{
    uint64_t a = c < 0 ? (uint64_t) 0 - (uint64_t) c : (uint64_t) c;
    snprintf(dst, cap, "%s%llu.%02llu", c < 0 ? "-" : "", (unsigned long long) (a / 100),
             (unsigned long long) (a % 100));
}

/* A money value: {amount, currency_code}, "3.0", or 3.0.
   1: absent (missing or null); 0: ok; -1: invalid, reason in why. */
int
parse_money(const cJSON *n, int64_t *cents, const char **code, char *why, size_t whylen)
{
    const char *reason = NULL;
    if (!n || cJSON_IsNull(n))
        return 1;
    const cJSON *amount = n;
    if (cJSON_IsObject(n)) {
        amount = cJSON_GetObjectItemCaseSensitive(n, "amount");
        if (code)
            *code = parse_string(n, "currency_code");
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
        parse_repr(r, sizeof r, amount);
        snprintf(why, whylen, "%s (%s)", reason, r);
        return -1;
    }
    return 0;
}

parse_span_t
parse_trim(const char *s, size_t n)
{
    while (n > 0 && (*s == ' ' || *s == '\t')) {
        s++;
        n--;
    }
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    return (parse_span_t){s, n};
}

/* A counter the database keeps as int: PROTO_NULL when absent or out of range. */
int64_t
parse_count(const cJSON *n)
{
    int64_t v = 0;
    if (!parse_uint(n, &v) || v > INT32_MAX)
        return PROTO_NULL;
    return v;
}

/* Why root holds no usable key (an array for "items", an object for "user"):
   "body is not a JSON object", "items is not an array (null)", "no items array
   (code 104: Not found)"... */
void
parse_missing(const cJSON *root, const char *key, bool array, char *detail, size_t cap)
{
    const cJSON *n = parse_get(root, key);
    const char *what = array ? "array" : "object";
    if (!cJSON_IsObject(root)) {
        snprintf(detail, cap, "body is not a JSON object");
        return;
    }
    if (n) {
        char r[96];
        parse_repr(r, sizeof r, n);
        snprintf(detail, cap, "%s is not an %s (%s)", key, what, r);
        return;
    }
    int64_t code = 0;
    const char *msg = parse_string(root, "message");
    if (!msg)
        msg = parse_string(root, "message_code");
    char m[80] = "";
    if (msg)
        parse_show(m, sizeof m, msg);
    if (parse_uint(parse_get(root, "code"), &code))
        snprintf(detail, cap, "no %s %s (code %lld%s%s)", key, what, (long long) code,
                 msg ? ": " : "", m);
    else
        snprintf(detail, cap, "no %s %s", key, what);
}
