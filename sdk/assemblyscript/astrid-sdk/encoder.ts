/**
 * The msgpack encoder: a growable buffer with a `write*` method per form, smallest encoding
 * first. `writeValue` dispatches through a table of one small writer per kind: fuel is
 * charged per function by its whole size, so one big switch would cost all its branches on
 * every value.
 */
import {MsgValue} from "./value";

/** Appends msgpack to a growable buffer. `finish()` returns the bytes. */
export class Encoder {
  private buf: Uint8Array;
  private pos: i32 = 0;

  constructor(capacity: i32 = 256) {
    this.buf = new Uint8Array(capacity > 16 ? capacity : 16);
  }

  /** Bytes written so far. */
  get length(): i32 {
    return this.pos;
  }
  /** Pointer to the bytes written (valid until the next write). */
  get dataStart(): usize {
    return this.buf.dataStart;
  }

  private reserve(n: i32): usize {
    const need = this.pos + n;
    if (need > this.buf.length) {
      let cap = this.buf.length << 1;
      while (cap < need) cap <<= 1;
      const next = new Uint8Array(cap);
      memory.copy(next.dataStart, this.buf.dataStart, <usize>this.pos);
      this.buf = next;
    }
    const at = this.buf.dataStart + <usize>this.pos;
    this.pos = need;
    return at;
  }
  private u8(v: u32): void {
    store<u8>(this.reserve(1), <u8>v);
  }
  private tagU8(tag: u32, v: u32): void {
    const p = this.reserve(2);
    store<u8>(p, <u8>tag);
    store<u8>(p, <u8>v, 1);
  }
  private tagU16(tag: u32, v: u32): void {
    const p = this.reserve(3);
    store<u8>(p, <u8>tag);
    store<u16>(p, bswap<u16>(<u16>v), 1);
  }
  private tagU32(tag: u32, v: u32): void {
    const p = this.reserve(5);
    store<u8>(p, <u8>tag);
    store<u32>(p, bswap<u32>(v), 1);
  }
  private tagU64(tag: u32, v: u64): void {
    const p = this.reserve(9);
    store<u8>(p, <u8>tag);
    store<u64>(p, bswap<u64>(v), 1);
  }

  /** `len` raw bytes from `ptr` (for code that frames its own msgpack). */
  writeRaw(ptr: usize, len: i32): Encoder {
    if (len > 0) memory.copy(this.reserve(len), ptr, <usize>len);
    return this;
  }
  writeNil(): Encoder {
    this.u8(0xc0);
    return this;
  }
  writeBool(v: bool): Encoder {
    this.u8(v ? 0xc3 : 0xc2);
    return this;
  }
  /** An unsigned integer, in the smallest msgpack form. */
  writeU64(v: u64): Encoder {
    if (v < 0x80) this.u8(<u32>v);
    else if (v <= 0xff) this.tagU8(0xcc, <u32>v);
    else if (v <= 0xffff) this.tagU16(0xcd, <u32>v);
    else if (v <= 0xffffffff) this.tagU32(0xce, <u32>v);
    else this.tagU64(0xcf, v);
    return this;
  }
  /** A signed integer, in the smallest msgpack form (non-negative values as uint). */
  writeI64(v: i64): Encoder {
    if (v >= 0) return this.writeU64(<u64>v);
    if (v >= -32) this.u8(<u32>(<i32>v) & 0xff);
    else if (v >= -128) this.tagU8(0xd0, <u32>(<i32>v) & 0xff);
    else if (v >= -32768) this.tagU16(0xd1, <u32>(<i32>v) & 0xffff);
    else if (v >= <i64>i32.MIN_VALUE) this.tagU32(0xd2, <u32>(<i32>v));
    else this.tagU64(0xd3, <u64>v);
    return this;
  }
  writeF64(v: f64): Encoder {
    this.tagU64(0xcb, reinterpret<u64>(v));
    return this;
  }
  writeF32(v: f32): Encoder {
    this.tagU32(0xca, reinterpret<u32>(v));
    return this;
  }
  /** The header of a string of `n` UTF-8 bytes (follow with `writeRaw`). */
  writeStringHeader(n: i32): Encoder {
    if (n < 32) this.u8(0xa0 | <u32>n);
    else if (n <= 0xff) this.tagU8(0xd9, <u32>n);
    else if (n <= 0xffff) this.tagU16(0xda, <u32>n);
    else this.tagU32(0xdb, <u32>n);
    return this;
  }
  /** A UTF-8 string (unpaired surrogates become U+FFFD). */
  writeString(v: string): Encoder {
    if (this.writeAscii(v)) return this;
    const n = String.UTF8.byteLength(v);
    this.writeStringHeader(n);
    if (n > 0) String.UTF8.encodeUnsafe(changetype<usize>(v), v.length, this.reserve(n), false, String.UTF8.ErrorMode.REPLACE);
    return this;
  }
  /** Write `v` if it is all ASCII (a tight loop); otherwise write nothing and return false. */
  private writeAscii(v: string): bool {
    const n = v.length;
    const start = this.pos;
    this.writeStringHeader(n);
    const at = this.reserve(n);
    const src = changetype<usize>(v);
    for (let i = 0; i < n; i++) {
      const c = <u32>load<u16>(src + (<usize>i << 1));
      if (c >= 0x80) {
        this.pos = start;
        return false;
      }
      store<u8>(at + <usize>i, <u8>c);
    }
    return true;
  }
  /** The header of a bin of `n` bytes (follow with `writeRaw`). */
  writeBytesHeader(n: i32): Encoder {
    if (n <= 0xff) this.tagU8(0xc4, <u32>n);
    else if (n <= 0xffff) this.tagU16(0xc5, <u32>n);
    else this.tagU32(0xc6, <u32>n);
    return this;
  }
  writeBytes(v: Uint8Array): Encoder {
    return this.writeBytesHeader(v.length).writeRaw(v.dataStart, v.length);
  }
  writeExt(type: i8, data: Uint8Array): Encoder {
    const n = data.length;
    const t = <u32>(<u8>type);
    if (n == 1) this.tagU8(0xd4, t);
    else if (n == 2) this.tagU8(0xd5, t);
    else if (n == 4) this.tagU8(0xd6, t);
    else if (n == 8) this.tagU8(0xd7, t);
    else if (n == 16) this.tagU8(0xd8, t);
    else {
      if (n <= 0xff) this.tagU8(0xc7, <u32>n);
      else if (n <= 0xffff) this.tagU16(0xc8, <u32>n);
      else this.tagU32(0xc9, <u32>n);
      this.u8(t);
    }
    return this.writeRaw(data.dataStart, n);
  }
  writeArrayHeader(n: i32): Encoder {
    if (n < 16) this.u8(0x90 | <u32>n);
    else if (n <= 0xffff) this.tagU16(0xdc, <u32>n);
    else this.tagU32(0xdd, <u32>n);
    return this;
  }
  writeMapHeader(n: i32): Encoder {
    if (n < 16) this.u8(0x80 | <u32>n);
    else if (n <= 0xffff) this.tagU16(0xde, <u32>n);
    else this.tagU32(0xdf, <u32>n);
    return this;
  }

  /** Any MsgValue, recursively, through a table of one small writer per kind. */
  writeValue(v: MsgValue): Encoder {
    let table = writerTable;
    if (table === null) table = makeWriterTable();
    unchecked(table[<i32>v.kind])(this, v);
    return this;
  }

  /** A copy of the bytes written. */
  finish(): Uint8Array {
    return this.buf.slice(0, this.pos);
  }
}

type Writer = (e: Encoder, v: MsgValue) => void;
let writerTable: StaticArray<Writer> | null = null;

function makeWriterTable(): StaticArray<Writer> {
  // indexed by Kind
  const t: StaticArray<Writer> = [writeNilValue, writeBoolValue, writeIntValue, writeUintValue, writeFloatValue, writeStrValue, writeBinValue, writeArrValue, writeMapValue, writeExtValue];
  writerTable = t;
  return t;
}
function writeNilValue(e: Encoder, v: MsgValue): void {
  e.writeNil();
}
function writeBoolValue(e: Encoder, v: MsgValue): void {
  e.writeBool(v.bits != 0);
}
function writeIntValue(e: Encoder, v: MsgValue): void {
  e.writeI64(v.bits);
}
function writeUintValue(e: Encoder, v: MsgValue): void {
  e.writeU64(<u64>v.bits);
}
function writeFloatValue(e: Encoder, v: MsgValue): void {
  if (v.isFloat32()) e.writeF32(<f32>reinterpret<f64>(v.bits));
  else e.writeF64(reinterpret<f64>(v.bits));
}
function writeStrValue(e: Encoder, v: MsgValue): void {
  if (v.isSlice) e.writeStringHeader(v.sliceLength).writeRaw(v.sliceStart, v.sliceLength);
  else e.writeString(v.asString());
}
function writeBinValue(e: Encoder, v: MsgValue): void {
  if (v.isSlice) e.writeBytesHeader(v.sliceLength).writeRaw(v.sliceStart, v.sliceLength);
  else e.writeBytes(v.asBytes());
}
function writeArrValue(e: Encoder, v: MsgValue): void {
  const n = v.length;
  e.writeArrayHeader(n);
  for (let i = 0; i < n; i++) e.writeValue(v.at(i));
}
function writeMapValue(e: Encoder, v: MsgValue): void {
  const n = v.size;
  e.writeMapHeader(n);
  for (let i = 0; i < n; i++) {
    e.writeValue(v.keyAt(i));
    e.writeValue(v.valueAt(i));
  }
}
function writeExtValue(e: Encoder, v: MsgValue): void {
  e.writeExt(v.extType(), v.asBytes());
}

/** Encode one value. */
export function encode(v: MsgValue): Uint8Array {
  return new Encoder().writeValue(v).finish();
}
