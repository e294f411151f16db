/*  pager.c - scan a catalog page and apply the paging stop rule (see pager.h). */
#include "pager.h"

#include <assert.h>
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "common/jsontext.h"
#include "vinted.h"

#define PAGER_MAX_ID 9007199254740991.0 /* 2^53 - 1: larger ids lose precision in a double */

/* A whole number in [lo, hi] from a JSON number, or -1. */
static int s_whole(const cJSON *item, double lo, double hi, int64_t *out)
{
    if (!cJSON_IsNumber(item))
        return -1;
    double v = item->valuedouble;
    if (!isfinite(v) || v < lo || v > hi || v != floor(v))
        return -1;
    *out = (int64_t) v;
    return 0;
}

bool pager_mark_reached(const int64_t *ids, size_t n, int64_t hwm)
{
    if (hwm <= 0 || n == 0)
        return false;
    size_t run = 0;
    while (run < n && ids[n - 1 - run] <= hwm)
        run++;
    return run >= PAGER_OLD_RUN || run == n;
}

static int s_scan(const char *body, size_t len, int64_t hwm, pager_scan_t *out, char *err, size_t errlen);

int pager_scan(const char *body, size_t len, int64_t hwm, pager_scan_t *out, char *err,
               size_t errlen)
{
    /* read the page as the transformer will: a broken string is its item's problem */
    if (!body || !jsontext_needs_repair(body, len))
        return s_scan(body, len, hwm, out, err, errlen);
    char *repaired = malloc(len);
    if (!repaired) {
        memset(out, 0, sizeof(*out));
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int rc = s_scan(repaired, jsontext_repair(body, len, repaired), hwm, out, err, errlen);
    free(repaired);
    return rc;
}

static int s_scan(const char *body, size_t len, int64_t hwm, pager_scan_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    if (!body || len == 0) {
        snprintf(err, errlen, "empty body");
        return -1;
    }
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(body, len, &end, false);
    if (!root) {
        const char *at = cJSON_GetErrorPtr();
        size_t offset = at && at >= body && at <= body + len ? (size_t) (at - body) : len;
        snprintf(err, errlen, "malformed json at byte %zu of %zu", offset, len);
        return -1;
    }
    size_t pos = end && end >= body && end <= body + len ? (size_t) (end - body) : len;
    while (pos < len && isspace((unsigned char) body[pos]))
        pos++;
    if (pos < len) {
        cJSON_Delete(root);
        snprintf(err, errlen, "malformed json: trailing bytes at %zu of %zu", pos, len);
        return -1;
    }
    const cJSON *items = cJSON_IsObject(root) ? cJSON_GetObjectItemCaseSensitive(root, "items") : NULL;
    if (!cJSON_IsArray(items)) {
        int64_t code = vinted_error_code(body, len);
        if (code >= 0)
            snprintf(err, errlen, "json without an items array (code %lld)", (long long) code);
        else
            snprintf(err, errlen, "json without an items array");
        cJSON_Delete(root);
        return -1;
    }
    int size = cJSON_GetArraySize(items);
    int64_t *ids = size > 0 ? calloc((size_t) size, sizeof(int64_t)) : NULL;
    if (size > 0 && !ids) {
        cJSON_Delete(root);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    size_t n_ids = 0;
    const cJSON *item;
    cJSON_ArrayForEach(item, items)
    {
        int64_t id;
        out->n_items++;
        if (cJSON_IsObject(item)
            && s_whole(cJSON_GetObjectItemCaseSensitive(item, "id"), 1, PAGER_MAX_ID, &id) == 0) {
            ids[n_ids++] = id;
            if (id > out->max_item_id)
                out->max_item_id = id;
        }
    }
    const cJSON *pagination = cJSON_GetObjectItemCaseSensitive(root, "pagination");
    int64_t total;
    if (cJSON_IsObject(pagination)
        && s_whole(cJSON_GetObjectItemCaseSensitive(pagination, "total_pages"), 0, INT32_MAX,
                   &total) == 0)
        out->total_pages = (int32_t) total;
    int64_t at;
    if (cJSON_IsObject(pagination) && s_whole(cJSON_GetObjectItemCaseSensitive(pagination, "time"), 1, INT32_MAX, &at) == 0)
        out->time = at;
    out->n_ids = (int32_t) n_ids;
    if (hwm > 0)
        while ((size_t) out->old_run < n_ids && ids[n_ids - 1 - (size_t) out->old_run] <= hwm)
            out->old_run++;
    out->reached_mark = pager_mark_reached(ids, n_ids, hwm);
    free(ids);
    cJSON_Delete(root);
    return 0;
}

bool pager_more(int32_t page, int32_t per_page, const pager_scan_t *scan)
{
    if (scan->n_items == 0)
        return false;
    if (!pager_more_after_error(page, per_page))
        return false;
    if (scan->total_pages > 0 && page >= scan->total_pages)
        return false;
    return !scan->reached_mark;
}

bool pager_more_user_items(int32_t page, const pager_scan_t *scan)
{
    return scan->n_items > 0 && scan->total_pages > 0 && page < scan->total_pages
           && page < VINTED_USER_MAX_PAGES;
}

bool pager_more_after_error(int32_t page, int32_t per_page)
{
    return (int64_t) page * (int64_t) per_page < VINTED_MAX_RESULTS;
}

/* --------------------------------------------------------------------------- */

/* A page body with these ids (0 = an item without an id) and total_pages (-1: no pagination). */
static char *s_page(const int64_t *ids, size_t n, int total_pages)
{
    size_t cap = 256 + n * 64;
    char *buf = malloc(cap);
    assert(buf);
    size_t len = (size_t) snprintf(buf, cap, "{\"items\":[");
    for (size_t i = 0; i < n; i++) {
        if (ids[i])
            len += (size_t) snprintf(buf + len, cap - len, "%s{\"id\":%lld,\"title\":\"t\"}",
                                     i ? "," : "", (long long) ids[i]);
        else
            len += (size_t) snprintf(buf + len, cap - len, "%s{\"title\":\"no id\"}", i ? "," : "");
    }
    if (total_pages >= 0)
        snprintf(buf + len, cap - len,
                 "],\"pagination\":{\"current_page\":1,\"total_pages\":%d},\"code\":0}\n",
                 total_pages);
    else
        snprintf(buf + len, cap - len, "]}");
    return buf;
}

static bool s_more(int32_t page, int32_t per_page, const int64_t *ids, size_t n, int total_pages,
                   int64_t hwm)
{
    char *body = s_page(ids, n, total_pages);
    pager_scan_t scan;
    char err[128];
    int rc = pager_scan(body, strlen(body), hwm, &scan, err, sizeof(err));
    assert(rc == 0);
    assert(scan.n_items == (int32_t) n);
    free(body);
    return pager_more(page, per_page, &scan);
}

void pager_test(bool verbose)
{
    if (verbose)
        printf(" * pager: ");
    pager_scan_t scan;
    char err[128];

    /* the mark: bumped old items among new ones do not stop the paging */
    const int64_t hwm = 1000;
    const int64_t bumped[] = { 1010, 1009, 500, 1008, 1007, 20, 1006 };
    assert(!pager_mark_reached(bumped, 7, hwm));
    const int64_t bumped_run[] = { 1010, 999, 998, 997, 996, 1005 }; /* old run, then new */
    assert(!pager_mark_reached(bumped_run, 6, hwm));
    const int64_t tail4[] = { 1005, 1004, 999, 998, 997, 996 };
    assert(!pager_mark_reached(tail4, 6, hwm));
    const int64_t tail5[] = { 1005, 1004, 1000, 999, 998, 997, 996 };
    assert(pager_mark_reached(tail5, 7, hwm));
    const int64_t all_old_short[] = { 999, 300 };
    assert(pager_mark_reached(all_old_short, 2, hwm));
    const int64_t one_new_short[] = { 1001, 999, 300 };
    assert(!pager_mark_reached(one_new_short, 3, hwm));
    assert(!pager_mark_reached(tail5, 7, 0)); /* no mark yet: never reached */
    assert(!pager_mark_reached(NULL, 0, hwm));

    /* the whole rule on real bodies */
    int64_t page96[96];
    for (int i = 0; i < 96; i++)
        page96[i] = 5000 - i;
    assert(s_more(1, 96, page96, 96, 40, 0));
    assert(s_more(1, 96, page96, 96, -1, 0));            /* total_pages unknown */
    assert(!s_more(10, 96, page96, 96, 40, 0));          /* the 960 cap */
    assert(s_more(9, 96, page96, 96, 40, 0));
    assert(!s_more(20, 48, page96, 96, 40, 0));          /* 960 with 48 per page */
    assert(!s_more(3, 96, page96, 96, 3, 0));            /* last page */
    assert(!s_more(1, 96, NULL, 0, 0, 0));               /* empty page */
    assert(s_more(1, 96, page96, 96, 40, 4000));         /* all new */
    page96[50] = 10;                                     /* one bumped item */
    page96[51] = 3000;
    assert(s_more(1, 96, page96, 96, 40, 4000));
    assert(!s_more(1, 96, page96, 96, 40, 4910));        /* ends with 5+ ids <= 4910 */
    page96[95] = 0;                                      /* an item without an id is skipped */
    assert(!s_more(1, 96, page96, 96, 40, 4910));

    /* scanning */
    const char *body = "{\"items\":[{\"id\":7340954839,\"price\":{\"amount\":\"20.0\"}},"
                       "{\"id\":7340954840.0},{\"id\":\"7340954841\"},{\"id\":1.5},{\"id\":-3},"
                       "{\"id\":1e300},[1],null],"
                       "\"pagination\":{\"total_pages\":11,\"total_entries\":1040},\"code\":0}";
    assert(pager_scan(body, strlen(body), 7340954839, &scan, err, sizeof(err)) == 0);
    assert(scan.n_items == 8 && scan.n_ids == 2 && scan.max_item_id == 7340954840);
    assert(scan.total_pages == 11 && scan.old_run == 0 && !scan.reached_mark);
    const char *big = "{\"items\":[{\"id\":9007199254740993}],\"pagination\":{\"total_pages\":-1}}";
    assert(pager_scan(big, strlen(big), 0, &scan, err, sizeof(err)) == 0);
    assert(scan.n_items == 1 && scan.n_ids == 0 && scan.max_item_id == 0 && scan.total_pages == 0);
    /* a broken string (unpaired surrogate, NUL) is its item's problem, not the page's */
    const char broken[] = "{\"items\":[{\"id\":5,\"title\":\"a\\ud800\"},{\"id\":6,\"title\":\"b\0c\"},"
                          "{\"id\":7,\"title\":\"d\\u0000\"}]}";
    assert(pager_scan(broken, sizeof broken - 1, 0, &scan, err, sizeof(err)) == 0);
    assert(scan.n_items == 3 && scan.n_ids == 3 && scan.max_item_id == 7);

    /* bad bodies are refused with a reason */
    const char *truncated = "{\"items\":[{\"id\":1},{\"id\":2";
    assert(pager_scan(truncated, strlen(truncated), 0, &scan, err, sizeof(err)) == -1);
    assert(strstr(err, "malformed json"));
    assert(pager_scan(body, 40, 0, &scan, err, sizeof(err)) == -1); /* cut short */
    const char *trailing = "{\"items\":[]} {\"x\":1}";
    assert(pager_scan(trailing, strlen(trailing), 0, &scan, err, sizeof(err)) == -1);
    assert(strstr(err, "trailing"));
    const char *noitems = "{\"code\":100,\"message_code\":\"invalid_authentication_token\"}";
    assert(pager_scan(noitems, strlen(noitems), 0, &scan, err, sizeof(err)) == -1);
    assert(strstr(err, "items array") && strstr(err, "code 100"));
    assert(pager_scan("{\"items\":{}}", 12, 0, &scan, err, sizeof(err)) == -1);
    assert(pager_scan("[]", 2, 0, &scan, err, sizeof(err)) == -1);
    assert(pager_scan("<html>", 6, 0, &scan, err, sizeof(err)) == -1);
    assert(pager_scan("", 0, 0, &scan, err, sizeof(err)) == -1 && strstr(err, "empty"));
    const char nul[] = "{\"items\":[]}\0garbage";
    assert(pager_scan(nul, sizeof(nul) - 1, 0, &scan, err, sizeof(err)) == -1);
    const char *spaced = " {\"items\":[]}\r\n ";
    assert(pager_scan(spaced, strlen(spaced), 0, &scan, err, sizeof(err)) == 0 && scan.n_items == 0);
    assert(!pager_more(1, 96, &scan));

    /* a seller's list: total_pages decides, capped at 10 pages */
    const char *seller = "{\"items\":[{\"id\":9},{\"id\":3}],\"pagination\":{\"total_pages\":12}}";
    assert(pager_scan(seller, strlen(seller), 0, &scan, err, sizeof(err)) == 0);
    assert(pager_more_user_items(1, &scan) && pager_more_user_items(9, &scan));
    assert(!pager_more_user_items(10, &scan) && !pager_more_user_items(12, &scan));
    scan.total_pages = 3;
    assert(pager_more_user_items(2, &scan) && !pager_more_user_items(3, &scan));
    scan.total_pages = 0; /* unknown: stop */
    assert(!pager_more_user_items(1, &scan));
    const char *none = "{\"items\":[],\"pagination\":{\"total_pages\":4}}";
    assert(pager_scan(none, strlen(none), 0, &scan, err, sizeof(err)) == 0);
    assert(!pager_more_user_items(1, &scan));

    assert(pager_more_after_error(9, 96) && !pager_more_after_error(10, 96));
    assert(pager_more_after_error(1, 1) && !pager_more_after_error(960, 1));
    /* pagination.time: the result set's time, for pinning the later pages */
    const char *timed = "{\"items\":[{\"id\":9}],\"pagination\":{\"total_pages\":3,\"time\":1760373805}}";
    assert(pager_scan(timed, strlen(timed), 0, &scan, err, sizeof err) == 0 && scan.time == 1760373805);
    const char *untimed = "{\"items\":[{\"id\":9}],\"pagination\":{\"time\":\"soon\"}}";
    assert(pager_scan(untimed, strlen(untimed), 0, &scan, err, sizeof err) == 0 && scan.time == 0);

    if (verbose)
        printf("OK\n");
}
