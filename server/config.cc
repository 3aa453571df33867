#include "config.h"

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <limits>
#include <memory>
#include <system_error>

#include "redis_url.h"

namespace presence::server {
namespace {

enum class Kind {
  kString,    // any value; `allow_empty` says whether "" is fine
  kPort,      // 0..65535
  kMs,        // whole milliseconds in [min, max]
  kSize,      // whole bytes in [min, max]
  kRate,      // decimal number in [min, max]
  kBool,      // bare flag; env or --flag=VALUE take 1/true/0/false
  kLogLevel,  // debug|info|warn|error
  kOrigins,   // repeatable, comma-separated
};

enum class Field {
  kHost,
  kPort,
  kDb,
  kJwtSecret,
  kJwtSecretFile,
  kHeartbeatMs,
  kPingMs,
  kTimeoutMs,
  kLeaveGraceMs,
  kActivityTtlMs,
  kFlushMs,
  kStatic,
  kDev,
  kLogLevel,
  kAllowOrigin,
  kRedis,
  kRatePerSec,
  kRateBurst,
  kMaxQueuedBytes,
  kMaxSocketsPerUser,
};

struct FlagSpec {
  std::string_view name;  // without the leading "--"
  std::string_view env;
  std::string_view value_name;  // for the help text
  std::string_view help;
  std::string_view default_text;
  Field field;
  Kind kind;
  double min = 0;
  double max = 0;
  bool allow_empty = false;
};

// A day: no timer of ours has a reason to be longer.
constexpr double kMaxMs = 86'400'000;

// The one table of flags: parsing, env names and the help text all read it.
constexpr FlagSpec kFlags[] = {
    {"host", "PRESENCE_HOST", "HOST", "address to listen on", "127.0.0.1",
     Field::kHost, Kind::kString},
    {"port", "PRESENCE_PORT", "PORT", "port to listen on (0: any free port)",
     "8080", Field::kPort, Kind::kPort},
    {"db", "PRESENCE_DB", "PATH", "SQLite database file (:memory: allowed)",
     "presence.db", Field::kDb, Kind::kString},
    {"jwt-secret", "PRESENCE_JWT_SECRET", "SECRET", "HS256 secret for tokens",
     "none", Field::kJwtSecret, Kind::kString},
    {"jwt-secret-file", "PRESENCE_JWT_SECRET_FILE", "PATH",
     "read the secret from a file (final newline dropped)", "none",
     Field::kJwtSecretFile, Kind::kString},
    {"heartbeat-ms", "PRESENCE_HEARTBEAT_MS", "MS",
     "app heartbeat interval told to clients", "30000", Field::kHeartbeatMs,
     Kind::kMs, 1, kMaxMs},
    {"ping-ms", "PRESENCE_PING_MS", "MS", "WebSocket ping interval", "5000",
     Field::kPingMs, Kind::kMs, 1, kMaxMs},
    {"timeout-ms", "PRESENCE_TIMEOUT_MS", "MS",
     "silence before a session is dead (> heartbeat-ms)", "75000",
     Field::kTimeoutMs, Kind::kMs, 1, kMaxMs},
    {"leave-grace-ms", "PRESENCE_LEAVE_GRACE_MS", "MS",
     "wait before a closed session counts as gone", "5000",
     Field::kLeaveGraceMs, Kind::kMs, 1, kMaxMs},
    {"activity-ttl-ms", "PRESENCE_ACTIVITY_TTL_MS", "MS",
     "how long an activity lasts without renewal", "3000",
     Field::kActivityTtlMs, Kind::kMs, 1, kMaxMs},
    {"flush-ms", "PRESENCE_FLUSH_MS", "MS",
     "coalescing window for presence updates", "50", Field::kFlushMs, Kind::kMs,
     1, 10'000},
    {"static", "PRESENCE_STATIC", "DIR", "serve the demo from this directory",
     "none", Field::kStatic, Kind::kString, 0, 0, /*allow_empty=*/true},
    {"dev", "PRESENCE_DEV", "",
     "enable POST /api/dev/token (env: 1/true/0/false)", "off", Field::kDev,
     Kind::kBool},
    {"log-level", "PRESENCE_LOG_LEVEL", "LEVEL", "debug, info, warn or error",
     "info", Field::kLogLevel, Kind::kLogLevel},
    {"allow-origin", "PRESENCE_ALLOW_ORIGIN", "ORIGIN",
     "allowed WebSocket Origin (repeatable, a,b,c)", "any", Field::kAllowOrigin,
     Kind::kOrigins},
    {"redis", "PRESENCE_REDIS", "URL", "Redis URL for cluster mode", "none",
     Field::kRedis, Kind::kString, 0, 0, /*allow_empty=*/true},
    {"rate-per-sec", "PRESENCE_RATE_PER_SEC", "N",
     "sustained frames per second per connection", "20", Field::kRatePerSec,
     Kind::kRate, 0.001, 1'000'000},
    {"rate-burst", "PRESENCE_RATE_BURST", "N",
     "frames per connection in a burst", "60", Field::kRateBurst, Kind::kRate,
     1, 1'000'000},
    {"max-queued-bytes", "PRESENCE_MAX_QUEUED_BYTES", "BYTES",
     "unsent bytes per connection, then close 1008", "4194304",
     Field::kMaxQueuedBytes, Kind::kSize, 1, 1024.0 * 1024 * 1024},
    {"max-sockets-per-user", "PRESENCE_MAX_SOCKETS_PER_USER", "N",
     "authenticated sockets per user, then error limit + close 4429 (0: no "
     "cap)",
     "64", Field::kMaxSocketsPerUser, Kind::kSize, 0, 1'000'000},
};

// Secrets larger than this are surely the wrong file.
constexpr size_t kMaxSecretFileBytes = 64 * 1024;

const FlagSpec* FindFlag(std::string_view name) {
  for (const FlagSpec& spec : kFlags) {
    if (spec.name == name) return &spec;
  }
  return nullptr;
}

std::string Quote(std::string_view value) {
  std::string out = "'";
  out.append(value);
  out += "'";
  return out;
}

std::string FormatRange(double min, double max) {
  auto format = [](double v) {
    char buf[32];
    int n = std::snprintf(buf, sizeof buf, "%.15g", v);
    return std::string(buf, n > 0 ? static_cast<size_t>(n) : 0);
  };
  return format(min) + "-" + format(max);
}

// Whole decimal digits only: no sign, no spaces, no exponent.
std::optional<uint64_t> ParseWhole(std::string_view text) {
  if (text.empty()) return std::nullopt;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
  }
  uint64_t value = 0;
  auto [ptr, ec] =
      std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size()) {
    return std::nullopt;
  }
  return value;
}

// Digits with an optional fraction ("20", "0.5"); no sign, exponent, inf.
std::optional<double> ParseDecimal(std::string_view text) {
  size_t digits = 0;
  size_t dots = 0;
  for (char c : text) {
    if (c >= '0' && c <= '9') {
      ++digits;
    } else if (c == '.') {
      ++dots;
    } else {
      return std::nullopt;
    }
  }
  if (digits == 0 || dots > 1) return std::nullopt;
  double value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(),
                                   value, std::chars_format::fixed);
  if (ec != std::errc() || ptr != text.data() + text.size()) {
    return std::nullopt;
  }
  return value;
}

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::optional<bool> ParseBool(std::string_view text) {
  std::string lower = Lower(text);
  if (lower == "1" || lower == "true") return true;
  if (lower == "0" || lower == "false") return false;
  return std::nullopt;
}

std::string_view Trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) {
    text.remove_prefix(1);
  }
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) {
    text.remove_suffix(1);
  }
  return text;
}

// Where the secret may come from; flags beat the environment as a pair, so a
// --jwt-secret-file flag overrides a PRESENCE_JWT_SECRET variable.
struct SecretSource {
  std::optional<std::string> secret;
  std::optional<std::string> file;
  std::string secret_name;  // "--jwt-secret" or "PRESENCE_JWT_SECRET"
  std::string file_name;
};

struct ParseState {
  Config config;
  SecretSource env_secret;
  SecretSource flag_secret;
  bool origins_from_flags = false;
};

// Applies one value from the flag or variable called `who`. Returns an
// error message, or nullopt.
std::optional<std::string> Apply(const FlagSpec& spec, std::string_view who,
                                 std::string_view value, bool from_flag,
                                 ParseState& state) {
  Config& config = state.config;
  const std::string name(who);
  switch (spec.kind) {
    case Kind::kString: {
      if (value.empty() && !spec.allow_empty) {
        return name + ": must not be empty";
      }
      std::string v(value);
      SecretSource& secret = from_flag ? state.flag_secret : state.env_secret;
      switch (spec.field) {
        case Field::kHost:
          config.host = std::move(v);
          break;
        case Field::kDb:
          config.db = std::move(v);
          break;
        case Field::kStatic:
          config.static_dir = std::move(v);
          break;
        case Field::kRedis: {
          std::string error;
          if (!v.empty() && !ParseRedisUrl(v, &error)) {
            return name + ": " + error + ", got " + Quote(RedactRedisUrl(v));
          }
          config.redis = std::move(v);
          break;
        }
        case Field::kJwtSecret:
          secret.secret = std::move(v);
          secret.secret_name = name;
          break;
        case Field::kJwtSecretFile:
          secret.file = std::move(v);
          secret.file_name = name;
          break;
        default:
          break;
      }
      return std::nullopt;
    }
    case Kind::kPort: {
      std::optional<uint64_t> port = ParseWhole(value);
      if (!port || *port > 65535) {
        return name + ": expected a number 0-65535, got " + Quote(value);
      }
      config.port = static_cast<uint16_t>(*port);
      return std::nullopt;
    }
    case Kind::kMs:
    case Kind::kSize: {
      std::optional<uint64_t> n = ParseWhole(value);
      if (!n || static_cast<double>(*n) < spec.min ||
          static_cast<double>(*n) > spec.max) {
        return name + ": expected a whole number " +
               FormatRange(spec.min, spec.max) +
               (spec.kind == Kind::kMs                 ? " (milliseconds)"
                : spec.field == Field::kMaxQueuedBytes ? " (bytes)"
                                                       : "") +
               ", got " + Quote(value);
      }
      const int64_t v = static_cast<int64_t>(*n);
      switch (spec.field) {
        case Field::kHeartbeatMs:
          config.heartbeat_ms = v;
          break;
        case Field::kPingMs:
          config.ping_ms = v;
          break;
        case Field::kTimeoutMs:
          config.timeout_ms = v;
          break;
        case Field::kLeaveGraceMs:
          config.leave_grace_ms = v;
          break;
        case Field::kActivityTtlMs:
          config.activity_ttl_ms = v;
          break;
        case Field::kFlushMs:
          config.flush_ms = v;
          break;
        case Field::kMaxQueuedBytes:
          config.max_queued_bytes = static_cast<size_t>(*n);
          break;
        case Field::kMaxSocketsPerUser:
          config.max_sockets_per_user = static_cast<size_t>(*n);
          break;
        default:
          break;
      }
      return std::nullopt;
    }
    case Kind::kRate: {
      std::optional<double> n = ParseDecimal(value);
      if (!n || *n < spec.min || *n > spec.max) {
        return name + ": expected a number " + FormatRange(spec.min, spec.max) +
               ", got " + Quote(value);
      }
      if (spec.field == Field::kRatePerSec) {
        config.rate_per_sec = *n;
      } else {
        config.rate_burst = *n;
      }
      return std::nullopt;
    }
    case Kind::kBool: {
      std::optional<bool> b = ParseBool(value);
      if (!b) {
        return name + ": expected 1, true, 0 or false, got " + Quote(value);
      }
      config.dev = *b;
      return std::nullopt;
    }
    case Kind::kLogLevel: {
      const std::string lower = Lower(value);
      if (lower == "debug") {
        config.log_level = LogLevel::kDebug;
      } else if (lower == "info") {
        config.log_level = LogLevel::kInfo;
      } else if (lower == "warn") {
        config.log_level = LogLevel::kWarn;
      } else if (lower == "error") {
        config.log_level = LogLevel::kError;
      } else {
        return name + ": expected debug, info, warn or error, got " +
               Quote(value);
      }
      return std::nullopt;
    }
    case Kind::kOrigins: {
      // The flags replace the environment's list; repeated flags add up.
      if (from_flag && !state.origins_from_flags) {
        config.allow_origins.clear();
        state.origins_from_flags = true;
      }
      size_t added = 0;
      std::string_view rest = value;
      while (true) {
        const size_t comma = rest.find(',');
        std::string_view item = Trim(rest.substr(0, comma));
        if (!item.empty()) {
          config.allow_origins.emplace_back(item);
          ++added;
        }
        if (comma == std::string_view::npos) break;
        rest.remove_prefix(comma + 1);
      }
      if (added == 0) return name + ": expected an origin, got " + Quote(value);
      return std::nullopt;
    }
  }
  return std::nullopt;
}

// Reads a secret file; a trailing newline (as editors and `echo` leave) is
// not part of the secret.
std::optional<std::string> ReadSecretFile(const std::string& who,
                                          const std::string& path,
                                          std::string* secret) {
  if (path.empty()) return who + ": must not be empty";
  struct Closer {
    void operator()(std::FILE* f) const { std::fclose(f); }
  };
  errno = 0;
  std::unique_ptr<std::FILE, Closer> file(std::fopen(path.c_str(), "rb"));
  if (!file) {
    return who + ": cannot read " + Quote(path) + ": " +
           std::generic_category().message(errno);
  }
  std::string data;
  char buf[4096];
  while (true) {
    const size_t n = std::fread(buf, 1, sizeof buf, file.get());
    data.append(buf, n);
    if (data.size() > kMaxSecretFileBytes) {
      return who + ": " + Quote(path) + " is too large for a secret";
    }
    if (n < sizeof buf) break;
  }
  if (std::ferror(file.get())) {
    return who + ": cannot read " + Quote(path);
  }
  while (!data.empty() && (data.back() == '\n' || data.back() == '\r')) {
    data.pop_back();
  }
  if (data.empty()) return who + ": " + Quote(path) + " is empty";
  *secret = std::move(data);
  return std::nullopt;
}

// Picks the secret: flags first, then the environment.
std::optional<std::string> ResolveSecret(ParseState& state) {
  const SecretSource& source =
      (state.flag_secret.secret || state.flag_secret.file) ? state.flag_secret
                                                           : state.env_secret;
  if (source.secret && source.file) {
    return "use only one of " + source.secret_name + " and " + source.file_name;
  }
  if (source.secret) {
    state.config.jwt_secret = *source.secret;
    return std::nullopt;
  }
  if (source.file) {
    return ReadSecretFile(source.file_name, *source.file,
                          &state.config.jwt_secret);
  }
  if (!state.config.dev) {
    return "a JWT secret is required (--jwt-secret or --jwt-secret-file)";
  }
  state.config.jwt_secret = std::string(kDevJwtSecret);
  return std::nullopt;
}

ConfigResult Fail(std::string error) {
  ConfigResult result;
  result.error = std::move(error);
  return result;
}

}  // namespace

ConfigResult ParseConfig(
    const std::vector<std::string>& args,
    const std::function<std::optional<std::string>(const std::string&)>&
        getenv) {
  ParseState state;

  if (getenv) {
    for (const FlagSpec& spec : kFlags) {
      const std::string env_name(spec.env);
      std::optional<std::string> value = getenv(env_name);
      if (!value || value->empty()) continue;
      if (auto error = Apply(spec, env_name, *value, false, state)) {
        return Fail(*error);
      }
    }
  }

  for (size_t i = 0; i < args.size(); ++i) {
    std::string_view arg = args[i];
    if (arg == "--help" || arg == "-h") {
      ConfigResult result;
      result.help = true;
      return result;
    }
    if (arg.size() < 3 || arg.substr(0, 2) != "--") {
      return Fail("unexpected argument " + Quote(arg) + " (see --help)");
    }
    std::string_view body = arg.substr(2);
    std::optional<std::string_view> inline_value;
    if (const size_t eq = body.find('='); eq != std::string_view::npos) {
      inline_value = body.substr(eq + 1);
      body = body.substr(0, eq);
    }
    const FlagSpec* spec = FindFlag(body);
    const std::string flag_name = "--" + std::string(body);
    if (spec == nullptr) {
      return Fail("unknown flag " + flag_name + " (see --help)");
    }
    std::string_view value;
    if (spec->kind == Kind::kBool) {
      // A bare switch never takes the next argument as its value.
      value = inline_value ? *inline_value : std::string_view("true");
    } else if (inline_value) {
      value = *inline_value;
    } else {
      // "--host --port 1" is far likelier a forgotten value than a host
      // named "--port"; the --flag=VALUE form is there for the odd case.
      if (i + 1 >= args.size() ||
          std::string_view(args[i + 1]).substr(0, 2) == "--") {
        return Fail(flag_name + ": missing value");
      }
      value = args[++i];
    }
    if (auto error = Apply(*spec, flag_name, value, true, state)) {
      return Fail(*error);
    }
  }

  if (auto error = ResolveSecret(state)) return Fail(*error);

  Config& config = state.config;
  if (config.timeout_ms <= config.heartbeat_ms) {
    return Fail("--timeout-ms (" + std::to_string(config.timeout_ms) +
                ") must be greater than --heartbeat-ms (" +
                std::to_string(config.heartbeat_ms) + ")");
  }

  ConfigResult result;
  result.config = std::move(config);
  return result;
}

std::string HelpText() {
  std::string text =
      "Usage: presence-server [flags]\n"
      "\n"
      "Real-time presence over WebSocket, with an HTTP API for settings and\n"
      "contacts. Every flag may also be set by the environment variable\n"
      "shown (an empty variable counts as unset); flags win. Values go as\n"
      "--flag VALUE or --flag=VALUE.\n"
      "\n";
  for (const FlagSpec& spec : kFlags) {
    std::string left = "  --";
    left.append(spec.name);
    if (!spec.value_name.empty()) {
      left += ' ';
      left.append(spec.value_name);
    }
    if (left.size() < 28) left.resize(28, ' ');
    text += left;
    text.append(spec.help);
    text += "\n";
    text.append(30, ' ');
    text += "env ";
    text.append(spec.env);
    text += ", default ";
    text.append(spec.default_text);
    text += "\n";
  }
  text +=
      "  --help                    this text (also -h)\n"
      "\n"
      "A JWT secret is required unless --dev, which then uses a fixed,\n"
      "public secret: never use --dev in production.\n";
  return text;
}

}  // namespace presence::server
