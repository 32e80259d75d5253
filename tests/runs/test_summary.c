/* Tests for runs/summary.c, the one reader of summary.json: a simulated and a live summary
 * unpacked into their typed fields, slo_met derived when absent, and each way a driver
 * section can be wrong refused with the file and the field named. The report's own tests
 * (test_report.c) cover the top-level fields through `spillway report`. */
#include "runs/summary.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define COMMON                                                                                     \
    "\"policy\":\"mark\",\"trace\":\"t.txt\",\"requests\":10,\"served_vm\":6,"                     \
    "\"served_faas\":3,\"rejected\":1,\"failed\":0,\"slo_ms\":200,\"slo_target\":0.9,"             \
    "\"slo_attainment\":0.95,\"latency_ms\":{\"p50\":10,\"p99\":150,\"p999\":190},"                \
    "\"latency_cdf_ms\":[[0.5,10],[1,190]],"                                                       \
    "\"cost_usd\":{\"total\":2,\"vm\":1.5,\"faas\":0.5,\"by_type\":{\"c5.large\":1,"               \
    "\"p2.xlarge\":0.5},\"per_million_requests\":200000},\"vm\":{\"billed_seconds\":120}"

#define SERVE                                                                                      \
    "\"serve\":{\"wall_s\":30.5,\"calls\":{\"accepted\":9,\"ok\":8,\"failed\":1,"                  \
    "\"timed_out\":0,\"abandoned\":0},\"call_latency_ms\":{\"p50\":12,\"p99\":160},"               \
    "\"batch_time_ms\":{\"p2.xlarge\":{\"batches\":4,\"observed_ms\":61.5,\"planned_ms\":60,"      \
    "\"compute_ms\":55.25},\"c5.large\":{\"batches\":0,\"observed_ms\":0,\"planned_ms\":0,"        \
    "\"compute_ms\":0}}}"

static char path[64];

static void setup(void)
{
    strcpy(path, "/tmp/sw-summary-XXXXXX");
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    close(fd);
}

static void teardown(void)
{
    unlink(path);
}

TestSuite(runs_summary, .init = setup, .fini = teardown);

static int load(const char *text, sw_run_summary_t *s, char *err, size_t len)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
    return sw_run_summary_load(s, path, err, len);
}

Test(runs_summary, simulated_summary_unpacks_into_typed_fields)
{
    sw_run_summary_t s;
    char err[512];
    cr_assert_eq(load("{" COMMON ",\"sim\":{\"events\":5,\"wall_s\":0.5,\"simulated_s\":60}}", &s,
                      err, sizeof err),
                 0, "%s", err);
    cr_assert_eq(s.source, SW_RUN_SIMULATED);
    cr_assert_str_eq(sw_run_source_name(s.source), "simulated");
    cr_assert_str_eq(s.policy, "mark");
    cr_assert_str_eq(s.trace, "t.txt");
    cr_assert_eq(s.requests, 10);
    cr_assert_eq(s.served_vm, 6);
    cr_assert_eq(s.served_faas, 3);
    cr_assert_eq(s.rejected, 1);
    cr_assert_float_eq(s.slo_ms, 200, 1e-12);
    cr_assert_float_eq(s.latency_p999_ms, 190, 1e-12);
    cr_assert_float_eq(s.cost_per_million_usd, 200000, 1e-9);
    cr_assert_float_eq(s.vm_billed_s, 120, 1e-12);
    cr_assert_float_eq(sw_run_summary_spill_share(&s), 0.3, 1e-12);
    cr_assert(s.slo_met, "0.95 >= 0.9 with requests: the writer's rule");
    cr_assert_eq(s.n_cost_by_type, 2);
    cr_assert_str_eq(s.cost_by_type[0].type, "c5.large", "in file order");
    cr_assert_float_eq(s.cost_by_type[1].usd, 0.5, 1e-12);
    cr_assert_eq(s.n_cdf, 2);
    cr_assert_float_eq(s.cdf[1].quantile, 1, 1e-12);
    cr_assert_float_eq(s.cdf[1].ms, 190, 1e-12);
    cr_assert_float_eq(s.sim.simulated_s, 60, 1e-12);
    cr_assert_eq(s.serve.n_batch_time, 0);
    sw_run_summary_deinit(&s);
    cr_assert_null(s.policy, "deinit zeroes");
    sw_run_summary_deinit(&s);
}

Test(runs_summary, live_summary_unpacks_its_serve_section)
{
    sw_run_summary_t s;
    char err[512];
    cr_assert_eq(load("{" COMMON "," SERVE "}", &s, err, sizeof err), 0, "%s", err);
    cr_assert_eq(s.source, SW_RUN_LIVE);
    cr_assert_str_eq(sw_run_source_name(s.source), "live");
    cr_assert_float_eq(s.serve.wall_s, 30.5, 1e-12);
    cr_assert_eq(s.serve.calls_accepted, 9);
    cr_assert_eq(s.serve.calls_ok, 8);
    cr_assert_eq(s.serve.calls_failed, 1);
    cr_assert_float_eq(s.serve.call_p99_ms, 160, 1e-12);
    cr_assert_eq(s.serve.n_batch_time, 2);
    const sw_run_batch_time_t *b = &s.serve.batch_time[0];
    cr_assert_str_eq(b->type, "p2.xlarge");
    cr_assert_eq(b->batches, 4);
    cr_assert_float_eq(b->observed_ms, 61.5, 1e-12);
    cr_assert_float_eq(b->planned_ms, 60, 1e-12);
    cr_assert_float_eq(b->compute_ms, 55.25, 1e-12);
    cr_assert(isnan(s.sim.wall_s), "no sim section: its fields are unknown");
    sw_run_summary_deinit(&s);
}

/* slo_met as written wins; absent, it is the writer's rule, which counts a run without
 * requests as missed. */
Test(runs_summary, slo_met_as_written_or_by_the_writers_rule)
{
    sw_run_summary_t s;
    char err[512];
    cr_assert_eq(load("{" COMMON ",\"slo_met\":false,\"sim\":{}}", &s, err, sizeof err), 0, "%s",
                 err);
    cr_assert_not(s.slo_met);
    sw_run_summary_deinit(&s);
    cr_assert_eq(load("{\"requests\":0,\"served_faas\":0,\"slo_ms\":1,\"slo_target\":0,"
                      "\"slo_attainment\":1,\"latency_ms\":{\"p50\":0,\"p99\":0,\"p999\":0},"
                      "\"cost_usd\":{\"total\":0,\"vm\":0,\"faas\":0,\"per_million_requests\":0},"
                      "\"vm\":{\"billed_seconds\":0},\"sim\":{}}",
                      &s, err, sizeof err),
                 0, "%s", err);
    cr_assert_not(s.slo_met, "no request, no SLO met");
    cr_assert_null(s.policy);
    cr_assert_eq(s.n_cdf, 0);
    sw_run_summary_deinit(&s);
}

/* Loads `text` expecting SW_EPARSE and a message "PATH: " + part. */
static void expect_refused(const char *text, const char *part)
{
    sw_run_summary_t s;
    char err[512], want[600];
    int rc = load(text, &s, err, sizeof err);
    cr_assert_eq(rc, SW_EPARSE, "%s: rc %d: %s", part, rc, err);
    snprintf(want, sizeof want, "%s: %s", path, part);
    cr_assert(strstr(err, want) == err, "got \"%s\", want \"%s\"", err, want);
    cr_assert_null(s.policy, "a refused summary is left zeroed");
    cr_assert_null(s.cost_by_type);
}

/* A run is simulated or live: exactly one section, and an object. */
Test(runs_summary, one_driver_section_exactly)
{
    expect_refused("{" COMMON "}", "sim: missing, and no serve section either");
    expect_refused("{" COMMON ",\"sim\":{}," SERVE "}",
                   "sim, serve: both sections, but a run is either simulated or live");
    expect_refused("{" COMMON ",\"sim\":[]}", "sim: [] must be an object");
    expect_refused("{" COMMON ",\"serve\":7}", "serve: 7 must be an object");
    expect_refused("{" COMMON ",\"sim\":{\"wall_s\":-1}}", "sim.wall_s: -1 must be >= 0");
}

/* The serve section's figures are shown by the report: each is required and checked. */
Test(runs_summary, serve_fields_are_named_when_wrong)
{
    expect_refused("{" COMMON ",\"serve\":{}}", "serve.wall_s: missing (spillway serve writes it)");
    char text[2048];
    snprintf(text, sizeof text, "{%s,%s}", COMMON, SERVE);
    static const struct {
        const char *from, *to, *part;
    } cases[] = {
        {"\"ok\":8", "\"ok\":-8", "serve.calls.ok: -8 must be a whole number >= 0"},
        {"\"ok\":8,", "", "serve.calls.ok: missing (spillway serve writes it)"},
        {"\"p99\":160", "\"p99\":\"slow\"", "serve.call_latency_ms.p99: \"slow\" must be a number"},
        {"\"observed_ms\":61.5", "\"observed_ms\":-2",
         "serve.batch_time_ms.p2.xlarge.observed_ms: -2 must be >= 0"},
        {"\"batches\":4", "\"batches\":4.5",
         "serve.batch_time_ms.p2.xlarge.batches: 4.5 must be a whole number >= 0"},
        {"{\"batches\":0,\"observed_ms\":0,\"planned_ms\":0,\"compute_ms\":0}", "true",
         "serve.batch_time_ms.c5.large: true must be an object"},
        {"\"batch_time_ms\"", "\"batch_times\"",
         "serve.batch_time_ms: missing (spillway serve writes it)"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char bad[2048];
        const char *at = strstr(text, cases[i].from);
        cr_assert_not_null(at, "%s", cases[i].from);
        snprintf(bad, sizeof bad, "%.*s%s%s", (int)(at - text), text, cases[i].to,
                 at + strlen(cases[i].from));
        expect_refused(bad, cases[i].part);
    }
}

Test(runs_summary, missing_file_is_an_errno)
{
    sw_run_summary_t s;
    char err[512];
    cr_assert_eq(sw_run_summary_load(&s, "/nonexistent/summary.json", err, sizeof err), -ENOENT);
    cr_assert_not_null(strstr(err, "/nonexistent/summary.json"), "%s", err);
}
