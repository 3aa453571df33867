// Server: presence-server's event loop. One thread, one io_context; the hub
// is not thread-safe and needs no lock because everything runs here.
//
// The server owns what the core cannot: sockets, the clock, auth crypto,
// HTTP and persistence. It feeds the hub and routes what the hub polls out;
// it never decides a presence rule itself. After every hub input a caller
// runs Pump(), which routes the hub's transmits to their sockets, gathers
// last-seen values for the store, and re-arms the one hub timer.
//
// Usage:
//   Logger log(config.log_level);
//   Server server(std::move(config), &log);
//   return server.Run();  // blocks until SIGINT/SIGTERM; the exit code
//
// Sessions (HttpSession, WsSession) hold a Server& and use the accessors
// below from the io thread only.

#ifndef PRESENCE_SERVER_SERVER_H_
#define PRESENCE_SERVER_SERVER_H_

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "cluster.h"
#include "config.h"
#include "log.h"
#include "metrics.h"
#include "presence/hub.h"
#include "server_env.h"
#include "store.h"
#include "user_store.h"

namespace presence::server {

// What the server needs of an upgraded socket (WsSession implements it).
class WsConnection {
 public:
  virtual ~WsConnection() = default;
  // One hub output for this socket: queue a frame, ping, or close.
  virtual void Deliver(Transmit transmit) = 0;
  // Drop the TCP connection now, without a closing handshake.
  virtual void ForceClose() = 0;
};

class Server {
 public:
  // `log` is not owned and must outlive the server.
  Server(Config config, const Logger* log);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Opens the store, binds, prints "listening on http://HOST:PORT" as the
  // first stdout line, and serves until SIGINT/SIGTERM. Returns the process
  // exit code: 0 after a clean stop, 1 if it could not start.
  int Run();

  // ---- for sessions, on the io thread ----
  boost::asio::io_context& io() { return ioc_; }
  // Wall-clock ms, never going backwards (the hub requires it).
  int64_t Now();
  Hub& hub() { return *hub_; }
  // Routes every pending hub output. Safe to call from inside a delivery.
  void Pump();
  // Pump() soon, from a fresh handler (for callbacks that must not start
  // I/O themselves, such as Beast's control callback).
  void PostPump();
  UserStore& store() { return *store_; }
  // Cluster mode (--redis) only; null on a single node.
  Cluster* cluster() { return cluster_.get(); }
  // False while a cluster node has no working link to Redis (/healthz).
  bool Healthy() const { return cluster_ == nullptr || cluster_->up(); }
  // A settings or contacts change the store accepted: tells this node's
  // hub and, in cluster mode, every other node's.
  void SettingsChanged(const std::string& user_id,
                       const PrivacySettings& settings);
  void ContactsChanged(const std::string& user_id,
                       const std::vector<std::string>& contacts);
  const Config& config() const { return config_; }
  const Logger& log() const { return *log_; }
  ServerCounters& counters() { return counters_; }
  const std::optional<std::filesystem::path>& static_root() const {
    return static_root_;
  }
  bool stopping() const { return stopping_; }
  ConnId AddConnection(std::weak_ptr<WsConnection> connection);
  // Authenticated sockets per user (Config::max_sockets_per_user); each
  // WsSession counts itself in when the hub accepts its auth and out in its
  // destructor. Shared so a session destroyed by any path (even after the
  // server itself, at exit) can still count itself out.
  using UserSockets = std::unordered_map<std::string, size_t>;
  const std::shared_ptr<UserSockets>& user_sockets() { return user_sockets_; }
  void RemoveConnection(ConnId conn);
  std::string MetricsText();
  // The one buffer every WsSession reads into (one at a time: one thread),
  // so an idle socket holds no read buffer of its own.
  std::span<char> ws_read_buffer() { return ws_read_buffer_; }

 private:
  bool Listen();
  // Prints the "listening on" line (the readiness contract) and logs it.
  void AnnounceListening();
  void WaitForSignal();
  void DoAccept();
  void ArmHubTimer();
  // Drops connection entries whose session is gone.
  void PruneConnections();
  void ArmLastSeenTimer();
  void FlushLastSeen();
  void BeginShutdown(const std::string& why);
  // Single node: the hub's sessions and the pending last seen, in one
  // transaction, for the next start's RestoreSessions.
  void SaveForRestart(int64_t now_ms);
  void RestoreSessions();
  // " (N ms after the signal)" once shutting down, for the logs.
  std::string SinceShutdown() const;

  Config config_;
  const Logger* log_;
  // Declared first so it is destroyed last: the I/O objects below and the
  // sessions inside its pending handlers go before it.
  boost::asio::io_context ioc_{1};
  boost::asio::ip::tcp::acceptor acceptor_{ioc_};
  boost::asio::signal_set signals_{ioc_};
  boost::asio::steady_timer hub_timer_{ioc_};
  boost::asio::steady_timer last_seen_timer_{ioc_};
  boost::asio::steady_timer accept_retry_timer_{ioc_};

  std::unique_ptr<UserStore> store_;
  PendingLastSeen pending_last_seen_;
  std::unique_ptr<ServerEnv> env_;
  std::unique_ptr<Hub> hub_;
  std::unique_ptr<Cluster> cluster_;  // after hub_: destroyed before it
  std::optional<std::filesystem::path> static_root_;
  ServerCounters counters_;

  std::unordered_map<ConnId, std::weak_ptr<WsConnection>> conns_;
  std::shared_ptr<UserSockets> user_sockets_ = std::make_shared<UserSockets>();
  std::vector<char> ws_read_buffer_ = std::vector<char>(32 * 1024);
  ConnId next_conn_ = 1;
  int64_t last_now_ = 0;
  bool pumping_ = false;
  bool pump_again_ = false;
  bool pump_posted_ = false;
  std::optional<int64_t> armed_deadline_;
  uint64_t hub_timer_generation_ = 0;
  bool stopping_ = false;
  std::optional<std::chrono::steady_clock::time_point> shutdown_started_;
};

}  // namespace presence::server

#endif  // PRESENCE_SERVER_SERVER_H_
