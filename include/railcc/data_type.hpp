// Element types a collective can carry.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace railcc {

enum class DataType : uint8_t {
  kInt8 = 0,
  kUint8 = 1,
  kInt32 = 2,
  kUint32 = 3,
  kInt64 = 4,
  kUint64 = 5,
  kFloat16 = 6,
  kFloat32 = 7,
  kFloat64 = 8,
  kBFloat16 = 9,
};
inline constexpr int kNumDataTypes = 10;
// Every data type, e.g. to loop over them in tests and benchmarks.
inline constexpr DataType kAllDataTypes[kNumDataTypes] = {
    DataType::kInt8,    DataType::kUint8,   DataType::kInt32,   DataType::kUint32,
    DataType::kInt64,   DataType::kUint64,  DataType::kFloat16, DataType::kFloat32,
    DataType::kFloat64, DataType::kBFloat16};

// Size in bytes of one element; 0 for a value outside the enum.
std::size_t data_type_size(DataType type) noexcept;
// nccl-tests spelling: int8 uint8 int32 uint32 int64 uint64 half float double bfloat16.
const char* data_type_name(DataType type) noexcept;
bool is_valid(DataType type) noexcept;
// Accepts the nccl-tests names and common aliases (float32, fp16, bf16, f64, ...).
std::optional<DataType> parse_data_type(std::string_view name) noexcept;

}  // namespace railcc
