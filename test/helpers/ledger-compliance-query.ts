/**
 * Ledger reads and checkpoints on a given backend: entries() against a model for every
 * filter (the session/actor indexes hold one posting list per batch, so the ledger is
 * spread over many batches and look-alike ids), and checkpoints by count, on demand, at
 * close and by time (node:test mock timers: no sleeping, no timing assertions).
 */
import {describe, test} from 'node:test';
import {strict as assert} from 'node:assert';
import fc from 'fast-check';
import {readU64be, u64be} from '../../src/crypto/index.js';
import {
  ENTRY_KINDS,
  INDEXED_KEY,
  P_ACTOR,
  P_SESSION,
  checkCheckpoint,
  prefixRange,
  type AppendInput,
  type BatchOp,
  type EntryKind,
  type EntryQuery,
  type Ledger,
} from '../../src/ledger/index.js';
import {InstrumentedStore, KEY, appendGroups, checkpointSeqs, code, note, openLedger, openReader, u8, withStore, type StoreFactory} from './ledger-fixtures.js';

const SESSIONS = ['s1', 's10', 's2', 'kernel'];
const ACTORS = ['a', 'ab', 'cli'];

interface Row {
  seq: number;
  session: string;
  actor: string;
  kind: EntryKind;
}

function input(i: number): AppendInput {
  const session = SESSIONS[(i * 7) % SESSIONS.length] as string;
  const actor = ACTORS[(i * 5) % ACTORS.length] as string;
  if (i % 9 === 4) return {kind: 'kernel.boot', body: {version: '0.1.0', mode: 'cli'}, session, actor};
  if (i % 11 === 6) return {kind: 'kernel.shutdown', body: {reason: 'test'}, session, actor};
  return note(`entry ${i}`, session, actor);
}

/** The rows of the first 40 inputs after genesis. */
function rows40(): Row[] {
  return Array.from({length: 40}, (_, i) => {
    const x = input(i);
    return {seq: i + 2, session: x.session as string, actor: x.actor as string, kind: x.kind};
  });
}

async function seqs(ledger: Ledger, q: EntryQuery): Promise<number[]> {
  const out: number[] = [];
  for await (const e of ledger.entries(q)) out.push(e.seq);
  return out;
}

function expected(rows: readonly Row[], q: EntryQuery): number[] {
  let r = rows.filter(
    (x) =>
      x.seq >= (q.from ?? 1) &&
      x.seq <= (q.to ?? Infinity) &&
      (q.session === undefined || x.session === q.session) &&
      (q.actor === undefined || x.actor === q.actor) &&
      (q.kind === undefined || x.kind === q.kind),
  );
  if (q.reverse === true) r = r.reverse();
  return r.slice(0, q.limit ?? Infinity).map((x) => x.seq);
}

async function checkpointsValid(ledger: Ledger): Promise<number[]> {
  const out: number[] = [];
  for await (const c of ledger.checkpoints()) {
    assert.equal(checkCheckpoint(c, KEY.publicKey), 'valid');
    assert.deepEqual(u8(c.hash), u8((await ledger.read(c.seq))?.hash), `checkpoint ${c.seq} states the entry's hash`);
    out.push(c.seq);
  }
  return out;
}

export function queryContract(name: string, makeStore: StoreFactory): void {
  describe(`${name}: ledger reads and checkpoints`, () => {
    test('entries() matches a model for session, actor, kind, from, to, limit and reverse across many batches', async () => {
      await withStore(makeStore, async (store) => {
        const ledger = await openLedger(store);
        const inputs = Array.from({length: 59}, (_, i) => input(i));
        await appendGroups(ledger, inputs, [1, 4, 2, 7, 1, 3]);
        const rows: Row[] = [{seq: 1, session: 'kernel', actor: 'kernel', kind: 'genesis'}];
        inputs.forEach((x, i) => rows.push({seq: i + 2, session: x.session as string, actor: x.actor as string, kind: x.kind}));
        assert.deepEqual(await seqs(ledger, {}), rows.map((r) => r.seq));
        assert.deepEqual(await seqs(ledger, {session: 's1'}), expected(rows, {session: 's1'}), "'s1' must not pick up 's10'");
        assert.deepEqual(await seqs(ledger, {session: 'missing'}), []);
        const opt = <T>(a: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> => fc.option(a, {nil: undefined});
        await fc.assert(
          fc.asyncProperty(
            fc.record({
              session: opt(fc.constantFrom(...SESSIONS, 'missing')),
              actor: opt(fc.constantFrom(...ACTORS, 'kernel')),
              kind: opt(fc.constantFrom(...ENTRY_KINDS)),
              from: opt(fc.integer({min: 1, max: 65})),
              to: opt(fc.integer({min: 0, max: 65})),
              limit: opt(fc.integer({min: 0, max: 65})),
              reverse: opt(fc.boolean()),
            }),
            async (raw) => {
              const q = Object.fromEntries(Object.entries(raw).filter(([, v]) => v !== undefined)) as EntryQuery;
              assert.deepEqual(await seqs(ledger, q), expected(rows, q), JSON.stringify(q));
            },
          ),
          {numRuns: 80},
        );
        await ledger.close();
      });
    });

    test('the indexes are derived: behind their mark (writes beside the chain lost in a crash) a reader scans the rest and a writer rebuilds it on open; ahead of the chain, writing is refused', async () => {
      await withStore(makeStore, async (store) => {
        let ledger = await openLedger(store);
        const inputs = Array.from({length: 59}, (_, i) => input(i));
        await appendGroups(ledger, inputs, [1, 4, 2, 7, 1, 3]);
        await ledger.close();
        await store.open(); // a ledger closes its store
        const rows: Row[] = [{seq: 1, session: 'kernel', actor: 'kernel', kind: 'genesis'}];
        inputs.forEach((x, i) => rows.push({seq: i + 2, session: x.session as string, actor: x.actor as string, kind: x.kind}));
        const head = rows.length;
        assert.equal(readU64be((await store.get(INDEXED_KEY)) as Uint8Array, 0), head, 'the mark reaches the head');
        /** Every index key with the first and last seq of its posting list. */
        const postings = async (): Promise<Array<[Uint8Array, number, number]>> => {
          const out: Array<[Uint8Array, number, number]> = [];
          for (const p of [P_SESSION, P_ACTOR]) {
            for await (const [k, v] of store.iterate(prefixRange(p))) out.push([k, readU64be(k, k.length - 8), readU64be(v, v.length - 8)]);
          }
          return out;
        };
        const queries: EntryQuery[] = [
          {},
          ...SESSIONS.map((session) => ({session})),
          ...ACTORS.map((actor) => ({actor})),
          {session: 's1', reverse: true},
          {actor: 'a', from: 20, to: 50},
          {actor: 'cli', reverse: true, limit: 5},
          {session: 's2', kind: 'note', from: 10},
        ];
        const matches = async (why: string): Promise<void> => {
          for (const q of queries) assert.deepEqual(await seqs(ledger, q), expected(rows, q), `${why}: ${JSON.stringify(q)}`);
        };
        // The postings of every batch from the one holding seq 30 on are lost, and the mark is
        // back before them: what a crash between the two writes of those batches leaves.
        // A batch boundary: no posting list that starts before it reaches past it.
        const all = await postings();
        const cut = Math.max(...all.map(([, first]) => first).filter((c) => c <= 30 && all.every(([, first, last]) => first >= c || last < c)));
        assert.ok(cut > 1 && cut <= 30);
        const lost = (await postings()).filter(([, seq]) => seq >= cut);
        await store.batch(
          [...lost.map(([key]): BatchOp => ({type: 'del', key})), {type: 'put', key: INDEXED_KEY, value: u64be(cut - 1)}],
          {sync: true},
        );
        ledger = await openReader(store);
        await matches('read-only, the tail scanned');
        await ledger.close();
        await store.open();
        assert.equal((await postings()).filter(([, seq]) => seq >= cut).length, 0, 'a reader writes nothing');
        ledger = await openLedger(store);
        assert.equal(readU64be((await store.get(INDEXED_KEY)) as Uint8Array, 0), head, 'a writer brings the mark to the head');
        assert.ok((await postings()).some(([, seq]) => seq >= cut), 'and writes the postings');
        await matches('rebuilt on open');
        await ledger.close();
        await store.open();
        // No mark at all: postings of unknown origin (here, duplicated under other keys) are dropped and all rebuilt.
        const extra = (await postings()).filter(([, first]) => first > 1);
        await store.batch(
          [
            {type: 'del', key: INDEXED_KEY},
            ...(await Promise.all(
              extra.map(async ([key, seq]): Promise<BatchOp> => {
                const k = Uint8Array.from(key);
                k.set(u64be(seq - 1), k.length - 8);
                return {type: 'put', key: k, value: (await store.get(key)) as Uint8Array};
              }),
            )),
          ],
          {sync: true},
        );
        ledger = await openLedger(store);
        await matches('rebuilt from scratch');
        await ledger.close();
        await store.open();
        // The mark moved back with the postings kept: a writer indexes those seqs again under
        // other keys; reads still give each entry once, in order.
        await store.batch([{type: 'put', key: INDEXED_KEY, value: u64be(3)}], {sync: true});
        ledger = await openLedger(store);
        await matches('the mark moved back');
        await ledger.close();
        await store.open();
        // Posting lists that are not what the ledger writes are skipped, never thrown on.
        const [k0] = (await postings()).find(([, first]) => first > 4) as [Uint8Array, number, number];
        const bad: Array<[Uint8Array, Uint8Array]> = [
          [k0, Uint8Array.of(1, 2, 3)],
          [k0.slice(0, k0.length - 1), u64be(5)],
          [Uint8Array.from([...k0.subarray(0, k0.length - 8), ...u64be(1)]), new Uint8Array(8).fill(0xff)],
          [Uint8Array.from([...k0.subarray(0, k0.length - 8), ...u64be(2)]), Uint8Array.from([...u64be(2), ...u64be(2)])],
          [Uint8Array.from([...k0.subarray(0, k0.length - 8), ...u64be(3)]), u64be(4)],
        ];
        const saved: Array<[Uint8Array, Uint8Array]> = [];
        for (const p of [P_SESSION, P_ACTOR]) for await (const kv of store.iterate(prefixRange(p))) saved.push(kv);
        await store.batch(bad.map(([key, value]): BatchOp => ({type: 'put', key, value})), {sync: true});
        ledger = await openReader(store);
        for (const q of queries) {
          const got = await seqs(ledger, q);
          const want = expected(rows, q);
          assert.ok(got.every((seq) => want.includes(seq)), `malformed postings: ${JSON.stringify(q)} gave ${got.join(',')}`);
          assert.deepEqual(got, [...got].sort((a, b) => (q.reverse === true ? b - a : a - b)), 'in order, each once');
        }
        await ledger.close();
        await store.open();
        const now: BatchOp[] = [];
        for (const p of [P_SESSION, P_ACTOR]) for await (const [key] of store.iterate(prefixRange(p))) now.push({type: 'del', key});
        await store.batch([...now, ...saved.map(([key, value]): BatchOp => ({type: 'put', key, value}))], {sync: true});
        // A mark past 2^53 cannot be of this ledger: a writer refuses appends, a reader reads.
        await store.batch([{type: 'put', key: INDEXED_KEY, value: new Uint8Array(8).fill(0xff)}], {sync: true});
        ledger = await openLedger(store);
        await assert.rejects(ledger.append(note('after a forged mark')), code('LEDGER_CORRUPT'));
        await ledger.close();
        ledger = await openReader(store);
        await matches('a forged mark, read-only');
        await ledger.close();
        await store.open();
        // A mark past the head: the entries were removed (the indexes are written after them).
        await store.batch([{type: 'put', key: INDEXED_KEY, value: u64be(head + 3)}], {sync: true});
        ledger = await openLedger(store);
        await assert.rejects(ledger.append(note('after a truncation')), code('LEDGER_CORRUPT'));
        await matches('truncated, still readable');
        // verify names it as what it is, where the reader can act on it: no INDEX_MISMATCH.
        const rep = await ledger.verify({trustedKey: KEY.publicKey});
        assert.deepEqual(
          rep.issues.filter((i) => i.severity === 'error').map((i) => [i.code, i.seq]),
          [['LEDGER_TRUNCATED', head + 1]],
        );
        await ledger.close();
      });
    });

    test('verify checks the session and actor indexes against the entries up to the mark: a posting removed, added or moved is INDEX_MISMATCH', async () => {
      await withStore(makeStore, async (store) => {
        const ledger = await openLedger(store);
        await appendGroups(ledger, Array.from({length: 40}, (_, i) => input(i)), [1, 5, 3]);
        await ledger.close();
        await store.open(); // a ledger closes its store
        const verify = async (): Promise<Array<[string, number, string]>> => {
          const r = await openReader(store);
          const rep = await r.verify({trustedKey: KEY.publicKey});
          await r.close();
          await store.open();
          return rep.issues.filter((i) => i.severity === 'error').map((i) => [i.code, i.seq, i.message]);
        };
        assert.deepEqual(await verify(), [], 'an intact ledger and its indexes');
        const all: Array<[Uint8Array, Uint8Array]> = [];
        for await (const kv of store.iterate(prefixRange(P_SESSION))) all.push(kv);
        const [key, value] = all.find(([, v]) => v.length >= 16) as [Uint8Array, Uint8Array];
        const id = Buffer.from(key.subarray(1, key.length - 9)).toString('latin1');
        // One seq dropped from a posting list: that entry would be hidden from a query by session.
        await store.batch([{type: 'put', key, value: value.subarray(0, value.length - 8)}], {sync: true});
        const found = await verify();
        assert.equal(found.length, 1, JSON.stringify(found));
        assert.equal(found[0]?.[0], 'INDEX_MISMATCH');
        assert.match(found[0]?.[2] as string, new RegExp(`session index for "${id}"`));
        // A seq of another session's entry added instead: both sessions are named.
        const other = rows40().find((r) => r.session !== id) as Row;
        await store.batch([{type: 'put', key, value: Uint8Array.from([...value.subarray(0, value.length - 8), ...u64be(other.seq)])}], {sync: true});
        assert.ok((await verify()).length >= 1);
        // Put back: intact again. Postings past the mark (a crash's tail) are not compared.
        await store.batch([{type: 'put', key, value}], {sync: true});
        assert.deepEqual(await verify(), []);
        await store.batch([{type: 'put', key: INDEXED_KEY, value: u64be(readU64be(key, key.length - 8) - 1)}], {sync: true});
        assert.deepEqual(await verify(), [], 'the mark moved back: what lies past it is a tail, not compared');
      });
    });

    test('reindex rebuilds edited indexes from the entries, with appends going on: verify is clean again, every query by index equals a scan, stale keys are gone', async () => {
      await withStore(makeStore, async (store) => {
        let ledger = await openLedger(store);
        await appendGroups(ledger, Array.from({length: 40}, (_, i) => input(i)), [1, 5, 3]);
        await ledger.close();
        await store.open();
        const all: Array<[Uint8Array, Uint8Array]> = [];
        for await (const kv of store.iterate(prefixRange(P_SESSION))) all.push(kv);
        const [key, value] = all.find(([, v]) => v.length >= 16) as [Uint8Array, Uint8Array];
        const id = Buffer.from(key.subarray(1, key.length - 9)).toString('latin1');
        // A key no batch made, listing another session's entry under this one.
        const taken = new Set(all.filter(([k]) => Buffer.from(k.subarray(0, key.length - 8)).equals(key.subarray(0, key.length - 8))).map(([k]) => readU64be(k, k.length - 8)));
        const other = rows40().find((r) => r.session !== id && !taken.has(r.seq)) as Row;
        const planted = Uint8Array.from([...key.subarray(0, key.length - 8), ...u64be(other.seq)]);
        // And a key past the head, which no verify can judge until the head passes it.
        const ahead = Uint8Array.from([...key.subarray(0, key.length - 8), ...u64be(500)]);
        await store.batch(
          [
            {type: 'put', key, value: value.subarray(0, value.length - 8)}, // a seq dropped: hidden from its session
            {type: 'put', key: planted, value: u64be(other.seq)},
            {type: 'put', key: ahead, value: u64be(500)},
          ],
          {sync: true},
        );
        await store.close();
        ledger = await openLedger(store);
        const errors = async (): Promise<string[]> => (await ledger.verify({trustedKey: KEY.publicKey})).issues.filter((i) => i.severity === 'error').map((i) => i.code);
        const byScan = async (q: {session?: string; actor?: string}): Promise<number[]> => {
          const out: number[] = [];
          for await (const e of ledger.entries({})) if ((q.session === undefined || e.entry.session === q.session) && (q.actor === undefined || e.entry.actor === q.actor)) out.push(e.seq);
          return out;
        };
        assert.ok((await errors()).includes('INDEX_MISMATCH'));
        assert.deepEqual(await seqs(ledger, {session: id}), (await byScan({session: id})).filter((x) => x !== readU64be(value, value.length - 8)), 'the dropped seq is hidden');
        const progress: number[] = [];
        const rebuilt = ledger.reindex((d, t) => {
          assert.equal(t, 41);
          progress.push(d);
        });
        const during = appendGroups(ledger, Array.from({length: 30}, (_, i) => input(i + 40)), [2, 7]);
        const r = await rebuilt;
        await during;
        assert.equal(r.indexed, 41, 'the durable head when it started');
        assert.ok(r.replaced >= 1, 'the planted key, and the keys of the old batches');
        assert.deepEqual(await seqs(ledger, {session: id}), await byScan({session: id}), 'the dropped seq is back');
        assert.equal(await store.get(ahead), undefined, 'the key past the head is gone');
        assert.deepEqual(progress, [41]);
        await ledger.flush();
        assert.deepEqual(await errors(), [], 'indexes match the entries again');
        for (const q of [...SESSIONS.map((session) => ({session})), ...ACTORS.map((actor) => ({actor})), {actor: 'kernel'}]) {
          assert.deepEqual(await seqs(ledger, q), await byScan(q), JSON.stringify(q));
        }
        await ledger.close();
        // And after a reopen (the mark and postings as written).
        ledger = await openReader(store);
        assert.deepEqual(await errors(), []);
        await assert.rejects(ledger.reindex(), code('LEDGER_READ_ONLY'));
        await ledger.close();
      });
    });

    test('reindex holds up nothing but verify: checkpoints and postings of appends made meanwhile are written, a verify waits for it, and a failing progress display fails nothing', async () => {
      await withStore(makeStore, async (inner) => {
        const store = new InstrumentedStore(inner);
        const ledger = await openLedger(store, {checkpointEvery: 5});
        await appendGroups(ledger, Array.from({length: 20}, (_, i) => input(i)), [1, 4]);
        // Hold the rebuild's own writes (postings alone, no mark, no checkpoint, no entry).
        let release!: () => void;
        const held = new Promise<void>((r) => (release = r));
        let holding = true;
        store.gateIf = (ops) => holding && ops.length > 0 && ops.every((op) => op.type === 'put' && (op.key[0] === P_SESSION || op.key[0] === P_ACTOR)) ? held : undefined;
        let done = false;
        const rebuilt = ledger.reindex(() => {
          throw new Error('the progress display failed');
        });
        void rebuilt.finally(() => (done = true));
        await appendGroups(ledger, Array.from({length: 20}, (_, i) => input(i + 20)), [2, 3]);
        const cps: number[] = [];
        for await (const c of ledger.checkpoints()) cps.push(c.seq);
        assert.ok((cps.at(-1) as number) >= 36, `checkpoints signed during the rebuild are written: ${cps.join(',')}`);
        let verified = false;
        const verify = ledger.verify({trustedKey: KEY.publicKey}).then((r) => {
          verified = true;
          return r;
        });
        for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
        assert.equal(done, false, 'the rebuild is held');
        assert.equal(verified, false, 'verify waits for the rebuild');
        holding = false;
        release();
        const r = await rebuilt;
        assert.equal(r.indexed, 21);
        assert.deepEqual((await verify).issues.filter((i) => i.severity === 'error'), [], 'no index check against half a rebuild');
        assert.ok(ledger.writable, 'a throwing progress callback fails nothing');
        await ledger.append(note('after'));
        const queries: {session?: string; actor?: string}[] = [...SESSIONS.map((session) => ({session})), ...ACTORS.map((actor) => ({actor}))];
        for (const q of queries) {
          const scan: number[] = [];
          for await (const e of ledger.entries({})) if ((q.session === undefined || e.entry.session === q.session) && (q.actor === undefined || e.entry.actor === q.actor)) scan.push(e.seq);
          assert.deepEqual(await seqs(ledger, q), scan, JSON.stringify(q));
        }
        await ledger.close();
      });
    });

    test('a reindex asked for during a verify starts after it, and a verify asked for during a reindex after that', async () => {
      await withStore(makeStore, async (inner) => {
        const store = new InstrumentedStore(inner);
        const ledger = await openLedger(store);
        await appendGroups(ledger, Array.from({length: 300}, (_, i) => input(i)), [7, 50]);
        const rebuildWrites = (): number[] => store.log.flatMap((ops, i) => (ops.length > 0 && ops.every((op) => op.key[0] === P_SESSION || op.key[0] === P_ACTOR) ? [i] : []));
        const before = rebuildWrites().length;
        let verifyDoneAt = -1;
        const verify = ledger.verify({trustedKey: KEY.publicKey}).then((r) => {
          verifyDoneAt = store.log.length;
          return r;
        });
        const rebuilt = ledger.reindex();
        const again = ledger.verify({trustedKey: KEY.publicKey});
        const [v1, , v2] = await Promise.all([verify, rebuilt, again]);
        const writes = rebuildWrites().slice(before);
        assert.ok(writes.length > 0);
        assert.ok((writes[0] as number) >= verifyDoneAt, `the rebuild wrote at batch ${writes[0]}, the verify ended at ${verifyDoneAt}`);
        assert.deepEqual([v1.ok, v2.ok], [true, true], 'neither saw half a rebuild');
        await ledger.close();
      });
    });

    test('entries() and read() refuse bad arguments', async () => {
      await withStore(makeStore, async (store) => {
        const ledger = await openLedger(store);
        await assert.rejects(seqs(ledger, {from: 0}), RangeError);
        await assert.rejects(seqs(ledger, {to: -1}), RangeError);
        await assert.rejects(seqs(ledger, {limit: -1}), RangeError);
        await assert.rejects(seqs(ledger, {limit: 1.5}), RangeError);
        await assert.rejects(seqs(ledger, {kind: 'nope' as EntryKind}), code('LEDGER_KIND_UNKNOWN'));
        await assert.rejects(ledger.read(0), RangeError);
        assert.equal(await ledger.read(2), undefined);
        await ledger.close();
      });
    });

    test('a checkpoint is written with genesis, every checkpointEvery entries after the last one, and at close, each signed and stating its entry hash', async () => {
      await withStore(makeStore, async (store) => {
        const ledger = await openLedger(store, {checkpointEvery: 5});
        assert.deepEqual(await checkpointsValid(ledger), [1], 'genesis comes with its checkpoint');
        assert.equal(ledger.lastCheckpointSeq, 1);
        for (let i = 0; i < 12; i++) await ledger.append(note(`n${i}`));
        // The count runs from the last checkpoint, so the genesis checkpoint shifts the cadence to 6, 11, ...
        assert.deepEqual(await checkpointsValid(ledger), [1, 6, 11]);
        assert.equal(ledger.lastCheckpointSeq, 11);
        await ledger.close();
        await store.open();
        assert.deepEqual(await checkpointSeqs(store), [1, 6, 11, 13]);
        await store.close();
        const again = await openLedger(store, {checkpointEvery: 5});
        assert.equal(again.lastCheckpointSeq, 13);
        await again.close();
        await store.open();
        assert.deepEqual(await checkpointSeqs(store), [1, 6, 11, 13], 'a close with nothing new writes no checkpoint');
      });
    });

    test('checkpoint() covers everything appended so far, and is a no-op when nothing is new', async () => {
      await withStore(makeStore, async (inner) => {
        const store = new InstrumentedStore(inner);
        const ledger = await openLedger(store);
        const pending = [ledger.append(note('x')), ledger.append(note('y'))];
        assert.equal(await ledger.checkpoint(), 3);
        assert.deepEqual((await Promise.all(pending)).map((r) => r.seq), [2, 3]);
        const batches = store.batches;
        assert.equal(await ledger.checkpoint(), 3);
        assert.equal(store.batches, batches, 'no new batch for a checkpoint with nothing new');
        assert.deepEqual(await checkpointsValid(ledger), [1, 3]);
        await ledger.close();
        assert.equal(store.batches, batches, 'close writes nothing when the head is already signed');
      });
    });

    test('with checkpointIntervalMs, a checkpoint is written when the interval passes and there is something new', async (t) => {
      t.mock.timers.enable({apis: ['setInterval']});
      await withStore(makeStore, async (store) => {
        const ledger = await openLedger(store, {checkpointIntervalMs: 50});
        assert.equal(ledger.lastCheckpointSeq, 1, 'genesis is checkpointed at once, not by the timer');
        t.mock.timers.tick(200);
        await ledger.flush();
        assert.deepEqual(await checkpointsValid(ledger), [1], 'nothing after genesis, no timed checkpoint');
        await ledger.append(note('a'));
        await ledger.append(note('b'));
        assert.equal(ledger.lastCheckpointSeq, 1, 'no checkpoint before the interval');
        t.mock.timers.tick(49);
        await ledger.flush();
        assert.equal(ledger.lastCheckpointSeq, 1);
        t.mock.timers.tick(1);
        await ledger.flush();
        assert.equal(ledger.lastCheckpointSeq, 3);
        t.mock.timers.tick(200);
        await ledger.flush();
        assert.deepEqual(await checkpointsValid(ledger), [1, 3], 'nothing new, no new checkpoint');
        await ledger.append(note('c'));
        t.mock.timers.tick(50);
        await ledger.flush();
        assert.deepEqual(await checkpointsValid(ledger), [1, 3, 4]);
        await ledger.close();
      });
    });
  });
}
