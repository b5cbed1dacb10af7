// The lab's Node.js service (scripts/lab-images node): an HTTP server on port 3000 (FERRY_PORT)
// holding a counter in memory only. GET /incr adds one and returns it, GET /get returns it,
// GET / answers "ok". Lab tooling: it shows whether a Node process's state survives a move.
'use strict';
const http = require('node:http');

const port = Number(process.env.FERRY_PORT || 3000);
let counter = 0;

const server = http.createServer((req, res) => {
  const path = new URL(req.url, 'http://x').pathname;
  let status = 200;
  let body;
  if (path === '/incr') body = String(++counter);
  else if (path === '/get') body = String(counter);
  else if (path === '/') body = 'ok';
  else { status = 404; body = 'not found'; }
  res.writeHead(status, { 'Content-Type': 'text/plain' });
  res.end(body + '\n');
});

// PID 1 of the container: without handlers, SIGTERM and SIGINT would be ignored.
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => server.close(() => process.exit(0)));

server.listen(port, '0.0.0.0', () => {
  console.log(`ferry-counter (node ${process.version}) listening on ${port}`);
});
