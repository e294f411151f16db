/*  objstore_backend.c - the helpers of objstore_backend.h: error messages, the key
    rules and the key list. See objstore_backend.h.
*/
#include "common/objstore_backend.h"
#include "common/utf8.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int objstore_backend_fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err && errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

const char *objstore_backend_shown(const char *text, char *buf, size_t size)
{
    size_t n = 0;
    for (const char *p = text; p && *p && n + 4 < size && n < 120; p++)
        buf[n++] = (unsigned char) *p < 0x20 || *p == 0x7f ? '?' : *p;
    if (text && strlen(text) > n && n + 4 < size) {
        memcpy(buf + n, "...", 3);
        n += 3;
    }
    buf[n] = '\0';
    return buf;
}

bool objstore_backend_starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

int objstore_backend_check_key(const char *key, bool is_prefix, char *err, size_t errlen)
{
    char shown[160];
    const char *what = is_prefix ? "prefix" : "key";
    if (!key)
        return is_prefix ? 0 : objstore_backend_fail(err, errlen, "no key");
    size_t len = strlen(key);
    if (len == 0)
        return is_prefix ? 0 : objstore_backend_fail(err, errlen, "empty key");
    if (len > OBJSTORE_KEY_MAX)
        return objstore_backend_fail(err, errlen, "bad %s \"%s\": longer than %d bytes", what,
                                     objstore_backend_shown(key, shown, sizeof shown), OBJSTORE_KEY_MAX);
    if (key[0] == '/')
        return objstore_backend_fail(err, errlen, "bad %s \"%s\": starts with \"/\"", what,
                                     objstore_backend_shown(key, shown, sizeof shown));
    const unsigned char *p = (const unsigned char *) key;
    for (size_t i = 0; i < len;) {
        if (p[i] < 0x20 || p[i] == 0x7f)
            return objstore_backend_fail(err, errlen, "bad %s \"%s\": control character 0x%02x at byte %zu",
                                         what, objstore_backend_shown(key, shown, sizeof shown), p[i], i);
        size_t n = utf8_seq_len(key + i, len - i);
        if (n == 0)
            return objstore_backend_fail(err, errlen, "bad %s \"%s\": invalid UTF-8 at byte %zu", what,
                                         objstore_backend_shown(key, shown, sizeof shown), i);
        i += n;
    }
    const char *seg = key;
    while (true) {
        const char *slash = strchr(seg, '/');
        size_t n = slash ? (size_t) (slash - seg) : strlen(seg);
        bool last = slash == NULL;
        if (!(is_prefix && last)) {
            if (n == 0)
                return objstore_backend_fail(err, errlen,
                                             "bad %s \"%s\": empty segment (\"//\" or a trailing \"/\")", what,
                                             objstore_backend_shown(key, shown, sizeof shown));
            if ((n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.'))
                return objstore_backend_fail(err, errlen, "bad %s \"%s\": \".\" or \"..\" segment", what,
                                             objstore_backend_shown(key, shown, sizeof shown));
        }
        if (strncmp(seg, OBJSTORE_TMP_PREFIX, strlen(OBJSTORE_TMP_PREFIX)) == 0 && n >= strlen(OBJSTORE_TMP_PREFIX))
            return objstore_backend_fail(err, errlen, "bad %s \"%s\": segments starting with \"%s\" are reserved",
                                         what, objstore_backend_shown(key, shown, sizeof shown),
                                         OBJSTORE_TMP_PREFIX);
        if (last)
            break;
        seg = slash + 1;
    }
    return 0;
}

int objstore_backend_entries_add(objstore_backend_entries_t *e, char *key, int64_t size)
{
    if (e->n == e->cap) {
        size_t cap = e->cap ? e->cap * 2 : 64;
        objstore_backend_entry_t *v = realloc(e->v, cap * sizeof *v);
        if (!v)
            return -1;
        e->v = v;
        e->cap = cap;
    }
    e->v[e->n].key = key;
    e->v[e->n].size = size;
    e->n++;
    return 0;
}

void objstore_backend_entries_free(objstore_backend_entries_t *e)
{
    for (size_t i = 0; i < e->n; i++)
        free(e->v[i].key);
    free(e->v);
    e->v = NULL;
    e->n = e->cap = 0;
}
