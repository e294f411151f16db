/*  page_input.h - how a fuzz input describes one fetched page (shared by the
    parse harness and the seed tool): an optional header line
        "<kind> <http_status> <target_id> <site>\n"     e.g. "2 200 7000123456 pt\n"
    then the response body, byte for byte. Without a header that reads, the
    whole input is the body of a catalog page (kind 0, status 200, site pt).
*/
#ifndef PAGE_INPUT_H_INCLUDED
#define PAGE_INPUT_H_INCLUDED

#include <stddef.h>
#include <stdint.h>

#include "proto/proto.h"

typedef struct {
    proto_page_t page; /* body points into the input */
    char site[16];     /* page.site points here */
} page_input_t;

/* Fill in from the input (in stays owned by the caller and must outlive it). */
void page_input_read(page_input_t *self, const uint8_t *in, size_t size);

#endif
