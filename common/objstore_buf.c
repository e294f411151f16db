/*  objstore_buf.c - the growable byte buffer of objstore_buf.h: doubles its
    capacity (from 256 bytes) as it grows. */
#include "common/objstore_buf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Append n bytes (keeps a NUL after them). 0 ok, -1 out of memory. */
int objstore_buf_add(objstore_buf_t *b, const void *p, size_t n)
{
    if (b->len + n + 1 < b->len)
        return -1;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1) {
            if (cap > SIZE_MAX / 2)
                return -1;
            cap *= 2;
        }
        char *data = realloc(b->data, cap);
        if (!data)
            return -1;
        b->data = data;
        b->cap = cap;
    }
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int objstore_buf_str(objstore_buf_t *b, const char *s)
{
    return objstore_buf_add(b, s, strlen(s));
}

void objstore_buf_free(objstore_buf_t *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}
