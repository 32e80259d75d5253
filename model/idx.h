/* Reader for the IDX files MNIST and Fashion-MNIST ship in (gzip-compressed or plain):
 * unsigned-byte images (magic 0x00000803, n x rows x cols) and labels (0x00000801, n). */
#ifndef SW_MODEL_IDX_H
#define SW_MODEL_IDX_H

#include <stddef.h>
#include <stdint.h>

#include "common/common.h"

/* Images and their labels; image i is pixels[i * rows * cols ...], row-major. */
typedef struct sw_idx_set {
    size_t n, rows, cols;
    uint8_t *pixels;
    uint8_t *labels;
    unsigned n_classes; /* largest label + 1 */
} sw_idx_set_t;

/* Reads an image file. Returns 0 and fills pixels (free with sw_free), n, rows, cols, or a
 * negative error with a message naming the file: -errno when it is missing or not a
 * regular file (-EISDIR, -EINVAL for a device or FIFO), SW_EPARSE for a wrong magic, a
 * truncated file, or more than 1 GiB of data (file or payload). Memory grows with the data
 * read, not with the sizes the header claims. */
int sw_idx_read_images(const char *path, uint8_t **pixels, size_t *n, size_t *rows, size_t *cols,
                       char *errbuf, size_t errlen) SW_MUST_USE;
/* Reads a label file, likewise. */
int sw_idx_read_labels(const char *path, uint8_t **labels, size_t *n, char *errbuf,
                       size_t errlen) SW_MUST_USE;

/* Reads an image file and its label file into `set` (caller storage; release with
 * sw_idx_deinit), checking that the counts match. */
int sw_idx_load(sw_idx_set_t *set, const char *images_path, const char *labels_path, char *errbuf,
                size_t errlen) SW_MUST_USE;
/* Loads Fashion-MNIST's training (train-*) or test (t10k-*) split from `dir`, which holds
 * the four *-idx?-ubyte.gz files. */
int sw_idx_load_split(sw_idx_set_t *set, const char *dir, bool train, char *errbuf,
                      size_t errlen) SW_MUST_USE;
void sw_idx_deinit(sw_idx_set_t *set);

#endif
