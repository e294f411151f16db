/*  httpstub.c - a scripted loopback HTTP server for tests (see httpstub.h). */
#include "common/httpstub.h"

#include <assert.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

struct _httpstub_t {
    int fd;
    int port;
    pthread_t thread;
    pthread_mutex_t lock;
    bool stop;
    const httpstub_reply_t *script;
    int n_script;
    int served;
    char heads[HTTPSTUB_MAX_REQUESTS][HTTPSTUB_HEAD_MAX];
};

/* Send all of buf; false if the peer went away. */
static bool s_send_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n <= 0)
            return false;
        p += n;
        len -= (size_t) n;
    }
    return true;
}

static void s_serve(httpstub_t *self, int conn)
{
    char head[HTTPSTUB_HEAD_MAX];
    size_t len = 0;
    while (len + 1 < sizeof(head)) {
        ssize_t n = read(conn, head + len, sizeof(head) - 1 - len);
        if (n <= 0)
            break;
        len += (size_t) n;
        head[len] = '\0';
        if (strstr(head, "\r\n\r\n"))
            break;
    }
    head[len] = '\0';
    pthread_mutex_lock(&self->lock);
    int i = self->served++;
    if (i < HTTPSTUB_MAX_REQUESTS)
        snprintf(self->heads[i], sizeof(self->heads[i]), "%s", head);
    httpstub_reply_t reply = { 500, NULL, "no script", 9, 0 };
    if (i < self->n_script)
        reply = self->script[i];
    pthread_mutex_unlock(&self->lock);
    char out[1024];
    int n = snprintf(out, sizeof(out),
                     "HTTP/1.1 %d Stub\r\nContent-Length: %zu\r\nConnection: close\r\n%s\r\n",
                     reply.status, reply.len, reply.headers ? reply.headers : "");
    if (n > 0 && (size_t) n < sizeof(out) && s_send_all(conn, out, (size_t) n) && reply.len > 0)
        s_send_all(conn, reply.body,
                   reply.cut_at > 0 && reply.cut_at < reply.len ? reply.cut_at : reply.len);
}

static void *s_run(void *arg)
{
    httpstub_t *self = arg;
    while (true) {
        pthread_mutex_lock(&self->lock);
        bool stop = self->stop;
        pthread_mutex_unlock(&self->lock);
        if (stop)
            break;
        struct pollfd pfd = { self->fd, POLLIN, 0 };
        if (poll(&pfd, 1, 20) <= 0)
            continue;
        int conn = accept(self->fd, NULL, NULL);
        if (conn < 0)
            continue;
        s_serve(self, conn);
        close(conn);
    }
    return NULL;
}

httpstub_reply_t httpstub_text(int status, const char *headers, const char *text)
{
    return (httpstub_reply_t) { status, headers, text, strlen(text), 0 };
}

httpstub_t *httpstub_new(void)
{
    httpstub_t *self = calloc(1, sizeof(*self));
    if (!self)
        return NULL;
    self->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = { 0 };
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t alen = sizeof(addr);
    if (self->fd < 0 || bind(self->fd, (struct sockaddr *) &addr, sizeof(addr)) != 0
        || getsockname(self->fd, (struct sockaddr *) &addr, &alen) != 0 || listen(self->fd, 16) != 0) {
        if (self->fd >= 0)
            close(self->fd);
        free(self);
        return NULL;
    }
    self->port = ntohs(addr.sin_port);
    pthread_mutex_init(&self->lock, NULL);
    if (pthread_create(&self->thread, NULL, s_run, self) != 0) {
        pthread_mutex_destroy(&self->lock);
        close(self->fd);
        free(self);
        return NULL;
    }
    return self;
}

void httpstub_destroy(httpstub_t **self_p)
{
    if (self_p && *self_p) {
        httpstub_t *self = *self_p;
        pthread_mutex_lock(&self->lock);
        self->stop = true;
        pthread_mutex_unlock(&self->lock);
        pthread_join(self->thread, NULL);
        pthread_mutex_destroy(&self->lock);
        close(self->fd);
        free(self);
        *self_p = NULL;
    }
}

int httpstub_port(httpstub_t *self)
{
    return self->port;
}

void httpstub_script(httpstub_t *self, const httpstub_reply_t *replies, int n)
{
    pthread_mutex_lock(&self->lock);
    self->script = replies;
    self->n_script = n;
    self->served = 0;
    memset(self->heads, 0, sizeof(self->heads));
    pthread_mutex_unlock(&self->lock);
}

int httpstub_served(httpstub_t *self)
{
    pthread_mutex_lock(&self->lock);
    int served = self->served;
    pthread_mutex_unlock(&self->lock);
    return served;
}

bool httpstub_saw(httpstub_t *self, int i, const char *text)
{
    if (i < 0 || i >= HTTPSTUB_MAX_REQUESTS)
        return false;
    pthread_mutex_lock(&self->lock);
    bool found = strstr(self->heads[i], text) != NULL;
    pthread_mutex_unlock(&self->lock);
    return found;
}

/* --------------------------------------------------------------------------- */

/* One raw GET on the loopback: the whole answer into buf (NUL-terminated). */
static size_t s_get(int port, const char *path, char *buf, size_t size)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert(fd >= 0);
    struct sockaddr_in addr = { 0 };
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons((uint16_t) port);
    assert(connect(fd, (struct sockaddr *) &addr, sizeof(addr)) == 0);
    char req[256];
    int n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path);
    assert(s_send_all(fd, req, (size_t) n));
    size_t len = 0;
    ssize_t got;
    while (len + 1 < size && (got = read(fd, buf + len, size - 1 - len)) > 0)
        len += (size_t) got;
    buf[len] = '\0';
    close(fd);
    return len;
}

void httpstub_test(bool verbose)
{
    if (verbose)
        printf(" * httpstub: ");
    httpstub_t *stub = httpstub_new();
    assert(stub && httpstub_port(stub) > 0);
    const httpstub_reply_t script[] = {
        { 200, "X-Test: 1\r\n", "hello", 5, 0 },
        { 200, NULL, "0123456789", 10, 4 },
    };
    httpstub_script(stub, script, 2);
    char buf[512];
    s_get(httpstub_port(stub), "/first", buf, sizeof(buf));
    assert(strstr(buf, "HTTP/1.1 200") && strstr(buf, "Content-Length: 5\r\n"));
    assert(strstr(buf, "X-Test: 1\r\n") && strstr(buf, "\r\n\r\nhello"));
    size_t len = s_get(httpstub_port(stub), "/second", buf, sizeof(buf));
    assert(strstr(buf, "Content-Length: 10\r\n") && strcmp(buf + len - 6, "\r\n0123") == 0);
    s_get(httpstub_port(stub), "/third", buf, sizeof(buf));
    assert(strstr(buf, "HTTP/1.1 500"));
    assert(httpstub_served(stub) == 3);
    assert(httpstub_saw(stub, 0, "GET /first ") && httpstub_saw(stub, 1, "GET /second "));
    assert(!httpstub_saw(stub, 0, "/second") && !httpstub_saw(stub, 99, "GET"));
    const httpstub_reply_t text = httpstub_text(201, NULL, "{\"ok\":1}");
    assert(text.status == 201 && !text.headers && text.len == 8 && text.cut_at == 0);
    httpstub_script(stub, &text, 1);
    s_get(httpstub_port(stub), "/text", buf, sizeof(buf));
    assert(strstr(buf, "HTTP/1.1 201") && strstr(buf, "Content-Length: 8\r\n")
           && strstr(buf, "\r\n\r\n{\"ok\":1}"));
    httpstub_destroy(&stub);
    assert(stub == NULL);
    if (verbose)
        printf("OK\n");
}
