/**
 * The host services a capsule reaches with `call` (synchronous, no outside effect):
 * clock.now, random.bytes, kv.*, fs.read/list/stat; and the fs.write effect that a
 * capsule requests with `send` to `svc.fs.write`, performed by the kernel only after the
 * authorising entry is durable. Every path goes through fs-confine; every access through
 * the gate.
 */
import {closeSync, constants, fstatSync, ftruncateSync, lstatSync, openSync, readdirSync, readSync, writeSync, fsyncSync} from 'node:fs';
import type {Clock} from '../ledger/index.js';
import {type AbiErrorName} from './abi.js';
import {confineExisting, confineForWrite} from './fs-confine.js';
import type {Gate, GateDecision} from '../capabilities/index.js';
import {kvKey, MAX_KV_KEY, MAX_KV_VALUE, type KvState} from './kv.js';
import {asMap} from './msgpack.js';

export const MAX_FS_READ = 1024 * 1024;
export const MAX_FS_WRITE = 1024 * 1024;
export const MAX_LIST = 1000;
export const MAX_RANDOM = 1024;

export interface ServiceContext {
  readonly capsule: string;
  readonly principal: string;
  readonly session: string;
  readonly gate: Gate;
  readonly clock: Clock;
  /** Random bytes source (the kernel passes node:crypto's CSPRNG; tests a seeded one). */
  readonly random: (n: number) => Uint8Array;
  readonly kv: KvState;
  /**
   * Optional memo of composite kv keys for this context's (constant) principal and capsule,
   * ns -> key -> kvKey(...): a repeated key is then found without building and hashing a new
   * string. The instance passes one, bounded by MAX_KEY_MEMO.
   */
  readonly kvKeys?: KvKeyMemo;
}

/** See ServiceContext.kvKeys. */
export interface KvKeyMemo {
  readonly byNs: Map<string, Map<string, string>>;
  size: number;
}

/** Most composite keys one memo holds before it starts over. */
const MAX_KEY_MEMO = 1024;

function kvKeyOf(ctx: ServiceContext, ns: string, key: string): string {
  const memo = ctx.kvKeys;
  if (memo === undefined) return kvKey(ctx.principal, ctx.capsule, ns, key);
  let m = memo.byNs.get(ns);
  let k = m?.get(key);
  if (k !== undefined) return k;
  k = kvKey(ctx.principal, ctx.capsule, ns, key);
  if (memo.size >= MAX_KEY_MEMO) {
    memo.byNs.clear();
    memo.size = 0;
    m = undefined;
  }
  if (m === undefined) memo.byNs.set(ns, (m = new Map()));
  m.set(key, k);
  memo.size++;
  return k;
}

const NS_KEY = ['ns', 'key'] as const;

export type Denial = Extract<GateDecision, {allow: false}>;

export type CallResult =
  | {readonly ok: true; readonly value: unknown}
  | {readonly ok: false; readonly error: AbiErrorName; readonly reason: string; readonly denial?: Denial};

const fail = (error: AbiErrorName, reason: string, denial?: Denial): CallResult => (denial ? {ok: false, error, reason, denial} : {ok: false, error, reason});
const isUint = (v: unknown, max = Number.MAX_SAFE_INTEGER): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 && v <= max;
const NS_RE = /^[a-z0-9][a-z0-9._-]{0,127}$/;


function kvAccess(ctx: ServiceContext, args: Record<string, unknown>): CallResult | string {
  const ns = args.ns;
  if (typeof ns !== 'string' || !NS_RE.test(ns)) return fail('INVALID', 'ns must be a lowercase namespace');
  const d = ctx.gate.check({capsule: ctx.capsule, principal: ctx.principal, session: ctx.session, type: 'kv', value: ns});
  if (!d.allow) return fail('DENIED', d.reason, d);
  return ns;
}

function kvKeyArg(args: Record<string, unknown>): string | undefined {
  const k = args.key;
  return typeof k === 'string' && k.length > 0 && Buffer.byteLength(k) <= MAX_KV_KEY && !k.includes('\u0000') ? k : undefined;
}

/** Dispatch one synchronous call. Never throws on guest input. */
export function dispatchCall(ctx: ServiceContext, op: string, rawArgs: unknown): CallResult {
  switch (op) {
    case 'clock.now': {
      if (asMap(rawArgs, []) === undefined) return fail('INVALID', 'clock.now takes {}');
      return {ok: true, value: {ms: ctx.clock.now()}};
    }
    case 'random.bytes': {
      const a = asMap(rawArgs, ['n']);
      if (a === undefined || !isUint(a.n, MAX_RANDOM)) return fail('INVALID', `random.bytes takes {n <= ${MAX_RANDOM}}`);
      return {ok: true, value: ctx.random(a.n)};
    }
    case 'kv.get':
    case 'kv.delete': {
      const a = asMap(rawArgs, NS_KEY);
      if (a === undefined) return fail('INVALID', `${op} takes {ns, key}`);
      const ns = kvAccess(ctx, a);
      if (typeof ns !== 'string') return ns;
      const key = kvKeyArg(a);
      if (key === undefined) return fail('INVALID', 'key must be 1 to 256 bytes without NUL');
      const k = kvKeyOf(ctx, ns, key);
      if (op === 'kv.get') {
        const v = ctx.kv.get(k);
        return v === undefined ? fail('NOT_FOUND', 'no such key') : {ok: true, value: v};
      }
      ctx.kv.delete(k);
      return {ok: true, value: null};
    }
    case 'kv.set': {
      const a = asMap(rawArgs, ['ns', 'key', 'value']);
      if (a === undefined) return fail('INVALID', 'kv.set takes {ns, key, value}');
      const ns = kvAccess(ctx, a);
      if (typeof ns !== 'string') return ns;
      const key = kvKeyArg(a);
      if (key === undefined) return fail('INVALID', 'key must be 1 to 256 bytes without NUL');
      if (!(a.value instanceof Uint8Array)) return fail('INVALID', 'value must be bytes');
      if (a.value.length > MAX_KV_VALUE) return fail('TOO_LARGE', `value over ${MAX_KV_VALUE} bytes`);
      ctx.kv.set(kvKeyOf(ctx, ns, key), new Uint8Array(a.value));
      return {ok: true, value: null};
    }
    case 'kv.list': {
      const a = asMap(rawArgs, ['ns'], ['prefix', 'limit']);
      if (a === undefined) return fail('INVALID', 'kv.list takes {ns, prefix?, limit?}');
      const ns = kvAccess(ctx, a);
      if (typeof ns !== 'string') return ns;
      const prefix = a.prefix === undefined ? '' : a.prefix;
      if (typeof prefix !== 'string') return fail('INVALID', 'prefix must be a string');
      const limit = a.limit === undefined ? MAX_LIST : a.limit;
      if (!isUint(limit, MAX_LIST)) return fail('INVALID', `limit must be <= ${MAX_LIST}`);
      const head = kvKey(ctx.principal, ctx.capsule, ns, prefix);
      // Filter to this (principal, capsule, ns, prefix) first, then sort: sorting every key of
      // every principal on each call made kv.list cost the whole store.
      const mine: string[] = [];
      for (const k of ctx.kv.keys()) if (k.startsWith(head)) mine.push(k);
      const keys = mine
        .sort()
        .slice(0, limit)
        .map((k) => k.slice(k.lastIndexOf('\u0000') + 1));
      return {ok: true, value: keys};
    }
    case 'fs.read':
      return fsRead(ctx, rawArgs);
    case 'fs.list':
      return fsList(ctx, rawArgs);
    case 'fs.stat':
      return fsStat(ctx, rawArgs);
    case 'fs.write':
      return fail('WOULD_BLOCK', 'fs.write has an outside effect: send to svc.fs.write');
    default:
      return fail('INVALID', `unknown op ${JSON.stringify(op).slice(0, 64)}`);
  }
}

function confinedRead(ctx: ServiceContext, path: unknown): {real: string} | CallResult {
  if (typeof path !== 'string') return fail('INVALID', 'path must be a string');
  const c = confineExisting(ctx.gate, {capsule: ctx.capsule, principal: ctx.principal, session: ctx.session, type: 'fs.read'}, path);
  if (c.ok) return {real: c.real};
  return c.abi === 'DENIED' ? fail('DENIED', c.decision.reason, c.decision) : fail(c.abi, c.reason);
}

function fsRead(ctx: ServiceContext, raw: unknown): CallResult {
  const a = asMap(raw, ['path'], ['offset', 'len']);
  if (a === undefined) return fail('INVALID', 'fs.read takes {path, offset?, len?}');
  const offset = a.offset ?? 0;
  const len = a.len ?? MAX_FS_READ;
  if (!isUint(offset) || !isUint(len, MAX_FS_READ)) return fail('INVALID', `offset and len must be integers, len <= ${MAX_FS_READ}`);
  const c = confinedRead(ctx, a.path);
  if (!('real' in c)) return c;
  let fd: number;
  try {
    fd = openSync(c.real, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return fail('NOT_FOUND', 'cannot open');
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) return fail('INVALID', 'not a regular file');
    // a second name elsewhere (e.g. a hard link to a file under the Astrid home) is invisible to a name-based check
    if (st.nlink > 1) return fail('INVALID', 'the file has other hard links');
    const n = Math.max(0, Math.min(len, st.size - offset));
    const buf = Buffer.alloc(n);
    let got = 0;
    while (got < n) {
      const r = readSync(fd, buf, got, n - got, offset + got);
      if (r === 0) break;
      got += r;
    }
    return {ok: true, value: new Uint8Array(buf.subarray(0, got))};
  } finally {
    closeSync(fd);
  }
}

function fsList(ctx: ServiceContext, raw: unknown): CallResult {
  const a = asMap(raw, ['path']);
  if (a === undefined) return fail('INVALID', 'fs.list takes {path}');
  const c = confinedRead(ctx, a.path);
  if (!('real' in c)) return c;
  try {
    const out = readdirSync(c.real, {withFileTypes: true})
      .slice(0, MAX_LIST)
      .map((d) => ({name: d.name, type: d.isFile() ? 'file' : d.isDirectory() ? 'dir' : 'other'}));
    return {ok: true, value: out};
  } catch {
    return fail('INVALID', 'not a directory');
  }
}

function fsStat(ctx: ServiceContext, raw: unknown): CallResult {
  const a = asMap(raw, ['path']);
  if (a === undefined) return fail('INVALID', 'fs.stat takes {path}');
  const c = confinedRead(ctx, a.path);
  if (!('real' in c)) return c;
  try {
    const st = lstatSync(c.real);
    return {ok: true, value: {type: st.isFile() ? 'file' : st.isDirectory() ? 'dir' : 'other', size: st.size, mtime: Math.floor(st.mtimeMs)}};
  } catch {
    return fail('NOT_FOUND', 'no such file');
  }
}

/** Check an fs.write request at send time (gate only; the effect happens later). */
export function checkFsWrite(ctx: Pick<ServiceContext, 'gate' | 'capsule' | 'principal' | 'session'>, payload: unknown): CallResult {
  const a = asMap(payload, ['path', 'data']);
  if (a === undefined || typeof a.path !== 'string' || !(a.data instanceof Uint8Array)) return fail('INVALID', 'svc.fs.write takes {path, data}');
  if (a.data.length > MAX_FS_WRITE) return fail('TOO_LARGE', `data over ${MAX_FS_WRITE} bytes`);
  const d = ctx.gate.check({capsule: ctx.capsule, principal: ctx.principal, session: ctx.session, type: 'fs.write', value: a.path, bytes: a.data.length});
  if (!d.allow) return fail('DENIED', d.reason, d);
  return {ok: true, value: {path: a.path, data: a.data}};
}

/** Perform an fs.write whose authorising entry is durable. Re-confines (the filesystem may have changed). */
export function performFsWrite(
  ctx: Pick<ServiceContext, 'gate' | 'capsule' | 'principal' | 'session'>,
  path: string,
  data: Uint8Array,
): {ok: true; bytes: number} | {ok: false; code: string; reason: string; denial?: Denial} {
  const c = confineForWrite(ctx.gate, {capsule: ctx.capsule, principal: ctx.principal, session: ctx.session, type: 'fs.write', recheck: true}, path);
  if (!c.ok) return c.abi === 'DENIED' ? {ok: false, code: 'GATE_DENIED', reason: c.decision.reason, denial: c.decision} : {ok: false, code: c.abi, reason: c.reason};
  let fd: number;
  try {
    // O_NONBLOCK: a FIFO without a reader fails at once instead of blocking the kernel.
    fd = openSync(c.real, constants.O_WRONLY | constants.O_CREAT | constants.O_NOFOLLOW | constants.O_NONBLOCK, 0o644);
  } catch (e) {
    return {ok: false, code: 'IO', reason: (e as Error).message};
  }
  try {
    const st = fstatSync(fd);
    // Only regular files, and not hard links: a second name elsewhere (e.g. in the Astrid
    // home) would be written through, and a name-based check cannot see it.
    if (!st.isFile()) return {ok: false, code: 'INVALID', reason: 'not a regular file'};
    if (st.nlink > 1) return {ok: false, code: 'INVALID', reason: 'the file has other hard links'};
    ftruncateSync(fd, 0);
    let off = 0;
    while (off < data.length) off += writeSync(fd, data, off);
    fsyncSync(fd);
    return {ok: true, bytes: data.length};
  } catch (e) {
    return {ok: false, code: 'IO', reason: (e as Error).message};
  } finally {
    closeSync(fd);
  }
}
