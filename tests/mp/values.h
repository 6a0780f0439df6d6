// Typed test data: small integer patterns that every data type represents exactly, and the
// expected result of each reduction computed independently of the library's algorithms.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "railcc/data_type.hpp"
#include "railcc/reduce_op.hpp"

namespace railcc::test {

// Value rank `rank` contributes at element i for op `op`: 1..13 for sums, 1..2 for products.
double input_value(int rank, std::size_t i, ReduceOp op);
// Writes v (a small integer) as element i of a buffer of type t; integers wrap like C casts.
void store_value(std::vector<std::byte>& buf, DataType t, std::size_t i, double v);
std::vector<std::byte> make_input(int rank, std::size_t count, DataType t, ReduceOp op);
// Expected all_reduce result over `world` ranks.
std::vector<std::byte> expected_reduction(int world, std::size_t count, DataType t, ReduceOp op);
// Index of the first differing element, or -1.
long first_mismatch(const std::vector<std::byte>& got, const std::vector<std::byte>& want,
                    DataType t);

}  // namespace railcc::test
