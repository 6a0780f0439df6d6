#include "src/bootstrap/auth.h"

#include <fmt/format.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sys/random.h>

#include <cerrno>
#include <cstring>

#include "railcc/status.hpp"
#include "src/common/socket.h"

namespace railcc::auth {

Key derive_key(std::string_view secret) {
  Key k{};
  unsigned int len = 0;
  if (EVP_Digest(secret.data(), secret.size(), k.data(), &len, EVP_sha256(), nullptr) != 1 ||
      len != k.size()) {
    throw SystemError("OpenSSL could not hash RAILCC_JOB_KEY (EVP_Digest with SHA-256 failed)");
  }
  return k;
}

void fill_random(void* data, std::size_t len) {
  auto* p = static_cast<uint8_t*>(data);
  while (len > 0) {
    const ssize_t n = ::getrandom(p, len, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw SystemError(fmt::format("getrandom() failed: {}", std::strerror(errno)));
    }
    p += n;
    len -= static_cast<std::size_t>(n);
  }
}

Key random_key() {
  Key k;
  fill_random(k.data(), k.size());
  return k;
}

std::string random_secret() {
  const Key k = random_key();
  std::string out;
  for (uint8_t b : k) out += fmt::format("{:02x}", b);
  return out;
}

Mac proof(const Key& key, std::string_view context, std::string_view role, const Nonce& client,
          const Nonce& server) {
  // Length-prefixed fields, so no two (context, role) pairs hash the same bytes.
  std::string msg = "railcc-auth-v1";
  for (std::string_view part : {context, role}) {
    msg += fmt::format("|{}:", part.size());
    msg.append(part);
  }
  msg.append(reinterpret_cast<const char*>(client.data()), client.size());
  msg.append(reinterpret_cast<const char*>(server.data()), server.size());
  Mac mac{};
  unsigned int len = 0;
  if (!HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
            reinterpret_cast<const unsigned char*>(msg.data()), msg.size(), mac.data(), &len) ||
      len != mac.size()) {
    throw SystemError("OpenSSL HMAC-SHA256 failed");
  }
  return mac;
}

bool same(const Mac& a, const Mac& b) { return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0; }

std::string peer_context(uint64_t comm_id, int acceptor_rank) {
  return fmt::format("peer comm {:x} rank {}", comm_id, acceptor_rank);
}

std::optional<Challenge> Acceptor::on_hello(const Hello& hello) {
  if (hello.magic != kMagic) return std::nullopt;
  client_ = hello.client;
  fill_random(server_.data(), server_.size());
  Challenge c{};
  c.magic = kMagic;
  c.status = static_cast<uint32_t>(Status::kOk);
  c.server = server_;
  c.server_proof = proof(key_, context_, "acceptor", client_, server_);
  return c;
}

bool Acceptor::on_answer(const Answer& answer) const {
  return same(answer.client_proof, proof(key_, context_, "connector", client_, server_));
}

void authenticate_to(int fd, const Key& key, std::string_view context, Deadline deadline,
                     const std::string& what) {
  Hello hello{};
  hello.magic = kMagic;
  fill_random(hello.client.data(), hello.client.size());
  Challenge c{};
  try {
    if (!net::write_all(fd, &hello, sizeof(hello), deadline) ||
        !net::read_all(fd, &c, sizeof(c), deadline)) {
      throw TimeoutError(
          fmt::format("{} did not answer the authentication handshake in time "
                      "(RAILCC_TIMEOUT)",
                      what));
    }
  } catch (const Error& e) {
    // Closed or reset (PeerFailureError, or SystemError for EPIPE/ECONNRESET); timeouts pass.
    if (e.code() == ErrorCode::kTimeout) throw;
    throw ProtocolError(fmt::format(
        "{} closed the connection during authentication ({}): is it a railcc endpoint of this "
        "job, started with the same RAILCC_JOB_KEY?",
        what, e.what()));
  }
  if (c.magic != kMagic) {
    throw ProtocolError(fmt::format(
        "{} answered the authentication handshake with something else: is it a railcc endpoint "
        "of the same version?",
        what));
  }
  if (c.status == static_cast<uint32_t>(Status::kNoKey)) {
    throw ConfigError(fmt::format(
        "{} has no RAILCC_JOB_KEY but this rank has one: give every rank and the store host "
        "(the launcher, or rank 0 under MASTER_ADDR) the same RAILCC_JOB_KEY",
        what));
  }
  if (c.status != static_cast<uint32_t>(Status::kOk) ||
      !same(c.server_proof, proof(key, context, "acceptor", hello.client, c.server))) {
    throw ConfigError(fmt::format(
        "{} failed to prove it holds this rank's RAILCC_JOB_KEY: the keys differ (every rank "
        "of a job needs the same RAILCC_JOB_KEY), or it belongs to another job",
        what));
  }
  Answer a{};
  a.client_proof = proof(key, context, "connector", hello.client, c.server);
  if (!net::write_all(fd, &a, sizeof(a), deadline)) {
    throw TimeoutError(fmt::format("{} stopped reading during authentication", what));
  }
}

}  // namespace railcc::auth
