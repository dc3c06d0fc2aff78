/**
 * Rendering ledger data for people and for --json. The JSON view of an entry is the
 * contract `astrid audit show --json` documents: seq, hash, prev, time, timeIso, kind,
 * session, principal, actor, body (bytes as hex).
 */
import {toHex} from '../crypto/index.js';
import type {StoredEntry} from '../ledger/index.js';

export interface EntryView {
  readonly seq: number;
  readonly hash: string;
  readonly prev: string;
  readonly time: number;
  readonly timeIso: string;
  readonly kind: string;
  readonly session: string;
  readonly principal: string;
  readonly actor: string;
  readonly body: unknown;
}

function toJson(v: unknown, bytes: (b: Uint8Array) => string, depth: number): unknown {
  if (depth > 32) return '[too deep]';
  if (v instanceof Uint8Array) return bytes(v);
  if (Array.isArray(v)) return v.map((x) => toJson(x, bytes, depth + 1));
  if (typeof v === 'bigint') return v.toString();
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, x] of Object.entries(v)) out[key] = toJson(x, bytes, depth + 1);
    return out;
  }
  return v;
}

const base64 = (b: Uint8Array): string => Buffer.from(b).toString('base64');

/** Convert bytes to base64 recursively: message payloads (`astrid run`) as JSON. */
export function payloadJson(v: unknown): unknown {
  return toJson(v, base64, 0);
}

/** Convert bytes to hex recursively so a body is JSON-safe. */
export function jsonSafe(v: unknown): unknown {
  return toJson(v, toHex, 0);
}

export function entryView(s: StoredEntry): EntryView {
  const e = s.entry;
  return {
    seq: s.seq,
    hash: toHex(s.hash),
    prev: toHex(e.prev),
    time: e.time,
    timeIso: new Date(e.time).toISOString(),
    kind: e.kind,
    session: e.session,
    principal: e.principal,
    actor: e.actor,
    body: jsonSafe(e.body),
  };
}
