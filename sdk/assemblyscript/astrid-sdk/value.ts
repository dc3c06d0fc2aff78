/**
 * The dynamic msgpack value of the SDK. Costs matter: the kernel charges fuel per function
 * entry by the function's whole size, and every allocation runs the allocator. So decoded
 * strings and bins are slices of the input (turned into a string only when asked, written
 * back by copying bytes), small integers, nil, booleans and "" are shared, and a container's
 * items are one StaticArray.
 *
 * Numbers: integers keep their sign and width class (`Int` for values that fit i64, `Uint`
 * only above i64.MAX_VALUE); floats remember whether they were float32. The kernel's
 * JavaScript encoder (msgpackr) writes integers above 2^32 as float64, so the integer
 * accessors also accept a float that holds an exact integer.
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

/**
 * A dynamically typed msgpack value. Build with the static `of*`/`new*` constructors.
 * Scalars are immutable (small integers, nil, the booleans and "" are shared); only arrays
 * (`push`) and maps (`set`) change.
 */
export class MsgValue {
  // 24 bytes: a 64 KiB message of one-byte items must fit a capsule's memory budget.
  /** Int/Uint/Float/Bool bits; a slice's offset << 32 | length; Arr/Map: slots used. */
  private n: i64 = 0;
  /** Str: the string (null until a slice is first read as a string). */
  private s: string | null = null;
  /** Bin/Ext: the bytes. A slice: the buffer it lies in. */
  private data: Uint8Array | null = null;
  /** Arr: items. Map: key, value, key, value, ... Capacity may exceed the slots used. */
  private items: StaticArray<MsgValue> | null = null;
  private k: u8 = 0;
  /** Float: encode as float32. */
  private f32: bool = false;
  /** Str/Bin: the value is `n`'s slice of `data` (as decoded), not `s`/all of `data`. */
  private slice: bool = false;
  private ext: i8 = 0;

  constructor(kind: Kind = Kind.Nil) {
    this.k = <u8>kind;
    if (kind == Kind.Str) this.s = "";
    else if (kind == Kind.Bin || kind == Kind.Ext) this.data = new Uint8Array(0);
  }

  /** The kind of value. */
  get kind(): Kind {
    return <Kind>this.k;
  }

  /** @internal The raw 64 bits of an Int, Uint, Float or Bool (no kind check). */
  get bits(): i64 {
    return this.n;
  }
  /** @internal True for a Str or Bin that is still a slice of the decoded input. */
  get isSlice(): bool {
    return this.slice;
  }
  /** @internal Start of a slice's bytes in memory. */
  get sliceStart(): usize {
    return this.data!.dataStart + <usize>(this.n >>> 32);
  }
  /** @internal Length of a slice in bytes. */
  get sliceLength(): i32 {
    return <i32>(this.n & 0xffffffff);
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
  static ofI32(v: i32): MsgValue {
    return MsgValue.ofI64(<i64>v);
  }
  /** An unsigned integer (kept as `Int` when it fits i64). */
  static ofU64(v: u64): MsgValue {
    if (v <= <u64>i64.MAX_VALUE) return MsgValue.ofI64(<i64>v);
    return MsgValue.scalar(Kind.Uint, <i64>v);
  }
  static ofF64(v: f64): MsgValue {
    return MsgValue.scalar(Kind.Float, reinterpret<i64>(v));
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
  static ofStrings(v: Array<string>): MsgValue {
    const m = MsgValue.newArray();
    for (let i = 0; i < v.length; i++) m.push(MsgValue.ofString(unchecked(v[i])));
    return m;
  }
  /** @internal An Int, Uint, Float or Bool with the given bits (use the `of*` constructors). */
  static scalar(kind: Kind, bits: i64): MsgValue {
    const m = new MsgValue(kind);
    m.n = bits;
    return m;
  }
  /** @internal A Str or Bin that is `len` bytes of `buf` from `offset` (kept, not copied). */
  static sliceOf(kind: Kind, buf: Uint8Array, offset: u32, len: u32): MsgValue {
    const m = new MsgValue(kind);
    m.s = null;
    m.data = buf;
    m.n = (<i64>offset << 32) | <i64>len;
    m.slice = true;
    return m;
  }
  /** @internal An Arr or Map (keys and values interleaved) over the first `used` of `items`. */
  static ofItems(kind: Kind, items: StaticArray<MsgValue>, used: i32): MsgValue {
    const m = new MsgValue(kind);
    m.items = items;
    m.n = <i64>used;
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
    let s = this.s;
    if (s === null) this.s = s = decodeUtf8(this.sliceStart, <usize>this.sliceLength);
    return s;
  }
  /** The bytes of a `bin` (or the data of an ext). */
  asBytes(): Uint8Array {
    if (this.k != Kind.Bin && this.k != Kind.Ext) wrongKind("bin", this.k);
    if (this.slice) {
      const off = <i32>(this.n >>> 32);
      this.data = this.data!.subarray(off, off + this.sliceLength);
      this.slice = false;
    }
    return this.data!;
  }
  /** The items of an array, as a new list (change the value itself with `push`). */
  asArray(): Array<MsgValue> {
    if (this.k != Kind.Arr) wrongKind("array", this.k);
    const n = <i32>this.n;
    const out = new Array<MsgValue>(n);
    for (let i = 0; i < n; i++) unchecked((out[i] = unchecked(this.items![i])));
    return out;
  }
  /** The ext type byte. */
  extType(): i8 {
    if (this.k != Kind.Ext) wrongKind("ext", this.k);
    return this.ext;
  }

  /** Items of an array, entries of a map, bytes of a bin/ext/string (UTF-8); 0 otherwise. */
  get length(): i32 {
    switch (this.kind) {
      case Kind.Arr: return <i32>this.n;
      case Kind.Map: return <i32>this.n >> 1;
      case Kind.Bin:
      case Kind.Str: {
        if (this.slice) return this.sliceLength;
        return this.k == Kind.Str ? String.UTF8.byteLength(this.s!) : this.data!.length;
      }
      case Kind.Ext: return this.data!.length;
      default: return 0;
    }
  }

  /** Array item `i`; nil when out of range or not an array. */
  at(i: i32): MsgValue {
    if (this.k != Kind.Arr || <u32>i >= <u32>this.n) return MsgValue.nil();
    return unchecked(this.items![i]);
  }

  /** True when this is a Str equal to `key` (compares UTF-8 bytes with the string directly when both are ASCII). */
  equalsString(key: string): bool {
    if (this.k != Kind.Str) return false;
    if (!this.slice || this.s !== null) return this.s! == key;
    const len = this.sliceLength;
    const n = key.length;
    if (len < n) return false; // UTF-8 is never shorter than UTF-16
    if (len == n) {
      const p = this.sliceStart;
      const q = changetype<usize>(key);
      for (let i = 0; i < n; i++) {
        const b = <u32>load<u8>(p + <usize>i);
        const c = <u32>load<u16>(q + (<usize>i << 1));
        if ((b | c) >= 0x80) return this.asString() == key;
        if (b != c) return false;
      }
      return true;
    }
    return this.asString() == key;
  }

  // ---- maps ----

  /** Index of the entry whose key is the string `key`, or -1. */
  indexOf(key: string): i32 {
    if (this.k != Kind.Map) return -1;
    const used = <i32>this.n;
    for (let i = 0; i < used; i += 2) {
      if (unchecked(this.items![i]).equalsString(key)) return i >> 1;
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
    return v.k == Kind.Str ? v.asString() : fallback;
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
    return this.k == Kind.Map ? <i32>this.n >> 1 : 0;
  }
  keyAt(i: i32): MsgValue {
    if (this.k != Kind.Map || <u32>i >= <u32>(this.n >> 1)) return MsgValue.nil();
    return unchecked(this.items![i << 1]);
  }
  valueAt(i: i32): MsgValue {
    if (this.k != Kind.Map || <u32>i >= <u32>(this.n >> 1)) return MsgValue.nil();
    return unchecked(this.items![(i << 1) + 1]);
  }

  /** Set `key` (replacing an existing entry, else appending). Returns this, for chaining. */
  set(key: string, value: MsgValue): MsgValue {
    if (this.k != Kind.Map) wrongKind("map", this.k);
    const i = this.indexOf(key);
    if (i >= 0) unchecked((this.items![(i << 1) + 1] = value));
    else this.append(MsgValue.ofString(key), value);
    return this;
  }
  /** Append an entry with any key (no replacement: the decoder keeps duplicates as sent). */
  setEntry(key: MsgValue, value: MsgValue): MsgValue {
    if (this.k != Kind.Map) wrongKind("map", this.k);
    this.append(key, value);
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
    this.append(value, null);
    return this;
  }

  /** Append one slot (or two, for a map entry), growing the items geometrically. */
  private append(a: MsgValue, b: MsgValue | null): void {
    const used = <i32>this.n;
    const need = used + (b === null ? 1 : 2);
    let items = this.items;
    if (items === null || need > items.length) {
      let cap = items === null ? 4 : items.length << 1;
      while (cap < need) cap <<= 1;
      const next = new StaticArray<MsgValue>(cap);
      for (let i = 0; i < used; i++) unchecked((next[i] = unchecked(items![i])));
      this.items = items = next;
    }
    unchecked((items[used] = a));
    if (b !== null) unchecked((items[used + 1] = b));
    this.n = <i64>need;
  }

  /** A short JSON-like rendering for logs (bytes as `<bin N>`). */
  toString(): string {
    switch (this.kind) {
      case Kind.Nil: return "null";
      case Kind.Bool: return this.n != 0 ? "true" : "false";
      case Kind.Int: return this.n.toString();
      case Kind.Uint: return (<u64>this.n).toString();
      case Kind.Float: return reinterpret<f64>(this.n).toString();
      case Kind.Str: return "\"" + this.asString() + "\"";
      case Kind.Bin: return "<bin " + this.length.toString() + ">";
      case Kind.Ext: return "<ext " + this.ext.toString() + " " + this.length.toString() + ">";
      case Kind.Arr: {
        let out = "[";
        for (let i = 0, n = <i32>this.n; i < n; i++) {
          if (i > 0) out += ",";
          out += unchecked(this.items![i]).toString();
        }
        return out + "]";
      }
      default: {
        let out = "{";
        for (let i = 0, n = <i32>this.n; i < n; i += 2) {
          if (i > 0) out += ",";
          out += unchecked(this.items![i]).toString() + ":" + unchecked(this.items![i + 1]).toString();
        }
        return out + "}";
      }
    }
  }
}

// Shared scalars: the integers SMALL_MIN..SMALL_MAX, then nil, false, true, "". Each is made
// on first use; the table is a global, so the collector never frees them.
const SMALL_MIN: i64 = -32;
const SMALL_MAX: i64 = 255;
const SHARED_NIL: i32 = <i32>(SMALL_MAX - SMALL_MIN) + 1;
const SHARED_FALSE: i32 = SHARED_NIL + 1;
const SHARED_TRUE: i32 = SHARED_NIL + 2;
const SHARED_EMPTY_STRING: i32 = SHARED_NIL + 3;
let sharedValues: StaticArray<MsgValue | null> | null = null;

/** @internal The shared Int for a value in SMALL_MIN..SMALL_MAX. */
export function smallInt(v: i32): MsgValue {
  return shared(v - <i32>SMALL_MIN);
}

function shared(i: i32): MsgValue {
  const table = sharedValues;
  if (table !== null) {
    const hit = unchecked(table[i]);
    if (hit !== null) return hit;
  }
  return makeShared(i);
}

function makeShared(i: i32): MsgValue {
  let table = sharedValues;
  if (table === null) sharedValues = table = new StaticArray<MsgValue | null>(SHARED_EMPTY_STRING + 1);
  let v: MsgValue;
  if (i < SHARED_NIL) v = MsgValue.scalar(Kind.Int, <i64>i + SMALL_MIN);
  else if (i == SHARED_NIL) v = new MsgValue(Kind.Nil);
  else if (i == SHARED_FALSE) v = MsgValue.scalar(Kind.Bool, 0);
  else if (i == SHARED_TRUE) v = MsgValue.scalar(Kind.Bool, 1);
  else v = new MsgValue(Kind.Str);
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

/** UTF-8 to a string: a tight loop for ASCII, the standard decoder for anything else. */
function decodeUtf8(ptr: usize, len: usize): string {
  const out = changetype<usize>(__new(len << 1, idof<string>()));
  for (let i: usize = 0; i < len; i++) {
    const c = <u32>load<u8>(ptr + i);
    if (c >= 0x80) return String.UTF8.decodeUnsafe(ptr, len);
    store<u16>(out + (i << 1), <u16>c);
  }
  return changetype<string>(out);
}
