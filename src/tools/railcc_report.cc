// railcc-report: tools for what railcc writes at run time.
//   railcc-report DIR                   names the culprit of a hang or failure from the flight
//                                       recorder dumps in DIR (RAILCC_FLIGHT_DIR)
//   railcc-report merge DIR [-o FILE]   one Perfetto/Chrome trace of every rank in DIR
//                                       (RAILCC_TRACE=DIR), aligned on the wall clock
//   railcc-report --plot OUT.png DIR    per-rail throughput over time and the op latency
//                                       histogram, from the traces in DIR
#include <CLI/CLI.hpp>
#include <string>

#include "src/tools/report/report.h"

int main(int argc, char** argv) {
  CLI::App app{"railcc-report: inspect what railcc records (flight recorder dumps, traces)"};
  app.require_subcommand(0, 1);
  std::string dir, out, plot, script;
  app.add_option("dir", dir,
                 "flight recorder dump directory (RAILCC_FLIGHT_DIR), or with "
                 "--plot the trace directory (RAILCC_TRACE)");
  app.add_option("--plot", plot, "draw rail throughput and the latency histogram into this PNG");
  app.add_option("--plot-script", script, "the plotting script (default: the installed one)");
  auto* m = app.add_subcommand("merge", "merge every rank's trace in DIR into one timeline");
  std::string merge_dir;
  m->add_option("dir", merge_dir, "directory given as RAILCC_TRACE")->required();
  m->add_option("-o,--output", out, "output file (default DIR/railcc-trace-merged.json)");
  CLI11_PARSE(app, argc, argv);
  if (*m) return railcc::report::merge(merge_dir, out);
  if (dir.empty()) {
    std::cerr << app.help();
    return 2;
  }
  if (!plot.empty()) return railcc::report::plot(dir, plot, script);
  return railcc::report::flight(dir);
}
