/*  metrics.c - the registry and the text exposition format; the HTTP server is
    metrics_http.c. See metrics.h. (Near 700 lines: its last 190 are the self-test
    of the exposition format, kept beside the renderer it checks.)

    Values are doubles kept as their bit patterns in atomic 64-bit cells (an add is
    a compare-and-swap loop); a histogram has one atomic count per bucket plus
    one past the last bound, and its _count is the sum of those, so a scrape
    never shows a cumulative bucket above +Inf. The family and series lists are
    guarded by one mutex, taken when a series is created and when rendering.
*/
#include "common/metrics.h"

#include <arpa/inet.h>
#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "common/metrics_http.h"

const double metrics_latency_buckets[] = { 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
                                           0.5,   1,      2.5,   5,    10,    30,    60,  300 };
const int metrics_latency_buckets_n = (int) (sizeof metrics_latency_buckets / sizeof metrics_latency_buckets[0]);

struct _metrics_series_t {
    metrics_family_t *family;
    char *values[METRICS_MAX_LABELS]; /* raw label values, for lookup */
    char *labels;                     /* rendered: a="x",b="y" (escaped), "" without labels */
    _Atomic uint64_t value;           /* counter/gauge value; histogram sum (double bits) */
    _Atomic uint64_t *buckets;        /* histogram: n_buckets + 1 counts (last: above every bound) */
    metrics_series_t *next;
};

struct _metrics_family_t {
    metrics_t *registry;
    metrics_type_t type;
    char *name;
    char *help;
    int n_labels;
    char *label_names[METRICS_MAX_LABELS];
    int n_buckets;
    double buckets[METRICS_MAX_BUCKETS];
    metrics_series_t *series, *last;
    metrics_family_t *next;
};

struct _metrics_t {
    pthread_mutex_t lock;
    metrics_family_t *families, *last;
    metrics_http_t *http; /* the server, once started */
};

/* ------------------------------------------------------------- values */

static double s_load(_Atomic uint64_t *cell)
{
    uint64_t bits = atomic_load_explicit(cell, memory_order_relaxed);
    double v;
    memcpy(&v, &bits, sizeof v);
    return v;
}

static void s_store(_Atomic uint64_t *cell, double v)
{
    uint64_t bits;
    memcpy(&bits, &v, sizeof bits);
    atomic_store_explicit(cell, bits, memory_order_relaxed);
}

static void s_add(_Atomic uint64_t *cell, double v)
{
    uint64_t old = atomic_load_explicit(cell, memory_order_relaxed), new;
    do {
        double d;
        memcpy(&d, &old, sizeof d);
        d += v;
        memcpy(&new, &d, sizeof new);
    } while (!atomic_compare_exchange_weak_explicit(cell, &old, new, memory_order_relaxed,
                                                    memory_order_relaxed));
}

void metrics_inc(metrics_series_t *series)
{
    metrics_add(series, 1.0);
}

void metrics_add(metrics_series_t *series, double v)
{
    if (!series || series->family->type == METRICS_HISTOGRAM || isnan(v))
        return;
    if (series->family->type == METRICS_COUNTER && v < 0)
        return;
    s_add(&series->value, v);
}

void metrics_set(metrics_series_t *series, double v)
{
    if (!series || series->family->type == METRICS_HISTOGRAM)
        return;
    s_store(&series->value, v);
}

void metrics_observe(metrics_series_t *series, double v)
{
    if (!series || series->family->type != METRICS_HISTOGRAM || isnan(v))
        return;
    const metrics_family_t *f = series->family;
    int i = 0;
    while (i < f->n_buckets && v > f->buckets[i])
        i++;
    atomic_fetch_add_explicit(&series->buckets[i], 1, memory_order_relaxed);
    s_add(&series->value, v);
}

double metrics_value(const metrics_series_t *series)
{
    if (!series)
        return 0;
    metrics_series_t *s = (metrics_series_t *) series;
    if (s->family->type != METRICS_HISTOGRAM)
        return s_load(&s->value);
    uint64_t n = 0;
    for (int i = 0; i <= s->family->n_buckets; i++)
        n += atomic_load_explicit(&s->buckets[i], memory_order_relaxed);
    return (double) n;
}

/* ----------------------------------------------------------- registry */

metrics_t *metrics_new(void)
{
    metrics_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    pthread_mutex_init(&self->lock, NULL);
    return self;
}

static void s_series_free(metrics_series_t *s)
{
    for (int i = 0; i < METRICS_MAX_LABELS; i++)
        free(s->values[i]);
    free(s->labels);
    free(s->buckets);
    free(s);
}

void metrics_destroy(metrics_t **self_p)
{
    metrics_t *self = *self_p;
    if (!self)
        return;
    metrics_stop(self);
    metrics_family_t *f = self->families;
    while (f) {
        metrics_family_t *next = f->next;
        metrics_series_t *s = f->series;
        while (s) {
            metrics_series_t *sn = s->next;
            s_series_free(s);
            s = sn;
        }
        for (int i = 0; i < f->n_labels; i++)
            free(f->label_names[i]);
        free(f->name);
        free(f->help);
        free(f);
        f = next;
    }
    pthread_mutex_destroy(&self->lock);
    free(self);
    *self_p = NULL;
}

/* [a-zA-Z_:][a-zA-Z0-9_:]* for a metric, no ':' in a label name. */
static bool s_valid_name(const char *name, size_t len, bool label)
{
    if (len == 0)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        bool ok = isalpha((unsigned char) c) || c == '_' || (!label && c == ':')
                  || (i > 0 && isdigit((unsigned char) c));
        if (!ok || c & 0x80)
            return false;
    }
    return !(label && len >= 2 && name[0] == '_' && name[1] == '_');
}

static void s_family_free(metrics_family_t *f)
{
    for (int i = 0; i < f->n_labels; i++)
        free(f->label_names[i]);
    free(f->name);
    free(f->help);
    free(f);
}

metrics_family_t *metrics_family(metrics_t *self, metrics_type_t type, const char *name,
                                 const char *help, const char *labels, const double *buckets,
                                 int n_buckets)
{
    if (!self)
        return NULL;
    if (!name || !s_valid_name(name, strlen(name), false)) {
        log_error("metric refused: bad name", "name=%s", log_str(name));
        return NULL;
    }
    metrics_family_t *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    f->registry = self;
    f->type = type;
    f->name = strdup(name);
    f->help = strdup(help ? help : "");
    const char *p = labels;
    while (p && *p) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t) (end - p) : strlen(p);
        if (f->n_labels == METRICS_MAX_LABELS || !s_valid_name(p, len, true)
            || (type == METRICS_HISTOGRAM && len == 2 && memcmp(p, "le", 2) == 0)) {
            log_error("metric refused: bad label names", "name=%s labels=%s", log_str(name),
                      log_str(labels));
            s_family_free(f);
            return NULL;
        }
        f->label_names[f->n_labels++] = strndup(p, len);
        p = end ? end + 1 : p + len;
    }
    if (type == METRICS_HISTOGRAM) {
        bool ok = buckets && n_buckets > 0 && n_buckets <= METRICS_MAX_BUCKETS;
        for (int i = 0; ok && i < n_buckets; i++)
            ok = isfinite(buckets[i]) && (i == 0 || buckets[i] > buckets[i - 1]);
        if (!ok) {
            log_error("metric refused: bad histogram buckets", "name=%s", log_str(name));
            s_family_free(f);
            return NULL;
        }
        memcpy(f->buckets, buckets, (size_t) n_buckets * sizeof *buckets);
        f->n_buckets = n_buckets;
    }
    pthread_mutex_lock(&self->lock);
    metrics_family_t *found = NULL;
    for (metrics_family_t *o = self->families; o && !found; o = o->next)
        if (strcmp(o->name, name) == 0)
            found = o;
    if (found) {
        bool same = found->type == type && found->n_labels == f->n_labels;
        for (int i = 0; same && i < f->n_labels; i++)
            same = strcmp(found->label_names[i], f->label_names[i]) == 0;
        pthread_mutex_unlock(&self->lock);
        s_family_free(f);
        if (!same) {
            log_error("metric refused: registered before with another type or labels", "name=%s",
                      log_str(name));
            return NULL;
        }
        return found;
    }
    if (self->last)
        self->last->next = f;
    else
        self->families = f;
    self->last = f;
    pthread_mutex_unlock(&self->lock);
    return f;
}

/* A label value as the text format wants it: \ " and newline escaped. */
static size_t s_escape(char *out, const char *in, bool quotes)
{
    size_t o = 0;
    for (const char *p = in; *p; p++) {
        if (*p == '\\' || (quotes && *p == '"')) {
            if (out) { out[o] = '\\'; out[o + 1] = *p; }
            o += 2;
        }
        else if (*p == '\n') {
            if (out) { out[o] = '\\'; out[o + 1] = 'n'; }
            o += 2;
        }
        else {
            if (out) out[o] = *p;
            o++;
        }
    }
    if (out)
        out[o] = '\0';
    return o;
}

static char *s_render_labels(const metrics_family_t *f, const char *const *values)
{
    size_t size = 1;
    for (int i = 0; i < f->n_labels; i++)
        size += strlen(f->label_names[i]) + 4 + s_escape(NULL, values[i], true);
    char *out = malloc(size);
    if (!out)
        return NULL;
    size_t o = 0;
    out[0] = '\0';
    for (int i = 0; i < f->n_labels; i++) {
        o += (size_t) snprintf(out + o, size - o, "%s%s=\"", i ? "," : "", f->label_names[i]);
        o += s_escape(out + o, values[i], true);
        out[o++] = '"';
        out[o] = '\0';
    }
    return out;
}

metrics_series_t *metrics_series(metrics_family_t *family, ...)
{
    if (!family)
        return NULL;
    const char *values[METRICS_MAX_LABELS] = { NULL };
    va_list ap;
    va_start(ap, family);
    for (int i = 0; i < family->n_labels; i++) {
        values[i] = va_arg(ap, const char *);
        if (!values[i])
            values[i] = "";
    }
    va_end(ap);
    metrics_t *self = family->registry;
    pthread_mutex_lock(&self->lock);
    metrics_series_t *s = family->series;
    for (; s; s = s->next) {
        bool same = true;
        for (int i = 0; same && i < family->n_labels; i++)
            same = strcmp(s->values[i], values[i]) == 0;
        if (same)
            break;
    }
    if (!s && (s = calloc(1, sizeof *s)) != NULL) {
        s->family = family;
        bool ok = (s->labels = s_render_labels(family, values)) != NULL;
        for (int i = 0; ok && i < family->n_labels; i++)
            ok = (s->values[i] = strdup(values[i])) != NULL;
        if (ok && family->type == METRICS_HISTOGRAM)
            ok = (s->buckets = calloc((size_t) family->n_buckets + 1, sizeof *s->buckets)) != NULL;
        if (!ok) {
            s_series_free(s);
            s = NULL;
        }
        else {
            if (family->last)
                family->last->next = s;
            else
                family->series = s;
            family->last = s;
        }
    }
    pthread_mutex_unlock(&self->lock);
    return s;
}

metrics_series_t *metrics_counter(metrics_t *self, const char *name, const char *help)
{
    return metrics_series(metrics_family(self, METRICS_COUNTER, name, help, NULL, NULL, 0));
}

metrics_series_t *metrics_gauge(metrics_t *self, const char *name, const char *help)
{
    return metrics_series(metrics_family(self, METRICS_GAUGE, name, help, NULL, NULL, 0));
}

metrics_series_t *metrics_histogram(metrics_t *self, const char *name, const char *help,
                                    const double *buckets, int n_buckets)
{
    return metrics_series(metrics_family(self, METRICS_HISTOGRAM, name, help, NULL, buckets, n_buckets));
}

/* ----------------------------------------------------------- rendering */

typedef struct {
    char *data;
    size_t len, size;
    bool failed;
} s_buf_t;

static void s_printf(s_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void s_printf(s_buf_t *b, const char *fmt, ...)
{
    if (b->failed)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->data + b->len, b->size - b->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->failed = true;
            return;
        }
        if (b->len + (size_t) n < b->size) {
            b->len += (size_t) n;
            return;
        }
        size_t size = (b->size + (size_t) n + 1) * 2;
        char *data = realloc(b->data, size);
        if (!data) {
            b->failed = true;
            return;
        }
        b->data = data;
        b->size = size;
    }
}

/* A sample value: integers plainly, others in the shortest form that reads back the same. */
static const char *s_number(double v, char *buf, size_t size)
{
    if (isnan(v))
        return "NaN";
    if (isinf(v))
        return v > 0 ? "+Inf" : "-Inf";
    if (v == floor(v) && fabs(v) < 1e15) {
        snprintf(buf, size, "%.0f", v);
        return buf;
    }
    for (int precision = 6; precision <= 17; precision++) {
        snprintf(buf, size, "%.*g", precision, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    return buf;
}

static void s_sample(s_buf_t *b, const char *name, const char *suffix, const char *labels,
                     const char *extra, double v)
{
    char num[40];
    bool any = labels[0] || extra;
    s_printf(b, "%s%s%s%s%s%s%s %s\n", name, suffix, any ? "{" : "", labels,
             labels[0] && extra ? "," : "", extra ? extra : "", any ? "}" : "",
             s_number(v, num, sizeof num));
}

static void s_render_family(s_buf_t *b, metrics_family_t *f)
{
    static const char *const types[] = { "counter", "gauge", "histogram" };
    char *help = malloc(s_escape(NULL, f->help, false) + 1);
    if (!help) {
        b->failed = true;
        return;
    }
    s_escape(help, f->help, false);
    s_printf(b, "# HELP %s %s\n# TYPE %s %s\n", f->name, help, f->name, types[f->type]);
    free(help);
    for (metrics_series_t *s = f->series; s; s = s->next) {
        if (f->type != METRICS_HISTOGRAM) {
            s_sample(b, f->name, "", s->labels, NULL, s_load(&s->value));
            continue;
        }
        uint64_t cumulative = 0;
        char le[64], num[40];
        for (int i = 0; i <= f->n_buckets; i++) {
            cumulative += atomic_load_explicit(&s->buckets[i], memory_order_relaxed);
            snprintf(le, sizeof le, "le=\"%s\"",
                     i < f->n_buckets ? s_number(f->buckets[i], num, sizeof num) : "+Inf");
            s_sample(b, f->name, "_bucket", s->labels, le, (double) cumulative);
        }
        s_sample(b, f->name, "_sum", s->labels, NULL, s_load(&s->value));
        s_sample(b, f->name, "_count", s->labels, NULL, (double) cumulative);
    }
}

char *metrics_render(metrics_t *self, size_t *len_p)
{
    if (!self)
        return NULL;
    s_buf_t b = { malloc(4096), 0, 4096, false };
    if (!b.data)
        return NULL;
    b.data[0] = '\0';
    pthread_mutex_lock(&self->lock);
    for (metrics_family_t *f = self->families; f; f = f->next)
        s_render_family(&b, f);
    pthread_mutex_unlock(&self->lock);
    if (b.failed) {
        free(b.data);
        return NULL;
    }
    if (len_p)
        *len_p = b.len;
    return b.data;
}

/* -------------------------------------------------------------- server */

int metrics_start(metrics_t *self, const char *bind, int port)
{
    if (!self || self->http || port < 0 || port > 65535)
        return -1;
    self->http = metrics_http_new(self, bind, port);
    return self->http ? 0 : -1;
}

int metrics_port(const metrics_t *self)
{
    return self ? metrics_http_port(self->http) : 0;
}

void metrics_stop(metrics_t *self)
{
    if (self)
        metrics_http_destroy(&self->http);
}

int metrics_setup(const config_opt_t *opts, metrics_t **out)
{
    *out = NULL;
    const char *text = config_get(opts, "metrics");
    const char *bind = config_get(opts, "metrics-bind");
    if (!text)
        text = "";
    long port = 0;
    if (*text) {
        char *end;
        errno = 0;
        port = strtol(text, &end, 10);
        if (!isdigit((unsigned char) text[0]) || *end || errno || port < 0 || port > 65535) {
            fprintf(stderr, "invalid --metrics / VINTED_METRICS '%s': a TCP port 1..65535, or empty or 0 for off\n",
                    text);
            return 2;
        }
    }
    if (!bind || !*bind)
        bind = "127.0.0.1";
    unsigned char probe[sizeof(struct in6_addr)];
    if (inet_pton(AF_INET, bind, probe) != 1 && inet_pton(AF_INET6, bind, probe) != 1) {
        fprintf(stderr, "invalid --metrics-bind / VINTED_METRICS_BIND '%s': a numeric IPv4 or IPv6 address, "
                "like 127.0.0.1 or 0.0.0.0\n", bind);
        return 2;
    }
    if (port == 0)
        return 0;
    metrics_t *m = metrics_new();
    if (!m)
        return 1;
    metrics_set(metrics_gauge(m, "vinted_process_start_time_seconds",
                              "Start time of the process since the Unix epoch, in seconds"),
                (double) clock_wall_ms() / 1000.0);
    if (metrics_start(m, bind, (int) port) != 0) {
        fprintf(stderr, "cannot serve metrics on %s port %ld (--metrics / VINTED_METRICS): %s\n", bind, port,
                "address in use or not available");
        metrics_destroy(&m);
        return 1;
    }
    *out = m;
    return 0;
}

/* ------------------------------------------------------------ self-test */

/* Every line of a scrape is a comment or `name{labels} value`. */
static void s_test_lines_valid(const char *text)
{
    const char *line = text;
    while (*line) {
        const char *eol = strchr(line, '\n');
        assert(eol); /* every line ends with a newline */
        if (line[0] == '#')
            assert(strncmp(line, "# HELP ", 7) == 0 || strncmp(line, "# TYPE ", 7) == 0);
        else {
            const char *p = line;
            assert(isalpha((unsigned char) *p) || *p == '_');
            while (isalnum((unsigned char) *p) || *p == '_' || *p == ':')
                p++;
            if (*p == '{') {
                bool quoted = false;
                for (p++; p < eol && (quoted || *p != '}'); p++) {
                    if (quoted && *p == '\\')
                        p++;
                    else if (*p == '"')
                        quoted = !quoted;
                }
                assert(*p == '}');
                p++;
            }
            assert(*p == ' ');
            char *end;
            p++;
            if (strncmp(p, "+Inf", 4) && strncmp(p, "-Inf", 4) && strncmp(p, "NaN", 3)) {
                strtod(p, &end);
                assert(end == eol);
            }
        }
        line = eol + 1;
    }
}

void metrics_test(bool verbose)
{
    if (verbose)
        printf("\n");
    /* off: everything takes NULL */
    metrics_inc(NULL);
    metrics_observe(metrics_series(metrics_family(NULL, METRICS_COUNTER, "x", "", NULL, NULL, 0)), 1);
    assert(metrics_render(NULL, NULL) == NULL && metrics_value(NULL) == 0);

    metrics_t *m = metrics_new();
    assert(m);
    metrics_series_t *c = metrics_counter(m, "vinted_test_total", "A counter\nwith \\ a newline");
    metrics_inc(c);
    metrics_add(c, 2.5);
    metrics_add(c, -4); /* counters never go down */
    assert(metrics_value(c) == 3.5);
    assert(metrics_counter(m, "vinted_test_total", "again") == c); /* same family, same series */
    assert(!metrics_gauge(m, "vinted_test_total", "clash"));     /* another type: refused */
    assert(!metrics_family(m, METRICS_COUNTER, "9bad", "", NULL, NULL, 0));
    assert(!metrics_family(m, METRICS_COUNTER, "bad_labels", "", "a,__b", NULL, 0));
    assert(!metrics_family(m, METRICS_COUNTER, "bad_labels", "", "a,b,c,d", NULL, 0));
    double unordered[] = { 1, 0.5 };
    assert(!metrics_family(m, METRICS_HISTOGRAM, "bad_buckets", "", NULL, unordered, 2));
    assert(!metrics_family(m, METRICS_HISTOGRAM, "bad_le", "", "le", metrics_latency_buckets, 3));

    metrics_family_t *req = metrics_family(m, METRICS_COUNTER, "vinted_test_requests_total",
                                           "Requests by status", "status", NULL, 0);
    metrics_series_t *ok = metrics_series(req, "200");
    assert(ok && metrics_series(req, "200") == ok && metrics_series(req, "404") != ok);
    metrics_inc(ok);
    metrics_inc(metrics_series(req, "404"));
    metrics_family_t *esc = metrics_family(m, METRICS_GAUGE, "vinted_test_escape", "Escaping",
                                           "rule,detail", NULL, 0);
    metrics_set(metrics_series(esc, "a\"b", "c\\d\ne"), -2);
    metrics_set(metrics_series(esc, NULL, ""), 0.1);
    double buckets[] = { 0.1, 1, 10 };
    metrics_family_t *hf = metrics_family(m, METRICS_HISTOGRAM, "vinted_test_seconds", "Latency",
                                          "stage", buckets, 3);
    metrics_series_t *h = metrics_series(hf, "sink");
    metrics_observe(h, 0.05);
    metrics_observe(h, 0.1); /* le is inclusive */
    metrics_observe(h, 2);
    metrics_observe(h, 100);
    metrics_inc(h); /* not for histograms: ignored */
    assert(metrics_value(h) == 4);
    metrics_series_t *plain = metrics_histogram(m, "vinted_test_plain_seconds", "Unlabelled",
                                                metrics_latency_buckets, metrics_latency_buckets_n);
    metrics_observe(plain, 0.003);
    metrics_family(m, METRICS_GAUGE, "vinted_test_empty", "No series yet", "x", NULL, 0);

    size_t len = 0;
    char *text = metrics_render(m, &len);
    assert(text && len == strlen(text));
    if (verbose)
        printf("%s", text);
    s_test_lines_valid(text);
    assert(strstr(text, "# HELP vinted_test_total A counter\\nwith \\\\ a newline\n"
                        "# TYPE vinted_test_total counter\nvinted_test_total 3.5\n"));
    assert(strstr(text, "# TYPE vinted_test_requests_total counter\n"
                        "vinted_test_requests_total{status=\"200\"} 1\n"
                        "vinted_test_requests_total{status=\"404\"} 1\n"));
    assert(strstr(text, "vinted_test_escape{rule=\"a\\\"b\",detail=\"c\\\\d\\ne\"} -2\n"));
    assert(strstr(text, "vinted_test_escape{rule=\"\",detail=\"\"} 0.1\n"));
    assert(strstr(text, "# TYPE vinted_test_seconds histogram\n"
                        "vinted_test_seconds_bucket{stage=\"sink\",le=\"0.1\"} 2\n"
                        "vinted_test_seconds_bucket{stage=\"sink\",le=\"1\"} 2\n"
                        "vinted_test_seconds_bucket{stage=\"sink\",le=\"10\"} 3\n"
                        "vinted_test_seconds_bucket{stage=\"sink\",le=\"+Inf\"} 4\n"
                        "vinted_test_seconds_sum{stage=\"sink\"} 102.15\n"
                        "vinted_test_seconds_count{stage=\"sink\"} 4\n"));
    assert(strstr(text, "vinted_test_plain_seconds_bucket{le=\"0.001\"} 0\n"
                        "vinted_test_plain_seconds_bucket{le=\"0.0025\"} 0\n"
                        "vinted_test_plain_seconds_bucket{le=\"0.005\"} 1\n"));
    assert(strstr(text, "vinted_test_plain_seconds_count 1\n"));
    assert(strstr(text, "# TYPE vinted_test_empty gauge\n"));
    free(text);
    metrics_destroy(&m);
    assert(m == NULL);

    /* configuration (the server itself: metrics_http_test) */
    config_opt_t opts[] = { METRICS_CONFIG_OPTS, { NULL, NULL, NULL, NULL, NULL } };
    metrics_t *cm = (metrics_t *) 1;
    opts[0].value = "";
    assert(metrics_setup(opts, &cm) == 0 && cm == NULL);
    opts[0].value = "0";
    assert(metrics_setup(opts, &cm) == 0 && cm == NULL);
    opts[0].value = "http";
    assert(metrics_setup(opts, &cm) == 2 && cm == NULL);
    opts[0].value = "70000";
    assert(metrics_setup(opts, &cm) == 2);
    opts[0].value = "-1";
    assert(metrics_setup(opts, &cm) == 2);
    opts[0].value = "9100";
    opts[1].value = "localhost";
    assert(metrics_setup(opts, &cm) == 2 && cm == NULL);
}
