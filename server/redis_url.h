// RedisUrl: the --redis flag, `redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]`.
//
// HOST is a name, an IPv4 address or a bracketed IPv6 address; PORT
// defaults to 6379 and DB (a SELECT index) to 0. `:PASSWORD@` sends
// `AUTH PASSWORD` (requirepass), `USER:PASSWORD@` sends `AUTH USER
// PASSWORD` (an ACL user), on every connection before anything else; both
// may be percent-encoded (%40 for @, %3A for :). Nothing else is accepted:
// no query, no user without a password, no other scheme (`rediss://`, TLS,
// gets its own "not supported"), so a typo is an error at startup rather
// than a node that quietly talks to the wrong place.
//
// The password is a secret: log a URL only through RedactRedisUrl.

#ifndef PRESENCE_SERVER_REDIS_URL_H_
#define PRESENCE_SERVER_REDIS_URL_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace presence::server {

struct RedisUrl {
  std::string host;
  uint16_t port = 6379;
  int db = 0;
  std::string user;      // empty: the default user
  std::string password;  // empty: no AUTH
  bool operator==(const RedisUrl&) const = default;
};

// The parsed URL, or nullopt with `error` saying what is wrong (never
// quoting the password).
std::optional<RedisUrl> ParseRedisUrl(std::string_view url, std::string* error);

// `url` with any password replaced by `***`, for logs and error messages;
// works on strings that do not parse too.
std::string RedactRedisUrl(std::string_view url);

// The AUTH command for `url`, or an empty vector when it has no password.
std::vector<std::string> RedisAuthCommand(const RedisUrl& url);

}  // namespace presence::server

#endif  // PRESENCE_SERVER_REDIS_URL_H_
