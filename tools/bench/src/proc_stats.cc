#include "proc_stats.h"

#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

namespace presence::bench {
namespace {

long StatusFieldKb(pid_t pid, const char* field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  size_t len = strlen(field);
  while (std::getline(in, line)) {
    if (line.compare(0, len, field) == 0) return std::stol(line.substr(len));
  }
  return -1;
}

}  // namespace

double ProcessCpuSeconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat;
  if (!std::getline(in, stat)) return -1;
  // The command name may hold spaces; fields resume after its ')'.
  size_t close = stat.rfind(')');
  if (close == std::string::npos) return -1;
  std::istringstream fields(stat.substr(close + 2));
  std::string skip;
  // After ')' come field 3 (state) .. 13; utime and stime are 14 and 15.
  for (int i = 3; i <= 13; ++i) fields >> skip;
  unsigned long long utime = 0, stime = 0;
  fields >> utime >> stime;
  return double(utime + stime) / double(sysconf(_SC_CLK_TCK));
}

long ProcessRssKb(pid_t pid) { return StatusFieldKb(pid, "VmRSS:"); }
long ProcessPeakRssKb(pid_t pid) { return StatusFieldKb(pid, "VmHWM:"); }

}  // namespace presence::bench
