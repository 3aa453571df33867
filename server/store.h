// Store: what outlives the process — last seen, privacy settings, contacts —
// in SQLite (WAL, prepared statements, one connection, one thread).
//
// Settings and contacts writes are committed before they return (the HTTP
// 200 comes after). Last seen is written in batches (`SaveLastSeen`), one
// transaction per batch; the server calls it at least every second. At a
// clean shutdown `SaveShutdown` writes the last batch together with the
// sessions to restore, which the next start takes back (`TakeSavedSessions`).
// Every call reports failure as a false/nullopt plus `error()`; nothing throws.
//
// Not thread-safe: the server uses it from its one I/O thread.

#ifndef PRESENCE_SERVER_STORE_H_
#define PRESENCE_SERVER_STORE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "presence/hub.h"
#include "presence/hub_env.h"
#include "presence/model.h"
#include "user_store.h"

namespace presence::server {

class Store : public UserStore {
 public:
  // Opens (creating if needed) the database at `path` (":memory:" allowed).
  static std::unique_ptr<Store> Open(const std::string& path,
                                     std::string* error);
  ~Store() override;
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // What the hub needs about a user; defaults for an unknown user.
  StoredUser Load(std::string_view user_id) override;

  PrivacySettings GetSettings(std::string_view user_id);
  bool PutSettings(std::string_view user_id,
                   const PrivacySettings& settings) override;

  // Sorted, without duplicates. PutContacts replaces the whole list.
  std::vector<std::string> GetContacts(std::string_view user_id);
  bool PutContacts(std::string_view user_id,
                   const std::vector<std::string>& contacts) override;

  // UserStore's reads: SQLite answers defaults for what it cannot read, as
  // GetSettings/GetContacts always have.
  std::optional<PrivacySettings> ReadSettings(
      std::string_view user_id) override {
    return GetSettings(user_id);
  }
  std::optional<std::vector<std::string>> ReadContacts(
      std::string_view user_id) override {
    return GetContacts(user_id);
  }

  std::optional<int64_t> GetLastSeen(std::string_view user_id);
  // Last seen only moves forward: an older value never replaces a newer one.
  bool SaveLastSeen(const std::vector<LastSeenUpdate>& updates) override;

  // One transaction: the last seen values, and the saved sessions in place
  // of any saved before.
  bool SaveShutdown(const std::vector<LastSeenUpdate>& updates,
                    const std::vector<SavedSession>& sessions) override;
  // Reads and deletes the saved sessions in one transaction; on an error,
  // returns none (and error() says why) so nothing half read is restored.
  std::vector<SavedSession> TakeSavedSessions() override;

  // Loads made between two EndRead calls share one read transaction, so a
  // subscribe to 10 000 users takes the database's locks once, not 30 000
  // times. The server calls EndRead after every hub input; writes end an
  // open read first.
  void EndRead() override;

  const std::string& error() const override { return error_; }

 private:
  struct Impl;
  explicit Store(std::unique_ptr<Impl> impl);
  // Runs `body` (which sets error_ when it returns false) in one write
  // transaction; rolls back on any failure.
  template <typename Body>
  bool Write(std::string_view what, Body body);
  bool WriteLastSeen(const std::vector<LastSeenUpdate>& updates);
  std::unique_ptr<Impl> impl_;
  std::string error_;
};

}  // namespace presence::server

#endif  // PRESENCE_SERVER_STORE_H_
