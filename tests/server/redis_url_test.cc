// --redis URLs: what is accepted, and that everything else is an error.

#include "redis_url.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace presence::server {
namespace {

RedisUrl Ok(std::string_view url) {
  std::string error;
  std::optional<RedisUrl> parsed = ParseRedisUrl(url, &error);
  EXPECT_TRUE(parsed.has_value()) << url << ": " << error;
  return parsed.value_or(RedisUrl{});
}

std::string Bad(std::string_view url) {
  std::string error;
  EXPECT_FALSE(ParseRedisUrl(url, &error).has_value()) << url;
  return error;
}

TEST(RedisUrlTest, HostPortAndDb) {
  EXPECT_EQ(Ok("redis://127.0.0.1:6390"), (RedisUrl{"127.0.0.1", 6390, 0}));
  EXPECT_EQ(Ok("redis://cache.internal"),
            (RedisUrl{"cache.internal", 6379, 0}));
  EXPECT_EQ(Ok("redis://r:1/15"), (RedisUrl{"r", 1, 15}));
  EXPECT_EQ(Ok("redis://[::1]:7000/2"), (RedisUrl{"::1", 7000, 2}));
  EXPECT_EQ(Ok("redis://[::1]"), (RedisUrl{"::1", 6379, 0}));
}

TEST(RedisUrlTest, AnythingElseIsAnErrorThatSaysWhy) {
  EXPECT_NE(Bad("http://127.0.0.1:6379").find("not a redis:// URL"),
            std::string::npos);
  EXPECT_NE(Bad("redis://").find("missing host"), std::string::npos);
  EXPECT_NE(Bad("redis://h:").find("empty port"), std::string::npos);
  EXPECT_NE(Bad("redis://h:0").find("port must be 1-65535"), std::string::npos);
  EXPECT_NE(Bad("redis://h:65536").find("port"), std::string::npos);
  EXPECT_NE(Bad("redis://h:12x").find("port"), std::string::npos);
  EXPECT_NE(Bad("redis://h/x").find("DB"), std::string::npos);
  EXPECT_NE(Bad("redis://h/").find("DB"), std::string::npos);
  EXPECT_NE(Bad("redis://h h").find("host"), std::string::npos);
  EXPECT_NE(Bad("redis://[::1").find("unclosed"), std::string::npos);
  EXPECT_NE(Bad("redis://h?x=1").find("host"), std::string::npos);
  for (std::string_view url : {"redis://h:1/2/3", "redis://:p@"}) Bad(url);
}

TEST(RedisUrlTest, PasswordAndAclUser) {
  RedisUrl url = Ok("redis://:s3cret@10.0.0.5:6380/2");
  EXPECT_EQ(url, (RedisUrl{"10.0.0.5", 6380, 2, "", "s3cret"}));
  EXPECT_EQ(RedisAuthCommand(url),
            (std::vector<std::string>{"AUTH", "s3cret"}));
  url = Ok("redis://presence:pa55@cache/1");
  EXPECT_EQ(url, (RedisUrl{"cache", 6379, 1, "presence", "pa55"}));
  EXPECT_EQ(RedisAuthCommand(url),
            (std::vector<std::string>{"AUTH", "presence", "pa55"}));
  // Percent-encoded, and a password holding '@', ':' and '/'.
  EXPECT_EQ(Ok("redis://a%40b:p%3Aq%2F@h").password, "p:q/");
  EXPECT_EQ(Ok("redis://a%40b:p%3Aq%2F@h").user, "a@b");
  EXPECT_EQ(Ok("redis://:p@ss:w/rd@[::1]:7000").password, "p@ss:w/rd");
  EXPECT_EQ(Ok("redis://:p@ss:w/rd@[::1]:7000").port, 7000);
  // No password: no AUTH.
  EXPECT_TRUE(RedisAuthCommand(Ok("redis://h")).empty());
}

TEST(RedisUrlTest, BadCredentialsAndTlsAreClearErrors) {
  EXPECT_NE(Bad("redis://user@h").find("needs a password"), std::string::npos);
  EXPECT_NE(Bad("redis://:@h").find("empty password"), std::string::npos);
  EXPECT_NE(Bad("redis://:%zz@h").find("%-escape"), std::string::npos);
  EXPECT_NE(Bad("redis://:%4@h").find("%-escape"), std::string::npos);
  const std::string tls = Bad("rediss://:pw@h:6380");
  EXPECT_NE(tls.find("rediss:// (TLS) is not supported"), std::string::npos);
  // No error message quotes the password.
  for (std::string_view url :
       {"redis://:hunter2@", "redis://u:hunter2@h:0", "rediss://:hunter2@h",
        "redis://u:hunter2@h/x", "redis://:hunter2@h h"}) {
    EXPECT_EQ(Bad(url).find("hunter2"), std::string::npos) << url;
  }
}

TEST(RedisUrlTest, RedactHidesThePasswordOfAnyString) {
  EXPECT_EQ(RedactRedisUrl("redis://:hunter2@h:1/2"), "redis://:***@h:1/2");
  EXPECT_EQ(RedactRedisUrl("redis://me:hunter2@h"), "redis://me:***@h");
  EXPECT_EQ(RedactRedisUrl("redis://:p@ss@h"), "redis://:***@h");
  EXPECT_EQ(RedactRedisUrl("rediss://hunter2@h"), "rediss://***@h");
  EXPECT_EQ(RedactRedisUrl("redis://h:6379/1"), "redis://h:6379/1");
  EXPECT_EQ(RedactRedisUrl("hunter2@h"), "***@h");
}

}  // namespace
}  // namespace presence::server
