#include "ws_session.h"

#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <chrono>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "jwt.h"
#include "presence/codec.h"
#include "presence/protocol.h"
#include "server.h"

namespace presence::server {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;

constexpr auto kHandshakeTimeout = std::chrono::seconds(30);
// A close that has not completed by then (the peer stopped reading, so even
// the close frame cannot be written) ends with the TCP connection dropped.
constexpr auto kCloseDeadline = std::chrono::seconds(5);
// RFC 6455: a close frame's payload is at most 125 bytes (2 for the code).
constexpr size_t kMaxCloseReason = 123;
constexpr auto kSlowFrame = std::chrono::milliseconds(100);

class WsSession : public WsConnection,
                  public std::enable_shared_from_this<WsSession> {
 public:
  // The HTTP session's tcp_stream (with its timers) is not kept: the
  // websocket stream has its own timeouts, and a bare socket is smaller.
  WsSession(Server& server, beast::tcp_stream&& stream)
      : server_(server),
        user_sockets_(server.user_sockets()),
        ws_(stream.release_socket()) {}

  // The socket cap's count goes down here, not in Gone(): a soak found
  // sessions that end without Gone() (after a 4409 close), and a count
  // left behind would lock the user out for good.
  ~WsSession() override {
    if (user_.empty()) return;
    auto it = user_sockets_->find(user_);
    if (it != user_sockets_->end() && --it->second == 0) {
      user_sockets_->erase(it);
    }
  }

  void Run(http::request<http::string_body> request) {
    websocket::stream_base::timeout timeouts;
    timeouts.handshake_timeout = kHandshakeTimeout;
    timeouts.idle_timeout = websocket::stream_base::none();
    timeouts.keep_alive_pings = false;  // the hub asks for pings itself
    ws_.set_option(timeouts);
    ws_.set_option(
        websocket::stream_base::decorator([](websocket::response_type& res) {
          res.set(http::field::server, "presence-server");
        }));
    ws_.read_message_max(kMaxFrameBytes);
    // One frame per message: one send per frame.
    ws_.auto_fragment(false);
    ws_.text(true);
    ws_.control_callback(
        [this](websocket::frame_type kind, beast::string_view) {
          if (kind == websocket::frame_type::close) return;
          server_.hub().HandlePong(conn_, server_.Now());
          // Beast is mid-read here; routing outputs may start writes.
          server_.PostPump();
        });
    ws_.async_accept(request, beast::bind_front_handler(&WsSession::OnAccept,
                                                        shared_from_this()));
  }

  void Deliver(Transmit t) override {
    if (gone_) return;
    switch (t.kind) {
      case Transmit::Kind::kPing:
        // A ping still in flight means the socket is not draining; the hub
        // will find it dead without a second one.
        if (closing_ || ping_in_flight_) return;
        ping_in_flight_ = true;
        ws_.async_ping({}, beast::bind_front_handler(&WsSession::OnPing,
                                                     shared_from_this()));
        return;
      case Transmit::Kind::kClose:
        StartClose(t.close_code, std::move(t.text));
        return;
      case Transmit::Kind::kFrame:
        if (closing_) return;
        queued_bytes_ += t.FrameBytes();
        queue_.push_back(std::move(t));
        if (queued_bytes_ > server_.config().max_queued_bytes) {
          CloseSlowReader();
          return;
        }
        MaybeWrite();
        return;
    }
  }

  void ForceClose() override {
    beast::error_code ec;
    ws_.next_layer().shutdown(asio::ip::tcp::socket::shutdown_both, ec);
    ws_.next_layer().close(ec);
    // The pending read normally reports the end (and Gone() runs from it).
    // A read Beast suspended behind a failed close never resumes (seen
    // after 4409 closes in the soak), so the end is also posted here, after
    // whatever the closed socket completes; Gone() runs once either way.
    asio::post(ws_.get_executor(), [self = shared_from_this()] {
      self->Gone(asio::error::operation_aborted);
    });
  }

 private:
  void OnAccept(beast::error_code ec) {
    if (ec) {
      server_.log().Debug("websocket handshake failed: " + ec.message());
      return;
    }
    beast::error_code opt_ec;
    ws_.next_layer().set_option(asio::ip::tcp::no_delay(true), opt_ec);
    conn_ = server_.AddConnection(weak_from_this());
    server_.counters().ws_upgrades++;
    server_.hub().HandleOpen(conn_, server_.Now());
    server_.Pump();
    DoRead();
  }

  void DoRead() {
    ws_.async_read(buffer_, beast::bind_front_handler(&WsSession::OnRead,
                                                      shared_from_this()));
  }

  void OnRead(beast::error_code ec, std::size_t) {
    if (ec) {
      Gone(ec);
      return;
    }
    const auto data = buffer_.data();
    const std::string_view text(static_cast<const char*>(data.data()),
                                data.size());
    if (user_.empty() && OverSocketCap(text)) {
      buffer_.consume(buffer_.size());
      DoRead();  // completes the close handshake
      return;
    }
    const auto started = std::chrono::steady_clock::now();
    server_.hub().HandleText(conn_, text, server_.Now());
    if (user_.empty()) {
      if (std::optional<std::string> user = server_.hub().UserOf(conn_)) {
        user_ = std::move(*user);
        (*user_sockets_)[user_]++;
      }
    }
    const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - started);
    if (took >= kSlowFrame) {
      // The loop was blocked that long: every socket waited, and the hub's
      // liveness clock kept running.
      server_.log().Warn("websocket " + std::to_string(conn_) + ": a " +
                         std::to_string(data.size()) + "-byte frame took " +
                         std::to_string(took.count()) + " ms");
    }
    // Free the message buffer: Beast reads frame headers into its own
    // small buffer and asks for this one only when payload arrives, so an
    // idle socket holds none.
    buffer_.consume(buffer_.size());
    buffer_.shrink_to_fit();
    server_.Pump();
    // Keep reading even while closing: the read completes the handshake.
    DoRead();
  }

  // True (and the socket refused with `limit` + 4429) if `text` is an auth
  // frame with a valid token whose user already holds
  // Config::max_sockets_per_user sockets here. Checked before the hub sees
  // the frame, so a refused socket creates no session, no presence change
  // and nothing the hub must forget later: a client opening sockets in a
  // loop costs one parse and one HMAC per attempt. Anything else goes on to
  // the hub, which refuses bad frames and tokens itself.
  bool OverSocketCap(std::string_view text) {
    const size_t cap = server_.config().max_sockets_per_user;
    if (cap == 0) return false;
    Parsed<ClientFrame> parsed = ParseClientFrame(text);
    const auto* frame = std::get_if<ClientFrame>(&parsed);
    const auto* auth =
        frame != nullptr ? std::get_if<AuthFrame>(frame) : nullptr;
    if (auth == nullptr) return false;
    JwtResult jwt =
        VerifyHs256(auth->token, server_.config().jwt_secret, server_.Now());
    if (!jwt.claims) return false;
    auto it = user_sockets_->find(jwt.claims->sub);
    if (it == user_sockets_->end() || it->second < cap) return false;
    server_.counters().socket_cap_refusals++;
    server_.log().Warn("websocket " + std::to_string(conn_) + ": user " +
                       jwt.claims->sub + " already holds " +
                       std::to_string(it->second) + " sockets; refused");
    Transmit error;
    error.conn = conn_;
    error.text = Serialize(ServerFrame{ErrorFrame{
        ErrorCode::kLimit, "too many connections for this user (max " +
                               std::to_string(cap) + ")"}});
    Deliver(std::move(error));
    // The hub never authenticated it: closing its side keeps its count of
    // unauthenticated sockets (and their auth timers) right.
    server_.hub().HandleClose(conn_, server_.Now());
    StartClose(kCloseTooManySockets, "too many connections");
    server_.Pump();
    return true;
  }

  void MaybeWrite() {
    if (writing_ || queue_.empty() || gone_) return;
    Transmit& t = queue_.front();
    writing_ = true;
    if (t.kind == Transmit::Kind::kClose) {
      websocket::close_reason reason;
      reason.code = static_cast<websocket::close_code>(t.close_code);
      reason.reason = t.text.substr(0, kMaxCloseReason);
      ws_.async_close(reason, beast::bind_front_handler(&WsSession::OnClose,
                                                        shared_from_this()));
      return;
    }
    // One buffer per frame (the hub hands a whole frame; a one-view frame
    // is the view's shared encoding), so one send per connection per flush.
    const std::string_view bytes = t.Bytes();
    writing_bytes_ = bytes.size();
    ws_.async_write(
        asio::buffer(bytes.data(), bytes.size()),
        beast::bind_front_handler(&WsSession::OnWrite, shared_from_this()));
  }

  void OnWrite(beast::error_code ec, std::size_t) {
    writing_ = false;
    queued_bytes_ -= writing_bytes_;
    writing_bytes_ = 0;
    queue_.pop_front();
    if (gone_) {
      queue_.clear();
      queued_bytes_ = 0;
      return;
    }
    if (ec) {
      // The socket is broken; the pending read reports it to the hub.
      if (!gone_) ForceClose();
      return;
    }
    MaybeWrite();
  }

  void OnPing(beast::error_code) { ping_in_flight_ = false; }

  void OnClose(beast::error_code ec) {
    writing_ = false;
    close_sent_ = !ec;
    queue_.clear();
    queued_bytes_ = 0;
    if (ec && !gone_) ForceClose();
    // Otherwise the pending read ends with websocket::error::closed once
    // the peer answers.
  }

  // Queues a close behind the frames already queued (an error frame must
  // reach the client before the close that explains it).
  void StartClose(int code, std::string reason) {
    if (closing_) return;
    closing_ = true;
    close_code_ = code;
    // At shutdown every socket closes at once: the server logs one line for
    // all of them and bounds the wait itself, so no line and no timer per
    // socket (10 000 of each cost the old process ~0.5 s before it exits).
    const bool shutdown = server_.stopping();
    if (!shutdown) {
      server_.log().Info("closing websocket " + std::to_string(conn_) +
                         " with " + std::to_string(code) + " (" + reason + ")");
    }
    Transmit close;
    close.kind = Transmit::Kind::kClose;
    close.conn = conn_;
    close.close_code = code;
    close.text = std::move(reason);
    queue_.push_back(std::move(close));
    if (!shutdown) {
      close_timer_ = std::make_unique<asio::steady_timer>(ws_.get_executor());
      close_timer_->expires_after(kCloseDeadline);
      close_timer_->async_wait(
          [self = shared_from_this()](beast::error_code ec) {
            if (!ec && !self->gone_) self->ForceClose();
          });
    }
    MaybeWrite();
  }

  void CloseSlowReader() {
    server_.counters().slow_reader_closes++;
    server_.log().Warn("websocket " + std::to_string(conn_) + ": " +
                       std::to_string(queued_bytes_) +
                       " bytes queued, over the limit; closing it");
    // Drop what has not started; a frame already on the wire must finish
    // or the stream would be corrupt.
    if (writing_) {
      queue_.erase(queue_.begin() + 1, queue_.end());
      queued_bytes_ = writing_bytes_;
    } else {
      queue_.clear();
      queued_bytes_ = 0;
    }
    server_.hub().HandleClose(conn_, server_.Now());
    StartClose(kClosePolicy, "slow reader");
    server_.Pump();
  }

  void Gone(beast::error_code ec) {
    if (gone_) return;
    gone_ = true;
    if (close_timer_) close_timer_->cancel();
    std::string how;
    if (close_sent_ && (ec == websocket::error::closed ||
                        ec == asio::error::operation_aborted)) {
      // Our close frame went out; Beast ends the pending read with either.
      how = "closed with " + std::to_string(close_code_);
    } else if (ec == websocket::error::closed) {
      const auto code = ws_.reason().code;
      how = code == websocket::close_code::none
                ? std::string("closed by the client (no code)")
                : "closed by the client with " + std::to_string(code);
    } else if (ec == websocket::error::message_too_big) {
      how = "closed with 1009 (frame over " + std::to_string(kMaxFrameBytes) +
            " bytes)";
    } else if (close_code_ != 0) {
      how = "dropped after close " + std::to_string(close_code_) + " (" +
            ec.message() + ")";
    } else {
      how = "dropped (" + ec.message() + ")";
    }
    server_.log().Info("websocket " + std::to_string(conn_) + " " + how);
    if (!writing_) {
      // Otherwise OnWrite, still to come, empties the queue.
      queue_.clear();
      queued_bytes_ = 0;
    }
    server_.hub().HandleClose(conn_, server_.Now());
    server_.RemoveConnection(conn_);
    server_.Pump();
  }

  Server& server_;
  const std::shared_ptr<Server::UserSockets> user_sockets_;
  // No permessage-deflate: presence frames are small, and a per-socket
  // zlib state would cost far more memory than it saves in bytes.
  websocket::stream<asio::ip::tcp::socket, /*deflateSupported=*/false> ws_;
  beast::flat_buffer buffer_;
  ConnId conn_ = 0;
  std::string user_;  // once the hub accepted its auth (the socket cap)
  std::deque<Transmit> queue_;  // front is on the wire while writing_
  size_t queued_bytes_ = 0;
  size_t writing_bytes_ = 0;
  std::unique_ptr<asio::steady_timer> close_timer_;
  int close_code_ = 0;  // the code we sent, 0 if none
  bool writing_ = false;
  bool ping_in_flight_ = false;
  bool closing_ = false;
  bool close_sent_ = false;
  bool gone_ = false;
};

}  // namespace

void StartWsSession(Server& server, beast::tcp_stream stream,
                    http::request<http::string_body> request) {
  std::make_shared<WsSession>(server, std::move(stream))
      ->Run(std::move(request));
}

}  // namespace presence::server
