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
// Serializing uses a fixed-schema writer (no generic JSON tree) and always
// yields valid JSON; `AppendViewJson` writes one View so the hub can encode a
// view once and splice the same bytes into many `presence_bulk` frames with
// `BulkFramePrefix` / `BulkFrameSeparator` / `BulkFrameSuffix`.
//
// Thread safety: all functions are pure.

#ifndef PRESENCE_CODEC_H_
#define PRESENCE_CODEC_H_

#include <string>
#include <string_view>
#include <variant>

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

// Appends `text` as a JSON string literal (quoted, escaped).
void AppendJsonString(std::string_view text, std::string* out);

}  // namespace presence

#endif  // PRESENCE_CODEC_H_
