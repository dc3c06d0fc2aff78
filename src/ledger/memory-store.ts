/**
 * In-memory LedgerStore: a map from keys (as latin1 strings, which sort like the bytes)
 * to values, with a sorted key array rebuilt lazily when a read needs order. For tests
 * and ephemeral kernels; nothing is durable.
 */
import {LedgerStore, type BatchOp, type RangeOptions} from './store.js';

const CHUNK = 1000;
const k2s = (k: Uint8Array): string => Buffer.from(k.buffer, k.byteOffset, k.byteLength).toString('latin1');
const s2k = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'latin1'));

export class MemoryStore extends LedgerStore {
  #values = new Map<string, Uint8Array>();
  #sorted: string[] | undefined = [];

  protected async _open(): Promise<void> {}
  protected async _close(): Promise<void> {}

  #keys(): string[] {
    this.#sorted ??= [...this.#values.keys()].sort();
    return this.#sorted;
  }

  #index(keys: string[], s: string): number {
    let lo = 0;
    let hi = keys.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((keys[mid] as string) < s) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  protected async _batch(ops: readonly BatchOp[]): Promise<void> {
    for (const op of ops) {
      const s = k2s(op.key);
      if (op.type === 'put') {
        if (!this.#values.has(s)) this.#sorted = undefined;
        this.#values.set(s, op.value.slice());
      } else if (this.#values.delete(s)) {
        this.#sorted = undefined;
      }
    }
  }

  protected async _get(key: Uint8Array): Promise<Uint8Array | undefined> {
    const v = this.#values.get(k2s(key));
    return v === undefined ? undefined : v.slice();
  }

  protected async *_iterate(o: RangeOptions): AsyncGenerator<ReadonlyArray<[Uint8Array, Uint8Array]>> {
    const keys = this.#keys();
    const lo = o.gte === undefined ? 0 : this.#index(keys, k2s(o.gte));
    const hi = o.lt === undefined ? keys.length : this.#index(keys, k2s(o.lt));
    // A snapshot, as LevelDB's iterators read one: the range's keys and values as they are
    // now (a put replaces a value, never changes it, so holding it is enough).
    const snapshot: Array<[string, Uint8Array]> = [];
    for (let i = lo; i < hi; i++) {
      const s = keys[i] as string;
      snapshot.push([s, this.#values.get(s) as Uint8Array]);
    }
    if (o.reverse) snapshot.reverse();
    const limit = o.limit ?? Infinity;
    let chunk: Array<[Uint8Array, Uint8Array]> = [];
    let n = 0;
    for (const [s, v] of snapshot) {
      if (n >= limit) break;
      n++;
      chunk.push([s2k(s), v.slice()]);
      if (chunk.length === CHUNK) {
        yield chunk;
        chunk = [];
      }
    }
    if (chunk.length > 0) yield chunk;
  }
}
