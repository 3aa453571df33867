// Cluster: presence-server's link to the other nodes through Redis
// (--redis). Each node keeps its own sockets and hub; this class carries
// the hub's NodeShares (node_share.h) between nodes and keeps the node's
// state in Redis so that a node that dies leaves no ghosts.
//
// In Redis (DB from the URL):
//   presence:node:<id>    hash user -> share JSON (cluster_message.h), with
//                         a TTL of remoteTtl refreshed by the heartbeat
//   presence:alive:<id>   exists while the node lives (same TTL)
//   presence:nodes        set of node ids that announced themselves
// and the channel presence:cluster:<db> for ClusterMessages. A node
// publishes each changed share (HSET/HDEL + PUBLISH), a heartbeat every
// refresh interval, "sync" after rewriting its whole hash, "bye" when it
// stops. Receivers feed their hub; the hub decides everything (expiry of
// silent nodes, aggregation, privacy, resumes across nodes).
//
// Connections: one RedisAsync for SUBSCRIBE, one RedisAsync for publishing,
// and the RedisStore's synchronous connection for reads the hub or HTTP
// need at once (see redis_store.h for why). All three are one "link": if
// any fails, all are dropped, the hub is told (clients get `unavailable`,
// remote state freezes, /healthz answers 503, presence_redis_up is 0), and
// the link is rebuilt with jittered backoff (100 ms doubling to 1 s). Once
// subscribed again the node rewrites its whole hash from the hub's
// LocalShares, reads every live node's hash (ReplaceRemoteNode), reloads the
// settings of users it had to load fail-closed, and only then reports up.
// A Redis that accepts the connection but stops answering is caught by the
// heartbeat: no reply to it within 2 refresh intervals (min 1 s) is a
// failure too, and so is a reconnect that is not synced within 3 refresh
// intervals (min 2 s).
//
// Runs on the server's io thread; not thread-safe.

#ifndef PRESENCE_SERVER_CLUSTER_H_
#define PRESENCE_SERVER_CLUSTER_H_

#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "presence/backoff.h"
#include "presence/hub.h"
#include "redis_async.h"
#include "redis_store.h"
#include "redis_url.h"

namespace presence::server {

class Server;

struct ClusterCounters {
  uint64_t link_failures = 0;
  uint64_t resyncs = 0;
  uint64_t messages_in = 0;
  uint64_t messages_out = 0;
  uint64_t bad_messages = 0;
};

class Cluster {
 public:
  // `server` and `store` are not owned and must outlive the cluster.
  Cluster(Server& server, RedisStore* store, RedisUrl url, int64_t ttl_ms,
          int64_t refresh_ms);
  ~Cluster();
  Cluster(const Cluster&) = delete;
  Cluster& operator=(const Cluster&) = delete;

  // Starts connecting; the node serves meanwhile, reporting the link down.
  void Start();
  // The hub's changed shares (the server calls this after every Pump).
  void PublishShares(std::vector<NodeShare> shares);
  // A settings or contacts change stored by this node's HTTP API.
  void PublishSettings(const std::string& user_id,
                       const PrivacySettings& settings);
  void PublishContacts(const std::string& user_id,
                       const std::vector<std::string>& contacts);
  // Clean stop: says "bye" and removes this node's keys.
  void Leave();

  bool up() const { return state_ == State::kUp; }
  const std::string& node_id() const { return node_id_; }
  std::string MetricsText(const HubStats& hub) const;

 private:
  enum class State { kDown, kConnecting, kUp };

  void Connect();
  void OnPartUp();
  void Resync();
  void LinkFailed(const std::string& why);
  void OnMessage(std::string_view text);
  void FetchNode(const std::string& node);
  void ArmTick();
  void Tick();
  bool Send(const std::vector<std::string>& command);
  std::string NodeKey(const std::string& node) const;
  std::string AliveKey(const std::string& node) const;

  Server& server_;
  RedisStore* store_;
  RedisUrl url_;
  int64_t ttl_ms_;
  int64_t refresh_ms_;
  std::string node_id_;
  std::string channel_;
  RedisAsync sub_;
  RedisAsync pub_;
  boost::asio::steady_timer retry_timer_;
  boost::asio::steady_timer tick_timer_;
  Backoff backoff_;
  State state_ = State::kDown;
  uint64_t generation_ = 0;  // of the current connection attempt
  bool subscribed_ = false;
  std::optional<int64_t> heartbeat_sent_ms_;  // unanswered heartbeat
  int64_t connect_started_ms_ = 0;
  ClusterCounters counters_;
};

}  // namespace presence::server

#endif  // PRESENCE_SERVER_CLUSTER_H_
