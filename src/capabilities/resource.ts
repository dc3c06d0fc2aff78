/**
 * The resource grammar of grants (docs/security.md):
 *   fs.read:<abs path glob>     fs.write:<abs path glob>
 *   kv:<namespace pattern>      bus.send:<topic pattern>   bus.recv:<topic pattern>
 *   net.http:<url prefix>       spawn:<capsule name>
 * Path globs: `*` matches within one segment, `**` (a whole segment) matches zero or more
 * segments. Paths and globs are absolute and normalised: no `.`/`..` segments, no empty
 * segments, no NUL. Matching is on segments, so `/srv/project/**` never matches
 * `/srv/project-evil/x`. Anything that does not parse is refused (RESOURCE_INVALID).
 */
import {AstridError} from '../errors/index.js';
import {parsePattern, matches as topicMatches, parseTopic, type TopicPattern} from '../topics/index.js';

export const RESOURCE_TYPES = ['fs.read', 'fs.write', 'kv', 'bus.send', 'bus.recv', 'net.http', 'spawn'] as const;
export type ResourceType = (typeof RESOURCE_TYPES)[number];

export type Resource =
  | {readonly type: 'fs.read' | 'fs.write'; readonly glob: string; readonly text: string}
  | {readonly type: 'kv'; readonly pattern: string; readonly text: string}
  | {readonly type: 'bus.send' | 'bus.recv'; readonly pattern: TopicPattern; readonly text: string}
  | {readonly type: 'net.http'; readonly prefix: string; readonly text: string}
  | {readonly type: 'spawn'; readonly name: string; readonly text: string};

const KV_RE = /^[a-z0-9*][a-z0-9._*-]{0,127}$/;
const NAME_RE = /^[a-z][a-z0-9-]{0,63}$/;

function invalid(text: string, why: string): never {
  throw new AstridError('RESOURCE_INVALID', `resource ${JSON.stringify(text.slice(0, 200))}: ${why}`, {details: {resource: text.slice(0, 200)}});
}

/**
 * Check an absolute path (or glob) is normalised: starts with '/', no empty, '.' or '..'
 * segments (a trailing '/' is not allowed either, except for the root itself), no NUL,
 * no backslash, no percent-encoding of dots or slashes.
 * @returns the list of segments.
 */
export function pathSegments(p: string): string[] | string {
  if (typeof p !== 'string' || !p.startsWith('/')) return 'must be an absolute path';
  if (p.length > 4096) return 'too long';
  if (p.includes('\u0000')) return 'contains NUL';
  if (p.includes('\\')) return 'contains a backslash';
  if (/%(2e|2f|5c|00)/i.test(p)) return 'contains a percent-encoded dot, slash or NUL';
  if (p === '/') return [];
  const segs = p.slice(1).split('/');
  for (const s of segs) {
    if (s === '') return 'has an empty segment (double or trailing slash)';
    if (s === '.' || s === '..') return 'has a "." or ".." segment';
  }
  return segs;
}

/**
 * Parse a resource string.
 * @throws AstridError RESOURCE_INVALID.
 */
export function parseResource(text: string): Resource {
  if (typeof text !== 'string' || text.length === 0 || text.length > 4200) invalid(String(text), 'must be a non-empty string');
  const colon = text.indexOf(':');
  if (colon < 0) invalid(text, 'must be TYPE:VALUE');
  const type = text.slice(0, colon);
  const value = text.slice(colon + 1);
  switch (type) {
    case 'fs.read':
    case 'fs.write': {
      const segs = pathSegments(value);
      if (typeof segs === 'string') invalid(text, segs);
      for (const s of segs) if (s.includes('**') && s !== '**') invalid(text, '"**" must be a whole segment');
      return {type, glob: value, text};
    }
    case 'kv':
      if (!KV_RE.test(value)) invalid(text, 'namespace must match ' + KV_RE.source);
      return {type, pattern: value, text};
    case 'bus.send':
    case 'bus.recv':
      try {
        return {type, pattern: parsePattern(value), text};
      } catch (e) {
        return invalid(text, (e as Error).message);
      }
    case 'net.http': {
      let u: URL;
      try {
        u = new URL(value);
      } catch {
        return invalid(text, 'must be an absolute http(s) URL prefix');
      }
      if (u.protocol !== 'https:' && u.protocol !== 'http:') invalid(text, 'scheme must be http or https');
      if (u.username || u.password) invalid(text, 'must not contain credentials');
      return {type, prefix: u.href, text};
    }
    case 'spawn':
      if (!NAME_RE.test(value)) invalid(text, 'must name a capsule');
      return {type, name: value, text};
    default:
      return invalid(text, `unknown resource type "${type}" (one of ${RESOURCE_TYPES.join(', ')})`);
  }
}

function segMatch(glob: string, seg: string): boolean {
  if (!glob.includes('*')) return glob === seg;
  const re = new RegExp('^' + glob.split('*').map((x) => x.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('[^/]*') + '$');
  return re.test(seg);
}

/**
 * Segment-wise glob match by dynamic programming: O(globSegments x pathSegments), whatever
 * the number of `**` (a backtracking matcher is exponential in them, and both the glob and
 * the path can come from a capsule).
 */
function globMatch(g: readonly string[], p: readonly string[]): boolean {
  // can[j]: glob prefix g[0..i) matches path prefix p[0..j)
  let can = new Array<boolean>(p.length + 1).fill(false);
  can[0] = true;
  for (let i = 0; i < g.length; i++) {
    const gs = g[i] as string;
    const next = new Array<boolean>(p.length + 1).fill(false);
    if (gs === '**') {
      let any = false;
      for (let j = 0; j <= p.length; j++) {
        any = any || (can[j] as boolean);
        next[j] = any; // ** consumes zero or more segments
      }
    } else {
      for (let j = 0; j < p.length; j++) if (can[j] && segMatch(gs, p[j] as string)) next[j + 1] = true;
    }
    can = next;
  }
  return can[p.length] as boolean;
}

/** Does the path glob match the (normalised, absolute) path? Unnormalised paths never match. */
export function pathMatches(glob: string, path: string): boolean {
  const g = pathSegments(glob);
  const p = pathSegments(path);
  if (typeof g === 'string' || typeof p === 'string') return false;
  return globMatch(g, p);
}

/** Does a kv namespace pattern (`*` within the name) match `ns`? */
export function kvMatches(pattern: string, ns: string): boolean {
  return KV_RE.test(ns) && !ns.includes('*') && segMatch(pattern, ns);
}

/** Does a resource of the given type allow `value` (a path, namespace, topic, URL or name)? */
export function resourceAllows(r: Resource, type: ResourceType, value: string): boolean {
  if (r.type !== type) return false;
  switch (r.type) {
    case 'fs.read':
    case 'fs.write':
      return pathMatches(r.glob, value);
    case 'kv':
      return kvMatches(r.pattern, value);
    case 'bus.send':
    case 'bus.recv':
      try {
        return topicMatches(r.pattern, parseTopic(value));
      } catch {
        return false;
      }
    case 'net.http':
      return value.startsWith(r.prefix);
    case 'spawn':
      return r.name === value;
  }
}
