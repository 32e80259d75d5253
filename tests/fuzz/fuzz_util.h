/* Helpers shared by the libFuzzer targets of tests/fuzz. A target hands the fuzzer's bytes
 * to the project's real entry point: parsers that take a path get the bytes as a memfd
 * (a regular file, as common/file.h requires) named by /proc/self/fd/N, so nothing is
 * copied from the parser and nothing touches the disk. */
#ifndef SW_TESTS_FUZZ_UTIL_H
#define SW_TESTS_FUZZ_UTIL_H
#include <stddef.h>
#include <stdint.h>

#include "common/common.h"

/* The libFuzzer entry point every target defines. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* Defined here for every target: logs errors only (DEBUG when SW_FUZZ_LOG is set), so
 * that a million rejected inputs do not each print a warning; ignores SIGPIPE, as a
 * process serving sockets must; then calls the target's sw_fuzz_setup, if it has one. */
int LLVMFuzzerInitialize(int *argc, char ***argv);
/* A target's one-time set-up (servers, models), run before the first input. Optional. */
void sw_fuzz_setup(void) __attribute__((weak));

/* A file holding exactly data[0..size), open until sw_fuzz_file_close(). */
typedef struct sw_fuzz_file {
    int fd;
    char path[64]; /* "/proc/self/fd/N": what a path-taking parser opens */
} sw_fuzz_file_t;

/* Creates the memfd and writes the bytes. Aborts on failure: that is the harness's bug,
 * not the input's. */
void sw_fuzz_file_open(sw_fuzz_file_t *f, const uint8_t *data, size_t size);
void sw_fuzz_file_close(sw_fuzz_file_t *f);

/* A NUL-terminated copy of data[0..size) (free with sw_free), for entry points that take
 * a C string. */
char *sw_fuzz_strndup(const uint8_t *data, size_t size);
/* A copy of data[0..size) in an allocation of exactly that size (1 byte when empty; free
 * with sw_free), for entry points that take a length: ASan then sees a read past it. */
void *sw_fuzz_exact_copy(const uint8_t *data, size_t size);

/* Runs the trace reader in `format` (an sw_trace_format_t) over the bytes, draining at
 * most a bounded number of arrivals (a valid trace may legitimately ask for billions;
 * the reader's own limits are what the fuzzer checks). Shared by the four trace targets. */
void sw_fuzz_trace(const uint8_t *data, size_t size, int format);

/* Sends data[0..size) on the connected, non-blocking socket fd, shuts down its sending
 * side, and collects what the peer answers into `answer` (borrowed; may be NULL) until
 * the peer closes. The I/O runs as an event on base, so a server on the same base (the
 * HTTP frontend, the worker listener) is served meanwhile; a peer that neither reads nor
 * closes within SW_FUZZ_EXCHANGE_MS is a hang and aborts the process, naming it. */
#define SW_FUZZ_EXCHANGE_MS 10000
struct event_base;
struct evbuffer;
void sw_fuzz_exchange(struct event_base *base, int fd, const uint8_t *data, size_t size,
                      struct evbuffer *answer);

/* A non-blocking TCP connection to 127.0.0.1:port (connect in progress is fine). */
int sw_fuzz_connect(int port);

#endif
