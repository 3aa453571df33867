#include "config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

namespace presence::server {
namespace {

using Env = std::map<std::string, std::string>;

ConfigResult Parse(std::vector<std::string> args, Env env = {}) {
  return ParseConfig(
      args, [env](const std::string& name) -> std::optional<std::string> {
        auto it = env.find(name);
        if (it == env.end()) return std::nullopt;
        return it->second;
      });
}

// Most tests are not about the secret; give them one.
std::vector<std::string> WithSecret(std::vector<std::string> args) {
  args.push_back("--jwt-secret=s3cret");
  return args;
}

Config ParseOk(std::vector<std::string> args, Env env = {}) {
  ConfigResult result = Parse(std::move(args), std::move(env));
  EXPECT_EQ(result.error, "");
  EXPECT_FALSE(result.help);
  if (!result.config) {
    ADD_FAILURE() << "no config";
    return Config{};
  }
  return *result.config;
}

std::string ParseError(std::vector<std::string> args, Env env = {}) {
  ConfigResult result = Parse(std::move(args), std::move(env));
  EXPECT_FALSE(result.config.has_value());
  EXPECT_FALSE(result.help);
  return result.error;
}

// A file removed when the test ends.
class TempFile {
 public:
  explicit TempFile(const std::string& contents) {
    path_ = (std::filesystem::temp_directory_path() /
             ("presence_config_test_" + std::to_string(::getpid()) + "_" +
              std::to_string(counter_++)))
                .string();
    std::ofstream(path_, std::ios::binary) << contents;
  }
  ~TempFile() { std::remove(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  static inline int counter_ = 0;
  std::string path_;
};

TEST(ConfigTest, DefaultsMatchDesign) {
  Config c = ParseOk(WithSecret({}));
  EXPECT_EQ(c.host, "127.0.0.1");
  EXPECT_EQ(c.port, 8080);
  EXPECT_EQ(c.db, "presence.db");
  EXPECT_EQ(c.jwt_secret, "s3cret");
  EXPECT_EQ(c.heartbeat_ms, 30'000);
  EXPECT_EQ(c.ping_ms, 5'000);
  EXPECT_EQ(c.timeout_ms, 75'000);
  EXPECT_EQ(c.leave_grace_ms, 5'000);
  EXPECT_EQ(c.activity_ttl_ms, 3'000);
  EXPECT_EQ(c.flush_ms, 50);
  EXPECT_EQ(c.static_dir, "");
  EXPECT_FALSE(c.dev);
  EXPECT_EQ(c.log_level, LogLevel::kInfo);
  EXPECT_TRUE(c.allow_origins.empty());
  EXPECT_EQ(c.redis, "");
  EXPECT_DOUBLE_EQ(c.rate_per_sec, 20);
  EXPECT_DOUBLE_EQ(c.rate_burst, 60);
  EXPECT_EQ(c.max_queued_bytes, 4u * 1024 * 1024);
  EXPECT_EQ(c.max_sockets_per_user, 64u);
}

TEST(ConfigTest, MaxSocketsPerUser) {
  EXPECT_EQ(
      ParseOk(WithSecret({"--max-sockets-per-user", "5"})).max_sockets_per_user,
      5u);
  // 0 turns the cap off.
  EXPECT_EQ(
      ParseOk(WithSecret({"--max-sockets-per-user=0"})).max_sockets_per_user,
      0u);
  EXPECT_EQ(ParseError(WithSecret({"--max-sockets-per-user", "-1"})),
            "--max-sockets-per-user: expected a whole number 0-1000000, got "
            "'-1'");
}

TEST(ConfigTest, EveryFlagWithSeparateValue) {
  const std::string dir = std::filesystem::temp_directory_path().string();
  Config c = ParseOk({"--host",
                      "0.0.0.0",
                      "--port",
                      "9001",
                      "--db",
                      ":memory:",
                      "--jwt-secret",
                      "abc",
                      "--heartbeat-ms",
                      "1000",
                      "--ping-ms",
                      "200",
                      "--timeout-ms",
                      "2500",
                      "--leave-grace-ms",
                      "300",
                      "--activity-ttl-ms",
                      "400",
                      "--flush-ms",
                      "10",
                      "--static",
                      dir,
                      "--dev",
                      "--log-level",
                      "debug",
                      "--allow-origin",
                      "http://a.example",
                      "--redis",
                      "redis://127.0.0.1:6390",
                      "--rate-per-sec",
                      "2.5",
                      "--rate-burst",
                      "7",
                      "--max-queued-bytes",
                      "65536"});
  EXPECT_EQ(c.host, "0.0.0.0");
  EXPECT_EQ(c.port, 9001);
  EXPECT_EQ(c.db, ":memory:");
  EXPECT_EQ(c.jwt_secret, "abc");
  EXPECT_EQ(c.heartbeat_ms, 1000);
  EXPECT_EQ(c.ping_ms, 200);
  EXPECT_EQ(c.timeout_ms, 2500);
  EXPECT_EQ(c.leave_grace_ms, 300);
  EXPECT_EQ(c.activity_ttl_ms, 400);
  EXPECT_EQ(c.flush_ms, 10);
  EXPECT_EQ(c.static_dir, dir);
  EXPECT_TRUE(c.dev);
  EXPECT_EQ(c.log_level, LogLevel::kDebug);
  EXPECT_EQ(c.allow_origins, std::vector<std::string>{"http://a.example"});
  EXPECT_EQ(c.redis, "redis://127.0.0.1:6390");
  EXPECT_DOUBLE_EQ(c.rate_per_sec, 2.5);
  EXPECT_DOUBLE_EQ(c.rate_burst, 7);
  EXPECT_EQ(c.max_queued_bytes, 65536u);
}

TEST(ConfigTest, EveryFlagWithEquals) {
  const std::string dir = std::filesystem::temp_directory_path().string();
  Config c =
      ParseOk({"--host=::1", "--port=0", "--db=/tmp/x.db", "--jwt-secret=a=b",
               "--heartbeat-ms=100", "--ping-ms=50", "--timeout-ms=101",
               "--leave-grace-ms=1", "--activity-ttl-ms=2", "--flush-ms=10000",
               "--static=" + dir, "--dev=true", "--log-level=warn",
               "--allow-origin=http://a,http://b", "--redis=redis://r",
               "--rate-per-sec=100", "--rate-burst=1", "--max-queued-bytes=1"});
  EXPECT_EQ(c.host, "::1");
  EXPECT_EQ(c.port, 0);
  EXPECT_EQ(c.db, "/tmp/x.db");
  EXPECT_EQ(c.jwt_secret, "a=b");  // only the first '=' splits
  EXPECT_EQ(c.heartbeat_ms, 100);
  EXPECT_EQ(c.ping_ms, 50);
  EXPECT_EQ(c.timeout_ms, 101);
  EXPECT_EQ(c.leave_grace_ms, 1);
  EXPECT_EQ(c.activity_ttl_ms, 2);
  EXPECT_EQ(c.flush_ms, 10000);
  EXPECT_EQ(c.static_dir, dir);
  EXPECT_TRUE(c.dev);
  EXPECT_EQ(c.log_level, LogLevel::kWarn);
  EXPECT_EQ(c.allow_origins,
            (std::vector<std::string>{"http://a", "http://b"}));
  EXPECT_EQ(c.redis, "redis://r");
  EXPECT_DOUBLE_EQ(c.rate_per_sec, 100);
  EXPECT_DOUBLE_EQ(c.rate_burst, 1);
  EXPECT_EQ(c.max_queued_bytes, 1u);
}

TEST(ConfigTest, EveryVariableFromEnvironment) {
  const std::string dir = std::filesystem::temp_directory_path().string();
  Config c = ParseOk({}, {{"PRESENCE_HOST", "10.0.0.1"},
                          {"PRESENCE_PORT", "1234"},
                          {"PRESENCE_DB", "env.db"},
                          {"PRESENCE_JWT_SECRET", "envsecret"},
                          {"PRESENCE_HEARTBEAT_MS", "2000"},
                          {"PRESENCE_PING_MS", "1500"},
                          {"PRESENCE_TIMEOUT_MS", "6000"},
                          {"PRESENCE_LEAVE_GRACE_MS", "700"},
                          {"PRESENCE_ACTIVITY_TTL_MS", "800"},
                          {"PRESENCE_FLUSH_MS", "25"},
                          {"PRESENCE_STATIC", dir},
                          {"PRESENCE_DEV", "1"},
                          {"PRESENCE_LOG_LEVEL", "error"},
                          {"PRESENCE_ALLOW_ORIGIN", "http://x, http://y"},
                          {"PRESENCE_REDIS", "redis://e"},
                          {"PRESENCE_RATE_PER_SEC", "5"},
                          {"PRESENCE_RATE_BURST", "9"},
                          {"PRESENCE_MAX_QUEUED_BYTES", "2048"}});
  EXPECT_EQ(c.host, "10.0.0.1");
  EXPECT_EQ(c.port, 1234);
  EXPECT_EQ(c.db, "env.db");
  EXPECT_EQ(c.jwt_secret, "envsecret");
  EXPECT_EQ(c.heartbeat_ms, 2000);
  EXPECT_EQ(c.ping_ms, 1500);
  EXPECT_EQ(c.timeout_ms, 6000);
  EXPECT_EQ(c.leave_grace_ms, 700);
  EXPECT_EQ(c.activity_ttl_ms, 800);
  EXPECT_EQ(c.flush_ms, 25);
  EXPECT_EQ(c.static_dir, dir);
  EXPECT_TRUE(c.dev);
  EXPECT_EQ(c.log_level, LogLevel::kError);
  EXPECT_EQ(c.allow_origins,
            (std::vector<std::string>{"http://x", "http://y"}));
  EXPECT_EQ(c.redis, "redis://e");
  EXPECT_DOUBLE_EQ(c.rate_per_sec, 5);
  EXPECT_DOUBLE_EQ(c.rate_burst, 9);
  EXPECT_EQ(c.max_queued_bytes, 2048u);
}

TEST(ConfigTest, FlagsWinOverEnvironment) {
  Config c =
      ParseOk({"--port", "2", "--log-level", "debug", "--jwt-secret", "flag"},
              {{"PRESENCE_PORT", "1"},
               {"PRESENCE_HOST", "envhost"},
               {"PRESENCE_LOG_LEVEL", "error"},
               {"PRESENCE_JWT_SECRET", "env"}});
  EXPECT_EQ(c.port, 2);
  EXPECT_EQ(c.host, "envhost");  // not overridden: the env value stays
  EXPECT_EQ(c.log_level, LogLevel::kDebug);
  EXPECT_EQ(c.jwt_secret, "flag");
}

TEST(ConfigTest, EmptyVariableCountsAsUnset) {
  Config c = ParseOk(WithSecret({}), {{"PRESENCE_PORT", ""}});
  EXPECT_EQ(c.port, 8080);
}

TEST(ConfigTest, LastRepeatedFlagWins) {
  Config c = ParseOk(WithSecret({"--port", "1", "--port=2"}));
  EXPECT_EQ(c.port, 2);
}

TEST(ConfigTest, AllowOriginRepeatsAndSplits) {
  Config c = ParseOk(WithSecret(
      {"--allow-origin", "http://a", "--allow-origin=http://b , http://c,"}));
  EXPECT_EQ(c.allow_origins,
            (std::vector<std::string>{"http://a", "http://b", "http://c"}));
}

TEST(ConfigTest, AllowOriginFlagsReplaceEnvironmentList) {
  Config c = ParseOk(WithSecret({"--allow-origin", "http://flag"}),
                     {{"PRESENCE_ALLOW_ORIGIN", "http://env1,http://env2"}});
  EXPECT_EQ(c.allow_origins, std::vector<std::string>{"http://flag"});
}

TEST(ConfigTest, AllowOriginWithNoOriginIsAnError) {
  EXPECT_EQ(ParseError(WithSecret({"--allow-origin", " , "})),
            "--allow-origin: expected an origin, got ' , '");
}

TEST(ConfigTest, DevIsABareSwitch) {
  // The next argument is not swallowed as the switch's value.
  Config c = ParseOk({"--dev", "--port", "7"});
  EXPECT_TRUE(c.dev);
  EXPECT_EQ(c.port, 7);
  EXPECT_EQ(c.jwt_secret, kDevJwtSecret);
}

TEST(ConfigTest, DevFromEnvironmentValues) {
  for (const char* yes : {"1", "true", "TRUE", "True"}) {
    EXPECT_TRUE(ParseOk({}, {{"PRESENCE_DEV", yes}}).dev) << yes;
  }
  for (const char* no : {"0", "false", "FALSE"}) {
    EXPECT_FALSE(ParseOk(WithSecret({}), {{"PRESENCE_DEV", no}}).dev) << no;
  }
  EXPECT_EQ(ParseError(WithSecret({}), {{"PRESENCE_DEV", "yes please"}}),
            "PRESENCE_DEV: expected 1, true, 0 or false, got 'yes please'");
}

TEST(ConfigTest, DevFlagTurnsOffEnvironmentDev) {
  Config c = ParseOk(WithSecret({"--dev=false"}), {{"PRESENCE_DEV", "1"}});
  EXPECT_FALSE(c.dev);
  EXPECT_EQ(ParseError({"--dev=maybe"}),
            "--dev: expected 1, true, 0 or false, got 'maybe'");
}

TEST(ConfigTest, LogLevels) {
  EXPECT_EQ(ParseOk(WithSecret({"--log-level=debug"})).log_level,
            LogLevel::kDebug);
  EXPECT_EQ(ParseOk(WithSecret({"--log-level=info"})).log_level,
            LogLevel::kInfo);
  EXPECT_EQ(ParseOk(WithSecret({"--log-level=WARN"})).log_level,
            LogLevel::kWarn);
  EXPECT_EQ(ParseOk(WithSecret({"--log-level=error"})).log_level,
            LogLevel::kError);
  EXPECT_EQ(ParseError(WithSecret({"--log-level", "verbose"})),
            "--log-level: expected debug, info, warn or error, got 'verbose'");
}

TEST(ConfigTest, PortErrors) {
  EXPECT_EQ(ParseError(WithSecret({"--port", "abc"})),
            "--port: expected a number 0-65535, got 'abc'");
  EXPECT_EQ(ParseError(WithSecret({"--port=65536"})),
            "--port: expected a number 0-65535, got '65536'");
  EXPECT_EQ(ParseError(WithSecret({"--port=-1"})),
            "--port: expected a number 0-65535, got '-1'");
  EXPECT_EQ(ParseError(WithSecret({"--port=+80"})),
            "--port: expected a number 0-65535, got '+80'");
  EXPECT_EQ(ParseError(WithSecret({"--port= 80"})),
            "--port: expected a number 0-65535, got ' 80'");
  EXPECT_EQ(ParseError(WithSecret({"--port="})),
            "--port: expected a number 0-65535, got ''");
  EXPECT_EQ(ParseError(WithSecret({"--port=99999999999999999999999"})),
            "--port: expected a number 0-65535, got "
            "'99999999999999999999999'");
  EXPECT_EQ(ParseOk(WithSecret({"--port=65535"})).port, 65535);
}

TEST(ConfigTest, PortErrorFromEnvironmentNamesTheVariable) {
  EXPECT_EQ(ParseError(WithSecret({}), {{"PRESENCE_PORT", "http"}}),
            "PRESENCE_PORT: expected a number 0-65535, got 'http'");
}

TEST(ConfigTest, MillisecondErrors) {
  for (const char* flag : {"--heartbeat-ms", "--ping-ms", "--timeout-ms",
                           "--leave-grace-ms", "--activity-ttl-ms"}) {
    const std::string f = flag;
    EXPECT_EQ(ParseError(WithSecret({f, "0"})),
              f + ": expected a whole number 1-86400000 (milliseconds), got "
                  "'0'");
    EXPECT_EQ(ParseError(WithSecret({f, "1.5"})),
              f + ": expected a whole number 1-86400000 (milliseconds), got "
                  "'1.5'");
    EXPECT_EQ(ParseError(WithSecret({f, "86400001"})),
              f + ": expected a whole number 1-86400000 (milliseconds), got "
                  "'86400001'");
    EXPECT_EQ(ParseError(WithSecret({f, "1e3"})),
              f + ": expected a whole number 1-86400000 (milliseconds), got "
                  "'1e3'");
  }
}

TEST(ConfigTest, FlushMsRange) {
  EXPECT_EQ(ParseError(WithSecret({"--flush-ms", "0"})),
            "--flush-ms: expected a whole number 1-10000 (milliseconds), got "
            "'0'");
  EXPECT_EQ(ParseError(WithSecret({"--flush-ms", "10001"})),
            "--flush-ms: expected a whole number 1-10000 (milliseconds), got "
            "'10001'");
  EXPECT_EQ(ParseOk(WithSecret({"--flush-ms", "1"})).flush_ms, 1);
}

TEST(ConfigTest, RateAndSizeErrors) {
  EXPECT_EQ(ParseError(WithSecret({"--rate-per-sec", "0"})),
            "--rate-per-sec: expected a number 0.001-1000000, got '0'");
  EXPECT_EQ(ParseError(WithSecret({"--rate-per-sec", "inf"})),
            "--rate-per-sec: expected a number 0.001-1000000, got 'inf'");
  EXPECT_EQ(ParseError(WithSecret({"--rate-per-sec", "1.2.3"})),
            "--rate-per-sec: expected a number 0.001-1000000, got '1.2.3'");
  EXPECT_EQ(ParseError(WithSecret({"--rate-burst", "0.5"})),
            "--rate-burst: expected a number 1-1000000, got '0.5'");
  EXPECT_EQ(ParseError(WithSecret({"--max-queued-bytes", "0"})),
            "--max-queued-bytes: expected a whole number 1-1073741824 "
            "(bytes), got '0'");
}

TEST(ConfigTest, EmptyStringsRefusedWhereMeaningless) {
  EXPECT_EQ(ParseError(WithSecret({"--host="})), "--host: must not be empty");
  EXPECT_EQ(ParseError(WithSecret({"--db="})), "--db: must not be empty");
  EXPECT_EQ(ParseError({"--jwt-secret="}), "--jwt-secret: must not be empty");
  // --static= and --redis= mean "off".
  Config c = ParseOk(WithSecret({"--static=", "--redis="}));
  EXPECT_EQ(c.static_dir, "");
  EXPECT_EQ(c.redis, "");
}

TEST(ConfigTest, RedisUrlIsCheckedAtParse) {
  EXPECT_EQ(ParseOk(WithSecret({"--redis", "redis://10.0.0.5:6380/3"})).redis,
            "redis://10.0.0.5:6380/3");
  EXPECT_EQ(ParseError(WithSecret({"--redis", "10.0.0.5:6380"})),
            "--redis: not a redis:// URL (expected "
            "redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]), got '10.0.0.5:6380'");
  EXPECT_EQ(
      ParseError(WithSecret({}), {{"PRESENCE_REDIS", "redis://h:99999"}}),
      "PRESENCE_REDIS: port must be 1-65535 (expected "
      "redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]), got 'redis://h:99999'");
  // The password is never echoed back.
  EXPECT_EQ(
      ParseError(WithSecret({"--redis", "redis://:hunter2@h:0"})),
      "--redis: port must be 1-65535 (expected "
      "redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]), got 'redis://:***@h:0'");
  EXPECT_EQ(ParseOk(WithSecret({"--redis", "redis://u:p%40ss@h/1"})).redis,
            "redis://u:p%40ss@h/1");
}

TEST(ConfigTest, UnknownFlag) {
  EXPECT_EQ(ParseError(WithSecret({"--prot", "80"})),
            "unknown flag --prot (see --help)");
  EXPECT_EQ(ParseError(WithSecret({"--prot=80"})),
            "unknown flag --prot (see --help)");
}

TEST(ConfigTest, UnexpectedPositionalArgument) {
  EXPECT_EQ(ParseError(WithSecret({"serve"})),
            "unexpected argument 'serve' (see --help)");
  EXPECT_EQ(ParseError(WithSecret({"-p"})),
            "unexpected argument '-p' (see --help)");
}

TEST(ConfigTest, MissingValue) {
  EXPECT_EQ(ParseError(WithSecret({"--port"})), "--port: missing value");
  // A forgotten value is not silently filled with the next flag.
  EXPECT_EQ(ParseError({"--host", "--jwt-secret", "x"}),
            "--host: missing value");
}

TEST(ConfigTest, SecretIsRequiredWithoutDev) {
  EXPECT_EQ(ParseError({}),
            "a JWT secret is required (--jwt-secret or --jwt-secret-file)");
}

TEST(ConfigTest, DevWithoutSecretUsesTheDevSecret) {
  EXPECT_EQ(ParseOk({"--dev"}).jwt_secret, kDevJwtSecret);
  // A given secret is still used under --dev.
  EXPECT_EQ(ParseOk({"--dev", "--jwt-secret", "mine"}).jwt_secret, "mine");
}

TEST(ConfigTest, SecretFromFileStripsTrailingNewline) {
  TempFile file("top secret\n");
  EXPECT_EQ(ParseOk({"--jwt-secret-file", file.path()}).jwt_secret,
            "top secret");
  TempFile crlf("windows\r\n");
  EXPECT_EQ(ParseOk({"--jwt-secret-file=" + crlf.path()}).jwt_secret,
            "windows");
  TempFile inner("two\nlines");  // only trailing newlines go
  EXPECT_EQ(ParseOk({"--jwt-secret-file", inner.path()}).jwt_secret,
            "two\nlines");
}

TEST(ConfigTest, SecretFileFromEnvironment) {
  TempFile file("from-env-file\n");
  EXPECT_EQ(ParseOk({}, {{"PRESENCE_JWT_SECRET_FILE", file.path()}}).jwt_secret,
            "from-env-file");
}

TEST(ConfigTest, SecretFileFlagBeatsSecretVariable) {
  TempFile file("file-flag");
  Config c = ParseOk({"--jwt-secret-file", file.path()},
                     {{"PRESENCE_JWT_SECRET", "env"}});
  EXPECT_EQ(c.jwt_secret, "file-flag");
}

TEST(ConfigTest, UnreadableSecretFileIsAnError) {
  const std::string error =
      ParseError({"--jwt-secret-file", "/no/such/presence-secret"});
  EXPECT_EQ(error.rfind("--jwt-secret-file: cannot read "
                        "'/no/such/presence-secret': ",
                        0),
            0u)
      << error;
  // --dev does not paper over a secret file that cannot be read.
  EXPECT_FALSE(Parse({"--dev", "--jwt-secret-file", "/no/such/presence-secret"})
                   .config.has_value());
}

TEST(ConfigTest, EmptySecretFileIsAnError) {
  TempFile file("\n");
  EXPECT_EQ(ParseError({"--jwt-secret-file", file.path()}),
            "--jwt-secret-file: '" + file.path() + "' is empty");
}

TEST(ConfigTest, SecretAndSecretFileTogetherIsAnError) {
  TempFile file("x");
  EXPECT_EQ(ParseError({"--jwt-secret", "a", "--jwt-secret-file", file.path()}),
            "use only one of --jwt-secret and --jwt-secret-file");
}

TEST(ConfigTest, TimeoutMustExceedHeartbeat) {
  EXPECT_EQ(ParseError(
                WithSecret({"--heartbeat-ms", "1000", "--timeout-ms", "1000"})),
            "--timeout-ms (1000) must be greater than --heartbeat-ms (1000)");
  EXPECT_EQ(ParseError(WithSecret({"--heartbeat-ms", "90000"})),
            "--timeout-ms (75000) must be greater than --heartbeat-ms (90000)");
}

TEST(ConfigTest, Help) {
  for (const char* flag : {"--help", "-h"}) {
    ConfigResult result = Parse({flag});
    EXPECT_TRUE(result.help);
    EXPECT_FALSE(result.config.has_value());
    EXPECT_EQ(result.error, "");
  }
  // Help needs no secret, and wins over what follows it.
  EXPECT_TRUE(Parse({"--help", "--port", "nope"}).help);
}

TEST(ConfigTest, HelpListsEveryFlagItsVariableAndDefault) {
  const std::string help = HelpText();
  const std::vector<std::pair<std::string, std::string>> flags = {
      {"--host", "PRESENCE_HOST"},
      {"--port", "PRESENCE_PORT"},
      {"--db", "PRESENCE_DB"},
      {"--jwt-secret", "PRESENCE_JWT_SECRET"},
      {"--jwt-secret-file", "PRESENCE_JWT_SECRET_FILE"},
      {"--heartbeat-ms", "PRESENCE_HEARTBEAT_MS"},
      {"--ping-ms", "PRESENCE_PING_MS"},
      {"--timeout-ms", "PRESENCE_TIMEOUT_MS"},
      {"--leave-grace-ms", "PRESENCE_LEAVE_GRACE_MS"},
      {"--activity-ttl-ms", "PRESENCE_ACTIVITY_TTL_MS"},
      {"--flush-ms", "PRESENCE_FLUSH_MS"},
      {"--static", "PRESENCE_STATIC"},
      {"--dev", "PRESENCE_DEV"},
      {"--log-level", "PRESENCE_LOG_LEVEL"},
      {"--allow-origin", "PRESENCE_ALLOW_ORIGIN"},
      {"--redis", "PRESENCE_REDIS"},
      {"--rate-per-sec", "PRESENCE_RATE_PER_SEC"},
      {"--rate-burst", "PRESENCE_RATE_BURST"},
      {"--max-queued-bytes", "PRESENCE_MAX_QUEUED_BYTES"},
      {"--max-sockets-per-user", "PRESENCE_MAX_SOCKETS_PER_USER"},
      {"--help", ""},
  };
  for (const auto& [flag, env] : flags) {
    EXPECT_NE(help.find("  " + flag + " "), std::string::npos) << flag;
    if (!env.empty()) {
      EXPECT_NE(help.find("env " + env + ","), std::string::npos) << env;
    }
  }
  for (const char* default_value :
       {"default 127.0.0.1", "default 8080", "default presence.db",
        "default 30000", "default 5000", "default 75000", "default 3000",
        "default 50", "default info", "default 20", "default 60",
        "default 4194304"}) {
    EXPECT_NE(help.find(default_value), std::string::npos) << default_value;
  }
}

TEST(ConfigTest, EveryFlagInHelpIsAccepted) {
  // The help text and the parser come from one table; check they agree by
  // feeding each "--name" found in the help back to the parser.
  const std::string help = HelpText();
  size_t pos = 0;
  int seen = 0;
  while ((pos = help.find("\n  --", pos)) != std::string::npos) {
    pos += 5;
    const size_t end = help.find_first_of(" ,\n", pos);
    const std::string name = help.substr(pos, end - pos);
    ++seen;
    if (name == "help") continue;
    ConfigResult r = Parse(WithSecret({"--" + name + "=x"}));
    EXPECT_EQ(r.error.find("unknown flag"), std::string::npos) << name;
  }
  EXPECT_EQ(seen, 21);
}

TEST(ConfigTest, NoEnvironmentFunctionIsFine) {
  ConfigResult result = ParseConfig({"--jwt-secret", "x"}, nullptr);
  ASSERT_TRUE(result.config.has_value());
  EXPECT_EQ(result.config->jwt_secret, "x");
}

}  // namespace
}  // namespace presence::server
