/* Fuzz target: the KServe v2 request parser, sw_srv_kserve_parse_request
 * (serving/kserve.h), as the HTTP frontend calls it: on a body that is not NUL-terminated
 * (here in an allocation of its exact length, so ASan sees any read past it), with one
 * parsed-request struct reused across calls. The first byte picks the model's shape, so
 * that both the demo model's 784 inputs and small shapes that a short input can fill
 * are explored. */
#include <stdlib.h>
#include <string.h>

#include "serving/kserve.h"
#include "tests/fuzz/fuzz_util.h"

static sw_srv_kserve_req_t req;

void sw_fuzz_setup(void)
{
    sw_srv_kserve_req_init(&req);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    static const size_t input_sizes[] = {1, 2, 3, 784};
    size_t input_size = input_sizes[data[0] & 3];
    unsigned max_batch = 1u + ((data[0] >> 2) & 7);
    size_t len = size - 1;
    char *body = sw_fuzz_exact_copy(data + 1, len);
    char err[512];
    int rc = sw_srv_kserve_parse_request(body, len, input_size, max_batch, &req, err, sizeof(err));
    if (rc == 0) {
        if (req.n < 1 || req.n > max_batch)
            abort();
        volatile float sink = 0;
        for (size_t i = 0; i < req.n * input_size; i++)
            sink += req.data[i];
        (void)sink;
        if (req.id)
            (void)strlen(req.id);
    } else if (req.n != 0 || req.id != NULL || err[0] == '\0') {
        abort(); /* on error: no request, and a message */
    }
    sw_free(body);
    return 0;
}
