// A set of logical CPUs (hardware threads, hwloc "PUs") by OS index: what a thread may be pinned
// to. Small and value-typed so the machine model and the rail plan can copy it freely.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace railcc::topology {

class CpuSet {
 public:
  // Hostile files could ask for a billion CPUs; real machines stay far below this.
  static constexpr int kMaxCpus = 1 << 16;

  CpuSet() = default;

  // Parses a hwloc/NCCL/Linux sysfs bitmap: comma-separated 32-bit hex words, most significant
  // first, each with an optional "0x" ("000000ff,ffff0000", "0x0000000f,0xffffffff"). Throws
  // ConfigError naming `what` when the text is not such a bitmap or sets a CPU >= kMaxCpus.
  static CpuSet from_hex(std::string_view text, std::string_view what);

  void add(int cpu);  // Throws ConfigError past kMaxCpus; negative values are ignored.
  bool contains(int cpu) const;
  bool empty() const;
  int count() const;
  bool intersects(const CpuSet& other) const;
  bool includes(const CpuSet& other) const;  // every CPU of `other` is in this set
  CpuSet& operator|=(const CpuSet& other);
  bool operator==(const CpuSet& other) const;

  std::vector<int> cpus() const;  // ascending
  std::string to_list() const;    // "0-5,12-17", or "" when empty

 private:
  std::vector<std::uint64_t> words_;  // bit i of word w is CPU 64*w+i; no trailing zero words
};

}  // namespace railcc::topology
