/* Saved forecasters: a fitted sw_pred_t written to and read from a file, encoded as the
 * protobuf message spillway.ForecasterState (proto/forecaster.proto). predictor/ stays
 * free of protobuf-c: it hands its state out as a sw_pred_blob_t, and this file does the
 * encoding.
 *
 * Errors are returned as a negative code and a one-line message in errbuf that starts
 * with the file's path, e.g. "m.pb: unsupported format version 2 (this build reads 1)".
 * Both functions block on file I/O: call them from the CLI or a refit thread, never from
 * a loop callback. */
#ifndef SW_CLI_PRED_FILE_H
#define SW_CLI_PRED_FILE_H

#include <stddef.h>

#include "predictor/predictor.h"

/* Version written, and the only one read. */
#define SW_PRED_FILE_FORMAT_VERSION 1
/* ForecasterState.kind of every file we write. */
#define SW_PRED_FILE_KIND "spillway.forecaster"

/* Writes p's fitted state (sw_pred_export) to `path`. The bytes go to "<path>.tmp",
 * which is synced and then renamed over `path`, so a crash leaves either the old file or
 * the new one, never half of one. p is borrowed. Returns 0, or a negative errno
 * (-ENOENT for a missing folder, -EACCES, -ENOSPC, ...) with the message in errbuf; on
 * failure the temporary file is removed and `path` is untouched. */
int sw_cli_pred_save(const char *path, const sw_pred_t *p, char *errbuf, size_t errlen) SW_MUST_USE;

/* Reads a forecaster saved by sw_cli_pred_save. On success returns 0 and *out (free with
 * sw_pred_destroy), which forecasts exactly as the saved one did. On failure *out is
 * NULL and the return is -errno when the file cannot be opened or read (-EISDIR for a
 * folder, -EINVAL for a device, FIFO or socket, -EFBIG past SW_FILE_MAX_FORECASTER_BYTES),
 * SW_EPARSE when it is empty or not a spillway forecaster file (including one that would
 * decode to far more memory than its size), SW_EUNSUPPORTED for another format version,
 * or sw_pred_import's -EINVAL (its message after the path) for parameters or state out of
 * range. Every failure is the file's: a caller exits with SW_EXIT_USAGE. */
int sw_cli_pred_load(const char *path, sw_pred_t **out, char *errbuf, size_t errlen) SW_MUST_USE;

#endif
