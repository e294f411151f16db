/*  parse.h - the transformer's core: turn one raw Vinted catalog-search
    response (a proto_page_t) into a normalized batch of proto_item_t records
    and proto_quarantine_t records for everything that broke a rule.

    Both API generations are understood, item by item, by the keys present:
    v2 items (brand_title, size_title, status, absolute url, photo{...}) and
    svc-catalogue items (item_box.first_line = brand, item_box.second_line =
    "size · condition", relative url, photos[]). Every string and array of the
    batch lives in the result message's arena.

    Item rules, the first that fails wins: item_not_object, id_missing,
    price_missing, price_invalid (price, service_fee or total_item_price),
    price_not_positive, currency_unknown, title_missing, text_invalid (a kept
    string is not UTF-8 or holds NUL). Page rules (pos -1, raw = whole body):
    malformed_page (fetch error, not JSON, no items array), http_error.
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
