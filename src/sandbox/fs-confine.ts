/**
 * Filesystem confinement for the fs service. A path is checked twice: as asked (it must be
 * absolute and normalised, and allowed by the gate) and as it really is after resolving
 * symlinks (the real path must be allowed too, so a symlink cannot lead outside the grant).
 * For a write, the parent directory is resolved and the final component is opened with
 * O_NOFOLLOW. Returns the real path or a denial/failure that the host turns into an ABI code.
 */
import {realpathSync} from 'node:fs';
import {basename, dirname, join} from 'node:path';
import type {Gate, GateDecision, GateRequest} from '../capabilities/index.js';

export type Confined =
  | {readonly ok: true; readonly real: string}
  | {readonly ok: false; readonly abi: 'DENIED'; readonly decision: Extract<GateDecision, {allow: false}>}
  | {readonly ok: false; readonly abi: 'NOT_FOUND' | 'INVALID'; readonly reason: string};

function errno(e: unknown): string | undefined {
  return typeof e === 'object' && e !== null && typeof (e as {code?: unknown}).code === 'string' ? (e as {code: string}).code : undefined;
}

/** Confine `path` for reading (the path must exist). */
export function confineExisting(gate: Gate, base: Omit<GateRequest, 'value'>, path: string): Confined {
  const first = gate.check({...base, value: path});
  if (!first.allow) return {ok: false, abi: 'DENIED', decision: first};
  let real: string;
  try {
    real = realpathSync(path);
  } catch (e) {
    return errno(e) === 'ENOENT' || errno(e) === 'ENOTDIR' ? {ok: false, abi: 'NOT_FOUND', reason: 'no such file'} : {ok: false, abi: 'INVALID', reason: String(errno(e))};
  }
  if (real === path) return {ok: true, real};
  // The real path is checked without consuming or recording anything: the request was
  // already decided; a denial here is recorded by the caller as a symlink escape.
  const second = gate.check({...base, value: real, recheck: true, bytes: undefined});
  if (!second.allow) {
    return {ok: false, abi: 'DENIED', decision: {allow: false, layer: 'policy', rule: 'symlink-escape', reason: `${path} resolves to ${real}: ${second.reason}`}};
  }
  return {ok: true, real};
}

/** Confine `path` for writing (the parent must exist; the file may not). */
export function confineForWrite(gate: Gate, base: Omit<GateRequest, 'value'>, path: string): Confined {
  const first = gate.check({...base, value: path});
  if (!first.allow) return {ok: false, abi: 'DENIED', decision: first};
  let parent: string;
  try {
    parent = realpathSync(dirname(path));
  } catch (e) {
    return errno(e) === 'ENOENT' ? {ok: false, abi: 'NOT_FOUND', reason: 'no such directory'} : {ok: false, abi: 'INVALID', reason: String(errno(e))};
  }
  const real = join(parent, basename(path));
  if (real === path) return {ok: true, real};
  // The real path is checked without consuming or recording anything: the request was
  // already decided; a denial here is recorded by the caller as a symlink escape.
  const second = gate.check({...base, value: real, recheck: true, bytes: undefined});
  if (!second.allow) {
    return {ok: false, abi: 'DENIED', decision: {allow: false, layer: 'policy', rule: 'symlink-escape', reason: `${path} resolves to ${real}: ${second.reason}`}};
  }
  return {ok: true, real};
}
