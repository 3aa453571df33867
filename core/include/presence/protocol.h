// Protocol v1 frames as typed values (DESIGN.md "Protocol v1").
//
// One struct per frame; a client frame is a `ClientFrame` variant, a server
// frame a `ServerFrame` variant. `user_id` on client frames is the optional
// claim that must equal the token's `sub` (the hub checks it, the codec only
// validates its shape). Parsing and serializing live in codec.h.

#ifndef PRESENCE_PROTOCOL_H_
#define PRESENCE_PROTOCOL_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "presence/model.h"

namespace presence {

enum class ErrorCode : uint8_t {
  kUnauthorized,
  kForbidden,
  kBadRequest,
  kRateLimited,
  kLimit,
  // Cluster mode: the node lost its link to the shared store (Redis); the
  // presence of users on other nodes may be stale until it returns.
  kUnavailable,
};

std::string_view ToString(ErrorCode code);
std::optional<ErrorCode> ParseErrorCode(std::string_view text);

// WebSocket close codes the protocol uses.
inline constexpr int kCloseGoingAway = 1001;     // server shutdown
inline constexpr int kClosePolicy = 1008;        // sustained abuse, slow reader
inline constexpr int kCloseTooBig = 1009;        // frame over kMaxFrameBytes
inline constexpr int kCloseUnauthorized = 4401;  // bad, expired or no token
inline constexpr int kCloseTimeout = 4408;       // dead (pings) or silent
inline constexpr int kCloseSessionMoved = 4409;  // resumed on a newer socket
inline constexpr int kCloseTooManySockets = 4429;  // per-user socket cap

// ---- client -> server ----

struct AuthFrame {
  std::string token;
  Device device = Device::kWeb;
  std::optional<std::string> session;  // resume this session if still known
  std::optional<Status> status;        // first status; default online
  std::optional<std::string> user_id;
  bool operator==(const AuthFrame&) const = default;
};

struct PresenceFrame {
  Status status = Status::kOnline;
  std::optional<int64_t> timestamp;  // a hint only: the server's clock rules
  std::optional<std::string> user_id;
  bool operator==(const PresenceFrame&) const = default;
};

struct HeartbeatFrame {
  std::optional<std::string> user_id;
  bool operator==(const HeartbeatFrame&) const = default;
};

struct ActivityFrame {
  Activity activity;
  std::optional<int64_t> timestamp;
  std::optional<std::string> user_id;
  bool operator==(const ActivityFrame&) const = default;
};

struct SubscribeFrame {
  std::vector<std::string> user_ids;
  bool replace = false;
  std::optional<std::string> user_id;
  bool operator==(const SubscribeFrame&) const = default;
};

struct UnsubscribeFrame {
  std::vector<std::string> user_ids;
  std::optional<std::string> user_id;
  bool operator==(const UnsubscribeFrame&) const = default;
};

using ClientFrame =
    std::variant<AuthFrame, PresenceFrame, HeartbeatFrame, ActivityFrame,
                 SubscribeFrame, UnsubscribeFrame>;

// ---- server -> client ----

struct WelcomeFrame {
  std::string user_id;
  std::string session;
  int64_t heartbeat_ms = 0;
  int64_t server_time = 0;
  bool operator==(const WelcomeFrame&) const = default;
};

struct BulkFrame {
  std::vector<View> updates;
  bool operator==(const BulkFrame&) const = default;
};

struct ErrorFrame {
  ErrorCode code = ErrorCode::kBadRequest;
  std::string message;
  bool operator==(const ErrorFrame&) const = default;
};

using ServerFrame = std::variant<WelcomeFrame, BulkFrame, ErrorFrame>;

}  // namespace presence

#endif  // PRESENCE_PROTOCOL_H_
