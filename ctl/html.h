/*  html.h - vinted-ctl report --html: one self-contained HTML page (inline CSS
    and SVG, no JavaScript, nothing from the network) with the price
    distribution per catalog and currency (histograms), the median price over
    time (per window, one line per catalog and currency), the item inflow per
    catalog window (bars), and the pipeline's health (windows by kind and state,
    quarantine by rule, last errors). Every text from the database is escaped.

    Charts carry classes a test can count: svg.hist (REPORT_BUCKETS rect.bar
    each), svg.median (one path.line per series), svg.inflow (one rect.bar per
    catalog window), svg.quarantine (one rect.bar per rule).
*/
#ifndef CTL_HTML_H_INCLUDED
#define CTL_HTML_H_INCLUDED

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* The whole page for data since unix seconds (0: everything): 0, or 3 after a
   database error (said on stderr). */
int html_report(PGconn *db, int64_t since, FILE *out);

/* A query result as an HTML table with these column headings (escaped). */
void html_table(FILE *out, PGresult *res, const char *const *headings);

void html_test(bool verbose);

#endif
