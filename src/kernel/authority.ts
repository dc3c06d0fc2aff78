/**
 * Wiring the authority into the embedded kernel: the owner's root key
 * (`keys/owner.key`, distinct from the kernel key that signs checkpoints), principal keys
 * (`keys/principals/<name>.key`, each 0600 in a 0700 directory), the authority state
 * rebuilt from the ledger, and the approval service with real timers.
 */
import {join} from 'node:path';
import {KEYS_DIR, loadKeyFile, loadOrCreateKeyFile, type SigningKey} from '../crypto/index.js';
import {AstridError} from '../errors/index.js';
import {rebuild} from '../ledger/index.js';
import {Authority, authorityProjection, BudgetBook, PRINCIPAL_RE, type AuthorityState, type PrincipalRecord} from '../capabilities/index.js';
import {ApprovalService} from '../actors/index.js';
import type {KernelState} from './open.js';
import {randomIds, systemRandom} from './clock.js';

export const OWNER_KEY_FILE = 'owner.key';
export const PRINCIPALS_DIR = 'principals';

/** The owner's root key, created on first use. */
export function ownerKey(home: string): SigningKey {
  return loadOrCreateKeyFile(join(home, KEYS_DIR), OWNER_KEY_FILE).key;
}

/**
 * Open the authority over a kernel's ledger: state rebuilt from genesis (or a snapshot),
 * and in write mode the owner principal registered.
 */
export async function openAuthority(k: KernelState, mode: 'read' | 'write', rebuilt?: AuthorityState): Promise<Authority> {
  // One authority per open kernel state: concurrent sessions must see each other's uses and spending.
  let p = authorities.get(k);
  if (p === undefined) {
    p = (async () => {
      const state = rebuilt ?? (await rebuild(k.ledger, authorityProjection)).state;
      return new Authority({ledger: k.ledger, blake3: k.ledger.hasher, clock: k.clock, random: systemRandom, owner: ownerKey(k.home), state});
    })();
    authorities.set(k, p);
    p.catch(() => authorities.delete(k));
  }
  const a = await p;
  if (mode === 'write') await a.ensureOwner();
  return a;
}

/** The budget book shared by every session of an authority (reservations see each other). */
export function budgetBook(a: Authority): BudgetBook {
  let b = books.get(a);
  if (b === undefined) {
    b = new BudgetBook(a);
    books.set(a, b);
  }
  return b;
}

const authorities = new WeakMap<KernelState, Promise<Authority>>();
const books = new WeakMap<Authority, BudgetBook>();

/** The key a local principal signs delegations with. @throws AstridError PRINCIPAL_NOT_FOUND when this home holds no key for it. */
export function principalKey(home: string, name: string): SigningKey {
  if (name === 'owner') return ownerKey(home);
  if (!PRINCIPAL_RE.test(name)) throw new AstridError('INPUT_INVALID', `principal name must match ${PRINCIPAL_RE.source}`);
  const k = loadKeyFile(join(home, KEYS_DIR, PRINCIPALS_DIR), `${name}.key`);
  if (k === undefined) throw new AstridError('PRINCIPAL_NOT_FOUND', `this home holds no key for principal ${name}`);
  return k;
}

/**
 * Create a principal: a fresh key under keys/principals and a principal.created entry.
 * @throws AstridError PRINCIPAL_EXISTS, INPUT_INVALID.
 */
export async function createPrincipal(k: KernelState, a: Authority, name: string, role: 'user' | 'agent'): Promise<PrincipalRecord> {
  if (!PRINCIPAL_RE.test(name)) throw new AstridError('INPUT_INVALID', `principal name must match ${PRINCIPAL_RE.source}`);
  if (a.principal(name) !== undefined) throw new AstridError('PRINCIPAL_EXISTS', `principal ${name} already exists`);
  const {key, created} = loadOrCreateKeyFile(join(k.home, KEYS_DIR, PRINCIPALS_DIR), `${name}.key`);
  if (!created) throw new AstridError('PRINCIPAL_EXISTS', `a key for ${name} already exists in keys/principals but the ledger has no such principal; remove it or pick another name`);
  return a.createPrincipal(name, role, key.publicKey);
}

/** The approval service with real timers. */
export function approvalService(a: Authority, timeoutMs?: number): ApprovalService {
  return new ApprovalService({
    authority: a,
    timers: {setTimeout: (fn, ms) => setTimeout(fn, ms), clearTimeout: (id) => clearTimeout(id as NodeJS.Timeout)},
    nextId: () => randomIds.next('ap'),
    ...(timeoutMs === undefined ? {} : {timeoutMs}),
  });
}
