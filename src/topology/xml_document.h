// A small, strict XML reader for topology files: elements, attributes, text, comments, CDATA,
// processing instructions and a DOCTYPE without internal subset. Every topology file, NCCL or
// hwloc, is read by it (no XML library: one less dependency, and code we fuzz ourselves):
// malformed, truncated or hostile input becomes a ConfigError naming the file, line and column,
// and the limits below keep a hostile file from exhausting memory or the stack.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace railcc::topology {

struct XmlElement {
  std::string name;
  std::vector<std::pair<std::string, std::string>> attributes;  // document order, decoded
  std::vector<XmlElement> children;
  std::string text;  // character data directly inside, entities decoded
  int line = 0;      // where the start tag begins, 1-based

  const std::string* attribute(std::string_view key) const;  // nullptr when absent
};

struct XmlLimits {
  int max_depth = 256;
  std::size_t max_elements = 500'000;
  std::size_t max_attributes = 256;  // per element
};

// Parses a whole document. `source` (a file name) prefixes every error message.
// Throws ConfigError "source:line:column: what is wrong".
XmlElement parse_xml(std::string_view text, std::string_view source, const XmlLimits& limits = {});

}  // namespace railcc::topology
