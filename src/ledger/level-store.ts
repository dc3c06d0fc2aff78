/**
 * LedgerStore on LevelDB (classic-level). Batches are atomic; `sync: true` batches are
 * fsynced before they resolve. LevelDB's own LOCK file makes a second opener fail,
 * which is reported as LEDGER_LOCKED rather than anything that could corrupt data.
 */
import {ClassicLevel} from 'classic-level';
import {AstridError} from '../errors/index.js';
import {LedgerStore, checkOp, type BatchOp, type BatchWriter, type RangeOptions} from './store.js';

const CHUNK = 1000;

function errCode(e: unknown): string | undefined {
  if (typeof e !== 'object' || e === null) return undefined;
  const code = (e as {code?: unknown}).code;
  return typeof code === 'string' ? code : undefined;
}

type ChainedBatch = ReturnType<ClassicLevel<Uint8Array, Uint8Array>['batch']>;

/**
 * A LevelDB chained batch filled op by op: each put crosses into C++ at once and is copied
 * into the native write batch, so nothing of it stays on the JavaScript heap until the write.
 * The native batch is made on the first op.
 */
class LevelWriter implements BatchWriter {
  /** classic-level's batch_put copies both into the native write batch. */
  readonly copies = true;
  readonly #db: ClassicLevel<Uint8Array, Uint8Array>;
  #b: ChainedBatch | undefined;
  #n = 0;
  constructor(db: ClassicLevel<Uint8Array, Uint8Array>) {
    this.#db = db;
  }
  get length(): number {
    return this.#n;
  }
  put(key: Uint8Array, value: Uint8Array): void {
    checkOp(key, value);
    (this.#b ??= this.#db.batch()).put(key, value);
    this.#n++;
  }
  del(key: Uint8Array): void {
    checkOp(key, undefined);
    (this.#b ??= this.#db.batch()).del(key);
    this.#n++;
  }
  async write(options: {sync: boolean}): Promise<void> {
    const b = this.#b;
    this.#b = undefined;
    this.#n = 0;
    if (this.#db.status !== 'open') {
      if (b !== undefined) void b.close().catch(() => undefined);
      throw new AstridError('LEDGER_NOT_OPEN', `store is ${this.#db.status}`);
    }
    if (b !== undefined) await b.write({sync: options.sync === true});
  }
  discard(): void {
    const b = this.#b;
    this.#b = undefined;
    this.#n = 0;
    if (b !== undefined) void b.close().catch(() => undefined);
  }
}

export class LevelStore extends LedgerStore {
  readonly location: string;
  #db: ClassicLevel<Uint8Array, Uint8Array> | undefined;

  constructor(location: string) {
    super();
    if (typeof location !== 'string' || location.length === 0) throw new TypeError('location must be a non-empty path');
    this.location = location;
  }

  #dbOrThrow(): ClassicLevel<Uint8Array, Uint8Array> {
    if (this.#db === undefined) throw new AstridError('LEDGER_NOT_OPEN', 'store is not open');
    return this.#db;
  }

  protected async _open(): Promise<void> {
    const db = new ClassicLevel<Uint8Array, Uint8Array>(this.location, {keyEncoding: 'view', valueEncoding: 'view'});
    try {
      await db.open({createIfMissing: true});
    } catch (e) {
      const cause = (e as {cause?: unknown}).cause;
      if (errCode(cause) === 'LEVEL_LOCKED' || errCode(e) === 'LEVEL_LOCKED') {
        throw new AstridError('LEDGER_LOCKED', `the ledger at ${this.location} is in use by another process (is a daemon running?)`, {
          cause: e,
          details: {location: this.location},
        });
      }
      throw new AstridError('LEDGER_OPEN_FAILED', `cannot open the ledger at ${this.location}: ${(e as Error).message}`, {
        cause: e,
        details: {location: this.location},
      });
    }
    this.#db = db;
  }

  protected async _close(): Promise<void> {
    const db = this.#db;
    this.#db = undefined;
    if (db !== undefined) await db.close();
  }

  protected async _batch(ops: readonly BatchOp[], sync: boolean): Promise<void> {
    // The chained batch crosses into C++ once per op without abstract-level's per-op
    // array validation: about 4x the throughput of db.batch(array) here.
    const b = this.#dbOrThrow().batch();
    for (const op of ops) {
      if (op.type === 'put') b.put(op.key, op.value);
      else b.del(op.key);
    }
    await b.write({sync});
  }

  protected override _writer(): BatchWriter {
    // A subclass that intercepts _batch must see every write: give it the buffered writer.
    if (this._batch !== LevelStore.prototype._batch) return super._writer();
    return new LevelWriter(this.#dbOrThrow());
  }

  protected async _get(key: Uint8Array): Promise<Uint8Array | undefined> {
    const v = await this.#dbOrThrow().get(key);
    return v === undefined ? undefined : v;
  }

  protected async *_iterate(o: RangeOptions): AsyncGenerator<ReadonlyArray<[Uint8Array, Uint8Array]>> {
    const opts: {gte?: Uint8Array; lt?: Uint8Array; reverse: boolean; limit: number} = {
      reverse: o.reverse === true,
      limit: o.limit ?? -1,
    };
    if (o.gte !== undefined) opts.gte = o.gte;
    if (o.lt !== undefined) opts.lt = o.lt;
    const it = this.#dbOrThrow().iterator(opts);
    // One read ahead: the next chunk is fetched on LevelDB's thread while the caller works on this one.
    let next: Promise<Array<[Uint8Array, Uint8Array]>> | undefined = it.nextv(CHUNK) as Promise<Array<[Uint8Array, Uint8Array]>>;
    try {
      for (;;) {
        const chunk: Array<[Uint8Array, Uint8Array]> = await next;
        next = undefined;
        if (chunk.length === 0) return;
        next = it.nextv(CHUNK) as Promise<Array<[Uint8Array, Uint8Array]>>; // a short chunk does not mean the end: ask until an empty one
        yield chunk;
      }
    } finally {
      if (next !== undefined) await next.catch(() => undefined);
      await it.close();
    }
  }
}
