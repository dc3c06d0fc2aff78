// Proves projections are folds: a rebuild equals a manual fold, a valid snapshot gives the identical state with fewer entries folded, and any snapshot that does not check out is discarded and rebuilt identically.
import {describe, test} from 'node:test';
import {strict as assert} from 'node:assert';
import fc from 'fast-check';
import {Packr, Unpackr} from 'msgpackr';
import {
  MemoryStore,
  checkpointKey,
  decodeCheckpoint,
  projectionStateHash,
  rebuild,
  rebuildAll,
  saveSnapshot,
  snapshotKey,
  type AppendInput,
  type Ledger,
  type Projection,
  type Rebuilt,
  type StoredEntry,
} from '../../src/ledger/index.js';
import {statsProjection, statsView} from '../../src/kernel/index.js';
import {
  KEY,
  OTHER_KEY,
  appendGroups,
  code,
  hasher,
  note,
  openLedger,
  openReader,
  put,
  rechain,
  signSnapshotRecord,
  snapshotMessage,
  u8,
} from '../helpers/ledger-fixtures.js';

/** A tiny projection of our own, deliberately order-sensitive: a snapshot that skipped or repeated an entry would show. */
interface Tally {
  count: number;
  lastSeq: number;
  perSession: Record<string, number>;
  fold: number;
}
const tally: Projection<Tally> = {
  name: 'test.tally',
  version: 1,
  initial: () => ({count: 0, lastSeq: 0, perSession: {}, fold: 7}),
  apply: (s, e: StoredEntry) => ({
    count: s.count + 1,
    lastSeq: e.seq,
    perSession: {...s.perSession, [e.entry.session]: (s.perSession[e.entry.session] ?? 0) + 1},
    fold: (Math.imul(s.fold, 31) + e.seq * 7 + (e.entry.kind === 'note' ? e.entry.body.text.length : 1)) >>> 0,
  }),
  encode: (s) => {
    const perSession = Object.fromEntries(Object.entries(s.perSession).sort(([a], [b]) => (a < b ? -1 : 1)));
    return new Uint8Array(Buffer.from(JSON.stringify({count: s.count, lastSeq: s.lastSeq, perSession, fold: s.fold})));
  },
  decode: (bytes) => {
    const u = JSON.parse(Buffer.from(bytes).toString('utf8')) as Tally;
    if (typeof u.count !== 'number' || typeof u.lastSeq !== 'number' || typeof u.fold !== 'number') throw new TypeError('bad tally');
    return u;
  },
};

const packr = new Packr({useRecords: false, moreTypes: false, variableMapSize: true});
const unpackr = new Unpackr({useRecords: false, mapsAsObjects: true, int64AsType: 'number'});

function inputs(n: number, from = 0): AppendInput[] {
  return Array.from({length: n}, (_, j) => {
    const i = j + from;
    if (i % 6 === 5) return {kind: 'kernel.boot', body: {version: '0.1.0', mode: 'cli'}, session: `s${i % 4}`};
    return note(`entry ${i} ${'x'.repeat(i % 5)}`, `s${i % 4}`, i % 2 ? 'cli' : 'kernel');
  });
}

async function ledgerWith(n: number): Promise<Ledger> {
  const ledger = await openLedger(new MemoryStore());
  await appendGroups(ledger, inputs(n - 1), [1, 4, 2]);
  return ledger;
}

async function manualFold<S>(ledger: Ledger, p: Projection<S>, to = ledger.durableHead.seq): Promise<S> {
  let s = p.initial();
  for await (const e of ledger.entries({to})) s = p.apply(s, e);
  return s;
}

/** Rewrite the stored snapshot record of `p` through `edit`. */
async function editSnapshot(ledger: Ledger, p: Projection<unknown>, edit: (r: Record<string, unknown>) => Record<string, unknown>): Promise<void> {
  const raw = await ledger.store.get(snapshotKey(p.name));
  assert.ok(raw !== undefined, 'a snapshot exists');
  const rec = unpackr.unpack(raw) as Record<string, unknown>;
  await put(ledger.store, snapshotKey(p.name), packr.pack(edit(rec)));
}

const NOT_SIGNED = 'snapshot is not signed by the kernel key';

/** Rebuild with the snapshot: it must have been discarded for `why`, and the state must equal a full rebuild from genesis. */
async function discardedAndRebuilt<S>(ledger: Ledger, p: Projection<S>, why: RegExp | string): Promise<Rebuilt<S>> {
  const r = await rebuild(ledger, p);
  assert.equal(r.source, 'genesis');
  if (typeof why === 'string') assert.equal(r.discarded, why);
  else assert.match(r.discarded ?? '', why);
  assert.equal(r.folded, ledger.durableHead.seq);
  const full = await rebuild(ledger, p, {useSnapshot: false});
  assert.equal(r.stateHash, full.stateHash);
  assert.deepEqual(p.encode(r.state), p.encode(await manualFold(ledger, p)));
  return r;
}

const flip = (b: unknown): Uint8Array => {
  const out = new Uint8Array(b as Uint8Array);
  out[0] = (out[0] as number) ^ 1;
  return out;
};

describe('projections', () => {
  test('a rebuild from genesis equals a manual fold, for the kernel stats projection and our own', async () => {
    const ledger = await ledgerWith(30);
    for (const p of [statsProjection, tally] as Array<Projection<unknown>>) {
      const r = await rebuild(ledger, p);
      assert.equal(r.source, 'genesis');
      assert.equal(r.discarded, undefined);
      assert.equal(r.seq, 30);
      assert.equal(r.folded, 30);
      assert.deepEqual(p.encode(r.state), p.encode(await manualFold(ledger, p)));
      assert.equal(r.stateHash, projectionStateHash(ledger, p, r.state));
      assert.equal(r.stateHash, (await hasher()).hex(p.encode(r.state)));
    }
    const stats = statsView((await rebuild(ledger, statsProjection)).state);
    assert.equal(stats.entries, 30);
    assert.equal(stats.byKind.genesis, 1);
    assert.equal(stats.boots, 4);
    assert.equal(stats.notes, 25);
    assert.equal(stats.sessions, 5);
    await ledger.close();
  });

  test('a valid snapshot is used: fewer entries folded, identical state hash to a full rebuild', async () => {
    const ledger = await ledgerWith(20);
    for (const p of [statsProjection, tally] as Array<Projection<unknown>>) {
      const at = await rebuild(ledger, p);
      assert.equal(await saveSnapshot(ledger, p, at.state, at.seq), at.stateHash);
    }
    await appendGroups(ledger, inputs(15, 19), [3]);
    for (const p of [statsProjection, tally] as Array<Projection<unknown>>) {
      const fast = await rebuild(ledger, p);
      const full = await rebuild(ledger, p, {useSnapshot: false});
      assert.equal(fast.source, 'snapshot');
      assert.equal(fast.discarded, undefined);
      assert.equal(fast.folded, 15);
      assert.equal(full.source, 'genesis');
      assert.equal(full.folded, 35);
      assert.equal(fast.seq, 35);
      assert.equal(fast.stateHash, full.stateHash);
    }
    await ledger.close();
  });

  test('property: a snapshot taken at any seq resumes to the same state as a full rebuild', async () => {
    const ledger = await ledgerWith(40);
    const full = await rebuild(ledger, tally, {useSnapshot: false});
    await fc.assert(
      fc.asyncProperty(fc.integer({min: 0, max: 40}), async (s) => {
        await saveSnapshot(ledger, tally, await manualFold(ledger, tally, s), s);
        const r = await rebuild(ledger, tally);
        assert.equal(r.source, 'snapshot');
        assert.equal(r.folded, 40 - s);
        assert.equal(r.stateHash, full.stateHash);
      }),
      {numRuns: 60},
    );
    await ledger.close();
  });

  describe('a snapshot that does not check out is discarded and the state rebuilt identically', () => {
    // [what, edit, why]. An edit to a field the kernel signs (seq, entryHash, stateHash) is first of all an
    // unsigned snapshot; each such case is also run re-signed with the kernel key (as if the kernel itself had
    // written a bad snapshot), so the checks behind the signature are still proven to hold on their own.
    const SIGNED_FIELD_EDITS = new Set(['stateHash altered', 'entryHash altered', 'seq beyond the head']);
    const cases: Array<[string, (r: Record<string, unknown>, head: number) => Record<string, unknown>, RegExp]> = [
      // state itself is not in the signed message; it is bound through stateHash, which is.
      ['state bytes altered', (r) => ({...r, state: flip(r.state)}), /state does not match its hash/],
      ['stateHash altered', (r) => ({...r, stateHash: flip(r.stateHash)}), /state does not match its hash/],
      ['entryHash altered', (r) => ({...r, entryHash: flip(r.entryHash)}), /different entry/],
      ['wrong version', (r) => ({...r, version: 2}), /version 2/],
      ['seq beyond the head', (r, head) => ({...r, seq: head + 5}), /beyond the ledger head/],
      ['seq not an integer', (r) => ({...r, seq: 1.5}), /seq is invalid/],
      ['another projection name', (r) => ({...r, name: 'kernel.other'}), /wrong format or name/],
      ['a field missing', ({state: _state, ...r}) => r, /malformed/],
    ];
    for (const [what, edit, why] of cases) {
      test(what, async () => {
        const ledger = await ledgerWith(25);
        const p = statsProjection as Projection<unknown>;
        await saveSnapshot(ledger, p, await manualFold(ledger, p, 20), 20);
        await editSnapshot(ledger, p, (r) => edit(r, ledger.durableHead.seq));
        await discardedAndRebuilt(ledger, p, SIGNED_FIELD_EDITS.has(what) ? NOT_SIGNED : why);
        if (SIGNED_FIELD_EDITS.has(what)) {
          await saveSnapshot(ledger, p, await manualFold(ledger, p, 20), 20);
          await editSnapshot(ledger, p, (r) => signSnapshotRecord(edit(r, ledger.durableHead.seq)));
          await discardedAndRebuilt(ledger, p, why);
        }
        await ledger.close();
      });
    }

    test('state replaced by undecodable bytes with a matching stateHash', async () => {
      const ledger = await ledgerWith(10);
      await saveSnapshot(ledger, tally, await manualFold(ledger, tally, 5), 5);
      const junk = new Uint8Array(Buffer.from('{not json'));
      await editSnapshot(ledger, tally, (r) => ({...r, state: junk, stateHash: new Uint8Array(0)}));
      assert.equal((await rebuild(ledger, tally)).discarded, NOT_SIGNED);
      await editSnapshot(ledger, tally, (r) => signSnapshotRecord({...r, state: junk, stateHash: new Uint8Array(0)}));
      assert.match((await rebuild(ledger, tally)).discarded ?? '', /state does not match/);
      const h = await hasher();
      await editSnapshot(ledger, tally, (r) => ({...r, state: junk, stateHash: h.hash(junk)}));
      assert.equal((await rebuild(ledger, tally)).discarded, NOT_SIGNED, 'without the kernel key a matching stateHash gets nowhere');
      await editSnapshot(ledger, tally, (r) => signSnapshotRecord({...r, state: junk, stateHash: h.hash(junk)}));
      const r = await rebuild(ledger, tally);
      assert.match(r.discarded ?? '', /cannot be decoded/);
      assert.equal(r.stateHash, (await rebuild(ledger, tally, {useSnapshot: false})).stateHash);
      await put(ledger.store, snapshotKey(tally.name), Uint8Array.of(0xd9, 0x10, 0x41));
      assert.match((await rebuild(ledger, tally)).discarded ?? '', /not msgpack/);
      await put(ledger.store, snapshotKey(tally.name), packr.pack([1, 2, 3]));
      assert.match((await rebuild(ledger, tally)).discarded ?? '', /wrong format/);
      await ledger.close();
    });

    test('the ledger under the snapshot was rewritten (consistent chain): entryHash no longer matches', async () => {
      const ledger = await ledgerWith(25);
      await saveSnapshot(ledger, tally, await manualFold(ledger, tally, 20), 20);
      const store = ledger.store;
      await ledger.close();
      await store.open();
      await rechain(store, 12, (e) => (e.kind === 'note' ? {...e, body: {text: `${e.body.text}, rewritten`}} : e));
      await store.close();
      const reader = await openReader(store);
      const r = await rebuild(reader, tally);
      assert.equal(r.source, 'genesis');
      assert.match(r.discarded ?? '', /different entry 20/);
      const full = await rebuild(reader, tally, {useSnapshot: false});
      assert.equal(r.stateHash, full.stateHash);
      assert.deepEqual(r.state, await manualFold(reader, tally));
      await reader.close();
    });
  });

  describe('snapshots are signed by the kernel key: a snapshot planted by someone who can write the store but not sign is discarded', () => {
    /** A tally that never happened: what a planted snapshot would like the kernel to believe. */
    const lie: Tally = {count: 999, lastSeq: 20, perSession: {forged: 999}, fold: 1};

    /** A v2 record for `p` at `seq` whose stateHash and entryHash are right; `sig` as given (absent when undefined). */
    async function record<S>(ledger: Ledger, p: Projection<S>, state: S, seq: number, sig?: (msg: Uint8Array) => Uint8Array): Promise<Record<string, unknown>> {
      const bytes = p.encode(state);
      const stateHash = (await hasher()).hash(bytes);
      const entryHash = u8(seq === 0 ? new Uint8Array(32) : (await ledger.read(seq))?.hash) as Uint8Array;
      const rec: Record<string, unknown> = {v: 2, name: p.name, version: p.version, seq, entryHash, stateHash, state: bytes};
      if (sig !== undefined) rec.sig = sig(snapshotMessage(p.name, p.version, seq, entryHash, stateHash));
      return rec;
    }
    const plant = (ledger: Ledger, name: string, rec: Record<string, unknown>): Promise<void> => put(ledger.store, snapshotKey(name), packr.pack(rec));

    test('the kernel signs exactly the documented message, and a record built from it and signed by the kernel key is used', async () => {
      const ledger = await ledgerWith(25);
      await saveSnapshot(ledger, tally, await manualFold(ledger, tally, 20), 20);
      const saved = unpackr.unpack((await ledger.store.get(snapshotKey(tally.name))) as Uint8Array) as Record<string, unknown>;
      assert.equal(saved.v, 2);
      const msg = snapshotMessage(tally.name, tally.version, 20, saved.entryHash as Uint8Array, saved.stateHash as Uint8Array);
      assert.deepEqual(u8(saved.sig as Uint8Array), KEY.sign(msg), 'Ed25519 is deterministic: the same message gives the same signature');
      // The control for every forgery below: correct hashes plus the kernel's signature are accepted.
      await plant(ledger, tally.name, await record(ledger, tally, await manualFold(ledger, tally, 20), 20, (m) => KEY.sign(m)));
      const r = await rebuild(ledger, tally);
      assert.equal(r.source, 'snapshot');
      assert.equal(r.discarded, undefined);
      assert.equal(r.folded, 5);
      // Which is also why a lie needs the key: signed by the kernel, even a false state would be believed.
      await plant(ledger, tally.name, await record(ledger, tally, lie, 20, (m) => KEY.sign(m)));
      assert.equal((await rebuild(ledger, tally)).source, 'snapshot');
      await ledger.close();
    });

    const forgeries: Array<[string, (ledger: Ledger) => Promise<Record<string, unknown>>]> = [
      ['a garbage signature', (l) => record(l, tally, lie, 20, () => new Uint8Array(64).fill(0xab))],
      ['an empty signature', (l) => record(l, tally, lie, 20, () => new Uint8Array(0))],
      ['a signature of the right message by another key', (l) => record(l, tally, lie, 20, (m) => OTHER_KEY.sign(m))],
      [
        "the kernel's signature of the honest snapshot at the same seq",
        async (l) => {
          await saveSnapshot(l, tally, await manualFold(l, tally, 20), 20);
          const honest = unpackr.unpack((await l.store.get(snapshotKey(tally.name))) as Uint8Array) as Record<string, unknown>;
          return {...(await record(l, tally, lie, 20)), sig: honest.sig};
        },
      ],
      [
        "the kernel's signature of the same state for another projection (the name is signed)",
        async (l) => {
          const other: Projection<Tally> = {...tally, name: 'test.tally.other'};
          await saveSnapshot(l, other, lie, 20);
          const signed = unpackr.unpack((await l.store.get(snapshotKey(other.name))) as Uint8Array) as Record<string, unknown>;
          return {...signed, name: tally.name};
        },
      ],
      [
        "the kernel's signature lifted from a checkpoint (domain separation)",
        async (l) => {
          const cp = decodeCheckpoint((await l.store.get(checkpointKey(1))) as Uint8Array);
          assert.ok(typeof cp !== 'string');
          return {...(await record(l, tally, lie, 20)), sig: cp.sig};
        },
      ],
    ];
    for (const [what, forge] of forgeries) {
      test(`valid stateHash and entryHash, ${what}: discarded, the true state rebuilt`, async () => {
        const ledger = await ledgerWith(25);
        await plant(ledger, tally.name, await forge(ledger));
        const r = await discardedAndRebuilt(ledger, tally, NOT_SIGNED);
        assert.notEqual(r.state.count, lie.count);
        assert.equal(r.state.count, 25);
        await ledger.close();
      });
    }

    test('no signature field at all: discarded as malformed, the true state rebuilt', async () => {
      const ledger = await ledgerWith(25);
      await plant(ledger, tally.name, await record(ledger, tally, lie, 20));
      const r = await discardedAndRebuilt(ledger, tally, /fields are malformed/);
      assert.equal(r.state.count, 25);
      await ledger.close();
    });

    test('a reader without the signer checks snapshots against the key genesis names', async () => {
      const writer = await ledgerWith(25);
      const store = writer.store;
      await saveSnapshot(writer, tally, await manualFold(writer, tally, 20), 20);
      await writer.close();
      const reader = await openReader(store);
      assert.equal(reader.signer, undefined);
      const r = await rebuild(reader, tally);
      assert.equal(r.source, 'snapshot', 'the kernel-signed snapshot is used read-only');
      assert.equal(r.folded, 5);
      await plant(reader, tally.name, await record(reader, tally, lie, 20, (m) => OTHER_KEY.sign(m)));
      const forged = await discardedAndRebuilt(reader, tally, NOT_SIGNED);
      assert.equal(forged.state.count, 25);
      await reader.close();
    });

    test('a v1 snapshot (the earlier, unsigned format) is discarded, even with correct hashes or a valid signature attached', async () => {
      const ledger = await ledgerWith(25);
      const truth = await manualFold(ledger, tally, 20);
      // Exactly what the previous version wrote: {v: 1, name, version, seq, entryHash, stateHash, state}.
      const v1 = {...(await record(ledger, tally, truth, 20)), v: 1};
      assert.deepEqual(Object.keys(v1), ['v', 'name', 'version', 'seq', 'entryHash', 'stateHash', 'state']);
      await plant(ledger, tally.name, v1);
      await discardedAndRebuilt(ledger, tally, /wrong format or name/);
      await plant(ledger, tally.name, {...(await record(ledger, tally, truth, 20, (m) => KEY.sign(m))), v: 1});
      await discardedAndRebuilt(ledger, tally, /wrong format or name/);
      await plant(ledger, tally.name, {...v1, v: 2});
      await discardedAndRebuilt(ledger, tally, /fields are malformed/);
      await saveSnapshot(ledger, tally, truth, 20);
      assert.equal((await rebuild(ledger, tally)).source, 'snapshot', 'saving again writes a v2 snapshot that is used');
      await ledger.close();
    });
  });

  test('saveSnapshot refuses read mode, seqs not yet durable, and malformed projections', async () => {
    const ledger = await ledgerWith(5);
    const store = ledger.store;
    await assert.rejects(saveSnapshot(ledger, tally, tally.initial(), 6), RangeError);
    await assert.rejects(saveSnapshot(ledger, tally, tally.initial(), -1), RangeError);
    await assert.rejects(saveSnapshot(ledger, {...tally, name: 'has space'}, tally.initial(), 0), TypeError);
    await assert.rejects(saveSnapshot(ledger, {...tally, version: -1}, tally.initial(), 0), TypeError);
    await assert.rejects(rebuild(ledger, {...tally, name: ''}), TypeError);
    await ledger.close();
    const reader = await openReader(store);
    await assert.rejects(saveSnapshot(reader, tally, await manualFold(reader, tally), 5), code('LEDGER_READ_ONLY'));
    assert.equal(await reader.store.get(snapshotKey(tally.name)), undefined, 'nothing was written');
    assert.equal((await rebuild(reader, tally)).folded, 5, 'rebuilding works read-only');
    await reader.close();
  });
});

describe('kind-filtered reads and one-pass rebuilds', () => {
  const mixed = (i: number): AppendInput =>
    i % 3 === 0
      ? note(`n${i}`, `s-${i % 4}`)
      : i % 3 === 1
        ? {kind: 'kernel.shutdown', body: {reason: `r${i}`}}
        : {kind: 'session.ended', body: {status: i % 2 ? 'ok' : 'error', code: ''}, session: `s-${i % 4}`};

  test('entries({kinds}) yields exactly the entries of those kinds, in order, from any start', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({min: 1, max: 60}), fc.subarray(['note', 'kernel.shutdown', 'session.ended', 'genesis'] as const), fc.integer({min: 1, max: 30}), async (n, picked, from) => {
        const ledger = await openLedger(new MemoryStore());
        await appendGroups(ledger, Array.from({length: n}, (_, i) => mixed(i)), [3, 1, 5]);
        const kinds = new Set<StoredEntry['entry']['kind']>(picked);
        const all: StoredEntry[] = [];
        for await (const e of ledger.entries({from})) all.push(e);
        const got: number[] = [];
        for await (const e of ledger.entries({from, kinds})) got.push(e.seq);
        assert.deepEqual(got, all.filter((e) => kinds.has(e.entry.kind)).map((e) => e.seq));
        const one: number[] = [];
        for await (const e of ledger.entries({from, kind: 'note', kinds})) one.push(e.seq);
        assert.deepEqual(one, kinds.has('note') ? all.filter((e) => e.entry.kind === 'note').map((e) => e.seq) : []);
        await ledger.close();
      }),
      {numRuns: 40},
    );
  });

  test('rebuildAll gives each projection the state of its own rebuild, with and without kind filters and snapshots', async () => {
    const ledger = await openLedger(new MemoryStore());
    await appendGroups(ledger, Array.from({length: 90}, (_, i) => mixed(i)), [4, 2]);
    const notesOnly: Projection<number> = {
      name: 'test.notes',
      version: 1,
      kinds: new Set(['note'] as const),
      initial: () => 0,
      apply: (s, e) => (e.entry.kind === 'note' ? s + e.seq : s),
      encode: (s) => new Uint8Array(Buffer.from(String(s))),
      decode: (b) => Number(Buffer.from(b).toString()),
    };
    const early = await rebuild(ledger, notesOnly);
    await saveSnapshot(ledger, notesOnly, early.state, early.seq);
    await appendGroups(ledger, Array.from({length: 20}, (_, i) => mixed(i + 90)), [3]);
    const all = await rebuildAll(ledger, [statsProjection as Projection<unknown>, notesOnly as Projection<unknown>]);
    const stats = await rebuild(ledger, statsProjection, {useSnapshot: false});
    const notes = await rebuild(ledger, {...notesOnly, kinds: undefined} as Projection<number>, {useSnapshot: false});
    assert.equal(all[0]?.stateHash, stats.stateHash);
    assert.equal(all[1]?.stateHash, notes.stateHash);
    assert.equal(all[1]?.source, 'snapshot');
    assert.equal(all[1]?.seq, ledger.durableHead.seq);
    await ledger.close();
  });
});
