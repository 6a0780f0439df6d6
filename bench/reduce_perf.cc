// reduce_perf: nccl-tests' reduce_perf for railcc (see bench/README.md).
// Only the root's output is defined, so only the root's output is checked.
#include <vector>

#include "bench/common/data_pattern.h"
#include "bench/common/perf_test.h"

namespace railcc::bench {
namespace {

class Reduce final : public Collective {
 public:
  const char* name() const override { return "reduce"; }
  bool uses_op() const override { return true; }
  bool uses_root() const override { return true; }

  Sizes GetSizes(std::size_t count, std::size_t /*element_size*/, int /*nranks*/) const override {
    return {count, count, count, 0, 0};
  }

  void Run(Communicator& comm, const CallArgs& a, std::vector<Work>* works) const override {
    works->push_back(comm.reduce(a.send, a.recv, a.count, a.type, a.op, a.root, a.stream));
  }

  void InitData(const DataArgs& d) const override {
    FillInput(d.input(), d.sizes.send_count, 0, d.type, PatternFor(d.op), d.rank, d.seed);
    if (d.rank == d.root) {
      FillReduced(d.expected, d.sizes.recv_count, 0, d.type, *d.op, d.nranks, d.seed);
    }
  }

  bool ChecksOutput(int rank, int root) const override { return rank == root; }

  double BusBwFactor(int /*nranks*/) const override { return 1.0; }
};

}  // namespace
}  // namespace railcc::bench

int main(int argc, char** argv) {
  return railcc::bench::PerfMain(argc, argv, railcc::bench::Reduce());
}
