/* synth_trace: writes one of the synthetic traces of sim/synth.h as counts per second,
 * for bench/baselines.sh and by hand:
 *   synth_trace NAME [SECONDS] [SEED] > FILE     (default: a day, seed 1) */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "sim/synth.h"

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 4) {
        fprintf(stderr, "usage: synth_trace NAME [SECONDS] [SEED] > FILE\nnames: %s\n",
                sw_synth_preset_names());
        return 2;
    }
    char *end;
    double seconds = 86400;
    unsigned long long seed = 1;
    bool bad = false;
    if (argc > 2) {
        seconds = strtod(argv[2], &end);
        bad |= *end != '\0';
    }
    if (argc > 3) {
        seed = strtoull(argv[3], &end, 10);
        bad |= *end != '\0' || argv[3][0] == '-';
    }
    sw_synth_t spec;
    if (bad || !(seconds >= 1 && seconds <= 400 * 86400.0) ||
        sw_synth_preset(argv[1], seconds, seed, &spec) < 0) {
        fprintf(
            stderr,
            "synth_trace: unknown shape '%s', SECONDS not in [1, 400 days] or SEED not a number; "
            "names: %s\n",
            argv[1], sw_synth_preset_names());
        return 2;
    }
    if (sw_synth_write(stdout, &spec) < 0 || fflush(stdout) != 0) {
        perror("synth_trace");
        return 1;
    }
    return 0;
}
