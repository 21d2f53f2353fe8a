// The encoder process: `node dist/image/encoder-main.js --out /abs/ckpt.dmtcp
// [--gzip|--no-gzip] [--hbict|--no-hbict] [--fsync|--no-fsync] [--serial] [--no-pipeline]`.
// (`--no-pipeline`: raw images written chunk after chunk on the main thread,
// for benchmarks against the default pipelined writer.)
// Reads the raw capture stream on fd 0. Silent on success (exit 0); one line
// `encoder: ...` and exit 99 otherwise. The image is written under a temp name
// and renamed (atomic against a crash of this process); fsync of the file and
// its directory (durable against a crash of the machine) only when asked:
// `--fsync` or DMTCP_FSYNC=1, since a flush of every image costs real time.
import { encodeStream } from './checkpoint';

const FAIL_RC = 99;
const STDIN_FD = 0;

interface Args { out: string; gzip: boolean; fsync?: boolean; parallel: boolean; hbict: boolean; pipeline: boolean }

function parseArgs(argv: string[]): Args {
  let out = '';
  // gzip is the default; DMTCP_GZIP=0 turns it off unless a flag says otherwise.
  let gzip = process.env.DMTCP_GZIP !== '0';
  // undefined: DMTCP_FSYNC decides (encode.ts fsyncWanted); flags win.
  let fsync: boolean | undefined;
  let parallel = true;
  let hbict = false;
  let pipeline = true;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--out') out = argv[++i] ?? '';
    else if (a.startsWith('--out=')) out = a.slice('--out='.length);
    else if (a === '--gzip') gzip = true;
    else if (a === '--no-gzip') gzip = false;
    else if (a === '--fsync') fsync = true;
    else if (a === '--no-fsync') fsync = false;
    else if (a === '--serial') parallel = false;
    else if (a === '--hbict') hbict = true;
    else if (a === '--no-hbict') hbict = false;
    else if (a === '--no-pipeline') pipeline = false;
    else throw new Error(`unknown argument ${a}`);
  }
  if (!out) throw new Error('missing --out FILE');
  return { out, gzip, fsync, parallel, hbict, pipeline };
}

async function main(): Promise<number> {
  try {
    const args = parseArgs(process.argv.slice(2));
    await encodeStream(STDIN_FD, args.out, { gzip: args.gzip, fsync: args.fsync, parallel: args.parallel, hbict: args.hbict, pipeline: args.pipeline });
    return 0;
  } catch (e) {
    const msg = (e instanceof Error ? e.message : String(e)).split('\n')[0];
    process.stderr.write(`encoder: ${msg}\n`);
    return FAIL_RC;
  }
}

main().then((rc) => { process.exitCode = rc; });
