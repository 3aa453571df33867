// RedisStore: the UserStore of cluster mode. Settings, contacts and last
// seen live in Redis, shared by every node; the hub's loads and the HTTP
// API's reads and writes go through one synchronous hiredis connection.
//
// Why synchronous: HubEnv::LoadUser is synchronous by contract (the hub is
// a sans-I/O state machine that loads a user in the middle of an input), and
// a settings PUT must be stored before its 200. A Redis next to the nodes
// answers in well under a millisecond; every call is bounded by a short
// timeout, and while the link is down (Cluster decides) nothing is tried:
// calls fail at once instead of stalling the event loop. Change traffic
// (shares, heartbeats, pub/sub) goes through RedisAsync instead.
//
// While down, Load() answers "fail closed": every setting `nobody`, no
// contacts, so nothing private can show because Redis is away. Users loaded
// that way are remembered (TakeProvisional) so the cluster can give the hub
// their real settings once Redis returns. Reads say nullopt and writes
// false: an HTTP caller answers 503 and nothing is half written or lost.
//
// AUTH (the URL's password, and user) is sent first on every connection.
//
// Keys (DB from the URL): presence:settings:<user> (JSON object),
// presence:contacts:<user> (JSON array), presence:lastseen:<user> (ms,
// only ever raised, by a Lua script).

#ifndef PRESENCE_SERVER_REDIS_STORE_H_
#define PRESENCE_SERVER_REDIS_STORE_H_

#include <hiredis/hiredis.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <unordered_set>
#include <vector>

#include "log.h"
#include "redis_url.h"
#include "user_store.h"

namespace presence::server {

struct RedisReplyDeleter {
  void operator()(redisReply* r) const {
    if (r != nullptr) freeReplyObject(r);
  }
};
using RedisReplyPtr = std::unique_ptr<redisReply, RedisReplyDeleter>;

class RedisStore : public UserStore {
 public:
  // `log` is not owned and must outlive the store.
  RedisStore(RedisUrl url, std::chrono::milliseconds timeout,
             const Logger* log);
  ~RedisStore() override;
  RedisStore(const RedisStore&) = delete;
  RedisStore& operator=(const RedisStore&) = delete;

  // Connects (blocking, bounded by the timeout), authenticates when the
  // URL has a password, and selects the DB.
  bool Connect(std::string* error);
  // True when the last Connect reached Redis but AUTH was refused.
  bool auth_failed() const { return auth_failed_; }
  void Disconnect();
  bool connected() const { return ctx_ != nullptr; }
  // Called (once per connection) when a command fails on a live
  // connection: the cluster then takes the whole link down and reconnects.
  void set_on_failure(std::function<void(const std::string&)> fn) {
    on_failure_ = std::move(fn);
  }

  // Commands sent as one pipeline; one reply each, or empty on failure.
  std::vector<RedisReplyPtr> Pipeline(
      const std::vector<std::vector<std::string>>& commands);
  // Users answered fail-closed since the last call.
  std::vector<std::string> TakeProvisional();
  // Puts back users whose settings could not be reloaded.
  void KeepProvisional(const std::vector<std::string>& users) {
    provisional_.insert(users.begin(), users.end());
  }

  // The most private answer, for a user whose settings cannot be read.
  static StoredUser FailClosed();

  // UserStore
  StoredUser Load(std::string_view user_id) override;
  std::optional<PrivacySettings> ReadSettings(
      std::string_view user_id) override;
  bool PutSettings(std::string_view user_id,
                   const PrivacySettings& settings) override;
  std::optional<std::vector<std::string>> ReadContacts(
      std::string_view user_id) override;
  bool PutContacts(std::string_view user_id,
                   const std::vector<std::string>& contacts) override;
  bool SaveLastSeen(const std::vector<LastSeenUpdate>& updates) override;
  const std::string& error() const override { return error_; }

  static std::string SettingsKey(std::string_view user_id);
  static std::string ContactsKey(std::string_view user_id);
  static std::string LastSeenKey(std::string_view user_id);
  // Stored forms (also the pub/sub payloads of settings and contacts).
  static std::string EncodeSettings(const PrivacySettings& settings);
  static std::optional<PrivacySettings> DecodeSettings(std::string_view text);
  static std::string EncodeContacts(const std::vector<std::string>& contacts);
  static std::optional<std::vector<std::string>> DecodeContacts(
      std::string_view text);

 private:
  void Fail(const std::string& why);

  RedisUrl url_;
  std::chrono::milliseconds timeout_;
  const Logger* log_;
  redisContext* ctx_ = nullptr;
  bool auth_failed_ = false;
  std::string error_;
  std::function<void(const std::string&)> on_failure_;
  std::unordered_set<std::string> provisional_;
};

}  // namespace presence::server

#endif  // PRESENCE_SERVER_REDIS_STORE_H_
