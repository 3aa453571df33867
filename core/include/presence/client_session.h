// ClientSession: the browser half of Presence, as a sans-I/O state machine.
//
// It decides everything a client does and owns nothing: the host (the JS shim
// in web/, or a test) opens sockets, delivers frames and runs one timer.
//
// Inputs (Handle* / app calls), each with the current time, which must not go
// backwards:
//   Start, Stop                   - the app wants to be connected, or not
//   SetToken                      - the token for the next auth (the host
//                                   fetches a fresh one before each connect)
//   SetStatus, SetActivity, StartTyping, Subscribe, Unsubscribe, Replace...
//   HandleSocketOpen/Message/Close, HandleTimeout, HandleNetwork(online)
//   HandlePageVisibility, HandlePageFocus, HandleUserInput, HandlePageHide,
//   HandlePageShow                - what the page tells about the person at it
// Outputs, polled after any input, in this order:
//   PollAction()    - open or close the socket (at most one pending)
//   PollTransmit()  - text frames to send, oldest first
//   PollChanges()   - users whose View changed since the last poll
//   NextDeadline()  - when to call HandleTimeout next (nullopt: no timer)
//
// Rules (DESIGN.md "Client"): the status sent is the app's chosen status,
// except that a chosen `online` shows as `away` while the page is hidden or
// blurred or idle for `idle_ms` (see attention.h), and as `offline` while the
// page sits in the back/forward cache; heartbeat every `heartbeatMs` from
// `welcome` when nothing else was sent; reconnect with full-jitter backoff
// (base 500 ms, cap 30 s) and resume with the old session id; after a reconnect
// re-send the current status (in auth) and a fresh activity, and re-subscribe
// everything; while disconnected, status changes collapse to the latest; the
// local activity clears 3 s after it was last set (typing stops); a
// `presence_bulk` replaces the cached View of each user in it.
//
// Not thread-safe; one instance per connection the app wants.

#ifndef PRESENCE_CLIENT_SESSION_H_
#define PRESENCE_CLIENT_SESSION_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "presence/activity.h"
#include "presence/attention.h"
#include "presence/backoff.h"
#include "presence/codec.h"
#include "presence/model.h"
#include "presence/protocol.h"

namespace presence {

enum class ConnectionState : uint8_t {
  kIdle,            // not started, or stopped
  kConnecting,      // asked the host to open a socket
  kAuthenticating,  // socket open, auth sent, waiting for welcome
  kConnected,       // welcome received
  kReconnecting,    // waiting out a backoff delay
  kOffline,         // the network is down; waiting for it to return
};
std::string_view ToString(ConnectionState state);

enum class ClientActionKind : uint8_t { kOpenSocket, kCloseSocket };

struct ClientAction {
  ClientActionKind kind;
  int close_code = 1000;  // for kCloseSocket
  bool operator==(const ClientAction&) const = default;
};

struct ClientConfig {
  Device device = Device::kWeb;
  BackoffPolicy backoff;
  // Used until a welcome says otherwise.
  int64_t default_heartbeat_ms = 30'000;
  int64_t activity_auto_clear_ms = kActivityAutoClearMs;
  // An auth that gets no welcome within this time is abandoned (retry).
  int64_t auth_timeout_ms = 10'000;
  // A session id kept by the previous page (e.g. in sessionStorage): the
  // first auth resumes it, so a reload does not flap the user offline.
  std::string resume_session;
  // No input for this long makes the page away; 0 turns idleness off.
  int64_t idle_ms = kDefaultIdleMs;
};

class ClientSession {
 public:
  ClientSession(ClientConfig config, Backoff::RandomSource random);
  ClientSession(ClientConfig config, uint64_t seed);

  ClientSession(const ClientSession&) = delete;
  ClientSession& operator=(const ClientSession&) = delete;

  // ---- app inputs ----
  void Start(int64_t now_ms);
  // Closes the socket (if any) and stays idle; the cache is kept.
  void Stop(int64_t now_ms);
  void SetToken(std::string token);

  // Returns false (and changes nothing) for invalid input. This is the
  // status the person chose; status() is what others are told.
  bool SetStatus(Status status, int64_t now_ms);
  bool SetActivity(const Activity& activity, int64_t now_ms);
  bool StartTyping(std::string_view conversation_id, int64_t now_ms);
  // Adds ids to the subscription set; only new ids are sent.
  bool Subscribe(const std::vector<std::string>& user_ids, int64_t now_ms);
  bool Unsubscribe(const std::vector<std::string>& user_ids, int64_t now_ms);
  // Makes `user_ids` the whole subscription set (a scrolling list).
  bool ReplaceSubscriptions(const std::vector<std::string>& user_ids,
                            int64_t now_ms);

  // ---- transport inputs ----
  void HandleSocketOpen(int64_t now_ms);
  // Returns the parse error for a frame that is not valid protocol; the
  // frame is then ignored.
  std::optional<CodecError> HandleMessage(std::string_view text,
                                          int64_t now_ms);
  void HandleSocketClose(int code, int64_t now_ms);
  void HandleTimeout(int64_t now_ms);
  // Browser `online`/`offline` events: offline pauses reconnecting, online
  // reconnects at once.
  void HandleNetwork(bool online, int64_t now_ms);

  // ---- page inputs (a host without a page sends none) ----
  // Report the page's state before Start, so the first auth carries it.
  void HandlePageVisibility(bool visible, int64_t now_ms);
  void HandlePageFocus(bool focused, int64_t now_ms);
  // A key, pointer, wheel or touch event. Cheap: forward them all.
  void HandleUserInput(int64_t now_ms);
  // `persisted`: the page goes into (or comes back from) the back/forward
  // cache, where it lingers unseen, so it counts as offline. A page that
  // unloads just loses its socket: the server's leave grace then tells a
  // reload (resumed, no flap) from a close (offline, last seen then). What
  // the page reports after an unloading pagehide (browsers hide it next) is
  // ignored, or a reload would blip away.
  void HandlePageHide(bool persisted, int64_t now_ms);
  void HandlePageShow(bool persisted, int64_t now_ms);

  // ---- outputs ----
  std::optional<ClientAction> PollAction();
  std::optional<std::string> PollTransmit();
  std::vector<std::string> PollChanges();
  // The same drain for a host that keeps its own copy of each subscribed
  // user's id (the WASM bindings): each changed View comes with a small
  // `key` that stands for its user while subscribed (a dropped user's key
  // may be given to the next new subscription), and `new_key` is true the
  // first time a key is reported for its user, so the host learns the id
  // once and afterwards needs no string per change. `removed`: the ids of
  // users reported without a View (dropped). First-change order, as
  // PollChanges, within each list.
  struct Change {
    const View* view;
    uint32_t key;
    bool new_key;
  };
  void PollChanges(std::vector<Change>* changed,
                   std::vector<std::string>* removed);
  std::optional<int64_t> NextDeadline() const;

  // ---- state ----
  ConnectionState state() const { return state_; }
  const std::string& session_id() const { return session_id_; }
  const std::string& user_id() const { return user_id_; }
  // What others are told: the chosen status as the page's attention and
  // lifecycle allow.
  Status status() const;
  Status chosen_status() const { return status_; }
  const Attention& attention() const { return attention_; }
  const std::optional<Activity>& activity() const;
  int64_t heartbeat_ms() const { return heartbeat_ms_; }
  // Server clock minus local clock, from the last welcome.
  int64_t server_offset_ms() const { return server_offset_ms_; }
  std::optional<ErrorFrame> last_error() const { return last_error_; }
  const std::set<std::string>& subscriptions() const { return subscriptions_; }
  // The cached View of a subscribed user; nullptr before the first bulk.
  const View* GetView(std::string_view user_id) const;
  int reconnect_attempts() const { return backoff_.attempt(); }

 private:
  // Implementation-defined; see client_session.cc.
  bool HasSocket() const;
  void Connect(int64_t now_ms);
  void ScheduleReconnect(int64_t now_ms);
  // The socket is gone (closed, failed or abandoned): forget what only that
  // socket knew and decide how to get back.
  void ForgetTransport();
  void OnTransportLost(int close_code, int64_t now_ms);
  void Send(const ClientFrame& frame, int64_t now_ms);
  void SendStatus(int64_t now_ms);
  // Sends status() if the current socket's server was told otherwise.
  void SyncStatus(int64_t now_ms);
  void SendActivity(const Activity& activity, int64_t now_ms);
  void SendSubscriptions(const std::vector<std::string>& ids, bool replace,
                         int64_t now_ms);
  void SendUnsubscriptions(const std::vector<std::string>& ids, int64_t now_ms);
  void OnWelcome(const WelcomeFrame& welcome, int64_t now_ms);
  // Replaces the cached View of each subscribed user in the bulk.
  void ApplyBulk(const std::vector<ViewRef>& views);
  // Forgets a user no longer subscribed (reported if it had a View).
  void DropSlot(std::string_view user_id);

  // One per user subscribed, or dropped in this poll window (kept until the
  // poll reports it): the id, its View once a bulk brought one, whether it
  // is listed in changes_ (changed_in == poll_window_) and its key (Change:
  // the slot's index in slots_).
  struct Slot {
    std::string id;
    uint32_t hash = 0;
    bool subscribed = false;
    bool key_told = false;
    uint64_t changed_in = 0;
    std::optional<View> view;
  };
  // Lists the slot in changes_ once per window.
  void MarkChanged(uint32_t key);
  // The slot of a user just subscribed (a slot dropped in this window is
  // taken back, key and all).
  void AddSlot(const std::string& user_id);
  // The key of `user_id`'s slot (subscribed or not), or -1.
  int64_t FindSlot(std::string_view user_id, uint32_t hash) const;
  // Frees a slot: its key goes back to the pool.
  void FreeSlot(uint32_t key);
  // Calls `fn(slot, key)` per change of this window in first-change order,
  // then drains (and frees the dropped slots).
  template <typename Fn>
  void DrainChanges(Fn fn);

  ClientConfig config_;
  Backoff backoff_;
  ConnectionState state_ = ConnectionState::kIdle;
  bool started_ = false;
  bool network_online_ = true;
  std::string token_;
  std::string session_id_;
  std::string user_id_;
  Status status_ = Status::kOnline;
  Attention attention_;
  // In the back/forward cache (pagehide with persisted).
  bool page_frozen_ = false;
  // Unloading (pagehide without persisted): page signals are ignored.
  bool page_unloading_ = false;
  // What the current socket's server was told (auth or presence frame).
  std::optional<Status> sent_status_;
  ExpiringActivity activity_;
  // The last activity sent on this socket and when (resend throttling).
  std::optional<Activity> sent_activity_;
  int64_t sent_activity_ms_ = 0;
  // A server may still show an activity of ours: it gets `idle` when that
  // activity ends, even if it ended while we were disconnected.
  bool activity_announced_ = false;
  // A server (a resumed session) may still hold subscriptions of ours.
  bool subscriptions_announced_ = false;
  int64_t heartbeat_ms_;
  int64_t server_offset_ms_ = 0;
  int64_t last_sent_ms_ = 0;
  std::optional<int64_t> reconnect_at_ms_;
  // Connect or auth deadline (kConnecting, kAuthenticating).
  std::optional<int64_t> auth_deadline_ms_;
  std::optional<ErrorFrame> last_error_;
  std::set<std::string> subscriptions_;
  // The slots by key (a free key's slot has an empty id and is in
  // free_keys_), and an open-addressing hash index over them: each entry is
  // 0 (empty), kTombstone, or key + 1; the size is a power of two.
  std::vector<Slot> slots_;
  std::vector<uint32_t> free_keys_;
  std::vector<uint32_t> index_;
  size_t index_used_ = 0;  // entries not empty (keys and tombstones)
  static constexpr uint32_t kTombstone = 0xFFFFFFFFu;
  // Reused by every bulk: the views of the frame, pointing into its text.
  std::vector<ViewRef> bulk_scratch_;
  // The current poll window (1, 2, ...), and the keys of the slots changed
  // or dropped in it, in first-change order.
  uint64_t poll_window_ = 1;
  std::vector<uint32_t> changes_;
  // One per input in practice; a queue so that an unpolled close is never
  // overwritten by a later open.
  std::vector<ClientAction> actions_;
  std::vector<std::string> outbox_;
  size_t outbox_head_ = 0;
};

}  // namespace presence

#endif  // PRESENCE_CLIENT_SESSION_H_
