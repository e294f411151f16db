/*  objstore_buf.h - a growable byte buffer for the object store's back ends: a
    file read into memory, an S3 answer's body, a URL being built, decoded XML text.
    It keeps a NUL after its bytes, so text in it is a C string.

        objstore_buf_t b = { 0 };
        if (objstore_buf_str(&b, "http://") || objstore_buf_add(&b, host, n)) ...  // -1: out of memory
        use(b.data, b.len);
        objstore_buf_free(&b);
*/
#ifndef OBJSTORE_BUF_H_INCLUDED
#define OBJSTORE_BUF_H_INCLUDED

#include <stddef.h>

typedef struct {
    char *data; /* NULL until something (even "") is added */
    size_t len;
    size_t cap;
} objstore_buf_t;

/* Append n bytes (keeps a NUL after them). 0 ok, -1 out of memory. */
int objstore_buf_add(objstore_buf_t *b, const void *p, size_t n);
/* Append a C string. 0 ok, -1 out of memory. */
int objstore_buf_str(objstore_buf_t *b, const char *s);
/* Free the bytes; b is empty and usable again. */
void objstore_buf_free(objstore_buf_t *b);

#endif
