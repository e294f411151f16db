/*  jsontext.h - a response body made readable by cJSON as a whole when a few
    of its strings are broken. cJSON silently cuts a string short at a NUL (a
    raw one, or the escape \u0000) and refuses a whole document for a single
    unpaired UTF-16 surrogate escape (\ud800). Each of these becomes one 0xFF
    byte: invalid UTF-8, so whoever validates that string still rejects it
    (the transformer quarantines the item: text_invalid), while the rest of the
    document reads as it was sent. The fetcher (to page on) and the
    transformer (to parse) read every body through this.
*/
#ifndef JSONTEXT_H_INCLUDED
#define JSONTEXT_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>

/* True if the len bytes at s hold a NUL or an escape cJSON would mangle or refuse. */
bool jsontext_needs_repair(const char *s, size_t len);

/* Copy the len bytes at s into out (room for len bytes), each NUL and each bad
   escape replaced by 0xFF. Returns the new length (at most len). */
size_t jsontext_repair(const char *s, size_t len, char *out);

void jsontext_test(bool verbose);

#endif
