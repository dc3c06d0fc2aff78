/**
 * Batched records of reads of ledger-resident state (`kv.get`, `kv.list`). Such a call has
 * no effect, and its answer is a function of the ledger itself, so its record does not need an
 * entry of its own: an activation collects these records and writes them as one `host.call`
 * entry with op `call.batch` before anything else it records (a send, a log line, a `kv.set`,
 * a denial, its `activation.ended`). See docs/ledger.md ("Batched reads").
 *
 * The entry's `request` is a msgpack array with one element per call,
 * `[call: uint, op: str, request: bin, status: int, reply: bin]`, where `call` is the host
 * call's number in the activation (1-based, counting send, call and log, as the activation's
 * `calls`), `request` the guest's bytes, `status` what the guest got (reply length or negative
 * error) and `reply` the reply bytes. Its `status` is the number of calls, its `reply` empty.
 *
 * Encoding is by hand into one growing buffer reused across activations: a record costs a
 * copy of its bytes, not a ledger entry.
 */

/** The op of a batch entry. */
export const CALL_BATCH_OP = 'call.batch';

/** Ops whose records are batched: reads of state that lives only in the ledger. */
export const BATCHED_OPS: ReadonlySet<string> = new Set(['kv.get', 'kv.list']);

/** Largest batch (bytes of the `request` blob); a record that does not fit goes after a flush, or alone. */
export const MAX_BATCH_BYTES = 256 * 1024;

/** Upper bound of the bytes one record takes (array + uint + fixstr/str8 + 2 bin + int headers). */
export function recordSize(op: string, requestLen: number, replyLen: number): number {
  return 1 + 3 + 2 + op.length + 5 + requestLen + 5 + 5 + replyLen;
}

export class CallBatch {
  #buf = new Uint8Array(16 * 1024);
  /** The first 3 bytes are the array16 header, written by take(). */
  #len = 3;
  #count = 0;

  /** Records collected since the last take(). */
  get count(): number {
    return this.#count;
  }

  /** Would a record of `size` bytes (see recordSize) keep the batch within MAX_BATCH_BYTES? */
  fits(size: number): boolean {
    return this.#len + size <= MAX_BATCH_BYTES;
  }

  /**
   * Add one record. `op` must be ASCII, at most 255 bytes (a service name); `request` is read
   * from `req[reqStart, reqStart + reqLen)`, `reply` from `rep[0, repLen)`.
   */
  add(call: number, op: string, req: Uint8Array, reqStart: number, reqLen: number, status: number, rep: Uint8Array, repLen: number): void {
    this.#reserve(recordSize(op, reqLen, repLen));
    const b = this.#buf;
    let p = this.#len;
    b[p++] = 0x95;
    p = this.#uint(p, call);
    if (op.length < 32) b[p++] = 0xa0 | op.length;
    else {
      b[p++] = 0xd9;
      b[p++] = op.length;
    }
    for (let i = 0; i < op.length; i++) b[p++] = op.charCodeAt(i);
    p = this.#binHeader(p, reqLen);
    b.set(req.subarray(reqStart, reqStart + reqLen), p);
    p += reqLen;
    if (status >= 0) p = this.#uint(p, status);
    else if (status >= -32) b[p++] = status & 0xff;
    else {
      b[p++] = 0xd2;
      b[p++] = (status >>> 24) & 0xff;
      b[p++] = (status >>> 16) & 0xff;
      b[p++] = (status >>> 8) & 0xff;
      b[p++] = status & 0xff;
    }
    p = this.#binHeader(p, repLen);
    if (repLen > 0) b.set(rep.subarray(0, repLen), p);
    p += repLen;
    this.#len = p;
    this.#count++;
  }

  /** The collected records as one msgpack array (a fresh copy), and reset. */
  take(): Uint8Array {
    const b = this.#buf;
    b[0] = 0xdc;
    b[1] = (this.#count >>> 8) & 0xff;
    b[2] = this.#count & 0xff;
    const out = b.slice(0, this.#len);
    this.#len = 3;
    this.#count = 0;
    return out;
  }

  /** Forget the collected records (the activation failed before they could be written). */
  clear(): void {
    this.#len = 3;
    this.#count = 0;
  }

  #reserve(n: number): void {
    if (this.#len + n <= this.#buf.length) return;
    let size = this.#buf.length * 2;
    while (size < this.#len + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.#buf.subarray(0, this.#len));
    this.#buf = next;
  }

  #uint(p: number, v: number): number {
    const b = this.#buf;
    if (v < 0x80) b[p++] = v;
    else if (v < 0x100) {
      b[p++] = 0xcc;
      b[p++] = v;
    } else if (v < 0x10000) {
      b[p++] = 0xcd;
      b[p++] = v >>> 8;
      b[p++] = v & 0xff;
    } else {
      b[p++] = 0xce;
      b[p++] = v >>> 24;
      b[p++] = (v >>> 16) & 0xff;
      b[p++] = (v >>> 8) & 0xff;
      b[p++] = v & 0xff;
    }
    return p;
  }

  #binHeader(p: number, n: number): number {
    const b = this.#buf;
    if (n < 0x100) {
      b[p++] = 0xc4;
      b[p++] = n;
    } else if (n < 0x10000) {
      b[p++] = 0xc5;
      b[p++] = n >>> 8;
      b[p++] = n & 0xff;
    } else {
      b[p++] = 0xc6;
      b[p++] = n >>> 24;
      b[p++] = (n >>> 16) & 0xff;
      b[p++] = (n >>> 8) & 0xff;
      b[p++] = n & 0xff;
    }
    return p;
  }
}

/** Bytes of the msgpack encoding of a bin of `n` bytes. */
export function binSize(n: number): number {
  return (n < 0x100 ? 2 : n < 0x10000 ? 3 : 5) + n;
}

/** msgpack bin header + bytes of `v` into `out` (at least binSize(v.length) long), as msgpackr encodes a Uint8Array; returns the length. */
export function writeBin(out: Uint8Array, v: Uint8Array): number {
  const n = v.length;
  let p = 0;
  if (n < 0x100) {
    out[p++] = 0xc4;
    out[p++] = n;
  } else if (n < 0x10000) {
    out[p++] = 0xc5;
    out[p++] = n >>> 8;
    out[p++] = n & 0xff;
  } else {
    out[p++] = 0xc6;
    out[p++] = n >>> 24;
    out[p++] = (n >>> 16) & 0xff;
    out[p++] = (n >>> 8) & 0xff;
    out[p++] = n & 0xff;
  }
  out.set(v, p);
  return p + n;
}
