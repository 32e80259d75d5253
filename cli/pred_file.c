/* Saving and loading fitted forecasters as spillway.ForecasterState protobuf files. The
 * conversion is mechanical (params field for field, each blob tensor to a Tensor); the
 * care goes into the edges: a save never leaves a half-written file behind, and a load
 * refuses anything that is not our file before trusting a byte of it, naming the file in
 * every message. */
#include "cli/pred_file.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "common/common.h"
#include "common/file.h"
#include "proto/budget.h"
#include "proto/forecaster.pb-c.h"

/* ---- Params <-> message --------------------------------------------------------------- */

/* The message borrows name from params (and gaps from the caller), so it must not
 * outlive either. */
static void params_to_msg(const sw_pred_params_t *pp, Spillway__ForecasterParams *m,
                          Spillway__GapRule *gaps)
{
    spillway__forecaster_params__init(m);
    spillway__gap_rule__init(gaps);
    m->name = (char *)pp->name;
    m->horizon = pp->horizon;
    m->quantile = pp->quantile;
    m->interval_s = pp->interval_s;
    m->season = pp->season;
    m->holdout_frac = pp->holdout_frac;
    m->calendar = pp->calendar;
    gaps->min_run = pp->gaps.min_run;
    gaps->min_level = pp->gaps.min_level;
    gaps->context = pp->gaps.context;
    m->gaps = gaps;
    m->seed = pp->seed;
    m->window = pp->window;
    m->headroom = pp->headroom;
    m->ewma_alpha = pp->ewma_alpha;
    m->ar_order = pp->ar_order;
    m->lstm_hidden = pp->lstm_hidden;
    m->lstm_window = pp->lstm_window;
    m->lstm_epochs = pp->lstm_epochs;
    m->lstm_learning_rate = pp->lstm_learning_rate;
    m->lstm_batch = pp->lstm_batch;
}

/* Returns false if the name does not fit sw_pred_params_t (so no file of ours). */
static bool msg_to_params(const Spillway__ForecasterParams *m, sw_pred_params_t *pp)
{
    memset(pp, 0, sizeof(*pp));
    if (strlen(m->name) >= sizeof(pp->name))
        return false;
    snprintf(pp->name, sizeof(pp->name), "%s", m->name);
    pp->horizon = m->horizon;
    pp->quantile = m->quantile;
    pp->interval_s = m->interval_s;
    pp->season = m->season;
    pp->holdout_frac = m->holdout_frac;
    pp->calendar = m->calendar;
    /* An absent GapRule (proto3: NULL) is all zeros, as its fields would be. */
    if (m->gaps) {
        pp->gaps.min_run = m->gaps->min_run;
        pp->gaps.min_level = m->gaps->min_level;
        pp->gaps.context = m->gaps->context;
    }
    pp->seed = m->seed;
    pp->window = m->window;
    pp->headroom = m->headroom;
    pp->ewma_alpha = m->ewma_alpha;
    pp->ar_order = m->ar_order;
    pp->lstm_hidden = m->lstm_hidden;
    pp->lstm_window = m->lstm_window;
    pp->lstm_epochs = m->lstm_epochs;
    pp->lstm_learning_rate = m->lstm_learning_rate;
    pp->lstm_batch = m->lstm_batch;
    return true;
}

/* ---- Save ----------------------------------------------------------------------------- */

/* Encodes the blob; returns a buffer of *len bytes (sw_free it). The message only
 * borrows the blob's names and data, so nothing is copied before packing. */
static uint8_t *encode(sw_pred_blob_t *blob, size_t *len)
{
    Spillway__ForecasterParams params;
    Spillway__GapRule gaps;
    params_to_msg(&blob->params, &params, &gaps);

    Spillway__Tensor *tensors = sw_calloc(blob->n_tensors + 1, sizeof(*tensors));
    Spillway__Tensor **ptrs = sw_calloc(blob->n_tensors + 1, sizeof(*ptrs));
    for (size_t i = 0; i < blob->n_tensors; i++) {
        spillway__tensor__init(&tensors[i]);
        tensors[i].name = blob->tensors[i].name;
        tensors[i].n_data = blob->tensors[i].n;
        tensors[i].data = blob->tensors[i].data;
        ptrs[i] = &tensors[i];
    }

    Spillway__ForecasterState st;
    spillway__forecaster_state__init(&st);
    st.kind = (char *)SW_PRED_FILE_KIND;
    st.format_version = SW_PRED_FILE_FORMAT_VERSION;
    st.params = &params;
    st.n_tensors = blob->n_tensors;
    st.tensors = ptrs;

    *len = spillway__forecaster_state__get_packed_size(&st);
    uint8_t *buf = sw_malloc(*len);
    size_t packed = spillway__forecaster_state__pack(&st, buf);
    assert(packed == *len);
    (void)packed;
    sw_free(ptrs);
    sw_free(tensors);
    return buf;
}

/* Writes all of buf to fd, retrying short writes and EINTR. Returns 0 or -errno. */
static int write_all(int fd, const uint8_t *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* buf -> tmp, synced, closed. Returns 0, or -errno with *what naming the failed step. */
static int write_tmp(const char *tmp, const uint8_t *buf, size_t len, const char **what)
{
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        *what = "cannot create";
        return -errno;
    }
    int rc = write_all(fd, buf, len);
    *what = "cannot write";
    /* Without the sync, a crash soon after the rename could leave the new name pointing
     * at blocks that never reached the disk: the half file the rename exists to avoid. */
    if (rc == 0 && fsync(fd) != 0)
        rc = -errno;
    if (close(fd) != 0 && rc == 0)
        rc = -errno;
    return rc;
}

int sw_cli_pred_save(const char *path, const sw_pred_t *p, char *errbuf, size_t errlen)
{
    sw_pred_blob_t blob = {0};
    int rc = sw_pred_export(p, &blob);
    if (rc < 0) {
        sw_set_error(errbuf, errlen, "%s: cannot export the %s forecaster: %s", path, sw_pred_name(p),
                  sw_strerror(rc));
        sw_pred_blob_free(&blob);
        return rc;
    }
    size_t len;
    uint8_t *buf = encode(&blob, &len);
    sw_pred_blob_free(&blob);

    size_t plen = strlen(path);
    char *tmp = sw_malloc(plen + sizeof(".tmp"));
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp", sizeof(".tmp"));

    const char *what = NULL;
    rc = write_tmp(tmp, buf, len, &what);
    if (rc == 0 && rename(tmp, path) != 0) {
        rc = -errno;
        what = "cannot rename the temporary file over it";
    }
    if (rc < 0) {
        sw_set_error(errbuf, errlen, "%s: %s (%s): %s", path, what, tmp, strerror(-rc));
        unlink(tmp); /* may not exist (create failed): nothing to undo then */
    }
    sw_free(tmp);
    sw_free(buf);
    return rc;
}

/* ---- Load ----------------------------------------------------------------------------- */

/* Copies the message's params and tensors into blob. Returns false if they do not fit
 * (a name too long for sw_pred_params_t or sw_pred_tensor_t). */
static bool msg_to_blob(const Spillway__ForecasterState *st, sw_pred_blob_t *blob)
{
    memset(blob, 0, sizeof(*blob));
    if (!msg_to_params(st->params, &blob->params))
        return false;
    for (size_t i = 0; i < st->n_tensors; i++) {
        const Spillway__Tensor *t = st->tensors[i];
        if (strlen(t->name) >= sizeof(blob->tensors[0].name))
            return false;
        sw_pred_blob_add(blob, t->name, t->data, t->n_data);
    }
    return true;
}

/* Checks an unpacked message and imports it into *out. Borrows st (the caller unpacked
 * it and frees it). */
static int import_msg(const char *path, const Spillway__ForecasterState *st, sw_pred_t **out,
                      char *errbuf, size_t errlen)
{
    /* Random bytes can parse as a protobuf message of unknown fields, and so can any
     * other protobuf: the kind tells ours apart. */
    if (strcmp(st->kind, SW_PRED_FILE_KIND) != 0) {
        sw_set_error(errbuf, errlen, "%s: not a spillway forecaster file (kind \"%.64s\", not \"%s\")",
                  path, st->kind, SW_PRED_FILE_KIND);
        return SW_EPARSE;
    }
    if (st->format_version != SW_PRED_FILE_FORMAT_VERSION) {
        sw_set_error(errbuf, errlen, "%s: unsupported format version %u (this build reads %d)", path,
                  (unsigned)st->format_version, SW_PRED_FILE_FORMAT_VERSION);
        return SW_EUNSUPPORTED;
    }
    sw_pred_blob_t blob;
    if (!st->params || !msg_to_blob(st, &blob)) {
        sw_set_error(errbuf, errlen, "%s: not a spillway forecaster file (%s)", path,
                  st->params ? "a name is too long" : "no params");
        if (st->params)
            sw_pred_blob_free(&blob);
        return SW_EPARSE;
    }
    char why[256] = "";
    int rc = sw_pred_import(out, &blob, why, sizeof(why));
    sw_pred_blob_free(&blob);
    if (rc < 0) {
        /* The parameters and state came from this file, so the file is what to fix. */
        *out = NULL;
        sw_set_error(errbuf, errlen,
                     "%s: %s (the file is damaged or was not written by this "
                     "spillway: fit it again with spillway predict fit --save)",
                     path, why[0] ? why : sw_strerror(rc));
    }
    return rc;
}

/* Decodes the file's bytes within a budget (proto/budget.h), so that a file of empty
 * submessages cannot make the decoder allocate twenty times its size. */
static Spillway__ForecasterState *decode(const char *path, const uint8_t *data, size_t len,
                                         sw_pb_budget_t *budget, char *errbuf, size_t errlen)
{
    sw_pb_budget_init(budget, sw_pb_budget_for(len));
    Spillway__ForecasterState *st =
        spillway__forecaster_state__unpack(&budget->allocator, len, data);
    if (!st && sw_pb_budget_exhausted(budget))
        sw_set_error(errbuf, errlen,
                     "%s: not a spillway forecaster file (its %zu bytes "
                     "decode to more than %zu bytes of messages; a saved forecaster decodes to "
                     "about its own size)",
                     path, len, sw_pb_budget_for(len));
    else if (!st)
        sw_set_error(errbuf, errlen, "%s: not a spillway forecaster file", path);
    return st;
}

int sw_cli_pred_load(const char *path, sw_pred_t **out, char *errbuf, size_t errlen)
{
    *out = NULL;
    char *data;
    size_t len;
    int rc = sw_file_read_all(path, SW_FILE_MAX_FORECASTER_BYTES, "forecaster file", &data, &len,
                              errbuf, errlen);
    if (rc < 0)
        return rc;
    if (len == 0) {
        sw_set_error(errbuf, errlen, "%s: empty file, not a spillway forecaster file", path);
        sw_free(data);
        return SW_EPARSE;
    }
    sw_pb_budget_t budget;
    Spillway__ForecasterState *st =
        decode(path, (const uint8_t *)data, len, &budget, errbuf, errlen);
    sw_free(data);
    if (!st)
        return SW_EPARSE;
    rc = import_msg(path, st, out, errbuf, errlen);
    spillway__forecaster_state__free_unpacked(st, &budget.allocator);
    return rc;
}
