// Proves: capsule KV data (the real kv-notes capsule) lives only in the ledger, survives closing and reopening the kernel state, and is invisible to another capsule using the same namespace and to another principal.
import {after, before, describe, it} from 'node:test';
import {strict as assert} from 'node:assert';
import {cpSync, readFileSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';
import {openCapsuleStore, openKernelState, runSession, type KernelState, type RunResult, createPrincipal, openAuthority} from '../../src/kernel/index.js';
import {rebuild} from '../../src/ledger/index.js';
import {kvProjection, type CapsuleStore} from '../../src/sandbox/index.js';
import {repoRoot, tmpDir} from '../helpers/index.js';
import {msgpack, watCapsule} from '../helpers/wat-capsule.js';

const GRANTS = ['kv:notes', 'bus.send:notes.result'];
type Answer = Record<string, unknown>;

describe('sandbox: kv state is a fold of the ledger, per principal and per capsule', () => {
  const {dir, cleanup} = tmpDir('astrid-kv-');
  const home = join(dir, 'home');
  const pkgs = join(dir, 'pkgs');
  let k: KernelState;
  let store: CapsuleStore;

  const open = async (): Promise<void> => {
    k = await openKernelState({home, mode: 'write'});
    store = openCapsuleStore(k);
  };
  const reopen = async (): Promise<void> => {
    await k.close();
    await open();
  };

  before(async () => {
    // a snapshot of the stock capsule, and a twin: the same module and namespace under another name
    cpSync(join(repoRoot, 'capsules', 'kv-notes'), join(pkgs, 'kv-notes'), {recursive: true});
    cpSync(join(pkgs, 'kv-notes'), join(pkgs, 'kv-twin'), {recursive: true});
    const toml = join(pkgs, 'kv-twin', 'capsule.toml');
    writeFileSync(toml, readFileSync(toml, 'utf8').replace('name = "kv-notes"', 'name = "kv-twin"'));
    await open();
    await store.install(join(pkgs, 'kv-notes'));
    await store.install(join(pkgs, 'kv-twin'));
    await createPrincipal(k, await openAuthority(k, 'write'), 'alice', 'agent');
  });
  after(async () => {
    await k.close();
    cleanup();
  });

  /** One request to a notes capsule; returns its single answer on notes.result. */
  const ask = async (op: string, payload: unknown, o: {capsule?: string; principal?: string; grants?: readonly string[]} = {}): Promise<Answer> => {
    const r: RunResult = await runSession(k, store, {capsule: o.capsule ?? 'kv-notes', grants: o.grants ?? GRANTS, topic: `notes.${op}`, input: payload, ...(o.principal ? {principal: o.principal} : {})});
    assert.equal(r.sends.length, 1, `one answer expected: ${JSON.stringify(r)}`);
    assert.equal(r.sends[0]?.topic, 'notes.result');
    return r.sends[0]?.payload as Answer;
  };

  it('kv.set in one session, kv.get in a later one after the kernel state is closed and reopened', async () => {
    assert.deepEqual(await ask('add', {text: 'buy milk'}), {ok: true, op: 'add', key: 'note/000000000000'});
    assert.deepEqual(await ask('add', {text: 'call mom'}), {ok: true, op: 'add', key: 'note/000000000001'});
    await reopen();
    assert.deepEqual(await ask('get', {key: 'note/000000000000'}), {ok: true, op: 'get', key: 'note/000000000000', text: 'buy milk'});
    assert.deepEqual(await ask('get', {key: 'note/000000000001'}), {ok: true, op: 'get', key: 'note/000000000001', text: 'call mom'});
  });

  it('the state is exactly the fold of the recorded host calls', async () => {
    const kv = (await rebuild(k.ledger, kvProjection)).state;
    const owned = [...kv.keys()].filter((key) => key.startsWith('owner\u0000kv-notes\u0000notes\u0000')).map((key) => key.split('\u0000')[3]);
    assert.deepEqual(owned.sort(), ['meta/next', 'note/000000000000', 'note/000000000001']);
    let sets = 0;
    for await (const e of k.ledger.entries({kind: 'host.call'})) if (e.entry.kind === 'host.call' && e.entry.body.op === 'kv.set' && e.entry.body.status >= 0) sets++;
    assert.equal(sets, 4, 'two notes, two counter updates');
  });

  it('another capsule with the same namespace sees nothing', async () => {
    assert.deepEqual(await ask('get', {key: 'note/000000000000'}, {capsule: 'kv-twin'}), {ok: false, op: 'get', code: 'NOT_FOUND'});
    assert.deepEqual(await ask('list', {}, {capsule: 'kv-twin'}), {ok: true, op: 'list', notes: [], truncated: false});
    // a raw kv.get of the same namespace and key from a third capsule: NOT_FOUND (-5), recorded
    await store.install(await watCapsule(pkgs, {fixture: 'call-request', name: 'kv-peek', request: msgpack({op: 'kv.get', args: {ns: 'notes', key: 'note/000000000000'}}), kv: ['notes']}));
    const r = await runSession(k, store, {capsule: 'kv-peek', grants: ['kv:notes'], topic: 'test.x', input: {}});
    assert.equal(r.message, 'astrid_handle returned -5');
    // the twin's own notes stay its own
    assert.deepEqual(await ask('add', {text: 'twin note'}, {capsule: 'kv-twin'}), {ok: true, op: 'add', key: 'note/000000000000'});
    assert.equal((await ask('get', {key: 'note/000000000000'})).text, 'buy milk');
  });

  it('another principal sees nothing, and its notes do not leak back', async () => {
    assert.deepEqual(await ask('get', {key: 'note/000000000000'}, {principal: 'alice'}), {ok: false, op: 'get', code: 'NOT_FOUND'});
    assert.deepEqual(await ask('list', {}, {principal: 'alice'}), {ok: true, op: 'list', notes: [], truncated: false});
    assert.deepEqual(await ask('add', {text: "alice's"}, {principal: 'alice'}), {ok: true, op: 'add', key: 'note/000000000000'});
    assert.equal((await ask('get', {key: 'note/000000000000'}, {principal: 'alice'})).text, "alice's");
    assert.equal((await ask('get', {key: 'note/000000000000'})).text, 'buy milk');
  });

  it('kv.list lists the keys in order', async () => {
    assert.deepEqual(await ask('list', {}), {
      ok: true,
      op: 'list',
      notes: [
        {key: 'note/000000000000', text: 'buy milk'},
        {key: 'note/000000000001', text: 'call mom'},
      ],
      truncated: false,
    });
  });

  it('kv.delete removes the key, and the removal survives a reopen', async () => {
    assert.deepEqual(await ask('delete', {key: 'note/000000000000'}), {ok: true, op: 'delete', key: 'note/000000000000'});
    assert.deepEqual(await ask('get', {key: 'note/000000000000'}), {ok: false, op: 'get', code: 'NOT_FOUND'});
    await reopen();
    assert.deepEqual(await ask('get', {key: 'note/000000000000'}), {ok: false, op: 'get', code: 'NOT_FOUND'});
    assert.deepEqual(await ask('list', {}), {ok: true, op: 'list', notes: [{key: 'note/000000000001', text: 'call mom'}], truncated: false});
    assert.equal((await ask('get', {key: 'note/000000000000'}, {principal: 'alice'})).text, "alice's", "alice's note is untouched");
  });

  it('without the kv grant the capsule is denied, and the denial names the namespace', async () => {
    const r = await runSession(k, store, {capsule: 'kv-notes', grants: ['bus.send:notes.result'], topic: 'notes.get', input: {key: 'note/000000000001'}});
    assert.deepEqual(r.sends[0]?.payload, {ok: false, op: 'get', code: 'DENIED'});
    assert.deepEqual(
      r.denials.map((d) => [d.layer, d.rule, d.resource]),
      [['token', 'no-token', 'kv:notes']],
    );
  });

  it('the ledger verifies after all of it', async () => {
    const report = await k.ledger.verify();
    assert.equal(report.ok, true, JSON.stringify(report.issues));
  });
});
