// Protocol adapters: how the load generator speaks each benchmarked system.
//
// The generator (load_generator.cc) owns sockets and time; an Adapter only
// turns workload intents ("user 7 is now away", "subscribe to these users")
// into that system's frames and turns received frames into Views. No I/O
// here, so the protocol logic stays out of the Beast translation unit.
//
// Users are named "u<index>" in every system, so a View carries the index
// and the workload can look up when that change was sent (its latency
// stamp) without putting a timestamp on the wire: every system then sends
// the frames its users would send, at their natural size.

#ifndef PRESENCE_BENCH_ADAPTERS_H_
#define PRESENCE_BENCH_ADAPTERS_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace presence::bench {

enum class System { kPresence, kWsRelay, kSocketIo, kYWebsocket };

// Parses "presence", "ws", "socketio", "yws"; false if unknown.
bool ParseSystem(std::string_view name, System* out);
const char* SystemName(System system);

enum class Status : int8_t { kNone = -1, kOnline = 0, kAway = 1, kOffline = 2 };
const char* StatusName(Status status);

// One user's state as one receiver learned it from one frame.
struct View {
  int user = -1;
  Status status = Status::kNone;  // kNone: no status field (hidden/unknown)
  bool typing = false;
  bool has_last_seen = false;
};

// Per-connection protocol state, owned by the connection.
struct ConnState {
  int user = 0;
  int room = 0;  // y-websocket room / socket.io namespace-less group
  std::vector<int> subscribe;  // users to watch once connected
  bool ready = false;  // set by the adapter: connected, authed, subscribed
  bool snapshot_seen = false;  // the answer to the subscription arrived
  uint64_t y_clock = 0;        // y-websocket awareness clock
  Status status = Status::kOnline;
  int typing_conversation = -1;  // -1: not typing
  std::string session;  // Presence: the id from welcome, sent to resume
};

// What one received message produced.
struct Parsed {
  std::vector<std::string> replies;  // frames to send back (auth steps, pongs)
  std::vector<View> views;
  bool is_snapshot = false;  // the answer to a subscription
  int errors = 0;            // error frames from the server
  std::string first_error;
};

class Adapter {
 public:
  virtual ~Adapter() = default;
  // HTTP target of the WebSocket upgrade.
  virtual std::string Target(const ConnState& conn) const = 0;
  virtual bool Binary() const { return false; }
  // Frames to send right after the upgrade.
  virtual std::vector<std::string> OnOpen(ConnState& conn) = 0;
  virtual void OnMessage(ConnState& conn, std::string_view msg,
                         Parsed* out) = 0;
  virtual std::string StatusFrame(ConnState& conn, Status status) = 0;
  virtual std::string TypingFrame(ConnState& conn, int conversation) = 0;
  // Empty when the system has no explicit subscription (y-websocket rooms).
  virtual std::string SubscribeFrame(ConnState& conn,
                                     const std::vector<int>& users) = 0;
};

// `jwt_secret` is used by Presence only (it signs HS256 tokens itself).
std::unique_ptr<Adapter> MakeAdapter(System system,
                                     const std::string& jwt_secret);

// Exposed for the adapters' own checks.
std::string MakeJwt(const std::string& secret, const std::string& sub,
                    int64_t exp_s);
// Scans JSON text for {"userId":"uN",...} objects in the fixed field order
// the servers write; appends one View per object found.
void ScanViews(std::string_view text, std::vector<View>* views);

}  // namespace presence::bench

#endif  // PRESENCE_BENCH_ADAPTERS_H_
