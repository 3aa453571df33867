#include "presence/codec.h"

#include <charconv>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "presence/json.h"
#include "presence/utf8.h"

namespace presence {
namespace {

using Json = JsonValue;

// The deepest a v1 frame needs is 4 ({"updates":[{"activity":{}}]}); the
// slack leaves room for small unknown extra fields. Checked before the
// parser sees the text, so hostile nesting costs one linear scan.
constexpr int kMaxNesting = 8;

// ---------------------------------------------------------------- parsing

// True if `text` opens more than `max_depth` arrays/objects at once, outside
// of strings. Unbalanced input is left for the JSON parser to reject.
bool NestsDeeperThan(std::string_view text, int max_depth) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;  // the escaped character cannot end the string
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    switch (c) {
      case '"':
        in_string = true;
        break;
      case '[':
      case '{':
        if (++depth > max_depth) return true;
        break;
      case ']':
      case '}':
        if (depth > 0) --depth;
        break;
      default:
        break;
    }
  }
  return false;
}

// Parses `text` into an object, or sets `*error`.
bool ParseObject(std::string_view text, size_t max_bytes, Json* root,
                 std::string* error) {
  if (text.size() > max_bytes) {
    *error = "frame is too large (max " + std::to_string(max_bytes) + " bytes)";
    return false;
  }
  if (NestsDeeperThan(text, kMaxNesting)) {
    *error = "frame is nested too deeply";
    return false;
  }
  std::optional<Json> parsed = ParseJson(text, kMaxNesting);
  if (!parsed) {
    *error = "frame is not valid JSON in UTF-8";
    return false;
  }
  *root = std::move(*parsed);
  if (!root->is_object()) {
    *error = "frame must be a JSON object";
    return false;
  }
  return true;
}

// Where a value sits in the frame, for error messages ("updates[2].status").
// Only walked when a message is built, so the success path allocates nothing.
struct Path {
  const Path* parent = nullptr;
  std::string_view key;  // empty for an array element
  size_t index = 0;

  void AppendTo(std::string* out) const {
    if (parent != nullptr) parent->AppendTo(out);
    if (key.empty()) {
      out->push_back('[');
      out->append(std::to_string(index));
      out->push_back(']');
    } else {
      if (!out->empty()) out->push_back('.');
      out->append(key);
    }
  }
};

enum class Need : bool { kOptional, kRequired };

// Reads typed fields out of one JSON object. Every method returns false
// after writing a message to `*error`; an absent optional field leaves its
// output untouched. Strings are moved out of the tree, which is discarded
// after parsing.
class ObjectReader {
 public:
  ObjectReader(Json* object, const Path* path, std::string* error)
      : object_(object), path_(path), error_(error) {}

  bool String(std::string_view key, Need need,
              std::optional<std::string>* out) {
    Json* value = nullptr;
    if (!Lookup(key, need, &value)) return false;
    if (value == nullptr) return true;
    if (!value->is_string()) return Fail(key, "must be a string");
    *out = std::move(value->string());
    return true;
  }

  bool Id(std::string_view key, Need need, std::optional<std::string>* out) {
    if (!String(key, need, out)) return false;
    if (out->has_value() && !IsValidId(**out)) {
      return Fail(key, "invalid id");
    }
    return true;
  }

  bool Text(std::string_view key, Need need, std::optional<std::string>* out) {
    if (!String(key, need, out)) return false;
    if (out->has_value() && !IsValidText(**out)) {
      return Fail(key, "must be UTF-8 text of at most " +
                           std::to_string(kMaxTextLength) + " bytes");
    }
    return true;
  }

  // An int64 no smaller than `min` (0 or 1); times and durations are never
  // negative.
  bool Integer(std::string_view key, Need need, int64_t min,
               std::optional<int64_t>* out) {
    Json* value = nullptr;
    if (!Lookup(key, need, &value)) return false;
    if (value == nullptr) return true;
    const char* problem = min > 0 ? "must be a positive integer"
                                  : "must be a non-negative integer";
    if (!value->is_number_integer()) return Fail(key, problem);
    int64_t number = 0;
    if (value->is_number_unsigned()) {
      const uint64_t u = value->unsigned_integer();
      if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        return Fail(key, problem);
      }
      number = static_cast<int64_t>(u);
    } else {
      number = value->integer();
    }
    if (number < min) return Fail(key, problem);
    *out = number;
    return true;
  }

  bool Bool(std::string_view key, Need need, std::optional<bool>* out) {
    Json* value = nullptr;
    if (!Lookup(key, need, &value)) return false;
    if (value == nullptr) return true;
    if (!value->is_boolean()) return Fail(key, "must be true or false");
    *out = value->boolean();
    return true;
  }

  // A string naming one of an enum's values; `choices` lists them for the
  // message.
  template <typename E>
  bool Enum(std::string_view key, Need need,
            std::optional<E> (*parse)(std::string_view),
            std::string_view choices, std::optional<E>* out) {
    Json* value = nullptr;
    if (!Lookup(key, need, &value)) return false;
    if (value == nullptr) return true;
    std::optional<E> parsed;
    if (value->is_string()) parsed = parse(value->string());
    if (!parsed) return Fail(key, "must be one of " + std::string(choices));
    *out = parsed;
    return true;
  }

  bool IdList(std::string_view key, std::vector<std::string>* out) {
    Json* value = nullptr;
    if (!Lookup(key, Need::kRequired, &value)) return false;
    if (!value->is_array()) return Fail(key, "must be an array of ids");
    if (value->items().size() > kMaxIdsPerFrame) {
      return Fail(key,
                  "too many ids (max " + std::to_string(kMaxIdsPerFrame) + ")");
    }
    out->reserve(value->items().size());
    size_t index = 0;
    for (Json& item : value->items()) {
      if (!item.is_string() || !IsValidId(item.string())) {
        const Path list{path_, key};
        return FailAt(Path{&list, {}, index}, "invalid id");
      }
      out->push_back(std::move(item.string()));
      ++index;
    }
    return true;
  }

  bool ActivityObject(std::string_view key, Need need,
                      std::optional<Activity>* out) {
    Json* value = nullptr;
    if (!Lookup(key, need, &value)) return false;
    if (value == nullptr) return true;
    if (!value->is_object()) return Fail(key, "must be an object");
    const Path path{path_, key};
    ObjectReader reader(value, &path, error_);
    std::optional<ActivityKind> kind;
    if (!reader.Enum("type", Need::kRequired, &ParseActivityKind,
                     "viewing, typing, idle, busy", &kind)) {
      return false;
    }
    std::string_view text_key;
    switch (*kind) {
      case ActivityKind::kViewing:
        text_key = "page";
        break;
      case ActivityKind::kTyping:
        text_key = "conversationId";
        break;
      case ActivityKind::kBusy:
        text_key = "reason";
        break;
      case ActivityKind::kIdle:
        break;
    }
    Activity activity{*kind, {}};
    if (!text_key.empty()) {
      std::optional<std::string> text;
      if (!reader.Text(text_key, Need::kRequired, &text)) return false;
      activity.text = std::move(*text);
    }
    *out = std::move(activity);
    return true;
  }

  // Records a problem the caller found with field `key`; returns false.
  bool Reject(std::string_view key, std::string_view problem) {
    return Fail(key, problem);
  }

  bool ViewList(std::string_view key, std::vector<View>* out) {
    Json* value = nullptr;
    if (!Lookup(key, Need::kRequired, &value)) return false;
    if (!value->is_array()) return Fail(key, "must be an array of views");
    const Path list{path_, key};
    out->reserve(value->items().size());
    size_t index = 0;
    for (Json& item : value->items()) {
      const Path path{&list, {}, index};
      if (!item.is_object()) return FailAt(path, "must be an object");
      ObjectReader reader(&item, &path, error_);
      View view;
      std::optional<std::string> user_id;
      if (!reader.Id("userId", Need::kRequired, &user_id) ||
          !reader.Enum("status", Need::kOptional, &ParseStatus,
                       "online, away, offline", &view.status) ||
          !reader.Integer("lastSeen", Need::kOptional, 0, &view.last_seen_ms) ||
          !reader.Enum("device", Need::kOptional, &ParseDevice,
                       "web, mobile, desktop", &view.device) ||
          !reader.ActivityObject("activity", Need::kOptional, &view.activity)) {
        return false;
      }
      view.user_id = std::move(*user_id);
      out->push_back(std::move(view));
      ++index;
    }
    return true;
  }

 private:
  // Sets `*value` to the member or nullptr; false if required and absent.
  bool Lookup(std::string_view key, Need need, Json** value) {
    *value = object_->Find(key);
    if (*value == nullptr) {
      return need == Need::kOptional || Fail(key, "missing");
    }
    return true;
  }

  bool Fail(std::string_view key, std::string_view problem) {
    return FailAt(Path{path_, key}, problem);
  }

  bool FailAt(const Path& path, std::string_view problem) {
    error_->clear();
    path.AppendTo(error_);
    error_->append(": ");
    error_->append(problem);
    return false;
  }

  Json* object_;
  const Path* path_;
  std::string* error_;
};

constexpr std::string_view kStatusChoices = "online, away, offline";
constexpr std::string_view kDeviceChoices = "web, mobile, desktop";

bool ReadAuth(ObjectReader& r, AuthFrame* f) {
  std::optional<std::string> token;
  std::optional<Device> device;
  if (!r.String("token", Need::kRequired, &token) ||
      !r.Enum("device", Need::kRequired, &ParseDevice, kDeviceChoices,
              &device) ||
      !r.Id("session", Need::kOptional, &f->session) ||
      !r.Enum("status", Need::kOptional, &ParseStatus, kStatusChoices,
              &f->status) ||
      !r.Id("userId", Need::kOptional, &f->user_id)) {
    return false;
  }
  if (token->empty()) return r.Reject("token", "must not be empty");
  if (token->size() > kMaxTokenLength) {
    return r.Reject("token", "too long (max " +
                                 std::to_string(kMaxTokenLength) + " bytes)");
  }
  f->token = std::move(*token);
  f->device = *device;
  return true;
}

bool ReadPresence(ObjectReader& r, PresenceFrame* f) {
  std::optional<Status> status;
  if (!r.Enum("status", Need::kRequired, &ParseStatus, kStatusChoices,
              &status) ||
      !r.Integer("timestamp", Need::kOptional, 0, &f->timestamp) ||
      !r.Id("userId", Need::kOptional, &f->user_id)) {
    return false;
  }
  f->status = *status;
  return true;
}

bool ReadHeartbeat(ObjectReader& r, HeartbeatFrame* f) {
  return r.Id("userId", Need::kOptional, &f->user_id);
}

bool ReadActivity(ObjectReader& r, ActivityFrame* f) {
  std::optional<Activity> activity;
  if (!r.ActivityObject("activity", Need::kRequired, &activity) ||
      !r.Integer("timestamp", Need::kOptional, 0, &f->timestamp) ||
      !r.Id("userId", Need::kOptional, &f->user_id)) {
    return false;
  }
  f->activity = std::move(*activity);
  return true;
}

bool ReadSubscribe(ObjectReader& r, SubscribeFrame* f) {
  std::optional<bool> replace;
  if (!r.IdList("userIds", &f->user_ids) ||
      !r.Bool("replace", Need::kOptional, &replace) ||
      !r.Id("userId", Need::kOptional, &f->user_id)) {
    return false;
  }
  f->replace = replace.value_or(false);
  return true;
}

bool ReadUnsubscribe(ObjectReader& r, UnsubscribeFrame* f) {
  return r.IdList("userIds", &f->user_ids) &&
         r.Id("userId", Need::kOptional, &f->user_id);
}

bool ReadWelcome(ObjectReader& r, WelcomeFrame* f) {
  std::optional<std::string> user_id;
  std::optional<std::string> session;
  std::optional<int64_t> heartbeat_ms;
  std::optional<int64_t> server_time;
  if (!r.Id("userId", Need::kRequired, &user_id) ||
      !r.Id("session", Need::kRequired, &session) ||
      !r.Integer("heartbeatMs", Need::kRequired, 1, &heartbeat_ms) ||
      !r.Integer("serverTime", Need::kRequired, 0, &server_time)) {
    return false;
  }
  f->user_id = std::move(*user_id);
  f->session = std::move(*session);
  f->heartbeat_ms = *heartbeat_ms;
  f->server_time = *server_time;
  return true;
}

bool ReadBulk(ObjectReader& r, BulkFrame* f) {
  return r.ViewList("updates", &f->updates);
}

bool ReadError(ObjectReader& r, ErrorFrame* f) {
  std::optional<ErrorCode> code;
  std::optional<std::string> message;
  if (!r.Enum("code", Need::kRequired, &ParseErrorCode,
              "unauthorized, forbidden, bad_request, rate_limited, limit, "
              "unavailable",
              &code) ||
      !r.String("message", Need::kRequired, &message)) {
    return false;
  }
  f->code = *code;
  f->message = std::move(*message);
  return true;
}

// Reads the frame type `F` with `read`; the result converts to either
// variant.
template <typename F, typename Variant>
Parsed<Variant> Read(bool (*read)(ObjectReader&, F*), ObjectReader& reader,
                     std::string* error) {
  F frame;
  if (!read(reader, &frame)) return CodecError{std::move(*error)};
  return Variant(std::move(frame));
}

// Reads `type` and leaves `*type` pointing into the tree.
bool ReadType(Json& root, std::string* type, std::string* error) {
  Json* value = root.Find("type");
  if (value == nullptr) {
    *error = "type: missing";
    return false;
  }
  if (!value->is_string()) {
    *error = "type: must be a string";
    return false;
  }
  *type = std::move(value->string());
  return true;
}

// ------------------------------------------------------------- serializing

void AppendInt(int64_t value, std::string* out) {
  char buffer[24];
  const auto result = std::to_chars(buffer, buffer + sizeof(buffer), value);
  out->append(buffer, result.ptr);
}

// Appends `,"key":` (the caller writes the value).
void AppendKey(std::string_view key, std::string* out) {
  out->append(",\"");
  out->append(key);
  out->append("\":");
}

// Enum names and frame types are plain ASCII: no escaping needed.
void AppendName(std::string_view key, std::string_view name, std::string* out) {
  AppendKey(key, out);
  out->push_back('"');
  out->append(name);
  out->push_back('"');
}

void AppendStringField(std::string_view key, std::string_view value,
                       std::string* out) {
  AppendKey(key, out);
  AppendJsonString(value, out);
}

void AppendIntField(std::string_view key, int64_t value, std::string* out) {
  AppendKey(key, out);
  AppendInt(value, out);
}

void AppendActivity(const Activity& activity, std::string* out) {
  out->append("{\"type\":\"");
  out->append(ToString(activity.kind));
  out->push_back('"');
  switch (activity.kind) {
    case ActivityKind::kViewing:
      AppendStringField("page", activity.text, out);
      break;
    case ActivityKind::kTyping:
      AppendStringField("conversationId", activity.text, out);
      break;
    case ActivityKind::kBusy:
      AppendStringField("reason", activity.text, out);
      break;
    case ActivityKind::kIdle:
      break;
  }
  out->push_back('}');
}

void BeginFrame(std::string_view type, std::string* out) {
  out->append("{\"type\":\"");
  out->append(type);
  out->push_back('"');
}

void AppendUserIdClaim(const std::optional<std::string>& user_id,
                       std::string* out) {
  if (user_id) AppendStringField("userId", *user_id, out);
}

void AppendIdList(const std::vector<std::string>& ids, std::string* out) {
  AppendKey("userIds", out);
  out->push_back('[');
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i > 0) out->push_back(',');
    AppendJsonString(ids[i], out);
  }
  out->push_back(']');
}

void Write(const AuthFrame& f, std::string* out) {
  BeginFrame("auth", out);
  AppendStringField("token", f.token, out);
  AppendName("device", ToString(f.device), out);
  if (f.session) AppendStringField("session", *f.session, out);
  if (f.status) AppendName("status", ToString(*f.status), out);
  AppendUserIdClaim(f.user_id, out);
}

void Write(const PresenceFrame& f, std::string* out) {
  BeginFrame("presence", out);
  AppendName("status", ToString(f.status), out);
  if (f.timestamp) AppendIntField("timestamp", *f.timestamp, out);
  AppendUserIdClaim(f.user_id, out);
}

void Write(const HeartbeatFrame& f, std::string* out) {
  BeginFrame("heartbeat", out);
  AppendUserIdClaim(f.user_id, out);
}

void Write(const ActivityFrame& f, std::string* out) {
  BeginFrame("activity", out);
  AppendKey("activity", out);
  AppendActivity(f.activity, out);
  if (f.timestamp) AppendIntField("timestamp", *f.timestamp, out);
  AppendUserIdClaim(f.user_id, out);
}

void Write(const SubscribeFrame& f, std::string* out) {
  BeginFrame("presence_subscribe", out);
  AppendIdList(f.user_ids, out);
  // false is the default, so it is left out like an absent optional.
  if (f.replace) out->append(",\"replace\":true");
  AppendUserIdClaim(f.user_id, out);
}

void Write(const UnsubscribeFrame& f, std::string* out) {
  BeginFrame("presence_unsubscribe", out);
  AppendIdList(f.user_ids, out);
  AppendUserIdClaim(f.user_id, out);
}

void Write(const WelcomeFrame& f, std::string* out) {
  BeginFrame("welcome", out);
  AppendStringField("userId", f.user_id, out);
  AppendStringField("session", f.session, out);
  AppendIntField("heartbeatMs", f.heartbeat_ms, out);
  AppendIntField("serverTime", f.server_time, out);
}

void Write(const ErrorFrame& f, std::string* out) {
  BeginFrame("error", out);
  AppendName("code", ToString(f.code), out);
  AppendStringField("message", f.message, out);
}

}  // namespace

Parsed<ClientFrame> ParseClientFrame(std::string_view text) {
  std::string error;
  Json root;
  std::string type;
  if (!ParseObject(text, kMaxFrameBytes, &root, &error) ||
      !ReadType(root, &type, &error)) {
    return CodecError{std::move(error)};
  }
  ObjectReader r(&root, nullptr, &error);
  if (type == "auth") {
    return Read<AuthFrame, ClientFrame>(&ReadAuth, r, &error);
  }
  if (type == "presence") {
    return Read<PresenceFrame, ClientFrame>(&ReadPresence, r, &error);
  }
  if (type == "heartbeat") {
    return Read<HeartbeatFrame, ClientFrame>(&ReadHeartbeat, r, &error);
  }
  if (type == "activity") {
    return Read<ActivityFrame, ClientFrame>(&ReadActivity, r, &error);
  }
  if (type == "presence_subscribe") {
    return Read<SubscribeFrame, ClientFrame>(&ReadSubscribe, r, &error);
  }
  if (type == "presence_unsubscribe") {
    return Read<UnsubscribeFrame, ClientFrame>(&ReadUnsubscribe, r, &error);
  }
  return CodecError{"type: unknown frame type"};
}

Parsed<ServerFrame> ParseServerFrame(std::string_view text) {
  std::string error;
  Json root;
  std::string type;
  if (!ParseObject(text, kMaxServerFrameBytes, &root, &error) ||
      !ReadType(root, &type, &error)) {
    return CodecError{std::move(error)};
  }
  ObjectReader r(&root, nullptr, &error);
  if (type == "welcome") {
    return Read<WelcomeFrame, ServerFrame>(&ReadWelcome, r, &error);
  }
  if (type == "presence_bulk") {
    return Read<BulkFrame, ServerFrame>(&ReadBulk, r, &error);
  }
  if (type == "error") {
    return Read<ErrorFrame, ServerFrame>(&ReadError, r, &error);
  }
  return CodecError{"type: unknown frame type"};
}

std::string Serialize(const ClientFrame& frame) {
  std::string out;
  out.reserve(128);
  std::visit([&out](const auto& f) { Write(f, &out); }, frame);
  out.push_back('}');
  return out;
}

std::string Serialize(const ServerFrame& frame) {
  std::string out;
  if (const auto* bulk = std::get_if<BulkFrame>(&frame)) {
    out.reserve(kBulkFramePrefix.size() + kBulkFrameSuffix.size() +
                64 * bulk->updates.size());
    out.append(kBulkFramePrefix);
    for (size_t i = 0; i < bulk->updates.size(); ++i) {
      if (i > 0) out.append(kBulkFrameSeparator);
      AppendViewJson(bulk->updates[i], &out);
    }
    out.append(kBulkFrameSuffix);
    return out;
  }
  out.reserve(128);
  std::visit(
      [&out](const auto& f) {
        if constexpr (!std::is_same_v<std::decay_t<decltype(f)>, BulkFrame>) {
          Write(f, &out);
        }
      },
      frame);
  out.push_back('}');
  return out;
}

void AppendViewJson(const View& view, std::string* out) {
  out->append("{\"userId\":");
  AppendJsonString(view.user_id, out);
  if (view.status) AppendName("status", ToString(*view.status), out);
  if (view.last_seen_ms) AppendIntField("lastSeen", *view.last_seen_ms, out);
  if (view.device) AppendName("device", ToString(*view.device), out);
  if (view.activity) {
    AppendKey("activity", out);
    AppendActivity(*view.activity, out);
  }
  out->push_back('}');
}

std::string ViewJson(const View& view) {
  std::string out;
  out.reserve(96 + view.user_id.size() +
              (view.activity ? view.activity->text.size() : 0));
  AppendViewJson(view, &out);
  return out;
}

void AppendJsonString(std::string_view text, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->push_back('"');
  size_t run = 0;  // start of the bytes not yet copied
  size_t i = 0;
  while (i < text.size()) {
    const auto b = static_cast<unsigned char>(text[i]);
    if (b >= 0x20 && b < 0x80 && b != '"' && b != '\\') {
      ++i;
      continue;
    }
    if (b >= 0x80) {
      const size_t len = Utf8SequenceLength(text, i);
      if (len > 0) {
        i += len;
        continue;
      }
    }
    out->append(text.data() + run, i - run);
    switch (b) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      case '\b':
        out->append("\\b");
        break;
      case '\f':
        out->append("\\f");
        break;
      default:
        if (b < 0x20) {
          const char escape[] = {'\\', 'u',          '0',
                                 '0',  kHex[b >> 4], kHex[b & 0xF]};
          out->append(escape, sizeof(escape));
        } else {
          // Not UTF-8: U+FFFD keeps the output valid JSON whatever the
          // input was.
          out->append("\xEF\xBF\xBD");
        }
        break;
    }
    run = ++i;
  }
  out->append(text.data() + run, text.size() - run);
  out->push_back('"');
}

}  // namespace presence
