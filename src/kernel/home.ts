/**
 * The state directory: `--home`, else `$ASTRID_HOME`, else `~/.astrid`. Created with mode
 * 0700. Layout: keys/ (kernel key), ledger/ and ledger-aux/ (the ledger's two LevelDBs), store/
 * (capsules), run/ (the daemon's socket).
 */
import {homedir} from 'node:os';
import {isAbsolute, join, resolve} from 'node:path';
import {AstridError} from '../errors/index.js';
import {ensurePrivateDir} from '../crypto/index.js';

export const LEDGER_DIR = 'ledger';

/**
 * Resolve the home directory from an explicit value, the environment, or the default.
 * @throws AstridError HOME_INVALID when the value is empty or contains a NUL byte.
 */
export function resolveHome(explicit?: string, env: NodeJS.ProcessEnv = process.env): string {
  const raw = explicit ?? env.ASTRID_HOME ?? join(homedir(), '.astrid');
  if (raw.length === 0 || raw.includes('\u0000')) throw new AstridError('HOME_INVALID', 'the Astrid home must be a non-empty path');
  return isAbsolute(raw) ? resolve(raw) : resolve(process.cwd(), raw);
}

/**
 * Create the home directory (0700) if needed and check it is private to this user.
 * @throws AstridError KEY_PERMISSIONS_TOO_OPEN when it is group/other accessible, KEY_IO when it cannot be created.
 */
export function prepareHome(home: string): void {
  ensurePrivateDir(home);
}
