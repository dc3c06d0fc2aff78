// Proves: editing the LevelDB ledger behind Astrid's back (flipped bytes, deleted, truncated, swapped or rewritten entries, a forged checkpoint signature, every checkpoint deleted) makes `astrid audit verify` exit 1 and name the code and the tampered seq, in its human output and in --json.
/*
 * The ledger is written by the real CLI, then edited with classic-level directly using the
 * documented layout (docs/ledger.md): 'E' u64be(seq) -> hash(32) || msgpack entry bytes in
 * the chain's LevelDB ($ASTRID_HOME/ledger), 'C' u64be(seq) -> msgpack checkpoint {v, seq,
 * hash, time, key, sig} in the one beside it ($ASTRID_HOME/ledger-aux), except genesis's,
 * which is in the chain's. Each tampering runs on its own copy of that home.
 */
import {after, before, describe, it} from 'node:test';
import {strict as assert} from 'node:assert';
import {cpSync} from 'node:fs';
import {join} from 'node:path';
import {ClassicLevel} from 'classic-level';
import {Packr, Unpackr} from 'msgpackr';
import {blake3} from 'hash-wasm';
import {cliOk, initHome, runCli, runCliAsync, tmpDir, type CliResult} from '../helpers/index.js';
import {xorshift32} from '../helpers/prng.js';

type Json = Record<string, unknown>;
type Db = ClassicLevel<Uint8Array, Uint8Array>;

interface Issue {
  readonly code: string;
  readonly seq: number;
  readonly severity: string;
  readonly message: string;
}

const packr = new Packr({useRecords: false, moreTypes: false, variableMapSize: true});
const unpackr = new Unpackr({useRecords: false, mapsAsObjects: true, int64AsType: 'number'});

/** A key of the 'E' or 'C' space: prefix byte, then the seq as u64 big-endian. */
function seqKey(prefix: 'E' | 'C', seq: number): Uint8Array {
  const k = new Uint8Array(9);
  k[0] = prefix.charCodeAt(0);
  new DataView(k.buffer).setBigUint64(1, BigInt(seq));
  return k;
}

/** Run `f` on the chain's LevelDB ('ledger': entries) or the one beside it ('ledger-aux': checkpoints, indexes). */
async function withDb<T>(home: string, f: (db: Db) => Promise<T>, which: 'ledger' | 'ledger-aux' = 'ledger'): Promise<T> {
  const db = new ClassicLevel<Uint8Array, Uint8Array>(join(home, which), {keyEncoding: 'view', valueEncoding: 'view'});
  await db.open({createIfMissing: false});
  try {
    return await f(db);
  } finally {
    await db.close();
  }
}

async function mustGet(db: Db, key: Uint8Array): Promise<Uint8Array> {
  const v = await db.get(key);
  assert.ok(v !== undefined, `no value at ${Buffer.from(key).toString('hex')}`);
  return Uint8Array.from(v); // a private copy, safe to edit
}

/** Seqs of the keys of one space, ascending. */
async function seqsOf(db: Db, prefix: 'E' | 'C'): Promise<number[]> {
  const out: number[] = [];
  const p = prefix.charCodeAt(0);
  for await (const k of db.keys({gte: Uint8Array.of(p), lt: Uint8Array.of(p + 1)})) {
    out.push(Number(new DataView(k.buffer, k.byteOffset, k.byteLength).getBigUint64(1)));
  }
  return out;
}

/**
 * Offset of a top-level field's value in entry bytes: just after its key (a fixstr) and
 * `header` (e.g. bin 8 of 32: c4 20). The entry's ids and kind here never spell a field name.
 */
function fieldOffset(bytes: Uint8Array, name: string, header: number[] = []): number {
  const marker = Buffer.from([0xa0 | name.length, ...Buffer.from(name, 'latin1'), ...header]);
  const at = Buffer.from(bytes).indexOf(marker);
  assert.ok(at > 0, `no ${name} field`);
  return at + marker.length;
}


interface Verdict {
  readonly human: CliResult;
  readonly json: Json;
  readonly issues: readonly Issue[];
  readonly errors: readonly Issue[];
}

/** Run `astrid audit verify` and `--json` on a tampered home: both must fail. */
async function verifyTampered(home: string): Promise<Verdict> {
  const human = await runCliAsync(['audit', 'verify'], home);
  const jr = await runCliAsync(['audit', 'verify', '--json'], home);
  assert.equal(human.status, 1, `verify passed a tampered ledger:\n${human.stdout}${human.stderr}`);
  assert.equal(jr.status, 1, jr.stdout);
  const json = JSON.parse(jr.stdout) as Json;
  assert.equal(json.ok, false);
  assert.ok(Array.isArray(json.issues));
  const issues = json.issues as Issue[];
  return {human, json, issues, errors: issues.filter((i) => i.severity === 'error')};
}

/** The report names `code` at `seq`, in --json and in the human lines. */
function assertNamed(v: Verdict, code: string, seq: number): void {
  assert.ok(
    v.errors.some((i) => i.code === code && i.seq === seq),
    `--json issues do not name ${code} at ${seq}: ${JSON.stringify(v.issues)}`,
  );
  assert.match(v.human.stdout, new RegExp(`^\\s+ERROR ${code} at #${seq}: `, 'm'), `human output does not name ${code} at #${seq}`);
  assert.match(v.human.stdout, /^FAILED: /m);
}

/** Nothing before the tampered seq is blamed. */
function assertNothingBefore(v: Verdict, seq: number): void {
  const early = v.errors.filter((i) => i.seq < seq);
  assert.deepEqual(early, [], 'an untouched entry was reported');
}

describe('astrid audit verify on a ledger edited behind its back', () => {
  const {dir, cleanup} = tmpDir('astrid-e2e-tamper-');
  const base = join(dir, 'base');
  let notes: number[] = [];
  let headSeq = 0;
  let copies = 0;

  /** A fresh copy of the intact base home. */
  const copy = (): string => {
    const home = join(dir, `copy-${++copies}`);
    cpSync(base, home, {recursive: true});
    return home;
  };

  before(() => {
    initHome(base);
    for (let i = 1; i <= 6; i++) assert.equal(runCli(['audit', 'note', `note number ${i}`, '--session', `s-${i % 2}`], base).status, 0);
    const r = runCli(['audit', 'show', '--json'], base);
    const all = JSON.parse(r.stdout) as Json[];
    notes = all.filter((e) => e.kind === 'note').map((e) => e.seq as number);
    headSeq = all.at(-1)?.seq as number;
    assert.equal(notes.length, 6);
    const intact = runCli(['audit', 'verify', '--json'], base);
    assert.equal(intact.status, 0, intact.stdout);
    assert.equal((JSON.parse(intact.stdout) as Json).ok, true);
  });
  after(cleanup);

  it('(a) one byte flipped inside the msgpack of an entry: ENTRY_MODIFIED at that seq, and nothing else', async () => {
    const home = copy();
    const seq = notes[2] as number;
    await withDb(home, async (db) => {
      const v = await mustGet(db, seqKey('E', seq));
      const at = Buffer.from(v).indexOf('note number 3', 32);
      assert.ok(at > 32, 'note text not found in the stored value');
      v[at + 5] = (v[at + 5] as number) ^ 0x01; // "number" -> "oumber": still valid msgpack
      await db.put(seqKey('E', seq), v);
    });
    const v = await verifyTampered(home);
    assertNamed(v, 'ENTRY_MODIFIED', seq);
    assert.deepEqual(
      v.errors.map((i) => [i.code, i.seq]),
      [['ENTRY_MODIFIED', seq]],
    );
  });

  it('(a) bytes flipped at seeded random offsets of three entries: each reported at its own seq', async () => {
    const home = copy();
    const targets = [notes[0] as number, notes[2] as number, notes[4] as number];
    const rnd = xorshift32(0xa57_1d);
    await withDb(home, async (db) => {
      for (const seq of targets) {
        const v = await mustGet(db, seqKey('E', seq));
        const at = 32 + (rnd() % (v.length - 32));
        v[at] = (v[at] as number) ^ (1 + (rnd() % 255));
        await db.put(seqKey('E', seq), v);
      }
    });
    const v = await verifyTampered(home);
    const allowed = new Set(['ENTRY_MODIFIED', 'ENTRY_UNDECODABLE', 'ENTRY_OUT_OF_ORDER']);
    for (const e of v.errors) assert.ok(allowed.has(e.code), `unexpected ${e.code} at ${e.seq}`);
    assert.deepEqual([...new Set(v.errors.map((e) => e.seq))], targets);
    for (const seq of targets) {
      const e = v.errors.find((i) => i.seq === seq) as Issue;
      assertNamed(v, e.code, seq);
    }
  });

  it('(b) an entry deleted in the middle: ENTRY_MISSING at that seq', async () => {
    const home = copy();
    const seq = notes[3] as number;
    await withDb(home, (db) => db.del(seqKey('E', seq)));
    const v = await verifyTampered(home);
    assertNamed(v, 'ENTRY_MISSING', seq);
    assertNothingBefore(v, seq);
    assert.deepEqual(
      v.errors.map((i) => i.code),
      ['ENTRY_MISSING'],
    );
  });

  it('(c) the last entries deleted below the last checkpoint: LEDGER_TRUNCATED at the first missing seq', async () => {
    const home = copy();
    const cps = await withDb(home, (aux) => seqsOf(aux, 'C'), 'ledger-aux');
    const first = await withDb(home, async (db) => {
      const last = cps.at(-1) as number;
      assert.equal(last, headSeq, 'the CLI closes with a checkpoint at the head');
      for (const seq of [last - 1, last]) await db.del(seqKey('E', seq));
      assert.equal((await seqsOf(db, 'E')).at(-1), last - 2);
      return last - 1;
    });
    const v = await verifyTampered(home);
    assertNamed(v, 'LEDGER_TRUNCATED', first);
    assertNothingBefore(v, first);
    assert.match(v.human.stdout, new RegExp(`ends at seq ${first - 1} but a signed checkpoint covers seq ${headSeq}`));
  });

  it("(i) a note's seq dropped from the session index in ledger-aux: INDEX_MISMATCH at the session's first entry, and audit show --session no longer lists it", async () => {
    const home = copy();
    const seq = notes[2] as number;
    const session = `s-${3 % 2}`;
    const before = cliOk(runCli(['audit', 'show', '--session', session, '--json'], home)) as unknown as Json[];
    assert.ok(before.some((e) => e.seq === seq));
    await withDb(
      home,
      async (db) => {
        for await (const [k, v] of db.iterator({gte: Uint8Array.of(0x53), lt: Uint8Array.of(0x54)})) {
          const id = Buffer.from(k.subarray(1, k.length - 9)).toString('latin1');
          const list = Array.from({length: v.length / 8}, (_, i) => Number(Buffer.from(v).readBigUInt64BE(i * 8)));
          if (id !== session || !list.includes(seq)) continue;
          const kept = list.filter((x) => x !== seq);
          if (kept.length === 0) await db.del(k);
          else await db.put(k, Buffer.concat(kept.map((x) => seqKey('E', x).subarray(1))));
        }
      },
      'ledger-aux',
    );
    const after = cliOk(runCli(['audit', 'show', '--session', session, '--json'], home)) as unknown as Json[];
    assert.ok(!after.some((e) => e.seq === seq), 'the query no longer finds it: this is what verify must catch');
    const v = await verifyTampered(home);
    const first = before.filter((e) => e.kind === 'note').map((e) => e.seq as number)[0] as number;
    assert.ok(v.errors.some((i) => i.code === 'INDEX_MISMATCH' && i.seq <= first), JSON.stringify(v.issues));
    assert.match(v.human.stdout, /INDEX_MISMATCH/);
    assert.match(v.human.stdout, new RegExp(`session index for "${session}"`));
    // The repair: the indexes rebuilt from the entries, recorded in the ledger, and verify clean again.
    const r = cliOk(runCli(['audit', 'reindex', '--json'], home)) as unknown as {indexed: number; replaced: number; entry: {seq: number; hash: string}};
    assert.ok(r.indexed >= seq && r.replaced >= 1, JSON.stringify(r));
    const repaired = cliOk(runCli(['audit', 'show', '--session', session, '--json'], home)) as unknown as Json[];
    assert.deepEqual(
      repaired.map((e) => e.seq),
      before.map((e) => e.seq),
      'the session lists the note again',
    );
    const rec = cliOk(runCli(['audit', 'show', '--kind', 'ledger.reindexed', '--json'], home)) as unknown as Json[];
    assert.equal(rec.length, 1);
    assert.deepEqual(rec[0]?.body, {indexed: r.indexed, replaced: r.replaced});
    assert.equal(rec[0]?.principal, 'owner');
    const human = runCli(['audit', 'verify'], home);
    assert.equal(human.status, 0, human.stdout + human.stderr);
  });

  it('(d) two entries swapped: ENTRY_OUT_OF_ORDER at both seqs', async () => {
    const home = copy();
    const [i, j] = [notes[1] as number, notes[4] as number];
    await withDb(home, async (db) => {
      const vi = await mustGet(db, seqKey('E', i));
      const vj = await mustGet(db, seqKey('E', j));
      await db.batch([
        {type: 'put', key: seqKey('E', i), value: vj},
        {type: 'put', key: seqKey('E', j), value: vi},
      ]);
    });
    const v = await verifyTampered(home);
    assertNamed(v, 'ENTRY_OUT_OF_ORDER', i);
    assertNamed(v, 'ENTRY_OUT_OF_ORDER', j);
    assertNothingBefore(v, i);
  });

  it("(e) a checkpoint's signature overwritten (with another checkpoint's): CHECKPOINT_BAD_SIGNATURE at its seq", async () => {
    const home = copy();
    const seq = notes[2] as number;
    await withDb(home, async (db) => {
      const cp = unpackr.unpack(await mustGet(db, seqKey('C', seq))) as Json;
      const other = unpackr.unpack(await mustGet(db, seqKey('C', notes[3] as number))) as Json;
      assert.deepEqual(Object.keys(cp), ['v', 'seq', 'hash', 'time', 'key', 'sig']);
      assert.equal(cp.seq, seq);
      assert.equal((cp.sig as Uint8Array).length, 64);
      assert.notDeepEqual(other.sig, cp.sig);
      await db.put(seqKey('C', seq), packr.pack({...cp, sig: other.sig}));
    }, 'ledger-aux');
    const v = await verifyTampered(home);
    assertNamed(v, 'CHECKPOINT_BAD_SIGNATURE', seq);
    assert.deepEqual(
      v.errors.map((i) => [i.code, i.seq]),
      [['CHECKPOINT_BAD_SIGNATURE', seq]],
    );
    assert.match(v.human.stdout, /checkpoints valid/);
  });

  it('(h) every checkpoint deleted: CHECKPOINT_MISSING at #1, an error and not just an unsigned tail', async () => {
    const home = copy();
    // Genesis's checkpoint lies in the chain's database (written in genesis's own batch), the rest beside it.
    assert.deepEqual(await withDb(home, (db) => seqsOf(db, 'C')), [1], 'genesis is written with its checkpoint');
    for (const which of ['ledger', 'ledger-aux'] as const) {
      await withDb(
        home,
        async (db) => {
          const cps = await seqsOf(db, 'C');
          await db.batch(cps.map((seq) => ({type: 'del' as const, key: seqKey('C', seq)})));
          assert.deepEqual(await seqsOf(db, 'C'), []);
        },
        which,
      );
    }
    const v = await verifyTampered(home);
    assertNamed(v, 'CHECKPOINT_MISSING', 1);
    // The kernel's anchor (keys/ledger.anchor) names the newest checkpoint it wrote, so the
    // stripping is also reported as ANCHOR_MISMATCH at that seq.
    assert.deepEqual(
      v.issues.map((i) => [i.code, i.seq, i.severity]),
      [['CHECKPOINT_MISSING', 1, 'error'], ['ANCHOR_MISMATCH', headSeq, 'error']],
    );
    assert.match(v.human.stdout, /0\/0 checkpoints valid/);
    // The kernel must not sign its way out of it: writing is refused, and nothing is written.
    const note = await runCliAsync(['audit', 'note', 'would be signed over a stripped history', '--json'], home);
    assert.equal(note.status, 1, note.stdout);
    assert.equal(((JSON.parse(note.stdout) as Json).error as Json).code, 'LEDGER_CORRUPT');
    for (const which of ['ledger', 'ledger-aux'] as const) {
      assert.deepEqual(await withDb(home, (db) => seqsOf(db, 'C'), which), [], 'a checkpoint was written over the stripped ledger');
    }
    assert.equal((await withDb(home, (db) => seqsOf(db, 'E'))).at(-1), headSeq, 'an entry was appended');
    assertNamed(await verifyTampered(home), 'CHECKPOINT_MISSING', 1);
  });

  it('(g) the last entry made undecodable: ENTRY_UNDECODABLE at the head, and `audit note` refuses to chain onto it (LEDGER_CORRUPT)', async () => {
    const home = copy();
    await withDb(home, async (db) => {
      const v = await mustGet(db, seqKey('E', headSeq));
      v[32] = 0xc1; // the msgpack map header becomes a byte msgpack never uses
      await db.put(seqKey('E', headSeq), v);
    });
    const v = await verifyTampered(home);
    assertNamed(v, 'ENTRY_UNDECODABLE', headSeq);
    assertNothingBefore(v, headSeq);
    const note = await runCliAsync(['audit', 'note', 'must not chain onto a corrupt tail', '--json'], home);
    assert.equal(note.status, 1, note.stdout);
    assert.equal(((JSON.parse(note.stdout) as Json).error as Json).code, 'LEDGER_CORRUPT');
    const after = await withDb(home, (db) => seqsOf(db, 'E'));
    assert.equal(after.at(-1), headSeq, 'an entry was appended to a corrupt ledger');
  });

  it('(f) an entry rewritten with the whole chain after it rehashed (no key needed): CHECKPOINT_MISMATCH at that seq', async () => {
    const home = copy();
    const seq = notes[1] as number;
    await withDb(home, async (db) => {
      let prev: Uint8Array | undefined;
      for (let s = seq; s <= headSeq; s++) {
        const stored = await mustGet(db, seqKey('E', s));
        const bytes = stored.subarray(32);
        const e = unpackr.unpack(bytes) as Json;
        // Edit the stored bytes in place, by the documented layout (a map of nine fields in a fixed
        // order, prev as bin 8 of 32 bytes, body last), rather than re-encoding the whole entry: the
        // kernel writes integers in their smallest form, which msgpackr does not for times (float64).
        const forgedBytes = Buffer.from(bytes);
        if (prev !== undefined) forgedBytes.set(prev, fieldOffset(forgedBytes, 'prev', [0xc4, 0x20]));
        const fb = s === seq ? Buffer.concat([forgedBytes.subarray(0, fieldOffset(forgedBytes, 'body')), packr.pack({text: 'a rewritten note'})]) : forgedBytes;
        // The forgery must decode to exactly the intended entry, or it proves nothing.
        const forged: Json = {...e, ...(prev === undefined ? {} : {prev}), ...(s === seq ? {body: {text: 'a rewritten note'}} : {})};
        assert.deepEqual(unpackr.unpack(Uint8Array.from(fb)), forged, `entry ${s} was not forged as intended`);
        const hash = Buffer.from(await blake3(Buffer.concat([forged.prev as Uint8Array, fb])), 'hex');
        await db.put(seqKey('E', s), Buffer.concat([hash, fb]));
        prev = Uint8Array.from(hash);
      }
    });
    const v = await verifyTampered(home);
    assertNamed(v, 'CHECKPOINT_MISMATCH', seq);
    assertNothingBefore(v, seq);
    assert.ok(
      v.errors.every((i) => i.code === 'CHECKPOINT_MISMATCH' || i.code === 'ANCHOR_MISMATCH'),
      `the rehashed chain itself should look consistent: ${JSON.stringify(v.errors)}`,
    );
  });
});
