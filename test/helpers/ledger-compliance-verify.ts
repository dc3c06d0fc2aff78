/**
 * Verification against a tampering adversary on a given backend. Every attack goes through
 * the store's raw keys (entryKey, checkpointKey; values are hash(32) || entry bytes) and
 * must come back as the right typed issue at the right seq.
 */
import {describe, test} from 'node:test';
import {strict as assert} from 'node:assert';
import {
  ENTRY_FORMAT_VERSION,
  P_CHECKPOINT,
  checkpointKey,
  decodeCheckpoint,
  encodeCheckpoint,
  entryKey,
  signCheckpoint,
  verifyStore,
  type Checkpoint,
  type LedgerStore,
  type VerifyReport,
} from '../../src/ledger/index.js';
import {
  KEY,
  OTHER_KEY,
  buildClosedLedger,
  checkpointSeqs,
  code,
  del,
  errors,
  hasher,
  note,
  openLedger,
  openReader,
  put,
  rawAll,
  rawEntry,
  rechain,
  testClock,
  withStore,
  type StoreFactory,
} from './ledger-fixtures.js';

const N = 12;

/** Build a closed ledger of N entries, let `tamper` edit the raw store, then verify read-only with KEY. */
async function attack(makeStore: StoreFactory, tamper: (store: LedgerStore) => Promise<void>, build = {}): Promise<VerifyReport> {
  return withStore(makeStore, async (store) => {
    await buildClosedLedger(store, N, build);
    const reader = await openReader(store);
    await tamper(reader.store);
    const report = await reader.verify({trustedKey: KEY.publicKey});
    await reader.close();
    return report;
  });
}

async function readCheckpoint(store: LedgerStore, seq: number): Promise<Checkpoint> {
  const raw = await store.get(checkpointKey(seq));
  assert.ok(raw !== undefined);
  const c = decodeCheckpoint(raw);
  assert.ok(typeof c !== 'string');
  return c;
}

const flip = (v: Uint8Array, at: number): Uint8Array => {
  const out = v.slice();
  out[at] = (out[at] as number) ^ 0x01;
  return out;
};

export function verifyContract(name: string, makeStore: StoreFactory): void {
  describe(`${name}: verification of a tampered ledger`, () => {
    test('an intact ledger verifies ok with no issue; an open one warns only about its unsigned tail', async () => {
      const r = await attack(makeStore, async () => undefined);
      assert.equal(r.ok, true);
      assert.deepEqual(r.issues, []);
      assert.equal(r.entries, N);
      assert.equal(r.head.seq, N);
      assert.deepEqual(r.checkpoints, {count: 2, valid: 2, lastSignedSeq: N}, 'the genesis checkpoint and the one at close');
      await withStore(makeStore, async (store) => {
        const ledger = await openLedger(store);
        await ledger.append(note('one'));
        void ledger.append(note('not yet durable: verify flushes first'));
        const live = await ledger.verify();
        assert.equal(live.ok, true);
        assert.equal(live.entries, 3);
        // Genesis is signed from the start, so only what came after it is an unsigned tail (a warning).
        assert.deepEqual(live.issues.map((i) => [i.code, i.seq, i.severity]), [['TAIL_UNCHECKPOINTED', 2, 'warning']]);
        assert.deepEqual(live.checkpoints, {count: 1, valid: 1, lastSignedSeq: 1});
        const keyless = await verifyStore(store, {trustedKey: undefined});
        assert.deepEqual(errors(keyless), [['NO_TRUSTED_KEY', 0]]);
        await ledger.close();
      });
    });

    test('ENTRY_MODIFIED at the entry whose body byte or stored hash changed, and nowhere else', async () => {
      const body = await attack(makeStore, async (s) => put(s, entryKey(5), flip(await rawEntry(s, 5), (await rawEntry(s, 5)).length - 1)));
      assert.deepEqual(errors(body), [['ENTRY_MODIFIED', 5]]);
      const hash = await attack(makeStore, async (s) => put(s, entryKey(7), flip(await rawEntry(s, 7), 0)));
      assert.deepEqual(errors(hash), [['ENTRY_MODIFIED', 7]]);
      const head = await attack(makeStore, async (s) => put(s, entryKey(N), flip(await rawEntry(s, N), 3)));
      assert.deepEqual(errors(head).sort(), [['CHECKPOINT_MISMATCH', N], ['ENTRY_MODIFIED', N]]);
    });

    test('LINK_BROKEN where an entry was given another prev and everything after was re-hashed consistently', async () => {
      const r = await attack(makeStore, (s) => rechain(s, 6, (e) => ({...e, prev: new Uint8Array(32).fill(7)})));
      assert.deepEqual(errors(r), [['LINK_BROKEN', 6], ['CHECKPOINT_MISMATCH', N]]);
    });

    test('ENTRY_MISSING at a deleted entry (genesis included); LEDGER_TRUNCATED at newHead+1 below a checkpoint', async () => {
      assert.deepEqual(errors(await attack(makeStore, (s) => del(s, entryKey(4)))), [['ENTRY_MISSING', 4]]);
      assert.deepEqual(errors(await attack(makeStore, (s) => del(s, entryKey(1)))), [['ENTRY_MISSING', 1]]);
      const cut = await attack(makeStore, async (s) => {
        for (const seq of [N, N - 1, N - 2]) await del(s, entryKey(seq));
      });
      assert.deepEqual(errors(cut), [['LEDGER_TRUNCATED', N - 2]]);
      assert.equal(cut.head.seq, N - 3);
    });

    test('ENTRY_OUT_OF_ORDER at both positions of two swapped entries', async () => {
      const r = await attack(makeStore, async (s) => {
        const [a, b] = [await rawEntry(s, 3), await rawEntry(s, 8)];
        await s.batch([{type: 'put', key: entryKey(3), value: b}, {type: 'put', key: entryKey(8), value: a}], {sync: true});
      });
      const e = errors(r);
      assert.deepEqual(e[0], ['ENTRY_OUT_OF_ORDER', 3]);
      assert.ok(e.some(([c, s]) => c === 'ENTRY_OUT_OF_ORDER' && s === 8), JSON.stringify(e));
    });

    test('ENTRY_UNDECODABLE for garbage bytes or a value too short to hold a hash', async () => {
      const garbage = await attack(makeStore, async (s) => put(s, entryKey(4), Uint8Array.of(...(await rawEntry(s, 4)).subarray(0, 32), 0xc1, 0x00)));
      assert.deepEqual(errors(garbage), [['ENTRY_UNDECODABLE', 4]]);
      const short = await attack(makeStore, (s) => put(s, entryKey(4), new Uint8Array(20)));
      assert.deepEqual(errors(short)[0], ['ENTRY_UNDECODABLE', 4]);
      const junkKey = await attack(makeStore, (s) => put(s, Uint8Array.of(0x45, 1, 2), new Uint8Array(40)));
      assert.equal(junkKey.ok, false);
      assert.equal(errors(junkKey)[0]?.[0], 'ENTRY_UNDECODABLE');
      await withStore(makeStore, async (store) => {
        await buildClosedLedger(store, 4);
        const r = await openReader(store);
        await put(r.store, entryKey(2), new Uint8Array(40));
        await assert.rejects(r.read(2), code('LEDGER_CORRUPT'));
        await assert.rejects(async () => {
          for await (const _ of r.entries()) continue;
        }, code('LEDGER_CORRUPT'));
        await r.close();
      });
    });

    test('checkpoint forged, altered, signed by another key, unsigned, garbage or misplaced: each named at its seq', async () => {
      const forged = await attack(makeStore, async (s) => {
        const c = await readCheckpoint(s, N);
        await put(s, checkpointKey(N), encodeCheckpoint({...c, sig: flip(c.sig, 5)}));
      });
      assert.deepEqual(errors(forged), [['CHECKPOINT_BAD_SIGNATURE', N]]);
      assert.equal(forged.checkpoints.lastSignedSeq, 1, 'only the genesis checkpoint still counts');
      assert.deepEqual(
        forged.issues.filter((i) => i.severity === 'warning').map((i) => [i.code, i.seq]),
        [['TAIL_UNCHECKPOINTED', 2]],
        'what only the forged checkpoint covered is an unsigned tail again',
      );
      const altered = await attack(makeStore, async (s) => {
        const c = await readCheckpoint(s, N);
        await put(s, checkpointKey(N), encodeCheckpoint({...c, time: c.time + 1}));
      });
      assert.deepEqual(errors(altered), [['CHECKPOINT_BAD_SIGNATURE', N]]);
      const foreign = await attack(makeStore, async (s) => {
        const c = await readCheckpoint(s, N);
        await put(s, checkpointKey(N), encodeCheckpoint(signCheckpoint(OTHER_KEY, N, c.hash, c.time)));
      });
      assert.deepEqual(errors(foreign), [['CHECKPOINT_FOREIGN_KEY', N]]);
      const unsigned = await attack(makeStore, async (s) => {
        const c = await readCheckpoint(s, N);
        await put(s, checkpointKey(N), encodeCheckpoint({...c, sig: new Uint8Array(0)}));
      });
      assert.deepEqual(errors(unsigned), [['CHECKPOINT_UNSIGNED', N]]);
      const garbage = await attack(makeStore, (s) => put(s, checkpointKey(N), Uint8Array.of(0xde, 0xad, 0xbe, 0xef)));
      assert.deepEqual(errors(garbage), [['CHECKPOINT_UNDECODABLE', N]]);
      const moved = await attack(makeStore, async (s) => {
        await put(s, checkpointKey(N - 1), (await s.get(checkpointKey(N))) as Uint8Array);
      });
      assert.deepEqual(errors(moved), [['CHECKPOINT_UNDECODABLE', N - 1]]);
    });

    test('CHECKPOINT_MISMATCH at every signed checkpoint over a consistent rewrite', async () => {
      const edit = (s: LedgerStore): Promise<void> => rechain(s, 3, (e) => (e.kind === 'note' ? {...e, body: {text: 'history, rewritten'}} : e));
      assert.deepEqual(errors(await attack(makeStore, edit)), [['CHECKPOINT_MISMATCH', N]]);
      let signed: number[] = [];
      const every4 = await attack(
        makeStore,
        async (s) => {
          signed = await checkpointSeqs(s);
          await edit(s);
        },
        {checkpointEvery: 4},
      );
      assert.ok(signed.filter((x) => x >= 3).length >= 3, `several checkpoints over the rewrite: ${signed.join()}`);
      assert.deepEqual(errors(every4), signed.filter((x) => x >= 3).map((x) => ['CHECKPOINT_MISMATCH', x]));
    });

    test('GENESIS_INVALID when genesis names another key, is not a genesis, or a second genesis appears', async () => {
      // Rewriting genesis also contradicts the checkpoint signed with it (seq 1) and the one at the head.
      const otherKey = await attack(makeStore, (s) =>
        rechain(s, 1, (e) => ({...e, kind: 'genesis', body: {format: ENTRY_FORMAT_VERSION, kernelKey: OTHER_KEY.publicKey}})),
      );
      assert.deepEqual(errors(otherKey), [['CHECKPOINT_MISMATCH', 1], ['GENESIS_INVALID', 1], ['CHECKPOINT_MISMATCH', N]]);
      const notGenesis = await attack(makeStore, (s) => rechain(s, 1, (e) => ({...e, kind: 'note', body: {text: 'I am first now'}})));
      assert.deepEqual(errors(notGenesis), [['CHECKPOINT_MISMATCH', 1], ['GENESIS_INVALID', 1], ['CHECKPOINT_MISMATCH', N]]);
      const second = await attack(makeStore, (s) =>
        rechain(s, 6, (e) => ({...e, kind: 'genesis', body: {format: ENTRY_FORMAT_VERSION, kernelKey: KEY.publicKey}})),
      );
      assert.deepEqual(errors(second), [['GENESIS_INVALID', 6], ['CHECKPOINT_MISMATCH', N]]);
    });

    test('a ledger forged wholesale under another key fails against the trusted key', async () => {
      await withStore(makeStore, async (victim) => {
        await buildClosedLedger(victim, N);
        await withStore(makeStore, async (forgery) => {
          await buildClosedLedger(forgery, N + 2, {signer: OTHER_KEY});
          await forgery.open();
          await victim.open();
          const wipe = [...(await rawAll(victim)), ...(await rawAll(victim, P_CHECKPOINT))].map(([key]) => ({type: 'del' as const, key}));
          const copy = [...(await rawAll(forgery)), ...(await rawAll(forgery, P_CHECKPOINT))].map(([key, value]) => ({type: 'put' as const, key, value}));
          await victim.batch([...wipe, ...copy], {sync: true});
        });
        const r = await verifyStore(victim, {trustedKey: KEY.publicKey, hasher: await hasher()});
        assert.equal(r.ok, false);
        // Both forged checkpoints (with genesis, at close) are foreign, so nothing is signed by the trusted key at all.
        assert.deepEqual(errors(r), [['CHECKPOINT_FOREIGN_KEY', 1], ['GENESIS_INVALID', 1], ['CHECKPOINT_MISSING', 1], ['CHECKPOINT_FOREIGN_KEY', N + 2]]);
        assert.deepEqual(r.checkpoints, {count: 2, valid: 0, lastSignedSeq: 0});
        assert.ok(!r.issues.some((i) => i.code === 'TAIL_UNCHECKPOINTED'), 'CHECKPOINT_MISSING replaces the tail warning');
      });
    });

    test('deleting every checkpoint is an error, CHECKPOINT_MISSING at seq 1: no ledger is ever without one', async () => {
      const stripAll = async (s: LedgerStore): Promise<void> => {
        const cps = await rawAll(s, P_CHECKPOINT);
        assert.ok(cps.length >= 1);
        for (const [key] of cps) await del(s, key);
      };
      const r = await attack(makeStore, stripAll);
      assert.equal(r.ok, false);
      assert.deepEqual(r.issues.map((i) => [i.code, i.seq, i.severity]), [['CHECKPOINT_MISSING', 1, 'error']]);
      assert.deepEqual(r.checkpoints, {count: 0, valid: 0, lastSignedSeq: 0});
      // With intermediate checkpoints too, and on a ledger that is nothing but genesis.
      const many = await attack(makeStore, stripAll, {checkpointEvery: 3});
      assert.deepEqual(many.issues.map((i) => [i.code, i.seq, i.severity]), [['CHECKPOINT_MISSING', 1, 'error']]);
      await withStore(makeStore, async (store) => {
        await buildClosedLedger(store, 1);
        await store.open();
        assert.deepEqual(await checkpointSeqs(store), [1]);
        await stripAll(store);
        const only = await verifyStore(store, {trustedKey: KEY.publicKey, hasher: await hasher()});
        assert.equal(only.ok, false);
        assert.deepEqual(errors(only), [['CHECKPOINT_MISSING', 1]]);
      });
    });

    test('every checkpoint forged, unsigned or garbage: each named, and CHECKPOINT_MISSING since none is valid', async () => {
      const r = await attack(makeStore, async (s) => {
        const [first, last] = [await readCheckpoint(s, 1), await readCheckpoint(s, N)];
        await put(s, checkpointKey(1), encodeCheckpoint({...first, sig: new Uint8Array(0)}));
        await put(s, checkpointKey(N), encodeCheckpoint({...last, sig: flip(last.sig, 9)}));
      });
      assert.equal(r.ok, false);
      assert.deepEqual(errors(r), [['CHECKPOINT_UNSIGNED', 1], ['CHECKPOINT_MISSING', 1], ['CHECKPOINT_BAD_SIGNATURE', N]]);
      assert.ok(!r.issues.some((i) => i.code === 'TAIL_UNCHECKPOINTED'));
      const garbage = await attack(makeStore, async (s) => {
        for (const [key] of await rawAll(s, P_CHECKPOINT)) await put(s, key, Uint8Array.of(0xc1));
      });
      assert.deepEqual(errors(garbage), [['CHECKPOINT_UNDECODABLE', 1], ['CHECKPOINT_MISSING', 1], ['CHECKPOINT_UNDECODABLE', N]]);
    });

    test('TAIL_UNCHECKPOINTED stays a warning after the last valid checkpoint; losing only the genesis checkpoint is no issue', async () => {
      // Only the genesis checkpoint left: the rest is a tail, as after a crash before the next checkpoint.
      const tail = await attack(makeStore, (s) => del(s, checkpointKey(N)));
      assert.equal(tail.ok, true);
      assert.deepEqual(tail.issues.map((i) => [i.code, i.seq, i.severity]), [['TAIL_UNCHECKPOINTED', 2, 'warning']]);
      // The checkpoint at the head covers genesis through the chain; the one at seq 1 adds nothing then.
      const noGenesisCp = await attack(makeStore, (s) => del(s, checkpointKey(1)));
      assert.equal(noGenesisCp.ok, true);
      assert.deepEqual(noGenesisCp.issues, []);
      assert.deepEqual(noGenesisCp.checkpoints, {count: 1, valid: 1, lastSignedSeq: N});
    });

    test('a write-mode open refuses to sign over history whose newest checkpoint is gone, forged or contradicted (LEDGER_CORRUPT)', async () => {
      const rewrite = (s: LedgerStore): Promise<void> => rechain(s, 3, (e) => (e.kind === 'note' ? {...e, body: {text: 'history, rewritten'}} : e));
      const attacks: Array<[string, (s: LedgerStore) => Promise<void>, RegExp]> = [
        [
          'every checkpoint stripped, history rewritten',
          async (s) => {
            await rewrite(s);
            for (const [key] of await rawAll(s, P_CHECKPOINT)) await del(s, key);
          },
          /no signed checkpoint/,
        ],
        ['the newest checkpoint forged', async (s) => put(s, checkpointKey(N), encodeCheckpoint({...(await readCheckpoint(s, N)), sig: flip((await readCheckpoint(s, N)).sig, 3)})), /not validly signed/],
        ['the newest checkpoint re-signed by another key', async (s) => {
          const c = await readCheckpoint(s, N);
          await put(s, checkpointKey(N), encodeCheckpoint(signCheckpoint(OTHER_KEY, N, c.hash, c.time)));
        }, /not validly signed/],
        ['the newest checkpoint unreadable', (s) => put(s, checkpointKey(N), Uint8Array.of(0xc1)), /malformed/],
        ['history under the newest checkpoint rewritten', rewrite, /differs from its signed checkpoint/],
      ];
      for (const [what, tamper, why] of attacks) {
        await withStore(makeStore, async (store) => {
          await buildClosedLedger(store, N);
          await store.open();
          await tamper(store);
          const before = await verifyStore(store, {trustedKey: KEY.publicKey, hasher: await hasher()});
          assert.equal(before.ok, false, what);
          await store.close();
          const kernel = await openLedger(store);
          await assert.rejects(kernel.append(note('the next ordinary note')), (e: unknown) => code('LEDGER_CORRUPT')(e) && why.test((e as Error).message), what);
          await assert.rejects(kernel.checkpoint(), code('LEDGER_CORRUPT'), what);
          await kernel.close();
          await store.open();
          const after = await verifyStore(store, {trustedKey: KEY.publicKey, hasher: await hasher()});
          assert.deepEqual(after.issues, before.issues, `${what}: the refused writer changed nothing (no new checkpoint)`);
          await store.close();
          const reader = await openReader(store);
          assert.equal((await reader.verify({trustedKey: KEY.publicKey})).ok, false, `${what}: still readable, still failing`);
          await reader.close();
        });
      }
    });

    test('an unsigned tail that runs past maxUnsignedTailMs (as `astrid audit verify` asks) is an error; by default it stays a warning', async () => {
      await withStore(makeStore, async (store) => {
        const clock = testClock(1_000_000);
        const ledger = await openLedger(store, {clock});
        clock.t += 30_000;
        await ledger.append(note('thirty seconds after genesis'));
        clock.t += 40_000;
        await ledger.append(note('seventy seconds after genesis'));
        const shape = (r: VerifyReport): Array<[string, number, string]> => r.issues.map((i) => [i.code, i.seq, i.severity]);
        const lenient = await ledger.verify();
        assert.equal(lenient.ok, true);
        assert.deepEqual(shape(lenient), [['TAIL_UNCHECKPOINTED', 2, 'warning']]);
        const strict = await ledger.verify({maxUnsignedTailMs: 60_000});
        assert.equal(strict.ok, false);
        assert.deepEqual(shape(strict), [['TAIL_UNCHECKPOINTED', 2, 'error']]);
        assert.match(strict.issues[0]?.message ?? '', /span 70 s/);
        assert.deepEqual(shape(await ledger.verify({maxUnsignedTailMs: 70_000})), [['TAIL_UNCHECKPOINTED', 2, 'warning']], 'at the limit is still a warning');
        await ledger.close();
        const reader = await openReader(store);
        assert.deepEqual((await reader.verify({trustedKey: KEY.publicKey, maxUnsignedTailMs: 60_000})).issues, [], 'signed at close: no tail at all');
        await reader.close();
      });
    });

    test('a write-mode open refuses to sign over an unsigned tail that runs far past the newest checkpoint; a crash-sized tail is fine', async () => {
      /** A closed ledger with entries every `stepMs`, then every checkpoint after the genesis one removed. */
      const build = async (store: LedgerStore, stepMs: number): Promise<void> => {
        const clock = testClock(1_000_000);
        const ledger = await openLedger(store, {clock, checkpointEvery: 3});
        for (let i = 0; i < 5; i++) {
          clock.t += stepMs;
          await ledger.append(note(`entry ${i}`));
        }
        await ledger.close();
        await store.open();
        for (const seq of await checkpointSeqs(store)) if (seq !== 1) await del(store, checkpointKey(seq));
        assert.deepEqual(await checkpointSeqs(store), [1]);
        await store.close();
      };
      await withStore(makeStore, async (store) => {
        await build(store, 20_000); // 100 s of entries after the genesis checkpoint
        const kernel = await openLedger(store, {checkpointIntervalMs: 5_000});
        await assert.rejects(
          kernel.append(note('would bless whatever replaced the removed checkpoints')),
          (e: unknown) => code('LEDGER_CORRUPT')(e) && /later checkpoints were probably removed/.test((e as Error).message),
        );
        await kernel.close();
        await store.open();
        assert.deepEqual(await checkpointSeqs(store), [1], 'nothing was signed');
        await store.close();
        const reader = await openReader(store);
        assert.deepEqual(errors(await reader.verify({trustedKey: KEY.publicKey, maxUnsignedTailMs: 60_000})), [['TAIL_UNCHECKPOINTED', 2]]);
        await reader.close();
      });
      await withStore(makeStore, async (store) => {
        await build(store, 10_000); // 50 s: what a crash could leave (the floor is 60 s)
        const kernel = await openLedger(store, {checkpointIntervalMs: 5_000});
        assert.equal((await kernel.append(note('after a crash'))).seq, 7);
        await kernel.close();
        const reader = await openReader(store);
        assert.deepEqual((await reader.verify({trustedKey: KEY.publicKey})).issues, []);
        await reader.close();
      });
    });

    test('history rewritten after genesis with every checkpoint but the genesis one stripped: only an anchor kept outside the ledger catches it', async () => {
      await withStore(makeStore, async (store) => {
        await buildClosedLedger(store, N); // its clock stands still: every entry has the genesis time
        await store.open();
        // What the kernel remembers beside its key: the newest checkpoint it wrote.
        const newest = (await rawAll(store, P_CHECKPOINT)).at(-1);
        assert.ok(newest);
        const c = decodeCheckpoint(newest[1]);
        assert.ok(typeof c !== 'string');
        const anchor = {seq: c.seq, hash: c.hash};
        await rechain(store, 3, (e) => (e.kind === 'note' ? {...e, body: {text: 'history, rewritten'}} : e));
        for (const [key] of await rawAll(store, P_CHECKPOINT)) if (Buffer.compare(key, checkpointKey(1)) !== 0) await del(store, key);
        // Without the anchor the ledger alone cannot tell (entry times are the rewriter's too):
        // a documented limit, visible as an unsigned tail.
        const alone = await verifyStore(store, {trustedKey: KEY.publicKey, hasher: await hasher(), maxUnsignedTailMs: 60_000});
        assert.equal(alone.ok, true);
        assert.deepEqual(alone.issues.map((i) => i.code), ['TAIL_UNCHECKPOINTED']);
        // With it, verification fails at the anchored seq, and a write-mode open refuses to sign over it.
        const r = await verifyStore(store, {trustedKey: KEY.publicKey, hasher: await hasher(), anchor});
        assert.equal(r.ok, false);
        assert.ok(r.issues.some((i) => i.code === 'ANCHOR_MISMATCH' && i.seq === anchor.seq), JSON.stringify(r.issues));
        await store.close();
        const ledger = await openLedger(store, {anchor});
        await assert.rejects(ledger.append(note('signed over a rewrite')), code('LEDGER_CORRUPT'));
        await ledger.close();
      });
    });

    test('maxIssues caps the list and says how many more there were', async () => {
      await withStore(makeStore, async (store) => {
        await buildClosedLedger(store, N);
        await store.open();
        for (const seq of [2, 4, 6, 8, 10]) await del(store, entryKey(seq));
        const r = await verifyStore(store, {trustedKey: KEY.publicKey, maxIssues: 3});
        assert.equal(r.ok, false);
        assert.deepEqual(r.issues.map((i) => i.code), ['MORE_ISSUES', 'ENTRY_MISSING', 'ENTRY_MISSING', 'ENTRY_MISSING']);
        assert.match(r.issues[0]?.message ?? '', /^2 more/);
      });
    });
  });
}
