// The encoder's arguments, the same whether they come from the command line of a
// per-checkpoint encoder (encoder-main.ts) or from a request to the resident
// encoder (src/service/): `--out /abs/ckpt.dmtcp [--gzip|--no-gzip]
// [--hbict|--no-hbict] [--fsync|--no-fsync] [--serial] [--no-pipeline]`.
import { EncodeOptions } from './encode';

export interface EncoderArgs { out: string; options: EncodeOptions }

export function parseEncoderArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): EncoderArgs {
  let out = '';
  // gzip is the default; DMTCP_GZIP=0 turns it off unless a flag says otherwise.
  const options: EncodeOptions = { gzip: env.DMTCP_GZIP !== '0', parallel: true, hbict: false, pipeline: true };
  // fsync stays undefined unless a flag says: DMTCP_FSYNC decides (encode.ts fsyncWanted).
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--out') out = argv[++i] ?? '';
    else if (a.startsWith('--out=')) out = a.slice('--out='.length);
    else if (a === '--gzip') options.gzip = true;
    else if (a === '--no-gzip') options.gzip = false;
    else if (a === '--fsync') options.fsync = true;
    else if (a === '--no-fsync') options.fsync = false;
    else if (a === '--serial') options.parallel = false;
    else if (a === '--hbict') options.hbict = true;
    else if (a === '--no-hbict') options.hbict = false;
    else if (a === '--no-pipeline') options.pipeline = false;
    else throw new Error(`unknown argument ${a}`);
  }
  if (!out) throw new Error('missing --out FILE');
  return { out, options };
}

/** One line for a failure: the first line of its message. */
export function oneLine(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split('\n')[0];
}
