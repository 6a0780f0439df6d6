// Mapping between torch's tensor types / reduce ops and railcc's, and the checks every op makes
// on its tensors before anything is sent (so a bad call fails on the calling rank, clearly).
#pragma once

#include <ATen/ATen.h>

#include <cstddef>
#include <optional>
#include <string>
#include <torch/csrc/distributed/c10d/Types.hpp>

#include "railcc/data_type.hpp"
#include "railcc/reduce_op.hpp"

namespace railcc_torch {

// railcc's type for a torch scalar type, if railcc has one.
inline std::optional<railcc::DataType> to_railcc_type(at::ScalarType t) {
  switch (t) {
    case at::kByte:
    case at::kBool:  // one byte holding 0 or 1
      return railcc::DataType::kUint8;
    case at::kChar:
      return railcc::DataType::kInt8;
    case at::kInt:
      return railcc::DataType::kInt32;
    case at::kLong:
      return railcc::DataType::kInt64;
    case at::kUInt32:
      return railcc::DataType::kUint32;
    case at::kUInt64:
      return railcc::DataType::kUint64;
    case at::kHalf:
      return railcc::DataType::kFloat16;
    case at::kBFloat16:
      return railcc::DataType::kBFloat16;
    case at::kFloat:
      return railcc::DataType::kFloat32;
    case at::kDouble:
      return railcc::DataType::kFloat64;
    default:
      return std::nullopt;
  }
}

// How a tensor travels when nothing is reduced: in its own type when railcc has it (so ranks
// that disagree on the type get a mismatch error), else as raw bytes (int16, complex, float8...).
// A tensor of n elements is n * per_element elements of `type` on the wire.
struct Wire {
  railcc::DataType type;
  std::size_t per_element;
  std::size_t count(const at::Tensor& t) const {
    return static_cast<std::size_t>(t.numel()) * per_element;
  }
};

inline Wire wire_of(at::ScalarType t) {
  if (auto dt = to_railcc_type(t)) return {*dt, 1};
  return {railcc::DataType::kUint8, c10::elementSize(t)};
}

// The railcc type a reduction over `t` uses; throws when railcc cannot reduce it.
railcc::DataType reduction_type(const at::Tensor& t, const char* op);

// railcc's reduce op for torch's; throws for ops railcc has no equivalent of (bitwise ops).
// PREMUL_SUM maps to sum: the caller scales the input first. bool tensors reduce as logical
// or / and (sum and max give the same answer on 0/1, as do product and min).
railcc::ReduceOp reduction_op(const c10d::ReduceOp& op, at::ScalarType t, const char* opname);

// Dense, strided CPU tensor: what railcc's host-memory collectives can read and write.
void check_cpu_dense(const at::Tensor& t, const char* op);
// Every tensor of `ts` has the type and number of elements of `like` (shape not compared: torch
// only requires matching sizes).
void check_same_type_and_numel(const at::Tensor& like, at::TensorList ts, const char* op,
                               const char* what);
// "float32 [4, 8]" for messages.
std::string describe(const at::Tensor& t);

}  // namespace railcc_torch
