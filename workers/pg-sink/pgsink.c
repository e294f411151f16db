/*  pgsink.c - write the sink's tasks into PostgreSQL (see pgsink.h). */
#include "workers/pg-sink/pgsink.h"

#include <assert.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "workers/pg-sink/copy.h"

#define PGSINK_BACKOFF_MIN_MS 1000
#define PGSINK_BACKOFF_MAX_MS 5000 /* a database back from an outage is found within 5 s */
#define PGSINK_TRANSIENT_TRIES 5       /* serialization failures and deadlocks */
#define PGSINK_CHUNK (256 * 1024)      /* bytes per PQputCopyData */

/* Outcome of one transaction attempt. */
typedef enum {
    S_OK = 0,
    S_DATA,      /* the data (or the schema) was refused: retrying will not help */
    S_CONN,      /* the connection or the server failed: reconnect and retry */
    S_TRANSIENT, /* serialization failure or deadlock: retry now */
    S_GAVE_UP,   /* the sleeper said stop */
} s_status_t;

/* The staging buffers, one per staging table. */
enum {
    S_ITEMS,
    S_QUARANTINE,
    S_PHOTOS,
    S_SNAPSHOTS,
    S_USERS,
    S_STORED,
    S_CATALOGS,
    S_NBUF
};
#define S_BIT(buf) (1u << (buf))

struct _pgsink_t {
    char *conninfo;
    PGconn *conn;
    bool ready; /* staging tables created and statements prepared on this connection */
    copy_t *buf[S_NBUF];      /* one task's rows per staging table (checking a task) */
    copy_t *stream;           /* rows on their way to the server, at most PGSINK_CHUNK and a task */
    size_t rows[S_NBUF];      /* rows of the transaction per staging table */
    char *sql_items;          /* the items upsert, built from the column list */
    char *sql_item_snapshots; /* the snapshot inserts, built from their tie-break keys */
    char *sql_user_snapshots;
    pgsink_sleep_fn *sleep_fn;
    void *sleep_arg;
    bool gave_up;
    metrics_series_t *m_transactions, *m_failed, *m_commit_seconds;
    metrics_series_t *m_rows[S_NBUF];
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

/* The COPY of each staging buffer, in the order the columns are encoded. */
static const char *s_copy_sql[S_NBUF] = {
    [S_ITEMS] = "COPY pgsink_items (window_id, page, pos, item_id, catalog_id, title, price,"
                " currency, service_fee, total_price, brand, size_title, size_kind, size_value,"
                " condition, user_id, user_login, url, photo_url, favourite_count, view_count,"
                " promoted, created_at, seen_at, null_mask, site) FROM STDIN",
    [S_QUARANTINE] = "COPY pgsink_quarantine (window_id, target_id, page, pos, rule, detail, raw,"
                     " seen_at) FROM STDIN",
    [S_PHOTOS] = "COPY pgsink_photos (item_id, photo_id, url, is_main, position, seen_at)"
                 " FROM STDIN",
    [S_SNAPSHOTS] = "COPY pgsink_snapshots (item_id, run_id, observed_at, user_id, price,"
                    " currency, favourite_count, view_count, is_reserved, is_hidden, is_closed,"
                    " closing_action, removed) FROM STDIN",
    [S_USERS] = "COPY pgsink_user_snapshots (user_id, run_id, observed_at, login, item_count,"
                " feedback_count, feedback_reputation, positive_feedback_count,"
                " neutral_feedback_count, negative_feedback_count, followers_count, city,"
                " country) FROM STDIN",
    [S_STORED] = "COPY pgsink_stored (item_id, photo_id, object_key, bytes, content_type,"
                 " sha256) FROM STDIN",
    [S_CATALOGS] = "COPY pgsink_catalogs (catalog_id, parent_id, title, code, url, depth, seen_at)"
                   " FROM STDIN",
};
static const char *s_copy_what[S_NBUF] = {
    [S_ITEMS] = "copy items",         [S_QUARANTINE] = "copy quarantine",
    [S_PHOTOS] = "copy photos",       [S_SNAPSHOTS] = "copy item snapshots",
    [S_USERS] = "copy user snapshots", [S_STORED] = "copy stored photos",
    [S_CATALOGS] = "copy catalogs",
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
    unsigned when;    /* S_BIT()s of the buffers it reads */
} s_statement_t;

static const s_statement_t s_statements[] = {
    { "pgsink_items", "upsert items", S_BIT(S_ITEMS) },
    { "pgsink_users", "upsert users", S_BIT(S_ITEMS) },
    { "pgsink_sightings", "insert sightings", S_BIT(S_ITEMS) },
    { "pgsink_quarantine", "insert quarantine", S_BIT(S_QUARANTINE) },
    { "pgsink_photos", "upsert photos", S_BIT(S_PHOTOS) },
    { "pgsink_stored", "record stored photos", S_BIT(S_STORED) },
    { "pgsink_item_snapshots", "insert item snapshots", S_BIT(S_SNAPSHOTS) },
    { "pgsink_user_snapshots", "insert user snapshots", S_BIT(S_USERS) },
    { "pgsink_marks", "mark closed and removed items", S_BIT(S_ITEMS) | S_BIT(S_SNAPSHOTS) },
    { "pgsink_catalogs", "upsert catalogs", S_BIT(S_CATALOGS) },
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

static int s_default_sleep(void *arg, int64_t ms)
{
    (void) arg;
    clock_sleep_ms(ms);
    return 0;
}

pgsink_t *pgsink_new(const char *conninfo)
{
    pgsink_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->conninfo = strdup(conninfo ? conninfo : "");
    bool ok = self->conninfo != NULL;
    for (int i = 0; i < S_NBUF; i++)
        ok = (self->buf[i] = copy_new()) != NULL && ok;
    ok = (self->stream = copy_new()) != NULL && ok;
    self->sql_items = s_build_items_sql();
    self->sql_item_snapshots =
        s_build_snapshots_sql("item_snapshots", "pgsink_snapshots", "item_id",
                              s_item_snapshot_columns, s_item_snapshot_order);
    self->sql_user_snapshots =
        s_build_snapshots_sql("user_snapshots", "pgsink_user_snapshots", "user_id",
                              s_user_snapshot_columns, s_user_snapshot_order);
    self->sleep_fn = s_default_sleep;
    if (!ok || !self->sql_items || !self->sql_item_snapshots || !self->sql_user_snapshots)
        pgsink_destroy(&self);
    return self;
}

void pgsink_destroy(pgsink_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    pgsink_t *self = *self_p;
    if (self->conn)
        PQfinish(self->conn);
    for (int i = 0; i < S_NBUF; i++)
        copy_destroy(&self->buf[i]);
    copy_destroy(&self->stream);
    free(self->sql_items);
    free(self->sql_item_snapshots);
    free(self->sql_user_snapshots);
    free(self->conninfo);
    free(self);
    *self_p = NULL;
}

void pgsink_set_sleeper(pgsink_t *self, pgsink_sleep_fn *fn, void *arg)
{
    self->sleep_fn = fn ? fn : s_default_sleep;
    self->sleep_arg = fn ? arg : NULL;
}

bool pgsink_gave_up(const pgsink_t *self)
{
    return self->gave_up;
}

/* libpq's text without its trailing newline and with inner newlines as spaces. */
static void s_oneline(char *out, size_t outlen, const char *text)
{
    snprintf(out, outlen, "%s", text ? text : "");
    for (char *p = out; *p; p++)
        if (*p == '\n' || *p == '\r' || *p == '\t')
            *p = ' ';
    size_t len = strlen(out);
    while (len > 0 && out[len - 1] == ' ')
        out[--len] = 0;
}

static void s_notice(void *arg, const char *message)
{
    (void) arg;
    char text[512];
    s_oneline(text, sizeof text, message);
    log_debug("postgres notice", "text=%s", log_str(text));
}

static void s_disconnect(pgsink_t *self)
{
    if (self->conn)
        PQfinish(self->conn);
    self->conn = NULL;
    self->ready = false;
}

int pgsink_connect(pgsink_t *self)
{
    if (self->conn && PQstatus(self->conn) == CONNECTION_OK)
        return 0;
    s_disconnect(self);
    /* later entries override earlier ones: the caller's string wins over our defaults */
    const char *keys[6];
    const char *values[6];
    int n = 0;
    if (!getenv("PGCONNECT_TIMEOUT")) {
        keys[n] = "connect_timeout";
        values[n++] = "10";
    }
    /* no GSSAPI encryption unless asked for (gssencmode in VINTED_PG, or PGGSSENCMODE):
       trying it sets up Kerberos, half a megabyte of the sink's memory for nothing on
       the usual password or TLS connection */
    if (!getenv("PGGSSENCMODE")) {
        keys[n] = "gssencmode";
        values[n++] = "disable";
    }
    keys[n] = "fallback_application_name";
    values[n++] = "vinted-pg-sink";
    if (*self->conninfo) {
        keys[n] = "dbname";
        values[n++] = self->conninfo;
    }
    keys[n] = NULL;
    values[n] = NULL;
    self->conn = PQconnectdbParams(keys, values, 1);
    if (!self->conn) {
        log_warn("database connection failed", "error=%s", log_str("out of memory"));
        return -1;
    }
    if (PQstatus(self->conn) != CONNECTION_OK) {
        char text[512];
        s_oneline(text, sizeof text, PQerrorMessage(self->conn));
        log_warn("database connection failed", "error=%s", log_str(text));
        s_disconnect(self);
        return -1;
    }
    PQsetNoticeProcessor(self->conn, s_notice, NULL);
    if (PQsetClientEncoding(self->conn, "UTF8") != 0) {
        log_warn("database connection failed", "error=%s", log_str("cannot set UTF8"));
        s_disconnect(self);
        return -1;
    }
    log_info("database connected", "server_version=%d db=%s", PQserverVersion(self->conn),
             log_str(PQdb(self->conn)));
    return 0;
}

PGconn *pgsink_conn(pgsink_t *self)
{
    return self->conn && PQstatus(self->conn) == CONNECTION_OK ? self->conn : NULL;
}

/* Classify a failed result and describe it in err. */
static s_status_t s_failure(pgsink_t *self, PGresult *res, const char *what, char *err,
                            size_t errlen)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    const char *detail = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL) : NULL;
    const char *context = res ? PQresultErrorField(res, PG_DIAG_CONTEXT) : NULL;
    char text[1024];
    if (primary)
        snprintf(text, sizeof text, "%s: %s%s%s%s [%s]%s%s", what, primary,
                 detail ? " (" : "", detail ? detail : "", detail ? ")" : "",
                 state ? state : "?", context ? " at " : "", context ? context : "");
    else
        snprintf(text, sizeof text, "%s: %s", what, PQerrorMessage(self->conn));
    s_oneline(err, errlen, text);
    if (PQstatus(self->conn) != CONNECTION_OK || !state)
        return PQstatus(self->conn) != CONNECTION_OK ? S_CONN : S_DATA;
    /* 08: connection exception; 57P: server shutting down; 53: out of resources */
    if (strncmp(state, "08", 2) == 0 || strncmp(state, "57P", 3) == 0 ||
        strncmp(state, "53", 2) == 0)
        return S_CONN;
    if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0)
        return S_TRANSIENT;
    return S_DATA;
}

/* Run a statement (simple or prepared) that returns no rows. */
static s_status_t s_command(pgsink_t *self, const char *sql, const char *prepared,
                            const char *what, char *err, size_t errlen)
{
    PGresult *res = prepared ? PQexecPrepared(self->conn, prepared, 0, NULL, NULL, NULL, 0)
                             : PQexec(self->conn, sql);
    s_status_t rc = S_OK;
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        rc = s_failure(self, res, what, err, errlen);
    PQclear(res);
    return rc;
}

/* The SQL of a prepared statement, by its name in s_statements. */
static const char *s_statement_sql(const pgsink_t *self, const char *name)
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

/* Create the staging tables and prepare the statements on a fresh connection. */
static s_status_t s_setup(pgsink_t *self, char *err, size_t errlen)
{
    s_status_t rc = s_command(self, s_setup_sql, NULL, "staging tables", err, errlen);
    for (size_t i = 0; rc == S_OK && i < S_STATEMENTS; i++) {
        PGresult *res = PQprepare(self->conn, s_statements[i].name,
                                  s_statement_sql(self, s_statements[i].name), 0, NULL);
        if (PQresultStatus(res) != PGRES_COMMAND_OK)
            rc = s_failure(self, res, s_statements[i].name, err, errlen);
        PQclear(res);
    }
    self->ready = rc == S_OK;
    return rc;
}

/* The batch's position, for refusal reasons. */
#define S_WHERE "window %" PRId64 " page %d"

/* Encode the rows of one staging table (S_ITEMS ...) of a batch into c. -1 with a
   reason if they cannot be stored. */
static int s_encode_batch(const proto_batch_t *b, int table, copy_t *c, char *err, size_t errlen)
{
    for (size_t i = 0; table == S_ITEMS && i < b->n_items; i++) {
        const proto_item_t *it = &b->items[i];
        int64_t seen = it->first_seen_at_ms > 0 ? it->first_seen_at_ms : b->fetched_at_ms;
        if (it->item_id <= 0) {
            snprintf(err, errlen, "window %" PRId64 " page %d pos %d: item without a valid id",
                     b->window_id, b->page, it->pos);
            return -1;
        }
        if (seen <= 0) {
            snprintf(err, errlen, "window %" PRId64 " page %d item %" PRId64 ": no fetch time",
                     b->window_id, b->page, it->item_id);
            return -1;
        }
        copy_int(c, b->window_id);
        copy_int(c, b->page);
        copy_int(c, it->pos);
        copy_int(c, it->item_id);
        int32_t catalog = it->catalog_id > 0 ? it->catalog_id : b->catalog_id;
        copy_int(c, catalog > 0 ? catalog : PROTO_NULL);
        copy_text(c, it->title);
        copy_money(c, it->price);
        copy_text(c, it->currency);
        copy_money(c, it->service_fee);
        copy_money(c, it->total_price);
        copy_text(c, it->brand);
        copy_text(c, it->size_title);
        copy_text(c, it->size_kind);
        copy_text(c, it->size_value);
        copy_text(c, it->condition);
        copy_int(c, it->user_id);
        copy_text(c, it->user_login);
        copy_text(c, it->url);
        copy_text(c, it->photo_url);
        copy_int(c, it->favourite_count);
        copy_int(c, it->view_count);
        copy_bool(c, it->promoted);
        if (copy_time_s(c, it->created_at) != 0) {
            snprintf(err, errlen,
                     "window %" PRId64 " page %d item %" PRId64 ": created_at %" PRId64
                     " out of range",
                     b->window_id, b->page, it->item_id, it->created_at);
            return -1;
        }
        if (copy_time_ms(c, seen) != 0) {
            snprintf(err, errlen,
                     "window %" PRId64 " page %d item %" PRId64 ": fetch time %" PRId64
                     " out of range",
                     b->window_id, b->page, it->item_id, seen);
            return -1;
        }
        copy_int(c, (int64_t) proto_item_null_mask(it));
        copy_text(c, b->site);
        copy_row_end(c);
    }
    for (size_t i = 0; table == S_QUARANTINE && i < b->n_quarantine; i++) {
        const proto_quarantine_t *q = &b->quarantine[i];
        if (!q->rule || !*q->rule) {
            snprintf(err, errlen, "window %" PRId64 " page %d pos %d: quarantine record without rule",
                     b->window_id, b->page, q->pos);
            return -1;
        }
        copy_int(c, b->window_id);
        copy_int(c, b->target_id == PROTO_NULL ? 0 : b->target_id);
        copy_int(c, b->page);
        copy_int(c, q->pos);
        copy_text(c, q->rule);
        copy_text(c, q->detail);
        copy_bytea(c, q->raw, q->raw_len);
        if (b->fetched_at_ms <= 0 || copy_time_ms(c, b->fetched_at_ms) != 0) {
            snprintf(err, errlen, "window %" PRId64 " page %d: fetch time %" PRId64 " invalid",
                     b->window_id, b->page, b->fetched_at_ms);
            return -1;
        }
        copy_row_end(c);
    }
    bool fetched = b->fetched_at_ms > 0 && b->fetched_at_ms != PROTO_NULL;
    bool rows = (table == S_PHOTOS && b->n_photos) || (table == S_SNAPSHOTS && b->n_snapshots) ||
                (table == S_USERS && b->n_users) || (table == S_CATALOGS && b->n_catalogs);
    if (rows && !fetched) {
        snprintf(err, errlen, S_WHERE ": fetch time %" PRId64 " invalid", b->window_id, b->page,
                 b->fetched_at_ms);
        return -1;
    }
    for (size_t i = 0; table == S_PHOTOS && i < b->n_photos; i++) {
        const proto_photo_t *p = &b->photos[i];
        const char *why = p->item_id <= 0 || p->photo_id <= 0 ? "without a valid id"
                          : !p->url                           ? "without url"
                          : p->position < 0                   ? "with a negative position"
                                                              : NULL;
        if (why) {
            snprintf(err, errlen, S_WHERE ": photo %" PRId64 " of item %" PRId64 " %s",
                     b->window_id, b->page, p->photo_id, p->item_id, why);
            return -1;
        }
        copy_int(c, p->item_id);
        copy_int(c, p->photo_id);
        copy_text(c, p->url);
        copy_bool(c, p->is_main);
        copy_int(c, p->position);
        if (copy_time_ms(c, b->fetched_at_ms) != 0) {
            snprintf(err, errlen, S_WHERE ": fetch time %" PRId64 " out of range", b->window_id,
                     b->page, b->fetched_at_ms);
            return -1;
        }
        copy_row_end(c);
    }
    for (size_t i = 0; table == S_SNAPSHOTS && i < b->n_snapshots; i++) {
        const proto_snapshot_t *s = &b->snapshots[i];
        if (s->item_id <= 0) {
            snprintf(err, errlen, S_WHERE ": snapshot %zu without a valid item id", b->window_id,
                     b->page, i);
            return -1;
        }
        copy_int(c, s->item_id);
        copy_int(c, b->window_id);
        if (copy_time_ms(c, b->fetched_at_ms) != 0) {
            snprintf(err, errlen, S_WHERE ": fetch time %" PRId64 " out of range", b->window_id,
                     b->page, b->fetched_at_ms);
            return -1;
        }
        copy_int(c, s->user_id);
        copy_money(c, s->price);
        copy_text(c, s->currency);
        copy_int(c, s->favourite_count);
        copy_int(c, s->view_count);
        copy_bool(c, s->is_reserved);
        copy_bool(c, s->is_hidden);
        copy_bool(c, s->is_closed);
        copy_text(c, s->closing_action);
        copy_bool(c, s->removed);
        copy_row_end(c);
    }
    for (size_t i = 0; table == S_USERS && i < b->n_users; i++) {
        const proto_user_snapshot_t *u = &b->users[i];
        if (u->user_id <= 0) {
            snprintf(err, errlen, S_WHERE ": user snapshot %zu without a valid user id",
                     b->window_id, b->page, i);
            return -1;
        }
        /* a fraction in thousandths: 0.973 -> 973 */
        if (u->feedback_reputation != PROTO_NULL &&
            (u->feedback_reputation < 0 || u->feedback_reputation > 1000)) {
            snprintf(err, errlen,
                     S_WHERE ": user %" PRId64 ": feedback_reputation %" PRId64
                     " thousandths outside 0..1000",
                     b->window_id, b->page, u->user_id, u->feedback_reputation);
            return -1;
        }
        copy_int(c, u->user_id);
        copy_int(c, b->window_id);
        if (copy_time_ms(c, b->fetched_at_ms) != 0) {
            snprintf(err, errlen, S_WHERE ": fetch time %" PRId64 " out of range", b->window_id,
                     b->page, b->fetched_at_ms);
            return -1;
        }
        copy_text(c, u->login);
        copy_int(c, u->item_count);
        copy_int(c, u->feedback_count);
        copy_scaled(c, u->feedback_reputation, 3);
        copy_int(c, u->positive_feedback_count);
        copy_int(c, u->neutral_feedback_count);
        copy_int(c, u->negative_feedback_count);
        copy_int(c, u->followers_count);
        copy_text(c, u->city);
        copy_text(c, u->country);
        copy_row_end(c);
    }
    for (size_t i = 0; table == S_CATALOGS && i < b->n_catalogs; i++) {
        const proto_catalog_t *k = &b->catalogs[i];
        const char *why = k->catalog_id <= 0             ? "without a valid id"
                          : !k->title || !*k->title      ? "without a title"
                          : k->parent_id < 0             ? "with a negative parent id"
                          : k->parent_id == k->catalog_id ? "that is its own parent"
                          : k->depth < 0                 ? "with a negative depth"
                                                         : NULL;
        if (why) {
            snprintf(err, errlen, S_WHERE ": catalog %zu (id %d) %s", b->window_id, b->page, i,
                     (int) k->catalog_id, why);
            return -1;
        }
        copy_int(c, k->catalog_id);
        copy_int(c, k->parent_id > 0 ? k->parent_id : PROTO_NULL);
        copy_text(c, k->title);
        copy_text(c, k->code);
        copy_text(c, k->url);
        copy_int(c, k->depth);
        if (copy_time_ms(c, b->fetched_at_ms) != 0) {
            snprintf(err, errlen, S_WHERE ": fetch time %" PRId64 " out of range", b->window_id,
                     b->page, b->fetched_at_ms);
            return -1;
        }
        copy_row_end(c);
    }
    return 0;
}

/* True if s is NULL or 64 lowercase hex digits. */
static bool s_sha256_ok(const char *s)
{
    if (!s)
        return true;
    size_t n = 0;
    for (; s[n]; n++)
        if (!((s[n] >= '0' && s[n] <= '9') || (s[n] >= 'a' && s[n] <= 'f')))
            return false;
    return n == 64;
}

/* Encode one stored photo. -1 with a reason if it cannot be recorded. */
static int s_encode_photo(const proto_photo_stored_t *p, copy_t *c, char *err, size_t errlen)
{
    const char *why = p->item_id <= 0 || p->photo_id <= 0          ? "without a valid id"
                      : !p->key || !*p->key                        ? "without an object key"
                      : p->bytes < 0 && p->bytes != PROTO_NULL     ? "with a negative size"
                      : !s_sha256_ok(p->sha256) ? "with a sha256 that is not 64 hex digits"
                                                : NULL;
    if (why) {
        snprintf(err, errlen,
                 "window %" PRId64 ": stored photo %" PRId64 " of item %" PRId64 " %s",
                 p->window_id, p->photo_id, p->item_id, why);
        return -1;
    }
    copy_int(c, p->item_id);
    copy_int(c, p->photo_id);
    copy_text(c, p->key);
    copy_int(c, p->bytes);
    copy_text(c, p->content_type);
    copy_text(c, p->sha256);
    copy_row_end(c);
    return 0;
}

/* Encode a task's rows of one staging table into c. -1 with a reason if they cannot
   be stored. */
static int s_encode_rows(const proto_msg_t *task, int table, copy_t *c, char *err, size_t errlen)
{
    int rc;
    if (task->cmd == PROTO_TASK && task->body == PROTO_BODY_BATCH)
        rc = s_encode_batch(&task->u.batch, table, c, err, errlen);
    else if (task->cmd == PROTO_TASK && task->body == PROTO_BODY_PHOTO)
        rc = table == S_STORED ? s_encode_photo(&task->u.photo, c, err, errlen) : 0;
    else {
        snprintf(err, errlen, "the sink takes a batch or a stored photo, not %s with body %d",
                 proto_cmd_name(task->cmd), (int) task->body);
        return -1;
    }
    if (rc == 0 && !copy_ok(c)) {
        snprintf(err, errlen, "task %" PRIu64 ": out of memory encoding", task->task_id);
        rc = -1;
    }
    return rc;
}

/* Encode one task into the staging buffers, every table (adds to what they hold).
   -1 with a reason if it cannot be stored. */
static int s_encode(pgsink_t *self, const proto_msg_t *task, char *err, size_t errlen)
{
    for (int t = 0; t < S_NBUF; t++)
        if (s_encode_rows(task, t, self->buf[t], err, errlen) != 0)
            return -1;
    return 0;
}

/* Check every task before the database is asked anything (a bad one is refused at
   once, connected or not) and count the rows of each staging table. */
static int s_check(pgsink_t *self, proto_msg_t **tasks, size_t n, char *err, size_t errlen)
{
    memset(self->rows, 0, sizeof self->rows);
    for (size_t i = 0; i < n; i++) {
        for (int t = 0; t < S_NBUF; t++)
            copy_reset(self->buf[t]);
        if (s_encode(self, tasks[i], err, errlen) != 0)
            return -1;
        for (int t = 0; t < S_NBUF; t++)
            self->rows[t] += copy_rows(self->buf[t]);
    }
    for (int t = 0; t < S_NBUF; t++)
        copy_reset(self->buf[t]);
    return 0;
}

/* COPY one staging table's rows of every task, encoded as they go: memory holds one
   chunk, not the whole transaction (the sink stays small whatever the batch). */
static s_status_t s_copy(pgsink_t *self, int table, proto_msg_t **tasks, size_t n, char *err,
                         size_t errlen)
{
    const char *what = s_copy_what[table];
    PGresult *res = PQexec(self->conn, s_copy_sql[table]);
    if (PQresultStatus(res) != PGRES_COPY_IN) {
        s_status_t rc = s_failure(self, res, what, err, errlen);
        PQclear(res);
        return rc == S_OK ? S_DATA : rc;
    }
    PQclear(res);
    copy_t *c = self->stream;
    copy_reset(c);
    bool sent = true;
    const char *refused = NULL;
    for (size_t i = 0; sent && !refused && i <= n; i++) {
        if (i < n && s_encode_rows(tasks[i], table, c, err, errlen) != 0)
            refused = err; /* checked before: only memory can run out here */
        else if (copy_size(c) >= PGSINK_CHUNK || (i == n && copy_size(c) > 0)) {
            sent = PQputCopyData(self->conn, copy_data(c), (int) copy_size(c)) == 1;
            copy_reset(c);
        }
    }
    if (PQputCopyEnd(self->conn, !sent ? "client failed to send" : refused ? "client refused a row" : NULL) != 1)
        sent = false;
    s_status_t rc = S_OK;
    while ((res = PQgetResult(self->conn)) != NULL) {
        if (rc == S_OK && PQresultStatus(res) != PGRES_COMMAND_OK && !refused)
            rc = s_failure(self, res, what, err, errlen);
        PQclear(res);
        if (PQstatus(self->conn) != CONNECTION_OK)
            break;
    }
    if (refused)
        return sent ? S_DATA : S_CONN;
    if (rc == S_OK && !sent)
        rc = s_failure(self, NULL, what, err, errlen);
    return rc == S_OK && !sent ? S_CONN : rc;
}

/* One attempt at the transaction of checked tasks. */
static s_status_t s_attempt(pgsink_t *self, proto_msg_t **tasks, size_t n, char *err, size_t errlen)
{
    s_status_t rc = s_command(self, "BEGIN", NULL, "begin", err, errlen);
    unsigned staged = 0;
    for (int i = 0; i < S_NBUF; i++)
        if (self->rows[i] > 0)
            staged |= S_BIT(i);
    for (int i = 0; rc == S_OK && i < S_NBUF; i++)
        if (staged & S_BIT(i))
            rc = s_copy(self, i, tasks, n, err, errlen);
    for (size_t i = 0; rc == S_OK && i < S_STATEMENTS; i++)
        if (staged & s_statements[i].when)
            rc = s_command(self, NULL, s_statements[i].name, s_statements[i].what, err, errlen);
    if (rc == S_OK) {
        PGresult *res = PQexec(self->conn, "COMMIT");
        if (PQresultStatus(res) != PGRES_COMMAND_OK)
            rc = s_failure(self, res, "commit", err, errlen);
        else if (strcmp(PQcmdStatus(res), "COMMIT") != 0) {
            snprintf(err, errlen, "commit: the transaction was rolled back");
            rc = S_DATA;
        }
        PQclear(res);
        return rc;
    }
    if (PQstatus(self->conn) == CONNECTION_OK &&
        PQtransactionStatus(self->conn) != PQTRANS_IDLE) {
        char ignored[256];
        s_command(self, "ROLLBACK", NULL, "rollback", ignored, sizeof ignored);
    }
    return rc;
}

/* Check, then run the transaction until it commits, fails on the data, or the
   sleeper gives up. */
static s_status_t s_transact(pgsink_t *self, proto_msg_t **tasks, size_t n, char *err,
                             size_t errlen)
{
    if (s_check(self, tasks, n, err, errlen) != 0)
        return S_DATA;
    int64_t delay = 0;
    int transient = 0;
    for (;;) {
        if (!pgsink_conn(self)) {
            if (delay > 0) {
                log_info("database reconnect", "in_ms=%" PRId64, delay);
                if (self->sleep_fn(self->sleep_arg, delay) != 0) {
                    snprintf(err, errlen, "gave up waiting for the database");
                    return S_GAVE_UP;
                }
            }
            delay = delay ? (delay * 2 > PGSINK_BACKOFF_MAX_MS ? PGSINK_BACKOFF_MAX_MS : delay * 2)
                          : PGSINK_BACKOFF_MIN_MS;
            if (pgsink_connect(self) != 0)
                continue;
        }
        s_status_t rc = self->ready ? S_OK : s_setup(self, err, errlen);
        if (rc == S_OK)
            rc = s_attempt(self, tasks, n, err, errlen);
        if (rc == S_OK || rc == S_DATA)
            return rc;
        if (rc == S_TRANSIENT) {
            if (++transient > PGSINK_TRANSIENT_TRIES)
                return S_DATA;
            log_warn("transaction conflict, retrying", "error=%s", log_str(err));
            if (self->sleep_fn(self->sleep_arg, 50 * transient) != 0) {
                snprintf(err, errlen, "gave up retrying a conflict");
                return S_GAVE_UP;
            }
            continue;
        }
        log_warn("database connection lost", "error=%s", log_str(err));
        s_disconnect(self);
    }
}

void pgsink_set_metrics(pgsink_t *self, metrics_t *m)
{
    /* the table each staging buffer ends in */
    static const char *const tables[S_NBUF] = {
        [S_ITEMS] = "items",           [S_QUARANTINE] = "quarantine", [S_PHOTOS] = "photos",
        [S_SNAPSHOTS] = "item_snapshots", [S_USERS] = "user_snapshots", [S_STORED] = "photos_stored",
        [S_CATALOGS] = "catalogs",
    };
    self->m_transactions = metrics_counter(m, "vinted_sink_transactions_total", "Transactions committed");
    self->m_failed = metrics_counter(m, "vinted_sink_transactions_failed_total",
                                     "Transactions not committed (refused data, or gave up waiting for the database)");
    self->m_commit_seconds = metrics_histogram(m, "vinted_sink_commit_seconds",
                                               "Time of one transaction, from encoding to COMMIT, reconnects included",
                                               metrics_latency_buckets, metrics_latency_buckets_n);
    metrics_family_t *rows = metrics_family(m, METRICS_COUNTER, "vinted_sink_rows_total",
                                            "Rows written in committed transactions, by table (items: item rows "
                                            "staged, duplicates within a batch included)", "table", NULL, 0);
    for (int i = 0; i < S_NBUF; i++)
        self->m_rows[i] = metrics_series(rows, tables[i]);
}

int pgsink_write(pgsink_t *self, proto_msg_t **tasks, size_t n, char *err, size_t errlen)
{
    self->gave_up = false;
    if (n == 0)
        return 0;
    int64_t start = clock_mono_ms();
    s_status_t rc = s_transact(self, tasks, n, err, errlen);
    if (rc == S_OK) {
        log_debug("transaction committed",
                  "tasks=%zu items=%zu quarantined=%zu photos=%zu snapshots=%zu users=%zu"
                  " stored=%zu catalogs=%zu ms=%" PRId64,
                  n, self->rows[S_ITEMS], self->rows[S_QUARANTINE], self->rows[S_PHOTOS],
                  self->rows[S_SNAPSHOTS], self->rows[S_USERS], self->rows[S_STORED],
                  self->rows[S_CATALOGS], clock_mono_ms() - start);
        metrics_inc(self->m_transactions);
        metrics_observe(self->m_commit_seconds, (double) (clock_mono_ms() - start) / 1000.0);
        for (int i = 0; i < S_NBUF; i++)
            metrics_add(self->m_rows[i], (double) self->rows[i]);
        return 0;
    }
    metrics_inc(self->m_failed);
    self->gave_up = rc == S_GAVE_UP;
    return -1;
}

int pgsink_write_each(pgsink_t *self, proto_msg_t **tasks, size_t n, pgsink_done_fn *done,
                      void *arg)
{
    char err[1024];
    if (n == 0)
        return 0;
    if (pgsink_write(self, tasks, n, err, sizeof err) == 0) {
        for (size_t i = 0; i < n; i++)
            done(arg, i, NULL);
        return 0;
    }
    if (self->gave_up)
        return -1;
    if (n > 1)
        log_warn("transaction refused, writing tasks one by one", "tasks=%zu error=%s", n,
                 log_str(err));
    for (size_t i = 0; i < n; i++) {
        if (n == 1 || pgsink_write(self, &tasks[i], 1, err, sizeof err) != 0) {
            if (self->gave_up)
                return -1;
            log_warn("task refused", "task=%" PRIu64 " body=%d error=%s", tasks[i]->task_id,
                     (int) tasks[i]->body, log_str(err));
            done(arg, i, err);
        } else
            done(arg, i, NULL);
    }
    return 0;
}

/* -------------------------------------------------------------------------- */
/* Self-test: no database needed. */

typedef struct {
    size_t calls;
    size_t failed;
    char last[256];
} s_outcome_t;

static void s_test_done(void *arg, size_t index, const char *error)
{
    s_outcome_t *o = arg;
    (void) index;
    o->calls++;
    if (error) {
        o->failed++;
        snprintf(o->last, sizeof o->last, "%s", error);
    }
}

static int s_test_give_up(void *arg, int64_t ms)
{
    (void) ms;
    int *calls = arg;
    (*calls)++;
    return -1;
}

static void s_test_item(proto_item_t *it, int64_t id, int32_t pos)
{
    memset(it, 0, sizeof *it);
    it->item_id = id;
    it->price = 1999;
    it->service_fee = PROTO_NULL;
    it->total_price = PROTO_NULL;
    it->user_id = PROTO_NULL;
    it->favourite_count = PROTO_NULL;
    it->view_count = PROTO_NULL;
    it->created_at = PROTO_NULL;
    it->first_seen_at_ms = PROTO_NULL;
    it->pos = pos;
}

/* A TASK message wrapping a batch or a stored photo, on the stack (never destroyed). */
static proto_msg_t s_test_task(proto_body_t body, const void *payload)
{
    proto_msg_t m = { .cmd = PROTO_TASK, .task_id = 1, .body = body };
    if (body == PROTO_BODY_BATCH)
        m.u.batch = *(const proto_batch_t *) payload;
    else if (body == PROTO_BODY_PHOTO)
        m.u.photo = *(const proto_photo_stored_t *) payload;
    return m;
}

/* Encode one task from empty buffers. */
static int s_test_encode(pgsink_t *sink, proto_body_t body, const void *payload, char *err,
                         size_t errlen)
{
    for (int i = 0; i < S_NBUF; i++)
        copy_reset(sink->buf[i]);
    proto_msg_t m = s_test_task(body, payload);
    return s_encode(sink, &m, err, errlen);
}

void pgsink_test(bool verbose)
{
    if (verbose)
        printf(" * pgsink: ");
    pgsink_t *sink = pgsink_new(NULL);
    assert(sink);
    assert(pgsink_conn(sink) == NULL);
    /* the generated statements name every column and the ordering rules */
    assert(strstr(sink->sql_items, "INSERT INTO items AS i (item_id, catalog_id, title,"));
    assert(strstr(sink->sql_items, "created_at = CASE WHEN (EXCLUDED.last_seen_at,"));
    assert(strstr(sink->sql_items, "ORDER BY item_id, seen_at DESC, window_id DESC, page DESC, pos"));
    assert(strstr(sink->sql_items, "i.created_at, i.site))"));
    assert(strstr(sink->sql_item_snapshots,
                  "INSERT INTO item_snapshots AS x (item_id, run_id, observed_at, user_id, price,"));
    assert(strstr(sink->sql_item_snapshots,
                  "ORDER BY item_id, run_id, t.observed_at, t.removed, t.is_closed,"));
    assert(strstr(sink->sql_item_snapshots, "t.price IS NULL, coalesce(t.price, 0), "
                                            "t.currency IS NULL, coalesce(t.currency, '') COLLATE \"C\""));
    assert(strstr(sink->sql_item_snapshots, "ON CONFLICT (item_id, run_id) DO UPDATE SET "
                                            "observed_at = EXCLUDED.observed_at, user_id ="));
    assert(strstr(sink->sql_item_snapshots, " WHERE (EXCLUDED.observed_at, EXCLUDED.removed,"));
    assert(strstr(sink->sql_item_snapshots, ") < (x.observed_at, x.removed,"));
    assert(strstr(sink->sql_user_snapshots, "ON CONFLICT (user_id, run_id) DO UPDATE SET"));
    assert(strstr(sink->sql_user_snapshots, "coalesce(x.feedback_reputation, 0)"));
    for (size_t i = 0; i < S_STATEMENTS; i++)
        assert(s_statement_sql(sink, s_statements[i].name));
    assert(s_statement_sql(sink, "nope") == NULL);

    /* a batch with awkward text encodes to one row per item and quarantine record */
    proto_item_t items[2];
    s_test_item(&items[0], 7001, 0);
    items[0].title = "Vestido\t\"azul\"\n\\ 👗";
    items[0].currency = "EUR";
    items[0].user_id = 42;
    items[0].user_login = "ana";
    items[0].created_at = 1795628800;
    items[0].promoted = true;
    s_test_item(&items[1], 7002, 1);
    items[1].price = PROTO_NULL;
    items[1].first_seen_at_ms = 1795628806999LL;
    uint8_t raw[] = "{\"id\":null}";
    proto_quarantine_t quarantine[1] = { { 2, "id_missing", "no id", raw, sizeof raw - 1 } };
    proto_photo_t photos[2] = { { 7001, 91, "https://cdn/t/a/f800/1.webp?s=x\ty", true, 0 },
                                { 7001, 92, "https://cdn/t/b/f800/2.webp", false, 1 } };
    proto_batch_t batch = { .window_id = 12, .catalog_id = 221, .page = 3, .attempt = 0,
                            .fetched_at_ms = 1795628806123LL, .n_items = 2, .items = items,
                            .n_quarantine = 1, .quarantine = quarantine, .n_photos = 2,
                            .photos = photos };
    char err[256] = "";
    assert(s_test_encode(sink, PROTO_BODY_BATCH, &batch, err, sizeof err) == 0);
    assert(copy_rows(sink->buf[S_ITEMS]) == 2 && copy_rows(sink->buf[S_QUARANTINE]) == 1);
    const char *data = copy_data(sink->buf[S_ITEMS]);
    const char *first = "12\t3\t0\t7001\t221\tVestido\\t\"azul\"\\n\\\\ 👗\t19.99\tEUR\t\\N\t\\N\t";
    assert(strncmp(data, first, strlen(first)) == 0);
    assert(strstr(data, "\t42\tana\t"));
    assert(strstr(data, "\tt\t2026-11-25 17:46:40+00\t2026-11-25 17:46:46.123+00\t"));
    assert(strstr(data, "\n12\t3\t1\t7002\t221\t\\N\t\\N\t"));
    assert(strstr(data, "\tf\t\\N\t2026-11-25 17:46:46.999+00\t"));
    assert(strncmp(copy_data(sink->buf[S_QUARANTINE]),
                   "12\t0\t3\t2\tid_missing\tno id\t\\\\x7b226964223a6e756c6c7d\t"
                   "2026-11-25 17:46:46.123+00\n",
                   copy_size(sink->buf[S_QUARANTINE])) == 0);
    /* photos: seen at the batch's fetch time */
    const char *want_photos = "7001\t91\thttps://cdn/t/a/f800/1.webp?s=x\\ty\tt\t0\t"
                              "2026-11-25 17:46:46.123+00\n"
                              "7001\t92\thttps://cdn/t/b/f800/2.webp\tf\t1\t"
                              "2026-11-25 17:46:46.123+00\n";
    assert(copy_size(sink->buf[S_PHOTOS]) == strlen(want_photos));
    assert(memcmp(copy_data(sink->buf[S_PHOTOS]), want_photos, strlen(want_photos)) == 0);

    /* a tracking batch: snapshots (booleans, NULLs) and a seller (thousandths) */
    proto_snapshot_t snaps[2] = {
        { .item_id = 8001, .user_id = 42, .price = 1250, .currency = "EUR",
          .favourite_count = 3, .view_count = PROTO_NULL, .is_reserved = true,
          .is_closed = true, .closing_action = "sold" },
        { .item_id = 8002, .user_id = PROTO_NULL, .price = PROTO_NULL,
          .favourite_count = PROTO_NULL, .view_count = PROTO_NULL, .is_hidden = true,
          .removed = true },
    };
    proto_user_snapshot_t users[1] = { { .user_id = 42, .login = "ana", .item_count = 17,
                                         .feedback_count = 120, .feedback_reputation = 973,
                                         .positive_feedback_count = 115,
                                         .neutral_feedback_count = 3,
                                         .negative_feedback_count = PROTO_NULL,
                                         .followers_count = 0, .city = "Lisboa",
                                         .country = NULL } };
    proto_quarantine_t tq[1] = { { -1, "malformed_page", "not json", NULL, 0 } };
    proto_batch_t tracking = { .window_id = 77, .page = 1, .fetched_at_ms = 1795628806123LL,
                               .target_id = 4242, .n_snapshots = 2, .snapshots = snaps,
                               .n_users = 1, .users = users, .n_quarantine = 1, .quarantine = tq };
    assert(s_test_encode(sink, PROTO_BODY_BATCH, &tracking, err, sizeof err) == 0);
    assert(copy_size(sink->buf[S_ITEMS]) == 0 && copy_size(sink->buf[S_PHOTOS]) == 0);
    /* the page's target keys its quarantine records */
    const char *want_tq = "77\t4242\t1\t-1\tmalformed_page\tnot json\t\\N\t"
                          "2026-11-25 17:46:46.123+00\n";
    assert(copy_size(sink->buf[S_QUARANTINE]) == strlen(want_tq));
    assert(memcmp(copy_data(sink->buf[S_QUARANTINE]), want_tq, strlen(want_tq)) == 0);
    const char *want_snaps = "8001\t77\t2026-11-25 17:46:46.123+00\t42\t12.50\tEUR\t3\t\\N\tt\tf\tt\tsold\tf\n"
                             "8002\t77\t2026-11-25 17:46:46.123+00\t\\N\t\\N\t\\N\t\\N\t\\N\tf\tt\tf\t\\N\tt\n";
    assert(copy_size(sink->buf[S_SNAPSHOTS]) == strlen(want_snaps));
    assert(memcmp(copy_data(sink->buf[S_SNAPSHOTS]), want_snaps, strlen(want_snaps)) == 0);
    const char *want_users = "42\t77\t2026-11-25 17:46:46.123+00\tana\t17\t120\t0.973\t115\t3\t"
                             "\\N\t0\tLisboa\t\\N\n";
    assert(copy_size(sink->buf[S_USERS]) == strlen(want_users));
    assert(memcmp(copy_data(sink->buf[S_USERS]), want_users, strlen(want_users)) == 0);
    users[0].feedback_reputation = 1000;
    assert(s_test_encode(sink, PROTO_BODY_BATCH, &tracking, err, sizeof err) == 0);
    assert(strstr(copy_data(sink->buf[S_USERS]), "\t120\t1.000\t"));
    users[0].feedback_reputation = 5;
    assert(s_test_encode(sink, PROTO_BODY_BATCH, &tracking, err, sizeof err) == 0);
    assert(strstr(copy_data(sink->buf[S_USERS]), "\t120\t0.005\t"));
    users[0].feedback_reputation = PROTO_NULL;
    assert(s_test_encode(sink, PROTO_BODY_BATCH, &tracking, err, sizeof err) == 0);
    assert(strstr(copy_data(sink->buf[S_USERS]), "\t120\t\\N\t"));

    /* a stored photo */
    char sha[65];
    memset(sha, 'a', 64);
    sha[64] = 0;
    proto_photo_stored_t stored = { .window_id = 12, .item_id = 7001, .photo_id = 91,
                                    .key = "images/7001/91.webp", .bytes = 48213,
                                    .content_type = "image/webp", .sha256 = sha };
    assert(s_test_encode(sink, PROTO_BODY_PHOTO, &stored, err, sizeof err) == 0);
    char want_stored[160];
    snprintf(want_stored, sizeof want_stored, "7001\t91\timages/7001/91.webp\t48213\timage/webp\t%s\n",
             sha);
    assert(copy_size(sink->buf[S_STORED]) == strlen(want_stored));
    assert(memcmp(copy_data(sink->buf[S_STORED]), want_stored, strlen(want_stored)) == 0);

    /* a catalog tree: roots get a NULL parent, every node the tree's fetch time */
    proto_catalog_t cats[3] = {
        { .catalog_id = 1904, .parent_id = 0, .title = "Mulher", .code = "WOMEN",
          .url = "/women", .depth = 0 },
        { .catalog_id = 4, .parent_id = 1904, .title = "Roupa\tde \\ senhora", .code = NULL,
          .url = "/women/clothes", .depth = 1 },
        { .catalog_id = 10, .parent_id = 4, .title = "Vestidos", .code = "DRESSES", .url = NULL,
          .depth = 2 },
    };
    proto_batch_t tree = { .window_id = 90, .page = 1, .fetched_at_ms = 1795628806123LL,
                           .target_id = 0, .n_catalogs = 3, .catalogs = cats };
    assert(s_test_encode(sink, PROTO_BODY_BATCH, &tree, err, sizeof err) == 0);
    const char *want_cats = "1904\t\\N\tMulher\tWOMEN\t/women\t0\t2026-11-25 17:46:46.123+00\n"
                            "4\t1904\tRoupa\\tde \\\\ senhora\t\\N\t/women/clothes\t1\t"
                            "2026-11-25 17:46:46.123+00\n"
                            "10\t4\tVestidos\tDRESSES\t\\N\t2\t2026-11-25 17:46:46.123+00\n";
    assert(copy_rows(sink->buf[S_CATALOGS]) == 3);
    assert(copy_size(sink->buf[S_CATALOGS]) == strlen(want_cats));
    assert(memcmp(copy_data(sink->buf[S_CATALOGS]), want_cats, strlen(want_cats)) == 0);
    assert(copy_size(sink->buf[S_ITEMS]) == 0 && copy_size(sink->buf[S_QUARANTINE]) == 0);
    assert(strstr(s_catalogs_sql, "ON CONFLICT (catalog_id) DO UPDATE SET parent_id = CASE WHEN"));
    assert(strstr(s_catalogs_sql, "seen_at = GREATEST(c.seen_at, EXCLUDED.seen_at) WHERE"));
    /* bad nodes refuse the whole tree with a reason */
    proto_batch_t badtree = tree;
    cats[2].title = "";
    assert(s_test_encode(sink, PROTO_BODY_BATCH, &badtree, err, sizeof err) == -1);
    assert(strstr(err, "window 90 page 1: catalog 2 (id 10) without a title"));
    cats[2].title = NULL;
    assert(s_test_encode(sink, PROTO_BODY_BATCH, &badtree, err, sizeof err) == -1);
    assert(strstr(err, "without a title"));
    cats[2].title = "Vestidos";
    cats[1].catalog_id = 0;
    assert(s_test_encode(sink, PROTO_BODY_BATCH, &badtree, err, sizeof err) == -1);
    assert(strstr(err, "catalog 1 (id 0) without a valid id"));
    cats[1].catalog_id = -4;
    assert(s_test_encode(sink, PROTO_BODY_BATCH, &badtree, err, sizeof err) == -1);
    assert(strstr(err, "without a valid id"));
    cats[1].catalog_id = 4;
    cats[1].parent_id = -1;
    assert(s_test_encode(sink, PROTO_BODY_BATCH, &badtree, err, sizeof err) == -1);
    assert(strstr(err, "negative parent id"));
    cats[1].parent_id = 4;
    assert(s_test_encode(sink, PROTO_BODY_BATCH, &badtree, err, sizeof err) == -1);
    assert(strstr(err, "its own parent"));
    cats[1].parent_id = 1904;
    cats[1].depth = -1;
    assert(s_test_encode(sink, PROTO_BODY_BATCH, &badtree, err, sizeof err) == -1);
    assert(strstr(err, "negative depth"));
    cats[1].depth = 1;
    badtree.fetched_at_ms = PROTO_NULL;
    assert(s_test_encode(sink, PROTO_BODY_BATCH, &badtree, err, sizeof err) == -1);
    assert(strstr(err, "window 90 page 1: fetch time"));
    assert(s_test_encode(sink, PROTO_BODY_BATCH, &tree, err, sizeof err) == 0);

    /* bad tasks are refused with a reason before any database is involved */
    proto_batch_t bad1 = batch;
    proto_item_t noid[1];
    s_test_item(&noid[0], PROTO_NULL, 5);
    bad1.items = noid;
    bad1.n_items = 1;
    assert(s_test_encode(sink, PROTO_BODY_BATCH, &bad1, err, sizeof err) == -1);
    assert(strstr(err, "pos 5: item without a valid id"));
    proto_batch_t bad2 = batch;
    proto_item_t future[1];
    s_test_item(&future[0], 9, 0);
    future[0].created_at = INT64_MAX;
    bad2.items = future;
    bad2.n_items = 1;
    assert(s_test_encode(sink, PROTO_BODY_BATCH, &bad2, err, sizeof err) == -1);
    assert(strstr(err, "created_at"));
    proto_batch_t bad3 = batch;
    bad3.fetched_at_ms = 0;
    bad3.n_items = 0;
    assert(s_test_encode(sink, PROTO_BODY_BATCH, &bad3, err, sizeof err) == -1);
    assert(strstr(err, "fetch time"));
    proto_quarantine_t norule[1] = { { -1, NULL, "x", NULL, 0 } };
    proto_batch_t bad4 = batch;
    bad4.n_items = 0;
    bad4.quarantine = norule;
    assert(s_test_encode(sink, PROTO_BODY_BATCH, &bad4, err, sizeof err) == -1);
    assert(strstr(err, "without rule"));
    proto_batch_t bad5 = batch;
    proto_photo_t badphoto[1] = { { 7001, 93, NULL, false, 0 } };
    bad5.photos = badphoto;
    bad5.n_photos = 1;
    assert(s_test_encode(sink, PROTO_BODY_BATCH, &bad5, err, sizeof err) == -1);
    assert(strstr(err, "photo 93 of item 7001 without url"));
    badphoto[0] = (proto_photo_t) { 7001, 0, "u", false, 0 };
    assert(s_test_encode(sink, PROTO_BODY_BATCH, &bad5, err, sizeof err) == -1);
    assert(strstr(err, "without a valid id"));
    badphoto[0] = (proto_photo_t) { 7001, 93, "u", false, -1 };
    assert(s_test_encode(sink, PROTO_BODY_BATCH, &bad5, err, sizeof err) == -1);
    assert(strstr(err, "negative position"));
    proto_batch_t bad6 = tracking;
    bad6.fetched_at_ms = PROTO_NULL;
    assert(s_test_encode(sink, PROTO_BODY_BATCH, &bad6, err, sizeof err) == -1);
    assert(strstr(err, "window 77 page 1: fetch time"));
    bad6 = tracking;
    users[0].feedback_reputation = 1001;
    assert(s_test_encode(sink, PROTO_BODY_BATCH, &bad6, err, sizeof err) == -1);
    assert(strstr(err, "feedback_reputation 1001 thousandths outside 0..1000"));
    users[0].feedback_reputation = -1;
    assert(s_test_encode(sink, PROTO_BODY_BATCH, &bad6, err, sizeof err) == -1);
    users[0].feedback_reputation = 973;
    users[0].user_id = 0;
    assert(s_test_encode(sink, PROTO_BODY_BATCH, &bad6, err, sizeof err) == -1);
    assert(strstr(err, "user snapshot 0 without a valid user id"));
    users[0].user_id = 42;
    snaps[1].item_id = PROTO_NULL;
    assert(s_test_encode(sink, PROTO_BODY_BATCH, &bad6, err, sizeof err) == -1);
    assert(strstr(err, "snapshot 1 without a valid item id"));
    snaps[1].item_id = 8002;
    assert(s_test_encode(sink, PROTO_BODY_BATCH, &tracking, err, sizeof err) == 0);
    proto_photo_stored_t badstored = stored;
    badstored.key = "";
    assert(s_test_encode(sink, PROTO_BODY_PHOTO, &badstored, err, sizeof err) == -1);
    assert(strstr(err, "stored photo 91 of item 7001 without an object key"));
    badstored = stored;
    badstored.sha256 = "ABC";
    assert(s_test_encode(sink, PROTO_BODY_PHOTO, &badstored, err, sizeof err) == -1);
    assert(strstr(err, "sha256"));
    badstored = stored;
    badstored.bytes = -3;
    assert(s_test_encode(sink, PROTO_BODY_PHOTO, &badstored, err, sizeof err) == -1);
    assert(strstr(err, "negative size"));
    badstored = stored;
    badstored.sha256 = NULL;
    badstored.bytes = PROTO_NULL;
    badstored.content_type = NULL;
    assert(s_test_encode(sink, PROTO_BODY_PHOTO, &badstored, err, sizeof err) == 0);
    assert(s_test_encode(sink, PROTO_BODY_FETCH, &stored, err, sizeof err) == -1);
    assert(strstr(err, "not TASK with body 1"));

    /* write_each refuses each bad task on its own and reports every one */
    proto_msg_t t1 = s_test_task(PROTO_BODY_BATCH, &bad1);
    proto_msg_t t2 = s_test_task(PROTO_BODY_PHOTO, &(proto_photo_stored_t) { .key = "k" });
    proto_msg_t t3 = s_test_task(PROTO_BODY_BATCH, &bad3);
    proto_msg_t *bads[] = { &t1, &t2, &t3 };
    s_outcome_t outcome = { 0 };
    assert(pgsink_write_each(sink, bads, 3, s_test_done, &outcome) == 0);
    assert(outcome.calls == 3 && outcome.failed == 3);
    assert(strstr(outcome.last, "fetch time"));
    assert(pgsink_write(sink, bads, 0, err, sizeof err) == 0);
    pgsink_destroy(&sink);
    assert(sink == NULL);

    /* an unreachable database: the sleeper is asked and may give up */
    sink = pgsink_new("host=/nonexistent/vinted-pgsink-test port=1 connect_timeout=1");
    assert(sink);
    assert(pgsink_connect(sink) == -1);
    int sleeps = 0;
    pgsink_set_sleeper(sink, s_test_give_up, &sleeps);
    proto_msg_t good = s_test_task(PROTO_BODY_BATCH, &batch);
    proto_msg_t good_photo = s_test_task(PROTO_BODY_PHOTO, &stored);
    proto_msg_t *goods[] = { &good, &good_photo };
    outcome = (s_outcome_t) { 0 };
    assert(pgsink_write_each(sink, goods, 2, s_test_done, &outcome) == -1);
    assert(pgsink_gave_up(sink));
    assert(sleeps == 1 && outcome.calls == 0);
    pgsink_destroy(&sink);
    if (verbose)
        printf("OK\n");
}
