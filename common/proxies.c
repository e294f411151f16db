/*  proxies.c - VINTED_PROXIES (see proxies.h). */
#include "common/proxies.h"

#include <assert.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/redact.h"

static const char *const s_schemes[] = { "http://", "https://", "socks5://", "socks5h://", NULL };

/* One URL (len bytes at p, trimmed) into entry i: checked, its credentials
   registered as secrets and left out of its label. */
static int s_add(proxies_t *out, const char *p, size_t len, int line, char *err, size_t errlen)
{
    while (len > 0 && isspace((unsigned char) *p))
        p++, len--;
    while (len > 0 && isspace((unsigned char) p[len - 1]))
        len--;
    if (len == 0)
        return 0;
    const char *where = line > 0 ? "line " : "entry ";
    int at = line > 0 ? line : out->n + 1;
    if (out->n == PROXIES_MAX) {
        snprintf(err, errlen, "more than %d proxies", PROXIES_MAX);
        return -1;
    }
    if (len >= PROXIES_URL_MAX) {
        snprintf(err, errlen, "%s%d: a proxy URL longer than %d bytes", where, at, PROXIES_URL_MAX - 1);
        return -1;
    }
    char url[PROXIES_URL_MAX];
    memcpy(url, p, len);
    url[len] = '\0';
    const char *scheme = NULL;
    for (int i = 0; s_schemes[i]; i++)
        if (strncmp(url, s_schemes[i], strlen(s_schemes[i])) == 0)
            scheme = s_schemes[i];
    if (!scheme) {
        snprintf(err, errlen, "%s%d: a proxy URL must start with http://, https://, socks5:// or socks5h://",
                 where, at);
        return -1;
    }
    const char *auth = url + strlen(scheme);
    const char *slash = strchr(auth, '/');
    const char *atsign = strrchr(auth, '@');
    if (atsign && slash && atsign > slash)
        atsign = NULL;
    const char *host = atsign ? atsign + 1 : auth;
    size_t host_len = slash ? (size_t) (slash - host) : strlen(host);
    if (host_len == 0 || memchr(host, ' ', host_len)) {
        snprintf(err, errlen, "%s%d: a proxy URL without a host", where, at);
        return -1;
    }
    for (int i = 0; i < out->n; i++)
        if (strcmp(out->url[i], url) == 0) {
            snprintf(err, errlen, "%s%d: the same proxy twice", where, at);
            return -1;
        }
    if (atsign) { /* user:pass@ is a secret: the whole userinfo and the password alone */
        char secret[PROXIES_URL_MAX];
        size_t n = (size_t) (atsign - auth);
        memcpy(secret, auth, n);
        secret[n] = '\0';
        redact_add(secret);
        const char *colon = strchr(secret, ':');
        if (colon)
            redact_add(colon + 1);
    }
    memcpy(out->url[out->n], url, len + 1);
    snprintf(out->label[out->n], PROXIES_URL_MAX, "%.*s%.*s", (int) strlen(scheme), scheme, (int) host_len, host);
    out->n++;
    return 0;
}

int proxies_parse(const char *text, proxies_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (err && errlen)
        err[0] = '\0';
    if (!text)
        text = "";
    while (isspace((unsigned char) *text))
        text++;
    if (*text == '@') {
        FILE *f = fopen(text + 1, "r");
        if (!f) {
            snprintf(err, errlen, "cannot read the proxy list %s", text + 1);
            return -1;
        }
        char line[PROXIES_URL_MAX + 2];
        int no = 0;
        while (fgets(line, sizeof line, f)) {
            no++;
            size_t len = strlen(line);
            if (len == sizeof line - 1 && line[len - 1] != '\n') {
                snprintf(err, errlen, "line %d: a proxy URL longer than %d bytes", no, PROXIES_URL_MAX - 1);
                fclose(f);
                return -1;
            }
            const char *p = line;
            while (isspace((unsigned char) *p))
                p++;
            if (*p == '#')
                continue;
            if (s_add(out, p, strlen(p), no, err, errlen) != 0) {
                fclose(f);
                return -1;
            }
        }
        fclose(f);
        if (out->n == 0) {
            snprintf(err, errlen, "the proxy list %s holds no proxy", text + 1);
            return -1;
        }
        return 0;
    }
    for (const char *p = text; *p;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t) (comma - p) : strlen(p);
        if (s_add(out, p, len, 0, err, errlen) != 0)
            return -1;
        p += len + (comma ? 1 : 0);
    }
    if (out->n == 0) {
        out->n = 1;
        snprintf(out->label[0], PROXIES_URL_MAX, "direct");
    }
    return 0;
}

int proxies_load(const char *text, proxies_t *out)
{
    char err[256];
    if (proxies_parse(text, out, err, sizeof err) == 0)
        return 0;
    fprintf(stderr, "invalid --proxies / VINTED_PROXIES: %s\n", err);
    return -1;
}

void proxies_test(bool verbose)
{
    (void) verbose;
    proxies_t *p = calloc(1, sizeof *p);
    char err[256];
    assert(p);
    assert(proxies_parse("", p, err, sizeof err) == 0 && p->n == 1 && !p->url[0][0]);
    assert(strcmp(p->label[0], "direct") == 0);
    assert(proxies_parse(" http://127.0.0.1:8001 , socks5h://bob:s3cr3tpw@proxy.example:1080", p, err, sizeof err) == 0);
    assert(p->n == 2 && strcmp(p->url[0], "http://127.0.0.1:8001") == 0);
    assert(strcmp(p->url[1], "socks5h://bob:s3cr3tpw@proxy.example:1080") == 0);
    assert(strcmp(p->label[1], "socks5h://proxy.example:1080") == 0); /* no credentials in a label */
    char line[128] = "connect to socks5h://bob:s3cr3tpw@proxy.example:1080 failed";
    line[redact_text(line, strlen(line))] = '\0';
    assert(!strstr(line, "s3cr3tpw") && strstr(line, "***"));
    assert(proxies_parse("ftp://x:1", p, err, sizeof err) == -1 && strstr(err, "entry 1") && strstr(err, "http://"));
    assert(proxies_parse("http://a:1,http://a:1", p, err, sizeof err) == -1 && strstr(err, "twice"));
    assert(proxies_parse("http://u:hunter22@", p, err, sizeof err) == -1 && !strstr(err, "hunter22"));
    /* a file: comments and blank lines skipped */
    char path[] = "/tmp/vinted-proxies-XXXXXX";
    int fd = mkstemp(path);
    assert(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs("# egress\n\nhttp://10.0.0.1:3128\n  https://10.0.0.2:3129/\n", f);
    fclose(f);
    char arg[64];
    snprintf(arg, sizeof arg, "@%s", path);
    assert(proxies_parse(arg, p, err, sizeof err) == 0 && p->n == 2 && strcmp(p->label[1], "https://10.0.0.2:3129") == 0);
    f = fopen(path, "w");
    fputs("# none\n", f);
    fclose(f);
    assert(proxies_parse(arg, p, err, sizeof err) == -1 && strstr(err, "no proxy"));
    unlink(path);
    assert(proxies_parse("@/nonexistent/proxies", p, err, sizeof err) == -1 && strstr(err, "cannot read"));
    redact_clear();
    free(p);
}
