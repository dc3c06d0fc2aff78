/**
 * The authority state is a projection of the ledger (law 3): principals and their keys,
 * issued tokens (exact signed bytes), revocations, use counts, budget spent per token and
 * per session, and approval requests with their answers. Nothing here is trusted for
 * being in the ledger alone: tokens are parsed and their chains verified when used
 * (authority.ts); the fold only records what happened.
 */
import {packMsgpack, unpackMsgpack, type Projection, type StoredEntry} from '../ledger/index.js';

export interface PrincipalRecord {
  readonly name: string;
  readonly role: 'owner' | 'user' | 'agent';
  readonly key: Uint8Array;
  readonly seq: number;
}
export interface TokenRecord {
  readonly id: string;
  readonly token: Uint8Array;
  readonly sig: Uint8Array;
  readonly subject: string;
  readonly parent: string;
  readonly via: string;
  readonly seq: number;
}
export interface Spent {
  fuel: number;
  wall_ms: number;
  messages: number;
  egress_bytes: number;
}
export type ApprovalStatus = 'pending' | 'approved' | 'denied' | 'expired';
export interface ApprovalRecord {
  readonly id: string;
  readonly session: string;
  readonly principal: string;
  readonly capsule: string;
  readonly hash: string;
  readonly resource: string;
  readonly reason: string;
  readonly expires: number;
  readonly seq: number;
  status: ApprovalStatus;
  scope: '' | 'once' | 'session' | 'always';
  by: string;
  via: string;
  answerReason: string;
  token: string;
  used: boolean;
}

export interface AuthorityState {
  readonly principals: Map<string, PrincipalRecord>;
  readonly tokens: Map<string, TokenRecord>;
  readonly revoked: Map<string, {readonly seq: number; readonly reason: string}>;
  readonly uses: Map<string, number>;
  /** Keys: token ids, and `session:<id>` for sessions. */
  readonly spent: Map<string, Spent>;
  readonly approvals: Map<string, ApprovalRecord>;
}

export function emptyAuthorityState(): AuthorityState {
  return {principals: new Map(), tokens: new Map(), revoked: new Map(), uses: new Map(), spent: new Map(), approvals: new Map()};
}

function spentOf(s: AuthorityState, key: string): Spent {
  let x = s.spent.get(key);
  if (x === undefined) {
    x = {fuel: 0, wall_ms: 0, messages: 0, egress_bytes: 0};
    s.spent.set(key, x);
  }
  return x;
}

/** Fold one entry into the state (mutating). Pure in its inputs: no clock, no randomness. */
export function applyAuthority(s: AuthorityState, e: StoredEntry): AuthorityState {
  const en = e.entry;
  switch (en.kind) {
    case 'principal.created':
      if (!s.principals.has(en.body.name)) s.principals.set(en.body.name, {name: en.body.name, role: en.body.role, key: en.body.key, seq: e.seq});
      return s;
    case 'grant.issued': {
      const b = en.body;
      if (!s.tokens.has(b.id)) s.tokens.set(b.id, {id: b.id, token: b.token, sig: b.sig, subject: b.subject, parent: b.parent, via: b.via, seq: e.seq});
      return s;
    }
    case 'grant.revoked':
      if (!s.revoked.has(en.body.id)) s.revoked.set(en.body.id, {seq: e.seq, reason: en.body.reason});
      return s;
    case 'grant.used':
      for (const id of new Set([en.body.id, ...en.body.chain])) s.uses.set(id, (s.uses.get(id) ?? 0) + 1);
      return s;
    case 'budget.charged': {
      const b = en.body;
      for (const key of new Set([`session:${en.session}`, ...b.tokens])) {
        const x = spentOf(s, key);
        x.fuel += b.fuel;
        x.wall_ms += b.wall_ms;
        x.messages += b.messages;
        x.egress_bytes += b.egress_bytes;
      }
      return s;
    }
    case 'approval.requested': {
      const b = en.body;
      if (!s.approvals.has(b.id)) {
        s.approvals.set(b.id, {
          id: b.id,
          session: en.session,
          principal: en.principal,
          capsule: b.capsule,
          hash: b.hash,
          resource: b.resource,
          reason: b.reason,
          expires: b.expires,
          seq: e.seq,
          status: 'pending',
          scope: '',
          by: '',
          via: '',
          answerReason: '',
          token: '',
          used: false,
        });
      }
      return s;
    }
    case 'approval.answered': {
      const a = s.approvals.get(en.body.id);
      if (a === undefined || a.status !== 'pending') return s; // first answer wins
      const b = en.body;
      a.status = b.answer;
      a.scope = b.answer === 'approved' ? (b.scope as ApprovalRecord['scope']) : '';
      a.by = b.by;
      a.via = b.via;
      a.answerReason = b.reason;
      a.token = b.token;
      return s;
    }
    case 'approval.used': {
      const a = s.approvals.get(en.body.id);
      if (a !== undefined) a.used = true;
      return s;
    }
    default:
      return s;
  }
}


function sorted<V>(m: Map<string, V>): Array<[string, V]> {
  return [...m.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}

function mapOf<V>(u: unknown, what: string): Map<string, V> {
  if (!Array.isArray(u)) throw new TypeError(`malformed authority state (${what})`);
  const m = new Map<string, V>();
  for (const pair of u) {
    if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== 'string' || typeof pair[1] !== 'object' || pair[1] === null) {
      throw new TypeError(`malformed authority state (${what})`);
    }
    m.set(pair[0], pair[1] as V);
  }
  return m;
}

/** The authority projection (canonical encoding: every map sorted by key). */
export const authorityProjection: Projection<AuthorityState> = {
  name: 'capabilities.authority',
  version: 1,
  kinds: new Set(['principal.created', 'grant.issued', 'grant.revoked', 'grant.used', 'budget.charged', 'approval.requested', 'approval.answered', 'approval.used'] as const),
  initial: emptyAuthorityState,
  apply: applyAuthority,
  encode: (s) =>
    packMsgpack([
      sorted(s.principals),
      sorted(s.tokens),
      sorted(s.revoked),
      sorted(s.uses).map(([k, v]) => [k, {n: v}]),
      sorted(s.spent),
      sorted(s.approvals),
    ]),
  decode: (bytes) => {
    const u = unpackMsgpack(bytes) as unknown;
    if (!Array.isArray(u) || u.length !== 6) throw new TypeError('malformed authority state');
    const uses = new Map<string, number>();
    for (const [k, v] of mapOf<{n: number}>(u[3], 'uses')) uses.set(k, v.n);
    return {
      principals: mapOf(u[0], 'principals'),
      tokens: mapOf(u[1], 'tokens'),
      revoked: mapOf(u[2], 'revoked'),
      uses,
      spent: mapOf(u[4], 'spent'),
      approvals: mapOf(u[5], 'approvals'),
    };
  },
};
