/*  metrics_http.c - the HTTP server of a metrics registry: libmicrohttpd, loaded
    with dlopen on first use, one internal polling thread, GET or HEAD /metrics.
    See metrics_http.h.
*/
#include "common/metrics_http.h"

#include <arpa/inet.h>
#include <assert.h>
#include <dlfcn.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "common/log.h"

struct _metrics_http_t {
    metrics_t *registry;
    struct MHD_Daemon *daemon;
    int port;
};

/* libmicrohttpd is loaded when a server first starts, not with the program: its
   load-time set-up (GnuTLS) costs every program about 1 MB of resident memory even
   with metrics off (BENCHMARKS.md, Footprint). */
static struct {
    pthread_once_t once;
    void *lib;
    __typeof__(MHD_start_daemon) *start_daemon;
    __typeof__(MHD_stop_daemon) *stop_daemon;
    __typeof__(MHD_get_daemon_info) *get_daemon_info;
    __typeof__(MHD_create_response_from_buffer) *create_response_from_buffer;
    __typeof__(MHD_add_response_header) *add_response_header;
    __typeof__(MHD_queue_response) *queue_response;
    __typeof__(MHD_destroy_response) *destroy_response;
    char error[256];
} s_mhd = { .once = PTHREAD_ONCE_INIT };

static void s_mhd_load(void)
{
    void *lib = dlopen("libmicrohttpd.so.12", RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        snprintf(s_mhd.error, sizeof s_mhd.error, "cannot load libmicrohttpd: %s", dlerror());
        return;
    }
#define S_SYM(field, name)                                                                      \
    if (!(*(void **) &s_mhd.field = dlsym(lib, #name))) {                                       \
        snprintf(s_mhd.error, sizeof s_mhd.error, "libmicrohttpd lacks %s", #name);             \
        dlclose(lib);                                                                           \
        return;                                                                                 \
    }
    S_SYM(start_daemon, MHD_start_daemon)
    S_SYM(stop_daemon, MHD_stop_daemon)
    S_SYM(get_daemon_info, MHD_get_daemon_info)
    S_SYM(create_response_from_buffer, MHD_create_response_from_buffer)
    S_SYM(add_response_header, MHD_add_response_header)
    S_SYM(queue_response, MHD_queue_response)
    S_SYM(destroy_response, MHD_destroy_response)
#undef S_SYM
    s_mhd.lib = lib;
}

static enum MHD_Result s_reply(struct MHD_Connection *conn, unsigned int status, char *body,
                               size_t len, const char *type)
{
    struct MHD_Response *r = s_mhd.create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(body);
        return MHD_NO;
    }
    s_mhd.add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        s_mhd.add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    enum MHD_Result rc = s_mhd.queue_response(conn, status, r);
    s_mhd.destroy_response(r);
    return rc;
}

static enum MHD_Result s_handle(void *cls, struct MHD_Connection *conn, const char *url,
                                const char *method, const char *version, const char *upload_data,
                                size_t *upload_data_size, void **con_cls)
{
    (void) version;
    (void) upload_data;
    (void) con_cls;
    metrics_http_t *self = cls;
    if (*upload_data_size > 0) { /* a request body: not ours to read */
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0) {
        char *body = strdup("method not allowed: GET /metrics\n");
        return body ? s_reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, body, strlen(body), "text/plain")
                    : MHD_NO;
    }
    if (strcmp(url, "/metrics") != 0) {
        char *body = strdup("not found: the metrics are at /metrics\n");
        return body ? s_reply(conn, MHD_HTTP_NOT_FOUND, body, strlen(body), "text/plain") : MHD_NO;
    }
    size_t len = 0;
    char *text = metrics_render(self->registry, &len);
    if (!text) {
        char *body = strdup("out of memory\n");
        return body ? s_reply(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, body, strlen(body), "text/plain")
                    : MHD_NO;
    }
    return s_reply(conn, MHD_HTTP_OK, text, len, "text/plain; version=0.0.4; charset=utf-8");
}

metrics_http_t *metrics_http_new(metrics_t *registry, const char *bind, int port)
{
    if (!registry || port < 0 || port > 65535)
        return NULL;
    pthread_once(&s_mhd.once, s_mhd_load);
    if (!s_mhd.lib) {
        log_error("metrics: cannot serve", "error=%s", log_str(s_mhd.error));
        return NULL;
    }
    struct sockaddr_in in4;
    struct sockaddr_in6 in6;
    struct sockaddr *addr;
    unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO;
    memset(&in4, 0, sizeof in4);
    memset(&in6, 0, sizeof in6);
    if (!bind || !*bind)
        bind = "127.0.0.1";
    if (inet_pton(AF_INET, bind, &in4.sin_addr) == 1) {
        in4.sin_family = AF_INET;
        in4.sin_port = htons((uint16_t) port);
        addr = (struct sockaddr *) &in4;
    }
    else if (inet_pton(AF_INET6, bind, &in6.sin6_addr) == 1) {
        in6.sin6_family = AF_INET6;
        in6.sin6_port = htons((uint16_t) port);
        addr = (struct sockaddr *) &in6;
        flags |= MHD_USE_IPv6;
    }
    else {
        log_error("metrics: bad bind address", "bind=%s", log_str(bind));
        return NULL;
    }
    metrics_http_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->registry = registry;
    /* the server thread inherits this mask: SIGINT and SIGTERM stay with the program's threads */
    sigset_t block, old;
    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    self->daemon = s_mhd.start_daemon(flags, (uint16_t) port, NULL, NULL, s_handle, self,
                                    MHD_OPTION_SOCK_ADDR, addr,
                                    MHD_OPTION_CONNECTION_LIMIT, (unsigned int) 32,
                                    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int) 10,
                                    MHD_OPTION_END);
    int saved = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (!self->daemon) {
        log_error("metrics: cannot listen", "bind=%s port=%d error=%s", log_str(bind), port,
                  log_str(strerror(saved)));
        free(self);
        return NULL;
    }
    const union MHD_DaemonInfo *info = s_mhd.get_daemon_info(self->daemon, MHD_DAEMON_INFO_BIND_PORT);
    self->port = info && info->port ? info->port : port;
    log_info("metrics served", "bind=%s port=%d path=/metrics", log_str(bind), self->port);
    return self;
}


int metrics_http_port(const metrics_http_t *self)
{
    return self ? self->port : 0;
}

void metrics_http_destroy(metrics_http_t **self_p)
{
    metrics_http_t *self = *self_p;
    if (!self)
        return;
    s_mhd.stop_daemon(self->daemon);
    free(self);
    *self_p = NULL;
}

/* ------------------------------------------------------------ self-test */

/* GET path from 127.0.0.1:port with a plain socket; the whole response (caller frees). */
static char *s_test_get(int port, const char *method, const char *path)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert(fd >= 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t) port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert(connect(fd, (struct sockaddr *) &a, sizeof a) == 0);
    char req[256];
    int n = snprintf(req, sizeof req, "%s %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
                     method, path);
    assert(write(fd, req, (size_t) n) == n);
    size_t size = 1 << 16, len = 0;
    char *out = malloc(size);
    assert(out);
    ssize_t got;
    while ((got = read(fd, out + len, size - len - 1)) > 0) {
        len += (size_t) got;
        assert(len < size - 1);
    }
    out[len] = '\0';
    close(fd);
    return out;
}


void metrics_http_test(bool verbose)
{
    if (verbose)
        printf("\n");
    metrics_t *m = metrics_new();
    assert(m);
    metrics_family_t *req = metrics_family(m, METRICS_COUNTER, "vinted_test_requests_total",
                                           "Requests by status", "status", NULL, 0);
    metrics_series_t *ok = metrics_series(req, "200");
    metrics_inc(ok);
    /* the server, on an ephemeral port */
    assert(metrics_start(m, "256.0.0.1", 0) == -1 && metrics_port(m) == 0);
    assert(metrics_start(m, "127.0.0.1", 0) == 0);
    int port = metrics_port(m);
    assert(port > 0);
    assert(metrics_start(m, "127.0.0.1", 0) == -1); /* already serving */
    metrics_inc(ok);
    char *resp = s_test_get(port, "GET", "/metrics");
    assert(strncmp(resp, "HTTP/1.1 200", 12) == 0);
    assert(strstr(resp, "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n")
           || strstr(resp, "content-type: text/plain; version=0.0.4; charset=utf-8\r\n"));
    char *body = strstr(resp, "\r\n\r\n");
    assert(body);
    char *text = metrics_render(m, NULL); /* what the server sends is the exposition itself */
    assert(text && strcmp(body + 4, text) == 0);
    free(text);
    assert(strstr(body, "vinted_test_requests_total{status=\"200\"} 2\n"));
    free(resp);
    resp = s_test_get(port, "GET", "/");
    assert(strncmp(resp, "HTTP/1.1 404", 12) == 0);
    free(resp);
    resp = s_test_get(port, "POST", "/metrics");
    assert(strncmp(resp, "HTTP/1.1 405", 12) == 0);
    free(resp);
    /* a second registry cannot take the same port */
    metrics_t *other = metrics_new();
    assert(metrics_start(other, "127.0.0.1", port) == -1);
    metrics_destroy(&other);
    metrics_stop(m);
    assert(metrics_port(m) == 0);
    metrics_destroy(&m);
    assert(m == NULL);

}
