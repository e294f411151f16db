/*  html.c - the self-contained HTML report. */
#include "ctl/html.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/config.h"
#include "ctl/report.h"
#include "ctl/svg.h"

#define S_MAX_HISTOGRAMS 24 /* catalogs x currencies shown, most items first */
#define S_MAX_SERIES 10     /* lines in the median chart */
#define S_MAX_INFLOW 120    /* newest catalog windows in the inflow chart */

#define S_UTC(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

static const char *s_style =
    "body{font-family:sans-serif;margin:24px;color:#222;background:#fff}"
    "h1{font-size:22px}h2{font-size:18px;margin-top:32px;border-bottom:1px solid #ccc}"
    "table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ccc;padding:3px 8px;font-size:13px}"
    "th{background:#f0f0f0}td.n{text-align:right}.grid{display:flex;flex-wrap:wrap;gap:12px}"
    "svg.chart{background:#fafafa;border:1px solid #ddd}.note{color:#666;font-size:13px}";

void html_table(FILE *out, PGresult *res, const char *const *headings)
{
    int cols = PQnfields(res), rows = PQntuples(res);
    fprintf(out, "<table>\n<tr>");
    for (int c = 0; c < cols; c++) {
        fprintf(out, "<th>");
        svg_escape(out, headings && headings[c] ? headings[c] : PQfname(res, c));
        fprintf(out, "</th>");
    }
    fprintf(out, "</tr>\n");
    for (int r = 0; r < rows; r++) {
        fprintf(out, "<tr>");
        for (int c = 0; c < cols; c++) {
            Oid type = PQftype(res, c);
            /* int2, int4, int8, numeric: right-aligned */
            bool number = type == 20 || type == 21 || type == 23 || type == 1700;
            fprintf(out, "<td%s>", number ? " class=\"n\"" : "");
            svg_escape(out, PQgetisnull(res, r, c) ? "" : PQgetvalue(res, r, c));
            fprintf(out, "</td>");
        }
        fprintf(out, "</tr>\n");
    }
    fprintf(out, "</table>\n");
}

static int s_histograms(PGconn *db, int64_t since, FILE *out)
{
    report_filter_t filter = { .by = "catalog", .since = since };
    PGresult *res = report_prices_query(db, &filter);
    if (!res)
        return 3;
    int n = PQntuples(res);
    fprintf(out, "<h2>Price distribution per catalog</h2>\n");
    if (n == 0)
        fprintf(out, "<p class=\"note\">No priced items yet.</p>\n");
    else {
        static const char *const heads[] = { "catalog", "name", "currency", "items", "min", "p25", "median", "p75",
                                             "max", "mean", "histogram" };
        /* the table without the raw histogram column */
        fprintf(out, "<table>\n<tr>");
        for (int c = 0; c < REPORT_P_HIST; c++)
            fprintf(out, "<th>%s</th>", heads[c]);
        fprintf(out, "</tr>\n");
        for (int r = 0; r < n; r++) {
            fprintf(out, "<tr>");
            for (int c = 0; c < REPORT_P_HIST; c++) {
                fprintf(out, "<td%s>", c >= REPORT_P_COUNT ? " class=\"n\"" : "");
                svg_escape(out, PQgetisnull(res, r, c) ? "" : PQgetvalue(res, r, c));
                fprintf(out, "</td>");
            }
            fprintf(out, "</tr>\n");
        }
        fprintf(out, "</table>\n");
    }
    fprintf(out, "<div class=\"grid\">\n");
    for (int r = 0; r < n && r < S_MAX_HISTOGRAMS; r++) {
        int64_t hist[REPORT_BUCKETS], lo, hi;
        int nb = report_int_array(PQgetvalue(res, r, REPORT_P_HIST), hist, REPORT_BUCKETS);
        if (nb != REPORT_BUCKETS || report_cents(PQgetvalue(res, r, REPORT_P_LOW), &lo) != 0 ||
            report_cents(PQgetvalue(res, r, REPORT_P_HIGH), &hi) != 0)
            continue;
        char labels[REPORT_BUCKETS][32], title[512];
        svg_bar_t bars[REPORT_BUCKETS];
        for (int i = 0; i < REPORT_BUCKETS; i++) {
            svg_cents(labels[i], sizeof labels[i], lo + (hi - lo) * i / REPORT_BUCKETS);
            bars[i].label = labels[i];
            bars[i].value = hist[i];
        }
        const char *name = PQgetisnull(res, r, REPORT_P_NAME) ? NULL : PQgetvalue(res, r, REPORT_P_NAME);
        const char *site = PQgetvalue(res, r, REPORT_P_SITE);
        snprintf(title, sizeof title, "%s%s%.30s, %s%s%s, %s items", PQgetvalue(res, r, REPORT_P_GROUP),
                 name ? " " : "", name ? name : "", site, *site ? " " : "", PQgetvalue(res, r, REPORT_P_CURRENCY),
                 PQgetvalue(res, r, REPORT_P_COUNT));
        svg_bars(out, "hist", title, bars, REPORT_BUCKETS, 400, 220, false);
    }
    fprintf(out, "</div>\n");
    if (n > S_MAX_HISTOGRAMS)
        fprintf(out, "<p class=\"note\">%d more catalog and currency groups in the table only.</p>\n",
                n - S_MAX_HISTOGRAMS);
    PQclear(res);
    return 0;
}

static int s_medians(PGconn *db, int64_t since, FILE *out)
{
    /* the series with most windows first; points ordered by time within a series */
    PGresult *res = report_query_since(db, since, NULL, "the median price per window",
        "WITH p AS (SELECT d.catalog_id, e.key AS currency,"
        "    extract(epoch FROM coalesce(w.finished_at, d.created_at))::bigint AS t, e.value->>'median' AS median"
        "  FROM dq_reports d LEFT JOIN windows w USING (window_id), jsonb_each(d.prices) e"
        "  WHERE e.value->>'median' IS NOT NULL"
        "    AND ($1::bigint IS NULL OR d.created_at >= to_timestamp($1::bigint))),"
        " s AS (SELECT catalog_id, currency, count(*) AS n FROM p GROUP BY 1, 2"
        "       ORDER BY n DESC, catalog_id, currency LIMIT 10)"
        " SELECT p.catalog_id, p.currency, p.t, p.median FROM p JOIN s USING (catalog_id, currency)"
        " ORDER BY s.n DESC, p.catalog_id, p.currency, p.t");
    if (!res)
        return 3;
    int rows = PQntuples(res);
    int64_t *x = calloc((size_t) rows + 1, sizeof *x), *y = calloc((size_t) rows + 1, sizeof *y);
    assert(x && y);
    svg_series_t series[S_MAX_SERIES];
    char names[S_MAX_SERIES][64];
    int ns = 0, points = 0;
    for (int r = 0; r < rows; r++) {
        int64_t cents;
        if (report_cents(PQgetvalue(res, r, 3), &cents) != 0)
            continue;
        char name[64];
        snprintf(name, sizeof name, "%.20s %.8s", PQgetvalue(res, r, 0), PQgetvalue(res, r, 1));
        if (ns == 0 || strcmp(names[ns - 1], name) != 0) {
            if (ns == S_MAX_SERIES)
                break;
            snprintf(names[ns], sizeof names[ns], "%s", name);
            series[ns] = (svg_series_t) { names[ns], 0, x + points, y + points };
            ns++;
        }
        x[points] = strtoll(PQgetvalue(res, r, 2), NULL, 10);
        y[points++] = cents;
        series[ns - 1].n++;
    }
    fprintf(out, "<h2>Median price over time</h2>\n<p class=\"note\">The median price of the items each catalog "
                 "window saw, per catalog and currency, at the time the window finished.</p>\n");
    svg_lines(out, "median", "Median price per window", series, ns, 900, 300, true);
    free(x);
    free(y);
    PQclear(res);
    return 0;
}

static int s_inflow(PGconn *db, int64_t since, FILE *out)
{
    char lim[16];
    snprintf(lim, sizeof lim, "%d", S_MAX_INFLOW);
    PGresult *res = report_query_since(db, since, lim, "the item inflow",
        "SELECT window_id, catalog_id, items FROM (SELECT window_id, catalog_id, items FROM windows"
        "  WHERE kind IN ('scheduled', 'adhoc')"
        "    AND ($1::bigint IS NULL OR created_at >= to_timestamp($1::bigint))"
        "  ORDER BY window_id DESC LIMIT $2::int) w ORDER BY window_id");
    if (!res)
        return 3;
    int n = PQntuples(res);
    svg_bar_t *bars = calloc((size_t) n + 1, sizeof *bars);
    char (*labels)[48] = calloc((size_t) n + 1, sizeof *labels);
    assert(bars && labels);
    for (int r = 0; r < n; r++) {
        snprintf(labels[r], sizeof labels[r], "w%s c%s", PQgetvalue(res, r, 0), PQgetvalue(res, r, 1));
        bars[r].label = labels[r];
        bars[r].value = strtoll(PQgetvalue(res, r, 2), NULL, 10);
    }
    fprintf(out, "<h2>Item inflow per window</h2>\n<p class=\"note\">Items brought in by each catalog window "
                 "(the newest %d), oldest first.</p>\n", S_MAX_INFLOW);
    svg_bars(out, "inflow", "Items per catalog window", bars, n, 900, 260, false);
    free(bars);
    free(labels);
    PQclear(res);
    return 0;
}

static int s_health(PGconn *db, int64_t since, FILE *out)
{
    fprintf(out, "<h2>Pipeline health</h2>\n");
    PGresult *res = report_query_since(db, since, NULL, "windows by kind and state",
        "SELECT kind, count(*) FILTER (WHERE state = 'pending') AS pending,"
        "  count(*) FILTER (WHERE state = 'running') AS running, count(*) FILTER (WHERE state = 'done') AS done,"
        "  count(*) FILTER (WHERE state = 'failed') AS failed, coalesce(sum(items), 0) AS items,"
        "  coalesce(sum(requests), 0) AS requests"
        " FROM windows WHERE $1::bigint IS NULL OR created_at >= to_timestamp($1::bigint)"
        " GROUP BY kind ORDER BY kind");
    if (!res)
        return 3;
    fprintf(out, "<h3>Windows by kind and state</h3>\n");
    html_table(out, res, NULL);
    PQclear(res);

    res = report_query_since(db, since, NULL, "the quarantine by rule",
        "SELECT rule, count(*), " S_UTC("max(seen_at)") " FROM quarantine"
        " WHERE $1::bigint IS NULL OR seen_at >= to_timestamp($1::bigint) GROUP BY rule ORDER BY count(*) DESC, rule");
    if (!res)
        return 3;
    int n = PQntuples(res);
    svg_bar_t *bars = calloc((size_t) n + 1, sizeof *bars);
    assert(bars);
    for (int r = 0; r < n; r++) {
        bars[r].label = PQgetvalue(res, r, 0);
        bars[r].value = strtoll(PQgetvalue(res, r, 1), NULL, 10);
    }
    fprintf(out, "<h3>Quarantine by rule</h3>\n");
    if (n == 0)
        fprintf(out, "<p class=\"note\">Nothing quarantined.</p>\n");
    svg_bars(out, "quarantine", "Quarantined records per rule", bars, n, 600, 220, false);
    static const char *const qheads[] = { "rule", "records", "last seen" };
    html_table(out, res, qheads);
    free(bars);
    PQclear(res);

    res = report_query_since(db, since, NULL, "the last errors",
        "SELECT window_id, kind, catalog_id, state, " S_UTC("coalesce(finished_at, created_at)") ", error"
        " FROM windows WHERE error IS NOT NULL AND error <> ''"
        "   AND ($1::bigint IS NULL OR created_at >= to_timestamp($1::bigint))"
        " ORDER BY window_id DESC LIMIT 10");
    if (!res)
        return 3;
    fprintf(out, "<h3>Last errors</h3>\n");
    if (PQntuples(res) == 0)
        fprintf(out, "<p class=\"note\">No window recorded an error.</p>\n");
    else {
        static const char *const eheads[] = { "window", "kind", "catalog", "state", "at", "error" };
        html_table(out, res, eheads);
    }
    PQclear(res);
    return 0;
}

int html_report(PGconn *db, int64_t since, FILE *out)
{
    char now[32], from[32];
    config_format_time(clock_wall_ms() / 1000, now, sizeof now);
    fprintf(out, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                 "<title>vinted-pipeline report</title>\n<style>%s</style>\n</head>\n<body>\n", s_style);
    fprintf(out, "<h1>vinted-pipeline report</h1>\n<p class=\"note\">Generated %s UTC%s%s. Prices are exact "
                 "(PostgreSQL numeric); histograms have %d buckets over each group's p5..p95, the first and last one also holding the tails.</p>\n",
            now, since ? "; data since " : "", since ? config_format_time(since, from, sizeof from) : "",
            REPORT_BUCKETS);
    int rc = s_histograms(db, since, out);
    if (rc == 0)
        rc = s_medians(db, since, out);
    if (rc == 0)
        rc = s_inflow(db, since, out);
    if (rc == 0)
        rc = s_health(db, since, out);
    fprintf(out, "</body>\n</html>\n");
    return rc;
}

void html_test(bool verbose)
{
    /* a result made by hand, as libpq allows, to check the table's escaping */
    PGresult *res = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
    assert(res);
    PGresAttDesc attrs[2] = {
        { .name = (char *) "rule", .typid = 25, .typlen = -1, .atttypmod = -1 },
        { .name = (char *) "count", .typid = 20, .typlen = 8, .atttypmod = -1 },
    };
    assert(PQsetResultAttrs(res, 2, attrs));
    assert(PQsetvalue(res, 0, 0, (char *) "<b>bad</b> & \"worse\"", 20));
    assert(PQsetvalue(res, 0, 1, (char *) "12", 2));
    assert(PQsetvalue(res, 1, 0, NULL, -1));
    assert(PQsetvalue(res, 1, 1, (char *) "3", 1));
    char *buf = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&buf, &size);
    static const char *const heads[] = { "rule <name>", NULL };
    html_table(f, res, heads);
    fclose(f);
    if (verbose) {
        printf("\n%s", buf);
        fflush(stdout);
    }
    assert(strstr(buf, "<th>rule &lt;name&gt;</th><th>count</th>"));
    assert(strstr(buf, "<td>&lt;b&gt;bad&lt;/b&gt; &amp; &quot;worse&quot;</td><td class=\"n\">12</td>"));
    assert(strstr(buf, "<tr><td></td><td class=\"n\">3</td></tr>"));
    assert(!strstr(buf, "<b>"));
    if (verbose)
        printf("\n%s", buf);
    free(buf);
    PQclear(res);
}
