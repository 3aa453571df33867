// The wall clock the server feeds the hub. The hub needs time that never
// goes backwards; the Server clamps this value (see Server::Now), so an NTP
// step back stalls presence time for a moment instead of breaking the rules.

#ifndef PRESENCE_SERVER_CLOCK_H_
#define PRESENCE_SERVER_CLOCK_H_

#include <chrono>
#include <cstdint>

namespace presence::server {

// Milliseconds since the Unix epoch (system_clock: last seen is a wall time).
inline int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace presence::server

#endif  // PRESENCE_SERVER_CLOCK_H_
