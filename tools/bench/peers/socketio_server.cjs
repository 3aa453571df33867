// Presence the socket.io way: one room per watched user ("presence:<id>"),
// io.to(room).emit on every change, defaults for everything else (its own
// pingInterval 25 s / pingTimeout 20 s). User id from the handshake query.
//   node socketio_server.cjs -> prints "listening on http://127.0.0.1:PORT"
'use strict';
const http = require('http');
const { Server } = require('socket.io');

const status = new Map();
const sockets = new Map();
const server = http.createServer();
const io = new Server(server, { transports: ['websocket'] });

io.on('connection', (socket) => {
  const userId = socket.handshake.query.user;
  sockets.set(userId, socket.id);
  status.set(userId, 'online');
  io.to(`presence:${userId}`).emit('presence', { userId, status: 'online' });
  socket.on('subscribe', (userIds) => {
    socket.join(userIds.map((id) => `presence:${id}`));
    socket.emit('snapshot', userIds.map((id) => ({ userId: id, status: status.get(id) ?? 'offline' })));
  });
  socket.on('presence', (s) => {
    status.set(userId, s);
    io.to(`presence:${userId}`).emit('presence', { userId, status: s });
  });
  socket.on('typing', (conversationId) => {
    io.to(`presence:${userId}`).emit('typing', { userId, conversationId });
  });
  socket.on('disconnect', () => {
    if (sockets.get(userId) !== socket.id) return;
    sockets.delete(userId);
    status.set(userId, 'offline');
    io.to(`presence:${userId}`).emit('presence', { userId, status: 'offline' });
  });
});

server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', () => {
  console.log(`listening on http://127.0.0.1:${server.address().port}`);
});
process.on('SIGTERM', () => process.exit(0));
