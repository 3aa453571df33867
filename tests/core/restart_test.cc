// A clean restart: the sessions one hub saved at Shutdown, restored in the
// next hub (hub.h, "Restart"). It extends the leave grace of the Epochs rule
// (a cleanly closed session is dropped after leaveGraceMs unless resumed)
// across processes, so the tests live in that rule's suite.

#include <gtest/gtest.h>

#include <algorithm>

#include "hub_support.h"
#include "presence/hub.h"

namespace presence {
namespace {

using testing::HubDriver;

constexpr Status kOn = Status::kOnline;
constexpr Status kAway = Status::kAway;
constexpr Status kOff = Status::kOffline;

// One process that is shut down cleanly, and the next one, which starts
// with what the first persisted (the store, the saved sessions).
struct Restart {
  Restart() {
    before.env.store["alice"].settings = {
        Visibility::kEveryone, Visibility::kEveryone, Visibility::kEveryone};
    before.env.session_prefix = "old";
  }

  // Shuts `before` down now, then starts `after` `downtime_ms` later with
  // its store and restores the saved sessions in it.
  void Stop(int64_t downtime_ms) {
    shutdown_at = before.now;
    before.hub.Shutdown(before.now);
    before.Drain();
    saved = before.hub.SavedSessions(before.now);
    after.env.store = before.env.store;
    after.env.session_prefix = "new";
    after.now = before.now + downtime_ms;
    restored_at = after.now;
    for (const SavedSession& s : saved) after.hub.RestoreSession(s, after.now);
    after.Drain();
  }

  const SavedSession* SavedOf(const std::string& user) const {
    auto it =
        std::find_if(saved.begin(), saved.end(),
                     [&](const SavedSession& s) { return s.user_id == user; });
    return it == saved.end() ? nullptr : &*it;
  }

  HubDriver before;
  HubDriver after;
  std::vector<SavedSession> saved;
  int64_t shutdown_at = 0;
  int64_t restored_at = 0;
};

TEST(EpochsRule, RestartKeepsAUserWhoResumesOnlineWithoutAFlap) {
  Restart r;
  ConnId alice = r.before.Connect("alice");
  const std::string alice_session = r.before.Welcome(alice).session;
  ConnId watcher = r.before.Connect("watcher");
  const std::string watcher_session = r.before.Welcome(watcher).session;
  r.before.Subscribe(watcher, {"alice"});
  r.before.Advance(2000);
  r.Stop(/*downtime_ms=*/1500);

  // The watcher is back first: alice's client has not reconnected yet.
  ConnId w = r.after.Connect("watcher", Device::kWeb, watcher_session);
  EXPECT_EQ(r.after.Welcome(w).session, watcher_session);
  r.after.Subscribe(w, {"alice"});
  ASSERT_TRUE(r.after.LastView(w, "alice"));
  EXPECT_EQ(r.after.LastView(w, "alice")->status, kOn);

  r.after.Advance(3000);
  ConnId a = r.after.Connect("alice", Device::kWeb, alice_session);
  EXPECT_EQ(r.after.Welcome(a).session, alice_session);
  r.after.Advance(r.after.hub.config().leave_grace_ms * 3);
  for (const View& v : r.after.ViewsOf(w, "alice")) {
    EXPECT_EQ(v.status, kOn);  // never offline, not even for one frame
  }
  EXPECT_EQ(r.after.hub.GetState("alice")->status, kOn);
}

TEST(EpochsRule, RestartDropsASessionNotResumedAfterTheGraceWithTheShutdown) {
  Restart r;
  r.before.Connect("alice");
  r.before.Advance(2000);
  r.Stop(/*downtime_ms=*/1000);
  ConnId w = r.after.Connect("watcher");
  r.after.Subscribe(w, {"alice"});
  EXPECT_EQ(r.after.LastView(w, "alice")->status, kOn);

  r.after.Advance(r.after.hub.config().leave_grace_ms - 1);
  EXPECT_EQ(r.after.hub.GetState("alice")->status, kOn);
  r.after.Advance(1);
  r.after.Flush();
  std::optional<View> v = r.after.LastView(w, "alice");
  EXPECT_EQ(v->status, kOff);
  // Last seen is the shutdown, not the restart or the end of the grace.
  EXPECT_EQ(v->last_seen_ms, r.shutdown_at);
  EXPECT_EQ(r.after.env.store["alice"].last_seen_ms, r.shutdown_at);
}

TEST(EpochsRule, RestartGraceCountsFromTheRestoreNotTheShutdown) {
  Restart r;
  ConnId alice = r.before.Connect("alice");
  const std::string session = r.before.Welcome(alice).session;
  const int64_t grace = r.before.hub.config().leave_grace_ms;
  // Down for longer than the whole grace.
  r.Stop(/*downtime_ms=*/grace * 2);
  r.after.Advance(grace - 1);
  EXPECT_EQ(r.after.hub.GetState("alice")->status, kOn);
  ConnId a = r.after.Connect("alice", Device::kWeb, session);
  EXPECT_EQ(r.after.Welcome(a).session, session);
  r.after.Advance(grace * 2);
  EXPECT_EQ(r.after.hub.GetState("alice")->status, kOn);
}

TEST(EpochsRule, RestartKeepsWhatWasLeftOfAGraceThatHadBegun) {
  Restart r;
  ConnId alice = r.before.Connect("alice");
  r.before.Advance(1000);
  r.before.Close(alice);
  const int64_t closed_at = r.before.now;
  r.before.Advance(3000);
  r.Stop(/*downtime_ms=*/500);
  ConnId w = r.after.Connect("watcher");  // keeps alice loaded once offline
  r.after.Subscribe(w, {"alice"});
  const int64_t left = r.before.hub.config().leave_grace_ms - 3000;
  ASSERT_NE(r.SavedOf("alice"), nullptr);
  EXPECT_EQ(r.SavedOf("alice")->grace_left_ms, left);
  r.after.Advance(left - 1);
  EXPECT_EQ(r.after.hub.GetState("alice")->status, kOn);
  r.after.Advance(1);
  EXPECT_EQ(r.after.hub.GetState("alice")->status, kOff);
  // Its last seen is still the close, which came before the shutdown.
  EXPECT_EQ(r.after.hub.GetState("alice")->last_seen_ms, closed_at);
}

TEST(EpochsRule, RestartRestoresStatusAndDeviceOfEachSession) {
  Restart r;
  ConnId phone = r.before.Connect("alice", Device::kMobile);
  r.before.SetStatus(phone, kAway);
  r.before.Connect("bob", Device::kDesktop, std::nullopt, kOff);
  r.Stop(/*downtime_ms=*/100);
  std::optional<PresenceState> alice = r.after.hub.GetState("alice");
  ASSERT_TRUE(alice);
  EXPECT_EQ(alice->status, kAway);
  EXPECT_EQ(alice->device, Device::kMobile);
  // A session that had said offline stays offline: nobody comes online.
  EXPECT_EQ(r.after.hub.GetState("bob")->status, kOff);
  EXPECT_EQ(r.after.hub.Stats().sessions, 2u);
  EXPECT_EQ(r.after.hub.Stats().connections, 0u);
}

TEST(EpochsRule, RestartAfterADowntimeOfTimeoutMsRestoresNothing) {
  Restart r;
  ConnId alice = r.before.Connect("alice");
  const std::string session = r.before.Welcome(alice).session;
  r.Stop(r.before.hub.config().timeout_ms);
  EXPECT_EQ(r.saved.size(), 1u);
  EXPECT_EQ(r.after.hub.Stats().sessions, 0u);
  EXPECT_FALSE(r.after.hub.GetState("alice"));
  ConnId a = r.after.Connect("alice", Device::kWeb, session);
  EXPECT_NE(r.after.Welcome(a).session, session);
}

TEST(EpochsRule, ResumingARestoredSessionRaisesItsEpoch) {
  Restart r;
  ConnId alice = r.before.Connect("alice");
  const std::string session = r.before.Welcome(alice).session;
  r.Stop(/*downtime_ms=*/100);
  const uint64_t saved_epoch = r.SavedOf("alice")->epoch;
  ConnId a = r.after.Connect("alice", Device::kWeb, session);
  EXPECT_EQ(r.after.Welcome(a).session, session);
  // Saved again at the next shutdown, one epoch on: a connection of the
  // first process can never pass for the newer one.
  r.after.hub.Shutdown(r.after.now);
  std::vector<SavedSession> again = r.after.hub.SavedSessions(r.after.now);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].id, session);
  EXPECT_EQ(again[0].epoch, saved_epoch + 1);
}

TEST(EpochsRule, SavedSessionsIsEmptyUntilShutdownAndRestoreRefusesBadInput) {
  HubDriver d;
  d.Connect("alice");
  EXPECT_TRUE(d.hub.SavedSessions(d.now).empty());  // a crash saves nothing

  HubDriver fresh;
  SavedSession good{"s9", "alice",   Device::kWeb, kOn,
                    3,    fresh.now, 1000,         fresh.now};
  SavedSession bad_id = good;
  bad_id.id = "has space";
  SavedSession bad_user = good;
  bad_user.id = "s10";
  bad_user.user_id = "";
  SavedSession no_grace = good;
  no_grace.id = "s11";
  no_grace.grace_left_ms = 0;
  for (const SavedSession& s : {bad_id, bad_user, no_grace}) {
    fresh.hub.RestoreSession(s, fresh.now);
  }
  EXPECT_EQ(fresh.hub.Stats().sessions, 0u);
  fresh.hub.RestoreSession(good, fresh.now);
  SavedSession same_id = good;
  same_id.user_id = "mallory";
  fresh.hub.RestoreSession(same_id, fresh.now);  // the id is taken
  EXPECT_EQ(fresh.hub.Stats().sessions, 1u);
  EXPECT_FALSE(fresh.hub.GetState("mallory"));
  // Another user cannot resume it.
  ConnId m = fresh.Connect("mallory", Device::kWeb, "s9");
  EXPECT_NE(fresh.Welcome(m).session, "s9");
  // A grace longer than this hub's is cut to it.
  SavedSession long_grace = good;
  long_grace.id = "s12";
  long_grace.user_id = "carol";
  long_grace.grace_left_ms = fresh.hub.config().leave_grace_ms * 10;
  fresh.env.store["carol"].last_seen_ms = fresh.now;  // saved with it
  fresh.hub.RestoreSession(long_grace, fresh.now);
  ConnId w = fresh.Connect("watcher");
  fresh.Subscribe(w, {"carol"});
  EXPECT_EQ(fresh.LastView(w, "carol")->status, kOn);
  fresh.Advance(fresh.hub.config().leave_grace_ms);
  EXPECT_EQ(fresh.hub.GetState("carol")->status, kOff);
}

}  // namespace
}  // namespace presence
