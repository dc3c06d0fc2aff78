/**
 * Key layout of the ledger's key-value store. Keys are bytes; one prefix byte per space.
 * The chain itself, every key of it greater than the ones before:
 *   'D' name                           -> the store's description (the format mark, written first)
 *   'C' u64be(1)                       -> genesis's checkpoint, in genesis's own write
 *   'E' u64be(seq)                     -> hash(32) || entry bytes
 * Beside the chain (LevelStore keeps these in a second LevelDB, see level-store.ts):
 *   'C' u64be(seq > 1)                 -> checkpoint record (msgpack)
 *   'S' session 0x00 u64be(first)      -> u64be(seq)*  index by session: the seqs one
 *   'A' actor 0x00 u64be(first)        -> u64be(seq)*  batch appended for that id (postings)
 *   'I'                                -> u64be(seq): the indexes hold every entry up to it
 *   'P' projection name                -> snapshot record (msgpack)
 * Ids cannot contain NUL (see ids.ts), so index keys are unambiguous.
 */
import {readU64be, u64be} from '../crypto/index.js';

export const P_ENTRY = 0x45; // 'E'
export const P_SESSION = 0x53; // 'S'
export const P_ACTOR = 0x41; // 'A'
export const P_CHECKPOINT = 0x43; // 'C'
export const P_SNAPSHOT = 0x50; // 'P'
export const P_META = 0x44; // 'D': below 'E', so the chain's keys only grow
export const P_INDEXED = 0x49; // 'I'

/** The one key of the 'I' space: how far the session and actor indexes reach. */
export const INDEXED_KEY: Uint8Array = Uint8Array.of(P_INDEXED);

/** 'C' u64be(1): the checkpoint written with genesis. */
function isGenesisCheckpointKey(key: Uint8Array): boolean {
  if (key.length !== 9 || key[0] !== P_CHECKPOINT || key[8] !== 1) return false;
  for (let i = 1; i < 8; i++) if (key[i] !== 0) return false;
  return true;
}

/**
 * A key of the chain itself: the 'D' format mark, 'E' entries, and genesis's checkpoint,
 * so a new ledger is made in one atomic write that no crash can split. After genesis, only
 * entries are written here, each key greater than all before it. See LedgerStore for what
 * a backend may do with the other keys.
 */
export const isChainKey = (key: Uint8Array): boolean => key[0] === P_ENTRY || key[0] === P_META || isGenesisCheckpointKey(key);

/**
 * The seq the 'I' value says the indexes reach: 0 when there is none or it is not 8 bytes,
 * Number.MAX_SAFE_INTEGER when past 2^53 (no ledger reaches it).
 */
export function indexedMark(v: Uint8Array | undefined): number {
  if (v === undefined || v.length !== 8) return 0;
  try {
    return readU64be(v, 0);
  } catch {
    return Number.MAX_SAFE_INTEGER;
  }
}

/** A key of the indexes ('S', 'A', 'I'): derived from the entries, rebuilt from them when behind. */
export const isIndexKey = (key: Uint8Array): boolean => key[0] === P_SESSION || key[0] === P_ACTOR || key[0] === P_INDEXED;

function prefixed(prefix: number, rest: Uint8Array): Uint8Array {
  const k = new Uint8Array(1 + rest.length);
  k[0] = prefix;
  k.set(rest, 1);
  return k;
}

/** 'E' || u64be(seq), built in one allocation (this is on the append hot path). */
export function entryKey(seq: number): Uint8Array {
  return entryKeyInto(new Uint8Array(9), seq);
}

/** Write 'E' || u64be(seq) into `k` (9 bytes) and return it. */
export function entryKeyInto(k: Uint8Array, seq: number): Uint8Array {
  if (!Number.isSafeInteger(seq) || seq < 0) throw new RangeError(`seq must be a non-negative safe integer: ${seq}`);
  k[0] = P_ENTRY;
  const hi = Math.floor(seq / 0x1_0000_0000);
  const lo = seq >>> 0;
  k[1] = hi >>> 24;
  k[2] = (hi >>> 16) & 0xff;
  k[3] = (hi >>> 8) & 0xff;
  k[4] = hi & 0xff;
  k[5] = lo >>> 24;
  k[6] = (lo >>> 16) & 0xff;
  k[7] = (lo >>> 8) & 0xff;
  k[8] = lo & 0xff;
  return k;
}
export const checkpointKey = (seq: number): Uint8Array => prefixed(P_CHECKPOINT, u64be(seq));
export const snapshotKey = (name: string): Uint8Array => prefixed(P_SNAPSHOT, Buffer.from(name, 'utf8'));
export const metaKey = (name: string): Uint8Array => prefixed(P_META, Buffer.from(name, 'utf8'));

/** Key of an index entry: prefix, id, NUL, seq. */
export function indexKey(prefix: number, id: string, seq: number): Uint8Array {
  const idb = Buffer.from(id, 'utf8');
  const k = new Uint8Array(1 + idb.length + 1 + 8);
  k[0] = prefix;
  k.set(idb, 1);
  k[1 + idb.length] = 0;
  k.set(u64be(seq), 2 + idb.length);
  return k;
}

/** [gte, lt) bounds of all index keys for `id`. */
export function indexRange(prefix: number, id: string): {gte: Uint8Array; lt: Uint8Array} {
  const idb = Buffer.from(id, 'utf8');
  const gte = new Uint8Array(2 + idb.length);
  gte[0] = prefix;
  gte.set(idb, 1);
  gte[1 + idb.length] = 0;
  const lt = gte.slice();
  lt[1 + idb.length] = 1;
  return {gte, lt};
}

/** [gte, lt) of a whole prefix space. */
export function prefixRange(prefix: number): {gte: Uint8Array; lt: Uint8Array} {
  return {gte: Uint8Array.of(prefix), lt: Uint8Array.of(prefix + 1)};
}

/** Seq of an 'E' or 'C' key, or undefined when the key is not 9 bytes of that space. */
export function seqOfKey(key: Uint8Array, prefix: number): number | undefined {
  if (key.length !== 9 || key[0] !== prefix) return undefined;
  try {
    return readU64be(key, 1);
  } catch {
    return undefined;
  }
}

/** Seq at the end of an index key. */
export function seqOfIndexKey(key: Uint8Array): number {
  return readU64be(key, key.length - 8);
}
