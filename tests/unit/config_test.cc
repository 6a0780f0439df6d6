// Tests for Config::from_map (src/common/config.cc): every RAILCC_* setting, the launcher
// detection (torchrun, Open MPI, PMI, Slurm, explicit RAILCC_*), their precedence, and that every
// bad value throws ConfigError naming the offending variable.

#include "railcc/config.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "railcc/status.hpp"

namespace railcc {
namespace {

using Env = std::map<std::string, std::string>;
using std::chrono::milliseconds;

// Parses `env` expecting a ConfigError; returns its message ("" and a test failure otherwise).
std::string ConfigErrorOf(const Env& env) {
  try {
    Config::from_map(env);
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.code(), ErrorCode::kConfig);
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "expected ConfigError, got another exception: " << e.what();
    return "";
  }
  std::string vars;
  for (const auto& [k, v] : env) vars += k + "=" + v + " ";
  ADD_FAILURE() << "expected ConfigError for " << vars;
  return "";
}

// A bad value of `var` must throw ConfigError whose message names the variable and the value.
void ExpectRejected(const std::string& var, const std::string& value, Env extra = {}) {
  extra[var] = value;
  const std::string msg = ConfigErrorOf(extra);
  if (msg.empty()) return;  // already reported
  EXPECT_NE(msg.find(var), std::string::npos) << var << "=" << value << ": " << msg;
  EXPECT_NE(msg.find(value), std::string::npos) << var << "=" << value << ": " << msg;
}

Config Parse(const Env& env) { return Config::from_map(env); }

TEST(ConfigTest, DefaultsWhenNothingIsSet) {
  const Config c = Parse({});
  EXPECT_EQ(c.timeout, milliseconds(300'000));
  EXPECT_EQ(c.transport, TransportKind::kAuto);
  EXPECT_EQ(c.log_level, LogLevel::kWarn);
  EXPECT_EQ(c.debug_subsystems, "");
  EXPECT_EQ(c.chunk_bytes, 512u * 1024);
  EXPECT_EQ(c.small_message_bytes, 16u * 1024);
  EXPECT_EQ(c.shm_ring_bytes, 4u * 1024 * 1024);
  EXPECT_EQ(c.tcp_sockets_per_peer, 2);
  EXPECT_EQ(c.socket_addr, "");
  EXPECT_EQ(c.spin_us, 20);
  EXPECT_EQ(c.launch.rank, -1);
  EXPECT_EQ(c.launch.world_size, -1);
  EXPECT_EQ(c.launch.local_rank, -1);
  EXPECT_EQ(c.launch.local_world_size, -1);
  EXPECT_EQ(c.launch.store_addr, "");
  EXPECT_FALSE(c.launch.store_is_server);
  EXPECT_EQ(c.launch.source, "");
  EXPECT_FALSE(c.debug_enabled("net"));
}

TEST(ConfigTest, UnrelatedAndEmptyVariablesAreIgnored) {
  const Config c = Parse({{"PATH", "/usr/bin"},
                          {"HOME", "/root"},
                          {"RAILCC_TIMEOUT", ""},
                          {"RAILCC_TRANSPORT", ""},
                          {"RAILCC_TCP_SOCKETS", ""}});
  EXPECT_EQ(c.timeout, milliseconds(300'000));
  EXPECT_EQ(c.transport, TransportKind::kAuto);
  EXPECT_EQ(c.tcp_sockets_per_peer, 2);
  EXPECT_EQ(c.launch.source, "");
}

TEST(ConfigTest, TimeoutInSecondsWithFractions) {
  EXPECT_EQ(Parse({{"RAILCC_TIMEOUT", "10"}}).timeout, milliseconds(10'000));
  EXPECT_EQ(Parse({{"RAILCC_TIMEOUT", "0.5"}}).timeout, milliseconds(500));
  EXPECT_EQ(Parse({{"RAILCC_TIMEOUT", "1.25"}}).timeout, milliseconds(1250));
  EXPECT_EQ(Parse({{"RAILCC_TIMEOUT", "3600"}}).timeout, milliseconds(3'600'000));
  // A tiny positive value never rounds down to zero (which would mean "no time at all").
  EXPECT_EQ(Parse({{"RAILCC_TIMEOUT", "0.0001"}}).timeout, milliseconds(1));
}

TEST(ConfigTest, BadTimeoutIsRejected) {
  for (const char* v : {"abc", "-1", "0", "-0.5", "10s", "1.5.2", "nan", "inf", "1e9", " "}) {
    SCOPED_TRACE(v);
    ExpectRejected("RAILCC_TIMEOUT", v);
  }
}

TEST(ConfigTest, Transport) {
  EXPECT_EQ(Parse({{"RAILCC_TRANSPORT", "auto"}}).transport, TransportKind::kAuto);
  EXPECT_EQ(Parse({{"RAILCC_TRANSPORT", "shm"}}).transport, TransportKind::kShm);
  EXPECT_EQ(Parse({{"RAILCC_TRANSPORT", "tcp"}}).transport, TransportKind::kTcp);
  EXPECT_EQ(Parse({{"RAILCC_TRANSPORT", "verbs"}}).transport, TransportKind::kVerbs);
  EXPECT_EQ(Parse({{"RAILCC_TRANSPORT", "ucx"}}).transport, TransportKind::kUcx);
  for (const char* v : {"udp", "ib", "tcp,shm", "shm "}) {
    SCOPED_TRACE(v);
    ExpectRejected("RAILCC_TRANSPORT", v);
  }
  EXPECT_STREQ(transport_kind_name(TransportKind::kAuto), "auto");
  EXPECT_STREQ(transport_kind_name(TransportKind::kShm), "shm");
  EXPECT_STREQ(transport_kind_name(TransportKind::kTcp), "tcp");
  EXPECT_STREQ(transport_kind_name(TransportKind::kUcx), "ucx");
}

TEST(ConfigTest, LogLevel) {
  const std::pair<const char*, LogLevel> kLevels[] = {{"error", LogLevel::kError},
                                                      {"warn", LogLevel::kWarn},
                                                      {"info", LogLevel::kInfo},
                                                      {"debug", LogLevel::kDebug},
                                                      {"trace", LogLevel::kTrace}};
  for (const auto& [name, level] : kLevels) {
    EXPECT_EQ(Parse({{"RAILCC_LOG_LEVEL", name}}).log_level, level) << name;
  }
  for (const char* v : {"verbose", "warning", "5", "fatal"}) {
    SCOPED_TRACE(v);
    ExpectRejected("RAILCC_LOG_LEVEL", v);
  }
}

TEST(ConfigTest, DebugSubsystems) {
  Config c = Parse({{"RAILCC_DEBUG", "config,net"}});
  EXPECT_EQ(c.debug_subsystems, "config,net");
  EXPECT_TRUE(c.debug_enabled("config"));
  EXPECT_TRUE(c.debug_enabled("net"));
  EXPECT_FALSE(c.debug_enabled("coll"));
  EXPECT_FALSE(c.debug_enabled("store"));
  // A subsystem name that is a prefix of another must not match it.
  EXPECT_FALSE(c.debug_enabled("ne"));

  c = Parse({{"RAILCC_DEBUG", "all"}});
  for (const char* s : {"config", "init", "coll", "net", "store", "shm"}) {
    EXPECT_TRUE(c.debug_enabled(s)) << s;
  }

  c = Parse({{"RAILCC_DEBUG", "config,init,coll,net,store,shm"}});
  for (const char* s : {"config", "init", "coll", "net", "store", "shm"}) {
    EXPECT_TRUE(c.debug_enabled(s)) << s;
  }
}

TEST(ConfigTest, BadDebugSubsystemIsRejected) {
  for (const char* v : {"bogus", "net,bogus", "net,,coll", "NET", "net coll"}) {
    SCOPED_TRACE(v);
    ExpectRejected("RAILCC_DEBUG", v);
  }
}

TEST(ConfigTest, ByteSizesWithSuffixes) {
  EXPECT_EQ(Parse({{"RAILCC_CHUNK_BYTES", "65536"}}).chunk_bytes, 65536u);
  EXPECT_EQ(Parse({{"RAILCC_CHUNK_BYTES", "4096"}}).chunk_bytes, 4096u);
  EXPECT_EQ(Parse({{"RAILCC_CHUNK_BYTES", "256K"}}).chunk_bytes, 256u << 10);
  EXPECT_EQ(Parse({{"RAILCC_CHUNK_BYTES", "256k"}}).chunk_bytes, 256u << 10);
  EXPECT_EQ(Parse({{"RAILCC_CHUNK_BYTES", "2M"}}).chunk_bytes, 2u << 20);
  EXPECT_EQ(Parse({{"RAILCC_CHUNK_BYTES", "2m"}}).chunk_bytes, 2u << 20);
  EXPECT_EQ(Parse({{"RAILCC_CHUNK_BYTES", "1G"}}).chunk_bytes, 1u << 30);
  EXPECT_EQ(Parse({{"RAILCC_CHUNK_BYTES", "1g"}}).chunk_bytes, 1u << 30);

  EXPECT_EQ(Parse({{"RAILCC_SMALL_MSG_BYTES", "0"}}).small_message_bytes, 0u);
  EXPECT_EQ(Parse({{"RAILCC_SMALL_MSG_BYTES", "64K"}}).small_message_bytes, 64u << 10);
  EXPECT_EQ(Parse({{"RAILCC_SMALL_MSG_BYTES", "1000"}}).small_message_bytes, 1000u);
  EXPECT_EQ(Parse({{"RAILCC_SMALL_MSG_BYTES", "1M"}}).small_message_bytes, 1u << 20);

  EXPECT_EQ(Parse({}).shm_mailbox_bytes, 2u << 20);
  EXPECT_EQ(Parse({{"RAILCC_SHM_MAILBOX_BYTES", "0"}}).shm_mailbox_bytes, 0u);
  EXPECT_EQ(Parse({{"RAILCC_SHM_MAILBOX_BYTES", "16K"}}).shm_mailbox_bytes, 16u << 10);
  EXPECT_EQ(Parse({{"RAILCC_SHM_MAILBOX_BYTES", "64M"}}).shm_mailbox_bytes, 64u << 20);
  EXPECT_THROW(Parse({{"RAILCC_SHM_MAILBOX_BYTES", "65M"}}), ConfigError);
  EXPECT_THROW(Parse({{"RAILCC_SHM_MAILBOX_BYTES", "some"}}), ConfigError);
  EXPECT_EQ(Parse({}).shm_window_bytes, 128u << 10);
  EXPECT_EQ(Parse({{"RAILCC_SHM_WINDOW_BYTES", "0"}}).shm_window_bytes, 0u);
  EXPECT_EQ(Parse({{"RAILCC_SHM_WINDOW_BYTES", "1M"}}).shm_window_bytes, 1u << 20);
  EXPECT_THROW(Parse({{"RAILCC_SHM_WINDOW_BYTES", "-1"}}), ConfigError);
  EXPECT_EQ(Parse({{"RAILCC_SHM_RING_BYTES", "64K"}}).shm_ring_bytes, 64u << 10);
  EXPECT_EQ(Parse({{"RAILCC_SHM_RING_BYTES", "8M"}}).shm_ring_bytes, 8u << 20);
  EXPECT_EQ(Parse({{"RAILCC_SHM_RING_BYTES", "1G"}}).shm_ring_bytes, 1u << 30);
  EXPECT_EQ(Parse({{"RAILCC_SHM_RING_BYTES", "131072"}}).shm_ring_bytes, 131072u);
}

TEST(ConfigTest, BadByteSizesAreRejected) {
  for (const char* v : {"abc", "K", "-4K", "1.5M", "4KB", "4T", "100", "4095", "2G",
                        "99999999999999999999", "17179869184G"}) {
    SCOPED_TRACE(v);
    ExpectRejected("RAILCC_CHUNK_BYTES", v);
  }
  for (const char* v : {"abc", "-1", "2G", "1.5K"}) {
    SCOPED_TRACE(v);
    ExpectRejected("RAILCC_SMALL_MSG_BYTES", v);
  }
}

TEST(ConfigTest, ShmRingMustBeAPowerOfTwoOfAtLeast64K) {
  for (const char* v : {"100K", "3M", "65537", "96K", "32K", "1", "2G", "abc"}) {
    SCOPED_TRACE(v);
    ExpectRejected("RAILCC_SHM_RING_BYTES", v);
  }
}

TEST(ConfigTest, TcpSockets) {
  EXPECT_EQ(Parse({{"RAILCC_TCP_SOCKETS", "1"}}).tcp_sockets_per_peer, 1);
  EXPECT_EQ(Parse({{"RAILCC_TCP_SOCKETS", "4"}}).tcp_sockets_per_peer, 4);
  EXPECT_EQ(Parse({{"RAILCC_TCP_SOCKETS", "16"}}).tcp_sockets_per_peer, 16);
  for (const char* v : {"0", "-1", "17", "two", "2.5", "4 "}) {
    SCOPED_TRACE(v);
    ExpectRejected("RAILCC_TCP_SOCKETS", v);
  }
}

TEST(ConfigTest, SocketAddr) {
  EXPECT_EQ(Parse({{"RAILCC_SOCKET_ADDR", "10.0.0.5"}}).socket_addr, "10.0.0.5");
  EXPECT_EQ(Parse({{"RAILCC_SOCKET_ADDR", "::1"}}).socket_addr, "::1");
}

TEST(ConfigTest, Rails) {
  EXPECT_TRUE(Parse({}).rails.empty());
  EXPECT_EQ(Parse({{"RAILCC_RAILS", "rail0"}}).rails, std::vector<std::string>{"rail0"});
  EXPECT_EQ(Parse({{"RAILCC_RAILS", "rail0,10.77.1.1,eth2"}}).rails,
            (std::vector<std::string>{"rail0", "10.77.1.1", "eth2"}));
  for (const char* v : {",", "rail0,", ",rail0", "rail0,,rail1", "rail0,rail0", "rail 0",
                        "auto,rail0", "rail0,auto"}) {
    SCOPED_TRACE(v);
    ExpectRejected("RAILCC_RAILS", v);
  }
  // auto: the rails are left for communicator init to take from the topology.
  EXPECT_FALSE(Parse({}).rails_auto);
  EXPECT_TRUE(Parse({{"RAILCC_RAILS", "auto"}}).rails_auto);
  EXPECT_TRUE(Parse({{"RAILCC_RAILS", "auto"}}).rails.empty());
  EXPECT_NE(Parse({{"RAILCC_RAILS", "auto"}}).to_string().find("auto (from the topology"),
            std::string::npos);
  EXPECT_EQ(Parse({}).rail_chunk_bytes, 128u * 1024);
  EXPECT_EQ(Parse({{"RAILCC_RAIL_CHUNK_BYTES", "1M"}}).rail_chunk_bytes, 1u << 20);
  ExpectRejected("RAILCC_RAIL_CHUNK_BYTES", "1");
  EXPECT_EQ(Parse({}).rail_timeout, std::chrono::milliseconds(500));
  EXPECT_EQ(Parse({{"RAILCC_RAIL_TIMEOUT", "2"}}).rail_timeout, std::chrono::milliseconds(2000));
  for (const char* v : {"0", "-1", "soon", "4000"}) {
    SCOPED_TRACE(v);
    ExpectRejected("RAILCC_RAIL_TIMEOUT", v);
  }
}

TEST(ConfigTest, SpinMicroseconds) {
  EXPECT_EQ(Parse({{"RAILCC_SPIN_US", "0"}}).spin_us, 0);
  EXPECT_EQ(Parse({{"RAILCC_SPIN_US", "150"}}).spin_us, 150);
  EXPECT_EQ(Parse({{"RAILCC_SPIN_US", "1000000"}}).spin_us, 1'000'000);
  for (const char* v : {"-1", "1000001", "fast", "1e3"}) {
    SCOPED_TRACE(v);
    ExpectRejected("RAILCC_SPIN_US", v);
  }
}

TEST(ConfigTest, AlgorithmAndCostModel) {
  const Config d = Config::from_map({});
  EXPECT_EQ(d.algo, "auto");
  EXPECT_EQ(d.ranks_per_host, 0);
  const Config c = Config::from_map({{"RAILCC_ALGO", "hier"},
                                     {"RAILCC_COST_INTRA", "3.5,12"},
                                     {"RAILCC_COST_INTER", "40,1.25"},
                                     {"RAILCC_COST_REDUCE_GBPS", "6"},
                                     {"RAILCC_RANKS_PER_HOST", "4"}});
  EXPECT_EQ(c.algo, "hier");
  EXPECT_DOUBLE_EQ(c.cost_intra.alpha_us, 3.5);
  EXPECT_DOUBLE_EQ(c.cost_intra.gbps, 12);
  EXPECT_DOUBLE_EQ(c.cost_inter.alpha_us, 40);
  EXPECT_DOUBLE_EQ(c.cost_inter.gbps, 1.25);
  EXPECT_DOUBLE_EQ(c.cost_reduce_gbps, 6);
  EXPECT_EQ(c.ranks_per_host, 4);
  EXPECT_TRUE(Config::from_map({{"RAILCC_DEBUG", "algo"}}).debug_enabled("algo"));
  ExpectRejected("RAILCC_ALGO", "butterfly");
  ExpectRejected("RAILCC_COST_INTRA", "3");
  ExpectRejected("RAILCC_COST_INTER", "3,0");
  ExpectRejected("RAILCC_COST_REDUCE_GBPS", "fast");
  ExpectRejected("RAILCC_RANKS_PER_HOST", "-1");
}

TEST(ConfigTest, AllSettingsAtOnce) {
  const Config c = Parse({{"RAILCC_TIMEOUT", "2.5"},
                          {"RAILCC_TRANSPORT", "tcp"},
                          {"RAILCC_LOG_LEVEL", "debug"},
                          {"RAILCC_DEBUG", "coll,store"},
                          {"RAILCC_CHUNK_BYTES", "128K"},
                          {"RAILCC_SMALL_MSG_BYTES", "8K"},
                          {"RAILCC_SHM_RING_BYTES", "16M"},
                          {"RAILCC_TCP_SOCKETS", "3"},
                          {"RAILCC_SOCKET_ADDR", "192.168.1.7"},
                          {"RAILCC_SPIN_US", "5"}});
  EXPECT_EQ(c.timeout, milliseconds(2500));
  EXPECT_EQ(c.transport, TransportKind::kTcp);
  EXPECT_EQ(c.log_level, LogLevel::kDebug);
  EXPECT_EQ(c.debug_subsystems, "coll,store");
  EXPECT_EQ(c.chunk_bytes, 128u << 10);
  EXPECT_EQ(c.small_message_bytes, 8u << 10);
  EXPECT_EQ(c.shm_ring_bytes, 16u << 20);
  EXPECT_EQ(c.tcp_sockets_per_peer, 3);
  EXPECT_EQ(c.socket_addr, "192.168.1.7");
  EXPECT_EQ(c.spin_us, 5);
}

// ---------------------------------------------------------------------------------------------
// Launcher detection.

TEST(ConfigTest, Torchrun) {
  const Config c = Parse({{"RANK", "3"},
                          {"WORLD_SIZE", "8"},
                          {"LOCAL_RANK", "1"},
                          {"LOCAL_WORLD_SIZE", "4"},
                          {"MASTER_ADDR", "10.1.2.3"},
                          {"MASTER_PORT", "29500"}});
  EXPECT_EQ(c.launch.source, "torchrun");
  EXPECT_EQ(c.launch.rank, 3);
  EXPECT_EQ(c.launch.world_size, 8);
  EXPECT_EQ(c.launch.local_rank, 1);
  EXPECT_EQ(c.launch.local_world_size, 4);
  EXPECT_EQ(c.launch.store_addr, "10.1.2.3:29500");
  EXPECT_FALSE(c.launch.store_is_server);
}

TEST(ConfigTest, TorchrunRankZeroServesTheStore) {
  const Config c = Parse(
      {{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "localhost"}, {"MASTER_PORT", "1234"}});
  EXPECT_EQ(c.launch.source, "torchrun");
  EXPECT_EQ(c.launch.rank, 0);
  EXPECT_EQ(c.launch.store_addr, "localhost:1234");
  EXPECT_TRUE(c.launch.store_is_server);
  // Local rank/size are optional.
  EXPECT_EQ(c.launch.local_rank, -1);
  EXPECT_EQ(c.launch.local_world_size, -1);
}

TEST(ConfigTest, OpenMpi) {
  const Config c = Parse({{"OMPI_COMM_WORLD_RANK", "2"},
                          {"OMPI_COMM_WORLD_SIZE", "4"},
                          {"OMPI_COMM_WORLD_LOCAL_RANK", "0"},
                          {"OMPI_COMM_WORLD_LOCAL_SIZE", "2"},
                          {"RAILCC_STORE_ADDR", "node1:5000"}});
  EXPECT_EQ(c.launch.source, "openmpi");
  EXPECT_EQ(c.launch.rank, 2);
  EXPECT_EQ(c.launch.world_size, 4);
  EXPECT_EQ(c.launch.local_rank, 0);
  EXPECT_EQ(c.launch.local_world_size, 2);
  EXPECT_EQ(c.launch.store_addr, "node1:5000");
  EXPECT_FALSE(c.launch.store_is_server);
}

TEST(ConfigTest, Pmi) {
  const Config c = Parse(
      {{"PMI_RANK", "1"}, {"PMI_SIZE", "2"}, {"MPI_LOCALRANKID", "1"}, {"MPI_LOCALNRANKS", "2"}});
  EXPECT_EQ(c.launch.source, "pmi");
  EXPECT_EQ(c.launch.rank, 1);
  EXPECT_EQ(c.launch.world_size, 2);
  EXPECT_EQ(c.launch.local_rank, 1);
  EXPECT_EQ(c.launch.local_world_size, 2);
  EXPECT_EQ(c.launch.store_addr, "");
}

TEST(ConfigTest, Slurm) {
  const Config c = Parse({{"SLURM_PROCID", "5"},
                          {"SLURM_NTASKS", "8"},
                          {"SLURM_LOCALID", "1"},
                          {"SLURM_NTASKS_PER_NODE", "4"}});
  EXPECT_EQ(c.launch.source, "slurm");
  EXPECT_EQ(c.launch.rank, 5);
  EXPECT_EQ(c.launch.world_size, 8);
  EXPECT_EQ(c.launch.local_rank, 1);
  EXPECT_EQ(c.launch.local_world_size, 4);
}

TEST(ConfigTest, SlurmRepeatedTasksPerNode) {
  // Slurm writes "4(x2)" for two nodes with four tasks each.
  const Config c = Parse({{"SLURM_PROCID", "6"},
                          {"SLURM_NTASKS", "8"},
                          {"SLURM_LOCALID", "2"},
                          {"SLURM_NTASKS_PER_NODE", "4(x2)"}});
  EXPECT_EQ(c.launch.source, "slurm");
  EXPECT_EQ(c.launch.rank, 6);
  EXPECT_EQ(c.launch.local_rank, 2);
  EXPECT_EQ(c.launch.local_world_size, 4);
}

TEST(ConfigTest, ExplicitRailccVariables) {
  const Config c = Parse({{"RAILCC_RANK", "1"},
                          {"RAILCC_WORLD_SIZE", "2"},
                          {"RAILCC_LOCAL_RANK", "1"},
                          {"RAILCC_LOCAL_WORLD_SIZE", "2"},
                          {"RAILCC_STORE_ADDR", "127.0.0.1:4000"}});
  EXPECT_EQ(c.launch.source, "railcc");
  EXPECT_EQ(c.launch.rank, 1);
  EXPECT_EQ(c.launch.world_size, 2);
  EXPECT_EQ(c.launch.local_rank, 1);
  EXPECT_EQ(c.launch.local_world_size, 2);
  EXPECT_EQ(c.launch.store_addr, "127.0.0.1:4000");
  EXPECT_FALSE(c.launch.store_is_server);
}

TEST(ConfigTest, ExplicitStoreAddrIsNeverServedByRankZero) {
  // RAILCC_STORE_ADDR names a store someone else (railcc-run) hosts.
  const Config c = Parse(
      {{"RAILCC_RANK", "0"}, {"RAILCC_WORLD_SIZE", "2"}, {"RAILCC_STORE_ADDR", "127.0.0.1:4000"}});
  EXPECT_EQ(c.launch.rank, 0);
  EXPECT_FALSE(c.launch.store_is_server);
}

TEST(ConfigTest, RailccVariablesTakePrecedenceOverTorchrun) {
  const Config c = Parse({{"RAILCC_RANK", "1"},
                          {"RAILCC_WORLD_SIZE", "2"},
                          {"RANK", "0"},
                          {"WORLD_SIZE", "4"},
                          {"LOCAL_RANK", "3"},
                          {"OMPI_COMM_WORLD_RANK", "2"},
                          {"OMPI_COMM_WORLD_SIZE", "3"}});
  EXPECT_EQ(c.launch.source, "railcc");
  EXPECT_EQ(c.launch.rank, 1);
  EXPECT_EQ(c.launch.world_size, 2);
  // Local rank comes from the same launcher only.
  EXPECT_EQ(c.launch.local_rank, -1);
}

TEST(ConfigTest, LauncherPrecedenceOrder) {
  // torchrun over Open MPI over PMI over Slurm (srun often sets SLURM_* under mpirun too).
  Env env = {{"RANK", "1"},
             {"WORLD_SIZE", "2"},
             {"OMPI_COMM_WORLD_RANK", "2"},
             {"OMPI_COMM_WORLD_SIZE", "3"},
             {"PMI_RANK", "3"},
             {"PMI_SIZE", "4"},
             {"SLURM_PROCID", "4"},
             {"SLURM_NTASKS", "5"}};
  EXPECT_EQ(Parse(env).launch.source, "torchrun");
  env.erase("RANK");
  env.erase("WORLD_SIZE");
  EXPECT_EQ(Parse(env).launch.source, "openmpi");
  EXPECT_EQ(Parse(env).launch.rank, 2);
  env.erase("OMPI_COMM_WORLD_RANK");
  env.erase("OMPI_COMM_WORLD_SIZE");
  EXPECT_EQ(Parse(env).launch.source, "pmi");
  EXPECT_EQ(Parse(env).launch.rank, 3);
  env.erase("PMI_RANK");
  env.erase("PMI_SIZE");
  EXPECT_EQ(Parse(env).launch.source, "slurm");
  EXPECT_EQ(Parse(env).launch.rank, 4);
}

TEST(ConfigTest, RailccStoreAddrTakesPrecedenceOverMasterAddr) {
  const Config c = Parse({{"RANK", "0"},
                          {"WORLD_SIZE", "2"},
                          {"MASTER_ADDR", "10.0.0.1"},
                          {"MASTER_PORT", "29500"},
                          {"RAILCC_STORE_ADDR", "10.0.0.2:7000"}});
  EXPECT_EQ(c.launch.store_addr, "10.0.0.2:7000");
  EXPECT_FALSE(c.launch.store_is_server);
}

TEST(ConfigTest, RankMustBeBelowWorldSize) {
  std::string msg = ConfigErrorOf({{"RANK", "4"}, {"WORLD_SIZE", "4"}});
  EXPECT_NE(msg.find("RANK"), std::string::npos) << msg;
  msg = ConfigErrorOf({{"RAILCC_RANK", "2"}, {"RAILCC_WORLD_SIZE", "2"}});
  EXPECT_NE(msg.find("RAILCC_RANK"), std::string::npos) << msg;
  msg = ConfigErrorOf({{"SLURM_PROCID", "9"}, {"SLURM_NTASKS", "8"}});
  EXPECT_NE(msg.find("SLURM_PROCID"), std::string::npos) << msg;
  msg = ConfigErrorOf({{"OMPI_COMM_WORLD_RANK", "-1"}, {"OMPI_COMM_WORLD_SIZE", "8"}});
  EXPECT_NE(msg.find("OMPI_COMM_WORLD_RANK"), std::string::npos) << msg;
}

TEST(ConfigTest, BadRankOrWorldSizeValues) {
  ExpectRejected("WORLD_SIZE", "0", {{"RANK", "0"}});
  ExpectRejected("WORLD_SIZE", "-2", {{"RANK", "0"}});
  ExpectRejected("WORLD_SIZE", "many", {{"RANK", "0"}});
  ExpectRejected("RANK", "first", {{"WORLD_SIZE", "2"}});
  ExpectRejected("RANK", "1.0", {{"WORLD_SIZE", "2"}});
  ExpectRejected("LOCAL_RANK", "2", {{"RANK", "0"}, {"WORLD_SIZE", "2"}});
  ExpectRejected("LOCAL_WORLD_SIZE", "0", {{"RANK", "0"}, {"WORLD_SIZE", "2"}});
  ExpectRejected("LOCAL_WORLD_SIZE", "3", {{"RANK", "0"}, {"WORLD_SIZE", "2"}});
  const std::string msg = ConfigErrorOf(
      {{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "4"}, {"SLURM_NTASKS_PER_NODE", "x(4)"}});
  EXPECT_NE(msg.find("SLURM_NTASKS_PER_NODE"), std::string::npos) << msg;
}

TEST(ConfigTest, RankWithoutWorldSizeIsAnError) {
  std::string msg = ConfigErrorOf({{"RANK", "0"}});
  EXPECT_NE(msg.find("RANK"), std::string::npos) << msg;
  EXPECT_NE(msg.find("WORLD_SIZE"), std::string::npos) << msg;
  msg = ConfigErrorOf({{"WORLD_SIZE", "4"}});
  EXPECT_NE(msg.find("RANK"), std::string::npos) << msg;
  EXPECT_NE(msg.find("WORLD_SIZE"), std::string::npos) << msg;
  msg = ConfigErrorOf({{"RAILCC_RANK", "1"}});
  EXPECT_NE(msg.find("RAILCC_WORLD_SIZE"), std::string::npos) << msg;
  msg = ConfigErrorOf({{"SLURM_NTASKS", "4"}});
  EXPECT_NE(msg.find("SLURM_PROCID"), std::string::npos) << msg;
  msg = ConfigErrorOf({{"OMPI_COMM_WORLD_RANK", "0"}});
  EXPECT_NE(msg.find("OMPI_COMM_WORLD_SIZE"), std::string::npos) << msg;
}

TEST(ConfigTest, MasterAddrAndPortBecomeTheStoreAddress) {
  Config c = Parse({{"RANK", "1"},
                    {"WORLD_SIZE", "2"},
                    {"MASTER_ADDR", "host.example"},
                    {"MASTER_PORT", "29500"}});
  EXPECT_EQ(c.launch.store_addr, "host.example:29500");
  EXPECT_FALSE(c.launch.store_is_server);  // only rank 0 serves
  // Only one of the two: no store address.
  c = Parse({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "host.example"}});
  EXPECT_EQ(c.launch.store_addr, "");
  EXPECT_FALSE(c.launch.store_is_server);
  c = Parse({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_PORT", "29500"}});
  EXPECT_EQ(c.launch.store_addr, "");
  // No launcher: there is no rank 0, so nobody serves.
  c = Parse({{"MASTER_ADDR", "h"}, {"MASTER_PORT", "1"}});
  EXPECT_EQ(c.launch.store_addr, "h:1");
  EXPECT_FALSE(c.launch.store_is_server);
}

TEST(ConfigTest, BadMasterPortIsRejected) {
  for (const char* v : {"abc", "0", "65536", "-1", "80a"}) {
    SCOPED_TRACE(v);
    ExpectRejected("MASTER_PORT", v, {{"MASTER_ADDR", "localhost"}});
  }
}

TEST(ConfigTest, StoreAddrWithoutPortIsRejected) {
  for (const char* v : {"localhost", "10.0.0.1", "node7"}) {
    SCOPED_TRACE(v);
    ExpectRejected("RAILCC_STORE_ADDR", v);
    ExpectRejected("RAILCC_STORE_ADDR", v, {{"RAILCC_RANK", "0"}, {"RAILCC_WORLD_SIZE", "2"}});
  }
}

TEST(ConfigTest, StoreAddrWithEmptyOrBadPortIsRejected) {
  // "host:port" needs a port number in [1, 65535], just like MASTER_PORT.
  for (const char* v : {"localhost:", "10.0.0.1:abc", "node7:12abc", "node7:70000", "node7:0"}) {
    SCOPED_TRACE(v);
    ExpectRejected("RAILCC_STORE_ADDR", v);
  }
}

TEST(ConfigTest, ToStringListsEverySetting) {
  const Config c = Parse({{"RAILCC_TIMEOUT", "2.5"},
                          {"RAILCC_TRANSPORT", "shm"},
                          {"RAILCC_LOG_LEVEL", "trace"},
                          {"RAILCC_DEBUG", "net,store"},
                          {"RAILCC_CHUNK_BYTES", "128K"},
                          {"RAILCC_SMALL_MSG_BYTES", "8K"},
                          {"RAILCC_SHM_RING_BYTES", "16M"},
                          {"RAILCC_TCP_SOCKETS", "3"},
                          {"RAILCC_SOCKET_ADDR", "192.168.1.7"},
                          {"RAILCC_SPIN_US", "7"},
                          {"RANK", "0"},
                          {"WORLD_SIZE", "4"},
                          {"LOCAL_RANK", "0"},
                          {"LOCAL_WORLD_SIZE", "2"},
                          {"MASTER_ADDR", "10.9.8.7"},
                          {"MASTER_PORT", "29500"}});
  const std::string s = c.to_string();
  for (const char* var : {"RAILCC_TIMEOUT", "RAILCC_TRANSPORT", "RAILCC_LOG_LEVEL", "RAILCC_DEBUG",
                          "RAILCC_CHUNK_BYTES", "RAILCC_SMALL_MSG_BYTES", "RAILCC_SHM_RING_BYTES",
                          "RAILCC_TCP_SOCKETS", "RAILCC_SOCKET_ADDR", "RAILCC_SPIN_US"}) {
    EXPECT_NE(s.find(var), std::string::npos) << var << " missing from:\n" << s;
  }
  for (const char* value : {"2.5", "shm", "trace", "net,store", "131072", "8192", "16777216",
                            "192.168.1.7", "torchrun", "0 / 4", "0 / 2", "10.9.8.7:29500"}) {
    EXPECT_NE(s.find(value), std::string::npos) << value << " missing from:\n" << s;
  }
}

TEST(ConfigTest, ToStringOfDefaults) {
  const std::string s = Parse({}).to_string();
  for (const char* var : {"RAILCC_TIMEOUT", "RAILCC_TRANSPORT", "RAILCC_LOG_LEVEL", "RAILCC_DEBUG",
                          "RAILCC_CHUNK_BYTES", "RAILCC_SMALL_MSG_BYTES", "RAILCC_SHM_RING_BYTES",
                          "RAILCC_TCP_SOCKETS", "RAILCC_SOCKET_ADDR", "RAILCC_SPIN_US"}) {
    EXPECT_NE(s.find(var), std::string::npos) << var << " missing from:\n" << s;
  }
  for (const char* value : {"300", "auto", "warn", "524288", "16384", "4194304"}) {
    EXPECT_NE(s.find(value), std::string::npos) << value << " missing from:\n" << s;
  }
}

}  // namespace
}  // namespace railcc

namespace railcc {
namespace {

TEST(ConfigTest, ChecksumAndFaultInjection) {
  const Config defaults = Config::from_map({});
  EXPECT_FALSE(defaults.checksum);
  EXPECT_FALSE(defaults.fault.enabled());
  const Config c = Config::from_map({{"RAILCC_CHECKSUM", "1"}, {"RAILCC_FAULT", "kill:3:7:250"}});
  EXPECT_TRUE(c.checksum);
  EXPECT_EQ(c.fault.kind, FaultSpec::Kind::kKill);
  EXPECT_EQ(c.fault.rank, 3);
  EXPECT_EQ(c.fault.op, 7u);
  EXPECT_EQ(c.fault.ms, 250);
  const Config d = Config::from_map({{"RAILCC_FAULT", "corrupt:1:2"}});
  EXPECT_EQ(d.fault.kind, FaultSpec::Kind::kCorrupt);
  EXPECT_EQ(d.fault.ms, 0);
  for (const char* v : {"kill", "kill:1", "explode:1:2", "kill:x:2", "kill:1:0", "kill:1:2:3:4",
                        "drop:-1:2", "delay:1:2:-5"}) {
    SCOPED_TRACE(v);
    ExpectRejected("RAILCC_FAULT", v);
  }
  ExpectRejected("RAILCC_CHECKSUM", "2");
  EXPECT_EQ(Config::from_map({{"RAILCC_FAULT", "stall:1:3"}}).fault.kind, FaultSpec::Kind::kStall);
}

TEST(ConfigTest, FlightRecorder) {
  const Config defaults = Config::from_map({});
  EXPECT_EQ(defaults.flight_recorder, 256u);
  EXPECT_TRUE(defaults.flight_dir.empty());
  const Config c =
      Config::from_map({{"RAILCC_FLIGHT_RECORDER", "0"}, {"RAILCC_FLIGHT_DIR", "/tmp/fr"}});
  EXPECT_EQ(c.flight_recorder, 0u);
  EXPECT_EQ(c.flight_dir, "/tmp/fr");
  EXPECT_EQ(Config::from_map({{"RAILCC_FLIGHT_RECORDER", "17"}}).flight_recorder, 17u);
  for (const char* v : {"-1", "x", "2000000"}) {
    SCOPED_TRACE(v);
    ExpectRejected("RAILCC_FLIGHT_RECORDER", v);
  }
}

}  // namespace
}  // namespace railcc
