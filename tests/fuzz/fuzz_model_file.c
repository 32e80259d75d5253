/* Fuzz target: the model file loader, sw_model_load (model/model.h), on the bytes as a
 * model file. A model it accepts is also run once on a batch of zeros, which touches
 * every weight it claims to have. */
#include <stdlib.h>

#include "model/model.h"
#include "tests/fuzz/fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sw_fuzz_file_t f;
    sw_fuzz_file_open(&f, data, size);
    sw_model_t *m = NULL;
    char err[512];
    if (sw_model_load(f.path, 2, &m, err, sizeof(err)) == 0) {
        float *in = sw_calloc(2 * sw_model_input_size(m), sizeof(float));
        float *out = sw_malloc(2 * sw_model_output_size(m) * sizeof(float));
        if (sw_model_infer(m, in, 2, out) != 0)
            abort();
        for (size_t i = 0; i < sw_model_output_size(m); i++)
            (void)sw_model_label(m, i);
        sw_free(out);
        sw_free(in);
        sw_model_destroy(m);
    } else if (m != NULL || err[0] == '\0') {
        abort();
    }
    sw_fuzz_file_close(&f);
    return 0;
}
