/*  money.c - decimal text to int64 cents, and the ISO 4217 list. See money.h. */
#include "money.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Active ISO 4217 codes (plus HRK, still met in older listings), sorted for
   bsearch. Precious metals, bond units and the test/no-currency codes are left
   out on purpose: no listing is priced in them. */
static const char s_currencies[][4] = {
    "AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN",
    "BAM", "BBD", "BDT", "BGN", "BHD", "BIF", "BMD", "BND", "BOB", "BOV",
    "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD", "CDF", "CHE", "CHF",
    "CHW", "CLF", "CLP", "CNY", "COP", "COU", "CRC", "CUC", "CUP", "CVE",
    "CZK", "DJF", "DKK", "DOP", "DZD", "EGP", "ERN", "ETB", "EUR", "FJD",
    "FKP", "GBP", "GEL", "GHS", "GIP", "GMD", "GNF", "GTQ", "GYD", "HKD",
    "HNL", "HRK", "HTG", "HUF", "IDR", "ILS", "INR", "IQD", "IRR", "ISK",
    "JMD", "JOD", "JPY", "KES", "KGS", "KHR", "KMF", "KPW", "KRW", "KWD",
    "KYD", "KZT", "LAK", "LBP", "LKR", "LRD", "LSL", "LYD", "MAD", "MDL",
    "MGA", "MKD", "MMK", "MNT", "MOP", "MRU", "MUR", "MVR", "MWK", "MXN",
    "MXV", "MYR", "MZN", "NAD", "NGN", "NIO", "NOK", "NPR", "NZD", "OMR",
    "PAB", "PEN", "PGK", "PHP", "PKR", "PLN", "PYG", "QAR", "RON", "RSD",
    "RUB", "RWF", "SAR", "SBD", "SCR", "SDG", "SEK", "SGD", "SHP", "SLE",
    "SLL", "SOS", "SRD", "SSP", "STN", "SVC", "SYP", "SZL", "THB", "TJS",
    "TMT", "TND", "TOP", "TRY", "TTD", "TWD", "TZS", "UAH", "UGX", "USD",
    "USN", "UYI", "UYU", "UYW", "UZS", "VED", "VES", "VND", "VUV", "WST",
    "XAF", "XCD", "XCG", "XOF", "XPF", "YER", "ZAR", "ZMW", "ZWG", "ZWL",
};
#define S_NCURRENCIES (sizeof s_currencies / sizeof s_currencies[0])

/* Significant digits kept; further digits must be zeros past the point. */
#define S_MAXDIGITS 40

int
money_parse_cents(const char *s, int64_t *cents, const char **why)
{
    const char *dummy;
    if (!why)
        why = &dummy;
    if (!s) {
        *why = "absent";
        return -1;
    }
    while (*s == ' ' || *s == '\t')
        s++;
    bool neg = false;
    if (*s == '+' || *s == '-') {
        neg = *s == '-';
        s++;
    }
    /* The value is 0.d[0]d[1]...d[nd-1] x 10^point, leading zeros dropped. */
    char d[S_MAXDIGITS];
    int nd = 0, point = 0, seen = 0;
    bool frac = false;
    for (;; s++) {
        if (*s >= '0' && *s <= '9') {
            seen++;
            if (nd == 0 && *s == '0') {
                if (frac)
                    point--;
                continue;
            }
            if (nd == S_MAXDIGITS) {
                if (*s != '0' && frac) {
                    *why = "more than 2 decimals";
                    return -1;
                }
                if (*s != '0') {
                    *why = "too many digits";
                    return -1;
                }
                if (!frac)
                    point++;
                continue;
            }
            d[nd++] = *s;
            if (!frac)
                point++;
        }
        else if (*s == '.' && !frac)
            frac = true;
        else
            break;
    }
    if (!seen) {
        *why = "no digits";
        return -1;
    }
    if (*s == 'e' || *s == 'E') {
        s++;
        bool eneg = false;
        if (*s == '+' || *s == '-') {
            eneg = *s == '-';
            s++;
        }
        if (!(*s >= '0' && *s <= '9')) {
            *why = "bad exponent";
            return -1;
        }
        int e = 0;
        for (; *s >= '0' && *s <= '9'; s++) {
            if (e > 100000) {
                *why = "exponent too large";
                return -1;
            }
            e = e * 10 + (*s - '0');
        }
        point += eneg ? -e : e;
    }
    while (*s == ' ' || *s == '\t')
        s++;
    if (*s) {
        *why = "not a decimal number";
        return -1;
    }
    if (nd > 0 && point > 10) {
        *why = "too large for numeric(12,2)";
        return -1;
    }
    int64_t v = 0;
    for (int i = 0; i < nd; i++) {
        int weight = point + 1 - i; /* power of ten of this digit, in cents */
        if (weight < 0) {
            if (d[i] != '0') {
                *why = "more than 2 decimals";
                return -1;
            }
            continue;
        }
        int64_t p = d[i] - '0';
        for (int k = 0; k < weight; k++)
            p *= 10;
        v += p;
    }
    assert(v <= MONEY_MAX_CENTS);
    *cents = neg ? -v : v;
    return 0;
}

int
money_double_cents(double value, int64_t *cents, const char **why)
{
    const char *dummy;
    if (!why)
        why = &dummy;
    if (!isfinite(value)) {
        *why = "not a finite number";
        return -1;
    }
    if (fabs(value) >= 1e13) {
        *why = "too large for numeric(12,2)";
        return -1;
    }
    /* The shortest text that reads back as the same double is what the sender wrote. */
    char text[64];
    snprintf(text, sizeof text, "%.15g", value);
    if (strtod(text, NULL) != value)
        snprintf(text, sizeof text, "%.17g", value);
    return money_parse_cents(text, cents, why);
}

static int
s_code_cmp(const void *a, const void *b)
{
    return memcmp(a, b, 3);
}

bool
money_currency(const char *text, char code[4])
{
    if (!text)
        return false;
    char up[4];
    for (int i = 0; i < 3; i++) {
        char c = text[i];
        if (c >= 'a' && c <= 'z')
            c = (char) (c - 'a' + 'A');
        if (c < 'A' || c > 'Z')
            return false;
        up[i] = c;
    }
    if (text[3] != '\0')
        return false;
    up[3] = '\0';
    if (!bsearch(up, s_currencies, S_NCURRENCIES, sizeof s_currencies[0], s_code_cmp))
        return false;
    memcpy(code, up, 4);
    return true;
}

void
money_test(bool verbose)
{
    if (verbose)
        printf(" * money: ");

    struct {
        const char *text;
        int rc;
        int64_t cents;
    } cases[] = {
        {"20.0", 0, 2000},
        {"20", 0, 2000},
        {"20.5", 0, 2050},
        {"0.05", 0, 5},
        {"3.90", 0, 390},
        {"  7.25 ", 0, 725},
        {"+1", 0, 100},
        {"-3.9", 0, -390},
        {"-0.0", 0, 0},
        {"0", 0, 0},
        {"000012.340", 0, 1234},
        {".5", 0, 50},
        {"5.", 0, 500},
        {"1.2e1", 0, 1200},
        {"125E-2", 0, 125},
        {"20.500000", 0, 2050},
        {"20.0000000000000000000000000000000000000000000000000", 0, 2000},
        {"9999999999.99", 0, MONEY_MAX_CENTS},
        {"1e-2", 0, 1},
        {"20.555", -1, 0},
        {"0.001", -1, 0},
        {"10000000000", -1, 0},
        {"1e11", -1, 0},
        {"", -1, 0},
        {"   ", -1, 0},
        {"abc", -1, 0},
        {"20,5", -1, 0},
        {"1.2.3", -1, 0},
        {"--1", -1, 0},
        {"1e", -1, 0},
        {"1e999999999", -1, 0},
        {"12 34", -1, 0},
        {"0x10", -1, 0},
        {".", -1, 0},
        {"1e-99999", -1, 0},
        {"0e-99999", 0, 0},
        {"0e5", 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t c = -42;
        const char *why = NULL;
        int rc = money_parse_cents(cases[i].text, &c, &why);
        if (rc != cases[i].rc || (rc == 0 && c != cases[i].cents))
            fprintf(stderr, "money case %zu '%s': rc=%d cents=%lld\n", i, cases[i].text, rc,
                    (long long) c);
        assert(rc == cases[i].rc);
        if (rc == 0)
            assert(c == cases[i].cents);
        else
            assert(why && *why);
    }
    const char *why = NULL;
    int64_t c = 0;
    assert(money_parse_cents(NULL, &c, &why) == -1 && why);
    assert(money_parse_cents("1.234", &c, NULL) == -1);

    /* Doubles go through their shortest decimal text. */
    assert(money_double_cents(19.99, &c, &why) == 0 && c == 1999);
    assert(money_double_cents(20.5, &c, &why) == 0 && c == 2050);
    assert(money_double_cents(0.1 + 0.2, &c, &why) == -1); /* 0.30000000000000004 */
    assert(money_double_cents(3, &c, &why) == 0 && c == 300);
    assert(money_double_cents(-2.5, &c, &why) == 0 && c == -250);
    assert(money_double_cents(1e-5, &c, &why) == -1);
    assert(money_double_cents(1e300, &c, &why) == -1);
    assert(money_double_cents(NAN, &c, &why) == -1);
    assert(money_double_cents(INFINITY, &c, &why) == -1);

    /* Currencies: the list is sorted (bsearch needs it) and covers every site. */
    for (size_t i = 1; i < S_NCURRENCIES; i++)
        assert(memcmp(s_currencies[i - 1], s_currencies[i], 3) < 0);
    const char *sites[] = {"EUR", "GBP", "PLN", "CZK", "SEK", "DKK", "RON", "HUF", "USD",
                           "CHF", "NOK", "JPY", "CAD", "AUD", "BRL", "CNY", "MXN", "TRY"};
    char code[4];
    for (size_t i = 0; i < sizeof sites / sizeof sites[0]; i++) {
        assert(money_currency(sites[i], code));
        assert(strcmp(code, sites[i]) == 0);
    }
    assert(money_currency("pln", code) && strcmp(code, "PLN") == 0);
    assert(!money_currency("XXX", code));
    assert(!money_currency("XTS", code));
    assert(!money_currency("EU", code));
    assert(!money_currency("EURO", code));
    assert(!money_currency("", code));
    assert(!money_currency(NULL, code));
    assert(!money_currency("E1R", code));
    assert(!money_currency("ABC", code));
    assert(!money_currency("€", code));

    if (verbose)
        printf("OK\n");
}
