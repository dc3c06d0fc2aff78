/**
 * Delegation chains: a token is valid only if it walks back, link by link, to a token
 * signed by a trusted root key, and every link is a subset of its parent on every axis
 * (resources, budget, time window, caveats). The static part (signatures, subsets, roots)
 * never changes for a given token, so its verdict is memoised by token hash; what changes
 * (revocation, expiry, uses, budget) is checked on every use by the caller.
 */
import {bytesEqual, toHex} from '../crypto/index.js';
import {resourceCovers} from './resource.js';
import {BUDGET_AXES, type Caveat, type Token, type TokenId} from './token.js';

/** Most delegations below a root grant (a chain holds at most this many tokens plus the root). */
export const MAX_CHAIN_DEPTH = 16;

export type AttenuationAxis = 'resources' | 'budget' | 'not_before' | 'expiry' | 'caveats' | 'issuer';

/** Why a child is not a subset of its parent, or null when it is. */
export function attenuationProblem(parent: Token, child: Token): {axis: AttenuationAxis; reason: string} | null {
  if (!bytesEqual(child.issuer, parent.subjectKey)) {
    return {axis: 'issuer', reason: `the child is not signed by the key of ${parent.subject}, the parent's holder`};
  }
  for (const r of child.resources) {
    if (!parent.resources.some((p) => resourceCovers(p, r))) return {axis: 'resources', reason: `${r.text} is not inside any resource of the parent`};
  }
  for (const a of BUDGET_AXES) {
    const p = parent.budget[a];
    if (p === undefined) continue;
    const c = child.budget[a];
    if (c === undefined) return {axis: 'budget', reason: `the parent bounds ${a} at ${p}; the child leaves it unbounded`};
    if (c > p) return {axis: 'budget', reason: `${a} ${c} is more than the parent's ${p}`};
  }
  if (child.nbf < parent.nbf) return {axis: 'not_before', reason: `not-before ${new Date(child.nbf).toISOString()} is earlier than the parent's ${new Date(parent.nbf).toISOString()}`};
  if (parent.exp !== null) {
    if (child.exp === null) return {axis: 'expiry', reason: `the parent expires at ${new Date(parent.exp).toISOString()}; the child never does`};
    if (child.exp > parent.exp) return {axis: 'expiry', reason: `expiry ${new Date(child.exp).toISOString()} is later than the parent's ${new Date(parent.exp).toISOString()}`};
  }
  for (const c of parent.caveats) {
    if (!child.caveats.some((x) => implies(x, c))) return {axis: 'caveats', reason: `the parent's caveat ${JSON.stringify(c)} is missing or loosened`};
  }
  return null;
}

/** Does caveat `x` (on a child) enforce at least what `c` (on the parent) does? */
function implies(x: Caveat, c: Caveat): boolean {
  switch (c.type) {
    case 'capsule':
      return x.type === 'capsule' && x.hash === c.hash;
    case 'single_use':
      return x.type === 'single_use';
    case 'max_uses':
      return x.type === 'single_use' || (x.type === 'max_uses' && x.n <= c.n);
    case 'allow':
      return x.type === 'allow' && x.resource === c.resource && x.values.every((v) => c.values.includes(v));
  }
}

export type ChainProblemCode = 'TOKEN_CHAIN_BROKEN' | 'TOKEN_UNTRUSTED_ROOT' | 'TOKEN_WIDENED' | 'TOKEN_CHAIN_TOO_DEEP';

export type ChainVerdict =
  | {readonly ok: true; readonly chain: readonly Token[]}
  | {readonly ok: false; readonly code: ChainProblemCode; readonly at: TokenId; readonly axis?: AttenuationAxis; readonly reason: string};

/** Where the verifier finds a token's ancestors. */
export interface TokenLookup {
  token(id: TokenId): Token | undefined;
}

/**
 * Verifies chains to a fixed set of trusted root keys, memoising verdicts by token hash.
 * Tokens handed to it are already parsed (their own signatures checked by parseToken).
 */
export class ChainVerifier {
  readonly #roots: ReadonlySet<string>;
  readonly #memo = new Map<string, ChainVerdict>();
  /** Verifications that were not memo hits (for benchmarks and tests). */
  misses = 0;

  constructor(roots: readonly Uint8Array[]) {
    this.#roots = new Set(roots.map(toHex));
  }

  /** Is `key` a trusted root? */
  isRoot(key: Uint8Array): boolean {
    return this.#roots.has(toHex(key));
  }

  /** The verdict for `t`: its chain, leaf first, or the first problem found. */
  verify(t: Token, lookup: TokenLookup): ChainVerdict {
    const hit = this.#memo.get(t.hash);
    if (hit !== undefined) return hit;
    this.misses++;
    const v = this.#walk(t, lookup);
    if (this.#memo.size >= 65_536) this.#memo.clear();
    // A broken chain may heal (its parent not yet known): only memoise what cannot change.
    if (v.ok || v.code !== 'TOKEN_CHAIN_BROKEN') this.#memo.set(t.hash, v);
    return v;
  }

  #walk(leaf: Token, lookup: TokenLookup): ChainVerdict {
    const chain: Token[] = [leaf];
    let t = leaf;
    while (t.parent !== null) {
      if (chain.length > MAX_CHAIN_DEPTH) return {ok: false, code: 'TOKEN_CHAIN_TOO_DEEP', at: leaf.id, reason: `delegation deeper than ${MAX_CHAIN_DEPTH}`};
      const parent = lookup.token(t.parent);
      if (parent === undefined) return {ok: false, code: 'TOKEN_CHAIN_BROKEN', at: t.id, reason: `parent ${t.parent} is unknown`};
      const memo = this.#memo.get(parent.hash);
      if (memo !== undefined && !memo.ok) return {...memo, at: memo.at};
      const p = attenuationProblem(parent, t);
      if (p !== null) return {ok: false, code: 'TOKEN_WIDENED', at: t.id, axis: p.axis, reason: `${t.id} widens its parent ${parent.id} on ${p.axis}: ${p.reason}`};
      if (memo !== undefined && memo.ok) {
        // the parent's verdict covers its own ancestry, not this chain's total depth
        if (chain.length + memo.chain.length > MAX_CHAIN_DEPTH + 1) return {ok: false, code: 'TOKEN_CHAIN_TOO_DEEP', at: leaf.id, reason: `delegation deeper than ${MAX_CHAIN_DEPTH}`};
        return {ok: true, chain: [...chain, ...memo.chain]};
      }
      chain.push(parent);
      t = parent;
    }
    if (!this.isRoot(t.issuer)) return {ok: false, code: 'TOKEN_UNTRUSTED_ROOT', at: t.id, reason: `${t.id} is signed by ${toHex(t.issuer).slice(0, 16)}…, which is not a trusted root key`};
    return {ok: true, chain};
  }
}
