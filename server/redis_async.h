// RedisAsync: one hiredis asynchronous connection driven by the server's
// single io_context.
//
// Why this design: hiredis parses RESP and keeps the command queue; all it
// asks of an event loop is "tell me when my socket is readable/writable"
// (the ev.addRead/delRead/addWrite/delWrite/cleanup hooks its adapters for
// libuv, libevent... implement). Asio has no adapter, so this is one: a
// posix::stream_descriptor over hiredis's fd, used only for async_wait
// (never to read or write; hiredis does that), with one wait per direction
// in flight. Everything runs on the server's one thread, so callbacks need
// no locks and may call into the hub directly. The descriptor is released,
// not closed, on cleanup: the fd belongs to hiredis.
//
// Lifetime: hiredis may free its context inside a read (a dropped
// connection), so the wait handlers hold the descriptor state by shared_ptr
// and check that the context is still there. Destroying a RedisAsync frees
// the context at once; pending reply callbacks are dropped, never called.
//
// Usage:
//   RedisAsync link(io);
//   link.Connect(host, port, [] { /* up */ }, [](std::string why) { ... });
//   link.Command({"PUBLISH", channel, text}, [](const redisReply* r) {...});
//   link.Subscribe(channel, [](std::string_view message) {...}, on_ready);
// A reply callback gets nullptr if the connection died before the reply.
// `on_down` is called once per connection (failed connect, or lost), after
// which the object may be reused with Connect().

#ifndef PRESENCE_SERVER_REDIS_ASYNC_H_
#define PRESENCE_SERVER_REDIS_ASYNC_H_

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace presence::server {

class RedisAsync {
 public:
  using ReplyFn = std::function<void(const redisReply* reply)>;
  using MessageFn = std::function<void(std::string_view message)>;

  explicit RedisAsync(boost::asio::io_context& io);
  ~RedisAsync();
  RedisAsync(const RedisAsync&) = delete;
  RedisAsync& operator=(const RedisAsync&) = delete;

  // Starts connecting (fails after `timeout`). False if it could not even
  // start (then on_down is not called).
  bool Connect(const std::string& host, int port,
               std::chrono::milliseconds timeout, std::function<void()> on_up,
               std::function<void(std::string)> on_down);
  // Drops the connection now; on_down is not called.
  void Reset();
  bool connected() const { return connected_; }

  // Queues a command (arguments binary-safe). False if not connected.
  bool Command(const std::vector<std::string>& args, ReplyFn on_reply);
  // SUBSCRIBE: `on_ready` once subscribed, then `on_message` per message.
  bool Subscribe(const std::string& channel, std::function<void()> on_ready,
                 MessageFn on_message);

 private:
  struct Watch;  // the descriptor and its waits
  static void OnConnect(const redisAsyncContext* ac, int status);
  static void OnDisconnect(const redisAsyncContext* ac, int status);
  static void OnReply(redisAsyncContext* ac, void* reply, void* privdata);
  static void OnSubscribed(redisAsyncContext* ac, void* reply, void* privdata);
  void Down(std::string why);

  boost::asio::io_context& io_;
  boost::asio::steady_timer connect_timer_;
  redisAsyncContext* ac_ = nullptr;
  bool connected_ = false;
  std::function<void()> on_up_;
  std::function<void(std::string)> on_down_;
  std::function<void()> on_subscribed_;
  MessageFn on_message_;
};

}  // namespace presence::server

#endif  // PRESENCE_SERVER_REDIS_ASYNC_H_
