/**
 * The operations behind `astrid principal`, `grant`, `grants`, `token`, `revoke`,
 * `approvals`, `approve` and `deny`, run against the runtime's authority (state rebuilt
 * from the ledger). Flags arrive as the strings the user typed and are parsed here, so a
 * daemon and a one-shot kernel give the same answers and the same errors.
 */
import {Type} from '@sinclair/typebox';
import {AstridError} from '../errors/index.js';
import {toHex} from '../crypto/index.js';
import {BUDGET_AXES, RESOURCE_TYPES, parseTokenId, tokenJson, tokenToText, type ApprovalRecord, type Authority, type Caveat, type TokenBudget} from '../capabilities/index.js';
import {createPrincipal, principalKey} from './authority.js';
import {defineOp, streamItems} from './op.js';

const Str = (max: number) => Type.String({maxLength: max});
const Strs = (n: number, max: number) => Type.Array(Str(max), {maxItems: n});
const closed = {additionalProperties: false} as const;
const NONE = Type.Object({}, closed);

export interface PrincipalView {
  readonly name: string;
  readonly role: string;
  readonly key: string;
  readonly seq: number;
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


export interface AttenuateFlags {
  readonly parent: string;
  readonly to: string;
  readonly resources?: readonly string[];
  readonly budget?: string;
  readonly expires?: string;
  readonly notBefore?: string;
  readonly caveats?: readonly string[];
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

const GrantArgs = Type.Object(
  {to: Str(128), resources: Strs(256, 4200), budget: Type.Optional(Str(1024)), expires: Type.Optional(Str(64)), notBefore: Type.Optional(Str(64)), caveats: Type.Optional(Strs(64, 4200))},
  closed,
);
const AttenuateArgs = Type.Object(
  {
    parent: Str(64),
    to: Str(128),
    resources: Type.Optional(Strs(256, 4200)),
    budget: Type.Optional(Str(1024)),
    expires: Type.Optional(Str(64)),
    notBefore: Type.Optional(Str(64)),
    caveats: Type.Optional(Strs(64, 4200)),
  },
  closed,
);

export const authorityOps = {
  /** Create a principal with a fresh key. */
  'principal.create': defineOp({
    mode: 'write',
    args: Type.Object({name: Str(128), role: Type.Union([Type.Literal('user'), Type.Literal('agent')])}, closed),
    async run(rt, {name, role}): Promise<PrincipalView> {
      const p = await createPrincipal(rt.k, await rt.authority(), name, role);
      return {name: p.name, role: p.role, key: toHex(p.key), seq: p.seq};
    },
  }),

  /** Every principal. */
  'principal.list': defineOp({
    mode: 'read',
    args: NONE,
    async run(rt): Promise<PrincipalView[]> {
      const a = await rt.authority();
      return [...a.state.principals.values()].sort((x, y) => x.seq - y.seq).map((p) => ({name: p.name, role: p.role, key: toHex(p.key), seq: p.seq}));
    },
  }),

  /** Issue a root grant signed by the owner key. */
  'grant.issue': defineOp({
    mode: 'write',
    args: GrantArgs,
    precheck(f) {
      if (f.budget !== undefined) parseTokenBudget(f.budget);
      parseCaveats(f.caveats ?? []);
    },
    async run(rt, f, io): Promise<TokenView> {
      const a = await rt.authority();
      const now = rt.k.clock.now();
      const t = await a.grant({
        to: f.to,
        resources: f.resources,
        ...(f.budget === undefined ? {} : {budget: parseTokenBudget(f.budget)}),
        ...windowOf(f, now),
        caveats: parseCaveats(f.caveats ?? []),
        via: io.via,
      });
      return view(a, t.id);
    },
  }),

  /** Attenuate a token into a child, signed by the key of the parent's holder (held in this home). */
  'token.attenuate': defineOp({
    mode: 'write',
    args: AttenuateArgs,
    async run(rt, f): Promise<TokenView> {
      const id = parseTokenId(f.parent);
      const a = await rt.authority();
      const parent = a.token(id);
      if (parent === undefined) throw new AstridError('TOKEN_NOT_FOUND', `no token ${id}`);
      const signer = principalKey(rt.k.home, parent.subject);
      const now = rt.k.clock.now();
      const t = await a.attenuate(signer, {
        parent: id,
        to: f.to,
        ...(f.resources === undefined || f.resources.length === 0 ? {} : {resources: f.resources}),
        ...(f.budget === undefined ? {} : {budget: parseTokenBudget(f.budget)}),
        ...windowOf(f, now),
        caveats: parseCaveats(f.caveats ?? []),
      });
      return view(a, t.id);
    },
  }),

  /** Revoke a token and, with it, its descendants. */
  'token.revoke': defineOp({
    mode: 'write',
    args: Type.Object({id: Str(64), reason: Str(1024)}, closed),
    async run(rt, {id, reason}): Promise<{id: string; already: boolean; descendants: string[]}> {
      const tid = parseTokenId(id);
      const a = await rt.authority();
      const r = await a.revoke(tid, reason);
      return {id: tid, already: r.already, descendants: a.descendants(tid)};
    },
  }),

  /** Tokens, optionally of one principal, with their status. */
  'grant.list': defineOp({
    mode: 'read',
    args: Type.Object({principal: Type.Optional(Str(128))}, closed),
    async run(rt, {principal}, io): Promise<{count: number}> {
      const a = await rt.authority();
      return streamItems(io, (function* () {
        for (const id of a.tokensFor(principal)) yield view(a, id);
      })());
    },
  }),

  /** One token, decoded, with its chain and status. */
  'token.show': defineOp({
    mode: 'read',
    args: Type.Object({id: Str(64)}, closed),
    async run(rt, {id}): Promise<TokenView> {
      const tid = parseTokenId(id);
      const a = await rt.authority();
      if (!a.state.tokens.has(tid)) throw new AstridError('TOKEN_NOT_FOUND', `no token ${tid}`);
      return view(a, tid, true);
    },
  }),

  /** Approvals: pending ones by default, or all. */
  'approval.list': defineOp({
    mode: 'read',
    args: Type.Object({all: Type.Boolean()}, closed),
    async run(rt, {all}, io): Promise<{count: number}> {
      const now = rt.k.clock.now();
      const s = await rt.approvals();
      return streamItems(io, (all ? s.all() : s.pending(now)).map((r) => approvalView(r, now)));
    },
  }),

  /** Answer an approval as the owner through the caller's uplink. */
  'approval.answer': defineOp({
    mode: 'write',
    args: Type.Object(
      {
        id: Str(64),
        answer: Type.Union([Type.Literal('approved'), Type.Literal('denied')]),
        scope: Type.Optional(Type.Union([Type.Literal('once'), Type.Literal('session'), Type.Literal('always')])),
        reason: Type.Optional(Str(1024)),
      },
      closed,
    ),
    async run(rt, {id, answer, scope, reason}, io): Promise<ApprovalView> {
      const s = await rt.approvals();
      const r = await s.answer(id, {answer, by: 'owner', via: io.via, ...(scope === undefined ? {} : {scope}), ...(reason === undefined ? {} : {reason})});
      return approvalView(r, rt.k.clock.now());
    },
  }),
};
