/* Fuzz target: `--set KEY=VALUE` overrides, sw_cfg_set (config/config.h), applied to the
 * default policy. Each input line is one assignment, split at its first '=' as the CLI
 * does; lines apply in order, as repeated --set options do. A refused value must leave
 * the config unchanged, every state reached must still be valid, and the config printed at
 * the end must load back equal. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "tests/fuzz/fuzz_util.h"

/* The config as sw_cfg_print writes it: the cheap way to tell whether anything changed. */
static char *printed(const sw_cfg_t *cfg, size_t *len)
{
    char *text = NULL;
    FILE *out = open_memstream(&text, len);
    if (!out)
        abort();
    sw_cfg_print(cfg, out);
    fclose(out);
    return text;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A fresh config per input, so that each input alone reproduces what it found. The
     * defaults hold every section and five instance types, and load far faster than
     * example.yaml, which sanitizers make cost milliseconds. */
    sw_cfg_t *cfg = NULL;
    char err[4096];
    if (sw_cfg_load_string("", 0, "base.yaml", &cfg, err, sizeof(err)) != 0)
        abort();
    size_t len;
    char *before = printed(cfg, &len);
    char *text = sw_fuzz_strndup(data, size);
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *eq = strchr(line, '=');
        if (!eq)
            continue;
        *eq = '\0';
        int rc = sw_cfg_set(cfg, line, eq + 1, err, sizeof(err));
        char *after = printed(cfg, &len);
        if (rc != 0 && strcmp(before, after) != 0) {
            fprintf(stderr, "refused --set %s=%s changed the config\n", line, eq + 1);
            abort();
        }
        if (rc == 0 && sw_cfg_validate(cfg, err, sizeof(err)) != 0) {
            fprintf(stderr, "--set %s=%s was applied but the config is invalid: %s\n", line, eq + 1,
                    err);
            abort();
        }
        free(before);
        before = after;
    }
    /* What check-config would print must be a policy file that loads to the same config:
     * a value that --set accepts must be one the file can hold. */
    sw_cfg_t *again = NULL;
    if (sw_cfg_load_string(before, len, "printed.yaml", &again, err, sizeof(err)) != 0) {
        fprintf(stderr, "config after --set does not print as loadable YAML: %s\n", err);
        abort();
    }
    if (!sw_cfg_equal(cfg, again)) {
        fprintf(stderr, "config after --set prints as YAML that loads different:\n%s", before);
        abort();
    }
    sw_cfg_destroy(again);
    free(before);
    sw_free(text);
    sw_cfg_destroy(cfg);
    return 0;
}
