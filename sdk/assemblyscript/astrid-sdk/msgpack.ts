/**
 * MessagePack for capsules: a dynamic value (`MsgValue`), an `Encoder` and a bounds-checked
 * `Decoder`. Everything the ABI exchanges is plain msgpack (strings UTF-8, bytes as `bin`).
 *
 * The decoder treats its input as untrusted: every length is checked against the bytes that
 * remain before anything is allocated, nesting is limited to MAX_DEPTH, and a malformed or
 * truncated input yields `null` (with `Decoder.error` saying why), never a trap.
 *
 * Numbers: integers keep their sign and width class (`Int` for values that fit i64, `Uint`
 * only above i64.MAX_VALUE); floats remember whether they were float32. Note that the
 * kernel's JavaScript encoder (msgpackr) writes integers above 2^32 as float64, so the
 * integer accessors also accept a float that holds an exact integer.
 */

/** The kind of a MsgValue. */
export enum Kind {
  Nil = 0,
  Bool = 1,
  /** A signed integer (any msgpack int or uint up to i64.MAX_VALUE). */
  Int = 2,
  /** An unsigned integer above i64.MAX_VALUE. */
  Uint = 3,
  Float = 4,
  Str = 5,
  Bin = 6,
  Arr = 7,
  Map = 8,
  /** A msgpack extension (type byte and data), kept opaque. */
  Ext = 9,
}

/** Deepest nesting of arrays and maps the decoder accepts. */
export const MAX_DEPTH: i32 = 64;

/**
 * A dynamically typed msgpack value. Build with the static `of*`/`new*` constructors.
 * Scalars are immutable (small integers, nil and the booleans are shared); only arrays
 * (`push`) and maps (`set`) change. Kept small: a message of one-byte items (64 KiB of
 * zeros, say) must fit a capsule's memory budget.
 */
export class MsgValue {
  // (field order keeps the object at 24 bytes)
  /** Int/Uint bits, Float bits (as f64), Bool 0/1. */
  private n: i64 = 0;
  private s: string | null = null;
  /** Bin and Ext data. */
  private data: Uint8Array | null = null;
  /** Arr: the items. Map: key, value, key, value, ... Null while empty. */
  private items: Array<MsgValue> | null = null;
  private k: u8 = 0;
  private f32: bool = false;
  private ext: i8 = 0;

  constructor(kind: Kind = Kind.Nil) {
    this.k = <u8>kind;
    if (kind == Kind.Str) this.s = "";
    else if (kind == Kind.Bin || kind == Kind.Ext) this.data = new Uint8Array(0);
  }

  private count(): i32 {
    const items = this.items;
    return items === null ? 0 : items.length;
  }
  private list(): Array<MsgValue> {
    let items = this.items;
    if (items === null) this.items = items = new Array<MsgValue>(0);
    return items;
  }

  /** The kind of value. */
  get kind(): Kind {
    return <Kind>this.k;
  }

  // ---- constructors ----

  static nil(): MsgValue {
    return shared(SHARED_NIL);
  }
  static ofBool(v: bool): MsgValue {
    return shared(v ? SHARED_TRUE : SHARED_FALSE);
  }
  static ofI64(v: i64): MsgValue {
    if (v >= SMALL_MIN && v <= SMALL_MAX) return shared(<i32>(v - SMALL_MIN));
    return MsgValue.scalar(Kind.Int, v);
  }
  /** @internal An unshared Int or Bool with the given bits (use the `of*` constructors). */
  static scalar(kind: Kind, n: i64): MsgValue {
    const m = new MsgValue(kind);
    m.n = n;
    return m;
  }
  static ofI32(v: i32): MsgValue {
    return MsgValue.ofI64(<i64>v);
  }
  /** An unsigned integer (kept as `Int` when it fits i64). */
  static ofU64(v: u64): MsgValue {
    if (v <= <u64>i64.MAX_VALUE) return MsgValue.ofI64(<i64>v);
    const m = new MsgValue(Kind.Uint);
    m.n = <i64>v;
    return m;
  }
  static ofF64(v: f64): MsgValue {
    const m = new MsgValue(Kind.Float);
    m.n = reinterpret<i64>(v);
    return m;
  }
  /** A float that encodes as msgpack float32. */
  static ofF32(v: f32): MsgValue {
    const m = MsgValue.ofF64(<f64>v);
    m.f32 = true;
    return m;
  }
  static ofString(v: string): MsgValue {
    if (v.length == 0) return shared(SHARED_EMPTY_STRING);
    const m = new MsgValue(Kind.Str);
    m.s = v;
    return m;
  }
  /** A `bin` value (the array is kept, not copied). */
  static ofBytes(v: Uint8Array): MsgValue {
    const m = new MsgValue(Kind.Bin);
    m.data = v;
    return m;
  }
  static ofExt(type: i8, data: Uint8Array): MsgValue {
    const m = new MsgValue(Kind.Ext);
    m.ext = type;
    m.data = data;
    return m;
  }
  static newArray(): MsgValue {
    return new MsgValue(Kind.Arr);
  }
  static newMap(): MsgValue {
    return new MsgValue(Kind.Map);
  }
  /** @internal An array (Kind.Arr) or map (Kind.Map: keys and values interleaved) over `items`. */
  static ofItems(kind: Kind, items: Array<MsgValue>): MsgValue {
    const m = new MsgValue(kind);
    if (items.length > 0) m.items = items;
    return m;
  }
  static ofStrings(v: Array<string>): MsgValue {
    const m = MsgValue.newArray();
    for (let i = 0; i < v.length; i++) m.push(MsgValue.ofString(unchecked(v[i])));
    return m;
  }

  // ---- predicates ----

  isNil(): bool { return this.k == Kind.Nil; }
  isBool(): bool { return this.k == Kind.Bool; }
  /** Int or Uint. */
  isInteger(): bool { return this.k == Kind.Int || this.k == Kind.Uint; }
  isFloat(): bool { return this.k == Kind.Float; }
  /** Int, Uint or Float. */
  isNumber(): bool { return this.isInteger() || this.k == Kind.Float; }
  isString(): bool { return this.k == Kind.Str; }
  isBytes(): bool { return this.k == Kind.Bin; }
  isArray(): bool { return this.k == Kind.Arr; }
  isMap(): bool { return this.k == Kind.Map; }
  isExt(): bool { return this.k == Kind.Ext; }
  /** True for a Float that was (or will be) encoded as float32. */
  isFloat32(): bool { return this.k == Kind.Float && this.f32; }

  /** True when the value is an integer, or a float holding an exact integer, in [min, max]. */
  isIntegerIn(min: i64, max: i64): bool {
    if (this.k == Kind.Int) return this.n >= min && this.n <= max;
    if (this.k == Kind.Float) {
      const f = reinterpret<f64>(this.n);
      return f == Math.trunc(f) && f >= <f64>min && f <= <f64>max && f > -9223372036854775808.0 && f < 9223372036854775808.0;
    }
    return false;
  }

  // ---- accessors (abort on the wrong kind: check with is* first for untrusted data) ----

  asBool(): bool {
    if (this.k != Kind.Bool) wrongKind("bool", this.k);
    return this.n != 0;
  }
  /** An integer (or a float holding an exact integer) that fits i64. */
  asI64(): i64 {
    if (this.k == Kind.Int) return this.n;
    if (this.isIntegerIn(i64.MIN_VALUE, i64.MAX_VALUE)) return <i64>reinterpret<f64>(this.n);
    wrongKind("i64", this.k);
    return 0;
  }
  /** A non-negative integer (or a float holding one). */
  asU64(): u64 {
    if (this.k == Kind.Uint) return <u64>this.n;
    if (this.k == Kind.Int && this.n >= 0) return <u64>this.n;
    if (this.k == Kind.Float) {
      const f = reinterpret<f64>(this.n);
      if (f >= 0 && f == Math.trunc(f) && f < 18446744073709551616.0) return <u64>f;
    }
    wrongKind("u64", this.k);
    return 0;
  }
  /** An integer in the i32 range. */
  asI32(): i32 {
    if (!this.isIntegerIn(<i64>i32.MIN_VALUE, <i64>i32.MAX_VALUE)) wrongKind("i32", this.k);
    return <i32>this.asI64();
  }
  /** Any number, as f64 (large integers round). */
  asF64(): f64 {
    if (this.k == Kind.Float) return reinterpret<f64>(this.n);
    if (this.k == Kind.Int) return <f64>this.n;
    if (this.k == Kind.Uint) return <f64>(<u64>this.n);
    wrongKind("number", this.k);
    return 0;
  }
  asString(): string {
    if (this.k != Kind.Str) wrongKind("string", this.k);
    return this.s!;
  }
  /** The bytes of a `bin` (or the data of an ext). */
  asBytes(): Uint8Array {
    if (this.k != Kind.Bin && this.k != Kind.Ext) wrongKind("bin", this.k);
    return this.data!;
  }
  /** The items of an array (the live list: pushing to it changes the value). */
  asArray(): Array<MsgValue> {
    if (this.k != Kind.Arr) wrongKind("array", this.k);
    return this.list();
  }
  /** The ext type byte. */
  extType(): i8 {
    if (this.k != Kind.Ext) wrongKind("ext", this.k);
    return this.ext;
  }

  /** Items of an array, entries of a map, bytes of a bin/ext/string (UTF-8); 0 otherwise. */
  get length(): i32 {
    switch (this.kind) {
      case Kind.Arr: return this.count();
      case Kind.Map: return this.count() >> 1;
      case Kind.Bin:
      case Kind.Ext: return this.data!.length;
      case Kind.Str: return String.UTF8.byteLength(this.s!);
      default: return 0;
    }
  }

  /** Array item `i`; nil when out of range or not an array. */
  at(i: i32): MsgValue {
    if (this.k != Kind.Arr || i < 0 || i >= this.count()) return MsgValue.nil();
    return unchecked(this.items![i]);
  }

  // ---- maps ----

  /** Index of the entry whose key is the string `key`, or -1. */
  indexOf(key: string): i32 {
    const items = this.items;
    if (this.k != Kind.Map || items === null) return -1;
    for (let i = 0; i < items.length; i += 2) {
      const k = unchecked(items[i]);
      if (k.k == Kind.Str && k.s! == key) return i >> 1;
    }
    return -1;
  }
  /** True when this is a map with the string key `key`. */
  has(key: string): bool {
    return this.indexOf(key) >= 0;
  }
  /** The value under the string key `key`; nil when absent or when this is not a map. */
  get(key: string): MsgValue {
    const i = this.indexOf(key);
    return i < 0 ? MsgValue.nil() : unchecked(this.items![(i << 1) + 1]);
  }
  /** `get(key)` as a string, or `fallback` when absent or not a string. */
  getString(key: string, fallback: string = ""): string {
    const v = this.get(key);
    return v.k == Kind.Str ? v.s! : fallback;
  }
  /** `get(key)` as an i64, or `fallback` when absent or not an integer. */
  getI64(key: string, fallback: i64 = 0): i64 {
    const v = this.get(key);
    return v.isIntegerIn(i64.MIN_VALUE, i64.MAX_VALUE) ? v.asI64() : fallback;
  }
  /** `get(key)` as a bool, or `fallback` when absent or not a bool. */
  getBool(key: string, fallback: bool = false): bool {
    const v = this.get(key);
    return v.k == Kind.Bool ? v.n != 0 : fallback;
  }
  /** Number of map entries (0 when not a map). */
  get size(): i32 {
    return this.k == Kind.Map ? this.count() >> 1 : 0;
  }
  keyAt(i: i32): MsgValue {
    if (this.k != Kind.Map || i < 0 || (i << 1) >= this.count()) return MsgValue.nil();
    return unchecked(this.items![i << 1]);
  }
  valueAt(i: i32): MsgValue {
    if (this.k != Kind.Map || i < 0 || (i << 1) >= this.count()) return MsgValue.nil();
    return unchecked(this.items![(i << 1) + 1]);
  }

  /** Set `key` (replacing an existing entry, else appending). Returns this, for chaining. */
  set(key: string, value: MsgValue): MsgValue {
    if (this.k != Kind.Map) wrongKind("map", this.k);
    const i = this.indexOf(key);
    if (i >= 0) this.items![(i << 1) + 1] = value;
    else {
      const items = this.list();
      items.push(MsgValue.ofString(key));
      items.push(value);
    }
    return this;
  }
  /** Append an entry with any key (no replacement: the decoder keeps duplicates as sent). */
  setEntry(key: MsgValue, value: MsgValue): MsgValue {
    if (this.k != Kind.Map) wrongKind("map", this.k);
    const items = this.list();
    items.push(key);
    items.push(value);
    return this;
  }
  setString(key: string, value: string): MsgValue { return this.set(key, MsgValue.ofString(value)); }
  setI64(key: string, value: i64): MsgValue { return this.set(key, MsgValue.ofI64(value)); }
  setF64(key: string, value: f64): MsgValue { return this.set(key, MsgValue.ofF64(value)); }
  setBool(key: string, value: bool): MsgValue { return this.set(key, MsgValue.ofBool(value)); }
  setBytes(key: string, value: Uint8Array): MsgValue { return this.set(key, MsgValue.ofBytes(value)); }

  /** Append to an array. Returns this, for chaining. */
  push(value: MsgValue): MsgValue {
    if (this.k != Kind.Arr) wrongKind("array", this.k);
    this.list().push(value);
    return this;
  }

  /** A short JSON-like rendering for logs (bytes as `<bin N>`). */
  toString(): string {
    switch (this.kind) {
      case Kind.Nil: return "null";
      case Kind.Bool: return this.n != 0 ? "true" : "false";
      case Kind.Int: return this.n.toString();
      case Kind.Uint: return (<u64>this.n).toString();
      case Kind.Float: return reinterpret<f64>(this.n).toString();
      case Kind.Str: return "\"" + this.s! + "\"";
      case Kind.Bin: return "<bin " + this.data!.length.toString() + ">";
      case Kind.Ext: return "<ext " + this.ext.toString() + " " + this.data!.length.toString() + ">";
      case Kind.Arr: {
        let out = "[";
        for (let i = 0, n = this.count(); i < n; i++) {
          if (i > 0) out += ",";
          out += unchecked(this.items![i]).toString();
        }
        return out + "]";
      }
      default: {
        let out = "{";
        for (let i = 0, n = this.count(); i < n; i += 2) {
          if (i > 0) out += ",";
          out += unchecked(this.items![i]).toString() + ":" + unchecked(this.items![i + 1]).toString();
        }
        return out + "}";
      }
    }
  }
}

// Shared scalars: the integers SMALL_MIN..SMALL_MAX, then nil, false, true, "". Created on
// first use; the table is a global, so the collector never frees them.
const SMALL_MIN: i64 = -32;
const SMALL_MAX: i64 = 255;
const SHARED_NIL: i32 = <i32>(SMALL_MAX - SMALL_MIN) + 1;
const SHARED_FALSE: i32 = SHARED_NIL + 1;
const SHARED_TRUE: i32 = SHARED_NIL + 2;
const SHARED_EMPTY_STRING: i32 = SHARED_NIL + 3;
let sharedValues: StaticArray<MsgValue | null> | null = null;

function shared(i: i32): MsgValue {
  let table = sharedValues;
  if (table === null) sharedValues = table = new StaticArray<MsgValue | null>(SHARED_EMPTY_STRING + 1);
  const hit = unchecked(table[i]);
  if (hit !== null) return hit;
  let v: MsgValue;
  if (i == SHARED_NIL) v = new MsgValue(Kind.Nil);
  else if (i == SHARED_FALSE) v = MsgValue.scalar(Kind.Bool, 0);
  else if (i == SHARED_TRUE) v = MsgValue.scalar(Kind.Bool, 1);
  else if (i == SHARED_EMPTY_STRING) v = new MsgValue(Kind.Str);
  else v = MsgValue.scalar(Kind.Int, <i64>i + SMALL_MIN);
  unchecked((table[i] = v));
  return v;
}

function kindName(k: Kind): string {
  switch (k) {
    case Kind.Nil: return "nil";
    case Kind.Bool: return "bool";
    case Kind.Int: return "int";
    case Kind.Uint: return "uint";
    case Kind.Float: return "float";
    case Kind.Str: return "string";
    case Kind.Bin: return "bin";
    case Kind.Arr: return "array";
    case Kind.Map: return "map";
    default: return "ext";
  }
}

function wrongKind(wanted: string, got: u8): void {
  abort("msgpack: expected " + wanted + ", found " + kindName(<Kind>got));
}

// ---------------------------------------------------------------------------------------

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
  private raw(ptr: usize, len: i32): void {
    if (len > 0) memory.copy(this.reserve(len), ptr, <usize>len);
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
  /** A UTF-8 string (unpaired surrogates become U+FFFD). */
  writeString(v: string): Encoder {
    const n = String.UTF8.byteLength(v);
    if (n < 32) this.u8(0xa0 | <u32>n);
    else if (n <= 0xff) this.tagU8(0xd9, <u32>n);
    else if (n <= 0xffff) this.tagU16(0xda, <u32>n);
    else this.tagU32(0xdb, <u32>n);
    if (n > 0) {
      const at = this.reserve(n);
      String.UTF8.encodeUnsafe(changetype<usize>(v), v.length, at, false, String.UTF8.ErrorMode.REPLACE);
    }
    return this;
  }
  writeBytes(v: Uint8Array): Encoder {
    const n = v.length;
    if (n <= 0xff) this.tagU8(0xc4, <u32>n);
    else if (n <= 0xffff) this.tagU16(0xc5, <u32>n);
    else this.tagU32(0xc6, <u32>n);
    this.raw(v.dataStart, n);
    return this;
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
    this.raw(data.dataStart, n);
    return this;
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
  /** Any MsgValue, recursively. */
  writeValue(v: MsgValue): Encoder {
    switch (v.kind) {
      case Kind.Nil: return this.writeNil();
      case Kind.Bool: return this.writeBool(v.asBool());
      case Kind.Int: return this.writeI64(v.asI64());
      case Kind.Uint: return this.writeU64(v.asU64());
      case Kind.Float: return v.isFloat32() ? this.writeF32(<f32>v.asF64()) : this.writeF64(v.asF64());
      case Kind.Str: return this.writeString(v.asString());
      case Kind.Bin: return this.writeBytes(v.asBytes());
      case Kind.Ext: return this.writeExt(v.extType(), v.asBytes());
      case Kind.Arr: {
        const n = v.length;
        this.writeArrayHeader(n);
        for (let i = 0; i < n; i++) this.writeValue(v.at(i));
        return this;
      }
      default: {
        const n = v.size;
        this.writeMapHeader(n);
        for (let i = 0; i < n; i++) {
          this.writeValue(v.keyAt(i));
          this.writeValue(v.valueAt(i));
        }
        return this;
      }
    }
  }

  /** A copy of the bytes written. */
  finish(): Uint8Array {
    return this.buf.slice(0, this.pos);
  }
  /** Pointer to the bytes written (valid until the next write). */
  get dataStart(): usize {
    return this.buf.dataStart;
  }
}

/** Encode one value. */
export function encode(v: MsgValue): Uint8Array {
  return new Encoder().writeValue(v).finish();
}

// ---------------------------------------------------------------------------------------

/**
 * Reads msgpack from `len` bytes at `ptr`. Construct with `Decoder.of(bytes)` to read a
 * Uint8Array (the decoder keeps it alive). A failed read returns null and sets `error`.
 */
export class Decoder {
  private pos: usize;
  private end: usize;
  /** Why the last read failed (null while nothing failed). */
  error: string | null = null;
  private keep: Uint8Array | null = null;

  constructor(ptr: usize, len: i32) {
    this.pos = ptr;
    this.end = ptr + <usize>(len < 0 ? 0 : len);
  }

  static of(bytes: Uint8Array): Decoder {
    const d = new Decoder(bytes.dataStart, bytes.length);
    d.keep = bytes;
    return d;
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

  private str(n: i64): MsgValue | null {
    if (n < 0 || !this.has(<u64>n)) return this.fail("truncated string");
    if (n == 0) return MsgValue.ofString("");
    const s = String.UTF8.decodeUnsafe(this.pos, <usize>n);
    this.pos += <usize>n;
    return MsgValue.ofString(s);
  }
  private bin(n: i64): MsgValue | null {
    if (n < 0 || !this.has(<u64>n)) return this.fail("truncated bin");
    const out = new Uint8Array(<i32>n);
    memory.copy(out.dataStart, this.pos, <usize>n);
    this.pos += <usize>n;
    return MsgValue.ofBytes(out);
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
  /** `count` values (map keys and values interleaved), into a list sized once. */
  private list(kind: Kind, count: i32, depth: i32): MsgValue | null {
    if (count == 0) return new MsgValue(kind);
    const items = new Array<MsgValue>(count);
    for (let i = 0; i < count; i++) {
      const v = this.read(depth + 1);
      if (v === null) return null;
      unchecked((items[i] = v));
    }
    return MsgValue.ofItems(kind, items);
  }

  /** Read one value (null on malformed or truncated input; see `error`). */
  read(depth: i32 = 0): MsgValue | null {
    if (!this.has(1)) return this.fail("unexpected end of input");
    const t = this.u8();
    if (t < 0x80) return MsgValue.ofI64(<i64>t);
    if (t >= 0xe0) return MsgValue.ofI64(<i64>(<i8>t));
    if (t < 0x90) return this.map(<i64>(t & 0x0f), depth);
    if (t < 0xa0) return this.arr(<i64>(t & 0x0f), depth);
    if (t < 0xc0) return this.str(<i64>(t & 0x1f));
    switch (t) {
      case 0xc0: return MsgValue.nil();
      case 0xc2: return MsgValue.ofBool(false);
      case 0xc3: return MsgValue.ofBool(true);
      case 0xc4: return this.bin(this.len(1));
      case 0xc5: return this.bin(this.len(2));
      case 0xc6: return this.bin(this.len(4));
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
      case 0xd9: return this.str(this.len(1));
      case 0xda: return this.str(this.len(2));
      case 0xdb: return this.str(this.len(4));
      case 0xdc: return this.arr(this.len(2), depth);
      case 0xdd: return this.arr(this.len(4), depth);
      case 0xde: return this.map(this.len(2), depth);
      case 0xdf: return this.map(this.len(4), depth);
      default: return this.fail("invalid type byte 0xc1");
    }
  }

  /** Read exactly one value that spans the whole input (trailing bytes are an error). */
  readAll(): MsgValue | null {
    const v = this.read(0);
    if (v === null) return null;
    if (this.pos != this.end) return this.fail("trailing bytes after the value");
    return v;
  }
}

/** Decode a whole buffer holding exactly one value; null when malformed. */
export function decode(bytes: Uint8Array): MsgValue | null {
  return Decoder.of(bytes).readAll();
}
