#include "http_session.h"

#include <algorithm>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket/rfc6455.hpp>
#include <boost/optional.hpp>
#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

#include "jwt.h"
#include "presence/model.h"
#include "server.h"
#include "static_files.h"
#include "ws_session.h"

namespace presence::server {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using json = nlohmann::json;
using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

constexpr size_t kBodyLimit = 64 * 1024;
constexpr size_t kHeaderLimit = 16 * 1024;
// A request (headers and body) must arrive within this; it also bounds how
// long an idle keep-alive connection is held.
constexpr auto kReadTimeout = std::chrono::seconds(30);
constexpr auto kWriteTimeout = std::chrono::seconds(30);
constexpr int64_t kDevTokenLifetimeS = 24 * 60 * 60;
constexpr std::string_view kServerName = "presence-server";

std::string_view View(beast::string_view s) { return {s.data(), s.size()}; }
beast::string_view ToBeast(std::string_view s) { return {s.data(), s.size()}; }

std::string Dump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() &&
         std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           auto lower = [](char c) {
             return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
           };
           return lower(x) == lower(y);
         });
}

json SettingsJson(const PrivacySettings& s) {
  return json{{"showOnlineStatus", ToString(s.show_online_status)},
              {"showLastSeen", ToString(s.show_last_seen)},
              {"showActivity", ToString(s.show_activity)}};
}

// Applies a PUT body onto `settings`; false (and `error`) if any part is
// bad, in which case `settings` must not be used.
bool MergeSettings(const json& body, PrivacySettings* settings,
                   std::string* error) {
  if (!body.is_object()) {
    *error = "body must be a JSON object";
    return false;
  }
  for (auto it = body.begin(); it != body.end(); ++it) {
    Visibility* field = nullptr;
    if (it.key() == "showOnlineStatus") {
      field = &settings->show_online_status;
    } else if (it.key() == "showLastSeen") {
      field = &settings->show_last_seen;
    } else if (it.key() == "showActivity") {
      field = &settings->show_activity;
    } else {
      *error = "unknown setting: " + it.key().substr(0, 64);
      return false;
    }
    std::optional<Visibility> v;
    if (it.value().is_string()) {
      v = ParseVisibility(it.value().get_ref<const std::string&>());
    }
    if (!v) {
      *error = it.key() + " must be everyone, contacts or nobody";
      return false;
    }
    *field = *v;
  }
  return true;
}

// The contacts of a PUT body: valid ids, deduplicated, order kept.
std::optional<std::vector<std::string>> ParseContacts(const json& body,
                                                      std::string* error) {
  auto it = body.is_object() ? body.find("contacts") : body.end();
  if (!body.is_object() || it == body.end() || !it->is_array()) {
    *error = R"(body must be {"contacts":[userId,..]})";
    return std::nullopt;
  }
  std::vector<std::string> contacts;
  std::unordered_set<std::string> seen;
  for (const json& id : *it) {
    if (!id.is_string() || !IsValidId(id.get_ref<const std::string&>())) {
      *error = "contacts must be user ids (1-128 of [A-Za-z0-9._@-])";
      return std::nullopt;
    }
    const std::string& s = id.get_ref<const std::string&>();
    if (seen.insert(s).second) contacts.push_back(s);
  }
  if (contacts.size() > kMaxIdsPerFrame) {
    *error = "at most " + std::to_string(kMaxIdsPerFrame) + " contacts";
    return std::nullopt;
  }
  return contacts;
}

class HttpSession : public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(Server& server, tcp::socket socket)
      : server_(server), stream_(std::move(socket)) {}

  void Run() { DoRead(); }

 private:
  void DoRead() {
    parser_.emplace();
    parser_->body_limit(kBodyLimit);
    parser_->header_limit(kHeaderLimit);
    stream_.expires_after(kReadTimeout);
    http::async_read(
        stream_, buffer_, *parser_,
        beast::bind_front_handler(&HttpSession::OnRead, shared_from_this()));
  }

  void OnRead(beast::error_code ec, std::size_t) {
    if (ec == http::error::end_of_stream) {
      DoClose();
      return;
    }
    if (ec == http::error::body_limit) {
      Count("too_large");
      Send(Error(11, false, http::status::payload_too_large,
                 "body over " + std::to_string(kBodyLimit) + " bytes"));
      return;
    }
    if (ec) {
      if (ec.category() ==
          http::make_error_code(http::error::bad_method).category()) {
        // Not HTTP we can parse: say so once, then hang up.
        Count("bad_request");
        Send(Error(11, false, http::status::bad_request, "malformed request"));
      }
      return;  // timeouts and resets: nothing to answer
    }
    Request req = parser_->release();
    Handle(std::move(req));
  }

  void Handle(Request req) {
    const std::string_view target = View(req.target());
    const std::string_view path = target.substr(0, target.find('?'));
    const http::verb method = req.method();

    if (path == "/ws") {
      Count("ws");
      if (!websocket::is_upgrade(req)) {
        Send(Error(req, http::status::upgrade_required,
                   "use a WebSocket upgrade"));
        return;
      }
      if (!OriginAllowed(req)) {
        Send(Error(req.version(), false, http::status::forbidden,
                   "origin not allowed"));
        return;
      }
      if (server_.stopping()) {
        Send(Error(req.version(), false, http::status::service_unavailable,
                   "shutting down"));
        return;
      }
      StartWsSession(server_, std::move(stream_), std::move(req));
      return;
    }
    if (path == "/healthz") {
      Count("healthz");
      if (method != http::verb::get) return SendNotAllowed(req, "GET");
      if (Cluster* cluster = server_.cluster()) {
        // A node without Redis cannot show other nodes' users nor store
        // settings: the load balancer should prefer another node.
        const bool up = server_.Healthy();
        Send(Json(req,
                  up ? http::status::ok : http::status::service_unavailable,
                  json{{"status", up ? "ok" : "unavailable"},
                       {"redis", up ? "up" : "down"},
                       {"node", cluster->node_id()}}));
        return;
      }
      Send(Json(req, http::status::ok, json{{"status", "ok"}}));
      return;
    }
    if (path == "/metrics") {
      Count("metrics");
      if (method != http::verb::get) return SendNotAllowed(req, "GET");
      Response res = Base(req, http::status::ok);
      res.set(http::field::content_type, "text/plain; version=0.0.4");
      res.body() = server_.MetricsText();
      res.prepare_payload();
      Send(std::move(res));
      return;
    }
    if (path == "/api/settings/presence") {
      Count("settings");
      HandleSettings(req);
      return;
    }
    if (path == "/api/contacts") {
      Count("contacts");
      HandleContacts(req);
      return;
    }
    if (path == "/api/dev/token" && server_.config().dev) {
      Count("dev_token");
      HandleDevToken(req);
      return;
    }
    if (path == "/api" || path.starts_with("/api/")) {
      Count("not_found");
      Send(Error(req, http::status::not_found, "not found"));
      return;
    }
    HandleStatic(req, target);
  }

  // ---- routes ----

  void HandleSettings(const Request& req) {
    if (req.method() != http::verb::get && req.method() != http::verb::put) {
      return SendNotAllowed(req, "GET, PUT");
    }
    std::optional<std::string> user = Authenticate(req);
    if (!user) return;
    UserStore& store = server_.store();
    std::optional<PrivacySettings> stored = store.ReadSettings(*user);
    if (!stored) {
      StoreUnavailable(req, "reading settings");
      return;
    }
    PrivacySettings settings = *stored;
    if (req.method() == http::verb::put) {
      json body = json::parse(req.body(), nullptr, false);
      std::string error;
      if (body.is_discarded()) {
        Send(Error(req, http::status::bad_request, "body is not JSON"));
        return;
      }
      if (!MergeSettings(body, &settings, &error)) {
        Send(Error(req, http::status::bad_request, error));
        return;
      }
      if (!store.PutSettings(*user, settings)) {
        StoreFailed(req, "saving settings");
        return;
      }
      server_.SettingsChanged(*user, settings);
    }
    Send(Json(req, http::status::ok, SettingsJson(settings)));
  }

  void HandleContacts(const Request& req) {
    if (req.method() != http::verb::get && req.method() != http::verb::put) {
      return SendNotAllowed(req, "GET, PUT");
    }
    std::optional<std::string> user = Authenticate(req);
    if (!user) return;
    UserStore& store = server_.store();
    std::vector<std::string> contacts;
    if (req.method() == http::verb::put) {
      json body = json::parse(req.body(), nullptr, false);
      std::string error;
      std::optional<std::vector<std::string>> parsed;
      if (!body.is_discarded()) parsed = ParseContacts(body, &error);
      if (!parsed) {
        Send(Error(req, http::status::bad_request,
                   body.is_discarded() ? "body is not JSON" : error));
        return;
      }
      contacts = std::move(*parsed);
      if (!store.PutContacts(*user, contacts)) {
        StoreFailed(req, "saving contacts");
        return;
      }
      server_.ContactsChanged(*user, contacts);
    } else {
      std::optional<std::vector<std::string>> stored =
          store.ReadContacts(*user);
      if (!stored) {
        StoreUnavailable(req, "reading contacts");
        return;
      }
      contacts = std::move(*stored);
    }
    Send(Json(req, http::status::ok, json{{"contacts", contacts}}));
  }

  void HandleDevToken(const Request& req) {
    if (req.method() != http::verb::post) {
      return SendNotAllowed(req, "POST");
    }
    json body = json::parse(req.body(), nullptr, false);
    auto it = body.is_object() ? body.find("userId") : body.end();
    if (!body.is_object() || it == body.end() || !it->is_string() ||
        !IsValidId(it->get_ref<const std::string&>())) {
      Send(Error(req, http::status::bad_request,
                 R"(body must be {"userId":id}, id 1-128 of [A-Za-z0-9._@-])"));
      return;
    }
    const std::string& user = it->get_ref<const std::string&>();
    const int64_t exp_s = server_.Now() / 1000 + kDevTokenLifetimeS;
    server_.log().Info("dev token issued for " + user);
    Send(Json(
        req, http::status::ok,
        json{{"token", SignHs256(user, exp_s, server_.config().jwt_secret)}}));
  }

  void HandleStatic(const Request& req, std::string_view target) {
    const bool head = req.method() == http::verb::head;
    if (req.method() != http::verb::get && !head) {
      Count("not_found");
      Send(Error(req, http::status::not_found, "not found"));
      return;
    }
    std::optional<std::filesystem::path> file;
    if (server_.static_root()) {
      file = ResolveStaticPath(*server_.static_root(), target);
    }
    http::file_body::value_type body;
    beast::error_code ec;
    if (file) body.open(file->c_str(), beast::file_mode::scan, ec);
    if (!file || ec) {
      Count("not_found");
      Send(Error(req, http::status::not_found, "not found"));
      return;
    }
    Count("static");
    const uint64_t size = body.size();
    const std::string_view type = ContentTypeFor(*file);
    if (head) {
      http::response<http::empty_body> res{http::status::ok, req.version()};
      res.set(http::field::server, ToBeast(kServerName));
      res.set(http::field::content_type, ToBeast(type));
      res.content_length(size);
      res.keep_alive(req.keep_alive());
      Send(std::move(res));
      return;
    }
    http::response<http::file_body> res{
        std::piecewise_construct, std::make_tuple(std::move(body)),
        std::make_tuple(http::status::ok, req.version())};
    res.set(http::field::server, ToBeast(kServerName));
    res.set(http::field::content_type, ToBeast(type));
    res.set(http::field::cache_control, "no-cache");
    res.set("X-Content-Type-Options", "nosniff");
    res.content_length(size);
    res.keep_alive(req.keep_alive());
    Send(std::move(res));
  }

  // ---- helpers ----

  // The user of the request's Bearer token, or nullopt after sending 401.
  std::optional<std::string> Authenticate(const Request& req) {
    std::string why;
    auto it = req.find(http::field::authorization);
    if (it == req.end()) {
      why = "missing bearer token";
    } else {
      std::string_view value = View(it->value());
      if (value.size() < 7 ||
          !EqualsIgnoreCase(value.substr(0, 7), "Bearer ")) {
        why = "not a bearer token";
      } else {
        std::string_view token = value.substr(7);
        while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
        while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
        JwtResult result =
            VerifyHs256(token, server_.config().jwt_secret, server_.Now());
        if (!result.claims) {
          why = "invalid token: " + result.error;
        } else if (!IsValidId(result.claims->sub)) {
          why = "invalid token: bad subject";
        } else {
          return std::move(result.claims->sub);
        }
      }
    }
    server_.log().Warn("http auth refused on " +
                       std::string(View(req.target()).substr(0, 100)) + ": " +
                       why);
    Response res = Error(req, http::status::unauthorized, why);
    res.set(http::field::www_authenticate, "Bearer");
    Send(std::move(res));
    return std::nullopt;
  }

  bool OriginAllowed(const Request& req) {
    const std::vector<std::string>& allowed = server_.config().allow_origins;
    if (allowed.empty()) return true;
    auto it = req.find(http::field::origin);
    const std::string origin =
        it == req.end() ? std::string() : std::string(View(it->value()));
    if (std::find(allowed.begin(), allowed.end(), origin) != allowed.end()) {
      return true;
    }
    server_.counters().ws_origin_rejected++;
    server_.log().Warn(
        "websocket upgrade refused for origin " +
        (origin.empty() ? std::string("(none)") : origin.substr(0, 200)));
    return false;
  }

  void StoreFailed(const Request& req, const std::string& what) {
    if (server_.cluster() != nullptr) {
      // Redis is away (or refused the write): retryable, nothing stored.
      StoreUnavailable(req, what);
      return;
    }
    server_.counters().store_errors++;
    server_.log().Error(what + " failed: " + server_.store().error());
    Send(Error(req, http::status::internal_server_error, "storage error"));
  }

  // A read the store could not answer (Redis down): 503, nothing changed.
  void StoreUnavailable(const Request& req, const std::string& what) {
    server_.counters().store_errors++;
    server_.log().Warn(what + " failed: " + server_.store().error());
    Send(Error(req, http::status::service_unavailable,
               "storage unavailable, try again"));
  }

  void Count(const std::string& route) {
    server_.counters().http_requests[route]++;
  }

  static Response Base(const Request& req, http::status status) {
    Response res{status, req.version()};
    res.set(http::field::server, ToBeast(kServerName));
    res.keep_alive(req.keep_alive());
    return res;
  }

  static Response Json(const Request& req, http::status status,
                       const json& body) {
    Response res = Base(req, status);
    res.set(http::field::content_type, "application/json");
    res.set(http::field::cache_control, "no-store");
    res.body() = Dump(body);
    res.prepare_payload();
    return res;
  }

  static Response Error(const Request& req, http::status status,
                        const std::string& message) {
    return Json(req, status, json{{"error", message}});
  }

  // An error that ends the connection (the request could not be read, or
  // what follows must not be served on this socket).
  static Response Error(unsigned version, bool keep_alive, http::status status,
                        const std::string& message) {
    Response res{status, version};
    res.set(http::field::server, ToBeast(kServerName));
    res.set(http::field::content_type, "application/json");
    res.set(http::field::cache_control, "no-store");
    res.keep_alive(keep_alive);
    res.body() = Dump(json{{"error", message}});
    res.prepare_payload();
    return res;
  }

  void SendNotAllowed(const Request& req, const char* allow) {
    Response res =
        Error(req, http::status::method_not_allowed, "method not allowed");
    res.set(http::field::allow, allow);
    Send(std::move(res));
  }

  template <class Body>
  void Send(http::response<Body>&& response) {
    auto res = std::make_shared<http::response<Body>>(std::move(response));
    const bool close = res->need_eof();
    stream_.expires_after(kWriteTimeout);
    http::async_write(
        stream_, *res,
        [self = shared_from_this(), res, close](
            beast::error_code ec, std::size_t) { self->OnWrite(ec, close); });
  }

  void OnWrite(beast::error_code ec, bool close) {
    if (ec) return;
    if (close) {
      DoClose();
      return;
    }
    DoRead();
  }

  void DoClose() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
  }

  Server& server_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  boost::optional<http::request_parser<http::string_body>> parser_;
};

}  // namespace

void StartHttpSession(Server& server, tcp::socket socket) {
  std::make_shared<HttpSession>(server, std::move(socket))->Run();
}

}  // namespace presence::server
