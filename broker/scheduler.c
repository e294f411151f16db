/*  scheduler.c - when the broker creates windows and runs: at each fixed window
    boundary one window per configured catalog, or with VINTED_SCHEDULE=adaptive
    when broker/schedule.c says a catalog's next poll is due (its estimates rebuilt
    from the stored polls at start, taught by every committed catalog window); a
    tracking run every VINTED_TRACK_EVERY, the catalog tree every
    VINTED_CATALOGS_EVERY, and the photo retry.
*/
#include "broker/broker_internal.h"

#include "common/clock.h"
#include "common/log.h"

/* Requests a minute all identities together may send: VINTED_RATE each, VINTED_RATE_TOTAL at most. */
double broker_rate_total(const broker_t *self)
{
    double all = self->cfg.rate_per_min * (self->cfg.proxies ? self->cfg.proxies->n : 1);
    return self->cfg.rate_total_per_min > 0 && self->cfg.rate_total_per_min < all ? self->cfg.rate_total_per_min : all;
}

#define S_SCHEDULE_SHARE 0.9 /* adaptive: the share of VINTED_RATE catalog polls plan to spend (the rest:
                                 tracking, sessions, the catalog tree, retries) */
#define S_SCHEDULE_HALF_LIFE_MS 3600000 /* adaptive: how fast a catalog's rate estimate forgets */
#define S_SCHEDULE_HISTORY 16  /* adaptive: stored polls per catalog read back at start */

/* VINTED_SCHEDULE=adaptive: four times a second, a window for every configured catalog
   whose next poll is due (broker/schedule.c) and that has none open. Each window
   starts where the catalog's last scheduled one ended, so the windows still tile
   time; what a poll pulls is decided by the mark, as with fixed windows. */
static void s_schedule_adaptive(broker_t *self)
{
    int64_t mono = clock_mono_ms();
    if (mono < self->next_adaptive)
        return;
    self->next_adaptive = mono + 250;
    int64_t now_ms = clock_wall_ms(), now_s = now_ms / 1000;
    int64_t first_s = self->cfg.window_ms / 1000 > 0 ? self->cfg.window_ms / 1000 : 1;
    zhashx_t *heads = broker_catalog_heads(self);
    bool created = false;
    for (int i = 0; i < self->cfg.n_catalogs; i++) {
        int32_t catalog = self->cfg.catalogs[i];
        char key[24];
        broker_catalog_key(key, sizeof key, self->cfg.sites[i], catalog);
        if (zhashx_lookup(heads, key) || now_ms < self->poll_not_before[i]
            || now_ms < schedule_due_ms(self->schedule, i))
            continue;
        int64_t start_s = self->poll_end_s[i] > 0 ? self->poll_end_s[i] : now_s - first_s;
        if (start_s >= now_s)
            continue;
        if (broker_create_window(self, self->cfg.sites[i], catalog, start_s, now_s, "scheduled") >= 0) {
            self->poll_end_s[i] = now_s;
            created = true;
        }
        /* one window of a catalog per min interval, whatever becomes of it (a failed
           window teaches the estimate nothing and must not turn into a loop) */
        self->poll_not_before[i] = now_ms + self->cfg.min_interval_ms;
    }
    zhashx_destroy(&heads);
    if (created)
        broker_start_windows(self);
}

/* A catalog window committed: what it found teaches the adaptive schedule. */
void broker_schedule_learn(broker_t *self, const window_t *w)
{
    int i = self->schedule && w->kind == WINDOW_CATALOG ? broker_config_index(self, w->site, w->catalog_id) : -1;
    if (i < 0) /* not scheduled (an ad-hoc window of a catalog not configured) */
        return;
    schedule_observe(self->schedule, i, w->polled_ms > 0 ? w->polled_ms : w->end_s * 1000, w->new_items,
                     w->truncated);
    /* pinned pages (v2) do not shift while a poll pages: no room to leave for that */
    schedule_set_request_ms(self->schedule, w->pin_time > 0 ? 0 : (int64_t) (60000.0 / broker_rate_total(self)));
    schedule_replan(self->schedule);
}

static int s_history_row(void *arg, const int64_t *cols, const char *text)
{
    broker_t *self = arg;
    int i = broker_config_index(self, text ? text : "", (int32_t) cols[0]);
    if (i >= 0)
        schedule_observe(self->schedule, i, cols[1], cols[2], cols[3] != 0);
    return 0;
}

static int s_last_end_row(void *arg, const int64_t *cols, const char *text)
{
    broker_t *self = arg;
    int i = broker_config_index(self, text ? text : "", (int32_t) cols[0]);
    if (i >= 0)
        self->poll_end_s[i] = cols[1];
    return 0;
}

/* At start: the adaptive schedule, its estimates rebuilt from the stored polls. */
int broker_schedule_setup(broker_t *self)
{
    if (!self->cfg.adaptive)
        return 0;
    schedule_settings_t st = { .budget_per_min = broker_rate_total(self) * S_SCHEDULE_SHARE,
                               .min_interval_ms = self->cfg.min_interval_ms,
                               .max_interval_ms = self->cfg.max_interval_ms,
                               .first_interval_ms = self->cfg.window_ms, .half_life_ms = S_SCHEDULE_HALF_LIFE_MS,
                               .request_ms = (int64_t) (60000.0 / broker_rate_total(self)) };
    self->schedule = schedule_new(&st);
    int n = self->cfg.n_catalogs > 0 ? self->cfg.n_catalogs : 1;
    self->poll_end_s = calloc((size_t) n, sizeof *self->poll_end_s);
    self->poll_not_before = calloc((size_t) n, sizeof *self->poll_not_before);
    if (!self->schedule || !self->poll_end_s || !self->poll_not_before)
        return -1;
    for (int i = 0; i < self->cfg.n_catalogs; i++) {
        if (schedule_add(self->schedule, i, self->cfg.weights[i] > 0 ? self->cfg.weights[i] : 1) /* by index */
            != 0)
            return -1;
    }
    if (store_schedule_last_ends(self->store, s_last_end_row, self) != 0
        || store_schedule_history(self->store, S_SCHEDULE_HISTORY, s_history_row, self) != 0)
        return -1;
    schedule_replan(self->schedule);
    double req, missed;
    schedule_totals(self->schedule, &req, &missed);
    log_info("adaptive schedule", "catalogs=%d budget_per_min=%g requests_per_h=%.1f missed_per_h=%.1f",
             self->cfg.n_catalogs, broker_rate_total(self) * S_SCHEDULE_SHARE, req, missed);
    return 0;
}

/* At each window boundary, one window per configured catalog for the period just closed;
   every VINTED_TRACK_EVERY, a tracking run unless one is still going. */
void broker_schedule(broker_t *self)
{
    broker_photo_retry(self);
    if (self->cfg.catalogs_every_ms > 0) {
        int64_t now = clock_mono_ms();
        if (self->next_catalogs == 0) {
            /* at start: at once when no tree was ever loaded, else after a full period */
            self->next_catalogs = store_catalogs_count(self->store) == 0 ? now : now + self->cfg.catalogs_every_ms;
        }
        if (now >= self->next_catalogs) {
            broker_catalogs_now(self);
            self->next_catalogs = now + self->cfg.catalogs_every_ms;
        }
    }
    if (self->cfg.track_every_ms > 0) {
        int64_t now = clock_mono_ms();
        if (self->next_track == 0)
            self->next_track = now + self->cfg.track_every_ms;
        else if (now >= self->next_track) {
            bool running = false;
            for (window_t *w = zhashx_first(self->windows); w && !running; w = zhashx_next(self->windows))
                running = w->kind == WINDOW_TRACKING;
            if (!running)
                broker_track_now(self);
            self->next_track = now + self->cfg.track_every_ms;
        }
    }
    if (self->cfg.n_catalogs == 0)
        return;
    if (self->schedule) {
        s_schedule_adaptive(self);
        return;
    }
    int64_t now_s = clock_wall_ms() / 1000;
    if (now_s < self->next_schedule_s)
        return;
    int64_t len_s = self->cfg.window_ms / 1000 > 0 ? self->cfg.window_ms / 1000 : 1;
    int64_t start, end;
    window_slice(now_s, len_s, &start, &end);
    bool failed = false;
    for (int i = 0; i < self->cfg.n_catalogs; i++)
        failed |= broker_create_window(self, self->cfg.sites[i], self->cfg.catalogs[i], start - len_s, start, "scheduled") < 0;
    /* database down: try again in a second (creating is idempotent); a period missed
       entirely is no loss: the next window of a catalog pulls everything past its mark */
    self->next_schedule_s = failed ? now_s + 1 : end;
    broker_start_windows(self);
}

/* Status: the adaptive schedule's plan, per catalog (NULL with fixed windows). */
char *broker_schedule_json(broker_t *self)
{
    if (!self->schedule)
        return NULL;
    int n = schedule_size(self->schedule);
    size_t size = 256 + (size_t) n * 260, o = 0;
    char *json = malloc(size);
    if (!json)
        return NULL;
    double req, missed;
    schedule_totals(self->schedule, &req, &missed);
    int64_t now = clock_wall_ms();
    o += (size_t) snprintf(json + o, size - o,
                           "{\"mode\":\"adaptive\",\"budget_per_min\":%g,\"requests_per_h\":%.1f,"
                           "\"missed_per_h\":%.1f,\"catalogs\":[",
                           broker_rate_total(self) * S_SCHEDULE_SHARE, req, missed);
    for (int i = 0; i < n; i++) {
        schedule_plan_t p;
        schedule_get(self->schedule, i, &p);
        int64_t due_in = p.due_ms > now ? p.due_ms - now : 0;
        o += (size_t) snprintf(json + o, size - o,
                               "%s{\"site\":\"%s\",\"catalog\":%d,\"weight\":%g,\"rate_per_h\":%.1f,\"interval_s\":%.0f,"
                               "\"requests_per_h\":%.2f,\"missed_per_h\":%.1f,\"short_of_budget\":%s,"
                               "\"due_in_s\":%.0f}",
                               i ? "," : "", self->cfg.sites[p.catalog], self->cfg.catalogs[p.catalog], p.weight, p.rate_per_h, (double) p.interval_ms / 1000.0,
                               p.requests_per_h, p.missed_per_h, p.short_of_budget ? "true" : "false",
                               (double) due_in / 1000.0);
    }
    snprintf(json + o, size - o, "]}");
    return json;
}
