// The protocol v1 codec: text <-> typed frames.
//
// Parsing never throws and never aborts, whatever the bytes (the WASM build
// does not run catch blocks, and the native core is built with exceptions
// off): it returns the frame or a `CodecError` saying what is wrong. A frame
// with any invalid part is rejected whole. Rejected: a client frame over
// kMaxFrameBytes (server frames may be larger: the answer to a subscribe of
// 10 000 ids is), invalid JSON or UTF-8, nesting deeper than a frame needs,
// a non-object, unknown or missing `type`, missing required fields, fields of
// the wrong type, ids outside [A-Za-z0-9._@-]{1,128}, strings over their
// limit, arrays over kMaxIdsPerFrame. Unknown extra fields are ignored.
//
// `ReadPlainBulk` is the client's fast path for the frame it gets most: it
// reads a `presence_bulk` in one pass over the text, without a tree or any
// allocation (strings stay views into the text), but only in the plain shape
// the server writes: no escapes, no unknown or repeated members, lastSeen of
// at most 18 digits. For anything else it returns false and the caller parses
// with ParseServerFrame, which alone words errors. It never accepts a frame
// ParseServerFrame rejects, and yields the same views (the fuzzer checks).
//
// Serializing uses a fixed-schema writer (no generic JSON tree) and always
// yields valid JSON; `AppendViewJson` writes one View so the hub can encode a
// view once and splice the same bytes into many `presence_bulk` frames with
// `BulkFramePrefix` / `BulkFrameSeparator` / `BulkFrameSuffix`.
//
// Thread safety: all functions are pure.

#ifndef PRESENCE_CODEC_H_
#define PRESENCE_CODEC_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "presence/protocol.h"

namespace presence {

struct CodecError {
  std::string message;  // human-readable, safe to echo in an `error` frame
  bool operator==(const CodecError&) const = default;
};

template <typename T>
using Parsed = std::variant<T, CodecError>;

[[nodiscard]] Parsed<ClientFrame> ParseClientFrame(std::string_view text);
[[nodiscard]] Parsed<ServerFrame> ParseServerFrame(std::string_view text);

// One View of a bulk read in place; the strings point into the frame.
struct ViewRef {
  std::string_view user_id;
  std::optional<Status> status;
  std::optional<int64_t> last_seen_ms;
  std::optional<Device> device;
  bool has_activity = false;
  ActivityKind activity_kind = ActivityKind::kIdle;
  std::string_view activity_text;  // empty for kIdle

  // True if `view` holds exactly this.
  bool Matches(const View& view) const;
  // Makes `*view` hold this, reusing its strings' storage.
  void AssignTo(View* view) const;
};

// Clears `*out`, then fills it (and returns true) if `text` is a plain
// presence_bulk frame; see above.
[[nodiscard]] bool ReadPlainBulk(std::string_view text,
                                 std::vector<ViewRef>* out);

// A presence_subscribe or presence_unsubscribe read in place; the ids point
// into the frame.
struct IdListRef {
  bool unsubscribe = false;  // presence_unsubscribe
  bool replace = false;      // subscribe only
  std::optional<std::string_view> user_id;
  std::vector<std::string_view> user_ids;
};

// Clears `*out`, then fills it (and returns true) if `text` is a plain
// presence_subscribe or presence_unsubscribe: the server's fast path for
// the frame that can carry kMaxIdsPerFrame ids. Plain as for ReadPlainBulk:
// no escapes, no unknown or repeated members. For anything else it returns
// false and the caller parses with ParseClientFrame. It never accepts a
// frame ParseClientFrame rejects, and yields the same ids, replace and
// userId (the fuzzer checks).
[[nodiscard]] bool ReadPlainIdList(std::string_view text, IdListRef* out);

std::string Serialize(const ClientFrame& frame);
std::string Serialize(const ServerFrame& frame);

// Appends `view` as one JSON object: {"userId":..,"status":..,...}.
void AppendViewJson(const View& view, std::string* out);
std::string ViewJson(const View& view);

// A presence_bulk frame is Prefix + view (Separator + view)* + Suffix.
inline constexpr std::string_view kBulkFramePrefix =
    R"({"type":"presence_bulk","updates":[)";
inline constexpr std::string_view kBulkFrameSeparator = ",";
inline constexpr std::string_view kBulkFrameSuffix = "]}";

// Server frames may exceed kMaxFrameBytes: the answer to one subscribe of
// kMaxIdsPerFrame ids already does. This bounds a bulk frame holding a View
// of every subscribed user (plus the viewer) with every field at its limit
// (activity text escaped at up to 6 bytes per byte).
inline constexpr size_t kMaxViewBytes = 256 + kMaxIdLength + 6 * kMaxTextLength;
inline constexpr size_t kMaxServerFrameBytes =
    kBulkFramePrefix.size() + kBulkFrameSuffix.size() +
    (kMaxSubscriptions + 1) * (kMaxViewBytes + kBulkFrameSeparator.size());

// Appends `text` as a JSON string literal (quoted, escaped).
void AppendJsonString(std::string_view text, std::string* out);

}  // namespace presence

#endif  // PRESENCE_CODEC_H_
