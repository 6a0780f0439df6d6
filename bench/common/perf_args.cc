#include "bench/common/perf_args.h"

#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <iostream>
#include <string>

namespace railcc::bench {
namespace {

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::size_t SizeFlag(const std::string& flag, const std::string& value) {
  const std::optional<std::size_t> size = ParseSize(value);
  if (!size) {
    throw UsageError(
        fmt::format("{} '{}' is not a size: expected bytes, optionally with a K, M "
                    "or G suffix (e.g. 8, 512K, 64M, 1G)",
                    flag, value));
  }
  return *size;
}

void AtLeast(const char* flag, long long value, long long lo) {
  if (value < lo) throw UsageError(fmt::format("{} must be at least {} (got {})", flag, lo, value));
}

void InRange(const char* flag, long long value, long long lo, long long hi, const char* meaning) {
  if (value < lo || value > hi) {
    throw UsageError(
        fmt::format("{} must be in {}..{} ({}), got {}", flag, lo, hi, meaning, value));
  }
}

std::vector<DataType> ParseTypes(const std::string& value) {
  std::vector<DataType> types;
  if (Lower(value) == "all") {
    for (int t = 0; t < kNumDataTypes; ++t) types.push_back(static_cast<DataType>(t));
    return types;
  }
  const std::optional<DataType> type = parse_data_type(value);
  if (!type) {
    throw UsageError(
        fmt::format("--datatype '{}' is unknown: expected int8, uint8, int32, "
                    "uint32, int64, uint64, half, float, double, bfloat16 or all",
                    value));
  }
  types.push_back(*type);
  return types;
}

std::vector<ReduceOp> ParseOps(const std::string& value) {
  std::vector<ReduceOp> ops;
  if (Lower(value) == "all") {
    for (int o = 0; o < kNumReduceOps; ++o) ops.push_back(static_cast<ReduceOp>(o));
    return ops;
  }
  const std::optional<ReduceOp> op = parse_reduce_op(value);
  if (!op) {
    throw UsageError(
        fmt::format("--op '{}' is unknown: expected sum, prod, max, min, avg or all", value));
  }
  ops.push_back(*op);
  return ops;
}

int ParseRoot(const std::string& value) {
  if (Lower(value) == "all") return -1;
  char* end = nullptr;
  errno = 0;
  const long root = std::strtol(value.c_str(), &end, 0);
  if (value.empty() || *end != '\0' || errno != 0 || root < -1 || root > 1 << 30) {
    throw UsageError(
        fmt::format("--root '{}' is invalid: expected a rank, or -1 or all for every rank", value));
  }
  return static_cast<int>(root);
}

}  // namespace

std::optional<std::size_t> ParseSize(std::string_view text) {
  const std::string s(text);
  if (s.empty() || std::isspace(static_cast<unsigned char>(s[0])) || s[0] == '-') {
    return std::nullopt;
  }
  char* end = nullptr;
  errno = 0;
  const double number = std::strtod(s.c_str(), &end);
  if (end == s.c_str() || errno != 0 || !std::isfinite(number) || number < 0) return std::nullopt;
  std::string suffix = Lower(end);
  double unit = 1;
  if (!suffix.empty()) {
    switch (suffix[0]) {
      case 'k':
        unit = 1024.0;
        break;
      case 'm':
        unit = 1024.0 * 1024;
        break;
      case 'g':
        unit = 1024.0 * 1024 * 1024;
        break;
      default:
        break;
    }
    if (unit != 1) suffix.erase(0, 1);
    if (suffix != "" && suffix != "b" && !(unit != 1 && suffix == "ib")) return std::nullopt;
  }
  const double bytes = std::floor(number * unit);
  if (bytes >= 0x1p62) return std::nullopt;
  return static_cast<std::size_t>(bytes);
}

std::variant<Options, int> ParseArgs(int argc, char** argv, const std::string& program,
                                     bool print) {
  Options opts;
  CLI::App app(fmt::format("{}: railcc benchmark with the flags and output table of nccl-tests. "
                           "Launch ranks with railcc-run -n N {} ...",
                           program, program),
               program);
  app.get_formatter()->column_width(36);
  // Like getopt: a flag given twice keeps its last value.
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);

  std::string min_bytes = "32M";
  std::string max_bytes = "32M";
  std::string step_bytes = "1M";
  long long step_factor = 1;
  int nthreads = 1;
  int ngpus = 1;
  int parallel_init = 0;
  int stream_null = 0;
  int cudagraph = 0;
  int report_cputime = 0;
  std::string root = "0";

  app.add_option("-t,--nthreads", nthreads, "Threads per process (railcc: 1)")
      ->capture_default_str();
  app.add_option("-g,--ngpus", ngpus, "Ranks per thread (railcc: 1)")->capture_default_str();
  app.add_option("-b,--minbytes", min_bytes, "Smallest size in bytes (K/M/G suffix)")
      ->capture_default_str();
  app.add_option("-e,--maxbytes", max_bytes, "Largest size in bytes (K/M/G suffix)")
      ->capture_default_str();
  app.add_option("-i,--stepbytes", step_bytes, "Size increment when --stepfactor is 1")
      ->capture_default_str();
  app.add_option("-f,--stepfactor", step_factor, "Size multiplier between rows")
      ->capture_default_str();
  app.add_option("-n,--iters", opts.iters, "Timed iterations per result")->capture_default_str();
  app.add_option("-m,--agg_iters", opts.agg_iters, "Calls per iteration")->capture_default_str();
  app.add_option("-w,--warmup_iters", opts.warmup_iters, "Warm-up calls per size")
      ->capture_default_str();
  app.add_option("-N,--run_cycles", opts.run_cycles, "Passes over the sizes (0 = forever)")
      ->capture_default_str();
  app.add_option("-p,--parallel_init", parallel_init, "Accepted for compatibility; no effect")
      ->capture_default_str();
  app.add_option("-c,--check", opts.check, "Checked runs per result (0 = no check)")
      ->capture_default_str();
  app.add_option("-o,--op", opts.op_arg, "sum, prod, max, min, avg or all")->capture_default_str();
  app.add_option("-d,--datatype", opts.datatype_arg,
                 "int8 uint8 int32 uint32 int64 uint64 half float double bfloat16, or all")
      ->capture_default_str();
  app.add_option("-r,--root", root, "Root rank, or -1/all for every rank in turn")
      ->capture_default_str();
  app.add_option("-z,--blocking", opts.blocking,
                 "0: wait once per result; 1: wait + barrier after each call; 2: wait after "
                 "each call; 3: wait + barrier after each iteration, barrier not timed")
      ->capture_default_str();
  app.add_option("-y,--stream_null", stream_null, "Accepted for compatibility; no effect")
      ->capture_default_str();
  app.add_option("-T,--timeout", opts.timeout_s, "Seconds any wait may take (0 = RAILCC_TIMEOUT)")
      ->capture_default_str();
  app.add_option("-G,--cudagraph", cudagraph, "CUDA graph launches (railcc: 0)")
      ->capture_default_str();
  app.add_option("-C,--report_cputime", report_cputime,
                 "1: report the time to enqueue instead of the time to complete")
      ->capture_default_str();
  app.add_option("-a,--average", opts.average,
                 "Time reported across ranks: 0 rank 0, 1 mean, 2 min, 3 max")
      ->capture_default_str();
  app.add_option("-R,--local_register", opts.local_register,
                 "1 or 2: host buffers from railcc::mem_alloc, registered as windows (ranks of a "
                 "host then reduce from each other's buffers in place)")
      ->capture_default_str();
  app.add_option("-J,--json,--output_file", opts.json_path,
                 "Also write every result as JSON to this file (rank 0)");
  const char* device_env = std::getenv("RAILCC_BENCH_DEVICE");
  std::string device = device_env && *device_env ? device_env : "host";
  app.add_option("-D,--device", device,
                 "Buffers in host or cuda (GPU) memory (default: RAILCC_BENCH_DEVICE, else host)")
      ->capture_default_str();

  try {
    try {
      app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
      if (e.get_exit_code() == 0) {  // --help
        if (print) std::cout << app.help();
        return 0;
      }
      throw UsageError(e.what());
    }
    opts.min_bytes = SizeFlag("--minbytes", min_bytes);
    opts.max_bytes = SizeFlag("--maxbytes", max_bytes);
    opts.step_bytes = SizeFlag("--stepbytes", step_bytes);
    AtLeast("--stepfactor", step_factor, 1);
    opts.step_factor = static_cast<std::size_t>(step_factor);
    if (opts.min_bytes > opts.max_bytes) {
      throw UsageError(fmt::format("--minbytes {} is larger than --maxbytes {}", opts.min_bytes,
                                   opts.max_bytes));
    }
    if (opts.step_factor <= 1 && opts.step_bytes == 0 && opts.min_bytes < opts.max_bytes) {
      throw UsageError("--stepbytes must be positive when --stepfactor is 1");
    }
    if (nthreads != 1 || ngpus != 1) {
      throw UsageError(
          "--nthreads and --ngpus must be 1: railcc runs one rank per process; launch N ranks "
          "with railcc-run -n N");
    }
    if (cudagraph != 0) throw UsageError("--cudagraph is not supported by railcc (use 0)");
    InRange("--parallel_init", parallel_init, 0, 1, "ignored");
    InRange("--stream_null", stream_null, 0, 1, "ignored");
    AtLeast("--iters", opts.iters, 1);
    AtLeast("--agg_iters", opts.agg_iters, 1);
    AtLeast("--warmup_iters", opts.warmup_iters, 0);
    AtLeast("--run_cycles", opts.run_cycles, 0);
    AtLeast("--check", opts.check, 0);
    AtLeast("--timeout", opts.timeout_s, 0);
    InRange("--blocking", opts.blocking, 0, 3, "see --help");
    InRange("--average", opts.average, 0, 3, "0 rank 0, 1 mean, 2 min, 3 max");
    InRange("--report_cputime", report_cputime, 0, 1, "0 or 1");
    InRange("--local_register", opts.local_register, 0, 2, "0, 1 or 2");
    opts.report_cputime = report_cputime != 0;
    opts.types = ParseTypes(opts.datatype_arg);
    opts.ops = ParseOps(opts.op_arg);
    opts.root = ParseRoot(root);
    const std::string dev = Lower(device);
    if (dev == "cuda" || dev == "gpu") {
      opts.cuda = true;
    } else if (dev != "host" && dev != "cpu") {
      throw UsageError(
          fmt::format("--device '{}' is unknown: expected host or cuda "
                      "(also from RAILCC_BENCH_DEVICE)",
                      device));
    }
  } catch (const UsageError& e) {
    if (print) {
      std::cerr << program << ": " << e.what() << "\nRun with --help for more information.\n";
    }
    return 2;
  }
  return opts;
}

}  // namespace railcc::bench
