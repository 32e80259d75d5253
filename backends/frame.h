/* Framing of the worker protocol (proto/worker.proto): each Frame on the TCP stream is a
 * 4-byte big-endian length, then that many bytes of packed spillway.Frame. Both the
 * frontend and `spillway worker` use this; neither side does any other framing.
 *
 * All functions but sw_frame_send are pure codecs with no state of their own: any thread
 * may call them, on buffers that thread owns (an evbuffer is only used from its loop's
 * thread). sw_frame_send also writes to a bufferevent's socket, from that loop's thread. */
#ifndef SW_BACKENDS_FRAME_H
#define SW_BACKENDS_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "common/common.h"
#include "proto/worker.pb-c.h"

/* Bytes of the length prefix. */
#define SW_FRAME_HEADER_BYTES 4
/* A sensible max_frame_bytes when nothing is configured: a 128-request batch of 784-float
 * inputs is about 400 KiB, so this leaves room for much wider models while keeping a
 * corrupt or hostile length from making us buffer gigabytes. */
#define SW_FRAME_MAX_BYTES_DEFAULT (64u * 1024u * 1024u)

/* Bytes sw_frame_encode() writes for f: the prefix plus the packed Frame. f is borrowed. */
size_t sw_frame_encoded_bytes(const Spillway__Frame *f);

/* Encodes f (prefix and body) into buf[0..cap). On success returns 0 and stores the bytes
 * written in *len_out. Returns -EINVAL if f has no body (an empty frame is never valid on
 * the wire), -EMSGSIZE if the body does not fit the 32-bit prefix, -ENOBUFS if cap is too
 * small (nothing useful is written then). f and buf are borrowed. */
SW_MUST_USE int sw_frame_encode(const Spillway__Frame *f, uint8_t *buf, size_t cap,
                                size_t *len_out);

/* Appends the encoding of f to out, packing straight into out's own storage (no
 * intermediate copy). Returns 0, or -EINVAL / -EMSGSIZE as sw_frame_encode(), in which case
 * out is unchanged. f and out are borrowed. */
SW_MUST_USE int sw_frame_write(struct evbuffer *out, const Spillway__Frame *f);

/* Sends f on bev, a socket bufferevent: when nothing is queued before it, straight to the
 * socket (one writev, and bev's write event is never armed, which saves two epoll_ctl and a
 * loop iteration a frame); what the socket does not take, or everything when bytes are
 * queued or writing is disabled, goes to bev's output as with sw_frame_write(). A socket
 * error is left for bev to report, from its own write. scratch is an empty evbuffer the
 * caller keeps for this (left empty). Returns as sw_frame_write(). Loop thread of bev. */
SW_MUST_USE int sw_frame_send(struct bufferevent *bev, struct evbuffer *scratch,
                              const Spillway__Frame *f);

/* Takes one frame off the front of in, which holds bytes as they arrived from the peer.
 * Returns:
 *   1  a frame: *out is a new message owned by the caller, who frees it with
 *      spillway__frame__free_unpacked(*out, NULL); its bytes are drained from in.
 *   0  in does not yet hold a whole frame: call again when more bytes arrive. Nothing is
 *      consumed and *out is NULL.
 *   <0 the stream is broken and the connection should be closed: -EMSGSIZE when the prefix
 *      is 0 or larger than max_frame_bytes (detected from the prefix alone, before the body
 *      is buffered), SW_EPARSE when the body does not decode, would take more than 8 times
 *      its size plus 1 MiB of memory decoded, or its body is unset or of a type this build
 *      does not know. *out is NULL, nothing is consumed, and when errbuf is
 *      not NULL it receives a one-line reason of at most errlen bytes (NUL included).
 * max_frame_bytes limits the body, prefix excluded. in and errbuf are borrowed. */
SW_MUST_USE int sw_frame_read(struct evbuffer *in, size_t max_frame_bytes, Spillway__Frame **out,
                              char *errbuf, size_t errlen);

/* Short lowercase name of a frame type for logs ("hello", "batch", ...; "none" when unset,
 * "unknown" otherwise). Never NULL; static storage. */
const char *sw_frame_type_name(Spillway__Frame__BodyCase body_case);

/* Builders: make f (caller storage) a frame carrying body, which stays owned by the caller
 * and must outlive every use of f. Any previous contents of f are overwritten. */
static inline void sw_frame_init_hello(Spillway__Frame *f, Spillway__Hello *body)
{
    spillway__frame__init(f);
    f->body_case = SPILLWAY__FRAME__BODY_HELLO;
    f->hello = body;
}

static inline void sw_frame_init_batch(Spillway__Frame *f, Spillway__Batch *body)
{
    spillway__frame__init(f);
    f->body_case = SPILLWAY__FRAME__BODY_BATCH;
    f->batch = body;
}

static inline void sw_frame_init_result(Spillway__Frame *f, Spillway__BatchResult *body)
{
    spillway__frame__init(f);
    f->body_case = SPILLWAY__FRAME__BODY_RESULT;
    f->result = body;
}

static inline void sw_frame_init_heartbeat(Spillway__Frame *f, Spillway__Heartbeat *body)
{
    spillway__frame__init(f);
    f->body_case = SPILLWAY__FRAME__BODY_HEARTBEAT;
    f->heartbeat = body;
}

static inline void sw_frame_init_drain(Spillway__Frame *f, Spillway__Drain *body)
{
    spillway__frame__init(f);
    f->body_case = SPILLWAY__FRAME__BODY_DRAIN;
    f->drain = body;
}

static inline void sw_frame_init_stop(Spillway__Frame *f, Spillway__Stop *body)
{
    spillway__frame__init(f);
    f->body_case = SPILLWAY__FRAME__BODY_STOP;
    f->stop = body;
}

#endif
