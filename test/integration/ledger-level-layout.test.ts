// Proves LevelStore's layout on disk: the chain's LevelDB holds only the format mark, genesis's checkpoint and the entries (so its keys only grow and LevelDB never merges its tables), everything else lies in the aux LevelDB, and losing the aux database loses no entry and no query result.
import {describe, it} from 'node:test';
import {strict as assert} from 'node:assert';
import {existsSync, rmSync} from 'node:fs';
import {join} from 'node:path';
import {ClassicLevel} from 'classic-level';
import {readU64be} from '../../src/crypto/index.js';
import {LevelStore, P_ACTOR, P_CHECKPOINT, P_ENTRY, P_INDEXED, P_META, P_SESSION, auxLocation, checkpointKey, entryKey, prefixRange, type EntryQuery, type Ledger} from '../../src/ledger/index.js';
import {appendGroups, note, openLedger, openReader} from '../helpers/ledger-fixtures.js';
import {tmpDir} from '../helpers/index.js';

type Db = ClassicLevel<Uint8Array, Uint8Array>;

async function keysOf(dir: string): Promise<Uint8Array[]> {
  const db: Db = new ClassicLevel<Uint8Array, Uint8Array>(dir, {keyEncoding: 'view', valueEncoding: 'view'});
  await db.open({createIfMissing: false});
  try {
    return await db.keys().all();
  } finally {
    await db.close();
  }
}

const N = 200;
const inputs = Array.from({length: N - 1}, (_, i) => note(`note ${i}`, `s${i % 5}`, `a${i % 3}`));

async function seqs(ledger: Ledger, q: EntryQuery): Promise<number[]> {
  const out: number[] = [];
  for await (const e of ledger.entries(q)) out.push(e.seq);
  return out;
}

describe('LevelStore: two LevelDBs, the chain and what lies beside it', () => {
  it('the chain holds the format mark, genesis with its checkpoint and the entries, in key order as written; the rest is in the aux database', async () => {
    const {dir, cleanup} = tmpDir('astrid-layout-');
    try {
      const location = join(dir, 'ledger');
      const store = new LevelStore(location);
      assert.equal(store.auxLocation, `${location}-aux`);
      assert.equal(auxLocation(`${location}/`), `${location}-aux`, 'a trailing slash does not put it inside the chain');
      const ledger = await openLedger(store, {checkpointEvery: 25});
      await appendGroups(ledger, inputs, [1, 7, 30, 2]);
      await ledger.close();
      const chain = await keysOf(location);
      const hex = (k: Uint8Array): string => Buffer.from(k).toString('hex');
      assert.equal(hex(chain[0] as Uint8Array), hex(Uint8Array.of(P_CHECKPOINT, 0, 0, 0, 0, 0, 0, 0, 1)), "genesis's checkpoint, below everything");
      assert.equal((chain[1] as Uint8Array)[0], P_META, 'then the format mark');
      const entries = chain.slice(2);
      assert.equal(entries.length, N);
      entries.forEach((k, i) => {
        assert.equal(k[0], P_ENTRY);
        assert.equal(readU64be(k, 1), i + 1);
      });
      const aux = await keysOf(auxLocation(location));
      const spaces = new Set(aux.map((k) => String.fromCharCode(k[0] as number)));
      assert.deepEqual([...spaces].sort(), ['A', 'C', 'I', 'S'].sort());
      const later = aux.filter((k) => k[0] === P_CHECKPOINT).map((k) => readU64be(k, 1));
      assert.ok(later.length >= 3 && later.every((seq) => seq > 1), `the later checkpoints: ${later.join(', ')}`);
      assert.ok(aux.every((k) => k[0] !== P_ENTRY && k[0] !== P_META));
      assert.ok(aux.some((k) => k[0] === P_SESSION) && aux.some((k) => k[0] === P_ACTOR) && aux.some((k) => k[0] === P_INDEXED));
    } finally {
      cleanup();
    }
  });

  it('with the aux database gone, every entry is still there and every query still right (the indexes are rebuilt); only the signatures past genesis are lost, and the kernel refuses to sign over that', async () => {
    const {dir, cleanup} = tmpDir('astrid-layout-');
    try {
      const location = join(dir, 'ledger');
      let ledger = await openLedger(new LevelStore(location), {checkpointEvery: 25});
      await appendGroups(ledger, inputs, [3, 11]);
      const queries: EntryQuery[] = [{session: 's1'}, {actor: 'a2', reverse: true}, {session: 's4', from: 50, to: 150, limit: 7}];
      const want = await Promise.all(queries.map((q) => seqs(ledger, q)));
      const head = ledger.head;
      await ledger.close();
      rmSync(auxLocation(location), {recursive: true, force: true});
      ledger = await openReader(new LevelStore(location));
      assert.equal(ledger.head.seq, head.seq);
      assert.deepEqual(await Promise.all(queries.map((q) => seqs(ledger, q))), want, 'a reader scans');
      const report = await ledger.verify();
      assert.equal(report.checkpoints.lastSignedSeq, 1, "genesis's checkpoint is with the chain");
      await ledger.close();
      // Entries 5 s or more past the last checkpoint (the test clock stands still, so an anchor
      // is what tells here): a writer refuses to sign over a history whose checkpoints went.
      ledger = await openLedger(new LevelStore(location), {checkpointEvery: 25, anchor: {seq: head.seq, hash: head.hash}});
      await assert.rejects(ledger.append(note('over stripped checkpoints')), (e: unknown) => (e as {code?: string}).code === 'LEDGER_CORRUPT');
      assert.deepEqual(await Promise.all(queries.map((q) => seqs(ledger, q))), want, 'still readable');
      await ledger.close();
      assert.ok(existsSync(auxLocation(location)), 'the aux database is made again on open');
    } finally {
      cleanup();
    }
  });

  it("the writer: a chain batch filled past its first op (classic-level's native put) writes every op, in one atomic write, and refuses ops once the database is closed", async () => {
    const {dir, cleanup} = tmpDir('astrid-layout-');
    try {
      const location = join(dir, 'ledger');
      const store = new LevelStore(location);
      await store.open();
      const w = store.writer();
      assert.equal(w.copies, true);
      const key = new Uint8Array(9);
      const value = new Uint8Array(40);
      for (let i = 1; i <= 1000; i++) {
        // One key and one value buffer for all: each put must copy them (the ledger relies on it).
        key.set(entryKey(i));
        value.fill(i & 0xff);
        w.put(key, value);
      }
      w.put(checkpointKey(2), Uint8Array.of(1, 2, 3)); // beside the chain
      assert.equal(w.length, 1001);
      await w.write({sync: true});
      let n = 0;
      for await (const [k] of store.iterate(prefixRange(P_ENTRY))) assert.deepEqual(new Uint8Array(k), entryKey(++n));
      assert.equal(n, 1000);
      for (let i = 1; i <= 1000; i++) assert.deepEqual(new Uint8Array((await store.get(entryKey(i))) ?? []), new Uint8Array(40).fill(i & 0xff), `entry ${i}`);
      assert.deepEqual(new Uint8Array((await store.get(checkpointKey(2))) ?? []), Uint8Array.of(1, 2, 3));

      // A batch left unwritten writes nothing; ops after the database closed throw rather than vanish.
      const w2 = store.writer();
      w2.put(entryKey(1001), value);
      w2.put(entryKey(1002), value);
      await store.close();
      assert.throws(() => w2.put(entryKey(1003), value));
      await assert.rejects(w2.write({sync: true}));
      assert.equal((await keysOf(location)).length, 1000);
    } finally {
      cleanup();
    }
  });

  it('a lock held on the aux database alone is LEDGER_LOCKED naming that database, and leaves the chain free for the next open', async () => {
    const {dir, cleanup} = tmpDir('astrid-layout-');
    try {
      const location = join(dir, 'ledger');
      const first = new LevelStore(location);
      await first.open();
      await first.close();
      const holder: Db = new ClassicLevel<Uint8Array, Uint8Array>(auxLocation(location), {keyEncoding: 'view', valueEncoding: 'view'});
      await holder.open();
      try {
        await assert.rejects(new LevelStore(location).open(), (e: unknown) => {
          const err = e as {code?: string; message?: string; details?: {database?: string}};
          assert.equal(err.code, 'LEDGER_LOCKED');
          assert.match(err.message ?? '', /index database at .*ledger-aux/);
          assert.equal(err.details?.database, auxLocation(location));
          return true;
        });
      } finally {
        await holder.close();
      }
      const again = new LevelStore(location);
      await again.open();
      await again.close();
    } finally {
      cleanup();
    }
  });
});
