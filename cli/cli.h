/* The `spillway` command line: one binary, one function per subcommand. Each returns the
 * process exit status: 0 success, 2 usage or configuration error, 1 runtime failure. */
#ifndef SW_CLI_CLI_H
#define SW_CLI_CLI_H

#include "config/config.h"

enum { SW_EXIT_OK = 0, SW_EXIT_FAILURE = 1, SW_EXIT_USAGE = 2 };

int sw_cli_main(int argc, char **argv);
int sw_cli_cmd_simulate(int argc, char **argv);
int sw_cli_cmd_compare(int argc, char **argv);
int sw_cli_cmd_check_config(int argc, char **argv);
int sw_cli_cmd_report(int argc, char **argv);
int sw_cli_cmd_predict(int argc, char **argv);
int sw_cli_cmd_profile(int argc, char **argv);
int sw_cli_cmd_model(int argc, char **argv);
int sw_cli_cmd_worker(int argc, char **argv);
int sw_cli_cmd_function(int argc, char **argv);
int sw_cli_cmd_faas_local(int argc, char **argv);
int sw_cli_cmd_invoke(int argc, char **argv);
int sw_cli_cmd_serve(int argc, char **argv);
int sw_cli_cmd_loadgen(int argc, char **argv);
int sw_cli_cmd_tune(int argc, char **argv);

/* Loads the config named by `path` (NULL: the built-in defaults), printing any error to
 * stderr. Returns 0 or SW_EXIT_USAGE. */
int sw__cli_load_config(const char *path, sw_cfg_t **out);
/* One config override from the command line, applied after the policy file so that it
 * validates exactly as the file does. Either `--set KEY=VALUE` (option NULL, text
 * "KEY=VALUE" as typed) or a shorthand option (option "rate-scale", with or without its
 * "--", text its value) for the key sw__cli_shorthand_key names: a refused value then
 * names the option the user typed, not a --set they never wrote. */
typedef struct sw_cli_override {
    const char *option;
    const char *text;
} sw_cli_override_t;

/* The config key a shorthand option stands for ("rate-scale" or "--rate-scale":
 * "trace.rate_scale"), or NULL. One table for every command, so that an option means
 * the same key in simulate, serve, loadgen, compare and tune. */
const char *sw__cli_shorthand_key(const char *option);
/* Appends an override to list[0..*n) of capacity cap (the strings are borrowed; option
 * NULL or one sw__cli_shorthand_key knows). Prints "spillway CMD: too many options that
 * set config keys ..." and returns false when the list is full. */
bool sw__cli_add_override(const char *cmd, sw_cli_override_t *list, size_t cap, size_t *n,
                          const char *option, const char *text);
/* sw__cli_load_config, then the overrides in order, each as sw__cli_apply_override does.
 * Returns 0 and *out, or SW_EXIT_USAGE with *out NULL. */
int sw__cli_load_config_sets(const char *path, const sw_cli_override_t *overrides,
                             size_t n_overrides, sw_cfg_t **out);
/* Writes the HTML report of a run directory to `out` (NULL: RUN_DIR/report.html), with
 * its cost relative to each bound run (oracle, clairvoyant) in bound_dirs, printing what
 * happened. Returns an exit status. */
int sw__cli_write_report(const char *run_dir, const char *out, const char *const *bound_dirs,
                         size_t n_bounds);
/* The exit status for a file the user named (model, forecaster, run directory, payload,
 * credentials) that could not be loaded with error rc: SW_EXIT_USAGE, since a file that
 * is missing, not a regular file, too large or malformed is the caller's to fix, except
 * SW_EXIT_FAILURE for a read error of the system's (-EIO). */
int sw__cli_file_status(int rc);
/* Parses a whole-number option value in [min, max] into *out; prints
 * "spillway CMD: OPT TEXT: expected a whole number in [min, max]" and returns false when
 * it is not one (a sign, trailing text and overflow included). */
bool sw__cli_parse_uint(const char *cmd, const char *opt, const char *text,
                        unsigned long long min, unsigned long long max, unsigned long long *out);
/* Sets the log threshold from an option value ("error", "warn", "info", "debug"); prints
 * "spillway CMD: OPT TEXT: expected ..." and returns false when it is none of them. */
/* "A" or "A+B" (SW_DEBUG_COMPUTE_DELAY_MS): A ms per batch plus B ms per row, each a plain
 * decimal in [0, 600000]. On error prints "spillway CMD: OPT TEXT: ..." and returns false. */
bool sw__cli_parse_delay(const char *cmd, const char *opt, const char *text, double *per_batch,
                         double *per_row);
bool sw__cli_set_log_level(const char *cmd, const char *opt, const char *text);
/* Prints the config's notes ("note: ...", sw_cfg_notes) to stderr, if any. */
void sw__cli_print_notes(const sw_cfg_t *cfg);
/* Marks this process as holding credentials (AWS keys, worker tokens): no core dump,
 * and other processes of the same user may not ptrace it or read its /proc memory and
 * environment. Programs it starts are not marked (execve resets it). */
void sw__cli_protect_secrets(void);
/* Applies one `key=value` override, printing any error as "spillway: --set KEY=VALUE:
 * ...". Returns 0 or SW_EXIT_USAGE. */
int sw__cli_apply_set(sw_cfg_t *cfg, const char *assignment);
/* Applies one override: a --set as sw__cli_apply_set, a shorthand option printing any
 * error as "spillway: --OPTION VALUE: ...". Returns 0 or SW_EXIT_USAGE. */
int sw__cli_apply_override(sw_cfg_t *cfg, const sw_cli_override_t *o);

#endif
