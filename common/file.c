/* Safe opening of user-named files: see file.h. The file is opened with O_NONBLOCK so that
 * a FIFO given by mistake cannot hang the process before fstat() shows what it is; the
 * flag is cleared again for a regular file, where it has no effect anyway. */
#include "common/file.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

FILE *sw_file_open_regular(const char *path, size_t max_bytes, const char *kind, char *errbuf,
                           size_t errlen)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) {
        int err = errno;
        sw_set_error(errbuf, errlen, "%s: %s", path, strerror(err));
        errno = err;
        return NULL;
    }
    struct stat st;
    int err = 0;
    if (fstat(fd, &st) < 0) {
        err = errno;
        sw_set_error(errbuf, errlen, "%s: %s", path, strerror(err));
    } else if (S_ISDIR(st.st_mode)) {
        err = EISDIR;
        sw_set_error(errbuf, errlen, "%s: is a directory, not a %s", path, kind);
    } else if (!S_ISREG(st.st_mode)) {
        err = EINVAL;
        sw_set_error(errbuf, errlen, "%s: is not a regular file (a device, FIFO or socket), "
                     "so it cannot be a %s", path, kind);
    } else if (max_bytes > 0 && (uint64_t)st.st_size > max_bytes) {
        err = EFBIG;
        sw_set_error(errbuf, errlen, "%s: is %" PRIu64 " bytes, more than the %zu allowed for "
                     "a %s", path, (uint64_t)st.st_size, max_bytes, kind);
    } else if (fcntl(fd, F_SETFL, 0) < 0) {
        err = errno;
        sw_set_error(errbuf, errlen, "%s: %s", path, strerror(err));
    }
    if (err) {
        close(fd);
        errno = err;
        return NULL;
    }
    FILE *f = fdopen(fd, "r");
    if (!f) {
        err = errno;
        sw_set_error(errbuf, errlen, "%s: %s", path, strerror(err));
        close(fd);
        errno = err;
    }
    return f;
}

int sw_file_read_all(const char *path, size_t max_bytes, const char *kind, char **data,
                     size_t *len, char *errbuf, size_t errlen)
{
    *data = NULL;
    *len = 0;
    FILE *f = sw_file_open_regular(path, max_bytes, kind, errbuf, errlen);
    if (!f)
        return -errno;
    /* The size from fstat is a hint only (the file may grow while read): read until EOF,
     * and stop one byte past the cap. */
    size_t cap = 4096, n = 0;
    char *buf = sw_malloc(cap + 1);
    for (;;) {
        if (n == cap) {
            cap *= 2;
            buf = sw_realloc(buf, cap + 1);
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (max_bytes > 0 && n > max_bytes) {
            sw_set_error(errbuf, errlen, "%s: is more than the %zu bytes allowed for a %s",
                         path, max_bytes, kind);
            fclose(f);
            sw_free(buf);
            return -EFBIG;
        }
        if (got == 0)
            break;
    }
    int rc = 0;
    if (ferror(f)) {
        rc = errno ? -errno : -EIO;
        sw_set_error(errbuf, errlen, "%s: cannot read: %s", path, strerror(-rc));
    }
    fclose(f);
    if (rc < 0) {
        sw_free(buf);
        return rc;
    }
    buf[n] = '\0';
    *data = buf;
    *len = n;
    return 0;
}
