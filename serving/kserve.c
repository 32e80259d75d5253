/* KServe v2 JSON request parsing and response writing (see kserve.h). Requests are parsed
 * with jansson, since a request's shape and paths must be checked one by one to give
 * messages that say where a body is wrong. But jansson allocates a node per number and
 * spends most of a 784-float request in strtod, so a request is first read by a strict
 * one-pass reader of the common form, without allocating; anything it is not sure of (an
 * error, an escape, an unknown key, a rare number) goes to jansson, which gives the answer
 * and the message, so both paths accept exactly the same bodies with the same floats.
 * Responses are written by hand into a reused buffer instead of through a jansson tree: a
 * response is a few fixed keys plus a float array, and building a tree would allocate once
 * per float on every request. */
#include "serving/kserve.h"

#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "common/common.h"

/* Shapes are printed in messages; longer ones are cut with "...". */
#define MAX_SHAPE_DIMS 8

void sw_srv_kserve_req_init(sw_srv_kserve_req_t *r)
{
    *r = (sw_srv_kserve_req_t){0};
}

void sw_srv_kserve_req_deinit(sw_srv_kserve_req_t *r)
{
    sw_free(r->data);
    sw_free(r->_id_buf);
    *r = (sw_srv_kserve_req_t){0};
}

void sw_srv_kserve_buf_init(sw_srv_kserve_buf_t *b)
{
    *b = (sw_srv_kserve_buf_t){0};
}

void sw_srv_kserve_buf_deinit(sw_srv_kserve_buf_t *b)
{
    sw_free(b->data);
    *b = (sw_srv_kserve_buf_t){0};
}

static const char *json_type_name(const json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER:
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
    }
    return "an unknown value";
}

/* Prints shape `j` (an array, maybe with non-integers) as "[3, 5]" into s. */
static void shape_text(const json_t *j, char *s, size_t len)
{
    size_t used = (size_t)snprintf(s, len, "[");
    for (size_t i = 0; i < json_array_size(j) && used < len; i++) {
        const json_t *d = json_array_get(j, i);
        const char *sep = i ? ", " : "";
        if (i == MAX_SHAPE_DIMS) {
            used += (size_t)snprintf(s + used, len - used, ", ...");
            break;
        }
        if (json_is_integer(d))
            used += (size_t)snprintf(s + used, len - used, "%s%" JSON_INTEGER_FORMAT, sep,
                                     json_integer_value(d));
        else
            used += (size_t)snprintf(s + used, len - used, "%s?", sep);
    }
    if (used < len)
        snprintf(s + used, len - used, "]");
}

/* Reads the batch size N from inputs[0].shape, which must be [N, input_size] or
 * [input_size] (N = 1) with 1 <= N <= max_batch. */
static int parse_shape(const json_t *shape, size_t input_size, unsigned max_batch, size_t *n,
                       char *errbuf, size_t errlen)
{
    if (!shape) {
        sw_set_error(errbuf, errlen, "inputs[0].shape: missing");
        return SW_EPARSE;
    }
    if (!json_is_array(shape)) {
        sw_set_error(errbuf, errlen, "inputs[0].shape: expected an array, got %s",
                     json_type_name(shape));
        return SW_EPARSE;
    }
    for (size_t i = 0; i < json_array_size(shape); i++) {
        if (!json_is_integer(json_array_get(shape, i))) {
            sw_set_error(errbuf, errlen, "inputs[0].shape[%zu]: expected an integer, got %s", i,
                         json_type_name(json_array_get(shape, i)));
            return SW_EPARSE;
        }
    }
    size_t dims = json_array_size(shape);
    json_int_t rows = dims == 2 ? json_integer_value(json_array_get(shape, 0)) : 1;
    json_int_t cols = dims >= 1 ? json_integer_value(json_array_get(shape, dims - 1)) : -1;
    char got[128];
    shape_text(shape, got, sizeof(got));
    if ((dims != 1 && dims != 2) || cols != (json_int_t)input_size) {
        sw_set_error(errbuf, errlen, "inputs[0].shape: expected [N, %zu], got %s", input_size, got);
        return SW_EPARSE;
    }
    if (rows < 1 || rows > (json_int_t)max_batch) {
        sw_set_error(errbuf, errlen,
                     "inputs[0].shape: batch size %" JSON_INTEGER_FORMAT
                     " out of range, expected 1 to %u (the max batch)",
                     rows, max_batch);
        return SW_EPARSE;
    }
    *n = (size_t)rows;
    return 0;
}

/* Converts one data element; `path` is its JSON path for the message. */
static int read_float(const json_t *v, const char *path, float *out, char *errbuf, size_t errlen)
{
    if (SW_UNLIKELY(!json_is_number(v))) {
        sw_set_error(errbuf, errlen, "%s: not a number (got %s)", path, json_type_name(v));
        return SW_EPARSE;
    }
    double d = json_number_value(v);
    if (SW_UNLIKELY(fabs(d) > FLT_MAX)) {
        sw_set_error(errbuf, errlen, "%s: %g is out of the FP32 range", path, d);
        return SW_EPARSE;
    }
    *out = (float)d;
    return 0;
}

/* Fills out[0 .. count) from the numbers of array `a`, whose path is `path`. */
static int read_floats(const json_t *a, const char *path, size_t count, float *out, char *errbuf,
                       size_t errlen)
{
    if (json_array_size(a) != count) {
        sw_set_error(errbuf, errlen, "%s: expected %zu numbers, got %zu", path, count,
                     json_array_size(a));
        return SW_EPARSE;
    }
    for (size_t i = 0; i < count; i++) {
        const json_t *v = json_array_get(a, i);
        /* The path is only formatted on the error path, so the loop costs no snprintf. */
        if (SW_LIKELY(json_is_number(v) && fabs(json_number_value(v)) <= FLT_MAX)) {
            out[i] = (float)json_number_value(v);
            continue;
        }
        char p[96];
        snprintf(p, sizeof(p), "%s[%zu]", path, i);
        return read_float(v, p, &out[i], errbuf, errlen);
    }
    return 0;
}

/* Reads inputs[0].data, flat (n x input_size numbers) or nested (n rows), into out. */
static int parse_data(const json_t *data, size_t n, size_t input_size, float *out, char *errbuf,
                      size_t errlen)
{
    if (!data) {
        sw_set_error(errbuf, errlen, "inputs[0].data: missing");
        return SW_EPARSE;
    }
    if (!json_is_array(data)) {
        sw_set_error(errbuf, errlen, "inputs[0].data: expected an array, got %s",
                     json_type_name(data));
        return SW_EPARSE;
    }
    /* KServe allows both layouts; the first element tells which one this is. */
    if (!json_is_array(json_array_get(data, 0)))
        return read_floats(data, "inputs[0].data", n * input_size, out, errbuf, errlen);
    if (json_array_size(data) != n) {
        sw_set_error(errbuf, errlen,
                     "inputs[0].data: expected %zu rows of %zu numbers, got %zu rows", n,
                     input_size, json_array_size(data));
        return SW_EPARSE;
    }
    for (size_t r = 0; r < n; r++) {
        const json_t *row = json_array_get(data, r);
        char p[64];
        snprintf(p, sizeof(p), "inputs[0].data[%zu]", r);
        if (!json_is_array(row)) {
            sw_set_error(errbuf, errlen, "%s: expected a row of %zu numbers, got %s", p, input_size,
                         json_type_name(row));
            return SW_EPARSE;
        }
        int rc = read_floats(row, p, input_size, out + r * input_size, errbuf, errlen);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* Checks the optional top-level "id" and "parameters" and copies the id into r. */
static int parse_envelope(const json_t *root, sw_srv_kserve_req_t *r, char *errbuf, size_t errlen)
{
    const json_t *id = json_object_get(root, "id");
    if (id && !json_is_string(id)) {
        sw_set_error(errbuf, errlen, "id: expected a string, got %s", json_type_name(id));
        return SW_EPARSE;
    }
    const json_t *params = json_object_get(root, "parameters");
    if (params && !json_is_object(params)) {
        sw_set_error(errbuf, errlen, "parameters: expected an object, got %s",
                     json_type_name(params));
        return SW_EPARSE;
    }
    if (id) {
        size_t len = json_string_length(id);
        if (len + 1 > r->_id_cap) {
            r->_id_buf = sw_realloc(r->_id_buf, len + 1);
            r->_id_cap = len + 1;
        }
        /* memcpy, not strcpy: a JSON string may hold "\u0000". */
        memcpy(r->_id_buf, json_string_value(id), len + 1);
        r->id = r->_id_buf;
    }
    return 0;
}

/* Checks inputs[0]'s name and datatype. */
static int parse_tensor_header(const json_t *t, char *errbuf, size_t errlen)
{
    if (!json_is_object(t)) {
        sw_set_error(errbuf, errlen, "inputs[0]: expected an object, got %s", json_type_name(t));
        return SW_EPARSE;
    }
    const json_t *name = json_object_get(t, "name");
    if (!json_is_string(name)) {
        sw_set_error(errbuf, errlen, "inputs[0].name: %s%s",
                     name ? "expected a string, got " : "missing",
                     name ? json_type_name(name) : "");
        return SW_EPARSE;
    }
    const json_t *dt = json_object_get(t, "datatype");
    if (!json_is_string(dt)) {
        sw_set_error(errbuf, errlen, "inputs[0].datatype: %s%s",
                     dt ? "expected a string, got " : "missing", dt ? json_type_name(dt) : "");
        return SW_EPARSE;
    }
    if (strcmp(json_string_value(dt), "FP32") != 0) {
        sw_set_error(errbuf, errlen, "inputs[0].datatype: %.32s not supported, expected FP32",
                     json_string_value(dt));
        return SW_EPARSE;
    }
    return 0;
}

/* Everything after JSON parsing: the structure, the tensor, and the copy into r. */
static int parse_root(const json_t *root, size_t input_size, unsigned max_batch,
                      sw_srv_kserve_req_t *r, char *errbuf, size_t errlen)
{
    if (!json_is_object(root)) {
        sw_set_error(errbuf, errlen, "request: expected a JSON object, got %s",
                     json_type_name(root));
        return SW_EPARSE;
    }
    int rc = parse_envelope(root, r, errbuf, errlen);
    if (rc < 0)
        return rc;
    const json_t *inputs = json_object_get(root, "inputs");
    if (!inputs) {
        sw_set_error(errbuf, errlen, "inputs: missing");
        return SW_EPARSE;
    }
    if (!json_is_array(inputs) || json_array_size(inputs) != 1) {
        if (json_is_array(inputs))
            sw_set_error(errbuf, errlen, "inputs: expected 1 tensor, got %zu",
                         json_array_size(inputs));
        else
            sw_set_error(errbuf, errlen, "inputs: expected an array, got %s",
                         json_type_name(inputs));
        return SW_EPARSE;
    }
    const json_t *t = json_array_get(inputs, 0);
    size_t n = 0;
    if ((rc = parse_tensor_header(t, errbuf, errlen)) < 0 ||
        (rc = parse_shape(json_object_get(t, "shape"), input_size, max_batch, &n, errbuf, errlen)) <
            0)
        return rc;
    if (n * input_size > r->_cap) {
        r->data = sw_realloc(r->data, n * input_size * sizeof(float));
        r->_cap = n * input_size;
    }
    if ((rc = parse_data(json_object_get(t, "data"), n, input_size, r->data, errbuf, errlen)) < 0)
        return rc;
    r->n = n;
    return 0;
}

/* ---- the fast path: a strict reader of the common form, or "not sure" ---- */

/* Every reader below returns false when it is not sure; the body then goes to jansson. */
typedef struct fast {
    const char *p, *end;
    sw_srv_kserve_req_t *r; /* a request's floats go to r->data; NULL for a response's */
    float *out;             /* a response's floats, at most out_cap of them */
    size_t out_cap;
    size_t count; /* floats read into r->data or out */
    bool integer; /* the last number read had no fraction or exponent */
} fast_t;

/* 10^0 .. 10^22, the powers of ten a double holds exactly. */
static const double exact_pow10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                     1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                     1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

static void fast_ws(fast_t *f)
{
    while (f->p < f->end && (*f->p == ' ' || *f->p == '\n' || *f->p == '\r' || *f->p == '\t'))
        f->p++;
}

static bool fast_eat(fast_t *f, char c)
{
    fast_ws(f);
    if (f->p < f->end && *f->p == c) {
        f->p++;
        return true;
    }
    return false;
}

static bool is_digit(const fast_t *f, const char *q)
{
    return q < f->end && *q >= '0' && *q <= '9';
}

/* A string of printable ASCII without escapes: jansson's UTF-8 and escape rules then
 * cannot differ from ours. */
static bool fast_string(fast_t *f, const char **s, size_t *n)
{
    if (!fast_eat(f, '"'))
        return false;
    const char *start = f->p;
    while (f->p < f->end && *f->p != '"') {
        unsigned char c = (unsigned char)*f->p++;
        if (c < 0x20 || c >= 0x7f || c == '\\')
            return false;
    }
    if (f->p == f->end)
        return false;
    *s = start;
    *n = (size_t)(f->p++ - start);
    return true;
}

static bool fast_literal(fast_t *f, const char *word)
{
    size_t n = strlen(word);
    fast_ws(f);
    if ((size_t)(f->end - f->p) < n || memcmp(f->p, word, n))
        return false;
    f->p += n;
    return true;
}

/* The double a real token has: exact when Clinger's fast path applies (the digits fit in
 * 53 bits and the power of ten is exact, so one rounding gives strtod's answer), else
 * strtod itself, as jansson does. False on overflow, which jansson rejects. */
static bool real_value(const char *tok, size_t len, uint64_t m, int ndig, int e10, bool neg,
                       double *out)
{
    if (ndig <= 19 && m <= (1ULL << 53) && e10 >= -22 && e10 <= 22) {
        double d = e10 >= 0 ? (double)m * exact_pow10[e10] : (double)m / exact_pow10[-e10];
        *out = neg ? -d : d;
        return true;
    }
    char buf[64];
    if (len >= sizeof(buf))
        return false;
    memcpy(buf, tok, len);
    buf[len] = '\0';
    errno = 0;
    *out = strtod(buf, NULL);
    return !(errno == ERANGE && fabs(*out) > 1.0);
}

/* A JSON number as the jansson path turns it into a float's double: an integer through
 * int64 (so "-0" is +0), a real through real_value(). Not sure of integers of 19 digits
 * and more (int64 overflow is jansson's error) nor of values outside the FP32 range. */
static bool fast_number(fast_t *f, double *out)
{
    fast_ws(f);
    const char *tok = f->p, *q = f->p;
    bool neg = q < f->end && *q == '-', real = false;
    q += neg;
    if (!is_digit(f, q) || (*q == '0' && is_digit(f, q + 1)))
        return false;
    uint64_t m = 0;
    int ndig = 0, e10 = 0;
    for (; is_digit(f, q); q++, ndig++)
        m = ndig < 19 ? m * 10 + (uint64_t)(*q - '0') : m;
    e10 = ndig > 19 ? ndig - 19 : 0;
    if (q < f->end && *q == '.') {
        real = true;
        if (!is_digit(f, ++q))
            return false;
        for (; is_digit(f, q); q++, ndig++)
            if (ndig < 19) {
                m = m * 10 + (uint64_t)(*q - '0');
                e10--;
            }
    }
    if (q < f->end && (*q == 'e' || *q == 'E')) {
        real = true;
        q++;
        bool eneg = q < f->end && (*q == '-' || *q == '+') ? *q++ == '-' : false;
        if (!is_digit(f, q))
            return false;
        int e = 0;
        for (; is_digit(f, q); q++)
            e = e < 10000 ? e * 10 + (*q - '0') : e;
        e10 += eneg ? -e : e;
    }
    f->p = q;
    f->integer = !real;
    if (!real) {
        if (ndig > 18)
            return false;
        *out = (double)(neg ? -(int64_t)m : (int64_t)m);
    } else if (!real_value(tok, (size_t)(q - tok), m, ndig, e10, neg, out)) {
        return false;
    }
    return fabs(*out) <= FLT_MAX;
}

/* Reads a number into the next float of r->data, which grows as the slow path's does not
 * need to: the row count may come after the data. */
static bool fast_float(fast_t *f)
{
    double d;
    sw_srv_kserve_req_t *r = f->r;
    if (!fast_number(f, &d))
        return false;
    if (!r) { /* a response: more numbers than expected is the slow path's error to name */
        if (f->count == f->out_cap)
            return false;
        f->out[f->count++] = (float)d;
        return true;
    }
    if (f->count == r->_cap) {
        r->_cap = r->_cap ? r->_cap * 2 : 1024;
        r->data = sw_realloc(r->data, r->_cap * sizeof(float));
    }
    r->data[f->count++] = (float)d;
    return true;
}

/* "data": flat numbers, or rows of numbers all of one length (*rows and *row_len). */
static bool fast_data(fast_t *f, size_t *rows, size_t *row_len)
{
    *rows = *row_len = 0;
    if (!fast_eat(f, '['))
        return false;
    fast_ws(f);
    bool nested = f->p < f->end && *f->p == '[';
    do {
        if (!nested) {
            if (!fast_float(f))
                return false;
            continue;
        }
        size_t before = f->count;
        if (!fast_eat(f, '['))
            return false;
        do
            if (!fast_float(f))
                return false;
        while (fast_eat(f, ','));
        if (!fast_eat(f, ']') || (*rows && f->count - before != *row_len))
            return false;
        *row_len = f->count - before;
        (*rows)++;
    } while (fast_eat(f, ','));
    return fast_eat(f, ']');
}

/* "shape": one or two integers. */
static bool fast_shape(fast_t *f, double dims[2], size_t *ndims)
{
    *ndims = 0;
    if (!fast_eat(f, '['))
        return false;
    do {
        if (*ndims == 2 || !fast_number(f, &dims[*ndims]) || !f->integer)
            return false;
        (*ndims)++;
    } while (fast_eat(f, ','));
    return fast_eat(f, ']');
}

/* Which of the names in `keys` the key s[0..n) is, or -1. */
static int key_index(const char *s, size_t n, const char *const *keys, int nkeys)
{
    for (int i = 0; i < nkeys; i++)
        if (strlen(keys[i]) == n && !memcmp(s, keys[i], n))
            return i;
    return -1;
}

/* Reads an object's "key": and calls back for each key in `keys`, at most once each;
 * sets *seen to the keys found. */
typedef bool (*fast_member_fn)(fast_t *f, int key, void *arg);

static bool fast_object(fast_t *f, const char *const *keys, int nkeys, fast_member_fn fn, void *arg,
                        unsigned *seen)
{
    *seen = 0;
    if (!fast_eat(f, '{'))
        return false;
    if (fast_eat(f, '}'))
        return true;
    do {
        const char *k;
        size_t kn;
        if (!fast_string(f, &k, &kn) || !fast_eat(f, ':'))
            return false;
        int key = key_index(k, kn, keys, nkeys);
        if (key < 0 || (*seen & (1u << key)) || !fn(f, key, arg))
            return false;
        *seen |= 1u << key;
    } while (fast_eat(f, ','));
    return fast_eat(f, '}');
}

/* "parameters": an object of at most 8 distinct keys with flat values. */
static bool fast_parameters(fast_t *f)
{
    const char *keys[8];
    size_t lens[8], n = 0;
    double d;
    if (!fast_eat(f, '{'))
        return false;
    if (fast_eat(f, '}'))
        return true;
    do {
        const char *v;
        size_t vn;
        if (n == 8 || !fast_string(f, &keys[n], &lens[n]) || !fast_eat(f, ':'))
            return false;
        for (size_t i = 0; i < n; i++)
            if (lens[i] == lens[n] && !memcmp(keys[i], keys[n], lens[n]))
                return false;
        n++;
        fast_ws(f);
        if (!fast_string(f, &v, &vn) && !fast_literal(f, "true") && !fast_literal(f, "false") &&
            !fast_literal(f, "null") && !fast_number(f, &d))
            return false;
    } while (fast_eat(f, ','));
    return fast_eat(f, '}');
}

enum { T_NAME, T_SHAPE, T_DATATYPE, T_DATA, T_PARAMETERS };

typedef struct fast_tensor {
    double dims[2];
    size_t ndims, rows, row_len;
} fast_tensor_t;

static bool fast_tensor_member(fast_t *f, int key, void *arg)
{
    fast_tensor_t *t = arg;
    const char *s;
    size_t n;
    switch (key) {
    case T_NAME: return fast_string(f, &s, &n);
    case T_DATATYPE: return fast_string(f, &s, &n) && n == 4 && !memcmp(s, "FP32", 4);
    case T_SHAPE: return fast_shape(f, t->dims, &t->ndims);
    case T_DATA: return fast_data(f, &t->rows, &t->row_len);
    default: return fast_parameters(f);
    }
}

/* inputs[0], checked as parse_shape() and parse_data() would; sets *n. */
static bool fast_tensor(fast_t *f, size_t input_size, unsigned max_batch, size_t *n)
{
    static const char *const keys[] = {"name", "shape", "datatype", "data", "parameters"};
    fast_tensor_t t = {0};
    unsigned seen;
    if (!fast_object(f, keys, 5, fast_tensor_member, &t, &seen) || (seen & 15) != 15)
        return false;
    double rows = t.ndims == 2 ? t.dims[0] : 1, cols = t.dims[t.ndims - 1]; /* ndims >= 1 */
    if (cols != (double)input_size || rows < 1 || rows > max_batch)
        return false;
    *n = (size_t)rows;
    return t.rows ? t.rows == *n && t.row_len == input_size : f->count == *n * input_size;
}

enum { R_ID, R_INPUTS, R_PARAMETERS };

typedef struct fast_root {
    size_t input_size, n;
    unsigned max_batch;
    const char *id;
    size_t id_len;
} fast_root_t;

static bool fast_root_member(fast_t *f, int key, void *arg)
{
    fast_root_t *root = arg;
    switch (key) {
    case R_ID: return fast_string(f, &root->id, &root->id_len);
    case R_INPUTS:
        return fast_eat(f, '[') && fast_tensor(f, root->input_size, root->max_batch, &root->n) &&
               fast_eat(f, ']');
    default: return fast_parameters(f);
    }
}

/* The whole body in the common form, into *r; false (r holding no request) when unsure. */
static bool parse_fast(const char *body, size_t len, size_t input_size, unsigned max_batch,
                       sw_srv_kserve_req_t *r)
{
    static const char *const keys[] = {"id", "inputs", "parameters"};
    fast_t f = {.p = body, .end = body + len, .r = r};
    fast_root_t root = {.input_size = input_size, .max_batch = max_batch};
    unsigned seen;
    if (!fast_object(&f, keys, 3, fast_root_member, &root, &seen) || !(seen & (1u << R_INPUTS)))
        return false;
    fast_ws(&f);
    if (f.p != f.end)
        return false;
    if (root.id) {
        if (root.id_len + 1 > r->_id_cap) {
            r->_id_buf = sw_realloc(r->_id_buf, root.id_len + 1);
            r->_id_cap = root.id_len + 1;
        }
        memcpy(r->_id_buf, root.id, root.id_len);
        r->_id_buf[root.id_len] = '\0';
        r->id = r->_id_buf;
    }
    r->n = root.n;
    return true;
}

int sw_srv_kserve_parse_request(const char *body, size_t len, size_t input_size, unsigned max_batch,
                                sw_srv_kserve_req_t *out, char *errbuf, size_t errlen)
{
    out->n = 0;
    out->id = NULL;
    if (parse_fast(body, len, input_size, max_batch, out))
        return 0;
    json_error_t jerr;
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        sw_set_error(errbuf, errlen, "not JSON at line %d, column %d: %s", jerr.line, jerr.column,
                     jerr.text);
        return SW_EPARSE;
    }
    int rc = parse_root(root, input_size, max_batch, out, errbuf, errlen);
    json_decref(root);
    if (rc < 0) {
        out->n = 0;
        out->id = NULL;
    }
    return rc;
}

/* Makes room for `more` bytes plus a NUL after b->len. */
static void buf_reserve(sw_srv_kserve_buf_t *b, size_t more)
{
    if (b->len + more + 1 <= b->_cap)
        return;
    size_t cap = b->_cap ? b->_cap : 256;
    while (cap < b->len + more + 1)
        cap *= 2;
    b->data = sw_realloc(b->data, cap);
    b->_cap = cap;
}

static void buf_puts(sw_srv_kserve_buf_t *b, const char *s)
{
    size_t n = strlen(s);
    buf_reserve(b, n);
    memcpy(b->data + b->len, s, n + 1);
    b->len += n;
}

static void buf_printf(sw_srv_kserve_buf_t *b, const char *fmt, ...) SW_PRINTF(2, 3);
static void buf_printf(sw_srv_kserve_buf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    buf_reserve(b, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

/* Appends s as a JSON string literal. Bytes >= 0x80 pass through: names and ids are UTF-8
 * (ids were validated as such by the JSON parser). */
static void buf_json_string(sw_srv_kserve_buf_t *b, const char *s)
{
    buf_puts(b, "\"");
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            buf_printf(b, "\\%c", *p);
        else if (*p < 0x20)
            buf_printf(b, "\\u%04x", *p);
        else {
            buf_reserve(b, 1);
            b->data[b->len++] = (char)*p;
            b->data[b->len] = '\0';
        }
    }
    buf_puts(b, "\"");
}

void sw_srv_kserve_format_response(const sw_srv_kserve_reply_t *r, sw_srv_kserve_buf_t *out)
{
    out->len = 0;
    buf_puts(out, "{\"model_name\":");
    buf_json_string(out, r->model_name ? r->model_name : "");
    buf_printf(out, ",\"model_version\":\"%" PRIu32 "\"", r->model_version);
    if (r->id) {
        buf_puts(out, ",\"id\":");
        buf_json_string(out, r->id);
    }
    buf_puts(out, ",\"outputs\":[{\"name\":");
    buf_json_string(out, r->output_name ? r->output_name : "output");
    buf_printf(out, ",\"shape\":[%zu,%zu],\"datatype\":\"FP32\",\"data\":[", r->n, r->output_size);
    size_t count = r->n * r->output_size;
    /* "-1.17549435e-38," is 16 bytes: reserve once, then print in place. */
    buf_reserve(out, count * 24);
    for (size_t i = 0; i < count; i++) {
        const char *sep = i ? "," : "";
        if (isfinite(r->data[i]))
            out->len +=
                (size_t)snprintf(out->data + out->len, 24, "%s%.9g", sep, (double)r->data[i]);
        else
            out->len += (size_t)snprintf(out->data + out->len, 24, "%snull", sep);
    }
    buf_puts(out, "]}]}");
}

void sw_srv_kserve_format_error(const char *msg, sw_srv_kserve_buf_t *out)
{
    out->len = 0;
    buf_puts(out, "{\"error\":");
    buf_json_string(out, msg);
    buf_puts(out, "}");
}

void sw_srv_kserve_format_request(const float *rows, size_t n, size_t input_size,
                                  sw_srv_kserve_buf_t *out)
{
    out->len = 0;
    buf_printf(out, "{\"inputs\":[{\"name\":\"input\",\"shape\":[%zu,%zu],\"datatype\":\"FP32\","
                    "\"data\":[", n, input_size);
    size_t count = n * input_size;
    buf_reserve(out, count * 24);
    for (size_t i = 0; i < count; i++) {
        double v = isfinite(rows[i]) ? (double)rows[i] : 0.0;
        out->len += (size_t)snprintf(out->data + out->len, 24, i ? ",%.9g" : "%.9g", v);
    }
    buf_puts(out, "]}]}");
}

/* Checks the answer's one output tensor and returns its data array, or NULL with a
 * message. */
static const json_t *response_data(const json_t *root, size_t output_size, size_t n,
                                   char *errbuf, size_t errlen)
{
    const json_t *err = json_object_get(root, "error");
    if (json_is_string(err)) {
        sw_set_error(errbuf, errlen, "the server answered an error: %s", json_string_value(err));
        return NULL;
    }
    const json_t *outputs = json_object_get(root, "outputs");
    if (!json_is_array(outputs) || json_array_size(outputs) != 1) {
        sw_set_error(errbuf, errlen, "outputs: expected an array of one tensor");
        return NULL;
    }
    const json_t *t = json_array_get(outputs, 0);
    const json_t *shape = json_object_get(t, "shape");
    size_t dims = json_array_size(shape);
    json_int_t d0 = json_integer_value(json_array_get(shape, 0));
    json_int_t d1 = json_integer_value(json_array_get(shape, 1));
    bool ok = (dims == 2 && d0 == (json_int_t)n && d1 == (json_int_t)output_size) ||
              (dims == 1 && n == 1 && d0 == (json_int_t)output_size);
    if (!ok) {
        char got[64];
        shape_text(shape, got, sizeof(got));
        sw_set_error(errbuf, errlen, "outputs[0].shape: expected [%zu, %zu], got %s", n,
                     output_size, json_is_array(shape) ? got : "no shape");
        return NULL;
    }
    const json_t *data = json_object_get(t, "data");
    if (!json_is_array(data) || json_array_size(data) != n * output_size) {
        sw_set_error(errbuf, errlen, "outputs[0].data: expected %zu numbers", n * output_size);
        return NULL;
    }
    return data;
}

/* outputs[0] of a response, checked as response_data() would: shape [n, output_size]
 * (or [output_size] when n is 1) and n x output_size flat numbers. */
static bool fast_output(fast_t *f, size_t output_size, size_t n)
{
    static const char *const keys[] = {"name", "shape", "datatype", "data", "parameters"};
    fast_tensor_t t = {0};
    unsigned seen;
    unsigned need = (1u << T_SHAPE) | (1u << T_DATA);
    if (!fast_object(f, keys, 5, fast_tensor_member, &t, &seen) || (seen & need) != need)
        return false;
    bool shape_ok = (t.ndims == 2 && t.dims[0] == (double)n && t.dims[1] == (double)output_size) ||
                    (t.ndims == 1 && n == 1 && t.dims[0] == (double)output_size);
    return shape_ok && t.rows == 0 && f->count == n * output_size;
}

enum { A_MODEL_NAME, A_MODEL_VERSION, A_ID, A_OUTPUTS, A_PARAMETERS };

typedef struct fast_answer {
    size_t output_size, n;
} fast_answer_t;

static bool fast_answer_member(fast_t *f, int key, void *arg)
{
    fast_answer_t *a = arg;
    const char *s;
    size_t len;
    switch (key) {
    case A_OUTPUTS:
        return fast_eat(f, '[') && fast_output(f, a->output_size, a->n) && fast_eat(f, ']');
    case A_PARAMETERS: return fast_parameters(f);
    default: return fast_string(f, &s, &len);
    }
}

/* A response in the form format_response writes, into out; false when unsure. A client
 * that checks every answer (spillway loadgen) would otherwise spend more CPU in jansson
 * than on the network. */
static bool parse_response_fast(const char *body, size_t len, size_t output_size, size_t n,
                                float *out)
{
    static const char *const keys[] = {"model_name", "model_version", "id", "outputs",
                                       "parameters"};
    fast_t f = {.p = body, .end = body + len, .out = out, .out_cap = n * output_size};
    fast_answer_t a = {.output_size = output_size, .n = n};
    unsigned seen;
    if (!fast_object(&f, keys, 5, fast_answer_member, &a, &seen) || !(seen & (1u << A_OUTPUTS)))
        return false;
    fast_ws(&f);
    return f.p == f.end;
}

int sw_srv_kserve_parse_response(const char *body, size_t len, size_t output_size, size_t n,
                                 float *out, char *errbuf, size_t errlen)
{
    if (parse_response_fast(body, len, output_size, n, out))
        return 0;
    json_error_t jerr;
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        sw_set_error(errbuf, errlen, "not JSON at line %d, column %d: %s", jerr.line, jerr.column,
                     jerr.text);
        return SW_EPARSE;
    }
    int rc = 0;
    const json_t *data = response_data(root, output_size, n, errbuf, errlen);
    for (size_t i = 0; data && i < n * output_size; i++) {
        const json_t *v = json_array_get(data, i);
        if (!json_is_number(v)) {
            sw_set_error(errbuf, errlen, "outputs[0].data[%zu]: %s, not a number", i,
                         json_type_name(v));
            rc = SW_EPARSE;
            break;
        }
        out[i] = (float)json_number_value(v);
    }
    json_decref(root);
    return data ? rc : SW_EPARSE;
}
