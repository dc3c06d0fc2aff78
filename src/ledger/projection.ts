/**
 * Projections: state as a pure fold over entries (law 3). A projection names itself and
 * a version, gives an initial state, a pure `apply`, and a canonical encoding of its
 * state. Snapshots are caches: each records the seq it reflects, the hash of the entry
 * at that seq, and the BLAKE3 of the encoded state. A snapshot whose state hash, entry
 * hash, version or encoding does not check out is discarded and the state is rebuilt
 * from genesis.
 */
import {Packr, Unpackr} from 'msgpackr';
import {AstridError} from '../errors/index.js';
import {bytesEqual, concatBytes, toHex, u64be, verifyStrict, type Blake3Hex} from '../crypto/index.js';
import {isId} from './ids.js';
import {snapshotKey} from './keys.js';
import type {Ledger, StoredEntry} from './ledger.js';
import type {EntryKind} from './kinds.js';

export interface Projection<S> {
  /** Id grammar (see ids.ts); unique per kernel. */
  readonly name: string;
  /** Bump when `apply` or the encoding changes: older snapshots are then discarded. */
  readonly version: number;
  initial(): S;
  /** Pure: must not read clocks, randomness or anything but `state` and `entry`. */
  apply(state: S, entry: StoredEntry): S;
  /**
   * The kinds `apply` reacts to, when it ignores every other: a rebuild then skips the rest
   * without decoding them. Must include every kind that can change the state.
   */
  readonly kinds?: ReadonlySet<EntryKind>;
  /** Canonical bytes of a state (equal states give equal bytes). */
  encode(state: S): Uint8Array;
  /** Inverse of encode. @throws on malformed bytes. */
  decode(bytes: Uint8Array): S;
}

export interface Rebuilt<S> {
  readonly state: S;
  /** Seq of the last entry folded in. */
  readonly seq: number;
  readonly stateHash: Blake3Hex;
  readonly source: 'genesis' | 'snapshot';
  /** Why a snapshot was found but not used. */
  readonly discarded?: string;
  /** Entries folded in this run (after the snapshot, if any). */
  readonly folded: number;
}

const packr = new Packr({useRecords: false, moreTypes: false, variableMapSize: true});
const unpackr = new Unpackr({useRecords: false, mapsAsObjects: true, int64AsType: 'number'});

interface SnapshotRecord {
  v: 2;
  name: string;
  version: number;
  seq: number;
  entryHash: Uint8Array;
  stateHash: Uint8Array;
  state: Uint8Array;
  /** Kernel-key signature over snapshotMessage(): a snapshot is trusted only if the kernel made it. */
  sig: Uint8Array;
}

const SNAPSHOT_DOMAIN = new Uint8Array(Buffer.from('astrid.snapshot.v2\u0000', 'utf8'));

function snapshotMessage(name: string, version: number, seq: number, entryHash: Uint8Array, stateHash: Uint8Array): Uint8Array {
  return concatBytes(SNAPSHOT_DOMAIN, new Uint8Array(Buffer.from(name, 'utf8')), Uint8Array.of(0), u64be(version), u64be(seq), entryHash, stateHash);
}

function checkProjection<S>(p: Projection<S>): void {
  if (!isId(p?.name)) throw new TypeError('projection.name must match the id grammar');
  if (!Number.isSafeInteger(p.version) || p.version < 0) throw new TypeError('projection.version must be an integer >= 0');
}

/** BLAKE3 of a projection state's canonical encoding. */
export function projectionStateHash<S>(ledger: Ledger, p: Projection<S>, state: S): Blake3Hex {
  return ledger.hasher.hex(p.encode(state));
}

async function loadSnapshot<S>(ledger: Ledger, p: Projection<S>): Promise<{state: S; seq: number} | {discarded: string} | undefined> {
  const raw = await ledger.store.get(snapshotKey(p.name));
  if (raw === undefined) return undefined;
  let r: unknown;
  try {
    r = unpackr.unpack(raw);
  } catch {
    return {discarded: 'snapshot record is not msgpack'};
  }
  if (typeof r !== 'object' || r === null) return {discarded: 'snapshot record is not a map'};
  const s = r as Partial<SnapshotRecord>;
  if (s.v !== 2 || s.name !== p.name) return {discarded: 'snapshot record has the wrong format or name'};
  if (s.version !== p.version) return {discarded: `snapshot is for version ${String(s.version)}, projection is ${p.version}`};
  if (typeof s.seq !== 'number' || !Number.isSafeInteger(s.seq) || s.seq < 0) return {discarded: 'snapshot seq is invalid'};
  if (!(s.entryHash instanceof Uint8Array) || !(s.stateHash instanceof Uint8Array) || !(s.state instanceof Uint8Array) || !(s.sig instanceof Uint8Array)) {
    return {discarded: 'snapshot fields are malformed'};
  }
  const key = ledger.signer?.publicKey ?? ledger.kernelKey;
  if (key === undefined || !verifyStrict(key, snapshotMessage(p.name, s.version, s.seq, s.entryHash, s.stateHash), s.sig)) {
    return {discarded: 'snapshot is not signed by the kernel key'};
  }
  if (s.seq > ledger.durableHead.seq) return {discarded: `snapshot claims seq ${s.seq} beyond the ledger head ${ledger.durableHead.seq}`};
  if (!bytesEqual(ledger.hasher.hash(s.state), s.stateHash)) return {discarded: 'snapshot state does not match its hash'};
  if (s.seq > 0) {
    const e = await ledger.read(s.seq).catch(() => undefined);
    if (e === undefined || !bytesEqual(e.hash, s.entryHash)) return {discarded: `snapshot was taken of a different entry ${s.seq}`};
  }
  let state: S;
  try {
    state = p.decode(s.state);
  } catch (e) {
    return {discarded: `snapshot state cannot be decoded: ${(e as Error).message}`};
  }
  return {state, seq: s.seq};
}

/**
 * Rebuild a projection's state: from its snapshot when one checks out, else from genesis.
 * @throws AstridError LEDGER_CORRUPT when an entry cannot be decoded.
 */
export async function rebuild<S>(ledger: Ledger, p: Projection<S>, options: {useSnapshot?: boolean} = {}): Promise<Rebuilt<S>> {
  checkProjection(p);
  let state = p.initial();
  let from = 1;
  let source: 'genesis' | 'snapshot' = 'genesis';
  let discarded: string | undefined;
  if (options.useSnapshot !== false) {
    const snap = await loadSnapshot(ledger, p);
    if (snap !== undefined && 'discarded' in snap) discarded = snap.discarded;
    else if (snap !== undefined) {
      state = snap.state;
      from = snap.seq + 1;
      source = 'snapshot';
    }
  }
  let seq = from - 1;
  let folded = 0;
  const to = ledger.durableHead.seq;
  for await (const e of ledger.entries({from, to, ...(p.kinds === undefined ? {} : {kinds: p.kinds})})) {
    state = p.apply(state, e);
    seq = e.seq;
    folded++;
  }
  seq = Math.max(seq, to); // skipped entries are folded too: they change nothing
  const out: Rebuilt<S> = {state, seq, stateHash: projectionStateHash(ledger, p, state), source, folded};
  return discarded === undefined ? out : {...out, discarded};
}

/**
 * Rebuild several projections in one pass over the ledger: each starts from its own snapshot
 * (when it checks out) or from genesis, and the pass starts at the earliest of them, so a
 * boot reads the ledger once, not once per projection.
 * @throws AstridError LEDGER_CORRUPT when an entry cannot be decoded.
 */
export async function rebuildAll(ledger: Ledger, ps: ReadonlyArray<Projection<unknown>>, options: {useSnapshot?: boolean} = {}): Promise<Array<Rebuilt<unknown>>> {
  const slots = await Promise.all(
    ps.map(async (p) => {
      checkProjection(p);
      const snap = options.useSnapshot === false ? undefined : await loadSnapshot(ledger, p);
      if (snap !== undefined && !('discarded' in snap)) return {p, state: snap.state, seq: snap.seq, from: snap.seq + 1, source: 'snapshot' as const, folded: 0, discarded: undefined};
      return {p, state: p.initial(), seq: 0, from: 1, source: 'genesis' as const, folded: 0, discarded: snap?.discarded};
    }),
  );
  const to = ledger.durableHead.seq;
  const start = Math.min(...slots.map((x) => x.from), to + 1);
  // when every projection names its kinds, entries of no interest are skipped undecoded
  const kinds = slots.every((x) => x.p.kinds !== undefined) ? new Set(slots.flatMap((x) => [...(x.p.kinds as ReadonlySet<EntryKind>)])) : undefined;
  for await (const e of ledger.entries({from: start, to, ...(kinds === undefined ? {} : {kinds})})) {
    for (const x of slots) {
      if (e.seq < x.from || (x.p.kinds !== undefined && !x.p.kinds.has(e.entry.kind))) continue;
      x.state = x.p.apply(x.state, e);
      x.folded++;
    }
  }
  return slots.map((x) => {
    const out: Rebuilt<unknown> = {state: x.state, seq: Math.max(to, x.from - 1), stateHash: projectionStateHash(ledger, x.p, x.state), source: x.source, folded: x.folded};
    return x.discarded === undefined ? out : {...out, discarded: x.discarded};
  });
}

/**
 * Store a snapshot of `state` as of `seq` (which must be durable).
 * @throws AstridError LEDGER_READ_ONLY in read mode; RangeError when seq is beyond the durable head.
 */
export async function saveSnapshot<S>(ledger: Ledger, p: Projection<S>, state: S, seq: number): Promise<Blake3Hex> {
  checkProjection(p);
  if (ledger.mode !== 'write') throw new AstridError('LEDGER_READ_ONLY', 'cannot write a snapshot to a read-only ledger');
  const signer = ledger.signer;
  if (signer === undefined) throw new AstridError('LEDGER_READ_ONLY', 'cannot sign a snapshot without the kernel key');
  if (!Number.isSafeInteger(seq) || seq < 0 || seq > ledger.durableHead.seq) throw new RangeError('seq must be durable');
  const entryHash = seq === 0 ? new Uint8Array(32) : (await ledger.read(seq))?.hash;
  if (entryHash === undefined) throw new RangeError(`no entry at seq ${seq}`);
  const bytes = p.encode(state);
  const stateHash = ledger.hasher.hash(bytes);
  const sig = signer.sign(snapshotMessage(p.name, p.version, seq, entryHash, stateHash));
  const rec: SnapshotRecord = {v: 2, name: p.name, version: p.version, seq, entryHash, stateHash, state: bytes, sig};
  await ledger.store.batch([{type: 'put', key: snapshotKey(p.name), value: packr.pack(rec)}], {sync: true});
  return toHex(stateHash) as Blake3Hex;
}
