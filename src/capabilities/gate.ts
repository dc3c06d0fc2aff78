/**
 * The gate: every host effect a capsule asks for passes these layers, in order, and stops
 * at the first that says no:
 *   classify (schema, size, normalised paths/URLs/topics) -> policy hard-denies (protected
 *   roots, private networks, kernel topics) -> manifest (the capsule's declared upper
 *   bound) -> token (a valid, unrevoked, in-window token of this principal covers it;
 *   uses consumed atomically) -> budget (reserve messages/egress from the session and the
 *   whole token chain) -> approval (no token covers it: an earlier human approval for
 *   exactly this resource, else ask, else deny).
 * Every decision is a ledger entry naming the layer and the rule or token (gate.denied,
 * gate.allowed; an allow is recorded once per capsule, resource and token per session).
 * If the entry cannot be appended the answer is no.
 */
import {isIP} from 'node:net';
import {bytesEqual} from '../crypto/index.js';
import {AstridError} from '../errors/index.js';
import type {BodyByKind} from '../ledger/index.js';
import {covers, isTopic, parsePattern, parseTopic, matches, type TopicPattern} from '../topics/index.js';
import {Authority, useLimit} from './authority.js';
import {chainScopes, scopeName, type BudgetBook, type BudgetScope, type Reservation} from './budget.js';
import {httpAllows, isSpawnTarget, parseHttpTarget, pathMatches, pathSegments, kvMatches, resourceAllows, spawnAllows, RESOURCE_TYPES, type ResourceType} from './resource.js';
import type {Token, TokenBudget} from './token.js';

export interface GateRequest {
  readonly capsule: string;
  readonly principal: string;
  readonly session: string;
  readonly type: ResourceType;
  /** The path, namespace, topic, `METHOD URL`, or capsule name asked for. */
  readonly value: string;
  /** Bytes leaving the sandbox (fs.write data, request bodies): charged as egress. */
  readonly bytes?: number;
  /** A re-check at the moment an already-authorised effect is performed: nothing is consumed, charged or re-recorded. */
  readonly recheck?: boolean;
}

export type GateLayer = 'classify' | 'policy' | 'manifest' | 'token' | 'budget' | 'approval' | 'ledger' | 'quota';

export type GateDecision =
  | {readonly allow: true; readonly layer: 'token' | 'approval'; readonly rule: string; readonly token: string}
  | {
      readonly allow: false;
      readonly layer: GateLayer;
      readonly rule: string;
      readonly reason: string;
      /** The gate already wrote the gate.denied entry. */
      readonly recorded?: boolean;
      /** Set when a human was asked: the approval's id. */
      readonly approval?: string;
    };

export interface Gate {
  check(req: GateRequest): GateDecision;
}

/** What a capsule's manifest declares it may ever ask for (the manifest layer). */
export interface CapsuleBounds {
  readonly hash: string;
  readonly fs_read: readonly string[];
  readonly fs_write: readonly string[];
  readonly net_http: readonly string[];
  readonly kv: readonly string[];
  readonly spawn: readonly string[];
  readonly sends: readonly TopicPattern[];
}

/** Asks a human. Implemented by the approval actors (src/actors). */
export interface Approver {
  /** Open (or find the open) approval request for exactly this resource; returns its id. */
  request(r: {readonly session: string; readonly principal: string; readonly capsule: string; readonly hash: string; readonly resource: string; readonly reason: string}): string;
}

export interface GatePolicy {
  /** Absolute roots nothing may touch (the Astrid home, at least). Compared case-insensitively. */
  readonly denyRoots: readonly string[];
  /** Topic patterns no capsule may send on. */
  readonly reservedTopics: readonly string[];
}

export const DEFAULT_RESERVED_TOPICS = ['approval.>', 'kernel.>', 'grant.>'];

export interface SessionGateOptions {
  readonly authority: Authority;
  readonly budget: BudgetBook;
  readonly session: string;
  readonly principal: string;
  /** Tokens the session runs under (its root grant first). */
  readonly tokens: readonly string[];
  readonly sessionLimits: TokenBudget;
  readonly capsules: (name: string) => CapsuleBounds | undefined;
  readonly policy: GatePolicy;
  readonly approver?: Approver;
}

const MAX_VALUE = 4200;
const PRIVATE_V4 = [
  /^127\./,
  /^10\./,
  /^192\.168\./,
  /^172\.(1[6-9]|2\d|3[01])\./,
  /^169\.254\./,
  /^0\./,
  /^100\.(6[4-9]|[7-9]\d|1[01]\d|12[0-7])\./,
  /^198\.1[89]\./,
  /^192\.0\.[02]\./,
  /^198\.51\.100\./, // documentation (TEST-NET-2)
  /^203\.0\.113\./, // documentation (TEST-NET-3)
  /^192\.88\.99\./, // 6to4 relay anycast
  /^(22[4-9]|2[3-5]\d)\./, // multicast, reserved, broadcast
];

/** Is the host a loopback, private, link-local or otherwise internal target? */
export function isInternalHost(host: string): boolean {
  const h = host.toLowerCase();
  if (h === 'localhost' || h.endsWith('.localhost') || h.endsWith('.local') || h.endsWith('.internal')) return true;
  if (/^\d+\.\d+\.\d+\.\d+$/.test(h)) return PRIVATE_V4.some((re) => re.test(h));
  if (h.startsWith('[')) {
    const a = h.slice(1, -1);
    // loopback, unspecified, unique-local, link- and site-local, multicast, IPv4-mapped/compatible, NAT64,
    // 6to4 and Teredo (both embed an IPv4 address), documentation, discard-only
    return (
      a === '::1' ||
      a === '::' ||
      /^f[cd]/.test(a) ||
      /^fe[89a-f]/.test(a) ||
      /^ff/.test(a) ||
      a.startsWith('::ffff:') ||
      /^::[0-9a-f]{1,4}:[0-9a-f]{1,4}$/.test(a) ||
      a.startsWith('64:ff9b:') ||
      a.startsWith('2002:') ||
      /^2001:0?:/.test(a) ||
      a.startsWith('2001:db8:') ||
      /^100::/.test(a)
    );
  }
  return false;
}

/**
 * Is a resolved IP address (as DNS gives it: dotted IPv4, or IPv6 without brackets, in any
 * textual form) internal by the same rules as isInternalHost? Anything that is not an IP
 * address is treated as internal: fail secure.
 */
export function isInternalAddress(ip: string): boolean {
  const family = isIP(ip);
  if (family === 4) return isInternalHost(ip);
  if (family !== 6) return true;
  let canonical: string;
  try {
    canonical = new URL(`http://[${ip}]/`).hostname; // WHATWG serialisation: compressed, lowercase, IPv4 tails as hex
  } catch {
    return true;
  }
  return isInternalHost(canonical);
}

function manifestAllows(m: CapsuleBounds, type: ResourceType, value: string): boolean {
  switch (type) {
    case 'fs.read':
      return m.fs_read.some((g) => pathMatches(g, value));
    case 'fs.write':
      return m.fs_write.some((g) => pathMatches(g, value));
    case 'kv':
      return m.kv.some((p) => kvMatches(p, value));
    case 'bus.send':
      return isTopic(value) && m.sends.some((p) => covers(p, parsePattern(value)));
    case 'bus.recv':
      return true;
    case 'net.http': {
      const r = parseHttpTarget(value, true);
      if (typeof r === 'string') return false;
      return m.net_http.some((g) => {
        const t = parseHttpTarget(g, false);
        return typeof t !== 'string' && httpAllows(t, r);
      });
    }
    case 'spawn':
      return m.spawn.some((g) => spawnAllows(g, value));
  }
}

type Deny = Extract<GateDecision, {allow: false}>;
/** The entry that records a use of a limited token or a one-time approval. */
type Use = {kind: 'grant.used'; body: BodyByKind['grant.used']} | {kind: 'approval.used'; body: BodyByKind['approval.used']};

interface FastEntry {
  readonly decision: GateDecision;
  readonly chain: readonly Token[];
  /** The chain's budget scopes with the session's (built once: the same list every time). */
  readonly scopes: readonly BudgetScope[];
}

export class SessionGate implements Gate {
  readonly #o: SessionGateOptions;
  readonly #allowRecorded = new Set<string>();
  /** (capsule, type, value) -> token id that covered it last (re-validated on every use). */
  readonly #memo = new Map<string, string>();
  readonly #reserved: readonly TopicPattern[];
  /**
   * Requests allowed before by a token without use limits (see #fastPath), by capsule, type
   * and value: nested maps, so a lookup hashes strings the caller already has (their hashes
   * are cached) instead of a fresh concatenation per check.
   */
  readonly #fast = new Map<string, Map<string, Map<string, FastEntry>>>();
  #fastSize = 0;

  constructor(o: SessionGateOptions) {
    this.#o = o;
    this.#reserved = o.policy.reservedTopics.map((p) => parsePattern(p));
  }

  get session(): string {
    return this.#o.session;
  }

  check(req: GateRequest): GateDecision {
    // No decision without its record: when the ledger refuses appends, nothing is allowed
    // (a repeat allow is recorded once per session, so this must not depend on an append failing).
    if (!this.#o.authority.ledger.writable) return {allow: false, layer: 'ledger', rule: 'append-failed', reason: 'the ledger refuses appends'};
    if (req.recheck !== true) {
      const fast = this.#fastPath(req);
      if (fast !== undefined) return fast;
    }
    const d = this.#decide(req);
    if (d.allow || req.recheck) return d; // a re-check's denial is recorded by the caller, with its context
    return this.#recordDeny(req, d);
  }

  /**
   * A request decided before by an unlimited token: the static layers (classify, policy,
   * manifest) cannot have changed for this gate, so only what can change is checked again:
   * the chain's revocation, window and uses, and the budget.
   */
  #fastPath(req: GateRequest): GateDecision | undefined {
    if (req.principal !== this.#o.principal || req.session !== this.#o.session) return undefined;
    const byValue = this.#fast.get(req.capsule)?.get(req.type);
    const f = byValue?.get(req.value);
    if (f === undefined) return undefined;
    if (this.#o.authority.dynamicProblem(f.chain, this.#o.authority.clock.now()) !== null) {
      (byValue as Map<string, FastEntry>).delete(req.value);
      this.#fastSize--;
      return undefined;
    }
    if (req.type === 'bus.send' || (req.bytes !== undefined && req.bytes > 0)) {
      const denied = this.#charge(req, f.chain, f.scopes);
      if (denied !== undefined) return this.#recordDeny(req, denied);
    }
    return f.decision;
  }

  #who(): {session: string; principal: string; actor: string} {
    return {session: this.#o.session, principal: this.#o.principal, actor: 'gate'};
  }

  #recordDeny(req: GateRequest, d: Deny): Deny {
    if (d.layer === 'ledger') return d;
    try {
      const body = {code: 'GATE_DENIED', layer: d.layer, rule: d.rule.slice(0, 256), resource: `${req.type}:${req.value}`.slice(0, 1024), reason: d.reason.slice(0, 1024), capsule: req.capsule.slice(0, 64) || '-'} as const;
      this.#o.authority.record({kind: 'gate.denied', body, ...this.#who()});
      return {...d, recorded: true};
    } catch {
      return {...d, layer: 'ledger', rule: 'append-failed', reason: `${d.reason} (and the denial could not be recorded)`};
    }
  }

  #decide(req: GateRequest): GateDecision {
    const o = this.#o;
    // 1. classify
    if (!(RESOURCE_TYPES as readonly string[]).includes(req.type)) return {allow: false, layer: 'classify', rule: 'resource-type', reason: 'unknown resource type'};
    if (typeof req.value !== 'string' || req.value.length === 0 || req.value.length > MAX_VALUE) return {allow: false, layer: 'classify', rule: 'size', reason: `value must be 1 to ${MAX_VALUE} characters`};
    if (req.principal !== o.principal || req.session !== o.session) return {allow: false, layer: 'classify', rule: 'principal-mismatch', reason: `request for ${req.principal} in ${req.session} at the gate of ${o.principal} in ${o.session}`};
    if (req.bytes !== undefined && (!Number.isSafeInteger(req.bytes) || req.bytes < 0)) return {allow: false, layer: 'classify', rule: 'size', reason: 'bytes must be a non-negative integer'};
    let host: string | undefined;
    switch (req.type) {
      case 'fs.read':
      case 'fs.write': {
        const segs = pathSegments(req.value);
        if (typeof segs === 'string') return {allow: false, layer: 'classify', rule: 'path-normalised', reason: `path ${segs}`};
        if (segs.some((s) => s.includes('*'))) return {allow: false, layer: 'classify', rule: 'path-normalised', reason: 'a request path must not contain wildcards'};
        break;
      }
      case 'bus.send':
      case 'bus.recv':
        if (!isTopic(req.value)) return {allow: false, layer: 'classify', rule: 'topic-grammar', reason: 'not a valid concrete topic'};
        break;
      case 'kv':
        if (!kvMatches('*', req.value)) return {allow: false, layer: 'classify', rule: 'kv-namespace', reason: 'not a valid kv namespace'};
        break;
      case 'net.http': {
        const t = parseHttpTarget(req.value, true);
        if (typeof t === 'string') return {allow: false, layer: 'classify', rule: 'url-normalised', reason: t};
        host = t.host;
        break;
      }
      case 'spawn':
        if (!isSpawnTarget(req.value)) return {allow: false, layer: 'classify', rule: 'spawn-target', reason: 'not a capsule name (optionally @blake3:<64 hex>)'};
        break;
    }
    // 2. policy hard-denies
    if (req.type === 'fs.read' || req.type === 'fs.write') {
      const v = req.value.toLowerCase();
      for (const root of o.policy.denyRoots) {
        const r = root.toLowerCase().replace(/\/+$/, '');
        if (v === r || v.startsWith(r + '/') || r === '') return {allow: false, layer: 'policy', rule: 'deny-root', reason: `${req.value} is inside a protected root`};
      }
    }
    if (req.type === 'bus.send' && this.#reserved.some((p) => matches(p, parseTopic(req.value)))) {
      return {allow: false, layer: 'policy', rule: 'reserved-topic', reason: `${req.value} is a kernel topic no capsule may send on`};
    }
    const internal = host !== undefined && isInternalHost(host);
    if (internal && !this.#namesHost(host as string)) {
      return {allow: false, layer: 'policy', rule: 'private-network', reason: `${host} is an internal address (loopback, private or link-local); only a grant naming it exactly allows it`};
    }
    // 3. manifest
    const bounds = o.capsules(req.capsule);
    if (bounds === undefined) return {allow: false, layer: 'manifest', rule: 'unknown-capsule', reason: `${req.capsule} is not a capsule of this session`};
    if (!manifestAllows(bounds, req.type, req.value)) {
      return {allow: false, layer: 'manifest', rule: `manifest.${req.type}`, reason: `${req.type} ${req.value} is outside what the capsule's manifest declares`};
    }
    // 4. token
    const t = this.#findToken(req, bounds.hash, internal ? host : undefined);
    if (t.kind === 'deny') return t.deny;
    // 5. budget: reserve; then record the use of a limited token or one-time approval; then charge
    const chain = t.kind === 'token' ? t.chain : [];
    const held = req.recheck ? [] : this.#reserve(req, chain);
    if (!Array.isArray(held)) return held;
    if (t.use !== undefined) {
      try {
        this.#o.authority.record({...t.use, ...this.#who()});
      } catch {
        for (const x of held) x.release();
        return {allow: false, layer: 'ledger', rule: 'append-failed', reason: 'the use of a limited grant could not be recorded'};
      }
    }
    for (const x of held) x.settle();
    if (t.kind === 'token') return this.#allowToken(req, t.token, chain);
    return this.#allowApproval(req, t.approval);
  }

  /** Reserve and charge at once (the fast path: no use to record in between). */
  #charge(req: GateRequest, chain: readonly Token[], scopes?: readonly BudgetScope[]): Deny | undefined {
    // a message by an unlimited chain in an unlimited session: record the spending, nothing to reserve
    if (scopes !== undefined && req.type === 'bus.send' && (req.bytes === undefined || req.bytes === 0) && this.#o.budget.chargeUnlimited(scopes, 'messages', 1)) return undefined;
    const held = this.#reserve(req, chain);
    if (!Array.isArray(held)) return held;
    for (const x of held) x.settle();
    return undefined;
  }

  /** Reserve the request's messages and egress from the session and the chain; all or nothing. */
  #reserve(req: GateRequest, chain: readonly Token[]): Reservation[] | Deny {
    const o = this.#o;
    const scopes = chainScopes(o.session, o.sessionLimits, chain);
    const charges: Array<['messages' | 'egress_bytes', number]> = [];
    if (req.type === 'bus.send') charges.push(['messages', 1]);
    if (req.bytes !== undefined && req.bytes > 0) charges.push(['egress_bytes', req.bytes]);
    const taken: Reservation[] = [];
    for (const [axis, n] of charges) {
      const r = o.budget.reserve(scopes, axis, n);
      if (!r.ok) {
        for (const x of taken) x.release();
        try {
          const scope = scopeName(r.scope, o.session);
          o.authority.record({kind: 'budget.exhausted', body: {scope: scope.slice(0, 64), axis, limit: r.limit, wanted: r.wanted, capsule: req.capsule.slice(0, 64)}, ...this.#who()});
        } catch {
          return {allow: false, layer: 'ledger', rule: 'append-failed', reason: 'budget exhausted, and the ledger refused the record'};
        }
        return {allow: false, layer: 'budget', rule: `budget.${axis}`, reason: `${scopeName(r.scope, o.session) === 'session' ? 'the session' : r.scope} has ${r.remaining} ${axis} left of ${r.limit}; ${r.wanted} wanted`};
      }
      taken.push(r.reservation);
    }
    return taken;
  }

  #findToken(
    req: GateRequest,
    capsuleHash: string,
    internalHost: string | undefined,
  ): {kind: 'token'; token: Token; chain: readonly Token[]; use: Use | undefined} | {kind: 'approval'; approval: string; use: Use | undefined} | {kind: 'deny'; deny: Deny} {
    const o = this.#o;
    const a = o.authority;
    const me = a.principal(o.principal);
    if (me === undefined) return {kind: 'deny', deny: {allow: false, layer: 'token', rule: 'unknown-principal', reason: `principal ${o.principal} is not registered`}};
    const now = a.clock.now();
    const key = req.capsule + '\u0000' + req.type + '\u0000' + req.value;
    const memo = this.#memo.get(key);
    const candidates = memo !== undefined ? [memo, ...this.#candidates()] : this.#candidates();
    let lastProblem: string | undefined;
    for (const id of candidates) {
      const tok = a.token(id);
      if (tok === undefined) continue;
      if (tok.subject !== o.principal || !bytesEqual(tok.subjectKey, me.key)) continue; // a token for A never authorises B
      if (!Authority.allows(tok, req.type, req.value, capsuleHash)) continue;
      if (internalHost !== undefined && !tok.resources.some((r) => r.type === 'net.http' && r.target.host === internalHost && resourceAllows(r, req.type, req.value))) {
        lastProblem = `${internalHost} is an internal address; only a grant naming it exactly allows it`;
        continue;
      }
      const v = a.verify(tok);
      if (!v.ok) {
        lastProblem = `${tok.id}: ${v.code}: ${v.reason}`;
        continue;
      }
      // a re-check of an effect already authorised (and its use already counted) must not count it again
      const p = a.dynamicProblem(v.chain, now, {ignoreUses: req.recheck === true});
      if (p !== null) {
        lastProblem = p.reason;
        continue;
      }
      const use: Use | undefined =
        !req.recheck && a.chainHasUseLimit(v.chain)
          ? {kind: 'grant.used', body: {id: tok.id, chain: v.chain.slice(1).filter((x) => useLimit(x) !== undefined).map((x) => x.id), resource: `${req.type}:${req.value}`.slice(0, 4200)}}
          : undefined;
      this.#memo.set(key, tok.id);
      if (this.#memo.size > 4096) this.#memo.clear();
      return {kind: 'token', token: tok, chain: v.chain, use};
    }
    // no token: an approval for exactly this resource?
    const resource = `${req.type}:${req.value}`;
    for (const ap of a.state.approvals.values()) {
      // an answer covers exactly what the human saw: this principal, this capsule (name and module), this resource
      if (ap.status !== 'approved' || ap.principal !== o.principal || ap.resource !== resource || ap.capsule !== req.capsule || ap.hash !== capsuleHash) continue;
      if (ap.scope === 'session' && ap.session === o.session) return {kind: 'approval', approval: ap.id, use: undefined};
      if (ap.scope === 'once' && (!ap.used || req.recheck === true)) {
        return {kind: 'approval', approval: ap.id, use: req.recheck ? undefined : {kind: 'approval.used', body: {id: ap.id, resource: resource.slice(0, 4200)}}};
      }
    }
    if (lastProblem === undefined && o.approver !== undefined && !req.recheck) {
      let id: string;
      try {
        id = o.approver.request({session: o.session, principal: o.principal, capsule: req.capsule, hash: capsuleHash, resource, reason: `${req.capsule} asks for ${resource}`});
      } catch (e) {
        const code = e instanceof AstridError ? e.code : 'INTERNAL';
        return {kind: 'deny', deny: {allow: false, layer: 'approval', rule: 'approval-refused', reason: `no token covers ${resource} and no approval could be requested (${code})`}};
      }
      return {kind: 'deny', deny: {allow: false, layer: 'approval', rule: 'approval-pending', reason: `no token covers ${resource}; approval ${id} is waiting for a human (astrid approve ${id})`, approval: id}};
    }
    return {kind: 'deny', deny: {allow: false, layer: 'token', rule: lastProblem === undefined ? 'no-token' : 'token-unusable', reason: lastProblem ?? `no token of ${o.principal} covers ${resource}`}};
  }

  /** Does any candidate token name exactly this host in a net.http resource? (Its validity is the token layer's business.) */
  #namesHost(host: string): boolean {
    return this.#candidates().some((id) => this.#o.authority.token(id)?.resources.some((r) => r.type === 'net.http' && r.target.host === host) === true);
  }

  /** The session's tokens, then tokens minted for this principal by "always" approvals. */
  #candidates(): string[] {
    const out = [...this.#o.tokens];
    for (const ap of this.#o.authority.state.approvals.values()) {
      if (ap.status === 'approved' && ap.scope === 'always' && ap.token !== '' && ap.principal === this.#o.principal) out.push(ap.token);
    }
    return out;
  }

  #allowToken(req: GateRequest, tok: Token, chain: readonly Token[]): GateDecision {
    const d = {allow: true, layer: 'token', rule: tok.resources.find((r) => resourceAllows(r, req.type, req.value))?.text ?? tok.id, token: tok.id} as const;
    const limited = chain.some((t) => useLimit(t) !== undefined);
    const out = this.#recordAllow(req, d, limited, chain);
    if (out.allow && !limited) {
      if (this.#fastSize >= 4096) {
        this.#fast.clear();
        this.#fastSize = 0;
      }
      let byType = this.#fast.get(req.capsule);
      if (byType === undefined) this.#fast.set(req.capsule, (byType = new Map()));
      let byValue = byType.get(req.type);
      if (byValue === undefined) byType.set(req.type, (byValue = new Map()));
      if (!byValue.has(req.value)) this.#fastSize++;
      byValue.set(req.value, {decision: out, chain, scopes: chainScopes(this.#o.session, this.#o.sessionLimits, chain)});
    }
    return out;
  }

  #allowApproval(req: GateRequest, approval: string): GateDecision {
    return this.#recordAllow(req, {allow: true, layer: 'approval', rule: `approval:${approval}`, token: ''}, true);
  }

  #recordAllow(req: GateRequest, d: Extract<GateDecision, {allow: true}>, always: boolean, chain: readonly Token[] = []): GateDecision {
    if (req.recheck) return d;
    const key = `${req.capsule}\u0000${req.type}\u0000${req.value}\u0000${d.token}\u0000${d.rule}`;
    if (!always && this.#allowRecorded.has(key)) return d;
    try {
      const exp = Math.min(...chain.map((t) => t.exp ?? Infinity));
      const why = `${chain.length === 1 ? 'a root grant' : `delegated ${chain.length - 1} time(s)`} from the owner's root key${Number.isFinite(exp) ? `, valid until ${new Date(exp).toISOString()}` : ''}`;
      const reason = d.layer === 'token' ? `${d.token} of ${this.#o.principal} (${why}) covers it with ${d.rule}` : `a human answered ${d.rule.slice(9)} for exactly this request`;
      this.#o.authority.record({kind: 'gate.allowed', body: {layer: d.layer, rule: d.rule.slice(0, 256), token: d.token, resource: `${req.type}:${req.value}`.slice(0, 4200), capsule: req.capsule.slice(0, 64), reason: reason.slice(0, 1024)}, ...this.#who()});
    } catch {
      return {allow: false, layer: 'ledger', rule: 'append-failed', reason: 'the decision could not be recorded'};
    }
    if (this.#allowRecorded.size > 65_536) this.#allowRecorded.clear();
    this.#allowRecorded.add(key);
    return d;
  }
}
