/*  pgconf.h - checks a PostgreSQL connection setting at start, before anything
    connects, so that a typo is refused by name instead of retried for ever.
    Its own module so that only the programs that talk to PostgreSQL link libpq.
*/
#ifndef PGCONF_H_INCLUDED
#define PGCONF_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>

#include "common/config.h"

/* The option `name` holds a libpq connection string or URI libpq can read (empty:
   libpq's PG* variables); nothing is connected to. Its password is registered with
   redact (common/redact.h). 0 ok; -1 after printing "invalid --name ...: <libpq's
   reason>" to stderr. */
int pgconf_check(const config_opt_t *opts, const char *name);
/* Register the password of a connection string or URI, if it has one, with redact. */
void pgconf_redact(const char *conninfo);
/* A connection string for humans: its settings as key=value with the password as ***,
   or "(unparsable connection string)". Returns out. */
const char *pgconf_shown(const char *conninfo, char *out, size_t size);

void pgconf_test(bool verbose);

#endif
