/*  redact.h - keeps secrets out of logs and error messages.

    Every secret a program reads (the database password, the S3 keys, CURVE
    secret keys) is registered once, at start, before other threads run; from
    then on every log line passes through redact_text, which writes "***" in
    place of each registered value. config_parse registers the secret settings
    itself (common/config.h), pgconf.c the password of a connection string,
    curve.c the CURVE secret keys it loads.

    Values shorter than REDACT_MIN_LEN bytes are not registered: masking every
    "ab" in a log would destroy it, and such a secret protects nothing anyway.
*/
#ifndef REDACT_H_INCLUDED
#define REDACT_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>

#define REDACT_MIN_LEN 4
#define REDACT_MAX 32 /* secrets registered per process; more are refused */

/* Register a secret value (copied). 0 ok or ignored (NULL, short, already known), -1 full. */
int redact_add(const char *secret);
/* Mask every registered secret in text[0..len) in place ("***"); the new length
   (never more than len; nothing is written past it, no NUL added). */
size_t redact_text(char *text, size_t len);
/* Forget every registered secret (wiping the copies). */
void redact_clear(void);

void redact_test(bool verbose);

#endif
