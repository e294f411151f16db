/*  jsonmem.c - cJSON's memory in the transformer: a bump arena (see jsonmem.h). */
#include "jsonmem.h"

#include <assert.h>
#include <cjson/cJSON.h>
#include <stdalign.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_BLOCK (256u << 10) /* a block's usual size */
#define S_ALIGN 8u           /* cJSON stores pointers, doubles and ints */

typedef struct s_block {
    struct s_block *next;
    size_t size; /* bytes of data */
    size_t used;
    alignas(16) unsigned char data[];
} s_block_t;

/* cJSON's hooks take no context: the arena is the process's one. */
static struct {
    bool installed;
    size_t keep;       /* bytes of blocks kept between pages */
    s_block_t *head;   /* block being filled; older ones behind it */
    s_block_t *spare;  /* kept blocks, S_BLOCK each, ready for reuse */
    size_t used, peak; /* bytes handed out since the last release; most ever */
} s_arena;

static s_block_t *s_block_new(size_t size)
{
    s_block_t *b = malloc(sizeof *b + size);
    if (b) {
        b->next = NULL;
        b->size = size;
        b->used = 0;
    }
    return b;
}

static void *s_malloc(size_t size)
{
    size = size ? (size + S_ALIGN - 1) & ~(size_t)(S_ALIGN - 1) : S_ALIGN;
    if (size < S_ALIGN) /* wrapped: cannot be had */
        return NULL;
    s_block_t *b = s_arena.head;
    if (!b || b->size - b->used < size) {
        if (size > S_BLOCK / 4) {
            /* a big piece gets its own block, behind the head, whose room stays in use */
            b = s_block_new(size);
            if (!b)
                return NULL;
            if (s_arena.head) {
                b->next = s_arena.head->next;
                s_arena.head->next = b;
            }
            else
                s_arena.head = b;
        }
        else {
            if (s_arena.spare) {
                b = s_arena.spare;
                s_arena.spare = b->next;
                b->used = 0;
            }
            else if (!(b = s_block_new(S_BLOCK)))
                return NULL;
            b->next = s_arena.head;
            s_arena.head = b;
        }
    }
    void *p = b->data + b->used;
    b->used += size;
    s_arena.used += size;
    if (s_arena.used > s_arena.peak)
        s_arena.peak = s_arena.used;
    return p;
}

static void s_free(void *p)
{
    (void)p; /* given back with the whole arena */
}

void jsonmem_release(void)
{
    size_t kept = 0;
    for (s_block_t *b = s_arena.spare; b; b = b->next)
        kept += b->size;
    s_block_t *b = s_arena.head;
    while (b) {
        s_block_t *next = b->next;
        if (b->size == S_BLOCK && kept + b->size <= s_arena.keep) {
            b->next = s_arena.spare;
            s_arena.spare = b;
            kept += b->size;
        }
        else
            free(b);
        b = next;
    }
    s_arena.head = NULL;
    s_arena.used = 0;
}

void jsonmem_install(size_t keep)
{
#ifdef __SANITIZE_ADDRESS__
    keep = 0; /* every block freed at release: ASan then catches a use after release */
#endif
    s_arena.keep = keep;
    s_arena.installed = true;
    cJSON_Hooks hooks = {s_malloc, s_free};
    cJSON_InitHooks(&hooks);
}

void jsonmem_uninstall(void)
{
    cJSON_InitHooks(NULL);
    s_arena.keep = 0;
    jsonmem_release();
    while (s_arena.spare) {
        s_block_t *next = s_arena.spare->next;
        free(s_arena.spare);
        s_arena.spare = next;
    }
    s_arena.installed = false;
    s_arena.peak = 0;
}

size_t jsonmem_used(void)
{
    return s_arena.used;
}

size_t jsonmem_peak(void)
{
    return s_arena.peak;
}

void jsonmem_test(bool verbose)
{
    jsonmem_install(2 * S_BLOCK);
    assert(jsonmem_used() == 0);
    /* a tree parsed, read, printed, deleted: all from the arena */
    const char *text = "{\"items\":[{\"id\":7,\"title\":\"caf\\u00e9\",\"photos\":[{\"id\":1}]},"
                       "{\"id\":8,\"title\":null}],\"code\":0}";
    for (int round = 0; round < 3; round++) {
        cJSON *root = cJSON_Parse(text);
        assert(root && jsonmem_used() > 0);
        const cJSON *items = cJSON_GetObjectItemCaseSensitive(root, "items");
        assert(cJSON_GetArraySize(items) == 2);
        const cJSON *title = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(items, 0), "title");
        assert(cJSON_IsString(title) && strcmp(title->valuestring, "caf\xc3\xa9") == 0);
        char *printed = cJSON_PrintUnformatted(cJSON_GetArrayItem(items, 1));
        assert(printed && strcmp(printed, "{\"id\":8,\"title\":null}") == 0);
        cJSON_free(printed);
        cJSON_Delete(root);
        size_t used = jsonmem_used();
        jsonmem_release();
        assert(jsonmem_used() == 0 && jsonmem_peak() >= used);
    }
    /* many pages' worth: blocks come and go, the kept ones are reused */
    char *big = malloc(S_BLOCK * 3);
    assert(big);
    size_t o = 0;
    big[o++] = '[';
    for (int i = 0; o < S_BLOCK * 3 - 64; i++)
        o += (size_t)snprintf(big + o, S_BLOCK * 3 - o, "%s{\"n\":%d,\"s\":\"x%dy\"}", i ? "," : "", i, i);
    big[o++] = ']';
    big[o] = '\0';
    cJSON *arr = cJSON_Parse(big);
    assert(arr && cJSON_GetArraySize(arr) > 10000);
    assert(jsonmem_used() > 2 * S_BLOCK);
    /* one string longer than a block: a block of its own */
    memset(big, 'a', S_BLOCK * 2);
    big[0] = '"';
    big[S_BLOCK * 2 - 1] = '"';
    big[S_BLOCK * 2] = '\0';
    cJSON *str = cJSON_Parse(big);
    assert(cJSON_IsString(str) && strlen(str->valuestring) == S_BLOCK * 2 - 2);
    assert(cJSON_IsArray(arr) && cJSON_GetArrayItem(arr, 5)->child->valueint == 5); /* still intact */
    cJSON_Delete(str);
    cJSON_Delete(arr);
    if (verbose)
        printf("\n   jsonmem: %zu bytes used by the big parse, peak %zu\n", jsonmem_used(), jsonmem_peak());
    jsonmem_release();
    assert(jsonmem_used() == 0);
    free(big);
    jsonmem_uninstall();
    /* plain malloc again */
    cJSON *after = cJSON_Parse("[1,2,3]");
    assert(after && jsonmem_used() == 0);
    cJSON_Delete(after);
}
