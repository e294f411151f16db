/*  parse_internal.h - what the files of the transformer's parser share; for
    workers/transformer/parse*.c only (the API is parse.h).

    parse.c holds the entry point parse_page (the checks of a page as a whole
    and the dispatch on its kind) and the quarantine records; each other file
    reads one source format, over the field readers of parse_fields.c:
      parse_item.c       catalog items, v2 and svc-catalogue alike: one set of
                         item rules reads either generation by the keys present
                         (sellers' lists apply the same rules)
      parse_svc.c        what only svc-catalogue items have: item_box's second
                         line "size · condition", and the condition labels
      parse_photos.c     the photos of catalog and seller items
      parse_seller.c     sellers' item lists and profiles
      parse_item_page.c  the public item page (its JSON-LD Product)
      parse_catalogs.c   the catalog tree
      parse_testing.c    the self-test kit the files' tests share
    parse_test (parse.h) runs every file's self-test (declared at the end).
*/
#ifndef PARSE_INTERNAL_H_INCLUDED
#define PARSE_INTERNAL_H_INCLUDED

#include "parse.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PARSE_DETAIL 256 /* room for a quarantine record's detail */

/* One parse_page call: the page, the message it fills, and the room left. */
typedef struct {
    const proto_page_t *page;
    proto_msg_t *out;
    proto_batch_t *batch;
    size_t cap;     /* room in batch->items (or snapshots) and batch->quarantine */
    size_t photo_cap; /* room in batch->photos */
    char base[64];  /* "https://www.vinted.pt", or "" when the page's site is unusable */
    bool oom;
} parse_ctx_t;

/* A piece of a string (not NUL-terminated). */
typedef struct {
    const char *s;
    size_t n;
} parse_span_t;

/* What an item that passed the rules holds (pointers into the cJSON tree). */
typedef struct {
    int64_t id;
    int64_t price, fee, total; /* cents; fee and total may be PROTO_NULL */
    char currency[4];
    const char *title, *brand, *login, *url, *photo_url;
    parse_span_t size, cond;
    const cJSON *photo; /* the main photo object, or NULL */
    int64_t user_id, created, favourites, views;
} parse_fields_t;

/* ------------------------------------------------- parse.c: quarantine */

/* Quarantine record at pos for the JSON value item (its text is the raw
   record). 0 ok, -1 out of memory. */
int parse_reject_item(parse_ctx_t *ctx, int32_t pos, const char *rule, const char *detail,
                      const cJSON *item);
/* The whole page is unusable: no records but one at pos -1 with the body.
   0 ok, -1 out of memory. */
int parse_reject_page(parse_ctx_t *ctx, const char *rule, const char *detail);

/* -------------------------------------------- parse_fields.c: field readers */

/* A copy of s (n bytes) in the result's arena; NULL for NULL, and NULL with
   ctx->oom set when memory ran out. */
char *parse_dupn(parse_ctx_t *ctx, const char *s, size_t n);
char *parse_dup(parse_ctx_t *ctx, const char *s);
/* obj's member key, or NULL (obj not an object, or no such key). */
const cJSON *parse_get(const cJSON *obj, const char *key);
/* obj's member key when it is a string, else NULL. */
const char *parse_string(const cJSON *obj, const char *key);
/* True if s is only spaces, tabs and line ends. */
bool parse_blank(const char *s);
/* A non-negative integer: a JSON number that is integral and exact, or a string of digits. */
bool parse_uint(const cJSON *n, int64_t *out);
/* A photo's upload time (Unix seconds or milliseconds) in seconds, or PROTO_NULL. */
int64_t parse_plausible_time(int64_t t);
/* Free text for a detail: valid UTF-8 only, cut to fit cap (>= 8), no control characters. */
void parse_show(char *dst, size_t cap, const char *s);
/* A short description of a JSON value for a detail: 1.5, "abc", an object... */
void parse_repr(char *dst, size_t cap, const cJSON *n);
/* Cents as decimal text: "-20.00". */
void parse_cents_text(char *dst, size_t cap, int64_t c);
/* A money value: {amount, currency_code} (its code in *code when code is not
   NULL), "3.0", or 3.0. 1: absent (missing or null); 0: ok; -1: invalid,
   reason in why. */
int parse_money(const cJSON *n, int64_t *cents, const char **code, char *why, size_t whylen);
/* A counter the database keeps as int: PROTO_NULL when absent or out of range. */
int64_t parse_count(const cJSON *n);
/* The n bytes at s without the spaces and tabs around them. */
parse_span_t parse_trim(const char *s, size_t n);
/* Why root holds no usable key (an array for "items", an object for "user"),
   as a malformed_page detail. */
void parse_missing(const cJSON *root, const char *key, bool array, char *detail, size_t cap);

/* ------------------------------------------------------ the source formats */

/* parse_svc.c: item_box.second_line, "size · condition", "condition" or
   "size", split (a part not there has s NULL). */
void parse_second_line(const char *line, parse_span_t *size, parse_span_t *cond);

/* parse_item.c: the item rules (parse.h), shared by catalog and seller pages.
   0: valid, fields filled; 1: quarantined; -1: out of memory. */
int parse_validate(parse_ctx_t *ctx, const cJSON *it, int32_t pos, parse_fields_t *f);
/* One catalog item: the item and its photos, or a quarantine record. 0 ok, -1 out of memory. */
int parse_item(parse_ctx_t *ctx, const cJSON *it, int32_t pos);

/* parse_photos.c: every photo item it (id item_id) shows, into batch.photos.
   0 ok, -1 out of memory. */
int parse_photos(parse_ctx_t *ctx, const cJSON *it, int64_t item_id);

/* parse_seller.c: one item of a seller's list (a snapshot, the seller from the
   first valid one), and a seller's profile {user:{...}}. 0 ok, -1 out of memory. */
int parse_seller_item(parse_ctx_t *ctx, const cJSON *it, int32_t pos);
int parse_profile(parse_ctx_t *ctx, const cJSON *root);

/* parse_item_page.c: the public item page (HTML, len bytes at text), and the
   snapshot of a listing that is gone (404). 0 ok, -1 out of memory. */
int parse_item_page(parse_ctx_t *ctx, const char *text, size_t len);
int parse_removed(parse_ctx_t *ctx);

/* parse_catalogs.c: the catalog tree, nested or flat. 0 ok, -1 out of memory. */
int parse_catalogs(parse_ctx_t *ctx, const cJSON *root);

/* ----------------------------------------- parse_testing.c: the test kit */

/* An item page's JSON-LD script tag, and a BreadcrumbList block before the Product. */
#define PARSE_TEST_LD_OPEN "<script type=\"application/ld+json\">"
#define PARSE_TEST_CRUMBS                                                                              \
    PARSE_TEST_LD_OPEN "{\"@context\":\"https://schema.org\",\"@type\":\"BreadcrumbList\",\"itemListElement\":[]}</script>"

/* Fixtures use ' for " to stay readable: a copy with them turned (free it). */
char *parse_test_fixture(const char *text);
/* parse_page on a catalog page (window 7, catalog 221, page 2) of this body; asserts it went well. */
proto_msg_t *parse_test_run_bytes(const char *body, size_t len, const char *site, int status,
                                  const char *error);
/* The same with a fixture, status 200. */
proto_msg_t *parse_test_run(const char *fixture, const char *site);
/* The single item of a one-item page must be quarantined under rule. */
void parse_test_expect_rule(const char *item_fixture, const char *rule, bool verbose);
/* A one-item page must give one item; returns the message for more checks. */
proto_msg_t *parse_test_expect_item(const char *item_fixture, const char *site);
/* got and want are both NULL or the same text. */
void parse_test_streq(const char *got, const char *want);
/* What every batch must satisfy, whatever the input. */
void parse_test_check_batch(const proto_batch_t *b);
/* parse_page on a page of this kind and target (window 8, site pt); the batch is checked. */
proto_msg_t *parse_test_run_kind(const char *body, size_t len, int32_t kind, int64_t target, int status);
/* A page of this kind whose first quarantine record must be under rule. */
void parse_test_expect_kind_rule(const char *body, size_t len, int32_t kind, int64_t target, int status,
                                 const char *rule);
/* A fixture (' for ") as a page of this kind. */
proto_msg_t *parse_test_run_fixture(const char *fixture, int32_t kind, int64_t target, int status);
/* Photo photo_id of item_id in b, or NULL. */
const proto_photo_t *parse_test_find_photo(const proto_batch_t *b, int64_t item_id, int64_t photo_id);
/* b holds that photo, with that url (unless NULL), flag and position. */
void parse_test_expect_photo(const proto_batch_t *b, int64_t item_id, int64_t photo_id, const char *url,
                             bool is_main, int32_t position);

/* Each file's self-test, run by parse_test. */
void parse_item_test(bool verbose);
void parse_svc_test(bool verbose);
void parse_photos_test(bool verbose);
void parse_seller_test(bool verbose);
void parse_item_page_test(bool verbose);
void parse_catalogs_test(bool verbose);

#endif
