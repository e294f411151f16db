/*  config.h - program settings: every option has an environment variable and
    a flag that overrides it, a default, and a line of help. --help prints them.

        static config_opt_t opts[] = {
            { "broker", "VINTED_BROKER", "tcp://127.0.0.1:5555", "broker endpoint" },
            { NULL }
        };
        int rc = config_parse(opts, argc, argv, "vinted-fetcher", "Fetches Vinted pages.");
        if (rc != 0) return rc > 0 ? 0 : 2;
        const char *ep = config_get(opts, "broker");

    Flags are --name VALUE or --name=VALUE. An option whose default is NULL and
    which is not set reads as NULL.
*/
#ifndef CONFIG_H_INCLUDED
#define CONFIG_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>

typedef struct {
    const char *name;  /* flag name without dashes */
    const char *env;   /* environment variable, or NULL */
    const char *def;   /* default value, or NULL */
    const char *help;
    const char *value; /* filled by config_parse */
} config_opt_t;

/* 0: parsed; 1: --help was printed (exit 0); -1: bad argument, message printed (exit 2).
   Positional arguments are refused unless positional is non-NULL, which then gets
   their count and receives them in order (up to max_positional). */
int config_parse(config_opt_t *opts, int argc, char **argv, const char *program,
                 const char *summary);
int config_parse_positional(config_opt_t *opts, int argc, char **argv, const char *program,
                            const char *summary, const char **positional, int max_positional,
                            int *n_positional);
const char *config_get(const config_opt_t *opts, const char *name);

/* Typed readers: 0 and the value, or -1 after printing "invalid --name: ..." to stderr. */
int config_int(const config_opt_t *opts, const char *name, int64_t min, int64_t max, int64_t *out);
int config_duration_ms(const config_opt_t *opts, const char *name, int64_t *out_ms);

/* A ZeroMQ endpoint: tcp://HOST:PORT (PORT 1..65535; HOST and PORT may be * when bind is
   true), ipc://PATH or inproc://NAME. 0 ok; -1 after printing "invalid --name: ...". */
int config_endpoint(const config_opt_t *opts, const char *name, bool bind);
/* Print "invalid --name / ENV 'value': why" to stderr (for checks made elsewhere). */
void config_invalid(const config_opt_t *opts, const char *name, const char *why);

/* A size in bytes: "67108864", "512K", "64M", "1G" (also KiB, MiB, GiB; powers of 1024),
   between min and max. 0 and the value, or -1 after printing "invalid --name: ...". */
int config_size(const config_opt_t *opts, const char *name, int64_t min, int64_t max, int64_t *out);
/* The same parse without the message: 0 ok, -1 not a size. */
int config_parse_size(const char *text, int64_t *out);

/* "1h", "300s", "90m", "1500ms", "2d", or a bare number of seconds. 0 ok, -1 bad. */
int config_parse_duration_ms(const char *text, int64_t *out_ms);
/* UTC time: "2026-11-25T10:00:00Z", "2026-11-25 10:00:00", "2026-11-25", or unix seconds. */
int config_parse_time(const char *text, int64_t *out_unix_s);
/* Format unix seconds as "2026-11-25T10:00:00Z" into buf (at least 21 bytes). */
const char *config_format_time(int64_t unix_s, char *buf, int size);

void config_test(bool verbose);

#endif
