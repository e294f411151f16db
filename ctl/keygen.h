/*  keygen.h - `vinted-ctl keygen --out DIR NAME`: a new CURVE key pair as czmq
    certificates, DIR/NAME (public, mode 0644: the broker's allow-list, or the
    workers' --curve-server) and DIR/NAME_secret (mode 0600: the owner's
    --curve-cert or the broker's --curve-secret). Existing files are never
    overwritten.

        char key[41], err[256];
        if (keygen_write("keys", "fetcher", key, err, sizeof err) != 0) ... err ...
*/
#ifndef CTL_KEYGEN_H_INCLUDED
#define CTL_KEYGEN_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>

/* NAME: 1 to 64 of A-Z a-z 0-9 . _ -, not starting with "." nor ending in "_secret".
   DIR is created (mode 0700) when missing. 0 and the public key in Z85 (41 bytes
   with the NUL), or -1 with the reason in err. */
int keygen_write(const char *dir, const char *name, char public_txt[41], char *err, size_t errlen);

void keygen_test(bool verbose);

#endif
