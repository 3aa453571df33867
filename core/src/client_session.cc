#include "presence/client_session.h"

#include <algorithm>
#include <utility>
#include <variant>

#include "presence/codec.h"

namespace presence {
namespace {

// A typing user refreshes the activity on every key; the server only needs
// to hear it often enough to keep it fresh (its TTL is 3 s).
constexpr int64_t kActivityResendMs = 1000;

// Subscription lists go out in chunks well under the hub's limits (64 KiB,
// kMaxIdsPerFrame), so even 10 000 ids of 128 bytes are never refused.
constexpr size_t kChunkMaxIds = 1000;
constexpr size_t kChunkMaxIdBytes = 48 * 1024;

constexpr int kCloseNormal = 1000;

bool IsValidStatus(Status status) {
  // The enum may come from JS through the bindings as any integer.
  return static_cast<uint8_t>(status) <= static_cast<uint8_t>(Status::kOffline);
}

bool IsValidActivity(const Activity& activity) {
  switch (activity.kind) {
    case ActivityKind::kIdle:
      return true;  // its text is ignored
    case ActivityKind::kTyping:
      return IsValidId(activity.text);
    case ActivityKind::kViewing:
    case ActivityKind::kBusy:
      return IsValidText(activity.text);
  }
  return false;
}

bool AllValidIds(const std::vector<std::string>& ids) {
  return std::all_of(ids.begin(), ids.end(),
                     [](const std::string& id) { return IsValidId(id); });
}

// FNV-1a: ids are short, and the session's tables hold only ids the app
// chose (a frame's unknown ids are only looked up), so a simple hash will do.
uint32_t HashId(std::string_view id) {
  uint32_t h = 2166136261u;
  for (const char c : id) h = (h ^ static_cast<uint8_t>(c)) * 16777619u;
  return h;
}

// The smallest power of two with room for `n` entries at most 3/4 full.
size_t IndexSizeFor(size_t n) {
  size_t size = 16;
  while (size * 3 < n * 4 + 4) size *= 2;
  return size;
}

// `ids` without repeats, first occurrence first (an open-addressing set of
// indices into `ids`: no hash container code in the browser module).
std::vector<std::string> Unique(const std::vector<std::string>& ids) {
  std::vector<std::string> unique;
  unique.reserve(ids.size());
  std::vector<uint32_t> seen(IndexSizeFor(ids.size()), 0);
  const size_t mask = seen.size() - 1;
  for (size_t i = 0; i < ids.size(); ++i) {
    size_t at = HashId(ids[i]) & mask;
    bool repeat = false;
    for (; seen[at] != 0; at = (at + 1) & mask) {
      if (ids[seen[at] - 1] == ids[i]) {
        repeat = true;
        break;
      }
    }
    if (repeat) continue;
    seen[at] = static_cast<uint32_t>(i + 1);
    unique.push_back(ids[i]);
  }
  return unique;
}

// Splits `ids` into runs that each fit one frame comfortably. Valid ids need
// no escaping, so an id costs its bytes plus quotes and a comma.
std::vector<std::vector<std::string>> ChunkIds(
    const std::vector<std::string>& ids) {
  std::vector<std::vector<std::string>> chunks;
  size_t bytes = 0;
  for (const std::string& id : ids) {
    const size_t cost = id.size() + 3;
    if (chunks.empty() || chunks.back().size() >= kChunkMaxIds ||
        bytes + cost > kChunkMaxIdBytes) {
      chunks.emplace_back();
      bytes = 0;
    }
    chunks.back().push_back(id);
    bytes += cost;
  }
  return chunks;
}

}  // namespace

std::string_view ToString(ConnectionState state) {
  switch (state) {
    case ConnectionState::kIdle:
      return "idle";
    case ConnectionState::kConnecting:
      return "connecting";
    case ConnectionState::kAuthenticating:
      return "authenticating";
    case ConnectionState::kConnected:
      return "connected";
    case ConnectionState::kReconnecting:
      return "reconnecting";
    case ConnectionState::kOffline:
      return "offline";
  }
  return "idle";
}

ClientSession::ClientSession(ClientConfig config, Backoff::RandomSource random)
    : config_(config),
      backoff_(config.backoff, std::move(random)),
      session_id_(IsValidId(config.resume_session) ? config.resume_session
                                                   : std::string()),
      attention_(config.idle_ms),
      activity_(config.activity_auto_clear_ms),
      heartbeat_ms_(std::max<int64_t>(1, config.default_heartbeat_ms)) {}

ClientSession::ClientSession(ClientConfig config, uint64_t seed)
    : config_(config),
      backoff_(config.backoff, seed),
      session_id_(IsValidId(config.resume_session) ? config.resume_session
                                                   : std::string()),
      attention_(config.idle_ms),
      activity_(config.activity_auto_clear_ms),
      heartbeat_ms_(std::max<int64_t>(1, config.default_heartbeat_ms)) {}

// ---- app inputs ----

void ClientSession::Start(int64_t now_ms) {
  if (state_ != ConnectionState::kIdle) return;
  started_ = true;
  // Attempts of an earlier run say nothing about this one.
  backoff_.Reset();
  if (!network_online_) {
    state_ = ConnectionState::kOffline;
    return;
  }
  Connect(now_ms);
}

void ClientSession::Stop(int64_t /*now_ms*/) {
  if (HasSocket())
    actions_.push_back({ClientActionKind::kCloseSocket, kCloseNormal});
  // Frames still queued would go to a closing socket.
  ForgetTransport();
  started_ = false;
  state_ = ConnectionState::kIdle;
}

void ClientSession::SetToken(std::string token) { token_ = std::move(token); }

bool ClientSession::SetStatus(Status status, int64_t now_ms) {
  if (!IsValidStatus(status)) return false;
  status_ = status;
  SyncStatus(now_ms);
  return true;
}

bool ClientSession::SetActivity(const Activity& activity, int64_t now_ms) {
  if (!IsValidActivity(activity)) return false;
  const bool connected = state_ == ConnectionState::kConnected;
  if (activity.kind == ActivityKind::kIdle) {
    const bool had_activity = activity_.Clear();
    if (connected && (had_activity || activity_announced_)) {
      SendActivity(Activity::Idle(), now_ms);
    }
    return true;
  }
  activity_.Set(activity, now_ms);
  if (connected && (sent_activity_ != activity ||
                    now_ms - sent_activity_ms_ >= kActivityResendMs)) {
    SendActivity(activity, now_ms);
  }
  return true;
}

bool ClientSession::StartTyping(std::string_view conversation_id,
                                int64_t now_ms) {
  if (!IsValidId(conversation_id)) return false;
  return SetActivity(Activity::Typing(std::string(conversation_id)), now_ms);
}

bool ClientSession::Subscribe(const std::vector<std::string>& user_ids,
                              int64_t now_ms) {
  if (!AllValidIds(user_ids)) return false;
  std::vector<std::string> fresh;
  for (std::string& id : Unique(user_ids)) {
    if (!subscriptions_.contains(id)) fresh.push_back(std::move(id));
  }
  if (subscriptions_.size() + fresh.size() > kMaxSubscriptions) return false;
  if (fresh.empty()) return true;
  subscriptions_.insert(fresh.begin(), fresh.end());
  for (const std::string& id : fresh) AddSlot(id);
  if (state_ == ConnectionState::kConnected) {
    SendSubscriptions(fresh, /*replace=*/false, now_ms);
  }
  return true;
}

bool ClientSession::Unsubscribe(const std::vector<std::string>& user_ids,
                                int64_t now_ms) {
  if (!AllValidIds(user_ids)) return false;
  std::vector<std::string> removed;
  for (std::string& id : Unique(user_ids)) {
    if (subscriptions_.erase(id) == 0) continue;
    DropSlot(id);
    removed.push_back(std::move(id));
  }
  if (!removed.empty() && state_ == ConnectionState::kConnected) {
    SendUnsubscriptions(removed, now_ms);
  }
  return true;
}

bool ClientSession::ReplaceSubscriptions(
    const std::vector<std::string>& user_ids, int64_t now_ms) {
  if (!AllValidIds(user_ids)) return false;
  std::vector<std::string> ids = Unique(user_ids);
  if (ids.size() > kMaxSubscriptions) return false;
  std::set<std::string> next(ids.begin(), ids.end());
  // Every change while connected reaches the server at once, so an
  // unchanged set needs no frame.
  if (next == subscriptions_) return true;
  for (const std::string& id : subscriptions_) {
    if (!next.contains(id)) DropSlot(id);
  }
  subscriptions_ = std::move(next);
  for (const std::string& id : subscriptions_) AddSlot(id);
  if (state_ == ConnectionState::kConnected) {
    SendSubscriptions(ids, /*replace=*/true, now_ms);
  }
  return true;
}

// ---- transport inputs ----

void ClientSession::HandleSocketOpen(int64_t now_ms) {
  // An open we did not ask for (or asked for, then abandoned) is the host's
  // to close; it changes nothing here.
  if (state_ != ConnectionState::kConnecting) return;
  AuthFrame auth;
  auth.token = token_;
  auth.device = config_.device;
  if (!session_id_.empty()) auth.session = session_id_;
  auth.status = status();
  Send(auth, now_ms);
  sent_status_ = auth.status;
  state_ = ConnectionState::kAuthenticating;
  auth_deadline_ms_ = now_ms + config_.auth_timeout_ms;
}

std::optional<CodecError> ClientSession::HandleMessage(std::string_view text,
                                                       int64_t now_ms) {
  // The frame that comes most, read in place; any other shape (or a bad
  // frame) takes the strict tree parser below, which words the error.
  if (ReadPlainBulk(text, &bulk_scratch_)) {
    if (state_ == ConnectionState::kConnected) ApplyBulk(bulk_scratch_);
    bulk_scratch_.clear();
    return std::nullopt;
  }
  Parsed<ServerFrame> parsed = ParseServerFrame(text);
  if (const CodecError* error = std::get_if<CodecError>(&parsed)) {
    return *error;
  }
  const ServerFrame& frame = std::get<ServerFrame>(parsed);
  if (const ErrorFrame* error = std::get_if<ErrorFrame>(&frame)) {
    last_error_ = *error;
    return std::nullopt;
  }
  if (const WelcomeFrame* welcome = std::get_if<WelcomeFrame>(&frame)) {
    if (state_ == ConnectionState::kAuthenticating) OnWelcome(*welcome, now_ms);
    return std::nullopt;
  }
  if (const BulkFrame* bulk = std::get_if<BulkFrame>(&frame)) {
    if (state_ == ConnectionState::kConnected) {
      bulk_scratch_.clear();
      for (const View& view : bulk->updates) {
        ViewRef& ref = bulk_scratch_.emplace_back();
        ref.user_id = view.user_id;
        ref.status = view.status;
        ref.last_seen_ms = view.last_seen_ms;
        ref.device = view.device;
        if (view.activity) {
          ref.has_activity = true;
          ref.activity_kind = view.activity->kind;
          ref.activity_text = view.activity->text;
        }
      }
      ApplyBulk(bulk_scratch_);
      bulk_scratch_.clear();
    }
  }
  return std::nullopt;
}

void ClientSession::HandleSocketClose(int code, int64_t now_ms) {
  if (!HasSocket()) return;  // already abandoned or stopped
  OnTransportLost(code, now_ms);
}

void ClientSession::HandleTimeout(int64_t now_ms) {
  // Decide what is due before firing anything: a timer armed by this call
  // (a reconnect delay of 0) waits for the next call, so one input yields
  // at most one socket action.
  const bool attempt_due =
      auth_deadline_ms_.has_value() && *auth_deadline_ms_ <= now_ms;
  const bool reconnect_due =
      reconnect_at_ms_.has_value() && *reconnect_at_ms_ <= now_ms;
  if (attempt_due) {
    actions_.push_back({ClientActionKind::kCloseSocket, kCloseNormal});
    OnTransportLost(kCloseNormal, now_ms);
  } else if (reconnect_due) {
    Connect(now_ms);
  }
  if (attention_.HandleTimeout(now_ms)) SyncStatus(now_ms);
  if (activity_.HandleTimeout(now_ms) &&
      state_ == ConnectionState::kConnected) {
    // Watchers see typing stop now, not when the server's TTL runs out.
    SendActivity(Activity::Idle(), now_ms);
  }
  if (state_ == ConnectionState::kConnected &&
      now_ms >= last_sent_ms_ + heartbeat_ms_) {
    Send(HeartbeatFrame{}, now_ms);
  }
}

void ClientSession::HandleNetwork(bool online, int64_t now_ms) {
  network_online_ = online;
  if (!online) {
    // A live socket reports its own loss; only the wait is paused.
    if (state_ == ConnectionState::kReconnecting) {
      reconnect_at_ms_.reset();
      state_ = ConnectionState::kOffline;
    }
    return;
  }
  if (state_ == ConnectionState::kOffline ||
      state_ == ConnectionState::kReconnecting) {
    Connect(now_ms);
  }
}

// ---- page inputs ----

void ClientSession::HandlePageVisibility(bool visible, int64_t now_ms) {
  if (page_unloading_) return;
  attention_.SetVisible(visible, now_ms);
  SyncStatus(now_ms);
}

void ClientSession::HandlePageFocus(bool focused, int64_t now_ms) {
  if (page_unloading_) return;
  attention_.SetFocused(focused, now_ms);
  SyncStatus(now_ms);
}

void ClientSession::HandleUserInput(int64_t now_ms) {
  if (page_unloading_) return;
  if (attention_.HandleInput(now_ms)) SyncStatus(now_ms);
}

void ClientSession::HandlePageHide(bool persisted, int64_t now_ms) {
  if (!persisted) {
    // The socket's close tells the server; the hiding that follows must not.
    page_unloading_ = true;
    return;
  }
  page_frozen_ = true;
  SyncStatus(now_ms);
}

void ClientSession::HandlePageShow(bool persisted, int64_t now_ms) {
  // A page whose unload was cancelled (or that came back) is live again.
  page_unloading_ = false;
  if (!persisted && !page_frozen_) return;
  page_frozen_ = false;
  // Back from the cache: whoever navigated back is looking at it.
  attention_.SetVisible(true, now_ms);
  SyncStatus(now_ms);
}

// ---- outputs ----

std::optional<ClientAction> ClientSession::PollAction() {
  if (actions_.empty()) return std::nullopt;
  ClientAction action = actions_.front();
  actions_.erase(actions_.begin());
  return action;
}

std::optional<std::string> ClientSession::PollTransmit() {
  if (outbox_head_ >= outbox_.size()) return std::nullopt;
  std::string frame = std::move(outbox_[outbox_head_++]);
  if (outbox_head_ == outbox_.size()) {
    outbox_.clear();
    outbox_head_ = 0;
  }
  return frame;
}

template <typename Fn>
void ClientSession::DrainChanges(Fn fn) {
  for (const uint32_t key : changes_) fn(slots_[key], key);
  for (const uint32_t key : changes_) {
    if (!slots_[key].subscribed) FreeSlot(key);
  }
  changes_.clear();
  ++poll_window_;
}

std::vector<std::string> ClientSession::PollChanges() {
  std::vector<std::string> changed;
  changed.reserve(changes_.size());
  DrainChanges(
      [&changed](const Slot& slot, uint32_t) { changed.push_back(slot.id); });
  return changed;
}

void ClientSession::PollChanges(std::vector<Change>* changed,
                                std::vector<std::string>* removed) {
  changed->clear();
  removed->clear();
  changed->reserve(changes_.size());
  DrainChanges([changed, removed](Slot& slot, uint32_t key) {
    if (!slot.view) {
      removed->push_back(slot.id);
      return;
    }
    changed->push_back({&*slot.view, key, !slot.key_told});
    slot.key_told = true;
  });
}

std::optional<int64_t> ClientSession::NextDeadline() const {
  std::optional<int64_t> next;
  auto consider = [&next](std::optional<int64_t> at) {
    if (at.has_value() && (!next.has_value() || *at < *next)) next = at;
  };
  consider(auth_deadline_ms_);
  consider(reconnect_at_ms_);
  consider(activity_.deadline());
  if (started_) consider(attention_.deadline());
  if (state_ == ConnectionState::kConnected) {
    consider(last_sent_ms_ + heartbeat_ms_);
  }
  return next;
}

// ---- state ----

Status ClientSession::status() const {
  if (status_ != Status::kOnline) return status_;
  if (page_frozen_) return Status::kOffline;
  return attention_.away() ? Status::kAway : Status::kOnline;
}

const std::optional<Activity>& ClientSession::activity() const {
  return activity_.current();
}

const View* ClientSession::GetView(std::string_view user_id) const {
  const int64_t key = FindSlot(user_id, HashId(user_id));
  if (key < 0 || !slots_[key].view) return nullptr;
  return &*slots_[key].view;
}

// ---- private ----

bool ClientSession::HasSocket() const {
  return state_ == ConnectionState::kConnecting ||
         state_ == ConnectionState::kAuthenticating ||
         state_ == ConnectionState::kConnected;
}

void ClientSession::Connect(int64_t now_ms) {
  reconnect_at_ms_.reset();
  state_ = ConnectionState::kConnecting;
  actions_.push_back({ClientActionKind::kOpenSocket});
  // A socket that never opens (a black-holed network) must not hang us.
  auth_deadline_ms_ = now_ms + config_.auth_timeout_ms;
}

void ClientSession::ScheduleReconnect(int64_t now_ms) {
  reconnect_at_ms_ = now_ms + backoff_.NextDelay();
  state_ = ConnectionState::kReconnecting;
}

// What was queued or told belonged to the old socket; the next welcome
// re-sends whatever the server must know.
void ClientSession::ForgetTransport() {
  outbox_.clear();
  outbox_head_ = 0;
  sent_status_.reset();
  sent_activity_.reset();
  auth_deadline_ms_.reset();
  reconnect_at_ms_.reset();
}

void ClientSession::OnTransportLost(int close_code, int64_t now_ms) {
  ForgetTransport();
  if (close_code == kCloseSessionMoved) {
    // Another socket (another tab) resumed this session; fighting it back
    // would make the two take it from each other forever.
    started_ = false;
    state_ = ConnectionState::kIdle;
    return;
  }
  if (!network_online_) {
    state_ = ConnectionState::kOffline;
    return;
  }
  // 4401 included: the host fetches a fresh token before every connect.
  ScheduleReconnect(now_ms);
}

void ClientSession::Send(const ClientFrame& frame, int64_t now_ms) {
  outbox_.push_back(Serialize(frame));
  last_sent_ms_ = now_ms;
}

void ClientSession::SendStatus(int64_t now_ms) {
  PresenceFrame presence;
  presence.status = status();
  Send(presence, now_ms);
  sent_status_ = presence.status;
}

void ClientSession::SyncStatus(int64_t now_ms) {
  // While disconnected (or authenticating) only the latest status is kept:
  // the next auth, or the welcome, carries it.
  if (state_ == ConnectionState::kConnected && sent_status_ != status()) {
    SendStatus(now_ms);
  }
}

void ClientSession::SendActivity(const Activity& activity, int64_t now_ms) {
  ActivityFrame frame;
  frame.activity = activity;
  Send(frame, now_ms);
  if (activity.kind == ActivityKind::kIdle) {
    sent_activity_.reset();
    activity_announced_ = false;
  } else {
    sent_activity_ = activity;
    sent_activity_ms_ = now_ms;
    activity_announced_ = true;
  }
}

void ClientSession::SendSubscriptions(const std::vector<std::string>& ids,
                                      bool replace, int64_t now_ms) {
  std::vector<std::vector<std::string>> chunks = ChunkIds(ids);
  // Replacing with nothing is still a frame: the server must drop the set.
  if (chunks.empty() && replace) chunks.emplace_back();
  bool first = true;
  for (std::vector<std::string>& chunk : chunks) {
    SubscribeFrame frame;
    frame.user_ids = std::move(chunk);
    // Only the first chunk replaces; the rest add to it.
    frame.replace = replace && first;
    first = false;
    Send(frame, now_ms);
  }
  if (!chunks.empty()) subscriptions_announced_ = true;
}

void ClientSession::SendUnsubscriptions(const std::vector<std::string>& ids,
                                        int64_t now_ms) {
  for (std::vector<std::string>& chunk : ChunkIds(ids)) {
    UnsubscribeFrame frame;
    frame.user_ids = std::move(chunk);
    Send(frame, now_ms);
  }
}

void ClientSession::OnWelcome(const WelcomeFrame& welcome, int64_t now_ms) {
  session_id_ = welcome.session;
  user_id_ = welcome.user_id;
  heartbeat_ms_ = std::max<int64_t>(1, welcome.heartbeat_ms > 0
                                           ? welcome.heartbeat_ms
                                           : config_.default_heartbeat_ms);
  server_offset_ms_ = welcome.server_time - now_ms;
  state_ = ConnectionState::kConnected;
  auth_deadline_ms_.reset();
  backoff_.Reset();

  // The auth carried the status of its time; a later change is sent now.
  SyncStatus(now_ms);

  // An activity that lapsed before the welcome is not re-sent; one the
  // server may still show from before gets cleared.
  activity_.HandleTimeout(now_ms);
  if (activity_.current().has_value()) {
    SendActivity(*activity_.current(), now_ms);
  } else if (activity_announced_) {
    SendActivity(Activity::Idle(), now_ms);
  }

  if (!subscriptions_.empty() || subscriptions_announced_) {
    SendSubscriptions(
        std::vector<std::string>(subscriptions_.begin(), subscriptions_.end()),
        /*replace=*/true, now_ms);
  }
}

void ClientSession::ApplyBulk(const std::vector<ViewRef>& views) {
  // One allocation for the changes of a large bulk, not a doubling series.
  changes_.reserve(changes_.size() + std::min(views.size(), slots_.size()));
  for (const ViewRef& ref : views) {
    const int64_t key = FindSlot(ref.user_id, HashId(ref.user_id));
    // A late view of a user we just dropped must not come back.
    if (key < 0) continue;
    Slot& slot = slots_[key];
    if (!slot.subscribed) continue;
    if (slot.view) {
      if (ref.Matches(*slot.view)) continue;
    } else {
      slot.view.emplace();
    }
    ref.AssignTo(&*slot.view);
    MarkChanged(static_cast<uint32_t>(key));
  }
}

int64_t ClientSession::FindSlot(std::string_view user_id, uint32_t hash) const {
  if (index_.empty()) return -1;
  const size_t mask = index_.size() - 1;
  for (size_t at = hash & mask; index_[at] != 0; at = (at + 1) & mask) {
    const uint32_t entry = index_[at];
    if (entry == kTombstone) continue;
    const Slot& slot = slots_[entry - 1];
    if (slot.hash == hash && slot.id == user_id) return entry - 1;
  }
  return -1;
}

void ClientSession::AddSlot(const std::string& user_id) {
  const uint32_t hash = HashId(user_id);
  const int64_t found = FindSlot(user_id, hash);
  if (found >= 0) {
    // Dropped in this window and back: the same slot, listed already.
    slots_[found].subscribed = true;
    return;
  }
  uint32_t key;
  if (free_keys_.empty()) {
    key = static_cast<uint32_t>(slots_.size());
    slots_.emplace_back();
  } else {
    key = free_keys_.back();
    free_keys_.pop_back();
  }
  Slot& slot = slots_[key];
  slot.id = user_id;
  slot.hash = hash;
  slot.subscribed = true;
  slot.key_told = false;
  slot.changed_in = 0;
  slot.view.reset();
  // Grow (or clear out tombstones) before the index passes 3/4 full.
  if ((index_used_ + 1) * 4 > index_.size() * 3) {
    const size_t live = slots_.size() - free_keys_.size();
    std::vector<uint32_t> old = std::move(index_);
    index_.assign(IndexSizeFor(live), 0);
    index_used_ = 0;
    const size_t mask = index_.size() - 1;
    for (const uint32_t entry : old) {
      if (entry == 0 || entry == kTombstone || entry - 1 == key) continue;
      size_t at = slots_[entry - 1].hash & mask;
      while (index_[at] != 0) at = (at + 1) & mask;
      index_[at] = entry;
      ++index_used_;
    }
  }
  const size_t mask = index_.size() - 1;
  size_t at = hash & mask;
  while (index_[at] != 0 && index_[at] != kTombstone) at = (at + 1) & mask;
  if (index_[at] == 0) ++index_used_;
  index_[at] = key + 1;
}

void ClientSession::FreeSlot(uint32_t key) {
  Slot& slot = slots_[key];
  const size_t mask = index_.size() - 1;
  size_t at = slot.hash & mask;
  while (index_[at] != key + 1) at = (at + 1) & mask;
  index_[at] = kTombstone;
  slot.id.clear();
  slot.view.reset();
  slot.subscribed = false;
  free_keys_.push_back(key);
}

void ClientSession::DropSlot(std::string_view user_id) {
  const int64_t key = FindSlot(user_id, HashId(user_id));
  if (key < 0 || !slots_[key].subscribed) return;
  Slot& slot = slots_[key];
  slot.subscribed = false;
  // A user listed in this window, or one whose View goes, is reported
  // (removed, unless subscribed again and given a View before the poll);
  // the slot stays until then. Else it can go now.
  if (slot.view.has_value() && slot.changed_in != poll_window_) {
    MarkChanged(static_cast<uint32_t>(key));
  }
  slot.view.reset();
  if (slot.changed_in != poll_window_) FreeSlot(static_cast<uint32_t>(key));
}

void ClientSession::MarkChanged(uint32_t key) {
  Slot& slot = slots_[key];
  if (slot.changed_in == poll_window_) return;
  slot.changed_in = poll_window_;
  changes_.push_back(key);
}

}  // namespace presence
