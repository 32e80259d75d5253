/* Helpers of the black-box tests of the `spillway` binary (tests/cli/): run it with its
 * output captured, and make, fill and remove a folder for one test's files. Every
 * returned string is the caller's to free(). */
#ifndef SW_TESTS_CLI_CLI_HELPERS_H
#define SW_TESTS_CLI_CLI_HELPERS_H

#include <stddef.h>

#define SPILLWAY SW_BINARY_DIR "/spillway"
#define EXAMPLE SW_SOURCE_DIR "/config/example.yaml"

/* The whole file as a NUL-terminated string, or NULL when it cannot be read. */
char *cli_slurp(const char *path, size_t *len_out);
/* Runs argv (argv[0] is the program's path) with stdin from /dev/null and stdout and
 * stderr captured. Returns the exit status, or 128 + the signal that killed it. *out and
 * *err (either may be NULL) receive the output. */
int cli_run(const char *const argv[], char **out, char **err);
/* A fresh folder for one test's inputs and outputs; cli_rm_dir() removes it and frees
 * the name. */
char *cli_make_dir(void);
void cli_rm_dir(char *dir);
/* "dir/name". */
char *cli_path_in(const char *dir, const char *name);
/* Writes text to dir/name; returns the path. */
char *cli_write_file(const char *dir, const char *name, const char *text);
/* The text of dir/name; fails the test when it cannot be read. */
char *cli_read_output(const char *dir, const char *name);

/* A profile written by `spillway profile`, indented under an instance type "local" as it
 * is meant to drop into a policy file, loaded as check-config loads one; fails the test
 * with config/'s message when it is refused. Free with sw_cfg_destroy(). */
struct sw_cfg;
struct sw_cfg *cli_load_profile(const char *profile_path);

#endif
