// Proves: a well-behaved capsule run beside every hostile one (interleaved, concurrent, and as one long-lived instance sharing a session) gets identical sends and identical fuel every time, and the ledger still verifies.
import {after, before, describe, it} from 'node:test';
import {strict as assert} from 'node:assert';
import {join} from 'node:path';
import {openCapsuleStore, openKernelState, runSession, type KernelState, type RunResult} from '../../src/kernel/index.js';
import {rebuild} from '../../src/ledger/index.js';
import {CapsuleInstance, installedProjection, pack, type ActivationResult, type CapsuleStore, type LoadedCapsule, type SessionContext} from '../../src/sandbox/index.js';
import {tmpDir} from '../helpers/index.js';
import {testGate} from '../helpers/gate.js';
import {msgpack, watCapsule, type WatCapsuleOptions} from '../helpers/wat-capsule.js';

const INPUT = {a: 1, text: 'the same input every time'};
const GOOD_GRANTS = ['bus.send:good.done'];

/** The hostile capsules that install, with what a run of each must end in (`a|b`: either). */
const RUNNABLE: ReadonlyArray<{o: WatCapsuleOptions; code: string; grants?: readonly string[]}> = [
  {o: {fixture: 'infinite-loop', budget: {fuel: 300_000}}, code: 'SANDBOX_FUEL_EXHAUSTED'},
  {o: {fixture: 'memory-bomb', budget: {memory_pages: 4}}, code: 'SANDBOX_MEMORY_LIMIT'},
  {o: {fixture: 'deep-recursion'}, code: 'SANDBOX_TRAP|SANDBOX_FUEL_EXHAUSTED'},
  {o: {fixture: 'oversized-send'}, code: 'CAPSULE_ERROR'},
  {o: {fixture: 'call-flood', budget: {fuel: 50_000_000}}, code: 'CAPSULE_ERROR'},
  {o: {fixture: 'oob-send'}, code: 'CAPSULE_ERROR'},
  {o: {fixture: 'forged-reply'}, code: 'SANDBOX_TRAP'},
  {o: {fixture: 'unreachable'}, code: 'SANDBOX_TRAP'},
  {o: {fixture: 'call-request', name: 'traversal', request: msgpack({op: 'fs.read', args: {path: '/etc/../etc/passwd'}}), fsRead: ['/etc/**']}, code: 'CAPSULE_ERROR', grants: ['fs.read:/etc/**']},
  {o: {fixture: 'send-request', name: 'write-escape', request: msgpack({topic: 'svc.fs.write', payload: {path: '/tmp/astrid-neighbour-escape', data: new Uint8Array(1)}}), sends: ['svc.fs.write']}, code: 'CAPSULE_ERROR', grants: ['bus.send:svc.fs.write']},
];
/** The hostile packages that must be refused at install. */
const REFUSED: ReadonlyArray<{o: WatCapsuleOptions; code: string}> = [
  {o: {fixture: 'wasi-import'}, code: 'SANDBOX_IMPORT_DENIED'},
  {o: {fixture: 'start-function'}, code: 'SANDBOX_START_DENIED'},
  {o: {fixture: 'good', name: 'good-abi2', abi: 2}, code: 'SANDBOX_ABI_VERSION'},
  {o: {fixture: 'good', name: 'good-badhash', hash: 'cd'.repeat(32)}, code: 'CAPSULE_HASH_MISMATCH'},
];
const nameOf = (o: WatCapsuleOptions): string => o.name ?? o.fixture;
const endsAs = (code: string | undefined, expected: string, who: string): void => assert.ok(code !== undefined && expected.split('|').includes(code), `${who}: ${code ?? 'ok'}, expected ${expected}`);

describe('sandbox: a good capsule beside hostile neighbours', () => {
  const {dir, cleanup} = tmpDir('astrid-neighbours-');
  const home = join(dir, 'home');
  const pkgs = join(dir, 'pkgs');
  let k: KernelState;
  let store: CapsuleStore;
  let baseline: RunResult;

  before(async () => {
    k = await openKernelState({home, mode: 'write'});
    store = openCapsuleStore(k);
    // Push seqs past 255 so every delivered message encodes its seq in the same 3 bytes:
    // good's payload is the length of the message it was handed, which must not drift.
    while (k.ledger.head.seq < 300) await k.ledger.append({kind: 'note', body: {text: 'padding'}, session: 'kernel', principal: 'owner', actor: 'kernel'});
    await store.install(await watCapsule(pkgs, {fixture: 'good'}));
    for (const h of RUNNABLE) await store.install(await watCapsule(pkgs, h.o));
  });
  after(async () => {
    await k.close();
    cleanup();
  });

  const runGood = (): Promise<RunResult> => runSession(k, store, {capsule: 'good', grants: GOOD_GRANTS, topic: 'test.x', input: INPUT});
  /** The length of the message good was handed in `session` (msgpack {topic, payload, from, seq, session}). */
  const deliveredLength = async (session: string): Promise<number> => {
    for await (const e of k.ledger.entries({session, kind: 'activation.started'})) {
      if (e.entry.kind === 'activation.started') return pack({topic: 'test.x', payload: INPUT, from: 'cli', seq: e.entry.body.input, session}).length;
    }
    return assert.fail('no activation.started');
  };
  const assertSameAsBaseline = async (r: RunResult, after: string): Promise<void> => {
    assert.equal(r.status, 'ok', `good after ${after}: ${r.code ?? ''} ${r.message ?? ''}`);
    assert.deepEqual(r.sends, baseline.sends, `good's sends changed after ${after}`);
    assert.equal(r.fuelUsed, baseline.fuelUsed, `good's fuel changed after ${after}`);
    assert.deepEqual(r.denials, []);
    assert.deepEqual(r.sends, [{topic: 'good.done', payload: await deliveredLength(r.session)}], 'payload = the input length');
  };

  it('establishes the baseline: good sends its input length', async () => {
    baseline = await runGood();
    assert.equal(baseline.status, 'ok');
    assert.deepEqual(baseline.sends, [{topic: 'good.done', payload: await deliveredLength(baseline.session)}]);
    assert.ok(baseline.fuelUsed > 0);
  });

  it('interleaved: good, hostile, good, ... every hostile capsule in turn', async () => {
    for (const h of RUNNABLE) {
      const r = await runSession(k, store, {capsule: nameOf(h.o), grants: h.grants ?? GOOD_GRANTS, topic: 'test.x', input: INPUT});
      assert.equal(r.status, 'error', nameOf(h.o));
      endsAs(r.code, h.code, `${nameOf(h.o)} (${r.message ?? ''})`);
      await assertSameAsBaseline(await runGood(), nameOf(h.o));
    }
    for (const h of REFUSED) {
      await assert.rejects(store.install(await watCapsule(pkgs, h.o)), (e: unknown) => (e as {code?: string}).code === h.code);
      await assertSameAsBaseline(await runGood(), `the refused install of ${nameOf(h.o)}`);
    }
    const installed = (await rebuild(k.ledger, installedProjection)).state;
    for (const h of REFUSED) assert.equal(installed.has(nameOf(h.o)), false);
  });

  it('concurrent: good and a hostile capsule in flight together, on the same ledger', async () => {
    for (const h of RUNNABLE) {
      const [g, bad] = await Promise.all([runGood(), runSession(k, store, {capsule: nameOf(h.o), grants: h.grants ?? GOOD_GRANTS, topic: 'test.x', input: INPUT})]);
      endsAs(bad.code, h.code, nameOf(h.o));
      await assertSameAsBaseline(g, `${nameOf(h.o)} (concurrently)`);
    }
  });

  it('one long-lived good instance shares a session with instances of every hostile capsule', async () => {
    const session = 's-neighbours';
    const load = async (name: string): Promise<LoadedCapsule> => {
      const c = (await rebuild(k.ledger, installedProjection)).state.get(name);
      assert.ok(c !== undefined, name);
      return store.load(c);
    };
    const ctx = async (loaded: LoadedCapsule, grants: readonly string[]): Promise<SessionContext> => ({
      ledger: k.ledger,
      clock: k.clock,
      gate: (await testGate({ledger: k.ledger, clock: k.clock, session, grants, capsules: [loaded], denyRoots: [home]})).gate,
      random: (n) => new Uint8Array(n),
      kv: new Map(),
      session,
      principal: 'owner',
      budget: loaded.manifest.budget,
    });
    /** Append the input message, deliver it, and return the result with the message's length as delivered. */
    const deliver = async (inst: CapsuleInstance): Promise<ActivationResult & {inputLength: number}> => {
      const m = await k.ledger.append({kind: 'bus.message', body: {topic: 'test.x', payload: pack(INPUT), from: 'cli', corr: ''}, session, principal: 'owner', actor: 'cli'});
      const r = await inst.activate({topic: 'test.x', payload: INPUT, from: 'cli', seq: m.seq});
      return {...r, inputLength: pack({topic: 'test.x', payload: INPUT, from: 'cli', seq: m.seq, session}).length};
    };
    const goodLoaded = await load('good');
    const good = await CapsuleInstance.create(goodLoaded, await ctx(goodLoaded, GOOD_GRANTS));
    const first = await deliver(good);
    assert.equal(first.outcome, 'ok');
    for (const h of RUNNABLE) {
      const loaded = await load(nameOf(h.o));
      const bad = await CapsuleInstance.create(loaded, await ctx(loaded, h.grants ?? GOOD_GRANTS));
      const b = await deliver(bad);
      endsAs(b.outcome, h.code, nameOf(h.o));
      assert.equal(bad.dead, b.outcome !== 'CAPSULE_ERROR', `${nameOf(h.o)}: a trapped instance is discarded`);
      const g = await deliver(good);
      assert.equal(good.dead, false);
      assert.equal(g.outcome, 'ok', `after ${nameOf(h.o)}: ${g.message}`);
      assert.equal(g.fuelUsed, first.fuelUsed, `fuel after ${nameOf(h.o)}`);
      assert.equal(g.memoryPages, first.memoryPages);
      assert.deepEqual(
        g.sends.map((x) => [x.topic, x.payload]),
        [['good.done', g.inputLength]],
        `sends after ${nameOf(h.o)}`,
      );
      assert.equal(g.inputLength, first.inputLength);
    }
  });

  it('the ledger verifies at the end', async () => {
    const report = await k.ledger.verify();
    assert.equal(report.ok, true, JSON.stringify(report.issues));
    assert.ok(report.entries > 300);
  });
});
