// broadcast_perf: nccl-tests' broadcast_perf for railcc (see bench/README.md).
#include <vector>

#include "bench/common/data_pattern.h"
#include "bench/common/perf_test.h"

namespace railcc::bench {
namespace {

class Broadcast final : public Collective {
 public:
  const char* name() const override { return "broadcast"; }
  bool uses_root() const override { return true; }

  Sizes GetSizes(std::size_t count, std::size_t /*element_size*/, int /*nranks*/) const override {
    return {count, count, count, 0, 0};
  }

  void Run(Communicator& comm, const CallArgs& a, std::vector<Work>* works) const override {
    works->push_back(comm.broadcast(a.send, a.recv, a.count, a.type, a.root, a.stream));
  }

  void InitData(const DataArgs& d) const override {
    if (d.rank == d.root) {
      FillInput(d.input(), d.sizes.send_count, 0, d.type, Pattern::kCopy, d.root, d.seed);
    }
    FillInput(d.expected, d.sizes.recv_count, 0, d.type, Pattern::kCopy, d.root, d.seed);
  }

  double BusBwFactor(int /*nranks*/) const override { return 1.0; }
};

}  // namespace
}  // namespace railcc::bench

int main(int argc, char** argv) {
  return railcc::bench::PerfMain(argc, argv, railcc::bench::Broadcast());
}
