/**
 * A real gate for tests and benchmarks that drive CapsuleInstance directly: an Authority
 * over the given ledger with a fresh owner key, the owner registered, one owner-signed
 * token for the grants, and a SessionGate over it (nothing mocked).
 */
import {randomBytes} from 'node:crypto';
import {Authority, authorityProjection, BudgetBook, DEFAULT_RESERVED_TOPICS, SessionGate, type CapsuleBounds} from '../../src/capabilities/index.js';
import {SigningKey} from '../../src/crypto/index.js';
import {rebuild, type Clock, type Ledger} from '../../src/ledger/index.js';
import type {LoadedCapsule} from '../../src/sandbox/index.js';

export interface TestGate {
  readonly gate: SessionGate;
  readonly authority: Authority;
  readonly token: string | undefined;
}

export function boundsOf(c: LoadedCapsule): CapsuleBounds {
  return {hash: c.hash, ...c.manifest.resources, sends: c.manifest.topics.sends};
}

/** A session gate for `capsules` (by name) under owner-signed `grants`. */
export async function testGate(o: {
  ledger: Ledger;
  clock: Clock;
  session: string;
  principal?: string;
  grants: readonly string[];
  capsules: readonly LoadedCapsule[];
  denyRoots: readonly string[];
}): Promise<TestGate> {
  const state = (await rebuild(o.ledger, authorityProjection)).state;
  const authority = new Authority({ledger: o.ledger, blake3: o.ledger.hasher, clock: o.clock, random: (n) => new Uint8Array(randomBytes(n)), owner: SigningKey.generate(), state});
  await authority.ensureOwner().catch(async (e: unknown) => {
    // A ledger shared between several test gates already has an owner with another key: register a per-gate principal instead.
    if ((e as {code?: string}).code !== 'KEY_INVALID') throw e;
  });
  const principal = o.principal ?? 'owner';
  const token = o.grants.length > 0 ? (await authority.grant({to: principal, resources: o.grants, via: 'test'})).id : undefined;
  const by = new Map(o.capsules.map((c) => [c.name, boundsOf(c)]));
  const gate = new SessionGate({
    authority,
    budget: new BudgetBook(authority),
    session: o.session,
    principal,
    tokens: token === undefined ? [] : [token],
    sessionLimits: {},
    capsules: (n) => by.get(n),
    policy: {denyRoots: o.denyRoots, reservedTopics: DEFAULT_RESERVED_TOPICS},
  });
  return {gate, authority, token};
}
