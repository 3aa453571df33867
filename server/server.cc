#include "server.h"

#include <algorithm>
#include <boost/asio/post.hpp>
#include <chrono>
#include <csignal>
#include <iostream>
#include <utility>
#include <vector>

#include "clock.h"
#include "http_session.h"
#include "redis_store.h"
#include "redis_url.h"
#include "static_files.h"

namespace presence::server {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using boost::system::error_code;

constexpr auto kLastSeenFlushInterval = std::chrono::seconds(1);
// After accept fails (EMFILE...), wait before trying again, not spin.
constexpr auto kAcceptRetry = std::chrono::milliseconds(100);
// Sockets taken from the listen queue per accept completion at most, so a
// storm of connects cannot starve the sockets already open.
constexpr int kAcceptBatch = 256;
// Bounds how long one synchronous Redis call may stall the loop (a hung
// Redis): at most 500 ms, and under pingMs so that a stall never makes the
// hub find live sockets silent (2 x pingMs without an answer is dead).
std::chrono::milliseconds RedisCommandTimeout(int64_t ping_ms) {
  return std::chrono::milliseconds(std::clamp<int64_t>(ping_ms / 2, 50, 500));
}

std::string HostForUrl(const std::string& host) {
  if (host.find(':') != std::string::npos) return "[" + host + "]";
  return host;
}

}  // namespace

Server::Server(Config config, const Logger* log)
    : config_(std::move(config)), log_(log) {}

Server::~Server() = default;

int64_t Server::Now() {
  last_now_ = std::max(last_now_, NowMs());
  return last_now_;
}

int Server::Run() {
  std::string error;
  std::optional<RedisUrl> redis;
  if (!config_.redis.empty()) {
    redis = ParseRedisUrl(config_.redis, &error);
    if (!redis) {
      log_->Error("--redis " + RedactRedisUrl(config_.redis) + ": " + error);
      return 1;
    }
    // Settings, contacts and last seen live in Redis: --db is not used.
    auto store = std::make_unique<RedisStore>(
        *redis, RedisCommandTimeout(config_.ping_ms), log_);
    // A Redis that is down at start is an outage the node rides out; one
    // that refuses our password is a configuration error: say so, and stop.
    if (!store->Connect(&error) && store->auth_failed()) {
      log_->Error("--redis " + RedactRedisUrl(config_.redis) + ": redis " +
                  error + "; check the password (and user) in the URL");
      return 1;
    }
    store->Disconnect();
    store_ = std::move(store);
  } else {
    store_ = Store::Open(config_.db, &error);
    if (store_ == nullptr) {
      log_->Error("cannot open database " + config_.db + ": " + error);
      return 1;
    }
  }
  if (!config_.static_dir.empty()) {
    static_root_ = CanonicalStaticRoot(config_.static_dir);
    if (!static_root_) {
      log_->Error("--static " + config_.static_dir + " is not a directory");
      return 1;
    }
  }
  env_ = std::make_unique<ServerEnv>(store_.get(), config_.jwt_secret,
                                     &pending_last_seen_, log_);
  HubConfig hub_config;
  hub_config.heartbeat_ms = config_.heartbeat_ms;
  hub_config.ping_ms = config_.ping_ms;
  hub_config.timeout_ms = config_.timeout_ms;
  hub_config.leave_grace_ms = config_.leave_grace_ms;
  hub_config.activity_ttl_ms = config_.activity_ttl_ms;
  hub_config.flush_ms = config_.flush_ms;
  hub_config.rate_limit.frames_per_second = config_.rate_per_sec;
  hub_config.rate_limit.burst = config_.rate_burst;
  if (redis) {
    // A dead node's users expire within timeoutMs, the backstop a silent
    // client gets on one node; a live node's heartbeat comes several times
    // per TTL so one late heartbeat never expires anyone.
    hub_config.cluster = true;
    hub_config.remote_ttl_ms = config_.timeout_ms;
  }
  hub_ = std::make_unique<Hub>(hub_config, env_.get());
  if (redis) {
    const int64_t refresh_ms = std::max<int64_t>(
        20, std::min(config_.ping_ms, config_.timeout_ms / 4));
    cluster_ =
        std::make_unique<Cluster>(*this, static_cast<RedisStore*>(store_.get()),
                                  *redis, config_.timeout_ms, refresh_ms);
    // Down until the first sync: clients are told, nothing expires.
    hub_->SetClusterLink(false, Now());
  }

  // Signals are caught before the "listening" line: a supervisor may send
  // SIGTERM as soon as it reads it.
  signals_.add(SIGINT);
  signals_.add(SIGTERM);
  WaitForSignal();
  if (!Listen()) return 1;
  // After listen(), so that clients of a restart who connect meanwhile wait
  // in the kernel's queue instead of being refused and retrying later; before
  // the first accept, so that no socket opens before the sessions are back.
  if (!redis) RestoreSessions();
  // Ready only now: a supervisor that kills the process right after this
  // line must find the saved sessions taken (and not restore them twice).
  AnnounceListening();
  if (cluster_) cluster_->Start();
  DoAccept();
  ArmLastSeenTimer();
  ioc_.run();

  FlushLastSeen();
  log_->Info("stopped" + SinceShutdown());
  return 0;
}

void Server::RestoreSessions() {
  const auto started = std::chrono::steady_clock::now();
  const std::vector<SavedSession> saved = store_->TakeSavedSessions();
  if (!store_->error().empty()) {
    // Nothing restored: its users go offline with the shutdown's last seen.
    counters_.store_errors++;
    log_->Error("reading the sessions saved at shutdown failed: " +
                store_->error());
    return;
  }
  if (saved.empty()) return;
  const int64_t now = Now();
  for (const SavedSession& session : saved) hub_->RestoreSession(session, now);
  Pump();
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - started);
  log_->Info("restored " + std::to_string(hub_->Stats().sessions) + " of " +
             std::to_string(saved.size()) +
             " session(s) saved at the last shutdown in " +
             std::to_string(ms.count()) +
             " ms; each has its leave grace from now");
}

std::string Server::SinceShutdown() const {
  if (!shutdown_started_) return "";
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - *shutdown_started_);
  return " (" + std::to_string(ms.count()) + " ms after the signal)";
}

bool Server::Listen() {
  error_code ec;
  tcp::resolver resolver(ioc_);
  auto results = resolver.resolve(config_.host, std::to_string(config_.port),
                                  tcp::resolver::passive, ec);
  if (ec || results.empty()) {
    log_->Error("cannot resolve --host " + config_.host + ": " +
                (ec ? ec.message() : "no address"));
    return false;
  }
  const tcp::endpoint endpoint = results.begin()->endpoint();
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (!ec) acceptor_.non_blocking(true, ec);  // DoAccept's batch
  if (ec) {
    log_->Error("cannot listen on " + config_.host + ":" +
                std::to_string(config_.port) + ": " + ec.message());
    return false;
  }
  return true;
}

void Server::AnnounceListening() {
  error_code ec;
  const uint16_t port = acceptor_.local_endpoint(ec).port();
  const std::string url =
      "http://" + HostForUrl(config_.host) + ":" + std::to_string(port);
  // The first stdout line is a contract: tests and scripts read the port
  // from it when started with --port 0.
  std::cout << "listening on " << url << std::endl;
  log_->Info(
      "listening on " + url + " (" +
      (config_.redis.empty() ? "db " + config_.db
                             : "redis " + RedactRedisUrl(config_.redis)) +
      (config_.dev ? ", dev mode: POST /api/dev/token is on" : "") + ")");
}

void Server::WaitForSignal() {
  signals_.async_wait([this](const error_code& ec, int signal) {
    if (ec) return;
    const std::string name = signal == SIGINT ? "SIGINT" : "SIGTERM";
    if (stopping_) {
      // A second signal: the operator does not want to wait.
      log_->Warn(name + " again: stopping now");
      ioc_.stop();
      return;
    }
    BeginShutdown(name);
    WaitForSignal();
  });
}

void Server::DoAccept() {
  acceptor_.async_accept([this](const error_code& ec, tcp::socket socket) {
    if (stopping_ || ec == asio::error::operation_aborted) return;
    if (ec) {
      log_->Warn("accept failed: " + ec.message());
      accept_retry_timer_.expires_after(kAcceptRetry);
      accept_retry_timer_.async_wait([this](const error_code& wait_ec) {
        if (!wait_ec && !stopping_) DoAccept();
      });
      return;
    }
    StartHttpSession(*this, std::move(socket));
    // In a storm (every client of a restarted server at once) the kernel's
    // listen queue overflows, and a dropped SYN costs its client a 1 s
    // retransmit: take what is queued now, not one socket per trip through
    // the event loop. The acceptor is non-blocking, so this stops at an
    // empty queue (or an error, which the next async_accept reports).
    for (int i = 0; i < kAcceptBatch && !stopping_; ++i) {
      error_code batch_ec;
      tcp::socket next = acceptor_.accept(batch_ec);
      if (batch_ec) break;
      StartHttpSession(*this, std::move(next));
    }
    DoAccept();
  });
}

void Server::Pump() {
  if (pumping_) {
    // A delivery fed the hub again (a slow reader closed); the outer loop
    // drains what that produced.
    pump_again_ = true;
    return;
  }
  pumping_ = true;
  store_->EndRead();  // loads the hub made for this input share one read
  do {
    pump_again_ = false;
    while (std::optional<Transmit> t = hub_->PollTransmit()) {
      auto it = conns_.find(t->conn);
      if (it == conns_.end()) continue;
      std::shared_ptr<WsConnection> connection = it->second.lock();
      if (connection == nullptr) {
        conns_.erase(it);
        continue;
      }
      connection->Deliver(std::move(*t));
    }
    for (LastSeenUpdate& u : hub_->PollLastSeen()) {
      int64_t& pending = pending_last_seen_[u.user_id];
      pending = std::max(pending, u.last_seen_ms);
    }
    if (cluster_) cluster_->PublishShares(hub_->PollShares());
  } while (pump_again_);
  pumping_ = false;
  ArmHubTimer();
}

void Server::PostPump() {
  if (pump_posted_) return;
  pump_posted_ = true;
  asio::post(ioc_, [this] {
    pump_posted_ = false;
    Pump();
  });
}

void Server::ArmHubTimer() {
  if (stopping_) return;
  const std::optional<int64_t> next = hub_->NextDeadline();
  if (next == armed_deadline_) return;
  armed_deadline_ = next;
  const uint64_t generation = ++hub_timer_generation_;
  if (!next) {
    hub_timer_.cancel();
    return;
  }
  const int64_t delay = std::max<int64_t>(0, *next - Now());
  hub_timer_.expires_after(std::chrono::milliseconds(delay));
  hub_timer_.async_wait([this, generation](const error_code& ec) {
    if (ec || generation != hub_timer_generation_ || stopping_) return;
    // Re-arm even if the deadline is unchanged: the steady timer can fire
    // a hair before the wall clock reaches the deadline.
    armed_deadline_.reset();
    hub_->HandleTimeout(Now());
    Pump();
    // Pump wrote the flush's frames (each write starts at once): the
    // leading edge counts its viewers as served from now.
    hub_->HandleSent(Now());
  });
}

void Server::ArmLastSeenTimer() {
  last_seen_timer_.expires_after(kLastSeenFlushInterval);
  last_seen_timer_.async_wait([this](const error_code& ec) {
    if (ec || stopping_) return;
    FlushLastSeen();
    ArmLastSeenTimer();
  });
}

void Server::FlushLastSeen() {
  if (pending_last_seen_.empty()) return;
  // Kept (LoadUser still sees them) until Redis is back, without an error
  // per second for an outage the cluster already reports.
  if (cluster_ && !cluster_->up()) return;
  std::vector<LastSeenUpdate> batch;
  batch.reserve(pending_last_seen_.size());
  for (const auto& [user, ms] : pending_last_seen_) batch.push_back({user, ms});
  if (!store_->SaveLastSeen(batch)) {
    // Kept pending (LoadUser still sees them); retried on the next tick.
    counters_.store_errors++;
    log_->Error("saving last seen failed: " + store_->error());
    return;
  }
  counters_.last_seen_writes += batch.size();
  pending_last_seen_.clear();
}

ConnId Server::AddConnection(std::weak_ptr<WsConnection> connection) {
  const ConnId id = next_conn_++;
  // Now and then, forget sessions that ended without RemoveConnection
  // (seen after a 4409 close): amortized O(1), so the map stays bounded.
  if (id % 1024 == 0) PruneConnections();
  conns_.emplace(id, std::move(connection));
  return id;
}

void Server::PruneConnections() {
  std::erase_if(conns_,
                [](const auto& entry) { return entry.second.expired(); });
}

void Server::RemoveConnection(ConnId conn) {
  conns_.erase(conn);
  if (stopping_ && conns_.empty()) ioc_.stop();
}

std::string Server::MetricsText() {
  // The gauge counts live sockets only.
  PruneConnections();
  counters_.ws_sockets = conns_.size();
  const HubStats stats = hub_->Stats();
  std::string text = RenderMetrics(stats, counters_, ResidentBytes());
  if (cluster_) text += cluster_->MetricsText(stats);
  return text;
}

void Server::SettingsChanged(const std::string& user_id,
                             const PrivacySettings& settings) {
  hub_->UpdateSettings(user_id, settings, Now());
  if (cluster_) cluster_->PublishSettings(user_id, settings);
  Pump();
}

void Server::ContactsChanged(const std::string& user_id,
                             const std::vector<std::string>& contacts) {
  hub_->UpdateContacts(user_id, contacts, Now());
  if (cluster_) cluster_->PublishContacts(user_id, contacts);
  Pump();
}

void Server::BeginShutdown(const std::string& why) {
  if (stopping_) return;
  stopping_ = true;
  shutdown_started_ = std::chrono::steady_clock::now();
  log_->Info("shutting down (" + why + "), closing " +
             std::to_string(conns_.size()) + " websocket(s) with 1001");
  // The port first, so that a new process can bind it at once.
  error_code ec;
  acceptor_.close(ec);
  accept_retry_timer_.cancel();
  hub_timer_.cancel();
  last_seen_timer_.cancel();
  // The hub sets everyone's last seen to now and queues a 1001 close for
  // each socket. What must survive the process is written before any
  // socket is told, so a client that reconnects at once to the next
  // process finds its session there.
  const int64_t now = Now();
  hub_->Shutdown(now);
  if (cluster_) {
    // Routes the closes while the sockets still exist.
    Pump();
    FlushLastSeen();
    // Other nodes give this node's users the leave grace (last seen = now)
    // rather than waiting out the TTL.
    cluster_->Leave();
  } else {
    for (LastSeenUpdate& u : hub_->PollLastSeen()) {
      int64_t& pending = pending_last_seen_[u.user_id];
      pending = std::max(pending, u.last_seen_ms);
    }
    SaveForRestart(now);
    Pump();
  }
  // Every close frame is in the kernel now: a socket's write starts at once
  // unless a frame is still on the wire (that socket is dropped without its
  // 1001, as a slow reader would have been after a wait). The clients'
  // answers are not waited for: what must survive is saved, and a client
  // resumes its session whether it saw the handshake end or the connection
  // drop. Waiting (it was up to 500 ms, and answering 10 000 handshakes cost
  // a loaded machine over 1 s) only kept the next process of a restart off
  // the port; exiting closes the sockets at once.
  log_->Info("closed " + std::to_string(conns_.size()) + " websocket(s)" +
             SinceShutdown());
  ioc_.stop();
}

void Server::SaveForRestart(int64_t now_ms) {
  std::vector<SavedSession> sessions = hub_->SavedSessions(now_ms);
  std::vector<LastSeenUpdate> batch;
  batch.reserve(pending_last_seen_.size());
  for (const auto& [user, ms] : pending_last_seen_) batch.push_back({user, ms});
  if (!store_->SaveShutdown(batch, sessions)) {
    // Run() tries the last seen alone once more; the sessions are lost and
    // their users go offline at the next start.
    counters_.store_errors++;
    log_->Error("saving sessions and last seen at shutdown failed: " +
                store_->error());
    return;
  }
  counters_.last_seen_writes += batch.size();
  pending_last_seen_.clear();
  log_->Info("saved " + std::to_string(sessions.size()) + " session(s) and " +
             std::to_string(batch.size()) + " last seen value(s)" +
             SinceShutdown());
}

}  // namespace presence::server
