// Mutual challenge-response over a fresh TCP connection, keyed by the job's secret: the
// connector and the acceptor each prove with HMAC-SHA256 over both sides' random nonces that
// they hold the key, without sending it. Used by the rendezvous store and by every peer socket.
//
//   connector -> acceptor  Hello     magic, client nonce                         (40 bytes)
//   acceptor  -> connector Challenge magic, status, server nonce, server proof   (72 bytes)
//   connector -> acceptor  Answer    client proof                                (32 bytes)
//
// Proofs cover a context ("store", or the communicator and rank of a peer port) and the role,
// so a proof seen in one place or direction cannot be replayed in another.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "src/common/deadline.h"

namespace railcc::auth {

using Key = std::array<uint8_t, 32>;
using Nonce = std::array<uint8_t, 32>;
using Mac = std::array<uint8_t, 32>;

inline constexpr uint32_t kMagic = 0x31414352;  // "RCA1"

enum class Status : uint32_t { kOk = 0, kNoKey = 1 };

struct Hello {
  uint32_t magic;
  uint32_t reserved;
  Nonce client;
};
struct Challenge {
  uint32_t magic;
  uint32_t status;  // Status; kNoKey: this acceptor has no key (the connection closes)
  Nonce server;
  Mac server_proof;
};
struct Answer {
  Mac client_proof;
};
static_assert(sizeof(Hello) == 40 && sizeof(Challenge) == 72 && sizeof(Answer) == 32);

// SHA-256 of the secret as given (RAILCC_JOB_KEY may be any string).
Key derive_key(std::string_view secret);
// Cryptographically random bytes (getrandom). Throws SystemError.
void fill_random(void* data, std::size_t len);
Key random_key();
// 64 hex characters: what railcc-run hands its ranks as RAILCC_JOB_KEY.
std::string random_secret();

// HMAC-SHA256(key, "railcc-auth-v1" | context | role | client nonce | server nonce).
Mac proof(const Key& key, std::string_view context, std::string_view role, const Nonce& client,
          const Nonce& server);
// Constant time.
bool same(const Mac& a, const Mac& b);

// The acceptor's half, for poll loops that cannot block on one client.
class Acceptor {
 public:
  Acceptor(const Key& key, std::string context) : key_(key), context_(std::move(context)) {}
  // nullopt when `hello` is not a railcc hello (the connection should be closed).
  std::optional<Challenge> on_hello(const Hello& hello);
  // True when the connector proved it holds the key.
  bool on_answer(const Answer& answer) const;

 private:
  Key key_;
  std::string context_;
  Nonce client_{}, server_{};
};

// The connector's half, blocking until `deadline`. `what` names the other end in errors
// ("the rendezvous store 10.0.0.1:29500"). Throws ConfigError when the keys differ or the
// acceptor has none, ProtocolError when it is not a railcc endpoint, TimeoutError.
void authenticate_to(int fd, const Key& key, std::string_view context, Deadline deadline,
                     const std::string& what);

// Contexts.
inline constexpr std::string_view kStoreContext = "store";
std::string peer_context(uint64_t comm_id, int acceptor_rank);

}  // namespace railcc::auth
