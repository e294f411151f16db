/*  redact.c - keeps secrets out of logs and error messages. */
#include "common/redact.h"

#include <assert.h>
#include <libpq-fe.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_MASK "***"

/* Registered at start (before other threads), read by every log call: the
   count is published after the slot is filled. Longest first, so that a secret
   holding another one is masked whole. */
static char *s_secret[REDACT_MAX];
static size_t s_len[REDACT_MAX];
static atomic_int s_count;

int redact_add(const char *secret)
{
    size_t len = secret ? strlen(secret) : 0;
    if (len < REDACT_MIN_LEN)
        return 0;
    int n = atomic_load(&s_count);
    for (int i = 0; i < n; i++)
        if (s_len[i] == len && memcmp(s_secret[i], secret, len) == 0)
            return 0;
    if (n == REDACT_MAX)
        return -1;
    char *copy = strdup(secret);
    if (!copy)
        return -1;
    int at = n;
    while (at > 0 && s_len[at - 1] < len) {
        s_secret[at] = s_secret[at - 1];
        s_len[at] = s_len[at - 1];
        at--;
    }
    s_secret[at] = copy;
    s_len[at] = len;
    atomic_store(&s_count, n + 1);
    return 0;
}

void redact_add_conninfo(const char *conninfo)
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

size_t redact_text(char *text, size_t len)
{
    int n = atomic_load(&s_count);
    for (int i = 0; i < n; i++) {
        size_t slen = s_len[i];
        size_t from = 0;
        while (from + slen <= len) {
            char *hit = memmem(text + from, len - from, s_secret[i], slen);
            if (!hit)
                break;
            size_t at = (size_t)(hit - text);
            /* slen >= REDACT_MIN_LEN > strlen(S_MASK): the text only shrinks */
            memcpy(hit, S_MASK, sizeof S_MASK - 1);
            memmove(hit + sizeof S_MASK - 1, hit + slen, len - at - slen);
            len -= slen - (sizeof S_MASK - 1);
            from = at + sizeof S_MASK - 1;
        }
    }
    return len;
}

const char *redact_conninfo(const char *conninfo, char *out, size_t size)
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
                         quote ? "'" : "", secret ? S_MASK : o->val, quote ? "'" : "");
        if (w < 0)
            break;
        used += (size_t)w;
    }
    PQconninfoFree(opts);
    return out;
}

void redact_clear(void)
{
    int n = atomic_load(&s_count);
    atomic_store(&s_count, 0);
    for (int i = 0; i < n; i++) {
        memset(s_secret[i], 0, s_len[i]);
        free(s_secret[i]);
        s_secret[i] = NULL;
        s_len[i] = 0;
    }
}

static size_t s_mask(char *buf, size_t size, const char *text)
{
    snprintf(buf, size, "%s", text);
    size_t len = redact_text(buf, strlen(buf));
    buf[len] = '\0';
    return len;
}

void redact_test(bool verbose)
{
    (void)verbose;
    char buf[512];
    redact_clear();
    /* nothing registered: nothing changes */
    assert(s_mask(buf, sizeof buf, "password=hunter22 here") == 22);
    assert(strcmp(buf, "password=hunter22 here") == 0);

    redact_add_conninfo("host=127.0.0.1 port=5432 user=vinted password=hunter22 dbname=vinted");
    redact_add_conninfo("postgresql://vinted:uri-pass%40x@db:5432/vinted?sslmode=disable");
    assert(redact_add("AKIAEXAMPLEKEY") == 0);
    assert(redact_add("AKIAEXAMPLEKEY") == 0); /* twice: kept once */
    assert(redact_add("abc") == 0);            /* too short: ignored */
    assert(redact_add(NULL) == 0);
    assert(atomic_load(&s_count) == 3);

    s_mask(buf, sizeof buf, "error=\"auth failed for hunter22, hunter22\" key=AKIAEXAMPLEKEY abc");
    assert(strcmp(buf, "error=\"auth failed for ***, ***\" key=*** abc") == 0);
    /* the URI's password is registered decoded, as libpq uses it */
    s_mask(buf, sizeof buf, "uri-pass@x");
    assert(strcmp(buf, "***") == 0);
    /* a secret holding another one is masked whole */
    assert(redact_add("hunter22hunter22") == 0);
    s_mask(buf, sizeof buf, "[hunter22hunter22]");
    assert(strcmp(buf, "[***]") == 0);

    redact_conninfo("host=127.0.0.1 port=5432 user=vinted password=hunter22 dbname=vinted", buf, sizeof buf);
    assert(strstr(buf, "host=127.0.0.1") && strstr(buf, "user=vinted") && strstr(buf, "password=***"));
    assert(!strstr(buf, "hunter22"));
    redact_conninfo("postgresql://vinted:topsecret@db:5433/vinted", buf, sizeof buf);
    assert(strstr(buf, "host=db") && strstr(buf, "port=5433") && strstr(buf, "password=***"));
    assert(!strstr(buf, "topsecret"));
    redact_conninfo("host=x password=topsecret sslmode", buf, sizeof buf);
    assert(strcmp(buf, "(unparsable connection string)") == 0);
    redact_conninfo("", buf, sizeof buf);
    assert(strcmp(buf, "") == 0);
    char tiny[8];
    redact_conninfo("host=127.0.0.1 password=topsecret", tiny, sizeof tiny);
    assert(strlen(tiny) < sizeof tiny && !strstr(tiny, "top"));

    redact_clear();
    assert(atomic_load(&s_count) == 0);
    s_mask(buf, sizeof buf, "hunter22");
    assert(strcmp(buf, "hunter22") == 0);
}
