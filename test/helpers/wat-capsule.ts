/**
 * Builds capsule packages from the readable WAT corpus in test/fixtures: compiles with
 * wabt, fills the `__REQUEST__` placeholder with escaped msgpack bytes, computes the BLAKE3
 * pin and writes capsule.toml. Real modules, real hashes; nothing is mocked.
 */
import {mkdirSync, readFileSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';
import {Packr} from 'msgpackr';
import {Blake3, parseBlake3Hex} from '../../src/crypto/index.js';
import {manifestToml, type Manifest} from '../../src/sandbox/index.js';
import {parsePattern} from '../../src/topics/index.js';
import {repoRoot} from './index.js';

const packr = new Packr({useRecords: false, moreTypes: false, variableMapSize: true});

/** msgpack bytes of `v`, as the SDKs would produce them. */
export function msgpack(v: unknown): Uint8Array {
  return packr.pack(v);
}

/** Escape bytes for a WAT data string. */
export function watBytes(b: Uint8Array): string {
  return [...b].map((x) => '\\' + x.toString(16).padStart(2, '0')).join('');
}

type Wabt = {parseWat(name: string, text: string, features?: Record<string, boolean>): {toBinary(o: object): {buffer: Uint8Array}; destroy(): void}};
let wabtP: Promise<Wabt> | undefined;

/** Compile WAT text to a wasm binary. */
export async function wat2wasm(text: string, name = 'capsule.wat', extraFeatures: Record<string, boolean> = {}): Promise<Uint8Array> {
  wabtP ??= import('wabt').then((m) => (m as unknown as {default: () => Promise<Wabt>}).default());
  const wabt = await wabtP;
  const mod = wabt.parseWat(name, text, {mutable_globals: true, sign_extension: true, bulk_memory: true, ...extraFeatures});
  try {
    return new Uint8Array(mod.toBinary({}).buffer);
  } finally {
    mod.destroy();
  }
}

export interface WatCapsuleOptions {
  /** Fixture name under test/fixtures/hostile (without .wat). */
  readonly fixture: string;
  /** Capsule name (default: the fixture name). */
  readonly name?: string;
  readonly request?: Uint8Array;
  readonly handles?: readonly string[];
  readonly sends?: readonly string[];
  readonly fsRead?: readonly string[];
  readonly fsWrite?: readonly string[];
  readonly kv?: readonly string[];
  /** Manifest `net_http` bounds. */
  readonly netHttp?: readonly string[];
  /** Capsules it may ever spawn (manifest [resources] spawn). */
  readonly spawn?: readonly string[];
  readonly budget?: {fuel?: number; memory_pages?: number; wall_ms?: number};
  readonly abi?: number;
  /** Extra wabt features (e.g. {exceptions: true}). */
  readonly features?: Record<string, boolean>;
  /** Override the pinned hash (to test CAPSULE_HASH_MISMATCH). */
  readonly hash?: string;
}

/** Write a capsule package for a WAT fixture into `parent/<name>/` and return its directory. */
export async function watCapsule(parent: string, o: WatCapsuleOptions): Promise<string> {
  const name = o.name ?? o.fixture;
  let text = readFileSync(join(repoRoot, 'test', 'fixtures', 'hostile', `${o.fixture}.wat`), 'utf8');
  const req = o.request ?? new Uint8Array(0);
  text = text.replaceAll('__REQUEST__', watBytes(req)).replaceAll('__REQUEST_LEN__', String(req.length));
  const wasm = await wat2wasm(text, `${o.fixture}.wat`, o.features ?? {});
  const dir = join(parent, name);
  mkdirSync(dir, {recursive: true});
  writeFileSync(join(dir, `${o.fixture}.wasm`), wasm);
  const hash = o.hash ?? (await Blake3.create()).hex(wasm);
  const manifest: Manifest = {
    package: {name, version: '0.1.0', abi: o.abi ?? 1},
    module: {file: `${o.fixture}.wasm`, hash: parseBlake3Hex(hash)},
    topics: {handles: (o.handles ?? ['test.>']).map(parsePattern), sends: (o.sends ?? ['good.done', 'test.>']).map(parsePattern)},
    resources: {fs_read: o.fsRead ?? [], fs_write: o.fsWrite ?? [], net_http: o.netHttp ?? [], kv: o.kv ?? [], spawn: o.spawn ?? []},
    budget: {fuel: 1_000_000, memory_pages: 16, wall_ms: 2000, ...(o.budget ?? {})},
  };
  writeFileSync(join(dir, 'capsule.toml'), manifestToml(manifest));
  return dir;
}
