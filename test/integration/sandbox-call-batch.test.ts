// Proves kv reads are recorded in call.batch entries sequenced around a kv.set and before activation.ended, with the exact bytes the guest sent and got, and that activateSequenced returns before durability with a promise that resolves once the entries are durable.
import {test} from 'node:test';
import {strict as assert} from 'node:assert';
import {join} from 'node:path';
import {randomBytes} from 'node:crypto';
import {Blake3, SigningKey} from '../../src/crypto/index.js';
import {Ledger, LevelStore, type Clock} from '../../src/ledger/index.js';
import {CapsuleInstance, instrument, inspectWasm, kvKey, pack, unpackUntrusted, type KvState, type LoadedCapsule} from '../../src/sandbox/index.js';
import {parsePattern} from '../../src/topics/index.js';
import {tmpDir} from '../helpers/index.js';
import {testGate} from '../helpers/gate.js';
import {wat2wasm, watBytes} from '../helpers/wat-capsule.js';

const clock: Clock = {now: () => Date.now()};

test('kv reads go into call.batch entries around a kv.set, before activation.ended; activateSequenced then durable', async () => {
  const {dir, cleanup} = tmpDir('astrid-batch-');
  const hasher = await Blake3.create();
  const ledger = await Ledger.open({store: new LevelStore(join(dir, 'ledger')), clock, hasher, signer: SigningKey.generate(), checkpointIntervalMs: 0});
  try {
    const get = pack({op: 'kv.get', args: {ns: 'notes', key: 'a'}});
    const value = new Uint8Array(randomBytes(5));
    const set = pack({op: 'kv.set', args: {ns: 'notes', key: 'a', value}});
    const wasm = await wat2wasm(`(module
      (import "astrid" "call" (func $call (param i32 i32) (result i64)))
      (import "astrid" "reply" (func $reply (param i32)))
      (memory (export "memory") 1 1)
      (data (i32.const 16) "${watBytes(get)}")
      (data (i32.const 256) "${watBytes(set)}")
      (func (export "astrid_alloc") (param i32) (result i32) (i32.const 4096))
      (func (export "astrid_handle") (param i32 i32) (result i32)
        (if (i64.ne (call $call (i32.const 16) (i32.const ${get.length})) (i64.const -5)) (then (return (i32.const 1))))
        (if (i64.ne (call $call (i32.const 16) (i32.const ${get.length})) (i64.const -5)) (then (return (i32.const 2))))
        (if (i64.ne (call $call (i32.const 256) (i32.const ${set.length})) (i64.const 1)) (then (return (i32.const 3))))
        (if (i64.ne (call $call (i32.const 16) (i32.const ${get.length})) (i64.const 7)) (then (return (i32.const 4))))
        (call $reply (i32.const 1024))
        (i32.const 0)))`);
    const mem = inspectWasm(wasm).memories[0];
    const capsule: LoadedCapsule = {
      name: 'batcher',
      hash: hasher.hex(wasm),
      manifest: {
        package: {name: 'batcher', version: '0.1.0', abi: 1},
        module: {file: 'batcher.wasm', hash: hasher.hex(wasm)},
        topics: {handles: [parsePattern('test.>')], sends: []},
        resources: {fs_read: [], fs_write: [], net_http: [], kv: ['notes'], spawn: []},
        budget: {fuel: 10_000_000, memory_pages: 4, wall_ms: 10_000},
      },
      module: new WebAssembly.Module((await instrument(wasm)).bytes),
      initialPages: mem?.min ?? 1,
      declaredMaxPages: mem?.max,
      hasInit: false,
    };
    const kv: KvState = new Map();
    const {gate} = await testGate({ledger, clock, session: 's-batch', grants: ['kv:notes'], capsules: [capsule], denyRoots: [join(dir, 'home')]});
    const inst = await CapsuleInstance.create(capsule, {ledger, clock, gate, random: (n) => new Uint8Array(randomBytes(n)), kv, session: 's-batch', principal: 'owner', budget: capsule.manifest.budget});
    const input = ledger.enqueue({kind: 'bus.message', body: {topic: 'test.x', payload: pack({}), from: 'test', corr: ''}, session: 's-batch', principal: 'owner', actor: 'test'});
    const {result, durable} = inst.activateSequenced({topic: 'test.x', payload: {}, from: 'test', seq: input.seq});
    assert.equal(result.outcome, 'ok', result.message);
    assert.equal(result.calls, 4);
    assert.ok(ledger.durableHead.seq < result.endSeq, 'returned before the entries are durable');
    assert.equal(await durable, result);
    assert.ok(ledger.durableHead.seq >= result.endSeq, 'durable once the promise resolves');
    assert.deepEqual(kv.get(kvKey('owner', 'batcher', 'notes', 'a')), value);

    const mine: {kind: string; body: Record<string, unknown>}[] = [];
    for await (const e of ledger.entries({session: 's-batch'})) if (e.entry.actor === 'batcher') mine.push({kind: e.entry.kind, body: e.entry.body as unknown as Record<string, unknown>});
    assert.deepEqual(
      mine.map((e) => (e.kind === 'host.call' ? `host.call:${String(e.body.op)}` : e.kind)),
      ['activation.started', 'host.call:call.batch', 'host.call:kv.set', 'host.call:call.batch', 'activation.ended'],
    );
    const items = (i: number): unknown => (unpackUntrusted(mine[i]?.body.request as Uint8Array) as unknown[][]).map((x) => x.map((y) => (y instanceof Uint8Array ? Buffer.from(y).toString('hex') : y)));
    const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
    assert.equal(mine[1]?.body.status, 2);
    assert.deepEqual(items(1), [
      [1, 'kv.get', hex(get), -5, ''],
      [2, 'kv.get', hex(get), -5, ''],
    ]);
    assert.equal(hex(mine[2]?.body.request as Uint8Array), hex(set));
    assert.deepEqual(items(3), [[4, 'kv.get', hex(get), 7, hex(pack(value))]]);
  } finally {
    await ledger.close();
    cleanup();
  }
});
