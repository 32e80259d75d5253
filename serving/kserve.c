/* KServe v2 JSON request parsing and response writing (see kserve.h). Requests are parsed
 * with jansson, since a request's shape and paths must be checked one by one to give
 * messages that say where a body is wrong. Responses are written by hand into a reused
 * buffer instead of through a jansson tree: a response is a few fixed keys plus a float
 * array, and building a tree would allocate once per float on every request. */
#include "serving/kserve.h"

#include <float.h>
#include <math.h>
#include <inttypes.h>
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

int sw_srv_kserve_parse_request(const char *body, size_t len, size_t input_size, unsigned max_batch,
                                sw_srv_kserve_req_t *out, char *errbuf, size_t errlen)
{
    out->n = 0;
    out->id = NULL;
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

int sw_srv_kserve_parse_response(const char *body, size_t len, size_t output_size, size_t n,
                                 float *out, char *errbuf, size_t errlen)
{
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
