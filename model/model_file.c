/* The model file (proto/model.proto): reading with every check a hostile or damaged file
 * needs, and writing for the trainer. */
#include "model/model.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/file.h"
#include "model/model_internal.h"
#include "proto/budget.h"
#include "proto/model.pb-c.h"

#define SW__MODEL_KIND "spillway.model"
#define SW__MODEL_FORMAT_VERSION 1

/* Views the message as a description; a layer whose counts do not match its shape gets
 * NULL arrays, which sw__model_check reports. */
static void msg_to_desc(const Spillway__ModelFile *mf, sw_model_desc_t *d, sw_layer_desc_t *ls)
{
    *d = (sw_model_desc_t){.name = mf->name,
                           .version = mf->version,
                           .input_name = mf->input_name,
                           .output_name = mf->output_name,
                           .labels = (const char *const *)mf->labels,
                           .n_labels = mf->n_labels,
                           .layers = ls,
                           .n_layers = mf->n_layers};
    for (size_t i = 0; i < mf->n_layers; i++) {
        const Spillway__Layer *l = mf->layers[i];
        size_t in = l->inputs, out = l->outputs;
        ls[i] = (sw_layer_desc_t){.inputs = in, .outputs = out, .act = (sw_act_t)l->activation};
        ls[i].weights = l->n_weights == in * out ? l->weights : NULL;
        ls[i].bias = l->n_bias == out ? l->bias : NULL;
    }
}

/* A layer whose sizes are plausible but whose arrays are not as long as they say: named
 * with both counts here (sw__model_check refuses it too, without them). */
static bool counts_problem(const char *path, const Spillway__ModelFile *mf, char *errbuf,
                           size_t errlen)
{
    for (size_t i = 0; i < mf->n_layers; i++) {
        const Spillway__Layer *l = mf->layers[i];
        size_t want = (size_t)l->inputs * l->outputs;
        if (l->inputs > SW__MODEL_MAX_WIDTH || l->outputs > SW__MODEL_MAX_WIDTH ||
            want > SW__MODEL_MAX_PARAMS)
            return false; /* sw__model_check names the size or the parameter count */
        if (l->n_weights != want || l->n_bias != l->outputs) {
            sw__model_error(errbuf, errlen,
                            "%s: inconsistent shapes: layer %zu (%u -> %u) has "
                            "%zu weights and %zu biases, where its shape needs %zu and %u",
                            path, i, (unsigned)l->inputs, (unsigned)l->outputs, l->n_weights,
                            l->n_bias, want, (unsigned)l->outputs);
            return true;
        }
    }
    return false;
}

static int from_msg(const char *path, const Spillway__ModelFile *mf, unsigned max_batch,
                    sw_model_t **out, char *errbuf, size_t errlen)
{
    if (strcmp(mf->kind, SW__MODEL_KIND) != 0) {
        sw__model_error(errbuf, errlen, "%s: not a spillway model file (kind '%.40s')", path,
                        mf->kind);
        return SW_EPARSE;
    }
    if (mf->format_version != SW__MODEL_FORMAT_VERSION) {
        sw__model_error(errbuf, errlen,
                        "%s: unsupported model format_version %u (this build "
                        "reads %d)",
                        path, (unsigned)mf->format_version, SW__MODEL_FORMAT_VERSION);
        return SW_EUNSUPPORTED;
    }
    if (mf->n_layers == 0 || mf->n_layers > SW__MODEL_MAX_LAYERS) {
        sw__model_error(errbuf, errlen, "%s: inconsistent shapes: %zu layers", path, mf->n_layers);
        return SW_EPARSE;
    }
    if (counts_problem(path, mf, errbuf, errlen))
        return SW_EPARSE;
    sw_layer_desc_t ls[SW__MODEL_MAX_LAYERS];
    sw_model_desc_t d;
    msg_to_desc(mf, &d, ls);
    return sw_model_create(&d, max_batch, path, out, errbuf, errlen);
}

int sw_model_load(const char *path, unsigned max_batch, sw_model_t **out, char *errbuf,
                  size_t errlen)
{
    *out = NULL;
    char *data = NULL;
    size_t len = 0;
    int rc =
        sw_file_read_all(path, SW_FILE_MAX_MODEL_BYTES, "model file", &data, &len, errbuf, errlen);
    if (rc < 0)
        return rc;
    if (len == 0) {
        sw__model_error(errbuf, errlen, "%s: empty file, not a spillway model file", path);
        sw_free(data);
        return SW_EPARSE;
    }
    /* Within a budget (proto/budget.h): a file of empty Layer submessages would otherwise
     * decode to tens of times its size before its layer count could be checked. */
    sw_pb_budget_t budget;
    sw_pb_budget_init(&budget, sw_pb_budget_for(len));
    Spillway__ModelFile *mf =
        spillway__model_file__unpack(&budget.allocator, len, (const uint8_t *)data);
    sw_free(data);
    if (!mf && sw_pb_budget_exhausted(&budget)) {
        sw__model_error(errbuf, errlen,
                        "%s: not a spillway model file (its %zu bytes decode to "
                        "more than %zu bytes of messages; a model decodes to about its own "
                        "size)",
                        path, len, sw_pb_budget_for(len));
        return SW_EPARSE;
    }
    if (!mf) {
        sw__model_error(errbuf, errlen,
                        "%s: truncated or not a spillway model file (does not "
                        "decode)",
                        path);
        return SW_EPARSE;
    }
    rc = from_msg(path, mf, max_batch, out, errbuf, errlen);
    spillway__model_file__free_unpacked(mf, &budget.allocator);
    return rc;
}

static int write_file(const char *path, const uint8_t *buf, size_t len, char *errbuf, size_t errlen)
{
    size_t tlen = strlen(path) + 8;
    char *tmp = sw_malloc(tlen);
    snprintf(tmp, tlen, "%s.tmp", path);
    int rc = 0;
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        rc = -errno;
        sw__model_error(errbuf, errlen, "%s: cannot create: %s", tmp, strerror(-rc));
        goto out;
    }
    errno = 0;
    bool ok = fwrite(buf, 1, len, f) == len;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        rc = errno ? -errno : -EIO;
        sw__model_error(errbuf, errlen, "%s: cannot write: %s", path, strerror(-rc));
        unlink(tmp);
    }
out:
    sw_free(tmp);
    return rc;
}

int sw_model_save(const char *path, const sw_model_desc_t *d, char *errbuf, size_t errlen)
{
    int rc = sw__model_check(d, path, errbuf, errlen);
    if (rc < 0)
        return rc;
    Spillway__ModelFile mf = SPILLWAY__MODEL_FILE__INIT;
    Spillway__Layer ls[SW__MODEL_MAX_LAYERS];
    Spillway__Layer *lp[SW__MODEL_MAX_LAYERS];
    /* protobuf-c's message structs are not const-correct; packing only reads them. */
    mf.kind = (char *)SW__MODEL_KIND;
    mf.format_version = SW__MODEL_FORMAT_VERSION;
    mf.name = (char *)(d->name ? d->name : "");
    mf.version = d->version;
    mf.input_name = (char *)(d->input_name ? d->input_name : "");
    mf.output_name = (char *)(d->output_name ? d->output_name : "");
    mf.n_labels = d->n_labels;
    mf.labels = (char **)d->labels;
    mf.n_layers = d->n_layers;
    mf.layers = lp;
    for (size_t i = 0; i < d->n_layers; i++) {
        const sw_layer_desc_t *s = &d->layers[i];
        spillway__layer__init(&ls[i]);
        ls[i].inputs = (uint32_t)s->inputs;
        ls[i].outputs = (uint32_t)s->outputs;
        ls[i].n_weights = s->inputs * s->outputs;
        ls[i].weights = (float *)s->weights;
        ls[i].n_bias = s->outputs;
        ls[i].bias = (float *)s->bias;
        ls[i].activation = (Spillway__Activation)s->act;
        lp[i] = &ls[i];
    }
    size_t len = spillway__model_file__get_packed_size(&mf);
    uint8_t *buf = sw_malloc(len ? len : 1);
    spillway__model_file__pack(&mf, buf);
    rc = write_file(path, buf, len, errbuf, errlen);
    sw_free(buf);
    return rc;
}
