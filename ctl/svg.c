/*  svg.c - inline SVG bar and line charts with escaped text. */
#include "ctl/svg.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define S_LEFT 70   /* room for the y axis labels */
#define S_RIGHT 10
#define S_TOP 28    /* room for the title */
#define S_BOTTOM 34 /* room for the x labels */

static const char *const s_colors[] = { "#3b6ea5", "#d1773a", "#4f9a55", "#b5443c", "#7d5ba6",
                                        "#8a6d3b", "#c2559f", "#5f6b6d", "#a3a03a", "#2f9fb0" };

void svg_escape(FILE *f, const char *text)
{
    for (const unsigned char *p = (const unsigned char *) (text ? text : ""); *p; p++) {
        switch (*p) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&#39;", f); break;
        default: fputc(*p < 0x20 || *p == 0x7f ? ' ' : *p, f);
        }
    }
}

const char *svg_cents(char *buf, int size, int64_t cents)
{
    uint64_t a = cents < 0 ? (uint64_t) 0 - (uint64_t) cents : (uint64_t) cents;
    snprintf(buf, (size_t) size, "%s%llu.%02llu", cents < 0 ? "-" : "", (unsigned long long) (a / 100),
             (unsigned long long) (a % 100));
    return buf;
}

static void s_value(char *buf, int size, int64_t v, bool money)
{
    if (money)
        svg_cents(buf, size, v);
    else
        snprintf(buf, (size_t) size, "%lld", (long long) v);
}

/* y pixel of v on an axis 0..max over height h (top at S_TOP) */
static int s_y(int64_t v, int64_t lo, int64_t hi, int h)
{
    if (hi <= lo)
        return S_TOP + h / 2;
    __int128 num = (__int128) (v - lo) * h;
    return S_TOP + h - (int) (num / (hi - lo));
}

static void s_open(FILE *f, const char *cls, const char *title, int width, int height)
{
    fprintf(f, "<svg class=\"chart ");
    svg_escape(f, cls);
    fprintf(f, "\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\">\n", width,
            height, width, height);
    fprintf(f, "<text class=\"title\" x=\"%d\" y=\"18\" font-size=\"14\" font-weight=\"bold\">", S_LEFT);
    svg_escape(f, title);
    fprintf(f, "</text>\n");
}

static void s_axes(FILE *f, int width, int height, const char *top_label, const char *bottom_label)
{
    int x0 = S_LEFT, y1 = height - S_BOTTOM;
    fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#333\"/>\n", x0, S_TOP, x0, y1);
    fprintf(f, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"#333\"/>\n", x0, y1, width - S_RIGHT, y1);
    fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"11\" text-anchor=\"end\">", x0 - 4, S_TOP + 10);
    svg_escape(f, top_label);
    fprintf(f, "</text>\n<text x=\"%d\" y=\"%d\" font-size=\"11\" text-anchor=\"end\">", x0 - 4, y1);
    svg_escape(f, bottom_label);
    fprintf(f, "</text>\n");
}

void svg_bars(FILE *f, const char *cls, const char *title, const svg_bar_t *bars, int n, int width, int height,
              bool money)
{
    s_open(f, cls, title, width, height);
    int64_t max = 0;
    for (int i = 0; i < n; i++)
        if (bars[i].value > max)
            max = bars[i].value;
    char top[32], zero[32];
    s_value(top, sizeof top, max, money);
    s_value(zero, sizeof zero, 0, money);
    s_axes(f, width, height, top, zero);
    int plot_w = width - S_LEFT - S_RIGHT, plot_h = height - S_TOP - S_BOTTOM;
    int slot = n > 0 ? plot_w / n : plot_w;
    if (slot < 1)
        slot = 1;
    int bar_w = slot > 3 ? slot - slot / 5 : slot;
    /* label every k-th bar so that labels (about 7 px a character) do not overlap */
    size_t longest = 1;
    for (int i = 0; i < n; i++)
        if (bars[i].label && strlen(bars[i].label) > longest)
            longest = strlen(bars[i].label);
    int every = (int) ((longest * 7 + 6) / (size_t) slot) + 1;
    for (int i = 0; i < n; i++) {
        int64_t v = bars[i].value < 0 ? 0 : bars[i].value;
        int y = max > 0 ? s_y(v, 0, max, plot_h) : S_TOP + plot_h;
        int x = S_LEFT + i * slot + (slot - bar_w) / 2;
        char text[32];
        s_value(text, sizeof text, v, money);
        fprintf(f, "<rect class=\"bar\" x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"%s\"><title>", x, y, bar_w,
                S_TOP + plot_h - y, s_colors[0]);
        svg_escape(f, bars[i].label);
        fprintf(f, ": %s</title></rect>\n", text);
        if (bars[i].label && i % every == 0) {
            fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"10\" text-anchor=\"middle\">", x + bar_w / 2,
                    height - S_BOTTOM + 14);
            svg_escape(f, bars[i].label);
            fprintf(f, "</text>\n");
        }
    }
    fprintf(f, "</svg>\n");
}

static void s_date(char *buf, size_t size, int64_t t)
{
    time_t tt = (time_t) t;
    struct tm tm;
    if (gmtime_r(&tt, &tm))
        strftime(buf, size, "%Y-%m-%d %H:%M", &tm);
    else
        snprintf(buf, size, "%lld", (long long) t);
}

void svg_lines(FILE *f, const char *cls, const char *title, const svg_series_t *series, int n, int width, int height,
               bool x_is_time)
{
    s_open(f, cls, title, width, height);
    int64_t x_lo = INT64_MAX, x_hi = INT64_MIN, y_hi = 0;
    for (int s = 0; s < n; s++)
        for (int i = 0; i < series[s].n; i++) {
            if (series[s].x[i] < x_lo)
                x_lo = series[s].x[i];
            if (series[s].x[i] > x_hi)
                x_hi = series[s].x[i];
            if (series[s].y[i] > y_hi)
                y_hi = series[s].y[i];
        }
    char top[32], zero[32];
    svg_cents(top, sizeof top, y_hi);
    svg_cents(zero, sizeof zero, 0);
    s_axes(f, width, height, top, zero);
    int plot_w = width - S_LEFT - S_RIGHT - 20, plot_h = height - S_TOP - S_BOTTOM;
    if (x_lo <= x_hi) {
        char a[40], b[40];
        if (x_is_time) {
            s_date(a, sizeof a, x_lo);
            s_date(b, sizeof b, x_hi);
        }
        else {
            snprintf(a, sizeof a, "%lld", (long long) x_lo);
            snprintf(b, sizeof b, "%lld", (long long) x_hi);
        }
        fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"10\">%s</text>\n", S_LEFT, height - S_BOTTOM + 14, a);
        fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"10\" text-anchor=\"end\">%s</text>\n", width - S_RIGHT,
                height - S_BOTTOM + 14, b);
    }
    for (int s = 0; s < n; s++) {
        const char *color = s_colors[s % (int) (sizeof s_colors / sizeof *s_colors)];
        fprintf(f, "<path class=\"line\" fill=\"none\" stroke=\"%s\" stroke-width=\"2\" d=\"", color);
        for (int i = 0; i < series[s].n; i++) {
            int x = S_LEFT + 10 + (x_hi > x_lo ? (int) ((__int128) (series[s].x[i] - x_lo) * plot_w / (x_hi - x_lo))
                                               : plot_w / 2);
            int y = s_y(series[s].y[i], 0, y_hi, plot_h);
            fprintf(f, "%s%d %d", i ? " L" : "M", x, y);
            /* a lone point is a tiny segment so that it shows */
            if (series[s].n == 1)
                fprintf(f, " L%d %d", x + 1, y);
        }
        fprintf(f, "\"><title>");
        svg_escape(f, series[s].name);
        fprintf(f, "</title></path>\n");
        for (int i = 0; i < series[s].n; i++) {
            int x = S_LEFT + 10 + (x_hi > x_lo ? (int) ((__int128) (series[s].x[i] - x_lo) * plot_w / (x_hi - x_lo))
                                               : plot_w / 2);
            char v[32];
            fprintf(f, "<circle cx=\"%d\" cy=\"%d\" r=\"3\" fill=\"%s\"><title>", x,
                    s_y(series[s].y[i], 0, y_hi, plot_h), color);
            svg_escape(f, series[s].name);
            fprintf(f, ": %s</title></circle>\n", svg_cents(v, sizeof v, series[s].y[i]));
        }
        /* legend, top right, one line per series */
        fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"10\" height=\"10\" fill=\"%s\"/>", width - 190, S_TOP + 2 + 14 * s,
                color);
        fprintf(f, "<text x=\"%d\" y=\"%d\" font-size=\"11\">", width - 176, S_TOP + 11 + 14 * s);
        svg_escape(f, series[s].name);
        fprintf(f, "</text>\n");
    }
    fprintf(f, "</svg>\n");
}

static size_t s_count(const char *text, const char *needle)
{
    size_t n = 0;
    for (const char *p = strstr(text, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

void svg_test(bool verbose)
{
    char *buf = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&buf, &size);
    assert(f);
    svg_escape(f, "a<b>&\"c'\x01");
    fflush(f);
    assert(strcmp(buf, "a&lt;b&gt;&amp;&quot;c&#39; ") == 0);
    fclose(f);
    free(buf);

    char cents[24];
    assert(strcmp(svg_cents(cents, sizeof cents, 1250), "12.50") == 0);
    assert(strcmp(svg_cents(cents, sizeof cents, -5), "-0.05") == 0);
    assert(strcmp(svg_cents(cents, sizeof cents, INT64_MIN), "-92233720368547758.08") == 0);

    f = open_memstream(&buf, &size);
    svg_bar_t bars[] = { { "0.00-5.00", 3 }, { "5.00-10.00", 0 }, { "<script>", 7 } };
    svg_bars(f, "hist", "Catalog <221>", bars, 3, 400, 200, false);
    fclose(f);
    assert(s_count(buf, "<rect class=\"bar\"") == 3);
    assert(strstr(buf, "Catalog &lt;221&gt;"));
    assert(!strstr(buf, "<script>"));
    assert(strstr(buf, "height=\"0\"")); /* the zero bar is there, flat */
    assert(strncmp(buf, "<svg class=\"chart hist\"", 23) == 0);
    if (verbose)
        printf("\n%s", buf);
    free(buf);

    f = open_memstream(&buf, &size);
    int64_t x1[] = { 100, 200, 300 }, y1[] = { 1000, 1500, 500 }, x2[] = { 150 }, y2[] = { 99 };
    svg_series_t series[] = { { "221 EUR", 3, x1, y1 }, { "1242 & co", 1, x2, y2 } };
    svg_lines(f, "median", "Median", series, 2, 600, 300, true);
    fclose(f);
    assert(s_count(buf, "<path class=\"line\"") == 2);
    assert(s_count(buf, "<circle") == 4);
    assert(strstr(buf, "1242 &amp; co"));
    assert(strstr(buf, "15.00"));
    free(buf);

    /* no data at all still makes a valid, empty chart */
    f = open_memstream(&buf, &size);
    svg_bars(f, "empty", "Nothing", NULL, 0, 300, 100, true);
    svg_lines(f, "empty", "Nothing", NULL, 0, 300, 100, false);
    fclose(f);
    assert(s_count(buf, "</svg>") == 2 && !strstr(buf, "class=\"bar\""));
    free(buf);
}
