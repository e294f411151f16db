/*  copy.c - a growing buffer of PostgreSQL COPY text-format rows. */
#include "workers/pg-sink/copy.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "proto/proto.h"

struct _copy_t {
    char *data;
    size_t size;
    size_t cap;
    size_t rows;
    bool in_row; /* a column was written since the last row end */
    bool failed; /* out of memory */
};

copy_t *copy_new(void)
{
    copy_t *self = calloc(1, sizeof *self);
    return self;
}

void copy_destroy(copy_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    copy_t *self = *self_p;
    free(self->data);
    free(self);
    *self_p = NULL;
}

void copy_reset(copy_t *self)
{
    self->size = 0;
    self->rows = 0;
    self->in_row = false;
    self->failed = false;
}

void copy_truncate(copy_t *self, size_t size)
{
    if (size < self->size)
        self->size = size;
    self->in_row = self->size > 0 && self->data[self->size - 1] != '\n';
}

const char *copy_data(const copy_t *self)
{
    return self->data ? self->data : "";
}

size_t copy_size(const copy_t *self)
{
    return self->size;
}

size_t copy_rows(const copy_t *self)
{
    return self->rows;
}

bool copy_ok(const copy_t *self)
{
    return !self->failed;
}

/* Room for need more bytes; false (and the buffer marked failed) if there is none. */
static bool s_reserve(copy_t *self, size_t need)
{
    if (self->failed)
        return false;
    if (self->cap - self->size >= need)
        return true;
    size_t cap = self->cap ? self->cap : 4096;
    while (cap - self->size < need) {
        if (cap > SIZE_MAX / 2) {
            self->failed = true;
            return false;
        }
        cap *= 2;
    }
    char *data = realloc(self->data, cap);
    if (!data) {
        self->failed = true;
        return false;
    }
    self->data = data;
    self->cap = cap;
    return true;
}

/* Start a column: the separator when it is not the first of the row. */
static bool s_column(copy_t *self, size_t need)
{
    if (!s_reserve(self, need + 1))
        return false;
    if (self->in_row)
        self->data[self->size++] = '\t';
    self->in_row = true;
    return true;
}

static void s_put(copy_t *self, const char *s, size_t len)
{
    memcpy(self->data + self->size, s, len);
    self->size += len;
}

void copy_null(copy_t *self)
{
    if (s_column(self, 2))
        s_put(self, "\\N", 2);
}

void copy_text(copy_t *self, const char *s)
{
    if (!s) {
        copy_null(self);
        return;
    }
    size_t len = strlen(s);
    /* worst case every byte doubles */
    if (len > SIZE_MAX / 2 - 1 || !s_column(self, len * 2))
        return;
    char *out = self->data + self->size;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        switch (c) {
        case '\\': *out++ = '\\'; *out++ = '\\'; break;
        case '\t': *out++ = '\\'; *out++ = 't'; break;
        case '\n': *out++ = '\\'; *out++ = 'n'; break;
        case '\r': *out++ = '\\'; *out++ = 'r'; break;
        default: *out++ = c;
        }
    }
    self->size = (size_t) (out - self->data);
}

/* Decimal digits of u written backwards ending at end; returns the first digit. */
static char *s_digits(char *end, uint64_t u)
{
    do {
        *--end = (char) ('0' + u % 10);
        u /= 10;
    } while (u);
    return end;
}

static uint64_t s_abs(int64_t v)
{
    return v < 0 ? (uint64_t) 0 - (uint64_t) v : (uint64_t) v;
}

void copy_int(copy_t *self, int64_t v)
{
    if (v == PROTO_NULL) {
        copy_null(self);
        return;
    }
    char buf[24];
    char *end = buf + sizeof buf;
    char *p = s_digits(end, s_abs(v));
    if (v < 0)
        *--p = '-';
    if (s_column(self, (size_t) (end - p)))
        s_put(self, p, (size_t) (end - p));
}

void copy_money(copy_t *self, int64_t cents)
{
    copy_scaled(self, cents, 2);
}

void copy_scaled(copy_t *self, int64_t v, int scale)
{
    assert(scale >= 0 && scale <= 18);
    if (v == PROTO_NULL) {
        copy_null(self);
        return;
    }
    uint64_t u = s_abs(v);
    char buf[48];
    char *end = buf + sizeof buf;
    char *p = end;
    for (int i = 0; i < scale; i++) {
        *--p = (char) ('0' + u % 10);
        u /= 10;
    }
    if (scale > 0)
        *--p = '.';
    p = s_digits(p, u);
    if (v < 0)
        *--p = '-';
    if (s_column(self, (size_t) (end - p)))
        s_put(self, p, (size_t) (end - p));
}

void copy_bool(copy_t *self, bool v)
{
    if (s_column(self, 1))
        self->data[self->size++] = v ? 't' : 'f';
}

/* n as exactly width digits (n >= 0 and fits). */
static char *s_fixed(char *p, int n, int width)
{
    for (int i = width - 1; i >= 0; i--) {
        p[i] = (char) ('0' + n % 10);
        n /= 10;
    }
    return p + width;
}

/* Seconds of 0001-01-01 and of 10000-01-01 relative to the epoch. */
#define COPY_MIN_S (-62135596800LL)
#define COPY_END_S (253402300800LL)

static int s_time(copy_t *self, int64_t s, int ms, bool with_ms)
{
    if (s < COPY_MIN_S || s >= COPY_END_S)
        return -1;
    time_t t = (time_t) s;
    struct tm tm;
    if (!gmtime_r(&t, &tm))
        return -1;
    /* 2026-11-25 17:46:46.123+00 */
    char buf[32];
    char *p = buf;
    p = s_fixed(p, tm.tm_year + 1900, 4);
    *p++ = '-';
    p = s_fixed(p, tm.tm_mon + 1, 2);
    *p++ = '-';
    p = s_fixed(p, tm.tm_mday, 2);
    *p++ = ' ';
    p = s_fixed(p, tm.tm_hour, 2);
    *p++ = ':';
    p = s_fixed(p, tm.tm_min, 2);
    *p++ = ':';
    p = s_fixed(p, tm.tm_sec, 2);
    if (with_ms) {
        *p++ = '.';
        p = s_fixed(p, ms, 3);
    }
    *p++ = '+';
    *p++ = '0';
    *p++ = '0';
    if (s_column(self, (size_t) (p - buf)))
        s_put(self, buf, (size_t) (p - buf));
    return 0;
}

int copy_time_ms(copy_t *self, int64_t ms)
{
    if (ms == PROTO_NULL) {
        copy_null(self);
        return 0;
    }
    /* floor division so that -1 ms is 23:59:59.999 of the day before */
    int64_t s = ms / 1000;
    int64_t rem = ms % 1000;
    if (rem < 0) {
        rem += 1000;
        s -= 1;
    }
    return s_time(self, s, (int) rem, true);
}

int copy_time_s(copy_t *self, int64_t s)
{
    if (s == PROTO_NULL) {
        copy_null(self);
        return 0;
    }
    return s_time(self, s, 0, false);
}

void copy_bytea(copy_t *self, const uint8_t *data, size_t len)
{
    if (!data) {
        copy_null(self);
        return;
    }
    static const char hex[] = "0123456789abcdef";
    /* \\x then two digits a byte; the backslash is doubled for COPY */
    if (len > (SIZE_MAX - 3) / 2 || !s_column(self, 3 + len * 2))
        return;
    char *out = self->data + self->size;
    *out++ = '\\';
    *out++ = '\\';
    *out++ = 'x';
    for (size_t i = 0; i < len; i++) {
        *out++ = hex[data[i] >> 4];
        *out++ = hex[data[i] & 15];
    }
    self->size = (size_t) (out - self->data);
}

void copy_row_end(copy_t *self)
{
    if (!s_reserve(self, 1))
        return;
    self->data[self->size++] = '\n';
    self->in_row = false;
    self->rows++;
}

/* The buffer as a C string, for comparing in the test. */
static const char *s_str(copy_t *self)
{
    if (!s_reserve(self, 1))
        return "";
    self->data[self->size] = 0;
    return self->data;
}

static void s_expect(copy_t *self, const char *want, bool verbose)
{
    const char *got = s_str(self);
    if (verbose)
        printf("  copy: %s", got);
    if (strcmp(got, want) != 0)
        fprintf(stderr, "copy_test: got [%s] want [%s]\n", got, want);
    assert(strcmp(got, want) == 0);
    copy_reset(self);
}

void copy_test(bool verbose)
{
    if (verbose)
        printf(" * copy: ");
    copy_t *c = copy_new();
    assert(c);
    assert(copy_size(c) == 0 && copy_rows(c) == 0 && copy_ok(c));

    /* awkward text: tab, newline, backslash, CR, quotes, UTF-8, emoji */
    copy_text(c, "a\tb");
    copy_text(c, "line1\nline2");
    copy_text(c, "C:\\dir\\");
    copy_text(c, "cr\r\n");
    copy_text(c, "\"quoted\" 'single'");
    copy_text(c, "Camisola às riscas ção");
    copy_text(c, "\xF0\x9F\x91\x97 dress");
    copy_text(c, "");
    copy_text(c, "\\N");
    copy_text(c, "\\.");
    copy_text(c, NULL);
    copy_row_end(c);
    s_expect(c, "a\\tb\tline1\\nline2\tC:\\\\dir\\\\\tcr\\r\\n\t\"quoted\" 'single'\t"
                "Camisola às riscas ção\t\xF0\x9F\x91\x97 dress\t\t\\\\N\t\\\\.\t\\N\n",
             verbose);

    /* NULLs of every kind and a row of only one NULL */
    copy_null(c);
    copy_row_end(c);
    copy_int(c, PROTO_NULL);
    copy_money(c, PROTO_NULL);
    assert(copy_time_ms(c, PROTO_NULL) == 0);
    assert(copy_time_s(c, PROTO_NULL) == 0);
    copy_bytea(c, NULL, 0);
    copy_row_end(c);
    assert(copy_rows(c) == 2);
    s_expect(c, "\\N\n\\N\t\\N\t\\N\t\\N\t\\N\n", verbose);

    /* integers */
    copy_int(c, 0);
    copy_int(c, 42);
    copy_int(c, -7);
    copy_int(c, INT64_MAX);
    copy_int(c, INT64_MIN + 1);
    copy_row_end(c);
    s_expect(c, "0\t42\t-7\t9223372036854775807\t-9223372036854775807\n", verbose);

    /* money: scale 2, sign, no float anywhere */
    copy_money(c, 0);
    copy_money(c, 5);
    copy_money(c, 1999);
    copy_money(c, -250);
    copy_money(c, -5);
    copy_money(c, 100);
    copy_money(c, 123450);
    copy_money(c, 999999999999);
    copy_money(c, INT64_MAX);
    copy_money(c, INT64_MIN + 1);
    copy_row_end(c);
    s_expect(c, "0.00\t0.05\t19.99\t-2.50\t-0.05\t1.00\t1234.50\t9999999999.99\t"
                "92233720368547758.07\t-92233720368547758.07\n",
             verbose);

    /* other scales: numeric(4,3) thousandths (feedback reputation), scale 0 */
    copy_scaled(c, 973, 3);
    copy_scaled(c, 1000, 3);
    copy_scaled(c, 0, 3);
    copy_scaled(c, 5, 3);
    copy_scaled(c, -5, 3);
    copy_scaled(c, 50, 3);
    copy_scaled(c, PROTO_NULL, 3);
    copy_scaled(c, 42, 0);
    copy_scaled(c, -42, 0);
    copy_scaled(c, INT64_MAX, 18);
    copy_scaled(c, INT64_MIN + 1, 18);
    copy_scaled(c, 7, 18);
    copy_row_end(c);
    s_expect(c, "0.973\t1.000\t0.000\t0.005\t-0.005\t0.050\t\\N\t42\t-42\t"
                "9.223372036854775807\t-9.223372036854775807\t0.000000000000000007\n",
             verbose);

    /* booleans, alone, mixed with NULLs, and a row of only booleans */
    copy_bool(c, true);
    copy_bool(c, false);
    copy_null(c);
    copy_bool(c, true);
    copy_row_end(c);
    copy_bool(c, false);
    copy_row_end(c);
    s_expect(c, "t\tf\t\\N\tt\nf\n", verbose);

    /* timestamps: UTC, milliseconds, floor for negatives, range checks */
    assert(copy_time_ms(c, 1795628806123LL) == 0);
    assert(copy_time_ms(c, 0) == 0);
    assert(copy_time_ms(c, -1) == 0);
    assert(copy_time_ms(c, 951782400000LL) == 0); /* 2000-02-29 */
    assert(copy_time_s(c, 1795628806) == 0);
    assert(copy_time_ms(c, 253402300799999LL) == 0);
    copy_row_end(c);
    s_expect(c, "2026-11-25 17:46:46.123+00\t1970-01-01 00:00:00.000+00\t"
                "1969-12-31 23:59:59.999+00\t2000-02-29 00:00:00.000+00\t"
                "2026-11-25 17:46:46+00\t9999-12-31 23:59:59.999+00\n",
             verbose);
    copy_int(c, 1);
    size_t before = copy_size(c);
    assert(copy_time_ms(c, 253402300800000LL) == -1);
    assert(copy_time_s(c, INT64_MAX) == -1);
    assert(copy_time_s(c, -62135596801LL) == -1);
    assert(copy_time_ms(c, INT64_MIN + 1) == -1);
    assert(copy_size(c) == before);
    copy_row_end(c);
    s_expect(c, "1\n", verbose);

    /* bytea: hex form with the backslash doubled; empty is not NULL */
    const uint8_t raw[] = { 0x00, 0x7b, 0x22, 0x0a, 0x5c, 0xff };
    copy_bytea(c, raw, sizeof raw);
    copy_bytea(c, raw, 0);
    copy_row_end(c);
    s_expect(c, "\\\\x007b220a5cff\t\\\\x\n", verbose);

    /* truncate drops a half-written row */
    copy_int(c, 1);
    copy_row_end(c);
    size_t mark = copy_size(c);
    copy_text(c, "half");
    copy_text(c, "row");
    copy_truncate(c, mark);
    copy_int(c, 2);
    copy_row_end(c);
    s_expect(c, "1\n2\n", verbose);

    /* growth well past the first block */
    for (int i = 0; i < 5000; i++) {
        copy_text(c, "0123456789\t");
        copy_row_end(c);
    }
    assert(copy_ok(c));
    assert(copy_rows(c) == 5000 && copy_size(c) == 5000 * 13);
    assert(memcmp(copy_data(c) + 13 * 4999, "0123456789\\t\n", 13) == 0);

    copy_destroy(&c);
    assert(c == NULL);
    copy_destroy(&c);
    if (verbose)
        printf("OK\n");
}
