/*  jsonmem.h - where cJSON's memory comes from in the transformer: a bump arena
    for the page being parsed, given back all at once when the page is done,
    instead of one malloc and one free per JSON node and string (a catalog page
    is some 30,000 of them, and malloc/free were a third of the transformer's
    CPU time).

    cJSON's allocation hooks are process-wide, so the arena is too:
        jsonmem_install(4 << 20);  at start: cJSON allocates from the arena
        ... parse a page, copy what is kept into the batch ...
        jsonmem_release();         after each page: everything cJSON allocated is gone
        jsonmem_uninstall();       back to malloc/free (the arena is freed)
    Nothing cJSON allocated (trees, printed text) may be used after
    jsonmem_release; cJSON_Delete and cJSON_free are harmless no-ops meanwhile.
    Up to `keep` bytes of blocks stay allocated between pages, so a steady stream
    of pages allocates nothing; a bigger page's extra blocks are freed.
*/
#ifndef JSONMEM_H_INCLUDED
#define JSONMEM_H_INCLUDED

#include <stdbool.h>
#include <stddef.h>

/* Route cJSON's allocations to the arena, keeping up to keep bytes between pages. */
void jsonmem_install(size_t keep);

/* Free everything cJSON allocated since the last release (blocks up to keep stay). */
void jsonmem_release(void);

/* cJSON allocates with malloc/free again; the arena's blocks are freed. */
void jsonmem_uninstall(void);

/* Bytes handed out since the last release, and the most ever between two releases. */
size_t jsonmem_used(void);
size_t jsonmem_peak(void);

void jsonmem_test(bool verbose);

#endif
