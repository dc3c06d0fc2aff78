// Proves: every capsule in the hostile corpus ends with its exact code and ledger entries (real wasm, real LevelDB), is refused at install or load when it must be, and never harms the kernel.
import {after, before, describe, it} from 'node:test';
import {strict as assert} from 'node:assert';
import {existsSync, readFileSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';
import {openCapsuleStore, openKernelState, runSession, type KernelState, type RunResult} from '../../src/kernel/index.js';
import {rebuild, type AnyEntry, type BodyByKind} from '../../src/ledger/index.js';
import {installedProjection, METER_VERSION, type CapsuleStore, type InstalledCapsule} from '../../src/sandbox/index.js';
import {tmpDir} from '../helpers/index.js';
import {msgpack, watCapsule, type WatCapsuleOptions} from '../helpers/wat-capsule.js';
import {bodies, sessionEntries} from '../helpers/entries.js';

const GOOD_GRANTS = ['bus.send:good.done'];


function only<T>(xs: readonly T[], what: string): T {
  assert.equal(xs.length, 1, `expected exactly one ${what}, got ${xs.length}`);
  return xs[0] as T;
}

function codeOf(e: unknown): string | undefined {
  return typeof e === 'object' && e !== null && typeof (e as {code?: unknown}).code === 'string' ? (e as {code: string}).code : undefined;
}

describe('sandbox: hostile corpus', () => {
  const {dir, cleanup} = tmpDir('astrid-hostile-');
  const home = join(dir, 'home');
  const pkgs = join(dir, 'pkgs');
  let k: KernelState;
  let store: CapsuleStore;

  before(async () => {
    k = await openKernelState({home, mode: 'write'});
    store = openCapsuleStore(k);
  });
  after(async () => {
    await k.close();
    cleanup();
  });

  const install = async (o: WatCapsuleOptions): Promise<InstalledCapsule> => store.install(await watCapsule(pkgs, o));
  const entries = (session: string): Promise<AnyEntry[]> => sessionEntries(k.ledger, session);
  const run = (capsule: string, input: unknown = {a: 1}): Promise<RunResult> => runSession(k, store, {capsule, grants: GOOD_GRANTS, topic: 'test.x', input});
  /** Runs `capsule` once and checks the common shape: one activation, an error with `code`, and the session entries bracketing it. */
  const runHostile = async (capsule: string, code: string): Promise<{r: RunResult; es: AnyEntry[]; ended: BodyByKind['activation.ended']}> => {
    const r = await run(capsule);
    assert.equal(r.status, 'error');
    assert.equal(r.code, code, `${capsule}: ${r.message ?? ''}`);
    assert.equal(r.activations, 1);
    const es = await entries(r.session);
    assert.equal(es[0]?.kind, 'session.started');
    assert.deepEqual(es.at(-1)?.body, {status: 'error', code});
    const ended = only(bodies(es, 'activation.ended'), 'activation.ended');
    assert.equal(ended.capsule, capsule);
    assert.equal(ended.outcome, code);
    assert.equal(ended.fuelUsed, r.fuelUsed);
    return {r, es, ended};
  };
  const assertNotInstalled = async (name: string): Promise<void> => {
    assert.equal((await rebuild(k.ledger, installedProjection)).state.has(name), false, `${name} must not be installed`);
    for await (const e of k.ledger.entries({kind: 'capsule.installed'})) assert.notEqual(e.entry.kind === 'capsule.installed' && e.entry.body.name, name);
  };
  const assertGoodWorks = async (): Promise<void> => {
    const r = await run('good');
    assert.equal(r.status, 'ok', r.message);
    assert.equal(r.sends.length, 1);
    assert.equal(r.sends[0]?.topic, 'good.done');
  };

  it('installs the well-behaved neighbour', async () => {
    await install({fixture: 'good'});
    await assertGoodWorks();
  });

  it('infinite loop: SANDBOX_FUEL_EXHAUSTED, fuelUsed equals the budget fuel', async () => {
    await install({fixture: 'infinite-loop', budget: {fuel: 200_000}});
    const {r, ended} = await runHostile('infinite-loop', 'SANDBOX_FUEL_EXHAUSTED');
    assert.equal(ended.fuelUsed, 200_000);
    assert.equal(r.fuelUsed, 200_000);
    assert.equal(ended.message, 'fuel exhausted');
    assert.deepEqual(r.sends, []);
  });

  it('memory bomb (budget 4 pages): sandbox.memory_refused at 4 pages, then SANDBOX_MEMORY_LIMIT', async () => {
    await install({fixture: 'memory-bomb', budget: {memory_pages: 4}});
    const {es, ended} = await runHostile('memory-bomb', 'SANDBOX_MEMORY_LIMIT');
    const refused = only(bodies(es, 'sandbox.memory_refused'), 'sandbox.memory_refused');
    assert.deepEqual(refused, {capsule: 'memory-bomb', code: 'SANDBOX_MEMORY_LIMIT', requestedPages: 5, limitPages: 4});
    assert.equal(ended.memoryPages, 4, 'the memory never grew past the budget');
    const kinds = es.map((e) => e.kind);
    assert.ok(kinds.indexOf('sandbox.memory_refused') < kinds.indexOf('activation.ended'));
  });

  it('deep recursion: SANDBOX_TRAP (stack overflow) or SANDBOX_FUEL_EXHAUSTED, and good still runs after it', async () => {
    await install({fixture: 'deep-recursion'});
    const r = await run('deep-recursion');
    assert.equal(r.status, 'error');
    assert.ok(r.code === 'SANDBOX_TRAP' || r.code === 'SANDBOX_FUEL_EXHAUSTED', `unexpected ${r.code}: ${r.message ?? ''}`);
    if (r.code === 'SANDBOX_TRAP') assert.match(r.message ?? '', /stack|call stack/i);
    const ended = only(bodies(await entries(r.session), 'activation.ended'), 'activation.ended');
    assert.equal(ended.outcome, r.code);
    await assertGoodWorks();
    // and the kernel itself can still recurse normally
    const depth = (n: number): number => (n === 0 ? 0 : 1 + depth(n - 1));
    assert.equal(depth(5000), 5000);
  });

  it('WASI import: install refused with SANDBOX_IMPORT_DENIED naming wasi_snapshot_preview1.fd_write; nothing installed or stored', async () => {
    const head = k.ledger.head.seq;
    const pkg = await watCapsule(pkgs, {fixture: 'wasi-import'});
    await assert.rejects(store.install(pkg), (e: unknown) => {
      assert.equal(codeOf(e), 'SANDBOX_IMPORT_DENIED');
      assert.match((e as Error).message, /wasi_snapshot_preview1\.fd_write/);
      return true;
    });
    await assertNotInstalled('wasi-import');
    assert.equal(k.ledger.head.seq, head, 'a refused install writes nothing');
    const hash = k.ledger.hasher.hex(readFileSync(join(pkg, 'wasi-import.wasm')));
    assert.equal(existsSync(join(home, 'store', 'modules', `${hash}.wasm`)), false, 'nor stores the module');
    await assert.rejects(run('wasi-import'), (e: unknown) => codeOf(e) === 'CAPSULE_NOT_FOUND');
  });

  it('start function: install refused with SANDBOX_START_DENIED', async () => {
    await assert.rejects(install({fixture: 'start-function'}), (e: unknown) => codeOf(e) === 'SANDBOX_START_DENIED');
    await assertNotInstalled('start-function');
  });

  it('wrong ABI version (abi = 2): install refused with SANDBOX_ABI_VERSION', async () => {
    await assert.rejects(install({fixture: 'good', name: 'good-abi2', abi: 2}), (e: unknown) => codeOf(e) === 'SANDBOX_ABI_VERSION');
    await assertNotInstalled('good-abi2');
  });

  it('hash mismatch: install refused with CAPSULE_HASH_MISMATCH', async () => {
    await assert.rejects(install({fixture: 'good', name: 'good-badhash', hash: 'ab'.repeat(32)}), (e: unknown) => codeOf(e) === 'CAPSULE_HASH_MISMATCH');
    await assertNotInstalled('good-badhash');
  });

  it('a stored module altered on disk after install: the run is refused with CAPSULE_HASH_MISMATCH and no session starts', async () => {
    // unique modules (their own request bytes), so the content-addressed files are not shared with other tests
    const a = await install({fixture: 'call-request', name: 'tamper-inst', request: msgpack({op: 'clock.now', args: {}, tamper: 1})});
    const b = await install({fixture: 'call-request', name: 'tamper-orig', request: msgpack({op: 'clock.now', args: {}, tamper: 2})});
    const instPath = join(home, 'store', 'instrumented', `${a.hash}.m${METER_VERSION}.wasm`);
    const origPath = join(home, 'store', 'modules', `${b.hash}.wasm`);
    assert.ok(existsSync(instPath) && existsSync(origPath));
    for (const p of [instPath, origPath]) {
      const bytes = readFileSync(p);
      bytes[bytes.length - 1] = (bytes[bytes.length - 1] as number) ^ 0x01; // still the same size, a different hash
      writeFileSync(p, bytes);
    }
    for (const name of ['tamper-inst', 'tamper-orig']) {
      const head = k.ledger.head.seq;
      await assert.rejects(run(name), (e: unknown) => {
        assert.equal(codeOf(e), 'CAPSULE_HASH_MISMATCH');
        assert.match((e as Error).message, /altered/);
        return true;
      });
      assert.equal(k.ledger.head.seq, head, `${name}: nothing ran, nothing recorded`);
    }
  });

  it('a re-install never trusts a swapped instrumented cache: the module that runs is the one the manifest pins', async () => {
    const pkg = await watCapsule(pkgs, {fixture: 'call-request', name: 'swap-cache', request: msgpack({op: 'clock.now', args: {}})});
    const x = await store.install(pkg);
    const goodInst = (await rebuild(k.ledger, installedProjection)).state.get('good') as InstalledCapsule;
    const instPath = (h: string): string => join(home, 'store', 'instrumented', `${h}.m${METER_VERSION}.wasm`);
    writeFileSync(instPath(x.hash), readFileSync(instPath(goodInst.hash))); // valid wasm, someone else's code
    const again = await store.install(pkg);
    assert.equal(again.instrumentedHash, x.instrumentedHash, 'the swapped cache was re-instrumented, not recorded');
    const r = await run('swap-cache');
    assert.deepEqual(r.sends, [], 'good.wasm must not run under the name swap-cache');
    assert.match(r.message ?? '', /^astrid_handle returned \d+$/, 'call-request returned the clock reply length');
  });

  it('oversized send: send returns TOO_LARGE (-3), recorded as host.call status -3; the handle error is CAPSULE_ERROR', async () => {
    await install({fixture: 'oversized-send'});
    const {r, es} = await runHostile('oversized-send', 'CAPSULE_ERROR');
    assert.equal(r.message, 'astrid_handle returned -3');
    const call = only(bodies(es, 'host.call'), 'host.call');
    assert.equal(call.op, 'send');
    assert.equal(call.status, -3);
    assert.equal(call.request.length, 0, 'the 1 MiB message was never read');
    assert.equal(bodies(es, 'bus.message').length, 1, 'only the delivered input is on the bus');
  });

  it('call flood: QUOTA (-4) after 1,024 calls, exactly one gate.denied abi.max-calls', async () => {
    await install({fixture: 'call-flood', budget: {fuel: 50_000_000}});
    const {r, es} = await runHostile('call-flood', 'CAPSULE_ERROR');
    assert.equal(r.message, 'astrid_handle returned -4');
    const denied = only(bodies(es, 'gate.denied'), 'gate.denied');
    assert.equal(denied.rule, 'abi.max-calls');
    assert.equal(denied.layer, 'quota');
    assert.equal(denied.code, 'GATE_DENIED');
    const calls = bodies(es, 'host.call');
    assert.equal(calls.length, 1024, 'each admitted call is recorded, nothing after the quota');
    assert.ok(calls.every((c) => c.op === 'clock.now' && c.status > 0));
    assert.deepEqual(
      r.denials.map((d) => d.rule),
      ['abi.max-calls'],
    );
  });

  it('oob send: INVALID (-2), recorded', async () => {
    await install({fixture: 'oob-send'});
    const {r, es} = await runHostile('oob-send', 'CAPSULE_ERROR');
    assert.equal(r.message, 'astrid_handle returned -2');
    const call = only(bodies(es, 'host.call'), 'host.call');
    assert.deepEqual([call.op, call.status], ['send', -2]);
  });

  it('forged reply: SANDBOX_TRAP "reply called without a pending reply"', async () => {
    await install({fixture: 'forged-reply'});
    const {r, ended} = await runHostile('forged-reply', 'SANDBOX_TRAP');
    assert.equal(r.message, 'reply called without a pending reply');
    assert.equal(ended.message, 'reply called without a pending reply');
  });

  it('unreachable: SANDBOX_TRAP with the engine message', async () => {
    await install({fixture: 'unreachable'});
    const {ended} = await runHostile('unreachable', 'SANDBOX_TRAP');
    assert.match(ended.message, /unreachable/);
  });

  it('determinism: the same capsule and input use the same fuel every run', async () => {
    for (const [name, input] of [
      ['good', {a: 1}],
      ['call-flood', {}],
      ['oob-send', {x: 'y'}],
      ['infinite-loop', {}],
    ] as const) {
      const a = await run(name, input);
      const b = await run(name, input);
      assert.equal(a.fuelUsed, b.fuelUsed, `${name}: fuel differs between runs`);
      assert.ok(a.fuelUsed > 0, name);
      assert.deepEqual([a.status, a.code, a.sends], [b.status, b.code, b.sends], name);
    }
  });

  it('after the whole corpus the kernel still runs good and the ledger verifies', async () => {
    await assertGoodWorks();
    const report = await k.ledger.verify();
    assert.equal(report.ok, true, JSON.stringify(report.issues));
  });
});
