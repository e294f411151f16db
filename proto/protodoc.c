/*  protodoc.c - vinted-protodoc: renders the message table (proto_table.c) as the
    markdown tables of proto/PROTOCOL.md, and checks or rewrites the document's
    generated blocks, so that the specification cannot drift from the code.

    A generated block in the document is
        <!-- generated: body FETCH -->
        ...what vinted-protodoc renders for "body FETCH"...
        <!-- end generated -->
    Blocks: "commands" (the command table), "command NAME" (a command's fields),
    "bodies" (the body kinds), "body NAME", "record NAME" (a list's records) and
    "limits". `--check FILE` exits 1 naming the first block that differs, is
    missing or is unknown; `--write FILE` rewrites every block in place
    (`make protocol-doc`); `--print [BLOCK]` writes blocks to stdout.
*/
#include "proto_internal.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_BEGIN "<!-- generated: "
#define S_BEGIN_END " -->"
#define S_END "<!-- end generated -->"
#define S_MAX_BLOCKS 64

/* ---------------------------------------------------------------- render */

static void s_upper(char *out, size_t size, const char *s)
{
    size_t i = 0;
    for (; s[i] && i + 1 < size; i++)
        out[i] = (char)toupper((unsigned char)s[i]);
    out[i] = '\0';
}

static void s_field_rows(FILE *out, const proto_field_t *tab, size_t n, size_t first)
{
    for (size_t i = 0; i < n; i++) {
        fprintf(out, "| %zu | `%s` | %s", first + i, tab[i].name, proto_type_name((proto_ftype_t)tab[i].type));
        if (tab[i].has_min)
            fprintf(out, " ≥ %d", (int)tab[i].min);
        fprintf(out, " | %s |\n", tab[i].meaning);
    }
}

static void s_table_head(FILE *out)
{
    fprintf(out, "| # | Field | Type | Meaning |\n|---|-------|------|---------|\n");
}

static void s_commands(FILE *out)
{
    fprintf(out, "| # | Command | Direction | Layout | Meaning |\n|---|---------|-----------|--------|---------|\n");
    for (int c = PROTO_READY; c <= PROTO_CMD_LAST; c++) {
        const proto_cmd_row_t *row = &proto_cmds[c];
        fprintf(out, "| %d | %s | %s | `[%d, %d", c, row->name, row->direction, PROTO_VERSION, c);
        for (size_t i = 0; i < row->n_fields; i++)
            fprintf(out, ", %s:%s", row->fields[i].name, proto_type_name((proto_ftype_t)row->fields[i].type));
        fprintf(out, "]` | %s |\n", row->meaning);
    }
}

static void s_carried_by(FILE *out, uint32_t by)
{
    const char *sep = "";
    for (int c = PROTO_READY; c <= PROTO_CMD_LAST; c++)
        if (by & (1u << c)) {
            fprintf(out, "%s%s", sep, proto_cmds[c].name);
            sep = ", ";
        }
}

static void s_bodies(FILE *out)
{
    fprintf(out, "| Kind | Body | Carried by | From → to | Meaning |\n"
                 "|------|------|------------|-----------|---------|\n");
    for (int k = PROTO_BODY_FETCH; k < PROTO_BODIES; k++) {
        fprintf(out, "| %d | %s | ", k, proto_bodies[k].name);
        s_carried_by(out, proto_bodies[k].carried_by);
        fprintf(out, " | %s | %s |\n", proto_bodies[k].flow, proto_bodies[k].meaning);
    }
}

static void s_body(FILE *out, const proto_body_row_t *b)
{
    fprintf(out, "An array of %zu fields", b->n_fields + b->n_lists);
    if (b->n_lists)
        fprintf(out, " (%zu, then %zu lists of records)", b->n_fields, b->n_lists);
    fprintf(out, ", carried by ");
    s_carried_by(out, b->carried_by);
    fprintf(out, ":\n\n");
    s_table_head(out);
    s_field_rows(out, b->fields, b->n_fields, 0);
    for (size_t l = 0; l < b->n_lists; l++) {
        char rec[32];
        s_upper(rec, sizeof(rec), b->lists[l].scope);
        fprintf(out, "| %zu | `%s` | array | up to %zu %s records%s%s |\n", b->n_fields + l, b->lists[l].name,
                b->lists[l].max, rec, *b->lists[l].meaning ? ": " : "", b->lists[l].meaning);
    }
}

static void s_record(FILE *out, const proto_body_row_t *b, const proto_list_t *L)
{
    char rec[32];
    s_upper(rec, sizeof(rec), L->scope);
    fprintf(out, "**%s** records (%s's `%s`) are arrays of %zu fields, each %s:\n\n", rec, b->name, L->name,
            L->n_fields, L->record_meaning);
    s_table_head(out);
    s_field_rows(out, L->fields, L->n_fields, 0);
}

static void s_limits(FILE *out)
{
    fprintf(out, "| What | Limit | On violation |\n|------|-------|--------------|\n");
    for (int k = PROTO_BODY_FETCH; k < PROTO_BODIES; k++)
        for (size_t l = 0; l < proto_bodies[k].n_lists; l++)
            fprintf(out, "| %s per %s | %zu | message rejected |\n", proto_bodies[k].lists[l].name,
                    proto_bodies[k].name, proto_bodies[k].lists[l].max);
    fprintf(out, "| CTL_REQ arguments | %d (`PROTO_CTL_MAXARGS`) | message rejected |\n", PROTO_CTL_MAXARGS);
    fprintf(out, "| nesting depth | what msgpack-c parses (32 levels; messages use at most 4) | message rejected |\n");
    fprintf(out, "| strings, binaries | bounded only by the frame, and so by `ZMQ_MAXMSGSIZE` | — |\n");
}

/* The ids of every block, in document order. */
static size_t s_block_ids(char ids[][48])
{
    size_t n = 0;
    snprintf(ids[n++], 48, "commands");
    for (int c = PROTO_READY; c <= PROTO_CMD_LAST; c++)
        if (proto_cmds[c].n_fields)
            snprintf(ids[n++], 48, "command %s", proto_cmds[c].name);
    snprintf(ids[n++], 48, "bodies");
    for (int k = PROTO_BODY_FETCH; k < PROTO_BODIES; k++) {
        snprintf(ids[n++], 48, "body %s", proto_bodies[k].name);
        for (size_t l = 0; l < proto_bodies[k].n_lists; l++) {
            char rec[32];
            s_upper(rec, sizeof(rec), proto_bodies[k].lists[l].scope);
            snprintf(ids[n++], 48, "record %s", rec);
        }
    }
    snprintf(ids[n++], 48, "limits");
    return n;
}

/* Render block id into out; false if no such block. */
static bool s_render(FILE *out, const char *id)
{
    if (strcmp(id, "commands") == 0)
        s_commands(out);
    else if (strcmp(id, "bodies") == 0)
        s_bodies(out);
    else if (strcmp(id, "limits") == 0)
        s_limits(out);
    else if (strncmp(id, "command ", 8) == 0) {
        for (int c = PROTO_READY; c <= PROTO_CMD_LAST; c++)
            if (proto_cmds[c].n_fields && strcmp(id + 8, proto_cmds[c].name) == 0) {
                fprintf(out, "`[%d, %d, ...]`, then:\n\n", PROTO_VERSION, c);
                s_table_head(out);
                s_field_rows(out, proto_cmds[c].fields, proto_cmds[c].n_fields, 2);
                return true;
            }
        return false;
    }
    else if (strncmp(id, "body ", 5) == 0) {
        for (int k = PROTO_BODY_FETCH; k < PROTO_BODIES; k++)
            if (strcmp(id + 5, proto_bodies[k].name) == 0) {
                s_body(out, &proto_bodies[k]);
                return true;
            }
        return false;
    }
    else if (strncmp(id, "record ", 7) == 0) {
        for (int k = PROTO_BODY_FETCH; k < PROTO_BODIES; k++)
            for (size_t l = 0; l < proto_bodies[k].n_lists; l++) {
                char rec[32];
                s_upper(rec, sizeof(rec), proto_bodies[k].lists[l].scope);
                if (strcmp(id + 7, rec) == 0) {
                    s_record(out, &proto_bodies[k], &proto_bodies[k].lists[l]);
                    return true;
                }
            }
        return false;
    }
    else
        return false;
    return true;
}

/* The block as a malloc'ed string, or NULL if unknown. */
static char *s_render_str(const char *id)
{
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    if (!out)
        return NULL;
    bool known = s_render(out, id);
    fclose(out);
    if (!known) {
        free(text);
        return NULL;
    }
    return text;
}

/* ------------------------------------------------------------- document */

static char *s_slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *text = NULL;
    size_t cap = 0;
    *len = 0;
    for (;;) {
        if (cap - *len < 65536) {
            cap = cap ? cap * 2 : 262144;
            char *more = realloc(text, cap + 1);
            if (!more) {
                free(text);
                fclose(f);
                return NULL;
            }
            text = more;
        }
        size_t got = fread(text + *len, 1, cap - *len, f);
        *len += got;
        if (got == 0)
            break;
    }
    fclose(f);
    text[*len] = '\0';
    return text;
}

/* Walk the document: every block checked (check) or rendered again into out.
   Returns 0, or 1 with the first problem printed. */
static int s_walk(const char *path, const char *text, FILE *out, bool check)
{
    char ids[S_MAX_BLOCKS][48];
    size_t n_ids = s_block_ids(ids);
    bool seen[S_MAX_BLOCKS] = {false};
    const char *p = text;
    int line = 1;
    while (*p) {
        const char *eol = strchr(p, '\n');
        size_t linelen = eol ? (size_t)(eol - p) : strlen(p);
        const char *next = eol ? eol + 1 : p + linelen;
        if (out)
            fwrite(p, 1, next - p, out);
        if (linelen > strlen(S_BEGIN) + strlen(S_BEGIN_END) && strncmp(p, S_BEGIN, strlen(S_BEGIN)) == 0 &&
            strncmp(p + linelen - strlen(S_BEGIN_END), S_BEGIN_END, strlen(S_BEGIN_END)) == 0) {
            char id[48];
            size_t idlen = linelen - strlen(S_BEGIN) - strlen(S_BEGIN_END);
            snprintf(id, sizeof(id), "%.*s", (int)(idlen < sizeof(id) ? idlen : sizeof(id) - 1), p + strlen(S_BEGIN));
            int at = line;
            const char *body = next;
            const char *end = strstr(body, "\n" S_END);
            if (strncmp(body, S_END, strlen(S_END)) == 0)
                end = body - 1;
            if (!end) {
                fprintf(stderr, "%s:%d: block '%s' has no \"%s\" line\n", path, at, id, S_END);
                return 1;
            }
            char *want = s_render_str(id);
            if (!want) {
                fprintf(stderr, "%s:%d: block '%s' is unknown (vinted-protodoc --print lists the blocks)\n", path,
                        at, id);
                return 1;
            }
            for (size_t i = 0; i < n_ids; i++)
                if (strcmp(ids[i], id) == 0)
                    seen[i] = true;
            size_t have = (size_t)(end + 1 - body);
            if (check && (strlen(want) != have || memcmp(want, body, have) != 0)) {
                fprintf(stderr, "%s:%d: block '%s' differs from the message table (proto/proto_table.c); "
                        "run make protocol-doc\n", path, at, id);
                free(want);
                return 1;
            }
            if (out)
                fputs(want, out);
            free(want);
            for (const char *q = next; q <= end; q++)
                if (*q == '\n')
                    line++;
            next = end + 1; /* the end marker line is copied as the next line */
        }
        line++;
        p = next;
    }
    for (size_t i = 0; i < n_ids; i++)
        if (!seen[i]) {
            fprintf(stderr, "%s: block '%s' is missing (add \"%s%s%s\" and \"%s\" lines where it belongs)\n", path,
                    ids[i], S_BEGIN, ids[i], S_BEGIN_END, S_END);
            return 1;
        }
    return 0;
}

static int s_write(const char *path, const char *text)
{
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s.protodoc.tmp", path);
    FILE *out = fopen(tmp, "wb");
    if (!out) {
        perror(tmp);
        return 1;
    }
    int rc = s_walk(path, text, out, false);
    if (fclose(out) != 0)
        rc = 1;
    if (rc == 0 && rename(tmp, path) != 0) {
        perror(path);
        rc = 1;
    }
    if (rc != 0)
        remove(tmp);
    return rc;
}

static void s_usage(FILE *out)
{
    fprintf(out,
            "usage: vinted-protodoc --check FILE | --write FILE | --print [BLOCK]\n"
            "Renders the wire format's message table (proto/proto_table.c) as the markdown tables of\n"
            "proto/PROTOCOL.md, between lines \"" S_BEGIN "BLOCK" S_BEGIN_END "\" and \"" S_END "\".\n"
            "  --check FILE   exit 0 if every block is in step with the table; else exit 1 naming\n"
            "                 the first block that differs, is missing or is unknown\n"
            "  --write FILE   rewrite every block of FILE in place (make protocol-doc)\n"
            "  --print [BLOCK] write one block, or all of them with their markers, to stdout\n");
}

int main(int argc, char **argv)
{
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        s_usage(stdout);
        return 0;
    }
    if (argc >= 2 && strcmp(argv[1], "--print") == 0 && argc <= 3) {
        if (argc == 3) {
            char *text = s_render_str(argv[2]);
            if (!text) {
                fprintf(stderr, "vinted-protodoc: no block '%s'\n", argv[2]);
                return 1;
            }
            fputs(text, stdout);
            free(text);
            return 0;
        }
        char ids[S_MAX_BLOCKS][48];
        size_t n = s_block_ids(ids);
        for (size_t i = 0; i < n; i++) {
            char *text = s_render_str(ids[i]);
            printf("%s%s%s\n%s%s\n\n", S_BEGIN, ids[i], S_BEGIN_END, text ? text : "", S_END);
            free(text);
        }
        return 0;
    }
    if (argc != 3 || (strcmp(argv[1], "--check") != 0 && strcmp(argv[1], "--write") != 0)) {
        s_usage(stderr);
        return 2;
    }
    size_t len;
    char *text = s_slurp(argv[2], &len);
    if (!text) {
        perror(argv[2]);
        return 2;
    }
    int rc = strcmp(argv[1], "--check") == 0 ? s_walk(argv[2], text, NULL, true) : s_write(argv[2], text);
    free(text);
    return rc;
}
