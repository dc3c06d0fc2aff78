/**
 * BLAKE3 through hash-wasm. The WebAssembly hasher is created once (asynchronously) and
 * reused for every hash: creating one per call costs more than the hash itself.
 * A `Blake3` is not re-entrant across awaits, but every method here is synchronous,
 * so one instance can serve a whole process.
 */
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

/** A reusable BLAKE3 hasher. Create with `await Blake3.create()`. */
export class Blake3 {
  readonly #h: IHasher;

  private constructor(h: IHasher) {
    this.#h = h;
  }

  /** Load the WebAssembly hasher. Call once per process and keep the instance. */
  static async create(): Promise<Blake3> {
    return new Blake3(await createBLAKE3(BLAKE3_LEN * 8));
  }

  /** BLAKE3-256 of the concatenation of `parts`, as 32 bytes. */
  hash(...parts: Uint8Array[]): Uint8Array {
    const h = this.#h.init();
    for (const p of parts) h.update(p);
    return h.digest('binary');
  }

  /** BLAKE3-256 of one buffer (no rest-argument array: the hot path of the ledger). */
  hashOne(bytes: Uint8Array): Uint8Array {
    return this.#h.init().update(bytes).digest('binary');
  }

  /** BLAKE3-256 of the concatenation of `parts`, as lowercase hex. */
  hex(...parts: Uint8Array[]): Blake3Hex {
    return toHex(this.hash(...parts)) as Blake3Hex;
  }
}
