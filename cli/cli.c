/* Subcommand dispatch, --help and --version, and the helpers subcommands share. */
#include "cli/cli.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

#include "common/log.h"

typedef struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} command_t;

static const command_t commands[] = {
    {"serve", sw_cli_cmd_serve,
     "the live frontend: KServe v2 over VM workers and functions, driven by the policy"},
    {"simulate", sw_cli_cmd_simulate,
     "replay a trace through a policy; report cost and SLO attainment"},
    {"loadgen", sw_cli_cmd_loadgen,
     "replay a trace against a KServe v2 server, open loop; measure and check its answers"},
    {"compare", sw_cli_cmd_compare, "run policies or --set sweeps in parallel; tabulate them"},
    {"tune", sw_cli_cmd_tune,
     "search policy keys on a trace's training part; report the choice on the rest"},
    {"report", sw_cli_cmd_report, "write a self-contained HTML report of a run, simulated or live"},
    {"check-config", sw_cli_cmd_check_config,
     "validate a YAML policy file and print the resolved configuration"},
    {"profile", sw_cli_cmd_profile,
     "measure a model's batch latency profile T_b on this machine, as config YAML"},
    {"predict", sw_cli_cmd_predict,
     "fit and score load forecasters on a trace; save one for a policy to use"},
    {"model", sw_cli_cmd_model, "train, evaluate or sample the demo Fashion-MNIST model"},
    {"worker", sw_cli_cmd_worker, "serve a model file to a frontend that this process dials"},
    {"function", sw_cli_cmd_function,
     "run a model as an AWS Lambda custom runtime (the function's bootstrap)"},
    {"faas-local", sw_cli_cmd_faas_local,
     "a local Lambda-compatible service: Invoke API with SigV4, Runtime API"},
    {"invoke", sw_cli_cmd_invoke,
     "call the configured function (AWS Lambda or faas-local) with the live client"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: spillway [--version] [--help] COMMAND [ARGS]\n\n"
               "Cost-aware, SLO-aware ML inference serving: a VM pool sized ahead by a load\n"
               "predictor, with what it cannot finish in time spilled to serverless functions.\n\n"
               "commands:\n");
    for (size_t i = 0; i < SW_ARRAY_LEN(commands); i++)
        fprintf(f, "  %-14s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\n'spillway COMMAND --help' describes a command's options.\n");
}

int sw_cli_main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return SW_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        return SW_EXIT_OK;
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
        printf("spillway %s\n", SW_VERSION);
        return SW_EXIT_OK;
    }
    for (size_t i = 0; i < SW_ARRAY_LEN(commands); i++)
        if (strcmp(cmd, commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "spillway: unknown command '%s'\n\n", cmd);
    usage(stderr);
    return SW_EXIT_USAGE;
}

int sw__cli_load_config(const char *path, sw_cfg_t **out)
{
    char err[8192];
    int rc = path ? sw_cfg_load(path, out, err, sizeof(err))
                  : sw_cfg_load_string("", 0, "(built-in defaults)", out, err, sizeof(err));
    if (rc < 0) {
        fprintf(stderr, "spillway: configuration error:\n%s\n", err);
        return SW_EXIT_USAGE;
    }
    return 0;
}

static const char *option_name(const char *option)
{
    return strncmp(option, "--", 2) == 0 ? option + 2 : option;
}

const char *sw__cli_shorthand_key(const char *option)
{
    static const char *const keys[][2] = {
        {"trace", "trace.path"},
        {"trace-format", "trace.format"},
        {"rate-scale", "trace.rate_scale"},
        {"start", "trace.start_s"},
        {"duration", "trace.duration_s"},
        {"seed", "seed"},
        {"policy", "policy.name"},
        {"slo-ms", "slo.latency_ms"},
        {"slo-target", "slo.target"},
        {"listen", "serve.listen"},
        {"worker-listen", "serve.worker_listen"},
    };
    const char *name = option_name(option);
    for (size_t i = 0; i < SW_ARRAY_LEN(keys); i++)
        if (strcmp(name, keys[i][0]) == 0)
            return keys[i][1];
    return NULL;
}

bool sw__cli_add_override(const char *cmd, sw_cli_override_t *list, size_t cap, size_t *n,
                          const char *option, const char *text)
{
    if (option && !sw__cli_shorthand_key(option))
        abort(); /* a command passed an option that stands for no key: its bug */
    if (*n == cap) {
        fprintf(stderr, "spillway %s: too many options that set config keys (--set, --seed "
                        "and the like): at most %zu; put the rest in the policy file\n",
                cmd, cap);
        return false;
    }
    list[(*n)++] = (sw_cli_override_t){.option = option, .text = text};
    return true;
}

int sw__cli_load_config_sets(const char *path, const sw_cli_override_t *overrides,
                             size_t n_overrides, sw_cfg_t **out)
{
    int rc = sw__cli_load_config(path, out);
    for (size_t i = 0; i < n_overrides && rc == 0; i++)
        rc = sw__cli_apply_override(*out, &overrides[i]);
    if (rc != 0 && *out) {
        sw_cfg_destroy(*out);
        *out = NULL;
    }
    return rc;
}

void sw__cli_print_notes(const sw_cfg_t *cfg)
{
    char notes[4096];
    if (sw_cfg_notes(cfg, notes, sizeof(notes)) > 0)
        fprintf(stderr, "%s\n", notes);
}

int sw__cli_apply_set(sw_cfg_t *cfg, const char *assignment)
{
    const char *eq = strchr(assignment, '=');
    if (!eq || eq == assignment) {
        fprintf(stderr, "spillway: --set %s: expected KEY=VALUE, e.g. slo.latency_ms=100\n",
                assignment);
        return SW_EXIT_USAGE;
    }
    char key[256];
    size_t n = (size_t)(eq - assignment);
    if (n >= sizeof(key)) {
        fprintf(stderr, "spillway: --set: key too long\n");
        return SW_EXIT_USAGE;
    }
    memcpy(key, assignment, n);
    key[n] = '\0';
    char err[4096];
    if (sw_cfg_set(cfg, key, eq + 1, err, sizeof(err)) < 0) {
        fprintf(stderr, "spillway: --set %s: %s\n", assignment, err);
        return SW_EXIT_USAGE;
    }
    return 0;
}

int sw__cli_apply_override(sw_cfg_t *cfg, const sw_cli_override_t *o)
{
    if (!o->option)
        return sw__cli_apply_set(cfg, o->text);
    const char *key = sw__cli_shorthand_key(o->option);
    if (!key)
        abort(); /* sw__cli_add_override lets no such option in */
    char err[4096];
    if (sw_cfg_set(cfg, key, o->text, err, sizeof(err)) < 0) {
        fprintf(stderr, "spillway: --%s %s: %s\n", option_name(o->option), o->text, err);
        return SW_EXIT_USAGE;
    }
    return 0;
}

int sw__cli_file_status(int rc)
{
    return rc == -EIO ? SW_EXIT_FAILURE : SW_EXIT_USAGE;
}

bool sw__cli_set_log_level(const char *cmd, const char *opt, const char *text)
{
    sw_log_level_t lvl;
    if (sw_log_parse_level(text, &lvl) < 0) {
        fprintf(stderr, "spillway %s: %s %s: expected error, warn, info or debug\n", cmd, opt,
                text);
        return false;
    }
    sw_log_set_level(lvl);
    return true;
}

/* It stands in for a heavier model where several workers (or functions) share one small
 * machine (fault tests, the live-against-simulated benchmark): a sleeping worker costs no
 * CPU, as a worker on its own VM would not cost this machine any. */
bool sw__cli_parse_delay(const char *cmd, const char *opt, const char *text, double *per_batch,
                         double *per_row)
{
    char *end;
    errno = 0;
    double a = strtod(text, &end), b = 0;
    bool ok = end != text && errno == 0;
    if (ok && *end == '+') {
        const char *rest = end + 1;
        b = strtod(rest, &end);
        ok = end != rest && errno == 0;
    }
    /* Plain decimals only: strtod would also take hex, exponents and leading blanks. */
    if (!ok || *end || !(a >= 0 && a <= 600000) || !(b >= 0 && b <= 600000) ||
        !isdigit((unsigned char)text[0]) || text[strspn(text, "0123456789.+")] != '\0') {
        fprintf(stderr, "spillway %s: %s %s: expected A or A+B, milliseconds per batch "
                        "and per row, each in [0, 600000]\n", cmd, opt, text);
        return false;
    }
    *per_batch = a;
    *per_row = b;
    return true;
}

bool sw__cli_parse_uint(const char *cmd, const char *opt, const char *text,
                        unsigned long long min, unsigned long long max, unsigned long long *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno || end == text || *end || text[0] == '-' || v < min || v > max) {
        fprintf(stderr, "spillway %s: %s %s: expected a whole number in [%llu, %llu]\n", cmd,
                opt, text, min, max);
        return false;
    }
    *out = v;
    return true;
}

void sw__cli_protect_secrets(void)
{
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0)
        SW_LOG_WARN("cannot mark the process undumpable: %s; a core dump may hold credentials",
                    strerror(errno));
}
