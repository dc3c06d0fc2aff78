/**
 * The gate's hard-deny policy: built-in defaults (the Astrid home, by its path and its real
 * path; the kernel topics) plus what the owner adds in `$ASTRID_HOME/policy.toml`:
 *
 *   deny_roots = ["/etc", "/root"]        # absolute, normalised paths no grant can reach
 *   reserved_topics = ["billing.>"]       # topic patterns no capsule may send on
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

/**
 * The policy for a home.
 * @throws AstridError POLICY_INVALID when policy.toml exists and does not parse.
 */
export function loadPolicy(home: string): GatePolicy {
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
    for (const k of Object.keys(extra)) if (k !== 'deny_roots' && k !== 'reserved_topics') bad(`unknown key "${k}" (deny_roots, reserved_topics)`);
  }
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
