/*  size.h - classify and normalize a Vinted size label ("S / 36", "EU 42,5",
    "W32 | L34", "152 cm / 12 lat", "Taille unique") into a kind and a value
    that group equal sizes across sites and languages. The raw label is kept
    by the caller; this only adds the parsed view.

    kind     value examples
    letter   "XS", "M", "XXL" (2XL), "S-M" (S/M)      letter sizes win over numbers beside them
    eu       "42", "42.5", "36-38"                   numeric clothing/shoe sizes, EU/FR/DE prefix ok
    waist    "W32 L34", "W30"                        jeans
    age      "10y", "3-6m", "0-1m" (up to 1 month), "140cm" (height only)
    one      "one"                                   one size, in any of the site languages
    other    the trimmed label                       anything else (UK 8, 95B, ...)
*/
#ifndef SIZE_H_INCLUDED
#define SIZE_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>

/* A value buffer of this size always holds the normalized value (not "other"). */
#define SIZE_VALUE_MAX 64

/* Parse raw. Returns the kind (a static string) and writes the value into
   value (value_len >= 1; a longer "other" label is cut at a UTF-8 boundary).
   Returns NULL and an empty value when raw is NULL or blank. */
const char *size_parse(const char *raw, char *value, size_t value_len);

void size_test(bool verbose);

#endif
