/*  proto.h - the vinted-pipeline wire format: every message exchanged between
    the broker, the workers and control clients, encoded with msgpack.

    This module is the only place that knows the bytes on the wire; the
    conversation itself (who sends what, when) is specified in PROTOCOL.md.
    A message is one ZeroMQ frame holding one msgpack array:
        [ version, command, body... ]
    Decoding never trusts its input: a malformed frame yields NULL and a reason.
*/
#ifndef PROTO_H_INCLUDED
#define PROTO_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PROTO_VERSION 1

/* Heartbeating (Paranoid Pirate style, both directions). */
#define PROTO_HEARTBEAT_MS 1000 /* send a heartbeat after this much silence */
#define PROTO_LIVENESS_MS 5000  /* a peer silent this long is dead */

/* Integers that may be absent travel as msgpack nil and live in C as this. */
#define PROTO_NULL INT64_MIN

typedef enum {
    PROTO_READY = 1,     /* worker -> broker: I exist, this is my stage */
    PROTO_HEARTBEAT = 2, /* both ways */
    PROTO_TASK = 3,      /* broker -> worker: do this */
    PROTO_RESULT = 4,    /* worker -> broker: done, here is the output (acks the task) */
    PROTO_NACK = 5,      /* worker -> broker: could not do it (retry later or give up) */
    PROTO_TOKEN_REQ = 6, /* fetcher -> broker: may I send one request to Vinted? */
    PROTO_TOKEN = 7,     /* broker -> fetcher: yes, one request, through this identity */
    PROTO_DISCONNECT = 8,/* broker -> worker: I do not know you, reconnect */
    PROTO_CTL_REQ = 9,   /* control client -> broker */
    PROTO_CTL_REP = 10,  /* broker -> control client */
    PROTO_REPORT = 11,   /* worker -> broker: an event worth knowing (403 block, ...) */
} proto_cmd_t;

typedef enum {
    PROTO_STAGE_NONE = 0,
    PROTO_STAGE_FETCH = 1,
    PROTO_STAGE_TRANSFORM = 2,
    PROTO_STAGE_SINK = 3,
    PROTO_STAGE_STORE = 4, /* the object store: raw landing area, replay loads */
    PROTO_STAGE_PHOTO = 5, /* photo downloads into the object store (own credit: a dead CDN never delays raw landing) */
} proto_stage_t;
#define PROTO_STAGES 6

/* What a TASK or RESULT carries. */
typedef enum {
    PROTO_BODY_NONE = 0,
    PROTO_BODY_FETCH = 1,  /* proto_fetch_t: fetch one catalog page */
    PROTO_BODY_PAGE = 2,   /* proto_page_t: a raw API response with its context */
    PROTO_BODY_BATCH = 3,  /* proto_batch_t: normalized records of one page */
    PROTO_BODY_COMMIT = 4, /* proto_commit_t: the sink committed a batch */
    PROTO_BODY_LOAD = 5,   /* proto_load_t: read a stored raw page back (replay) */
    PROTO_BODY_STORED = 6, /* proto_stored_t: a raw page is in the object store */
    PROTO_BODY_IMAGE = 7,  /* proto_image_t: download one photo into the object store */
    PROTO_BODY_PHOTO = 8,  /* proto_photo_stored_t: a photo is in the object store */
} proto_body_t;

/* What a fetch task asks Vinted for (proto_fetch_t.kind, echoed in proto_page_t.kind). */
typedef enum {
    PROTO_FETCH_CATALOG = 0,    /* a catalog page, newest first (the catalog flow) */
    PROTO_FETCH_USER_ITEMS = 1, /* a seller's items: /api/v2/users/{target_id}/items (tracking) */
    PROTO_FETCH_ITEM_PAGE = 2,  /* the public item page /items/{target_id} (tracking fallback) */
    PROTO_FETCH_USER = 3,       /* a seller's profile: /api/v2/users/{target_id} (tracking: counters) */
    PROTO_FETCH_CATALOGS = 4,   /* the site's catalog tree: /api/v2/catalogs (names for the reports) */
} proto_fetch_kind_t;

typedef struct {
    proto_stage_t stage;
    char *name;       /* free text: host:pid, for status and logs */
    int32_t capacity; /* tasks the worker accepts in flight (credit) */
} proto_ready_t;

/* Fetch one page of one catalog's newest listings. */
typedef struct {
    int64_t window_id;
    int32_t catalog_id;
    int32_t page;     /* 1-based page of the window (see api_page) */
    int32_t per_page; /* at most 96 */
    int64_t hwm;      /* catalog high-water mark: largest item id already committed (0 = none) */
    int32_t attempt;  /* how many times this page was dispatched before */
    int32_t kind;      /* proto_fetch_kind_t */
    int64_t target_id; /* USER_ITEMS: the seller's id; ITEM_PAGE: the item's id; else 0 */
    /* CATALOG: the sub-query (a window split past the 960-result cap asks price bands) */
    int32_t api_page;   /* the page asked of the API; part s of a split window is pages s*10 + api_page */
    int64_t price_from; /* minor units (scale 2), 0: no lower bound */
    int64_t price_to;   /* minor units, 0: no upper bound */
    int64_t pin_time;   /* the result set's pagination.time from its page 1 (unix s), 0: none */
    char *site;         /* the Vinted site to ask ("pt", "fr", "co.uk"...); NULL: the fetcher's VINTED_SITE */
} proto_fetch_t;

/* A raw API response, untouched, with its request context. */
typedef struct {
    int64_t window_id;
    int32_t catalog_id;
    int32_t page;
    int32_t attempt;
    int64_t fetched_at_ms; /* UTC unix milliseconds of the response: the first-seen watermark */
    int32_t http_status;
    char *site;      /* "pt", "fr", "co.uk" ... */
    char *api;       /* "v2" or "svc" */
    char *url;       /* request URL without secrets */
    char *error;     /* NULL, or why the body could not be fetched/parsed (e.g. "malformed json") */
    /* what the fetcher saw, which drives the broker's paging */
    int32_t n_items;     /* items on this page */
    int64_t max_item_id; /* largest item id on the page (0 if none) */
    bool more;           /* the broker should fetch the next page */
    int32_t total_pages; /* from the pagination block, 0 if unknown */
    uint8_t *body;
    size_t body_len;
    int32_t kind;      /* proto_fetch_kind_t of the request */
    int64_t target_id; /* as in the fetch task */
    int64_t pin_time;  /* CATALOG: the response's pagination.time (unix s), 0 if absent */
} proto_page_t;

/* One normalized listing. Strings may be NULL; integers may be PROTO_NULL.
   Money is in minor units with a fixed scale of 2 (numeric(12,2)): "20.5" -> 2050. */
typedef struct {
    int64_t item_id;
    int32_t catalog_id;
    char *title;
    int64_t price;         /* cents */
    char *currency;        /* ISO 4217, 3 letters */
    int64_t service_fee;   /* cents */
    int64_t total_price;   /* cents */
    char *brand;
    char *size_title;      /* raw, as Vinted shows it */
    char *size_kind;       /* parsed: "letter", "eu", "waist", "age", "one", "other" */
    char *size_value;      /* parsed, normalized: "M", "42", "W32 L34", "6-7y" */
    char *condition;
    int64_t user_id;
    char *user_login;
    char *url;             /* absolute */
    char *photo_url;       /* main photo */
    int64_t favourite_count;
    int64_t view_count;
    int64_t created_at;    /* unix seconds, main photo upload time; PROTO_NULL if unknown */
    int64_t first_seen_at_ms; /* the page's fetch watermark */
    int32_t pos;           /* position on the page, 0-based */
    bool promoted;
} proto_item_t;

/* Bits of an item's null mask: which optional fields were missing (sightings.null_mask). */
enum {
    PROTO_NULL_TITLE = 1 << 0,
    PROTO_NULL_PRICE = 1 << 1,
    PROTO_NULL_CURRENCY = 1 << 2,
    PROTO_NULL_BRAND = 1 << 3,
    PROTO_NULL_SIZE = 1 << 4,
    PROTO_NULL_CONDITION = 1 << 5,
    PROTO_NULL_USER = 1 << 6,
    PROTO_NULL_URL = 1 << 7,
    PROTO_NULL_PHOTO = 1 << 8,
    PROTO_NULL_FAVOURITES = 1 << 9,
    PROTO_NULL_VIEWS = 1 << 10,
    PROTO_NULL_CREATED = 1 << 11,
};
#define PROTO_NULL_FIELDS 12
uint32_t proto_item_null_mask(const proto_item_t *item);
/* "title", "price", ... for bit i (0..PROTO_NULL_FIELDS-1). */
const char *proto_null_field_name(int bit);

/* A record that broke a validation rule, or a page that could not be parsed. */
typedef struct {
    int32_t pos;  /* position on the page; -1 for the whole page */
    char *rule;   /* "id_missing", "price_invalid", "malformed_page", ... */
    char *detail; /* human-readable reason */
    uint8_t *raw; /* the raw JSON of the record (or the whole body) */
    size_t raw_len;
} proto_quarantine_t;

/* One photo of a listing, as the listing shows it. */
typedef struct {
    int64_t item_id;
    int64_t photo_id;
    char *url;      /* CDN URL as served */
    bool is_main;
    int32_t position; /* order within the listing, 0-based */
} proto_photo_t;

/* One observation of a listing by the tracking flow. */
typedef struct {
    int64_t item_id;
    int64_t user_id;          /* PROTO_NULL if unknown */
    int64_t price;            /* cents, PROTO_NULL if not shown */
    char *currency;
    int64_t favourite_count;  /* PROTO_NULL if not shown */
    int64_t view_count;       /* PROTO_NULL if not shown */
    bool is_reserved;
    bool is_hidden;
    bool is_closed;           /* sold or otherwise closed */
    char *closing_action;     /* "sold", ... or NULL */
    bool removed;             /* the item page answered 404 */
} proto_snapshot_t;

/* One observation of a seller's public counters. */
typedef struct {
    int64_t user_id;
    char *login;
    int64_t item_count;          /* PROTO_NULL when absent, for every count */
    int64_t feedback_count;
    int64_t feedback_reputation; /* thousandths: 0.973 -> 973 */
    int64_t positive_feedback_count;
    int64_t neutral_feedback_count;
    int64_t negative_feedback_count;
    int64_t followers_count;
    char *city;
    char *country;
} proto_user_snapshot_t;

/* One node of the site's catalog tree. */
typedef struct {
    int32_t catalog_id;
    int32_t parent_id;  /* 0 for a root */
    char *title;
    char *code;         /* e.g. "WOMENS", or NULL */
    char *url;          /* the catalog's path on the site, e.g. "/women/clothes", or NULL */
    int32_t depth;      /* 0 for a root */
} proto_catalog_t;

/* Normalized output of one raw page. */
typedef struct {
    int64_t window_id;
    int32_t catalog_id;
    int32_t page;
    int32_t attempt;
    int64_t fetched_at_ms;
    int64_t target_id;        /* the page's target (seller or item id for tracking pages; 0 for catalog pages) */
    char *site;               /* the site the page came from (its items live there); NULL if unknown */
    size_t n_items;
    proto_item_t *items;
    size_t n_quarantine;
    proto_quarantine_t *quarantine;
    size_t n_photos;          /* photos of the items above */
    proto_photo_t *photos;
    size_t n_snapshots;       /* tracking observations (observed at fetched_at_ms) */
    proto_snapshot_t *snapshots;
    size_t n_users;           /* seller observations (observed at fetched_at_ms) */
    proto_user_snapshot_t *users;
    size_t n_catalogs;        /* the catalog tree (from a CATALOGS page) */
    proto_catalog_t *catalogs;
} proto_batch_t;

/* The sink's acknowledgement that a batch is committed. */
typedef struct {
    int64_t window_id;
    int32_t page;
    int32_t attempt;
    int32_t rows;        /* item rows upserted */
    int32_t quarantined; /* quarantine rows written */
} proto_commit_t;

/* Read one raw page back from the object store (replay). */
typedef struct {
    char *key; /* object key in the raw landing area */
} proto_load_t;

/* A raw page landed in the object store. */
typedef struct {
    int64_t window_id;
    int32_t page;
    int32_t attempt;
    char *key;
    int64_t bytes; /* stored (compressed) size */
} proto_stored_t;

/* Download one photo into the object store. */
typedef struct {
    int64_t window_id; /* the window whose commit asked for it */
    int64_t item_id;
    int64_t photo_id;
    char *url;         /* CDN URL as served */
} proto_image_t;

/* A photo is in the object store (or was already there). */
typedef struct {
    int64_t window_id;
    int64_t item_id;
    int64_t photo_id;
    char *key;          /* images/<item_id>/<photo_id>.<ext> */
    int64_t bytes;
    char *content_type;
    char *sha256;       /* hex */
    bool skipped;       /* it was already stored: not downloaded again */
} proto_photo_stored_t;

typedef struct {
    char *reason;
    int64_t retry_after_ms; /* when to try again; PROTO_NULL = broker's default */
    bool permanent;         /* true: do not retry, fail the window */
} proto_nack_t;

typedef struct {
    char *event;   /* "blocked", "session_renewed", "rate_limited" ... */
    char *detail;
    int64_t backoff_ms; /* for "blocked": stop the identity's fetching this long */
    int32_t identity;   /* the egress identity (VINTED_PROXIES index) it happened on */
} proto_report_t;

/* A request token, for one egress identity. */
typedef struct {
    int32_t identity; /* VINTED_PROXIES index: send the request through that proxy, with its cookies */
} proto_token_t;

/* Control: a verb and string arguments, as given on vinted-ctl's command line. */
#define PROTO_CTL_MAXARGS 16
typedef struct {
    char *verb; /* "window", "status", ... */
    size_t n_args;
    char *keys[PROTO_CTL_MAXARGS];
    char *values[PROTO_CTL_MAXARGS];
} proto_ctl_req_t;

typedef struct {
    int32_t status; /* 0 ok, otherwise an error (non-zero exit of vinted-ctl) */
    char *message;  /* human-readable */
    char *json;     /* machine-readable detail, a JSON text (may be NULL) */
} proto_ctl_rep_t;

typedef struct proto_msg {
    proto_cmd_t cmd;
    uint64_t task_id;   /* TASK, RESULT, NACK */
    proto_body_t body;  /* TASK, RESULT */
    union {
        proto_ready_t ready;
        proto_fetch_t fetch;
        proto_page_t page;
        proto_batch_t batch;
        proto_commit_t commit;
        proto_load_t load;
        proto_stored_t stored;
        proto_image_t image;
        proto_photo_stored_t photo;
        proto_nack_t nack;
        proto_report_t report;
        proto_token_t token;
        proto_ctl_req_t ctl_req;
        proto_ctl_rep_t ctl_rep;
    } u;
    /* private: the message owns its strings and arrays in a block arena;
       pointers into it stay valid until proto_msg_destroy */
    struct proto_arena *arena_;
} proto_msg_t;

/* A zeroed message of this command (integers that may be absent set to PROTO_NULL where needed). */
proto_msg_t *proto_msg_new(proto_cmd_t cmd);
/* A TASK or RESULT with this task id carrying this body kind (NULL if the command may not carry it). */
proto_msg_t *proto_msg_new_body(proto_cmd_t cmd, uint64_t task_id, proto_body_t body);
void proto_msg_destroy(proto_msg_t **self_p);
/* Make msg's body an empty BATCH of this page: window, catalog, page, attempt,
   fetch time, target and site copied (the site into msg's arena; empty -> NULL). */
void proto_batch_of_page(proto_msg_t *msg, const proto_page_t *page);

/* Encode into a freshly malloc'ed buffer; returns 0 and sets *data and *size, or -1. */
int proto_encode(const proto_msg_t *msg, uint8_t **data, size_t *size);

/* Decode untrusted bytes. Returns a message, or NULL with a reason in err. */
proto_msg_t *proto_decode(const uint8_t *data, size_t size, char *err, size_t errlen);

/* Copy a string into the message's arena (for messages being built); NULL stays NULL. */
char *proto_msg_strdup(proto_msg_t *msg, const char *s);
/* Allocate zeroed memory in the message's arena (for item and quarantine arrays). */
void *proto_msg_alloc(proto_msg_t *msg, size_t size);

const char *proto_cmd_name(proto_cmd_t cmd);
const char *proto_stage_name(proto_stage_t stage);
proto_stage_t proto_stage_from_name(const char *name);

void proto_test(bool verbose);

#endif
