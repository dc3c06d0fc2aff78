// Proves activation budgets are carved from every token a session runs under (their order does not matter), and that a token's fuel running out is BUDGET_EXHAUSTED with its ledger entry.
import {after, before, describe, it} from 'node:test';
import {strict as assert} from 'node:assert';
import {join} from 'node:path';
import type {Authority, Token} from '../../src/capabilities/index.js';
import {createPrincipal, openAuthority, openCapsuleStore, openKernelState, principalKey, runSession, type KernelState} from '../../src/kernel/index.js';
import type {AnyEntry} from '../../src/ledger/index.js';
import type {CapsuleStore} from '../../src/sandbox/index.js';
import {tmpDir} from '../helpers/index.js';
import {msgpack, watCapsule} from '../helpers/wat-capsule.js';
import {sessionEntries} from '../helpers/entries.js';

describe('authority: activation budgets on a real ledger', () => {
  const {dir, cleanup} = tmpDir('astrid-budgets-');
  let k: KernelState;
  let store: CapsuleStore;
  let a: Authority;
  let parent: Token;
  let child: Token;
  let other: Token;
  let half = 0;

  before(async () => {
    k = await openKernelState({home: join(dir, 'home'), mode: 'write'});
    store = openCapsuleStore(k);
    await store.install(await watCapsule(join(dir, 'pkgs'), {fixture: 'call-request', name: 'ticker', request: msgpack({op: 'clock.now', args: {}})}));
    a = await openAuthority(k, 'write');
    await createPrincipal(k, a, 'alice', 'agent');
    await createPrincipal(k, a, 'bob', 'agent');
    parent = await a.grant({to: 'alice', resources: ['kv:x'], budget: {fuel: 1_000_000_000}});
    other = await a.grant({to: 'bob', resources: ['kv:scratch']});
    // the child may spend half of what one activation of this capsule needs
    const probe = await runSession(k, store, {capsule: 'ticker', grants: [], tokens: [other.id], topic: 'test.x', input: {}});
    assert.ok(probe.fuelUsed > 2, `fuel used ${probe.fuelUsed}`);
    half = Math.floor(probe.fuelUsed / 2);
    child = await a.attenuate(principalKey(k.home, 'alice'), {parent: parent.id, to: 'bob', budget: {fuel: half}});
  });
  after(async () => {
    await k.close();
    cleanup();
  });

  const entries = (session: string): Promise<AnyEntry[]> => sessionEntries(k.ledger, session);

  it("the child's fuel bounds the activation even when another token comes first: it ends BUDGET_EXHAUSTED, charged to the child and its parent", async () => {
    const r = await runSession(k, store, {capsule: 'ticker', grants: [], tokens: [other.id, child.id], topic: 'test.x', input: {}});
    assert.equal(r.code, 'BUDGET_EXHAUSTED', r.message);
    assert.ok(r.fuelUsed <= half, `fuel used ${r.fuelUsed} of ${half}`);
    const es = await entries(r.session);
    const exhausted = es.flatMap((e) => (e.kind === 'budget.exhausted' ? [e.body] : []));
    assert.deepEqual(exhausted.map((b) => [b.scope, b.axis]), [[child.id, 'fuel']]);
    const charged = es.flatMap((e) => (e.kind === 'budget.charged' ? [e.body] : []));
    assert.ok(charged.some((b) => b.tokens.includes(child.id) && b.tokens.includes(parent.id) && b.tokens.includes(other.id) && b.fuel > 0), JSON.stringify(charged));
  });

  it('once the child has nothing left, a run is refused before it starts, whatever the order', async () => {
    for (const ids of [[child.id, other.id], [other.id, child.id]]) {
      const r = await runSession(k, store, {capsule: 'ticker', grants: [], tokens: ids, topic: 'test.x', input: {}});
      assert.equal(r.code, 'BUDGET_EXHAUSTED');
      assert.equal(r.activations, 0);
    }
    assert.ok((a.state.spent.get(child.id)?.fuel ?? 0) <= half);
    assert.equal(a.state.spent.get(parent.id)?.fuel, a.state.spent.get(child.id)?.fuel, "the child's spending is the parent's too");
  });
});
