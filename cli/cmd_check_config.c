/* `spillway check-config FILE`: validate a policy file and print it resolved, defaults
 * filled in, so an operator sees exactly what a run would use. */
#include <getopt.h>
#include <stdio.h>

#include "cli/cli.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: spillway check-config FILE\n\n"
               "Validates the YAML policy FILE and prints the resolved configuration (every\n"
               "key, defaults filled in). Exit status 0 when valid, 2 when not; errors name\n"
               "file, line and key path.\n");
}

int sw_cli_cmd_check_config(int argc, char **argv)
{
    static const struct option longopts[] = {{"help", no_argument, NULL, 'h'}, {0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        if (c == 'h') {
            usage(stdout);
            return SW_EXIT_OK;
        }
        usage(stderr);
        return SW_EXIT_USAGE;
    }
    if (optind != argc - 1) {
        usage(stderr);
        return SW_EXIT_USAGE;
    }
    sw_cfg_t *cfg;
    int rc = sw__cli_load_config(argv[optind], &cfg);
    if (rc != 0)
        return rc;
    sw_cfg_print(cfg, stdout);
    sw__cli_print_notes(cfg);
    fprintf(stderr, "%s: valid\n", argv[optind]);
    sw_cfg_destroy(cfg);
    return SW_EXIT_OK;
}
