#include "tests/mp/values.h"

#include <algorithm>
#include <cstring>

#include "kernels/cpu/reduce.h"

namespace railcc::test {

double input_value(int rank, std::size_t i, ReduceOp op) {
  if (op == ReduceOp::kProd) return static_cast<double>(((rank + i) % 2) + 1);
  return static_cast<double>(((rank * 7 + i) % 13) + 1);
}

void store_value(std::vector<std::byte>& buf, DataType t, std::size_t i, double v) {
  std::byte* p = buf.data() + i * data_type_size(t);
  const auto as_int = static_cast<int64_t>(v);
  switch (t) {
    case DataType::kInt8: {
      int8_t x = static_cast<int8_t>(as_int);
      std::memcpy(p, &x, 1);
      break;
    }
    case DataType::kUint8: {
      uint8_t x = static_cast<uint8_t>(as_int);
      std::memcpy(p, &x, 1);
      break;
    }
    case DataType::kInt32: {
      int32_t x = static_cast<int32_t>(as_int);
      std::memcpy(p, &x, 4);
      break;
    }
    case DataType::kUint32: {
      uint32_t x = static_cast<uint32_t>(as_int);
      std::memcpy(p, &x, 4);
      break;
    }
    case DataType::kInt64: {
      std::memcpy(p, &as_int, 8);
      break;
    }
    case DataType::kUint64: {
      uint64_t x = static_cast<uint64_t>(as_int);
      std::memcpy(p, &x, 8);
      break;
    }
    case DataType::kFloat16: {
      uint16_t x = kernels::float_to_half(static_cast<float>(v));
      std::memcpy(p, &x, 2);
      break;
    }
    case DataType::kBFloat16: {
      uint16_t x = kernels::float_to_bfloat16(static_cast<float>(v));
      std::memcpy(p, &x, 2);
      break;
    }
    case DataType::kFloat32: {
      float x = static_cast<float>(v);
      std::memcpy(p, &x, 4);
      break;
    }
    case DataType::kFloat64: {
      std::memcpy(p, &v, 8);
      break;
    }
  }
}

std::vector<std::byte> make_input(int rank, std::size_t count, DataType t, ReduceOp op) {
  std::vector<std::byte> buf(count * data_type_size(t));
  for (std::size_t i = 0; i < count; ++i) store_value(buf, t, i, input_value(rank, i, op));
  return buf;
}

std::vector<std::byte> expected_reduction(int world, std::size_t count, DataType t, ReduceOp op) {
  std::vector<std::byte> out(count * data_type_size(t));
  for (std::size_t i = 0; i < count; ++i) {
    double acc = input_value(0, i, op);
    for (int r = 1; r < world; ++r) {
      const double v = input_value(r, i, op);
      switch (op) {
        case ReduceOp::kSum:
        case ReduceOp::kAvg:
          acc += v;
          break;
        case ReduceOp::kProd:
          acc *= v;
          break;
        case ReduceOp::kMax:
          acc = std::max(acc, v);
          break;
        case ReduceOp::kMin:
          acc = std::min(acc, v);
          break;
      }
    }
    store_value(out, t, i, acc);  // exact: sums <= 8*13, products <= 2^8
  }
  if (op == ReduceOp::kAvg) kernels::divide_scalar(out.data(), out.data(), count, t, world);
  return out;
}

long first_mismatch(const std::vector<std::byte>& got, const std::vector<std::byte>& want,
                    DataType t) {
  const std::size_t es = data_type_size(t);
  if (got.size() != want.size()) return 0;
  for (std::size_t i = 0; i * es < got.size(); ++i) {
    if (std::memcmp(got.data() + i * es, want.data() + i * es, es) != 0)
      return static_cast<long>(i);
  }
  return -1;
}

}  // namespace railcc::test
