// The per-checkpoint encoder process: `node dist/image/encoder-main.js --out
// /abs/ckpt.dmtcp [flags of encoder-args.ts]`, started by the agent when no
// resident encoder (src/service/) answers.
// (`--no-pipeline`: raw images written chunk after chunk on the main thread,
// for benchmarks against the default pipelined writer.)
// Reads the raw capture stream on fd 0. Silent on success (exit 0); one line
// `encoder: ...` and exit 99 otherwise. The image is written under a temp name
// and renamed (atomic against a crash of this process); fsync of the file and
// its directory (durable against a crash of the machine) only when asked:
// `--fsync` or DMTCP_FSYNC=1, since a flush of every image costs real time.
import { encodeStream } from './checkpoint';
import { oneLine, parseEncoderArgs } from './encoder-args';

const FAIL_RC = 99;
const STDIN_FD = 0;

async function main(): Promise<number> {
  try {
    const args = parseEncoderArgs(process.argv.slice(2));
    await encodeStream(STDIN_FD, args.out, { ...args.options, writer: 'per-checkpoint' });
    return 0;
  } catch (e) {
    process.stderr.write(`encoder: ${oneLine(e)}\n`);
    return FAIL_RC;
  }
}

main().then((rc) => { process.exitCode = rc; });
