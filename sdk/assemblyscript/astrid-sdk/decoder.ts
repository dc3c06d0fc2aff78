/**
 * The msgpack decoder. It treats its input as untrusted: every length is checked against the
 * bytes that remain before anything is allocated, nesting is limited to MAX_DEPTH, and a
 * malformed or truncated input yields `null` (with `Decoder.error` saying why), never a trap.
 * `read` is small and handles the one-byte forms; the rest is in `readTagged`.
 */
import {Kind, MsgValue, smallInt} from "./value";

/** Deepest nesting of arrays and maps the decoder accepts. */
export const MAX_DEPTH: i32 = 64;

/**
 * Reads msgpack from a Uint8Array, which decoded strings and bins keep referring to (so it
 * must not change afterwards). A failed read returns null and sets `error`.
 */
export class Decoder {
  private buf: Uint8Array;
  private base: usize;
  private pos: usize;
  private end: usize;
  /** Why the last read failed (null while nothing failed). */
  error: string | null = null;

  constructor(bytes: Uint8Array) {
    this.buf = bytes;
    this.base = bytes.dataStart;
    this.pos = this.base;
    this.end = this.base + <usize>bytes.length;
  }

  /** A decoder over a copy of the `len` bytes at `ptr`. */
  static fromMemory(ptr: usize, len: i32): Decoder {
    const copy = new Uint8Array(len < 0 ? 0 : len);
    memory.copy(copy.dataStart, ptr, <usize>copy.length);
    return new Decoder(copy);
  }
  /** Same as `new Decoder(bytes)`. */
  static of(bytes: Uint8Array): Decoder {
    return new Decoder(bytes);
  }

  /** Bytes not yet read. */
  get remaining(): i32 {
    return <i32>(this.end - this.pos);
  }

  private fail(why: string): MsgValue | null {
    if (this.error === null) this.error = why;
    return null;
  }
  private has(n: u64): bool {
    return n <= <u64>(this.end - this.pos);
  }
  private u8(): u32 {
    const v = <u32>load<u8>(this.pos);
    this.pos += 1;
    return v;
  }
  private u16(): u32 {
    const v = <u32>bswap<u16>(load<u16>(this.pos));
    this.pos += 2;
    return v;
  }
  private u32(): u32 {
    const v = bswap<u32>(load<u32>(this.pos));
    this.pos += 4;
    return v;
  }
  private u64(): u64 {
    const v = bswap<u64>(load<u64>(this.pos));
    this.pos += 8;
    return v;
  }
  /** Reads a length of `width` bytes (1, 2 or 4), or returns -1 when truncated. */
  private len(width: i32): i64 {
    if (!this.has(<u64>width)) return -1;
    if (width == 1) return <i64>this.u8();
    if (width == 2) return <i64>this.u16();
    return <i64>this.u32();
  }

  /** A Str or Bin slice of the next `n` bytes. */
  private slice(kind: Kind, n: i64): MsgValue | null {
    if (n < 0 || !this.has(<u64>n)) return this.fail(kind == Kind.Str ? "truncated string" : "truncated bin");
    if (n == 0) return kind == Kind.Str ? MsgValue.ofString("") : MsgValue.ofBytes(new Uint8Array(0));
    const v = MsgValue.sliceOf(kind, this.buf, <u32>(this.pos - this.base), <u32>n);
    this.pos += <usize>n;
    return v;
  }
  private extOf(n: i64): MsgValue | null {
    if (n < 0 || !this.has(<u64>n + 1)) return this.fail("truncated ext");
    const t = <i8>this.u8();
    const out = new Uint8Array(<i32>n);
    memory.copy(out.dataStart, this.pos, <usize>n);
    this.pos += <usize>n;
    return MsgValue.ofExt(t, out);
  }
  private arr(n: i64, depth: i32): MsgValue | null {
    // every item takes at least one byte: refuse counts the input cannot hold
    if (n < 0 || !this.has(<u64>n)) return this.fail("truncated array");
    if (depth >= MAX_DEPTH) return this.fail("nested too deeply");
    return this.list(Kind.Arr, <i32>n, depth);
  }
  private map(n: i64, depth: i32): MsgValue | null {
    if (n < 0 || !this.has(<u64>n * 2)) return this.fail("truncated map");
    if (depth >= MAX_DEPTH) return this.fail("nested too deeply");
    return this.list(Kind.Map, <i32>n * 2, depth);
  }
  /** `count` values (map keys and values interleaved), into one array sized once. */
  private list(kind: Kind, count: i32, depth: i32): MsgValue | null {
    if (count == 0) return new MsgValue(kind);
    const items = new StaticArray<MsgValue>(count);
    for (let i = 0; i < count; i++) {
      const v = this.read(depth + 1);
      if (v === null) return null;
      unchecked((items[i] = v));
    }
    return MsgValue.ofItems(kind, items, count);
  }

  /**
   * Read one value (null on malformed or truncated input; see `error`). Kept small, with the
   * rarer forms in `readTagged`: fuel is charged per function by its size, once per value.
   */
  read(depth: i32 = 0): MsgValue | null {
    if (this.pos >= this.end) return this.fail("unexpected end of input");
    const t = <u32>load<u8>(this.pos);
    this.pos += 1;
    if (t < 0x80) return smallInt(<i32>t);
    if (t >= 0xe0) return smallInt(<i32>(<i8>t));
    if (t < 0x90) return this.map(<i64>(t & 0x0f), depth);
    if (t < 0xa0) return this.arr(<i64>(t & 0x0f), depth);
    if (t < 0xc0) return this.slice(Kind.Str, <i64>(t & 0x1f));
    return this.readTagged(t, depth);
  }

  private readTagged(t: u32, depth: i32): MsgValue | null {
    switch (t) {
      case 0xc0: return MsgValue.nil();
      case 0xc2: return MsgValue.ofBool(false);
      case 0xc3: return MsgValue.ofBool(true);
      case 0xc4: return this.slice(Kind.Bin, this.len(1));
      case 0xc5: return this.slice(Kind.Bin, this.len(2));
      case 0xc6: return this.slice(Kind.Bin, this.len(4));
      case 0xc7: return this.extOf(this.len(1));
      case 0xc8: return this.extOf(this.len(2));
      case 0xc9: return this.extOf(this.len(4));
      case 0xca: {
        if (!this.has(4)) return this.fail("truncated float32");
        return MsgValue.ofF32(reinterpret<f32>(this.u32()));
      }
      case 0xcb: {
        if (!this.has(8)) return this.fail("truncated float64");
        return MsgValue.ofF64(reinterpret<f64>(this.u64()));
      }
      case 0xcc: {
        if (!this.has(1)) return this.fail("truncated uint8");
        return MsgValue.ofI64(<i64>this.u8());
      }
      case 0xcd: {
        if (!this.has(2)) return this.fail("truncated uint16");
        return MsgValue.ofI64(<i64>this.u16());
      }
      case 0xce: {
        if (!this.has(4)) return this.fail("truncated uint32");
        return MsgValue.ofI64(<i64>this.u32());
      }
      case 0xcf: {
        if (!this.has(8)) return this.fail("truncated uint64");
        return MsgValue.ofU64(this.u64());
      }
      case 0xd0: {
        if (!this.has(1)) return this.fail("truncated int8");
        return MsgValue.ofI64(<i64>(<i8>this.u8()));
      }
      case 0xd1: {
        if (!this.has(2)) return this.fail("truncated int16");
        return MsgValue.ofI64(<i64>(<i16>this.u16()));
      }
      case 0xd2: {
        if (!this.has(4)) return this.fail("truncated int32");
        return MsgValue.ofI64(<i64>(<i32>this.u32()));
      }
      case 0xd3: {
        if (!this.has(8)) return this.fail("truncated int64");
        return MsgValue.ofI64(<i64>this.u64());
      }
      case 0xd4: return this.extOf(1);
      case 0xd5: return this.extOf(2);
      case 0xd6: return this.extOf(4);
      case 0xd7: return this.extOf(8);
      case 0xd8: return this.extOf(16);
      case 0xd9: return this.slice(Kind.Str, this.len(1));
      case 0xda: return this.slice(Kind.Str, this.len(2));
      case 0xdb: return this.slice(Kind.Str, this.len(4));
      case 0xdc: return this.arr(this.len(2), depth);
      case 0xdd: return this.arr(this.len(4), depth);
      case 0xde: return this.map(this.len(2), depth);
      case 0xdf: return this.map(this.len(4), depth);
      default: return this.fail("invalid type byte 0xc1");
    }
  }

  /**
   * Read an array header and return its item count, or -1 (with `error`) when the next value
   * is not an array or claims more items than the input holds. Then `read()` the items one
   * by one: a caller can stop early without decoding the rest.
   */
  readArrayHeader(): i64 {
    if (this.pos >= this.end) {
      this.fail("unexpected end of input");
      return -1;
    }
    const t = <u32>load<u8>(this.pos);
    let n: i64 = -1;
    const at = this.pos;
    this.pos += 1;
    if (t >= 0x90 && t < 0xa0) n = <i64>(t & 0x0f);
    else if (t == 0xdc) n = this.len(2);
    else if (t == 0xdd) n = this.len(4);
    if (n < 0 || !this.has(<u64>n)) {
      this.pos = at;
      this.fail("not an array");
      return -1;
    }
    return n;
  }

  /** Read exactly one value that spans the whole input (trailing bytes are an error). */
  readAll(): MsgValue | null {
    const v = this.read(0);
    if (v === null) return null;
    if (this.pos != this.end) return this.fail("trailing bytes after the value");
    return v;
  }
}

/** Decode a whole buffer holding exactly one value; null when malformed. Strings and bins keep referring to `bytes`. */
export function decode(bytes: Uint8Array): MsgValue | null {
  return new Decoder(bytes).readAll();
}
