/*  log.c - one logfmt line per event on stderr. */
#include "common/log.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>

#include "common/redact.h"

static const char *s_program = "vinted";
static log_level_t s_level = LOG_LEVEL_INFO;
static const char *s_level_names[] = { "debug", "info", "warn", "error" };

int log_level_parse(const char *name, log_level_t *out)
{
    for (int i = LOG_LEVEL_DEBUG; name && i <= LOG_LEVEL_ERROR; i++)
        if (strcasecmp(name, s_level_names[i]) == 0) {
            *out = (log_level_t) i;
            return 0;
        }
    return -1;
}

void log_init(const char *program)
{
    s_program = program;
    const char *env = getenv("VINTED_LOG_LEVEL");
    if (env)
        log_level_parse(env, &s_level); /* config_parse refuses a bad one */
}

void log_set_level(log_level_t level)
{
    s_level = level;
}

bool log_enabled(log_level_t level)
{
    return level >= s_level;
}

void log_event(log_level_t level, const char *msg, const char *kvfmt, ...)
{
    if (level < s_level)
        return;
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    char line[4096];
    int n = snprintf(line, sizeof line,
                     "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03dZ level=%s prog=%s msg=%s",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                     tm.tm_sec, (int) (tv.tv_usec / 1000), s_level_names[level], s_program,
                     log_str(msg));
    if (n < 0)
        return;
    if (kvfmt && *kvfmt && (size_t) n < sizeof line - 2) {
        line[n++] = ' ';
        va_list ap;
        va_start(ap, kvfmt);
        int m = vsnprintf(line + n, sizeof line - (size_t) n, kvfmt, ap);
        va_end(ap);
        if (m > 0)
            n += m;
    }
    if ((size_t) n >= sizeof line - 1)
        n = (int) sizeof line - 2;
    n = (int) redact_text(line, (size_t) n); /* no registered secret leaves the process */
    line[n++] = '\n';
    fwrite(line, 1, (size_t) n, stderr);
    fflush(stderr);
}

#define LOG_RING 8
#define LOG_RING_SIZE 512

const char *log_str(const char *s)
{
    static __thread char ring[LOG_RING][LOG_RING_SIZE];
    static __thread int next;
    char *out = ring[next];
    next = (next + 1) % LOG_RING;
    if (!s)
        return "null";
    size_t o = 0;
    out[o++] = '"';
    for (const unsigned char *p = (const unsigned char *) s; *p && o < LOG_RING_SIZE - 6; p++) {
        if (*p == '"' || *p == '\\') {
            out[o++] = '\\';
            out[o++] = (char) *p;
        }
        else if (*p == '\n') {
            out[o++] = '\\';
            out[o++] = 'n';
        }
        else if (*p < 0x20) {
            out[o++] = ' ';
        }
        else
            out[o++] = (char) *p;
    }
    out[o++] = '"';
    out[o] = 0;
    return out;
}

void log_test(bool verbose)
{
    (void) verbose;
    assert(strcmp(log_str("a b"), "\"a b\"") == 0);
    assert(strcmp(log_str("say \"hi\"\n"), "\"say \\\"hi\\\"\\n\"") == 0);
    assert(strcmp(log_str(NULL), "null") == 0);
    log_level_t level = LOG_LEVEL_INFO;
    assert(log_level_parse("WARN", &level) == 0 && level == LOG_LEVEL_WARN);
    assert(log_level_parse("loud", &level) == -1 && level == LOG_LEVEL_WARN);
    char big[2000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = 0;
    const char *q = log_str(big);
    assert(strlen(q) < LOG_RING_SIZE && q[strlen(q) - 1] == '"');
    log_level_t saved = s_level;
    s_level = LOG_LEVEL_WARN;
    assert(!log_enabled(LOG_LEVEL_INFO) && log_enabled(LOG_LEVEL_ERROR));
    s_level = saved;
}
