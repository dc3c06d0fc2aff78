/**
 * Ledger writes on a given backend: genesis, validation with stable codes, seq order,
 * group commit, durability before acknowledgement, fail-secure on a failing batch,
 * time that never goes backwards, read mode, key mismatch, and closing.
 */
import {describe, test} from 'node:test';
import {strict as assert} from 'node:assert';
import {
  Ledger,
  MAX_ENTRY_BYTES,
  MAX_NOTE_CHARS,
  P_CHECKPOINT,
  P_ENTRY,
  checkCheckpoint,
  checkpointKey,
  decodeCheckpoint,
  entryKey,
  isIndexKey,
  metaKey,
  type AppendInput,
  type Appended,
  type BatchOp,
} from '../../src/ledger/index.js';
import {
  InstrumentedStore,
  KEY,
  OTHER_KEY,
  code,
  del,
  errors,
  hasher,
  note,
  openLedger,
  openReader,
  rawAll,
  testClock,
  turns,
  u8,
  withStore,
  type StoreFactory,
} from './ledger-fixtures.js';

const ZERO = new Uint8Array(32);

export function appendContract(name: string, makeStore: StoreFactory): void {
  describe(`${name}: ledger writes`, () => {
    test('an empty store opened for writing gets a genesis entry naming the signer key', async () => {
      await withStore(makeStore, async (store) => {
        const clock = testClock(5_000);
        const ledger = await openLedger(store, {clock});
        assert.equal(ledger.head.seq, 1);
        assert.deepEqual(ledger.durableHead, ledger.head);
        assert.deepEqual(u8(ledger.kernelKey), KEY.publicKey);
        const g = await ledger.read(1);
        assert.ok(g !== undefined && g.entry.kind === 'genesis');
        assert.deepEqual(new Uint8Array(g.entry.body.kernelKey), KEY.publicKey);
        assert.deepEqual(new Uint8Array(g.entry.prev), ZERO);
        assert.equal(g.entry.time, 5_000);
        assert.deepEqual([g.entry.session, g.entry.principal, g.entry.actor], ['kernel', 'kernel', 'kernel']);
        assert.deepEqual(u8(g.hash), (await hasher()).hash(ZERO, g.bytes));
        await ledger.close();
      });
    });

    test('genesis goes out in one batch with a signed checkpoint at seq 1: it is never durable without it', async () => {
      await withStore(makeStore, async (inner) => {
        const store = new InstrumentedStore(inner);
        const ledger = await openLedger(store);
        const has = (ops: readonly BatchOp[], prefix: number): boolean => ops.some((op) => op.key[0] === prefix);
        const first = store.log.findIndex((ops) => has(ops, P_ENTRY) || has(ops, P_CHECKPOINT));
        assert.ok(first >= 0, 'open wrote no entry');
        const batch = store.log[first] as readonly BatchOp[];
        const keyHex = (k: Uint8Array): string => Buffer.from(k).toString('hex');
        const keys = batch.map((op) => keyHex(op.key));
        assert.ok(batch.every((op) => op.type === 'put'));
        assert.ok(keys.includes(keyHex(entryKey(1))), 'the batch holds genesis');
        assert.ok(keys.includes(keyHex(checkpointKey(1))), 'the same batch holds the checkpoint at seq 1');
        assert.deepEqual(
          batch.filter((op) => op.key[0] === P_ENTRY || op.key[0] === P_CHECKPOINT).map((op) => keyHex(op.key)).sort(),
          [keyHex(checkpointKey(1)), keyHex(entryKey(1))].sort(),
          'nothing but genesis and its checkpoint',
        );
        const cpOp = batch.find((op) => keyHex(op.key) === keyHex(checkpointKey(1))) as BatchOp & {value: Uint8Array};
        const cp = decodeCheckpoint(cpOp.value);
        assert.ok(typeof cp !== 'string', String(cp));
        assert.equal(cp.seq, 1);
        assert.equal(checkCheckpoint(cp, KEY.publicKey), 'valid');
        assert.deepEqual(u8(cp.hash), u8((await ledger.read(1))?.hash), 'it signs the genesis hash');
        assert.equal(ledger.lastCheckpointSeq, 1);
        const indexOnly = (ops: readonly BatchOp[]): boolean => ops.every((op) => isIndexKey(op.key));
        assert.ok(store.log.slice(first + 1).every(indexOnly), 'open wrote nothing after that batch but its postings, beside the chain');
        const written = store.log.length;
        const report = await ledger.verify();
        assert.deepEqual(report.issues, [], 'a fresh ledger is fully signed');
        assert.deepEqual(report.checkpoints, {count: 1, valid: 1, lastSignedSeq: 1});
        await ledger.close();
        assert.equal(store.log.length, written, 'close has nothing to add: the head is already signed');
      });
    });

    test('a crash as the genesis checkpoint is written leaves neither genesis nor a checkpoint; the next open writes both', async () => {
      await withStore(makeStore, async (inner) => {
        const store = new InstrumentedStore(inner);
        // Fail whichever batch carries the first checkpoint: had genesis gone out before it, it would survive alone.
        store.failIf = (ops) => ops.some((op) => op.key[0] === P_CHECKPOINT);
        await assert.rejects(openLedger(store), code('LEDGER_WRITE_FAILED'));
        assert.equal(store.status, 'closed');
        store.failIf = undefined;
        await store.open();
        assert.deepEqual(await rawAll(store), [], 'no entry landed');
        assert.deepEqual(await rawAll(store, P_CHECKPOINT), [], 'no checkpoint landed');
        await store.close();
        const ledger = await openLedger(store);
        assert.equal(ledger.head.seq, 1);
        assert.equal(ledger.lastCheckpointSeq, 1);
        const report = await ledger.verify();
        assert.equal(report.ok, true);
        assert.deepEqual(report.issues, []);
        await ledger.close();
      });
    });

    test('a ledger without any signed checkpoint is refused as stripped (LEDGER_CORRUPT), genesis alone included: nothing is signed over it', async () => {
      for (const extra of [0, 1]) {
        await withStore(makeStore, async (store) => {
          let ledger = await openLedger(store);
          if (extra > 0) await ledger.append(note('one more'));
          await ledger.close();
          await store.open(); // a ledger closes its store
          for (const [key] of await rawAll(store, P_CHECKPOINT)) await del(store, key);
          ledger = await openLedger(store);
          await assert.rejects(ledger.append(note('signed over a stripped history')), code('LEDGER_CORRUPT'));
          await ledger.close();
          await store.open();
          assert.deepEqual(await rawAll(store, P_CHECKPOINT), [], 'nothing was signed');
        });
      }
    });

    test('a ledger with entries but no format mark (an older layout) is refused on open with LEDGER_OPEN_FAILED', async () => {
      await withStore(makeStore, async (store) => {
        const ledger = await openLedger(store);
        await ledger.append(note('x'));
        await ledger.close();
        await store.open();
        await del(store, metaKey('format'));
        await assert.rejects(openLedger(store), (e: unknown) => code('LEDGER_OPEN_FAILED')(e) && /no "astrid-ledger\/2" format mark/.test((e as Error).message));
        await assert.rejects(openReader(store), code('LEDGER_OPEN_FAILED'));
      });
    });

    test('append refuses bad input with stable codes, as a rejected promise, and consumes no seq', async () => {
      await withStore(makeStore, async (store) => {
        const ledger = await openLedger(store);
        const bad: Array<[unknown, string]> = [
          [{kind: 'nope', body: {}}, 'LEDGER_KIND_UNKNOWN'],
          [{kind: 'toString', body: {}}, 'LEDGER_KIND_UNKNOWN'],
          [{kind: '__proto__', body: {}}, 'LEDGER_KIND_UNKNOWN'],
          [{body: {text: 'x'}}, 'LEDGER_KIND_UNKNOWN'],
          [{kind: 'genesis', body: {format: 1, kernelKey: KEY.publicKey}}, 'LEDGER_ENTRY_INVALID'],
          [{kind: 'note', body: {text: ''}}, 'LEDGER_ENTRY_INVALID'],
          [{kind: 'note', body: {text: 'x'.repeat(MAX_NOTE_CHARS + 1)}}, 'LEDGER_ENTRY_INVALID'],
          [{kind: 'note', body: {text: 'x', extra: 1}}, 'LEDGER_ENTRY_INVALID'],
          [{kind: 'note', body: {text: 7}}, 'LEDGER_ENTRY_INVALID'],
          [{kind: 'note', body: null}, 'LEDGER_ENTRY_INVALID'],
          [{kind: 'note', body: ['x']}, 'LEDGER_ENTRY_INVALID'],
          [{kind: 'note', body: new Uint8Array(3)}, 'LEDGER_ENTRY_INVALID'],
          [{kind: 'kernel.boot', body: {version: '1', mode: 'daemon'}}, 'LEDGER_ENTRY_INVALID'],
          [{kind: 'kernel.shutdown', body: {reason: 'r'.repeat(257)}}, 'LEDGER_ENTRY_INVALID'],
          ...['', 'has space', '-lead', '.dot', 'a/b', 'nul\u0000x', 'é', 'x'.repeat(129), 42].map(
            (session): [unknown, string] => [{...note('x'), session}, 'LEDGER_ENTRY_INVALID'],
          ),
          [{...note('x'), principal: '../owner'}, 'LEDGER_ENTRY_INVALID'],
          [{...note('x'), actor: 'tab\tbed'}, 'LEDGER_ENTRY_INVALID'],
        ];
        for (const [input, c] of bad) {
          let p: Promise<Appended> | undefined;
          assert.doesNotThrow(() => (p = ledger.append(input as AppendInput)), 'append never throws synchronously');
          await assert.rejects(p as Promise<Appended>, code(c as 'LEDGER_ENTRY_INVALID'), JSON.stringify(input));
        }
        await assert.rejects(ledger.append(null as unknown as AppendInput), TypeError);
        assert.equal(ledger.head.seq, 1);
        const ok = await ledger.append(note('x'.repeat(MAX_NOTE_CHARS), 'a'.repeat(128), 'Z9._:@+-'));
        assert.equal(ok.seq, 2);
        assert.equal((await ledger.verify()).ok, true);
        await ledger.close();
      });
    });

    test('LEDGER_ENTRY_TOO_LARGE past MAX_ENTRY_BYTES; a body whose getters change after validation cannot make the ledger store what it cannot read', async () => {
      await withStore(makeStore, async (store) => {
        const ledger = await openLedger(store);
        const big = {kind: 'bus.message', body: {topic: 'a.b', payload: new Uint8Array(MAX_ENTRY_BYTES), from: 'cap', corr: ''}};
        await assert.rejects(ledger.append(big as unknown as AppendInput), code('LEDGER_ENTRY_TOO_LARGE'));
        /** Answers `good` to the first `n` reads, then `bad`. */
        const shifty = (good: string, bad: unknown, n = 1): {readonly v: unknown} => {
          let reads = 0;
          return {
            get v() {
              return reads++ < n ? good : bad;
            },
          };
        };
        const t = shifty('fine', 12345);
        const c = shifty('ok', 'exploded');
        const k = shifty('note', 'nope', 3);
        const bodies: unknown[] = [
          {kind: 'note', body: {get text() {
            return t.v;
          }}},
          {kind: 'session.ended', body: {get status() {
            return c.v;
          }, code: ''}},
          {get kind() {
            return k.v;
          }, body: {text: 'a note'}},
        ];
        for (const input of bodies) await ledger.append(input as AppendInput).catch(() => undefined);
        for await (const e of ledger.entries()) assert.ok(e.entry.kind.length > 0, 'every stored entry decodes');
        assert.equal((await ledger.verify()).ok, true);
        await ledger.close();
      });
    });

    test('byte fields run no code of the caller while the entry is encoded: a getter on the bytes, a subclass, a proxy; an append from inside one cannot take a seq twice', async () => {
      await withStore(makeStore, async (store) => {
        const ledger = await openLedger(store);
        let ran = 0;
        const inner: Promise<unknown>[] = [];
        const reenter = (): void => {
          ran++;
          inner.push(ledger.append(note('from inside')).catch((e: unknown) => e));
        };
        const withGetter = Uint8Array.of(1, 2, 3);
        Object.defineProperty(withGetter, 'constructor', {
          get() {
            reenter();
            return Uint8Array;
          },
        });
        class Sneaky extends Uint8Array {
          override get byteLength(): number {
            reenter();
            return super.byteLength;
          }
        }
        const proxy = new Proxy(Uint8Array.of(4, 5), {
          get(t, k) {
            reenter();
            return Reflect.get(t, k) as unknown;
          },
        });
        const msg = (payload: unknown): AppendInput => ({kind: 'bus.message', body: {topic: 'a.b', payload, from: 'cap', corr: ''}}) as unknown as AppendInput;
        const a = await ledger.append(msg(withGetter));
        const b = await ledger.append(msg(Sneaky.of(9, 9)));
        await assert.rejects(ledger.append(msg(proxy)), code('LEDGER_ENTRY_INVALID'), 'a proxy is no byte array');
        await Promise.all(inner);
        assert.equal(ran, 0, 'no code of the caller ran');
        assert.deepEqual([a.seq, b.seq], [2, 3]);
        const stored = await ledger.read(2);
        assert.deepEqual(u8(stored?.entry.kind === 'bus.message' ? stored.entry.body.payload : undefined), Uint8Array.of(1, 2, 3));
        assert.deepEqual(u8(((await ledger.read(3))?.entry.body as {payload: Uint8Array}).payload), Uint8Array.of(9, 9));
        assert.equal((await ledger.verify()).ok, true);
        await ledger.close();
      });
    });

    test('seqs follow call order; each append resolves with its own seq, hash and time', async () => {
      await withStore(makeStore, async (store) => {
        const clock = testClock(100);
        const ledger = await openLedger(store, {clock});
        const ps: Array<Promise<Appended>> = [];
        for (let i = 0; i < 10; i++) {
          clock.t += 3;
          ps.push(ledger.append(note(`n${i}`, `s${i % 4}`)));
          assert.equal(ledger.head.seq, i + 2, 'seq is assigned synchronously');
        }
        const res = await Promise.all(ps);
        assert.deepEqual(res.map((r) => r.seq), [2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
        for (const [i, r] of res.entries()) {
          const s = await ledger.read(r.seq);
          assert.deepEqual(u8(s?.hash), u8(r.hash));
          assert.equal(s?.entry.time, r.time);
          assert.equal(r.time, 100 + 3 * (i + 1));
          assert.ok(s?.entry.kind === 'note' && s.entry.body.text === `n${i}`);
        }
        await ledger.close();
      });
    });

    test('1000 appends issued together are group-committed in far fewer batches and resolve 2..1001', async () => {
      await withStore(makeStore, async (inner) => {
        const store = new InstrumentedStore(inner);
        const ledger = await openLedger(store);
        const before = store.batches;
        const res = await Promise.all(Array.from({length: 1000}, (_, i) => ledger.append(note(`bulk ${i}`, `s${i % 7}`, `a${i % 3}`))));
        assert.deepEqual(res.map((r) => r.seq), Array.from({length: 1000}, (_, i) => i + 2));
        const batches = store.batches - before;
        assert.ok(batches >= 1 && batches <= 10, `expected a handful of batches for 1000 entries, saw ${batches}`);
        assert.equal(ledger.durableHead.seq, 1001);
        await ledger.close();
        assert.deepEqual(errors(await (await openReader(store)).verify({trustedKey: KEY.publicKey})), []);
      });
    });

    test('an append resolves only after its batch is written; entries queued meanwhile go in the next batch', async () => {
      await withStore(makeStore, async (inner) => {
        const store = new InstrumentedStore(inner);
        const ledger = await openLedger(store);
        const release = store.hold();
        const settled: number[] = [];
        const p1 = ledger.append(note('first')).then((r) => (settled.push(r.seq), r));
        await turns(20);
        const p2 = ledger.append(note('second')).then((r) => (settled.push(r.seq), r));
        await turns(20);
        assert.deepEqual(settled, [], 'nothing resolves while the batch is held');
        assert.equal(ledger.head.seq, 3);
        assert.equal(ledger.durableHead.seq, 1);
        assert.equal(await inner.get(entryKey(2)), undefined, 'not on the store yet');
        const entryBatches = (): number => store.log.filter((ops) => ops.some((op) => op.key[0] === P_ENTRY)).length;
        const batchesHeld = entryBatches();
        release();
        assert.equal((await p1).seq, 2);
        assert.equal((await p2).seq, 3);
        assert.deepEqual(settled, [2, 3]);
        assert.equal(entryBatches(), batchesHeld + 1, 'the second entry went out in its own, later batch');
        assert.ok((await inner.get(entryKey(3))) !== undefined);
        await ledger.close();
      });
    });

    test('LEDGER_OVERLOADED once maxPending entries wait; they still land', async () => {
      await withStore(makeStore, async (inner) => {
        const store = new InstrumentedStore(inner);
        const ledger = await openLedger(store, {maxPending: 3});
        const release = store.hold();
        const ps = [1, 2, 3].map((i) => ledger.append(note(`p${i}`)));
        await assert.rejects(ledger.append(note('one too many')), code('LEDGER_OVERLOADED'));
        release();
        assert.deepEqual((await Promise.all(ps)).map((r) => r.seq), [2, 3, 4]);
        assert.equal((await ledger.append(note('room again'))).seq, 5);
        await ledger.close();
      });
    });

    test('a failing batch rejects its appends and all queued and later ones (LEDGER_WRITE_FAILED); a reopen shows only durable entries', async () => {
      await withStore(makeStore, async (inner) => {
        const store = new InstrumentedStore(inner);
        const ledger = await openLedger(store);
        await Promise.all([ledger.append(note('a')), ledger.append(note('b'))]);
        await ledger.flush(); // their postings too, so the write that fails below is the next batch's entries
        const durable = ledger.durableHead;
        const release = store.hold();
        const inFlight = [ledger.append(note('c')), ledger.append(note('d'))];
        await turns(5);
        const queued = [ledger.append(note('e')), ledger.append(note('f'))];
        store.failWith = new Error('disk on fire');
        release();
        for (const p of [...inFlight, ...queued]) await assert.rejects(p, code('LEDGER_WRITE_FAILED'));
        store.failWith = undefined;
        await assert.rejects(ledger.append(note('after')), code('LEDGER_WRITE_FAILED'), 'fail secure: no more appends');
        await assert.rejects(ledger.flush(), code('LEDGER_WRITE_FAILED'));
        await assert.rejects(ledger.checkpoint(), code('LEDGER_WRITE_FAILED'));
        assert.deepEqual(ledger.durableHead, durable);
        await ledger.close();
        const again = await openLedger(store);
        assert.equal(again.head.seq, 3);
        assert.deepEqual(u8(again.head.hash), u8(durable.hash));
        assert.equal((await again.append(note('continues'))).seq, 4);
        await again.close();
        const r = await openReader(store);
        assert.deepEqual(errors(await r.verify({trustedKey: KEY.publicKey})), []);
      });
    });

    test('a failing write beside the chain (postings, a checkpoint) keeps the acknowledged entries, refuses further appends (LEDGER_WRITE_FAILED); a reopen rebuilds the indexes', async () => {
      await withStore(makeStore, async (inner) => {
        const store = new InstrumentedStore(inner);
        const ledger = await openLedger(store, {checkpointEvery: 3});
        store.failIf = (ops) => ops.some((op) => op.key[0] === P_CHECKPOINT) && !ops.some((op) => op.key[0] === P_ENTRY);
        const acked = await Promise.all([ledger.append(note('a', 's1')), ledger.append(note('b', 's2')), ledger.append(note('c', 's1'))]);
        assert.deepEqual(acked.map((r) => r.seq), [2, 3, 4], 'acknowledged once the entries are durable');
        await assert.rejects(ledger.flush(), code('LEDGER_WRITE_FAILED'));
        await assert.rejects(ledger.append(note('after')), code('LEDGER_WRITE_FAILED'), 'fail secure: no more appends');
        await assert.rejects(ledger.close(), code('LEDGER_WRITE_FAILED'), 'close says the checkpoint was lost');
        assert.equal(store.status, 'closed', 'and closes the store anyway');
        store.failIf = undefined;
        const again = await openLedger(store);
        assert.equal(again.head.seq, 4, 'the acknowledged entries are there');
        const s1: number[] = [];
        for await (const e of again.entries({session: 's1'})) s1.push(e.seq);
        assert.deepEqual(s1, [2, 4]);
        await again.close();
        const r = await openReader(store);
        assert.deepEqual(errors(await r.verify({trustedKey: KEY.publicKey})), [], 'an unsigned tail, no error');
        await r.close();
      });
    });

    test('entry time never decreases when the clock goes backwards, including across a reopen; a bad clock is refused', async () => {
      await withStore(makeStore, async (store) => {
        const clock = testClock(10_000);
        const ledger = await openLedger(store, {clock});
        clock.t = 9_000;
        assert.equal((await ledger.append(note('earlier clock'))).time, 10_000);
        clock.t = 12_000;
        assert.equal((await ledger.append(note('later clock'))).time, 12_000);
        clock.t = 1;
        assert.equal((await ledger.append(note('way back'))).time, 12_000);
        for (const bad of [-1, 1.5, Number.NaN, Number.MAX_SAFE_INTEGER + 2]) {
          clock.t = bad;
          await assert.rejects(ledger.append(note('bad clock')), TypeError);
        }
        clock.t = 0;
        await ledger.close();
        const again = await openLedger(store, {clock});
        assert.equal((await again.append(note('after reopen'))).time, 12_000);
        for await (const c of again.checkpoints()) assert.ok(c.time >= ((await again.read(c.seq))?.entry.time ?? Infinity), 'a checkpoint is not older than its entry');
        let last = 0;
        for await (const e of again.entries()) {
          assert.ok(e.entry.time >= last);
          last = e.entry.time;
        }
        await again.close();
      });
    });

    test('read mode writes nothing: no genesis on an empty store, appends, checkpoints and close write nothing', async () => {
      await withStore(makeStore, async (inner) => {
        const store = new InstrumentedStore(inner);
        const empty = await openReader(store);
        assert.equal(empty.head.seq, 0);
        assert.equal(empty.kernelKey, undefined);
        await assert.rejects(empty.append(note('x')), code('LEDGER_READ_ONLY'));
        await assert.rejects(empty.checkpoint(), code('LEDGER_READ_ONLY'));
        await empty.close();
        assert.equal(store.batches, 0);
        const w = await openLedger(store);
        await w.append(note('x'));
        await w.close();
        const before = store.batches;
        const r = await openReader(store);
        assert.equal(r.mode, 'read');
        assert.equal(r.head.seq, 2);
        assert.deepEqual(u8(r.kernelKey), KEY.publicKey);
        await assert.rejects(r.append(note('y')), code('LEDGER_READ_ONLY'));
        await assert.rejects(r.append({kind: 'nope'} as unknown as AppendInput), code('LEDGER_READ_ONLY'));
        assert.equal((await r.verify()).ok, true);
        await r.close();
        assert.equal(store.batches, before);
      });
    });

    test('opening for writing with another signer key fails with LEDGER_KEY_MISMATCH and closes the store', async () => {
      await withStore(makeStore, async (store) => {
        await (await openLedger(store)).close();
        await assert.rejects(openLedger(store, {signer: OTHER_KEY}), code('LEDGER_KEY_MISMATCH'));
        assert.equal(store.status, 'closed');
        const r = await openReader(store);
        assert.equal(r.head.seq, 1, 'nothing was written by the refused opener');
        await r.close();
      });
    });

    test('open validates its options', async () => {
      await withStore(makeStore, async (store) => {
        const h = await hasher();
        await assert.rejects(Ledger.open({store, clock: testClock(), hasher: h}), TypeError, 'write mode needs a signer');
        await assert.rejects(Ledger.open({store, clock: undefined as never, signer: KEY}), TypeError);
        await assert.rejects(Ledger.open({store, clock: testClock(), signer: KEY, mode: 'append' as never}), TypeError);
        await assert.rejects(Ledger.open({store, clock: testClock(), signer: KEY, checkpointEvery: 0}), RangeError);
        await assert.rejects(Ledger.open({store, clock: testClock(), signer: KEY, checkpointIntervalMs: -1}), RangeError);
        assert.equal(store.status, 'new', 'nothing was opened');
      });
    });

    test('a closed ledger refuses appends; close is idempotent; an append racing close is covered by the final checkpoint or refused', async () => {
      await withStore(makeStore, async (store) => {
        const ledger = await openLedger(store);
        await ledger.append(note('before close'));
        const closing = ledger.close();
        const racing = ledger.append(note('racing close')).then(
          (r) => r.seq,
          (e: unknown) => e,
        );
        await closing;
        assert.equal(store.status, 'closed');
        await ledger.close();
        await assert.rejects(ledger.append(note('after close')), code('LEDGER_CLOSED'));
        const raced = await racing;
        const r = await openReader(store);
        const report = await r.verify({trustedKey: KEY.publicKey});
        assert.deepEqual(report.issues, [], 'the final checkpoint covers every acknowledged entry');
        if (typeof raced === 'number') assert.equal(report.head.seq, raced);
        else code('LEDGER_CLOSED')(raced);
        await r.close();
      });
    });

    test('a ledger whose last entry is undecodable, or that ends below its last checkpoint, refuses appends (LEDGER_CORRUPT)', async () => {
      await withStore(makeStore, async (store) => {
        const ledger = await openLedger(store);
        for (let i = 0; i < 5; i++) await ledger.append(note(`n${i}`));
        await ledger.close();
        await store.open();
        const v6 = await store.get(entryKey(6));
        assert.ok(v6 !== undefined);
        await store.batch([{type: 'put', key: entryKey(6), value: Uint8Array.of(...v6.subarray(0, 32), 0xc1)}], {sync: true});
        const garbled = await openLedger(store);
        await assert.rejects(garbled.append(note('onto garbage')), code('LEDGER_CORRUPT'));
        await garbled.close();
        await store.open();
        await del(store, entryKey(6));
        const truncated = await openLedger(store);
        await assert.rejects(truncated.append(note('would reuse seq 6 below the signed checkpoint')), code('LEDGER_CORRUPT'));
        await truncated.close();
        await store.open();
        for (let seq = 1; seq <= 5; seq++) await del(store, entryKey(seq));
        await store.close();
        await assert.rejects(openLedger(store), code('LEDGER_CORRUPT'), 'no new genesis under surviving checkpoints');
        assert.equal(store.status, 'closed');
        await store.open();
        assert.equal(await store.get(entryKey(1)), undefined);
        assert.equal(await store.get(entryKey(6)), undefined, 'nothing was appended');
      });
    });
  });
}
