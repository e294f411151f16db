/*  report.c - prices, data quality and catalogs, read from PostgreSQL. */
#include "ctl/report.h"

#include <assert.h>
#include <cjson/cJSON.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/bar.h"
#include "ctl/svg.h"

#define S_UTC(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

PGconn *report_connect(const char *conninfo)
{
    const char *keys[] = { "connect_timeout", "application_name", "dbname", NULL };
    const char *values[] = { "10", "vinted-ctl", conninfo ? conninfo : "", NULL };
    PGconn *db = PQconnectdbParams(keys, values, 1);
    if (!db || PQstatus(db) != CONNECTION_OK) {
        const char *why = db ? PQerrorMessage(db) : "out of memory";
        fprintf(stderr, "vinted-ctl: cannot connect to PostgreSQL (--pg / VINTED_PG): %s%s", why,
                why[0] && why[strlen(why) - 1] == '\n' ? "" : "\n");
        PQfinish(db);
        return NULL;
    }
    PQsetClientEncoding(db, "UTF8");
    return db;
}

PGresult *report_query(PGconn *db, const char *what, const char *sql, int n, const char *const *params)
{
    PGresult *res = PQexecParams(db, sql, n, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK && PQresultStatus(res) != PGRES_COMMAND_OK) {
        const char *why = PQresultErrorMessage(res);
        if (!why || !*why)
            why = PQerrorMessage(db);
        fprintf(stderr, "vinted-ctl: database error in %s: %s%s", what, why,
                why[0] && why[strlen(why) - 1] == '\n' ? "" : "\n");
        PQclear(res);
        return NULL;
    }
    return res;
}

PGresult *report_query_since(PGconn *db, int64_t since, const char *extra, const char *what, const char *sql)
{
    char buf[24];
    snprintf(buf, sizeof buf, "%lld", (long long) since);
    const char *params[] = { since ? buf : NULL, extra };
    return report_query(db, what, sql, extra ? 2 : 1, params);
}

bool report_table_exists(PGconn *db, const char *name)
{
    const char *params[] = { name };
    PGresult *res = report_query(db, "to_regclass", "SELECT to_regclass($1::text) IS NOT NULL", 1, params);
    bool yes = res && PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    PQclear(res);
    return yes;
}

const char *report_group_expr(const char *by)
{
    if (!by || strcmp(by, "catalog") == 0)
        return "catalog_id::text";
    if (strcmp(by, "brand") == 0)
        return "brand";
    if (strcmp(by, "condition") == 0)
        return "condition";
    if (strcmp(by, "size") == 0)
        return "size_title";
    return NULL;
}

/* A catalog's name from a catalogs table of any shape (title or name column). */
#define S_CATALOG_NAME(id)                                                                                             \
    "(SELECT coalesce(to_jsonb(c)->>'title', to_jsonb(c)->>'name') FROM catalogs c"                                    \
    " WHERE to_jsonb(c)->>'catalog_id' = " id " LIMIT 1)"

PGresult *report_prices_query(PGconn *db, const report_filter_t *filter)
{
    const char *expr = report_group_expr(filter->by);
    if (!expr) {
        fprintf(stderr, "vinted-ctl: --by must be catalog, brand, condition or size\n");
        return NULL;
    }
    bool names = (!filter->by || strcmp(filter->by, "catalog") == 0) && report_table_exists(db, "public.catalogs");
    char since[24];
    snprintf(since, sizeof since, "%lld", (long long) filter->since);
    const char *params[] = { filter->catalog, filter->brand, filter->condition, filter->since ? since : NULL };
    char sql[4096];
    /* expr comes from the fixed list above, never from the user */
    snprintf(sql, sizeof sql,
             "WITH f AS ("
             "  SELECT coalesce(%s, '') AS g, coalesce(site, '') AS site, currency, price FROM items"
             "  WHERE price IS NOT NULL AND currency IS NOT NULL"
             "    AND ($1::int IS NULL OR catalog_id = $1::int)"
             "    AND ($2::text IS NULL OR brand = $2::text)"
             "    AND ($3::text IS NULL OR condition = $3::text)"
             "    AND ($4::bigint IS NULL OR first_seen_at >= to_timestamp($4::bigint))"
             "), s AS ("
             "  SELECT g, site, currency, count(*) AS n, min(price) AS mn, max(price) AS mx,"
             "    percentile_disc(0.25) WITHIN GROUP (ORDER BY price) AS p25,"
             "    percentile_disc(0.5) WITHIN GROUP (ORDER BY price) AS md,"
             "    percentile_disc(0.75) WITHIN GROUP (ORDER BY price) AS p75,"
             "    round(avg(price), 2) AS mean,"
             "    percentile_disc(0.05) WITHIN GROUP (ORDER BY price) AS lo,"
             "    percentile_disc(0.95) WITHIN GROUP (ORDER BY price) AS hi"
             "  FROM f GROUP BY g, site, currency"
             "), h AS ("
             "  SELECT f.g, f.site, f.currency,"
             "    CASE WHEN s.hi = s.lo THEN 1"
             "      ELSE greatest(1, least(width_bucket(f.price, s.lo, s.hi, %d), %d)) END AS b,"
             "    count(*) AS c"
             "  FROM f JOIN s ON s.g = f.g AND s.site = f.site AND s.currency = f.currency GROUP BY 1, 2, 3, 4"
             ")"
             " SELECT s.g, %s, s.currency, s.n, s.mn, s.p25, s.md, s.p75, s.mx, s.mean,"
             "  (SELECT array_agg(coalesce(h.c, 0) ORDER BY k) FROM generate_series(1, %d) k"
             "     LEFT JOIN h ON h.g = s.g AND h.site = s.site AND h.currency = s.currency AND h.b = k), s.lo, s.hi,"
             "  s.site"
             " FROM s ORDER BY s.n DESC, s.g, s.site, s.currency",
             expr, REPORT_BUCKETS, REPORT_BUCKETS, names ? S_CATALOG_NAME("s.g") : "NULL::text", REPORT_BUCKETS);
    return report_query(db, "the prices report", sql, 4, params);
}

int report_cents(const char *text, int64_t *cents)
{
    if (!text || !*text)
        return -1;
    const char *p = text;
    bool negative = *p == '-';
    if (*p == '-' || *p == '+')
        p++;
    if (!isdigit((unsigned char) *p))
        return -1;
    int64_t units = 0;
    for (; isdigit((unsigned char) *p); p++) {
        if (units > (INT64_MAX / 100 - 9) / 10)
            return -1;
        units = units * 10 + (*p - '0');
    }
    int64_t frac = 0;
    int digits = 0;
    if (*p == '.') {
        for (p++; isdigit((unsigned char) *p); p++, digits++) {
            if (digits >= 2) {
                if (*p != '0') /* 12.501 is not a number of cents; 12.500 is */
                    return -1;
                continue;
            }
            frac = frac * 10 + (*p - '0');
        }
        if (digits == 0)
            return -1;
    }
    if (*p)
        return -1;
    if (digits == 1)
        frac *= 10;
    *cents = (units * 100 + frac) * (negative ? -1 : 1);
    return 0;
}

int report_int_array(const char *text, int64_t *out, int max)
{
    if (!text || *text != '{')
        return -1;
    const char *p = text + 1;
    int n = 0;
    if (*p == '}')
        return p[1] ? -1 : 0;
    for (;;) {
        char *end;
        if (!isdigit((unsigned char) *p) && *p != '-')
            return -1;
        long long v = strtoll(p, &end, 10);
        if (end == p || n >= max)
            return -1;
        out[n++] = v;
        p = end;
        if (*p == '}')
            return p[1] ? -1 : n;
        if (*p != ',')
            return -1;
        p++;
    }
}

static const char *s_val(PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col) ? NULL : PQgetvalue(res, row, col);
}

/* A numeric column as a raw JSON number (exact), or null. */
static void s_json_num(cJSON *obj, const char *key, PGresult *res, int row, int col)
{
    const char *v = s_val(res, row, col);
    if (v)
        cJSON_AddRawToObject(obj, key, v);
    else
        cJSON_AddNullToObject(obj, key);
}

static void s_json_str(cJSON *obj, const char *key, PGresult *res, int row, int col)
{
    const char *v = s_val(res, row, col);
    if (v)
        cJSON_AddStringToObject(obj, key, v);
    else
        cJSON_AddNullToObject(obj, key);
}

#define S_COUNT(array) ((int) (sizeof(array) / sizeof((array)[0])))

/* One key of a JSON row: the column it comes from, as a raw number (exact) or a string. */
typedef struct {
    const char *key;
    int col;
    bool num;
} s_field_t;

/* Every row of res as an object of these fields, in an array added to root as key. */
/* One row of res as an object of the fields. */
static cJSON *s_json_row(PGresult *res, int r, const s_field_t *fields, int n_fields)
{
    cJSON *o = cJSON_CreateObject();
    for (int i = 0; i < n_fields; i++)
        (fields[i].num ? s_json_num : s_json_str)(o, fields[i].key, res, r, fields[i].col);
    return o;
}

static void s_json_rows(cJSON *root, const char *key, PGresult *res, const s_field_t *fields, int n_fields)
{
    cJSON *rows = cJSON_AddArrayToObject(root, key);
    for (int r = 0; r < PQntuples(res); r++)
        cJSON_AddItemToArray(rows, s_json_row(res, r, fields, n_fields));
}

void report_json_print(cJSON *root, FILE *out)
{
    char *text = cJSON_PrintUnformatted(root);
    fprintf(out, "%s\n", text ? text : "null");
    free(text);
    cJSON_Delete(root);
}

int report_prices(PGconn *db, const report_filter_t *filter, bool json, FILE *out)
{
    PGresult *res = report_prices_query(db, filter);
    if (!res)
        return 3;
    const char *by = filter->by ? filter->by : "catalog";
    int rows = PQntuples(res);
    cJSON *root = json ? cJSON_CreateObject() : NULL;
    cJSON *groups = NULL;
    if (json) {
        cJSON_AddStringToObject(root, "by", by);
        groups = cJSON_AddArrayToObject(root, "groups");
    }
    else if (rows == 0)
        fprintf(out, "no priced items match%s\n", filter->since ? " (since the given time)" : "");
    for (int r = 0; r < rows; r++) {
        int64_t hist[REPORT_BUCKETS] = { 0 }, lo = 0, hi = 0;
        int nb = report_int_array(s_val(res, r, REPORT_P_HIST), hist, REPORT_BUCKETS);
        bool bounds = report_cents(s_val(res, r, REPORT_P_LOW), &lo) == 0 &&
                      report_cents(s_val(res, r, REPORT_P_HIGH), &hi) == 0;
        const char *group = PQgetvalue(res, r, REPORT_P_GROUP);
        const char *name = s_val(res, r, REPORT_P_NAME);
        if (json) {
            cJSON *g = cJSON_CreateObject();
            cJSON_AddStringToObject(g, "group", group);
            s_json_str(g, "name", res, r, REPORT_P_NAME);
            s_json_str(g, "currency", res, r, REPORT_P_CURRENCY);
            s_json_str(g, "site", res, r, REPORT_P_SITE);
            static const char *const keys[] = { "count", "min", "p25", "median", "p75", "max", "mean" };
            for (int k = 0; k < 7; k++)
                s_json_num(g, keys[k], res, r, REPORT_P_COUNT + k);
            cJSON *h = cJSON_AddObjectToObject(g, "histogram");
            s_json_num(h, "low", res, r, REPORT_P_LOW);
            s_json_num(h, "high", res, r, REPORT_P_HIGH);
            cJSON *b = cJSON_AddArrayToObject(h, "counts");
            for (int i = 0; i < nb; i++)
                cJSON_AddItemToArray(b, cJSON_CreateNumber((double) hist[i]));
            cJSON_AddItemToArray(groups, g);
            continue;
        }
        const char *site = PQgetvalue(res, r, REPORT_P_SITE);
        fprintf(out, "%s%s %s%s%s%s  %s%s%s  %s items\n", r ? "\n" : "", by, *group ? group : "(none)",
                name ? " (" : "", name ? name : "", name ? ")" : "", *site ? site : "", *site ? " " : "",
                PQgetvalue(res, r, REPORT_P_CURRENCY), PQgetvalue(res, r, REPORT_P_COUNT));
        fprintf(out, "  min %s  p25 %s  median %s  p75 %s  max %s  mean %s\n", PQgetvalue(res, r, REPORT_P_MIN),
                PQgetvalue(res, r, REPORT_P_P25), PQgetvalue(res, r, REPORT_P_MEDIAN),
                PQgetvalue(res, r, REPORT_P_P75), PQgetvalue(res, r, REPORT_P_MAX), PQgetvalue(res, r, REPORT_P_MEAN));
        if (nb <= 0 || !bounds)
            continue;
        int64_t top = 0;
        for (int i = 0; i < nb; i++)
            top = hist[i] > top ? hist[i] : top;
        for (int i = 0; i < nb; i++) {
            char a[24], z[24], bar[256];
            /* bucket i covers [lo + (hi-lo)*i/nb, lo + (hi-lo)*(i+1)/nb); the first and the last
               also hold the tails below p5 and above p95 */
            if (i == 0)
                snprintf(a, sizeof a, "%.23s", PQgetvalue(res, r, REPORT_P_MIN));
            else
                svg_cents(a, sizeof a, lo + (hi - lo) * i / nb);
            if (i == nb - 1 || hi == lo)
                snprintf(z, sizeof z, "%.23s", PQgetvalue(res, r, REPORT_P_MAX));
            else
                svg_cents(z, sizeof z, lo + (hi - lo) * (i + 1) / nb);
            bar_blocks(bar, sizeof bar, hist[i], top, 40);
            fprintf(out, "  %10s - %-10s \u2502%s %lld\n", a, z, bar, (long long) hist[i]);
            if (hi == lo)
                break; /* one price: one bucket says it all */
        }
    }
    PQclear(res);
    if (json)
        report_json_print(root, out);
    return 0;
}

int report_quality(PGconn *db, const report_filter_t *filter, bool json, FILE *out)
{
    PGresult *res = report_query_since(db, filter->since, NULL, "the data-quality reports",
        "SELECT d.window_id, d.catalog_id, w.kind, w.state, " S_UTC("w.start_at") ", " S_UTC("w.end_at") ","
        "  d.rows, d.distinct_items, d.duplicates, d.new_items, d.nulls::text, d.quarantined::text, d.prices::text,"
        "  (SELECT string_agg(key || '=' || value, ' ' ORDER BY key) FROM jsonb_each_text(d.nulls) WHERE value <> '0'),"
        "  (SELECT string_agg(key || '=' || value, ' ' ORDER BY key) FROM jsonb_each_text(d.quarantined)),"
        "  (SELECT string_agg(format('%s n=%s min=%s median=%s max=%s', key, value->>'n', value->>'min',"
        "                            value->>'median', value->>'max'), '; ' ORDER BY key) FROM jsonb_each(d.prices)),"
        "  " S_UTC("d.created_at")
        " FROM dq_reports d LEFT JOIN windows w USING (window_id)"
        " WHERE $1::bigint IS NULL OR d.created_at >= to_timestamp($1::bigint)"
        " ORDER BY d.window_id");
    if (!res)
        return 3;
    PGresult *rules = report_query_since(db, filter->since, NULL, "the quarantine report",
        "SELECT rule, count(*), " S_UTC("min(seen_at)") ", " S_UTC("max(seen_at)") ","
        "  (array_agg(detail ORDER BY seen_at DESC) FILTER (WHERE detail IS NOT NULL))[1]"
        " FROM quarantine WHERE $1::bigint IS NULL OR seen_at >= to_timestamp($1::bigint)"
        " GROUP BY rule ORDER BY count(*) DESC, rule");
    if (!rules) {
        PQclear(res);
        return 3;
    }
    /* the images flow: photos seen, stored, refused for good by the CDN (by cause), neither */
    PGresult *photos = report_query_since(db, filter->since, NULL, "the photos report",
        "WITH p AS MATERIALIZED (SELECT stored_at, gone_at, gone_reason FROM photos"
        "                        WHERE $1::bigint IS NULL OR first_seen_at >= to_timestamp($1::bigint))"
        "SELECT count(*), count(*) FILTER (WHERE stored_at IS NOT NULL), count(*) FILTER (WHERE gone_at IS NOT NULL),"
        "  count(*) FILTER (WHERE stored_at IS NULL AND gone_at IS NULL),"
        "  (SELECT string_agg(cause || ': ' || n, ', ' ORDER BY n DESC, cause) FROM"
        "    (SELECT coalesce(substring(gone_reason FROM 'HTTP [0-9]+'), 'other') AS cause, count(*) AS n"
        "     FROM p WHERE gone_at IS NOT NULL GROUP BY 1) c)"
        " FROM p");
    if (!photos) {
        PQclear(res);
        PQclear(rules);
        return 3;
    }
    int n = PQntuples(res), m = PQntuples(rules);
    if (json) {
        static const s_field_t windows[] = {
            { "window_id", 0, true }, { "catalog_id", 1, true }, { "kind", 2, false },
            { "state", 3, false }, { "start", 4, false }, { "end", 5, false },
            { "rows", 6, true }, { "distinct", 7, true }, { "duplicates", 8, true },
            { "new_items", 9, true },
            { "nulls", 10, true },       /* jsonb text: valid JSON */
            { "quarantined", 11, true },
            { "prices", 12, true },      /* numerics exact, as stored */
            { "reported_at", 16, false },
        };
        static const s_field_t quarantine[] = {
            { "rule", 0, false }, { "count", 1, true }, { "first_seen", 2, false },
            { "last_seen", 3, false }, { "example", 4, false },
        };
        cJSON *root = cJSON_CreateObject();
        s_json_rows(root, "windows", res, windows, S_COUNT(windows));
        s_json_rows(root, "quarantine", rules, quarantine, S_COUNT(quarantine));
        static const s_field_t photo_counts[] = {
            { "seen", 0, true }, { "stored", 1, true }, { "gone", 2, true }, { "not_stored", 3, true },
            { "gone_by_cause", 4, false },
        };
        cJSON_AddItemToObject(root, "photos", s_json_row(photos, 0, photo_counts, S_COUNT(photo_counts)));
        report_json_print(root, out);
    }
    else {
        fprintf(out, "data-quality reports: %d window%s\n", n, n == 1 ? "" : "s");
        if (n)
            fprintf(out, "%8s %8s %-9s %-7s %-20s %6s %8s %5s %6s %6s\n", "window", "catalog", "kind", "state",
                    "start", "rows", "distinct", "dups", "new", "quar.");
        for (int r = 0; r < n; r++) {
            const char *qtext = s_val(res, r, 14);
            long long quarantined = 0;
            for (const char *p = qtext ? strchr(qtext, '=') : NULL; p; p = strchr(p + 1, '='))
                quarantined += strtoll(p + 1, NULL, 10);
            fprintf(out, "%8s %8s %-9s %-7s %-20s %6s %8s %5s %6s %6lld\n", PQgetvalue(res, r, 0),
                    PQgetvalue(res, r, 1), s_val(res, r, 2) ? PQgetvalue(res, r, 2) : "-",
                    s_val(res, r, 3) ? PQgetvalue(res, r, 3) : "-", s_val(res, r, 4) ? PQgetvalue(res, r, 4) : "-",
                    PQgetvalue(res, r, 6), PQgetvalue(res, r, 7), PQgetvalue(res, r, 8), PQgetvalue(res, r, 9),
                    quarantined);
            if (s_val(res, r, 15))
                fprintf(out, "%17s prices: %s\n", "", PQgetvalue(res, r, 15));
            if (s_val(res, r, 13))
                fprintf(out, "%17s nulls: %s\n", "", PQgetvalue(res, r, 13));
            if (qtext)
                fprintf(out, "%17s quarantined: %s\n", "", qtext);
        }
        fprintf(out, "\nquarantine by rule: %s\n", m ? "" : "empty");
        for (int r = 0; r < m; r++) {
            const char *example = s_val(rules, r, 4);
            fprintf(out, "  %-22s %6s  first %s  last %s\n", PQgetvalue(rules, r, 0), PQgetvalue(rules, r, 1),
                    PQgetvalue(rules, r, 2), PQgetvalue(rules, r, 3));
            if (example)
                fprintf(out, "  %-22s e.g. %.160s\n", "", example);
        }
        fprintf(out,
                "\nphotos: %s seen, %s stored, %s gone%s%s%s, %s not stored (outside the sample, or to be "
                "retried)\n",
                PQgetvalue(photos, 0, 0), PQgetvalue(photos, 0, 1), PQgetvalue(photos, 0, 2),
                s_val(photos, 0, 4) ? " (" : "", s_val(photos, 0, 4) ? PQgetvalue(photos, 0, 4) : "",
                s_val(photos, 0, 4) ? ")" : "", PQgetvalue(photos, 0, 3));
    }
    PQclear(res);
    PQclear(rules);
    PQclear(photos);
    return 0;
}

int report_catalogs(PGconn *db, const report_filter_t *filter, bool json, FILE *out)
{
    const char *params[] = { filter->search && *filter->search ? filter->search : NULL };
    bool table = report_table_exists(db, "public.catalogs");
    if (table) { /* the table exists from migration 003 on: names are loaded once it has rows */
        PGresult *any = report_query(db, "the catalogs list", "SELECT 1 FROM catalogs LIMIT 1", 0, NULL);
        if (!any)
            return 3;
        table = PQntuples(any) > 0;
        PQclear(any);
    }
    PGresult *res;
    if (table)
        res = report_query(db, "the catalogs list",
            "WITH c AS (SELECT to_jsonb(c)->>'catalog_id' AS id,"
            "    coalesce(to_jsonb(c)->>'title', to_jsonb(c)->>'name') AS title,"
            "    to_jsonb(c)->>'parent_id' AS parent_id FROM catalogs c)"
            " SELECT c.id, c.title, c.parent_id, p.title, coalesce(i.n, 0)"
            " FROM c LEFT JOIN c p ON p.id = c.parent_id"
            " LEFT JOIN (SELECT catalog_id::text AS id, count(*) AS n FROM items GROUP BY 1) i ON i.id = c.id"
            " WHERE $1::text IS NULL OR strpos(lower(c.title), lower($1::text)) > 0 OR c.id = $1::text"
            " ORDER BY length(c.id), c.id", 1, params);
    else
        res = report_query(db, "the catalogs list",
            "SELECT catalog_id::text, NULL::text, NULL::text, NULL::text, count(*) FROM items"
            " WHERE catalog_id IS NOT NULL AND ($1::text IS NULL OR strpos(catalog_id::text, $1::text) > 0)"
            " GROUP BY catalog_id ORDER BY catalog_id", 1, params);
    if (!res)
        return 3;
    int n = PQntuples(res);
    if (json) {
        static const s_field_t catalogs[] = {
            { "catalog_id", 0, true }, { "title", 1, false }, { "parent_id", 2, true },
            { "parent_title", 3, false }, { "items", 4, true },
        };
        cJSON *root = cJSON_CreateObject();
        cJSON_AddBoolToObject(root, "names_loaded", table);
        s_json_rows(root, "catalogs", res, catalogs, S_COUNT(catalogs));
        report_json_print(root, out);
    }
    else {
        if (!table)
            fprintf(out, "catalog names are not loaded yet (vinted-ctl refresh-catalogs loads them): catalog ids seen in items\n");
        fprintf(out, "%10s %8s  %s\n", "catalog", "items", table ? "title (parent)" : "");
        for (int r = 0; r < n; r++) {
            const char *title = s_val(res, r, 1), *parent = s_val(res, r, 3), *parent_id = s_val(res, r, 2);
            fprintf(out, "%10s %8s  %s", PQgetvalue(res, r, 0), PQgetvalue(res, r, 4), title ? title : "");
            if (parent || parent_id)
                fprintf(out, " (%s%s%s)", parent ? parent : "", parent ? " " : "", parent_id ? parent_id : "");
            fputc('\n', out);
        }
        if (n == 0)
            fprintf(out, "no catalogs%s\n", params[0] ? " match" : " yet");
    }
    PQclear(res);
    return 0;
}

void report_test(bool verbose)
{
    (void) verbose;
    int64_t c = 0;
    assert(report_cents("12.50", &c) == 0 && c == 1250);
    assert(report_cents("12.5", &c) == 0 && c == 1250);
    assert(report_cents("7", &c) == 0 && c == 700);
    assert(report_cents("-0.05", &c) == 0 && c == -5);
    assert(report_cents("1234567890.99", &c) == 0 && c == 123456789099);
    assert(report_cents("3.500", &c) == 0 && c == 350);
    assert(report_cents("3.501", &c) == -1);
    assert(report_cents("", &c) == -1 && report_cents(NULL, &c) == -1);
    assert(report_cents("1.", &c) == -1 && report_cents(".5", &c) == -1 && report_cents("1e3", &c) == -1);
    assert(report_cents("99999999999999999999", &c) == -1);

    int64_t v[4];
    assert(report_int_array("{1,0,12}", v, 4) == 3 && v[0] == 1 && v[1] == 0 && v[2] == 12);
    assert(report_int_array("{}", v, 4) == 0);
    assert(report_int_array("{1,2,3,4,5}", v, 4) == -1);
    assert(report_int_array("{1,,2}", v, 4) == -1);
    assert(report_int_array("{1,2", v, 4) == -1);
    assert(report_int_array("1,2}", v, 4) == -1);
    assert(report_int_array(NULL, v, 4) == -1);

    assert(strcmp(report_group_expr(NULL), "catalog_id::text") == 0);
    assert(strcmp(report_group_expr("size"), "size_title") == 0);
    assert(strcmp(report_group_expr("brand"), "brand") == 0);
    assert(report_group_expr("price; DROP TABLE items") == NULL);
    assert(report_group_expr("") == NULL);
}
