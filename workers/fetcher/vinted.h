/*  vinted.h - everything the fetcher knows about the Vinted web API, in one
    place because Vinted changes it without notice: the valid sites and their
    currency and locale, the www and api hosts (overridable, tests point them
    at a simulator), the two catalog-search generations (v2 and svc-catalogue),
    the tracking flow's sources (a seller's item list and profile, the public
    item page),
    the request headers each needs, and how to read the error bodies Vinted
    answers with (403 block pages, {"code":104} for a retired endpoint).
*/
#ifndef VINTED_H_INCLUDED
#define VINTED_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <curl/curl.h>

#define VINTED_MAX_PER_PAGE 96  /* larger values are cut to 96 by the API */
#define VINTED_MAX_RESULTS 960  /* one query reaches at most 10 pages of 96 */
#define VINTED_USER_MAX_PAGES 10 /* a seller's item list is read this deep at most */

/* Session cookies set by the www home page. */
#define VINTED_COOKIE_ACCESS "access_token_web"
#define VINTED_COOKIE_REFRESH "refresh_token_web"
#define VINTED_COOKIE_ANON "anon_id"

/* A desktop browser identity; VINTED_USER_AGENT overrides it. */
#define VINTED_DEFAULT_USER_AGENT                                                  \
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like " \
    "Gecko) Chrome/142.0.0.0 Safari/537.36"

/* The catalog-search generation. */
typedef enum {
    VINTED_API_V2 = 0,  /* GET {www}/api/v2/catalog/items (until September 2026) */
    VINTED_API_SVC = 1, /* GET {api}/svc-catalogue/items (since September 2026) */
} vinted_api_t;

/* What a request is for: decides its headers. */
typedef enum {
    VINTED_REQ_HOME = 0,    /* the www home page: a browser navigation */
    VINTED_REQ_CATALOG = 1, /* a catalog search: an XHR from the web app */
    VINTED_REQ_WWW_API = 2, /* a v2 API call on the www host (seller items, profile), in both generations */
    VINTED_REQ_ITEM_PAGE = 3, /* the public item page: a browser navigation, like the home page */
} vinted_req_t;

/* What a 403 answer is. */
typedef enum {
    VINTED_BLOCK_UNKNOWN = 0,
    VINTED_BLOCK_CLOUDFLARE = 1, /* Cloudflare challenge/ban HTML */
    VINTED_BLOCK_DATADOME = 2,   /* DataDome captcha page or JSON */
    VINTED_BLOCK_CODE106 = 3,    /* Vinted's own {"code":106} */
} vinted_block_t;

typedef struct {
    const char *tld;      /* "pt", "co.uk", ... */
    const char *currency; /* ISO 4217 */
    const char *locale;   /* for the svc Locale header: "pt-PT" */
} vinted_site_t;

typedef struct _vinted_t vinted_t;

/* The site with this tld, or NULL. */
const vinted_site_t *vinted_site_find(const char *tld);
/* "pt, fr, de, ..." - every valid site, for error messages. */
const char *vinted_site_list(void);

/* "v2" / "svc" <-> enum; 0 ok, -1 unknown name. */
int vinted_api_from_name(const char *name, vinted_api_t *out);
const char *vinted_api_name(vinted_api_t api);
#define VINTED_API_LIST "v2, svc"

/* Settings for one site. www_setting and api_setting override the derived bases
   when non-NULL and non-empty: one URL for every site (scheme://host[:port], a
   trailing slash is dropped), or per site, "pt=URL,fr=URL" (a site not named
   gets the derived base); user_agent NULL or empty means the default. NULL
   with a reason in err when the site is unknown or a URL is not http(s). */
vinted_t *vinted_new(const char *site, vinted_api_t api, const char *www_setting,
                     const char *api_setting, const char *user_agent, char *err, size_t errlen);
void vinted_destroy(vinted_t **self_p);

const vinted_site_t *vinted_site(const vinted_t *self);
vinted_api_t vinted_api(const vinted_t *self);
const char *vinted_www_base(const vinted_t *self);
const char *vinted_api_base(const vinted_t *self);
const char *vinted_user_agent(const vinted_t *self);

/* The www home page that opens an anonymous session: "{www}/". */
int vinted_home_url(const vinted_t *self, char *buf, size_t size);
/* What narrows a catalog query: a price band (a window split past the 960-result
   cap) and the result set's time (later pages of one paging run pinned to page 1's). */
typedef struct {
    int64_t price_from; /* minor units (scale 2), 0: no lower bound */
    int64_t price_to;   /* minor units, 0: no upper bound */
    int64_t pin_time;   /* unix s, 0: none; v2 only (svc-catalogue takes no time) */
} vinted_query_t;

/* The newest listings of one catalog, query parameters in a fixed order:
     v2:  {www}/api/v2/catalog/items?catalog_ids=C&order=newest_first&per_page=N&page=P
     svc: {api}/svc-catalogue/items?attribute_ids%5Bcatalog%5D=C&order=newest_first&per_page=N&page=P
   then, from q (NULL: none), &price_from=12.50&price_to=40.00 (currency units) and,
   for v2, &time=T. per_page is clamped to 1..96. 0 ok, -1 if it does not fit or an
   argument is out of range. */
int vinted_catalog_url(const vinted_t *self, int32_t catalog_id, int32_t page, int32_t per_page,
                       const vinted_query_t *q, char *buf, size_t size);

/* A seller's items, newest first, on the www host whatever the generation:
     {www}/api/v2/users/U/items?page=P&per_page=N&order=newest_first
   per_page is clamped to 1..96. 0 ok, -1 if it does not fit or user_id/page is out of range. */
int vinted_user_items_url(const vinted_t *self, int64_t user_id, int32_t page, int32_t per_page,
                          char *buf, size_t size);
/* A seller's public profile (counters, feedback, location), on the www host
   whatever the generation: {www}/api/v2/users/U -> {user:{...}}.
   0 ok, -1 if it does not fit or user_id <= 0. */
int vinted_user_url(const vinted_t *self, int64_t user_id, char *buf, size_t size);
/* True if a profile body is one complete JSON object holding a "user" object
   (nothing but white space after it); false with the reason in err otherwise. */
bool vinted_user_body_ok(const char *body, size_t len, char *err, size_t errlen);
/* The site's catalog tree, on the www host whatever the generation:
   {www}/api/v2/catalogs. 0 ok, -1 if it does not fit. */
int vinted_catalogs_url(const vinted_t *self, char *buf, size_t size);
/* True if a catalog-tree body is one complete JSON object holding "catalogs"
   as an object (flat form) or an array (nested form); false with the reason otherwise. */
bool vinted_catalogs_body_ok(const char *body, size_t len, char *err, size_t errlen);
/* The public page of one item (HTML with the item in JSON-LD): {www}/items/I.
   0 ok, -1 if it does not fit or item_id <= 0. */
int vinted_item_page_url(const vinted_t *self, int64_t item_id, char *buf, size_t size);

/* True if an HTML body looks complete: it carries a closing </html> tag
   (a page cut short in transit does not). */
bool vinted_html_complete(const char *body, size_t len);

/* The request headers for this kind of request; anon_id (may be NULL) feeds
   X-Anon-Id on svc catalog requests. Caller frees with curl_slist_free_all. */
struct curl_slist *vinted_headers(const vinted_t *self, vinted_req_t req, const char *anon_id);

/* The integer "code" of a JSON error body such as {"code":104,...}; -1 if none. */
int64_t vinted_error_code(const char *body, size_t len);
/* What kind of 403 page this is. */
vinted_block_t vinted_classify_block(const char *body, size_t len);
const char *vinted_block_name(vinted_block_t block);
/* True if a 404 on the v2 catalog path says the endpoint is retired (code 104). */
bool vinted_endpoint_gone(const vinted_t *self, long status, const char *body, size_t len);

void vinted_test(bool verbose);

#endif
