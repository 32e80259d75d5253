/* Loading the YAML policy into an sw_cfg_t: load.c reads the file onto the structs and
 * records which keys it holds (and on which line), the defaults pass fills every absent
 * key from the key table (keys.c), a finalize step resolves the defaults that depend on
 * other keys and the relative paths, and validate.c checks ranges and cross-field rules.
 * Every problem comes out as `FILE:LINE: key.path: message`. Also sw_cfg_set, which the
 * CLI uses for overrides, and the key map and problem collector the steps share. */
#include "config/config.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/file.h"
#include "config/config_internal.h"

/* ---- Problems ------------------------------------------------------------------------- */

static void problem_v(sw__cfg_problems_t *p, const char *path, int line, const char *fmt,
                      va_list ap)
{
    if (p->full || (*path && sw__cfg_problem_has_path(p, path)))
        return;
    if (p->count == SW__CFG_MAX_PROBLEMS) {
        sw_strbuf_printf(&p->text, "%s: stopped after %d problems: fix these first\n", p->file,
                         SW__CFG_MAX_PROBLEMS);
        p->full = true;
        return;
    }
    char msg[1024];
    vsnprintf(msg, sizeof msg, fmt, ap);
    sw_strbuf_puts(&p->text, p->file);
    if (line > 0)
        sw_strbuf_printf(&p->text, ":%d", line);
    if (*path)
        sw_strbuf_printf(&p->text, ": %s", path);
    sw_strbuf_printf(&p->text, ": %s\n", msg);
    p->paths[p->count++] = sw_strdup(path);
}

void sw__cfg_problem(sw__cfg_problems_t *p, const char *path, const char *fmt, ...)
{
    int line = p->keys ? sw__cfg_keymap_line(p->keys, path) : 0;
    va_list ap;
    va_start(ap, fmt);
    problem_v(p, path, line, fmt, ap);
    va_end(ap);
}

void sw__cfg_problem_at(sw__cfg_problems_t *p, const char *path, int line, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    problem_v(p, path, line, fmt, ap);
    va_end(ap);
}

bool sw__cfg_problem_has_path(const sw__cfg_problems_t *p, const char *path)
{
    for (unsigned i = 0; i < p->count; i++)
        if (strcmp(p->paths[i], path) == 0)
            return true;
    return false;
}

void sw__cfg_problems_rollback(sw__cfg_problems_t *p, unsigned count, size_t len)
{
    while (p->count > count)
        sw_free(p->paths[--p->count]);
    if (p->text.p && len <= p->text.len) {
        p->text.len = len;
        p->text.p[len] = '\0';
    }
    p->full = false;
}

int sw__cfg_problems_finish(sw__cfg_problems_t *p, char *errbuf, size_t errlen)
{
    int rc = p->count ? SW_ECONFIG : 0;
    if (errbuf && errlen) {
        size_t n = p->text.len;
        if (n && p->text.p[n - 1] == '\n')
            n--;
        n = SW_MIN(n, errlen - 1);
        if (n)
            memcpy(errbuf, p->text.p, n);
        errbuf[n] = '\0';
    }
    for (unsigned i = 0; i < p->count; i++)
        sw_free(p->paths[i]);
    sw_strbuf_free(&p->text, false);
    p->count = 0;
    p->full = false;
    return rc;
}

/* ---- The key map ---------------------------------------------------------------------- */

static size_t keymap_slot(const sw__cfg_keymap_t *km, const char *path)
{
    size_t mask = km->cap - 1;
    for (size_t i = sw__cfg_hash(path, strlen(path)) & mask;; i = (i + 1) & mask)
        if (!km->slots[i].path || strcmp(km->slots[i].path, path) == 0)
            return i;
}

struct sw__cfg_key *sw__cfg_keymap_find(const sw__cfg_keymap_t *km, const char *path)
{
    if (!km || !km->cap)
        return NULL;
    struct sw__cfg_key *k = &km->slots[keymap_slot(km, path)];
    return k->path ? k : NULL;
}

static void keymap_grow(sw__cfg_keymap_t *km)
{
    sw__cfg_keymap_t big = {.cap = km->cap ? km->cap * 2 : 64};
    big.slots = sw_calloc(big.cap, sizeof *big.slots);
    for (size_t i = 0; i < km->cap; i++)
        if (km->slots[i].path)
            big.slots[keymap_slot(&big, km->slots[i].path)] = km->slots[i];
    big.count = km->count;
    sw_free(km->slots);
    *km = big;
}

struct sw__cfg_key *sw__cfg_keymap_add(sw__cfg_keymap_t *km, const char *path, int line,
                                       bool *added)
{
    if (2 * (km->count + 1) > km->cap)
        keymap_grow(km);
    struct sw__cfg_key *k = &km->slots[keymap_slot(km, path)];
    *added = !k->path;
    if (*added) {
        *k = (struct sw__cfg_key){.path = sw_strdup(path), .line = line};
        km->count++;
    }
    return k;
}

void sw__cfg_keymap_remove(sw__cfg_keymap_t *km, const char *path)
{
    if (!km->cap)
        return;
    size_t mask = km->cap - 1, hole = keymap_slot(km, path);
    if (!km->slots[hole].path)
        return;
    sw_free(km->slots[hole].path);
    km->slots[hole] = (struct sw__cfg_key){0};
    km->count--;
    /* Linear probing: a key after the hole in the same run may have been placed past
     * it, and a lookup would now stop at the hole. Placing the rest of the run again
     * puts each where a lookup finds it. */
    for (size_t i = (hole + 1) & mask; km->slots[i].path; i = (i + 1) & mask) {
        struct sw__cfg_key k = km->slots[i];
        km->slots[i] = (struct sw__cfg_key){0};
        km->slots[keymap_slot(km, k.path)] = k;
    }
}

void sw__cfg_keymap_free(sw__cfg_keymap_t *km)
{
    for (size_t i = 0; i < km->cap; i++)
        sw_free(km->slots[i].path);
    sw_free(km->slots);
    *km = (sw__cfg_keymap_t){0};
}

static bool present(const sw__cfg_keymap_t *km, const char *path)
{
    return sw__cfg_keymap_find(km, path) != NULL;
}

/* The row governing `path`: its own, or its nearest ancestor's ("instance_types[0]" is
 * governed by "instance_types"). */
static const sw__cfg_row_t *governing_row(const char *path)
{
    char p[SW__CFG_PATH_MAX];
    sw__cfg_path_pattern(path, p, sizeof p);
    do {
        int row = sw__cfg_row_find(p, strlen(p));
        if (row >= 0)
            return &sw__cfg_rows[row];
    } while (sw__cfg_path_parent(p));
    return NULL;
}

bool sw__cfg_is_missing(const sw__cfg_keymap_t *km, const sw__cfg_row_t *r, const char *path)
{
    if (!km || !r->info.required || present(km, path))
        return false;
    /* An entry of a list that was itself defaulted is complete by construction. */
    char p[SW__CFG_PATH_MAX];
    sw__cfg_path_cat(p, sizeof p, path, "", "");
    while (sw__cfg_path_parent(p)) {
        if (present(km, p))
            return true;
        r = governing_row(p);
        if (r && r->info.type == SW_CFG_KEY_LIST && r->build)
            return false;
    }
    return true;
}

int sw__cfg_keymap_line(const sw__cfg_keymap_t *km, const char *path)
{
    const struct sw__cfg_key *k = sw__cfg_keymap_find(km, path);
    if (k)
        return k->line;
    const sw__cfg_row_t *r = governing_row(path);
    char p[SW__CFG_PATH_MAX];
    sw__cfg_path_cat(p, sizeof p, path, "", "");
    /* An absent key of a given distribution (a uniform's derived mean) is on the line of
     * the distribution. */
    if (r && (r->flags & SW__CFG_DIST_PART) && sw__cfg_path_parent(p))
        return (k = sw__cfg_keymap_find(km, p)) ? k->line : 0;
    if (r && !r->info.required)
        return 0;
    while (sw__cfg_path_parent(p))
        if ((k = sw__cfg_keymap_find(km, p)))
            return k->line;
    return 0;
}

/* ---- Walking the table over a config -------------------------------------------------- */

void sw__cfg_join(char *out, size_t len, const char *prefix, const sw__cfg_row_t *r)
{
    sw__cfg_path_cat(out, len, prefix, *prefix ? "." : "", sw__cfg_row_leaf(r));
}

/* Visits the rows below `parent` (-1: all) over base, entries of lists included. */
static void walk_rows(int parent, char *base, const char *prefix, sw__cfg_visit_fn fn, void *ctx)
{
    for (int i = parent + 1, end = sw__cfg_row_end(parent); i < end; i = sw__cfg_row_end(i)) {
        const sw__cfg_row_t *r = &sw__cfg_rows[i];
        char path[SW__CFG_PATH_MAX];
        sw__cfg_join(path, sizeof path, prefix, r);
        void *data = base + r->offset;
        if (!fn(r, data, base, path, ctx))
            continue;
        if (r->info.type == SW_CFG_KEY_SECTION || r->info.type == SW_CFG_KEY_DIST) {
            walk_rows(i, base, path, fn, ctx);
        } else if (r->info.type == SW_CFG_KEY_LIST) {
            unsigned n = *sw__cfg_list_count(r, base);
            char *arr = *(char **)data;
            int entry = sw__cfg_row_entry(i);
            for (unsigned j = 0; j < n; j++) {
                char ep[SW__CFG_PATH_MAX + 16];
                sw__cfg_path_index(ep, sizeof ep, path, j);
                char *e = arr + (size_t)j * r->entry_size;
                if (entry >= 0)
                    fn(&sw__cfg_rows[entry], e, e, ep, ctx);
                else
                    walk_rows(i, e, ep, fn, ctx);
            }
        }
    }
}

void sw__cfg_walk(sw_cfg_t *cfg, sw__cfg_visit_fn fn, void *ctx)
{
    walk_rows(-1, (char *)cfg, "", fn, ctx);
}

static void full_destroy(sw__cfg_full_t *full);

/* ---- Defaults ------------------------------------------------------------------------- */

static void put_default(const sw__cfg_row_t *r, void *data)
{
    switch (r->info.type) {
    case SW_CFG_KEY_NUMBER: *(double *)data = r->def; break;
    case SW_CFG_KEY_UINT: sw__cfg_put_uint(r, data, (uint64_t)r->def); break;
    case SW_CFG_KEY_BOOL: *(bool *)data = r->def != 0; break;
    case SW_CFG_KEY_ENUM: sw__cfg_put_enum(r, data, (int)r->def); break;
    case SW_CFG_KEY_STRING: *(char **)data = r->def_str ? sw_strdup(r->def_str) : NULL; break;
    default: break;
    }
}

/* A dist given in the file takes its absent keys from the default dist of its key, except
 * cv, which only a lognormal uses: it is 0 unless both are lognormal. */
static void fill_dist(const sw__cfg_keymap_t *km, const char *path, sw_cfg_dist_t *d,
                      const sw_cfg_dist_t *def)
{
    char k[SW__CFG_PATH_MAX + 8];
    if (!present(km, path)) {
        *d = *def;
        return;
    }
    if (sw__cfg_path_cat(k, sizeof k, path, ".dist", ""), !present(km, k))
        d->dist = def->dist;
    if (sw__cfg_path_cat(k, sizeof k, path, ".mean", ""), !present(km, k))
        d->mean = def->mean;
    if (sw__cfg_path_cat(k, sizeof k, path, ".cv", ""), !present(km, k))
        d->cv = d->dist == SW_DIST_LOGNORMAL && def->dist == SW_DIST_LOGNORMAL ? def->cv : 0;
}

typedef struct fill_ctx {
    sw__cfg_full_t *full;
    sw__cfg_problems_t *p;
} fill_ctx_t;

static bool fill_one(const sw__cfg_row_t *r, void *data, void *base, const char *path, void *ctx)
{
    (void)base;
    fill_ctx_t *c = ctx;
    bool here = present(&c->full->keys, path);
    switch (r->info.type) {
    case SW_CFG_KEY_SECTION: return true;
    case SW_CFG_KEY_DIST: fill_dist(&c->full->keys, path, data, &r->def_dist); return false;
    case SW_CFG_KEY_LIST:
        /* A list from the file has its entries' keys filled (the walk goes on); a list
         * built here comes complete. */
        if (!here && r->build)
            r->build(c->full, c->p);
        return here;
    default:
        if (!here && !r->info.required)
            put_default(r, data);
        return false;
    }
}

void sw__cfg_fill_defaults(sw__cfg_full_t *full, sw__cfg_problems_t *p)
{
    fill_ctx_t c = {full, p};
    sw__cfg_walk(&full->pub, fill_one, &c);
}

/* Every top-level key of the types file must be instance_types: anything else there
 * would be silently ignored. */
static void check_types_file(const sw__cfg_full_t *types, sw__cfg_problems_t *p)
{
    if (!present(&types->keys, "instance_types"))
        sw__cfg_problem_at(p, "instance_types", 0, "missing: this file must list them");
    for (size_t i = 0; i < types->keys.cap; i++) {
        const struct sw__cfg_key *k = &types->keys.slots[i];
        if (k->path && strncmp(k->path, "instance_types", 14) != 0)
            sw__cfg_problem_at(p, k->path, k->line, "only instance_types belongs in this file");
    }
}

/* The default instance_types: config/instance-types.yaml beside the example, not C, so
 * that prices live in files. It is read as a policy file of its own, so its problems name
 * that file and its lines. */
int sw__cfg_build_instance_types(sw__cfg_full_t *full, sw__cfg_problems_t *p)
{
    char dir[PATH_MAX], path[PATH_MAX + 32], err[PATH_MAX + 256];
    sw__cfg_builtin_dir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/instance-types.yaml", dir);
    char *yaml;
    size_t len;
    int rc = sw_file_read_all(path, SW_FILE_MAX_CONFIG_BYTES, "policy file", &yaml, &len, err,
                              sizeof err);
    if (rc < 0) {
        sw__cfg_problem_at(p, "instance_types", 0,
                           "not given, and the built-in ones cannot be read: %s", err);
        return rc;
    }
    sw__cfg_full_t *types = sw_calloc(1, sizeof *types);
    const char *file = p->file;
    const sw__cfg_keymap_t *keys = p->keys;
    unsigned before = p->count;
    p->file = path;
    p->keys = &types->keys;
    if (sw__cfg_parse(yaml, len, types, p))
        check_types_file(types, p);
    if (p->count == before) /* (so never without the key: that would recurse) */
        sw__cfg_fill_defaults(types, p);
    p->file = file;
    p->keys = keys;
    full->pub.instance_types = types->pub.instance_types;
    full->pub.instance_types_count = types->pub.instance_types_count;
    types->pub.instance_types = NULL;
    types->pub.instance_types_count = 0;
    full_destroy(types);
    sw_free(yaml);
    return p->count == before ? 0 : SW_ECONFIG;
}

/* Two of the first instance type (built after instance_types, which comes first in the
 * table). Without a named first type the pool stays empty: that type's problem is
 * reported where it is. */
int sw__cfg_build_static_pool(sw__cfg_full_t *full, sw__cfg_problems_t *p)
{
    (void)p;
    const sw_cfg_t *cfg = &full->pub;
    sw_cfg_static_t *st = &full->pub.policy.static_pool;
    if (!cfg->instance_types_count || !cfg->instance_types[0].name)
        return 0;
    st->pool = sw_calloc(1, sizeof *st->pool);
    st->pool_count = 1;
    st->pool[0] = (sw_cfg_pool_entry_t){.type = sw_strdup(cfg->instance_types[0].name), .count = 2};
    return 0;
}

/* ---- Freeing -------------------------------------------------------------------------- */

static void free_rows(int parent, char *base)
{
    for (int i = parent + 1, end = sw__cfg_row_end(parent); i < end; i = sw__cfg_row_end(i)) {
        const sw__cfg_row_t *r = &sw__cfg_rows[i];
        char **data = (char **)(base + r->offset);
        if (r->info.type == SW_CFG_KEY_STRING) {
            sw_free(*data);
            *data = NULL;
        } else if (r->info.type == SW_CFG_KEY_SECTION) {
            free_rows(i, base);
        } else if (r->info.type == SW_CFG_KEY_LIST) {
            unsigned *n = sw__cfg_list_count(r, base);
            for (unsigned j = 0; *data && j < *n && sw__cfg_row_entry(i) < 0; j++)
                free_rows(i, *data + (size_t)j * r->entry_size);
            sw_free(*data);
            *data = NULL;
            *n = 0;
        }
    }
}

void sw__cfg_free_values(sw_cfg_t *cfg)
{
    free_rows(-1, (char *)cfg);
}

/* The mirror of free_rows over a bitwise copy: gives the copy its own strings and lists,
 * so that it owns exactly what free_rows will free. */
static void dup_rows(int parent, char *base)
{
    for (int i = parent + 1, end = sw__cfg_row_end(parent); i < end; i = sw__cfg_row_end(i)) {
        const sw__cfg_row_t *r = &sw__cfg_rows[i];
        char **data = (char **)(base + r->offset);
        if (r->info.type == SW_CFG_KEY_STRING) {
            *data = *data ? sw_strdup(*data) : NULL;
        } else if (r->info.type == SW_CFG_KEY_SECTION) {
            dup_rows(i, base);
        } else if (r->info.type == SW_CFG_KEY_LIST && *data) {
            unsigned n = *sw__cfg_list_count(r, base);
            char *arr = sw_malloc(n ? (size_t)n * r->entry_size : 1);
            if (n)
                memcpy(arr, *data, (size_t)n * r->entry_size);
            *data = arr;
            for (unsigned j = 0; j < n && sw__cfg_row_entry(i) < 0; j++)
                dup_rows(i, arr + (size_t)j * r->entry_size);
        }
    }
}

static void keymap_copy(sw__cfg_keymap_t *dst, const sw__cfg_keymap_t *src)
{
    *dst = *src;
    if (!src->cap)
        return;
    dst->slots = sw_calloc(src->cap, sizeof *dst->slots);
    for (size_t i = 0; i < src->cap; i++)
        if (src->slots[i].path)
            dst->slots[i] = (struct sw__cfg_key){sw_strdup(src->slots[i].path), src->slots[i].line};
}

/* ---- Finalize: defaults that depend on other keys, derived values, paths --------------- */

void sw__cfg_builtin_dir(char *buf, size_t len)
{
#ifdef SW_SOURCE_DIR
    snprintf(buf, len, "%s/config", SW_SOURCE_DIR);
#else
    /* CMake compiles with absolute source paths, so this is <repo>/config. */
    snprintf(buf, len, "%s", __FILE__);
    char *slash = strrchr(buf, '/');
    if (slash)
        *slash = '\0';
    else
        snprintf(buf, len, ".");
#endif
}

/* dir/rel, made canonical when it exists (so printed configs show a clean path), left
 * as joined when it does not (the trace may appear later; its reader reports that). */
static char *join_path(const char *dir, const char *rel)
{
    sw_strbuf_t b = {0};
    sw_strbuf_printf(&b, "%s/%s", dir, rel);
    char *joined = sw_strbuf_take(&b);
    char *real = realpath(joined, NULL);
    if (!real)
        return joined;
    sw_free(joined);
    char *out = sw_strdup(real);
    free(real); /* realpath allocates with malloc */
    return out;
}

static void resolve_path(char **slot, const char *dir)
{
    if (!*slot || !**slot || (*slot)[0] == '/' || !dir)
        return;
    char *abs = join_path(dir, *slot);
    sw_free(*slot);
    *slot = abs;
}

/* A uniform's mean follows from min and max; a different mean in the file is a mistake
 * that would otherwise be silently overwritten. */
static bool derive_uniform_mean(const sw__cfg_row_t *r, void *data, void *base, const char *path,
                                void *ctx)
{
    (void)base;
    if (r->info.type != SW_CFG_KEY_DIST)
        return r->info.type == SW_CFG_KEY_SECTION || r->info.type == SW_CFG_KEY_LIST;
    sw__cfg_full_t *full = ((fill_ctx_t *)ctx)->full;
    sw_cfg_dist_t *d = data;
    if (d->dist != SW_DIST_UNIFORM)
        return false;
    double mean = (d->min + d->max) / 2;
    char k[SW__CFG_PATH_MAX + 8];
    if (snprintf(k, sizeof k, "%s.mean", path) >= (int)sizeof k)
        return false;
    if (present(&full->keys, k) && d->mean != mean)
        sw__cfg_problem(((fill_ctx_t *)ctx)->p, k,
                        "a uniform distribution's mean is (min + max) / 2 = %g: remove mean, or "
                        "change min and max",
                        mean);
    d->mean = mean;
    return false;
}

static void finalize(sw__cfg_full_t *full, const char *base_dir, sw__cfg_problems_t *p)
{
    sw_cfg_t *cfg = &full->pub;
    const char *first = cfg->instance_types_count ? cfg->instance_types[0].name : NULL;

    if (first && !present(&full->keys, "policy.reactive.instance_type"))
        cfg->policy.reactive.instance_type = sw_strdup(first);

    fill_ctx_t c = {full, p};
    sw__cfg_walk(cfg, derive_uniform_mean, &c);

    if (!present(&full->keys, "trace.path")) {
        char dir[PATH_MAX];
        sw__cfg_builtin_dir(dir, sizeof dir);
        resolve_path(&cfg->trace.path, dir);
    } else {
        resolve_path(&cfg->trace.path, base_dir);
    }
    resolve_path(&cfg->predictor.model_path, base_dir);
    resolve_path(&cfg->serve.model_path, base_dir);
    resolve_path(&cfg->serve.static_token_file, base_dir);
}

/* ---- Load and destroy ----------------------------------------------------------------- */

static void full_destroy(sw__cfg_full_t *full)
{
    if (!full)
        return;
    sw__cfg_free_values(&full->pub);
    sw__cfg_keymap_free(&full->keys);
    sw_free(full->name);
    sw_free(full->pub.source_path);
    sw_free(full);
}

void sw_cfg_destroy(sw_cfg_t *cfg)
{
    full_destroy((sw__cfg_full_t *)cfg);
}

sw_cfg_t *sw_cfg_copy(const sw_cfg_t *cfg)
{
    const sw__cfg_full_t *src = (const sw__cfg_full_t *)cfg;
    sw__cfg_full_t *full = sw_malloc(sizeof *full);
    *full = *src;
    dup_rows(-1, (char *)&full->pub);
    keymap_copy(&full->keys, &src->keys);
    full->name = sw_strdup(src->name);
    full->pub.source_path = src->pub.source_path ? sw_strdup(src->pub.source_path) : NULL;
    return &full->pub;
}

static int load(const char *yaml, size_t len, const char *name, const char *source_path,
                const char *base_dir, sw_cfg_t **out, char *errbuf, size_t errlen)
{
    sw__cfg_full_t *full = sw_calloc(1, sizeof *full);
    full->name = sw_strdup(name);
    full->pub.source_path = source_path ? sw_strdup(source_path) : NULL;
    sw__cfg_problems_t p = {.file = name, .keys = &full->keys};

    *out = NULL;
    if (len > SW_FILE_MAX_CONFIG_BYTES)
        sw__cfg_problem_at(&p, "", 0, "is %zu bytes, more than the %u allowed for a policy file",
                           len, SW_FILE_MAX_CONFIG_BYTES);
    else if (sw__cfg_parse(yaml, len, full, &p))
        sw__cfg_fill_defaults(full, &p);
    if (!p.count) {
        finalize(full, base_dir, &p);
        sw__cfg_check(&full->pub, &p);
    }
    if (p.count)
        full_destroy(full);
    else
        *out = &full->pub;
    return sw__cfg_problems_finish(&p, errbuf, errlen);
}

int sw_cfg_load_string(const char *yaml, size_t len, const char *name, sw_cfg_t **out, char *errbuf,
                       size_t errlen)
{
    return load(yaml, len, name ? name : "<string>", NULL, NULL, out, errbuf, errlen);
}

int sw_cfg_load(const char *path, sw_cfg_t **out, char *errbuf, size_t errlen)
{
    char *yaml = NULL;
    size_t len = 0;
    *out = NULL;
    /* A directory, a device or a FIFO is refused by name, before anything blocks on it or
     * reads it without end, and so is a file over the size cap. */
    int rc = sw_file_read_all(path, SW_FILE_MAX_CONFIG_BYTES, "policy file", &yaml, &len, errbuf,
                              errlen);
    if (rc < 0) {
        if (rc != -EISDIR && rc != -EINVAL && rc != -EFBIG)
            sw_set_error(errbuf, errlen, "%s: cannot read: %s", path, strerror(-rc));
        return rc;
    }
    /* Relative paths inside the file are relative to its folder, so that a config works
     * from any working directory. */
    char *real = realpath(path, NULL);
    char *dir = sw_strdup(real ? real : path);
    free(real);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    else
        snprintf(dir, strlen(dir) + 1, ".");
    rc = load(yaml, len, path, path, dir, out, errbuf, errlen);
    sw_free(dir);
    sw_free(yaml);
    return rc;
}

int sw_cfg_validate(const sw_cfg_t *cfg, char *errbuf, size_t errlen)
{
    sw__cfg_problems_t p = {.file = cfg->source_path ? cfg->source_path : "config"};
    sw__cfg_check(cfg, &p);
    return sw__cfg_problems_finish(&p, errbuf, errlen);
}

/* ---- Small accessors ------------------------------------------------------------------ */

int sw_cfg_find_type(const sw_cfg_t *cfg, const char *name)
{
    for (unsigned i = 0; name && i < cfg->instance_types_count; i++)
        if (cfg->instance_types[i].name && strcmp(cfg->instance_types[i].name, name) == 0)
            return (int)i;
    return -1;
}

uint64_t sw_cfg_predictor_seed(const sw_cfg_t *cfg)
{
    return cfg->predictor.seed ? cfg->predictor.seed : cfg->seed;
}

double sw_cfg_dist_mean(const sw_cfg_dist_t *d)
{
    if (d->dist == SW_DIST_UNIFORM)
        return (d->min + d->max) / 2;
    return d->mean;
}
