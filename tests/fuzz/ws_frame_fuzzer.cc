// libFuzzer target: the WebSocket frame decoder (server/ws_frame.h).
// Decoding must never crash (ASan/UBSan watch it), must use up every input,
// must give the same events whether the bytes come at once or split
// (the first input byte picks the split), must never return a message over
// the limit, and must hold no heap once idle. A broken check aborts with
// its reason.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>
#include <vector>

#include "ws_frame.h"

namespace {

constexpr size_t kLimit = 1024;  // small, so 1009 is reachable

struct Seen {
  presence::server::WsEvent::Kind kind;
  bool text;
  std::string payload;
  int code;
  bool operator==(const Seen&) const = default;
};

void Check(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "ws_frame invariant broken: %s\n", what);
  std::abort();
}

std::vector<Seen> Decode(std::string bytes, size_t chunk) {
  using presence::server::WsEvent;
  presence::server::WsFrameDecoder d(kLimit);
  std::vector<Seen> seen;
  size_t at = 0;
  while (at < bytes.size()) {
    const size_t n = std::min(chunk, bytes.size() - at);
    std::span<char> in(bytes.data() + at, n);
    at += n;
    while (true) {
      const WsEvent e = d.Next(&in);
      if (e.kind == WsEvent::Kind::kNeedMore) break;
      if (e.kind == WsEvent::Kind::kMessage) {
        Check(e.payload.size() <= kLimit, "message over the limit");
        Check(!e.text || presence::server::IsValidUtf8(e.payload),
              "text message not UTF-8");
      }
      if (e.kind == WsEvent::Kind::kError) {
        Check(e.code == 1002 || e.code == 1007 || e.code == 1009,
              "unexpected error code");
        Check(in.empty(), "error left input unconsumed");
        seen.push_back({e.kind, false, "", e.code});
        return seen;
      }
      seen.push_back({e.kind, e.text, std::string(e.payload), e.code});
    }
    Check(in.empty(), "kNeedMore with input left");
    if (d.Idle()) Check(d.HeapBytes() == 0, "idle decoder holds heap");
  }
  return seen;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const size_t chunk = 1 + data[0] % 17;
  const std::string bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  Check(Decode(bytes, bytes.size() + 1) == Decode(bytes, chunk),
        "split input decodes differently");
  return 0;
}
