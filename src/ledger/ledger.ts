/**
 * The ledger: an append-only, BLAKE3-linked sequence of entries on a LedgerStore.
 *
 * append() validates the input, stamps seq/prev/time, encodes the entry once, hashes
 * `prev || bytes`, queues its put and notes its seq under its session and actor. Queued
 * entries are group-committed: whatever accumulates while one synced batch is being
 * written goes out as the next batch. An append's promise resolves only after its batch's
 * entries are durable; the batch's index postings and any checkpoint follow in a write of
 * their own, beside the chain (keys.ts, #writeBeside). If a batch fails, the ledger stops accepting appends (fail secure): the
 * in-memory head may be ahead of the disk, so it must be reopened.
 *
 * Checkpoints (signed statements of seq and head hash) are written every N entries,
 * every T ms when there is anything new, on demand, and at close.
 */
import {AstridError} from '../errors/index.js';
import {Blake3, BLAKE3_LEN, toHex, bytesEqual, readU64be, u64be} from '../crypto/index.js';
import {encodeFields, encodeFieldsInto, decodeEntry, storedKindIndex, MAX_ENTRY_BYTES, type AnyEntry} from './codec.js';
import {
  KERNEL_ACTOR,
  KERNEL_PRINCIPAL,
  KERNEL_SESSION,
  parseActorId,
  parsePrincipalId,
  parseSessionId,
  type ActorId,
  type PrincipalId,
  type Seq,
  type SessionId,
} from './ids.js';
import {ENTRY_FORMAT_VERSION, ENTRY_KINDS, isEntryKind, parseBody, type BodyByKind, type EntryKind} from './kinds.js';
import {
  P_ACTOR,
  P_CHECKPOINT,
  P_ENTRY,
  P_SESSION,
  checkpointKey,
  entryKey,
  entryKeyInto,
  indexKey,
  indexRange,
  metaKey,
  prefixRange,
  seqOfIndexKey,
  seqOfKey,
  INDEXED_KEY,
  indexedMark,
} from './keys.js';
import {checkCheckpoint, decodeCheckpoint, encodeCheckpoint, signCheckpoint, type Checkpoint, type CheckpointSigner} from './checkpoint.js';
import type {BatchOp, BatchWriter, LedgerStore} from './store.js';
import {verifyStore, type VerifyOptions, type VerifyReport} from './verify.js';

/** The time source the ledger stamps entries with (law 6: injected, never Date.now()). */
export interface Clock {
  now(): number;
}

/**
 * The store layout's version. 2: checkpoints, indexes and snapshots beside the chain, with
 * the 'I' mark of how far the indexes reach (keys.ts).
 */
export const LEDGER_FORMAT = 'astrid-ledger/2';
const ZERO_HASH = new Uint8Array(BLAKE3_LEN);

export interface LedgerOptions {
  readonly store: LedgerStore;
  readonly clock: Clock;
  /** Signs checkpoints; its public key goes into the genesis entry. Required for 'write' mode. */
  readonly signer?: CheckpointSigner;
  /** 'write' (default) creates genesis on an empty ledger and accepts appends; 'read' never writes. */
  readonly mode?: 'read' | 'write';
  readonly hasher?: Blake3;
  /** Write a checkpoint after this many entries (default 10,000). */
  readonly checkpointEvery?: number;
  /** Write a checkpoint this often when there are new entries (default 5,000 ms; 0 = never by time). */
  readonly checkpointIntervalMs?: number;
  /** Most entries queued but not yet durable before append() refuses with LEDGER_OVERLOADED. */
  readonly maxPending?: number;
  /**
   * Seal a batch for writing once it holds this many entries and no write is in flight.
   * Default: adaptive, half the size of the last batch written and at least 512 (see #sealAt).
   */
  readonly maxBatch?: number;
  /**
   * The newest checkpoint this kernel knows it wrote, kept outside the ledger (the kernel
   * keeps it beside its key). A write-mode open refuses a ledger that no longer holds it:
   * that ledger was rolled back or rewritten past a signature.
   */
  readonly anchor?: LedgerAnchor;
  /** Called after each checkpoint is durable (the kernel stores it as the next anchor). */
  readonly onCheckpoint?: (anchor: LedgerAnchor) => void;
}

/** A checkpoint position remembered outside the ledger. */
export interface LedgerAnchor {
  readonly seq: number;
  readonly hash: Uint8Array;
}

/** What a caller supplies to append; the ledger adds seq, prev and time. */
export interface AppendInput<K extends EntryKind = EntryKind> {
  readonly kind: K;
  readonly body: BodyByKind[K];
  readonly session?: string;
  readonly principal?: string;
  readonly actor?: string;
}

/** A durable append. */
export interface Appended {
  readonly seq: Seq;
  readonly hash: Uint8Array;
  readonly time: number;
}

/** An entry as stored: its position, hash, exact bytes and decoded form. */
export interface StoredEntry {
  readonly seq: Seq;
  readonly hash: Uint8Array;
  readonly bytes: Uint8Array;
  readonly entry: AnyEntry;
}

export interface EntryQuery {
  readonly from?: number;
  /** Inclusive upper bound. */
  readonly to?: number;
  readonly limit?: number;
  readonly session?: string;
  readonly actor?: string;
  readonly kind?: EntryKind;
  /** Only these kinds (read from each entry's envelope: the others are skipped undecoded). */
  readonly kinds?: ReadonlySet<EntryKind>;
  readonly reverse?: boolean;
}

export interface Head {
  readonly seq: number;
  readonly hash: Uint8Array;
  readonly time: number;
}

interface Batch {
  /**
   * The store batch the entries go into as they are appended (made on the first op). On
   * LevelDB each entry is copied into the native write batch at once, so an entry in flight
   * keeps nothing on the JavaScript heap but its hash, its result and its promise.
   */
  w: BatchWriter | undefined;
  /** Postings for the session and actor indexes: id -> seqs appended in this batch. */
  sessions: Map<string, number[]>;
  actors: Map<string, number[]>;
  count: number;
  /**
   * Seq, hash and time of the batch's last entry (of the head when the batch was made, while
   * empty). The hash is where it is kept (32 bytes of `lastHashIn` from `lastHashAt`): the
   * view is made only when the batch is written.
   */
  lastSeq: number;
  lastHashIn: Uint8Array;
  lastHashAt: number;
  lastTime: number;
  checkpoint: boolean;
  /** One promise per batch: every append in it derives its own from this one. */
  done: Promise<void>;
  /**
   * The promises append() returned for this batch. They get a no-op rejection handler only
   * if the batch fails (see #fail), rather than one each up front: a handler is a promise and
   * a reaction per entry, kept until the batch is durable.
   */
  appends: Promise<Appended>[];
  resolve: () => void;
  reject: (e: unknown) => void;
}

const ignore = (): undefined => undefined;

/** Entries read per write when the indexes are rebuilt (on open, or by reindex). */
const INDEX_CHUNK = 10_000;

/** The least a batch is sealed at while appends keep coming (see Ledger #sealAt). */
const MIN_SEAL = 512;

// Entry hashes are kept in shared 4 KiB blocks; what is handed out (results, the head) are
// views into them, made when asked for: an entry in flight keeps no object of its own for
// its hash. A block is never reused; it is collected once no hash in it is referenced.
const HASH_BLOCK = 4096;
let hashBlock = new ArrayBuffer(0);
/** All of `hashBlock`, to copy hashes in without a view each. */
let hashBlockBytes = new Uint8Array(hashBlock);
/** All of `hashBlock`, to copy hashes in a word at a time. */
let hashBlockWords = new DataView(hashBlock);
let hashPos = 0;

/** Room for one more hash in the current block (`hashBlock`); returns its offset there. */
function hashSlot(): number {
  if (hashPos === hashBlock.byteLength) {
    hashBlock = new ArrayBuffer(HASH_BLOCK);
    hashBlockBytes = new Uint8Array(hashBlock);
    hashBlockWords = new DataView(hashBlock);
    hashPos = 0;
  }
  const at = hashPos;
  hashPos += BLAKE3_LEN;
  return at;
}

/** The 32-byte hash kept in `bytes` at `at`: `bytes` itself when that is all it holds. */
function hashView(bytes: Uint8Array, at: number): Uint8Array {
  return at === 0 && bytes.length === BLAKE3_LEN ? bytes : bytes.subarray(at, at + BLAKE3_LEN);
}

/**
 * The promise append() returns: resolves with the entry's result once its batch is durable.
 * The result (and its hash view) is made then, so until the batch is durable the entry
 * keeps only this closure's four values and the promise itself.
 */
function appended(done: Promise<void>, seq: Seq, time: number, block: ArrayBuffer, at: number): Promise<Appended> {
  return done.then(() => ({seq, hash: new Uint8Array(block, at, BLAKE3_LEN), time}));
}

function newBatch(last: Head): Batch {
  let resolve!: () => void;
  let reject!: (e: unknown) => void;
  const done = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // A batch nobody awaits (a checkpoint-only flush) must not crash the process on failure.
  done.catch(ignore);
  return {
    w: undefined,
    sessions: new Map(),
    actors: new Map(),
    count: 0,
    lastSeq: last.seq,
    lastHashIn: last.hash,
    lastHashAt: 0,
    lastTime: last.time,
    checkpoint: false,
    done,
    appends: [],
    resolve,
    reject,
  };
}

/**
 * The durability promise of an enqueued entry, made when asked for (possibly after its batch
 * failed): resolves with `r` once `done` (its batch) has. A failure also fails every later
 * append, and callers await either this or a later entry, so a rejection nobody handles is
 * not reported as unhandled.
 */
function durableAfter(done: Promise<void>, r: Appended): Promise<Appended> {
  const p = done.then(() => r);
  p.catch(ignore);
  return p;
}

/**
 * The result of an enqueue: seq and hash at once, durability on demand. The promise is made
 * only when someone asks (most host-call entries are awaited through a later entry), which
 * keeps a promise and a closure per entry off the hot path.
 */
class Enqueued implements Appended {
  #durable: Promise<Appended> | undefined;
  constructor(
    readonly seq: Seq,
    readonly hash: Uint8Array,
    readonly time: number,
    private readonly done: Promise<void>,
  ) {}

  get durable(): Promise<Appended> {
    return (this.#durable ??= durableAfter(this.done, {seq: this.seq, hash: this.hash, time: this.time}));
  }
}

/**
 * Many holders at once (shared) or one alone (exclusive), exclusive holders in the order they
 * asked; a shared holder that asks while an exclusive one holds or waits goes after it.
 */
class SharedLock {
  #shared = 0;
  #exclusive: Promise<void> = Promise.resolve();
  #waiting = 0;
  #released: (() => void)[] = [];

  async shared<T>(f: () => Promise<T>): Promise<T> {
    while (this.#waiting > 0) await this.#exclusive;
    this.#shared++;
    try {
      return await f();
    } finally {
      if (--this.#shared === 0) for (const r of this.#released.splice(0)) r();
    }
  }

  exclusive<T>(f: () => Promise<T>): Promise<T> {
    const before = this.#exclusive;
    this.#waiting++;
    const run = (async () => {
      try {
        await before;
        while (this.#shared > 0) await new Promise<void>((r) => this.#released.push(r));
        return await f();
      } finally {
        this.#waiting--;
      }
    })();
    this.#exclusive = run.then(ignore, ignore);
    return run;
  }
}

/** Note `seq` under `id` in a postings map (id -> seqs, ascending). */
function addPosting(m: Map<string, number[]>, id: string, seq: number): void {
  const l = m.get(id);
  if (l === undefined) m.set(id, [seq]);
  else l.push(seq);
}

/** The index puts for the postings of a batch (or a rebuilt chunk) of entries. */
function postingOps(sessions: ReadonlyMap<string, number[]>, actors: ReadonlyMap<string, number[]>): BatchOp[] {
  const ops: BatchOp[] = [];
  for (const [id, seqs] of sessions) ops.push({type: 'put', key: indexKey(P_SESSION, id, seqs[0] as number), value: encodePostings(seqs)});
  for (const [id, seqs] of actors) ops.push({type: 'put', key: indexKey(P_ACTOR, id, seqs[0] as number), value: encodePostings(seqs)});
  return ops;
}

/** An index value: the seqs (u64be each, ascending) one batch appended for one id. */
function encodePostings(seqs: readonly number[]): Uint8Array {
  const out = new Uint8Array(seqs.length * 8);
  for (let i = 0, o = 0; i < seqs.length; i++, o += 8) {
    const n = seqs[i] as number;
    const hi = Math.floor(n / 0x1_0000_0000);
    const lo = n >>> 0;
    out[o] = hi >>> 24;
    out[o + 1] = (hi >>> 16) & 0xff;
    out[o + 2] = (hi >>> 8) & 0xff;
    out[o + 3] = hi & 0xff;
    out[o + 4] = lo >>> 24;
    out[o + 5] = (lo >>> 16) & 0xff;
    out[o + 6] = (lo >>> 8) & 0xff;
    out[o + 7] = lo & 0xff;
  }
  return out;
}

/**
 * The seqs of an index entry whose key is `keyLen` bytes long, or undefined when it is not
 * what the ledger writes: the key's seq first, then strictly ascending safe integers.
 */
function decodePostings(k: Uint8Array, v: Uint8Array, keyLen: number): number[] | undefined {
  if (k.length !== keyLen || v.length === 0 || v.length % 8 !== 0) return undefined;
  const out: number[] = [];
  try {
    for (let off = 0; off < v.length; off += 8) {
      const seq = readU64be(v, off);
      if (out.length > 0 ? seq <= (out[out.length - 1] as number) : seq !== seqOfIndexKey(k)) return undefined;
      out.push(seq);
    }
  } catch {
    return undefined; // past 2^53
  }
  return out;
}

/** Split a stored value into hash and entry bytes. */
export function splitStoredValue(value: Uint8Array): {hash: Uint8Array; bytes: Uint8Array} | undefined {
  if (value.length <= BLAKE3_LEN) return undefined;
  return {hash: value.subarray(0, BLAKE3_LEN), bytes: value.subarray(BLAKE3_LEN)};
}

export class Ledger {
  readonly store: LedgerStore;
  readonly #clock: Clock;
  readonly #signer: CheckpointSigner | undefined;
  readonly #hasher: Blake3;
  readonly #mode: 'read' | 'write';
  readonly #checkpointEvery: number;
  readonly #maxPending: number;
  readonly #checkpointIntervalMs: number;
  readonly #maxBatch: number | undefined;
  /**
   * Entries at which the pending batch is sealed and written while no write is in flight.
   * With many appends in flight, a batch sealed at half the size of the one before it splits
   * them into two batches of about equal size: one is written while the other is encoded
   * (with a fixed threshold, a window of 10k settles into batches of 1k and 9k, and the
   * big one's write overlaps little). At least MIN_SEAL, so a small burst still goes out as
   * one batch at its end: a sync costs milliseconds, and splitting a burst that takes less
   * CPU than that only adds syncs.
   */
  #sealAt: number;
  readonly #anchor: LedgerAnchor | undefined;
  readonly #onCheckpoint: ((a: LedgerAnchor) => void) | undefined;
  // The head, as three fields (an append changes them without allocating) and the object
  // `head` returns, made when asked for.
  #seq = 0;
  /**
   * The head's hash is the 32 bytes of #hashIn from #hashAt (a hash block, after an append);
   * #hashView is the view of them, made when asked for (#hash). #prev holds a copy, which
   * the next entry is encoded with.
   */
  #hashIn: Uint8Array = ZERO_HASH;
  #hashAt = 0;
  #hashView: Uint8Array | undefined = ZERO_HASH;
  readonly #prev = new Uint8Array(BLAKE3_LEN);
  readonly #prevWords = new DataView(this.#prev.buffer, this.#prev.byteOffset, BLAKE3_LEN);
  #time = 0;
  #headObj: Head | undefined;
  #durable: Head = {seq: 0, hash: ZERO_HASH, time: 0};
  #lastCheckpointSeq = 0;
  /** Every entry up to this seq is in the session and actor indexes ('I'); the rest are scanned. */
  #indexed = 0;
  #kernelKey: Uint8Array | undefined;
  #pending: Batch;
  /** The batch the last #add queued into (it may since have been sealed). */
  #addedTo: Batch;
  #flushScheduled = false;
  #writing: Promise<void> | undefined;
  /** The write of what lies beside the chain for the batches written so far (never rejects). */
  #beside: Promise<void> = Promise.resolve();
  /** verify() shares it, reindex() holds it alone. */
  readonly #indexLock = new SharedLock();
  /** Why such a write failed, if one did. */
  #besideFailed: AstridError | undefined;
  #failed: AstridError | undefined;
  #corrupt: string | undefined;
  #closing = false;
  #closed: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #pendingCount = 0;
  /** The entry key, rewritten for each append when the store's writer copies on put. */
  readonly #key = new Uint8Array(9);
  /**
   * Views of the hasher's direct buffer from its start, by length, for the writer's put:
   * entries of one shape have one length, so after the first each append reuses a view.
   * For the buffer #viewsOf; remade if the hasher's buffer is ever replaced, and past 256 lengths.
   */
  #views = new Map<number, Uint8Array>();
  #viewsOf: Uint8Array | undefined;
  /** The first 32 bytes of #viewsOf (where the hasher writes the digest), to read in words. */
  #directWords: DataView = new DataView(new ArrayBuffer(BLAKE3_LEN));
  /** Ids already validated (all three kinds share one grammar): skips the regex on the hot path. */
  readonly #knownIds = new Set<string>();

  private constructor(o: LedgerOptions, hasher: Blake3) {
    this.store = o.store;
    this.#clock = o.clock;
    this.#signer = o.signer;
    this.#hasher = hasher;
    this.#mode = o.mode ?? 'write';
    this.#checkpointEvery = o.checkpointEvery ?? 10_000;
    this.#maxPending = o.maxPending ?? 1 << 20;
    this.#checkpointIntervalMs = o.checkpointIntervalMs ?? 5_000;
    this.#maxBatch = o.maxBatch === undefined ? undefined : Math.max(1, o.maxBatch);
    this.#sealAt = this.#maxBatch ?? MIN_SEAL;
    this.#anchor = o.anchor;
    this.#onCheckpoint = o.onCheckpoint;
    this.#pending = newBatch(this.#head);
    this.#addedTo = this.#pending;
  }

  /**
   * Open a ledger on `options.store` (opening the store if needed). An empty ledger in
   * write mode gets a genesis entry naming the signer's public key.
   * @throws AstridError LEDGER_LOCKED / LEDGER_OPEN_FAILED from the store;
   *   LEDGER_KEY_MISMATCH when, in write mode, the genesis names another kernel key;
   *   TypeError/RangeError on bad options.
   */
  static async open(options: LedgerOptions): Promise<Ledger> {
    if (typeof options?.clock?.now !== 'function') throw new TypeError('options.clock.now must be a function');
    const mode = options.mode ?? 'write';
    if (mode !== 'read' && mode !== 'write') throw new TypeError('options.mode must be "read" or "write"');
    if (mode === 'write' && options.signer === undefined) throw new TypeError('options.signer is required in write mode');
    const every = options.checkpointEvery ?? 10_000;
    if (!Number.isSafeInteger(every) || every < 1) throw new RangeError('checkpointEvery must be an integer >= 1');
    const interval = options.checkpointIntervalMs ?? 5_000;
    if (!Number.isFinite(interval) || interval < 0) throw new RangeError('checkpointIntervalMs must be >= 0');
    const hasher = options.hasher ?? (await Blake3.create());
    const ledger = new Ledger(options, hasher);
    if (options.store.status !== 'open') await options.store.open();
    try {
      await ledger.#load();
      if (mode === 'write' && interval > 0) {
        ledger.#timer = setInterval(() => ledger.#onTimer(), interval);
        ledger.#timer.unref();
      }
    } catch (e) {
      await options.store.close();
      throw e;
    }
    return ledger;
  }

  async #load(): Promise<void> {
    const fmtKey = metaKey('format');
    const fmt = await this.store.get(fmtKey);
    if (fmt !== undefined && Buffer.from(fmt).toString('utf8') !== LEDGER_FORMAT) {
      throw new AstridError('LEDGER_OPEN_FAILED', `unsupported ledger format ${JSON.stringify(Buffer.from(fmt).toString('utf8').slice(0, 64))}`);
    }
    for await (const [k, v] of this.store.iterate({...prefixRange(P_ENTRY), reverse: true, limit: 1})) {
      if (fmt === undefined) {
        // Every ledger of this format has its mark, written before genesis.
        throw new AstridError('LEDGER_OPEN_FAILED', `this ledger has entries but no "${LEDGER_FORMAT}" format mark: it was made by an older Astrid, or damaged`);
      }
      const seq = seqOfKey(k, P_ENTRY);
      const split = splitStoredValue(v);
      const dec = split === undefined ? undefined : decodeEntry(split.bytes);
      if (seq === undefined || split === undefined || dec === undefined || !dec.ok || dec.entry.seq !== seq) {
        this.#corrupt = `the last entry (key ${toHex(k).slice(0, 40)}) is malformed; run "astrid audit verify"`;
        this.#head = {seq: seq ?? 0, hash: split?.hash ?? ZERO_HASH, time: 0};
      } else {
        this.#head = {seq, hash: split.hash, time: dec.entry.time};
      }
    }
    let lastCheckpoint: Checkpoint | string | undefined;
    for await (const [k, v] of this.store.iterate({...prefixRange(P_CHECKPOINT), reverse: true, limit: 1})) {
      this.#lastCheckpointSeq = seqOfKey(k, P_CHECKPOINT) ?? 0;
      lastCheckpoint = decodeCheckpoint(v);
    }
    if (this.#corrupt === undefined && this.#head.seq > 0 && this.#mode === 'write' && this.#signer !== undefined) {
      // Before writing (and so signing) anything more, the newest checkpoint must be ours and
      // must state the hash the entry at its seq has now. Otherwise a rewritten or stripped
      // history would be signed over at the next checkpoint.
      const why = await this.#checkLastCheckpoint(lastCheckpoint);
      if (why !== undefined) this.#corrupt = `${why}; run "astrid audit verify"`;
    }
    if (this.#corrupt === undefined && this.#lastCheckpointSeq > this.#head.seq) {
      // A checkpoint is written only once the entries it covers are durable, so this is never
      // a crash: entries were removed. Appending would reuse seqs below a signed checkpoint.
      this.#corrupt = `the ledger ends at seq ${this.#head.seq} but has a checkpoint at seq ${this.#lastCheckpointSeq} (truncated); run "astrid audit verify"`;
    }
    const indexed = indexedMark(await this.store.get(INDEXED_KEY)); // past 2^53: refused below
    this.#indexed = Math.min(indexed, this.#head.seq);
    if (this.#corrupt === undefined && indexed > this.#head.seq) {
      // The indexes are written after the entries they point at: this is no crash either.
      this.#corrupt = `the ledger ends at seq ${this.#head.seq} but its indexes reach seq ${indexed} (truncated); run "astrid audit verify"`;
    }
    this.#durable = this.#head;
    this.#pending = newBatch(this.#head);
    if (this.#head.seq > 0) {
      const g = await this.store.get(entryKey(1));
      const split = g === undefined ? undefined : splitStoredValue(g);
      const dec = split === undefined ? undefined : decodeEntry(split.bytes);
      if (dec?.ok && dec.entry.kind === 'genesis') this.#kernelKey = dec.entry.body.kernelKey;
      if (this.#mode === 'write') {
        if (this.#kernelKey === undefined) {
          throw new AstridError('LEDGER_CORRUPT', 'the ledger has no valid genesis entry; run "astrid audit verify"');
        }
        if (!bytesEqual(this.#kernelKey, (this.#signer as CheckpointSigner).publicKey)) {
          throw new AstridError('LEDGER_KEY_MISMATCH', 'this ledger was created by a different kernel key', {
            details: {ledgerKey: toHex(this.#kernelKey), kernelKey: toHex((this.#signer as CheckpointSigner).publicKey)},
          });
        }
      }
    } else if (this.#mode === 'write') {
      if (this.#corrupt !== undefined) throw new AstridError('LEDGER_CORRUPT', this.#corrupt);
      const signer = this.#signer as CheckpointSigner;
      await this.store.batch([{type: 'put', key: fmtKey, value: new Uint8Array(Buffer.from(LEDGER_FORMAT, 'utf8'))}], {sync: true});
      this.#kernelKey = signer.publicKey;
      // Genesis and its signed checkpoint land in one atomic batch: every ledger carries at
      // least one checkpoint, so a ledger with none was stripped (CHECKPOINT_MISSING).
      this.#pending.checkpoint = true;
      await this.append({kind: 'genesis', body: {format: ENTRY_FORMAT_VERSION, kernelKey: signer.publicKey}});
      return;
    }
    if (this.#mode !== 'write' || this.#corrupt !== undefined) return;
    if (this.#indexed < this.#head.seq) await this.#catchUpIndexes(indexed === 0);
  }

  /**
   * Bring the session and actor indexes up to the head: the entries after the 'I' mark (a
   * crash between the write of the chain and of what lies beside it, or a lost aux store)
   * are read and their postings written, a chunk at a time. With no mark at all, whatever
   * postings there are may be of another history: they are dropped first.
   */
  async #catchUpIndexes(fromScratch: boolean): Promise<void> {
    if (fromScratch) {
      for (const p of [P_SESSION, P_ACTOR]) {
        const dels: BatchOp[] = [];
        for await (const [k] of this.store.iterate(prefixRange(p))) dels.push({type: 'del', key: k});
        await this.store.batch(dels, {sync: true});
      }
    }
    try {
      for (let from = this.#indexed + 1; from <= this.#head.seq; from += INDEX_CHUNK) {
        const to = Math.min(this.#head.seq, from + INDEX_CHUNK - 1);
        const ops = await this.#postingsOf(from, to);
        ops.push({type: 'put', key: INDEXED_KEY, value: u64be(to)});
        await this.store.batch(ops, {sync: true});
        this.#indexed = to;
      }
    } catch (e) {
      if (!(e instanceof AstridError) || e.code !== 'LEDGER_CORRUPT') throw e;
      // An undecodable entry: the rest stays scanned, and nothing more is written.
      this.#corrupt = `${e.message}`;
    }
  }

  /**
   * The posting puts for entries from..to, read from the chain.
   * @throws AstridError LEDGER_CORRUPT at an undecodable entry.
   */
  async #postingsOf(from: number, to: number): Promise<BatchOp[]> {
    const sessions = new Map<string, number[]>();
    const actors = new Map<string, number[]>();
    for await (const s of this.#scan(from, to, false, undefined)) {
      addPosting(sessions, s.entry.session, s.seq);
      addPosting(actors, s.entry.actor, s.seq);
    }
    return postingOps(sessions, actors);
  }

  /**
   * Rebuild the session and actor indexes from the entries, for indexes that `verify`
   * reports as INDEX_MISMATCH (edited, or left by a bug): postings are written anew from a
   * scan of the chain up to the durable head, a chunk at a time, then every index key of
   * those entries that the rebuild did not write is deleted. The entries are only read.
   * Appends go on meanwhile, their postings and checkpoints written as usual (an appended
   * batch's keys start past the rebuild's head, so they are never deleted). Reads by index
   * stay complete (no posting is deleted before its entries are listed again, and a read
   * never yields a seq twice); a `verify` waits for a rebuild under way, and a rebuild for a
   * verify, as the two would see each other's half. A crash part way leaves old and new
   * postings together: run it again.
   * @returns the seq the rebuild reached, and how many index keys it replaced.
   * @throws AstridError LEDGER_READ_ONLY, LEDGER_CLOSED (also when the ledger closes during
   *   the rebuild), LEDGER_CORRUPT (an undecodable entry: nothing is deleted),
   *   LEDGER_WRITE_FAILED (the store refused a write of the rebuild; the entries are
   *   untouched and appends go on).
   */
  reindex(onProgress?: (done: number, total: number) => void): Promise<{indexed: number; replaced: number}> {
    try {
      this.#assertWritable();
    } catch (e) {
      return Promise.reject(e);
    }
    return this.#indexLock.exclusive(() => this.#reindex(onProgress));
  }

  async #reindex(onProgress?: (done: number, total: number) => void): Promise<{indexed: number; replaced: number}> {
    this.#assertWritable();
    if (this.#failed) throw this.#failed;
    // Batches durable by now have queued their own index writes; wait for those. Later
    // batches' keys all start past `to`.
    const to = this.#durable.seq;
    await this.#beside;
    const open = (): void => {
      if (this.#closing) throw new AstridError('LEDGER_CLOSED', 'the ledger closed during the rebuild of its indexes');
    };
    const write = async (ops: BatchOp[]): Promise<void> => {
      open();
      try {
        await this.store.batch(ops, {sync: true});
      } catch (e) {
        throw new AstridError('LEDGER_WRITE_FAILED', `rebuilding the indexes: ${(e as Error).message}`, {cause: e});
      }
    };
    const progress = (done: number): void => {
      try {
        onProgress?.(done, to);
      } catch {
        // a progress display that fails does not stop the rebuild
      }
    };
    const latin1 = (k: Uint8Array): string => Buffer.from(k.buffer, k.byteOffset, k.length).toString('latin1');
    const written = new Set<string>();
    for (let from = 1; from <= to; from += INDEX_CHUNK) {
      open();
      const end = Math.min(to, from + INDEX_CHUNK - 1);
      const ops = await this.#postingsOf(from, end);
      for (const op of ops) written.add(latin1(op.key));
      await write(ops);
      progress(end);
    }
    let replaced = 0;
    for (const p of [P_SESSION, P_ACTOR]) {
      let dels: BatchOp[] = [];
      for await (const [k] of this.store.iterate(prefixRange(p))) {
        // Kept: the rebuild's own keys, and keys of batches durable since it began. Anything
        // else goes: older keys, keys past the durable head (no batch wrote those), and keys
        // too short or too large to name a seq.
        let seq: number;
        try {
          seq = k.length >= 10 ? seqOfIndexKey(k) : 0;
        } catch {
          seq = 0;
        }
        if ((seq > to && seq <= this.#durable.seq) || written.has(latin1(k))) continue;
        dels.push({type: 'del', key: k});
        if (dels.length >= INDEX_CHUNK) {
          await write(dels);
          replaced += dels.length;
          dels = [];
        }
      }
      await write(dels);
      replaced += dels.length;
    }
    if (this.#indexed < to) {
      // Only when the mark was behind (the writes of batches up to `to` follow it otherwise).
      await write([{type: 'put', key: INDEXED_KEY, value: u64be(to)}]);
      this.#indexed = to;
    }
    return {indexed: to, replaced};
  }

  async #checkAnchor(): Promise<string | undefined> {
    const a = this.#anchor;
    if (a === undefined) return undefined;
    const why = `this kernel signed seq ${a.seq} (its anchor), but the ledger`;
    if (this.#head.seq < a.seq) return `${why} now ends at seq ${this.#head.seq} (rolled back)`;
    const cv = await this.store.get(checkpointKey(a.seq));
    const c = cv === undefined ? undefined : decodeCheckpoint(cv);
    if (c === undefined || typeof c === 'string' || !bytesEqual(c.hash, a.hash)) return `${why} no longer holds that checkpoint (stripped or replaced)`;
    const v = await this.store.get(entryKey(a.seq));
    const split = v === undefined ? undefined : splitStoredValue(v);
    if (split === undefined || !bytesEqual(split.hash, a.hash)) return `${why} has another entry there (rewritten)`;
    return undefined;
  }

  async #checkLastCheckpoint(c: Checkpoint | string | undefined): Promise<string | undefined> {
    const anchored = await this.#checkAnchor();
    if (anchored !== undefined) return anchored;
    if (c === undefined) return 'the ledger has entries but no signed checkpoint (stripped?)';
    if (typeof c === 'string') return `the newest checkpoint is malformed (${c})`;
    const signer = this.#signer as CheckpointSigner;
    if (checkCheckpoint(c, signer.publicKey) !== 'valid') return 'the newest checkpoint is not validly signed by this kernel key';
    if (c.seq > this.#head.seq) return undefined; // truncation: reported above
    const v = await this.store.get(entryKey(c.seq));
    const split = v === undefined ? undefined : splitStoredValue(v);
    if (split === undefined || !bytesEqual(split.hash, c.hash)) return `entry ${c.seq} differs from its signed checkpoint (rewritten)`;
    // A crash leaves an unsigned tail of a few seconds (time checkpoints); a much longer one
    // means later checkpoints were removed, and signing now would bless what replaced them.
    if (this.#checkpointIntervalMs > 0 && this.#head.time - c.time > Math.max(60_000, 3 * this.#checkpointIntervalMs)) {
      return `entries after the newest checkpoint (seq ${c.seq}) run ${Math.round((this.#head.time - c.time) / 1000)} s past it; later checkpoints were probably removed`;
    }
    return undefined;
  }

  /** The checkpoint signer (the kernel key), when this ledger was opened with one. */
  get signer(): CheckpointSigner | undefined {
    return this.#signer;
  }

  /** The kernel public key named by the genesis entry (undefined for an empty or damaged ledger). */
  get kernelKey(): Uint8Array | undefined {
    return this.#kernelKey;
  }

  /** Head including appends not yet durable. */
  get head(): Head {
    return this.#head;
  }

  /** Head of what is known to be on stable storage. */
  get durableHead(): Head {
    return this.#durable;
  }

  /** Seq of the last checkpoint written. */
  get lastCheckpointSeq(): number {
    return this.#lastCheckpointSeq;
  }

  get mode(): 'read' | 'write' {
    return this.#mode;
  }

  /** True while appends are accepted (open for writing; not failed, closing or corrupt). */
  get writable(): boolean {
    return this.#failed === undefined && !this.#closing && this.#mode === 'write' && this.#corrupt === undefined;
  }

  get #hash(): Uint8Array {
    return (this.#hashView ??= hashView(this.#hashIn, this.#hashAt));
  }

  get #head(): Head {
    return (this.#headObj ??= {seq: this.#seq, hash: this.#hash, time: this.#time});
  }

  set #head(h: Head) {
    this.#seq = h.seq;
    this.#hashIn = h.hash;
    this.#hashAt = 0;
    this.#hashView = h.hash;
    this.#prev.set(h.hash);
    this.#time = h.time;
    this.#headObj = h;
  }

  #assertWritable(): void {
    if (this.#failed) throw this.#failed;
    if (this.#closing) throw new AstridError('LEDGER_CLOSED', 'the ledger is closing or closed');
    if (this.#mode !== 'write') throw new AstridError('LEDGER_READ_ONLY', 'the ledger was opened read-only');
    if (this.#corrupt !== undefined) throw new AstridError('LEDGER_CORRUPT', this.#corrupt);
  }

  /**
   * Append an entry. Resolves with its seq and hash once the entry is durable.
   * The seq is assigned synchronously: appends are ordered as called.
   * @throws AstridError LEDGER_ENTRY_INVALID, LEDGER_KIND_UNKNOWN, LEDGER_ENTRY_TOO_LARGE (as a
   *   rejected promise), LEDGER_WRITE_FAILED when the batch could not be written,
   *   LEDGER_OVERLOADED, LEDGER_CLOSED, LEDGER_READ_ONLY, LEDGER_CORRUPT.
   */
  append<K extends EntryKind>(input: AppendInput<K>): Promise<Appended> {
    try {
      return this.#append(input);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /**
   * Like append, but returns the assigned seq and hash synchronously, with the durability
   * promise beside them. For host calls that must answer the guest at once (the entry is
   * sequenced before the reply; DESIGN.md, Host ABI). Effects must still wait for `durable`.
   * @throws AstridError synchronously, for the same reasons append rejects.
   */
  enqueue<K extends EntryKind>(input: AppendInput<K>): Appended & {readonly durable: Promise<Appended>} {
    return this.#enqueue(input);
  }

  #append<K extends EntryKind>(input: AppendInput<K>): Promise<Appended> {
    const at = this.#add(input);
    const b = this.#addedTo;
    const p = appended(b.done, this.#seq as Seq, this.#time, hashBlock, at);
    b.appends.push(p);
    return p;
  }

  #enqueue<K extends EntryKind>(input: AppendInput<K>): Appended & {readonly durable: Promise<Appended>} {
    this.#add(input);
    return new Enqueued(this.#seq as Seq, this.#hash, this.#time, this.#addedTo.done);
  }

  /** Remember an id that passed its parser (bounded: the cache is dropped past 4,096 ids). */
  #learnId<T extends string>(id: T): T {
    if (this.#knownIds.size >= 4096) this.#knownIds.clear();
    this.#knownIds.add(id);
    return id;
  }

  /** The first `len` bytes of `direct` (the hasher's buffer) as a view, reused across appends. */
  #directView(direct: Uint8Array, len: number): Uint8Array {
    const views = this.#views;
    if (direct !== this.#viewsOf || views.size >= 256) {
      this.#viewsOf = direct;
      this.#directWords = new DataView(direct.buffer, direct.byteOffset, BLAKE3_LEN);
      views.clear();
    }
    const v = views.get(len);
    // A view of a buffer since detached has length 0 (the hasher then hands out a new one).
    if (v !== undefined && v.length === len) return v;
    const made = new Uint8Array(direct.buffer, direct.byteOffset, len);
    views.set(len, made);
    return made;
  }

  /**
   * Validate, stamp, encode, hash and queue one entry; it becomes the head (#seq, #hash,
   * #time). Returns the offset of its hash in `hashBlock`.
   */
  #add<K extends EntryKind>(input: AppendInput<K>): number {
    this.#assertWritable();
    if (typeof input !== 'object' || input === null) throw new TypeError('input must be an object');
    const kind: unknown = input.kind; // read once: what is checked is what is encoded
    if (!isEntryKind(kind)) {
      throw new AstridError('LEDGER_KIND_UNKNOWN', `unknown entry kind ${JSON.stringify(String(kind)).slice(0, 80)}`);
    }
    if (kind === 'genesis' && this.#seq !== 0) {
      throw new AstridError('LEDGER_ENTRY_INVALID', 'genesis can only be the first entry');
    }
    const body = parseBody(kind as K, input.body);
    if (typeof body === 'string') throw new AstridError('LEDGER_ENTRY_INVALID', `invalid ${kind} body: ${body}`);
    let session: SessionId;
    let principal: PrincipalId;
    let actor: ActorId;
    try {
      const s = input.session;
      const p = input.principal;
      const a = input.actor;
      session = s === undefined ? KERNEL_SESSION : this.#knownIds.has(s) ? (s as SessionId) : this.#learnId(parseSessionId(s));
      principal = p === undefined ? KERNEL_PRINCIPAL : this.#knownIds.has(p) ? (p as PrincipalId) : this.#learnId(parsePrincipalId(p));
      actor = a === undefined ? KERNEL_ACTOR : this.#knownIds.has(a) ? (a as ActorId) : this.#learnId(parseActorId(a));
    } catch (cause) {
      throw new AstridError('LEDGER_ENTRY_INVALID', (cause as Error).message, {cause});
    }
    if (this.#pendingCount >= this.#maxPending) {
      throw new AstridError('LEDGER_OVERLOADED', `more than ${this.#maxPending} entries are waiting to be written`);
    }
    const seq = (this.#seq + 1) as Seq;
    const now = this.#clock.now();
    if (!Number.isSafeInteger(now) || now < 0) throw new TypeError('clock.now() must return a non-negative integer');
    const time = Math.max(now, this.#time); // never goes backwards
    const b = this.#pending;
    let w: BatchWriter;
    try {
      w = b.w ??= this.store.writer();
    } catch (e) {
      throw this.#fail(e);
    }
    // prev || entry bytes: the chain hash input, in one buffer. A writer that copies on put
    // lets every entry be encoded into the same buffer (the hasher's, where it is hashed in
    // place), and keyed with the same key buffer.
    const copies = w.copies === true;
    const direct = copies ? this.#hasher.buffer : undefined;
    const len = direct === undefined ? -1 : encodeFieldsInto(direct, ENTRY_FORMAT_VERSION, seq, this.#prev, time, session, principal, actor, kind, body);
    let buf: Uint8Array;
    if (len >= 0) {
      // Fits the direct buffer (16 KiB), so far below MAX_ENTRY_BYTES.
      this.#hasher.hashBuffer(len); // now hash || entry bytes: the stored value
      buf = this.#directView(direct as Uint8Array, len);
    } else {
      buf = encodeFields(ENTRY_FORMAT_VERSION, seq, this.#prev, time, session, principal, actor, kind, body, copies);
      if (buf.length - BLAKE3_LEN > MAX_ENTRY_BYTES) {
        throw new AstridError('LEDGER_ENTRY_TOO_LARGE', `entry of ${buf.length - BLAKE3_LEN} bytes exceeds ${MAX_ENTRY_BYTES}`);
      }
      buf.set(this.#hasher.hashOne(buf), 0);
    }
    const at = hashSlot();
    const block = hashBlockBytes;
    // Kept: the result, and the next entry's prev (a word at a time: a copy each, no call).
    const from = len >= 0 ? this.#directWords : new DataView(buf.buffer, buf.byteOffset, BLAKE3_LEN);
    const bw = hashBlockWords;
    const pw = this.#prevWords;
    for (let i = 0; i < BLAKE3_LEN; i += 4) {
      const x = from.getUint32(i, true);
      bw.setUint32(at + i, x, true);
      pw.setUint32(i, x, true);
    }
    try {
      w.put(copies ? entryKeyInto(this.#key, seq) : entryKey(seq), buf);
    } catch (e) {
      // The batch can no longer be trusted to hold what was acknowledged into it.
      throw this.#fail(e);
    }
    addPosting(b.sessions, session, seq);
    addPosting(b.actors, actor, seq);
    b.count++;
    this.#pendingCount++;
    this.#seq = seq;
    this.#hashIn = block;
    this.#hashAt = at;
    this.#hashView = undefined;
    this.#time = time;
    this.#headObj = undefined;
    b.lastSeq = seq;
    b.lastHashIn = block;
    b.lastHashAt = at;
    b.lastTime = time;
    this.#addedTo = b;
    if (seq - this.#lastCheckpointSeq >= this.#checkpointEvery && this.#signer !== undefined) b.checkpoint = true;
    if (b.count >= this.#sealAt && this.#writing === undefined) {
      // Seal now rather than at the end of the caller's synchronous burst: the batch is
      // written (on libuv's thread) while the caller goes on encoding the next entries.
      void this.#flush();
    } else {
      this.#scheduleFlush();
    }
    return at;
  }

  #scheduleFlush(): void {
    if (this.#flushScheduled || this.#writing !== undefined) return;
    this.#flushScheduled = true;
    queueMicrotask(() => {
      this.#flushScheduled = false;
      void this.#flush();
    });
  }

  async #flush(): Promise<void> {
    if (this.#writing !== undefined) return;
    const b = this.#pending;
    if (b.count === 0 && !b.checkpoint) return;
    this.#pending = newBatch(this.#head);
    const write = (async () => {
      try {
        if (this.#failed) throw this.#failed;
        const w = (b.w ??= this.store.writer());
        // What lies beside the chain (keys.ts) is written after it, as a batch of its own.
        const beside = postingOps(b.sessions, b.actors);
        if (b.count > 0) beside.push({type: 'put', key: INDEXED_KEY, value: u64be(b.lastSeq)});
        const lastHash = hashView(b.lastHashIn, b.lastHashAt);
        let cp: Checkpoint | undefined;
        if (b.checkpoint && this.#signer !== undefined && b.lastSeq > this.#lastCheckpointSeq) {
          cp = signCheckpoint(this.#signer, b.lastSeq, lastHash, Math.max(this.#clock.now(), b.lastTime));
          // Genesis's goes with genesis, in one write: no ledger exists unsigned.
          if (cp.seq === 1) w.put(checkpointKey(1), encodeCheckpoint(cp));
          else beside.push({type: 'put', key: checkpointKey(cp.seq), value: encodeCheckpoint(cp)});
          this.#lastCheckpointSeq = cp.seq; // signed; durable once flush() resolves
        }
        b.w = undefined;
        await w.write({sync: true});
        this.#durable = {seq: b.lastSeq, hash: lastHash, time: b.lastTime};
        this.#pendingCount -= b.count;
        if (this.#maxBatch === undefined) this.#sealAt = Math.max(MIN_SEAL, b.count >> 1);
        this.#writeBeside(beside, b.count > 0 ? b.lastSeq : 0, cp);
        b.resolve();
      } catch (e) {
        this.#fail(e, b);
      }
    })();
    this.#writing = write;
    await write;
    this.#writing = undefined;
    if (this.#pending.count > 0 || this.#pending.checkpoint) this.#scheduleFlush();
  }

  /**
   * Queue the write of what lies beside the chain for a batch whose entries are durable: after
   * the same write of every batch before it, and off the path of the next batch's entries.
   * Its appends are acknowledged meanwhile: their entries are durable, and what this write
   * holds is rebuilt (postings, up to `indexed`) or covered by the next checkpoint if a
   * crash loses it. `flush()`, `close()` and index reads wait for it.
   */
  #writeBeside(ops: BatchOp[], indexed: number, cp: Checkpoint | undefined): void {
    const before = this.#beside;
    this.#beside = (async () => {
      await before;
      if (this.#failed) return;
      try {
        // Synced, postings too: an unsynced write could be lost in a power cut while a later
        // synced one (a later 'I' mark) survives it, and the mark would then claim postings
        // that are gone. Off the path of the next batch's entries, the sync costs them nothing
        // measurable (eight alternating runs each at 1k and 10k in flight).
        if (ops.length > 0) await this.store.batch(ops, {sync: true});
      } catch (e) {
        // Reported by flush() and close() too: nobody's append is left to reject when this was the last batch.
        this.#besideFailed ??= this.#fail(e);
        return;
      }
      if (indexed > this.#indexed) this.#indexed = indexed;
      if (cp !== undefined) {
        try {
          this.#onCheckpoint?.({seq: cp.seq, hash: cp.hash});
        } catch {
          // a stale anchor only weakens rollback detection; the ledger itself is intact
        }
      }
    })();
  }

  /**
   * A batch could not be written: refuse all further appends until reopened (fail secure;
   * the in-memory head may be ahead of the disk), and reject everything queued behind it,
   * which would chain onto entries that never landed. `sealed` is the batch whose write
   * failed, if any. Returns the LEDGER_WRITE_FAILED error.
   */
  #fail(e: unknown, sealed?: Batch): AstridError {
    const err =
      e instanceof AstridError && e.code === 'LEDGER_WRITE_FAILED'
        ? e
        : new AstridError('LEDGER_WRITE_FAILED', `ledger write failed; the ledger must be reopened: ${(e as Error).message}`, {cause: e});
    this.#failed ??= err;
    const rest = this.#pending;
    this.#pending = newBatch(this.#durable);
    for (const b of sealed === undefined ? [rest] : [sealed, rest]) {
      b.w?.discard();
      b.w = undefined;
      this.#pendingCount -= b.count;
      // A failure also fails every later append, and callers await either theirs or a later
      // one: a rejection nobody handles is not reported as unhandled.
      for (const p of b.appends) p.catch(ignore);
      b.reject(err);
    }
    return err;
  }

  #onTimer(): void {
    if (this.#failed || this.#closing || this.#corrupt !== undefined) return;
    if (this.#head.seq > this.#lastCheckpointSeq && this.#signer !== undefined) {
      this.#pending.checkpoint = true;
      this.#scheduleFlush();
    }
  }

  /** Wait until everything appended so far is durable (or failed). */
  async flush(): Promise<void> {
    while (this.#writing !== undefined || this.#pending.count > 0 || this.#pending.checkpoint || this.#flushScheduled) {
      if (this.#failed) break;
      if (this.#writing !== undefined) await this.#writing;
      else if (this.#pending.count > 0 || this.#pending.checkpoint) await this.#flush();
      else await new Promise<void>((r) => setImmediate(r));
    }
    await this.#beside;
    if (this.#failed) throw this.#failed;
  }

  /**
   * Write a signed checkpoint at the current head (after everything queued is durable).
   * @returns the head seq now covered by a checkpoint.
   * @throws AstridError LEDGER_READ_ONLY, LEDGER_WRITE_FAILED, LEDGER_CLOSED.
   */
  async checkpoint(): Promise<number> {
    this.#assertWritable();
    if (this.#head.seq > this.#lastCheckpointSeq) {
      this.#pending.checkpoint = true;
      this.#scheduleFlush();
      await this.flush();
    }
    return this.#lastCheckpointSeq;
  }

  /** Read one entry by seq; undefined when absent. @throws AstridError LEDGER_CORRUPT when undecodable. */
  async read(seq: number): Promise<StoredEntry | undefined> {
    if (!Number.isSafeInteger(seq) || seq < 1) throw new RangeError('seq must be an integer >= 1');
    const v = await this.store.get(entryKey(seq));
    return v === undefined ? undefined : this.#toStored(seq, v);
  }

  #toStored(seq: number, v: Uint8Array): StoredEntry {
    const split = splitStoredValue(v);
    const dec = split === undefined ? undefined : decodeEntry(split.bytes);
    if (split === undefined || dec === undefined || !dec.ok) {
      throw new AstridError('LEDGER_CORRUPT', `entry ${seq} cannot be decoded${dec && !dec.ok ? `: ${dec.problem}` : ''}; run "astrid audit verify"`, {
        details: {seq},
      });
    }
    if (dec.entry.seq !== seq) {
      throw new AstridError('LEDGER_CORRUPT', `entry stored at ${seq} claims seq ${dec.entry.seq}; run "astrid audit verify"`, {details: {seq}});
    }
    return {seq: seq as Seq, hash: split.hash, bytes: split.bytes, entry: dec.entry};
  }

  /**
   * Entries in seq order (or reverse), filtered. Uses the session or actor index when given.
   * @throws AstridError LEDGER_CORRUPT on an undecodable entry; RangeError on bad bounds.
   */
  async *entries(q: EntryQuery = {}): AsyncGenerator<StoredEntry> {
    const from = q.from ?? 1;
    const to = q.to ?? Number.MAX_SAFE_INTEGER;
    if (!Number.isSafeInteger(from) || from < 1) throw new RangeError('from must be an integer >= 1');
    if (!Number.isSafeInteger(to) || to < 0) throw new RangeError('to must be a non-negative integer');
    if (q.limit !== undefined && (!Number.isSafeInteger(q.limit) || q.limit < 0)) throw new RangeError('limit must be >= 0');
    if (q.kind !== undefined && !isEntryKind(q.kind)) throw new AstridError('LEDGER_KIND_UNKNOWN', `unknown kind ${String(q.kind)}`);
    const limit = q.limit ?? Infinity;
    if (limit === 0 || to < from) return;
    const reverse = q.reverse === true;
    const only: ReadonlySet<EntryKind> | undefined = q.kind === undefined ? q.kinds : new Set(q.kinds === undefined || q.kinds.has(q.kind) ? [q.kind] : []);
    const byIndex = q.session !== undefined ? {p: P_SESSION, id: q.session} : q.actor !== undefined ? {p: P_ACTOR, id: q.actor} : undefined;
    let parts: AsyncGenerator<StoredEntry>[];
    if (byIndex === undefined) {
      parts = [this.#scan(from, to, reverse, only)];
    } else {
      // The indexes reach #indexed once the postings of the batches written so far are; entries
      // after it are scanned (a crash's unindexed tail, in a ledger opened read-only: a writer
      // brings the indexes up to date on open).
      await this.#beside;
      const indexed = this.#indexed;
      const viaIndex = this.#viaIndex(byIndex.p, byIndex.id, from, Math.min(to, indexed), reverse);
      const tail = this.#scan(Math.max(from, indexed + 1), to, reverse, only);
      parts = reverse ? [tail, viaIndex] : [viaIndex, tail];
    }
    let n = 0;
    for (const part of parts) {
      for await (const s of part) {
        // The indexes are derived data: each entry they point at is checked against the query.
        if (q.session !== undefined && s.entry.session !== q.session) continue;
        if (q.actor !== undefined && s.entry.actor !== q.actor) continue;
        if (only !== undefined && !only.has(s.entry.kind)) continue;
        yield s;
        if (++n >= limit) return;
      }
    }
  }

  /** Entries of seqs from..to named by the postings of one id in one index. */
  async *#viaIndex(p: number, id: string, from: number, to: number, reverse: boolean): AsyncGenerator<StoredEntry> {
    if (to < from) return;
    // Index keys are (id, first seq of a batch) -> that batch's seqs for the id. They are
    // derived data: a posting list that is not well formed is skipped, and no seq is yielded
    // twice or out of order, whatever the index holds (an 'I' mark moved back makes a writer
    // index some seqs again under other keys).
    const r = indexRange(p, id);
    let last = reverse ? Infinity : 0;
    for await (const [k, v] of this.store.iterate({gte: r.gte, lt: indexKey(p, id, to + 1), reverse})) {
      const seqs = decodePostings(k, v, r.gte.length + 8);
      if (seqs === undefined || (seqs[0] as number) > to) continue;
      if (reverse) seqs.reverse();
      for (const seq of seqs) {
        if (seq < from || seq > to || (reverse ? seq >= last : seq <= last)) continue;
        last = seq;
        const val = await this.store.get(entryKey(seq));
        if (val !== undefined) yield this.#toStored(seq, val);
      }
    }
  }

  /** Entries of seqs from..to, read in order; kinds outside `only` are skipped undecoded. */
  async *#scan(from: number, to: number, reverse: boolean, only: ReadonlySet<EntryKind> | undefined): AsyncGenerator<StoredEntry> {
    if (to < from) return;
    const gte = entryKey(from);
    const lt = to >= Number.MAX_SAFE_INTEGER ? prefixRange(P_ENTRY).lt : entryKey(to + 1);
    for await (const chunk of this.store.iterateChunks({gte, lt, reverse})) {
      for (const [k, v] of chunk) {
        const seq = seqOfKey(k, P_ENTRY);
        if (seq === undefined) continue;
        if (only !== undefined) {
          const ki = storedKindIndex(v);
          if (ki >= 0 && !only.has(ENTRY_KINDS[ki] as EntryKind)) continue;
        }
        yield this.#toStored(seq, v);
      }
    }
  }

  /**
   * Stored checkpoints in seq order, including those of batches written so far (it waits for
   * their write beside the chain); undecodable records are skipped (verify reports them).
   */
  async *checkpoints(): AsyncGenerator<Checkpoint> {
    await this.#beside;
    for await (const [, v] of this.store.iterate(prefixRange(P_CHECKPOINT))) {
      const c = decodeCheckpoint(v);
      if (typeof c !== 'string') yield c;
    }
  }

  /**
   * Verify the whole chain against `trustedKey` (default: the key this ledger's signer holds,
   * else the genesis key). Pending appends are flushed first.
   */
  verify(options: Partial<VerifyOptions> = {}): Promise<VerifyReport> {
    // Not while reindex() rewrites the postings (the index check would count old and new):
    // the two take turns in the order they were asked for.
    return this.#indexLock.shared(async () => {
      if (this.#mode === 'write' && !this.#failed) await this.flush();
      const trustedKey = options.trustedKey ?? this.#signer?.publicKey ?? this.#kernelKey;
      return verifyStore(this.store, {...options, trustedKey, hasher: this.#hasher});
    });
  }

  /** The BLAKE3 hasher this ledger uses (shared to avoid creating another). */
  get hasher(): Blake3 {
    return this.#hasher;
  }

  /**
   * Flush, write a final checkpoint (write mode), and close the store. Appends are refused
   * (LEDGER_CLOSED) from the moment close is called, so the final checkpoint covers every
   * acknowledged entry. Idempotent: a later call resolves once the store is closed.
   * @throws AstridError LEDGER_WRITE_FAILED when the final flush fails, or when a write beside the chain
   *   (postings, a checkpoint) failed since the ledger was opened (the store is closed anyway).
   */
  close(): Promise<void> {
    if (this.#closed !== undefined) return this.#closed.catch(() => undefined);
    this.#closed = this.#close();
    return this.#closed;
  }

  async #close(): Promise<void> {
    this.#closing = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    let err: unknown;
    try {
      if (this.#mode === 'write' && !this.#failed && this.#corrupt === undefined) {
        if (this.#head.seq > this.#lastCheckpointSeq) this.#pending.checkpoint = true;
        await this.flush();
      }
    } catch (e) {
      err = e;
    } finally {
      await this.#beside;
      await this.store.close();
    }
    // Acknowledged entries whose checkpoint or postings could not be written: say so.
    if (err === undefined && this.#besideFailed !== undefined) err = this.#besideFailed;
    if (err !== undefined) throw err;
  }
}
