// nccl-tests' text table and a JSON record of the same results.
#pragma once

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace railcc::bench {

// One out-of-place or in-place result.
struct Measurement {
  double time_us = 0;
  double algbw = 0;  // GB/s (1e9 bytes per second)
  double busbw = 0;
  std::optional<int64_t> wrong;  // nullopt: not checked (N/A)
};

// One table row.
struct Row {
  std::size_t bytes = 0;
  std::size_t count = 0;
  std::string type;
  std::string redop;
  int root = -1;
  Measurement out_of_place;
  Measurement in_place;
};

// `value` right-aligned in `width` columns with 2, 1 or 0 decimals, whichever fits, else in
// exponent notation (like nccl-tests).
std::string FormatNumber(double value, int width);

// The three header lines of the table ("out-of-place / in-place", names, units).
std::string TableHeader(bool report_cputime);
// "        size         count      type   redop    root" part of a row.
std::string RowPrefix(const Row& row);
// "     time   algbw   busbw #wrong" part of a row.
std::string RowCell(const Measurement& m);
// "# Out of bounds values : ..." and "# Avg bus bandwidth    : ..." lines.
std::string Footer(int64_t out_of_bounds, double avg_busbw);

// Collects rows and writes them with the run's settings as one JSON document.
class JsonReport {
 public:
  explicit JsonReport(nlohmann::ordered_json header) : doc_(std::move(header)) {}
  void AddRow(const Row& row);
  // Adds the summary and writes the document; throws std::runtime_error when the write fails.
  void Write(std::ostream& out, int64_t out_of_bounds, double avg_busbw);

 private:
  nlohmann::ordered_json doc_;
  nlohmann::ordered_json rows_ = nlohmann::ordered_json::array();
};

}  // namespace railcc::bench
