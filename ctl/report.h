/*  report.h - the reports vinted-ctl reads straight from PostgreSQL: prices per
    group and currency (with a terminal histogram), the data-quality reports and
    the quarantine, and the catalogs. Parameterized SQL only; money stays the
    exact numeric text PostgreSQL prints (never a float): JSON output carries it
    as raw JSON numbers. Tables another issue adds later (catalogs) are looked
    up with to_regclass first and read through to_jsonb, whatever their columns.

        PGconn *db = report_connect(conninfo);          NULL: said on stderr (exit 3)
        report_filter_t f = { .by = "catalog" };
        int rc = report_prices(db, &f, false, stdout);   0, or 3 on a database error
        PQfinish(db);
*/
#ifndef CTL_REPORT_H_INCLUDED
#define CTL_REPORT_H_INCLUDED

#include <cjson/cJSON.h>
#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* Histogram buckets per group: equal widths over the group's p5..p95, the first and
   the last bucket also counting the tails below and above (so they add up to the count). */
#define REPORT_BUCKETS 10

typedef struct {
    const char *catalog;   /* prices: only this catalog id (digits), or NULL */
    const char *brand;     /* prices: exact brand, or NULL */
    const char *condition; /* prices: exact condition text, or NULL */
    int64_t since;         /* unix seconds; 0: no limit */
    const char *by;        /* prices: catalog (default), brand, condition or size */
    const char *search;    /* catalogs: a piece of the name or id, or NULL */
} report_filter_t;

/* The columns of report_prices_query's rows. */
enum {
    REPORT_P_GROUP, REPORT_P_NAME, REPORT_P_CURRENCY, REPORT_P_COUNT, REPORT_P_MIN, REPORT_P_P25,
    REPORT_P_MEDIAN, REPORT_P_P75, REPORT_P_MAX, REPORT_P_MEAN, REPORT_P_HIST, REPORT_P_LOW, REPORT_P_HIGH,
    REPORT_P_SITE, /* the site the listings live on ("" for listings from before sites) */
    REPORT_P_COLUMNS
};

/* A connection (connect_timeout 10 s unless conninfo says otherwise), or NULL after
   saying why on stderr. */
PGconn *report_connect(const char *conninfo);

/* Run a parameterized statement (NULL params are SQL NULL). The result, or NULL after
   saying on stderr what failed. */
PGresult *report_query(PGconn *db, const char *what, const char *sql, int n, const char *const *params);

/* report_query with $1 the unix seconds since (SQL NULL for 0: no limit) and, when
   extra is not NULL, $2 extra. */
PGresult *report_query_since(PGconn *db, int64_t since, const char *extra, const char *what, const char *sql);

/* Does the table exist (to_regclass)? false on a database error too. */
bool report_table_exists(PGconn *db, const char *name);

/* The SQL expression of a --by group, or NULL when by is not one of catalog, brand,
   condition, size. */
const char *report_group_expr(const char *by);

/* One row per group and currency, most items first (columns REPORT_P_*), or NULL. */
PGresult *report_prices_query(PGconn *db, const report_filter_t *filter);

/* Exact numeric text ("12.5", "-3", "1234.56") as cents; -1 when it is not one
   with at most two decimals. */
int report_cents(const char *text, int64_t *cents);

/* "{1,0,12}" into out (at most max numbers): their count, or -1 when malformed. */
int report_int_array(const char *text, int64_t *out, int max);

/* The reports: 0, or 3 after a database error (said on stderr). */
/* Print root as one line of JSON to out, then free it. */
void report_json_print(cJSON *root, FILE *out);

int report_prices(PGconn *db, const report_filter_t *filter, bool json, FILE *out);
int report_quality(PGconn *db, const report_filter_t *filter, bool json, FILE *out);
int report_catalogs(PGconn *db, const report_filter_t *filter, bool json, FILE *out);

void report_test(bool verbose);

#endif
