// Proves: approval gates on a real ledger with simulated time: unanswered means expired at the deadline; once/session/always cover exactly what they say; only a human through an uplink can answer; capsules cannot reach approvals or flood the human; pending approvals survive a restart; and a real capsule run with --ask is denied at layer approval while a human is asked.
import {after, before, describe, it} from 'node:test';
import {strict as assert} from 'node:assert';
import {mkdirSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';
import {ApprovalService, type ApprovalTimers} from '../../src/actors/index.js';
import {BudgetBook, DEFAULT_RESERVED_TOPICS, SessionGate, type Authority, type CapsuleBounds, type GateDecision, type ResourceType} from '../../src/capabilities/index.js';
import {createPrincipal, openAuthority, openCapsuleStore, openKernelState, runSession, SimulatedClock, type KernelState} from '../../src/kernel/index.js';
import {type AnyEntry} from '../../src/ledger/index.js';
import {unpackUntrusted, type CapsuleStore} from '../../src/sandbox/index.js';
import {parsePattern} from '../../src/topics/index.js';
import {tmpDir} from '../helpers/index.js';
import {boundsOf} from '../helpers/gate.js';
import {msgpack, watCapsule} from '../helpers/wat-capsule.js';
import {bodies, kinds} from '../helpers/entries.js';

const CAP = 'reader';
const TIMEOUT = 60_000;
const HUMAN = {by: 'human', via: 'cli'} as const;

const codeOf = (code: string) => (e: unknown): boolean => (e as {code?: unknown}).code === code;

/** Timers that fire only when the test advances them; the simulated clock moves with them. */
class ManualTimers implements ApprovalTimers {
  readonly #clock: SimulatedClock;
  readonly #due = new Map<number, {at: number; fn: () => void}>();
  #next = 1;
  constructor(clock: SimulatedClock) {
    this.#clock = clock;
  }
  setTimeout(fn: (...args: unknown[]) => void, ms: number): unknown {
    const id = this.#next++;
    this.#due.set(id, {at: this.#clock.now() + ms, fn: () => fn()});
    return id;
  }
  clearTimeout(id: unknown): void {
    this.#due.delete(id as number);
  }
  /** Move time forward by `ms`, firing every timer that falls due, in order, at its own time. */
  advance(ms: number): void {
    const end = this.#clock.now() + ms;
    for (;;) {
      let first: [number, {at: number; fn: () => void}] | undefined;
      for (const e of this.#due) if (e[1].at <= end && (first === undefined || e[1].at < first[1].at)) first = e;
      if (first === undefined) break;
      this.#due.delete(first[0]);
      this.#clock.advance(Math.max(0, first[1].at - this.#clock.now()));
      first[1].fn();
    }
    this.#clock.advance(end - this.#clock.now());
  }
}

interface Checked {
  readonly d: GateDecision;
  readonly es: AnyEntry[];
}

describe('authority: approvals with simulated time, on a real ledger', () => {
  const {dir, cleanup} = tmpDir('astrid-approvals-');
  const home = join(dir, 'home');
  const pkgs = join(dir, 'pkgs');
  const data = join(dir, 'data');
  const clock = new SimulatedClock(1_700_000_000_000);
  const timers = new ManualTimers(clock);
  let k: KernelState;
  let store: CapsuleStore;
  let a: Authority;
  let svc: ApprovalService;
  let reader: CapsuleBounds;
  let ids = 0;
  let sessions = 0;

  const service = (authority: Authority): ApprovalService =>
    new ApprovalService({authority, timers, nextId: () => `ap-test-${++ids}`, timeoutMs: TIMEOUT, maxPendingPerSession: 4});
  /** A fresh authority and approval service over the ledger as it stands (a runSession writes through its own). */
  const refresh = async (): Promise<void> => {
    svc?.stop();
    a = await openAuthority(k, 'write');
    svc = service(a);
  };

  before(async () => {
    mkdirSync(join(data, 'docs'), {recursive: true});
    writeFileSync(join(data, 'secret.txt'), 'the approved secret');
    k = await openKernelState({home, mode: 'write', clock});
    store = openCapsuleStore(k);
    const path = join(data, 'secret.txt');
    const installed = await store.install(await watCapsule(pkgs, {fixture: 'call-request', name: CAP, request: msgpack({op: 'fs.read', args: {path}}), fsRead: [`${data}/**`]}));
    reader = boundsOf(await store.load(installed));
    const answer = {topic: 'approval.answer', payload: {id: 'ap-test-1', answer: 'approved', scope: 'always', by: 'owner', via: 'cli'}};
    await store.install(await watCapsule(pkgs, {fixture: 'send-request', name: 'sender', request: msgpack(answer), sends: ['approval.>']}));
    await refresh();
    await createPrincipal(k, a, 'agent1', 'agent');
    await createPrincipal(k, a, 'agent2', 'agent');
    await createPrincipal(k, a, 'human', 'user');
  });
  after(async () => {
    svc.stop();
    await k.close();
    cleanup();
  });

  const since = async (from: number): Promise<AnyEntry[]> => {
    await k.ledger.flush();
    const out: AnyEntry[] = [];
    for await (const e of k.ledger.entries({from: from + 1})) out.push(e.entry);
    return out;
  };
  const gateOf = (principal: string, o: {session?: string; ask?: boolean; bounds?: CapsuleBounds; tokens?: readonly string[]} = {}) => {
    const session = o.session ?? `s-ap-${++sessions}`;
    const gate = new SessionGate({
      authority: a,
      budget: new BudgetBook(a),
      session,
      principal,
      tokens: o.tokens ?? [],
      sessionLimits: {},
      capsules: (c) => (c === CAP ? (o.bounds ?? reader) : undefined),
      policy: {denyRoots: [home], reservedTopics: DEFAULT_RESERVED_TOPICS},
      ...(o.ask === false ? {} : {approver: svc}),
    });
    const check = (value: string, type: ResourceType = 'fs.read'): GateDecision => gate.check({capsule: CAP, principal, session, type, value});
    const run = async (value: string, type: ResourceType = 'fs.read'): Promise<Checked> => {
      const from = k.ledger.head.seq;
      const d = check(value, type);
      return {d, es: await since(from)};
    };
    return {session, principal, check, run};
  };
  /** Denied at layer approval, rule approval-pending, naming the approval; returns its id. */
  const pending = (c: Checked, written: readonly string[] = ['approval.requested', 'gate.denied']): string => {
    const d = c.d;
    if (d.allow || d.approval === undefined) return assert.fail(`expected a pending approval: ${JSON.stringify(d)}`);
    assert.deepEqual([d.layer, d.rule], ['approval', 'approval-pending']);
    assert.match(d.reason, new RegExp(`approval ${d.approval} is waiting for a human \\(astrid approve ${d.approval}\\)$`));
    assert.deepEqual(kinds(c.es), written);
    assert.deepEqual(bodies(c.es, 'gate.denied').map((b) => [b.layer, b.rule, b.reason]), [['approval', 'approval-pending', d.reason]]);
    return d.approval;
  };
  const file = (name: string): string => join(data, 'docs', name);

  it('an unanswered approval expires at its deadline: expired is recorded, a later answer is refused, the gate asks anew', async () => {
    const g = gateOf('agent1');
    const c = await g.run(file('a.txt'));
    const id = pending(c);
    const asked = clock.now();
    assert.deepEqual(bodies(c.es, 'approval.requested'), [{id, capsule: CAP, hash: reader.hash, resource: `fs.read:${file('a.txt')}`, reason: `${CAP} asks for fs.read:${file('a.txt')}`, expires: asked + TIMEOUT}]);
    assert.deepEqual(svc.pending().map((x) => x.id), [id]);
    let from = k.ledger.head.seq;
    timers.advance(TIMEOUT - 1);
    assert.deepEqual(await since(from), [], 'nothing happens a millisecond early');
    assert.equal(a.state.approvals.get(id)?.status, 'pending');
    timers.advance(1);
    assert.equal(clock.now(), asked + TIMEOUT);
    assert.deepEqual(bodies(await since(from), 'approval.answered'), [{id, answer: 'expired', scope: '', by: '', via: 'kernel', reason: 'unanswered by the deadline', token: ''}]);
    assert.equal(a.state.approvals.get(id)?.status, 'expired');
    assert.deepEqual(svc.pending(), []);
    from = k.ledger.head.seq;
    await assert.rejects(svc.answer(id, {answer: 'approved', scope: 'always', ...HUMAN}), /expired/);
    assert.deepEqual(await since(from), [], 'a refused answer writes nothing');
    assert.notEqual(pending(await g.run(file('a.txt'))), id, 'expired is denied: the gate asks again');
  });

  it('a waiter is woken when an approval is answered or expires, not by its timeout', async () => {
    // changed() is given a 10-minute timeout: only the approval actor can wake it within the guard
    const LONG = 600_000;
    const guard = (): Promise<string> => new Promise((r) => setTimeout(() => r('not woken'), 10_000).unref());
    const answered = pending(await gateOf('agent1').run(file('wake-a.txt')));
    const woken = svc.changed([answered], LONG).then(() => 'woken');
    await svc.answer(answered, {answer: 'denied', ...HUMAN});
    assert.equal(await Promise.race([woken, guard()]), 'woken');

    const expiring = pending(await gateOf('agent1').run(file('wake-b.txt')));
    const byExpiry = svc.changed([expiring], LONG).then(() => 'woken');
    timers.advance(TIMEOUT);
    assert.equal(await Promise.race([byExpiry, guard()]), 'woken');
    assert.equal(a.state.approvals.get(expiring)?.status, 'expired');

    // settled or unknown ids have only the timeout: it resolves then, with no actor to wait on
    await svc.changed([answered, 'ap-none'], 1);
  });

  it('a late answer to an approval whose timer already fired is refused with APPROVAL_EXPIRED', async () => {
    const id = pending(await gateOf('agent1').run(file('late.txt')));
    timers.advance(TIMEOUT);
    await assert.rejects(svc.answer(id, {answer: 'approved', scope: 'once', ...HUMAN}), codeOf('APPROVAL_EXPIRED'));
  });

  it('an answer covers only the capsule that asked: another capsule (or another module under the same name) asks anew', async () => {
    const g = gateOf('agent1');
    const id = pending(await g.run(file('mine.txt')));
    await svc.answer(id, {answer: 'approved', scope: 'session', ...HUMAN});
    const twin = new SessionGate({
      authority: a,
      budget: new BudgetBook(a),
      session: g.session,
      principal: 'agent1',
      tokens: [],
      sessionLimits: {},
      capsules: (c) => (c === 'twin' ? reader : c === CAP ? {...reader, hash: 'f'.repeat(64)} : undefined),
      policy: {denyRoots: [home], reservedTopics: DEFAULT_RESERVED_TOPICS},
    });
    for (const capsule of ['twin', CAP]) {
      const d = twin.check({capsule, principal: 'agent1', session: g.session, type: 'fs.read', value: file('mine.txt')});
      assert.deepEqual(d.allow ? ['allowed', capsule] : [d.layer, d.rule], ['token', 'no-token'], capsule);
    }
    assert.equal(g.check(file('mine.txt')).allow, true, 'the capsule that asked, in that session, is covered');
  });

  it("'once' allows exactly one later identical request, even among 10 concurrent ones; the next asks again", async () => {
    const g = gateOf('agent1');
    const id = pending(await g.run(file('once.txt')));
    let from = k.ledger.head.seq;
    const rec = await svc.answer(id, {answer: 'approved', scope: 'once', ...HUMAN});
    assert.deepEqual([rec.status, rec.scope, rec.by, rec.via, rec.token], ['approved', 'once', 'human', 'cli', '']);
    assert.deepEqual(bodies(await since(from), 'approval.answered'), [{id, answer: 'approved', scope: 'once', by: 'human', via: 'cli', reason: '', token: ''}]);
    from = k.ledger.head.seq;
    const ds = await Promise.all(Array.from({length: 10}, async () => g.check(file('once.txt'))));
    const es = await since(from);
    const allowed = ds.filter((d) => d.allow);
    assert.deepEqual(allowed, [{allow: true, layer: 'approval', rule: `approval:${id}`, token: ''}]);
    const resource = `fs.read:${file('once.txt')}`;
    assert.deepEqual(bodies(es, 'approval.used'), [{id, resource}]);
    assert.deepEqual(bodies(es, 'gate.allowed'), [{layer: 'approval', rule: `approval:${id}`, token: '', resource, capsule: CAP, reason: `a human answered ${id} for exactly this request`}]);
    const again = new Set(ds.map((d) => (d.allow ? '' : d.approval)).filter((x) => x !== ''));
    assert.equal(again.size, 1, 'the nine others ask again, all under one new approval');
    assert.ok(!again.has(id));
    assert.deepEqual([bodies(es, 'approval.requested').length, bodies(es, 'gate.denied').length], [1, 9]);
    assert.equal(a.state.approvals.get(id)?.used, true);
  });

  it("'session' covers repeated requests in that session only: not another session, not another principal in it", async () => {
    const g = gateOf('agent1');
    const id = pending(await g.run(file('s.txt')));
    await svc.answer(id, {answer: 'approved', scope: 'session', by: 'owner', via: 'web'});
    for (let i = 0; i < 3; i++) {
      const c = await g.run(file('s.txt'));
      assert.deepEqual(c.d, {allow: true, layer: 'approval', rule: `approval:${id}`, token: ''});
      assert.deepEqual(kinds(c.es), ['gate.allowed'], 'no approval.used: a session approval is not consumed');
    }
    assert.notEqual(pending(await gateOf('agent1').run(file('s.txt'))), id);
    assert.notEqual(pending(await gateOf('agent2', {session: g.session}).run(file('s.txt'))), id);
    assert.notEqual(pending(await g.run(file('s2.txt'))), id, 'nor a sibling path in the session');
  });

  it("'always' mints a token (via approval:<id>) for exactly that resource: a sibling path stays denied", async () => {
    const id = pending(await gateOf('agent1').run(file('always.txt')));
    const from = k.ledger.head.seq;
    const rec = await svc.answer(id, {answer: 'approved', scope: 'always', ...HUMAN});
    const es = await since(from);
    assert.deepEqual(kinds(es), ['grant.issued', 'approval.answered']);
    const issued = bodies(es, 'grant.issued')[0];
    assert.deepEqual([issued?.id, issued?.subject, issued?.parent, issued?.via], [rec.token, 'agent1', '', `approval:${id}`]);
    const t = a.token(rec.token);
    assert.ok(t !== undefined);
    assert.deepEqual([t.resources.map((r) => r.text), t.caveats, t.exp, a.report(t.id).status], [[`fs.read:${file('always.txt')}`], [{type: 'allow', resource: 'fs.read', values: [file('always.txt')]}, {type: 'capsule', hash: reader.hash}], null, 'active']);
    assert.deepEqual(bodies(es, 'approval.answered')[0]?.token, rec.token);
    const later = gateOf('agent1', {ask: false}); // a later session, no one to ask
    const ok = await later.run(file('always.txt'));
    assert.deepEqual(ok.d, {allow: true, layer: 'token', rule: `fs.read:${file('always.txt')}`, token: t.id});
    for (const [who, path] of [['agent1', file('sibling.txt')], ['agent1', file('always.txt.bak')], ['agent2', file('always.txt')]] as const) {
      const c = await gateOf(who, {ask: false}).run(path);
      assert.deepEqual(c.d.allow ? 'allowed' : [c.d.layer, c.d.rule, c.d.reason], ['token', 'no-token', `no token of ${who} covers fs.read:${path}`]);
      assert.deepEqual(kinds(c.es), ['gate.denied']);
    }
  });

  it(
    "'always' for one URL covers that URL only, not every path or query under it",
    async () => {
      const bounds = {...reader, net_http: ['GET http://api.example.com/']};
      const url = 'GET http://api.example.com/v1/me';
      const id = pending(await gateOf('agent1', {bounds}).run(url, 'net.http'));
      await svc.answer(id, {answer: 'approved', scope: 'always', ...HUMAN});
      const later = gateOf('agent1', {ask: false, bounds});
      assert.equal(later.check(url, 'net.http').allow, true);
      for (const wider of ['GET http://api.example.com/v1/me/delete-account', 'GET http://api.example.com/v1/me?all=1']) {
        assert.equal(later.check(wider, 'net.http').allow, false, `${wider} was never approved`);
      }
    },
  );

  it('only a human through an uplink may answer: agents, unknown principals, capsule or kernel channels are APPROVAL_FORBIDDEN', async () => {
    const id = pending(await gateOf('agent1').run(file('forbidden.txt')));
    const from = k.ledger.head.seq;
    for (const by of ['agent1', 'agent2', 'mallory', 'kernel', '']) {
      await assert.rejects(svc.answer(id, {answer: 'approved', scope: 'always', by, via: 'cli'}), codeOf('APPROVAL_FORBIDDEN'), by);
    }
    for (const via of ['capsule', 'kernel', 'bus', 'CLI', 'cli ', '']) {
      await assert.rejects(svc.answer(id, {answer: 'approved', scope: 'always', by: 'human', via}), codeOf('APPROVAL_FORBIDDEN'), via);
      await assert.rejects(svc.answer(id, {answer: 'denied', by: 'owner', via}), codeOf('APPROVAL_FORBIDDEN'), via);
    }
    assert.deepEqual(await since(from), [], 'refused answers write nothing');
    assert.equal(a.state.approvals.get(id)?.status, 'pending');
    const rec = await svc.answer(id, {answer: 'denied', by: 'owner', via: 'mcp', reason: 'no'});
    assert.deepEqual([rec.status, rec.by, rec.via, rec.answerReason], ['denied', 'owner', 'mcp', 'no']);
    await assert.rejects(svc.answer(id, {answer: 'approved', scope: 'once', ...HUMAN}), codeOf('APPROVAL_ANSWERED'));
  });

  it('a capsule cannot reach approvals: bus.send on approval.* is refused by policy, from the gate and from real wasm', async () => {
    const id = pending(await gateOf('agent1').run(file('reach.txt')));
    const wide = {...reader, sends: [parsePattern('>')]};
    const g = gateOf('agent1', {bounds: wide, tokens: [(await a.grant({to: 'agent1', resources: ['bus.send:>'], via: 'test'})).id]});
    for (const topic of ['approval.answer', `approval.${id.replace(/[^a-z0-9]/g, '')}`, 'kernel.approve']) {
      const c = await g.run(topic, 'bus.send');
      assert.deepEqual(c.d.allow ? 'allowed' : [c.d.layer, c.d.rule], ['policy', 'reserved-topic']);
      assert.deepEqual(kinds(c.es), ['gate.denied']);
    }
    const r = await runSession(k, store, {capsule: 'sender', grants: ['bus.send:approval.>'], principal: 'agent1', topic: 'test.x', input: {}});
    assert.equal(r.message, 'astrid_handle returned -1');
    assert.deepEqual(r.denials.map((d) => [d.layer, d.rule, d.resource]), [['policy', 'reserved-topic', 'bus.send:approval.answer']]);
    assert.deepEqual(r.sends, []);
    await refresh();
    assert.equal(a.state.approvals.get(id)?.status, 'pending', 'still waiting for a human');
  });

  it('a flood is refused past maxPendingPerSession; a duplicate request returns the same id and writes no new request', async () => {
    const g = gateOf('agent1');
    const open = [];
    for (let i = 0; i < 4; i++) open.push(pending(await g.run(file(`flood-${i}.txt`))));
    assert.equal(new Set(open).size, 4);
    const over = await g.run(file('flood-4.txt'));
    assert.deepEqual(over.d.allow ? 'allowed' : [over.d.layer, over.d.rule, over.d.approval], ['approval', 'approval-refused', undefined]);
    assert.match(over.d.allow ? '' : over.d.reason, /no approval could be requested \(APPROVAL_PENDING\)$/);
    assert.deepEqual(kinds(over.es), ['gate.denied']);
    assert.equal(pending(await g.run(file('flood-1.txt')), ['gate.denied']), open[1], 'the duplicate names the open approval');
    assert.equal(svc.request({session: g.session, principal: 'agent1', capsule: CAP, hash: reader.hash, resource: `fs.read:${file('flood-2.txt')}`, reason: 'again'}), open[2]);
    assert.throws(() => svc.request({session: g.session, principal: 'agent1', capsule: CAP, hash: reader.hash, resource: `fs.read:${file('flood-9.txt')}`, reason: 'more'}), codeOf('APPROVAL_PENDING'));
    pending(await gateOf('agent1').run(file('flood-4.txt'))); // another session is not starved by this one
  });

  it('pending approvals survive a restart: a new service answers one before its deadline; past its deadline the other is expired', async () => {
    const g = gateOf('agent1');
    const first = pending(await g.run(file('r1.txt')));
    timers.advance(TIMEOUT / 2);
    const second = pending(await g.run(file('r2.txt')));
    svc.stop(); // the old process goes away with its actors; the deadlines are in the ledger
    await k.close();
    k = await openKernelState({home, mode: 'write', clock});
    await refresh();
    assert.deepEqual(svc.pending().map((x) => x.id).filter((x) => x === first || x === second), [first, second]);
    timers.advance(TIMEOUT / 2 - 1); // the first has 1 ms left
    const rec = await svc.answer(first, {answer: 'approved', scope: 'once', ...HUMAN});
    assert.equal(rec.status, 'approved');
    const c = await gateOf('agent1').run(file('r1.txt'));
    assert.deepEqual(c.d, {allow: true, layer: 'approval', rule: `approval:${first}`, token: ''});
    assert.deepEqual(kinds(c.es), ['approval.used', 'gate.allowed']);
    clock.advance(TIMEOUT); // no live timer for the second in this process
    const from = k.ledger.head.seq;
    await assert.rejects(svc.answer(second, {answer: 'approved', scope: 'once', ...HUMAN}), codeOf('APPROVAL_EXPIRED'));
    assert.deepEqual(bodies(await since(from), 'approval.answered').map((b) => [b.id, b.answer]), [[second, 'expired']]);
    const overdue = svc.all().filter((x) => x.status === 'pending').length; // left open by earlier tests, their actors gone with the old process
    assert.equal(svc.expireDue(), overdue);
    assert.deepEqual(svc.all().filter((x) => x.status === 'pending'), []);
  });

  it('runSession with ask: a real capsule reading an ungranted file is denied at layer approval while a human is asked; once approved, a re-run reads it', async () => {
    const secret = join(data, 'secret.txt');
    const r = await runSession(k, store, {capsule: CAP, grants: [], ask: true, principal: 'agent1', topic: 'test.x', input: {}});
    assert.equal(r.message, 'astrid_handle returned -1');
    assert.equal(r.denials.length, 1);
    const den = r.denials[0];
    assert.deepEqual([den?.layer, den?.rule, den?.resource], ['approval', 'approval-pending', `fs.read:${secret}`]);
    const id = /approval (\S+) is waiting for a human/.exec(den?.reason ?? '')?.[1];
    assert.ok(id !== undefined, den?.reason);
    const es: AnyEntry[] = [];
    for await (const e of k.ledger.entries({session: r.session})) es.push(e.entry);
    assert.deepEqual(bodies(es, 'approval.requested').map((b) => [b.id, b.capsule, b.resource]), [[id, CAP, `fs.read:${secret}`]]);
    assert.deepEqual(bodies(es, 'host.call').map((b) => [b.op, b.status]), [['fs.read', -1]]);
    await refresh(); // `astrid approve` from another process: the request is in the ledger
    assert.ok(svc.pending().some((x) => x.id === id));
    await svc.answer(id, {answer: 'approved', scope: 'once', ...HUMAN});
    const again = await runSession(k, store, {capsule: CAP, grants: [], ask: true, principal: 'agent1', topic: 'test.x', input: {}});
    assert.deepEqual(again.denials, []);
    assert.equal(again.message, `astrid_handle returned ${'the approved secret'.length + 2}`, 'the fixture returns the reply length (a msgpack bin) as its status');
    const es2: AnyEntry[] = [];
    for await (const e of k.ledger.entries({session: again.session})) es2.push(e.entry);
    assert.deepEqual(bodies(es2, 'approval.used'), [{id, resource: `fs.read:${secret}`}]);
    const call = bodies(es2, 'host.call')[0];
    assert.ok(call !== undefined && call.status > 0);
    assert.equal(Buffer.from(unpackUntrusted(call.reply) as Uint8Array).toString('utf8'), 'the approved secret');
    assert.ok(bodies(es2, 'capsule.log').some((l) => l.text.includes('the approved secret')), 'the capsule got the file');
  });

  it('the ledger verifies after all of it', async () => {
    const report = await k.ledger.verify();
    assert.equal(report.ok, true, JSON.stringify(report.issues));
  });
});
