/* Tests of config/ against hostile or absurd input: too many instance types, nesting ten
 * thousand deep, an alias bomb, files of 100,000 keys (each refused or loaded in time
 * linear in their size), files that are not files, and files over the size cap. Timings
 * are printed; the bounds are loose (sanitizers slow libyaml itself tenfold, and the
 * machine may be busy) but far below what a quadratic loader or an expanding alias would
 * take: 100,000 keys compared pairwise are 5e9 comparisons. Configs at the table's
 * limits are also handed to sw_sched_create, so that check-config and simulate agree on
 * what is valid. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "common/file.h"
#include "common/strbuf.h"
#include "config/config.h"
#include "scheduler/sched.h"

static char err[8192];

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Loads yaml, which must be refused within max_s seconds; returns the message. */
static const char *refused_in(const char *what, const char *yaml, size_t len, double max_s)
{
    sw_cfg_t *cfg = (sw_cfg_t *)1;
    double t0 = now_s();
    int rc = sw_cfg_load_string(yaml, len, "x.yaml", &cfg, err, sizeof err);
    double dt = now_s() - t0;
    printf("config_hostile: %s (%zu bytes): refused in %.3f s\n", what, len, dt);
    cr_assert_eq(rc, SW_ECONFIG, "%s: expected SW_ECONFIG, got %d", what, rc);
    cr_assert_null(cfg);
    cr_assert_lt(dt, max_s, "%s took %.3f s", what, dt);
    return err;
}

/* n instance types, all valid, names t0, t1, ... */
static char *types_yaml(unsigned n)
{
    sw_strbuf_t b = {0};
    sw_strbuf_puts(&b, "instance_types:\n");
    for (unsigned i = 0; i < n; i++)
        sw_strbuf_printf(&b,
                         "  - {name: t%u, price_per_hour_usd: 0.1, max_batch: 1, "
                         "batch_latency_ms: [50]}\n",
                         i);
    return sw_strbuf_take(&b);
}

Test(config_hostile, a_thousand_instance_types_are_refused_by_load)
{
    char dir[] = "/tmp/sw_cfg_hostile_XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char path[64];
    snprintf(path, sizeof path, "%s/types.yaml", dir);
    char *yaml = types_yaml(1000);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(yaml, f);
    fclose(f);
    sw_cfg_t *cfg = (sw_cfg_t *)1;
    cr_assert_eq(sw_cfg_load(path, &cfg, err, sizeof err), SW_ECONFIG);
    cr_assert_null(cfg);
    char want[128];
    snprintf(want, sizeof want, "%s:1: instance_types: has 1000 entries, at most 32 are allowed",
             path);
    cr_assert_str_eq(err, want);
    /* 32, the scheduler's limit, is fine, for the scheduler too. */
    sw_free(yaml);
    yaml = types_yaml(SW_CFG_MAX_INSTANCE_TYPES);
    cr_assert_eq(sw_cfg_load_string(yaml, strlen(yaml), "x.yaml", &cfg, err, sizeof err), 0, "%s",
                 err);
    sw_sched_t *s = NULL;
    cr_assert_eq(sw_sched_create(&s, cfg, err, sizeof err), 0, "%s", err);
    sw_sched_destroy(s);
    sw_cfg_destroy(cfg);
    sw_free(yaml);
    unlink(path);
    rmdir(dir);
}

Test(config_hostile, a_thousand_instance_types_are_refused_by_validate)
{
    sw_cfg_t *cfg = NULL;
    cr_assert_eq(sw_cfg_load_string("", 0, "x.yaml", &cfg, err, sizeof err), 0, "%s", err);
    unsigned n = 1000;
    cfg->instance_types = sw_realloc(cfg->instance_types, n * sizeof *cfg->instance_types);
    for (unsigned i = cfg->instance_types_count; i < n; i++) {
        sw_cfg_instance_type_t *t = &cfg->instance_types[i];
        *t = cfg->instance_types[0];
        t->name = sw_strdup("extra");
        t->batch_latency_ms = sw_calloc(t->max_batch, sizeof(double));
        memcpy(t->batch_latency_ms, cfg->instance_types[0].batch_latency_ms,
               t->max_batch * sizeof(double));
    }
    cfg->instance_types_count = n;
    cr_assert_eq(sw_cfg_validate(cfg, err, sizeof err), SW_ECONFIG);
    cr_assert_str_eq(err, "config: instance_types: has 1000 entries, at most 32 are allowed");
    sw_cfg_destroy(cfg);
}

static char *repeat(const char *head, const char *open, const char *close, unsigned n,
                    const char *tail)
{
    sw_strbuf_t b = {0};
    sw_strbuf_puts(&b, head);
    for (unsigned i = 0; i < n; i++)
        sw_strbuf_puts(&b, open);
    for (unsigned i = 0; i < n; i++)
        sw_strbuf_puts(&b, close);
    sw_strbuf_puts(&b, tail);
    return sw_strbuf_take(&b);
}

Test(config_hostile, ten_thousand_levels_of_nesting_are_refused_quickly)
{
    static const struct {
        const char *head, *open, *close, *tail;
    } shapes[] = {
        {"seed: 1\nx: ", "[", "]", "\n"}, /* flow lists under an unknown key */
        {"slo: ", "{a: ", "}", "\n"},     /* flow mappings under a known one */
        {"x:\n  ", "- ", "", "1\n"},      /* block lists, one line */
        {"faas:\n  local:\n    functions: ", "[", "]", "\n"},
    };
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        char *yaml = repeat(shapes[i].head, shapes[i].open, shapes[i].close, 10000, shapes[i].tail);
        const char *msg = refused_in("10,000 levels", yaml, strlen(yaml), 1.0);
        cr_assert_not_null(strstr(msg, "nested deeper than 32 levels"), "%s", msg);
        cr_assert_not_null(strstr(msg, "x.yaml:"), "%s", msg);
        sw_free(yaml);
    }
}

Test(config_hostile, an_alias_bomb_is_refused_without_expanding_it)
{
    /* "Billion laughs": 10^12 strings if expanded, 1 KB as written. */
    sw_strbuf_t b = {0};
    sw_strbuf_puts(&b, "l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for (int i = 1; i <= 12; i++) {
        sw_strbuf_printf(&b, "l%d: &l%d [", i, i);
        for (int j = 0; j < 10; j++)
            sw_strbuf_printf(&b, "%s*l%d", j ? ", " : "", i - 1);
        sw_strbuf_puts(&b, "]\n");
    }
    char *yaml = sw_strbuf_take(&b);
    const char *msg = refused_in("alias bomb", yaml, strlen(yaml), 1.0);
    cr_assert_not_null(strstr(msg, "x.yaml:2: YAML aliases (*l0) are not supported"), "%s", msg);
    sw_free(yaml);

    /* The same under known keys: each alias is named where it stands. */
    yaml = "slo: &s {latency_ms: 100}\nbilling: *s\npolicy:\n  static:\n    pool: [*s, *s]\n";
    msg = refused_in("aliases at known keys", yaml, strlen(yaml), 1.0);
    cr_assert_str_eq(msg, "x.yaml:2: billing: YAML aliases (*s) are not supported: write the "
                          "value out\n"
                          "x.yaml:5: policy.static.pool[0]: YAML aliases (*s) are not "
                          "supported: write the value out\n"
                          "x.yaml:5: policy.static.pool[1]: YAML aliases (*s) are not "
                          "supported: write the value out");
}

static char *keys_yaml(const char *head, const char *fmt, unsigned n)
{
    sw_strbuf_t b = {0};
    sw_strbuf_puts(&b, head);
    for (unsigned i = 0; i < n; i++)
        sw_strbuf_printf(&b, fmt, i);
    return sw_strbuf_take(&b);
}

Test(config_hostile, a_hundred_thousand_keys_take_linear_time)
{
    /* Unknown keys at the top: the first 20 are reported, then reading stops. */
    char *yaml = keys_yaml("", "key%u: 1\n", 100000);
    const char *msg = refused_in("100,000 unknown keys", yaml, strlen(yaml), 5.0);
    cr_assert_not_null(strstr(msg, "x.yaml:1: key0: unknown key\n"), "%s", msg);
    cr_assert_not_null(strstr(msg, "x.yaml: stopped after 20 problems: fix these first"), "%s",
                       msg);
    sw_free(yaml);

    /* Below an unknown key: skipped as a whole, read once. */
    yaml = keys_yaml("extra:\n", "  key%u: 1\n", 100000);
    msg = refused_in("100,000 keys below an unknown one", yaml, strlen(yaml), 5.0);
    cr_assert_str_eq(msg, "x.yaml:1: extra: unknown key");
    sw_free(yaml);

    /* One list of 100,000 entries: stored up to its limit, then counted. */
    yaml = keys_yaml("instance_types:\n  - name: a\n    price_per_hour_usd: 1\n"
                     "    max_batch: 1\n    batch_latency_ms:\n",
                     "      - %u\n", 100000);
    msg = refused_in("a list of 100,000 entries", yaml, strlen(yaml), 5.0);
    cr_assert_str_eq(msg, "x.yaml:5: instance_types[0].batch_latency_ms: has 100000 entries, at "
                          "most 1024 are allowed");
    sw_free(yaml);
}

/* The largest valid file the table allows in one list: 32 types with 1,024 batch times
 * each, 32,768 values in the key map; with the longest horizons and window. */
Test(config_hostile, the_largest_valid_profile_loads_in_time)
{
    sw_strbuf_t b = {0};
    sw_strbuf_puts(&b, "slo: {latency_ms: 3600000}\npolicy: {mark: {horizon_intervals: 1440}}\n"
                       "predictor: {horizon_intervals: 1440, window_intervals: 10080}\n"
                       "instance_types:\n");
    for (unsigned i = 0; i < SW_CFG_MAX_INSTANCE_TYPES; i++) {
        sw_strbuf_printf(&b,
                         "  - name: t%u\n    price_per_hour_usd: 1\n    max_batch: %u\n"
                         "    batch_latency_ms:\n",
                         i, SW_CFG_MAX_BATCH);
        for (unsigned j = 0; j < SW_CFG_MAX_BATCH; j++)
            sw_strbuf_printf(&b, "      - %u\n", j + 1);
    }
    char *yaml = sw_strbuf_take(&b);
    sw_cfg_t *cfg = NULL;
    double t0 = now_s();
    int rc = sw_cfg_load_string(yaml, strlen(yaml), "x.yaml", &cfg, err, sizeof err);
    double dt = now_s() - t0;
    printf("config_hostile: 32 x 1024 batch times (%zu bytes): loaded in %.3f s\n", strlen(yaml),
           dt);
    cr_assert_eq(rc, 0, "%s", err);
    cr_assert_lt(dt, 5.0);
    cr_assert_eq(cfg->instance_types[31].batch_latency_ms_count, SW_CFG_MAX_BATCH);
    cr_assert_float_eq(cfg->instance_types[31].batch_latency_ms[1023], 1024.0, 1e-9);
    sw_sched_t *s = NULL;
    cr_assert_eq(sw_sched_create(&s, cfg, err, sizeof err), 0, "%s", err);
    sw_sched_destroy(s);
    sw_cfg_destroy(cfg);
    sw_free(yaml);
}

/* A key longer than 1,024 characters cannot be a YAML key at all (libyaml's limit on
 * simple keys), so the longest keys that parse are tried, with values of 1 MB. */
Test(config_hostile, long_keys_and_values_are_cut_in_messages)
{
    char *big = sw_malloc(1000001);
    memset(big, '9', 1000000);
    big[1000000] = '\0';
    sw_strbuf_t b = {0};
    sw_strbuf_puts(&b, "slo:\n  ");
    for (int i = 0; i < 1000; i++)
        sw_strbuf_putc(&b, 'k');
    sw_strbuf_printf(&b,
                     ": 1\n  latency_ms: x%s\ntrace:\n  rate_scale: %s\n"
                     "faas:\n  invoke:\n    region: %s\n",
                     big, big, big);
    char *yaml = sw_strbuf_take(&b);
    const char *msg = refused_in("a key of 1,000 bytes, values of 1 MB", yaml, strlen(yaml), 5.0);
    cr_assert_lt(strlen(msg), 1000, "%s", msg);
    cr_assert_not_null(strstr(msg, "x.yaml:2: slo.kkkk"), "%s", msg);
    cr_assert_not_null(strstr(msg, "kkk...: unknown key\n"), "%s", msg);
    cr_assert_not_null(strstr(msg, "x.yaml:3: slo.latency_ms: expected a number, got \"x999"), "%s",
                       msg);
    cr_assert_not_null(strstr(msg, "999...\"\n"), "%s", msg);
    cr_assert_not_null(strstr(msg, "x.yaml:5: trace.rate_scale: expected a finite number"), "%s",
                       msg);
    sw_free(yaml);

    /* A string that parses but is too long is refused by its range. */
    yaml = "faas:\n  invoke:\n    region: "
           "rrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrr\n";
    msg = refused_in("a region of 65 characters", yaml, strlen(yaml), 1.0);
    cr_assert_str_eq(msg, "x.yaml:3: faas.invoke.region: must be at most 64 characters");
    sw_free(big);
}

Test(config_hostile, a_string_over_the_cap_is_refused)
{
    size_t n = SW_FILE_MAX_CONFIG_BYTES + 1;
    char *yaml = sw_malloc(n);
    memset(yaml, '#', n);
    const char *msg = refused_in("4 MB + 1", yaml, n, 1.0);
    cr_assert_str_eq(msg, "x.yaml: is 4194305 bytes, more than the 4194304 allowed for a policy "
                          "file");
    sw_free(yaml);
}

static void load_fails(const char *path, int want_rc, const char *want_msg)
{
    sw_cfg_t *cfg = (sw_cfg_t *)1;
    double t0 = now_s();
    int rc = sw_cfg_load(path, &cfg, err, sizeof err);
    cr_assert_lt(now_s() - t0, 1.0, "%s blocked", path);
    cr_assert_eq(rc, want_rc, "%s: rc %d", path, rc);
    cr_assert_null(cfg);
    cr_assert_str_eq(err, want_msg);
}

Test(config_hostile, paths_that_are_not_policy_files_are_refused_by_name, .timeout = 10)
{
    load_fails("/tmp", -EISDIR, "/tmp: is a directory, not a policy file");
    load_fails("/dev/zero", -EINVAL,
               "/dev/zero: is not a regular file (a device, FIFO or "
               "socket), so it cannot be a policy file");
    char dir[] = "/tmp/sw_cfg_hostile_XXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char fifo[64], big[64], want[256];
    snprintf(fifo, sizeof fifo, "%s/fifo.yaml", dir);
    cr_assert_eq(mkfifo(fifo, 0600), 0);
    snprintf(want, sizeof want,
             "%s: is not a regular file (a device, FIFO or socket), so it "
             "cannot be a policy file",
             fifo);
    load_fails(fifo, -EINVAL, want);
    snprintf(big, sizeof big, "%s/big.yaml", dir);
    FILE *f = fopen(big, "w");
    cr_assert_not_null(f);
    cr_assert_eq(ftruncate(fileno(f), SW_FILE_MAX_CONFIG_BYTES + 1), 0);
    fclose(f);
    snprintf(want, sizeof want,
             "%s: is 4194305 bytes, more than the 4194304 allowed for a "
             "policy file",
             big);
    load_fails(big, -EFBIG, want);
    unlink(fifo);
    unlink(big);
    rmdir(dir);
}
