/* Shared between forecaster implementations inside predictor/ only. */
#ifndef SW_PREDICTOR_PREDICTOR_INTERNAL_H
#define SW_PREDICTOR_PREDICTOR_INTERNAL_H

#include "predictor/predictor.h"

struct sw_pred {
    const sw_pred_ops_t *ops;
    sw_cfg_predictor_t cfg; /* copied; string fields borrowed from the config */
    void *state;            /* the forecaster's own */
};

extern const sw_pred_ops_t sw__pred_recent_max_ops;

#endif
