/**
 * Hand-written decoders for the common shapes of what a guest passes to `call` and `send`: a
 * msgpack map `{op: str, args: {key: scalar, ...}}`, or `{topic: str, payload: scalar,
 * corr?: scalar}`, whose strings are ASCII and whose scalars are strings, bytes, unsigned
 * integers, nil or booleans. It reads guest memory in place (no copy
 * of the request), allocates only the result, and is bounded by the request length.
 *
 * It is an accelerator, never a second grammar: for any input it either returns exactly what
 * the generic untrusted decoder (`unpackUntrusted` in msgpack.ts, then the `{op, args}` map
 * check) would return, or `undefined`, and the caller then takes the generic path. So it
 * declines, rather than decides, everything unusual: other value types, nested maps or arrays
 * in `args`, non-ASCII strings (the generic decoder's UTF-8 handling decides those), duplicate
 * or reserved keys (`__proto__`, `constructor`, `prototype`), trailing bytes, truncation.
 */

/** A decoded send message (the generic decoder's result, narrowed). */
export interface SendRequest {
  readonly topic: string;
  readonly payload: Scalar;
  /** Absent: undefined; the caller checks its type, as for the generic decoder's result. */
  readonly corr: Scalar | undefined;
}

type Scalar = string | Uint8Array | number | boolean | null;

/**
 * Decode `{topic, payload, corr?}` from `mem[start, end)`; undefined means "not the common
 * shape: decode it generically", never "invalid".
 */
export function decodeSendRequest(mem: Buffer, start: number, end: number): SendRequest | undefined {
  const r = new Reader(mem, start, end);
  const n = r.mapHeader();
  if (n !== 2 && n !== 3) return undefined;
  let topic: string | undefined;
  let payload: Scalar | undefined;
  let corr: Scalar | undefined;
  let seen = 0;
  for (let i = 0; i < n; i++) {
    const k = r.str();
    if (k === 'topic' && (seen & 1) === 0) {
      topic = r.str();
      if (topic === undefined) return undefined;
      seen |= 1;
    } else if (k === 'payload' && (seen & 2) === 0) {
      payload = r.scalar();
      if (payload === undefined) return undefined;
      seen |= 2;
    } else if (k === 'corr' && (seen & 4) === 0) {
      corr = r.scalar();
      if (corr === undefined) return undefined;
      seen |= 4;
    } else {
      return undefined;
    }
  }
  if (r.pos !== end || topic === undefined || payload === undefined) return undefined;
  return {topic, payload, corr};
}

/** A decoded call request (the generic decoder's result, narrowed). */
export interface CallRequest {
  readonly op: string;
  readonly args: Record<string, unknown>;
}

/** Most argument keys the fast path handles (the v1 services take at most 3). */
const MAX_ARGS = 8;
/** Longest string kept in the intern table, and the table's size (a power of two). */
const MAX_INTERNED = 64;
const INTERN_SLOTS = 1024;
const interned: (string | undefined)[] = new Array<string | undefined>(INTERN_SLOTS).fill(undefined);

/**
 * Decode `{op, args}` from `mem[start, end)`; undefined means "not the common shape: decode it
 * generically", never "invalid".
 */
export function decodeCallRequest(mem: Buffer, start: number, end: number): CallRequest | undefined {
  const r = new Reader(mem, start, end);
  const n = r.mapHeader();
  if (n !== 2) return undefined;
  let op: string | undefined;
  let args: Record<string, unknown> | undefined;
  for (let i = 0; i < 2; i++) {
    const k = r.str();
    if (k === 'op' && op === undefined) {
      op = r.str();
      if (op === undefined) return undefined;
    } else if (k === 'args' && args === undefined) {
      args = r.args();
      if (args === undefined) return undefined;
    } else {
      return undefined;
    }
  }
  if (r.pos !== end || op === undefined || args === undefined) return undefined;
  return {op, args};
}

class Reader {
  pos: number;
  constructor(
    readonly b: Buffer,
    start: number,
    readonly end: number,
  ) {
    this.pos = start;
  }

  /** Map header of at most 15 entries (fixmap), else -1. */
  mapHeader(): number {
    if (this.pos >= this.end) return -1;
    const t = this.b[this.pos] as number;
    if ((t & 0xf0) !== 0x80) return -1;
    this.pos++;
    return t & 0x0f;
  }

  /** An ASCII string (fixstr, str8, str16), else undefined. */
  str(): string | undefined {
    const b = this.b;
    if (this.pos >= this.end) return undefined;
    const t = b[this.pos] as number;
    let len: number;
    let at = this.pos + 1;
    if ((t & 0xe0) === 0xa0) len = t & 0x1f;
    else if (t === 0xd9) {
      if (at + 1 > this.end) return undefined;
      len = b[at] as number;
      at += 1;
    } else if (t === 0xda) {
      if (at + 2 > this.end) return undefined;
      len = ((b[at] as number) << 8) | (b[at + 1] as number);
      at += 2;
    } else return undefined;
    const stop = at + len;
    if (stop > this.end) return undefined;
    let h = len;
    for (let i = at; i < stop; i++) {
      const c = b[i] as number;
      if (c >= 0x80) return undefined;
      h = (Math.imul(h, 31) + c) | 0;
    }
    this.pos = stop;
    if (len > MAX_INTERNED) return b.toString('latin1', at, stop);
    // Requests repeat the same few strings (op names, keys, namespaces): reuse the string
    // made last time for these bytes (compared byte for byte) instead of making a new one.
    const slot = h & (INTERN_SLOTS - 1);
    const cached = interned[slot];
    if (cached !== undefined && cached.length === len) {
      let same = true;
      for (let i = 0; i < len; i++) {
        if (cached.charCodeAt(i) !== b[at + i]) {
          same = false;
          break;
        }
      }
      if (same) return cached;
    }
    const made = b.toString('latin1', at, stop);
    interned[slot] = made;
    return made;
  }

  /** The args map: ASCII keys, scalar values (see the file comment). */
  args(): Record<string, unknown> | undefined {
    const n = this.mapHeader();
    if (n < 0 || n > MAX_ARGS) return undefined;
    const out: Record<string, unknown> = {};
    for (let i = 0; i < n; i++) {
      const k = this.str();
      if (k === undefined || k === '__proto__' || k === 'constructor' || k === 'prototype' || Object.hasOwn(out, k)) return undefined;
      const v = this.scalar();
      if (v === undefined) return undefined;
      out[k] = v;
    }
    return out;
  }

  /** str, bin, uint (up to 32 bits), nil, bool; undefined for anything else. */
  scalar(): Scalar | undefined {
    const b = this.b;
    if (this.pos >= this.end) return undefined;
    const t = b[this.pos] as number;
    if (t <= 0x7f) {
      this.pos++;
      return t;
    }
    if ((t & 0xe0) === 0xa0 || t === 0xd9 || t === 0xda) return this.str();
    const at = this.pos + 1;
    switch (t) {
      case 0xc0:
        this.pos = at;
        return null;
      case 0xc2:
        this.pos = at;
        return false;
      case 0xc3:
        this.pos = at;
        return true;
      case 0xcc:
        if (at + 1 > this.end) return undefined;
        this.pos = at + 1;
        return b[at] as number;
      case 0xcd:
        if (at + 2 > this.end) return undefined;
        this.pos = at + 2;
        return b.readUInt16BE(at);
      case 0xce:
        if (at + 4 > this.end) return undefined;
        this.pos = at + 4;
        return b.readUInt32BE(at);
      case 0xc4:
        if (at + 1 > this.end) return undefined;
        return this.bin(at + 1, b[at] as number);
      case 0xc5:
        if (at + 2 > this.end) return undefined;
        return this.bin(at + 2, b.readUInt16BE(at));
      case 0xc6:
        if (at + 4 > this.end) return undefined;
        return this.bin(at + 4, b.readUInt32BE(at));
      default:
        return undefined;
    }
  }

  /** A copy of `len` bytes at `at` (the generic decoder also copies: the guest may change its memory later). */
  bin(at: number, len: number): Uint8Array | undefined {
    const stop = at + len;
    if (stop > this.end) return undefined;
    this.pos = stop;
    return new Uint8Array(this.b.buffer, this.b.byteOffset + at, len).slice();
  }
}
