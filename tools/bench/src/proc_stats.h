// Reads a process's CPU time and resident memory from /proc, the way the
// benchmark charges work to a server: utime + stime of every thread.

#ifndef PRESENCE_BENCH_PROC_STATS_H_
#define PRESENCE_BENCH_PROC_STATS_H_

#include <sys/types.h>

namespace presence::bench {

// User + system CPU seconds of `pid` (all threads); -1 if unreadable.
double ProcessCpuSeconds(pid_t pid);
// Resident set size of `pid` in KiB (VmRSS); -1 if unreadable.
long ProcessRssKb(pid_t pid);
// Peak resident set size of `pid` in KiB (VmHWM); -1 if unreadable.
long ProcessPeakRssKb(pid_t pid);

}  // namespace presence::bench

#endif  // PRESENCE_BENCH_PROC_STATS_H_
