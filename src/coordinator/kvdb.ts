/**
 * The computation's key-value databases (dmtcp::kvdb of include/kvdb.h):
 * named databases of string keys and values, kept by the coordinator for as
 * long as it runs, so that the processes of a computation can publish a value
 * (at a restart, say) and any of them read it. Besides GET and SET, the
 * 64-bit integer operations DMTCP 5 offers: the value becomes
 * old OP operand, the old value is answered.
 */
export const KV_OPS = ['get', 'set', 'incrby', 'and', 'or', 'xor', 'min', 'max'] as const;
export type KvOp = typeof KV_OPS[number];
/** Answers, in DMTCP 5's order (KVDBResponse). */
export const KV_RESPONSE = { SUCCESS: 0, INVALID_REQUEST: 1, DB_NOT_FOUND: 2, KEY_NOT_FOUND: 3 } as const;

export interface KvAnswer { response: number; old?: string }

const INT64_MIN = -(2n ** 63n), INT64_MAX = 2n ** 63n - 1n;
const asInt64 = (v: bigint): bigint => BigInt.asIntN(64, v);

export class KvStore {
  private dbs = new Map<string, Map<string, string>>();

  request(op: string, id: string, key: string, value: string | undefined): KvAnswer {
    if (!(KV_OPS as readonly string[]).includes(op)) return { response: KV_RESPONSE.INVALID_REQUEST };
    const db = this.dbs.get(id);
    if (op === 'get') {
      if (!db) return { response: KV_RESPONSE.DB_NOT_FOUND };
      const old = db.get(key);
      return old === undefined ? { response: KV_RESPONSE.KEY_NOT_FOUND } : { response: KV_RESPONSE.SUCCESS, old };
    }
    if (value === undefined) return { response: KV_RESPONSE.INVALID_REQUEST };
    const into = db ?? new Map<string, string>();
    this.dbs.set(id, into);
    const old = into.get(key);
    if (op === 'set') {
      into.set(key, value);
      return { response: KV_RESPONSE.SUCCESS, old };
    }
    if (!/^-?\d+$/.test(value) || (old !== undefined && !/^-?\d+$/.test(old))) return { response: KV_RESPONSE.INVALID_REQUEST };
    const b = BigInt(value);
    if (old === undefined) {
      into.set(key, value);   // the first operation on a key sets it
      return { response: KV_RESPONSE.KEY_NOT_FOUND };
    }
    const a = BigInt(old);
    const next = op === 'incrby' ? asInt64(a + b) : op === 'and' ? a & b : op === 'or' ? a | b : op === 'xor' ? a ^ b
      : op === 'min' ? (a < b ? a : b) : (a > b ? a : b);
    into.set(key, String(next < INT64_MIN || next > INT64_MAX ? asInt64(next) : next));
    return { response: KV_RESPONSE.SUCCESS, old };
  }
}
