/*  utf8.h - strict UTF-8 validation, one rule for the whole tree: the text the
    transformer keeps verbatim (titles, brands, logins...) and the object keys the
    object store accepts. No overlong forms, no surrogates, nothing above U+10FFFF,
    no NUL inside the given length.
*/
#ifndef UTF8_H_INCLUDED
#define UTF8_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>

/* Length (1..4) of the well-formed sequence that starts at s, at most n bytes
   read; 0 if it is ill-formed or cut short (n must be at least 1). NUL is a
   well-formed one-byte sequence here: the callers decide whether they take it. */
size_t utf8_seq_len(const char *s, size_t n);

/* True if the len bytes at s are well-formed UTF-8 without NUL. */
bool utf8_valid(const char *s, size_t len);

/* The same for a NUL-terminated string (NULL is valid: nothing to check). */
bool utf8_valid_str(const char *s);

void utf8_test(bool verbose);

#endif
