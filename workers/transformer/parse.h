/*  parse.h - the transformer's core: turn one raw Vinted response (a
    proto_page_t) into a normalized batch, with proto_quarantine_t records for
    everything that broke a rule. What the batch holds depends on page->kind:
      PROTO_FETCH_CATALOG     a catalog search page: items, and the photos
                              of the valid ones;
      PROTO_FETCH_USER_ITEMS  a seller's list (/api/v2/users/{id}/items):
                              one snapshot per valid item (never items), one
                              users entry for the seller (from the first valid
                              item's embedded user; counters PROTO_NULL when
                              absent), and the items' photos;
      PROTO_FETCH_ITEM_PAGE   the public page /items/{target_id}: 404 is one
                              snapshot with removed=true; 200 is one snapshot
                              from the JSON-LD Product's offer (SoldOut or
                              OutOfStock: closed, "sold").
      PROTO_FETCH_USER        a seller's profile (/api/v2/users/{target_id},
                              {user:{...}}): 200 is one users entry (keys
                              id, login, item_count, feedback_count,
                              feedback_reputation 0..1 -> thousandths half
                              up, positive_/neutral_/negative_feedback_count,
                              followers_count, city, country_title, else
                              country_code, else country; a counter absent
                              or unusable is PROTO_NULL); 404 is no record
                              at all (the seller is gone: not an error).
      PROTO_FETCH_CATALOGS    the catalog tree (/api/v2/catalogs), nested
                              {catalogs:[{id,title,code,url,catalogs:[..]}]} or
                              flat {catalogs:{"<id>":{..,parent_id}},
                              catalog_children_tree}: batch.catalogs with
                              parent_id (0 = root) and depth; nodes without an
                              id or title are quarantined (id_missing,
                              title_missing; a looping parent chain:
                              parent_invalid); neither form: malformed_page.

    Both API generations are understood, item by item, by the keys present:
    v2 items (brand_title, size_title, status, absolute url, photo{...}) and
    svc-catalogue items (item_box.first_line = brand, item_box.second_line =
    "size · condition", relative url, photos[]). Every string and array of the
    batch lives in the result message's arena.

    Item rules, the first that fails wins: item_not_object, id_missing,
    price_missing, price_invalid (price, service_fee or total_item_price),
    price_not_positive, currency_unknown, title_missing, text_invalid (a kept
    string is not UTF-8 or holds NUL). An item's favourite and view counters
    beyond the int range, and a main photo timestamp past the year 9999
    (created_at), are unknown (PROTO_NULL), as if absent: the database could
    not hold them. Seller-list items follow the same rules
    (and text_invalid for an item_closing_action that is not a text).
    Page rules (pos -1, raw = whole body): malformed_page (fetch error, not
    JSON, no items array, unknown kind, an item page without a JSON-LD
    Product), http_error.
    Item page rules (pos 0, raw = the Product): price_invalid,
    price_not_positive, currency_unknown (for a price shown; an absent price
    is a NULL price, not an error), id_mismatch (the Product's productID/sku
    is another item).
    Profile rules: malformed_page (pos -1: no user object, not JSON, a
    fetch error, no target_id), and at pos 0 with raw = the user object:
    id_missing (user.id not a positive integer), id_mismatch (another user
    than target_id), text_invalid (login, city or a country key not UTF-8).
    Photos (item_id, photo_id, url, is_main, position): v2 `photo` is the main
    one at position 0; `photos[]` gives position = index, is_main = its flag,
    else the first one when no other is main. A photo without a positive
    integer id or an http(s) url is skipped; an (item, photo) pair appears
    once per batch.
*/
#ifndef PARSE_H_INCLUDED
#define PARSE_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include "../../proto/proto.h"

/* More items than this on one page is a malformed page (the wire limit). */
#define PARSE_MAX_ITEMS 100000

/* Fill out (normally a fresh PROTO_RESULT) with body PROTO_BODY_BATCH built from
   page. Bad input is never an error here: it becomes quarantine records.
   0 ok; -1 only when memory ran out (the batch is then unusable). */
int parse_page(const proto_page_t *page, proto_msg_t *out);

/* True if the len bytes at s are a Vinted condition label in one of the site
   languages ("Muito bom", "Neuf avec étiquette", "Bardzo dobry"...), any case. */
bool parse_is_condition(const char *s, size_t len);

void parse_test(bool verbose);

#endif
