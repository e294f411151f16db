/*  utf8.c - strict UTF-8 validation. See utf8.h. */
#include "utf8.h"

#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* A test case from a string literal, its length taken from the literal (NULs included). */
#define S_CASE(lit, ok) { lit, sizeof(lit) - 1, ok }

bool
utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *) s;
    const unsigned char *end = p + len;
    while (p < end) {
        unsigned char c = *p;
        if (c < 0x80) {
            if (c == 0)
                return false;
            p++;
            continue;
        }
        size_t n;
        uint32_t cp, min;
        if (c >= 0xC2 && c <= 0xDF) {
            n = 1;
            cp = c & 0x1F;
            min = 0x80;
        }
        else if (c >= 0xE0 && c <= 0xEF) {
            n = 2;
            cp = c & 0x0F;
            min = 0x800;
        }
        else if (c >= 0xF0 && c <= 0xF4) {
            n = 3;
            cp = c & 0x07;
            min = 0x10000;
        }
        else
            return false; /* continuation byte, C0/C1 overlong lead, F5..FF */
        if ((size_t) (end - p) <= n)
            return false;
        for (size_t i = 1; i <= n; i++) {
            if ((p[i] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (p[i] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        p += n + 1;
    }
    return true;
}

bool
utf8_valid_str(const char *s)
{
    if (!s)
        return true;
    /* fast path: plain ASCII */
    const char *p = s;
    while (*p && !((unsigned char) *p & 0x80))
        p++;
    if (!*p)
        return true;
    return utf8_valid(p, strlen(p));
}

void
utf8_test(bool verbose)
{
    if (verbose)
        printf(" * utf8: ");
    struct {
        const char *s;
        size_t len;
        bool ok;
    } cases[] = {
        S_CASE("", true),
        S_CASE("plain ascii", true),
        S_CASE("Spodnie ch\xc5\x82opi\xc4\x99" "ce", true),       /* Polish */
        S_CASE("\xe2\x82\xac 20", true),                           /* euro sign */
        S_CASE("\xf0\x9f\x91\x97 dress", true),                   /* emoji */
        S_CASE("\xef\xbf\xbf", true),                              /* U+FFFF */
        S_CASE("\xf4\x8f\xbf\xbf", true),                          /* U+10FFFF */
        S_CASE("a\0b", false),                                     /* NUL inside */
        S_CASE("\xff", false),
        S_CASE("\x80", false),                                     /* lone continuation */
        S_CASE("\xc3", false),                                     /* truncated */
        S_CASE("\xe2\x82", false),                                 /* truncated */
        S_CASE("\xc0\xaf", false),                                 /* overlong '/' */
        S_CASE("\xe0\x80\xaf", false),                             /* overlong */
        S_CASE("\xf0\x80\x80\xaf", false),                         /* overlong */
        S_CASE("\xed\xa0\x80", false),                             /* surrogate U+D800 */
        S_CASE("\xf4\x90\x80\x80", false),                         /* > U+10FFFF */
        S_CASE("\xf8\x88\x80\x80\x80", false),                     /* 5-byte form */
        S_CASE("ok\xc3(", false),                                  /* bad continuation */
        S_CASE("Muito bom \xc2\xb7 M", true),
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        assert(utf8_valid(cases[i].s, cases[i].len) == cases[i].ok);
    assert(utf8_valid_str(NULL));
    assert(utf8_valid_str("abc"));
    assert(utf8_valid_str("Tr\xc3\xa8s bon \xc3\xa9tat"));
    assert(!utf8_valid_str("bad \xff tail"));
    assert(!utf8_valid_str("\xc3"));
    if (verbose)
        printf("OK\n");
}
