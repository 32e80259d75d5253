/* Does the worker hold memory across a long life of hostile peers? Replays a libFuzzer
 * corpus of fuzz_frame_worker (tests/fuzz) through that target's own harness, in this
 * build (a plain Release build: no sanitizer, no libFuzzer), round and round for N
 * inputs, and prints the process's resident set as it goes. Each input is one connection
 * of a real worker loop; an input that ends in a Stop drains the worker, whose thread is
 * then started again, as a redialling worker process would be.
 *
 * The fuzz campaign saw this target's peak RSS grow with the run (441 MB at 2 million
 * inputs, 794 MB at 5.5 million) under ASan and libFuzzer, whose quarantine, thread
 * records and feature tables all grow; this program tells the worker's own share apart.
 *
 * usage: worker_soak CORPUS_DIR [INPUTS] [REPORT_EVERY] */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/common.h"
#include "common/file.h"
#include "tests/fuzz/fuzz_util.h"

/* Counted by tests/fuzz/fuzz_frame_worker.c each time it starts the worker's thread. */
extern unsigned long sw_fuzz_worker_starts;

#define MAX_INPUTS 100000
#define MAX_INPUT_BYTES (1u << 20)

typedef struct corpus {
    void **data;
    size_t *len;
    size_t n;
} corpus_t;

/* "VmRSS:" or "VmHWM:" of this process in kB, or -1. */
static long status_kb(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return -1;
    char line[256];
    long kb = -1;
    size_t klen = strlen(key);
    while (fgets(line, sizeof(line), f))
        if (strncmp(line, key, klen) == 0)
            kb = strtol(line + klen, NULL, 10);
    fclose(f);
    return kb;
}

static int load_corpus(const char *dir, corpus_t *c)
{
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "worker_soak: %s: %s\n", dir, strerror(errno));
        return -1;
    }
    c->data = calloc(MAX_INPUTS, sizeof(*c->data));
    c->len = calloc(MAX_INPUTS, sizeof(*c->len));
    if (!c->data || !c->len)
        abort();
    struct dirent *e;
    while ((e = readdir(d)) && c->n < MAX_INPUTS) {
        if (e->d_name[0] == '.')
            continue;
        char path[4096], err[4200], *data;
        size_t len;
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        if (sw_file_read_all(path, MAX_INPUT_BYTES, "fuzz input", &data, &len, err,
                             sizeof(err)) < 0) {
            fprintf(stderr, "worker_soak: skipped %s\n", err);
            continue;
        }
        c->data[c->n] = data;
        c->len[c->n++] = len;
    }
    closedir(d);
    if (c->n == 0) {
        fprintf(stderr, "worker_soak: %s holds no input\n", dir);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 4) {
        fprintf(stderr, "usage: worker_soak CORPUS_DIR [INPUTS] [REPORT_EVERY]\n");
        return 2;
    }
    unsigned long long inputs = argc > 2 ? strtoull(argv[2], NULL, 10) : 1000000;
    unsigned long long every = argc > 3 ? strtoull(argv[3], NULL, 10) : 100000;
    if (inputs == 0 || every == 0) {
        fprintf(stderr, "worker_soak: INPUTS and REPORT_EVERY must be whole numbers > 0\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0); /* a figure as soon as it is measured */
    corpus_t c = {0};
    if (load_corpus(argv[1], &c) != 0)
        return 2;
    int fake_argc = 1;
    LLVMFuzzerInitialize(&fake_argc, &argv);
    printf("corpus %zu inputs; before the first: VmRSS %ld kB\n", c.n, status_kb("VmRSS:"));
    printf("%12s %14s %12s %12s\n", "inputs", "worker starts", "VmRSS kB", "VmHWM kB");
    for (unsigned long long i = 1; i <= inputs; i++) {
        size_t k = (size_t)((i - 1) % c.n);
        LLVMFuzzerTestOneInput(c.data[k], c.len[k]);
        if (i % every == 0 || i == inputs || i == c.n)
            printf("%12llu %14lu %12ld %12ld\n", i, sw_fuzz_worker_starts, status_kb("VmRSS:"),
                   status_kb("VmHWM:"));
    }
    return 0;
}
