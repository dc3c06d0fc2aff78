/**
 * `astrid capsule build`: compile a capsule directory's AssemblyScript source
 * (`assembly/index.ts`) against the bundled SDK (`import ... from "astrid-sdk"`), check the
 * module against host ABI v1 the way install will, write it to the manifest's `module.file`
 * and record its BLAKE3 in `capsule.toml`.
 *
 * The compiler (`assemblyscript/asc`) is loaded on first use, never at import time. Builds
 * run one at a time (the compiler drives one process-wide binaryen instance) and are
 * deterministic: the flags are fixed here, a capsule's own `asconfig.json` is ignored, and
 * `astrid-sdk` always resolves to the SDK shipped with this kernel, so the same source gives
 * the same bytes wherever the directory lives.
 */
import {readFile, writeFile, rename, rm, access} from 'node:fs/promises';
import {dirname, join, resolve, sep} from 'node:path';
import {fileURLToPath} from 'node:url';
import type * as AscModule from 'assemblyscript/asc';
import {AstridError} from '../errors/index.js';
import {Blake3, type Blake3Hex} from '../crypto/index.js';
import {MANIFEST_FILE, manifestToml, parseManifest, type Manifest} from './manifest.js';
import {ABI_IMPORTS, ABI_MODULE, REQUIRED_EXPORTS} from './abi.js';
import {inspectWasm} from './wasm-inspect.js';

/** The capsule source entry, relative to the capsule directory. */
export const CAPSULE_ENTRY = 'assembly/index.ts';
/** The package name capsules import the SDK by. */
export const SDK_PACKAGE = 'astrid-sdk';

/**
 * Compiler flags, fixed so builds are reproducible:
 * - `--runtime minimal`: TLSF allocator + mark-and-sweep collector that runs only when
 *   called; the SDK collects at the end of every `astrid_handle`, when the stack is unwound.
 *   (`stub` never frees, so a long-lived instance would grow to its memory budget;
 *   `incremental` adds a shadow stack and collector interrupts inside the handler.)
 * - `--exportStart astrid_init`: top-level code runs in the `astrid_init` export, so the
 *   module has no start section (docs/abi.md).
 * - `--use abort/trace/seed=...`: the SDK's replacements, so nothing is imported from `env`.
 * - `-O3s` (`--optimizeLevel 3 --shrinkLevel 1`): measured against -O3, -O2s, -Os, -Oz, -O1
 *   and `--converge` on the stock capsules, it is among the smallest (~15-19 KB) and the
 *   cheapest in fuel (all within 2%: under the kernel's per-function charging the SDK's
 *   structure matters, not the flags); -O3 is 20% larger, -O0 40% larger and 30% dearer;
 *   `--converge` saves a few bytes for another optimisation round.
 */
export const ASC_FLAGS: readonly string[] = Object.freeze([
  '--runtime', 'minimal',
  '--exportStart', 'astrid_init',
  '--use', `abort=~lib/${SDK_PACKAGE}/runtime/astridAbort`,
  '--use', `trace=~lib/${SDK_PACKAGE}/runtime/astridTrace`,
  '--use', `seed=~lib/${SDK_PACKAGE}/runtime/astridSeed`,
  '--optimizeLevel', '3',
  '--shrinkLevel', '1',
  '--noColors',
]);

/** Longest compiler output quoted in a CAPSULE_BUILD_FAILED message. */
const MAX_DIAGNOSTICS_CHARS = 16 * 1024;
const OUT_NAME = 'capsule.wasm';
const CONFIG_NAME = 'asconfig.json';

export type BuildStage = 'manifest' | 'compile' | 'validate' | 'write';

/** One step of a build, for progress display. */
export interface BuildProgress {
  readonly stage: BuildStage;
  readonly message: string;
}

export interface BuildOptions {
  /** Called as each stage starts. */
  readonly onProgress?: (p: BuildProgress) => void;
  /** Directory that holds the `astrid-sdk` package (default: this installation's `sdk/assemblyscript`). */
  readonly sdkDir?: string;
}

export interface BuildResult {
  /** Absolute path of the written module. */
  readonly wasmPath: string;
  /** BLAKE3 of the module, as written into `capsule.toml`. */
  readonly hash: Blake3Hex;
  /** Size of the module. */
  readonly bytes: number;
  /** Absolute path of the rewritten `capsule.toml`. */
  readonly manifestPath: string;
  /** Compiler warnings (empty when clean). */
  readonly warnings: string;
}

function failed(message: string, details: Record<string, unknown> = {}, cause?: unknown): AstridError {
  return new AstridError('CAPSULE_BUILD_FAILED', message, {details, cause});
}

type Asc = typeof AscModule;
let ascLoading: Promise<Asc> | undefined;

function loadCompiler(): Promise<Asc> {
  ascLoading ??= import('assemblyscript/asc').catch((e: unknown) => {
    ascLoading = undefined;
    throw failed('the AssemblyScript compiler (npm package "assemblyscript") is not installed', {}, e);
  });
  return ascLoading;
}

async function exists(p: string): Promise<boolean> {
  try {
    await access(p);
    return true;
  } catch {
    return false;
  }
}

/** Find `sdk/assemblyscript` above this module (src/sandbox or dist/src/sandbox). */
async function defaultSdkDir(): Promise<string> {
  let d = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = join(d, 'sdk', 'assemblyscript');
    if (await exists(join(candidate, SDK_PACKAGE, 'index.ts'))) return candidate;
    const up = dirname(d);
    if (up === d) break;
    d = up;
  }
  throw failed(`the capsule SDK (sdk/assemblyscript/${SDK_PACKAGE}) was not found in this installation`);
}

let queue: Promise<unknown> = Promise.resolve();

/** Run builds one after another: the compiler shares one binaryen instance per process. */
function serialised<T>(job: () => Promise<T>): Promise<T> {
  const run = queue.then(job, job);
  queue = run.catch(() => undefined);
  return run;
}

interface Compiled {
  readonly wasm: Uint8Array;
  readonly warnings: string;
}

async function compile(dir: string, sdkDir: string): Promise<Compiled> {
  const asc = await loadCompiler();
  const outputs = new Map<string, Uint8Array | string>();
  const stdout = asc.createMemoryStream();
  const stderr = asc.createMemoryStream();
  const shadowed = `${sep}node_modules${sep}${SDK_PACKAGE}${sep}`;
  const result = await asc.main([CAPSULE_ENTRY, '--baseDir', dir, '--path', sdkDir, '--outFile', OUT_NAME, '--config', CONFIG_NAME, ...ASC_FLAGS], {
    stdout,
    stderr,
    readFile: async (name, baseDir) => {
      // The flags above are the whole configuration: a capsule's asconfig.json (which could
      // add transforms, i.e. run code, or change the runtime) is not read.
      if (name === CONFIG_NAME) return null;
      const p = resolve(baseDir, name);
      // "astrid-sdk" is always the SDK shipped with this kernel, never a node_modules copy.
      if (p.includes(shadowed)) return null;
      try {
        return await readFile(p, 'utf8');
      } catch {
        return null;
      }
    },
    writeFile: (name, contents) => {
      outputs.set(name, contents);
    },
    listFiles: () => [],
  });
  const text = stderr.toString().trim();
  if (result.error !== null) {
    const diagnostics = text.length > MAX_DIAGNOSTICS_CHARS ? `${text.slice(0, MAX_DIAGNOSTICS_CHARS)}\n[...]` : text;
    throw failed(`${dir}: compilation failed: ${result.error.message}\n${diagnostics}`, {dir, diagnostics}, result.error);
  }
  const wasm = outputs.get(OUT_NAME);
  if (!(wasm instanceof Uint8Array)) throw failed(`${dir}: the compiler produced no module`, {dir});
  return {wasm, warnings: text};
}

const sameTypes = (a: readonly number[], b: readonly number[]): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

/** What to use instead of an import AssemblyScript's standard library made. */
function importHint(module: string, name: string): string {
  if (module === 'env' && name.startsWith('Date')) return ' (use clockNow() from astrid-sdk)';
  if (module === 'env' || module === 'wasi_snapshot_preview1') return ' (console, process and Date are not available: use log() and the services in astrid-sdk)';
  return '';
}

/** Problems that would make install refuse the module, in words a capsule author can act on. */
function abiProblems(wasm: Uint8Array, budgetPages: number): string[] {
  const problems: string[] = [];
  const info = inspectWasm(wasm);
  for (const imp of info.imports) {
    const want = imp.module === ABI_MODULE ? ABI_IMPORTS[imp.name] : undefined;
    const got = imp.typeIndex === undefined ? undefined : info.types[imp.typeIndex];
    if (imp.kind !== 'func' || want === undefined || got === undefined || !sameTypes(want.params, got.params) || !sameTypes(want.results, got.results)) {
      const allowed = `${ABI_MODULE}.{${Object.keys(ABI_IMPORTS).join(',')}}`;
      problems.push(`imports ${imp.module}.${imp.name} (${imp.kind}): capsules may import only ${allowed}${importHint(imp.module, imp.name)}`);
    }
  }
  if (info.start !== undefined) problems.push('has a start function (top-level code must run in astrid_init)');
  if (info.memories.length !== 1) problems.push(`defines ${info.memories.length} memories (exactly one is required)`);
  const mem = info.memories[0];
  if (mem !== undefined && mem.min > budgetPages) problems.push(`needs ${mem.min} initial memory pages, more than budget.memory_pages (${budgetPages})`);
  for (const [name, kind] of Object.entries(REQUIRED_EXPORTS)) {
    if (!info.exports.some((e) => e.name === name && e.kind === kind)) {
      problems.push(`does not export ${kind} ${name}${kind === 'func' ? ` (add: export {astrid_alloc, astrid_handle} from "${SDK_PACKAGE}";)` : ''}`);
    }
  }
  return problems;
}

async function writeAtomically(path: string, data: Uint8Array | string): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  try {
    await writeFile(tmp, data);
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, {force: true});
    throw e;
  }
}

async function writeIfChanged(path: string, data: Uint8Array | string): Promise<void> {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  try {
    if (Buffer.from(await readFile(path)).equals(bytes)) return;
  } catch {
    // absent: write it
  }
  await writeAtomically(path, bytes);
}

let blake3: Promise<Blake3> | undefined;

/**
 * Compile the capsule in `dir`, write `<dir>/<module.file>` and set `module.hash` in
 * `<dir>/capsule.toml` (which is rewritten in canonical form by `manifestToml`).
 * @throws AstridError CAPSULE_MANIFEST_INVALID (or SANDBOX_ABI_VERSION) for a bad manifest;
 *   CAPSULE_BUILD_FAILED when the source is missing, does not compile (the message quotes the
 *   compiler's diagnostics), or the module would not pass install (imports outside the ABI,
 *   a start function, missing exports); the underlying I/O error for a file that cannot be written.
 */
export async function buildCapsule(dir: string, options: BuildOptions = {}): Promise<BuildResult> {
  if (typeof dir !== 'string' || dir.length === 0) throw new TypeError('dir must be a non-empty path');
  const root = resolve(dir);
  const progress = options.onProgress ?? ((): void => {});
  return serialised(async () => {
    progress({stage: 'manifest', message: `reading ${MANIFEST_FILE}`});
    const manifestPath = join(root, MANIFEST_FILE);
    let text: string;
    try {
      text = await readFile(manifestPath, 'utf8');
    } catch (e) {
      throw failed(`${root}: no readable ${MANIFEST_FILE}`, {dir: root}, e);
    }
    const manifest = parseManifest(text);
    if (!(await exists(join(root, CAPSULE_ENTRY)))) throw failed(`${root}: no ${CAPSULE_ENTRY}`, {dir: root});
    const sdkDir = options.sdkDir === undefined ? await defaultSdkDir() : resolve(options.sdkDir);

    progress({stage: 'compile', message: `compiling ${CAPSULE_ENTRY}`});
    const {wasm, warnings} = await compile(root, sdkDir);

    progress({stage: 'validate', message: 'checking the module against host ABI v1'});
    const problems = abiProblems(wasm, manifest.budget.memory_pages);
    if (problems.length > 0) {
      throw failed(`${root}: the module would be refused at install:\n- ${problems.join('\n- ')}`, {dir: root, problems});
    }

    progress({stage: 'write', message: `writing ${manifest.module.file} and ${MANIFEST_FILE}`});
    blake3 ??= Blake3.create();
    const hash = (await blake3).hex(wasm);
    const wasmPath = join(root, manifest.module.file);
    await writeIfChanged(wasmPath, wasm);
    const updated: Manifest = {...manifest, module: {file: manifest.module.file, hash}};
    await writeIfChanged(manifestPath, manifestToml(updated));
    return {wasmPath, hash, bytes: wasm.length, manifestPath, warnings};
  });
}
