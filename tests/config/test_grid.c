/* The range grid: every numeric key of the key table (enumerated from the table itself,
 * so a new key is covered without a change here; list entries at index 0) gets each of
 * a set of values that pass "> 0" but cannot work, or do not parse, or sit at integer
 * limits, through sw_cfg_set on the example config and through YAML (the example as
 * sw_cfg_print writes it, with that one value replaced). Each case must be refused with
 * a message naming the key path, or be accepted only if the value is inside the range
 * the table documents. A value in range may still be refused by a rule between keys (a
 * lognormal's cv of 0); those are counted apart, and must name the key too. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "common/strbuf.h"
#include "config/config.h"
#include "tests/config/yaml_keys.h"

#define EXAMPLE SW_SOURCE_DIR "/config/example.yaml"

static const char *const grid_values[] = {
    "-1",  "0",   "1e-300", "1e308", "4294967295", "4294967296", "1e19",
    "nan", "inf", "-inf",   ".nan",  ".inf",       "-.inf",
};
#define N_VALUES (sizeof grid_values / sizeof grid_values[0])

typedef struct tally {
    unsigned cases, accepted, refused_out, refused_in, skipped_keys;
} tally_t;

static char err[8192];

static bool is_numeric(const sw_cfg_key_info_t *k)
{
    return k->type == SW_CFG_KEY_NUMBER || k->type == SW_CFG_KEY_UINT;
}

/* "instance_types[].batch_latency_ms[]" -> "instance_types[0].batch_latency_ms[0]". */
static void concrete(const char *pattern, char *out, size_t len)
{
    size_t o = 0;
    for (const char *s = pattern; *s && o + 2 < len; s++) {
        out[o++] = *s;
        if (s[0] == '[' && s[1] == ']')
            out[o++] = '0';
    }
    out[o] = '\0';
}

/* Whether text is a value of k's type inside k's documented range. */
static bool acceptable(const sw_cfg_key_info_t *k, const char *text)
{
    char *end;
    double x = strtod(text, &end);
    if (end == text || *end || !isfinite(x))
        return false;
    if (k->type == SW_CFG_KEY_UINT && strspn(text, "0123456789") != strlen(text))
        return false;
    return sw_cfg_key_in_range(k, x);
}

/* Whether msg names `path` as a key: "path:" at the start or after a space. */
static bool names_key(const char *msg, const char *path)
{
    size_t n = strlen(path);
    for (const char *s = strstr(msg, path); s; s = strstr(s + 1, path))
        if ((s == msg || s[-1] == ' ') && s[n] == ':')
            return true;
    return false;
}

static void judge(tally_t *t, const sw_cfg_key_info_t *k, const char *path, const char *value,
                  int rc, const char *via)
{
    char range[128];
    sw_cfg_key_range_text(k, range, sizeof range);
    t->cases++;
    bool ok = acceptable(k, value);
    if (rc == 0) {
        t->accepted++;
        cr_expect(ok, "%s: %s = %s was accepted, but the documented range is %s", via, path, value,
                  range);
        return;
    }
    if (ok)
        t->refused_in++;
    else
        t->refused_out++;
    cr_expect(names_key(err, path),
              "%s: %s = %s was refused by a message that does not name "
              "the key:\n%s",
              via, path, value, err);
}

static sw_cfg_t *load_example(void)
{
    sw_cfg_t *cfg = NULL;
    cr_assert_eq(sw_cfg_load(EXAMPLE, &cfg, err, sizeof err), 0, "%s", err);
    return cfg;
}

static void grid_set(tally_t *t)
{
    sw_cfg_t *cfg = load_example();
    for (size_t i = 0; i < sw_cfg_key_count(); i++) {
        const sw_cfg_key_info_t *k = sw_cfg_key_at(i);
        if (!is_numeric(k))
            continue;
        char path[256];
        concrete(k->path, path, sizeof path);
        for (size_t v = 0; v < N_VALUES; v++) {
            int rc = sw_cfg_set(cfg, path, grid_values[v], err, sizeof err);
            if (rc != 0 && strstr(err, "no such entry")) {
                t->skipped_keys++; /* a list the example leaves empty */
                break;
            }
            judge(t, k, path, grid_values[v], rc, "sw_cfg_set");
            if (rc == 0) { /* start the next case from the example again */
                sw_cfg_destroy(cfg);
                cfg = load_example();
            }
        }
    }
    sw_cfg_destroy(cfg);
}

/* Where the value of `path` stands in printed YAML: its "key: value" line, or for an
 * entry of a list of numbers ("x[0]") the first element of the list's flow sequence. */
static bool value_span(const char *text, const yaml_keys_t *ks, const char *path, size_t *from,
                       size_t *to)
{
    char key[256];
    size_t n = strlen(path);
    bool entry = n > 3 && strcmp(path + n - 3, "[0]") == 0;
    snprintf(key, sizeof key, "%.*s", (int)(entry ? n - 3 : n), path);
    for (size_t i = 0; i < ks->n; i++) {
        if (strcmp(ks->v[i].path, key) != 0)
            continue;
        *from = ks->v[i].value;
        *to = ks->v[i].value_end;
        if (entry) {
            const char *open = strchr(text + *from, '[');
            *from = (size_t)(open - text) + 1;
            *to = *from + strcspn(open + 1, ",]");
        }
        return true;
    }
    return false;
}

static void grid_yaml(tally_t *t)
{
    sw_cfg_t *cfg = load_example();
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    sw_cfg_print(cfg, f);
    fclose(f);
    sw_cfg_destroy(cfg);
    yaml_keys_t ks;
    yaml_keys_scan(text, false, &ks);
    for (size_t i = 0; i < sw_cfg_key_count(); i++) {
        const sw_cfg_key_info_t *k = sw_cfg_key_at(i);
        if (!is_numeric(k))
            continue;
        char path[256];
        size_t from, to;
        concrete(k->path, path, sizeof path);
        if (!value_span(text, &ks, path, &from, &to)) {
            t->skipped_keys++;
            continue;
        }
        for (size_t v = 0; v < N_VALUES; v++) {
            sw_strbuf_t b = {0};
            sw_strbuf_printf(&b, "%.*s%s%s", (int)from, text, text[from - 1] == '[' ? "" : " ",
                             grid_values[v]);
            sw_strbuf_puts(&b, text + to);
            sw_cfg_t *got = NULL;
            int rc = sw_cfg_load_string(b.p, b.len, "grid.yaml", &got, err, sizeof err);
            judge(t, k, path, grid_values[v], rc, "YAML");
            sw_cfg_destroy(got);
            sw_strbuf_free(&b, false);
        }
    }
    yaml_keys_free(&ks);
    free(text);
}

Test(config_grid, every_numeric_key_accepts_only_its_range, .timeout = 120)
{
    tally_t set = {0}, yaml = {0};
    grid_set(&set);
    grid_yaml(&yaml);
    unsigned keys = 0;
    for (size_t i = 0; i < sw_cfg_key_count(); i++)
        keys += is_numeric(sw_cfg_key_at(i));
    printf("config_grid: %u numeric keys x %zu values, through sw_cfg_set and YAML: %u cases; "
           "%u accepted in range, %u refused out of range, %u in range but refused by a rule "
           "between keys, each naming the key; %u keys skipped (a list the example leaves "
           "empty)\n",
           keys, N_VALUES, set.cases + yaml.cases, set.accepted + yaml.accepted,
           set.refused_out + yaml.refused_out, set.refused_in + yaml.refused_in,
           set.skipped_keys + yaml.skipped_keys);
    cr_assert_eq(set.cases, yaml.cases, "sw_cfg_set saw %u cases, YAML %u", set.cases, yaml.cases);
    cr_assert_gt(set.cases, 1000);
    /* The two paths share one check: the same cases pass. */
    cr_assert_eq(set.accepted, yaml.accepted, "sw_cfg_set accepted %u, YAML %u", set.accepted,
                 yaml.accepted);
}
