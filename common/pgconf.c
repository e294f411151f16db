/*  pgconf.c - a PostgreSQL connection setting checked at start. */
#include "common/pgconf.h"

#include <assert.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <string.h>

#include "common/redact.h"

int pgconf_check(const config_opt_t *opts, const char *name)
{
    const char *value = config_get(opts, name);
    if (!value || !*value)
        return 0;
    char *err = NULL;
    PQconninfoOption *parsed = PQconninfoParse(value, &err);
    if (parsed) {
        PQconninfoFree(parsed);
        pgconf_redact(value);
        return 0;
    }
    char why[300];
    snprintf(why, sizeof why, "not a PostgreSQL connection string or URI: %s", err ? err : "out of memory");
    size_t n = strlen(why);
    while (n > 0 && (why[n - 1] == '\n' || why[n - 1] == ' '))
        why[--n] = 0;
    config_invalid(opts, name, why);
    PQfreemem(err);
    return -1;
}

void pgconf_redact(const char *conninfo)
{
    if (!conninfo || !*conninfo)
        return;
    char *err = NULL;
    PQconninfoOption *opts = PQconninfoParse(conninfo, &err);
    PQfreemem(err);
    for (PQconninfoOption *o = opts; o && o->keyword; o++)
        if (o->val && strcmp(o->keyword, "password") == 0)
            redact_add(o->val);
    PQconninfoFree(opts);
}


const char *pgconf_shown(const char *conninfo, char *out, size_t size)
{
    assert(out && size > 0);
    out[0] = '\0';
    if (!conninfo || !*conninfo)
        return out;
    char *err = NULL;
    PQconninfoOption *opts = PQconninfoParse(conninfo, &err);
    PQfreemem(err); /* libpq's message may quote the string itself: not shown */
    if (!opts) {
        snprintf(out, size, "(unparsable connection string)");
        return out;
    }
    size_t used = 0;
    for (PQconninfoOption *o = opts; o->keyword && used < size; o++) {
        if (!o->val)
            continue;
        bool secret = strcmp(o->keyword, "password") == 0;
        bool quote = !secret && (!*o->val || strpbrk(o->val, " '\\"));
        int w = snprintf(out + used, size - used, "%s%s=%s%s%s", used ? " " : "", o->keyword,
                         quote ? "'" : "", secret ? "***" : o->val, quote ? "'" : "");
        if (w < 0)
            break;
        used += (size_t)w;
    }
    PQconninfoFree(opts);
    return out;
}

void pgconf_test(bool verbose)
{
    (void) verbose;
    config_opt_t opts[] = {
        { "pg", "VINTED_PG", NULL, "conninfo", NULL },
        { NULL, NULL, NULL, NULL, NULL },
    };
    const char *conninfos[] = { "", "host=127.0.0.1 port=5432 dbname=x", "postgresql://u@h:5/db", "nonsense",
                                "nosuchkey=1", "host='unterminated" };
    fprintf(stderr, "(error messages about invalid connection strings are expected here)\n");
    for (size_t i = 0; i < sizeof conninfos / sizeof conninfos[0]; i++) {
        opts[0].value = conninfos[i];
        assert((pgconf_check(opts, "pg") == 0) == (i < 3));
    }

    char buf[512];
    redact_clear();
    pgconf_redact("host=127.0.0.1 port=5432 user=vinted password=hunter22 dbname=vinted");
    pgconf_redact("postgresql://vinted:uri-pass%40x@db:5432/vinted?sslmode=disable");
    char line[] = "auth failed for hunter22 and uri-pass@x";
    line[redact_text(line, strlen(line))] = 0;
    assert(strcmp(line, "auth failed for *** and ***") == 0); /* the URI's password decoded, as libpq uses it */
    redact_clear();

    pgconf_shown("host=127.0.0.1 port=5432 user=vinted password=hunter22 dbname=vinted", buf, sizeof buf);
    assert(strstr(buf, "host=127.0.0.1") && strstr(buf, "user=vinted") && strstr(buf, "password=***"));
    assert(!strstr(buf, "hunter22"));
    pgconf_shown("postgresql://vinted:topsecret@db:5433/vinted", buf, sizeof buf);
    assert(strstr(buf, "host=db") && strstr(buf, "port=5433") && strstr(buf, "password=***"));
    assert(!strstr(buf, "topsecret"));
    pgconf_shown("host=x password=topsecret sslmode", buf, sizeof buf);
    assert(strcmp(buf, "(unparsable connection string)") == 0);
    pgconf_shown("", buf, sizeof buf);
    assert(strcmp(buf, "") == 0);
    char tiny[8];
    pgconf_shown("host=127.0.0.1 password=topsecret", tiny, sizeof tiny);
    assert(strlen(tiny) < sizeof tiny && !strstr(tiny, "top"));
}
