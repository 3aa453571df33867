#include "log.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <ctime>
#include <string>

namespace presence::server {
namespace {

// A write to a pipe of at most PIPE_BUF (4096 on Linux) bytes is atomic, so
// lines this short never interleave even when stderr is a pipe.
constexpr size_t kMaxLineBytes = 4096;
constexpr std::string_view kTruncated = " [truncated]";

std::string_view LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "DEBUG";
    case LogLevel::kInfo:
      return "INFO ";
    case LogLevel::kWarn:
      return "WARN ";
    case LogLevel::kError:
      return "ERROR";
  }
  return "?    ";
}

// "2026-11-27T20:00:00.123Z"
void AppendTimestamp(std::string* out) {
  timespec now{};
  clock_gettime(CLOCK_REALTIME, &now);
  std::tm tm{};
  gmtime_r(&now.tv_sec, &tm);
  char buf[40];
  const int n = std::snprintf(
      buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
      tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
      static_cast<int>(now.tv_nsec / 1'000'000));
  if (n > 0) out->append(buf, static_cast<size_t>(n));
}

}  // namespace

void Logger::Log(LogLevel level, std::string_view message) const {
  if (!Enabled(level)) return;
  std::string line;
  line.reserve(32 + message.size());
  AppendTimestamp(&line);
  line += ' ';
  line += LevelName(level);
  line += ' ';
  // One call is one line: a newline inside a message (an error text from a
  // library, a peer's string) must not start a fake line of its own.
  const size_t budget = kMaxLineBytes - 1 - kTruncated.size();
  bool truncated = false;
  for (char c : message) {
    if (line.size() + 2 > budget) {
      truncated = true;
      break;
    }
    if (c == '\n') {
      line += "\\n";
    } else if (c == '\r') {
      line += "\\r";
    } else if (static_cast<unsigned char>(c) < 0x20 && c != '\t') {
      line += '?';
    } else {
      line += c;
    }
  }
  if (truncated) line += kTruncated;
  line += '\n';
  // One write() per line; retried only if a signal interrupts it before
  // anything was written, which keeps the line whole.
  ssize_t rc;
  do {
    rc = ::write(STDERR_FILENO, line.data(), line.size());
  } while (rc < 0 && errno == EINTR);
}

}  // namespace presence::server
