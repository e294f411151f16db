/*  backoff.c - retry delays: full-jitter exponential backoff and Retry-After (see backoff.h). */
#include "backoff.h"

#include <assert.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common/clock.h"

uint64_t backoff_seed(void)
{
    uint64_t seed = (uint64_t) clock_wall_ms() * 1000003u;
    seed ^= (uint64_t) clock_mono_ms() << 20;
    seed ^= (uint64_t) getpid() << 40;
    return seed ? seed : 0x9e3779b97f4a7c15u;
}

uint64_t backoff_rand(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

int64_t backoff_ceiling_ms(int64_t base_ms, int64_t max_ms, int retry)
{
    if (base_ms < 0)
        base_ms = 0;
    if (max_ms < 0)
        max_ms = 0;
    if (retry < 0)
        retry = 0;
    int64_t ceiling = base_ms;
    for (int i = 0; i < retry && ceiling < max_ms; i++)
        ceiling = ceiling > INT64_MAX / 2 ? INT64_MAX : ceiling * 2;
    return ceiling < max_ms ? ceiling : max_ms;
}

int64_t backoff_delay_ms(int64_t base_ms, int64_t max_ms, int retry, uint64_t *state)
{
    int64_t ceiling = backoff_ceiling_ms(base_ms, max_ms, retry);
    if (ceiling <= 0)
        return 0;
    return (int64_t) (backoff_rand(state) % ((uint64_t) ceiling + 1));
}

/* Days since 1970-01-01 of a proleptic Gregorian date (month 1..12). */
static int64_t s_days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* "Wed, 21 Oct 2026 07:28:00 GMT" (the weekday is optional) -> unix seconds. */
static int s_parse_http_date(const char *text, int64_t *out_s)
{
    static const char *months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
    const char *comma = strchr(text, ',');
    if (comma)
        text = comma + 1;
    int day, year, hh, mm, ss, end = -1;
    char mon[4] = "";
    if (sscanf(text, " %2d %3[A-Za-z] %4d %2d:%2d:%2d GMT%n", &day, mon, &year, &hh, &mm, &ss, &end)
            != 6
        || end < 0)
        return -1;
    for (const char *p = text + end; *p; p++)
        if (!isspace((unsigned char) *p))
            return -1;
    int month = 0;
    for (int i = 0; i < 12; i++)
        if (strcasecmp(mon, months[i]) == 0)
            month = i + 1;
    if (!month || day < 1 || day > 31 || year < 1970 || hh > 23 || mm > 59 || ss > 60 || hh < 0
        || mm < 0 || ss < 0)
        return -1;
    *out_s = s_days_from_civil(year, month, day) * 86400 + hh * 3600 + mm * 60 + ss;
    return 0;
}

int backoff_retry_after_ms(const char *value, int64_t now_ms, int64_t *out_ms)
{
    if (!value)
        return -1;
    while (isspace((unsigned char) *value))
        value++;
    size_t len = strlen(value);
    while (len > 0 && isspace((unsigned char) value[len - 1]))
        len--;
    if (len == 0)
        return -1;
    size_t digits = strspn(value, "0123456789");
    if (digits == len) {
        int64_t seconds = 0;
        for (size_t i = 0; i < len; i++) {
            seconds = seconds * 10 + (value[i] - '0');
            if (seconds > 100000000) /* over three years: treat as "very long" */
                seconds = 100000000;
        }
        *out_ms = seconds * 1000;
        return 0;
    }
    char copy[128];
    if (len >= sizeof(copy))
        return -1;
    memcpy(copy, value, len);
    copy[len] = '\0';
    int64_t at_s;
    if (s_parse_http_date(copy, &at_s) != 0)
        return -1;
    int64_t delay = at_s * 1000 - now_ms;
    *out_ms = delay > 0 ? delay : 0;
    return 0;
}

void backoff_test(bool verbose)
{
    if (verbose)
        printf(" * backoff: ");
    int64_t ms;
    const int64_t now = 1793006880000; /* 2026-10-26T09:28:00Z */

    /* Retry-After as seconds */
    assert(backoff_retry_after_ms("120", now, &ms) == 0 && ms == 120000);
    assert(backoff_retry_after_ms(" 0 ", now, &ms) == 0 && ms == 0);
    assert(backoff_retry_after_ms("99999999999999999999", now, &ms) == 0 && ms == 100000000000);
    assert(backoff_retry_after_ms("-5", now, &ms) == -1);
    assert(backoff_retry_after_ms("1.5", now, &ms) == -1);
    assert(backoff_retry_after_ms("", now, &ms) == -1);
    assert(backoff_retry_after_ms(NULL, now, &ms) == -1);
    /* Retry-After as an HTTP date */
    assert(backoff_retry_after_ms("Mon, 26 Oct 2026 09:29:30 GMT", now, &ms) == 0 && ms == 90000);
    assert(backoff_retry_after_ms("26 Oct 2026 09:28:01 GMT\r\n", now, &ms) == 0 && ms == 1000);
    assert(backoff_retry_after_ms("Sun, 06 Nov 1994 08:49:37 GMT", now, &ms) == 0 && ms == 0);
    assert(backoff_retry_after_ms("Thu, 01 Jan 1970 00:00:00 GMT", 0, &ms) == 0 && ms == 0);
    assert(backoff_retry_after_ms("Fri, 01 Jan 2027 00:00:00 GMT", 1798761600000 - 5, &ms) == 0
           && ms == 5);
    assert(backoff_retry_after_ms("Mon, 26 Foo 2026 08:09:30 GMT", now, &ms) == -1);
    assert(backoff_retry_after_ms("Mon, 26 Oct 2026 25:09:30 GMT", now, &ms) == -1);
    assert(backoff_retry_after_ms("Mon, 26 Oct 2026 08:09:30 GMT junk", now, &ms) == -1);
    assert(backoff_retry_after_ms("soon", now, &ms) == -1);

    /* ceilings double from the base up to the cap */
    assert(backoff_ceiling_ms(1000, 60000, 0) == 1000);
    assert(backoff_ceiling_ms(1000, 60000, 1) == 2000);
    assert(backoff_ceiling_ms(1000, 60000, 5) == 32000);
    assert(backoff_ceiling_ms(1000, 60000, 6) == 60000);
    assert(backoff_ceiling_ms(1000, 60000, 1000) == 60000);
    assert(backoff_ceiling_ms(0, 60000, 3) == 0);
    assert(backoff_ceiling_ms(INT64_MAX / 2 + 1, INT64_MAX, 3) == INT64_MAX);

    /* full jitter: within [0, ceiling], and spread over it */
    uint64_t rng = 42;
    for (int retry = 0; retry < 10; retry++) {
        int64_t ceiling = backoff_ceiling_ms(100, 5000, retry);
        int64_t lo = INT64_MAX, hi = -1;
        for (int i = 0; i < 2000; i++) {
            int64_t d = backoff_delay_ms(100, 5000, retry, &rng);
            assert(d >= 0 && d <= ceiling);
            lo = d < lo ? d : lo;
            hi = d > hi ? d : hi;
        }
        assert(lo < ceiling / 4 && hi > ceiling * 3 / 4);
    }
    assert(backoff_delay_ms(0, 0, 3, &rng) == 0);
    uint64_t a = 7, b = 7;
    assert(backoff_rand(&a) == backoff_rand(&b)); /* deterministic for a seed */
    assert(backoff_rand(&a) != backoff_rand(&a));
    uint64_t seed = backoff_seed();
    assert(seed != 0);

    if (verbose)
        printf("OK\n");
}
