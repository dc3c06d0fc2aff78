// Proves: a capsule reaches the filesystem and KV only inside its grants and its manifest, never the Astrid home, never through `..`, encodings or symlinks; each denial names its layer and rule; an fs write happens only after its send is durable.
import {after, before, describe, it} from 'node:test';
import {strict as assert} from 'node:assert';
import {existsSync, linkSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';
import {openCapsuleStore, openKernelState, runSession, type KernelState, type RunResult} from '../../src/kernel/index.js';
import type {AnyEntry, BodyByKind} from '../../src/ledger/index.js';
import {unpackUntrusted, type CapsuleStore} from '../../src/sandbox/index.js';
import {tmpDir} from '../helpers/index.js';
import {msgpack, watCapsule, type WatCapsuleOptions} from '../helpers/wat-capsule.js';
import {bodies, sessionEntries} from '../helpers/entries.js';


function only<T>(xs: readonly T[], what: string): T {
  assert.equal(xs.length, 1, `expected exactly one ${what}, got ${xs.length}`);
  return xs[0] as T;
}

interface Case {
  readonly r: RunResult;
  readonly es: AnyEntry[];
  readonly call: BodyByKind['host.call'];
  readonly denied: BodyByKind['gate.denied'][];
  readonly logs: string[];
}

describe('sandbox: confinement of fs and kv', () => {
  const {dir, cleanup} = tmpDir('astrid-confine-');
  const home = join(dir, 'home');
  const pkgs = join(dir, 'pkgs');
  const root = join(dir, 'root');
  const outside = join(dir, 'outside');
  let k: KernelState;
  let store: CapsuleStore;
  let n = 0;

  before(async () => {
    mkdirSync(join(root, 'allowed'), {recursive: true});
    mkdirSync(join(root, 'out'), {recursive: true});
    mkdirSync(outside, {recursive: true});
    writeFileSync(join(root, 'allowed', 'file.txt'), 'hello from allowed');
    writeFileSync(join(root, 'secret.txt'), 'TOP SECRET in root');
    writeFileSync(join(outside, 'x.txt'), 'outside data');
    symlinkSync('../secret.txt', join(root, 'allowed', 'link'));
    symlinkSync('../../outside', join(root, 'allowed', 'dirlink'));
    symlinkSync(home, join(root, 'allowed', 'homelink'));
    symlinkSync('../../outside', join(root, 'out', 'esc'));
    k = await openKernelState({home, mode: 'write'});
    store = openCapsuleStore(k);
  });
  after(async () => {
    await k.close();
    cleanup();
  });

  const entries = (session: string): Promise<AnyEntry[]> => sessionEntries(k.ledger, session);

  /** Install call-request.wat with `request` (manifest fs_read bound `<root>/**` unless given) and run it once under `grants`. */
  const callCase = async (request: unknown, grants: readonly string[], o: Partial<WatCapsuleOptions> = {}): Promise<Case> => {
    const name = `conf-${++n}`;
    await store.install(await watCapsule(pkgs, {fixture: 'call-request', name, request: msgpack(request), fsRead: [`${root}/**`], ...o}));
    const r = await runSession(k, store, {capsule: name, grants, topic: 'test.x', input: {}});
    const es = await entries(r.session);
    return {r, es, call: only(bodies(es, 'host.call'), 'host.call'), denied: bodies(es, 'gate.denied'), logs: bodies(es, 'capsule.log').map((l) => l.text)};
  };
  const read = (path: string, grants: readonly string[], o: Partial<WatCapsuleOptions> = {}): Promise<Case> => callCase({op: 'fs.read', args: {path}}, grants, o);
  const readGrant = [`fs.read:${root}/allowed/**`];

  /** The call returned DENIED (-1), exactly one gate.denied names `layer`/`rule`, and nothing leaked into a log. */
  const assertDenied = (c: Case, layer: string, rule: string): BodyByKind['gate.denied'] => {
    assert.equal(c.call.status, -1, `status ${c.call.status}`);
    assert.equal(c.call.reply.length, 0);
    assert.equal(c.r.message, 'astrid_handle returned -1');
    const d = only(c.denied, 'gate.denied');
    assert.deepEqual([d.layer, d.rule, d.code], [layer, rule, 'GATE_DENIED'], d.reason);
    assert.deepEqual(c.logs, [], 'no reply reached the capsule');
    assert.deepEqual(
      c.r.denials.map((x) => [x.layer, x.rule]),
      [[layer, rule]],
    );
    return d;
  };

  it('reads a granted file: the reply carries its content', async () => {
    const c = await read(join(root, 'allowed', 'file.txt'), readGrant);
    assert.ok(c.call.status > 0);
    assert.deepEqual(c.denied, []);
    assert.ok(only(c.logs, 'log line').includes('hello from allowed'));
    const reply = unpackUntrusted(c.call.reply);
    assert.ok(reply instanceof Uint8Array && Buffer.from(reply).toString('utf8') === 'hello from allowed', 'the recorded reply is the file');
  });

  it('`..` traversal is refused at classification (-1), before any path is resolved', async () => {
    const c = await read(`${root}/allowed/../secret.txt`, readGrant);
    assertDenied(c, 'classify', 'path-normalised');
  });

  it('percent-encoded dots, a trailing slash and a double slash are refused at classification', async () => {
    for (const path of [`${root}/allowed/%2e%2e/secret.txt`, `${root}/allowed/%2E%2E%2fsecret.txt`, `${root}/allowed/`, `${root}/allowed//file.txt`]) {
      assertDenied(await read(path, readGrant), 'classify', 'path-normalised');
    }
  });

  it('a symlink to a file outside the grant is a symlink-escape (-1), checked on the real path', async () => {
    const d = assertDenied(await read(join(root, 'allowed', 'link'), readGrant), 'policy', 'symlink-escape');
    assert.match(d.reason, /secret\.txt/);
  });

  it('a symlinked directory leading outside the manifest bound is a symlink-escape', async () => {
    const c = await read(join(root, 'allowed', 'dirlink', 'x.txt'), readGrant);
    assertDenied(c, 'policy', 'symlink-escape');
    const list = await callCase({op: 'fs.list', args: {path: join(root, 'allowed', 'dirlink')}}, readGrant);
    assertDenied(list, 'policy', 'symlink-escape');
  });

  it('the Astrid home is refused by policy even when granted and inside the manifest bound', async () => {
    const file = join('keys', readdirSync(join(home, 'keys'))[0] as string); // the kernel's private key, say
    const o = {fsRead: [`${home}/**`, `${root}/**`]};
    const d0 = assertDenied(await read(join(home, file), [`fs.read:${home}/**`], o), 'policy', 'deny-root');
    assert.equal(d0.resource, `fs.read:${join(home, file)}`);
    assertDenied(await callCase({op: 'fs.stat', args: {path: home}}, [`fs.read:${home}`], {fsRead: [home]}), 'policy', 'deny-root');
    // reached through a granted symlink: the real path is checked by policy too
    const d = assertDenied(await read(join(root, 'allowed', 'homelink', file), readGrant), 'policy', 'symlink-escape');
    assert.match(d.reason, /protected root/);
  });

  it('a hard link inside the grant to a file under the home is refused (INVALID, -2): a name-based check cannot see the second name', async () => {
    const key = join(home, 'keys', readdirSync(join(home, 'keys')).find((f) => f.endsWith('.key')) as string);
    const link = join(root, 'allowed', 'innocent.txt');
    linkSync(key, link);
    const c = await read(link, readGrant);
    assert.equal(c.call.status, -2, `status ${c.call.status}`);
    assert.equal(c.r.message, 'astrid_handle returned -2');
  });

  it('grants match by segment: /srv/project/** does not cover /srv/project-evil/x', async () => {
    const c = await read('/srv/project-evil/x', ['fs.read:/srv/project/**'], {fsRead: ['/srv/**']});
    const d = assertDenied(c, 'token', 'no-token');
    assert.equal(d.resource, 'fs.read:/srv/project-evil/x', 'the denial names what was asked for');
  });

  it('a path granted but outside the manifest bound is refused by the manifest layer', async () => {
    assertDenied(await read(join(outside, 'x.txt'), [`fs.read:${outside}/**`]), 'manifest', 'manifest.fs.read');
  });

  it('kv without a grant is refused (-1) by the grant layer; with it the call works', async () => {
    const req = {op: 'kv.set', args: {ns: 'notes', key: 'k', value: new Uint8Array([1])}};
    assertDenied(await callCase(req, [], {kv: ['notes']}), 'token', 'no-token');
    assertDenied(await callCase(req, ['kv:notes'], {kv: ['other']}), 'manifest', 'manifest.kv');
    const ok = await callCase(req, ['kv:notes'], {kv: ['notes']});
    assert.equal(ok.call.status, 1, 'nil reply');
    assert.deepEqual(ok.denied, []);
  });

  it('fs.write by call is WOULD_BLOCK (-6): an outside effect must go through send', async () => {
    const c = await callCase({op: 'fs.write', args: {path: join(root, 'out', 'by-call.txt'), data: new Uint8Array([1])}}, [`fs.write:${root}/out/**`], {fsWrite: [`${root}/**`]});
    assert.equal(c.call.status, -6);
    assert.equal(existsSync(join(root, 'out', 'by-call.txt')), false);
  });

  /** Install send-request.wat sending `svc.fs.write {path, data}` and run it under `grants`. */
  const writeCase = async (path: string, grants: readonly string[]): Promise<{r: RunResult; es: AnyEntry[]; seqs: Array<{seq: number; e: AnyEntry}>}> => {
    const name = `write-${++n}`;
    const request = msgpack({topic: 'svc.fs.write', payload: {path, data: new Uint8Array(Buffer.from(`data for ${name}`))}});
    await store.install(await watCapsule(pkgs, {fixture: 'send-request', name, request, sends: ['svc.fs.write'], fsWrite: [`${root}/**`]}));
    const r = await runSession(k, store, {capsule: name, grants, topic: 'test.x', input: {}});
    const seqs: Array<{seq: number; e: AnyEntry}> = [];
    for await (const e of k.ledger.entries({session: r.session})) seqs.push({seq: e.seq, e: e.entry});
    return {r, es: seqs.map((s) => s.e), seqs};
  };
  const writeGrants = ['bus.send:svc.fs.write', `fs.write:${root}/out/**`];

  it('fs.write via send: performed only after the send is durable, then its result is delivered back', async () => {
    const target = join(root, 'out', 'new.txt');
    const {r, seqs} = await writeCase(target, writeGrants);
    assert.equal(r.status, 'ok', r.message);
    assert.equal(r.activations, 2, 'the request, then the delivered result');
    assert.deepEqual(r.sends, [], 'service requests are not reported as capsule sends');
    const send = only(
      seqs.filter((s) => s.e.kind === 'bus.message' && s.e.body.topic === 'svc.fs.write'),
      'svc.fs.write message',
    );
    const firstEnd = seqs.find((s) => s.e.kind === 'activation.ended');
    const result = only(
      seqs.filter((s) => s.e.kind === 'service.result'),
      'service.result',
    );
    assert.ok(result.e.kind === 'service.result');
    const data = `data for write-${n}`;
    assert.deepEqual(result.e.body, {service: 'fs.write', cause: send.seq, ok: true, code: '', detail: `${data.length} bytes`});
    assert.ok(firstEnd !== undefined && send.seq < firstEnd.seq && firstEnd.seq < result.seq, 'authorised, activation ended (awaited durable), then performed');
    assert.equal(readFileSync(target, 'utf8'), data);
    const delivered = only(
      seqs.filter((s) => s.e.kind === 'bus.message' && s.e.body.topic === 'svc.fs.write.result'),
      'result message',
    );
    assert.ok(delivered.seq > result.seq && delivered.e.kind === 'bus.message');
    assert.deepEqual(unpackUntrusted(delivered.e.body.payload), {ok: true, path: target, bytes: data.length});
    const started = seqs.filter((s) => s.e.kind === 'activation.started').map((s) => (s.e.kind === 'activation.started' ? s.e.body.input : -1));
    assert.deepEqual(started.slice(1), [delivered.seq], 'the second activation handles the result');
  });

  it('a write outside the grant is denied at send time (-1): no message, no effect, no file', async () => {
    const target = join(root, 'not-granted.txt');
    const {r, es} = await writeCase(target, writeGrants);
    assert.equal(r.code, 'CAPSULE_ERROR');
    assert.equal(r.message, 'astrid_handle returned -1');
    const d = only(bodies(es, 'gate.denied'), 'gate.denied');
    assert.deepEqual([d.layer, d.rule, d.resource], ['token', 'no-token', `fs.write:${target}`]);
    assert.equal(bodies(es, 'bus.message').filter((b) => b.topic === 'svc.fs.write').length, 0);
    assert.deepEqual(bodies(es, 'service.result'), []);
    assert.equal(existsSync(target), false);
  });

  it('a write whose parent is a symlink out of the grant is refused when performed: recorded, and no file appears outside', async () => {
    const {r, es} = await writeCase(join(root, 'out', 'esc', 'planted.txt'), writeGrants);
    assert.equal(r.status, 'ok', 'the send itself was allowed; the effect is refused');
    const res = only(bodies(es, 'service.result'), 'service.result');
    assert.deepEqual([res.ok, res.code], [false, 'GATE_DENIED']);
    const d = only(bodies(es, 'gate.denied'), 'gate.denied');
    assert.deepEqual([d.layer, d.rule], ['policy', 'symlink-escape']);
    assert.equal(existsSync(join(outside, 'planted.txt')), false);
  });
});
