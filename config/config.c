/* Loading the YAML policy into an sw_cfg_t: a libyaml pre-pass records which keys the file
 * has (and on which line), libcyaml maps the file onto the structs, the defaults table
 * fills every absent key, a finalize step resolves the defaults that depend on other keys
 * and the relative paths, and validate.c checks ranges and cross-field rules. Every problem
 * comes out as `FILE:LINE: key.path: message`, including libcyaml's own, whose log we
 * capture and translate rather than let it reach stderr. Also sw_cfg_set, used by the CLI
 * for overrides. */
#include "config/config.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <yaml.h>

#include "config/config_internal.h"

/* ---- Small strings -------------------------------------------------------------------- */

void sw__strbuf_vprintf(sw__strbuf_t *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return;
    if (b->len + (size_t)n + 1 > b->cap) {
        b->cap = SW_MAX(b->cap * 2, b->len + (size_t)n + 1);
        b->s = sw_realloc(b->s, b->cap);
    }
    vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
    b->len += (size_t)n;
}

void sw__strbuf_printf(sw__strbuf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sw__strbuf_vprintf(b, fmt, ap);
    va_end(ap);
}

void sw__strbuf_free(sw__strbuf_t *b)
{
    sw_free(b->s);
    *b = (sw__strbuf_t){0};
}

static char *str_printf(const char *fmt, ...) SW_PRINTF(1, 2);
static char *str_printf(const char *fmt, ...)
{
    sw__strbuf_t b = {0};
    va_list ap;
    va_start(ap, fmt);
    sw__strbuf_vprintf(&b, fmt, ap);
    va_end(ap);
    return b.s ? b.s : sw_strdup("");
}

/* Cuts the last component: "a.b[2]" -> "a.b" -> "a" -> "". Returns false at the root. */
static bool path_parent(char *path)
{
    if (!*path)
        return false;
    char *dot = strrchr(path, '.');
    char *br = strrchr(path, '[');
    char *cut = dot > br ? dot : br;
    if (cut)
        *cut = '\0';
    else
        path[0] = '\0';
    return true;
}

/* "instance_types[3].boot_s" -> "instance_types[].boot_s", the form the defaults table
 * uses. */
static void path_pattern(const char *path, char *out, size_t len)
{
    size_t o = 0;
    for (const char *s = path; *s && o + 1 < len; s++) {
        out[o++] = *s;
        if (*s == '[') {
            while (s[1] >= '0' && s[1] <= '9')
                s++;
        }
    }
    out[o] = '\0';
}

/* ---- Problems ------------------------------------------------------------------------- */

static void problem_v(sw__cfg_problems_t *p, const char *path, int line, const char *fmt,
                      va_list ap)
{
    sw__strbuf_printf(&p->text, "%s", p->file);
    if (line > 0)
        sw__strbuf_printf(&p->text, ":%d", line);
    if (*path)
        sw__strbuf_printf(&p->text, ": %s", path);
    sw__strbuf_printf(&p->text, ": ");
    sw__strbuf_vprintf(&p->text, fmt, ap);
    sw__strbuf_printf(&p->text, "\n");
    p->paths = sw_realloc(p->paths, (p->count + 1) * sizeof *p->paths);
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

int sw__cfg_problems_finish(sw__cfg_problems_t *p, char *errbuf, size_t errlen)
{
    int rc = p->count ? SW_ECONFIG : 0;
    if (errbuf && errlen) {
        size_t n = p->text.len;
        if (n && p->text.s[n - 1] == '\n')
            n--;
        n = SW_MIN(n, errlen - 1);
        if (n)
            memcpy(errbuf, p->text.s, n);
        errbuf[n] = '\0';
    }
    for (unsigned i = 0; i < p->count; i++)
        sw_free(p->paths[i]);
    sw_free(p->paths);
    sw__strbuf_free(&p->text);
    p->paths = NULL;
    p->count = 0;
    return rc;
}

/* ---- Defaults: the one table ---------------------------------------------------------- */

typedef enum {
    DEF_NONE, /* required: no default, validation reports it missing */
    DEF_NUM,  /* number, bool or enum value */
    DEF_STR,  /* string; NULL = unset, resolved at finalize or left NULL */
    DEF_DIST, /* a whole distribution; also the source for absent fields of a given one */
    DEF_LIST, /* a sequence built by `build` */
} def_kind_t;

typedef struct cfg_default {
    const char *pattern; /* key path, "[]" for any index */
    def_kind_t kind;
    double num;
    const char *str;
    sw_cfg_dist_t dist;
    void (*build)(sw__cfg_full_t *full);
} cfg_default_t;

static void build_instance_types(sw__cfg_full_t *full);
static void build_static_pool(sw__cfg_full_t *full);
static void build_no_functions(sw__cfg_full_t *full);

/* clang-format off */
#define LOGN(m, c) { .dist = SW_DIST_LOGNORMAL, .mean = (m), .cv = (c) }
/* clang-format on */
/* Relative to the source tree's config/ folder (see builtin_config_dir). */
#define DEFAULT_TRACE "../data/traces/twitter-2021-08/twitter_day00_per_second.txt"

/* Every key of the schema appears here (dist sub-keys through their dist). Values and
 * their reasons are documented in config/example.yaml. */
static const cfg_default_t defaults[] = {
    {"seed", DEF_NUM, 1},
    {"slo.latency_ms", DEF_NUM, 200},
    {"slo.target", DEF_NUM, 0.98},
    {"instance_types", DEF_LIST, .build = build_instance_types},
    {"instance_types[].name", DEF_NONE},
    {"instance_types[].price_per_hour_usd", DEF_NONE},
    {"instance_types[].boot_s", DEF_DIST, .dist = LOGN(45, 0.25)},
    {"instance_types[].max_batch", DEF_NONE},
    {"instance_types[].batch_latency_ms", DEF_NONE},
    {"instance_types[].service_variation", DEF_DIST, .dist = {.dist = SW_DIST_CONSTANT, .mean = 1}},
    {"instance_types[].spot.enabled", DEF_NUM, false},
    {"instance_types[].spot.price_factor", DEF_NUM, 0.35},
    {"instance_types[].spot.interruptions_per_hour", DEF_NUM, 0.05},
    {"instance_types[].spot.notice_s", DEF_NUM, 120},
    {"instance_types[].max_instances", DEF_NUM, 0},
    {"faas.enabled", DEF_NUM, true},
    {"faas.memory_mb", DEF_NUM, 3008},
    {"faas.price_per_gb_s_usd", DEF_NUM, 0.0000166667},
    {"faas.price_per_million_requests_usd", DEF_NUM, 0.20},
    {"faas.billing_granularity_ms", DEF_NUM, 1},
    {"faas.warm_latency_ms", DEF_DIST, .dist = LOGN(120, 0.2)},
    {"faas.cold_start_ms", DEF_DIST, .dist = LOGN(2500, 0.3)},
    {"faas.bill_cold_start", DEF_NUM, true},
    {"faas.keep_alive_s", DEF_NUM, 600},
    {"faas.concurrency_limit", DEF_NUM, 1000},
    {"faas.scale_out_per_minute", DEF_NUM, 500},
    {"faas.free_tier.enabled", DEF_NUM, false},
    {"faas.free_tier.requests", DEF_NUM, 1000000},
    {"faas.free_tier.gb_s", DEF_NUM, 400000},
    {"faas.invoke.region", DEF_STR, .str = "us-east-1"},
    {"faas.invoke.endpoint", DEF_STR, .str = NULL}, /* the region's AWS endpoint */
    {"faas.invoke.function_name", DEF_STR, .str = "spillway-infer"},
    {"faas.invoke.qualifier", DEF_STR, .str = NULL},
    {"faas.invoke.credentials_profile", DEF_STR, .str = NULL},
    {"faas.invoke.timeout_ms", DEF_NUM, 3000},
    {"faas.invoke.max_in_flight", DEF_NUM, 256},
    {"faas.invoke.max_retries", DEF_NUM, 2},
    {"faas.invoke.retry_base_ms", DEF_NUM, 20},
    {"faas.local.listen", DEF_STR, .str = "127.0.0.1:9001"},
    {"faas.local.timeout_s", DEF_NUM, 3},
    {"faas.local.functions", DEF_LIST, .build = build_no_functions},
    {"faas.local.functions[].name", DEF_NONE},
    {"faas.local.functions[].command", DEF_NONE},
    {"billing.vm_granularity_s", DEF_NUM, 1},
    {"billing.vm_minimum_s", DEF_NUM, 60},
    {"policy.name", DEF_NUM, SW_POLICY_MARK},
    {"policy.interval_s", DEF_NUM, 60},
    {"policy.max_queue_delay_ms", DEF_NUM, 2000},
    {"policy.dispatch_margin_ms", DEF_NUM, 5},
    {"policy.static.pool", DEF_LIST, .build = build_static_pool}, /* [{first type, 2}] */
    {"policy.static.pool[].type", DEF_NONE},
    {"policy.static.pool[].count", DEF_NONE},
    {"policy.reactive.instance_type", DEF_STR, .str = NULL}, /* unset: the first type */
    {"policy.reactive.target_invocations_per_instance_per_minute", DEF_NUM, 0},
    {"policy.reactive.scale_out_cooldown_s", DEF_NUM, 60},
    {"policy.reactive.scale_in_cooldown_s", DEF_NUM, 300},
    {"policy.reactive.min_instances", DEF_NUM, 1},
    {"policy.reactive.max_instances", DEF_NUM, 0},
    {"policy.mark.horizon_intervals", DEF_NUM, 5},
    {"policy.mark.target_utilization", DEF_NUM, 0.8},
    {"policy.mark.violation_budget", DEF_NUM, 0.02},
    {"policy.mark.violation_window_s", DEF_NUM, 60},
    {"policy.mark.violation_cooldown_s", DEF_NUM, 120},
    {"policy.mark.min_instances", DEF_NUM, 0},
    {"policy.mark.spill", DEF_NUM, true},
    {"predictor.name", DEF_STR, .str = "recent-max"},
    {"predictor.horizon_intervals", DEF_NUM, 5},
    {"predictor.window_intervals", DEF_NUM, 10},
    {"predictor.headroom", DEF_NUM, 1.2},
    {"predictor.quantile", DEF_NUM, 0.95},
    {"predictor.model_path", DEF_STR, .str = NULL},
    {"predictor.season_s", DEF_NUM, 86400},
    {"predictor.holdout_frac", DEF_NUM, 0.4},
    {"predictor.calendar", DEF_NUM, false},
    {"predictor.ewma_alpha", DEF_NUM, 0}, /* 0: fitted */
    {"predictor.ar_order", DEF_NUM, 60},
    {"predictor.seed", DEF_NUM, 0},          /* 0: the top-level seed */
    {"predictor.gaps.min_run", DEF_NUM, 20}, /* 0: no gap detection */
    {"predictor.gaps.min_level", DEF_NUM, 10},
    {"predictor.gaps.context", DEF_NUM, 60},
    {"predictor.lstm.hidden", DEF_NUM, 32},
    {"predictor.lstm.window", DEF_NUM, 60},
    {"predictor.lstm.epochs", DEF_NUM, 0}, /* 0: the forecaster's default */
    {"predictor.lstm.learning_rate", DEF_NUM, 0.003},
    {"predictor.lstm.batch", DEF_NUM, 64},
    {"trace.path", DEF_STR, .str = DEFAULT_TRACE}, /* made absolute at finalize */
    {"trace.format", DEF_NUM, SW_TRACE_AUTO},
    {"trace.timestamp_column", DEF_STR, .str = "TIMESTAMP"},
    {"trace.rate_scale", DEF_NUM, 1},
    {"trace.start_s", DEF_NUM, 0},
    {"trace.duration_s", DEF_NUM, 0},
};

/* The default instance_types: the five types of config/example.yaml, with the same
 * values (see the comments there for their sources). */
static const struct builtin_type {
    const char *name;
    double price_per_hour_usd;
    unsigned max_batch;
    double t_b[16];
    sw_cfg_dist_t boot_s;
} builtin_types[] = {
    {"c5.large", 0.085, 4, {105, 210, 315, 420}, LOGN(45, 0.25)},
    {"c5.xlarge", 0.17, 4, {61, 122, 183, 244}, LOGN(45, 0.25)},
    {"c5.2xlarge", 0.34, 4, {47, 78, 113, 150}, LOGN(45, 0.25)},
    {"c5.4xlarge", 0.68, 4, {35, 56, 80, 106}, LOGN(45, 0.25)},
    {"p2.xlarge",
     0.90,
     16,
     {30, 36, 42, 48, 54, 60, 66, 72, 78, 84, 90, 96, 102, 108, 114, 120},
     LOGN(90, 0.3)},
};
static const sw_cfg_dist_t builtin_service_variation = LOGN(1, 0.1);

static const cfg_default_t *find_default(const char *path)
{
    char pat[SW__CFG_PATH_MAX];
    path_pattern(path, pat, sizeof pat);
    for (size_t i = 0; i < SW_ARRAY_LEN(defaults); i++)
        if (strcmp(defaults[i].pattern, pat) == 0)
            return &defaults[i];
    return NULL;
}

/* The row governing `path`: its own, or its nearest ancestor's (a dist's sub-keys). */
static const cfg_default_t *governing_default(const char *path)
{
    char p[SW__CFG_PATH_MAX];
    snprintf(p, sizeof p, "%s", path);
    do {
        const cfg_default_t *d = find_default(p);
        if (d)
            return d;
    } while (path_parent(p));
    return NULL;
}

/* ---- The key map ---------------------------------------------------------------------- */

const sw__cfg_key_t *sw__cfg_keymap_find(const sw__cfg_keymap_t *km, const char *path)
{
    for (size_t i = 0; km && i < km->count; i++)
        if (strcmp(km->keys[i].path, path) == 0)
            return &km->keys[i];
    return NULL;
}

static void keymap_add(sw__cfg_keymap_t *km, char *path, const char *scalar, int line)
{
    if (km->count == km->cap) {
        km->cap = km->cap ? km->cap * 2 : 64;
        km->keys = sw_realloc(km->keys, km->cap * sizeof *km->keys);
    }
    km->keys[km->count++] = (sw__cfg_key_t){
        .path = path,
        .scalar = scalar ? sw_strdup(scalar) : NULL,
        .line = line,
    };
}

void sw__cfg_keymap_free(sw__cfg_keymap_t *km)
{
    for (size_t i = 0; i < km->count; i++) {
        sw_free(km->keys[i].path);
        sw_free(km->keys[i].scalar);
    }
    sw_free(km->keys);
    *km = (sw__cfg_keymap_t){0};
}

static bool present(const sw__cfg_keymap_t *km, const char *path)
{
    return sw__cfg_keymap_find(km, path) != NULL;
}

bool sw__cfg_is_missing(const sw__cfg_keymap_t *km, const char *path)
{
    if (!km || present(km, path))
        return false;
    const cfg_default_t *d = governing_default(path);
    if (d && d->kind != DEF_NONE)
        return false;
    /* An entry of a list that was itself defaulted is complete by construction. */
    char p[SW__CFG_PATH_MAX];
    snprintf(p, sizeof p, "%s", path);
    while (path_parent(p)) {
        if (present(km, p))
            return true;
        d = find_default(p);
        if (d && d->kind == DEF_LIST)
            return false;
    }
    return true;
}

int sw__cfg_keymap_line(const sw__cfg_keymap_t *km, const char *path)
{
    const sw__cfg_key_t *k = sw__cfg_keymap_find(km, path);
    if (k)
        return k->line;
    const cfg_default_t *d = governing_default(path);
    if (d && d->kind != DEF_NONE)
        return 0;
    char p[SW__CFG_PATH_MAX];
    snprintf(p, sizeof p, "%s", path);
    while (path_parent(p)) {
        k = sw__cfg_keymap_find(km, p);
        if (k)
            return k->line;
    }
    return 0;
}

/* ---- Pre-pass: which keys are present, and where -------------------------------------- */

typedef struct frame {
    char *path; /* "" for the root mapping; NULL inside an ignored (duplicate) subtree */
    bool is_seq;
    unsigned index; /* sequence: index of the next entry */
    char *key;      /* mapping: the key whose value comes next, or NULL */
    int key_line;
} frame_t;

typedef struct prepass {
    sw__cfg_keymap_t *km;
    sw__cfg_problems_t *p;
    frame_t *stack;
    size_t depth;
    size_t cap;
    unsigned documents;
    bool failed; /* stop: the rest cannot be mapped onto paths */
} prepass_t;

/* The path of the node that starts now, or NULL if inside an ignored subtree. */
static char *child_path(prepass_t *pp, const yaml_mark_t *mark, int *line)
{
    frame_t *top = &pp->stack[pp->depth - 1];
    if (top->is_seq) {
        unsigned idx = top->index++;
        *line = (int)mark->line + 1;
        return top->path ? str_printf("%s[%u]", top->path, idx) : NULL;
    }
    *line = top->key_line;
    if (!top->path)
        return NULL;
    return *top->path ? str_printf("%s.%s", top->path, top->key) : sw_strdup(top->key);
}

/* Records a node; returns its path (owned by the key map), or NULL if it is a duplicate
 * or inside one, in which case its subtree is ignored. */
static const char *record(prepass_t *pp, char *path, int line, const char *scalar)
{
    if (!path)
        return NULL;
    const sw__cfg_key_t *prev = sw__cfg_keymap_find(pp->km, path);
    if (prev) {
        sw__cfg_problem_at(pp->p, path, line, "duplicate key (first given on line %d)", prev->line);
        sw_free(path);
        return NULL;
    }
    keymap_add(pp->km, path, scalar, line);
    return path;
}

static void push(prepass_t *pp, const char *path, bool is_seq)
{
    if (pp->depth == pp->cap) {
        pp->cap = pp->cap ? pp->cap * 2 : 16;
        pp->stack = sw_realloc(pp->stack, pp->cap * sizeof *pp->stack);
    }
    pp->stack[pp->depth++] = (frame_t){.path = path ? sw_strdup(path) : NULL, .is_seq = is_seq};
}

static void pop(prepass_t *pp)
{
    frame_t *f = &pp->stack[--pp->depth];
    sw_free(f->path);
    sw_free(f->key);
    if (pp->depth) {
        frame_t *top = &pp->stack[pp->depth - 1];
        sw_free(top->key);
        top->key = NULL;
    }
}

static bool expecting_key(const prepass_t *pp)
{
    const frame_t *top = &pp->stack[pp->depth - 1];
    return !top->is_seq && !top->key;
}

static void on_event(prepass_t *pp, const yaml_event_t *ev)
{
    int line = 0;
    switch (ev->type) {
    case YAML_DOCUMENT_START_EVENT:
        if (++pp->documents > 1) {
            sw__cfg_problem_at(pp->p, "", (int)ev->start_mark.line + 1,
                               "a second YAML document ('---'): the file must hold one");
            pp->failed = true;
        }
        break;
    case YAML_MAPPING_START_EVENT:
    case YAML_SEQUENCE_START_EVENT: {
        bool is_seq = ev->type == YAML_SEQUENCE_START_EVENT;
        if (pp->depth == 0) {
            /* The root: libcyaml reports a root that is not a mapping. */
            push(pp, "", is_seq);
            break;
        }
        if (expecting_key(pp)) {
            sw__cfg_problem_at(pp->p, "", (int)ev->start_mark.line + 1,
                               "keys must be plain names, not lists or mappings");
            pp->failed = true;
            break;
        }
        char *path = child_path(pp, &ev->start_mark, &line);
        push(pp, record(pp, path, line, NULL), is_seq);
        break;
    }
    case YAML_MAPPING_END_EVENT:
    case YAML_SEQUENCE_END_EVENT: pop(pp); break;
    case YAML_SCALAR_EVENT: {
        const char *text = (const char *)ev->data.scalar.value;
        if (pp->depth == 0)
            break;
        if (expecting_key(pp)) {
            frame_t *top = &pp->stack[pp->depth - 1];
            top->key = sw_strdup(text);
            top->key_line = (int)ev->start_mark.line + 1;
            break;
        }
        char *path = child_path(pp, &ev->start_mark, &line);
        record(pp, path, line, text);
        if (!pp->stack[pp->depth - 1].is_seq) {
            sw_free(pp->stack[pp->depth - 1].key);
            pp->stack[pp->depth - 1].key = NULL;
        }
        break;
    }
    case YAML_ALIAS_EVENT: {
        /* An alias would hide its keys from the pre-pass, and defaults would then
         * overwrite them; writing values out is clearer in a policy file anyway. */
        if (pp->depth == 0 || expecting_key(pp)) {
            sw__cfg_problem_at(pp->p, "", (int)ev->start_mark.line + 1,
                               "YAML aliases are not supported");
            pp->failed = true;
            break;
        }
        char *path = child_path(pp, &ev->start_mark, &line);
        sw__cfg_problem_at(pp->p, path ? path : "", line,
                           "YAML aliases (*%s) are not supported: write the value out",
                           (const char *)ev->data.alias.anchor);
        sw_free(path);
        if (!pp->stack[pp->depth - 1].is_seq) {
            sw_free(pp->stack[pp->depth - 1].key);
            pp->stack[pp->depth - 1].key = NULL;
        }
        break;
    }
    default: break;
    }
}

/* Returns false on a YAML syntax error (already reported), after which nothing else is
 * worth trying. Scalars of the wrong type are reported here too: see
 * sw__cfg_parse_scalar for why libcyaml cannot be left to it. */
static bool prepass(const char *yaml, size_t len, sw__cfg_keymap_t *km, sw__cfg_problems_t *p)
{
    yaml_parser_t parser;
    prepass_t pp = {.km = km, .p = p};
    bool ok = true;

    if (!yaml_parser_initialize(&parser))
        abort(); /* only fails on out of memory */
    yaml_parser_set_input_string(&parser, (const unsigned char *)yaml, len);
    for (;;) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&parser, &ev)) {
            sw__strbuf_t ctx = {0};
            if (parser.context)
                sw__strbuf_printf(&ctx, " (%s started on line %zu)", parser.context,
                                  parser.context_mark.line + 1);
            sw__cfg_problem_at(p, "", (int)parser.problem_mark.line + 1, "YAML syntax error: %s%s",
                               parser.problem ? parser.problem : "malformed YAML",
                               ctx.s ? ctx.s : "");
            sw__strbuf_free(&ctx);
            ok = false;
            break;
        }
        bool end = ev.type == YAML_STREAM_END_EVENT;
        on_event(&pp, &ev);
        yaml_event_delete(&ev);
        if (end || pp.failed)
            break;
    }
    while (pp.depth)
        pop(&pp);
    sw_free(pp.stack);
    yaml_parser_delete(&parser);
    if (!ok || pp.failed)
        return false;

    for (size_t i = 0; i < km->count; i++) {
        const sw__cfg_key_t *k = &km->keys[i];
        const cyaml_schema_value_t *v = k->scalar ? sw__cfg_schema_at(k->path) : NULL;
        char msg[384];
        if (v && sw__cfg_parse_scalar(v, k->scalar, msg, sizeof msg) != 0)
            sw__cfg_problem_at(p, k->path, k->line, "%s", msg);
    }
    return true;
}

/* ---- libcyaml's errors, in our shape -------------------------------------------------- */

static void on_cyaml_log(cyaml_log_t level, void *ctx, const char *fmt, va_list args)
{
    (void)level;
    sw__strbuf_vprintf(ctx, fmt, args);
}

static const char *event_noun(const char *ev, const char *scalar)
{
    if (strncmp(ev, "SCALAR", 6) == 0)
        return scalar && !*scalar ? "nothing" : "a single value";
    if (strncmp(ev, "SEQUENCE", 8) == 0)
        return "a list";
    if (strncmp(ev, "MAPPING", 7) == 0)
        return "a mapping";
    return ev;
}

static const char *type_noun(const char *type)
{
    static const struct {
        const char *cyaml, *noun;
    } nouns[] = {
        {"MAPPING", "a mapping of keys"}, {"SEQUENCE", "a list"},    {"FLOAT", "a number"},
        {"UINT", "a whole number"},       {"INT", "a whole number"}, {"BOOL", "true or false"},
        {"STRING", "a string"},           {"ENUM", "a name"},
    };
    for (size_t i = 0; i < SW_ARRAY_LEN(nouns); i++)
        if (strncmp(type, nouns[i].cyaml, strlen(nouns[i].cyaml)) == 0)
            return nouns[i].noun;
    return type;
}

/* Reads the captured log of a failed cyaml_load_data, e.g.
 *     Load: Unexpected key: foo
 *     Load: Backtrace:
 *       in mapping (line: 3, column: 3)
 *       in mapping field 'slo' (line: 2, column: 1)
 * into its message ("Unexpected key: foo"), the key path of the innermost node ("slo")
 * and that node's line. The backtrace is innermost first; sequence entries count from 1. */
static void parse_cyaml_log(const char *log, char *msg, size_t msglen, char *path, size_t pathlen,
                            int *line)
{
    char comps[32][128];
    size_t ncomp = 0;

    msg[0] = path[0] = '\0';
    *line = 0;
    for (const char *s = log; s && *s;) {
        const char *nl = strchr(s, '\n');
        size_t n = nl ? (size_t)(nl - s) : strlen(s);
        char text[512];
        snprintf(text, sizeof text, "%.*s", (int)SW_MIN(n, sizeof text - 1), s);
        s = nl ? nl + 1 : s + n;

        const char *q, *ln = strstr(text, "(line: ");
        if (ln && !*line)
            *line = atoi(ln + 7);
        if ((q = strstr(text, "in mapping field '")) && ncomp < SW_ARRAY_LEN(comps)) {
            q += strlen("in mapping field '");
            snprintf(comps[ncomp++], sizeof comps[0], ".%.*s", (int)strcspn(q, "'"), q);
        } else if ((q = strstr(text, "in sequence entry '")) && ncomp < SW_ARRAY_LEN(comps)) {
            long idx = atol(q + strlen("in sequence entry '"));
            snprintf(comps[ncomp++], sizeof comps[0], "[%ld]", idx > 0 ? idx - 1 : 0);
        } else if (strncmp(text, "Load: ", 6) == 0 && !msg[0] &&
                   strncmp(text, "Load: Backtrace", 15) != 0) {
            snprintf(msg, msglen, "%s", text + 6);
        }
    }
    size_t used = 0;
    for (size_t i = ncomp; i-- > 0;) {
        const char *c = comps[i];
        if (used == 0 && c[0] == '.')
            c++;
        int w = snprintf(path + used, pathlen - used, "%s", c);
        used = SW_MIN(used + (size_t)SW_MAX(w, 0), pathlen - 1);
    }
}

/* Our wording for a libcyaml message about the node at `path` (which it may extend, for
 * an unknown key). */
static void cyaml_message(const char *msg, cyaml_err_t err, const sw__cfg_keymap_t *km, char *path,
                          size_t pathlen, char *text, size_t textlen)
{
    const char *arg;
    if ((arg = strstr(msg, "Unexpected key: "))) {
        size_t len = strlen(path);
        snprintf(path + len, pathlen - len, "%s%s", len ? "." : "",
                 arg + strlen("Unexpected key: "));
        snprintf(text, textlen, "unknown key");
    } else if (strstr(msg, "Invalid ") && (arg = strstr(msg, " value: "))) {
        /* Normally caught by the pre-pass; reworded the same way if not. */
        char val[256];
        snprintf(val, sizeof val, "%s", arg + strlen(" value: "));
        size_t vl = strlen(val);
        if (vl >= 2 && val[0] == '\'' && val[vl - 1] == '\'') {
            memmove(val, val + 1, vl - 2);
            val[vl - 2] = '\0';
        }
        const cyaml_schema_value_t *v = sw__cfg_schema_at(path);
        if (!v || sw__cfg_parse_scalar(v, val, text, textlen) == 0)
            snprintf(text, textlen, "invalid value \"%s\"", val);
    } else if ((arg = strstr(msg, "Expecting ")) && strstr(msg, ", got event: ")) {
        const sw__cfg_key_t *k = sw__cfg_keymap_find(km, path);
        if (!*path)
            snprintf(text, textlen,
                     "the file must be a mapping of keys (seed, slo, instance_types, ...)");
        else
            snprintf(text, textlen, "expected %s, got %s", type_noun(arg + 10),
                     event_noun(strstr(msg, ", got event: ") + 13, k ? k->scalar : NULL));
    } else if (strstr(msg, "Mapping field already seen")) {
        snprintf(text, textlen, "duplicate key");
    } else {
        snprintf(text, textlen, "%s", msg[0] ? msg : cyaml_strerror(err));
    }
}

/* Reports a failed cyaml_load_data as "FILE:LINE: key.path: message", unless the
 * pre-pass already reported that path. */
static void translate_cyaml(const char *log, cyaml_err_t err, const sw__cfg_keymap_t *km,
                            sw__cfg_problems_t *p)
{
    char msg[512], path[SW__CFG_PATH_MAX], text[512];
    int line;

    parse_cyaml_log(log, msg, sizeof msg, path, sizeof path, &line);
    cyaml_message(msg, err, km, path, sizeof path, text, sizeof text);
    if (sw__cfg_problem_has_path(p, path))
        return;
    const sw__cfg_key_t *k = sw__cfg_keymap_find(km, path);
    sw__cfg_problem_at(p, path, k ? k->line : line, "%s", text);
}

/* ---- Filling defaults ----------------------------------------------------------------- */

static void put_default(const cyaml_schema_value_t *v, void *data, const cfg_default_t *d)
{
    switch (v->type) {
    case CYAML_FLOAT: *(double *)data = d->num; break;
    case CYAML_UINT: sw__cfg_put_uint(v, data, (uint64_t)d->num); break;
    case CYAML_BOOL: *(bool *)data = d->num != 0; break;
    case CYAML_ENUM: sw__cfg_put_enum(v, data, (int64_t)d->num); break;
    case CYAML_STRING: *(char **)data = d->str ? sw_strdup(d->str) : NULL; break;
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
    if (snprintf(k, sizeof k, "%s.dist", path), !present(km, k))
        d->dist = def->dist;
    if (snprintf(k, sizeof k, "%s.mean", path), !present(km, k))
        d->mean = def->mean;
    if (snprintf(k, sizeof k, "%s.cv", path), !present(km, k))
        d->cv = d->dist == SW_DIST_LOGNORMAL && def->dist == SW_DIST_LOGNORMAL ? def->cv : 0;
    if (snprintf(k, sizeof k, "%s.min", path), !present(km, k))
        d->min = 0;
    if (snprintf(k, sizeof k, "%s.max", path), !present(km, k))
        d->max = 0;
}

static void fill_defaults(sw__cfg_full_t *full, const cyaml_schema_field_t *fields, void *base,
                          const char *prefix)
{
    for (const cyaml_schema_field_t *f = fields; f->key; f++) {
        char path[SW__CFG_PATH_MAX];
        snprintf(path, sizeof path, "%s%s%s", prefix, *prefix ? "." : "", f->key);
        void *data = (char *)base + f->data_offset;
        bool here = present(&full->keys, path);
        const cfg_default_t *d = find_default(path);

        switch (f->value.type) {
        case CYAML_MAPPING:
            if (f->value.mapping.fields == sw__cfg_dist_fields)
                fill_dist(&full->keys, path, data, &d->dist);
            else
                fill_defaults(full, f->value.mapping.fields, data, path);
            break;
        case CYAML_SEQUENCE: {
            const cyaml_schema_value_t *entry = f->value.sequence.entry;
            if (!here) {
                if (d && d->kind == DEF_LIST)
                    d->build(full);
                break;
            }
            if (entry->type != CYAML_MAPPING)
                break;
            unsigned n = sw__cfg_seq_count(f, base);
            char *arr = *(char **)data;
            for (unsigned i = 0; i < n; i++) {
                char ep[SW__CFG_PATH_MAX + 16];
                snprintf(ep, sizeof ep, "%s[%u]", path, i);
                fill_defaults(full, entry->mapping.fields, arr + i * entry->data_size, ep);
            }
            break;
        }
        default:
            if (!here && d && d->kind != DEF_NONE)
                put_default(&f->value, data, d);
            break;
        }
    }
}

static void build_instance_types(sw__cfg_full_t *full)
{
    sw_cfg_t *cfg = &full->pub;
    unsigned n = SW_ARRAY_LEN(builtin_types);
    cfg->instance_types = sw_calloc(n, sizeof *cfg->instance_types);
    cfg->instance_types_count = n;
    for (unsigned i = 0; i < n; i++) {
        const struct builtin_type *b = &builtin_types[i];
        sw_cfg_instance_type_t *t = &cfg->instance_types[i];
        char path[32];
        snprintf(path, sizeof path, "instance_types[%u]", i);
        fill_defaults(full, sw__cfg_instance_type_fields, t, path);
        t->name = sw_strdup(b->name);
        t->price_per_hour_usd = b->price_per_hour_usd;
        t->max_batch = b->max_batch;
        t->batch_latency_ms = sw_calloc(b->max_batch, sizeof(double));
        memcpy(t->batch_latency_ms, b->t_b, b->max_batch * sizeof(double));
        t->batch_latency_ms_count = b->max_batch;
        t->boot_s = b->boot_s;
        t->service_variation = builtin_service_variation;
    }
}

/* faas-local runs `spillway function` under the invoke function name when the config
 * lists no functions: only the running binary knows its own path, so the CLI fills it. */
static void build_no_functions(sw__cfg_full_t *full)
{
    full->pub.faas.local.functions = NULL;
    full->pub.faas.local.functions_count = 0;
}

static void build_static_pool(sw__cfg_full_t *full)
{
    sw_cfg_static_t *st = &full->pub.policy.static_pool;
    st->pool = sw_calloc(1, sizeof *st->pool);
    st->pool_count = 1;
    st->pool[0] = (sw_cfg_pool_entry_t){.type = NULL /* unset: the first type */, .count = 2};
}

/* ---- Finalize: defaults that depend on other keys, derived values, paths --------------- */

static void builtin_config_dir(char *buf, size_t len)
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
    char *joined = str_printf("%s/%s", dir, rel);
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

typedef struct dist_ref {
    char path[SW__CFG_PATH_MAX];
    sw_cfg_dist_t *d;
} dist_ref_t;

/* Every distribution in cfg, for the uniform-mean rule. Returns the count written. */
static size_t list_dists(sw_cfg_t *cfg, dist_ref_t *out, size_t max)
{
    size_t n = 0;
    for (unsigned i = 0; i < cfg->instance_types_count && n + 2 <= max; i++) {
        snprintf(out[n].path, sizeof out[n].path, "instance_types[%u].boot_s", i);
        out[n++].d = &cfg->instance_types[i].boot_s;
        snprintf(out[n].path, sizeof out[n].path, "instance_types[%u].service_variation", i);
        out[n++].d = &cfg->instance_types[i].service_variation;
    }
    if (n + 2 <= max) {
        snprintf(out[n].path, sizeof out[n].path, "faas.warm_latency_ms");
        out[n++].d = &cfg->faas.warm_latency_ms;
        snprintf(out[n].path, sizeof out[n].path, "faas.cold_start_ms");
        out[n++].d = &cfg->faas.cold_start_ms;
    }
    return n;
}

static void finalize(sw__cfg_full_t *full, const char *base_dir, sw__cfg_problems_t *p)
{
    sw_cfg_t *cfg = &full->pub;
    const char *first = cfg->instance_types_count ? cfg->instance_types[0].name : NULL;

    if (first && !present(&full->keys, "policy.reactive.instance_type"))
        cfg->policy.reactive.instance_type = sw_strdup(first);
    if (first && !present(&full->keys, "policy.static.pool"))
        cfg->policy.static_pool.pool[0].type = sw_strdup(first);

    /* A uniform's mean follows from min and max; a different mean in the file is a
     * mistake that would otherwise be silently overwritten. */
    size_t max = 2 * (size_t)cfg->instance_types_count + 2;
    dist_ref_t *dists = sw_calloc(max, sizeof *dists);
    size_t n = list_dists(cfg, dists, max);
    for (size_t i = 0; i < n; i++) {
        sw_cfg_dist_t *d = dists[i].d;
        if (d->dist != SW_DIST_UNIFORM)
            continue;
        double mean = (d->min + d->max) / 2;
        char k[SW__CFG_PATH_MAX + 8];
        snprintf(k, sizeof k, "%s.mean", dists[i].path);
        if (present(&full->keys, k) && d->mean != mean)
            sw__cfg_problem(p, k,
                            "a uniform distribution's mean is (min + max) / 2 = %g: "
                            "remove mean, or change min and max",
                            mean);
        d->mean = mean;
    }
    sw_free(dists);

    if (!present(&full->keys, "trace.path")) {
        char dir[PATH_MAX];
        builtin_config_dir(dir, sizeof dir);
        resolve_path(&cfg->trace.path, dir);
    } else {
        resolve_path(&cfg->trace.path, base_dir);
    }
    resolve_path(&cfg->predictor.model_path, base_dir);
}

/* ---- Load and destroy ----------------------------------------------------------------- */

static void full_destroy(sw__cfg_full_t *full)
{
    if (!full)
        return;
    sw__cfg_keymap_free(&full->keys);
    sw_free(full->name);
    sw_free(full->pub.source_path);
    full->pub.source_path = NULL;
    cyaml_free(&sw__cfg_cyaml_free_config, &sw__cfg_schema, full, 0);
}

void sw_cfg_destroy(sw_cfg_t *cfg)
{
    full_destroy((sw__cfg_full_t *)cfg);
}

static int load(const char *yaml, size_t len, const char *name, const char *source_path,
                const char *base_dir, sw_cfg_t **out, char *errbuf, size_t errlen)
{
    sw__cfg_problems_t p = {.file = name};
    sw__cfg_keymap_t km = {0};
    sw__cfg_full_t *full = NULL;
    sw__strbuf_t log = {0};

    *out = NULL;
    if (!prepass(yaml, len, &km, &p))
        goto fail;
    p.keys = &km;

    cyaml_config_t cc = {
        .log_fn = on_cyaml_log,
        .log_ctx = &log,
        .mem_fn = sw__cfg_mem,
        .log_level = CYAML_LOG_WARNING,
        .flags = CYAML_CFG_NO_ALIAS,
    };
    cyaml_err_t err = cyaml_load_data((const uint8_t *)yaml, len, &cc, &sw__cfg_schema,
                                      (cyaml_data_t **)&full, NULL);
    if (err != CYAML_OK) {
        translate_cyaml(log.s, err, &km, &p);
        goto fail;
    }
    if (p.count)
        goto fail;
    /* A file with no keys at all loads as NULL: every value is a default. */
    if (!full)
        full = sw_calloc(1, sizeof *full);
    full->keys = km;
    km = (sw__cfg_keymap_t){0};
    p.keys = &full->keys;
    full->name = sw_strdup(name);
    full->pub.source_path = source_path ? sw_strdup(source_path) : NULL;

    fill_defaults(full, sw__cfg_schema.mapping.fields, &full->pub, "");
    finalize(full, base_dir, &p);
    sw__cfg_check(&full->pub, &p);
    if (p.count)
        goto fail;
    sw__strbuf_free(&log);
    *out = &full->pub;
    return sw__cfg_problems_finish(&p, errbuf, errlen);

fail:
    full_destroy(full);
    sw__cfg_keymap_free(&km);
    sw__strbuf_free(&log);
    return sw__cfg_problems_finish(&p, errbuf, errlen);
}

int sw_cfg_load_string(const char *yaml, size_t len, const char *name, sw_cfg_t **out, char *errbuf,
                       size_t errlen)
{
    return load(yaml, len, name ? name : "<string>", NULL, NULL, out, errbuf, errlen);
}

static int read_file(const char *path, char **data, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -errno;
    size_t cap = 8192, n = 0, got;
    char *buf = sw_malloc(cap + 1);
    errno = 0;
    while ((got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            cap *= 2;
            buf = sw_realloc(buf, cap + 1);
        }
    }
    int rc = ferror(f) ? -(errno ? errno : EIO) : 0; /* EISDIR for a folder */
    fclose(f);
    buf[n] = '\0';
    *data = buf;
    *len = n;
    return rc;
}

int sw_cfg_load(const char *path, sw_cfg_t **out, char *errbuf, size_t errlen)
{
    char *yaml = NULL;
    size_t len = 0;
    *out = NULL;
    int rc = read_file(path, &yaml, &len);
    if (rc < 0) {
        if (errbuf && errlen)
            snprintf(errbuf, errlen, "%s: cannot read: %s", path, strerror(-rc));
        sw_free(yaml);
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

/* ---- sw_cfg_set ----------------------------------------------------------------------- */

/* Writes the parsed value; `value` has passed sw__cfg_parse_scalar. */
static void put_parsed(const cyaml_schema_value_t *v, void *data, const char *value)
{
    switch (v->type) {
    case CYAML_FLOAT: *(double *)data = strtod(value, NULL); break;
    case CYAML_UINT: sw__cfg_put_uint(v, data, strtoull(value, NULL, 10)); break;
    case CYAML_BOOL:
        *(bool *)data =
            !strcasecmp(value, "true") || !strcasecmp(value, "yes") || !strcasecmp(value, "on");
        break;
    case CYAML_ENUM:
        for (uint32_t i = 0; i < v->enumeration.count; i++)
            if (strcmp(value, v->enumeration.strings[i].str) == 0)
                sw__cfg_put_enum(v, data, v->enumeration.strings[i].val);
        break;
    case CYAML_STRING: {
        bool null_ok = (v->flags & CYAML_FLAG_POINTER_NULL_STR) == CYAML_FLAG_POINTER_NULL_STR;
        bool is_null = !*value || !strcmp(value, "null") || !strcmp(value, "~");
        *(char **)data = null_ok && is_null ? NULL : sw_strdup(value);
        break;
    }
    default: break;
    }
}

/* The distribution holding `path` (a dist sub-key), or NULL. */
static sw_cfg_dist_t *parent_dist(sw_cfg_t *cfg, const char *path)
{
    char pp[SW__CFG_PATH_MAX];
    char why[SW__CFG_PATH_MAX];
    sw__cfg_slot_t slot;
    snprintf(pp, sizeof pp, "%s", path);
    if (!path_parent(pp) || sw__cfg_resolve(pp, cfg, &slot, why, sizeof why) != 0)
        return NULL;
    if (slot.schema->type != CYAML_MAPPING || slot.schema->mapping.fields != sw__cfg_dist_fields)
        return NULL;
    return slot.data;
}

static void mark_overridden(sw__cfg_keymap_t *km, const char *path)
{
    sw__cfg_key_t *k = (sw__cfg_key_t *)sw__cfg_keymap_find(km, path);
    if (k)
        k->line = 0;
    else
        keymap_add(km, sw_strdup(path), NULL, 0);
}

int sw_cfg_set(sw_cfg_t *cfg, const char *key_path, const char *value, char *errbuf, size_t errlen)
{
    sw__cfg_full_t *full = (sw__cfg_full_t *)cfg;
    sw__cfg_slot_t slot;
    char why[SW__CFG_PATH_MAX + 64];
    char msg[384];

    sw_set_error(errbuf, errlen, "%s", "");
    if (sw__cfg_resolve(key_path, cfg, &slot, why, sizeof why) != 0) {
        sw_set_error(errbuf, errlen, "%s", why);
        return SW_ECONFIG;
    }
    const cyaml_schema_value_t *v = slot.schema;
    if (v->type == CYAML_MAPPING) {
        sw_set_error(errbuf, errlen, "%s: is a section, not a value: set one of its keys, e.g. %s.%s",
                  key_path, key_path, v->mapping.fields[0].key);
        return SW_ECONFIG;
    }
    if (v->type == CYAML_SEQUENCE) {
        sw_set_error(errbuf, errlen, "%s: is a list: set its entries one at a time, e.g. %s[0]",
                  key_path, key_path);
        return SW_ECONFIG;
    }
    if (sw__cfg_parse_scalar(v, value, msg, sizeof msg) != 0) {
        sw_set_error(errbuf, errlen, "%s: %s", key_path, msg);
        return SW_ECONFIG;
    }
    sw_cfg_dist_t *dist = parent_dist(cfg, key_path);
    const char *leaf = strrchr(key_path, '.');
    if (dist && dist->dist == SW_DIST_UNIFORM && leaf && strcmp(leaf, ".mean") == 0) {
        sw_set_error(errbuf, errlen,
                  "%s: a uniform distribution's mean is (min + max) / 2: set min and max",
                  key_path);
        return SW_ECONFIG;
    }

    /* Keep the old value until the new config validates, so a rejected override leaves
     * the config as it was (and valid). */
    unsigned char old[8];
    size_t size = v->type == CYAML_STRING ? sizeof(char *) : SW_MIN(v->data_size, sizeof old);
    sw_cfg_dist_t old_dist = dist ? *dist : (sw_cfg_dist_t){0};
    memcpy(old, slot.data, size);
    put_parsed(v, slot.data, value);
    if (dist && dist->dist == SW_DIST_UNIFORM)
        dist->mean = (dist->min + dist->max) / 2;
    mark_overridden(&full->keys, key_path);

    sw__cfg_problems_t p = {.file = full->name, .keys = &full->keys};
    sw__cfg_check(cfg, &p);
    if (p.count) {
        if (v->type == CYAML_STRING)
            sw_free(*(char **)slot.data);
        memcpy(slot.data, old, size);
        if (dist)
            *dist = old_dist;
    } else if (v->type == CYAML_STRING) {
        char *prev;
        memcpy(&prev, old, sizeof prev);
        sw_free(prev);
    }
    return sw__cfg_problems_finish(&p, errbuf, errlen);
}
