/**
 * The storage contract under the ledger: an ordered byte-key/byte-value store with atomic
 * batches. Public methods validate arguments and state, then call the protected hooks
 * that a backend implements (the abstract-level pattern). The memory and LevelDB
 * backends override only the hooks and pass one shared compliance suite.
 *
 * One latitude: a backend may write a batch's chain ops (`isChainKey`: the format mark,
 * entries, genesis's checkpoint) and its other ops (later checkpoints, indexes, snapshots)
 * as two atomic parts, the chain part first and written (synced, when asked) before the
 * other is begun. A crash between the two then loses only what lies beside the chain.
 * LevelStore does this (see level-store.ts); the ledger itself writes the two as batches
 * of their own anyway (ledger.ts, #writeBeside).
 */
import {AstridError} from '../errors/index.js';

export type BatchOp =
  | {readonly type: 'put'; readonly key: Uint8Array; readonly value: Uint8Array}
  | {readonly type: 'del'; readonly key: Uint8Array};

export interface RangeOptions {
  readonly gte?: Uint8Array;
  readonly lt?: Uint8Array;
  readonly reverse?: boolean;
  readonly limit?: number;
}

export type StoreStatus = 'new' | 'opening' | 'open' | 'closing' | 'closed';

/**
 * A batch filled one op at a time and then written atomically, once. A backend may hand each
 * op to storage as it is added (LevelStore copies it into a LevelDB write batch at once), or
 * keep the key and value until `write` (so they must not be changed after `put`). Nothing
 * is visible before `write` resolves; a batch that is discarded, or whose write fails,
 * writes nothing.
 */
export interface BatchWriter {
  /** Ops added so far. */
  readonly length: number;
  /**
   * True when `put` copies the key and value before it returns, so the caller may reuse
   * their memory at once (the ledger then encodes every entry into the same buffer).
   */
  readonly copies?: boolean;
  /** @throws TypeError on a key that is not a non-empty Uint8Array or a value that is not a Uint8Array. */
  put(key: Uint8Array, value: Uint8Array): void;
  del(key: Uint8Array): void;
  /**
   * Apply every op added, atomically; with `sync`, resolves only once they are on stable
   * storage. Call at most once, and add nothing after.
   * @throws AstridError LEDGER_NOT_OPEN when the store is not open.
   */
  write(options: {sync: boolean}): Promise<void>;
  /** Drop the ops without writing them. */
  discard(): void;
}

/** @throws TypeError unless `key` is a non-empty Uint8Array and `value` (for a put) a Uint8Array. */
export function checkOp(key: unknown, value: unknown): void {
  if (!(key instanceof Uint8Array) || key.length === 0) throw new TypeError('op.key must be a non-empty Uint8Array');
  if (value !== undefined && !(value instanceof Uint8Array)) throw new TypeError('op.value must be a Uint8Array');
}

/** The portable BatchWriter: collects ops and writes them with `store.batch`. */
class BufferedWriter implements BatchWriter {
  #ops: BatchOp[] = [];
  readonly #store: LedgerStore;
  constructor(store: LedgerStore) {
    this.#store = store;
  }
  get length(): number {
    return this.#ops.length;
  }
  put(key: Uint8Array, value: Uint8Array): void {
    checkOp(key, value);
    this.#ops.push({type: 'put', key, value});
  }
  del(key: Uint8Array): void {
    checkOp(key, undefined);
    this.#ops.push({type: 'del', key});
  }
  write(options: {sync: boolean}): Promise<void> {
    const ops = this.#ops;
    this.#ops = [];
    return this.#store.batch(ops, options);
  }
  discard(): void {
    this.#ops = [];
  }
}

/** An ordered key-value store with atomic, optionally synced, batches. */
export abstract class LedgerStore {
  #status: StoreStatus = 'new';

  get status(): StoreStatus {
    return this.#status;
  }

  /**
   * Open the store.
   * @throws AstridError LEDGER_LOCKED when another process holds it, LEDGER_OPEN_FAILED otherwise.
   */
  async open(): Promise<void> {
    if (this.#status !== 'new' && this.#status !== 'closed') throw new AstridError('LEDGER_OPEN_FAILED', `store is ${this.#status}`);
    this.#status = 'opening';
    try {
      await this._open();
      this.#status = 'open';
    } catch (e) {
      this.#status = 'closed';
      throw e;
    }
  }

  /** Close the store; idempotent. */
  async close(): Promise<void> {
    if (this.#status !== 'open') return;
    this.#status = 'closing';
    try {
      await this._close();
    } finally {
      this.#status = 'closed';
    }
  }

  /**
   * Apply `ops` atomically. With `sync`, resolves only once the batch is on stable storage.
   * @throws AstridError LEDGER_NOT_OPEN when not open; TypeError on malformed ops.
   */
  async batch(ops: readonly BatchOp[], options: {sync: boolean}): Promise<void> {
    this.#assertOpen();
    if (!Array.isArray(ops)) throw new TypeError('ops must be an array');
    for (const op of ops) {
      if (!(op.key instanceof Uint8Array) || op.key.length === 0) throw new TypeError('op.key must be a non-empty Uint8Array');
      if (op.type === 'put' && !(op.value instanceof Uint8Array)) throw new TypeError('op.value must be a Uint8Array');
      if (op.type !== 'put' && op.type !== 'del') throw new TypeError('op.type must be put or del');
    }
    if (ops.length === 0) return;
    await this._batch(ops, options.sync === true);
  }

  /**
   * A batch to fill op by op and write once (see BatchWriter): the ledger's group commit hands
   * each entry over as it is appended instead of keeping it until the batch is sealed.
   * Backends whose `_batch` is the only write path need not override `_writer`.
   * @throws AstridError LEDGER_NOT_OPEN when not open.
   */
  writer(): BatchWriter {
    this.#assertOpen();
    return this._writer();
  }

  /** The value at `key`, or undefined. */
  async get(key: Uint8Array): Promise<Uint8Array | undefined> {
    this.#assertOpen();
    if (!(key instanceof Uint8Array)) throw new TypeError('key must be a Uint8Array');
    return this._get(key);
  }

  /** Iterate `[key, value]` pairs in key order (or reverse) within the range. */
  async *iterate(options: RangeOptions = {}): AsyncGenerator<[Uint8Array, Uint8Array]> {
    this.#assertOpen();
    if (options.limit !== undefined && (!Number.isSafeInteger(options.limit) || options.limit < 0)) {
      throw new RangeError('limit must be a non-negative integer');
    }
    if (options.limit === 0) return;
    for await (const chunk of this._iterate(options)) yield* chunk;
  }

  /** Like `iterate`, but yields arrays of pairs: fewer awaits on hot paths (verification). */
  async *iterateChunks(options: RangeOptions = {}): AsyncGenerator<ReadonlyArray<[Uint8Array, Uint8Array]>> {
    this.#assertOpen();
    if (options.limit !== undefined && (!Number.isSafeInteger(options.limit) || options.limit < 0)) {
      throw new RangeError('limit must be a non-negative integer');
    }
    if (options.limit === 0) return;
    yield* this._iterate(options);
  }

  #assertOpen(): void {
    if (this.#status !== 'open') throw new AstridError('LEDGER_NOT_OPEN', `store is ${this.#status}`);
  }

  protected abstract _open(): Promise<void>;
  protected abstract _close(): Promise<void>;
  protected abstract _batch(ops: readonly BatchOp[], sync: boolean): Promise<void>;
  /** A writer whose `write` ends in `_batch` (through `batch`); override to stream ops to storage. */
  protected _writer(): BatchWriter {
    return new BufferedWriter(this);
  }
  protected abstract _get(key: Uint8Array): Promise<Uint8Array | undefined>;
  /** Yield non-empty chunks of pairs in order, honouring `limit` across chunks. */
  protected abstract _iterate(options: RangeOptions): AsyncGenerator<ReadonlyArray<[Uint8Array, Uint8Array]>>;
}
