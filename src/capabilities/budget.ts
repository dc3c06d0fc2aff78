/**
 * Budgets per session and per token. What is spent is a projection (budget.charged
 * entries); what is reserved but not yet charged lives here. A reservation checks every
 * scope it draws on (the session, the authorising token and all its ancestors, so a
 * child's spending is carved out of its parent's) and takes from all of them at once,
 * synchronously: concurrent reservations cannot overspend. A reservation is settled
 * (charged, recorded) or released (refunded). One book per kernel: reservations of
 * concurrent sessions on a shared token see each other.
 */
import type {Authority, Attribution} from './authority.js';
import type {Spent} from './state.js';
import type {Token, TokenBudget} from './token.js';

export type ChargeAxis = keyof Spent;

/** A scope a reservation draws on: the session (`session:<id>`) or a token. */
export interface BudgetScope {
  readonly key: string;
  readonly limits: TokenBudget;
}

export interface Reservation {
  readonly axis: ChargeAxis;
  readonly amount: number;
  readonly scopes: readonly BudgetScope[];
  /** Charge `used` (at most the amount reserved) and refund the rest. @throws RangeError when `used` is not a non-negative safe integer. */
  settle(used?: number): void;
  /** Refund everything. */
  release(): void;
}

export type ReserveResult =
  | {readonly ok: true; readonly reservation: Reservation}
  | {readonly ok: false; readonly scope: string; readonly axis: ChargeAxis; readonly limit: number; readonly remaining: number; readonly wanted: number};

export class BudgetBook {
  readonly #authority: Authority;
  readonly #pending = new Map<string, Spent>();
  /** Settled charges not yet recorded, grouped by the token list they are charged to. */
  readonly #unrecorded = new Map<string, Spent & {tokens: string[]; session: string}>();

  constructor(authority: Authority) {
    this.#authority = authority;
  }

  /** Budget still available to `scope` on `axis` (Infinity when unbounded). */
  remaining(scope: BudgetScope, axis: ChargeAxis): number {
    const limit = scope.limits[axis];
    if (limit === undefined) return Infinity;
    const spent = this.#authority.state.spent.get(scope.key)?.[axis] ?? 0;
    const pend = this.#pending.get(scope.key)?.[axis] ?? 0;
    const unrec = [...this.#unrecorded.values()].reduce((n, u) => n + (u.session === scope.key || u.tokens.includes(scope.key) ? u[axis] : 0), 0);
    return Math.max(0, limit - spent - pend - unrec);
  }

  /**
   * Reserve `amount` on `axis` from every scope, or nothing. With `upTo`, reserve as much of
   * `amount` as every scope allows (at least 1), e.g. the fuel for one activation.
   * @throws RangeError when `amount` is not a non-negative safe integer.
   */
  reserve(scopes: readonly BudgetScope[], axis: ChargeAxis, amount: number, upTo = false): ReserveResult {
    if (!Number.isSafeInteger(amount) || amount < 0) throw new RangeError(`amount must be a non-negative safe integer, not ${amount}`);
    let grant = amount;
    for (const s of scopes) {
      const r = this.remaining(s, axis);
      if (r < amount && !(upTo && r >= 1)) return {ok: false, scope: s.key, axis, limit: s.limits[axis] ?? 0, remaining: r, wanted: amount};
      grant = Math.min(grant, r);
    }
    for (const s of scopes) this.#add(this.#pending, s.key, axis, grant);
    let open = true;
    const tokens = scopes.filter((s) => !s.key.startsWith('session:')).map((s) => s.key);
    const session = scopes.find((s) => s.key.startsWith('session:'))?.key ?? '';
    const reservation: Reservation = {
      axis,
      amount: grant,
      scopes,
      settle: (used = grant) => {
        if (!Number.isSafeInteger(used) || used < 0) throw new RangeError(`used must be a non-negative safe integer, not ${used}`);
        if (!open) return;
        open = false;
        for (const s of scopes) this.#add(this.#pending, s.key, axis, -grant);
        const charged = Math.max(0, Math.min(used, grant));
        const k = session + '|' + tokens.join(',');
        const u = this.#unrecorded.get(k) ?? {tokens, session, fuel: 0, wall_ms: 0, messages: 0, egress_bytes: 0};
        u[axis] += charged;
        this.#unrecorded.set(k, u);
      },
      release: () => {
        if (!open) return;
        open = false;
        for (const s of scopes) this.#add(this.#pending, s.key, axis, -grant);
      },
    };
    return {ok: true, reservation};
  }

  /**
   * Charge `amount` on `axis` at once when no scope limits that axis (an unlimited token in an
   * unlimited session: nothing to reserve against, only spending to record). Returns false,
   * charging nothing, when some scope has a limit: use reserve() then.
   */
  chargeUnlimited(scopes: readonly BudgetScope[], axis: ChargeAxis, amount: number): boolean {
    for (const s of scopes) if (s.limits[axis] !== undefined) return false;
    let g = this.#groups.get(scopes);
    if (g === undefined) {
      const tokens = scopes.filter((s) => !s.key.startsWith('session:')).map((s) => s.key);
      const session = scopes.find((s) => s.key.startsWith('session:'))?.key ?? '';
      g = {key: session + '|' + tokens.join(','), tokens, session};
      this.#groups.set(scopes, g);
    }
    let u = this.#unrecorded.get(g.key);
    if (u === undefined) {
      u = {tokens: g.tokens, session: g.session, fuel: 0, wall_ms: 0, messages: 0, egress_bytes: 0};
      this.#unrecorded.set(g.key, u);
    }
    u[axis] += amount;
    return true;
  }

  /** Per scope list (kept by a caller, e.g. the gate's fast path): its unrecorded-charges key. */
  readonly #groups = new WeakMap<readonly BudgetScope[], {key: string; tokens: string[]; session: string}>();

  #add(m: Map<string, Spent>, key: string, axis: ChargeAxis, n: number): void {
    let x = m.get(key);
    if (x === undefined) {
      x = {fuel: 0, wall_ms: 0, messages: 0, egress_bytes: 0};
      m.set(key, x);
    }
    x[axis] += n;
  }

  /** Record a session's settled charges as budget.charged entries (one per token set). */
  flush(by: Attribution): void {
    for (const [k, u] of this.#unrecorded) {
      if (u.session !== `session:${by.session}`) continue;
      this.#unrecorded.delete(k);
      if (u.fuel + u.wall_ms + u.messages + u.egress_bytes === 0) continue;
      this.#authority.record({kind: 'budget.charged', body: {tokens: u.tokens, fuel: u.fuel, wall_ms: u.wall_ms, messages: u.messages, egress_bytes: u.egress_bytes}, ...by});
    }
  }
}

/** How a scope key reads in a ledger entry: `session` for the session's own, else the token id. */
export function scopeName(key: string, session: string): string {
  return key === `session:${session}` ? 'session' : key;
}

/** The budget scopes of a verified chain (leaf first), plus the session's. */
export function chainScopes(session: string, sessionLimits: TokenBudget, chain: readonly Token[]): BudgetScope[] {
  return [{key: `session:${session}`, limits: sessionLimits}, ...chain.map((t) => ({key: t.id, limits: t.budget}))];
}
