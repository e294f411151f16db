/*  curve.c - CURVE security on the broker, worker and control sockets. */
#include "common/curve.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "common/redact.h"

#define S_ZAP_DOMAIN "vinted"
#define S_NO_SECRET "0000000000000000000000000000000000000000" /* Z85 of 32 zero bytes */
#define S_PATH_MAX 200 /* zcert_load appends "_secret" in a 256-byte buffer */
#define S_META_MAX 400 /* zauth copies a client's metadata into 512 bytes, unchecked */
#define S_SECRET_SETTING "--curve-secret / VINTED_CURVE_SECRET"
#define S_CLIENTS_SETTING "--curve-clients / VINTED_CURVE_CLIENTS"
#define S_SERVER_SETTING "--curve-server / VINTED_CURVE_SERVER"
#define S_CERT_SETTING "--curve-cert / VINTED_CURVE_CERT"

struct _curve_t {
    bool server;
    zcert_t *cert;       /* our key pair */
    char server_key[41]; /* client: the broker's public key, Z85 */
    char short_key[12];  /* the first characters of ours, for logs */
    zactor_t *auth;      /* server: the zauth actor answering ZAP */
    int n_clients;       /* server: certificates in the allow-list at start */
};

struct _curve_watch_t {
    void *handle;  /* the watched libzmq socket */
    zsock_t *pair; /* receives its monitor events */
};

static int s_fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int s_fail(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

static bool s_ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Our key pair from a secret certificate file (zcert_load also takes NAME when
   NAME_secret sits beside it). NULL with the reason in err. */
static zcert_t *s_load_secret(const char *path, const char *setting, char *err, size_t errlen)
{
    if (strlen(path) > S_PATH_MAX) {
        s_fail(err, errlen, "invalid %s: path longer than %d characters", setting, S_PATH_MAX);
        return NULL;
    }
    char secret_path[S_PATH_MAX + 16];
    snprintf(secret_path, sizeof secret_path, "%s_secret", path);
    const char *used = access(secret_path, F_OK) == 0 ? secret_path : path;
    FILE *f = fopen(used, "r");
    if (!f) {
        s_fail(err, errlen, "invalid %s '%s': %s", setting, used, strerror(errno));
        return NULL;
    }
    fclose(f);
    zcert_t *cert = zcert_load(path);
    if (!cert) {
        s_fail(err, errlen,
               "invalid %s '%s': not a CURVE certificate (zcert format, as vinted-ctl keygen writes)",
               setting, used);
        return NULL;
    }
    if (strcmp(zcert_secret_txt(cert), S_NO_SECRET) == 0) {
        zcert_destroy(&cert);
        s_fail(err, errlen,
               "invalid %s '%s': a public certificate, it holds no secret key (give the NAME_secret file)",
               setting, used);
        return NULL;
    }
    redact_add(zcert_secret_txt(cert));
    struct stat st;
    if (stat(used, &st) == 0 && (st.st_mode & 077))
        log_warn("secret key file is readable by other users", "file=%s mode=%03o hint=%s", log_str(used),
                 (unsigned)(st.st_mode & 0777), log_str("chmod 600 it"));
    return cert;
}

/* The broker's public key: a certificate file, or 40 characters of Z85. */
static int s_server_key(const char *value, char out[41], char *err, size_t errlen)
{
    if (access(value, F_OK) == 0) {
        if (strlen(value) > S_PATH_MAX)
            return s_fail(err, errlen, "invalid %s: path longer than %d characters", S_SERVER_SETTING,
                          S_PATH_MAX);
        zcert_t *cert = zcert_load(value);
        if (!cert)
            return s_fail(err, errlen, "invalid %s '%s': not a CURVE certificate (zcert format)",
                          S_SERVER_SETTING, value);
        snprintf(out, 41, "%s", zcert_public_txt(cert));
        zcert_destroy(&cert);
        return 0;
    }
    uint8_t key[32];
    if (strlen(value) == 40 && zmq_z85_decode(key, value)) {
        memcpy(out, value, 41);
        return 0;
    }
    return s_fail(
        err, errlen,
        "invalid %s '%s': neither a readable certificate file (%s) nor a 40-character Z85 public key",
        S_SERVER_SETTING, value, strerror(ENOENT));
}

/* Check the allow-list as zauth will read it (every regular file, subdirectories
   included, but NAME_secret ones): each certificate's key once (czmq's certificate
   store aborts on a repeated key) and small metadata. The number of certificates,
   or -1 with the reason in err. */
static int s_check_clients(const char *dir, char *err, size_t errlen)
{
    struct stat st;
    if (stat(dir, &st) != 0)
        return s_fail(err, errlen, "invalid %s '%s': %s", S_CLIENTS_SETTING, dir, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return s_fail(err, errlen, "invalid %s '%s': not a directory", S_CLIENTS_SETTING, dir);
    zdir_t *zdir = zdir_new(dir, NULL);
    if (!zdir)
        return s_fail(err, errlen, "invalid %s '%s': cannot read the directory", S_CLIENTS_SETTING, dir);
    zfile_t **files = zdir_flatten(zdir);
    zhashx_t *seen = zhashx_new(); /* public key -> file name */
    int n = 0, rc = 0;
    for (size_t i = 0; files && files[i] && rc == 0; i++) {
        const char *name = zfile_filename(files[i], NULL);
        if (!zfile_is_regular(files[i]) || s_ends_with(name, "_secret"))
            continue;
        if (strlen(name) > S_PATH_MAX) {
            rc = s_fail(err, errlen, "invalid %s: path '%.60s...' longer than %d characters",
                        S_CLIENTS_SETTING, name, S_PATH_MAX);
            break;
        }
        zcert_t *cert = zcert_load(name);
        if (!cert)
            continue; /* not a certificate: zauth skips it too */
        const char *other = zhashx_lookup(seen, zcert_public_txt(cert));
        size_t meta = 0;
        zlist_t *keys = zcert_meta_keys(cert);
        for (const char *k = zlist_first(keys); k; k = zlist_next(keys))
            meta += 5 + strlen(k) + strlen(zcert_meta(cert, k) ? zcert_meta(cert, k) : "");
        zlist_destroy(&keys);
        if (other)
            rc = s_fail(err, errlen, "invalid %s: '%s' and '%s' hold the same key; keep one",
                        S_CLIENTS_SETTING, other, name);
        else if (meta > S_META_MAX)
            rc = s_fail(err, errlen, "invalid %s: '%s' carries %zu bytes of metadata, at most %d",
                        S_CLIENTS_SETTING, name, meta, S_META_MAX);
        else {
            zhashx_insert(seen, zcert_public_txt(cert), (void *)name);
            n++;
        }
        zcert_destroy(&cert);
    }
    zhashx_destroy(&seen);
    zdir_flatten_free(&files);
    zdir_destroy(&zdir);
    return rc == 0 ? n : -1;
}

static curve_t *s_new(bool server, zcert_t *cert)
{
    curve_t *self = calloc(1, sizeof *self);
    assert(self);
    self->server = server;
    self->cert = cert;
    snprintf(self->short_key, sizeof self->short_key, "%.8s", zcert_public_txt(cert));
    return self;
}

curve_t *curve_server_new(const char *secret_cert, const char *clients_dir, char *err, size_t errlen)
{
    if (!zsys_has_curve()) {
        s_fail(err, errlen, "this libzmq was built without CURVE support");
        return NULL;
    }
    if (!secret_cert || !*secret_cert || !clients_dir || !*clients_dir) {
        s_fail(err, errlen, "CURVE needs both %s and %s", S_SECRET_SETTING, S_CLIENTS_SETTING);
        return NULL;
    }
    zcert_t *cert = s_load_secret(secret_cert, S_SECRET_SETTING, err, errlen);
    if (!cert)
        return NULL;
    int n = s_check_clients(clients_dir, err, errlen);
    if (n < 0) {
        zcert_destroy(&cert);
        return NULL;
    }
    curve_t *self = s_new(true, cert);
    self->n_clients = n;
    self->auth = zactor_new(zauth, NULL);
    if (!self->auth || zstr_sendx(self->auth, "CURVE", clients_dir, NULL) != 0 ||
        zsock_wait(self->auth) != 0) {
        s_fail(err, errlen, "cannot start the ZAP authenticator (zauth)");
        curve_destroy(&self);
    }
    return self;
}

curve_t *curve_client_new(const char *server_key, const char *cert, char *err, size_t errlen)
{
    if (!zsys_has_curve()) {
        s_fail(err, errlen, "this libzmq was built without CURVE support");
        return NULL;
    }
    if (!server_key || !*server_key || !cert || !*cert) {
        s_fail(err, errlen, "CURVE needs both %s and %s", S_SERVER_SETTING, S_CERT_SETTING);
        return NULL;
    }
    char key[41];
    if (s_server_key(server_key, key, err, errlen) != 0)
        return NULL;
    zcert_t *own = s_load_secret(cert, S_CERT_SETTING, err, errlen);
    if (!own)
        return NULL;
    curve_t *self = s_new(false, own);
    memcpy(self->server_key, key, sizeof key);
    return self;
}

void curve_destroy(curve_t **self_p)
{
    curve_t *self = *self_p;
    if (!self)
        return;
    zactor_destroy(&self->auth);
    zcert_destroy(&self->cert);
    free(self);
    *self_p = NULL;
}

/* Both or neither of a pair of settings. 0: neither; 1: both; -1: one (said on stderr). */
static int s_pair(const config_opt_t *opts, const char *a, const char *b)
{
    const char *va = config_get(opts, a), *vb = config_get(opts, b);
    bool has_a = va && *va, has_b = vb && *vb;
    if (has_a == has_b)
        return has_a ? 1 : 0;
    fprintf(stderr, "invalid CURVE settings: --%s is set but --%s is not; CURVE needs both (or neither)\n",
            has_a ? a : b, has_a ? b : a);
    return -1;
}

int curve_server_setup(const config_opt_t *opts, curve_t **out)
{
    *out = NULL;
    int on = s_pair(opts, "curve-secret", "curve-clients");
    if (on <= 0)
        return on < 0 ? 2 : 0;
    char err[512];
    *out = curve_server_new(config_get(opts, "curve-secret"), config_get(opts, "curve-clients"), err,
                            sizeof err);
    if (!*out) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    return 0;
}

int curve_client_setup(const config_opt_t *opts, curve_t **out)
{
    *out = NULL;
    int on = s_pair(opts, "curve-server", "curve-cert");
    if (on <= 0)
        return on < 0 ? 2 : 0;
    char err[512];
    *out =
        curve_client_new(config_get(opts, "curve-server"), config_get(opts, "curve-cert"), err, sizeof err);
    if (!*out) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    return 0;
}

int curve_apply(const curve_t *self, zsock_t *sock)
{
    if (!self)
        return 0;
    if (!sock)
        return -1;
    zcert_apply(self->cert, sock);
    if (self->server) {
        zsock_set_zap_domain(sock, S_ZAP_DOMAIN);
        zsock_set_curve_server(sock, 1);
        return zsock_curve_server(sock) == 1 ? 0 : -1;
    }
    zsock_set_curve_serverkey(sock, self->server_key);
    return 0;
}

bool curve_is_server(const curve_t *self)
{
    return self && self->server;
}

const char *curve_public_txt(const curve_t *self)
{
    return self ? zcert_public_txt(self->cert) : "";
}

const char *curve_public_short(const curve_t *self)
{
    return self ? self->short_key : "";
}

int curve_clients(const curve_t *self)
{
    return self ? self->n_clients : 0;
}

curve_watch_t *curve_watch_new(zsock_t *sock)
{
    static atomic_uint seq;
    char endpoint[96];
    snprintf(endpoint, sizeof endpoint, "inproc://curve-watch-%d-%u", (int)getpid(),
             atomic_fetch_add(&seq, 1));
    void *handle = zsock_resolve(sock);
    int events = ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL |
                 ZMQ_EVENT_HANDSHAKE_FAILED_AUTH | ZMQ_EVENT_HANDSHAKE_SUCCEEDED;
    if (!handle || zmq_socket_monitor(handle, endpoint, events) != 0)
        return NULL;
    zsock_t *pair = zsock_new(ZMQ_PAIR);
    if (!pair || zsock_connect(pair, "%s", endpoint) != 0) {
        zsock_destroy(&pair);
        zmq_socket_monitor(handle, NULL, 0);
        return NULL;
    }
    curve_watch_t *self = calloc(1, sizeof *self);
    assert(self);
    self->handle = handle;
    self->pair = pair;
    return self;
}

void curve_watch_destroy(curve_watch_t **self_p)
{
    curve_watch_t *self = *self_p;
    if (!self)
        return;
    zmq_socket_monitor(self->handle, NULL, 0);
    zsock_destroy(&self->pair);
    free(self);
    *self_p = NULL;
}

zsock_t *curve_watch_sock(curve_watch_t *self)
{
    return self ? self->pair : NULL;
}

static void s_describe(uint16_t event, uint32_t value, char *why, size_t size)
{
    if (event == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH)
        snprintf(why, size, "the broker refused this client's CURVE key (ZAP status %u: %s)", (unsigned)value,
                 value == 400 ? "not in its allow-list, --curve-clients" : "authentication failed");
    else if (event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL &&
             value == ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH)
        snprintf(why, size,
                 "security mismatch: one side uses CURVE and the other does not "
                 "(set --curve-server and --curve-cert as the broker requires, or neither)");
    else if (event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL && value == ZMQ_PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC)
        snprintf(why, size, "CURVE keys do not match (is --curve-server the broker's public key?)");
    else if (event == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL)
        snprintf(why, size, "handshake protocol error 0x%x", (unsigned)value);
    else
        snprintf(why, size, "connection closed during the handshake (%s)", strerror((int)value));
}

int curve_watch_next(curve_watch_t *self, char *why, size_t size)
{
    while (self && (zsock_events(self->pair) & ZMQ_POLLIN)) {
        zmsg_t *msg = zmsg_recv(self->pair);
        if (!msg)
            break;
        zframe_t *head = zmsg_first(msg);
        int kind = -1;
        if (head && zframe_size(head) == 6) {
            uint16_t event;
            uint32_t value;
            memcpy(&event, zframe_data(head), 2);
            memcpy(&value, zframe_data(head) + 2, 4);
            if (event == ZMQ_EVENT_HANDSHAKE_SUCCEEDED)
                kind = CURVE_EVENT_OK;
            else {
                kind = event == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL ? CURVE_EVENT_CLOSED : CURVE_EVENT_REFUSED;
                if (why && size)
                    s_describe(event, value, why, size);
            }
        }
        zmsg_destroy(&msg);
        if (kind >= 0)
            return kind;
    }
    return CURVE_EVENT_NONE;
}

int curve_watch_failures(curve_watch_t *self, char *why, size_t size, bool *succeeded)
{
    int failures = 0;
    if (succeeded)
        *succeeded = false;
    char one[256];
    int kind;
    while ((kind = curve_watch_next(self, one, sizeof one)) != CURVE_EVENT_NONE) {
        if (kind == CURVE_EVENT_OK) {
            if (succeeded)
                *succeeded = true;
            continue;
        }
        /* a closed connection mid-handshake may be the broker restarting:
           described, not counted (ZeroMQ retries, and a refusal shows next) */
        if (kind == CURVE_EVENT_REFUSED)
            failures++;
        if (why && size && (kind == CURVE_EVENT_REFUSED || !*why))
            snprintf(why, size, "%s", one);
    }
    return failures;
}

/* --- self-test ------------------------------------------------------------ */

/* Wait up to ms for a failed or successful handshake on watch. 1 failed, 0 succeeded,
   -1 nothing. */
static int s_wait_handshake(curve_watch_t *watch, int ms, char *why, size_t size)
{
    zpoller_t *poller = zpoller_new(curve_watch_sock(watch), NULL);
    int64_t end = zclock_mono() + ms;
    int rc = -1;
    while (rc < 0 && zclock_mono() < end) {
        zpoller_wait(poller, (int)(end - zclock_mono()));
        bool ok = false;
        if (curve_watch_failures(watch, why, size, &ok) > 0)
            rc = 1;
        else if (ok)
            rc = 0;
    }
    zpoller_destroy(&poller);
    return rc;
}

static void s_write(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert(f);
    fputs(text, f);
    fclose(f);
}

void curve_test(bool verbose)
{
    (void)verbose;
    if (!zsys_has_curve()) {
        printf("(curve: libzmq without CURVE, skipped) ");
        return;
    }
    char dir[] = "/tmp/vinted-curve-test-XXXXXX";
    assert(mkdtemp(dir));
    char clients[128], path[192], server_pub[160], server_sec[160], a_sec[160], b_sec[160];
    snprintf(clients, sizeof clients, "%s/clients", dir);
    assert(mkdir(clients, 0700) == 0);
    zcert_t *server = zcert_new(), *a = zcert_new(), *b = zcert_new();
    snprintf(server_pub, sizeof server_pub, "%s/broker", dir);
    snprintf(server_sec, sizeof server_sec, "%s/broker_secret", dir);
    assert(zcert_save(server, server_pub) == 0);
    snprintf(path, sizeof path, "%s/a", dir);
    assert(zcert_save(a, path) == 0);
    snprintf(a_sec, sizeof a_sec, "%s/a_secret", dir);
    snprintf(path, sizeof path, "%s/a", clients);
    assert(zcert_save_public(a, path) == 0); /* a is listed, b is not */
    snprintf(path, sizeof path, "%s/b", dir);
    assert(zcert_save(b, path) == 0);
    snprintf(b_sec, sizeof b_sec, "%s/b_secret", dir);
    snprintf(path, sizeof path, "%s/README", clients);
    s_write(path, "#   not a certificate: no curve section\nnote = \"ignored\"\n");

    char err[512];
    /* half or wrong configurations say what is wrong */
    assert(!curve_client_new(server_pub, NULL, err, sizeof err) && strstr(err, "--curve-cert"));
    assert(!curve_server_new(server_sec, "", err, sizeof err) && strstr(err, "--curve-clients"));
    snprintf(path, sizeof path, "%s/nope", dir);
    assert(!curve_client_new(server_pub, path, err, sizeof err) && strstr(err, "--curve-cert") &&
           strstr(err, "No such file"));
    assert(!curve_client_new(path, a_sec, err, sizeof err) && strstr(err, "--curve-server"));
    assert(!curve_client_new("short", a_sec, err, sizeof err) && strstr(err, "Z85"));
    assert(!curve_server_new(server_sec, path, err, sizeof err) && strstr(err, "--curve-clients"));
    assert(!curve_server_new(server_sec, server_pub, err, sizeof err) && strstr(err, "not a directory"));
    snprintf(path, sizeof path, "%s/README", clients);
    assert(!curve_client_new(server_pub, path, err, sizeof err) && strstr(err, "not a CURVE certificate"));
    /* a public certificate alone (no NAME_secret beside it) holds no secret key */
    snprintf(path, sizeof path, "%s/a", clients);
    assert(!curve_client_new(server_pub, path, err, sizeof err) && strstr(err, "no secret key"));

    /* the same key twice in the allow-list would make zauth abort: refused at start */
    snprintf(path, sizeof path, "%s/a-copy", clients);
    assert(zcert_save_public(a, path) == 0);
    assert(!curve_server_new(server_sec, clients, err, sizeof err) && strstr(err, "same key"));
    unlink(path);

    curve_t *srv = curve_server_new(server_sec, clients, err, sizeof err);
    assert(srv && curve_is_server(srv) && curve_clients(srv) == 1);
    assert(strcmp(curve_public_txt(srv), zcert_public_txt(server)) == 0);
    assert(strlen(curve_public_short(srv)) == 8);
    /* the server key as a file or as Z85 text */
    curve_t *ca = curve_client_new(server_pub, a_sec, err, sizeof err);
    curve_t *ca_txt = curve_client_new(zcert_public_txt(server), a_sec, err, sizeof err);
    curve_t *cb = curve_client_new(server_pub, b_sec, err, sizeof err);
    assert(ca && ca_txt && cb && !curve_is_server(ca));
    /* the secret keys are registered: no log line can show them */
    char line[128];
    snprintf(line, sizeof line, "k=%s", zcert_secret_txt(a));
    size_t n = redact_text(line, strlen(line));
    line[n] = '\0';
    assert(strcmp(line, "k=***") == 0);

    zsock_t *router = zsock_new(ZMQ_ROUTER);
    assert(curve_apply(srv, router) == 0);
    curve_watch_t *server_watch = curve_watch_new(router);
    assert(server_watch);
    int port = zsock_bind(router, "tcp://127.0.0.1:*");
    assert(port > 0);
    curve_t *clients_in_turn[] = {ca, ca_txt, cb, NULL};
    for (int i = 0; i < 4; i++) {
        zsock_t *dealer = zsock_new(ZMQ_DEALER);
        zsock_set_linger(dealer, 0);
        assert(curve_apply(clients_in_turn[i], dealer) == 0);
        curve_watch_t *watch = curve_watch_new(dealer);
        assert(watch);
        assert(zsock_connect(dealer, "tcp://127.0.0.1:%d", port) == 0);
        zstr_send(dealer, "hello");
        char why[256] = "";
        int got = s_wait_handshake(watch, 3000, why, sizeof why);
        zpoller_t *poller = zpoller_new(router, NULL);
        bool delivered = zpoller_wait(poller, i < 2 ? 2000 : 300) == router;
        zpoller_destroy(&poller);
        if (i < 2) { /* listed: the handshake succeeds and the frame arrives */
            assert(got == 0 && delivered);
            zmsg_t *msg = zmsg_recv(router);
            assert(msg && zmsg_size(msg) == 2);
            zmsg_destroy(&msg);
        }
        else if (i == 2) { /* valid but unlisted key: refused, nothing arrives */
            assert(got == 1 && strstr(why, "refused") && !delivered);
        }
        else { /* no CURVE at all against a CURVE server */
            assert(got == 1 && strstr(why, "mismatch") && !delivered);
        }
        curve_watch_destroy(&watch);
        zsock_destroy(&dealer);
    }
    /* the server side reads the events one by one: each refusal with its own reason */
    int ok = 0, unlisted = 0, mismatch = 0;
    int64_t until = zclock_mono() + 3000;
    while ((ok < 2 || !unlisted || !mismatch) && zclock_mono() < until) {
        char why[256];
        int kind = curve_watch_next(server_watch, why, sizeof why);
        if (kind == CURVE_EVENT_NONE)
            zclock_sleep(10);
        else if (kind == CURVE_EVENT_OK)
            ok++;
        else if (kind == CURVE_EVENT_REFUSED) {
            unlisted += strstr(why, "allow-list") != NULL;
            mismatch += strstr(why, "mismatch") != NULL;
        }
    }
    assert(ok == 2 && unlisted == 1 && mismatch >= 1);
    curve_watch_destroy(&server_watch);
    zsock_destroy(&router);
    curve_destroy(&ca);
    curve_destroy(&ca_txt);
    curve_destroy(&cb);
    curve_destroy(&srv);
    assert(srv == NULL);
    curve_apply(NULL, NULL); /* off: nothing to do */
    zcert_destroy(&server);
    zcert_destroy(&a);
    zcert_destroy(&b);
    redact_clear();
    zdir_t *zdir = zdir_new(dir, NULL);
    zdir_remove(zdir, true);
    zdir_destroy(&zdir);
}
