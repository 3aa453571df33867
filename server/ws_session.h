// WsSession: one upgraded socket, between our RFC 6455 frame layer
// (ws_frame.h) on a bare tcp::socket and the hub. Not Beast's
// websocket::stream: see ws_frame.h and docs/operations.md for why (memory
// per idle socket).
//
// Handshake: the HTTP session parsed the upgrade; this checks the key and
// version (400/426 otherwise) and writes the 101 itself. No subprotocol, no
// extensions (no permessage-deflate).
//
// Inbound: no read is pending on an idle socket, only a wait for
// readability; then non-blocking reads into the one buffer the server
// shares, decoded in place. Only a frame split across reads keeps bytes
// here. Every message goes to Hub::HandleText (binary too: the codec
// refuses what is not JSON text); pings (answered with a pong of the same
// payload) and pongs to Hub::HandlePong; the end of the socket to
// Hub::HandleClose. A message over 64 KiB closes with 1009 as soon as its
// header arrives; other protocol errors with 1002/1007. Liveness is the
// hub's (it asks for pings): no idle timer per socket.
//
// Outbound: a frame is written at once with a non-blocking write (header and
// payload gathered, no copy: a presence_bulk of one view is the hub's shared
// encoding of that view); only what the socket does not take is queued,
// and the queue frees its memory when it drains. Backpressure: when the
// bytes queued for a socket exceed Config::max_queued_bytes, the queue is
// dropped, the hub is told the socket is gone, and it is closed with 1008
// "slow reader". A peer's close is answered with its code; a close of ours
// that does not complete within a few seconds (a peer that stopped reading)
// drops the TCP connection (no timer at shutdown: the server bounds that
// wait once for all sockets). The socket cap (4429) is checked on the auth
// frame before the hub sees it.

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
