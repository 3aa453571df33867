// libFuzzer target: the protocol codec, client and server frames.
// Parsing must never crash (ASan/UBSan watch it); what parses must round
// trip stably (fuzz_support.h). A broken check aborts with its reason.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const presence::fuzz::CodecReport r = presence::fuzz::CheckCodec(
      std::string_view(reinterpret_cast<const char*>(data), size));
  if (!r.error.empty()) {
    std::fprintf(stderr, "codec invariant broken: %s\n", r.error.c_str());
    std::abort();
  }
  return 0;
}
