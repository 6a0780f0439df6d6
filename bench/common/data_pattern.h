// Deterministic buffer contents for the *_perf benchmarks and the expected results of each
// collective, for every railcc data type.
//
// Element `i` of rank `r`'s logical input array depends only on (i + seed + r * stride) modulo a
// small period, so inputs and expected outputs are filled from a precomputed table. Reductions use
// small integers chosen so that every result is exactly representable in every type (sums stay at
// most 7 * nranks, products are powers of two), which makes the check exact whatever order the
// library reduces in. Data movement uses a wider range so blocks from different ranks differ.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>

#include "railcc/data_type.hpp"
#include "railcc/reduce_op.hpp"

namespace railcc::bench {

enum class Pattern {
  kCopy,    // values 1..113: broadcast, all_gather, all_to_all, send/recv
  kSum,     // values 1..7: sum and avg
  kProd,    // values 1 and 2: prod
  kMinMax,  // values 1..13: min and max
};

// The input pattern of a reduction with `op`, or kCopy when there is no op.
Pattern PatternFor(std::optional<ReduceOp> op);

// Writes elements [offset, offset + count) of rank `rank`'s logical input array to dst.
void FillInput(void* dst, std::size_t count, std::size_t offset, DataType type, Pattern pattern,
               int rank, int seed);

// Writes `op` applied over the inputs of ranks 0..nranks-1 (pattern PatternFor(op)) at elements
// [offset, offset + count) to dst. Integers wrap like the library does; avg truncates integers.
void FillReduced(void* dst, std::size_t count, std::size_t offset, DataType type, ReduceOp op,
                 int nranks, int seed);

// Number of elements of `got` that differ from `want`. Integers compare bit for bit and floats by
// value; floating-point avg accepts a relative error of (nranks + 2) units of roundoff since the
// library may divide before, while or after summing. Everything else must match exactly.
int64_t CountWrong(const void* got, const void* want, std::size_t count, DataType type,
                   std::optional<ReduceOp> op, int nranks);

// IEEE binary16 and bfloat16 conversions (round to nearest even, NaN stays NaN).
uint16_t FloatToHalf(float value);
float HalfToFloat(uint16_t bits);
uint16_t FloatToBf16(float value);
float Bf16ToFloat(uint16_t bits);

}  // namespace railcc::bench
