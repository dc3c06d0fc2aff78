// Proves instrumented modules compute what the originals do, pay deterministic fuel per call, loop iteration and bulk byte, route memory.grow through astrid_rt.grow, add only astrid_rt imports, and that unmeterable modules are refused.
import {test, describe, before} from 'node:test';
import {strict as assert} from 'node:assert';
import {readFileSync} from 'node:fs';
import {join} from 'node:path';
import {instrument, FUEL_EXPORT, RT_MODULE, MAX_EXPRESSION_DEPTH, MEMORY_BULK_SHIFT} from '../../src/sandbox/meter.js';
import {inspectWasm} from '../../src/sandbox/wasm-inspect.js';
import {isAstridError} from '../../src/errors/index.js';
import {repoRoot} from '../helpers/index.js';
import type wabtInit from 'wabt';

type Wabt = Awaited<ReturnType<typeof wabtInit>>;
let wabt: Wabt;

function wat(text: string, name = 'inline.wat'): Uint8Array<ArrayBuffer> {
  const m = wabt.parseWat(name, text, {multi_value: true, bulk_memory: true, reference_types: true, exceptions: true, tail_call: true, simd: true});
  try {
    m.validate();
    return m.toBinary({}).buffer as Uint8Array<ArrayBuffer>;
  } finally {
    m.destroy();
  }
}
const fixture = (name: string): Uint8Array<ArrayBuffer> => wat(readFileSync(join(repoRoot, 'test/fixtures/meter', name), 'utf8'), name);

type Arg = number | bigint;
type Outcome = {readonly value: unknown} | {readonly trap: string};

function call(instance: WebAssembly.Instance, name: string, args: readonly Arg[]): Outcome {
  const f = instance.exports[name];
  assert.equal(typeof f, 'function', `export ${name}`);
  try {
    return {value: (f as (...a: Arg[]) => unknown)(...args)};
  } catch (e) {
    if (e instanceof WebAssembly.RuntimeError) return {trap: e.message};
    throw e;
  }
}

interface Metered {
  readonly instance: WebAssembly.Instance;
  readonly memory: WebAssembly.Memory;
  readonly fuel: WebAssembly.Global;
  /** Every delta astrid_rt.grow was called with. */
  readonly grows: number[];
}

/** Instantiate an instrumented module the way the host will: our Memory, our grow. */
function metered(bytes: Uint8Array<ArrayBuffer>, opts: {initial: number; maximum?: number; refuse?: boolean}): Metered {
  const memory = new WebAssembly.Memory(opts.maximum === undefined ? {initial: opts.initial} : {initial: opts.initial, maximum: opts.maximum});
  const grows: number[] = [];
  const grow = (delta: number): number => {
    grows.push(delta);
    if (opts.refuse === true) return -1;
    try {
      return memory.grow(delta >>> 0); // the guest's i32 arrives signed; memory.grow's delta is unsigned
    } catch (e) {
      if (e instanceof RangeError) return -1;
      throw e;
    }
  };
  const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), {[RT_MODULE]: {memory, grow}});
  const fuel = instance.exports[FUEL_EXPORT];
  assert.ok(fuel instanceof WebAssembly.Global);
  return {instance, memory, fuel, grows};
}

const AMPLE = 1n << 60n;

/** Fuel one call uses, starting from ample fuel. */
function fuelUsed(m: Metered, name: string, ...args: Arg[]): bigint {
  m.fuel.value = AMPLE;
  const out = call(m.instance, name, args);
  assert.ok('value' in out, `${name}(${args.join(', ')}) trapped`);
  return AMPLE - (m.fuel.value as bigint);
}

async function assertRefused(bytes: Uint8Array, pattern: RegExp): Promise<void> {
  await assert.rejects(instrument(bytes), (e: unknown) => {
    assert.ok(isAstridError(e, 'SANDBOX_MODULE_INVALID'), String(e));
    assert.match(e.message, pattern);
    return true;
  });
}

let programs: Uint8Array<ArrayBuffer>;
let programsMetered: Uint8Array<ArrayBuffer>;
before(async () => {
  wabt = await (((await import('wabt')) as unknown as {default: typeof wabtInit}).default)();
  programs = fixture('programs.wat');
  programsMetered = (await instrument(programs)).bytes;
});
const freshPrograms = (opts: {refuse?: boolean; maximum?: number} = {}): Metered =>
  metered(programsMetered, {initial: 1, maximum: opts.maximum ?? 4, refuse: opts.refuse});

describe('hostile modules', () => {
  test('an infinite loop traps with the fuel below zero', async () => {
    const m = metered((await instrument(fixture('spin.wat'))).bytes, {initial: 1});
    m.fuel.value = 10_000n;
    assert.deepEqual(call(m.instance, 'spin', []), {trap: 'unreachable'});
    assert.ok((m.fuel.value as bigint) < 0n);
  });

  test('unbounded recursion without a loop runs out of fuel before the stack', async () => {
    const m = metered((await instrument(fixture('spin.wat'))).bytes, {initial: 1});
    m.fuel.value = 1000n;
    assert.deepEqual(call(m.instance, 'recurse', []), {trap: 'unreachable'});
    assert.ok((m.fuel.value as bigint) < 0n);
  });

  test('a loop of whole-memory fills is charged for the bytes, not only the instructions', async () => {
    const m = metered((await instrument(fixture('spin.wat'))).bytes, {initial: 1});
    m.fuel.value = 1_000_000n;
    assert.deepEqual(call(m.instance, 'fill_forever', []), {trap: 'unreachable'});
    assert.ok((m.fuel.value as bigint) < 0n);
    // each round pays 65532 >> 4 = 4095 for the fill, so at most 245 rounds ran (not ~60,000)
    const rounds = new Uint32Array(m.memory.buffer, 0, 1)[0] as number;
    assert.ok(rounds > 200 && rounds <= 245, `${rounds} rounds`);
  });

  test('refuses bytes that are not a module', async () => {
    await assertRefused(new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 1, 5]), /valid/);
  });

  test('refuses a module exporting the fuel counter name itself', async () => {
    await assertRefused(fixture('reserved.wat'), /astrid_fuel/);
  });

  test('refuses a module importing from astrid_rt itself', async () => {
    await assertRefused(wat('(module (import "astrid_rt" "grow" (func (param i32) (result i32))) (memory (export "memory") 1))'), /astrid_rt/);
  });

  test('refuses a module without its own memory, or with an imported one', async () => {
    await assertRefused(wat('(module (func (export "f")))'), /one memory/);
    await assertRefused(wat('(module (import "astrid" "mem" (memory 1)) (export "memory" (memory 0)))'), /one memory/);
  });

  test('refuses an instruction whose operands it cannot walk (a loop could hide there)', async () => {
    await assertRefused(fixture('table-fill.wat'), /unsupported instruction/);
  });

  test('refuses nesting deeper than binaryen can write, and keeps working afterwards', async () => {
    const deep = wat(`(module (memory (export "memory") 1) (func (export "f") (param i32) (result i32) local.get 0 ${'i32.eqz\n'.repeat(5000)}))`);
    await assertRefused(deep, /nesting deeper than/);
    const again = await instrument(programs);
    assert.deepEqual(again.bytes, programsMetered);
  });
});

describe('fuel', () => {
  test('the same call uses the same fuel on two fresh instances, and instrumenting is deterministic', async () => {
    const [a, b] = [freshPrograms(), freshPrograms()];
    for (const [name, ...args] of [['sum', 500], ['nested', 9], ['fib', 12], ['dispatch', 2], ['checksum', 100]] as const) {
      assert.equal(fuelUsed(a, name, ...args), fuelUsed(b, name, ...args), name);
    }
    assert.deepEqual((await instrument(programs)).bytes, programsMetered);
  });

  test('more iterations use more fuel, exactly linearly', () => {
    const m = freshPrograms();
    const [u10, u100, u1000] = [10, 100, 1000].map((n) => fuelUsed(m, 'sum', n)) as [bigint, bigint, bigint];
    assert.ok(u10 < u100 && u100 < u1000);
    assert.equal(u1000 - u10, 11n * (u100 - u10));
    const [n3, n6] = [3, 6].map((n) => fuelUsed(m, 'nested', n)) as [bigint, bigint];
    assert.ok(n6 > 3n * n3, 'nested loops grow faster than linearly');
  });

  test('recursion is charged per call', () => {
    const m = freshPrograms();
    // fib(n) makes 2 * fib(n + 1) - 1 calls: 15 for n = 5, 177 for n = 10; each pays the same entry cost
    assert.equal(fuelUsed(m, 'fib', 10) * 15n, fuelUsed(m, 'fib', 5) * 177n);
    assert.equal(fuelUsed(m, 'fact', 20n), 20n * fuelUsed(m, 'fact', 1n));
  });

  test('exactly the fuel a call needs lets it finish at zero; one less traps below zero', () => {
    const need = fuelUsed(freshPrograms(), 'sum', 100);
    const enough = freshPrograms();
    enough.fuel.value = need;
    assert.deepEqual(call(enough.instance, 'sum', [100]), {value: 4950});
    assert.equal(enough.fuel.value, 0n);
    const short = freshPrograms();
    short.fuel.value = need - 1n;
    assert.deepEqual(call(short.instance, 'sum', [100]), {trap: 'unreachable'});
    assert.ok((short.fuel.value as bigint) < 0n);
  });

  test('bulk memory operations are charged for their size', () => {
    const m = freshPrograms();
    const perKiB = 1024n >> BigInt(MEMORY_BULK_SHIFT);
    assert.equal(fuelUsed(m, 'fill', 0, 1, 65536) - fuelUsed(m, 'fill', 0, 1, 0), 64n * perKiB);
    assert.equal(fuelUsed(m, 'copy', 0, 1024, 4096) - fuelUsed(m, 'copy', 0, 1024, 0), 4n * perKiB);
  });
});

describe('semantics', () => {
  const SCENARIO: ReadonlyArray<readonly [string, ...Arg[]]> = [
    ['sum', 0], ['sum', 10], ['sum', 1000], ['nested', 0], ['nested', 7], ['loop_in_operand', 5],
    ['fib', 0], ['fib', 1], ['fib', 15], ['fact', 0n], ['fact', 20n],
    ['dispatch', 0], ['dispatch', 1], ['dispatch', 2], ['dispatch', 3], ['dispatch', -1],
    ['ifelse', 7], ['ifelse', 8], ['blockres', 3], ['blockres', 30],
    ['pair', 0], ['pair', 5], ['multi', 0], ['multi', 9],
    ['store_load', 64, 0x01020304], ['checksum', 64], ['size'],
    ['grow', 1], ['size'], ['grow_plus', 1], ['grow', 2], ['grow', -1], ['size'],
    ['fill', 100, 0xab, 50], ['copy', 200, 100, 50], ['checksum', 300],
    ['store_load', 3 * 65536 - 4, 7], ['fill', 3 * 65536, 0, 2 * 65536], ['copy', 0, 3 * 65536 - 10, 20],
    ['trap_unreachable'], ['div', 7, 2], ['div', 1, 0], ['div', -2147483648, -1],
    ['load_at', 10 * 65536], ['load_at', -1], ['load_at', 3 * 65536 - 4],
    ['indirect', 1, 21], ['indirect', 0, 1], ['indirect', 5, 1], ['checksum', 256],
  ];

  test('every program returns, traps and leaves memory exactly as the original', () => {
    const original = new WebAssembly.Instance(new WebAssembly.Module(programs));
    const originalMemory = original.exports['memory'];
    assert.ok(originalMemory instanceof WebAssembly.Memory);
    const m = freshPrograms();
    m.fuel.value = AMPLE;
    const traps = new Set<string>();
    for (const [name, ...args] of SCENARIO) {
      const want = call(original, name, args);
      assert.deepEqual(call(m.instance, name, args), want, `${name}(${args.join(', ')})`);
      if ('trap' in want) traps.add(want.trap);
      assert.deepEqual(new Uint8Array(m.memory.buffer), new Uint8Array(originalMemory.buffer), `memory after ${name}`);
    }
    assert.ok(traps.size >= 5, `trap kinds exercised: ${[...traps].join('; ')}`);
    assert.ok((m.fuel.value as bigint) > 0n);
  });

  test('post-MVP features Node 20 runs (exceptions, tail calls, SIMD, loop parameters) compute the same', async () => {
    const bytes = fixture('features.wat');
    const original = new WebAssembly.Instance(new WebAssembly.Module(bytes));
    const m = metered((await instrument(bytes)).bytes, {initial: 1});
    m.fuel.value = AMPLE;
    const cases: ReadonlyArray<readonly [string, ...Arg[]]> = [
      ['eh', 0], ['eh', 5], ['tail', 0], ['tail', 200_000], ['simd', 10], ['loop_params', 0], ['loop_params', 10],
      ['convert', 1e12], ['convert', -3.7], ['convert', Number.NaN],
    ];
    for (const [name, ...args] of cases) assert.deepEqual(call(m.instance, name, args), call(original, name, args), `${name}(${args.join(', ')})`);
  });

  test("real compiler output (hash-wasm's clang-built BLAKE3) hashes identically", async () => {
    const umd = readFileSync(join(repoRoot, 'node_modules/hash-wasm/dist/blake3.umd.min.js'), 'utf8');
    const base64 = /"(AGFzbQ[A-Za-z0-9+/=]+)"/.exec(umd)?.[1];
    assert.ok(base64 !== undefined, 'the BLAKE3 module is inlined in hash-wasm as base64');
    const bytes = new Uint8Array(Buffer.from(base64, 'base64'));
    const mem = inspectWasm(bytes).memories[0];
    assert.ok(mem !== undefined);
    const original = new WebAssembly.Instance(new WebAssembly.Module(bytes));
    const originalMemory = original.exports['memory'];
    assert.ok(originalMemory instanceof WebAssembly.Memory);
    const r = await instrument(bytes);
    assert.ok(r.stats.loops > 0);
    const m = metered(r.bytes, {initial: mem.min, maximum: mem.max});
    m.fuel.value = AMPLE;
    const digest = (instance: WebAssembly.Instance, memory: WebAssembly.Memory): string => {
      const fn = (name: string) => instance.exports[name] as (...a: number[]) => number;
      const buffer = fn('Hash_GetBuffer')();
      fn('Hash_Init')(256);
      for (let chunk = 0; chunk < 8; chunk++) {
        new Uint8Array(memory.buffer, buffer, 8192).forEach((_, i, a) => (a[i] = (i * 31 + chunk) & 0xff));
        fn('Hash_Update')(8192);
      }
      fn('Hash_Final')(32);
      return Buffer.from(new Uint8Array(memory.buffer, buffer, 32)).toString('hex');
    };
    assert.equal(digest(m.instance, m.memory), digest(original, originalMemory));
    assert.ok((m.fuel.value as bigint) < AMPLE);
  });

  test('a br_table dispatch over 3,000 nested blocks is accepted and dispatches the same', async () => {
    const bytes = brTableModule(3000);
    const original = new WebAssembly.Instance(new WebAssembly.Module(bytes));
    const m = metered((await instrument(bytes)).bytes, {initial: 1});
    m.fuel.value = AMPLE;
    for (const k of [0, 1, 1500, 2998, 2999, 5000, -1]) assert.deepEqual(call(m.instance, 'f', [k]), call(original, 'f', [k]));
  });

  test(`an expression chain just under the nesting limit (${MAX_EXPRESSION_DEPTH}) is accepted and computes the same`, async () => {
    const bytes = wat(`(module (memory (export "memory") 1) (func (export "f") (param i32) (result i32) local.get 0 ${'i32.eqz\n'.repeat(MAX_EXPRESSION_DEPTH - 10)}))`);
    const original = new WebAssembly.Instance(new WebAssembly.Module(bytes));
    const m = metered((await instrument(bytes)).bytes, {initial: 1});
    m.fuel.value = AMPLE;
    for (const x of [0, 1, 7]) assert.deepEqual(call(m.instance, 'f', [x]), call(original, 'f', [x]));
  });
});

describe('memory and grow', () => {
  test('memory.grow calls astrid_rt.grow, and a refusal reaches the guest as -1', () => {
    const m = freshPrograms({refuse: true});
    m.fuel.value = AMPLE;
    assert.deepEqual(call(m.instance, 'grow', [1]), {value: -1});
    assert.deepEqual(call(m.instance, 'grow_plus', [2]), {value: 999});
    assert.deepEqual(m.grows, [1, 2]);
    assert.deepEqual(call(m.instance, 'size', []), {value: 1});
    assert.equal(m.memory.buffer.byteLength, 65536);
  });

  test('an accepted growth returns the old size and the guest sees the host memory grow', () => {
    const m = freshPrograms();
    m.fuel.value = AMPLE;
    assert.deepEqual(call(m.instance, 'grow', [2]), {value: 1});
    assert.deepEqual(m.grows, [2]);
    assert.deepEqual(call(m.instance, 'size', []), {value: 3});
    assert.deepEqual(call(m.instance, 'store_load', [3 * 65536 - 4, 5]), {value: 5 + 0x61});
  });

  test('the host memory may be clamped below the declared maximum, never above it', () => {
    const m = freshPrograms({maximum: 2});
    m.fuel.value = AMPLE;
    assert.deepEqual(call(m.instance, 'grow', [2]), {value: -1});
    assert.deepEqual(call(m.instance, 'grow', [1]), {value: 1});
    assert.throws(() => freshPrograms({maximum: 5}), WebAssembly.LinkError);
  });

  test('the imported memory keeps the declared limits and the data segments', async () => {
    const capsule = fixture('capsule.wat');
    const after = inspectWasm((await instrument(capsule)).bytes);
    const mem = after.imports.find((i) => i.kind === 'memory');
    assert.deepEqual(mem && {module: mem.module, name: mem.name, min: mem.limits?.min, max: mem.limits?.max}, {module: RT_MODULE, name: 'memory', min: 2, max: 16});
    assert.equal(after.memories.length, 0);
    const m = freshPrograms();
    assert.equal(new TextDecoder().decode(new Uint8Array(m.memory.buffer, 16, 20)), 'astrid meter fixture');
  });
});

describe('imports and exports', () => {
  test('adds only astrid_rt imports and the fuel export', async () => {
    const capsule = fixture('capsule.wat');
    const before = new WebAssembly.Module(capsule);
    const after = new WebAssembly.Module((await instrument(capsule)).bytes);
    const key = (i: {module: string; name: string; kind: string}): string => `${i.kind} ${i.module}.${i.name}`;
    const was = new Set(WebAssembly.Module.imports(before).map(key));
    const added = WebAssembly.Module.imports(after).filter((i) => !was.has(key(i)));
    assert.deepEqual(added.map(key).sort(), ['function astrid_rt.grow', 'memory astrid_rt.memory']);
    assert.equal(WebAssembly.Module.imports(after).length, was.size + 2);
    const exportKey = (e: {name: string; kind: string}): string => `${e.kind} ${e.name}`;
    assert.deepEqual(
      WebAssembly.Module.exports(after).map(exportKey).sort(),
      [...WebAssembly.Module.exports(before).map(exportKey), `global ${FUEL_EXPORT}`].sort(),
    );
  });
});

describe('large modules', () => {
  test('a ~1 MB module instruments without stack overflow, reporting progress', async (t) => {
    const count = 3800;
    const funcs: string[] = [];
    for (let i = 0; i < count; i++) funcs.push(generatedFunction(i));
    const bytes = wat(`(module (memory (export "memory") 1) ${funcs.join('\n')})`, 'large.wat');
    assert.ok(bytes.length > 900_000, `generated ${bytes.length} bytes`);
    const progress: Array<[number, number]> = [];
    const r = await instrument(bytes, {onProgress: (done, total) => progress.push([done, total])});
    assert.equal(r.stats.functions, count);
    assert.equal(r.stats.loops, 2 * count);
    assert.equal(progress.length, count);
    assert.deepEqual(progress.at(-1), [count, count]);
    assert.ok(progress.every(([done], i) => done === i + 1));
    const original = new WebAssembly.Instance(new WebAssembly.Module(bytes));
    const m = metered(r.bytes, {initial: 1});
    m.fuel.value = AMPLE;
    for (const name of ['f0', `f${count - 1}`]) assert.deepEqual(call(m.instance, name, [12]), call(original, name, [12]));
    t.diagnostic(`instrumented ${bytes.length} bytes (${count} functions, ${r.stats.loops} loops) in ${r.stats.ms.toFixed(0)} ms -> ${r.bytes.length} bytes`);
  });
});

/** A function with two nested loops and a block of arithmetic (~300 bytes of code). */
function generatedFunction(i: number): string {
  const arith = Array.from({length: 12}, (_, k) => `(local.set $acc (i32.xor (i32.add (local.get $acc) (i32.mul (local.get $j) (i32.const ${i + k}))) (i32.shr_u (local.get $acc) (i32.const ${(k % 7) + 1}))))`).join('\n');
  return `(func (export "f${i}") (param $n i32) (result i32) (local $i i32) (local $j i32) (local $acc i32)
  (block $oe (loop $o
    (br_if $oe (i32.ge_u (local.get $i) (local.get $n)))
    (local.set $j (i32.const 0))
    (block $ie (loop $in
      (br_if $ie (i32.ge_u (local.get $j) (local.get $i)))
      ${arith}
      (local.set $j (i32.add (local.get $j) (i32.const 1)))
      (br $in)))
    (local.set $i (i32.add (local.get $i) (i32.const 1)))
    (br $o)))
  (local.get $acc))`;
}

/**
 * `f(k)`: a br_table over `n` blocks nested in first position (how compilers lower a switch),
 * returning k for 0 <= k < n - 1 and n - 1 otherwise. Built as bytes: wabt's parser recurses
 * on nested blocks and overflows long before binaryen would.
 */
function brTableModule(n: number): Uint8Array<ArrayBuffer> {
  const uleb = (v: number): number[] => {
    const out: number[] = [];
    do {
      const byte = v & 0x7f;
      v = Math.floor(v / 128);
      out.push(v === 0 ? byte : byte | 0x80);
    } while (v !== 0);
    return out;
  };
  const sleb = (v: number): number[] => {
    const out: number[] = [];
    for (;;) {
      const byte = v & 0x7f;
      v >>= 7;
      const done = (v === 0 && (byte & 0x40) === 0) || (v === -1 && (byte & 0x40) !== 0);
      out.push(done ? byte : byte | 0x80);
      if (done) return out;
    }
  };
  const code: number[] = [0]; // no locals
  for (let i = 0; i < n; i++) code.push(0x02, 0x40);
  code.push(0x20, 0, 0x0e, ...uleb(n - 1));
  for (let i = 0; i < n; i++) code.push(...uleb(i)); // n - 1 targets, then the default
  for (let i = 0; i < n; i++) code.push(0x0b, 0x41, ...sleb(i), 0x0f);
  code.push(0x0b);
  const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];
  const name = (s: string): number[] => [s.length, ...Array.from(s, (c) => c.charCodeAt(0))];
  return new Uint8Array([
    0, 0x61, 0x73, 0x6d, 1, 0, 0, 0,
    ...section(1, [1, 0x60, 1, 0x7f, 1, 0x7f]),
    ...section(3, [1, 0]),
    ...section(5, [1, 0, 1]),
    ...section(7, [2, ...name('memory'), 2, 0, ...name('f'), 0, 0]),
    ...section(10, [1, ...uleb(code.length), ...code]),
  ]);
}
