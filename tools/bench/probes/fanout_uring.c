// Fan-out probe: what one flush of W1 groups of 1 000 costs in sends alone.
// One 60-byte frame to each of N loopback TCP sockets per round (every 5 ms),
// by a send() loop (what presence-server does today, one send per socket) or
// by one io_uring submission of N sends; a reader thread on the other core
// epoll-waits on the receiving ends, as the generator does. Prints the wall
// time of a round and the sender's CPU per socket (the receiver's wake-up on
// loopback is charged to the sender either way).
//
// Not part of the build (liburing is not a dependency of the project):
//   apt-get install liburing-dev
//   gcc -O2 -o /tmp/fanout_uring tools/bench/probes/fanout_uring.c -luring -lpthread
//   ulimit -n 8192; chrt -f 10 taskset -c 0,1 /tmp/fanout_uring 999
// 2026-11-28, this 2-core VM (kernel 6.18, io_uring enabled, liburing 2.3),
// SCHED_FIFO, load average 8-9: N=999 send() 7.8-8.6 us per socket (a round
// 7.8-8.6 ms), io_uring 5.3-5.5 us (5.3-5.4 ms); N=199 send() 9.0 us,
// io_uring 5.5 us.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <liburing.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>

static int N = 999, ROUNDS = 300;
static int *snd, *rcv;
static volatile int stop;
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec / 1e9; }
static double cpu(void) { struct rusage r; getrusage(RUSAGE_THREAD, &r); return r.ru_utime.tv_sec + r.ru_stime.tv_sec + (r.ru_utime.tv_usec + r.ru_stime.tv_usec) / 1e6; }
static void pin(int c) { cpu_set_t s; CPU_ZERO(&s); CPU_SET(c, &s); sched_setaffinity(0, sizeof s, &s); }
static void *reader(void *arg) {
  (void)arg; pin(1);
  int ep = epoll_create1(0);
  for (int i = 0; i < N; i++) { struct epoll_event e = {.events = EPOLLIN, .data.u32 = i}; epoll_ctl(ep, EPOLL_CTL_ADD, rcv[i], &e); }
  struct epoll_event ev[256]; char buf[4096];
  while (!stop) { int n = epoll_wait(ep, ev, 256, 50); for (int k = 0; k < n; k++) while (read(rcv[ev[k].data.u32], buf, sizeof buf) > 0) {} }
  return 0;
}
int main(int argc, char **argv) {
  if (argc > 1) N = atoi(argv[1]);
  snd = calloc(N, sizeof(int)); rcv = calloc(N, sizeof(int));
  int l = socket(AF_INET, SOCK_STREAM, 0); struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  bind(l, (void *)&a, sizeof a); listen(l, 4096); socklen_t al = sizeof a; getsockname(l, (void *)&a, &al);
  for (int i = 0; i < N; i++) {
    snd[i] = socket(AF_INET, SOCK_STREAM, 0); int one = 1;
    setsockopt(snd[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(snd[i], (void *)&a, sizeof a)) { perror("connect"); return 1; }
    rcv[i] = accept(l, 0, 0); fcntl(rcv[i], F_SETFL, O_NONBLOCK); fcntl(snd[i], F_SETFL, O_NONBLOCK);
  }
  pthread_t t; pthread_create(&t, 0, reader, 0); pin(0); usleep(100000);
  char msg[60]; memset(msg, 'x', sizeof msg);
  struct io_uring ring; if (io_uring_queue_init(4096, &ring, 0)) { perror("io_uring"); return 1; }
  for (int mode = 0; mode < 4; mode++) {
    double w = 0, c0 = cpu(), worst = 0;
    for (int r = 0; r < ROUNDS; r++) {
      usleep(5000);
      double t0 = now();
      if (mode % 2 == 0) {
        for (int i = 0; i < N; i++) send(snd[i], msg, sizeof msg, MSG_DONTWAIT | MSG_NOSIGNAL);
      } else {
        for (int i = 0; i < N; i++) { struct io_uring_sqe *s = io_uring_get_sqe(&ring); io_uring_prep_send(s, snd[i], msg, sizeof msg, MSG_DONTWAIT | MSG_NOSIGNAL); }
        io_uring_submit_and_wait(&ring, N);
        struct io_uring_cqe *cq; unsigned head, seen = 0;
        io_uring_for_each_cqe(&ring, head, cq) { seen++; }
        io_uring_cq_advance(&ring, seen);
      }
      double d = now() - t0; w += d; if (d > worst) worst = d;
    }
    if (mode >= 2) printf("%-8s N=%d: %.1f us per round (%.2f us per socket), worst %.1f us, sender CPU %.2f us per socket\n",
      mode % 2 ? "io_uring" : "send()", N, w / ROUNDS * 1e6, w / ROUNDS / N * 1e6, worst * 1e6, (cpu() - c0) / ROUNDS / N * 1e6);
  }
  stop = 1; pthread_join(t, 0); return 0;
}
