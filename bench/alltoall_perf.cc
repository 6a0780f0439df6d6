// alltoall_perf: nccl-tests' alltoall_perf for railcc's all_to_all (see bench/README.md).
// The size is the whole send (= receive) buffer: nranks blocks, each rounded down to a multiple
// of 16 bytes; the count column is the per-peer block. railcc defines all_to_all in place
// (send == recv), so unlike nccl-tests the in-place result is checked too.
#include <vector>

#include "bench/common/data_pattern.h"
#include "bench/common/perf_test.h"

namespace railcc::bench {
namespace {

class AllToAll final : public Collective {
 public:
  const char* name() const override { return "alltoall"; }

  Sizes GetSizes(std::size_t count, std::size_t element_size, int nranks) const override {
    const std::size_t block = PerRankCount(count, element_size, nranks);
    const std::size_t total = block * static_cast<std::size_t>(nranks);
    return {total, total, block, 0, 0};
  }

  void Run(Communicator& comm, const CallArgs& a, std::vector<Work>* works) const override {
    works->push_back(comm.all_to_all(a.send, a.recv, a.count, a.type, a.stream));
  }

  void InitData(const DataArgs& d) const override {
    // Rank r's send element i is pattern(r, i); block j of its send buffer goes to rank j.
    FillInput(d.input(), d.sizes.send_count, 0, d.type, Pattern::kCopy, d.rank, d.seed);
    const std::size_t block = d.sizes.param_count;
    for (int j = 0; j < d.nranks; ++j) {
      FillInput(d.expected_at(static_cast<std::size_t>(j) * block), block,
                static_cast<std::size_t>(d.rank) * block, d.type, Pattern::kCopy, j, d.seed);
    }
  }

  double BusBwFactor(int nranks) const override { return static_cast<double>(nranks - 1) / nranks; }
};

}  // namespace
}  // namespace railcc::bench

int main(int argc, char** argv) {
  return railcc::bench::PerfMain(argc, argv, railcc::bench::AllToAll());
}
