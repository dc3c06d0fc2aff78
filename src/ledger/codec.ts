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
  return packr.pack({
    v: e.v,
    seq: e.seq,
    prev: e.prev,
    time: e.time,
    session: e.session,
    principal: e.principal,
    actor: e.actor,
    kind: e.kind,
    body: e.body,
  });
}

const FIELDS = ['v', 'seq', 'prev', 'time', 'session', 'principal', 'actor', 'kind', 'body'] as const;

/** Result of decoding untrusted entry bytes. */
export type DecodeResult = {readonly ok: true; readonly entry: AnyEntry} | {readonly ok: false; readonly problem: string};

/** Decode and validate entry bytes. Never throws on bad input. */
export function decodeEntry(bytes: Uint8Array): DecodeResult {
  if (bytes.length === 0) return {ok: false, problem: 'empty'};
  if (bytes.length > MAX_ENTRY_BYTES) return {ok: false, problem: 'too large'};
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
