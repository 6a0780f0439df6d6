#include "railcc/data_type.hpp"

#include <algorithm>
#include <cctype>
#include <string>

#include "railcc/reduce_op.hpp"

namespace railcc {

std::size_t data_type_size(DataType type) noexcept {
  switch (type) {
    case DataType::kInt8:
    case DataType::kUint8:
      return 1;
    case DataType::kFloat16:
    case DataType::kBFloat16:
      return 2;
    case DataType::kInt32:
    case DataType::kUint32:
    case DataType::kFloat32:
      return 4;
    case DataType::kInt64:
    case DataType::kUint64:
    case DataType::kFloat64:
      return 8;
  }
  return 0;
}

const char* data_type_name(DataType type) noexcept {
  switch (type) {
    case DataType::kInt8:
      return "int8";
    case DataType::kUint8:
      return "uint8";
    case DataType::kInt32:
      return "int32";
    case DataType::kUint32:
      return "uint32";
    case DataType::kInt64:
      return "int64";
    case DataType::kUint64:
      return "uint64";
    case DataType::kFloat16:
      return "half";
    case DataType::kFloat32:
      return "float";
    case DataType::kFloat64:
      return "double";
    case DataType::kBFloat16:
      return "bfloat16";
  }
  return "invalid";
}

bool is_valid(DataType type) noexcept { return data_type_size(type) != 0; }

namespace {
std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}
}  // namespace

std::optional<DataType> parse_data_type(std::string_view name) noexcept {
  struct Alias {
    const char* name;
    DataType type;
  };
  static constexpr Alias kAliases[] = {
      {"int8", DataType::kInt8},         {"char", DataType::kInt8},
      {"uint8", DataType::kUint8},       {"int32", DataType::kInt32},
      {"int", DataType::kInt32},         {"uint32", DataType::kUint32},
      {"int64", DataType::kInt64},       {"uint64", DataType::kUint64},
      {"half", DataType::kFloat16},      {"float16", DataType::kFloat16},
      {"fp16", DataType::kFloat16},      {"f16", DataType::kFloat16},
      {"float", DataType::kFloat32},     {"float32", DataType::kFloat32},
      {"fp32", DataType::kFloat32},      {"f32", DataType::kFloat32},
      {"double", DataType::kFloat64},    {"float64", DataType::kFloat64},
      {"fp64", DataType::kFloat64},      {"f64", DataType::kFloat64},
      {"bfloat16", DataType::kBFloat16}, {"bf16", DataType::kBFloat16},
  };
  const std::string key = lower(name);
  for (const Alias& a : kAliases) {
    if (key == a.name) return a.type;
  }
  return std::nullopt;
}

const char* reduce_op_name(ReduceOp op) noexcept {
  switch (op) {
    case ReduceOp::kSum:
      return "sum";
    case ReduceOp::kProd:
      return "prod";
    case ReduceOp::kMax:
      return "max";
    case ReduceOp::kMin:
      return "min";
    case ReduceOp::kAvg:
      return "avg";
  }
  return "invalid";
}

bool is_valid(ReduceOp op) noexcept { return static_cast<uint8_t>(op) < kNumReduceOps; }

std::optional<ReduceOp> parse_reduce_op(std::string_view name) noexcept {
  const std::string key = lower(name);
  for (int i = 0; i < kNumReduceOps; ++i) {
    if (key == reduce_op_name(static_cast<ReduceOp>(i))) return static_cast<ReduceOp>(i);
  }
  return std::nullopt;
}

}  // namespace railcc
