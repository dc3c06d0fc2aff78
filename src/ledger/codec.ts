/**
 * Entry codec. An entry is encoded exactly once, at append, as a standard msgpack map
 * (no msgpackr records or extensions, so any msgpack decoder can read it) with the
 * fields in a fixed order: v, seq, prev, time, session, principal, actor, kind, body.
 * The bytes produced are what is stored and hashed; they are never re-encoded.
 * Decoding parses untrusted bytes into a typed entry or reports why not.
 */
import {Packr, Unpackr} from 'msgpackr';
import {BLAKE3_LEN} from '../crypto/index.js';
import {isId, type ActorId, type PrincipalId, type Seq, type SessionId} from './ids.js';
import {ENTRY_FORMAT_VERSION, isEntryKind, parseBody, type BodyByKind, type EntryKind} from './kinds.js';

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
let slabBuf = new Uint8Array(0);
let slabPos = 0;
function slab(n: number): Uint8Array {
  if (n > SLAB / 4) return new Uint8Array(n);
  if (slabPos + n > slabBuf.length) {
    slabBuf = new Uint8Array(SLAB);
    slabPos = 0;
  }
  const v = slabBuf.subarray(slabPos, slabPos + n);
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

/**
 * Encode an entry into a fresh buffer laid out as `prev (32 bytes) || entry bytes`: exactly
 * the input of the chain hash, so it is hashed in one pass, after which the caller can
 * overwrite the first 32 bytes with the hash to get the stored value (hash || bytes) with no
 * further copy. The envelope is written by hand (it is the hot path of every append); the
 * body goes through msgpackr. The result is plain msgpack: a fixmap of the nine fields in
 * order, unsigned integers in their smallest form, ids and kinds as str, prev as bin 8.
 */
export function encodeWithPrev(e: LedgerEntry): Uint8Array {
  const body = packr.pack(e.body);
  const session = e.session;
  const principal = e.principal;
  const actor = e.actor;
  const kind = e.kind;
  // Upper bound: fixed parts + ids (ASCII, <= 128 chars each: 2-byte header) + body.
  const size = BLAKE3_LEN + 1 + K_V.length + 9 + K_SEQ.length + 9 + K_PREV.length + 2 + 32 + K_TIME.length + 9 +
    K_SESSION.length + 2 + session.length + K_PRINCIPAL.length + 2 + principal.length + K_ACTOR.length + 2 + actor.length +
    K_KIND.length + 2 + kind.length + K_BODY.length + body.length;
  const out = slab(size);
  out.set(e.prev, 0);
  let o = BLAKE3_LEN;
  const raw = (b: Uint8Array): void => {
    out.set(b, o);
    o += b.length;
  };
  const uint = (n: number): void => {
    if (n < 0x80) out[o++] = n;
    else if (n < 0x100) {
      out[o++] = 0xcc;
      out[o++] = n;
    } else if (n < 0x10000) {
      out[o++] = 0xcd;
      out[o++] = n >>> 8;
      out[o++] = n & 0xff;
    } else if (n < 0x1_0000_0000) {
      out[o++] = 0xce;
      out[o++] = n >>> 24;
      out[o++] = (n >>> 16) & 0xff;
      out[o++] = (n >>> 8) & 0xff;
      out[o++] = n & 0xff;
    } else {
      const hi = Math.floor(n / 0x1_0000_0000);
      const lo = n >>> 0;
      out[o++] = 0xcf;
      out[o++] = hi >>> 24;
      out[o++] = (hi >>> 16) & 0xff;
      out[o++] = (hi >>> 8) & 0xff;
      out[o++] = hi & 0xff;
      out[o++] = lo >>> 24;
      out[o++] = (lo >>> 16) & 0xff;
      out[o++] = (lo >>> 8) & 0xff;
      out[o++] = lo & 0xff;
    }
  };
  const str = (t: string): void => {
    // ids and kinds are ASCII (validated by the ledger), so length in chars = bytes
    if (t.length < 32) out[o++] = 0xa0 | t.length;
    else {
      out[o++] = 0xd9;
      out[o++] = t.length;
    }
    for (let i = 0; i < t.length; i++) out[o++] = t.charCodeAt(i);
  };
  out[o++] = 0x89;
  raw(K_V);
  uint(e.v);
  raw(K_SEQ);
  uint(e.seq);
  raw(K_PREV);
  out[o++] = 0xc4;
  out[o++] = BLAKE3_LEN;
  raw(e.prev);
  raw(K_TIME);
  uint(e.time);
  raw(K_SESSION);
  str(session);
  raw(K_PRINCIPAL);
  str(principal);
  raw(K_ACTOR);
  str(actor);
  raw(K_KIND);
  str(kind);
  raw(K_BODY);
  raw(body);
  return out.subarray(0, o);
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
function isPlainMsgpack(b: Uint8Array): boolean {
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

const knownIds = new Set<string>();
function idOk(s: string): boolean {
  if (knownIds.has(s)) return true;
  if (!isId(s)) return false;
  if (knownIds.size > 4096) knownIds.clear();
  knownIds.add(s);
  return true;
}

/**
 * Fast path for entries in the canonical layout encodeWithPrev writes: the envelope is
 * read by hand (exact key bytes, smallest-form uints, bin 8 prev, ASCII str ids) and only
 * the body goes through the generic plain-msgpack check and msgpackr. Returns undefined
 * when the bytes are not in that layout, and the caller falls back to the generic decoder,
 * which accepts exactly the same entries (any valid plain encoding), so the two paths
 * never disagree on validity, only on speed.
 */
function decodeCanonical(b: Uint8Array): DecodeResult | undefined {
  let o = 0;
  const n = b.length;
  const key = (k: Uint8Array): boolean => {
    if (o + k.length > n) return false;
    for (let i = 0; i < k.length; i++) if (b[o + i] !== k[i]) return false;
    o += k.length;
    return true;
  };
  const uint = (): number => {
    if (o >= n) return -1;
    const t = b[o++] as number;
    if (t < 0x80) return t;
    const w = t === 0xcc ? 1 : t === 0xcd ? 2 : t === 0xce ? 4 : t === 0xcf ? 8 : 0;
    if (w === 0 || o + w > n) return -1;
    let v = 0;
    for (let i = 0; i < w; i++) v = v * 256 + (b[o++] as number);
    return Number.isSafeInteger(v) ? v : -1;
  };
  const str = (): string | undefined => {
    if (o >= n) return undefined;
    const t = b[o++] as number;
    let len: number;
    if (t >= 0xa0 && t <= 0xbf) len = t & 0x1f;
    else if (t === 0xd9 && o < n) len = b[o++] as number;
    else return undefined;
    if (o + len > n) return undefined;
    let out = '';
    for (let i = 0; i < len; i++) {
      const c = b[o + i] as number;
      if (c >= 0x80) return undefined;
      out += String.fromCharCode(c);
    }
    o += len;
    return out;
  };
  if (b[o++] !== 0x89 || !key(K_V)) return undefined;
  const v = uint();
  if (v !== ENTRY_FORMAT_VERSION || !key(K_SEQ)) return undefined;
  const seq = uint();
  if (seq < 1 || !key(K_PREV) || b[o] !== 0xc4 || b[o + 1] !== BLAKE3_LEN || o + 2 + BLAKE3_LEN > n) return undefined;
  const prev = b.subarray(o + 2, o + 2 + BLAKE3_LEN);
  o += 2 + BLAKE3_LEN;
  if (!key(K_TIME)) return undefined;
  const time = uint();
  if (time < 0 || !key(K_SESSION)) return undefined;
  const session = str();
  if (session === undefined || !key(K_PRINCIPAL)) return undefined;
  const principal = str();
  if (principal === undefined || !key(K_ACTOR)) return undefined;
  const actor = str();
  if (actor === undefined || !key(K_KIND)) return undefined;
  const kind = str();
  if (kind === undefined || !key(K_BODY)) return undefined;
  if (!idOk(session) || !idOk(principal) || !idOk(actor) || !isEntryKind(kind)) return undefined;
  const bodyBytes = b.subarray(o);
  if (!isPlainMsgpack(bodyBytes)) return undefined;
  let raw: unknown;
  try {
    raw = unpackr.unpack(bodyBytes);
  } catch {
    return undefined;
  }
  const body = parseBody(kind, raw);
  if (typeof body === 'string') return {ok: false, problem: `bad ${kind} body: ${body}`};
  const entry = {v, seq, prev, time, session, principal, actor, kind, body};
  return {ok: true, entry: entry as unknown as AnyEntry};
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
