// Shared pieces of the peer all_reduce benchmarks (Open MPI, Gloo) used by bench/compare.sh.
//
// Flags and output follow railcc's bench/all_reduce_perf (itself nccl-tests compatible), so the
// three tables can be read by the same parser:
//   -b/--minbytes -e/--maxbytes -f/--stepfactor -i/--stepbytes -n/--iters -w/--warmup_iters
//   -c/--check -a/--average -N/--run_cycles -d float -o sum -I/--inplace 0|1
// Float32 sum only. Sizes take K/M/G suffixes (powers of 1024).
//
// Measurement, per size, as in railcc's all_reduce_perf (-z 0 -m 1):
//   warm-up: -w calls of every size (doubling, out of place) before the first row;
//   one untimed call, barrier, -n calls back to back, elapsed / n = this rank's time;
//   per-rank times combined with -a (0 rank 0, 1 mean [default], 2 min, 3 max);
//   algbw = size / time (1 GB = 1e9 B); busbw = algbw * 2(n-1)/n.
//   With -c > 0 the buffers hold valid data while timing and, after timing, one more call is
//   checked exactly (every element must equal the sum of the ranks' inputs).
// Without -I 0 an in-place column is measured too (same pointer for input and output).
#pragma once

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>

namespace peer {

struct Args {
  std::size_t min_bytes = 32u << 20;
  std::size_t max_bytes = 32u << 20;
  std::size_t step_factor = 1;
  std::size_t step_bytes = 1u << 20;
  int iters = 20;
  int warmup = 1;
  int check = 1;
  int average = 1;
  int run_cycles = 1;
  int inplace = 1;
  std::string algo;  // peer-specific algorithm choice (Gloo); empty = library default
};

[[noreturn]] inline void UsageFail(const char* prog, const std::string& msg) {
  std::fprintf(stderr, "%s: %s\n", prog, msg.c_str());
  std::exit(2);
}

inline std::size_t ParseSize(const char* prog, const char* flag, const char* s) {
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(s, &end);
  if (end == s || errno != 0 || v < 0)
    UsageFail(prog, std::string(flag) + " '" + s + "' is not a size");
  double mult = 1;
  if (*end == 'K' || *end == 'k')
    mult = 1024.0, ++end;
  else if (*end == 'M' || *end == 'm')
    mult = 1024.0 * 1024, ++end;
  else if (*end == 'G' || *end == 'g')
    mult = 1024.0 * 1024 * 1024, ++end;
  if (*end == 'B' || *end == 'b') ++end;
  if (*end != '\0') UsageFail(prog, std::string(flag) + " '" + s + "' is not a size");
  return static_cast<std::size_t>(v * mult);
}

inline long ParseInt(const char* prog, const char* flag, const char* s, long lo, long hi) {
  char* end = nullptr;
  errno = 0;
  const long v = std::strtol(s, &end, 10);
  if (end == s || *end != '\0' || errno != 0 || v < lo || v > hi)
    UsageFail(prog, std::string(flag) + " must be an integer in " + std::to_string(lo) + ".." +
                        std::to_string(hi) + ", got '" + s + "'");
  return v;
}

inline Args ParseArgs(int argc, char** argv) {
  Args a;
  const char* prog = argv[0];
  for (int i = 1; i < argc; ++i) {
    std::string f = argv[i];
    std::string val;
    bool has_val = false;
    const auto eq = f.find('=');
    if (f.rfind("--", 0) == 0 && eq != std::string::npos) {
      val = f.substr(eq + 1);
      f = f.substr(0, eq);
      has_val = true;
    }
    if (f == "-h" || f == "--help") {
      std::printf(
          "usage: %s [-b MIN] [-e MAX] [-f FACTOR] [-i STEP] [-n ITERS] [-w WARMUP] [-c 0|1]\n"
          "          [-a 0..3] [-N CYCLES] [-I 0|1] [-A ALGO] [-d float] [-o sum]\n"
          "float32 sum all_reduce benchmark printing the nccl-tests table.\n",
          prog);
      std::exit(0);
    }
    auto next = [&]() -> const char* {
      if (has_val) return argv[i] + (std::strlen(argv[i]) - val.size());
      if (i + 1 >= argc) UsageFail(prog, f + " needs a value");
      return argv[++i];
    };
    if (f == "-b" || f == "--minbytes")
      a.min_bytes = ParseSize(prog, "-b", next());
    else if (f == "-e" || f == "--maxbytes")
      a.max_bytes = ParseSize(prog, "-e", next());
    else if (f == "-f" || f == "--stepfactor")
      a.step_factor = ParseInt(prog, "-f", next(), 1, 1 << 20);
    else if (f == "-i" || f == "--stepbytes")
      a.step_bytes = ParseSize(prog, "-i", next());
    else if (f == "-n" || f == "--iters")
      a.iters = ParseInt(prog, "-n", next(), 1, 1 << 30);
    else if (f == "-w" || f == "--warmup_iters")
      a.warmup = ParseInt(prog, "-w", next(), 0, 1 << 30);
    else if (f == "-c" || f == "--check")
      a.check = ParseInt(prog, "-c", next(), 0, 1 << 20);
    else if (f == "-a" || f == "--average")
      a.average = ParseInt(prog, "-a", next(), 0, 3);
    else if (f == "-N" || f == "--run_cycles")
      a.run_cycles = ParseInt(prog, "-N", next(), 1, 1 << 20);
    else if (f == "-I" || f == "--inplace")
      a.inplace = ParseInt(prog, "-I", next(), 0, 1);
    else if (f == "-A" || f == "--algo")
      a.algo = next();
    else if (f == "-d" || f == "--datatype") {
      const std::string v = next();
      if (v != "float" && v != "float32") UsageFail(prog, "only -d float is supported");
    } else if (f == "-o" || f == "--op") {
      const std::string v = next();
      if (v != "sum") UsageFail(prog, "only -o sum is supported");
    } else if (f == "-z" || f == "--blocking" || f == "-m" || f == "--agg_iters" || f == "-t" ||
               f == "-g" || f == "-T" || f == "--timeout") {
      next();  // accepted for command-line compatibility; blocking calls, 1 call per iteration
    } else {
      UsageFail(prog, "unknown flag '" + f + "' (see --help)");
    }
  }
  a.min_bytes = a.min_bytes / 4 * 4;
  a.max_bytes = a.max_bytes / 4 * 4;
  if (a.min_bytes > a.max_bytes) UsageFail(prog, "--minbytes is larger than --maxbytes");
  return a;
}

// The next size after `size`, or nullopt past `max` (railcc's NextSize).
inline std::optional<std::size_t> NextSize(std::size_t size, std::size_t factor, std::size_t step,
                                           std::size_t max) {
  std::size_t next;
  if (factor > 1) {
    if (size == 0)
      next = 1;
    else if (size > max / factor)
      return std::nullopt;
    else
      next = size * factor;
  } else {
    if (step == 0 || size > max - step) return std::nullopt;
    next = size + step;
  }
  if (next > max) return std::nullopt;
  return next;
}

inline std::string FormatNumber(double value, int width) {
  char buf[64];
  for (int decimals = 2; decimals >= 0; --decimals) {
    std::snprintf(buf, sizeof buf, "%*.*f", width, decimals, value);
    if (static_cast<int>(std::strlen(buf)) <= width) return buf;
  }
  std::snprintf(buf, sizeof buf, "%*.*e", width, width >= 7 ? 1 : 0, value);
  return buf;
}

inline void PrintTableHeader() {
  std::printf(
      "# %10s  %12s  %8s  %6s  %6s           out-of-place                       in-place          "
      "\n",
      "", "", "", "", "");
  std::printf("# %10s  %12s  %8s  %6s  %6s  %7s  %6s  %6s %6s  %7s  %6s  %6s %6s\n", "size",
              "count", "type", "redop", "root", "time", "algbw", "busbw", "#wrong", "time", "algbw",
              "busbw", "#wrong");
  std::printf("# %10s  %12s  %8s  %6s  %6s  %7s  %6s  %6s  %5s  %7s  %6s  %6s  %5s\n", "(B)",
              "(elements)", "", "", "", "(us)", "(GB/s)", "(GB/s)", "", "(us)", "(GB/s)", "(GB/s)",
              "");
}

inline void PrintRowPrefix(std::size_t bytes) {
  std::printf("%12zu  %12zu  %8s  %6s  %6s", bytes, bytes / 4, "float", "sum", "-1");
  std::fflush(stdout);
}

struct Measurement {
  double time_us = 0, algbw = 0, busbw = 0;
  long long wrong = -1;  // -1: not checked
  bool measured = true;
};

inline void PrintCell(const Measurement& m) {
  if (!m.measured) {
    std::printf("  %7s  %6s  %6s  %5s", "N/A", "N/A", "N/A", "N/A");
  } else {
    char w[32];
    if (m.wrong < 0)
      std::snprintf(w, sizeof w, "N/A");
    else
      std::snprintf(w, sizeof w, "%lld", m.wrong);
    std::printf("  %s  %s  %s  %5s", FormatNumber(m.time_us, 7).c_str(),
                FormatNumber(m.algbw, 6).c_str(), FormatNumber(m.busbw, 6).c_str(), w);
  }
  std::fflush(stdout);
}

inline double BusBwFactor(int n) { return n > 0 ? 2.0 * (n - 1) / n : 0.0; }

// Check pattern: rank r, element i holds 1 + (r + i) % 7 (exact in float for any sane n).
inline float InputValue(int rank, std::size_t i) { return static_cast<float>(1 + (rank + i) % 7); }
inline float ExpectedValue(int nranks, std::size_t i) {
  double s = 0;
  for (int r = 0; r < nranks; ++r) s += InputValue(r, i);
  return static_cast<float>(s);
}

// The benchmark loop shared by the peers. Backend provides:
//   int rank() const; int size() const;
//   void AllReduce(const float* send, float* recv, std::size_t count);  // recv == send: in place
//   void Barrier();
//   double CombineTime(double seconds, int average);  // -a semantics, same result on every rank
//   long long SumOverRanks(long long v);
// Buffers are page aligned, zero filled (faulted in) once at -e bytes and reused.
template <typename Backend>
int RunBenchmark(const char* title, const Args& a, Backend& be) {
  const int rank = be.rank(), n = be.size();
  const std::size_t max_count = a.max_bytes / 4;
  const std::size_t alloc = std::max<std::size_t>((max_count * 4 + 4095) / 4096 * 4096, 4096);
  float* send = static_cast<float*>(std::aligned_alloc(4096, alloc));
  float* recv = static_cast<float*>(std::aligned_alloc(4096, alloc));
  if (!send || !recv) {
    std::fprintf(stderr, "cannot allocate %zu bytes (lower -e)\n", alloc);
    return 1;
  }
  std::memset(send, 0, alloc);
  std::memset(recv, 0, alloc);
  auto fill = [&](float* buf, std::size_t count) {
    for (std::size_t i = 0; i < count; ++i) buf[i] = InputValue(rank, i);
  };
  auto count_wrong = [&](const float* buf, std::size_t count) {
    long long wrong = 0;
    for (std::size_t i = 0; i < count; ++i) wrong += buf[i] != ExpectedValue(n, i);
    return wrong;
  };

  if (rank == 0) {
    std::printf("# %s: %d ranks\n", title, n);
    std::printf(
        "# nThread 1 nGpus 1 minBytes %zu maxBytes %zu step: %zu(%s) warmup iters: %d "
        "iters: %d agg iters: 1 validation: %d graph: 0\n#\n",
        a.min_bytes, a.max_bytes, a.step_factor > 1 ? a.step_factor : a.step_bytes,
        a.step_factor > 1 ? "factor" : "bytes", a.warmup, a.iters, a.check);
    PrintTableHeader();
    std::fflush(stdout);
  }

  be.Barrier();
  if (a.warmup > 0) {
    for (std::optional<std::size_t> s = a.min_bytes; s; s = NextSize(*s, 2, 0, a.max_bytes))
      for (int i = 0; i < a.warmup; ++i) be.AllReduce(send, recv, *s / 4);
  }

  double busbw_sum = 0;
  long busbw_count = 0;
  long long errors = 0;
  auto bench = [&](std::size_t count, bool in_place) {
    Measurement m;
    float* out = recv;
    const float* in = in_place ? recv : send;
    if (a.check > 0) fill(in_place ? recv : send, count);
    be.AllReduce(in, out, count);  // untimed call
    be.Barrier();
    const auto t0 = std::chrono::steady_clock::now();
    // In place, with -c > 0, the values grow n-fold per call (up to inf; no denormals), as in
    // railcc's and nccl-tests' in-place timing.
    for (int it = 0; it < a.iters; ++it) be.AllReduce(in, out, count);
    const double local =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() / a.iters;
    const double sec = be.CombineTime(local, a.average);
    m.time_us = sec * 1e6;
    m.algbw = sec > 0 ? static_cast<double>(count * 4) / 1e9 / sec : 0;
    m.busbw = m.algbw * BusBwFactor(n);
    if (a.check > 0) {
      fill(in_place ? recv : send, count);
      if (!in_place) std::memset(recv, 0, count * 4);
      be.AllReduce(in, out, count);
      const long long w = count_wrong(out, count);
      m.wrong = be.SumOverRanks(w);
      if (w > 0) ++errors;
    }
    busbw_sum += m.busbw;
    ++busbw_count;
    return m;
  };

  for (int cycle = 0; cycle < a.run_cycles; ++cycle) {
    for (std::optional<std::size_t> s = a.min_bytes; s;
         s = NextSize(*s, a.step_factor, a.step_bytes, a.max_bytes)) {
      const std::size_t count = *s / 4;
      if (rank == 0) PrintRowPrefix(count * 4);
      const Measurement oop = bench(count, false);
      if (rank == 0) PrintCell(oop);
      Measurement ip;
      ip.measured = false;
      if (a.inplace) ip = bench(count, true);
      if (rank == 0) {
        PrintCell(ip);
        std::printf("\n");
        std::fflush(stdout);
      }
    }
  }
  const long long bad = be.SumOverRanks(errors);
  if (rank == 0) {
    std::printf("# Out of bounds values : %lld %s\n# Avg bus bandwidth    : %g \n#\n", bad,
                bad ? "FAILED" : "OK", busbw_count ? busbw_sum / busbw_count : 0.0);
    std::fflush(stdout);
  }
  std::free(send);
  std::free(recv);
  return bad ? 1 : 0;
}

}  // namespace peer
