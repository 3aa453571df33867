// ClusterRule: several hubs (nodes) share presence through NodeShares, as
// presence-server does over Redis. Two or three HubDrivers on one manual
// clock; the "link" between them is this fixture moving each node's polled
// shares to the others (and heartbeats as HandleRemoteAlive). Nothing here
// knows Redis: these are the rules the hub must keep whatever carries them.

#include <gtest/gtest.h>

#include <memory>

#include "hub_support.h"

namespace presence {
namespace {

using testing::HubDriver;

constexpr int64_t kStart = 1'780'300'800'000;
constexpr int64_t kTtl = 3'000;

HubConfig ClusterConfig() {
  HubConfig c;
  c.cluster = true;
  c.remote_ttl_ms = kTtl;
  c.leave_grace_ms = 500;
  return c;
}

class ClusterRule : public ::testing::Test {
 protected:
  ClusterRule() {
    for (const char* name : {"A", "B", "C"}) {
      nodes_.push_back(std::make_unique<HubDriver>(ClusterConfig(), kStart));
      names_.push_back(name);
    }
    // Session ids are unique across the cluster, as the server's random
    // ones are.
    for (size_t i = 0; i < nodes_.size(); ++i) {
      nodes_[i]->env.session_prefix = names_[i] + "-s";
    }
  }

  HubDriver& A() { return *nodes_[0]; }
  HubDriver& B() { return *nodes_[1]; }
  HubDriver& C() { return *nodes_[2]; }

  // The same stored user on every node (the shared store).
  void SetSettings(const std::string& user, PrivacySettings s) {
    for (auto& n : nodes_) n->env.store[user].settings = s;
  }
  void SetContacts(const std::string& user, std::vector<std::string> c) {
    for (auto& n : nodes_) n->env.store[user].contacts = c;
  }

  // Delivers every node's polled shares to the other live nodes until no
  // node has anything left to say.
  void Relay() {
    for (int round = 0; round < 10; ++round) {
      bool any = false;
      for (size_t i = 0; i < nodes_.size(); ++i) {
        std::vector<NodeShare> shares = nodes_[i]->hub.PollShares();
        if (!link_[i]) continue;  // a dead node says nothing
        for (const NodeShare& share : shares) {
          any = true;
          for (size_t j = 0; j < nodes_.size(); ++j) {
            if (j == i || !link_[j]) continue;
            nodes_[j]->hub.HandleRemoteShare(names_[i], share, nodes_[j]->now);
            nodes_[j]->Drain();
          }
        }
      }
      if (!any) return;
    }
    ADD_FAILURE() << "shares still flowing after 10 rounds";
  }

  // Moves every node's clock to `t` in 100 ms steps, relaying shares and a
  // heartbeat ("alive") from each live node every step.
  void AdvanceTo(int64_t t) {
    while (true) {
      const int64_t step = std::min(t, A().now + 100);
      for (size_t i = 0; i < nodes_.size(); ++i) {
        nodes_[i]->AdvanceTo(step);
      }
      Relay();
      for (size_t i = 0; i < nodes_.size(); ++i) {
        if (!link_[i] || !alive_[i]) continue;
        for (size_t j = 0; j < nodes_.size(); ++j) {
          if (j == i || !link_[j]) continue;
          nodes_[j]->hub.HandleRemoteAlive(names_[i], nodes_[j]->now);
        }
      }
      if (step >= t) break;
    }
  }
  void Advance(int64_t ms) { AdvanceTo(A().now + ms); }
  // Relay, then past one flush on every node.
  void Settle() {
    Relay();
    Advance(100);
  }

  std::vector<std::unique_ptr<HubDriver>> nodes_;
  std::vector<std::string> names_;
  std::vector<bool> link_ = {true, true, true};
  std::vector<bool> alive_ = {true, true, true};
};

std::string SessionOf(HubDriver& d, ConnId c) { return d.Welcome(c).session; }

TEST_F(ClusterRule, UserOnAnotherNodeIsSeenOnlineAwayTypingOffline) {
  ConnId alice = A().Connect("alice");
  A().Subscribe(alice, {"bob"});
  EXPECT_EQ(A().LastView(alice, "bob"), (View{"bob"}));

  ConnId bob = B().Connect("bob", Device::kDesktop);
  Settle();
  EXPECT_EQ(A().LastView(alice, "bob"),
            (View{"bob", Status::kOnline, std::nullopt, Device::kDesktop}));

  B().SetStatus(bob, Status::kAway);
  Settle();
  EXPECT_EQ(A().LastView(alice, "bob")->status, Status::kAway);

  // Activity shows to contacts by default: alice is bob's contact.
  SetContacts("bob", {"alice"});
  B().hub.UpdateContacts("bob", {"alice"}, B().now);
  A().hub.UpdateContacts("bob", {"alice"}, A().now);
  B().Send(bob, ActivityFrame{Activity::Typing("c1")});
  Settle();
  EXPECT_EQ(A().LastView(alice, "bob")->activity, Activity::Typing("c1"));

  const int64_t closed_at = B().now;
  B().Close(bob);
  Advance(1000);  // past the leave grace
  std::optional<View> v = A().LastView(alice, "bob");
  EXPECT_EQ(v->status, Status::kOffline);
  EXPECT_EQ(v->last_seen_ms, closed_at);
  EXPECT_EQ(v->activity, std::nullopt);
}

TEST_F(ClusterRule, StatusIsTheBestSessionOnAnyNode) {
  ConnId watcher = C().Connect("carol");
  C().Subscribe(watcher, {"bob"});
  ConnId phone =
      A().Connect("bob", Device::kMobile, std::nullopt, Status::kAway);
  Settle();
  EXPECT_EQ(C().LastView(watcher, "bob"),
            (View{"bob", Status::kAway, std::nullopt, Device::kMobile}));
  ConnId desk = B().Connect("bob", Device::kDesktop);
  Settle();
  EXPECT_EQ(C().LastView(watcher, "bob"),
            (View{"bob", Status::kOnline, std::nullopt, Device::kDesktop}));
  // Every node agrees, including those holding a session of bob.
  EXPECT_EQ(A().hub.GetState("bob")->status, Status::kOnline);
  EXPECT_EQ(B().hub.GetState("bob")->device, Device::kDesktop);

  B().Close(desk);
  Advance(1000);
  EXPECT_EQ(C().LastView(watcher, "bob"),
            (View{"bob", Status::kAway, std::nullopt, Device::kMobile}));
  (void)phone;
}

TEST_F(ClusterRule, PrivacyAndProjectionDiffHoldAcrossNodes) {
  // bob shows his status to contacts only; dave is his contact, eve is not.
  SetSettings("bob", {Visibility::kContacts, Visibility::kContacts,
                      Visibility::kContacts});
  SetContacts("bob", {"dave"});
  ConnId dave = A().Connect("dave");
  ConnId eve = A().Connect("eve");
  A().Subscribe(dave, {"bob"});
  A().Subscribe(eve, {"bob"});
  A().Forget(eve);
  ConnId bob = B().Connect("bob");
  Settle();
  EXPECT_EQ(A().LastView(dave, "bob")->status, Status::kOnline);
  B().SetStatus(bob, Status::kAway);
  B().Send(bob, ActivityFrame{Activity::Typing("secret-room")});
  Settle();
  B().Close(bob);
  Advance(1000);
  EXPECT_EQ(A().LastView(dave, "bob")->status, Status::kOffline);
  // eve got nothing at all: no frame about bob, not even an empty view,
  // because her projection never changed.
  EXPECT_TRUE(A().inbox(eve).raw.empty()) << A().inbox(eve).raw[0];
}

TEST_F(ClusterRule, SettingsChangeReachesViewersOnOtherNodes) {
  ConnId eve = A().Connect("eve");
  A().Subscribe(eve, {"bob"});
  B().Connect("bob");
  Settle();
  EXPECT_EQ(A().LastView(eve, "bob")->status, Status::kOnline);
  PrivacySettings hidden{Visibility::kNobody, Visibility::kNobody,
                         Visibility::kNobody};
  SetSettings("bob", hidden);
  // The host tells every node's hub (over pub/sub in the server).
  for (auto& n : nodes_) n->hub.UpdateSettings("bob", hidden, n->now);
  Advance(100);
  EXPECT_EQ(A().LastView(eve, "bob"), (View{"bob"}));
}

TEST_F(ClusterRule, ADeadNodesUsersGoOfflineWithinTheTtl) {
  SetContacts("bob", {"alice"});  // alice may see bob's last seen
  ConnId alice = A().Connect("alice");
  A().Subscribe(alice, {"bob"});
  B().Connect("bob");
  Settle();
  ASSERT_EQ(A().LastView(alice, "bob")->status, Status::kOnline);

  // B dies: it says nothing from now on.
  const int64_t died_at = A().now;
  link_[1] = false;
  Advance(kTtl - 200);
  EXPECT_EQ(A().LastView(alice, "bob")->status, Status::kOnline)
      << "not before the TTL";
  Advance(400);
  std::optional<View> v = A().LastView(alice, "bob");
  EXPECT_EQ(v->status, Status::kOffline);
  // Last seen: the last moment B vouched for bob (its last heartbeat).
  ASSERT_TRUE(v->last_seen_ms.has_value());
  EXPECT_LE(*v->last_seen_ms, died_at);
  EXPECT_GE(*v->last_seen_ms, died_at - 200);
  EXPECT_EQ(A().env.store["bob"].last_seen_ms, v->last_seen_ms)
      << "the survivor persists what the dead node could not";
  EXPECT_EQ(A().hub.Stats().remote_nodes_expired, 1u);
  EXPECT_EQ(A().hub.Stats().remote_shares, 0u);

  // bob reconnects to A: online again.
  A().Connect("bob");
  Advance(100);
  EXPECT_EQ(A().LastView(alice, "bob")->status, Status::kOnline);
}

TEST_F(ClusterRule, HeartbeatsAloneKeepANodesUsers) {
  ConnId alice = A().Connect("alice");
  A().Subscribe(alice, {"bob"});
  B().Connect("bob");
  Settle();
  A().Forget(alice);
  Advance(5 * kTtl);  // no share in that time, only heartbeats
  EXPECT_EQ(A().BulkCount(alice), 0u);
  EXPECT_EQ(A().hub.GetState("bob")->status, Status::kOnline);
}

TEST_F(ClusterRule, ANodeThatLeavesCleanlyGivesItsUsersTheLeaveGrace) {
  SetContacts("bob", {"alice"});
  SetContacts("carol", {"alice"});
  ConnId alice = A().Connect("alice");
  A().Subscribe(alice, {"bob", "carol"});
  B().Connect("bob");
  B().Connect("carol");
  Settle();
  A().Forget(alice);
  link_[1] = false;
  const int64_t gone_at = A().now;
  A().hub.HandleRemoteGone("B", gone_at);
  // carol's client reconnects to C within the grace (a rolling deploy).
  Advance(200);
  C().Connect("carol");
  Advance(1000);  // past the 500 ms grace
  EXPECT_EQ(A().ViewsOf(alice, "bob"),
            (std::vector<View>{{"bob", Status::kOffline, gone_at}}));
  EXPECT_TRUE(A().ViewsOf(alice, "carol").empty()) << "carol never flapped";
}

TEST_F(ClusterRule, WhileTheLinkIsDownNothingExpiresAndClientsAreTold) {
  ConnId alice = A().Connect("alice");
  A().Subscribe(alice, {"bob"});
  B().Connect("bob");
  Settle();
  link_ = {true, false, true};  // A alone, and B is silent too
  A().hub.SetClusterLink(false, A().now);
  A().Drain();
  std::vector<ErrorFrame> errors = A().Errors(alice);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].code, ErrorCode::kUnavailable);
  EXPECT_FALSE(A().hub.Stats().cluster_link_up);
  // A client arriving meanwhile is told right after its welcome.
  ConnId late = A().Connect("zed");
  ASSERT_EQ(A().Errors(late).size(), 1u);
  EXPECT_EQ(A().Errors(late)[0].code, ErrorCode::kUnavailable);

  Advance(3 * kTtl);
  EXPECT_EQ(A().LastView(alice, "bob")->status, Status::kOnline)
      << "frozen, not guessed";

  // The link returns: B gets a full TTL to speak; it does not (it died
  // meanwhile), so bob goes offline one TTL later, not at once.
  A().hub.SetClusterLink(true, A().now);
  Advance(kTtl - 200);
  EXPECT_EQ(A().LastView(alice, "bob")->status, Status::kOnline);
  Advance(400);
  EXPECT_EQ(A().LastView(alice, "bob")->status, Status::kOffline);
}

TEST_F(ClusterRule, AResyncReplacesANodesWholeState) {
  ConnId alice = A().Connect("alice");
  A().Subscribe(alice, {"bob", "carol"});
  NodeShare bob{"bob", Status::kOnline, Device::kWeb, A().now};
  NodeShare carol{"carol", Status::kAway, Device::kMobile, A().now};
  const int64_t heard = A().now;  // the last time A hears from B
  A().hub.ReplaceRemoteNode("B", {bob, carol}, A().now);
  A().Advance(100);
  EXPECT_EQ(A().LastView(alice, "bob")->status, Status::kOnline);
  EXPECT_EQ(A().LastView(alice, "carol")->status, Status::kAway);
  // B's snapshot after the outage no longer holds bob: offline, last
  // vouched for when B was last heard from.
  SetContacts("bob", {"alice"});
  A().hub.UpdateContacts("bob", {"alice"}, A().now);
  A().Advance(1000);
  A().hub.ReplaceRemoteNode("B", {carol}, A().now);
  A().Advance(100);
  EXPECT_EQ(A().LastView(alice, "bob"), (View{"bob", Status::kOffline, heard}));
  EXPECT_EQ(A().hub.Stats().remote_shares, 1u);
}

TEST_F(ClusterRule, ASessionResumedOnAnotherNodeKeepsItsIdAndClosesTheOld) {
  ConnId alice = C().Connect("alice");
  C().Subscribe(alice, {"bob"});
  ConnId old_conn = A().Connect("bob");
  const std::string session = SessionOf(A(), old_conn);
  Settle();
  C().Forget(alice);

  // bob's socket moves to B (a load balancer without stickiness).
  ConnId moved = B().Connect("bob", Device::kWeb, session);
  EXPECT_EQ(SessionOf(B(), moved), session) << "resumed, not a new session";
  Settle();
  EXPECT_EQ(A().inbox(old_conn).close_code, kCloseSessionMoved);
  EXPECT_EQ(A().hub.Stats().sessions, 0u);
  EXPECT_EQ(A().hub.Stats().sessions_moved_away, 1u);
  Advance(2000);
  // The move never showed bob offline anywhere, nor changed his view.
  EXPECT_EQ(C().BulkCount(alice), 0u);
  EXPECT_EQ(C().hub.GetState("bob")->status, Status::kOnline);

  // A stale share from A (published before it saw the move) does not take
  // the session back from B.
  NodeShare stale{"bob", Status::kOnline, Device::kWeb, B().now};
  stale.sessions = {{session, 1}};
  B().hub.HandleRemoteShare("A", stale, B().now);
  B().Drain();
  EXPECT_FALSE(B().inbox(moved).close_code.has_value());
  EXPECT_EQ(B().hub.Stats().sessions, 1u);
}

TEST_F(ClusterRule, AResumeOfASessionInLeaveGraceOnAnotherNodeDoesNotFlap) {
  ConnId alice = C().Connect("alice");
  C().Subscribe(alice, {"bob"});
  ConnId first = A().Connect("bob");
  const std::string session = SessionOf(A(), first);
  Settle();
  C().Forget(alice);
  A().Close(first);  // a reload: clean close, then a new socket elsewhere
  Advance(100);
  ConnId second = B().Connect("bob", Device::kWeb, session);
  EXPECT_EQ(SessionOf(B(), second), session);
  Advance(2000);
  EXPECT_EQ(C().BulkCount(alice), 0u);
  EXPECT_EQ(A().hub.Stats().sessions, 0u);
}

TEST_F(ClusterRule, AnUnknownOrOtherUsersSessionIdGetsANewSession) {
  ConnId bob = A().Connect("bob");
  const std::string bobs = SessionOf(A(), bob);
  Settle();
  ConnId mallory = B().Connect("mallory", Device::kWeb, bobs);
  EXPECT_NE(SessionOf(B(), mallory), bobs);
  ConnId x = B().Connect("carol", Device::kWeb, std::string("nope"));
  EXPECT_NE(SessionOf(B(), x), "nope");
  Settle();
  EXPECT_FALSE(A().inbox(bob).close_code.has_value());
}

TEST_F(ClusterRule, SharesCarryOnlyWhatTheNodeKnowsAndNothingOnOneNode) {
  ConnId bob = A().Connect("bob", Device::kMobile);
  std::vector<NodeShare> shares = A().hub.PollShares();
  ASSERT_EQ(shares.size(), 1u);
  EXPECT_EQ(shares[0].user_id, "bob");
  EXPECT_EQ(shares[0].status, Status::kOnline);
  EXPECT_EQ(shares[0].device, Device::kMobile);
  EXPECT_EQ(shares[0].last_seen_ms, std::nullopt) << "moves while online";
  ASSERT_EQ(shares[0].sessions.size(), 1u);
  EXPECT_EQ(shares[0].sessions[0].id, SessionOf(A(), bob));
  EXPECT_EQ(A().hub.LocalShares(), shares);
  A().Send(bob, HeartbeatFrame{});
  EXPECT_TRUE(A().hub.PollShares().empty()) << "a heartbeat changes nothing";
  A().Close(bob);
  A().Advance(1000);
  shares = A().hub.PollShares();
  ASSERT_EQ(shares.size(), 1u);
  EXPECT_EQ(shares[0].status, std::nullopt);
  EXPECT_TRUE(shares[0].last_seen_ms.has_value());
  EXPECT_TRUE(A().hub.LocalShares().empty());

  HubDriver single;  // cluster off: no shares, remote input ignored
  single.Connect("bob");
  EXPECT_TRUE(single.hub.PollShares().empty());
  single.hub.HandleRemoteShare("B", NodeShare{"zed", Status::kOnline},
                               single.now);
  EXPECT_EQ(single.hub.Stats().remote_shares, 0u);
}

}  // namespace
}  // namespace presence
