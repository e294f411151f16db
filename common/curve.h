/*  curve.h - CURVE security on the ZeroMQ sockets between the broker, the workers
    and vinted-ctl: every peer proves its key, every frame is encrypted.

    Keys are czmq certificates in zcert_save format: a public file NAME and a secret
    file NAME_secret (mode 0600), as `vinted-ctl keygen` writes them.

    - The broker (server) has a key pair, VINTED_CURVE_SECRET, and a directory of the
      client public certificates it admits, VINTED_CURVE_CLIENTS. A zauth actor
      answers the ZAP requests of both broker sockets from that directory; a
      certificate added to or removed from it counts from the next handshake.
    - A worker or vinted-ctl (client) has its own key pair, VINTED_CURVE_CERT, and the
      broker's public key, VINTED_CURVE_SERVER (its certificate file, or the 40
      characters of Z85).
    With neither setting, everything is plain ZeroMQ, as before. With one of a pair
    only, the program says which one is missing and exits 2.

        curve_t *curve = NULL;
        int rc = curve_client_setup(opts, &curve);  // opts include CURVE_CLIENT_CONFIG_OPTS
        if (rc != 0) return rc;                     // 2: said on stderr
        zsock_t *sock = zsock_new(ZMQ_DEALER);
        curve_apply(curve, sock);                   // before connect or bind; NULL: plain
        ...
        curve_destroy(&curve);                      // after the sockets

    A refused handshake is silent in ZeroMQ: the client just tries again. A
    curve_watch_t on the client socket reports it (the broker refused our key, or
    one side uses CURVE and the other not), so that it can be said once, clearly.

    Secret keys never reach a log: they are registered with redact (redact.h), and
    only the first characters of public keys are shown.
*/
#ifndef CURVE_H_INCLUDED
#define CURVE_H_INCLUDED

#include <czmq.h>
#include <stdbool.h>

#include "common/config.h"

typedef struct _curve_t curve_t;
typedef struct _curve_watch_t curve_watch_t;

/* The two config rows of the broker (before the { NULL } row). */
/* clang-format off */
#define CURVE_SERVER_CONFIG_OPTS                                                                        \
    { "curve-secret", "VINTED_CURVE_SECRET", "",                                                        \
      "CURVE: the broker's secret certificate file (NAME_secret from vinted-ctl keygen); with "         \
      "--curve-clients, both sockets require CURVE (empty: plain ZeroMQ)", NULL },                      \
    { "curve-clients", "VINTED_CURVE_CLIENTS", "",                                                      \
      "CURVE: directory of the client public certificates admitted (the allow-list)", NULL }

/* The two config rows of a worker or vinted-ctl. */
#define CURVE_CLIENT_CONFIG_OPTS                                                                        \
    { "curve-server", "VINTED_CURVE_SERVER", "",                                                        \
      "CURVE: the broker's public certificate file, or its Z85 public key (empty: plain ZeroMQ)",       \
      NULL },                                                                                           \
    { "curve-cert", "VINTED_CURVE_CERT", "",                                                            \
      "CURVE: this program's secret certificate file (NAME_secret from vinted-ctl keygen)", NULL }
/* clang-format on */

/* Broker side: own key pair from secret_cert, allow-list from clients_dir; starts the
   zauth actor. NULL with the reason in err. */
curve_t *curve_server_new(const char *secret_cert, const char *clients_dir, char *err, size_t errlen);
/* Client side: server_key is the broker's public certificate file or Z85 key; cert our
   secret certificate file. NULL with the reason in err. */
curve_t *curve_client_new(const char *server_key, const char *cert, char *err, size_t errlen);
void curve_destroy(curve_t **self_p);

/* Read the settings; *out is NULL when CURVE is off. 0 ok; 2 (bad or half configured:
   message on stderr naming the setting). */
int curve_server_setup(const config_opt_t *opts, curve_t **out);
int curve_client_setup(const config_opt_t *opts, curve_t **out);

/* Make sock a CURVE server or client with these keys (before bind/connect).
   NULL self: nothing to do. 0 ok, -1 failed. */
int curve_apply(const curve_t *self, zsock_t *sock);
bool curve_is_server(const curve_t *self);
/* Our public key, Z85; the first 8 characters for logs. */
const char *curve_public_txt(const curve_t *self);
const char *curve_public_short(const curve_t *self);
/* Server: client certificates in the allow-list when it was loaded. */
int curve_clients(const curve_t *self);

/* Watch a socket's handshakes (call in the socket's thread, destroy before the socket).
   NULL if monitoring cannot start. */
curve_watch_t *curve_watch_new(zsock_t *sock);
void curve_watch_destroy(curve_watch_t **self_p);
/* Readable when events wait (for a poller). */
zsock_t *curve_watch_sock(curve_watch_t *self);
/* What curve_watch_next read. */
enum {
    CURVE_EVENT_NONE = -1,   /* nothing waits */
    CURVE_EVENT_OK = 0,      /* a handshake succeeded */
    CURVE_EVENT_REFUSED = 1, /* a handshake was refused, described in why */
    CURVE_EVENT_CLOSED = 2,  /* the connection closed during the handshake, described in why */
};
/* Read one waiting handshake event without blocking, so that each refusal can be
   told with its own reason. */
int curve_watch_next(curve_watch_t *self, char *why, size_t size);
/* Read the waiting events without blocking: the handshakes refused since the last
   call (the peer refused our key, or one side uses CURVE and the other not), the
   last one described in why; succeeded is set if one succeeded. A connection closed
   during the handshake is not counted (ZeroMQ tries again; it may be a restart)
   but is described in why when nothing else is, and why must start empty. */
int curve_watch_failures(curve_watch_t *self, char *why, size_t size, bool *succeeded);

void curve_test(bool verbose);

#endif
