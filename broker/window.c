/*  window.c - windows and the slicing of time into them. */
#include "broker/window.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

window_t *window_new(int64_t id, int32_t catalog_id, int64_t start_s, int64_t end_s)
{
    window_t *self = calloc(1, sizeof *self);
    assert(self);
    self->id = id;
    self->catalog_id = catalog_id;
    self->start_s = start_s;
    self->end_s = end_s;
    self->n_parts = 1;
    self->parts[0].next_page = 1;
    return self;
}

void window_destroy(window_t **self_p)
{
    if (*self_p) {
        free(*self_p);
        *self_p = NULL;
    }
}

void window_page_done(window_t *self, int32_t page, int what)
{
    if (page < 1 || page > WINDOW_SLOTS)
        return;
    bool was = self->page_state[page] == WINDOW_PAGE_DONE;
    self->page_state[page] |= (uint8_t) what;
    if (!was && self->page_state[page] == WINDOW_PAGE_DONE)
        self->pages_done++;
    while (self->prefix_done < WINDOW_MAX_PAGES && self->page_state[self->prefix_done + 1] == WINDOW_PAGE_DONE)
        self->prefix_done++;
}

bool window_complete(const window_t *self)
{
    if (self->kind != WINDOW_CATALOG)
        return self->outstanding == 0;
    for (int i = 0; i < self->n_parts; i++) {
        const window_part_t *p = &self->parts[i];
        if (p->last_page == 0)
            return false;
        for (int32_t k = 1; k <= p->last_page; k++)
            if (self->page_state[window_page_of(i, k)] != WINDOW_PAGE_DONE)
                return false;
    }
    return self->n_parts > 0;
}

int32_t window_page_of(int part, int32_t api_page)
{
    if (part < 0 || part >= WINDOW_MAX_PARTS || api_page < 1 || api_page > WINDOW_MAX_PAGES)
        return 0;
    return part * WINDOW_MAX_PAGES + api_page;
}

int window_part_of(int32_t page, int32_t *api_page)
{
    if (page < 1 || page > WINDOW_SLOTS)
        return -1;
    *api_page = (page - 1) % WINDOW_MAX_PAGES + 1;
    return (page - 1) / WINDOW_MAX_PAGES;
}

int32_t window_pages(const window_t *self)
{
    int32_t n = 0;
    for (int i = 0; i < self->n_parts; i++) {
        if (self->parts[i].last_page == 0)
            return 0;
        n += self->parts[i].last_page;
    }
    return n;
}

int window_part_add(window_t *self, int64_t price_from, int64_t price_to)
{
    if (self->n_parts >= WINDOW_MAX_PARTS)
        return -1;
    window_part_t *p = &self->parts[self->n_parts];
    *p = (window_part_t){ .price_from = price_from, .price_to = price_to, .next_page = 1 };
    return self->n_parts++;
}

int64_t window_band_middle(int64_t from, int64_t to)
{
    int64_t m;
    if (to == 0)
        m = from > 0 ? 2 * from : 2000; /* open above: 20.00, then doubling */
    else if (from == 0)
        m = to / 2;
    else
        m = (int64_t) llround(sqrt((double) from * (double) to));
    if (to == 0 || to - from > 200) /* a whole unit where the band allows */
        m = (m + 50) / 100 * 100;
    if (m <= from || (to > 0 && m >= to))
        m = to > 0 && to - from >= 2 ? from + (to - from) / 2 : -1;
    return m;
}

bool window_part_split(window_t *self, int i)
{
    window_part_t *p = &self->parts[i];
    int64_t m = window_band_middle(p->price_from, p->price_to);
    if (m < 0 || self->n_parts + 2 > WINDOW_MAX_PARTS)
        return false;
    p->split = true;
    window_part_add(self, p->price_from, m);
    window_part_add(self, m, p->price_to);
    return true;
}

int window_bands_count(const window_t *self)
{
    int n = 0;
    for (int i = 0; i < self->n_parts; i++)
        n += !self->parts[i].split && !self->parts[i].probe;
    return n;
}

void window_bands_format(const window_t *self, char *buf, size_t size)
{
    size_t len = 0;
    buf[0] = '\0';
    if (self->n_parts == 1 && self->parts[0].price_from == 0 && self->parts[0].price_to == 0)
        return;
    for (int i = 0; i < self->n_parts && len < size; i++)
        if (!self->parts[i].split && !self->parts[i].probe)
            len += (size_t) snprintf(buf + len, size - len, "%s%lld-%lld", len ? "," : "",
                                     (long long) self->parts[i].price_from, (long long) self->parts[i].price_to);
}

static int s_by_price(const void *a, const void *b)
{
    const window_part_t *x = a, *y = b;
    return x->price_from < y->price_from ? -1 : x->price_from > y->price_from;
}

void window_bands_next(const window_t *self, char *buf, size_t size)
{
    window_part_t leaves[WINDOW_MAX_PARTS];
    int n = 0;
    for (int i = 0; i < self->n_parts; i++)
        if (!self->parts[i].split && !self->parts[i].probe)
            leaves[n++] = self->parts[i];
    qsort(leaves, (size_t) n, sizeof leaves[0], s_by_price);
    int m = 0;
    for (int i = 0; i < n; i++) {
        if (m > 0 && leaves[m - 1].last_page + leaves[i].last_page <= WINDOW_MERGE_PAGES
            && !leaves[m - 1].truncated && !leaves[i].truncated) {
            leaves[m - 1].price_to = leaves[i].price_to;
            leaves[m - 1].last_page += leaves[i].last_page;
        }
        else
            leaves[m++] = leaves[i];
    }
    size_t len = 0;
    buf[0] = '\0';
    if (m == 1 && leaves[0].price_from == 0 && leaves[0].price_to == 0)
        return;
    for (int i = 0; i < m && len < size; i++)
        len += (size_t) snprintf(buf + len, size - len, "%s%lld-%lld", len ? "," : "",
                                 (long long) leaves[i].price_from, (long long) leaves[i].price_to);
}

int window_bands_parse(window_t *self, const char *text)
{
    window_part_t parts[WINDOW_MAX_PARTS];
    parts[0] = (window_part_t){ .next_page = 1, .probe = true };
    int n = 1;
    const char *p = text;
    while (*p) {
        char *end;
        errno = 0;
        long long from = strtoll(p, &end, 10);
        if (end == p || *end != '-' || from < 0 || errno)
            return -1;
        p = end + 1;
        long long to = strtoll(p, &end, 10);
        if (end == p || (*end != ',' && *end) || to < 0 || (to > 0 && to < from) || errno || n == WINDOW_MAX_PARTS)
            return -1;
        parts[n++] = (window_part_t){ .price_from = from, .price_to = to, .next_page = 1 };
        p = *end ? end + 1 : end;
        if (*end && !*p)
            return -1; /* a trailing comma */
    }
    if (n == 1)
        return -1;
    memcpy(self->parts, parts, (size_t) n * sizeof parts[0]);
    self->n_parts = n;
    return 0;
}

void window_slice(int64_t t, int64_t len_s, int64_t *start_s, int64_t *end_s)
{
    assert(len_s > 0);
    int64_t start = t - ((t % len_s) + len_s) % len_s;
    *start_s = start;
    *end_s = start + len_s;
}

window_kind_t window_kind_from_name(const char *name)
{
    if (name && strcmp(name, "replay") == 0)
        return WINDOW_REPLAY;
    if (name && strcmp(name, "tracking") == 0)
        return WINDOW_TRACKING;
    if (name && strcmp(name, "images") == 0)
        return WINDOW_IMAGES;
    if (name && strcmp(name, "catalogs") == 0)
        return WINDOW_CATALOGS;
    return WINDOW_CATALOG;
}

const char *window_kind_name(window_kind_t kind)
{
    static const char *names[WINDOW_KINDS] = { "catalog", "replay", "tracking", "images", "catalogs" };
    return kind < WINDOW_KINDS ? names[kind] : "?";
}

const char *window_state_name(window_state_t state)
{
    static const char *names[] = { "pending", "running", "done", "failed" };
    return state <= WINDOW_FAILED ? names[state] : "?";
}

void window_test(bool verbose)
{
    (void) verbose;
    int64_t s, e;
    window_slice(7205, 3600, &s, &e);
    assert(s == 7200 && e == 10800);
    window_slice(7200, 3600, &s, &e);
    assert(s == 7200 && e == 10800);
    window_slice(7199, 300, &s, &e);
    assert(s == 6900 && e == 7200);

    window_t *w = window_new(1, 221, 0, 3600);
    assert(!window_complete(w));
    window_page_done(w, 2, WINDOW_PAGE_DONE);
    assert(w->pages_done == 1 && w->prefix_done == 0);
    window_page_done(w, 1, WINDOW_PAGE_COMMITTED);
    assert(w->prefix_done == 0); /* committed but not yet stored */
    window_page_done(w, 1, WINDOW_PAGE_STORED);
    assert(w->pages_done == 2 && w->prefix_done == 2);
    w->parts[0].next_page = 0;
    w->parts[0].last_page = 3;
    assert(!window_complete(w) && window_pages(w) == 3);
    window_page_done(w, 3, WINDOW_PAGE_STORED);
    window_page_done(w, 3, WINDOW_PAGE_COMMITTED);
    assert(window_complete(w));
    window_page_done(w, 3, WINDOW_PAGE_DONE); /* again: counted once */
    window_page_done(w, WINDOW_SLOTS + 1, WINDOW_PAGE_DONE); /* out of range is ignored */
    assert(w->pages_done == 3 && w->prefix_done == 3);
    char bands[256];
    window_bands_format(w, bands, sizeof bands);
    assert(strcmp(bands, "") == 0);
    window_destroy(&w);
    assert(w == NULL);

    /* window pages of parts */
    int32_t api;
    assert(window_page_of(0, 1) == 1 && window_page_of(1, 1) == 11 && window_page_of(15, 10) == WINDOW_SLOTS);
    assert(window_page_of(16, 1) == 0 && window_page_of(0, 11) == 0);
    assert(window_part_of(11, &api) == 1 && api == 1 && window_part_of(10, &api) == 0 && api == 10);
    assert(window_part_of(0, &api) == -1 && window_part_of(WINDOW_SLOTS + 1, &api) == -1);

    /* band middles: 20.00 for the open band, doubling above, geometric in between */
    assert(window_band_middle(0, 0) == 2000 && window_band_middle(2000, 0) == 4000);
    assert(window_band_middle(0, 2000) == 1000 && window_band_middle(1000, 4000) == 2000);
    assert(window_band_middle(1000, 1100) == 1049); /* one unit wide: no rounding */
    assert(window_band_middle(1000, 1002) == 1001 && window_band_middle(1000, 1001) == -1);
    assert(window_band_middle(1000, 1000) == -1);

    /* a split: part 0 met the cap, its halves page down to the same mark */
    w = window_new(3, 221, 0, 3600);
    assert(window_part_split(w, 0) && w->n_parts == 3 && w->parts[0].split);
    assert(w->parts[1].price_from == 0 && w->parts[1].price_to == 2000 && w->parts[1].next_page == 1);
    assert(w->parts[2].price_from == 2000 && w->parts[2].price_to == 0);
    window_bands_format(w, bands, sizeof bands);
    assert(strcmp(bands, "0-2000,2000-0") == 0);
    for (int i = 0; i < w->n_parts; i++)
        w->parts[i].last_page = i == 0 ? 10 : 2;
    assert(window_pages(w) == 14 && !window_complete(w));
    for (int i = 0; i < w->n_parts; i++)
        for (int32_t k = 1; k <= w->parts[i].last_page; k++)
            window_page_done(w, window_page_of(i, k), WINDOW_PAGE_DONE);
    assert(window_complete(w) && w->pages_done == 14);
    while (w->n_parts + 2 <= WINDOW_MAX_PARTS)
        assert(window_part_split(w, w->n_parts - 1));
    assert(!window_part_split(w, 1)); /* no room */
    window_t *r2 = window_new(4, 221, 0, 3600);
    assert(window_bands_parse(r2, "0-2000,2000-0") == 0 && r2->n_parts == 3 && r2->parts[2].price_from == 2000);
    assert(r2->parts[0].probe && r2->parts[0].price_from == 0 && r2->parts[0].price_to == 0);
    window_bands_format(r2, bands, sizeof bands);
    assert(strcmp(bands, "0-2000,2000-0") == 0 && window_bands_count(r2) == 2); /* the probe is not a band */
    assert(window_bands_parse(r2, "0-2000,") == -1 && window_bands_parse(r2, "5-3") == -1);
    assert(window_bands_parse(r2, "x") == -1 && window_bands_parse(r2, "") == -1 && r2->n_parts == 3);
    window_bands_format(w, bands, sizeof bands);
    assert(window_bands_parse(r2, bands) == 0 && r2->n_parts == 1 + (w->n_parts + 1) / 2);
    size_t len = 0;
    for (int i = 0; i < WINDOW_MAX_PARTS; i++) /* 16 bands and a probe do not fit */
        len += (size_t) snprintf(bands + len, sizeof bands - len, "%s%d-%d", i ? "," : "", i * 100,
                                 i + 1 < WINDOW_MAX_PARTS ? (i + 1) * 100 : 0);
    assert(window_bands_parse(r2, bands) == -1);
    bands[strlen(bands) - strlen(",1500-0")] = '\0';
    assert(window_bands_parse(r2, bands) == 0 && r2->n_parts == WINDOW_MAX_PARTS);
    window_destroy(&r2);
    window_destroy(&w);

    /* the next window's bands: neighbours that paged little are merged back */
    w = window_new(5, 221, 0, 3600);
    assert(window_part_split(w, 0) && window_part_split(w, 2)); /* 0-2000 | 2000-4000 | 4000-0 */
    int32_t pages[] = { 10, 6, 10, 3, 2 }; /* split, 0-2000, split, 2000-4000, 4000-0 */
    for (int i = 0; i < w->n_parts; i++)
        w->parts[i].last_page = pages[i];
    window_bands_next(w, bands, sizeof bands);
    assert(strcmp(bands, "0-2000,2000-0") == 0); /* 6 + 3 > 8 apart; 3 + 2 merged */
    w->parts[1].last_page = 1;
    window_bands_next(w, bands, sizeof bands);
    assert(strcmp(bands, "") == 0); /* 1 + 3 + 2: one open band again */
    w->parts[4].truncated = true;
    window_bands_next(w, bands, sizeof bands);
    assert(strcmp(bands, "0-4000,4000-0") == 0); /* a truncated band is never merged */
    window_destroy(&w);

    window_t *r = window_new(2, 0, 0, 3600);
    r->kind = WINDOW_REPLAY;
    r->outstanding = 2;
    assert(!window_complete(r));
    r->outstanding = 0;
    assert(window_complete(r));
    window_destroy(&r);
    assert(window_kind_from_name("tracking") == WINDOW_TRACKING && window_kind_from_name("adhoc") == WINDOW_CATALOG);
    assert(strcmp(window_kind_name(WINDOW_IMAGES), "images") == 0);
}
