/*  vinted.c - the Vinted web API's URLs, headers and error bodies (see vinted.h).
    (Near 700 lines: its last 215 are the self-test, the URLs and error bodies
    of both API generations checked case by case.) */
#include "vinted.h"

#include <assert.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "common/jsontext.h"

#define VINTED_BASE_MAX 256

struct _vinted_t {
    const vinted_site_t *site;
    vinted_api_t api;
    char www[VINTED_BASE_MAX]; /* scheme://host[:port], no trailing slash */
    char apibase[VINTED_BASE_MAX];
    char *user_agent;
};

/* One line per site: tld, currency, locale. Keep vinted_site_list() in step. */
static const vinted_site_t s_sites[] = {
    { "pt", "EUR", "pt-PT" },    { "fr", "EUR", "fr-FR" },    { "de", "EUR", "de-DE" },
    { "it", "EUR", "it-IT" },    { "es", "EUR", "es-ES" },    { "nl", "EUR", "nl-NL" },
    { "pl", "PLN", "pl-PL" },    { "be", "EUR", "fr-BE" },    { "at", "EUR", "de-AT" },
    { "lu", "EUR", "fr-LU" },    { "co.uk", "GBP", "en-GB" }, { "cz", "CZK", "cs-CZ" },
    { "sk", "EUR", "sk-SK" },    { "lt", "EUR", "lt-LT" },    { "se", "SEK", "sv-SE" },
    { "dk", "DKK", "da-DK" },    { "ro", "RON", "ro-RO" },    { "hu", "HUF", "hu-HU" },
    { "hr", "EUR", "hr-HR" },    { "fi", "EUR", "fi-FI" },    { "ie", "EUR", "en-IE" },
    { "si", "EUR", "sl-SI" },    { "ee", "EUR", "et-EE" },    { "lv", "EUR", "lv-LV" },
    { "gr", "EUR", "el-GR" },    { "com", "USD", "en-US" },   { NULL, NULL, NULL },
};

const vinted_site_t *vinted_site_find(const char *tld)
{
    if (!tld)
        return NULL;
    for (const vinted_site_t *s = s_sites; s->tld; s++)
        if (strcmp(s->tld, tld) == 0)
            return s;
    return NULL;
}

const char *vinted_site_list(void)
{
    return "pt, fr, de, it, es, nl, pl, be, at, lu, co.uk, cz, sk, lt, se, dk, ro, hu, hr, "
           "fi, ie, si, ee, lv, gr, com";
}

int vinted_api_from_name(const char *name, vinted_api_t *out)
{
    if (name && strcmp(name, "v2") == 0) {
        *out = VINTED_API_V2;
        return 0;
    }
    if (name && strcmp(name, "svc") == 0) {
        *out = VINTED_API_SVC;
        return 0;
    }
    return -1;
}

const char *vinted_api_name(vinted_api_t api)
{
    return api == VINTED_API_SVC ? "svc" : "v2";
}

/* True if text is safe inside a header line: printable, no CR/LF. */
static bool s_header_safe(const char *text)
{
    for (const unsigned char *p = (const unsigned char *) text; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            return false;
    return true;
}

/* Copy an http(s) base URL without its trailing slashes; -1 if it is not one. */
static int s_set_base(char *dst, const char *url)
{
    if (strncmp(url, "http://", 7) != 0 && strncmp(url, "https://", 8) != 0)
        return -1;
    size_t len = strlen(url);
    while (len > 0 && url[len - 1] == '/')
        len--;
    const char *host = strstr(url, "://") + 3;
    if (len >= VINTED_BASE_MAX || (size_t) (host - url) >= len)
        return -1;
    for (size_t i = 0; i < len; i++)
        if (isspace((unsigned char) url[i]) || iscntrl((unsigned char) url[i]) || url[i] == '?'
            || url[i] == '#')
            return -1;
    memcpy(dst, url, len);
    dst[len] = '\0';
    return 0;
}

/* A URL setting for one site: the whole setting, or in the per-site form
   "pt=URL,fr=URL" the entry of that site ("" when it has none: derived). */
static void s_site_setting(const char *setting, const char *tld, char *buf, size_t size)
{
    buf[0] = '\0';
    if (!setting)
        return;
    const char *eq = strchr(setting, '='), *scheme = strstr(setting, "://");
    if (!eq || (scheme && scheme < eq)) { /* one URL for every site */
        snprintf(buf, size, "%s", setting);
        return;
    }
    size_t tlen = strlen(tld);
    for (const char *p = setting; *p;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t) (comma - p) : strlen(p);
        if (len > tlen && strncmp(p, tld, tlen) == 0 && p[tlen] == '=') {
            snprintf(buf, size, "%.*s", (int) (len - tlen - 1), p + tlen + 1);
            return;
        }
        p += len + (comma ? 1 : 0);
    }
}

vinted_t *vinted_new(const char *site, vinted_api_t api, const char *www_setting,
                     const char *api_setting, const char *user_agent, char *err, size_t errlen)
{
    const vinted_site_t *found = vinted_site_find(site);
    if (!found) {
        snprintf(err, errlen, "unknown site '%s' (valid: %s)", site ? site : "", vinted_site_list());
        return NULL;
    }
    char www_url[512], api_url[512];
    s_site_setting(www_setting, found->tld, www_url, sizeof www_url);
    s_site_setting(api_setting, found->tld, api_url, sizeof api_url);
    if (!user_agent || !*user_agent)
        user_agent = VINTED_DEFAULT_USER_AGENT;
    if (!s_header_safe(user_agent)) {
        snprintf(err, errlen, "the user agent contains control characters");
        return NULL;
    }
    vinted_t *self = calloc(1, sizeof(*self));
    if (!self) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    self->site = found;
    self->api = api;
    snprintf(self->www, sizeof(self->www), "https://www.vinted.%s", found->tld);
    snprintf(self->apibase, sizeof(self->apibase), "https://api.vinted.%s", found->tld);
    if (*www_url && s_set_base(self->www, www_url) != 0) {
        snprintf(err, errlen, "invalid www URL '%s' (want http(s)://host[:port])", www_url);
        vinted_destroy(&self);
        return NULL;
    }
    if (*api_url && s_set_base(self->apibase, api_url) != 0) {
        snprintf(err, errlen, "invalid api URL '%s' (want http(s)://host[:port])", api_url);
        vinted_destroy(&self);
        return NULL;
    }
    self->user_agent = strdup(user_agent);
    if (!self->user_agent) {
        snprintf(err, errlen, "out of memory");
        vinted_destroy(&self);
        return NULL;
    }
    return self;
}

void vinted_destroy(vinted_t **self_p)
{
    if (self_p && *self_p) {
        free((*self_p)->user_agent);
        free(*self_p);
        *self_p = NULL;
    }
}

const vinted_site_t *vinted_site(const vinted_t *self) { return self->site; }
vinted_api_t vinted_api(const vinted_t *self) { return self->api; }
const char *vinted_www_base(const vinted_t *self) { return self->www; }
const char *vinted_api_base(const vinted_t *self) { return self->apibase; }
const char *vinted_user_agent(const vinted_t *self) { return self->user_agent; }

int vinted_home_url(const vinted_t *self, char *buf, size_t size)
{
    int n = snprintf(buf, size, "%s/", self->www);
    return n < 0 || (size_t) n >= size ? -1 : 0;
}

int vinted_catalog_url(const vinted_t *self, int32_t catalog_id, int32_t page, int32_t per_page,
                       const vinted_query_t *q, char *buf, size_t size)
{
    if (catalog_id <= 0 || page < 1)
        return -1;
    if (q && (q->price_from < 0 || q->price_to < 0 || q->pin_time < 0
              || (q->price_to > 0 && q->price_to < q->price_from)))
        return -1;
    if (per_page < 1)
        per_page = 1;
    if (per_page > VINTED_MAX_PER_PAGE)
        per_page = VINTED_MAX_PER_PAGE;
    int n;
    if (self->api == VINTED_API_SVC)
        n = snprintf(buf, size,
                     "%s/svc-catalogue/items?attribute_ids%%5Bcatalog%%5D=%d"
                     "&order=newest_first&per_page=%d&page=%d",
                     self->apibase, (int) catalog_id, (int) per_page, (int) page);
    else
        n = snprintf(buf, size,
                     "%s/api/v2/catalog/items?catalog_ids=%d&order=newest_first&per_page=%d&page=%d",
                     self->www, (int) catalog_id, (int) per_page, (int) page);
    if (n < 0 || (size_t) n >= size)
        return -1;
    size_t len = (size_t) n;
    if (q && q->price_from > 0)
        len += (size_t) snprintf(buf + len, size - len, "&price_from=%lld.%02lld", (long long) (q->price_from / 100),
                                 (long long) (q->price_from % 100));
    if (len < size && q && q->price_to > 0)
        len += (size_t) snprintf(buf + len, size - len, "&price_to=%lld.%02lld", (long long) (q->price_to / 100),
                                 (long long) (q->price_to % 100));
    if (len < size && q && q->pin_time > 0 && self->api == VINTED_API_V2)
        len += (size_t) snprintf(buf + len, size - len, "&time=%lld", (long long) q->pin_time);
    return len >= size ? -1 : 0;
}

int vinted_user_items_url(const vinted_t *self, int64_t user_id, int32_t page, int32_t per_page,
                          char *buf, size_t size)
{
    if (user_id <= 0 || page < 1)
        return -1;
    if (per_page < 1)
        per_page = 1;
    if (per_page > VINTED_MAX_PER_PAGE)
        per_page = VINTED_MAX_PER_PAGE;
    int n = snprintf(buf, size, "%s/api/v2/users/%lld/items?page=%d&per_page=%d&order=newest_first",
                     self->www, (long long) user_id, (int) page, (int) per_page);
    return n < 0 || (size_t) n >= size ? -1 : 0;
}

int vinted_user_url(const vinted_t *self, int64_t user_id, char *buf, size_t size)
{
    if (user_id <= 0)
        return -1;
    int n = snprintf(buf, size, "%s/api/v2/users/%lld", self->www, (long long) user_id);
    return n < 0 || (size_t) n >= size ? -1 : 0;
}

/* True if body is one complete JSON object whose member `key` passes is_ok;
   false with the reason in err otherwise. */
static bool s_body_holds(const char *body, size_t len, const char *key,
                         cJSON_bool (*is_ok)(const cJSON *), char *err, size_t errlen)
{
    if (!body || len == 0) {
        snprintf(err, errlen, "empty body");
        return false;
    }
    /* read it as the transformer will: a broken string is that record's problem */
    char *repaired = NULL;
    if (jsontext_needs_repair(body, len)) {
        repaired = malloc(len);
        if (!repaired) {
            snprintf(err, errlen, "out of memory");
            return false;
        }
        len = jsontext_repair(body, len, repaired);
        body = repaired;
    }
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(body, len, &end, false);
    if (!root) {
        size_t at = end && end >= body && end <= body + len ? (size_t) (end - body) : 0;
        snprintf(err, errlen, "not JSON (error at byte %zu of %zu)", at, len);
        free(repaired);
        return false;
    }
    while (end < body + len && isspace((unsigned char) *end))
        end++;
    bool ok = false;
    if (end < body + len)
        snprintf(err, errlen, "trailing data after the JSON at byte %zu of %zu",
                 (size_t) (end - body), len);
    else if (!cJSON_IsObject(root))
        snprintf(err, errlen, "not a JSON object");
    else if (!is_ok(cJSON_GetObjectItemCaseSensitive(root, key)))
        snprintf(err, errlen, "no %s %s", key,
                 is_ok == cJSON_IsObject ? "object" : "object or array");
    else
        ok = true;
    cJSON_Delete(root);
    free(repaired);
    return ok;
}

/* A catalogs member is an object (flat form, keyed by id) or an array (nested form). */
static cJSON_bool s_is_container(const cJSON *item)
{
    return cJSON_IsObject(item) || cJSON_IsArray(item);
}

bool vinted_user_body_ok(const char *body, size_t len, char *err, size_t errlen)
{
    return s_body_holds(body, len, "user", cJSON_IsObject, err, errlen);
}

int vinted_catalogs_url(const vinted_t *self, char *buf, size_t size)
{
    int n = snprintf(buf, size, "%s/api/v2/catalogs", self->www);
    return n < 0 || (size_t) n >= size ? -1 : 0;
}

bool vinted_catalogs_body_ok(const char *body, size_t len, char *err, size_t errlen)
{
    return s_body_holds(body, len, "catalogs", s_is_container, err, errlen);
}

int vinted_item_page_url(const vinted_t *self, int64_t item_id, char *buf, size_t size)
{
    if (item_id <= 0)
        return -1;
    int n = snprintf(buf, size, "%s/items/%lld", self->www, (long long) item_id);
    return n < 0 || (size_t) n >= size ? -1 : 0;
}

/* Append one "Name: value" line; a failed append frees the list and returns NULL. */
static struct curl_slist *s_add(struct curl_slist *list, bool *ok, const char *name,
                                const char *value)
{
    if (!*ok)
        return list;
    char line[1024];
    int n = snprintf(line, sizeof(line), "%s: %s", name, value);
    struct curl_slist *next = NULL;
    if (n > 0 && (size_t) n < sizeof(line))
        next = curl_slist_append(list, line);
    if (!next) {
        *ok = false;
        return list;
    }
    return next;
}

struct curl_slist *vinted_headers(const vinted_t *self, vinted_req_t req, const char *anon_id)
{
    struct curl_slist *list = NULL;
    bool ok = true;
    char language[64];
    /* "pt-PT,pt;q=0.9": the site's locale first, then its bare language */
    const char *locale = self->site->locale;
    const char *dash = strchr(locale, '-');
    snprintf(language, sizeof(language), "%s,%.*s;q=0.9", locale,
             (int) (dash ? dash - locale : (ptrdiff_t) strlen(locale)), locale);
    list = s_add(list, &ok, "User-Agent", self->user_agent);
    list = s_add(list, &ok, "Accept-Language", language);
    char referer[VINTED_BASE_MAX + 2];
    snprintf(referer, sizeof(referer), "%s/", self->www);
    if (req == VINTED_REQ_HOME || req == VINTED_REQ_ITEM_PAGE) {
        list = s_add(list, &ok, "Accept",
                     "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8");
        if (req == VINTED_REQ_ITEM_PAGE) /* a click from the site */
            list = s_add(list, &ok, "Referer", referer);
    }
    else {
        list = s_add(list, &ok, "Accept", "application/json, text/plain, */*");
        if (req == VINTED_REQ_CATALOG && self->api == VINTED_API_SVC) {
            list = s_add(list, &ok, "Locale", locale);
            list = s_add(list, &ok, "Platform", "web");
            list = s_add(list, &ok, "X-Next-App", "marketplace-web");
            if (anon_id && *anon_id && s_header_safe(anon_id) && strlen(anon_id) < 256)
                list = s_add(list, &ok, "X-Anon-Id", anon_id);
            list = s_add(list, &ok, "Origin", self->www);
        }
        list = s_add(list, &ok, "Referer", referer);
    }
    if (!ok) {
        curl_slist_free_all(list);
        return NULL;
    }
    return list;
}

int64_t vinted_error_code(const char *body, size_t len)
{
    if (!body || len == 0)
        return -1;
    cJSON *root = cJSON_ParseWithLength(body, len);
    int64_t code = -1;
    const cJSON *item = cJSON_IsObject(root) ? cJSON_GetObjectItemCaseSensitive(root, "code") : NULL;
    if (cJSON_IsNumber(item)) {
        double v = item->valuedouble;
        if (v >= 0 && v < 1e9 && v == (double) (int64_t) v)
            code = (int64_t) v;
    }
    cJSON_Delete(root);
    return code;
}

/* Case-insensitive search of needle in the first len bytes of body. */
static bool s_contains(const char *body, size_t len, const char *needle)
{
    size_t n = strlen(needle);
    if (n == 0 || len < n)
        return false;
    for (size_t i = 0; i + n <= len; i++) {
        size_t j = 0;
        while (j < n && tolower((unsigned char) body[i + j]) == tolower((unsigned char) needle[j]))
            j++;
        if (j == n)
            return true;
    }
    return false;
}

bool vinted_html_complete(const char *body, size_t len)
{
    /* the closing tag sits at the very end; look at the tail only */
    size_t tail = len > 4096 ? 4096 : len;
    return body && s_contains(body + len - tail, tail, "</html>");
}

vinted_block_t vinted_classify_block(const char *body, size_t len)
{
    if (!body || len == 0)
        return VINTED_BLOCK_UNKNOWN;
    if (vinted_error_code(body, len) == 106)
        return VINTED_BLOCK_CODE106;
    if (s_contains(body, len, "datadome") || s_contains(body, len, "captcha-delivery.com"))
        return VINTED_BLOCK_DATADOME;
    if (s_contains(body, len, "cloudflare") || s_contains(body, len, "cf-ray")
        || s_contains(body, len, "cf-error-details") || s_contains(body, len, "__cf_chl"))
        return VINTED_BLOCK_CLOUDFLARE;
    return VINTED_BLOCK_UNKNOWN;
}

const char *vinted_block_name(vinted_block_t block)
{
    switch (block) {
    case VINTED_BLOCK_CLOUDFLARE: return "cloudflare";
    case VINTED_BLOCK_DATADOME: return "datadome";
    case VINTED_BLOCK_CODE106: return "code 106";
    default: return "unknown";
    }
}

bool vinted_endpoint_gone(const vinted_t *self, long status, const char *body, size_t len)
{
    return self->api == VINTED_API_V2 && status == 404 && vinted_error_code(body, len) == 104;
}

/* --------------------------------------------------------------------------- */

static bool s_has_header(const struct curl_slist *list, const char *line)
{
    for (; list; list = list->next)
        if (strcmp(list->data, line) == 0)
            return true;
    return false;
}

static bool s_has_name(const struct curl_slist *list, const char *name)
{
    size_t n = strlen(name);
    for (; list; list = list->next)
        if (strncmp(list->data, name, n) == 0 && list->data[n] == ':')
            return true;
    return false;
}

void vinted_test(bool verbose)
{
    if (verbose)
        printf(" * vinted: ");
    char err[256], url[512];

    /* sites */
    assert(vinted_site_find("pt") && strcmp(vinted_site_find("pt")->currency, "EUR") == 0);
    assert(strcmp(vinted_site_find("co.uk")->currency, "GBP") == 0);
    assert(strcmp(vinted_site_find("pl")->currency, "PLN") == 0);
    assert(strcmp(vinted_site_find("com")->currency, "USD") == 0);
    assert(strcmp(vinted_site_find("fr")->locale, "fr-FR") == 0);
    assert(!vinted_site_find("uk") && !vinted_site_find("") && !vinted_site_find(NULL));
    {   /* every listed site is in the table and the other way round */
        char list[512];
        snprintf(list, sizeof(list), "%s", vinted_site_list());
        int listed = 0, known = 0;
        for (char *save = NULL, *tok = strtok_r(list, ", ", &save); tok;
             tok = strtok_r(NULL, ", ", &save), listed++)
            assert(vinted_site_find(tok));
        for (const vinted_site_t *s = s_sites; s->tld; s++)
            known++;
        assert(listed == known && known == 26);
    }
    vinted_api_t api;
    assert(vinted_api_from_name("svc", &api) == 0 && api == VINTED_API_SVC);
    assert(vinted_api_from_name("v2", &api) == 0 && api == VINTED_API_V2);
    assert(vinted_api_from_name("v3", &api) == -1 && vinted_api_from_name(NULL, &api) == -1);
    assert(strcmp(vinted_api_name(VINTED_API_SVC), "svc") == 0);

    /* bad settings are refused with a reason */
    assert(!vinted_new("xx", VINTED_API_V2, NULL, NULL, NULL, err, sizeof(err)));
    assert(strstr(err, "unknown site 'xx'") && strstr(err, "co.uk"));
    assert(!vinted_new("pt", VINTED_API_V2, "ftp://x", NULL, NULL, err, sizeof(err)));
    assert(strstr(err, "www URL"));
    assert(!vinted_new("pt", VINTED_API_V2, NULL, "http://a b", NULL, err, sizeof(err)));
    assert(!vinted_new("pt", VINTED_API_V2, NULL, "http://", NULL, err, sizeof(err)));
    assert(!vinted_new("pt", VINTED_API_V2, NULL, NULL, "agent\r\nX: y", err, sizeof(err)));

    /* v2 on the real host */
    vinted_t *v = vinted_new("pt", VINTED_API_V2, NULL, "", NULL, err, sizeof(err));
    assert(v);
    assert(strcmp(vinted_www_base(v), "https://www.vinted.pt") == 0);
    assert(strcmp(vinted_api_base(v), "https://api.vinted.pt") == 0);
    assert(strcmp(vinted_user_agent(v), VINTED_DEFAULT_USER_AGENT) == 0);
    assert(vinted_home_url(v, url, sizeof(url)) == 0 && strcmp(url, "https://www.vinted.pt/") == 0);
    assert(vinted_catalog_url(v, 221, 3, 96, NULL, url, sizeof(url)) == 0);
    assert(strcmp(url, "https://www.vinted.pt/api/v2/catalog/items?catalog_ids=221"
                       "&order=newest_first&per_page=96&page=3") == 0);
    assert(vinted_catalog_url(v, 221, 1, 500, NULL, url, sizeof(url)) == 0 && strstr(url, "per_page=96&"));
    assert(vinted_catalog_url(v, 0, 1, 96, NULL, url, sizeof(url)) == -1);
    assert(vinted_catalog_url(v, 221, 0, 96, NULL, url, sizeof(url)) == -1);
    assert(vinted_catalog_url(v, 221, 1, 96, NULL, url, 20) == -1);
    /* v2: an open-ended band, pinned to page 1's time */
    vinted_query_t pinned = { .price_from = 7, .price_to = 0, .pin_time = 1760373805 };
    assert(vinted_catalog_url(v, 221, 2, 96, &pinned, url, sizeof(url)) == 0);
    assert(strcmp(url, "https://www.vinted.pt/api/v2/catalog/items?catalog_ids=221"
                       "&order=newest_first&per_page=96&page=2&price_from=0.07&time=1760373805") == 0);
    size_t full = strlen(url);
    assert(vinted_catalog_url(v, 221, 2, 96, &pinned, url, full) == -1);
    assert(vinted_catalog_url(v, 221, 2, 96, &pinned, url, full + 1) == 0);
    struct curl_slist *h = vinted_headers(v, VINTED_REQ_CATALOG, "abc");
    assert(h && s_has_header(h, "Accept: application/json, text/plain, */*"));
    assert(s_has_header(h, "User-Agent: " VINTED_DEFAULT_USER_AGENT));
    assert(s_has_header(h, "Accept-Language: pt-PT,pt;q=0.9"));
    assert(!s_has_name(h, "X-Anon-Id") && !s_has_name(h, "Locale") && !s_has_name(h, "Platform"));
    curl_slist_free_all(h);
    h = vinted_headers(v, VINTED_REQ_HOME, NULL);
    assert(h && s_has_name(h, "Accept") && !s_has_header(h, "Accept: application/json, text/plain, */*"));
    curl_slist_free_all(h);
    /* 404 code 104 means the v2 endpoint is gone */
    const char *gone = "{\"code\":104,\"message\":\"Not found\"}";
    assert(vinted_endpoint_gone(v, 404, gone, strlen(gone)));
    assert(!vinted_endpoint_gone(v, 404, "{\"code\":100}", 12));
    assert(!vinted_endpoint_gone(v, 404, "<html>", 6));
    vinted_destroy(&v);
    assert(v == NULL);

    /* per-site base URLs: "site=URL,...", a site without one gets the derived base */
    v = vinted_new("fr", VINTED_API_V2, "pt=http://127.0.0.1:1111,fr=http://127.0.0.2:2222", NULL, NULL, err,
                   sizeof(err));
    assert(v && strcmp(vinted_www_base(v), "http://127.0.0.2:2222") == 0);
    assert(strcmp(vinted_api_base(v), "https://api.vinted.fr") == 0);
    vinted_destroy(&v);
    v = vinted_new("de", VINTED_API_V2, "pt=http://127.0.0.1:1111,fr=http://127.0.0.2:2222", NULL, NULL, err,
                   sizeof(err));
    assert(v && strcmp(vinted_www_base(v), "https://www.vinted.de") == 0);
    vinted_destroy(&v);

    /* svc on co.uk, then against a simulator */
    v = vinted_new("co.uk", VINTED_API_SVC, NULL, NULL, "TestAgent/1", err, sizeof(err));
    assert(v && vinted_api(v) == VINTED_API_SVC && strcmp(vinted_site(v)->tld, "co.uk") == 0);
    assert(vinted_catalog_url(v, 1242, 1, 48, NULL, url, sizeof(url)) == 0);
    assert(strcmp(url, "https://api.vinted.co.uk/svc-catalogue/items?attribute_ids%5Bcatalog%5D=1242"
                       "&order=newest_first&per_page=48&page=1") == 0);
    h = vinted_headers(v, VINTED_REQ_CATALOG, "6f1c-anon");
    assert(s_has_header(h, "User-Agent: TestAgent/1"));
    assert(s_has_header(h, "Locale: en-GB") && s_has_header(h, "Platform: web"));
    assert(s_has_header(h, "X-Next-App: marketplace-web"));
    assert(s_has_header(h, "X-Anon-Id: 6f1c-anon"));
    assert(s_has_header(h, "Origin: https://www.vinted.co.uk"));
    assert(s_has_header(h, "Referer: https://www.vinted.co.uk/"));
    curl_slist_free_all(h);
    h = vinted_headers(v, VINTED_REQ_CATALOG, "bad\nvalue");
    assert(h && !s_has_name(h, "X-Anon-Id"));
    curl_slist_free_all(h);
    assert(!vinted_endpoint_gone(v, 404, gone, strlen(gone))); /* not the v2 path */
    /* the tracking sources live on the www host in both generations */
    assert(vinted_user_items_url(v, 12345678901LL, 2, 96, url, sizeof(url)) == 0);
    assert(strcmp(url, "https://www.vinted.co.uk/api/v2/users/12345678901/items?page=2&per_page=96"
                       "&order=newest_first") == 0);
    assert(vinted_user_items_url(v, 7, 1, 500, url, sizeof(url)) == 0 && strstr(url, "per_page=96&"));
    assert(vinted_user_items_url(v, 7, 1, 0, url, sizeof(url)) == 0 && strstr(url, "per_page=1&"));
    assert(vinted_user_items_url(v, 0, 1, 96, url, sizeof(url)) == -1);
    assert(vinted_user_items_url(v, -4, 1, 96, url, sizeof(url)) == -1);
    assert(vinted_user_items_url(v, 7, 0, 96, url, sizeof(url)) == -1);
    volatile size_t small = 30; /* opaque to the compiler: the truncation is the point */
    assert(vinted_user_items_url(v, 7, 1, 96, url, small) == -1);
    assert(vinted_user_url(v, 12345678901LL, url, sizeof(url)) == 0);
    assert(strcmp(url, "https://www.vinted.co.uk/api/v2/users/12345678901") == 0);
    assert(vinted_user_url(v, 0, url, sizeof(url)) == -1);
    assert(vinted_catalogs_url(v, url, sizeof(url)) == 0);
    assert(strcmp(url, "https://www.vinted.co.uk/api/v2/catalogs") == 0);
    assert(vinted_catalogs_url(v, url, 20) == -1);
    assert(vinted_user_url(v, -3, url, sizeof(url)) == -1);
    small = 36; /* "https://www.vinted.co.uk/api/v2/users/7" needs 40 */
    assert(vinted_user_url(v, 7, url, small) == -1);
    assert(vinted_item_page_url(v, 7340954839LL, url, sizeof(url)) == 0);
    assert(strcmp(url, "https://www.vinted.co.uk/items/7340954839") == 0);
    assert(vinted_item_page_url(v, 0, url, sizeof(url)) == -1);
    small = 10;
    assert(vinted_item_page_url(v, 1, url, small) == -1);
    /* a www v2 call carries no svc headers even in svc mode */
    h = vinted_headers(v, VINTED_REQ_WWW_API, "6f1c-anon");
    assert(h && s_has_header(h, "Accept: application/json, text/plain, */*"));
    assert(s_has_header(h, "Referer: https://www.vinted.co.uk/") && s_has_name(h, "User-Agent"));
    assert(!s_has_name(h, "X-Anon-Id") && !s_has_name(h, "Platform") && !s_has_name(h, "Locale"));
    curl_slist_free_all(h);
    /* the item page is a navigation: HTML first */
    h = vinted_headers(v, VINTED_REQ_ITEM_PAGE, NULL);
    assert(h && s_has_header(h, "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,"
                                "*/*;q=0.8"));
    assert(s_has_header(h, "Referer: https://www.vinted.co.uk/") && !s_has_name(h, "Platform"));
    curl_slist_free_all(h);
    vinted_destroy(&v);

    v = vinted_new("pt", VINTED_API_SVC, "http://127.0.0.1:8123/", "http://127.0.0.1:8123//",
                   NULL, err, sizeof(err));
    assert(v);
    assert(vinted_home_url(v, url, sizeof(url)) == 0 && strcmp(url, "http://127.0.0.1:8123/") == 0);
    assert(vinted_catalog_url(v, 221, 2, 96, NULL, url, sizeof(url)) == 0);
    assert(strcmp(url, "http://127.0.0.1:8123/svc-catalogue/items?attribute_ids%5Bcatalog%5D=221"
                       "&order=newest_first&per_page=96&page=2") == 0);
    /* svc: a price band, and no time (the endpoint takes none) */
    vinted_query_t band = { .price_from = 1250, .price_to = 4000, .pin_time = 1760373805 };
    assert(vinted_catalog_url(v, 221, 2, 96, &band, url, sizeof(url)) == 0);
    assert(strcmp(url, "http://127.0.0.1:8123/svc-catalogue/items?attribute_ids%5Bcatalog%5D=221"
                       "&order=newest_first&per_page=96&page=2&price_from=12.50&price_to=40.00") == 0);
    band.price_to = 1000; /* below price_from */
    assert(vinted_catalog_url(v, 221, 2, 96, &band, url, sizeof(url)) == -1);
    h = vinted_headers(v, VINTED_REQ_CATALOG, NULL);
    assert(s_has_header(h, "Origin: http://127.0.0.1:8123") && !s_has_name(h, "X-Anon-Id"));
    assert(s_has_header(h, "Locale: pt-PT"));
    curl_slist_free_all(h);
    vinted_destroy(&v);

    /* a page cut short has no closing tag */
    const char *html = "<!DOCTYPE html><html><body><script type=\"application/ld+json\">{}</script>"
                       "</body></HTML>\n";
    assert(vinted_html_complete(html, strlen(html)));
    assert(!vinted_html_complete(html, strlen(html) / 2));
    assert(!vinted_html_complete("", 0) && !vinted_html_complete(NULL, 0));

    /* profile bodies: one object with a user object, nothing else */
    char why[128];
    const char *prof = "{\"user\":{\"id\":7,\"login\":\"ana\"},\"code\":0}\n";
    assert(vinted_user_body_ok(prof, strlen(prof), why, sizeof(why)));
    assert(!vinted_user_body_ok(prof, strlen(prof) / 2, why, sizeof(why)) && strstr(why, "not JSON"));
    assert(!vinted_user_body_ok("{\"user\":{}} x", 14, why, sizeof(why)) && strstr(why, "trailing"));
    assert(!vinted_user_body_ok("{\"code\":104}", 12, why, sizeof(why)) && strstr(why, "no user"));
    assert(!vinted_user_body_ok("{\"user\":5}", 10, why, sizeof(why)) && strstr(why, "no user"));
    assert(!vinted_user_body_ok("[1]", 3, why, sizeof(why)) && strstr(why, "not a JSON object"));
    assert(!vinted_user_body_ok(NULL, 0, why, sizeof(why)) && strstr(why, "empty"));
    /* the catalog tree: flat (object) or nested (array) */
    assert(vinted_catalogs_body_ok("{\"catalogs\":[]}", 15, why, sizeof(why)));
    assert(vinted_catalogs_body_ok("{\"catalogs\":{\"4\":{}}} ", 22, why, sizeof(why)));
    assert(!vinted_catalogs_body_ok("{\"catalogs\":3}", 14, why, sizeof(why))
           && strstr(why, "no catalogs"));
    assert(!vinted_catalogs_body_ok("{\"catalogs\":[", 13, why, sizeof(why))
           && strstr(why, "not JSON"));
    assert(!vinted_catalogs_body_ok("[]", 2, why, sizeof(why)) && strstr(why, "not a JSON object"));

    /* error bodies */
    assert(vinted_error_code("{\"code\":106}", 12) == 106);
    assert(vinted_error_code("{\"code\":\"106\"}", 14) == -1);
    assert(vinted_error_code("{\"code\":1.5}", 12) == -1);
    assert(vinted_error_code("[1]", 3) == -1 && vinted_error_code("{\"code\":", 8) == -1);
    assert(vinted_error_code(NULL, 0) == -1);
    const char *cf = "<!DOCTYPE html><title>Attention Required! | Cloudflare</title>"
                     "<div id=\"cf-error-details\">Sorry, you have been blocked</div>";
    assert(vinted_classify_block(cf, strlen(cf)) == VINTED_BLOCK_CLOUDFLARE);
    const char *dd = "<html><script>var dd={'rt':'c','cid':'x','host':'geo.captcha-delivery.com'}"
                     "</script><script src=\"https://ct.captcha-delivery.com/c.js\"></script></html>";
    assert(vinted_classify_block(dd, strlen(dd)) == VINTED_BLOCK_DATADOME);
    const char *ddj = "{\"url\":\"https://geo.captcha-delivery.com/captcha/?initialCid=x\"}";
    assert(vinted_classify_block(ddj, strlen(ddj)) == VINTED_BLOCK_DATADOME);
    const char *c106 = "{\"code\":106,\"message\":\"Forbidden\"}";
    assert(vinted_classify_block(c106, strlen(c106)) == VINTED_BLOCK_CODE106);
    assert(vinted_classify_block("Forbidden", 9) == VINTED_BLOCK_UNKNOWN);
    assert(vinted_classify_block(NULL, 0) == VINTED_BLOCK_UNKNOWN);
    /* a needle beyond len is not seen */
    assert(vinted_classify_block(cf, 10) == VINTED_BLOCK_UNKNOWN);
    assert(strcmp(vinted_block_name(VINTED_BLOCK_DATADOME), "datadome") == 0);

    if (verbose)
        printf("OK\n");
}
