// Proves: a capsule can ask a human ahead of time through svc.approval.request only in a session that asks (--ask); the request is an approval actor answerable from any uplink, pinned to the capsule that asked; a bad resource or a session without approvers gets a stable code; every outcome is a service.result and a delivered svc.approval.request.result.
import {describe, it} from 'node:test';
import {strict as assert} from 'node:assert';
import {join} from 'node:path';
import {ActorRegistry, SERVICE_NAMES, startServiceActor} from '../../src/actors/index.js';
import {approvalService, openAuthority, restartBackoffMs, runSession} from '../../src/kernel/index.js';
import type {BodyByKind} from '../../src/ledger/index.js';
import {unpackUntrusted} from '../../src/sandbox/index.js';
import {kernelFixture} from '../helpers/kernel-fixture.js';
import {msgpack, watCapsule} from '../helpers/wat-capsule.js';

describe('services: approval requests from a capsule', () => {
  const f = kernelFixture('astrid-approval-svc-');
  const {dir} = f;
  let n = 0;

  const ask = async (payload: unknown, askFlag: boolean, actors?: ActorRegistry): Promise<{result: Record<string, unknown>; service: BodyByKind['service.result']; session: string; hash: string}> => {
    const name = `asker-${++n}`;
    const c = await f.store.install(await watCapsule(join(dir, 'pkgs'), {fixture: 'send-request', name, request: msgpack({topic: 'svc.approval.request', payload}), sends: ['svc.approval.request']}));
    const r = await runSession(f.k, f.store, {capsule: name, grants: ['bus.send:svc.approval.request'], topic: 'test.x', input: {}, ask: askFlag, ...(actors ? {actors} : {})});
    let result: Record<string, unknown> | undefined;
    let service: BodyByKind['service.result'] | undefined;
    for await (const e of f.k.ledger.entries({session: r.session})) {
      if (e.entry.kind === 'bus.message' && e.entry.body.topic === 'svc.approval.request.result') result = unpackUntrusted(e.entry.body.payload) as Record<string, unknown>;
      if (e.entry.kind === 'service.result') service = e.entry.body;
    }
    assert.ok(result !== undefined && service !== undefined, `${r.code ?? ''} ${r.message ?? ''}`);
    return {result, service, session: r.session, hash: c.hash};
  };

  it('a session that does not ask has no approvers: APPROVAL_UNAVAILABLE', async () => {
    const {result, service} = await ask({resource: 'fs.read:/srv/data/report.txt', reason: 'to summarise it'}, false);
    assert.deepEqual([result.ok, result.code], [false, 'APPROVAL_UNAVAILABLE']);
    assert.equal(service.ok, false);
  });

  it('each request is reported to the kernel\'s approval service actor: served and failed counted', async () => {
    const actors = new ActorRegistry();
    for (const name of SERVICE_NAMES) actors.add(`service:${name}`, 'service', startServiceActor(name));
    const before = actors.view('service:approval');
    assert.deepEqual([before?.state, before?.context.served, before?.context.failed], ['idle', 0, 0]);
    await ask({resource: 'fs.read:/srv/data/report.txt', reason: 'to summarise it'}, true, actors);
    await ask({resource: 'fs.read:relative', reason: ''}, true, actors);
    const after = actors.view('service:approval');
    assert.deepEqual([after?.state, after?.context.inFlight, after?.context.served, after?.context.failed], ['idle', 0, 1, 1]);
    assert.equal(typeof after?.context.lastFailure, 'string');
    assert.equal(actors.view('service:fs.write')?.context.served, 0, 'other services untouched');
    actors.stopAll();
  });

  it('a malformed request or resource is refused with a code', async () => {
    assert.equal((await ask({resource: 'fs.read:relative', reason: ''}, true)).result.ok, false);
    assert.equal((await ask({resource: 'fs.read:/x', reason: 'r', extra: 1}, true)).result.code, 'INPUT_INVALID');
    assert.equal((await ask('not a map', true)).result.code, 'INPUT_INVALID');
  });

  it('in a session that asks: a pending approval pinned to the capsule, answerable by a human, listed with the others', async () => {
    const {result, service, session, hash} = await ask({resource: 'fs.read:/srv/data/report.txt', reason: 'to summarise it'}, true);
    assert.equal(result.ok, true, JSON.stringify(result));
    assert.equal(service.ok, true);
    const a = await openAuthority(f.k, 'write');
    const rec = a.state.approvals.get(result.id as string);
    assert.ok(rec !== undefined);
    assert.deepEqual([rec.session, rec.resource, rec.hash, rec.status], [session, 'fs.read:/srv/data/report.txt', hash, 'pending']);
    const s = approvalService(a);
    try {
      const answered = await s.answer(result.id as string, {answer: 'denied', by: 'owner', via: 'cli', reason: 'not today'});
      assert.equal(answered.status, 'denied');
    } finally {
      s.stop();
    }
  });
});

describe('sessions: a capsule that keeps crashing', () => {
  const f = kernelFixture('astrid-restart-');
  const {dir} = f;

  it('is restarted with a growing backoff a bounded number of times, then the session stops with SANDBOX_RESTART_LIMIT', async () => {
    const request = msgpack({topic: 'svc.approval.request', payload: {resource: 'kv:x', reason: 'again'}});
    await f.store.install(await watCapsule(join(dir, 'pkgs'), {fixture: 'crash-after-send', name: 'crasher', request, sends: ['svc.approval.request']}));
    const r = await runSession(f.k, f.store, {capsule: 'crasher', grants: ['bus.send:svc.approval.request'], topic: 'test.x', input: {}});
    assert.equal(r.status, 'error');
    assert.equal(r.code, 'SANDBOX_TRAP', 'the first failure is what the session reports');
    let traps = 0;
    for await (const e of f.k.ledger.entries({session: r.session, kind: 'activation.ended'})) if (e.entry.kind === 'activation.ended' && e.entry.body.outcome === 'SANDBOX_TRAP') traps++;
    assert.equal(traps, 9, 'the first activation and eight restarts');
    assert.deepEqual([0, 1, 2, 6, 7, 20].map(restartBackoffMs), [10, 20, 40, 640, 1000, 1000]);
  });
});
