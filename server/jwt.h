// HS256 JSON Web Tokens, checked with OpenSSL's HMAC and a constant-time
// compare. Only `alg: HS256` is accepted (`none` and every other alg are
// refused); `typ`, if present, must be "JWT"; a `crit` header is refused;
// `sub` must be present and a non-empty string; `exp` (seconds, may be
// fractional), when present, must be in the future (now >= exp: "expired");
// `nbf`, when present, must be past. Tokens over 8 KiB, with other than three
// parts, or with bad base64url are refused. An empty secret verifies nothing.
// `SignHs256` makes tokens for POST /api/dev/token and for tests.

#ifndef PRESENCE_SERVER_JWT_H_
#define PRESENCE_SERVER_JWT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace presence::server {

struct JwtClaims {
  std::string sub;
  std::optional<int64_t> exp_ms;
};

struct JwtResult {
  std::optional<JwtClaims> claims;
  std::string error;  // "bad signature", "expired", "alg not HS256", ...
};

JwtResult VerifyHs256(std::string_view token, std::string_view secret,
                      int64_t now_ms);

std::string SignHs256(std::string_view sub, std::optional<int64_t> exp_s,
                      std::string_view secret);

}  // namespace presence::server

#endif  // PRESENCE_SERVER_JWT_H_
