/* Opening the files a user names, safely. Every file Spillway reads (policy, trace, model,
 * forecaster, run directory, credentials) goes through here, so that a path naming a
 * directory, a device or a FIFO is refused by name instead of blocking, failing with
 * "Input/output error" or being read without end, and so that each kind of file has a
 * size cap that keeps a hostile or mistaken file from exhausting memory.
 *
 * Messages have the form "PATH: what is wrong", ready to print; callers may prefix them. */
#ifndef SW_COMMON_FILE_H
#define SW_COMMON_FILE_H

#include <stddef.h>
#include <stdio.h>

#include "common/common.h"

/* Size caps by kind of file. Each is far above any real file of its kind (the example
 * policy is 20 KB, the default model 1 MB, a 15-day LSTM forecaster 200 KB) and far below
 * what would hurt a machine. */
#define SW_FILE_MAX_CONFIG_BYTES (4u << 20)      /* YAML policy */
#define SW_FILE_MAX_MODEL_BYTES (512u << 20)     /* model.proto file */
#define SW_FILE_MAX_FORECASTER_BYTES (256u << 20) /* forecaster.proto file */
#define SW_FILE_MAX_SUMMARY_BYTES (16u << 20)    /* summary.json, comparison.json */
#define SW_FILE_MAX_CREDENTIALS_BYTES (1u << 20) /* AWS shared credentials file */
#define SW_FILE_MAX_PAYLOAD_BYTES (64u << 20)    /* a request body read from a file */

/* Opens `path` for reading and checks that it is a regular file of at most max_bytes
 * (0: no cap, for streamed files whose length is bounded by other means). Returns the
 * stream, or NULL with errno set and "PATH: reason" in errbuf: ENOENT and other open
 * errors as strerror says them, EISDIR "is a directory", EINVAL "is not a regular file
 * (a device, FIFO or socket)", EFBIG "is N bytes, more than the M allowed for a KIND".
 * `kind` names the file in that last message ("policy file", "model file"). Opening does
 * not block on a FIFO. Any thread. */
FILE *sw_file_open_regular(const char *path, size_t max_bytes, const char *kind, char *errbuf,
                           size_t errlen);

/* Reads the whole of a regular file of at most max_bytes into a new NUL-terminated buffer
 * (free with sw_free). Returns 0 with *data and *len set, or a negative errno with
 * "PATH: reason" in errbuf (the reasons of sw_file_open_regular, and read errors). */
int sw_file_read_all(const char *path, size_t max_bytes, const char *kind, char **data,
                     size_t *len, char *errbuf, size_t errlen) SW_MUST_USE;

#endif
