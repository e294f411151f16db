/*  store.c - the broker's durable state in PostgreSQL (all SQL parameterized). */
#include "broker/store.h"

#include <assert.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/migrate.h"
#include "proto/proto.h"

struct _store_t {
    char *conninfo;
    PGconn *conn;
    char *dq_sql;       /* built once: the data-quality report statement */
    int64_t down_since; /* mono ms of the first failed connection of an outage, 0 while reachable */
    int64_t failures;   /* connection attempts failed in the current outage */
    int64_t next_try;   /* mono ms: during an outage, no new attempt before this */
};

/* During an outage, one connection attempt a second at most, each limited to 2 s
   (libpq's least): an unreachable host cannot stall the broker's loop past the
   workers' 5 s heartbeat liveness. */
#define STORE_RETRY_MS 1000
#define STORE_CONNECT_TIMEOUT "2"

/* Connect if not connected. During an outage every statement fails at once, and a
   new connection is tried once a second at most, each attempt limited to 2 s unless
   the connection string says otherwise. An outage is logged once when it starts and
   once when it ends (with its length and the attempts that failed). */
static int s_connect(store_t *self)
{
    if (self->conn && PQstatus(self->conn) == CONNECTION_OK)
        return 0;
    int64_t now = clock_mono_ms();
    if (self->down_since != 0 && now < self->next_try)
        return -1;
    if (self->conn)
        PQfinish(self->conn);
    /* later entries override earlier ones: the caller's string wins over these defaults */
    const char *keys[] = { "connect_timeout", "fallback_application_name", "dbname", NULL };
    const char *values[] = { STORE_CONNECT_TIMEOUT, "vinted-broker", self->conninfo, NULL };
    int n = getenv("PGCONNECT_TIMEOUT") ? 1 : 0;
    self->conn = PQconnectdbParams(keys + n, values + n, 1);
    if (PQstatus(self->conn) != CONNECTION_OK) {
        self->next_try = clock_mono_ms() + STORE_RETRY_MS;
        if (self->down_since == 0) {
            self->down_since = clock_mono_ms();
            log_warn("database not reachable", "error=%s meaning=%s", log_str(PQerrorMessage(self->conn)),
                     log_str("windows cannot be created, started or finished until it is back; "
                             "the broker retries every second"));
        }
        self->failures++;
        return -1;
    }
    if (self->down_since != 0) {
        log_info("database reachable again", "down_ms=%" PRId64 " failed_attempts=%" PRId64,
                 clock_mono_ms() - self->down_since, self->failures);
        self->down_since = 0;
        self->failures = 0;
    }
    return 0;
}

/* Run a parameterized statement; on a lost connection reconnect once and retry. */
static PGresult *s_exec(store_t *self, const char *sql, int n, const char *const *params)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        if (s_connect(self) != 0)
            continue;
        PGresult *res = PQexecParams(self->conn, sql, n, NULL, params, NULL, NULL, 0);
        ExecStatusType st = PQresultStatus(res);
        if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
            return res;
        log_error("database statement failed", "error=%s", log_str(PQresultErrorMessage(res)));
        PQclear(res);
        if (PQstatus(self->conn) == CONNECTION_OK)
            return NULL;
    }
    return NULL;
}

static int s_run(store_t *self, const char *sql, int n, const char *const *params)
{
    PGresult *res = s_exec(self, sql, n, params);
    if (!res)
        return -1;
    PQclear(res);
    return 0;
}

static void s_build_dq_sql(store_t *self)
{
    char nulls[2048] = "";
    size_t o = 0;
    for (int bit = 0; bit < PROTO_NULL_FIELDS; bit++)
        o += (size_t) snprintf(nulls + o, sizeof nulls - o, "%s'%s', coalesce(sum((null_mask >> %d) & 1), 0)",
                               bit ? ", " : "", proto_null_field_name(bit), bit);
    size_t size = 8192;
    self->dq_sql = malloc(size);
    snprintf(self->dq_sql, size,
             "INSERT INTO dq_reports (window_id, catalog_id, rows, distinct_items, duplicates, new_items,"
             " nulls, quarantined, prices)"
             " SELECT $1::bigint, $2::int, s.n, s.d, s.n - s.d,"
             "  (SELECT count(*) FROM items WHERE first_window_id = $1::bigint),"
             "  s.nulls,"
             "  (SELECT coalesce(jsonb_object_agg(rule, n), '{}'::jsonb) FROM"
             "     (SELECT rule, count(*) AS n FROM quarantine WHERE window_id = $1::bigint GROUP BY rule) q),"
             "  (SELECT coalesce(jsonb_object_agg(currency, jsonb_build_object('n', n, 'min', mn,"
             "       'median', md, 'max', mx)), '{}'::jsonb) FROM"
             "     (SELECT currency, count(*) AS n, min(price) AS mn, max(price) AS mx,"
             "        percentile_disc(0.5) WITHIN GROUP (ORDER BY price) AS md"
             "      FROM (SELECT DISTINCT ON (item_id) item_id, price, currency FROM sightings"
             "            WHERE window_id = $1::bigint AND price IS NOT NULL AND currency IS NOT NULL"
             "            ORDER BY item_id, page, pos) u GROUP BY currency) p)"
             " FROM (SELECT count(*) AS n, count(DISTINCT item_id) AS d, jsonb_build_object(%s) AS nulls"
             "       FROM sightings WHERE window_id = $1::bigint) s"
             " ON CONFLICT (window_id) DO UPDATE SET rows = EXCLUDED.rows,"
             "  distinct_items = EXCLUDED.distinct_items, duplicates = EXCLUDED.duplicates,"
             "  new_items = EXCLUDED.new_items, nulls = EXCLUDED.nulls,"
             "  quarantined = EXCLUDED.quarantined, prices = EXCLUDED.prices, created_at = now()",
             nulls);
}

store_t *store_new(const char *conninfo, int64_t timeout_ms)
{
    store_t *self = calloc(1, sizeof *self);
    assert(self);
    self->conninfo = strdup(conninfo ? conninfo : "");
    int64_t deadline = clock_mono_ms() + timeout_ms;
    int64_t delay = 200;
    while (s_connect(self) != 0) {
        if (clock_mono_ms() > deadline) {
            store_destroy(&self);
            return NULL;
        }
        clock_sleep_ms(delay);
        delay = delay * 2 > 5000 ? 5000 : delay * 2;
    }
    if (migrate_apply(self->conn) != 0) {
        store_destroy(&self);
        return NULL;
    }
    s_build_dq_sql(self);
    return self;
}

void store_destroy(store_t **self_p)
{
    store_t *self = *self_p;
    if (!self)
        return;
    if (self->conn)
        PQfinish(self->conn);
    free(self->dq_sql);
    free(self->conninfo);
    free(self);
    *self_p = NULL;
}

#define I64(buf, v) (snprintf(buf, sizeof buf, "%" PRId64, (int64_t) (v)), buf)

int store_window_create(store_t *self, const char *site, int32_t catalog_id, int64_t start_s, int64_t end_s,
                        const char *kind, int64_t *id)
{
    char a[24], b[24], c[24];
    const char *params[] = { I64(a, catalog_id), I64(b, start_s), I64(c, end_s), kind, site ? site : "" };
    PGresult *res = s_exec(self,
                           "INSERT INTO windows (catalog_id, start_at, end_at, kind, site)"
                           " VALUES ($1, to_timestamp($2), to_timestamp($3), $4, $5)"
                           " ON CONFLICT (site, catalog_id, start_at) WHERE kind = 'scheduled' DO NOTHING"
                           " RETURNING window_id",
                           5, params);
    if (!res)
        return -1;
    int rc = 1;
    if (PQntuples(res) == 1) {
        *id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
        rc = 0;
    }
    PQclear(res);
    return rc;
}

int store_claim_site(store_t *self, const char *site)
{
    const char *params[] = { site };
    if (s_run(self, "UPDATE windows SET site = $1 WHERE site = ''", 1, params) != 0)
        return -1;
    return s_run(self,
                 "UPDATE catalog_state c SET site = $1 WHERE site = ''"
                 " AND NOT EXISTS (SELECT 1 FROM catalog_state d WHERE d.site = $1 AND d.catalog_id = c.catalog_id)",
                 1, params);
}

int store_windows_open(store_t *self, void (*fn)(void *arg, window_t *window), void *arg)
{
    PGresult *res = s_exec(self,
                           "SELECT window_id, catalog_id, extract(epoch FROM start_at)::bigint,"
                           " extract(epoch FROM end_at)::bigint, state, coalesce(hwm_before, 0),"
                           " pages_done, coalesce(max_item_id, 0), items, requests, truncated, kind,"
                           " coalesce(parent_window_id, 0), coalesce(bands, ''), site"
                           " FROM windows WHERE state IN ('pending', 'running') ORDER BY window_id",
                           0, NULL);
    if (!res)
        return -1;
    for (int r = 0; r < PQntuples(res); r++) {
        window_t *w = window_new(strtoll(PQgetvalue(res, r, 0), NULL, 10), atoi(PQgetvalue(res, r, 1)),
                                 strtoll(PQgetvalue(res, r, 2), NULL, 10),
                                 strtoll(PQgetvalue(res, r, 3), NULL, 10));
        if (strcmp(PQgetvalue(res, r, 4), "running") == 0) {
            w->state = WINDOW_RUNNING;
            w->hwm_before = strtoll(PQgetvalue(res, r, 5), NULL, 10);
            const char *bands = PQgetvalue(res, r, 13);
            if (*bands && window_bands_parse(w, bands) == 0)
                ; /* split: every band pages again from page 1 (the bands' pages are not recorded) */
            else {
                int done = atoi(PQgetvalue(res, r, 6));
                for (int p = 1; p <= done && p <= WINDOW_MAX_PAGES; p++)
                    window_page_done(w, p, WINDOW_PAGE_DONE);
                w->parts[0].next_page = w->prefix_done + 1; /* resume after the committed prefix */
            }
            w->max_item_id = strtoll(PQgetvalue(res, r, 7), NULL, 10);
            w->items = atoi(PQgetvalue(res, r, 8));
            w->requests = atoi(PQgetvalue(res, r, 9));
            w->truncated = strcmp(PQgetvalue(res, r, 10), "t") == 0;
        }
        w->kind = window_kind_from_name(PQgetvalue(res, r, 11));
        w->parent_id = strtoll(PQgetvalue(res, r, 12), NULL, 10);
        snprintf(w->site, sizeof w->site, "%s", PQgetvalue(res, r, 14));
        fn(arg, w);
    }
    PQclear(res);
    return 0;
}

int store_window_start(store_t *self, window_t *window)
{
    char a[24];
    const char *params[] = { I64(a, window->id) };
    PGresult *res = s_exec(self,
                           "UPDATE windows w SET state = 'running', started_at = now(),"
                           " hwm_before = coalesce((SELECT hwm_item_id FROM catalog_state c"
                           "                        WHERE c.catalog_id = w.catalog_id AND c.site = w.site), 0)"
                           " WHERE window_id = $1 RETURNING hwm_before",
                           1, params);
    if (!res)
        return -1;
    if (PQntuples(res) == 1)
        window->hwm_before = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return 0;
}

int store_window_progress(store_t *self, const window_t *w)
{
    char a[24], b[24], c[24], d[24], e[24], f[24], g[24], bands[WINDOW_MAX_PARTS * 48];
    /* pages_done: while an unsplit window runs, the committed prefix it resumes after */
    bool resumable = w->n_parts == 1 && w->state == WINDOW_RUNNING;
    window_bands_format(w, bands, sizeof bands);
    const char *params[] = { I64(a, w->id), I64(b, resumable ? w->prefix_done : w->pages_done),
                             I64(c, window_pages(w)), I64(d, w->max_item_id), I64(e, w->items),
                             I64(f, w->requests), w->truncated ? "t" : "f", I64(g, w->degraded),
                             *bands ? bands : NULL };
    return s_run(self,
                 "UPDATE windows SET pages_done = $2, last_page = nullif($3::int, 0),"
                 " max_item_id = $4, items = $5, requests = $6, truncated = $7::boolean,"
                 " error = CASE WHEN $8::int = 1 THEN 'a page was quarantined; mark kept' ELSE error END,"
                 " bands = $9 WHERE window_id = $1",
                 9, params);
}

int store_window_finish(store_t *self, window_t *w)
{
    if (s_run(self, "BEGIN", 0, NULL) != 0)
        return -1;
    if (store_window_progress(self, w) != 0)
        goto fail;
    char a[24], b[24], c[24];
    /* the poll moment (page 1's fetch; the window's end when the broker restarted
       after it) and the listings seen first: what the adaptive schedule learns from */
    const char *p1[] = { I64(a, w->id), I64(b, w->polled_ms > 0 ? w->polled_ms : w->end_s * 1000) };
    PGresult *res = s_exec(self,
                           "UPDATE windows SET state = 'done', finished_at = now(), polled_at = to_timestamp($2 / 1000.0),"
                           " new_items = (SELECT count(*) FROM items WHERE first_window_id = $1)"
                           " WHERE window_id = $1 RETURNING new_items",
                           2, p1);
    if (!res)
        goto fail;
    w->new_items = PQntuples(res) == 1 ? strtoll(PQgetvalue(res, 0, 0), NULL, 10) : 0;
    PQclear(res);
    if (!w->degraded) {
        /* the newest id when the window began (part 0's page 1): whatever it did not see came later */
        const char *p2[] = { I64(a, w->catalog_id), I64(b, w->mark_id > 0 ? w->mark_id : w->max_item_id),
                             I64(c, w->id), w->site };
        if (s_run(self,
                  "INSERT INTO catalog_state (catalog_id, hwm_item_id, last_window_id, site) VALUES ($1, $2, $3, $4)"
                  " ON CONFLICT (site, catalog_id) DO UPDATE SET"
                  " hwm_item_id = GREATEST(catalog_state.hwm_item_id, EXCLUDED.hwm_item_id),"
                  " last_window_id = EXCLUDED.last_window_id, updated_at = now()",
                  4, p2) != 0)
            goto fail;
    }
    const char *p3[] = { I64(a, w->id), I64(b, w->catalog_id) };
    if (s_run(self, self->dq_sql, 2, p3) != 0)
        goto fail;
    return s_run(self, "COMMIT", 0, NULL);
fail:
    s_run(self, "ROLLBACK", 0, NULL);
    return -1;
}

int store_window_set_parent(store_t *self, int64_t id, int64_t parent_id)
{
    char a[24], b[24];
    const char *params[] = { I64(a, id), I64(b, parent_id) };
    return s_run(self, "UPDATE windows SET parent_window_id = $2 WHERE window_id = $1", 2, params);
}

int store_photo_gone(store_t *self, int64_t item_id, int64_t photo_id, const char *url, const char *reason)
{
    char a[24], b[24];
    const char *params[] = { I64(a, item_id), I64(b, photo_id), url, reason };
    /* only the URL that was refused: a listing that serves a new one has cleared the mark */
    return s_run(self,
                 "UPDATE photos SET gone_at = now(), gone_reason = $4"
                 " WHERE item_id = $1 AND photo_id = $2 AND url = $3 AND stored_at IS NULL",
                 4, params);
}

/* Run a query with up to 4 parameters and call fn on every row's first columns as int64s. */
static int s_each_row(store_t *self, const char *sql, int n, const char *const *params,
                      int (*fn)(void *arg, const int64_t *cols, const char *text), void *arg)
{
    PGresult *res = s_exec(self, sql, n, params);
    if (!res)
        return -1;
    int cols = PQnfields(res);
    for (int r = 0; r < PQntuples(res); r++) {
        int64_t v[4] = { 0, 0, 0, 0 };
        const char *text = NULL;
        for (int c = 0; c < cols; c++) {
            if (PQftype(res, c) == 25 /* text */)
                text = PQgetvalue(res, r, c);
            else if (c < 4)
                v[c] = strtoll(PQgetvalue(res, r, c), NULL, 10);
        }
        if (fn(arg, v, text) != 0)
            break;
    }
    PQclear(res);
    return 0;
}

int store_track_targets(store_t *self, uint64_t threshold, int (*fn)(void *arg, const int64_t *cols, const char *text),
                        void *arg)
{
    char a[24];
    const char *params[] = { I64(a, (int64_t) threshold) };
    /* sellers of sampled live items (col 0 = user id, col 1 = 0), and sampled live items without a known seller
       (col 0 = 0, col 1 = item id) */
    return s_each_row(self,
                      "SELECT DISTINCT user_id, 0::bigint, coalesce(site, '') FROM items"
                      " WHERE sample_bucket < $1 AND closed_seen_at IS NULL AND removed_seen_at IS NULL"
                      "   AND user_id IS NOT NULL"
                      " UNION ALL"
                      " SELECT 0::bigint, item_id, coalesce(site, '') FROM items"
                      " WHERE sample_bucket < $1 AND closed_seen_at IS NULL AND removed_seen_at IS NULL"
                      "   AND user_id IS NULL ORDER BY 1, 2, 3",
                      1, params, fn, arg);
}

int store_track_missing(store_t *self, int64_t run_id, uint64_t threshold,
                        int (*fn)(void *arg, const int64_t *cols, const char *text), void *arg)
{
    char a[24], b[24];
    const char *params[] = { I64(a, run_id), I64(b, (int64_t) threshold) };
    return s_each_row(self,
                      "SELECT i.item_id, coalesce(i.site, '') FROM items i"
                      " WHERE i.sample_bucket < $2 AND i.closed_seen_at IS NULL AND i.removed_seen_at IS NULL"
                      "   AND i.user_id IS NOT NULL AND NOT EXISTS"
                      "   (SELECT 1 FROM item_snapshots s WHERE s.item_id = i.item_id AND s.run_id = $1)"
                      " ORDER BY i.item_id",
                      2, params, fn, arg);
}

int store_photos_to_fetch(store_t *self, int64_t window_id, uint64_t threshold, bool main_of_all,
                          int (*fn)(void *arg, const int64_t *cols, const char *text), void *arg)
{
    char a[24], b[24];
    const char *params[] = { I64(a, window_id), I64(b, (int64_t) threshold), main_of_all ? "t" : "f" };
    return s_each_row(self,
                      "SELECT p.item_id, p.photo_id, p.url FROM photos p JOIN items i USING (item_id)"
                      " WHERE p.stored_at IS NULL AND p.gone_at IS NULL"
                      "   AND p.item_id IN (SELECT item_id FROM sightings WHERE window_id = $1"
                      "                     UNION SELECT item_id FROM item_snapshots WHERE run_id = $1)"
                      "   AND (i.sample_bucket < $2 OR ($3::boolean AND p.is_main))"
                      " ORDER BY p.item_id, p.photo_id",
                      3, params, fn, arg);
}

int store_photos_to_retry(store_t *self, int64_t older_ms, int limit, uint64_t threshold, bool main_of_all,
                          int (*fn)(void *arg, const int64_t *cols, const char *text), void *arg)
{
    char a[24], b[24], c[24];
    const char *params[] = { I64(a, older_ms), I64(b, (int64_t) threshold), main_of_all ? "t" : "f", I64(c, limit) };
    return s_each_row(self,
                      "SELECT p.item_id, p.photo_id, p.url FROM photos p JOIN items i USING (item_id)"
                      " WHERE p.stored_at IS NULL AND p.gone_at IS NULL"
                      "   AND i.first_seen_at < now() - $1::bigint * interval '1 millisecond'"
                      "   AND (i.sample_bucket < $2 OR ($3::boolean AND p.is_main))"
                      " ORDER BY p.item_id, p.photo_id LIMIT $4",
                      4, params, fn, arg);
}

int64_t store_catalogs_count(store_t *self)
{
    PGresult *res = s_exec(self, "SELECT count(*) FROM catalogs", 0, NULL);
    if (!res)
        return -1;
    int64_t n = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return n;
}

int store_window_finish_counted(store_t *self, const window_t *w)
{
    char a[24], b[24], c[24], d[24];
    const char *params[] = { I64(a, w->id), I64(b, w->completed), I64(c, w->items), I64(d, w->requests) };
    return s_run(self,
                 "UPDATE windows SET state = 'done', pages_done = $2, items = $3, requests = $4, finished_at = now()"
                 " WHERE window_id = $1",
                 4, params);
}

int store_replay_finish(store_t *self, const window_t *w, const int64_t *windows, const int32_t *catalogs, size_t n)
{
    if (s_run(self, "BEGIN", 0, NULL) != 0)
        return -1;
    char a[24], b[24], c[24];
    const char *p1[] = { I64(a, w->id), I64(b, w->completed), I64(c, w->items) };
    if (s_run(self,
              "UPDATE windows SET state = 'done', pages_done = $2, items = $3, finished_at = now()"
              " WHERE window_id = $1",
              3, p1) != 0)
        goto fail;
    for (size_t i = 0; i < n; i++) {
        if (catalogs[i] <= 0)
            continue; /* a tracking run: no sightings, no quality report */
        const char *p2[] = { I64(a, windows[i]), I64(b, catalogs[i]) };
        if (s_run(self, self->dq_sql, 2, p2) != 0)
            goto fail;
    }
    return s_run(self, "COMMIT", 0, NULL);
fail:
    s_run(self, "ROLLBACK", 0, NULL);
    return -1;
}

int store_window_fail(store_t *self, const window_t *w, const char *error)
{
    char a[24];
    const char *params[] = { I64(a, w->id), error };
    return s_run(self,
                 "UPDATE windows SET state = 'failed', error = $2, finished_at = now() WHERE window_id = $1",
                 2, params);
}

int store_window_get(store_t *self, int64_t id, window_t *w, char *error, size_t error_size)
{
    char a[24];
    const char *params[] = { I64(a, id) };
    PGresult *res = s_exec(self,
                           "SELECT catalog_id, extract(epoch FROM start_at)::bigint, extract(epoch FROM end_at)::bigint,"
                           " state, pages_done, coalesce(last_page, 0), coalesce(max_item_id, 0), items, requests,"
                           " truncated, coalesce(error, ''), kind, coalesce(bands, ''), site FROM windows WHERE window_id = $1",
                           1, params);
    if (!res)
        return -1;
    int rc = 1;
    if (PQntuples(res) == 1) {
        memset(w, 0, sizeof *w);
        w->id = id;
        w->catalog_id = atoi(PQgetvalue(res, 0, 0));
        w->start_s = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
        w->end_s = strtoll(PQgetvalue(res, 0, 2), NULL, 10);
        for (int s = WINDOW_PENDING; s <= WINDOW_FAILED; s++)
            if (strcmp(PQgetvalue(res, 0, 3), window_state_name((window_state_t) s)) == 0)
                w->state = (window_state_t) s;
        w->pages_done = atoi(PQgetvalue(res, 0, 4));
        w->n_parts = 1;
        w->parts[0].last_page = atoi(PQgetvalue(res, 0, 5));
        if (*PQgetvalue(res, 0, 12))
            window_bands_parse(w, PQgetvalue(res, 0, 12));
        snprintf(w->site, sizeof w->site, "%s", PQgetvalue(res, 0, 13));
        w->max_item_id = strtoll(PQgetvalue(res, 0, 6), NULL, 10);
        w->items = atoi(PQgetvalue(res, 0, 7));
        w->requests = atoi(PQgetvalue(res, 0, 8));
        w->truncated = strcmp(PQgetvalue(res, 0, 9), "t") == 0;
        snprintf(error, error_size, "%s", PQgetvalue(res, 0, 10));
        w->kind = window_kind_from_name(PQgetvalue(res, 0, 11));
        rc = 0;
    }
    PQclear(res);
    return rc;
}

int64_t store_down_ms(const store_t *self)
{
    return self->down_since ? clock_mono_ms() - self->down_since : 0;
}

int store_window_counts(store_t *self, int64_t counts[4], int64_t by_kind[WINDOW_KINDS][4])
{
    memset(counts, 0, 4 * sizeof counts[0]);
    memset(by_kind, 0, WINDOW_KINDS * 4 * sizeof by_kind[0][0]);
    PGresult *res = s_exec(self, "SELECT state, kind, count(*) FROM windows GROUP BY state, kind", 0, NULL);
    if (!res)
        return -1;
    for (int r = 0; r < PQntuples(res); r++) {
        const char *state = PQgetvalue(res, r, 0);
        window_kind_t kind = window_kind_from_name(PQgetvalue(res, r, 1));
        int64_t n = strtoll(PQgetvalue(res, r, 2), NULL, 10);
        for (int s = WINDOW_PENDING; s <= WINDOW_FAILED; s++)
            if (strcmp(state, window_state_name((window_state_t) s)) == 0) {
                counts[s] += n;
                by_kind[kind][s] += n;
            }
    }
    PQclear(res);
    return 0;
}

int store_schedule_history(store_t *self, int per_catalog, store_row_fn fn, void *arg)
{
    char a[24];
    const char *params[] = { I64(a, per_catalog) };
    return s_each_row(self,
                      "SELECT catalog_id, (extract(epoch FROM polled_at) * 1000)::bigint, new_items, truncated::int, site"
                      " FROM (SELECT *, row_number() OVER (PARTITION BY site, catalog_id ORDER BY polled_at DESC) AS n"
                      " FROM windows WHERE kind IN ('scheduled', 'adhoc') AND state = 'done'"
                      " AND polled_at IS NOT NULL AND new_items IS NOT NULL) w"
                      " WHERE n <= $1 ORDER BY polled_at",
                      1, params, fn, arg);
}

int store_schedule_last_ends(store_t *self, store_row_fn fn, void *arg)
{
    return s_each_row(self,
                      "SELECT catalog_id, extract(epoch FROM max(end_at))::bigint, site FROM windows"
                      " WHERE kind = 'scheduled' GROUP BY site, catalog_id",
                      0, NULL, fn, arg);
}
