/* Fuzz target: the forecaster file loader, sw_cli_pred_load (cli/pred_file.h), on the
 * bytes as a saved forecaster. A forecaster it accepts then forecasts, observes a few
 * counts and forecasts again, as the planner uses it, so that state it accepted but
 * cannot use (a ring position past its buffer, a window longer than its history) shows. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli/pred_file.h"
#include "predictor/predictor.h"
#include "tests/fuzz/fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sw_fuzz_file_t f;
    sw_fuzz_file_open(&f, data, size);
    sw_pred_t *p = NULL;
    char err[512];
    if (sw_cli_pred_load(f.path, &p, err, sizeof(err)) == 0) {
        double point[64], upper[64];
        size_t h = SW_MIN(sw_pred_params(p)->horizon, SW_ARRAY_LEN(point));
        sw_forecast_t fc = {.horizon = h, .point = point, .upper = upper};
        sw_pred_forecast(p, &fc);
        for (int i = 0; i < 3; i++)
            sw_pred_observe(p, 10.0 * i);
        sw_pred_forecast(p, &fc);
        sw_pred_destroy(p);
    } else if (p != NULL || err[0] == '\0') {
        abort();
    }
    sw_fuzz_file_close(&f);
    return 0;
}
