// Test support for the hub: a fake HubEnv and a driver that plays the
// server's part (connection ids, a manual clock, an inbox per connection of
// parsed frames and raw bytes).
//
// Tokens in tests are "tok:<user>" or "tok:<user>:<exp_ms>"; anything else
// is refused, as a forged token would be.

#ifndef PRESENCE_TESTS_CORE_HUB_SUPPORT_H_
#define PRESENCE_TESTS_CORE_HUB_SUPPORT_H_

#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "presence/codec.h"
#include "presence/hub.h"

namespace presence::testing {

class FakeEnv : public HubEnv {
 public:
  TokenCheck VerifyToken(std::string_view token, int64_t now_ms) override;
  StoredUser LoadUser(std::string_view user_id) override;
  std::string NewSessionId() override {
    return session_prefix + std::to_string(++next_session_);
  }

  // The store as the host keeps it: settings, contacts, persisted last seen.
  std::map<std::string, StoredUser, std::less<>> store;
  int loads = 0;
  std::string session_prefix = "s";

 private:
  int next_session_ = 0;
};

// What one connection received, in order.
struct Inbox {
  std::vector<std::string> raw;     // text frames, as sent
  std::vector<ServerFrame> frames;  // the same, parsed
  int pings = 0;
  std::optional<int> close_code;
};

class HubDriver {
 public:
  explicit HubDriver(HubConfig config = {}, int64_t start_ms = 1'000'000);

  // Opens a connection and authenticates it; returns its id.
  ConnId Connect(const std::string& user, Device device = Device::kWeb,
                 std::optional<std::string> session = std::nullopt,
                 std::optional<Status> status = std::nullopt);
  ConnId Open();
  void Send(ConnId conn, const ClientFrame& frame);
  void SendText(ConnId conn, std::string_view text);
  void Pong(ConnId conn) {
    hub.HandlePong(conn, now);
    Drain();
  }
  void Close(ConnId conn) {
    heartbeating.erase(conn);
    hub.HandleClose(conn, now);
    Drain();
  }

  void SetStatus(ConnId conn, Status s) { Send(conn, PresenceFrame{s}); }
  void Subscribe(ConnId conn, std::vector<std::string> ids,
                 bool replace = false) {
    Send(conn, SubscribeFrame{std::move(ids), replace});
  }

  // Moves the clock forward to `t`, firing every deadline on the way (in
  // order, as a host's timer would). Connections in `answering` reply to
  // pings at once.
  void AdvanceTo(int64_t t);
  void Advance(int64_t ms) { AdvanceTo(now + ms); }
  // Past the next flush.
  void Flush() { Advance(hub.config().flush_ms); }

  void Drain();

  Inbox& inbox(ConnId conn) { return inboxes[conn]; }
  // The welcome this connection got.
  WelcomeFrame Welcome(ConnId conn);
  // All views this connection received about `user`, oldest first.
  std::vector<View> ViewsOf(ConnId conn, const std::string& user);
  // The newest view of `user` this connection received.
  std::optional<View> LastView(ConnId conn, const std::string& user);
  size_t BulkCount(ConnId conn);
  std::vector<ErrorFrame> Errors(ConnId conn);
  // Clears what the connection received so far.
  void Forget(ConnId conn) { inboxes[conn] = Inbox{}; }

  FakeEnv env;
  int64_t now;
  Hub hub;
  std::map<ConnId, Inbox> inboxes;
  std::set<ConnId> answering;  // answer pings automatically
  // Connections that send a heartbeat every heartbeatMs, as live clients
  // do (conn -> when it last sent a frame). Connect adds to it.
  std::map<ConnId, int64_t> heartbeating;
  std::vector<LastSeenUpdate> persisted;
  // Called for every frame as the hub emits it (the hub's state is then
  // exactly what it was when it made the frame).
  std::function<void(ConnId, const ServerFrame&)> on_frame;

 private:
  ConnId next_conn_ = 1;
};

}  // namespace presence::testing

#endif  // PRESENCE_TESTS_CORE_HUB_SUPPORT_H_
