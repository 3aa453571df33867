// --redis URLs: what is accepted, and that everything else is an error.

#include "redis_url.h"

#include <gtest/gtest.h>

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
  EXPECT_NE(Bad("redis://u:p@h").find("password"), std::string::npos);
  EXPECT_NE(Bad("redis://h h").find("host"), std::string::npos);
  EXPECT_NE(Bad("redis://[::1").find("unclosed"), std::string::npos);
  EXPECT_NE(Bad("redis://h?x=1").find("host"), std::string::npos);
  for (std::string_view url : {"redis://h:1/2/3", "rediss://h"}) Bad(url);
}

}  // namespace
}  // namespace presence::server
