/* Shared inside config/ only: the key table's row type (keys.c holds the table), the key
 * map of what the file held and on which line, the problem collector that formats
 * `FILE:LINE: key.path: message`, and the steps of loading. Never include this from
 * outside config/. */
#ifndef SW_CONFIG_CONFIG_INTERNAL_H
#define SW_CONFIG_CONFIG_INTERNAL_H

#include <stdarg.h>

#include "common/strbuf.h"
#include "config/config.h"

/* Key paths are short ("instance_types[31].batch_latency_ms[1023]"); longer ones can only
 * come from unknown keys, and are truncated in messages, never used for lookups. */
#define SW__CFG_PATH_MAX 256
/* Nesting deeper than this is refused: the deepest key is 5 levels down
 * (faas.local.functions[0].name), and a limit keeps a hostile file from costing more
 * than its length. */
#define SW__CFG_MAX_DEPTH 32
/* Problems reported at most; after that the loader stops reading, so that a file of a
 * million mistakes costs no more than its first ones. */
#define SW__CFG_MAX_PROBLEMS 20

typedef struct sw__cfg_full sw__cfg_full_t;
typedef struct sw__cfg_problems sw__cfg_problems_t;

/* Row flags. */
enum {
    SW__CFG_NULLABLE = 1 << 0,  /* STRING: null, ~ and "" mean unset (NULL) */
    SW__CFG_DIST_PART = 1 << 1, /* a sub-key of a DIST row: defaulted with its dist */
    SW__CFG_DIST_MEAN = 1 << 2, /* a dist's mean: derived, not checked, for a uniform */
};

/* One key of the policy file: everything the loader, the defaults pass, validation,
 * sw_cfg_set, print and equal know about it. Offsets are relative to the row's base:
 * the sw_cfg_t for keys outside lists, the list entry for keys inside one. */
typedef struct sw__cfg_row {
    sw_cfg_key_info_t info; /* first: sw_cfg_key_at hands out &row->info */
    size_t offset;
    size_t size; /* of the value: the width of a UINT or ENUM */
    unsigned flags;
    double def;             /* NUMBER, UINT, BOOL, ENUM (an index into info.names) */
    const char *def_str;    /* STRING; NULL: unset, resolved at finalize or left NULL */
    sw_cfg_dist_t def_dist; /* DIST; also the source of a given dist's absent keys */
    /* LIST: fills the default list when the file has none; NULL: required or empty. */
    int (*build)(sw__cfg_full_t *full, sw__cfg_problems_t *p);
    size_t count_offset; /* LIST: its unsigned count, in the same base */
    size_t entry_size;   /* LIST: bytes per entry */
    const char *note;    /* appended to a range message, e.g. "AWS Lambda's range" */
} sw__cfg_row_t;

/* The table (keys.c), in file order: a row's sub-keys follow it. */
extern const sw__cfg_row_t sw__cfg_rows[];
extern const size_t sw__cfg_nrows;

/* Index of the row for a pattern path ("instance_types[].boot_s"; n bytes of it), or -1.
 * Constant time: the table is hashed on first use. */
int sw__cfg_row_find(const char *pattern, size_t n);
/* The row's parent row (-1 for a top-level key), and the end of its subtree: rows
 * (i, end) are its sub-keys, those with parent i its direct ones. */
int sw__cfg_row_parent(int i);
int sw__cfg_row_end(int i);
/* The row of a LIST's entries when they are values, not mappings ("x[]"), or -1. */
int sw__cfg_row_entry(int i);
/* The last component of the row's path: "latency_ms", "batch_latency_ms". */
const char *sw__cfg_row_leaf(const sw__cfg_row_t *r);
/* The code point of the UTF-8 sequence at s in *cp, and its length in bytes; 0 when it is
 * not valid UTF-8 (a stray or missing continuation byte, an overlong form, a surrogate,
 * past U+10FFFF). Never reads past a NUL. */
unsigned sw__cfg_utf8_decode(const unsigned char *s, unsigned *cp);

/* FNV-1a of n bytes, for the table's and the key map's hashes. */
uint32_t sw__cfg_hash(const char *s, size_t n);
/* An ENUM row's name for val ("?" if none). */
const char *sw__cfg_enum_name(const sw__cfg_row_t *r, int val);

/* "instance_types[3].boot_s" -> "instance_types[].boot_s". */
void sw__cfg_path_pattern(const char *path, char *out, size_t len);
/* out = a b c, cut to fit len (> 0). */
void sw__cfg_path_cat(char *out, size_t len, const char *a, const char *b, const char *c);
/* out = path "[j]", cut to fit len (> 0). */
void sw__cfg_path_index(char *out, size_t len, const char *path, unsigned j);
/* Cuts the last component: "a.b[2]" -> "a.b" -> "a" -> "". Returns false at the root. */
bool sw__cfg_path_parent(char *path);

/* Storage by row type. */
uint64_t sw__cfg_get_uint(const sw__cfg_row_t *r, const void *data);
void sw__cfg_put_uint(const sw__cfg_row_t *r, void *data, uint64_t x);
int sw__cfg_get_enum(const sw__cfg_row_t *r, const void *data);
void sw__cfg_put_enum(const sw__cfg_row_t *r, void *data, int x);
unsigned *sw__cfg_list_count(const sw__cfg_row_t *r, void *base);
/* A numeric value (NUMBER, UINT) as a double, for range checks. */
double sw__cfg_get_number(const sw__cfg_row_t *r, const void *data);

/* Strict scalar parsing shared by the loader and sw_cfg_set; it checks what the key's
 * type allows, not its range (that is validation's, so that both paths and
 * sw_cfg_validate share it). Returns 0 and stores the value at data (a string is copied),
 * or -EINVAL with a message ("expected a number, got \"abc\""). */
int sw__cfg_parse_store(const sw__cfg_row_t *r, const char *text, void *data, char *msg,
                        size_t msglen);
/* "must be in [1, 3600000]", "must be 0 (no limit) or in [1, 10000] (AWS Lambda's range)". */
void sw__cfg_range_message(const sw__cfg_row_t *r, char *buf, size_t len);
/* Shortest "%.Ng" that reads back as exactly x. */
void sw__cfg_fmt_double(double x, char *buf, size_t len);

/* ---- What the file held ---- */

/* A hash map from the concrete path of every node present in the file
 * ("instance_types[1].boot_s.mean") to its line, so that duplicates are found and lines
 * are named in constant time. */
typedef struct sw__cfg_keymap {
    struct sw__cfg_key {
        char *path; /* NULL: empty slot */
        int line;   /* 1-based line of the key or entry; 0 once overridden by sw_cfg_set */
    } * slots;
    size_t count;
    size_t cap; /* a power of two, or 0 */
} sw__cfg_keymap_t;

/* Adds path with its line and returns its entry; *added is false if path was there
 * already (the earlier entry is returned, unchanged). */
struct sw__cfg_key *sw__cfg_keymap_add(sw__cfg_keymap_t *km, const char *path, int line,
                                       bool *added);
/* The entry for path, or NULL. km may be NULL. */
struct sw__cfg_key *sw__cfg_keymap_find(const sw__cfg_keymap_t *km, const char *path);
/* Forgets path if it is there. */
void sw__cfg_keymap_remove(sw__cfg_keymap_t *km, const char *path);
void sw__cfg_keymap_free(sw__cfg_keymap_t *km);
/* The line to print for a problem at `path`: its own line if present in the file; for an
 * absent key of a distribution, the distribution's line (0 if it is absent too); 0 (no
 * line) if it was filled from a default; otherwise (a required key that is missing, or
 * an entry path) the line of the nearest present parent. */
int sw__cfg_keymap_line(const sw__cfg_keymap_t *km, const char *path);
/* True if `path`, whose own row is r, is absent from the file and has no default (a
 * required key). False without a key map (a config checked by sw_cfg_validate). */
bool sw__cfg_is_missing(const sw__cfg_keymap_t *km, const sw__cfg_row_t *r, const char *path);

/* What sw_cfg_load hands out is the `pub` member of this allocation, so the loader can
 * keep the key map (for line numbers in later sw_cfg_set messages) beside it. */
struct sw__cfg_full {
    sw_cfg_t pub; /* first: callers hold &full->pub */
    sw__cfg_keymap_t keys;
    char *name; /* the file name used in messages */
};

/* Collects problems, one line each, in the order found; one per key path, and at most
 * SW__CFG_MAX_PROBLEMS. */
struct sw__cfg_problems {
    const char *file;             /* name in messages */
    const sw__cfg_keymap_t *keys; /* NULL: print no line numbers */
    sw_strbuf_t text;
    char *paths[SW__CFG_MAX_PROBLEMS]; /* reported paths, so a second report of one is dropped */
    unsigned count;
    bool full; /* the cap was reached: stop looking for more */
};

/* Adds "FILE:LINE: path: message" (line from the key map; "FILE: path: message" if none;
 * "FILE:LINE: message" when path is empty). */
void sw__cfg_problem(sw__cfg_problems_t *p, const char *path, const char *fmt, ...) SW_PRINTF(3, 4);
/* The same with an explicit line (0: none). */
void sw__cfg_problem_at(sw__cfg_problems_t *p, const char *path, int line, const char *fmt, ...)
    SW_PRINTF(4, 5);
bool sw__cfg_problem_has_path(const sw__cfg_problems_t *p, const char *path);
/* Forgets the problems after the first `count` (whose text was `len` bytes long). */
void sw__cfg_problems_rollback(sw__cfg_problems_t *p, unsigned count, size_t len);
/* Copies the text into errbuf (without the final newline), frees the collector, and
 * returns 0 if there were no problems, else SW_ECONFIG. */
int sw__cfg_problems_finish(sw__cfg_problems_t *p, char *errbuf, size_t errlen);

/* ---- The steps of loading ---- */

/* Parses YAML text onto full->pub, recording each key present in full->keys. Unknown
 * keys, wrong types, duplicates, aliases, too many list entries and too deep nesting are
 * reported to p; returns false if anything was. (load.c) */
bool sw__cfg_parse(const char *yaml, size_t len, sw__cfg_full_t *full, sw__cfg_problems_t *p);
/* Fills every key absent from the file from its row's default; a list's builder may
 * report problems (the built-in instance types' file). (config.c) */
void sw__cfg_fill_defaults(sw__cfg_full_t *full, sw__cfg_problems_t *p);
/* The concrete path of row r below prefix: "instance_types[2]" + name. */
void sw__cfg_join(char *out, size_t len, const char *prefix, const sw__cfg_row_t *r);
/* Called for each row over a config with the row's storage, the base it is relative to
 * and its concrete path; returning true descends into a section's, dist's or list's
 * keys and entries. */
typedef bool (*sw__cfg_visit_fn)(const sw__cfg_row_t *r, void *data, void *base, const char *path,
                                 void *ctx);
/* Visits every row of cfg in table order, each list entry in turn. (config.c) */
void sw__cfg_walk(sw_cfg_t *cfg, sw__cfg_visit_fn fn, void *ctx);
/* Frees what the rows below root own (strings, lists), not root itself. (config.c) */
void sw__cfg_free_values(sw_cfg_t *cfg);
/* Validation (validate.c): adds every problem found in cfg to p. */
void sw__cfg_check(const sw_cfg_t *cfg, sw__cfg_problems_t *p);

/* The instance types shipped beside the example, for a policy without instance_types:
 * <source tree>/config/instance-types.yaml. */
void sw__cfg_builtin_dir(char *buf, size_t len);

#endif
