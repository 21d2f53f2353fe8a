// Node.js timers, fs on the libuv thread pool and a `net` server and client
// talking to each other in one process. Each step writes the counter to a
// file and reads it back (thread pool), sends it over the connection and
// waits for the echo; a wrong value is CORRUPT. Prints "N k".
// Usage: node net-fs.js N FILE
const net = require('net');
const fs = require('fs');
const N = Number(process.argv[2] ?? 60);
const file = process.argv[3];
const server = net.createServer((sock) => sock.pipe(sock));
server.listen(0, '127.0.0.1', () => {
  const client = net.connect(server.address().port, '127.0.0.1');
  client.setNoDelay(true);
  client.setEncoding('utf8');
  let k = 0, pending = '';
  const step = async () => {
    k++;
    await fs.promises.writeFile(file, String(k));
    const back = Number(await fs.promises.readFile(file, 'utf8'));
    if (back !== k) { console.log(`CORRUPT file gave ${back}, expected ${k}`); process.exit(3); }
    client.write(`${k}\n`);
  };
  client.on('data', (d) => {
    pending += d;
    let nl;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const got = Number(pending.slice(0, nl));
      pending = pending.slice(nl + 1);
      if (got !== k) { console.log(`CORRUPT echo ${got}, expected ${k}`); process.exit(3); }
      console.log(`N ${k}`);
      if (k === N) { console.log(`DONE ${N}`); process.exit(0); }
      setTimeout(step, 50);
    }
  });
  client.on('connect', step);
});
