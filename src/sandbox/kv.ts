/**
 * Capsule KV data: a projection of the ledger. Every successful `kv.set` / `kv.delete`
 * host call is a `host.call` entry; the state is the fold of those entries. Keys are
 * namespaced by principal, capsule and namespace, so neither another capsule nor another
 * principal can see them.
 */
import {packMsgpack, unpackMsgpack, type Projection, type StoredEntry} from '../ledger/index.js';
import {asMap, unpackUntrusted} from './msgpack.js';

export const MAX_KV_KEY = 256;
export const MAX_KV_VALUE = 64 * 1024;

/** Composite key: principal NUL capsule NUL ns NUL key. */
export function kvKey(principal: string, capsule: string, ns: string, key: string): string {
  return `${principal}\u0000${capsule}\u0000${ns}\u0000${key}`;
}

export type KvState = Map<string, Uint8Array>;

/** Apply one host.call entry to the state (mutating); ignores everything else. */
export function applyKv(state: KvState, e: StoredEntry): KvState {
  if (e.entry.kind !== 'host.call') return state;
  const b = e.entry.body;
  if (b.status < 0 || (b.op !== 'kv.set' && b.op !== 'kv.delete')) return state;
  const req = asMap(unpackUntrusted(b.request), ['op', 'args']);
  const args = asMap(req?.args, b.op === 'kv.set' ? ['ns', 'key', 'value'] : ['ns', 'key']);
  if (args === undefined || typeof args.ns !== 'string' || typeof args.key !== 'string') return state;
  const k = kvKey(e.entry.principal, b.capsule, args.ns, args.key);
  if (b.op === 'kv.set' && args.value instanceof Uint8Array) state.set(k, new Uint8Array(args.value));
  else if (b.op === 'kv.delete') state.delete(k);
  return state;
}


/** The KV projection (snapshot-able: canonical encoding sorts keys). */
export const kvProjection: Projection<KvState> = {
  name: 'sandbox.kv',
  version: 1,
  kinds: new Set(['host.call'] as const),
  initial: () => new Map(),
  apply: (s, e) => applyKv(s, e),
  encode: (s) => packMsgpack([...s.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))),
  decode: (bytes) => {
    const u = unpackMsgpack(bytes) as unknown;
    if (!Array.isArray(u)) throw new TypeError('malformed kv state');
    const m: KvState = new Map();
    for (const pair of u) {
      if (!Array.isArray(pair) || typeof pair[0] !== 'string' || !(pair[1] instanceof Uint8Array)) throw new TypeError('malformed kv state');
      m.set(pair[0], pair[1]);
    }
    return m;
  },
};
