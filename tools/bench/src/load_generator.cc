// presence-bench: a single-threaded WebSocket load generator for one
// benchmark scenario against one running server.
//
//   presence-bench --system presence|ws|socketio|yws --port P --server-pid PID
//                  --workload w1|w2|w3|w4|w5|w6 [options]
//
// It opens many connections on loopback (spread over several 127.0.0.x
// source addresses, so more than one address's ephemeral ports are usable),
// speaks the system's protocol through an Adapter (adapters.h), drives the
// workload and measures at the receivers. The server's CPU time and RSS come
// from /proc/PID, so the figure that matters, deliveries per server
// CPU-second, does not depend on how busy the rest of the machine is.
//
// Progress goes to stderr; the result is one JSON line on stdout. Every run
// is bounded: each phase has a deadline, and the whole process gives up
// after --max-run-s.

// Asio's awaitable.hpp needs std::exchange (g++ 12, C++20), so <utility>
// comes first.
// clang-format off
#include <utility>
// clang-format on

#include <netinet/in.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <boost/asio.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "adapters.h"
#include "proc_stats.h"

namespace presence::bench {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using asio::awaitable;
using asio::use_awaitable;

// Wall clock in microseconds: the server's flush grid is on the wall
// clock's milliseconds (latency itself uses the steady clock).
int64_t WallUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int64_t NowUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

double SelfCpuSeconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return double(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         double(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

struct Options {
  System system = System::kPresence;
  std::string workload = "w1";
  std::string host = "127.0.0.1";
  int port = 0;
  pid_t server_pid = 0;
  std::string jwt_secret = "bench-secret";
  int group = 200;           // users per group (w1, w4)
  int groups = 1;            // number of groups (w1, w4)
  int conns = 19000;         // w2
  int watch = 20;            // w2: users each connection watches
  int population = 1000;     // w3: users that are subscribed to
  int subscribers = 1000;    // w3
  int sub_size = 500;        // w3: users per subscription
  int victims = 10;          // w5
  int conns_per_ip = 10000;  // source-address spread
  int concurrency = 200;     // connection attempts in flight
  double step_s = 3;         // w1: length of a rate step
  double start_rate = 500;   // w1: status changes per second, first step
  double rate_factor = 1.5;  // w1: next step's rate
  int max_steps = 14;        // w1
  double p99_limit_ms = 50;  // w1: saturation
  // w1: a steady-state step (half load, half the knee, --rates): after the
  // system drained, `settle_s` at the step's rate unmeasured, then
  // `steady_s` measured.
  double settle_s = 3;
  double steady_s = 5;
  // w1: only these steady-state rates on a fresh server, no ramp (comma
  // separated changes/s).
  std::vector<double> rates;
  // w1, Presence: the server's --flush-ms, to split latency at its flush
  // grid (0: no split).
  int64_t server_flush_ms = 0;
  double idle_s = 60;           // w2: measured idle window
  double typing_s = 10;         // w4
  double detect_limit_s = 120;  // w5: give up after
  double max_run_s = 600;       // the whole run
  std::string
      pid_file;  // w6: where tools/bench/run writes the restarted server's pid
  double storm_s = 1;            // w6: reconnects spread over this long
  double converge_limit_s = 60;  // w6: give up after
};

// One step's measurements at the receivers.
struct Window {
  int64_t start_us = 0;
  double server_cpu0 = 0;
  double gen_cpu0 = 0;
  uint64_t sent = 0;        // updates sent
  uint64_t expected = 0;    // deliveries those updates should cause
  uint64_t deliveries = 0;  // views about another user, with a status
  uint64_t frames = 0;
  uint64_t bytes =
      0;  // server -> client bytes on the wire (payload + WS header)
  std::vector<uint32_t> lat_us;
  // What latency is made of (w1): how late the generator's own 1 ms send
  // tick fired (its event loop was busy: receive stamps are late by as
  // much), and, with server_flush_ms, the part of each latency after the
  // server's flush grid point that followed the send (server queueing and
  // writing, the kernel, the generator's reading) -- the rest is the
  // coalescing window.
  std::vector<uint32_t> tick_late_us;
  std::vector<uint32_t> after_flush_us;
};

struct Result {
  double seconds = 0;
  double deliveries_per_s = 0;
  double server_cpu_s = 0;
  double gen_cpu_s = 0;
  double deliveries_per_cpu_s = 0;
  double p50_ms = 0, p99_ms = 0, max_ms = 0;
  double tick_late_p50_ms = 0, tick_late_p99_ms = 0;
  double after_flush_p50_ms = 0, after_flush_p99_ms = 0;
  double bytes_per_delivery = 0;
  double delivered_ratio = 0;
  uint64_t deliveries = 0, sent = 0;
};

double Percentile(std::vector<uint32_t>& v, double q) {
  if (v.empty()) return 0;
  size_t k = std::min(v.size() - 1, size_t(q * double(v.size())));
  std::nth_element(v.begin(), v.begin() + long(k), v.end());
  return double(v[k]) / 1000.0;
}

class Bench;

// A TCP socket that also reports when the kernel received the bytes a
// read returned (SO_TIMESTAMPNS on recvmsg; for TCP, the arrival of the
// last segment read). The generator is one thread reading every client's
// socket in turn, so the moment it gets to a frame is late by the frames
// read before it; a real client has a machine of its own and reads as
// soon as its bytes arrive. Latency is measured at the arrival.
class StampedSocket {
 public:
  using executor_type = tcp::socket::executor_type;
  explicit StampedSocket(asio::io_context& io) : sock_(io) {}
  executor_type get_executor() { return sock_.get_executor(); }
  tcp::socket& socket() { return sock_; }
  // Wall-clock microseconds of the last read's bytes' arrival, 0 if none.
  int64_t arrival_wall_us() const { return arrival_wall_us_; }
  void EnableStamps() {
    int one = 1;
    setsockopt(sock_.native_handle(), SOL_SOCKET, SO_TIMESTAMPNS, &one,
               sizeof one);
  }

  template <class MutableBuffers, class Handler>
  auto async_read_some(const MutableBuffers& buffers, Handler&& handler) {
    return asio::async_initiate<Handler, void(beast::error_code, size_t)>(
        [this](auto h, const MutableBuffers& b) {
          StartRead(std::move(h), b, /*waited=*/false);
        },
        handler, buffers);
  }
  template <class ConstBuffers, class Handler>
  auto async_write_some(const ConstBuffers& buffers, Handler&& handler) {
    return sock_.async_write_some(buffers, std::forward<Handler>(handler));
  }

  friend void beast_close_socket(StampedSocket& s) {
    beast::error_code ec;
    s.sock_.close(ec);
  }
  template <class TeardownHandler>
  friend void async_teardown(beast::role_type role, StampedSocket& s,
                             TeardownHandler&& handler) {
    websocket::async_teardown(role, s.sock_,
                              std::forward<TeardownHandler>(handler));
  }
  friend void teardown(beast::role_type role, StampedSocket& s,
                       beast::error_code& ec) {
    websocket::teardown(role, s.sock_, ec);
  }

 private:
  // Tries recvmsg; on EAGAIN waits for readability and tries again. The
  // handler runs from the executor, never inside the initiating call.
  template <class Handler, class MutableBuffers>
  void StartRead(Handler h, const MutableBuffers& b, bool waited) {
    iovec iov[8];
    size_t n_iov = 0, total = 0;
    for (auto it = asio::buffer_sequence_begin(b);
         it != asio::buffer_sequence_end(b) && n_iov < 8; ++it) {
      asio::mutable_buffer mb(*it);
      iov[n_iov].iov_base = mb.data();
      iov[n_iov].iov_len = mb.size();
      total += mb.size();
      ++n_iov;
    }
    if (total == 0) {
      asio::post(sock_.get_executor(),
                 [h = std::move(h)]() mutable { h(beast::error_code{}, 0); });
      return;
    }
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(timespec))];
    msghdr msg{};
    msg.msg_iov = iov;
    msg.msg_iovlen = n_iov;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    const ssize_t r =
        ::recvmsg(sock_.native_handle(), &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
      sock_.async_wait(
          tcp::socket::wait_read,
          [this, h = std::move(h), b](beast::error_code ec) mutable {
            if (ec) {
              h(ec, 0);
              return;
            }
            StartRead(std::move(h), b, /*waited=*/true);
          });
      return;
    }
    beast::error_code ec;
    size_t n = 0;
    if (r < 0) {
      ec = beast::error_code(errno, boost::system::system_category());
    } else if (r == 0) {
      ec = asio::error::eof;
    } else {
      n = size_t(r);
      for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr;
           c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
          timespec ts;
          memcpy(&ts, CMSG_DATA(c), sizeof ts);
          arrival_wall_us_ = int64_t(ts.tv_sec) * 1'000'000 + ts.tv_nsec / 1000;
        }
      }
    }
    if (waited) {
      h(ec, n);  // already inside a completion handler
    } else {
      asio::post(sock_.get_executor(),
                 [h = std::move(h), ec, n]() mutable { h(ec, n); });
    }
  }

  tcp::socket sock_;
  int64_t arrival_wall_us_ = 0;
};

// One WebSocket client connection: connect from a chosen source address,
// upgrade, then a read loop and a write queue ("are we already writing?").
class Conn : public std::enable_shared_from_this<Conn> {
 public:
  Conn(Bench& bench, int index, ConnState state);
  void Start(const tcp::endpoint& server, const asio::ip::address& source);
  void Send(std::string frame);
  // Stops reading and writing without closing: pings go unanswered, as with
  // a client whose machine vanished (w5).
  void Vanish();
  void Close();
  // Nothing queued or being written by this client.
  bool WriteIdle() const { return queue_.empty() && !writing_; }

  ConnState state;
  int index;
  bool open = false;
  bool failed = false;
  bool vanished = false;
  bool superseded = false;  // w6: replaced by a reconnect
  int64_t ready_us = 0;
  int64_t connect_us = 0;  // when the TCP connect succeeded
  int64_t open_us = 0;     // when the WebSocket handshake completed

 private:
  void OnConnect(beast::error_code ec);
  void OnHandshake(beast::error_code ec);
  void DoRead();
  void OnRead(beast::error_code ec, size_t n);
  void DoWrite();
  void OnWrite(beast::error_code ec, size_t n);
  void Fail(const char* what, beast::error_code ec);

  Bench& bench_;
  websocket::stream<StampedSocket> ws_;
  beast::flat_buffer buffer_;
  std::deque<std::string> queue_;
  bool writing_ = false;
};

class Bench {
 public:
  explicit Bench(Options o)
      : opt_(std::move(o)),
        adapter_(MakeAdapter(opt_.system, opt_.jwt_secret)) {}

  int Run();

  // ---- called by connections ----
  asio::io_context& io() { return io_; }
  Adapter& adapter() { return *adapter_; }
  void OnReady(Conn& c) {
    if (c.ready_us == 0) {
      c.ready_us = NowUs();
      --pending_;
      ++ready_;
    }
  }
  void OnFailed(Conn& c, const std::string& what) {
    if (c.ready_us == 0 && !c.failed) --pending_;
    c.failed = true;
    if (storm_) {
      // The restarted server is not listening yet: retry with jitter.
      ++storm_retries_;
      if (!c.superseded) Reconnect(c.state, 0.1 + 0.2 * Uniform());
      return;
    }
    ++failures_;
    if (failures_ <= 5)
      fprintf(stderr, "  conn %d (u%d): %s\n", c.index, c.state.user,
              what.c_str());
  }
  void OnMessage(Conn& c, const Parsed& p, size_t payload, int64_t now) {
    w_.frames++;
    ++total_frames_;
    w_.bytes += payload + (payload < 126 ? 2 : payload < 65536 ? 4 : 10);
    if (p.errors) {
      errors_ += p.errors;
      if (errors_ <= 5)
        fprintf(stderr, "  u%d got error: %s\n", c.state.user,
                p.first_error.c_str());
    }
    if (on_views_) on_views_(c, p, now);
  }

 private:
  awaitable<void> Main();
  awaitable<void> Sleep(double seconds) {
    asio::steady_timer t(io_,
                         std::chrono::microseconds(int64_t(seconds * 1e6)));
    co_await t.async_wait(use_awaitable);
  }
  // Opens a connection per state, `concurrency` attempts at a time, and
  // waits until each is ready (connected, authenticated, subscribed) or
  // failed, or the deadline passes. Returns the number ready.
  awaitable<int> ConnectAll(std::vector<ConnState> states, double deadline_s);
  void StartWindow() {
    w_ = Window{};
    w_.start_us = NowUs();
    w_.server_cpu0 = ProcessCpuSeconds(opt_.server_pid);
    w_.gen_cpu0 = SelfCpuSeconds();
  }
  Result EndWindow() {
    Result r;
    r.seconds = double(NowUs() - w_.start_us) / 1e6;
    r.server_cpu_s = ProcessCpuSeconds(opt_.server_pid) - w_.server_cpu0;
    r.gen_cpu_s = SelfCpuSeconds() - w_.gen_cpu0;
    r.deliveries = w_.deliveries;
    r.sent = w_.sent;
    r.deliveries_per_s = double(w_.deliveries) / r.seconds;
    r.deliveries_per_cpu_s =
        r.server_cpu_s > 0 ? double(w_.deliveries) / r.server_cpu_s : 0;
    r.p50_ms = Percentile(w_.lat_us, 0.50);
    r.p99_ms = Percentile(w_.lat_us, 0.99);
    r.tick_late_p50_ms = Percentile(w_.tick_late_us, 0.50);
    r.tick_late_p99_ms = Percentile(w_.tick_late_us, 0.99);
    r.after_flush_p50_ms = Percentile(w_.after_flush_us, 0.50);
    r.after_flush_p99_ms = Percentile(w_.after_flush_us, 0.99);
    r.max_ms =
        w_.lat_us.empty()
            ? 0
            : double(*std::max_element(w_.lat_us.begin(), w_.lat_us.end())) /
                  1000;
    r.bytes_per_delivery =
        w_.deliveries ? double(w_.bytes) / double(w_.deliveries) : 0;
    r.delivered_ratio =
        w_.expected ? double(w_.deliveries) / double(w_.expected) : 0;
    return r;
  }
  // Sends one status change of `user` and stamps it.
  void SendStatus(int user, Status s) {
    Conn& c = *conns_[size_t(user_conn_[size_t(user)])];
    sent_us_[size_t(user)][size_t(s)] = NowUs();
    sent_wall_us_[size_t(user)][size_t(s)] = WallUs();
    c.Send(adapter_->StatusFrame(c.state, s));
  }
  // Records a delivered status view at `now`, with its latency when the
  // matching send is known.
  void CountStatusView(const Conn& c, const View& v, int64_t now) {
    if (v.user == c.state.user || v.status == Status::kNone || v.user < 0 ||
        size_t(v.user) >= sent_us_.size()) {
      return;
    }
    ++w_.deliveries;
    if (v.status == Status::kOffline) return;
    int64_t sent = sent_us_[size_t(v.user)][size_t(v.status)];
    // (A view that arrived before the send it is matched with was caused
    // by an earlier change of the same user to the same status: 0.)
    if (sent > 0)
      w_.lat_us.push_back(
          uint32_t(std::clamp<int64_t>(now - sent, 0, UINT32_MAX)));
    if (sent > 0 && opt_.server_flush_ms > 0) {
      const int64_t grid = opt_.server_flush_ms * 1000;
      const int64_t sent_wall = sent_wall_us_[size_t(v.user)][size_t(v.status)];
      const int64_t flush = (sent_wall / grid + 1) * grid;
      const int64_t arrival_wall = WallUs() - (NowUs() - now);
      w_.after_flush_us.push_back(
          uint32_t(std::clamp<int64_t>(arrival_wall - flush, 0, UINT32_MAX)));
    }
  }
  void InitUsers(int n) {
    sent_us_.assign(size_t(n), {0, 0, 0});
    sent_wall_us_.assign(size_t(n), {0, 0, 0});
    user_conn_.assign(size_t(n), -1);
  }
  awaitable<Result> ChurnStep(double rate, double seconds, int fanout);
  // Waits until the frames caused by connecting (joins announced to whole
  // rooms, snapshots) have been received, so they are not counted as
  // deliveries of the measured steps; at most `limit_s`.
  awaitable<void> Quiesce(double limit_s) {
    int64_t end = NowUs() + int64_t(limit_s * 1e6);
    uint64_t threshold = conns_.size() / 20 + 5;
    while (NowUs() < end) {
      uint64_t f0 = total_frames_;
      co_await Sleep(0.5);
      if (total_frames_ - f0 <= threshold) co_return;
    }
    fprintf(stderr, "  still receiving setup frames after %.0f s\n", limit_s);
  }
  // Waits until nothing is in flight: no frame has arrived for `quiet_s`
  // and no client has anything left to write (after a saturated step the
  // server's queues, the socket buffers and the generator's own write
  // queues hold a backlog that would otherwise be measured as the next
  // step's latency). At most `limit_s`; returns the seconds it took.
  awaitable<double> Drain(double quiet_s, double limit_s) {
    const int64_t start = NowUs();
    const int64_t end = start + int64_t(limit_s * 1e6);
    int64_t quiet_since = NowUs();
    uint64_t frames = total_frames_;
    while (NowUs() < end) {
      co_await Sleep(0.05);
      bool writing = false;
      for (const auto& c : conns_) writing = writing || !c->WriteIdle();
      if (total_frames_ != frames || writing) {
        frames = total_frames_;
        quiet_since = NowUs();
      } else if (NowUs() - quiet_since >= int64_t(quiet_s * 1e6)) {
        break;
      }
    }
    if (NowUs() >= end)
      fprintf(stderr, "  still draining after %.0f s\n", limit_s);
    co_return double(NowUs() - start) / 1e6;
  }
  // One step measured in a steady state at `rate`: drain what earlier steps
  // left in flight, run `settle_s` at this rate unmeasured (queues, TCP
  // windows, allocator and JIT settle at this load), then measure
  // `steady_s` seconds without a pause in between.
  awaitable<Result> SteadyStep(double rate, int fanout, const char* what) {
    const double drained = co_await Drain(0.3, 60);
    co_await ChurnStep(rate, opt_.settle_s, fanout);
    Result r = co_await ChurnStep(rate, opt_.steady_s, fanout);
    fprintf(stderr,
            "w1 %s: rate %.0f/s (drained %.1f s, settled %.0f s)  deliv/s "
            "%.0f  p50 %.2f p99 %.2f max %.1f ms  ratio %.3f  server cpu "
            "%.2f gen cpu %.2f  deliv/cpu-s %.0f  gen tick late p50/p99 "
            "%.2f/%.2f  after flush p50/p99 %.2f/%.2f ms\n",
            what, rate, drained, opt_.settle_s, r.deliveries_per_s, r.p50_ms,
            r.p99_ms, r.max_ms, r.delivered_ratio,
            r.seconds > 0 ? r.server_cpu_s / r.seconds : 0,
            r.seconds > 0 ? r.gen_cpu_s / r.seconds : 0, r.deliveries_per_cpu_s,
            r.tick_late_p50_ms, r.tick_late_p99_ms, r.after_flush_p50_ms,
            r.after_flush_p99_ms);
    co_return r;
  }
  void PrintResult(const std::map<std::string, std::string>& fields);

  awaitable<void> W1();
  awaitable<void> W2();
  awaitable<void> W3();
  awaitable<void> W4();
  awaitable<void> W5();
  awaitable<void> W6();
  double Uniform() {
    return std::uniform_real_distribution<double>(0, 1)(rng_);
  }
  // w6: replaces user `state.user`'s connection with a new one after `delay_s`.
  void Reconnect(ConnState state, double delay_s);
  asio::ip::address SourceFor(int n) {
    return asio::ip::make_address("127.0.0." +
                                  std::to_string(1 + n / opt_.conns_per_ip));
  }
  bool PutSettings(int user, const std::string& body);

  Options opt_;
  asio::io_context io_;
  std::unique_ptr<Adapter> adapter_;
  std::vector<std::shared_ptr<Conn>> conns_;
  std::vector<int> user_conn_;  // user -> index in conns_
  std::vector<std::array<int64_t, 3>>
      sent_us_;  // user -> status -> last send time
  std::vector<std::array<int64_t, 3>> sent_wall_us_;  // the same, wall clock
  std::function<void(Conn&, const Parsed&, int64_t)> on_views_;
  Window w_;
  int pending_ = 0, ready_ = 0, failures_ = 0, errors_ = 0, closed_ = 0;
  uint64_t total_frames_ = 0;
  long rss_base_kb_ = 0;
  bool storm_ = false;
  int storm_retries_ = 0;
  std::mt19937 rng_{7};
  int exit_code_ = 0;

  friend class Conn;
};

// ---- Conn ----

Conn::Conn(Bench& bench, int index_, ConnState s)
    : state(std::move(s)), index(index_), bench_(bench), ws_(bench.io()) {}

void Conn::Start(const tcp::endpoint& server, const asio::ip::address& source) {
  auto& sock = ws_.next_layer().socket();
  beast::error_code ec;
  sock.open(tcp::v4(), ec);
  if (ec) return Fail("open", ec);
  // Take the source port at connect time, so the 4-tuple (not the address
  // alone) must be unique: each 127.0.0.x address gets its own port range.
  int one = 1;
  setsockopt(sock.native_handle(), IPPROTO_IP, 24 /* IP_BIND_ADDRESS_NO_PORT */,
             &one, sizeof one);
  sock.bind(tcp::endpoint(source, 0), ec);
  if (ec) return Fail("bind", ec);
  sock.async_connect(server, [self = shared_from_this()](beast::error_code e) {
    self->OnConnect(e);
  });
}

void Conn::OnConnect(beast::error_code ec) {
  if (ec) return Fail("connect", ec);
  connect_us = NowUs();
  ws_.next_layer().socket().set_option(tcp::no_delay(true));
  ws_.next_layer().EnableStamps();
  ws_.binary(bench_.adapter().Binary());
  ws_.auto_fragment(false);
  ws_.read_message_max(64 << 20);
  ws_.async_handshake(bench_.opt_.host, bench_.adapter().Target(state),
                      [self = shared_from_this()](beast::error_code e) {
                        self->OnHandshake(e);
                      });
}

void Conn::OnHandshake(beast::error_code ec) {
  if (ec) return Fail("handshake", ec);
  open = true;
  open_us = NowUs();
  for (auto& f : bench_.adapter().OnOpen(state)) Send(std::move(f));
  if (state.ready) bench_.OnReady(*this);
  DoRead();
}

void Conn::DoRead() {
  ws_.async_read(buffer_,
                 [self = shared_from_this()](beast::error_code ec, size_t n) {
                   self->OnRead(ec, n);
                 });
}

void Conn::OnRead(beast::error_code ec, size_t n) {
  if (vanished) return;
  if (ec) {
    open = false;
    ++bench_.closed_;
    if (!state.ready) {
      Fail("read", ec);
    } else if (bench_.storm_ && !superseded && !vanished) {
      // w6: a reconnect that reached the old server just before it exited.
      bench_.Reconnect(state, 0.1 + 0.2 * bench_.Uniform());
    }
    return;
  }
  if (superseded) return;
  int64_t now = NowUs();
  // The frame's arrival in the kernel, on the steady clock (see
  // StampedSocket): when its client would have read it.
  if (int64_t arrival = ws_.next_layer().arrival_wall_us(); arrival > 0) {
    now -= std::clamp<int64_t>(WallUs() - arrival, 0, 60'000'000);
  }
  auto data = buffer_.cdata();
  std::string_view msg(static_cast<const char*>(data.data()), data.size());
  Parsed p;
  bench_.adapter().OnMessage(state, msg, &p);
  buffer_.consume(n);
  for (auto& r : p.replies) Send(std::move(r));
  bench_.OnMessage(*this, p, n, now);
  if (state.ready) bench_.OnReady(*this);
  DoRead();
}

void Conn::Send(std::string frame) {
  if (!open || vanished || frame.empty()) return;
  queue_.push_back(std::move(frame));
  if (!writing_) DoWrite();
}

void Conn::DoWrite() {
  writing_ = true;
  ws_.async_write(asio::buffer(queue_.front()),
                  [self = shared_from_this()](beast::error_code ec, size_t n) {
                    self->OnWrite(ec, n);
                  });
}

void Conn::OnWrite(beast::error_code ec, size_t) {
  writing_ = false;
  if (ec) {
    open = false;
    return;
  }
  queue_.pop_front();
  if (!queue_.empty() && !vanished) DoWrite();
}

void Conn::Vanish() {
  vanished = true;
  beast::error_code ec;
  // Cancels the pending read: Beast answers pings only inside a read, so
  // none is answered from now on. The TCP connection stays up.
  ws_.next_layer().socket().cancel(ec);
}

void Conn::Close() {
  beast::error_code ec;
  ws_.next_layer().socket().close(ec);
  open = false;
}

void Conn::Fail(const char* what, beast::error_code ec) {
  open = false;
  bench_.OnFailed(*this, std::string(what) + ": " + ec.message());
}

// ---- Bench ----

awaitable<int> Bench::ConnectAll(std::vector<ConnState> states,
                                 double deadline_s) {
  tcp::endpoint server(asio::ip::make_address(opt_.host), uint16_t(opt_.port));
  int64_t deadline = NowUs() + int64_t(deadline_s * 1e6);
  int ready_before = ready_;
  size_t next = 0;
  while (next < states.size() || pending_ > 0) {
    while (next < states.size() && pending_ < opt_.concurrency) {
      int index = int(conns_.size());
      auto c = std::make_shared<Conn>(*this, index, std::move(states[next]));
      if (size_t(c->state.user) < user_conn_.size())
        user_conn_[size_t(c->state.user)] = index;
      auto source = SourceFor(index);
      conns_.push_back(c);
      ++pending_;
      ++next;
      c->Start(server, source);
    }
    if (NowUs() > deadline) {
      fprintf(stderr, "  connect deadline passed with %d pending\n", pending_);
      break;
    }
    co_await Sleep(0.005);
  }
  co_return ready_ - ready_before;
}

awaitable<Result> Bench::ChurnStep(double rate, double seconds, int fanout) {
  // Users change status round-robin in a shuffled order, so each user's
  // changes are evenly spaced (N / rate apart) and never coalesce.
  static std::vector<int> order;
  static size_t cursor = 0;
  if (order.size() != sent_us_.size()) {
    order.resize(sent_us_.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = int(i);
    std::mt19937 rng(42);
    std::shuffle(order.begin(), order.end(), rng);
  }
  StartWindow();
  asio::steady_timer tick(io_);
  auto start = std::chrono::steady_clock::now();
  auto next = start;
  uint64_t sent = 0;
  while (true) {
    next += std::chrono::milliseconds(1);
    tick.expires_at(next);
    const auto waited_from = std::chrono::steady_clock::now();
    co_await tick.async_wait(use_awaitable);
    // How long the loop took to come back to this timer once it was due
    // (not counting a backlog of earlier ticks).
    w_.tick_late_us.push_back(uint32_t(std::max<int64_t>(
        0, std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::steady_clock::now() - std::max(next, waited_from))
               .count())));
    double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
            .count();
    if (elapsed >= seconds) break;
    uint64_t due = uint64_t(rate * elapsed);
    while (sent < due) {
      int user = order[cursor++ % order.size()];
      Conn& c = *conns_[size_t(user_conn_[size_t(user)])];
      if (!c.open) {
        ++sent;
        continue;
      }
      Status s =
          c.state.status == Status::kOnline ? Status::kAway : Status::kOnline;
      SendStatus(user, s);
      ++sent;
      ++w_.sent;
      w_.expected += uint64_t(fanout);
    }
  }
  co_return EndWindow();
}

void Bench::PrintResult(const std::map<std::string, std::string>& fields) {
  std::string line = "{\"system\":\"" + std::string(SystemName(opt_.system)) +
                     "\",\"workload\":\"" + opt_.workload + "\"";
  for (auto& [k, v] : fields) line += ",\"" + k + "\":" + v;
  line += ",\"conn_failures\":" + std::to_string(failures_) +
          ",\"server_errors\":" + std::to_string(errors_) + "}";
  printf("%s\n", line.c_str());
  fflush(stdout);
}

std::string Num(double v, int digits = 1) {
  char buf[64];
  snprintf(buf, sizeof buf, "%.*f", digits, std::isfinite(v) ? v : 0.0);
  return buf;
}

// W1: all-to-all status churn in groups; the rate rises step by step until
// p99 passes the limit or the receivers fall behind.
awaitable<void> Bench::W1() {
  int n = opt_.group * opt_.groups;
  InitUsers(n);
  std::vector<ConnState> states;
  for (int u = 0; u < n; ++u) {
    ConnState s;
    s.user = u;
    s.room = u / opt_.group;
    for (int v = s.room * opt_.group; v < (s.room + 1) * opt_.group; ++v) {
      if (v != u) s.subscribe.push_back(v);
    }
    states.push_back(std::move(s));
  }
  on_views_ = [this](Conn& c, const Parsed& p, int64_t now) {
    for (const View& v : p.views) CountStatusView(c, v, now);
  };
  int ready = co_await ConnectAll(std::move(states), 120);
  fprintf(stderr, "w1: %d/%d connections ready\n", ready, n);
  co_await Quiesce(90);
  long rss = ProcessRssKb(opt_.server_pid);
  double rss_per_conn = ready ? double(rss - rss_base_kb_) / ready : 0;

  int fanout = opt_.group - 1;
  if (!opt_.rates.empty()) {
    // Fixed rates on a fresh server (tools/bench/compare runs the half-load
    // steps this way, after a ramp found the rates): no saturated step has
    // run on this server or generator. A short warm-up at the lowest rate
    // first (caches, JIT compilers, allocator pools).
    co_await ChurnStep(std::min(opt_.start_rate, opt_.rates[0]), 2, fanout);
    std::string list = "[";
    for (double at : opt_.rates) {
      Result r = co_await SteadyStep(at, fanout, "fixed rate");
      if (list.size() > 1) list += ",";
      list += "{\"rate\":" + Num(at, 0) +
              ",\"deliveries_per_s\":" + Num(r.deliveries_per_s, 0) +
              ",\"ratio\":" + Num(r.delivered_ratio, 3) +
              ",\"p50_ms\":" + Num(r.p50_ms, 2) +
              ",\"p99_ms\":" + Num(r.p99_ms, 2) +
              ",\"max_ms\":" + Num(r.max_ms, 2) + ",\"server_cpu_util\":" +
              Num(r.seconds > 0 ? r.server_cpu_s / r.seconds : 0, 2) +
              ",\"gen_cpu_util\":" +
              Num(r.seconds > 0 ? r.gen_cpu_s / r.seconds : 0, 2) +
              ",\"deliveries_per_cpu_s\":" + Num(r.deliveries_per_cpu_s, 0) +
              ",\"gen_tick_late_p99_ms\":" + Num(r.tick_late_p99_ms, 2) +
              ",\"bytes_per_delivery\":" + Num(r.bytes_per_delivery, 1) + "}";
    }
    list += "]";
    PrintResult({{"group", std::to_string(opt_.group)},
                 {"users", std::to_string(n)},
                 {"ready", std::to_string(ready)},
                 {"settle_s", Num(opt_.settle_s, 1)},
                 {"steady_s", Num(opt_.steady_s, 1)},
                 {"steps", list}});
    co_return;
  }
  double rate = opt_.start_rate;
  // The ramp runs until the receivers fall behind (< 80 % of the expected
  // deliveries in a step: the system, server or generator, is saturated)
  // or the steps run out. On a shared machine another process can stall a
  // step, so a failing step runs once more before it counts.
  Result sat;  // last step the receivers kept up with
  double sat_rate = 0;
  double knee_rate = 0;  // highest rate whose p99 stayed within the limit
  Result knee;
  Result peak;  // best deliveries per server CPU-second of any step
  std::string stop_reason = "max steps";
  // Warm-up (JIT compilers, allocator pools, caches): not measured.
  co_await ChurnStep(opt_.start_rate, 2, fanout);
  co_await Sleep(0.5);
  bool retried = false;
  bool knee_passed = false;
  Result first;
  for (int step = 0; step < opt_.max_steps; ++step) {
    Result r = co_await ChurnStep(rate, opt_.step_s, fanout);
    if (step == 0 && !retried) first = r;
    co_await Sleep(0.5);  // let queues drain before the next step
    fprintf(stderr,
            "w1 step %2d: rate %7.0f/s  deliv/s %9.0f  server cpu %5.2f/%4.1fs "
            " gen cpu %5.2f  "
            "deliv/cpu-s %9.0f  p50 %6.2f p99 %7.2f max %7.1f ms  ratio %.3f  "
            "B/deliv %.1f  gen tick late p50/p99 %.2f/%.2f  after flush "
            "p50/p99 %.2f/%.2f ms\n",
            step, rate, r.deliveries_per_s, r.server_cpu_s, r.seconds,
            r.gen_cpu_s, r.deliveries_per_cpu_s, r.p50_ms, r.p99_ms, r.max_ms,
            r.delivered_ratio, r.bytes_per_delivery, r.tick_late_p50_ms,
            r.tick_late_p99_ms, r.after_flush_p50_ms, r.after_flush_p99_ms);
    if (r.deliveries_per_cpu_s > peak.deliveries_per_cpu_s) peak = r;
    bool behind = r.delivered_ratio < 0.8 || closed_ > 0;
    bool slow = r.p99_ms > opt_.p99_limit_ms;
    if ((behind || (slow && !knee_passed)) && !retried) {
      retried = true;
      --step;
      continue;
    }
    retried = false;
    if (behind) {
      stop_reason =
          closed_ > 0 ? "connections closed" : "receivers fell behind";
      break;
    }
    if (slow) knee_passed = true;
    if (!knee_passed) {
      knee = r;
      knee_rate = rate;
    }
    sat = r;
    sat_rate = rate;
    rate *= opt_.rate_factor;
  }
  if (sat_rate == 0) {
    // Not even the first rate was kept up with: report that step, so the
    // system still has a figure (its efficiency at the lowest load).
    sat = first;
    sat_rate = opt_.start_rate;
    stop_reason = "behind at the first step (its figures)";
  }
  // The backlog of the failed step must drain first, and the step needs a
  // warm-up at its own rate, or the saturation before it would be measured
  // as its latency (SteadyStep). tools/bench/compare measures both again
  // on a fresh server (--rates).
  Result half;
  if (sat_rate > 0)
    half = co_await SteadyStep(sat_rate / 2, fanout, "half load");
  // The issue defines saturation by latency (the rate where p99 passes the
  // limit) and asks for p99 at half of it: that is half the knee's rate,
  // which is well below half the throughput saturation above.
  Result knee_half;
  if (knee_rate > 0) {
    knee_half = co_await SteadyStep(knee_rate / 2, fanout, "half the knee");
  }
  Result& best = sat;
  double best_rate = sat_rate;
  PrintResult(
      {{"group", std::to_string(opt_.group)},
       {"users", std::to_string(n)},
       {"ready", std::to_string(ready)},
       {"sat_rate", Num(best_rate, 0)},
       {"sat_deliveries_per_s", Num(best.deliveries_per_s, 0)},
       {"sat_deliveries_per_cpu_s", Num(best.deliveries_per_cpu_s, 0)},
       {"sat_server_cpu_util",
        Num(best.seconds > 0 ? best.server_cpu_s / best.seconds : 0, 2)},
       {"sat_gen_cpu_util",
        Num(best.seconds > 0 ? best.gen_cpu_s / best.seconds : 0, 2)},
       {"sat_p50_ms", Num(best.p50_ms, 2)},
       {"sat_p99_ms", Num(best.p99_ms, 2)},
       {"half_settle_s", Num(opt_.settle_s, 1)},
       {"half_p50_ms", Num(half.p50_ms, 2)},
       {"half_p99_ms", Num(half.p99_ms, 2)},
       {"half_max_ms", Num(half.max_ms, 2)},
       {"half_gen_tick_late_p99_ms", Num(half.tick_late_p99_ms, 2)},
       {"half_after_flush_p99_ms", Num(half.after_flush_p99_ms, 2)},
       {"half_server_cpu_util",
        Num(half.seconds > 0 ? half.server_cpu_s / half.seconds : 0, 2)},
       {"half_gen_cpu_util",
        Num(half.seconds > 0 ? half.gen_cpu_s / half.seconds : 0, 2)},
       {"half_deliveries_per_cpu_s", Num(half.deliveries_per_cpu_s, 0)},
       {"peak_deliveries_per_cpu_s", Num(peak.deliveries_per_cpu_s, 0)},
       {"peak_deliveries_per_s", Num(peak.deliveries_per_s, 0)},
       {"knee_rate", Num(knee_rate, 0)},
       {"knee_deliveries_per_s", Num(knee.deliveries_per_s, 0)},
       {"knee_p99_ms", Num(knee.p99_ms, 2)},
       {"knee_deliveries_per_cpu_s", Num(knee.deliveries_per_cpu_s, 0)},
       {"knee_half_p50_ms", Num(knee_half.p50_ms, 2)},
       {"knee_half_p99_ms", Num(knee_half.p99_ms, 2)},
       {"bytes_per_delivery", Num(best.bytes_per_delivery, 1)},
       {"rss_per_conn_kb", Num(rss_per_conn, 1)},
       {"stop", "\"" + stop_reason + "\""}});
}

// W2: many idle connections, each watching `watch` users (all-to-all in
// groups of watch + 1), with each system's keep-alive running.
awaitable<void> Bench::W2() {
  int group = opt_.watch + 1;
  int n = opt_.conns;
  InitUsers(n);
  std::vector<ConnState> states;
  for (int u = 0; u < n; ++u) {
    ConnState s;
    s.user = u;
    s.room = u / group;
    for (int v = s.room * group; v < std::min(n, (s.room + 1) * group); ++v) {
      if (v != u) s.subscribe.push_back(v);
    }
    states.push_back(std::move(s));
  }
  int64_t t0 = NowUs();
  int ready = co_await ConnectAll(std::move(states), 240);
  double connect_s = double(NowUs() - t0) / 1e6;
  fprintf(stderr, "w2: %d/%d connections ready in %.1f s\n", ready, n,
          connect_s);
  co_await Sleep(3);
  long rss = ProcessRssKb(opt_.server_pid);
  double rss_per_conn = ready ? double(rss - rss_base_kb_) / ready : 0;
  fprintf(stderr,
          "w2: server RSS %ld KiB (base %ld), %.2f KiB per connection\n", rss,
          rss_base_kb_, rss_per_conn);
  // Keep-alive traffic as each system's client library does it: Presence
  // sends an app heartbeat every heartbeatMs (30 s); a y-websocket client
  // renews its awareness state every 15 s; socket.io answers the server's
  // pings (in the adapter); the ws relay's server pings.
  double period = opt_.system == System::kPresence     ? 30
                  : opt_.system == System::kYWebsocket ? 15
                                                       : 0;
  StartWindow();
  int64_t end = NowUs() + int64_t(opt_.idle_s * 1e6);
  asio::steady_timer tick(io_);
  size_t cursor = 0;
  int64_t start = NowUs();
  while (NowUs() < end) {
    tick.expires_after(std::chrono::milliseconds(10));
    co_await tick.async_wait(use_awaitable);
    if (period <= 0) continue;
    // Spread the heartbeats evenly over the period.
    double elapsed = double(NowUs() - start) / 1e6;
    size_t due = size_t(elapsed / period * double(conns_.size()));
    for (; cursor < due; ++cursor) {
      Conn& c = *conns_[cursor % conns_.size()];
      if (opt_.system == System::kPresence) {
        c.Send("{\"type\":\"heartbeat\"}");
      } else {
        c.Send(adapter_->StatusFrame(c.state, c.state.status));
      }
    }
  }
  Result r = EndWindow();
  double cpu_per_min = r.server_cpu_s / r.seconds * 60;
  fprintf(stderr,
          "w2: idle %.0f s: server cpu %.2f s (%.2f s/min), %llu frames in\n",
          r.seconds, r.server_cpu_s, cpu_per_min,
          (unsigned long long)w_.frames);
  PrintResult({{"conns", std::to_string(n)},
               {"ready", std::to_string(ready)},
               {"connect_s", Num(connect_s, 1)},
               {"rss_kb", std::to_string(rss)},
               {"rss_base_kb", std::to_string(rss_base_kb_)},
               {"rss_per_conn_kb", Num(rss_per_conn, 2)},
               {"idle_s", Num(r.seconds, 0)},
               {"cpu_s_per_min", Num(cpu_per_min, 3)},
               {"closed", std::to_string(closed_)}});
}

bool Bench::PutSettings(int user, const std::string& body) {
  // A plain synchronous request: it runs before the measured phase.
  try {
    asio::io_context io;
    tcp::socket sock(io);
    sock.connect(
        tcp::endpoint(asio::ip::make_address(opt_.host), uint16_t(opt_.port)));
    http::request<http::string_body> req(http::verb::put,
                                         "/api/settings/presence", 11);
    req.set(http::field::host, opt_.host);
    req.set(http::field::authorization,
            "Bearer " + MakeJwt(opt_.jwt_secret, "u" + std::to_string(user),
                                time(nullptr) + 3600));
    req.set(http::field::content_type, "application/json");
    req.body() = body;
    req.prepare_payload();
    http::write(sock, req);
    beast::flat_buffer buf;
    http::response<http::string_body> res;
    http::read(sock, buf, res);
    if (res.result() != http::status::ok) {
      fprintf(stderr, "  PUT settings u%d: %d %s\n", user, res.result_int(),
              res.body().c_str());
      return false;
    }
    return true;
  } catch (const std::exception& e) {
    fprintf(stderr, "  PUT settings u%d: %s\n", user, e.what());
    return false;
  }
}

// W3: `subscribers` clients each subscribe at once to `sub_size` of
// `population` online users; 30 % of those hide their status from them.
awaitable<void> Bench::W3() {
  int pop = opt_.population;
  int n = pop + opt_.subscribers;
  InitUsers(n);
  // Users 0,1 mod 10 hide their status from everyone; 2 mod 10 show it to
  // contacts only and have none.
  auto hides = [](int u) { return u % 10 < 3; };
  int hiding = 0;
  if (opt_.system == System::kPresence) {
    for (int u = 0; u < pop; ++u) {
      if (u % 10 < 2)
        hiding += PutSettings(u, R"({"showOnlineStatus":"nobody"})");
      else if (u % 10 == 2)
        hiding += PutSettings(u, R"({"showOnlineStatus":"contacts"})");
    }
    fprintf(stderr, "w3: %d users hide their status\n", hiding);
  }
  std::vector<ConnState> states;
  for (int u = 0; u < pop; ++u) {
    ConnState s;
    s.user = u;
    states.push_back(std::move(s));
  }
  int ready = co_await ConnectAll(std::move(states), 120);
  fprintf(stderr, "w3: %d/%d watched users online\n", ready, pop);
  // Per subscriber: its targets and how many of them it has seen.
  std::vector<std::vector<int>> targets(size_t(opt_.subscribers));
  std::vector<std::vector<char>> seen(size_t(opt_.subscribers),
                                      std::vector<char>(size_t(pop), 0));
  std::vector<int> seen_count(size_t(opt_.subscribers), 0);
  std::vector<char> is_target(size_t(opt_.subscribers) * size_t(pop), 0);
  std::vector<int64_t> done_us(size_t(opt_.subscribers), 0);
  for (int k = 0; k < opt_.subscribers; ++k) {
    for (int i = 0; i < opt_.sub_size; ++i) {
      int t = (k * 37 + i) % pop;
      targets[size_t(k)].push_back(t);
      is_target[size_t(k) * size_t(pop) + size_t(t)] = 1;
    }
  }
  uint64_t leaks = 0, views = 0;
  int done = 0;
  on_views_ = [&](Conn& c, const Parsed& p, int64_t now) {
    int k = c.state.user - pop;
    if (k < 0) return;
    for (const View& v : p.views) {
      if (v.user < 0 || v.user >= pop ||
          !is_target[size_t(k) * size_t(pop) + size_t(v.user)])
        continue;
      ++views;
      if (hides(v.user) && (v.status != Status::kNone || v.has_last_seen))
        ++leaks;
      if (!seen[size_t(k)][size_t(v.user)]) {
        seen[size_t(k)][size_t(v.user)] = 1;
        if (++seen_count[size_t(k)] == int(targets[size_t(k)].size())) {
          done_us[size_t(k)] = now;
          ++done;
        }
      }
    }
  };
  std::vector<ConnState> subs;
  for (int k = 0; k < opt_.subscribers; ++k) {
    ConnState s;
    s.user = pop + k;
    // y-websocket has no subscription: joining the room is the subscription.
    if (opt_.system == System::kYWebsocket) s.subscribe = targets[size_t(k)];
    subs.push_back(std::move(s));
  }
  int64_t t0 = 0;
  if (opt_.system == System::kYWebsocket) {
    co_await Sleep(1);
    StartWindow();
    t0 = NowUs();
    co_await ConnectAll(std::move(subs), 60);
  } else {
    int r = co_await ConnectAll(std::move(subs), 60);
    fprintf(stderr, "w3: %d subscribers connected\n", r);
    co_await Sleep(1);
    StartWindow();
    t0 = NowUs();
    for (int k = 0; k < opt_.subscribers; ++k) {
      Conn& c = *conns_[size_t(user_conn_[size_t(pop + k)])];
      c.Send(adapter_->SubscribeFrame(c.state, targets[size_t(k)]));
    }
  }
  int64_t deadline = t0 + 60'000'000;
  while (done < opt_.subscribers && NowUs() < deadline) co_await Sleep(0.002);
  Result r = EndWindow();
  double makespan =
      double(*std::max_element(done_us.begin(), done_us.end()) - t0) / 1e6;
  std::vector<uint32_t> snap;
  for (int64_t d : done_us) {
    if (d) snap.push_back(uint32_t(d - t0));
  }
  double p50 = Percentile(snap, 0.5), p99 = Percentile(snap, 0.99);
  // Distinct (subscriber, target) views that arrived: all of them when
  // every snapshot completed, fewer when the deadline cut the run short.
  double total_views = 0;
  for (int c : seen_count) total_views += c;
  fprintf(stderr,
          "w3: %d/%d snapshots complete; p50 %.1f p99 %.1f ms; makespan %.3f "
          "s; server cpu %.3f s; leaks %llu\n",
          done, opt_.subscribers, p50, p99, makespan, r.server_cpu_s,
          (unsigned long long)leaks);
  PrintResult(
      {{"population", std::to_string(pop)},
       {"subscribers", std::to_string(opt_.subscribers)},
       {"sub_size", std::to_string(opt_.sub_size)},
       {"hiding_users",
        std::to_string(opt_.system == System::kPresence ? hiding : 0)},
       {"snapshots_done", std::to_string(done)},
       {"snapshot_p50_ms", Num(p50, 1)},
       {"snapshot_p99_ms", Num(p99, 1)},
       {"makespan_s", Num(makespan, 3)},
       {"views_per_s", Num(makespan > 0 ? total_views / makespan : 0, 0)},
       {"server_cpu_s", Num(r.server_cpu_s, 3)},
       {"views_per_cpu_s",
        Num(r.server_cpu_s > 0 ? total_views / r.server_cpu_s : 0, 0)},
       {"bytes_per_view", Num(views ? double(w_.bytes) / double(views) : 0, 1)},
       {"leaks", std::to_string(leaks)},
       {"privacy", opt_.system == System::kPresence ? "true" : "false"}});
}

// W4: in groups, 10 % of users type (a typing frame every 100 ms, as chat
// apps send while keys go down) and everyone in the group watches.
awaitable<void> Bench::W4() {
  int n = opt_.group * opt_.groups;
  InitUsers(n);
  std::vector<ConnState> states;
  for (int u = 0; u < n; ++u) {
    ConnState s;
    s.user = u;
    s.room = u / opt_.group;
    for (int v = s.room * opt_.group; v < (s.room + 1) * opt_.group; ++v) {
      if (v != u) s.subscribe.push_back(v);
    }
    states.push_back(std::move(s));
  }
  std::vector<int> typists;
  for (int u = 0; u < n; ++u) {
    if (u % 10 == 0) typists.push_back(u);
  }
  if (opt_.system == System::kPresence) {
    // Activity is shown to contacts by default; a chat's members would be
    // contacts. Showing it to everyone costs the server the same.
    for (int u : typists) PutSettings(u, R"({"showActivity":"everyone"})");
  }
  uint64_t typing_views = 0;
  on_views_ = [&](Conn& c, const Parsed& p, int64_t) {
    for (const View& v : p.views) {
      if (v.user == c.state.user) continue;
      ++w_.deliveries;
      if (v.typing) ++typing_views;
    }
  };
  int ready = co_await ConnectAll(std::move(states), 120);
  fprintf(stderr, "w4: %d/%d ready\n", ready, n);
  co_await Quiesce(60);
  StartWindow();
  asio::steady_timer tick(io_);
  int64_t start = NowUs();
  uint64_t sent = 0;
  auto next = std::chrono::steady_clock::now();
  while (true) {
    next += std::chrono::milliseconds(1);
    tick.expires_at(next);
    co_await tick.async_wait(use_awaitable);
    double elapsed = double(NowUs() - start) / 1e6;
    if (elapsed >= opt_.typing_s) break;
    uint64_t due = uint64_t(elapsed * 10 * double(typists.size()));
    for (; sent < due; ++sent) {
      int u = typists[sent % typists.size()];
      Conn& c = *conns_[size_t(user_conn_[size_t(u)])];
      c.Send(adapter_->TypingFrame(c.state, u / opt_.group));
      ++w_.sent;
    }
  }
  co_await Sleep(0.5);
  Result r = EndWindow();
  double watcher_s = double(n - 1) * r.seconds;  // receiver-seconds
  PrintResult({{"group", std::to_string(opt_.group)},
               {"users", std::to_string(n)},
               {"typists", std::to_string(typists.size())},
               {"typing_frames_sent", std::to_string(r.sent)},
               {"deliveries", std::to_string(r.deliveries)},
               {"typing_views", std::to_string(typing_views)},
               {"server_cpu_s", Num(r.server_cpu_s, 3)},
               {"deliveries_per_cpu_s", Num(r.deliveries_per_cpu_s, 0)},
               {"bytes_per_delivery", Num(r.bytes_per_delivery, 1)},
               {"bytes_per_receiver_s",
                Num(double(w_.bytes) / watcher_s * opt_.groups, 1)},
               {"server_cpu_ms_per_typing_frame",
                Num(r.sent ? r.server_cpu_s * 1000 / double(r.sent) : 0, 4)}});
}

// W5: victims vanish without closing; how long until an observer sees each
// of them offline, with the system's default liveness settings.
awaitable<void> Bench::W5() {
  int n = opt_.victims + 1;
  InitUsers(n);
  std::vector<ConnState> states;
  for (int u = 0; u < n; ++u) {
    ConnState s;
    s.user = u;
    s.room = 0;
    if (u == 0) {
      for (int v = 1; v < n; ++v) s.subscribe.push_back(v);
    }
    states.push_back(std::move(s));
  }
  // Victims first, so the observer's snapshot shows them online.
  std::rotate(states.begin(), states.begin() + 1, states.end());
  std::vector<int64_t> seen_offline(size_t(n), 0);
  int64_t t0 = 0;
  int detected = 0;
  on_views_ = [&](Conn& c, const Parsed& p, int64_t now) {
    if (c.state.user != 0 || t0 == 0) return;
    for (const View& v : p.views) {
      if (v.user > 0 && v.user < n && v.status == Status::kOffline &&
          !seen_offline[size_t(v.user)]) {
        seen_offline[size_t(v.user)] = now;
        ++detected;
      }
    }
  };
  int ready = co_await ConnectAll(std::move(states), 60);
  fprintf(stderr, "w5: %d/%d ready\n", ready, n);
  co_await Sleep(1);
  t0 = NowUs();
  for (int u = 1; u < n; ++u) conns_[size_t(user_conn_[size_t(u)])]->Vanish();
  int64_t deadline = t0 + int64_t(opt_.detect_limit_s * 1e6);
  while (detected < opt_.victims && NowUs() < deadline) co_await Sleep(0.05);
  std::vector<uint32_t> times;
  for (int u = 1; u < n; ++u) {
    if (seen_offline[size_t(u)])
      times.push_back(uint32_t((seen_offline[size_t(u)] - t0) / 1000));
  }
  double p50 = Percentile(times, 0.5),
         mx = times.empty() ? 0 : *std::max_element(times.begin(), times.end());
  fprintf(stderr, "w5: %d/%d detected; p50 %.1f s max %.1f s\n", detected,
          opt_.victims, p50, mx / 1000);
  PrintResult(
      {{"victims", std::to_string(opt_.victims)},
       {"detected", std::to_string(detected)},
       {"detect_p50_s", Num(p50, 2)},
       {"detect_max_s", Num(detected == opt_.victims ? mx / 1000 : -1, 2)},
       {"limit_s", Num(opt_.detect_limit_s, 0)}});
}

void Bench::Reconnect(ConnState state, double delay_s) {
  auto timer = std::make_shared<asio::steady_timer>(
      io_, std::chrono::microseconds(int64_t(delay_s * 1e6)));
  timer->async_wait([this, timer,
                     state = std::move(state)](beast::error_code ec) mutable {
    if (ec) return;
    int user = state.user;
    if (auto& old = conns_[size_t(user_conn_[size_t(user)])]; old) {
      old->superseded = true;
      old->Close();
    }
    state.ready = false;
    state.snapshot_seen = false;
    auto c =
        std::make_shared<Conn>(*this, int(conns_.size()), std::move(state));
    user_conn_[size_t(user)] = c->index;
    conns_.push_back(c);
    c->Start(
        tcp::endpoint(asio::ip::make_address(opt_.host), uint16_t(opt_.port)),
        SourceFor(user));
  });
}

pid_t ReadPidFile(const std::string& path) {
  FILE* f = fopen(path.c_str(), "r");
  if (!f) return 0;
  int pid = 0;
  if (fscanf(f, "%d", &pid) != 1) pid = 0;
  fclose(f);
  return pid_t(pid);
}

// W6: the server restarts under connected clients (each watching 20 users);
// all reconnect within --storm-s, resume (Presence) and re-subscribe. How
// long until every client sees every watched user online again, how many
// offline views appeared meanwhile (flaps), peak RSS of the new server.
awaitable<void> Bench::W6() {
  int group = opt_.watch + 1;
  int n = opt_.conns;
  InitUsers(n);
  std::vector<ConnState> states;
  for (int u = 0; u < n; ++u) {
    ConnState s;
    s.user = u;
    s.room = u / group;
    for (int v = s.room * group; v < std::min(n, (s.room + 1) * group); ++v) {
      if (v != u) s.subscribe.push_back(v);
    }
    states.push_back(std::move(s));
  }
  // known[u]: what user u's client currently shows for each user of its
  // group (slot = user - first of group).
  std::vector<std::vector<Status>> known(
      size_t(n), std::vector<Status>(size_t(group), Status::kNone));
  std::vector<int> online(size_t(n), 0);
  std::vector<int64_t> generation_us(size_t(n), 0);
  int converged = 0;
  uint64_t flaps = 0, unknown_views = 0;
  auto watched_count = [&](int u) {
    int room = u / group;
    return std::min(n, (room + 1) * group) - room * group - 1;
  };
  on_views_ = [&](Conn& c, const Parsed& p, int64_t) {
    int u = c.state.user;
    // Only the clients' new connections count once the storm began.
    if (c.superseded || (storm_ && c.index < n)) return;
    int first = (u / group) * group;
    for (const View& v : p.views) {
      if (v.user == u || v.user < first || v.user >= first + group ||
          v.user >= n)
        continue;
      Status& k = known[size_t(u)][size_t(v.user - first)];
      bool was = k == Status::kOnline;
      bool is = v.status == Status::kOnline || v.status == Status::kAway;
      if (storm_) {
        if (v.status == Status::kOffline) ++flaps;
        if (v.status == Status::kNone) ++unknown_views;
      }
      k = is ? Status::kOnline : v.status;
      if (was == is) continue;
      int before = online[size_t(u)];
      online[size_t(u)] += is ? 1 : -1;
      int want = watched_count(u);
      if (storm_ && c.index >= n) {  // only reconnected clients count
        if (before == want && online[size_t(u)] != want) --converged;
        if (before != want && online[size_t(u)] == want) ++converged;
      }
    }
  };
  int ready = co_await ConnectAll(std::move(states), 240);
  fprintf(stderr, "w6: %d/%d ready\n", ready, n);
  co_await Sleep(3);
  if (opt_.pid_file.empty()) {
    fprintf(stderr, "w6 needs --pid-file (tools/bench/run passes it)\n");
    exit_code_ = 2;
    co_return;
  }
  pid_t old_pid = opt_.server_pid;
  storm_ = true;
  int64_t t0 = NowUs();
  double gen_cpu0 = SelfCpuSeconds();
  kill(old_pid, SIGTERM);
  for (int u = 0; u < n; ++u) {
    ConnState s = conns_[size_t(user_conn_[size_t(u)])]->state;
    known[size_t(u)].assign(size_t(group), Status::kNone);
    online[size_t(u)] = 0;
    Reconnect(std::move(s), opt_.storm_s * Uniform());
  }
  // Follow the restarted server for CPU and memory.
  int64_t deadline = t0 + int64_t(opt_.converge_limit_s * 1e6);
  pid_t new_pid = 0;
  while (NowUs() < deadline) {
    new_pid = ReadPidFile(opt_.pid_file);
    if (new_pid && new_pid != old_pid) break;
    co_await Sleep(0.01);
  }
  // "Up" here is: the old process is gone and its successor started (the
  // pid file changed); it listens a little later (first_connect_s).
  double restart_s = double(NowUs() - t0) / 1e6;
  opt_.server_pid = new_pid;
  int64_t done_us = 0;
  // y-websocket clients renew their awareness state every 15 s (y-protocols),
  // or the server times it out after 30 s.
  int64_t renew_start = NowUs();
  size_t renewed = 0;
  while (NowUs() < deadline) {
    if (converged == n) {
      done_us = NowUs();
      break;
    }
    co_await Sleep(0.005);
    if (opt_.system != System::kYWebsocket) continue;
    size_t due = size_t(double(NowUs() - renew_start) / 15e6 * n);
    for (; renewed < due; ++renewed) {
      Conn& c = *conns_[size_t(user_conn_[renewed % size_t(n)])];
      c.Send(adapter_->StatusFrame(c.state, c.state.status));
    }
  }
  double converge_s = done_us ? double(done_us - t0) / 1e6 : -1;
  // The storm's timeline: the first handshake the new server completed,
  // and when the clients' final connections were ready (authenticated and
  // their subscription answered), from the SIGTERM.
  // The first connect the new server's listen queue took says when it
  // listened, as its clients see it.
  int64_t first_open_us = 0, first_connect_us = 0;
  std::vector<uint32_t> ready_ms;
  for (size_t i = size_t(n); i < conns_.size(); ++i) {
    const Conn& c = *conns_[i];
    if (c.open_us && (!first_open_us || c.open_us < first_open_us))
      first_open_us = c.open_us;
    if (c.connect_us && (!first_connect_us || c.connect_us < first_connect_us))
      first_connect_us = c.connect_us;
  }
  for (int u = 0; u < n; ++u) {
    const Conn& c = *conns_[size_t(user_conn_[size_t(u)])];
    if (c.index >= n && c.ready_us)
      ready_ms.push_back(uint32_t((c.ready_us - t0) / 1000));
  }
  {
    // The storm's timeline on stderr: deciles of connect, handshake, ready.
    std::vector<uint32_t> cs, os;
    for (size_t i = size_t(n); i < conns_.size(); ++i) {
      const Conn& c = *conns_[i];
      if (c.connect_us) cs.push_back(uint32_t((c.connect_us - t0) / 1000));
      if (c.open_us) os.push_back(uint32_t((c.open_us - t0) / 1000));
    }
    std::vector<uint32_t> rs = ready_ms;
    for (auto* v : {&cs, &os, &rs}) std::sort(v->begin(), v->end());
    auto row = [](const char* name, const std::vector<uint32_t>& v) {
      fprintf(stderr, "w6 %-8s", name);
      for (int d = 0; d <= 10 && !v.empty(); ++d)
        fprintf(stderr, " %5.2f",
                double(v[std::min(v.size() - 1, v.size() * size_t(d) / 10)]) /
                    1000);
      fprintf(stderr, "\n");
    };
    row("connect", cs);
    row("open", os);
    row("ready", rs);
  }
  // The generator's own CPU for the storm: when it is about the storm's
  // length, the generator (one core) is what the convergence time measures.
  double gen_cpu = SelfCpuSeconds() - gen_cpu0;
  double first_open_s = first_open_us ? double(first_open_us - t0) / 1e6 : -1;
  double first_connect_s =
      first_connect_us ? double(first_connect_us - t0) / 1e6 : -1;
  double ready_p50_s = Percentile(ready_ms, 0.5);
  double ready_p99_s = Percentile(ready_ms, 0.99);
  double ready_max_s =
      ready_ms.empty()
          ? -1
          : double(*std::max_element(ready_ms.begin(), ready_ms.end())) / 1000;
  co_await Sleep(0.5);
  long peak = ProcessPeakRssKb(new_pid);
  double cpu = ProcessCpuSeconds(new_pid);
  fprintf(stderr,
          "w6: new server up after %.2f s; %d/%d clients converged; converged "
          "after %.2f s; flaps %llu; unknown views %llu; retries %d; first "
          "connect after %.2f s; first handshake after %.2f s; ready p50 "
          "%.2f p99 %.2f max %.2f s\n",
          restart_s, converged, n, converge_s, (unsigned long long)flaps,
          (unsigned long long)unknown_views, storm_retries_, first_connect_s,
          first_open_s, ready_p50_s, ready_p99_s, ready_max_s);
  PrintResult({{"conns", std::to_string(n)},
               {"ready", std::to_string(ready)},
               {"storm_s", Num(opt_.storm_s, 1)},
               {"restart_s", Num(restart_s, 2)},
               {"first_connect_s", Num(first_connect_s, 2)},
               {"first_open_s", Num(first_open_s, 2)},
               {"ready_p50_s", Num(ready_p50_s, 2)},
               {"ready_p99_s", Num(ready_p99_s, 2)},
               {"ready_max_s", Num(ready_max_s, 2)},
               {"converged", std::to_string(converged)},
               {"converge_s", Num(converge_s, 2)},
               {"flaps", std::to_string(flaps)},
               {"unknown_views", std::to_string(unknown_views)},
               {"connect_retries", std::to_string(storm_retries_)},
               {"peak_rss_kb", std::to_string(peak)},
               {"server_cpu_s", Num(cpu, 2)},
               {"gen_cpu_s", Num(gen_cpu, 2)}});
}

awaitable<void> Bench::Main() {
  rss_base_kb_ = ProcessRssKb(opt_.server_pid);
  if (opt_.workload == "w1")
    co_await W1();
  else if (opt_.workload == "w2")
    co_await W2();
  else if (opt_.workload == "w3")
    co_await W3();
  else if (opt_.workload == "w4")
    co_await W4();
  else if (opt_.workload == "w5")
    co_await W5();
  else if (opt_.workload == "w6")
    co_await W6();
  else {
    fprintf(stderr, "unknown workload %s\n", opt_.workload.c_str());
    exit_code_ = 2;
  }
  for (auto& c : conns_) c->Close();
  io_.stop();
}

int Bench::Run() {
  asio::steady_timer guard(
      io_, std::chrono::milliseconds(int64_t(opt_.max_run_s * 1000)));
  guard.async_wait([this](beast::error_code ec) {
    if (ec) return;
    fprintf(stderr, "presence-bench: run passed --max-run-s %.0f, giving up\n",
            opt_.max_run_s);
    exit_code_ = 3;
    io_.stop();
  });
  asio::co_spawn(io_, Main(), [this](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      fprintf(stderr, "presence-bench: %s\n", ex.what());
    }
    exit_code_ = 1;
    io_.stop();
  });
  io_.run();
  return exit_code_;
}

void Usage() {
  fprintf(stderr,
          "usage: presence-bench --system presence|ws|socketio|yws --port P "
          "--server-pid PID\n"
          "         --workload w1|w2|w3|w4|w5|w6 [--group N] [--groups N] "
          "[--conns N] [--watch N]\n"
          "         [--population N] [--subscribers N] [--sub-size N] "
          "[--victims N]\n"
          "         [--step-s S] [--start-rate R] [--rate-factor F] "
          "[--max-steps N]\n"
          "         [--settle-s S] [--steady-s S] [--rates R,R,...]   (w1)\n"
          "         [--p99-limit-ms MS] [--idle-s S] [--typing-s S] "
          "[--detect-limit-s S]\n"
          "         [--conns-per-ip N] [--concurrency N] [--jwt-secret S] "
          "[--max-run-s S]\n"
          "         [--pid-file PATH] [--storm-s S] [--converge-limit-s S]   "
          "(w6)\n");
}

}  // namespace
}  // namespace presence::bench

int main(int argc, char** argv) {
  using namespace presence::bench;
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        Usage();
        exit(2);
      }
      return argv[++i];
    };
    if (a == "--system") {
      if (!ParseSystem(next(), &o.system)) {
        Usage();
        return 2;
      }
    } else if (a == "--workload")
      o.workload = next();
    else if (a == "--port")
      o.port = std::stoi(next());
    else if (a == "--server-pid")
      o.server_pid = std::stoi(next());
    else if (a == "--jwt-secret")
      o.jwt_secret = next();
    else if (a == "--group")
      o.group = std::stoi(next());
    else if (a == "--groups")
      o.groups = std::stoi(next());
    else if (a == "--conns")
      o.conns = std::stoi(next());
    else if (a == "--watch")
      o.watch = std::stoi(next());
    else if (a == "--population")
      o.population = std::stoi(next());
    else if (a == "--subscribers")
      o.subscribers = std::stoi(next());
    else if (a == "--sub-size")
      o.sub_size = std::stoi(next());
    else if (a == "--victims")
      o.victims = std::stoi(next());
    else if (a == "--conns-per-ip")
      o.conns_per_ip = std::stoi(next());
    else if (a == "--concurrency")
      o.concurrency = std::stoi(next());
    else if (a == "--step-s")
      o.step_s = std::stod(next());
    else if (a == "--start-rate")
      o.start_rate = std::stod(next());
    else if (a == "--rate-factor")
      o.rate_factor = std::stod(next());
    else if (a == "--max-steps")
      o.max_steps = std::stoi(next());
    else if (a == "--settle-s")
      o.settle_s = std::stod(next());
    else if (a == "--steady-s")
      o.steady_s = std::stod(next());
    else if (a == "--rates") {
      std::string list = next();
      for (size_t at = 0; at < list.size();) {
        size_t comma = list.find(',', at);
        if (comma == std::string::npos) comma = list.size();
        if (comma > at)
          o.rates.push_back(std::stod(list.substr(at, comma - at)));
        at = comma + 1;
      }
    } else if (a == "--p99-limit-ms")
      o.p99_limit_ms = std::stod(next());
    else if (a == "--server-flush-ms")
      o.server_flush_ms = std::stoll(next());
    else if (a == "--idle-s")
      o.idle_s = std::stod(next());
    else if (a == "--typing-s")
      o.typing_s = std::stod(next());
    else if (a == "--detect-limit-s")
      o.detect_limit_s = std::stod(next());
    else if (a == "--max-run-s")
      o.max_run_s = std::stod(next());
    else if (a == "--pid-file")
      o.pid_file = next();
    else if (a == "--storm-s")
      o.storm_s = std::stod(next());
    else if (a == "--converge-limit-s")
      o.converge_limit_s = std::stod(next());
    else {
      Usage();
      return 2;
    }
  }
  if (o.port <= 0 || o.server_pid <= 0 || o.sub_size > o.population) {
    Usage();
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  Bench bench(o);
  return bench.Run();
}
