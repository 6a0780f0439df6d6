// The shared driver of the *_perf benchmarks. Each benchmark describes its collective with a
// Collective (buffer sizes, one call, input and expected output, bus bandwidth factor) and calls
// PerfMain(), which parses nccl-tests' flags, times every size, type, op and root, checks the
// results and prints nccl-tests' table (and optionally JSON).
#pragma once

#include <cstddef>
#include <optional>
#include <vector>

#include "railcc/communicator.hpp"
#include "railcc/cuda_stream.hpp"
#include "railcc/data_type.hpp"
#include "railcc/reduce_op.hpp"
#include "railcc/work.hpp"

namespace railcc::bench {

// Element counts of one test size, as in nccl-tests' getCollByteCount.
struct Sizes {
  std::size_t send_count = 0;           // elements of the send buffer
  std::size_t recv_count = 0;           // elements of the receive buffer (checked)
  std::size_t param_count = 0;          // the count argument of the call
  std::size_t send_inplace_offset = 0;  // in place, send = recv buffer + rank * this
  std::size_t recv_inplace_offset = 0;  // in place, recv = recv buffer + rank * this
};

// Arguments of one call. For in-place runs send and recv point into the same buffer.
struct CallArgs {
  const void* send;
  void* recv;
  std::size_t count;
  DataType type;
  ReduceOp op;  // kSum when the collective has no op
  int root;     // -1 when the collective has no root
  // --device cuda: the stream to order the call on (a second one for a rank's own receive while
  // its send is in flight, see sendrecv_perf); nullopt for host buffers.
  std::optional<CudaStream> stream;
  std::optional<CudaStream> stream2;
};

// What InitData() fills. The driver has zeroed the receive buffer already.
struct DataArgs {
  DataType type;
  std::optional<ReduceOp> op;  // nullopt when the collective has no op
  int root;
  int rank;
  int nranks;
  int seed;
  bool in_place;
  Sizes sizes;
  void* send_buffer;
  void* recv_buffer;
  void* expected;  // recv_count elements: this rank's expected output

  std::size_t element_size() const { return data_type_size(type); }
  // Where this rank's input goes: the send buffer, or in place its slot of the receive buffer.
  void* input() const;
  // Element `index` of the expected buffer.
  void* expected_at(std::size_t index) const;
};

class Collective {
 public:
  virtual ~Collective() = default;

  // nccl-tests' names: all_reduce, all_gather, reduce_scatter, broadcast, reduce, alltoall, ...
  virtual const char* name() const = 0;
  // Runs once per -o op (printed in the redop column; otherwise "none").
  virtual bool uses_op() const { return false; }
  // Whether the op reduces the data (false: only a label, as for sendrecv).
  virtual bool reduces() const { return uses_op(); }
  // Runs once per -r root (printed in the root column; otherwise -1).
  virtual bool uses_root() const { return false; }

  // Buffer layout for `count` = size / element size elements.
  virtual Sizes GetSizes(std::size_t count, std::size_t element_size, int nranks) const = 0;
  // Starts one call; appends every Work it starts.
  virtual void Run(Communicator& comm, const CallArgs& args, std::vector<Work>* works) const = 0;
  // Writes this rank's input and expected output (see data_pattern.h).
  virtual void InitData(const DataArgs& args) const = 0;
  // Whether this rank's output is defined (and so checked), e.g. reduce: only on the root.
  virtual bool ChecksOutput(int rank, int root) const;
  // Whether the in-place result is defined; when not, its #wrong column reads N/A.
  virtual bool ChecksInPlace() const { return true; }
  // True when one call's ops finish in call order (collectives), so waiting for the newest Work
  // waits for all of them; false for point-to-point pairs.
  virtual bool CompletesInOrder() const { return true; }
  // busbw = algbw * factor, algbw = size / time (see bench/README.md).
  virtual double BusBwFactor(int nranks) const = 0;
};

// nccl-tests rounds per-rank counts of all_gather, reduce_scatter and alltoall down to a multiple
// of 16 bytes.
std::size_t PerRankCount(std::size_t count, std::size_t element_size, int nranks);

// The whole benchmark: returns the process exit status (0 ok, 1 railcc error or wrong results,
// 2 bad flags, 77 --device cuda without a GPU: skipped).
int PerfMain(int argc, char** argv, const Collective& collective);

}  // namespace railcc::bench
