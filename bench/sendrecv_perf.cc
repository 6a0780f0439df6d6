// sendrecv_perf: nccl-tests' sendrecv_perf for railcc (see bench/README.md).
// Every rank sends to (rank + 1) % n and receives from (rank - 1 + n) % n at the same time: both
// are posted, then both waited for. Like nccl-tests it loops over -o (the op is only a label)
// and does not check the in-place column, whose send and receive buffers are the same memory.
#include <vector>

#include "bench/common/data_pattern.h"
#include "bench/common/perf_test.h"

namespace railcc::bench {
namespace {

class SendRecv final : public Collective {
 public:
  const char* name() const override { return "sendrecv"; }
  bool uses_op() const override { return true; }
  bool reduces() const override { return false; }

  Sizes GetSizes(std::size_t count, std::size_t /*element_size*/, int /*nranks*/) const override {
    return {count, count, count, 0, 0};
  }

  void Run(Communicator& comm, const CallArgs& a, std::vector<Work>* works) const override {
    const int n = comm.size();
    const int next = (comm.rank() + 1) % n;
    const int prev = (comm.rank() - 1 + n) % n;
    // On GPU buffers the receive goes on a second stream: on one stream it would wait for the
    // send to complete, which waits for the next rank's receive (NCCL would need a group call).
    works->push_back(comm.send(a.send, a.count, a.type, next, 0, a.stream));
    works->push_back(comm.recv(a.recv, a.count, a.type, prev, 0, a.stream2));
  }

  void InitData(const DataArgs& d) const override {
    FillInput(d.input(), d.sizes.send_count, 0, d.type, Pattern::kCopy, d.rank, d.seed);
    const int prev = (d.rank - 1 + d.nranks) % d.nranks;
    FillInput(d.expected, d.sizes.recv_count, 0, d.type, Pattern::kCopy, prev, d.seed);
  }

  bool ChecksInPlace() const override { return false; }
  bool CompletesInOrder() const override { return false; }

  double BusBwFactor(int /*nranks*/) const override { return 1.0; }
};

}  // namespace
}  // namespace railcc::bench

int main(int argc, char** argv) {
  return railcc::bench::PerfMain(argc, argv, railcc::bench::SendRecv());
}
