// reduce_scatter_perf: nccl-tests' reduce_scatter_perf for railcc (see bench/README.md).
// The size is the whole send buffer: nranks blocks of recv count elements, each block rounded
// down to a multiple of 16 bytes. In place, rank r receives into block r of its send buffer.
#include <vector>

#include "bench/common/data_pattern.h"
#include "bench/common/perf_test.h"

namespace railcc::bench {
namespace {

class ReduceScatter final : public Collective {
 public:
  const char* name() const override { return "reduce_scatter"; }
  bool uses_op() const override { return true; }

  Sizes GetSizes(std::size_t count, std::size_t element_size, int nranks) const override {
    const std::size_t block = PerRankCount(count, element_size, nranks);
    return {block * static_cast<std::size_t>(nranks), block, block, 0, block};
  }

  void Run(Communicator& comm, const CallArgs& a, std::vector<Work>* works) const override {
    works->push_back(comm.reduce_scatter(a.send, a.recv, a.count, a.type, a.op, a.stream));
  }

  void InitData(const DataArgs& d) const override {
    FillInput(d.input(), d.sizes.send_count, 0, d.type, PatternFor(d.op), d.rank, d.seed);
    const std::size_t block = d.sizes.recv_count;
    FillReduced(d.expected, block, static_cast<std::size_t>(d.rank) * block, d.type, *d.op,
                d.nranks, d.seed);
  }

  double BusBwFactor(int nranks) const override { return static_cast<double>(nranks - 1) / nranks; }
};

}  // namespace
}  // namespace railcc::bench

int main(int argc, char** argv) {
  return railcc::bench::PerfMain(argc, argv, railcc::bench::ReduceScatter());
}
