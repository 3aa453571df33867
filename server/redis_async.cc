#include "redis_async.h"

#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <utility>

namespace presence::server {

namespace asio = boost::asio;
using boost::system::error_code;

// hiredis's event hooks, on an Asio descriptor. One wait per direction is
// in flight at most; a wait that completes after its direction was turned
// off (or the context is gone) does nothing.
struct RedisAsync::Watch : std::enable_shared_from_this<Watch> {
  Watch(asio::io_context& io, int fd, redisAsyncContext* context)
      : sd(io, fd), ac(context) {}

  asio::posix::stream_descriptor sd;
  redisAsyncContext* ac;  // null once hiredis cleaned up
  bool want_read = false;
  bool want_write = false;
  bool read_waiting = false;
  bool write_waiting = false;

  void Arm() {
    if (ac == nullptr) return;
    std::shared_ptr<Watch> self = shared_from_this();
    if (want_read && !read_waiting) {
      read_waiting = true;
      sd.async_wait(asio::posix::descriptor_base::wait_read,
                    [self](const error_code& ec) {
                      self->read_waiting = false;
                      if (ec || self->ac == nullptr || !self->want_read) return;
                      redisAsyncHandleRead(self->ac);  // may free the context
                      self->Arm();
                    });
    }
    if (want_write && !write_waiting) {
      write_waiting = true;
      sd.async_wait(asio::posix::descriptor_base::wait_write,
                    [self](const error_code& ec) {
                      self->write_waiting = false;
                      if (ec || self->ac == nullptr || !self->want_write) {
                        return;
                      }
                      redisAsyncHandleWrite(self->ac);
                      self->Arm();
                    });
    }
  }

  static Watch& Of(void* privdata) {
    return **static_cast<std::shared_ptr<Watch>*>(privdata);
  }
  static void AddRead(void* p) {
    Of(p).want_read = true;
    Of(p).Arm();
  }
  static void DelRead(void* p) { Of(p).want_read = false; }
  static void AddWrite(void* p) {
    Of(p).want_write = true;
    Of(p).Arm();
  }
  static void DelWrite(void* p) { Of(p).want_write = false; }
  static void Cleanup(void* p) {
    auto* holder = static_cast<std::shared_ptr<Watch>*>(p);
    Watch& w = **holder;
    w.ac = nullptr;
    w.want_read = w.want_write = false;
    // Cancels the waits; the fd stays open for hiredis to close.
    w.sd.release();
    delete holder;
  }
};

RedisAsync::RedisAsync(asio::io_context& io) : io_(io), connect_timer_(io) {}

RedisAsync::~RedisAsync() { Reset(); }

bool RedisAsync::Connect(const std::string& host, int port,
                         std::chrono::milliseconds timeout,
                         std::function<void()> on_up,
                         std::function<void(std::string)> on_down) {
  Reset();
  redisAsyncContext* ac = redisAsyncConnect(host.c_str(), port);
  if (ac == nullptr) return false;
  if (ac->err != 0) {
    redisAsyncFree(ac);
    return false;
  }
  ac_ = ac;
  ac->data = this;
  on_up_ = std::move(on_up);
  on_down_ = std::move(on_down);
  auto watch = std::make_shared<Watch>(io_, ac->c.fd, ac);
  ac->ev.data = new std::shared_ptr<Watch>(watch);
  ac->ev.addRead = &Watch::AddRead;
  ac->ev.delRead = &Watch::DelRead;
  ac->ev.addWrite = &Watch::AddWrite;
  ac->ev.delWrite = &Watch::DelWrite;
  ac->ev.cleanup = &Watch::Cleanup;
  redisAsyncSetConnectCallback(ac, &RedisAsync::OnConnect);
  redisAsyncSetDisconnectCallback(ac, &RedisAsync::OnDisconnect);
  // The connect completes when the socket turns writable.
  watch->want_write = true;
  watch->Arm();
  connect_timer_.expires_after(timeout);
  connect_timer_.async_wait([this](const error_code& ec) {
    if (ec || connected_ || ac_ == nullptr) return;
    Reset();
    Down("connect timed out");
  });
  return true;
}

void RedisAsync::Reset() {
  connect_timer_.cancel();
  connected_ = false;
  if (ac_ == nullptr) return;
  redisAsyncContext* ac = ac_;
  ac_ = nullptr;
  ac->data = nullptr;  // callbacks from the free below reach nobody
  redisAsyncFree(ac);
}

void RedisAsync::Down(std::string why) {
  connect_timer_.cancel();
  connected_ = false;
  // Posted: the owner may reconnect, which must not happen inside hiredis.
  if (on_down_) {
    asio::post(io_, [fn = on_down_, why = std::move(why)] { fn(why); });
  }
}

void RedisAsync::OnConnect(const redisAsyncContext* ac, int status) {
  auto* self = static_cast<RedisAsync*>(ac->data);
  if (self == nullptr) return;
  if (status != REDIS_OK) {
    // hiredis frees the context after this callback.
    self->ac_ = nullptr;
    self->Down(std::string("connect failed: ") + ac->errstr);
    return;
  }
  self->connect_timer_.cancel();
  self->connected_ = true;
  if (self->on_up_) self->on_up_();
}

void RedisAsync::OnDisconnect(const redisAsyncContext* ac, int status) {
  auto* self = static_cast<RedisAsync*>(ac->data);
  if (self == nullptr) return;
  self->ac_ = nullptr;
  self->Down(status == REDIS_OK
                 ? std::string("disconnected")
                 : std::string("connection lost: ") + ac->errstr);
}

void RedisAsync::OnReply(redisAsyncContext* ac, void* reply, void* privdata) {
  std::unique_ptr<ReplyFn> fn(static_cast<ReplyFn*>(privdata));
  if (ac->data == nullptr || !*fn) return;
  (*fn)(static_cast<const redisReply*>(reply));
}

void RedisAsync::OnSubscribed(redisAsyncContext* ac, void* reply, void*) {
  auto* self = static_cast<RedisAsync*>(ac->data);
  const auto* r = static_cast<const redisReply*>(reply);
  if (self == nullptr || r == nullptr || r->type != REDIS_REPLY_ARRAY ||
      r->elements != 3 || r->element[0]->type != REDIS_REPLY_STRING) {
    return;
  }
  const std::string_view kind(r->element[0]->str, r->element[0]->len);
  if (kind == "subscribe") {
    if (self->on_subscribed_) self->on_subscribed_();
  } else if (kind == "message" && r->element[2]->type == REDIS_REPLY_STRING) {
    if (self->on_message_) {
      self->on_message_(
          std::string_view(r->element[2]->str, r->element[2]->len));
    }
  }
}

bool RedisAsync::Command(const std::vector<std::string>& args,
                         ReplyFn on_reply) {
  if (ac_ == nullptr || !connected_ || args.empty()) return false;
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  argv.reserve(args.size());
  lens.reserve(args.size());
  for (const std::string& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  auto* fn = new ReplyFn(std::move(on_reply));
  if (redisAsyncCommandArgv(ac_, &RedisAsync::OnReply, fn,
                            static_cast<int>(argv.size()), argv.data(),
                            lens.data()) != REDIS_OK) {
    delete fn;
    return false;
  }
  return true;
}

bool RedisAsync::Subscribe(const std::string& channel,
                           std::function<void()> on_ready,
                           MessageFn on_message) {
  if (ac_ == nullptr || !connected_) return false;
  on_subscribed_ = std::move(on_ready);
  on_message_ = std::move(on_message);
  const char* argv[] = {"SUBSCRIBE", channel.c_str()};
  const size_t lens[] = {9, channel.size()};
  return redisAsyncCommandArgv(ac_, &RedisAsync::OnSubscribed, nullptr, 2, argv,
                               lens) == REDIS_OK;
}

}  // namespace presence::server
