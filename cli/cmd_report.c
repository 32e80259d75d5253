/* `spillway report RUN_DIR [--out FILE] [--oracle DIR]...`: turns a run directory, simulated
 * or live, into one self-contained HTML page (summary table and SVG charts) that opens from
 * disk. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "runs/report.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: spillway report RUN_DIR [--out FILE] [--oracle DIR]...\n\n"
               "Writes an HTML report of a `spillway simulate --out RUN_DIR` or `spillway serve\n"
               "--out RUN_DIR` run: a summary table (for a live run also its calls, call\n"
               "latency, and observed against planned batch times per instance type) and\n"
               "charts of arrivals, VMs, functions, cost and latency. The page has no scripts\n"
               "and no external references.\n\n"
               "  --out FILE    where to write (default: RUN_DIR/report.html)\n"
               "  --oracle DIR  a `simulate --policy oracle` or `--policy clairvoyant` run of\n"
               "                the same trace: the summary then states the cost relative\n"
               "                to it; give both for both ratios (over the oracle: not\n"
               "                knowing the future plus the cloud's boots and minimums;\n"
               "                over the clairvoyant bound: the first alone)\n\n"
               "Exit status: 0 done, 2 usage error or a missing or malformed run directory,\n"
               "1 the report could not be written.\n");
}

int sw_cli_cmd_report(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"out", required_argument, NULL, 'o'},
        {"oracle", required_argument, NULL, 'O'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *out = NULL, *bounds[2] = {NULL, NULL};
    size_t n_bounds = 0;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case 'O':
            if (n_bounds == 2) {
                fprintf(stderr, "spillway report: --oracle given more than twice (one oracle "
                                "and one clairvoyant run at most)\n");
                return SW_EXIT_USAGE;
            }
            bounds[n_bounds++] = optarg;
            break;
        case 'h': usage(stdout); return SW_EXIT_OK;
        default: usage(stderr); return SW_EXIT_USAGE;
        }
    }
    if (optind != argc - 1) {
        usage(stderr);
        return SW_EXIT_USAGE;
    }
    return sw__cli_write_report(argv[optind], out, bounds, n_bounds);
}

int sw__cli_write_report(const char *run_dir, const char *out, const char *const *bound_dirs,
                         size_t n_bounds)
{
    char err[1024], *path = NULL;
    if (!out) {
        size_t len = strlen(run_dir) + sizeof("/report.html");
        path = sw_malloc(len);
        snprintf(path, len, "%s/report.html", run_dir);
        out = path;
    }
    sw_run_report_t *rep;
    int status = SW_EXIT_OK;
    if (sw_run_report_load(&rep, run_dir, err, sizeof(err)) < 0) {
        fprintf(stderr, "spillway report: %s\n", err);
        status = SW_EXIT_USAGE;
        goto out;
    }
    for (size_t i = 0; i < n_bounds; i++) {
        if (sw_run_report_set_bound(rep, bound_dirs[i], err, sizeof(err)) < 0) {
            fprintf(stderr, "spillway report: --oracle %s\n", err);
            status = SW_EXIT_USAGE;
            goto done;
        }
    }
    if (sw_run_report_write(rep, out, err, sizeof(err)) < 0) {
        fprintf(stderr, "spillway report: %s\n", err);
        status = SW_EXIT_FAILURE;
    } else {
        printf("spillway report: wrote %s (%zu timeline rows)\n", out, sw_run_report_rows(rep));
    }
done:
    sw_run_report_destroy(rep);
out:
    sw_free(path);
    return status;
}
