/*  ldjson.h - JSON-LD in an HTML page: finds the <script type="application/ld+json">
    blocks of a page (any attribute order, either quote or none, any case and
    whitespace) and, among them, the first node of a given schema.org @type.
    A node is looked for in a block that is an object, a list of objects, or
    an object with a @graph list. Blocks that are not JSON are skipped, and
    counted in the reason when nothing is found.

    The HTML is only scanned, never decoded: script content is raw text. NULs
    and broken \u escapes should be neutralised by the caller beforehand
    (parse.c does it for every body).
*/
#ifndef LDJSON_H_INCLUDED
#define LDJSON_H_INCLUDED

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

/* The first node of @type type ("Product") in the page's JSON-LD blocks.
   Returns the parsed block holding it (free it with cJSON_Delete) and sets
   *node to the node inside it; or NULL with a reason in why ("no JSON-LD
   block", "2 JSON-LD blocks (1 not JSON), none with @type Product"). */
cJSON *ldjson_find(const char *html, size_t len, const char *type, const cJSON **node,
                   char *why, size_t whylen);

/* True if node's @type is type: "Product", ["Thing","Product"], "schema:Product"
   or "https://schema.org/Product". */
bool ldjson_is_type(const cJSON *node, const char *type);

void ldjson_test(bool verbose);

#endif
