// The railcc._C extension module: the factory torch.distributed calls to create a "railcc"
// backend (registered by railcc/__init__.py).
#include <pybind11/chrono.h>
#include <torch/python.h>

#include "backend.h"
#include "railcc/version.hpp"

namespace {

c10::intrusive_ptr<c10d::Backend> create_backend(const c10::intrusive_ptr<c10d::Store>& store,
                                                 int rank, int size,
                                                 std::chrono::duration<float> timeout) {
  return c10::make_intrusive<railcc_torch::RailccBackend>(
      store, rank, size, std::chrono::duration_cast<std::chrono::milliseconds>(timeout));
}

}  // namespace

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.doc() = "railcc process-group backend for torch.distributed";
  // Bootstrapping waits on the store and the peers: release the GIL meanwhile.
  m.def("create_backend", &create_backend, pybind11::arg("store"), pybind11::arg("rank"),
        pybind11::arg("size"), pybind11::arg("timeout"),
        pybind11::call_guard<pybind11::gil_scoped_release>(),
        "Creates the railcc c10d Backend of one process group (what torch.distributed calls).");
  m.def(
      "version", [] { return std::string(railcc::version_string()); },
      "Version of the railcc library built into this module.");
}
