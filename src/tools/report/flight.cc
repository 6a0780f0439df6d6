// railcc-report DIR: reads the flight recorder dump of every rank (RAILCC_FLIGHT_RECORDER) and
// names the culprit of a hang or failure:
//   - a rank that never entered the collective the others wait in (it is late, hung in its own
//     code, or skipped the call): "rank 3 never entered all_reduce #1842 (ranks 0-2,4-7 waiting
//     since 12.4 s)";
//   - a rail on which both ends wait while it moves nothing: "rail2 between rank 1 and rank 5
//     stalled";
//   - ranks that disagree on what op #N is, and ranks that left no dump (dead);
// then one line per rank: its last ops and what it waited on.
#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "src/tools/report/report.h"

namespace fs = std::filesystem;
using nlohmann::json;

namespace railcc::report {
namespace {

// Started (an op failed before it started, after the communicator failed, does not count).
bool entered(const json& o) {
  const std::string state = o.value("state", "");
  return state == "started" || state == "waiting" || state == "done" ||
         (state == "failed" && o.value("started_ns", 0ull) != 0);
}

struct Dump {
  int rank = -1;
  json j;
  const json* stuck = nullptr;  // earliest collective started and not done
  uint64_t last_entered = 0;    // highest collective seq started (0 = none)
  uint64_t last_enqueued = 0;   // highest collective seq queued
  const json* entry(uint64_t seq) const {
    for (const json& o : j["ops"]) {
      if (o.value("seq", 0ull) == seq) return &o;
    }
    return nullptr;
  }
};

// "0-2,4-7"
std::string ranges(std::vector<int> v) {
  std::sort(v.begin(), v.end());
  std::string out;
  for (std::size_t i = 0; i < v.size();) {
    std::size_t j = i;
    while (j + 1 < v.size() && v[j + 1] == v[j] + 1) ++j;
    if (!out.empty()) out += ',';
    out += j == i ? std::to_string(v[i]) : fmt::format("{}-{}", v[i], v[j]);
    i = j + 1;
  }
  return out;
}

std::string plural_ranks(const std::vector<int>& v) {
  return fmt::format("{} {}", v.size() == 1 ? "rank" : "ranks", ranges(v));
}

std::string op_name(const json& o) {
  return fmt::format("{} #{}", o.value("op", "?"), o.value("seq", 0ull));
}

// Seconds the op had been running (waiting, for a stuck op) when the rank gave up or dumped.
double stuck_seconds(const Dump& d, const json& o) {
  const uint64_t start = o.value("started_ns", 0ull);
  uint64_t end = o.value("ended_ns", 0ull);
  if (end == 0) end = d.j.value("now_ns", 0ull);
  return start && end > start ? (end - start) / 1e9 : 0;
}

std::string describe_rank(const Dump& d) {
  const json& ops = d.j["ops"];
  if (ops.empty()) return "no op recorded";
  std::string out;
  // The stuck op if any, else the last one.
  const json& o = d.stuck ? *d.stuck : ops.back();
  out =
      fmt::format("{} {} ({} x {}, {})", op_name(o), o.value("state", "?"), o.value("count", 0ull),
                  o.value("dtype", "?"), o.value("algo", "").empty() ? "-" : o.value("algo", ""));
  if (o.contains("waiting_on")) {
    std::string w;
    for (const json& x : o["waiting_on"]) {
      w += fmt::format("{}rank {}", w.empty() ? "" : ", ", x.value("peer", -1));
      if (x.contains("rail")) w += fmt::format(" on rail {}", x.value("rail_name", "?"));
    }
    const int n = o.value("waiting_peers", 0);
    if (n > static_cast<int>(o["waiting_on"].size())) {
      w += fmt::format(" and {} more", n - static_cast<int>(o["waiting_on"].size()));
    }
    out += fmt::format(", waiting on {} for {:.1f} s", w, stuck_seconds(d, o));
  }
  out += fmt::format("; dump: {}", d.j.value("reason", "?"));
  const std::string kind = d.j.value("failure_kind", "");
  if (!kind.empty() && kind != d.j.value("reason", "")) out += fmt::format(" (failed: {})", kind);
  return out;
}

// The verdict for one communicator's dumps (by rank); empty when nothing is wrong.
std::vector<std::string> verdicts(const std::map<int, Dump>& dumps, int size) {
  std::vector<std::string> out;
  // The op the job is stuck in: the earliest collective some rank started and did not finish.
  std::optional<uint64_t> stuck_seq;
  for (const auto& [r, d] : dumps) {
    if (d.stuck) {
      const uint64_t s = d.stuck->value("seq", 0ull);
      if (!stuck_seq || s < *stuck_seq) stuck_seq = s;
    }
  }
  std::vector<int> missing;
  for (int r = 0; r < size; ++r) {
    if (!dumps.count(r)) missing.push_back(r);
  }
  if (stuck_seq) {
    std::vector<int> in, absent, queued_only;
    std::string op = "op";
    double since = 0;
    std::map<std::string, std::vector<int>> kinds;  // what each rank calls op #stuck_seq
    for (const auto& [r, d] : dumps) {
      const json* o = d.entry(*stuck_seq);
      if (o && entered(*o)) {
        in.push_back(r);
        op = op_name(*o);
        kinds[o->value("op", "?")].push_back(r);
        if (o->value("state", "") != "done") since = std::max(since, stuck_seconds(d, *o));
      } else if (o) {
        queued_only.push_back(r);
      } else if (d.last_entered < *stuck_seq) {
        absent.push_back(r);
      }
    }
    if (kinds.size() > 1) {
      std::string list;
      for (const auto& [k, rs] : kinds) {
        list += fmt::format("{}{} called {}", list.empty() ? "" : "; ", plural_ranks(rs), k);
      }
      out.push_back(fmt::format("ranks disagree on collective #{}: {}", *stuck_seq, list));
    }
    std::vector<int> waiting;
    for (int r : in) {
      const json* o = dumps.at(r).entry(*stuck_seq);
      if (o->value("state", "") != "done") waiting.push_back(r);
    }
    for (int r : absent) {
      out.push_back(fmt::format("rank {} never entered {} ({} waiting since {:.1f} s)", r, op,
                                plural_ranks(waiting), since));
    }
    for (int r : queued_only) {
      out.push_back(
          fmt::format("rank {} queued {} but never started it ({} waiting since {:.1f} s)", r, op,
                      plural_ranks(waiting), since));
    }
    for (int r : missing) {
      out.push_back(
          fmt::format("rank {} left no dump: it died, was killed or never got SIGUSR1 "
                      "({} waiting in {} since {:.1f} s)",
                      r, plural_ranks(waiting), op, since));
    }
    if (absent.empty() && queued_only.empty() && missing.empty()) {
      // Every rank is inside the op (or, its part sent, already in a later one): a rail the
      // ranks of a pair wait on, moving nothing. Each rank's own stuck op says what it waits on.
      std::map<std::pair<std::string, std::pair<int, int>>, std::vector<int>> rails;
      std::map<int, std::vector<int>> waited_on;  // peer -> ranks waiting on it
      for (const auto& [r, d] : dumps) {
        if (!d.stuck) continue;
        for (const json& x : d.stuck->value("waiting_on", json::array())) {
          const int p = x.value("peer", -1);
          waited_on[p].push_back(r);
          if (x.contains("rail")) {
            rails[{x.value("rail_name", "?"), {std::min(r, p), std::max(r, p)}}].push_back(r);
          }
        }
      }
      for (const auto& [key, who] : rails) {
        // "rail2 ..." for a rail named rail2, "rail eth1 ..." for one named eth1.
        const std::string& name = key.first;
        out.push_back(
            fmt::format("{}{} between rank {} and rank {} stalled ({} waiting on it "
                        "in {} since {:.1f} s)",
                        name.rfind("rail", 0) == 0 ? "" : "rail ", name, key.second.first,
                        key.second.second, plural_ranks(who), op, since));
      }
      if (rails.empty() && !waiting.empty()) {
        // No rail to blame: the rank most waited on holds the others up from inside the op.
        int worst = -1;
        for (const auto& [p, who] : waited_on) {
          if (worst < 0 || who.size() > waited_on[worst].size()) worst = p;
        }
        if (worst >= 0) {
          const auto it = dumps.find(worst);
          const json* o = it == dumps.end() ? nullptr : it->second.stuck;
          out.push_back(fmt::format(
              "every rank entered {}; rank {} holds it up ({} waiting on it since {:.1f} s; it is "
              "in {})",
              op, worst, plural_ranks(waited_on[worst]), since,
              o ? op_name(*o) + " " + o->value("state", "?") : std::string("no op")));
        }
      }
    }
  } else if (!missing.empty()) {
    out.push_back(
        fmt::format("no dump from {} (died, or never got SIGUSR1)", plural_ranks(missing)));
  }
  // A failure the ranks recorded (the first line of the first one that has it).
  for (const auto& [r, d] : dumps) {
    const std::string f = d.j.value("failure", "");
    if (!f.empty()) {
      out.push_back(fmt::format("first error recorded (rank {}): {}", r, f));
      break;
    }
  }
  return out;
}

}  // namespace

int flight(const std::string& dir) {
  std::error_code ec;
  // comm id -> rank -> dump; the newest job only if several left dumps here.
  std::map<std::string, std::map<int, Dump>> comms;
  std::map<std::string, int> comm_size;
  std::map<std::string, fs::file_time_type> job_time;
  std::vector<std::pair<fs::path, json>> files;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (name.rfind("railcc-flight-rank", 0) != 0 || e.path().extension() != ".json") continue;
    try {
      std::ifstream in(e.path());
      json j = json::parse(in);
      if (!j.contains("railcc_flight_recorder")) continue;
      const std::string job = j.value("job", "");
      job_time[job] = std::max(job_time[job], fs::last_write_time(e.path()));
      files.emplace_back(e.path(), std::move(j));
    } catch (const std::exception& ex) {
      std::cerr << fmt::format("railcc-report: skipping {}: {}\n", e.path().string(), ex.what());
    }
  }
  if (ec) {
    std::cerr << fmt::format("railcc-report: cannot read {}: {}\n", dir, ec.message());
    return 2;
  }
  if (files.empty()) {
    std::cerr << fmt::format(
        "railcc-report: no railcc-flight-rank*.json in {} (flight recorder dumps: written on a "
        "timeout, a fatal error or SIGUSR1 to RAILCC_FLIGHT_DIR)\n",
        dir);
    return 2;
  }
  std::string newest_job;
  for (const auto& [job, t] : job_time) {
    if (newest_job.empty() || t > job_time[newest_job]) newest_job = job;
  }
  for (auto& [path, j] : files) {
    if (j.value("job", "") != newest_job) continue;
    Dump d;
    d.rank = j.value("rank", -1);
    d.j = std::move(j);
    const std::string comm = d.j.value("comm", "?");
    comm_size[comm] = d.j.value("size", 0);
    comms[comm][d.rank] = std::move(d);
  }
  bool any = false;
  for (auto& [comm, dumps] : comms) {
    for (auto& [r, d] : dumps) {  // now that the dumps stay put, point into them
      for (const json& o : d.j["ops"]) {
        const uint64_t seq = o.value("seq", 0ull);
        if (seq == 0) continue;  // point-to-point ops carry no collective number
        d.last_enqueued = std::max(d.last_enqueued, seq);
        if (!entered(o)) continue;
        d.last_entered = std::max(d.last_entered, seq);
        if (!d.stuck && o.value("state", "") != "done") d.stuck = &o;
      }
    }
    const std::string prefix = comms.size() > 1 ? fmt::format("comm {}: ", comm) : "";
    const auto lines = verdicts(dumps, comm_size[comm]);
    for (const auto& l : lines) std::cout << prefix << l << "\n";
    any |= !lines.empty();
  }
  if (!any) std::cout << "no hang or failure recorded: every rank's last op completed\n";
  std::cout << "\nper rank (last op, or the one it is stuck in):\n";
  for (auto& [comm, dumps] : comms) {
    for (const auto& [r, d] : dumps) {
      std::cout << fmt::format("  {}rank {}: {}\n",
                               comms.size() > 1 ? fmt::format("comm {} ", comm) : "", r,
                               describe_rank(d));
    }
  }
  return 0;
}

}  // namespace railcc::report
