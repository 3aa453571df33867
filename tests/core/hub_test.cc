// The hub's rules, one suite per DESIGN.md rule, driven on a manual clock.

#include "presence/hub.h"

#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>

#include "hub_support.h"
#include "presence/privacy.h"

namespace presence {
namespace {

using testing::HubDriver;

constexpr Status kOn = Status::kOnline;
constexpr Status kAway = Status::kAway;
constexpr Status kOff = Status::kOffline;

// A watcher `w` of user "alice", everything visible to everyone.
struct Watched {
  Watched() {
    d.env.store["alice"].settings = {
        Visibility::kEveryone, Visibility::kEveryone, Visibility::kEveryone};
    w = d.Connect("watcher");
    d.Subscribe(w, {"alice"});
    d.Forget(w);
  }
  HubDriver d;
  ConnId w = 0;
};

// ---------------- Aggregation ----------------

TEST(AggregationRule, OnlineIfAnySessionOnlineElseAwayElseOffline) {
  Watched t;
  ConnId tab1 = t.d.Connect("alice");
  ConnId tab2 = t.d.Connect("alice");
  EXPECT_EQ(t.d.hub.GetState("alice")->status, kOn);
  t.d.SetStatus(tab1, kAway);
  EXPECT_EQ(t.d.hub.GetState("alice")->status, kOn);  // tab2 still online
  t.d.SetStatus(tab2, kAway);
  EXPECT_EQ(t.d.hub.GetState("alice")->status, kAway);
  t.d.SetStatus(tab1, kOff);
  EXPECT_EQ(t.d.hub.GetState("alice")->status, kAway);
  t.d.SetStatus(tab2, kOff);
  EXPECT_EQ(t.d.hub.GetState("alice")->status, kOff);
  t.d.SetStatus(tab1, kOn);
  EXPECT_EQ(t.d.hub.GetState("alice")->status, kOn);
  t.d.Flush();
  EXPECT_EQ(t.d.LastView(t.w, "alice")->status, kOn);
}

TEST(AggregationRule, DeviceIsThatOfMostRecentlyActiveWinningSession) {
  Watched t;
  ConnId phone = t.d.Connect("alice", Device::kMobile);
  t.d.Advance(1000);
  ConnId laptop = t.d.Connect("alice", Device::kDesktop);
  EXPECT_EQ(t.d.hub.GetState("alice")->device, Device::kDesktop);
  t.d.Advance(1000);
  t.d.Send(phone, HeartbeatFrame{});
  t.d.Send(phone, PresenceFrame{kOn});
  EXPECT_EQ(t.d.hub.GetState("alice")->device, Device::kMobile);
  // An away session never wins over an online one, however recent.
  t.d.SetStatus(laptop, kAway);
  t.d.Advance(1000);
  t.d.SetStatus(laptop, kAway);
  EXPECT_EQ(t.d.hub.GetState("alice")->device, Device::kMobile);
  t.d.SetStatus(phone, kAway);
  t.d.Flush();
  EXPECT_EQ(t.d.LastView(t.w, "alice")->status, kAway);
  EXPECT_EQ(t.d.LastView(t.w, "alice")->device, Device::kMobile);
}

TEST(AggregationRule, OneHiddenTabKeepsUserOnlineBothHiddenAway) {
  Watched t;
  ConnId a = t.d.Connect("alice");
  ConnId b = t.d.Connect("alice");
  t.d.Flush();
  t.d.SetStatus(a, kAway);
  t.d.Flush();
  EXPECT_EQ(t.d.LastView(t.w, "alice")->status, kOn);
  EXPECT_EQ(t.d.ViewsOf(t.w, "alice").size(), 1u);
  t.d.SetStatus(b, kAway);
  t.d.Flush();
  EXPECT_EQ(t.d.LastView(t.w, "alice")->status, kAway);
}

// ---------------- Last seen ----------------

TEST(LastSeenRule, ServerClockOnlyClientTimestampIsAHint) {
  HubDriver d;
  ConnId c = d.Connect("alice");
  d.Advance(5000);
  d.Send(c, PresenceFrame{kOn, d.now + 999'999'999});
  EXPECT_EQ(d.hub.GetState("alice")->last_seen_ms, d.now);
}

TEST(LastSeenRule, UpdatedOnEveryFrameFromOnlineOrAwaySession) {
  HubDriver d;
  ConnId c = d.Connect("alice");
  d.SetStatus(c, kAway);
  d.Advance(7000);
  d.Send(c, HeartbeatFrame{});
  EXPECT_EQ(d.hub.GetState("alice")->last_seen_ms, d.now);
  ASSERT_FALSE(d.persisted.empty());
  EXPECT_EQ(d.persisted.back().last_seen_ms, d.now);
}

TEST(LastSeenRule, OfflineStatusSetsLastSeenToThatMoment) {
  Watched t;
  ConnId c = t.d.Connect("alice");
  t.d.Advance(2000);
  t.d.SetStatus(c, kOff);
  const int64_t off_at = t.d.now;
  t.d.Advance(10'000);
  t.d.Send(c, HeartbeatFrame{});  // an offline session's frames do not count
  t.d.Flush();
  EXPECT_EQ(t.d.hub.GetState("alice")->last_seen_ms, off_at);
  std::optional<View> v = t.d.LastView(t.w, "alice");
  EXPECT_EQ(v->status, kOff);
  EXPECT_EQ(v->last_seen_ms, off_at);
}

TEST(LastSeenRule, CleanCloseIsTheMomentOfTheClose) {
  Watched t;
  ConnId c = t.d.Connect("alice");
  t.d.Advance(3000);
  const int64_t closed_at = t.d.now;
  t.d.Close(c);
  t.d.Advance(t.d.hub.config().leave_grace_ms + 100);
  std::optional<View> v = t.d.LastView(t.w, "alice");
  EXPECT_EQ(v->status, kOff);
  EXPECT_EQ(v->last_seen_ms, closed_at);
  EXPECT_EQ(t.d.env.store["alice"].last_seen_ms, closed_at);
}

TEST(LastSeenRule, OnlineViewsCarryNoLastSeen) {
  Watched t;
  t.d.Connect("alice");
  t.d.Flush();
  std::optional<View> v = t.d.LastView(t.w, "alice");
  EXPECT_EQ(v->status, kOn);
  EXPECT_FALSE(v->last_seen_ms);
}

TEST(LastSeenRule, RestoredFromStoreForUsersNotConnected) {
  HubDriver d;
  d.env.store["bob"].last_seen_ms = 123'456;
  d.env.store["bob"].settings.show_last_seen = Visibility::kEveryone;
  ConnId w = d.Connect("w");
  d.Subscribe(w, {"bob", "nobody-ever"});
  EXPECT_EQ(d.LastView(w, "bob")->status, kOff);
  EXPECT_EQ(d.LastView(w, "bob")->last_seen_ms, 123'456);
  // Never seen: the View is the id alone.
  EXPECT_EQ(*d.LastView(w, "nobody-ever"), View{"nobody-ever"});
}

// ---------------- Liveness ----------------

TEST(LivenessRule, SilentConnectionIsDeadAfterTwoPingIntervalsNoGrace) {
  Watched t;
  ConnId c = t.d.Connect("alice");
  const int64_t heard = t.d.now;
  // The client vanished: no FIN, no pongs, no frames.
  t.d.answering.erase(c);
  t.d.heartbeating.erase(c);
  const int64_t ping = t.d.hub.config().ping_ms;
  t.d.Advance(2 * ping - 1);
  EXPECT_EQ(t.d.hub.GetState("alice")->status, kOn);
  t.d.Advance(1 + t.d.hub.config().flush_ms);
  std::optional<View> v = t.d.LastView(t.w, "alice");
  EXPECT_EQ(v->status, kOff);
  EXPECT_EQ(v->last_seen_ms, heard);  // the last time it was heard
  EXPECT_TRUE(t.d.inbox(c).close_code.has_value());
  EXPECT_EQ(t.d.hub.Stats().dead_connections, 1u);
}

TEST(LivenessRule, HiddenTabAnsweringPingsStaysAwayWithoutFlapping) {
  Watched t;
  ConnId c = t.d.Connect("alice");
  t.d.SetStatus(c, kAway);
  t.d.Flush();
  t.d.Forget(t.w);
  // A hidden tab: timers throttled to once a minute, pings answered.
  t.d.heartbeating.erase(c);
  for (int minute = 0; minute < 10; ++minute) {
    t.d.Advance(60'000);
    t.d.Send(c, HeartbeatFrame{});
  }
  EXPECT_EQ(t.d.hub.GetState("alice")->status, kAway);
  EXPECT_EQ(t.d.BulkCount(t.w), 0u);
  EXPECT_GT(t.d.inbox(c).pings, 100);
}

TEST(LivenessRule, HeartbeatBackstopDropsSessionWithoutFrames) {
  Watched t;
  ConnId c = t.d.Connect("alice");
  t.d.Advance(1000);
  t.d.Send(c, HeartbeatFrame{});
  t.d.heartbeating.erase(c);
  const int64_t last_frame = t.d.now;
  // Pongs keep coming (the driver answers) but no frame: pongs do not count.
  t.d.Advance(t.d.hub.config().timeout_ms - 1);
  EXPECT_EQ(t.d.hub.GetState("alice")->status, kOn);
  t.d.Advance(1 + t.d.hub.config().flush_ms);
  std::optional<View> v = t.d.LastView(t.w, "alice");
  EXPECT_EQ(v->status, kOff);
  EXPECT_EQ(v->last_seen_ms, last_frame);
  EXPECT_EQ(t.d.hub.Stats().timed_out_sessions, 1u);
}

TEST(LivenessRule, PingsEveryPingMs) {
  HubDriver d;
  ConnId c = d.Connect("alice");
  d.Advance(d.hub.config().ping_ms * 4);
  EXPECT_EQ(d.inbox(c).pings, 4);
}

TEST(LivenessRule, AuthMustArriveWithinFiveSeconds) {
  HubDriver d;
  ConnId c = d.Open();
  d.Advance(4999);
  EXPECT_FALSE(d.inbox(c).close_code);
  d.Advance(1);
  EXPECT_EQ(d.inbox(c).close_code, kCloseUnauthorized);
  ASSERT_EQ(d.Errors(c).size(), 1u);
  EXPECT_EQ(d.Errors(c)[0].code, ErrorCode::kUnauthorized);
}

// ---------------- Epochs, leave grace, resume ----------------

TEST(EpochsRule, ReloadWithinLeaveGraceDoesNotFlapOffline) {
  Watched t;
  ConnId c = t.d.Connect("alice");
  const std::string session = t.d.Welcome(c).session;
  t.d.Flush();
  t.d.Forget(t.w);
  t.d.Close(c);
  t.d.Advance(2000);
  ConnId again = t.d.Connect("alice", Device::kWeb, session);
  EXPECT_EQ(t.d.Welcome(again).session, session);
  t.d.Advance(t.d.hub.config().leave_grace_ms * 3);
  EXPECT_EQ(t.d.BulkCount(t.w), 0u);  // not a single frame: no flap
  EXPECT_EQ(t.d.hub.GetState("alice")->status, kOn);
}

TEST(EpochsRule, LeaveGraceExpiryDropsTheSession) {
  Watched t;
  ConnId c = t.d.Connect("alice");
  t.d.Flush();
  t.d.Close(c);
  const int64_t closed = t.d.now;
  t.d.Advance(t.d.hub.config().leave_grace_ms - 1);
  EXPECT_EQ(t.d.hub.GetState("alice")->status, kOn);
  t.d.Advance(1);
  EXPECT_EQ(t.d.hub.GetState("alice")->status, kOff);
  t.d.Flush();
  EXPECT_EQ(t.d.LastView(t.w, "alice")->last_seen_ms, closed);
  // Too late to resume: a new session.
  ConnId late = t.d.Connect("alice", Device::kWeb, "s2");
  EXPECT_NE(t.d.Welcome(late).session, "s2");
}

TEST(EpochsRule, ResumeWhileOldConnectionOpenMovesSessionAndClosesOld) {
  Watched t;
  ConnId old_conn = t.d.Connect("alice");
  const std::string session = t.d.Welcome(old_conn).session;
  t.d.Flush();
  t.d.Forget(t.w);
  ConnId fresh = t.d.Connect("alice", Device::kWeb, session);
  EXPECT_EQ(t.d.inbox(old_conn).close_code, kCloseSessionMoved);
  EXPECT_EQ(t.d.Welcome(fresh).session, session);
  // The connection left behind closes, times out, sends late frames:
  // none of it touches the session that moved on.
  t.d.SetStatus(old_conn, kOff);
  t.d.Close(old_conn);
  t.d.Advance(t.d.hub.config().leave_grace_ms * 4);
  EXPECT_EQ(t.d.hub.GetState("alice")->status, kOn);
  EXPECT_EQ(t.d.BulkCount(t.w), 0u);
  EXPECT_EQ(t.d.hub.Stats().sessions, 2u);  // watcher's and alice's
}

TEST(EpochsRule, ResendingStatusAfterResumeIsIdempotent) {
  Watched t;
  ConnId c = t.d.Connect("alice");
  const std::string session = t.d.Welcome(c).session;
  t.d.SetStatus(c, kAway);
  t.d.Flush();
  t.d.Forget(t.w);
  t.d.Close(c);
  ConnId again = t.d.Connect("alice", Device::kWeb, session, kAway);
  t.d.SetStatus(again, kAway);
  t.d.SetStatus(again, kAway);
  t.d.Advance(10'000);
  EXPECT_EQ(t.d.BulkCount(t.w), 0u);
}

TEST(EpochsRule, AnotherUsersSessionCannotBeResumed) {
  HubDriver d;
  ConnId a = d.Connect("alice");
  const std::string session = d.Welcome(a).session;
  ConnId m = d.Connect("mallory", Device::kWeb, session);
  EXPECT_NE(d.Welcome(m).session, session);
  EXPECT_FALSE(d.inbox(a).close_code);
  EXPECT_EQ(d.Welcome(m).user_id, "mallory");
}

TEST(EpochsRule, AuthStatusStartsAHiddenTabAwayWithoutFlap) {
  Watched t;
  t.d.Connect("alice", Device::kWeb, std::nullopt, kAway);
  t.d.Flush();
  std::vector<View> views = t.d.ViewsOf(t.w, "alice");
  ASSERT_EQ(views.size(), 1u);
  EXPECT_EQ(views[0].status, kAway);
}

// ---------------- Activity ----------------

TEST(ActivityRule, ClearedActivityTtlAfterTheLastActivityFrame) {
  Watched t;
  ConnId c = t.d.Connect("alice");
  t.d.Send(c, ActivityFrame{Activity::Typing("conv-1")});
  t.d.Flush();
  EXPECT_EQ(t.d.LastView(t.w, "alice")->activity, Activity::Typing("conv-1"));
  t.d.Advance(2000);
  t.d.Send(c, ActivityFrame{Activity::Typing("conv-1")});  // refresh
  t.d.Advance(2999);
  EXPECT_TRUE(t.d.LastView(t.w, "alice")->activity.has_value());
  t.d.Advance(1 + t.d.hub.config().flush_ms);
  EXPECT_FALSE(t.d.LastView(t.w, "alice")->activity.has_value());
  EXPECT_EQ(t.d.LastView(t.w, "alice")->status, kOn);
}

TEST(ActivityRule, ClearedAtOnceWhenTheUserGoesOffline) {
  Watched t;
  ConnId c = t.d.Connect("alice");
  t.d.Send(c, ActivityFrame{Activity::Busy("in a meeting")});
  t.d.Flush();
  t.d.SetStatus(c, kOff);
  t.d.Flush();
  EXPECT_FALSE(t.d.LastView(t.w, "alice")->activity.has_value());
  EXPECT_FALSE(t.d.hub.GetState("alice")->activity.has_value());
  // Back online, the old activity does not come back.
  t.d.SetStatus(c, kOn);
  t.d.Flush();
  EXPECT_FALSE(t.d.LastView(t.w, "alice")->activity.has_value());
}

TEST(ActivityRule, IdleClearsTheActivity) {
  Watched t;
  ConnId c = t.d.Connect("alice");
  t.d.Send(c, ActivityFrame{Activity::Viewing("/inbox")});
  t.d.Flush();
  t.d.Send(c, ActivityFrame{Activity::Idle()});
  t.d.Flush();
  EXPECT_FALSE(t.d.LastView(t.w, "alice")->activity.has_value());
}

// ---------------- Privacy (on raw frames) ----------------

struct PrivacyCase {
  Visibility status, last_seen, activity;
};

TEST(PrivacyRule, HiddenFieldsNeverLeaveTheHubInAnyByte) {
  const Visibility all[] = {Visibility::kEveryone, Visibility::kContacts,
                            Visibility::kNobody};
  for (Visibility st : all) {
    for (Visibility ls : all) {
      for (Visibility ac : all) {
        HubDriver d;
        d.env.store["alice"].settings = {st, ls, ac};
        d.env.store["alice"].contacts = {"friend"};
        ConnId me = d.Connect("alice");
        ConnId fr = d.Connect("friend");
        ConnId other = d.Connect("stranger");
        for (ConnId c : {me, fr, other}) d.Subscribe(c, {"alice"});
        d.Send(me, ActivityFrame{Activity::Typing("secret-conv")});
        d.Advance(4000);
        d.SetStatus(me, kOff);
        d.Advance(1000);
        struct Viewer {
          ConnId conn;
          ViewerClass cls;
        };
        for (Viewer v :
             {Viewer{me, ViewerClass::kSelf}, Viewer{fr, ViewerClass::kContact},
              Viewer{other, ViewerClass::kOther}}) {
          std::string bytes;
          for (const std::string& raw : d.inbox(v.conn).raw) bytes += raw;
          const bool see_status = Admits(st, v.cls);
          const std::string where =
              std::string(ToString(v.cls)) + " " + std::string(ToString(st)) +
              "/" + std::string(ToString(ls)) + "/" + std::string(ToString(ac));
          EXPECT_EQ(bytes.find("\"status\"") != std::string::npos, see_status)
              << where;
          EXPECT_EQ(bytes.find("secret-conv") != std::string::npos,
                    see_status && Admits(ac, v.cls))
              << where;
          EXPECT_EQ(bytes.find("\"lastSeen\"") != std::string::npos,
                    see_status && Admits(ls, v.cls))
              << where;
          EXPECT_EQ(bytes.find("\"device\"") != std::string::npos, see_status)
              << where;
        }
      }
    }
  }
}

TEST(PrivacyRule, SettingsChangesReachViewersAtOnce) {
  HubDriver d;
  ConnId me = d.Connect("alice");
  ConnId other = d.Connect("stranger");
  d.Subscribe(other, {"alice"});
  EXPECT_EQ(d.LastView(other, "alice")->status, kOn);
  d.hub.UpdateSettings(
      "alice", {Visibility::kNobody, Visibility::kNobody, Visibility::kNobody},
      d.now);
  d.Flush();
  EXPECT_EQ(*d.LastView(other, "alice"), View{"alice"});
  d.hub.UpdateSettings("alice", PrivacySettings{}, d.now);
  d.Flush();
  EXPECT_EQ(d.LastView(other, "alice")->status, kOn);
  (void)me;
}

TEST(PrivacyRule, ContactsAreTheTargetsOwnListAndChangesApplyAtOnce) {
  HubDriver d;
  d.env.store["alice"].settings.show_online_status = Visibility::kContacts;
  d.env.store["bob"].contacts = {"alice"};  // bob lists alice; not the reverse
  d.Connect("alice");
  ConnId bob = d.Connect("bob");
  d.Subscribe(bob, {"alice"});
  EXPECT_EQ(*d.LastView(bob, "alice"), View{"alice"});
  d.hub.UpdateContacts("alice", {"bob"}, d.now);
  d.Flush();
  EXPECT_EQ(d.LastView(bob, "alice")->status, kOn);
  d.hub.UpdateContacts("alice", {}, d.now);
  d.Flush();
  EXPECT_EQ(*d.LastView(bob, "alice"), View{"alice"});
}

// The hub keeps each subscription's viewer class instead of looking the
// viewer up in the target's contacts on every change: that cache must follow
// contacts changes, made alone or in the same window as a status change,
// and must never let a stranger share a contact's view.
TEST(PrivacyRule, CachedViewerClassFollowsContactsChanges) {
  HubDriver d;
  d.env.store["alice"].settings = {Visibility::kContacts, Visibility::kNobody,
                                   Visibility::kContacts};
  ConnId alice = d.Connect("alice");
  ConnId bob = d.Connect("bob");
  ConnId carol = d.Connect("carol");  // never a contact
  d.Subscribe(bob, {"alice"});
  d.Subscribe(carol, {"alice"});
  EXPECT_EQ(*d.LastView(bob, "alice"), View{"alice"});
  // Made a contact in the window of a status change: both at once.
  d.hub.UpdateContacts("alice", {"bob"}, d.now);
  d.SetStatus(alice, kAway);
  d.Flush();
  EXPECT_EQ(d.LastView(bob, "alice")->status, kAway);
  // Later changes use the class cached at that flush.
  d.SetStatus(alice, kOn);
  d.Flush();
  EXPECT_EQ(d.LastView(bob, "alice")->status, kOn);
  d.Send(alice, ActivityFrame{Activity::Typing("c1")});
  d.Flush();
  EXPECT_EQ(d.LastView(bob, "alice")->activity, Activity::Typing("c1"));
  // Removed: hidden again at once, and later changes stay hidden.
  d.hub.UpdateContacts("alice", {}, d.now);
  d.Flush();
  EXPECT_EQ(*d.LastView(bob, "alice"), View{"alice"});
  const size_t frames = d.BulkCount(bob);
  d.SetStatus(alice, kAway);
  d.Flush();
  EXPECT_EQ(d.BulkCount(bob), frames);
  // Carol saw nothing but the snapshot, whatever bob's class was.
  EXPECT_EQ(d.BulkCount(carol), 1u);
  EXPECT_EQ(*d.LastView(carol, "alice"), View{"alice"});
}

TEST(PrivacyRule, CachedViewerClassFollowsContactsChangesWhileDetached) {
  HubDriver d;
  d.env.store["alice"].settings.show_online_status = Visibility::kContacts;
  ConnId alice = d.Connect("alice");
  ConnId bob = d.Connect("bob");
  const std::string session = d.Welcome(bob).session;
  d.Subscribe(bob, {"alice"});
  EXPECT_EQ(*d.LastView(bob, "alice"), View{"alice"});
  // Bob's socket closes; his session (and its subscription) waits out the
  // leave grace while alice makes him a contact.
  d.Close(bob);
  d.hub.UpdateContacts("alice", {"bob"}, d.now);
  d.Flush();
  // Resumed without subscribing again: the next change shows the status.
  ConnId again = d.Connect("bob", Device::kWeb, session);
  ASSERT_EQ(d.Welcome(again).session, session);
  d.SetStatus(alice, kAway);
  d.Flush();
  EXPECT_EQ(d.LastView(again, "alice")->status, kAway);
  // And the other way: removed while detached, nothing shows afterwards.
  d.Close(again);
  d.hub.UpdateContacts("alice", {}, d.now);
  d.Flush();
  ConnId third = d.Connect("bob", Device::kWeb, session);
  ASSERT_EQ(d.Welcome(third).session, session);
  d.SetStatus(alice, kOn);
  d.Flush();
  const std::vector<View> seen = d.ViewsOf(third, "alice");
  ASSERT_FALSE(seen.empty());  // the status it had was taken back
  for (const View& v : seen) EXPECT_EQ(v, View{"alice"});
}

TEST(PrivacyRule, SelfViewIgnoresTheUsersOwnContacts) {
  HubDriver d;
  d.env.store["alice"].settings = {Visibility::kNobody, Visibility::kNobody,
                                   Visibility::kNobody};
  ConnId alice = d.Connect("alice");
  d.Subscribe(alice, {"alice"});
  EXPECT_EQ(d.LastView(alice, "alice")->status, kOn);
  d.hub.UpdateContacts("alice", {"alice", "bob"}, d.now);
  d.SetStatus(alice, kAway);
  d.Flush();
  EXPECT_EQ(d.LastView(alice, "alice")->status, kAway);
  EXPECT_EQ(d.LastView(alice, "alice")->device, Device::kWeb);
}

// A snapshot is served from the target's cached view for the viewer's
// class: a settings or contacts change not yet flushed must already show in
// it, and what it sent is the baseline the next flush diffs against.
TEST(PrivacyRule, SnapshotFromTheCacheShowsAnUnflushedSettingsChange) {
  HubDriver d;
  d.Connect("alice");
  ConnId early = d.Connect("early");
  d.Subscribe(early, {"alice"});  // fills alice's cache
  EXPECT_EQ(d.LastView(early, "alice")->status, kOn);
  d.hub.UpdateSettings(
      "alice", {Visibility::kNobody, Visibility::kNobody, Visibility::kNobody},
      d.now);
  ConnId late = d.Connect("late");
  d.Subscribe(late, {"alice"});
  EXPECT_EQ(*d.LastView(late, "alice"), View{"alice"});
  d.Flush();
  EXPECT_EQ(*d.LastView(early, "alice"), View{"alice"});
  EXPECT_EQ(d.BulkCount(late), 1u);  // already sent the hidden view
  d.hub.UpdateSettings("alice", PrivacySettings{}, d.now);
  ConnId later = d.Connect("later");
  d.Subscribe(later, {"alice"});
  EXPECT_EQ(d.LastView(later, "alice")->status, kOn);
  d.Flush();
  EXPECT_EQ(d.LastView(late, "alice")->status, kOn);
  EXPECT_EQ(d.BulkCount(later), 1u);
}

TEST(PrivacyRule, SnapshotFromTheCacheShowsAnUnflushedContactsChange) {
  HubDriver d;
  d.env.store["alice"].settings = {Visibility::kContacts, Visibility::kNobody,
                                   Visibility::kContacts};
  ConnId alice = d.Connect("alice");
  ConnId carol = d.Connect("carol");
  d.Subscribe(carol, {"alice"});  // fills alice's cache
  d.hub.UpdateContacts("alice", {"bob"}, d.now);
  ConnId bob = d.Connect("bob");
  ConnId dave = d.Connect("dave");
  d.Subscribe(bob, {"alice"});
  d.Subscribe(dave, {"alice"});
  EXPECT_EQ(d.LastView(bob, "alice")->status, kOn);
  EXPECT_EQ(*d.LastView(dave, "alice"), View{"alice"});
  d.Flush();
  // Each was sent its class's view; the flush has nothing new for them.
  EXPECT_EQ(d.BulkCount(bob), 1u);
  EXPECT_EQ(d.BulkCount(dave), 1u);
  EXPECT_EQ(d.BulkCount(carol), 1u);
  // Removed before a re-subscribe is flushed: the snapshot hides again, and
  // a later status change stays hidden.
  d.hub.UpdateContacts("alice", {}, d.now);
  d.Subscribe(bob, {"alice"});
  EXPECT_EQ(*d.LastView(bob, "alice"), View{"alice"});
  d.Flush();
  const size_t frames = d.BulkCount(bob);
  d.SetStatus(alice, kAway);
  d.Flush();
  EXPECT_EQ(d.BulkCount(bob), frames);
  EXPECT_EQ(d.BulkCount(dave), 1u);
}

// ---------------- Projection diff ----------------

TEST(ProjectionDiffRule, NoFrameWhenOnlyAFieldHiddenFromTheViewerChanges) {
  HubDriver d;
  d.env.store["alice"].contacts = {"friend"};  // activity: contacts (default)
  ConnId me = d.Connect("alice");
  ConnId fr = d.Connect("friend");
  ConnId other = d.Connect("stranger");
  d.Subscribe(fr, {"alice"});
  d.Subscribe(other, {"alice"});
  d.Forget(fr);
  d.Forget(other);
  d.Send(me, ActivityFrame{Activity::Typing("c1")});
  d.Advance(500);
  d.Send(me, ActivityFrame{Activity::Typing("c2")});
  d.Advance(5000);                 // and the TTL clears it
  EXPECT_EQ(d.BulkCount(fr), 3u);  // c1, c2, cleared
  EXPECT_EQ(d.BulkCount(other), 0u);
  EXPECT_TRUE(d.inbox(other).raw.empty());
}

TEST(ProjectionDiffRule, HeartbeatsAndRepeatedStatusSendNothing) {
  Watched t;
  ConnId c = t.d.Connect("alice");
  t.d.Flush();
  t.d.Forget(t.w);
  for (int i = 0; i < 20; ++i) {
    t.d.Advance(1000);
    t.d.Send(c, HeartbeatFrame{});
    t.d.SetStatus(c, kOn);
  }
  EXPECT_EQ(t.d.BulkCount(t.w), 0u);
}

TEST(ProjectionDiffRule, AChangeUndoneWithinOneWindowSendsNothing) {
  Watched t;
  ConnId c = t.d.Connect("alice");
  t.d.Flush();
  t.d.Forget(t.w);
  t.d.SetStatus(c, kAway);
  t.d.SetStatus(c, kOn);
  t.d.Flush();
  EXPECT_EQ(t.d.BulkCount(t.w), 0u);
}

// ---------------- Coalescing ----------------

TEST(CoalescingRule, TenStatusFlipsInOneWindowReachASubscriberAsOneUpdate) {
  Watched t;
  ConnId c = t.d.Connect("alice");
  t.d.Flush();
  t.d.Forget(t.w);
  for (int i = 0; i < 10; ++i) t.d.SetStatus(c, i % 2 == 0 ? kAway : kOn);
  t.d.SetStatus(c, kAway);
  t.d.Flush();
  ASSERT_EQ(t.d.BulkCount(t.w), 1u);
  ASSERT_EQ(t.d.ViewsOf(t.w, "alice").size(), 1u);
  EXPECT_EQ(t.d.LastView(t.w, "alice")->status, kAway);
}

TEST(CoalescingRule, ChangesOfManyUsersInOneWindowShareOneFrame) {
  HubDriver d;
  ConnId w = d.Connect("w");
  std::vector<std::string> ids;
  for (int i = 0; i < 50; ++i) ids.push_back("u" + std::to_string(i));
  d.Subscribe(w, ids);
  d.Forget(w);
  for (const std::string& id : ids) d.Connect(id);
  d.Flush();
  ASSERT_EQ(d.BulkCount(w), 1u);
  EXPECT_EQ(std::get<BulkFrame>(d.inbox(w).frames[0]).updates.size(), 50u);
}

TEST(CoalescingRule, HiddenChangesDoNotShiftTiming) {
  // The viewer sees bob's status but not alice's activity (contacts only),
  // and a contact of alice sees both. Hidden changes of alice, before and
  // between bob's visible ones (idle viewer, busy viewer, held views), must
  // not move any of the viewer's frames.
  auto frame_times = [](bool alice_types) {
    HubDriver d(HubConfig{}, 1'000'000);
    d.env.store["alice"].contacts = {"c"};
    ConnId alice = d.Connect("alice");
    ConnId bob = d.Connect("bob");
    ConnId w = d.Connect("w");
    ConnId c = d.Connect("c");
    d.Subscribe(w, {"alice", "bob"});
    d.Subscribe(c, {"alice", "bob"});
    d.Advance(1000);
    d.Forget(w);
    std::vector<int64_t> times;
    size_t seen = 0;
    const int64_t start = d.now;
    for (int64_t ms = 0; ms < 400; ++ms) {
      if (alice_types && ms % 7 == 3) {
        d.Send(alice,
               ActivityFrame{Activity::Typing("x" + std::to_string(ms))});
      }
      // Bob: alone, then in quick succession (the viewer is busy), then
      // alone again.
      for (auto [at, status] : {std::pair{20, kAway},
                                {31, kOn},
                                {90, kAway},
                                {93, kOn},
                                {96, kAway},
                                {300, kOn}}) {
        if (ms == at) d.SetStatus(bob, status);
      }
      d.Advance(0);
      if (d.BulkCount(w) > seen) {
        seen = d.BulkCount(w);
        times.push_back(d.now - start);
      }
      d.Advance(1);
    }
    return times;
  };
  const std::vector<int64_t> without = frame_times(false);
  EXPECT_EQ(without, (std::vector<int64_t>{20, 50, 100, 300}));
  EXPECT_EQ(frame_times(true), without);
}

TEST(CoalescingRule, AChangeReachesAViewerIdleForAWindowAtOnce) {
  Watched t;
  ConnId c = t.d.Connect("alice");
  t.d.Advance(1000);
  t.d.Forget(t.w);
  t.d.Advance(7);  // off the grid
  t.d.SetStatus(c, kAway);
  t.d.Advance(0);  // the host's next turn, no time passed
  ASSERT_EQ(t.d.BulkCount(t.w), 1u);
  EXPECT_EQ(t.d.LastView(t.w, "alice")->status, kAway);
}

TEST(CoalescingRule, ChangesAfterALeadingFrameWaitForTheGridAndCollapse) {
  Watched t;
  ConnId c = t.d.Connect("alice");
  t.d.Advance(1000);
  t.d.Forget(t.w);
  const int64_t flush_ms = t.d.hub.config().flush_ms;
  t.d.Advance(7);
  t.d.SetStatus(c, kAway);
  t.d.Advance(0);
  ASSERT_EQ(t.d.BulkCount(t.w), 1u);  // the leading edge
  t.d.Advance(1);
  t.d.SetStatus(c, kOn);
  t.d.Advance(1);
  t.d.SetStatus(c, kAway);
  t.d.Advance(1);
  t.d.SetStatus(c, kOn);
  // Nothing more before the next grid point, then one frame with the last.
  const int64_t grid = (t.d.now / flush_ms + 1) * flush_ms;
  t.d.AdvanceTo(grid - 1);
  EXPECT_EQ(t.d.BulkCount(t.w), 1u);
  t.d.AdvanceTo(grid);
  ASSERT_EQ(t.d.BulkCount(t.w), 2u);
  ASSERT_EQ(t.d.ViewsOf(t.w, "alice").size(), 2u);
  EXPECT_EQ(t.d.LastView(t.w, "alice")->status, kOn);
}

TEST(CoalescingRule, AFlushCountsAsDoneWhenTheHostSaysItsFramesLeft) {
  // A flush whose sends took longer than the window: its viewer was served
  // until the host said so, so the next change waits for the grid instead
  // of fanning out again at once.
  auto frames_right_after = [](bool host_reports_sent) {
    Watched t;
    ConnId c = t.d.Connect("alice");
    t.d.Advance(1000);
    const int64_t flush_ms = t.d.hub.config().flush_ms;
    t.d.Advance(7);
    t.d.SetStatus(c, kAway);
    t.d.Advance(0);  // leads: the viewer was idle
    t.d.Forget(t.w);
    const int64_t sent = t.d.now + flush_ms + 5;  // the sends took that long
    t.d.now = sent;
    if (host_reports_sent) t.d.hub.HandleSent(sent);
    t.d.SetStatus(c, kOn);
    t.d.Advance(0);
    return t.d.BulkCount(t.w);
  };
  EXPECT_EQ(frames_right_after(false), 1u);
  EXPECT_EQ(frames_right_after(true), 0u);
}

TEST(CoalescingRule, UnderSteadyChangesAViewerGetsOneFramePerWindow) {
  HubDriver d;
  ConnId w = d.Connect("w");
  std::vector<std::string> ids;
  std::vector<ConnId> users;
  for (int i = 0; i < 100; ++i) {
    ids.push_back("u" + std::to_string(i));
    users.push_back(d.Connect(ids.back()));
  }
  d.Subscribe(w, ids);
  d.Advance(1000);
  d.Forget(w);
  const int64_t flush_ms = d.hub.config().flush_ms;
  const int64_t windows = 20;
  // One change every millisecond, round-robin over the users (each flips
  // every 100 ms, within the rate limit).
  for (int64_t ms = 0; ms < windows * flush_ms; ++ms) {
    const size_t u = size_t(ms) % users.size();
    d.SetStatus(users[u], (ms / int64_t(users.size())) % 2 == 0 ? kAway : kOn);
    d.Advance(1);
  }
  // One frame per grid point (plus at most one leading frame).
  EXPECT_GE(d.BulkCount(w), size_t(windows));
  EXPECT_LE(d.BulkCount(w), size_t(windows + 1));
}

TEST(CoalescingRule, EachChangeIsEncodedOncePerViewerClass) {
  HubDriver d;
  d.env.store["alice"].settings = {Visibility::kEveryone, Visibility::kEveryone,
                                   Visibility::kContacts};
  std::vector<std::string> contacts;
  for (int i = 0; i < 100; ++i) contacts.push_back("c" + std::to_string(i));
  d.env.store["alice"].contacts = contacts;
  ConnId me = d.Connect("alice");
  std::vector<ConnId> viewers;
  for (int i = 0; i < 100; ++i) viewers.push_back(d.Connect(contacts[i]));
  for (int i = 0; i < 200; ++i) {
    viewers.push_back(d.Connect("o" + std::to_string(i)));
  }
  for (ConnId v : viewers) d.Subscribe(v, {"alice"});
  d.Subscribe(me, {"alice"});
  d.Flush();
  const uint64_t before = d.hub.Stats().views_encoded;
  d.Send(me, ActivityFrame{Activity::Typing("conv")});
  d.Flush();
  // Self and contact views changed (they see activity) to the same view,
  // encoded once for both; others did not change.
  EXPECT_EQ(d.hub.Stats().views_encoded - before, 1u);
  EXPECT_EQ(d.LastView(viewers[0], "alice")->activity,
            Activity::Typing("conv"));
  EXPECT_EQ(d.ViewsOf(viewers[150], "alice").size(), 1u);  // snapshot only
}

// ---------------- Limits and bad input ----------------

TEST(LimitsRule, TooManySubscriptionsRejectTheWholeFrameWithLimit) {
  HubConfig config;
  config.max_subscriptions = 10;
  HubDriver d(config);
  ConnId c = d.Connect("w");
  d.Subscribe(c, {"a", "b", "c", "d", "e", "f", "g", "h"});
  d.Subscribe(c, {"a", "x", "y", "z"});  // 3 new: 11 > 10
  ASSERT_EQ(d.Errors(c).size(), 1u);
  EXPECT_EQ(d.Errors(c)[0].code, ErrorCode::kLimit);
  EXPECT_EQ(d.hub.Stats().subscription_edges, 8u);
  d.Subscribe(c, {"a", "x", "y"});  // 2 new: 10, fine
  EXPECT_EQ(d.hub.Stats().subscription_edges, 10u);
  EXPECT_FALSE(d.inbox(c).close_code);
}

TEST(LimitsRule, DuplicateIdsCountOnceLoadedOrNot) {
  HubConfig config;
  config.max_subscriptions = 4;
  HubDriver d(config);
  d.Connect("a");
  ConnId c = d.Connect("w");
  d.Subscribe(c, {"a", "x", "a", "x", "x"});
  EXPECT_EQ(d.hub.Stats().subscription_edges, 2u);
  d.Subscribe(c, {"y", "y", "a", "z", "z", "x"});  // 2 new: 4, fine
  EXPECT_TRUE(d.Errors(c).empty());
  EXPECT_EQ(d.hub.Stats().subscription_edges, 4u);
  const auto& bulk = std::get<BulkFrame>(d.inbox(c).frames.back());
  ASSERT_EQ(bulk.updates.size(), 4u);  // one view per distinct id, in order
  EXPECT_EQ(bulk.updates[0].user_id, "y");
  EXPECT_EQ(bulk.updates[1].user_id, "a");
  EXPECT_EQ(bulk.updates[2].user_id, "z");
  EXPECT_EQ(bulk.updates[3].user_id, "x");
  d.Subscribe(c, {"q", "q"});  // 1 new: 5 > 4
  ASSERT_EQ(d.Errors(c).size(), 1u);
  EXPECT_EQ(d.Errors(c)[0].code, ErrorCode::kLimit);
  d.Subscribe(c, {"q", "q", "a", "a"}, /*replace=*/true);  // 2, fine
  EXPECT_EQ(d.hub.Stats().subscription_edges, 2u);
}

TEST(LimitsRule, RateLimitedThenClosedOnSustainedAbuse) {
  HubDriver d;
  ConnId c = d.Connect("flooder");
  for (int i = 0; i < 60; ++i) d.Send(c, HeartbeatFrame{});
  EXPECT_TRUE(d.Errors(c).empty());
  d.Send(c, HeartbeatFrame{});
  ASSERT_EQ(d.Errors(c).size(), 1u);
  EXPECT_EQ(d.Errors(c)[0].code, ErrorCode::kRateLimited);
  for (int i = 0; i < 200 && !d.inbox(c).close_code; ++i) {
    d.Send(c, HeartbeatFrame{});
  }
  EXPECT_EQ(d.inbox(c).close_code, kClosePolicy);
}

TEST(LimitsRule, MalformedFramesGetBadRequestAndTheConnectionStays) {
  HubDriver d;
  ConnId c = d.Connect("alice");
  d.SendText(c, "{not json");
  d.SendText(c, R"({"type":"teleport"})");
  d.SendText(c, R"({"type":"presence_subscribe","userIds":["ok","bad id"]})");
  ASSERT_EQ(d.Errors(c).size(), 3u);
  for (const ErrorFrame& e : d.Errors(c)) {
    EXPECT_EQ(e.code, ErrorCode::kBadRequest);
  }
  EXPECT_EQ(d.hub.Stats().subscription_edges, 0u);  // nothing half applied
  EXPECT_FALSE(d.inbox(c).close_code);
  d.Subscribe(c, {"bob"});
  EXPECT_EQ(d.BulkCount(c), 1u);
}

TEST(LimitsRule, OversizeFrameClosesWith1009) {
  HubDriver d;
  ConnId c = d.Connect("alice");
  d.SendText(c, std::string(kMaxFrameBytes + 1, ' '));
  EXPECT_EQ(d.inbox(c).close_code, kCloseTooBig);
}

TEST(ProtocolRule, UserIdOtherThanTheTokensIsForbiddenAndIgnored) {
  Watched t;
  ConnId c = t.d.Connect("alice");
  t.d.Flush();
  PresenceFrame forged{kOff};
  forged.user_id = "bob";
  t.d.Send(c, forged);
  ASSERT_EQ(t.d.Errors(c).size(), 1u);
  EXPECT_EQ(t.d.Errors(c)[0].code, ErrorCode::kForbidden);
  EXPECT_EQ(t.d.hub.GetState("alice")->status, kOn);
  PresenceFrame own{kAway};
  own.user_id = "alice";
  t.d.Send(c, own);
  EXPECT_EQ(t.d.hub.GetState("alice")->status, kAway);
}

TEST(ProtocolRule, ForgedMissingOrExpiredTokensAreUnauthorizedAndClosed4401) {
  HubDriver d;
  const std::string bad_auths[] = {
      R"({"type":"auth","token":"forged","device":"web"})",
      R"({"type":"auth","device":"web"})",
      R"({"type":"auth","token":"tok:alice:1000","device":"web"})",
      R"({"type":"heartbeat"})",
      "garbage",
  };
  for (const std::string& text : bad_auths) {
    ConnId c = d.Open();
    d.SendText(c, text);
    EXPECT_EQ(d.inbox(c).close_code, kCloseUnauthorized) << text;
    ASSERT_EQ(d.Errors(c).size(), 1u) << text;
    EXPECT_EQ(d.Errors(c)[0].code, ErrorCode::kUnauthorized) << text;
    d.SendText(c, R"({"type":"auth","token":"tok:alice","device":"web"})");
    EXPECT_EQ(d.inbox(c).frames.size(), 1u) << "closed means closed";
  }
  EXPECT_EQ(d.hub.Stats().sessions, 0u);
}

TEST(ProtocolRule, AnExpiringTokenClosesTheConnectionWith4401AtExp) {
  Watched t;
  ConnId c = t.d.Open();
  const int64_t exp = t.d.now + 60'000;
  t.d.SendText(c, R"({"type":"auth","token":"tok:alice:)" +
                      std::to_string(exp) + R"(","device":"web"})");
  const std::string session = t.d.Welcome(c).session;
  t.d.Advance(59'999);
  EXPECT_FALSE(t.d.inbox(c).close_code);
  t.d.Advance(1);
  EXPECT_EQ(t.d.inbox(c).close_code, kCloseUnauthorized);
  // A fresh token resumes the session within the grace: no flap.
  t.d.Flush();
  t.d.Forget(t.w);
  ConnId again = t.d.Connect("alice", Device::kWeb, session);
  EXPECT_EQ(t.d.Welcome(again).session, session);
  t.d.Advance(20'000);
  EXPECT_EQ(t.d.BulkCount(t.w), 0u);
}

TEST(ProtocolRule, WelcomeCarriesUserSessionHeartbeatAndServerTime) {
  HubDriver d;
  ConnId c = d.Connect("alice");
  WelcomeFrame w = d.Welcome(c);
  EXPECT_EQ(w.user_id, "alice");
  EXPECT_FALSE(w.session.empty());
  EXPECT_EQ(w.heartbeat_ms, d.hub.config().heartbeat_ms);
  EXPECT_EQ(w.server_time, d.now);
}

TEST(ProtocolRule, SubscribeIsAnsweredWithAViewForEveryIdAlreadySubscribedToo) {
  HubDriver d;
  d.Connect("bob");
  ConnId w = d.Connect("w");
  d.Subscribe(w, {"bob", "ghost"});
  d.Subscribe(w, {"bob", "carol", "bob"});
  ASSERT_EQ(d.BulkCount(w), 2u);
  const auto& second = std::get<BulkFrame>(d.inbox(w).frames.back());
  ASSERT_EQ(second.updates.size(), 2u);
  EXPECT_EQ(second.updates[0].user_id, "bob");
  EXPECT_EQ(second.updates[0].status, kOn);
  EXPECT_EQ(second.updates[1], View{"carol"});
  d.Subscribe(w, {});
  EXPECT_EQ(d.inbox(w).raw.back(), R"({"type":"presence_bulk","updates":[]})");
}

TEST(ProtocolRule, ReplaceMakesTheListTheWholeSubscriptionSet) {
  HubDriver d;
  ConnId bob = d.Connect("bob");
  ConnId carol = d.Connect("carol");
  ConnId w = d.Connect("w");
  d.Subscribe(w, {"bob", "carol"});
  d.Subscribe(w, {"carol", "dave"}, /*replace=*/true);
  EXPECT_EQ(d.hub.Stats().subscription_edges, 2u);
  d.Forget(w);
  d.SetStatus(bob, kAway);
  d.SetStatus(carol, kAway);
  d.Flush();
  EXPECT_TRUE(d.ViewsOf(w, "bob").empty());
  EXPECT_EQ(d.LastView(w, "carol")->status, kAway);
}

TEST(ProtocolRule, UnsubscribeStopsUpdatesAndForgetsUnreferencedUsers) {
  HubDriver d;
  ConnId bob = d.Connect("bob");
  ConnId w = d.Connect("w");
  d.Subscribe(w, {"bob", "ghost"});
  const size_t loaded = d.hub.Stats().users_loaded;
  d.Send(w, UnsubscribeFrame{{"bob", "ghost", "never-subscribed"}});
  EXPECT_EQ(d.hub.Stats().users_loaded, loaded - 1);  // ghost forgotten
  d.Forget(w);
  d.SetStatus(bob, kAway);
  d.Flush();
  EXPECT_EQ(d.BulkCount(w), 0u);
}

TEST(ProtocolRule, ShutdownSetsLastSeenOfEveryoneConnectedAndCloses1001) {
  HubDriver d;
  ConnId a = d.Connect("alice");
  ConnId b = d.Connect("bob");
  d.Advance(4000);
  d.hub.Shutdown(d.now);
  d.Drain();
  EXPECT_EQ(d.inbox(a).close_code, kCloseGoingAway);
  EXPECT_EQ(d.inbox(b).close_code, kCloseGoingAway);
  EXPECT_EQ(d.env.store["alice"].last_seen_ms, d.now);
  EXPECT_EQ(d.env.store["bob"].last_seen_ms, d.now);
}

TEST(HubTest, SpuriousTimeoutsAreHarmless) {
  HubDriver d;
  ConnId c = d.Connect("alice");
  for (int i = 0; i < 100; ++i) d.hub.HandleTimeout(d.now);
  d.Drain();
  EXPECT_EQ(d.inbox(c).frames.size(), 1u);
  EXPECT_EQ(d.hub.GetState("alice")->status, kOn);
}

TEST(HubTest, DroppedSessionsLeaveNoEdgesOrUsersBehind) {
  HubDriver d;
  std::vector<ConnId> conns;
  for (int i = 0; i < 20; ++i) {
    conns.push_back(d.Connect("u" + std::to_string(i)));
    d.Subscribe(conns.back(), {"u0", "u1", "ghost" + std::to_string(i)});
  }
  for (ConnId c : conns) d.Close(c);
  d.Advance(d.hub.config().leave_grace_ms + 1000);
  HubStats s = d.hub.Stats();
  EXPECT_EQ(s.sessions, 0u);
  EXPECT_EQ(s.connections, 0u);
  EXPECT_EQ(s.subscription_edges, 0u);
  EXPECT_EQ(s.users_loaded, 0u);
}

// ---------------- Subscription storage ----------------
// Edges live in a vector per target and a table per session, users and
// sessions in reused slots: these tests move edges around every way a
// server does (add, remove, replace, drop, slots reused).

TEST(ProtocolRule, PlainAndNonPlainSubscribeFramesDoTheSame) {
  // The plain frame is read in place; escapes or an extra member send it
  // to the tree parser. Both must leave the same edges and snapshot.
  HubDriver d;
  d.env.store["bob"].settings.show_online_status = Visibility::kNobody;
  d.Connect("alice");
  d.Connect("bob");
  ConnId w1 = d.Connect("w1");
  ConnId w2 = d.Connect("w2");
  d.SendText(
      w1,
      R"({"type":"presence_subscribe","userIds":["alice","bob","ghost","alice"]})");
  d.SendText(
      w2,
      R"({"type":"presence_subscribe","userIds":["\u0061lice","bob","ghost","alice"],"seq":1})");
  ASSERT_EQ(d.BulkCount(w1), 1u);
  ASSERT_EQ(d.BulkCount(w2), 1u);
  EXPECT_EQ(d.inbox(w1).raw.back(), d.inbox(w2).raw.back());
  EXPECT_EQ(d.hub.Stats().subscription_edges, 6u);
  EXPECT_EQ(d.ViewsOf(w1, "bob").back(), View{"bob"});  // hidden either way
  // A claim of another user is refused on both paths.
  d.SendText(
      w1,
      R"({"type":"presence_unsubscribe","userIds":["alice"],"userId":"w2"})");
  d.SendText(
      w2,
      R"({"type":"presence_unsubscribe","userIds":["alice"],"userId":"w1","x":0})");
  ASSERT_EQ(d.Errors(w1).size(), 1u);
  ASSERT_EQ(d.Errors(w2).size(), 1u);
  EXPECT_EQ(d.Errors(w1)[0], d.Errors(w2)[0]);
  EXPECT_EQ(d.hub.Stats().subscription_edges, 6u);
  d.SendText(w1,
             R"({"type":"presence_unsubscribe","userIds":["alice","ghost"]})");
  d.SendText(
      w2,
      R"({"type":"presence_unsubscribe","userIds":["alice","gh\u006fst"]})");
  EXPECT_EQ(d.hub.Stats().subscription_edges, 2u);
  const size_t loaded = d.hub.Stats().users_loaded;
  d.SendText(w1,
             R"({"type":"presence_subscribe","userIds":[],"replace":true})");
  d.SendText(w2,
             R"({"type":"presence_subscribe","userIds":[],"replace":true })");
  EXPECT_EQ(d.hub.Stats().subscription_edges, 0u);
  EXPECT_EQ(d.hub.Stats().users_loaded, loaded);  // bob is connected
}

TEST(ProtocolRule, UnsubscribeOfUnknownIdsAndRepeatsIsHarmless) {
  HubDriver d;
  ConnId bob = d.Connect("bob");
  ConnId w = d.Connect("w");
  d.Send(w, UnsubscribeFrame{{"nobody", "bob", "w"}});
  d.Subscribe(w, {"bob", "carol"});
  d.Send(w, UnsubscribeFrame{{"carol", "carol", "nobody", "carol"}});
  EXPECT_TRUE(d.Errors(w).empty());
  EXPECT_EQ(d.hub.Stats().subscription_edges, 1u);
  d.Forget(w);
  d.SetStatus(bob, kAway);
  d.Flush();
  EXPECT_EQ(d.LastView(w, "bob")->status, kAway);
  d.Send(w, UnsubscribeFrame{{"bob", "bob"}});
  EXPECT_EQ(d.hub.Stats().subscription_edges, 0u);
}

TEST(ProtocolRule, AForgottenUserLoadedAgainIsNotConfusedWithAnother) {
  // A user nothing refers to is forgotten and its slot reused by the next
  // user loaded: no edge may follow the slot to the new user.
  HubDriver d;
  ConnId w = d.Connect("w");
  ConnId v = d.Connect("v");
  d.Subscribe(w, {"ghost1"});
  d.Send(w, UnsubscribeFrame{{"ghost1"}});  // forgotten
  d.Subscribe(v, {"ghost2"});               // takes its slot
  d.Forget(w);
  d.Forget(v);
  ConnId g1 = d.Connect("ghost1");
  d.Flush();
  EXPECT_EQ(d.BulkCount(w), 0u);
  EXPECT_EQ(d.BulkCount(v), 0u);
  ConnId g2 = d.Connect("ghost2");
  d.Flush();
  EXPECT_EQ(d.BulkCount(w), 0u);
  EXPECT_EQ(d.LastView(v, "ghost2")->status, kOn);
  // And back: ghost1 leaves for good, then is watched again.
  d.Close(g1);
  d.Advance(d.hub.config().leave_grace_ms + 100);
  d.Subscribe(w, {"ghost1", "ghost2"});
  EXPECT_EQ(d.LastView(w, "ghost1")->status, kOff);
  EXPECT_EQ(d.LastView(w, "ghost2")->status, kOn);
  d.Forget(w);
  d.SetStatus(g2, kAway);
  d.Connect("ghost1");
  d.Flush();
  EXPECT_EQ(d.LastView(w, "ghost1")->status, kOn);
  EXPECT_EQ(d.LastView(w, "ghost2")->status, kAway);
  EXPECT_EQ(d.LastView(v, "ghost2")->status, kAway);
}

TEST(ProjectionDiffRule, AResumedViewerIsDiffedAgainstWhatItWasLastSent) {
  // A detached session keeps its edges and the view each was last sent,
  // even after the target's current view moved on (twice).
  HubDriver d;
  d.env.store["alice"].settings = {Visibility::kEveryone, Visibility::kEveryone,
                                   Visibility::kEveryone};
  ConnId c = d.Connect("alice");
  ConnId watcher = d.Connect("watcher");
  const std::string session = d.Welcome(watcher).session;
  d.Subscribe(watcher, {"alice"});
  d.Close(watcher);
  d.SetStatus(c, kAway);
  d.Flush();
  d.Send(c, ActivityFrame{Activity::Typing("x")});
  d.Flush();
  d.Send(c, ActivityFrame{Activity::Idle()});
  d.SetStatus(c, kOn);
  d.Flush();  // back to what the watcher was last sent
  ConnId w = d.Connect("watcher", Device::kWeb, session);
  EXPECT_EQ(d.Welcome(w).session, session);
  d.Flush();
  EXPECT_EQ(d.BulkCount(w), 0u);  // nothing changed for it
  d.SetStatus(c, kAway);
  d.Flush();
  ASSERT_EQ(d.ViewsOf(w, "alice").size(), 1u);
  EXPECT_EQ(d.LastView(w, "alice")->status, kAway);
}

TEST(ProtocolRule, EdgesStayRightThroughRandomAddsRemovalsAndDrops) {
  // Viewers subscribe, replace, unsubscribe, drop and resume at random
  // while targets change; after every round the edge count matches a model
  // and every viewer's newest view of each target it watches is the
  // projection now, with no view of a target it does not watch.
  HubDriver d;
  std::mt19937 rng(7);
  auto pick = [&](size_t n) { return static_cast<size_t>(rng() % n); };
  std::vector<std::string> targets;
  std::vector<ConnId> target_conns;
  for (int i = 0; i < 12; ++i) {
    targets.push_back("t" + std::to_string(i));
    if (i < 3) d.env.store[targets.back()].contacts = {"v0", "v1"};
    if (i % 3 == 0) {
      d.env.store[targets.back()].settings.show_online_status =
          Visibility::kContacts;
    }
  }
  for (int i = 0; i < 9; ++i) target_conns.push_back(d.Connect(targets[i]));
  // t9..t11 never connect: loaded and forgotten as they are watched.
  std::vector<std::string> viewers;
  std::vector<ConnId> viewer_conns;
  std::vector<std::string> sessions;
  std::vector<std::set<std::string>> model;
  // What each viewer's client holds: the newest view of each target.
  std::vector<std::map<std::string, View>> held(10);
  for (int i = 0; i < 10; ++i) {
    viewers.push_back("v" + std::to_string(i));
    viewer_conns.push_back(d.Connect(viewers.back()));
    sessions.push_back(d.Welcome(viewer_conns.back()).session);
    model.emplace_back();
  }
  auto some_targets = [&] {
    std::vector<std::string> ids;
    const size_t n = pick(7);
    for (size_t k = 0; k < n; ++k) {
      ids.push_back(pick(10) == 0 ? "nobody" : targets[pick(targets.size())]);
    }
    return ids;
  };
  for (int round = 0; round < 60; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    std::vector<std::set<std::string>> named(viewers.size());
    for (size_t v = 0; v < viewers.size(); ++v) d.Forget(viewer_conns[v]);
    for (size_t v = 0; v < viewers.size(); ++v) {
      std::vector<std::string> ids = some_targets();
      switch (pick(5)) {
        case 0:
        case 1:
          d.Subscribe(viewer_conns[v], ids);
          model[v].insert(ids.begin(), ids.end());
          named[v].insert(ids.begin(), ids.end());
          break;
        case 2:
          d.Subscribe(viewer_conns[v], ids, /*replace=*/true);
          model[v] = std::set<std::string>(ids.begin(), ids.end());
          named[v].insert(ids.begin(), ids.end());
          break;
        case 3:
          d.Send(viewer_conns[v], UnsubscribeFrame{ids});
          for (const std::string& id : ids) model[v].erase(id);
          break;
        default:
          if (pick(2) == 0) {  // resume: the edges stay
            d.Close(viewer_conns[v]);
            viewer_conns[v] = d.Connect(viewers[v], Device::kWeb, sessions[v]);
            ASSERT_EQ(d.Welcome(viewer_conns[v]).session, sessions[v]);
          } else {  // gone: the session and its edges go
            d.Close(viewer_conns[v]);
            d.Advance(d.hub.config().leave_grace_ms + 1);
            viewer_conns[v] = d.Connect(viewers[v]);
            sessions[v] = d.Welcome(viewer_conns[v]).session;
            model[v].clear();
            held[v].clear();
          }
          break;
      }
    }
    size_t edges = 0;
    for (const auto& subs : model) edges += subs.size();
    EXPECT_EQ(d.hub.Stats().subscription_edges, edges);
    if (round % 10 == 5) {
      d.hub.UpdateContacts(targets[pick(3)], {viewers[pick(viewers.size())]},
                           d.now);
    }
    for (size_t i = 0; i < target_conns.size(); ++i) {
      if (pick(3) == 0) {
        d.SetStatus(target_conns[i], pick(2) == 0 ? kAway : kOn);
      }
    }
    d.Flush();
    for (size_t v = 0; v < viewers.size(); ++v) {
      for (const std::string& t : targets) {
        const std::vector<View> got = d.ViewsOf(viewer_conns[v], t);
        if (!got.empty()) held[v][t] = got.back();
        if (model[v].contains(t)) {
          ASSERT_TRUE(held[v].contains(t)) << viewers[v] << " of " << t;
          EXPECT_EQ(held[v][t], *d.hub.ViewFor(viewers[v], t))
              << viewers[v] << " of " << t;
        } else {
          EXPECT_TRUE(got.empty() || named[v].contains(t))
              << viewers[v] << " got " << t << " unwatched";
          held[v].erase(t);
        }
      }
    }
    d.Advance(1000);  // the rate limit refills
  }
  // Everyone leaves: no edge is left behind, and no user.
  for (ConnId c : viewer_conns) d.Close(c);
  for (ConnId c : target_conns) d.Close(c);
  d.Advance(d.hub.config().leave_grace_ms + 1);
  d.Flush();
  EXPECT_EQ(d.hub.Stats().subscription_edges, 0u);
  EXPECT_EQ(d.hub.Stats().users_loaded, 0u);
}

}  // namespace
}  // namespace presence
