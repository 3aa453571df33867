// The JavaScript face of the client half of the core: embind entries only.
//
// Raw entries, CanvasKit style: the friendly API (events, promises, objects
// instead of JSON strings) is written in JS on top of these, in web/. Every
// entry only converts arguments and results; each presence rule lives in
// core/ and is tested there.
//
// Boundary conventions (docs/wasm.md has the full table):
//  - Times cross as JS numbers of epoch milliseconds. `ToMs` turns them into
//    int64 without undefined behaviour: NaN is 0, the rest is truncated and
//    clamped to the safe-integer range. Results come back as numbers, -1 for
//    "none" where a time is optional.
//  - Nothing throws out to JS. String and array inputs are taken as `val` and
//    checked here, so a wrong type yields false / "" / an error result rather
//    than an embind BindingError; the core itself never throws.
//  - Few crossings per frame: one `handleMessage` per received frame, then
//    one `pollChangesJson`, one `pollTransmits`, one `pollAction` and one
//    `nextDeadline`. JSON out is written by the codec's fixed-schema writer.

#include <emscripten/bind.h>
#include <emscripten/val.h>

#include <cmath>
#include <cstdint>
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
#include "presence/privacy.h"
#include "presence/protocol.h"

namespace {

using emscripten::val;
using presence::ClientSession;

// 2^53 - 1: beyond it a JS number no longer holds every integer.
constexpr double kMaxSafeInteger = 9007199254740991.0;

// An upper bound on the elements copied out of one JS array. It only guards
// the copy; the protocol's own limits are the core's to enforce.
constexpr double kMaxArrayElements = 1 << 20;

int64_t ToMs(double ms) {
  if (std::isnan(ms)) return 0;
  if (ms > kMaxSafeInteger) return static_cast<int64_t>(kMaxSafeInteger);
  if (ms < -kMaxSafeInteger) return -static_cast<int64_t>(kMaxSafeInteger);
  return static_cast<int64_t>(ms);
}

double FromMs(int64_t ms) { return static_cast<double>(ms); }

double FromOptionalMs(const std::optional<int64_t>& ms) {
  return ms ? FromMs(*ms) : -1;
}

// A last seen time from JS: a negative or NaN number means unknown.
std::optional<int64_t> ToOptionalMs(double ms) {
  if (std::isnan(ms) || ms < 0) return std::nullopt;
  return ToMs(ms);
}

bool ToText(const val& value, std::string* out) {
  if (!value.isString()) return false;
  *out = value.as<std::string>();
  return true;
}

bool IsInstanceOf(const val& value, const char* constructor) {
  // clang-format takes `instanceof` for the JS operator.
  // clang-format off
  return value.instanceof(val::global(constructor));
  // clang-format on
}

// A received frame may come as a string or as raw bytes (Uint8Array or
// ArrayBuffer); bytes reach the codec unchanged, invalid UTF-8 included.
bool ToFrameBytes(const val& value, std::string* out) {
  if (value.isString() || IsInstanceOf(value, "Uint8Array") ||
      IsInstanceOf(value, "ArrayBuffer")) {
    *out = value.as<std::string>();
    return true;
  }
  return false;
}

bool ToTextList(const val& value, std::vector<std::string>* out) {
  if (!value.isArray()) return false;
  const double length = value["length"].as<double>();
  if (!(length >= 0 && length <= kMaxArrayElements)) return false;
  const auto count = static_cast<size_t>(length);
  out->clear();
  out->reserve(count);
  for (size_t i = 0; i < count; ++i) {
    val item = value[i];
    if (!item.isString()) return false;
    out->push_back(item.as<std::string>());
  }
  return true;
}

std::string ActionText(const std::optional<presence::ClientAction>& action) {
  if (!action) return "";
  switch (action->kind) {
    case presence::ClientActionKind::kOpenSocket:
      return "open";
    case presence::ClientActionKind::kCloseSocket:
      return "close:" + std::to_string(action->close_code);
  }
  return "";
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

std::optional<presence::ViewerClass> ParseViewerClass(std::string_view text) {
  for (int i = 0; i < presence::kViewerClassCount; ++i) {
    const auto viewer = static_cast<presence::ViewerClass>(i);
    if (presence::ToString(viewer) == text) return viewer;
  }
  return std::nullopt;
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
//  null for anything invalid. idleMs 0 turns idleness off.
std::unique_ptr<ClientSession> CreateSession(const val& config_json) {
  std::string text;
  if (!ToText(config_json, &text)) return nullptr;
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
  // the app may pin the seed (tests do), else JS's generator provides it.
  double seed = 0;
  if (const auto* it = json->Find("seed")) {
    if (!it->is_number()) return nullptr;
    seed = it->number();
    if (!(seed >= 0 && seed <= kMaxSafeInteger)) return nullptr;
  } else {
    seed = val::global("Math").call<double>("random") * kMaxSafeInteger;
  }
  return std::make_unique<ClientSession>(config, static_cast<uint64_t>(seed));
}

std::string ChangesJson(ClientSession& session) {
  std::string changed;
  std::string removed;
  for (const std::string& id : session.PollChanges()) {
    if (const presence::View* view = session.GetView(id)) {
      if (!changed.empty()) changed += ',';
      presence::AppendViewJson(*view, &changed);
    } else {
      if (!removed.empty()) removed += ',';
      presence::AppendJsonString(id, &removed);
    }
  }
  return R"({"changed":[)" + changed + R"(],"removed":[)" + removed + "]}";
}

std::string ErrorJson(const std::optional<presence::ErrorFrame>& error) {
  if (!error) return "";
  std::string out = R"({"code":)";
  presence::AppendJsonString(presence::ToString(error->code), &out);
  out += R"(,"message":)";
  presence::AppendJsonString(error->message, &out);
  out += '}';
  return out;
}

// {ok: true, frame: "<normalized JSON>"} or {ok: false, error: "..."}.
template <typename Frame>
val ParseResult(const val& input,
                presence::Parsed<Frame> (*parse)(std::string_view)) {
  val result = val::object();
  std::string text;
  if (!ToFrameBytes(input, &text)) {
    result.set("ok", false);
    result.set("error", std::string("not a string or bytes"));
    return result;
  }
  auto parsed = parse(text);
  if (auto* error = std::get_if<presence::CodecError>(&parsed)) {
    result.set("ok", false);
    result.set("error", error->message);
  } else {
    result.set("ok", true);
    result.set("frame", presence::Serialize(std::get<Frame>(parsed)));
  }
  return result;
}

// A state in View form ({"userId", "status"?, "lastSeen"?, "device"?,
// "activity"?}), read by the codec's own View parser so both sides agree on
// every field.
std::optional<presence::PresenceState> ParseState(std::string_view json) {
  std::string frame(presence::kBulkFramePrefix);
  frame += json;
  frame += presence::kBulkFrameSuffix;
  auto parsed = presence::ParseServerFrame(frame);
  const auto* server_frame = std::get_if<presence::ServerFrame>(&parsed);
  if (server_frame == nullptr) return std::nullopt;
  const auto* bulk = std::get_if<presence::BulkFrame>(server_frame);
  if (bulk == nullptr || bulk->updates.size() != 1) return std::nullopt;
  const presence::View& view = bulk->updates.front();
  return presence::PresenceState{view.user_id, view.status, view.last_seen_ms,
                                 view.device, view.activity};
}

// {"showOnlineStatus"?, "showLastSeen"?, "showActivity"?}; a missing field
// keeps the default.
std::optional<presence::PrivacySettings> ParseSettings(std::string_view text) {
  const auto json = presence::ParseJson(text);
  if (!json || !json->is_object()) return std::nullopt;
  presence::PrivacySettings settings;
  const std::pair<const char*, presence::Visibility*> fields[] = {
      {"showOnlineStatus", &settings.show_online_status},
      {"showLastSeen", &settings.show_last_seen},
      {"showActivity", &settings.show_activity},
  };
  for (const auto& [name, field] : fields) {
    if (const auto* it = json->Find(name)) {
      if (!it->is_string()) return std::nullopt;
      const auto visibility = presence::ParseVisibility(it->string());
      if (!visibility) return std::nullopt;
      *field = *visibility;
    }
  }
  return settings;
}

}  // namespace

EMSCRIPTEN_BINDINGS(presence_core) {
  using emscripten::optional_override;

  emscripten::constant("MAX_FRAME_BYTES",
                       static_cast<double>(presence::kMaxFrameBytes));
  emscripten::constant("MAX_IDS_PER_FRAME",
                       static_cast<double>(presence::kMaxIdsPerFrame));
  emscripten::constant("MAX_SUBSCRIPTIONS",
                       static_cast<double>(presence::kMaxSubscriptions));
  emscripten::constant("MAX_ID_LENGTH",
                       static_cast<double>(presence::kMaxIdLength));
  emscripten::constant("MAX_TEXT_LENGTH",
                       static_cast<double>(presence::kMaxTextLength));

  emscripten::class_<ClientSession>("ClientSession")
      .class_function("create", optional_override([](val config_json) {
                        return CreateSession(config_json);
                      }))
      // ---- app inputs ----
      .function("start", optional_override([](ClientSession& s, double now) {
                  s.Start(ToMs(now));
                }))
      .function("stop", optional_override([](ClientSession& s, double now) {
                  s.Stop(ToMs(now));
                }))
      .function("setToken", optional_override([](ClientSession& s, val token) {
                  std::string text;
                  if (!ToText(token, &text)) return false;
                  s.SetToken(std::move(text));
                  return true;
                }))
      .function("setStatus",
                optional_override([](ClientSession& s, val status, double now) {
                  std::string text;
                  if (!ToText(status, &text)) return false;
                  const auto parsed = presence::ParseStatus(text);
                  return parsed && s.SetStatus(*parsed, ToMs(now));
                }))
      // `text` may be omitted (undefined or null) for idle.
      .function("setActivity", optional_override([](ClientSession& s, val kind,
                                                    val text, double now) {
                  std::string kind_text;
                  if (!ToText(kind, &kind_text)) return false;
                  const auto parsed = presence::ParseActivityKind(kind_text);
                  if (!parsed) return false;
                  presence::Activity activity{*parsed, {}};
                  if (!text.isUndefined() && !text.isNull() &&
                      !ToText(text, &activity.text)) {
                    return false;
                  }
                  return s.SetActivity(activity, ToMs(now));
                }))
      .function("startTyping",
                optional_override(
                    [](ClientSession& s, val conversation_id, double now) {
                      std::string text;
                      if (!ToText(conversation_id, &text)) return false;
                      return s.StartTyping(text, ToMs(now));
                    }))
      .function("subscribe",
                optional_override([](ClientSession& s, val ids, double now) {
                  std::vector<std::string> list;
                  return ToTextList(ids, &list) && s.Subscribe(list, ToMs(now));
                }))
      .function("unsubscribe",
                optional_override([](ClientSession& s, val ids, double now) {
                  std::vector<std::string> list;
                  return ToTextList(ids, &list) &&
                         s.Unsubscribe(list, ToMs(now));
                }))
      .function("replaceSubscriptions",
                optional_override([](ClientSession& s, val ids, double now) {
                  std::vector<std::string> list;
                  return ToTextList(ids, &list) &&
                         s.ReplaceSubscriptions(list, ToMs(now));
                }))
      // ---- transport inputs ----
      .function("handleSocketOpen",
                optional_override([](ClientSession& s, double now) {
                  s.HandleSocketOpen(ToMs(now));
                }))
      // "" when the frame was taken, else why it was ignored.
      .function("handleMessage",
                optional_override([](ClientSession& s, val frame, double now) {
                  std::string text;
                  if (!ToFrameBytes(frame, &text)) {
                    return std::string("not a string or bytes");
                  }
                  auto error = s.HandleMessage(text, ToMs(now));
                  return error ? std::move(error->message) : std::string();
                }))
      .function(
          "handleSocketClose",
          optional_override([](ClientSession& s, double code, double now) {
            // Close codes are 0..4999; anything else is no code.
            const int close_code =
                (code >= 0 && code <= 4999) ? static_cast<int>(code) : 0;
            s.HandleSocketClose(close_code, ToMs(now));
          }))
      .function("handleTimeout",
                optional_override([](ClientSession& s, double now) {
                  s.HandleTimeout(ToMs(now));
                }))
      .function("handleNetwork", optional_override([](ClientSession& s,
                                                      bool online, double now) {
                  s.HandleNetwork(online, ToMs(now));
                }))
      // ---- page inputs ----
      .function(
          "handlePageVisibility",
          optional_override([](ClientSession& s, bool visible, double now) {
            s.HandlePageVisibility(visible, ToMs(now));
          }))
      .function(
          "handlePageFocus",
          optional_override([](ClientSession& s, bool focused, double now) {
            s.HandlePageFocus(focused, ToMs(now));
          }))
      .function("handleUserInput",
                optional_override([](ClientSession& s, double now) {
                  s.HandleUserInput(ToMs(now));
                }))
      .function(
          "handlePageHide",
          optional_override([](ClientSession& s, bool persisted, double now) {
            s.HandlePageHide(persisted, ToMs(now));
          }))
      .function(
          "handlePageShow",
          optional_override([](ClientSession& s, bool persisted, double now) {
            s.HandlePageShow(persisted, ToMs(now));
          }))
      // ---- outputs ----
      .function("pollAction", optional_override([](ClientSession& s) {
                  return ActionText(s.PollAction());
                }))
      .function("pollTransmits", optional_override([](ClientSession& s) {
                  std::vector<std::string> frames;
                  while (auto frame = s.PollTransmit()) {
                    frames.push_back(std::move(*frame));
                  }
                  return val::array(frames);
                }))
      .function("pollChangesJson", optional_override([](ClientSession& s) {
                  return ChangesJson(s);
                }))
      .function("nextDeadline", optional_override([](const ClientSession& s) {
                  return FromOptionalMs(s.NextDeadline());
                }))
      // ---- state ----
      .function("state", optional_override([](const ClientSession& s) {
                  return std::string(presence::ToString(s.state()));
                }))
      .function("status", optional_override([](const ClientSession& s) {
                  return std::string(presence::ToString(s.status()));
                }))
      .function("chosenStatus", optional_override([](const ClientSession& s) {
                  return std::string(presence::ToString(s.chosen_status()));
                }))
      .function("sessionId", optional_override([](const ClientSession& s) {
                  return s.session_id();
                }))
      .function("userId", optional_override([](const ClientSession& s) {
                  return s.user_id();
                }))
      .function("heartbeatMs", optional_override([](const ClientSession& s) {
                  return FromMs(s.heartbeat_ms());
                }))
      .function("serverOffsetMs", optional_override([](const ClientSession& s) {
                  return FromMs(s.server_offset_ms());
                }))
      .function("reconnectAttempts",
                optional_override([](const ClientSession& s) {
                  return s.reconnect_attempts();
                }))
      .function("lastErrorJson", optional_override([](const ClientSession& s) {
                  return ErrorJson(s.last_error());
                }))
      .function("getViewJson",
                optional_override([](const ClientSession& s, val user_id) {
                  std::string id;
                  if (!ToText(user_id, &id)) return std::string();
                  const presence::View* view = s.GetView(id);
                  return view ? presence::ViewJson(*view) : std::string();
                }));

  emscripten::function("parseServerFrame", optional_override([](val text) {
                         return ParseResult<presence::ServerFrame>(
                             text, &presence::ParseServerFrame);
                       }));
  emscripten::function("parseClientFrame", optional_override([](val text) {
                         return ParseResult<presence::ClientFrame>(
                             text, &presence::ParseClientFrame);
                       }));

  // {bucket, count, epochMs, nextChangeMs}; a negative last seen is unknown.
  emscripten::function(
      "classifyLastSeen", optional_override([](double last_seen, double now) {
        const presence::LastSeenText text =
            presence::ClassifyLastSeen(ToOptionalMs(last_seen), ToMs(now));
        val result = val::object();
        result.set("bucket", std::string(BucketName(text.bucket)));
        result.set("count", FromMs(text.count));
        result.set("epochMs", FromMs(text.epoch_ms));
        result.set("nextChangeMs", FromOptionalMs(text.next_change_ms));
        return result;
      }));
  emscripten::function(
      "formatLastSeen", optional_override([](double last_seen, double now) {
        return presence::FormatLastSeen(
            presence::ClassifyLastSeen(ToOptionalMs(last_seen), ToMs(now)));
      }));
  // "" for an unknown last seen.
  emscripten::function("approximateLastSeen",
                       optional_override([](double last_seen, double now) {
                         const auto ms = ToOptionalMs(last_seen);
                         if (!ms) return std::string();
                         return std::string(presence::ToString(
                             presence::ApproximateLastSeen(*ms, ToMs(now))));
                       }));

  // View JSON of `state` as `viewer` ("self" | "contact" | "other") sees it,
  // or "" for invalid input.
  emscripten::function(
      "projectView",
      optional_override([](val state_json, val settings_json, val viewer) {
        std::string state_text;
        std::string settings_text;
        std::string viewer_text;
        if (!ToText(state_json, &state_text) ||
            !ToText(settings_json, &settings_text) ||
            !ToText(viewer, &viewer_text)) {
          return std::string();
        }
        const auto state = ParseState(state_text);
        const auto settings = ParseSettings(settings_text);
        const auto viewer_class = ParseViewerClass(viewer_text);
        if (!state || !settings || !viewer_class) return std::string();
        return presence::ViewJson(
            presence::Project(*state, *settings, *viewer_class));
      }));
  emscripten::function(
      "classifyViewer", optional_override([](val viewer_id, val target_id,
                                             bool viewer_is_contact) {
        std::string viewer;
        std::string target;
        if (!ToText(viewer_id, &viewer) || !ToText(target_id, &target)) {
          return std::string();
        }
        return std::string(presence::ToString(
            presence::ClassifyViewer(viewer, target, viewer_is_contact)));
      }));
  emscripten::function("isValidId", optional_override([](val id) {
                         std::string text;
                         return ToText(id, &text) && presence::IsValidId(text);
                       }));
}
