/* Tests of backends/aws_creds.c: the environment wins, the shared credentials file is read
 * with profiles, comments and free whitespace, missing pieces are named precisely, and the
 * secret key or session token never shows up in an error message. Each test works in its
 * own mkdtemp directory and sets HOME there; Criterion forks a process per test, so the
 * environment changes stay inside the test. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "backends/aws_creds.h"

#define SECRET "wJalrXUtnFEMI/K7MDENG+bPxRfiCYSECRETKEY"
#define TOKEN "FwoGZXIvYXdzEXAMPLETOKENxyz"

static char dir[64];
static char path[128];

static void setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/sw_creds_XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/credentials", dir);
    const char *vars[] = {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
                          "AWS_PROFILE", "AWS_SHARED_CREDENTIALS_FILE"};
    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++)
        unsetenv(vars[i]);
    setenv("HOME", dir, 1);
}

static void teardown(void)
{
    char sub[160];
    unlink(path);
    snprintf(sub, sizeof(sub), "%s/.aws/credentials", dir);
    unlink(sub);
    snprintf(sub, sizeof(sub), "%s/.aws", dir);
    rmdir(sub);
    rmdir(dir);
}

TestSuite(be_aws_creds, .init = setup, .fini = teardown, .timeout = 10);

static void write_file(const char *p, const char *text)
{
    FILE *f = fopen(p, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

static const char *const sample = "# written by hand\n"
                                  "; and commented\n"
                                  "[default]\n"
                                  "aws_access_key_id = AKIDDEFAULT\n"
                                  "aws_secret_access_key = defaultsecret\n"
                                  "\n"
                                  "  [ prod ]  \r\n"
                                  "\taws_access_key_id=AKIDPROD   \r\n"
                                  "  AWS_SECRET_ACCESS_KEY   =   " SECRET "\r\n"
                                  "   # a comment inside a section\n"
                                  "region = us-west-2\n"
                                  "[dev]\n"
                                  "aws_access_key_id = AKIDDEV\n"
                                  "aws_secret_access_key = devsecret\n"
                                  "aws_session_token = " TOKEN "\n";

Test(be_aws_creds, env_vars_win_over_the_file)
{
    write_file(path, sample);
    setenv("AWS_SHARED_CREDENTIALS_FILE", path, 1);
    setenv("AWS_PROFILE", "prod", 1);
    setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "envsecret", 1);
    setenv("AWS_SESSION_TOKEN", "envtoken", 1);
    sw_be_aws_creds_t c;
    char err[512];
    cr_assert_eq(sw_be_aws_creds_load("dev", &c, err, sizeof(err)), 0, "%s", err);
    cr_assert_str_eq(c.access_key_id, "AKIDENV");
    cr_assert_str_eq(c.secret_access_key, "envsecret");
    cr_assert_str_eq(c.session_token, "envtoken");
    cr_assert_str_eq(c.source, "environment");
    sw_be_aws_creds_deinit(&c);
    cr_assert_null(c.secret_access_key);
}

Test(be_aws_creds, env_without_token_has_null_token)
{
    setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "envsecret", 1);
    setenv("AWS_SESSION_TOKEN", "", 1);
    sw_be_aws_creds_t c;
    char err[512];
    cr_assert_eq(sw_be_aws_creds_load(NULL, &c, err, sizeof(err)), 0, "%s", err);
    cr_assert_null(c.session_token);
    sw_be_aws_creds_deinit(&c);
}

Test(be_aws_creds, partial_env_names_the_missing_variable)
{
    setenv("AWS_SECRET_ACCESS_KEY", SECRET, 1);
    sw_be_aws_creds_t c;
    char err[512];
    cr_assert_eq(sw_be_aws_creds_load(NULL, &c, err, sizeof(err)), -EINVAL);
    cr_assert(strstr(err, "AWS_ACCESS_KEY_ID is not"), "%s", err);
    cr_assert_null(strstr(err, SECRET));
}

Test(be_aws_creds, file_profiles_comments_and_whitespace)
{
    write_file(path, sample);
    setenv("AWS_SHARED_CREDENTIALS_FILE", path, 1);
    sw_be_aws_creds_t c;
    char err[512];
    cr_assert_eq(sw_be_aws_creds_load("prod", &c, err, sizeof(err)), 0, "%s", err);
    cr_assert_str_eq(c.access_key_id, "AKIDPROD");
    cr_assert_str_eq(c.secret_access_key, SECRET);
    cr_assert_null(c.session_token);
    cr_assert(strstr(c.source, "[prod]"), "%s", c.source);
    sw_be_aws_creds_deinit(&c);

    cr_assert_eq(sw_be_aws_creds_load(NULL, &c, err, sizeof(err)), 0, "%s", err);
    cr_assert_str_eq(c.access_key_id, "AKIDDEFAULT");
    cr_assert_str_eq(c.secret_access_key, "defaultsecret");
    sw_be_aws_creds_deinit(&c);

    setenv("AWS_PROFILE", "prod", 1);
    cr_assert_eq(sw_be_aws_creds_load(NULL, &c, err, sizeof(err)), 0, "%s", err);
    cr_assert_str_eq(c.access_key_id, "AKIDPROD");
    sw_be_aws_creds_deinit(&c);
}

Test(be_aws_creds, default_file_is_under_home)
{
    char sub[160];
    snprintf(sub, sizeof(sub), "%s/.aws", dir);
    cr_assert_eq(mkdir(sub, 0700), 0);
    snprintf(sub, sizeof(sub), "%s/.aws/credentials", dir);
    write_file(sub, sample);
    sw_be_aws_creds_t c;
    char err[512];
    cr_assert_eq(sw_be_aws_creds_load("dev", &c, err, sizeof(err)), 0, "%s", err);
    cr_assert_str_eq(c.access_key_id, "AKIDDEV");
    sw_be_aws_creds_deinit(&c);
}

Test(be_aws_creds, session_token_from_the_file)
{
    write_file(path, sample);
    setenv("AWS_SHARED_CREDENTIALS_FILE", path, 1);
    sw_be_aws_creds_t c, d;
    char err[512];
    cr_assert_eq(sw_be_aws_creds_load("dev", &c, err, sizeof(err)), 0, "%s", err);
    cr_assert_str_eq(c.session_token, TOKEN);
    sw_be_aws_creds_copy(&d, &c);
    sw_be_aws_creds_deinit(&c);
    cr_assert_str_eq(d.session_token, TOKEN);
    cr_assert_str_eq(d.secret_access_key, "devsecret");
    sw_be_aws_creds_deinit(&d);
    sw_be_aws_creds_deinit(&d); /* twice is harmless */
}

Test(be_aws_creds, missing_profile_names_file_and_profiles)
{
    write_file(path, sample);
    setenv("AWS_SHARED_CREDENTIALS_FILE", path, 1);
    sw_be_aws_creds_t c;
    char err[512];
    cr_assert_eq(sw_be_aws_creds_load("staging", &c, err, sizeof(err)), -ENOENT);
    cr_assert(strstr(err, path), "%s", err);
    cr_assert(strstr(err, "no profile [staging]"), "%s", err);
    cr_assert(strstr(err, "default, prod, dev"), "%s", err);
    cr_assert_null(c.access_key_id);
}

Test(be_aws_creds, missing_secret_names_file_line_and_key)
{
    write_file(path, "[default]\naws_access_key_id = A\naws_secret_access_key = s\n\n"
                     "[prod]\naws_access_key_id = AKIDPROD\n");
    setenv("AWS_SHARED_CREDENTIALS_FILE", path, 1);
    sw_be_aws_creds_t c;
    char err[512], want[256];
    cr_assert_eq(sw_be_aws_creds_load("prod", &c, err, sizeof(err)), -EINVAL);
    snprintf(want, sizeof(want), "%s:5: profile [prod] has no aws_secret_access_key", path);
    cr_assert_str_eq(err, want);
}

Test(be_aws_creds, nothing_found_names_variables_file_and_profile)
{
    sw_be_aws_creds_t c;
    char err[512];
    setenv("AWS_PROFILE", "ops", 1);
    cr_assert_eq(sw_be_aws_creds_load(NULL, &c, err, sizeof(err)), -ENOENT);
    cr_assert(strstr(err, "AWS_ACCESS_KEY_ID"), "%s", err);
    cr_assert(strstr(err, "AWS_SECRET_ACCESS_KEY"), "%s", err);
    cr_assert(strstr(err, "/.aws/credentials"), "%s", err);
    cr_assert(strstr(err, "[ops]"), "%s", err);
}

Test(be_aws_creds, malformed_line_is_located)
{
    write_file(path, "[default]\naws_access_key_id = A\n" SECRET "\n");
    setenv("AWS_SHARED_CREDENTIALS_FILE", path, 1);
    sw_be_aws_creds_t c;
    char err[512];
    cr_assert_eq(sw_be_aws_creds_load(NULL, &c, err, sizeof(err)), -EINVAL);
    cr_assert(strstr(err, ":3: expected [profile] or key = value"), "%s", err);
}

/* Every error path that has the secret or token in reach must leave it out of the message. */
Test(be_aws_creds, secret_and_token_never_in_error_messages)
{
    const char *files[] = {
        "[default]\naws_secret_access_key = " SECRET "\naws_session_token = " TOKEN "\n",
        "[default]\naws_access_key_id = A\n" SECRET "\n" TOKEN "\n",
        "[default]\naws_access_key_id = A\naws_secret_access_key = " SECRET "\n[" TOKEN "\n",
        "[other]\naws_access_key_id = A\naws_secret_access_key = " SECRET "\n",
    };
    setenv("AWS_SHARED_CREDENTIALS_FILE", path, 1);
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        write_file(path, files[i]);
        sw_be_aws_creds_t c;
        char err[512] = "";
        cr_assert_lt(sw_be_aws_creds_load(NULL, &c, err, sizeof(err)), 0, "case %zu", i);
        cr_assert_neq(err[0], '\0');
        cr_assert_null(strstr(err, SECRET), "case %zu: %s", i, err);
        cr_assert_null(strstr(err, TOKEN), "case %zu: %s", i, err);
    }
    unsetenv("AWS_SHARED_CREDENTIALS_FILE");
    setenv("AWS_SECRET_ACCESS_KEY", SECRET, 1);
    setenv("AWS_SESSION_TOKEN", TOKEN, 1);
    sw_be_aws_creds_t c;
    char err[512] = "";
    cr_assert_lt(sw_be_aws_creds_load(NULL, &c, err, sizeof(err)), 0);
    cr_assert_null(strstr(err, SECRET), "%s", err);
    cr_assert_null(strstr(err, TOKEN), "%s", err);
}

/* Issue 10: the credentials file must be a regular file within its cap, and text. A
 * folder, /dev/zero, a FIFO (which blocked), a file past 1 MiB and a NUL byte (which cut
 * a line short, so the rest of it was ignored) are each refused by name. */
Test(be_aws_creds, paths_that_are_no_credentials_file)
{
    char fifo[160];
    snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
    cr_assert_eq(mkfifo(fifo, 0600), 0);
    static const struct {
        const char *path;
        int rc;
        const char *msg;
    } cases[] = {
        {"/tmp", -EISDIR, "/tmp: is a directory, not a credentials file"},
        {"/dev/zero", -EINVAL, "/dev/zero: is not a regular file (a device, FIFO or socket)"},
        {NULL, -EINVAL, "fifo: is not a regular file"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        setenv("AWS_SHARED_CREDENTIALS_FILE", cases[i].path ? cases[i].path : fifo, 1);
        sw_be_aws_creds_t c;
        char err[512];
        cr_assert_eq(sw_be_aws_creds_load(NULL, &c, err, sizeof(err)), cases[i].rc, "%s", err);
        cr_assert(strstr(err, "the credentials file (profile [default]) cannot be read"), "%s",
                  err);
        cr_assert(strstr(err, cases[i].msg), "%s", err);
    }
    unlink(fifo);
}

Test(be_aws_creds, oversized_or_binary_file_is_refused)
{
    setenv("AWS_SHARED_CREDENTIALS_FILE", path, 1);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    cr_assert_geq(fd, 0);
    cr_assert_eq(ftruncate(fd, (1 << 20) + 1), 0); /* sparse: nothing written */
    close(fd);
    sw_be_aws_creds_t c;
    char err[512];
    cr_assert_eq(sw_be_aws_creds_load(NULL, &c, err, sizeof(err)), -EFBIG, "%s", err);
    cr_assert(strstr(err, "is 1048577 bytes, more than the 1048576 allowed for a credentials "
                          "file"),
              "%s", err);
    static const char text[] = "[default]\naws_access_key_id = A\0B\naws_secret_access_key = s\n";
    FILE *f = fopen(path, "wb");
    cr_assert_eq(fwrite(text, 1, sizeof(text) - 1, f), sizeof(text) - 1);
    fclose(f);
    cr_assert_eq(sw_be_aws_creds_load(NULL, &c, err, sizeof(err)), -EINVAL, "%s", err);
    char want[256];
    snprintf(want, sizeof(want), "%s:2: a NUL byte: binary data, not a credentials file", path);
    cr_assert_str_eq(err, want);
}
