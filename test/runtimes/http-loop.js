// An HTTP server and a client loop in one Node.js process (libuv: epoll,
// eventfd, a kept-alive TCP connection). Each request asks for n+1; the
// client checks the answer and that the server counted every request
// ("CORRUPT" otherwise), printing "C n". Usage: node http-loop.js N
const http = require('http');
const N = Number(process.argv[2] ?? 60);
let served = 0;
const server = http.createServer((req, res) => { served++; res.end(String(Number(req.url.slice(1)) + 1)); });
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address();
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  let n = 0;
  const next = () => {
    http.get({ host: '127.0.0.1', port, path: `/${n}`, agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { body += d; });
      res.on('end', () => {
        if (Number(body) !== n + 1 || served !== n + 1) { console.log(`CORRUPT answer ${body} to ${n}, served ${served}`); process.exit(3); }
        console.log(`C ${++n}`);
        if (n < N) setTimeout(next, 50);
        else { console.log(`DONE ${N}`); process.exit(0); }
      });
    }).on('error', (e) => { console.log(`CORRUPT ${e.message}`); process.exit(3); });
  };
  next();
});
