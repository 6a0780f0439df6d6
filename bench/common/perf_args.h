// Command line of the *_perf benchmarks: nccl-tests' flags, spellings and defaults.
#pragma once

#include <cstddef>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "railcc/data_type.hpp"
#include "railcc/reduce_op.hpp"

namespace railcc::bench {

struct Options {
  std::size_t min_bytes = std::size_t{32} << 20;    // -b
  std::size_t max_bytes = std::size_t{32} << 20;    // -e
  std::size_t step_bytes = std::size_t{1} << 20;    // -i, used when step_factor <= 1
  std::size_t step_factor = 1;                      // -f
  int iters = 20;                                   // -n
  int warmup_iters = 1;                             // -w
  int agg_iters = 1;                                // -m
  int run_cycles = 1;                               // -N, 0 = forever
  int check = 1;                                    // -c, number of checked runs per result
  int blocking = 0;                                 // -z 0..3
  int average = 1;                                  // -a 0=rank 0, 1=mean, 2=min, 3=max
  bool report_cputime = false;                      // -C
  int timeout_s = 0;                                // -T, 0 = railcc's default
  std::vector<DataType> types{DataType::kFloat32};  // -d
  std::vector<ReduceOp> ops{ReduceOp::kSum};        // -o
  int root = 0;                                     // -r, -1 = every rank in turn
  std::string json_path;                            // --json / -J
  // -R 1 or 2 (nccl-tests: local or symmetric registration): host buffers come from
  // railcc::mem_alloc and are registered as windows (Communicator::register_window).
  int local_register = 0;
  // --device / RAILCC_BENCH_DEVICE: where the buffers live. cuda: GPU memory (rank r uses GPU
  // local_rank % GPUs, like nccl-tests), calls ordered on a CUDA stream, results checked after
  // copying them back.
  bool cuda = false;
  // Flag values as given, echoed in the JSON config.
  std::string datatype_arg = "float";
  std::string op_arg = "sum";
};

// A flag value that parsed but cannot be used; the benchmark prints it and exits with status 2.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Parses argv. Returns the options, or the exit status when the program should stop right away:
// 0 after --help, 2 after a bad flag (the problem is printed to stderr). Prints only if `print`.
std::variant<Options, int> ParseArgs(int argc, char** argv, const std::string& program, bool print);

// "64M" -> 67108864: a non-negative number with an optional K, M or G suffix (powers of 1024,
// case-insensitive, optionally followed by "B" or "iB"). nullopt when malformed.
std::optional<std::size_t> ParseSize(std::string_view text);

}  // namespace railcc::bench
