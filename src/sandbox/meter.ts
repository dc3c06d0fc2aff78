/**
 * Install-time fuel and memory instrumentation of capsule modules, with binaryen.js.
 *
 * Fuel. The module gets a mutable i64 global exported as `astrid_fuel`. At every function
 * entry and every loop header (the start of the loop body, so once per iteration) we insert
 *   fuel = (tmp = fuel - COST); if (tmp < 0) unreachable
 * (tmp: an i64 local added to each function, so the comparison does not read the global again:
 * about 4% of a CPU-bound loop such as SHA-256 here), where COST is the number of binaryen IR expressions of the function body (resp. loop body)
 * outside nested loops (a nested `loop` counts 1 where it stands; its body is charged by its
 * own header), minimum 1. Every back edge in wasm targets a loop header and every call enters
 * a function, so any unbounded execution pays at least 1 per iteration or call. Bulk memory
 * and table operations do work proportional to an operand, so their size operand is also
 * charged dynamically (`size >>> 4` for memory.fill/copy/init, `delta` for table.grow),
 * just before the operation runs. COST depends only on the module bytes (and on the pinned
 * binaryen version, which decides the IR): identical inputs use identical fuel.
 *
 * Memory. The module's single defined memory becomes an import `astrid_rt.memory` with the
 * same initial size and declared maximum (binaryen's `addMemoryImport` on an existing memory
 * only sets its module/base, so the limits, the `memory` export and the data segments stay).
 * Every `memory.grow(delta)` becomes `call astrid_rt.grow(delta)`; the host grows the Memory
 * object and returns the old size in pages, or -1 when refused. `memory.size` and all other
 * memory instructions are unchanged and see the host's Memory.
 *
 * Depth. Our walk uses an explicit stack, but binaryen's binary writer recurses on the JS
 * stack (about 2,600 levels of nested expressions overflow it in Node 20). Modules whose IR
 * nests deeper than MAX_EXPRESSION_DEPTH are refused before anything is emitted; chains of
 * blocks nested in first position (br_table dispatch) are written iteratively and not counted.
 *
 * binaryen.js takes ~1.4 s to load: it is imported on first use only, once per process.
 */
import {AstridError} from '../errors/index.js';
import {FUEL_EXPORT, RT_MODULE} from './abi.js';
import {inspectWasm} from './wasm-inspect.js';
import type {WasmInfo} from './wasm-inspect.js';
import type binaryen from 'binaryen';

/**
 * Version of the instrumentation, part of the instrumented-module cache key. Bump it when the
 * instrumentation changes or when the pinned binaryen version changes (it decides the IR, hence the costs).
 */
export const METER_VERSION = 2;
/** `astrid_rt` (import module of the runtime hooks) and `astrid_fuel` (the exported i64 fuel global), defined with the ABI. */
export {RT_MODULE, FUEL_EXPORT};
/** `astrid_rt.memory`: the imported memory that replaces the module's own. */
export const RT_MEMORY = 'memory';
/** `astrid_rt.grow(delta: i32) -> i32`: old size in pages, or -1 when refused. */
export const RT_GROW = 'grow';
/** Deepest binaryen IR nesting accepted (binaryen's writer recurses on the JS stack). */
export const MAX_EXPRESSION_DEPTH = 1000;
/** Dynamic charge of memory.fill/copy/init: `size >>> MEMORY_BULK_SHIFT` (1 fuel per 16 bytes). */
export const MEMORY_BULK_SHIFT = 4;

export interface InstrumentStats {
  /** Functions instrumented (defined, not imported). */
  readonly functions: number;
  /** Loops instrumented. */
  readonly loops: number;
  /** Wall time spent instrumenting, in milliseconds (excludes loading binaryen; includes yields to the event loop). */
  readonly ms: number;
}
export interface InstrumentResult {
  /** The instrumented module (backed by a plain ArrayBuffer, ready for `new WebAssembly.Module`). */
  readonly bytes: Uint8Array<ArrayBuffer>;
  readonly stats: InstrumentStats;
}

type Binaryen = typeof binaryen;
type Module = binaryen.Module;
/** binaryen.js's `readBinary` takes the features as a second argument; its typings omit it. */
type ReadBinary = (data: Uint8Array, features: number) => Module;
/** binaryen.js's `i64.const` takes one number or bigint (its typings still say low, high; two arguments abort). */
type I64Const = (value: bigint) => number;

interface FieldSlot {
  readonly get: (e: number) => number;
  readonly set: (e: number, v: number) => void;
  /** Right shift of the dynamic charge on this operand, for bulk operations. */
  readonly chargeShift?: number;
}
interface ListSlot {
  readonly count: (e: number) => number;
  readonly getAt: (e: number, i: number) => number;
  readonly setAt: (e: number, i: number, v: number) => void;
}
interface Shape {
  readonly fields: readonly FieldSlot[];
  readonly list: ListSlot | undefined;
}
interface Toolkit {
  readonly b: Binaryen;
  readonly shapes: ReadonlyMap<number, Shape>;
  readonly loopGetBody: (e: number) => number;
  readonly loopSetBody: (e: number, v: number) => void;
  readonly fnGetBody: (f: number) => number;
  readonly fnSetBody: (f: number, v: number) => void;
  /** Add a local of `type` to a function; returns its index (the C API's BinaryenFunctionAddVar). */
  readonly fnAddVar: (f: number, type: number) => number;
  readonly blockInsertChildAt: (e: number, i: number, v: number) => void;
  readonly growGetDelta: (e: number) => number;
  readonly kindName: (id: number) => string;
}

/**
 * Child operands of every expression kind we know, by binaryen wrapper class. An expression
 * kind missing here (GC, strings, table.fill/copy/init, ...) refuses the module: its operands
 * could hide a loop we would not meter. `memory.grow` is absent on purpose: each one is
 * replaced by a call before the walk reaches it, so meeting one means we missed a rewrite.
 */
const SHAPES: ReadonlyArray<readonly [kind: string, fields: readonly string[], list?: readonly [plural: string, singular: string]]> = [
  ['Nop', []], ['LocalGet', []], ['GlobalGet', []], ['Const', []], ['MemorySize', []], ['Unreachable', []],
  ['Pop', []], ['RefNull', []], ['RefFunc', []], ['DataDrop', []], ['Rethrow', []], ['AtomicFence', []], ['TableSize', []],
  ['Block', [], ['Children', 'Child']], ['If', ['Condition', 'IfTrue', 'IfFalse']],
  ['Break', ['Condition', 'Value']], ['Switch', ['Condition', 'Value']],
  ['Call', [], ['Operands', 'Operand']], ['CallIndirect', ['Target'], ['Operands', 'Operand']],
  ['LocalSet', ['Value']], ['GlobalSet', ['Value']], ['Load', ['Ptr']], ['Store', ['Ptr', 'Value']],
  ['Unary', ['Value']], ['Binary', ['Left', 'Right']], ['Select', ['IfTrue', 'IfFalse', 'Condition']],
  ['Drop', ['Value']], ['Return', ['Value']],
  ['AtomicRMW', ['Ptr', 'Value']], ['AtomicCmpxchg', ['Ptr', 'Expected', 'Replacement']],
  ['AtomicWait', ['Ptr', 'Expected', 'Timeout']], ['AtomicNotify', ['Ptr', 'NotifyCount']],
  ['SIMDExtract', ['Vec']], ['SIMDReplace', ['Vec', 'Value']], ['SIMDShuffle', ['Left', 'Right']],
  ['SIMDTernary', ['A', 'B', 'C']], ['SIMDShift', ['Vec', 'Shift']], ['SIMDLoad', ['Ptr']],
  ['SIMDLoadStoreLane', ['Ptr', 'Vec']],
  ['MemoryInit', ['Dest', 'Offset', 'Size']], ['MemoryCopy', ['Dest', 'Source', 'Size']],
  ['MemoryFill', ['Dest', 'Value', 'Size']],
  ['RefIsNull', ['Value']], ['RefEq', ['Left', 'Right']], ['RefAs', ['Value']],
  ['TableGet', ['Index']], ['TableSet', ['Index', 'Value']], ['TableGrow', ['Value', 'Delta']],
  ['Try', ['Body'], ['CatchBodies', 'CatchBody']], ['Throw', [], ['Operands', 'Operand']],
  ['TupleMake', [], ['Operands', 'Operand']], ['TupleExtract', ['Tuple']],
];
/** Operands charged dynamically: kind -> [operand, right shift]. */
const BULK: ReadonlyMap<string, readonly [string, number]> = new Map([
  ['MemoryFill', ['Size', MEMORY_BULK_SHIFT]],
  ['MemoryCopy', ['Size', MEMORY_BULK_SHIFT]],
  ['MemoryInit', ['Size', MEMORY_BULK_SHIFT]],
  ['TableGrow', ['Delta', 0]],
] as const);

/** Features binaryen reads and writes: what Node 20's V8 runs (no GC, memory64, multi-memory...). */
function features(b: Binaryen): number {
  const f = b.Features;
  return (
    f.MutableGlobals | f.NontrappingFPToInt | f.SignExt | f.BulkMemory | f.BulkMemoryOpt | f.Multivalue |
    f.ReferenceTypes | f.CallIndirectOverlong | f.SIMD128 | f.TailCall | f.ExceptionHandling | f.Atomics
  );
}

/** binaryen.js's expression wrapper classes are not in its typings: look each method up and check it. */
function method<F>(b: Binaryen, cls: string, name: string): F {
  const c: unknown = (b as unknown as Record<string, unknown>)[cls];
  const m: unknown = typeof c === 'function' || (typeof c === 'object' && c !== null) ? (c as Record<string, unknown>)[name] : undefined;
  if (typeof m !== 'function') throw new Error(`binaryen.${cls}.${name} is missing (binaryen.js API changed)`);
  return m as F;
}
function addVar(b: Binaryen): Toolkit['fnAddVar'] {
  const f: unknown = (b as unknown as Record<string, unknown>)._BinaryenFunctionAddVar;
  if (typeof f !== 'function') throw new Error('binaryen._BinaryenFunctionAddVar is missing (binaryen.js API changed)');
  return f as Toolkit['fnAddVar'];
}
function expressionId(b: Binaryen, kind: string): number {
  const id: unknown = (b as unknown as Record<string, unknown>)[`${kind}Id`];
  if (typeof id !== 'number') throw new Error(`binaryen.${kind}Id is missing (binaryen.js API changed)`);
  return id;
}

function buildToolkit(b: Binaryen): Toolkit {
  const kindNames = new Map<number, string>();
  const ids: unknown = (b as unknown as Record<string, unknown>)['ExpressionIds'];
  if (typeof ids === 'object' && ids !== null) {
    for (const [name, id] of Object.entries(ids)) if (typeof id === 'number') kindNames.set(id, name);
  }
  const shapes = new Map<number, Shape>();
  for (const [kind, names, listNames] of SHAPES) {
    const bulk = BULK.get(kind);
    const fields = names.map((n): FieldSlot => {
      const slot = {get: method<FieldSlot['get']>(b, kind, `get${n}`), set: method<FieldSlot['set']>(b, kind, `set${n}`)};
      return bulk !== undefined && bulk[0] === n ? {...slot, chargeShift: bulk[1]} : slot;
    });
    const list =
      listNames === undefined
        ? undefined
        : {
            count: method<ListSlot['count']>(b, kind, `getNum${listNames[0]}`),
            getAt: method<ListSlot['getAt']>(b, kind, `get${listNames[1]}At`),
            setAt: method<ListSlot['setAt']>(b, kind, `set${listNames[1]}At`),
          };
    shapes.set(expressionId(b, kind), {fields, list});
  }
  return {
    b,
    shapes,
    loopGetBody: method(b, 'Loop', 'getBody'),
    loopSetBody: method(b, 'Loop', 'setBody'),
    fnGetBody: method(b, 'Function', 'getBody'),
    fnSetBody: method(b, 'Function', 'setBody'),
    fnAddVar: addVar(b),
    blockInsertChildAt: method(b, 'Block', 'insertChildAt'),
    growGetDelta: method(b, 'MemoryGrow', 'getDelta'),
    kindName: (id) => kindNames.get(id) ?? `id ${id}`,
  };
}

let toolkit: Promise<Toolkit> | undefined;
/** Load binaryen.js once per process (a failed load may be retried). */
function loadToolkit(): Promise<Toolkit> {
  if (toolkit === undefined) {
    const p = import('binaryen').then(({default: b}) => buildToolkit(b));
    toolkit = p;
    p.catch(() => {
      if (toolkit === p) toolkit = undefined;
    });
  }
  return toolkit;
}

const invalid = (message: string, cause?: unknown): AstridError =>
  new AstridError('SANDBOX_MODULE_INVALID', message, cause === undefined ? {} : {cause});

/** Wraps an error thrown by the caller's onProgress, so it propagates unchanged. */
class CallerError {
  constructor(readonly error: unknown) {}
}

/** Per-module instrumentation state. */
class Instrumenter {
  private readonly m: Module;
  private readonly b: Binaryen;
  private readonly blockId: number;
  private readonly loopId: number;
  private readonly growId: number;
  private scratch: string | undefined;
  /** The i64 local of the function being instrumented that holds the fuel just charged (see charge()). */
  private tmp = -1;
  loops = 0;

  constructor(
    private readonly tk: Toolkit,
    m: Module,
    private readonly fuel: string,
    private readonly grow: string,
  ) {
    this.m = m;
    this.b = tk.b;
    this.blockId = this.b.BlockId;
    this.loopId = this.b.LoopId;
    this.growId = this.b.MemoryGrowId;
  }

  /** Meter one defined function: count, rewrite memory.grow and bulk operands, insert the checks. */
  instrumentFunction(func: number): void {
    const {tk, b} = this;
    const getId = b.getExpressionId;
    const costs: number[] = [0];
    const loopRefs: number[] = [];
    const exprs: number[] = [];
    const regions: number[] = [];
    const depths: number[] = [];
    const push = (e: number, region: number, depth: number): void => {
      if (depth > MAX_EXPRESSION_DEPTH) {
        throw invalid(`expression nesting deeper than ${MAX_EXPRESSION_DEPTH} in function ${b.getFunctionInfo(func).name}`);
      }
      exprs.push(e);
      regions.push(region);
      depths.push(depth);
    };
    this.tmp = tk.fnAddVar(func, b.i64);
    let body = tk.fnGetBody(func);
    if (getId(body) === this.growId) tk.fnSetBody(func, (body = this.growCall(body)));
    push(body, 0, 2);
    while (exprs.length > 0) {
      const e = exprs.pop() as number;
      const region = regions.pop() as number;
      const depth = depths.pop() as number;
      costs[region] = (costs[region] as number) + 1;
      const id = getId(e);
      if (id === this.loopId) {
        const inner = costs.length;
        costs.push(0);
        loopRefs.push(e);
        let lb = tk.loopGetBody(e);
        if (getId(lb) === this.growId) tk.loopSetBody(e, (lb = this.growCall(lb)));
        push(lb, inner, depth + 2);
        continue;
      }
      const shape = tk.shapes.get(id);
      if (shape === undefined) {
        const name = b.getFunctionInfo(func).name;
        throw invalid(`unsupported instruction in function ${name} (binaryen expression ${tk.kindName(id)})`);
      }
      for (const slot of shape.fields) {
        let c = slot.get(e);
        if (c === 0) continue;
        if (getId(c) === this.growId) slot.set(e, (c = this.growCall(c)));
        if (slot.chargeShift !== undefined && b.getExpressionType(c) !== b.unreachable) {
          slot.set(e, this.chargeOperand(c, slot.chargeShift));
          push(c, region, depth + 3);
        } else push(c, region, depth + 1);
      }
      const list = shape.list;
      if (list !== undefined) {
        const n = list.count(e);
        for (let i = 0; i < n; i++) {
          let c = list.getAt(e, i);
          if (c === 0) continue;
          const cid = getId(c);
          if (cid === this.growId) list.setAt(e, i, (c = this.growCall(c)));
          // binaryen writes a chain of blocks nested in first position without recursing
          push(c, region, id === this.blockId && i === 0 && cid === this.blockId ? depth : depth + 1);
        }
      }
    }
    const entry = this.prependCheck(tk.fnGetBody(func), Math.max(1, costs[0] as number));
    if (entry !== undefined) tk.fnSetBody(func, entry);
    for (let i = 0; i < loopRefs.length; i++) {
      const loop = loopRefs[i] as number;
      const lb = this.prependCheck(tk.loopGetBody(loop), Math.max(1, costs[i + 1] as number));
      if (lb !== undefined) tk.loopSetBody(loop, lb);
    }
    this.loops += loopRefs.length;
  }

  /** `fuel = (tmp = fuel - cost); if (tmp < 0) unreachable` before `body`. Returns a new body, or undefined if inserted in place. */
  private prependCheck(body: number, cost: number): number | undefined {
    const {m, b} = this;
    const [set, check] = this.charge(this.i64(cost));
    if (b.getExpressionId(body) === this.blockId) {
      this.tk.blockInsertChildAt(body, 0, check);
      this.tk.blockInsertChildAt(body, 0, set);
      return undefined;
    }
    return m.block(null, [set, check, body], b.getExpressionType(body));
  }

  /** The two statements that take `amount` (an i64 expression) from the fuel and trap below zero. */
  private charge(amount: number): [number, number] {
    const {m, b} = this;
    const set = m.global.set(this.fuel, m.local.tee(this.tmp, m.i64.sub(m.global.get(this.fuel, b.i64), amount), b.i64));
    const check = m.if(m.i64.lt_s(m.local.get(this.tmp, b.i64), this.i64(0)), m.unreachable());
    return [set, check];
  }

  /** `(scratch = operand; fuel -= scratch >>> shift; if (fuel < 0) unreachable; scratch)`, evaluated in place of `operand`. */
  private chargeOperand(operand: number, shift: number): number {
    const {m, b} = this;
    if (this.scratch === undefined) {
      this.scratch = freshName((n) => m.getGlobal(n) !== 0, 'astrid$scratch');
      m.addGlobal(this.scratch, b.i32, true, m.i32.const(0));
    }
    const s = this.scratch;
    const units = shift === 0 ? m.global.get(s, b.i32) : m.i32.shr_u(m.global.get(s, b.i32), m.i32.const(shift));
    const [set, check] = this.charge(m.i64.extend_u(units));
    return m.block(null, [m.global.set(s, operand), set, check, m.global.get(s, b.i32)], b.i32);
  }

  private i64(value: number): number {
    return (this.m.i64.const as unknown as I64Const)(BigInt(value));
  }

  private growCall(memoryGrow: number): number {
    return this.m.call(this.grow, [this.tk.growGetDelta(memoryGrow)], this.b.i32);
  }
}

function freshName(taken: (name: string) => boolean, base: string): string {
  let name = base;
  for (let i = 1; taken(name); i++) name = `${base}${i}`;
  return name;
}

const importKey = (i: {module: string; name: string; kind: string}): string => `${i.kind} ${i.module}.${i.name}`;

/** Refuse what the instrumentation cannot handle (the validator should have refused it already). */
function precheck(info: WasmInfo): void {
  const mem = info.memories[0];
  if (info.memories.length !== 1 || mem === undefined || info.imports.some((i) => i.kind === 'memory')) {
    throw invalid('the module must define exactly one memory and import none');
  }
  if (mem.shared || mem.memory64) throw invalid('the memory must be unshared and 32-bit');
  if (!info.exports.some((e) => e.kind === 'memory')) throw invalid('the memory must be exported');
  if (info.imports.some((i) => i.module === RT_MODULE)) throw invalid(`the module imports from the reserved module ${RT_MODULE}`);
  if (info.exports.some((e) => e.name === FUEL_EXPORT)) throw invalid(`the module exports the reserved name ${FUEL_EXPORT}`);
  // the fuel starts at 0, so a start function would trap at instantiation (and the ABI denies it)
  if (info.start !== undefined) throw invalid('the module has a start function');
}

/** Check the emitted module against the original: same imports plus ours, same exports plus the fuel. */
function postcheck(before: WasmInfo, after: WasmInfo): void {
  const memBefore = before.memories[0];
  const want = new Set(before.imports.map(importKey));
  want.add(`memory ${RT_MODULE}.${RT_MEMORY}`);
  want.add(`func ${RT_MODULE}.${RT_GROW}`);
  const got = new Set(after.imports.map(importKey));
  const memAfter = after.imports.find((i) => i.kind === 'memory')?.limits;
  const exportsBefore = new Set(before.exports.map((e) => `${e.kind} ${e.name}`));
  exportsBefore.add(`global ${FUEL_EXPORT}`);
  const exportsAfter = new Set(after.exports.map((e) => `${e.kind} ${e.name}`));
  const ok =
    want.size === got.size &&
    [...want].every((k) => got.has(k)) &&
    after.memories.length === 0 &&
    memAfter !== undefined &&
    memAfter.min === memBefore?.min &&
    memAfter.max === memBefore.max &&
    exportsBefore.size === exportsAfter.size &&
    [...exportsBefore].every((k) => exportsAfter.has(k)) &&
    after.start === undefined;
  if (!ok) throw invalid('instrumentation post-condition failed: imports, exports or memory changed unexpectedly');
}

const yieldToLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Instrument an already-validated module: fuel at function entries and loop headers, its
 * memory imported from `astrid_rt.memory`, `memory.grow` routed to `astrid_rt.grow`.
 * Yields to the event loop every ~20 ms on large modules.
 * @param options.onProgress called after each function with (done, total defined functions).
 * @throws AstridError SANDBOX_MODULE_INVALID if binaryen cannot read it, it uses an
 *   instruction or nesting we cannot meter, or the result does not validate.
 * @throws Error when binaryen.js cannot be loaded; whatever `onProgress` throws.
 */
export async function instrument(
  original: Uint8Array,
  options: {onProgress?: (done: number, total: number) => void} = {},
): Promise<InstrumentResult> {
  if (!(original instanceof Uint8Array)) throw new TypeError('original must be a Uint8Array');
  const before = inspectWasm(original);
  precheck(before);
  const tk = await loadToolkit();
  const b = tk.b;
  const t0 = performance.now();
  let m: Module;
  try {
    m = (b.readBinary as unknown as ReadBinary)(original, features(b));
  } catch (e) {
    throw invalid('binaryen cannot read the module', e);
  }
  try {
    m.setFeatures(features(b)); // a target_features section may have added some: validate and write with ours
    const fuel = freshName((n) => m.getGlobal(n) !== 0, 'astrid$fuel');
    m.addGlobal(fuel, b.i64, true, (m.i64.const as unknown as I64Const)(0n));
    m.addGlobalExport(fuel, FUEL_EXPORT);
    const grow = freshName((n) => m.getFunction(n) !== 0, 'astrid$grow');
    // the functions to meter: defined ones (imported ones have a module name), before we add our import
    const defined: number[] = [];
    for (let i = 0, n = m.getNumFunctions(); i < n; i++) {
      const f = m.getFunctionByIndex(i);
      if (!b.getFunctionInfo(f).module) defined.push(f);
    }
    m.addFunctionImport(grow, RT_MODULE, RT_GROW, b.createType([b.i32]), b.i32);
    const memName = exportedMemoryName(b, m);
    if (memName === undefined) throw invalid('the memory must be exported');
    m.addMemoryImport(memName, RT_MODULE, RT_MEMORY);
    const ins = new Instrumenter(tk, m, fuel, grow);
    let lastYield = performance.now();
    for (let i = 0; i < defined.length; i++) {
      ins.instrumentFunction(defined[i] as number);
      try {
        options.onProgress?.(i + 1, defined.length);
      } catch (e) {
        throw new CallerError(e);
      }
      if (performance.now() - lastYield > 20) {
        await yieldToLoop();
        lastYield = performance.now();
      }
    }
    if (!m.validate()) throw invalid('the instrumented module does not validate');
    const bytes = m.emitBinary() as Uint8Array<ArrayBuffer>;
    const after = inspectWasm(bytes);
    postcheck(before, after);
    return {bytes, stats: {functions: defined.length, loops: ins.loops, ms: performance.now() - t0}};
  } catch (e) {
    if (e instanceof CallerError) throw e.error;
    if (e instanceof AstridError) throw e;
    throw invalid('instrumentation failed', e);
  } finally {
    m.dispose();
  }
}

function exportedMemoryName(b: Binaryen, m: Module): string | undefined {
  for (let i = 0, n = m.getNumExports(); i < n; i++) {
    const info = b.getExportInfo(m.getExportByIndex(i));
    if (info.kind === b.ExternalMemory) return info.value;
  }
  return undefined;
}
