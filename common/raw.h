/*  raw.h - the raw landing area: where each raw API response is kept,
    untouched, so that any flow can be replayed.

    Key (sorts by flow, then time of fetch, then window and page):
        raw/<flow>/<yyyy>/<mm>/<dd>/<hh>/<window_id>/<page:02>-<attempt:02>-<fetched_at_ms>-<target_id>.json.gz
    Object: gzip of one line of JSON with the request context (flow, window,
    catalog, page, attempt, fetched_at_ms, http_status, site, api, url,
    error, n_items, max_item_id, more, total_pages, kind, target_id), a newline, then the
    response body exactly as it was received.
*/
#ifndef RAW_H_INCLUDED
#define RAW_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#include "proto/proto.h"

/* The page's key. 0 ok, -1 if it does not fit. */
int raw_key(const char *flow, const proto_page_t *page, char *out, size_t size);
/* "raw/<flow>/<yyyy>/<mm>/<dd>/<hh>/" for the hour holding unix_s. */
int raw_hour_prefix(const char *flow, int64_t unix_s, char *out, size_t size);
/* The fetch time (ms) and window id a key names. 0 ok, -1 not a raw key. */
int raw_key_parse(const char *key, int64_t *fetched_at_ms, int64_t *window_id);

/* Compress page + context into a malloc'ed object. 0 ok, -1 error. */
int raw_encode(const char *flow, const proto_page_t *page, uint8_t **out, size_t *len);
/* Read an object back into a RESULT(PAGE) message. NULL with a reason if it is damaged. */
proto_msg_t *raw_decode(const uint8_t *data, size_t len, char *err, size_t errlen);

void raw_test(bool verbose);

#endif
