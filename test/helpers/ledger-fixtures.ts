/**
 * Shared fixtures for the ledger tests: a clock the test moves by hand (law 6), fixed
 * signing keys, one BLAKE3 hasher, an instrumented store decorator whose `_batch` hook
 * can be counted, gated and failed, ledger builders, and raw tampering helpers that work
 * on the stored layout ('E' u64be(seq) -> hash(32) || entry bytes).
 */
import {strict as assert} from 'node:assert';
import {AstridError, type ErrorCode} from '../../src/errors/index.js';
import {Blake3, SigningKey, concatBytes, u64be} from '../../src/crypto/index.js';
import {
  Ledger,
  LedgerStore,
  decodeEntry,
  encodeEntry,
  entryKey,
  prefixRange,
  P_CHECKPOINT,
  P_ENTRY,
  type AnyEntry,
  type AppendInput,
  type Appended,
  type BatchOp,
  type CheckpointSigner,
  type Clock,
  type LedgerEntry,
  type LedgerOptions,
  type RangeOptions,
  type VerifyReport,
} from '../../src/ledger/index.js';

/** A store factory: a fresh, unopened store and how to dispose of it. */
export type StoreFactory = () => Promise<{store: LedgerStore; cleanup(): Promise<void> | void}>;

/** Run `fn` on a fresh store from `make`, always cleaning up. */
export async function withStore<T>(make: StoreFactory, fn: (store: LedgerStore) => Promise<T>): Promise<T> {
  const {store, cleanup} = await make();
  try {
    return await fn(store);
  } finally {
    await store.close();
    await cleanup();
  }
}

/** A clock whose time is whatever the test sets `t` to (it may even go backwards). */
export interface TestClock extends Clock {
  t: number;
}
export function testClock(start = 1_700_000_000_000): TestClock {
  const c: TestClock = {t: start, now: () => c.t};
  return c;
}

const seed = (b: number): Uint8Array => new Uint8Array(32).fill(b);
/** The kernel key of every test ledger. */
export const KEY = SigningKey.fromSeed(seed(1));
/** Somebody else's key (an attacker's, or another kernel's). */
export const OTHER_KEY = SigningKey.fromSeed(seed(2));

let hasherP: Promise<Blake3> | undefined;
/** One BLAKE3 hasher for the whole test process. */
export const hasher = (): Promise<Blake3> => (hasherP ??= Blake3.create());

/** Open a write-mode ledger signed by KEY, with time-based checkpoints off unless asked. */
export async function openLedger(store: LedgerStore, o: Partial<LedgerOptions> = {}): Promise<Ledger> {
  return Ledger.open({store, clock: testClock(), signer: KEY, hasher: await hasher(), checkpointIntervalMs: 0, ...o});
}

/** Open a read-mode ledger (no signer) on `store`. */
export async function openReader(store: LedgerStore): Promise<Ledger> {
  return Ledger.open({store, clock: testClock(), mode: 'read', hasher: await hasher()});
}

export function note(text: string, session?: string, actor?: string): AppendInput<'note'> {
  return {kind: 'note', body: {text}, ...(session === undefined ? {} : {session}), ...(actor === undefined ? {} : {actor})};
}

/**
 * Append `inputs` in groups: the appends of one group are issued without awaiting (one
 * commit batch), then awaited before the next group starts. `sizes` cycles.
 */
export async function appendGroups(ledger: Ledger, inputs: readonly AppendInput[], sizes: readonly number[] = [1]): Promise<Appended[]> {
  const out: Appended[] = [];
  let i = 0;
  let g = 0;
  while (i < inputs.length) {
    const size = Math.max(1, sizes[g++ % sizes.length] ?? 1);
    out.push(...(await Promise.all(inputs.slice(i, i + size).map((x) => ledger.append(x)))));
    i += size;
  }
  return out;
}

/**
 * A ledger of `n` entries (genesis and n-1 notes across sessions, actors and batches),
 * closed, so the final checkpoint covers its head. Returns the store, still closed.
 */
export async function buildClosedLedger(store: LedgerStore, n: number, o: Partial<LedgerOptions> = {}): Promise<void> {
  const ledger = await openLedger(store, o);
  const inputs = Array.from({length: n - 1}, (_, i) => note(`note number ${i + 2}`, `s${i % 3}`, `a${i % 2}`));
  await appendGroups(ledger, inputs, [1, 3, 2]);
  await ledger.close();
}

/** The error issues of a report as [code, seq] pairs, in report order. */
export function errors(r: VerifyReport): Array<[string, number]> {
  return r.issues.filter((i) => i.severity === 'error').map((i) => [i.code, i.seq]);
}

/** A validator for assert.rejects/throws: an AstridError with `code`. */
export const code =
  (c: ErrorCode) =>
  (e: unknown): boolean => {
    assert.ok(e instanceof AstridError, `expected AstridError ${c}, got ${String(e)}`);
    assert.equal(e.code, c);
    return true;
  };

export const put = (store: LedgerStore, key: Uint8Array, value: Uint8Array): Promise<void> =>
  store.batch([{type: 'put', key, value}], {sync: true});
export const del = (store: LedgerStore, key: Uint8Array): Promise<void> => store.batch([{type: 'del', key}], {sync: true});

/** The stored value of entry `seq` (hash || bytes). */
export async function rawEntry(store: LedgerStore, seq: number): Promise<Uint8Array> {
  const v = await store.get(entryKey(seq));
  assert.ok(v !== undefined, `no entry ${seq}`);
  return v;
}

/** Every [key, value] of a prefix space ('E' entries by default). */
export async function rawAll(store: LedgerStore, prefix = P_ENTRY): Promise<Array<[Uint8Array, Uint8Array]>> {
  const out: Array<[Uint8Array, Uint8Array]> = [];
  for await (const kv of store.iterate(prefixRange(prefix))) out.push(kv);
  return out;
}

export async function checkpointSeqs(store: LedgerStore): Promise<number[]> {
  return (await rawAll(store, P_CHECKPOINT)).map(([k]) => Buffer.from(k).readUIntBE(3, 6));
}

/**
 * Rewrite the chain the way a careful attacker would: entry `from` becomes `edit(entry)`,
 * then every later entry gets the new prev and all hashes are recomputed, so every link
 * and every stored hash is consistent again. Only signed checkpoints can tell.
 */
export async function rechain(store: LedgerStore, from: number, edit: (e: AnyEntry) => LedgerEntry): Promise<void> {
  const h = await hasher();
  const ops: BatchOp[] = [];
  let prev: Uint8Array | undefined;
  for (const [k, v] of await rawAll(store)) {
    const seq = Buffer.from(k).readUIntBE(3, 6);
    if (seq < from) continue;
    const dec = decodeEntry(v.subarray(32));
    assert.ok(dec.ok, `entry ${seq} must decode`);
    const e: LedgerEntry = seq === from ? edit(dec.entry) : {...dec.entry, prev: prev as Uint8Array};
    const bytes = encodeEntry(e);
    prev = h.hash(e.prev, bytes);
    ops.push({type: 'put', key: k, value: Buffer.concat([prev, bytes])});
  }
  await store.batch(ops, {sync: true});
}

/**
 * Decorates a real backend: its protected `_batch` hook counts calls, records each batch's
 * ops, and can wait on a gate or fail, so tests can hold a commit in flight, inspect what
 * went out together, or make the disk "fail" without mocking the backend itself (it still
 * writes through to the real store).
 */
export class InstrumentedStore extends LedgerStore {
  readonly inner: LedgerStore;
  batches = 0;
  readonly sizes: number[] = [];
  /** The ops of every batch handed to `_batch`, in order (failed ones included). */
  readonly log: Array<readonly BatchOp[]> = [];
  gate: Promise<void> | undefined;
  failWith: Error | undefined;
  /** When it returns true for a batch, that batch fails as a whole and writes nothing (a crash before it landed). */
  failIf: ((ops: readonly BatchOp[]) => boolean) | undefined;
  /** When it returns a promise for a batch, that batch waits for it (others pass). */
  gateIf: ((ops: readonly BatchOp[]) => Promise<void> | undefined) | undefined;

  constructor(inner: LedgerStore) {
    super();
    this.inner = inner;
  }

  /** Close the gate; returns the function that opens it. */
  hold(): () => void {
    let open!: () => void;
    this.gate = new Promise<void>((r) => (open = r));
    return () => {
      this.gate = undefined;
      open();
    };
  }

  protected async _open(): Promise<void> {
    if (this.inner.status !== 'open') await this.inner.open();
  }
  protected async _close(): Promise<void> {
    await this.inner.close();
  }
  protected async _batch(ops: readonly BatchOp[], sync: boolean): Promise<void> {
    this.batches++;
    this.sizes.push(ops.length);
    this.log.push([...ops]);
    if (this.gate !== undefined) await this.gate;
    const g = this.gateIf?.(ops);
    if (g !== undefined) await g;
    if (this.failWith !== undefined) throw this.failWith;
    if (this.failIf?.(ops) === true) throw new Error('injected failure: this batch never reached the disk');
    await this.inner.batch(ops, {sync});
  }
  protected _get(key: Uint8Array): Promise<Uint8Array | undefined> {
    return this.inner.get(key);
  }
  protected async *_iterate(o: RangeOptions): AsyncGenerator<ReadonlyArray<[Uint8Array, Uint8Array]>> {
    yield* this.inner.iterateChunks(o);
  }
}

/**
 * The bytes a v2 projection snapshot signature covers, written out here from the format
 * rather than imported, so a change to what the kernel signs shows up as a test failure:
 *   "astrid.snapshot.v2" 0x00 || name (UTF-8) || 0x00 || u64be(version) || u64be(seq) || entryHash || stateHash
 */
export function snapshotMessage(name: string, version: number, seq: number, entryHash: Uint8Array, stateHash: Uint8Array): Uint8Array {
  const enc = (t: string): Uint8Array => new Uint8Array(Buffer.from(t, 'utf8'));
  return concatBytes(enc('astrid.snapshot.v2\u0000'), enc(name), Uint8Array.of(0), u64be(version), u64be(seq), entryHash, stateHash);
}

/** A decoded snapshot record with `sig` replaced by `signer`'s signature over its (possibly edited) fields. */
export function signSnapshotRecord(r: Record<string, unknown>, signer: CheckpointSigner = KEY): Record<string, unknown> {
  const msg = snapshotMessage(r.name as string, r.version as number, r.seq as number, r.entryHash as Uint8Array, r.stateHash as Uint8Array);
  return {...r, sig: signer.sign(msg)};
}

/** Plain Uint8Array copy: backends may hand out Buffers, which deepStrictEqual tells apart. */
export const u8 = (x: Uint8Array | undefined): Uint8Array | undefined => (x === undefined ? undefined : new Uint8Array(x));

/** Let queued microtasks and I/O callbacks run `n` times over. */
export async function turns(n = 10): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise<void>((r) => setImmediate(r));
}
