/**
 * Entry codec. An entry is encoded exactly once, at append, as a standard msgpack map
 * (no msgpackr records or extensions, so any msgpack decoder can read it) with the
 * fields in a fixed order: v, seq, prev, time, session, principal, actor, kind, body.
 * The bytes produced are what is stored and hashed; they are never re-encoded.
 * Decoding parses untrusted bytes into a typed entry or reports why not.
 */
import {Packr, Unpackr} from 'msgpackr';
import {BLAKE3_LEN} from '../crypto/index.js';
import {ID_RE, isId, type ActorId, type PrincipalId, type Seq, type SessionId} from './ids.js';
import {ENTRY_FORMAT_VERSION, ENTRY_KINDS, MAX_NOTE_CHARS, isEntryKind, parseBody, type BodyByKind, type EntryKind} from './kinds.js';

/** Largest encoded entry accepted (bytes). */
export const MAX_ENTRY_BYTES = 1024 * 1024;

/** A decoded ledger entry of kind K. */
export interface LedgerEntry<K extends EntryKind = EntryKind> {
  readonly v: number;
  readonly seq: Seq;
  /** BLAKE3 of the previous entry (32 zero bytes for the first). */
  readonly prev: Uint8Array;
  /** Milliseconds since the Unix epoch, from the kernel's injected clock. */
  readonly time: number;
  readonly session: SessionId;
  readonly principal: PrincipalId;
  readonly actor: ActorId;
  readonly kind: K;
  readonly body: BodyByKind[K];
}

/** Any entry: the discriminated union over kinds (switch on `kind`). */
export type AnyEntry = {[K in EntryKind]: LedgerEntry<K>}[EntryKind];

const packr = new Packr({useRecords: false, moreTypes: false, variableMapSize: true});
const unpackr = new Unpackr({useRecords: false, mapsAsObjects: true, int64AsType: 'number'});

/** Encode an entry. The caller guarantees the entry is valid (the Ledger validates first). */
export function encodeEntry(e: LedgerEntry): Uint8Array {
  return encodeWithPrev(e).slice(BLAKE3_LEN); // a copy: the encoder's buffer is a view into a shared slab
}

// Entries are carved out of shared 256 KiB slabs rather than one ArrayBuffer each: a
// typed array over 64 bytes gets its own off-heap backing store, slow to allocate and to
// collect by the thousand. A slab is never reused; it is collected once no view of it is
// left (the stores copy what they keep).
const SLAB = 256 * 1024;
let slabBuf = new ArrayBuffer(0);
let slabPos = 0;
function slab(n: number): Uint8Array {
  if (n > SLAB / 4) return new Uint8Array(n);
  if (slabPos + n > slabBuf.byteLength) {
    slabBuf = new ArrayBuffer(SLAB);
    slabPos = 0;
  }
  // A view made by the constructor, not subarray(): no species lookup on the hot path.
  const v = new Uint8Array(slabBuf, slabPos, n);
  slabPos += (n + 7) & ~7;
  return v;
}

// Field-name headers, precomputed: fixstr of each key.
const KEY = (k: string): Uint8Array => new Uint8Array(Buffer.from([0xa0 | k.length, ...Buffer.from(k, 'latin1')]));
const K_V = KEY('v');
const K_SEQ = KEY('seq');
const K_PREV = KEY('prev');
const K_TIME = KEY('time');
const K_SESSION = KEY('session');
const K_PRINCIPAL = KEY('principal');
const K_ACTOR = KEY('actor');
const K_KIND = KEY('kind');
const K_BODY = KEY('body');

// The encoder writes into one reused scratch buffer (grown on demand, dropped again after a
// very large entry), then copies the result into a slab: one copy of the entry, no closure,
// no intermediate buffer per field.
const SCRATCH = 16 * 1024;
let w: Uint8Array = new Uint8Array(SCRATCH);
let wb: Buffer = Buffer.from(w.buffer, w.byteOffset, w.byteLength);
let wv: DataView = new DataView(w.buffer, w.byteOffset, w.byteLength);
let wp = 0;

// Buffer's own UTF-8 writer without Buffer#write's argument handling (msgpackr calls the
// same method); Buffer#write where it is missing.
type Utf8Writer = {utf8Write?: (s: string, offset: number, length: number) => number};
const nativeUtf8Write = (Buffer.prototype as unknown as Utf8Writer).utf8Write;
function utf8Write(value: string, at: number): number {
  return nativeUtf8Write !== undefined ? nativeUtf8Write.call(wb, value, at, w.length - at) : wb.write(value, at, w.length - at, 'utf8');
}

function room(n: number): void {
  if (wp + n <= w.length) return;
  let size = w.length * 2;
  while (size < wp + n) size *= 2;
  const grown = new Uint8Array(size);
  grown.set(w.subarray(0, wp));
  setScratch(grown);
}

function setScratch(b: Uint8Array): void {
  w = b;
  wb = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
  wv = new DataView(b.buffer, b.byteOffset, b.byteLength);
}

function putBytes(b: Uint8Array): void {
  w.set(b, wp);
  wp += b.length;
}

/**
 * A string exactly as msgpackr writes it: UTF-8 by hand under 64 UTF-16 units (a lone
 * surrogate as its 3-byte form), by Buffer's UTF-8 writer from 64 on (a lone surrogate as
 * U+FFFD), with the smallest header for the byte length.
 */
function packString(value: string): void {
  const n = value.length;
  const headerSize = n < 0x20 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : 5;
  // Room for the largest header: the UTF-8 length (up to 3n) can need a longer one than n
  // does, and the text is then moved up to make space for it.
  room(5 + n * 3);
  const at = wp + headerSize;
  let len: number;
  if (n < 0x40) {
    let p = at;
    for (let i = 0; i < n; i++) {
      let c1 = value.charCodeAt(i);
      let c2: number;
      if (c1 < 0x80) {
        w[p++] = c1;
      } else if (c1 < 0x800) {
        w[p++] = (c1 >> 6) | 0xc0;
        w[p++] = (c1 & 0x3f) | 0x80;
      } else if ((c1 & 0xfc00) === 0xd800 && ((c2 = value.charCodeAt(i + 1)) & 0xfc00) === 0xdc00) {
        c1 = 0x10000 + ((c1 & 0x03ff) << 10) + (c2 & 0x03ff);
        i++;
        w[p++] = (c1 >> 18) | 0xf0;
        w[p++] = ((c1 >> 12) & 0x3f) | 0x80;
        w[p++] = ((c1 >> 6) & 0x3f) | 0x80;
        w[p++] = (c1 & 0x3f) | 0x80;
      } else {
        w[p++] = (c1 >> 12) | 0xe0;
        w[p++] = ((c1 >> 6) & 0x3f) | 0x80;
        w[p++] = (c1 & 0x3f) | 0x80;
      }
    }
    len = p - at;
  } else {
    len = utf8Write(value, at);
  }
  const need = len < 0x20 ? 1 : len < 0x100 ? 2 : len < 0x10000 ? 3 : 5;
  if (need !== headerSize) w.copyWithin(wp + need, at, at + len);
  if (need === 1) w[wp++] = 0xa0 | len;
  else if (need === 2) {
    w[wp++] = 0xd9;
    w[wp++] = len;
  } else if (need === 3) {
    w[wp++] = 0xda;
    w[wp++] = len >> 8;
    w[wp++] = len & 0xff;
  } else {
    w[wp++] = 0xdb;
    wv.setUint32(wp, len);
    wp += 4;
  }
  wp += len;
}

/** A container header (fixmap/fixarray, 16- or 32-bit length) as msgpackr writes it. */
function packLength(n: number, fix: number, t16: number, t32: number): void {
  room(5);
  if (n < 0x10) w[wp++] = fix | n;
  else if (n < 0x10000) {
    w[wp++] = t16;
    w[wp++] = n >> 8;
    w[wp++] = n & 0xff;
  } else {
    w[wp++] = t32;
    wv.setUint32(wp, n);
    wp += 4;
  }
}

/**
 * Write `value` as plain msgpack, byte for byte what msgpackr's Packr (useRecords: false,
 * moreTypes: false, variableMapSize: true) writes for it. Only the types body parsers
 * produce are handled: string, number, boolean, null, plain objects, arrays and
 * Uint8Arrays (or Buffers). Anything else returns false and the caller packs the whole
 * body with msgpackr instead, so the stored bytes never depend on which path was taken.
 */
function packPlain(value: unknown, depth: number): boolean {
  switch (typeof value) {
    case 'string':
      packString(value);
      return true;
    case 'number': {
      room(9);
      const v = value;
      if (v >>> 0 === v) {
        if (v < 0x80) w[wp++] = v;
        else if (v < 0x100) {
          w[wp++] = 0xcc;
          w[wp++] = v;
        } else if (v < 0x10000) {
          w[wp++] = 0xcd;
          w[wp++] = v >> 8;
          w[wp++] = v & 0xff;
        } else {
          w[wp++] = 0xce;
          wv.setUint32(wp, v);
          wp += 4;
        }
      } else if (v >> 0 === v) {
        if (v >= -0x20) w[wp++] = 0x100 + v;
        else if (v >= -0x80) {
          w[wp++] = 0xd0;
          w[wp++] = v + 0x100;
        } else if (v >= -0x8000) {
          w[wp++] = 0xd1;
          wv.setInt16(wp, v);
          wp += 2;
        } else {
          w[wp++] = 0xd2;
          wv.setInt32(wp, v);
          wp += 4;
        }
      } else {
        w[wp++] = 0xcb;
        wv.setFloat64(wp, v);
        wp += 8;
      }
      return true;
    }
    case 'boolean':
      room(1);
      w[wp++] = value ? 0xc3 : 0xc2;
      return true;
    case 'object': {
      if (value === null) {
        room(1);
        w[wp++] = 0xc0;
        return true;
      }
      if (depth > MAX_DEPTH) return false;
      const ctor = (value as {constructor?: unknown}).constructor;
      if (ctor === Object) {
        const o = value as Record<string, unknown>;
        // for-in with an own-property check visits what Object.keys lists, in the same
        // order, without the array it makes (the ledger's hot path). Only the count is
        // checked between the two passes: the ledger's bodies are fresh plain objects built by
        // their parsers, so nothing can change keys in between.
        let n = 0;
        for (const k in o) if (Object.hasOwn(o, k)) n++;
        packLength(n, 0x80, 0xde, 0xdf);
        for (const k in o) {
          if (!Object.hasOwn(o, k)) continue;
          if (n-- === 0) return false; // more keys than counted (a proxy): msgpackr encodes it instead
          packString(k);
          if (!packPlain(o[k], depth + 1)) return false;
        }
        return n === 0;
      }
      if (ctor === Array) {
        const a = value as unknown[];
        packLength(a.length, 0x90, 0xdc, 0xdd);
        for (let i = 0; i < a.length; i++) if (!packPlain(a[i], depth + 1)) return false;
        return true;
      }
      if (ctor === Uint8Array || ctor === Buffer) {
        const b = value as Uint8Array;
        const n = b.byteLength;
        room(5 + n);
        if (n < 0x100) {
          w[wp++] = 0xc4;
          w[wp++] = n;
        } else if (n < 0x10000) {
          w[wp++] = 0xc5;
          w[wp++] = n >> 8;
          w[wp++] = n & 0xff;
        } else {
          w[wp++] = 0xc6;
          wv.setUint32(wp, n);
          wp += 4;
        }
        putBytes(b);
        return true;
      }
      return false;
    }
    default:
      return false;
  }
}

/** A body as plain msgpack: the same bytes as `packr.pack(body)` (tests hold the two equal). */
export function packBody(body: unknown): Uint8Array {
  wp = 0;
  encodeBody(body);
  return done(0).slice();
}

// True while a body is being encoded: the scratch is shared, so a nested encode (only code
// run from inside the body's values could start one; the ledger's parsers copy every value
// to plain data first) is refused rather than allowed to overwrite it.
let encoding = false;

function encodeBody(body: unknown): void {
  if (encoding) throw new TypeError('an entry body was encoded from inside the encoding of another');
  encoding = true;
  try {
    const start = wp;
    if (!packPlain(body, 0)) {
      wp = start;
      const b = packr.pack(body);
      room(b.length);
      putBytes(b);
    }
  } finally {
    encoding = false;
  }
}

/** The scratch from `from` to the write position, as a view; drops an outsized scratch afterwards. */
function done(from: number): Uint8Array {
  const out = w.subarray(from, wp);
  dropOutsized(); // `out` keeps the big one alive until copied
  return out;
}

function dropOutsized(): void {
  if (w.length > 4 * SCRATCH * 64) setScratch(new Uint8Array(SCRATCH));
}

/** `b` copied to out[o...]; returns the offset after it. A loop beats TypedArray#set for a few bytes. */
function copyIn(out: Uint8Array, o: number, b: Uint8Array): number {
  for (let i = 0; i < b.length; i++) out[o + i] = b[i] as number;
  return o + b.length;
}

/** Bytes of a safe integer >= 0 as a msgpack uint in its smallest form. */
function uintSize(n: number): number {
  return n < 0x80 ? 1 : n < 0x100 ? 2 : n < 0x10000 ? 3 : n < 0x1_0000_0000 ? 5 : 9;
}

/** A safe integer >= 0 as a msgpack uint in its smallest form at out[o]; returns the offset after it. */
function uintAt(out: Uint8Array, o: number, n: number): number {
  if (n < 0x80) {
    out[o] = n;
    return o + 1;
  }
  if (n < 0x100) {
    out[o] = 0xcc;
    out[o + 1] = n;
    return o + 2;
  }
  if (n < 0x10000) {
    out[o] = 0xcd;
    out[o + 1] = n >>> 8;
    out[o + 2] = n & 0xff;
    return o + 3;
  }
  if (n < 0x1_0000_0000) {
    out[o] = 0xce;
    out[o + 1] = n >>> 24;
    out[o + 2] = (n >>> 16) & 0xff;
    out[o + 3] = (n >>> 8) & 0xff;
    out[o + 4] = n & 0xff;
    return o + 5;
  }
  const hi = Math.floor(n / 0x1_0000_0000);
  const lo = n >>> 0;
  out[o] = 0xcf;
  out[o + 1] = hi >>> 24;
  out[o + 2] = (hi >>> 16) & 0xff;
  out[o + 3] = (hi >>> 8) & 0xff;
  out[o + 4] = hi & 0xff;
  out[o + 5] = lo >>> 24;
  out[o + 6] = (lo >>> 16) & 0xff;
  out[o + 7] = (lo >>> 8) & 0xff;
  out[o + 8] = lo & 0xff;
  return o + 9;
}

/** Bytes of an id or kind (ASCII, validated by the ledger, at most 255 characters) as a str. */
function asciiSize(t: string): number {
  return (t.length < 32 ? 1 : 2) + t.length;
}

/** An id or kind as fixstr or str 8 at out[o]; returns the offset after it. */
function asciiAt(out: Uint8Array, o: number, t: string): number {
  const n = t.length;
  if (n < 32) out[o++] = 0xa0 | n;
  else {
    out[o++] = 0xd9;
    out[o++] = n;
  }
  for (let i = 0; i < n; i++) out[o + i] = t.charCodeAt(i);
  return o + n;
}

/**
 * Encode an entry into a fresh buffer laid out as `prev (32 bytes) || entry bytes`: exactly
 * the input of the chain hash, so it is hashed in one pass, after which the caller can
 * overwrite the first 32 bytes with the hash to get the stored value (hash || bytes) with no
 * further copy. The body is encoded first, into the scratch buffer, by hand, byte for byte
 * as msgpackr would write it (msgpackr itself for any value the hand encoder does not
 * cover); then the envelope, whose size is then known, is written by hand straight into the
 * result and the body copied after it. The result is plain msgpack: a fixmap of the nine
 * fields in order, unsigned integers in their smallest form, ids and kinds as str, prev as
 * bin 8.
 */
export function encodeWithPrev(e: LedgerEntry): Uint8Array {
  return encodeFields(e.v, e.seq, e.prev, e.time, e.session, e.principal, e.actor, e.kind, e.body, false);
}

// Where encodeFields writes when asked for a reusable result.
let reuseBuf = new ArrayBuffer(4096);

/** Bytes before the body in `prev || entry bytes`: prev, the map header, every field, the body's key. */
function envelopeSize(v: number, seq: number, time: number, session: string, principal: string, actor: string, kind: string): number {
  return (
    BLAKE3_LEN + 1 + K_V.length + uintSize(v) + K_SEQ.length + uintSize(seq) + K_PREV.length + 2 + BLAKE3_LEN + K_TIME.length + uintSize(time) +
    K_SESSION.length + asciiSize(session) + K_PRINCIPAL.length + asciiSize(principal) + K_ACTOR.length + asciiSize(actor) +
    K_KIND.length + asciiSize(kind) + K_BODY.length
  );
}

/** Offset of the prev field's 32 bytes in `prev || entry bytes`. */
function prevFieldAt(v: number, seq: number): number {
  return BLAKE3_LEN + 1 + K_V.length + uintSize(v) + K_SEQ.length + uintSize(seq) + K_PREV.length + 2;
}

/**
 * The envelope at out[0, envelopeSize): a fixmap of nine, then each field in order up to the
 * body's key. The 32 bytes of prev, at 0 and at prevFieldAt, are left to the caller.
 * Returns envelopeSize.
 */
function envelopeAt(out: Uint8Array, v: number, seq: number, time: number, session: string, principal: string, actor: string, kind: string): number {
  let o = BLAKE3_LEN;
  out[o++] = 0x89;
  o = uintAt(out, copyIn(out, o, K_V), v);
  o = uintAt(out, copyIn(out, o, K_SEQ), seq);
  o = copyIn(out, o, K_PREV);
  out[o++] = 0xc4;
  out[o++] = BLAKE3_LEN;
  o += BLAKE3_LEN;
  o = uintAt(out, copyIn(out, o, K_TIME), time);
  o = asciiAt(out, copyIn(out, o, K_SESSION), session);
  o = asciiAt(out, copyIn(out, o, K_PRINCIPAL), principal);
  o = asciiAt(out, copyIn(out, o, K_ACTOR), actor);
  o = asciiAt(out, copyIn(out, o, K_KIND), kind);
  return copyIn(out, o, K_BODY);
}

/**
 * encodeWithPrev from the fields themselves, for a caller without a buffer to encode into
 * (see encodeFieldsInto). With `reuse`, the result is a view into a buffer that the next
 * call overwrites, for a caller that copies it at once (a store whose writer copies on
 * put); otherwise it is carved from a slab and stays valid.
 */
export function encodeFields(
  v: number,
  seq: number,
  prev: Uint8Array,
  time: number,
  session: string,
  principal: string,
  actor: string,
  kind: string,
  body: unknown,
  reuse: boolean,
): Uint8Array {
  wp = 0;
  encodeBody(body);
  const bodyLen = wp;
  const size = envelopeSize(v, seq, time, session, principal, actor, kind) + bodyLen;
  let out: Uint8Array;
  if (!reuse) out = slab(size);
  else {
    if (reuseBuf.byteLength < size || reuseBuf.byteLength > 4 * SCRATCH * 64) reuseBuf = new ArrayBuffer(Math.max(4096, size));
    out = new Uint8Array(reuseBuf, 0, size);
  }
  const o = envelopeAt(out, v, seq, time, session, principal, actor, kind);
  out.set(prev, 0);
  out.set(prev, prevFieldAt(v, seq));
  if (bodyLen <= 64) for (let i = 0; i < bodyLen; i++) out[o + i] = w[i] as number;
  else out.set(new Uint8Array(w.buffer, w.byteOffset, bodyLen), o);
  dropOutsized();
  return out;
}

// The Buffer and DataView over the last buffer encodeFieldsInto wrote to (the hasher's,
// the same one every time), so that the body's encoder can write there.
let intoOut: Uint8Array | undefined;
let intoBuffer: Buffer = Buffer.alloc(0);
let intoView: DataView = new DataView(new ArrayBuffer(0));
let prevOf: Uint8Array | undefined;
let prevView: DataView = new DataView(new ArrayBuffer(BLAKE3_LEN));

/**
 * encodeWithPrev from the fields themselves, written at the start of `out` (the ledger's
 * append path: `out` is the hasher's input buffer, so the entry is hashed where it is
 * encoded). The envelope's size is known from the fields, so the body is encoded straight
 * to its place after it: no copy and nothing allocated. Returns the length written (prev || entry bytes), or -1 when
 * the entry does not fit in `out`; encode it with encodeFields then. The bytes are the
 * same as encodeFields' (tests hold the two equal).
 */
export function encodeFieldsInto(
  out: Uint8Array,
  v: number,
  seq: number,
  prev: Uint8Array,
  time: number,
  session: string,
  principal: string,
  actor: string,
  kind: string,
  body: unknown,
): number {
  const at = envelopeSize(v, seq, time, session, principal, actor, kind);
  if (at > out.length) return -1;
  if (out !== intoOut) {
    intoOut = out;
    intoBuffer = Buffer.from(out.buffer, out.byteOffset, out.byteLength);
    intoView = new DataView(out.buffer, out.byteOffset, out.byteLength);
  }
  // The body's encoder writes to the scratch: make `out` the scratch while it runs. A body
  // too large for `out` grows the scratch into a new buffer (room), which is then dropped.
  const scratch = w;
  const scratchBuffer = wb;
  const scratchView = wv;
  w = out;
  wb = intoBuffer;
  wv = intoView;
  wp = at;
  let fits: boolean;
  let end: number;
  try {
    encodeBody(body);
  } finally {
    fits = w === out;
    end = wp;
    w = scratch;
    wb = scratchBuffer;
    wv = scratchView;
    wp = 0;
  }
  if (!fits || end > out.length) return -1;
  envelopeAt(out, v, seq, time, session, principal, actor, kind);
  // prev at 0 and in its field, a word at a time (prev's view is kept while prev is the same array: the ledger's).
  if (prev !== prevOf) {
    prevOf = prev;
    prevView = new DataView(prev.buffer, prev.byteOffset, BLAKE3_LEN);
  }
  const pv = prevView;
  const to = intoView;
  const at2 = prevFieldAt(v, seq);
  for (let i = 0; i < BLAKE3_LEN; i += 4) {
    const x = pv.getUint32(i, true);
    to.setUint32(i, x, true);
    to.setUint32(at2 + i, x, true);
  }
  return end;
}

const FIELDS = ['v', 'seq', 'prev', 'time', 'session', 'principal', 'actor', 'kind', 'body'] as const;

const MAX_DEPTH = 32;

/**
 * True when `b` is exactly one msgpack value built from the standard types only (nil, bool,
 * int, float, str, bin, array, and maps whose keys are distinct ASCII str): no extension
 * types, so no msgpackr records, typed arrays or timestamps, and no repeated keys. msgpackr
 * decodes all of those (a repeated key silently keeps the last value), so without this check
 * bytes that other msgpack decoders cannot read, or read differently, would pass.
 */
export function isPlainMsgpack(b: Uint8Array): boolean {
  let i = 0;
  const skip = (n: number): boolean => n >= 0 && (i += n) <= b.length;
  const size = (n: 1 | 2 | 4): number => {
    if (i + n > b.length) return -1;
    let v = 0;
    for (let k = 0; k < n; k++) v = v * 256 + (b[i++] as number);
    return v;
  };
  /** The key that ends at `i` and started at `start`, when it is ASCII. */
  const keyText = (start: number): string | undefined => {
    const t = b[start] as number;
    let k = '';
    for (let p = start + (t <= 0xbf ? 1 : t === 0xd9 ? 2 : t === 0xda ? 3 : 5); p < i; p++) {
      const c = b[p] as number;
      if (c >= 0x80) return undefined;
      k += String.fromCharCode(c);
    }
    return k;
  };
  const items = (n: number, depth: number, pairs: boolean): boolean => {
    if (n < 0) return false;
    const seen = pairs ? new Set<string>() : undefined;
    for (let k = 0; k < n; k++) {
      if (seen !== undefined) {
        const start = i;
        if (!value(depth + 1, true)) return false;
        const key = keyText(start);
        if (key === undefined || seen.has(key)) return false;
        seen.add(key);
      }
      if (!value(depth + 1, false)) return false;
    }
    return true;
  };
  const value = (depth: number, key: boolean): boolean => {
    if (i >= b.length || depth > MAX_DEPTH) return false;
    const t = b[i++] as number;
    if (key && !((t >= 0xa0 && t <= 0xbf) || t === 0xd9 || t === 0xda || t === 0xdb)) return false;
    if (t <= 0x7f || t >= 0xe0) return true;
    if (t <= 0x8f) return items(t & 0x0f, depth, true);
    if (t <= 0x9f) return items(t & 0x0f, depth, false);
    if (t <= 0xbf) return skip(t & 0x1f);
    switch (t) {
      case 0xc0:
      case 0xc2:
      case 0xc3:
        return true;
      case 0xc4:
      case 0xd9:
        return skip(size(1));
      case 0xc5:
      case 0xda:
        return skip(size(2));
      case 0xc6:
      case 0xdb:
        return skip(size(4));
      case 0xcc:
      case 0xd0:
        return skip(1);
      case 0xcd:
      case 0xd1:
        return skip(2);
      case 0xca:
      case 0xce:
      case 0xd2:
        return skip(4);
      case 0xcb:
      case 0xcf:
      case 0xd3:
        return skip(8);
      case 0xdc:
        return items(size(2), depth, false);
      case 0xdd:
        return items(size(4), depth, false);
      case 0xde:
        return items(size(2), depth, true);
      case 0xdf:
        return items(size(4), depth, true);
      default:
        return false; // 0xc1 (never used) and the extension types 0xc7-0xc9, 0xd4-0xd8
    }
  };
  return value(0, false) && i === b.length;
}

/** Result of decoding untrusted entry bytes. */
export type DecodeResult = {readonly ok: true; readonly entry: AnyEntry} | {readonly ok: false; readonly problem: string};

// Id grammar as byte tables, derived from ID_RE itself: ID_FIRST for the first character,
// ID_REST for the others (non-ASCII bytes are in neither).
const ID_FIRST = new Uint8Array(256);
const ID_REST = new Uint8Array(256);
for (let c = 0; c < 0x80; c++) {
  const ch = String.fromCharCode(c);
  if (ID_RE.test(ch)) ID_FIRST[c] = 1;
  if (ID_RE.test(`a${ch}`)) ID_REST[c] = 1;
}
const ID_MAX = 128;

/** Kinds by name bytes (ASCII), index as in ENTRY_KINDS. */
const KIND_BYTES: readonly Uint8Array[] = ENTRY_KINDS.map((k) => new Uint8Array(Buffer.from(k, 'latin1')));
const KIND_NOTE = ENTRY_KINDS.indexOf('note');
const KIND_GENESIS = ENTRY_KINDS.indexOf('genesis');

/**
 * Where scanEnvelope found the fields of the entry it last accepted: module state rather
 * than an object per entry (verification scans every entry). Offsets are into the array
 * that was scanned.
 */
const env = {seq: 0, time: 0, prevAt: 0, sessionAt: 0, sessionLen: 0, principalAt: 0, principalLen: 0, actorAt: 0, actorLen: 0, kind: -1, bodyAt: 0};

/** Smallest-or-not msgpack uint at `o`: sets envUint and returns the offset after it, or -1. */
let envUint = 0;
function scanUint(b: Uint8Array, o: number, n: number): number {
  if (o >= n) return -1;
  const t = b[o++] as number;
  if (t < 0x80) {
    envUint = t;
    return o;
  }
  const w = t === 0xcc ? 1 : t === 0xcd ? 2 : t === 0xce ? 4 : t === 0xcf ? 8 : 0;
  if (w === 0 || o + w > n) return -1;
  let v = 0;
  for (let i = 0; i < w; i++) v = v * 256 + (b[o++] as number);
  if (!Number.isSafeInteger(v)) return -1;
  envUint = v;
  return o;
}

/** A fixstr or str 8 at `o`: sets envStrAt/envStrLen and returns the offset after it, or -1. */
let envStrAt = 0;
let envStrLen = 0;
function scanStr(b: Uint8Array, o: number, n: number): number {
  if (o >= n) return -1;
  const t = b[o++] as number;
  let len: number;
  if (t >= 0xa0 && t <= 0xbf) len = t & 0x1f;
  else if (t === 0xd9 && o < n) len = b[o++] as number;
  else return -1;
  if (o + len > n) return -1;
  envStrAt = o;
  envStrLen = len;
  return o + len;
}

/** A str (scanned by scanStr) that is a valid id. */
function idAt(b: Uint8Array, at: number, len: number): boolean {
  if (len < 1 || len > ID_MAX || ID_FIRST[b[at] as number] !== 1) return false;
  for (let i = 1; i < len; i++) if (ID_REST[b[at + i] as number] !== 1) return false;
  return true;
}

function keyAt(b: Uint8Array, o: number, n: number, k: Uint8Array): number {
  if (o + k.length > n) return -1;
  for (let i = 0; i < k.length; i++) if (b[o + i] !== k[i]) return -1;
  return o + k.length;
}

/** Index in ENTRY_KINDS of the kind named by b[at, at + len), or -1. */
function kindAt(b: Uint8Array, at: number, len: number): number {
  for (let k = 0; k < KIND_BYTES.length; k++) {
    const name = KIND_BYTES[k] as Uint8Array;
    if (name.length !== len) continue;
    let i = 0;
    while (i < len && b[at + i] === name[i]) i++;
    if (i === len) return k;
  }
  return -1;
}

/**
 * Check the envelope of an entry in the canonical layout encodeWithPrev writes, in
 * b[start, end): exact key bytes, uints (any width), bin 8 prev, and ids and kind as
 * fixstr or str 8 that match the id grammar and the kind union. Builds no string: fills
 * `env` and returns true, or returns false when the envelope is not in that layout (or not
 * valid); the body is not looked at.
 */
function scanEnvelope(b: Uint8Array, start: number, end: number): boolean {
  let o = start;
  if (o >= end || b[o++] !== 0x89) return false;
  if ((o = keyAt(b, o, end, K_V)) < 0 || (o = scanUint(b, o, end)) < 0 || envUint !== ENTRY_FORMAT_VERSION) return false;
  if ((o = keyAt(b, o, end, K_SEQ)) < 0 || (o = scanUint(b, o, end)) < 0 || envUint < 1) return false;
  env.seq = envUint;
  if ((o = keyAt(b, o, end, K_PREV)) < 0 || b[o] !== 0xc4 || b[o + 1] !== BLAKE3_LEN || o + 2 + BLAKE3_LEN > end) return false;
  env.prevAt = o + 2;
  o += 2 + BLAKE3_LEN;
  if ((o = keyAt(b, o, end, K_TIME)) < 0 || (o = scanUint(b, o, end)) < 0) return false;
  env.time = envUint;
  if ((o = keyAt(b, o, end, K_SESSION)) < 0 || (o = scanStr(b, o, end)) < 0 || !idAt(b, envStrAt, envStrLen)) return false;
  env.sessionAt = envStrAt;
  env.sessionLen = envStrLen;
  if ((o = keyAt(b, o, end, K_PRINCIPAL)) < 0 || (o = scanStr(b, o, end)) < 0 || !idAt(b, envStrAt, envStrLen)) return false;
  env.principalAt = envStrAt;
  env.principalLen = envStrLen;
  if ((o = keyAt(b, o, end, K_ACTOR)) < 0 || (o = scanStr(b, o, end)) < 0 || !idAt(b, envStrAt, envStrLen)) return false;
  env.actorAt = envStrAt;
  env.actorLen = envStrLen;
  if ((o = keyAt(b, o, end, K_KIND)) < 0 || (o = scanStr(b, o, end)) < 0) return false;
  env.kind = kindAt(b, envStrAt, envStrLen);
  if (env.kind < 0 || (o = keyAt(b, o, end, K_BODY)) < 0) return false;
  env.bodyAt = o;
  return true;
}

const K_TEXT = KEY('text');

/**
 * True when b[o, end) is a note body that parseBody accepts, checked on the bytes: the map
 * {text} with the key as fixstr, and the text as a str of 1 to MAX_NOTE_CHARS ASCII
 * characters ending exactly at `end`. False means only "not recognised here": the generic
 * path decides (non-ASCII text, another encoding of the same map, or an invalid body).
 */
function isAsciiNoteBody(b: Uint8Array, o: number, end: number): boolean {
  if (o >= end || b[o++] !== 0x81 || (o = keyAt(b, o, end, K_TEXT)) < 0 || o >= end) return false;
  const t = b[o++] as number;
  let len: number;
  if (t >= 0xa0 && t <= 0xbf) len = t & 0x1f;
  else if (t === 0xd9 && o + 1 <= end) len = b[o++] as number;
  else if (t === 0xda && o + 2 <= end) {
    len = ((b[o] as number) << 8) | (b[o + 1] as number);
    o += 2;
  } else return false;
  if (len < 1 || len > MAX_NOTE_CHARS || o + len !== end) return false;
  for (let i = o; i < end; i++) if ((b[i] as number) >= 0x80) return false;
  return true;
}

/** ASCII bytes as a string (ids and kinds, already checked to be ASCII). */
function ascii(b: Uint8Array, at: number, len: number): string {
  let s = '';
  for (let i = 0; i < len; i++) s += String.fromCharCode(b[at + i] as number);
  return s;
}

/** The body of an entry whose envelope passed scanEnvelope, decoded and parsed; undefined when not plain msgpack. */
function parseScannedBody(bodyBytes: Uint8Array, kind: EntryKind): {body: unknown} | string | undefined {
  if (!isPlainMsgpack(bodyBytes)) return undefined;
  let raw: unknown;
  try {
    raw = unpackr.unpack(bodyBytes);
  } catch {
    return undefined;
  }
  const body = parseBody(kind, raw);
  return typeof body === 'string' ? body : {body};
}

/**
 * Fast path for entries in the canonical layout encodeWithPrev writes: the envelope is
 * read by hand (scanEnvelope) and only the body goes through the generic plain-msgpack
 * check and msgpackr. Returns undefined when the bytes are not in that layout, and the
 * caller falls back to the generic decoder, which accepts exactly the same entries (any
 * valid plain encoding), so the two paths never disagree on validity, only on speed.
 */
function decodeCanonical(b: Uint8Array): DecodeResult | undefined {
  if (!scanEnvelope(b, 0, b.length)) return undefined;
  const kind = ENTRY_KINDS[env.kind] as EntryKind;
  const {seq, time, prevAt, sessionAt, sessionLen, principalAt, principalLen, actorAt, actorLen, bodyAt} = env;
  const parsed = parseScannedBody(b.subarray(bodyAt), kind);
  if (parsed === undefined) return undefined;
  if (typeof parsed === 'string') return {ok: false, problem: `bad ${kind} body: ${parsed}`};
  const entry = {
    v: ENTRY_FORMAT_VERSION,
    seq,
    prev: b.subarray(prevAt, prevAt + BLAKE3_LEN),
    time,
    session: ascii(b, sessionAt, sessionLen),
    principal: ascii(b, principalAt, principalLen),
    actor: ascii(b, actorAt, actorLen),
    kind,
    body: parsed.body,
  };
  return {ok: true, entry: entry as unknown as AnyEntry};
}

/** What checkStoredEntry found: the fields verification needs, for the entry it last accepted. */
export interface CheckedEntry {
  seq: number;
  time: number;
  /** Offset of `prev` in the stored value. */
  prevAt: number;
  /** Index in ENTRY_KINDS. */
  kind: number;
}

/**
 * Verification's fast path over a stored value (hash || entry bytes): true when the entry is
 * valid, with its fields written to `out`, without building the entry. Covers every kind
 * but genesis (verification reads the genesis body): the envelope is checked on the bytes,
 * a note with ASCII text too, any other body by the same plain-msgpack check and parser as
 * decodeEntry. False means "decode it with decodeEntry", which accepts exactly the entries
 * this accepts and says what is wrong with the others.
 */
/**
 * The kind of a stored value (hash || entry) read from its envelope without decoding the body,
 * as an index into ENTRY_KINDS; -1 when the envelope does not scan (decode it to find out why).
 */
export function storedKindIndex(value: Uint8Array): number {
  const n = value.length;
  if (n <= BLAKE3_LEN || n - BLAKE3_LEN > MAX_ENTRY_BYTES || !scanEnvelope(value, BLAKE3_LEN, n)) return -1;
  return env.kind;
}

/**
 * The session and actor of a stored value (hash || entry bytes) in the layout the ledger
 * writes, read from the envelope without decoding the body; undefined otherwise.
 */
export function storedIds(value: Uint8Array): {session: string; actor: string} | undefined {
  const n = value.length;
  if (n <= BLAKE3_LEN || n - BLAKE3_LEN > MAX_ENTRY_BYTES || !scanEnvelope(value, BLAKE3_LEN, n)) return undefined;
  return {session: ascii(value, env.sessionAt, env.sessionLen), actor: ascii(value, env.actorAt, env.actorLen)};
}

export function checkStoredEntry(value: Uint8Array, out: CheckedEntry): boolean {
  const n = value.length;
  if (n <= BLAKE3_LEN || n - BLAKE3_LEN > MAX_ENTRY_BYTES || !scanEnvelope(value, BLAKE3_LEN, n)) return false;
  const k = env.kind;
  if (k === KIND_GENESIS) return false;
  if (k !== KIND_NOTE || !isAsciiNoteBody(value, env.bodyAt, n)) {
    const parsed = parseScannedBody(value.subarray(env.bodyAt), ENTRY_KINDS[k] as EntryKind);
    if (parsed === undefined || typeof parsed === 'string') return false;
  }
  out.seq = env.seq;
  out.time = env.time;
  out.prevAt = env.prevAt;
  out.kind = k;
  return true;
}

/** Decode and validate entry bytes. Never throws on bad input. */
export function decodeEntry(bytes: Uint8Array): DecodeResult {
  if (bytes.length === 0) return {ok: false, problem: 'empty'};
  if (bytes.length > MAX_ENTRY_BYTES) return {ok: false, problem: 'too large'};
  const fast = decodeCanonical(bytes);
  if (fast !== undefined) return fast;
  if (!isPlainMsgpack(bytes)) return {ok: false, problem: 'not plain msgpack (extension types, repeated or non-ASCII-string keys, or trailing bytes)'};
  let u: unknown;
  try {
    u = unpackr.unpack(bytes);
  } catch (e) {
    return {ok: false, problem: `not msgpack: ${(e as Error).message}`};
  }
  if (typeof u !== 'object' || u === null || Array.isArray(u) || u instanceof Uint8Array) {
    return {ok: false, problem: 'not a map'};
  }
  const o = u as Record<string, unknown>;
  const keys = Object.keys(o);
  if (keys.length !== FIELDS.length) return {ok: false, problem: 'wrong field count'};
  for (let i = 0; i < FIELDS.length; i++) {
    if (keys[i] !== FIELDS[i]) return {ok: false, problem: `unexpected field order or name at ${i}`};
  }
  if (o.v !== ENTRY_FORMAT_VERSION) return {ok: false, problem: `unsupported entry format ${String(o.v)}`};
  if (typeof o.seq !== 'number' || !Number.isSafeInteger(o.seq) || o.seq < 1) return {ok: false, problem: 'bad seq'};
  if (!(o.prev instanceof Uint8Array) || o.prev.length !== BLAKE3_LEN) return {ok: false, problem: 'bad prev'};
  if (typeof o.time !== 'number' || !Number.isSafeInteger(o.time) || o.time < 0) return {ok: false, problem: 'bad time'};
  if (!isId(o.session)) return {ok: false, problem: 'bad session'};
  if (!isId(o.principal)) return {ok: false, problem: 'bad principal'};
  if (!isId(o.actor)) return {ok: false, problem: 'bad actor'};
  if (!isEntryKind(o.kind)) return {ok: false, problem: `unknown kind ${JSON.stringify(String(o.kind)).slice(0, 80)}`};
  const body = parseBody(o.kind, o.body);
  if (typeof body === 'string') return {ok: false, problem: `bad ${o.kind} body: ${body}`};
  return {ok: true, entry: o as unknown as AnyEntry};
}
