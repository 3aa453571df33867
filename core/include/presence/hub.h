// Hub: the server half of Presence, as a sans-I/O state machine.
//
// The host (presence-server, or a test) owns sockets and the clock and feeds
// the hub events; the hub decides every presence rule and queues outputs.
//
// Inputs, each with the current time, which must not go backwards:
//   HandleOpen(conn)        a socket upgraded to WebSocket (auth due in 5 s)
//   HandleText(conn, text)  a text frame, as received
//   HandlePong(conn)        liveness only (a pong or any inbound bytes)
//   HandleClose(conn)       the socket is gone (either side closed it)
//   HandleTimeout()         time passed; harmless to call at any time
//   HandleSent()            optional: the frames polled so far have been
//                           written to the sockets (see the leading edge)
//   UpdateSettings / UpdateContacts   stored already by the host
//   Shutdown()              stop: last seen of everyone connected = now
//   RestoreSession(saved)   a session a clean shutdown saved (see below)
// Cluster inputs (HubConfig::cluster; see node_share.h), each node named by
// the host with an id unique in the cluster:
//   HandleRemoteShare(node, share)   another node's share of one user
//   ReplaceRemoteNode(node, shares)  that node's whole state (a resync)
//   HandleRemoteAlive(node)          the node is alive (its heartbeat)
//   HandleRemoteGone(node)           the node left cleanly (leave grace)
//   SetClusterLink(up)               the link to the other nodes dropped
//                                    or returned
// Outputs, polled after any input:
//   PollTransmit()   frames, pings and closes, per connection, in order
//   PollLastSeen()   last-seen values to persist
//   PollShares()     cluster: this node's changed shares, to publish
//   NextDeadline()   when to call HandleTimeout next
//   SavedSessions()  after Shutdown: the sessions to persist for a restart
//
// Restart (one node): a clean shutdown leaves every session as if its
// socket had closed cleanly at that moment. The host persists
// SavedSessions() with the last seen values, and the next process restores
// them with RestoreSession before it accepts sockets: each waits out its
// leave grace again, counted from the restore (the downtime does not count,
// a documented departure from "closed less than leaveGraceMs ago"), so a
// client that resumes within it keeps its user online without a flap, and a
// session not resumed is dropped after the grace with the shutdown moment
// as last seen. Nothing is restored after a downtime of timeoutMs or more
// (such a session would have timed out anyway), nor after a crash (nothing
// was saved). In cluster mode the host saves nothing: the other nodes give
// a node that leaves cleanly the leave grace (HandleRemoteGone).
//
// Rules (DESIGN.md "Rules"): multi-session aggregation (over local sessions
// and other nodes' shares); last seen from the
// hub's `now`; liveness in two layers (2 x pingMs without any answer: dead,
// dropped at once; timeoutMs without a frame: dropped); epochs (a session
// resumed on a newer connection ignores the older one); leave grace with
// resume by session id; activity TTL; per-viewer projection diff; coalesced
// flushes on a fixed grid of flushMs, with a leading edge: a viewer that got
// no frame in the last flushMs and has nothing waiting gets a change at the
// next HandleTimeout (NextDeadline is then `now`), later ones wait for the
// grid (docs/protocol.md; either way a frame's timing depends only on what
// that viewer may see). A change is projected once per viewer class and
// serialized once per distinct view (classes that see the same share one
// encoding); a viewer's bulk frame is assembled from those
// shared pieces (a frame of one view is the shared piece itself). Each
// subscription remembers its viewer's class; a contacts change reclassifies
// the target's subscribers at the next flush.
//
// Cluster rules: a remote node's shares count until `remote_ttl_ms` after
// the node was last heard from; then they expire and the users they kept
// online go offline with that moment as last seen (a dead node leaves no
// ghosts). While the cluster link is down nothing expires (what other nodes
// said is frozen, not guessed), every client is told with an `unavailable`
// error, and when the link returns each node gets a fresh `remote_ttl_ms`.
// A session id listed by another node with a higher epoch than ours was
// resumed there: ours is dropped quietly (no last seen) and its socket, if
// still open, closed 4409. A session id we do not hold but another node
// lists for the same user is resumed here with a higher epoch.
//
// Not thread-safe. `env` is not owned and must outlive the hub.

#ifndef PRESENCE_HUB_H_
#define PRESENCE_HUB_H_

#include <array>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <queue>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "presence/activity.h"
#include "presence/codec.h"
#include "presence/hub_env.h"
#include "presence/model.h"
#include "presence/node_share.h"
#include "presence/protocol.h"
#include "presence/rate_limiter.h"

namespace presence {

using ConnId = uint64_t;

struct HubConfig {
  int64_t heartbeat_ms = 30'000;
  int64_t ping_ms = 5'000;
  int64_t timeout_ms = 75'000;
  int64_t leave_grace_ms = 5'000;
  int64_t activity_ttl_ms = 3'000;
  int64_t flush_ms = 50;
  int64_t auth_timeout_ms = 5'000;
  size_t max_subscriptions = kMaxSubscriptions;
  RateLimit rate_limit;
  // Cluster mode: track this node's shares for PollShares, and let remote
  // nodes' shares expire this long after the node was last heard from.
  bool cluster = false;
  int64_t remote_ttl_ms = 75'000;
};

// A View encoded once per viewer class and shared by every frame that
// carries it. `frame` is the whole presence_bulk frame of this view alone
// (what most flushes send a watcher), so such a frame costs no allocation
// and no copy; json() is the view's own object inside it, which larger
// frames copy.
struct EncodedView {
  View view;
  std::string frame;
  std::string_view json() const {
    return std::string_view(frame).substr(
        kBulkFramePrefix.size(),
        frame.size() - kBulkFramePrefix.size() - kBulkFrameSuffix.size());
  }
};
using SharedView = std::shared_ptr<const EncodedView>;

// One output for one connection.
struct Transmit {
  enum class Kind : uint8_t { kFrame, kPing, kClose };
  Kind kind = Kind::kFrame;
  ConnId conn = 0;
  // kFrame: the whole frame: `view->frame` if `view` is set (a bulk frame
  // of one view, shared), else `text`. kClose: the close reason.
  std::string text;
  SharedView view;
  int close_code = 0;  // kClose

  // The frame's bytes (kFrame); valid while this Transmit lives.
  std::string_view Bytes() const {
    return view ? std::string_view(view->frame) : std::string_view(text);
  }
  std::string Flatten() const { return std::string(Bytes()); }
  size_t FrameBytes() const { return Bytes().size(); }
};

struct LastSeenUpdate {
  std::string user_id;
  int64_t last_seen_ms = 0;
  bool operator==(const LastSeenUpdate&) const = default;
};

// A session as a clean shutdown left it (Hub::SavedSessions), for the next
// process to restore (Hub::RestoreSession).
struct SavedSession {
  std::string id;
  std::string user_id;
  Device device = Device::kWeb;
  Status status = Status::kOnline;
  uint64_t epoch = 0;
  int64_t last_active_ms = 0;
  // What was left of its leave grace at the shutdown (the whole grace for a
  // session whose socket was open).
  int64_t grace_left_ms = 0;
  int64_t saved_at_ms = 0;  // the shutdown moment
  bool operator==(const SavedSession&) const = default;
};

// Counters for /metrics; monotonic unless named as a gauge.
struct HubStats {
  // gauges
  size_t connections = 0;
  size_t sessions = 0;
  size_t users_online = 0;
  size_t users_away = 0;
  size_t users_loaded = 0;
  size_t subscription_edges = 0;
  // counters
  std::map<std::string, uint64_t> frames_in;   // by frame type
  std::map<std::string, uint64_t> frames_out;  // by frame type
  std::map<std::string, uint64_t> errors;      // by error code
  uint64_t bytes_out = 0;
  uint64_t flushes = 0;
  uint64_t views_encoded = 0;
  uint64_t dead_connections = 0;
  uint64_t timed_out_sessions = 0;
  // cluster (gauges, then counters)
  size_t remote_nodes = 0;
  size_t remote_shares = 0;  // users with a session on another node
  bool cluster_link_up = true;
  uint64_t remote_nodes_expired = 0;
  uint64_t sessions_moved_away = 0;  // resumed on another node
};

class Hub {
 public:
  Hub(HubConfig config, HubEnv* env);
  ~Hub();

  Hub(const Hub&) = delete;
  Hub& operator=(const Hub&) = delete;

  // ---- inputs ----
  void HandleOpen(ConnId conn, int64_t now_ms);
  void HandleText(ConnId conn, std::string_view text, int64_t now_ms);
  void HandlePong(ConnId conn, int64_t now_ms);
  void HandleClose(ConnId conn, int64_t now_ms);
  void HandleTimeout(int64_t now_ms);
  // The host wrote every frame polled so far to its sockets (call it after
  // draining PollTransmit following a HandleTimeout). Optional: without it
  // a flush counts as done when it began, and a flush that takes longer
  // than flushMs makes every viewer look idle to the leading edge.
  void HandleSent(int64_t now_ms);
  void UpdateSettings(std::string_view user_id, const PrivacySettings& settings,
                      int64_t now_ms);
  void UpdateContacts(std::string_view user_id,
                      const std::vector<std::string>& contacts, int64_t now_ms);
  // Sets the last seen of every connected user to now and closes every
  // connection with 1001. The hub accepts no connection afterwards.
  void Shutdown(int64_t now_ms);
  // A session a clean shutdown saved, detached and in its leave grace from
  // `now_ms` on. Ignored if the hub is shut down or already holds the id,
  // if the id, user or grace is not valid, or if the shutdown was timeoutMs
  // or more before `now_ms`. Call before the first socket opens.
  void RestoreSession(const SavedSession& saved, int64_t now_ms);

  // ---- cluster inputs (ignored unless config.cluster) ----
  // Applies `node`'s share of one user and refreshes the node's expiry.
  void HandleRemoteShare(std::string_view node, const NodeShare& share,
                         int64_t now_ms);
  // `node`'s complete state: shares not in `shares` are removed.
  void ReplaceRemoteNode(std::string_view node,
                         const std::vector<NodeShare>& shares, int64_t now_ms);
  void HandleRemoteAlive(std::string_view node, int64_t now_ms);
  // The node shut down cleanly: its shares go after leave_grace_ms (time
  // for its clients to reconnect elsewhere), last seen = now.
  void HandleRemoteGone(std::string_view node, int64_t now_ms);
  void SetClusterLink(bool up, int64_t now_ms);

  // ---- outputs ----
  std::optional<Transmit> PollTransmit();
  std::vector<LastSeenUpdate> PollLastSeen();
  // Cluster: this node's shares that changed since the last poll, by user
  // id. Empty unless config.cluster.
  std::vector<NodeShare> PollShares();
  // Cluster: every share this node holds now (users with a local session),
  // for a full republish after the link returns.
  std::vector<NodeShare> LocalShares() const;
  std::optional<int64_t> NextDeadline() const;
  // After Shutdown(`now_ms`): every session the hub still holds (connected
  // at the shutdown or in its leave grace), sorted by id. Empty if the hub
  // is not shut down or has no leave grace.
  std::vector<SavedSession> SavedSessions(int64_t now_ms) const;

  // ---- introspection (tests, metrics) ----
  // The aggregated state, if the user is loaded.
  std::optional<PresenceState> GetState(std::string_view user_id) const;
  // The view `viewer_id` would get of `target_id` now (target loaded).
  std::optional<View> ViewFor(std::string_view viewer_id,
                              std::string_view target_id) const;
  // The user of an authenticated connection.
  std::optional<std::string> UserOf(ConnId conn) const;
  HubStats Stats() const;
  const HubConfig& config() const { return config_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  HubConfig config_;
};

}  // namespace presence

#endif  // PRESENCE_HUB_H_
