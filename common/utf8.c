/*  utf8.c - strict UTF-8 validation. See utf8.h. */
#include "utf8.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

/* A test case from a string literal, its length taken from the literal (NULs included). */
#define S_CASE(lit, ok) { lit, sizeof(lit) - 1, ok }

size_t
utf8_seq_len(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *) s;
    if (p[0] < 0x80)
        return 1;
    /* the lead byte gives the length and the range of the first continuation
       byte, which rules out overlong forms, surrogates and what is above U+10FFFF */
    size_t len;
    unsigned char lo = 0x80, hi = 0xBF;
    if (p[0] >= 0xC2 && p[0] <= 0xDF)
        len = 2;
    else if (p[0] >= 0xE0 && p[0] <= 0xEF) {
        len = 3;
        if (p[0] == 0xE0)
            lo = 0xA0;
        else if (p[0] == 0xED)
            hi = 0x9F;
    }
    else if (p[0] >= 0xF0 && p[0] <= 0xF4) {
        len = 4;
        if (p[0] == 0xF0)
            lo = 0x90;
        else if (p[0] == 0xF4)
            hi = 0x8F;
    }
    else
        return 0; /* continuation byte, C0/C1 overlong lead, F5..FF */
    if (n < len || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (p[i] < 0x80 || p[i] > 0xBF)
            return 0;
    return len;
}

bool
utf8_valid(const char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        if (s[i] == '\0')
            return false;
        size_t n = utf8_seq_len(s + i, len - i);
        if (n == 0)
            return false;
        i += n;
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
    /* one sequence at a time, and never past n */
    assert(utf8_seq_len("a", 1) == 1 && utf8_seq_len("\xc3\xa9", 2) == 2);
    assert(utf8_seq_len("\xe2\x82\xac", 3) == 3 && utf8_seq_len("\xf0\x9f\x91\x97", 4) == 4);
    assert(utf8_seq_len("\xe2\x82\xac", 2) == 0 && utf8_seq_len("\xed\xbf\xbf", 3) == 0);
    if (verbose)
        printf("OK\n");
}
