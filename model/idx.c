/* IDX files through zlib's gz* calls, which also read uncompressed files unchanged. */
#include "model/idx.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

#include "common/file.h"
#include "model/model_internal.h"

#define IDX_MAGIC_IMAGES 0x00000803u
#define IDX_MAGIC_LABELS 0x00000801u
/* Far above any real data set (Fashion-MNIST's training images are 47 MB, EMNIST's 640
 * MB), and the most a file, compressed or not, may hold: a damaged or hostile header
 * cannot ask for more, and memory grows with the data actually read, not with what the
 * header promises (a gzip bomb promises gigabytes in a few kilobytes). */
#define IDX_MAX_BYTES ((uint64_t)1 << 30)
/* Payloads are read in steps of this, so a header's promise is not allocated up front. */
#define IDX_STEP_BYTES ((size_t)1 << 24)

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Reads exactly len bytes; returns false on a short read (truncated or corrupt stream). */
static bool read_exact(gzFile gz, void *buf, size_t len)
{
    uint8_t *p = buf;
    while (len > 0) {
        unsigned chunk = len > (1u << 30) ? (1u << 30) : (unsigned)len;
        int got = gzread(gz, p, chunk);
        if (got <= 0)
            return false;
        p += got;
        len -= (size_t)got;
    }
    return true;
}

/* Reads the `total` payload bytes into a buffer that grows as they arrive. Returns the
 * buffer (sw_free it), or NULL on a short read. */
static uint8_t *read_payload(gzFile gz, size_t total)
{
    size_t cap = SW_MIN(total, IDX_STEP_BYTES), n = 0;
    uint8_t *data = sw_malloc(cap ? cap : 1);
    while (n < total) {
        if (n == cap) {
            cap = SW_MIN(total, 2 * cap);
            data = sw_realloc(data, cap);
        }
        if (!read_exact(gz, data + n, cap - n)) {
            sw_free(data);
            return NULL;
        }
        n = cap;
    }
    return data;
}

/* Opens a regular file of at most IDX_MAX_BYTES for gz* reading (a folder, a device or a
 * FIFO is refused by name first: gzopen would read a folder as "truncated" and block on a
 * FIFO). */
static gzFile open_idx(const char *path, char *errbuf, size_t errlen, int *rc)
{
    FILE *f = sw_file_open_regular(path, IDX_MAX_BYTES, "gzip IDX file", errbuf, errlen);
    if (!f) {
        *rc = -errno;
        return NULL;
    }
    int fd = dup(fileno(f));
    fclose(f);
    gzFile gz = fd >= 0 ? gzdopen(fd, "rb") : NULL;
    if (!gz) {
        *rc = fd >= 0 ? -ENOMEM : -errno;
        sw__model_error(errbuf, errlen, "%s: cannot open: %s", path, strerror(-*rc));
        if (fd >= 0)
            close(fd);
    }
    return gz;
}

/* Reads the dimensions after the magic and checks their product. */
static int read_dims(gzFile gz, const char *path, unsigned ndims, uint32_t *dims, size_t *total,
                     char *errbuf, size_t errlen)
{
    uint8_t hdr[12];
    if (!read_exact(gz, hdr, 4 * (size_t)ndims)) {
        sw__model_error(errbuf, errlen, "%s: truncated IDX header", path);
        return SW_EPARSE;
    }
    uint64_t t = 1;
    for (unsigned i = 0; i < ndims; i++) {
        dims[i] = be32(hdr + 4 * i);
        t *= dims[i];
        if (t > IDX_MAX_BYTES) {
            sw__model_error(errbuf, errlen,
                            "%s: implausible IDX dimensions: more than %llu "
                            "bytes of data",
                            path, (unsigned long long)IDX_MAX_BYTES);
            return SW_EPARSE;
        }
    }
    *total = (size_t)t;
    return 0;
}

/* Reads a header of `ndims` dimensions after the magic and the payload they describe. */
static int read_idx(const char *path, uint32_t magic, unsigned ndims, uint32_t *dims,
                    uint8_t **data, char *errbuf, size_t errlen)
{
    int rc = SW_EPARSE;
    *data = NULL;
    gzFile gz = open_idx(path, errbuf, errlen, &rc);
    if (!gz)
        return rc;
    rc = SW_EPARSE;
    uint8_t m[4];
    size_t total = 0;
    /* The magic first, so a label file given as images says so rather than "truncated". */
    if (!read_exact(gz, m, 4)) {
        sw__model_error(errbuf, errlen, "%s: truncated IDX header (empty or not IDX)", path);
    } else if (be32(m) != magic) {
        sw__model_error(errbuf, errlen, "%s: wrong IDX magic 0x%08x (expected 0x%08x, %s)", path,
                        be32(m), magic, magic == IDX_MAGIC_IMAGES ? "images" : "labels");
    } else if (read_dims(gz, path, ndims, dims, &total, errbuf, errlen) == 0) {
        *data = read_payload(gz, total);
        rc = *data ? 0 : SW_EPARSE;
        if (!*data)
            sw__model_error(errbuf, errlen, "%s: truncated: header promises %zu data bytes", path,
                            total);
    }
    gzclose(gz);
    return rc;
}

int sw_idx_read_images(const char *path, uint8_t **pixels, size_t *n, size_t *rows, size_t *cols,
                       char *errbuf, size_t errlen)
{
    uint32_t d[3];
    int rc = read_idx(path, IDX_MAGIC_IMAGES, 3, d, pixels, errbuf, errlen);
    if (rc < 0)
        return rc;
    *n = d[0];
    *rows = d[1];
    *cols = d[2];
    return 0;
}

int sw_idx_read_labels(const char *path, uint8_t **labels, size_t *n, char *errbuf, size_t errlen)
{
    uint32_t d[1];
    int rc = read_idx(path, IDX_MAGIC_LABELS, 1, d, labels, errbuf, errlen);
    if (rc < 0)
        return rc;
    *n = d[0];
    return 0;
}

int sw_idx_load(sw_idx_set_t *set, const char *images_path, const char *labels_path, char *errbuf,
                size_t errlen)
{
    memset(set, 0, sizeof(*set));
    size_t nl;
    int rc = sw_idx_read_images(images_path, &set->pixels, &set->n, &set->rows, &set->cols, errbuf,
                                errlen);
    if (rc < 0)
        return rc;
    rc = sw_idx_read_labels(labels_path, &set->labels, &nl, errbuf, errlen);
    if (rc < 0)
        goto fail_images;
    if (nl != set->n) {
        sw__model_error(errbuf, errlen, "%s: %zu labels, but %s has %zu images", labels_path, nl,
                        images_path, set->n);
        rc = SW_EPARSE;
        goto fail_labels;
    }
    for (size_t i = 0; i < nl; i++)
        set->n_classes = SW_MAX(set->n_classes, (unsigned)set->labels[i] + 1);
    return 0;
fail_labels:
    sw_free(set->labels);
fail_images:
    sw_free(set->pixels);
    memset(set, 0, sizeof(*set));
    return rc;
}

int sw_idx_load_split(sw_idx_set_t *set, const char *dir, bool train, char *errbuf, size_t errlen)
{
    const char *stem = train ? "train" : "t10k";
    char img[4096], lab[4096];
    snprintf(img, sizeof(img), "%s/%s-images-idx3-ubyte.gz", dir, stem);
    snprintf(lab, sizeof(lab), "%s/%s-labels-idx1-ubyte.gz", dir, stem);
    return sw_idx_load(set, img, lab, errbuf, errlen);
}

void sw_idx_deinit(sw_idx_set_t *set)
{
    if (!set)
        return;
    sw_free(set->pixels);
    sw_free(set->labels);
    memset(set, 0, sizeof(*set));
}
