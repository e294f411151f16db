/*  jsontext.c - NULs and broken \u escapes out of a JSON text. See jsontext.h. */
#include "common/jsontext.h"

#include <assert.h>
#include <string.h>

static bool s_hex4(const char *p, const char *end, unsigned *out)
{
    if (end - p < 4)
        return false;
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else
            return false;
    }
    *out = v;
    return true;
}

/* At a backslash: *adv = bytes the escape spans; returns true if it is one cJSON
   would mangle (\u0000) or refuse (an unpaired surrogate). */
static bool s_escape_bad(const char *p, const char *end, size_t *adv)
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
        if (end - p >= 12 && p[6] == '\\' && p[7] == 'u' && s_hex4(p + 8, end, &lo) && lo >= 0xDC00 &&
            lo <= 0xDFFF) {
            *adv = 12;
            return false;
        }
        return true;
    }
    return false;
}

bool jsontext_needs_repair(const char *s, size_t len)
{
    if (memchr(s, '\0', len))
        return true;
    const char *end = s + len;
    const char *p = s;
    while (p < end && (p = memchr(p, '\\', (size_t)(end - p)))) {
        size_t adv;
        if (s_escape_bad(p, end, &adv))
            return true;
        p += adv;
    }
    return false;
}

size_t jsontext_repair(const char *s, size_t len, char *out)
{
    const char *end = s + len;
    size_t o = 0;
    for (const char *p = s; p < end;) {
        if (*p == '\0') {
            out[o++] = (char)0xFF;
            p++;
        }
        else if (*p == '\\') {
            size_t adv;
            if (s_escape_bad(p, end, &adv))
                out[o++] = (char)0xFF;
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

void jsontext_test(bool verbose)
{
    (void)verbose;
    char out[64];
    assert(!jsontext_needs_repair("{\"a\":\"b\\u00e9 \\ud83d\\ude00 \\\\u0000\"}", 35));
    static const struct {
        const char *in;
        size_t len;
        const char *out;
    } cases[] = {
        {"\"a\\u0000b\"", 10,
         "\"a\xff"
         "b\""},
        {"\"a\0b\"", 5,
         "\"a\xff"
         "b\""},
        {"\"x\\ud800y\"", 10,
         "\"x\xff"
         "y\""},
        {"\"x\\udc00\\ud800\"", 15, "\"x\xff\xff\""},
        {"\"x\\ud800\\u0041\"", 15, "\"x\xff\\u0041\""},
        {"\"\\ud83d\\ude00 \\\\u0000\\u00\"", 24, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        bool needs = jsontext_needs_repair(cases[i].in, cases[i].len);
        assert(needs == (cases[i].out != NULL));
        if (!needs)
            continue;
        size_t n = jsontext_repair(cases[i].in, cases[i].len, out);
        assert(n == strlen(cases[i].out) && memcmp(out, cases[i].out, n) == 0);
    }
}
