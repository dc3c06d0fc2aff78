// Proves delegation only narrows: every chain must reach the owner's root key, a child widened on any axis is refused by issue and attenuate alike, revocation reaches every descendant, depth is bounded, and the authority state survives a rebuild.
import {describe, it} from 'node:test';
import {strict as assert} from 'node:assert';
import {
  Authority,
  ChainVerifier,
  attenuationProblem,
  parseTokenId,
  authorityProjection,
  signToken,
  useLimit,
  MAX_CHAIN_DEPTH,
  type AttenuationAxis,
  type Attribution,
  type Caveat,
  type GrantOptions,
  type Token,
  type TokenDraft,
} from '../../src/capabilities/index.js';
import {AstridError} from '../../src/errors/index.js';
import {projectionStateHash, rebuild, type Ledger} from '../../src/ledger/index.js';
import {KEY, code, hasher, type TestClock} from '../helpers/ledger-fixtures.js';
import {ALICE, BOB, MALLORY, OWNER, withAuthorityWorld} from '../helpers/authority-world.js';

const h = await hasher();
const KERNEL: Attribution = {session: 'kernel', principal: 'owner', actor: 'kernel'};
const HOUR = 3_600_000;
const HASH_A = 'aa'.repeat(32);
const HASH_B = 'bb'.repeat(32);
const PROJECT = 'fs.read:/srv/project/**';
const ALLOW_A: Caveat = {type: 'allow', resource: 'fs.read', values: ['/srv/project/a']};

interface World {
  readonly ledger: Ledger;
  readonly clock: TestClock;
  readonly authority: Authority;
  readonly random: (n: number) => Uint8Array;
}

async function withWorld(fn: (w: World) => Promise<void>): Promise<void> {
  await withAuthorityWorld(0xc4a1, ['alice', 'bob', 'mallory'], fn);
}

function rootGrant(w: World, over: Partial<GrantOptions> = {}): Promise<Token> {
  return w.authority.grant({to: 'alice', resources: [PROJECT, 'bus.send:tool.>'], budget: {messages: 10, fuel: 1000}, exp: w.clock.t + HOUR, ...over});
}

/** A child of `parent` for bob, equal to the parent unless `over` says otherwise. */
function childDraft(w: World, parent: Token, over: Partial<TokenDraft> = {}): TokenDraft {
  return {
    subject: 'bob',
    subjectKey: BOB.publicKey,
    resources: parent.resources.map((r) => r.text),
    budget: {...parent.budget},
    nbf: parent.nbf,
    exp: parent.exp,
    caveats: [...parent.caveats],
    parent: parent.id,
    nonce: w.random(16),
    ...over,
  };
}

const widened =
  (axis: AttenuationAxis) =>
  (e: unknown): boolean => {
    assert.ok(e instanceof AstridError, `expected AstridError, got ${String(e)}`);
    assert.equal(e.code, 'TOKEN_WIDENED', e.message);
    assert.equal(e.details.axis, axis, e.message);
    return true;
  };

interface WideCase {
  readonly name: string;
  readonly axis: AttenuationAxis;
  readonly rootCaveats?: readonly Caveat[];
  readonly child: (p: Token) => Partial<TokenDraft>;
}
const WIDE: WideCase[] = [
  {name: '/srv/project/** -> /srv/project-evil/**', axis: 'resources', child: () => ({resources: ['fs.read:/srv/project-evil/**']})},
  {name: '/srv/project/** -> /srv/**', axis: 'resources', child: () => ({resources: ['fs.read:/srv/**']})},
  {name: 'fs.read -> fs.write', axis: 'resources', child: () => ({resources: ['fs.write:/srv/project/**']})},
  {name: 'an extra resource', axis: 'resources', child: (p) => ({resources: [...p.resources.map((r) => r.text), 'kv:notes']})},
  {name: 'tool.> -> >', axis: 'resources', child: () => ({resources: ['bus.send:>']})},
  {name: 'a larger budget', axis: 'budget', child: () => ({budget: {messages: 11, fuel: 1000}})},
  {name: 'an unbounded axis the parent bounds', axis: 'budget', child: () => ({budget: {fuel: 1000}})},
  {name: 'an expiry later than the parent', axis: 'expiry', child: (p) => ({exp: (p.exp as number) + 1})},
  {name: 'no expiry under an expiring parent', axis: 'expiry', child: () => ({exp: null})},
  {name: 'a not-before earlier than the parent', axis: 'not_before', child: (p) => ({nbf: p.nbf - 1})},
  {name: 'single_use dropped', axis: 'caveats', rootCaveats: [{type: 'single_use'}], child: () => ({caveats: []})},
  {name: 'single_use loosened to max_uses 2', axis: 'caveats', rootCaveats: [{type: 'single_use'}], child: () => ({caveats: [{type: 'max_uses', n: 2}]})},
  {name: 'max_uses 5 loosened to 6', axis: 'caveats', rootCaveats: [{type: 'max_uses', n: 5}], child: () => ({caveats: [{type: 'max_uses', n: 6}]})},
  {name: 'max_uses dropped', axis: 'caveats', rootCaveats: [{type: 'max_uses', n: 5}], child: () => ({caveats: []})},
  {name: 'allow values widened', axis: 'caveats', rootCaveats: [ALLOW_A], child: () => ({caveats: [{...ALLOW_A, values: ['/srv/project/a', '/srv/project/b']}]})},
  {name: 'allow moved to another resource type', axis: 'caveats', rootCaveats: [ALLOW_A], child: () => ({caveats: [{...ALLOW_A, resource: 'kv'}]})},
  {name: 'capsule hash changed', axis: 'caveats', rootCaveats: [{type: 'capsule', hash: HASH_A}], child: () => ({caveats: [{type: 'capsule', hash: HASH_B}]})},
  {name: 'capsule caveat dropped', axis: 'caveats', rootCaveats: [{type: 'capsule', hash: HASH_A}], child: () => ({caveats: []})},
];

describe('roots', () => {
  it('a root signed by any key but the owner key is TOKEN_UNTRUSTED_ROOT, however valid its signature', async () => {
    await withWorld(async (w) => {
      for (const key of [ALICE, MALLORY, KEY]) {
        const t = signToken(h, key, {subject: 'alice', subjectKey: ALICE.publicKey, resources: [PROJECT], nbf: w.clock.t, exp: null, nonce: w.random(16)});
        await assert.rejects(w.authority.issue(t, 'test', KERNEL), code('TOKEN_UNTRUSTED_ROOT'));
        assert.equal(w.authority.token(t.id), undefined);
        assert.equal(w.authority.report(t.id).status, 'invalid');
      }
    });
  });

  it('a well-formed chain under an untrusted root is refused at the root', async () => {
    await withWorld(async (w) => {
      const fake = signToken(h, MALLORY, {subject: 'alice', subjectKey: ALICE.publicKey, resources: [PROJECT], nbf: w.clock.t, exp: null, nonce: w.random(16)});
      const child = signToken(h, ALICE, childDraft(w, fake));
      const lookup = new Map([[fake.id, fake]]);
      const v = new ChainVerifier([OWNER.publicKey]).verify(child, {token: (id) => lookup.get(id)});
      assert.ok(!v.ok);
      assert.equal(v.code, 'TOKEN_UNTRUSTED_ROOT');
      assert.equal(v.at, fake.id);
    });
  });

  it('a child of an unknown parent is TOKEN_CHAIN_BROKEN, and heals once the parent is issued', async () => {
    await withWorld(async (w) => {
      const root = w.authority.mint({to: 'alice', resources: [PROJECT]});
      const child = signToken(h, ALICE, childDraft(w, root));
      await assert.rejects(w.authority.issue(child, 'test', KERNEL), code('TOKEN_CHAIN_BROKEN'));
      await w.authority.issue(root, 'test', KERNEL);
      await w.authority.issue(child, 'test', KERNEL);
      assert.equal(w.authority.report(child.id).status, 'active');
    });
  });
});

describe('attenuation: a child widened on any axis is refused', () => {
  it('a child signed by someone other than the parent holder is refused on the issuer axis', async () => {
    await withWorld(async (w) => {
      const root = await rootGrant(w);
      const forged = signToken(h, MALLORY, childDraft(w, root));
      assert.equal(attenuationProblem(root, forged)?.axis, 'issuer');
      await assert.rejects(w.authority.issue(forged, 'test', KERNEL), widened('issuer'));
      await assert.rejects(w.authority.attenuate(MALLORY, {parent: root.id, to: 'mallory'}), code('TOKEN_NOT_HOLDER'));
      await assert.rejects(w.authority.attenuate(OWNER, {parent: root.id, to: 'bob'}), code('TOKEN_NOT_HOLDER'), 'not even the owner attenuates what alice holds');
    });
  });

  for (const c of WIDE) {
    it(`signToken + issue: ${c.name} is TOKEN_WIDENED on ${c.axis}`, async () => {
      await withWorld(async (w) => {
        const root = await rootGrant(w, {caveats: c.rootCaveats ?? []});
        const child = signToken(h, ALICE, childDraft(w, root, c.child(root)));
        assert.equal(attenuationProblem(root, child)?.axis, c.axis);
        await assert.rejects(w.authority.issue(child, 'test', KERNEL), widened(c.axis));
        await assert.rejects(w.authority.issue(child, 'test', KERNEL), widened(c.axis), 'the memoised verdict is the same');
        assert.equal(w.authority.state.tokens.has(child.id), false);
        assert.equal(w.authority.token(child.id), undefined);
      });
    });
  }

  const viaAttenuate: Array<[string, AttenuationAxis, (p: Token) => object]> = [
    ['/srv/project-evil/**', 'resources', () => ({resources: ['fs.read:/srv/project-evil/**']})],
    ['a larger budget', 'budget', () => ({budget: {messages: 11}})],
    ['a later expiry', 'expiry', (p) => ({exp: (p.exp as number) + 1})],
    ['no expiry', 'expiry', () => ({exp: null})],
    ['an earlier not-before', 'not_before', (p) => ({nbf: p.nbf - 1})],
  ];
  for (const [name, axis, opts] of viaAttenuate) {
    it(`authority.attenuate: ${name} is TOKEN_WIDENED on ${axis} and records nothing`, async () => {
      await withWorld(async (w) => {
        const root = await rootGrant(w);
        const before = w.authority.state.tokens.size;
        await assert.rejects(w.authority.attenuate(ALICE, {parent: root.id, to: 'bob', ...opts(root)}), widened(axis));
        assert.equal(w.authority.state.tokens.size, before);
      });
    });
  }

  it('authority.attenuate keeps the parent caveats, so asking for looser ones still yields a narrower child', async () => {
    await withWorld(async (w) => {
      const root = await rootGrant(w, {caveats: [{type: 'max_uses', n: 5}, {type: 'capsule', hash: HASH_A}]});
      const child = await w.authority.attenuate(ALICE, {parent: root.id, to: 'bob', caveats: [{type: 'max_uses', n: 50}, {type: 'capsule', hash: HASH_B}]});
      assert.equal(useLimit(child), 5);
      assert.deepEqual(child.caveats.filter((x) => x.type === 'capsule').map((x) => (x.type === 'capsule' ? x.hash : '')), [HASH_A, HASH_B]);
      assert.equal(attenuationProblem(root, child), null);
    });
  });

  it('narrower on every axis at once is accepted, by issue and by attenuate', async () => {
    await withWorld(async (w) => {
      const root = await rootGrant(w, {caveats: [{type: 'max_uses', n: 5}, {type: 'allow', resource: 'fs.read', values: ['/srv/project/a', '/srv/project/b']}]});
      const caveats: Caveat[] = [{type: 'single_use'}, {type: 'allow', resource: 'fs.read', values: ['/srv/project/a']}, {type: 'capsule', hash: HASH_A}];
      const narrow = {resources: ['fs.read:/srv/project/src/**'], budget: {messages: 3, fuel: 10, wall_ms: 5}, nbf: root.nbf + 1, exp: (root.exp as number) - 1, caveats};
      const child = signToken(h, ALICE, childDraft(w, root, narrow));
      await w.authority.issue(child, 'test', KERNEL);
      assert.equal(w.authority.report(child.id, root.nbf + 1).status, 'active');
      const viaAtt = await w.authority.attenuate(ALICE, {parent: root.id, to: 'bob', ...narrow});
      assert.equal(w.authority.report(viaAtt.id, root.nbf + 1).status, 'active');
    });
  });

  it('attenuate refuses unknown parents and unknown principals', async () => {
    await withWorld(async (w) => {
      const root = await rootGrant(w);
      await assert.rejects(w.authority.attenuate(ALICE, {parent: parseTokenId('tk_' + '0'.repeat(32)), to: 'bob'}), code('TOKEN_NOT_FOUND'));
      await assert.rejects(w.authority.attenuate(ALICE, {parent: root.id, to: 'eve'}), code('PRINCIPAL_NOT_FOUND'));
    });
  });
});

describe('revocation', () => {
  it('revoking a token revokes every descendant, names the ancestor, and leaves the rest alone', async () => {
    await withWorld(async (w) => {
      const root = await rootGrant(w);
      const child = await w.authority.attenuate(ALICE, {parent: root.id, to: 'bob'});
      const grand = await w.authority.attenuate(BOB, {parent: child.id, to: 'mallory'});
      const sibling = await w.authority.attenuate(ALICE, {parent: root.id, to: 'alice'});
      assert.deepEqual(new Set(w.authority.descendants(root.id)), new Set([child.id, grand.id, sibling.id]));
      assert.deepEqual(w.authority.descendants(child.id), [grand.id]);
      assert.deepEqual(w.authority.descendants(grand.id), []);

      assert.deepEqual(await w.authority.revoke(child.id, 'compromised'), {already: false});
      assert.equal(w.authority.report(child.id).status, 'revoked');
      const g = w.authority.report(grand.id);
      assert.equal(g.status, 'revoked');
      assert.match(g.reason, new RegExp(`ancestor ${child.id}`));
      assert.equal(w.authority.report(root.id).status, 'active');
      assert.equal(w.authority.report(sibling.id).status, 'active');
      await assert.rejects(w.authority.attenuate(MALLORY, {parent: grand.id, to: 'bob'}), code('TOKEN_NOT_ACTIVE'));

      const born = signToken(h, MALLORY, childDraft(w, grand, {subject: 'alice', subjectKey: ALICE.publicKey}));
      await w.authority.issue(born, 'test', KERNEL);
      assert.equal(w.authority.report(born.id).status, 'revoked', 'a child minted under a revoked ancestor is born revoked');

      assert.deepEqual(await w.authority.revoke(child.id, 'again'), {already: true});
      await assert.rejects(w.authority.revoke('tk_' + 'f'.repeat(32), 'x'), code('TOKEN_NOT_FOUND'));
      await w.authority.revoke(root.id, 'all of it');
      assert.equal(w.authority.report(sibling.id).status, 'revoked');
    });
  });
});

describe('memoisation and depth', () => {
  it('repeat verification of the same token is a memo hit', async () => {
    await withWorld(async (w) => {
      const root = await rootGrant(w);
      const child = await w.authority.attenuate(ALICE, {parent: root.id, to: 'bob'});
      const misses = w.authority.verifier.misses;
      for (let i = 0; i < 5; i++) {
        assert.equal(w.authority.report(child.id).status, 'active');
        assert.ok(w.authority.verify(root).ok);
      }
      assert.equal(w.authority.verifier.misses, misses);
      await w.authority.attenuate(BOB, {parent: child.id, to: 'alice'});
      assert.equal(w.authority.verifier.misses, misses + 1, 'a new child costs one miss: its parent is a memo hit');
    });
  });

  /** root (owner -> alice) and `n` delegations alice -> alice, signed directly. */
  function chainOf(w: World, n: number): Token[] {
    const out = [signToken(h, OWNER, {subject: 'alice', subjectKey: ALICE.publicKey, resources: [PROJECT], nbf: w.clock.t, exp: null, nonce: w.random(16)})];
    for (let i = 0; i < n; i++) {
      const p = out[out.length - 1] as Token;
      out.push(signToken(h, ALICE, childDraft(w, p, {subject: 'alice', subjectKey: ALICE.publicKey})));
    }
    return out;
  }

  it(`a fresh verifier accepts ${MAX_CHAIN_DEPTH} delegations and refuses ${MAX_CHAIN_DEPTH + 1} with TOKEN_CHAIN_TOO_DEEP`, async () => {
    await withWorld(async (w) => {
      const chain = chainOf(w, MAX_CHAIN_DEPTH + 1);
      const lookup = new Map(chain.map((t) => [t.id as string, t]));
      const ok = new ChainVerifier([OWNER.publicKey]).verify(chain[MAX_CHAIN_DEPTH] as Token, {token: (id) => lookup.get(id)});
      assert.ok(ok.ok);
      assert.equal(ok.chain.length, MAX_CHAIN_DEPTH + 1);
      const deep = new ChainVerifier([OWNER.publicKey]).verify(chain[MAX_CHAIN_DEPTH + 1] as Token, {token: (id) => lookup.get(id)});
      assert.ok(!deep.ok);
      assert.equal(deep.code, 'TOKEN_CHAIN_TOO_DEEP');
    });
  });

  it('the depth limit holds when the ancestors were verified (and memoised) first', async () => {
    await withWorld(async (w) => {
      const chain = chainOf(w, MAX_CHAIN_DEPTH + 1);
      const lookup = new Map(chain.map((t) => [t.id as string, t]));
      const v = new ChainVerifier([OWNER.publicKey]);
      for (const t of chain.slice(0, -1)) assert.ok(v.verify(t, {token: (id) => lookup.get(id)}).ok);
      const deep = v.verify(chain[MAX_CHAIN_DEPTH + 1] as Token, {token: (id) => lookup.get(id)});
      assert.equal(deep.ok ? 'ok' : deep.code, 'TOKEN_CHAIN_TOO_DEEP', 'same token, same verdict, whatever was verified before');
    });
  });

  it(`authority.attenuate refuses delegation ${MAX_CHAIN_DEPTH + 1} with TOKEN_CHAIN_TOO_DEEP`, async () => {
    await withWorld(async (w) => {
      let t = await rootGrant(w, {exp: null});
      for (let i = 0; i < MAX_CHAIN_DEPTH; i++) t = await w.authority.attenuate(ALICE, {parent: t.id, to: 'alice'});
      assert.equal(w.authority.report(t.id).chain.length, MAX_CHAIN_DEPTH + 1);
      await assert.rejects(w.authority.attenuate(ALICE, {parent: t.id, to: 'alice'}), code('TOKEN_CHAIN_TOO_DEEP'));
    });
  });
});

describe('time window', () => {
  it('expired by one second; not yet valid by one millisecond; the parent window binds the child', async () => {
    await withWorld(async (w) => {
      const t0 = w.clock.t;
      const root = await rootGrant(w, {nbf: t0 + 1000, exp: t0 + HOUR});
      assert.equal(w.authority.report(root.id, t0 + 999).status, 'not-yet-valid');
      assert.equal(w.authority.report(root.id, t0 + 1000).status, 'active');
      assert.equal(w.authority.report(root.id, t0 + HOUR - 1).status, 'active');
      assert.equal(w.authority.report(root.id, t0 + HOUR).status, 'expired');
      assert.equal(w.authority.report(root.id, t0 + HOUR + 1000).status, 'expired');

      w.clock.t = t0 + 1000;
      const child = await w.authority.attenuate(ALICE, {parent: root.id, to: 'bob', nbf: t0 + 5000, exp: t0 + HOUR / 2});
      assert.equal(w.authority.report(child.id, t0 + 4999).status, 'not-yet-valid');
      assert.equal(w.authority.report(child.id, t0 + 5000).status, 'active');
      assert.equal(w.authority.report(child.id, t0 + HOUR / 2 + 1000).status, 'expired');
      assert.equal(w.authority.report(root.id, t0 + HOUR / 2 + 1000).status, 'active');
    });
  });

  it('an expired parent cannot be attenuated', async () => {
    await withWorld(async (w) => {
      const root = await rootGrant(w, {exp: w.clock.t + 1000});
      w.clock.t += 2000;
      await assert.rejects(w.authority.attenuate(ALICE, {parent: root.id, to: 'bob'}), code('TOKEN_NOT_ACTIVE'));
    });
  });
});

describe('the state is a projection', () => {
  it('a rebuild from the ledger gives the same state hash and the same reports; encode/decode round trips', async () => {
    await withWorld(async (w) => {
      const t0 = w.clock.t;
      const root = await rootGrant(w);
      const child = await w.authority.attenuate(ALICE, {parent: root.id, to: 'bob', caveats: [{type: 'max_uses', n: 2}]});
      const grand = await w.authority.attenuate(BOB, {parent: child.id, to: 'mallory', exp: t0 + HOUR / 2});
      const once = await w.authority.grant({to: 'bob', resources: ['kv:notes'], caveats: [{type: 'single_use'}]});
      const gone = await w.authority.grant({to: 'mallory', resources: ['spawn:echo']});
      await w.authority.revoke(gone.id, 'no longer needed');
      for (const t of [once, child]) {
        const chain = w.authority.report(t.id).chain.map((x) => x.id);
        await w.authority.record({kind: 'grant.used', body: {id: t.id, chain, resource: 'kv:notes'}, ...KERNEL}).durable;
      }
      await w.ledger.flush();

      const rebuilt = await rebuild(w.ledger, authorityProjection, {useSnapshot: false});
      const again = new Authority({ledger: w.ledger, blake3: h, clock: w.clock, random: w.random, owner: OWNER, state: rebuilt.state});
      assert.equal(rebuilt.stateHash, projectionStateHash(w.ledger, authorityProjection, w.authority.state), 'live state == rebuilt state');
      const decoded = authorityProjection.decode(authorityProjection.encode(rebuilt.state));
      assert.equal(projectionStateHash(w.ledger, authorityProjection, decoded), rebuilt.stateHash);

      const ids = w.authority.tokensFor(undefined);
      assert.deepEqual(again.tokensFor(undefined), ids);
      assert.equal(ids.length, 5);
      const view = (a: Authority, id: string, now: number): unknown => {
        const r = a.report(id, now);
        return {status: r.status, reason: r.reason, chain: r.chain.map((t) => t.id)};
      };
      for (const now of [t0, t0 + HOUR / 2, t0 + 2 * HOUR]) {
        for (const id of ids) assert.deepEqual(view(again, id, now), view(w.authority, id, now), `${id} at +${now - t0}`);
      }
      assert.equal(again.report(once.id, t0).status, 'used-up');
      assert.equal(again.report(gone.id, t0).status, 'revoked');
      assert.equal(again.report(grand.id, t0).status, 'active');
      assert.equal(again.state.uses.get(child.id), 1);
      assert.equal(again.state.uses.get(root.id), 1, 'a use counts against every token of the chain');
    });
  });
});
