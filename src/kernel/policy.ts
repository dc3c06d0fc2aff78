/**
 * The gate's hard-deny policy: built-in defaults (the Astrid home, by its path and its real
 * path; the kernel topics) plus what the owner adds in `$ASTRID_HOME/policy.toml`:
 *
 *   deny_roots = ["/etc", "/root"]        # absolute, normalised paths no grant can reach
 *   reserved_topics = ["billing.>"]       # topic patterns no capsule may send on
 *   [quotas]                              # send rates (lower than the defaults only)
 *   capsule_messages_per_second = 500     # per capsule name, across its sessions
 *   principal_messages_per_second = 1000  # per principal
 *   capsule_bytes_per_second = 4194304
 *   principal_bytes_per_second = 8388608
 *
 * Additions only: a policy file cannot lift a default. The file is untrusted input like
 * any other: unknown keys, a wrong type, a relative or unnormalised path, or a bad pattern
 * is refused with POLICY_INVALID, and the command fails rather than run with less policy.
 */
import {lstatSync, readFileSync, realpathSync} from 'node:fs';
import {join} from 'node:path';
import {parse as parseToml} from 'smol-toml';
import {AstridError} from '../errors/index.js';
import {DEFAULT_RESERVED_TOPICS, pathSegments, type GatePolicy} from '../capabilities/index.js';
import {parsePattern} from '../topics/index.js';
import {MAX_MESSAGE_BYTES, QuotaBook, type QuotaLimits} from '../bus/index.js';
import type {Clock} from '../ledger/index.js';

export const POLICY_FILE = 'policy.toml';
const MAX_POLICY_BYTES = 64 * 1024;

function bad(why: string): never {
  throw new AstridError('POLICY_INVALID', `${POLICY_FILE}: ${why}`);
}

function realOrSelf(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return p;
  }
}

function list(u: unknown, key: string, check: (s: string) => void): string[] {
  if (u === undefined) return [];
  if (!Array.isArray(u) || u.length > 256) bad(`${key} must be an array of at most 256 strings`);
  return u.map((x, i) => {
    if (typeof x !== 'string') bad(`${key}[${i}] must be a string`);
    check(x);
    return x;
  });
}

/** The parsed policy.toml of a home ({} when there is none). @throws AstridError POLICY_INVALID. */
function readPolicy(home: string): Record<string, unknown> {
  const path = join(home, POLICY_FILE);
  let extra: Record<string, unknown> = {};
  let exists = true;
  try {
    const st = lstatSync(path);
    if (!st.isFile()) bad('must be a regular file');
    if (st.size > MAX_POLICY_BYTES) bad(`larger than ${MAX_POLICY_BYTES} bytes`);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') exists = false;
    else throw e;
  }
  if (exists) {
    try {
      extra = parseToml(readFileSync(path, 'utf8')) as Record<string, unknown>;
    } catch (e) {
      bad(`not valid TOML: ${(e as Error).message}`);
    }
    for (const k of Object.keys(extra)) if (k !== 'deny_roots' && k !== 'reserved_topics' && k !== 'quotas') bad(`unknown key "${k}" (deny_roots, reserved_topics, quotas)`);
  }
  return extra;
}

/** Default send quotas: per capsule (across its sessions) and per principal. */
export const DEFAULT_SEND_QUOTAS = Object.freeze({
  capsule: {messagesPerSecond: 2_000, bytesPerSecond: 8 * 1024 * 1024, maxMessageBytes: MAX_MESSAGE_BYTES},
  principal: {messagesPerSecond: 5_000, bytesPerSecond: 16 * 1024 * 1024, maxMessageBytes: MAX_MESSAGE_BYTES},
});

/**
 * The send quotas for a home: the defaults, lowered by `[quotas]` in policy.toml (a value
 * above the default is refused: the file can only tighten).
 * @throws AstridError POLICY_INVALID.
 */
export function loadQuotas(home: string): {readonly capsule: QuotaLimits; readonly principal: QuotaLimits} {
  const q = readPolicy(home).quotas;
  if (q === undefined) return DEFAULT_SEND_QUOTAS;
  if (typeof q !== 'object' || q === null || Array.isArray(q)) bad('quotas must be a table');
  const t = q as Record<string, unknown>;
  const out = {capsule: {...DEFAULT_SEND_QUOTAS.capsule}, principal: {...DEFAULT_SEND_QUOTAS.principal}};
  for (const [k, v] of Object.entries(t)) {
    const m = /^(capsule|principal)_(messages|bytes)_per_second$/.exec(k);
    if (m === null) bad(`unknown quotas key "${k}" (capsule|principal _ messages|bytes _per_second)`);
    const who = m[1] as 'capsule' | 'principal';
    const field = m[2] === 'messages' ? 'messagesPerSecond' : 'bytesPerSecond';
    const max = DEFAULT_SEND_QUOTAS[who][field];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1 || v > max) bad(`quotas.${k} must be an integer from 1 to ${max}`);
    out[who][field] = v;
  }
  return out;
}

/**
 * The policy for a home.
 * @throws AstridError POLICY_INVALID when policy.toml exists and does not parse.
 */
export function loadPolicy(home: string): GatePolicy {
  const extra = readPolicy(home);
  const roots = list(extra.deny_roots, 'deny_roots', (s) => {
    const segs = pathSegments(s);
    if (typeof segs === 'string') bad(`deny_roots entry ${JSON.stringify(s)}: ${segs}`);
  });
  const topics = list(extra.reserved_topics, 'reserved_topics', (s) => {
    try {
      parsePattern(s);
    } catch (e) {
      bad(`reserved_topics entry ${JSON.stringify(s)}: ${(e as Error).message}`);
    }
  });
  return {
    denyRoots: [...new Set([home, realOrSelf(home), ...roots, ...roots.map(realOrSelf)])],
    reservedTopics: [...new Set([...DEFAULT_RESERVED_TOPICS, ...topics])],
  };
}

/** A quota book for a home's send quotas: keys `capsule:<name>` and `principal:<name>`. @throws AstridError POLICY_INVALID. */
export function sendQuotas(home: string, clock: Clock): QuotaBook {
  const q = loadQuotas(home);
  return new QuotaBook(clock, (key) => (key.startsWith('principal:') ? q.principal : q.capsule));
}
