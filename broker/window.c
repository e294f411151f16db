/*  window.c - windows and the slicing of time into them. */
#include "broker/window.h"

#include <assert.h>
#include <stdlib.h>

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

void window_commit_page(window_t *self, int32_t page)
{
    if (page >= 1 && page <= WINDOW_MAX_PAGES)
        self->committed[page] = true;
    while (self->pages_done < WINDOW_MAX_PAGES && self->committed[self->pages_done + 1])
        self->pages_done++;
}

bool window_complete(const window_t *self)
{
    return self->last_page > 0 && self->pages_done >= self->last_page;
}

void window_slice(int64_t t, int64_t len_s, int64_t *start_s, int64_t *end_s)
{
    assert(len_s > 0);
    int64_t start = t - ((t % len_s) + len_s) % len_s;
    *start_s = start;
    *end_s = start + len_s;
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
    window_commit_page(w, 2);
    assert(w->pages_done == 0);
    window_commit_page(w, 1);
    assert(w->pages_done == 2);
    w->last_page = 3;
    assert(!window_complete(w));
    window_commit_page(w, 3);
    assert(window_complete(w));
    window_commit_page(w, 99); /* out of range is ignored */
    assert(w->pages_done == 3);
    window_destroy(&w);
    assert(w == NULL);
}
