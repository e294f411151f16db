/*  redact.c - keeps secrets out of logs and error messages. */
#include "common/redact.h"

#include <assert.h>
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

    assert(redact_add("hunter22") == 0);
    assert(redact_add("uri-pass@x") == 0);
    assert(redact_add("AKIAEXAMPLEKEY") == 0);
    assert(redact_add("AKIAEXAMPLEKEY") == 0); /* twice: kept once */
    assert(redact_add("abc") == 0);            /* too short: ignored */
    assert(redact_add(NULL) == 0);
    assert(atomic_load(&s_count) == 3);

    s_mask(buf, sizeof buf, "error=\"auth failed for hunter22, hunter22\" key=AKIAEXAMPLEKEY abc");
    assert(strcmp(buf, "error=\"auth failed for ***, ***\" key=*** abc") == 0);
    s_mask(buf, sizeof buf, "uri-pass@x");
    assert(strcmp(buf, "***") == 0);
    /* a secret holding another one is masked whole */
    assert(redact_add("hunter22hunter22") == 0);
    s_mask(buf, sizeof buf, "[hunter22hunter22]");
    assert(strcmp(buf, "[***]") == 0);

    redact_clear();
    assert(atomic_load(&s_count) == 0);
    s_mask(buf, sizeof buf, "hunter22");
    assert(strcmp(buf, "hunter22") == 0);
}
