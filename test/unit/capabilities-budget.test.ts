// Proves budgets never overspend: concurrent reservations take exactly what is left, refunds and partial settles give back the rest, a child's spending is carved out of its ancestors', and flushed charges are what the projection says was spent.
import {describe, it} from 'node:test';
import {strict as assert} from 'node:assert';
import fc from 'fast-check';
import {Authority, BudgetBook, authorityProjection, chainScopes, type Attribution, type BudgetScope, type Token} from '../../src/capabilities/index.js';
import {projectionStateHash, rebuild, type Ledger} from '../../src/ledger/index.js';
import {hasher} from '../helpers/ledger-fixtures.js';
import {ALICE, OWNER, withAuthorityWorld} from '../helpers/authority-world.js';

const h = await hasher();
const who = (session: string): Attribution => ({session, principal: 'alice', actor: 'echo'});

interface World {
  readonly ledger: Ledger;
  readonly authority: Authority;
  readonly book: BudgetBook;
  /** alice's root grant: messages 10, fuel 1000, egress 5000. */
  readonly root: Token;
}

async function withWorld(fn: (w: World) => Promise<void>): Promise<void> {
  await withAuthorityWorld(0xb0d6e7, ['alice', 'bob'], async ({ledger, authority}) => {
    const root = await authority.grant({to: 'alice', resources: ['bus.send:tool.>'], budget: {messages: 10, fuel: 1000, egress_bytes: 5000}});
    await fn({ledger, authority, book: new BudgetBook(authority), root});
  });
}

function scopesOf(w: World, t: Token, session = 's1', sessionLimits = {}): BudgetScope[] {
  const rep = w.authority.report(t.id);
  assert.equal(rep.status, 'active', rep.reason);
  return chainScopes(session, sessionLimits, rep.chain);
}
const scopeOf = (scopes: readonly BudgetScope[], key: string): BudgetScope => {
  const s = scopes.find((x) => x.key === key);
  assert.ok(s !== undefined, `no scope ${key}`);
  return s;
};

describe('reservations', () => {
  it('20 concurrent 1-message reservations against messages=10: exactly 10 succeed', async () => {
    await withWorld(async (w) => {
      const scopes = scopesOf(w, w.root);
      const results = await Promise.all(
        Array.from({length: 20}, async (_, i) => {
          for (let k = 0; k < i % 3; k++) await Promise.resolve();
          const r = w.book.reserve(scopes, 'messages', 1);
          if (r.ok) {
            await Promise.resolve();
            r.reservation.settle();
          }
          return r.ok;
        }),
      );
      assert.equal(results.filter((x) => x).length, 10);
      assert.equal(w.book.remaining(scopeOf(scopes, w.root.id), 'messages'), 0);
      const refused = w.book.reserve(scopes, 'messages', 1);
      assert.ok(!refused.ok);
      assert.deepEqual({scope: refused.scope, limit: refused.limit, remaining: refused.remaining, wanted: refused.wanted}, {scope: w.root.id, limit: 10, remaining: 0, wanted: 1});
    });
  });

  it('two sessions on one token share its budget', async () => {
    await withWorld(async (w) => {
      const a = scopesOf(w, w.root, 's1');
      const b = scopesOf(w, w.root, 's2');
      const oks = await Promise.all(Array.from({length: 16}, async (_, i) => w.book.reserve(i % 2 === 0 ? a : b, 'messages', 1).ok));
      assert.equal(oks.filter((x) => x).length, 10);
    });
  });

  it('release refunds everything, once; settle after release charges nothing', async () => {
    await withWorld(async (w) => {
      const scopes = scopesOf(w, w.root);
      const tok = scopeOf(scopes, w.root.id);
      const r = w.book.reserve(scopes, 'messages', 4);
      assert.ok(r.ok);
      assert.equal(w.book.remaining(tok, 'messages'), 6);
      r.reservation.release();
      assert.equal(w.book.remaining(tok, 'messages'), 10);
      r.reservation.release();
      r.reservation.settle(4);
      assert.equal(w.book.remaining(tok, 'messages'), 10);
    });
  });

  it('settle(used < amount) refunds the rest; over-use is capped at the amount; a negative use is a RangeError; a second settle is a no-op', async () => {
    await withWorld(async (w) => {
      const scopes = scopesOf(w, w.root);
      const tok = scopeOf(scopes, w.root.id);
      const r = w.book.reserve(scopes, 'messages', 5);
      assert.ok(r.ok);
      r.reservation.settle(2);
      assert.equal(w.book.remaining(tok, 'messages'), 8);
      r.reservation.settle(5);
      r.reservation.release();
      assert.equal(w.book.remaining(tok, 'messages'), 8);
      const big = w.book.reserve(scopes, 'messages', 3);
      assert.ok(big.ok);
      big.reservation.settle(1000);
      assert.equal(w.book.remaining(tok, 'messages'), 5);
      const neg = w.book.reserve(scopes, 'messages', 1);
      assert.ok(neg.ok);
      assert.throws(() => neg.reservation.settle(-3), RangeError);
      neg.reservation.release();
      assert.equal(w.book.remaining(tok, 'messages'), 5);
    });
  });

  it('upTo reserves what is left (at least 1) for fuel; without upTo it is all or nothing', async () => {
    await withWorld(async (w) => {
      const scopes = scopesOf(w, w.root);
      const tok = scopeOf(scopes, w.root.id);
      assert.equal(w.book.remaining(scopeOf(scopes, 'session:s1'), 'fuel'), Infinity);
      const all = w.book.reserve(scopes, 'fuel', 5000);
      assert.ok(!all.ok);
      assert.deepEqual({scope: all.scope, remaining: all.remaining, wanted: all.wanted}, {scope: w.root.id, remaining: 1000, wanted: 5000});
      const first = w.book.reserve(scopes, 'fuel', 5000, true);
      assert.ok(first.ok);
      assert.equal(first.reservation.amount, 1000);
      assert.equal(w.book.reserve(scopes, 'fuel', 5000, true).ok, false, 'nothing left, not even 1');
      first.reservation.settle(300);
      assert.equal(w.book.remaining(tok, 'fuel'), 700);
      const second = w.book.reserve(scopes, 'fuel', 5000, true);
      assert.ok(second.ok);
      assert.equal(second.reservation.amount, 700);
      second.reservation.release();
      const small = w.book.reserve(scopes, 'fuel', 50, true);
      assert.ok(small.ok);
      assert.equal(small.reservation.amount, 50, 'upTo never takes more than asked');
    });
  });

  it('a session limit bounds the session, whatever the token allows', async () => {
    await withWorld(async (w) => {
      const scopes = scopesOf(w, w.root, 's1', {messages: 3});
      for (let i = 0; i < 3; i++) assert.ok(w.book.reserve(scopes, 'messages', 1).ok);
      const r = w.book.reserve(scopes, 'messages', 1);
      assert.ok(!r.ok);
      assert.equal(r.scope, 'session:s1');
      assert.equal(w.book.remaining(scopeOf(scopes, w.root.id), 'messages'), 7, 'an all-or-nothing refusal takes nothing from the token');
    });
  });

  const hostile: Array<[string, (w: World, scopes: BudgetScope[]) => void]> = [
    ['reserve(-5)', (w, scopes) => void w.book.reserve(scopes, 'messages', -5)],
    ['reserve(NaN)', (w, scopes) => void w.book.reserve(scopes, 'messages', NaN)],
    [
      'settle(NaN)',
      (w, scopes) => {
        const r = w.book.reserve(scopes, 'messages', 1);
        if (r.ok) r.reservation.settle(NaN);
      },
    ],
  ];
  for (const [name, act] of hostile) {
    it(`hostile amounts: ${name} is refused or thrown, and never loosens the budget`, async () => {
      await withWorld(async (w) => {
        const scopes = scopesOf(w, w.root);
        try {
          act(w, scopes); // refused, thrown or held open: none may add budget
        } catch (e) {
          assert.ok(e instanceof RangeError || e instanceof TypeError, String(e));
        }
        const left = w.book.remaining(scopeOf(scopes, w.root.id), 'messages');
        assert.ok(left >= 0 && left <= 10, `remaining after ${name}: ${left}`);
        assert.equal(w.book.reserve(scopes, 'messages', 11).ok, false, `reserve(11) after ${name}`);
      });
    });
  }
});

describe('delegation', () => {
  it("a child's spending counts against its parent, and so against its siblings", async () => {
    await withWorld(async (w) => {
      const child = await w.authority.attenuate(ALICE, {parent: w.root.id, to: 'bob'});
      const sibling = await w.authority.attenuate(ALICE, {parent: w.root.id, to: 'bob'});
      const cs = scopesOf(w, child, 's1');
      assert.deepEqual(
        cs.map((s) => s.key),
        ['session:s1', child.id, w.root.id],
      );
      const spent = w.book.reserve(cs, 'messages', 7);
      assert.ok(spent.ok);
      spent.reservation.settle();
      assert.equal(w.book.remaining(scopeOf(cs, child.id), 'messages'), 3);

      const viaRoot = w.book.reserve(scopesOf(w, w.root, 's2'), 'messages', 4);
      assert.ok(!viaRoot.ok);
      assert.deepEqual([viaRoot.scope, viaRoot.remaining], [w.root.id, 3]);
      const viaSibling = w.book.reserve(scopesOf(w, sibling, 's3'), 'messages', 4);
      assert.ok(!viaSibling.ok);
      assert.equal(viaSibling.scope, w.root.id, "the sibling's own budget is untouched; the parent's is not");
      assert.ok(w.book.reserve(scopesOf(w, sibling, 's3'), 'messages', 3).ok);
    });
  });

  it("a child's own smaller budget binds first", async () => {
    await withWorld(async (w) => {
      const child = await w.authority.attenuate(ALICE, {parent: w.root.id, to: 'bob', budget: {messages: 2}});
      const r = w.book.reserve(scopesOf(w, child), 'messages', 3);
      assert.ok(!r.ok);
      assert.deepEqual([r.scope, r.limit], [child.id, 2]);
    });
  });

  it('property: random reserve/settle/release across a 2-token chain never charges more than the limit', async () => {
    const op = fc.record({who: fc.constantFrom('child', 'root'), n: fc.integer({min: 1, max: 4}), end: fc.constantFrom('settle', 'partial', 'release', 'open')});
    await fc.assert(
      fc.asyncProperty(fc.array(op, {maxLength: 30}), async (ops) => {
        await withWorld(async (w) => {
          const child = await w.authority.attenuate(ALICE, {parent: w.root.id, to: 'bob', budget: {messages: 6}});
          const scopes = {child: scopesOf(w, child, 's1'), root: scopesOf(w, w.root, 's2')};
          let charged = 0;
          let childCharged = 0;
          let open = 0;
          for (const o of ops) {
            const r = w.book.reserve(scopes[o.who], 'messages', o.n);
            if (!r.ok) continue;
            const used = o.end === 'settle' ? o.n : o.end === 'partial' ? o.n - 1 : 0;
            if (o.end === 'open') open += o.n;
            else if (o.end === 'release') r.reservation.release();
            else r.reservation.settle(used);
            charged += used;
            if (o.who === 'child') childCharged += used;
            assert.ok(charged + open <= 10, `${charged} charged and ${open} held of 10`);
            assert.equal(w.book.remaining(scopeOf(scopes.root, w.root.id), 'messages'), 10 - charged - open);
            assert.ok(childCharged <= 6);
          }
        });
      }),
      {seed: 0xb06e7, numRuns: 40},
    );
  });
});

describe('flush and the projection', () => {
  it('flush writes one budget.charged per session and token set; the projection then says what was spent', async () => {
    await withWorld(async (w) => {
      const child = await w.authority.attenuate(ALICE, {parent: w.root.id, to: 'bob'});
      const s1 = scopesOf(w, child, 's1');
      const s2 = scopesOf(w, w.root, 's2');
      const settle = (scopes: BudgetScope[], axis: 'messages' | 'fuel' | 'egress_bytes', n: number, used = n): void => {
        const r = w.book.reserve(scopes, axis, n);
        assert.ok(r.ok);
        r.reservation.settle(used);
      };
      settle(s1, 'messages', 2);
      settle(s1, 'messages', 1);
      settle(s1, 'fuel', 400, 250);
      settle(s1, 'egress_bytes', 100);
      settle(s2, 'messages', 2);
      settle(s2, 'fuel', 10, 0);
      const rootScope = scopeOf(s2, w.root.id);
      const before = [w.book.remaining(rootScope, 'messages'), w.book.remaining(rootScope, 'fuel'), w.book.remaining(rootScope, 'egress_bytes')];
      assert.deepEqual(before, [5, 750, 4900]);

      w.book.flush(who('s1'));
      assert.deepEqual([w.book.remaining(rootScope, 'messages'), w.book.remaining(rootScope, 'fuel'), w.book.remaining(rootScope, 'egress_bytes')], before, 'nothing lost or counted twice by the flush');
      w.book.flush(who('s1'));
      w.book.flush(who('s2'));
      assert.deepEqual([w.book.remaining(rootScope, 'messages'), w.book.remaining(rootScope, 'fuel'), w.book.remaining(rootScope, 'egress_bytes')], before);
      await w.ledger.flush();

      const charged = [];
      for await (const e of w.ledger.entries({kind: 'budget.charged'})) {
        assert.ok(e.entry.kind === 'budget.charged');
        charged.push({session: e.entry.session, ...e.entry.body});
      }
      assert.deepEqual(charged, [
        {session: 's1', tokens: [child.id, w.root.id], fuel: 250, wall_ms: 0, messages: 3, egress_bytes: 100},
        {session: 's2', tokens: [w.root.id], fuel: 0, wall_ms: 0, messages: 2, egress_bytes: 0},
      ]);

      const rebuilt = await rebuild(w.ledger, authorityProjection, {useSnapshot: false});
      assert.deepEqual(rebuilt.state.spent.get(w.root.id), {fuel: 250, wall_ms: 0, messages: 5, egress_bytes: 100});
      assert.deepEqual(rebuilt.state.spent.get(child.id), {fuel: 250, wall_ms: 0, messages: 3, egress_bytes: 100});
      assert.deepEqual(rebuilt.state.spent.get('session:s1'), {fuel: 250, wall_ms: 0, messages: 3, egress_bytes: 100});
      assert.deepEqual(rebuilt.state.spent.get('session:s2'), {fuel: 0, wall_ms: 0, messages: 2, egress_bytes: 0});
      assert.equal(rebuilt.stateHash, projectionStateHash(w.ledger, authorityProjection, w.authority.state));

      const fresh = new BudgetBook(new Authority({ledger: w.ledger, blake3: h, clock: w.authority.clock, random: () => new Uint8Array(16), owner: OWNER, state: rebuilt.state}));
      assert.equal(fresh.remaining(rootScope, 'messages'), 5, 'a restarted kernel sees what was spent');
    });
  });

  it('a settle of nothing writes nothing', async () => {
    await withWorld(async (w) => {
      const r = w.book.reserve(scopesOf(w, w.root), 'messages', 3);
      assert.ok(r.ok);
      r.reservation.settle(0);
      const head = w.ledger.head.seq;
      w.book.flush(who('s1'));
      assert.equal(w.ledger.head.seq, head);
    });
  });
});
