/*  page_input.c - a fuzz input as a fetched page. See page_input.h. */
#include "tests/fuzz/page_input.h"

#include <stdio.h>
#include <string.h>

void page_input_read(page_input_t *self, const uint8_t *in, size_t size)
{
    memset(self, 0, sizeof *self);
    proto_page_t *p = &self->page;
    p->window_id = 1;
    p->catalog_id = 221;
    p->page = 1;
    p->fetched_at_ms = INT64_C(1790000000000);
    p->http_status = 200;
    p->kind = PROTO_FETCH_CATALOG;
    p->api = "v2";
    snprintf(self->site, sizeof self->site, "pt");
    p->site = self->site;
    p->body = (uint8_t *)in;
    p->body_len = size;

    const uint8_t *nl = memchr(in, '\n', size < 80 ? size : 80);
    if (!nl)
        return;
    char line[81], site[16];
    size_t n = (size_t)(nl - in);
    memcpy(line, in, n);
    line[n] = 0;
    int kind, status;
    long long target;
    if (sscanf(line, "%d %d %lld %15s", &kind, &status, &target, site) != 4)
        return;
    p->kind = kind;
    p->http_status = status;
    p->target_id = target;
    snprintf(self->site, sizeof self->site, "%s", site);
    p->body = (uint8_t *)in + n + 1;
    p->body_len = size - n - 1;
}
