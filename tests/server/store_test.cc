#include "store.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

namespace presence::server {
namespace {

// A database path in the temp directory, removed (with its WAL files) when
// the test ends.
class TempDb {
 public:
  TempDb() {
    path_ = (std::filesystem::temp_directory_path() /
             ("presence_store_test_" + std::to_string(::getpid()) + "_" +
              std::to_string(counter_++) + ".db"))
                .string();
    Remove();
  }
  ~TempDb() { Remove(); }
  const std::string& path() const { return path_; }

 private:
  void Remove() {
    for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
      std::remove((path_ + suffix).c_str());
    }
  }
  static inline int counter_ = 0;
  std::string path_;
};

std::unique_ptr<Store> OpenOrDie(const std::string& path) {
  std::string error;
  std::unique_ptr<Store> store = Store::Open(path, &error);
  EXPECT_NE(store, nullptr) << error;
  EXPECT_EQ(error, "");
  return store;
}

const PrivacySettings kCustom = {Visibility::kNobody, Visibility::kEveryone,
                                 Visibility::kNobody};

TEST(StoreTest, UnknownUserGetsDefaults) {
  auto store = OpenOrDie(":memory:");
  ASSERT_NE(store, nullptr);
  StoredUser user = store->Load("nobody");
  EXPECT_EQ(store->error(), "");
  EXPECT_EQ(user.settings, PrivacySettings{});
  EXPECT_EQ(user.settings.show_online_status, Visibility::kEveryone);
  EXPECT_EQ(user.settings.show_last_seen, Visibility::kContacts);
  EXPECT_EQ(user.settings.show_activity, Visibility::kContacts);
  EXPECT_TRUE(user.contacts.empty());
  EXPECT_FALSE(user.last_seen_ms.has_value());
  EXPECT_EQ(store->GetSettings("nobody"), PrivacySettings{});
  EXPECT_TRUE(store->GetContacts("nobody").empty());
  EXPECT_FALSE(store->GetLastSeen("nobody").has_value());
  EXPECT_EQ(store->error(), "");
}

TEST(StoreTest, SettingsRoundTrip) {
  auto store = OpenOrDie(":memory:");
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->PutSettings("alice", kCustom)) << store->error();
  EXPECT_EQ(store->GetSettings("alice"), kCustom);
  EXPECT_EQ(store->GetSettings("bob"), PrivacySettings{});
  // A second put replaces the first.
  const PrivacySettings other = {Visibility::kContacts, Visibility::kNobody,
                                 Visibility::kEveryone};
  ASSERT_TRUE(store->PutSettings("alice", other));
  EXPECT_EQ(store->GetSettings("alice"), other);
}

TEST(StoreTest, EveryVisibilityRoundTrips) {
  auto store = OpenOrDie(":memory:");
  ASSERT_NE(store, nullptr);
  for (Visibility v :
       {Visibility::kEveryone, Visibility::kContacts, Visibility::kNobody}) {
    const PrivacySettings s = {v, v, v};
    ASSERT_TRUE(store->PutSettings("u", s));
    EXPECT_EQ(store->GetSettings("u"), s);
  }
}

TEST(StoreTest, ContactsRoundTripSortedAndDeduplicated) {
  auto store = OpenOrDie(":memory:");
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->PutContacts("alice", {"carol", "bob", "carol", "dave"}))
      << store->error();
  EXPECT_EQ(store->GetContacts("alice"),
            (std::vector<std::string>{"bob", "carol", "dave"}));
  EXPECT_TRUE(store->GetContacts("bob").empty());
}

TEST(StoreTest, PutContactsReplacesTheWholeList) {
  auto store = OpenOrDie(":memory:");
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->PutContacts("alice", {"bob", "carol"}));
  ASSERT_TRUE(store->PutContacts("bob", {"alice"}));
  ASSERT_TRUE(store->PutContacts("alice", {"dave"}));
  EXPECT_EQ(store->GetContacts("alice"), std::vector<std::string>{"dave"});
  // Other users' lists are untouched.
  EXPECT_EQ(store->GetContacts("bob"), std::vector<std::string>{"alice"});
  ASSERT_TRUE(store->PutContacts("alice", {}));
  EXPECT_TRUE(store->GetContacts("alice").empty());
}

TEST(StoreTest, LastSeenRoundTrip) {
  auto store = OpenOrDie(":memory:");
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->SaveLastSeen({{"alice", 1000}, {"bob", 2000}}))
      << store->error();
  EXPECT_EQ(store->GetLastSeen("alice"), 1000);
  EXPECT_EQ(store->GetLastSeen("bob"), 2000);
  EXPECT_FALSE(store->GetLastSeen("carol").has_value());
}

TEST(StoreTest, LastSeenOnlyMovesForward) {
  auto store = OpenOrDie(":memory:");
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->SaveLastSeen({{"alice", 5000}}));
  ASSERT_TRUE(store->SaveLastSeen({{"alice", 4000}}));  // a late, older batch
  EXPECT_EQ(store->GetLastSeen("alice"), 5000);
  ASSERT_TRUE(store->SaveLastSeen({{"alice", 6000}}));
  EXPECT_EQ(store->GetLastSeen("alice"), 6000);
  // Within one batch too, the order does not matter.
  ASSERT_TRUE(store->SaveLastSeen({{"bob", 9}, {"bob", 7}, {"bob", 8}}));
  EXPECT_EQ(store->GetLastSeen("bob"), 9);
}

TEST(StoreTest, LastSeenKeepsFullInt64) {
  auto store = OpenOrDie(":memory:");
  ASSERT_NE(store, nullptr);
  const int64_t ms = 1'700'000'000'123;  // beyond 32 bits
  ASSERT_TRUE(store->SaveLastSeen({{"alice", ms}}));
  EXPECT_EQ(store->GetLastSeen("alice"), ms);
}

TEST(StoreTest, EmptyBatchIsANoOp) {
  auto store = OpenOrDie(":memory:");
  ASSERT_NE(store, nullptr);
  EXPECT_TRUE(store->SaveLastSeen({}));
  EXPECT_EQ(store->error(), "");
}

TEST(StoreTest, ThousandRowBatch) {
  TempDb db;
  auto store = OpenOrDie(db.path());
  ASSERT_NE(store, nullptr);
  std::vector<LastSeenUpdate> batch;
  for (int i = 0; i < 1000; ++i) {
    batch.push_back({"user" + std::to_string(i), 1'000'000 + i});
  }
  ASSERT_TRUE(store->SaveLastSeen(batch)) << store->error();
  for (int i = 0; i < 1000; i += 97) {
    EXPECT_EQ(store->GetLastSeen("user" + std::to_string(i)), 1'000'000 + i);
  }
  EXPECT_EQ(store->GetLastSeen("user999"), 1'000'999);
  // And again, half older, half newer: only the newer half moves.
  for (int i = 0; i < 1000; ++i) {
    batch[i].last_seen_ms += (i % 2 == 0) ? -500 : 500;
  }
  ASSERT_TRUE(store->SaveLastSeen(batch)) << store->error();
  EXPECT_EQ(store->GetLastSeen("user10"), 1'000'010);
  EXPECT_EQ(store->GetLastSeen("user11"), 1'000'511);
}

TEST(StoreTest, LoadGathersEverything) {
  auto store = OpenOrDie(":memory:");
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->PutSettings("alice", kCustom));
  ASSERT_TRUE(store->PutContacts("alice", {"bob"}));
  ASSERT_TRUE(store->SaveLastSeen({{"alice", 42}}));
  StoredUser user = store->Load("alice");
  EXPECT_EQ(store->error(), "");
  EXPECT_EQ(user.settings, kCustom);
  EXPECT_EQ(user.contacts, std::vector<std::string>{"bob"});
  EXPECT_EQ(user.last_seen_ms, 42);
}

TEST(StoreTest, ReopenFindsEverythingAgain) {
  TempDb db;
  {
    auto store = OpenOrDie(db.path());
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->PutSettings("alice", kCustom));
    ASSERT_TRUE(store->PutContacts("alice", {"bob", "carol"}));
    ASSERT_TRUE(store->PutContacts("bob", {"alice"}));
    ASSERT_TRUE(store->SaveLastSeen({{"alice", 111}, {"bob", 222}}));
  }
  auto store = OpenOrDie(db.path());
  ASSERT_NE(store, nullptr);
  StoredUser alice = store->Load("alice");
  EXPECT_EQ(alice.settings, kCustom);
  EXPECT_EQ(alice.contacts, (std::vector<std::string>{"bob", "carol"}));
  EXPECT_EQ(alice.last_seen_ms, 111);
  StoredUser bob = store->Load("bob");
  EXPECT_EQ(bob.settings, PrivacySettings{});
  EXPECT_EQ(bob.contacts, std::vector<std::string>{"alice"});
  EXPECT_EQ(bob.last_seen_ms, 222);
}

TEST(StoreTest, FileDatabaseUsesWal) {
  TempDb db;
  auto store = OpenOrDie(db.path());
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->SaveLastSeen({{"alice", 1}}));
  // A second connection, as an operator's sqlite3 shell would be.
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(db.path().c_str(), &raw), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(raw, "PRAGMA journal_mode", -1, &stmt, nullptr),
            SQLITE_OK);
  ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0)),
               "wal");
  sqlite3_finalize(stmt);
  // What the store committed is visible to another reader.
  ASSERT_EQ(
      sqlite3_prepare_v2(raw, "SELECT ms FROM last_seen WHERE user_id='alice'",
                         -1, &stmt, nullptr),
      SQLITE_OK);
  ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int64(stmt, 0), 1);
  sqlite3_finalize(stmt);
  sqlite3_close(raw);
}

TEST(StoreTest, MemoryDatabasesAreSeparate) {
  auto a = OpenOrDie(":memory:");
  auto b = OpenOrDie(":memory:");
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  ASSERT_TRUE(a->SaveLastSeen({{"alice", 1}}));
  EXPECT_FALSE(b->GetLastSeen("alice").has_value());
}

TEST(StoreTest, OddUserIdsAreJustKeys) {
  auto store = OpenOrDie(":memory:");
  ASSERT_NE(store, nullptr);
  const std::string quote = "o'brien\"; DROP TABLE settings; --";
  ASSERT_TRUE(store->PutSettings(quote, kCustom));
  EXPECT_EQ(store->GetSettings(quote), kCustom);
  // An empty id is a key like any other (not SQL NULL).
  ASSERT_TRUE(store->PutContacts("", {""}));
  EXPECT_EQ(store->GetContacts(""), std::vector<std::string>{""});
  ASSERT_TRUE(store->SaveLastSeen({{"", 5}}));
  EXPECT_EQ(store->GetLastSeen(""), 5);
  // Embedded NUL bytes are kept, not cut.
  const std::string nul("a\0b", 3);
  ASSERT_TRUE(store->SaveLastSeen({{nul, 7}}));
  EXPECT_EQ(store->GetLastSeen(nul), 7);
  EXPECT_FALSE(store->GetLastSeen("a").has_value());
}

TEST(StoreTest, OpenFailureIsReported) {
  std::string error;
  std::unique_ptr<Store> store =
      Store::Open("/no/such/dir/presence/x.db", &error);
  EXPECT_EQ(store, nullptr);
  EXPECT_NE(error, "");
  EXPECT_NE(error.find("/no/such/dir/presence/x.db"), std::string::npos)
      << error;
}

TEST(StoreTest, NotADatabaseIsReported) {
  TempDb db;
  {
    std::FILE* f = std::fopen(db.path().c_str(), "wb");
    ASSERT_NE(f, nullptr);
    const std::string junk(4096, 'x');
    std::fwrite(junk.data(), 1, junk.size(), f);
    std::fclose(f);
  }
  std::string error;
  EXPECT_EQ(Store::Open(db.path(), &error), nullptr);
  EXPECT_NE(error, "");
}

// A trigger (added by a second connection) makes one row fail mid-batch,
// after earlier rows of the same call were written.
void AddFailingTriggers(const std::string& path) {
  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &other), SQLITE_OK);
  const char* sql =
      "CREATE TRIGGER boom_contact BEFORE INSERT ON contacts "
      "WHEN NEW.contact_id = 'boom' BEGIN SELECT RAISE(ABORT, 'boom'); END;"
      "CREATE TRIGGER boom_seen BEFORE INSERT ON last_seen "
      "WHEN NEW.user_id = 'boom' BEGIN SELECT RAISE(ABORT, 'boom'); END;";
  char* message = nullptr;
  EXPECT_EQ(sqlite3_exec(other, sql, nullptr, nullptr, &message), SQLITE_OK)
      << (message ? message : "");
  sqlite3_free(message);
  sqlite3_close(other);
}

TEST(StoreTest, FailedPutContactsLeavesTheOldListWhole) {
  TempDb db;
  auto store = OpenOrDie(db.path());
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->PutContacts("alice", {"bob"}));
  AddFailingTriggers(db.path());
  EXPECT_FALSE(store->PutContacts("alice", {"carol", "boom", "dave"}));
  EXPECT_NE(store->error().find("boom"), std::string::npos) << store->error();
  EXPECT_EQ(store->GetContacts("alice"), std::vector<std::string>{"bob"});
  EXPECT_EQ(store->error(), "");  // each call reports its own outcome
  // The store is usable afterwards (no transaction left open).
  EXPECT_TRUE(store->PutContacts("alice", {"carol"})) << store->error();
  EXPECT_EQ(store->GetContacts("alice"), std::vector<std::string>{"carol"});
}

TEST(StoreTest, FailedLastSeenBatchWritesNothing) {
  TempDb db;
  auto store = OpenOrDie(db.path());
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->SaveLastSeen({{"alice", 1}}));
  AddFailingTriggers(db.path());
  EXPECT_FALSE(store->SaveLastSeen({{"alice", 2}, {"bob", 3}, {"boom", 4}}));
  EXPECT_NE(store->error(), "");
  EXPECT_EQ(store->GetLastSeen("alice"), 1);
  EXPECT_FALSE(store->GetLastSeen("bob").has_value());
  EXPECT_TRUE(store->SaveLastSeen({{"alice", 5}})) << store->error();
  EXPECT_EQ(store->GetLastSeen("alice"), 5);
}

SavedSession Saved(std::string id, std::string user) {
  SavedSession s;
  s.id = std::move(id);
  s.user_id = std::move(user);
  s.device = Device::kMobile;
  s.status = Status::kAway;
  s.epoch = 7;
  s.last_active_ms = 1'700'000'000'123;
  s.grace_left_ms = 4'000;
  s.saved_at_ms = 1'700'000'000'456;
  return s;
}

TEST(StoreTest, SavedSessionsSurviveAReopenAndAreTakenOnce) {
  TempDb db;
  const std::vector<SavedSession> sessions = {Saved("s1", "alice"),
                                              Saved("s2", "bob")};
  {
    auto store = OpenOrDie(db.path());
    ASSERT_NE(store, nullptr);
    ASSERT_TRUE(store->SaveShutdown({{"alice", 10}, {"bob", 20}}, sessions))
        << store->error();
  }
  auto store = OpenOrDie(db.path());
  ASSERT_NE(store, nullptr);
  EXPECT_EQ(store->GetLastSeen("alice"), 10);
  EXPECT_EQ(store->GetLastSeen("bob"), 20);
  EXPECT_EQ(store->TakeSavedSessions(), sessions);
  EXPECT_EQ(store->error(), "");
  // Taken: a crash after this start restores nothing.
  EXPECT_TRUE(store->TakeSavedSessions().empty());
  auto again = OpenOrDie(db.path());
  EXPECT_TRUE(again->TakeSavedSessions().empty());
}

TEST(StoreTest, ANewShutdownReplacesTheSessionsSavedBefore) {
  auto store = OpenOrDie(":memory:");
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->SaveShutdown({}, {Saved("s1", "alice")}));
  ASSERT_TRUE(store->SaveShutdown({}, {Saved("s2", "bob")}));
  EXPECT_EQ(store->TakeSavedSessions(),
            std::vector<SavedSession>{Saved("s2", "bob")});
}

TEST(StoreTest, FailedShutdownSaveWritesNeitherLastSeenNorSessions) {
  TempDb db;
  auto store = OpenOrDie(db.path());
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->SaveLastSeen({{"alice", 1}}));
  AddFailingTriggers(db.path());
  EXPECT_FALSE(
      store->SaveShutdown({{"alice", 2}, {"boom", 3}}, {Saved("s1", "alice")}));
  EXPECT_NE(store->error(), "");
  EXPECT_EQ(store->GetLastSeen("alice"), 1);
  EXPECT_TRUE(store->TakeSavedSessions().empty());
}

TEST(StoreTest, WriterElsewhereDoesNotBlockReads) {
  // WAL: a reader sees the last commit while another connection writes.
  TempDb db;
  auto store = OpenOrDie(db.path());
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->SaveLastSeen({{"alice", 1}}));
  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open(db.path().c_str(), &other), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(other,
                         "BEGIN IMMEDIATE; "
                         "UPDATE last_seen SET ms = 99 WHERE user_id='alice'",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  EXPECT_EQ(store->GetLastSeen("alice"), 1);  // the committed value
  ASSERT_EQ(sqlite3_exec(other, "COMMIT", nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(other);
  EXPECT_EQ(store->GetLastSeen("alice"), 99);
}

}  // namespace
}  // namespace presence::server
