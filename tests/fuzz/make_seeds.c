/* Writes the binary seeds of the fuzz corpus (tests/fuzz/corpus/) that cannot be written
 * by hand: model files, saved forecasters and worker-protocol frames, each made by the
 * project's own writers (sw_model_save, sw_cli_pred_save, sw_frame_encode), so the seeds
 * are real files of each format, and the config dictionary. Usage: fuzz_make_seeds
 * CORPUS_DIR DICT_DIR; the text seeds are kept in the repository as they are. Built with the fuzz
 * targets, never run by CI. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/frame.h"
#include "cli/pred_file.h"
#include "config/config.h"
#include "model/model.h"
#include "predictor/predictor.h"
#include "tests/tiny_model.h"

static const char *root;

static void write_file(const char *target, const char *name, const void *data, size_t len)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s/%s", root, target, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        exit(1);
    }
}

/* fuzz_frame_decode takes a first byte of its own: where the stream is split in two. */
static void write_split(const char *name, const void *data, size_t len)
{
    static uint8_t buf[65536 + 1];
    buf[0] = (uint8_t)(len / 2);
    memcpy(buf + 1, data, len);
    write_file("fuzz_frame_decode", name, buf, len + 1);
}

static void models(void)
{
    char path[512], err[512];
    snprintf(path, sizeof(path), "%s/fuzz_model_file/tiny.pb", root);
    if (sw_model_save(path, &tiny, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s\n", err);
        exit(1);
    }
    /* With labels, and three layers, one without activation. */
    static const float w0[] = {1, 0, 0, 1, 0.5f, -0.5f}, b0[] = {0, 0};
    static const float w1[] = {1, -1, 2, 0.25f}, b1[] = {0.5f, 0};
    static const char *const labels[] = {"cat", "dog"};
    sw_layer_desc_t layers[] = {
        {.inputs = 3, .outputs = 2, .weights = w0, .bias = b0, .act = SW_ACT_NONE},
        {.inputs = 2, .outputs = 2, .weights = w1, .bias = b1, .act = SW_ACT_RELU},
        tiny_layers[1]};
    sw_model_desc_t d = tiny;
    d.name = "labelled";
    d.labels = labels;
    d.n_labels = 2;
    d.layers = layers;
    d.n_layers = 3;
    snprintf(path, sizeof(path), "%s/fuzz_model_file/labelled.pb", root);
    if (sw_model_save(path, &d, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s\n", err);
        exit(1);
    }
}

/* Four days per minute with a daily cycle: enough for every forecaster to fit. */
static void forecasters(void)
{
    size_t n = 4 * 1440;
    double *y = malloc(n * sizeof(double));
    for (size_t i = 0; i < n; i++)
        y[i] = round(200 + 120 * sin(2 * M_PI * (double)(i % 1440) / 1440.0) + (double)(i % 7));
    static const char *const names[] = {
        "recent-max", "last", "seasonal-naive", "ewma", "holt-winters", "ar", "lstm"};
    for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
        sw_pred_params_t pp;
        memset(&pp, 0, sizeof(pp));
        snprintf(pp.name, sizeof(pp.name), "%s", names[k]);
        pp.horizon = 5;
        pp.quantile = 0.9;
        pp.interval_s = 60;
        pp.season = 1440;
        pp.holdout_frac = 0.2;
        pp.gaps = (sw_gap_rule_t){.min_run = 20, .min_level = 10, .context = 60};
        pp.seed = 7;
        pp.window = 10;
        pp.headroom = 1.2;
        pp.ar_order = 4;
        pp.lstm_hidden = 2;
        pp.lstm_window = 4;
        pp.lstm_epochs = 1;
        pp.lstm_learning_rate = 0.003;
        pp.lstm_batch = 64;
        pp.calendar = k % 2;
        sw_pred_t *p;
        char err[512], path[512];
        if (sw_pred_create(&p, &pp, err, sizeof(err)) != 0 ||
            sw_pred_fit(p, y, NULL, n, err, sizeof(err)) != 0) {
            fprintf(stderr, "%s: %s\n", names[k], err);
            exit(1);
        }
        for (int i = 0; i < 3; i++)
            sw_pred_observe(p, 0);
        snprintf(path, sizeof(path), "%s/fuzz_pred_file/%s.pb", root, names[k]);
        if (sw_cli_pred_save(path, p, err, sizeof(err)) != 0) {
            fprintf(stderr, "%s\n", err);
            exit(1);
        }
        sw_pred_destroy(p);
    }
    free(y);
}

/* Appends the encoding of f to buf (cap bytes), returning the new length. */
static size_t put_frame(uint8_t *buf, size_t len, size_t cap, const Spillway__Frame *f)
{
    size_t n;
    if (sw_frame_encode(f, buf + len, cap - len, &n) != 0)
        exit(1);
    return len + n;
}

static void frames(void)
{
    static uint8_t buf[65536];
    Spillway__Frame f;

    Spillway__Hello h = SPILLWAY__HELLO__INIT;
    h.worker_id = "w1";
    h.instance_type = "c5.large";
    h.model_name = "tiny";
    h.model_version = 7;
    h.max_batch = 2;
    h.threads = 1;
    h.token = "token";
    sw_frame_init_hello(&f, &h);
    size_t hello_len = put_frame(buf, 0, sizeof(buf), &f);

    /* Frontend to worker: a batch (one good request, one of the wrong size), then Stop. */
    float in0[] = {1, 2, 3}, in1[] = {4};
    Spillway__Request r0 = SPILLWAY__REQUEST__INIT, r1 = SPILLWAY__REQUEST__INIT;
    r0.id = 1, r0.n_input = 3, r0.input = in0;
    r1.id = 2, r1.n_input = 1, r1.input = in1;
    Spillway__Request *reqs[] = {&r0, &r1, &r0};
    Spillway__Batch b = SPILLWAY__BATCH__INIT;
    b.batch_id = 9;
    b.n_requests = 3;
    b.requests = reqs;
    sw_frame_init_batch(&f, &b);
    size_t len = put_frame(buf, 0, sizeof(buf), &f);
    write_file("fuzz_frame_worker", "batch", buf, len);
    write_split("batch", buf, len);
    Spillway__Stop st = SPILLWAY__STOP__INIT;
    st.reason = "scale-in";
    sw_frame_init_stop(&f, &st);
    len = put_frame(buf, len, sizeof(buf), &f);
    write_file("fuzz_frame_worker", "batch-stop", buf, len);
    len = put_frame(buf, 0, sizeof(buf), &f);
    write_file("fuzz_frame_worker", "stop", buf, len);
    write_split("stop", buf, len);

    /* Worker to frontend: Hello, Heartbeat, BatchResult, Drain. */
    sw_frame_init_hello(&f, &h);
    len = put_frame(buf, 0, sizeof(buf), &f);
    write_file("fuzz_frame_listener", "hello", buf, hello_len);
    write_split("hello", buf, hello_len);
    Spillway__Heartbeat hb = SPILLWAY__HEARTBEAT__INIT;
    hb.queue_depth = 1;
    hb.batches_done = 5;
    hb.busy_ms = 12.5;
    sw_frame_init_heartbeat(&f, &hb);
    len = put_frame(buf, len, sizeof(buf), &f);
    float out0[] = {0.25f, 0.75f};
    Spillway__Answer a0 = SPILLWAY__ANSWER__INIT, a1 = SPILLWAY__ANSWER__INIT;
    a0.id = 1, a0.n_output = 2, a0.output = out0;
    a1.id = 2, a1.error = "input has 1 floats, model expects 3";
    Spillway__Answer *ans[] = {&a0, &a1};
    Spillway__BatchResult res = SPILLWAY__BATCH_RESULT__INIT;
    res.batch_id = 9;
    res.n_answers = 2;
    res.answers = ans;
    res.compute_ms = 0.5;
    sw_frame_init_result(&f, &res);
    size_t one = put_frame(buf + len, 0, sizeof(buf) - len, &f);
    write_split("result", buf + len, one);
    len += one;
    Spillway__Drain dr = SPILLWAY__DRAIN__INIT;
    dr.reason = "SIGTERM";
    sw_frame_init_drain(&f, &dr);
    len = put_frame(buf, len, sizeof(buf), &f);
    write_file("fuzz_frame_listener", "session", buf, len);
    write_split("session", buf, len);
    /* A frame the frontend never expects from a worker, after a good Hello. */
    sw_frame_init_batch(&f, &b);
    len = put_frame(buf, hello_len, sizeof(buf), &f);
    write_file("fuzz_frame_listener", "hello-batch", buf, len);
}

/* The YAML dictionary: every key name of the loader's one key table (config/keys.c), and
 * every enum value, so that the fuzzer writes known keys, not only YAML syntax. */
static void config_dict(const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        exit(1);
    }
    fprintf(f, "# Written by fuzz_make_seeds from config/keys.c: key names and enum values,\n"
               "# then YAML syntax.\n");
    for (size_t i = 0; i < sw_cfg_key_count(); i++) {
        const sw_cfg_key_info_t *k = sw_cfg_key_at(i);
        const char *leaf = strrchr(k->path, '.');
        leaf = leaf ? leaf + 1 : k->path;
        size_t n = strcspn(leaf, "[");
        fprintf(f, "\"%.*s:\"\n", (int)n, leaf);
        /* For --set: a concrete index where the table has "[]". */
        fputc('"', f);
        for (const char *c = k->path; *c; c++)
            fputs(c[0] == '[' && c[1] == ']' ? "[0" : (char[2]){*c, 0}, f);
        fputs("=\"\n", f);
        for (const char *const *v = k->names; v && *v; v++)
            fprintf(f, "\"%s\"\n", *v);
    }
    static const char *const syntax[] = {
        "---",  "...",    "- ",     ": ",   "{", "}",    "[", "]",      ", ",   "&a ",
        "*a",   "!!str ", "!!int ", "? ",   "|", ">",    "~", "null",   "true", "false",
        ".inf", ".nan",   "1e308",  "0x10", "'", "\\\"", "#", "\\x0a  "};
    for (size_t i = 0; i < sizeof(syntax) / sizeof(syntax[0]); i++)
        fprintf(f, "\"%s\"\n", syntax[i]);
    fclose(f);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s CORPUS_DIR DICT_DIR\n", argv[0]);
        return 2;
    }
    root = argv[1];
    char dict[512];
    snprintf(dict, sizeof(dict), "%s/config.dict", argv[2]);
    config_dict(dict);
    models();
    forecasters();
    frames();
    return 0;
}
