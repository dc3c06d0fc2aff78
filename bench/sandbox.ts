/**
 * Sandbox benchmark: what the capsule sandbox costs, each number against a baseline measured
 * in the same run. See bench/README.md ("sandbox") for what each number means.
 *
 * 1. CPU-bound guest code: SHA-256 over 1 MiB (AssemblyScript, bench/fixtures/sha256.as) as
 *    plain WebAssembly vs the fuel-instrumented module.
 * 2. Audited `call` round trip (kv.get: 64-byte request, 16-byte reply) through the real
 *    CapsuleInstance, GrantGate and Ledger on LevelDB, vs the same guest loop on a bare JS
 *    import, vs the same host call through @extism/extism (foreground plugin).
 * 3. Message round trip: a 64-byte payload delivered to a capsule that echoes it with `send`,
 *    durable, vs Extism `plugin.call('echo', 64 bytes)`.
 * 4. Instantiation from the compiled, cached module: CapsuleInstance.create.
 * 5. Install (check, hash, validate, instrument, store, record) of a ~1 MB module.
 */
import {createHash, randomBytes} from 'node:crypto';
import {mkdir, readFile, rm, writeFile} from 'node:fs/promises';
import {availableParallelism} from 'node:os';
import {join} from 'node:path';
import {performance} from 'node:perf_hooks';
import type * as AscModule from 'assemblyscript/asc';
import type {CurrentPlugin, Plugin} from '@extism/extism';
import {Blake3, SigningKey} from '../src/crypto/index.js';
import {ClassicLevel} from 'classic-level';
import {Ledger, LevelStore, entryKey} from '../src/ledger/index.js';
import {
  ABI_LIMITS,
  CapsuleInstance,
  CapsuleStore,
  FUEL_EXPORT,
  METER_VERSION,
  RT_MODULE,
  inspectWasm,
  instrument,
  kvKey,
  manifestToml,
  pack,
  type ActivationResult,
  type Budget,
  type Delivery,
  type KvState,
  type LoadedCapsule,
  type Manifest,
  type SessionContext,
} from '../src/sandbox/index.js';
import {parsePattern} from '../src/topics/index.js';
import {repoRoot} from '../test/helpers/index.js';
import {wat2wasm, watBytes} from '../test/helpers/wat-capsule.js';
import {testGate} from '../test/helpers/gate.js';
import {formatNumber, measureInterleaved, median, percentile, timed, type BenchContext, type Benchmark, type Measurement} from './harness.js';
import {clock, CpuRates, loadAverage, tempDir} from './kit.js';

const B = 'sandbox';
const FIXTURES = join(repoRoot, 'bench', 'fixtures');
const MiB = 1024 * 1024;
/** Fuel set on instrumented modules run outside the kernel (SHA-256, the bare baseline): effectively unlimited. */
const AMPLE_FUEL = 1n << 62n;
/** Budget of the benchmark capsules: ample fuel, so only the work is measured. */
const BUDGET: Budget = {fuel: 1_000_000_000, memory_pages: 64, wall_ms: 60_000};
const PRINCIPAL = 'owner';
const SESSION = 's-bench';
const KV_NS = 'bench';
/** The kv.get key: 32 characters make the msgpack request exactly 64 bytes. */
const KV_KEY = 'bench-key-0123456789abcdef-00001';
/** The stored value: 14 bytes, so the msgpack reply (bin8 header + value) is 16 bytes. */
const KV_VALUE = new Uint8Array(randomBytes(14));
const ECHO_PAYLOAD = 64;

type Asc = typeof AscModule;

async function fixture(name: string): Promise<string> {
  return readFile(join(FIXTURES, name), 'utf8');
}

function fill(text: string, values: Record<string, string | number>): string {
  let out = text;
  for (const [k, v] of Object.entries(values)) out = out.replaceAll(`__${k}__`, String(v));
  const left = /__[A-Z_]+__/.exec(out);
  if (left !== null) throw new Error(`unfilled placeholder ${left[0]}`);
  return out;
}

/** Write a capsule package (module + capsule.toml) under `parent/name`. */
async function writePackage(
  parent: string,
  name: string,
  wasm: Uint8Array,
  hasher: Blake3,
  o: {handles: string[]; sends: string[]; kv?: string[]; budget?: Budget},
): Promise<string> {
  const dir = join(parent, name);
  await mkdir(dir, {recursive: true});
  await writeFile(join(dir, `${name}.wasm`), wasm);
  const manifest: Manifest = {
    package: {name, version: '0.1.0', abi: 1},
    module: {file: `${name}.wasm`, hash: hasher.hex(wasm)},
    topics: {handles: o.handles.map(parsePattern), sends: o.sends.map(parsePattern)},
    resources: {fs_read: [], fs_write: [], net_http: [], kv: o.kv ?? [], spawn: []},
    budget: o.budget ?? BUDGET,
  };
  const toml = manifestToml(manifest);
  await writeFile(join(dir, 'capsule.toml'), toml);
  return dir;
}

/** Compile the AssemblyScript SHA-256 (plain module; no SDK, stub runtime, -O3; start exported as `init`, as instrument() refuses a start function). */
async function compileSha256(): Promise<Uint8Array> {
  const asc: Asc = await import('assemblyscript/asc');
  const source = await fixture('sha256.as');
  const r = await asc.compileString({'sha256.ts': source}, {optimizeLevel: 3, shrinkLevel: 0, runtime: 'stub', noAssert: true, exportStart: 'init'});
  if (r.error !== null || r.binary === null) throw new Error(`asc failed on sha256.as: ${r.error?.message ?? 'no binary'}\n${r.stderr.toString()}`);
  return r.binary;
}

interface ShaRunner {
  /** Hash the input `times` times; returns the hex digest. */
  run(times: number): string;
  fuelUsed(): bigint;
}

function shaRunner(module: WebAssembly.Module, input: Uint8Array, instrumented: {min: number; max: number | undefined} | undefined): ShaRunner {
  const abort = (): never => {
    throw new Error('sha256: abort');
  };
  let fuel: WebAssembly.Global | undefined;
  let mem: WebAssembly.Memory;
  let instance: WebAssembly.Instance;
  if (instrumented === undefined) {
    instance = new WebAssembly.Instance(module, {env: {abort}});
    mem = instance.exports.memory as WebAssembly.Memory;
  } else {
    const m = new WebAssembly.Memory(instrumented.max === undefined ? {initial: instrumented.min} : {initial: instrumented.min, maximum: instrumented.max});
    mem = m;
    const grow = (delta: number): number => {
      try {
        return m.grow(delta >>> 0);
      } catch {
        return -1;
      }
    };
    instance = new WebAssembly.Instance(module, {env: {abort}, [RT_MODULE]: {memory: m, grow}});
    fuel = instance.exports[FUEL_EXPORT] as WebAssembly.Global;
    fuel.value = AMPLE_FUEL;
  }
  const x = instance.exports as {init: () => void; alloc: (n: number) => number; sha256: (p: number, n: number, out: number) => void};
  x.init();
  const ptr = x.alloc(input.length) >>> 0;
  const out = x.alloc(32) >>> 0;
  new Uint8Array(mem.buffer, ptr, input.length).set(input);
  return {
    run(times) {
      for (let i = 0; i < times; i++) x.sha256(ptr, input.length, out);
      return Buffer.from(new Uint8Array(mem.buffer, out, 32)).toString('hex');
    },
    fuelUsed: () => (fuel === undefined ? 0n : AMPLE_FUEL - (fuel.value as bigint)),
  };
}

/**
 * WAT of a generated capsule with `functions` functions (7,600 give about 1 MB of wasm), each
 * of compiled-code shape (locals, a loop over memory, branches, a call), so instrumentation has
 * real work per byte.
 */
function bigCapsuleWat(functions: number): string {
  const parts: string[] = [
    '(module',
    '  (import "astrid" "log" (func $log (param i32 i32 i32)))',
    '  (memory (export "memory") 2 16)',
    '  (func (export "astrid_alloc") (param i32) (result i32) (i32.const 4096))',
    '  (func (export "astrid_handle") (param $p i32) (param $n i32) (result i32) (drop (call $f0 (local.get $p) (local.get $n))) (i32.const 0))',
  ];
  // Deterministic constants (no randomness needed: the content only has to be varied).
  let s = 0x9e3779b9;
  const next = (): number => {
    s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0;
    return s;
  };
  for (let i = 0; i < functions; i++) {
    const callee = i === 0 ? 1 : next() % i;
    parts.push(
      `  (func $f${i} (param $a i32) (param $b i32) (result i32) (local $i i32) (local $acc i32) (local $p i32) (local $t i64)
    (local.set $acc (i32.const ${next() | 0}))
    (local.set $p (i32.and (local.get $a) (i32.const 0xfff0)))
    (block $out
      (loop $top
        (br_if $out (i32.ge_u (local.get $i) (local.get $b)))
        (local.set $acc (i32.add (i32.xor (local.get $acc) (i32.load offset=${next() % 256} (i32.add (local.get $p) (i32.shl (local.get $i) (i32.const 2))))) (i32.const ${next() | 0})))
        (local.set $t (i64.mul (i64.extend_i32_u (local.get $acc)) (i64.const ${next()})))
        (if (i32.and (local.get $acc) (i32.const ${1 << next() % 8}))
          (then (local.set $acc (i32.rotl (local.get $acc) (i32.const ${next() % 31}))))
          (else (i32.store offset=${next() % 256} (local.get $p) (i32.wrap_i64 (i64.shr_u (local.get $t) (i64.const 17))))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $top)))
    (if (result i32) (i32.gt_u (local.get $acc) (i32.const ${next() >>> 1}))
      (then (call $f${callee} (local.get $acc) (i32.const 0)))
      (else (i32.sub (local.get $acc) (i32.wrap_i64 (local.get $t))))))`,
    );
  }
  parts.push(')');
  return parts.join('\n');
}

function u64le(n: number): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(n), true);
  return b;
}
/** A Measurement from per-run values (already rates or times). */
function summary(xs: readonly number[]): Measurement {
  return {median: median(xs), min: Math.min(...xs), max: Math.max(...xs), samples: xs};
}

const us = (rate: number): string => `${formatNumber(1e6 / rate)} us`;

export const benchmark: Benchmark = {
  name: B,
  description: 'fuel overhead, audited call and message round trips vs a bare import and Extism, instantiation, install',
  async run(ctx: BenchContext): Promise<void> {
    const {report, quick} = ctx;
    const rec = (name: string, m: Measurement | number, unit: string, note?: string, group?: string): number => {
      const v = report.add(B, name, m, unit, note, group);
      ctx.progress(`${name}: ${formatNumber(v)} ${unit}`);
      return v;
    };
    const RUNS = quick ? 2 : 5;
    const WARMUP = 1;
    /** The SHA-256 loop needs a few runs before V8 has tiered it up to optimised code. */
    const SHA_WARMUP = 3;
    const SHA_HASHES = quick ? 1 : 8;
    const CALLS = 1000;
    const ACTIVATIONS = quick ? 4 : 10;
    const BARE_FACTOR = 10;
    const ECHO_MSGS = quick ? 200 : 1500;
    const ECHO_SEQ = quick ? 50 : 100;
    const ECHO_WINDOW = 32;
    /** Pipelined echo: most round trips delivered but not yet durable. */
    const PIPE_MAX = 1024;
    const CREATES = quick ? 50 : 200;
    const BIG_FUNCTIONS = quick ? 1000 : 7600;
    const INSTALL_RUNS = quick ? 1 : 3;

    report.note(B, `load average (1, 5, 15 min) at start: ${loadAverage()} on ${availableParallelism()} CPUs`);
    const hasher = await Blake3.create();
    const signer = SigningKey.generate();
    const root = await tempDir('sandbox');
    const home = join(root, 'home');
    const pkgs = join(root, 'packages');
    await mkdir(home, {recursive: true});
    const ledgers: Ledger[] = [];
    /** A fresh ledger on LevelDB, so one section's writes (and compactions) do not slow the next. */
    const openLedger = async (tag: string): Promise<Ledger> => {
      const l = await Ledger.open({store: new LevelStore(join(root, `ledger-${tag}`)), clock, signer, hasher, checkpointIntervalMs: 0});
      ledgers.push(l);
      return l;
    };
    const kv: KvState = new Map();
    const context = async (ledger: Ledger, loaded: LoadedCapsule, grants: string[]): Promise<SessionContext> => ({
      ledger,
      clock,
      gate: (await testGate({ledger, clock, session: SESSION, principal: 'owner', grants, capsules: [loaded], denyRoots: [home]})).gate,
      random: (n) => new Uint8Array(randomBytes(n)),
      kv,
      session: SESSION,
      principal: PRINCIPAL,
      budget: BUDGET,
    });
    /** Record the inbound message, as the bus would, and make its delivery. */
    const inbound = (ledger: Ledger, topic: string, payload: unknown): Delivery => {
      const a = ledger.enqueue({kind: 'bus.message', body: {topic, payload: pack(payload), from: 'bench', corr: ''}, session: SESSION, principal: PRINCIPAL, actor: 'bench'});
      return {topic, payload, from: 'bench', seq: a.seq};
    };
    const expectOk = (r: ActivationResult, what: string): void => {
      if (r.outcome !== 'ok') throw new Error(`${what}: activation ended with ${r.outcome}: ${r.message}`);
    };
    const cpu = new CpuRates();
    const withCpu = (key: string, run: () => number | Promise<number>): (() => Promise<number>) => cpu.wrap<void>(key, run);
    const cpuSummary = (key: string, warmup = WARMUP): Measurement => cpu.summary(key, warmup);
    let extismCalls: Plugin | undefined;
    let extismEcho: Plugin | undefined;

    try {
      const main = await openLedger('main');
      const store = new CapsuleStore({home, ledger: main, hasher, instrument, meterVersion: METER_VERSION});
      const installLoad = async (dir: string): Promise<LoadedCapsule> => store.load(await store.install(dir));

      // --- 1. CPU-bound: SHA-256 over 1 MiB, plain vs instrumented -------------------------------
      ctx.progress('compiling bench/fixtures/sha256.as with asc');
      const shaWasm = await compileSha256();
      const shaInst = await instrument(shaWasm);
      const mem = inspectWasm(shaWasm).memories[0];
      if (mem === undefined) throw new Error('sha256 module has no memory');
      const input = new Uint8Array(randomBytes(MiB));
      const want = createHash('sha256').update(input).digest('hex');
      const plain = shaRunner(new WebAssembly.Module(shaWasm as Uint8Array<ArrayBuffer>), input, undefined);
      const metered = shaRunner(new WebAssembly.Module(shaInst.bytes), input, {min: mem.min, max: mem.max});
      const dPlain = plain.run(1);
      const dMetered = metered.run(1);
      const fuelPerMiB = Number(metered.fuelUsed());
      if (dPlain !== want || dMetered !== want) {
        report.note(B, `SHA-256 digests DIFFER: node:crypto ${want}, plain ${dPlain}, instrumented ${dMetered}`);
      } else {
        report.note(B, `SHA-256 of 1 MiB: the plain and the instrumented module both give node:crypto's digest (${want.slice(0, 16)}...)`);
      }
      {
        const m = await measureInterleaved(
          {
            plain: timed({run: withCpu('plain', () => (plain.run(SHA_HASHES), SHA_HASHES))}),
            metered: timed({run: withCpu('metered', () => (metered.run(SHA_HASHES), SHA_HASHES))}),
          },
          {warmup: SHA_WARMUP, runs: RUNS + 2},
        );
        const size = `${shaWasm.length} B module, ${shaInst.bytes.length} B instrumented`;
        rec('sha256 1 MiB, plain wasm', m.plain, 'MiB/s', `AssemblyScript -O3, ${size}`, 'sha');
        rec('sha256 1 MiB, instrumented', m.metered, 'MiB/s', `instrument(); ${formatNumber(fuelPerMiB)} fuel per MiB`, 'sha');
        rec('sha256, plain, per CPU second', cpuSummary('plain', SHA_WARMUP), 'MiB/CPU-s', 'by process CPU time: robust to other load', 'sha');
        rec('sha256, instrumented, per CPU second', cpuSummary('metered', SHA_WARMUP), 'MiB/CPU-s', undefined, 'sha');
      }

      // --- 2. audited call round trip vs bare import vs Extism -------------------------------------
      const request = pack({op: 'kv.get', args: {ns: KV_NS, key: KV_KEY}});
      const replyBytes = pack(KV_VALUE);
      if (request.length !== 64 || replyBytes.length !== 16) throw new Error(`request ${request.length} B, reply ${replyBytes.length} B: expected 64 and 16`);
      const callWat = await fixture('call-loop.wat');
      const callWasm = (n: number): Promise<Uint8Array> =>
        wat2wasm(fill(callWat, {N: n, REQUEST: watBytes(request), REQUEST_LEN: request.length, REPLY_LEN: replyBytes.length}), 'call-loop.wat');
      const callCapsule = await installLoad(await writePackage(pkgs, 'bench-call', await callWasm(CALLS), hasher, {handles: ['bench.>'], sends: [], kv: [KV_NS]}));
      const emptyCapsule = await installLoad(await writePackage(pkgs, 'bench-empty', await callWasm(0), hasher, {handles: ['bench.>'], sends: [], kv: [KV_NS]}));
      kv.set(kvKey(PRINCIPAL, callCapsule.name, KV_NS, KV_KEY), KV_VALUE);
      const audited = await CapsuleInstance.create(callCapsule, await context(main, callCapsule, [`kv:${KV_NS}`]));
      const empty = await CapsuleInstance.create(emptyCapsule, await context(main, emptyCapsule, [`kv:${KV_NS}`]));
      {
        const r = await audited.activate(inbound(main, 'bench.call', {}));
        expectOk(r, 'call loop');
        if (r.calls !== CALLS) throw new Error(`call loop made ${r.calls} calls, expected ${CALLS}`);
        report.note(
          B,
          `audited call: kv.get (gated by kv:${KV_NS}), request ${request.length} B, reply ${replyBytes.length} B; ${CALLS} calls per activation ` +
            `(ABI limit ${ABI_LIMITS.maxCallsPerActivation}), ${formatNumber(r.fuelUsed)} fuel per activation`,
        );
      }
      // Bare: the same instrumented module, its imports plain JS doing the same copies.
      const bareHandle = (() => {
        const memory = new WebAssembly.Memory({initial: callCapsule.initialPages, maximum: 16});
        let pending: Uint8Array | undefined;
        let lastRequest = new Uint8Array(0);
        const inst = new WebAssembly.Instance(callCapsule.module, {
          astrid: {
            call: (ptr: number, len: number): bigint => {
              lastRequest = new Uint8Array(memory.buffer, ptr >>> 0, len >>> 0).slice();
              pending = replyBytes;
              return BigInt(replyBytes.length);
            },
            reply: (ptr: number): void => {
              if (pending !== undefined) new Uint8Array(memory.buffer, ptr >>> 0, pending.length).set(pending);
              pending = undefined;
            },
          },
          [RT_MODULE]: {memory, grow: (d: number) => memory.grow(d)},
        });
        const fuel = inst.exports[FUEL_EXPORT] as WebAssembly.Global;
        const handle = inst.exports.astrid_handle as (p: number, n: number) => number;
        return (): void => {
          fuel.value = AMPLE_FUEL;
          if (handle(4096, 0) !== 0 || lastRequest.length !== request.length) throw new Error('bare call loop failed');
        };
      })();
      // Extism: an Extism-ABI plugin making the same calls to a host function doing the same copies.
      const {default: createPlugin} = await import('@extism/extism');
      const extismWasm = await wat2wasm(
        fill(await fixture('extism-plugin.wat'), {REQUEST: watBytes(request), REQUEST_LEN: request.length, REPLY_LEN: replyBytes.length}),
        'extism-plugin.wat',
      );
      const hostCall = (cp: CurrentPlugin, addr: bigint): bigint => {
        const req = cp.read(addr);
        if (req === null) throw new Error('host_call: bad block');
        req.bytes().slice();
        // A fresh 16-byte buffer (the copy in): CallContext.store() adopts the whole
        // ArrayBuffer of a Uint8Array, and `replyBytes` is a view into msgpackr's larger buffer.
        return cp.store(new Uint8Array(replyBytes));
      };
      const extismOptions = {useWasi: false, runInWorker: false, functions: {'extism:host/user': {host_call: hostCall}}};
      extismCalls = await createPlugin({wasm: [{data: extismWasm}]}, extismOptions);
      extismEcho = await createPlugin({wasm: [{data: extismWasm}]}, extismOptions);
      const pluginCalls = extismCalls;
      const pluginEcho = extismEcho;
      const callInput = u64le(CALLS);
      {
        const syncMs: number[] = [];
        const m = await measureInterleaved(
          {
            audited: timed({
              run: withCpu('audited', async () => {
                let sync = 0;
                for (let i = 0; i < ACTIVATIONS; i++) {
                  const t = performance.now();
                  const p = audited.activate(inbound(main, 'bench.call', {}));
                  sync += performance.now() - t;
                  expectOk(await p, 'call loop');
                }
                syncMs.push(sync);
                return ACTIVATIONS * CALLS;
              }),
            }),
            empty: timed({
              run: async () => {
                for (let i = 0; i < ACTIVATIONS; i++) expectOk(await empty.activate(inbound(main, 'bench.call', {})), 'empty activation');
                return ACTIVATIONS;
              },
            }),
            bare: timed({
              run: () => {
                for (let i = 0; i < ACTIVATIONS * BARE_FACTOR; i++) bareHandle();
                return ACTIVATIONS * BARE_FACTOR * CALLS;
              },
            }),
            extism: timed({
              run: withCpu('extism', async () => {
                for (let i = 0; i < ACTIVATIONS; i++) {
                  await pluginCalls.call('call_loop', callInput);
                  // The SDK never reuses a block index, and an index above 32,767 turns negative
                  // as an i64 address: it must be reset every ~16k host calls.
                  await pluginCalls.reset();
                }
                return ACTIVATIONS * CALLS;
              }),
            }),
          },
          {warmup: WARMUP, runs: RUNS},
        );
        const sync = summary(syncMs.slice(WARMUP).map((ms) => (ACTIVATIONS * CALLS) / (ms / 1000)));
        rec('audited call, all-in', m.audited, 'calls/s', `${us(m.audited.median)}/call: ${ACTIVATIONS} activations of ${CALLS} calls, each durable before the next`, 'call');
        rec('audited call, synchronous part', sync, 'calls/s', `${us(sync.median)}/call: activate() until it awaits durability (guest, shim, gate, service, ledger enqueue)`, 'call');
        rec('empty activation', m.empty, 'activations/s', `${us(m.empty.median)}: activation.started + ended, durable, no calls (${us(m.empty.median * CALLS)} per call of the above)`, 'call');
        rec('bare wasm-to-JS import', m.bare, 'calls/s', `${us(m.bare.median)}/call: same module and loop, JS imports copy 64 B out and 16 B in`, 'call');
        rec('Extism host call', m.extism, 'calls/s', `${us(m.extism.median)}/call: @extism/extism foreground plugin, host function does the same copies`, 'call');
        const ca = cpuSummary('audited');
        const ce = cpuSummary('extism');
        rec('audited call, per CPU second', ca, 'calls/CPU-s', `${us(ca.median)} of process CPU (all threads) per call, all-in`, 'call');
        rec('Extism host call, per CPU second', ce, 'calls/CPU-s', `${us(ce.median)} of process CPU per call`, 'call');
      }

      // --- 3. message round trip: echo of 64 bytes ----------------------------------------------
      const payload = new Uint8Array(randomBytes(ECHO_PAYLOAD));
      const echoTopic = 'bench.echo';
      const delivered = pack({topic: echoTopic, payload, from: 'bench', seq: 1, session: SESSION});
      const at = Buffer.from(delivered).indexOf(Buffer.from(payload));
      const header = pack({topic: 'bench.reply', payload: new Uint8Array(ECHO_PAYLOAD)}).subarray(0, -ECHO_PAYLOAD);
      const echoWasm = await wat2wasm(
        fill(await fixture('echo.wat'), {
          HEADER: watBytes(header),
          BODY_AT: 16 + header.length,
          MSG_LEN: header.length + ECHO_PAYLOAD,
          PAYLOAD_AT: at,
          BIN_AT: at - 2,
          PAYLOAD_END: at + ECHO_PAYLOAD,
        }),
        'echo.wat',
      );
      const echoCapsule = await installLoad(await writePackage(pkgs, 'bench-echo', echoWasm, hasher, {handles: ['bench.>'], sends: ['bench.reply']}));
      let sdkEcho: LoadedCapsule | undefined;
      try {
        sdkEcho = await installLoad(join(repoRoot, 'capsules', 'echo'));
      } catch (e) {
        report.note(B, `capsules/echo not measured: ${(e as Error).message}`);
      }
      const echoLedger = await openLedger('echo');
      const echoCtx = await context(echoLedger, echoCapsule, ['bus.send:bench.reply']);
      const echoPool: CapsuleInstance[] = [];
      for (let i = 0; i < ECHO_WINDOW; i++) echoPool.push(await CapsuleInstance.create(echoCapsule, echoCtx));
      const sdkPool: CapsuleInstance[] = [];
      if (sdkEcho !== undefined) {
        const c = await context(echoLedger, sdkEcho, ['bus.send:echo.reply']);
        for (let i = 0; i < ECHO_WINDOW; i++) sdkPool.push(await CapsuleInstance.create(sdkEcho, c));
      }
      const sameBytes = (x: unknown): boolean => x instanceof Uint8Array && Buffer.from(x).equals(Buffer.from(payload));
      const echoed = (r: ActivationResult, what: string): void => {
        expectOk(r, what);
        const s = r.sends[0];
        if (r.sends.length !== 1 || s === undefined || !sameBytes(s.payload)) throw new Error(`${what}: did not echo the payload`);
      };
      /** `n` round trips through `pool`, one message in flight per instance; returns the synchronous ms. */
      const roundTrips = async (pool: readonly CapsuleInstance[], topic: string, n: number, what: string): Promise<number> => {
        let issued = 0;
        let sync = 0;
        await Promise.all(
          pool.map(async (inst) => {
            while (issued < n) {
              issued++;
              const t = performance.now();
              const p = inst.activate(inbound(echoLedger, topic, payload));
              sync += performance.now() - t;
              echoed(await p, what);
            }
          }),
        );
        return sync;
      };
      /**
       * `n` round trips through `pool` without waiting for durability between deliveries (law 2
       * holds back only outside effects and replies to clients): each round delivers one message
       * to every instance with activateSequenced, then yields to the event loop so group commit
       * goes on; a round trip counts once its entries are durable (the run ends when all are),
       * and at most PIPE_MAX are delivered but not yet durable. Returns the synchronous ms.
       */
      const pipelined = async (pool: readonly CapsuleInstance[], topic: string, n: number, what: string): Promise<number> => {
        let sync = 0;
        let issued = 0;
        const waiting: Promise<ActivationResult>[] = [];
        let head = 0;
        while (issued < n) {
          for (const inst of pool) {
            if (issued >= n) break;
            issued++;
            const t = performance.now();
            const {result, durable} = inst.activateSequenced(inbound(echoLedger, topic, payload));
            sync += performance.now() - t;
            echoed(result, what);
            waiting.push(durable);
          }
          while (waiting.length - head > PIPE_MAX) await waiting[head++];
          await new Promise<void>((r) => setImmediate(r));
        }
        await Promise.all(waiting.slice(head));
        return sync;
      };
      {
        const out = await pluginEcho.call('echo', payload);
        if (out === null || !Buffer.from(out.bytes()).equals(Buffer.from(payload))) report.note(B, 'Extism echo did NOT return the payload');
        echoed(await (echoPool[0] as CapsuleInstance).activate(inbound(echoLedger, echoTopic, payload)), 'WAT echo');
        if (sdkPool[0] !== undefined) echoed(await sdkPool[0].activate(inbound(echoLedger, 'echo.ping', payload)), 'SDK echo');
      }
      {
        const syncMs: number[] = [];
        const cases: Record<string, () => Promise<number>> = {
          seq: timed({run: async () => (await roundTrips(echoPool.slice(0, 1), echoTopic, ECHO_SEQ, 'WAT echo'), ECHO_SEQ)}),
          window: timed({run: withCpu('window', async () => (syncMs.push(await roundTrips(echoPool, echoTopic, ECHO_MSGS, 'WAT echo')), ECHO_MSGS))}),
          pipe: timed({run: withCpu('pipe', async () => (await pipelined(echoPool, echoTopic, ECHO_MSGS, 'WAT echo'), ECHO_MSGS))}),
          extism: timed({
            run: withCpu('extism-echo', async () => {
              for (let i = 0; i < ECHO_MSGS; i++) await pluginEcho.call('echo', payload);
              await pluginEcho.reset();
              return ECHO_MSGS;
            }),
          }),
        };
        if (sdkPool.length > 0) cases.sdk = timed({run: async () => (await roundTrips(sdkPool, 'echo.ping', ECHO_MSGS, 'SDK echo'), ECHO_MSGS)});
        const m = await measureInterleaved(cases, {warmup: WARMUP, runs: RUNS});
        const sync = summary(syncMs.slice(WARMUP).map((ms) => ECHO_MSGS / (ms / 1000)));
        const entries = 'inbound bus.message, activation.started, the echo bus.message, activation.ended';
        rec('echo round trip, 1 in flight', m.seq as Measurement, 'msgs/s', `${us((m.seq as Measurement).median)}: WAT echo capsule; ${entries}; durable (one fsync) before the next`, 'echo');
        rec(`echo round trip, ${ECHO_WINDOW} in flight`, m.window as Measurement, 'msgs/s', `${us((m.window as Measurement).median)}: ${ECHO_WINDOW} instances, group commit`, 'echo');
        rec(
          'echo round trip, pipelined',
          m.pipe as Measurement,
          'msgs/s',
          `${us((m.pipe as Measurement).median)}: the same ${ECHO_WINDOW} instances, deliveries not waiting for durability (activateSequenced), each round trip counted when durable, at most ${PIPE_MAX} not yet durable`,
          'echo',
        );
        rec('echo round trip, synchronous part', sync, 'msgs/s', `${us(sync.median)}: of the line above, activate() until it awaits durability`, 'echo');
        if (m.sdk !== undefined) rec(`echo round trip, SDK capsule, ${ECHO_WINDOW} in flight`, m.sdk, 'msgs/s', `${us(m.sdk.median)}: capsules/echo (AssemblyScript SDK: msgpack decode + encode in the guest)`, 'echo');
        rec('Extism plugin.call echo', m.extism as Measurement, 'msgs/s', `${us((m.extism as Measurement).median)}: 64 B in, 64 B out`, 'echo');
        const cw = cpuSummary('window');
        const cx = cpuSummary('extism-echo');
        const cp = cpuSummary('pipe');
        rec('echo round trip, pipelined, per CPU second', cp, 'msgs/CPU-s', `${us(cp.median)} of process CPU (all threads) per round trip`, 'echo');
        rec(`echo round trip, ${ECHO_WINDOW} in flight, per CPU second`, cw, 'msgs/CPU-s', `${us(cw.median)} of process CPU (all threads) per round trip`, 'echo');
        rec('Extism plugin.call echo, per CPU second', cx, 'msgs/CPU-s', `${us(cx.median)} of process CPU per call`, 'echo');
      }

      // --- 3b. the floor under the echo target: LevelDB alone writing a round trip's entries -----
      // The exact stored values of the last round trips (hash || entry bytes, as the ledger wrote
      // them), written again with a raw classic-level chained batch, synced once per window of
      // round trips: what storing them costs before any of the sandbox, gate or ledger runs.
      {
        const trips = quick ? 200 : 1500;
        const values: Uint8Array[] = [];
        const kinds = new Map<string, number>();
        for await (const e of echoLedger.entries({reverse: true, limit: trips * 4})) {
          kinds.set(e.entry.kind, (kinds.get(e.entry.kind) ?? 0) + 1);
          const v = new Uint8Array(32 + e.bytes.length);
          v.set(e.hash, 0);
          v.set(e.bytes, 32);
          values.push(v);
        }
        values.reverse();
        // an echo round trip records one activation.started (and ended) and two bus.message entries
        const tripsRead = kinds.get('activation.started') ?? 0;
        const entriesPerTrip = tripsRead === 0 ? 0 : Math.round(values.length / tripsRead);
        const whole = tripsRead > 0 && [...kinds].every(([k, n]) => (k === 'bus.message' ? n === 2 * tripsRead : n === tripsRead));
        if (!whole) report.note(B, `floor: the sampled entries are not whole round trips (${[...kinds].map(([k, n]) => `${k} ${n}`).join(', ')})`);
        const bytes = values.reduce((n, v) => n + v.length, 0);
        const floorCase = (tripsPerSync: number): (() => Promise<number>) => {
          const per = tripsPerSync * entriesPerTrip;
          return timed({
            setup: async () => {
              const dir = await tempDir('floor');
              const db = new ClassicLevel<Uint8Array, Uint8Array>(dir, {keyEncoding: 'view', valueEncoding: 'view'});
              await db.open({createIfMissing: true});
              return {dir, db};
            },
            run: async ({db}) => {
              for (let i = 0; i < values.length; i += per) {
                const b = db.batch();
                for (let j = i; j < Math.min(i + per, values.length); j++) b.put(entryKey(j + 1), values[j] as Uint8Array);
                await b.write({sync: true});
              }
              return values.length / entriesPerTrip;
            },
            teardown: async ({dir, db}) => {
              await db.close();
              await rm(dir, {recursive: true, force: true});
            },
          });
        };
        // interleaved with Extism's echo again, so each ratio compares rounds of the same conditions
        const m = await measureInterleaved(
          {
            floor: floorCase(ECHO_WINDOW),
            floorBig: floorCase(1024),
            extism: timed({
              run: async () => {
                for (let i = 0; i < ECHO_MSGS; i++) await pluginEcho.call('echo', payload);
                await pluginEcho.reset();
                return ECHO_MSGS;
              },
            }),
          },
          {warmup: 1, runs: RUNS},
        );
        const what = `${entriesPerTrip} entries per round trip (${[...kinds].map(([k, n]) => `${k} x${Math.round(n / Math.max(1, tripsRead))}`).join(', ')}), ${Math.round(bytes / values.length)} B each on average, the exact stored bytes`;
        rec(`LevelDB floor, ${ECHO_WINDOW} round trips per sync`, m.floor as Measurement, 'msgs/s', `raw chained batch + sync; ${what}`, 'echo-floor');
        rec('LevelDB floor, 1024 round trips per sync', m.floorBig as Measurement, 'msgs/s', 'the same, in the largest batches: the most LevelDB alone allows', 'echo-floor');
        rec('Extism plugin.call echo, beside the floors', m.extism as Measurement, 'msgs/s', 'the same Extism echo, measured again in these rounds', 'echo-floor');
      }

      // --- 4. instantiation from the compiled (cached) module ------------------------------------
      {
        const ledger = await openLedger('create');
        const cached = new CapsuleStore({home, ledger, hasher, instrument, meterVersion: METER_VERSION});
        const installed = await cached.install(join(pkgs, 'bench-call'));
        const t0 = performance.now();
        const reloaded = await cached.load(installed);
        rec('CapsuleStore.load', performance.now() - t0, 'ms', 'from the store: read + BLAKE3 both modules, validate, WebAssembly.compile');
        const createMs = async (loaded: LoadedCapsule, grants: string[]): Promise<number[]> => {
          const c = await context(ledger, loaded, grants);
          const out: number[] = [];
          for (let i = 0; i < CREATES + 10; i++) {
            const s = performance.now();
            await CapsuleInstance.create(loaded, c);
            if (i >= 10) out.push(performance.now() - s);
          }
          return out;
        };
        const wat = await createMs(reloaded, [`kv:${KV_NS}`]);
        rec('CapsuleInstance.create p50, WAT capsule', percentile(wat, 50), 'ms', `${CREATES} creates; no astrid_init; 2-page memory`);
        rec('CapsuleInstance.create p99, WAT capsule', percentile(wat, 99), 'ms');
        const raw: number[] = [];
        const noop = (): bigint => 0n;
        for (let i = 0; i < CREATES + 10; i++) {
          const s = performance.now();
          const memory = new WebAssembly.Memory({initial: reloaded.initialPages, maximum: 16});
          new WebAssembly.Instance(reloaded.module, {astrid: {call: noop, reply: noop}, [RT_MODULE]: {memory, grow: () => -1}});
          if (i >= 10) raw.push(performance.now() - s);
        }
        rec('new WebAssembly.Instance p50, same module', percentile(raw, 50), 'ms', 'the engine alone: new Memory + Instance');
        let sdk: number[] | undefined;
        if (sdkEcho !== undefined) {
          sdk = await createMs(sdkEcho, ['bus.send:echo.reply']);
          rec('CapsuleInstance.create p50, SDK capsule', percentile(sdk, 50), 'ms', 'capsules/echo: runs astrid_init, an activation (2 entries) awaited until durable');
          rec('CapsuleInstance.create p99, SDK capsule', percentile(sdk, 99), 'ms');
        }
        const verdict = (x: number): string => `${formatNumber(x)} ms ${x <= 2 ? 'MET' : 'NOT MET'}`;
        report.note(
          B,
          `instantiation from the cached module (target <= 2 ms): p50 ${verdict(percentile(wat, 50))} (WAT capsule, no astrid_init)` +
            (sdk === undefined ? '' : `; ${verdict(percentile(sdk, 50))} (SDK capsule, with astrid_init)`),
        );
      }

      // --- 5. install and instrument a ~1 MB module ----------------------------------------------
      {
        ctx.progress(`generating a module of ${BIG_FUNCTIONS} functions`);
        const big = await wat2wasm(bigCapsuleWat(BIG_FUNCTIONS), 'big.wat');
        const bigDir = await writePackage(pkgs, 'bench-big', big, hasher, {handles: ['bench.>'], sends: []});
        const mb = big.length / 1e6;
        rec('large module size', big.length / 1024, 'KiB', `${BIG_FUNCTIONS} generated functions, one loop each`);
        const ledger = await openLedger('install');
        const installs: number[] = [];
        const instruments: number[] = [];
        let instrumentedSize = 0;
        await instrument(big); // warm-up: the walker's JIT
        for (let i = 0; i < INSTALL_RUNS; i++) {
          const h = join(root, `install-${i}`);
          await mkdir(h);
          const fresh = new CapsuleStore({home: h, ledger, hasher, instrument, meterVersion: METER_VERSION});
          const t0 = performance.now();
          const r = await instrument(big);
          const t1 = performance.now();
          await fresh.install(bigDir);
          const t2 = performance.now();
          instrumentedSize = r.bytes.length;
          await rm(h, {recursive: true, force: true});
          instruments.push(t1 - t0);
          installs.push(t2 - t1);
        }
        const inst = rec('CapsuleStore.install, large module', summary(installs), 'ms', 'empty store: read, BLAKE3, validate, instrument, write both, capsule.installed (durable)');
        const ins = rec('instrument() alone, large module', summary(instruments), 'ms', `binaryen read + meter + validate + emit (${formatNumber(instrumentedSize / 1024)} KiB out)`);
        rec('install throughput', mb / (inst / 1000), 'MB/s', `${formatNumber(mb)} MB module`);
        rec('instrument() throughput', mb / (ins / 1000), 'MB/s');
      }

      // --- ratios -------------------------------------------------------------------------------
      report.ratio(B, 'sha256 1 MiB, instrumented', 'sha256 1 MiB, plain wasm', 1 / 1.3, 'of rates: instrumented takes at most 1.3x the time');
      report.ratio(B, 'sha256, instrumented, per CPU second', 'sha256, plain, per CPU second', undefined, 'by process CPU time');
      report.ratio(B, 'audited call, all-in', 'Extism host call', 1.0, 'at most 1.0x the time of an un-audited Extism call');
      report.ratio(B, 'audited call, synchronous part', 'Extism host call', undefined, 'CPU path only: no fsync wait, no batch write');
      report.ratio(B, 'audited call, per CPU second', 'Extism host call, per CPU second', undefined, 'by process CPU time: robust to other load');
      report.ratio(B, 'audited call, all-in', 'bare wasm-to-JS import', undefined, 'what the shim, gate and ledger cost over a bare import');
      report.ratio(B, 'Extism host call', 'bare wasm-to-JS import');
      report.ratio(B, `echo round trip, ${ECHO_WINDOW} in flight`, 'Extism plugin.call echo', 1.0, 'throughput: at most 1.0x the time per round trip');
      report.ratio(B, 'echo round trip, 1 in flight', 'Extism plugin.call echo', 1.0, 'latency: bounded by one fsync per round trip');
      report.ratio(B, 'echo round trip, pipelined', 'Extism plugin.call echo', undefined, 'deliveries not waiting for durability; each round trip still counted only when durable');
      report.ratio(B, 'echo round trip, pipelined, per CPU second', 'Extism plugin.call echo, per CPU second', undefined, 'by process CPU time');
      report.ratio(B, 'echo round trip, synchronous part', 'Extism plugin.call echo', undefined, 'CPU path only');
      report.ratio(B, `LevelDB floor, ${ECHO_WINDOW} round trips per sync`, 'Extism plugin.call echo, beside the floors', undefined, 'no sandbox, gate or ledger code at all: only the writes an audited round trip needs');
      report.ratio(B, 'LevelDB floor, 1024 round trips per sync', 'Extism plugin.call echo, beside the floors', undefined, 'the same in the largest batches: above 1.0 is the room left for everything else');
      report.ratio(B, `echo round trip, ${ECHO_WINDOW} in flight, per CPU second`, 'Extism plugin.call echo, per CPU second', undefined, 'by process CPU time');
      if (sdkEcho !== undefined) report.ratio(B, `echo round trip, SDK capsule, ${ECHO_WINDOW} in flight`, 'Extism plugin.call echo');
      report.note(B, `load average at end: ${loadAverage()}`);
    } finally {
      await extismCalls?.close();
      await extismEcho?.close();
      for (const l of ledgers) await l.close();
      await rm(root, {recursive: true, force: true});
    }
  },
};
