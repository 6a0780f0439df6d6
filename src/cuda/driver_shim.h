// The few CUDA driver calls railcc needs without linking libcuda: libcuda.so.1 is opened with
// dlopen on first use, so a process (and a build) without a driver simply has none, and asking
// about a pointer never creates a CUDA context (the runtime's cudaPointerGetAttributes would).
#pragma once

#include <cstdint>
#include <string>

#include "src/cuda/device_api.h"

namespace railcc::cuda::driver {

// Loads libcuda and runs cuInit(0) once. False when there is no usable driver (why: reason()).
bool available();
std::string reason();
// Devices the driver sees (0 without a driver).
int device_count();

// Memory type of p: device or managed memory is `device`; host memory, pinned or not, and
// anything CUDA does not know is host. Without a driver every pointer is host.
PointerInfo pointer_info(const void* p);

// cuStreamWaitValue32(stream, addr, value, CU_STREAM_WAIT_VALUE_GEQ): the stream waits for a word
// in host-mapped memory without occupying the GPU. Returns the CUresult (0 = success; an error
// such as CUDA_ERROR_NOT_SUPPORTED means "use the kernel fallback").
int stream_wait_value32(void* stream, const void* device_addr, uint32_t value);

}  // namespace railcc::cuda::driver
