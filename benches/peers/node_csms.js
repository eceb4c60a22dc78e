// A minimal OCPP 1.6 central system on ocpp-rpc (npm ocpp-rpc@2.2.1), written the way the
// library's README shows: an RPCServer in strict mode (schemas checked both ways), one
// handler per action. It accepts every BootNotification and id tag and answers Heartbeat,
// Authorize, StatusNotification and MeterValues; nothing is stored.
//
// Usage: node node_csms.js PORT  (prints "listening on ws://127.0.0.1:PORT" when ready)
'use strict';

const http = require('http');
const { RPCServer } = require('ocpp-rpc');

const port = Number(process.argv[2]);
const server = new RPCServer({ protocols: ['ocpp1.6'], strictMode: true });

server.on('client', (client) => {
  client.handle('BootNotification', () => ({
    status: 'Accepted',
    interval: 300,
    currentTime: new Date().toISOString(),
  }));
  client.handle('Heartbeat', () => ({ currentTime: new Date().toISOString() }));
  client.handle('Authorize', () => ({ idTagInfo: { status: 'Accepted' } }));
  client.handle('StatusNotification', () => ({}));
  client.handle('MeterValues', () => ({}));
});

// An HTTP server of our own (the README's way of sharing one) only to set the listen
// backlog to what the kernel allows (somaxconn), as for the other servers; RPCServer.listen
// keeps Node's default of 511, which would make a boot storm measure SYN retransmissions.
const httpServer = http.createServer({ noDelay: true }, (req, res) => {
  res.statusCode = 404;
  res.end();
});
httpServer.on('upgrade', server.handleUpgrade);
httpServer.listen({ port, host: '127.0.0.1', backlog: 4096 }, () => {
  process.stdout.write(`listening on ws://127.0.0.1:${port}\n`);
});
