// Tiny consumer of an installed railcc: a size-1 all_reduce through the C++ API, and a call into
// the C API, to prove both headers are installed and both kinds of symbols are in the library.
// Prints "OK" and exits 0 on success.
#include <railcc.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <railcc/railcc.hpp>
#include <vector>

int main() {
  try {
    auto comm = railcc::Communicator::init();  // no launcher: a communicator of one rank
    std::vector<int32_t> send = {1, 2, 3, 4}, recv(send.size(), 0);
    comm->all_reduce(send.data(), recv.data(), send.size(), railcc::DataType::kInt32,
                     railcc::ReduceOp::kSum)
        .wait();
    if (comm->size() != 1 || recv != send) {
      std::fprintf(stderr, "consumer: wrong result (size %d)\n", comm->size());
      return 1;
    }
    if (std::strcmp(railcc_version(), railcc::version_string()) != 0) {
      std::fprintf(stderr, "consumer: C and C++ versions differ: %s vs %s\n", railcc_version(),
                   railcc::version_string());
      return 1;
    }
    std::printf("railcc %s consumer: OK\n", railcc::version_string());
    return 0;
  } catch (const railcc::Error& e) {
    std::fprintf(stderr, "consumer: railcc error: %s\n", e.what());
    return 1;
  }
}
