/* The budgeted allocator of budget.h. Allocations are counted, frees are not: an unpack
 * frees only when it fails, and then it is over anyway. */
#include "proto/budget.h"

#include <stdlib.h>

static void *budget_alloc(void *data, size_t size)
{
    sw_pb_budget_t *b = data;
    if (size > b->left_bytes) {
        b->exhausted = true;
        return NULL;
    }
    b->left_bytes -= size;
    /* Not sw_malloc: an allocation that fails must fail the decode, not the process. */
    return malloc(size ? size : 1);
}

static void budget_free(void *data, void *ptr)
{
    (void)data;
    free(ptr);
}

size_t sw_pb_budget_for(size_t input_bytes)
{
    return 2 * input_bytes + ((size_t)1 << 20);
}

void sw_pb_budget_init(sw_pb_budget_t *b, size_t max_bytes)
{
    b->allocator =
        (ProtobufCAllocator){.alloc = budget_alloc, .free = budget_free, .allocator_data = b};
    b->left_bytes = max_bytes;
    b->exhausted = false;
}

bool sw_pb_budget_exhausted(const sw_pb_budget_t *b)
{
    return b->exhausted;
}
