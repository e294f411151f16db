/*  fuzz_text.c - libFuzzer harness for the transformer's small text parsers:
    JSON-LD blocks in HTML (ldjson.h), money amounts and currencies (money.h),
    size labels (size.h), strict UTF-8 (utf8.h) and condition labels.

    Input: the first byte chooses the parser (modulo 6), the rest is the text.
    Each call also checks the parser's promise: amounts within numeric(12,2),
    a size value that is UTF-8 when its label was, a currency of 3 capitals,
    UTF-8 validation that agrees between its two entry points.
*/
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "workers/transformer/ldjson.h"
#include "workers/transformer/money.h"
#include "workers/transformer/parse.h"
#include "workers/transformer/size.h"
#include "common/utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void s_fail(const char *what)
{
    fprintf(stderr, "fuzz_text: %s\n", what);
    abort();
}

static void s_ldjson(const char *text, size_t len)
{
    const cJSON *node = NULL;
    char why[256] = "";
    cJSON *block = ldjson_find(text, len, "Product", &node, why, sizeof why);
    if (block && (!node || !ldjson_is_type(node, "Product")))
        s_fail("ldjson_find returned a node that is not a Product");
    if (!block && !why[0])
        s_fail("ldjson_find failed without a reason");
    cJSON_Delete(block);
}

static void s_amount(const char *text)
{
    int64_t cents = 0;
    const char *why = NULL;
    if (money_parse_cents(text, &cents, &why) == 0) {
        if (cents < -MONEY_MAX_CENTS || cents > MONEY_MAX_CENTS)
            s_fail("an amount beyond numeric(12,2) was accepted");
    }
    else if (!why)
        s_fail("an amount was refused without a reason");
}

static void s_double(const uint8_t *data, size_t size)
{
    double v = 0;
    memcpy(&v, data, size < sizeof v ? size : sizeof v);
    int64_t cents = 0;
    const char *why = NULL;
    if (money_double_cents(v, &cents, &why) == 0) {
        if (cents < -MONEY_MAX_CENTS || cents > MONEY_MAX_CENTS)
            s_fail("a double beyond numeric(12,2) was accepted");
    }
    else if (!why)
        s_fail("a double was refused without a reason");
}

static void s_size(const char *text)
{
    char value[SIZE_VALUE_MAX];
    const char *kind = size_parse(text, value, sizeof value);
    if (strlen(value) >= sizeof value)
        s_fail("size value overflows");
    if (kind && utf8_valid_str(text) && !utf8_valid_str(value))
        s_fail("a UTF-8 size label gave a value that is not UTF-8");
    if (!kind && value[0])
        s_fail("no kind but a value");
}

static void s_currency(const char *text)
{
    char code[4] = "";
    if (money_currency(text, code)) {
        if (strlen(code) != 3)
            s_fail("a currency code that is not 3 letters");
        for (int i = 0; i < 3; i++)
            if (code[i] < 'A' || code[i] > 'Z')
                s_fail("a currency code that is not capitals");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    size_t len = size - 1;
    char *text = malloc(len + 1);
    if (!text)
        return 0;
    memcpy(text, data + 1, len);
    text[len] = 0;
    switch (data[0] % 6) {
    case 0:
        s_ldjson(text, len);
        break;
    case 1:
        s_amount(text);
        break;
    case 2:
        s_double(data + 1, len);
        break;
    case 3:
        s_size(text);
        break;
    case 4:
        s_currency(text);
        break;
    default: {
        bool nul = memchr(text, 0, len) != NULL;
        if (!nul && utf8_valid(text, len) != utf8_valid_str(text))
            s_fail("utf8_valid and utf8_valid_str disagree");
        if (nul && utf8_valid(text, len))
            s_fail("utf8_valid accepted a NUL");
        (void)parse_is_condition(text, len);
        break;
    }
    }
    free(text);
    return 0;
}
