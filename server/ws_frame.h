// The WebSocket frame layer (RFC 6455, server side), sans-I/O: decodes the
// client's frames incrementally and encodes the server's frame headers. No
// sockets, no clock; WsSession does the I/O.
//
// Why our own and not Beast's websocket::stream (a departure from DESIGN.md,
// see docs/operations.md "WebSocket layer"): an idle Beast stream cost about
// 7 KiB of server RSS per connection (its fixed read buffer, a timer,
// std::functions, composed operations), which alone missed issue 6's W2
// goal (≤ ⅓ of the `ws` relay's 7.5 KiB). This decoder holds 48 bytes and no
// heap while no partial frame is pending: the session reads into one buffer
// the whole server shares, and payloads are unmasked in place there.
//
// Decoder contract (the client's side of RFC 6455):
//   - every frame must be masked; reserved bits must be 0; opcodes other
//     than continuation/text/binary/close/ping/pong fail (1002);
//   - control frames are ≤ 125 bytes and not fragmented (1002); they may
//     come between the fragments of a message;
//   - a continuation without a message, or a new message inside one, fails
//     (1002); lengths must use the minimal encoding, 64-bit ones < 2^63;
//   - a message (all its fragments) over `max_message_bytes` fails with
//     1009 as soon as its header says so, without buffering it;
//   - a text message must be valid UTF-8 (1007), checked once complete;
//   - a close payload is empty or a valid code (RFC 6455 7.4) with a UTF-8
//     reason (1002 / 1007).
// After an error the decoder consumes everything and repeats the error.

#ifndef PRESENCE_SERVER_WS_FRAME_H_
#define PRESENCE_SERVER_WS_FRAME_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "presence/utf8.h"

namespace presence::server {

enum class WsOpcode : uint8_t {
  kContinuation = 0x0,
  kText = 0x1,
  kBinary = 0x2,
  kClose = 0x8,
  kPing = 0x9,
  kPong = 0xA,
};

// RFC 6455 close codes the frame layer itself sends.
inline constexpr int kWsCloseProtocolError = 1002;
inline constexpr int kWsCloseInvalidPayload = 1007;
inline constexpr int kWsCloseTooBig = 1009;

struct WsEvent {
  enum class Kind : uint8_t {
    kNeedMore,  // the input is used up; call again with more bytes
    kMessage,   // a whole text or binary message
    kPing,
    kPong,
    kClose,  // the peer's close frame
    kError,  // the connection must be failed with `code`
  };
  Kind kind = Kind::kNeedMore;
  bool text = false;  // kMessage: a text (else binary) message
  // kMessage/kPing/kPong: the payload; kClose: the reason; kError: why.
  // Valid until the next Next() call (it may point into the caller's input).
  std::string_view payload;
  // kClose: the peer's code (0 if it sent none); kError: the code to close
  // with (1002, 1007 or 1009).
  int code = 0;
};

class WsFrameDecoder {
 public:
  explicit WsFrameDecoder(size_t max_message_bytes)
      : max_message_bytes_(max_message_bytes) {}

  // Decodes from `*in`, advancing it past what was used, and returns the
  // first event completed, or kNeedMore once `*in` is empty. Payloads are
  // unmasked in place in `*in`. A message or control frame wholly inside
  // `*in` is returned as a view of it (no copy); one split across calls is
  // gathered in a buffer the decoder frees on the next call.
  WsEvent Next(std::span<char>* in);

  // True while no partial frame or message is held. After the kNeedMore
  // that ends an input, an idle decoder also holds no heap.
  bool Idle() const {
    return header_len_ == 0 && !in_frame_ && !in_message_ && message_.empty() &&
           control_.empty();
  }
  // Heap bytes held for split frames (0 once idle), for tests and stats.
  size_t HeapBytes() const {
    const size_t inline_capacity = std::string().capacity();
    return (message_.capacity() > inline_capacity ? message_.capacity() : 0) +
           (control_.capacity() > inline_capacity ? control_.capacity() : 0);
  }

 private:
  WsEvent Fail(int code, const char* why);
  // Parses header_ once it is whole; kNeedMore or kError.
  WsEvent StartFrame();
  WsEvent FinishFrame(std::string_view payload);

  size_t max_message_bytes_;
  // A message or control frame split across reads. Capacity stays 0 unless
  // a frame actually arrives in pieces.
  std::string message_;
  std::string control_;
  uint64_t remaining_ = 0;       // payload bytes of the current frame still due
  const char* error_ = nullptr;  // set once failed
  int error_code_ = 0;
  uint8_t header_[14] = {};
  uint8_t header_len_ = 0;
  uint8_t mask_[4] = {};
  uint8_t mask_pos_ = 0;
  WsOpcode opcode_ = WsOpcode::kContinuation;
  bool fin_ = false;
  bool in_frame_ = false;    // header parsed, payload pending
  bool in_message_ = false;  // a data message has begun (not yet fin)
  bool message_text_ = false;
  bool release_ = false;  // message_/control_ were handed out; free them
};

// The header of an unmasked, final (FIN) server frame of `payload_size`
// bytes: written to `out`, its length (2, 4 or 10) returned.
size_t EncodeWsFrameHeader(WsOpcode opcode, uint64_t payload_size,
                           uint8_t out[10]);

// A close frame's payload: the code (big-endian) then `reason` cut to fit
// 125 bytes without splitting a UTF-8 sequence. Code 0: empty payload.
std::string WsClosePayload(int code, std::string_view reason);

// Text messages are checked with presence::IsValidUtf8 (presence/utf8.h),
// the core's check of every text.
using presence::IsValidUtf8;

}  // namespace presence::server

#endif  // PRESENCE_SERVER_WS_FRAME_H_
