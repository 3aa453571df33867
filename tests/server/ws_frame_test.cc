// The RFC 6455 frame layer (server/ws_frame.h): the client frames it must
// decode, the ones it must refuse with 1002/1007/1009, and what it holds
// between reads.

#include "ws_frame.h"

#include <gtest/gtest.h>

#include <random>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace presence::server {
namespace {

constexpr size_t kMax = 64 * 1024;

struct FrameSpec {
  uint8_t opcode = 0x1;
  std::string payload;
  bool fin = true;
  bool masked = true;
  uint8_t rsv = 0;  // the three reserved bits, as 0x70 & byte 0
};

// A client frame as a browser would send it (masked with a fixed key).
std::string ClientFrame(const FrameSpec& f) {
  std::string out;
  out.push_back(static_cast<char>((f.fin ? 0x80 : 0) | f.rsv | f.opcode));
  const uint8_t mask_bit = f.masked ? 0x80 : 0;
  const size_t n = f.payload.size();
  if (n < 126) {
    out.push_back(static_cast<char>(mask_bit | n));
  } else if (n <= 0xFFFF) {
    out.push_back(static_cast<char>(mask_bit | 126));
    out.push_back(static_cast<char>(n >> 8));
    out.push_back(static_cast<char>(n));
  } else {
    out.push_back(static_cast<char>(mask_bit | 127));
    for (int k = 7; k >= 0; --k) out.push_back(static_cast<char>(n >> (8 * k)));
  }
  const uint8_t key[4] = {0x37, 0xfa, 0x21, 0x3d};
  if (f.masked) out.append(reinterpret_cast<const char*>(key), 4);
  for (size_t i = 0; i < n; ++i) {
    out.push_back(
        static_cast<char>(f.payload[i] ^ (f.masked ? key[i & 3] : 0)));
  }
  return out;
}

std::string Text(std::string payload, bool fin = true) {
  return ClientFrame(
      {.opcode = 0x1, .payload = std::move(payload), .fin = fin});
}

struct Seen {
  WsEvent::Kind kind;
  bool text = false;
  std::string payload;
  int code = 0;
  bool operator==(const Seen&) const = default;
};

// Feeds `bytes` in pieces of `chunk` bytes (0: all at once) and collects
// every event, copying payloads out before the next call.
std::vector<Seen> Decode(WsFrameDecoder& d, std::string bytes,
                         size_t chunk = 0) {
  std::vector<Seen> seen;
  size_t at = 0;
  do {
    const size_t n =
        chunk == 0 ? bytes.size() - at : std::min(chunk, bytes.size() - at);
    std::span<char> in(bytes.data() + at, n);
    at += n;
    while (true) {
      const WsEvent e = d.Next(&in);
      if (e.kind == WsEvent::Kind::kNeedMore) break;
      seen.push_back({e.kind, e.text, std::string(e.payload), e.code});
      if (e.kind == WsEvent::Kind::kError) return seen;
    }
    EXPECT_TRUE(in.empty());
  } while (at < bytes.size());
  return seen;
}

Seen Message(std::string payload, bool text = true) {
  return {WsEvent::Kind::kMessage, text, std::move(payload), 0};
}
Seen Error(int code) { return {WsEvent::Kind::kError, false, "", code}; }

// Only the error's code matters (its text is for the logs).
std::vector<Seen> Codes(std::vector<Seen> seen) {
  for (Seen& s : seen) {
    if (s.kind == WsEvent::Kind::kError) s.payload.clear();
  }
  return seen;
}

TEST(WsFrameDecoderTest, WholeMaskedTextFrameIsViewedInPlaceWithoutHeap) {
  WsFrameDecoder d(kMax);
  std::string bytes = Text(R"({"type":"heartbeat"})");
  std::span<char> in(bytes.data(), bytes.size());
  const WsEvent e = d.Next(&in);
  ASSERT_EQ(e.kind, WsEvent::Kind::kMessage);
  EXPECT_TRUE(e.text);
  EXPECT_EQ(e.payload, R"({"type":"heartbeat"})");
  // Unmasked in the caller's buffer: no copy.
  EXPECT_GE(e.payload.data(), bytes.data());
  EXPECT_LT(e.payload.data(), bytes.data() + bytes.size());
  EXPECT_EQ(d.Next(&in).kind, WsEvent::Kind::kNeedMore);
  EXPECT_TRUE(d.Idle());
  EXPECT_EQ(d.HeapBytes(), 0u);
}

TEST(WsFrameDecoderTest, FrameSplitAtEveryByteDecodesAndFreesItsBuffer) {
  const std::string payload(300, 'x');
  WsFrameDecoder d(kMax);
  EXPECT_EQ(Decode(d, Text(payload), 1), std::vector<Seen>{Message(payload)});
  EXPECT_TRUE(d.Idle());
  EXPECT_EQ(d.HeapBytes(), 0u);
}

TEST(WsFrameDecoderTest, SeveralFramesInOneRead) {
  WsFrameDecoder d(kMax);
  const std::string bytes =
      Text("a") + Text("bc") + ClientFrame({.opcode = 0x2, .payload = "\xff"});
  EXPECT_EQ(Decode(d, bytes),
            (std::vector<Seen>{Message("a"), Message("bc"),
                               Message("\xff", /*text=*/false)}));
}

TEST(WsFrameDecoderTest, FragmentedMessageWithInterleavedControlFrames) {
  const std::string bytes =
      Text("hel", /*fin=*/false) +
      ClientFrame({.opcode = 0x9, .payload = "p"}) +
      ClientFrame({.opcode = 0x0, .payload = "", .fin = false}) +
      ClientFrame({.opcode = 0xA, .payload = "q"}) +
      ClientFrame({.opcode = 0x0, .payload = "lo"});
  const std::vector<Seen> want = {{WsEvent::Kind::kPing, false, "p", 0},
                                  {WsEvent::Kind::kPong, false, "q", 0},
                                  Message("hello")};
  for (size_t chunk : {0, 1, 2, 3, 5, 7}) {
    WsFrameDecoder d(kMax);
    EXPECT_EQ(Decode(d, bytes, chunk), want) << "chunk " << chunk;
    EXPECT_EQ(Decode(d, Text("next")), std::vector<Seen>{Message("next")});
    EXPECT_TRUE(d.Idle());
    EXPECT_EQ(d.HeapBytes(), 0u);
  }
}

TEST(WsFrameDecoderTest, EmptyMessagesAndPings) {
  WsFrameDecoder d(kMax);
  EXPECT_EQ(Decode(d, Text("") + ClientFrame({.opcode = 0x9})),
            (std::vector<Seen>{Message(""), {WsEvent::Kind::kPing}}));
}

TEST(WsFrameDecoderTest, SixteenAndSixtyFourBitLengths) {
  const std::string mid(126, 'm');
  const std::string big(70000, 'b');
  WsFrameDecoder d(100000);
  EXPECT_EQ(Decode(d, Text(mid) + Text(big), 4096),
            (std::vector<Seen>{Message(mid), Message(big)}));
}

TEST(WsFrameDecoderTest, UnmaskedClientFrameIs1002) {
  WsFrameDecoder d(kMax);
  EXPECT_EQ(Codes(Decode(d, ClientFrame({.payload = "x", .masked = false}))),
            std::vector<Seen>{Error(1002)});
}

TEST(WsFrameDecoderTest, ReservedBitsAndUnknownOpcodesAre1002) {
  for (uint8_t rsv : {0x10, 0x20, 0x40}) {
    WsFrameDecoder d(kMax);
    EXPECT_EQ(Codes(Decode(d, ClientFrame({.payload = "x", .rsv = rsv}))),
              std::vector<Seen>{Error(1002)});
  }
  for (uint8_t op : {0x3, 0x7, 0xB, 0xF}) {
    WsFrameDecoder d(kMax);
    EXPECT_EQ(Codes(Decode(d, ClientFrame({.opcode = op, .payload = "x"}))),
              std::vector<Seen>{Error(1002)});
  }
}

TEST(WsFrameDecoderTest, ControlFramesOver125BytesOrFragmentedAre1002) {
  WsFrameDecoder big(kMax);
  EXPECT_EQ(Codes(Decode(big, ClientFrame({.opcode = 0x9,
                                           .payload = std::string(126, 'p')}))),
            std::vector<Seen>{Error(1002)});
  WsFrameDecoder max(kMax);
  EXPECT_EQ(Decode(max, ClientFrame(
                            {.opcode = 0x9, .payload = std::string(125, 'p')})),
            (std::vector<Seen>{
                {WsEvent::Kind::kPing, false, std::string(125, 'p'), 0}}));
  WsFrameDecoder fragmented(kMax);
  EXPECT_EQ(
      Codes(Decode(fragmented,
                   ClientFrame({.opcode = 0x9, .payload = "p", .fin = false}))),
      std::vector<Seen>{Error(1002)});
}

TEST(WsFrameDecoderTest, BadFragmentSequencesAre1002) {
  WsFrameDecoder lone(kMax);
  EXPECT_EQ(Codes(Decode(lone, ClientFrame({.opcode = 0x0, .payload = "x"}))),
            std::vector<Seen>{Error(1002)});
  WsFrameDecoder nested(kMax);
  EXPECT_EQ(Codes(Decode(nested, Text("a", /*fin=*/false) + Text("b"))),
            std::vector<Seen>{Error(1002)});
}

TEST(WsFrameDecoderTest, NonMinimalOrHugeLengthsAre1002) {
  WsFrameDecoder d16(kMax);
  std::string short16 = "\x81\xfe";
  short16 += std::string("\x00\x05", 2) + "abcd" + "hello";
  EXPECT_EQ(Codes(Decode(d16, short16)), std::vector<Seen>{Error(1002)});
  WsFrameDecoder d64(kMax);
  std::string top_bit = "\x81\xff";
  top_bit += std::string("\x80\x00\x00\x00\x00\x00\x00\x01", 8) + "abcd";
  EXPECT_EQ(Codes(Decode(d64, top_bit)), std::vector<Seen>{Error(1002)});
}

TEST(WsFrameDecoderTest, InvalidUtf8TextIs1007ButBinaryIsNotChecked) {
  WsFrameDecoder text(kMax);
  EXPECT_EQ(Codes(Decode(text, Text("ok \xc0\xaf"))),
            std::vector<Seen>{Error(1007)});
  // A sequence split between fragments is fine; the whole must be valid.
  WsFrameDecoder split(kMax);
  EXPECT_EQ(Decode(split, Text("\xe2\x82", false) +
                              ClientFrame({.opcode = 0x0, .payload = "\xac"})),
            std::vector<Seen>{Message("\xe2\x82\xac")});
  WsFrameDecoder binary(kMax);
  EXPECT_EQ(Decode(binary, ClientFrame({.opcode = 0x2, .payload = "\xc0"})),
            std::vector<Seen>{Message("\xc0", false)});
}

TEST(WsFrameDecoderTest, MessageOverTheLimitIs1009FromItsHeaderAlone) {
  WsFrameDecoder at_limit(kMax);
  const std::string max(kMax, 'a');
  EXPECT_EQ(Decode(at_limit, Text(max), 1000), std::vector<Seen>{Message(max)});

  // Only the header of a 64 KiB + 1 frame: refused before any payload.
  WsFrameDecoder over(kMax);
  const std::string frame = Text(std::string(kMax + 1, 'a'));
  EXPECT_EQ(Codes(Decode(over, frame.substr(0, 14))),
            std::vector<Seen>{Error(1009)});
  EXPECT_EQ(over.HeapBytes(), 0u);

  // Fragments adding up past it, also refused at the header that does.
  WsFrameDecoder fragments(kMax);
  EXPECT_EQ(
      Codes(Decode(
          fragments,
          Text(std::string(kMax - 1, 'a'), false) +
              ClientFrame({.opcode = 0x0, .payload = "bc"}).substr(0, 6))),
      std::vector<Seen>{Error(1009)});
}

TEST(WsFrameDecoderTest, AfterAnErrorEveryCallRepeatsItAndConsumesInput) {
  WsFrameDecoder d(kMax);
  EXPECT_EQ(Codes(Decode(d, ClientFrame({.payload = "x", .masked = false}))),
            std::vector<Seen>{Error(1002)});
  std::string more = Text("fine");
  std::span<char> in(more.data(), more.size());
  const WsEvent e = d.Next(&in);
  EXPECT_EQ(e.kind, WsEvent::Kind::kError);
  EXPECT_EQ(e.code, 1002);
  EXPECT_TRUE(in.empty());
}

TEST(WsFrameDecoderTest, CloseFrames) {
  WsFrameDecoder with_code(kMax);
  EXPECT_EQ(
      Decode(with_code,
             ClientFrame({.opcode = 0x8,
                          .payload = std::string("\x03\xe8", 2) + "bye"})),
      (std::vector<Seen>{{WsEvent::Kind::kClose, false, "bye", 1000}}));
  WsFrameDecoder empty(kMax);
  EXPECT_EQ(Decode(empty, ClientFrame({.opcode = 0x8})),
            (std::vector<Seen>{{WsEvent::Kind::kClose, false, "", 0}}));
  WsFrameDecoder app(kMax);
  EXPECT_EQ(Decode(app, ClientFrame({.opcode = 0x8,
                                     .payload = std::string("\x11\x3d", 2)})),
            (std::vector<Seen>{{WsEvent::Kind::kClose, false, "", 4413}}));
  WsFrameDecoder one_byte(kMax);
  EXPECT_EQ(
      Codes(Decode(one_byte, ClientFrame({.opcode = 0x8, .payload = "x"}))),
      std::vector<Seen>{Error(1002)});
  for (int code : {0, 999, 1004, 1005, 1006, 1015, 2999, 5000}) {
    WsFrameDecoder bad(kMax);
    std::string payload = {static_cast<char>(code >> 8),
                           static_cast<char>(code & 0xFF)};
    EXPECT_EQ(
        Codes(Decode(bad, ClientFrame({.opcode = 0x8, .payload = payload}))),
        std::vector<Seen>{Error(1002)})
        << code;
  }
  WsFrameDecoder bad_reason(kMax);
  EXPECT_EQ(Codes(Decode(
                bad_reason,
                ClientFrame({.opcode = 0x8,
                             .payload = std::string("\x03\xe8", 2) + "\xff"}))),
            std::vector<Seen>{Error(1007)});
}

TEST(WsFrameDecoderTest, RandomSplitsGiveTheSameEvents) {
  std::mt19937 rng(6455);
  std::string bytes;
  std::vector<Seen> want;
  for (int i = 0; i < 200; ++i) {
    const size_t n = rng() % 3 == 0 ? rng() % 70000 % kMax : rng() % 200;
    std::string payload(n, static_cast<char>('a' + i % 26));
    if (rng() % 4 == 0) {
      bytes += ClientFrame({.opcode = 0x9, .payload = payload.substr(0, 100)});
      want.push_back({WsEvent::Kind::kPing, false, payload.substr(0, 100), 0});
    } else if (rng() % 3 == 0 && n > 2) {
      bytes += Text(payload.substr(0, n / 2), false) +
               ClientFrame({.opcode = 0x0, .payload = payload.substr(n / 2)});
      want.push_back(Message(payload));
    } else {
      bytes += Text(payload);
      want.push_back(Message(payload));
    }
  }
  WsFrameDecoder whole(kMax);
  EXPECT_EQ(Decode(whole, bytes), want);
  WsFrameDecoder d(kMax);
  std::vector<Seen> seen;
  for (size_t at = 0; at < bytes.size();) {
    const size_t n = std::min<size_t>(1 + rng() % 5000, bytes.size() - at);
    std::string piece = bytes.substr(at, n);
    at += n;
    std::vector<Seen> got = Decode(d, piece);
    seen.insert(seen.end(), got.begin(), got.end());
  }
  EXPECT_EQ(seen, want);
  EXPECT_TRUE(d.Idle());
  EXPECT_EQ(d.HeapBytes(), 0u);
}

TEST(WsFrameEncodeTest, HeaderLengthsUseTheMinimalEncoding) {
  uint8_t h[10];
  EXPECT_EQ(EncodeWsFrameHeader(WsOpcode::kText, 0, h), 2u);
  EXPECT_EQ(h[0], 0x81);
  EXPECT_EQ(h[1], 0);
  EXPECT_EQ(EncodeWsFrameHeader(WsOpcode::kText, 125, h), 2u);
  EXPECT_EQ(h[1], 125);
  EXPECT_EQ(EncodeWsFrameHeader(WsOpcode::kPing, 126, h), 4u);
  EXPECT_EQ(h[0], 0x89);
  EXPECT_EQ(h[1], 126);
  EXPECT_EQ((h[2] << 8) | h[3], 126);
  EXPECT_EQ(EncodeWsFrameHeader(WsOpcode::kText, 65535, h), 4u);
  EXPECT_EQ((h[2] << 8) | h[3], 65535);
  EXPECT_EQ(EncodeWsFrameHeader(WsOpcode::kClose, 65536, h), 10u);
  EXPECT_EQ(h[0], 0x88);
  EXPECT_EQ(h[1], 127);
  EXPECT_EQ(h[7], 1);
  EXPECT_EQ(h[8], 0);
  EXPECT_EQ(h[9], 0);
}

TEST(WsFrameEncodeTest, ClosePayloadKeepsUtf8WhenCut) {
  EXPECT_EQ(WsClosePayload(0, "ignored"), "");
  EXPECT_EQ(WsClosePayload(1008, "slow reader"),
            std::string("\x03\xf0", 2) + "slow reader");
  std::string reason(122, 'r');
  reason += "\xc3\xa9";  // é straddles byte 123 of the reason
  const std::string cut = WsClosePayload(4401, reason);
  EXPECT_LE(cut.size(), 125u);
  EXPECT_EQ(cut.size(), 2u + 122u);
  EXPECT_TRUE(IsValidUtf8(std::string_view(cut).substr(2)));
}

TEST(WsFrameEncodeTest, Utf8Validation) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("plain ascii, long enough for the fast path"));
  EXPECT_TRUE(IsValidUtf8("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"));
  EXPECT_FALSE(IsValidUtf8("\xc0\xaf"));          // overlong
  EXPECT_FALSE(IsValidUtf8("\xed\xa0\x80"));      // surrogate
  EXPECT_FALSE(IsValidUtf8("\xf4\x90\x80\x80"));  // over U+10FFFF
  EXPECT_FALSE(IsValidUtf8("abc\xe2\x82"));       // truncated
  EXPECT_FALSE(IsValidUtf8("\x80"));              // lone continuation
}

}  // namespace
}  // namespace presence::server
