#include "presence/hub.h"

#include <algorithm>
#include <functional>
#include <limits>
#include <type_traits>
#include <utility>

#include "presence/codec.h"
#include "presence/privacy.h"

namespace presence {
namespace {

constexpr int64_t kNever = std::numeric_limits<int64_t>::max();
// A session's pending-views buffer keeps at most this capacity between
// flushes.
constexpr size_t kKeptPendingViews = 64;

enum class TimerKind : uint8_t { kConnection, kGrace, kActivity, kRemoteNode };

// A lazy timer: entries are never removed; a popped entry whose owner has
// moved its deadline (or is gone) is skipped. Each owner records the time of
// its earliest queued entry so it pushes again only to move earlier.
struct TimerEntry {
  int64_t at;
  TimerKind kind;
  ConnId conn;      // kConnection
  std::string key;  // session id (kGrace), user id (kActivity), node id
  bool operator>(const TimerEntry& other) const { return at > other.at; }
};

std::string_view FrameTypeName(const ClientFrame& frame) {
  switch (frame.index()) {
    case 0:
      return "auth";
    case 1:
      return "presence";
    case 2:
      return "heartbeat";
    case 3:
      return "activity";
    case 4:
      return "presence_subscribe";
    default:
      return "presence_unsubscribe";
  }
}

const std::optional<std::string>& ClaimedUser(const ClientFrame& frame) {
  return std::visit(
      [](const auto& f) -> const std::optional<std::string>& {
        return f.user_id;
      },
      frame);
}

// A session's subscriptions: target user slot -> index of the edge in that
// target's subscriber list. Open addressing with linear probing and
// backward-shift deletion (no tombstones) in a power-of-two array of 8-byte
// entries at most 3/4 full: about 13 bytes a subscription, where a node-based
// set cost some 60 with its buckets.
class SlotMap {
 public:
  struct Entry {
    uint32_t key;
    uint32_t value;
  };
  static constexpr uint32_t kEmpty = std::numeric_limits<uint32_t>::max();

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  // The entry's value, or null. (Shallow const: the value may be changed.)
  uint32_t* Find(uint32_t key) const {
    if (size_ == 0) return nullptr;
    for (uint32_t i = Home(key);; i = (i + 1) & mask_) {
      Entry& e = entries_[i];
      if (e.key == key) return &e.value;
      if (e.key == kEmpty) return nullptr;
    }
  }
  // `key` must be absent.
  void Insert(uint32_t key, uint32_t value) {
    if ((size_ + 1) * 4 > Capacity() * 3) Rehash(size_ + 1);
    uint32_t i = Home(key);
    while (entries_[i].key != kEmpty) i = (i + 1) & mask_;
    entries_[i] = {key, value};
    ++size_;
  }

  bool Erase(uint32_t key) {
    if (size_ == 0) return false;
    uint32_t i = Home(key);
    while (entries_[i].key != key) {
      if (entries_[i].key == kEmpty) return false;
      i = (i + 1) & mask_;
    }
    // Pull back every later entry of the probe run that may sit at `i`.
    for (uint32_t j = (i + 1) & mask_; entries_[j].key != kEmpty;
         j = (j + 1) & mask_) {
      const uint32_t home = Home(entries_[j].key);
      // `j`'s entry may move to `i` unless its home lies in (i, j].
      const bool home_between =
          i <= j ? (home > i && home <= j) : (home > i || home <= j);
      if (home_between) continue;
      entries_[i] = entries_[j];
      i = j;
    }
    entries_[i].key = kEmpty;
    --size_;
    // A long list dropped to a few must not pin its table.
    if (size_ == 0) {
      Clear();
    } else if (Capacity() > 16 && size_ * 8 < Capacity()) {
      Rehash(size_);
    }
    return true;
  }

  // Room for `n` entries without a rehash.
  void Reserve(size_t n) {
    if (n * 4 > Capacity() * 3) Rehash(n);
  }

  void Clear() {
    entries_.reset();
    mask_ = 0;
    shift_ = 32;
    size_ = 0;
  }

  template <typename F>
  void ForEach(F f) const {
    if (size_ == 0) return;
    for (uint32_t i = 0; i < Capacity(); ++i) {
      if (entries_[i].key != kEmpty) f(entries_[i].key, entries_[i].value);
    }
  }

 private:
  uint32_t Capacity() const { return entries_ ? mask_ + 1 : 0; }
  // Fibonacci hashing: slots are dense small integers, spread by the top
  // bits of the product.
  uint32_t Home(uint32_t key) const {
    return static_cast<uint32_t>(key * 2654435769u) >> shift_;
  }

  // The smallest power of two (at least 4) holding `n` at a load <= 3/4.
  void Rehash(size_t n) {
    uint32_t capacity = 4;
    int bits = 2;
    while (n * 4 > capacity * size_t{3}) {
      capacity *= 2;
      ++bits;
    }
    std::unique_ptr<Entry[]> old = std::move(entries_);
    const uint32_t old_capacity = old ? mask_ + 1 : 0;
    entries_ = std::make_unique<Entry[]>(capacity);
    for (uint32_t i = 0; i < capacity; ++i) entries_[i].key = kEmpty;
    mask_ = capacity - 1;
    shift_ = 32 - bits;
    for (uint32_t i = 0; i < old_capacity; ++i) {
      if (old[i].key == kEmpty) continue;
      uint32_t j = Home(old[i].key);
      while (entries_[j].key != kEmpty) j = (j + 1) & mask_;
      entries_[j] = old[i];
    }
  }

  std::unique_ptr<Entry[]> entries_;
  uint32_t mask_ = 0;
  uint32_t shift_ = 32;
  uint32_t size_ = 0;
};

// Hash lookups by string_view, so a frame's ids are looked up in place.
struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const {
    return std::hash<std::string_view>{}(s);
  }
};

int StatusRank(Status status) {
  switch (status) {
    case Status::kOnline:
      return 2;
    case Status::kAway:
      return 1;
    case Status::kOffline:
      return 0;
  }
  return 0;
}

}  // namespace

struct Hub::Impl {
  struct User;
  struct Session;

  struct Connection {
    ConnId id = 0;
    Session* session = nullptr;  // null until authenticated
    uint64_t epoch = 0;
    int64_t opened_ms = 0;
    int64_t last_heard_ms = 0;
    int64_t last_frame_ms = 0;
    int64_t next_ping_ms = 0;
    std::optional<int64_t> token_expires_ms;
    RateLimiter limiter;
    int64_t timer_at = kNever;
  };

  struct Session {
    std::string id;
    User* user = nullptr;
    Device device = Device::kWeb;
    Status status = Status::kOnline;
    int64_t last_active_ms = 0;
    std::optional<ConnId> conn;
    uint64_t epoch = 0;
    std::optional<int64_t> grace_until_ms;
    int64_t grace_timer_at = kNever;
    uint32_t slot = 0;  // in session_slots
    // Target user slot -> index of this session's edge in its subscribers.
    SlotMap subscriptions;
    // Views for this session's next frame: filled and drained within a
    // flush (pointers into the targets' caches, which do not change during
    // it). Kept between flushes so its capacity is reused.
    std::vector<const SharedView*> pending;
    // Leading edge (see Flush): when this session last got a presence_bulk,
    // and the grid point its held-back views wait for.
    int64_t last_bulk_ms = std::numeric_limits<int64_t>::min() / 2;
    int64_t held_until_ms = std::numeric_limits<int64_t>::min() / 2;
  };

  // A subscription, kept by its target in 8 bytes: the subscriber session's
  // slot with its viewer class (so a flush needs no contacts lookup per
  // watcher; recomputed when the target's contacts change), and which of
  // the target's kept views it was last sent (the diff baseline).
  struct Edge {
    uint32_t session_cls;  // session slot << 2 | viewer class
    uint32_t delivered;    // index into the target's `views`
    uint32_t session() const { return session_cls >> 2; }
    ViewerClass cls() const {
      return static_cast<ViewerClass>(session_cls & 3);
    }
    void set_cls(ViewerClass c) {
      session_cls = (session_cls & ~3u) | static_cast<uint32_t>(c);
    }
  };
  static_assert(sizeof(Edge) == 8);

  // An encoded view of a user and how many edges were last sent it. The
  // current one of each class is kept whatever the count; an older one
  // while an edge (of a detached session, or until the next flush) still
  // refers to it, so the flush can tell a real change from a view that
  // changed and changed back.
  struct KeptView {
    SharedView view;
    uint32_t edges = 0;
  };
  static constexpr uint32_t kNoView = std::numeric_limits<uint32_t>::max();

  struct User {
    explicit User(int64_t activity_ttl_ms) : activity(activity_ttl_ms) {}
    std::string id;
    PrivacySettings settings;
    std::unordered_set<std::string> contacts;
    std::optional<int64_t> last_seen_ms;
    std::vector<Session*> sessions;
    ExpiringActivity activity;
    int64_t activity_at_ms = 0;  // when the local activity was last set
    int64_t activity_timer_at = kNever;
    // Cluster: last seen from this node's own sessions, and the share last
    // queued for publishing.
    std::optional<int64_t> local_seen_ms;
    NodeShare published;
    PresenceState state;
    // The current projection for each viewer class, encoded once.
    std::vector<KeptView> views;
    // The index in `views` of each viewer class's current projection.
    std::array<uint32_t, kViewerClassCount> cache{kNoView, kNoView, kNoView};
    bool cache_stale = true;
    bool cache_changed = false;  // since the last flush
    bool reclassify = false;     // contacts changed since the last flush
    bool dirty = false;
    // The subscribe frame that last named this user (see HandleSubscribe).
    uint64_t subscribe_mark = 0;
    uint32_t slot = 0;  // in user_slots
    // One edge per subscriber session, in no order; each session's
    // `subscriptions` holds the index of its edge here.
    std::vector<Edge> subscribers;
  };

  // A remote node as far as this hub knows it.
  struct RemoteNode {
    int64_t heard_ms = 0;
    int64_t expires_at_ms = 0;
    int64_t timer_at = kNever;
    std::unordered_set<std::string> users;  // with a share (status set)
  };
  using SharesByNode = std::map<std::string, NodeShare, std::less<>>;

  Impl(const HubConfig& config, HubEnv* env) : config(config), env(env) {}

  const HubConfig& config;
  HubEnv* env;
  bool shut_down = false;
  std::unordered_map<ConnId, Connection> conns;
  std::unordered_map<std::string, Session> sessions;
  std::unordered_map<std::string, User, StringHash, std::equal_to<>> users;
  // Dense slots, so an edge names its session and a subscription its target
  // in 4 bytes; a freed slot is reused.
  std::vector<Session*> session_slots;
  std::vector<uint32_t> free_session_slots;
  std::vector<User*> user_slots;
  std::vector<uint32_t> free_user_slots;
  std::priority_queue<TimerEntry, std::vector<TimerEntry>,
                      std::greater<TimerEntry>>
      timers;
  std::optional<int64_t> flush_at;  // the next grid point with changes
  std::optional<int64_t> lead_at;   // a leading-edge flush is due
  // Until then no session can take a leading edge: the last grid flush
  // sent every connection a frame (so a busy hub walks its changes once).
  int64_t all_busy_until = std::numeric_limits<int64_t>::min();
  // The last flush that sent frames: when it began, and when the host said
  // its frames had left (HandleSent; until then, when it began). A slow
  // flush's viewers count as served from the end of it, or after one longer
  // than the window every viewer would look idle and lead at once.
  int64_t last_flush_ms = std::numeric_limits<int64_t>::min() / 2;
  int64_t last_flush_sent_ms = std::numeric_limits<int64_t>::min() / 2;
  bool awaiting_sent = false;
  bool all_busy_from_last_flush = false;
  std::vector<User*> dirty;
  // Scratch of Flush, kept so its capacity is reused.
  std::vector<User*> flushing;
  std::vector<Session*> touched;
  // Scratch of HandleSubscribe, likewise.
  uint64_t subscribe_mark = 0;
  std::vector<User*> subscribe_targets;
  std::vector<std::string_view> subscribe_missing;
  std::vector<const SharedView*> subscribe_views;
  // A subscribe or unsubscribe frame's ids, read in place.
  IdListRef id_frame;
  std::deque<Transmit> out;
  std::unordered_map<std::string, int64_t> last_seen_out;
  HubStats counters;
  // Cluster state. Shares are kept for every user, loaded or not, so a user
  // loaded later aggregates at once.
  bool link_up = true;
  std::unordered_map<std::string, RemoteNode> nodes;
  std::unordered_map<std::string, SharesByNode> remote;  // user -> shares
  std::map<std::string, NodeShare> share_out;

  // ---- outputs ----

  void SendFrame(ConnId conn, std::string text, std::string_view type) {
    counters.frames_out[std::string(type)]++;
    counters.bytes_out += text.size();
    Transmit t;
    t.conn = conn;
    t.text = std::move(text);
    out.push_back(std::move(t));
  }

  // Queues one presence_bulk of `views` (pointers valid for this call):
  // one view goes out as its shared encoded frame, more are copied into
  // one buffer (a view is some tens of bytes; copying them is cheaper than
  // a reference count per view per frame, and the host writes one buffer).
  void SendBulk(ConnId conn, const std::vector<const SharedView*>& views) {
    Transmit t;
    t.conn = conn;
    if (views.size() == 1) {
      t.view = *views.front();
    } else {
      size_t n = kBulkFramePrefix.size() + kBulkFrameSuffix.size();
      for (const SharedView* v : views) {
        n += (*v)->json().size() + kBulkFrameSeparator.size();
      }
      t.text.reserve(n);
      t.text.append(kBulkFramePrefix);
      for (size_t i = 0; i < views.size(); ++i) {
        if (i != 0) t.text.append(kBulkFrameSeparator);
        t.text.append((*views[i])->json());
      }
      t.text.append(kBulkFrameSuffix);
    }
    counters.bytes_out += t.FrameBytes();
    out.push_back(std::move(t));
  }

  void SendError(ConnId conn, ErrorCode code, std::string message) {
    counters.errors[std::string(ToString(code))]++;
    SendFrame(conn,
              Serialize(ServerFrame{ErrorFrame{code, std::move(message)}}),
              "error");
  }

  void SendClose(ConnId conn, int code, std::string reason) {
    Transmit t;
    t.kind = Transmit::Kind::kClose;
    t.conn = conn;
    t.close_code = code;
    t.text = std::move(reason);
    out.push_back(std::move(t));
  }

  // ---- users ----

  template <typename T>
  static uint32_t TakeSlot(std::vector<T*>& slots, std::vector<uint32_t>& free,
                           T* owner) {
    if (free.empty()) {
      slots.push_back(owner);
      return static_cast<uint32_t>(slots.size() - 1);
    }
    const uint32_t slot = free.back();
    free.pop_back();
    slots[slot] = owner;
    return slot;
  }

  template <typename T>
  static void FreeSlot(std::vector<T*>& slots, std::vector<uint32_t>& free,
                       uint32_t slot) {
    slots[slot] = nullptr;
    free.push_back(slot);
  }

  User& GetOrLoadUser(std::string_view id) {
    auto it = users.find(id);
    if (it != users.end()) return it->second;
    StoredUser stored = env->LoadUser(id);
    auto [pos, inserted] =
        users.try_emplace(std::string(id), config.activity_ttl_ms);
    User& u = pos->second;
    u.id = pos->first;
    u.slot = TakeSlot(user_slots, free_user_slots, &u);
    u.settings = stored.settings;
    u.contacts.insert(stored.contacts.begin(), stored.contacts.end());
    u.last_seen_ms = stored.last_seen_ms;
    u.published.user_id = u.id;
    u.state = Aggregate(u);
    return u;
  }

  User* FindUser(std::string_view id) {
    auto it = users.find(id);
    return it == users.end() ? nullptr : &it->second;
  }

  // Forgets a user nothing refers to; the host's store keeps what matters.
  void MaybeForget(User& u) {
    if (!u.sessions.empty() || !u.subscribers.empty() || u.dirty) return;
    FreeSlot(user_slots, free_user_slots, u.slot);
    users.erase(u.id);
  }

  const SharesByNode* RemoteOf(const std::string& user_id) const {
    auto it = remote.find(user_id);
    return it == remote.end() ? nullptr : &it->second;
  }

  static bool Active(std::optional<Status> status) {
    return status == Status::kOnline || status == Status::kAway;
  }

  // The winning local session: highest status, then most recently active.
  static const Session* LocalWinner(const User& u) {
    const Session* winner = nullptr;
    for (const Session* session : u.sessions) {
      if (winner == nullptr ||
          StatusRank(session->status) > StatusRank(winner->status) ||
          (session->status == winner->status &&
           session->last_active_ms > winner->last_active_ms)) {
        winner = session;
      }
    }
    return winner;
  }

  // One rule over local sessions and other nodes' shares alike.
  PresenceState Aggregate(const User& u) const {
    PresenceState s;
    s.user_id = u.id;
    s.last_seen_ms = u.last_seen_ms;
    std::optional<Status> status;
    Device device = Device::kWeb;
    int64_t active_ms = 0;
    auto consider = [&](Status st, int64_t at, Device dev) {
      if (!status || StatusRank(st) > StatusRank(*status) ||
          (st == *status && at > active_ms)) {
        status = st;
        active_ms = at;
        device = dev;
      }
    };
    if (const Session* w = LocalWinner(u)) {
      consider(w->status, w->last_active_ms, w->device);
    }
    const SharesByNode* shares = RemoteOf(u.id);
    if (shares != nullptr) {
      for (const auto& [node, share] : *shares) {
        if (share.status) {
          consider(*share.status, share.last_active_ms, share.device);
        }
      }
    }
    if (status) {
      s.status = status;
    } else if (u.last_seen_ms) {
      s.status = Status::kOffline;
    }
    if (Active(s.status)) {
      s.device = device;
      // The most recently set activity, wherever it was set.
      s.activity = u.activity.current();
      int64_t activity_at = s.activity ? u.activity_at_ms : 0;
      if (shares != nullptr) {
        for (const auto& [node, share] : *shares) {
          if (share.activity &&
              (!s.activity || share.activity_at_ms > activity_at)) {
            s.activity = share.activity;
            activity_at = share.activity_at_ms;
          }
        }
      }
    }
    return s;
  }

  // What this node alone says about the user (node_share.h).
  NodeShare LocalShare(const User& u) const {
    NodeShare share;
    share.user_id = u.id;
    if (const Session* w = LocalWinner(u)) {
      share.status = w->status;
      share.device = w->device;
      share.last_active_ms = w->last_active_ms;
    }
    if (Active(share.status)) {
      share.activity = u.activity.current();
      if (share.activity) share.activity_at_ms = u.activity_at_ms;
    } else {
      share.last_seen_ms = u.local_seen_ms;
    }
    share.sessions.reserve(u.sessions.size());
    for (const Session* session : u.sessions) {
      share.sessions.push_back({session->id, session->epoch});
    }
    std::sort(
        share.sessions.begin(), share.sessions.end(),
        [](const SessionRef& a, const SessionRef& b) { return a.id < b.id; });
    return share;
  }

  // Re-derives the user's state after any input that touched it.
  void Recompute(User& u, int64_t now_ms) {
    if (config.cluster) {
      NodeShare share = LocalShare(u);
      if (share != u.published) {
        u.published = share;
        share_out[u.id] = std::move(share);
      }
    }
    PresenceState next = Aggregate(u);
    if (next.status != Status::kOnline && next.status != Status::kAway &&
        u.activity.current()) {
      // Activity clears at once when the user goes offline.
      u.activity.Clear();
    }
    if (next == u.state) return;
    // Last seen shows only with offline; while online or away it moves on
    // every frame and no projection can change because of it.
    const bool visible_change = next.status != u.state.status ||
                                next.device != u.state.device ||
                                next.activity != u.state.activity ||
                                (next.status == Status::kOffline &&
                                 next.last_seen_ms != u.state.last_seen_ms);
    u.state = std::move(next);
    if (visible_change) MarkDirty(u, now_ms);
  }

  // Last seen from this node's own sessions: persisted, and published in
  // the user's share once no local session is active.
  void SetLastSeen(User& u, int64_t ms) {
    if (!u.local_seen_ms || *u.local_seen_ms < ms) u.local_seen_ms = ms;
    MergeLastSeen(u, ms, /*persist=*/true);
  }

  void MergeLastSeen(User& u, int64_t ms, bool persist) {
    if (u.last_seen_ms && *u.last_seen_ms >= ms) return;
    u.last_seen_ms = ms;
    if (persist) last_seen_out[u.id] = ms;
  }

  void MarkDirty(User& u, int64_t now_ms) {
    u.cache_stale = true;
    if (!u.dirty) {
      u.dirty = true;
      dirty.push_back(&u);
    }
    if (!flush_at) {
      // A fixed grid: when a viewer's frame leaves depends only on when
      // something it may see changed, never on changes hidden from it.
      flush_at = (now_ms / config.flush_ms + 1) * config.flush_ms;
    }
    // A viewer idle for a window gets a change at once (Flush), so a
    // flush runs at the next turn too, unless no viewer can be idle.
    if (!lead_at && now_ms < *flush_at && now_ms >= all_busy_until) {
      lead_at = now_ms;
    }
  }

  void RefreshCache(User& u) {
    if (!u.cache_stale) return;
    u.cache_stale = false;
    for (int c = 0; c < kViewerClassCount; ++c) {
      View v = Project(u.state, u.settings, static_cast<ViewerClass>(c));
      const uint32_t old = u.cache[c];
      if (old != kNoView && u.views[old].view->view == v) continue;
      // Classes that see the same (most often all three, or all but self)
      // share one encoding: one encode per distinct view, and one copy
      // kept per idle user instead of three.
      uint32_t same = kNoView;
      for (int d = 0; d < kViewerClassCount; ++d) {
        const uint32_t other = u.cache[d];
        if (d != c && other != kNoView && u.views[other].view->view == v) {
          same = other;
          break;
        }
      }
      if (same != kNoView) {
        u.cache[c] = same;
        ReleaseIfUnused(u, old);
        u.cache_changed = true;
        continue;
      }
      auto encoded = std::make_shared<EncodedView>();
      encoded->frame.append(kBulkFramePrefix);
      AppendViewJson(v, &encoded->frame);
      encoded->frame.append(kBulkFrameSuffix);
      encoded->view = std::move(v);
      u.cache[c] = KeepView(u, std::move(encoded));
      ReleaseIfUnused(u, old);
      u.cache_changed = true;
      counters.views_encoded++;
    }
  }

  // A place in `u.views` for a new view: a released one, else a new one.
  static uint32_t KeepView(User& u, SharedView view) {
    for (uint32_t i = 0; i < u.views.size(); ++i) {
      if (!u.views[i].view) {
        u.views[i] = {std::move(view), 0};
        return i;
      }
    }
    u.views.push_back({std::move(view), 0});
    return static_cast<uint32_t>(u.views.size() - 1);
  }

  // Lets a view go once no edge and no class refers to it. Places are not
  // moved (edges and a flush's pending views point at them); trailing
  // released ones are dropped.
  static void ReleaseIfUnused(User& u, uint32_t index) {
    if (index == kNoView) return;
    KeptView& kept = u.views[index];
    if (kept.edges != 0 || index == u.cache[0] || index == u.cache[1] ||
        index == u.cache[2]) {
      return;
    }
    kept.view.reset();
    while (!u.views.empty() && !u.views.back().view) u.views.pop_back();
  }
  static_assert(kViewerClassCount == 3);

  // Makes `index` the view `edge` (of target `u`) was last sent.
  static void SetDelivered(User& u, Edge& edge, uint32_t index) {
    const uint32_t old = edge.delivered;
    if (old == index) return;
    ++u.views[index].edges;
    edge.delivered = index;
    --u.views[old].edges;
    ReleaseIfUnused(u, old);
  }

  static ViewerClass ClassOf(const User& viewer, const User& target) {
    if (&viewer == &target) return ViewerClass::kSelf;
    if (target.contacts.contains(viewer.id)) return ViewerClass::kContact;
    return ViewerClass::kOther;
  }

  // ---- timers ----

  void ScheduleConnection(Connection& c) {
    int64_t at;
    if (c.session == nullptr) {
      at = c.opened_ms + config.auth_timeout_ms;
    } else {
      at = std::min({c.next_ping_ms, c.last_heard_ms + 2 * config.ping_ms,
                     c.last_frame_ms + config.timeout_ms});
      if (c.token_expires_ms) at = std::min(at, *c.token_expires_ms);
    }
    if (at >= c.timer_at) return;
    c.timer_at = at;
    timers.push({at, TimerKind::kConnection, c.id, {}});
  }

  void ScheduleActivity(User& u) {
    std::optional<int64_t> at = u.activity.deadline();
    if (!at || *at >= u.activity_timer_at) return;
    u.activity_timer_at = *at;
    timers.push({*at, TimerKind::kActivity, 0, u.id});
  }

  void ScheduleGrace(Session& s) {
    if (!s.grace_until_ms || *s.grace_until_ms >= s.grace_timer_at) return;
    s.grace_timer_at = *s.grace_until_ms;
    timers.push({*s.grace_until_ms, TimerKind::kGrace, 0, s.id});
  }

  // ---- sessions ----

  // A new session `id` of `u`, with its slot.
  Session& AddSession(const std::string& id, User& u) {
    auto pos = sessions.try_emplace(id).first;
    Session& s = pos->second;
    s.id = pos->first;
    s.user = &u;
    // (Slots stay far below 2^30: an edge keeps two bits for the class.)
    s.slot = TakeSlot(session_slots, free_session_slots, &s);
    u.sessions.push_back(&s);
    return s;
  }

  // Subscribes `s` to `t` (not yet subscribed), last sent `view` of `t`.
  void AddEdge(Session& s, User& t, ViewerClass cls, uint32_t view) {
    std::vector<Edge>& edges = t.subscribers;
    // Grown by half, not doubled: most lists are short and long-lived.
    if (edges.size() == edges.capacity()) {
      edges.reserve(edges.size() + edges.size() / 2 + 2);
    }
    s.subscriptions.Insert(t.slot, static_cast<uint32_t>(edges.size()));
    edges.push_back({s.slot << 2 | static_cast<uint32_t>(cls), view});
    ++t.views[view].edges;
  }

  // Removes the edge at `pos` of `t`; the subscriber's own entry for `t`
  // is the caller's to erase. The last edge moves into its place.
  void RemoveEdge(User& t, uint32_t pos) {
    std::vector<Edge>& edges = t.subscribers;
    const uint32_t delivered = edges[pos].delivered;
    if (pos + 1 != edges.size()) {
      edges[pos] = edges.back();
      *session_slots[edges[pos].session()]->subscriptions.Find(t.slot) = pos;
    }
    edges.pop_back();
    --t.views[delivered].edges;
    ReleaseIfUnused(t, delivered);
    // A list that emptied or shrank a lot must not pin its capacity.
    if (edges.empty()) {
      std::vector<Edge>().swap(edges);
    } else if (edges.capacity() > 16 && edges.size() * 4 < edges.capacity()) {
      edges.shrink_to_fit();
    }
  }

  void Unsubscribe(Session& s, User& target) {
    const uint32_t* pos = s.subscriptions.Find(target.slot);
    if (pos == nullptr) return;
    RemoveEdge(target, *pos);
    s.subscriptions.Erase(target.slot);
    MaybeForget(target);
  }

  // Removes a session for good: its user may go offline.
  void DropSession(Session& s, int64_t now_ms) {
    User& u = *s.user;
    std::vector<User*> targets;
    targets.reserve(s.subscriptions.size());
    // Removing an edge moves another session's edge of the same target,
    // never one of this session's: the positions read here stay right.
    s.subscriptions.ForEach([&](uint32_t slot, uint32_t pos) {
      User* t = user_slots[slot];
      RemoveEdge(*t, pos);
      targets.push_back(t);
    });
    s.subscriptions.Clear();
    std::erase(u.sessions, &s);
    if (s.conn) conns.erase(*s.conn);
    FreeSlot(session_slots, free_session_slots, s.slot);
    sessions.erase(s.id);  // `s` is gone from here on
    Recompute(u, now_ms);
    for (User* t : targets) {
      if (t != &u) MaybeForget(*t);
    }
    MaybeForget(u);
  }

  // The socket of `c` is gone or going: its session waits out the grace.
  void DetachConnection(Connection& c, int64_t now_ms) {
    Session* s = c.session;
    const ConnId id = c.id;
    conns.erase(id);  // `c` is gone from here on
    if (s == nullptr) return;
    s->conn.reset();
    if (s->status != Status::kOffline) SetLastSeen(*s->user, now_ms);
    if (config.leave_grace_ms <= 0) {
      DropSession(*s, now_ms);
      return;
    }
    s->grace_until_ms = now_ms + config.leave_grace_ms;
    ScheduleGrace(*s);
    Recompute(*s->user, now_ms);
  }

  // A connection found dead or silent: no grace, last seen = `heard_ms`.
  void KillConnection(Connection& c, int64_t heard_ms, std::string reason,
                      int64_t now_ms) {
    const ConnId id = c.id;
    SendClose(id, kCloseTimeout, std::move(reason));
    Session* s = c.session;
    conns.erase(id);  // `c` is gone from here on
    if (s == nullptr) return;
    s->conn.reset();
    if (s->status != Status::kOffline) SetLastSeen(*s->user, heard_ms);
    DropSession(*s, now_ms);
  }

  void Authenticate(Connection& c, std::string_view user_id,
                    const AuthFrame& auth, const TokenCheck& check,
                    int64_t now_ms) {
    User& u = GetOrLoadUser(user_id);
    Session* s = nullptr;
    std::optional<SessionRef> adopted;
    if (auth.session) {
      auto it = sessions.find(*auth.session);
      if (it != sessions.end() && it->second.user == &u) s = &it->second;
      if (it == sessions.end() && config.cluster) {
        adopted = FindRemoteSession(u.id, *auth.session);
      }
    }
    if (s != nullptr) {
      if (s->conn) {
        // The newer connection wins; the old one's late events are ignored
        // because its id no longer maps to this session.
        SendClose(*s->conn, kCloseSessionMoved,
                  "session resumed on another connection");
        conns.erase(*s->conn);
      }
      s->grace_until_ms.reset();
    } else {
      std::string id;
      if (adopted) {
        // Resumed from another node: same id, a higher epoch, so that node
        // lets its copy go when it sees our share.
        id = adopted->id;
      } else {
        id = env->NewSessionId();
        while (!IsValidId(id) || sessions.contains(id)) {
          id = env->NewSessionId();
        }
      }
      s = &AddSession(id, u);
      if (adopted) s->epoch = adopted->epoch;
    }
    s->epoch++;
    s->conn = c.id;
    s->device = auth.device;
    s->status = auth.status.value_or(Status::kOnline);
    s->last_active_ms = now_ms;
    c.session = s;
    c.epoch = s->epoch;
    c.last_frame_ms = now_ms;
    c.next_ping_ms = now_ms + config.ping_ms;
    c.token_expires_ms = check.expires_at_ms;
    c.timer_at = kNever;  // the auth deadline no longer applies
    ScheduleConnection(c);

    SetLastSeen(u, now_ms);
    Recompute(u, now_ms);
    SendFrame(c.id,
              Serialize(ServerFrame{
                  WelcomeFrame{u.id, s->id, config.heartbeat_ms, now_ms}}),
              "welcome");
    if (config.cluster && !link_up) SendUnavailable(c.id);
  }

  // ---- cluster ----

  void SendUnavailable(ConnId conn) {
    SendError(conn, ErrorCode::kUnavailable,
              "cluster link down: presence of users on other nodes may be "
              "stale, settings cannot change until it returns");
  }

  std::optional<SessionRef> FindRemoteSession(const std::string& user_id,
                                              const std::string& id) const {
    const SharesByNode* shares = RemoteOf(user_id);
    if (shares == nullptr) return std::nullopt;
    std::optional<SessionRef> found;
    for (const auto& [node, share] : *shares) {
      for (const SessionRef& ref : share.sessions) {
        if (ref.id == id && (!found || ref.epoch > found->epoch)) found = ref;
      }
    }
    return found;
  }

  RemoteNode& TouchNode(std::string_view name, int64_t now_ms) {
    auto [it, inserted] = nodes.try_emplace(std::string(name));
    RemoteNode& n = it->second;
    n.heard_ms = std::max(n.heard_ms, now_ms);
    n.expires_at_ms = n.heard_ms + config.remote_ttl_ms;
    ScheduleNode(it->first, n);
    return n;
  }

  void ScheduleNode(const std::string& name, RemoteNode& n) {
    if (!link_up || n.expires_at_ms >= n.timer_at) return;
    n.timer_at = n.expires_at_ms;
    timers.push({n.expires_at_ms, TimerKind::kRemoteNode, 0, name});
  }

  // Stores (or removes) one share; the caller has touched the node.
  void ApplyShare(const std::string& name, RemoteNode& n,
                  const NodeShare& share, int64_t now_ms) {
    if (share.status) {
      remote[share.user_id][name] = share;
      n.users.insert(share.user_id);
    } else {
      auto it = remote.find(share.user_id);
      if (it != remote.end()) {
        it->second.erase(name);
        if (it->second.empty()) remote.erase(it);
      }
      n.users.erase(share.user_id);
    }
    // A session of ours listed there with a higher epoch was resumed there.
    for (const SessionRef& ref : share.sessions) {
      auto it = sessions.find(ref.id);
      if (it == sessions.end() || it->second.user->id != share.user_id ||
          ref.epoch <= it->second.epoch) {
        continue;
      }
      counters.sessions_moved_away++;
      if (it->second.conn) {
        SendClose(*it->second.conn, kCloseSessionMoved,
                  "session resumed on another node");
      }
      DropSession(it->second, now_ms);
    }
    if (User* u = FindUser(share.user_id)) {
      if (share.last_seen_ms) {
        MergeLastSeen(*u, *share.last_seen_ms, /*persist=*/false);
      }
      Recompute(*u, now_ms);
    }
  }

  // Removes every share of node `name`; users it kept active get
  // `last_seen_ms` (the last moment the node vouched for them).
  void DropNode(const std::string& name, int64_t last_seen_ms, int64_t now_ms) {
    auto it = nodes.find(name);
    if (it == nodes.end()) return;
    std::vector<std::string> users(it->second.users.begin(),
                                   it->second.users.end());
    nodes.erase(it);
    for (const std::string& user_id : users) {
      auto r = remote.find(user_id);
      if (r == remote.end()) continue;
      auto share = r->second.find(name);
      if (share == r->second.end()) continue;
      const bool was_active = Active(share->second.status);
      r->second.erase(share);
      if (r->second.empty()) remote.erase(r);
      if (User* u = FindUser(user_id)) {
        if (was_active) MergeLastSeen(*u, last_seen_ms, /*persist=*/true);
        Recompute(*u, now_ms);
      }
    }
  }

  void OnNodeTimer(const std::string& name, int64_t at, int64_t now_ms) {
    auto it = nodes.find(name);
    if (it == nodes.end()) return;
    RemoteNode& n = it->second;
    if (at != n.timer_at) return;
    n.timer_at = kNever;
    if (!link_up) return;  // frozen; SetClusterLink(up) re-arms
    if (now_ms < n.expires_at_ms) {
      ScheduleNode(name, n);
      return;
    }
    counters.remote_nodes_expired++;
    DropNode(name, n.heard_ms, now_ms);
  }

  void HandleAuthFrame(Connection& c, std::string_view text, int64_t now_ms) {
    Parsed<ClientFrame> parsed = ParseClientFrame(text);
    const auto* frame = std::get_if<ClientFrame>(&parsed);
    const AuthFrame* auth =
        frame != nullptr ? std::get_if<AuthFrame>(frame) : nullptr;
    if (auth == nullptr) {
      counters.frames_in["invalid"]++;
      Refuse(c, ErrorCode::kUnauthorized,
             frame == nullptr ? std::get<CodecError>(parsed).message
                              : std::string("the first frame must be auth"));
      return;
    }
    counters.frames_in["auth"]++;
    TokenCheck check = env->VerifyToken(auth->token, now_ms);
    if (!check.user_id || !IsValidId(*check.user_id)) {
      Refuse(c, ErrorCode::kUnauthorized, "invalid or expired token");
      return;
    }
    if (check.expires_at_ms && *check.expires_at_ms <= now_ms) {
      Refuse(c, ErrorCode::kUnauthorized, "token expired");
      return;
    }
    if (auth->user_id && *auth->user_id != *check.user_id) {
      Refuse(c, ErrorCode::kForbidden, "userId is not the token's subject");
      return;
    }
    Authenticate(c, *check.user_id, *auth, check, now_ms);
  }

  void Refuse(Connection& c, ErrorCode code, std::string message) {
    const ConnId id = c.id;
    SendError(id, code, std::move(message));
    SendClose(id, kCloseUnauthorized, "unauthorized");
    conns.erase(id);
  }

  // ---- frames of an authenticated session ----

  void HandleSessionFrame(Connection& c, const ClientFrame& frame,
                          int64_t now_ms) {
    Session& s = *c.session;
    User& u = *s.user;
    if (const auto& claim = ClaimedUser(frame); claim && *claim != u.id) {
      SendError(c.id, ErrorCode::kForbidden,
                "userId is not the authenticated user");
      return;
    }
    const bool was_active = s.status != Status::kOffline;
    bool seen = was_active;
    if (std::holds_alternative<AuthFrame>(frame)) {
      SendError(c.id, ErrorCode::kBadRequest, "already authenticated");
      return;
    } else if (const auto* p = std::get_if<PresenceFrame>(&frame)) {
      s.status = p->status;
      s.last_active_ms = now_ms;
      seen = true;  // going offline is seen at that moment too
    } else if (const auto* a = std::get_if<ActivityFrame>(&frame)) {
      s.last_active_ms = now_ms;
      if (u.activity.Set(a->activity, now_ms)) u.activity_at_ms = now_ms;
      ScheduleActivity(u);
    } else if (const auto* sub = std::get_if<SubscribeFrame>(&frame)) {
      IdListRef& ref = RefOf(sub->user_ids);
      ref.replace = sub->replace;
      HandleSubscribe(c, s, ref.user_ids, ref.replace);
    } else if (const auto* unsub = std::get_if<UnsubscribeFrame>(&frame)) {
      HandleUnsubscribe(s, RefOf(unsub->user_ids).user_ids);
    }
    // HeartbeatFrame: liveness and last seen only.
    if (seen) SetLastSeen(u, now_ms);
    Recompute(u, now_ms);
  }

  // The ids of a frame the strict parser read, as the fast path has them.
  IdListRef& RefOf(const std::vector<std::string>& ids) {
    id_frame.user_ids.assign(ids.begin(), ids.end());
    return id_frame;
  }

  // A presence_subscribe or presence_unsubscribe read by ReadPlainIdList:
  // the same as HandleSessionFrame does with the parsed frame.
  void HandleIdFrame(Connection& c, const IdListRef& f, int64_t now_ms) {
    Session& s = *c.session;
    User& u = *s.user;
    if (f.user_id && *f.user_id != u.id) {
      SendError(c.id, ErrorCode::kForbidden,
                "userId is not the authenticated user");
      return;
    }
    const bool was_active = s.status != Status::kOffline;
    if (f.unsubscribe) {
      HandleUnsubscribe(s, f.user_ids);
    } else {
      HandleSubscribe(c, s, f.user_ids, f.replace);
    }
    if (was_active) SetLastSeen(u, now_ms);
    Recompute(u, now_ms);
  }

  void HandleUnsubscribe(Session& s, const std::vector<std::string_view>& ids) {
    for (std::string_view id : ids) {
      if (User* t = FindUser(id)) Unsubscribe(s, *t);
    }
  }

  // Scratch of a large id list is not kept.
  void TrimIdFrame() {
    if (id_frame.user_ids.capacity() > kKeptPendingViews * 64) {
      std::vector<std::string_view>().swap(id_frame.user_ids);
    }
  }

  // Answers a subscribe with one presence_bulk snapshot. Each id is looked
  // up once; duplicates are dropped by a per-user mark rather than a set of
  // ids; each view is the target's cached encoding for this viewer's class
  // (projected and encoded once per class, not once per viewer), and the
  // snapshot is one buffer.
  void HandleSubscribe(Connection& c, Session& s,
                       const std::vector<std::string_view>& ids, bool replace) {
    const uint64_t mark = ++subscribe_mark;
    // The distinct ids in first-seen order, each with its user if loaded.
    std::vector<User*>& targets = subscribe_targets;
    std::vector<std::string_view>& missing = subscribe_missing;
    targets.clear();
    missing.clear();
    std::unordered_set<std::string_view> missing_seen;  // rarely used
    size_t added = 0;  // targets not yet subscribed to
    for (std::string_view id : ids) {
      User* t = FindUser(id);
      if (t == nullptr) {
        if (!missing_seen.insert(id).second) continue;
        missing.push_back(id);
        targets.push_back(nullptr);  // loaded below, after the limit check
        ++added;
        continue;
      }
      if (t->subscribe_mark == mark) continue;
      t->subscribe_mark = mark;
      targets.push_back(t);
      if (s.subscriptions.Find(t->slot) == nullptr) ++added;
    }
    const size_t total =
        replace ? targets.size() : s.subscriptions.size() + added;
    if (total > config.max_subscriptions) {
      SendError(c.id, ErrorCode::kLimit,
                "at most " + std::to_string(config.max_subscriptions) +
                    " subscriptions per connection");
      return;
    }
    if (replace) {
      // Every subscribed user is loaded, so "not in the frame" is "not
      // marked by it".
      std::vector<User*> drop;
      s.subscriptions.ForEach([&](uint32_t slot, uint32_t) {
        User* t = user_slots[slot];
        if (t->subscribe_mark != mark) drop.push_back(t);
      });
      for (User* t : drop) Unsubscribe(s, *t);
    }
    std::vector<const SharedView*>& views = subscribe_views;
    views.clear();
    views.reserve(targets.size());
    s.subscriptions.Reserve(s.subscriptions.size() + added);
    size_t next_missing = 0;
    for (User*& slot : targets) {
      // (Loading users keeps the other users' addresses: map nodes.)
      if (slot == nullptr) slot = &GetOrLoadUser(missing[next_missing++]);
      User& t = *slot;
      RefreshCache(t);
      // The class is computed afresh: a contacts change not yet flushed
      // must already decide what this snapshot shows.
      const ViewerClass cls = ClassOf(*s.user, t);
      const uint32_t view = t.cache[static_cast<int>(cls)];
      // The diff baseline: what this viewer is now sent.
      if (const uint32_t* pos = s.subscriptions.Find(t.slot)) {
        Edge& edge = t.subscribers[*pos];
        edge.set_cls(cls);
        SetDelivered(t, edge, view);
      } else {
        AddEdge(s, t, cls, view);
      }
      // (Later targets never move this one's views: the pointer holds.)
      views.push_back(&t.views[view].view);
    }
    counters.frames_out["presence_bulk"]++;
    SendBulk(c.id, views);
    // Scratch capacity of one large snapshot is not kept.
    if (views.capacity() > kKeptPendingViews * 64) {
      std::vector<const SharedView*>().swap(views);
      std::vector<User*>().swap(targets);
    }
  }

  // ---- the flush ----

  // Whether a leading-edge flush at `now_ms` may send `s` a frame: it got
  // none in the last window and has no views waiting for the grid. Both
  // depend only on frames `s` got, i.e. on what it may see, so a hidden
  // change never moves a viewer's frame.
  bool Leads(const Session& s, int64_t now_ms) const {
    const int64_t last =
        s.last_bulk_ms == last_flush_ms ? last_flush_sent_ms : s.last_bulk_ms;
    return now_ms - last >= config.flush_ms && now_ms >= s.held_until_ms;
  }

  // `grid`: a point of the flushMs grid, where every changed view goes out.
  // Otherwise a leading-edge flush: only viewers that Lead get theirs; the
  // others' edges stay as they were and their targets stay dirty, so the
  // grid flush sends them (collapsed to the latest view).
  void Flush(int64_t now_ms, bool grid) {
    counters.flushes++;
    touched.clear();
    flushing.clear();
    flushing.swap(dirty);
    for (User* u : flushing) {
      u->dirty = false;
      if (u->subscribers.empty()) continue;  // encode when someone looks
      RefreshCache(*u);
      const bool reclassify = u->reclassify;
      if (!u->cache_changed && !reclassify) continue;
      u->cache_changed = false;
      u->reclassify = false;
      bool held = false;
      for (Edge& edge : u->subscribers) {
        Session* s = session_slots[edge.session()];
        // Before the connection check: a session that resumes without
        // re-subscribing keeps this edge.
        if (reclassify) edge.set_cls(ClassOf(*s->user, *u));
        if (!s->conn) continue;  // resumes re-subscribe and get a snapshot
        const uint32_t v = u->cache[static_cast<int>(edge.cls())];
        if (edge.delivered == v) continue;
        if (!grid && !Leads(*s, now_ms)) {
          s->held_until_ms = *flush_at;
          held = true;
          continue;
        }
        const SharedView& current = u->views[v].view;
        const bool same = u->views[edge.delivered].view->view == current->view;
        // (Releasing the old view never moves `current`.)
        SetDelivered(*u, edge, v);
        if (same) continue;
        if (s->pending.empty()) touched.push_back(s);
        s->pending.push_back(&current);
      }
      if (held) {
        u->dirty = true;
        u->cache_changed = true;  // the grid flush walks it again
        dirty.push_back(u);
      }
    }
    counters.frames_out["presence_bulk"] += touched.size();
    if (grid) {
      all_busy_from_last_flush =
          !conns.empty() && touched.size() == conns.size();
      all_busy_until = all_busy_from_last_flush
                           ? now_ms + config.flush_ms
                           : std::numeric_limits<int64_t>::min();
    }
    if (!touched.empty()) {
      last_flush_ms = now_ms;
      last_flush_sent_ms = now_ms;
      awaiting_sent = true;
      if (!grid) all_busy_from_last_flush = false;
    }
    for (Session* s : touched) {
      s->last_bulk_ms = now_ms;
      SendBulk(*s->conn, s->pending);
      s->pending.clear();
      // One large flush (a big subscription list all changing) must not
      // pin its capacity for the session's lifetime.
      if (s->pending.capacity() > kKeptPendingViews) {
        std::vector<const SharedView*>().swap(s->pending);
      }
    }
    for (User* u : flushing) MaybeForget(*u);
  }

  void OnConnectionTimer(ConnId id, int64_t at, int64_t now_ms) {
    auto it = conns.find(id);
    if (it == conns.end()) return;
    Connection& c = it->second;
    if (at != c.timer_at) return;  // superseded by an earlier entry
    c.timer_at = kNever;
    if (c.session == nullptr) {
      if (now_ms >= c.opened_ms + config.auth_timeout_ms) {
        Refuse(c, ErrorCode::kUnauthorized, "no auth frame in time");
        return;
      }
    } else if (now_ms - c.last_heard_ms >= 2 * config.ping_ms) {
      counters.dead_connections++;
      KillConnection(c, c.last_heard_ms, "no answer to pings", now_ms);
      return;
    } else if (now_ms - c.last_frame_ms >= config.timeout_ms) {
      counters.timed_out_sessions++;
      KillConnection(c, c.last_frame_ms, "no frame within timeoutMs", now_ms);
      return;
    } else if (c.token_expires_ms && now_ms >= *c.token_expires_ms) {
      // A clean close: the client resumes with a fresh token, no flap.
      SendError(c.id, ErrorCode::kUnauthorized, "token expired");
      SendClose(c.id, kCloseUnauthorized, "token expired");
      DetachConnection(c, now_ms);
      return;
    } else if (now_ms >= c.next_ping_ms) {
      Transmit t;
      t.kind = Transmit::Kind::kPing;
      t.conn = c.id;
      out.push_back(std::move(t));
      c.next_ping_ms = now_ms + config.ping_ms;
    }
    ScheduleConnection(c);
  }

  void OnGraceTimer(const std::string& session_id, int64_t at, int64_t now_ms) {
    auto it = sessions.find(session_id);
    if (it == sessions.end()) return;
    Session& s = it->second;
    if (at != s.grace_timer_at) return;
    s.grace_timer_at = kNever;
    if (s.conn || !s.grace_until_ms) return;  // resumed
    if (now_ms < *s.grace_until_ms) {
      ScheduleGrace(s);
      return;
    }
    DropSession(s, now_ms);
  }

  void OnActivityTimer(const std::string& user_id, int64_t at, int64_t now_ms) {
    User* u = FindUser(user_id);
    if (u == nullptr || at != u->activity_timer_at) return;
    u->activity_timer_at = kNever;
    if (u->activity.HandleTimeout(now_ms)) {
      Recompute(*u, now_ms);
    } else {
      ScheduleActivity(*u);
    }
  }
};

Hub::Hub(HubConfig config, HubEnv* env)
    : impl_(nullptr), config_(std::move(config)) {
  if (config_.flush_ms < 1) config_.flush_ms = 1;
  if (config_.ping_ms < 1) config_.ping_ms = 1;
  impl_ = std::make_unique<Impl>(config_, env);
}

Hub::~Hub() = default;

void Hub::HandleOpen(ConnId conn, int64_t now_ms) {
  Impl& m = *impl_;
  if (m.shut_down) {
    m.SendClose(conn, kCloseGoingAway, "server shutting down");
    return;
  }
  auto [it, inserted] = m.conns.try_emplace(conn);
  if (!inserted) return;
  Impl::Connection& c = it->second;
  c.id = conn;
  c.opened_ms = now_ms;
  c.last_heard_ms = now_ms;
  c.last_frame_ms = now_ms;
  c.limiter = RateLimiter(config_.rate_limit, now_ms);
  // A new connection has had no frame: it may take a leading edge.
  m.all_busy_until = std::numeric_limits<int64_t>::min();
  m.ScheduleConnection(c);
}

void Hub::HandleText(ConnId conn, std::string_view text, int64_t now_ms) {
  Impl& m = *impl_;
  auto it = m.conns.find(conn);
  if (it == m.conns.end()) return;  // closed, or left behind by a resume
  Impl::Connection& c = it->second;
  c.last_heard_ms = now_ms;
  if (text.size() > kMaxFrameBytes) {
    m.SendClose(conn, kCloseTooBig, "frame too big");
    m.DetachConnection(c, now_ms);
    return;
  }
  if (c.session == nullptr) {
    m.HandleAuthFrame(c, text, now_ms);
    return;
  }
  c.last_frame_ms = now_ms;
  switch (c.limiter.Take(now_ms)) {
    case RateDecision::kAllow:
      break;
    case RateDecision::kReject:
      m.SendError(conn, ErrorCode::kRateLimited, "too many frames");
      return;
    case RateDecision::kClose:
      m.SendError(conn, ErrorCode::kRateLimited, "too many frames");
      m.SendClose(conn, kClosePolicy, "rate limit exceeded");
      m.DetachConnection(c, now_ms);
      return;
  }
  // A subscribe frame can carry 10 000 ids: read in place when plain (the
  // strict parser decides, and words the error, for anything else).
  if (ReadPlainIdList(text, &m.id_frame)) {
    m.counters.frames_in[m.id_frame.unsubscribe ? "presence_unsubscribe"
                                                : "presence_subscribe"]++;
    m.HandleIdFrame(c, m.id_frame, now_ms);
    m.TrimIdFrame();
    m.ScheduleConnection(c);
    return;
  }
  Parsed<ClientFrame> parsed = ParseClientFrame(text);
  if (const auto* error = std::get_if<CodecError>(&parsed)) {
    m.counters.frames_in["invalid"]++;
    m.SendError(conn, ErrorCode::kBadRequest, error->message);
    return;
  }
  const ClientFrame& frame = std::get<ClientFrame>(parsed);
  m.counters.frames_in[std::string(FrameTypeName(frame))]++;
  m.HandleSessionFrame(c, frame, now_ms);
  m.TrimIdFrame();
  m.ScheduleConnection(c);
}

void Hub::HandlePong(ConnId conn, int64_t now_ms) {
  auto it = impl_->conns.find(conn);
  if (it == impl_->conns.end()) return;
  it->second.last_heard_ms = now_ms;
}

void Hub::HandleClose(ConnId conn, int64_t now_ms) {
  auto it = impl_->conns.find(conn);
  if (it == impl_->conns.end()) return;
  impl_->DetachConnection(it->second, now_ms);
}

void Hub::HandleTimeout(int64_t now_ms) {
  Impl& m = *impl_;
  while (!m.timers.empty() && m.timers.top().at <= now_ms) {
    TimerEntry e = m.timers.top();
    m.timers.pop();
    switch (e.kind) {
      case TimerKind::kConnection:
        m.OnConnectionTimer(e.conn, e.at, now_ms);
        break;
      case TimerKind::kGrace:
        m.OnGraceTimer(e.key, e.at, now_ms);
        break;
      case TimerKind::kActivity:
        m.OnActivityTimer(e.key, e.at, now_ms);
        break;
      case TimerKind::kRemoteNode:
        m.OnNodeTimer(e.key, e.at, now_ms);
        break;
    }
  }
  if (m.flush_at && now_ms >= *m.flush_at) {
    m.flush_at.reset();
    m.lead_at.reset();
    m.Flush(now_ms, /*grid=*/true);
  } else if (m.lead_at && now_ms >= *m.lead_at) {
    m.lead_at.reset();
    if (now_ms >= m.all_busy_until) m.Flush(now_ms, /*grid=*/false);
    if (m.dirty.empty()) m.flush_at.reset();
  }
}

void Hub::HandleSent(int64_t now_ms) {
  Impl& m = *impl_;
  if (!m.awaiting_sent) return;
  m.awaiting_sent = false;
  if (now_ms <= m.last_flush_ms) return;
  m.last_flush_sent_ms = now_ms;
  if (m.all_busy_from_last_flush) {
    m.all_busy_until = now_ms + config_.flush_ms;
  }
}

void Hub::UpdateSettings(std::string_view user_id,
                         const PrivacySettings& settings, int64_t now_ms) {
  Impl::User* u = impl_->FindUser(user_id);
  if (u == nullptr || u->settings == settings) return;
  u->settings = settings;
  impl_->MarkDirty(*u, now_ms);
}

void Hub::UpdateContacts(std::string_view user_id,
                         const std::vector<std::string>& contacts,
                         int64_t now_ms) {
  Impl::User* u = impl_->FindUser(user_id);
  if (u == nullptr) return;
  std::unordered_set<std::string> next(contacts.begin(), contacts.end());
  if (next == u->contacts) return;
  u->contacts = std::move(next);
  u->reclassify = true;
  impl_->MarkDirty(*u, now_ms);
}

void Hub::Shutdown(int64_t now_ms) {
  Impl& m = *impl_;
  m.shut_down = true;
  for (auto& [id, c] : m.conns) {
    if (c.session != nullptr && c.session->status != Status::kOffline) {
      m.SetLastSeen(*c.session->user, now_ms);
    }
    m.SendClose(id, kCloseGoingAway, "server shutting down");
  }
  m.conns.clear();
}

void Hub::HandleRemoteShare(std::string_view node, const NodeShare& share,
                            int64_t now_ms) {
  if (!config_.cluster || !IsValidId(share.user_id)) return;
  Impl& m = *impl_;
  Impl::RemoteNode& n = m.TouchNode(node, now_ms);
  m.ApplyShare(std::string(node), n, share, now_ms);
}

void Hub::ReplaceRemoteNode(std::string_view node,
                            const std::vector<NodeShare>& shares,
                            int64_t now_ms) {
  if (!config_.cluster) return;
  Impl& m = *impl_;
  const std::string name(node);
  // Users the snapshot no longer holds were last vouched for when we last
  // heard from the node before it.
  auto known = m.nodes.find(name);
  const int64_t vouched_ms =
      known == m.nodes.end() ? now_ms : known->second.heard_ms;
  Impl::RemoteNode& n = m.TouchNode(node, now_ms);
  std::unordered_set<std::string> keep;
  for (const NodeShare& share : shares) {
    if (share.status && IsValidId(share.user_id)) keep.insert(share.user_id);
  }
  std::vector<std::string> gone;
  for (const std::string& user_id : n.users) {
    if (!keep.contains(user_id)) gone.push_back(user_id);
  }
  for (const std::string& user_id : gone) {
    NodeShare removal;
    removal.user_id = user_id;
    auto r = m.remote.find(user_id);
    if (r != m.remote.end()) {
      auto share = r->second.find(name);
      if (share != r->second.end() && m.Active(share->second.status)) {
        removal.last_seen_ms = vouched_ms;
      }
    }
    m.ApplyShare(name, n, removal, now_ms);
  }
  for (const NodeShare& share : shares) {
    if (IsValidId(share.user_id)) m.ApplyShare(name, n, share, now_ms);
  }
}

void Hub::HandleRemoteAlive(std::string_view node, int64_t now_ms) {
  if (!config_.cluster) return;
  impl_->TouchNode(node, now_ms);
}

void Hub::HandleRemoteGone(std::string_view node, int64_t now_ms) {
  if (!config_.cluster) return;
  Impl& m = *impl_;
  const std::string name(node);
  auto it = m.nodes.find(name);
  if (it == m.nodes.end()) return;
  if (config_.leave_grace_ms <= 0) {
    m.DropNode(name, now_ms, now_ms);
    return;
  }
  // As a cleanly closed socket: its users get the leave grace to reconnect
  // to another node (a rolling deploy does not flap anyone offline), and
  // those who do not go offline with the moment the node left as last seen.
  Impl::RemoteNode& n = it->second;
  n.heard_ms = now_ms;
  n.expires_at_ms = now_ms + config_.leave_grace_ms;
  m.ScheduleNode(name, n);
}

void Hub::SetClusterLink(bool up, int64_t now_ms) {
  Impl& m = *impl_;
  if (!config_.cluster || m.link_up == up) return;
  m.link_up = up;
  if (up) {
    // Nodes heard nothing from us either: each gets a full TTL from now to
    // say it is still there.
    for (auto& [name, n] : m.nodes) {
      n.heard_ms = std::max(n.heard_ms, now_ms);
      n.expires_at_ms = n.heard_ms + config_.remote_ttl_ms;
      m.ScheduleNode(name, n);
    }
    return;
  }
  for (const auto& [id, c] : m.conns) {
    if (c.session != nullptr) m.SendUnavailable(id);
  }
}

std::vector<NodeShare> Hub::PollShares() {
  std::vector<NodeShare> shares;
  shares.reserve(impl_->share_out.size());
  for (auto& [id, share] : impl_->share_out) shares.push_back(std::move(share));
  impl_->share_out.clear();
  return shares;
}

std::vector<NodeShare> Hub::LocalShares() const {
  std::vector<NodeShare> shares;
  for (const auto& [id, u] : impl_->users) {
    if (!u.sessions.empty()) shares.push_back(impl_->LocalShare(u));
  }
  std::sort(shares.begin(), shares.end(),
            [](const NodeShare& a, const NodeShare& b) {
              return a.user_id < b.user_id;
            });
  return shares;
}

std::optional<Transmit> Hub::PollTransmit() {
  if (impl_->out.empty()) return std::nullopt;
  Transmit t = std::move(impl_->out.front());
  impl_->out.pop_front();
  return t;
}

std::vector<LastSeenUpdate> Hub::PollLastSeen() {
  std::vector<LastSeenUpdate> updates;
  updates.reserve(impl_->last_seen_out.size());
  for (auto& [id, ms] : impl_->last_seen_out) updates.push_back({id, ms});
  impl_->last_seen_out.clear();
  std::sort(updates.begin(), updates.end(),
            [](const auto& a, const auto& b) { return a.user_id < b.user_id; });
  return updates;
}

std::optional<int64_t> Hub::NextDeadline() const {
  std::optional<int64_t> at = impl_->flush_at;
  if (impl_->lead_at && (!at || *impl_->lead_at < *at)) at = impl_->lead_at;
  if (!impl_->timers.empty()) {
    const int64_t t = impl_->timers.top().at;
    if (!at || t < *at) at = t;
  }
  return at;
}

std::optional<PresenceState> Hub::GetState(std::string_view user_id) const {
  const Impl::User* u = impl_->FindUser(user_id);
  if (u == nullptr) return std::nullopt;
  return u->state;
}

std::optional<View> Hub::ViewFor(std::string_view viewer_id,
                                 std::string_view target_id) const {
  const Impl::User* t = impl_->FindUser(target_id);
  if (t == nullptr) return std::nullopt;
  const bool contact = t->contacts.contains(std::string(viewer_id));
  return Project(t->state, t->settings,
                 ClassifyViewer(viewer_id, target_id, contact));
}

std::optional<std::string> Hub::UserOf(ConnId conn) const {
  auto it = impl_->conns.find(conn);
  if (it == impl_->conns.end() || it->second.session == nullptr) {
    return std::nullopt;
  }
  return it->second.session->user->id;
}

HubStats Hub::Stats() const {
  HubStats s = impl_->counters;
  s.connections = impl_->conns.size();
  s.sessions = impl_->sessions.size();
  s.users_loaded = impl_->users.size();
  for (const auto& [id, u] : impl_->users) {
    if (u.state.status == Status::kOnline) s.users_online++;
    if (u.state.status == Status::kAway) s.users_away++;
    s.subscription_edges += u.subscribers.size();
  }
  s.remote_nodes = impl_->nodes.size();
  s.remote_shares = impl_->remote.size();
  s.cluster_link_up = impl_->link_up;
  return s;
}

// ---- restart: sessions saved at a clean shutdown ----
// Kept apart from the rest of the hub on purpose: a restored session is an
// ordinary detached session in its leave grace, so what follows the restore
// (a resume, the grace running out, last seen) takes the usual paths.

std::vector<SavedSession> Hub::SavedSessions(int64_t now_ms) const {
  const Impl& m = *impl_;
  std::vector<SavedSession> saved;
  if (!m.shut_down || config_.leave_grace_ms <= 0) return saved;
  saved.reserve(m.sessions.size());
  for (const auto& [id, s] : m.sessions) {
    // Shutdown closed every socket cleanly at `now_ms`: an open one gets
    // the whole grace, one already in its grace keeps what was left.
    int64_t grace_left = config_.leave_grace_ms;
    if (!s.conn) {
      if (!s.grace_until_ms || *s.grace_until_ms <= now_ms) continue;
      grace_left = *s.grace_until_ms - now_ms;
    }
    saved.push_back({id, s.user->id, s.device, s.status, s.epoch,
                     s.last_active_ms, grace_left, now_ms});
  }
  std::sort(
      saved.begin(), saved.end(),
      [](const SavedSession& a, const SavedSession& b) { return a.id < b.id; });
  return saved;
}

void Hub::RestoreSession(const SavedSession& saved, int64_t now_ms) {
  Impl& m = *impl_;
  if (m.shut_down || config_.leave_grace_ms <= 0) return;
  if (!IsValidId(saved.id) || !IsValidId(saved.user_id)) return;
  // After a downtime of timeoutMs the session would have been dropped as
  // silent had the server stayed up: nothing to restore.
  if (saved.grace_left_ms <= 0 ||
      now_ms - saved.saved_at_ms >= config_.timeout_ms) {
    return;
  }
  if (m.sessions.contains(saved.id)) return;
  Impl::User& u = m.GetOrLoadUser(saved.user_id);
  Impl::Session& s = m.AddSession(saved.id, u);
  s.device = saved.device;
  s.status = saved.status;
  s.epoch = saved.epoch;
  s.last_active_ms = saved.last_active_ms;
  // The grace runs from the restore: the downtime does not count.
  s.grace_until_ms =
      now_ms + std::min(saved.grace_left_ms, config_.leave_grace_ms);
  m.ScheduleGrace(s);
  m.Recompute(u, now_ms);
}

}  // namespace presence
