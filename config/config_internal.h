/* Shared inside config/ only: the libcyaml schema, the key map recorded by the libyaml
 * pre-pass, the problem collector that formats `FILE:LINE: key.path: message`, and the
 * schema walker that sw_cfg_set, the defaults pass, print and equal all use. Never include
 * this from outside config/. */
#ifndef SW_CONFIG_CONFIG_INTERNAL_H
#define SW_CONFIG_CONFIG_INTERNAL_H

#include <stdarg.h>

#include <cyaml/cyaml.h>

#include "config/config.h"

/* Key paths are short ("instance_types[3].boot_s.mean"); longer ones are truncated in
 * messages only, never used for lookups. */
#define SW__CFG_PATH_MAX 256

/* A growable, always NUL-terminated string. */
typedef struct sw__strbuf {
    char *s;
    size_t len;
    size_t cap;
} sw__strbuf_t;

void sw__strbuf_printf(sw__strbuf_t *b, const char *fmt, ...) SW_PRINTF(2, 3);
void sw__strbuf_vprintf(sw__strbuf_t *b, const char *fmt, va_list ap);
void sw__strbuf_free(sw__strbuf_t *b);

/* One node present in the YAML file, recorded by the pre-pass. */
typedef struct sw__cfg_key {
    char *path;   /* "instance_types[1].boot_s.mean" */
    char *scalar; /* the scalar's text; NULL for mappings and sequences */
    int line;     /* 1-based line of the key or sequence entry; 0 once overridden by set */
} sw__cfg_key_t;

typedef struct sw__cfg_keymap {
    sw__cfg_key_t *keys;
    size_t count;
    size_t cap;
} sw__cfg_keymap_t;

const sw__cfg_key_t *sw__cfg_keymap_find(const sw__cfg_keymap_t *km, const char *path);
void sw__cfg_keymap_free(sw__cfg_keymap_t *km);
/* The line to print for a problem at `path`: its own line if present in the file; 0 (no
 * line) if it was filled from the defaults table; otherwise (a required key that is
 * missing, or an element path) the line of the nearest present parent. */
int sw__cfg_keymap_line(const sw__cfg_keymap_t *km, const char *path);
/* True if `path` is absent from the file and has no default (a required key). */
bool sw__cfg_is_missing(const sw__cfg_keymap_t *km, const char *path);

/* What sw_cfg_load hands out is the `pub` member of this allocation, so the loader can
 * keep the key map (for line numbers in later sw_cfg_set messages) beside the public
 * struct. libcyaml allocates it (the top-level schema has this size). */
typedef struct sw__cfg_full {
    sw_cfg_t pub; /* first: callers hold &full->pub */
    sw__cfg_keymap_t keys;
    char *name; /* the file name used in messages */
} sw__cfg_full_t;

/* Collects problems, one line each, in the order found. */
typedef struct sw__cfg_problems {
    const char *file;             /* name in messages */
    const sw__cfg_keymap_t *keys; /* NULL: print no line numbers */
    sw__strbuf_t text;
    char **paths; /* paths already reported, so a second report of one is dropped */
    unsigned count;
} sw__cfg_problems_t;

/* Adds "FILE:LINE: path: message" (line from the key map; "FILE: path: message" if
 * none; "FILE:LINE: message" when path is empty). */
void sw__cfg_problem(sw__cfg_problems_t *p, const char *path, const char *fmt, ...) SW_PRINTF(3, 4);
/* The same with an explicit line (0: none). */
void sw__cfg_problem_at(sw__cfg_problems_t *p, const char *path, int line, const char *fmt, ...)
    SW_PRINTF(4, 5);
bool sw__cfg_problem_has_path(const sw__cfg_problems_t *p, const char *path);
/* Copies the text into errbuf (without the final newline), frees the collector, and
 * returns 0 if there were no problems, else SW_ECONFIG. */
int sw__cfg_problems_finish(sw__cfg_problems_t *p, char *errbuf, size_t errlen);

/* The libcyaml schema (schema.c). */
extern const cyaml_schema_value_t sw__cfg_schema;
extern const cyaml_schema_field_t sw__cfg_dist_fields[];
extern const cyaml_schema_field_t sw__cfg_instance_type_fields[];
extern const cyaml_schema_field_t sw__cfg_pool_entry_fields[];
/* libcyaml's allocator: sw_realloc/sw_free, so cyaml_free can free what the defaults
 * pass allocated and out-of-memory aborts like everywhere else. */
void *sw__cfg_mem(void *ctx, void *ptr, size_t size);
extern const cyaml_config_t sw__cfg_cyaml_free_config;

/* A node found by sw__cfg_resolve. */
typedef struct sw__cfg_slot {
    const cyaml_schema_value_t *schema; /* the node's value schema */
    const cyaml_schema_field_t *field;  /* the mapping field holding it; NULL for entries */
    void *data;   /* the value (for pointer types: the address of the pointer) */
    void *parent; /* the struct holding `field` (for a sequence's count) */
} sw__cfg_slot_t;

/* Finds `path` in the schema and, if root is not NULL, in the data below root. On failure
 * returns -ENOENT (unknown key), -ERANGE (index past the end) or -EINVAL (malformed path),
 * and writes the reason (naming the offending prefix) into why. */
int sw__cfg_resolve(const char *path, void *root, sw__cfg_slot_t *out, char *why, size_t whylen);
/* Schema at `path` ignoring indices' bounds, or NULL if no such key. */
const cyaml_schema_value_t *sw__cfg_schema_at(const char *path);

/* Leaf access by schema type. */
uint64_t sw__cfg_get_uint(const cyaml_schema_value_t *v, const void *data);
void sw__cfg_put_uint(const cyaml_schema_value_t *v, void *data, uint64_t x);
/* Enum and sequence-count helpers. */
const char *sw__cfg_enum_name(const cyaml_schema_value_t *v, int64_t val);
int64_t sw__cfg_get_enum(const cyaml_schema_value_t *v, const void *data);
void sw__cfg_put_enum(const cyaml_schema_value_t *v, void *data, int64_t val);
/* "static, reactive, faas-only, mark, oracle" into buf. */
void sw__cfg_enum_list(const cyaml_schema_value_t *v, char *buf, size_t len);
unsigned sw__cfg_seq_count(const cyaml_schema_field_t *f, const void *parent);

/* Strict scalar parsing shared by the pre-pass and sw_cfg_set: libcyaml 1.3 accepts
 * "1.5" for an unsigned, "maybe" for a bool and "nan" for a double, so we check first.
 * Each returns 0, or -EINVAL with a message ("expected a number, got \"abc\""). */
int sw__cfg_parse_scalar(const cyaml_schema_value_t *v, const char *text, char *msg, size_t msglen);

/* Shortest "%.Ng" that reads back as exactly x. */
void sw__cfg_fmt_double(double x, char *buf, size_t len);

/* Validation (validate.c): adds every problem found in cfg to p. */
void sw__cfg_check(const sw_cfg_t *cfg, sw__cfg_problems_t *p);

#endif
