// HTTP/1.1 on one accepted socket: keep-alive, a 64 KiB body limit, a read
// timeout, and the routes of DESIGN.md "Server surface":
//   GET /ws (Upgrade)            -> a WsSession (Origin checked first)
//   GET /healthz                 -> {"status":"ok"}
//   GET /metrics                 -> Prometheus text
//   GET|PUT /api/settings/presence, GET|PUT /api/contacts   (Bearer JWT)
//   POST /api/dev/token          -> only with --dev, else 404
//   GET|HEAD anything else       -> --static files, else 404
// JSON errors are {"error":..}; no CORS headers (same-origin only).

#ifndef PRESENCE_SERVER_HTTP_SESSION_H_
#define PRESENCE_SERVER_HTTP_SESSION_H_

#include <boost/asio/ip/tcp.hpp>

namespace presence::server {

class Server;

// Serves `socket` until the peer leaves, it times out, or it upgrades.
void StartHttpSession(Server& server, boost::asio::ip::tcp::socket socket);

}  // namespace presence::server

#endif  // PRESENCE_SERVER_HTTP_SESSION_H_
