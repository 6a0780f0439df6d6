// The smallest useful railcc program: every rank contributes its rank number, all_reduce sums
// them. Run it with:   build/bin/railcc-run -n 4 build/bin/example_allreduce
#include <cstdio>
#include <railcc/railcc.hpp>
#include <vector>

int main() {
  try {
    auto comm = railcc::Communicator::init();  // reads the launcher's environment
    std::vector<float> data(1 << 20, static_cast<float>(comm->rank()));
    comm->all_reduce(data.data(), data.data(), data.size(), railcc::DataType::kFloat32,
                     railcc::ReduceOp::kSum)
        .wait();
    const float expected = comm->size() * (comm->size() - 1) / 2.0f;
    std::printf("rank %d of %d: data[0] = %g (expected %g)\n", comm->rank(), comm->size(), data[0],
                expected);
    return data[0] == expected && data.back() == expected ? 0 : 1;
  } catch (const railcc::Error& e) {
    std::fprintf(stderr, "railcc error: %s\n", e.what());
    return 1;
  }
}
