/* Fuzz target: `--set KEY=VALUE` overrides, sw_cfg_set (config/config.h), applied to the
 * default policy. Each input line is one assignment, split at its first '=' as the CLI
 * does; lines apply in order, as repeated --set options do. A refused value must leave
 * the config unchanged, and the config printed at the end must load back equal (which
 * also checks that the state reached is valid). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "tests/fuzz/fuzz_util.h"

/* The config as sw_cfg_print writes it, as check-config shows it. */
static char *print_to_string(const sw_cfg_t *cfg, size_t *len)
{
    char *text = NULL;
    FILE *out = open_memstream(&text, len);
    if (!out)
        abort();
    sw_cfg_print(cfg, out);
    fclose(out);
    return text;
}

static sw_cfg_t *base;

/* The defaults hold every section and five instance types. They are loaded once and
 * copied per input (sw_cfg_copy), so that each input alone still reproduces what it
 * found, without a parse of the built-in instance types per input: that parse, and the
 * print after every line, were most of the time, at 250 inputs a second. */
void sw_fuzz_setup(void)
{
    char err[4096];
    if (sw_cfg_load_string("", 0, "base.yaml", &base, err, sizeof(err)) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[4096];
    sw_cfg_t *cfg = sw_cfg_copy(base);
    bool changed = false;
    char *text = sw_fuzz_strndup(data, size);
    char *save = NULL;
    /* `before` is the config as the last accepted line left it: a refused line must leave
     * cfg equal to it. It is copied again only after a line is accepted; most lines are
     * refused, so most cost one set and one compare. (A separate sw_cfg_validate after an
     * accepted line would run the very check sw_cfg_set ran before accepting it; the
     * final state's validity is checked by loading it back below.) */
    sw_cfg_t *before = sw_cfg_copy(cfg);
    for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char *eq = strchr(line, '=');
        if (!eq)
            continue;
        *eq = '\0';
        int rc = sw_cfg_set(cfg, line, eq + 1, err, sizeof(err));
        if (rc != 0 && !sw_cfg_equal(before, cfg)) {
            fprintf(stderr, "refused --set %s=%s changed the config\n", line, eq + 1);
            abort();
        }
        if (rc == 0) {
            changed = true;
            sw_cfg_destroy(before);
            before = sw_cfg_copy(cfg);
        }
    }
    sw_cfg_destroy(before);
    /* What check-config would print must be a policy file that loads to the same config:
     * a value that --set accepts must be one the file can hold. (The defaults alone are
     * checked by the unit tests.) */
    if (changed) {
        size_t len;
        char *printed = print_to_string(cfg, &len);
        sw_cfg_t *again = NULL;
        if (sw_cfg_load_string(printed, len, "printed.yaml", &again, err, sizeof(err)) != 0) {
            fprintf(stderr, "config after --set does not print as loadable YAML: %s\n", err);
            abort();
        }
        if (!sw_cfg_equal(cfg, again)) {
            fprintf(stderr, "config after --set prints as YAML that loads different:\n%s", printed);
            abort();
        }
        sw_cfg_destroy(again);
        free(printed);
    }
    sw_free(text);
    sw_cfg_destroy(cfg);
    return 0;
}
