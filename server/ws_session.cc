#include "ws_session.h"

#include <openssl/evp.h>
#include <openssl/sha.h>

#include <array>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <chrono>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "jwt.h"
#include "presence/codec.h"
#include "presence/protocol.h"
#include "server.h"
#include "ws_frame.h"

namespace presence::server {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using error_code = boost::system::error_code;

constexpr std::string_view kWsGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
// A close that has not completed by then (the peer stopped reading, so even
// the close frame cannot be written) ends with the TCP connection dropped.
constexpr auto kCloseDeadline = std::chrono::seconds(5);
constexpr auto kSlowFrame = std::chrono::milliseconds(100);
// Reads of the shared buffer per readiness before other sockets get a turn
// (a client streaming frames must not starve the loop).
constexpr int kReadsPerTurn = 4;

std::string_view View(beast::string_view s) { return {s.data(), s.size()}; }

// RFC 6455 4.2.1: the key is base64 of 16 bytes.
bool IsValidKey(std::string_view key) {
  if (key.size() != 24 || key.substr(22) != "==") return false;
  for (char c : key.substr(0, 22)) {
    const bool b64 = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                     (c >= '0' && c <= '9') || c == '+' || c == '/';
    if (!b64) return false;
  }
  return true;
}

// Sec-WebSocket-Accept: base64(SHA-1(key + GUID)).
std::string AcceptKey(std::string_view key) {
  std::string in(key);
  in += kWsGuid;
  unsigned char digest[SHA_DIGEST_LENGTH];
  SHA1(reinterpret_cast<const unsigned char*>(in.data()), in.size(), digest);
  unsigned char out[4 * ((SHA_DIGEST_LENGTH + 2) / 3) + 1];
  const int n = EVP_EncodeBlock(out, digest, SHA_DIGEST_LENGTH);
  return std::string(reinterpret_cast<const char*>(out), n);
}

// A frame waiting for the socket to drain. kText: `body.Bytes()`; control
// frames: `body.text` is the payload.
struct Outgoing {
  Transmit body;
  WsOpcode opcode = WsOpcode::kText;

  std::string_view Payload() const {
    return opcode == WsOpcode::kText ? body.Bytes()
                                     : std::string_view(body.text);
  }
};

class WsSession : public WsConnection,
                  public std::enable_shared_from_this<WsSession> {
 public:
  // The HTTP session's tcp_stream (with its timers) is not kept: a bare
  // socket is smaller, and no timer runs while a socket is idle.
  WsSession(Server& server, beast::tcp_stream&& stream)
      : server_(server),
        user_sockets_(server.user_sockets()),
        socket_(stream.release_socket()),
        decoder_(kMaxFrameBytes) {}

  // The socket cap's count goes down here, not in Gone(): a session may
  // end without Gone() (a close whose read never completed), and a count
  // left behind would lock the user out for good. The map entry cannot
  // have moved: unordered_map nodes are stable, and it is erased only when
  // its count (ours included) reaches 0.
  ~WsSession() override {
    if (user_entry_ == nullptr) return;
    if (--user_entry_->second == 0) {
      user_sockets_->erase(user_sockets_->find(user_entry_->first));
    }
  }

  void Run(const http::request<http::string_body>& request) {
    const std::string_view version =
        View(request[http::field::sec_websocket_version]);
    const std::string_view key = View(request[http::field::sec_websocket_key]);
    if (version != "13") {
      Refuse(version.empty() ? "400 Bad Request" : "426 Upgrade Required",
             "Sec-WebSocket-Version must be 13");
      return;
    }
    if (!IsValidKey(key)) {
      Refuse("400 Bad Request", "bad Sec-WebSocket-Key");
      return;
    }
    // No subprotocol and no extensions (no permessage-deflate: presence
    // frames are small, and a zlib state per socket would cost far more
    // memory than it saves in bytes).
    auto response = std::make_shared<std::string>(
        "HTTP/1.1 101 Switching Protocols\r\n"
        "Upgrade: websocket\r\n"
        "Connection: Upgrade\r\n"
        "Sec-WebSocket-Accept: " +
        AcceptKey(key) + "\r\nServer: presence-server\r\n\r\n");
    asio::async_write(
        socket_, asio::buffer(*response),
        [self = shared_from_this(), response](const error_code& ec, size_t) {
          self->OnAccept(ec);
        });
  }

  void Deliver(Transmit t) override {
    if (gone_) return;
    switch (t.kind) {
      case Transmit::Kind::kPing:
        // A ping still queued means the socket is not draining; the hub
        // will find it dead without a second one.
        if (closing_ || ping_queued_) return;
        Send(WsOpcode::kPing, Transmit{});
        return;
      case Transmit::Kind::kClose:
        StartClose(t.close_code, t.text);
        return;
      case Transmit::Kind::kFrame:
        if (closing_) return;
        Send(WsOpcode::kText, std::move(t));
        if (queued_bytes_ > server_.config().max_queued_bytes) {
          CloseSlowReader();
        }
        return;
    }
  }

  void ForceClose() override {
    CloseSocket();
    // The pending wait normally reports the end (and Gone() runs from it);
    // posting it as well makes the end certain. Gone() runs once.
    asio::post(socket_.get_executor(), [self = shared_from_this()] {
      self->GoneWith(asio::error::operation_aborted);
    });
  }

 private:
  enum class WriteResult { kDone, kBlocked, kError };

  // An upgrade we cannot accept: an HTTP error, then the connection ends.
  void Refuse(std::string_view status, std::string_view why) {
    server_.log().Debug("websocket handshake failed: " + std::string(why));
    auto response = std::make_shared<std::string>(
        "HTTP/1.1 " + std::string(status) +
        "\r\nServer: presence-server\r\nSec-WebSocket-Version: 13\r\n"
        "Connection: close\r\nContent-Type: text/plain\r\nContent-Length: " +
        std::to_string(why.size()) + "\r\n\r\n" + std::string(why));
    asio::async_write(
        socket_, asio::buffer(*response),
        [self = shared_from_this(), response](const error_code&, size_t) {
          error_code ec;
          self->socket_.shutdown(tcp::socket::shutdown_send, ec);
        });
  }

  void OnAccept(const error_code& ec) {
    if (ec) {
      server_.log().Debug("websocket handshake failed: " + ec.message());
      return;
    }
    error_code opt_ec;
    socket_.set_option(tcp::no_delay(true), opt_ec);
    socket_.non_blocking(true, opt_ec);
    conn_ = server_.AddConnection(weak_from_this());
    server_.counters().ws_upgrades++;
    server_.hub().HandleOpen(conn_, server_.Now());
    server_.Pump();
    WaitRead();
  }

  // ---- reading ----

  // No read is pending while the socket is idle: only a wait for
  // readability, then non-blocking reads into the server's shared buffer.
  void WaitRead() {
    socket_.async_wait(tcp::socket::wait_read,
                       [self = shared_from_this()](const error_code& ec) {
                         self->OnReadable(ec);
                       });
  }

  void OnReadable(error_code ec) {
    if (gone_) return;
    if (ec) {
      GoneWith(ec);
      return;
    }
    const std::span<char> buffer = server_.ws_read_buffer();
    for (int turn = 0; turn < kReadsPerTurn; ++turn) {
      if (!socket_.is_open()) {
        GoneWith(asio::error::operation_aborted);
        return;
      }
      const size_t n =
          socket_.read_some(asio::buffer(buffer.data(), buffer.size()), ec);
      if (ec == asio::error::would_block || ec == asio::error::try_again) {
        // Asio's epoll is edge-triggered: waiting is only safe once a read
        // found the socket empty.
        WaitRead();
        return;
      }
      if (ec) {
        GoneWith(ec);
        return;
      }
      std::span<char> in = buffer.first(n);
      while (!gone_) {
        const WsEvent event = decoder_.Next(&in);
        if (event.kind == WsEvent::Kind::kNeedMore) break;
        OnEvent(event);
        // A failed decoder repeats its error (having used up the input).
        if (event.kind == WsEvent::Kind::kError) break;
      }
      if (gone_) return;
    }
    // More may be waiting: continue after the other ready sockets.
    asio::post(socket_.get_executor(),
               [self = shared_from_this()] { self->OnReadable({}); });
  }

  void OnEvent(const WsEvent& event) {
    switch (event.kind) {
      case WsEvent::Kind::kMessage:
        // After a close (ours or the peer's) data is discarded.
        if (!closing_ && !peer_closed_) OnMessage(event.payload);
        return;
      case WsEvent::Kind::kPing:
        if (peer_closed_) return;
        if (!closing_) {
          Transmit pong;
          pong.text = std::string(event.payload);
          Send(WsOpcode::kPong, std::move(pong));
        }
        // Any control frame shows the socket alive. The hub has nothing
        // urgent to say about it: one pump for all the pongs of a turn.
        server_.hub().HandlePong(conn_, server_.Now());
        server_.PostPump();
        return;
      case WsEvent::Kind::kPong:
        if (peer_closed_) return;
        server_.hub().HandlePong(conn_, server_.Now());
        server_.PostPump();
        return;
      case WsEvent::Kind::kClose:
        OnPeerClose(event.code);
        return;
      case WsEvent::Kind::kError:
        OnProtocolError(event.code, event.payload);
        return;
      case WsEvent::Kind::kNeedMore:
        return;
    }
  }

  void OnMessage(std::string_view text) {
    if (user_entry_ == nullptr && OverSocketCap(text)) return;
    const auto started = std::chrono::steady_clock::now();
    server_.hub().HandleText(conn_, text, server_.Now());
    if (user_entry_ == nullptr) {
      if (std::optional<std::string> user = server_.hub().UserOf(conn_)) {
        auto [it, inserted] = user_sockets_->try_emplace(std::move(*user), 0);
        ++it->second;
        user_entry_ = &*it;
      }
    }
    const auto took = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - started);
    if (took >= kSlowFrame) {
      // The loop was blocked that long: every socket waited, and the hub's
      // liveness clock kept running.
      server_.log().Warn("websocket " + std::to_string(conn_) + ": a " +
                         std::to_string(text.size()) + "-byte frame took " +
                         std::to_string(took.count()) + " ms");
    }
    server_.Pump();
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

  // The peer's close frame: answered with the same code (RFC 6455 5.5.1),
  // or, if ours went out first, the handshake is complete.
  void OnPeerClose(int code) {
    if (peer_closed_) return;
    peer_closed_ = true;
    peer_close_code_ = code;
    if (close_sent_) {
      FinishClose();
      return;
    }
    if (closing_) return;  // ours is queued; its write finishes the close
    closing_ = true;
    DropUnsent();
    Transmit echo;
    echo.text = WsClosePayload(code, "");
    Send(WsOpcode::kClose, std::move(echo));
    if (!gone_ && !close_sent_) ArmCloseDeadline();
  }

  // A frame RFC 6455 forbids: fail the connection with `code` (1002, 1007,
  // 1009). The close frame goes out, then our side of TCP is shut and the
  // rest of what the peer sends is discarded until it hangs up (closing at
  // once with unread bytes would reset the connection before the peer read
  // the close frame).
  void OnProtocolError(int code, std::string_view why) {
    if (failing_) return;  // draining what the peer still sends
    if (closing_ || peer_closed_) {
      // Garbage while a close is under way: nothing left to say.
      if (!gone_) ForceClose();
      return;
    }
    failing_ = true;
    DropUnsent();
    StartClose(code,
               code == kWsCloseTooBig
                   ? "frame over " + std::to_string(kMaxFrameBytes) + " bytes"
                   : std::string(why));
  }

  // ---- writing ----

  // Writes at once if nothing is queued (the common case: no copy, no
  // allocation); what the socket does not take waits for writability.
  void Send(WsOpcode opcode, Transmit body) {
    if (!socket_.is_open()) return;
    Outgoing out{std::move(body), opcode};
    const size_t payload_bytes = out.Payload().size();
    if (queue_head_ == queue_.size()) {
      size_t sent = 0;
      switch (Write(out, &sent)) {
        case WriteResult::kDone:
          AfterSent(opcode);
          return;
        case WriteResult::kError:
          WriteFailed();
          return;
        case WriteResult::kBlocked:
          out_sent_ = sent;
          WaitWritable();
          break;
      }
    }
    if (opcode == WsOpcode::kPing) ping_queued_ = true;
    queued_bytes_ += payload_bytes;
    queue_.push_back(std::move(out));
  }

  // Writes the rest of `out` (header then payload) from byte `*sent`.
  WriteResult Write(const Outgoing& out, size_t* sent) {
    const std::string_view payload = out.Payload();
    uint8_t header[10];
    const size_t header_bytes =
        EncodeWsFrameHeader(out.opcode, payload.size(), header);
    const size_t total = header_bytes + payload.size();
    while (*sent < total) {
      std::array<asio::const_buffer, 2> buffers;
      if (*sent < header_bytes) {
        buffers = {asio::buffer(header + *sent, header_bytes - *sent),
                   asio::buffer(payload.data(), payload.size())};
      } else {
        buffers = {asio::buffer(payload.data() + (*sent - header_bytes),
                                total - *sent),
                   asio::const_buffer()};
      }
      error_code ec;
      const size_t n = socket_.write_some(buffers, ec);
      if (ec == asio::error::would_block || ec == asio::error::try_again) {
        return WriteResult::kBlocked;
      }
      if (ec) return WriteResult::kError;
      *sent += n;
    }
    return WriteResult::kDone;
  }

  void WaitWritable() {
    if (write_waiting_) return;
    write_waiting_ = true;
    socket_.async_wait(tcp::socket::wait_write,
                       [self = shared_from_this()](const error_code& ec) {
                         self->OnWritable(ec);
                       });
  }

  void OnWritable(const error_code& ec) {
    write_waiting_ = false;
    if (gone_) return;
    if (ec) {
      WriteFailed();
      return;
    }
    while (queue_head_ < queue_.size()) {
      switch (Write(queue_[queue_head_], &out_sent_)) {
        case WriteResult::kBlocked:
          WaitWritable();
          return;
        case WriteResult::kError:
          WriteFailed();
          return;
        case WriteResult::kDone:
          break;
      }
      const WsOpcode opcode = queue_[queue_head_].opcode;
      queued_bytes_ -= queue_[queue_head_].Payload().size();
      ++queue_head_;
      out_sent_ = 0;
      AfterSent(opcode);
      if (gone_) return;
    }
    // Drained: the queue's memory goes back too.
    DropQueue();
  }

  void AfterSent(WsOpcode opcode) {
    if (opcode == WsOpcode::kPing) {
      ping_queued_ = false;
    } else if (opcode == WsOpcode::kClose) {
      close_sent_ = true;
      if (failing_) {
        error_code ec;
        socket_.shutdown(tcp::socket::shutdown_send, ec);
      } else if (peer_closed_) {
        FinishClose();
      }
      // Otherwise the peer's close (or the deadline) ends it.
    }
  }

  // The socket is broken; the pending wait reports it to the hub.
  void WriteFailed() {
    DropQueue();
    if (!gone_) ForceClose();
  }

  // Drops the frames not yet started; one half-written must finish or the
  // stream would be corrupt.
  void DropUnsent() {
    if (queue_head_ == queue_.size()) return;
    const size_t keep = out_sent_ > 0 ? queue_head_ + 1 : queue_head_;
    queue_.erase(queue_.begin() + static_cast<ptrdiff_t>(keep), queue_.end());
    queued_bytes_ = 0;
    for (size_t i = queue_head_; i < queue_.size(); ++i) {
      queued_bytes_ += queue_[i].Payload().size();
    }
    if (queue_head_ == queue_.size()) {
      // Nothing left to write: the pending wait (if any) finds it empty.
      ping_queued_ = false;
    }
  }

  void DropQueue() {
    std::vector<Outgoing>().swap(queue_);
    queue_head_ = 0;
    out_sent_ = 0;
    queued_bytes_ = 0;
    ping_queued_ = false;
  }

  // ---- closing ----

  // Queues a close behind the frames already queued (an error frame must
  // reach the client before the close that explains it).
  void StartClose(int code, const std::string& reason) {
    if (closing_ || gone_) return;
    closing_ = true;
    close_code_ = code;
    // At shutdown every socket closes at once: the server logs one line for
    // all of them and bounds the wait itself, so no line and no timer per
    // socket (10 000 of each cost the old process ~0.5 s before it exits).
    if (!server_.stopping()) {
      server_.log().Info("closing websocket " + std::to_string(conn_) +
                         " with " + std::to_string(code) + " (" + reason + ")");
    }
    Transmit close;
    close.text = WsClosePayload(code, reason);
    Send(WsOpcode::kClose, std::move(close));
    ArmCloseDeadline();
  }

  void ArmCloseDeadline() {
    if (gone_ || close_timer_ || server_.stopping()) return;
    close_timer_ = std::make_unique<asio::steady_timer>(socket_.get_executor());
    close_timer_->expires_after(kCloseDeadline);
    close_timer_->async_wait([self = shared_from_this()](const error_code& ec) {
      if (!ec && !self->gone_) self->ForceClose();
    });
  }

  void CloseSlowReader() {
    server_.counters().slow_reader_closes++;
    server_.log().Warn("websocket " + std::to_string(conn_) + ": " +
                       std::to_string(queued_bytes_) +
                       " bytes queued, over the limit; closing it");
    DropUnsent();
    server_.hub().HandleClose(conn_, server_.Now());
    StartClose(kClosePolicy, "slow reader");
    server_.Pump();
  }

  // Both close frames went out: the server ends the TCP connection (RFC
  // 6455 7.1.1).
  void FinishClose() {
    CloseSocket();
    if (close_code_ != 0) {
      Gone("closed with " + std::to_string(close_code_));
    } else {
      Gone(peer_close_code_ == 0 ? std::string("closed by the client (no code)")
                                 : "closed by the client with " +
                                       std::to_string(peer_close_code_));
    }
  }

  void CloseSocket() {
    error_code ec;
    socket_.shutdown(tcp::socket::shutdown_both, ec);
    socket_.close(ec);
  }

  // The socket ended without (or after) a close handshake.
  void GoneWith(const error_code& ec) {
    if (gone_) return;
    if (close_sent_ && (failing_ || ec == asio::error::operation_aborted ||
                        ec == asio::error::eof)) {
      // Our close frame went out; the peer hung up, or the deadline (or a
      // shutdown) dropped it.
      Gone("closed with " + std::to_string(close_code_) +
           (failing_ ? " (" + FailureText(close_code_) + ")" : std::string()));
    } else if (close_code_ != 0) {
      Gone("dropped after close " + std::to_string(close_code_) + " (" +
           ec.message() + ")");
    } else {
      Gone("dropped (" + ec.message() + ")");
    }
  }

  static std::string FailureText(int code) {
    return code == kWsCloseTooBig
               ? "frame over " + std::to_string(kMaxFrameBytes) + " bytes"
               : "protocol error";
  }

  void Gone(const std::string& how) {
    if (gone_) return;
    gone_ = true;
    if (close_timer_) close_timer_->cancel();
    CloseSocket();
    DropQueue();
    server_.log().Info("websocket " + std::to_string(conn_) + " " + how);
    server_.hub().HandleClose(conn_, server_.Now());
    server_.RemoveConnection(conn_);
    server_.Pump();
  }

  Server& server_;
  const std::shared_ptr<Server::UserSockets> user_sockets_;
  tcp::socket socket_;
  WsFrameDecoder decoder_;
  // Frames the socket did not take yet; empty (no memory) while it drains.
  // queue_[queue_head_] is the one partly written (out_sent_ bytes).
  std::vector<Outgoing> queue_;
  size_t queue_head_ = 0;
  size_t out_sent_ = 0;
  size_t queued_bytes_ = 0;
  // Our count in the socket cap's map, once the hub accepted the auth.
  Server::UserSockets::value_type* user_entry_ = nullptr;
  std::unique_ptr<asio::steady_timer> close_timer_;  // only while closing
  ConnId conn_ = 0;
  int close_code_ = 0;       // the code we sent, 0 if none
  int peer_close_code_ = 0;  // the peer's, 0 if none
  bool ping_queued_ = false;
  bool write_waiting_ = false;  // a wait for writability is pending
  bool closing_ = false;        // a close frame of ours is queued or sent
  bool close_sent_ = false;     // ... and written
  bool peer_closed_ = false;    // the peer's close frame arrived
  bool failing_ = false;        // closing for a protocol error
  bool gone_ = false;
};

}  // namespace

void StartWsSession(Server& server, beast::tcp_stream stream,
                    http::request<http::string_body> request) {
  std::make_shared<WsSession>(server, std::move(stream))->Run(request);
}

}  // namespace presence::server
