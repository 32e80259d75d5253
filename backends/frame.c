/* Length-prefixed framing of spillway.Frame; see frame.h. */
#include "backends/frame.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <protobuf-c/protobuf-c.h>

#include "proto/budget.h"

/* protobuf-c allocates a struct for every submessage it decodes: an empty Request costs
 * about 100 bytes for its 2 bytes on the wire, so a 32 MB frame of them took 1.6 GB,
 * from a peer that had not even said Hello. A frame decodes within this budget, or is
 * refused as malformed. Real frames need far less: a Batch of 784-float requests about
 * its own size, a BatchResult of 10-float answers about twice. */
#define DECODE_BUDGET(len) (8 * (size_t)(len) + ((size_t)1 << 20))

static void put_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t get_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

SW_PRINTF(4, 5)
static int fail(char *errbuf, size_t errlen, int err, const char *fmt, ...)
{
    if (errbuf && errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(errbuf, errlen, fmt, ap);
        va_end(ap);
    }
    return err;
}

static bool body_is_known(Spillway__Frame__BodyCase c)
{
    switch (c) {
    case SPILLWAY__FRAME__BODY_HELLO:
    case SPILLWAY__FRAME__BODY_BATCH:
    case SPILLWAY__FRAME__BODY_RESULT:
    case SPILLWAY__FRAME__BODY_HEARTBEAT:
    case SPILLWAY__FRAME__BODY_DRAIN:
    case SPILLWAY__FRAME__BODY_STOP: return true;
    default: return false;
    }
}

const char *sw_frame_type_name(Spillway__Frame__BodyCase body_case)
{
    switch (body_case) {
    case SPILLWAY__FRAME__BODY__NOT_SET: return "none";
    case SPILLWAY__FRAME__BODY_HELLO: return "hello";
    case SPILLWAY__FRAME__BODY_BATCH: return "batch";
    case SPILLWAY__FRAME__BODY_RESULT: return "result";
    case SPILLWAY__FRAME__BODY_HEARTBEAT: return "heartbeat";
    case SPILLWAY__FRAME__BODY_DRAIN: return "drain";
    case SPILLWAY__FRAME__BODY_STOP: return "stop";
    default: return "unknown";
    }
}

/* Common checks of both encoders; stores the body size. */
static int check_encodable(const Spillway__Frame *f, size_t *body_bytes)
{
    /* An empty frame would be rejected by every reader, so refuse to send one. */
    if (!body_is_known(f->body_case))
        return -EINVAL;
    size_t n = spillway__frame__get_packed_size(f);
    if (n > UINT32_MAX)
        return -EMSGSIZE;
    *body_bytes = n;
    return 0;
}

size_t sw_frame_encoded_bytes(const Spillway__Frame *f)
{
    return SW_FRAME_HEADER_BYTES + spillway__frame__get_packed_size(f);
}

int sw_frame_encode(const Spillway__Frame *f, uint8_t *buf, size_t cap, size_t *len_out)
{
    size_t n;
    int rc = check_encodable(f, &n);
    if (rc < 0)
        return rc;
    if (cap < SW_FRAME_HEADER_BYTES + n)
        return -ENOBUFS;
    put_be32(buf, (uint32_t)n);
    size_t packed = spillway__frame__pack(f, buf + SW_FRAME_HEADER_BYTES);
    assert(packed == n);
    (void)packed;
    *len_out = SW_FRAME_HEADER_BYTES + n;
    return 0;
}

int sw_frame_write(struct evbuffer *out, const Spillway__Frame *f)
{
    size_t n;
    int rc = check_encodable(f, &n);
    if (rc < 0)
        return rc;
    /* One contiguous extent, so protobuf-c packs in place instead of through a temporary
     * buffer and a second copy: for a 200 KB batch that copy is a visible part of the
     * protocol overhead. */
    struct evbuffer_iovec vec;
    if (evbuffer_reserve_space(out, (ev_ssize_t)(SW_FRAME_HEADER_BYTES + n), &vec, 1) != 1)
        abort(); /* libevent fails here only when it cannot allocate: OOM is fatal */
    uint8_t *p = vec.iov_base;
    put_be32(p, (uint32_t)n);
    size_t packed = spillway__frame__pack(f, p + SW_FRAME_HEADER_BYTES);
    assert(packed == n);
    (void)packed;
    vec.iov_len = SW_FRAME_HEADER_BYTES + n;
    if (evbuffer_commit_space(out, &vec, 1) != 0)
        abort(); /* only possible if another writer touched out in between: a bug */
    return 0;
}

int sw_frame_send(struct bufferevent *bev, struct evbuffer *scratch, const Spillway__Frame *f)
{
    struct evbuffer *out = bufferevent_get_output(bev);
    evutil_socket_t fd = bufferevent_getfd(bev);
    if (evbuffer_get_length(out) > 0 || fd < 0 || !(bufferevent_get_enabled(bev) & EV_WRITE))
        return sw_frame_write(out, f); /* behind queued bytes, or not ours to write now */
    int rc = sw_frame_write(scratch, f);
    if (rc < 0)
        return rc;
    /* A short write or an error leaves bytes in scratch: bev sends them, or meets the
     * error itself and reports it through its event callback as for any other write. */
    (void)evbuffer_write(scratch, fd);
    if (evbuffer_get_length(scratch) > 0 && bufferevent_write_buffer(bev, scratch) < 0)
        abort(); /* moving between evbuffers fails only when libevent cannot allocate */
    return 0;
}

int sw_frame_read(struct evbuffer *in, size_t max_frame_bytes, Spillway__Frame **out, char *errbuf,
                  size_t errlen)
{
    *out = NULL;
    size_t have = evbuffer_get_length(in);
    if (have < SW_FRAME_HEADER_BYTES)
        return 0;

    uint8_t hdr[SW_FRAME_HEADER_BYTES];
    if (evbuffer_copyout(in, hdr, sizeof(hdr)) != (ev_ssize_t)sizeof(hdr))
        return fail(errbuf, errlen, -EIO, "frame: cannot read the length prefix");
    uint32_t len = get_be32(hdr);
    /* Judge the length before waiting for the body, so that a bad prefix never makes us
     * buffer up to 4 GiB from the peer. */
    if (len == 0)
        return fail(errbuf, errlen, -EMSGSIZE, "frame: zero-length frame");
    if (len > max_frame_bytes)
        return fail(errbuf, errlen, -EMSGSIZE,
                    "frame: %" PRIu32 " bytes exceeds the maximum of %zu bytes", len,
                    max_frame_bytes);
    if (have - SW_FRAME_HEADER_BYTES < len)
        return 0;

    size_t total = SW_FRAME_HEADER_BYTES + (size_t)len;
    /* Usually a no-op: a frame that arrived in one read already sits in one chunk. */
    const uint8_t *p = evbuffer_pullup(in, (ev_ssize_t)total);
    if (!p)
        abort(); /* pullup of bytes we hold fails only on OOM */

    /* The budget's allocator is malloc, so the caller frees with the default one. */
    sw_pb_budget_t budget;
    sw_pb_budget_init(&budget, DECODE_BUDGET(len));
    Spillway__Frame *f = spillway__frame__unpack(&budget.allocator, len, p + SW_FRAME_HEADER_BYTES);
    if (!f && sw_pb_budget_exhausted(&budget))
        return fail(errbuf, errlen, SW_EPARSE,
                    "frame: %" PRIu32 " bytes would decode to more than %zu bytes of memory", len,
                    DECODE_BUDGET(len));
    if (!f)
        return fail(errbuf, errlen, SW_EPARSE,
                    "frame: %" PRIu32 " bytes do not decode as a spillway.Frame", len);
    if (!body_is_known(f->body_case)) {
        /* A newer peer's frame type parses as an unknown field and leaves the oneof unset,
         * so "unset" and "unknown" are the same case here. */
        spillway__frame__free_unpacked(f, NULL);
        return fail(errbuf, errlen, SW_EPARSE, "frame: unknown frame type (%" PRIu32 " bytes)",
                    len);
    }
    evbuffer_drain(in, total);
    *out = f;
    return 1;
}
