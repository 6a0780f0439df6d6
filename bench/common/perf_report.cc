#include "bench/common/perf_report.h"

#include <fmt/format.h>

#include <stdexcept>
#include <utility>

namespace railcc::bench {

std::string FormatNumber(double value, int width) {
  const std::size_t limit = static_cast<std::size_t>(width);
  for (int decimals = 2; decimals >= 0; --decimals) {
    std::string text = fmt::format("{:>{}.{}f}", value, width, decimals);
    if (text.size() <= limit) return text;
  }
  return fmt::format("{:>{}.{}e}", value, width, width >= 7 ? 1 : 0);
}

std::string TableHeader(bool report_cputime) {
  const char* time = report_cputime ? "cputime" : "time";
  std::string out = fmt::format(
      "# {:>10}  {:>12}  {:>8}  {:>6}  {:>6}           out-of-place                       "
      "in-place          \n",
      "", "", "", "", "");
  out += fmt::format(
      "# {:>10}  {:>12}  {:>8}  {:>6}  {:>6}  {:>7}  {:>6}  {:>6} {:>6}  {:>7}  {:>6}  {:>6} "
      "{:>6}\n",
      "size", "count", "type", "redop", "root", time, "algbw", "busbw", "#wrong", time, "algbw",
      "busbw", "#wrong");
  out += fmt::format(
      "# {:>10}  {:>12}  {:>8}  {:>6}  {:>6}  {:>7}  {:>6}  {:>6}  {:>5}  {:>7}  {:>6}  {:>6}  "
      "{:>5}\n",
      "(B)", "(elements)", "", "", "", "(us)", "(GB/s)", "(GB/s)", "", "(us)", "(GB/s)", "(GB/s)",
      "");
  return out;
}

std::string RowPrefix(const Row& row) {
  return fmt::format("{:>12}  {:>12}  {:>8}  {:>6}  {:>6}", row.bytes, row.count, row.type,
                     row.redop, row.root);
}

std::string RowCell(const Measurement& m) {
  const std::string wrong = m.wrong ? fmt::format("{}", *m.wrong) : "N/A";
  return fmt::format("  {}  {}  {}  {:>5}", FormatNumber(m.time_us, 7), FormatNumber(m.algbw, 6),
                     FormatNumber(m.busbw, 6), wrong);
}

std::string Footer(int64_t out_of_bounds, double avg_busbw) {
  return fmt::format("# Out of bounds values : {} {}\n# Avg bus bandwidth    : {:g} \n#\n",
                     out_of_bounds, out_of_bounds ? "FAILED" : "OK", avg_busbw);
}

namespace {

nlohmann::ordered_json MeasurementJson(const Measurement& m) {
  nlohmann::ordered_json j;
  j["time_us"] = m.time_us;
  j["algbw"] = m.algbw;
  j["busbw"] = m.busbw;
  j["wrong"] = m.wrong ? nlohmann::ordered_json(*m.wrong) : nlohmann::ordered_json(nullptr);
  return j;
}

}  // namespace

void JsonReport::AddRow(const Row& row) {
  nlohmann::ordered_json j;
  j["size"] = row.bytes;
  j["count"] = row.count;
  j["type"] = row.type;
  j["redop"] = row.redop;
  j["root"] = row.root;
  j["out_of_place"] = MeasurementJson(row.out_of_place);
  j["in_place"] = MeasurementJson(row.in_place);
  rows_.push_back(std::move(j));
}

void JsonReport::Write(std::ostream& out, int64_t out_of_bounds, double avg_busbw) {
  doc_["results"] = rows_;
  doc_["out_of_bounds"] = {{"count", out_of_bounds}, {"ok", out_of_bounds == 0}};
  doc_["avg_busbw"] = avg_busbw;
  out << doc_.dump(2) << '\n';
  out.flush();
  if (!out) throw std::runtime_error("writing the JSON output failed");
}

}  // namespace railcc::bench
