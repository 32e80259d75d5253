/* Tests of the key table against what is written about it: every key of
 * config/example.yaml is in the table, and every key of the table is documented in the
 * example with its range (as the table formats it), its default or "Required", and its
 * enum names. The example's keys are found by their indentation, commented-out keys
 * ("# name: x") included, so that list entries the example leaves empty are documented
 * the same way. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "config/config.h"
#include "tests/config/yaml_keys.h"

#define EXAMPLE SW_SOURCE_DIR "/config/example.yaml"

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "%s", path);
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        fwrite(chunk, 1, n, m);
    fclose(m);
    fclose(f);
    return buf;
}

/* A sub-key of a distribution ("x.boot_s.cv"): documented once, for all, in the
 * example's paragraph on distributions. */
static bool is_dist_part(const char *path)
{
    char parent[256];
    snprintf(parent, sizeof parent, "%s", path);
    char *dot = strrchr(parent, '.');
    if (!dot)
        return false;
    *dot = '\0';
    const sw_cfg_key_info_t *k = sw_cfg_key_find(parent);
    return k && k->type == SW_CFG_KEY_DIST;
}

/* A list of numbers' entries ("x.batch_latency_ms[]"): documented with their list. */
static bool is_entries(const char *path)
{
    size_t n = strlen(path);
    return n > 2 && strcmp(path + n - 2, "[]") == 0;
}

/* Appends comment lines as one line of prose: "#" and indentation dropped, so that a
 * range wrapped across two lines is still found. */
static void append_prose(const char *doc, char *out, size_t len)
{
    size_t used = strlen(out);
    for (const char *s = doc; *s && used + 2 < len;) {
        while (*s == ' ' || *s == '#')
            s++;
        const char *nl = strchr(s, '\n');
        size_t n = nl ? (size_t)(nl - s) : strlen(s);
        used +=
            (size_t)snprintf(out + used, len - used, "%.*s ", (int)SW_MIN(n, len - used - 2), s);
        s += n + (nl != NULL);
    }
}

/* The doc text of every occurrence of the key k in the example, joined. */
static void docs_of(const yaml_keys_t *ks, const sw_cfg_key_info_t *k, char *out, size_t len)
{
    out[0] = '\0';
    for (size_t i = 0; i < ks->n; i++)
        if (sw_cfg_key_find(ks->v[i].path) == k)
            append_prose(ks->v[i].doc, out, len);
}

/* What the doc of k must say besides its meaning. Returns the first thing missing, or
 * NULL. */
static const char *missing_doc(const sw_cfg_key_info_t *k, const char *doc, char *want, size_t len)
{
    if (k->type != SW_CFG_KEY_SECTION && !strstr(doc, "Default") && !strstr(doc, "Required")) {
        snprintf(want, len, "\"Default: ...\" or \"Required\"");
        return want;
    }
    if (k->type == SW_CFG_KEY_LIST) {
        snprintf(want, len, "at most %g", k->max);
        return strstr(doc, want) ? NULL : want;
    }
    if (k->type == SW_CFG_KEY_ENUM) {
        for (size_t i = 0; k->names[i]; i++)
            if (!strstr(doc, k->names[i])) {
                snprintf(want, len, "%s", k->names[i]);
                return want;
            }
        return NULL;
    }
    if (k->type == SW_CFG_KEY_STRING || !k->has_range)
        return NULL;
    sw_cfg_key_range_text(k, want, len);
    return strstr(doc, want) ? NULL : want;
}

Test(config_keys, every_example_key_is_in_the_table)
{
    char *text = read_text(EXAMPLE);
    yaml_keys_t ks;
    yaml_keys_scan(text, true, &ks);
    cr_assert_gt(ks.n, 50, "found only %zu keys", ks.n);
    for (size_t i = 0; i < ks.n; i++)
        cr_expect_not_null(sw_cfg_key_find(ks.v[i].path),
                           "example.yaml:%d: %s is not in the "
                           "key table (config/keys.c)",
                           ks.v[i].line, ks.v[i].path);
    yaml_keys_free(&ks);
    free(text);
}

Test(config_keys, every_table_key_is_documented_in_the_example)
{
    char *text = read_text(EXAMPLE);
    yaml_keys_t ks;
    yaml_keys_scan(text, true, &ks);
    static char doc[1 << 16];
    size_t checked = 0;
    for (size_t i = 0; i < sw_cfg_key_count(); i++) {
        const sw_cfg_key_info_t *k = sw_cfg_key_at(i);
        cr_assert_not_null(k->doc);
        cr_expect(k->doc[0] && strlen(k->doc) < 100, "%s: the table's doc must be one line",
                  k->path);
        if (is_dist_part(k->path))
            continue;
        /* A list's entries are documented with the list. */
        const sw_cfg_key_info_t *at = k;
        if (is_entries(k->path)) {
            char list[256];
            snprintf(list, sizeof list, "%.*s", (int)strlen(k->path) - 2, k->path);
            at = sw_cfg_key_find(list);
        }
        docs_of(&ks, at, doc, sizeof doc);
        if (!doc[0]) {
            cr_expect_fail("%s is in the key table but not in example.yaml", k->path);
            continue;
        }
        char want[256];
        const char *miss = missing_doc(k, doc, want, sizeof want);
        cr_expect_null(miss, "example.yaml must say %s in the comment above %s:\n%s", want, k->path,
                       doc);
        checked++;
    }
    printf("config_keys: %zu keys documented in example.yaml\n", checked);
    yaml_keys_free(&ks);
    free(text);
}
