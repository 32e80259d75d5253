/* sw_cfg_set: one key changed by its dotted path, as the CLI's --set, --seed and
 * --rate-scale do. The value goes through the same scalar parsing as the file's, and the
 * whole config through the same validation, so an override is accepted exactly when the
 * same value in the file would be. */
#include "config/config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config_internal.h"

/* Where a concrete path lives: its row and storage. An entry of a list of mappings
 * resolves to the list's row with is_entry set. */
typedef struct slot {
    int row;
    char *data;
    bool is_entry;
} slot_t;

/* Steps from the node at (row, base) into the list entry `s` names ("[3]..."). */
static int step_index(const char *path, const char **s, slot_t *at, char **base, char *why,
                      size_t whylen)
{
    const sw__cfg_row_t *r = &sw__cfg_rows[at->row];
    char *end;
    errno = 0;
    unsigned long idx = strtoul(*s + 1, &end, 10);
    if (r->info.type != SW_CFG_KEY_LIST || end == *s + 1 || *end != ']' || errno ||
        !((*s)[1] >= '0' && (*s)[1] <= '9')) {
        snprintf(why, whylen, "%.*s: not a list index", (int)(end - path + 1), path);
        return -EINVAL;
    }
    unsigned count = *sw__cfg_list_count(r, *base);
    if (idx >= count) {
        snprintf(why, whylen, "%.*s: no such entry (the list has %u)", (int)(end - path + 1), path,
                 count);
        return -ERANGE;
    }
    *base = *(char **)(*base + r->offset) + idx * r->entry_size;
    int entry = sw__cfg_row_entry(at->row);
    if (entry >= 0)
        *at = (slot_t){.row = entry, .data = *base};
    else
        *at = (slot_t){.row = at->row, .data = *base, .is_entry = true};
    *s = end + 1;
    return 0;
}

/* Walks "a.b[2].c" one component at a time over the table and cfg. Returns 0, or
 * -ENOENT (unknown key), -ERANGE (index past the end) or -EINVAL (malformed path) with
 * the reason, naming the offending prefix, in why. */
static int resolve(const char *path, sw_cfg_t *cfg, slot_t *out, char *why, size_t whylen)
{
    char pat[SW__CFG_PATH_MAX] = "";
    char *base = (char *)cfg;
    const char *s = path;
    if (!*s) {
        snprintf(why, whylen, "empty key");
        return -EINVAL;
    }
    while (*s) {
        size_t n = strcspn(s, ".["), used = strlen(pat);
        snprintf(pat + used, sizeof pat - used, "%s%.*s", used ? "." : "", (int)n, s);
        int row = sw__cfg_row_find(pat, strlen(pat));
        if (row < 0 || n == 0) {
            snprintf(why, whylen, "%.*s: unknown key", (int)(s - path + n), path);
            return -ENOENT;
        }
        *out = (slot_t){.row = row, .data = base + sw__cfg_rows[row].offset};
        s += n;
        if (*s == '[') {
            int rc = step_index(path, &s, out, &base, why, whylen);
            if (rc < 0)
                return rc;
            used = strlen(pat);
            snprintf(pat + used, sizeof pat - used, "[]");
        }
        if (*s == '.') {
            if (!*++s) {
                snprintf(why, whylen, "%s: unknown key", path);
                return -ENOENT;
            }
        } else if (*s) {
            snprintf(why, whylen, "%s: malformed key path", path);
            return -EINVAL;
        }
    }
    return 0;
}

/* The distribution holding `path` (a dist sub-key), or NULL. */
static sw_cfg_dist_t *parent_dist(sw_cfg_t *cfg, const char *path)
{
    char pp[SW__CFG_PATH_MAX], why[SW__CFG_PATH_MAX + 64];
    slot_t slot;
    snprintf(pp, sizeof pp, "%s", path);
    if (!sw__cfg_path_parent(pp) || resolve(pp, cfg, &slot, why, sizeof why) != 0)
        return NULL;
    if (slot.is_entry || sw__cfg_rows[slot.row].info.type != SW_CFG_KEY_DIST)
        return NULL;
    return (sw_cfg_dist_t *)slot.data;
}

/* The key's line becomes 0 ("from --set", no file line) while its new value is checked,
 * so that a problem with that value does not point at the file. Returns its line before,
 * or -1 if the file did not give it. */
static int mark_overridden(sw__cfg_keymap_t *km, const char *path)
{
    bool added;
    struct sw__cfg_key *k = sw__cfg_keymap_add(km, path, 0, &added);
    int line_was = added ? -1 : k->line;
    k->line = 0;
    return line_was;
}

/* A refused value leaves the old one, so the key map must say what it said before:
 * later messages about the key still point at its line in the file, and a key the file
 * did not give is absent again (an absent key of a distribution is reported on the
 * distribution's line). */
static void undo_override(sw__cfg_keymap_t *km, const char *path, int line_was)
{
    struct sw__cfg_key *k;
    if (line_was < 0)
        sw__cfg_keymap_remove(km, path);
    else if ((k = sw__cfg_keymap_find(km, path)))
        k->line = line_was;
}

/* A key that holds other keys cannot take a value: say which key to set instead. */
static bool refuse_container(const slot_t *slot, const char *key_path, char *errbuf, size_t errlen)
{
    const sw__cfg_row_t *r = &sw__cfg_rows[slot->row];
    if (slot->is_entry || r->info.type == SW_CFG_KEY_SECTION || r->info.type == SW_CFG_KEY_DIST) {
        sw_set_error(errbuf, errlen,
                     "%s: is a section, not a value: set one of its keys, e.g. %s.%s", key_path,
                     key_path, sw__cfg_row_leaf(&sw__cfg_rows[slot->row + 1]));
        return true;
    }
    if (r->info.type == SW_CFG_KEY_LIST) {
        sw_set_error(errbuf, errlen, "%s: is a list: set its entries one at a time, e.g. %s[0]",
                     key_path, key_path);
        return true;
    }
    return false;
}

int sw_cfg_set(sw_cfg_t *cfg, const char *key_path, const char *value, char *errbuf, size_t errlen)
{
    sw__cfg_full_t *full = (sw__cfg_full_t *)cfg;
    slot_t slot;
    char why[SW__CFG_PATH_MAX + 64], msg[384];

    sw_set_error(errbuf, errlen, "%s", "");
    if (resolve(key_path, cfg, &slot, why, sizeof why) != 0) {
        sw_set_error(errbuf, errlen, "%s", why);
        return SW_ECONFIG;
    }
    if (refuse_container(&slot, key_path, errbuf, errlen))
        return SW_ECONFIG;
    const sw__cfg_row_t *r = &sw__cfg_rows[slot.row];
    sw_cfg_dist_t *dist = parent_dist(cfg, key_path);
    if (dist && dist->dist == SW_DIST_UNIFORM && (r->flags & SW__CFG_DIST_MEAN)) {
        sw_set_error(errbuf, errlen,
                     "%s: a uniform distribution's mean is (min + max) / 2: set min and max",
                     key_path);
        return SW_ECONFIG;
    }

    /* Keep the old value until the new config validates, so a rejected override leaves
     * the config as it was (and valid). */
    unsigned char old[8];
    size_t size = SW_MIN(r->size, sizeof old);
    sw_cfg_dist_t old_dist = dist ? *dist : (sw_cfg_dist_t){0};
    memcpy(old, slot.data, size);
    if (sw__cfg_parse_store(r, value, slot.data, msg, sizeof msg) != 0) {
        sw_set_error(errbuf, errlen, "%s: %s", key_path, msg);
        return SW_ECONFIG;
    }
    if (dist && dist->dist == SW_DIST_UNIFORM)
        dist->mean = (dist->min + dist->max) / 2;
    int line_was = mark_overridden(&full->keys, key_path);

    sw__cfg_problems_t p = {.file = full->name, .keys = &full->keys};
    sw__cfg_check(cfg, &p);
    bool is_string = r->info.type == SW_CFG_KEY_STRING;
    if (p.count) {
        undo_override(&full->keys, key_path, line_was);
        if (is_string)
            sw_free(*(char **)slot.data);
        memcpy(slot.data, old, size);
        if (dist)
            *dist = old_dist;
    } else if (is_string) {
        char *prev;
        memcpy(&prev, old, sizeof prev);
        sw_free(prev);
    }
    return sw__cfg_problems_finish(&p, errbuf, errlen);
}

int sw_cfg_get_number(const sw_cfg_t *cfg, const char *key_path, double *out, char *errbuf,
                      size_t errlen)
{
    slot_t slot;
    char why[SW__CFG_PATH_MAX + 64];
    /* resolve only reads through cfg; it takes it mutable for sw_cfg_set's sake. */
    if (resolve(key_path, (sw_cfg_t *)cfg, &slot, why, sizeof why) != 0) {
        sw_set_error(errbuf, errlen, "%s", why);
        return SW_ECONFIG;
    }
    const sw__cfg_row_t *r = &sw__cfg_rows[slot.row];
    if (slot.is_entry || (r->info.type != SW_CFG_KEY_NUMBER && r->info.type != SW_CFG_KEY_UINT)) {
        sw_set_error(errbuf, errlen, "%s: not a number", key_path);
        return SW_ECONFIG;
    }
    *out = r->info.type == SW_CFG_KEY_UINT ? (double)sw__cfg_get_uint(r, slot.data)
                                           : sw__cfg_get_number(r, slot.data);
    return 0;
}
