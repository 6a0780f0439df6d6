// all_reduce_perf: nccl-tests' all_reduce_perf for railcc (see bench/README.md).
#include <vector>

#include "bench/common/data_pattern.h"
#include "bench/common/perf_test.h"

namespace railcc::bench {
namespace {

class AllReduce final : public Collective {
 public:
  const char* name() const override { return "all_reduce"; }
  bool uses_op() const override { return true; }

  Sizes GetSizes(std::size_t count, std::size_t /*element_size*/, int /*nranks*/) const override {
    return {count, count, count, 0, 0};
  }

  void Run(Communicator& comm, const CallArgs& a, std::vector<Work>* works) const override {
    works->push_back(comm.all_reduce(a.send, a.recv, a.count, a.type, a.op, a.stream));
  }

  void InitData(const DataArgs& d) const override {
    FillInput(d.input(), d.sizes.send_count, 0, d.type, PatternFor(d.op), d.rank, d.seed);
    FillReduced(d.expected, d.sizes.recv_count, 0, d.type, *d.op, d.nranks, d.seed);
  }

  double BusBwFactor(int nranks) const override { return 2.0 * (nranks - 1) / nranks; }
};

}  // namespace
}  // namespace railcc::bench

int main(int argc, char** argv) {
  return railcc::bench::PerfMain(argc, argv, railcc::bench::AllReduce());
}
