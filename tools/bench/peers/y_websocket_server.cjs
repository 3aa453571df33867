// y-websocket 2.1.0's own server (bin/server.cjs) as users run it: one Yjs
// document per room, awareness states relayed to the room, its 30 s ping
// timeout; only the port handling differs (port 0, printed first).
//   node y_websocket_server.cjs -> prints "listening on http://127.0.0.1:PORT"
'use strict';
const http = require('http');
const WebSocket = require('ws');
const { setupWSConnection } = require('y-websocket/bin/utils');

const wss = new WebSocket.Server({ noServer: true });
const server = http.createServer((req, res) => res.end('okay'));
wss.on('connection', setupWSConnection);
server.on('upgrade', (request, socket, head) => {
  wss.handleUpgrade(request, socket, head, (ws) => wss.emit('connection', ws, request));
});
server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  console.log(`listening on http://127.0.0.1:${server.address().port}`);
});
process.on('SIGTERM', () => process.exit(0));
