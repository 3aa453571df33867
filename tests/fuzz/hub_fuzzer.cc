// libFuzzer target: the hub fed a random sequence of host events decoded
// from the input, with privacy, aggregation and memory invariants checked
// after every event (fuzz_support.h). A broken invariant aborts with its
// reason; ASan/UBSan catch the rest.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const presence::fuzz::HubReport r = presence::fuzz::RunHubSequence(
      std::string_view(reinterpret_cast<const char*>(data), size));
  if (!r.error.empty()) {
    std::fprintf(stderr, "hub invariant broken: %s\n", r.error.c_str());
    std::abort();
  }
  return 0;
}
