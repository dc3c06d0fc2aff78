/**
 * A minimal, bounds-checked reader of a WebAssembly binary's module-level sections:
 * imports, memories, start, exports and function count. Used at install to decide
 * whether a module may be loaded at all; the engine's own WebAssembly.validate runs first,
 * so this reader only needs to be correct on valid modules (and refuse, never crash, on
 * anything else).
 */
import {AstridError} from '../errors/index.js';

export type ExternKind = 'func' | 'table' | 'memory' | 'global' | 'tag';

export interface WasmImport {
  readonly module: string;
  readonly name: string;
  readonly kind: ExternKind;
  /** Function type index for func imports. */
  readonly typeIndex?: number;
  /** Limits for memory imports. */
  readonly limits?: Limits;
}
export interface WasmExport {
  readonly name: string;
  readonly kind: ExternKind;
  readonly index: number;
}
export interface Limits {
  readonly min: number;
  readonly max: number | undefined;
  readonly shared: boolean;
  readonly memory64: boolean;
}
export interface FuncType {
  readonly params: readonly number[];
  readonly results: readonly number[];
}
export interface WasmInfo {
  readonly types: readonly FuncType[];
  readonly imports: readonly WasmImport[];
  readonly exports: readonly WasmExport[];
  /** Memories defined by the module (not imported). */
  readonly memories: readonly Limits[];
  readonly start: number | undefined;
  readonly functionCount: number;
  /** Type index of each defined function (function section). */
  readonly functionTypes: readonly number[];
}

/** The type of function `index` in the function index space (imports first), if known. */
export function typeOfFunction(info: WasmInfo, index: number): FuncType | undefined {
  const imported = info.imports.filter((i) => i.kind === 'func');
  const ti = index < imported.length ? imported[index]?.typeIndex : info.functionTypes[index - imported.length];
  return ti === undefined ? undefined : info.types[ti];
}

/** Value type bytes. */
export const VALTYPE = Object.freeze({i32: 0x7f, i64: 0x7e, f32: 0x7d, f64: 0x7c});

class Reader {
  pos = 0;
  constructor(readonly b: Uint8Array, readonly end = b.length) {}
  fail(why: string): never {
    throw new AstridError('SANDBOX_MODULE_INVALID', `malformed module at byte ${this.pos}: ${why}`);
  }
  byte(): number {
    if (this.pos >= this.end) this.fail('unexpected end');
    return this.b[this.pos++] as number;
  }
  u32(): number {
    let result = 0;
    let shift = 0;
    for (let i = 0; i < 5; i++) {
      const byte = this.byte();
      result += (byte & 0x7f) * 2 ** shift;
      if ((byte & 0x80) === 0) {
        if (result > 0xffff_ffff) this.fail('u32 out of range');
        return result;
      }
      shift += 7;
    }
    return this.fail('LEB128 too long');
  }
  u64(): number {
    let result = 0;
    let shift = 0;
    for (let i = 0; i < 10; i++) {
      const byte = this.byte();
      result += (byte & 0x7f) * 2 ** shift;
      if ((byte & 0x80) === 0) return result;
      shift += 7;
    }
    return this.fail('LEB128 too long');
  }
  bytes(n: number): Uint8Array {
    if (this.pos + n > this.end) this.fail('unexpected end');
    const out = this.b.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
  name(): string {
    const n = this.u32();
    return new TextDecoder('utf-8', {fatal: true}).decode(this.bytes(n));
  }
  limits(): Limits {
    const flags = this.byte();
    if (flags > 0x07) this.fail(`unknown limits flags ${flags}`);
    const memory64 = (flags & 0x04) !== 0;
    const min = memory64 ? this.u64() : this.u32();
    const max = flags & 0x01 ? (memory64 ? this.u64() : this.u32()) : undefined;
    return {min, max, shared: (flags & 0x02) !== 0, memory64};
  }
}

const KINDS: readonly ExternKind[] = ['func', 'table', 'memory', 'global', 'tag'];

function skipRefOrValType(r: Reader): void {
  const t = r.byte();
  // (ref null? ht) in the GC proposal: 0x63/0x64 followed by a heap type (s33)
  if (t === 0x63 || t === 0x64) r.u64();
}

/**
 * Read the module-level facts of a wasm binary.
 * @throws AstridError SANDBOX_MODULE_INVALID when the bytes are not a valid module.
 */
export function inspectWasm(bytes: Uint8Array): WasmInfo {
  if (!(bytes instanceof Uint8Array)) throw new TypeError('bytes must be a Uint8Array');
  if (!WebAssembly.validate(bytes as Uint8Array<ArrayBuffer>)) throw new AstridError('SANDBOX_MODULE_INVALID', 'not a valid WebAssembly module');
  const r = new Reader(bytes);
  const magic = r.bytes(4);
  if (magic[0] !== 0 || magic[1] !== 0x61 || magic[2] !== 0x73 || magic[3] !== 0x6d) r.fail('bad magic');
  const version = r.bytes(4);
  if (version[0] !== 1 || version[1] !== 0 || version[2] !== 0 || version[3] !== 0) r.fail('not a core module version 1');
  const types: FuncType[] = [];
  const imports: WasmImport[] = [];
  const exports: WasmExport[] = [];
  const memories: Limits[] = [];
  let start: number | undefined;
  let functionCount = 0;
  const functionTypes: number[] = [];
  while (r.pos < r.end) {
    const id = r.byte();
    const size = r.u32();
    const s = new Reader(bytes, r.pos + size);
    s.pos = r.pos;
    if (s.end > bytes.length) r.fail('section runs past the end');
    switch (id) {
      case 1: {
        const n = s.u32();
        for (let i = 0; i < n; i++) {
          const form = s.byte();
          if (form !== 0x60) {
            // rec/sub types (GC proposal): not supported by the Astrid ABI
            throw new AstridError('SANDBOX_MODULE_INVALID', 'only plain function types are supported');
          }
          const np = s.u32();
          const params: number[] = [];
          for (let j = 0; j < np; j++) params.push(s.byte());
          const nr = s.u32();
          const results: number[] = [];
          for (let j = 0; j < nr; j++) results.push(s.byte());
          types.push({params, results});
        }
        break;
      }
      case 2: {
        const n = s.u32();
        for (let i = 0; i < n; i++) {
          const module = s.name();
          const name = s.name();
          const k = s.byte();
          const kind = KINDS[k] ?? s.fail(`unknown import kind ${k}`);
          if (kind === 'func') imports.push({module, name, kind, typeIndex: s.u32()});
          else if (kind === 'memory') imports.push({module, name, kind, limits: s.limits()});
          else if (kind === 'table') {
            skipRefOrValType(s);
            s.limits();
            imports.push({module, name, kind});
          } else if (kind === 'global') {
            skipRefOrValType(s);
            s.byte();
            imports.push({module, name, kind});
          } else {
            s.byte();
            s.u32();
            imports.push({module, name, kind});
          }
        }
        break;
      }
      case 3: {
        functionCount = s.u32();
        for (let i = 0; i < functionCount; i++) functionTypes.push(s.u32());
        break;
      }
      case 5: {
        const n = s.u32();
        for (let i = 0; i < n; i++) memories.push(s.limits());
        break;
      }
      case 7: {
        const n = s.u32();
        for (let i = 0; i < n; i++) {
          const name = s.name();
          const k = s.byte();
          const kind = KINDS[k] ?? s.fail(`unknown export kind ${k}`);
          exports.push({name, kind, index: s.u32()});
        }
        break;
      }
      case 8:
        start = s.u32();
        break;
      default:
        break; // other sections are not needed here
    }
    r.pos += size;
  }
  return {types, imports, exports, memories, start, functionCount, functionTypes};
}
