/*  utf8.h - strict UTF-8 validation for text the transformer keeps verbatim
    (titles, brands, logins...): no overlong forms, no surrogates, nothing
    above U+10FFFF, no NUL inside the given length.
*/
#ifndef UTF8_H_INCLUDED
#define UTF8_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>

/* True if the len bytes at s are well-formed UTF-8 without NUL. */
bool utf8_valid(const char *s, size_t len);

/* The same for a NUL-terminated string (NULL is valid: nothing to check). */
bool utf8_valid_str(const char *s);

void utf8_test(bool verbose);

#endif
