// UserStore: what outlives a connection — privacy settings, contacts, last
// seen — behind one interface with two implementations: Store (SQLite, one
// node) and RedisStore (cluster mode, shared by every node).
//
// Reads that can fail say so (nullopt), so a caller never mistakes "the
// store is unreachable" for "the user has default settings" and writes those
// defaults back. Load() cannot fail: it is the hub's synchronous LoadUser,
// and an implementation that cannot read answers with the most private
// settings it can (see RedisStore) rather than the defaults. Writes are
// durable (as the backend defines it) before they return true. Nothing
// throws. Not thread-safe: the server uses it from its one I/O thread.

#ifndef PRESENCE_SERVER_USER_STORE_H_
#define PRESENCE_SERVER_USER_STORE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "presence/hub.h"
#include "presence/hub_env.h"
#include "presence/model.h"

namespace presence::server {

class UserStore {
 public:
  virtual ~UserStore() = default;

  virtual StoredUser Load(std::string_view user_id) = 0;
  virtual std::optional<PrivacySettings> ReadSettings(
      std::string_view user_id) = 0;
  virtual bool PutSettings(std::string_view user_id,
                           const PrivacySettings& settings) = 0;
  // Sorted, without duplicates.
  virtual std::optional<std::vector<std::string>> ReadContacts(
      std::string_view user_id) = 0;
  // Replaces the whole list.
  virtual bool PutContacts(std::string_view user_id,
                           const std::vector<std::string>& contacts) = 0;
  // Last seen only moves forward.
  virtual bool SaveLastSeen(const std::vector<LastSeenUpdate>& updates) = 0;
  // At a clean shutdown: the last seen values and the sessions to restore
  // at the next start (Hub::SavedSessions), written together. A store that
  // cannot restore sessions (RedisStore: cluster mode) saves the last seen
  // only.
  virtual bool SaveShutdown(const std::vector<LastSeenUpdate>& updates,
                            const std::vector<SavedSession>& sessions) {
    (void)sessions;
    return SaveLastSeen(updates);
  }
  // At the start: the sessions the last clean shutdown saved, removed from
  // the store as they are read (a later crash restores nothing). Empty if
  // none, or if the store does not keep them.
  virtual std::vector<SavedSession> TakeSavedSessions() { return {}; }
  // The end of one hub input (see Store::EndRead); a no-op if unused.
  virtual void EndRead() {}
  // Why the last failed call failed.
  virtual const std::string& error() const = 0;
};

}  // namespace presence::server

#endif  // PRESENCE_SERVER_USER_STORE_H_
