#include "store.h"

#include <sqlite3.h>

#include <utility>

namespace presence::server {
namespace {

// Another process (a backup, sqlite3 shell) may hold a lock for a moment.
constexpr int kBusyTimeoutMs = 5000;

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS settings (
  user_id TEXT PRIMARY KEY NOT NULL,
  show_online_status TEXT NOT NULL,
  show_last_seen TEXT NOT NULL,
  show_activity TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS contacts (
  user_id TEXT NOT NULL,
  contact_id TEXT NOT NULL,
  PRIMARY KEY (user_id, contact_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS last_seen (
  user_id TEXT PRIMARY KEY NOT NULL,
  ms INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS saved_sessions (
  id TEXT PRIMARY KEY NOT NULL,
  user_id TEXT NOT NULL,
  device TEXT NOT NULL,
  status TEXT NOT NULL,
  epoch INTEGER NOT NULL,
  last_active_ms INTEGER NOT NULL,
  grace_left_ms INTEGER NOT NULL,
  saved_at_ms INTEGER NOT NULL
) WITHOUT ROWID;
)sql";

struct DbCloser {
  void operator()(sqlite3* db) const { sqlite3_close(db); }
};
struct StmtFinalizer {
  void operator()(sqlite3_stmt* stmt) const { sqlite3_finalize(stmt); }
};
using DbPtr = std::unique_ptr<sqlite3, DbCloser>;
using StmtPtr = std::unique_ptr<sqlite3_stmt, StmtFinalizer>;

// Resets a kept statement whichever way the call leaves, so the next user
// finds it clean and no read transaction stays open.
class StmtUse {
 public:
  explicit StmtUse(sqlite3_stmt* stmt) : stmt_(stmt) {}
  ~StmtUse() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  StmtUse(const StmtUse&) = delete;
  StmtUse& operator=(const StmtUse&) = delete;
  sqlite3_stmt* get() const { return stmt_; }

 private:
  sqlite3_stmt* stmt_;
};

// sqlite3_bind_text with a null pointer binds NULL; an empty string_view
// may well have one.
int BindText(sqlite3_stmt* stmt, int index, std::string_view text) {
  return sqlite3_bind_text(stmt, index, text.empty() ? "" : text.data(),
                           static_cast<int>(text.size()), SQLITE_TRANSIENT);
}

std::string ColumnText(sqlite3_stmt* stmt, int column) {
  const unsigned char* text = sqlite3_column_text(stmt, column);
  if (text == nullptr) return {};
  return std::string(reinterpret_cast<const char*>(text),
                     static_cast<size_t>(sqlite3_column_bytes(stmt, column)));
}

Visibility ColumnVisibility(sqlite3_stmt* stmt, int column,
                            Visibility fallback) {
  return ParseVisibility(ColumnText(stmt, column)).value_or(fallback);
}

}  // namespace

struct Store::Impl {
  DbPtr db;
  StmtPtr begin_read;
  bool read_open = false;
  StmtPtr begin;
  StmtPtr commit;
  StmtPtr rollback;
  StmtPtr get_settings;
  StmtPtr put_settings;
  StmtPtr get_contacts;
  StmtPtr delete_contacts;
  StmtPtr insert_contact;
  StmtPtr get_last_seen;
  StmtPtr save_last_seen;
  StmtPtr clear_sessions;
  StmtPtr save_session;
  StmtPtr get_sessions;

  std::string Error(std::string_view what) const {
    std::string out(what);
    out += ": ";
    out += sqlite3_errmsg(db.get());
    return out;
  }

  bool Prepare(const char* sql, StmtPtr* stmt, std::string* error) {
    sqlite3_stmt* raw = nullptr;
    const int rc = sqlite3_prepare_v3(db.get(), sql, -1,
                                      SQLITE_PREPARE_PERSISTENT, &raw, nullptr);
    stmt->reset(raw);
    if (rc != SQLITE_OK) {
      *error = Error(std::string("prepare \"") + sql + "\"");
      return false;
    }
    return true;
  }

  // Runs a statement that returns no rows.
  bool Run(sqlite3_stmt* stmt) {
    StmtUse use(stmt);
    return sqlite3_step(stmt) == SQLITE_DONE;
  }

  void Rollback() {
    if (!sqlite3_get_autocommit(db.get())) Run(rollback.get());
  }
};

Store::Store(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Store::~Store() = default;

std::unique_ptr<Store> Store::Open(const std::string& path,
                                   std::string* error) {
  std::string scratch;
  if (error == nullptr) error = &scratch;
  auto impl = std::make_unique<Impl>();
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(
      path.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
  impl->db.reset(raw);
  if (rc != SQLITE_OK) {
    *error = "open " + path + ": " +
             (raw ? sqlite3_errmsg(raw) : sqlite3_errstr(rc));
    return nullptr;
  }
  sqlite3_extended_result_codes(raw, 1);
  sqlite3_busy_timeout(raw, kBusyTimeoutMs);

  // journal_mode answers with a row (the mode in force: "memory" for
  // :memory:), so it is stepped rather than run through exec's callback.
  const char* pragmas[] = {"PRAGMA journal_mode=WAL",
                           "PRAGMA synchronous=NORMAL"};
  for (const char* pragma : pragmas) {
    StmtPtr stmt;
    if (!impl->Prepare(pragma, &stmt, error)) return nullptr;
    int step = SQLITE_ROW;
    while (step == SQLITE_ROW) step = sqlite3_step(stmt.get());
    if (step != SQLITE_DONE) {
      *error = impl->Error(pragma);
      return nullptr;
    }
  }
  char* message = nullptr;
  if (sqlite3_exec(raw, kSchema, nullptr, nullptr, &message) != SQLITE_OK) {
    *error = "create schema in " + path + ": " +
             (message ? message : sqlite3_errmsg(raw));
    sqlite3_free(message);
    return nullptr;
  }

  const std::pair<const char*, StmtPtr*> statements[] = {
      {"BEGIN", &impl->begin_read},
      {"BEGIN IMMEDIATE", &impl->begin},
      {"COMMIT", &impl->commit},
      {"ROLLBACK", &impl->rollback},
      {"SELECT show_online_status, show_last_seen, show_activity "
       "FROM settings WHERE user_id = ?1",
       &impl->get_settings},
      {"INSERT INTO settings "
       "(user_id, show_online_status, show_last_seen, show_activity) "
       "VALUES (?1, ?2, ?3, ?4) ON CONFLICT(user_id) DO UPDATE SET "
       "show_online_status = excluded.show_online_status, "
       "show_last_seen = excluded.show_last_seen, "
       "show_activity = excluded.show_activity",
       &impl->put_settings},
      {"SELECT contact_id FROM contacts WHERE user_id = ?1 "
       "ORDER BY contact_id",
       &impl->get_contacts},
      {"DELETE FROM contacts WHERE user_id = ?1", &impl->delete_contacts},
      {"INSERT OR IGNORE INTO contacts (user_id, contact_id) VALUES (?1, ?2)",
       &impl->insert_contact},
      {"SELECT ms FROM last_seen WHERE user_id = ?1", &impl->get_last_seen},
      // Batches may arrive out of order (a flush racing the shutdown one);
      // last seen only ever moves forward.
      {"INSERT INTO last_seen (user_id, ms) VALUES (?1, ?2) "
       "ON CONFLICT(user_id) DO UPDATE SET ms = MAX(ms, excluded.ms)",
       &impl->save_last_seen},
      {"DELETE FROM saved_sessions", &impl->clear_sessions},
      {"INSERT OR REPLACE INTO saved_sessions (id, user_id, device, status, "
       "epoch, last_active_ms, grace_left_ms, saved_at_ms) "
       "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
       &impl->save_session},
      {"SELECT id, user_id, device, status, epoch, last_active_ms, "
       "grace_left_ms, saved_at_ms FROM saved_sessions ORDER BY id",
       &impl->get_sessions},
  };
  for (const auto& [sql, stmt] : statements) {
    if (!impl->Prepare(sql, stmt, error)) return nullptr;
  }
  return std::unique_ptr<Store>(new Store(std::move(impl)));
}

void Store::EndRead() {
  if (!impl_->read_open) return;
  impl_->read_open = false;
  if (!sqlite3_get_autocommit(impl_->db.get())) impl_->Run(impl_->commit.get());
}

StoredUser Store::Load(std::string_view user_id) {
  error_.clear();
  if (!impl_->read_open && sqlite3_get_autocommit(impl_->db.get())) {
    impl_->read_open = impl_->Run(impl_->begin_read.get());
  }
  StoredUser user;
  user.settings = GetSettings(user_id);
  std::string first_error = error_;
  user.contacts = GetContacts(user_id);
  if (first_error.empty()) first_error = error_;
  user.last_seen_ms = GetLastSeen(user_id);
  if (first_error.empty()) first_error = error_;
  error_ = std::move(first_error);
  return user;
}

PrivacySettings Store::GetSettings(std::string_view user_id) {
  error_.clear();
  PrivacySettings settings;
  sqlite3_stmt* stmt = impl_->get_settings.get();
  StmtUse use(stmt);
  if (BindText(stmt, 1, user_id) != SQLITE_OK) {
    error_ = impl_->Error("get settings");
    return settings;
  }
  const int rc = sqlite3_step(stmt);
  if (rc == SQLITE_ROW) {
    settings.show_online_status =
        ColumnVisibility(stmt, 0, settings.show_online_status);
    settings.show_last_seen =
        ColumnVisibility(stmt, 1, settings.show_last_seen);
    settings.show_activity = ColumnVisibility(stmt, 2, settings.show_activity);
  } else if (rc != SQLITE_DONE) {
    error_ = impl_->Error("get settings");
  }
  return settings;
}

bool Store::PutSettings(std::string_view user_id,
                        const PrivacySettings& settings) {
  error_.clear();
  EndRead();
  sqlite3_stmt* stmt = impl_->put_settings.get();
  StmtUse use(stmt);
  if (BindText(stmt, 1, user_id) != SQLITE_OK ||
      BindText(stmt, 2, ToString(settings.show_online_status)) != SQLITE_OK ||
      BindText(stmt, 3, ToString(settings.show_last_seen)) != SQLITE_OK ||
      BindText(stmt, 4, ToString(settings.show_activity)) != SQLITE_OK ||
      sqlite3_step(stmt) != SQLITE_DONE) {
    error_ = impl_->Error("put settings");
    return false;
  }
  return true;
}

std::vector<std::string> Store::GetContacts(std::string_view user_id) {
  error_.clear();
  std::vector<std::string> contacts;
  sqlite3_stmt* stmt = impl_->get_contacts.get();
  StmtUse use(stmt);
  if (BindText(stmt, 1, user_id) != SQLITE_OK) {
    error_ = impl_->Error("get contacts");
    return contacts;
  }
  int rc;
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    contacts.push_back(ColumnText(stmt, 0));
  }
  if (rc != SQLITE_DONE) {
    error_ = impl_->Error("get contacts");
    contacts.clear();
  }
  return contacts;
}

bool Store::PutContacts(std::string_view user_id,
                        const std::vector<std::string>& contacts) {
  error_.clear();
  EndRead();
  if (!impl_->Run(impl_->begin.get())) {
    error_ = impl_->Error("put contacts: begin");
    return false;
  }
  auto fail = [&](std::string_view what) {
    error_ = impl_->Error(what);
    impl_->Rollback();
    return false;
  };
  {
    sqlite3_stmt* stmt = impl_->delete_contacts.get();
    StmtUse use(stmt);
    if (BindText(stmt, 1, user_id) != SQLITE_OK ||
        sqlite3_step(stmt) != SQLITE_DONE) {
      return fail("put contacts: delete");
    }
  }
  for (const std::string& contact : contacts) {
    sqlite3_stmt* stmt = impl_->insert_contact.get();
    StmtUse use(stmt);
    if (BindText(stmt, 1, user_id) != SQLITE_OK ||
        BindText(stmt, 2, contact) != SQLITE_OK ||
        sqlite3_step(stmt) != SQLITE_DONE) {
      return fail("put contacts: insert");
    }
  }
  if (!impl_->Run(impl_->commit.get())) return fail("put contacts: commit");
  return true;
}

std::optional<int64_t> Store::GetLastSeen(std::string_view user_id) {
  error_.clear();
  sqlite3_stmt* stmt = impl_->get_last_seen.get();
  StmtUse use(stmt);
  if (BindText(stmt, 1, user_id) != SQLITE_OK) {
    error_ = impl_->Error("get last seen");
    return std::nullopt;
  }
  const int rc = sqlite3_step(stmt);
  if (rc == SQLITE_ROW) return sqlite3_column_int64(stmt, 0);
  if (rc != SQLITE_DONE) error_ = impl_->Error("get last seen");
  return std::nullopt;
}

bool Store::SaveLastSeen(const std::vector<LastSeenUpdate>& updates) {
  error_.clear();
  EndRead();
  if (updates.empty()) return true;
  return Write("save last seen", [&] { return WriteLastSeen(updates); });
}

bool Store::SaveShutdown(const std::vector<LastSeenUpdate>& updates,
                         const std::vector<SavedSession>& sessions) {
  error_.clear();
  EndRead();
  return Write("save shutdown", [&] {
    if (!WriteLastSeen(updates)) return false;
    if (!impl_->Run(impl_->clear_sessions.get())) {
      error_ = impl_->Error("save shutdown: clear sessions");
      return false;
    }
    for (const SavedSession& s : sessions) {
      sqlite3_stmt* stmt = impl_->save_session.get();
      StmtUse use(stmt);
      if (BindText(stmt, 1, s.id) != SQLITE_OK ||
          BindText(stmt, 2, s.user_id) != SQLITE_OK ||
          BindText(stmt, 3, ToString(s.device)) != SQLITE_OK ||
          BindText(stmt, 4, ToString(s.status)) != SQLITE_OK ||
          sqlite3_bind_int64(stmt, 5, static_cast<int64_t>(s.epoch)) !=
              SQLITE_OK ||
          sqlite3_bind_int64(stmt, 6, s.last_active_ms) != SQLITE_OK ||
          sqlite3_bind_int64(stmt, 7, s.grace_left_ms) != SQLITE_OK ||
          sqlite3_bind_int64(stmt, 8, s.saved_at_ms) != SQLITE_OK ||
          sqlite3_step(stmt) != SQLITE_DONE) {
        error_ = impl_->Error("save shutdown: session");
        return false;
      }
    }
    return true;
  });
}

std::vector<SavedSession> Store::TakeSavedSessions() {
  error_.clear();
  EndRead();
  std::vector<SavedSession> sessions;
  const bool ok = Write("take saved sessions", [&] {
    sqlite3_stmt* stmt = impl_->get_sessions.get();
    StmtUse use(stmt);
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
      std::optional<Device> device = ParseDevice(ColumnText(stmt, 2));
      std::optional<Status> status = ParseStatus(ColumnText(stmt, 3));
      // A row this version cannot read is skipped (the hub would refuse
      // what it cannot trust anyway).
      if (!device || !status) continue;
      SavedSession& s = sessions.emplace_back();
      s.id = ColumnText(stmt, 0);
      s.user_id = ColumnText(stmt, 1);
      s.device = *device;
      s.status = *status;
      s.epoch = static_cast<uint64_t>(sqlite3_column_int64(stmt, 4));
      s.last_active_ms = sqlite3_column_int64(stmt, 5);
      s.grace_left_ms = sqlite3_column_int64(stmt, 6);
      s.saved_at_ms = sqlite3_column_int64(stmt, 7);
    }
    if (rc != SQLITE_DONE) {
      error_ = impl_->Error("take saved sessions: read");
      return false;
    }
    if (!impl_->Run(impl_->clear_sessions.get())) {
      error_ = impl_->Error("take saved sessions: clear");
      return false;
    }
    return true;
  });
  if (!ok) sessions.clear();
  return sessions;
}

bool Store::WriteLastSeen(const std::vector<LastSeenUpdate>& updates) {
  for (const LastSeenUpdate& update : updates) {
    sqlite3_stmt* stmt = impl_->save_last_seen.get();
    StmtUse use(stmt);
    if (BindText(stmt, 1, update.user_id) != SQLITE_OK ||
        sqlite3_bind_int64(stmt, 2, update.last_seen_ms) != SQLITE_OK ||
        sqlite3_step(stmt) != SQLITE_DONE) {
      error_ = impl_->Error("save last seen");
      return false;
    }
  }
  return true;
}

template <typename Body>
bool Store::Write(std::string_view what, Body body) {
  if (!impl_->Run(impl_->begin.get())) {
    error_ = impl_->Error(std::string(what) + ": begin");
    return false;
  }
  if (!body()) {
    impl_->Rollback();
    return false;
  }
  if (!impl_->Run(impl_->commit.get())) {
    error_ = impl_->Error(std::string(what) + ": commit");
    impl_->Rollback();
    return false;
  }
  return true;
}

}  // namespace presence::server
