// Reduction operators.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace railcc {

enum class ReduceOp : uint8_t {
  kSum = 0,
  kProd = 1,
  kMax = 2,
  kMin = 3,
  kAvg = 4,  // sum divided by the number of ranks (integer types truncate toward zero)
};
inline constexpr int kNumReduceOps = 5;
inline constexpr ReduceOp kAllReduceOps[kNumReduceOps] = {
    ReduceOp::kSum, ReduceOp::kProd, ReduceOp::kMax, ReduceOp::kMin, ReduceOp::kAvg};

const char* reduce_op_name(ReduceOp op) noexcept;  // sum prod max min avg
bool is_valid(ReduceOp op) noexcept;
std::optional<ReduceOp> parse_reduce_op(std::string_view name) noexcept;

}  // namespace railcc
