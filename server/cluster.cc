#include "cluster.h"

#include <openssl/rand.h>

#include <algorithm>
#include <array>
#include <boost/asio/post.hpp>
#include <chrono>
#include <random>
#include <utility>

#include "cluster_message.h"
#include "server.h"

namespace presence::server {
namespace {

namespace asio = boost::asio;
using boost::system::error_code;

constexpr auto kConnectTimeout = std::chrono::milliseconds(1000);
// Shares per HSET when a node rewrites its whole hash.
constexpr size_t kHsetBatch = 500;

std::string NewNodeId() {
  std::array<unsigned char, 6> bytes{};
  if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
    // Not a secret: only needs to differ between nodes.
    std::random_device rd;
    for (unsigned char& b : bytes) b = static_cast<unsigned char>(rd());
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id = "n-";
  for (unsigned char b : bytes) {
    id.push_back(kHex[b >> 4]);
    id.push_back(kHex[b & 0x0f]);
  }
  return id;
}

std::string_view Str(const redisReply* r) {
  if (r == nullptr || r->type != REDIS_REPLY_STRING) return {};
  return {r->str, r->len};
}

}  // namespace

Cluster::Cluster(Server& server, RedisStore* store, RedisUrl url,
                 int64_t ttl_ms, int64_t refresh_ms)
    : server_(server),
      store_(store),
      url_(std::move(url)),
      ttl_ms_(ttl_ms),
      refresh_ms_(refresh_ms),
      node_id_(NewNodeId()),
      channel_("presence:cluster:" + std::to_string(url_.db)),
      sub_(server.io()),
      pub_(server.io()),
      retry_timer_(server.io()),
      tick_timer_(server.io()),
      backoff_(BackoffPolicy{100, 1000}, std::random_device{}()) {
  // Posted: a store failure can happen inside a hub input (LoadUser), and
  // the hub must not be re-entered from there.
  store_->set_on_failure([this](const std::string& why) {
    const uint64_t generation = generation_;
    asio::post(server_.io(), [this, why, generation] {
      if (generation == generation_) LinkFailed(why);
    });
  });
}

Cluster::~Cluster() = default;

std::string Cluster::NodeKey(const std::string& node) const {
  return "presence:node:" + node;
}
std::string Cluster::AliveKey(const std::string& node) const {
  return "presence:alive:" + node;
}

void Cluster::Start() {
  server_.log().Info(
      "cluster node " + node_id_ + ": redis " + url_.host + ":" +
      std::to_string(url_.port) + " db " + std::to_string(url_.db) +
      (url_.password.empty() ? "" : " with AUTH") + ", node TTL " +
      std::to_string(ttl_ms_) + " ms, heartbeat every " +
      std::to_string(refresh_ms_) + " ms");
  Connect();
  ArmTick();
}

void Cluster::Connect() {
  if (server_.stopping()) return;
  state_ = State::kConnecting;
  subscribed_ = false;
  heartbeat_sent_ms_.reset();
  connect_started_ms_ = server_.Now();
  const uint64_t generation = ++generation_;
  std::string error;
  if (!store_->Connect(&error)) {
    LinkFailed("connect: " + error);
    return;
  }
  auto down = [this, generation](std::string why) {
    if (generation == generation_) LinkFailed(why);
  };
  // AUTH goes first on each async connection too (commands run in order);
  // a refusal takes the link down like an outage.
  const std::vector<std::string> auth = RedisAuthCommand(url_);
  auto auth_then = [this, generation, auth](RedisAsync& link,
                                            std::function<void()> next) {
    if (auth.empty()) {
      next();
      return;
    }
    link.Command(auth, [this, generation,
                        next = std::move(next)](const redisReply* r) {
      if (generation != generation_) return;
      if (r == nullptr || r->type == REDIS_REPLY_ERROR) {
        const std::string why =
            r == nullptr ? std::string("no reply")
                         : std::string(r->str, std::min<size_t>(r->len, 200));
        // Posted: this runs inside a hiredis callback.
        asio::post(server_.io(), [this, why, generation] {
          if (generation == generation_) LinkFailed("auth failed: " + why);
        });
        return;
      }
      next();
    });
  };
  const bool started =
      pub_.Connect(
          url_.host, url_.port, kConnectTimeout,
          [this, generation, auth_then] {
            if (generation != generation_) return;
            auth_then(pub_, [this] {
              if (url_.db != 0) Send({"SELECT", std::to_string(url_.db)});
              OnPartUp();
            });
          },
          down) &&
      sub_.Connect(
          url_.host, url_.port, kConnectTimeout,
          [this, generation, auth_then] {
            if (generation != generation_) return;
            auth_then(sub_, [this, generation] {
              sub_.Subscribe(
                  channel_,
                  [this, generation] {
                    if (generation != generation_) return;
                    subscribed_ = true;
                    OnPartUp();
                  },
                  [this](std::string_view m) { OnMessage(m); });
            });
          },
          down);
  if (!started) LinkFailed("cannot start an async connection");
}

void Cluster::OnPartUp() {
  if (state_ != State::kConnecting || !subscribed_ || !pub_.connected() ||
      !store_->connected()) {
    return;
  }
  // Posted: this runs inside a hiredis callback (hiredis 0.14 does not
  // guard its connect callback against the context being freed in it),
  // and a resync that fails drops every connection.
  const uint64_t generation = generation_;
  asio::post(server_.io(), [this, generation] {
    if (generation == generation_ && state_ == State::kConnecting) Resync();
  });
}

void Cluster::Resync() {
  Hub& hub = server_.hub();
  const std::string me = NodeKey(node_id_);
  const std::string ttl = std::to_string(ttl_ms_);
  // 1. This node's whole state, replacing whatever Redis kept (or lost).
  std::vector<NodeShare> shares = hub.LocalShares();
  std::vector<std::vector<std::string>> writes;
  writes.push_back({"DEL", me});
  for (size_t i = 0; i < shares.size(); i += kHsetBatch) {
    std::vector<std::string> hset = {"HSET", me};
    for (size_t j = i; j < std::min(shares.size(), i + kHsetBatch); ++j) {
      hset.push_back(shares[j].user_id);
      hset.push_back(EncodeShare(shares[j]));
    }
    writes.push_back(std::move(hset));
  }
  writes.push_back({"PEXPIRE", me, ttl});
  writes.push_back({"SET", AliveKey(node_id_), "1", "PX", ttl});
  writes.push_back({"SADD", "presence:nodes", node_id_});
  writes.push_back({"PUBLISH", channel_,
                    EncodeMessage({ClusterMessage::Type::kSync, node_id_})});
  // A Redis still loading its AOF answers errors (LOADING): not ready yet.
  auto failed = [this](const std::vector<RedisReplyPtr>& replies) {
    if (replies.empty()) return true;  // LinkFailed is already posted
    for (const RedisReplyPtr& r : replies) {
      if (r->type == REDIS_REPLY_ERROR) {
        const std::string why =
            "resync: " + std::string(r->str, std::min<size_t>(r->len, 200));
        const uint64_t generation = generation_;
        asio::post(server_.io(), [this, why, generation] {
          if (generation == generation_) LinkFailed(why);
        });
        return true;
      }
    }
    return false;
  };
  if (failed(store_->Pipeline(writes))) return;

  // 2. Every other live node's state.
  std::vector<RedisReplyPtr> members =
      store_->Pipeline({{"SMEMBERS", "presence:nodes"}});
  if (failed(members)) return;
  std::vector<std::string> others;
  if (members[0]->type == REDIS_REPLY_ARRAY) {
    for (size_t i = 0; i < members[0]->elements; ++i) {
      std::string id(Str(members[0]->element[i]));
      if (!id.empty() && id != node_id_) others.push_back(std::move(id));
    }
  }
  for (const std::string& node : others) {
    std::vector<RedisReplyPtr> alive =
        store_->Pipeline({{"EXISTS", AliveKey(node)}});
    if (failed(alive)) return;
    if (alive[0]->type == REDIS_REPLY_INTEGER && alive[0]->integer == 0) {
      // Gone for good (its TTL ran out); our hub expires what it knew.
      store_->Pipeline({{"SREM", "presence:nodes", node}});
      continue;
    }
    FetchNode(node);
    if (!store_->connected()) return;
  }

  // 3. Users loaded fail-closed while Redis was away get their settings.
  const int64_t now = server_.Now();
  std::vector<std::string> provisional = store_->TakeProvisional();
  for (size_t i = 0; i < provisional.size(); ++i) {
    const std::string& user = provisional[i];
    std::optional<PrivacySettings> settings = store_->ReadSettings(user);
    std::optional<std::vector<std::string>> contacts =
        store_->ReadContacts(user);
    if (!settings || !contacts) {
      // Still fail-closed: keep them for the next resync.
      store_->KeepProvisional({provisional.begin() + i, provisional.end()});
      if (store_->connected()) LinkFailed("resync: " + store_->error());
      return;
    }
    hub.UpdateSettings(user, *settings, now);
    hub.UpdateContacts(user, *contacts, now);
  }

  state_ = State::kUp;
  counters_.resyncs++;
  backoff_.Reset();
  hub.SetClusterLink(true, server_.Now());
  server_.log().Info("cluster: redis up; " + std::to_string(shares.size()) +
                     " local user(s) published, " +
                     std::to_string(others.size()) + " other node(s) known");
  server_.Pump();
}

void Cluster::FetchNode(const std::string& node) {
  std::vector<RedisReplyPtr> r = store_->Pipeline({{"HGETALL", NodeKey(node)}});
  if (r.empty() || r[0]->type != REDIS_REPLY_ARRAY) return;
  std::vector<NodeShare> shares;
  for (size_t i = 0; i + 1 < r[0]->elements; i += 2) {
    std::optional<NodeShare> share = DecodeShare(Str(r[0]->element[i + 1]));
    if (!share) {
      counters_.bad_messages++;
      continue;
    }
    shares.push_back(std::move(*share));
  }
  server_.hub().ReplaceRemoteNode(node, shares, server_.Now());
}

void Cluster::LinkFailed(const std::string& why) {
  if (server_.stopping()) return;
  const bool was_up = state_ == State::kUp;
  if (state_ == State::kDown &&
      retry_timer_.expiry() > asio::steady_timer::clock_type::now()) {
    return;  // already down and waiting to retry
  }
  ++generation_;  // callbacks of this attempt are now stale
  state_ = State::kDown;
  subscribed_ = false;
  heartbeat_sent_ms_.reset();
  sub_.Reset();
  pub_.Reset();
  store_->Disconnect();
  counters_.link_failures++;
  const int64_t delay = std::max<int64_t>(backoff_.NextDelay(), 20);
  if (was_up) {
    server_.log().Error("cluster: redis link down (" + why +
                        "); presence from other nodes is frozen, retrying");
  } else {
    server_.log().Warn("cluster: redis unavailable (" + why +
                       "); retrying in " + std::to_string(delay) + " ms");
  }
  server_.hub().SetClusterLink(false, server_.Now());
  server_.Pump();
  retry_timer_.expires_after(std::chrono::milliseconds(delay));
  retry_timer_.async_wait([this](const error_code& ec) {
    if (!ec) Connect();
  });
}

bool Cluster::Send(const std::vector<std::string>& command) {
  if (!pub_.Command(command, [this](const redisReply* reply) {
        if (reply != nullptr && reply->type == REDIS_REPLY_ERROR) {
          server_.log().Error("cluster: redis error: " +
                              std::string(reply->str, reply->len));
        }
      })) {
    return false;
  }
  counters_.messages_out++;
  return true;
}

void Cluster::PublishShares(std::vector<NodeShare> shares) {
  if (state_ != State::kUp) return;  // the resync rewrites everything
  const std::string me = NodeKey(node_id_);
  for (const NodeShare& share : shares) {
    if (share.status) {
      Send({"HSET", me, share.user_id, EncodeShare(share)});
      Send({"PEXPIRE", me, std::to_string(ttl_ms_)});
    } else {
      Send({"HDEL", me, share.user_id});
    }
    ClusterMessage m{ClusterMessage::Type::kShare, node_id_};
    m.share = share;
    Send({"PUBLISH", channel_, EncodeMessage(m)});
  }
}

void Cluster::PublishSettings(const std::string& user_id,
                              const PrivacySettings& settings) {
  if (state_ != State::kUp) return;
  ClusterMessage m{ClusterMessage::Type::kSettings, node_id_};
  m.user_id = user_id;
  m.settings = settings;
  Send({"PUBLISH", channel_, EncodeMessage(m)});
}

void Cluster::PublishContacts(const std::string& user_id,
                              const std::vector<std::string>& contacts) {
  if (state_ != State::kUp) return;
  ClusterMessage m{ClusterMessage::Type::kContacts, node_id_};
  m.user_id = user_id;
  m.contacts = contacts;
  Send({"PUBLISH", channel_, EncodeMessage(m)});
}

void Cluster::OnMessage(std::string_view text) {
  std::string error;
  std::optional<ClusterMessage> m = DecodeMessage(text, &error);
  if (!m) {
    counters_.bad_messages++;
    server_.log().Warn("cluster: dropped a bad message: " + error);
    return;
  }
  if (m->node == node_id_) return;
  counters_.messages_in++;
  Hub& hub = server_.hub();
  const int64_t now = server_.Now();
  switch (m->type) {
    case ClusterMessage::Type::kShare:
      hub.HandleRemoteShare(m->node, m->share, now);
      break;
    case ClusterMessage::Type::kAlive:
      hub.HandleRemoteAlive(m->node, now);
      break;
    case ClusterMessage::Type::kSync:
      if (state_ == State::kUp) FetchNode(m->node);
      break;
    case ClusterMessage::Type::kBye:
      hub.HandleRemoteGone(m->node, now);
      break;
    case ClusterMessage::Type::kSettings:
      hub.UpdateSettings(m->user_id, m->settings, now);
      break;
    case ClusterMessage::Type::kContacts:
      hub.UpdateContacts(m->user_id, m->contacts, now);
      break;
  }
  server_.Pump();
}

void Cluster::ArmTick() {
  tick_timer_.expires_after(std::chrono::milliseconds(refresh_ms_));
  tick_timer_.async_wait([this](const error_code& ec) {
    if (ec || server_.stopping()) return;
    Tick();
    ArmTick();
  });
}

void Cluster::Tick() {
  const int64_t now = server_.Now();
  if (state_ == State::kConnecting &&
      now - connect_started_ms_ > std::max<int64_t>(3 * refresh_ms_, 2000)) {
    // Connected but never answered (a stopped or half-open Redis).
    LinkFailed("no answer from redis while connecting");
    return;
  }
  if (state_ != State::kUp) return;
  if (heartbeat_sent_ms_ &&
      now - *heartbeat_sent_ms_ > std::max<int64_t>(2 * refresh_ms_, 1000)) {
    LinkFailed("no reply to the heartbeat");
    return;
  }
  const std::string ttl = std::to_string(ttl_ms_);
  Send({"PEXPIRE", NodeKey(node_id_), ttl});
  Send({"SET", AliveKey(node_id_), "1", "PX", ttl});
  const bool first = !heartbeat_sent_ms_;
  const uint64_t generation = generation_;
  const bool sent =
      pub_.Command({"PUBLISH", channel_,
                    EncodeMessage({ClusterMessage::Type::kAlive, node_id_})},
                   [this, generation](const redisReply* reply) {
                     if (generation == generation_ && reply != nullptr) {
                       heartbeat_sent_ms_.reset();
                     }
                   });
  if (sent && first) heartbeat_sent_ms_ = now;
}

void Cluster::Leave() {
  tick_timer_.cancel();
  retry_timer_.cancel();
  if (state_ != State::kUp || !store_->connected()) return;
  store_->Pipeline({{"DEL", NodeKey(node_id_)},
                    {"DEL", AliveKey(node_id_)},
                    {"SREM", "presence:nodes", node_id_},
                    {"PUBLISH", channel_,
                     EncodeMessage({ClusterMessage::Type::kBye, node_id_})}});
  server_.log().Info("cluster: left (node " + node_id_ + ")");
}

std::string Cluster::MetricsText(const HubStats& hub) const {
  std::string out;
  auto gauge = [&](const char* name, const char* help, uint64_t v,
                   const char* type = "gauge") {
    out.append("# HELP ").append(name).append(" ").append(help).append("\n");
    out.append("# TYPE ").append(name).append(" ").append(type).append("\n");
    out.append(name).append(" ").append(std::to_string(v)).append("\n");
  };
  gauge("presence_redis_up",
        "1 while the link to Redis is up and synced, else 0.",
        state_ == State::kUp ? 1 : 0);
  gauge("presence_cluster_nodes", "Other nodes this node knows alive.",
        hub.remote_nodes);
  gauge("presence_cluster_remote_users",
        "Users with a session on another node.", hub.remote_shares);
  gauge("presence_cluster_link_failures_total",
        "Times the Redis link failed (connect or lost).",
        counters_.link_failures, "counter");
  gauge("presence_cluster_resyncs_total",
        "Full resyncs with Redis (first connect and every recovery).",
        counters_.resyncs, "counter");
  gauge("presence_cluster_messages_in_total",
        "Messages received from other nodes.", counters_.messages_in,
        "counter");
  gauge("presence_cluster_messages_out_total", "Redis commands sent.",
        counters_.messages_out, "counter");
  gauge("presence_cluster_bad_messages_total",
        "Messages or stored shares dropped as malformed.",
        counters_.bad_messages, "counter");
  gauge("presence_cluster_nodes_expired_total",
        "Nodes whose users went offline because the node fell silent.",
        hub.remote_nodes_expired, "counter");
  gauge("presence_cluster_sessions_moved_total",
        "Sessions resumed on another node (old socket closed 4409).",
        hub.sessions_moved_away, "counter");
  return out;
}

}  // namespace presence::server
