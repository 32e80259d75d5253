/* Writing a resolved sw_cfg_t back out as YAML, and comparing two configs. Both walk the
 * libcyaml schema, so a key added to the schema is printed and compared without more code.
 * Doubles are printed with the fewest digits that read back exactly, so print -> load
 * gives an equal config. */
#include "config/config_internal.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static void print_string(FILE *out, const char *s)
{
    fputc('"', out);
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (*c == '"' || *c == '\\')
            fprintf(out, "\\%c", *c);
        else if (*c < 0x20 || *c == 0x7f)
            fprintf(out, "\\x%02x", *c);
        else
            fputc(*c, out);
    }
    fputc('"', out);
}

static void print_scalar(FILE *out, const cyaml_schema_value_t *v, const void *data)
{
    char num[64];
    switch (v->type) {
    case CYAML_FLOAT:
        sw__cfg_fmt_double(*(const double *)data, num, sizeof num);
        fputs(num, out);
        break;
    case CYAML_UINT: fprintf(out, "%" PRIu64, sw__cfg_get_uint(v, data)); break;
    case CYAML_BOOL: fputs(*(const bool *)data ? "true" : "false", out); break;
    case CYAML_ENUM: fputs(sw__cfg_enum_name(v, sw__cfg_get_enum(v, data)), out); break;
    case CYAML_STRING: {
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

/* dash: the first key of a sequence entry goes after "- ", two columns left of indent. */
static void print_fields(FILE *out, const cyaml_schema_field_t *fields, const void *base,
                         int indent, bool dash)
{
    for (const cyaml_schema_field_t *f = fields; f->key; f++) {
        if (dash && f == fields)
            fprintf(out, "%*s- %s:", indent - 2, "", f->key);
        else
            fprintf(out, "%*s%s:", indent, "", f->key);
        const char *data = (const char *)base + f->data_offset;

        if (f->value.type == CYAML_MAPPING) {
            fputc('\n', out);
            print_fields(out, f->value.mapping.fields, data, indent + 2, false);
        } else if (f->value.type == CYAML_SEQUENCE) {
            const cyaml_schema_value_t *e = f->value.sequence.entry;
            unsigned n = sw__cfg_seq_count(f, base);
            const char *arr = *(char *const *)data;
            if (n == 0) {
                fputs(" []\n", out);
            } else if (e->type == CYAML_MAPPING) {
                fputc('\n', out);
                for (unsigned i = 0; i < n; i++)
                    print_fields(out, e->mapping.fields, arr + i * e->data_size, indent + 4, true);
            } else {
                fputs(" [", out);
                for (unsigned i = 0; i < n; i++) {
                    if (i)
                        fputs(", ", out);
                    print_scalar(out, e, arr + i * e->data_size);
                }
                fputs("]\n", out);
            }
        } else {
            fputc(' ', out);
            print_scalar(out, &f->value, data);
            fputc('\n', out);
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
    print_fields(out, sw__cfg_schema.mapping.fields, cfg, 0, false);
}

static bool equal_scalar(const cyaml_schema_value_t *v, const void *a, const void *b)
{
    switch (v->type) {
    case CYAML_FLOAT: return *(const double *)a == *(const double *)b;
    case CYAML_UINT: return sw__cfg_get_uint(v, a) == sw__cfg_get_uint(v, b);
    case CYAML_BOOL: return *(const bool *)a == *(const bool *)b;
    case CYAML_ENUM: return sw__cfg_get_enum(v, a) == sw__cfg_get_enum(v, b);
    case CYAML_STRING: {
        const char *sa = *(char *const *)a, *sb = *(char *const *)b;
        return sa == sb || (sa && sb && strcmp(sa, sb) == 0);
    }
    default: return true;
    }
}

static bool equal_fields(const cyaml_schema_field_t *fields, const void *a, const void *b)
{
    for (const cyaml_schema_field_t *f = fields; f->key; f++) {
        const char *da = (const char *)a + f->data_offset;
        const char *db = (const char *)b + f->data_offset;
        if (f->value.type == CYAML_MAPPING) {
            if (!equal_fields(f->value.mapping.fields, da, db))
                return false;
        } else if (f->value.type == CYAML_SEQUENCE) {
            const cyaml_schema_value_t *e = f->value.sequence.entry;
            unsigned n = sw__cfg_seq_count(f, a);
            if (n != sw__cfg_seq_count(f, b))
                return false;
            const char *aa = *(char *const *)da, *ab = *(char *const *)db;
            for (unsigned i = 0; i < n; i++) {
                const char *ea = aa + i * e->data_size, *eb = ab + i * e->data_size;
                bool same = e->type == CYAML_MAPPING ? equal_fields(e->mapping.fields, ea, eb)
                                                     : equal_scalar(e, ea, eb);
                if (!same)
                    return false;
            }
        } else if (!equal_scalar(&f->value, da, db)) {
            return false;
        }
    }
    return true;
}

bool sw_cfg_equal(const sw_cfg_t *a, const sw_cfg_t *b)
{
    return equal_fields(sw__cfg_schema.mapping.fields, a, b);
}
