/**
 * The ledger anchor: the newest checkpoint this kernel wrote, kept beside its key in
 * `keys/ledger.anchor` (mode 0600, in the 0700 keys directory), outside the ledger. The
 * ledger's own checkpoints prove what they cover, but someone who can edit the ledger can
 * delete the newer ones and rewrite history after an older one; the anchor catches that
 * (ANCHOR_MISMATCH on verify, LEDGER_CORRUPT on a write-mode open). It is written after the
 * checkpoint is durable, so it never runs ahead of the ledger.
 */
import {closeSync, constants, fstatSync, openSync, readFileSync, renameSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';
import {AstridError} from '../errors/index.js';
import {fromHex, toHex, KEYS_DIR} from '../crypto/index.js';
import type {LedgerAnchor} from '../ledger/index.js';

export const ANCHOR_FILE = 'ledger.anchor';

export function anchorPath(home: string): string {
  return join(home, KEYS_DIR, ANCHOR_FILE);
}

/**
 * Read the anchor, or undefined when there is none yet.
 * @throws AstridError KEY_INVALID when the file exists but is malformed (fail secure: delete
 *   it deliberately to accept the ledger as it is).
 */
export function readAnchor(home: string): LedgerAnchor | undefined {
  const p = anchorPath(home);
  let fd: number;
  try {
    fd = openSync(p, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new AstridError('KEY_INVALID', `cannot open ${p}`, {cause: e, details: {path: p}});
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile() || st.size > 1024) throw new AstridError('KEY_INVALID', `${p} is not a small regular file`, {details: {path: p}});
    const u = JSON.parse(readFileSync(fd, 'utf8')) as {seq?: unknown; hash?: unknown};
    if (typeof u.seq !== 'number' || !Number.isSafeInteger(u.seq) || u.seq < 1 || typeof u.hash !== 'string') throw new TypeError('bad fields');
    return {seq: u.seq, hash: fromHex(u.hash, 32)};
  } catch (e) {
    if (e instanceof AstridError) throw e;
    throw new AstridError('KEY_INVALID', `${p} is malformed; it guards the ledger against rollback: restore it, or delete it to accept the ledger as it is`, {
      cause: e,
      details: {path: p},
    });
  } finally {
    closeSync(fd);
  }
}

/** Replace the anchor atomically (temporary file, then rename). */
export function writeAnchor(home: string, a: LedgerAnchor): void {
  const p = anchorPath(home);
  const tmp = `${p}.tmp-${process.pid}`;
  writeFileSync(tmp, JSON.stringify({seq: a.seq, hash: toHex(a.hash)}) + '\n', {mode: 0o600});
  renameSync(tmp, p);
}
