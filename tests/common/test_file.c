/* Tests of common/file.c: only regular files within their cap are opened, and every
 * refusal names the path and the reason. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/file.h"

static char dir[] = "/tmp/sw_file_test_XXXXXX";

static void setup(void) { cr_assert_not_null(mkdtemp(dir)); }

static void teardown(void)
{
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(common_file, .init = setup, .fini = teardown, .timeout = 10);

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
}

Test(common_file, reads_a_regular_file_whole)
{
    char path[128], err[256];
    snprintf(path, sizeof(path), "%s/a.txt", dir);
    write_file(path, "hello");
    char *data;
    size_t len;
    cr_assert_eq(sw_file_read_all(path, 100, "test file", &data, &len, err, sizeof(err)), 0);
    cr_assert_eq(len, 5);
    cr_assert_str_eq(data, "hello");
    sw_free(data);
}

Test(common_file, refuses_a_directory_by_name)
{
    char err[256];
    FILE *f = sw_file_open_regular(dir, 0, "model file", err, sizeof(err));
    cr_assert_null(f);
    cr_assert_eq(errno, EISDIR);
    cr_assert(strstr(err, "is a directory, not a model file"), "%s", err);
    cr_assert(strstr(err, dir), "%s", err);
}

Test(common_file, refuses_a_device)
{
    char err[256];
    char *data;
    size_t len;
    int rc = sw_file_read_all("/dev/zero", 0, "trace", &data, &len, err, sizeof(err));
    cr_assert_eq(rc, -EINVAL);
    cr_assert(strstr(err, "/dev/zero: is not a regular file"), "%s", err);
}

Test(common_file, refuses_a_fifo_without_blocking)
{
    char path[128], err[256];
    snprintf(path, sizeof(path), "%s/fifo", dir);
    cr_assert_eq(mkfifo(path, 0600), 0);
    FILE *f = sw_file_open_regular(path, 0, "policy file", err, sizeof(err));
    cr_assert_null(f);
    cr_assert(strstr(err, "not a regular file"), "%s", err);
}

Test(common_file, refuses_a_file_over_its_cap)
{
    char path[128], err[256];
    snprintf(path, sizeof(path), "%s/big", dir);
    write_file(path, "0123456789");
    char *data;
    size_t len;
    int rc = sw_file_read_all(path, 9, "policy file", &data, &len, err, sizeof(err));
    cr_assert_eq(rc, -EFBIG);
    cr_assert(strstr(err, "is 10 bytes, more than the 9 allowed for a policy file"), "%s", err);
    cr_assert_null(data);
}

Test(common_file, says_what_is_missing)
{
    char err[256];
    cr_assert_null(sw_file_open_regular("/nonexistent/x.yaml", 0, "policy file", err,
                                        sizeof(err)));
    cr_assert_eq(errno, ENOENT);
    cr_assert_str_eq(err, "/nonexistent/x.yaml: No such file or directory");
}
