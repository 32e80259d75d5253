/* The LSTM network behind the "lstm" forecaster: one LSTM layer and a dense head, in
 * float32, with the batched forward/backward pass used for training and the single-window
 * step used for forecasting. Shared by predictor/lstm.c and predictor/lstm_math.c, and
 * included by this module's own tests (tests/predictor/test_lstm.c) for the gradient check;
 * nothing else outside predictor/ may include it. */
#ifndef SW_PREDICTOR_LSTM_INTERNAL_H
#define SW_PREDICTOR_LSTM_INTERNAL_H

#include "predictor/predictor.h"

/* predict() keeps its scratch on the stack, sized by this bound (see lstm_math.c). */
#define SW_LSTM_MAX_HIDDEN 256u
#define SW_LSTM_MAX_INPUTS 8u

/* Parameters, all in one float block `theta` so that clipping and Adam see one vector.
 * Gates are stacked i, f, g, o (input, forget, cell candidate, output): row r of w is
 * gate r / hidden, unit r % hidden, and its columns are the n_in inputs then the hidden
 * state. The head maps the last hidden state to n_out values. */
typedef struct sw_lstm_net {
    unsigned n_in, hidden, n_out;
    size_t n_params;
    float *theta;
    float *w;   /* [4*hidden][n_in + hidden], views into theta ... */
    float *b;   /* [4*hidden] */
    float *wo;  /* [n_out][hidden] */
    float *bo;  /* [n_out] */
    float *w_t; /* w transposed, for sw__lstm_step; refreshed by sw__lstm_net_prepare */
} sw_lstm_net_t;

/* Allocates a zeroed network. Free with sw__lstm_net_deinit(). */
void sw__lstm_net_init(sw_lstm_net_t *net, unsigned n_in, unsigned hidden, unsigned n_out);
void sw__lstm_net_deinit(sw_lstm_net_t *net);
/* Seeded initialisation: weights uniform in +-1/sqrt(hidden), biases 0 except the forget
 * gate's, which start at 1 so that early training does not forget the window. */
void sw__lstm_net_randomize(sw_lstm_net_t *net, uint64_t seed);
/* Refreshes what sw__lstm_step derives from theta; call after theta changes. */
void sw__lstm_net_prepare(sw_lstm_net_t *net);

/* Scratch for one minibatch of up to max_batch windows of `window` steps: the activations
 * the backward pass needs, time-major. Owned by the trainer; free with
 * sw__lstm_batch_deinit(). */
typedef struct sw_lstm_batch {
    unsigned window, max_batch, n_xh, hidden, n_out;
    float *xh;      /* [window][batch][n_in + hidden]: step input and the previous h */
    float *act;     /* [window][batch][4*hidden]: gate activations */
    float *c;       /* [window][batch][hidden]: cell state */
    float *tc;      /* [window][batch][hidden]: tanh of the cell state */
    float *h;       /* [batch][hidden]: last hidden state */
    float *out;     /* [batch][n_out] */
    float *dz;      /* [window][batch][4*hidden]: loss gradient w.r.t. gate pre-activations */
    float *dh, *dc; /* [batch][hidden] */
} sw_lstm_batch_t;

void sw__lstm_batch_init(sw_lstm_batch_t *bt, const sw_lstm_net_t *net, unsigned window,
                         unsigned max_batch);
void sw__lstm_batch_deinit(sw_lstm_batch_t *bt);

/* Loss of `nb` <= max_batch windows: x is time-major [window][nb][n_in], tgt is
 * [nb][n_out], wt holds n_out loss weights. The loss is the weighted squared error
 * sum_b sum_k wt[k] (out[b][k] - tgt[b][k])^2 / (nb * sum_k wt[k]). If grad is not NULL,
 * backpropagation through time writes d loss / d theta into grad[0..n_params).
 * Single-threaded BLAS calls; bt is overwritten. */
double sw__lstm_batch_loss(const sw_lstm_net_t *net, sw_lstm_batch_t *bt, const float *x,
                           const float *tgt, const float *wt, unsigned nb, float *grad);

/* One step for a single window, allocation-free: updates h and c (hidden entries each,
 * zero before the first step) from input x (n_in entries). net->hidden <= SW_LSTM_MAX_HIDDEN,
 * net->n_in <= SW_LSTM_MAX_INPUTS, and sw__lstm_net_prepare has run since theta last changed.
 * Safe to call from several threads on one net. */
void sw__lstm_step(const sw_lstm_net_t *net, const float *x, float *h, float *c);
/* Output k of the dense head for last hidden state h. */
double sw__lstm_head(const sw_lstm_net_t *net, const float *h, unsigned k);

/* Training losses of a fitted "lstm" forecaster, for tests: the loss of the first minibatch
 * before any update, and the mean minibatch loss of the last epoch. Returns 0, or -EINVAL
 * if p is not a fitted lstm. */
int sw__lstm_train_losses(const sw_pred_t *p, double *first, double *last);

#endif
