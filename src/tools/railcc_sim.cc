// railcc-sim: runs railcc's own all_reduce schedule generators for every rank of a modelled job
// (hosts x ranks per host, α-β links) and either verifies every schedule symbolically
// (--verify) or prints each algorithm's predicted time and bus bandwidth per size, with the
// algorithm the library's selector would choose.
#include <fmt/format.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <map>
#include <sstream>

#include "railcc/config.hpp"
#include "src/algorithms/algorithms.h"
#include "src/algorithms/cost_model.h"
#include "src/tools/sim/simulator.h"

namespace {

using railcc::algo::Algo;
using railcc::algo::Schedule;

struct Job {
  int ranks = 0;
  std::vector<int> host_of;
  railcc::algo::CostModel cost;
  std::size_t chunk_bytes = 0;
  std::size_t max_steps = 0;
  int cores_per_host = 0;
};

std::vector<int> parse_list(const std::string& s) {
  std::vector<int> out;
  std::stringstream in(s);
  for (std::string item; std::getline(in, item, ',');) out.push_back(std::stoi(item));
  return out;
}

// Every rank's schedule, built exactly as the library does (same selector for chunk and inner
// algorithm). Empty when it would exceed max_steps in all (reported as skipped).
std::vector<Schedule> build(const Job& job, Algo a, std::size_t count, std::size_t es,
                            railcc::algo::Shape* shape_out = nullptr) {
  railcc::algo::Shape sh;
  sh.size = job.ranks;
  sh.count = count;
  sh.elem_size = es;
  sh.host_of = &job.host_of;
  const auto d = railcc::algo::choose(job.cost, railcc::algo::Layout::of(job.host_of), count * es,
                                      job.chunk_bytes, a);
  sh.chunk_bytes = d.chosen.chunk_bytes;
  if (shape_out) *shape_out = sh;
  std::vector<Schedule> all;
  for (int r = 0; r < job.ranks; ++r) {
    sh.rank = r;
    all.push_back(railcc::algo::build_all_reduce(a, sh, d.chosen.inter));
    if (r == 0 && all[0].steps.size() * job.ranks > job.max_steps) return {};
  }
  return all;
}

std::string size_name(std::size_t b) {
  if (b >= (1u << 20)) return fmt::format("{}M", b >> 20);
  if (b >= 1024) return fmt::format("{}K", b >> 10);
  return fmt::format("{}", b);
}

// Returns false if any schedule failed.
bool verify(const Job& job, const std::vector<Algo>& algos, const std::vector<int>& only_counts) {
  bool ok = true;
  const std::size_t p = job.ranks;
  std::vector<std::size_t> counts = {0, 1, 7, 37};
  if (p <= 256) counts.insert(counts.end(), {p - 1, p + 3, 3 * p + 1});
  if (!only_counts.empty()) counts.assign(only_counts.begin(), only_counts.end());
  for (Algo a : algos) {
    const auto t0 = std::chrono::steady_clock::now();
    std::size_t steps = 0;
    std::string error;
    bool skipped = false;
    for (std::size_t count : counts) {
      for (bool in_place : {false, true}) {
        const auto schedules = build(job, a, count, 8);
        if (schedules.empty()) {
          skipped = true;
          break;
        }
        railcc::sim::Params prm;
        prm.host_of = job.host_of;
        prm.cost = job.cost;
        prm.verify = true;
        prm.in_place = in_place;
        prm.count = count;
        const auto res = railcc::sim::simulate(schedules, prm);
        steps += res.steps;
        if (!res.ok && error.empty()) {
          error = fmt::format("count {} {}: {}", count, in_place ? "in place" : "out of place",
                              res.error);
        }
      }
      if (skipped) break;
    }
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (skipped) {
      fmt::print("{:>5} ranks {:<6} skipped (more than {} steps)\n", p, algo_name(a),
                 job.max_steps);
    } else if (error.empty()) {
      fmt::print("{:>5} ranks {:<6} ok   ({} steps, {:.2f} s)\n", p, algo_name(a), steps, s);
    } else {
      fmt::print("{:>5} ranks {:<6} FAIL {}\n", p, algo_name(a), error);
      ok = false;
    }
  }
  return ok;
}

void sweep(const Job& job, const std::vector<Algo>& algos, std::size_t lo, std::size_t hi,
           std::size_t factor) {
  const int hosts = railcc::algo::Layout::of(job.host_of).hosts;
  fmt::print("# {} ranks on {} host(s); time in us (busbw GB/s); model = selector's choice\n",
             job.ranks, hosts);
  std::string head = fmt::format("{:>6}", "size");
  for (Algo a : algos) head += fmt::format(" {:>18}", algo_name(a));
  fmt::print("{}  {:<8} {:<8}\n", head, "model", "sim-best");
  for (std::size_t bytes = lo; bytes <= hi; bytes *= factor) {
    const std::size_t count = std::max<std::size_t>(1, bytes / 4);
    std::string row = fmt::format("{:>6}", size_name(bytes));
    double best = 1e300;
    Algo best_algo = algos.front();
    for (Algo a : algos) {
      const auto schedules = build(job, a, count, 4);
      if (schedules.empty()) {
        row += fmt::format(" {:>18}", "skipped");
        continue;
      }
      railcc::sim::Params prm;
      prm.host_of = job.host_of;
      prm.cost = job.cost;
      prm.count = count;
      prm.elem_size = 4;
      prm.cores_per_host = job.cores_per_host;
      const auto res = railcc::sim::simulate(schedules, prm);
      if (!res.ok) {
        row += fmt::format(" {:>18}", "FAIL");
        continue;
      }
      const double busbw = count * 4.0 / res.seconds * 2 * (job.ranks - 1) / job.ranks / 1e9;
      row += fmt::format(" {:>18}", fmt::format("{:.1f} ({:.2f})", res.seconds * 1e6,
                                                job.ranks > 1 ? busbw : 0.0));
      if (res.seconds < best) best = res.seconds, best_algo = a;
    }
    const auto d = railcc::algo::choose(job.cost, railcc::algo::Layout::of(job.host_of), count * 4,
                                        job.chunk_bytes, std::nullopt);
    fmt::print("{}  {:<8} {:<8}\n", row, algo_name(d.chosen.algo), algo_name(best_algo));
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"railcc-sim: verify and time railcc's all_reduce schedules on a modelled cluster"};
  std::string ranks_list = "8", algo_list = "ring,tree,hd,rd,hier,direct";
  int per_host = 0, cores_per_host = 0;
  std::string intra, inter;
  double reduce_gbps = 0;
  std::size_t lo = 8, hi = 256u << 20, factor = 4, chunk = 0, max_steps = 20'000'000;
  bool do_verify = false;
  std::string counts_list;
  app.add_option("-n,--ranks", ranks_list, "comma list of rank counts, e.g. 2,3,8,4096");
  app.add_option("--per-host", per_host, "ranks per host (0: all on one host)");
  app.add_option("--cores-per-host", cores_per_host,
                 "CPUs the ranks of a host share for shared-memory copies and reductions (0: one "
                 "per rank)")
      ->check(CLI::NonNegativeNumber);
  app.add_option("--algos", algo_list, "comma list of ring,tree,hd,rd,hier,direct");
  app.add_flag("--verify", do_verify, "verify every schedule symbolically instead of timing");
  app.add_option("--counts", counts_list,
                 "with --verify: comma list of element counts (default 0,1,7,37 and, up to 256 "
                 "ranks, P-1, P+3, 3P+1)");
  app.add_option("-b,--min-bytes", lo, "smallest size (K, M, G suffix)")
      ->transform(CLI::AsSizeValue(false));
  app.add_option("-e,--max-bytes", hi, "largest size")->transform(CLI::AsSizeValue(false));
  app.add_option("-f,--factor", factor, "size multiplier")->check(CLI::Range(2, 1 << 20));
  app.add_option("--intra", intra, "alpha_us,GB/s inside a host (default RAILCC_COST_INTRA)");
  app.add_option("--inter", inter, "alpha_us,GB/s between hosts (default RAILCC_COST_INTER)");
  app.add_option("--reduce-gbps", reduce_gbps, "reduction GB/s (default RAILCC_COST_REDUCE_GBPS)");
  app.add_option("--chunk", chunk, "pipeline chunk bytes (default RAILCC_CHUNK_BYTES)")
      ->transform(CLI::AsSizeValue(false));
  app.add_option("--max-steps", max_steps, "skip a simulation with more steps than this");
  CLI11_PARSE(app, argc, argv);

  // Defaults come from the environment, like the library's.
  std::map<std::string, std::string> env;
  if (!intra.empty()) env["RAILCC_COST_INTRA"] = intra;
  if (!inter.empty()) env["RAILCC_COST_INTER"] = inter;
  railcc::Config cfg;
  try {
    cfg = railcc::Config::from_env();
    railcc::Config over = railcc::Config::from_map(env);
    if (!intra.empty()) cfg.cost_intra = over.cost_intra;
    if (!inter.empty()) cfg.cost_inter = over.cost_inter;
  } catch (const std::exception& e) {
    fmt::print(stderr, "railcc-sim: {}\n", e.what());
    return 2;
  }
  if (reduce_gbps > 0) cfg.cost_reduce_gbps = reduce_gbps;
  if (chunk > 0) cfg.chunk_bytes = chunk;

  std::vector<Algo> algos;
  {
    std::stringstream in(algo_list);
    for (std::string item; std::getline(in, item, ',');) {
      const auto a = railcc::algo::parse_algo(item);
      if (!a) {
        fmt::print(stderr, "railcc-sim: unknown algorithm '{}'\n", item);
        return 2;
      }
      algos.push_back(*a);
    }
  }
  bool ok = true;
  for (int n : parse_list(ranks_list)) {
    if (n < 1 || n > (1 << 16)) {
      fmt::print(stderr, "railcc-sim: bad rank count {}\n", n);
      return 2;
    }
    Job job;
    job.ranks = n;
    job.cost = railcc::algo::CostModel::from_config(cfg);
    job.chunk_bytes = cfg.chunk_bytes;
    job.max_steps = max_steps;
    job.cores_per_host = cores_per_host;
    for (int r = 0; r < n; ++r) job.host_of.push_back(per_host > 0 ? r / per_host : 0);
    if (do_verify) {
      ok = verify(job, algos, counts_list.empty() ? std::vector<int>{} : parse_list(counts_list)) &&
           ok;
    } else {
      sweep(job, algos, lo, hi, factor);
    }
  }
  return ok ? 0 : 1;
}
