// all_reduce on shared-memory windows: ranks of one host allocate their buffers with
// railcc::mem_alloc and register them once, and from then on each rank reduces straight from
// its peers' buffers (no copy through a ring, no kernel copy). Run it with:
//   build/bin/railcc-run -n 4 build/bin/example_windows
#include <cstdint>
#include <cstdio>
#include <railcc/railcc.hpp>

int main() {
  try {
    auto comm = railcc::Communicator::init();
    const std::size_t count = std::size_t{1} << 22;  // 16 MiB of floats
    const std::size_t bytes = count * sizeof(float);
    auto* data = static_cast<float*>(railcc::mem_alloc(bytes));
    const uint64_t window = comm->register_window(data, bytes);  // every rank calls it, once
    for (std::size_t i = 0; i < count; ++i) data[i] = static_cast<float>(comm->rank());
    comm->all_reduce(data, data, count, railcc::DataType::kFloat32, railcc::ReduceOp::kSum).wait();
    const float expected = comm->size() * (comm->size() - 1) / 2.0f;
    const bool ok = data[0] == expected && data[count - 1] == expected;
    std::printf("rank %d of %d: data[0] = %g (expected %g)\n", comm->rank(), comm->size(), data[0],
                expected);
    comm->deregister_window(window);  // every rank, before the memory is freed
    railcc::mem_free(data);
    return ok ? 0 : 1;
  } catch (const railcc::Error& e) {
    std::fprintf(stderr, "railcc error: %s\n", e.what());
    return 1;
  }
}
