// RedisUrl: the --redis flag, `redis://HOST[:PORT][/DB]`.
//
// HOST is a name, an IPv4 address or a bracketed IPv6 address; PORT
// defaults to 6379 and DB (a SELECT index) to 0. Nothing else is accepted:
// no user or password, no query, no other scheme, so a typo is an error at
// startup rather than a node that quietly talks to the wrong place.

#ifndef PRESENCE_SERVER_REDIS_URL_H_
#define PRESENCE_SERVER_REDIS_URL_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace presence::server {

struct RedisUrl {
  std::string host;
  uint16_t port = 6379;
  int db = 0;
  bool operator==(const RedisUrl&) const = default;
};

// The parsed URL, or nullopt with `error` saying what is wrong.
std::optional<RedisUrl> ParseRedisUrl(std::string_view url, std::string* error);

}  // namespace presence::server

#endif  // PRESENCE_SERVER_REDIS_URL_H_
