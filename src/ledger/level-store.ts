/**
 * LedgerStore on two LevelDBs: the chain (the format mark, entries, and genesis's checkpoint)
 * at `location`, and everything beside it (later checkpoints, the session and actor indexes,
 * snapshots) at `location-aux` (auxLocation). While the ledger runs, the chain only ever receives keys
 * greater than any it holds, so LevelDB moves each flushed table down the levels without
 * rewriting it, as it would for a raw log of the same bytes; index postings written into
 * the same database would make every table span the keyspace and be merged again at each
 * level (measured: 2.5x the bytes written by compaction, on LevelDB's one background thread).
 *
 * A batch is written chain part first, and the rest after it, each part atomic and synced
 * when asked, as store.ts allows. LevelDB's
 * own LOCK file on the chain makes a second opener fail, reported as LEDGER_LOCKED.
 */
import {resolve} from 'node:path';
import {ClassicLevel} from 'classic-level';
import {AstridError} from '../errors/index.js';
import {P_CHECKPOINT, P_ENTRY, P_META, isChainKey} from './keys.js';
import {LedgerStore, checkOp, type BatchOp, type BatchWriter, type RangeOptions} from './store.js';

const CHUNK = 1000;

type Db = ClassicLevel<Uint8Array, Uint8Array>;
type Pair = [Uint8Array, Uint8Array];

/** Where the LevelDB beside the chain at `location` lives. */
export const auxLocation = (location: string): string => `${resolve(location)}-aux`;

function errCode(e: unknown): string | undefined {
  if (typeof e !== 'object' || e === null) return undefined;
  const code = (e as {code?: unknown}).code;
  return typeof code === 'string' ? code : undefined;
}

type ChainedBatch = ReturnType<Db['batch']>;

/**
 * classic-level's own put into a native batch (abstract-level's private API for
 * implementations: `_put(key, value)`), which `put` calls after checking the batch's state
 * and encoding the key and value. With 'view' encodings on the root database the encoding
 * leaves a Uint8Array as it is, so for ops checked by checkOp, into a batch made here,
 * the two write the same bytes; the ledger's append path skips the wrapper's cost (an
 * object and half a dozen calls per entry). Used only when the installed classic-level
 * has it; a batch's first op always goes through `put`, so the batch counts as non-empty
 * and `write` writes it. It also skips abstract-level's prewrite hooks and 'write' events
 * for those ops: the two databases are private to LevelStore, and nothing registers any.
 */
interface NativePut {
  _put(key: Uint8Array, value: Uint8Array): void;
}
/** True when this classic-level's batches have the native put (checked on every batch made). */
const hasNativePut = (b: ChainedBatch): boolean => typeof (b as unknown as Partial<NativePut>)._put === 'function';

/**
 * A batch filled op by op into two LevelDB chained batches, one per database: each put
 * crosses into C++ at once and is copied into the native write batch, so nothing of it
 * stays on the JavaScript heap until the write. A native batch is made on its first op.
 */
class LevelWriter implements BatchWriter {
  /** classic-level's batch_put copies both into the native write batch. */
  readonly copies = true;
  readonly #chain: Db;
  readonly #aux: Db;
  #c: ChainedBatch | undefined;
  #a: ChainedBatch | undefined;
  /** The chain batch has the native put (see NativePut); its first op went through put. */
  #cNative = false;
  #n = 0;
  constructor(chain: Db, aux: Db) {
    this.#chain = chain;
    this.#aux = aux;
  }
  get length(): number {
    return this.#n;
  }
  #batchFor(key: Uint8Array): ChainedBatch {
    return isChainKey(key) ? (this.#c ??= this.#chain.batch()) : (this.#a ??= this.#aux.batch());
  }
  put(key: Uint8Array, value: Uint8Array): void {
    checkOp(key, value);
    if (isChainKey(key)) {
      const c = this.#c;
      // Checked above; the batch is ours and counted (its first op went through put). While
      // the database is open, so is the batch (closing the database closes its batches).
      if (c !== undefined && this.#cNative && this.#chain.status === 'open') (c as unknown as NativePut)._put(key, value);
      else if (c !== undefined) c.put(key, value);
      else {
        const made = (this.#c = this.#chain.batch());
        made.put(key, value);
        this.#cNative = hasNativePut(made);
      }
    } else {
      (this.#a ??= this.#aux.batch()).put(key, value);
    }
    this.#n++;
  }
  del(key: Uint8Array): void {
    checkOp(key, undefined);
    this.#batchFor(key).del(key);
    this.#n++;
  }
  async write(options: {sync: boolean}): Promise<void> {
    const c = this.#c;
    const a = this.#a;
    const sync = options.sync === true;
    this.#reset();
    if (this.#chain.status !== 'open' || this.#aux.status !== 'open') {
      close(c);
      close(a);
      throw new AstridError('LEDGER_NOT_OPEN', `store is ${this.#chain.status === 'open' ? this.#aux.status : this.#chain.status}`);
    }
    try {
      if (c !== undefined) await c.write({sync});
    } catch (e) {
      close(a);
      throw e;
    }
    if (a !== undefined) await a.write({sync});
  }
  discard(): void {
    close(this.#c);
    close(this.#a);
    this.#reset();
  }
  #reset(): void {
    this.#c = undefined;
    this.#cNative = false;
    this.#a = undefined;
    this.#n = 0;
  }
}

function close(b: ChainedBatch | undefined): void {
  if (b !== undefined) void b.close().catch(() => undefined);
}

/** The least and greatest first byte a key in the range can have. */
function firstBytes(o: RangeOptions): [number, number] {
  // An empty gte is below every key; an empty lt above none.
  const lo = o.gte === undefined || o.gte.length === 0 ? 0 : (o.gte[0] as number);
  let hi = 255;
  if (o.lt !== undefined) hi = o.lt.length === 0 ? -1 : o.lt.length === 1 ? (o.lt[0] as number) - 1 : (o.lt[0] as number);
  return [lo, hi];
}

/**
 * Which databases a range reaches: the chain, the aux, or both. The 'C' space is in both
 * (genesis's checkpoint lies in the chain, the later ones beside it).
 */
function reach(o: RangeOptions): {chain: boolean; aux: boolean} {
  const [lo, hi] = firstBytes(o);
  if (hi < lo) return {chain: false, aux: false};
  const within = (p: number): boolean => p >= lo && p <= hi;
  const chainOnly = (within(P_ENTRY) ? 1 : 0) + (within(P_META) ? 1 : 0);
  return {chain: chainOnly > 0 || within(P_CHECKPOINT), aux: hi - lo + 1 > chainOnly};
}

export class LevelStore extends LedgerStore {
  readonly location: string;
  #chain: Db | undefined;
  #aux: Db | undefined;

  constructor(location: string) {
    super();
    if (typeof location !== 'string' || location.length === 0) throw new TypeError('location must be a non-empty path');
    this.location = location;
  }

  /** The directory of the LevelDB beside the chain. */
  get auxLocation(): string {
    return auxLocation(this.location);
  }

  #dbs(): {chain: Db; aux: Db} {
    if (this.#chain === undefined || this.#aux === undefined) throw new AstridError('LEDGER_NOT_OPEN', 'store is not open');
    return {chain: this.#chain, aux: this.#aux};
  }

  /**
   * What LevelDB reports of each database's levels (its `leveldb.stats`), summed: how much
   * its compactions have read and written since the store was opened. For the benchmark
   * and for operators; undefined when the store is not open.
   */
  compactionStats(): {chain: LevelStats; aux: LevelStats} | undefined {
    if (this.#chain === undefined || this.#aux === undefined) return undefined;
    return {chain: levelStats(this.#chain), aux: levelStats(this.#aux)};
  }

  protected async _open(): Promise<void> {
    // The chain first: its LOCK is what tells a second opener the ledger is in use.
    const chain = await openDb(this.location, this.location);
    try {
      this.#aux = await openDb(this.auxLocation, this.location);
    } catch (e) {
      await chain.close().catch(() => undefined);
      throw e;
    }
    this.#chain = chain;
  }

  protected async _close(): Promise<void> {
    const [chain, aux] = [this.#chain, this.#aux];
    this.#chain = undefined;
    this.#aux = undefined;
    try {
      await chain?.close();
    } finally {
      await aux?.close();
    }
  }

  protected async _batch(ops: readonly BatchOp[], sync: boolean): Promise<void> {
    // Chained batches cross into C++ once per op without abstract-level's per-op array
    // validation: about 4x the throughput of db.batch(array) here.
    const {chain, aux} = this.#dbs();
    const w = new LevelWriter(chain, aux);
    for (const op of ops) {
      if (op.type === 'put') w.put(op.key, op.value);
      else w.del(op.key);
    }
    await w.write({sync});
  }

  protected override _writer(): BatchWriter {
    // A subclass that intercepts _batch must see every write: give it the buffered writer.
    if (this._batch !== LevelStore.prototype._batch) return super._writer();
    const {chain, aux} = this.#dbs();
    return new LevelWriter(chain, aux);
  }

  protected async _get(key: Uint8Array): Promise<Uint8Array | undefined> {
    const {chain, aux} = this.#dbs();
    const v = await (isChainKey(key) ? chain : aux).get(key);
    return v === undefined ? undefined : v;
  }

  protected async *_iterate(o: RangeOptions): AsyncGenerator<ReadonlyArray<Pair>> {
    const {chain, aux} = this.#dbs();
    const r = reach(o);
    if (r.chain && r.aux) {
      yield* merged(chunks(chain, o), chunks(aux, o), o);
    } else if (r.chain || r.aux) {
      yield* chunks(r.chain ? chain : aux, o);
    }
  }
}

/** One LevelDB's levels, summed from `leveldb.stats` (MB as LevelDB counts them, 2^20 bytes). */
export interface LevelStats {
  readonly files: number;
  readonly sizeMB: number;
  readonly compactionReadMB: number;
  readonly compactionWriteMB: number;
}

/** A classic-level database's LevelStats (also for the benchmark's raw baselines). */
export function levelStats(db: Db): LevelStats {
  let files = 0;
  let sizeMB = 0;
  let compactionReadMB = 0;
  let compactionWriteMB = 0;
  // Rows of "Level Files Size(MB) Time(sec) Read(MB) Write(MB)".
  for (const line of db.getProperty('leveldb.stats').split('\n')) {
    const cols = line.trim().split(/\s+/).map(Number);
    if (cols.length !== 6 || cols.some((x) => !Number.isFinite(x))) continue;
    files += cols[1] as number;
    sizeMB += cols[2] as number;
    compactionReadMB += cols[4] as number;
    compactionWriteMB += cols[5] as number;
  }
  return {files, sizeMB, compactionReadMB, compactionWriteMB};
}

async function openDb(dir: string, ledger: string): Promise<Db> {
  const db = new ClassicLevel<Uint8Array, Uint8Array>(dir, {keyEncoding: 'view', valueEncoding: 'view'});
  try {
    await db.open({createIfMissing: true});
  } catch (e) {
    const cause = (e as {cause?: unknown}).cause;
    if (errCode(cause) === 'LEVEL_LOCKED' || errCode(e) === 'LEVEL_LOCKED') {
      // The chain's LOCK is taken first, so a lock on the aux database alone means another
      // process holds just that one (say, a tool opened it): name the directory it holds.
      const which = dir === ledger ? `the ledger at ${ledger}` : `the ledger's index database at ${dir}`;
      throw new AstridError('LEDGER_LOCKED', `${which} is in use by another process (is a daemon running?)`, {
        cause: e,
        details: {location: ledger, database: dir},
      });
    }
    throw new AstridError('LEDGER_OPEN_FAILED', `cannot open the ledger at ${ledger}: ${(e as Error).message}`, {
      cause: e,
      details: {location: ledger, database: dir},
    });
  }
  return db;
}

/** Non-empty chunks of one database's range, in order, `limit` honoured. */
async function* chunks(db: Db, o: RangeOptions): AsyncGenerator<Pair[]> {
  const opts: {gte?: Uint8Array; lt?: Uint8Array; reverse: boolean; limit: number} = {
    reverse: o.reverse === true,
    limit: o.limit ?? -1,
  };
  if (o.gte !== undefined) opts.gte = o.gte;
  if (o.lt !== undefined) opts.lt = o.lt;
  const it = db.iterator(opts);
  // One read ahead: the next chunk is fetched on LevelDB's thread while the caller works on this one.
  let next: Promise<Pair[]> | undefined = it.nextv(CHUNK) as Promise<Pair[]>;
  try {
    for (;;) {
      const chunk: Pair[] = await next;
      next = undefined;
      if (chunk.length === 0) return;
      next = it.nextv(CHUNK) as Promise<Pair[]>; // a short chunk does not mean the end: ask until an empty one
      yield chunk;
    }
  } finally {
    if (next !== undefined) await next.catch(() => undefined);
    await it.close();
  }
}

/** Two ordered chunk streams as one, in key order (or reverse), `limit` honoured. */
async function* merged(a: AsyncGenerator<Pair[]>, b: AsyncGenerator<Pair[]>, o: RangeOptions): AsyncGenerator<Pair[]> {
  const sign = o.reverse === true ? -1 : 1;
  let left = o.limit ?? Infinity;
  const x = {it: a, buf: [] as Pair[], i: 0, done: false};
  const y = {it: b, buf: [] as Pair[], i: 0, done: false};
  const fill = async (s: typeof x): Promise<void> => {
    while (!s.done && s.i >= s.buf.length) {
      const r = await s.it.next();
      if (r.done === true) s.done = true;
      else {
        s.buf = r.value;
        s.i = 0;
      }
    }
  };
  try {
    for (;;) {
      await fill(x);
      await fill(y);
      const out: Pair[] = [];
      while (left > 0 && out.length < CHUNK && x.i < x.buf.length && y.i < y.buf.length) {
        const p = x.buf[x.i] as Pair;
        const q = y.buf[y.i] as Pair;
        if (sign * Buffer.compare(p[0], q[0]) <= 0) {
          out.push(p);
          x.i++;
        } else {
          out.push(q);
          y.i++;
        }
        left--;
      }
      // One side ran out for good: the rest of the other follows as it is.
      const rest = x.i < x.buf.length && y.done ? x : y.i < y.buf.length && x.done ? y : undefined;
      if (rest !== undefined) {
        while (left > 0 && out.length < CHUNK && rest.i < rest.buf.length) {
          out.push(rest.buf[rest.i++] as Pair);
          left--;
        }
      }
      if (out.length > 0) yield out;
      if (left <= 0 || (x.done && y.done && x.i >= x.buf.length && y.i >= y.buf.length)) return;
    }
  } finally {
    try {
      await a.return(undefined);
    } finally {
      await b.return(undefined);
    }
  }
}
