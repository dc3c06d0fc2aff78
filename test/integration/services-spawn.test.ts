// Proves: a capsule can start a child capsule only through svc.spawn, only when the gate allows `spawn:<capsule>` (manifest bound and token), only under a token attenuated from its own (never wider: a wider ask is refused), with nesting bounded; the child's outcome comes back as svc.spawn.result, every step is in the ledger, and the child's token dies with the parent session.
import {before, describe, it} from 'node:test';
import {strict as assert} from 'node:assert';
import {join} from 'node:path';
import {MAX_SPAWNS_PER_TREE, openAuthority, runSession, type RunResult} from '../../src/kernel/index.js';
import type {AnyEntry, BodyByKind} from '../../src/ledger/index.js';
import {unpackUntrusted} from '../../src/sandbox/index.js';
import {parseTokenId} from '../../src/capabilities/index.js';
import {repoRoot} from '../helpers/index.js';
import {kernelFixture} from '../helpers/kernel-fixture.js';
import {msgpack, watCapsule} from '../helpers/wat-capsule.js';
import {bodies, sessionEntries} from '../helpers/entries.js';


describe('services: spawn', () => {
  const f = kernelFixture('astrid-spawn-');
  const pkgs = join(f.dir, 'pkgs');
  let n = 0;

  before(async () => {
    await f.store.install(join(repoRoot, 'capsules', 'echo'));
  });

  const entries = (session: string): Promise<AnyEntry[]> => sessionEntries(f.k.ledger, session);

  /** A parent capsule (send-request.wat) that sends svc.spawn with `payload`, run under `grants`. */
  const parent = async (payload: unknown, grants: readonly string[], o: {spawnBound?: string[]; name?: string} = {}): Promise<{r: RunResult; es: AnyEntry[]; result: Record<string, unknown>}> => {
    const name = o.name ?? `parent-${++n}`;
    await f.store.install(await watCapsule(pkgs, {fixture: 'send-request', name, request: msgpack({topic: 'svc.spawn', payload}), sends: ['svc.spawn'], spawn: o.spawnBound ?? ['echo']}));
    const r = await runSession(f.k, f.store, {capsule: name, grants: ['bus.send:svc.spawn', ...grants], topic: 'test.x', input: {}});
    const es = await entries(r.session);
    const msg = bodies(es, 'bus.message').filter((b) => b.topic === 'svc.spawn.result');
    assert.equal(msg.length, 1, `one svc.spawn.result (${r.code ?? ''} ${r.message ?? ''})`);
    return {r, es, result: unpackUntrusted((msg[0] as BodyByKind['bus.message']).payload) as Record<string, unknown>};
  };

  const ECHO = {capsule: 'echo', topic: 'echo.hello', input: {text: 'from the parent'}, resources: ['bus.send:echo.>']};

  it('without spawn:echo in any token: refused by the gate, recorded, no child session', async () => {
    const {result, es} = await parent(ECHO, ['bus.send:echo.>']);
    assert.deepEqual([result.ok, result.code], [false, 'GATE_DENIED']);
    assert.ok(bodies(es, 'gate.denied').some((d) => d.resource.startsWith('spawn:echo@blake3:') && d.layer === 'token'));
    assert.equal(bodies(es, 'service.result')[0]?.ok, false);
  });

  it('a capsule whose manifest does not bound spawning echo is refused at the manifest layer, whatever it holds', async () => {
    const {result, es} = await parent(ECHO, ['spawn:echo', 'bus.send:echo.>'], {spawnBound: []});
    assert.deepEqual([result.ok, result.code], [false, 'GATE_DENIED']);
    assert.ok(bodies(es, 'gate.denied').some((d) => d.resource.startsWith('spawn:echo@blake3:') && d.layer === 'manifest'));
  });

  it('asking for more than the parent holds is refused (TOKEN_WIDENED): a child is never wider', async () => {
    const {result} = await parent({...ECHO, resources: ['bus.send:echo.>', 'fs.read:/etc/**']}, ['spawn:echo', 'bus.send:echo.>']);
    assert.deepEqual([result.ok, result.code], [false, 'TOKEN_WIDENED']);
    const {result: r2} = await parent({...ECHO, resources: ['bus.send:>']}, ['spawn:echo', 'bus.send:echo.>']);
    assert.deepEqual([r2.ok, r2.code], [false, 'TOKEN_WIDENED'], 'a wider pattern of the same type');
  });

  it('a granted spawn runs the child under an attenuated token, delivers its sends back, and the token dies with the parent session', async () => {
    const {r, es, result} = await parent(ECHO, ['spawn:echo', 'bus.send:echo.>']);
    assert.equal(r.status, 'ok', r.message);
    assert.equal(result.ok, true, JSON.stringify(result));
    assert.deepEqual(result.sends, [{topic: 'echo.reply', payload: {text: 'from the parent'}}]);
    const child = result.session as string;
    const childToken = parseTokenId(result.token as string);
    const a = await openAuthority(f.k, 'write');
    const t = a.token(childToken);
    assert.ok(t !== undefined);
    assert.deepEqual(t.resources.map((x) => x.text), ['bus.send:echo.>']);
    assert.equal(t.parent, r.tokens[0], 'attenuated from the parent session token');
    const ce = await entries(child);
    assert.deepEqual(bodies(ce, 'session.started')[0]?.grants, [childToken]);
    assert.equal(bodies(ce, 'session.ended')[0]?.status, 'ok');
    assert.match(bodies(es, 'service.result')[0]?.detail ?? '', new RegExp(`child session ${child} under ${childToken}: ok`));
    assert.equal(a.report(childToken).status, 'revoked', 'revoking the parent session token revoked the child');
  });

  it('a grant may pin the module: spawn:blake3:<hash of echo> allows it, another hash does not', async () => {
    let hash = '';
    for await (const e of f.k.ledger.entries({kind: 'capsule.installed'})) if (e.entry.kind === 'capsule.installed' && e.entry.body.name === 'echo') hash = e.entry.body.hash;
    assert.match(hash, /^[0-9a-f]{64}$/);
    const ok = await parent(ECHO, [`spawn:blake3:${hash}`, 'bus.send:echo.>'], {spawnBound: ['echo']});
    assert.equal(ok.result.ok, true, JSON.stringify(ok.result));
    const other = await parent(ECHO, [`spawn:blake3:${'0'.repeat(64)}`, 'bus.send:echo.>'], {spawnBound: ['echo']});
    assert.deepEqual([other.result.ok, other.result.code], [false, 'GATE_DENIED']);
  });

  it('a capsule spawning itself stops at the depth bound', async () => {
    const name = 'recurse';
    const self = {capsule: name, topic: 'test.x', input: {}, resources: ['bus.send:svc.spawn', `spawn:${name}`]};
    const {result} = await parent(self, [`spawn:${name}`], {spawnBound: [name], name});
    // each level delivers its child's result back; the innermost child was refused
    let depth = 0;
    let cur: Record<string, unknown> | undefined = result;
    const es = await entries(result.session as string);
    assert.ok(es.length > 0);
    while (cur !== undefined && cur.ok === true) {
      depth++;
      const inner: BodyByKind['bus.message'] | undefined = bodies(await entries(cur.session as string), 'bus.message').find((b) => b.topic === 'svc.spawn.result');
      cur = inner === undefined ? undefined : (unpackUntrusted(inner.payload) as Record<string, unknown>);
    }
    assert.equal(cur?.code, 'SPAWN_TOO_DEEP');
    assert.equal(depth, 4);
  });

  it('a capsule spawning itself several times per activation (breadth, not depth) stops at the tree bound', async () => {
    const name = 'fan';
    const self = {capsule: name, topic: 'test.x', input: {}, resources: ['bus.send:svc.spawn', `spawn:${name}`]};
    await f.store.install(await watCapsule(pkgs, {fixture: 'send-fan', name, request: msgpack({topic: 'svc.spawn', payload: self}), sends: ['svc.spawn'], spawn: [name]}));
    const from = f.k.ledger.head.seq;
    const r = await runSession(f.k, f.store, {capsule: name, grants: ['bus.send:svc.spawn', `spawn:${name}`], topic: 'test.x', input: {}});
    assert.equal(r.status, 'ok', r.message);
    let started = 0;
    const codes = new Set<string>();
    for await (const e of f.k.ledger.entries({from: from + 1})) {
      if (e.entry.kind === 'session.started') started++;
      if (e.entry.kind === 'service.result' && e.entry.body.service === 'spawn') codes.add(e.entry.body.code);
    }
    assert.equal(started, 1 + MAX_SPAWNS_PER_TREE, 'the root session and at most MAX_SPAWNS_PER_TREE children');
    assert.ok(codes.has('SPAWN_LIMIT'), [...codes].join(','));
  });
});
