/* The Lambda client's response parsing, shared inside backends/ with its fuzz target
 * (tests/fuzz/fuzz_lambda_response.c), which must reach it without a network: the
 * response headers it acts on, the service's error body, and the REPORT line of the
 * base64 log tail. Pure functions on caller storage; any thread. */
#ifndef SW_BACKENDS_LAMBDA_CLIENT_INTERNAL_H
#define SW_BACKENDS_LAMBDA_CLIENT_INTERNAL_H
#include <stddef.h>
#include <stdint.h>

#include "backends/lambda_client.h"

/* The headers of one attempt's response that the client acts on; each string is owned
 * (NULL when absent). Zero-initialise; free with sw__be_lambda_hdrs_clear(). */
typedef struct sw__be_lambda_hdrs {
    char *function_error, *log_result, *error_type, *executed_version;
    uint32_t retry_after_s;
} sw__be_lambda_hdrs_t;

/* Frees the strings and zeroes *h. */
void sw__be_lambda_hdrs_clear(sw__be_lambda_hdrs_t *h);
/* libcurl's CURLOPT_HEADERFUNCTION with CURLOPT_HEADERDATA a sw__be_lambda_hdrs_t: takes
 * one header line of size * n bytes (not NUL-terminated, CRLF included) and keeps the
 * value of the headers above. Returns size * n. */
size_t sw__be_lambda_on_header(char *buf, size_t size, size_t n, void *hdrs);
/* The message for a non-2xx answer, "HTTP 404 ResourceNotFoundException [User]: ...", from
 * the X-Amzn-ErrorType header (error_type, may be NULL) and the body (body_len bytes,
 * borrowed, need not be NUL-terminated). Free with sw_free(). */
char *sw__be_lambda_service_error(const char *error_type, const char *body, size_t body_len,
                                  int http_status);
/* Sets r->duration_ms, r->init_ms and r->cold_start from the last REPORT line of the
 * base64 log tail b64 (X-Amz-Log-Result, NUL-terminated); leaves them when there is none. */
void sw__be_lambda_parse_log_tail(const char *b64, sw_be_lambda_result_t *r);

#endif
