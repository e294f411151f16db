/*  money.h - exact money for the transformer: decimal text to int64 cents
    (scale 2, the range of numeric(12,2)) and the ISO 4217 currency list.
    No float ever holds an amount; a JSON number is first turned back into
    the shortest decimal text that reproduces it, then parsed like a string.
*/
#ifndef MONEY_H_INCLUDED
#define MONEY_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Largest amount numeric(12,2) holds, in cents: 9999999999.99 */
#define MONEY_MAX_CENTS INT64_C(999999999999)

/* Parse "20", "20.5", "-3.90", "1.2e1", "20.500" into cents. Leading and trailing
   blanks are allowed; nothing else. More than two decimals that are not zeros,
   or an amount beyond numeric(12,2), is an error. 0 ok; -1 with a reason in *why
   (a static string). Negative amounts parse (the caller decides if they are valid). */
int money_parse_cents(const char *text, int64_t *cents, const char **why);

/* The same for a number that arrived as a JSON number (a double). */
int money_double_cents(double value, int64_t *cents, const char **why);

/* Write the 3-letter uppercase code of text into code (4 bytes) if text is a
   known ISO 4217 currency, in upper or lower case. true if known. */
bool money_currency(const char *text, char code[4]);

void money_test(bool verbose);

#endif
