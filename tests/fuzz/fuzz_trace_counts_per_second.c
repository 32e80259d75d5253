/* Fuzz target: the trace reader, sw_trace_open and sw_trace_next (runs/trace.h), on the
 * bytes as a trace file, for the counts-per-second format (whitespace-separated counts).
 * sw_fuzz_trace (fuzz_util.c) reads it twice: as recorded, and scaled down so that the
 * whole file is parsed. */
#include "config/config.h"
#include "tests/fuzz/fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sw_fuzz_trace(data, size, SW_TRACE_COUNTS_PER_SECOND);
    return 0;
}
