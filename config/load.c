/* Reading the YAML policy onto sw_cfg_t, with libyaml's event parser and the key table.
 *
 * Why libyaml directly: every event carries its start mark (line and column), and the
 * parser's own errors come with problem and context marks, through its API. So each
 * message can name file, line and key path from data we hold, and we decide what a key
 * is from the table. libcyaml, used before, only reported positions and paths in the
 * English text of its log, which we had to parse back and which would break silently
 * when its wording changed; and its schema was a second description of every key beside
 * the defaults table.
 *
 * The event parser holds no document tree and never expands an alias (we refuse them),
 * so reading costs time and memory linear in the file: per node, one table lookup and
 * one key map insertion, both hashed. Nesting is capped at SW__CFG_MAX_DEPTH, lists at
 * their table range (entries past it are counted, not stored), and after
 * SW__CFG_MAX_PROBLEMS problems reading stops. */
#include "config/config_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

/* Longer keys are unknown anyway: none in the table is half this long. */
#define KEY_MAX 128

typedef struct frame {
    int row;    /* the node's row; -1: the root mapping */
    bool entry; /* a mapping that is an entry of the list `row` */
    char *base; /* what the offsets of the rows below are relative to */
    bool is_seq;
    int entry_row; /* a list of values: its entries' row; -1: a list of mappings */
    unsigned n;    /* list: entries seen, also those past its limit */
    unsigned cap;  /* list: entries allocated */
    int line;      /* list: the line of its key, for "too many entries" */
    bool has_key;  /* mapping: a key was read; its value comes next */
    char key[KEY_MAX + 4];
    int key_line;
    char path[SW__CFG_PATH_MAX];
} frame_t;

typedef struct parser {
    sw__cfg_full_t *full;
    sw__cfg_problems_t *p;
    frame_t stack[SW__CFG_MAX_DEPTH];
    int depth; /* frames in use */
    int skip;  /* > 0: inside a subtree being skipped, this many levels down */
    unsigned documents;
    bool alias_seen; /* one alias in a skipped subtree is reported, not each */
    bool stop;       /* the rest of the file cannot be read */
} parser_t;

/* The node that starts now: where it goes, or row -1 if it is skipped. */
typedef struct node {
    int row; /* its row; for an entry of a list of mappings, the list's */
    bool entry;
    char *base; /* for a value: the base its row's offset is relative to */
    int line;
    char path[SW__CFG_PATH_MAX];
} node_t;

static const char *expected_noun(const node_t *nd)
{
    if (nd->entry)
        return "a mapping of keys";
    switch (sw__cfg_rows[nd->row].info.type) {
    case SW_CFG_KEY_SECTION:
    case SW_CFG_KEY_DIST: return "a mapping of keys";
    case SW_CFG_KEY_LIST: return "a list";
    case SW_CFG_KEY_NUMBER: return "a number";
    case SW_CFG_KEY_UINT: return "a whole number";
    case SW_CFG_KEY_BOOL: return "true or false";
    case SW_CFG_KEY_ENUM: return "a name";
    default: return "a string";
    }
}

static bool is_mapping_node(const node_t *nd)
{
    sw_cfg_key_type_t t = sw__cfg_rows[nd->row].info.type;
    return nd->entry || t == SW_CFG_KEY_SECTION || t == SW_CFG_KEY_DIST;
}

static void stop(parser_t *ps, int line, const char *msg)
{
    sw__cfg_problem_at(ps->p, "", line, "%s", msg);
    ps->stop = true;
}

/* A list entry: grows the list's array by one zeroed entry and returns it. */
static char *add_entry(frame_t *f)
{
    const sw__cfg_row_t *r = &sw__cfg_rows[f->row];
    char **arr = (char **)(f->base + r->offset);
    unsigned *count = sw__cfg_list_count(r, f->base);
    if (*count == f->cap) {
        f->cap = f->cap ? 2 * f->cap : 4;
        *arr = sw_realloc(*arr, f->cap * r->entry_size);
        memset(*arr + *count * r->entry_size, 0, (f->cap - *count) * r->entry_size);
    }
    return *arr + (size_t)(*count)++ * r->entry_size;
}

/* The value of the current mapping key: finds its row and records it. */
static void next_in_mapping(parser_t *ps, frame_t *f, node_t *nd)
{
    const char *prefix = f->row < 0 ? "" : sw__cfg_rows[f->row].info.path;
    char pat[SW__CFG_PATH_MAX];
    sw__cfg_path_cat(pat, sizeof pat, prefix, f->entry ? "[]." : *prefix ? "." : "", f->key);
    sw__cfg_path_cat(nd->path, sizeof nd->path, f->path, *f->path ? "." : "", f->key);
    nd->line = f->key_line;
    nd->base = f->base;
    f->has_key = false;
    nd->row = strlen(f->key) > KEY_MAX ? -1 : sw__cfg_row_find(pat, strlen(pat));
    if (nd->row < 0) {
        sw__cfg_problem_at(ps->p, nd->path, nd->line, "unknown key");
        return;
    }
    bool added;
    const struct sw__cfg_key *k = sw__cfg_keymap_add(&ps->full->keys, nd->path, nd->line, &added);
    if (!added) {
        sw__cfg_problem_at(ps->p, nd->path, nd->line, "duplicate key (first given on line %d)",
                           k->line);
        nd->row = -1;
    }
}

/* An entry of the current list: stores it unless the list is full. */
static void next_in_list(parser_t *ps, frame_t *f, node_t *nd, int line)
{
    unsigned j = f->n++;
    sw__cfg_path_index(nd->path, sizeof nd->path, f->path, j);
    nd->line = line;
    nd->row = -1;
    if (j >= sw__cfg_rows[f->row].info.max)
        return; /* reported once, with the count, when the list ends */
    bool added;
    sw__cfg_keymap_add(&ps->full->keys, nd->path, line, &added);
    nd->base = add_entry(f);
    nd->row = f->entry_row >= 0 ? f->entry_row : f->row;
    nd->entry = f->entry_row < 0;
}

/* Where the node starting at `line` goes; false if it is a mapping's key. */
static bool next_node(parser_t *ps, int line, node_t *nd)
{
    frame_t *f = &ps->stack[ps->depth - 1];
    *nd = (node_t){.row = -1};
    if (f->is_seq)
        next_in_list(ps, f, nd, line);
    else if (f->has_key)
        next_in_mapping(ps, f, nd);
    else
        return false;
    return true;
}

static void push(parser_t *ps, const node_t *nd, bool is_seq)
{
    frame_t *f = &ps->stack[ps->depth++];
    /* A list entry's rows are relative to the entry, a section's and a dist's to the
     * enclosing struct: either way, the node's base. */
    *f = (frame_t){.row = nd->row,
                   .entry = nd->entry,
                   .base = nd->base,
                   .is_seq = is_seq,
                   .entry_row = nd->row >= 0 ? sw__cfg_row_entry(nd->row) : -1,
                   .line = nd->line};
    snprintf(f->path, sizeof f->path, "%s", nd->path);
}

static void on_open(parser_t *ps, bool is_seq, int line)
{
    if (ps->depth + ps->skip >= SW__CFG_MAX_DEPTH) {
        char msg[128];
        snprintf(msg, sizeof msg, "nested deeper than %d levels (a policy file needs 5)",
                 SW__CFG_MAX_DEPTH);
        stop(ps, line, msg);
        return;
    }
    if (ps->skip) {
        ps->skip++;
        return;
    }
    if (ps->depth == 0) {
        if (is_seq) {
            stop(ps, 0, "the file must be a mapping of keys (seed, slo, instance_types, ...)");
            return;
        }
        node_t root = {.row = -1, .base = (char *)&ps->full->pub};
        push(ps, &root, false);
        return;
    }
    node_t nd;
    if (!next_node(ps, line, &nd)) {
        stop(ps, line, "keys must be plain names, not lists or mappings");
        return;
    }
    if (nd.row < 0) {
        ps->skip = 1;
        return;
    }
    bool want_seq = !nd.entry && sw__cfg_rows[nd.row].info.type == SW_CFG_KEY_LIST;
    if (want_seq != is_seq || (!is_seq && !is_mapping_node(&nd))) {
        sw__cfg_problem_at(ps->p, nd.path, nd.line, "expected %s, got %s", expected_noun(&nd),
                           is_seq ? "a list" : "a mapping");
        ps->skip = 1;
        return;
    }
    push(ps, &nd, is_seq);
}

static void on_close(parser_t *ps)
{
    if (ps->skip) {
        ps->skip--;
        return;
    }
    frame_t *f = &ps->stack[--ps->depth];
    if (f->is_seq && f->n > sw__cfg_rows[f->row].info.max)
        sw__cfg_problem_at(ps->p, f->path, f->line, "has %u entries, at most %g are allowed", f->n,
                           sw__cfg_rows[f->row].info.max);
}

static bool is_null(const char *s)
{
    return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") || !strcmp(s, "NULL");
}

static void on_scalar(parser_t *ps, const char *text, size_t len, int line)
{
    if (ps->skip)
        return;
    if (ps->depth == 0) {
        /* An empty document ("---" alone) has every key defaulted. */
        if (!is_null(text))
            stop(ps, 0, "the file must be a mapping of keys (seed, slo, instance_types, ...)");
        return;
    }
    frame_t *f = &ps->stack[ps->depth - 1];
    node_t nd;
    if (!next_node(ps, line, &nd)) {
        snprintf(f->key, sizeof f->key, "%.*s%s", KEY_MAX, text, len > KEY_MAX ? "..." : "");
        f->key_line = line;
        f->has_key = true;
        return;
    }
    if (nd.row < 0)
        return;
    const sw__cfg_row_t *r = &sw__cfg_rows[nd.row];
    if (nd.entry || r->info.type == SW_CFG_KEY_SECTION || r->info.type == SW_CFG_KEY_DIST ||
        r->info.type == SW_CFG_KEY_LIST) {
        sw__cfg_problem_at(ps->p, nd.path, nd.line, "expected %s, got %s", expected_noun(&nd),
                           *text ? "a single value" : "nothing");
        return;
    }
    char msg[384];
    if (sw__cfg_parse_store(r, text, nd.base + r->offset, msg, sizeof msg) != 0)
        sw__cfg_problem_at(ps->p, nd.path, nd.line, "%s", msg);
}

/* An alias would hide its keys from the key map, and defaults would then overwrite them;
 * and expanding aliases is what makes a "billion laughs" file explode. Writing values
 * out is clearer in a policy file anyway. */
static void on_alias(parser_t *ps, const char *anchor, int line)
{
    node_t nd;
    if (ps->skip) {
        if (!ps->alias_seen)
            sw__cfg_problem_at(ps->p, "", line,
                               "YAML aliases (*%.64s) are not supported: write the value out",
                               anchor);
        ps->alias_seen = true;
        return;
    }
    if (ps->depth == 0 || !next_node(ps, line, &nd)) {
        stop(ps, line, "YAML aliases are not supported");
        return;
    }
    ps->alias_seen = true;
    sw__cfg_problem_at(ps->p, nd.path, nd.line,
                       "YAML aliases (*%.64s) are not supported: write the value out", anchor);
}

static void on_event(parser_t *ps, const yaml_event_t *ev)
{
    int line = (int)ev->start_mark.line + 1;
    switch (ev->type) {
    case YAML_DOCUMENT_START_EVENT:
        if (++ps->documents > 1)
            stop(ps, line, "a second YAML document ('---'): the file must hold one");
        break;
    case YAML_MAPPING_START_EVENT:
    case YAML_SEQUENCE_START_EVENT: on_open(ps, ev->type == YAML_SEQUENCE_START_EVENT, line); break;
    case YAML_MAPPING_END_EVENT:
    case YAML_SEQUENCE_END_EVENT: on_close(ps); break;
    case YAML_SCALAR_EVENT:
        on_scalar(ps, (const char *)ev->data.scalar.value, ev->data.scalar.length, line);
        break;
    case YAML_ALIAS_EVENT: on_alias(ps, (const char *)ev->data.alias.anchor, line); break;
    default: break;
    }
}

/* What was read before a syntax error may be an artefact of it (a bracket left open
 * turns a number into a list), and nothing after it can be read: the syntax error is the
 * one problem worth reporting. */
static void syntax_error(const yaml_parser_t *parser, sw__cfg_problems_t *p, unsigned count,
                         size_t len)
{
    sw__cfg_problems_rollback(p, count, len);
    char ctx[160] = "";
    if (parser->context)
        snprintf(ctx, sizeof ctx, " (%s started on line %zu)", parser->context,
                 parser->context_mark.line + 1);
    sw__cfg_problem_at(p, "", (int)parser->problem_mark.line + 1, "YAML syntax error: %s%s",
                       parser->problem ? parser->problem : "malformed YAML", ctx);
}

bool sw__cfg_parse(const char *yaml, size_t len, sw__cfg_full_t *full, sw__cfg_problems_t *p)
{
    yaml_parser_t parser;
    parser_t *ps = sw_calloc(1, sizeof *ps);
    *ps = (parser_t){.full = full, .p = p};
    unsigned before = p->count;
    size_t before_len = p->text.len;

    if (!yaml_parser_initialize(&parser))
        abort(); /* only fails on out of memory */
    yaml_parser_set_input_string(&parser, (const unsigned char *)yaml, len);
    while (!ps->stop && !p->full) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&parser, &ev)) {
            syntax_error(&parser, p, before, before_len);
            break;
        }
        bool end = ev.type == YAML_STREAM_END_EVENT;
        on_event(ps, &ev);
        yaml_event_delete(&ev);
        if (end)
            break;
    }
    yaml_parser_delete(&parser);
    sw_free(ps);
    return p->count == before;
}
