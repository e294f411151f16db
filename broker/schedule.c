/*  schedule.c - adaptive polling: rate estimates and the shared budget (see schedule.h). */
#include "broker/schedule.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_MAX_CATALOGS 65536
#define S_ONE_PAGE 88.0     /* a short-of-budget slow catalog waits for about a page of listings */
#define S_STRETCH 7         /* ... but at most this many max intervals */
#define S_HOUR_MS 3600000.0
#define S_GROWTH_MS (6 * S_HOUR_MS) /* an interval this long plans for a rate twice the estimate */

typedef struct {
    int32_t id;
    double weight;
    double sum_new, sum_ms; /* decayed sums of new listings and of the time they came in */
    double recent_rate;     /* per ms: what the last poll that reached the mark saw */
    double floor_rate;      /* per ms: a lower bound after a truncated poll (0: none) */
    int64_t last_ms;        /* page 1 of the last poll (0: never polled) */
    int polls;
    /* the plan */
    int64_t interval_ms;
    double req_per_ms, missed_per_ms;
    bool is_short;
} s_cat_t;

struct _schedule_t {
    schedule_settings_t settings;
    s_cat_t *cats;
    int n, size;
};

schedule_t *schedule_new(const schedule_settings_t *settings)
{
    schedule_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->settings = *settings;
    if (self->settings.min_interval_ms < 1000)
        self->settings.min_interval_ms = 1000;
    if (self->settings.max_interval_ms < self->settings.min_interval_ms)
        self->settings.max_interval_ms = self->settings.min_interval_ms;
    if (self->settings.half_life_ms <= 0)
        self->settings.half_life_ms = 3600000;
    return self;
}

void schedule_destroy(schedule_t **self_p)
{
    schedule_t *self = *self_p;
    if (!self)
        return;
    free(self->cats);
    free(self);
    *self_p = NULL;
}

/* The index of catalog in cats (kept sorted by id), or where it would go. The broker
   asks every catalog's due time four times a second: a search, not a scan. */
static int s_index(const schedule_t *self, int32_t catalog)
{
    int lo = 0, hi = self->n;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2;
        if (self->cats[mid].id < catalog)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static s_cat_t *s_find(const schedule_t *self, int32_t catalog)
{
    int i = s_index(self, catalog);
    return i < self->n && self->cats[i].id == catalog ? &self->cats[i] : NULL;
}

int schedule_add(schedule_t *self, int32_t catalog, double weight)
{
    if (s_find(self, catalog))
        return 0;
    if (self->n == S_MAX_CATALOGS)
        return -1;
    if (self->n == self->size) {
        int size = self->size ? self->size * 2 : 16;
        s_cat_t *cats = realloc(self->cats, (size_t) size * sizeof *cats);
        if (!cats)
            return -1;
        self->cats = cats;
        self->size = size;
    }
    int i = s_index(self, catalog);
    memmove(&self->cats[i + 1], &self->cats[i], (size_t) (self->n - i) * sizeof *self->cats);
    self->n++;
    s_cat_t *c = &self->cats[i];
    *c = (s_cat_t) { .id = catalog, .weight = weight > 0 ? weight : 1.0 };
    c->interval_ms = self->settings.first_interval_ms;
    return 0;
}

/* Estimated new listings per ms; negative when nothing is known yet. The larger of
   the long view and the last poll: a rate that rises (the daily cycle, a burst) is
   followed at once, since polling late loses listings while polling early only
   costs a request. plan: the long view at its upper bound (Poisson, about two
   standard deviations), so that an estimate resting on a few listings aims lower. */
static double s_rate_of(const s_cat_t *c, bool plan)
{
    if (c->sum_ms <= 0)
        return -1;
    double n = plan ? c->sum_new + 2 * sqrt(c->sum_new) + 2 : c->sum_new;
    double r = fmax(n / c->sum_ms, c->recent_rate);
    return r > c->floor_rate ? r : c->floor_rate;
}

static double s_rate(const s_cat_t *c) { return s_rate_of(c, true); }

void schedule_observe(schedule_t *self, int32_t catalog, int64_t polled_ms, int64_t new_items, bool truncated)
{
    s_cat_t *c = s_find(self, catalog);
    if (!c)
        return;
    if (c->polls++ == 0 || polled_ms <= c->last_ms) {
        /* the first poll finds the backlog, not arrivals; an older poll (a late
           replay of history) teaches nothing */
        if (polled_ms > c->last_ms)
            c->last_ms = polled_ms;
        return;
    }
    double dt = (double) (polled_ms - c->last_ms);
    c->last_ms = polled_ms;
    if (truncated) {
        /* a truncated poll only says "more than one query reaches": no sample for the
           sums (it would drag them down), but a floor of at least twice that (or what
           it saw), until a poll that reaches the mark says otherwise */
        double seen = (double) (new_items > SCHEDULE_PER_PAGE * SCHEDULE_MAX_PAGES ? new_items
                                                                                  : SCHEDULE_PER_PAGE * SCHEDULE_MAX_PAGES);
        c->floor_rate = fmax(c->floor_rate, 2.0 * seen / dt);
        if (c->sum_ms <= 0)
            c->sum_ms = dt, c->sum_new = seen;
        return;
    }
    double keep = exp2(-dt / (double) self->settings.half_life_ms);
    double n = (double) (new_items > 0 ? new_items : 0);
    c->sum_new = c->sum_new * keep + n;
    c->sum_ms = c->sum_ms * keep + dt;
    c->recent_rate = n / dt;
    c->floor_rate = 0;
}

/* Requests one poll costs after t ms at rate r: the pages down to the mark (one more
   than the full ones: the page that meets the mark), at most the query's cap. */
static double s_pages(double r, double t)
{
    double p = floor(r * t / SCHEDULE_PER_PAGE) + 1;
    return p < SCHEDULE_MAX_PAGES ? p : SCHEDULE_MAX_PAGES;
}

static int64_t s_clamp(const schedule_t *self, double t, int64_t max_ms)
{
    if (t < (double) self->settings.min_interval_ms)
        return self->settings.min_interval_ms;
    if (t > (double) max_ms)
        return max_ms;
    return (int64_t) t;
}

/* Full capture of c: its interval and what it costs (requests per ms). */
static void s_full(const schedule_t *self, s_cat_t *c, bool shortage)
{
    double r = s_rate(c);
    if (r < 0) {
        c->interval_ms = self->settings.first_interval_ms > 0 ? self->settings.first_interval_ms
                                                              : self->settings.max_interval_ms;
        c->req_per_ms = 1.0 / (double) c->interval_ms;
        return;
    }
    int64_t max_ms = self->settings.max_interval_ms;
    /* r t (1 + t / growth) = target: the longer the wait, the more the rate may have
       risen meanwhile (a daily cycle, a burst), so a long interval aims lower */
    double t = (double) max_ms;
    if (r > 0) {
        /* and what arrives while the poll pages (a page per request_ms) takes room too */
        double target = fmax(2 * SCHEDULE_PER_PAGE,
                             SCHEDULE_TARGET - r * (double) SCHEDULE_MAX_PAGES * (double) self->settings.request_ms);
        double a = r / S_GROWTH_MS;
        t = (-r + sqrt(r * r + 4 * a * target)) / (2 * a);
    }
    if (shortage && r > 0 && r * (double) s_clamp(self, t, max_ms) < S_ONE_PAGE) {
        /* short of budget, a slow catalog waits for about a page (at most a few max intervals) */
        max_ms = self->settings.max_interval_ms * S_STRETCH;
        t = S_ONE_PAGE / r;
    }
    c->interval_ms = s_clamp(self, t, max_ms);
    c->req_per_ms = s_pages(r, (double) c->interval_ms) / (double) c->interval_ms;
}

/* c gets only `budget` requests per ms: the interval whose polls cost that. */
static void s_short(const schedule_t *self, s_cat_t *c, double budget)
{
    double r = s_rate(c);
    double t = 1.0 / budget;
    for (int i = 0; i < 20; i++) /* t = pages(t) / budget: pages grows with t, so this climbs to it */
        t = s_pages(r, t) / budget;
    c->interval_ms = s_clamp(self, t, INT64_MAX / 4);
    double point = s_rate_of(c, false); /* what is expected missed: at the estimate itself */
    double got = fmin(point * (double) c->interval_ms, (double) SCHEDULE_PER_PAGE * SCHEDULE_MAX_PAGES);
    c->req_per_ms = s_pages(r, (double) c->interval_ms) / (double) c->interval_ms;
    c->missed_per_ms = fmax(0, point - got / (double) c->interval_ms);
    c->is_short = true;
}

void schedule_set_request_ms(schedule_t *self, int64_t request_ms)
{
    self->settings.request_ms = request_ms > 0 ? request_ms : 0;
}

void schedule_replan(schedule_t *self)
{
    double budget = self->settings.budget_per_min / 60000.0; /* requests per ms */
    double need = 0;
    for (int i = 0; i < self->n; i++) {
        s_cat_t *c = &self->cats[i];
        c->missed_per_ms = 0;
        c->is_short = false;
        s_full(self, c, false);
        need += c->req_per_ms;
    }
    if (budget <= 0 || need <= budget)
        return;
    /* short of budget: slow catalogs wait for a page, then the budget is filled by
       weight, each catalog taking at most what its full capture needs */
    double fixed = 0; /* catalogs whose rate is unknown keep their first interval */
    for (int i = 0; i < self->n; i++) {
        s_full(self, &self->cats[i], true);
        if (s_rate(&self->cats[i]) < 0)
            fixed += self->cats[i].req_per_ms;
    }
    double left = budget - fixed;
    double lo = 0, hi = 0;
    for (int i = 0; i < self->n; i++)
        if (s_rate(&self->cats[i]) >= 0)
            hi = fmax(hi, self->cats[i].req_per_ms / self->cats[i].weight);
    for (int it = 0; it < 60; it++) {
        double theta = (lo + hi) / 2, used = 0;
        for (int i = 0; i < self->n; i++)
            if (s_rate(&self->cats[i]) >= 0)
                used += fmin(self->cats[i].req_per_ms, theta * self->cats[i].weight);
        if (used > left)
            hi = theta;
        else
            lo = theta;
    }
    for (int i = 0; i < self->n; i++) {
        s_cat_t *c = &self->cats[i];
        double share = lo * c->weight;
        if (s_rate(c) < 0 || share >= c->req_per_ms)
            continue;
        s_short(self, c, share > 0 ? share : 1e-12);
    }
}

int64_t schedule_due_ms(const schedule_t *self, int32_t catalog)
{
    const s_cat_t *c = s_find(self, catalog);
    if (!c)
        return -1;
    return c->last_ms == 0 ? 0 : c->last_ms + c->interval_ms;
}

int schedule_size(const schedule_t *self) { return self->n; }

void schedule_get(const schedule_t *self, int i, schedule_plan_t *out)
{
    const s_cat_t *c = &self->cats[i];
    double r = s_rate_of(c, false);
    *out = (schedule_plan_t) { .catalog = c->id, .weight = c->weight, .rate_per_h = r > 0 ? r * S_HOUR_MS : 0,
                               .interval_ms = c->interval_ms, .requests_per_h = c->req_per_ms * S_HOUR_MS,
                               .missed_per_h = c->missed_per_ms * S_HOUR_MS, .last_poll_ms = c->last_ms,
                               .due_ms = schedule_due_ms(self, c->id), .short_of_budget = c->is_short };
}

void schedule_totals(const schedule_t *self, double *requests_per_h, double *missed_per_h)
{
    double req = 0, missed = 0;
    for (int i = 0; i < self->n; i++) {
        req += self->cats[i].req_per_ms;
        missed += self->cats[i].missed_per_ms;
    }
    *requests_per_h = req * S_HOUR_MS;
    *missed_per_h = missed * S_HOUR_MS;
}

/* ----------------------------------------------------------------- self-test */

/* Feed a catalog `polls` polls `every_ms` apart at `per_h` listings an hour. */
static void s_feed(schedule_t *s, int32_t catalog, int64_t *t, int polls, int64_t every_ms, double per_h)
{
    for (int i = 0; i < polls; i++) {
        *t += every_ms;
        schedule_observe(s, catalog, *t, (int64_t) llround(per_h * (double) every_ms / S_HOUR_MS), false);
    }
}

void schedule_test(bool verbose)
{
    if (verbose)
        printf(" * schedule: ");
    const int64_t min = 60000, hour = 3600000;
    schedule_settings_t st = { .budget_per_min = 60, .min_interval_ms = min, .max_interval_ms = 24 * hour,
                               .first_interval_ms = hour, .half_life_ms = hour };
    schedule_t *s = schedule_new(&st);
    assert(s);
    assert(schedule_add(s, 1, 1) == 0 && schedule_add(s, 2, 1) == 0 && schedule_add(s, 1, 5) == 0);
    assert(schedule_size(s) == 2);
    assert(schedule_due_ms(s, 1) == 0 && schedule_due_ms(s, 9) == -1);

    /* unknown rate: the first interval after the first poll */
    int64_t t1 = 1000 * hour, t2 = t1;
    schedule_observe(s, 1, t1, 500, false); /* the backlog: no rate from it */
    schedule_replan(s);
    assert(schedule_due_ms(s, 1) == t1 + hour);

    /* 1000 an hour seen: polled every 840/1000 h, 9 requests a poll */
    s_feed(s, 1, &t1, 8, 10 * min, 1000);
    schedule_replan(s);
    schedule_plan_t p;
    schedule_get(s, 0, &p);
    assert(fabs(p.rate_per_h - 1000) < 5); /* 167 a poll: 1002 an hour */
    /* the interval plans for the rate rising while it waits, r t (1 + t / 6 h) = 800,
       at the rate's upper bound (8 polls of 167: a few percent above the estimate) */
    double hours = (double) p.interval_ms / (double) hour;
    double expect = p.rate_per_h * hours * (1 + hours / 6);
    assert(expect < SCHEDULE_TARGET && expect > 0.9 * SCHEDULE_TARGET);
    double pages = p.requests_per_h * hours;
    assert(fabs(pages - 8) < 0.01 || fabs(pages - 9) < 0.01);
    assert(!p.short_of_budget && p.missed_per_h == 0);

    /* a slow catalog (3 a day) is polled at the max interval */
    schedule_observe(s, 2, t2, 0, false);
    s_feed(s, 2, &t2, 4, 8 * hour, 3.0 / 24);
    schedule_replan(s);
    schedule_get(s, 1, &p);
    assert(p.interval_ms == 24 * hour && !p.short_of_budget);

    /* a truncated poll: the rate is at least twice what it saw, the next poll sooner */
    t1 += 10 * min;
    schedule_observe(s, 1, t1, 960, true);
    schedule_replan(s);
    schedule_get(s, 0, &p);
    assert(p.rate_per_h >= 2 * 960 * 6 - 1 && p.interval_ms < 5 * min);
    /* and a full poll afterwards ends the lower bound */
    t1 += 2 * min;
    schedule_observe(s, 1, t1, 40, false);
    schedule_replan(s);
    schedule_get(s, 0, &p);
    assert(p.rate_per_h < 2 * 960 * 6);
    schedule_destroy(&s);
    assert(s == NULL);

    /* short of budget: 2 catalogs at 10,000 an hour, weights 3 and 1, 1 request a
       minute, and a slow one that waits for a page */
    st.budget_per_min = 1;
    s = schedule_new(&st);
    schedule_add(s, 10, 3);
    schedule_add(s, 11, 1);
    schedule_add(s, 12, 1);
    int64_t a = 1000 * hour, b = a, c = a;
    schedule_observe(s, 10, a, 0, false);
    schedule_observe(s, 11, b, 0, false);
    schedule_observe(s, 12, c, 0, false);
    s_feed(s, 10, &a, 6, 5 * min, 10000);
    s_feed(s, 11, &b, 6, 5 * min, 10000);
    s_feed(s, 12, &c, 3, 24 * hour, 2.0);
    schedule_replan(s);
    double req, missed;
    schedule_totals(s, &req, &missed);
    assert(fabs(req - 60) < 0.5); /* the whole budget, no more */
    schedule_plan_t p10, p11, p12;
    schedule_get(s, 0, &p10);
    schedule_get(s, 1, &p11);
    schedule_get(s, 2, &p12);
    /* about a page: 88 listings at 2 an hour (at the upper bound of the rate: sooner) */
    assert(p12.interval_ms > 30 * hour && p12.interval_ms <= 44 * hour && !p12.short_of_budget);
    assert(p10.short_of_budget && p11.short_of_budget);
    assert(fabs(p10.requests_per_h / p11.requests_per_h - 3) < 0.05);
    /* truncated polls of 10 pages: 96 listings a request, the rest reported missed */
    assert(fabs((p10.rate_per_h - p10.missed_per_h) / p10.requests_per_h - 96) < 0.01);
    assert(fabs((p11.rate_per_h - p11.missed_per_h) / p11.requests_per_h - 96) < 0.01);
    assert(p12.missed_per_h == 0);
    schedule_destroy(&s);
    if (verbose)
        printf("OK\n");
}
