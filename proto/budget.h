/* A protobuf-c allocator with a budget, for decoding files a user names.
 *
 * protobuf-c allocates every submessage, string and array of a message it unpacks, and
 * a message made only of empty repeated submessages costs it about 72 bytes of memory
 * per 2 bytes of input: a 256 MB file within every size cap would ask for 9 GB. Decoding
 * with a budget proportional to the input bounds that; an exhausted budget makes the
 * unpack fail cleanly (it returns NULL), and sw_pb_budget_exhausted() tells that apart
 * from malformed input. Any thread; one budget per decode. */
#ifndef SW_PROTO_BUDGET_H
#define SW_PROTO_BUDGET_H

#include <stdbool.h>
#include <stddef.h>

#include <protobuf-c/protobuf-c.h>

typedef struct sw_pb_budget {
    ProtobufCAllocator allocator; /* pass &b->allocator to __unpack and __free_unpacked */
    size_t left_bytes;
    bool exhausted;
} sw_pb_budget_t;

/* The budget for decoding `input_bytes` of a message whose decoded form is about as large
 * as its encoding (packed numbers, a few strings): twice the input plus 1 MiB for the
 * messages' own structs. */
size_t sw_pb_budget_for(size_t input_bytes);

/* Sets up a budget of max_bytes (caller storage, nothing to free). */
void sw_pb_budget_init(sw_pb_budget_t *b, size_t max_bytes);

/* Whether a decode failed because it needed more than the budget. */
bool sw_pb_budget_exhausted(const sw_pb_budget_t *b);

#endif
