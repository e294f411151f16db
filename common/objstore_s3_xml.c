/*  objstore_s3_xml.c - the S3 answers of objstore_s3_xml.h, read with a minimal XML
    scanner: the text of <tag>...</tag> with entities decoded. S3 answers are flat
    and machine-written, so finding elements by name is enough; no DTDs, no CDATA.
*/
#include "common/objstore_s3_xml.h"

#include <assert.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------- */
/* minimal XML: the text of <tag>...</tag> with entities decoded */

/* Append the UTF-8 encoding of code point cp. */
static int s_utf8_put(objstore_buf_t *b, uint32_t cp)
{
    unsigned char u[4];
    size_t n;
    if (cp < 0x80) {
        u[0] = (unsigned char) cp;
        n = 1;
    }
    else if (cp < 0x800) {
        u[0] = (unsigned char) (0xC0 | (cp >> 6));
        u[1] = (unsigned char) (0x80 | (cp & 0x3F));
        n = 2;
    }
    else if (cp < 0x10000) {
        u[0] = (unsigned char) (0xE0 | (cp >> 12));
        u[1] = (unsigned char) (0x80 | ((cp >> 6) & 0x3F));
        u[2] = (unsigned char) (0x80 | (cp & 0x3F));
        n = 3;
    }
    else {
        u[0] = (unsigned char) (0xF0 | (cp >> 18));
        u[1] = (unsigned char) (0x80 | ((cp >> 12) & 0x3F));
        u[2] = (unsigned char) (0x80 | ((cp >> 6) & 0x3F));
        u[3] = (unsigned char) (0x80 | (cp & 0x3F));
        n = 4;
    }
    return objstore_buf_add(b, u, n);
}

/* Decode the character data [p, end) (entities: the five predefined ones, &#N; and
   &#xH;) into a malloc'ed string. NULL with a reason on a bad entity. */
static char *s_xml_text(const char *p, const char *end, char *err, size_t errlen)
{
    objstore_buf_t b = { 0 };
    if (objstore_buf_add(&b, "", 0))
        goto nomem;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t) (end - p));
        const char *stop = amp ? amp : end;
        if (objstore_buf_add(&b, p, (size_t) (stop - p)))
            goto nomem;
        if (!amp)
            break;
        const char *semi = memchr(amp, ';', (size_t) (end - amp));
        if (!semi || semi - amp > 12) {
            objstore_backend_fail(err, errlen, "XML: unterminated entity");
            goto fail;
        }
        size_t n = (size_t) (semi - amp - 1);
        const char *name = amp + 1;
        static const struct {
            const char *name;
            char c;
        } named[] = { { "amp", '&' }, { "lt", '<' }, { "gt", '>' }, { "quot", '"' }, { "apos", '\'' } };
        bool done = false;
        for (size_t i = 0; i < sizeof named / sizeof named[0] && !done; i++)
            if (strlen(named[i].name) == n && memcmp(name, named[i].name, n) == 0) {
                if (objstore_buf_add(&b, &named[i].c, 1))
                    goto nomem;
                done = true;
            }
        if (!done && n >= 2 && name[0] == '#') {
            bool hex = name[1] == 'x' || name[1] == 'X';
            const char *digits = name + (hex ? 2 : 1);
            uint32_t cp = 0;
            bool ok = digits < semi;
            for (const char *d = digits; d < semi && ok; d++) {
                int v = isdigit((unsigned char) *d) ? *d - '0'
                        : hex && isxdigit((unsigned char) *d) ? tolower((unsigned char) *d) - 'a' + 10
                                                              : -1;
                if (v < 0 || cp > 0x10FFFF)
                    ok = false;
                else
                    cp = cp * (hex ? 16 : 10) + (uint32_t) v;
            }
            if (!ok || cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
                objstore_backend_fail(err, errlen, "XML: bad character reference &%.*s;", (int) n, name);
                goto fail;
            }
            if (s_utf8_put(&b, cp))
                goto nomem;
            done = true;
        }
        if (!done) {
            objstore_backend_fail(err, errlen, "XML: unknown entity &%.*s;", (int) n, name);
            goto fail;
        }
        p = semi + 1;
    }
    return b.data;
nomem:
    objstore_backend_fail(err, errlen, "out of memory");
fail:
    objstore_buf_free(&b);
    return NULL;
}

/* Find <tag>text</tag> in [from, end): sets the text span and returns the end of the
   element, or NULL when there is none. */
static const char *s_xml_find(const char *from, const char *end, const char *tag, const char **text,
                              const char **text_end)
{
    char open[64], close[64];
    snprintf(open, sizeof open, "<%s>", tag);
    snprintf(close, sizeof close, "</%s>", tag);
    size_t on = strlen(open), cn = strlen(close);
    const char *o = from;
    while (o && (size_t) (end - o) >= on && memcmp(o, open, on) != 0)
        o = memchr(o + 1, '<', (size_t) (end - o - 1));
    if (!o || (size_t) (end - o) < on)
        return NULL;
    const char *t = o + on;
    const char *c = t;
    while (c && (size_t) (end - c) >= cn && memcmp(c, close, cn) != 0)
        c = memchr(c + 1, '<', (size_t) (end - c - 1));
    if (!c || (size_t) (end - c) < cn)
        return NULL;
    *text = t;
    *text_end = c;
    return c + cn;
}

void objstore_s3_xml_page_free(objstore_s3_xml_page_t *page)
{
    objstore_backend_entries_free(&page->entries);
    free(page->next_token);
    page->next_token = NULL;
}

int objstore_s3_xml_list_parse(const char *xml, size_t len, objstore_s3_xml_page_t *page, char *err, size_t errlen)
{
    memset(page, 0, sizeof *page);
    const char *end = xml + len;
    const char *t, *te;
    if (!memmem(xml, len, "<ListBucketResult", strlen("<ListBucketResult")))
        return objstore_backend_fail(err, errlen, "list response is not a ListBucketResult: %.80s", xml);
    const char *p = xml;
    const char *next;
    while ((next = s_xml_find(p, end, "Contents", &t, &te))) {
        const char *kt, *kte, *st, *ste;
        if (!s_xml_find(t, te, "Key", &kt, &kte) || !s_xml_find(t, te, "Size", &st, &ste)) {
            objstore_s3_xml_page_free(page);
            return objstore_backend_fail(err, errlen, "list response: <Contents> without <Key> or <Size>");
        }
        char *key = s_xml_text(kt, kte, err, errlen);
        if (!key) {
            objstore_s3_xml_page_free(page);
            return -1;
        }
        int64_t size = 0;
        bool ok = st < ste;
        for (const char *d = st; d < ste && ok; d++) {
            if (!isdigit((unsigned char) *d) || size > (INT64_MAX - 9) / 10)
                ok = false;
            else
                size = size * 10 + (*d - '0');
        }
        if (!ok) {
            free(key);
            objstore_s3_xml_page_free(page);
            return objstore_backend_fail(err, errlen, "list response: bad <Size> \"%.*s\"",
                                         (int) (ste - st > 30 ? 30 : ste - st), st);
        }
        if (objstore_backend_entries_add(&page->entries, key, size)) {
            free(key);
            objstore_s3_xml_page_free(page);
            return objstore_backend_fail(err, errlen, "out of memory");
        }
        p = next;
    }
    if (s_xml_find(xml, end, "IsTruncated", &t, &te))
        page->truncated = te - t == 4 && memcmp(t, "true", 4) == 0;
    if (s_xml_find(xml, end, "NextContinuationToken", &t, &te)) {
        page->next_token = s_xml_text(t, te, err, errlen);
        if (!page->next_token) {
            objstore_s3_xml_page_free(page);
            return -1;
        }
    }
    if (page->truncated && (!page->next_token || !*page->next_token)) {
        objstore_s3_xml_page_free(page);
        return objstore_backend_fail(err, errlen, "list response is truncated but has no NextContinuationToken");
    }
    return 0;
}

void objstore_s3_xml_error_text(const objstore_buf_t *body, char *out, size_t size)
{
    out[0] = '\0';
    if (!body->data || body->len == 0)
        return;
    const char *end = body->data + body->len;
    const char *ct, *cte, *mt, *mte;
    bool code = s_xml_find(body->data, end, "Code", &ct, &cte) != NULL;
    bool msg = s_xml_find(body->data, end, "Message", &mt, &mte) != NULL;
    if (code && msg)
        snprintf(out, size, " %.*s (%.*s)", (int) (cte - ct > 64 ? 64 : cte - ct), ct,
                 (int) (mte - mt > 200 ? 200 : mte - mt), mt);
    else if (code)
        snprintf(out, size, " %.*s", (int) (cte - ct > 64 ? 64 : cte - ct), ct);
}

bool objstore_s3_xml_error_is(const objstore_buf_t *body, const char *code)
{
    const char *ct, *cte;
    if (!body->data || !s_xml_find(body->data, body->data + body->len, "Code", &ct, &cte))
        return false;
    return (size_t) (cte - ct) == strlen(code) && memcmp(ct, code, strlen(code)) == 0;
}

/* ------------------------------------------------------------------------- */
/* self-test */

void objstore_s3_xml_test(bool verbose)
{
    char err[256];
    const char *xml =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
        "<Name>vinted</Name><Prefix>raw/</Prefix><KeyCount>3</KeyCount><MaxKeys>3</MaxKeys>"
        "<IsTruncated>true</IsTruncated>"
        "<Contents><Key>raw/a&amp;b &lt;1&gt; &quot;q&quot; &apos;s&apos;</Key>"
        "<LastModified>2026-11-25T17:00:00.000Z</LastModified><ETag>&quot;9a0364b9e99bb480dd25e1f0284c8555&quot;</ETag>"
        "<Size>7</Size><StorageClass>STANDARD</StorageClass></Contents>"
        "<Contents><Key>raw/&#252;&#x2b;&#X1F600;</Key><Size>0</Size></Contents>"
        "<Contents>\n  <Key>raw/z</Key>\n  <Size>12345678901</Size>\n</Contents>"
        "<NextContinuationToken>1/abc+def=&amp;</NextContinuationToken>"
        "</ListBucketResult>";
    objstore_s3_xml_page_t page;
    assert(objstore_s3_xml_list_parse(xml, strlen(xml), &page, err, sizeof err) == 0);
    assert(page.entries.n == 3);
    assert(strcmp(page.entries.v[0].key, "raw/a&b <1> \"q\" 's'") == 0 && page.entries.v[0].size == 7);
    assert(strcmp(page.entries.v[1].key, "raw/\xc3\xbc+\xf0\x9f\x98\x80") == 0 && page.entries.v[1].size == 0);
    assert(strcmp(page.entries.v[2].key, "raw/z") == 0 && page.entries.v[2].size == 12345678901LL);
    assert(page.truncated && strcmp(page.next_token, "1/abc+def=&") == 0);
    objstore_s3_xml_page_free(&page);

    const char *last = "<ListBucketResult><IsTruncated>false</IsTruncated><KeyCount>0</KeyCount></ListBucketResult>";
    assert(objstore_s3_xml_list_parse(last, strlen(last), &page, err, sizeof err) == 0);
    assert(page.entries.n == 0 && !page.truncated && page.next_token == NULL);
    objstore_s3_xml_page_free(&page);

    const char *bad[] = {
        "<Error><Code>AccessDenied</Code></Error>",
        "<ListBucketResult><Contents><Key>a</Key></Contents></ListBucketResult>",
        "<ListBucketResult><Contents><Key>a</Key><Size>-1</Size></Contents></ListBucketResult>",
        "<ListBucketResult><Contents><Key>a&bogus;</Key><Size>1</Size></Contents></ListBucketResult>",
        "<ListBucketResult><Contents><Key>a&#0;</Key><Size>1</Size></Contents></ListBucketResult>",
        "<ListBucketResult><Contents><Key>a&#xD800;</Key><Size>1</Size></Contents></ListBucketResult>",
        "<ListBucketResult><Contents><Key>a &amp</Key><Size>1</Size></Contents></ListBucketResult>",
        "<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        assert(objstore_s3_xml_list_parse(bad[i], strlen(bad[i]), &page, err, sizeof err) == -1);
        assert(err[0] && page.entries.n == 0 && page.next_token == NULL);
        if (verbose)
            printf("  refused XML %zu: %s\n", i, err);
    }

    objstore_buf_t body = { 0 };
    const char *e = "<?xml version=\"1.0\"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate."
                    "</Message></Error>";
    assert(objstore_buf_str(&body, e) == 0);
    char text[300];
    objstore_s3_xml_error_text(&body, text, sizeof text);
    assert(strcmp(text, " SlowDown (Please reduce your request rate.)") == 0);
    assert(objstore_s3_xml_error_is(&body, "SlowDown") && !objstore_s3_xml_error_is(&body, "Slow"));
    objstore_buf_free(&body);
}
