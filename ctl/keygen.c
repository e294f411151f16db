/*  keygen.c - vinted-ctl keygen: a new CURVE key pair as czmq certificates. */
#include "ctl/keygen.h"

#include <assert.h>
#include <czmq.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define S_NAME_MAX 64
#define S_DIR_MAX 180 /* zcert_save appends "_secret" in a 256-byte buffer */

static bool s_name_ok(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > S_NAME_MAX || name[0] == '.')
        return false;
    if (n >= 7 && strcmp(name + n - 7, "_secret") == 0)
        return false;
    for (const char *p = name; *p; p++)
        if (!(*p >= 'a' && *p <= 'z') && !(*p >= 'A' && *p <= 'Z') && !(*p >= '0' && *p <= '9') &&
            *p != '.' && *p != '_' && *p != '-')
            return false;
    return true;
}

int keygen_write(const char *dir, const char *name, char public_txt[41], char *err, size_t errlen)
{
    if (!s_name_ok(name)) {
        snprintf(
            err, errlen,
            "invalid NAME '%s': 1 to %d of A-Z a-z 0-9 . _ -, not starting with '.' nor ending in _secret",
            name ? name : "", S_NAME_MAX);
        return -1;
    }
    if (!dir || !*dir || strlen(dir) > S_DIR_MAX) {
        snprintf(err, errlen, "invalid --out '%s': a directory path of 1 to %d characters", dir ? dir : "",
                 S_DIR_MAX);
        return -1;
    }
    struct stat st;
    if (stat(dir, &st) != 0) {
        if (errno != ENOENT || mkdir(dir, 0700) != 0) {
            snprintf(err, errlen, "cannot create --out '%s': %s", dir, strerror(errno));
            return -1;
        }
    }
    else if (!S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "invalid --out '%s': not a directory", dir);
        return -1;
    }
    char public_path[256], secret_path[256];
    snprintf(public_path, sizeof public_path, "%s/%s", dir, name);
    snprintf(secret_path, sizeof secret_path, "%s/%s_secret", dir, name);
    if (access(public_path, F_OK) == 0 || access(secret_path, F_OK) == 0) {
        snprintf(err, errlen,
                 "%s already exists: keys are never overwritten (remove it, or pick another NAME)",
                 access(public_path, F_OK) == 0 ? public_path : secret_path);
        return -1;
    }
    zcert_t *cert = zcert_new();
    if (!cert) {
        snprintf(err, errlen, "cannot make a key pair (libzmq without CURVE?)");
        return -1;
    }
    zcert_set_meta(cert, "name", "%s", name);
    /* created private from the start: no moment where another user could read it */
    mode_t old = umask(077);
    int rc = zcert_save_secret(cert, secret_path);
    umask(old);
    rc |= chmod(secret_path, 0600);
    if (rc == 0)
        rc = zcert_save_public(cert, public_path) | chmod(public_path, 0644);
    if (rc != 0) {
        snprintf(err, errlen, "cannot write the key pair into '%s': %s", dir, strerror(errno));
        unlink(public_path);
        unlink(secret_path);
        zcert_destroy(&cert);
        return -1;
    }
    snprintf(public_txt, 41, "%s", zcert_public_txt(cert));
    zcert_destroy(&cert);
    return 0;
}

void keygen_test(bool verbose)
{
    (void)verbose;
    char dir[] = "/tmp/vinted-keygen-test-XXXXXX";
    assert(mkdtemp(dir));
    char out[128], path[192], key[41], err[256];
    snprintf(out, sizeof out, "%s/keys", dir); /* created on the way */
    assert(keygen_write(out, "fetcher-1", key, err, sizeof err) == 0);
    assert(strlen(key) == 40);

    struct stat st;
    snprintf(path, sizeof path, "%s/fetcher-1_secret", out);
    assert(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
    zcert_t *cert = zcert_load(path);
    assert(cert && strcmp(zcert_public_txt(cert), key) == 0);
    assert(strcmp(zcert_meta(cert, "name"), "fetcher-1") == 0);
    zcert_destroy(&cert);
    snprintf(path, sizeof path, "%s/fetcher-1", out);
    assert(stat(path, &st) == 0 && (st.st_mode & 0777) == 0644);
    /* the public file holds no secret key */
    FILE *f = fopen(path, "r");
    char text[2048] = "";
    assert(f && fread(text, 1, sizeof text - 1, f) > 0);
    fclose(f);
    assert(strstr(text, key) && !strstr(text, "secret-key"));

    /* never overwritten; a second pair has another key */
    assert(keygen_write(out, "fetcher-1", key, err, sizeof err) == -1 && strstr(err, "already exists"));
    char other[41];
    assert(keygen_write(out, "fetcher-2", other, err, sizeof err) == 0 && strcmp(other, key) != 0);
    const char *bad[] = {"", ".hidden", "a/b", "x_secret", "sp ace", NULL};
    for (int i = 0; bad[i]; i++)
        assert(keygen_write(out, bad[i], key, err, sizeof err) == -1 && strstr(err, "invalid NAME"));
    snprintf(path, sizeof path, "%s/fetcher-1", out);
    assert(keygen_write(path, "x", key, err, sizeof err) == -1 && strstr(err, "not a directory"));

    zdir_t *zdir = zdir_new(dir, NULL);
    zdir_remove(zdir, true);
    zdir_destroy(&zdir);
}
