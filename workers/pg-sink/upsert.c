/*  upsert.c - the sink's staging tables and upsert statements (see upsert.h). */
#include "workers/pg-sink/upsert.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct _upsert_t {
    char *sql_items;          /* the items upsert, built from the column list */
    char *sql_item_snapshots; /* the snapshot inserts, built from their tie-break keys */
    char *sql_user_snapshots;
};

/* Staging tables: same types as the targets, so COPY itself rejects bad values
   and names the line. Rows vanish at commit or rollback. */
static const char s_setup_sql[] =
    "SET TIME ZONE 'UTC';"
    "CREATE TEMP TABLE IF NOT EXISTS pgsink_items ("
    " window_id bigint, page int, pos int, item_id bigint, catalog_id int, title text,"
    " price numeric(12,2), currency char(3), service_fee numeric(12,2),"
    " total_price numeric(12,2), brand text, size_title text, size_kind text,"
    " size_value text, condition text, user_id bigint, user_login text, url text,"
    " photo_url text, favourite_count int, view_count int, promoted boolean,"
    " created_at timestamptz, seen_at timestamptz, null_mask int, site text"
    ") ON COMMIT DELETE ROWS;"
    "CREATE TEMP TABLE IF NOT EXISTS pgsink_quarantine ("
    " window_id bigint, target_id bigint, page int, pos int, rule text, detail text,"
    " raw bytea, seen_at timestamptz"
    ") ON COMMIT DELETE ROWS;"
    "CREATE TEMP TABLE IF NOT EXISTS pgsink_photos ("
    " item_id bigint, photo_id bigint, url text, is_main boolean, position int,"
    " seen_at timestamptz"
    ") ON COMMIT DELETE ROWS;"
    "CREATE TEMP TABLE IF NOT EXISTS pgsink_snapshots ("
    " item_id bigint, run_id bigint, observed_at timestamptz, user_id bigint,"
    " price numeric(12,2), currency char(3), favourite_count int, view_count int,"
    " is_reserved boolean, is_hidden boolean, is_closed boolean, closing_action text,"
    " removed boolean"
    ") ON COMMIT DELETE ROWS;"
    "CREATE TEMP TABLE IF NOT EXISTS pgsink_user_snapshots ("
    " user_id bigint, run_id bigint, observed_at timestamptz, login text, item_count int,"
    " feedback_count int, feedback_reputation numeric(4,3), positive_feedback_count int,"
    " neutral_feedback_count int, negative_feedback_count int, followers_count int,"
    " city text, country text"
    ") ON COMMIT DELETE ROWS;"
    "CREATE TEMP TABLE IF NOT EXISTS pgsink_stored ("
    " item_id bigint, photo_id bigint, object_key text, bytes bigint, content_type text,"
    " sha256 text"
    ") ON COMMIT DELETE ROWS;"
    "CREATE TEMP TABLE IF NOT EXISTS pgsink_catalogs ("
    " catalog_id int, parent_id int, title text, code text, url text, depth int,"
    " seen_at timestamptz"
    ") ON COMMIT DELETE ROWS;";

/* The COPY of each staging buffer, in the order the columns are encoded (rows.c). */
static const char *s_copy_sql[ROWS_NTABLES] = {
    [ROWS_ITEMS] = "COPY pgsink_items (window_id, page, pos, item_id, catalog_id, title, price,"
                " currency, service_fee, total_price, brand, size_title, size_kind, size_value,"
                " condition, user_id, user_login, url, photo_url, favourite_count, view_count,"
                " promoted, created_at, seen_at, null_mask, site) FROM STDIN",
    [ROWS_QUARANTINE] = "COPY pgsink_quarantine (window_id, target_id, page, pos, rule, detail, raw,"
                     " seen_at) FROM STDIN",
    [ROWS_PHOTOS] = "COPY pgsink_photos (item_id, photo_id, url, is_main, position, seen_at)"
                 " FROM STDIN",
    [ROWS_SNAPSHOTS] = "COPY pgsink_snapshots (item_id, run_id, observed_at, user_id, price,"
                    " currency, favourite_count, view_count, is_reserved, is_hidden, is_closed,"
                    " closing_action, removed) FROM STDIN",
    [ROWS_USERS] = "COPY pgsink_user_snapshots (user_id, run_id, observed_at, login, item_count,"
                " feedback_count, feedback_reputation, positive_feedback_count,"
                " neutral_feedback_count, negative_feedback_count, followers_count, city,"
                " country) FROM STDIN",
    [ROWS_STORED] = "COPY pgsink_stored (item_id, photo_id, object_key, bytes, content_type,"
                 " sha256) FROM STDIN",
    [ROWS_CATALOGS] = "COPY pgsink_catalogs (catalog_id, parent_id, title, code, url, depth, seen_at)"
                   " FROM STDIN",
};
static const char *s_copy_what[ROWS_NTABLES] = {
    [ROWS_ITEMS] = "copy items",         [ROWS_QUARANTINE] = "copy quarantine",
    [ROWS_PHOTOS] = "copy photos",       [ROWS_SNAPSHOTS] = "copy item snapshots",
    [ROWS_USERS] = "copy user snapshots", [ROWS_STORED] = "copy stored photos",
    [ROWS_CATALOGS] = "copy catalogs",
};

/* Item columns that follow the newest sighting. */
static const char *s_item_columns[] = {
    "catalog_id", "title",      "price",     "currency",        "service_fee", "total_price",
    "brand",      "size_title", "size_kind", "size_value",      "condition",   "user_id",
    "url",        "photo_url",  "favourite_count", "view_count", "promoted",   "created_at",
    "site",       NULL
};

/* Sellers: same rules; on a tie in last_seen_at the greater login wins, so the
   outcome does not depend on the order. */
static const char s_users_sql[] =
    "INSERT INTO users AS u (user_id, login, first_seen_at, last_seen_at) "
    "SELECT DISTINCT ON (user_id) user_id, user_login,"
    " min(seen_at) OVER (PARTITION BY user_id), seen_at "
    "FROM pgsink_items WHERE user_id IS NOT NULL "
    "ORDER BY user_id, seen_at DESC, user_login DESC NULLS LAST "
    "ON CONFLICT (user_id) DO UPDATE SET"
    " login = CASE WHEN EXCLUDED.last_seen_at > u.last_seen_at THEN EXCLUDED.login"
    "  WHEN EXCLUDED.last_seen_at < u.last_seen_at THEN u.login"
    "  ELSE GREATEST(EXCLUDED.login, u.login) END,"
    " first_seen_at = LEAST(u.first_seen_at, EXCLUDED.first_seen_at),"
    " last_seen_at = GREATEST(u.last_seen_at, EXCLUDED.last_seen_at) "
    "WHERE EXCLUDED.last_seen_at > u.last_seen_at"
    " OR EXCLUDED.first_seen_at < u.first_seen_at"
    " OR (EXCLUDED.last_seen_at = u.last_seen_at"
    "     AND GREATEST(EXCLUDED.login, u.login) IS DISTINCT FROM u.login)";

/* Every appearance; a page fetched twice keeps its earliest fetch. */
static const char s_sightings_sql[] =
    "INSERT INTO sightings AS s (window_id, page, pos, item_id, price, currency, null_mask,"
    " seen_at) "
    "SELECT DISTINCT ON (window_id, page, pos) window_id, page, pos, item_id, price, currency,"
    " null_mask, seen_at "
    "FROM pgsink_items ORDER BY window_id, page, pos, seen_at, item_id "
    "ON CONFLICT (window_id, page, pos) DO UPDATE SET item_id = EXCLUDED.item_id,"
    " price = EXCLUDED.price, currency = EXCLUDED.currency, null_mask = EXCLUDED.null_mask,"
    " seen_at = EXCLUDED.seen_at "
    "WHERE (EXCLUDED.seen_at, EXCLUDED.item_id) < (s.seen_at, s.item_id)";

/* Tracking pages of one run share window and page numbers: the page's target
   (seller or item id, 0 for catalog pages) tells them apart. */
static const char s_quarantine_sql[] =
    "INSERT INTO quarantine AS q (window_id, target_id, page, pos, rule, detail, raw, seen_at) "
    "SELECT DISTINCT ON (window_id, target_id, page, pos, rule) window_id, target_id, page, pos,"
    " rule, detail, raw, seen_at "
    "FROM pgsink_quarantine ORDER BY window_id, target_id, page, pos, rule, seen_at, detail, raw "
    "ON CONFLICT (window_id, target_id, page, pos, rule) DO UPDATE SET detail = EXCLUDED.detail,"
    " raw = EXCLUDED.raw, seen_at = EXCLUDED.seen_at "
    "WHERE EXCLUDED.seen_at < q.seen_at";

/* Photos of listings: the latest sighting, ordered by (seen_at, url, is_main,
   -position), sets url/is_main/position; the stored columns are left alone.
   A row inserted by a stored photo before any sighting has first_seen_at
   'infinity' and last_seen_at '-infinity', so any sighting replaces it. */
#define S_PHOTO_NEWER                                                                    \
    "(EXCLUDED.last_seen_at, EXCLUDED.url COLLATE \"C\", EXCLUDED.is_main, -EXCLUDED.position)" \
    " > (p.last_seen_at, p.url COLLATE \"C\", p.is_main, -p.position)"
static const char s_photos_sql[] =
    "INSERT INTO photos AS p (item_id, photo_id, url, is_main, position, first_seen_at,"
    " last_seen_at) "
    "SELECT DISTINCT ON (item_id, photo_id) item_id, photo_id, url, is_main, position,"
    " min(seen_at) OVER (PARTITION BY item_id, photo_id), seen_at "
    "FROM pgsink_photos "
    "ORDER BY item_id, photo_id, seen_at DESC, url COLLATE \"C\" DESC, is_main DESC, position "
    "ON CONFLICT (item_id, photo_id) DO UPDATE SET"
    " url = CASE WHEN " S_PHOTO_NEWER " THEN EXCLUDED.url ELSE p.url END,"
    /* a photo marked gone (the CDN refused its URL for good) is tried again at a new URL */
    " gone_at = CASE WHEN " S_PHOTO_NEWER " AND EXCLUDED.url <> p.url THEN NULL ELSE p.gone_at END,"
    " gone_reason = CASE WHEN " S_PHOTO_NEWER " AND EXCLUDED.url <> p.url THEN NULL ELSE p.gone_reason END,"
    " is_main = CASE WHEN " S_PHOTO_NEWER " THEN EXCLUDED.is_main ELSE p.is_main END,"
    " position = CASE WHEN " S_PHOTO_NEWER " THEN EXCLUDED.position ELSE p.position END,"
    " first_seen_at = LEAST(p.first_seen_at, EXCLUDED.first_seen_at),"
    " last_seen_at = GREATEST(p.last_seen_at, EXCLUDED.last_seen_at) "
    "WHERE " S_PHOTO_NEWER " OR EXCLUDED.first_seen_at < p.first_seen_at";

/* A photo landed in the object store: record where. Several reports of one photo
   in a transaction: a fixed order picks one. stored_at keeps the first time. */
static const char s_stored_sql[] =
    "INSERT INTO photos AS p (item_id, photo_id, url, is_main, position, first_seen_at,"
    " last_seen_at, object_key, bytes, content_type, sha256, stored_at) "
    "SELECT DISTINCT ON (item_id, photo_id) item_id, photo_id, '', false, 0, 'infinity',"
    " '-infinity', object_key, bytes, content_type, sha256, now() "
    "FROM pgsink_stored "
    "ORDER BY item_id, photo_id, object_key COLLATE \"C\" DESC, sha256 COLLATE \"C\" DESC NULLS LAST,"
    " bytes DESC NULLS LAST, content_type COLLATE \"C\" DESC NULLS LAST "
    "ON CONFLICT (item_id, photo_id) DO UPDATE SET object_key = EXCLUDED.object_key,"
    " bytes = EXCLUDED.bytes, content_type = EXCLUDED.content_type, sha256 = EXCLUDED.sha256,"
    " stored_at = coalesce(p.stored_at, EXCLUDED.stored_at) "
    "WHERE p.stored_at IS NULL"
    " OR (p.object_key, p.bytes, p.content_type, p.sha256)"
    "    IS DISTINCT FROM (EXCLUDED.object_key, EXCLUDED.bytes, EXCLUDED.content_type,"
    "                      EXCLUDED.sha256)";

/* The catalog tree: the newest tree (by fetch time) sets every column. Trees
   fetched at the same time that disagree are ranked by their values, so the
   outcome does not depend on the order; a row that changes nothing is skipped. */
#define S_CATALOG_RANK(t)                                                                  \
    "(" t ".seen_at, " t ".parent_id IS NOT NULL, coalesce(" t ".parent_id, 0),"           \
    " " t ".title COLLATE \"C\", " t ".code IS NOT NULL, coalesce(" t ".code, '') COLLATE \"C\"," \
    " " t ".url IS NOT NULL, coalesce(" t ".url, '') COLLATE \"C\", " t ".depth)"
#define S_CATALOG_NEWER S_CATALOG_RANK("EXCLUDED") " >= " S_CATALOG_RANK("c")
static const char s_catalogs_sql[] =
    "INSERT INTO catalogs AS c (catalog_id, parent_id, title, code, url, depth, seen_at) "
    "SELECT DISTINCT ON (catalog_id) catalog_id, parent_id, title, code, url, depth, seen_at "
    "FROM pgsink_catalogs AS t "
    "ORDER BY catalog_id, " S_CATALOG_RANK("t") " DESC "
    "ON CONFLICT (catalog_id) DO UPDATE SET"
    " parent_id = CASE WHEN " S_CATALOG_NEWER " THEN EXCLUDED.parent_id ELSE c.parent_id END,"
    " title = CASE WHEN " S_CATALOG_NEWER " THEN EXCLUDED.title ELSE c.title END,"
    " code = CASE WHEN " S_CATALOG_NEWER " THEN EXCLUDED.code ELSE c.code END,"
    " url = CASE WHEN " S_CATALOG_NEWER " THEN EXCLUDED.url ELSE c.url END,"
    " depth = CASE WHEN " S_CATALOG_NEWER " THEN EXCLUDED.depth ELSE c.depth END,"
    " seen_at = GREATEST(c.seen_at, EXCLUDED.seen_at) "
    "WHERE " S_CATALOG_RANK("EXCLUDED") " > " S_CATALOG_RANK("c");

/* Snapshot columns after the key (item_id/user_id, run_id), and the tie-break
   order "earliest observation" means: observed_at first, then every column in
   a fixed order ('?' marks a nullable column, '$' a nullable text one, '!' a
   column whose presence ranks first). */
static const char *s_item_snapshot_columns[] = {
    "observed_at", "user_id", "price", "currency", "favourite_count", "view_count",
    "is_reserved", "is_hidden", "is_closed", "closing_action", "removed", NULL
};
static const char *s_item_snapshot_order[] = {
    "observed_at", "removed", "is_closed", "is_reserved", "is_hidden", "?price", "$currency",
    "?favourite_count", "?view_count", "?user_id", "$closing_action", NULL
};
static const char *s_user_snapshot_columns[] = {
    "observed_at", "login", "item_count", "feedback_count", "feedback_reputation",
    "positive_feedback_count", "neutral_feedback_count", "negative_feedback_count",
    "followers_count", "city", "country", NULL
};
/* A seller is seen twice per run: embedded in its item list (login only) and in its
   profile (counters, feedback, location). The profile's observation wins, whatever
   the order they arrive in. */
static const char *s_user_snapshot_order[] = {
    "!feedback_count", "observed_at", "$login", "?item_count", "?feedback_count", "?feedback_reputation",
    "?positive_feedback_count", "?neutral_feedback_count", "?negative_feedback_count",
    "?followers_count", "$city", "$country", NULL
};

/* Mark items seen closed or removed: the earliest closed (removed) observation in
   item_snapshots, for the items of this transaction's snapshots and items (so an
   observation written before its item marks it once the item arrives). Only ever
   moves the marks earlier: concurrent writers cannot undo each other. */
#define S_CLOSED_EARLIER                                                                   \
    "(m.closed_at IS NOT NULL AND (i.closed_seen_at IS NULL"                               \
    " OR (m.closed_at, m.closing_action IS NULL, coalesce(m.closing_action, '') COLLATE \"C\")" \
    "  < (i.closed_seen_at, i.closing_action IS NULL,"                                      \
    "     coalesce(i.closing_action, '') COLLATE \"C\")))"
static const char s_marks_sql[] =
    "UPDATE items AS i SET"
    " closed_seen_at = CASE WHEN " S_CLOSED_EARLIER " THEN m.closed_at ELSE i.closed_seen_at END,"
    " closing_action = CASE WHEN " S_CLOSED_EARLIER " THEN m.closing_action"
    "  ELSE i.closing_action END,"
    " removed_seen_at = LEAST(i.removed_seen_at, m.removed_at) "
    "FROM (SELECT s.item_id,"
    "  min(s.observed_at) FILTER (WHERE s.is_closed) AS closed_at,"
    "  (array_agg(s.closing_action ORDER BY s.observed_at, s.closing_action IS NULL,"
    "   s.closing_action COLLATE \"C\") FILTER (WHERE s.is_closed))[1] AS closing_action,"
    "  min(s.observed_at) FILTER (WHERE s.removed) AS removed_at"
    " FROM item_snapshots s"
    " WHERE (s.is_closed OR s.removed) AND s.item_id IN"
    "  (SELECT item_id FROM pgsink_snapshots UNION ALL SELECT item_id FROM pgsink_items)"
    " GROUP BY s.item_id) m "
    "WHERE i.item_id = m.item_id AND (" S_CLOSED_EARLIER
    " OR m.removed_at < i.removed_seen_at"
    " OR (i.removed_seen_at IS NULL AND m.removed_at IS NOT NULL))";

/* The statements of a transaction, in order, and which staged buffers make each one
   worth running. */
typedef struct {
    const char *name; /* prepared statement name */
    const char *what; /* for error messages */
    unsigned when;    /* ROWS_BIT()s of the buffers it reads */
} s_statement_t;

static const s_statement_t s_statements[] = {
    { "pgsink_items", "upsert items", ROWS_BIT(ROWS_ITEMS) },
    { "pgsink_users", "upsert users", ROWS_BIT(ROWS_ITEMS) },
    { "pgsink_sightings", "insert sightings", ROWS_BIT(ROWS_ITEMS) },
    { "pgsink_quarantine", "insert quarantine", ROWS_BIT(ROWS_QUARANTINE) },
    { "pgsink_photos", "upsert photos", ROWS_BIT(ROWS_PHOTOS) },
    { "pgsink_stored", "record stored photos", ROWS_BIT(ROWS_STORED) },
    { "pgsink_item_snapshots", "insert item snapshots", ROWS_BIT(ROWS_SNAPSHOTS) },
    { "pgsink_user_snapshots", "insert user snapshots", ROWS_BIT(ROWS_USERS) },
    { "pgsink_marks", "mark closed and removed items", ROWS_BIT(ROWS_ITEMS) | ROWS_BIT(ROWS_SNAPSHOTS) },
    { "pgsink_catalogs", "upsert catalogs", ROWS_BIT(ROWS_CATALOGS) },
};
#define S_STATEMENTS (sizeof s_statements / sizeof s_statements[0])

/* Growing string for building the items statement. */
typedef struct {
    char *data;
    size_t len, cap;
} s_str_t;

static void s_cat(s_str_t *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void s_cat(s_str_t *s, const char *fmt, ...)
{
    if (!s->data && s->cap)
        return; /* failed before */
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(s->data ? s->data + s->len : NULL, s->data ? s->cap - s->len : 0, fmt,
                          ap);
        va_end(ap);
        if (n < 0)
            return;
        if (s->data && s->len + (size_t) n < s->cap) {
            s->len += (size_t) n;
            return;
        }
        size_t cap = (s->cap ? s->cap : 1024);
        while (cap <= s->len + (size_t) n)
            cap *= 2;
        char *data = realloc(s->data, cap);
        if (!data) {
            free(s->data);
            s->data = NULL;
            s->cap = 1;
            return;
        }
        s->data = data;
        s->cap = cap;
    }
}

/* The items upsert: newest sighting wins every mutable column (ties in
   (seen_at, window_id) take the incoming row), the earliest sets first_*. */
static char *s_build_items_sql(void)
{
#define NEWER "(EXCLUDED.last_seen_at, EXCLUDED.last_window_id) >= (i.last_seen_at, i.last_window_id)"
#define STRICTLY_NEWER "(EXCLUDED.last_seen_at, EXCLUDED.last_window_id) > (i.last_seen_at, i.last_window_id)"
#define TIE "(EXCLUDED.last_seen_at, EXCLUDED.last_window_id) = (i.last_seen_at, i.last_window_id)"
#define OLDER "(EXCLUDED.first_seen_at, EXCLUDED.first_window_id) < (i.first_seen_at, i.first_window_id)"
    s_str_t s = { 0 };
    const char **c;
    s_cat(&s, "INSERT INTO items AS i (item_id");
    for (c = s_item_columns; *c; c++)
        s_cat(&s, ", %s", *c);
    s_cat(&s, ", first_seen_at, last_seen_at, first_window_id, last_window_id) "
              "SELECT DISTINCT ON (item_id) item_id");
    for (c = s_item_columns; *c; c++)
        s_cat(&s, ", %s", *c);
    s_cat(&s, ", min(seen_at) OVER w, seen_at, first_value(window_id) OVER w, window_id "
              "FROM pgsink_items WINDOW w AS (PARTITION BY item_id ORDER BY seen_at, window_id) "
              "ORDER BY item_id, seen_at DESC, window_id DESC, page DESC, pos "
              "ON CONFLICT (item_id) DO UPDATE SET ");
    for (c = s_item_columns; *c; c++)
        s_cat(&s, "%s = CASE WHEN " NEWER " THEN EXCLUDED.%s ELSE i.%s END, ", *c, *c, *c);
    s_cat(&s, "last_window_id = CASE WHEN " NEWER
              " THEN EXCLUDED.last_window_id ELSE i.last_window_id END, "
              "last_seen_at = GREATEST(i.last_seen_at, EXCLUDED.last_seen_at), "
              "first_window_id = CASE WHEN " OLDER
              " THEN EXCLUDED.first_window_id ELSE i.first_window_id END, "
              "first_seen_at = LEAST(i.first_seen_at, EXCLUDED.first_seen_at) "
              "WHERE " STRICTLY_NEWER " OR " OLDER " OR (" TIE " AND (");
    for (c = s_item_columns; *c; c++)
        s_cat(&s, "%sEXCLUDED.%s", c == s_item_columns ? "" : ", ", *c);
    s_cat(&s, ") IS DISTINCT FROM (");
    for (c = s_item_columns; *c; c++)
        s_cat(&s, "%si.%s", c == s_item_columns ? "" : ", ", *c);
    s_cat(&s, "))");
    return s.data;
#undef NEWER
#undef STRICTLY_NEWER
#undef TIE
#undef OLDER
}

/* The tie-break order of a snapshot as a list of expressions on alias t
   (no NULLs in it, so row comparisons are total). */
static void s_cat_order(s_str_t *s, const char *t, const char **order)
{
    for (const char **c = order; *c; c++) {
        const char *sep = c == order ? "" : ", ";
        if (**c == '!')
            s_cat(s, "%s%s.%s IS NULL", sep, t, *c + 1);
        else if (**c == '?')
            s_cat(s, "%s%s.%s IS NULL, coalesce(%s.%s, 0)", sep, t, *c + 1, t, *c + 1);
        else if (**c == '$')
            s_cat(s, "%s%s.%s IS NULL, coalesce(%s.%s, '') COLLATE \"C\"", sep, t, *c + 1, t,
                  *c + 1);
        else
            s_cat(s, "%s%s.%s", sep, t, *c);
    }
}

/* A snapshot insert: one row per (key, run_id), the earliest observation by the
   order above, in staging and against the table. */
static char *s_build_snapshots_sql(const char *table, const char *staging, const char *key,
                                   const char **columns, const char **order)
{
    s_str_t s = { 0 };
    const char **c;
    s_cat(&s, "INSERT INTO %s AS x (%s, run_id", table, key);
    for (c = columns; *c; c++)
        s_cat(&s, ", %s", *c);
    s_cat(&s, ") SELECT DISTINCT ON (%s, run_id) %s, run_id", key, key);
    for (c = columns; *c; c++)
        s_cat(&s, ", %s", *c);
    s_cat(&s, " FROM %s t ORDER BY %s, run_id, ", staging, key);
    s_cat_order(&s, "t", order);
    s_cat(&s, " ON CONFLICT (%s, run_id) DO UPDATE SET ", key);
    for (c = columns; *c; c++)
        s_cat(&s, "%s%s = EXCLUDED.%s", c == columns ? "" : ", ", *c, *c);
    s_cat(&s, " WHERE (");
    s_cat_order(&s, "EXCLUDED", order);
    s_cat(&s, ") < (");
    s_cat_order(&s, "x", order);
    s_cat(&s, ")");
    return s.data;
}

upsert_t *upsert_new(void)
{
    upsert_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->sql_items = s_build_items_sql();
    self->sql_item_snapshots =
        s_build_snapshots_sql("item_snapshots", "pgsink_snapshots", "item_id",
                              s_item_snapshot_columns, s_item_snapshot_order);
    self->sql_user_snapshots =
        s_build_snapshots_sql("user_snapshots", "pgsink_user_snapshots", "user_id",
                              s_user_snapshot_columns, s_user_snapshot_order);
    if (!self->sql_items || !self->sql_item_snapshots || !self->sql_user_snapshots)
        upsert_destroy(&self);
    return self;
}

void upsert_destroy(upsert_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    upsert_t *self = *self_p;
    free(self->sql_items);
    free(self->sql_item_snapshots);
    free(self->sql_user_snapshots);
    free(self);
    *self_p = NULL;
}

const char *upsert_copy_sql(int table)
{
    return s_copy_sql[table];
}

const char *upsert_copy_what(int table)
{
    return s_copy_what[table];
}

/* The SQL of a prepared statement, by its name in s_statements. */
static const char *s_statement_sql(const upsert_t *self, const char *name)
{
    if (strcmp(name, "pgsink_items") == 0)
        return self->sql_items;
    if (strcmp(name, "pgsink_users") == 0)
        return s_users_sql;
    if (strcmp(name, "pgsink_sightings") == 0)
        return s_sightings_sql;
    if (strcmp(name, "pgsink_quarantine") == 0)
        return s_quarantine_sql;
    if (strcmp(name, "pgsink_photos") == 0)
        return s_photos_sql;
    if (strcmp(name, "pgsink_stored") == 0)
        return s_stored_sql;
    if (strcmp(name, "pgsink_item_snapshots") == 0)
        return self->sql_item_snapshots;
    if (strcmp(name, "pgsink_user_snapshots") == 0)
        return self->sql_user_snapshots;
    if (strcmp(name, "pgsink_marks") == 0)
        return s_marks_sql;
    if (strcmp(name, "pgsink_catalogs") == 0)
        return s_catalogs_sql;
    return NULL;
}

pgconn_status_t upsert_prepare(const upsert_t *self, PGconn *conn, char *err, size_t errlen)
{
    pgconn_status_t rc = pgconn_command(conn, s_setup_sql, NULL, "staging tables", err, errlen);
    for (size_t i = 0; rc == PGCONN_OK && i < S_STATEMENTS; i++) {
        PGresult *res = PQprepare(conn, s_statements[i].name,
                                  s_statement_sql(self, s_statements[i].name), 0, NULL);
        if (PQresultStatus(res) != PGRES_COMMAND_OK)
            rc = pgconn_failure(conn, res, s_statements[i].name, err, errlen);
        PQclear(res);
    }
    return rc;
}

pgconn_status_t upsert_apply(PGconn *conn, unsigned staged, char *err, size_t errlen)
{
    pgconn_status_t rc = PGCONN_OK;
    for (size_t i = 0; rc == PGCONN_OK && i < S_STATEMENTS; i++)
        if (staged & s_statements[i].when)
            rc = pgconn_command(conn, NULL, s_statements[i].name, s_statements[i].what, err,
                                errlen);
    return rc;
}

/* -------------------------------------------------------------------------- */
/* Self-test: no database needed. */

void upsert_test(bool verbose)
{
    if (verbose)
        printf(" * upsert: ");
    upsert_t *self = upsert_new();
    assert(self);
    /* the generated statements name every column and the ordering rules */
    assert(strstr(self->sql_items, "INSERT INTO items AS i (item_id, catalog_id, title,"));
    assert(strstr(self->sql_items, "created_at = CASE WHEN (EXCLUDED.last_seen_at,"));
    assert(strstr(self->sql_items, "ORDER BY item_id, seen_at DESC, window_id DESC, page DESC, pos"));
    assert(strstr(self->sql_items, "i.created_at, i.site))"));
    assert(strstr(self->sql_item_snapshots,
                  "INSERT INTO item_snapshots AS x (item_id, run_id, observed_at, user_id, price,"));
    assert(strstr(self->sql_item_snapshots,
                  "ORDER BY item_id, run_id, t.observed_at, t.removed, t.is_closed,"));
    assert(strstr(self->sql_item_snapshots, "t.price IS NULL, coalesce(t.price, 0), "
                                            "t.currency IS NULL, coalesce(t.currency, '') COLLATE \"C\""));
    assert(strstr(self->sql_item_snapshots, "ON CONFLICT (item_id, run_id) DO UPDATE SET "
                                            "observed_at = EXCLUDED.observed_at, user_id ="));
    assert(strstr(self->sql_item_snapshots, " WHERE (EXCLUDED.observed_at, EXCLUDED.removed,"));
    assert(strstr(self->sql_item_snapshots, ") < (x.observed_at, x.removed,"));
    assert(strstr(self->sql_user_snapshots, "ON CONFLICT (user_id, run_id) DO UPDATE SET"));
    assert(strstr(self->sql_user_snapshots, "coalesce(x.feedback_reputation, 0)"));
    for (size_t i = 0; i < S_STATEMENTS; i++)
        assert(s_statement_sql(self, s_statements[i].name));
    assert(s_statement_sql(self, "nope") == NULL);
    assert(strstr(s_catalogs_sql, "ON CONFLICT (catalog_id) DO UPDATE SET parent_id = CASE WHEN"));
    assert(strstr(s_catalogs_sql, "seen_at = GREATEST(c.seen_at, EXCLUDED.seen_at) WHERE"));
    upsert_destroy(&self);
    assert(self == NULL);
    if (verbose)
        printf("OK\n");
}
