// WsSession: one upgraded socket, between Beast's websocket::stream and the
// hub.
//
// Inbound: every message goes to Hub::HandleText (binary too: the codec
// refuses what is not JSON text); pings and pongs to Hub::HandlePong; the
// end of the socket to Hub::HandleClose. Messages over 64 KiB fail the read
// and Beast closes with 1009. Liveness is the hub's (it asks for pings), so
// Beast's idle timeout and keep-alive pings are off.
//
// Outbound: one write queue ("are we already writing?"), one buffer per
// frame. A presence_bulk of one view is the hub's shared encoding of that
// view, so such a fan-out copies no bytes per subscriber. Backpressure: when
// the bytes queued for a socket exceed Config::max_queued_bytes, the queue is
// dropped, the hub is told the socket is gone, and it is closed with 1008 "slow
// reader". A close that cannot complete (a peer that stopped reading) drops the
// TCP connection after a few seconds.

#ifndef PRESENCE_SERVER_WS_SESSION_H_
#define PRESENCE_SERVER_WS_SESSION_H_

#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

namespace presence::server {

class Server;

// Completes the upgrade `request` on `stream` and runs the session.
void StartWsSession(
    Server& server, boost::beast::tcp_stream stream,
    boost::beast::http::request<boost::beast::http::string_body> request);

}  // namespace presence::server

#endif  // PRESENCE_SERVER_WS_SESSION_H_
