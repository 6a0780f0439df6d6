#include "src/topology/cpu_set.h"

#include <fmt/format.h>

#include <algorithm>
#include <bit>

#include "railcc/status.hpp"

namespace railcc::topology {
namespace {

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

CpuSet CpuSet::from_hex(std::string_view text, std::string_view what) {
  auto fail = [&](std::string_view why) -> CpuSet {
    throw ConfigError(
        fmt::format("{}: '{}' is not a CPU bitmap ({}); expected comma-separated "
                    "32-bit hex words such as 000000ff,ffff0000",
                    what, text.substr(0, 80), why));
  };
  std::string_view rest = text;
  if (rest.empty()) return fail("empty");
  // Split into words first: the last word holds CPUs 0-31.
  std::vector<std::string_view> words;
  while (true) {
    const auto comma = rest.find(',');
    words.push_back(rest.substr(0, comma));
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  CpuSet set;
  int base = 0;
  bool any_digits = false;
  for (auto it = words.rbegin(); it != words.rend(); ++it, base += 32) {
    if (base > kMaxCpus) return fail(fmt::format("more than {} CPUs", kMaxCpus));
    std::string_view word = *it;
    if (word.starts_with("0x") || word.starts_with("0X")) word.remove_prefix(2);  // hwloc style
    // hwloc writes an all-zero word as nothing: "0x00000303,,0x03030303".
    if (word.empty()) continue;
    any_digits = true;
    if (words.size() > 1 && word.size() > 8) return fail("a word longer than 8 hex digits");
    // A lone word may be long ("0x00ffffff00ffffff"): read it 4 bits at a time from the right.
    int bit = base;
    for (auto c = word.rbegin(); c != word.rend(); ++c, bit += 4) {
      const int v = hex_digit(*c);
      if (v < 0) return fail(fmt::format("bad character '{}'", *c));
      for (int b = 0; b < 4; ++b) {
        if (!(v & (1 << b))) continue;
        if (bit + b >= kMaxCpus) return fail(fmt::format("sets CPU {} or beyond", kMaxCpus));
        set.add(bit + b);
      }
    }
  }
  if (!any_digits) return fail("no hex digits");
  return set;
}

void CpuSet::add(int cpu) {
  if (cpu < 0) return;
  if (cpu >= kMaxCpus) {
    throw ConfigError(fmt::format("CPU index {} is beyond the supported {}", cpu, kMaxCpus));
  }
  const std::size_t w = static_cast<std::size_t>(cpu) / 64;
  if (words_.size() <= w) words_.resize(w + 1, 0);
  words_[w] |= std::uint64_t{1} << (cpu % 64);
}

bool CpuSet::contains(int cpu) const {
  if (cpu < 0) return false;
  const std::size_t w = static_cast<std::size_t>(cpu) / 64;
  return w < words_.size() && (words_[w] >> (cpu % 64)) & 1;
}

bool CpuSet::empty() const { return words_.empty(); }

int CpuSet::count() const {
  int n = 0;
  for (auto w : words_) n += std::popcount(w);
  return n;
}

bool CpuSet::intersects(const CpuSet& other) const {
  const std::size_t n = std::min(words_.size(), other.words_.size());
  for (std::size_t i = 0; i < n; ++i) {
    if (words_[i] & other.words_[i]) return true;
  }
  return false;
}

bool CpuSet::includes(const CpuSet& other) const {
  for (std::size_t i = 0; i < other.words_.size(); ++i) {
    const std::uint64_t mine = i < words_.size() ? words_[i] : 0;
    if (other.words_[i] & ~mine) return false;
  }
  return true;
}

CpuSet& CpuSet::operator|=(const CpuSet& other) {
  if (words_.size() < other.words_.size()) words_.resize(other.words_.size(), 0);
  for (std::size_t i = 0; i < other.words_.size(); ++i) words_[i] |= other.words_[i];
  return *this;
}

bool CpuSet::operator==(const CpuSet& other) const { return words_ == other.words_; }

std::vector<int> CpuSet::cpus() const {
  std::vector<int> out;
  for (std::size_t w = 0; w < words_.size(); ++w) {
    for (std::uint64_t bits = words_[w]; bits; bits &= bits - 1) {
      out.push_back(static_cast<int>(w * 64) + std::countr_zero(bits));
    }
  }
  return out;
}

std::string CpuSet::to_list() const {
  std::string out;
  const std::vector<int> all = cpus();
  for (std::size_t i = 0; i < all.size();) {
    std::size_t j = i;
    while (j + 1 < all.size() && all[j + 1] == all[j] + 1) ++j;
    if (!out.empty()) out += ',';
    out += j == i ? fmt::format("{}", all[i]) : fmt::format("{}-{}", all[i], all[j]);
    i = j + 1;
  }
  return out;
}

}  // namespace railcc::topology
