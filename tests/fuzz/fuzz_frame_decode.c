/* Fuzz target: the worker-protocol frame decoder alone, sw_frame_read (backends/frame.h),
 * as both sides run it on their input buffer: frames are taken off until the buffer holds
 * no whole frame or the stream breaks. The bytes arrive in two pieces split where the
 * first byte says, as TCP may deliver them, and the result must not depend on the split.
 * Each decoded frame must encode again (sw_frame_encode), stably (see reencode).
 * fuzz_frame_worker and fuzz_frame_listener run the same bytes through each side's
 * handling over a socket; this target is the fast one for the codec. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "backends/frame.h"
#include "tests/fuzz/fuzz_util.h"

#define MAX_FRAME_BYTES (1u << 16)

/* A decoded frame encodes again to the length sw_frame_encoded_bytes predicts; when those
 * bytes decode, they encode to the same bytes. They need not decode: protobuf-c keeps the
 * unknown fields it read and writes them back, and it accepts a field number 0 spelled as
 * a long varint (80 80 00) that it refuses in the short form it writes (00). Nothing in
 * Spillway re-encodes a frame it received, so that quirk is the library's, not ours. */
static void reencode(const Spillway__Frame *f)
{
    size_t n = sw_frame_encoded_bytes(f), len = 0, len2 = 0;
    uint8_t *a = sw_malloc(n), *b = sw_malloc(n);
    if (sw_frame_encode(f, a, n, &len) != 0 || len != n)
        abort();
    struct evbuffer *in = evbuffer_new();
    evbuffer_add(in, a, len);
    Spillway__Frame *g = NULL;
    if (sw_frame_read(in, SIZE_MAX, &g, NULL, 0) == 1) {
        if (sw_frame_encode(g, b, n, &len2) != 0 || len2 != len || memcmp(a, b, len) != 0) {
            fprintf(stderr, "fuzz: a frame re-encodes differently after a round trip\n");
            abort();
        }
        spillway__frame__free_unpacked(g, NULL);
    }
    evbuffer_free(in);
    sw_free(b);
    sw_free(a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t split = SW_MIN((size_t)data[0], size - 1);
    data++, size--;
    struct evbuffer *in = evbuffer_new();
    evbuffer_add(in, data, split);
    int frames = 0, rc;
    bool added = false;
    for (;;) {
        Spillway__Frame *f = NULL;
        char err[200];
        rc = sw_frame_read(in, MAX_FRAME_BYTES, &f, err, sizeof(err));
        if (rc == 0 && !added) {
            evbuffer_add(in, data + split, size - split); /* the rest arrives */
            added = true;
            continue;
        }
        if (rc <= 0) {
            if (rc < 0 && (f != NULL || err[0] == '\0'))
                abort();
            break;
        }
        frames++;
        (void)sw_frame_type_name(f->body_case);
        reencode(f);
        spillway__frame__free_unpacked(f, NULL);
    }
    evbuffer_free(in);
    /* The same bytes in one piece give the same frames and the same end. */
    in = evbuffer_new();
    evbuffer_add(in, data, size);
    int frames1 = 0, rc1;
    for (;;) {
        Spillway__Frame *f = NULL;
        rc1 = sw_frame_read(in, MAX_FRAME_BYTES, &f, NULL, 0);
        if (rc1 <= 0)
            break;
        frames1++;
        spillway__frame__free_unpacked(f, NULL);
    }
    evbuffer_free(in);
    if (frames1 != frames || rc1 != rc) {
        fprintf(stderr, "fuzz: %d frames then %d in two pieces, %d then %d in one\n", frames, rc,
                frames1, rc1);
        abort();
    }
    return 0;
}
