// HubEnv: what the hub asks of its host, and nothing else.
//
// The hub has no I/O; the few things it cannot decide alone (is this token
// good, what is stored about this user, a fresh unguessable session id) come
// through this interface, as LevelDB's Env does for files and clocks. The
// server implements it with OpenSSL and SQLite (or Redis); tests with fakes.
//
// Calls are synchronous and made from inside Hub entry points; they must not
// call back into the hub. `LoadUser` must reflect every LastSeenUpdate the
// host has already polled from the hub, and the latest settings and contacts
// the host has told the hub about.

#ifndef PRESENCE_HUB_ENV_H_
#define PRESENCE_HUB_ENV_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "presence/model.h"

namespace presence {

// What the store holds about one user.
struct StoredUser {
  PrivacySettings settings;
  std::vector<std::string> contacts;
  std::optional<int64_t> last_seen_ms;
};

struct TokenCheck {
  std::optional<std::string> user_id;    // the `sub`; nullopt if refused
  std::optional<int64_t> expires_at_ms;  // `exp`, if the token has one
  std::string error;                     // why it was refused (for logs)
};

class HubEnv {
 public:
  virtual ~HubEnv() = default;
  virtual TokenCheck VerifyToken(std::string_view token, int64_t now_ms) = 0;
  virtual StoredUser LoadUser(std::string_view user_id) = 0;
  virtual std::string NewSessionId() = 0;
};

}  // namespace presence

#endif  // PRESENCE_HUB_ENV_H_
