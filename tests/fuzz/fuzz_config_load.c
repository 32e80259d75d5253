/* Fuzz target: the YAML policy loader, sw_cfg_load_string (config/config.h), the path that
 * `--config FILE` and check-config take once the file is read. A config it accepts must
 * also survive the round trip check-config promises: sw_cfg_print writes YAML that loads
 * back to an equal config. */
#include <stdio.h>
#include <stdlib.h>

#include "config/config.h"
#include "tests/fuzz/fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sw_cfg_t *cfg = NULL;
    char err[4096];
    if (sw_cfg_load_string((const char *)data, size, "fuzz.yaml", &cfg, err, sizeof(err)) != 0)
        return 0;
    char notes[1024];
    (void)sw_cfg_notes(cfg, notes, sizeof(notes));
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    if (!out)
        abort();
    sw_cfg_print(cfg, out);
    fclose(out);
    sw_cfg_t *again = NULL;
    if (sw_cfg_load_string(text, len, "printed.yaml", &again, err, sizeof(err)) != 0) {
        fprintf(stderr, "printed config does not load back: %s\n%s", err, text);
        abort();
    }
    if (!sw_cfg_equal(cfg, again)) {
        fprintf(stderr, "printed config loads back different:\n%s", text);
        abort();
    }
    sw_cfg_destroy(again);
    free(text);
    sw_cfg_destroy(cfg);
    return 0;
}
