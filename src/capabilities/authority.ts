/**
 * The authority: principals, tokens, delegation, revocation, uses and budgets over the
 * ledger. It keeps the authority projection current by folding in each entry it appends
 * (synchronously, at enqueue), so checks and consumption are atomic: JavaScript runs one
 * check-and-record at a time, and the record is in the state before the next check.
 *
 * Owner tokens are signed with the owner's root key; a principal attenuates a token it
 * holds with its own key. Tokens are parsed once (signature checked) and cached by id;
 * chains are verified by a memoising ChainVerifier; dynamic status (revoked anywhere up
 * the chain, outside its window, uses spent) is checked on every use.
 */
import {toHex, type Blake3, type SigningKey} from '../crypto/index.js';
import {AstridError} from '../errors/index.js';
import type {AppendInput, Clock, EntryKind, Ledger, StoredEntry} from '../ledger/index.js';
import {attenuationProblem, ChainVerifier, MAX_CHAIN_DEPTH, type ChainVerdict} from './chain.js';
import {resourceAllows, type ResourceType} from './resource.js';
import {applyAuthority, type AuthorityState, type PrincipalRecord} from './state.js';
import {parseToken, parseTokenAsync, PRINCIPAL_RE, signToken, type Caveat, type Token, type TokenBudget, type TokenId} from './token.js';

export type TokenStatus = 'active' | 'revoked' | 'expired' | 'not-yet-valid' | 'used-up' | 'invalid';

export interface TokenReport {
  readonly token: Token | undefined;
  readonly status: TokenStatus;
  readonly reason: string;
  /** Leaf first, root last (when the chain verified). */
  readonly chain: readonly Token[];
}

export interface AttenuateOptions {
  readonly parent: TokenId;
  readonly to: string;
  /** Default: the parent's resources. */
  readonly resources?: readonly string[];
  /** Axes given replace the parent's; axes not given are inherited. */
  readonly budget?: TokenBudget;
  readonly nbf?: number;
  /** Default: the parent's expiry. */
  readonly exp?: number | null;
  /** Added to the parent's caveats. */
  readonly caveats?: readonly Caveat[];
}

export interface GrantOptions {
  readonly to: string;
  readonly resources: readonly string[];
  readonly budget?: TokenBudget;
  readonly nbf?: number;
  readonly exp?: number | null;
  readonly caveats?: readonly Caveat[];
  readonly via?: string;
}

/** Who the authority's own entries are attributed to. */
export interface Attribution {
  readonly session: string;
  readonly principal: string;
  readonly actor: string;
}

/** Kinds the authority projection folds (others, e.g. gate.allowed, need no state update). */
const FOLDED: ReadonlySet<EntryKind> = new Set<EntryKind>(['principal.created', 'grant.issued', 'grant.revoked', 'grant.used', 'budget.charged', 'approval.requested', 'approval.answered', 'approval.used']);
const NO_BYTES = new Uint8Array(0);

const KERNEL: Attribution = {session: 'kernel', principal: 'owner', actor: 'kernel'};

export interface AuthorityOptions {
  readonly ledger: Ledger;
  readonly blake3: Blake3;
  readonly clock: Clock;
  readonly random: (n: number) => Uint8Array;
  /** The owner's root key (signs root grants; the trusted root of every chain). */
  readonly owner: SigningKey;
  readonly state: AuthorityState;
}

export class Authority {
  readonly #o: AuthorityOptions;
  readonly #state: AuthorityState;
  readonly #parsed = new Map<string, Token | AstridError>();
  readonly verifier: ChainVerifier;

  constructor(o: AuthorityOptions) {
    this.#o = o;
    this.#state = o.state;
    this.verifier = new ChainVerifier([o.owner.publicKey]);
  }

  get state(): AuthorityState {
    return this.#state;
  }

  get clock(): Clock {
    return this.#o.clock;
  }

  get ledger(): Ledger {
    return this.#o.ledger;
  }

  /**
   * Append an entry and fold it into the state before returning (so the next check sees it).
   * @throws AstridError LEDGER_* when the ledger refuses (the caller must then deny).
   */
  record<K extends EntryKind>(input: AppendInput<K>): ReturnType<Ledger['enqueue']> {
    const a = this.#o.ledger.enqueue(input);
    if (FOLDED.has(input.kind)) {
      const e = {seq: a.seq, hash: a.hash, bytes: NO_BYTES, entry: {...input, v: 1, seq: a.seq, prev: NO_BYTES, time: 0}} as unknown as StoredEntry;
      applyAuthority(this.#state, e);
    }
    return a;
  }

  /** Make sure the owner principal exists with the owner key. */
  async ensureOwner(): Promise<void> {
    const p = this.#state.principals.get('owner');
    if (p === undefined) {
      await this.record({kind: 'principal.created', body: {name: 'owner', role: 'owner', key: this.#o.owner.publicKey}, ...KERNEL}).durable;
    } else if (toHex(p.key) !== toHex(this.#o.owner.publicKey)) {
      throw new AstridError('KEY_INVALID', 'the ledger records a different owner key than keys/owner.key holds');
    }
  }

  principal(name: string): PrincipalRecord | undefined {
    return this.#state.principals.get(name);
  }

  /**
   * Register a principal with its public key.
   * @throws AstridError INPUT_INVALID (bad name), PRINCIPAL_EXISTS.
   */
  async createPrincipal(name: string, role: 'user' | 'agent', key: Uint8Array, by: Attribution = KERNEL): Promise<PrincipalRecord> {
    if (!PRINCIPAL_RE.test(name)) throw new AstridError('INPUT_INVALID', `principal name must match ${PRINCIPAL_RE.source}`);
    if (this.#state.principals.has(name)) throw new AstridError('PRINCIPAL_EXISTS', `principal ${name} already exists`);
    await this.record({kind: 'principal.created', body: {name, role, key}, ...by}).durable;
    return this.#state.principals.get(name) as PrincipalRecord;
  }

  #principalOrThrow(name: string): PrincipalRecord {
    const p = this.#state.principals.get(name);
    if (p === undefined) throw new AstridError('PRINCIPAL_NOT_FOUND', `no principal named ${JSON.stringify(name.slice(0, 64))} (astrid principal create <name>)`);
    return p;
  }

  /** The parsed token for `id` (signature checked), or undefined when unknown or malformed. */
  token(id: TokenId | string): Token | undefined {
    const t = this.#tokenOrError(id);
    return t instanceof AstridError ? undefined : t;
  }

  #tokenOrError(id: string): Token | AstridError | undefined {
    const hit = this.#parsed.get(id);
    if (hit !== undefined) return hit;
    const r = this.#state.tokens.get(id);
    if (r === undefined) return undefined;
    let t: Token | AstridError;
    try {
      t = parseToken(this.#o.blake3, r.token, r.sig);
      if (t.id !== id) t = new AstridError('TOKEN_INVALID', `ledger entry names ${id} but the token's id is ${t.id}`);
    } catch (e) {
      t = e instanceof AstridError ? e : new AstridError('TOKEN_INVALID', String(e));
    }
    this.#parsed.set(id, t);
    return t;
  }

  /** Issue a root grant signed by the owner. @throws AstridError PRINCIPAL_NOT_FOUND, TOKEN_INVALID. */
  async grant(o: GrantOptions, by: Attribution = KERNEL): Promise<Token> {
    const t = this.mint(o);
    await this.issue(t, o.via ?? 'cli', by);
    return t;
  }

  /** Sign a root grant without recording it yet (record it with issue()). @throws AstridError PRINCIPAL_NOT_FOUND, TOKEN_INVALID. */
  mint(o: GrantOptions): Token {
    const subject = this.#principalOrThrow(o.to);
    return signToken(this.#o.blake3, this.#o.owner, {
      subject: o.to,
      subjectKey: subject.key,
      resources: o.resources,
      budget: o.budget ?? {},
      nbf: o.nbf ?? this.#o.clock.now(),
      exp: o.exp ?? null,
      caveats: o.caveats ?? [],
      parent: null,
      nonce: this.#o.random(16),
    });
  }

  /**
   * Attenuate a token held by the signer into a child for another principal.
   * @throws AstridError TOKEN_NOT_FOUND, TOKEN_REVOKED/..., TOKEN_WIDENED (naming the axis),
   *   PRINCIPAL_NOT_FOUND, TOKEN_NOT_HOLDER when `signer` does not hold the parent.
   */
  async attenuate(signer: SigningKey, o: AttenuateOptions, by: Attribution = KERNEL): Promise<Token> {
    const rep = this.report(o.parent);
    const parent = rep.token;
    if (parent === undefined) throw new AstridError('TOKEN_NOT_FOUND', `no token ${o.parent}`);
    if (rep.status !== 'active') throw new AstridError('TOKEN_NOT_ACTIVE', `${o.parent} is ${rep.status}: ${rep.reason}`, {details: {status: rep.status}});
    if (toHex(signer.publicKey) !== toHex(parent.subjectKey)) {
      throw new AstridError('TOKEN_NOT_HOLDER', `only ${parent.subject}, the holder of ${parent.id}, can attenuate it`);
    }
    const subject = this.#principalOrThrow(o.to);
    const budget: Record<string, number> = {...parent.budget};
    for (const [k, v] of Object.entries(o.budget ?? {})) if (v !== undefined) budget[k] = v;
    const t = signToken(this.#o.blake3, signer, {
      subject: o.to,
      subjectKey: subject.key,
      resources: o.resources ?? parent.resources.map((r) => r.text),
      budget,
      nbf: o.nbf ?? Math.max(parent.nbf, this.#o.clock.now()),
      exp: o.exp === undefined ? parent.exp : o.exp,
      caveats: [...parent.caveats, ...(o.caveats ?? [])],
      parent: parent.id,
      nonce: this.#o.random(16),
    });
    const p = attenuationProblem(parent, t);
    if (p !== null) throw new AstridError('TOKEN_WIDENED', `refused: the child would widen ${parent.id} on ${p.axis}: ${p.reason}`, {details: {axis: p.axis}});
    await this.issue(t, 'attenuate', by);
    return t;
  }

  /**
   * Record a signed token as issued. Its chain must verify to the root first.
   * @throws AstridError TOKEN_CHAIN_BROKEN, TOKEN_UNTRUSTED_ROOT, TOKEN_WIDENED, TOKEN_CHAIN_TOO_DEEP, LEDGER_*.
   */
  async issue(t: Token, via: string, by: Attribution): Promise<void> {
    const subject = this.#state.principals.get(t.subject);
    if (subject === undefined) throw new AstridError('PRINCIPAL_NOT_FOUND', `no principal named ${t.subject}`);
    if (toHex(subject.key) !== toHex(t.subjectKey)) throw new AstridError('TOKEN_INVALID', `the token binds ${t.subject} to a key that is not the one registered for ${t.subject}`);
    this.#parsed.set(t.id, t);
    const v = this.verifier.verify(t, this);
    if (!v.ok) {
      this.#parsed.delete(t.id);
      throw new AstridError(v.code, v.reason, {details: {axis: v.axis ?? null}});
    }
    await this.record({kind: 'grant.issued', body: {id: t.id, token: t.bytes, sig: t.sig, subject: t.subject, parent: t.parent ?? '', via}, ...by}).durable;
  }

  /**
   * Revoke a token (and so every descendant).
   * @throws AstridError TOKEN_NOT_FOUND.
   */
  async revoke(id: string, reason: string, by: Attribution = KERNEL): Promise<{already: boolean}> {
    if (!this.#state.tokens.has(id)) throw new AstridError('TOKEN_NOT_FOUND', `no token ${id.slice(0, 64)}`);
    if (this.#state.revoked.has(id)) return {already: true};
    await this.record({kind: 'grant.revoked', body: {id: id as TokenId, reason: reason.slice(0, 1024)}, ...by}).durable;
    return {already: false};
  }

  /** Static chain verdict (memoised by token hash). */
  verify(t: Token): ChainVerdict {
    return this.verifier.verify(t, this);
  }

  /**
   * report(), after parsing the token and its ancestors with their signatures checked in
   * parallel on the thread pool (a first verification of a deep chain then costs about one
   * signature's time per core, not one per link).
   */
  async reportAsync(id: string, now?: number): Promise<TokenReport> {
    const todo: string[] = [];
    let cur: string | undefined = id;
    for (let i = 0; cur !== undefined && cur !== '' && i <= MAX_CHAIN_DEPTH + 1; i++) {
      const r = this.#state.tokens.get(cur);
      if (r === undefined) break;
      if (!this.#parsed.has(cur)) todo.push(cur);
      cur = r.parent;
    }
    await Promise.all(
      todo.map(async (tid) => {
        const r = this.#state.tokens.get(tid) as {token: Uint8Array; sig: Uint8Array};
        let t: Token | AstridError;
        try {
          t = await parseTokenAsync(this.#o.blake3, r.token, r.sig);
          if (t.id !== tid) t = new AstridError('TOKEN_INVALID', `ledger entry names ${tid} but the token's id is ${t.id}`);
        } catch (e) {
          t = e instanceof AstridError ? e : new AstridError('TOKEN_INVALID', String(e));
        }
        if (!this.#parsed.has(tid)) this.#parsed.set(tid, t);
      }),
    );
    return this.report(id, now);
  }

  /** Full status of a token at `now`: chain, revocation up the chain, window, uses. */
  report(id: string, now = this.#o.clock.now()): TokenReport {
    const t = this.#tokenOrError(id);
    if (t === undefined) return {token: undefined, status: 'invalid', reason: 'unknown token', chain: []};
    if (t instanceof AstridError) return {token: undefined, status: 'invalid', reason: t.message, chain: []};
    const v = this.verify(t);
    if (!v.ok) return {token: t, status: 'invalid', reason: `${v.code}: ${v.reason}`, chain: []};
    const d = this.dynamicProblem(v.chain, now);
    if (d !== null) return {token: t, status: d.status, reason: d.reason, chain: v.chain};
    return {token: t, status: 'active', reason: '', chain: v.chain};
  }

  /** What, if anything, makes a verified chain unusable right now. */
  dynamicProblem(chain: readonly Token[], now: number, o: {readonly ignoreUses?: boolean} = {}): {status: TokenStatus; reason: string} | null {
    for (const t of chain) {
      if (this.#state.revoked.has(t.id)) return {status: 'revoked', reason: t === chain[0] ? `${t.id} was revoked` : `its ancestor ${t.id} was revoked`};
      if (now < t.nbf) return {status: 'not-yet-valid', reason: `${t.id} is not valid before ${new Date(t.nbf).toISOString()}`};
      if (t.exp !== null && now >= t.exp) return {status: 'expired', reason: `${t.id} expired at ${new Date(t.exp).toISOString()}`};
      const limit = o.ignoreUses === true ? undefined : useLimit(t);
      if (limit !== undefined && (this.#state.uses.get(t.id) ?? 0) >= limit) return {status: 'used-up', reason: `${t.id} has been used ${limit} time(s), its limit`};
    }
    return null;
  }

  /** Does any use limit apply anywhere on the chain? */
  chainHasUseLimit(chain: readonly Token[]): boolean {
    return chain.some((t) => useLimit(t) !== undefined);
  }

  /** Descendants of a token (children, grandchildren, ...), from the ledger's records. */
  descendants(id: string): string[] {
    const out: string[] = [];
    const queue = [id];
    while (queue.length > 0) {
      const p = queue.shift() as string;
      for (const r of this.#state.tokens.values()) {
        if (r.parent === p) {
          out.push(r.id);
          queue.push(r.id);
        }
      }
    }
    return out;
  }

  /** Tokens whose subject is `principal` (any status). */
  tokensFor(principal: string | undefined): string[] {
    return [...this.#state.tokens.values()].filter((r) => principal === undefined || r.subject === principal).sort((a, b) => a.seq - b.seq).map((r) => r.id);
  }

  /** Does token `t` (ignoring dynamic status) allow `type:value`, caveats included? */
  static allows(t: Token, type: ResourceType, value: string, capsuleHash: string): boolean {
    if (!t.resources.some((r) => resourceAllows(r, type, value))) return false;
    for (const c of t.caveats) {
      if (c.type === 'capsule' && c.hash !== capsuleHash) return false;
      if (c.type === 'allow' && c.resource === type && !c.values.includes(value)) return false;
    }
    return true;
  }
}

/** The tightest use limit a token carries itself, if any. */
export function useLimit(t: Token): number | undefined {
  let n: number | undefined;
  for (const c of t.caveats) {
    if (c.type === 'single_use') n = Math.min(n ?? 1, 1);
    if (c.type === 'max_uses') n = Math.min(n ?? c.n, c.n);
  }
  return n;
}
