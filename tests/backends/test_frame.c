/* Tests of backends/frame.c: every frame type survives an evbuffer round trip field by
 * field; frames back to back and split across arrivals are reassembled; a short prefix
 * waits; oversized, zero-length, undecodable and bodiless frames are refused with their
 * own message; and a seeded fuzz loop over mutated encodings never crashes or leaks (ASan
 * checks the latter when the suite is built with SW_SANITIZE). sw_frame_send writes a frame
 * straight to the socket when nothing is queued, behind queued bytes otherwise, and leaves
 * what a full socket does not take to the bufferevent, which delivers it intact. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <criterion/logging.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "backends/frame.h"
#include "common/common.h"
#include "common/rng.h"

#define MAX_BYTES (1u << 20)

static char err[256];

/* Reads one frame that must be there and be of the given type. */
static Spillway__Frame *read_one(struct evbuffer *in, Spillway__Frame__BodyCase want)
{
    Spillway__Frame *f = NULL;
    int rc = sw_frame_read(in, MAX_BYTES, &f, err, sizeof(err));
    cr_assert_eq(rc, 1, "rc=%d err=%s", rc, err);
    cr_assert_not_null(f);
    cr_assert_eq(f->body_case, want, "got %s", sw_frame_type_name(f->body_case));
    return f;
}

static void write_ok(struct evbuffer *out, const Spillway__Frame *f)
{
    cr_assert_eq(sw_frame_write(out, f), 0);
}

static void add_be32(struct evbuffer *b, uint32_t v)
{
    uint8_t p[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    evbuffer_add(b, p, 4);
}

Test(be_frame, hello_round_trip)
{
    struct evbuffer *b = evbuffer_new();
    Spillway__Hello h = SPILLWAY__HELLO__INIT;
    h.worker_id = "w-17";
    h.instance_type = "c5.xlarge";
    h.model_name = "fmnist-mlp";
    h.model_version = 3;
    h.max_batch = 64;
    h.threads = 2;
    h.token = "8f0c2a";
    Spillway__Frame f;
    sw_frame_init_hello(&f, &h);
    write_ok(b, &f);
    cr_assert_eq(evbuffer_get_length(b), sw_frame_encoded_bytes(&f));

    Spillway__Frame *g = read_one(b, SPILLWAY__FRAME__BODY_HELLO);
    cr_assert_str_eq(g->hello->worker_id, "w-17");
    cr_assert_str_eq(g->hello->instance_type, "c5.xlarge");
    cr_assert_str_eq(g->hello->model_name, "fmnist-mlp");
    cr_assert_eq(g->hello->model_version, 3);
    cr_assert_eq(g->hello->max_batch, 64);
    cr_assert_eq(g->hello->threads, 2);
    cr_assert_str_eq(g->hello->token, "8f0c2a");
    cr_assert_eq(evbuffer_get_length(b), 0);
    spillway__frame__free_unpacked(g, NULL);
    evbuffer_free(b);
}

Test(be_frame, batch_round_trip)
{
    struct evbuffer *b = evbuffer_new();
    float in0[784], in1[3] = {-1.5f, 0.0f, 3.25f};
    for (size_t i = 0; i < SW_ARRAY_LEN(in0); i++)
        in0[i] = (float)i / 7.0f;
    Spillway__Request r0 = SPILLWAY__REQUEST__INIT, r1 = SPILLWAY__REQUEST__INIT;
    r0.id = 1ull << 40;
    r0.n_input = SW_ARRAY_LEN(in0);
    r0.input = in0;
    r1.id = 2;
    r1.n_input = SW_ARRAY_LEN(in1);
    r1.input = in1;
    Spillway__Request *reqs[] = {&r0, &r1};
    Spillway__Batch bt = SPILLWAY__BATCH__INIT;
    bt.batch_id = 99;
    bt.n_requests = 2;
    bt.requests = reqs;
    Spillway__Frame f;
    sw_frame_init_batch(&f, &bt);
    write_ok(b, &f);

    Spillway__Frame *g = read_one(b, SPILLWAY__FRAME__BODY_BATCH);
    cr_assert_eq(g->batch->batch_id, 99);
    cr_assert_eq(g->batch->n_requests, 2);
    cr_assert_eq(g->batch->requests[0]->id, 1ull << 40);
    cr_assert_eq(g->batch->requests[0]->n_input, 784);
    cr_assert_eq(memcmp(g->batch->requests[0]->input, in0, sizeof(in0)), 0);
    cr_assert_eq(g->batch->requests[1]->id, 2);
    cr_assert_eq(g->batch->requests[1]->n_input, 3);
    cr_assert_eq(memcmp(g->batch->requests[1]->input, in1, sizeof(in1)), 0);
    spillway__frame__free_unpacked(g, NULL);
    evbuffer_free(b);
}

Test(be_frame, result_round_trip)
{
    struct evbuffer *b = evbuffer_new();
    float out0[10];
    for (size_t i = 0; i < SW_ARRAY_LEN(out0); i++)
        out0[i] = 0.1f * (float)i;
    Spillway__Answer a0 = SPILLWAY__ANSWER__INIT, a1 = SPILLWAY__ANSWER__INIT;
    a0.id = 5;
    a0.n_output = 10;
    a0.output = out0;
    a1.id = 6;
    a1.error = "input has 3 floats, model wants 784";
    Spillway__Answer *ans[] = {&a0, &a1};
    Spillway__BatchResult r = SPILLWAY__BATCH_RESULT__INIT;
    r.batch_id = 99;
    r.n_answers = 2;
    r.answers = ans;
    r.compute_ms = 1.25;
    Spillway__Frame f;
    sw_frame_init_result(&f, &r);
    write_ok(b, &f);

    Spillway__Frame *g = read_one(b, SPILLWAY__FRAME__BODY_RESULT);
    cr_assert_eq(g->result->batch_id, 99);
    cr_assert_eq(g->result->compute_ms, 1.25);
    cr_assert_eq(g->result->n_answers, 2);
    cr_assert_eq(g->result->answers[0]->id, 5);
    cr_assert_eq(g->result->answers[0]->n_output, 10);
    cr_assert_eq(memcmp(g->result->answers[0]->output, out0, sizeof(out0)), 0);
    cr_assert_str_eq(g->result->answers[0]->error, "");
    cr_assert_eq(g->result->answers[1]->id, 6);
    cr_assert_eq(g->result->answers[1]->n_output, 0);
    cr_assert_str_eq(g->result->answers[1]->error, "input has 3 floats, model wants 784");
    spillway__frame__free_unpacked(g, NULL);
    evbuffer_free(b);
}

Test(be_frame, heartbeat_and_drain_round_trip)
{
    struct evbuffer *b = evbuffer_new();
    Spillway__Heartbeat hb = SPILLWAY__HEARTBEAT__INIT;
    hb.queue_depth = 4;
    hb.batches_done = 123456789012ull;
    hb.busy_ms = 98765.5;
    Spillway__Drain d = SPILLWAY__DRAIN__INIT;
    d.reason = "SIGTERM";
    Spillway__Frame f1, f2;
    sw_frame_init_heartbeat(&f1, &hb);
    sw_frame_init_drain(&f2, &d);
    /* Back to back in one buffer: each read takes exactly one frame. */
    write_ok(b, &f1);
    write_ok(b, &f2);

    Spillway__Frame *g = read_one(b, SPILLWAY__FRAME__BODY_HEARTBEAT);
    cr_assert_eq(g->heartbeat->queue_depth, 4);
    cr_assert_eq(g->heartbeat->batches_done, 123456789012ull);
    cr_assert_eq(g->heartbeat->busy_ms, 98765.5);
    spillway__frame__free_unpacked(g, NULL);
    cr_assert_eq(evbuffer_get_length(b), sw_frame_encoded_bytes(&f2));

    g = read_one(b, SPILLWAY__FRAME__BODY_DRAIN);
    cr_assert_str_eq(g->drain->reason, "SIGTERM");
    spillway__frame__free_unpacked(g, NULL);

    Spillway__Frame *none = (Spillway__Frame *)&f1;
    cr_assert_eq(sw_frame_read(b, MAX_BYTES, &none, err, sizeof(err)), 0);
    cr_assert_null(none);
    evbuffer_free(b);
}

Test(be_frame, stop_round_trip)
{
    struct evbuffer *b = evbuffer_new();
    Spillway__Stop st = SPILLWAY__STOP__INIT;
    st.reason = "scale-in";
    Spillway__Frame f;
    sw_frame_init_stop(&f, &st);
    write_ok(b, &f);
    Spillway__Frame *g = read_one(b, SPILLWAY__FRAME__BODY_STOP);
    cr_assert_str_eq(g->stop->reason, "scale-in");
    cr_assert_str_eq(sw_frame_type_name(g->body_case), "stop");
    cr_assert_eq(evbuffer_get_length(b), 0);
    spillway__frame__free_unpacked(g, NULL);
    evbuffer_free(b);
}

Test(be_frame, encode_into_buffer_matches_evbuffer)
{
    Spillway__Drain d = SPILLWAY__DRAIN__INIT;
    d.reason = "scale-in";
    Spillway__Frame f;
    sw_frame_init_drain(&f, &d);
    uint8_t buf[64];
    size_t n = 0;
    cr_assert_eq(sw_frame_encode(&f, buf, sizeof(buf), &n), 0);
    cr_assert_eq(n, sw_frame_encoded_bytes(&f));
    cr_assert_eq(buf[0], 0);
    cr_assert_eq(buf[3], n - 4);
    cr_assert_eq(sw_frame_encode(&f, buf, n - 1, &n), -ENOBUFS);

    struct evbuffer *b = evbuffer_new();
    write_ok(b, &f);
    cr_assert_eq(evbuffer_get_length(b), sw_frame_encoded_bytes(&f));
    cr_assert_eq(memcmp(evbuffer_pullup(b, -1), buf, sw_frame_encoded_bytes(&f)), 0);
    evbuffer_free(b);
}

Test(be_frame, split_arrival_byte_by_byte)
{
    Spillway__Heartbeat hb = SPILLWAY__HEARTBEAT__INIT;
    hb.queue_depth = 7;
    hb.busy_ms = 3.5;
    Spillway__Frame f;
    sw_frame_init_heartbeat(&f, &hb);
    uint8_t wire[64];
    size_t n = 0;
    cr_assert_eq(sw_frame_encode(&f, wire, sizeof(wire), &n), 0);

    struct evbuffer *b = evbuffer_new();
    for (size_t i = 0; i < n; i++) {
        evbuffer_add(b, wire + i, 1);
        Spillway__Frame *g = NULL;
        int rc = sw_frame_read(b, MAX_BYTES, &g, err, sizeof(err));
        if (i + 1 < n) {
            cr_assert_eq(rc, 0, "byte %zu: rc=%d", i, rc);
            cr_assert_null(g);
            cr_assert_eq(evbuffer_get_length(b), i + 1, "nothing consumed");
        } else {
            cr_assert_eq(rc, 1);
            cr_assert_eq(g->heartbeat->queue_depth, 7);
            spillway__frame__free_unpacked(g, NULL);
        }
    }
    cr_assert_eq(evbuffer_get_length(b), 0);
    evbuffer_free(b);
}

Test(be_frame, split_in_two_arrivals)
{
    struct evbuffer *b = evbuffer_new();
    Spillway__Drain d = SPILLWAY__DRAIN__INIT;
    d.reason = "bye";
    Spillway__Frame f;
    sw_frame_init_drain(&f, &d);
    uint8_t wire[64];
    size_t n = 0;
    cr_assert_eq(sw_frame_encode(&f, wire, sizeof(wire), &n), 0);
    evbuffer_add(b, wire, n / 2);
    Spillway__Frame *g = NULL;
    cr_assert_eq(sw_frame_read(b, MAX_BYTES, &g, err, sizeof(err)), 0);
    evbuffer_add(b, wire + n / 2, n - n / 2);
    cr_assert_eq(sw_frame_read(b, MAX_BYTES, &g, err, sizeof(err)), 1);
    cr_assert_str_eq(g->drain->reason, "bye");
    spillway__frame__free_unpacked(g, NULL);
    evbuffer_free(b);
}

Test(be_frame, truncated_prefix_waits)
{
    struct evbuffer *b = evbuffer_new();
    uint8_t p[3] = {0, 0, 0};
    evbuffer_add(b, p, sizeof(p));
    Spillway__Frame *g = NULL;
    cr_assert_eq(sw_frame_read(b, MAX_BYTES, &g, err, sizeof(err)), 0);
    cr_assert_null(g);
    cr_assert_eq(evbuffer_get_length(b), 3);
    evbuffer_free(b);
}

Test(be_frame, oversized_rejected_from_prefix_alone)
{
    struct evbuffer *b = evbuffer_new();
    add_be32(b, 1u << 30); /* 1 GiB, and not one byte of body */
    Spillway__Frame *g = NULL;
    err[0] = '\0';
    cr_assert_eq(sw_frame_read(b, MAX_BYTES, &g, err, sizeof(err)), -EMSGSIZE);
    cr_assert_null(g);
    cr_assert_str_eq(err, "frame: 1073741824 bytes exceeds the maximum of 1048576 bytes");
    /* Exactly the maximum is allowed (it waits for the body). */
    evbuffer_drain(b, 4);
    add_be32(b, MAX_BYTES);
    cr_assert_eq(sw_frame_read(b, MAX_BYTES, &g, err, sizeof(err)), 0);
    evbuffer_free(b);
}

Test(be_frame, zero_length_rejected)
{
    struct evbuffer *b = evbuffer_new();
    add_be32(b, 0);
    Spillway__Frame *g = NULL;
    cr_assert_eq(sw_frame_read(b, MAX_BYTES, &g, NULL, 0), -EMSGSIZE);
    cr_assert_eq(sw_frame_read(b, MAX_BYTES, &g, err, sizeof(err)), -EMSGSIZE);
    cr_assert_str_eq(err, "frame: zero-length frame");
    cr_assert_null(g);
    evbuffer_free(b);
}

Test(be_frame, garbage_body_is_parse_error)
{
    /* Truncated submessage: field 1, length 16, one byte present. */
    static const uint8_t trunc[] = {0x0a, 0x10, 0x01};
    struct evbuffer *b = evbuffer_new();
    add_be32(b, sizeof(trunc));
    evbuffer_add(b, trunc, sizeof(trunc));
    Spillway__Frame *g = NULL;
    cr_assert_eq(sw_frame_read(b, MAX_BYTES, &g, err, sizeof(err)), SW_EPARSE);
    cr_assert_str_eq(err, "frame: 3 bytes do not decode as a spillway.Frame");
    cr_assert_null(g);
    evbuffer_free(b);

    /* Random bytes under a valid prefix. */
    sw_rng_t rng;
    sw_rng_init(&rng, 42);
    uint8_t junk[200];
    for (size_t i = 0; i < sizeof(junk); i++)
        junk[i] = (uint8_t)sw_rng_u64(&rng);
    b = evbuffer_new();
    add_be32(b, sizeof(junk));
    evbuffer_add(b, junk, sizeof(junk));
    cr_assert_eq(sw_frame_read(b, MAX_BYTES, &g, err, sizeof(err)), SW_EPARSE, "%s", err);
    cr_assert_null(g);
    evbuffer_free(b);
}

/* Found while fuzzing the worker protocol (bench/README.md, Fuzzing): protobuf-c gives every
 * submessage its own struct, so a frame of empty Requests asked for about 50 times its
 * size; a 32 MB frame, within the 64 MiB default, took 1.6 GB before any Hello. */
Test(be_frame, a_frame_that_decodes_to_far_more_than_its_size_is_refused)
{
    size_t k = 4000000, inner = 2 * k; /* 4 M empty Requests, 8 MB on the wire */
    uint8_t head[8] = {0x12};          /* Frame.batch, then its varint length */
    size_t h = 1;
    for (size_t v = inner;; v >>= 7) {
        head[h++] = (uint8_t)(v >= 0x80 ? (v & 0x7f) | 0x80 : v);
        if (v < 0x80)
            break;
    }
    uint8_t *body = sw_malloc(inner);
    for (size_t i = 0; i < inner; i += 2)
        body[i] = 0x12, body[i + 1] = 0; /* Batch.requests, empty */
    struct evbuffer *b = evbuffer_new();
    add_be32(b, (uint32_t)(h + inner));
    evbuffer_add(b, head, h);
    evbuffer_add(b, body, inner);
    sw_free(body);
    Spillway__Frame *g = NULL;
    cr_assert_eq(sw_frame_read(b, SW_FRAME_MAX_BYTES_DEFAULT, &g, err, sizeof(err)), SW_EPARSE);
    cr_assert_null(g);
    cr_assert_str_eq(err, "frame: 8000005 bytes would decode to more than 65048616 bytes of "
                          "memory");
    cr_assert_eq(evbuffer_get_length(b), 4 + h + inner, "nothing is consumed");
    evbuffer_free(b);
}

/* The budget leaves room for every real frame: a full batch of 784-float requests, and a
 * result of 60,000 one-float answers, the most memory per byte a real frame needs. */
Test(be_frame, real_frames_decode_within_the_memory_budget)
{
    static float in[784];
    Spillway__Request rq = SPILLWAY__REQUEST__INIT;
    rq.id = 1ull << 40;
    rq.n_input = SW_ARRAY_LEN(in);
    rq.input = in;
    Spillway__Request *reqs[128];
    for (size_t i = 0; i < SW_ARRAY_LEN(reqs); i++)
        reqs[i] = &rq;
    Spillway__Batch bt = SPILLWAY__BATCH__INIT;
    bt.n_requests = SW_ARRAY_LEN(reqs);
    bt.requests = reqs;
    Spillway__Frame f;
    sw_frame_init_batch(&f, &bt);
    struct evbuffer *b = evbuffer_new();
    write_ok(b, &f);
    Spillway__Frame *g = read_one(b, SPILLWAY__FRAME__BODY_BATCH);
    cr_assert_eq(g->batch->n_requests, 128);
    spillway__frame__free_unpacked(g, NULL);

    size_t n = 60000; /* 0.7 MB on the wire, within read_one's 1 MiB */
    float one = 0.5f;
    Spillway__Answer *as = sw_calloc(n, sizeof(*as));
    Spillway__Answer **ptrs = sw_calloc(n, sizeof(*ptrs));
    for (size_t i = 0; i < n; i++) {
        spillway__answer__init(&as[i]);
        as[i].id = i;
        as[i].n_output = 1;
        as[i].output = &one;
        ptrs[i] = &as[i];
    }
    Spillway__BatchResult r = SPILLWAY__BATCH_RESULT__INIT;
    r.n_answers = n;
    r.answers = ptrs;
    sw_frame_init_result(&f, &r);
    write_ok(b, &f);
    g = read_one(b, SPILLWAY__FRAME__BODY_RESULT);
    cr_assert_eq(g->result->n_answers, n);
    spillway__frame__free_unpacked(g, NULL);
    sw_free(ptrs);
    sw_free(as);
    evbuffer_free(b);
}

Test(be_frame, empty_or_unknown_frame_rejected)
{
    Spillway__Frame f = SPILLWAY__FRAME__INIT;
    struct evbuffer *b = evbuffer_new();
    cr_assert_eq(sw_frame_write(b, &f), -EINVAL, "the writer refuses an empty frame");
    cr_assert_eq(evbuffer_get_length(b), 0);

    /* Field 9 (varint 1): a type from a newer peer leaves the oneof unset. */
    static const uint8_t unknown[] = {0x48, 0x01};
    add_be32(b, sizeof(unknown));
    evbuffer_add(b, unknown, sizeof(unknown));
    Spillway__Frame *g = NULL;
    cr_assert_eq(sw_frame_read(b, MAX_BYTES, &g, err, sizeof(err)), SW_EPARSE);
    cr_assert_str_eq(err, "frame: unknown frame type (2 bytes)");
    cr_assert_null(g);
    evbuffer_free(b);
}

/* A valid batch then a heartbeat, mutated 10,000 ways: any outcome is fine as long as
 * nothing crashes, reads stay in bounds (ASan) and every frame returned is freed (LSan). */
Test(be_frame, fuzz_mutations)
{
    float in[16];
    for (size_t i = 0; i < SW_ARRAY_LEN(in); i++)
        in[i] = (float)i;
    Spillway__Request r = SPILLWAY__REQUEST__INIT;
    r.id = 3;
    r.n_input = SW_ARRAY_LEN(in);
    r.input = in;
    Spillway__Request *reqs[] = {&r, &r};
    Spillway__Batch bt = SPILLWAY__BATCH__INIT;
    bt.batch_id = 1;
    bt.n_requests = 2;
    bt.requests = reqs;
    Spillway__Heartbeat hb = SPILLWAY__HEARTBEAT__INIT;
    hb.queue_depth = 1;
    Spillway__Frame f1, f2;
    sw_frame_init_batch(&f1, &bt);
    sw_frame_init_heartbeat(&f2, &hb);
    uint8_t wire[512];
    size_t n1 = 0, n2 = 0;
    cr_assert_eq(sw_frame_encode(&f1, wire, sizeof(wire), &n1), 0);
    cr_assert_eq(sw_frame_encode(&f2, wire + n1, sizeof(wire) - n1, &n2), 0);
    size_t n = n1 + n2;

    sw_rng_t rng;
    sw_rng_init(&rng, 2026);
    uint8_t m[512];
    int frames = 0, errors = 0;
    for (int iter = 0; iter < 10000; iter++) {
        memcpy(m, wire, n);
        size_t len = n;
        int edits = 1 + (int)(sw_rng_u64(&rng) % 4);
        for (int e = 0; e < edits; e++) {
            size_t at = (size_t)(sw_rng_u64(&rng) % len);
            switch (sw_rng_u64(&rng) % 4) {
            case 0: m[at] ^= (uint8_t)(1u << (sw_rng_u64(&rng) % 8)); break;
            case 1: m[at] = (uint8_t)sw_rng_u64(&rng); break;
            case 2: len = at + 1; break; /* truncate */
            default: m[at] = (uint8_t)(sw_rng_u64(&rng) % 2 ? 0xff : 0x00); break;
            }
        }
        struct evbuffer *b = evbuffer_new();
        /* Arrive in two pieces so the reassembly path is fuzzed too. */
        size_t cut = (size_t)(sw_rng_u64(&rng) % (len + 1));
        evbuffer_add(b, m, cut);
        for (int piece = 0; piece < 2; piece++) {
            if (piece == 1)
                evbuffer_add(b, m + cut, len - cut);
            for (;;) {
                Spillway__Frame *g = NULL;
                int rc = sw_frame_read(b, sizeof(wire), &g, err, sizeof(err));
                if (rc == 1) {
                    frames++;
                    spillway__frame__free_unpacked(g, NULL);
                    continue;
                }
                cr_assert_null(g);
                if (rc < 0) {
                    errors++;
                    cr_assert(rc == -EMSGSIZE || rc == SW_EPARSE, "rc=%d", rc);
                    piece = 2; /* the connection would close here */
                }
                break;
            }
        }
        evbuffer_free(b);
    }
    cr_log_info("fuzz: %d frames decoded, %d streams refused", frames, errors);
    cr_assert_gt(frames, 0);
    cr_assert_gt(errors, 0);
}

/* ---- sw_frame_send ---- */

typedef struct link {
    struct event_base *base;
    struct bufferevent *bev; /* our end */
    int peer;                /* the other end, read by the test */
    struct evbuffer *scratch, *got;
} link_t;

/* A connected pair of sockets, our end in a bufferevent with writing enabled. sndbuf_bytes
 * (0: the system's) bounds what our end's socket takes at once. */
static void link_open(link_t *l, int sndbuf_bytes)
{
    int fds[2];
    cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    for (int i = 0; i < 2; i++)
        cr_assert_eq(fcntl(fds[i], F_SETFL, fcntl(fds[i], F_GETFL) | O_NONBLOCK), 0);
    if (sndbuf_bytes)
        cr_assert_eq(setsockopt(fds[0], SOL_SOCKET, SO_SNDBUF, &sndbuf_bytes, sizeof(int)), 0);
    l->base = event_base_new();
    l->bev = bufferevent_socket_new(l->base, fds[0], BEV_OPT_CLOSE_ON_FREE);
    cr_assert_not_null(l->bev);
    bufferevent_enable(l->bev, EV_READ | EV_WRITE);
    l->peer = fds[1];
    l->scratch = evbuffer_new();
    l->got = evbuffer_new();
}

static void link_close(link_t *l)
{
    bufferevent_free(l->bev);
    close(l->peer);
    evbuffer_free(l->scratch);
    evbuffer_free(l->got);
    event_base_free(l->base);
}

/* Moves what has reached the peer into l->got, without running our loop. */
static void link_drain_peer(link_t *l)
{
    while (evbuffer_read(l->got, l->peer, 65536) > 0)
        ;
}

static void send_ok(link_t *l, const Spillway__Frame *f)
{
    cr_assert_eq(sw_frame_send(l->bev, l->scratch, f), 0);
    cr_assert_eq(evbuffer_get_length(l->scratch), 0, "scratch must be left empty");
}

static void heartbeat_frame(Spillway__Frame *f, Spillway__Heartbeat *h, uint64_t done)
{
    spillway__heartbeat__init(h);
    h->batches_done = done;
    sw_frame_init_heartbeat(f, h);
}

Test(be_frame, send_writes_through_when_nothing_is_queued)
{
    link_t l;
    link_open(&l, 0);
    Spillway__Heartbeat h;
    Spillway__Frame f;
    heartbeat_frame(&f, &h, 41);
    send_ok(&l, &f);
    /* Already on the wire, though our loop never ran, and nothing left queued. */
    cr_expect_eq(evbuffer_get_length(bufferevent_get_output(l.bev)), 0);
    link_drain_peer(&l);
    Spillway__Frame *g = read_one(l.got, SPILLWAY__FRAME__BODY_HEARTBEAT);
    cr_expect_eq(g->heartbeat->batches_done, 41);
    spillway__frame__free_unpacked(g, NULL);
    cr_expect_eq(evbuffer_get_length(l.got), 0);
    link_close(&l);
}

/* Runs our loop until the bufferevent has written everything, then collects it. */
static void link_flush(link_t *l)
{
    while (evbuffer_get_length(bufferevent_get_output(l->bev)) > 0)
        event_base_loop(l->base, EVLOOP_ONCE);
    link_drain_peer(l);
}

static void expect_heartbeats(link_t *l, uint64_t first, uint64_t last)
{
    for (uint64_t want = first; want <= last; want++) {
        Spillway__Frame *g = read_one(l->got, SPILLWAY__FRAME__BODY_HEARTBEAT);
        cr_expect_eq(g->heartbeat->batches_done, want);
        spillway__frame__free_unpacked(g, NULL);
    }
    cr_expect_eq(evbuffer_get_length(l->got), 0);
}

Test(be_frame, send_goes_behind_bytes_already_queued)
{
    link_t l;
    link_open(&l, 0);
    Spillway__Heartbeat h1, h2;
    Spillway__Frame f1, f2;
    heartbeat_frame(&f1, &h1, 1);
    heartbeat_frame(&f2, &h2, 2);
    write_ok(bufferevent_get_output(l.bev), &f1); /* queued: the loop has not run */
    send_ok(&l, &f2);
    link_drain_peer(&l);
    cr_expect_eq(evbuffer_get_length(l.got), 0, "nothing may pass the queued frame");
    link_flush(&l);
    expect_heartbeats(&l, 1, 2);
    link_close(&l);
}

Test(be_frame, send_only_queues_while_writing_is_disabled)
{
    link_t l;
    link_open(&l, 0);
    Spillway__Heartbeat h;
    Spillway__Frame f;
    heartbeat_frame(&f, &h, 7);
    bufferevent_disable(l.bev, EV_WRITE);
    send_ok(&l, &f);
    link_drain_peer(&l);
    cr_expect_eq(evbuffer_get_length(l.got), 0);
    bufferevent_enable(l.bev, EV_WRITE);
    link_flush(&l);
    expect_heartbeats(&l, 7, 7);
    link_close(&l);
}

Test(be_frame, send_leaves_what_a_full_socket_refuses_to_the_bufferevent)
{
    link_t l;
    link_open(&l, 4096);
    /* 64 rows of 784 floats: about 200 KB, far more than the socket takes at once. */
    static float x[64][784];
    Spillway__Request reqs[64], *ptrs[64];
    for (size_t i = 0; i < 64; i++) {
        for (size_t k = 0; k < 784; k++)
            x[i][k] = (float)(i * 784 + k);
        spillway__request__init(&reqs[i]);
        reqs[i].id = i;
        reqs[i].n_input = 784;
        reqs[i].input = x[i];
        ptrs[i] = &reqs[i];
    }
    Spillway__Batch b = SPILLWAY__BATCH__INIT;
    b.batch_id = 5;
    b.n_requests = 64;
    b.requests = ptrs;
    Spillway__Frame f;
    sw_frame_init_batch(&f, &b);
    send_ok(&l, &f);
    cr_expect_gt(evbuffer_get_length(bufferevent_get_output(l.bev)), 0, "the rest is queued");
    /* The peer reads while our loop writes the rest. */
    while (evbuffer_get_length(bufferevent_get_output(l.bev)) > 0) {
        link_drain_peer(&l);
        event_base_loop(l.base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
    }
    link_drain_peer(&l);
    Spillway__Frame *g = read_one(l.got, SPILLWAY__FRAME__BODY_BATCH);
    cr_assert_eq(g->batch->n_requests, 64);
    for (size_t i = 0; i < 64; i++)
        cr_assert_eq(memcmp(g->batch->requests[i]->input, x[i], sizeof(x[i])), 0, "row %zu", i);
    spillway__frame__free_unpacked(g, NULL);
    link_close(&l);
}
