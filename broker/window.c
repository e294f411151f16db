/*  window.c - windows and the slicing of time into them. */
#include "broker/window.h"

#include <assert.h>
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
    self->next_page = 1;
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
    if (page >= 1 && page <= WINDOW_MAX_PAGES)
        self->page_state[page] |= (uint8_t) what;
    while (self->pages_done < WINDOW_MAX_PAGES && self->page_state[self->pages_done + 1] == WINDOW_PAGE_DONE)
        self->pages_done++;
}

bool window_complete(const window_t *self)
{
    if (self->kind != WINDOW_CATALOG)
        return self->outstanding == 0;
    return self->last_page > 0 && self->pages_done >= self->last_page;
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
    assert(w->pages_done == 0);
    window_page_done(w, 1, WINDOW_PAGE_COMMITTED);
    assert(w->pages_done == 0); /* committed but not yet stored */
    window_page_done(w, 1, WINDOW_PAGE_STORED);
    assert(w->pages_done == 2);
    w->last_page = 3;
    assert(!window_complete(w));
    window_page_done(w, 3, WINDOW_PAGE_STORED);
    window_page_done(w, 3, WINDOW_PAGE_COMMITTED);
    assert(window_complete(w));
    window_page_done(w, 99, WINDOW_PAGE_DONE); /* out of range is ignored */
    assert(w->pages_done == 3);
    window_destroy(&w);
    assert(w == NULL);

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
