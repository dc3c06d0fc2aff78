/**
 * The operations behind `astrid capsule ...` and `astrid run`.
 */
import {statSync, existsSync, readFileSync} from 'node:fs';
import {join, resolve} from 'node:path';
import {AstridError} from '../errors/index.js';
import {rebuild} from '../ledger/index.js';
import {installedProjection, parseManifest, inspectWasm, buildCapsule, scaffoldCapsule, type InstalledCapsule, type BuildResult, type BuildProgress} from '../sandbox/index.js';
import {openCapsuleStore, runSession, parseBudgetFlag, type KernelState, type RunResult} from '../kernel/index.js';
import {withKernel} from './with-kernel.js';
import {payloadJson} from './render.js';
import {parseTokenBudget} from './authority.js';


export interface CapsuleView {
  readonly name: string;
  readonly version: string;
  readonly hash: string;
  readonly instrumentedHash: string;
  readonly installedSeq: number;
}

const view = (c: InstalledCapsule): CapsuleView => ({name: c.name, version: c.version, hash: c.hash, instrumentedHash: c.instrumentedHash, installedSeq: c.seq});

/** Install a capsule package directory. */
export async function capsuleInstall(home: string, dir: string, onProgress?: (step: string, done: number, total: number) => void): Promise<CapsuleView> {
  const d = resolve(dir);
  if (!existsSync(d) || !statSync(d).isDirectory()) throw new AstridError('INPUT_INVALID', `${dir} is not a capsule directory`);
  return withKernel(home, 'write', async (k) => view(await openCapsuleStore(k).install(d, onProgress)));
}

async function installed(k: KernelState): Promise<Map<string, InstalledCapsule>> {
  return (await rebuild(k.ledger, installedProjection)).state;
}

/** Installed capsules, by name. */
export async function capsuleList(home: string): Promise<CapsuleView[]> {
  return withKernel(home, 'read', async (k) => [...(await installed(k)).values()].sort((a, b) => (a.name < b.name ? -1 : 1)).map(view));
}

export interface CapsuleDetail extends CapsuleView {
  readonly manifest: ReturnType<typeof parseManifest>;
  readonly imports: ReadonlyArray<{module: string; name: string}>;
  readonly exports: readonly string[];
  readonly memory: {initial: number; maximum: number | null};
}

/** One installed capsule with its manifest and module facts. */
export async function capsuleInspect(home: string, name: string): Promise<CapsuleDetail> {
  return withKernel(home, 'read', async (k) => {
    const c = (await installed(k)).get(name);
    if (c === undefined) throw new AstridError('CAPSULE_NOT_FOUND', `no installed capsule named "${name}"`);
    await openCapsuleStore(k).load(c); // re-checks both hashes
    const info = inspectWasm(new Uint8Array(readFileSync(join(k.home, 'store', 'modules', `${c.hash}.wasm`))));
    const mem = info.memories[0];
    return {
      ...view(c),
      manifest: parseManifest(c.manifest),
      imports: info.imports.map((i) => ({module: i.module, name: i.name})),
      exports: info.exports.map((e) => e.name),
      memory: {initial: mem?.min ?? 0, maximum: mem?.max ?? null},
    };
  });
}

/** Remove an installed capsule. */
export async function capsuleRemove(home: string, name: string): Promise<{name: string; hash: string; seq: number}> {
  return withKernel(home, 'write', async (k) => {
    const c = (await installed(k)).get(name);
    if (c === undefined) throw new AstridError('CAPSULE_NOT_FOUND', `no installed capsule named "${name}"`);
    const seq = await openCapsuleStore(k).remove(c);
    return {name: c.name, hash: c.hash, seq};
  });
}

export interface RunFlags {
  readonly capsule: string;
  readonly grants: readonly string[];
  readonly tokens?: readonly string[];
  readonly sessionBudget?: string;
  readonly ask?: boolean;
  readonly budget?: string;
  readonly topic?: string;
  readonly input?: string;
}

/** `astrid run`: a one-shot in-process session. */
export async function runCapsule(home: string, f: RunFlags): Promise<RunResult> {
  let input: unknown = {};
  if (f.input !== undefined) {
    try {
      input = JSON.parse(f.input);
    } catch (e) {
      throw new AstridError('INPUT_INVALID', `--input is not valid JSON: ${(e as Error).message}`);
    }
  }
  const budget = f.budget === undefined ? undefined : parseBudgetFlag(f.budget);
  const r = await withKernel(home, 'write', async (k) =>
    runSession(k, openCapsuleStore(k), {
      capsule: f.capsule,
      grants: f.grants,
      tokens: f.tokens ?? [],
      ...(f.sessionBudget === undefined ? {} : {sessionBudget: parseTokenBudget(f.sessionBudget, ['fuel', 'wall_ms', 'messages', 'egress_bytes'])}),
      ...(f.ask === true ? {ask: true} : {}),
      input,
      ...(budget === undefined ? {} : {budget}),
      ...(f.topic === undefined ? {} : {topic: f.topic}),
    }),
  );
  // byte strings in payloads as base64, for the terminal and for --json alike
  return {...r, sends: r.sends.map((s) => ({topic: s.topic, payload: payloadJson(s.payload)}))};
}

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
