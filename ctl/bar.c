/*  bar.c - terminal bars in unicode blocks, progress bars, durations. */
#include "ctl/bar.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

/* U+2588 full block, then U+258F..U+2589: one to seven eighths */
static const char *const s_eighths[8] = { "", "\u258f", "\u258e", "\u258d", "\u258c", "\u258b", "\u258a", "\u2589" };
#define S_FULL "\u2588"

/* Append text if it fits whole; false when it does not. */
static bool s_append(char *buf, size_t size, size_t *o, const char *text)
{
    size_t n = strlen(text);
    if (*o + n + 1 > size)
        return false;
    memcpy(buf + *o, text, n + 1);
    *o += n;
    return true;
}

int bar_blocks(char *buf, size_t size, int64_t value, int64_t max, int width)
{
    if (size == 0)
        return 0;
    buf[0] = 0;
    if (value <= 0 || max <= 0 || width <= 0)
        return 0;
    if (value > max)
        value = max;
    /* eighths = value * width * 8 / max, rounded, in a range that cannot overflow */
    __int128 e = ((__int128) value * width * 8 + max / 2) / max;
    int64_t eighths = (int64_t) e;
    if (eighths == 0)
        eighths = 1;
    size_t o = 0;
    int cells = 0;
    for (int64_t i = 0; i < eighths / 8; i++, cells++)
        if (!s_append(buf, size, &o, S_FULL))
            return cells;
    if (eighths % 8) {
        if (s_append(buf, size, &o, s_eighths[eighths % 8]))
            cells++;
    }
    return cells;
}

void bar_progress(char *buf, size_t size, int64_t done, int64_t total, int width)
{
    if (size == 0)
        return;
    buf[0] = 0;
    size_t o = 0;
    if (!s_append(buf, size, &o, "["))
        return;
    int cells = bar_blocks(buf + o, size - o, done, total, width);
    o += strlen(buf + o);
    for (int i = cells; i < width; i++)
        if (!s_append(buf, size, &o, " "))
            return;
    s_append(buf, size, &o, "]");
}

void bar_duration(char *buf, size_t size, int64_t s)
{
    if (s < 0)
        snprintf(buf, size, "?");
    else if (s < 60)
        snprintf(buf, size, "%llds", (long long) s);
    else if (s < 3600)
        snprintf(buf, size, "%lldm%02llds", (long long) (s / 60), (long long) (s % 60));
    else if (s < 86400)
        snprintf(buf, size, "%lldh%02lldm", (long long) (s / 3600), (long long) (s % 3600 / 60));
    else
        snprintf(buf, size, "%lldd%02lldh", (long long) (s / 86400), (long long) (s % 86400 / 3600));
}

void bar_test(bool verbose)
{
    char b[256];
    assert(bar_blocks(b, sizeof b, 0, 10, 20) == 0 && strcmp(b, "") == 0);
    assert(bar_blocks(b, sizeof b, 10, 10, 4) == 4 && strcmp(b, S_FULL S_FULL S_FULL S_FULL) == 0);
    /* 1/2 of 3 cells = 12 eighths = one full and a half block */
    assert(bar_blocks(b, sizeof b, 1, 2, 3) == 2 && strcmp(b, S_FULL "\u258c") == 0);
    /* a tiny non-zero value still shows */
    assert(bar_blocks(b, sizeof b, 1, 1000000, 10) == 1 && strcmp(b, "\u258f") == 0);
    /* more than max is max; huge numbers do not overflow */
    assert(bar_blocks(b, sizeof b, 50, 10, 2) == 2);
    assert(bar_blocks(b, sizeof b, INT64_MAX / 2, INT64_MAX, 8) == 4 && strcmp(b, S_FULL S_FULL S_FULL S_FULL) == 0);
    /* a small buffer is cut at a character boundary */
    char small[8];
    assert(bar_blocks(small, sizeof small, 10, 10, 10) == 2 && strlen(small) == 6);
    bar_progress(b, sizeof b, 1, 2, 4);
    assert(strcmp(b, "[" S_FULL S_FULL "  ]") == 0);
    bar_progress(b, sizeof b, 0, 0, 3);
    assert(strcmp(b, "[   ]") == 0);
    bar_duration(b, sizeof b, 42);
    assert(strcmp(b, "42s") == 0);
    bar_duration(b, sizeof b, 307);
    assert(strcmp(b, "5m07s") == 0);
    bar_duration(b, sizeof b, 3725);
    assert(strcmp(b, "1h02m") == 0);
    bar_duration(b, sizeof b, 2 * 86400 + 3 * 3600);
    assert(strcmp(b, "2d03h") == 0);
    bar_duration(b, sizeof b, -1);
    assert(strcmp(b, "?") == 0);
    if (verbose)
        printf("\n  %s\n", b);
}
