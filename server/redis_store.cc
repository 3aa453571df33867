#include "redis_store.h"

#include <sys/time.h>

#include <algorithm>
#include <charconv>
#include <nlohmann/json.hpp>
#include <utility>

namespace presence::server {
namespace {

using json = nlohmann::json;

// Raises presence:lastseen:<user> to ARGV[1], never lowers it (two nodes
// may write the same user's last seen in any order).
constexpr const char* kRaiseScript =
    "local c = redis.call('GET', KEYS[1]) "
    "if (not c) or tonumber(c) < tonumber(ARGV[1]) then "
    "redis.call('SET', KEYS[1], ARGV[1]) end return 1";

std::optional<int64_t> ParseMs(std::string_view text) {
  int64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || v < 0) {
    return std::nullopt;
  }
  return v;
}

bool IsError(const redisReply* r) {
  return r == nullptr || r->type == REDIS_REPLY_ERROR;
}

// The text of a string, status or error reply.
std::string_view Str(const redisReply* r) {
  if (r == nullptr ||
      (r->type != REDIS_REPLY_STRING && r->type != REDIS_REPLY_ERROR &&
       r->type != REDIS_REPLY_STATUS)) {
    return {};
  }
  return {r->str, r->len};
}

}  // namespace

RedisStore::RedisStore(RedisUrl url, std::chrono::milliseconds timeout,
                       const Logger* log)
    : url_(std::move(url)), timeout_(timeout), log_(log) {}

RedisStore::~RedisStore() { Disconnect(); }

bool RedisStore::Connect(std::string* error) {
  Disconnect();
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout_.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((timeout_.count() % 1000) * 1000);
  redisContext* c = redisConnectWithTimeout(url_.host.c_str(), url_.port, tv);
  if (c == nullptr || c->err != 0) {
    *error = c == nullptr ? std::string("out of memory") : c->errstr;
    if (c != nullptr) redisFree(c);
    return false;
  }
  if (redisSetTimeout(c, tv) != REDIS_OK) {
    *error = "cannot set the command timeout";
    redisFree(c);
    return false;
  }
  ctx_ = c;
  auth_failed_ = false;
  // AUTH first: before it a Redis with requirepass answers NOAUTH to all.
  // Without a password, a PING tells a Redis that wants one (NOAUTH) from
  // an outage, so the node can say what is wrong.
  const std::vector<std::string> auth = RedisAuthCommand(url_);
  {
    std::vector<RedisReplyPtr> r =
        Pipeline({auth.empty() ? std::vector<std::string>{"PING"} : auth});
    if (r.empty()) {
      *error = error_;
      Disconnect();
      return false;
    }
    // The reply (WRONGPASS ..., NOAUTH ..., or "AUTH <password> called
    // without any password configured") never holds the password itself.
    const std::string_view reply = Str(r[0].get());
    if (IsError(r[0].get()) && (!auth.empty() || reply.starts_with("NOAUTH"))) {
      *error = "auth failed: " + std::string(reply.substr(0, 200));
      auth_failed_ = true;
      Disconnect();
      return false;
    }
  }
  if (url_.db != 0) {
    std::vector<RedisReplyPtr> r =
        Pipeline({{"SELECT", std::to_string(url_.db)}});
    if (r.empty() || IsError(r[0].get())) {
      *error = "SELECT " + std::to_string(url_.db) + " failed" +
               (r.empty() ? "" : ": " + std::string(Str(r[0].get())));
      Disconnect();
      return false;
    }
  }
  return true;
}

void RedisStore::Disconnect() {
  if (ctx_ == nullptr) return;
  redisFree(ctx_);
  ctx_ = nullptr;
}

void RedisStore::Fail(const std::string& why) {
  error_ = why;
  if (ctx_ == nullptr) return;
  Disconnect();
  if (on_failure_) on_failure_(why);
}

std::vector<RedisReplyPtr> RedisStore::Pipeline(
    const std::vector<std::vector<std::string>>& commands) {
  std::vector<RedisReplyPtr> replies;
  if (ctx_ == nullptr) {
    error_ = "redis is down";
    return replies;
  }
  for (const auto& args : commands) {
    std::vector<const char*> argv;
    std::vector<size_t> lens;
    for (const std::string& a : args) {
      argv.push_back(a.data());
      lens.push_back(a.size());
    }
    if (redisAppendCommandArgv(ctx_, static_cast<int>(argv.size()), argv.data(),
                               lens.data()) != REDIS_OK) {
      Fail(std::string("redis: ") + ctx_->errstr);
      return {};
    }
  }
  replies.reserve(commands.size());
  for (size_t i = 0; i < commands.size(); ++i) {
    void* reply = nullptr;
    if (redisGetReply(ctx_, &reply) != REDIS_OK || reply == nullptr) {
      Fail(std::string("redis: ") +
           (ctx_->errstr[0] != '\0' ? ctx_->errstr : "no reply"));
      return {};
    }
    replies.emplace_back(static_cast<redisReply*>(reply));
  }
  return replies;
}

std::vector<std::string> RedisStore::TakeProvisional() {
  std::vector<std::string> out(provisional_.begin(), provisional_.end());
  provisional_.clear();
  return out;
}

StoredUser RedisStore::FailClosed() {
  StoredUser user;
  user.settings = {Visibility::kNobody, Visibility::kNobody,
                   Visibility::kNobody};
  return user;
}

StoredUser RedisStore::Load(std::string_view user_id) {
  std::vector<RedisReplyPtr> r = Pipeline({{"GET", SettingsKey(user_id)},
                                           {"GET", ContactsKey(user_id)},
                                           {"GET", LastSeenKey(user_id)}});
  if (r.empty()) {
    provisional_.insert(std::string(user_id));
    return FailClosed();
  }
  if (IsError(r[0].get()) || IsError(r[1].get())) {
    // Redis answered but could not serve (e.g. LOADING after a restart):
    // private until the next resync reloads the user.
    log_->Warn("redis: cannot read user " + std::string(user_id) + ": " +
               std::string(Str(IsError(r[0].get()) ? r[0].get() : r[1].get())));
    provisional_.insert(std::string(user_id));
    return FailClosed();
  }
  StoredUser user;
  bool corrupt = false;
  if (r[0]->type == REDIS_REPLY_STRING) {
    std::optional<PrivacySettings> s = DecodeSettings(Str(r[0].get()));
    corrupt |= !s;
    user.settings = s.value_or(FailClosed().settings);
  }
  if (r[1]->type == REDIS_REPLY_STRING) {
    std::optional<std::vector<std::string>> c = DecodeContacts(Str(r[1].get()));
    corrupt |= !c;
    if (c) user.contacts = std::move(*c);
  }
  if (r[2]->type == REDIS_REPLY_STRING) {
    user.last_seen_ms = ParseMs(Str(r[2].get()));
  }
  if (corrupt) {
    // Not ours to repair: show nothing private and say so.
    log_->Error("redis: unreadable settings or contacts for user " +
                std::string(user_id) + "; treating them as private");
  }
  return user;
}

std::optional<PrivacySettings> RedisStore::ReadSettings(
    std::string_view user_id) {
  std::vector<RedisReplyPtr> r = Pipeline({{"GET", SettingsKey(user_id)}});
  if (r.empty() || IsError(r[0].get())) return std::nullopt;
  if (r[0]->type != REDIS_REPLY_STRING) return PrivacySettings{};
  std::optional<PrivacySettings> s = DecodeSettings(Str(r[0].get()));
  if (!s) error_ = "stored settings are unreadable";
  return s;
}

bool RedisStore::PutSettings(std::string_view user_id,
                             const PrivacySettings& settings) {
  std::vector<RedisReplyPtr> r =
      Pipeline({{"SET", SettingsKey(user_id), EncodeSettings(settings)}});
  return !r.empty() && !IsError(r[0].get());
}

std::optional<std::vector<std::string>> RedisStore::ReadContacts(
    std::string_view user_id) {
  std::vector<RedisReplyPtr> r = Pipeline({{"GET", ContactsKey(user_id)}});
  if (r.empty() || IsError(r[0].get())) return std::nullopt;
  if (r[0]->type != REDIS_REPLY_STRING) return std::vector<std::string>{};
  std::optional<std::vector<std::string>> c = DecodeContacts(Str(r[0].get()));
  if (!c) error_ = "stored contacts are unreadable";
  return c;
}

bool RedisStore::PutContacts(std::string_view user_id,
                             const std::vector<std::string>& contacts) {
  std::vector<RedisReplyPtr> r =
      Pipeline({{"SET", ContactsKey(user_id), EncodeContacts(contacts)}});
  return !r.empty() && !IsError(r[0].get());
}

bool RedisStore::SaveLastSeen(const std::vector<LastSeenUpdate>& updates) {
  if (updates.empty()) return true;
  std::vector<std::vector<std::string>> commands;
  commands.reserve(updates.size());
  for (const LastSeenUpdate& u : updates) {
    commands.push_back({"EVAL", kRaiseScript, "1", LastSeenKey(u.user_id),
                        std::to_string(u.last_seen_ms)});
  }
  std::vector<RedisReplyPtr> r = Pipeline(commands);
  if (r.empty()) return false;
  for (const RedisReplyPtr& reply : r) {
    if (IsError(reply.get())) {
      error_ = "redis: " + std::string(reply->str, reply->len);
      return false;
    }
  }
  return true;
}

std::string RedisStore::SettingsKey(std::string_view user_id) {
  return "presence:settings:" + std::string(user_id);
}
std::string RedisStore::ContactsKey(std::string_view user_id) {
  return "presence:contacts:" + std::string(user_id);
}
std::string RedisStore::LastSeenKey(std::string_view user_id) {
  return "presence:lastseen:" + std::string(user_id);
}

std::string RedisStore::EncodeSettings(const PrivacySettings& s) {
  return json{{"showOnlineStatus", ToString(s.show_online_status)},
              {"showLastSeen", ToString(s.show_last_seen)},
              {"showActivity", ToString(s.show_activity)}}
      .dump();
}

std::optional<PrivacySettings> RedisStore::DecodeSettings(
    std::string_view text) {
  json j = json::parse(text, nullptr, false);
  if (!j.is_object()) return std::nullopt;
  PrivacySettings s;
  auto field = [&](const char* name, Visibility* out) {
    auto it = j.find(name);
    if (it == j.end() || !it->is_string()) return false;
    std::optional<Visibility> v =
        ParseVisibility(it->get_ref<const std::string&>());
    if (!v) return false;
    *out = *v;
    return true;
  };
  if (!field("showOnlineStatus", &s.show_online_status) ||
      !field("showLastSeen", &s.show_last_seen) ||
      !field("showActivity", &s.show_activity)) {
    return std::nullopt;
  }
  return s;
}

std::string RedisStore::EncodeContacts(
    const std::vector<std::string>& contacts) {
  std::vector<std::string> sorted = contacts;
  std::sort(sorted.begin(), sorted.end());
  sorted.erase(std::unique(sorted.begin(), sorted.end()), sorted.end());
  return json(sorted).dump();
}

std::optional<std::vector<std::string>> RedisStore::DecodeContacts(
    std::string_view text) {
  json j = json::parse(text, nullptr, false);
  if (!j.is_array() || j.size() > kMaxIdsPerFrame) return std::nullopt;
  std::vector<std::string> out;
  out.reserve(j.size());
  for (const json& id : j) {
    if (!id.is_string() || !IsValidId(id.get_ref<const std::string&>())) {
      return std::nullopt;
    }
    out.push_back(id.get<std::string>());
  }
  return out;
}

}  // namespace presence::server
