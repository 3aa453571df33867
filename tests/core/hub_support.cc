#include "hub_support.h"

#include <charconv>

namespace presence::testing {

TokenCheck FakeEnv::VerifyToken(std::string_view token, int64_t now_ms) {
  (void)now_ms;  // expiry is the hub's to enforce from expires_at_ms
  TokenCheck check;
  if (!token.starts_with("tok:")) {
    check.error = "forged";
    return check;
  }
  std::string_view rest = token.substr(4);
  const size_t colon = rest.find(':');
  if (colon != std::string_view::npos) {
    int64_t exp = 0;
    std::string_view digits = rest.substr(colon + 1);
    std::from_chars(digits.data(), digits.data() + digits.size(), exp);
    check.expires_at_ms = exp;
    rest = rest.substr(0, colon);
  }
  check.user_id = std::string(rest);
  return check;
}

StoredUser FakeEnv::LoadUser(std::string_view user_id) {
  ++loads;
  auto it = store.find(user_id);
  return it == store.end() ? StoredUser{} : it->second;
}

HubDriver::HubDriver(HubConfig config, int64_t start_ms)
    : now(start_ms), hub(config, &env) {}

ConnId HubDriver::Open() {
  const ConnId conn = next_conn_++;
  hub.HandleOpen(conn, now);
  answering.insert(conn);
  Drain();
  return conn;
}

ConnId HubDriver::Connect(const std::string& user, Device device,
                          std::optional<std::string> session,
                          std::optional<Status> status) {
  const ConnId conn = Open();
  AuthFrame auth;
  auth.token = "tok:" + user;
  auth.device = device;
  auth.session = std::move(session);
  auth.status = status;
  Send(conn, auth);
  heartbeating[conn] = now;
  return conn;
}

void HubDriver::Send(ConnId conn, const ClientFrame& frame) {
  SendText(conn, Serialize(frame));
}

void HubDriver::SendText(ConnId conn, std::string_view text) {
  if (auto it = heartbeating.find(conn); it != heartbeating.end()) {
    it->second = now;
  }
  hub.HandleText(conn, text, now);
  Drain();
}

void HubDriver::Drain() {
  while (std::optional<Transmit> t = hub.PollTransmit()) {
    Inbox& box = inboxes[t->conn];
    switch (t->kind) {
      case Transmit::Kind::kFrame: {
        std::string text = t->Flatten();
        EXPECT_EQ(text.size(), t->FrameBytes());
        Parsed<ServerFrame> parsed = ParseServerFrame(text);
        const auto* frame = std::get_if<ServerFrame>(&parsed);
        EXPECT_NE(frame, nullptr) << "hub sent an invalid frame: " << text;
        if (frame != nullptr) {
          if (on_frame) on_frame(t->conn, *frame);
          box.frames.push_back(*frame);
        }
        box.raw.push_back(std::move(text));
        break;
      }
      case Transmit::Kind::kPing:
        box.pings++;
        if (answering.contains(t->conn)) hub.HandlePong(t->conn, now);
        break;
      case Transmit::Kind::kClose:
        box.close_code = t->close_code;
        answering.erase(t->conn);
        heartbeating.erase(t->conn);
        break;
    }
  }
  for (LastSeenUpdate& u : hub.PollLastSeen()) {
    env.store[u.user_id].last_seen_ms = u.last_seen_ms;
    persisted.push_back(std::move(u));
  }
}

void HubDriver::AdvanceTo(int64_t t) {
  const int64_t heartbeat_ms = hub.config().heartbeat_ms;
  for (int steps = 0; steps < 1'000'000; ++steps) {
    std::optional<int64_t> next = hub.NextDeadline();
    std::optional<ConnId> beat;
    for (const auto& [conn, sent] : heartbeating) {
      if (!next || sent + heartbeat_ms < *next) {
        next = sent + heartbeat_ms;
        beat = conn;
      }
    }
    if (!next || *next > t) break;
    // Time never goes backwards, even for a deadline already past.
    now = std::max(now, *next);
    if (beat) {
      Send(*beat, HeartbeatFrame{});
    } else {
      hub.HandleTimeout(now);
      Drain();
    }
  }
  now = std::max(now, t);
  hub.HandleTimeout(now);
  Drain();
}

WelcomeFrame HubDriver::Welcome(ConnId conn) {
  for (const ServerFrame& f : inboxes[conn].frames) {
    if (const auto* w = std::get_if<WelcomeFrame>(&f)) return *w;
  }
  ADD_FAILURE() << "no welcome on connection " << conn;
  return {};
}

std::vector<View> HubDriver::ViewsOf(ConnId conn, const std::string& user) {
  std::vector<View> views;
  for (const ServerFrame& f : inboxes[conn].frames) {
    if (const auto* b = std::get_if<BulkFrame>(&f)) {
      for (const View& v : b->updates) {
        if (v.user_id == user) views.push_back(v);
      }
    }
  }
  return views;
}

std::optional<View> HubDriver::LastView(ConnId conn, const std::string& user) {
  std::vector<View> views = ViewsOf(conn, user);
  if (views.empty()) return std::nullopt;
  return views.back();
}

size_t HubDriver::BulkCount(ConnId conn) {
  size_t n = 0;
  for (const ServerFrame& f : inboxes[conn].frames) {
    n += std::holds_alternative<BulkFrame>(f) ? 1 : 0;
  }
  return n;
}

std::vector<ErrorFrame> HubDriver::Errors(ConnId conn) {
  std::vector<ErrorFrame> errors;
  for (const ServerFrame& f : inboxes[conn].frames) {
    if (const auto* e = std::get_if<ErrorFrame>(&f)) errors.push_back(*e);
  }
  return errors;
}

}  // namespace presence::testing
