// all_gather_perf: nccl-tests' all_gather_perf for railcc (see bench/README.md).
// The size is the whole receive buffer: nranks blocks of send count elements, each block rounded
// down to a multiple of 16 bytes. In place, rank r sends block r of its receive buffer.
#include <vector>

#include "bench/common/data_pattern.h"
#include "bench/common/perf_test.h"

namespace railcc::bench {
namespace {

class AllGather final : public Collective {
 public:
  const char* name() const override { return "all_gather"; }

  Sizes GetSizes(std::size_t count, std::size_t element_size, int nranks) const override {
    const std::size_t block = PerRankCount(count, element_size, nranks);
    return {block, block * static_cast<std::size_t>(nranks), block, block, 0};
  }

  void Run(Communicator& comm, const CallArgs& a, std::vector<Work>* works) const override {
    works->push_back(comm.all_gather(a.send, a.recv, a.count, a.type, a.stream));
  }

  void InitData(const DataArgs& d) const override {
    const std::size_t block = d.sizes.send_count;
    FillInput(d.input(), block, 0, d.type, Pattern::kCopy, d.rank, d.seed);
    for (int r = 0; r < d.nranks; ++r) {
      FillInput(d.expected_at(static_cast<std::size_t>(r) * block), block, 0, d.type,
                Pattern::kCopy, r, d.seed);
    }
  }

  double BusBwFactor(int nranks) const override { return static_cast<double>(nranks - 1) / nranks; }
};

}  // namespace
}  // namespace railcc::bench

int main(int argc, char** argv) {
  return railcc::bench::PerfMain(argc, argv, railcc::bench::AllGather());
}
