/* Helpers of the black-box tests of the `spillway` binary: see cli_helpers.h. */
#include "tests/cli/cli_helpers.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config/config.h"

extern char **environ;

static const char *cli_tmp_root(void)
{
    const char *t = getenv("TMPDIR");
    return t && *t ? t : "/tmp";
}

/* The whole file as a NUL-terminated string, or NULL when it cannot be read. */
char *cli_slurp(const char *path, size_t *len_out)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    cr_assert_not_null(buf);
    size_t n;
    while ((n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (cap - len - 1 == 0) {
            cap *= 2;
            buf = realloc(buf, cap);
            cr_assert_not_null(buf);
        }
    }
    fclose(f);
    buf[len] = '\0';
    if (len_out)
        *len_out = len;
    return buf;
}

static int cli_capture_file(char *path_out, size_t len)
{
    snprintf(path_out, len, "%s/sw-cli-capture-XXXXXX", cli_tmp_root());
    int fd = mkstemp(path_out);
    cr_assert_geq(fd, 0, "mkstemp %s: %s", path_out, strerror(errno));
    return fd;
}

/* Runs argv (argv[0] is the program's path) with stdin from /dev/null and stdout and
 * stderr captured. Returns the exit status, or 128 + the signal that killed it. *out and
 * *err (either may be NULL) receive the output, to be freed by the caller. */
int cli_run(const char *const argv[], char **out, char **err)
{
    char out_path[4096], err_path[4096];
    int out_fd = cli_capture_file(out_path, sizeof out_path);
    int err_fd = cli_capture_file(err_path, sizeof err_path);
    posix_spawn_file_actions_t fa;
    cr_assert_eq(posix_spawn_file_actions_init(&fa), 0);
    cr_assert_eq(posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0), 0);
    cr_assert_eq(posix_spawn_file_actions_adddup2(&fa, out_fd, 1), 0);
    cr_assert_eq(posix_spawn_file_actions_adddup2(&fa, err_fd, 2), 0);
    pid_t pid;
    int rc = posix_spawn(&pid, argv[0], &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(out_fd);
    close(err_fd);
    cr_assert_eq(rc, 0, "posix_spawn %s: %s", argv[0], strerror(rc));
    int status;
    pid_t w;
    while ((w = waitpid(pid, &status, 0)) < 0 && errno == EINTR)
        ;
    cr_assert_eq(w, pid, "waitpid: %s", strerror(errno));
    char *o = cli_slurp(out_path, NULL), *e = cli_slurp(err_path, NULL);
    unlink(out_path);
    unlink(err_path);
    cr_assert(o && e, "cannot read the captured output");
    if (out)
        *out = o;
    else
        free(o);
    if (err)
        *err = e;
    else
        free(e);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* A fresh folder for one test's inputs and outputs; cli_rm_dir() removes it. */
char *cli_make_dir(void)
{
    char *dir = malloc(4096);
    cr_assert_not_null(dir);
    snprintf(dir, 4096, "%s/sw-cli-XXXXXX", cli_tmp_root());
    cr_assert_not_null(mkdtemp(dir), "mkdtemp: %s", strerror(errno));
    return dir;
}

/* Removes a folder made by cli_make_dir() with the files in it (runs write no subfolders). */
void cli_rm_dir(char *dir)
{
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *ent;
        char path[8192];
        while ((ent = readdir(d)) != NULL) {
            if (strcmp(ent->d_name, ".") == 0 || strcmp(ent->d_name, "..") == 0)
                continue;
            snprintf(path, sizeof path, "%s/%s", dir, ent->d_name);
            unlink(path);
        }
        closedir(d);
    }
    rmdir(dir);
    free(dir);
}

char *cli_path_in(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);
    cr_assert_not_null(p);
    snprintf(p, n, "%s/%s", dir, name);
    return p;
}

char *cli_write_file(const char *dir, const char *name, const char *text)
{
    char *p = cli_path_in(dir, name);
    FILE *f = fopen(p, "w");
    cr_assert_not_null(f, "%s: %s", p, strerror(errno));
    fputs(text, f);
    cr_assert_eq(fclose(f), 0);
    return p;
}

char *cli_read_output(const char *dir, const char *name)
{
    char *p = cli_path_in(dir, name);
    char *text = cli_slurp(p, NULL);
    cr_assert_not_null(text, "%s: %s", p, strerror(errno));
    free(p);
    return text;
}

sw_cfg_t *cli_load_profile(const char *profile_path)
{
    char *profile = cli_slurp(profile_path, NULL);
    cr_assert_not_null(profile, "%s: %s", profile_path, strerror(errno));
    char yaml[8192];
    int n = snprintf(yaml, sizeof yaml,
                     "instance_types:\n  - name: local\n"
                     "    price_per_hour_usd: 0.1\n");
    for (char *line = strtok(profile, "\n"); line; line = strtok(NULL, "\n"))
        n += snprintf(yaml + n, sizeof yaml - (size_t)n, "    %s\n", line);
    free(profile);
    sw_cfg_t *cfg = NULL;
    char err[4096];
    cr_assert_eq(sw_cfg_load_string(yaml, strlen(yaml), "profile.yaml", &cfg, err, sizeof err), 0,
                 "check-config refuses the profile: %s\n%s", err, yaml);
    return cfg;
}
