/* Fuzz target: the KServe v2 response parser, sw_srv_kserve_parse_response
 * (serving/kserve.h), which the live driver runs on what a function answers and the load
 * generator on what the frontend answers. The first byte picks the expected shape. */
#include <stdlib.h>
#include <string.h>

#include "serving/kserve.h"
#include "tests/fuzz/fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    static const size_t output_sizes[] = {1, 2, 3, 10};
    size_t output_size = output_sizes[data[0] & 3];
    size_t n = 1u + ((data[0] >> 2) & 7);
    size_t len = size - 1;
    char *body = sw_fuzz_exact_copy(data + 1, len);
    float *out = sw_malloc(n * output_size * sizeof(float));
    char err[512];
    if (sw_srv_kserve_parse_response(body, len, output_size, n, out, err, sizeof(err)) != 0 &&
        err[0] == '\0')
        abort();
    sw_free(out);
    sw_free(body);
    return 0;
}
