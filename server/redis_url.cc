#include "redis_url.h"

#include <charconv>

namespace presence::server {
namespace {

constexpr std::string_view kScheme = "redis://";

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
    *error = why + " (expected redis://HOST[:PORT][/DB])";
    return std::nullopt;
  };
  if (!url.starts_with(kScheme)) return fail("not a redis:// URL");
  std::string_view rest = url.substr(kScheme.size());
  RedisUrl out;
  const size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos) {
    std::optional<uint64_t> db = Whole(rest.substr(slash + 1), 1'000'000);
    if (!db) return fail("DB must be a whole number");
    out.db = static_cast<int>(*db);
  }
  if (authority.find('@') != std::string_view::npos) {
    return fail("user and password are not supported");
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

}  // namespace presence::server
