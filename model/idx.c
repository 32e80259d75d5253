/* IDX files through zlib's gz* calls, which also read uncompressed files unchanged. */
#include "model/idx.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <zlib.h>

#include "model/model_internal.h"

#define IDX_MAGIC_IMAGES 0x00000803u
#define IDX_MAGIC_LABELS 0x00000801u
/* Far above any real data set; stops a damaged header from asking for terabytes. */
#define IDX_MAX_BYTES (1ull << 32)

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

/* Reads a header of `ndims` dimensions after the magic and the payload they describe. */
static int read_idx(const char *path, uint32_t magic, unsigned ndims, uint32_t *dims,
                    uint8_t **data, char *errbuf, size_t errlen)
{
    gzFile gz = gzopen(path, "rb");
    if (!gz) {
        int err = errno ? errno : EIO;
        sw__model_error(errbuf, errlen, "%s: cannot open: %s", path, strerror(err));
        return -err;
    }
    int rc = SW_EPARSE;
    uint8_t hdr[16];
    *data = NULL;
    /* The magic first, so a label file given as images says so rather than "truncated". */
    if (!read_exact(gz, hdr, 4)) {
        sw__model_error(errbuf, errlen, "%s: truncated IDX header (empty or not IDX)", path);
        goto out;
    }
    if (be32(hdr) != magic) {
        sw__model_error(errbuf, errlen, "%s: wrong IDX magic 0x%08x (expected 0x%08x, %s)", path,
                        be32(hdr), magic, magic == IDX_MAGIC_IMAGES ? "images" : "labels");
        goto out;
    }
    if (!read_exact(gz, hdr + 4, 4 * (size_t)ndims)) {
        sw__model_error(errbuf, errlen, "%s: truncated IDX header", path);
        goto out;
    }
    uint64_t total = 1;
    for (unsigned i = 0; i < ndims; i++) {
        dims[i] = be32(hdr + 4 + 4 * i);
        total *= dims[i];
        if (total > IDX_MAX_BYTES) {
            sw__model_error(errbuf, errlen, "%s: implausible IDX dimensions", path);
            goto out;
        }
    }
    *data = sw_malloc(total ? (size_t)total : 1);
    if (!read_exact(gz, *data, (size_t)total)) {
        sw__model_error(errbuf, errlen, "%s: truncated: header promises %llu data bytes", path,
                        (unsigned long long)total);
        sw_free(*data);
        *data = NULL;
        goto out;
    }
    rc = 0;
out:
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
