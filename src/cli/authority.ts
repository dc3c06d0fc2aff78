/**
 * The operations behind `astrid principal`, `grant`, `grants`, `token`, `revoke`,
 * `approvals`, `approve` and `deny`. Each opens the embedded kernel, rebuilds the
 * authority state from the ledger, acts, and closes.
 */
import {AstridError} from '../errors/index.js';
import {toHex} from '../crypto/index.js';
import {BUDGET_AXES, RESOURCE_TYPES, parseTokenId, tokenJson, tokenToText, type ApprovalRecord, type Authority, type Caveat, type TokenBudget} from '../capabilities/index.js';
import {approvalService, createPrincipal, openAuthority, principalKey, type KernelState} from '../kernel/index.js';
import {withKernel} from './with-kernel.js';

async function withAuthority<T>(home: string, mode: 'read' | 'write', f: (k: KernelState, a: Authority) => Promise<T>): Promise<T> {
  return withKernel(home, mode, async (k) => f(k, await openAuthority(k, mode)));
}

export interface PrincipalView {
  readonly name: string;
  readonly role: string;
  readonly key: string;
  readonly seq: number;
}

/** Create a principal with a fresh key. */
export async function principalCreate(home: string, name: string, role: 'user' | 'agent'): Promise<PrincipalView> {
  return withAuthority(home, 'write', async (k, a) => {
    const p = await createPrincipal(k, a, name, role);
    return {name: p.name, role: p.role, key: toHex(p.key), seq: p.seq};
  });
}

/** Every principal. */
export async function principalList(home: string): Promise<PrincipalView[]> {
  return withAuthority(home, 'read', async (_k, a) => [...a.state.principals.values()].sort((x, y) => x.seq - y.seq).map((p) => ({name: p.name, role: p.role, key: toHex(p.key), seq: p.seq})));
}

/**
 * Parse a budget spec `fuel=N,messages=N,...` (any of the token budget axes).
 * @throws AstridError INPUT_INVALID.
 */
export function parseTokenBudget(text: string, axes: readonly string[] = BUDGET_AXES): TokenBudget {
  const out: Record<string, number> = {};
  for (const part of text.split(',')) {
    const m = /^([a-z_]+)=(\d{1,15})$/.exec(part.trim());
    if (m === null || !axes.includes(m[1] as string)) {
      throw new AstridError('INPUT_INVALID', `budget: "${part}" is not AXIS=N with AXIS one of ${axes.join(', ')}`);
    }
    out[m[1] as string] = Number(m[2]);
  }
  return out;
}

/**
 * Parse a time: an ISO 8601 date, or a duration from now (`90s`, `15m`, `2h`, `7d`).
 * @throws AstridError INPUT_INVALID.
 */
export function parseWhen(text: string, now: number, flag: string): number {
  const d = /^(\d{1,9})(s|m|h|d)$/.exec(text.trim());
  if (d !== null) return now + Number(d[1]) * {s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000}[d[2] as 's' | 'm' | 'h' | 'd'];
  if (/^\d{4}-\d{2}-\d{2}/.test(text)) {
    const t = Date.parse(text);
    if (Number.isFinite(t)) return t;
  }
  throw new AstridError('INPUT_INVALID', `${flag}: "${text}" is neither a duration (30s, 15m, 2h, 7d) nor an ISO date`);
}

/**
 * Parse caveat flags: `single-use`, `max-uses=N`, `capsule=<hash>`, `allow=TYPE:VALUE` (repeatable;
 * several `allow` of one type form one allowed set).
 */
export function parseCaveats(specs: readonly string[]): Caveat[] {
  const out: Caveat[] = [];
  const allow = new Map<string, string[]>();
  for (const s of specs) {
    if (s === 'single-use') out.push({type: 'single_use'});
    else if (/^max-uses=\d{1,10}$/.test(s)) {
      const n = Number(s.slice(9));
      if (n < 1 || n > 1_000_000_000) throw new AstridError('INPUT_INVALID', `--caveat ${s}: max-uses must be 1 to 1000000000`);
      out.push({type: 'max_uses', n});
    }
    else if (/^capsule=(blake3:)?[0-9a-f]{64}$/.test(s)) out.push({type: 'capsule', hash: s.slice(-64)});
    else if (s.startsWith('allow=') && s.indexOf(':') > 6) {
      const type = s.slice(6, s.indexOf(':'));
      if (!(RESOURCE_TYPES as readonly string[]).includes(type)) throw new AstridError('INPUT_INVALID', `--caveat ${s}: ${type} is not a resource type (${RESOURCE_TYPES.join(', ')})`);
      allow.set(type, [...(allow.get(type) ?? []), s.slice(s.indexOf(':') + 1)]);
    } else throw new AstridError('INPUT_INVALID', `--caveat "${s}": want single-use, max-uses=N, capsule=<blake3 hex> or allow=TYPE:VALUE`);
  }
  for (const [type, values] of allow) out.push({type: 'allow', resource: type as Caveat extends {resource: infer R} ? R : never, values});
  return out;
}

export interface GrantFlags {
  readonly to: string;
  readonly resources: readonly string[];
  readonly budget?: string;
  readonly expires?: string;
  readonly notBefore?: string;
  readonly caveats?: readonly string[];
}

export interface TokenView {
  readonly id: string;
  readonly status: string;
  readonly reason: string;
  readonly token: Record<string, unknown> | null;
  /** Leaf first, root last; each link with its own status and its issuer's principal name (or key prefix). */
  readonly chain: ReadonlyArray<{readonly id: string; readonly subject: string; readonly issuer: string; readonly status: string}>;
  readonly revoked: boolean;
  readonly uses: number;
  readonly spent: Record<string, number>;
  readonly via: string;
  readonly text?: string;
}

function view(a: Authority, id: string, withText = false): TokenView {
  const rep = a.report(id);
  const rec = a.state.tokens.get(id);
  const names = new Map([...a.state.principals.values()].map((p) => [toHex(p.key), p.name]));
  const now = a.clock.now();
  return {
    id,
    status: rep.status,
    reason: rep.reason,
    token: rep.token === undefined ? null : tokenJson(rep.token),
    chain: rep.chain.map((t) => ({
      id: t.id,
      subject: t.subject,
      issuer: names.get(toHex(t.issuer)) ?? toHex(t.issuer).slice(0, 16),
      status: a.dynamicProblem([t], now)?.status ?? 'active',
    })),
    revoked: a.state.revoked.has(id),
    uses: a.state.uses.get(id) ?? 0,
    spent: {...(a.state.spent.get(id) ?? {fuel: 0, wall_ms: 0, messages: 0, egress_bytes: 0})},
    via: rec?.via ?? '',
    ...(withText && rep.token !== undefined ? {text: tokenToText(rep.token)} : {}),
  };
}

/** The validity window from the flags, checked here so a mistake names its flag. */
function windowOf(f: {expires?: string; notBefore?: string}, now: number): {nbf?: number; exp?: number} {
  const exp = f.expires === undefined ? undefined : parseWhen(f.expires, now, '--expires');
  const nbf = f.notBefore === undefined ? undefined : parseWhen(f.notBefore, now, '--not-before');
  if (exp !== undefined && exp <= now) throw new AstridError('INPUT_INVALID', `--expires ${f.expires}: already past`);
  if (exp !== undefined && nbf !== undefined && exp <= nbf) throw new AstridError('INPUT_INVALID', `--expires ${f.expires} is not after --not-before ${f.notBefore}`);
  return {...(nbf === undefined ? {} : {nbf}), ...(exp === undefined ? {} : {exp})};
}

/** Issue a root grant signed by the owner key. */
export async function grantIssue(home: string, f: GrantFlags): Promise<TokenView> {
  return withAuthority(home, 'write', async (k, a) => {
    const now = k.clock.now();
    const t = await a.grant({
      to: f.to,
      resources: f.resources,
      ...(f.budget === undefined ? {} : {budget: parseTokenBudget(f.budget)}),
      ...windowOf(f, now),
      caveats: parseCaveats(f.caveats ?? []),
      via: 'cli',
    });
    return view(a, t.id);
  });
}

export interface AttenuateFlags {
  readonly parent: string;
  readonly to: string;
  readonly resources?: readonly string[];
  readonly budget?: string;
  readonly expires?: string;
  readonly notBefore?: string;
  readonly caveats?: readonly string[];
}

/** Attenuate a token into a child, signed by the key of the parent's holder (held in this home). */
export async function tokenAttenuate(home: string, f: AttenuateFlags): Promise<TokenView> {
  const id = parseTokenId(f.parent);
  return withAuthority(home, 'write', async (k, a) => {
    const parent = a.token(id);
    if (parent === undefined) throw new AstridError('TOKEN_NOT_FOUND', `no token ${id}`);
    const signer = principalKey(k.home, parent.subject);
    const now = k.clock.now();
    const t = await a.attenuate(signer, {
      parent: id,
      to: f.to,
      ...(f.resources === undefined || f.resources.length === 0 ? {} : {resources: f.resources}),
      ...(f.budget === undefined ? {} : {budget: parseTokenBudget(f.budget)}),
      ...windowOf(f, now),
      caveats: parseCaveats(f.caveats ?? []),
    });
    return view(a, t.id);
  });
}

/** Revoke a token and, with it, its descendants. */
export async function tokenRevoke(home: string, id: string, reason: string): Promise<{id: string; already: boolean; descendants: string[]}> {
  const tid = parseTokenId(id);
  return withAuthority(home, 'write', async (_k, a) => {
    const r = await a.revoke(tid, reason);
    return {id: tid, already: r.already, descendants: a.descendants(tid)};
  });
}

/** Tokens, optionally of one principal, with their status. */
export async function grantList(home: string, principal?: string): Promise<TokenView[]> {
  return withAuthority(home, 'read', async (_k, a) => a.tokensFor(principal).map((id) => view(a, id)));
}

/** One token, decoded, with its chain and status. */
export async function tokenShow(home: string, id: string): Promise<TokenView> {
  const tid = parseTokenId(id);
  return withAuthority(home, 'read', async (_k, a) => {
    if (!a.state.tokens.has(tid)) throw new AstridError('TOKEN_NOT_FOUND', `no token ${tid}`);
    return view(a, tid, true);
  });
}

export interface ApprovalView {
  readonly id: string;
  readonly status: string;
  readonly session: string;
  readonly principal: string;
  readonly capsule: string;
  readonly resource: string;
  readonly reason: string;
  readonly expires: string;
  readonly scope: string;
  readonly by: string;
  readonly token: string;
}

function approvalView(r: ApprovalRecord, now: number): ApprovalView {
  return {
    id: r.id,
    status: r.status === 'pending' && r.expires <= now ? 'expired' : r.status,
    session: r.session,
    principal: r.principal,
    capsule: r.capsule,
    resource: r.resource,
    reason: r.reason,
    expires: new Date(r.expires).toISOString(),
    scope: r.scope,
    by: r.by,
    token: r.token,
  };
}

/** Approvals: pending ones by default, or all. */
export async function approvalsList(home: string, all: boolean): Promise<ApprovalView[]> {
  return withAuthority(home, 'read', async (k, a) => {
    const now = k.clock.now();
    const s = approvalService(a);
    return (all ? s.all() : s.pending(now)).map((r) => approvalView(r, now));
  });
}

/** Answer an approval as the owner through the CLI uplink. */
export async function approvalAnswer(home: string, id: string, answer: 'approved' | 'denied', scope: 'once' | 'session' | 'always' | undefined, reason: string | undefined): Promise<ApprovalView> {
  return withAuthority(home, 'write', async (k, a) => {
    const s = approvalService(a);
    try {
      const r = await s.answer(id, {answer, by: 'owner', via: 'cli', ...(scope === undefined ? {} : {scope}), ...(reason === undefined ? {} : {reason})});
      return approvalView(r, k.clock.now());
    } finally {
      s.stop();
    }
  });
}
