#include "jwt.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <string>
#include <vector>

namespace presence::server {
namespace {

constexpr std::string_view kSecret = "test-secret";
constexpr int64_t kNowMs = 1'700'000'000'000;  // 2023-11-14
constexpr int64_t kNowS = kNowMs / 1000;

// An encoder that shares no code with jwt.cc: OpenSSL's standard base64,
// then the URL alphabet and no padding.
std::string B64Url(std::string_view data) {
  std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');
  const int n =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                      reinterpret_cast<const unsigned char*>(data.data()),
                      static_cast<int>(data.size()));
  out.resize(static_cast<size_t>(n));
  while (!out.empty() && out.back() == '=') out.pop_back();
  for (char& c : out) {
    if (c == '+') c = '-';
    if (c == '/') c = '_';
  }
  return out;
}

std::string Hmac(std::string_view key, std::string_view data,
                 const EVP_MD* md = EVP_sha256()) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(md, key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac,
       &len);
  return std::string(reinterpret_cast<const char*>(mac), len);
}

// A token from hand-written JSON, signed independently of SignHs256.
std::string MakeToken(std::string_view header_json,
                      std::string_view payload_json,
                      std::string_view key = kSecret,
                      const EVP_MD* md = EVP_sha256()) {
  std::string signing_input = B64Url(header_json) + "." + B64Url(payload_json);
  return signing_input + "." + B64Url(Hmac(key, signing_input, md));
}

constexpr std::string_view kHeader = R"({"alg":"HS256","typ":"JWT"})";

std::string PayloadWithExp(int64_t exp_s) {
  return R"({"sub":"alice","exp":)" + std::to_string(exp_s) + "}";
}

TEST(JwtTest, SignedTokenVerifies) {
  const std::string token = SignHs256("alice", kNowS + 3600, kSecret);
  JwtResult r = VerifyHs256(token, kSecret, kNowMs);
  ASSERT_TRUE(r.claims.has_value()) << r.error;
  EXPECT_EQ(r.error, "");
  EXPECT_EQ(r.claims->sub, "alice");
  EXPECT_EQ(r.claims->exp_ms, (kNowS + 3600) * 1000);
}

TEST(JwtTest, SignedTokenWithoutExpNeverExpires) {
  const std::string token = SignHs256("bob@example.com", std::nullopt, kSecret);
  JwtResult r = VerifyHs256(token, kSecret, kNowMs);
  ASSERT_TRUE(r.claims.has_value()) << r.error;
  EXPECT_EQ(r.claims->sub, "bob@example.com");
  EXPECT_FALSE(r.claims->exp_ms.has_value());
}

TEST(JwtTest, SignedTokenIsThreeUnpaddedBase64UrlParts) {
  const std::string token = SignHs256("alice", kNowS, kSecret);
  EXPECT_EQ(token.find_first_not_of(
                "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                "0123456789-_."),
            std::string::npos);
  EXPECT_EQ(std::count(token.begin(), token.end(), '.'), 2);
  // The header is the standard one, byte for byte.
  EXPECT_EQ(token.substr(0, token.find('.')), B64Url(kHeader));
}

TEST(JwtTest, IndependentlyMadeTokenVerifies) {
  const std::string token =
      MakeToken(kHeader, R"({"sub":"carol","exp":)" +
                             std::to_string(kNowS + 60) + R"(,"iat":1})");
  JwtResult r = VerifyHs256(token, kSecret, kNowMs);
  ASSERT_TRUE(r.claims.has_value()) << r.error;
  EXPECT_EQ(r.claims->sub, "carol");
  EXPECT_EQ(r.claims->exp_ms, (kNowS + 60) * 1000);
}

TEST(JwtTest, SignHs256MatchesAnIndependentSignature) {
  // Same header, same compact payload (keys sorted), same key: the same
  // token.
  EXPECT_EQ(SignHs256("alice", kNowS, kSecret),
            MakeToken(kHeader, R"({"exp":)" + std::to_string(kNowS) +
                                   R"(,"sub":"alice"})"));
}

TEST(JwtTest, HeaderWithoutTypIsAccepted) {
  const std::string token =
      MakeToken(R"({"alg":"HS256"})", PayloadWithExp(kNowS + 1));
  EXPECT_TRUE(VerifyHs256(token, kSecret, kNowMs).claims.has_value());
}

TEST(JwtTest, WrongTypIsRefused) {
  const std::string token =
      MakeToken(R"({"alg":"HS256","typ":"JWE"})", PayloadWithExp(kNowS + 1));
  JwtResult r = VerifyHs256(token, kSecret, kNowMs);
  EXPECT_FALSE(r.claims.has_value());
  EXPECT_EQ(r.error, "typ not JWT");
}

TEST(JwtTest, CritHeaderIsRefused) {
  const std::string token = MakeToken(
      R"({"alg":"HS256","crit":["exp"],"exp":1})", PayloadWithExp(kNowS + 1));
  EXPECT_EQ(VerifyHs256(token, kSecret, kNowMs).error,
            "unsupported crit header");
}

// The HMAC is computed by hand (SHA-256 blocks): it must agree with
// OpenSSL's HMAC() for keys shorter than, equal to and longer than the
// 64-byte block (a longer key is hashed first), both ways.
TEST(JwtTest, HmacMatchesOpenSslForEveryKeyLength) {
  for (size_t length : {1, 31, 63, 64, 65, 100, 200}) {
    std::string key;
    for (size_t i = 0; i < length; ++i) {
      key.push_back(static_cast<char>('!' + (i * 7) % 90));
    }
    const std::string token =
        MakeToken(kHeader, PayloadWithExp(kNowS + 60), key);
    EXPECT_TRUE(VerifyHs256(token, key, kNowMs).claims.has_value()) << length;
    const std::string signed_token = SignHs256("alice", kNowS + 60, key);
    const size_t dot = signed_token.rfind('.');
    EXPECT_EQ(signed_token.substr(dot + 1),
              B64Url(Hmac(key, signed_token.substr(0, dot))))
        << length;
    // One byte of the key changed: another MAC.
    std::string other = key;
    other.back() ^= 1;
    EXPECT_EQ(VerifyHs256(token, other, kNowMs).error, "bad signature")
        << length;
  }
}

TEST(JwtTest, FractionalExpIsMilliseconds) {
  const std::string token = MakeToken(
      kHeader, R"({"sub":"alice","exp":)" + std::to_string(kNowS) + ".5}");
  JwtResult r = VerifyHs256(token, kSecret, kNowMs);
  ASSERT_TRUE(r.claims.has_value()) << r.error;
  EXPECT_EQ(r.claims->exp_ms, kNowMs + 500);
  EXPECT_EQ(VerifyHs256(token, kSecret, kNowMs + 500).error, "expired");
}

TEST(JwtTest, BadSignature) {
  std::string token = SignHs256("alice", kNowS + 60, kSecret);
  // Same claims, another key.
  EXPECT_EQ(VerifyHs256(token, "other-secret", kNowMs).error, "bad signature");
  // One signature character changed (the first: no padding bits involved).
  const size_t sig = token.rfind('.') + 1;
  token[sig] = token[sig] == 'A' ? 'B' : 'A';
  JwtResult r = VerifyHs256(token, kSecret, kNowMs);
  EXPECT_FALSE(r.claims.has_value());
  EXPECT_EQ(r.error, "bad signature");
}

TEST(JwtTest, ChangedPayloadBreaksTheSignature) {
  const std::string good = SignHs256("alice", kNowS + 60, kSecret);
  const std::string forged = B64Url(kHeader) + "." +
                             B64Url(R"({"sub":"admin","exp":99999999999})") +
                             good.substr(good.rfind('.'));
  EXPECT_EQ(VerifyHs256(forged, kSecret, kNowMs).error, "bad signature");
}

TEST(JwtTest, TruncatedSignatureIsRefused) {
  const std::string token = SignHs256("alice", kNowS + 60, kSecret);
  EXPECT_EQ(
      VerifyHs256(token.substr(0, token.size() - 4), kSecret, kNowMs).error,
      "bad signature");
}

TEST(JwtTest, AlgNoneWithEmptySignatureIsRefused) {
  const std::string token = B64Url(R"({"alg":"none","typ":"JWT"})") + "." +
                            B64Url(PayloadWithExp(kNowS + 60)) + ".";
  JwtResult r = VerifyHs256(token, kSecret, kNowMs);
  EXPECT_FALSE(r.claims.has_value());
  EXPECT_EQ(r.error, "alg not HS256");
}

TEST(JwtTest, AlgNoneIsRefusedEvenWithAValidHmac) {
  const std::string token =
      MakeToken(R"({"alg":"none"})", PayloadWithExp(kNowS + 60));
  EXPECT_EQ(VerifyHs256(token, kSecret, kNowMs).error, "alg not HS256");
}

TEST(JwtTest, Hs512IsRefused) {
  const std::string token =
      MakeToken(R"({"alg":"HS512","typ":"JWT"})", PayloadWithExp(kNowS + 60),
                kSecret, EVP_sha512());
  JwtResult r = VerifyHs256(token, kSecret, kNowMs);
  EXPECT_FALSE(r.claims.has_value());
  EXPECT_EQ(r.error, "alg not HS256");
}

TEST(JwtTest, MissingOrOddAlgIsRefused) {
  for (const char* header :
       {R"({"typ":"JWT"})", R"({"alg":null})", R"({"alg":256})",
        R"({"alg":"hs256"})", R"({"alg":["HS256"]})"}) {
    const std::string token = MakeToken(header, PayloadWithExp(kNowS + 60));
    EXPECT_EQ(VerifyHs256(token, kSecret, kNowMs).error, "alg not HS256")
        << header;
  }
}

TEST(JwtTest, Expired) {
  const std::string token = SignHs256("alice", kNowS, kSecret);
  EXPECT_TRUE(VerifyHs256(token, kSecret, kNowMs - 1).claims.has_value());
  JwtResult r = VerifyHs256(token, kSecret, kNowMs);  // now == exp
  EXPECT_FALSE(r.claims.has_value());
  EXPECT_EQ(r.error, "expired");
  EXPECT_EQ(VerifyHs256(token, kSecret, kNowMs + 1).error, "expired");
}

TEST(JwtTest, ExpMustBeANumber) {
  for (const char* exp : {R"("1700000060")", "null", "true", "[1]"}) {
    const std::string token =
        MakeToken(kHeader, std::string(R"({"sub":"alice","exp":)") + exp + "}");
    EXPECT_EQ(VerifyHs256(token, kSecret, kNowMs).error, "exp is not a number")
        << exp;
  }
}

TEST(JwtTest, HugeExpDoesNotOverflow) {
  for (const char* exp :
       {"18446744073709551615", "9223372036854775807", "1e300"}) {
    const std::string token =
        MakeToken(kHeader, std::string(R"({"sub":"alice","exp":)") + exp + "}");
    JwtResult r = VerifyHs256(token, kSecret, kNowMs);
    ASSERT_TRUE(r.claims.has_value()) << exp << ": " << r.error;
    EXPECT_GT(*r.claims->exp_ms, kNowMs) << exp;
  }
  const std::string very_old =
      MakeToken(kHeader, R"({"sub":"alice","exp":-9223372036854775807})");
  EXPECT_EQ(VerifyHs256(very_old, kSecret, kNowMs).error, "expired");
}

TEST(JwtTest, NotBefore) {
  const std::string token = MakeToken(
      kHeader, R"({"sub":"alice","nbf":)" + std::to_string(kNowS) + "}");
  EXPECT_EQ(VerifyHs256(token, kSecret, kNowMs - 1).error, "not yet valid");
  EXPECT_TRUE(VerifyHs256(token, kSecret, kNowMs).claims.has_value());
  const std::string bad_nbf =
      MakeToken(kHeader, R"({"sub":"alice","nbf":"soon"})");
  EXPECT_EQ(VerifyHs256(bad_nbf, kSecret, kNowMs).error, "nbf is not a number");
}

TEST(JwtTest, MissingSub) {
  for (const char* payload :
       {R"({"exp":1800000000})", R"({"sub":"","exp":1800000000})",
        R"({"sub":42,"exp":1800000000})", R"({"sub":null})",
        R"({"sub":{"id":"alice"}})"}) {
    JwtResult r = VerifyHs256(MakeToken(kHeader, payload), kSecret, kNowMs);
    EXPECT_FALSE(r.claims.has_value()) << payload;
    EXPECT_EQ(r.error, "missing sub") << payload;
  }
}

TEST(JwtTest, PayloadMustBeAJsonObject) {
  for (const char* payload : {"[]", R"("alice")", "{", "", "\xff\xfe"}) {
    EXPECT_EQ(VerifyHs256(MakeToken(kHeader, payload), kSecret, kNowMs).error,
              "malformed token: payload is not a JSON object")
        << payload;
  }
}

TEST(JwtTest, HeaderMustBeAJsonObject) {
  for (const char* header : {"[]", "null", "{\"alg\":\"HS256\"", ""}) {
    EXPECT_EQ(VerifyHs256(MakeToken(header, PayloadWithExp(kNowS + 1)), kSecret,
                          kNowMs)
                  .error,
              "malformed token: header is not a JSON object")
        << header;
  }
}

TEST(JwtTest, Garbage) {
  for (const char* token :
       {"", "garbage", "not.a.jwt", "...", "a.b.c", "\x01\x02.\x03.\x04",
        "Bearer x.y.z", "eyJhbGciOiJIUzI1NiJ9.e30.!!!"}) {
    JwtResult r = VerifyHs256(token, kSecret, kNowMs);
    EXPECT_FALSE(r.claims.has_value()) << token;
    EXPECT_FALSE(r.error.empty()) << token;
  }
}

TEST(JwtTest, TwoPartsAreRefused) {
  const std::string token = SignHs256("alice", kNowS + 60, kSecret);
  const std::string two = token.substr(0, token.rfind('.'));
  EXPECT_EQ(VerifyHs256(two, kSecret, kNowMs).error,
            "malformed token: expected three parts");
}

TEST(JwtTest, FourPartsAreRefused) {
  const std::string token = SignHs256("alice", kNowS + 60, kSecret);
  EXPECT_EQ(VerifyHs256(token + ".x", kSecret, kNowMs).error,
            "malformed token: expected three parts");
}

TEST(JwtTest, InvalidBase64IsRefused) {
  const std::string good = SignHs256("alice", kNowS + 60, kSecret);
  const size_t dot2 = good.rfind('.');
  // A standard-alphabet character in the header.
  std::string plus = good;
  plus[1] = '+';
  EXPECT_EQ(VerifyHs256(plus, kSecret, kNowMs).error,
            "malformed token: header is not base64url");
  // A space inside the signature.
  std::string space = good;
  space[dot2 + 3] = ' ';
  EXPECT_EQ(VerifyHs256(space, kSecret, kNowMs).error,
            "malformed token: signature is not base64url");
  // A length no base64 can have (4n + 1), in a correctly signed payload.
  const std::string input = B64Url(kHeader) + "." + B64Url("{}") + "AA";
  const std::string bad_len = input + "." + B64Url(Hmac(kSecret, input));
  EXPECT_EQ(VerifyHs256(bad_len, kSecret, kNowMs).error,
            "malformed token: payload is not base64url");
}

TEST(JwtTest, WrongPaddingIsRefused) {
  // "{}" is "e30" unpadded, "e30=" padded (allowed), anything else is not.
  for (const char* header_b64 :
       {"e30==", "e30===", "e3=0", "=e30", "e30=e30="}) {
    const std::string token = std::string(header_b64) + ".e30.AAAA";
    EXPECT_EQ(VerifyHs256(token, kSecret, kNowMs).error,
              "malformed token: header is not base64url")
        << header_b64;
  }
}

TEST(JwtTest, CorrectPaddingIsAccepted) {
  // Some encoders pad; a correctly padded part is the same bytes.
  std::string token = SignHs256("alice", kNowS + 60, kSecret);
  // 32 signature bytes are 43 characters unpadded, 44 with one '='.
  token += "=";
  JwtResult r = VerifyHs256(token, kSecret, kNowMs);
  EXPECT_TRUE(r.claims.has_value()) << r.error;
}

TEST(JwtTest, NonCanonicalTrailingBitsAreRefused) {
  // 43 characters carry 258 bits for 256: the last character's low two bits
  // must be zero, or two strings would decode to the same signature.
  std::string token = SignHs256("alice", kNowS + 60, kSecret);
  char& last = token.back();
  const std::string alphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  last = alphabet[alphabet.find(last) | 1];
  EXPECT_EQ(VerifyHs256(token, kSecret, kNowMs).error,
            "malformed token: signature is not base64url");
}

TEST(JwtTest, HugeTokenIsRefused) {
  // A valid token, only made long by a big claim.
  const std::string big = MakeToken(
      kHeader, R"({"sub":"alice","pad":")" + std::string(9000, 'x') + "\"}");
  ASSERT_GT(big.size(), 8u * 1024);
  EXPECT_EQ(VerifyHs256(big, kSecret, kNowMs).error, "token too long");
  // Just under the limit is fine.
  std::string pad(8 * 1024, 'x');
  std::string fits;
  do {
    pad.pop_back();
    fits = MakeToken(kHeader, R"({"sub":"alice","pad":")" + pad + "\"}");
  } while (fits.size() > 8u * 1024);
  EXPECT_TRUE(VerifyHs256(fits, kSecret, kNowMs).claims.has_value());
}

TEST(JwtTest, EmptySecretVerifiesNothing) {
  const std::string token = MakeToken(kHeader, PayloadWithExp(kNowS + 60), "");
  JwtResult r = VerifyHs256(token, "", kNowMs);
  EXPECT_FALSE(r.claims.has_value());
  EXPECT_EQ(r.error, "no secret configured");
}

TEST(JwtTest, SubWithUnicodeAndEscapesRoundTrips) {
  const std::string sub = "zo\xC3\xAB \"q\" \\ /";
  JwtResult r =
      VerifyHs256(SignHs256(sub, std::nullopt, kSecret), kSecret, kNowMs);
  ASSERT_TRUE(r.claims.has_value()) << r.error;
  EXPECT_EQ(r.claims->sub, sub);
}

TEST(JwtTest, SignDoesNotThrowOnInvalidUtf8) {
  const std::string token = SignHs256("bad\xff", std::nullopt, kSecret);
  EXPECT_FALSE(token.empty());
  EXPECT_TRUE(VerifyHs256(token, kSecret, kNowMs).claims.has_value());
}

}  // namespace
}  // namespace presence::server
