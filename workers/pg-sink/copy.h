/*  copy.h - a growing buffer of PostgreSQL COPY text-format rows (the default
    COPY text format: tab between columns, newline after each row, \N for NULL).

        copy_t *c = copy_new();
        copy_text(c, "a\tb");       -> a\\tb
        copy_money(c, 199950);      -> 1999.50
        copy_scaled(c, 973, 3);     -> 0.973
        copy_time_ms(c, ms);        -> 2026-11-25 17:46:46.123+00
        copy_bytea(c, raw, len);    -> \\x6869
        copy_row_end(c);
        ... send copy_data(c), copy_size(c) with PQputCopyData ...
        copy_destroy(&c);

    Each appender writes the column separator itself. Values that PostgreSQL
    cannot take (a timestamp outside years 1..9999) make the appender return -1
    and leave the buffer as it was; out of memory marks the buffer failed
    (copy_ok is false) and it stays failed until copy_reset.
*/
#ifndef COPY_H_INCLUDED
#define COPY_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct _copy_t copy_t;

copy_t *copy_new(void);
void copy_destroy(copy_t **self_p);

/* Forget the contents (keeps the memory) and clear the failed mark. */
void copy_reset(copy_t *self);
/* Cut back to a length from copy_size (to drop a half-written row). */
void copy_truncate(copy_t *self, size_t size);
const char *copy_data(const copy_t *self);
size_t copy_size(const copy_t *self);
/* Rows ended with copy_row_end since the last reset. */
size_t copy_rows(const copy_t *self);
bool copy_ok(const copy_t *self);

void copy_null(copy_t *self);
/* A text value, escaped; NULL becomes \N. */
void copy_text(copy_t *self, const char *s);
/* An integer; PROTO_NULL (INT64_MIN) becomes \N. */
void copy_int(copy_t *self, int64_t v);
/* Minor units with scale 2 as a numeric: 199950 -> 1999.50, -250 -> -2.50;
   PROTO_NULL becomes \N. */
void copy_money(copy_t *self, int64_t cents);
/* An integer count of 10^-scale units as a numeric with exactly scale decimals
   (scale 0..18): copy_scaled(c, 973, 3) -> 0.973, (-5, 3) -> -0.005;
   PROTO_NULL becomes \N. */
void copy_scaled(copy_t *self, int64_t v, int scale);
void copy_bool(copy_t *self, bool v);
/* UTC unix milliseconds as a timestamptz; PROTO_NULL becomes \N. -1 if out of range. */
int copy_time_ms(copy_t *self, int64_t ms);
/* UTC unix seconds as a timestamptz; PROTO_NULL becomes \N. -1 if out of range. */
int copy_time_s(copy_t *self, int64_t s);
/* Bytes as a bytea in hex form; NULL data becomes \N. */
void copy_bytea(copy_t *self, const uint8_t *data, size_t len);
void copy_row_end(copy_t *self);

void copy_test(bool verbose);

#endif
