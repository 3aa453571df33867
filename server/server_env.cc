#include "server_env.h"

#include <openssl/rand.h>

#include <array>
#include <cstdlib>
#include <utility>

#include "jwt.h"

namespace presence::server {

ServerEnv::ServerEnv(UserStore* store, std::string jwt_secret,
                     const PendingLastSeen* pending, const Logger* log)
    : store_(store),
      jwt_secret_(std::move(jwt_secret)),
      pending_(pending),
      log_(log) {}

TokenCheck ServerEnv::VerifyToken(std::string_view token, int64_t now_ms) {
  JwtResult result = VerifyHs256(token, jwt_secret_, now_ms);
  TokenCheck check;
  if (!result.claims) {
    check.error = result.error;
    log_->Warn("websocket auth refused: " + result.error);
    return check;
  }
  check.user_id = std::move(result.claims->sub);
  check.expires_at_ms = result.claims->exp_ms;
  return check;
}

StoredUser ServerEnv::LoadUser(std::string_view user_id) {
  StoredUser user = store_->Load(user_id);
  auto it = pending_->find(std::string(user_id));
  if (it != pending_->end() &&
      (!user.last_seen_ms || *user.last_seen_ms < it->second)) {
    user.last_seen_ms = it->second;
  }
  return user;
}

std::string ServerEnv::NewSessionId() {
  std::array<unsigned char, 16> bytes{};
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
    // Without a CSPRNG a session id could be guessed and resumed by someone
    // else; there is no safe fallback.
    log_->Error("RAND_bytes failed: cannot make a session id");
    std::abort();
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id;
  id.reserve(bytes.size() * 2);
  for (unsigned char b : bytes) {
    id.push_back(kHex[b >> 4]);
    id.push_back(kHex[b & 0x0f]);
  }
  return id;
}

}  // namespace presence::server
