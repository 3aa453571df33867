#include "fuzz_support.h"

#include <algorithm>
#include <charconv>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "presence/codec.h"
#include "presence/hub.h"
#include "presence/privacy.h"

namespace presence::fuzz {
namespace {

// ---- codec ----

template <typename Frame, typename ParseFn>
std::string RoundTrip(std::string_view data, ParseFn parse, bool* parsed_out,
                      std::string_view what) {
  Parsed<Frame> parsed = parse(data);
  const Frame* frame = std::get_if<Frame>(&parsed);
  *parsed_out = frame != nullptr;
  if (frame == nullptr) return "";
  const std::string once = Serialize(*frame);
  Parsed<Frame> again = parse(once);
  const Frame* frame2 = std::get_if<Frame>(&again);
  if (frame2 == nullptr) {
    return std::string(what) + ": the serialized frame does not parse (" +
           std::get<CodecError>(again).message + "): " + once;
  }
  if (!(*frame2 == *frame)) {
    return std::string(what) + ": parse(serialize(f)) != f for " + once;
  }
  const std::string twice = Serialize(*frame2);
  if (twice != once) {
    return std::string(what) + ": serialize is not stable: " + once + " then " +
           twice;
  }
  return "";
}

// ---- hub ----

constexpr int64_t kStartMs = 1'000'000;

HubConfig FuzzConfig() {
  // Short timings so a few hundred events cross every timer: pings, dead
  // peers, the app timeout, grace, activity TTL, flushes, auth timeout.
  HubConfig c;
  c.heartbeat_ms = 1'000;
  c.ping_ms = 500;
  c.timeout_ms = 4'000;
  c.leave_grace_ms = 700;
  c.activity_ttl_ms = 300;
  c.flush_ms = 50;
  c.auth_timeout_ms = 1'500;
  return c;
}

// Tokens are "tok:<user>" or "tok:<user>:<exp_ms>", as in hub_support.h.
class Env : public HubEnv {
 public:
  TokenCheck VerifyToken(std::string_view token, int64_t) override {
    TokenCheck check;
    if (!token.starts_with("tok:")) {
      check.error = "forged";
      return check;
    }
    std::string_view rest = token.substr(4);
    if (size_t colon = rest.find(':'); colon != std::string_view::npos) {
      int64_t exp = 0;
      std::string_view digits = rest.substr(colon + 1);
      std::from_chars(digits.data(), digits.data() + digits.size(), exp);
      check.expires_at_ms = exp;
      rest = rest.substr(0, colon);
    }
    check.user_id = std::string(rest);
    return check;
  }
  StoredUser LoadUser(std::string_view user_id) override {
    auto it = store.find(user_id);
    return it == store.end() ? StoredUser{} : it->second;
  }
  std::string NewSessionId() override {
    return "s" + std::to_string(++next_session_);
  }

  std::map<std::string, StoredUser, std::less<>> store;

 private:
  int next_session_ = 0;
};

// Reads the fuzz input; past the end it yields zeros, so every input is a
// valid (finite) program.
class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}
  bool done() const { return pos_ >= data_.size(); }
  uint8_t Byte() {
    return pos_ < data_.size() ? static_cast<uint8_t>(data_[pos_++]) : 0;
  }
  int Pick(int n) { return Byte() % n; }
  std::string_view Bytes(size_t n) {
    n = std::min(n, data_.size() - std::min(pos_, data_.size()));
    std::string_view out = data_.substr(std::min(pos_, data_.size()), n);
    pos_ += n;
    return out;
  }

 private:
  std::string_view data_;
  size_t pos_ = 0;
};

const char* const kUsers[] = {"u0", "u1", "u2", "u3", "u4"};
const char* const kTargets[] = {"u0", "u1", "u2", "u3", "u4", "x0", "x1"};

int Rank(Status s) {
  return s == Status::kOnline ? 2 : s == Status::kAway ? 1 : 0;
}

class HubRun {
 public:
  HubRun() : hub_(FuzzConfig(), &env_) {}

  HubReport Run(std::string_view data) {
    Reader in(data);
    // Bounded work per input, whatever its length.
    for (int step = 0; step < 400 && !in.done() && report_.error.empty();
         ++step) {
      Event(in);
      report_.events++;
      if (report_.error.empty()) CheckState();
    }
    if (report_.error.empty()) Quiesce();
    return report_;
  }

 private:
  struct Conn {
    bool open = true;       // the hub may still talk to it
    bool answering = true;  // answers pings (false: the peer vanished)
    std::string session;    // set by its welcome
    std::map<std::string, View> last_views;
  };
  struct Session {
    std::string user;
    Status status = Status::kOnline;
    std::optional<ConnId> conn;
    int64_t grace_until = 0;  // while detached
    std::set<std::string> ever_subscribed;
    std::set<std::string> subs;  // the current subscription set
  };

  void Fail(std::string what) {
    if (report_.error.empty()) {
      report_.error = what + " (event " + std::to_string(report_.events) +
                      ", now " + std::to_string(now_ - kStartMs) + ")";
    }
  }

  // An open connection chosen by the input, if any.
  std::optional<ConnId> AnyConn(Reader& in, bool authed_only) {
    std::vector<ConnId> ids;
    for (const auto& [id, c] : conns_) {
      if (c.open && (!authed_only || !c.session.empty())) ids.push_back(id);
    }
    if (ids.empty()) return std::nullopt;
    return ids[in.Pick(static_cast<int>(ids.size()))];
  }

  void Event(Reader& in) {
    const int op = in.Pick(16);
    switch (op) {
      case 0:
      case 1:
        Connect(in);
        return;
      case 2:
        if (auto c = AnyConn(in, false)) {
          conns_[*c].open = false;
          Detach(*c, /*code=*/1000);
          hub_.HandleClose(*c, now_);
          Drain(std::nullopt);
        }
        return;
      case 3:  // the peer vanished: no FIN, no pong, no frame
        if (auto c = AnyConn(in, false)) conns_[*c].answering = false;
        return;
      case 4:
      case 5:
        if (auto c = AnyConn(in, true)) {
          PresenceFrame f;
          f.status = static_cast<Status>(in.Pick(3));
          SendFrame(*c, f);
        }
        return;
      case 6:
        if (auto c = AnyConn(in, true)) {
          const int kind = in.Pick(4);
          const std::string text(1 + in.Pick(3), 'a' + in.Pick(3));
          Activity a = kind == 0   ? Activity::Typing(text)
                       : kind == 1 ? Activity::Viewing("/" + text)
                       : kind == 2 ? Activity::Busy(text)
                                   : Activity::Idle();
          SendFrame(*c, ActivityFrame{a});
        }
        return;
      case 7:
        if (auto c = AnyConn(in, true)) {
          SubscribeFrame f;
          const int n = 1 + in.Pick(3);
          for (int i = 0; i < n; ++i)
            f.user_ids.push_back(kTargets[in.Pick(7)]);
          f.replace = in.Pick(4) == 0;
          SendFrame(*c, f);
        }
        return;
      case 8:
        if (auto c = AnyConn(in, true)) {
          SendFrame(*c, UnsubscribeFrame{{kTargets[in.Pick(7)]}});
        }
        return;
      case 9:
        if (auto c = AnyConn(in, true)) SendFrame(*c, HeartbeatFrame{});
        return;
      case 10: {
        const std::string user = kUsers[in.Pick(5)];
        PrivacySettings s{static_cast<Visibility>(in.Pick(3)),
                          static_cast<Visibility>(in.Pick(3)),
                          static_cast<Visibility>(in.Pick(3))};
        env_.store[user].settings = s;  // stored first, as the server does
        hub_.UpdateSettings(user, s, now_);
        Drain(std::nullopt);
        return;
      }
      case 11: {
        const std::string user = kUsers[in.Pick(5)];
        std::vector<std::string> contacts;
        const uint8_t mask = in.Byte();
        for (int i = 0; i < 5; ++i) {
          if (mask & (1 << i)) contacts.push_back(kUsers[i]);
        }
        env_.store[user].contacts = contacts;
        hub_.UpdateContacts(user, contacts, now_);
        Drain(std::nullopt);
        return;
      }
      case 12:
        AdvanceTo(now_ + in.Byte() * 4);
        return;
      case 13:
        AdvanceTo(now_ + in.Byte() * 60);
        return;
      case 14:
        if (auto c = AnyConn(in, false)) {
          // Raw bytes as one text frame: whatever the codec makes of it.
          const size_t n = in.Byte();
          SendText(*c, in.Bytes(n));
        }
        return;
      case 15:
        if (auto c = AnyConn(in, false)) {
          hub_.HandlePong(*c, now_);
          Drain(std::nullopt);
        }
        return;
    }
  }

  void Connect(Reader& in) {
    const ConnId id = next_conn_++;
    conns_[id] = Conn{};
    hub_.HandleOpen(id, now_);
    Drain(std::nullopt);
    const uint8_t how = in.Byte();
    if (how % 8 == 7) return;  // opened, never authenticates
    const std::string user = kUsers[in.Pick(5)];
    AuthFrame auth;
    auth.token = "tok:" + user;
    if (how % 8 == 6) {
      // A token expiring soon (or already expired).
      auth.token += ":" + std::to_string(now_ - 100 + in.Byte() * 20);
    }
    auth.device = static_cast<Device>(in.Pick(3));
    if (const int st = in.Pick(4); st < 3)
      auth.status = static_cast<Status>(st);
    if (how & 8) {
      // Resume one of the sessions this user ever had (live or not).
      std::vector<std::string> ids;
      for (const auto& s : seen_sessions_) {
        if (s.first == user) ids.push_back(s.second);
      }
      if (!ids.empty())
        auth.session = ids[in.Pick(static_cast<int>(ids.size()))];
    }
    if (how & 16) auth.user_id = kUsers[in.Pick(5)];  // maybe not the sub
    SendFrame(id, auth);
  }

  void SendFrame(ConnId conn, const ClientFrame& frame) {
    SendText(conn, Serialize(frame));
  }

  void SendText(ConnId conn, std::string_view text) {
    Parsed<ClientFrame> parsed = ParseClientFrame(text);
    const auto* frame = std::get_if<ClientFrame>(&parsed);
    pending_auth_status_.reset();
    if (frame != nullptr) {
      if (const auto* auth = std::get_if<AuthFrame>(frame)) {
        pending_auth_status_ = auth->status;
      }
    }
    hub_.HandleText(conn, text, now_);
    Drain(conn);
    // What the frame meant, if the hub took it (no error came back).
    if (rejected_ || !conns_[conn].open || frame == nullptr) return;
    Conn& c = conns_[conn];
    if (c.session.empty()) return;
    Session& s = sessions_[c.session];
    if (const auto* p = std::get_if<PresenceFrame>(frame)) {
      if (!auth_frame_) s.status = p->status;
    } else if (const auto* sub = std::get_if<SubscribeFrame>(frame)) {
      s.ever_subscribed.insert(sub->user_ids.begin(), sub->user_ids.end());
      if (sub->replace) s.subs.clear();
      s.subs.insert(sub->user_ids.begin(), sub->user_ids.end());
    } else if (const auto* unsub = std::get_if<UnsubscribeFrame>(frame)) {
      for (const std::string& id : unsub->user_ids) s.subs.erase(id);
    }
  }

  // No lost update: once every timer has settled and a flush has passed,
  // each live connection's newest view of each target it follows is the
  // projection now. (A connection that never got a view of a target, as a
  // resumed one may not, is not judged.)
  void CheckConverged() {
    for (const auto& [id, c] : conns_) {
      if (!c.open || c.session.empty()) continue;
      auto sit = sessions_.find(c.session);
      if (sit == sessions_.end() || sit->second.conn != id) continue;
      const Session& s = sit->second;
      for (const std::string& target : s.subs) {
        auto last = c.last_views.find(target);
        if (last == c.last_views.end()) continue;
        std::optional<PresenceState> state = hub_.GetState(target);
        if (!state) {
          Fail("a followed user " + target + " is not loaded");
          return;
        }
        const StoredUser stored = env_.LoadUser(target);
        const bool contact =
            std::find(stored.contacts.begin(), stored.contacts.end(), s.user) !=
            stored.contacts.end();
        const View truth = Project(*state, stored.settings,
                                   ClassifyViewer(s.user, target, contact));
        if (!(last->second == truth)) {
          Fail("lost update: viewer " + s.user + " last got " +
               ViewJson(last->second) + " but the truth is " + ViewJson(truth));
          return;
        }
        report_.converged_views++;
      }
    }
  }

  // The model's side of a connection that ended: its session waits out the
  // grace, or is gone at once (dead or silent), or moved elsewhere.
  void Detach(ConnId id, int close_code) {
    Conn& c = conns_[id];
    c.open = false;
    if (c.session.empty()) return;
    auto it = sessions_.find(c.session);
    if (it == sessions_.end() || it->second.conn != id) return;
    if (close_code == kCloseSessionMoved) return;  // its welcome follows
    if (close_code == kCloseTimeout) {
      sessions_.erase(it);
      return;
    }
    it->second.conn.reset();
    it->second.grace_until = now_ + hub_.config().leave_grace_ms;
  }

  // Routes every hub output; `sender` is the connection whose frame is
  // being handled (its answers are checked differently).
  void Drain(std::optional<ConnId> sender) {
    rejected_ = false;
    auth_frame_ = false;
    while (std::optional<Transmit> t = hub_.PollTransmit()) {
      auto it = conns_.find(t->conn);
      if (it == conns_.end() || !it->second.open) {
        Fail("a transmit for connection " + std::to_string(t->conn) +
             " that is not open");
        return;
      }
      Conn& c = it->second;
      switch (t->kind) {
        case Transmit::Kind::kPing:
          if (c.answering) hub_.HandlePong(t->conn, now_);
          break;
        case Transmit::Kind::kClose:
          report_.closes++;
          Detach(t->conn, t->close_code);
          if (sender == t->conn) rejected_ = true;
          hub_.HandleClose(t->conn, now_);  // as the host does; a no-op
          break;
        case Transmit::Kind::kFrame:
          OnFrame(t->conn, c, *t, sender == t->conn);
          break;
      }
      if (!report_.error.empty()) return;
    }
    (void)hub_.PollLastSeen();  // nothing to persist: the env reads none
  }

  void OnFrame(ConnId id, Conn& c, const Transmit& t, bool answer) {
    report_.frames++;
    const std::string text = t.Flatten();
    if (text.size() != t.FrameBytes()) {
      Fail("Flatten() is " + std::to_string(text.size()) +
           " bytes but FrameBytes() says " + std::to_string(t.FrameBytes()));
      return;
    }
    Parsed<ServerFrame> parsed = ParseServerFrame(text);
    const auto* frame = std::get_if<ServerFrame>(&parsed);
    if (frame == nullptr) {
      Fail("the hub sent a frame that does not parse: " + text);
      return;
    }
    if (const auto* w = std::get_if<WelcomeFrame>(frame)) {
      report_.welcomes++;
      auth_frame_ = true;
      c.session = w->session;
      seen_sessions_.insert({w->user_id, w->session});
      Session& s = sessions_[w->session];
      // The auth frame just sent decides the first status.
      s.user = w->user_id;
      s.conn = id;
      s.grace_until = 0;
      s.status = Status::kOnline;
      if (pending_auth_status_) s.status = *pending_auth_status_;
      return;
    }
    if (std::holds_alternative<ErrorFrame>(*frame)) {
      if (answer) rejected_ = true;
      return;
    }
    const auto& bulk = std::get<BulkFrame>(*frame);
    if (c.session.empty()) {
      Fail("a presence_bulk to an unauthenticated connection: " + text);
      return;
    }
    const Session& s = sessions_[c.session];
    for (const View& v : bulk.updates) {
      report_.views_checked++;
      if (!s.ever_subscribed.contains(v.user_id) && !answer) {
        Fail("viewer " + s.user + " got a view of " + v.user_id +
             " without subscribing: " + text);
        return;
      }
      std::optional<PresenceState> state = hub_.GetState(v.user_id);
      if (!state) {
        Fail("a view of " + v.user_id + " who is not loaded: " + text);
        return;
      }
      const StoredUser stored = env_.LoadUser(v.user_id);
      const bool contact =
          std::find(stored.contacts.begin(), stored.contacts.end(), s.user) !=
          stored.contacts.end();
      const View truth = Project(*state, stored.settings,
                                 ClassifyViewer(s.user, v.user_id, contact));
      if (!(v == truth)) {
        Fail("viewer " + s.user + " got " + ViewJson(v) + " but may see " +
             ViewJson(truth));
        return;
      }
      auto last = c.last_views.find(v.user_id);
      if (!answer && last != c.last_views.end() && last->second == v) {
        Fail("a push that changes nothing: viewer " + s.user + " " +
             ViewJson(v));
        return;
      }
      c.last_views[v.user_id] = v;
    }
  }

  void AdvanceTo(int64_t t) {
    for (int steps = 0;; ++steps) {
      if (steps > 100'000) {
        Fail("timers do not make progress");
        return;
      }
      std::optional<int64_t> next = hub_.NextDeadline();
      if (!next || *next > t) break;
      now_ = std::max(now_, *next);
      hub_.HandleTimeout(now_);
      Drain(std::nullopt);
      if (!report_.error.empty()) return;
    }
    now_ = std::max(now_, t);
    hub_.HandleTimeout(now_);
    Drain(std::nullopt);
    // Graces that ran out: the hub dropped those sessions at their timer.
    std::erase_if(sessions_, [&](const auto& kv) {
      return !kv.second.conn && kv.second.grace_until <= now_;
    });
  }

  void CheckState() {
    const HubStats stats = hub_.Stats();
    size_t open = 0;
    for (const auto& [id, c] : conns_) open += c.open ? 1 : 0;
    if (stats.connections != open) {
      Fail("Stats().connections " + std::to_string(stats.connections) +
           " but " + std::to_string(open) + " sockets are open");
      return;
    }
    if (stats.sessions != sessions_.size()) {
      Fail("Stats().sessions " + std::to_string(stats.sessions) + " but " +
           std::to_string(sessions_.size()) + " are live or in grace");
      return;
    }
    size_t subscribed_bound = 0;
    std::map<std::string, int> best;
    for (const auto& [id, s] : sessions_) {
      subscribed_bound += s.ever_subscribed.size();
      auto [it, inserted] = best.try_emplace(s.user, Rank(s.status));
      if (!inserted) it->second = std::max(it->second, Rank(s.status));
    }
    if (stats.subscription_edges > subscribed_bound) {
      Fail("Stats().subscription_edges " +
           std::to_string(stats.subscription_edges) + " above the " +
           std::to_string(subscribed_bound) + " the live sessions asked for");
      return;
    }
    size_t online = 0;
    size_t away = 0;
    for (const auto& [user, rank] : best) {
      report_.aggregation_checks++;
      online += rank == 2 ? 1 : 0;
      away += rank == 1 ? 1 : 0;
      std::optional<PresenceState> state = hub_.GetState(user);
      if (!state || !state->status || Rank(*state->status) != rank) {
        Fail("user " + user + " aggregates to " +
             (state && state->status ? std::string(ToString(*state->status))
                                     : std::string("nothing")) +
             " but its best live session is rank " + std::to_string(rank));
        return;
      }
    }
    if (stats.users_online != online || stats.users_away != away) {
      Fail("Stats() counts " + std::to_string(stats.users_online) +
           " online / " + std::to_string(stats.users_away) + " away, the " +
           "sessions say " + std::to_string(online) + " / " +
           std::to_string(away));
    }
  }

  // Every socket closed, every grace and flush past: nothing may remain.
  void Quiesce() {
    // Settle: live peers keep heartbeating while every timer (activity TTL,
    // grace, dead peers, expiring tokens) runs out; then a flush.
    const HubConfig& config = hub_.config();
    for (int round = 0; round < 7; ++round) {
      for (auto& [id, c] : conns_) {
        if (c.open && c.answering && !c.session.empty()) {
          SendFrame(id, HeartbeatFrame{});
        }
        if (!report_.error.empty()) return;
      }
      AdvanceTo(now_ + config.heartbeat_ms);
      if (!report_.error.empty()) return;
    }
    CheckConverged();
    if (!report_.error.empty()) return;
    for (auto& [id, c] : conns_) {
      if (!c.open) continue;
      Detach(id, 1000);
      hub_.HandleClose(id, now_);
      Drain(std::nullopt);
      if (!report_.error.empty()) return;
    }
    const HubConfig& cfg = hub_.config();
    AdvanceTo(now_ + cfg.leave_grace_ms + cfg.activity_ttl_ms +
              2 * cfg.flush_ms + cfg.timeout_ms);
    if (!report_.error.empty()) return;
    CheckState();
    const HubStats s = hub_.Stats();
    if (s.connections || s.sessions || s.subscription_edges || s.users_loaded ||
        s.users_online || s.users_away) {
      Fail(
          "after every socket closed and every grace ran out the hub still "
          "holds " +
          std::to_string(s.connections) + " connections, " +
          std::to_string(s.sessions) + " sessions, " +
          std::to_string(s.subscription_edges) + " edges, " +
          std::to_string(s.users_loaded) + " users");
    }
    if (hub_.NextDeadline() && *hub_.NextDeadline() <= now_) {
      Fail("a deadline in the past after HandleTimeout");
    }
  }

  Env env_;
  Hub hub_;
  int64_t now_ = kStartMs;
  ConnId next_conn_ = 1;
  std::map<ConnId, Conn> conns_;
  std::map<std::string, Session> sessions_;
  std::set<std::pair<std::string, std::string>> seen_sessions_;  // user, id
  HubReport report_;
  bool rejected_ = false;    // the frame being handled got an error or close
  bool auth_frame_ = false;  // ... and was a successful auth
  // The `status` of the auth frame being handled: the session's first.
  std::optional<Status> pending_auth_status_;
};

}  // namespace

CodecReport CheckCodec(std::string_view data) {
  CodecReport r;
  r.error = RoundTrip<ClientFrame>(
      data, [](std::string_view d) { return ParseClientFrame(d); },
      &r.client_parsed, "client frame");
  if (!r.error.empty()) return r;
  r.error = RoundTrip<ServerFrame>(
      data, [](std::string_view d) { return ParseServerFrame(d); },
      &r.server_parsed, "server frame");
  if (!r.error.empty()) return r;
  // The client's in-place bulk reader must agree with the tree parser on
  // every frame it accepts.
  std::vector<ViewRef> refs;
  if (ReadPlainBulk(data, &refs)) {
    Parsed<ServerFrame> parsed = ParseServerFrame(data);
    const auto* frame = std::get_if<ServerFrame>(&parsed);
    const auto* bulk = frame ? std::get_if<BulkFrame>(frame) : nullptr;
    if (bulk == nullptr) {
      r.error =
          "ReadPlainBulk accepted a frame ParseServerFrame does not read "
          "as a bulk";
      return r;
    }
    if (bulk->updates.size() != refs.size()) {
      r.error = "ReadPlainBulk read another number of views";
      return r;
    }
    for (size_t i = 0; i < refs.size(); ++i) {
      if (!refs[i].Matches(bulk->updates[i])) {
        r.error = "ReadPlainBulk read view " + std::to_string(i) + " otherwise";
        return r;
      }
    }
  }
  // The server's in-place subscribe reader, likewise with ParseClientFrame.
  IdListRef ids;
  if (ReadPlainIdList(data, &ids)) {
    Parsed<ClientFrame> parsed = ParseClientFrame(data);
    const auto* frame = std::get_if<ClientFrame>(&parsed);
    const std::vector<std::string>* want = nullptr;
    const std::optional<std::string>* want_user = nullptr;
    bool want_replace = false;
    const auto* sub = frame ? std::get_if<SubscribeFrame>(frame) : nullptr;
    const auto* unsub = frame ? std::get_if<UnsubscribeFrame>(frame) : nullptr;
    if (sub != nullptr && !ids.unsubscribe) {
      want = &sub->user_ids;
      want_user = &sub->user_id;
      want_replace = sub->replace;
    } else if (unsub != nullptr && ids.unsubscribe) {
      want = &unsub->user_ids;
      want_user = &unsub->user_id;
    }
    if (want == nullptr) {
      r.error =
          "ReadPlainIdList accepted a frame ParseClientFrame does not read "
          "as the same type";
      return r;
    }
    if (ids.replace != want_replace) {
      r.error = "ReadPlainIdList read replace otherwise";
      return r;
    }
    if (ids.user_id.has_value() != want_user->has_value() ||
        (ids.user_id && *ids.user_id != **want_user)) {
      r.error = "ReadPlainIdList read userId otherwise";
      return r;
    }
    if (!std::equal(ids.user_ids.begin(), ids.user_ids.end(), want->begin(),
                    want->end())) {
      r.error = "ReadPlainIdList read the ids otherwise";
      return r;
    }
  }
  return r;
}

HubReport RunHubSequence(std::string_view data) {
  HubRun run;
  return run.Run(data);
}

}  // namespace presence::fuzz
