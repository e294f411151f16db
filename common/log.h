/*  log.h - one logfmt line per event on stderr:
        ts=2026-11-25T17:46:46.123Z level=info prog=broker msg="window committed" window=12
    The key=value tail is printf-formatted by the caller; wrap free text in
    log_str() so it is quoted and escaped.
*/
#ifndef LOG_H_INCLUDED
#define LOG_H_INCLUDED

#include <stdbool.h>

typedef enum { LOG_LEVEL_DEBUG = 0, LOG_LEVEL_INFO = 1, LOG_LEVEL_WARN = 2, LOG_LEVEL_ERROR = 3 } log_level_t;

/* Name the program; the level comes from VINTED_LOG_LEVEL (debug|info|warn|error, default info). */
void log_init(const char *program);
void log_set_level(log_level_t level);
/* "debug", "info", "warn" or "error" (any case) into *out: 0, or -1 for anything else. */
int log_level_parse(const char *name, log_level_t *out);
bool log_enabled(log_level_t level);

/* msg is a fixed event text; kvfmt (may be NULL) formats "key=value key=value". */
void log_event(log_level_t level, const char *msg, const char *kvfmt, ...)
    __attribute__((format(printf, 3, 4)));

#define log_debug(...) log_event(LOG_LEVEL_DEBUG, __VA_ARGS__)
#define log_info(...) log_event(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_warn(...) log_event(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_error(...) log_event(LOG_LEVEL_ERROR, __VA_ARGS__)

/* A quoted, escaped copy of s for a logfmt value ("null" for NULL). The result lives
   in a small per-thread ring of buffers: use it within the same log call. */
const char *log_str(const char *s);

void log_test(bool verbose);

#endif
