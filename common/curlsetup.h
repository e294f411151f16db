/*  curlsetup.h - the libcurl easy-handle settings the HTTP clients share (the
    fetcher's Vinted session, the store stage's CDN client, the S3 object
    store): no signals (the handles live in threads), a timeout for the whole
    request (or none: the S3 store bounds slow transfers by their speed) and a
    shorter one to connect, http and https only, the body and header callbacks,
    a buffer for curl's error text, and a progress callback that pumps the
    caller's gate at least every CURLSETUP_PUMP_MS during a transfer, so that
    heartbeats go on while a slow server answers; when the pump fails the
    transfer is aborted and marked abandoned. And the body buffer a body
    callback fills.

        self->pump = (curlsetup_pump_t) { gate->pump, gate->ctx };     once
        rc |= curlsetup_handle(c, timeout_ms, s_on_body, s_on_header, self, &self->pump, self->errbuf);
        curlsetup_pump_start(&self->pump, clock_mono_ms());          before each transfer
        curl_easy_perform(c);
        if (self->pump.abandoned) ...                                 the gate failed
*/
#ifndef CURLSETUP_H_INCLUDED
#define CURLSETUP_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <curl/curl.h>

#define CURLSETUP_PUMP_MS 200          /* pump the gate at least this often during a transfer */
#define CURLSETUP_CONNECT_MAX_MS 10000 /* connecting may take this long (or the whole timeout if shorter) */

/* The gate pumped during a transfer, and what became of it. */
typedef struct {
    int (*pump)(void *ctx); /* 0 to go on, else the transfer is aborted; NULL: never pumped */
    void *ctx;
    int64_t last_ms;        /* the last pump, or the transfer's start (monotonic ms) */
    bool abandoned;         /* the pump failed during this transfer */
} curlsetup_pump_t;

/* Set the shared options on c: timeout_ms bounds a whole request, connecting at
   most CURLSETUP_CONNECT_MAX_MS of it (timeout_ms <= 0: no bound on the whole
   request, connecting CURLSETUP_CONNECT_MAX_MS); on_body and on_header get ctx
   (on_header NULL: no header callback); the progress callback pumps *pump
   (kept by the caller for the handle's life; NULL: no progress callback);
   errbuf (CURL_ERROR_SIZE bytes) gets curl's error text. The codes of every
   setting or'ed together: CURLE_OK when all were taken. */
CURLcode curlsetup_handle(CURL *c, int64_t timeout_ms, curl_write_callback on_body,
                          curl_write_callback on_header, void *ctx, curlsetup_pump_t *pump, char *errbuf);

/* Before each transfer: not abandoned, the next pump CURLSETUP_PUMP_MS after now_ms. */
void curlsetup_pump_start(curlsetup_pump_t *pump, int64_t now_ms);

/* For a body callback: buf with room for need bytes. buf itself while its capacity
   *cap is enough, else buf grown (the capacity doubled from 64 KiB until need fits)
   and *cap updated; NULL when out of memory (buf and *cap as they were). */
void *curlsetup_grow(void *buf, size_t *cap, size_t need);

/* The body of one transfer, filled by curlsetup_body_add from a body callback. */
typedef struct {
    char *data;     /* the bytes so far with a NUL after them (not counted in len); NULL: none yet */
    size_t len;
    size_t cap;     /* the bytes data has room for (curlsetup_grow); 0 at a transfer's start */
    size_t max;     /* a longer body is refused */
    bool too_large; /* ... and this one was: the transfer was aborted */
} curlsetup_body_t;

/* For a body callback: append n bytes of data to body (grown as curlsetup_grow
   does) and keep a NUL after them. n, or 0 (which aborts the transfer) when out
   of memory or when the body would pass body->max bytes (too_large set). */
size_t curlsetup_body_add(curlsetup_body_t *body, const char *data, size_t n);

void curlsetup_test(bool verbose);

#endif
