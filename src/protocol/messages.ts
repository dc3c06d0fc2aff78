/**
 * The uplink messages: a closed union, parsed strictly (exact keys, bounded strings,
 * integer ids). A client opens with `hello` (protocol version and the session token read
 * from `$ASTRID_HOME/run/`); the daemon answers `welcome` or `refused`; then `req`/`res`/
 * `err` by id (a request may first get `stream` messages: progress and events for it),
 * `event`s from the kernel, and `bye`. `args`, `value` and `payload` are
 * opaque here: whatever consumes them parses them.
 */

export const PROTOCOL_VERSION = 1;

export type UplinkMessage =
  | {readonly t: 'hello'; readonly v: number; readonly token: string; readonly client: string}
  | {readonly t: 'welcome'; readonly v: number; readonly kernel: string; readonly connection: string}
  | {readonly t: 'refused'; readonly code: string; readonly message: string}
  | {readonly t: 'req'; readonly id: number; readonly op: string; readonly args: unknown}
  | {readonly t: 'res'; readonly id: number; readonly value: unknown}
  | {readonly t: 'err'; readonly id: number; readonly code: string; readonly message: string; readonly details: unknown}
  | {readonly t: 'stream'; readonly id: number; readonly payload: unknown}
  | {readonly t: 'event'; readonly topic: string; readonly payload: unknown}
  | {readonly t: 'bye'; readonly reason: string};

export type UplinkType = UplinkMessage['t'];

type Field = 'str' | 'hex64' | 'id' | 'version' | 'op' | 'code' | 'topic' | 'any';

const SHAPES: {readonly [K in UplinkType]: Readonly<Record<string, Field>>} = {
  hello: {v: 'version', token: 'hex64', client: 'str'},
  welcome: {v: 'version', kernel: 'hex64', connection: 'str'},
  refused: {code: 'code', message: 'str'},
  req: {id: 'id', op: 'op', args: 'any'},
  res: {id: 'id', value: 'any'},
  err: {id: 'id', code: 'code', message: 'str', details: 'any'},
  stream: {id: 'id', payload: 'any'},
  event: {topic: 'topic', payload: 'any'},
  bye: {reason: 'str'},
};

const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

function check(v: unknown, f: Field): string | null {
  switch (f) {
    case 'str':
      return typeof v === 'string' && v.length <= 1024 ? null : 'must be a string of at most 1024 characters';
    case 'hex64':
      return typeof v === 'string' && /^[0-9a-f]{64}$/.test(v) ? null : 'must be 64 lowercase hex digits';
    case 'id':
      return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0xffffffff ? null : 'must be an integer from 0 to 2^32-1';
    case 'version':
      return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0xffff ? null : 'must be an integer version';
    case 'op':
      return typeof v === 'string' && /^[a-z][a-z0-9.-]{0,63}$/.test(v) ? null : 'must be an operation name';
    case 'code':
      return typeof v === 'string' && /^[A-Z][A-Z0-9_]{0,63}$/.test(v) ? null : 'must be an error code';
    case 'topic':
      return typeof v === 'string' && v.length >= 1 && v.length <= 256 ? null : 'must be a topic';
    case 'any':
      return null;
  }
}

/** Parse an untrusted decoded value into a message, or say what is wrong. */
export function parseMessage(u: unknown): UplinkMessage | string {
  if (typeof u !== 'object' || u === null || Array.isArray(u) || u instanceof Uint8Array) return 'a message must be a map';
  if (Object.getPrototypeOf(u) !== Object.prototype && Object.getPrototypeOf(u) !== null) return 'a message must be a plain map';
  const keys = Object.keys(u);
  for (const k of keys) if (FORBIDDEN_KEYS.has(k)) return `forbidden key ${k}`;
  const r = u as Record<string, unknown>;
  const t = r.t;
  if (typeof t !== 'string' || !Object.prototype.hasOwnProperty.call(SHAPES, t)) return `unknown message type ${JSON.stringify(String(t)).slice(0, 40)}`;
  const shape = SHAPES[t as UplinkType];
  const want = ['t', ...Object.keys(shape)];
  for (const k of keys) if (!want.includes(k)) return `${t}: unexpected field ${JSON.stringify(k.slice(0, 40))}`;
  const out: Record<string, unknown> = {t};
  for (const [k, f] of Object.entries(shape)) {
    if (!Object.prototype.hasOwnProperty.call(r, k)) return `${t}: missing field ${k}`;
    const v = r[k]; // read once
    const p = check(v, f);
    if (p !== null) return `${t}.${k} ${p}`;
    out[k] = v;
  }
  return out as UplinkMessage;
}
