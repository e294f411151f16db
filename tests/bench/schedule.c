/*  vinted-bench-schedule - the broker's scheduling (broker/schedule.c for
    VINTED_SCHEDULE=adaptive, a window per catalog every VINTED_WINDOW for fixed)
    run against a market's arrivals in simulated time, with a model of what the
    catalog API returns, to measure capture per request (tests/bench/capture.py
    --scenario market drives it).

    Input (stdin): a line "catalogs ID,ID,..." (the catalogs polled), then one line
    per event in time order: "<t_ms> <n|b> <catalog>" (a new listing, or a bumped
    old one, shown by that catalog's search).

    The API model: a poll's page k (one request; requests are granted one every
    60000/rate ms, a poll's next page before other polls' first pages) shows positions (k-1)*96 ..
    k*96-1 of the catalog's newest_first list at that moment; listings arriving
    while a poll pages push the rest down (so later pages repeat items); paging
    stops at the page that reaches the mark (plus the run of 5 old ids the
    fetcher's stop rule wants) or at page 10 (the 960-result cap: what lies deeper
    is lost). Each catalog's last poll ends with a final one at the end time.

    Output: one line of "key=value" figures: floor is the sum over catalogs of
    ceil(new / 96) (one poll at the end that gets every listing at 96 a request);
    floor_fresh the same but at least as many polls per catalog as --max-interval
    asks for over the run (a quiet catalog must still be looked at). */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/schedule.h"

#define S_OLD_RUN 5

/* A price band of a split poll, modelled as the events whose hash starts with
   `prefix` (its top `depth` bits): halving a band halves its events. */
typedef struct {
    int depth;
    uint32_t prefix;
    int pages;      /* pages it took in the last poll */
    bool truncated;
} s_band_t;

#define S_MAX_PARTS 16 /* as WINDOW_MAX_PARTS */

typedef struct {
    int32_t id;
    int64_t *t;     /* event times, ascending */
    char *kind;     /* 'n' or 'b' */
    int n, size;
    int mark;       /* events [0, mark) are at or below the mark (seen, or lost) */
    /* the poll under way (0 pages: none) */
    int pages;
    int64_t t1;     /* page 1 */
    int first_ev;   /* events [first_ev, top) were above the mark at page 1 */
    int top;        /* events [0, top) had arrived at page 1 */
    bool pending;   /* fixed: a window waits for this one to end */
    int64_t not_before;
    int64_t new_total, captured, requests, polls, truncated, lost, splits;
    s_band_t bands[S_MAX_PARTS]; /* the bands the next poll starts from (0: unsplit) */
    int n_bands;
    int owed;       /* pinned: pages of the poll under way still to be asked */
} s_cat_t;

static bool s_pin = true;   /* --pin: later pages pinned to page 1 (v2's time=) */
static bool s_split = true; /* --split: a band that meets the cap splits in two */

static s_cat_t *s_cats;
static int s_n;

static s_cat_t *s_find(int32_t id)
{
    int lo = 0, hi = s_n - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (s_cats[mid].id == id)
            return &s_cats[mid];
        if (s_cats[mid].id < id)
            lo = mid + 1;
        else
            hi = mid - 1;
    }
    return NULL;
}

static int s_cmp(const void *a, const void *b)
{
    int32_t x = ((const s_cat_t *) a)->id, y = ((const s_cat_t *) b)->id;
    return x < y ? -1 : x > y;
}

/* events of c at or before t */
static int s_arrived(const s_cat_t *c, int64_t t, int from)
{
    int i = from;
    while (i < c->n && c->t[i] <= t)
        i++;
    return i;
}

/* Page `page` of c's poll at time t. Returns true when the poll is over. */
static bool s_page(s_cat_t *c, int page, int64_t t, schedule_t *sched, bool *trunc_out, int64_t *new_out)
{
    c->requests++;
    if (page == 1) {
        c->t1 = t;
        c->first_ev = c->mark;
        c->top = s_arrived(c, t, c->mark);
    }
    int above = c->top - c->first_ev;         /* positions above the mark at page 1 */
    int moved = s_arrived(c, t, c->top) - c->top; /* arrivals since page 1 push the list down */
    int reach = page * SCHEDULE_PER_PAGE - moved; /* positions of the page-1 list covered so far */
    bool done = reach >= above + S_OLD_RUN || page >= SCHEDULE_MAX_PAGES;
    if (!done)
        return false;
    int covered = reach < above ? (reach > 0 ? reach : 0) : above;
    /* the newest `covered` of the events above the mark were seen */
    int64_t got = 0, missed = 0;
    for (int i = c->first_ev; i < c->top; i++) {
        if (c->kind[i] != 'n')
            continue;
        if (i >= c->top - covered)
            got++;
        else
            missed++;
    }
    c->captured += got;
    c->lost += missed;
    c->polls++;
    bool truncated = covered < above;
    c->truncated += truncated;
    c->mark = c->top;
    *trunc_out = truncated;
    *new_out = got;
    if (getenv("BENCH_SCHEDULE_TRACE") && atoi(getenv("BENCH_SCHEDULE_TRACE")) == c->id)
        fprintf(stderr, "poll catalog=%d t1=%" PRId64 " pages=%d above=%d moved=%d got=%" PRId64 " truncated=%d\n",
                c->id, c->t1 / 1000, page, above, moved, got, truncated);
    if (sched)
        schedule_observe(sched, c->id, c->t1, got, truncated);
    return true;
}

static uint32_t s_hash(int i)
{
    uint32_t x = (uint32_t) i * 2654435761u;
    x ^= x >> 15;
    x *= 2246822519u;
    return x ^ (x >> 13);
}

static bool s_in_band(int i, int depth, uint32_t prefix)
{
    return depth == 0 || (s_hash(i) >> (32 - depth)) == prefix;
}

typedef struct {
    s_cat_t *c;
    int parts;         /* queries so far (the probe, split ones, leaves) */
    int pages;         /* requests the poll takes */
    int64_t got, missed;
    bool truncated;
    s_band_t leaves[S_MAX_PARTS];
    int n_leaves;
} s_plan_t;

/* One query of a pinned poll: the band's events above the mark, as of page 1 (no
   shift). Pages down to the mark (plus the old run), or meets the cap and splits. */
static void s_plan_band(s_plan_t *pl, int depth, uint32_t prefix)
{
    s_cat_t *c = pl->c;
    int above = 0;
    for (int i = c->first_ev; i < c->top; i++)
        above += s_in_band(i, depth, prefix);
    int need = above + S_OLD_RUN;
    if (need <= SCHEDULE_MAX_PAGES * SCHEDULE_PER_PAGE || depth >= 31) {
        int pages = (need + SCHEDULE_PER_PAGE - 1) / SCHEDULE_PER_PAGE;
        if (pages > SCHEDULE_MAX_PAGES)
            pages = SCHEDULE_MAX_PAGES;
        pl->pages += pages;
        int covered = pages * SCHEDULE_PER_PAGE; /* the newest `covered` of the band's events */
        int seen = 0;
        for (int i = c->top - 1; i >= c->first_ev; i--) {
            if (!s_in_band(i, depth, prefix))
                continue;
            bool in = seen++ < covered;
            if (c->kind[i] == 'n') {
                pl->got += in;
                pl->missed += !in;
            }
        }
        pl->truncated |= need > SCHEDULE_MAX_PAGES * SCHEDULE_PER_PAGE;
        pl->leaves[pl->n_leaves++] = (s_band_t){ depth, prefix, pages, need > SCHEDULE_MAX_PAGES * SCHEDULE_PER_PAGE };
        return;
    }
    pl->pages += SCHEDULE_MAX_PAGES;
    if (!s_split || pl->parts + 2 > S_MAX_PARTS) {
        /* cannot split: the newest 960 of the band, the rest lost */
        int seen = 0;
        for (int i = c->top - 1; i >= c->first_ev; i--) {
            if (!s_in_band(i, depth, prefix))
                continue;
            bool in = seen++ < SCHEDULE_MAX_PAGES * SCHEDULE_PER_PAGE;
            if (c->kind[i] == 'n') {
                pl->got += in;
                pl->missed += !in;
            }
        }
        pl->truncated = true;
        pl->leaves[pl->n_leaves++] = (s_band_t){ depth, prefix, SCHEDULE_MAX_PAGES, true };
        return;
    }
    pl->parts += 2;
    c->splits++;
    s_plan_band(pl, depth + 1, prefix << 1);
    s_plan_band(pl, depth + 1, (prefix << 1) | 1);
}

static int s_band_order(const void *a, const void *b)
{
    const s_band_t *x = a, *y = b;
    uint64_t kx = (uint64_t) x->prefix << (32 - x->depth), ky = (uint64_t) y->prefix << (32 - y->depth);
    if (x->depth == 0)
        kx = 0;
    if (y->depth == 0)
        ky = 0;
    return kx < ky ? -1 : kx > ky;
}

/* The bands the next poll starts from: sibling leaves that paged little merge back
   (as the broker's window_bands_next merges neighbours). */
static void s_learn_bands(s_cat_t *c, const s_plan_t *pl)
{
    s_band_t b[S_MAX_PARTS];
    int n = pl->n_leaves;
    memcpy(b, pl->leaves, (size_t) n * sizeof b[0]);
    for (bool merged = true; merged;) {
        merged = false;
        qsort(b, (size_t) n, sizeof b[0], s_band_order);
        for (int i = 0; i + 1 < n; i++)
            if (b[i].depth == b[i + 1].depth && b[i].depth > 0 && (b[i].prefix >> 1) == (b[i + 1].prefix >> 1)
                && !b[i].truncated && !b[i + 1].truncated && b[i].pages + b[i + 1].pages <= 8 /* WINDOW_MERGE_PAGES */) {
                b[i] = (s_band_t){ b[i].depth - 1, b[i].prefix >> 1, b[i].pages + b[i + 1].pages, false };
                memmove(&b[i + 1], &b[i + 2], (size_t) (n - i - 2) * sizeof b[0]);
                n--;
                merged = true;
                break;
            }
    }
    c->n_bands = n == 1 && b[0].depth == 0 ? 0 : n;
    memcpy(c->bands, b, (size_t) n * sizeof b[0]);
}

/* A pinned poll of c at t (page 1): what it captures, and how many requests it takes
   (the first is asked now, the rest are owed). */
static int s_poll_pinned(s_cat_t *c, int64_t t, schedule_t *sched)
{
    c->t1 = t;
    c->first_ev = c->mark;
    c->top = s_arrived(c, t, c->mark);
    s_plan_t pl = { .c = c };
    if (c->n_bands > 0) {
        pl.pages = 1; /* the probe: the whole catalog's page 1 */
        pl.parts = 1 + c->n_bands;
        for (int i = 0; i < c->n_bands; i++)
            s_plan_band(&pl, c->bands[i].depth, c->bands[i].prefix);
    }
    else {
        pl.parts = 1;
        s_plan_band(&pl, 0, 0);
    }
    c->requests += pl.pages;
    c->captured += pl.got;
    c->lost += pl.missed;
    c->polls++;
    c->truncated += pl.truncated;
    c->mark = c->top;
    s_learn_bands(c, &pl);
    if (getenv("BENCH_SCHEDULE_TRACE") && atoi(getenv("BENCH_SCHEDULE_TRACE")) == c->id)
        fprintf(stderr, "poll catalog=%d t1=%" PRId64 " pages=%d above=%d got=%" PRId64 " truncated=%d bands=%d\n",
                c->id, c->t1 / 1000, pl.pages, c->top - c->first_ev, pl.got, pl.truncated, c->n_bands);
    if (sched)
        schedule_observe(sched, c->id, c->t1, pl.got, pl.truncated);
    return pl.pages;
}

static void s_usage(void)
{
    fprintf(stderr, "usage: vinted-bench-schedule --schedule fixed|adaptive --rate PER_MIN --window SECONDS\n"
                    "       --start UNIX_S --end UNIX_S [--max-interval SECONDS] [--min-interval SECONDS] < events\n");
}

int main(int argc, char **argv)
{
    const char *mode = NULL;
    double rate = 0;
    int64_t window_s = 3600, start_s = 0, end_s = 0, max_interval_s = 86400, min_interval_s = 60;
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(argv[i], "--help") == 0) {
            s_usage();
            return 0;
        }
        if (!v) {
            s_usage();
            return 2;
        }
        if (strcmp(argv[i], "--schedule") == 0)
            mode = v;
        else if (strcmp(argv[i], "--rate") == 0)
            rate = atof(v);
        else if (strcmp(argv[i], "--window") == 0)
            window_s = atoll(v);
        else if (strcmp(argv[i], "--start") == 0)
            start_s = atoll(v);
        else if (strcmp(argv[i], "--end") == 0)
            end_s = atoll(v);
        else if (strcmp(argv[i], "--max-interval") == 0)
            max_interval_s = atoll(v);
        else if (strcmp(argv[i], "--min-interval") == 0)
            min_interval_s = atoll(v);
        else if (strcmp(argv[i], "--pin") == 0)
            s_pin = atoi(v) != 0;
        else if (strcmp(argv[i], "--split") == 0)
            s_split = atoi(v) != 0;
        else {
            fprintf(stderr, "vinted-bench-schedule: unknown option %s\n", argv[i]);
            return 2;
        }
        i++;
    }
    if (!mode || (strcmp(mode, "fixed") != 0 && strcmp(mode, "adaptive") != 0) || rate <= 0 || end_s <= start_s
        || window_s <= 0) {
        s_usage();
        return 2;
    }
    bool adaptive = strcmp(mode, "adaptive") == 0;

    /* the catalogs, then the events */
    static char line[1 << 20];
    if (!fgets(line, sizeof line, stdin) || strncmp(line, "catalogs ", 9) != 0) {
        fprintf(stderr, "vinted-bench-schedule: the first line must be 'catalogs ID,ID,...'\n");
        return 2;
    }
    for (char *p = line + 9; *p && *p != '\n';) {
        s_cats = realloc(s_cats, (size_t) (s_n + 1) * sizeof *s_cats);
        memset(&s_cats[s_n], 0, sizeof *s_cats);
        s_cats[s_n++].id = (int32_t) strtol(p, &p, 10);
        if (*p == ',')
            p++;
    }
    qsort(s_cats, (size_t) s_n, sizeof *s_cats, s_cmp);
    int64_t t_ms;
    char kind;
    int cat_id;
    while (scanf("%" SCNd64 " %c %d", &t_ms, &kind, &cat_id) == 3) {
        s_cat_t *c = s_find(cat_id);
        if (!c)
            continue;
        if (c->n == c->size) {
            c->size = c->size ? c->size * 2 : 64;
            c->t = realloc(c->t, (size_t) c->size * sizeof *c->t);
            c->kind = realloc(c->kind, (size_t) c->size);
        }
        c->t[c->n] = t_ms;
        c->kind[c->n++] = kind;
        if (kind == 'n' && t_ms >= start_s * 1000 && t_ms < end_s * 1000)
            c->new_total++;
    }
    /* what was listed before the start is the backlog the first poll finds: not counted */
    for (int i = 0; i < s_n; i++)
        s_cats[i].mark = s_arrived(&s_cats[i], start_s * 1000 - 1, 0);

    schedule_t *sched = NULL;
    if (adaptive) {
        schedule_settings_t st = { .budget_per_min = rate * 0.9, .min_interval_ms = min_interval_s * 1000,
                                   .max_interval_ms = max_interval_s * 1000, .first_interval_ms = window_s * 1000,
                                   .half_life_ms = 3600000,
                                   .request_ms = s_pin ? 0 : (int64_t) llround(60000.0 / rate) };
        sched = schedule_new(&st);
        for (int i = 0; i < s_n; i++) {
            schedule_add(sched, s_cats[i].id, 1);
            schedule_observe(sched, s_cats[i].id, start_s * 1000, 0, false); /* the backlog poll */
        }
        schedule_replan(sched);
    }

    /* the simulation: one request every 60000/rate ms, given in turn to the polls under way */
    int64_t token_ms = (int64_t) llround(60000.0 / rate);
    int64_t next_token = start_s * 1000, next_window = start_s * 1000 + window_s * 1000;
    int turn = 0;
    for (int64_t t = start_s * 1000; t < end_s * 1000; t += 1000) {
        if (!adaptive && t >= next_window) {
            for (int i = 0; i < s_n; i++) {
                if (s_cats[i].pages > 0)
                    s_cats[i].pending = true;
                else
                    s_cats[i].pages = -1; /* started: page 1 asked */
            }
            next_window += window_s * 1000;
        }
        if (adaptive) {
            for (int i = 0; i < s_n; i++) {
                s_cat_t *c = &s_cats[i];
                if (c->pages == 0 && t >= c->not_before && t >= schedule_due_ms(sched, c->id)) {
                    c->pages = -1;
                    c->not_before = t + min_interval_s * 1000;
                }
            }
        }
        while (next_token <= t) {
            /* a poll's next page goes first (as the broker puts a window's next page ahead
               of other windows' first pages), then the polls waiting for page 1, in turn */
            int k = 0;
            for (; k < s_n; k++)
                if (s_cats[(turn + k) % s_n].pages > 0 || s_cats[(turn + k) % s_n].owed > 0)
                    break;
            for (int j = 0; k == s_n && j < s_n; j++)
                if (s_cats[(turn + j) % s_n].pages != 0)
                    k = j;
            if (k == s_n) {
                next_token = t + 1000 > next_token + token_ms ? t : next_token; /* a bucket of one token */
                break;
            }
            s_cat_t *c = &s_cats[(turn + k) % s_n];
            turn = (turn + k + 1) % s_n;
            int page = c->pages < 0 ? 1 : c->pages + 1;
            bool trunc;
            int64_t got;
            bool over;
            if (s_pin) { /* the poll's plan is known at page 1; its other pages are owed */
                if (c->owed > 0)
                    c->owed--;
                else
                    c->owed = s_poll_pinned(c, next_token, sched) - 1;
                over = c->owed == 0;
            }
            else
                over = s_page(c, page, next_token, sched, &trunc, &got);
            if (over) {
                c->pages = c->pending ? -1 : 0;
                c->pending = false;
                if (sched)
                    schedule_replan(sched);
            }
            else
                c->pages = page;
            next_token += token_ms;
        }
    }
    /* the final poll of every catalog at the end (as many pages as it takes) */
    int64_t listed = 0, captured = 0, requests_run = 0, requests_final = 0, truncated = 0, polls = 0, lost = 0;
    int64_t floor_req = 0, worst_cat = -1, splits = 0, floor_fresh = 0;
    double worst = 2;
    for (int i = 0; i < s_n; i++) {
        s_cat_t *c = &s_cats[i];
        requests_run += c->requests;
        int64_t before = c->requests;
        bool trunc;
        int64_t got;
        int page = c->pages > 0 ? c->pages + 1 : 1;
        if (s_pin && c->owed > 0)
            c->owed = 0; /* the poll under way: its pages were counted at its page 1 */
        else if (s_pin && c->mark < c->n) {
            s_split = false; /* closing the books: one query, at most 960, as an unsplit poll */
            c->n_bands = 0;
            s_poll_pinned(c, end_s * 1000, NULL);
        }
        else if (!s_pin && (c->pages != 0 || c->mark < c->n))
            while (!s_page(c, page, end_s * 1000, NULL, &trunc, &got))
                page++;
        requests_final += c->requests - before;
        listed += c->new_total;
        captured += c->captured;
        lost += c->lost;
        truncated += c->truncated;
        polls += c->polls;
        splits += c->splits;
        int64_t need = (c->new_total + SCHEDULE_PER_PAGE - 1) / SCHEDULE_PER_PAGE;
        int64_t every = (end_s - start_s + max_interval_s - 1) / max_interval_s; /* polls --max-interval asks for */
        floor_req += need;
        floor_fresh += need > every ? need : every;
        double share = c->new_total ? (double) c->captured / (double) c->new_total : 1;
        if (share < worst) {
            worst = share;
            worst_cat = c->id;
        }
    }
    double missed_h = 0, planned_h = 0;
    if (sched)
        schedule_totals(sched, &planned_h, &missed_h);
    int64_t requests = requests_run + requests_final;
    printf("schedule=%s catalogs=%d listed=%" PRId64 " captured=%" PRId64 " captured_pct=%.3f requests=%" PRId64
           " requests_final=%" PRId64 " floor=%" PRId64 " requests_over_floor=%.3f listings_per_request=%.2f polls=%"
           PRId64 " truncated=%" PRId64 " lost=%" PRId64 " worst_catalog=%" PRId64 " worst_catalog_pct=%.2f"
           " budget_requests=%.0f planned_requests_per_h=%.1f planned_missed_per_h=%.1f pin=%d splits=%" PRId64
           " floor_fresh=%" PRId64 " requests_over_floor_fresh=%.3f\n",
           mode, s_n, listed, captured, listed ? 100.0 * (double) captured / (double) listed : 100.0, requests,
           requests_final, floor_req, floor_req ? (double) requests / (double) floor_req : 0,
           requests ? (double) captured / (double) requests : 0, polls, truncated, lost, worst_cat, 100.0 * worst,
           rate * (double) (end_s - start_s) / 60.0, planned_h, missed_h, s_pin, splits, floor_fresh,
           floor_fresh ? (double) requests / (double) floor_fresh : 0);
    for (int i = 0; i < s_n && getenv("BENCH_SCHEDULE_VERBOSE"); i++) {
        s_cat_t *c = &s_cats[i];
        schedule_plan_t p = { 0 };
        if (sched)
            schedule_get(sched, i, &p);
        if (c->new_total > 50)
            fprintf(stderr, "catalog=%d listed=%" PRId64 " captured=%" PRId64 " polls=%" PRId64 " truncated=%" PRId64
                    " requests=%" PRId64 " rate_per_h=%.1f interval_s=%.0f short=%d\n", c->id, c->new_total,
                    c->captured, c->polls, c->truncated, c->requests, p.rate_per_h, (double) p.interval_ms / 1000.0,
                    p.short_of_budget);
    }
    for (int i = 0; i < s_n; i++) {
        free(s_cats[i].t);
        free(s_cats[i].kind);
    }
    free(s_cats);
    schedule_destroy(&sched);
    return 0;
}
