// Proves: the real `astrid` binary installs, lists, inspects and removes capsules, runs one for one message with exactly the grants and budget given, and keeps its JSON contract, error codes and exit statuses.
import {after, before, describe, it} from 'node:test';
import {strict as assert} from 'node:assert';
import {join} from 'node:path';
import {runCli, runCliAsync, tmpDir, cliFails as failsWith, cliJson as json, cliOk as ok, type Json} from '../helpers/index.js';
import {watCapsule} from '../helpers/wat-capsule.js';




/** Exit 1 with one `{"error": {code, message}}` object carrying `code`. */

const HEX64 = /^[0-9a-f]{64}$/;
const GOOD_RUN = ['run', 'good', '--topic', 'test.x', '--input', '{"a":1}', '--grant', 'bus.send:good.done', '--json'];

describe('astrid capsule: install, list, inspect, remove', () => {
  const {dir, cleanup} = tmpDir('astrid-e2e-capsule-');
  const home = join(dir, 'home');
  let goodDir: string;
  before(async () => {
    goodDir = await watCapsule(join(dir, 'pkgs'), {fixture: 'good'});
  });
  after(cleanup);

  it('install prints the installed capsule', () => {
    const r = ok(runCli(['capsule', 'install', goodDir, '--json'], home));
    assert.equal(r.name, 'good');
    assert.equal(r.version, '0.1.0');
    assert.match(String(r.hash), HEX64);
    assert.match(String(r.instrumentedHash), HEX64);
    assert.notEqual(r.hash, r.instrumentedHash);
    assert.equal(typeof r.installedSeq, 'number');
  });

  it('list --json is an array with name, version and hash', () => {
    const list = json(runCli(['capsule', 'list', '--json'], home));
    assert.ok(Array.isArray(list));
    assert.deepEqual(
      (list as Json[]).map((c) => [c.name, c.version, HEX64.test(String(c.hash))]),
      [['good', '0.1.0', true]],
    );
    const human = runCli(['capsule', 'list'], home);
    assert.equal(human.status, 0);
    assert.match(human.stdout, /^good\s+0\.1\.0\s+blake3:[0-9a-f]{16}/m);
  });

  it('inspect --json shows the manifest, the astrid imports, the exports and the memory', () => {
    const r = ok(runCli(['capsule', 'inspect', 'good', '--json'], home));
    assert.equal(r.name, 'good');
    const m = r.manifest as {package: Json; topics: Json; budget: Json};
    assert.deepEqual(m.package, {name: 'good', version: '0.1.0', abi: 1});
    assert.deepEqual(m.topics, {handles: ['test.>'], sends: ['good.done', 'test.>']});
    assert.deepEqual(m.budget, {fuel: 1_000_000, memory_pages: 16, wall_ms: 2000});
    assert.deepEqual(
      (r.imports as Json[]).map((i) => `${String(i.module)}.${String(i.name)}`),
      ['astrid.send', 'astrid.call', 'astrid.reply', 'astrid.log'],
    );
    assert.deepEqual([...(r.exports as string[])].sort(), ['astrid_alloc', 'astrid_handle', 'memory']);
    assert.deepEqual(r.memory, {initial: 1, maximum: 16});
  });

  it('a refused package exits 1 with its code and installs nothing', async () => {
    const wasi = await watCapsule(join(dir, 'pkgs'), {fixture: 'wasi-import'});
    const e = failsWith(runCli(['capsule', 'install', wasi, '--json'], home), 'SANDBOX_IMPORT_DENIED');
    assert.match(String(e.message), /wasi_snapshot_preview1\.fd_write/);
    const bad = await watCapsule(join(dir, 'pkgs'), {fixture: 'good', name: 'bad-hash', hash: '00'.repeat(32)});
    failsWith(runCli(['capsule', 'install', bad, '--json'], home), 'CAPSULE_HASH_MISMATCH');
    assert.deepEqual(
      (json(runCli(['capsule', 'list', '--json'], home)) as Json[]).map((c) => c.name),
      ['good'],
    );
  });

  it('remove, then list is empty and run is CAPSULE_NOT_FOUND (exit 1)', () => {
    const r = ok(runCli(['capsule', 'remove', 'good', '--json'], home));
    assert.equal(r.name, 'good');
    assert.equal(typeof r.seq, 'number');
    assert.deepEqual(json(runCli(['capsule', 'list', '--json'], home)), []);
    failsWith(runCli(GOOD_RUN, home), 'CAPSULE_NOT_FOUND');
    failsWith(runCli(['capsule', 'inspect', 'good', '--json'], home), 'CAPSULE_NOT_FOUND');
  });
});

describe('astrid run', () => {
  const {dir, cleanup} = tmpDir('astrid-e2e-run-');
  const home = join(dir, 'home');
  let goodFuel = 0;
  before(async () => {
    for (const fixture of ['good', 'unreachable']) {
      const r = runCli(['capsule', 'install', await watCapsule(join(dir, 'pkgs'), {fixture, budget: {fuel: 100_000}}), '--json'], home);
      assert.equal(r.status, 0, r.stdout + r.stderr);
    }
  });
  after(cleanup);

  it('runs good for one message: status ok, its send, its fuel; the session is in the audit log', () => {
    const r = ok(runCli(GOOD_RUN, home));
    assert.match(String(r.session), /^s-[0-9a-f]{16}$/);
    assert.equal(r.status, 'ok');
    assert.equal(r.code, undefined);
    const sends = r.sends as Json[];
    assert.equal(sends.length, 1);
    assert.equal(sends[0]?.topic, 'good.done');
    assert.equal(typeof sends[0]?.payload, 'number', 'the length of the message it was handed');
    assert.ok(typeof r.fuelUsed === 'number' && r.fuelUsed > 0);
    goodFuel = r.fuelUsed;
    assert.equal(r.activations, 1);
    assert.deepEqual(r.denials, []);

    const audit = json(runCli(['audit', 'show', '--session', String(r.session), '--json'], home)) as Json[];
    assert.deepEqual(
      audit.map((e) => e.kind),
      ['session.started', 'grant.issued', 'bus.message', 'activation.started', 'gate.allowed', 'bus.message', 'activation.ended', 'budget.charged', 'grant.revoked', 'session.ended'],
    );
    assert.ok(audit.every((e) => e.session === r.session));
    const started = audit[0]?.body as Json;
    assert.deepEqual([started.capsule, started.principal, started.grants], ['good', 'owner', r.tokens]);
    // the session's grant is an owner-signed token naming exactly the --grant resources, revoked when the session ends
    const token = json(runCli(['token', 'show', String((r.tokens as string[])[0]), '--json'], home)) as Json;
    assert.deepEqual([(token.token as Json).resources, token.status, token.via], [['bus.send:good.done'], 'revoked', `session:${String(r.session)}`]);
    assert.deepEqual(audit.at(-1)?.body, {status: 'ok', code: ''});
  });

  it('the same run prints a human summary without --json', () => {
    const r = runCli(GOOD_RUN.filter((a) => a !== '--json'), home);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^session s-[0-9a-f]{16} \(in-process\): ok$/m);
    assert.match(r.stdout, /sent good\.done \d+/);
    assert.match(r.stdout, new RegExp(`fuel used ${goodFuel} over 1 activation`));
  });

  it('without the grant the send is denied, recorded, and nothing is sent', () => {
    const r = ok(runCli(['run', 'good', '--topic', 'test.x', '--json'], home));
    assert.equal(r.status, 'ok', 'good ignores the refusal and returns 0');
    assert.deepEqual(r.sends, []);
    assert.deepEqual(
      (r.denials as Json[]).map((d) => [d.layer, d.rule, d.resource]),
      [['token', 'no-token', 'bus.send:good.done']],
    );
  });

  it('a hostile run: status error with its code, exit 1', () => {
    const trap = runCli(['run', 'unreachable', '--topic', 'test.x', '--json'], home);
    assert.equal(trap.status, 1);
    const r = json(trap) as Json;
    assert.deepEqual([r.status, r.code, r.sends], ['error', 'SANDBOX_TRAP', []]);
    assert.match(String(r.message), /unreachable/);
  });

  it('--budget fuel: enough to the unit runs, one less runs out (exit 1)', () => {
    assert.ok(goodFuel > 1 && goodFuel < 1000, `good needs ${goodFuel} fuel: fuel=1000 would not run it out`);
    const exact = ok(runCli([...GOOD_RUN, '--budget', `fuel=${goodFuel}`], home));
    assert.deepEqual([exact.status, exact.fuelUsed], ['ok', goodFuel]);
    const short = runCli([...GOOD_RUN, '--budget', `fuel=${goodFuel - 1}`], home);
    assert.equal(short.status, 1);
    const r = json(short) as Json;
    assert.deepEqual([r.status, r.code, r.fuelUsed, r.sends], ['error', 'SANDBOX_FUEL_EXHAUSTED', goodFuel - 1, []]);
  });

  it('bad --grant, --budget, --input and --topic are INPUT_INVALID (exit 1) and start no session', async () => {
    const startedBefore = (json(runCli(['audit', 'show', '--kind', 'session.started', '--json'], home)) as Json[]).length;
    for (const grant of ['fs.read:relative/path', 'fs.read:/srv/../etc/**']) {
      const e = failsWith(runCli([...GOOD_RUN, '--grant', grant], home), 'INPUT_INVALID');
      assert.match(String(e.message), /^--grant:/);
    }
    // refused before the ledger is opened, so these may run side by side
    const early = await Promise.all([
      ...['fuel=abc', 'gas=1', 'fuel=0'].map((b) => runCliAsync([...GOOD_RUN, '--budget', b], home)),
      runCliAsync(['run', 'good', '--topic', 'test.x', '--input', '{not json', '--json'], home),
    ]);
    for (const r of early) failsWith(r, 'INPUT_INVALID');
    failsWith(runCli(['run', 'good', '--topic', 'other.x', '--json'], home), 'INPUT_INVALID');
    const startedAfter = (json(runCli(['audit', 'show', '--kind', 'session.started', '--json'], home)) as Json[]).length;
    assert.equal(startedAfter, startedBefore);
  });

  it('the ledger verifies after all of it', () => {
    const r = ok(runCli(['audit', 'verify', '--json'], home));
    assert.equal(r.ok, true, JSON.stringify(r));
  });
});

describe('astrid capsule new, build, install, run: a new user\'s first capsule', () => {
  const {dir, cleanup} = tmpDir('astrid-e2e-first-');
  const home = join(dir, 'home');
  after(cleanup);

  it('the scaffold builds and installs; run without a grant is denied and says which --grant allows it; with that grant it answers', () => {
    const made = runCli(['capsule', 'new', 'greeter', '--dir', dir], home);
    assert.equal(made.status, 0, made.stderr);
    const next = /^then: astrid (run greeter .*)$/m.exec(made.stdout);
    assert.ok(next, made.stdout);
    const pkg = join(dir, 'greeter');
    ok(runCli(['capsule', 'build', pkg, '--json'], home));
    ok(runCli(['capsule', 'install', pkg, '--json'], home));

    const denied = runCli(['run', 'greeter', '--topic', 'greeter.hello', '--input', '"hi"'], home);
    assert.equal(denied.status, 1, 'the handler fails when its reply is refused');
    assert.match(denied.stdout, /denied \(token\/no-token\) bus\.send:greeter\.reply/);
    assert.match(denied.stdout, /to allow it, run again with --grant 'bus\.send:greeter\.reply'/);
    assert.doesNotMatch(denied.stdout, /sent greeter\.reply/);

    // the command `capsule new` suggested, as printed
    const args = (next[1] as string).match(/'[^']*'|\S+/g)?.map((a) => a.replace(/^'(.*)'$/, '$1')) ?? [];
    const r = ok(runCli([...args, '--json'], home));
    assert.equal(r.status, 'ok');
    assert.deepEqual(r.sends, [{topic: 'greeter.reply', payload: 'hi'}]);
    assert.deepEqual(r.denials, []);
  });
});
