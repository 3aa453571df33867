// Client sessions and the hub joined by an in-memory link on simulated time,
// as quinn-proto tests itself: both ends are the real state machines, the
// test plays the network and the clock. A step bound makes a livelock fail
// fast instead of hanging.

#include <gtest/gtest.h>

#include <map>
#include <memory>

#include "hub_support.h"
#include "presence/client_session.h"

namespace presence {
namespace {

constexpr int64_t kStart = 1'700'000'000'000;

struct Endpoint {
  std::string user;
  std::unique_ptr<ClientSession> client;
  std::optional<ConnId> conn;     // the socket, while open
  bool link_up = true;            // false: packets vanish both ways (no FIN)
  bool timers_throttled = false;  // a hidden tab: timers at most once a minute
  int64_t next_throttled_ms = 0;
  std::vector<int64_t> connect_times;
};

class Link {
 public:
  explicit Link(HubConfig config = {}) : config_(config) { NewHub(); }

  // A new hub, as after a server restart; every open socket breaks.
  void RestartServer() {
    for (auto& [name, e] : endpoints_) {
      if (e.conn) {
        e.conn.reset();
        e.client->HandleSocketClose(1006, now);
      }
    }
    NewHub();
  }

  Endpoint& Add(const std::string& name, const std::string& user,
                uint64_t seed = 1, std::string resume_session = {}) {
    ClientConfig cfg;
    cfg.resume_session = std::move(resume_session);
    Endpoint& e = endpoints_[name];
    e.user = user;
    e.client = std::make_unique<ClientSession>(cfg, seed);
    e.client->SetToken("tok:" + user);
    e.client->Start(now);
    Pump();
    return e;
  }

  Endpoint& operator[](const std::string& name) { return endpoints_.at(name); }
  ClientSession& client(const std::string& name) {
    return *endpoints_.at(name).client;
  }

  // Closes the page: the socket closes cleanly, the endpoint is gone.
  void ClosePage(const std::string& name) {
    Endpoint& e = endpoints_.at(name);
    e.client->Stop(now);
    Pump();
    endpoints_.erase(name);
  }

  // Moves every message and action until nothing is left to do now.
  void Pump() {
    for (int round = 0; round < 1000; ++round) {
      bool moved = false;
      for (auto& [name, e] : endpoints_) moved |= PumpClient(e);
      moved |= PumpHub();
      if (!moved) return;
    }
    FAIL() << "livelock: the link never went idle";
  }

  // Runs simulated time to `t`, firing deadlines in order.
  void RunUntil(int64_t t) {
    Pump();  // what the app just did goes out first
    for (int steps = 0; steps < 200'000; ++steps) {
      int64_t next = t + 1;
      if (auto d = hub_->NextDeadline()) next = std::min(next, *d);
      for (auto& [name, e] : endpoints_) {
        if (auto d = e.client->NextDeadline()) {
          int64_t at = *d;
          if (e.timers_throttled) at = std::max(at, e.next_throttled_ms);
          next = std::min(next, at);
        }
      }
      if (next > t) break;
      now = std::max(now, next);
      hub_->HandleTimeout(now);
      for (auto& [name, e] : endpoints_) {
        auto d = e.client->NextDeadline();
        if (!d || *d > now) continue;
        if (e.timers_throttled) {
          if (now < e.next_throttled_ms) continue;
          e.next_throttled_ms = now + 60'000;
        }
        e.client->HandleTimeout(now);
      }
      Pump();
    }
    now = std::max(now, t);
    Pump();
  }
  void Run(int64_t ms) { RunUntil(now + ms); }

  Hub& hub() { return *hub_; }
  const std::optional<View> ViewOf(const std::string& name,
                                   const std::string& user) {
    const View* v = client(name).GetView(user);
    if (v == nullptr) return std::nullopt;
    return *v;
  }

  testing::FakeEnv env;
  int64_t now = kStart;

 private:
  void NewHub() { hub_ = std::make_unique<Hub>(config_, &env); }

  bool PumpClient(Endpoint& e) {
    bool moved = false;
    while (std::optional<ClientAction> action = e.client->PollAction()) {
      moved = true;
      if (action->kind == ClientActionKind::kOpenSocket) {
        e.connect_times.push_back(now);
        const ConnId conn = next_conn_++;
        e.conn = conn;
        owner_[conn] = &e;
        hub_->HandleOpen(conn, now);
        e.client->HandleSocketOpen(now);
      } else if (e.conn) {
        hub_->HandleClose(*e.conn, now);
        owner_.erase(*e.conn);
        e.conn.reset();
        e.client->HandleSocketClose(action->close_code, now);
      }
    }
    while (std::optional<std::string> frame = e.client->PollTransmit()) {
      moved = true;
      if (e.conn && e.link_up) hub_->HandleText(*e.conn, *frame, now);
    }
    return moved;
  }

  bool PumpHub() {
    bool moved = false;
    while (std::optional<Transmit> t = hub_->PollTransmit()) {
      moved = true;
      auto it = owner_.find(t->conn);
      if (it == owner_.end()) continue;
      Endpoint& e = *it->second;
      if (!e.link_up) continue;
      switch (t->kind) {
        case Transmit::Kind::kFrame:
          EXPECT_FALSE(e.client->HandleMessage(t->Flatten(), now).has_value());
          break;
        case Transmit::Kind::kPing:
          // Browsers answer pings in the network stack, even when hidden.
          hub_->HandlePong(t->conn, now);
          break;
        case Transmit::Kind::kClose:
          owner_.erase(it);
          e.conn.reset();
          e.client->HandleSocketClose(t->close_code, now);
          break;
      }
    }
    hub_->PollLastSeen();
    return moved;
  }

  HubConfig config_;
  std::unique_ptr<Hub> hub_;
  std::map<std::string, Endpoint> endpoints_;
  std::map<ConnId, Endpoint*> owner_;
  ConnId next_conn_ = 1;
};

void ShowEverything(testing::FakeEnv& env, const std::string& user) {
  env.store[user].settings = {Visibility::kEveryone, Visibility::kEveryone,
                              Visibility::kEveryone};
}

TEST(ClientRule, ConnectAThenBThenBSeesAOnlineAndTyping) {
  Link link;
  ShowEverything(link.env, "alice");
  link.Add("a", "alice");
  link.Add("b", "bob");
  EXPECT_EQ(link.client("a").state(), ConnectionState::kConnected);
  link.client("b").Subscribe({"alice"}, link.now);
  link.Run(100);
  EXPECT_EQ(link.ViewOf("b", "alice")->status, Status::kOnline);

  link.client("a").StartTyping("conv-1", link.now);
  link.Run(100);
  EXPECT_EQ(link.ViewOf("b", "alice")->activity, Activity::Typing("conv-1"));
  // The seed's rule: typing clears 3 s after the last keystroke.
  link.Run(3000);
  EXPECT_FALSE(link.ViewOf("b", "alice")->activity.has_value());
  EXPECT_EQ(link.ViewOf("b", "alice")->status, Status::kOnline);
}

TEST(ClientRule, HiddenTabGoesAwayAndBackWithoutGoingOffline) {
  Link link;
  link.Add("a", "alice");
  link.Add("b", "bob");
  link.client("b").Subscribe({"alice"}, link.now);
  link.Run(100);
  link.client("a").SetStatus(Status::kAway, link.now);
  link["a"].timers_throttled = true;
  link.Run(10 * 60'000);  // ten minutes hidden, timers throttled
  EXPECT_EQ(link.ViewOf("b", "alice")->status, Status::kAway);
  EXPECT_EQ(link.client("a").state(), ConnectionState::kConnected);
  link["a"].timers_throttled = false;
  link.client("a").SetStatus(Status::kOnline, link.now);
  link.Run(100);
  EXPECT_EQ(link.ViewOf("b", "alice")->status, Status::kOnline);
}

TEST(ClientRule, ServerRestartReconnectsWithBackoffAndRestoresPresence) {
  Link link;
  ShowEverything(link.env, "alice");
  link.Add("a", "alice", /*seed=*/7);
  link.Add("b", "bob", /*seed=*/8);
  link.client("a").SetStatus(Status::kAway, link.now);
  link.client("b").Subscribe({"alice"}, link.now);
  link.Run(100);
  ASSERT_EQ(link.ViewOf("b", "alice")->status, Status::kAway);

  const int64_t crash = link.now;
  link.RestartServer();
  // While disconnected the cache keeps the last view: no flap to unknown.
  EXPECT_EQ(link.ViewOf("b", "alice")->status, Status::kAway);
  EXPECT_EQ(link.client("b").state(), ConnectionState::kReconnecting);
  link.Run(2000);
  for (const char* name : {"a", "b"}) {
    EXPECT_EQ(link.client(name).state(), ConnectionState::kConnected) << name;
    ASSERT_EQ(link[name].connect_times.size(), 2u);
    // Full jitter: the first retry waits somewhere in [0, 500] ms.
    EXPECT_LE(link[name].connect_times[1] - crash, 500) << name;
  }
  // The new server knows nothing; the clients told it everything again.
  EXPECT_EQ(link.hub().GetState("alice")->status, Status::kAway);
  EXPECT_EQ(link.ViewOf("b", "alice")->status, Status::kAway);
  link.client("a").SetStatus(Status::kOnline, link.now);
  link.Run(100);
  EXPECT_EQ(link.ViewOf("b", "alice")->status, Status::kOnline);
}

TEST(ClientRule, ReloadResumesTheSessionAndDoesNotFlapOffline) {
  Link link;
  link.Add("a", "alice");
  link.Add("b", "bob");
  link.client("b").Subscribe({"alice"}, link.now);
  link.Run(100);
  const std::string session = link.client("a").session_id();
  link.ClosePage("a");
  link.Run(800);  // the new page loads
  link.Add("a2", "alice", 3, session);
  EXPECT_EQ(link.client("a2").session_id(), session);
  link.Run(10'000);
  EXPECT_EQ(link.ViewOf("b", "alice")->status, Status::kOnline);
  EXPECT_EQ(link.hub().Stats().sessions, 2u);
}

TEST(ClientRule, ClosingThePageShowsOfflineAfterTheGraceWithJustNowLastSeen) {
  Link link;
  ShowEverything(link.env, "alice");
  link.Add("a", "alice");
  link.Add("b", "bob");
  link.client("b").Subscribe({"alice"}, link.now);
  link.Run(100);
  link.client("a").SetStatus(Status::kOffline, link.now);  // pagehide
  const int64_t left = link.now;
  link.ClosePage("a");
  link.Run(link.hub().config().leave_grace_ms + 100);
  std::optional<View> v = link.ViewOf("b", "alice");
  EXPECT_EQ(v->status, Status::kOffline);
  EXPECT_EQ(v->last_seen_ms, left);
}

TEST(ClientRule, VanishedClientIsSeenOfflineWithinTwoPingIntervals) {
  Link link;
  link.Add("a", "alice");
  link.Add("b", "bob");
  link.client("b").Subscribe({"alice"}, link.now);
  link.Run(100);
  link["a"].link_up = false;  // cable cut: no FIN, nothing arrives
  const int64_t cut = link.now;
  link.Run(2 * link.hub().config().ping_ms + link.hub().config().flush_ms);
  EXPECT_EQ(link.ViewOf("b", "alice")->status, Status::kOffline);
  EXPECT_LE(link.now - cut, 10'050);
}

TEST(ClientRule, StatusChangesWhileDisconnectedCollapseToTheLatest) {
  Link link;
  link.Add("a", "alice");
  link.Add("b", "bob");
  link.client("b").Subscribe({"alice"}, link.now);
  link.Run(100);
  link.RestartServer();
  link.client("a").SetStatus(Status::kAway, link.now);
  link.client("a").SetStatus(Status::kOffline, link.now);
  link.client("a").SetStatus(Status::kAway, link.now);
  link.Run(3000);
  EXPECT_EQ(link.ViewOf("b", "alice")->status, Status::kAway);
}

TEST(ClientRule, ThousandUsersFollowedByOnePageAllCorrect) {
  Link link;
  std::vector<std::string> ids;
  for (int i = 0; i < 1000; ++i) ids.push_back("u" + std::to_string(i));
  link.Add("watcher", "watcher");
  link.client("watcher").Subscribe(ids, link.now);
  link.Run(100);
  for (int i = 0; i < 1000; i += 2) {
    link.Add("p" + std::to_string(i), ids[i], i + 1);
  }
  link.Run(200);
  for (int i = 0; i < 1000; ++i) {
    std::optional<View> v = link.ViewOf("watcher", ids[i]);
    ASSERT_TRUE(v.has_value()) << ids[i];
    if (i % 2 == 0) {
      EXPECT_EQ(v->status, Status::kOnline) << ids[i];
    } else {
      EXPECT_FALSE(v->status.has_value()) << ids[i];  // never seen
    }
  }
}

}  // namespace
}  // namespace presence
