/**
 * The kernel identity key on disk: `<home>/keys/kernel.key`, a PKCS#8 PEM file.
 * Created on first use with mode 0600 in a 0700 directory; refused when the file or the
 * directory is readable or writable by anyone but its owner, or owned by another user.
 * Creation writes and syncs the key under a unique temporary name, then hard-links it into
 * place: link() never replaces an existing name, so of processes racing to create the key
 * exactly one wins, and no process ever sees a partly written key at the final name.
 */
import {randomBytes} from 'node:crypto';
import {
  closeSync,
  fchmodSync,
  fstatSync,
  fsyncSync,
  linkSync,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
  constants,
} from 'node:fs';
import {join} from 'node:path';
import {AstridError} from '../errors/index.js';
import {SigningKey} from './ed25519.js';
import {toHex} from './bytes.js';

export const KEYS_DIR = 'keys';
export const KERNEL_KEY_FILE = 'kernel.key';
export const KERNEL_PUB_FILE = 'kernel.pub';
const MAX_KEY_FILE_BYTES = 16 * 1024;

function checkMode(path: string, mode: number, uid: number, what: 'file' | 'directory'): void {
  const loose = mode & 0o077;
  const mine = typeof process.getuid === 'function' ? process.getuid() : uid;
  if (uid !== mine) {
    throw new AstridError('KEY_PERMISSIONS_TOO_OPEN', `${what} ${path} is owned by uid ${uid}, not by the current user (${mine})`, {
      details: {path, uid},
    });
  }
  if (loose !== 0) {
    const want = what === 'file' ? '600' : '700';
    throw new AstridError(
      'KEY_PERMISSIONS_TOO_OPEN',
      `${what} ${path} has mode ${(mode & 0o777).toString(8)}; it must not be accessible by group or others (fix: chmod ${want} ${path})`,
      {details: {path, mode: (mode & 0o777).toString(8)}},
    );
  }
}

/** Create `dir` (and parents) with mode 0700 if missing; check its mode either way. */
export function ensurePrivateDir(dir: string): void {
  try {
    mkdirSync(dir, {recursive: true, mode: 0o700});
  } catch (cause) {
    throw new AstridError('KEY_IO', `cannot create directory ${dir}`, {cause, details: {path: dir}});
  }
  const st = statSync(dir);
  if (!st.isDirectory()) throw new AstridError('KEY_IO', `${dir} is not a directory`, {details: {path: dir}});
  checkMode(dir, st.mode, st.uid, 'directory');
}

/**
 * Load the kernel key from `<home>/keys/kernel.key`, creating it on first use.
 * @throws AstridError KEY_PERMISSIONS_TOO_OPEN when the key file or directory is too open,
 *   KEY_INVALID when the file is not an Ed25519 PEM key, KEY_IO on filesystem errors,
 *   KEY_MISSING when the key file is gone but kernel.pub remains (no new identity over it).
 */
export function loadOrCreateKernelKey(home: string): SigningKey {
  const dir = join(home, KEYS_DIR);
  if (!entryExists(join(dir, KERNEL_KEY_FILE)) && entryExists(join(dir, KERNEL_PUB_FILE))) {
    // The key was made here before and is gone: a new one would be a new identity, refused
    // by the ledger it signed, and its public half would overwrite the old one's.
    throw new AstridError('KEY_MISSING', `${join(dir, KERNEL_KEY_FILE)} is missing, but ${KERNEL_PUB_FILE} names the key this home was created with: restore the key file (or move ${KERNEL_PUB_FILE} away to start a new identity)`, {
      details: {path: join(dir, KERNEL_KEY_FILE)},
    });
  }
  const {key, created} = loadOrCreateKeyFile(dir, KERNEL_KEY_FILE);
  if (created) writePub(dir, key);
  return key;
}

/**
 * Load the Ed25519 key at `<dir>/<file>`, creating it (0600, in a 0700 directory, race-free:
 * concurrent creators end up with one key) when missing.
 * @throws AstridError KEY_PERMISSIONS_TOO_OPEN, KEY_INVALID, KEY_IO.
 */
export function loadOrCreateKeyFile(dir: string, file: string): {key: SigningKey; created: boolean} {
  ensurePrivateDir(dir);
  const path = join(dir, file);
  if (entryExists(path)) return {key: readKey(path), created: false};
  const key = SigningKey.generate();
  const tmp = join(dir, `.${file}.${process.pid}.${randomBytes(8).toString('hex')}.tmp`);
  writePrivateFile(tmp, Buffer.from(key.toPem()));
  try {
    linkSync(tmp, path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return {key: readKey(path), created: false}; // another process won the race
    throw new AstridError('KEY_IO', `cannot create ${path}`, {cause: e, details: {path}});
  } finally {
    unlinkQuiet(tmp);
  }
  syncDir(dir);
  return {key, created: true};
}

/**
 * Load the key at `<dir>/<file>` if it exists (permissions checked), else undefined.
 * @throws AstridError KEY_PERMISSIONS_TOO_OPEN, KEY_INVALID, KEY_IO.
 */
export function loadKeyFile(dir: string, file: string): SigningKey | undefined {
  const path = join(dir, file);
  if (!entryExists(path)) return undefined;
  ensurePrivateDir(dir);
  return readKey(path);
}

/** True when something (a symlink included) exists at `path`. */
function entryExists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw new AstridError('KEY_IO', `cannot stat ${path}`, {cause: e, details: {path}});
  }
}

/** Create `path` exclusively with mode 0600 (whatever the umask), write `data` and sync it. */
function writePrivateFile(path: string, data: Buffer): void {
  let fd: number;
  try {
    fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  } catch (cause) {
    throw new AstridError('KEY_IO', `cannot create ${path}`, {cause, details: {path}});
  }
  try {
    fchmodSync(fd, 0o600); // the umask may have narrowed it; never wider than 0600
    let off = 0;
    while (off < data.length) off += writeSync(fd, data, off);
    fsyncSync(fd);
  } catch (cause) {
    unlinkQuiet(path);
    throw new AstridError('KEY_IO', `cannot write ${path}`, {cause, details: {path}});
  } finally {
    closeSync(fd);
  }
}

function unlinkQuiet(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}

/** Make the new directory entry durable (best effort: not every platform can fsync a directory). */
function syncDir(dir: string): void {
  try {
    const fd = openSync(dir, constants.O_RDONLY);
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // best effort
  }
}

function writePub(dir: string, key: SigningKey): void {
  const p = join(dir, KERNEL_PUB_FILE);
  try {
    const fd = openSync(p, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW, 0o644);
    try {
      writeSync(fd, toHex(key.publicKey) + '\n');
    } finally {
      closeSync(fd);
    }
  } catch {
    // The .pub file is a convenience copy; the key itself is authoritative.
  }
}

function readKey(path: string): SigningKey {
  const pem = Buffer.from(readPrivateFile(path, MAX_KEY_FILE_BYTES)).toString('utf8');
  try {
    return SigningKey.fromPem(pem);
  } catch (cause) {
    throw new AstridError('KEY_INVALID', `${path} is not an Ed25519 PKCS#8 PEM private key`, {cause, details: {path}});
  }
}

/**
 * Read a private file: a regular file (a symlink or FIFO is refused), owned by this user,
 * not accessible by group or others, of 1 to `maxBytes` bytes. Error messages name the
 * path, never the content.
 * @throws AstridError KEY_PERMISSIONS_TOO_OPEN, KEY_INVALID (not a regular file, implausible size), KEY_IO.
 */
export function readPrivateFile(path: string, maxBytes: number): Uint8Array {
  let fd: number;
  try {
    // O_NONBLOCK: opening a FIFO planted at the path must not block; fstat below refuses it.
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (cause) {
    throw new AstridError('KEY_IO', `cannot open ${path} (a symlink is refused)`, {cause, details: {path}});
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new AstridError('KEY_INVALID', `${path} is not a regular file`, {details: {path}});
    checkMode(path, st.mode, st.uid, 'file');
    if (st.size > maxBytes || st.size === 0) {
      throw new AstridError('KEY_INVALID', `${path} has an implausible size (${st.size} bytes)`, {details: {path}});
    }
    return new Uint8Array(readFileSync(fd));
  } finally {
    closeSync(fd);
  }
}

/**
 * Write `data` to `<dir>/<file>` as a private file (0600 in a 0700 directory), replacing any
 * file of that name atomically: a synced temporary file renamed into place, so a reader sees
 * the old content or the new, never a mix.
 * @throws AstridError KEY_PERMISSIONS_TOO_OPEN (the directory), KEY_IO.
 */
export function replacePrivateFile(dir: string, file: string, data: Uint8Array): void {
  ensurePrivateDir(dir);
  const path = join(dir, file);
  const tmp = join(dir, `.${file}.${process.pid}.${randomBytes(8).toString('hex')}.tmp`);
  writePrivateFile(tmp, Buffer.from(data.buffer, data.byteOffset, data.byteLength));
  try {
    renameSync(tmp, path);
  } catch (e) {
    unlinkQuiet(tmp);
    throw new AstridError('KEY_IO', `cannot replace ${path}`, {cause: e, details: {path}});
  }
  syncDir(dir);
}

/**
 * Remove `<dir>/<file>` (the directory's permissions checked first); false when it did not exist.
 * @throws AstridError KEY_PERMISSIONS_TOO_OPEN, KEY_IO.
 */
export function removePrivateFile(dir: string, file: string): boolean {
  ensurePrivateDir(dir);
  const path = join(dir, file);
  try {
    unlinkSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw new AstridError('KEY_IO', `cannot remove ${path}`, {cause: e, details: {path}});
  }
  syncDir(dir);
  return true;
}
