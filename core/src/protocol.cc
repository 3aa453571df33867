#include "presence/protocol.h"

namespace presence {

std::string_view ToString(ErrorCode code) {
  switch (code) {
    case ErrorCode::kUnauthorized:
      return "unauthorized";
    case ErrorCode::kForbidden:
      return "forbidden";
    case ErrorCode::kBadRequest:
      return "bad_request";
    case ErrorCode::kRateLimited:
      return "rate_limited";
    case ErrorCode::kLimit:
      return "limit";
    case ErrorCode::kUnavailable:
      return "unavailable";
  }
  return "bad_request";
}

std::optional<ErrorCode> ParseErrorCode(std::string_view text) {
  if (text == "unauthorized") return ErrorCode::kUnauthorized;
  if (text == "forbidden") return ErrorCode::kForbidden;
  if (text == "bad_request") return ErrorCode::kBadRequest;
  if (text == "rate_limited") return ErrorCode::kRateLimited;
  if (text == "limit") return ErrorCode::kLimit;
  if (text == "unavailable") return ErrorCode::kUnavailable;
  return std::nullopt;
}

}  // namespace presence
