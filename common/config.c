/*  config.c - settings from environment variables, overridden by flags. (Near
    650 lines: its last 150 are the self-test of the parsers above.) */
#include "common/config.h"
#include "common/log.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "common/redact.h"

/* The settings whose values are secrets: registered with redact (common/redact.h)
   so that no log line can show them. Those that are not program options (read by
   libpq or the object store straight from the environment) may also be given
   as NAME_FILE, like every option. */
static const struct {
    const char *env;
    bool option;   /* a program option (else an environment variable read elsewhere) */
    bool conninfo; /* a libpq connection string: only its password is the secret */
} s_secrets[] = {
    { "VINTED_PG", true, true },
    { "AWS_ACCESS_KEY_ID", false, false },
    { "AWS_SECRET_ACCESS_KEY", false, false },
    { "AWS_SESSION_TOKEN", false, false },
    { "PGPASSWORD", false, false },
};
#define S_SECRETS (sizeof s_secrets / sizeof s_secrets[0])

#define S_FILE_MAX (64 * 1024) /* a setting read from a file: at most this long */

/* Values read from files, kept for the life of the process (options point at them). */
typedef struct s_file_value {
    struct s_file_value *next;
    char text[];
} s_file_value_t;
static s_file_value_t *s_file_values;

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
    printf("\nAny setting may come from a file instead (Docker secrets, keys kept out of the\n"
           "environment and the command line): VAR_FILE=/path or --name-file /path holds the value,\n"
           "one trailing newline dropped; e.g. VINTED_PG_FILE, --pg-file, AWS_SECRET_ACCESS_KEY_FILE.\n");
}

/* Read a setting's file: its text without one trailing newline, kept for the life of
   the process. NULL with the reason in why. */
static const char *s_read_value_file(const char *path, char *why, size_t whylen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(why, whylen, "%s", strerror(errno));
        return NULL;
    }
    s_file_value_t *v = malloc(sizeof *v + S_FILE_MAX + 2);
    if (!v) {
        fclose(f);
        snprintf(why, whylen, "out of memory");
        return NULL;
    }
    size_t len = fread(v->text, 1, S_FILE_MAX + 1, f);
    bool bad = ferror(f) != 0;
    fclose(f);
    if (bad || len > S_FILE_MAX || memchr(v->text, 0, len)) {
        snprintf(why, whylen, "%s",
                 bad ? "read error" : len > S_FILE_MAX ? "longer than 64 KiB" : "holds a NUL byte");
        memset(v->text, 0, len);
        free(v);
        return NULL;
    }
    if (len > 0 && v->text[len - 1] == '\n')
        len--;
    if (len > 0 && v->text[len - 1] == '\r')
        len--;
    v->text[len] = '\0';
    s_file_value_t *fit = realloc(v, sizeof *v + len + 1);
    if (fit)
        v = fit;
    v->next = s_file_values;
    s_file_values = v;
    return v->text;
}

/* NAME_FILE's value, or NULL. */
static const char *s_file_env(const char *env)
{
    char name[128];
    if (!env || snprintf(name, sizeof name, "%s_FILE", env) >= (int) sizeof name)
        return NULL;
    const char *path = getenv(name);
    return path && *path ? path : NULL;
}

/* The environment variables read elsewhere (libpq, the object store): NAME_FILE sets
   NAME. 0 ok, -1 after a message. */
static int s_env_files(const char *program)
{
    for (size_t i = 0; i < S_SECRETS; i++) {
        if (s_secrets[i].option)
            continue;
        const char *env = s_secrets[i].env;
        const char *path = s_file_env(env);
        if (!path)
            continue;
        const char *now = getenv(env);
        if (now && *now) {
            fprintf(stderr, "%s: both %s and %s_FILE are set: use one\n", program, env, env);
            return -1;
        }
        char why[128];
        const char *value = s_read_value_file(path, why, sizeof why);
        if (!value) {
            fprintf(stderr, "%s: cannot read %s_FILE '%s': %s\n", program, env, path, why);
            return -1;
        }
        setenv(env, value, 1);
    }
    return 0;
}

/* Register the values of the secret settings with redact. */
static void s_register_secrets(const config_opt_t *opts)
{
    for (size_t i = 0; i < S_SECRETS; i++) {
        const char *value = NULL;
        if (s_secrets[i].option) {
            for (const config_opt_t *o = opts; o->name && !value; o++)
                if (o->env && strcmp(o->env, s_secrets[i].env) == 0)
                    value = o->value;
        }
        else
            value = getenv(s_secrets[i].env);
        if (!s_secrets[i].conninfo) /* a connection string's password: pgconf_check */
            redact_add(value);
    }
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
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            s_usage(opts, program, summary);
            return 1;
        }
    for (config_opt_t *o = opts; o->name; o++) {
        const char *env = o->env ? getenv(o->env) : NULL;
        const char *file = s_is_bool(o) ? NULL : s_file_env(o->env);
        if (s_is_bool(o))
            o->value = env && *env && strcmp(env, "0") != 0 ? "1" : NULL;
        else if (file && env && *env) {
            fprintf(stderr, "%s: both %s and %s_FILE are set: use one\n", program, o->env, o->env);
            return -1;
        }
        else if (file) {
            char why[128];
            o->value = s_read_value_file(file, why, sizeof why);
            if (!o->value) {
                fprintf(stderr, "%s: cannot read %s_FILE '%s': %s\n", program, o->env, file, why);
                return -1;
            }
        }
        else
            o->value = env ? env : o->def;
    }
    if (s_env_files(program) != 0)
        return -1;
    const config_opt_t *from_flag[64] = { 0 }; /* options set by a flag, and by which */
    bool flag_was_file[64] = { false };
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
        bool is_file = false;
        if (!o && len > 5 && strncmp(name + len - 5, "-file", 5) == 0) {
            o = s_find(opts, name, len - 5); /* --NAME-file PATH */
            is_file = o && !s_is_bool(o);
            if (!is_file)
                o = NULL;
        }
        if (!o) {
            fprintf(stderr, "%s: unknown option '--%.*s' (see --help)\n", program, (int) len, name);
            return -1;
        }
        size_t index = (size_t) (o - opts);
        if (index < 64) {
            if (from_flag[index] && flag_was_file[index] != is_file) {
                fprintf(stderr, "%s: both --%s and --%s-file are given: use one\n", program, o->name,
                        o->name);
                return -1;
            }
            from_flag[index] = o;
            flag_was_file[index] = is_file;
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
            fprintf(stderr, "%s: option '--%s%s' needs a value\n", program, o->name, is_file ? "-file" : "");
            return -1;
        }
        if (is_file) {
            const char *path = o->value;
            char why[128];
            o->value = s_read_value_file(path, why, sizeof why);
            if (!o->value) {
                fprintf(stderr, "%s: cannot read --%s-file '%s': %s\n", program, o->name, path, why);
                return -1;
            }
        }
    }
    s_register_secrets(opts);
    /* every program logs: a level it would silently ignore is a bad setting */
    const char *level = getenv("VINTED_LOG_LEVEL");
    log_level_t parsed;
    if (level && log_level_parse(level, &parsed) != 0) {
        fprintf(stderr, "%s: invalid VINTED_LOG_LEVEL '%s': debug, info, warn or error\n", program, level);
        return -1;
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

/* v into *out if min <= v <= max, else "must be between MIN and MAX<unit>" and -1. */
static int s_in_range(const config_opt_t *o, int64_t v, int64_t min, int64_t max, const char *unit, int64_t *out)
{
    if (v < min || v > max) {
        char why[128];
        snprintf(why, sizeof why, "must be between %lld and %lld%s", (long long) min, (long long) max, unit);
        s_invalid(o, why);
        return -1;
    }
    *out = v;
    return 0;
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
    return s_in_range(o, v, min, max, "", out);
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

int config_endpoint(const config_opt_t *opts, const char *name, bool bind)
{
    const config_opt_t *o = s_get(opts, name);
    const char *v = o->value ? o->value : "";
    const char *why = NULL;
    if (strncmp(v, "ipc://", 6) == 0 || strncmp(v, "inproc://", 9) == 0) {
        if (!strstr(v, "://")[3])
            why = "no path or name after the transport";
    }
    else if (strncmp(v, "tcp://", 6) == 0) {
        const char *host = v + 6, *colon = strrchr(host, ':');
        const char *port = colon ? colon + 1 : "";
        char *end;
        long n = strtol(port, &end, 10);
        if (!colon || colon == host)
            why = "tcp:// needs HOST:PORT";
        else if (strcspn(host, " \t\r\n") < strlen(host))
            why = "blanks in the address";
        else if (bind && strcmp(port, "*") == 0)
            why = NULL;
        else if (!isdigit((unsigned char) *port) || *end || n < 1 || n > 65535)
            why = bind ? "the port must be 1..65535 or *" : "the port must be 1..65535";
        else if (!bind && colon - host == 1 && *host == '*')
            why = "* is only for the side that binds; name the host to connect to";
    }
    else
        why = "not a ZeroMQ endpoint (tcp://host:port, ipc://path or inproc://name)";
    if (why) {
        s_invalid(o, why);
        return -1;
    }
    return 0;
}

void config_invalid(const config_opt_t *opts, const char *name, const char *why)
{
    s_invalid(s_get(opts, name), why);
}

int config_parse_size(const char *text, int64_t *out)
{
    if (!text || !isdigit((unsigned char) *text))
        return -1;
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno)
        return -1;
    static const struct {
        const char *suffix;
        int shift;
    } units[] = { { "", 0 },   { "K", 10 },   { "KiB", 10 }, { "M", 20 },
                  { "MiB", 20 }, { "G", 30 }, { "GiB", 30 } };
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (strcmp(end, units[i].suffix) == 0) {
            if (v > (INT64_MAX >> units[i].shift))
                return -1;
            *out = (int64_t) v << units[i].shift;
            return 0;
        }
    return -1;
}

int config_size(const config_opt_t *opts, const char *name, int64_t min, int64_t max, int64_t *out)
{
    const config_opt_t *o = s_get(opts, name);
    int64_t v;
    if (config_parse_size(o->value, &v) != 0) {
        s_invalid(o, "not a size (examples: 67108864, 512K, 64M, 1G)");
        return -1;
    }
    return s_in_range(o, v, min, max, " bytes", out);
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

#define S_LAST_SECOND 253402300799LL /* 9999-12-31T23:59:59Z */

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
        errno = 0;
        long long v = strtoll(text, NULL, 10);
        if (errno || v > S_LAST_SECOND)
            return -1;
        *out_unix_s = v;
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
    static const int days[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    if (mon < 1 || mon > 12 || day < 1 || hh > 23 || mm > 59 || ss > 60 || year < 1970)
        return -1;
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    if (day > days[mon - 1] + (mon == 2 && leap))
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

    assert(config_parse_size("67108864", &v) == 0 && v == 67108864);
    assert(config_parse_size("64M", &v) == 0 && v == 64 << 20);
    assert(config_parse_size("64MiB", &v) == 0 && v == 64 << 20);
    assert(config_parse_size("512K", &v) == 0 && v == 512 << 10);
    assert(config_parse_size("2G", &v) == 0 && v == INT64_C(2) << 30);
    assert(config_parse_size("64MB", &v) == -1);
    assert(config_parse_size("-1", &v) == -1);
    assert(config_parse_size("", &v) == -1);
    assert(config_parse_size("99999999999999999999", &v) == -1);
    assert(config_parse_size("9999999999999G", &v) == -1);

    assert(config_parse_time("2026-11-25T10:00:00Z", &v) == 0 && v == 1795600800);
    assert(config_parse_time("2026-11-25 10:00", &v) == 0 && v == 1795600800);
    assert(config_parse_time("2026-11-25", &v) == 0 && v == 1795564800);
    assert(config_parse_time("1795600800", &v) == 0 && v == 1795600800);
    assert(config_parse_time("2026-13-01", &v) == -1);
    assert(config_parse_time("yesterday", &v) == -1);
    assert(config_parse_time("2026-11-25T10:00:00+02:00", &v) == -1);
    assert(config_parse_time("2026-02-30", &v) == -1);
    assert(config_parse_time("2026-04-31", &v) == -1);
    assert(config_parse_time("2028-02-29", &v) == 0 && v == 1835395200);
    assert(config_parse_time("2100-02-29", &v) == -1);
    assert(config_parse_time("2026-11-25T24:00", &v) == -1);
    assert(config_parse_time("99999999999999999999", &v) == -1);
    assert(config_parse_time("253402300800", &v) == -1);
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
    config_opt_t eps[] = {
        { "ep", NULL, NULL, "endpoint", NULL },
        { "pg", NULL, NULL, "conninfo", NULL },
        { NULL, NULL, NULL, NULL, NULL },
    };
    static const struct {
        const char *value;
        bool bind, ok;
    } endpoints[] = {
        { "tcp://127.0.0.1:5555", false, true }, { "tcp://*:5555", true, true },
        { "tcp://*:*", true, true },             { "tcp://broker.local:1", false, true },
        { "ipc:///tmp/x", false, true },         { "inproc://x", false, true },
        { "tcp://[::1]:5555", false, true },     { "tcp://*:5555", false, false },
        { "tcp://host", false, false },          { "tcp://host:0", false, false },
        { "tcp://host:65536", false, false },    { "tcp://:5555", false, false },
        { "tcp://host:55x", false, false },      { "nonsense", false, false },
        { "http://host:80", false, false },      { "", false, false },
        { "ipc://", false, false },              { "tcp://a b:1", false, false },
    };
    fprintf(stderr, "(error messages about invalid endpoints and connection strings are expected here)\n");
    for (size_t i = 0; i < sizeof endpoints / sizeof endpoints[0]; i++) {
        eps[0].value = endpoints[i].value;
        assert((config_endpoint(eps, "ep", endpoints[i].bind) == 0) == endpoints[i].ok);
    }

    char *argv3[] = { "p", "--nope", NULL };
    fprintf(stderr, "(an error message about --nope is expected here)\n");
    assert(config_parse(opts, 2, argv3, "p", "test") == -1);
    char *argv4[] = { "p", "--rate", NULL };
    assert(config_parse(opts, 2, argv4, "p", "test") == -1);
    unsetenv("VINTED_TEST_RATE");

    /* NAME_FILE and --name-file: the file's text without its trailing newline */
    char dir[] = "/tmp/vinted-config-test-XXXXXX";
    assert(mkdtemp(dir));
    char rate_file[96], pg_file[96], key_file[96];
    snprintf(rate_file, sizeof rate_file, "%s/rate", dir);
    snprintf(pg_file, sizeof pg_file, "%s/pg", dir);
    snprintf(key_file, sizeof key_file, "%s/key", dir);
    FILE *f = fopen(rate_file, "w");
    assert(f && fputs("42\r\n", f) >= 0 && fclose(f) == 0);
    f = fopen(pg_file, "w");
    assert(f && fputs("host=127.0.0.1 password=file-pass-123\n", f) >= 0 && fclose(f) == 0);
    f = fopen(key_file, "w");
    assert(f && fputs("secret-from-file\n", f) >= 0 && fclose(f) == 0);
    setenv("VINTED_TEST_RATE_FILE", rate_file, 1);
    assert(config_parse(opts, 1, argv1, "p", "test") == 0);
    assert(config_int(opts, "rate", 1, 1000, &v) == 0 && v == 42);
    setenv("VINTED_TEST_RATE", "7", 1);
    fprintf(stderr, "(errors about VINTED_TEST_RATE, --rate, nope and --wait-file are expected here)\n");
    assert(config_parse(opts, 1, argv1, "p", "test") == -1); /* both: refused */
    unsetenv("VINTED_TEST_RATE");
    unsetenv("VINTED_TEST_RATE_FILE");
    char *argv5[] = { "p", "--rate-file", rate_file, NULL };
    assert(config_parse(opts, 3, argv5, "p", "test") == 0);
    assert(strcmp(config_get(opts, "rate"), "42") == 0);
    char *argv6[] = { "p", "--rate=3", "--rate-file", rate_file, NULL };
    assert(config_parse(opts, 4, argv6, "p", "test") == -1);
    char *argv7[] = { "p", "--rate-file=/nonexistent/nope", NULL };
    assert(config_parse(opts, 2, argv7, "p", "test") == -1);
    char *argv8[] = { "p", "--wait-file", rate_file, NULL };
    assert(config_parse(opts, 3, argv8, "p", "test") == -1); /* a flag has no file form */

    /* secrets: the AWS keys are registered with redact, whether they come from the
       environment, a flag or a file; a connection string's password is registered by
       pgconf_check (common/pgconf.h), which the programs that use one call at start */
    config_opt_t pg_opts[] = {
        { "pg", "VINTED_PG", "", "conninfo", NULL },
        { NULL, NULL, NULL, NULL, NULL },
    };
    redact_clear();
    setenv("AWS_SECRET_ACCESS_KEY_FILE", key_file, 1);
    unsetenv("AWS_SECRET_ACCESS_KEY");
    char *argv9[] = { "p", "--pg-file", pg_file, NULL };
    assert(config_parse(pg_opts, 3, argv9, "p", "test") == 0);
    assert(strcmp(config_get(pg_opts, "pg"), "host=127.0.0.1 password=file-pass-123") == 0);
    const char *aws = getenv("AWS_SECRET_ACCESS_KEY");
    assert(aws && strcmp(aws, "secret-from-file") == 0);
    char line[] = "pg=\"host=127.0.0.1 password=file-pass-123\" key=secret-from-file";
    size_t n = redact_text(line, strlen(line));
    line[n] = '\0';
    assert(strcmp(line, "pg=\"host=127.0.0.1 password=file-pass-123\" key=***") == 0);
    unsetenv("AWS_SECRET_ACCESS_KEY_FILE");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    redact_clear();
    unlink(rate_file);
    unlink(pg_file);
    unlink(key_file);
    rmdir(dir);
}
