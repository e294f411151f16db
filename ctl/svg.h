/*  svg.h - inline SVG charts for the HTML report, written to a FILE (use
    open_memstream for a buffer). No JavaScript, no fonts or files from the
    network; every text is escaped as HTML entities. Coordinates are computed
    in integers: values are int64 (counts, or money in cents).

    A bar chart has one <rect class="bar"> per value, zero ones included, so a
    reader (or a test) can count them; a line chart has one <path class="line">
    per series.
*/
#ifndef CTL_SVG_H_INCLUDED
#define CTL_SVG_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

typedef struct {
    const char *label; /* under the bar (shown when there is room) and in its tooltip */
    int64_t value;     /* >= 0 */
} svg_bar_t;

typedef struct {
    const char *name;  /* legend */
    int n;
    const int64_t *x;  /* ascending, e.g. unix seconds */
    const int64_t *y;  /* e.g. cents */
} svg_series_t;

/* Text with & < > " ' as entities and control characters as spaces. */
void svg_escape(FILE *f, const char *text);

/* Cents as "1234.50" (exact) into buf (at least 24 bytes). */
const char *svg_cents(char *buf, int size, int64_t cents);

/* A vertical bar chart; cls names the chart (class="chart <cls>"); money: values
   are cents (axis and tooltips say 12.50 rather than 1250). */
void svg_bars(FILE *f, const char *cls, const char *title, const svg_bar_t *bars, int n, int width, int height,
              bool money);

/* A line chart of n series (y in cents; x as UTC dates on the axis when x_is_time). */
void svg_lines(FILE *f, const char *cls, const char *title, const svg_series_t *series, int n, int width, int height,
               bool x_is_time);

void svg_test(bool verbose);

#endif
