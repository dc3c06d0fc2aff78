/**
 * The kernel identity key on disk: `<home>/keys/kernel.key`, a PKCS#8 PEM file.
 * Created on first use with mode 0600 in a 0700 directory; refused when the file or the
 * directory is readable or writable by anyone but its owner, or owned by another user.
 * Creation uses O_EXCL, so two processes racing to create it end up with the same key.
 */
import {chmodSync, closeSync, fstatSync, mkdirSync, openSync, readFileSync, statSync, writeSync, constants} from 'node:fs';
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
 *   KEY_INVALID when the file is not an Ed25519 PEM key, KEY_IO on filesystem errors.
 */
export function loadOrCreateKernelKey(home: string): SigningKey {
  const dir = join(home, KEYS_DIR);
  ensurePrivateDir(dir);
  const path = join(dir, KERNEL_KEY_FILE);
  let fd: number;
  try {
    fd = openSync(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') {
      throw new AstridError('KEY_IO', `cannot create ${path}`, {cause: e, details: {path}});
    }
    return readKey(path);
  }
  try {
    const key = SigningKey.generate();
    const pem = Buffer.from(key.toPem());
    let off = 0;
    while (off < pem.length) off += writeSync(fd, pem, off);
    fchmodSafe(path);
    writePub(dir, key);
    return key;
  } finally {
    closeSync(fd);
  }
}

function fchmodSafe(path: string): void {
  chmodSync(path, 0o600); // the umask may have narrowed it further; never widen beyond 0600
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
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (cause) {
    throw new AstridError('KEY_IO', `cannot open ${path} (a symlink is refused)`, {cause, details: {path}});
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new AstridError('KEY_INVALID', `${path} is not a regular file`, {details: {path}});
    checkMode(path, st.mode, st.uid, 'file');
    if (st.size > MAX_KEY_FILE_BYTES || st.size === 0) {
      throw new AstridError('KEY_INVALID', `${path} has an implausible size (${st.size} bytes)`, {details: {path}});
    }
    const pem = readFileSync(fd, 'utf8');
    try {
      return SigningKey.fromPem(pem);
    } catch (cause) {
      throw new AstridError('KEY_INVALID', `${path} is not an Ed25519 PKCS#8 PEM private key`, {cause, details: {path}});
    }
  } finally {
    closeSync(fd);
  }
}
