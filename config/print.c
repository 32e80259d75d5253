/* Writing a resolved sw_cfg_t back out as YAML, and comparing two configs. Both walk the
 * key table, so a key added to the table is printed and compared without more code.
 * Doubles are printed with the fewest digits that read back exactly, so print -> load
 * gives an equal config. */
#include "config/config_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/* A double-quoted YAML scalar may hold raw only what YAML calls printable and does not
 * fold: C0 and C1 controls are refused by the loader, NEL (U+0085) and the line and
 * paragraph separators (U+2028, U+2029) are read as line breaks and folded to a space,
 * and U+FEFF, U+FFFE and U+FFFF are not printable. Each is written as an escape, so that
 * any valid UTF-8 value --set accepts prints as a file that loads back equal (found by
 * fuzz_config_set: "a\u0085b" printed raw came back as "a b"). Values stored by --set or
 * the loader are valid UTF-8; a path joined with a directory name from the file system
 * need not be, and its stray bytes are written as they are (no file can hold them). */
static void print_string(FILE *out, const char *s)
{
    fputc('"', out);
    for (const unsigned char *c = (const unsigned char *)s; *c;) {
        unsigned cp, len = sw__cfg_utf8_decode(c, &cp);
        if (!len)
            cp = *c, len = 1;
        if (cp == '"' || cp == '\\')
            fprintf(out, "\\%c", (char)cp);
        else if (cp < 0x20 || cp == 0x7f || (len == 2 && cp <= 0x9f))
            fprintf(out, "\\x%02x", cp);
        else if (cp == 0x2028 || cp == 0x2029 || cp == 0xFEFF || cp == 0xFFFE || cp == 0xFFFF)
            fprintf(out, "\\u%04x", cp);
        else
            fwrite(c, 1, len, out);
        c += len;
    }
    fputc('"', out);
}

static void print_scalar(FILE *out, const sw__cfg_row_t *r, const void *data)
{
    char num[64];
    switch (r->info.type) {
    case SW_CFG_KEY_NUMBER:
        sw__cfg_fmt_double(*(const double *)data, num, sizeof num);
        fputs(num, out);
        break;
    case SW_CFG_KEY_UINT: fprintf(out, "%" PRIu64, sw__cfg_get_uint(r, data)); break;
    case SW_CFG_KEY_BOOL: fputs(*(const bool *)data ? "true" : "false", out); break;
    case SW_CFG_KEY_ENUM: fputs(sw__cfg_enum_name(r, sw__cfg_get_enum(r, data)), out); break;
    case SW_CFG_KEY_STRING: {
        const char *s = *(char *const *)data;
        if (s)
            print_string(out, s);
        else
            fputs("null", out);
        break;
    }
    default: break;
    }
}

static void print_rows(FILE *out, int parent, const char *base, int indent, bool dash);

static void print_list(FILE *out, int i, const char *base, int indent)
{
    const sw__cfg_row_t *r = &sw__cfg_rows[i];
    unsigned n = *sw__cfg_list_count(r, (void *)base);
    const char *arr = *(char *const *)(base + r->offset);
    int entry = sw__cfg_row_entry(i);
    if (n == 0) {
        fputs(" []\n", out);
    } else if (entry < 0) {
        fputc('\n', out);
        for (unsigned j = 0; j < n; j++)
            print_rows(out, i, arr + (size_t)j * r->entry_size, indent + 4, true);
    } else {
        fputs(" [", out);
        for (unsigned j = 0; j < n; j++) {
            if (j)
                fputs(", ", out);
            print_scalar(out, &sw__cfg_rows[entry], arr + (size_t)j * r->entry_size);
        }
        fputs("]\n", out);
    }
}

/* dash: the first key of a list entry goes after "- ", two columns left of indent. */
static void print_rows(FILE *out, int parent, const char *base, int indent, bool dash)
{
    for (int i = parent + 1, end = sw__cfg_row_end(parent); i < end; i = sw__cfg_row_end(i)) {
        const sw__cfg_row_t *r = &sw__cfg_rows[i];
        if (dash && i == parent + 1)
            fprintf(out, "%*s- %s:", indent - 2, "", sw__cfg_row_leaf(r));
        else
            fprintf(out, "%*s%s:", indent, "", sw__cfg_row_leaf(r));
        switch (r->info.type) {
        case SW_CFG_KEY_SECTION:
        case SW_CFG_KEY_DIST:
            fputc('\n', out);
            print_rows(out, i, base, indent + 2, false);
            break;
        case SW_CFG_KEY_LIST: print_list(out, i, base, indent); break;
        default:
            fputc(' ', out);
            print_scalar(out, r, base + r->offset);
            fputc('\n', out);
            break;
        }
    }
}

void sw_cfg_print(const sw_cfg_t *cfg, FILE *out)
{
    fputs("# Spillway configuration, every key resolved (defaults filled in).\n", out);
    if (cfg->source_path) {
        fputs("# Loaded from: ", out);
        for (const char *c = cfg->source_path; *c; c++)
            fputc((unsigned char)*c < 0x20 ? '?' : *c, out);
        fputc('\n', out);
    }
    print_rows(out, -1, (const char *)cfg, 0, false);
}

static bool equal_scalar(const sw__cfg_row_t *r, const void *a, const void *b)
{
    switch (r->info.type) {
    case SW_CFG_KEY_NUMBER: return *(const double *)a == *(const double *)b;
    case SW_CFG_KEY_UINT: return sw__cfg_get_uint(r, a) == sw__cfg_get_uint(r, b);
    case SW_CFG_KEY_BOOL: return *(const bool *)a == *(const bool *)b;
    case SW_CFG_KEY_ENUM: return sw__cfg_get_enum(r, a) == sw__cfg_get_enum(r, b);
    case SW_CFG_KEY_STRING: {
        const char *sa = *(char *const *)a, *sb = *(char *const *)b;
        return sa == sb || (sa && sb && strcmp(sa, sb) == 0);
    }
    default: return true;
    }
}

/* The walk behind sw_cfg_diff: `idx` holds the list indices above the rows being
 * compared, which replace the "[]" of a row's path, in order, to name the concrete key. */
typedef struct diff_walk {
    sw_cfg_diff_cb cb;
    void *ctx;
    size_t n;
    unsigned idx[8];
    unsigned depth;
} diff_walk_t;

static void report(diff_walk_t *w, const char *pattern)
{
    w->n++;
    if (!w->cb)
        return;
    char path[SW__CFG_PATH_MAX];
    size_t used = 0;
    unsigned k = 0;
    for (const char *c = pattern; *c && used + 12 < sizeof(path); c++) {
        if (c[0] == '[' && c[1] == ']' && k < w->depth) {
            used += (size_t)snprintf(path + used, sizeof(path) - used, "[%u]", w->idx[k++]);
            c++;
        } else {
            path[used++] = *c;
        }
    }
    path[used] = '\0';
    w->cb(w->ctx, path);
}

static void diff_rows(diff_walk_t *w, int parent, const char *a, const char *b);

static void diff_list(diff_walk_t *w, int i, const char *a, const char *b)
{
    const sw__cfg_row_t *r = &sw__cfg_rows[i];
    unsigned n = *sw__cfg_list_count(r, (void *)a);
    if (n != *sw__cfg_list_count(r, (void *)b) || w->depth == SW_ARRAY_LEN(w->idx)) {
        report(w, r->info.path);
        return;
    }
    const char *aa = *(char *const *)(a + r->offset), *ab = *(char *const *)(b + r->offset);
    int entry = sw__cfg_row_entry(i);
    for (unsigned j = 0; j < n; j++) {
        const char *ea = aa + (size_t)j * r->entry_size, *eb = ab + (size_t)j * r->entry_size;
        w->idx[w->depth++] = j;
        if (entry >= 0) {
            if (!equal_scalar(&sw__cfg_rows[entry], ea, eb))
                report(w, sw__cfg_rows[entry].info.path);
        } else {
            diff_rows(w, i, ea, eb);
        }
        w->depth--;
    }
}

static void diff_rows(diff_walk_t *w, int parent, const char *a, const char *b)
{
    for (int i = parent + 1, end = sw__cfg_row_end(parent); i < end; i = sw__cfg_row_end(i)) {
        const sw__cfg_row_t *r = &sw__cfg_rows[i];
        switch (r->info.type) {
        case SW_CFG_KEY_SECTION:
        case SW_CFG_KEY_DIST: diff_rows(w, i, a, b); break;
        case SW_CFG_KEY_LIST: diff_list(w, i, a, b); break;
        default:
            if (!equal_scalar(r, a + r->offset, b + r->offset))
                report(w, r->info.path);
            break;
        }
    }
}

size_t sw_cfg_diff(const sw_cfg_t *a, const sw_cfg_t *b, sw_cfg_diff_cb cb, void *ctx)
{
    diff_walk_t w = {.cb = cb, .ctx = ctx};
    diff_rows(&w, -1, (const char *)a, (const char *)b);
    return w.n;
}

bool sw_cfg_equal(const sw_cfg_t *a, const sw_cfg_t *b)
{
    return sw_cfg_diff(a, b, NULL, NULL) == 0;
}
