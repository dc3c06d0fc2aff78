/**
 * msgpack at the guest boundary. Guest bytes are untrusted: decoding never throws (it
 * returns undefined), only plain msgpack is decoded (no extension types, no repeated keys:
 * decodePlainMsgpack), maps must be plain objects with own properties only (a `__proto__`
 * key is refused), and sizes are bounded by the caller.
 */
import {decodePlainMsgpack, packMsgpack} from '../ledger/index.js';

/** Most nodes a guest value may have (a 64 KiB message cannot honestly need more). */
export const MAX_NODES = 70_000;

/** Encode a host value for the guest or the ledger. */
export function pack(v: unknown): Uint8Array {
  return packMsgpack(v);
}

function clean(v: unknown, depth: number, seen: WeakSet<object>, budget: {nodes: number}): boolean {
  if (depth > 64 || --budget.nodes < 0) return false;
  if (v === null || typeof v !== 'object') return true;
  if (seen.has(v)) return false; // shared or cyclic: not plain data
  seen.add(v);
  if (v instanceof Uint8Array) return true;
  if (Array.isArray(v)) return v.every((x) => clean(x, depth + 1, seen, budget));
  if (Object.getPrototypeOf(v) !== Object.prototype) return false;
  for (const k of Object.keys(v)) {
    if (k === '__proto__' || k === 'constructor' || k === 'prototype') return false;
    if (!clean((v as Record<string, unknown>)[k], depth + 1, seen, budget)) return false;
  }
  return true;
}

/** Decode untrusted bytes; undefined when malformed, too deep or not plain data. */
export function unpackUntrusted(bytes: Uint8Array): unknown {
  const d = decodePlainMsgpack(bytes);
  if ('problem' in d) return undefined;
  const v = d.value;
  return clean(v, 0, new WeakSet(), {nodes: MAX_NODES}) ? v : undefined;
}

/** A plain map with exactly the allowed keys (and all required ones present), else undefined. */
export function asMap(v: unknown, required: readonly string[], optional: readonly string[] = []): Record<string, unknown> | undefined {
  if (v === null || typeof v !== 'object' || Array.isArray(v) || v instanceof Uint8Array) return undefined;
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!required.includes(k) && !optional.includes(k)) return undefined;
  for (const k of required) if (!Object.hasOwn(o, k)) return undefined;
  return o;
}
