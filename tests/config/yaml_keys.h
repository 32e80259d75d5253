/* Finding the keys of a block-style YAML text by their indentation, for tests that relate
 * a YAML file to the key table without a YAML library: each key line gives its dotted
 * path (list entries as [0], [1], ...), its line, and the comments just above it and on
 * it. With `comments`, commented-out YAML ("# key: value", "#   - key: value") counts
 * too, indented where its text starts. Flow collections ({a: 1}, [1, 2]) are values of
 * their key, not keys. Header-only: included by the tests of tests/config. */
#ifndef SW_TESTS_CONFIG_YAML_KEYS_H
#define SW_TESTS_CONFIG_YAML_KEYS_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Paths are short in any file these tests read; a longer one is merely cut. */
static inline void yk_printf(char *out, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static inline void yk_printf(char *out, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out, len, fmt, ap);
    va_end(ap);
}

typedef struct yaml_key {
    char path[256];
    int line;     /* 1-based */
    char *doc;    /* comment lines above (back to a blank line or the previous key) */
    size_t value; /* offset in the text of the value after "key:" */
    size_t value_end;
} yaml_key_t;

typedef struct yaml_keys {
    yaml_key_t *v;
    size_t n, cap;
} yaml_keys_t;

typedef struct yaml_keys_level {
    int indent;
    char path[256];
    int entries; /* list entries seen below this key */
} yaml_keys_level_t;

/* Parses "  - key: value" at s: indent of the first char, dash, key; false if the line is
 * not a key line. */
static inline bool yaml_keys_parse_line(const char *s, size_t len, int *indent, bool *dash,
                                        char *key, size_t keylen, size_t *value)
{
    size_t i = 0;
    while (i < len && s[i] == ' ')
        i++;
    *indent = (int)i;
    *dash = i + 1 < len && s[i] == '-' && s[i + 1] == ' ';
    if (*dash)
        i += 2;
    size_t k = i;
    while (i < len && ((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
        i++;
    if (i == k || !(s[k] >= 'a' && s[k] <= 'z') || i >= len || s[i] != ':' ||
        (i + 1 < len && s[i + 1] != ' '))
        return false;
    yk_printf(key, keylen, "%.*s", (int)(i - k), s + k);
    *value = i + 1;
    return true;
}

static inline void yaml_keys_add(yaml_keys_t *ks, yaml_keys_level_t *st, int *depth, int indent,
                                 bool dash, const char *key, int line, const char *doc)
{
    int key_indent = dash ? indent + 2 : indent;
    /* Siblings and what is below them end here; a "- " starts an entry of the key above. */
    while (*depth > 0 && st[*depth - 1].indent >= indent)
        (*depth)--;
    char parent[256] = "";
    if (*depth > 0)
        yk_printf(parent, sizeof parent, "%s", st[*depth - 1].path);
    if (dash && *depth > 0) {
        yk_printf(parent, sizeof parent, "%s[%d]", st[*depth - 1].path, st[*depth - 1].entries++);
        st[*depth] = (yaml_keys_level_t){.indent = indent};
        yk_printf(st[*depth].path, sizeof st[*depth].path, "%s", parent);
        (*depth)++;
    }
    if (ks->n == ks->cap) {
        ks->cap = ks->cap ? 2 * ks->cap : 64;
        ks->v = realloc(ks->v, ks->cap * sizeof *ks->v);
    }
    yaml_key_t *k = &ks->v[ks->n++];
    memset(k, 0, sizeof *k);
    yk_printf(k->path, sizeof k->path, "%s%s%s", parent, *parent ? "." : "", key);
    k->line = line;
    k->doc = strdup(doc);
    st[*depth] = (yaml_keys_level_t){.indent = key_indent};
    yk_printf(st[*depth].path, sizeof st[*depth].path, "%s", k->path);
    (*depth)++;
}

/* Scans text into ks (free with yaml_keys_free). */
static inline void yaml_keys_scan(const char *text, bool comments, yaml_keys_t *ks)
{
    memset(ks, 0, sizeof *ks);
    yaml_keys_level_t st[64];
    int depth = 0, line = 0;
    size_t doclen = 0, doccap = 1 << 16;
    char *doc = calloc(1, doccap);
    for (const char *s = text; *s; line++) {
        const char *nl = strchr(s, '\n');
        size_t len = nl ? (size_t)(nl - s) : strlen(s), off = (size_t)(s - text);
        char buf[2048];
        size_t pre = 0;
        while (pre < len && s[pre] == ' ')
            pre++;
        bool is_comment = pre < len && s[pre] == '#';
        /* A commented line is read as if its text, after "# ", stood at the '#'. */
        if (is_comment && comments) {
            size_t from = pre + 1 + (pre + 1 < len && s[pre + 1] == ' ');
            yk_printf(buf, sizeof buf, "%*s%.*s", (int)pre, "", (int)(len - from), s + from);
        } else {
            yk_printf(buf, sizeof buf, "%.*s", (int)len, s);
        }
        int indent;
        bool dash;
        char key[128];
        size_t value;
        bool blank = pre == len || (is_comment && len - pre == 1);
        if (blank) {
            doclen = 0;
        } else if ((!is_comment || comments) &&
                   yaml_keys_parse_line(buf, strlen(buf), &indent, &dash, key, sizeof key,
                                        &value)) {
            const char *hash = is_comment ? NULL : strstr(buf + value, " #");
            doclen += (size_t)snprintf(doc + doclen, doccap - doclen, "%s\n", hash ? hash : "");
            yaml_keys_add(ks, st, &depth, indent, dash, key, line + 1, doc);
            ks->v[ks->n - 1].value = is_comment ? 0 : off + value;
            ks->v[ks->n - 1].value_end = is_comment ? 0 : off + (hash ? (size_t)(hash - buf) : len);
            doclen = 0;
        } else if (is_comment && doclen + len + 2 < doccap) {
            doclen += (size_t)snprintf(doc + doclen, doccap - doclen, "%.*s\n", (int)len, s);
        }
        doc[doclen] = '\0';
        s = nl ? nl + 1 : s + len;
    }
    free(doc);
}

static inline void yaml_keys_free(yaml_keys_t *ks)
{
    for (size_t i = 0; i < ks->n; i++)
        free(ks->v[i].doc);
    free(ks->v);
    memset(ks, 0, sizeof *ks);
}

#endif
