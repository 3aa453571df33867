#include "ws_frame.h"

#include <algorithm>
#include <cstring>

#include "presence/utf8.h"

namespace presence::server {
namespace {

constexpr size_t kMaxControlPayload = 125;

bool IsControl(WsOpcode op) { return static_cast<uint8_t>(op) >= 0x8; }

bool IsKnownOpcode(uint8_t op) { return op <= 0x2 || (op >= 0x8 && op <= 0xA); }

// RFC 6455 7.4.1 and the IANA registry: codes a peer may send. 1004-1006
// and 1015 are reserved (never on the wire); 3000-4999 are applications'.
bool IsValidCloseCode(int code) {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
         (code >= 3000 && code <= 4999);
}

// The header bytes needed once the first two are known.
size_t HeaderSize(uint8_t b1) {
  const uint8_t len7 = b1 & 0x7F;
  return 2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + 4;
}

}  // namespace

WsEvent WsFrameDecoder::Fail(int code, const char* why) {
  error_ = why;
  error_code_ = code;
  in_frame_ = false;
  in_message_ = false;
  header_len_ = 0;
  std::string().swap(message_);
  std::string().swap(control_);
  WsEvent e;
  e.kind = WsEvent::Kind::kError;
  e.code = code;
  e.payload = why;
  return e;
}

WsEvent WsFrameDecoder::StartFrame() {
  const uint8_t b0 = header_[0];
  const uint8_t b1 = header_[1];
  const uint8_t len7 = b1 & 0x7F;
  uint64_t len = len7;
  if (len7 == 126) {
    len = (uint64_t{header_[2]} << 8) | header_[3];
    if (len < 126) return Fail(kWsCloseProtocolError, "non-minimal length");
  } else if (len7 == 127) {
    len = 0;
    for (int k = 0; k < 8; ++k) len = (len << 8) | header_[2 + k];
    if (len >> 63) return Fail(kWsCloseProtocolError, "length over 2^63");
    if (len <= 0xFFFF) {
      return Fail(kWsCloseProtocolError, "non-minimal length");
    }
  }
  const size_t size = HeaderSize(b1);
  std::memcpy(mask_, header_ + size - 4, 4);
  mask_pos_ = 0;
  header_len_ = 0;
  fin_ = (b0 & 0x80) != 0;
  opcode_ = static_cast<WsOpcode>(b0 & 0x0F);
  if (!IsControl(opcode_)) {
    const size_t so_far = in_message_ ? message_.size() : 0;
    if (so_far > max_message_bytes_ || len > max_message_bytes_ - so_far) {
      return Fail(kWsCloseTooBig, "message too big");
    }
    if (opcode_ != WsOpcode::kContinuation) {
      in_message_ = true;
      message_text_ = opcode_ == WsOpcode::kText;
    }
  }
  remaining_ = len;
  in_frame_ = true;
  return {};
}

WsEvent WsFrameDecoder::FinishFrame(std::string_view payload) {
  WsEvent e;
  e.payload = payload;
  switch (opcode_) {
    case WsOpcode::kClose:
      if (payload.size() == 1) {
        return Fail(kWsCloseProtocolError, "one-byte close payload");
      }
      e.kind = WsEvent::Kind::kClose;
      if (payload.size() >= 2) {
        e.code = (static_cast<uint8_t>(payload[0]) << 8) |
                 static_cast<uint8_t>(payload[1]);
        if (!IsValidCloseCode(e.code)) {
          return Fail(kWsCloseProtocolError, "invalid close code");
        }
        e.payload = payload.substr(2);
        if (!IsValidUtf8(e.payload)) {
          return Fail(kWsCloseInvalidPayload, "close reason is not UTF-8");
        }
      }
      return e;
    case WsOpcode::kPing:
      e.kind = WsEvent::Kind::kPing;
      return e;
    case WsOpcode::kPong:
      e.kind = WsEvent::Kind::kPong;
      return e;
    default:
      in_message_ = false;
      if (message_text_ && !IsValidUtf8(payload)) {
        return Fail(kWsCloseInvalidPayload, "text message is not UTF-8");
      }
      e.kind = WsEvent::Kind::kMessage;
      e.text = message_text_;
      return e;
  }
}

WsEvent WsFrameDecoder::Next(std::span<char>* in) {
  if (release_) {
    // What the last event pointed at is no longer needed: an idle socket
    // holds no buffer.
    release_ = false;
    if (!in_message_) std::string().swap(message_);
    if (!in_frame_ || !IsControl(opcode_)) std::string().swap(control_);
  }
  if (error_ != nullptr) {
    *in = in->subspan(in->size());
    WsEvent e;
    e.kind = WsEvent::Kind::kError;
    e.code = error_code_;
    e.payload = error_;
    return e;
  }
  while (true) {
    if (!in_frame_) {
      size_t need = header_len_ < 2 ? 2 : HeaderSize(header_[1]);
      while (header_len_ < need) {
        if (in->empty()) return {};
        header_[header_len_++] = static_cast<uint8_t>((*in)[0]);
        *in = in->subspan(1);
        if (header_len_ != 2) continue;
        // The first two bytes settle everything but the length: fail at
        // once rather than wait for the rest of a bad header.
        const uint8_t b0 = header_[0];
        const uint8_t b1 = header_[1];
        const uint8_t op = b0 & 0x0F;
        WsEvent bad;
        if (b0 & 0x70) {
          bad = Fail(kWsCloseProtocolError, "reserved bits set");
        } else if (!IsKnownOpcode(op)) {
          bad = Fail(kWsCloseProtocolError, "unknown opcode");
        } else if (!(b1 & 0x80)) {
          bad = Fail(kWsCloseProtocolError, "client frame not masked");
        } else if (IsControl(static_cast<WsOpcode>(op))) {
          if (!(b0 & 0x80)) {
            bad = Fail(kWsCloseProtocolError, "fragmented control frame");
          } else if ((b1 & 0x7F) > kMaxControlPayload) {
            bad = Fail(kWsCloseProtocolError, "control frame over 125 bytes");
          }
        } else if (op == 0 && !in_message_) {
          bad = Fail(kWsCloseProtocolError, "continuation without a message");
        } else if (op != 0 && in_message_) {
          bad = Fail(kWsCloseProtocolError, "new message inside a message");
        }
        if (bad.kind == WsEvent::Kind::kError) {
          *in = in->subspan(in->size());
          return bad;
        }
        need = HeaderSize(b1);
      }
      WsEvent started = StartFrame();
      if (started.kind == WsEvent::Kind::kError) {
        *in = in->subspan(in->size());
        return started;
      }
    }
    const bool control = IsControl(opcode_);
    std::string& gathered = control ? control_ : message_;
    const size_t n =
        static_cast<size_t>(std::min<uint64_t>(remaining_, in->size()));
    char* p = in->data();
    for (size_t k = 0; k < n; ++k) {
      p[k] = static_cast<char>(p[k] ^ mask_[mask_pos_]);
      mask_pos_ = (mask_pos_ + 1) & 3;
    }
    *in = in->subspan(n);
    remaining_ -= n;
    if (remaining_ == 0 && gathered.empty() && (control || fin_)) {
      // The whole frame (and message) was in this input: no copy.
      in_frame_ = false;
      WsEvent e = FinishFrame(std::string_view(p, n));
      if (e.kind == WsEvent::Kind::kError) *in = in->subspan(in->size());
      return e;
    }
    gathered.append(p, n);
    if (remaining_ > 0) return {};  // the input is used up
    in_frame_ = false;
    if (control || fin_) {
      release_ = true;
      WsEvent e = FinishFrame(gathered);
      if (e.kind == WsEvent::Kind::kError) *in = in->subspan(in->size());
      return e;
    }
    // A fragment ended; the message goes on in the next frame.
  }
}

size_t EncodeWsFrameHeader(WsOpcode opcode, uint64_t payload_size,
                           uint8_t out[10]) {
  out[0] = static_cast<uint8_t>(0x80 | static_cast<uint8_t>(opcode));
  if (payload_size < 126) {
    out[1] = static_cast<uint8_t>(payload_size);
    return 2;
  }
  if (payload_size <= 0xFFFF) {
    out[1] = 126;
    out[2] = static_cast<uint8_t>(payload_size >> 8);
    out[3] = static_cast<uint8_t>(payload_size);
    return 4;
  }
  out[1] = 127;
  for (int k = 0; k < 8; ++k) {
    out[2 + k] = static_cast<uint8_t>(payload_size >> (8 * (7 - k)));
  }
  return 10;
}

std::string WsClosePayload(int code, std::string_view reason) {
  if (code == 0) return {};
  size_t cut = std::min(reason.size(), kMaxControlPayload - 2);
  // Back off to a sequence boundary: a cut reason must stay UTF-8.
  while (cut > 0 && cut < reason.size() &&
         (static_cast<uint8_t>(reason[cut]) & 0xC0) == 0x80) {
    --cut;
  }
  std::string out;
  out.reserve(2 + cut);
  out.push_back(static_cast<char>((code >> 8) & 0xFF));
  out.push_back(static_cast<char>(code & 0xFF));
  out.append(reason.substr(0, cut));
  return out;
}

}  // namespace presence::server
