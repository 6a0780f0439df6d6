// Tests for the XML reader behind every topology file (src/topology/xml_document.cc): what it
// accepts, and that each kind of malformed, truncated or hostile input is a ConfigError naming
// the file, the line and column, and what is wrong.

#include <gtest/gtest.h>

#include <string>

#include "railcc/status.hpp"
#include "src/topology/xml_document.h"

namespace railcc::topology {
namespace {

// The ConfigError message for `text`, or "" plus a test failure when it parses.
std::string ErrorOf(const std::string& text, const XmlLimits& limits = {}) {
  try {
    parse_xml(text, "t.xml", limits);
  } catch (const ConfigError& e) {
    return e.what();
  }
  ADD_FAILURE() << "parsed without error: " << text.substr(0, 200);
  return "";
}

TEST(TopologyXml, ParsesElementsAttributesAndText) {
  const XmlElement root = parse_xml(
      "<?xml version=\"1.0\"?>\n<!-- c -->\n<!DOCTYPE topology SYSTEM \"hwloc2.dtd\">\n"
      "<a x='1' y=\"two\">\n  <b/>\n  <c z=\"&lt;&amp;&#65;&#x42;&quot;\">t&gt;<![CDATA[<raw>]]>"
      "</c>\n<?pi data?><!-- inner --></a>\n<!-- after -->\n",
      "t.xml");
  EXPECT_EQ(root.name, "a");
  EXPECT_EQ(root.line, 4);
  ASSERT_NE(root.attribute("x"), nullptr);
  EXPECT_EQ(*root.attribute("x"), "1");
  EXPECT_EQ(*root.attribute("y"), "two");
  EXPECT_EQ(root.attribute("missing"), nullptr);
  ASSERT_EQ(root.children.size(), 2u);
  EXPECT_EQ(root.children[0].name, "b");
  EXPECT_EQ(root.children[0].line, 5);
  EXPECT_EQ(*root.children[1].attribute("z"), "<&AB\"");
  EXPECT_EQ(root.children[1].text, "t><raw>");
}

TEST(TopologyXml, AcceptsByteOrderMarkAndUtf8) {
  const XmlElement root = parse_xml("\xEF\xBB\xBF<a n=\"caf\xC3\xA9 \xE2\x82\xAC\"/>", "t.xml");
  EXPECT_EQ(*root.attribute("n"), "caf\xC3\xA9 \xE2\x82\xAC");
}

TEST(TopologyXml, ErrorsNameFileLineAndColumn) {
  EXPECT_EQ(ErrorOf("<a>\n  <b>\n</a>"),
            "t.xml:3:1: end tag </a> does not match <b> opened at line 2 (inside <b> opened at "
            "line 2)");
  EXPECT_EQ(ErrorOf("<a>\n<b x=1/></a>"),
            "t.xml:2:6: value of 'x' must be quoted (inside <a> "
            "opened at line 1)");
}

TEST(TopologyXml, TruncatedInputSaysSo) {
  const std::string full =
      "<system version=\"1\"><cpu numaid=\"0\"><pci busid=\"0000:01:00.0\"/>"
      "</cpu></system>";
  for (std::size_t n = 0; n < full.size(); ++n) {
    const std::string msg = ErrorOf(full.substr(0, n));
    EXPECT_NE(msg.find("t.xml:1:"), std::string::npos) << msg;
  }
  EXPECT_NE(ErrorOf("<a><b>").find("file ends before </b> (truncated?)"), std::string::npos);
  EXPECT_NE(ErrorOf("<a b=\"x").find("unterminated value of attribute 'b'"), std::string::npos);
  EXPECT_NE(ErrorOf("<a b").find("file ends inside <a b=...> (truncated?)"), std::string::npos);
  EXPECT_NE(ErrorOf("<a b=").find("file ends inside <a b=...> (truncated?)"), std::string::npos);
  EXPECT_NE(ErrorOf("<a ").find("file ends inside the start tag <a>"), std::string::npos);
  EXPECT_NE(ErrorOf("<a><!-- x").find("unterminated comment"), std::string::npos);
  EXPECT_NE(ErrorOf("").find("no root element"), std::string::npos);
  EXPECT_NE(ErrorOf("<!-- only -->").find("no root element"), std::string::npos);
}

TEST(TopologyXml, RejectsMalformedMarkup) {
  EXPECT_NE(ErrorOf("<a></b>").find("end tag </b> does not match <a>"), std::string::npos);
  EXPECT_NE(ErrorOf("<a x=\"1\" x=\"2\"/>").find("duplicate attribute 'x'"), std::string::npos);
  EXPECT_NE(ErrorOf("<a x=\"1\"y=\"2\"/>").find("white space between attributes"),
            std::string::npos);
  EXPECT_NE(ErrorOf("<a x/>").find("attribute 'x' has no '='"), std::string::npos);
  EXPECT_NE(ErrorOf("<a x=\"<\"/>").find("'<' inside the value"), std::string::npos);
  EXPECT_NE(ErrorOf("<a/><b/>").find("after the root element"), std::string::npos);
  EXPECT_NE(ErrorOf("text<a/>").find("text before the root element"), std::string::npos);
  EXPECT_NE(ErrorOf("<1a/>").find("expected an element name"), std::string::npos);
  EXPECT_NE(ErrorOf("<a>&bogus;</a>").find("unknown entity '&bogus;'"), std::string::npos);
  EXPECT_NE(ErrorOf("<a>AT&T</a>").find("'&' that does not start an entity"), std::string::npos);
  EXPECT_NE(ErrorOf("<a>&#0;</a>").find("invalid character reference"), std::string::npos);
  EXPECT_NE(ErrorOf("<a>&#x110000;</a>").find("invalid character reference"), std::string::npos);
  EXPECT_NE(ErrorOf("<a>&#xD800;</a>").find("invalid character reference"), std::string::npos);
  EXPECT_NE(ErrorOf("<a>]]></a>").find("']]>' is not allowed"), std::string::npos);
  EXPECT_NE(ErrorOf("<a><!ELEMENT x></a>").find("unexpected '<!'"), std::string::npos);
  EXPECT_NE(ErrorOf("<a/><!DOCTYPE a>").find("DOCTYPE in the wrong place"), std::string::npos);
}

TEST(TopologyXml, RejectsBinaryAndBadEncoding) {
  EXPECT_NE(ErrorOf(std::string("<a>\0</a>", 8)).find("control character 0x00"), std::string::npos);
  EXPECT_NE(ErrorOf("<a>\x01</a>").find("control character 0x01"), std::string::npos);
  EXPECT_NE(ErrorOf("<a>\xFF</a>").find("invalid UTF-8 byte 0xff"), std::string::npos);
  EXPECT_NE(ErrorOf("<a>\xC0\xAF</a>").find("invalid UTF-8"), std::string::npos);      // overlong
  EXPECT_NE(ErrorOf("<a>\xED\xA0\x80</a>").find("invalid UTF-8"), std::string::npos);  // surrogate
  EXPECT_NE(ErrorOf("<a>\xE2\x82</a>").find("invalid UTF-8"), std::string::npos);      // cut short
}

TEST(TopologyXml, RejectsEntityDeclarations) {
  // The "billion laughs" shape: entity declarations live in the DOCTYPE internal subset.
  const std::string laughs =
      "<!DOCTYPE a [<!ENTITY l \"lol\"><!ENTITY l2 \"&l;&l;&l;&l;\">]><a>&l2;</a>";
  EXPECT_NE(ErrorOf(laughs).find("internal subsets"), std::string::npos);
}

TEST(TopologyXml, EnforcesLimits) {
  std::string deep;
  for (int i = 0; i < 300; ++i) deep += "<d>";
  EXPECT_NE(ErrorOf(deep).find("nested deeper than 256"), std::string::npos);
  // A million-deep document must not touch the stack either (the reader is iterative).
  std::string very_deep;
  for (int i = 0; i < 1'000'000; ++i) very_deep += "<d>";
  EXPECT_NE(ErrorOf(very_deep).find("nested deeper"), std::string::npos);

  std::string many = "<r>";
  for (int i = 0; i < 20; ++i) many += "<e/>";
  many += "</r>";
  XmlLimits small;
  small.max_elements = 10;
  EXPECT_NE(ErrorOf(many, small).find("more than 10 elements"), std::string::npos);
  small = {};
  small.max_attributes = 2;
  EXPECT_NE(ErrorOf("<a x=\"1\" y=\"2\" z=\"3\"/>", small).find("more than 2 attributes"),
            std::string::npos);
  // Within the limits, the same shapes parse.
  EXPECT_EQ(parse_xml(many, "t.xml").children.size(), 20u);
}

}  // namespace
}  // namespace railcc::topology
