/* Tests for runs/summary.c, the one reader of summary.json: a summary unpacked into its
 * typed fields, and slo_met derived when absent. The report's own tests (test_report.c)
 * cover the refusal of each top-level field through `spillway report`. */
#include "runs/summary.h"

#include <criterion/criterion.h>
#include <errno.h>
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
    sw_run_summary_deinit(&s);
    cr_assert_null(s.policy, "deinit zeroes");
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

Test(runs_summary, missing_file_is_an_errno)
{
    sw_run_summary_t s;
    char err[512];
    cr_assert_eq(sw_run_summary_load(&s, "/nonexistent/summary.json", err, sizeof err), -ENOENT);
    cr_assert_not_null(strstr(err, "/nonexistent/summary.json"), "%s", err);
}
