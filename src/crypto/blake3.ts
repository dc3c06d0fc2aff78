/**
 * BLAKE3 through hash-wasm. The WebAssembly hasher is created once (asynchronously) and
 * reused for every hash: creating one per call costs more than the hash itself.
 * A `Blake3` is not re-entrant across awaits, but every method here is synchronous,
 * so one instance can serve a whole process.
 *
 * Short inputs (up to 16 KiB, every ledger entry in practice) also have a direct path:
 * a second instance of hash-wasm's own BLAKE3 module, driven through its one-call export
 * (`Hash_Calculate`) over bytes already in its input buffer. A caller can encode straight
 * into that buffer and get the digest written over its first 32 bytes, with no copy in,
 * no copy out and nothing allocated: about 0.7 us instead of 1.0 us for a 333-byte entry.
 * The module is the one hash-wasm ships (read from its package, not a build of ours) and
 * is used only after it agrees with the regular hasher on inputs of every shape that
 * matters (empty, one block, one chunk, several chunks, the whole buffer); if it cannot be
 * loaded or disagrees, every method falls back to the regular hasher.
 */
import {readFile} from 'node:fs/promises';
import {createRequire} from 'node:module';
import {createBLAKE3, type IHasher} from 'hash-wasm';
import {toHex} from './bytes.js';

/** Length of a BLAKE3 digest as used by Astrid (256 bits). */
export const BLAKE3_LEN = 32;

declare const blake3HexBrand: unique symbol;
/** 64 lowercase hex digits naming a BLAKE3 digest. Made only by `parseBlake3Hex` or `Blake3.hex`. */
export type Blake3Hex = string & {readonly [blake3HexBrand]: true};

const BLAKE3_HEX_RE = /^[0-9a-f]{64}$/;

/**
 * Validate a BLAKE3 hex digest (accepts an optional `blake3:` prefix; normalises to lowercase).
 * @throws TypeError when the value is not 64 hex digits.
 */
export function parseBlake3Hex(value: unknown): Blake3Hex {
  if (typeof value !== 'string') throw new TypeError('BLAKE3 digest must be a string');
  const v = (value.startsWith('blake3:') ? value.slice(7) : value).toLowerCase();
  if (!BLAKE3_HEX_RE.test(v)) throw new TypeError('BLAKE3 digest must be 64 hex digits');
  return v as Blake3Hex;
}

/** The size of hash-wasm's input buffer: the most the direct path hashes in one call. */
export const BLAKE3_DIRECT_MAX = 16 * 1024;

/** hash-wasm's BLAKE3 module, instantiated by us: its input buffer and its one-call hash. */
interface Direct {
  readonly memory: WebAssembly.Memory;
  readonly at: number;
  /** Hash_Calculate(length, keyLength, digestBytes): digest over buffer[0, length), written at buffer[0]. */
  readonly calculate: (length: number, keyLength: number, digestBytes: number) => void;
}

/** Byte i of a check input: the official vectors' pattern, offset so no two lengths share a prefix. */
function checkInput(len: number): Uint8Array {
  const out = new Uint8Array(len);
  for (let i = 0; i < len; i++) out[i] = (i + len) % 251;
  return out;
}

/** Lengths that cover BLAKE3's paths: empty, partial and whole blocks, one chunk, many chunks, the whole buffer. */
const CHECK_LENGTHS = [0, 1, 31, 32, 63, 64, 65, 333, 1023, 1024, 1025, 2048, 2049, 3072, 5000, 8192, 12_345, BLAKE3_DIRECT_MAX];

/**
 * Instantiate hash-wasm's BLAKE3 module a second time, from the package's own bundle, and
 * return it only if it hashes every check input exactly like `reference`. Undefined (the
 * caller falls back to `reference`) when the bundle cannot be read or parsed, the module
 * does not have the expected exports, or any digest differs.
 */
async function loadDirect(reference: IHasher): Promise<Direct | string> {
  try {
    const file = createRequire(import.meta.url).resolve('hash-wasm/dist/blake3.umd.min.js');
    const src = await readFile(file, 'utf8');
    const m = /name\s*:\s*"blake3"\s*,\s*data\s*:\s*"([A-Za-z0-9+/]+={0,2})"/.exec(src);
    if (m === null) return `no BLAKE3 module found in ${file}`;
    const bytes = Buffer.from(m[1] as string, 'base64');
    const {instance} = await WebAssembly.instantiate(bytes, {});
    const ex = instance.exports;
    const memory = ex['memory'];
    const getBuffer = ex['Hash_GetBuffer'];
    const calculate = ex['Hash_Calculate'];
    if (!(memory instanceof WebAssembly.Memory) || typeof getBuffer !== 'function' || typeof calculate !== 'function') return 'the module lacks memory, Hash_GetBuffer or Hash_Calculate';
    const at: unknown = getBuffer();
    if (typeof at !== 'number' || !Number.isInteger(at) || at < 0 || at + BLAKE3_DIRECT_MAX > memory.buffer.byteLength) return 'the module\'s input buffer is not where expected';
    const d: Direct = {memory, at, calculate: calculate as Direct['calculate']};
    for (const len of CHECK_LENGTHS) {
      const input = checkInput(len);
      const want = reference.init().update(input).digest('binary');
      const buf = new Uint8Array(memory.buffer, at, BLAKE3_DIRECT_MAX);
      buf.set(input, 0);
      d.calculate(len, 0, BLAKE3_LEN);
      for (let i = 0; i < BLAKE3_LEN; i++) if (buf[i] !== want[i]) return `the module disagrees with hash-wasm's hasher on ${len} bytes`;
    }
    return d;
  } catch (e) {
    return `cannot load the module: ${(e as Error).message}`;
  }
}

/** A reusable BLAKE3 hasher. Create with `await Blake3.create()`. */
export class Blake3 {
  readonly #h: IHasher;
  readonly #d: Direct | undefined;
  readonly #problem: string | undefined;
  /** The direct path's input buffer (remade if the module's memory ever grew and detached it). */
  #buf: Uint8Array | undefined;

  private constructor(h: IHasher, d: Direct | string) {
    this.#h = h;
    this.#d = typeof d === 'string' ? undefined : d;
    this.#problem = typeof d === 'string' ? d : undefined;
    this.#buf = this.#d === undefined ? undefined : new Uint8Array(this.#d.memory.buffer, this.#d.at, BLAKE3_DIRECT_MAX);
  }

  /** Load the WebAssembly hasher. Call once per process and keep the instance. */
  static async create(): Promise<Blake3> {
    const h = await createBLAKE3(BLAKE3_LEN * 8);
    return new Blake3(h, await loadDirect(h));
  }

  /** True when the direct path is in use (see the module comment). */
  get direct(): boolean {
    return this.#d !== undefined;
  }

  /** Why the direct path is not in use (undefined when it is): every hash is then the regular hasher's. */
  get directProblem(): string | undefined {
    return this.#problem;
  }

  /**
   * The direct path's input buffer (BLAKE3_DIRECT_MAX bytes), or undefined without one.
   * Write the input at its start and call `hashBuffer`. Every method of this hasher may
   * overwrite it: use it between two calls, never across one. (A view of it passed to
   * `hash` or `hashOne` is still hashed correctly: they detect it.)
   */
  get buffer(): Uint8Array | undefined {
    const b = this.#buf;
    if (b === undefined || b.byteLength !== 0) return b;
    const d = this.#d as Direct;
    return (this.#buf = new Uint8Array(d.memory.buffer, d.at, BLAKE3_DIRECT_MAX));
  }

  /**
   * BLAKE3-256 of `buffer[0, length)`, written over `buffer[0, 32)`.
   * @throws RangeError without a direct path, or when length is not an integer in [0, BLAKE3_DIRECT_MAX].
   */
  hashBuffer(length: number): void {
    if (this.#d === undefined) throw new RangeError('this hasher has no direct buffer');
    if (!Number.isInteger(length) || length < 0 || length > BLAKE3_DIRECT_MAX) throw new RangeError(`length must be in [0, ${BLAKE3_DIRECT_MAX}]`);
    this.#d.calculate(length, 0, BLAKE3_LEN);
  }

  /** BLAKE3-256 of the concatenation of `parts`, as 32 bytes. */
  hash(...parts: Uint8Array[]): Uint8Array {
    if (this.#d !== undefined) {
      // Only plain bytes, none of them a view of the direct buffer itself: copying one part in
      // would overwrite another before it is copied (one part alone is safe: set() handles overlap).
      const mem = this.#d.memory.buffer;
      let n = 0;
      for (const p of parts) {
        if (!(p instanceof Uint8Array) || (parts.length > 1 && p.buffer === mem)) {
          n = Infinity;
          break;
        }
        n += p.length;
      }
      if (n <= BLAKE3_DIRECT_MAX) {
        const b = this.buffer as Uint8Array;
        let at = 0;
        for (const p of parts) {
          b.set(p, at);
          at += p.length;
        }
        this.#d.calculate(n, 0, BLAKE3_LEN);
        return b.slice(0, BLAKE3_LEN);
      }
    }
    const h = this.#h.init();
    for (const p of parts) h.update(p);
    return h.digest('binary');
  }

  /** BLAKE3-256 of one buffer (no rest-argument array: the hot path of the ledger). */
  hashOne(bytes: Uint8Array): Uint8Array {
    if (this.#d !== undefined && bytes instanceof Uint8Array && bytes.length <= BLAKE3_DIRECT_MAX) {
      const b = this.buffer as Uint8Array; // a view of it as input is fine: set() handles overlap
      b.set(bytes, 0);
      this.#d.calculate(bytes.length, 0, BLAKE3_LEN);
      return b.slice(0, BLAKE3_LEN);
    }
    return this.#h.init().update(bytes).digest('binary');
  }

  /** BLAKE3-256 of the concatenation of `parts`, as lowercase hex. */
  hex(...parts: Uint8Array[]): Blake3Hex {
    return toHex(this.hash(...parts)) as Blake3Hex;
  }
}
