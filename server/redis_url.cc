#include "redis_url.h"

#include <charconv>

namespace presence::server {
namespace {

constexpr std::string_view kScheme = "redis://";
constexpr std::string_view kTlsScheme = "rediss://";

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// RFC 3986 percent-decoding; nullopt on a broken escape.
std::optional<std::string> PercentDecode(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out.push_back(text[i]);
      continue;
    }
    if (i + 2 >= text.size()) return std::nullopt;
    const int hi = HexValue(text[i + 1]);
    const int lo = HexValue(text[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return out;
}

std::optional<uint64_t> Whole(std::string_view text, uint64_t max) {
  if (text.empty() || text.size() > 10) return std::nullopt;
  uint64_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || end != text.data() + text.size() || n > max) {
    return std::nullopt;
  }
  return n;
}

bool IsHostChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
         (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_';
}

}  // namespace

std::optional<RedisUrl> ParseRedisUrl(std::string_view url,
                                      std::string* error) {
  auto fail = [&](const std::string& why) -> std::optional<RedisUrl> {
    *error = why + " (expected redis://[[USER]:PASSWORD@]HOST[:PORT][/DB])";
    return std::nullopt;
  };
  if (url.starts_with(kTlsScheme)) {
    return fail(
        "rediss:// (TLS) is not supported: use redis:// on a trusted "
        "network or a TLS tunnel");
  }
  if (!url.starts_with(kScheme)) return fail("not a redis:// URL");
  std::string_view rest = url.substr(kScheme.size());
  RedisUrl out;
  // The password may hold '/' or '@' (percent-encoding is optional for
  // '/'): the user info ends at the last '@'.
  const size_t at = rest.rfind('@');
  if (at != std::string_view::npos) {
    const std::string_view userinfo = rest.substr(0, at);
    rest = rest.substr(at + 1);
    const size_t colon = userinfo.find(':');
    if (colon == std::string_view::npos) {
      return fail("a user needs a password (USER:PASSWORD@)");
    }
    std::optional<std::string> user = PercentDecode(userinfo.substr(0, colon));
    std::optional<std::string> password =
        PercentDecode(userinfo.substr(colon + 1));
    if (!user || !password) return fail("bad %-escape in user or password");
    if (password->empty()) return fail("empty password");
    out.user = std::move(*user);
    out.password = std::move(*password);
  }
  const size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos) {
    std::optional<uint64_t> db = Whole(rest.substr(slash + 1), 1'000'000);
    if (!db) return fail("DB must be a whole number");
    out.db = static_cast<int>(*db);
  }
  std::string_view host = authority;
  std::string_view port;
  if (authority.starts_with("[")) {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return fail("unclosed [ in host");
    host = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (!after.starts_with(":")) return fail("junk after ]");
      port = after.substr(1);
      if (port.empty()) return fail("empty port");
    }
    for (char c : host) {
      if (!IsHostChar(c) && c != ':') return fail("bad IPv6 host");
    }
  } else {
    const size_t colon = authority.rfind(':');
    if (colon != std::string_view::npos) {
      host = authority.substr(0, colon);
      port = authority.substr(colon + 1);
      if (port.empty()) return fail("empty port");
    }
    for (char c : host) {
      if (!IsHostChar(c)) return fail("bad character in host");
    }
  }
  if (host.empty()) return fail("missing host");
  out.host = std::string(host);
  if (!port.empty()) {
    std::optional<uint64_t> p = Whole(port, 65535);
    if (!p || *p == 0) return fail("port must be 1-65535");
    out.port = static_cast<uint16_t>(*p);
  }
  return out;
}

std::string RedactRedisUrl(std::string_view url) {
  const size_t scheme = url.find("://");
  const size_t start = scheme == std::string_view::npos ? 0 : scheme + 3;
  const size_t at = url.rfind('@');
  if (at == std::string_view::npos || at < start) return std::string(url);
  const size_t colon = url.find(':', start);
  if (colon == std::string_view::npos || colon > at) {
    // No ':': the whole user info may be a password typed without one.
    return std::string(url.substr(0, start)) + "***" +
           std::string(url.substr(at));
  }
  return std::string(url.substr(0, colon + 1)) + "***" +
         std::string(url.substr(at));
}

std::vector<std::string> RedisAuthCommand(const RedisUrl& url) {
  if (url.password.empty()) return {};
  if (url.user.empty()) return {"AUTH", url.password};
  return {"AUTH", url.user, url.password};
}

}  // namespace presence::server
