#include "src/topology/xml_document.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <utility>

#include "railcc/status.hpp"

namespace railcc::topology {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
bool is_name_start(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
}
bool is_name_char(char c) {
  return is_name_start(c) || (c >= '0' && c <= '9') || c == '-' || c == '.';
}

void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// Value of a digit in base 10 or 16, or -1.
int digit_value(char c, int base) {
  if (c >= '0' && c <= '9') return c - '0';
  if (base == 16 && c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (base == 16 && c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Length of the valid UTF-8 sequence at s[0..n), or 0 when it is invalid (overlong forms,
// surrogates and code points past U+10FFFF included): XML requires well-formed UTF-8, and the
// names read here end up in JSON, which does too.
std::size_t utf8_length(const unsigned char* s, std::size_t n) {
  const unsigned c = s[0];
  if (c < 0x80) return 1;
  // Lead byte -> sequence length; 0x80-0xC1 (continuations, overlong 2-byte) and 0xF5+ are bad.
  const std::size_t len = c >= 0xC2 && c <= 0xDF   ? 2
                          : c >= 0xE0 && c <= 0xEF ? 3
                          : c >= 0xF0 && c <= 0xF4 ? 4
                                                   : 0;
  if (len == 0 || n < len) return 0;
  std::uint32_t cp = c & (0x7F >> len);
  for (std::size_t i = 1; i < len; ++i) {
    if ((s[i] & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (s[i] & 0x3F);
  }
  if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
      (len == 4 && (cp < 0x10000 || cp > 0x10FFFF))) {
    return 0;
  }
  return len;
}

class Parser {
 public:
  Parser(std::string_view text, std::string_view source, const XmlLimits& limits)
      : text_(text), source_(source), limits_(limits) {}

  XmlElement parse() {
    check_characters();
    if (text_.starts_with("\xEF\xBB\xBF")) pos_ = 3;  // UTF-8 byte order mark
    skip_misc(/*allow_doctype=*/true);
    if (at_end()) fail(pos_, "no root element (the file is empty or holds only comments)");
    if (peek() != '<') fail(pos_, "text before the root element");
    XmlElement root;
    parse_element_tree(root);
    skip_misc(/*allow_doctype=*/false);
    if (!at_end()) {
      fail(pos_, fmt::format("unexpected content after the root element </{}>", root.name));
    }
    return root;
  }

 private:
  [[noreturn]] void fail(std::size_t at, const std::string& what) const {
    int line = 1, column = 1;
    for (std::size_t i = 0; i < at && i < text_.size(); ++i) {
      if (text_[i] == '\n') {
        ++line, column = 1;
      } else if ((static_cast<unsigned char>(text_[i]) & 0xC0) != 0x80) {
        ++column;
      }
    }
    std::string where;
    if (!open_.empty()) {
      where =
          fmt::format(" (inside <{}> opened at line {})", open_.back()->name, open_.back()->line);
    }
    throw ConfigError(fmt::format("{}:{}:{}: {}{}", source_, line, column, what, where));
  }

  // One pass over the raw bytes before parsing, so the grammar code can assume clean text.
  void check_characters() const {
    const auto* s = reinterpret_cast<const unsigned char*>(text_.data());
    for (std::size_t i = 0; i < text_.size();) {
      const unsigned char c = s[i];
      if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') {
        fail(i, fmt::format("control character 0x{:02x} is not allowed in XML (binary or "
                            "corrupted file?)",
                            c));
      }
      const std::size_t len = utf8_length(s + i, text_.size() - i);
      if (len == 0) fail(i, fmt::format("invalid UTF-8 byte 0x{:02x}", c));
      i += len;
    }
  }

  bool at_end() const { return pos_ >= text_.size(); }
  char peek() const { return at_end() ? '\0' : text_[pos_]; }
  bool starts(std::string_view s) const { return text_.substr(pos_).starts_with(s); }
  void skip_spaces() {
    while (!at_end() && is_space(text_[pos_])) ++pos_;
  }
  int line_at(std::size_t at) {
    for (; line_pos_ < at && line_pos_ < text_.size(); ++line_pos_) {
      if (text_[line_pos_] == '\n') ++line_;
    }
    return line_;
  }

  // Skips to just past `end`, failing with `what` if the text ends first.
  void skip_past(std::string_view end, std::size_t start, const char* what) {
    const auto found = text_.find(end, pos_);
    if (found == std::string_view::npos) fail(start, fmt::format("unterminated {}", what));
    pos_ = found + end.size();
  }

  // Comments, processing instructions, white space and (before the root) one DOCTYPE.
  void skip_misc(bool allow_doctype) {
    bool seen_doctype = false;
    while (true) {
      skip_spaces();
      const std::size_t start = pos_;
      if (starts("<!--")) {
        pos_ += 4;
        skip_past("-->", start, "comment '<!--'");
      } else if (starts("<?")) {
        pos_ += 2;
        skip_past("?>", start, "processing instruction '<?'");
      } else if (starts("<!DOCTYPE")) {
        if (!allow_doctype || seen_doctype) fail(start, "DOCTYPE in the wrong place");
        seen_doctype = true;
        skip_doctype(start);
      } else {
        return;
      }
    }
  }

  void skip_doctype(std::size_t start) {
    // No internal subset: it is where entity declarations (and "billion laughs") live, and no
    // topology file needs one.
    while (!at_end() && peek() != '>') {
      if (peek() == '[') fail(pos_, "DOCTYPE internal subsets ('[...]') are not supported");
      if (peek() == '"' || peek() == '\'') {
        const char q = peek();
        const auto close = text_.find(q, pos_ + 1);
        if (close == std::string_view::npos) fail(pos_, "unterminated quoted string in DOCTYPE");
        pos_ = close;
      }
      ++pos_;
    }
    if (at_end()) fail(start, "unterminated DOCTYPE");
    ++pos_;
  }

  std::string parse_name(const char* what) {
    const std::size_t start = pos_;
    if (at_end()) fail(pos_, fmt::format("file ends where {} was expected (truncated?)", what));
    if (!is_name_start(peek())) {
      fail(pos_, fmt::format("expected {}, found '{}'", what, printable(peek())));
    }
    while (!at_end() && is_name_char(peek())) ++pos_;
    return std::string(text_.substr(start, pos_ - start));
  }

  static std::string printable(char c) {
    if (static_cast<unsigned char>(c) >= 0x80) return "non-ASCII character";
    if (c == '\n') return "\\n";
    return std::string(1, c);
  }

  // Decodes character data up to (not including) a stop character, resolving entities.
  void decode_into(std::string& out, std::string_view raw, std::size_t raw_start) {
    for (std::size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] != '&') {
        out += raw[i];
        continue;
      }
      const auto semi = raw.find(';', i);
      if (semi == std::string_view::npos || semi - i > 12) {
        fail(raw_start + i, "'&' that does not start an entity (write &amp;)");
      }
      const std::string_view ent = raw.substr(i + 1, semi - i - 1);
      // Only the predefined entities: a DOCTYPE cannot declare others (see skip_doctype).
      static constexpr std::pair<std::string_view, char> kEntities[] = {
          {"lt", '<'}, {"gt", '>'}, {"amp", '&'}, {"quot", '"'}, {"apos", '\''}};
      const auto* known = std::find_if(std::begin(kEntities), std::end(kEntities),
                                       [&](const auto& kv) { return kv.first == ent; });
      if (known != std::end(kEntities)) {
        out += known->second;
      } else if (ent.starts_with('#')) {
        out_char_ref(out, ent, raw_start + i);
      } else {
        fail(raw_start + i, fmt::format("unknown entity '&{};'", ent));
      }
      i = semi;
    }
  }

  void out_char_ref(std::string& out, std::string_view ent, std::size_t at) {
    std::uint32_t cp = 0;
    const bool hex = ent.size() > 1 && (ent[1] == 'x' || ent[1] == 'X');
    const std::string_view digits = ent.substr(hex ? 2 : 1);
    bool ok = !digits.empty();
    for (char c : digits) {
      const int v = digit_value(c, hex ? 16 : 10);
      if (v < 0 || cp > 0x10FFFF) {
        ok = false;
        break;
      }
      cp = cp * (hex ? 16 : 10) + static_cast<std::uint32_t>(v);
    }
    const bool allowed = cp == 0x9 || cp == 0xA || cp == 0xD || (cp >= 0x20 && cp <= 0xD7FF) ||
                         (cp >= 0xE000 && cp <= 0x10FFFF && cp != 0xFFFE && cp != 0xFFFF);
    if (!ok || !allowed) fail(at, fmt::format("invalid character reference '&{};'", ent));
    append_utf8(out, cp);
  }

  void parse_attributes(XmlElement& e) {
    while (true) {
      const std::size_t before = pos_;
      skip_spaces();
      if (at_end()) {
        fail(pos_, fmt::format("file ends inside the start tag <{}> (truncated?)", e.name));
      }
      if (peek() == '>' || peek() == '/') return;
      if (pos_ == before) fail(pos_, "expected white space between attributes");
      const std::size_t name_at = pos_;
      std::string key = parse_name("an attribute name");
      const auto truncated = [&] {
        if (at_end())
          fail(pos_, fmt::format("file ends inside <{} {}=...> (truncated?)", e.name, key));
      };
      skip_spaces();
      truncated();
      if (peek() != '=') fail(pos_, fmt::format("attribute '{}' has no '=' and value", key));
      ++pos_;
      skip_spaces();
      truncated();
      const char q = peek();
      if (q != '"' && q != '\'') fail(pos_, fmt::format("value of '{}' must be quoted", key));
      const auto close = text_.find(q, pos_ + 1);
      if (close == std::string_view::npos) {
        fail(pos_, fmt::format("unterminated value of attribute '{}' (truncated?)", key));
      }
      const std::string_view raw = text_.substr(pos_ + 1, close - pos_ - 1);
      if (const auto lt = raw.find('<'); lt != std::string_view::npos) {
        fail(pos_ + 1 + lt, fmt::format("'<' inside the value of attribute '{}'", key));
      }
      for (const auto& [k, v] : e.attributes) {
        if (k == key) fail(name_at, fmt::format("duplicate attribute '{}' in <{}>", key, e.name));
      }
      if (e.attributes.size() >= limits_.max_attributes) {
        fail(name_at,
             fmt::format("more than {} attributes in <{}>", limits_.max_attributes, e.name));
      }
      std::string value;
      decode_into(value, raw, pos_ + 1);
      e.attributes.emplace_back(std::move(key), std::move(value));
      pos_ = close + 1;
    }
  }

  // Reads "<name attrs>" or "<name attrs/>" at pos_. Returns true when the element is empty.
  bool parse_start_tag(XmlElement& e) {
    e.line = line_at(pos_);
    ++pos_;  // '<'
    e.name = parse_name("an element name");
    if (++elements_ > limits_.max_elements) {
      fail(pos_, fmt::format("more than {} elements", limits_.max_elements));
    }
    parse_attributes(e);
    if (peek() == '/') {
      ++pos_;
      if (peek() != '>') fail(pos_, fmt::format("expected '>' after '/' in <{}>", e.name));
      ++pos_;
      return true;
    }
    ++pos_;  // '>'
    return false;
  }

  // Parses the element at pos_ and everything inside it without recursion, so nesting depth is
  // bounded by max_depth rather than by the stack.
  void parse_element_tree(XmlElement& root) {
    if (parse_start_tag(root)) return;
    open_.push_back(&root);
    while (!open_.empty()) {
      XmlElement& cur = *open_.back();
      const std::size_t start = pos_;
      if (at_end()) {
        fail(pos_, fmt::format("file ends before </{}> (truncated?)", cur.name));
      } else if (starts("</")) {
        pos_ += 2;
        const std::string name = parse_name("an end-tag name");
        skip_spaces();
        if (peek() != '>') fail(pos_, fmt::format("expected '>' to close </{}>", name));
        ++pos_;
        if (name != cur.name) {
          fail(start, fmt::format("end tag </{}> does not match <{}> opened at line {}", name,
                                  cur.name, cur.line));
        }
        open_.pop_back();
      } else if (starts("<!--")) {
        pos_ += 4;
        skip_past("-->", start, "comment '<!--'");
      } else if (starts("<![CDATA[")) {
        pos_ += 9;
        const auto end = text_.find("]]>", pos_);
        if (end == std::string_view::npos) fail(start, "unterminated CDATA section");
        cur.text.append(text_.substr(pos_, end - pos_));
        pos_ = end + 3;
      } else if (starts("<?")) {
        pos_ += 2;
        skip_past("?>", start, "processing instruction '<?'");
      } else if (starts("<!")) {
        fail(start, "unexpected '<!' (only comments and CDATA may appear inside elements)");
      } else if (peek() == '<') {
        if (static_cast<int>(open_.size()) >= limits_.max_depth) {
          fail(start, fmt::format("elements nested deeper than {}", limits_.max_depth));
        }
        cur.children.emplace_back();
        XmlElement& child = cur.children.back();
        if (!parse_start_tag(child)) open_.push_back(&child);
      } else {
        const auto lt = text_.find('<', pos_);
        const std::size_t end = lt == std::string_view::npos ? text_.size() : lt;
        const std::string_view raw = text_.substr(pos_, end - pos_);
        if (const auto gt = raw.find("]]>"); gt != std::string_view::npos) {
          fail(pos_ + gt, "']]>' is not allowed in text");
        }
        decode_into(cur.text, raw, pos_);
        pos_ = end;
      }
    }
  }

  std::string_view text_;
  std::string_view source_;
  const XmlLimits& limits_;
  std::size_t pos_ = 0;
  std::size_t line_pos_ = 0;
  int line_ = 1;
  std::size_t elements_ = 0;
  std::vector<XmlElement*> open_;  // elements whose end tag is still to come
};

}  // namespace

const std::string* XmlElement::attribute(std::string_view key) const {
  for (const auto& [k, v] : attributes) {
    if (k == key) return &v;
  }
  return nullptr;
}

XmlElement parse_xml(std::string_view text, std::string_view source, const XmlLimits& limits) {
  return Parser(text, source, limits).parse();
}

}  // namespace railcc::topology
