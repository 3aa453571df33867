// Fuzz checks shared by the libFuzzer targets (tests/fuzz/) and by the
// regression tests in core_tests (fuzz_regression_test.cc), so a crash or a
// broken invariant found by fuzzing replays as an ordinary gtest, natively
// and in WASM. No gtest and no libFuzzer here: each check returns what broke.
//
// CheckCodec(data): `data` as a client frame and as a server frame. Parsing
// must not crash; whatever parses must serialize, parse back to an equal
// frame, and serialize to the same bytes again (a stable round trip).
//
// RunHubSequence(data): `data` decoded as a sequence of host events (open,
// auth, frames, clean close, a peer that vanishes, time passing, settings
// and contacts changes, raw bytes as a frame) played on a Hub with a fake
// env, checking after every event:
//  - privacy: every View delivered equals presence::Project of the target's
//    state with the settings and contacts the host stored, for that viewer
//    (so no field the viewer's class hides ever leaves the hub), and is
//    about a user that viewer's session subscribed to;
//  - aggregation: each user's status is the best status of the sessions a
//    host-side model says are live (attached, or in their leave grace);
//  - memory: Stats' connections and sessions equal the model's live ones,
//    subscription edges are bounded by them, and once every socket is
//    closed and the graces run out, every gauge is back to zero;
//  - no lost update: once every timer settled, each live viewer's newest
//    view of each user it follows is the projection now;
//  - well-formed output: every frame parses, goes to an open connection,
//    and Flatten() is FrameBytes() long; timers make progress (no livelock).

#ifndef PRESENCE_TESTS_CORE_FUZZ_SUPPORT_H_
#define PRESENCE_TESTS_CORE_FUZZ_SUPPORT_H_

#include <cstdint>
#include <string>
#include <string_view>

namespace presence::fuzz {

struct CodecReport {
  std::string error;  // empty: every check held
  bool client_parsed = false;
  bool server_parsed = false;
};

CodecReport CheckCodec(std::string_view data);

struct HubReport {
  std::string error;  // empty: every invariant held
  // How much was checked, so a test can tell a vacuous run from a real one.
  uint64_t events = 0;
  uint64_t frames = 0;
  uint64_t views_checked = 0;
  uint64_t welcomes = 0;
  uint64_t closes = 0;
  uint64_t aggregation_checks = 0;
  uint64_t converged_views = 0;  // views found current after the settle
};

HubReport RunHubSequence(std::string_view data);

}  // namespace presence::fuzz

#endif  // PRESENCE_TESTS_CORE_FUZZ_SUPPORT_H_
