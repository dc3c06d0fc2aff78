/**
 * The http service: one capsule request (`svc.http.request`) performed by the kernel, with
 * every hop checked. In order, for the request and again for each redirect it follows:
 *   parse (strict schema, http/https only, no credentials, forbidden headers refused) ->
 *   gate (net.http `METHOD URL`: token, manifest, policy, budget; a denial is a gate.denied
 *   entry the gate writes) -> the decision made durable -> DNS (every address checked:
 *   internal addresses only for a grant naming that exact host) -> connect to the checked
 *   address (pinned through `lookup`, so a second DNS answer can never be used) ->
 *   caps on time (all hops, DNS included), response headers and body.
 * Secrets from the kernel's store are put into the outgoing headers here and nowhere else,
 * only for a host the secret is bound to; their values are scrubbed from anything that goes
 * back (headers, body, redirect targets, reasons), so they never reach the capsule or the
 * ledger. Request headers are never echoed back.
 */
import {request as httpRequest, type IncomingMessage, type OutgoingHttpHeaders, type RequestOptions} from 'node:http';
import {request as httpsRequest} from 'node:https';
import {lookup as dnsLookup} from 'node:dns/promises';
import {isIP, type LookupFunction} from 'node:net';
import {AstridError, type ErrorCode} from '../errors/index.js';
import {checkPayload, MAX_HTTP_RESPONSE_BODY} from '../bus/index.js';
import {isInternalAddress, parseHttpTarget, parseResource, type Gate, type GateDecision, type HttpTarget} from '../capabilities/index.js';
import {parseTopic} from '../topics/index.js';
import type {Secret, SecretSource} from './secrets.js';

export const HTTP_REQUEST_TOPIC = 'svc.http.request';
export const HTTP_RESPONSE_TOPIC = 'svc.http.response';

export interface HttpLimits {
  /** Wall time for the whole request, every hop and DNS lookup included. */
  readonly timeoutMs: number;
  /** Largest response body; a larger one is aborted (HTTP_TOO_LARGE). At most MAX_HTTP_RESPONSE_BODY. */
  readonly maxResponseBytes: number;
  /** Redirects followed before HTTP_REDIRECT_LIMIT. */
  readonly maxRedirects: number;
  /** Response headers returned: at most this many, and this many bytes in all; the rest are dropped. */
  readonly maxResponseHeaders: number;
  readonly maxResponseHeaderBytes: number;
}

export const DEFAULT_HTTP_LIMITS: HttpLimits = Object.freeze({
  timeoutMs: 10_000,
  maxResponseBytes: MAX_HTTP_RESPONSE_BODY,
  maxRedirects: 5,
  maxResponseHeaders: 64,
  maxResponseHeaderBytes: 8 * 1024,
});

/** Resolves a host name to all its addresses (IPv4 dotted, IPv6 without brackets). */
export type Resolver = (host: string) => Promise<readonly string[]>;

/** node:dns lookup of every address (what the system resolver and /etc/hosts say). */
export const systemResolver: Resolver = async (host) => (await dnsLookup(host, {all: true, verbatim: true})).map((a) => a.address);

export interface HttpDeps {
  readonly gate: Gate;
  readonly capsule: string;
  readonly principal: string;
  readonly session: string;
  /** Resolves once everything appended so far is durable: a decision is durable before its effect (law 2). */
  readonly durable: () => Promise<void>;
  /** The kernel's secret store (requests naming secrets fail with SECRET_NOT_FOUND without one). */
  readonly secrets?: SecretSource;
  /** DNS (default: systemResolver). Tests inject one. */
  readonly resolve?: Resolver;
  readonly limits?: Partial<HttpLimits>;
}

/** Result codes of a request that did not produce a response. */
export type HttpCode = Extract<ErrorCode, `HTTP_${string}` | `SECRET_${string}` | `KEY_${string}`>;

export type HttpOutcome =
  | {readonly ok: true; readonly status: number; readonly headers: Readonly<Record<string, string>>; readonly body: Uint8Array; readonly url: string; readonly hops: number}
  | {readonly ok: false; readonly code: HttpCode; readonly reason: string; readonly url: string};

/** Request headers a capsule may not set: the kernel owns framing, routing and the connection. */
const FORBIDDEN_HEADERS = new Set(['host', 'content-length', 'connection', 'transfer-encoding', 'keep-alive', 'upgrade', 'te', 'trailer', 'expect']);
const TOKEN_RE = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,256}$/;
const HEADER_VALUE_RE = /^[\t\x20-\x7e\x80-\xff]*$/;
const MAX_REQUEST_HEADER_BYTES = 16 * 1024;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const REQUEST_SCHEMA = parseTopic(HTTP_REQUEST_TOPIC);
const REDACTED = '[redacted]';

interface Parsed {
  readonly method: string;
  readonly url: string;
  readonly headers: ReadonlyArray<readonly [string, string]>;
  readonly body: Uint8Array | undefined;
  /** [header, secret name] */
  readonly secrets: ReadonlyArray<readonly [string, string]>;
}

class Refused {
  constructor(
    readonly code: HttpCode,
    readonly reason: string,
  ) {}
}

/** Why a header may not be sent by a capsule, or undefined when it may. */
function headerProblem(name: string): string | undefined {
  if (!TOKEN_RE.test(name) || name === '__proto__') return `header name ${JSON.stringify(name.slice(0, 64))} is not an HTTP token`;
  const n = name.toLowerCase();
  if (FORBIDDEN_HEADERS.has(n) || n.startsWith('proxy-')) return `header ${name} is set by the kernel, not by a capsule`;
  return undefined;
}

/** Parse the capsule's request (untrusted msgpack, already decoded). */
function parseRequest(payload: unknown): Parsed | Refused {
  const v = checkPayload(REQUEST_SCHEMA, payload);
  if (!v.ok) return new Refused('HTTP_INVALID', v.reason);
  const p = payload as {method: string; url: string; headers?: Record<string, string>; body?: Uint8Array; secrets?: Record<string, string>};
  const headers = Object.entries(p.headers ?? {});
  const secrets = Object.entries(p.secrets ?? {});
  const seen = new Set<string>();
  let bytes = 0;
  for (const [name, value] of [...headers, ...secrets]) {
    const problem = headerProblem(name);
    if (problem !== undefined) return new Refused('HTTP_INVALID', problem);
    if (seen.has(name.toLowerCase())) return new Refused('HTTP_INVALID', `header ${name} is given twice`);
    seen.add(name.toLowerCase());
    bytes += name.length + value.length + 4;
  }
  for (const [name, value] of headers) if (!HEADER_VALUE_RE.test(value)) return new Refused('HTTP_INVALID', `header ${name} has a control character in its value`);
  if (bytes > MAX_REQUEST_HEADER_BYTES) return new Refused('HTTP_INVALID', `request headers over ${MAX_REQUEST_HEADER_BYTES} bytes`);
  if (p.body !== undefined && (p.method === 'GET' || p.method === 'HEAD')) return new Refused('HTTP_INVALID', `${p.method} has no body`);
  return {method: p.method, url: p.url, headers, body: p.body, secrets};
}

/** Does the decision rest on a grant naming exactly this host (the only way to reach an internal address)? */
function namesHost(d: Extract<GateDecision, {allow: true}>, host: string): boolean {
  if (d.layer !== 'token') return false;
  try {
    const r = parseResource(d.rule);
    return r.type === 'net.http' && r.target.host === host;
  } catch {
    return false;
  }
}

/** Replace every occurrence of a secret value in `text`. */
function scrubText(text: string, values: readonly string[]): string {
  let out = text;
  for (const v of values) out = out.split(v).join(REDACTED);
  return out;
}

function scrubBytes(body: Uint8Array, values: readonly string[]): Uint8Array {
  let buf = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  for (const v of values) {
    const needle = Buffer.from(v);
    if (buf.indexOf(needle) < 0) continue;
    const parts: Buffer[] = [];
    let at = 0;
    for (let i = buf.indexOf(needle); i >= 0; i = buf.indexOf(needle, at)) {
      parts.push(buf.subarray(at, i), Buffer.from(REDACTED));
      at = i + needle.length;
    }
    parts.push(buf.subarray(at));
    buf = Buffer.concat(parts);
  }
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

/** The response headers a capsule gets: lowercase names, bounded in number and size, secrets scrubbed. */
function responseHeaders(res: IncomingMessage, limits: HttpLimits, values: readonly string[]): Record<string, string> {
  const byName = new Map<string, string>();
  let bytes = 0;
  const raw = res.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = (raw[i] as string).toLowerCase();
    const value = scrubText(raw[i + 1] as string, values);
    if (!TOKEN_RE.test(name) || name === '__proto__') continue;
    const prev = byName.get(name);
    const next = prev === undefined ? value : `${prev}, ${value}`;
    const cost = next.length - (prev?.length ?? -name.length);
    if (bytes + cost > limits.maxResponseHeaderBytes || next.length > 8192 || (prev === undefined && byName.size >= limits.maxResponseHeaders)) continue;
    byName.set(name, next);
    bytes += cost;
  }
  return Object.fromEntries(byName);
}

interface Exchange {
  readonly target: HttpTarget;
  readonly method: string;
  readonly headers: OutgoingHttpHeaders;
  readonly body: Uint8Array | undefined;
  readonly address: string;
  readonly signal: AbortSignal;
}

/** Send one request to the checked address and wait for the response head. */
function exchange(x: Exchange): Promise<IncomingMessage> {
  const hostname = x.target.host.startsWith('[') ? x.target.host.slice(1, -1) : x.target.host;
  const family = isIP(x.address);
  // The connection goes to the address that was checked, whatever DNS would answer now.
  const lookup = ((_host: string, options: {all?: boolean}, cb: (err: Error | null, address: string | Array<{address: string; family: number}>, family?: number) => void): void => {
    if (options.all === true) cb(null, [{address: x.address, family}]);
    else cb(null, x.address, family);
  }) as LookupFunction;
  const o: RequestOptions = {host: hostname, port: x.target.port, path: x.target.path, method: x.method, headers: x.headers, lookup, signal: x.signal, agent: false, setHost: true};
  return new Promise((resolve, reject) => {
    const send = x.target.scheme === 'https' ? httpsRequest({...o, ...(isIP(hostname) ? {} : {servername: hostname})}) : httpRequest(o);
    send.once('response', resolve);
    send.on('error', reject); // not once: a late second error (after an abort) must not go unhandled
    send.end(x.body === undefined ? undefined : Buffer.from(x.body.buffer, x.body.byteOffset, x.body.byteLength));
  });
}

/** Read a response body up to `max` bytes; beyond that the response is destroyed. */
function readBody(res: IncomingMessage, max: number): Promise<Uint8Array | Refused> {
  res.on('error', () => {}); // errors are seen through 'aborted' / the deadline; a destroyed response must not throw
  const declared = Number(res.headers['content-length'] ?? 0);
  if (Number.isFinite(declared) && declared > max) {
    res.destroy();
    return Promise.resolve(new Refused('HTTP_TOO_LARGE', `the response declares ${declared} bytes; at most ${max} are accepted`));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let n = 0;
    res.on('data', (c: Buffer) => {
      n += c.length;
      if (n > max) {
        resolve(new Refused('HTTP_TOO_LARGE', `the response body is over ${max} bytes`)); // before destroy(): it may emit 'aborted' at once
        res.destroy();
        return;
      }
      chunks.push(c);
    });
    res.once('end', () => {
      const b = Buffer.concat(chunks);
      resolve(new Uint8Array(b.buffer, b.byteOffset, b.byteLength));
    });
    res.on('error', reject);
    res.once('aborted', () => reject(new Error('the response was aborted')));
  });
}

/** Race a promise against the deadline. */
function beforeDeadline<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, {once: true});
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

/** Look the secrets up (after the gate allowed the first hop: their existence is nobody else's business). */
function loadSecrets(deps: HttpDeps, named: Parsed['secrets'], host: string): Array<readonly [string, Secret]> | Refused {
  const out: Array<readonly [string, Secret]> = [];
  for (const [header, name] of named) {
    if (deps.secrets === undefined) return new Refused('SECRET_NOT_FOUND', `no secret store: ${name} is unavailable`);
    let s: Secret;
    try {
      s = deps.secrets.get(name);
    } catch (e) {
      const code = e instanceof AstridError && (e.code.startsWith('SECRET_') || e.code.startsWith('KEY_')) ? (e.code as HttpCode) : 'SECRET_NOT_FOUND';
      return new Refused(code, `secret ${name}: ${code}`);
    }
    if (!s.hosts.includes(host)) return new Refused('SECRET_HOST_DENIED', `secret ${name} is not bound to ${host} (it may be sent to ${s.hosts.join(', ')})`);
    out.push([header, s]);
  }
  return out;
}

/** Bytes leaving for one hop, charged as egress: the request line, the capsule's headers and the body. */
function egressBytes(method: string, url: string, headers: Parsed['headers'], body: Uint8Array | undefined): number {
  let n = method.length + url.length + 12;
  for (const [k, v] of headers) n += k.length + Buffer.byteLength(v) + 4;
  return n + (body?.length ?? 0);
}

/**
 * Perform a capsule's HTTP request (the payload of `svc.http.request`, untrusted). Never
 * throws on capsule input; a failure is `{ok: false, code}` with a stable code. Denials are
 * recorded by the gate (gate.denied); recording the outcome is the caller's (service.result).
 */
export async function performHttp(deps: HttpDeps, payload: unknown): Promise<HttpOutcome> {
  const limits: HttpLimits = {...DEFAULT_HTTP_LIMITS, ...(deps.limits ?? {})};
  const maxBody = Math.min(limits.maxResponseBytes, MAX_HTTP_RESPONSE_BODY);
  const req = parseRequest(payload);
  if (req instanceof Refused) return {ok: false, code: req.code, reason: req.reason, url: ''};
  const deadline = new AbortController();
  const timer = setTimeout(() => deadline.abort(new Refused('HTTP_TIMEOUT', `no complete response within ${limits.timeoutMs} ms`)), limits.timeoutMs);
  const values: string[] = [];
  let url = req.url;
  try {
    const out = await hops(deps, req, limits, maxBody, deadline.signal, values, (u) => (url = u));
    return out instanceof Refused ? {ok: false, code: out.code, reason: scrubText(out.reason, values), url: scrubText(url, values)} : out;
  } catch (e) {
    const r = deadline.signal.aborted ? (deadline.signal.reason as Refused) : e instanceof Refused ? e : connectFailure(e);
    return {ok: false, code: r.code, reason: scrubText(r.reason, values).slice(0, 1024), url: scrubText(url, values)};
  } finally {
    clearTimeout(timer);
  }
}

function connectFailure(e: unknown): Refused {
  const code = (e as NodeJS.ErrnoException | null)?.code;
  if (code === 'HPE_HEADER_OVERFLOW') return new Refused('HTTP_TOO_LARGE', 'the response headers are too large');
  return new Refused('HTTP_CONNECT_FAILED', `the exchange failed: ${code ?? (e instanceof Error ? e.message : 'unknown error')}`);
}

async function hops(
  deps: HttpDeps,
  req: Parsed,
  limits: HttpLimits,
  maxBody: number,
  signal: AbortSignal,
  values: string[],
  at: (url: string) => void,
): Promise<Extract<HttpOutcome, {ok: true}> | Refused> {
  let method = req.method;
  let url = req.url;
  let body = req.body;
  let secrets: Array<readonly [string, Secret]> | undefined;
  for (let hop = 0; ; hop++) {
    at(url);
    const target = parseHttpTarget(`${method} ${url}`, true);
    if (typeof target === 'string') return new Refused('HTTP_INVALID', `${hop === 0 ? 'url' : 'redirect target'}: ${target}`);
    const d = deps.gate.check({capsule: deps.capsule, principal: deps.principal, session: deps.session, type: 'net.http', value: `${method} ${url}`, bytes: egressBytes(method, url, req.headers, body)});
    if (!d.allow) return new Refused('HTTP_DENIED', d.reason);
    await beforeDeadline(deps.durable(), signal);
    if (secrets === undefined) {
      const s = loadSecrets(deps, req.secrets, target.host);
      if (s instanceof Refused) return s;
      secrets = s;
      for (const [, x] of s) values.push(x.value);
    }
    const bare = target.host.startsWith('[') ? target.host.slice(1, -1) : target.host;
    let addresses: readonly string[];
    if (isIP(bare) !== 0) addresses = [bare];
    else {
      try {
        addresses = await beforeDeadline((deps.resolve ?? systemResolver)(bare), signal);
      } catch (e) {
        if (signal.aborted) throw e;
        return new Refused('HTTP_DNS_FAILED', `${bare} did not resolve`);
      }
      if (!Array.isArray(addresses) || addresses.length === 0 || addresses.length > 64 || !addresses.every((a) => typeof a === 'string' && isIP(a) !== 0)) {
        return new Refused('HTTP_DNS_FAILED', `${bare} did not resolve to a usable address`);
      }
    }
    const internal = addresses.find((a) => isInternalAddress(a));
    if (internal !== undefined && !namesHost(d, target.host)) {
      return new Refused('HTTP_PRIVATE_ADDRESS', `${target.host} resolves to the internal address ${internal}; only a grant naming ${target.host} exactly allows it`);
    }
    const headers: OutgoingHttpHeaders = {};
    for (const [k, v] of req.headers) headers[k] = v;
    // a secret goes only to a host it is bound to: a redirect elsewhere travels without it
    for (const [k, s] of secrets) if (s.hosts.includes(target.host)) headers[k] = s.value;
    if (body !== undefined) headers['content-length'] = String(body.length);
    const res = await beforeDeadline(exchange({target, method, headers, body, address: addresses[0] as string, signal}), signal);
    const status = res.statusCode ?? 0;
    const location = res.headers.location;
    if (REDIRECTS.has(status) && typeof location === 'string') {
      res.destroy();
      if (hop >= limits.maxRedirects) return new Refused('HTTP_REDIRECT_LIMIT', `more than ${limits.maxRedirects} redirects`);
      let next: string;
      try {
        next = new URL(location, `${target.scheme}://${target.host}:${target.port}${target.path}`).href;
      } catch {
        return new Refused('HTTP_INVALID', 'the redirect target is not a URL');
      }
      if (values.some((v) => next.includes(v) || location.includes(v))) return new Refused('HTTP_INVALID', 'the redirect target carries a secret');
      if (status === 303 || ((status === 301 || status === 302) && method === 'POST')) {
        if (method !== 'HEAD') method = 'GET';
        body = undefined;
      }
      url = next;
      continue;
    }
    const got = method === 'HEAD' ? new Uint8Array(0) : await beforeDeadline(readBody(res, maxBody), signal);
    if (got instanceof Refused) return got;
    return {ok: true, status, headers: responseHeaders(res, limits, values), body: scrubBytes(got, values), url: scrubText(url, values), hops: hop};
  }
}
