/**
 * `capsule.toml`: parsed from untrusted text into a typed Manifest, or refused with
 * CAPSULE_MANIFEST_INVALID naming the field. Unknown tables and keys are refused, not
 * ignored: a typo in a security boundary must not silently widen or drop anything.
 */
import {parse as parseToml} from 'smol-toml';
import {AstridError} from '../errors/index.js';
import {parseBlake3Hex, type Blake3Hex} from '../crypto/index.js';
import {parsePattern, type TopicPattern} from '../topics/index.js';
import {parseHttpTarget} from '../capabilities/index.js';

export const MANIFEST_FILE = 'capsule.toml';
export const MAX_MANIFEST_BYTES = 64 * 1024;
export const ABI_VERSION = 1;
export const NAME_RE = /^[a-z][a-z0-9-]{0,63}$/;
const SEMVER_RE = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z.-]{1,64})?(?:\+[0-9A-Za-z.-]{1,64})?$/;
const FILE_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}\.wasm$/;

/** Hard ceilings on any budget (per activation). */
export const BUDGET_LIMITS = Object.freeze({fuel: 10_000_000_000, memory_pages: 16_384, wall_ms: 600_000});
export const DEFAULT_BUDGET = Object.freeze({fuel: 50_000_000, memory_pages: 256, wall_ms: 2_000});

export interface Budget {
  /** Fuel units per activation (roughly wasm instructions). */
  readonly fuel: number;
  /** Linear memory ceiling in 64 KiB pages. */
  readonly memory_pages: number;
  /** Wall-clock backstop per activation, ms. */
  readonly wall_ms: number;
}

/** Host resources a capsule may ever be granted (an upper bound; the grant decides). */
export interface ResourceBounds {
  readonly fs_read: readonly string[];
  readonly fs_write: readonly string[];
  readonly net_http: readonly string[];
  readonly kv: readonly string[];
  readonly spawn: readonly string[];
}

export interface Manifest {
  readonly package: {readonly name: string; readonly version: string; readonly abi: number; readonly description?: string};
  readonly module: {readonly file: string; readonly hash: Blake3Hex};
  readonly topics: {readonly handles: readonly TopicPattern[]; readonly sends: readonly TopicPattern[]};
  readonly resources: ResourceBounds;
  readonly budget: Budget;
}

function bad(field: string, why: string): never {
  throw new AstridError('CAPSULE_MANIFEST_INVALID', `${MANIFEST_FILE}: ${field}: ${why}`, {details: {field}});
}

function table(u: unknown, field: string, allowed: readonly string[], required: boolean): Record<string, unknown> | undefined {
  if (u === undefined) {
    if (required) bad(field, 'missing table');
    return undefined;
  }
  if (typeof u !== 'object' || u === null || Array.isArray(u)) bad(field, 'must be a table');
  const t = u as Record<string, unknown>;
  for (const k of Object.keys(t)) if (!allowed.includes(k)) bad(`${field}.${k}`, 'unknown key');
  return t;
}

function str(u: unknown, field: string, re: RegExp, hint: string): string {
  if (typeof u !== 'string' || !re.test(u)) bad(field, `must match ${hint}`);
  return u;
}

function int(u: unknown, field: string, min: number, max: number, dflt: number): number {
  if (u === undefined) return dflt;
  const n = typeof u === 'bigint' ? Number(u) : u;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < min || n > max) bad(field, `must be an integer from ${min} to ${max}`);
  return n;
}

function strList(u: unknown, field: string, check: (s: string) => void, max = 64): string[] {
  if (u === undefined) return [];
  if (!Array.isArray(u)) bad(field, 'must be an array of strings');
  if (u.length > max) bad(field, `at most ${max} items`);
  return u.map((x, i) => {
    if (typeof x !== 'string' || x.length === 0 || x.length > 512) bad(`${field}[${i}]`, 'must be a non-empty string of at most 512 characters');
    try {
      check(x);
    } catch (e) {
      bad(`${field}[${i}]`, (e as Error).message);
    }
    return x;
  });
}

const absPattern = (s: string): void => {
  if (!s.startsWith('/')) throw new TypeError('must be an absolute path pattern');
  if (s.includes('\u0000')) throw new TypeError('must not contain NUL');
  if (s.split('/').some((seg) => seg === '..' || seg === '.')) throw new TypeError('must not contain "." or ".." segments');
};
const httpBound = (s: string): void => {
  const t = parseHttpTarget(s, false);
  if (typeof t === 'string') throw new TypeError(`must be [METHODS ]URL as in a net.http grant: ${t}`);
};
const idish = (s: string): void => {
  if (!/^[a-z0-9][a-z0-9._*-]{0,127}$/.test(s)) throw new TypeError('must be a lowercase name or pattern');
};

/**
 * Parse and validate manifest text.
 * @throws AstridError CAPSULE_MANIFEST_INVALID naming the offending field, SANDBOX_ABI_VERSION for an unsupported abi.
 */
export function parseManifest(text: string): Manifest {
  if (typeof text !== 'string') throw new TypeError('text must be a string');
  if (Buffer.byteLength(text, 'utf8') > MAX_MANIFEST_BYTES) bad('(file)', `larger than ${MAX_MANIFEST_BYTES} bytes`);
  let doc: Record<string, unknown>;
  try {
    doc = parseToml(text) as Record<string, unknown>;
  } catch (e) {
    bad('(file)', `not valid TOML: ${(e as Error).message.split('\n')[0]}`);
  }
  table(doc, '(root)', ['package', 'module', 'topics', 'resources', 'budget'], true);
  const pkg = table(doc.package, 'package', ['name', 'version', 'abi', 'description'], true) as Record<string, unknown>;
  const mod = table(doc.module, 'module', ['file', 'hash'], true) as Record<string, unknown>;
  const topics = table(doc.topics, 'topics', ['handles', 'sends'], false) ?? {};
  const res = table(doc.resources, 'resources', ['fs_read', 'fs_write', 'net_http', 'kv', 'spawn'], false) ?? {};
  const budget = table(doc.budget, 'budget', ['fuel', 'memory_pages', 'wall_ms'], false) ?? {};

  const name = str(pkg.name, 'package.name', NAME_RE, NAME_RE.source);
  const version = str(pkg.version, 'package.version', SEMVER_RE, 'semver (e.g. 0.1.0)');
  const abi = int(pkg.abi, 'package.abi', 0, 1_000_000, -1);
  if (abi === -1) bad('package.abi', 'missing');
  if (abi !== ABI_VERSION) {
    throw new AstridError('SANDBOX_ABI_VERSION', `${MANIFEST_FILE}: package.abi is ${abi}; this kernel speaks ABI ${ABI_VERSION}`, {details: {abi}});
  }
  let description: string | undefined;
  if (pkg.description !== undefined) {
    if (typeof pkg.description !== 'string' || pkg.description.length > 1024) bad('package.description', 'must be a string of at most 1024 characters');
    description = pkg.description;
  }
  const file = str(mod.file, 'module.file', FILE_RE, 'a plain file name ending in .wasm');
  let hash: Blake3Hex;
  if (typeof mod.hash !== 'string' || !mod.hash.startsWith('blake3:')) bad('module.hash', 'must be "blake3:<64 hex digits>"');
  try {
    hash = parseBlake3Hex(mod.hash);
  } catch {
    bad('module.hash', 'must be "blake3:<64 hex digits>"');
  }
  const handles = strList(topics.handles, 'topics.handles', (s) => parsePattern(s)) as TopicPattern[];
  const sends = strList(topics.sends, 'topics.sends', (s) => parsePattern(s)) as TopicPattern[];
  const resources: ResourceBounds = {
    fs_read: strList(res.fs_read, 'resources.fs_read', absPattern),
    fs_write: strList(res.fs_write, 'resources.fs_write', absPattern),
    net_http: strList(res.net_http, 'resources.net_http', httpBound),
    kv: strList(res.kv, 'resources.kv', idish),
    spawn: strList(res.spawn, 'resources.spawn', idish),
  };
  const b: Budget = {
    fuel: int(budget.fuel, 'budget.fuel', 1, BUDGET_LIMITS.fuel, DEFAULT_BUDGET.fuel),
    memory_pages: int(budget.memory_pages, 'budget.memory_pages', 1, BUDGET_LIMITS.memory_pages, DEFAULT_BUDGET.memory_pages),
    wall_ms: int(budget.wall_ms, 'budget.wall_ms', 1, BUDGET_LIMITS.wall_ms, DEFAULT_BUDGET.wall_ms),
  };
  return {
    package: description === undefined ? {name, version, abi} : {name, version, abi, description},
    module: {file, hash},
    topics: {handles, sends},
    resources,
    budget: b,
  };
}

/** Render a manifest back to TOML (used by `astrid capsule build` to write the hash). */
export function manifestToml(m: Manifest): string {
  const q = (s: string): string => JSON.stringify(s);
  const list = (xs: readonly string[]): string => `[${xs.map(q).join(', ')}]`;
  const lines = [
    '[package]',
    `name = ${q(m.package.name)}`,
    `version = ${q(m.package.version)}`,
    `abi = ${m.package.abi}`,
    ...(m.package.description === undefined ? [] : [`description = ${q(m.package.description)}`]),
    '',
    '[module]',
    `file = ${q(m.module.file)}`,
    `hash = ${q(`blake3:${m.module.hash}`)}`,
    '',
    '[topics]',
    `handles = ${list(m.topics.handles)}`,
    `sends = ${list(m.topics.sends)}`,
    '',
    '[resources]',
    ...(['fs_read', 'fs_write', 'net_http', 'kv', 'spawn'] as const).filter((k) => m.resources[k].length > 0).map((k) => `${k} = ${list(m.resources[k])}`),
    '',
    '[budget]',
    `fuel = ${m.budget.fuel}`,
    `memory_pages = ${m.budget.memory_pages}`,
    `wall_ms = ${m.budget.wall_ms}`,
    '',
  ];
  return lines.join('\n');
}
