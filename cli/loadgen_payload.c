/* The requests `spillway loadgen` sends and the check of their answers. Every request is
 * encoded once, before the run, as the whole HTTP request (head and KServe v2 body), so
 * sending one costs a send() and no encoding: a client that formatted 784 floats per
 * request would spend more time on that than on the network, and measure itself.
 *
 * Payloads take real Fashion-MNIST test images in order, `rows` at a time; the last one
 * wraps to the first images. With a check model, each payload's right outputs are
 * computed here once, by the same model file the server serves. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cli/fashion.h"
#include "cli/loadgen_internal.h"
#include "model/model.h"
#include "serving/kserve.h"

/* Fills x with the payload's rows, images first, first + 1, ... modulo n_images, and
 * labels with their classes. */
static void payload_rows(const sw_idx_set_t *set, size_t n_images, size_t first, size_t rows,
                         float *x, uint8_t *labels)
{
    size_t px = set->rows * set->cols;
    for (size_t r = 0; r < rows; r++) {
        size_t img = (first + r) % n_images;
        sw__cli_fashion_pixels(set, img, 1, x + r * px);
        labels[r] = set->labels[img];
    }
}

static int load_model(const sw_lg_payload_opts_t *o, size_t px, sw_model_t **m, char *errbuf,
                      size_t errlen)
{
    char err[1024];
    int rc = sw_model_load(o->check_model, (unsigned)o->rows, m, err, sizeof(err));
    if (rc < 0) {
        sw_set_error(errbuf, errlen, "--check-model: %s", err);
        return rc;
    }
    if (sw_model_input_size(*m) != px) {
        sw_set_error(errbuf, errlen,
                     "--check-model %s: the model takes %zu inputs, not a %zu-pixel image: give "
                     "the model file the server serves",
                     o->check_model, sw_model_input_size(*m), px);
        return -EINVAL;
    }
    return 0;
}

/* Encodes payload i (rows in x) as a whole request into p->req[i]. */
static void encode(sw_lg_payloads_t *p, size_t i, const sw_lg_payload_opts_t *o, const float *x,
                   size_t px, sw_srv_kserve_buf_t *body)
{
    sw_srv_kserve_format_request(x, o->rows, px, body);
    char head[1024];
    int n = snprintf(head, sizeof(head),
                     "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\n\r\n",
                     o->path, o->host, body->len);
    size_t head_len = (size_t)n < sizeof(head) ? (size_t)n : sizeof(head) - 1;
    p->req[i] = sw_malloc(head_len + body->len);
    memcpy(p->req[i], head, head_len);
    memcpy(p->req[i] + head_len, body->data, body->len);
    p->req_len[i] = head_len + body->len;
    p->body_bytes_max = SW_MAX(p->body_bytes_max, body->len);
}

static int build(sw_lg_payloads_t *p, const sw_lg_payload_opts_t *o, const sw_idx_set_t *set,
                 char *errbuf, size_t errlen)
{
    size_t px = set->rows * set->cols;
    sw_model_t *m = NULL;
    if (o->check_model) {
        int rc = load_model(o, px, &m, errbuf, errlen);
        if (rc < 0)
            return rc;
        p->output_size = sw_model_output_size(m);
    }
    p->count = (o->images + o->rows - 1) / o->rows;
    p->req = sw_calloc(p->count, sizeof(*p->req));
    p->req_len = sw_calloc(p->count, sizeof(*p->req_len));
    p->labels = sw_malloc(p->count * o->rows);
    p->scratch = sw_malloc(o->rows * p->output_size * sizeof(float));
    if (m)
        p->expected = sw_malloc(p->count * o->rows * p->output_size * sizeof(float));
    float *x = sw_malloc(o->rows * px * sizeof(float));
    sw_srv_kserve_buf_t body;
    sw_srv_kserve_buf_init(&body);
    int rc = 0;
    for (size_t i = 0; i < p->count && rc == 0; i++) {
        payload_rows(set, o->images, i * o->rows, o->rows, x, p->labels + i * o->rows);
        encode(p, i, o, x, px, &body);
        if (m)
            rc = sw_model_infer(m, x, o->rows, p->expected + i * o->rows * p->output_size);
    }
    if (rc < 0)
        sw_set_error(errbuf, errlen, "--check-model %s: inference failed: %s", o->check_model,
                     sw_strerror(rc));
    sw_srv_kserve_buf_deinit(&body);
    sw_free(x);
    sw_model_destroy(m);
    return rc;
}

int sw__lg_payloads_build(sw_lg_payloads_t *p, const sw_lg_payload_opts_t *o, char *errbuf,
                          size_t errlen)
{
    memset(p, 0, sizeof(*p));
    p->rows = o->rows;
    p->output_size = o->output_size;
    if (o->images > o->set->n) {
        sw_set_error(errbuf, errlen, "--images %zu: the test split in %s holds %zu images",
                     o->images, o->data_dir, o->set->n);
        return -EINVAL;
    }
    return build(p, o, o->set, errbuf, errlen);
}

void sw__lg_payloads_deinit(sw_lg_payloads_t *p)
{
    for (size_t i = 0; p->req && i < p->count; i++)
        sw_free(p->req[i]);
    sw_free(p->req);
    sw_free(p->req_len);
    sw_free(p->expected);
    sw_free(p->labels);
    sw_free(p->scratch);
    memset(p, 0, sizeof(*p));
}

/* How many of the answer's rows (in p->scratch) rank payload i's labels first. */
static size_t label_hits(const sw_lg_payloads_t *p, size_t i)
{
    size_t hits = 0;
    for (size_t r = 0; r < p->rows; r++) {
        const float *row = p->scratch + r * p->output_size;
        size_t top = 0;
        for (size_t k = 1; k < p->output_size; k++)
            top = row[k] > row[top] ? k : top;
        hits += top == p->labels[i * p->rows + r];
    }
    return hits;
}

bool sw__lg_payloads_check(sw_lg_payloads_t *p, size_t i, const char *body, size_t len,
                           size_t *hits, char *errbuf, size_t errlen)
{
    size_t n = p->rows * p->output_size;
    if (sw_srv_kserve_parse_response(body, len, p->output_size, p->rows, p->scratch, errbuf,
                                     errlen) < 0)
        return false;
    const float *want = p->expected ? p->expected + i * n : NULL;
    for (size_t k = 0; k < n; k++) {
        float v = p->scratch[k];
        if (!isfinite(v)) {
            sw_set_error(errbuf, errlen, "outputs[0].data[%zu]: %g is not finite", k, (double)v);
            return false;
        }
        if (want && fabsf(v - want[k]) > SW_LG_TOLERANCE) {
            sw_set_error(errbuf, errlen,
                         "outputs[0].data[%zu]: %.6g, but the model gives %.6g (tolerance %g)", k,
                         (double)v, (double)want[k], SW_LG_TOLERANCE);
            return false;
        }
    }
    *hits = label_hits(p, i);
    return true;
}
