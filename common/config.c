/*  config.c - settings from environment variables, overridden by flags. */
#include "common/config.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

static config_opt_t *s_find(config_opt_t *opts, const char *name, size_t len)
{
    for (config_opt_t *o = opts; o->name; o++)
        if (strlen(o->name) == len && strncmp(o->name, name, len) == 0)
            return o;
    return NULL;
}

static void s_usage(const config_opt_t *opts, const char *program, const char *summary)
{
    printf("Usage: %s [options]\n\n%s\n\nOptions (each flag overrides its environment variable):\n",
           program, summary);
    for (const config_opt_t *o = opts; o->name; o++) {
        char flag[64];
        snprintf(flag, sizeof flag, "--%s%s", o->name, o->def && strcmp(o->def, "flag") == 0 ? "" : " V");
        printf("  %-22s %-24s %s", flag, o->env ? o->env : "", o->help);
        if (o->def && strcmp(o->def, "flag") != 0)
            printf(" (default: %s)", *o->def ? o->def : "empty");
        printf("\n");
    }
    printf("  %-22s %-24s %s\n", "--help", "", "print this help and exit");
}

/* Options whose default is the word "flag" are booleans: "--wait" sets "1". */
static bool s_is_bool(const config_opt_t *o)
{
    return o->def && strcmp(o->def, "flag") == 0;
}

int config_parse_positional(config_opt_t *opts, int argc, char **argv, const char *program,
                            const char *summary, const char **positional, int max_positional,
                            int *n_positional)
{
    for (config_opt_t *o = opts; o->name; o++) {
        const char *env = o->env ? getenv(o->env) : NULL;
        if (s_is_bool(o))
            o->value = env && *env && strcmp(env, "0") != 0 ? "1" : NULL;
        else
            o->value = env ? env : o->def;
    }
    if (n_positional)
        *n_positional = 0;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            s_usage(opts, program, summary);
            return 1;
        }
        if (strncmp(arg, "--", 2) != 0) {
            if (positional && n_positional && *n_positional < max_positional) {
                positional[(*n_positional)++] = arg;
                continue;
            }
            fprintf(stderr, "%s: unexpected argument '%s' (see --help)\n", program, arg);
            return -1;
        }
        const char *name = arg + 2;
        const char *eq = strchr(name, '=');
        size_t len = eq ? (size_t) (eq - name) : strlen(name);
        config_opt_t *o = s_find(opts, name, len);
        if (!o) {
            fprintf(stderr, "%s: unknown option '--%.*s' (see --help)\n", program, (int) len, name);
            return -1;
        }
        if (s_is_bool(o)) {
            if (eq) {
                fprintf(stderr, "%s: option '--%s' takes no value\n", program, o->name);
                return -1;
            }
            o->value = "1";
            continue;
        }
        if (eq)
            o->value = eq + 1;
        else if (i + 1 < argc)
            o->value = argv[++i];
        else {
            fprintf(stderr, "%s: option '--%s' needs a value\n", program, o->name);
            return -1;
        }
    }
    return 0;
}

int config_parse(config_opt_t *opts, int argc, char **argv, const char *program, const char *summary)
{
    return config_parse_positional(opts, argc, argv, program, summary, NULL, 0, NULL);
}

static const config_opt_t *s_get(const config_opt_t *opts, const char *name)
{
    for (const config_opt_t *o = opts; o->name; o++)
        if (strcmp(o->name, name) == 0)
            return o;
    assert(!"config: unknown option name");
    return NULL;
}

const char *config_get(const config_opt_t *opts, const char *name)
{
    return s_get(opts, name)->value;
}

static void s_invalid(const config_opt_t *o, const char *why)
{
    fprintf(stderr, "invalid --%s%s%s '%s': %s\n", o->name, o->env ? " / " : "", o->env ? o->env : "",
            o->value ? o->value : "", why);
}

int config_int(const config_opt_t *opts, const char *name, int64_t min, int64_t max, int64_t *out)
{
    const config_opt_t *o = s_get(opts, name);
    char *end;
    errno = 0;
    long long v = o->value ? strtoll(o->value, &end, 10) : 0;
    if (!o->value || !*o->value || errno || *end) {
        s_invalid(o, "not a whole number");
        return -1;
    }
    if (v < min || v > max) {
        char why[96];
        snprintf(why, sizeof why, "must be between %lld and %lld", (long long) min, (long long) max);
        s_invalid(o, why);
        return -1;
    }
    *out = v;
    return 0;
}

int config_duration_ms(const config_opt_t *opts, const char *name, int64_t *out_ms)
{
    const config_opt_t *o = s_get(opts, name);
    if (!o->value || config_parse_duration_ms(o->value, out_ms) != 0) {
        s_invalid(o, "not a duration (examples: 1h, 300s, 90m, 1500ms, 2d)");
        return -1;
    }
    return 0;
}

int config_bytes(const config_opt_t *opts, const char *name, int64_t min, int64_t *out)
{
    const config_opt_t *o = s_get(opts, name);
    if (!o->value || config_parse_bytes(o->value, out) != 0) {
        s_invalid(o, "not a size (examples: 64MB, 512KB, 1GB, 4096)");
        return -1;
    }
    if (*out < min) {
        char why[96];
        snprintf(why, sizeof why, "must be at least %lld bytes", (long long) min);
        s_invalid(o, why);
        return -1;
    }
    return 0;
}

int config_parse_bytes(const char *text, int64_t *out)
{
    if (!text || *text < '0' || *text > '9')
        return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno)
        return -1;
    static const struct { const char *unit; int shift; } units[] = {
        { "", 0 }, { "B", 0 }, { "KB", 10 }, { "K", 10 }, { "MB", 20 }, { "M", 20 }, { "GB", 30 }, { "G", 30 },
    };
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (strcasecmp(end, units[i].unit) == 0) {
            if (v > (unsigned long long) INT64_MAX >> units[i].shift)
                return -1;
            *out = (int64_t) (v << units[i].shift);
            return 0;
        }
    }
    return -1;
}

int config_parse_duration_ms(const char *text, int64_t *out_ms)
{
    if (!text || !*text)
        return -1;
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || end == text || v < 0 || v > 1e12)
        return -1;
    double unit;
    if (*end == 0 || strcmp(end, "s") == 0)
        unit = 1000;
    else if (strcmp(end, "ms") == 0)
        unit = 1;
    else if (strcmp(end, "m") == 0 || strcmp(end, "min") == 0)
        unit = 60000;
    else if (strcmp(end, "h") == 0)
        unit = 3600000;
    else if (strcmp(end, "d") == 0)
        unit = 86400000;
    else
        return -1;
    *out_ms = (int64_t) (v * unit + 0.5);
    return 0;
}

int config_parse_time(const char *text, int64_t *out_unix_s)
{
    if (!text || !*text)
        return -1;
    const char *p = text;
    bool digits = true;
    for (; *p; p++)
        if (!isdigit((unsigned char) *p))
            digits = false;
    if (digits && strlen(text) > 8) {
        *out_unix_s = strtoll(text, NULL, 10);
        return 0;
    }
    struct tm tm = { 0 };
    int n = 0;
    int year, mon, day, hh = 0, mm = 0, ss = 0;
    if (sscanf(text, "%4d-%2d-%2d%n", &year, &mon, &day, &n) != 3)
        return -1;
    const char *rest = text + n;
    if (*rest == 'T' || *rest == ' ') {
        int m = 0;
        if (sscanf(rest + 1, "%2d:%2d%n", &hh, &mm, &m) != 2)
            return -1;
        rest += 1 + m;
        if (*rest == ':') {
            if (sscanf(rest + 1, "%2d%n", &ss, &m) != 1)
                return -1;
            rest += 1 + m;
        }
    }
    if (*rest == 'Z' || strcmp(rest, "+00:00") == 0 || strcmp(rest, "+00") == 0)
        rest += *rest == 'Z' ? 1 : strlen(rest);
    if (*rest)
        return -1;
    if (mon < 1 || mon > 12 || day < 1 || day > 31 || hh > 23 || mm > 59 || ss > 60)
        return -1;
    tm.tm_year = year - 1900;
    tm.tm_mon = mon - 1;
    tm.tm_mday = day;
    tm.tm_hour = hh;
    tm.tm_min = mm;
    tm.tm_sec = ss;
    *out_unix_s = (int64_t) timegm(&tm);
    return 0;
}

const char *config_format_time(int64_t unix_s, char *buf, int size)
{
    time_t t = (time_t) unix_s;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, (size_t) size, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

void config_test(bool verbose)
{
    (void) verbose;
    int64_t v;
    assert(config_parse_duration_ms("1h", &v) == 0 && v == 3600000);
    assert(config_parse_duration_ms("300s", &v) == 0 && v == 300000);
    assert(config_parse_duration_ms("300", &v) == 0 && v == 300000);
    assert(config_parse_duration_ms("1500ms", &v) == 0 && v == 1500);
    assert(config_parse_duration_ms("0.5s", &v) == 0 && v == 500);
    assert(config_parse_duration_ms("2d", &v) == 0 && v == 172800000);
    assert(config_parse_duration_ms("abc", &v) == -1);
    assert(config_parse_duration_ms("5x", &v) == -1);
    assert(config_parse_duration_ms("-5s", &v) == -1);
    assert(config_parse_duration_ms("", &v) == -1);
    assert(config_parse_bytes("64MB", &v) == 0 && v == 64 << 20);
    assert(config_parse_bytes("512kb", &v) == 0 && v == 512 << 10);
    assert(config_parse_bytes("4096", &v) == 0 && v == 4096);
    assert(config_parse_bytes("2G", &v) == 0 && v == (int64_t) 2 << 30);
    assert(config_parse_bytes("12XB", &v) == -1);
    assert(config_parse_bytes("-1MB", &v) == -1);
    assert(config_parse_bytes("", &v) == -1);
    assert(config_parse_bytes("99999999999999GB", &v) == -1);

    assert(config_parse_time("2026-11-25T10:00:00Z", &v) == 0 && v == 1795600800);
    assert(config_parse_time("2026-11-25 10:00", &v) == 0 && v == 1795600800);
    assert(config_parse_time("2026-11-25", &v) == 0 && v == 1795564800);
    assert(config_parse_time("1795600800", &v) == 0 && v == 1795600800);
    assert(config_parse_time("2026-13-01", &v) == -1);
    assert(config_parse_time("yesterday", &v) == -1);
    assert(config_parse_time("2026-11-25T10:00:00+02:00", &v) == -1);
    char buf[32];
    assert(strcmp(config_format_time(1795600800, buf, sizeof buf), "2026-11-25T10:00:00Z") == 0);

    config_opt_t opts[] = {
        { "broker", "VINTED_TEST_BROKER", "tcp://x:1", "endpoint", NULL },
        { "rate", "VINTED_TEST_RATE", "60", "rate", NULL },
        { "wait", NULL, "flag", "wait", NULL },
        { NULL, NULL, NULL, NULL, NULL },
    };
    setenv("VINTED_TEST_RATE", "120", 1);
    char *argv1[] = { "p", "--broker=tcp://y:2", NULL };
    assert(config_parse(opts, 2, argv1, "p", "test") == 0);
    assert(strcmp(config_get(opts, "broker"), "tcp://y:2") == 0);
    assert(strcmp(config_get(opts, "rate"), "120") == 0);
    assert(config_get(opts, "wait") == NULL);
    assert(config_int(opts, "rate", 1, 1000, &v) == 0 && v == 120);
    char *argv2[] = { "p", "--rate", "7", "--wait", NULL };
    assert(config_parse(opts, 4, argv2, "p", "test") == 0);
    assert(config_int(opts, "rate", 1, 1000, &v) == 0 && v == 7);
    assert(strcmp(config_get(opts, "wait"), "1") == 0);
    char *argv3[] = { "p", "--nope", NULL };
    fprintf(stderr, "(an error message about --nope is expected here)\n");
    assert(config_parse(opts, 2, argv3, "p", "test") == -1);
    char *argv4[] = { "p", "--rate", NULL };
    assert(config_parse(opts, 2, argv4, "p", "test") == -1);
    unsetenv("VINTED_TEST_RATE");
}
