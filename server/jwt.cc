// SHA256_Init/Update/Final are deprecated in OpenSSL 3 in favour of EVP,
// whose every init fetches the algorithm from a provider: an HMAC through
// EVP (or the one-shot HMAC()) measured 4-8 us here against 2 us for the
// same four blocks through these (which 3.x still ships). Every WebSocket
// auth verifies a token, twice with the socket cap (W6: 10 000 at once).
#define OPENSSL_API_COMPAT 10101

#include "jwt.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <array>
#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>

#include "presence/json.h"

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

// RFC 2104 HMAC over SHA-256 (block 64 bytes; a longer key is hashed
// first), as OpenSSL's HMAC() computes it.
std::array<unsigned char, kSha256Bytes> HmacSha256(std::string_view key,
                                                   std::string_view data) {
  constexpr size_t kBlock = 64;
  std::array<unsigned char, kBlock> block{};
  if (key.size() > kBlock) {
    SHA256(reinterpret_cast<const unsigned char*>(key.data()), key.size(),
           block.data());
  } else if (!key.empty()) {
    std::memcpy(block.data(), key.data(), key.size());
  }
  std::array<unsigned char, kBlock> pad;
  std::array<unsigned char, kSha256Bytes> inner;
  std::array<unsigned char, kSha256Bytes> mac;
  SHA256_CTX ctx;
  for (size_t i = 0; i < kBlock; ++i) pad[i] = block[i] ^ 0x36;
  SHA256_Init(&ctx);
  SHA256_Update(&ctx, pad.data(), kBlock);
  SHA256_Update(&ctx, data.data(), data.size());
  SHA256_Final(inner.data(), &ctx);
  for (size_t i = 0; i < kBlock; ++i) pad[i] = block[i] ^ 0x5c;
  SHA256_Init(&ctx);
  SHA256_Update(&ctx, pad.data(), kBlock);
  SHA256_Update(&ctx, inner.data(), inner.size());
  SHA256_Final(mac.data(), &ctx);
  OPENSSL_cleanse(block.data(), block.size());
  OPENSSL_cleanse(pad.data(), pad.size());
  return mac;
}

// A NumericDate (seconds, maybe fractional) as milliseconds.
std::optional<int64_t> SecondsToMs(const JsonValue& value) {
  if (value.type() == JsonValue::Type::kInteger) {
    const int64_t s = value.integer();
    if (s > static_cast<int64_t>(kMaxTimeMs / 1000)) {
      return static_cast<int64_t>(kMaxTimeMs);
    }
    if (s < -static_cast<int64_t>(kMaxTimeMs / 1000)) {
      return -static_cast<int64_t>(kMaxTimeMs);
    }
    return s * 1000;
  }
  if (value.is_number_unsigned()) {
    // Above int64: far beyond kMaxTimeMs.
    return static_cast<int64_t>(kMaxTimeMs);
  }
  if (value.type() == JsonValue::Type::kDouble) {
    const double ms = std::floor(value.number() * 1000.0);
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
  // The core's strict reader (RFC 8259, UTF-8 checked, a repeated key keeps
  // its last value, as with nlohmann) builds a smaller tree, faster.
  const std::optional<JsonValue> header = ParseJson(*header_text);
  if (!header || !header->is_object()) {
    return Refuse("malformed token: header is not a JSON object");
  }
  // The header decides nothing but must say what we expect: trusting its
  // alg is the classic "none"/HS512/RS256 confusion.
  const JsonValue* alg = header->Find("alg");
  if (alg == nullptr || !alg->is_string() || alg->string() != "HS256") {
    return Refuse("alg not HS256");
  }
  if (const JsonValue* typ = header->Find("typ"); typ != nullptr) {
    if (!typ->is_string() || typ->string() != "JWT") {
      return Refuse("typ not JWT");
    }
  }
  // RFC 7515 4.1.11: extensions we do not understand must be refused.
  if (header->Find("crit") != nullptr) {
    return Refuse("unsupported crit header");
  }

  std::optional<std::string> signature = Base64UrlDecode(signature_b64);
  if (!signature) {
    return Refuse("malformed token: signature is not base64url");
  }
  const std::array<unsigned char, kSha256Bytes> expected =
      HmacSha256(secret, token.substr(0, dot2));
  // The length is public (always 32 for HS256); only the bytes need a
  // constant-time compare.
  if (signature->size() != kSha256Bytes ||
      CRYPTO_memcmp(signature->data(), expected.data(), kSha256Bytes) != 0) {
    return Refuse("bad signature");
  }

  std::optional<std::string> payload_text = Base64UrlDecode(payload_b64);
  if (!payload_text) {
    return Refuse("malformed token: payload is not base64url");
  }
  std::optional<JsonValue> payload = ParseJson(*payload_text);
  if (!payload || !payload->is_object()) {
    return Refuse("malformed token: payload is not a JSON object");
  }

  JwtClaims claims;
  JsonValue* sub = payload->Find("sub");
  if (sub == nullptr || !sub->is_string() || sub->string().empty()) {
    return Refuse("missing sub");
  }
  claims.sub = std::move(sub->string());

  if (const JsonValue* exp = payload->Find("exp"); exp != nullptr) {
    std::optional<int64_t> exp_ms = SecondsToMs(*exp);
    if (!exp_ms) return Refuse("exp is not a number");
    if (now_ms >= *exp_ms) return Refuse("expired");
    claims.exp_ms = exp_ms;
  }
  if (const JsonValue* nbf = payload->Find("nbf"); nbf != nullptr) {
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
  const std::array<unsigned char, kSha256Bytes> mac = HmacSha256(secret, token);
  token += '.';
  token += Base64UrlEncode(
      std::string_view(reinterpret_cast<const char*>(mac.data()), mac.size()));
  return token;
}

}  // namespace presence::server
