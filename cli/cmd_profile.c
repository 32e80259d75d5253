/* `spillway profile`: measure T_b, the time to serve a batch of b requests, on this
 * machine for b = 1..max, and write it in exactly the shape of an instance_types[] entry's
 * batch latency profile, so a measured profile drops into simulate and serve unchanged.
 * MArk profiled T_b by hand per instance type; here it is one command on the VM itself. */
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

static void usage(FILE *f)
{
    fprintf(f, "usage: spillway profile --model FILE --out FILE [--max-batch N] [--threads N]\n"
               "                        [--repeats N] [--min-ms MS]\n\n"
               "Measures T_b (p50 and p99, ms) for b = 1..max-batch on this machine and writes\n"
               "max_batch and batch_latency_ms (the p50s) as YAML keys of an instance_types[]\n"
               "entry, with the p99s alongside as a comment.\n\n"
               "  --model FILE     model file (spillway model train --out FILE)\n"
               "  --out FILE       where to write the YAML ('-' for stdout)\n"
               "  --max-batch N    largest batch measured (default 64)\n"
               "  --threads N      OpenBLAS threads, as the worker will run (default 1)\n"
               "  --repeats N      at least this many timed runs per batch size (default 200)\n"
               "  --min-ms MS      and at least this long per batch size (default 200)\n\n"
               "Values are rounded up to 0.001 ms, the clock's resolution, so none is 0.\n"
               "Exit status: 0 written, 2 usage error or a bad model file, 1 failure.\n");
}

typedef struct profile_args {
    const char *model, *out;
    unsigned max_batch, threads, repeats;
    double min_ms;
} profile_args_t;

static int parse_args(int argc, char **argv, profile_args_t *a)
{
    static const struct option longopts[] = {
        {"model", required_argument, NULL, 'm'},   {"out", required_argument, NULL, 'o'},
        {"max-batch", required_argument, NULL, 'b'}, {"threads", required_argument, NULL, 't'},
        {"repeats", required_argument, NULL, 'r'}, {"min-ms", required_argument, NULL, 's'},
        {"help", no_argument, NULL, 'h'},          {0},
    };
    *a = (profile_args_t){.max_batch = 64, .threads = 1, .repeats = 200, .min_ms = 200};
    optind = 1;
    int c;
    unsigned long long v = 0;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        bool ok = true;
        switch (c) {
        case 'm': a->model = optarg; break;
        case 'o': a->out = optarg; break;
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
    return 0;
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

/* Times batches of b until both `repeats` runs and `min_ms` have passed; p50/p99 in ms. */
static int time_batch(sw_model_t *m, const float *in, float *out, unsigned b,
                      const profile_args_t *a, double *p50, double *p99)
{
    size_t cap = a->repeats, n = 0;
    double *ms = sw_malloc(cap * sizeof(double)), spent = 0;
    for (int warm = 0; warm < 3; warm++)
        if (sw_model_infer(m, in, b, out) < 0)
            break;
    while (n < a->repeats || spent < a->min_ms) {
        sw_time_t t0 = sw_clock_now();
        int rc = sw_model_infer(m, in, b, out);
        double d = sw_time_to_ms(sw_clock_now() - t0);
        if (rc < 0) {
            sw_free(ms);
            return rc;
        }
        if (n == cap)
            ms = sw_realloc(ms, (cap *= 2) * sizeof(double));
        ms[n++] = d;
        spent += d;
    }
    qsort(ms, n, sizeof(double), cmp_double);
    *p50 = ms[(n - 1) / 2];
    *p99 = ms[(size_t)ceil(0.99 * (double)n) - 1];
    sw_free(ms);
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
            "# Measured by spillway profile on %s: model %s v%u, %u OpenBLAS thread(s).\n"
            "# batch_latency_ms holds the p50 of T_b (made non-decreasing, as the config\n"
            "# requires); the p99s, as measured. Both are rounded up to 0.001 ms: [",
            day, sw_model_name(m), sw_model_version(m), a->threads);
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
    openblas_set_num_threads((int)a.threads);
    size_t in_n = sw_model_input_size(m), out_n = sw_model_output_size(m);
    float *in = sw_malloc(a.max_batch * in_n * sizeof(float));
    float *out = sw_malloc(a.max_batch * out_n * sizeof(float));
    sw_rng_t rng;
    sw_rng_init(&rng, 1);
    for (size_t i = 0; i < a.max_batch * in_n; i++)
        in[i] = (float)sw_rng_uniform(&rng); /* the speed does not depend on the values */
    double *p50 = sw_malloc(a.max_batch * sizeof(double));
    double *p99 = sw_malloc(a.max_batch * sizeof(double));
    for (unsigned b = 1; b <= a.max_batch && rc == 0; b++) {
        rc = time_batch(m, in, out, b, &a, &p50[b - 1], &p99[b - 1]);
        /* A larger batch is never cheaper to serve in the model of the config (T_b must not
         * decrease); timer noise and kernel switches can make it look so by a hair. Rounding
         * up (write_list) keeps the order: it is monotonic. */
        if (b > 1 && p50[b - 1] < p50[b - 2])
            p50[b - 1] = p50[b - 2];
    }
    if (rc < 0)
        fprintf(stderr, "spillway profile: inference failed: %s\n", sw_strerror(rc));
    else
        rc = write_profile(&a, m, p50, p99);
    sw_free(in);
    sw_free(out);
    sw_free(p50);
    sw_free(p99);
    sw_model_destroy(m);
    return rc < 0 ? SW_EXIT_FAILURE : rc;
}
