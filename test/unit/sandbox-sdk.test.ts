// Proves the AssemblyScript SDK and capsule build: stock capsules rebuild byte-for-byte to their committed modules, import only the astrid ABI, have no start section and run correctly under a minimal fake host; the SDK's msgpack codec and service calls match docs/abi.md; scaffold + build works outside the repo; bad source fails with CAPSULE_BUILD_FAILED.
import {test, describe, before, after} from 'node:test';
import {strict as assert} from 'node:assert';
import {cp, mkdir, readFile, writeFile, access} from 'node:fs/promises';
import {join} from 'node:path';
import {Packr} from 'msgpackr';
import fc from 'fast-check';
import {buildCapsule, type BuildResult} from '../../src/sandbox/build.js';
import {scaffoldCapsule} from '../../src/sandbox/scaffold.js';
import {inspectWasm} from '../../src/sandbox/wasm-inspect.js';
import {parseManifest} from '../../src/sandbox/manifest.js';
import {ABI_ERRORS, ABI_IMPORTS} from '../../src/sandbox/abi.js';
import {Blake3} from '../../src/crypto/index.js';
import {isAstridError} from '../../src/errors/index.js';
import {repoRoot, tmpDir} from '../helpers/index.js';

const packr = new Packr({useRecords: false});
const STOCK = ['echo', 'fs-tool', 'kv-notes'] as const;
const HANDLE_NO_HANDLER = 0x7a01;
const HANDLE_BAD_MESSAGE = 0x7a02;

type Rec = Record<string, unknown>;
/** Bytes as msgpackr decodes a bin: a plain Uint8Array. */
const bin = (b: string | number[] | Uint8Array): Uint8Array => new Uint8Array(typeof b === 'string' ? Buffer.from(b) : b);
function rec(u: unknown): Rec {
  assert.ok(typeof u === 'object' && u !== null && !Array.isArray(u), `expected a map, got ${String(u)}`);
  return u as Rec;
}

/** A service answer: a value to reply with, or a negative ABI error code. */
type Answer = {value: unknown} | {error: number};
type Services = Record<string, (args: Rec) => Answer>;

interface CapsuleExports {
  memory: WebAssembly.Memory;
  astrid_alloc(len: number): number;
  astrid_handle(ptr: number, len: number): number;
  astrid_init(): void;
}

/** The smallest host that speaks ABI v1: records sends, calls and logs; serves calls from `services`. */
class FakeHost {
  readonly sent: {topic: string; payload: unknown; corr?: unknown; raw: Uint8Array}[] = [];
  readonly calls: {op: string; args: Rec}[] = [];
  readonly logs: {level: number; text: string}[] = [];
  #pending: Uint8Array | undefined;
  #seq = 0n;
  readonly x: CapsuleExports;

  constructor(wasm: Uint8Array, private readonly services: Services = {}) {
    const mem = (): Uint8Array => new Uint8Array(this.x.memory.buffer);
    const astrid = {
      send: (ptr: number, len: number): bigint => {
        const raw = mem().slice(ptr, ptr + len);
        const m = rec(packr.unpack(raw));
        assert.deepEqual(Object.keys(m).filter((k) => !['topic', 'payload', 'corr'].includes(k)), []);
        assert.equal(typeof m.topic, 'string');
        this.sent.push({topic: m.topic as string, payload: m.payload, corr: m.corr, raw});
        return ++this.#seq;
      },
      call: (ptr: number, len: number): bigint => {
        const m = rec(packr.unpack(mem().slice(ptr, ptr + len)));
        assert.deepEqual(Object.keys(m).sort(), ['args', 'op']);
        const op = String(m.op);
        const args = rec(m.args);
        this.calls.push({op, args});
        const service = this.services[op];
        const answer: Answer = service === undefined ? {error: ABI_ERRORS.UNAVAILABLE} : service(args);
        if ('error' in answer) {
          this.#pending = undefined;
          return BigInt(answer.error);
        }
        this.#pending = packr.pack(answer.value);
        return BigInt(this.#pending.length);
      },
      reply: (ptr: number): void => {
        assert.ok(this.#pending !== undefined, 'reply without a pending reply');
        mem().set(this.#pending, ptr);
        this.#pending = undefined;
      },
      log: (level: number, ptr: number, len: number): void => {
        this.logs.push({level, text: Buffer.from(mem().subarray(ptr, ptr + len)).toString('utf8')});
      },
    };
    const instance = new WebAssembly.Instance(new WebAssembly.Module(new Uint8Array(wasm)), {astrid});
    this.x = instance.exports as unknown as CapsuleExports;
    this.x.astrid_init(); // the kernel calls it once, before any other export
  }

  deliverBytes(bytes: Uint8Array): number {
    const ptr = this.x.astrid_alloc(bytes.length);
    new Uint8Array(this.x.memory.buffer).set(bytes, ptr);
    return this.x.astrid_handle(ptr, bytes.length);
  }

  deliver(topic: string, payload: unknown, corr?: string): number {
    const msg: Rec = {topic, payload, from: 'principal:test', seq: 7, session: 's-1'};
    if (corr !== undefined) msg.corr = corr;
    return this.deliverBytes(packr.pack(msg));
  }

  /** The payload of the last message sent, after checking its topic. */
  last(topic: string): Rec {
    const m = this.sent.at(-1);
    assert.ok(m !== undefined, 'nothing was sent');
    assert.equal(m.topic, topic);
    return rec(m.payload);
  }
}

let b3: Blake3;
let work: {dir: string; cleanup: () => void};
const built = new Map<string, {result: BuildResult; wasm: Uint8Array}>();

async function copyStock(name: string, to: string): Promise<string> {
  const dest = join(work.dir, to);
  await cp(join(repoRoot, 'capsules', name), dest, {recursive: true, filter: (src) => !src.endsWith('.wasm')});
  return dest;
}

before(async () => {
  b3 = await Blake3.create();
  work = tmpDir('astrid-sdk-');
  for (const name of STOCK) {
    const result = await buildCapsule(await copyStock(name, name));
    built.set(name, {result, wasm: new Uint8Array(await readFile(result.wasmPath))});
  }
});
after(() => work.cleanup());

function stock(name: string): {result: BuildResult; wasm: Uint8Array} {
  const b = built.get(name);
  assert.ok(b !== undefined);
  return b;
}

describe('stock capsules build', () => {
  for (const name of STOCK) {
    test(`${name}: the fresh build is the committed module, and capsule.toml names its BLAKE3`, async () => {
      const {result, wasm} = stock(name);
      assert.equal(result.bytes, wasm.length);
      assert.equal(result.hash, b3.hex(wasm));
      const written = parseManifest(await readFile(result.manifestPath, 'utf8'));
      assert.equal(written.module.hash, result.hash);
      const committedDir = join(repoRoot, 'capsules', name);
      const committed = parseManifest(await readFile(join(committedDir, 'capsule.toml'), 'utf8'));
      const committedWasm = new Uint8Array(await readFile(join(committedDir, committed.module.file)));
      assert.equal(b3.hex(committedWasm), committed.module.hash, 'committed capsule.toml hash matches the committed module');
      assert.equal(committed.module.hash, result.hash, 'committed module is stale: run the build and commit the result');
      assert.deepEqual({...written, module: committed.module}, committed, 'the rewritten manifest differs only in its hash');
    });

    test(`${name}: imports only astrid.{send,call,reply,log} with ABI signatures, no start, ABI exports, one memory`, () => {
      const {wasm} = stock(name);
      const module = new WebAssembly.Module(new Uint8Array(wasm));
      for (const imp of WebAssembly.Module.imports(module)) {
        assert.equal(imp.module, 'astrid');
        assert.ok(['send', 'call', 'reply', 'log'].includes(imp.name), imp.name);
        assert.equal(imp.kind, 'function');
      }
      const info = inspectWasm(wasm);
      assert.equal(info.start, undefined);
      for (const imp of info.imports) {
        const want = ABI_IMPORTS[imp.name];
        assert.ok(want !== undefined && imp.typeIndex !== undefined);
        assert.deepEqual(info.types[imp.typeIndex], {params: want.params, results: want.results});
      }
      assert.equal(info.memories.length, 1);
      assert.ok((info.memories[0]?.min ?? 99) <= 2, 'small initial memory');
      const exports = new Map(info.exports.map((e) => [e.name, e.kind]));
      assert.equal(exports.get('memory'), 'memory');
      assert.equal(exports.get('astrid_alloc'), 'func');
      assert.equal(exports.get('astrid_handle'), 'func');
      assert.equal(exports.get('astrid_init'), 'func');
    });
  }

  test('builds are deterministic, independent of where the directory lives, and ignore asconfig.json and node_modules', async () => {
    const dir = await copyStock('echo', 'echo-again');
    await writeFile(join(dir, 'asconfig.json'), JSON.stringify({options: {runtime: 'stub', optimizeLevel: 0, debug: true}}));
    await mkdir(join(dir, 'node_modules', 'astrid-sdk'), {recursive: true});
    await writeFile(join(dir, 'node_modules', 'astrid-sdk', 'index.ts'), 'export const shadow = 1;\n');
    const again = await buildCapsule(dir);
    assert.equal(again.hash, stock('echo').result.hash);
    assert.deepEqual(new Uint8Array(await readFile(again.wasmPath)), stock('echo').wasm);
  });
});

describe('echo under a fake host', () => {
  test('answers on echo.reply with the same payload and corr', () => {
    const host = new FakeHost(stock('echo').wasm);
    const payload = {text: 'héllo ☃', n: -5, list: [1, 2.5, null, true], bin: bin([0, 1, 255])};
    assert.equal(host.deliver('echo.ping', payload, 'c-42'), 0);
    assert.equal(host.sent.length, 1);
    assert.deepEqual(host.last('echo.reply'), payload);
    assert.equal(host.sent[0]?.corr, 'c-42');
    assert.equal(host.deliver('echo.ping', 'no corr'), 0);
    assert.equal(host.sent[1]?.corr, undefined);
    assert.equal(host.deliver('echo.reply', 'own reply'), 0);
    assert.equal(host.sent.length, 2, 'its own replies are not echoed');
  });

  test('the msgpack codec round-trips any value through the capsule', () => {
    const host = new FakeHost(stock('echo').wasm);
    const int64 = fc.oneof(fc.bigInt(-(2n ** 63n), -(2n ** 53n)), fc.bigInt(2n ** 53n, 2n ** 64n - 1n));
    const leaf = fc.oneof(
      fc.constant(null),
      fc.boolean(),
      fc.integer(),
      fc.integer({min: -(2 ** 31), max: 2 ** 32}),
      int64,
      fc.double(),
      fc.string({unit: 'binary', maxLength: 300}),
      fc.uint8Array({maxLength: 300}),
    );
    const value = fc.letrec((tie) => ({
      v: fc.oneof({depthSize: 'small'}, leaf, fc.array(tie('v'), {maxLength: 20}), fc.dictionary(fc.string({maxLength: 8}).filter((k) => k !== '__proto__'), tie('v'), {maxKeys: 20, noNullPrototype: true})),
    })).v;
    fc.assert(
      fc.property(value, (v) => {
        const before = host.sent.length;
        assert.equal(host.deliver('echo.rt', v, 'rt'), 0);
        assert.equal(host.sent.length, before + 1);
        assert.deepEqual(host.sent.at(-1)?.payload, v);
      }),
      {seed: 0x5d4, numRuns: 300},
    );
  });

  test('integers use the smallest form and float32 stays float32 (byte-exact)', () => {
    const host = new FakeHost(stock('echo').wasm);
    const cases: [number[], string][] = [
      [[0x00], '00'], [[0x7f], '7f'], [[0xcc, 0x80], 'cc80'], [[0xcd, 0x01, 0x00], 'cd0100'],
      [[0xce, 0x00, 0x01, 0x00, 0x00], 'ce00010000'], [[0xff], 'ff'], [[0xd0, 0xdf], 'd0df'],
      [[0xd1, 0xff, 0x7f], 'd1ff7f'], [[0xd2, 0xff, 0xff, 0x7f, 0xff], 'd2ffff7fff'],
      [[0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], 'cfffffffffffffffff'],
      [[0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0], 'd38000000000000000'],
      [[0xca, 0x3f, 0xc0, 0x00, 0x00], 'ca3fc00000'],
      [[0xcd, 0x00, 0x05], '05'], // non-minimal in, minimal out
    ];
    // {topic, from, session, seq, payload: <raw bytes>}
    const head = Buffer.concat([Buffer.from([0x85]), ...['topic', 'echo.x', 'from', 'p', 'session', 's', 'seq'].map((x) => packr.pack(x)), Buffer.from([1])]);
    for (const [payload, want] of cases) {
      const bytes = Buffer.concat([head, packr.pack('payload'), Buffer.from(payload)]);
      assert.equal(host.deliverBytes(bytes), 0);
      const raw = Buffer.from(host.sent.at(-1)?.raw ?? []);
      const tail = Buffer.concat([packr.pack('payload'), Buffer.from(want, 'hex')]);
      assert.ok(raw.subarray(raw.length - tail.length).equals(tail), `${Buffer.from(payload).toString('hex')} -> ${raw.toString('hex')}`);
    }
  });

  test('memory stays bounded over many activations (garbage is collected after each)', () => {
    const host = new FakeHost(stock('echo').wasm);
    const payload = {blob: Buffer.alloc(4096, 7), words: Array.from({length: 50}, (_, i) => `word-${i}`)};
    for (let i = 0; i < 2000; i++) assert.equal(host.deliver('echo.load', payload), 0);
    assert.ok(host.x.memory.buffer.byteLength <= 16 * 65536, `memory grew to ${host.x.memory.buffer.byteLength} bytes`);
  });

  test('the worst 64 KiB messages (one-byte items) fit the memory budget in capsule.toml', async () => {
    const {memory_pages} = parseManifest(await readFile(stock('echo').result.manifestPath, 'utf8')).budget;
    const worst: [string, unknown][] = [
      ['zeros', new Array(65_000).fill(0)],
      ['empty strings', new Array(64_000).fill('')],
      ['one-char strings', new Array(32_000).fill('x')],
      ['small maps', Array.from({length: 6_000}, () => ({a: 0}))],
      ['empty arrays', Array.from({length: 64_000}, () => [])],
    ];
    for (const [what, payload] of worst) {
      const host = new FakeHost(stock('echo').wasm);
      assert.equal(host.deliver('echo.big', payload), 0);
      assert.equal(host.sent.length, 1, what);
      const pages = host.x.memory.buffer.byteLength / 65536;
      assert.ok(pages <= memory_pages, `${what}: ${pages} pages > budget ${memory_pages}`);
    }
  });

  test('refuses malformed deliveries', () => {
    const host = new FakeHost(stock('echo').wasm);
    assert.equal(host.deliverBytes(Buffer.from([0x93, 1])), HANDLE_BAD_MESSAGE);
    assert.equal(host.deliverBytes(packr.pack({topic: 'echo.x', payload: 1, from: 'p', seq: -1, session: 's'})), HANDLE_BAD_MESSAGE);
    assert.equal(host.deliverBytes(packr.pack({topic: 'echo.x', from: 'p', seq: 1, session: 's'})), HANDLE_BAD_MESSAGE);
    assert.equal(host.deliverBytes(packr.pack(['echo.x'])), HANDLE_BAD_MESSAGE);
    assert.equal(host.sent.length, 0);
    assert.ok(host.logs.every((l) => l.level === 4 && l.text.startsWith('astrid-sdk: refused')));
    assert.equal(host.x.astrid_alloc(-1), 0);
  });
});

/** In-memory kv and a tiny file tree, with the error codes docs/abi.md names. */
function services(kv = new Map<string, Buffer>()): Services {
  const files = new Map([['/srv/a.txt', Buffer.from('hello world')]]);
  const denied = (p: unknown): boolean => typeof p !== 'string' || !p.startsWith('/srv/');
  return {
    'clock.now': () => ({value: {ms: 1_700_000_000_123}}),
    'random.bytes': (a) => ({value: Buffer.alloc(Number(a.n), 9)}),
    'kv.get': (a) => {
      const v = kv.get(`${String(a.ns)}/${String(a.key)}`);
      return v === undefined ? {error: ABI_ERRORS.NOT_FOUND} : {value: v};
    },
    'kv.set': (a) => (kv.set(`${String(a.ns)}/${String(a.key)}`, Buffer.from(a.value as Uint8Array)), {value: null}),
    'kv.delete': (a) => (kv.delete(`${String(a.ns)}/${String(a.key)}`), {value: null}),
    'kv.list': (a) => {
      const p = `${String(a.ns)}/${typeof a.prefix === 'string' ? a.prefix : ''}`;
      const keys = [...kv.keys()].filter((k) => k.startsWith(p)).sort().map((k) => k.slice(String(a.ns).length + 1));
      return {value: keys.slice(0, typeof a.limit === 'number' ? a.limit : 1000)};
    },
    'fs.read': (a) => {
      if (denied(a.path)) return {error: ABI_ERRORS.DENIED};
      const f = files.get(String(a.path));
      if (f === undefined) return {error: ABI_ERRORS.NOT_FOUND};
      const off = typeof a.offset === 'number' ? a.offset : 0;
      return {value: f.subarray(off, off + (typeof a.len === 'number' ? a.len : f.length))};
    },
    'fs.list': (a) => {
      if (denied(`${String(a.path)}/`)) return {error: ABI_ERRORS.DENIED};
      if (a.path === '/srv/big') return {value: Array.from({length: 30_000}, (_, i) => ({name: `file-${i}.txt`, type: 'file'}))};
      return {value: [{name: 'a.txt', type: 'file'}]};
    },
    'fs.stat': (a) => (denied(a.path) ? {error: ABI_ERRORS.DENIED} : {value: {type: 'file', size: 11, mtime: 1_700_000_000_000}}),
  };
}

describe('fs-tool and kv-notes under a fake host', () => {
  test('fs-tool reads, lists and stats, and reports the code the kernel returned', () => {
    const host = new FakeHost(stock('fs-tool').wasm, services());
    assert.equal(host.deliver('tool.fs.read', {path: '/srv/a.txt'}, 'r1'), 0);
    assert.deepEqual(host.last('tool.fs.result'), {ok: true, op: 'read', path: '/srv/a.txt', data: bin('hello world'), bytes: 11});
    assert.equal(host.sent.at(-1)?.corr, 'r1');
    assert.deepEqual(host.calls.at(-1), {op: 'fs.read', args: {path: '/srv/a.txt', offset: 0, len: 48 * 1024}});
    host.deliver('tool.fs.read', {path: '/srv/a.txt', offset: 6, len: 100000});
    assert.deepEqual(host.last('tool.fs.result').data, bin('world'));
    host.deliver('tool.fs.read', {path: '/etc/shadow'});
    assert.deepEqual(host.last('tool.fs.result'), {ok: false, op: 'read', path: '/etc/shadow', code: 'DENIED'});
    host.deliver('tool.fs.read', {path: '/srv/none'});
    assert.equal(host.last('tool.fs.result').code, 'NOT_FOUND');
    host.deliver('tool.fs.list', {path: '/srv'});
    assert.deepEqual(host.last('tool.fs.result'), {ok: true, op: 'list', path: '/srv', data: [{name: 'a.txt', type: 'file'}], truncated: false});
    host.deliver('tool.fs.list', {path: '/srv/big'});
    const big = host.last('tool.fs.result');
    assert.equal(big.truncated, true);
    assert.ok(Array.isArray(big.data) && big.data.length > 1000 && big.data.length < 30_000);
    assert.deepEqual(big.data[1], {name: 'file-1.txt', type: 'file'});
    assert.ok((host.sent.at(-1)?.raw.length ?? 0) < 64 * 1024, 'the result fits one message');
    host.deliver('tool.fs.stat', {path: '/srv/a.txt'});
    assert.deepEqual(host.last('tool.fs.result').data, {type: 'file', size: 11, mtime: 1_700_000_000_000});
    for (const bad of [{}, {path: 7}, {path: '/srv/a.txt', offset: -1}]) {
      host.deliver('tool.fs.read', bad);
      assert.equal(host.last('tool.fs.result').code, 'INVALID');
    }
    host.deliver('tool.fs.chmod', {path: '/srv/a.txt'});
    assert.deepEqual(host.last('tool.fs.result'), {ok: false, op: 'chmod', path: '/srv/a.txt', code: 'INVALID'});
    const n = host.sent.length;
    host.deliver('tool.fs.result', {ok: true});
    assert.equal(host.sent.length, n, 'its own results are ignored');
  });

  test('kv-notes adds, lists, gets and deletes notes in namespace "notes"', () => {
    const kv = new Map<string, Buffer>();
    const host = new FakeHost(stock('kv-notes').wasm, services(kv));
    host.deliver('notes.add', {text: 'first ☃'}, 'a1');
    assert.deepEqual(host.last('notes.result'), {ok: true, op: 'add', key: 'note/000000000000'});
    host.deliver('notes.add', {text: 'second'});
    assert.equal(host.last('notes.result').key, 'note/000000000001');
    assert.ok(host.calls.every((c) => c.args.ns === 'notes'));
    host.deliver('notes.list', {});
    assert.deepEqual(host.last('notes.result'), {
      ok: true, op: 'list', truncated: false,
      notes: [{key: 'note/000000000000', text: 'first ☃'}, {key: 'note/000000000001', text: 'second'}],
    });
    host.deliver('notes.get', {key: 'note/000000000001'});
    assert.deepEqual(host.last('notes.result'), {ok: true, op: 'get', key: 'note/000000000001', text: 'second'});
    host.deliver('notes.delete', {key: 'note/000000000000'});
    host.deliver('notes.get', {key: 'note/000000000000'});
    assert.deepEqual(host.last('notes.result'), {ok: false, op: 'get', code: 'NOT_FOUND'});
    // a fresh instance continues the counter kept in kv
    const again = new FakeHost(stock('kv-notes').wasm, services(kv));
    again.deliver('notes.add', {text: 'third'});
    assert.equal(again.last('notes.result').key, 'note/000000000002');
    for (const [topic, payload] of [['notes.add', {}], ['notes.add', {text: ''}], ['notes.get', {key: 'meta/next'}], ['notes.list', {limit: 0}], ['notes.nope', {}]] as const) {
      again.deliver(topic, payload);
      assert.equal(again.last('notes.result').code, 'INVALID', topic);
    }
  });
});

const PROBE = `
import {Message, MsgValue, Decoder, Encoder, onMessage, send, call, clockNow, randomBytes, kvGet, kvSet, kvDelete, kvList,
  fsRead, fsList, fsStat, fsWrite, utf8, log, errorName, DENIED, INVALID, TOO_LARGE, QUOTA, NOT_FOUND, WOULD_BLOCK, NO_REPLY,
  UNAVAILABLE, INTERNAL, MAX_MESSAGE_BYTES} from "astrid-sdk";
export {astrid_alloc, astrid_handle} from "astrid-sdk";

function handle(msg: Message): i32 {
  const out = MsgValue.newMap();
  const t = msg.topic;
  if (t == "probe.services") {
    out.setI64("now", clockNow());
    out.setBytes("random", randomBytes(3).bytes());
    out.setI64("set", <i64>kvSet("k", "a1", utf8("v")));
    out.setBytes("got", kvGet("k", "a1").bytes());
    out.set("list", MsgValue.ofStrings(kvList("k", "a", 10).strings()));
    out.setI64("del", <i64>kvDelete("k", "a1"));
    out.setString("missing", errorName(kvGet("k", "a1").code));
    out.setBytes("read", fsRead("/srv/a.txt", 1, 3).bytes());
    out.set("dir", fsList("/srv").value);
    out.set("stat", fsStat("/srv/a.txt").value);
    out.setString("denied", errorName(fsRead("/etc/passwd").code));
    out.setString("unknown", errorName(call("nope.op", MsgValue.newMap()).code));
    out.setI64("write", fsWrite("/srv/b.txt", utf8("xyz"), "w1"));
    out.setI64("big", send("probe.result", MsgValue.ofBytes(new Uint8Array(MAX_MESSAGE_BYTES))));
    let codes = "";
    const all: i32[] = [DENIED, INVALID, TOO_LARGE, QUOTA, NOT_FOUND, WOULD_BLOCK, NO_REPLY, UNAVAILABLE, INTERNAL];
    for (let i = 0; i < all.length; i++) codes += errorName(all[i]) + "=" + all[i].toString() + " ";
    out.setString("codes", codes);
  } else if (t == "probe.decode") {
    const d = Decoder.of(msg.payload.asBytes());
    const v = d.readAll();
    out.setBool("ok", v !== null);
    if (v === null) out.setString("error", d.error!);
    else out.setBytes("again", new Encoder().writeValue(v).finish());
  } else if (t == "probe.log") {
    for (let level = 0; level < 5; level++) log(level, "level " + level.toString());
    log(2, "x".repeat(5000));
    trace("traced", 2, 1.5, -2);
  } else if (t == "probe.abort") {
    assert(msg.payload.isNil(), "boom");
  } else if (t == "probe.random") {
    out.setF64("r", Math.random());
  } else if (t == "probe.kind") {
    out.setString("s", msg.payload.asString());
  }
  send("probe.result", out, msg.corr);
  return 0;
}
onMessage(handle);
`;

describe('the SDK through a probe capsule', () => {
  let wasm: Uint8Array;
  before(async () => {
    const {dir} = await scaffoldCapsule(work.dir, 'probe');
    await writeFile(join(dir, 'assembly', 'index.ts'), PROBE);
    wasm = new Uint8Array(await readFile((await buildCapsule(dir)).wasmPath));
  });

  test('every service helper sends the {op, args} docs/abi.md names and decodes its reply', () => {
    const host = new FakeHost(wasm, services());
    assert.equal(host.deliver('probe.services', null), 0);
    const r = host.last('probe.result');
    assert.deepEqual(r, {
      now: 1_700_000_000_123n, random: bin([9, 9, 9]), set: 0, got: bin('v'), list: ['a1'], del: 0, missing: 'NOT_FOUND',
      read: bin('ell'), dir: [{name: 'a.txt', type: 'file'}], stat: {type: 'file', size: 11, mtime: 1_700_000_000_000},
      denied: 'DENIED', unknown: 'UNAVAILABLE', write: 1, big: ABI_ERRORS.TOO_LARGE,
      codes: `${Object.entries(ABI_ERRORS).map(([k, v]) => `${k}=${v}`).join(' ')} `,
    });
    assert.deepEqual(host.calls.map((c) => [c.op, c.args]), [
      ['clock.now', {}],
      ['random.bytes', {n: 3}],
      ['kv.set', {ns: 'k', key: 'a1', value: bin('v')}],
      ['kv.get', {ns: 'k', key: 'a1'}],
      ['kv.list', {ns: 'k', prefix: 'a', limit: 10}],
      ['kv.delete', {ns: 'k', key: 'a1'}],
      ['kv.get', {ns: 'k', key: 'a1'}],
      ['fs.read', {path: '/srv/a.txt', offset: 1, len: 3}],
      ['fs.list', {path: '/srv'}],
      ['fs.stat', {path: '/srv/a.txt'}],
      ['fs.read', {path: '/etc/passwd'}],
      ['nope.op', {}],
    ]);
    assert.deepEqual(host.sent[0], {topic: 'svc.fs.write', payload: {path: '/srv/b.txt', data: bin('xyz')}, corr: 'w1', raw: host.sent[0]?.raw});
  });

  test('the decoder refuses malformed, truncated, oversize-claiming and too-deep input', () => {
    const host = new FakeHost(wasm, services());
    const cases: [string, RegExp][] = [
      ['c1', /invalid type byte/], ['dc0001', /truncated array/], ['92 01', /truncated array/], ['92 91 01', /unexpected end/], ['81 01', /truncated map/], ['dd ffffffff', /truncated array/],
      ['df ffffffff', /truncated map/], ['db ffffffff', /truncated string/], ['c6 00000010 00', /truncated bin/], ['cb 0000', /truncated float64/],
      ['01 02', /trailing bytes/], ['', /unexpected end/], ['91'.repeat(100) + '00', /nested too deeply/],
    ];
    for (const [hex, why] of cases) {
      host.deliver('probe.decode', Buffer.from(hex.replace(/ /g, ''), 'hex'));
      const r = host.last('probe.result');
      assert.equal(r.ok, false, hex);
      assert.match(String(r.error), why, hex);
    }
    host.deliver('probe.decode', Buffer.from('91'.repeat(60) + 'c0', 'hex'));
    assert.deepEqual(host.last('probe.result'), {ok: true, again: bin(Buffer.from('91'.repeat(60) + 'c0', 'hex'))});
  });

  test('log levels and truncation; abort, Math.random and a wrong kind trap with a logged reason', () => {
    const host = new FakeHost(wasm, services());
    host.deliver('probe.log', null);
    assert.deepEqual(host.logs.slice(0, 5), [0, 1, 2, 3, 4].map((level) => ({level, text: `level ${level}`})));
    assert.equal(host.logs[5]?.text.length, 4096);
    assert.deepEqual(host.logs[6], {level: 1, text: 'traced 1.5 -2.0'});
    for (const [topic, payload, why] of [
      ['probe.abort', 1, /^abort: boom at assembly\/index\.ts:\d+:\d+$/],
      ['probe.random', null, /Math\.random is not available/],
      ['probe.kind', 5, /msgpack: expected string, found int/],
    ] as const) {
      const h = new FakeHost(wasm, services());
      assert.throws(() => h.deliver(topic, payload), WebAssembly.RuntimeError);
      assert.match(h.logs.at(-1)?.text ?? '', why);
      assert.equal(h.logs.at(-1)?.level, 4);
    }
  });
});

describe('scaffold and build errors', () => {
  test('a scaffolded capsule outside the repo builds and answers', async () => {
    const {dir} = await scaffoldCapsule(join(work.dir, 'elsewhere'), 'hello-world');
    const before = parseManifest(await readFile(join(dir, 'capsule.toml'), 'utf8'));
    assert.deepEqual(before.topics, {handles: ['hello-world.>'], sends: ['hello-world.reply']});
    await access(join(dir, 'README.md'));
    const r = await buildCapsule(dir);
    assert.equal(r.wasmPath, join(dir, 'hello-world.wasm'));
    const host = new FakeHost(new Uint8Array(await readFile(r.wasmPath)));
    assert.equal(host.deliver('hello-world.ping', {x: 1}, 'c'), 0);
    assert.deepEqual(host.last('hello-world.reply'), {x: 1});
  });

  test('scaffold refuses a bad name and an existing directory', async () => {
    for (const name of ['Bad', '1abc', 'a_b', '', 'a/b', 'x'.repeat(65)]) {
      await assert.rejects(scaffoldCapsule(work.dir, name), (e) => isAstridError(e, 'INPUT_INVALID'));
    }
    await scaffoldCapsule(work.dir, 'twice');
    await writeFile(join(work.dir, 'twice', 'README.md'), 'mine');
    await assert.rejects(scaffoldCapsule(work.dir, 'twice'), (e) => isAstridError(e, 'INPUT_INVALID'));
    assert.equal(await readFile(join(work.dir, 'twice', 'README.md'), 'utf8'), 'mine');
  });

  test('a compile error is CAPSULE_BUILD_FAILED quoting the diagnostics, and writes nothing', async () => {
    const {dir} = await scaffoldCapsule(work.dir, 'broken');
    await writeFile(join(dir, 'assembly', 'index.ts'), 'export {astrid_alloc, astrid_handle} from "astrid-sdk";\nconst x: i32 = "not a number";\n');
    const manifest = await readFile(join(dir, 'capsule.toml'), 'utf8');
    await assert.rejects(buildCapsule(dir), (e) => {
      assert.ok(isAstridError(e, 'CAPSULE_BUILD_FAILED'));
      assert.match(e.message, /TS2322/);
      assert.match(e.message, /assembly\/index\.ts\(2,/);
      return true;
    });
    assert.equal(await readFile(join(dir, 'capsule.toml'), 'utf8'), manifest);
    await assert.rejects(access(join(dir, 'broken.wasm')));
  });

  test('a module importing outside the ABI (Date.now) is CAPSULE_BUILD_FAILED naming the import', async () => {
    const {dir} = await scaffoldCapsule(work.dir, 'clocky');
    const src = await readFile(join(dir, 'assembly', 'index.ts'), 'utf8');
    await writeFile(join(dir, 'assembly', 'index.ts'), src.replace('return 0;\n}', 'return <i32>Date.now();\n}'));
    await assert.rejects(buildCapsule(dir), (e) => isAstridError(e, 'CAPSULE_BUILD_FAILED') && /env\.Date\.now.*clockNow/.test(e.message));
  });

  test('a missing manifest, missing exports, or a missing handler is reported', async () => {
    await assert.rejects(buildCapsule(join(work.dir, 'nowhere')), (e) => isAstridError(e, 'CAPSULE_BUILD_FAILED'));
    const {dir: quiet} = await scaffoldCapsule(work.dir, 'quiet');
    await writeFile(join(quiet, 'assembly', 'index.ts'), 'export {astrid_alloc, astrid_handle} from "astrid-sdk";\n');
    const host = new FakeHost(new Uint8Array(await readFile((await buildCapsule(quiet)).wasmPath)));
    assert.equal(host.deliver('quiet.x', 1), HANDLE_NO_HANDLER);
    assert.match(host.logs[0]?.text ?? '', /no handler registered/);
    const {dir} = await scaffoldCapsule(work.dir, 'empty');
    await writeFile(join(dir, 'assembly', 'index.ts'), 'import {log} from "astrid-sdk";\nexport function f(): void { log(2, "x"); }\n');
    await assert.rejects(buildCapsule(dir), (e) => isAstridError(e, 'CAPSULE_BUILD_FAILED') && /does not export func astrid_alloc/.test(e.message));
  });
});
