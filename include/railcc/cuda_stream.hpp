// The CUDA stream an op on GPU buffers is ordered on.
#pragma once

namespace railcc {

// A cudaStream_t, passed as void* so that railcc's headers need no CUDA headers:
//   comm->all_reduce(dev_in, dev_out, n, DataType::kFloat32, ReduceOp::kSum,
//                    railcc::CudaStream{stream});
// CudaStream{} (nullptr) is the legacy default stream. See communicator.hpp for the semantics.
struct CudaStream {
  void* handle = nullptr;
};

// True when this process can run collectives on CUDA buffers: railcc was built with CUDA and a
// CUDA driver sees at least one GPU (asked once, without creating a CUDA context).
bool cuda_available();

}  // namespace railcc
