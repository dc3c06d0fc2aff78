/**
 * An authority over a fresh memory ledger for unit tests: fixed keys (owner, alice, bob,
 * mallory from fixed seeds), a test clock, seeded randomness, the owner and the named
 * principals registered. Closes the ledger after `fn`.
 */
import {Authority, authorityProjection} from '../../src/capabilities/index.js';
import {SigningKey} from '../../src/crypto/index.js';
import {MemoryStore, rebuild, type Ledger} from '../../src/ledger/index.js';
import {hasher, openLedger, testClock, type TestClock} from './ledger-fixtures.js';
import {xorshift32} from './prng.js';

const seed = (b: number): Uint8Array => new Uint8Array(32).fill(b);
export const OWNER = SigningKey.fromSeed(seed(11));
export const ALICE = SigningKey.fromSeed(seed(21));
export const BOB = SigningKey.fromSeed(seed(22));
export const MALLORY = SigningKey.fromSeed(seed(66));
const KEYS: Readonly<Record<string, SigningKey>> = {alice: ALICE, bob: BOB, mallory: MALLORY};

export interface AuthorityWorld {
  readonly ledger: Ledger;
  readonly clock: TestClock;
  readonly authority: Authority;
  readonly random: (n: number) => Uint8Array;
}

/** Run `fn` in a fresh world with the given principals (agents) registered. */
export async function withAuthorityWorld(prngSeed: number, principals: ReadonlyArray<'alice' | 'bob' | 'mallory'>, fn: (w: AuthorityWorld) => Promise<void>): Promise<void> {
  const clock = testClock();
  const ledger = await openLedger(new MemoryStore(), {clock});
  const rnd = xorshift32(prngSeed);
  const random = (n: number): Uint8Array => Uint8Array.from({length: n}, () => rnd() & 0xff);
  const state = (await rebuild(ledger, authorityProjection)).state;
  const authority = new Authority({ledger, blake3: await hasher(), clock, random, owner: OWNER, state});
  try {
    await authority.ensureOwner();
    for (const p of principals) await authority.createPrincipal(p, 'agent', (KEYS[p] as SigningKey).publicKey);
    await fn({ledger, clock, authority, random});
  } finally {
    await ledger.close();
  }
}
