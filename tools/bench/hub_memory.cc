// hub-memory: what the hub's subscription storage costs, without a socket.
//
// N users connect (one session each) and subscribe in groups of G + 1, each
// to the G others (W2's shape: 19 000 connections watching 20 users each).
// Heap in use (glibc mallinfo2) is read after the connections, after the
// subscriptions, and after every subscription is removed again; the last
// difference is what the edges alone cost (the users' cached views stay, as
// their users are still connected), so
//   bytes per subscription = (subscribed - unsubscribed) / edges.
// Also printed: the heap per connection (session, connection, user and its
// cached views, without subscriptions).
//
//   hub-memory [--conns N] [--group G]
//
// Built natively only; it links nothing but the core.

#include <malloc.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "presence/codec.h"
#include "presence/hub.h"

namespace {

using presence::ConnId;

class BenchEnv : public presence::HubEnv {
 public:
  presence::TokenCheck VerifyToken(std::string_view token,
                                   int64_t /*now_ms*/) override {
    return {std::string(token), std::nullopt, {}};
  }
  presence::StoredUser LoadUser(std::string_view /*user_id*/) override {
    return {};
  }
  std::string NewSessionId() override { return "s" + std::to_string(++next_); }

 private:
  uint64_t next_ = 0;
};

size_t HeapInUse() { return mallinfo2().uordblks; }

void Drain(presence::Hub& hub) {
  while (hub.PollTransmit()) {
  }
  (void)hub.PollLastSeen();
}

std::string IdList(const char* type, const std::vector<std::string>& ids) {
  std::string text = std::string(R"({"type":")") + type + R"(","userIds":[)";
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i != 0) text += ',';
    text += '"' + ids[i] + '"';
  }
  return text + "]}";
}

}  // namespace

int main(int argc, char** argv) {
  size_t conns = 19'000;
  size_t group = 20;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--conns") == 0) {
      conns = std::strtoul(argv[i + 1], nullptr, 10);
    } else if (std::strcmp(argv[i], "--group") == 0) {
      group = std::strtoul(argv[i + 1], nullptr, 10);
    } else {
      std::fprintf(stderr, "usage: hub-memory [--conns N] [--group G]\n");
      return 2;
    }
  }
  const size_t members = group + 1;
  conns -= conns % members;

  BenchEnv env;
  presence::Hub hub(presence::HubConfig{}, &env);
  int64_t now = 1'000'000;

  // The bench's own strings are made before the first reading.
  std::vector<std::string> users(conns);
  for (size_t i = 0; i < conns; ++i) users[i] = "user-" + std::to_string(i);
  std::vector<std::string> subscribe(conns);
  std::vector<std::string> unsubscribe(conns);
  for (size_t i = 0; i < conns; ++i) {
    const size_t base = i - i % members;
    std::vector<std::string> ids;
    for (size_t j = base; j < base + members; ++j) {
      if (j != i) ids.push_back(users[j]);
    }
    subscribe[i] = IdList("presence_subscribe", ids);
    unsubscribe[i] = IdList("presence_unsubscribe", ids);
  }

  const size_t heap_empty = HeapInUse();
  for (size_t i = 0; i < conns; ++i) {
    const ConnId conn = i + 1;
    hub.HandleOpen(conn, now);
    hub.HandleText(
        conn, R"({"type":"auth","token":")" + users[i] + R"(","device":"web"})",
        now);
    Drain(hub);
  }
  now += 100;
  hub.HandleTimeout(now);
  Drain(hub);
  const size_t heap_connected = HeapInUse();

  for (size_t i = 0; i < conns; ++i) {
    hub.HandleText(i + 1, subscribe[i], now);
    Drain(hub);
  }
  now += 100;
  hub.HandleTimeout(now);
  Drain(hub);
  const size_t heap_subscribed = HeapInUse();
  const size_t edges = hub.Stats().subscription_edges;

  for (size_t i = 0; i < conns; ++i) {
    hub.HandleText(i + 1, unsubscribe[i], now);
    Drain(hub);
  }
  now += 100;
  hub.HandleTimeout(now);
  Drain(hub);
  const size_t heap_unsubscribed = HeapInUse();
  if (hub.Stats().subscription_edges != 0) {
    std::fprintf(stderr, "edges left after unsubscribing\n");
    return 1;
  }

  std::printf(
      "{\"conns\":%zu,\"group\":%zu,\"edges\":%zu,"
      "\"bytes_per_subscription\":%.1f,"
      "\"bytes_per_subscription_incl_first_views\":%.1f,"
      "\"bytes_per_connection_without_subscriptions\":%.1f}\n",
      conns, group, edges,
      static_cast<double>(heap_subscribed - heap_unsubscribed) / edges,
      static_cast<double>(heap_subscribed - heap_connected) / edges,
      static_cast<double>(heap_connected - heap_empty) / conns);
  return 0;
}
