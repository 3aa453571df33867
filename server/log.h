// One line per event worth knowing, to stderr:
//   2026-11-27T20:00:00.123Z INFO  listening on http://127.0.0.1:8080
// Levels filter; no token or secret is ever passed to a log call.

#ifndef PRESENCE_SERVER_LOG_H_
#define PRESENCE_SERVER_LOG_H_

#include <string_view>

#include "config.h"

namespace presence::server {

class Logger {
 public:
  explicit Logger(LogLevel level) : level_(level) {}
  bool Enabled(LogLevel level) const { return level >= level_; }
  void Log(LogLevel level, std::string_view message) const;
  void Debug(std::string_view m) const { Log(LogLevel::kDebug, m); }
  void Info(std::string_view m) const { Log(LogLevel::kInfo, m); }
  void Warn(std::string_view m) const { Log(LogLevel::kWarn, m); }
  void Error(std::string_view m) const { Log(LogLevel::kError, m); }

 private:
  LogLevel level_;
};

}  // namespace presence::server

#endif  // PRESENCE_SERVER_LOG_H_
