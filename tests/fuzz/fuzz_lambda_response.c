/* Fuzz target: what the Lambda Invoke client reads from an answer
 * (backends/lambda_client_internal.h): each header line as libcurl hands it over, the
 * error body of a non-2xx answer, and the REPORT line of the base64 X-Amz-Log-Result.
 * The input is an HTTP response head ("HTTP/1.1 429 ..." then header lines), an empty
 * line, then the body. Whatever arrives, the durations handed to the ledger must be
 * numbers a bill can be made of. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/lambda_client_internal.h"
#include "tests/fuzz/fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sw__be_lambda_hdrs_t h = {0};
    int status = 200;
    size_t off = 0;
    bool first = true;
    while (off < size) {
        const uint8_t *nl = memchr(data + off, '\n', size - off);
        size_t len = nl ? (size_t)(nl - (data + off)) + 1 : size - off;
        /* Each line in its own allocation of its exact length, as curl's buffer is not
         * NUL-terminated: ASan then sees any read past it. */
        char *line = sw_fuzz_exact_copy(data + off, len);
        off += len;
        bool blank = len <= 2 && (line[0] == '\n' || line[0] == '\r');
        if (first && len > 9 && memcmp(line, "HTTP/", 5) == 0) {
            char code[4] = {0};
            const char *sp = memchr(line, ' ', len);
            if (sp && (size_t)(sp - line) + 4 <= len)
                memcpy(code, sp + 1, 3);
            status = atoi(code);
        }
        first = false;
        if (sw__be_lambda_on_header(line, 1, len, &h) != len)
            abort();
        sw_free(line);
        if (blank)
            break;
    }
    /* The rest is the body, again in an allocation of its own exact size. */
    size_t body_len = size - off;
    char *body = sw_fuzz_exact_copy(data + off, body_len);
    char *err = sw__be_lambda_service_error(h.error_type, body, body_len, status);
    if (!err || strncmp(err, "HTTP ", 5) != 0)
        abort();
    sw_free(err);
    sw_free(body);
    if (h.log_result) {
        sw_be_lambda_result_t r = {0};
        sw__be_lambda_parse_log_tail(h.log_result, &r);
        if (!isfinite(r.duration_ms) || r.duration_ms < 0 || !isfinite(r.init_ms) ||
            r.init_ms < 0) {
            fprintf(stderr, "log tail gave duration_ms=%g init_ms=%g\n", r.duration_ms, r.init_ms);
            abort();
        }
    }
    sw__be_lambda_hdrs_clear(&h);
    return 0;
}
