/**
 * The kernel's secret store at `$ASTRID_HOME/secrets` (directory 0700, one 0600 file per
 * secret), and the owner's operations on it. Setting and removing a secret are ledger
 * entries naming the secret (and its hosts), never its value; each entry is durable before
 * the store changes (law 2).
 */
import {join} from 'node:path';
import {SecretStore, checkSecretHosts, checkSecretName, type SecretSource} from '../services/index.js';
import type {KernelState} from './open.js';

export const SECRETS_DIR = 'secrets';

/**
 * Open the secret store of a home (created 0700 when missing).
 * @throws AstridError KEY_PERMISSIONS_TOO_OPEN when it is group/other accessible, KEY_IO.
 */
export function openSecrets(home: string): SecretStore {
  return SecretStore.open(join(home, SECRETS_DIR));
}

/** The store of a home, opened on first use (a session that names no secret never touches it). */
export function secretSource(home: string): SecretSource {
  let store: SecretStore | undefined;
  return {get: (name) => (store ??= openSecrets(home)).get(name)};
}

const OWNER = {session: 'cli', principal: 'owner', actor: 'cli'};

/**
 * Store (or replace) a secret bound to `hosts`, recording `secret.set` {name, hosts} first.
 * @throws AstridError SECRET_INVALID, KEY_PERMISSIONS_TOO_OPEN, KEY_IO, LEDGER_*.
 */
export async function setSecret(k: KernelState, name: string, value: string, hosts: readonly string[]): Promise<{name: string; hosts: string[]; seq: number}> {
  const store = openSecrets(k.home);
  checkSecretName(name);
  const h = checkSecretHosts(hosts);
  // the value is checked before anything is recorded: a refused value leaves no entry
  store.check(value);
  const a = await k.ledger.append({kind: 'secret.set', body: {name, hosts: h}, ...OWNER});
  store.set(name, value, h);
  return {name, hosts: h, seq: a.seq};
}

/**
 * Remove a secret, recording `secret.removed` {name} first.
 * @throws AstridError SECRET_NOT_FOUND, SECRET_INVALID, KEY_PERMISSIONS_TOO_OPEN, KEY_IO, LEDGER_*.
 */
export async function removeSecret(k: KernelState, name: string): Promise<{name: string; seq: number}> {
  const store = openSecrets(k.home);
  if (!store.has(name)) store.remove(name); // throws SECRET_NOT_FOUND, with nothing recorded
  const a = await k.ledger.append({kind: 'secret.removed', body: {name}, ...OWNER});
  store.remove(name);
  return {name, seq: a.seq};
}
