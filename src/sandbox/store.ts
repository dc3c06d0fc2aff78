/**
 * The capsule store under `$ASTRID_HOME/store`, content-addressed by BLAKE3:
 *   store/modules/<hash>.wasm                 the original module, as the manifest pins it
 *   store/instrumented/<hash>.m<V>.wasm       the fuel-instrumented module (cache, meter version V)
 * Which capsules are installed is not a file: it is the fold of `capsule.installed` /
 * `capsule.removed` ledger entries (law 3). Loading re-checks every hash, so a module
 * swapped on disk is refused (CAPSULE_HASH_MISMATCH), never run.
 */
import {closeSync, constants, fstatSync, mkdirSync, openSync, readFileSync, renameSync, writeFileSync, existsSync} from 'node:fs';
import {join} from 'node:path';
import {AstridError} from '../errors/index.js';
import type {Blake3} from '../crypto/index.js';
import { ensurePrivateDir} from '../crypto/index.js';
import {rebuild, type Ledger, type Projection, type StoredEntry} from '../ledger/index.js';
import {parseManifest, MANIFEST_FILE, MAX_MANIFEST_BYTES, type Manifest} from './manifest.js';
import {validateCapsuleModule} from './validate.js';
import type {LoadedCapsule} from './instance.js';

export const STORE_DIR = 'store';
export const MAX_MODULE_BYTES = 32 * 1024 * 1024;

export interface InstalledCapsule {
  readonly name: string;
  readonly version: string;
  readonly hash: string;
  readonly instrumentedHash: string;
  readonly manifest: string;
  /** Seq of the capsule.installed entry. */
  readonly seq: number;
}

export type InstalledState = Map<string, InstalledCapsule>;

/** Installed capsules as a projection of the ledger. */
export const installedProjection: Projection<InstalledState> = {
  name: 'sandbox.installed',
  version: 1,
  kinds: new Set(['capsule.installed', 'capsule.removed'] as const),
  initial: () => new Map(),
  apply(s: InstalledState, e: StoredEntry): InstalledState {
    if (e.entry.kind === 'capsule.installed') {
      const b = e.entry.body;
      s.set(b.name, {name: b.name, version: b.version, hash: b.hash, instrumentedHash: b.instrumentedHash, manifest: b.manifest, seq: e.seq});
    } else if (e.entry.kind === 'capsule.removed') {
      s.delete(e.entry.body.name);
    }
    return s;
  },
  encode: (s) => Buffer.from(JSON.stringify([...s.values()].sort((a, b) => (a.name < b.name ? -1 : 1)))),
  decode: (bytes) => {
    const u = JSON.parse(Buffer.from(bytes).toString('utf8')) as unknown;
    if (!Array.isArray(u)) throw new TypeError('malformed installed state');
    const m: InstalledState = new Map();
    for (const x of u as InstalledCapsule[]) {
      if (typeof x?.name !== 'string' || typeof x.hash !== 'string' || typeof x.manifest !== 'string') throw new TypeError('malformed installed state');
      m.set(x.name, x);
    }
    return m;
  },
};

/** Read a file refusing symlinks, non-regular files and anything over `max` bytes. */
export function readBounded(path: string, max: number, what: string): Uint8Array {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new AstridError(code === 'ENOENT' ? 'CAPSULE_NOT_FOUND' : 'CAPSULE_MANIFEST_INVALID', `cannot open ${what} ${path}${code === 'ELOOP' ? ' (a symlink is refused)' : ''}`, {
      cause: e,
      details: {path},
    });
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new AstridError('CAPSULE_MANIFEST_INVALID', `${what} ${path} is not a regular file`, {details: {path}});
    if (st.size > max) throw new AstridError('CAPSULE_MANIFEST_INVALID', `${what} ${path} is larger than ${max} bytes`, {details: {path}});
    return new Uint8Array(readFileSync(fd));
  } finally {
    closeSync(fd);
  }
}

function atomicWrite(path: string, bytes: Uint8Array): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, bytes, {mode: 0o600});
  renameSync(tmp, path);
}

/** The instrumenter: injected so the store does not load binaryen until it must. */
export type Instrumenter = (original: Uint8Array, o?: {onProgress?: (done: number, total: number) => void}) => Promise<{bytes: Uint8Array}>;

export interface StoreOptions {
  readonly home: string;
  readonly ledger: Ledger;
  readonly hasher: Blake3;
  readonly instrument: Instrumenter;
  readonly meterVersion: number;
}

/** A package read from a directory and checked: manifest parsed, module hash verified, module validated. */
export interface CheckedPackage {
  readonly manifest: Manifest;
  readonly manifestText: string;
  readonly module: Uint8Array;
}

/**
 * Read and check a capsule package directory.
 * @throws AstridError CAPSULE_MANIFEST_INVALID, CAPSULE_NOT_FOUND, CAPSULE_HASH_MISMATCH, SANDBOX_* (validation).
 */
export function checkPackage(dir: string, hasher: Blake3): CheckedPackage {
  const manifestText = Buffer.from(readBounded(join(dir, MANIFEST_FILE), MAX_MANIFEST_BYTES, 'manifest')).toString('utf8');
  const manifest = parseManifest(manifestText);
  const module = readBounded(join(dir, manifest.module.file), MAX_MODULE_BYTES, 'module');
  const actual = hasher.hex(module);
  if (actual !== manifest.module.hash) {
    throw new AstridError('CAPSULE_HASH_MISMATCH', `${manifest.module.file} has BLAKE3 ${actual}, the manifest pins ${manifest.module.hash}`, {
      details: {expected: manifest.module.hash, actual},
    });
  }
  validateCapsuleModule(module, manifest.budget);
  return {manifest, manifestText, module};
}

export class CapsuleStore {
  readonly #o: StoreOptions;
  readonly root: string;

  constructor(o: StoreOptions) {
    this.#o = o;
    this.root = join(o.home, STORE_DIR);
  }

  #dirs(): {modules: string; instrumented: string} {
    ensurePrivateDir(this.root);
    const modules = join(this.root, 'modules');
    const instrumented = join(this.root, 'instrumented');
    mkdirSync(modules, {recursive: true, mode: 0o700});
    mkdirSync(instrumented, {recursive: true, mode: 0o700});
    return {modules, instrumented};
  }

  #instrumentedPath(hash: string): string {
    return join(this.root, 'instrumented', `${hash}.m${this.#o.meterVersion}.wasm`);
  }

  /**
   * Install a package directory: check it, store the module, instrument it (or reuse the
   * cached instrumentation), and record `capsule.installed`.
   */
  async install(dir: string, onProgress?: (step: string, done: number, total: number) => void): Promise<InstalledCapsule> {
    const {hasher, ledger} = this.#o;
    onProgress?.('checking', 0, 1);
    const pkg = checkPackage(dir, hasher);
    const hash = pkg.manifest.module.hash;
    const {modules} = this.#dirs();
    const modPath = join(modules, `${hash}.wasm`);
    // a stored original that was altered is replaced by the checked one (load would refuse it)
    if (!existsSync(modPath) || hasher.hex(readBounded(modPath, MAX_MODULE_BYTES, 'module')) !== hash) atomicWrite(modPath, pkg.module);
    const instPath = this.#instrumentedPath(hash);
    let instrumented: Uint8Array | undefined;
    // The cache is reused only when it is byte-for-byte what an installed capsule with this
    // module recorded; anything else (swapped on disk, or no record to check it against) is
    // re-instrumented, so a tampered cache is never recorded as this module's code.
    const recorded = [...(await rebuild(ledger, installedProjection)).state.values()].find((c) => c.hash === hash)?.instrumentedHash;
    if (recorded !== undefined && existsSync(instPath)) {
      const cached = readBounded(instPath, MAX_MODULE_BYTES * 4, 'instrumented module');
      if (hasher.hex(cached) === recorded) instrumented = cached;
    }
    if (instrumented === undefined) {
      onProgress?.('instrumenting', 0, 1);
      instrumented = (await this.#o.instrument(pkg.module, {onProgress: (d, t) => onProgress?.('instrumenting', d, t)})).bytes;
      atomicWrite(instPath, instrumented);
    }
    const instrumentedHash = hasher.hex(instrumented);
    const a = await ledger.append({
      kind: 'capsule.installed',
      body: {name: pkg.manifest.package.name, version: pkg.manifest.package.version, hash, instrumentedHash, manifest: pkg.manifestText},
      principal: 'owner',
      actor: 'cli',
    });
    onProgress?.('done', 1, 1);
    return {name: pkg.manifest.package.name, version: pkg.manifest.package.version, hash, instrumentedHash, manifest: pkg.manifestText, seq: a.seq};
  }

  /** Record the removal of an installed capsule (its content-addressed files stay until collected). */
  async remove(c: InstalledCapsule): Promise<number> {
    const a = await this.#o.ledger.append({kind: 'capsule.removed', body: {name: c.name, hash: c.hash}, principal: 'owner', actor: 'cli'});
    return a.seq;
  }

  /**
   * Compile an installed capsule for instantiation. Re-checks both hashes.
   * @throws AstridError CAPSULE_HASH_MISMATCH when a stored module was altered, CAPSULE_NOT_FOUND when missing.
   */
  async load(c: InstalledCapsule): Promise<LoadedCapsule> {
    const manifest = parseManifest(c.manifest);
    const instrumented = readBounded(this.#instrumentedPath(c.hash), MAX_MODULE_BYTES * 4, 'instrumented module');
    const ih = this.#o.hasher.hex(instrumented);
    if (ih !== c.instrumentedHash) {
      throw new AstridError('CAPSULE_HASH_MISMATCH', `the stored instrumented module of ${c.name} was altered (BLAKE3 ${ih}, recorded ${c.instrumentedHash})`, {
        details: {expected: c.instrumentedHash, actual: ih},
      });
    }
    const original = readBounded(join(this.root, 'modules', `${c.hash}.wasm`), MAX_MODULE_BYTES, 'module');
    const oh = this.#o.hasher.hex(original);
    if (oh !== c.hash) {
      throw new AstridError('CAPSULE_HASH_MISMATCH', `the stored module of ${c.name} was altered (BLAKE3 ${oh}, pinned ${c.hash})`, {details: {expected: c.hash, actual: oh}});
    }
    const v = validateCapsuleModule(original, manifest.budget);
    const module = await WebAssembly.compile(instrumented as Uint8Array<ArrayBuffer>);
    return {
      name: c.name,
      hash: c.hash,
      manifest,
      module,
      initialPages: v.memory.min,
      declaredMaxPages: v.memory.max,
      hasInit: v.hasInit,
    };
  }
}
