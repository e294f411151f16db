/*  proto_table.c - the message table: every command, body kind and record of the
    wire format, declared once, with the meaning of each field.

    This is the one place to change the layout. The encoder (proto_encode.c) and
    the decoder (proto_decode.c) are generic loops over these rows, and
    vinted-protodoc (protodoc.c) renders them into PROTOCOL.md's tables.
    To add a message type:
      - a command: a value in proto.h's proto_cmd_t (and raise PROTO_CMD_LAST in
        proto_internal.h), a struct in proto_msg_t's union if it has fields, and
        a row in proto_cmds below with its fields;
      - a body kind: a value in proto_body_t, its struct in the union, its field
        table and a row in proto_bodies (raise PROTO_BODIES);
      - a list of records in a body: its record's field table and a LIST row.
    Then run `make protocol-doc` and describe the rules in PROTOCOL.md.
    A field kind that needs its own code (F_ARGS, the CTL_REQ map) is the only
    case that touches the encoder and decoder.
*/
#include "proto_internal.h"

/* A field of a body or record T (BIN: with its length member). */
#define FLD(T, type, m, meaning) {#m, type, false, offsetof(T, m), 0, 0, meaning}
#define BIN(T, m, len, meaning) {#m, F_BIN, false, offsetof(T, m), offsetof(T, len), 0, meaning}
/* A field of a command, where member is its place in proto_msg_t; MSG_MIN: with a lower
   bound (refused by the encoder, rejected by the decoder: "must be at least"). */
#define MSG(type, name, member, meaning) {#name, type, false, offsetof(proto_msg_t, member), 0, 0, meaning}
#define MSG_MIN(type, name, member, min, meaning)                                                            \
    {#name, type, true, offsetof(proto_msg_t, member), 0, min, meaning}

/* ------------------------------------------------------------- commands */

static const proto_field_t s_ready_fields[] = {
    MSG(F_STAGE, stage, u.ready.stage, "what the worker does"),
    MSG(F_STR, name, u.ready.name, "free text for logs and status (`host:pid`)"),
    MSG_MIN(F_I32, capacity, u.ready.capacity, 1, "the worker's credit: tasks it accepts in flight (section 6)"),
};

/* TASK and RESULT */
static const proto_field_t s_task_fields[] = {
    MSG(F_U64, task_id, task_id, "chosen by the broker; a RESULT or NACK repeats it"),
    MSG(F_BODY_KIND, body_kind, body, "which body follows (section 4)"),
    MSG(F_BODY, body, body, "the body, laid out as its kind says"),
};

static const proto_field_t s_nack_fields[] = {
    MSG(F_U64, task_id, task_id, "the task that could not be done"),
    MSG(F_STR, reason, u.nack.reason, "human-readable"),
    MSG(F_I64N, retry_after_ms, u.nack.retry_after_ms,
        "the soonest the broker should dispatch it again; nil: the broker's own backoff (1 s)"),
    MSG(F_BOOL, permanent, u.nack.permanent, "true: do not retry (section 7)"),
};

static const proto_field_t s_token_fields[] = {
    MSG_MIN(F_I32, identity, u.token.identity, 0,
            "the egress identity the request must go through (`VINTED_PROXIES` index)"),
};

static const proto_field_t s_ctl_req_fields[] = {
    MSG(F_STR, verb, u.ctl_req.verb, "what to do: `window`, `status` ... (section 10)"),
    MSG(F_ARGS, args, u.ctl_req, "at most 16 entries; keys non-empty `str`, values `str`, no key twice"),
};

static const proto_field_t s_ctl_rep_fields[] = {
    MSG(F_I32, status, u.ctl_rep.status, "0 for success, otherwise an error (section 10)"),
    MSG(F_STRN, message, u.ctl_rep.message, "for humans"),
    MSG(F_STRN, json, u.ctl_rep.json, "machine-readable detail, a JSON text"),
};

static const proto_field_t s_report_fields[] = {
    MSG(F_STR, event, u.report.event, "`blocked`, `rate_limited`, `session_renewed` ... (section 9.2)"),
    MSG(F_STRN, detail, u.report.detail, "human-readable"),
    MSG(F_I64N, backoff_ms, u.report.backoff_ms, "for `blocked`: stop the identity's fetching this long"),
    MSG_MIN(F_I32, identity, u.report.identity, 0, "the egress identity the event happened on"),
};

#define CMD(name, direction, fields, meaning) {name, direction, fields, PROTO_COUNT(fields), meaning}
#define CMD0(name, direction, meaning) {name, direction, NULL, 0, meaning}

const proto_cmd_row_t proto_cmds[PROTO_CMD_LAST + 1] = {
    [PROTO_READY] = CMD("READY", "worker → broker", s_ready_fields, "I exist, this is my stage and my credit"),
    [PROTO_HEARTBEAT] = CMD0("HEARTBEAT", "both ways (worker socket)", "I am alive"),
    [PROTO_TASK] = CMD("TASK", "broker → worker", s_task_fields, "do this"),
    [PROTO_RESULT] = CMD("RESULT", "worker → broker", s_task_fields, "done, here is the output (acks the task)"),
    [PROTO_NACK] = CMD("NACK", "worker → broker", s_nack_fields, "could not do it"),
    [PROTO_TOKEN_REQ] = CMD0("TOKEN_REQ", "fetcher → broker", "may I send one request to Vinted?"),
    [PROTO_TOKEN] = CMD("TOKEN", "broker → fetcher", s_token_fields, "yes, one request, through this identity"),
    [PROTO_DISCONNECT] = CMD0("DISCONNECT", "both ways", "I do not know you / I am leaving"),
    [PROTO_CTL_REQ] = CMD("CTL_REQ", "client → broker", s_ctl_req_fields, "a control request"),
    [PROTO_CTL_REP] = CMD("CTL_REP", "broker → client", s_ctl_rep_fields, "its reply"),
    [PROTO_REPORT] = CMD("REPORT", "worker → broker", s_report_fields, "an event worth knowing"),
};

/* --------------------------------------------------------------- bodies */

static const proto_field_t s_fetch_fields[] = {
    FLD(proto_fetch_t, F_I64, window_id, "the window this page belongs to"),
    FLD(proto_fetch_t, F_I32, catalog_id, "Vinted catalog id; 0 unless `kind` is CATALOG"),
    FLD(proto_fetch_t, F_I32, page,
        "1-based page number of the window: for CATALOG, sub-query s (0-based) pages as s × 10 + `api_page`; "
        "otherwise the page asked for"),
    FLD(proto_fetch_t, F_I32, per_page, "at most 96"),
    FLD(proto_fetch_t, F_I64, hwm,
        "CATALOG: the catalog's high-water mark, the largest item id already committed (0 = none); otherwise 0"),
    FLD(proto_fetch_t, F_I32, attempt,
        "CATALOG: bumped each time the window's fetching resumes after a broker restart (0 at first); otherwise 0"),
    FLD(proto_fetch_t, F_I32, kind, "what to fetch, a `proto_fetch_kind_t` (below)"),
    FLD(proto_fetch_t, F_I64, target_id,
        "USER_ITEMS and USER: the seller's user id; ITEM_PAGE: the item id; CATALOG: 0"),
    FLD(proto_fetch_t, F_I32, api_page,
        "CATALOG: the page asked of the API, 1..10 (the 960-result cap); otherwise equal to `page`"),
    FLD(proto_fetch_t, F_I64, price_from,
        "CATALOG: the sub-query's lowest price in minor units (scale 2, the site's currency), 0 for no lower bound"),
    FLD(proto_fetch_t, F_I64, price_to, "CATALOG: the sub-query's highest price in minor units, 0 for no upper bound"),
    FLD(proto_fetch_t, F_I64, pin_time,
        "CATALOG, `api_page` > 1: the `pin_time` of the sub-query's page 1 (the result set's `pagination.time`), "
        "asked as `time=` so that later pages do not shift as listings arrive (API v2 only; svc has no such "
        "parameter); 0 for none"),
    FLD(proto_fetch_t, F_STRN, site,
        "the Vinted site to ask (`pt`, `fr`, `co.uk` ...); nil: the fetcher's `VINTED_SITE`"),
};

static const proto_field_t s_page_fields[] = {
    FLD(proto_page_t, F_I64, window_id, "copied from the FETCH"),
    FLD(proto_page_t, F_I32, catalog_id, "copied from the FETCH"),
    FLD(proto_page_t, F_I32, page, "copied from the FETCH"),
    FLD(proto_page_t, F_I32, attempt, "copied from the FETCH"),
    FLD(proto_page_t, F_I64, fetched_at_ms, "when the response arrived; the first-seen watermark of its items"),
    FLD(proto_page_t, F_I32, http_status, "status of the final response"),
    FLD(proto_page_t, F_STR, site, "`pt`, `fr`, `co.uk` ..."),
    FLD(proto_page_t, F_STR, api, "`v2` or `svc`"),
    FLD(proto_page_t, F_STRN, url, "request URL, without secrets"),
    FLD(proto_page_t, F_STRN, error,
        "nil, or why the body is not usable, e.g. `malformed json after 4 attempts`"),
    FLD(proto_page_t, F_I32, n_items, "items on the page (ITEM_PAGE: 1, or 0 on a 404)"),
    FLD(proto_page_t, F_I64, max_item_id,
        "largest item id on the page, 0 if none (ITEM_PAGE: `target_id`, or 0 on a 404)"),
    FLD(proto_page_t, F_BOOL, more, "the broker should fetch the next page"),
    FLD(proto_page_t, F_I32, total_pages, "from the pagination block, 0 if unknown"),
    BIN(proto_page_t, body, body_len, "the response body, untouched"),
    FLD(proto_page_t, F_I32, kind, "copied from the FETCH"),
    FLD(proto_page_t, F_I64, target_id, "copied from the FETCH (0 for CATALOG)"),
    FLD(proto_page_t, F_I64, pin_time, "CATALOG: the response's `pagination.time` (unix seconds), 0 if absent"),
};

/* The batch body is these fields, then its lists (s_batch_lists) in order. */
static const proto_field_t s_batch_fields[] = {
    FLD(proto_batch_t, F_I64, window_id, "copied from the PAGE"),
    FLD(proto_batch_t, F_I32, catalog_id, "copied from the PAGE"),
    FLD(proto_batch_t, F_I32, page, "copied from the PAGE"),
    FLD(proto_batch_t, F_I32, attempt, "copied from the PAGE"),
    FLD(proto_batch_t, F_I64, fetched_at_ms, "copied from the PAGE; the observation time of snapshots and users"),
    FLD(proto_batch_t, F_I64, target_id,
        "copied from the PAGE (seller or item id of a tracking page, 0 for a catalog page)"),
    FLD(proto_batch_t, F_STRN, site, "copied from the PAGE: the site its items live on; nil if unknown"),
};

static const proto_field_t s_item_fields[] = {
    FLD(proto_item_t, F_I64, item_id, "Vinted item id"),
    FLD(proto_item_t, F_I32, catalog_id, ""),
    FLD(proto_item_t, F_STRN, title, ""),
    FLD(proto_item_t, F_I64N, price, "cents"),
    FLD(proto_item_t, F_STRN, currency, "ISO 4217"),
    FLD(proto_item_t, F_I64N, service_fee, "cents"),
    FLD(proto_item_t, F_I64N, total_price, "cents"),
    FLD(proto_item_t, F_STRN, brand, ""),
    FLD(proto_item_t, F_STRN, size_title, "raw, as Vinted shows it"),
    FLD(proto_item_t, F_STRN, size_kind, "`letter`, `eu`, `waist`, `age`, `one`, `other`"),
    FLD(proto_item_t, F_STRN, size_value, "normalized: `M`, `42`, `W32 L34`, `6-7y`"),
    FLD(proto_item_t, F_STRN, condition, "as served (localized)"),
    FLD(proto_item_t, F_I64N, user_id, ""),
    FLD(proto_item_t, F_STRN, user_login, ""),
    FLD(proto_item_t, F_STRN, url, "absolute"),
    FLD(proto_item_t, F_STRN, photo_url, "main photo"),
    FLD(proto_item_t, F_I64N, favourite_count, ""),
    FLD(proto_item_t, F_I64N, view_count, ""),
    FLD(proto_item_t, F_I64N, created_at, "unix seconds: main photo upload time, nil if unknown"),
    FLD(proto_item_t, F_I64, first_seen_at_ms, "the page's `fetched_at_ms`"),
    FLD(proto_item_t, F_I32, pos, "position on the page, 0-based"),
    FLD(proto_item_t, F_BOOL, promoted, ""),
};

static const proto_field_t s_quarantine_fields[] = {
    FLD(proto_quarantine_t, F_I32, pos, "position on the page; -1 for the whole page"),
    FLD(proto_quarantine_t, F_STR, rule,
        "`id_missing`, `price_invalid`, `text_invalid`, `malformed_page`, `http_error` ..."),
    FLD(proto_quarantine_t, F_STRN, detail, "human-readable reason"),
    BIN(proto_quarantine_t, raw, raw_len, "the raw JSON of the record, or the whole body"),
};

static const proto_field_t s_photo_fields[] = {
    FLD(proto_photo_t, F_I64, item_id, "the listing"),
    FLD(proto_photo_t, F_I64, photo_id, "Vinted photo id"),
    FLD(proto_photo_t, F_STR, url, "CDN URL as served"),
    FLD(proto_photo_t, F_BOOL, is_main, "the listing's main photo"),
    FLD(proto_photo_t, F_I32, position, "order within the listing, 0-based"),
};

static const proto_field_t s_snapshot_fields[] = {
    FLD(proto_snapshot_t, F_I64, item_id, ""),
    FLD(proto_snapshot_t, F_I64N, user_id, "the seller, nil if unknown"),
    FLD(proto_snapshot_t, F_I64N, price, "cents, nil if not shown"),
    FLD(proto_snapshot_t, F_STRN, currency, "ISO 4217"),
    FLD(proto_snapshot_t, F_I64N, favourite_count, "nil if not shown"),
    FLD(proto_snapshot_t, F_I64N, view_count, "nil if not shown"),
    FLD(proto_snapshot_t, F_BOOL, is_reserved, ""),
    FLD(proto_snapshot_t, F_BOOL, is_hidden, ""),
    FLD(proto_snapshot_t, F_BOOL, is_closed, "sold or otherwise closed"),
    FLD(proto_snapshot_t, F_STRN, closing_action, "`sold`, ... or nil"),
    FLD(proto_snapshot_t, F_BOOL, removed, "the item page answered 404 (the other fields are then empty)"),
};

static const proto_field_t s_user_fields[] = {
    FLD(proto_user_snapshot_t, F_I64, user_id, ""),
    FLD(proto_user_snapshot_t, F_STRN, login, ""),
    FLD(proto_user_snapshot_t, F_I64N, item_count, "nil when absent, for every count"),
    FLD(proto_user_snapshot_t, F_I64N, feedback_count, ""),
    FLD(proto_user_snapshot_t, F_I64N, feedback_reputation, "thousandths: 0.973 → `973`"),
    FLD(proto_user_snapshot_t, F_I64N, positive_feedback_count, ""),
    FLD(proto_user_snapshot_t, F_I64N, neutral_feedback_count, ""),
    FLD(proto_user_snapshot_t, F_I64N, negative_feedback_count, ""),
    FLD(proto_user_snapshot_t, F_I64N, followers_count, ""),
    FLD(proto_user_snapshot_t, F_STRN, city, ""),
    FLD(proto_user_snapshot_t, F_STRN, country, ""),
};

static const proto_field_t s_catalog_fields[] = {
    FLD(proto_catalog_t, F_I32, catalog_id, "catalog id, > 0"),
    FLD(proto_catalog_t, F_I32, parent_id, "parent catalog id, 0 for a root"),
    FLD(proto_catalog_t, F_STR, title, "the catalog's name on the site"),
    FLD(proto_catalog_t, F_STRN, code, "e.g. `WOMENS`"),
    FLD(proto_catalog_t, F_STRN, url, "the catalog's path on the site"),
    FLD(proto_catalog_t, F_I32, depth, "0 for a root"),
};

#define LIST(name, scope, fields, T, max, count, array, hint, meaning, record_meaning)                       \
    {name,           scope,    fields, PROTO_COUNT(fields), sizeof(T), max, offsetof(proto_batch_t, count),     \
     offsetof(proto_batch_t, array), hint, meaning, record_meaning}

static const proto_list_t s_batch_lists[] = {
    LIST("items", "item", s_item_fields, proto_item_t, PROTO_MAX_ITEMS, n_items, items, 512, "",
         "one normalized listing"),
    LIST("quarantine", "quarantine", s_quarantine_fields, proto_quarantine_t, PROTO_MAX_QUARANTINE, n_quarantine,
         quarantine, 128, "", "a record that broke a validation rule, or a page that could not be parsed"),
    LIST("photos", "photo", s_photo_fields, proto_photo_t, PROTO_MAX_ITEMS * 8, n_photos, photos, 0,
         "the photos of the items above", "one photo of a listing, as the listing shows it"),
    LIST("snapshots", "snapshot", s_snapshot_fields, proto_snapshot_t, PROTO_MAX_ITEMS, n_snapshots, snapshots, 0,
         "tracking observations of listings",
         "one observation of a listing by the tracking flow, at the batch's `fetched_at_ms`"),
    LIST("users", "user", s_user_fields, proto_user_snapshot_t, PROTO_MAX_ITEMS, n_users, users, 0,
         "observations of sellers", "one observation of a seller's public counters, at the batch's `fetched_at_ms`"),
    LIST("catalogs", "catalog", s_catalog_fields, proto_catalog_t, PROTO_MAX_ITEMS, n_catalogs, catalogs, 0,
         "the catalog tree of a CATALOGS page", "one node of the site's catalog tree"),
};

static const proto_field_t s_commit_fields[] = {
    FLD(proto_commit_t, F_I64, window_id, "copied from the BATCH or PHOTO"),
    FLD(proto_commit_t, F_I32, page, "copied from the BATCH; 0 for a PHOTO"),
    FLD(proto_commit_t, F_I32, attempt, "copied from the BATCH; 0 for a PHOTO"),
    FLD(proto_commit_t, F_I32, rows, "item and snapshot rows upserted (1 for a PHOTO)"),
    FLD(proto_commit_t, F_I32, quarantined, "quarantine rows written (0 for a PHOTO)"),
};

static const proto_field_t s_load_fields[] = {
    FLD(proto_load_t, F_STR, key, "object key in the raw landing area (section 11)"),
};

static const proto_field_t s_stored_fields[] = {
    FLD(proto_stored_t, F_I64, window_id, "copied from the PAGE"),
    FLD(proto_stored_t, F_I32, page, "copied from the PAGE"),
    FLD(proto_stored_t, F_I32, attempt, "copied from the PAGE"),
    FLD(proto_stored_t, F_STR, key, "the object's key (section 11)"),
    FLD(proto_stored_t, F_I64, bytes, "stored (compressed) size"),
};

static const proto_field_t s_image_fields[] = {
    FLD(proto_image_t, F_I64, window_id,
        "the window whose commit asked for it (the catalog or tracking window, not the images window)"),
    FLD(proto_image_t, F_I64, item_id, "> 0"),
    FLD(proto_image_t, F_I64, photo_id, "> 0"),
    FLD(proto_image_t, F_STR, url, "CDN URL as served, not empty"),
};

static const proto_field_t s_photo_stored_fields[] = {
    FLD(proto_photo_stored_t, F_I64, window_id, "copied from the IMAGE"),
    FLD(proto_photo_stored_t, F_I64, item_id, "copied from the IMAGE"),
    FLD(proto_photo_stored_t, F_I64, photo_id, "copied from the IMAGE"),
    FLD(proto_photo_stored_t, F_STR, key, "`images/<item_id>/<photo_id>.<ext>`"),
    FLD(proto_photo_stored_t, F_I64, bytes, "size of the stored photo"),
    FLD(proto_photo_stored_t, F_STRN, content_type, "e.g. `image/webp`"),
    FLD(proto_photo_stored_t, F_STRN, sha256, "hex digest of the stored bytes"),
    FLD(proto_photo_stored_t, F_BOOL, skipped, "it was already stored and was not downloaded again"),
};

#define BY_TASK (1u << PROTO_TASK)
#define BY_RESULT (1u << PROTO_RESULT)
#define BODY(name, by, member, fields, meaning, flow)                                                        \
    {name, by, offsetof(proto_msg_t, u.member), fields, PROTO_COUNT(fields), NULL, 0, meaning, flow}

const proto_body_row_t proto_bodies[PROTO_BODIES] = {
    [PROTO_BODY_NONE] = {"NONE", 0, 0, NULL, 0, NULL, 0, "", ""},
    [PROTO_BODY_FETCH] = BODY("FETCH", BY_TASK, fetch, s_fetch_fields, "fetch one page from Vinted",
                              "broker → fetcher"),
    [PROTO_BODY_PAGE] = BODY("PAGE", BY_TASK | BY_RESULT, page, s_page_fields, "one raw response with its context",
                             "fetcher → broker; broker → transformer and store; store → broker (replay)"),
    [PROTO_BODY_BATCH] = {"BATCH", BY_TASK | BY_RESULT, offsetof(proto_msg_t, u.batch), s_batch_fields,
                          PROTO_COUNT(s_batch_fields), s_batch_lists, PROTO_COUNT(s_batch_lists),
                          "normalized records of one page", "transformer → broker → sink"},
    [PROTO_BODY_COMMIT] = BODY("COMMIT", BY_RESULT, commit, s_commit_fields, "the sink committed a task",
                               "sink → broker"),
    [PROTO_BODY_LOAD] = BODY("LOAD", BY_TASK, load, s_load_fields, "read one raw page back (replay)",
                             "broker → store"),
    [PROTO_BODY_STORED] = BODY("STORED", BY_RESULT, stored, s_stored_fields,
                               "a raw page landed in the object store", "store → broker"),
    [PROTO_BODY_IMAGE] = BODY("IMAGE", BY_TASK, image, s_image_fields, "download one photo into the object store",
                              "broker → photo"),
    [PROTO_BODY_PHOTO] = BODY("PHOTO", BY_TASK | BY_RESULT, photo, s_photo_stored_fields,
                              "a photo is in the object store", "photo → broker → sink"),
};

bool proto_body_allowed(proto_cmd_t cmd, uint64_t body)
{
    return body > PROTO_BODY_NONE && body < PROTO_BODIES && (unsigned)cmd < 32 &&
           (proto_bodies[body].carried_by & (1u << cmd)) != 0;
}

bool proto_cmd_has_body(proto_cmd_t cmd)
{
    if (cmd < PROTO_READY || cmd > PROTO_CMD_LAST)
        return false;
    for (size_t i = 0; i < proto_cmds[cmd].n_fields; i++)
        if (proto_cmds[cmd].fields[i].type == F_BODY)
            return true;
    return false;
}

const char *proto_type_name(proto_ftype_t type)
{
    static const char *names[] = {
        [F_I32] = "i32",   [F_I64] = "i64",    [F_I64N] = "i64?",       [F_BOOL] = "bool",
        [F_STR] = "str",   [F_STRN] = "str?",  [F_BIN] = "bin?",        [F_STAGE] = "stage",
        [F_U64] = "u64",   [F_BODY_KIND] = "kind", [F_BODY] = "array", [F_ARGS] = "map",
    };
    return (size_t)type < PROTO_COUNT(names) && names[type] ? names[type] : "?";
}
