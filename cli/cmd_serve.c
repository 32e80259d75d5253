/* `spillway serve`: the live frontend. This file turns the policy file and the command
 * line into the live driver's options (serving/live.h), starts faas-local when the policy
 * asks for a local one, runs the loop, and maps signals: SIGTERM or SIGINT drains (a
 * second one exits at once), SIGHUP reloads the policy file. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <event2/event.h>

#include "backends/aws_creds.h"
#include "cli/cli.h"
#include "cli/pred_file.h"
#include "cli/serve_internal.h"
#include "common/file.h"
#include "model/model.h"
#include "serving/live.h"

#define SW_LOG_MODULE "serve"
#include "common/log.h"

/* Rows one inference call may carry: the function runtime's default batch, and far more
 * than an online client sends. Each row is one request of the core. */
#define SW_SERVE_MAX_ROWS 64

static void usage(FILE *f)
{
    fprintf(f,
            "usage: spillway serve [--config FILE] [--listen HOST:PORT] [--worker-listen HOST:PORT]\n"
            "                      [--set KEY=VALUE]... [--model FILE] [--out DIR] [--decisions]\n"
            "                      [--log-level LEVEL]\n\n"
            "The live frontend: a KServe v2 REST API whose requests the policy core routes to\n"
            "VM workers it launches and to functions it spills to, as simulate does.\n\n"
            "  --config FILE            YAML policy (default: built-in defaults)\n"
            "  --listen HOST:PORT       HTTP address (serve.listen; port 0 picks one)\n"
            "  --worker-listen HOST:PORT  address workers dial (serve.worker_listen)\n"
            "  --set KEY=VALUE          override any config key\n"
            "  --model FILE             the model (serve.model_path; default fashion-mlp.pb\n"
            "                           beside the spillway binary)\n"
            "  --out DIR                run directory: summary.json, timeline.csv (default\n"
            "                           serve-out)\n"
            "  --decisions              also write DIR/decisions.jsonl\n"
            "  --log-level LEVEL        error, warn, info, debug (default info)\n\n"
            "Prints 'listening on http://HOST:PORT' once ready. SIGTERM or SIGINT drains: new\n"
            "calls get 503, accepted ones are answered, workers stop, the run directory is\n"
            "written; a second signal exits at once. SIGHUP reloads the policy file.\n"
            "Exit status: 0 drained, 2 usage or configuration error, 1 runtime failure.\n");
}

typedef struct serve_args {
    const char *config, *out, *model;
    bool decisions;
    sw_cli_override_t sets[64];
    size_t n_sets;
} serve_args_t;

enum { OPT_LISTEN = 256, OPT_WORKER_LISTEN, OPT_SET, OPT_DECISIONS, OPT_LOG, OPT_MODEL };

static int parse_args(int argc, char **argv, serve_args_t *a)
{
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"out", required_argument, NULL, 'o'},
        {"listen", required_argument, NULL, OPT_LISTEN},
        {"worker-listen", required_argument, NULL, OPT_WORKER_LISTEN},
        {"set", required_argument, NULL, OPT_SET},
        {"model", required_argument, NULL, OPT_MODEL},
        {"decisions", no_argument, NULL, OPT_DECISIONS},
        {"log-level", required_argument, NULL, OPT_LOG},
        {"help", no_argument, NULL, 'h'},
        {0},
    };
    int c, idx = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "c:o:h", longopts, &idx)) != -1) {
        switch (c) {
        case 'c': a->config = optarg; break;
        case 'o': a->out = optarg; break;
        case 'h': usage(stdout); return -1;
        case OPT_SET:
        case OPT_LISTEN:
        case OPT_WORKER_LISTEN:
            /* --set and the shorthands are validated like the file, in their order. */
            if (!sw__cli_add_override("serve", a->sets, SW_ARRAY_LEN(a->sets), &a->n_sets,
                                      c == OPT_SET ? NULL : longopts[idx].name, optarg))
                return SW_EXIT_USAGE;
            break;
        case OPT_MODEL: a->model = optarg; break;
        case OPT_DECISIONS: a->decisions = true; break;
        case OPT_LOG:
            if (!sw__cli_set_log_level("serve", "--log-level", optarg))
                return SW_EXIT_USAGE;
            break;
        default: usage(stderr); return SW_EXIT_USAGE;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "spillway serve: unexpected argument '%s'\n\n", argv[optind]);
        usage(stderr);
        return SW_EXIT_USAGE;
    }
    return 0;
}

/* Loads the policy and applies the overrides: at start, and again on SIGHUP. */
static int load_policy(const serve_args_t *a, sw_cfg_t **out)
{
    return sw__cli_load_config_sets(a->config, a->sets, a->n_sets, out);
}

/* The running binary, which local workers and faas-local's functions run too. */
static int self_exe(char *buf, size_t len)
{
    ssize_t n = readlink("/proc/self/exe", buf, len - 1);
    if (n <= 0 || (size_t)n >= len - 1)
        return -EIO;
    buf[n] = '\0';
    return 0;
}

/* Everything serve sets up before the loop, and tears down after it. */
typedef struct serve {
    serve_args_t args;
    sw_cfg_t *cfg;
    char exe[PATH_MAX], model_path[PATH_MAX], worker_logs[PATH_MAX];
    char model_name[256];
    sw_srv_live_opts_t opts;
    sw_be_provider_opts_t *providers;
    sw_be_aws_creds_t creds;
    sw_be_lambda_opts_t lambda;
    serve_faas_local_t faas_local;
    char *static_token;
    struct event_base *base;
    struct event *sig_term, *sig_int, *sig_hup;
    sw_srv_live_t *live;
    unsigned signals;
} serve_t;

static int resolve_model(serve_t *sv)
{
    const char *path = sv->args.model ? sv->args.model : sv->cfg->serve.model_path;
    if (path) {
        snprintf(sv->model_path, sizeof(sv->model_path), "%s", path);
    } else {
        char dir[PATH_MAX];
        snprintf(dir, sizeof(dir), "%s", sv->exe);
        snprintf(sv->model_path, sizeof(sv->model_path), "%s/fashion-mlp.pb", dirname(dir));
    }
    sw_model_t *m;
    char err[1024];
    int rc = sw_model_load(sv->model_path, SW_SERVE_MAX_ROWS, &m, err, sizeof(err));
    if (rc < 0) {
        fprintf(stderr, "spillway serve: model: %s\n", err);
        return sw__cli_file_status(rc);
    }
    snprintf(sv->model_name, sizeof(sv->model_name), "%s", sw_model_name(m));
    sv->opts.model = (sw_srv_model_info_t){.name = sv->model_name,
                                           .version = sw_model_version(m),
                                           .input_size = sw_model_input_size(m),
                                           .output_size = sw_model_output_size(m),
                                           .max_batch = SW_SERVE_MAX_ROWS};
    sw_model_destroy(m);
    return 0;
}

static void build_providers(serve_t *sv)
{
    const sw_cfg_t *cfg = sv->cfg;
    sv->providers = sw_calloc(cfg->instance_types_count, sizeof(*sv->providers));
    for (unsigned t = 0; t < cfg->instance_types_count; t++) {
        const sw_cfg_instance_type_t *it = &cfg->instance_types[t];
        sv->providers[t] = (sw_be_provider_opts_t){
            .kind = (sw_be_provider_kind_t)it->provider,
            .type_name = it->name,
            .stop_grace_ms = (int64_t)(cfg->serve.stop_grace_s * 1e3),
            .worker_exe = sv->exe,
            .model_path = sv->model_path,
            .threads = it->worker_threads,
            .boot_delay_s = it->boot_delay_s,
            .log_dir = sv->worker_logs[0] ? sv->worker_logs : NULL,
            .launch_cmd = it->launch,
            .terminate_cmd = it->terminate,
            .command_timeout_ms = (int64_t)(it->command_timeout_s * 1e3),
        };
    }
}

/* Functions: AWS (credentials from the environment or the shared file), a faas-local
 * serve starts itself (endpoint "local"), or none when faas is disabled. */
static int setup_functions(serve_t *sv)
{
    const sw_cfg_t *cfg = sv->cfg;
    if (!cfg->faas.enabled)
        return 0;
    sw__cli_protect_secrets(); /* AWS credentials, or faas-local's, from here on */
    char err[1024];
    const char *endpoint = cfg->faas.invoke.endpoint;
    if (endpoint && strcmp(endpoint, "local") == 0) {
        if (sw__serve_faas_local_start(&sv->faas_local, sv->exe, sv->model_path, cfg) < 0)
            return SW_EXIT_FAILURE;
        sv->creds.access_key_id = sw_strdup(sv->faas_local.access_key_id);
        sv->creds.secret_access_key = sw_strdup(sv->faas_local.secret);
        snprintf(sv->creds.source, sizeof(sv->creds.source), "faas-local started by serve");
        endpoint = sv->faas_local.endpoint;
    } else if (sw_be_aws_creds_load(cfg->faas.invoke.credentials_profile, &sv->creds, err,
                                    sizeof(err)) < 0) {
        fprintf(stderr, "spillway serve: faas is enabled but %s\nSet AWS credentials, point "
                        "faas.invoke.endpoint at a faas-local (or 'local'), or set "
                        "faas.enabled: false.\n", err);
        return SW_EXIT_USAGE;
    }
    sw_be_lambda_opts_from_cfg(&cfg->faas.invoke, &sv->creds, &sv->lambda);
    sv->lambda.endpoint = endpoint;
    sv->opts.lambda = &sv->lambda;
    return 0;
}

static int read_static_token(serve_t *sv)
{
    const char *env = getenv("SW_STATIC_TOKEN");
    const char *file = sv->cfg->serve.static_token_file;
    if (env && *env) {
        sv->static_token = sw_strdup(env);
    } else if (file) {
        char err[512];
        size_t len;
        if (sw_file_read_all(file, 4096, "token file", &sv->static_token, &len, err,
                             sizeof(err)) < 0) {
            fprintf(stderr, "spillway serve: serve.static_token_file: %s\n", err);
            return SW_EXIT_USAGE;
        }
        while (len > 0 && (sv->static_token[len - 1] == '\n' || sv->static_token[len - 1] == ' '))
            sv->static_token[--len] = '\0';
        if (len == 0) {
            fprintf(stderr, "spillway serve: serve.static_token_file %s is empty\n", file);
            return SW_EXIT_USAGE;
        }
    }
    sv->opts.static_token = sv->static_token;
    return 0;
}

static int load_forecaster(serve_t *sv)
{
    const sw_cfg_t *cfg = sv->cfg;
    if (cfg->policy.name != SW_POLICY_MARK || !cfg->predictor.model_path)
        return 0;
    char err[4096];
    int rc = sw_cli_pred_load(cfg->predictor.model_path, &sv->opts.predictor, err, sizeof(err));
    if (rc < 0) {
        fprintf(stderr, "spillway serve: predictor.model_path: %s\n", err);
        return sw__cli_file_status(rc);
    }
    return 0;
}

/* Many connections need many descriptors: take the hard limit. */
static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static int prepare(serve_t *sv)
{
    int rc;
    if (sv->cfg->policy.name == SW_POLICY_ORACLE) {
        fprintf(stderr, "spillway serve: policy oracle plans with foresight of the whole trace "
                        "and exists only in simulate; choose mark, reactive, static or "
                        "faas-only\n");
        return SW_EXIT_USAGE;
    }
    if (self_exe(sv->exe, sizeof(sv->exe)) < 0) {
        fprintf(stderr, "spillway serve: cannot find the running binary (/proc/self/exe)\n");
        return SW_EXIT_FAILURE;
    }
    if ((rc = resolve_model(sv)) != 0 || (rc = read_static_token(sv)) != 0 ||
        (rc = load_forecaster(sv)) != 0)
        return rc;
    if (sv->args.out)
        snprintf(sv->worker_logs, sizeof(sv->worker_logs), "%s/workers", sv->args.out);
    build_providers(sv);
    const sw_cfg_serve_t *s = &sv->cfg->serve;
    sv->opts.cfg = sv->cfg;
    sv->opts.listen = s->listen;
    sv->opts.worker_listen = s->worker_listen;
    sv->opts.out_dir = sv->args.out;
    sv->opts.decisions = sv->args.decisions;
    sv->opts.providers = sv->providers;
    sv->opts.request_timeout_ms = (int64_t)s->request_timeout_ms;
    sv->opts.worker_timeout_ms = (int64_t)s->worker_timeout_ms;
    sv->opts.boot_timeout_ms = (int64_t)(s->boot_timeout_s * 1e3);
    sv->opts.drain_timeout_ms = (int64_t)(s->drain_timeout_s * 1e3);
    sv->opts.max_body_bytes = s->max_body_bytes;
    sv->opts.max_connections = s->max_connections;
    sv->opts.client_timeout_ms = (int64_t)(s->client_timeout_s * 1e3);
    sv->opts.max_frame_bytes = s->max_frame_bytes;
    return setup_functions(sv);
}

static void on_stop_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    serve_t *sv = arg;
    if (++sv->signals > 1) {
        SW_LOG_WARN("second %s: exiting at once; calls in flight get 503",
                    sig == SIGINT ? "SIGINT" : "SIGTERM");
        event_base_loopbreak(sv->base);
        return;
    }
    SW_LOG_INFO("%s: draining", sig == SIGINT ? "SIGINT" : "SIGTERM");
    sw_srv_live_drain(sv->live);
}

static void on_hup(evutil_socket_t sig, short what, void *arg)
{
    (void)sig;
    (void)what;
    serve_t *sv = arg;
    sw_cfg_t *cfg;
    SW_LOG_INFO("SIGHUP: reloading %s", sv->args.config ? sv->args.config : "the defaults");
    if (load_policy(&sv->args, &cfg) != 0) {
        SW_LOG_ERROR("reload refused: the policy file is invalid (errors above); the running "
                     "policy stays");
        return;
    }
    char err[2048];
    if (sw_srv_live_reload(sv->live, cfg, err, sizeof(err)) < 0) {
        SW_LOG_ERROR("reload refused: %s; the running policy stays", err);
        sw_cfg_destroy(cfg);
    }
}

static void teardown(serve_t *sv)
{
    sw_srv_live_destroy(sv->live);
    if (sv->sig_term)
        event_free(sv->sig_term);
    if (sv->sig_int)
        event_free(sv->sig_int);
    if (sv->sig_hup)
        event_free(sv->sig_hup);
    if (sv->base)
        event_base_free(sv->base);
    sw__serve_faas_local_stop(&sv->faas_local);
    sw_be_aws_creds_deinit(&sv->creds);
    sw_free(sv->providers);
    if (sv->static_token) {
        memset(sv->static_token, 0, strlen(sv->static_token));
        sw_free(sv->static_token);
    }
    sw_cfg_destroy(sv->cfg);
}

static int run(serve_t *sv)
{
    char err[4096];
    /* One epoll_ctl per change instead of several: evhttp re-arms sockets often.
     * epoll's millisecond timeouts fire up to a millisecond late; the core dispatches a
     * partial batch policy.dispatch_margin_ms before its slack runs out, so a margin of
     * 2 ms or more absorbs that. Below it, precise timers (timerfd) keep dispatches on
     * time, at two timerfd_settime calls per loop iteration: four per call served, a
     * fifth of the frontend's system calls (bench/README.md, the nginx comparison).
     * Chosen at start: a reload that lowers the margin keeps the loop's timers. */
    int flags = EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST;
    if (sv->cfg->policy.dispatch_margin_ms < 2.0)
        flags |= EVENT_BASE_FLAG_PRECISE_TIMER;
    struct event_config *ec = event_config_new();
    event_config_set_flag(ec, flags);
    sv->base = event_base_new_with_config(ec);
    event_config_free(ec);
    if (!sv->base) {
        fprintf(stderr, "spillway serve: cannot create the event loop\n");
        return SW_EXIT_FAILURE;
    }
    sv->sig_term = evsignal_new(sv->base, SIGTERM, on_stop_signal, sv);
    sv->sig_int = evsignal_new(sv->base, SIGINT, on_stop_signal, sv);
    sv->sig_hup = evsignal_new(sv->base, SIGHUP, on_hup, sv);
    event_add(sv->sig_term, NULL);
    event_add(sv->sig_int, NULL);
    event_add(sv->sig_hup, NULL);
    int rc = sw_srv_live_create(sv->base, &sv->opts, &sv->live, err, sizeof(err));
    sv->opts.predictor = NULL; /* the driver owns it now, also on failure */
    if (rc < 0) {
        fprintf(stderr, "spillway serve: %s\n", err);
        return rc == -EINVAL || rc == -EADDRINUSE || rc == -EACCES ? SW_EXIT_USAGE
                                                                    : SW_EXIT_FAILURE;
    }
    printf("spillway serve: listening on http://%s, workers dial %s, policy %s\n",
           sw_srv_live_http_address(sv->live), sw_srv_live_worker_address(sv->live),
           sw_policy_name(sv->cfg->policy.name));
    fflush(stdout);
    event_base_dispatch(sv->base);
    if (!sw_srv_live_is_done(sv->live)) {
        fprintf(stderr, "spillway serve: stopped before the drain completed\n");
        return SW_EXIT_FAILURE;
    }
    return SW_EXIT_OK;
}

int sw_cli_cmd_serve(int argc, char **argv)
{
    serve_t sv = {.args = {.out = "serve-out"}, .faas_local = {.pid = -1, .out_fd = -1}};
    int rc = parse_args(argc, argv, &sv.args);
    if (rc != 0)
        return rc < 0 ? SW_EXIT_OK : rc;
    if ((rc = load_policy(&sv.args, &sv.cfg)) != 0)
        return rc;
    sw__cli_print_notes(sv.cfg);
    signal(SIGPIPE, SIG_IGN);
    raise_fd_limit();
    rc = prepare(&sv);
    if (rc == 0)
        rc = run(&sv);
    sw_pred_destroy(sv.opts.predictor);
    teardown(&sv);
    return rc;
}
