// The hand-rolled presence relay most Node apps start with, on `ws`: a map
// of who watches whom, one JSON message per change per watcher (serialized
// once per change), and the ws README's ping/pong heartbeat to drop dead
// clients. User id from the query string (no auth: the best case).
//   node ws_relay.cjs  -> prints "listening on http://127.0.0.1:PORT"
'use strict';
const http = require('http');
const { WebSocketServer } = require('ws');

const status = new Map();    // userId -> 'online' | 'away' | 'offline'
const sockets = new Map();   // userId -> ws
const watchers = new Map();  // userId -> Set<ws>

const server = http.createServer((req, res) => res.end('ok'));
const wss = new WebSocketServer({ server });

function broadcast(userId, message) {
  const set = watchers.get(userId);
  if (!set) return;
  const data = JSON.stringify(message);
  for (const ws of set) ws.send(data);
}

wss.on('connection', (ws, req) => {
  const userId = new URL(req.url, 'http://x').searchParams.get('user');
  ws.userId = userId;
  ws.watching = new Set();
  ws.isAlive = true;
  ws.on('pong', () => { ws.isAlive = true; });
  sockets.set(userId, ws);
  status.set(userId, 'online');
  broadcast(userId, { type: 'presence', userId, status: 'online' });
  ws.on('message', (data) => {
    let msg;
    try { msg = JSON.parse(data); } catch { return; }
    if (msg.type === 'subscribe') {
      const users = [];
      for (const id of msg.userIds) {
        let set = watchers.get(id);
        if (!set) watchers.set(id, (set = new Set()));
        set.add(ws);
        ws.watching.add(id);
        users.push({ userId: id, status: status.get(id) ?? 'offline' });
      }
      ws.send(JSON.stringify({ type: 'snapshot', users }));
    } else if (msg.type === 'presence') {
      status.set(userId, msg.status);
      broadcast(userId, { type: 'presence', userId, status: msg.status });
    } else if (msg.type === 'typing') {
      broadcast(userId, { type: 'typing', userId, conversationId: msg.conversationId });
    }
  });
  ws.on('close', () => {
    for (const id of ws.watching) watchers.get(id)?.delete(ws);
    if (sockets.get(userId) === ws) {
      sockets.delete(userId);
      status.set(userId, 'offline');
      broadcast(userId, { type: 'presence', userId, status: 'offline' });
    }
  });
});

// The ws README's heartbeat: every 30 s, drop clients that did not answer
// the previous ping.
const interval = setInterval(() => {
  for (const ws of wss.clients) {
    if (!ws.isAlive) { ws.terminate(); continue; }
    ws.isAlive = false;
    ws.ping();
  }
}, 30000);
wss.on('close', () => clearInterval(interval));

server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  console.log(`listening on http://127.0.0.1:${server.address().port}`);
});
process.on('SIGTERM', () => process.exit(0));
