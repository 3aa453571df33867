#include "presence/client_session.h"

#include <gtest/gtest.h>

#include <cstddef>
#include <functional>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "presence/codec.h"

namespace presence {
namespace {

constexpr int64_t kT0 = 1'000'000;
constexpr int kCloseAbnormal = 1006;

// Yields the given values in turn, then repeats the last one.
struct FixedRandom {
  std::vector<double> values;
  size_t next = 0;
  double operator()() {
    const double value =
        values[next < values.size() ? next : values.size() - 1];
    ++next;
    return value;
  }
};

ClientConfig TestConfig() {
  ClientConfig config;
  config.device = Device::kDesktop;
  return config;
}

// Every frame the session queued, parsed back as the server would.
std::vector<ClientFrame> TakeFrames(ClientSession& session) {
  std::vector<ClientFrame> frames;
  while (std::optional<std::string> text = session.PollTransmit()) {
    EXPECT_LT(text->size(), kMaxFrameBytes);
    Parsed<ClientFrame> parsed = ParseClientFrame(*text);
    if (const CodecError* error = std::get_if<CodecError>(&parsed)) {
      ADD_FAILURE() << "unparsable frame: " << error->message << " in "
                    << text->substr(0, 200);
      continue;
    }
    frames.push_back(std::get<ClientFrame>(std::move(parsed)));
  }
  return frames;
}

template <typename T>
std::vector<T> FramesOf(const std::vector<ClientFrame>& frames) {
  std::vector<T> out;
  for (const ClientFrame& frame : frames) {
    if (const T* typed = std::get_if<T>(&frame)) out.push_back(*typed);
  }
  return out;
}

std::string Welcome(std::string session, int64_t heartbeat_ms = 30'000,
                    int64_t server_time = kT0, std::string user = "me") {
  return Serialize(ServerFrame{WelcomeFrame{std::move(user), std::move(session),
                                            heartbeat_ms, server_time}});
}

std::string Bulk(std::vector<View> views) {
  return Serialize(ServerFrame{BulkFrame{std::move(views)}});
}

View Online(std::string user, Device device = Device::kWeb) {
  View view;
  view.user_id = std::move(user);
  view.status = Status::kOnline;
  view.device = device;
  return view;
}

View Offline(std::string user, int64_t last_seen_ms) {
  View view;
  view.user_id = std::move(user);
  view.status = Status::kOffline;
  view.last_seen_ms = last_seen_ms;
  return view;
}

std::vector<std::string> Ids(const std::string& prefix, int count) {
  std::vector<std::string> ids;
  for (int i = 0; i < count; ++i) ids.push_back(prefix + std::to_string(i));
  return ids;
}

// Start (or reconnect) -> open -> auth -> welcome; returns the frames sent
// from the open on (auth first).
std::vector<ClientFrame> OpenAndWelcome(ClientSession& session, int64_t now,
                                        const std::string& session_id = "s1",
                                        int64_t heartbeat_ms = 30'000) {
  EXPECT_EQ(session.state(), ConnectionState::kConnecting);
  session.HandleSocketOpen(now);
  EXPECT_EQ(session.state(), ConnectionState::kAuthenticating);
  EXPECT_EQ(session.HandleMessage(Welcome(session_id, heartbeat_ms), now),
            std::nullopt);
  EXPECT_EQ(session.state(), ConnectionState::kConnected);
  return TakeFrames(session);
}

std::vector<ClientFrame> Connect(ClientSession& session, int64_t now,
                                 const std::string& session_id = "s1",
                                 int64_t heartbeat_ms = 30'000) {
  session.SetToken("token-1");
  session.Start(now);
  EXPECT_EQ(session.PollAction(), ClientAction{ClientActionKind::kOpenSocket});
  return OpenAndWelcome(session, now, session_id, heartbeat_ms);
}

// Closes the socket and waits out the backoff until the next open.
void DropAndReopen(ClientSession& session, int64_t* now) {
  session.HandleSocketClose(kCloseAbnormal, *now);
  ASSERT_EQ(session.state(), ConnectionState::kReconnecting);
  ASSERT_TRUE(session.NextDeadline().has_value());
  *now = *session.NextDeadline();
  session.HandleTimeout(*now);
  ASSERT_EQ(session.PollAction(), ClientAction{ClientActionKind::kOpenSocket});
}

// ============================== ClientRule ==============================

TEST(ClientRule, HeartbeatEveryHeartbeatMsFromWelcome) {
  ClientSession session(TestConfig(), 1);
  session.SetToken("t");
  session.Start(kT0);
  ASSERT_TRUE(session.PollAction().has_value());
  session.HandleSocketOpen(kT0);
  TakeFrames(session);
  // No heartbeat before the welcome: only the auth deadline is armed.
  EXPECT_EQ(session.NextDeadline(), kT0 + TestConfig().auth_timeout_ms);
  ASSERT_EQ(session.HandleMessage(Welcome("s1", 20'000), kT0), std::nullopt);
  EXPECT_EQ(session.heartbeat_ms(), 20'000);
  // The welcome's heartbeatMs (not the 30 s default) counts from the last
  // frame sent (the auth).
  EXPECT_EQ(session.NextDeadline(), kT0 + 20'000);
  session.HandleTimeout(kT0 + 19'999);
  EXPECT_TRUE(TakeFrames(session).empty());
  session.HandleTimeout(kT0 + 20'000);
  std::vector<ClientFrame> frames = TakeFrames(session);
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_TRUE(std::holds_alternative<HeartbeatFrame>(frames[0]));
  EXPECT_EQ(session.NextDeadline(), kT0 + 40'000);

  // Any other frame resets the wait: a status sent at +30 s moves the next
  // heartbeat to +50 s.
  ASSERT_TRUE(session.SetStatus(Status::kAway, kT0 + 30'000));
  TakeFrames(session);
  EXPECT_EQ(session.NextDeadline(), kT0 + 50'000);
  session.HandleTimeout(kT0 + 40'000);
  EXPECT_TRUE(TakeFrames(session).empty());
  session.HandleTimeout(kT0 + 50'000);
  frames = TakeFrames(session);
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_TRUE(std::holds_alternative<HeartbeatFrame>(frames[0]));
}

TEST(ClientRule, HeartbeatFallsBackToDefaultUntilWelcome) {
  ClientConfig config = TestConfig();
  config.default_heartbeat_ms = 12'345;
  ClientSession session(config, 1);
  EXPECT_EQ(session.heartbeat_ms(), 12'345);
}

TEST(ClientRule, ReconnectsWithFullJitterBackoff) {
  // Just under 1: each delay is the top of its range, exactly the ceiling.
  FixedRandom top{{0.9999999}};
  ClientSession session(TestConfig(), std::ref(top));
  session.SetToken("t");
  session.Start(kT0);
  ASSERT_TRUE(session.PollAction().has_value());
  int64_t now = kT0;
  const std::vector<int64_t> ceilings = {500,   1000,  2000,  4000, 8000,
                                         16000, 30000, 30000, 30000};
  for (int64_t ceiling : ceilings) {
    session.HandleSocketClose(kCloseAbnormal, now);
    ASSERT_EQ(session.state(), ConnectionState::kReconnecting);
    ASSERT_EQ(session.NextDeadline(), now + ceiling);
    session.HandleTimeout(now + ceiling - 1);
    EXPECT_EQ(session.PollAction(), std::nullopt);
    now += ceiling;
    session.HandleTimeout(now);
    EXPECT_EQ(session.state(), ConnectionState::kConnecting);
    EXPECT_EQ(session.PollAction(),
              ClientAction{ClientActionKind::kOpenSocket});
  }
  EXPECT_EQ(session.reconnect_attempts(), 9);
}

TEST(ClientRule, BackoffDrawsUniformlyBelowTheCeiling) {
  FixedRandom random{{0.0, 0.5, 0.25, 0.5}};
  ClientSession session(TestConfig(), std::ref(random));
  session.Start(kT0);
  ASSERT_TRUE(session.PollAction().has_value());
  int64_t now = kT0;
  // Full jitter: attempt n waits r * (ceiling + 1), floored.
  for (int64_t delay : {0, 500, 500, 2000}) {
    session.HandleSocketClose(kCloseAbnormal, now);
    ASSERT_EQ(session.NextDeadline(), now + delay);
    now += delay;
    session.HandleTimeout(now);
    ASSERT_EQ(session.PollAction(),
              ClientAction{ClientActionKind::kOpenSocket});
  }
}

TEST(ClientRule, WelcomeResetsBackoff) {
  FixedRandom top{{0.9999999}};
  ClientSession session(TestConfig(), std::ref(top));
  session.SetToken("t");
  session.Start(kT0);
  ASSERT_TRUE(session.PollAction().has_value());
  int64_t now = kT0;
  for (int i = 0; i < 3; ++i) DropAndReopen(session, &now);
  EXPECT_EQ(session.reconnect_attempts(), 3);
  OpenAndWelcome(session, now);
  EXPECT_EQ(session.reconnect_attempts(), 0);
  session.HandleSocketClose(kCloseAbnormal, now);
  EXPECT_EQ(session.NextDeadline(), now + 500);
}

TEST(ClientRule, RestartForgetsEarlierAttempts) {
  FixedRandom top{{0.9999999}};
  ClientSession session(TestConfig(), std::ref(top));
  session.Start(kT0);
  ASSERT_TRUE(session.PollAction().has_value());
  int64_t now = kT0;
  for (int i = 0; i < 5; ++i) DropAndReopen(session, &now);
  session.Stop(now);
  ASSERT_TRUE(session.PollAction().has_value());
  session.Start(now);
  ASSERT_EQ(session.PollAction(), ClientAction{ClientActionKind::kOpenSocket});
  session.HandleSocketClose(kCloseAbnormal, now);
  EXPECT_EQ(session.NextDeadline(), now + 500);
}

TEST(ClientRule, ResumesWithOldSession) {
  ClientSession session(TestConfig(), 7);
  std::vector<ClientFrame> frames = Connect(session, kT0, "sess-42");
  std::vector<AuthFrame> auths = FramesOf<AuthFrame>(frames);
  ASSERT_EQ(auths.size(), 1u);
  EXPECT_EQ(auths[0].session, std::nullopt);  // nothing to resume yet
  EXPECT_EQ(auths[0].token, "token-1");
  EXPECT_EQ(auths[0].device, Device::kDesktop);
  EXPECT_EQ(session.session_id(), "sess-42");
  EXPECT_EQ(session.user_id(), "me");

  int64_t now = kT0 + 1000;
  DropAndReopen(session, &now);
  session.SetToken("token-2");  // the host fetched a fresh one
  session.HandleSocketOpen(now);
  frames = TakeFrames(session);
  ASSERT_EQ(frames.size(), 1u);
  const AuthFrame* auth = std::get_if<AuthFrame>(&frames[0]);
  ASSERT_NE(auth, nullptr);
  EXPECT_EQ(auth->session, "sess-42");
  EXPECT_EQ(auth->token, "token-2");
}

TEST(ClientRule, ResendsStatusActivityAndSubscriptionsAfterReconnect) {
  ClientSession session(TestConfig(), 7);
  Connect(session, kT0);
  ASSERT_TRUE(session.SetStatus(Status::kAway, kT0));
  ASSERT_TRUE(session.SetActivity(Activity::Viewing("/inbox"), kT0));
  ASSERT_TRUE(session.Subscribe({"bob", "alice", "carol"}, kT0));
  TakeFrames(session);

  int64_t now = kT0 + 100;
  session.HandleSocketClose(kCloseAbnormal, now);
  now = *session.NextDeadline();
  ASSERT_LT(now, kT0 + 3000);  // the activity is still fresh
  session.HandleTimeout(now);
  ASSERT_EQ(session.PollAction(), ClientAction{ClientActionKind::kOpenSocket});
  std::vector<ClientFrame> frames = OpenAndWelcome(session, now, "s1");

  ASSERT_GE(frames.size(), 3u);
  const AuthFrame* auth = std::get_if<AuthFrame>(&frames[0]);
  ASSERT_NE(auth, nullptr);
  EXPECT_EQ(auth->status, Status::kAway);  // the status rides in the auth
  EXPECT_TRUE(FramesOf<PresenceFrame>(frames).empty());
  std::vector<ActivityFrame> activities = FramesOf<ActivityFrame>(frames);
  ASSERT_EQ(activities.size(), 1u);
  EXPECT_EQ(activities[0].activity, Activity::Viewing("/inbox"));
  std::vector<SubscribeFrame> subscribes = FramesOf<SubscribeFrame>(frames);
  ASSERT_EQ(subscribes.size(), 1u);
  EXPECT_TRUE(subscribes[0].replace);
  EXPECT_EQ(std::set<std::string>(subscribes[0].user_ids.begin(),
                                  subscribes[0].user_ids.end()),
            (std::set<std::string>{"alice", "bob", "carol"}));
}

TEST(ClientRule, ExpiredActivityIsNotResentButCleared) {
  FixedRandom half{{0.5}};
  ClientSession session(TestConfig(), std::ref(half));
  Connect(session, kT0);
  ASSERT_TRUE(session.StartTyping("conv-1", kT0));
  TakeFrames(session);
  session.HandleSocketClose(kCloseAbnormal, kT0 + 10);
  session.HandleNetwork(false, kT0 + 20);  // wait long enough offline
  session.HandleTimeout(kT0 + 3000);       // the typing lapses meanwhile
  EXPECT_EQ(session.activity(), std::nullopt);
  session.HandleNetwork(true, kT0 + 10'000);
  ASSERT_EQ(session.PollAction(), ClientAction{ClientActionKind::kOpenSocket});
  std::vector<ClientFrame> frames = OpenAndWelcome(session, kT0 + 10'000);
  // The resumed session may still show the typing: it is told idle.
  std::vector<ActivityFrame> activities = FramesOf<ActivityFrame>(frames);
  ASSERT_EQ(activities.size(), 1u);
  EXPECT_EQ(activities[0].activity.kind, ActivityKind::kIdle);

  // A second reconnect has nothing left to clear.
  int64_t now = kT0 + 20'000;
  DropAndReopen(session, &now);
  frames = OpenAndWelcome(session, now);
  EXPECT_TRUE(FramesOf<ActivityFrame>(frames).empty());
}

TEST(ClientRule, StatusChangesCollapseWhileDisconnected) {
  ClientSession session(TestConfig(), 7);
  Connect(session, kT0);
  session.HandleSocketClose(kCloseAbnormal, kT0);
  ASSERT_EQ(session.state(), ConnectionState::kReconnecting);
  EXPECT_TRUE(session.SetStatus(Status::kAway, kT0 + 1));
  EXPECT_TRUE(session.SetStatus(Status::kOffline, kT0 + 2));
  EXPECT_TRUE(session.SetStatus(Status::kAway, kT0 + 3));
  EXPECT_EQ(session.PollTransmit(), std::nullopt);
  EXPECT_EQ(session.status(), Status::kAway);

  int64_t now = *session.NextDeadline();
  session.HandleTimeout(now);
  ASSERT_EQ(session.PollAction(), ClientAction{ClientActionKind::kOpenSocket});
  std::vector<ClientFrame> frames = OpenAndWelcome(session, now);
  // Only the latest status, once, in the auth.
  ASSERT_EQ(FramesOf<AuthFrame>(frames).size(), 1u);
  EXPECT_EQ(FramesOf<AuthFrame>(frames)[0].status, Status::kAway);
  EXPECT_TRUE(FramesOf<PresenceFrame>(frames).empty());
}

TEST(ClientRule, StatusChangedDuringAuthIsSentAfterWelcome) {
  ClientSession session(TestConfig(), 7);
  session.SetToken("t");
  session.Start(kT0);
  ASSERT_TRUE(session.PollAction().has_value());
  session.HandleSocketOpen(kT0);
  ASSERT_TRUE(session.SetStatus(Status::kAway, kT0 + 5));
  std::vector<ClientFrame> frames = TakeFrames(session);
  ASSERT_EQ(frames.size(), 1u);  // just the auth, still saying online
  EXPECT_EQ(std::get<AuthFrame>(frames[0]).status, Status::kOnline);

  ASSERT_EQ(session.HandleMessage(Welcome("s1"), kT0 + 10), std::nullopt);
  frames = TakeFrames(session);
  std::vector<PresenceFrame> presences = FramesOf<PresenceFrame>(frames);
  ASSERT_EQ(presences.size(), 1u);
  EXPECT_EQ(presences[0].status, Status::kAway);
}

TEST(ClientRule, SameStatusTwiceSendsOnce) {
  ClientSession session(TestConfig(), 7);
  Connect(session, kT0);
  EXPECT_TRUE(session.SetStatus(Status::kOnline, kT0));  // auth said online
  EXPECT_EQ(session.PollTransmit(), std::nullopt);
  EXPECT_TRUE(session.SetStatus(Status::kAway, kT0));
  EXPECT_TRUE(session.SetStatus(Status::kAway, kT0 + 1));
  std::vector<PresenceFrame> presences =
      FramesOf<PresenceFrame>(TakeFrames(session));
  ASSERT_EQ(presences.size(), 1u);
  EXPECT_EQ(presences[0].status, Status::kAway);
}

TEST(ClientRule, TypingClearsAfterThreeSeconds) {
  ClientSession session(TestConfig(), 7);
  Connect(session, kT0);
  ASSERT_TRUE(session.StartTyping("conv-1", kT0));
  std::vector<ActivityFrame> sent =
      FramesOf<ActivityFrame>(TakeFrames(session));
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].activity, Activity::Typing("conv-1"));
  EXPECT_EQ(session.NextDeadline(), kT0 + 3000);

  session.HandleTimeout(kT0 + 2999);
  ASSERT_TRUE(session.activity().has_value());
  EXPECT_EQ(session.PollTransmit(), std::nullopt);

  session.HandleTimeout(kT0 + 3000);
  EXPECT_EQ(session.activity(), std::nullopt);
  sent = FramesOf<ActivityFrame>(TakeFrames(session));
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].activity.kind, ActivityKind::kIdle);
  // Cleared once: nothing more later.
  session.HandleTimeout(kT0 + 6000);
  EXPECT_TRUE(FramesOf<ActivityFrame>(TakeFrames(session)).empty());
}

TEST(ClientRule, TypingRefreshResendsAtMostOncePerSecond) {
  ClientSession session(TestConfig(), 7);
  Connect(session, kT0);
  // A key every 100 ms for 2.5 s.
  int sent = 0;
  for (int64_t t = 0; t <= 2500; t += 100) {
    ASSERT_TRUE(session.StartTyping("conv-1", kT0 + t));
    sent +=
        static_cast<int>(FramesOf<ActivityFrame>(TakeFrames(session)).size());
  }
  EXPECT_EQ(sent, 3);  // at 0, 1000 and 2000
  // Each key pushed the clearing back: 3 s after the last one.
  EXPECT_EQ(session.NextDeadline(), kT0 + 2500 + 3000);
  session.HandleTimeout(kT0 + 5499);
  EXPECT_TRUE(session.activity().has_value());
  session.HandleTimeout(kT0 + 5500);
  EXPECT_EQ(session.activity(), std::nullopt);

  // A different activity goes out at once, throttle or not.
  ASSERT_TRUE(session.StartTyping("conv-1", kT0 + 6000));
  ASSERT_TRUE(session.StartTyping("conv-2", kT0 + 6100));
  std::vector<ActivityFrame> frames =
      FramesOf<ActivityFrame>(TakeFrames(session));
  ASSERT_EQ(frames.size(), 3u);  // idle (at 5500), conv-1, conv-2
  EXPECT_EQ(frames[2].activity, Activity::Typing("conv-2"));
}

TEST(ClientRule, SettingIdleClearsAndSendsIdleOnce) {
  ClientSession session(TestConfig(), 7);
  Connect(session, kT0);
  ASSERT_TRUE(session.SetActivity(Activity::Busy("call"), kT0));
  TakeFrames(session);
  ASSERT_TRUE(session.SetActivity(Activity::Idle(), kT0 + 10));
  EXPECT_EQ(session.activity(), std::nullopt);
  EXPECT_EQ(session.NextDeadline(), kT0 + 10 + 30'000);  // the heartbeat
  std::vector<ActivityFrame> frames =
      FramesOf<ActivityFrame>(TakeFrames(session));
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].activity.kind, ActivityKind::kIdle);
  ASSERT_TRUE(session.SetActivity(Activity::Idle(), kT0 + 20));
  EXPECT_EQ(session.PollTransmit(), std::nullopt);
}

TEST(ClientRule, BulkReplacesCachedViews) {
  ClientSession session(TestConfig(), 7);
  Connect(session, kT0);
  ASSERT_TRUE(session.Subscribe({"alice", "bob"}, kT0));
  EXPECT_EQ(session.GetView("alice"), nullptr);
  ASSERT_EQ(session.HandleMessage(Bulk({Online("alice", Device::kMobile),
                                        Offline("bob", kT0 - 5000)}),
                                  kT0),
            std::nullopt);
  EXPECT_EQ(session.PollChanges(), (std::vector<std::string>{"alice", "bob"}));
  ASSERT_NE(session.GetView("alice"), nullptr);
  EXPECT_EQ(*session.GetView("alice"), Online("alice", Device::kMobile));

  // A View replaces the old one whole: missing fields are gone, not kept.
  View hidden;
  hidden.user_id = "alice";
  ASSERT_EQ(session.HandleMessage(Bulk({hidden}), kT0 + 1), std::nullopt);
  EXPECT_EQ(*session.GetView("alice"), hidden);
  EXPECT_EQ(session.GetView("alice")->device, std::nullopt);
  EXPECT_EQ(session.PollChanges(), std::vector<std::string>{"alice"});

  // An identical view is no change; views of strangers are ignored.
  ASSERT_EQ(session.HandleMessage(
                Bulk({Offline("bob", kT0 - 5000), Online("mallory")}), kT0 + 2),
            std::nullopt);
  EXPECT_TRUE(session.PollChanges().empty());
  EXPECT_EQ(session.GetView("mallory"), nullptr);
}

TEST(ClientRule, CacheKeptAcrossReconnect) {
  ClientSession session(TestConfig(), 7);
  Connect(session, kT0);
  ASSERT_TRUE(session.Subscribe({"alice"}, kT0));
  ASSERT_EQ(session.HandleMessage(Bulk({Online("alice")}), kT0), std::nullopt);
  session.PollChanges();
  int64_t now = kT0;
  DropAndReopen(session, &now);
  // No flap to unknown while reconnecting.
  ASSERT_NE(session.GetView("alice"), nullptr);
  EXPECT_EQ(session.GetView("alice")->status, Status::kOnline);
  EXPECT_TRUE(session.PollChanges().empty());
}

TEST(ClientRule, NetworkOfflinePausesReconnect) {
  ClientSession session(TestConfig(), 7);
  Connect(session, kT0);
  session.HandleSocketClose(kCloseAbnormal, kT0);
  ASSERT_EQ(session.state(), ConnectionState::kReconnecting);
  session.HandleNetwork(false, kT0 + 1);
  EXPECT_EQ(session.state(), ConnectionState::kOffline);
  EXPECT_EQ(session.NextDeadline(), std::nullopt);
  session.HandleTimeout(kT0 + 60'000);
  EXPECT_EQ(session.PollAction(), std::nullopt);
  EXPECT_EQ(session.state(), ConnectionState::kOffline);

  // A socket that dies while the network is down waits for it too.
  session.HandleNetwork(true, kT0 + 60'000);
  ASSERT_EQ(session.PollAction(), ClientAction{ClientActionKind::kOpenSocket});
  session.HandleNetwork(false, kT0 + 60'001);
  EXPECT_EQ(session.state(), ConnectionState::kConnecting);  // socket tells
  session.HandleSocketClose(kCloseAbnormal, kT0 + 60'002);
  EXPECT_EQ(session.state(), ConnectionState::kOffline);
  EXPECT_EQ(session.NextDeadline(), std::nullopt);
}

TEST(ClientRule, NetworkOfflineLeavesAConnectedSocketAlone) {
  ClientSession session(TestConfig(), 7);
  Connect(session, kT0);
  session.HandleNetwork(false, kT0 + 1);
  EXPECT_EQ(session.state(), ConnectionState::kConnected);
  EXPECT_EQ(session.PollAction(), std::nullopt);
}

TEST(ClientRule, NetworkOnlineHastensReconnect) {
  FixedRandom top{{0.9999999}};
  ClientSession session(TestConfig(), std::ref(top));
  session.Start(kT0);
  ASSERT_TRUE(session.PollAction().has_value());
  int64_t now = kT0;
  for (int i = 0; i < 4; ++i) DropAndReopen(session, &now);
  session.HandleSocketClose(kCloseAbnormal, now);
  EXPECT_EQ(session.NextDeadline(), now + 8000);
  session.HandleNetwork(true, now + 10);
  EXPECT_EQ(session.state(), ConnectionState::kConnecting);
  EXPECT_EQ(session.PollAction(), ClientAction{ClientActionKind::kOpenSocket});
  // The backoff is not reset by the hurry: the next failure waits longer.
  session.HandleSocketClose(kCloseAbnormal, now + 20);
  EXPECT_EQ(session.NextDeadline(), now + 20 + 16'000);
}

TEST(ClientRule, AuthTimeoutAbandonsAttempt) {
  FixedRandom half{{0.5}};
  ClientSession session(TestConfig(), std::ref(half));
  session.SetToken("t");
  session.Start(kT0);
  ASSERT_TRUE(session.PollAction().has_value());
  session.HandleSocketOpen(kT0 + 100);
  TakeFrames(session);
  const int64_t deadline = kT0 + 100 + TestConfig().auth_timeout_ms;
  EXPECT_EQ(session.NextDeadline(), deadline);
  session.HandleTimeout(deadline - 1);
  EXPECT_EQ(session.PollAction(), std::nullopt);
  session.HandleTimeout(deadline);
  EXPECT_EQ(session.PollAction(),
            (ClientAction{ClientActionKind::kCloseSocket, 1000}));
  EXPECT_EQ(session.state(), ConnectionState::kReconnecting);
  EXPECT_EQ(session.NextDeadline(), deadline + 250);
  // The abandoned socket's late close and welcome change nothing.
  session.HandleSocketClose(kCloseAbnormal, deadline + 1);
  EXPECT_EQ(session.HandleMessage(Welcome("late"), deadline + 2), std::nullopt);
  EXPECT_EQ(session.state(), ConnectionState::kReconnecting);
  EXPECT_EQ(session.NextDeadline(), deadline + 250);
  EXPECT_EQ(session.session_id(), "");
}

TEST(ClientRule, ConnectTimeoutAbandonsAttempt) {
  FixedRandom zero{{0.0}};
  ClientSession session(TestConfig(), std::ref(zero));
  session.Start(kT0);
  ASSERT_TRUE(session.PollAction().has_value());
  const int64_t deadline = kT0 + TestConfig().auth_timeout_ms;
  EXPECT_EQ(session.NextDeadline(), deadline);
  session.HandleTimeout(deadline);
  // One action per input, even with a reconnect delay of 0.
  EXPECT_EQ(session.PollAction(),
            (ClientAction{ClientActionKind::kCloseSocket, 1000}));
  EXPECT_EQ(session.PollAction(), std::nullopt);
  EXPECT_EQ(session.state(), ConnectionState::kReconnecting);
  EXPECT_EQ(session.NextDeadline(), deadline);
  session.HandleTimeout(deadline);
  EXPECT_EQ(session.PollAction(), ClientAction{ClientActionKind::kOpenSocket});
  EXPECT_EQ(session.state(), ConnectionState::kConnecting);
}

TEST(ClientRule, UnauthorizedCloseReconnectsWithBackoff) {
  FixedRandom half{{0.5}};
  ClientSession session(TestConfig(), std::ref(half));
  Connect(session, kT0, "s9");
  session.HandleSocketClose(kCloseUnauthorized, kT0 + 5);
  EXPECT_EQ(session.state(), ConnectionState::kReconnecting);
  EXPECT_EQ(session.NextDeadline(), kT0 + 5 + 250);
  EXPECT_EQ(session.session_id(), "s9");
}

// Page attention: the status others see follows the page.

std::vector<Status> SentStatuses(ClientSession& session) {
  std::vector<Status> statuses;
  for (const PresenceFrame& frame :
       FramesOf<PresenceFrame>(TakeFrames(session))) {
    statuses.push_back(frame.status);
  }
  return statuses;
}

TEST(ClientRule, HiddenPageIsAwayAndVisibleIsOnline) {
  ClientSession session(TestConfig(), 7);
  Connect(session, kT0);
  session.HandlePageVisibility(false, kT0 + 10);
  EXPECT_EQ(session.status(), Status::kAway);
  EXPECT_EQ(session.chosen_status(), Status::kOnline);
  EXPECT_EQ(SentStatuses(session), std::vector<Status>{Status::kAway});
  session.HandlePageVisibility(true, kT0 + 20);
  EXPECT_EQ(SentStatuses(session), std::vector<Status>{Status::kOnline});
}

TEST(ClientRule, BlurredPageIsAwayAndFocusIsOnline) {
  ClientSession session(TestConfig(), 7);
  Connect(session, kT0);
  session.HandlePageFocus(false, kT0 + 10);
  EXPECT_EQ(SentStatuses(session), std::vector<Status>{Status::kAway});
  session.HandlePageFocus(true, kT0 + 20);
  EXPECT_EQ(SentStatuses(session), std::vector<Status>{Status::kOnline});
}

TEST(ClientRule, NoInputForIdleMsIsAwayAndInputIsOnline) {
  ClientConfig config = TestConfig();
  config.idle_ms = 300'000;
  ClientSession session(config, 7);
  session.HandlePageVisibility(true, kT0);
  Connect(session, kT0, "s1", /*heartbeat_ms=*/1'000'000);
  // Input keeps the page present; each only pushes the idle time later.
  for (int64_t t = kT0 + 1000; t < kT0 + 200'000; t += 1000) {
    session.HandleUserInput(t);
  }
  EXPECT_EQ(session.PollTransmit(), std::nullopt);
  const int64_t last_input = kT0 + 199'000;
  ASSERT_EQ(session.NextDeadline(), last_input + 300'000);
  session.HandleTimeout(last_input + 299'999);
  EXPECT_EQ(session.PollTransmit(), std::nullopt);
  session.HandleTimeout(last_input + 300'000);
  EXPECT_EQ(SentStatuses(session), std::vector<Status>{Status::kAway});
  session.HandleUserInput(last_input + 400'000);
  EXPECT_EQ(SentStatuses(session), std::vector<Status>{Status::kOnline});
}

TEST(ClientRule, HostWithoutAPageNeverGoesIdle) {
  ClientConfig config = TestConfig();
  config.idle_ms = 1000;
  ClientSession session(config, 7);
  Connect(session, kT0);
  for (int64_t t = kT0; t < kT0 + 120'000; t += 500) session.HandleTimeout(t);
  EXPECT_EQ(session.status(), Status::kOnline);
  EXPECT_TRUE(SentStatuses(session).empty());
}

TEST(ClientRule, PageOpenedHiddenAuthsAwayWithoutAFlap) {
  ClientSession session(TestConfig(), 7);
  session.HandlePageVisibility(false, kT0);
  session.SetToken("t");
  session.Start(kT0);
  ASSERT_TRUE(session.PollAction().has_value());
  session.HandleSocketOpen(kT0);
  std::vector<ClientFrame> frames = TakeFrames(session);
  ASSERT_EQ(FramesOf<AuthFrame>(frames).size(), 1u);
  EXPECT_EQ(FramesOf<AuthFrame>(frames)[0].status, Status::kAway);
  ASSERT_EQ(session.HandleMessage(Welcome("s1"), kT0 + 5), std::nullopt);
  EXPECT_TRUE(SentStatuses(session).empty());
}

TEST(ClientRule, ChosenAwayOrOfflineIsKeptWhateverThePageDoes) {
  ClientSession session(TestConfig(), 7);
  Connect(session, kT0);
  ASSERT_TRUE(session.SetStatus(Status::kOffline, kT0 + 1));  // "invisible"
  EXPECT_EQ(SentStatuses(session), std::vector<Status>{Status::kOffline});
  session.HandlePageVisibility(false, kT0 + 2);
  session.HandlePageVisibility(true, kT0 + 3);
  session.HandlePageFocus(false, kT0 + 4);
  session.HandleUserInput(kT0 + 5);
  EXPECT_TRUE(SentStatuses(session).empty());
  EXPECT_EQ(session.status(), Status::kOffline);
  // Choosing online again shows what the page says: blurred, so away.
  ASSERT_TRUE(session.SetStatus(Status::kOnline, kT0 + 6));
  EXPECT_EQ(SentStatuses(session), std::vector<Status>{Status::kAway});
}

TEST(ClientRule, PageIntoTheBackForwardCacheIsOfflineAndBackIsOnline) {
  ClientSession session(TestConfig(), 7);
  Connect(session, kT0);
  session.HandlePageHide(/*persisted=*/true, kT0 + 10);
  EXPECT_EQ(SentStatuses(session), std::vector<Status>{Status::kOffline});
  session.HandlePageShow(/*persisted=*/true, kT0 + 20);
  EXPECT_EQ(SentStatuses(session), std::vector<Status>{Status::kOnline});
}

TEST(ClientRule, UnloadingPageSendsNoOfflineSoAReloadDoesNotFlap) {
  ClientSession session(TestConfig(), 7);
  Connect(session, kT0);
  session.HandlePageHide(/*persisted=*/false, kT0 + 10);
  // Browsers hide an unloading page after its pagehide: that is no away.
  session.HandlePageVisibility(false, kT0 + 11);
  session.HandlePageFocus(false, kT0 + 12);
  EXPECT_TRUE(SentStatuses(session).empty());
  EXPECT_EQ(session.status(), Status::kOnline);
  // An unload that did not happen (pageshow) makes the page count again.
  session.HandlePageShow(/*persisted=*/false, kT0 + 20);
  session.HandlePageVisibility(false, kT0 + 21);
  EXPECT_EQ(SentStatuses(session), std::vector<Status>{Status::kAway});
}

TEST(ClientRule, StatusFromThePageCollapsesWhileDisconnected) {
  ClientSession session(TestConfig(), 7);
  Connect(session, kT0);
  session.HandleSocketClose(kCloseAbnormal, kT0);
  session.HandlePageVisibility(false, kT0 + 1);
  session.HandlePageVisibility(true, kT0 + 2);
  session.HandlePageFocus(false, kT0 + 3);
  EXPECT_EQ(session.PollTransmit(), std::nullopt);
  int64_t now = *session.NextDeadline();
  session.HandleTimeout(now);
  ASSERT_EQ(session.PollAction(), ClientAction{ClientActionKind::kOpenSocket});
  std::vector<ClientFrame> frames = OpenAndWelcome(session, now);
  ASSERT_EQ(FramesOf<AuthFrame>(frames).size(), 1u);
  EXPECT_EQ(FramesOf<AuthFrame>(frames)[0].status, Status::kAway);
  EXPECT_TRUE(FramesOf<PresenceFrame>(frames).empty());
}

// ============================ ClientSessionTest ============================

TEST(ClientSessionTest, StartOpensOnceAndAuthCarriesStatus) {
  ClientSession session(TestConfig(), 7);
  EXPECT_EQ(session.state(), ConnectionState::kIdle);
  EXPECT_EQ(session.NextDeadline(), std::nullopt);
  ASSERT_TRUE(session.SetStatus(Status::kAway, kT0));  // a hidden tab
  EXPECT_EQ(session.PollTransmit(), std::nullopt);
  session.SetToken("tok");
  session.Start(kT0);
  session.Start(kT0 + 1);  // already started
  EXPECT_EQ(session.PollAction(), ClientAction{ClientActionKind::kOpenSocket});
  EXPECT_EQ(session.PollAction(), std::nullopt);
  session.HandleSocketOpen(kT0 + 2);
  std::vector<ClientFrame> frames = TakeFrames(session);
  ASSERT_EQ(frames.size(), 1u);
  const AuthFrame& auth = std::get<AuthFrame>(frames[0]);
  EXPECT_EQ(auth.token, "tok");
  EXPECT_EQ(auth.status, Status::kAway);
  EXPECT_EQ(auth.device, Device::kDesktop);
}

TEST(ClientSessionTest, WelcomeSetsServerOffset) {
  ClientSession session(TestConfig(), 7);
  session.SetToken("t");
  session.Start(kT0);
  session.HandleSocketOpen(kT0);
  ASSERT_EQ(session.HandleMessage(Welcome("s1", 30'000, kT0 + 4321), kT0 + 21),
            std::nullopt);
  EXPECT_EQ(session.server_offset_ms(), 4300);
}

TEST(ClientSessionTest, ChunksTenThousandSubscriptions) {
  ClientSession session(TestConfig(), 7);
  Connect(session, kT0);
  const std::vector<std::string> ids = Ids("user-", 10'000);
  ASSERT_TRUE(session.Subscribe(ids, kT0));
  std::vector<ClientFrame> frames = TakeFrames(session);  // checks < 64 KiB
  std::vector<SubscribeFrame> subscribes = FramesOf<SubscribeFrame>(frames);
  ASSERT_EQ(subscribes.size(), frames.size());
  EXPECT_GE(subscribes.size(), 10u);
  std::set<std::string> sent;
  for (const SubscribeFrame& frame : subscribes) {
    EXPECT_FALSE(frame.replace);
    EXPECT_LE(frame.user_ids.size(), 1000u);
    sent.insert(frame.user_ids.begin(), frame.user_ids.end());
  }
  EXPECT_EQ(sent, std::set<std::string>(ids.begin(), ids.end()));
  EXPECT_EQ(session.subscriptions().size(), 10'000u);
}

TEST(ClientSessionTest, ChunksLongIdsUnderTheFrameLimit) {
  ClientSession session(TestConfig(), 7);
  const std::string pad(kMaxIdLength - 6, 'x');
  std::vector<std::string> ids;
  for (int i = 0; i < 10'000; ++i) {
    std::string id = std::to_string(100'000 + i) + pad;
    ASSERT_EQ(id.size(), kMaxIdLength);
    ids.push_back(std::move(id));
  }
  ASSERT_TRUE(session.ReplaceSubscriptions(ids, kT0));
  EXPECT_EQ(session.PollTransmit(), std::nullopt);  // not connected yet
  // Reconnecting re-sends the whole set: replace first, then add.
  std::vector<ClientFrame> frames = Connect(session, kT0);
  std::vector<SubscribeFrame> subscribes = FramesOf<SubscribeFrame>(frames);
  ASSERT_GT(subscribes.size(), 10u);  // bytes, not the id count, bound these
  std::set<std::string> sent;
  for (size_t i = 0; i < subscribes.size(); ++i) {
    EXPECT_EQ(subscribes[i].replace, i == 0);
    sent.insert(subscribes[i].user_ids.begin(), subscribes[i].user_ids.end());
  }
  EXPECT_EQ(sent, std::set<std::string>(ids.begin(), ids.end()));
}

TEST(ClientSessionTest, SubscribeSendsOnlyNewIds) {
  ClientSession session(TestConfig(), 7);
  Connect(session, kT0);
  ASSERT_TRUE(session.Subscribe({"a", "b"}, kT0));
  TakeFrames(session);
  ASSERT_TRUE(session.Subscribe({"b", "c", "c", "a", "d"}, kT0));
  std::vector<SubscribeFrame> frames =
      FramesOf<SubscribeFrame>(TakeFrames(session));
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].user_ids, (std::vector<std::string>{"c", "d"}));
  EXPECT_FALSE(frames[0].replace);
  ASSERT_TRUE(session.Subscribe({"a", "d"}, kT0));
  EXPECT_EQ(session.PollTransmit(), std::nullopt);
}

TEST(ClientSessionTest, UnsubscribeDropsCacheAndReportsChange) {
  ClientSession session(TestConfig(), 7);
  Connect(session, kT0);
  ASSERT_TRUE(session.Subscribe({"a", "b", "c"}, kT0));
  ASSERT_EQ(session.HandleMessage(Bulk({Online("a"), Online("b")}), kT0),
            std::nullopt);
  session.PollChanges();
  TakeFrames(session);
  ASSERT_TRUE(session.Unsubscribe({"b", "c", "zed"}, kT0));
  std::vector<UnsubscribeFrame> frames =
      FramesOf<UnsubscribeFrame>(TakeFrames(session));
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].user_ids, (std::vector<std::string>{"b", "c"}));
  EXPECT_EQ(session.GetView("b"), nullptr);
  // Only b had a view to lose.
  EXPECT_EQ(session.PollChanges(), std::vector<std::string>{"b"});
  EXPECT_EQ(session.subscriptions(), std::set<std::string>{"a"});
  // A late bulk about b does not bring it back.
  ASSERT_EQ(session.HandleMessage(Bulk({Online("b")}), kT0), std::nullopt);
  EXPECT_EQ(session.GetView("b"), nullptr);
  ASSERT_TRUE(session.Unsubscribe({"zed"}, kT0));
  EXPECT_EQ(session.PollTransmit(), std::nullopt);
}

TEST(ClientSessionTest, ReplaceSubscriptionsDropsTheRest) {
  ClientSession session(TestConfig(), 7);
  Connect(session, kT0);
  ASSERT_TRUE(session.Subscribe({"a", "b"}, kT0));
  ASSERT_EQ(session.HandleMessage(Bulk({Online("a"), Online("b")}), kT0),
            std::nullopt);
  session.PollChanges();
  TakeFrames(session);
  ASSERT_TRUE(session.ReplaceSubscriptions({"b", "c"}, kT0));
  EXPECT_EQ(session.subscriptions(), (std::set<std::string>{"b", "c"}));
  EXPECT_EQ(session.GetView("a"), nullptr);
  ASSERT_NE(session.GetView("b"), nullptr);
  EXPECT_EQ(session.PollChanges(), std::vector<std::string>{"a"});
  std::vector<SubscribeFrame> frames =
      FramesOf<SubscribeFrame>(TakeFrames(session));
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_TRUE(frames[0].replace);
  EXPECT_EQ(frames[0].user_ids, (std::vector<std::string>{"b", "c"}));

  // The same set again needs no frame; an empty one clears the server's.
  ASSERT_TRUE(session.ReplaceSubscriptions({"c", "b"}, kT0));
  EXPECT_EQ(session.PollTransmit(), std::nullopt);
  ASSERT_TRUE(session.ReplaceSubscriptions({}, kT0));
  frames = FramesOf<SubscribeFrame>(TakeFrames(session));
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_TRUE(frames[0].replace);
  EXPECT_TRUE(frames[0].user_ids.empty());
}

TEST(ClientSessionTest, ResumedSessionLosesSubscriptionsDroppedOffline) {
  ClientSession session(TestConfig(), 7);
  Connect(session, kT0);
  ASSERT_TRUE(session.Subscribe({"a"}, kT0));
  int64_t now = kT0;
  session.HandleSocketClose(kCloseAbnormal, now);
  ASSERT_TRUE(session.Unsubscribe({"a"}, now));
  EXPECT_EQ(session.PollTransmit(), std::nullopt);
  now = *session.NextDeadline();
  session.HandleTimeout(now);
  ASSERT_TRUE(session.PollAction().has_value());
  std::vector<SubscribeFrame> frames =
      FramesOf<SubscribeFrame>(OpenAndWelcome(session, now));
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_TRUE(frames[0].replace);
  EXPECT_TRUE(frames[0].user_ids.empty());
}

TEST(ClientSessionTest, NoSubscriptionFrameWhenNeverSubscribed) {
  ClientSession session(TestConfig(), 7);
  std::vector<ClientFrame> frames = Connect(session, kT0);
  EXPECT_EQ(frames.size(), 1u);  // the auth only
}

TEST(ClientSessionTest, EnforcesMaxSubscriptions) {
  ClientSession session(TestConfig(), 7);
  Connect(session, kT0);
  ASSERT_TRUE(session.Subscribe(Ids("u", 9'999), kT0));
  TakeFrames(session);
  EXPECT_FALSE(session.Subscribe({"x", "y"}, kT0));
  EXPECT_EQ(session.subscriptions().size(), 9'999u);
  EXPECT_EQ(session.PollTransmit(), std::nullopt);
  EXPECT_TRUE(session.Subscribe({"x", "u0"}, kT0));  // one new: 10 000
  EXPECT_EQ(session.subscriptions().size(), 10'000u);
  TakeFrames(session);
  EXPECT_FALSE(session.ReplaceSubscriptions(Ids("v", 10'001), kT0));
  EXPECT_EQ(session.subscriptions().size(), 10'000u);
  EXPECT_TRUE(session.subscriptions().contains("x"));
  EXPECT_EQ(session.PollTransmit(), std::nullopt);
}

TEST(ClientSessionTest, InvalidInputsChangeNothing) {
  ClientSession session(TestConfig(), 7);
  Connect(session, kT0);
  ASSERT_TRUE(session.Subscribe({"a"}, kT0));
  ASSERT_TRUE(session.SetActivity(Activity::Viewing("/home"), kT0));
  TakeFrames(session);
  const std::string too_long_id(kMaxIdLength + 1, 'a');
  const std::string too_long_text(kMaxTextLength + 1, 'p');

  EXPECT_FALSE(session.SetStatus(static_cast<Status>(7), kT0));
  EXPECT_FALSE(session.SetActivity(Activity::Viewing(too_long_text), kT0));
  EXPECT_FALSE(session.SetActivity(Activity::Viewing("bad \xff utf8"), kT0));
  EXPECT_FALSE(session.SetActivity(Activity::Busy(too_long_text), kT0));
  EXPECT_FALSE(session.SetActivity(Activity::Typing("has space"), kT0));
  EXPECT_FALSE(
      session.SetActivity(Activity{static_cast<ActivityKind>(9), "x"}, kT0));
  EXPECT_FALSE(session.StartTyping("", kT0));
  EXPECT_FALSE(session.StartTyping(too_long_id, kT0));
  EXPECT_FALSE(session.Subscribe({"b", "not valid"}, kT0));
  EXPECT_FALSE(session.Subscribe({"b", ""}, kT0));
  EXPECT_FALSE(session.Unsubscribe({"a", "bad/id"}, kT0));
  EXPECT_FALSE(session.ReplaceSubscriptions({"c", too_long_id}, kT0));

  EXPECT_EQ(session.PollTransmit(), std::nullopt);
  EXPECT_EQ(session.status(), Status::kOnline);
  EXPECT_EQ(session.activity(), Activity::Viewing("/home"));
  EXPECT_EQ(session.subscriptions(), std::set<std::string>{"a"});
}

TEST(ClientSessionTest, MalformedServerFramesReturnErrorsAndChangeNothing) {
  ClientSession session(TestConfig(), 7);
  Connect(session, kT0, "s1", 20'000);
  ASSERT_TRUE(session.Subscribe({"a"}, kT0));
  ASSERT_EQ(session.HandleMessage(Bulk({Online("a")}), kT0), std::nullopt);
  session.PollChanges();
  TakeFrames(session);
  const std::vector<std::string> bad = {
      "",
      "not json",
      "[]",
      R"({"type":"nope"})",
      R"({"type":"welcome","userId":"x","session":"s2"})",
      R"({"type":"presence_bulk","updates":[{"userId":"a","status":"online"},{"userId":"bad id"}]})",
      R"({"type":"presence_bulk","updates":[{"userId":"a","status":"gone"}]})",
      R"({"type":"error","code":"weird","message":"x"})",
      std::string(kMaxFrameBytes + 1, ' '),
  };
  for (const std::string& text : bad) {
    std::optional<CodecError> error = session.HandleMessage(text, kT0 + 1);
    EXPECT_TRUE(error.has_value()) << text.substr(0, 80);
    if (error) {
      EXPECT_FALSE(error->message.empty());
    }
  }
  EXPECT_EQ(*session.GetView("a"), Online("a"));
  EXPECT_TRUE(session.PollChanges().empty());
  EXPECT_EQ(session.session_id(), "s1");
  EXPECT_EQ(session.heartbeat_ms(), 20'000);
  EXPECT_EQ(session.last_error(), std::nullopt);
  EXPECT_EQ(session.state(), ConnectionState::kConnected);
  EXPECT_EQ(session.PollTransmit(), std::nullopt);
}

TEST(ClientSessionTest, ErrorFrameIsStored) {
  ClientSession session(TestConfig(), 7);
  Connect(session, kT0);
  ErrorFrame error{ErrorCode::kRateLimited, "slow down"};
  ASSERT_EQ(session.HandleMessage(Serialize(ServerFrame{error}), kT0),
            std::nullopt);
  EXPECT_EQ(session.last_error(), error);
  EXPECT_EQ(session.state(), ConnectionState::kConnected);
}

TEST(ClientSessionTest, OnlyWelcomeOrErrorCountWhileAuthenticating) {
  ClientSession session(TestConfig(), 7);
  ASSERT_TRUE(session.Subscribe({"a"}, kT0));
  session.SetToken("t");
  session.Start(kT0);
  session.HandleSocketOpen(kT0);
  ASSERT_EQ(session.HandleMessage(Bulk({Online("a")}), kT0), std::nullopt);
  EXPECT_EQ(session.GetView("a"), nullptr);
  EXPECT_TRUE(session.PollChanges().empty());
  EXPECT_EQ(session.state(), ConnectionState::kAuthenticating);
  ErrorFrame error{ErrorCode::kUnauthorized, "expired"};
  ASSERT_EQ(session.HandleMessage(Serialize(ServerFrame{error}), kT0),
            std::nullopt);
  EXPECT_EQ(session.last_error(), error);
  EXPECT_EQ(session.state(), ConnectionState::kAuthenticating);
}

TEST(ClientSessionTest, SecondWelcomeIsIgnored) {
  ClientSession session(TestConfig(), 7);
  Connect(session, kT0, "s1", 20'000);
  ASSERT_EQ(session.HandleMessage(Welcome("s2", 5'000), kT0 + 1), std::nullopt);
  EXPECT_EQ(session.session_id(), "s1");
  EXPECT_EQ(session.heartbeat_ms(), 20'000);
  EXPECT_EQ(session.PollTransmit(), std::nullopt);
}

TEST(ClientSessionTest, PollChangesKeepsFirstChangeOrderWithoutRepeats) {
  ClientSession session(TestConfig(), 7);
  Connect(session, kT0);
  ASSERT_TRUE(session.Subscribe({"a", "b", "c"}, kT0));
  ASSERT_EQ(session.HandleMessage(Bulk({Online("c"), Online("a")}), kT0),
            std::nullopt);
  ASSERT_EQ(session.HandleMessage(
                Bulk({Offline("a", kT0), Online("b"), Online("c")}), kT0 + 1),
            std::nullopt);
  ASSERT_TRUE(session.Unsubscribe({"c"}, kT0 + 2));
  EXPECT_EQ(session.PollChanges(), (std::vector<std::string>{"c", "a", "b"}));
  EXPECT_TRUE(session.PollChanges().empty());
  ASSERT_EQ(session.HandleMessage(Bulk({Online("a")}), kT0 + 3), std::nullopt);
  EXPECT_EQ(session.PollChanges(), std::vector<std::string>{"a"});
}

TEST(ClientSessionTest, UserDroppedAndBackInOnePollIsListedOnce) {
  ClientSession session(TestConfig(), 7);
  Connect(session, kT0);
  ASSERT_TRUE(session.Subscribe({"a", "b"}, kT0));
  ASSERT_EQ(session.HandleMessage(Bulk({Online("a")}), kT0), std::nullopt);
  ASSERT_TRUE(session.Unsubscribe({"a"}, kT0 + 1));
  ASSERT_TRUE(session.Subscribe({"a"}, kT0 + 2));
  ASSERT_EQ(
      session.HandleMessage(Bulk({Online("b"), Offline("a", kT0)}), kT0 + 3),
      std::nullopt);
  EXPECT_EQ(session.PollChanges(), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(*session.GetView("a"), Offline("a", kT0));
}

TEST(ClientSessionTest, BulkFailingLateChangesNothing) {
  ClientSession session(TestConfig(), 7);
  Connect(session, kT0);
  ASSERT_TRUE(session.Subscribe({"a", "b"}, kT0));
  ASSERT_EQ(session.HandleMessage(Bulk({Online("a")}), kT0), std::nullopt);
  session.PollChanges();
  // The first view alone would change "a"; the last is of the wrong type.
  for (
      const char* text : {
          R"({"type":"presence_bulk","updates":[{"userId":"a","status":"away"},{"userId":"b","lastSeen":"1"}]})",
          R"({"type":"presence_bulk","updates":[{"userId":"a","status":"away"},{"userId":"b"}],"type":1})",
          R"({"type":"presence_bulk","updates":[{"userId":"a","status":"away"}]}])",
      }) {
    std::optional<CodecError> error = session.HandleMessage(text, kT0 + 1);
    ASSERT_TRUE(error.has_value()) << text;
    EXPECT_FALSE(error->message.empty());
  }
  EXPECT_EQ(*session.GetView("a"), Online("a"));
  EXPECT_EQ(session.GetView("b"), nullptr);
  EXPECT_TRUE(session.PollChanges().empty());
}

TEST(ClientSessionTest, BulkOutsideThePlainShapeStillApplies) {
  ClientSession session(TestConfig(), 7);
  Connect(session, kT0);
  ASSERT_TRUE(session.Subscribe({"a"}, kT0));
  // An escape and an unknown member: read by the tree parser, same result.
  ASSERT_EQ(
      session.HandleMessage(
          R"({"type":"presence_bulk","seq":1,"updates":[{"userId":"a","activity":{"type":"viewing","page":"\"q\" \u00e9"}}]})",
          kT0),
      std::nullopt);
  ASSERT_NE(session.GetView("a"), nullptr);
  EXPECT_EQ(session.GetView("a")->activity,
            Activity::Viewing("\"q\" \xc3\xa9"));
  EXPECT_EQ(session.PollChanges(), std::vector<std::string>{"a"});
}

TEST(ClientSessionTest, SessionMovedStopsReconnecting) {
  ClientSession session(TestConfig(), 7);
  Connect(session, kT0, "s5");
  session.HandleSocketClose(kCloseSessionMoved, kT0 + 1);
  EXPECT_EQ(session.state(), ConnectionState::kIdle);
  EXPECT_EQ(session.NextDeadline(), std::nullopt);
  EXPECT_EQ(session.PollAction(), std::nullopt);
  session.HandleTimeout(kT0 + 120'000);
  session.HandleNetwork(true, kT0 + 120'000);
  EXPECT_EQ(session.PollAction(), std::nullopt);
  EXPECT_EQ(session.state(), ConnectionState::kIdle);
  EXPECT_EQ(session.session_id(), "s5");
  // The app may take the session back explicitly.
  session.Start(kT0 + 130'000);
  EXPECT_EQ(session.PollAction(), ClientAction{ClientActionKind::kOpenSocket});
  session.HandleSocketOpen(kT0 + 130'000);
  std::vector<ClientFrame> frames = TakeFrames(session);
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(std::get<AuthFrame>(frames[0]).session, "s5");
}

TEST(ClientSessionTest, SpuriousHandleTimeoutIsNoop) {
  FixedRandom half{{0.5}};
  ClientSession session(TestConfig(), std::ref(half));
  // Idle.
  session.HandleTimeout(kT0);
  EXPECT_EQ(session.PollAction(), std::nullopt);
  EXPECT_EQ(session.state(), ConnectionState::kIdle);
  // Connected, before any deadline, repeatedly.
  Connect(session, kT0);
  for (int64_t t = kT0; t < kT0 + 30'000; t += 997) session.HandleTimeout(t);
  EXPECT_EQ(session.PollTransmit(), std::nullopt);
  EXPECT_EQ(session.PollAction(), std::nullopt);
  EXPECT_EQ(session.state(), ConnectionState::kConnected);
  // Reconnecting: early calls do not hurry it.
  session.HandleSocketClose(kCloseAbnormal, kT0 + 30'000);
  const std::optional<int64_t> at = session.NextDeadline();
  ASSERT_EQ(at, kT0 + 30'000 + 250);
  session.HandleTimeout(kT0 + 30'000);
  session.HandleTimeout(*at - 1);
  EXPECT_EQ(session.PollAction(), std::nullopt);
  EXPECT_EQ(session.NextDeadline(), at);
  EXPECT_EQ(session.reconnect_attempts(), 1);
}

TEST(ClientSessionTest, StopClosesAndStaysIdle) {
  ClientSession session(TestConfig(), 7);
  Connect(session, kT0);
  ASSERT_TRUE(session.Subscribe({"a"}, kT0));
  ASSERT_EQ(session.HandleMessage(Bulk({Online("a")}), kT0), std::nullopt);
  TakeFrames(session);
  ASSERT_TRUE(session.SetStatus(Status::kOffline, kT0 + 1));  // pagehide
  std::vector<PresenceFrame> presences =
      FramesOf<PresenceFrame>(TakeFrames(session));
  ASSERT_EQ(presences.size(), 1u);
  EXPECT_EQ(presences[0].status, Status::kOffline);
  session.Stop(kT0 + 2);
  EXPECT_EQ(session.PollAction(),
            (ClientAction{ClientActionKind::kCloseSocket, 1000}));
  EXPECT_EQ(session.PollTransmit(), std::nullopt);
  EXPECT_EQ(session.state(), ConnectionState::kIdle);
  EXPECT_EQ(session.NextDeadline(), std::nullopt);
  // The close that follows does not bring a reconnect.
  session.HandleSocketClose(1000, kT0 + 3);
  session.HandleTimeout(kT0 + 100'000);
  EXPECT_EQ(session.PollAction(), std::nullopt);
  EXPECT_EQ(session.state(), ConnectionState::kIdle);
  ASSERT_NE(session.GetView("a"), nullptr);  // the cache is kept
  // Stopping again has no socket to close.
  session.Stop(kT0 + 4);
  EXPECT_EQ(session.PollAction(), std::nullopt);
}

TEST(ClientSessionTest, StopThenStartKeepsBothActions) {
  ClientSession session(TestConfig(), 7);
  session.Start(kT0);
  ASSERT_TRUE(session.PollAction().has_value());
  session.Stop(kT0 + 1);
  session.Start(kT0 + 2);
  EXPECT_EQ(session.PollAction(),
            (ClientAction{ClientActionKind::kCloseSocket, 1000}));
  EXPECT_EQ(session.PollAction(), ClientAction{ClientActionKind::kOpenSocket});
}

TEST(ClientSessionTest, StartWhileOfflineWaitsForTheNetwork) {
  ClientSession session(TestConfig(), 7);
  session.HandleNetwork(false, kT0);
  session.Start(kT0);
  EXPECT_EQ(session.state(), ConnectionState::kOffline);
  EXPECT_EQ(session.PollAction(), std::nullopt);
  session.HandleNetwork(true, kT0 + 5);
  EXPECT_EQ(session.PollAction(), ClientAction{ClientActionKind::kOpenSocket});
}

TEST(ClientSessionTest, ActivityWhileDisconnectedIsStoredNotSent) {
  ClientSession session(TestConfig(), 7);
  ASSERT_TRUE(session.StartTyping("conv", kT0));
  EXPECT_EQ(session.PollTransmit(), std::nullopt);
  EXPECT_EQ(session.activity(), Activity::Typing("conv"));
  std::vector<ActivityFrame> sent =
      FramesOf<ActivityFrame>(Connect(session, kT0 + 500));
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].activity, Activity::Typing("conv"));
}

TEST(ClientSessionTest, StateNames) {
  EXPECT_EQ(ToString(ConnectionState::kIdle), "idle");
  EXPECT_EQ(ToString(ConnectionState::kConnecting), "connecting");
  EXPECT_EQ(ToString(ConnectionState::kAuthenticating), "authenticating");
  EXPECT_EQ(ToString(ConnectionState::kConnected), "connected");
  EXPECT_EQ(ToString(ConnectionState::kReconnecting), "reconnecting");
  EXPECT_EQ(ToString(ConnectionState::kOffline), "offline");
}

}  // namespace
}  // namespace presence
