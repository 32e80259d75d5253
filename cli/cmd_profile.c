/* `spillway profile`: measure T_b, the time to serve a batch of b requests, on this
 * machine for b = 1..max, and write it in exactly the shape of an instance_types[] entry's
 * batch latency profile, so a measured profile drops into simulate and serve unchanged.
 * MArk profiled T_b by hand per instance type; here it is one command on the VM itself.
 *
 * By default T_b is the forward pass alone, timed in this process. With --via-worker it is
 * the round trip through a real worker (cli/profile_worker.c), which is what serve's
 * driver times and the policy core plans with when batches go to workers. */
#include <assert.h>
#include <cblas.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/rng.h"
#include "model/model.h"
#include "cli/cli.h"
#include "cli/fashion.h"
#include "cli/profile_internal.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: spillway profile --model FILE --out FILE [--max-batch N] [--threads N]\n"
               "                        [--repeats N] [--min-ms MS] [--via-worker [--data DIR]]\n\n"
               "Measures T_b (p50 and p99, ms) for b = 1..max-batch on this machine and writes\n"
               "max_batch and batch_latency_ms (the p50s) as YAML keys of an instance_types[]\n"
               "entry, with the p99s alongside as a comment.\n\n"
               "  --model FILE     model file (spillway model train --out FILE)\n"
               "  --out FILE       where to write the YAML ('-' for stdout)\n"
               "  --max-batch N    largest batch measured (default 64)\n"
               "  --threads N      OpenBLAS threads, as the worker will run (default 1)\n"
               "  --repeats N      at least this many timed runs per batch size (default 200)\n"
               "  --min-ms MS      and at least this long per batch size (default 200)\n"
               "  --via-worker     time T_b as serve does: the round trip through a `spillway\n"
               "                   worker` started here on 127.0.0.1, from the Batch frame\n"
               "                   written to its BatchResult decoded. Use it for the policy\n"
               "                   serve runs with workers, local or over a network: that\n"
               "                   round trip is what the policy core plans with. Without it,\n"
               "                   T_b is the forward pass alone, in-process: the model's\n"
               "                   cost on this machine, with no protocol in it.\n"
               "  --data DIR       --via-worker sends Fashion-MNIST test images from DIR\n"
               "                   (default: " SW_CLI_FASHION_DIR ")\n\n"
               "Values are rounded up to 0.001 ms, the clock's resolution, so none is 0.\n"
               "Exit status: 0 written, 2 usage error or a bad model or data file, 1 failure.\n");
}

typedef sw__profile_args_t profile_args_t;

static int parse_args(int argc, char **argv, profile_args_t *a)
{
    static const struct option longopts[] = {
        {"model", required_argument, NULL, 'm'},
        {"out", required_argument, NULL, 'o'},
        {"max-batch", required_argument, NULL, 'b'},
        {"threads", required_argument, NULL, 't'},
        {"repeats", required_argument, NULL, 'r'},
        {"min-ms", required_argument, NULL, 's'},
        {"via-worker", no_argument, NULL, 'w'},
        {"data", required_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    *a = (profile_args_t){
        .max_batch = 64, .threads = 1, .repeats = 200, .min_ms = 200, .data = SW_CLI_FASHION_DIR};
    bool data_set = false;
    optind = 1;
    int c;
    unsigned long long v = 0;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        bool ok = true;
        switch (c) {
        case 'm': a->model = optarg; break;
        case 'o': a->out = optarg; break;
        case 'w': a->via_worker = true; break;
        case 'd':
            a->data = optarg;
            data_set = true;
            break;
        case 'b':
            ok = sw__cli_parse_uint("profile", "--max-batch", optarg, 1, 4096, &v);
            a->max_batch = (unsigned)v;
            break;
        case 't':
            ok = sw__cli_parse_uint("profile", "--threads", optarg, 1, 256, &v);
            a->threads = (unsigned)v;
            break;
        case 'r':
            ok = sw__cli_parse_uint("profile", "--repeats", optarg, 1, 1000000, &v);
            a->repeats = (unsigned)v;
            break;
        case 's':
            ok = sw__cli_parse_uint("profile", "--min-ms", optarg, 1, 600000, &v);
            a->min_ms = (double)v;
            break;
        case 'h': usage(stdout); return -1;
        default: usage(stderr); return SW_EXIT_USAGE;
        }
        if (!ok)
            return SW_EXIT_USAGE;
    }
    if (!a->model || !a->out || optind != argc) {
        fprintf(stderr, "spillway profile: --model and --out are required\n\n");
        usage(stderr);
        return SW_EXIT_USAGE;
    }
    if (data_set && !a->via_worker) {
        fprintf(stderr, "spillway profile: --data is read only with --via-worker (the forward "
                        "pass alone runs on any input)\n");
        return SW_EXIT_USAGE;
    }
    return 0;
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

void sw__profile_samples_add(sw__profile_samples_t *s, double ms)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 256;
        s->ms = sw_realloc(s->ms, s->cap * sizeof(double));
    }
    s->ms[s->n++] = ms;
    s->spent_ms += ms;
}

bool sw__profile_samples_enough(const sw__profile_samples_t *s, const sw__profile_args_t *a)
{
    return s->n >= a->repeats && s->spent_ms >= a->min_ms;
}

void sw__profile_samples_take(sw__profile_samples_t *s, double *p50, double *p99)
{
    assert(s->n > 0);
    qsort(s->ms, s->n, sizeof(double), cmp_double);
    *p50 = s->ms[(s->n - 1) / 2];
    if (p99)
        *p99 = s->ms[(size_t)ceil(0.99 * (double)s->n) - 1];
    s->n = 0;
    s->spent_ms = 0;
}

/* Times batches of b until both `repeats` runs and `min_ms` have passed; p50/p99 in ms. */
static int time_batch(sw_model_t *m, const float *in, float *out, unsigned b,
                      const profile_args_t *a, sw__profile_samples_t *s, double *p50, double *p99)
{
    for (int warm = 0; warm < 3; warm++)
        if (sw_model_infer(m, in, b, out) < 0)
            break;
    while (!sw__profile_samples_enough(s, a)) {
        sw_time_t t0 = sw_clock_now();
        int rc = sw_model_infer(m, in, b, out);
        if (rc < 0)
            return rc;
        sw__profile_samples_add(s, sw_time_to_ms(sw_clock_now() - t0));
    }
    sw__profile_samples_take(s, p50, p99);
    return 0;
}

/* The clock reads whole microseconds, so a batch served in less than one reads 0 ms, and a
 * tiny model's profile came out as [0, 0, ...], which check-config refuses: a batch always
 * takes time (T_b > 0). Each value is rounded up to the resolution the clock can tell from
 * nothing, 1 us, and written with exactly that many decimals, so what is read back is what
 * was measured, never 0 and never lower. */
#define RESOLUTION_MS 0.001

static double round_up_ms(double ms)
{
    return SW_MAX(RESOLUTION_MS, ceil(ms / RESOLUTION_MS - 1e-9) * RESOLUTION_MS);
}

static void write_list(FILE *f, const double *v, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        fprintf(f, "%s%.3f", i ? ", " : "", round_up_ms(v[i]));
}

/* What the header comment says a T_b includes, by how it was measured. */
static const char *measured_what(const profile_args_t *a)
{
    return a->via_worker
               ? "# T_b was measured through a `spillway worker` on 127.0.0.1, as serve's driver\n"
                 "# times a batch: from the Batch frame written to its BatchResult decoded,\n"
                 "# so it includes frame encoding, loopback TCP, the worker's event loop and\n"
                 "# compute thread hand-off and decoding, besides the forward pass.\n"
               : "# T_b is the forward pass alone, timed in-process: no protocol, no network.\n";
}

static int write_profile(const profile_args_t *a, const sw_model_t *m, const double *p50,
                         const double *p99)
{
    FILE *f = strcmp(a->out, "-") == 0 ? stdout : fopen(a->out, "w");
    if (!f) {
        fprintf(stderr, "spillway profile: %s: cannot create: %s\n", a->out, strerror(errno));
        return SW_EXIT_FAILURE;
    }
    time_t now = time(NULL);
    char day[32];
    strftime(day, sizeof(day), "%Y-%m-%d", gmtime(&now));
    fprintf(f,
            "# Measured by spillway profile%s on %s: model %s v%u, %u OpenBLAS thread(s).\n"
            "%s"
            "# batch_latency_ms holds the p50 of T_b (made non-decreasing, as the config\n"
            "# requires); the p99s, as measured. Both are rounded up to 0.001 ms: [",
            a->via_worker ? " --via-worker" : "", day, sw_model_name(m), sw_model_version(m),
            a->threads, measured_what(a));
    write_list(f, p99, a->max_batch);
    fprintf(f, "]\nmax_batch: %u\nbatch_latency_ms: [", a->max_batch);
    write_list(f, p50, a->max_batch);
    fprintf(f, "]\n");
    int rc = ferror(f) ? -EIO : 0;
    if (f != stdout && fclose(f) != 0)
        rc = -errno;
    if (rc < 0) {
        fprintf(stderr, "spillway profile: %s: cannot write: %s\n", a->out, sw_strerror(rc));
        return SW_EXIT_FAILURE;
    }
    return 0;
}

/* T_b of the forward pass alone, in this process, on random inputs: the speed of a dense
 * model does not depend on the values. Returns an exit status. */
static int profile_in_process(const profile_args_t *a, sw_model_t *m, double *p50, double *p99)
{
    openblas_set_num_threads((int)a->threads);
    size_t in_n = sw_model_input_size(m), out_n = sw_model_output_size(m);
    float *in = sw_malloc(a->max_batch * in_n * sizeof(float));
    float *out = sw_malloc(a->max_batch * out_n * sizeof(float));
    sw_rng_t rng;
    sw_rng_init(&rng, 1);
    for (size_t i = 0; i < a->max_batch * in_n; i++)
        in[i] = (float)sw_rng_uniform(&rng);
    sw__profile_samples_t s = {0};
    int rc = 0;
    for (unsigned b = 1; b <= a->max_batch && rc == 0; b++)
        rc = time_batch(m, in, out, b, a, &s, &p50[b - 1], &p99[b - 1]);
    if (rc < 0)
        fprintf(stderr, "spillway profile: inference failed: %s\n", sw_strerror(rc));
    sw_free(s.ms);
    sw_free(in);
    sw_free(out);
    return rc < 0 ? SW_EXIT_FAILURE : 0;
}

/* The overhead a user should see: what the worker computes against what the driver waits
 * for, for the smallest and the largest batch. */
static void print_overhead(const profile_args_t *a, const double *compute, const double *p50)
{
    unsigned n = a->max_batch;
    fprintf(stderr,
            "spillway profile: median compute (worker) vs round trip: b=1 %.3f vs %.3f ms, "
            "b=%u %.3f vs %.3f ms\n",
            compute[0], p50[0], n, compute[n - 1], p50[n - 1]);
}

int sw_cli_cmd_profile(int argc, char **argv)
{
    profile_args_t a;
    int rc = parse_args(argc, argv, &a);
    if (rc != 0)
        return rc < 0 ? SW_EXIT_OK : rc;
    char err[1024];
    sw_model_t *m;
    if ((rc = sw_model_load(a.model, a.max_batch, &m, err, sizeof(err))) < 0) {
        fprintf(stderr, "spillway profile: %s\n", err);
        return sw__cli_file_status(rc);
    }
    double *p50 = sw_malloc(a.max_batch * sizeof(double));
    double *p99 = sw_malloc(a.max_batch * sizeof(double));
    double *compute = sw_malloc(a.max_batch * sizeof(double));
    rc = a.via_worker ? sw__profile_via_worker(&a, m, p50, p99, compute)
                      : profile_in_process(&a, m, p50, p99);
    if (rc == 0 && a.via_worker)
        print_overhead(&a, compute, p50);
    /* A larger batch is never cheaper to serve in the model of the config (T_b must not
     * decrease); timer noise and kernel switches can make it look so by a hair. Rounding
     * up (write_list) keeps the order: it is monotonic. */
    for (unsigned b = 2; b <= a.max_batch && rc == 0; b++)
        p50[b - 1] = SW_MAX(p50[b - 1], p50[b - 2]);
    if (rc == 0)
        rc = write_profile(&a, m, p50, p99);
    sw_free(p50);
    sw_free(p99);
    sw_free(compute);
    sw_model_destroy(m);
    return rc;
}
