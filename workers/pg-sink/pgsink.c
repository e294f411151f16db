/*  pgsink.c - write normalized batches into PostgreSQL (see pgsink.h). */
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
#define PGSINK_BACKOFF_MAX_MS 30000
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

struct _pgsink_t {
    char *conninfo;
    PGconn *conn;
    bool ready; /* staging tables created and statements prepared on this connection */
    copy_t *items;
    copy_t *quarantine;
    char *sql_items; /* the items upsert, built from the column list */
    pgsink_sleep_fn *sleep_fn;
    void *sleep_arg;
    bool gave_up;
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
    " created_at timestamptz, seen_at timestamptz, null_mask int"
    ") ON COMMIT DELETE ROWS;"
    "CREATE TEMP TABLE IF NOT EXISTS pgsink_quarantine ("
    " window_id bigint, page int, pos int, rule text, detail text, raw bytea,"
    " seen_at timestamptz"
    ") ON COMMIT DELETE ROWS;";

static const char s_copy_items_sql[] =
    "COPY pgsink_items (window_id, page, pos, item_id, catalog_id, title, price, currency,"
    " service_fee, total_price, brand, size_title, size_kind, size_value, condition,"
    " user_id, user_login, url, photo_url, favourite_count, view_count, promoted,"
    " created_at, seen_at, null_mask) FROM STDIN";

static const char s_copy_quarantine_sql[] =
    "COPY pgsink_quarantine (window_id, page, pos, rule, detail, raw, seen_at) FROM STDIN";

/* Item columns that follow the newest sighting. */
static const char *s_item_columns[] = {
    "catalog_id", "title",      "price",     "currency",        "service_fee", "total_price",
    "brand",      "size_title", "size_kind", "size_value",      "condition",   "user_id",
    "url",        "photo_url",  "favourite_count", "view_count", "promoted",   "created_at",
    NULL
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

static const char s_quarantine_sql[] =
    "INSERT INTO quarantine AS q (window_id, page, pos, rule, detail, raw, seen_at) "
    "SELECT DISTINCT ON (window_id, page, pos, rule) window_id, page, pos, rule, detail, raw,"
    " seen_at "
    "FROM pgsink_quarantine ORDER BY window_id, page, pos, rule, seen_at, detail, raw "
    "ON CONFLICT (window_id, page, pos, rule) DO UPDATE SET detail = EXCLUDED.detail,"
    " raw = EXCLUDED.raw, seen_at = EXCLUDED.seen_at "
    "WHERE EXCLUDED.seen_at < q.seen_at";

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
    self->items = copy_new();
    self->quarantine = copy_new();
    self->sql_items = s_build_items_sql();
    self->sleep_fn = s_default_sleep;
    if (!self->conninfo || !self->items || !self->quarantine || !self->sql_items)
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
    copy_destroy(&self->items);
    copy_destroy(&self->quarantine);
    free(self->sql_items);
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
    const char *keys[5];
    const char *values[5];
    int n = 0;
    if (!getenv("PGCONNECT_TIMEOUT")) {
        keys[n] = "connect_timeout";
        values[n++] = "10";
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

/* Create the staging tables and prepare the upserts on a fresh connection. */
static s_status_t s_setup(pgsink_t *self, char *err, size_t errlen)
{
    s_status_t rc = s_command(self, s_setup_sql, NULL, "staging tables", err, errlen);
    const char *names[] = { "pgsink_items", "pgsink_users", "pgsink_sightings",
                            "pgsink_quarantine" };
    const char *sqls[] = { self->sql_items, s_users_sql, s_sightings_sql, s_quarantine_sql };
    for (int i = 0; rc == S_OK && i < 4; i++) {
        PGresult *res = PQprepare(self->conn, names[i], sqls[i], 0, NULL);
        if (PQresultStatus(res) != PGRES_COMMAND_OK)
            rc = s_failure(self, res, names[i], err, errlen);
        PQclear(res);
    }
    self->ready = rc == S_OK;
    return rc;
}

/* Stream a buffer through COPY FROM STDIN. */
static s_status_t s_copy(pgsink_t *self, const char *sql, const copy_t *buf, const char *what,
                         char *err, size_t errlen)
{
    PGresult *res = PQexec(self->conn, sql);
    if (PQresultStatus(res) != PGRES_COPY_IN) {
        s_status_t rc = s_failure(self, res, what, err, errlen);
        PQclear(res);
        return rc == S_OK ? S_DATA : rc;
    }
    PQclear(res);
    const char *data = copy_data(buf);
    size_t size = copy_size(buf);
    bool sent = true;
    for (size_t off = 0; sent && off < size; off += PGSINK_CHUNK) {
        size_t len = size - off < PGSINK_CHUNK ? size - off : PGSINK_CHUNK;
        sent = PQputCopyData(self->conn, data + off, (int) len) == 1;
    }
    if (PQputCopyEnd(self->conn, sent ? NULL : "client failed to send") != 1)
        sent = false;
    s_status_t rc = S_OK;
    while ((res = PQgetResult(self->conn)) != NULL) {
        if (rc == S_OK && PQresultStatus(res) != PGRES_COMMAND_OK)
            rc = s_failure(self, res, what, err, errlen);
        PQclear(res);
        if (PQstatus(self->conn) != CONNECTION_OK)
            break;
    }
    if (rc == S_OK && !sent)
        rc = s_failure(self, NULL, what, err, errlen);
    return rc == S_OK && !sent ? S_CONN : rc;
}

/* Encode one batch into the staging buffers. -1 with a reason if it cannot be stored. */
static int s_encode(pgsink_t *self, const proto_batch_t *b, char *err, size_t errlen)
{
    copy_t *c = self->items;
    for (size_t i = 0; i < b->n_items; i++) {
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
        copy_row_end(c);
    }
    c = self->quarantine;
    for (size_t i = 0; i < b->n_quarantine; i++) {
        const proto_quarantine_t *q = &b->quarantine[i];
        if (!q->rule || !*q->rule) {
            snprintf(err, errlen, "window %" PRId64 " page %d pos %d: quarantine record without rule",
                     b->window_id, b->page, q->pos);
            return -1;
        }
        copy_int(c, b->window_id);
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
    if (!copy_ok(self->items) || !copy_ok(self->quarantine)) {
        snprintf(err, errlen, "window %" PRId64 " page %d: out of memory encoding", b->window_id,
                 b->page);
        return -1;
    }
    return 0;
}

/* One attempt at the transaction with the buffers already encoded. */
static s_status_t s_attempt(pgsink_t *self, char *err, size_t errlen)
{
    s_status_t rc = s_command(self, "BEGIN", NULL, "begin", err, errlen);
    bool items = copy_size(self->items) > 0;
    bool quarantine = copy_size(self->quarantine) > 0;
    if (rc == S_OK && items)
        rc = s_copy(self, s_copy_items_sql, self->items, "copy items", err, errlen);
    if (rc == S_OK && quarantine)
        rc = s_copy(self, s_copy_quarantine_sql, self->quarantine, "copy quarantine", err, errlen);
    if (rc == S_OK && items)
        rc = s_command(self, NULL, "pgsink_items", "upsert items", err, errlen);
    if (rc == S_OK && items)
        rc = s_command(self, NULL, "pgsink_users", "upsert users", err, errlen);
    if (rc == S_OK && items)
        rc = s_command(self, NULL, "pgsink_sightings", "insert sightings", err, errlen);
    if (rc == S_OK && quarantine)
        rc = s_command(self, NULL, "pgsink_quarantine", "insert quarantine", err, errlen);
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

/* Encode, then run the transaction until it commits, fails on the data, or the
   sleeper gives up. */
static s_status_t s_transact(pgsink_t *self, proto_batch_t **batches, size_t n, char *err,
                             size_t errlen)
{
    copy_reset(self->items);
    copy_reset(self->quarantine);
    for (size_t i = 0; i < n; i++)
        if (s_encode(self, batches[i], err, errlen) != 0)
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
            rc = s_attempt(self, err, errlen);
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

int pgsink_write(pgsink_t *self, proto_batch_t **batches, size_t n, char *err, size_t errlen)
{
    self->gave_up = false;
    if (n == 0)
        return 0;
    int64_t start = clock_mono_ms();
    s_status_t rc = s_transact(self, batches, n, err, errlen);
    if (rc == S_OK) {
        log_debug("transaction committed", "batches=%zu items=%zu quarantined=%zu ms=%" PRId64, n,
                  copy_rows(self->items), copy_rows(self->quarantine), clock_mono_ms() - start);
        return 0;
    }
    self->gave_up = rc == S_GAVE_UP;
    return -1;
}

int pgsink_write_each(pgsink_t *self, proto_batch_t **batches, size_t n, pgsink_done_fn *done,
                      void *arg)
{
    char err[1024];
    if (n == 0)
        return 0;
    if (pgsink_write(self, batches, n, err, sizeof err) == 0) {
        for (size_t i = 0; i < n; i++)
            done(arg, i, NULL);
        return 0;
    }
    if (self->gave_up)
        return -1;
    if (n > 1)
        log_warn("transaction refused, writing batches one by one", "batches=%zu error=%s", n,
                 log_str(err));
    for (size_t i = 0; i < n; i++) {
        if (n == 1 || pgsink_write(self, &batches[i], 1, err, sizeof err) != 0) {
            if (self->gave_up)
                return -1;
            log_warn("batch refused", "window=%" PRId64 " page=%d attempt=%d error=%s",
                     batches[i]->window_id, batches[i]->page, batches[i]->attempt,
                     log_str(err));
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

void pgsink_test(bool verbose)
{
    if (verbose)
        printf(" * pgsink: ");
    pgsink_t *sink = pgsink_new(NULL);
    assert(sink);
    assert(pgsink_conn(sink) == NULL);
    /* the generated statement names every column and the ordering rules */
    assert(strstr(sink->sql_items, "INSERT INTO items AS i (item_id, catalog_id, title,"));
    assert(strstr(sink->sql_items, "created_at = CASE WHEN (EXCLUDED.last_seen_at,"));
    assert(strstr(sink->sql_items, "ORDER BY item_id, seen_at DESC, window_id DESC, page DESC, pos"));
    assert(strstr(sink->sql_items, "i.created_at))"));

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
    proto_batch_t batch = { .window_id = 12, .catalog_id = 221, .page = 3, .attempt = 0,
                            .fetched_at_ms = 1795628806123LL, .n_items = 2, .items = items,
                            .n_quarantine = 1, .quarantine = quarantine };
    char err[256] = "";
    copy_reset(sink->items);
    copy_reset(sink->quarantine);
    assert(s_encode(sink, &batch, err, sizeof err) == 0);
    assert(copy_rows(sink->items) == 2 && copy_rows(sink->quarantine) == 1);
    const char *data = copy_data(sink->items);
    const char *first = "12\t3\t0\t7001\t221\tVestido\\t\"azul\"\\n\\\\ 👗\t19.99\tEUR\t\\N\t\\N\t";
    assert(strncmp(data, first, strlen(first)) == 0);
    assert(strstr(data, "\t42\tana\t"));
    assert(strstr(data, "\tt\t2026-11-25 17:46:40+00\t2026-11-25 17:46:46.123+00\t"));
    assert(strstr(data, "\n12\t3\t1\t7002\t221\t\\N\t\\N\t"));
    assert(strstr(data, "\tf\t\\N\t2026-11-25 17:46:46.999+00\t"));
    assert(strncmp(copy_data(sink->quarantine),
                   "12\t3\t2\tid_missing\tno id\t\\\\x7b226964223a6e756c6c7d\t"
                   "2026-11-25 17:46:46.123+00\n",
                   copy_size(sink->quarantine)) == 0);

    /* bad batches are refused with a reason before any database is involved */
    proto_batch_t bad1 = batch;
    proto_item_t noid[1];
    s_test_item(&noid[0], PROTO_NULL, 5);
    bad1.items = noid;
    bad1.n_items = 1;
    assert(s_encode(sink, &bad1, err, sizeof err) == -1);
    assert(strstr(err, "pos 5: item without a valid id"));
    proto_batch_t bad2 = batch;
    proto_item_t future[1];
    s_test_item(&future[0], 9, 0);
    future[0].created_at = INT64_MAX;
    bad2.items = future;
    bad2.n_items = 1;
    assert(s_encode(sink, &bad2, err, sizeof err) == -1);
    assert(strstr(err, "created_at"));
    proto_batch_t bad3 = batch;
    bad3.fetched_at_ms = 0;
    bad3.n_items = 0;
    assert(s_encode(sink, &bad3, err, sizeof err) == -1);
    assert(strstr(err, "fetch time"));
    proto_quarantine_t norule[1] = { { -1, NULL, "x", NULL, 0 } };
    proto_batch_t bad4 = batch;
    bad4.n_items = 0;
    bad4.quarantine = norule;
    assert(s_encode(sink, &bad4, err, sizeof err) == -1);
    assert(strstr(err, "without rule"));

    /* write_each refuses each bad batch on its own and reports every one */
    proto_batch_t *bads[] = { &bad1, &bad2, &bad3 };
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
    proto_batch_t *goods[] = { &batch };
    outcome = (s_outcome_t) { 0 };
    assert(pgsink_write_each(sink, goods, 1, s_test_done, &outcome) == -1);
    assert(pgsink_gave_up(sink));
    assert(sleeps == 1 && outcome.calls == 0);
    pgsink_destroy(&sink);
    if (verbose)
        printf("OK\n");
}
