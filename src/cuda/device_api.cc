#include "src/cuda/device_api.h"

#include <atomic>
#include <mutex>
#include <vector>

#include "railcc/cuda_stream.hpp"
#include "src/cuda/driver_shim.h"

namespace railcc::cuda {

#if RAILCC_HAVE_CUDA
// cuda_device_api.cc
std::unique_ptr<DeviceApi> make_cuda_device_api();
#endif

namespace {

std::mutex g_mutex;
std::unique_ptr<DeviceApi> g_owned;  // guarded by g_mutex; never replaced while in use
std::atomic<DeviceApi*> g_api{nullptr};
std::atomic<bool> g_probed{false};

}  // namespace

DeviceApi* device_api() {
  if (DeviceApi* api = g_api.load(std::memory_order_acquire)) return api;
  if (g_probed.load(std::memory_order_acquire)) return nullptr;
  std::lock_guard lock(g_mutex);
  if (DeviceApi* api = g_api.load(std::memory_order_acquire)) return api;
#if RAILCC_HAVE_CUDA
  if (!g_probed.load() && driver::available()) {
    g_owned = make_cuda_device_api();
    g_api.store(g_owned.get(), std::memory_order_release);
  }
#endif
  g_probed.store(true, std::memory_order_release);
  return g_api.load(std::memory_order_acquire);
}

void install_device_api(std::unique_ptr<DeviceApi> api) {
  std::lock_guard lock(g_mutex);
  // The previous layer may still be referenced by objects of earlier communicators: keep it.
  static auto* retired = new std::vector<std::unique_ptr<DeviceApi>>;
  if (g_owned) retired->push_back(std::move(g_owned));
  g_owned = std::move(api);
  g_api.store(g_owned.get(), std::memory_order_release);
  g_probed.store(true, std::memory_order_release);
}

std::string no_device_reason() {
  if (g_api.load()) return "";
#if RAILCC_HAVE_CUDA
  return driver::reason();
#else
  return "railcc was built without CUDA (RAILCC_CUDA=OFF or no nvcc at build time)";
#endif
}

PointerInfo classify_pointer(const void* p) {
  if (p == nullptr) return {};
  if (DeviceApi* api = device_api()) return api->classify(p);
  return driver::pointer_info(p);
}

}  // namespace railcc::cuda

namespace railcc {
bool cuda_available() { return cuda::device_api() != nullptr; }
}  // namespace railcc
