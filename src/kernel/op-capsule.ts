/**
 * The operations behind `astrid capsule ...`: install, list, inspect and remove run in the
 * kernel; `new` and `build` touch no ledger and run where they are called.
 */
import {Type} from '@sinclair/typebox';
import {statSync, existsSync, readFileSync} from 'node:fs';
import {isAbsolute, join, resolve} from 'node:path';
import {AstridError} from '../errors/index.js';
import {rebuild} from '../ledger/index.js';
import {installedProjection, parseManifest, inspectWasm, buildCapsule, scaffoldCapsule, type InstalledCapsule, type BuildResult, type BuildProgress} from '../sandbox/index.js';
import type {KernelState} from './open.js';
import {defineOp} from './op.js';


export interface CapsuleView {
  readonly name: string;
  readonly version: string;
  readonly hash: string;
  readonly instrumentedHash: string;
  readonly installedSeq: number;
}

const view = (c: InstalledCapsule): CapsuleView => ({name: c.name, version: c.version, hash: c.hash, instrumentedHash: c.instrumentedHash, installedSeq: c.seq});

async function installed(k: KernelState): Promise<Map<string, InstalledCapsule>> {
  return (await rebuild(k.ledger, installedProjection)).state;
}

export interface CapsuleDetail extends CapsuleView {
  readonly manifest: ReturnType<typeof parseManifest>;
  readonly imports: ReadonlyArray<{module: string; name: string}>;
  readonly exports: readonly string[];
  readonly memory: {initial: number; maximum: number | null};
}

const closed = {additionalProperties: false} as const;
const Name = Type.Object({name: Type.String({maxLength: 128})}, closed);

export const capsuleOps = {
  /** Install a capsule package directory (an absolute path, read by the kernel). */
  'capsule.install': defineOp({
    mode: 'write',
    args: Type.Object({dir: Type.String({minLength: 1, maxLength: 4096})}, closed),
    async run(rt, {dir}, io): Promise<CapsuleView> {
      if (!isAbsolute(dir) || dir.includes('\u0000')) throw new AstridError('INPUT_INVALID', 'the capsule directory must be an absolute path');
      if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new AstridError('INPUT_INVALID', `${dir} is not a capsule directory`);
      return view(await rt.store().install(dir, (step, done, total) => io.progress(done, total, step)));
    },
  }),

  /** Installed capsules, by name. */
  'capsule.list': defineOp({
    mode: 'read',
    args: Type.Object({}, closed),
    async run(rt): Promise<CapsuleView[]> {
      return [...(await installed(rt.k)).values()].sort((a, b) => (a.name < b.name ? -1 : 1)).map(view);
    },
  }),

  /** One installed capsule with its manifest and module facts. */
  'capsule.inspect': defineOp({
    mode: 'read',
    args: Name,
    async run(rt, {name}): Promise<CapsuleDetail> {
      const k = rt.k;
      const c = (await installed(k)).get(name);
      if (c === undefined) throw new AstridError('CAPSULE_NOT_FOUND', `no installed capsule named "${name}"`);
      await rt.store().load(c); // re-checks both hashes
      const info = inspectWasm(new Uint8Array(readFileSync(join(k.home, 'store', 'modules', `${c.hash}.wasm`))));
      const mem = info.memories[0];
      return {
        ...view(c),
        manifest: parseManifest(c.manifest),
        imports: info.imports.map((i) => ({module: i.module, name: i.name})),
        exports: info.exports.map((e) => e.name),
        memory: {initial: mem?.min ?? 0, maximum: mem?.max ?? null},
      };
    },
  }),

  /** Remove an installed capsule. */
  'capsule.remove': defineOp({
    mode: 'write',
    args: Name,
    async run(rt, {name}): Promise<{name: string; hash: string; seq: number}> {
      const c = (await installed(rt.k)).get(name);
      if (c === undefined) throw new AstridError('CAPSULE_NOT_FOUND', `no installed capsule named "${name}"`);
      const seq = await rt.store().remove(c);
      return {name: c.name, hash: c.hash, seq};
    },
  }),
};

/** Scaffold a new capsule directory `<parent>/<name>`. */
export async function capsuleNew(parent: string, name: string): Promise<{dir: string}> {
  return scaffoldCapsule(resolve(parent), name);
}

/** Compile a capsule directory and write its module and pinned hash. */
export async function capsuleBuild(dir: string, onProgress?: (p: BuildProgress) => void): Promise<BuildResult> {
  const d = resolve(dir);
  if (!existsSync(d) || !statSync(d).isDirectory()) throw new AstridError('INPUT_INVALID', `${dir} is not a capsule directory`);
  return buildCapsule(d, onProgress ? {onProgress} : {});
}
