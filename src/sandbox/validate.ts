/**
 * Install-time validation of a capsule module against ABI v1 (docs/abi.md, "Module
 * requirements"): imports only from the `astrid` table with exact signatures, exactly one
 * defined 32-bit unshared memory whose initial size fits the budget, no start function,
 * the required exports with the right types. Everything else refuses the load.
 */
import {AstridError} from '../errors/index.js';
import {ABI_IMPORTS, ABI_MODULE, OPTIONAL_EXPORTS, REQUIRED_EXPORTS} from './abi.js';
import {inspectWasm, typeOfFunction, VALTYPE, type FuncType, type Limits, type WasmInfo} from './wasm-inspect.js';
import type {Budget} from './manifest.js';

export interface ValidatedModule {
  readonly info: WasmInfo;
  readonly memory: Limits;
  readonly hasInit: boolean;
}

const sig = (t: FuncType | undefined): string => (t === undefined ? '?' : `(${t.params.join(',')})->(${t.results.join(',')})`);

const {i32} = VALTYPE;
/** Required signatures of the capsule's exported functions. */
const EXPORT_SIGS: Readonly<Record<string, FuncType>> = {
  astrid_alloc: {params: [i32], results: [i32]},
  astrid_handle: {params: [i32, i32], results: [i32]},
  astrid_init: {params: [], results: []},
};

/**
 * Validate `bytes` as a capsule module for `budget`.
 * @throws AstridError SANDBOX_MODULE_INVALID, SANDBOX_IMPORT_DENIED (naming the import),
 *   SANDBOX_START_DENIED, SANDBOX_MEMORY_INVALID, SANDBOX_EXPORT_MISSING.
 */
export function validateCapsuleModule(bytes: Uint8Array, budget: Budget): ValidatedModule {
  const info = inspectWasm(bytes);
  for (const imp of info.imports) {
    const name = `${imp.module}.${imp.name}`;
    const expected = imp.module === ABI_MODULE && imp.kind === 'func' ? ABI_IMPORTS[imp.name] : undefined;
    if (expected === undefined) {
      throw new AstridError('SANDBOX_IMPORT_DENIED', `import ${name} (${imp.kind}) is not part of the Astrid ABI v1`, {details: {import: name}});
    }
    const t = imp.typeIndex === undefined ? undefined : info.types[imp.typeIndex];
    if (t === undefined || sig(t) !== sig(expected)) {
      throw new AstridError('SANDBOX_IMPORT_DENIED', `import ${name} has signature ${sig(t)}, ABI v1 requires ${sig(expected)}`, {
        details: {import: name},
      });
    }
  }
  if (info.start !== undefined) {
    throw new AstridError('SANDBOX_START_DENIED', 'the module has a start function; initialise in an exported astrid_init instead');
  }
  if (info.memories.length !== 1) {
    throw new AstridError('SANDBOX_MEMORY_INVALID', `the module must define exactly one memory, it defines ${info.memories.length}`);
  }
  const memory = info.memories[0] as Limits;
  if (memory.shared || memory.memory64) throw new AstridError('SANDBOX_MEMORY_INVALID', 'shared and 64-bit memories are not allowed');
  if (memory.min > budget.memory_pages) {
    throw new AstridError('SANDBOX_MEMORY_INVALID', `the memory starts at ${memory.min} pages, over the budget of ${budget.memory_pages}`, {
      details: {initial: memory.min, budget: budget.memory_pages},
    });
  }
  for (const [name, kind] of Object.entries(REQUIRED_EXPORTS)) {
    if (!info.exports.some((e) => e.name === name && e.kind === kind)) {
      throw new AstridError('SANDBOX_EXPORT_MISSING', `the module does not export ${kind} ${name}`, {details: {export: name}});
    }
  }
  const mem = info.exports.find((e) => e.name === 'memory');
  if (mem !== undefined && mem.index !== 0) throw new AstridError('SANDBOX_MEMORY_INVALID', 'the exported memory must be the module memory');
  for (const e of info.exports) {
    const want = EXPORT_SIGS[e.name];
    if (want === undefined || e.kind !== 'func') continue;
    const have = typeOfFunction(info, e.index);
    if (sig(have) !== sig(want)) {
      throw new AstridError('SANDBOX_EXPORT_MISSING', `export ${e.name} has signature ${sig(have)}, ABI v1 requires ${sig(want)}`, {
        details: {export: e.name},
      });
    }
  }
  const hasInit = info.exports.some((e) => e.name === 'astrid_init' && e.kind === OPTIONAL_EXPORTS.astrid_init);
  return {info, memory, hasInit};
}

