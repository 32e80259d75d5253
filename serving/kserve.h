/* The KServe v2 inference protocol's JSON bodies (the "REST" flavour of the Open Inference
 * Protocol), for one model with one FP32 input tensor [N, input_size] and one FP32 output
 * tensor [N, output_size]. Pure functions, bytes in and bytes out, with no I/O and no
 * globals, so `spillway function` (a Lambda event is a request body) and the HTTP frontend
 * share them. Any thread may call them on its own objects.
 *
 * A request:  {"id": "r1", "inputs": [{"name": "input", "shape": [2, 784],
 *              "datatype": "FP32", "data": [...]}], "parameters": {...}}
 * where `id` and `parameters` are optional, `data` is flat (N x 784 numbers) or nested
 * (N rows of 784), and the shape [784] means N = 1.
 * A response: {"model_name": "m", "model_version": "7", "id": "r1", "outputs": [{"name":
 *              "output", "shape": [2, 10], "datatype": "FP32", "data": [...]}]} */
#ifndef SW_SERVING_KSERVE_H
#define SW_SERVING_KSERVE_H

#include <stddef.h>
#include <stdint.h>

#include "common/common.h"

/* A parsed request. Callers embed it and reuse it across requests, so its buffers grow to
 * the largest request seen and are not allocated again. Fields with `_` are private. */
typedef struct sw_srv_kserve_req {
    size_t n;      /* rows (batch size), 1..max_batch */
    float *data;   /* n x input_size floats, row-major; owned, valid until the next parse */
    char *id;      /* the request's "id", or NULL when it had none; owned, as `data` */
    size_t _cap;   /* floats allocated in data */
    char *_id_buf; /* storage behind id, kept while id is NULL */
    size_t _id_cap;
} sw_srv_kserve_req_t;

/* A growable byte buffer for response bodies, reused across responses. len excludes the
 * terminating NUL that is always present once something was written. */
typedef struct sw_srv_kserve_buf {
    char *data;
    size_t len, _cap;
} sw_srv_kserve_buf_t;

/* What a response says. Every pointer is borrowed for the call. */
typedef struct sw_srv_kserve_reply {
    const char *model_name;
    uint32_t model_version;
    const char *id;          /* echoed as "id" when not NULL */
    const char *output_name; /* the output tensor's name; NULL means "output" */
    size_t n, output_size;   /* shape [n, output_size] */
    const float *data;       /* n x output_size floats */
} sw_srv_kserve_reply_t;

void sw_srv_kserve_req_init(sw_srv_kserve_req_t *r);
void sw_srv_kserve_req_deinit(sw_srv_kserve_req_t *r);
void sw_srv_kserve_buf_init(sw_srv_kserve_buf_t *b);
void sw_srv_kserve_buf_deinit(sw_srv_kserve_buf_t *b);

/* Parses the request body `body` (len bytes, need not be NUL-terminated) for a model taking
 * input_size floats per row and at most max_batch rows, into *out (reusing its buffers).
 * Returns 0, or SW_EPARSE with a message in errbuf that names the JSON path and what was
 * wrong, e.g. "inputs[0].shape: expected [N, 784], got [3, 5]" or "inputs[0].data[17]: not
 * a number". On error *out holds no request (n 0, id NULL) but keeps its buffers. */
int sw_srv_kserve_parse_request(const char *body, size_t len, size_t input_size, unsigned max_batch,
                                sw_srv_kserve_req_t *out, char *errbuf, size_t errlen) SW_MUST_USE;

/* Writes the response JSON for `r` into *out, replacing what it held (reusing its memory).
 * Floats are printed with %.9g, enough to read back the same float; a non-finite value,
 * which JSON cannot express, is written as null. */
void sw_srv_kserve_format_response(const sw_srv_kserve_reply_t *r, sw_srv_kserve_buf_t *out);

/* Writes KServe's error body {"error": msg} into *out, replacing what it held; msg is
 * borrowed and JSON-escaped. */
void sw_srv_kserve_format_error(const char *msg, sw_srv_kserve_buf_t *out);

/* The client side, for a caller of a KServe v2 model (the live driver calling a function,
 * the load generator calling the frontend). */

/* Writes a request body for n rows of input_size floats (row-major, borrowed) into *out,
 * replacing what it held: {"inputs":[{"name":"input","shape":[n,input_size],"datatype":
 * "FP32","data":[...]}]}. Floats are printed with %.9g; non-finite values, which JSON
 * cannot express, are written as 0. */
void sw_srv_kserve_format_request(const float *rows, size_t n, size_t input_size,
                                  sw_srv_kserve_buf_t *out);

/* Reads a response body holding one FP32 output of shape [n, output_size] (or
 * [output_size] when n is 1) into out[n * output_size]. Returns 0, or SW_EPARSE with a
 * message naming what is wrong ("outputs[0].shape: expected [1, 10], got [1, 3]"); an
 * {"error": ...} body gives "the server answered an error: ...". */
int sw_srv_kserve_parse_response(const char *body, size_t len, size_t output_size, size_t n,
                                 float *out, char *errbuf, size_t errlen) SW_MUST_USE;

#endif
