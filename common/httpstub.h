/*  httpstub.h - a scripted HTTP/1.1 server on the loopback, in a thread, for
    the self-tests of the HTTP clients (the fetcher's Vinted session, the store
    stage's CDN client): it answers the requests it gets, in order,
    with the replies of its script (then 500), one request per connection,
    keeps the request heads for inspection, and can cut a body short (a
    Content-Length larger than what is sent, then the connection closes).
*/
#ifndef HTTPSTUB_H_INCLUDED
#define HTTPSTUB_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>

#define HTTPSTUB_MAX_REQUESTS 32
#define HTTPSTUB_HEAD_MAX 2048 /* bytes of each request head kept (cookies and long URLs) */

typedef struct {
    int status;
    const char *headers; /* extra header lines, each ending in \r\n; NULL for none */
    const void *body;    /* Content-Length is len */
    size_t len;
    size_t cut_at;       /* 0: send the whole body; else send this many bytes and close */
} httpstub_reply_t;

typedef struct _httpstub_t httpstub_t;

/* A reply whose body is a NUL-terminated text (Content-Length its strlen). */
httpstub_reply_t httpstub_text(int status, const char *headers, const char *text);

/* Listening on 127.0.0.1 at a free port; NULL if the socket or thread failed. */
httpstub_t *httpstub_new(void);
void httpstub_destroy(httpstub_t **self_p);

int httpstub_port(httpstub_t *self);
/* Start a new script (the array is borrowed: keep it alive while it plays). */
void httpstub_script(httpstub_t *self, const httpstub_reply_t *replies, int n);
/* Requests served since the script started. */
int httpstub_served(httpstub_t *self);
/* Whether the head of request i (0-based, since the script started) contains text. */
bool httpstub_saw(httpstub_t *self, int i, const char *text);

void httpstub_test(bool verbose);

#endif
