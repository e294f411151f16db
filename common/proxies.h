/*  proxies.h - the egress identities (VINTED_PROXIES), read the same way by the
    broker (which grants each identity its own request budget and pauses a
    blocked one alone) and the fetchers (which send each request through the
    identity its token names, with that identity's own cookies).

    VINTED_PROXIES is a comma-separated list of proxy URLs
    (http://[user:pass@]host:port, https://, socks5://, socks5h://), or
    @/path/to/file with one URL a line (blank lines and # comments skipped).
    Empty: one identity, the host's own address (identity 0, "direct").
    Credentials in a URL are secrets: they are registered with redact.h when
    the list is read and never appear in a label.
*/
#ifndef PROXIES_H_INCLUDED
#define PROXIES_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>

#define PROXIES_MAX 64
#define PROXIES_URL_MAX 256

typedef struct {
    int n;                               /* identities, at least 1 */
    char url[PROXIES_MAX][PROXIES_URL_MAX];   /* "" for direct */
    char label[PROXIES_MAX][PROXIES_URL_MAX]; /* the URL without credentials, or "direct" */
} proxies_t;

/* Parse text (see above) into *out. 0, or -1 with the reason in err (which never
   quotes a credential). */
int proxies_parse(const char *text, proxies_t *out, char *err, size_t errlen);
/* A program's --proxies / VINTED_PROXIES into *out: 0, or -1 after saying on
   stderr what is wrong with it. */
int proxies_load(const char *text, proxies_t *out);

void proxies_test(bool verbose);

#endif
