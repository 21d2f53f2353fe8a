// node bench/wait-peers.js PORT N T0_MS: polls the coordinator every 5 ms until
// N processes are connected and all run, then prints the seconds since T0_MS
// (a `date +%s%3N` taken before the command being timed). One Node start-up,
// paid before T0's command starts, not inside the figure.
const { sendCommand } = require('../dist/coordinator/client.js');
const [port, n, t0] = process.argv.slice(2).map(Number);
(async () => {
  for (;;) {
    const r = await sendCommand('127.0.0.1', port, 'status').catch(() => undefined);
    const st = r?.lines.find((m) => m.verb === 'STATUS');
    if (st && Number(st.fields.num_peers) === n && st.fields.running === 'yes') break;
    await new Promise((res) => setTimeout(res, 5));
  }
  console.log(((Date.now() - t0) / 1000).toFixed(3));
})();
