// The rendezvous server's request parsing and arithmetic (src/bootstrap/store_request.h), without
// sockets: partial requests wait for more bytes, bad ones are rejected with a reason, and the
// numbers a hostile client sends cannot overflow (both found by tests/fuzz/store_fuzz.cc).
#include "src/bootstrap/store_request.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

namespace railcc::store_protocol {
namespace {

std::vector<uint8_t> request(uint8_t command, const std::string& key, const std::string& value,
                             int64_t arg, uint32_t magic = kMagic) {
  RequestHeader h{};
  h.magic = magic;
  h.command = command;
  h.key_len = static_cast<uint32_t>(key.size());
  h.value_len = static_cast<uint32_t>(value.size());
  h.arg = arg;
  std::vector<uint8_t> out(sizeof(h) + key.size() + value.size());
  std::memcpy(out.data(), &h, sizeof(h));
  std::memcpy(out.data() + sizeof(h), key.data(), key.size());
  std::memcpy(out.data() + sizeof(h) + key.size(), value.data(), value.size());
  return out;
}

TEST(StoreRequest, ParsesOneRequestAndWaitsForTheRest) {
  auto bytes = request(1, "key", "value", 7);
  const auto extra = request(2, "k", "", 100);
  bytes.insert(bytes.end(), extra.begin(), extra.end());
  for (std::size_t cut = 0; cut < sizeof(RequestHeader) + 8; ++cut) {
    EXPECT_EQ(parse_request(bytes.data(), cut).status, ParseResult::Status::kNeedMore) << cut;
  }
  const ParseResult p = parse_request(bytes.data(), bytes.size());
  ASSERT_EQ(p.status, ParseResult::Status::kOk);
  EXPECT_EQ(p.request.command, Command::kSet);
  EXPECT_EQ(p.request.key, "key");
  EXPECT_EQ(std::string(p.request.value.begin(), p.request.value.end()), "value");
  EXPECT_EQ(p.request.arg, 7);
  EXPECT_EQ(p.consumed, sizeof(RequestHeader) + 8);
  const ParseResult q = parse_request(bytes.data() + p.consumed, bytes.size() - p.consumed);
  ASSERT_EQ(q.status, ParseResult::Status::kOk);
  EXPECT_EQ(q.request.command, Command::kGet);
}

TEST(StoreRequest, RejectsBadMagicOversizeAndUnknownCommands) {
  auto bad_magic = request(1, "k", "", 0, 0x12345678);
  EXPECT_EQ(parse_request(bad_magic.data(), bad_magic.size()).error,
            "not a railcc store client (bad magic)");
  auto too_big = request(1, "k", "", 0);
  const uint32_t huge = kMaxValueBytes + 1;
  std::memcpy(too_big.data() + offsetof(RequestHeader, value_len), &huge, sizeof(huge));
  EXPECT_EQ(parse_request(too_big.data(), too_big.size()).error, "request too large");
  for (uint8_t command : {0, 6, 255}) {
    auto unknown = request(command, "k", "", 0);
    const ParseResult p = parse_request(unknown.data(), unknown.size());
    EXPECT_EQ(p.status, ParseResult::Status::kBad);
    EXPECT_EQ(p.error, "unknown command");
  }
}

TEST(StoreRequest, AddSaturatesAndReadsNonNumbersAsZero) {
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
  EXPECT_EQ(add_to_counter(nullptr, 5), 5);
  const std::vector<uint8_t> text = {'a', 'b'}, forty = {'4', '0'};
  EXPECT_EQ(add_to_counter(&text, 3), 3);
  EXPECT_EQ(add_to_counter(&forty, 2), 42);
  const std::string max_text = std::to_string(kMax), min_text = std::to_string(kMin);
  const std::vector<uint8_t> at_max(max_text.begin(), max_text.end());
  const std::vector<uint8_t> at_min(min_text.begin(), min_text.end());
  EXPECT_EQ(add_to_counter(&at_max, kMax), kMax);
  EXPECT_EQ(add_to_counter(&at_min, -1), kMin);
  EXPECT_EQ(add_to_counter(&at_max, -1), kMax - 1);
}

TEST(StoreRequest, GetWaitIsClampedToZeroAndAYear) {
  using std::chrono::milliseconds;
  EXPECT_EQ(get_wait(-5), milliseconds(0));
  EXPECT_EQ(get_wait(1500), milliseconds(1500));
  EXPECT_EQ(get_wait(std::numeric_limits<int64_t>::max()), std::chrono::hours(24 * 365));
  // What the server does with it must not overflow the clock.
  EXPECT_GT(std::chrono::steady_clock::now() + get_wait(std::numeric_limits<int64_t>::max()),
            std::chrono::steady_clock::now());
}

}  // namespace
}  // namespace railcc::store_protocol
