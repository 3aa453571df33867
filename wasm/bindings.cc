// The WebAssembly face of the client half of the core: a plain C ABI.
//
// presence_core.mjs (wasm/presence_core.mjs, hand-written) turns these
// exports into the module's JS API (docs/wasm.md); the friendly client
// (events, objects, timers, the WebSocket) is web/'s. Every entry only
// converts arguments and results; each presence rule lives in core/ and is
// tested there.
//
// Why not embind (DESIGN.md says embind; docs/wasm.md "Why a C ABI"): its
// runtime was 9 KB of the 13.5 KB gzipped glue and a third of the .wasm
// (type registration, RTTI, `val`), and its string marshalling (a JS loop
// over every UTF-16 unit, twice) was a hot spot of applying a bulk.
//
// Boundary conventions:
//  - Strings come in as (pointer, byte length) of UTF-8 that JS wrote into
//    memory it got from `malloc`; invalid UTF-8 reaches the codec unchanged.
//  - Strings go out through an `Out` (one per session, one for the free
//    functions): the call fills `text` and publishes its address and size
//    in the first two words, which JS reads from the heap. A function
//    returns 0 for "no value" (JS: null or "") and 1 otherwise.
//  - Times cross as doubles of epoch milliseconds; `ToMs` makes them int64
//    without undefined behaviour (NaN is 0; clamped to +-(2^53 - 1)). An
//    absent optional time is -1.
//  - Few crossings per frame: one `pc_handle_message`, then one poll per
//    output kind, whatever the number of users in the frame.

#include <emscripten/emscripten.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "presence/client_session.h"
#include "presence/codec.h"
#include "presence/json.h"
#include "presence/last_seen.h"
#include "presence/model.h"
#include "presence/protocol.h"

namespace {

using presence::ClientSession;

// 2^53 - 1: beyond it a JS number no longer holds every integer.
constexpr double kMaxSafeInteger = 9007199254740991.0;

// The result of the last call that returned a string. JS reads `data` and
// `size` (offsets 0 and 4) after the call; `text` owns the bytes.
struct Out {
  uint32_t data = 0;
  uint32_t size = 0;
  std::string text;

  int Publish() {
    data = static_cast<uint32_t>(reinterpret_cast<uintptr_t>(text.data()));
    size = static_cast<uint32_t>(text.size());
    return 1;
  }
  int Set(std::string_view value) {
    text.assign(value);
    return Publish();
  }
};
static_assert(offsetof(Out, data) == 0 && offsetof(Out, size) == 4);

// A session and the place its string results go. `out` comes first so its
// address is the handle's (JS reads results at the handle).
struct Session {
  Out out;
  ClientSession core;
  // Reused by every pc_poll_changes.
  std::vector<ClientSession::Change> changed;
  std::vector<std::string> removed;
};

int64_t ToMs(double ms) {
  if (std::isnan(ms)) return 0;
  if (ms > kMaxSafeInteger) return static_cast<int64_t>(kMaxSafeInteger);
  if (ms < -kMaxSafeInteger) return -static_cast<int64_t>(kMaxSafeInteger);
  return static_cast<int64_t>(ms);
}

double FromOptionalMs(const std::optional<int64_t>& ms) {
  return ms ? static_cast<double>(*ms) : -1;
}

// A last seen time from JS: a negative or NaN number means unknown.
std::optional<int64_t> ToOptionalMs(double ms) {
  if (std::isnan(ms) || ms < 0) return std::nullopt;
  return ToMs(ms);
}

std::string_view Text(const char* data, uint32_t size) {
  return size == 0 ? std::string_view() : std::string_view(data, size);
}

// `count` strings packed back to back at `data`, their byte lengths at
// `sizes`.
std::vector<std::string> TextList(const char* data, const uint32_t* sizes,
                                  uint32_t count) {
  std::vector<std::string> list;
  list.reserve(count);
  for (uint32_t i = 0; i < count; ++i) {
    list.emplace_back(data, sizes[i]);
    data += sizes[i];
  }
  return list;
}

// A positive integer of at most 2^53 - 1, as JSON numbers from JS are.
std::optional<int64_t> PositiveMs(const presence::JsonValue& value) {
  if (!value.is_number()) return std::nullopt;
  const double ms = value.number();
  if (!(ms >= 1 && ms <= kMaxSafeInteger) || std::floor(ms) != ms) {
    return std::nullopt;
  }
  return static_cast<int64_t>(ms);
}

// {"device"?, "seed"?, "backoffBaseMs"?, "backoffCapMs"?, "heartbeatMs"?,
//  "activityAutoClearMs"?, "authTimeoutMs"?, "resumeSession"?, "idleMs"?};
//  nullopt for anything invalid. idleMs 0 turns idleness off. Without a
//  seed, `random_seed` (JS's Math.random) is used.
std::unique_ptr<Session> CreateSession(std::string_view text,
                                       double random_seed) {
  const auto json = presence::ParseJson(text);
  if (!json || !json->is_object()) return nullptr;

  presence::ClientConfig config;
  if (const auto* it = json->Find("device")) {
    if (!it->is_string()) return nullptr;
    const auto device = presence::ParseDevice(it->string());
    if (!device) return nullptr;
    config.device = *device;
  }
  if (const auto* it = json->Find("resumeSession")) {
    if (!it->is_string()) return nullptr;
    const std::string& session = it->string();
    if (!session.empty() && !presence::IsValidId(session)) return nullptr;
    config.resume_session = session;
  }
  const std::pair<const char*, int64_t*> durations[] = {
      {"backoffBaseMs", &config.backoff.base_ms},
      {"backoffCapMs", &config.backoff.cap_ms},
      {"heartbeatMs", &config.default_heartbeat_ms},
      {"activityAutoClearMs", &config.activity_auto_clear_ms},
      {"authTimeoutMs", &config.auth_timeout_ms},
  };
  for (const auto& [name, field] : durations) {
    if (const auto* it = json->Find(name)) {
      const auto ms = PositiveMs(*it);
      if (!ms) return nullptr;
      *field = *ms;
    }
  }
  if (const auto* it = json->Find("idleMs")) {
    const bool off = it->is_number() && it->number() == 0;
    const auto ms = off ? std::optional<int64_t>(0) : PositiveMs(*it);
    if (!ms) return nullptr;
    config.idle_ms = *ms;
  }
  // The jitter must differ between browsers or a crowd reconnects as a herd;
  // the app may pin the seed (tests do).
  double seed = random_seed * kMaxSafeInteger;
  if (const auto* it = json->Find("seed")) {
    if (!it->is_number()) return nullptr;
    seed = it->number();
    if (!(seed >= 0 && seed <= kMaxSafeInteger)) return nullptr;
  }
  if (!(seed >= 0 && seed <= kMaxSafeInteger)) seed = 0;
  return std::unique_ptr<Session>(new Session{
      {}, ClientSession(config, static_cast<uint64_t>(seed)), {}, {}});
}

void AppendU32(uint32_t value, std::string* out) {
  out->append(reinterpret_cast<const char*>(&value), sizeof(value));
}

// The changes since the last poll, in the binary form web/ reads without a
// JSON parse (wasm/presence_core.mjs `readChanges`):
//   u32 changed count C, u32 removed count R, u32 id bytes, u32 JSON bytes,
//   C records of 16 bytes: f64 last seen (NaN: none), u32 the user's key
//     (ClientSession::Change), u8 status (0: none, else enum + 1), u8
//     device (same), u8 flags: 1 the view is in the JSON list instead (it
//     has an activity), 2 a new key (its id is in the id list); u8 0,
//   the ids of the records with a new key, then of the removed users,
//     comma-separated (ids never hold a comma),
//   `[` the JSON of each view with an activity, comma-separated `]`.
// JS keeps an id per key, so after the first report of a user a change
// carries no string at all. Views with an activity are rare and their
// shape is the codec's, so they go as the codec writes them.
struct ChangeRecord {
  double last_seen;
  uint32_t key;
  uint8_t status;
  uint8_t device;
  uint8_t flags;
  uint8_t zero;
};
static_assert(sizeof(ChangeRecord) == 16);

void WriteChanges(Session* s) {
  std::string& o = s->out.text;
  s->core.PollChanges(&s->changed, &s->removed);
  const auto& changed = s->changed;
  const auto& removed = s->removed;
  size_t id_bytes = 0;
  for (const auto& change : changed) {
    if (change.new_key) id_bytes += change.view->user_id.size() + 1;
  }
  for (const std::string& id : removed) id_bytes += id.size() + 1;
  o.resize(16 + sizeof(ChangeRecord) * changed.size());
  o.reserve(o.size() + id_bytes + 2);
  char* at = o.data() + 16;
  for (const auto& change : changed) {
    const presence::View& view = *change.view;
    ChangeRecord r;
    r.last_seen =
        view.last_seen_ms ? static_cast<double>(*view.last_seen_ms) : NAN;
    r.key = change.key;
    r.status = view.status ? static_cast<uint8_t>(*view.status) + 1 : 0;
    r.device = view.device ? static_cast<uint8_t>(*view.device) + 1 : 0;
    r.flags = (view.activity ? 1 : 0) | (change.new_key ? 2 : 0);
    r.zero = 0;
    std::memcpy(at, &r, sizeof(r));
    at += sizeof(r);
  }
  const size_t ids_at = o.size();
  for (const auto& change : changed) {
    if (!change.new_key) continue;
    if (o.size() > ids_at) o.push_back(',');
    o.append(change.view->user_id);
  }
  for (const std::string& id : removed) {
    if (o.size() > ids_at) o.push_back(',');
    o.append(id);
  }
  const size_t json_at = o.size();
  for (const auto& change : changed) {
    if (!change.view->activity) continue;
    o.push_back(o.size() == json_at ? '[' : ',');
    presence::AppendViewJson(*change.view, &o);
  }
  if (o.size() > json_at) o.push_back(']');
  const uint32_t header[4] = {static_cast<uint32_t>(changed.size()),
                              static_cast<uint32_t>(removed.size()),
                              static_cast<uint32_t>(json_at - ids_at),
                              static_cast<uint32_t>(o.size() - json_at)};
  std::memcpy(o.data(), header, sizeof(header));
  s->out.Publish();
}

// Every frame to send, each as u32 byte length then its bytes.
void WriteTransmits(ClientSession& session, Out* out) {
  out->text.clear();
  while (auto frame = session.PollTransmit()) {
    AppendU32(frame->size(), &out->text);
    out->text.append(*frame);
  }
  out->Publish();
}

// {"ok":true,"frame":<normalized JSON>} or {"ok":false,"error":"..."}.
template <typename Frame>
int ParseResult(Out* out, presence::Parsed<Frame> parsed) {
  std::string& o = out->text;
  if (auto* error = std::get_if<presence::CodecError>(&parsed)) {
    o = R"({"ok":false,"error":)";
    presence::AppendJsonString(error->message, &o);
  } else {
    o = R"({"ok":true,"frame":)";
    presence::AppendJsonString(presence::Serialize(std::get<Frame>(parsed)),
                               &o);
  }
  o.push_back('}');
  return out->Publish();
}

std::string_view BucketName(presence::LastSeenBucket bucket) {
  switch (bucket) {
    case presence::LastSeenBucket::kNever:
      return "never";
    case presence::LastSeenBucket::kJustNow:
      return "just_now";
    case presence::LastSeenBucket::kMinutes:
      return "minutes";
    case presence::LastSeenBucket::kHours:
      return "hours";
    case presence::LastSeenBucket::kDays:
      return "days";
    case presence::LastSeenBucket::kDate:
      return "date";
  }
  return "never";
}

void AppendNumber(double value, std::string* out) {
  out->append(std::to_string(static_cast<int64_t>(value)));
}

}  // namespace

// The exports. C names, no mangling; `pc_` keeps them apart from libc's.
extern "C" {

// ---- limits (index: 0 frame bytes, 1 ids per frame, 2 subscriptions,
// 3 id length, 4 text length) ----
EMSCRIPTEN_KEEPALIVE double pc_limit(int index) {
  const size_t limits[] = {presence::kMaxFrameBytes, presence::kMaxIdsPerFrame,
                           presence::kMaxSubscriptions, presence::kMaxIdLength,
                           presence::kMaxTextLength};
  return index >= 0 && index < 5 ? static_cast<double>(limits[index]) : 0;
}

// An Out for the free functions; JS makes one.
EMSCRIPTEN_KEEPALIVE Out* pc_out_new() { return new Out(); }

// ---- the session ----
// The handle is an owning pointer only across the C ABI: JS keeps it and
// hands it back to pc_delete (ClientSession.delete()).
EMSCRIPTEN_KEEPALIVE Session* pc_create(const char* config, uint32_t size,
                                        double random_seed) {
  return CreateSession(Text(config, size), random_seed).release();
}
EMSCRIPTEN_KEEPALIVE void pc_delete(Session* s) {
  std::unique_ptr<Session> owned(s);
}
EMSCRIPTEN_KEEPALIVE void pc_start(Session* s, double now) {
  s->core.Start(ToMs(now));
}
EMSCRIPTEN_KEEPALIVE void pc_stop(Session* s, double now) {
  s->core.Stop(ToMs(now));
}
EMSCRIPTEN_KEEPALIVE void pc_set_token(Session* s, const char* token,
                                       uint32_t size) {
  s->core.SetToken(std::string(Text(token, size)));
}
EMSCRIPTEN_KEEPALIVE int pc_set_status(Session* s, const char* status,
                                       uint32_t size, double now) {
  const auto parsed = presence::ParseStatus(Text(status, size));
  return parsed && s->core.SetStatus(*parsed, ToMs(now));
}
// An empty text is no text (idle).
EMSCRIPTEN_KEEPALIVE int pc_set_activity(Session* s, const char* kind,
                                         uint32_t kind_size, const char* text,
                                         uint32_t text_size, double now) {
  const auto parsed = presence::ParseActivityKind(Text(kind, kind_size));
  if (!parsed) return 0;
  return s->core.SetActivity({*parsed, std::string(Text(text, text_size))},
                             ToMs(now));
}
EMSCRIPTEN_KEEPALIVE int pc_start_typing(Session* s, const char* id,
                                         uint32_t size, double now) {
  return s->core.StartTyping(Text(id, size), ToMs(now));
}
// `op` 0 subscribe, 1 unsubscribe, 2 replace.
EMSCRIPTEN_KEEPALIVE int pc_subscriptions(Session* s, int op, const char* data,
                                          const uint32_t* sizes, uint32_t count,
                                          double now) {
  const auto list = TextList(data, sizes, count);
  const int64_t ms = ToMs(now);
  if (op == 0) return s->core.Subscribe(list, ms);
  if (op == 1) return s->core.Unsubscribe(list, ms);
  return s->core.ReplaceSubscriptions(list, ms);
}
EMSCRIPTEN_KEEPALIVE void pc_socket_open(Session* s, double now) {
  s->core.HandleSocketOpen(ToMs(now));
}
// 0 when the frame was taken; else 1 and the reason in the session's Out.
EMSCRIPTEN_KEEPALIVE int pc_handle_message(Session* s, const char* frame,
                                           uint32_t size, double now) {
  auto error = s->core.HandleMessage(Text(frame, size), ToMs(now));
  return error ? s->out.Set(error->message) : 0;
}
EMSCRIPTEN_KEEPALIVE void pc_socket_close(Session* s, double code, double now) {
  // Close codes are 0..4999; anything else is no code.
  const int close_code =
      (code >= 0 && code <= 4999) ? static_cast<int>(code) : 0;
  s->core.HandleSocketClose(close_code, ToMs(now));
}
// `what`: 0 timeout, 1 user input, 2 network, 3 visibility, 4 focus,
// 5 pagehide, 6 pageshow; `flag` is the boolean of the last four.
EMSCRIPTEN_KEEPALIVE void pc_input(Session* s, int what, int flag, double now) {
  const int64_t ms = ToMs(now);
  const bool on = flag != 0;
  switch (what) {
    case 0:
      return s->core.HandleTimeout(ms);
    case 1:
      return s->core.HandleUserInput(ms);
    case 2:
      return s->core.HandleNetwork(on, ms);
    case 3:
      return s->core.HandlePageVisibility(on, ms);
    case 4:
      return s->core.HandlePageFocus(on, ms);
    case 5:
      return s->core.HandlePageHide(on, ms);
    case 6:
      return s->core.HandlePageShow(on, ms);
  }
}
// The next socket action: 0 none, -1 open, else the close code of a close.
EMSCRIPTEN_KEEPALIVE int pc_poll_action(Session* s) {
  const auto action = s->core.PollAction();
  if (!action) return 0;
  if (action->kind == presence::ClientActionKind::kOpenSocket) return -1;
  return action->close_code > 0 ? action->close_code : 1000;
}
EMSCRIPTEN_KEEPALIVE int pc_poll_transmits(Session* s) {
  WriteTransmits(s->core, &s->out);
  return 1;
}
EMSCRIPTEN_KEEPALIVE int pc_poll_changes(Session* s) {
  WriteChanges(s);
  return 1;
}
EMSCRIPTEN_KEEPALIVE double pc_next_deadline(Session* s) {
  return FromOptionalMs(s->core.NextDeadline());
}
// Numbers: 0 heartbeat, 1 server offset, 2 reconnect attempts, 3 the
// connection state (the ConnectionState enum; JS names it without a string
// crossing, as the shim asks for it after every input).
EMSCRIPTEN_KEEPALIVE double pc_number(Session* s, int what) {
  if (what == 0) return static_cast<double>(s->core.heartbeat_ms());
  if (what == 1) return static_cast<double>(s->core.server_offset_ms());
  if (what == 3) return static_cast<double>(s->core.state());
  return s->core.reconnect_attempts();
}
// Strings: 0 state, 1 status, 2 chosen status, 3 session id, 4 user id,
// 5 last error JSON ("" when none).
EMSCRIPTEN_KEEPALIVE int pc_text(Session* s, int what) {
  const ClientSession& c = s->core;
  switch (what) {
    case 0:
      return s->out.Set(presence::ToString(c.state()));
    case 1:
      return s->out.Set(presence::ToString(c.status()));
    case 2:
      return s->out.Set(presence::ToString(c.chosen_status()));
    case 3:
      return s->out.Set(c.session_id());
    case 4:
      return s->out.Set(c.user_id());
  }
  const auto& error = c.last_error();
  if (!error) return s->out.Set("");
  std::string& o = s->out.text;
  o = R"({"code":)";
  presence::AppendJsonString(presence::ToString(error->code), &o);
  o += R"(,"message":)";
  presence::AppendJsonString(error->message, &o);
  o += '}';
  return s->out.Publish();
}
// The cached View's JSON, or 0.
EMSCRIPTEN_KEEPALIVE int pc_view_json(Session* s, const char* id,
                                      uint32_t size) {
  const presence::View* view = s->core.GetView(Text(id, size));
  return view ? s->out.Set(presence::ViewJson(*view)) : 0;
}

// ---- free functions (results in an Out from pc_out_new) ----
// Only what a client runs: reading a client's frames and projecting a View
// for a viewer are the server's rules, tested natively and in
// core_tests_wasm; exporting them cost 2.4 KB gzipped (docs/wasm.md).
EMSCRIPTEN_KEEPALIVE int pc_parse_server_frame(Out* out, const char* text,
                                               uint32_t size) {
  return ParseResult(out, presence::ParseServerFrame(Text(text, size)));
}
// {"bucket","count","epochMs","nextChangeMs"}.
EMSCRIPTEN_KEEPALIVE int pc_classify_last_seen(Out* out, double last_seen,
                                               double now) {
  const presence::LastSeenText text =
      presence::ClassifyLastSeen(ToOptionalMs(last_seen), ToMs(now));
  std::string& o = out->text;
  o = R"({"bucket":")";
  o += BucketName(text.bucket);
  o += R"(","count":)";
  AppendNumber(text.count, &o);
  o += R"(,"epochMs":)";
  AppendNumber(text.epoch_ms, &o);
  o += R"(,"nextChangeMs":)";
  AppendNumber(FromOptionalMs(text.next_change_ms), &o);
  o += '}';
  return out->Publish();
}
EMSCRIPTEN_KEEPALIVE int pc_format_last_seen(Out* out, double last_seen,
                                             double now) {
  return out->Set(presence::FormatLastSeen(
      presence::ClassifyLastSeen(ToOptionalMs(last_seen), ToMs(now))));
}
// "" for an unknown last seen.
EMSCRIPTEN_KEEPALIVE int pc_approximate_last_seen(Out* out, double last_seen,
                                                  double now) {
  const auto ms = ToOptionalMs(last_seen);
  if (!ms) return out->Set("");
  return out->Set(
      presence::ToString(presence::ApproximateLastSeen(*ms, ToMs(now))));
}
EMSCRIPTEN_KEEPALIVE int pc_is_valid_id(const char* id, uint32_t size) {
  return presence::IsValidId(Text(id, size));
}

}  // extern "C"
