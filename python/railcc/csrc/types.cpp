#include "types.h"

#include <sstream>

#include "railcc/status.hpp"

namespace railcc_torch {

railcc::DataType reduction_type(const at::Tensor& t, const char* op) {
  const auto dt = to_railcc_type(t.scalar_type());
  TORCH_CHECK_TYPE(dt.has_value(), "railcc ", op, ": cannot reduce tensors of type ",
                   t.scalar_type(),
                   " (supported: bool, uint8, int8, int32, int64, uint32, uint64, float16, "
                   "bfloat16, float32, float64; complex tensors are reduced as real views by "
                   "torch.distributed)");
  return *dt;
}

railcc::ReduceOp reduction_op(const c10d::ReduceOp& op, at::ScalarType t, const char* opname) {
  const bool is_bool = t == at::kBool;
  switch (op.op_) {
    case c10d::ReduceOp::SUM:
    case c10d::ReduceOp::PREMUL_SUM:
      return is_bool ? railcc::ReduceOp::kMax : railcc::ReduceOp::kSum;
    case c10d::ReduceOp::AVG:
      TORCH_CHECK_VALUE(!is_bool, "railcc ", opname, ": AVG of bool tensors is undefined");
      return railcc::ReduceOp::kAvg;
    case c10d::ReduceOp::PRODUCT:
      return is_bool ? railcc::ReduceOp::kMin : railcc::ReduceOp::kProd;
    case c10d::ReduceOp::MIN:
      return railcc::ReduceOp::kMin;
    case c10d::ReduceOp::MAX:
      return railcc::ReduceOp::kMax;
    default:
      TORCH_CHECK_VALUE(false, "railcc ", opname, ": reduce op ", static_cast<int>(op.op_),
                        " is not supported (railcc has SUM, AVG, PRODUCT, MIN, MAX and "
                        "PREMUL_SUM; no bitwise BAND/BOR/BXOR)");
  }
}

void check_cpu_dense(const at::Tensor& t, const char* op) {
  TORCH_CHECK_VALUE(t.defined(), "railcc ", op, ": undefined tensor");
  TORCH_CHECK_VALUE(t.device().is_cpu(), "railcc ", op, ": tensor is on ", t.device(),
                    "; the railcc backend handles CPU tensors (register another backend for ",
                    t.device().type(), ", e.g. init_process_group(\"cpu:railcc,cuda:nccl\"))");
  TORCH_CHECK_VALUE(t.layout() == at::kStrided, "railcc ", op,
                    ": sparse and other non-strided tensors are not supported (layout ", t.layout(),
                    ")");
}

void check_same_type_and_numel(const at::Tensor& like, at::TensorList ts, const char* op,
                               const char* what) {
  for (std::size_t i = 0; i < ts.size(); ++i) {
    check_cpu_dense(ts[i], op);
    TORCH_CHECK_VALUE(ts[i].scalar_type() == like.scalar_type() && ts[i].numel() == like.numel(),
                      "railcc ", op, ": ", what, " ", i, " is ", describe(ts[i]),
                      " but the input is ", describe(like),
                      " (each must match it in type and "
                      "number of elements)");
  }
}

std::string describe(const at::Tensor& t) {
  std::ostringstream s;
  s << t.scalar_type() << " " << t.sizes();
  return s.str();
}

}  // namespace railcc_torch
