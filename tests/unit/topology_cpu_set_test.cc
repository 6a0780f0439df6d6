// Tests for CpuSet (src/topology/cpu_set.cc) and PciAddress (src/topology/pci_address.cc): the
// bitmap and bus-id formats every topology source uses, and their ordering.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "railcc/status.hpp"
#include "src/topology/cpu_set.h"
#include "src/topology/pci_address.h"

namespace railcc::topology {
namespace {

TEST(TopologyCpuSet, ParsesNcclAndHwlocBitmaps) {
  // NCCL writes 32-bit words, most significant first (aws-p4d-24xl-nccl.xml, NUMA 0).
  const CpuSet p4d = CpuSet::from_hex("000000ff,ffff0000,00ffffff", "t");
  EXPECT_EQ(p4d.to_list(), "0-23,48-71");
  EXPECT_EQ(p4d.count(), 48);
  // hwloc writes 0x-prefixed words and sometimes one long word.
  EXPECT_EQ(CpuSet::from_hex("0x00555555", "t").to_list(), "0,2,4,6,8,10,12,14,16,18,20,22");
  EXPECT_EQ(CpuSet::from_hex("0x0000000f00000003", "t").to_list(), "0-1,32-35");
  EXPECT_EQ(CpuSet::from_hex("0x00000000,0x00000001", "t").to_list(), "0");
  // hwloc leaves all-zero words empty (hwloc-v2-power8-4gpu-nonic.xml, Package 1).
  EXPECT_EQ(CpuSet::from_hex("0x00000303,0x03030000,,0x03030303", "t").to_list(),
            "0-1,8-9,16-17,24-25,80-81,88-89,96-97,104-105");
}

TEST(TopologyCpuSet, RejectsGarbageNamingTheSource) {
  for (const char* bad : {"", "0x", ",", "0x,,", "xyz", "0g", "123456789,0", "0xf...f,0x1"}) {
    try {
      CpuSet::from_hex(bad, "f.xml:3: <cpu> affinity");
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find("f.xml:3: <cpu> affinity"), std::string::npos);
    }
  }
  // A hostile bitmap asking for CPU 2^20 must fail, not allocate.
  EXPECT_THROW(CpuSet::from_hex("1" + std::string(262144, '0'), "t"), ConfigError);
  std::string words = "1";
  for (int i = 0; i < 5000; ++i) words += ",00000000";
  EXPECT_THROW(CpuSet::from_hex(words, "t"), ConfigError);
}

TEST(TopologyCpuSet, SetOperations) {
  CpuSet a, b;
  for (int c : {0, 1, 2, 64, 65}) a.add(c);
  for (int c : {1, 2}) b.add(c);
  EXPECT_TRUE(a.includes(b));
  EXPECT_FALSE(b.includes(a));
  EXPECT_TRUE(a.intersects(b));
  EXPECT_TRUE(a.contains(65));
  EXPECT_FALSE(a.contains(3));
  EXPECT_FALSE(a.contains(-1));
  EXPECT_EQ(a.cpus(), (std::vector<int>{0, 1, 2, 64, 65}));
  EXPECT_EQ(a.to_list(), "0-2,64-65");
  CpuSet c;
  c.add(200);
  EXPECT_FALSE(a.intersects(c));
  c |= b;
  EXPECT_EQ(c.to_list(), "1-2,200");
  EXPECT_TRUE(CpuSet().empty());
  EXPECT_EQ(CpuSet().to_list(), "");
  EXPECT_THROW(a.add(CpuSet::kMaxCpus), ConfigError);
}

TEST(TopologyPciAddress, ParsesFormatsAndOrders) {
  const auto a = PciAddress::parse("0000:07:00.0");
  ASSERT_TRUE(a.has_value());
  EXPECT_EQ(a->to_string(), "0000:07:00.0");
  EXPECT_EQ(PciAddress::parse("0001:1A:1F.7")->to_string(), "0001:1a:1f.7");
  EXPECT_EQ(PciAddress::parse("07:00.1")->to_string(), "0000:07:00.1");
  EXPECT_EQ(PciAddress::parse("10000:00:00.0")->to_string(), "10000:00:00.0");  // VMD domain
  for (const char* bad : {"", "0000:07:00", "0000:07.0", "zz:00.0", "0000:100:00.0",
                          "0000:07:00.0x", "000000000:07:00.0", ":07:00.0", "0000:07:00.10"}) {
    EXPECT_FALSE(PciAddress::parse(bad).has_value()) << bad;
  }
  // Numeric order, not string order: domain 0x10000 sorts after 0xffff.
  EXPECT_LT(*PciAddress::parse("ffff:00:00.0"), *PciAddress::parse("10000:00:00.0"));
  EXPECT_LT(*PciAddress::parse("0000:10:1b.0"), *PciAddress::parse("0000:10:1c.0"));
  EXPECT_LT(*PciAddress::parse("0008:00:00.0"), *PciAddress::parse("0009:00:00.0"));
}

}  // namespace
}  // namespace railcc::topology
