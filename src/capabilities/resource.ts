/**
 * The resource grammar of grants (docs/security.md):
 *   fs.read:<abs path glob>     fs.write:<abs path glob>
 *   kv:<namespace pattern>      bus.send:<topic pattern>   bus.recv:<topic pattern>
 *   net.http:[METHODS ]<scheme>://<host>[:port]<path prefix>   spawn:<capsule name | blake3:hex>
 * Path globs: `*` matches within one segment, `**` (a whole segment) matches zero or more
 * segments. Paths and globs are absolute and normalised: no `.`/`..` segments, no empty
 * segments, no NUL. Matching is on segments, so `/srv/project/**` never matches
 * `/srv/project-evil/x`. Anything that does not parse is refused (RESOURCE_INVALID).
 */
import {AstridError} from '../errors/index.js';
import {covers, parsePattern, matches as topicMatches, parseTopic, type TopicPattern} from '../topics/index.js';

export const RESOURCE_TYPES = ['fs.read', 'fs.write', 'kv', 'bus.send', 'bus.recv', 'net.http', 'spawn'] as const;
export type ResourceType = (typeof RESOURCE_TYPES)[number];

export type Resource =
  | {readonly type: 'fs.read' | 'fs.write'; readonly glob: string; readonly text: string}
  | {readonly type: 'kv'; readonly pattern: string; readonly text: string}
  | {readonly type: 'bus.send' | 'bus.recv'; readonly pattern: TopicPattern; readonly text: string}
  | {readonly type: 'net.http'; readonly target: HttpTarget; readonly text: string}
  | {readonly type: 'spawn'; readonly name: string; readonly text: string};

/** A parsed `net.http:` resource: methods (null = any), scheme, host (maybe `*.` wildcard), port, path prefix. */
export interface HttpTarget {
  readonly methods: readonly string[] | null;
  readonly scheme: 'http' | 'https';
  readonly host: string;
  readonly port: number;
  readonly path: string;
}

const KV_RE = /^[a-z0-9*][a-z0-9._*-]{0,127}$/;
const NAME_RE = /^[a-z][a-z0-9-]{0,63}$/;
const SPAWN_HASH_RE = /^blake3:[0-9a-f]{64}$/;
const METHOD_RE = /^(GET|HEAD|POST|PUT|PATCH|DELETE|OPTIONS)$/;
const HOST_RE = /^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;

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
      const t = parseHttpTarget(value, false);
      if (typeof t === 'string') invalid(text, t);
      return {type, target: t, text};
    }
    case 'spawn':
      if (!NAME_RE.test(value) && !SPAWN_HASH_RE.test(value)) invalid(text, 'must name a capsule or give blake3:<64 hex>');
      return {type, name: value, text};
    default:
      return invalid(text, `unknown resource type "${type}" (one of ${RESOURCE_TYPES.join(', ')})`);
  }
}

/**
 * Parse `[METHOD[,METHOD]* ]URL` for a grant (`exact` false: the URL path is a prefix, the
 * host may start with `*.`) or for a request (`exact` true: one method, a concrete URL,
 * query allowed). URLs are normalised by WHATWG URL parsing (lowercase host, default port,
 * dot segments resolved); percent-encoded dots or slashes, credentials, fragments, IP
 * literals in brackets with zones, and backslashes are refused.
 * @returns the target, or a problem string.
 */
export function parseHttpTarget(value: string, exact: boolean): HttpTarget | string {
  if (value.length > 2048) return 'too long';
  let methods: string[] | null = null;
  let url = value;
  const sp = value.indexOf(' ');
  if (sp >= 0) {
    methods = value.slice(0, sp).split(',');
    url = value.slice(sp + 1);
    if (methods.length === 0 || methods.some((m) => !METHOD_RE.test(m))) return 'methods must be a comma-separated list of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS';
    if (new Set(methods).size !== methods.length) return 'a method is listed twice';
    methods.sort();
  }
  if (exact && (methods === null || methods.length !== 1)) return 'a request names exactly one method';
  if (/[\s\\]/.test(url)) return 'URL contains whitespace or a backslash';
  if (/%(2e|2f|5c|00)/i.test(url)) return 'URL contains a percent-encoded dot, slash, backslash or NUL';
  // The authority must follow exactly two slashes: a URL parser skips extra ones, and a
  // check made on what the regex saw would then not be about the host the URL names.
  const m = /^(https?):\/\/([^/?#]+)(\/[^?#]*)?(\?[^#]*)?(#.*)?$/i.exec(url);
  if (m === null) return 'must be an absolute http(s) URL';
  if (m[5] !== undefined) return 'must not contain a fragment';
  if (!exact && m[4] !== undefined) return 'a grant must not contain a query';
  const authority = m[2] as string;
  if (authority.includes('@')) return 'must not contain credentials';
  const wildcard = !exact && authority.startsWith('*.');
  let u: URL;
  try {
    u = new URL(wildcard ? url.replace('*.', 'wildcard---.') : url);
  } catch {
    return 'must be an absolute http(s) URL';
  }
  if (u.username !== '' || u.password !== '') return 'must not contain credentials';
  const scheme = u.protocol === 'https:' ? 'https' : u.protocol === 'http:' ? 'http' : undefined;
  if (scheme === undefined) return 'scheme must be http or https';
  let host = u.hostname;
  if (wildcard) host = host.replace(/^wildcard---\./, '*.');
  if (host.startsWith('[')) {
    if (!/^\[[0-9a-f:.]+\]$/.test(host)) return 'bad IPv6 literal';
  } else if (!HOST_RE.test(host) || host.length > 253) return 'bad host name';
  const port = u.port === '' ? (scheme === 'https' ? 443 : 80) : Number(u.port);
  let path = u.pathname;
  if (exact && u.search) path += u.search;
  return {methods, scheme, host, port, path};
}

/** Is `p` (a request path) inside the grant's path prefix, on a segment boundary? */
function httpPathWithin(prefix: string, p: string): boolean {
  if (prefix === '/' || prefix.endsWith('/')) return p.startsWith(prefix);
  return p === prefix || p.startsWith(prefix + '/') || p.startsWith(prefix + '?');
}

function hostWithin(grant: string, host: string): boolean {
  if (grant.startsWith('*.')) return host.endsWith(grant.slice(1)) && host.length > grant.length - 1;
  return grant === host;
}

/** Does the grant target allow the (exact) request target? */
export function httpAllows(g: HttpTarget, r: HttpTarget): boolean {
  if (g.scheme !== r.scheme || g.port !== r.port) return false;
  if (r.host.startsWith('*.') || !hostWithin(g.host, r.host)) return false;
  if (g.methods !== null && !(r.methods ?? []).every((m) => g.methods?.includes(m))) return false;
  if (r.methods === null && g.methods !== null) return false;
  return httpPathWithin(g.path, r.path);
}

const segRegexCache = new Map<string, RegExp>();

function segMatch(glob: string, seg: string): boolean {
  if (!glob.includes('*')) return glob === seg;
  let re = segRegexCache.get(glob);
  if (re === undefined) {
    re = new RegExp('^' + glob.split('*').map((x) => x.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('[^/]*') + '$');
    if (segRegexCache.size >= 4096) segRegexCache.clear();
    segRegexCache.set(glob, re);
  }
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

const globSegCache = new Map<string, string[] | string>();

/** pathSegments for globs, which recur (grants, manifests): cached. */
function globSegments(glob: string): string[] | string {
  let g = globSegCache.get(glob);
  if (g === undefined) {
    g = pathSegments(glob);
    if (globSegCache.size >= 4096) globSegCache.clear();
    globSegCache.set(glob, g);
  }
  return g;
}

/** Does the path glob match the (normalised, absolute) path? Unnormalised paths never match. */
export function pathMatches(glob: string, path: string): boolean {
  const g = globSegments(glob);
  const p = pathSegments(path);
  if (typeof g === 'string' || typeof p === 'string') return false;
  return globMatch(g, p);
}

/** Does a kv namespace pattern (`*` within the name) match `ns`? */
export function kvMatches(pattern: string, ns: string): boolean {
  return KV_RE.test(ns) && !ns.includes('*') && segMatch(pattern, ns);
}

/**
 * Does a spawn grant (`<name>` or `blake3:<hex>`) allow spawning `target`: a capsule name, or
 * `<name>@blake3:<hex>` (the installed capsule's name and module hash, as the spawn service
 * asks), so a grant may name the capsule or pin its exact module.
 */
export function spawnAllows(grant: string, target: string): boolean {
  const at = target.indexOf('@');
  if (at < 0) return grant === target;
  return grant === target.slice(0, at) || grant === target.slice(at + 1);
}

/** A spawn target: a capsule name, optionally `@blake3:<64 hex>`. */
export function isSpawnTarget(v: string): boolean {
  const at = v.indexOf('@');
  return at < 0 ? NAME_RE.test(v) : NAME_RE.test(v.slice(0, at)) && SPAWN_HASH_RE.test(v.slice(at + 1));
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
    case 'net.http': {
      const t = parseHttpTarget(value, true);
      return typeof t !== 'string' && httpAllows(r.target, t);
    }
    case 'spawn':
      return spawnAllows(r.name, value);
  }
}

/** Is the single-segment glob `c` (maybe a literal) inside the single-segment glob `p`? Sound: when unsure, no. */
function segCovers(p: string, c: string): boolean {
  if (p === c) return true;
  if (p === '*') return true;
  if (c.includes('*')) return false; // a glob inside a different glob: not decided here, so not a subset
  return segMatch(p, c);
}

/**
 * Is every path matched by the child glob also matched by the parent glob? A segment-wise
 * alignment: a parent `**` absorbs any run of child segments (globs included); any other
 * parent segment covers exactly one child segment that is not `**` and whose language it
 * contains. Sound (a yes is always right), not complete (some true subsets say no).
 */
export function globCovers(parent: string, child: string): boolean {
  const g = pathSegments(parent);
  const c = pathSegments(child);
  if (typeof g === 'string' || typeof c === 'string') return false;
  let can = new Array<boolean>(c.length + 1).fill(false);
  can[0] = true;
  for (const gs of g) {
    const next = new Array<boolean>(c.length + 1).fill(false);
    if (gs === '**') {
      let any = false;
      for (let j = 0; j <= c.length; j++) {
        any = any || (can[j] as boolean);
        next[j] = any;
      }
    } else {
      for (let j = 0; j < c.length; j++) {
        const cs = c[j] as string;
        if (can[j] && cs !== '**' && segCovers(gs, cs)) next[j + 1] = true;
      }
    }
    can = next;
  }
  return can[c.length] as boolean;
}

function httpCovers(p: HttpTarget, c: HttpTarget): boolean {
  if (p.scheme !== c.scheme || p.port !== c.port) return false;
  if (p.methods !== null && (c.methods === null || !c.methods.every((m) => p.methods?.includes(m)))) return false;
  if (c.host.startsWith('*.')) {
    if (!p.host.startsWith('*.') || !(c.host === p.host || c.host.endsWith(p.host.slice(1)))) return false;
  } else if (!hostWithin(p.host, c.host)) return false;
  if (p.path === '/' || p.path.endsWith('/')) return c.path.startsWith(p.path);
  return c.path === p.path || c.path.startsWith(p.path + '/');
}

/**
 * Is the child resource a subset of the parent resource (everything the child allows,
 * the parent allows)? Sound: when unsure, false.
 */
export function resourceCovers(parent: Resource, child: Resource): boolean {
  switch (parent.type) {
    case 'fs.read':
    case 'fs.write':
      return child.type === parent.type && globCovers(parent.glob, child.glob);
    case 'kv':
      return child.type === 'kv' && (parent.pattern === child.pattern || parent.pattern === '*' || (!child.pattern.includes('*') && kvMatches(parent.pattern, child.pattern)));
    case 'bus.send':
    case 'bus.recv':
      return child.type === parent.type && covers(parent.pattern, child.pattern);
    case 'net.http':
      return child.type === 'net.http' && httpCovers(parent.target, child.target);
    case 'spawn':
      return child.type === 'spawn' && child.name === parent.name;
  }
}
