/* A corpus of hostile inputs (issue 10), one table row each, run through the real binary:
 * for every kind of file a command reads (traces of each format, model, forecaster, run
 * directory, compare grid, credentials, payload, secret key, IDX data), the empty, the
 * huge, the binary, the non-finite, the negative, 2^32 - 1 and 2^64, NUL bytes, very long
 * lines, folders, /dev/zero and FIFOs. Each must end with its exit status (2 for a usage
 * error or a bad input file, 1 for a malformed trace line found while replaying) and a
 * message naming what is wrong: no crash, no hang (each command runs under timeout(1)),
 * and no unbounded memory (each child runs under a 4 GB cap: an RSS limit under ASan,
 * whose shadow memory rules out an address-space limit, and RLIMIT_AS otherwise). */
#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>

#include "cli/pred_file.h"
#include "common/common.h"
#include "proto/forecaster.pb-c.h"
#include "proto/model.pb-c.h"
#include "tests/cli/cli_helpers.h"

#define MEMORY_CAP_MB 4000
#define DAY0 SW_SOURCE_DIR "/data/traces/twitter-2021-08/twitter_day00_per_second.txt"
#define MINUTES SW_SOURCE_DIR "/data/traces/twitter-2021-08/twitter_per_minute_days00-14.csv"
#define MODEL SW_BINARY_DIR "/fashion-mlp.pb"

/* Every child this process spawns inherits the cap. */
static void cap_memory(void)
{
#if defined(__SANITIZE_ADDRESS__)
    const char *old = getenv("ASAN_OPTIONS");
    char opts[512];
    snprintf(opts, sizeof opts, "%s%shard_rss_limit_mb=%d", old ? old : "", old ? ":" : "",
             MEMORY_CAP_MB);
    setenv("ASAN_OPTIONS", opts, 1);
#else
    /* Lowered only: a shell's ulimit -v may already be tighter, and cannot be raised. */
    struct rlimit rl;
    cr_assert_eq(getrlimit(RLIMIT_AS, &rl), 0);
    rlim_t cap = (rlim_t)MEMORY_CAP_MB << 20;
    if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > cap)
        rl.rlim_cur = rl.rlim_max != RLIM_INFINITY && rl.rlim_max < cap ? rl.rlim_max : cap;
    cr_assert_eq(setrlimit(RLIMIT_AS, &rl), 0, "%s", strerror(errno));
#endif
    /* invoke must find no credentials but those a case names. */
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    unsetenv("AWS_SHARED_CREDENTIALS_FILE");
}

TestSuite(cli_hostile, .init = cap_memory, .timeout = 120);

/* ---- Making the inputs ----------------------------------------------------------------- */

typedef enum { P_TEXT, P_BYTES, P_DIR, P_FIFO, P_DEVZERO, P_MISSING, P_SPARSE, P_GEN } prep_t;

typedef struct hostile {
    const char *label;
    prep_t prep;
    const char *text;              /* P_TEXT; P_BYTES with len */
    size_t len;                    /* P_BYTES: bytes of text; P_SPARSE: the file's size */
    void (*gen)(const char *path); /* P_GEN */
    /* The command; "@" is the input's path, "@OUT" a fresh output folder. */
    const char *argv[20];
    const char *env; /* NAME=@: the variable set to the input's path, or NULL */
    int status;
    const char *msg;
} hostile_t;

static void write_bytes(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "%s: %s", path, strerror(errno));
    cr_assert_eq(fwrite(data, 1, len, f), len);
    cr_assert_eq(fclose(f), 0);
}

/* n bytes of a repeated pattern (a flood of empty submessages, a line with no end). */
static void write_repeated(const char *path, const char *unit, size_t unit_len, size_t n)
{
    char *buf = malloc(n);
    for (size_t i = 0; i < n; i++)
        buf[i] = unit[i % unit_len];
    write_bytes(path, buf, n);
    free(buf);
}

static void gen_layer_flood(const char *path)
{
    write_repeated(path, "\x42", 2, 1 << 20);
}
static void gen_tensor_flood(const char *path)
{
    write_repeated(path, "\x22", 2, 1 << 20);
}
static void gen_long_line(const char *path)
{
    write_repeated(path, "a", 1, 3 << 20);
}

static void gen_random(const char *path)
{
    uint8_t buf[4096];
    uint64_t s = 7;
    for (size_t i = 0; i < sizeof buf; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        buf[i] = (uint8_t)(s >> 56);
    }
    write_bytes(path, buf, sizeof buf);
}

/* A per-second trace whose NUL byte lies past the first 64 KiB that format detection
 * scans, so the word reader meets it (line 46, its word 1). */
static void gen_late_nul(const char *path)
{
    size_t n = 100000;
    char *buf = malloc(n);
    for (size_t i = 0; i < n; i += 2) {
        buf[i] = '1';
        buf[i + 1] = i % 2000 == 1998 ? '\n' : ' ';
    }
    buf[90000] = '\0';
    write_bytes(path, buf, n);
    free(buf);
}

/* The tiny 3-2-2 model as a message, one weight or size spoiled by `how`. */
static void write_model(const char *path, int how)
{
    float w1[6] = {1, -1, 0.5f, 0, 2, -1}, b1[2] = {0.5f, -1}, w2[4] = {2, 0, 1, 1};
    float b2[2] = {0, 0.5f};
    Spillway__Layer l[2], *lp[2] = {&l[0], &l[1]};
    for (int i = 0; i < 2; i++)
        spillway__layer__init(&l[i]);
    l[0] = (Spillway__Layer){l[0].base, 3, 2, 6, w1, 2, b1, SPILLWAY__ACTIVATION__ACTIVATION_RELU};
    l[1] =
        (Spillway__Layer){l[1].base, 2, 2, 4, w2, 2, b2, SPILLWAY__ACTIVATION__ACTIVATION_SOFTMAX};
    if (how == 0)
        w2[3] = NAN;
    else if (how == 1)
        b1[0] = INFINITY;
    else if (how == 2)
        l[0].inputs = 1u << 20, l[0].outputs = 1u << 10, l[1].inputs = 1u << 10;
    else
        l[1].outputs = UINT32_MAX;
    Spillway__ModelFile mf = SPILLWAY__MODEL_FILE__INIT;
    mf.kind = "spillway.model";
    mf.format_version = 1;
    mf.n_layers = 2;
    mf.layers = lp;
    size_t n = spillway__model_file__get_packed_size(&mf);
    uint8_t *buf = malloc(n);
    spillway__model_file__pack(&mf, buf);
    write_bytes(path, buf, n);
    free(buf);
}

static void gen_model_nan(const char *path)
{
    write_model(path, 0);
}
static void gen_model_inf_bias(const char *path)
{
    write_model(path, 1);
}
static void gen_model_billion(const char *path)
{
    write_model(path, 2);
}
static void gen_model_u32max(const char *path)
{
    write_model(path, 3);
}

static void gen_model_truncated(const char *path)
{
    size_t len;
    char *data = cli_slurp(MODEL, &len);
    cr_assert_not_null(data);
    write_bytes(path, data, len / 2);
    free(data);
}

/* A saved "last" forecaster whose tensor `name`[0] is v. */
static void write_forecaster(const char *path, const char *name, double v)
{
    sw_pred_params_t pp = {.name = "last", .horizon = 5, .quantile = 0.9, .interval_s = 60};
    sw_pred_t *p;
    char err[512];
    cr_assert_eq(sw_pred_create(&p, &pp, err, sizeof err), 0, "%s", err);
    cr_assert_eq(sw_cli_pred_save(path, p, err, sizeof err), 0, "%s", err);
    sw_pred_destroy(p);
    size_t n;
    char *data = cli_slurp(path, &n);
    Spillway__ForecasterState *st =
        spillway__forecaster_state__unpack(NULL, n, (const uint8_t *)data);
    free(data);
    cr_assert_not_null(st);
    for (size_t i = 0; i < st->n_tensors; i++)
        if (strcmp(st->tensors[i]->name, name) == 0)
            st->tensors[i]->data[0] = v;
    n = spillway__forecaster_state__get_packed_size(st);
    uint8_t *buf = malloc(n);
    spillway__forecaster_state__pack(st, buf);
    write_bytes(path, buf, n);
    free(buf);
    spillway__forecaster_state__free_unpacked(st, NULL);
}

static void gen_pred_nan(const char *path)
{
    write_forecaster(path, "last", NAN);
}
static void gen_pred_negative_pos(const char *path)
{
    write_forecaster(path, "pos", -1);
}
static void gen_pred_u32max(const char *path)
{
    write_forecaster(path, "hold", 4294967295.0);
}

/* A run directory whose summary.json is `text` and whose timeline is good. */
static void write_run(const char *dir, const char *summary, const char *timeline)
{
    mkdir(dir, 0700);
    char *p = cli_path_in(dir, "summary.json");
    write_bytes(p, summary, strlen(summary));
    free(p);
    p = cli_path_in(dir, "timeline.csv");
    write_bytes(p, timeline, strlen(timeline));
    free(p);
}

#define GOOD_SUMMARY                                                                               \
    "{\"requests\":3,\"served_faas\":1,\"slo_ms\":200,\"slo_target\":0.98,"                        \
    "\"slo_attainment\":1,\"latency_ms\":{\"p50\":1,\"p99\":2,\"p999\":3},"                        \
    "\"cost_usd\":{\"total\":1,\"vm\":1,\"faas\":0,\"per_million_requests\":3},"                   \
    "\"vm\":{\"billed_seconds\":60},\"sim\":{}}"
#define TIMELINE_HEADER                                                                            \
    "time_s,end_s,arrivals,forecast,capacity_rps,running_a,faas_invocations,cold_starts,"          \
    "throttled,latency_p50_ms,latency_p99_ms,cum_cost_usd,cum_vm_usd,cum_faas_usd\n"
#define GOOD_ROW "0,60,3,3,1,1,1,0,0,1,2,1,1,0\n"

static void gen_run_negative(const char *dir)
{
    write_run(dir, "{\"requests\":-3}", TIMELINE_HEADER GOOD_ROW);
}
static void gen_run_2_64(const char *dir)
{
    write_run(dir, "{\"requests\":18446744073709551616}", TIMELINE_HEADER GOOD_ROW);
}
static void gen_run_nan_token(const char *dir)
{
    write_run(dir, "{\"requests\":NaN}", TIMELINE_HEADER GOOD_ROW);
}
static void gen_run_deep(const char *dir)
{
    char *deep = malloc(200001);
    memset(deep, '[', 200000);
    deep[200000] = '\0';
    write_run(dir, deep, TIMELINE_HEADER GOOD_ROW);
    free(deep);
}
static void gen_run_extra_column(const char *dir)
{
    write_run(dir, GOOD_SUMMARY, "x," TIMELINE_HEADER "0," GOOD_ROW);
}
static void gen_run_inf_cost(const char *dir)
{
    write_run(dir, GOOD_SUMMARY, TIMELINE_HEADER "0,60,3,3,1,1,1,0,0,1,2,inf,1,0\n");
}
static void gen_run_u32max_vms(const char *dir)
{
    write_run(dir, GOOD_SUMMARY, TIMELINE_HEADER "0,60,3,3,1,4294967295,1,0,0,1,2,1,1,0\n");
}
static void gen_run_huge_timeline(const char *dir)
{
    write_run(dir, GOOD_SUMMARY, TIMELINE_HEADER);
    char *p = cli_path_in(dir, "timeline.csv");
    cr_assert_eq(truncate(p, (off_t)(513u << 20)), 0);
    free(p);
}
static void gen_run_summary_fifo(const char *dir)
{
    write_run(dir, GOOD_SUMMARY, TIMELINE_HEADER GOOD_ROW);
    char *p = cli_path_in(dir, "summary.json");
    unlink(p);
    cr_assert_eq(mkfifo(p, 0600), 0);
    free(p);
}

/* A Fashion-MNIST folder whose test images promise 784 MB in a few bytes of gzip. */
static void gen_idx_bomb(const char *dir)
{
    mkdir(dir, 0700);
    char *p = cli_path_in(dir, "t10k-images-idx3-ubyte.gz");
    gzFile gz = gzopen(p, "wb");
    const uint8_t hdr[16] = {0, 0, 8, 3, 0, 0x0f, 0x42, 0x40, 0, 0, 0, 28, 0, 0, 0, 28};
    cr_assert_eq(gzwrite(gz, hdr, sizeof hdr), (int)sizeof hdr);
    gzclose(gz);
    free(p);
}
static void gen_idx_fifo(const char *dir)
{
    mkdir(dir, 0700);
    char *p = cli_path_in(dir, "t10k-images-idx3-ubyte.gz");
    cr_assert_eq(mkfifo(p, 0600), 0);
    free(p);
}

/* Removes whatever a case made at path (a file, a FIFO, a run folder). */
static void remove_input(const char *path)
{
    if (unlink(path) == 0 || errno == ENOENT)
        return;
    char *cmd = malloc(strlen(path) + 16);
    sprintf(cmd, "rm -rf '%s'", path);
    cr_assert_eq(system(cmd), 0);
    free(cmd);
}

/* Makes the case's input in dir; returns its path (free it). */
static char *make_input(const hostile_t *h, const char *dir)
{
    if (h->prep == P_DEVZERO)
        return strdup("/dev/zero");
    char *p = cli_path_in(dir, "input");
    switch (h->prep) {
    case P_TEXT: write_bytes(p, h->text, strlen(h->text)); break;
    case P_BYTES: write_bytes(p, h->text, h->len); break;
    case P_DIR: cr_assert_eq(mkdir(p, 0700), 0); break;
    case P_FIFO: cr_assert_eq(mkfifo(p, 0600), 0); break;
    case P_SPARSE:
        write_bytes(p, "", 0);
        cr_assert_eq(truncate(p, (off_t)h->len), 0);
        break;
    case P_GEN: h->gen(p); break;
    default: break; /* P_MISSING */
    }
    return p;
}

/* ---- Running the corpus ------------------------------------------------------------- */

/* The argument with "@" (the input) or "@OUT" (the output folder) put in: alone, or at the
 * end of KEY=@. Returns a string to free. */
static char *fill(const char *arg, const char *input, const char *out)
{
    if (strcmp(arg, "@OUT") == 0)
        return strdup(out);
    size_t n = strlen(arg);
    if (n == 0 || arg[n - 1] != '@')
        return strdup(arg);
    char *s = malloc(n + strlen(input));
    snprintf(s, n + strlen(input), "%.*s%s", (int)(n - 1), arg, input);
    return s;
}

/* Each command runs under timeout(1): a hang (a FIFO opened for reading blocks until a
 * writer comes) fails its case in seconds, as exit 137, and leaves no process behind. */
#define TIMEOUT "/usr/bin/timeout", "-s", "KILL", "30"
enum { N_TIMEOUT_ARGS = 4 };

static void run_case(const hostile_t *h, const char *dir)
{
    char *input = make_input(h, dir), *out = cli_path_in(dir, "out");
    char *argv[N_TIMEOUT_ARGS + 20];
    const char *timeout[] = {TIMEOUT};
    size_t n = 0;
    for (; n < N_TIMEOUT_ARGS; n++)
        argv[n] = strdup(timeout[n]);
    for (size_t i = 0; h->argv[i]; i++)
        argv[n++] = fill(h->argv[i], input, out);
    argv[n] = NULL;
    char name[64] = "";
    if (h->env) {
        snprintf(name, sizeof name, "%.*s", (int)strcspn(h->env, "="), h->env);
        setenv(name, input, 1);
    }
    char *so, *se;
    int rc = cli_run((const char *const *)argv, &so, &se);
    if (h->env)
        unsetenv(name);
    cr_expect_eq(rc, h->status, "%s: exit %d, want %d; stderr:\n%s", h->label, rc, h->status, se);
    cr_expect(strstr(se, h->msg) || strstr(so, h->msg), "%s: output lacks \"%s\":\n%s%s", h->label,
              h->msg, so, se);
    free(so);
    free(se);
    if (h->prep != P_DEVZERO)
        remove_input(input);
    remove_input(out);
    for (size_t i = 0; i < n; i++)
        free(argv[i]);
    free(input);
    free(out);
}

static void run_corpus(const char *kind, const hostile_t *cases, size_t n)
{
    char *dir = cli_make_dir();
    for (size_t i = 0; i < n; i++)
        run_case(&cases[i], dir);
    cr_log_info("%s: %zu hostile cases", kind, n);
    cli_rm_dir(dir);
}

#define SIM SPILLWAY, "simulate", "--config", EXAMPLE, "--no-progress", "--out", "@OUT"

/* Every trace format, and detection. Malformed lines are runtime failures (1, README);
 * a path that is no regular file, or a window past the end, a usage error (2). */
Test(cli_hostile, traces)
{
    /* One row per case: clang-format would give each field a line of its own. */
    /* clang-format off */
    static const hostile_t cases[] = {
        {"empty", P_TEXT, "", 0, NULL, {SIM, "--trace", "@", NULL}, NULL, 1, "no data"},
        {"blank", P_TEXT, "\n \n\t\n", 0, NULL, {SIM, "--trace", "@", NULL}, NULL, 1, "no data"},
        {"binary", P_BYTES, "1 2\0 3", 6, NULL, {SIM, "--trace", "@", NULL}, NULL, 1,
         "binary data (a NUL byte at offset 3)"},
        {"late NUL", P_GEN, NULL, 0, gen_late_nul, {SIM, "--trace", "@", NULL}, NULL, 1,
         ":46: count 45001 (word 1): \"\\x00"},
        {"random bytes", P_GEN, NULL, 0, gen_random, {SIM, "--trace", "@", NULL}, NULL, 1,
         "binary data"},
        {"3 MiB line", P_GEN, NULL, 0, gen_long_line,
         {SIM, "--trace", "@", "--trace-format", "timestamps", NULL}, NULL, 1,
         "line longer than 1048576 bytes"},
        {"per second 2^32-1", P_TEXT, "1 4294967295\n", 0, NULL, {SIM, "--trace", "@", NULL}, NULL,
         1, ":1: count 4294967295 (word 2) is more than the 10000000 requests a second"},
        {"per second 2^64", P_TEXT, "1 18446744073709551616\n", 0, NULL,
         {SIM, "--trace", "@", NULL}, NULL, 1, "is too large (more than 15 digits)"},
        {"per second 10^12", P_TEXT, "1000000000000\n", 0, NULL, {SIM, "--trace", "@", NULL}, NULL,
         1, ":1: count 1000000000000 (word 1) is more than"},
        {"per second negative", P_TEXT, "1 -2\n", 0, NULL,
         {SIM, "--trace", "@", "--trace-format", "counts-per-second", NULL}, NULL, 1,
         "\"-2\" is not a non-negative integer"},
        {"per second nan", P_TEXT, "1 nan\n", 0, NULL,
         {SIM, "--trace", "@", "--trace-format", "counts-per-second", NULL}, NULL, 1,
         "\"nan\" is not a non-negative integer"},
        {"rate scale past the limit", P_TEXT, "100 200\n", 0, NULL,
         {SIM, "--trace", "@", "--rate-scale", "100000", NULL}, NULL, 1,
         "x rate_scale 100000 is 2e+07 requests in one second"},
        {"per minute 3 columns", P_TEXT, "minute_index,requests\n0,1,2\n", 0, NULL,
         {SIM, "--trace", "@", NULL}, NULL, 1, ":2: the row has more than 2 fields"},
        {"per minute 2^32-1", P_TEXT, "minute_index,requests\n0,4294967295\n", 0, NULL,
         {SIM, "--trace", "@", NULL}, NULL, 1, "is more than the 600000000 requests a minute"},
        {"per minute inf", P_TEXT, "minute_index,requests\n0,inf\n", 0, NULL,
         {SIM, "--trace", "@", NULL}, NULL, 1, "requests: \"inf\" is not a non-negative"},
        {"per minute unclosed quote", P_TEXT, "minute_index,requests\n0,\"5\n", 0, NULL,
         {SIM, "--trace", "@", NULL}, NULL, 1, "malformed quoted field"},
        {"timestamps nan", P_TEXT, "TIMESTAMP\n0\nnan\n", 0, NULL,
         {SIM, "--trace", "@", "--trace-format", "timestamps", NULL}, NULL, 1,
         "\"nan\" is not a finite number of seconds"},
        {"timestamps 1900 to 9999", P_TEXT, "TIMESTAMP\n1900-01-01 00:00:00\n9999-12-31 00:00:00\n",
         0, NULL, {SIM, "--trace", "@", NULL}, NULL, 1, "a trace may span at most 400 days"},
        {"timestamps -1e11 to 1e11 s", P_TEXT, "TIMESTAMP\n-1e11\n1e11\n", 0, NULL,
         {SIM, "--trace", "@", "--trace-format", "timestamps", NULL}, NULL, 1,
         "a trace may span at most 400 days"},
        {"timestamps 2^64 s", P_TEXT, "TIMESTAMP\n0\n18446744073709551616\n", 0, NULL,
         {SIM, "--trace", "@", "--trace-format", "timestamps", NULL}, NULL, 1,
         "is not a finite number of seconds"},
        {"undetectable", P_TEXT, "-5 3\n", 0, NULL, {SIM, "--trace", "@", NULL}, NULL, 1,
         "cannot detect the trace format"},
        {"folder", P_DIR, NULL, 0, NULL, {SIM, "--trace", "@", NULL}, NULL, 2,
         "is a directory, not a trace"},
        {"/dev/zero", P_DEVZERO, NULL, 0, NULL, {SIM, "--trace", "@", NULL}, NULL, 2,
         "is not a regular file"},
        {"FIFO", P_FIFO, NULL, 0, NULL, {SIM, "--trace", "@", NULL}, NULL, 2,
         "is not a regular file"},
        {"missing", P_MISSING, NULL, 0, NULL, {SIM, "--trace", "@", NULL}, NULL, 2,
         "No such file or directory"},
        {"window past the end", P_TEXT, "1 2 3\n", 0, NULL,
         {SIM, "--trace", "@", "--start", "3", NULL}, NULL, 2, "but the trace ends at 3.000 s"},
        {"predict: FIFO", P_FIFO, NULL, 0, NULL,
         {SPILLWAY, "predict", "eval", "--trace", "@", "--model", "last", NULL}, NULL, 2,
         "is not a regular file"},
        {"predict: 1 ms series of the 15-day trace", P_TEXT, "", 0, NULL,
         {SPILLWAY, "predict", "eval", "--trace", MINUTES, "--model", "last", "--interval", "0.001", NULL},
         NULL, 2, "more than 33554432 intervals of 0.001 s"},
    };
    /* clang-format on */
    run_corpus("traces", cases, SW_ARRAY_LEN(cases));
}

#define PROFILE                                                                                    \
    SPILLWAY, "profile", "--out", "@OUT", "--repeats", "1", "--min-ms", "1", "--max-batch", "2",   \
        "--model", "@"
#define EVAL SPILLWAY, "model", "eval", "--model", "@"

/* Model files: profile, model eval and worker read them alike and say 2 alike. */
Test(cli_hostile, model_files)
{
    /* One row per case: clang-format would give each field a line of its own. */
    /* clang-format off */
    static const hostile_t cases[] = {
        {"missing", P_MISSING, NULL, 0, NULL, {PROFILE, NULL}, NULL, 2, "No such file"},
        {"folder", P_DIR, NULL, 0, NULL, {PROFILE, NULL}, NULL, 2,
         "is a directory, not a model file"},
        {"/dev/zero", P_DEVZERO, NULL, 0, NULL, {PROFILE, NULL}, NULL, 2, "not a regular file"},
        {"FIFO", P_FIFO, NULL, 0, NULL, {PROFILE, NULL}, NULL, 2, "not a regular file"},
        {"empty", P_TEXT, "", 0, NULL, {PROFILE, NULL}, NULL, 2, "empty file"},
        {"random bytes", P_GEN, NULL, 0, gen_random, {PROFILE, NULL}, NULL, 2,
         "not a spillway model file"},
        {"truncated", P_GEN, NULL, 0, gen_model_truncated, {PROFILE, NULL}, NULL, 2,
         "truncated or not a spillway model file"},
        {"NaN weight", P_GEN, NULL, 0, gen_model_nan, {PROFILE, NULL}, NULL, 2,
         "layer 1: weight [1, 1] is nan"},
        {"inf bias", P_GEN, NULL, 0, gen_model_inf_bias, {PROFILE, NULL}, NULL, 2,
         "layer 0: bias [0] is inf"},
        {"a billion weights", P_GEN, NULL, 0, gen_model_billion, {PROFILE, NULL}, NULL, 2,
         "1073742848 parameters up to this layer"},
        {"2^32-1 outputs", P_GEN, NULL, 0, gen_model_u32max, {PROFILE, NULL}, NULL, 2,
         "a size is 0 or more than 1048576"},
        {"flood of empty layers", P_GEN, NULL, 0, gen_layer_flood, {PROFILE, NULL}, NULL, 2,
         "decode to more than"},
        {"past the 512 MiB cap", P_SPARSE, NULL, (512u << 20) + 1, NULL, {PROFILE, NULL}, NULL, 2,
         "more than the 536870912 allowed for a model file"},
        {"eval: missing", P_MISSING, NULL, 0, NULL, {EVAL, NULL}, NULL, 2, "No such file"},
        {"eval: NaN weight", P_GEN, NULL, 0, gen_model_nan, {EVAL, NULL}, NULL, 2,
         "non-finite weights cannot be served"},
        {"eval: folder", P_DIR, NULL, 0, NULL, {EVAL, NULL}, NULL, 2, "is a directory"},
        {"worker: NaN weight", P_GEN, NULL, 0, gen_model_nan,
         {SPILLWAY, "worker", "--connect", "127.0.0.1:1", "--type", "t", "--model", "@", NULL},
         NULL, 2, "non-finite weights"},
        {"eval: data folder missing", P_MISSING, NULL, 0, NULL,
         {SPILLWAY, "model", "eval", "--model", MODEL, "--data", "@", NULL}, NULL, 2,
         "No such file or directory"},
        {"eval: IDX header promises 784 MB", P_GEN, NULL, 0, gen_idx_bomb,
         {SPILLWAY, "model", "eval", "--model", MODEL, "--data", "@", NULL}, NULL, 2,
         "truncated: header promises 784000000 data bytes"},
        {"eval: IDX file is a FIFO", P_GEN, NULL, 0, gen_idx_fifo,
         {SPILLWAY, "model", "eval", "--model", MODEL, "--data", "@", NULL}, NULL, 2,
         "is not a regular file"},
    };
    /* clang-format on */
    run_corpus("model files", cases, SW_ARRAY_LEN(cases));
}

#define MARK SIM, "--trace", DAY0, "--duration", "60", "--set", "predictor.name=last", "--set"

/* Saved forecasters, through simulate's predictor.model_path. */
Test(cli_hostile, forecaster_files)
{
    /* One row per case: clang-format would give each field a line of its own. */
    /* clang-format off */
    static const hostile_t cases[] = {
        {"missing", P_MISSING, NULL, 0, NULL, {MARK, "predictor.model_path=@", NULL}, NULL, 2,
         "No such file"},
        {"folder", P_DIR, NULL, 0, NULL, {MARK, "predictor.model_path=@", NULL}, NULL, 2,
         "is a directory, not a forecaster file"},
        {"FIFO", P_FIFO, NULL, 0, NULL, {MARK, "predictor.model_path=@", NULL}, NULL, 2,
         "not a regular file"},
        {"empty", P_TEXT, "", 0, NULL, {MARK, "predictor.model_path=@", NULL}, NULL, 2,
         "empty file"},
        {"random bytes", P_GEN, NULL, 0, gen_random, {MARK, "predictor.model_path=@", NULL}, NULL,
         2, "not a spillway forecaster file"},
        {"NaN state", P_GEN, NULL, 0, gen_pred_nan, {MARK, "predictor.model_path=@", NULL}, NULL, 2,
         "saved last[0] is nan, out of range"},
        {"negative position", P_GEN, NULL, 0, gen_pred_negative_pos,
         {MARK, "predictor.model_path=@", NULL}, NULL, 2, "saved pos[0] is -1, out of range"},
        {"2^32-1 zeros held", P_GEN, NULL, 0, gen_pred_u32max,
         {MARK, "predictor.model_path=@", NULL}, NULL, 2, "saved hold[0] is 4.29497e+09"},
        {"flood of empty tensors", P_GEN, NULL, 0, gen_tensor_flood,
         {MARK, "predictor.model_path=@", NULL}, NULL, 2, "decode to more than"},
        {"past the 256 MiB cap", P_SPARSE, NULL, (256u << 20) + 1, NULL,
         {MARK, "predictor.model_path=@", NULL}, NULL, 2, "allowed for a forecaster file"},
    };
    /* clang-format on */
    run_corpus("forecaster files", cases, SW_ARRAY_LEN(cases));
}

#define REPORT SPILLWAY, "report", "@", "--out", "@OUT"

/* Run directories for report and compare --run; compare's grid. */
Test(cli_hostile, run_directories_and_grids)
{
    /* One row per case: clang-format would give each field a line of its own. */
    /* clang-format off */
    static const hostile_t cases[] = {
        {"missing folder", P_MISSING, NULL, 0, NULL, {REPORT, NULL}, NULL, 2, "No such file"},
        {"a file, not a folder", P_TEXT, "{}", 0, NULL, {REPORT, NULL}, NULL, 2, "Not a directory"},
        {"negative requests", P_GEN, NULL, 0, gen_run_negative, {REPORT, NULL}, NULL, 2,
         "requests: -3 must be a whole number >= 0"},
        {"2^64 requests", P_GEN, NULL, 0, gen_run_2_64, {REPORT, NULL}, NULL, 2, "too big integer"},
        {"NaN token", P_GEN, NULL, 0, gen_run_nan_token, {REPORT, NULL}, NULL, 2, "invalid token"},
        {"nested 200000 deep", P_GEN, NULL, 0, gen_run_deep, {REPORT, NULL}, NULL, 2,
         "maximum parsing depth reached"},
        {"summary is a FIFO", P_GEN, NULL, 0, gen_run_summary_fifo, {REPORT, NULL}, NULL, 2,
         "summary.json: is not a regular file"},
        {"timeline extra column", P_GEN, NULL, 0, gen_run_extra_column, {REPORT, NULL}, NULL, 2,
         ":1: unknown column 'x'"},
        {"timeline inf cost", P_GEN, NULL, 0, gen_run_inf_cost, {REPORT, NULL}, NULL, 2,
         ":2: cum_cost_usd: 'inf' must be a finite number >= 0"},
        {"timeline 2^32-1 VMs", P_GEN, NULL, 0, gen_run_u32max_vms, {REPORT, NULL}, NULL, 0,
         "spillway report: wrote"},
        {"timeline past 512 MiB", P_GEN, NULL, 0, gen_run_huge_timeline, {REPORT, NULL}, NULL, 2,
         "more than the 536870912 allowed for a timeline.csv"},
        {"oracle folder missing", P_MISSING, NULL, 0, NULL,
         {SPILLWAY, "report", SW_SOURCE_DIR, "--oracle", "@", NULL}, NULL, 2, "No such file"},
        {"compare: --run negative requests", P_GEN, NULL, 0, gen_run_negative,
         {SPILLWAY, "compare", "--out", "@OUT", "--run", "@", NULL}, NULL, 2,
         "requests: -3 must be a whole number >= 0"},
        {"compare: --live timeline inf cost", P_GEN, NULL, 0, gen_run_inf_cost,
         {SPILLWAY, "compare", "--out", "@OUT", "--live", "@", NULL}, NULL, 2,
         ":2: cum_cost_usd: 'inf' must be a finite number >= 0"},
        {"compare: --run a file", P_TEXT, "{}", 0, NULL,
         {SPILLWAY, "compare", "--out", "@OUT", "--run", "@", NULL}, NULL, 2, "Not a directory"},
        {"compare: 17 policies", P_MISSING, NULL, 0, NULL,
         {SPILLWAY, "compare", "--out", "@OUT", "--policies", "a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q", NULL},
         NULL, 2, "--policies: more than 16 values"},
        {"compare: --jobs 0", P_MISSING, NULL, 0, NULL,
         {SPILLWAY, "compare", "--out", "@OUT", "--policies", "mark", "--jobs", "0", NULL}, NULL, 2,
         "--jobs 0: expected 1 to 4096"},
        {"compare: --jobs 2^64", P_MISSING, NULL, 0, NULL,
         {SPILLWAY, "compare", "--out", "@OUT", "--policies", "mark", "--jobs", "18446744073709551616", NULL},
         NULL, 2, "expected 1 to 4096"},
        {"compare: empty sweep", P_MISSING, NULL, 0, NULL,
         {SPILLWAY, "compare", "--out", "@OUT", "--policies", "mark", "--set", "seed=", NULL}, NULL,
         2, "--set seed=: an empty value"},
    };
    /* clang-format on */
    run_corpus("run directories and grids", cases, SW_ARRAY_LEN(cases));
}

#define INVOKE SPILLWAY, "invoke", "--set", "faas.invoke.endpoint=http://127.0.0.1:1"

/* Credentials, payloads and faas-local's secret key: refused before any network call. */
Test(cli_hostile, credentials_payloads_and_secrets)
{
    /* One row per case: clang-format would give each field a line of its own. */
    /* clang-format off */
    static const hostile_t cases[] = {
        {"credentials: /dev/zero", P_DEVZERO, NULL, 0, NULL, {INVOKE, NULL},
         "AWS_SHARED_CREDENTIALS_FILE=@", 2, "/dev/zero: is not a regular file"},
        {"credentials: folder", P_DIR, NULL, 0, NULL, {INVOKE, NULL},
         "AWS_SHARED_CREDENTIALS_FILE=@", 2, "is a directory, not a credentials file"},
        {"credentials: FIFO", P_FIFO, NULL, 0, NULL, {INVOKE, NULL},
         "AWS_SHARED_CREDENTIALS_FILE=@", 2, "is not a regular file"},
        {"credentials: missing", P_MISSING, NULL, 0, NULL, {INVOKE, NULL},
         "AWS_SHARED_CREDENTIALS_FILE=@", 2, "No such file or directory"},
        {"credentials: NUL byte", P_BYTES, "[default]\naws_access_key_id=A\0B\n", 31, NULL,
         {INVOKE, NULL}, "AWS_SHARED_CREDENTIALS_FILE=@", 2, ":2: a NUL byte: binary data"},
        {"credentials: past 1 MiB", P_SPARSE, NULL, (1u << 20) + 1, NULL, {INVOKE, NULL},
         "AWS_SHARED_CREDENTIALS_FILE=@", 2, "allowed for a credentials file"},
        {"credentials: 3 MiB line", P_GEN, NULL, 0, gen_long_line, {INVOKE, NULL},
         "AWS_SHARED_CREDENTIALS_FILE=@", 2, "allowed for a credentials file"},
        {"payload: folder", P_DIR, NULL, 0, NULL, {INVOKE, "--payload", "@", NULL}, NULL, 2,
         "is a directory, not a payload file"},
        {"payload: /dev/zero", P_DEVZERO, NULL, 0, NULL, {INVOKE, "--payload", "@", NULL}, NULL, 2,
         "is not a regular file"},
        {"payload: FIFO", P_FIFO, NULL, 0, NULL, {INVOKE, "--payload", "@", NULL}, NULL, 2,
         "is not a regular file"},
        {"payload: missing", P_MISSING, NULL, 0, NULL, {INVOKE, "--payload", "@", NULL}, NULL, 2,
         "No such file or directory"},
        {"payload: past 64 MiB", P_SPARSE, NULL, (64u << 20) + 1, NULL,
         {INVOKE, "--payload", "@", NULL}, NULL, 2, "allowed for a payload file"},
        {"secret: /dev/zero", P_DEVZERO, NULL, 0, NULL,
         {SPILLWAY, "faas-local", "--access-key-id", "A", "--secret-access-key-file", "@", NULL},
         NULL, 2, "/dev/zero: is not a regular file"},
        {"secret: FIFO", P_FIFO, NULL, 0, NULL,
         {SPILLWAY, "faas-local", "--access-key-id", "A", "--secret-access-key-file", "@", NULL},
         NULL, 2, "is not a regular file"},
        {"secret: NUL byte", P_BYTES, "ab\0cd\n", 6, NULL,
         {SPILLWAY, "faas-local", "--access-key-id", "A", "--secret-access-key-file", "@", NULL},
         NULL, 2, "a NUL byte in its first line"},
        {"secret: 3 MiB line", P_GEN, NULL, 0, gen_long_line,
         {SPILLWAY, "faas-local", "--access-key-id", "A", "--secret-access-key-file", "@", NULL},
         NULL, 2, "allowed for a secret key file"},
        {"secret: empty", P_TEXT, "\n", 0, NULL,
         {SPILLWAY, "faas-local", "--access-key-id", "A", "--secret-access-key-file", "@", NULL},
         NULL, 2, ": empty"},
    };
    /* clang-format on */
    run_corpus("credentials, payloads and secrets", cases, SW_ARRAY_LEN(cases));
}
