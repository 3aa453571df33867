// /metrics: the hub's counters plus the server's own, as Prometheus text
// (exposition format 0.0.4: # HELP, # TYPE, one sample per line).
//
// Label values come from fixed sets (frame types, error codes, route names),
// never from user input, so the series count stays bounded.

#ifndef PRESENCE_SERVER_METRICS_H_
#define PRESENCE_SERVER_METRICS_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "presence/hub.h"

namespace presence::server {

// What the server counts that the hub cannot see.
struct ServerCounters {
  size_t ws_sockets = 0;  // gauge: upgraded sockets still open
  uint64_t ws_upgrades = 0;
  uint64_t ws_origin_rejected = 0;
  uint64_t slow_reader_closes = 0;
  uint64_t socket_cap_refusals = 0;  // auths over max_sockets_per_user
  uint64_t last_seen_writes = 0;     // rows handed to the store
  uint64_t store_errors = 0;
  std::map<std::string, uint64_t> http_requests;  // by route name
};

std::string RenderMetrics(const HubStats& hub, const ServerCounters& server,
                          std::optional<uint64_t> resident_bytes);

// The process's resident set size, from /proc/self/statm (Linux only).
std::optional<uint64_t> ResidentBytes();

}  // namespace presence::server

#endif  // PRESENCE_SERVER_METRICS_H_
