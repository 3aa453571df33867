#include "jwt.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <array>
#include <cmath>
#include <nlohmann/json.hpp>

namespace presence::server {
namespace {

using Json = nlohmann::json;

// Far more than any token we issue; bounds the work a stranger can cause.
constexpr size_t kMaxTokenBytes = 8 * 1024;
constexpr size_t kSha256Bytes = 32;
// Beyond this (year ~287 000) milliseconds no longer matter; also keeps
// seconds * 1000 far from int64 overflow.
constexpr double kMaxTimeMs = 9e15;

constexpr char kBase64UrlAlphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int Base64UrlValue(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

// RFC 7515 base64url. Padding is optional but, when present, must be
// exactly right; unused trailing bits must be zero, so every byte string has
// one encoding (no two signatures that read as the same bytes).
std::optional<std::string> Base64UrlDecode(std::string_view in) {
  if (in.size() % 4 == 0 && !in.empty()) {
    size_t pad = 0;
    while (pad < 2 && in.size() > pad && in[in.size() - 1 - pad] == '=') {
      ++pad;
    }
    in.remove_suffix(pad);
  }
  if (in.size() % 4 == 1) return std::nullopt;
  std::string out;
  out.reserve(in.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    const int v = Base64UrlValue(c);
    if (v < 0) return std::nullopt;  // also catches a misplaced '='
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  if (bits > 0 && (acc & ((1u << bits) - 1)) != 0) return std::nullopt;
  return out;
}

std::string Base64UrlEncode(std::string_view in) {
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  uint32_t acc = 0;
  int bits = 0;
  for (unsigned char c : in) {
    acc = (acc << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(kBase64UrlAlphabet[(acc >> bits) & 0x3F]);
    }
  }
  if (bits > 0) {
    out.push_back(kBase64UrlAlphabet[(acc << (6 - bits)) & 0x3F]);
  }
  return out;
}

std::optional<std::array<unsigned char, kSha256Bytes>> HmacSha256(
    std::string_view key, std::string_view data) {
  // OpenSSL may treat a null key as "no key"; an empty one must still be a
  // key (it is refused earlier for verification anyway).
  static constexpr unsigned char kEmpty[1] = {0};
  const void* key_ptr =
      key.empty() ? static_cast<const void*>(kEmpty) : key.data();
  const unsigned char* data_ptr =
      data.empty() ? kEmpty
                   : reinterpret_cast<const unsigned char*>(data.data());
  std::array<unsigned char, kSha256Bytes> mac{};
  unsigned int mac_len = 0;
  if (HMAC(EVP_sha256(), key_ptr, static_cast<int>(key.size()), data_ptr,
           data.size(), mac.data(), &mac_len) == nullptr ||
      mac_len != kSha256Bytes) {
    return std::nullopt;
  }
  return mac;
}

// A NumericDate (seconds, maybe fractional) as milliseconds.
std::optional<int64_t> SecondsToMs(const Json& value) {
  if (value.is_number_integer() && !value.is_number_unsigned()) {
    const int64_t s = value.get<int64_t>();
    if (s > static_cast<int64_t>(kMaxTimeMs / 1000)) {
      return static_cast<int64_t>(kMaxTimeMs);
    }
    if (s < -static_cast<int64_t>(kMaxTimeMs / 1000)) {
      return -static_cast<int64_t>(kMaxTimeMs);
    }
    return s * 1000;
  }
  if (value.is_number_unsigned()) {
    const uint64_t s = value.get<uint64_t>();
    if (s > static_cast<uint64_t>(kMaxTimeMs / 1000)) {
      return static_cast<int64_t>(kMaxTimeMs);
    }
    return static_cast<int64_t>(s) * 1000;
  }
  if (value.is_number_float()) {
    const double ms = std::floor(value.get<double>() * 1000.0);
    if (!std::isfinite(ms)) return std::nullopt;
    if (ms > kMaxTimeMs) return static_cast<int64_t>(kMaxTimeMs);
    if (ms < -kMaxTimeMs) return -static_cast<int64_t>(kMaxTimeMs);
    return static_cast<int64_t>(ms);
  }
  return std::nullopt;
}

JwtResult Refuse(std::string error) {
  JwtResult result;
  result.error = std::move(error);
  return result;
}

}  // namespace

JwtResult VerifyHs256(std::string_view token, std::string_view secret,
                      int64_t now_ms) {
  if (secret.empty()) return Refuse("no secret configured");
  if (token.empty()) return Refuse("empty token");
  if (token.size() > kMaxTokenBytes) return Refuse("token too long");

  const size_t dot1 = token.find('.');
  const size_t dot2 =
      dot1 == std::string_view::npos ? dot1 : token.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos ||
      token.find('.', dot2 + 1) != std::string_view::npos) {
    return Refuse("malformed token: expected three parts");
  }
  const std::string_view header_b64 = token.substr(0, dot1);
  const std::string_view payload_b64 = token.substr(dot1 + 1, dot2 - dot1 - 1);
  const std::string_view signature_b64 = token.substr(dot2 + 1);

  std::optional<std::string> header_text = Base64UrlDecode(header_b64);
  if (!header_text) return Refuse("malformed token: header is not base64url");
  const Json header = Json::parse(*header_text, nullptr, false);
  if (header.is_discarded() || !header.is_object()) {
    return Refuse("malformed token: header is not a JSON object");
  }
  // The header decides nothing but must say what we expect: trusting its
  // alg is the classic "none"/HS512/RS256 confusion.
  const auto alg = header.find("alg");
  if (alg == header.end() || !alg->is_string() ||
      alg->get_ref<const std::string&>() != "HS256") {
    return Refuse("alg not HS256");
  }
  if (const auto typ = header.find("typ"); typ != header.end()) {
    if (!typ->is_string() || typ->get_ref<const std::string&>() != "JWT") {
      return Refuse("typ not JWT");
    }
  }
  // RFC 7515 4.1.11: extensions we do not understand must be refused.
  if (header.contains("crit")) return Refuse("unsupported crit header");

  std::optional<std::string> signature = Base64UrlDecode(signature_b64);
  if (!signature) {
    return Refuse("malformed token: signature is not base64url");
  }
  std::optional<std::array<unsigned char, kSha256Bytes>> expected =
      HmacSha256(secret, token.substr(0, dot2));
  if (!expected) return Refuse("hmac failed");
  // The length is public (always 32 for HS256); only the bytes need a
  // constant-time compare.
  if (signature->size() != kSha256Bytes ||
      CRYPTO_memcmp(signature->data(), expected->data(), kSha256Bytes) != 0) {
    return Refuse("bad signature");
  }

  std::optional<std::string> payload_text = Base64UrlDecode(payload_b64);
  if (!payload_text) {
    return Refuse("malformed token: payload is not base64url");
  }
  const Json payload = Json::parse(*payload_text, nullptr, false);
  if (payload.is_discarded() || !payload.is_object()) {
    return Refuse("malformed token: payload is not a JSON object");
  }

  JwtClaims claims;
  const auto sub = payload.find("sub");
  if (sub == payload.end() || !sub->is_string() ||
      sub->get_ref<const std::string&>().empty()) {
    return Refuse("missing sub");
  }
  claims.sub = sub->get_ref<const std::string&>();

  if (const auto exp = payload.find("exp"); exp != payload.end()) {
    std::optional<int64_t> exp_ms = SecondsToMs(*exp);
    if (!exp_ms) return Refuse("exp is not a number");
    if (now_ms >= *exp_ms) return Refuse("expired");
    claims.exp_ms = exp_ms;
  }
  if (const auto nbf = payload.find("nbf"); nbf != payload.end()) {
    std::optional<int64_t> nbf_ms = SecondsToMs(*nbf);
    if (!nbf_ms) return Refuse("nbf is not a number");
    if (now_ms < *nbf_ms) return Refuse("not yet valid");
  }

  JwtResult result;
  result.claims = std::move(claims);
  return result;
}

std::string SignHs256(std::string_view sub, std::optional<int64_t> exp_s,
                      std::string_view secret) {
  Json payload = Json::object();
  payload["sub"] = std::string(sub);
  if (exp_s) payload["exp"] = *exp_s;
  // `replace` keeps dump() from throwing on a sub that is not UTF-8.
  const std::string payload_text =
      payload.dump(-1, ' ', false, Json::error_handler_t::replace);
  std::string token = Base64UrlEncode(R"({"alg":"HS256","typ":"JWT"})");
  token += '.';
  token += Base64UrlEncode(payload_text);
  std::optional<std::array<unsigned char, kSha256Bytes>> mac =
      HmacSha256(secret, token);
  token += '.';
  if (mac) {
    token += Base64UrlEncode(std::string_view(
        reinterpret_cast<const char*>(mac->data()), mac->size()));
  }
  return token;
}

}  // namespace presence::server
