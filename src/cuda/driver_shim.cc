#include "src/cuda/driver_shim.h"

#include <dlfcn.h>
#include <fmt/format.h>

#include <mutex>

namespace railcc::cuda::driver {
namespace {

// The CUDA driver ABI, as much as used here (values from cuda.h, stable across versions).
using CUresult = int;
using CUdeviceptr = unsigned long long;
constexpr int kAttrMemoryType = 2;     // CU_POINTER_ATTRIBUTE_MEMORY_TYPE
constexpr int kAttrIsManaged = 8;      // CU_POINTER_ATTRIBUTE_IS_MANAGED
constexpr int kAttrDeviceOrdinal = 9;  // CU_POINTER_ATTRIBUTE_DEVICE_ORDINAL
constexpr unsigned kMemoryTypeDevice = 2;
constexpr unsigned kMemoryTypeUnified = 4;
constexpr unsigned kWaitValueGeq = 0;  // CU_STREAM_WAIT_VALUE_GEQ

struct Driver {
  void* lib = nullptr;
  CUresult (*init)(unsigned) = nullptr;
  CUresult (*get_count)(int*) = nullptr;
  CUresult (*pointer_get_attributes)(unsigned, int*, void**, CUdeviceptr) = nullptr;
  CUresult (*wait_value32)(void*, CUdeviceptr, uint32_t, unsigned) = nullptr;
  int count = 0;
  bool ok = false;
  std::string why;
};

void open_driver(Driver& d) {
  d.lib = ::dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (!d.lib) {
    d.why = "no CUDA driver (libcuda.so.1 not found)";
    return;
  }
  auto sym = [&d](const char* name) { return ::dlsym(d.lib, name); };
  d.init = reinterpret_cast<decltype(d.init)>(sym("cuInit"));
  d.get_count = reinterpret_cast<decltype(d.get_count)>(sym("cuDeviceGetCount"));
  d.pointer_get_attributes =
      reinterpret_cast<decltype(d.pointer_get_attributes)>(sym("cuPointerGetAttributes"));
  d.wait_value32 = reinterpret_cast<decltype(d.wait_value32)>(sym("cuStreamWaitValue32_v2"));
  if (!d.init || !d.get_count || !d.pointer_get_attributes) {
    d.why = "the CUDA driver lacks cuInit/cuDeviceGetCount/cuPointerGetAttributes";
    return;
  }
  if (const CUresult r = d.init(0); r != 0) {
    d.why = fmt::format("cuInit failed (CUresult {}): no usable GPU or driver", r);
    return;
  }
  if (d.get_count(&d.count) != 0 || d.count <= 0) {
    d.count = 0;
    d.why = "the CUDA driver sees no device";
    return;
  }
  d.ok = true;
}

Driver& load() {
  // A function-local static, not std::call_once: this runs for every op's buffers, and the
  // static's guard is one load where call_once goes through thread-local storage.
  static Driver& loaded = []() -> Driver& {
    static Driver d;
    open_driver(d);
    return d;
  }();
  return loaded;
}

}  // namespace

bool available() { return load().ok; }
std::string reason() { return load().ok ? "" : load().why; }
int device_count() { return load().ok ? load().count : 0; }

PointerInfo pointer_info(const void* p) {
  PointerInfo info;
  Driver& d = load();
  if (!d.ok || p == nullptr) return info;
  unsigned memory_type = 0;
  unsigned is_managed = 0;  // a bool in the driver; room for either width
  int ordinal = -1;
  int attrs[3] = {kAttrMemoryType, kAttrIsManaged, kAttrDeviceOrdinal};
  void* data[3] = {&memory_type, &is_managed, &ordinal};
  // Unlike cuPointerGetAttribute, this returns success with zeroed values for memory CUDA does
  // not know (plain host memory); any failure also means "host".
  if (d.pointer_get_attributes(3, attrs, data, reinterpret_cast<CUdeviceptr>(p)) != 0) {
    return info;
  }
  if (memory_type == kMemoryTypeDevice || memory_type == kMemoryTypeUnified ||
      (is_managed & 0xFF) != 0) {
    info.device = true;
    info.ordinal = ordinal;
  }
  return info;
}

int stream_wait_value32(void* stream, const void* device_addr, uint32_t value) {
  Driver& d = load();
  if (!d.ok || !d.wait_value32) return 801;  // CUDA_ERROR_NOT_SUPPORTED
  return d.wait_value32(stream, reinterpret_cast<CUdeviceptr>(device_addr), value, kWaitValueGeq);
}

}  // namespace railcc::cuda::driver
