/**
 * Byte helpers shared by the kernel: hex codecs that validate, constant-time equality,
 * big-endian u64 for sortable keys. Small on purpose; no dependency.
 */

const HEX_RE = /^(?:[0-9a-f]{2})*$/;

/** Lowercase hex of `bytes`. */
export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/**
 * Parse lowercase or uppercase hex into bytes.
 * @throws TypeError when `hex` is not a string of hex digit pairs, or not `expectedLength` bytes long.
 */
export function fromHex(hex: string, expectedLength?: number): Uint8Array {
  if (typeof hex !== 'string') throw new TypeError('hex must be a string');
  const lower = hex.toLowerCase();
  if (!HEX_RE.test(lower)) throw new TypeError('hex must be an even number of hex digits');
  const out = new Uint8Array(Buffer.from(lower, 'hex'));
  if (expectedLength !== undefined && out.length !== expectedLength) {
    throw new TypeError(`hex must encode ${expectedLength} bytes, got ${out.length}`);
  }
  return out;
}

/** Byte equality in time independent of where the first difference is. */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= (a[i] as number) ^ (b[i] as number);
  return diff === 0;
}

/** Concatenate byte arrays. */
export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let len = 0;
  for (const p of parts) len += p.length;
  const out = new Uint8Array(len);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/**
 * Big-endian unsigned 64-bit encoding of a safe integer (sorts bytewise like the number).
 * @throws RangeError when `n` is not a non-negative safe integer.
 */
export function u64be(n: number): Uint8Array {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`u64be: not a non-negative safe integer: ${n}`);
  const out = new Uint8Array(8);
  const hi = Math.floor(n / 0x1_0000_0000);
  const lo = n >>> 0;
  out[0] = hi >>> 24;
  out[1] = (hi >>> 16) & 0xff;
  out[2] = (hi >>> 8) & 0xff;
  out[3] = hi & 0xff;
  out[4] = lo >>> 24;
  out[5] = (lo >>> 16) & 0xff;
  out[6] = (lo >>> 8) & 0xff;
  out[7] = lo & 0xff;
  return out;
}

/**
 * Read a big-endian u64 at `offset`.
 * @throws RangeError when fewer than 8 bytes remain or the value exceeds 2^53-1.
 */
export function readU64be(bytes: Uint8Array, offset = 0): number {
  if (offset < 0 || offset + 8 > bytes.length) throw new RangeError('readU64be: out of range');
  const b = (i: number): number => bytes[offset + i] as number;
  const hi = ((b(0) << 24) | (b(1) << 16) | (b(2) << 8) | b(3)) >>> 0;
  const lo = ((b(4) << 24) | (b(5) << 16) | (b(6) << 8) | b(7)) >>> 0;
  if (hi > 0x1f_ffff) throw new RangeError('readU64be: value exceeds 2^53-1');
  return hi * 0x1_0000_0000 + lo;
}
