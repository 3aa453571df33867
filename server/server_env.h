// ServerEnv: the hub's HubEnv in presence-server. Tokens are checked with
// HS256 and the configured secret; users come from the UserStore (SQLite or
// Redis); session ids are 16 bytes from OpenSSL's CSPRNG, hex encoded.
//
// Last seen is written to the store in batches, so a user the hub forgot and
// loads again could read a stale value from SQLite. `pending` is the
// server's map of polled-but-unwritten last-seen values; LoadUser returns
// the later of the two (HubEnv's contract: reflect every polled update).

#ifndef PRESENCE_SERVER_SERVER_ENV_H_
#define PRESENCE_SERVER_SERVER_ENV_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

#include "log.h"
#include "presence/hub_env.h"
#include "user_store.h"

namespace presence::server {

using PendingLastSeen = std::unordered_map<std::string, int64_t>;

class ServerEnv : public HubEnv {
 public:
  // None of the pointers is owned; all must outlive the env.
  ServerEnv(UserStore* store, std::string jwt_secret,
            const PendingLastSeen* pending, const Logger* log);

  TokenCheck VerifyToken(std::string_view token, int64_t now_ms) override;
  StoredUser LoadUser(std::string_view user_id) override;
  std::string NewSessionId() override;

 private:
  UserStore* store_;
  std::string jwt_secret_;
  const PendingLastSeen* pending_;
  const Logger* log_;
};

}  // namespace presence::server

#endif  // PRESENCE_SERVER_SERVER_ENV_H_
