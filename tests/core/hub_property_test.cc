// Random days on the hub, checked against invariants after every step:
//  - convergence: after a flush, every live subscriber's newest view of each
//    target equals the projection the rules give now (no lost update);
//  - privacy: no frame ever carried a field the rules hide from its viewer
//    at the time it was sent;
//  - no redundant frame: a viewer never gets a view equal to its previous one;
//  - aggregation matches the sessions the test knows are live.

#include <gtest/gtest.h>

#include <map>
#include <set>

#include "hub_support.h"
#include "presence/backoff.h"
#include "presence/privacy.h"

namespace presence {
namespace {

using testing::HubDriver;

struct Tab {
  std::string user;
  ConnId conn;
  Status status = Status::kOnline;
  std::set<std::string> subs;
};

class RandomDay {
 public:
  explicit RandomDay(uint64_t seed) : rng_(seed) {
    for (int i = 0; i < 6; ++i) users_.push_back("u" + std::to_string(i));
    d.on_frame = [this](ConnId conn, const ServerFrame& frame) {
      OnFrame(conn, frame);
    };
  }

  int Pick(int n) { return static_cast<int>(rng_.Next() % n); }
  const std::string& AnyUser() { return users_[Pick(users_.size())]; }
  Visibility AnyVisibility() { return static_cast<Visibility>(Pick(3)); }

  void Step() {
    const int op = Pick(12);
    if (tabs_.empty() || op == 0) {
      ConnId c = d.Connect(AnyUser(), static_cast<Device>(Pick(3)));
      tabs_[c] = Tab{*d.hub.UserOf(c), c};
      return;
    }
    auto it = tabs_.begin();
    std::advance(it, Pick(tabs_.size()));
    Tab& tab = it->second;
    switch (op) {
      case 1:
        d.Close(tab.conn);
        tabs_.erase(it);
        break;
      case 2:  // vanish without a trace
        d.answering.erase(tab.conn);
        d.heartbeating.erase(tab.conn);
        vanished_.insert(tab.conn);
        tabs_.erase(it);
        break;
      case 3:
      case 4:
        tab.status = static_cast<Status>(Pick(3));
        d.SetStatus(tab.conn, tab.status);
        break;
      case 5: {
        const int kind = Pick(4);
        Activity a = kind == 0 ? Activity::Typing("c" + std::to_string(Pick(3)))
                     : kind == 1
                         ? Activity::Viewing("/p" + std::to_string(Pick(3)))
                     : kind == 2 ? Activity::Busy("r")
                                 : Activity::Idle();
        d.Send(tab.conn, ActivityFrame{a});
        break;
      }
      case 6:
      case 7: {
        std::vector<std::string> ids = {AnyUser(), AnyUser()};
        Subscribe(tab.conn, ids);
        tab.subs.insert(ids.begin(), ids.end());
        break;
      }
      case 8: {
        const std::string id = AnyUser();
        d.Send(tab.conn, UnsubscribeFrame{{id}});
        tab.subs.erase(id);
        break;
      }
      case 9: {
        PrivacySettings s{AnyVisibility(), AnyVisibility(), AnyVisibility()};
        d.env.store[tab.user].settings = s;
        d.hub.UpdateSettings(tab.user, s, d.now);
        break;
      }
      case 10: {
        std::vector<std::string> contacts = {AnyUser()};
        d.env.store[tab.user].contacts = contacts;
        d.hub.UpdateContacts(tab.user, contacts, d.now);
        break;
      }
      default:
        d.Advance(Pick(4) == 0 ? Pick(20'000) : Pick(200));
        break;
    }
  }

  // Checks each frame as the hub emits it: it carries exactly what the
  // viewer may see at that moment, and a push always changes something.
  void OnFrame(ConnId conn, const ServerFrame& frame) {
    const auto* bulk = std::get_if<BulkFrame>(&frame);
    if (bulk == nullptr) return;
    std::optional<std::string> viewer = d.hub.UserOf(conn);
    ASSERT_TRUE(viewer.has_value());
    auto& last = last_views_[conn];
    for (const View& v : bulk->updates) {
      std::optional<View> truth = d.hub.ViewFor(*viewer, v.user_id);
      ASSERT_TRUE(truth.has_value());
      EXPECT_EQ(v, *truth) << "viewer " << *viewer;
      auto it = last.find(v.user_id);
      if (!answering_subscribe_ && it != last.end()) {
        EXPECT_NE(it->second, v) << "a push that changes nothing, viewer "
                                 << *viewer << " target " << v.user_id;
      }
      last[v.user_id] = v;
    }
  }

  void Subscribe(ConnId conn, std::vector<std::string> ids) {
    answering_subscribe_ = true;
    d.Subscribe(conn, std::move(ids));
    answering_subscribe_ = false;
  }

  void CheckConverged() {
    for (auto& [conn, tab] : tabs_) {
      for (const std::string& target : tab.subs) {
        std::optional<View> got = d.LastView(conn, target);
        ASSERT_TRUE(got.has_value()) << tab.user << " -> " << target;
        EXPECT_EQ(*got, *d.hub.ViewFor(tab.user, target))
            << tab.user << " -> " << target;
      }
      std::optional<PresenceState> state = d.hub.GetState(tab.user);
      ASSERT_TRUE(state.has_value());
      Status best = Status::kOffline;
      for (const auto& [c2, other] : tabs_) {
        if (other.user != tab.user) continue;
        if (other.status == Status::kOnline) best = Status::kOnline;
        if (other.status == Status::kAway && best != Status::kOnline) {
          best = Status::kAway;
        }
      }
      // Sessions in their leave grace may still hold the user up.
      if (state->status != best) {
        EXPECT_TRUE(pending_grace_) << tab.user;
      }
    }
  }

  HubDriver d;
  std::map<ConnId, Tab> tabs_;
  bool pending_grace_ = true;

 private:
  SplitMix64 rng_;
  std::vector<std::string> users_;
  std::set<ConnId> vanished_;
  std::map<ConnId, std::map<std::string, View>> last_views_;
  bool answering_subscribe_ = false;
};

TEST(HubPropertyTest, RandomDaysKeepEveryInvariant) {
  for (uint64_t seed = 1; seed <= 40; ++seed) {
    RandomDay day(seed);
    for (int step = 0; step < 400; ++step) {
      day.Step();
      if (::testing::Test::HasFailure()) {
        FAIL() << "seed " << seed << " step " << step;
      }
    }
    // Quiet: every grace and timeout runs out, every flush happens.
    day.d.Advance(day.d.hub.config().timeout_ms);
    day.pending_grace_ = false;
    day.CheckConverged();
    if (::testing::Test::HasFailure()) FAIL() << "seed " << seed;
  }
}

}  // namespace
}  // namespace presence
