// Proves findings of the security reviews stay fixed: a guest cannot swallow a host stop, msgpack reference graphs and extension types are refused, and path globs stay linear.
import {test} from 'node:test';
import {strict as assert} from 'node:assert';
import {Packr} from 'msgpackr';
import {openKernelState, openCapsuleStore, runSession} from '../../src/kernel/index.js';
import {unpackUntrusted} from '../../src/sandbox/index.js';
import {pathMatches} from '../../src/capabilities/index.js';
import {tmpDir} from '../helpers/index.js';
import {watCapsule} from '../helpers/wat-capsule.js';

test('a guest that catches the kernel stop (catch_all) still ends SANDBOX_TRAP, and its later host call does not run', async () => {
  const {dir, cleanup} = tmpDir('astrid-review-');
  try {
    const pkg = await watCapsule(dir, {fixture: 'catch-unwind', features: {exceptions: true}});
    const k = await openKernelState({home: `${dir}/home`, mode: 'write'});
    try {
      const store = openCapsuleStore(k);
      await store.install(pkg);
      const r = await runSession(k, store, {capsule: 'catch-unwind', grants: [], topic: 'test.x'});
      assert.equal(r.status, 'error');
      assert.equal(r.code, 'SANDBOX_TRAP');
      assert.match(r.message ?? '', /reply called without a pending reply/);
      const kinds: string[] = [];
      for await (const e of k.ledger.entries({session: r.session})) kinds.push(e.entry.kind);
      assert.ok(!kinds.includes('capsule.log'), `the log after the stop ran: ${kinds.join(',')}`);
      const ended = [];
      for await (const e of k.ledger.entries({session: r.session, kind: 'activation.ended'})) ended.push(e.entry);
      assert.equal(ended.length, 1);
      assert.equal(ended[0]?.kind === 'activation.ended' ? ended[0].body.outcome : '', 'SANDBOX_TRAP');
    } finally {
      await k.close();
    }
  } finally {
    cleanup();
  }
});

test('msgpack reference extensions (shared subgraphs) are refused at the guest boundary', () => {
  let x: unknown[] = [1];
  for (let i = 0; i < 40; i++) x = [x, x];
  const bytes = new Packr({structuredClone: true, useRecords: false}).pack({op: 'clock.now', args: x});
  assert.ok(bytes.length < 1024);
  assert.equal(unpackUntrusted(bytes), undefined);
  // plain data still decodes
  assert.deepEqual(unpackUntrusted(new Packr({useRecords: false}).pack({op: 'kv.get', args: {ns: 'a', key: 'b'}})), {op: 'kv.get', args: {ns: 'a', key: 'b'}});
});

test('only plain msgpack crosses the guest boundary: extension types (bundled strings with a hostile size, records, undefined) and repeated keys are refused', () => {
  const hostile = [
    Uint8Array.from([0xa0, 0xa0, 0xd6, 0x62, 0xff, 0xff, 0xff, 0xfc, 0xc0]), // msgpackr bundled strings, negative size
    Uint8Array.from([0xd6, 0x62, 0xff, 0xff, 0xff, 0xfc, 0xc0]),
    new Packr({useRecords: true}).pack([{a: 1}, {a: 2}]), // record extension
    Uint8Array.from([0xd4, 0x00, 0x00]), // undefined as msgpackr writes it
    Uint8Array.from([0x82, 0xa1, 0x61, 0x01, 0xa1, 0x61, 0x02]), // {a: 1, a: 2}
    Uint8Array.from([0xc0, 0xc0]), // two values
  ];
  for (const b of hostile) assert.equal(unpackUntrusted(b), undefined, Buffer.from(b).toString('hex'));
});

test('path globs with many ** against long paths are decided (linear matcher), and correctly', () => {
  const long = '/' + Array(1500).fill('a').join('/');
  assert.equal(pathMatches('/**/**/**/**/**/**/z', long), false);
  assert.equal(pathMatches('/**/**/**/**/**/**/a', long), true);
  assert.equal(pathMatches('/a/**/a/**/a', long), true);
  assert.equal(pathMatches('/srv/project/**', '/srv/project-evil/x'), false);
  assert.equal(pathMatches('/a/**/b', '/a/b'), true);
  assert.equal(pathMatches('/a/*/b', '/a/x/y/b'), false);
});
