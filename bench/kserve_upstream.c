/* The keep-alive upstream behind nginx in the frontend-against-nginx benchmark (issue 12,
 * section 3): a KServe v2 server that answers each call in process, from inside the
 * HTTP callback, with the model itself, so the path wrk -> nginx -> upstream has the
 * same work at its end as wrk -> serve -> worker, minus the worker protocol.
 *
 * Usage: kserve_upstream --listen HOST:PORT --model FILE
 *        kserve_upstream --write-tiny-model FILE
 * The second form writes the benchmark's model: 3 inputs, 2 hidden units, 2 outputs (the
 * tests' tiny model), small enough that the frontends, not the model, are timed. Prints
 * "listening on HOST:PORT" once ready; stops on SIGTERM or SIGINT. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include <event2/event.h>

#include "model/model.h"
#include "serving/http.h"

static const float w1[] = {1, -1, 0.5f, 0, 2, -1}, b1[] = {0.5f, -1};
static const float w2[] = {2, 0, 1, 1}, b2[] = {0, 0.5f};
static const sw_layer_desc_t layers[] = {
    {.inputs = 3, .outputs = 2, .weights = w1, .bias = b1, .act = SW_ACT_RELU},
    {.inputs = 2, .outputs = 2, .weights = w2, .bias = b2, .act = SW_ACT_SOFTMAX}};
static const sw_model_desc_t tiny = {.name = "tiny",
                                     .version = 1,
                                     .input_name = "input",
                                     .output_name = "output",
                                     .layers = layers,
                                     .n_layers = 2};

static sw_model_t *model;

static bool ready(void *self)
{
    (void)self;
    return true;
}

static bool draining(void *self)
{
    (void)self;
    return false;
}

static void infer(void *self, sw_srv_infer_t *inf)
{
    (void)self;
    if (sw_model_infer(model, sw_srv_infer_input(inf), sw_srv_infer_rows(inf),
                       sw_srv_infer_output(inf)) < 0) {
        sw_srv_infer_reply_error(inf, 500, "inference failed", 0);
        return;
    }
    sw_srv_infer_reply_ok(inf);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)sig;
    (void)what;
    event_base_loopbreak(arg);
}

int main(int argc, char **argv)
{
    char err[1024];
    if (argc == 3 && strcmp(argv[1], "--write-tiny-model") == 0) {
        if (sw_model_save(argv[2], &tiny, err, sizeof(err)) < 0) {
            fprintf(stderr, "kserve_upstream: %s\n", err);
            return 1;
        }
        return 0;
    }
    if (argc != 5 || strcmp(argv[1], "--listen") || strcmp(argv[3], "--model")) {
        fprintf(stderr, "usage: kserve_upstream --listen HOST:PORT --model FILE\n"
                        "       kserve_upstream --write-tiny-model FILE\n");
        return 2;
    }
    if (sw_model_load(argv[4], 64, &model, err, sizeof(err)) < 0) {
        fprintf(stderr, "kserve_upstream: %s\n", err);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    struct event_config *ec = event_config_new();
    event_config_set_flag(ec, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
    struct event_base *base = event_base_new_with_config(ec);
    event_config_free(ec);
    sw_srv_http_opts_t o = {.listen = argv[2],
                            .model_name = sw_model_name(model),
                            .model_version = sw_model_version(model),
                            .input_size = sw_model_input_size(model),
                            .output_size = sw_model_output_size(model),
                            .max_batch = 64,
                            .max_connections = 20000};
    sw_srv_http_ops_t ops = {.is_ready = ready, .is_draining = draining, .infer = infer};
    sw_srv_http_t *h;
    if (sw_srv_http_create(base, &o, &ops, &h, err, sizeof(err)) < 0) {
        fprintf(stderr, "kserve_upstream: %s\n", err);
        return 1;
    }
    struct event *term = evsignal_new(base, SIGTERM, on_signal, base);
    struct event *intr = evsignal_new(base, SIGINT, on_signal, base);
    event_add(term, NULL);
    event_add(intr, NULL);
    printf("listening on 127.0.0.1:%d\n", sw_srv_http_port(h));
    fflush(stdout);
    event_base_dispatch(base);
    sw_srv_http_destroy(h);
    event_free(term);
    event_free(intr);
    event_base_free(base);
    sw_model_destroy(model);
    return 0;
}
