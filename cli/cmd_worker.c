/* `spillway worker`: load a model file and serve it to a frontend that this process dials
 * (DESIGN.md: "workers dial in"). The protocol, threads and reconnects live in
 * backends/worker.c; this file parses the command line and plugs in sw_model_infer.
 *
 *   spillway worker --connect HOST:PORT --type NAME --model FILE [--token TOKEN]
 *                   [--threads N] [--id ID] [--max-batch N] [--seed N]
 *
 * The token is a secret: it is read from SW_TOKEN unless --token is given, and never
 * printed. */
#include <cblas.h>
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backends/worker.h"
#include "common/log.h"
#include "common/net.h"
#include "model/model.h"
#include "cli/cli.h"

#define DEFAULT_MAX_BATCH 64

static void usage(FILE *f)
{
    fprintf(f,
            "usage: spillway worker --connect HOST:PORT --type NAME --model FILE\n"
            "                       [--token TOKEN] [--threads N] [--id ID] [--max-batch N]\n"
            "                       [--seed N]\n\n"
            "Dials the frontend's worker port, registers, and runs the batches it is sent\n"
            "on the model until SIGTERM or a Stop from the frontend, when it finishes the\n"
            "batches in hand, sends Drain and exits 0. Reconnects with jittered exponential\n"
            "backoff (100 ms to 5 s) when the frontend goes away; batches in hand then are\n"
            "dropped (the frontend re-routes them).\n\n"
            "  --connect HOST:PORT  the frontend's worker address\n"
            "  --type NAME          instance type, an instance_types[].name of the config\n"
            "  --model FILE         model file to serve\n"
            "  --token TOKEN        registration token the frontend issued (default: the\n"
            "                       SW_TOKEN environment variable, which is better: other\n"
            "                       users can read a command line through ps)\n"
            "  --threads N          BLAS threads for the forward pass (default 1)\n"
            "  --id ID              worker id (default: HOSTNAME-PID)\n"
            "  --max-batch N        largest batch accepted (default %d)\n"
            "  --seed N             backoff jitter seed (default: from the pid)\n"
            "  --max-frame-bytes N  close a connection that sends a larger frame (default\n"
            "                       64 MiB)\n\n"
            "For tests and benchmarks, SW_DEBUG_COMPUTE_DELAY_MS=A[+B] (or\n"
            "--debug-compute-delay-ms) sleeps A ms per batch plus B ms per row after the\n"
            "forward pass: a heavier model that costs this machine no CPU, as a worker on\n"
            "its own VM would not. Workers that serve starts inherit it.\n\n"
            "Exit status: 0 drained, 2 usage error or a bad model file, 1 failure.\n",
            DEFAULT_MAX_BATCH);
}

typedef struct worker_args {
    const char *connect, *type, *model, *id, *token;
    unsigned long long threads, max_batch, seed, max_frame_bytes;
    double delay_ms, delay_per_row_ms;
    bool seed_set;
} worker_args_t;

static int parse_args(int argc, char **argv, worker_args_t *a)
{
    static const struct option opts[] = {{"connect", required_argument, NULL, 'c'},
                                         {"type", required_argument, NULL, 't'},
                                         {"model", required_argument, NULL, 'm'},
                                         {"token", required_argument, NULL, 'T'},
                                         {"threads", required_argument, NULL, 'n'},
                                         {"id", required_argument, NULL, 'i'},
                                         {"max-batch", required_argument, NULL, 'b'},
                                         {"seed", required_argument, NULL, 's'},
                                         {"max-frame-bytes", required_argument, NULL, 'F'},
                                         {"debug-compute-delay-ms", required_argument, NULL, 'D'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    *a = (worker_args_t){.threads = 1, .max_batch = DEFAULT_MAX_BATCH};
    /* The same testing aid for workers that serve starts itself (fault tests slow them
     * down to catch a batch in hand). The option still wins. */
    const char *delay = getenv("SW_DEBUG_COMPUTE_DELAY_MS");
    if (delay && *delay &&
        !sw__cli_parse_delay("worker", "SW_DEBUG_COMPUTE_DELAY_MS", delay, &a->delay_ms, &a->delay_per_row_ms))
        return SW_EXIT_USAGE;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        bool ok = true;
        switch (c) {
        case 'c': a->connect = optarg; break;
        case 't': a->type = optarg; break;
        case 'm': a->model = optarg; break;
        case 'T': a->token = optarg; break;
        case 'i': a->id = optarg; break;
        case 'n': ok = sw__cli_parse_uint("worker", "--threads", optarg, 1, 256, &a->threads); break;
        case 'b': ok = sw__cli_parse_uint("worker", "--max-batch", optarg, 1, 65536, &a->max_batch); break;
        case 's':
            ok = sw__cli_parse_uint("worker", "--seed", optarg, 0, UINT64_MAX, &a->seed);
            a->seed_set = true;
            break;
        case 'F':
            ok = sw__cli_parse_uint("worker", "--max-frame-bytes", optarg, 64, 1ULL << 31, &a->max_frame_bytes);
            break;
        case 'D':
            ok = sw__cli_parse_delay("worker", "--debug-compute-delay-ms", optarg, &a->delay_ms, &a->delay_per_row_ms);
            break;
        case 'h': usage(stdout); return -1;
        default: usage(stderr); return SW_EXIT_USAGE;
        }
        if (!ok)
            return SW_EXIT_USAGE;
    }
    if (optind != argc) {
        fprintf(stderr, "spillway worker: unexpected argument '%s'\n", argv[optind]);
        return SW_EXIT_USAGE;
    }
    if (!a->connect || !a->type || !a->model) {
        fprintf(stderr, "spillway worker: --connect, --type and --model are required\n");
        return SW_EXIT_USAGE;
    }
    if (!a->token)
        a->token = getenv("SW_TOKEN");
    return 0;
}

static int infer_model(void *self, const float *in, size_t n, float *out)
{
    return sw_model_infer(self, in, n, out);
}

int sw_cli_cmd_worker(int argc, char **argv)
{
    worker_args_t a;
    int rc = parse_args(argc, argv, &a);
    if (rc != 0)
        return rc < 0 ? SW_EXIT_OK : rc;
    char host[256];
    uint16_t port;
    if (sw_net_split_host_port(a.connect, host, sizeof(host), &port, false) < 0) {
        fprintf(stderr, "spillway worker: --connect %s: expected HOST:PORT\n", a.connect);
        return SW_EXIT_USAGE;
    }
    char err[1024];
    sw_model_t *m;
    if ((rc = sw_model_load(a.model, (unsigned)a.max_batch, &m, err, sizeof(err))) < 0) {
        fprintf(stderr, "spillway worker: %s\n", err);
        return sw__cli_file_status(rc);
    }
    openblas_set_num_threads((int)a.threads);
    /* A peer that vanishes mid-write must give EPIPE, not kill the process. */
    signal(SIGPIPE, SIG_IGN);
    char id[300];
    if (a.id) {
        snprintf(id, sizeof(id), "%s", a.id);
    } else {
        char hn[256] = "worker";
        gethostname(hn, sizeof(hn) - 1);
        hn[sizeof(hn) - 1] = '\0';
        snprintf(id, sizeof(id), "%s-%ld", hn, (long)getpid());
    }
    sw_be_worker_opts_t o = {
        .host = host,
        .port = port,
        .worker_id = id,
        .instance_type = a.type,
        .token = a.token,
        .model_name = sw_model_name(m),
        .model_version = sw_model_version(m),
        .max_batch = (unsigned)a.max_batch,
        .threads = (unsigned)a.threads,
        .input_size = sw_model_input_size(m),
        .output_size = sw_model_output_size(m),
        .infer = infer_model,
        .infer_self = m,
        .seed = a.seed_set ? a.seed : ((uint64_t)getpid() << 32 ^ (uint64_t)time(NULL)),
        .compute_delay_ms = a.delay_ms,
        .compute_delay_per_row_ms = a.delay_per_row_ms,
        .max_frame_bytes = (size_t)a.max_frame_bytes,
    };
    rc = sw_be_worker_run(&o, err, sizeof(err));
    if (rc < 0)
        fprintf(stderr, "spillway worker: %s\n", err);
    sw_model_destroy(m);
    return rc < 0 ? SW_EXIT_FAILURE : SW_EXIT_OK;
}
