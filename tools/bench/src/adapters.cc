#include "adapters.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstring>

namespace presence::bench {
namespace {

std::string Base64Url(std::string_view in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v =
        (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  if (i + 1 == in.size()) {
    uint32_t v = uint8_t(in[i]) << 16;
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
  } else if (i + 2 == in.size()) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8);
    out += kAlphabet[v >> 18];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
  }
  return out;
}

std::string UserName(int user) { return "u" + std::to_string(user); }

// Appends ["u1","u2",...] to `out`.
void AppendIdArray(const std::vector<int>& users, std::string* out) {
  *out += '[';
  for (size_t i = 0; i < users.size(); ++i) {
    if (i) *out += ',';
    *out += "\"u";
    *out += std::to_string(users[i]);
    *out += '"';
  }
  *out += ']';
}

Status ParseStatusAt(std::string_view s) {
  if (s.starts_with("online")) return Status::kOnline;
  if (s.starts_with("away")) return Status::kAway;
  if (s.starts_with("offline")) return Status::kOffline;
  return Status::kNone;
}

// ---- Presence: protocol v1 (docs/protocol.md) ----
class PresenceAdapter : public Adapter {
 public:
  explicit PresenceAdapter(std::string secret) : secret_(std::move(secret)) {}
  std::string Target(const ConnState&) const override { return "/ws"; }
  std::vector<std::string> OnOpen(ConnState& conn) override {
    // One hour is longer than any bounded run.
    int64_t exp = time(nullptr) + 3600;
    std::string auth = "{\"type\":\"auth\",\"token\":\"" +
                       MakeJwt(secret_, UserName(conn.user), exp) +
                       "\",\"device\":\"web\"";
    // A reconnecting client resumes its session (docs/protocol.md).
    if (!conn.session.empty()) auth += ",\"session\":\"" + conn.session + "\"";
    auth += '}';
    return {auth};
  }
  void OnMessage(ConnState& conn, std::string_view msg, Parsed* out) override {
    if (msg.starts_with("{\"type\":\"presence_bulk\"")) {
      ScanViews(msg, &out->views);
      if (!conn.snapshot_seen) {
        conn.snapshot_seen = true;
        out->is_snapshot = true;
        conn.ready = true;
      }
    } else if (msg.starts_with("{\"type\":\"welcome\"")) {
      static constexpr std::string_view kSession = "\"session\":\"";
      if (size_t s = msg.find(kSession); s != std::string_view::npos) {
        size_t b = s + kSession.size();
        conn.session = std::string(msg.substr(b, msg.find('"', b) - b));
      }
      if (conn.subscribe.empty()) {
        conn.ready = true;
      } else {
        out->replies.push_back(SubscribeFrame(conn, conn.subscribe));
      }
    } else if (msg.starts_with("{\"type\":\"error\"")) {
      ++out->errors;
      out->first_error = std::string(msg.substr(0, 200));
    }
  }
  std::string StatusFrame(ConnState& conn, Status status) override {
    conn.status = status;
    return std::string("{\"type\":\"presence\",\"status\":\"") +
           StatusName(status) + "\"}";
  }
  std::string TypingFrame(ConnState& conn, int conversation) override {
    conn.typing_conversation = conversation;
    return "{\"type\":\"activity\",\"activity\":{\"type\":\"typing\","
           "\"conversationId\":\"c" +
           std::to_string(conversation) + "\"}}";
  }
  std::string SubscribeFrame(ConnState&,
                             const std::vector<int>& users) override {
    std::string f = "{\"type\":\"presence_subscribe\",\"userIds\":";
    AppendIdArray(users, &f);
    f += '}';
    return f;
  }

 private:
  std::string secret_;
};

// ---- a hand-rolled relay on `ws` (tools/bench/peers/ws_relay.cjs) ----
class WsRelayAdapter : public Adapter {
 public:
  std::string Target(const ConnState& conn) const override {
    return "/?user=" + UserName(conn.user);
  }
  std::vector<std::string> OnOpen(ConnState& conn) override {
    if (conn.subscribe.empty()) {
      conn.ready = true;
      return {};
    }
    return {SubscribeFrame(conn, conn.subscribe)};
  }
  void OnMessage(ConnState& conn, std::string_view msg, Parsed* out) override {
    ScanViews(msg, &out->views);
    if (msg.starts_with("{\"type\":\"snapshot\"")) {
      out->is_snapshot = true;
      conn.snapshot_seen = true;
      conn.ready = true;
    }
  }
  std::string StatusFrame(ConnState& conn, Status status) override {
    conn.status = status;
    return std::string("{\"type\":\"presence\",\"status\":\"") +
           StatusName(status) + "\"}";
  }
  std::string TypingFrame(ConnState& conn, int conversation) override {
    conn.typing_conversation = conversation;
    return "{\"type\":\"typing\",\"conversationId\":\"c" +
           std::to_string(conversation) + "\"}";
  }
  std::string SubscribeFrame(ConnState&,
                             const std::vector<int>& users) override {
    std::string f = "{\"type\":\"subscribe\",\"userIds\":";
    AppendIdArray(users, &f);
    f += '}';
    return f;
  }
};

// ---- socket.io 4 over its WebSocket transport (Engine.IO v4 framing) ----
// "0{...}" open, "40" connect to "/", "2"/"3" ping/pong, "42[event,data]".
class SocketIoAdapter : public Adapter {
 public:
  std::string Target(const ConnState& conn) const override {
    return "/socket.io/?EIO=4&transport=websocket&user=" + UserName(conn.user);
  }
  std::vector<std::string> OnOpen(ConnState&) override { return {}; }
  void OnMessage(ConnState& conn, std::string_view msg, Parsed* out) override {
    if (msg.empty()) return;
    switch (msg[0]) {
      case '0':  // Engine.IO open: join the default namespace.
        out->replies.push_back("40");
        return;
      case '2':  // Engine.IO ping: the client answers (the server times out).
        out->replies.push_back("3");
        return;
      case '4':
        break;
      default:
        return;
    }
    if (msg.starts_with("40")) {  // namespace connected
      if (conn.subscribe.empty()) {
        conn.ready = true;
      } else {
        out->replies.push_back(SubscribeFrame(conn, conn.subscribe));
      }
      return;
    }
    if (msg.starts_with("44")) {
      ++out->errors;
      out->first_error = std::string(msg.substr(0, 200));
      return;
    }
    ScanViews(msg, &out->views);
    if (msg.starts_with("42[\"snapshot\"")) {
      out->is_snapshot = true;
      conn.snapshot_seen = true;
      conn.ready = true;
    }
  }
  std::string StatusFrame(ConnState& conn, Status status) override {
    conn.status = status;
    return std::string("42[\"presence\",\"") + StatusName(status) + "\"]";
  }
  std::string TypingFrame(ConnState& conn, int conversation) override {
    conn.typing_conversation = conversation;
    return "42[\"typing\",\"c" + std::to_string(conversation) + "\"]";
  }
  std::string SubscribeFrame(ConnState&,
                             const std::vector<int>& users) override {
    std::string f = "42[\"subscribe\",";
    AppendIdArray(users, &f);
    f += ']';
    return f;
  }
};

// ---- y-websocket 2.1 awareness (lib0 encoding, y-protocols/awareness) ----
void WriteVarUint(uint64_t v, std::string* out) {
  while (v > 0x7f) {
    out->push_back(char(0x80 | (v & 0x7f)));
    v >>= 7;
  }
  out->push_back(char(v));
}

bool ReadVarUint(std::string_view* in, uint64_t* v) {
  *v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (in->empty()) return false;
    uint8_t b = uint8_t((*in)[0]);
    in->remove_prefix(1);
    *v |= uint64_t(b & 0x7f) << shift;
    if (!(b & 0x80)) return true;
  }
  return false;
}

bool ReadVarBytes(std::string_view* in, std::string_view* bytes) {
  uint64_t len;
  if (!ReadVarUint(in, &len) || len > in->size()) return false;
  *bytes = in->substr(0, len);
  in->remove_prefix(len);
  return true;
}

class YWebsocketAdapter : public Adapter {
 public:
  // A y-websocket user joins the document (room) of what they watch; every
  // member's awareness state reaches every member.
  std::string Target(const ConnState& conn) const override {
    return "/room-" + std::to_string(conn.room);
  }
  bool Binary() const override { return true; }
  std::vector<std::string> OnOpen(ConnState& conn) override {
    // As WebsocketProvider does on open: sync step 1 with an empty state
    // vector, then the local awareness state.
    std::string sync1;
    WriteVarUint(0, &sync1);  // messageSync
    WriteVarUint(0, &sync1);  // syncStep1
    WriteVarUint(1, &sync1);  // state vector bytes: length 1
    sync1.push_back(0);       // no clients
    conn.ready = true;
    return {sync1, StatusFrame(conn, conn.status)};
  }
  void OnMessage(ConnState& conn, std::string_view msg, Parsed* out) override {
    uint64_t type;
    if (!ReadVarUint(&msg, &type)) return;
    if (type == 0) {  // sync: answer step 1 with an empty step 2, like a client
      uint64_t step;
      if (ReadVarUint(&msg, &step) && step == 0) {
        std::string sync2;
        WriteVarUint(0, &sync2);
        WriteVarUint(1, &sync2);
        WriteVarUint(2, &sync2);
        sync2.push_back(0);
        sync2.push_back(0);
        out->replies.push_back(sync2);
      }
      return;
    }
    if (type != 1) return;
    std::string_view update;
    if (!ReadVarBytes(&msg, &update)) return;
    uint64_t n;
    if (!ReadVarUint(&update, &n)) return;
    for (uint64_t i = 0; i < n; ++i) {
      uint64_t client, clock;
      std::string_view json;
      if (!ReadVarUint(&update, &client) || !ReadVarUint(&update, &clock) ||
          !ReadVarBytes(&update, &json)) {
        return;
      }
      if (json == "null") {  // the state was removed: the user left
        out->views.push_back({int(client) - 1, Status::kOffline, false, false});
      } else {
        ScanViews(json, &out->views);
      }
    }
    (void)conn;
  }
  std::string StatusFrame(ConnState& conn, Status status) override {
    conn.status = status;
    return AwarenessFrame(conn);
  }
  std::string TypingFrame(ConnState& conn, int conversation) override {
    conn.typing_conversation = conversation;
    return AwarenessFrame(conn);
  }
  std::string SubscribeFrame(ConnState&, const std::vector<int>&) override {
    return {};
  }

 private:
  std::string AwarenessFrame(ConnState& conn) {
    std::string state = "{\"userId\":\"" + UserName(conn.user) +
                        "\",\"status\":\"" + StatusName(conn.status) + "\"";
    if (conn.typing_conversation >= 0) {
      state += ",\"conversationId\":\"c" +
               std::to_string(conn.typing_conversation) + "\"";
    }
    state += '}';
    std::string update;
    WriteVarUint(1, &update);
    WriteVarUint(uint64_t(conn.user) + 1, &update);  // clientID: user + 1
    WriteVarUint(++conn.y_clock, &update);
    WriteVarUint(state.size(), &update);
    update += state;
    std::string frame;
    WriteVarUint(1, &frame);  // messageAwareness
    WriteVarUint(update.size(), &frame);
    frame += update;
    return frame;
  }
};

}  // namespace

bool ParseSystem(std::string_view name, System* out) {
  if (name == "presence")
    *out = System::kPresence;
  else if (name == "ws")
    *out = System::kWsRelay;
  else if (name == "socketio")
    *out = System::kSocketIo;
  else if (name == "yws")
    *out = System::kYWebsocket;
  else
    return false;
  return true;
}

const char* SystemName(System system) {
  switch (system) {
    case System::kPresence:
      return "presence";
    case System::kWsRelay:
      return "ws";
    case System::kSocketIo:
      return "socketio";
    case System::kYWebsocket:
      return "yws";
  }
  return "?";
}

const char* StatusName(Status status) {
  switch (status) {
    case Status::kOnline:
      return "online";
    case Status::kAway:
      return "away";
    case Status::kOffline:
      return "offline";
    case Status::kNone:
      break;
  }
  return "none";
}

std::string MakeJwt(const std::string& secret, const std::string& sub,
                    int64_t exp_s) {
  std::string signing_input =
      Base64Url(R"({"alg":"HS256","typ":"JWT"})") + "." +
      Base64Url("{\"sub\":\"" + sub + "\",\"exp\":" + std::to_string(exp_s) +
                "}");
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  HMAC(EVP_sha256(), secret.data(), int(secret.size()),
       reinterpret_cast<const unsigned char*>(signing_input.data()),
       signing_input.size(), mac, &mac_len);
  return signing_input + "." +
         Base64Url(
             std::string_view(reinterpret_cast<const char*>(mac), mac_len));
}

void ScanViews(std::string_view text, std::vector<View>* views) {
  static constexpr std::string_view kUser = "\"userId\":\"u";
  size_t pos = text.find(kUser);
  while (pos != std::string_view::npos) {
    size_t p = pos + kUser.size();
    int user = 0;
    while (p < text.size() && text[p] >= '0' && text[p] <= '9')
      user = user * 10 + (text[p++] - '0');
    size_t next = text.find(kUser, p);
    std::string_view region =
        text.substr(p, next == std::string_view::npos ? text.npos : next - p);
    View v;
    v.user = user;
    if (size_t s = region.find("\"status\":\""); s != std::string_view::npos) {
      v.status = ParseStatusAt(region.substr(s + 10));
    }
    v.typing = region.find("\"conversationId\":\"") != std::string_view::npos;
    v.has_last_seen = region.find("\"lastSeen\":") != std::string_view::npos;
    views->push_back(v);
    pos = next;
  }
}

std::unique_ptr<Adapter> MakeAdapter(System system,
                                     const std::string& jwt_secret) {
  switch (system) {
    case System::kPresence:
      return std::make_unique<PresenceAdapter>(jwt_secret);
    case System::kWsRelay:
      return std::make_unique<WsRelayAdapter>();
    case System::kSocketIo:
      return std::make_unique<SocketIoAdapter>();
    case System::kYWebsocket:
      return std::make_unique<YWebsocketAdapter>();
  }
  return nullptr;
}

}  // namespace presence::bench
