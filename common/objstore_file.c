/*  objstore_file.c - the file:// back end of objstore_file.h.

    A key is a path under the directory; a put writes a temp file
    (".objstore-tmp-XXXXXX") next to the target, fsyncs it and renames it
    over the target, so readers see the old or the new object, never half.
    A list walks only the directories that can hold keys under the prefix, leaves
    out temp files and names that are no valid keys, and sorts what it found.
*/
#include "common/objstore_file.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "common/log.h"
#include "common/objstore.h"
#include "common/objstore_buf.h"

typedef struct {
    char *root; /* the directory, without trailing "/" ("/" stays "/") */
    char *description;
} objstore_file_t;

/* ------------------------------------------------------------------------- */
/* open and close */

static int s_file_open(void *impl, const char *path, const objstore_env_t *env, char *err, size_t errlen)
{
    objstore_file_t *self = impl;
    (void) env; /* a directory needs no settings */
    /* file://./DIR is DIR under the working directory (the programs' default) */
    char cwd_path[4096];
    if (strncmp(path, "./", 2) == 0) {
        char cwd[2048];
        if (!getcwd(cwd, sizeof cwd))
            return objstore_backend_fail(err, errlen, "file store %s: cannot read the working directory", path);
        snprintf(cwd_path, sizeof cwd_path, "%s/%s", strcmp(cwd, "/") == 0 ? "" : cwd, path + 2);
        path = cwd_path;
    }
    if (path[0] != '/')
        return objstore_backend_fail(err, errlen,
                                     "file store URL needs an absolute path, as in file:///var/raw, or one under the "
                                     "working directory, as in file://./var/raw (got file://%s)",
                                     path);
    size_t n = strlen(path);
    while (n > 1 && path[n - 1] == '/')
        n--;
    self->root = strndup(path, n);
    if (!self->root)
        return objstore_backend_fail(err, errlen, "out of memory");
    struct stat st;
    if (stat(self->root, &st) == 0 && !S_ISDIR(st.st_mode))
        return objstore_backend_fail(err, errlen, "file store %s exists and is not a directory", self->root);
    if (asprintf(&self->description, "file://%s", self->root) < 0) {
        self->description = NULL;
        return objstore_backend_fail(err, errlen, "out of memory");
    }
    return 0;
}

static void s_file_close(void *impl)
{
    objstore_file_t *self = impl;
    free(self->description);
    free(self->root);
}

static const char *s_file_describe(void *impl)
{
    return ((objstore_file_t *) impl)->description;
}

/* ------------------------------------------------------------------------- */
/* the operations: the store comes as the table's void *, which converts to
   objstore_file_t * where it is passed on */

static char *s_file_path(objstore_file_t *self, const char *key)
{
    char *path = NULL;
    if (asprintf(&path, "%s%s%s", self->root, strcmp(self->root, "/") == 0 ? "" : "/", key) < 0)
        return NULL;
    return path;
}

/* mkdir -p dir (mode 0755). */
static int s_mkdirs(char *dir, char *err, size_t errlen)
{
    struct stat st;
    if (stat(dir, &st) == 0 && S_ISDIR(st.st_mode))
        return 0;
    for (char *p = dir + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char c = *p;
            *p = '\0';
            int rc = mkdir(dir, 0755);
            int e = errno;
            if (rc != 0 && e == EEXIST && (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))) {
                *p = c;
                return objstore_backend_fail(err, errlen, "cannot create directory %.*s: a file of that name exists",
                                             (int) (p - dir), dir);
            }
            if (rc != 0 && e != EEXIST) {
                int r = objstore_backend_fail(err, errlen, "cannot create directory %s: %s", dir, strerror(e));
                *p = c;
                return r;
            }
            *p = c;
            if (c == '\0')
                break;
        }
    }
    return 0;
}

static int s_file_put(void *self, const char *key, const void *data, size_t len, const char *content_type, char *err,
                      size_t errlen)
{
    (void) content_type; /* a file has none */
    char *path = s_file_path(self, key);
    char *tmp = NULL;
    int fd = -1;
    int rc = -1;
    if (!path) {
        objstore_backend_fail(err, errlen, "out of memory");
        goto done;
    }
    char *slash = strrchr(path, '/');
    *slash = '\0';
    if (s_mkdirs(path, err, errlen)) {
        *slash = '/';
        goto done;
    }
    if (asprintf(&tmp, "%s/%sXXXXXX", path, OBJSTORE_TMP_PREFIX) < 0) {
        tmp = NULL;
        *slash = '/';
        objstore_backend_fail(err, errlen, "out of memory");
        goto done;
    }
    *slash = '/';
    fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) {
        objstore_backend_fail(err, errlen, "put %s: cannot create a temp file in %.*s: %s", key,
                              (int) (slash - path), path, strerror(errno));
        goto done;
    }
    if (fchmod(fd, 0644) != 0) {
        objstore_backend_fail(err, errlen, "put %s: fchmod %s: %s", key, tmp, strerror(errno));
        goto done;
    }
    const char *p = data;
    size_t left = len;
    while (left > 0) {
        ssize_t n = write(fd, p, left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            objstore_backend_fail(err, errlen, "put %s: write %s: %s", key, tmp, strerror(errno));
            goto done;
        }
        p += n;
        left -= (size_t) n;
    }
    if (fsync(fd) != 0) {
        objstore_backend_fail(err, errlen, "put %s: fsync %s: %s", key, tmp, strerror(errno));
        goto done;
    }
    int c = close(fd);
    fd = -1;
    if (c != 0) {
        objstore_backend_fail(err, errlen, "put %s: close %s: %s", key, tmp, strerror(errno));
        goto done;
    }
    if (rename(tmp, path) != 0) {
        objstore_backend_fail(err, errlen, "put %s: rename to %s: %s%s", key, path, strerror(errno),
                              errno == EISDIR ? " (the key is a directory: other keys start with it and a \"/\")"
                                              : "");
        goto done;
    }
    rc = 0;
done:
    if (fd >= 0)
        close(fd);
    if (rc != 0 && tmp)
        unlink(tmp);
    free(tmp);
    free(path);
    return rc;
}

static int s_file_get(void *self, const char *key, uint8_t **data, size_t *len, char *err, size_t errlen)
{
    char *path = s_file_path(self, key);
    if (!path)
        return objstore_backend_fail(err, errlen, "out of memory");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        int rc = e == ENOENT || e == ENOTDIR
                     ? 1
                     : objstore_backend_fail(err, errlen, "get %s: open %s: %s", key, path, strerror(e));
        free(path);
        return rc;
    }
    struct stat st;
    if (fstat(fd, &st) != 0)
        st.st_mode = 0;
    if (!S_ISREG(st.st_mode)) {
        int rc = S_ISDIR(st.st_mode)
                     ? 1
                     : objstore_backend_fail(err, errlen, "get %s: %s is not a regular file", key, path);
        close(fd);
        free(path);
        return rc;
    }
    objstore_buf_t b = { 0 };
    int rc = objstore_buf_add(&b, "", 0);
    char chunk[65536];
    while (rc == 0) {
        ssize_t n = read(fd, chunk, sizeof chunk);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            rc = objstore_backend_fail(err, errlen, "get %s: read %s: %s", key, path, strerror(errno));
        else if (n == 0)
            break;
        else if (objstore_buf_add(&b, chunk, (size_t) n))
            rc = objstore_backend_fail(err, errlen, "get %s: out of memory", key);
    }
    if (rc == 0 && b.data == NULL)
        rc = objstore_backend_fail(err, errlen, "get %s: out of memory", key);
    close(fd);
    free(path);
    if (rc != 0) {
        objstore_buf_free(&b);
        return rc;
    }
    *data = (uint8_t *) b.data;
    *len = b.len;
    return 0;
}

static int s_file_exists(void *self, const char *key, int64_t *size, char *err, size_t errlen)
{
    char *path = s_file_path(self, key);
    if (!path)
        return objstore_backend_fail(err, errlen, "out of memory");
    struct stat st;
    int rc;
    if (stat(path, &st) != 0)
        rc = errno == ENOENT || errno == ENOTDIR
                 ? 0
                 : objstore_backend_fail(err, errlen, "exists %s: stat %s: %s", key, path, strerror(errno));
    else if (S_ISREG(st.st_mode)) {
        rc = 1;
        if (size)
            *size = (int64_t) st.st_size;
    }
    else
        rc = 0;
    free(path);
    return rc;
}

/* Collect the keys under dir (whose key prefix is dirkey: "" or "a/b/") that start
   with prefix and come after start_after. Descends only into directories that can
   hold such keys. */
static int s_file_walk(const char *dir, const char *dirkey, const char *prefix, const char *start_after,
                       objstore_backend_entries_t *out, char *err, size_t errlen)
{
    DIR *d = opendir(dir);
    if (!d) {
        if (errno == ENOENT || errno == ENOTDIR)
            return 0;
        return objstore_backend_fail(err, errlen, "list: opendir %s: %s", dir, strerror(errno));
    }
    int rc = 0;
    size_t plen = strlen(prefix);
    struct dirent *de;
    while (rc == 0) {
        errno = 0;
        de = readdir(d);
        if (!de) {
            if (errno != 0)
                rc = objstore_backend_fail(err, errlen, "list: readdir %s: %s", dir, strerror(errno));
            break;
        }
        const char *name = de->d_name;
        if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0
            || objstore_backend_starts_with(name, OBJSTORE_TMP_PREFIX))
            continue;
        char *key = NULL;
        if (asprintf(&key, "%s%s", dirkey, name) < 0) {
            rc = objstore_backend_fail(err, errlen, "out of memory");
            break;
        }
        struct stat st;
        if (fstatat(dirfd(d), name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
            if (errno != ENOENT) /* removed meanwhile: not there */
                rc = objstore_backend_fail(err, errlen, "list: stat %s/%s: %s", dir, name, strerror(errno));
            free(key);
            continue;
        }
        size_t klen = strlen(key);
        if (S_ISDIR(st.st_mode)) {
            /* keys inside start with key + "/": wanted when that and the prefix
               agree on their common length (one is a prefix of the other) */
            bool wanted = strncmp(key, prefix, plen < klen ? plen : klen) == 0
                          && (plen <= klen || prefix[klen] == '/');
            if (wanted) {
                char *sub = NULL, *subkey = NULL;
                if (asprintf(&sub, "%s/%s", dir, name) < 0)
                    sub = NULL;
                if (asprintf(&subkey, "%s/", key) < 0)
                    subkey = NULL;
                if (!sub || !subkey)
                    rc = objstore_backend_fail(err, errlen, "out of memory");
                else
                    rc = s_file_walk(sub, subkey, prefix, start_after, out, err, errlen);
                free(sub);
                free(subkey);
            }
            free(key);
        }
        else if (S_ISREG(st.st_mode) && klen >= plen && strncmp(key, prefix, plen) == 0
                 && (!start_after || strcmp(key, start_after) > 0)) {
            char why[200];
            if (objstore_backend_check_key(key, false, why, sizeof why) != 0) {
                log_warn("objstore: file not listed", "dir=%s name=%s reason=%s", log_str(dir), log_str(name),
                         log_str(why));
                free(key);
            }
            else if (objstore_backend_entries_add(out, key, (int64_t) st.st_size)) {
                free(key);
                rc = objstore_backend_fail(err, errlen, "out of memory");
            }
        }
        else
            free(key);
    }
    closedir(d);
    return rc;
}

static int s_entry_cmp(const void *a, const void *b)
{
    return strcmp(((const objstore_backend_entry_t *) a)->key, ((const objstore_backend_entry_t *) b)->key);
}

static int s_file_list(void *impl, const char *prefix, const char *start_after,
                       int (*fn)(void *arg, const char *key, int64_t size), void *arg, char *err, size_t errlen)
{
    objstore_file_t *self = impl;
    /* start at the deepest directory the prefix names: "raw/cat" -> "raw/" */
    const char *slash = strrchr(prefix, '/');
    size_t dn = slash ? (size_t) (slash - prefix) : 0;
    char *dir = NULL, *dirkey = NULL;
    if (asprintf(&dir, "%s%s%.*s", self->root, dn ? "/" : "", (int) dn, prefix) < 0)
        dir = NULL;
    if (asprintf(&dirkey, "%.*s%s", (int) dn, prefix, dn ? "/" : "") < 0)
        dirkey = NULL;
    objstore_backend_entries_t entries = { 0 };
    int rc = !dir || !dirkey ? objstore_backend_fail(err, errlen, "out of memory")
                             : s_file_walk(dir, dirkey, prefix, start_after, &entries, err, errlen);
    free(dir);
    free(dirkey);
    if (rc == 0 && entries.n > 1)
        qsort(entries.v, entries.n, sizeof entries.v[0], s_entry_cmp);
    for (size_t i = 0; rc == 0 && i < entries.n; i++)
        if (fn(arg, entries.v[i].key, entries.v[i].size) != 0)
            break;
    objstore_backend_entries_free(&entries);
    return rc;
}

const objstore_backend_t objstore_file_backend = { .scheme = "file://", .size = sizeof(objstore_file_t),
    .open = s_file_open, .close = s_file_close, .put = s_file_put, .get = s_file_get, .exists = s_file_exists,
    .list = s_file_list, .describe = s_file_describe };

/* ------------------------------------------------------------------------- */
/* self-test */

typedef struct {
    char keys[16][64];
    int64_t sizes[16];
    int n;
    int stop_after; /* stop when n reaches it (0: never) */
} s_collect_t;

static int s_collect(void *arg, const char *key, int64_t size)
{
    s_collect_t *c = arg;
    assert(c->n < 16);
    snprintf(c->keys[c->n], sizeof c->keys[0], "%s", key);
    c->sizes[c->n] = size;
    c->n++;
    return c->stop_after && c->n >= c->stop_after;
}

static int s_test_remove(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void) st;
    (void) type;
    (void) ftw;
    return remove(path);
}

void objstore_file_test(bool verbose)
{
    char dir[] = "/tmp/objstore-test-XXXXXX";
    assert(mkdtemp(dir));
    char url[128], err[512];
    snprintf(url, sizeof url, "file://%s/store/", dir);
    objstore_t *store = objstore_new(url, err, sizeof err);
    assert(store);
    if (verbose)
        printf("\n  store: %s\n", objstore_describe(store));
    char want[128];
    snprintf(want, sizeof want, "file://%s/store", dir);
    assert(strcmp(objstore_describe(store), want) == 0);

    /* nothing yet: the directory does not even exist */
    uint8_t *data = NULL;
    size_t len = 99;
    int64_t size = -1;
    assert(objstore_get(store, "a", &data, &len, err, sizeof err) == 1 && data == NULL && len == 0);
    assert(objstore_exists(store, "a", &size, err, sizeof err) == 0);
    s_collect_t c = { 0 };
    assert(objstore_list(store, "", NULL, s_collect, &c, err, sizeof err) == 0 && c.n == 0);

    /* put, nested keys, binary data with NULs, empty object */
    const uint8_t bin[] = { 0, 1, 2, 0, 255, 0 };
    assert(objstore_put(store, "raw/b/2.bin", bin, sizeof bin, NULL, err, sizeof err) == 0);
    assert(objstore_put(store, "raw/a/1.json", "{}", 2, "application/json", err, sizeof err) == 0);
    assert(objstore_put(store, "raw/a/10.json", "[1]", 3, NULL, err, sizeof err) == 0);
    assert(objstore_put(store, "raw/a-z", "x", 1, NULL, err, sizeof err) == 0);
    assert(objstore_put(store, "empty", "", 0, NULL, err, sizeof err) == 0);
    assert(objstore_put(store, "img/ü +.jpg", "jpg", 3, "image/jpeg", err, sizeof err) == 0);

    assert(objstore_get(store, "raw/b/2.bin", &data, &len, err, sizeof err) == 0);
    assert(len == sizeof bin && memcmp(data, bin, len) == 0);
    free(data);
    assert(objstore_get(store, "empty", &data, &len, err, sizeof err) == 0 && len == 0 && data != NULL);
    free(data);
    assert(objstore_exists(store, "raw/a/10.json", &size, err, sizeof err) == 1 && size == 3);
    assert(objstore_exists(store, "raw/a", &size, err, sizeof err) == 0); /* a "directory" is no object */
    assert(objstore_get(store, "raw/a", &data, &len, err, sizeof err) == 1);
    assert(objstore_get(store, "empty/x", &data, &len, err, sizeof err) == 1); /* under a file */

    /* overwrite; no temp file left behind */
    assert(objstore_put(store, "raw/a/1.json", "{\"v\":2}", 7, NULL, err, sizeof err) == 0);
    assert(objstore_get(store, "raw/a/1.json", &data, &len, err, sizeof err) == 0);
    assert(len == 7 && memcmp(data, "{\"v\":2}", 7) == 0);
    free(data);
    char path[256];
    snprintf(path, sizeof path, "%s/store/raw/a/1.json", dir);
    struct stat st;
    assert(stat(path, &st) == 0 && (st.st_mode & 0777) == 0644);
    DIR *d;
    snprintf(path, sizeof path, "%s/store/raw/a", dir);
    assert((d = opendir(path)));
    struct dirent *de;
    int files = 0;
    while ((de = readdir(d)))
        if (de->d_name[0] != '.')
            files++;
        else
            assert(strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0);
    closedir(d);
    assert(files == 2);
    /* a stray temp file (a crashed put) is not listed */
    snprintf(path, sizeof path, "%s/store/raw/a/" OBJSTORE_TMP_PREFIX "abc123", dir);
    FILE *f = fopen(path, "w");
    assert(f);
    fclose(f);

    /* list: lexical (byte) order, prefixes that are not directories, start_after, stop */
    memset(&c, 0, sizeof c);
    assert(objstore_list(store, NULL, NULL, s_collect, &c, err, sizeof err) == 0);
    const char *all[] = { "empty", "img/ü +.jpg", "raw/a-z", "raw/a/1.json", "raw/a/10.json", "raw/b/2.bin" };
    assert(c.n == 6);
    for (int i = 0; i < 6; i++)
        assert(strcmp(c.keys[i], all[i]) == 0);
    assert(c.sizes[0] == 0 && c.sizes[3] == 7 && c.sizes[5] == (int64_t) sizeof bin);
    memset(&c, 0, sizeof c);
    assert(objstore_list(store, "raw/a", NULL, s_collect, &c, err, sizeof err) == 0);
    assert(c.n == 3 && strcmp(c.keys[0], "raw/a-z") == 0 && strcmp(c.keys[2], "raw/a/10.json") == 0);
    memset(&c, 0, sizeof c);
    assert(objstore_list(store, "raw/a/", NULL, s_collect, &c, err, sizeof err) == 0);
    assert(c.n == 2 && strcmp(c.keys[0], "raw/a/1.json") == 0);
    memset(&c, 0, sizeof c);
    assert(objstore_list(store, "raw/a/1", NULL, s_collect, &c, err, sizeof err) == 0 && c.n == 2);
    memset(&c, 0, sizeof c);
    assert(objstore_list(store, "raw/", "raw/a/1.json", s_collect, &c, err, sizeof err) == 0);
    assert(c.n == 2 && strcmp(c.keys[0], "raw/a/10.json") == 0 && strcmp(c.keys[1], "raw/b/2.bin") == 0);
    memset(&c, 0, sizeof c);
    assert(objstore_list(store, "nothing/here", NULL, s_collect, &c, err, sizeof err) == 0 && c.n == 0);
    memset(&c, 0, sizeof c);
    c.stop_after = 2;
    assert(objstore_list(store, "", NULL, s_collect, &c, err, sizeof err) == 0 && c.n == 2);

    /* bad keys are refused with a reason, and nothing is written */
    const char *bad[] = { "", "/abs", "a//b", "a/", "../x", "a/../b", "a/./b", ".", "a/..", "a\nb",
                          "bad\xff utf8", "\xc3", "x/" OBJSTORE_TMP_PREFIX "1" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        assert(objstore_put(store, bad[i], "x", 1, NULL, err, sizeof err) == -1);
        assert(err[0] != '\0');
        if (verbose)
            printf("  refused: %s\n", err);
        assert(objstore_get(store, bad[i], &data, &len, err, sizeof err) == -1);
        assert(objstore_exists(store, bad[i], &size, err, sizeof err) == -1);
    }
    assert(objstore_put(store, NULL, "x", 1, NULL, err, sizeof err) == -1);
    char longkey[OBJSTORE_KEY_MAX + 2];
    memset(longkey, 'k', sizeof longkey - 1);
    longkey[sizeof longkey - 1] = '\0';
    assert(objstore_put(store, longkey, "x", 1, NULL, err, sizeof err) == -1 && strstr(err, "longer"));
    assert(objstore_list(store, "../", NULL, s_collect, &c, err, sizeof err) == -1);
    assert(objstore_list(store, "/x", NULL, s_collect, &c, err, sizeof err) == -1);
    /* a key under an existing object: the parent is a file */
    assert(objstore_put(store, "empty/x", "x", 1, NULL, err, sizeof err) == -1);
    memset(&c, 0, sizeof c);
    assert(objstore_list(store, "", NULL, s_collect, &c, err, sizeof err) == 0 && c.n == 6);
    objstore_destroy(&store);
    assert(store == NULL);
    objstore_destroy(&store);

    /* a root that is a file */
    snprintf(url, sizeof url, "file://%s/store/empty", dir);
    assert(objstore_new(url, err, sizeof err) == NULL && strstr(err, "not a directory"));

    assert(nftw(dir, s_test_remove, 16, FTW_DEPTH | FTW_PHYS) == 0);

    /* file://./DIR: under the working directory */
    char here[2048], want_here[2100], *here_url = "file://./var/store";
    assert(getcwd(here, sizeof here));
    objstore_t *rel = objstore_new(here_url, err, sizeof err);
    assert(rel);
    snprintf(want_here, sizeof want_here, "file://%s/var/store", strcmp(here, "/") == 0 ? "" : here);
    assert(strcmp(objstore_describe(rel), want_here) == 0);
    objstore_destroy(&rel);
}
