#include "metrics.h"

#include <unistd.h>

#include <fstream>
#include <string_view>

namespace presence::server {
namespace {

class Writer {
 public:
  void Header(std::string_view name, std::string_view type,
              std::string_view help) {
    out_.append("# HELP ").append(name).append(" ").append(help);
    out_.append("\n# TYPE ").append(name).append(" ").append(type);
    out_.append("\n");
  }
  void Sample(std::string_view name, uint64_t value) {
    out_.append(name).append(" ").append(std::to_string(value)).append("\n");
  }
  void Sample(std::string_view name, std::string_view label,
              std::string_view label_value, uint64_t value) {
    out_.append(name).append("{").append(label).append("=\"");
    for (char c : label_value) {
      if (c == '\\' || c == '"') out_.push_back('\\');
      if (c == '\n') {
        out_.append("\\n");
        continue;
      }
      out_.push_back(c);
    }
    out_.append("\"} ").append(std::to_string(value)).append("\n");
  }
  void Gauge(std::string_view name, std::string_view help, uint64_t value) {
    Header(name, "gauge", help);
    Sample(name, value);
  }
  void Counter(std::string_view name, std::string_view help, uint64_t value) {
    Header(name, "counter", help);
    Sample(name, value);
  }
  void Counters(std::string_view name, std::string_view help,
                std::string_view label,
                const std::map<std::string, uint64_t>& values) {
    Header(name, "counter", help);
    for (const auto& [key, value] : values) Sample(name, label, key, value);
  }
  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
};

}  // namespace

std::string RenderMetrics(const HubStats& hub, const ServerCounters& server,
                          std::optional<uint64_t> resident_bytes) {
  Writer w;
  w.Gauge("presence_connections",
          "WebSocket connections known to the hub (authenticated or not).",
          hub.connections);
  w.Gauge("presence_ws_sockets", "Upgraded sockets the server holds open.",
          server.ws_sockets);
  w.Gauge("presence_sessions", "Sessions, including those in leave grace.",
          hub.sessions);
  w.Header("presence_users", "gauge", "Users by aggregated status.");
  w.Sample("presence_users", "status", "online", hub.users_online);
  w.Sample("presence_users", "status", "away", hub.users_away);
  w.Gauge("presence_users_loaded", "Users the hub holds in memory.",
          hub.users_loaded);
  w.Gauge("presence_subscription_edges", "Subscriber-target pairs.",
          hub.subscription_edges);
  w.Counters("presence_frames_in_total", "Client frames received, by type.",
             "type", hub.frames_in);
  w.Counters("presence_frames_out_total", "Server frames queued, by type.",
             "type", hub.frames_out);
  w.Counter("presence_bytes_out_total", "Bytes of server frames queued.",
            hub.bytes_out);
  w.Counter("presence_flushes_total", "Coalescing flushes run.", hub.flushes);
  w.Counters("presence_errors_total", "Error frames sent, by code.", "code",
             hub.errors);
  w.Counter("presence_views_encoded_total",
            "Views serialized (once per user and viewer class).",
            hub.views_encoded);
  w.Counter("presence_dead_connections_total",
            "Connections dropped for not answering pings.",
            hub.dead_connections);
  w.Counter("presence_timed_out_sessions_total",
            "Sessions dropped for sending no frame within timeoutMs.",
            hub.timed_out_sessions);
  w.Counter("presence_slow_reader_closes_total",
            "Connections closed with 1008 because their write queue grew "
            "past the limit.",
            server.slow_reader_closes);
  w.Counter("presence_socket_cap_refusals_total",
            "Auths refused with 4429: the user already held "
            "--max-sockets-per-user sockets.",
            server.socket_cap_refusals);
  w.Counter("presence_ws_upgrades_total", "WebSocket upgrades accepted.",
            server.ws_upgrades);
  w.Counter("presence_ws_origin_rejected_total",
            "WebSocket upgrades refused for their Origin.",
            server.ws_origin_rejected);
  w.Counter("presence_last_seen_writes_total",
            "Last-seen rows written to the store.", server.last_seen_writes);
  w.Counter("presence_store_errors_total", "Failed store operations.",
            server.store_errors);
  w.Counters("presence_http_requests_total", "HTTP requests, by route.",
             "route", server.http_requests);
  if (resident_bytes) {
    w.Gauge("process_resident_memory_bytes", "Resident memory size in bytes.",
            *resident_bytes);
  }
  return w.Take();
}

std::optional<uint64_t> ResidentBytes() {
  std::ifstream statm("/proc/self/statm");
  uint64_t size_pages = 0;
  uint64_t resident_pages = 0;
  if (!(statm >> size_pages >> resident_pages)) return std::nullopt;
  const long page = sysconf(_SC_PAGESIZE);
  if (page <= 0) return std::nullopt;
  return resident_pages * static_cast<uint64_t>(page);
}

}  // namespace presence::server
