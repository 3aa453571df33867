// presence-server's configuration: flags, the same names as PRESENCE_*
// environment variables, and defaults from DESIGN.md.
//
// `ParseConfig` reads the environment first, then argv (flags win). It never
// exits: it returns the config, or an error message for a bad flag (the
// caller prints it and exits 2), or `help` set for --help. A secret may come
// from --jwt-secret or from a file (--jwt-secret-file); a missing secret is
// an error unless --dev (which then uses a fixed, loudly logged dev secret).

#ifndef PRESENCE_SERVER_CONFIG_H_
#define PRESENCE_SERVER_CONFIG_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "presence/hub.h"
#include "presence/rate_limiter.h"

namespace presence::server {

enum class LogLevel { kDebug, kInfo, kWarn, kError };

struct Config {
  std::string host = "127.0.0.1";
  uint16_t port = 8080;
  std::string db = "presence.db";  // ":memory:" allowed
  std::string jwt_secret;
  // The timings' defaults are the hub's own (DESIGN.md), stated once.
  int64_t heartbeat_ms = HubConfig{}.heartbeat_ms;
  int64_t ping_ms = HubConfig{}.ping_ms;
  int64_t timeout_ms = HubConfig{}.timeout_ms;
  int64_t leave_grace_ms = HubConfig{}.leave_grace_ms;
  int64_t activity_ttl_ms = HubConfig{}.activity_ttl_ms;
  int64_t flush_ms = HubConfig{}.flush_ms;
  std::string static_dir;  // empty: no static files
  bool dev = false;        // POST /api/dev/token
  LogLevel log_level = LogLevel::kInfo;
  std::vector<std::string> allow_origins;  // WebSocket Origin allow-list
  std::string redis;  // cluster mode: redis://HOST[:PORT][/DB] (redis_url.h)
  // Limits (DESIGN.md "Limits"); flags too, for tests and operators.
  double rate_per_sec = RateLimit{}.frames_per_second;
  double rate_burst = RateLimit{}.burst;
  size_t max_queued_bytes = 4 * 1024 * 1024;  // per connection, then 1008
  // Authenticated sockets one user may hold on this server; the next auth
  // gets `limit` and close 4429. 0: no cap. A person has a few tabs and
  // devices; hundreds of sockets under one token is a bug or abuse.
  size_t max_sockets_per_user = 64;
};

struct ConfigResult {
  std::optional<Config> config;
  std::string error;  // set when config is nullopt and !help
  bool help = false;
};

// The secret used with --dev when none is given. Never for production: the
// caller logs a warning when `config->jwt_secret == kDevJwtSecret`.
inline constexpr std::string_view kDevJwtSecret =
    "presence-dev-secret-not-for-production";

// `args` are the command-line arguments WITHOUT the program name (argv + 1).
// `getenv` is injected so tests need not touch the process environment; it
// returns nullopt for an unset variable (an empty value counts as unset).
ConfigResult ParseConfig(
    const std::vector<std::string>& args,
    const std::function<std::optional<std::string>(const std::string&)>&
        getenv);

std::string HelpText();

}  // namespace presence::server

#endif  // PRESENCE_SERVER_CONFIG_H_
