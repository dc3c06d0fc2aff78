// Proves an exported bundle verifies with only the kernel public key, and that another key, any tampered line, a cut-short file or a non-bundle is refused with a code and seq.
import {describe, test, before, after} from 'node:test';
import {strict as assert} from 'node:assert';
import {readFileSync, statSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';
import fc from 'fast-check';
import {MAX_ENTRY_BYTES, MemoryStore, exportBundle, verifyBundle, type VerifyReport} from '../../src/ledger/index.js';
import {tmpDir} from '../helpers/index.js';
import {KEY, OTHER_KEY, appendGroups, code, errors, hasher, note, openLedger, openReader, u8} from '../helpers/ledger-fixtures.js';

const N = 30;
const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

type Line = Record<string, unknown>;

let home: {dir: string; cleanup: () => void};
let good: string;
let lines: Line[];
let fileNo = 0;

/** Write a variant of the good bundle's lines; returns its path. */
function variant(edit: (ls: Line[]) => Array<Line | string>, raw?: string): string {
  const path = join(home.dir, `variant-${fileNo++}.jsonl`);
  const text = raw ?? edit(structuredClone(lines)).map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n') + '\n';
  writeFileSync(path, text);
  return path;
}

const verify = async (path: string, key = KEY.publicKey, expectHead?: {seq: number; hash?: string}): Promise<VerifyReport> =>
  verifyBundle(path, key, {hasher: await hasher(), ...(expectHead === undefined ? {} : {expectHead})});
const entryIdx = (ls: Line[], seq: number): number => ls.findIndex((l) => l.t === 'e' && l.seq === seq);

describe('export bundles', () => {
  before(async () => {
    home = tmpDir('astrid-bundle-');
    const ledger = await openLedger(new MemoryStore(), {checkpointEvery: 7});
    await appendGroups(
      ledger,
      Array.from({length: N - 1}, (_, i) => note(`bundle entry ${i} ${'~'.repeat(i % 9)}`, `s${i % 3}`)),
      [1, 2, 5],
    );
    good = join(home.dir, 'good.jsonl');
    const r = await exportBundle(ledger, good, {exportedAt: 1_700_000_000_123});
    assert.deepEqual(r.head.seq, N);
    assert.equal(ledger.lastCheckpointSeq, N, 'export writes a checkpoint at the head first');
    assert.equal(r.entries, N);
    assert.equal(statSync(good).mode & 0o777, 0o600);
    lines = readFileSync(good, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as Line);
    for (const l of lines.filter((x) => x.t === 'e')) {
      const stored = await ledger.read(l.seq as number);
      assert.deepEqual(u8(Buffer.from(l.entry as string, 'base64')), u8(stored?.bytes), 'the exact stored bytes are exported');
    }
    await ledger.close();
  });
  after(() => home.cleanup());

  test('the bundle has a header, the checkpoints, every entry and an end line, and verifies with the kernel key', async () => {
    assert.equal(lines[0]?.format, 'astrid-ledger-bundle');
    assert.deepEqual(lines[0]?.head, {seq: N, hash: lines[lines.length - 2]?.hash});
    const cps = lines.filter((l) => l.t === 'c').map((l) => l.seq as number);
    assert.ok(cps.length >= 3 && cps[cps.length - 1] === N, `checkpoints ${cps.join()}`);
    assert.deepEqual(cps, [...cps].sort((a, b) => a - b));
    assert.deepEqual(lines.filter((l) => l.t === 'e').map((l) => l.seq), Array.from({length: N}, (_, i) => i + 1));
    assert.deepEqual(lines[lines.length - 1], {t: 'end', entries: N, checkpoints: cps.length});
    const r = await verify(good);
    assert.equal(r.ok, true);
    assert.deepEqual(r.issues, []);
    assert.equal(r.entries, N);
    assert.equal(r.checkpoints.lastSignedSeq, N);
  });

  test('a read-only ledger exports the same verifiable bundle, byte for byte', async () => {
    const store = new MemoryStore();
    const w = await openLedger(store);
    await appendGroups(w, [note('a'), note('b'), note('c')], [2]);
    await w.close();
    const r = await openReader(store);
    const [p1, p2] = [join(home.dir, 'ro-1.jsonl'), join(home.dir, 'ro-2.jsonl')];
    await exportBundle(r, p1, {exportedAt: 5});
    await exportBundle(r, p2, {exportedAt: 5});
    assert.equal(readFileSync(p1, 'utf8'), readFileSync(p2, 'utf8'));
    assert.deepEqual(errors(await verify(p1)), []);
    await r.close();
  });

  test('another key: not ok, genesis and every checkpoint name a foreign key, nothing counts as signed', async () => {
    const r = await verify(good, OTHER_KEY.publicKey);
    assert.equal(r.ok, false);
    const e = errors(r);
    const cps = lines.filter((l) => l.t === 'c').map((l) => l.seq as number);
    assert.equal(cps[0], 1, 'the genesis checkpoint is exported too');
    assert.ok(e.some(([c, s]) => c === 'GENESIS_INVALID' && s === 1), JSON.stringify(e));
    for (const seq of cps) assert.ok(e.some(([c, s]) => c === 'CHECKPOINT_FOREIGN_KEY' && s === seq), `checkpoint ${seq} is not named foreign`);
    assert.ok(e.some(([c, s]) => c === 'CHECKPOINT_MISSING' && s === 1), 'nothing is signed by the trusted key');
    assert.ok(!e.some(([c]) => c === 'TAIL_UNCHECKPOINTED'), 'CHECKPOINT_MISSING replaces the tail error');
    assert.deepEqual(r.checkpoints, {count: cps.length, valid: 0, lastSignedSeq: 0});
  });

  test('property: one changed base64 character of any entry is reported first at that seq', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({min: 1, max: N}), fc.nat(), fc.integer({min: 1, max: 63}), async (seq, at, delta) => {
        const path = variant((ls) => {
          const l = ls[entryIdx(ls, seq)] as Line;
          const s = l.entry as string;
          const p = at % (s.length - 4);
          l.entry = s.slice(0, p) + B64[(B64.indexOf(s[p] as string) + delta) % 64] + s.slice(p + 1);
          return ls;
        });
        const r = await verify(path);
        assert.equal(r.ok, false);
        assert.equal(errors(r)[0]?.[1], seq, JSON.stringify(r.issues));
      }),
      {numRuns: 60},
    );
  });

  describe('tampered bundles are not ok, with a sensible code and seq', () => {
    const cases: Array<[string, (ls: Line[]) => Array<Line | string>, [string, number]]> = [
      ['entry hash changed', (ls) => (((ls[entryIdx(ls, 9)] as Line).hash = '00'.repeat(32)), ls), ['ENTRY_MODIFIED', 9]],
      ['an entry line dropped', (ls) => ls.filter((l) => l.seq !== 12 || l.t !== 'e'), ['ENTRY_MISSING', 12]],
      [
        'two entry lines swapped',
        (ls) => {
          const [i, j] = [entryIdx(ls, 5), entryIdx(ls, 17)];
          [ls[i], ls[j]] = [ls[j] as Line, ls[i] as Line];
          return ls;
        },
        ['ENTRY_MISSING', 5],
      ],
      ['an entry line duplicated', (ls) => ls.flatMap((l) => (l.t === 'e' && l.seq === 4 ? [l, l] : [l])), ['ENTRY_OUT_OF_ORDER', 4]],
      ['the end line dropped', (ls) => ls.filter((l) => l.t !== 'end'), ['BUNDLE_MALFORMED', N + 1]],
      ['the end line miscounts', (ls) => ls.map((l) => (l.t === 'end' ? {...l, entries: N + 1} : l)), ['BUNDLE_MALFORMED', N]],
      ['the end line miscounts checkpoints', (ls) => ls.map((l) => (l.t === 'end' ? {...l, checkpoints: (l.checkpoints as number) - 1} : l)), ['BUNDLE_MALFORMED', N]],
      ['the end line without its checkpoint count', (ls) => ls.map((l) => (l.t === 'end' ? {t: 'end', entries: l.entries} : l)), ['BUNDLE_MALFORMED', N]],
      ['every checkpoint dropped', (ls) => ls.filter((l) => l.t !== 'c'), ['CHECKPOINT_MISSING', 1]],
      ['the last checkpoint dropped', (ls) => ls.filter((l) => !(l.t === 'c' && l.seq === N)), ['TAIL_UNCHECKPOINTED', -1]],
      ['a checkpoint signature forged', (ls) => ls.map((l) => (l.t === 'c' && l.seq === N ? {...l, sig: 'ab'.repeat(64)} : l)), ['CHECKPOINT_BAD_SIGNATURE', N]],
      ['a checkpoint without signature', (ls) => ls.map((l) => (l.t === 'c' && l.seq === N ? {...l, sig: ''} : l)), ['CHECKPOINT_UNSIGNED', N]],
      ['entries cut below the last checkpoint', (ls) => ls.filter((l) => !(l.t === 'e' && (l.seq as number) > 25)).map((l) => (l.t === 'end' ? {...l, entries: 25} : l)), ['LEDGER_TRUNCATED', 26]],
      ['a checkpoint after the entries', (ls) => [...ls.filter((l) => l.t !== 'end'), ls.find((l) => l.t === 'c') as Line, ls[ls.length - 1] as Line], ['BUNDLE_MALFORMED', N]],
      ['content after the end line', (ls) => [...ls, {t: 'e', seq: N + 1, hash: '00'.repeat(32), entry: ''}], ['BUNDLE_MALFORMED', N]],
      ['a line that is not JSON', (ls) => [...ls.slice(0, 20), '{"t":"e",', ...ls.slice(20)], ['BUNDLE_MALFORMED', -1]],
      ['an unknown line type', (ls) => [...ls.slice(0, 20), {t: 'x'}, ...ls.slice(20)], ['BUNDLE_MALFORMED', -1]],
      ['a malformed entry line', (ls) => ls.map((l) => (l.t === 'e' && l.seq === 3 ? {...l, hash: 'zz'} : l)), ['BUNDLE_MALFORMED', 2]],
      ['entry bytes that are not base64', (ls) => ls.map((l) => (l.t === 'e' && l.seq === 3 ? {...l, entry: '%%%'} : l)), ['BUNDLE_MALFORMED', 2]],
    ];
    for (const [what, edit, [c, seq]] of cases) {
      test(what, async () => {
        const r = await verify(variant(edit));
        assert.equal(r.ok, false);
        const hit = errors(r).find(([x]) => x === c);
        assert.ok(hit !== undefined, `${c} expected in ${JSON.stringify(r.issues)}`);
        if (seq >= 0) assert.equal(hit[1], seq);
      });
    }

    test('the file cut short at any point', async () => {
      const text = readFileSync(good, 'utf8');
      for (const frac of [0.2, 0.5, 0.9, 0.999]) {
        const r = await verify(variant(() => [], text.slice(0, Math.floor(text.length * frac))));
        assert.equal(r.ok, false);
        assert.ok(errors(r).some(([c]) => c === 'BUNDLE_MALFORMED'), JSON.stringify(r.issues));
      }
    });
  });

  test('every checkpoint dropped: exactly CHECKPOINT_MISSING at seq 1, an error, even with the end line recounted', async () => {
    const r = await verify(variant((ls) => ls.filter((l) => l.t !== 'c').map((l) => (l.t === 'end' ? {...l, checkpoints: 0} : l))));
    assert.equal(r.ok, false);
    assert.deepEqual(r.issues.map((i) => [i.code, i.seq, i.severity]), [['CHECKPOINT_MISSING', 1, 'error']]);
  });

  describe('expectHead: the head the verifier was told to expect', () => {
    const head = (): {seq: number; hash: string} => lines[0]?.head as {seq: number; hash: string};
    const checkpointSeqs = (): number[] => lines.filter((l) => l.t === 'c').map((l) => l.seq as number);
    /** The good bundle cut back to its checkpoint at `k`, consistent throughout: header, lines and end line. */
    const cutBackTo = (k: number): string =>
      variant((ls) => {
        const kept = ls.filter((l) => !((l.t === 'c' || l.t === 'e') && (l.seq as number) > k));
        const e = kept.filter((l) => l.t === 'e');
        const hash = e[e.length - 1]?.hash;
        return kept.map((l) => {
          if (l.format !== undefined) return {...l, head: {seq: k, hash}};
          if (l.t === 'end') return {t: 'end', entries: e.length, checkpoints: kept.filter((x) => x.t === 'c').length};
          return l;
        });
      });
    const mismatch = (r: VerifyReport): Array<[string, number, string]> =>
      r.issues.filter((i) => i.code === 'BUNDLE_HEAD_MISMATCH').map((i) => [i.code, i.seq, i.severity]);

    test('equal to the real head (seq and hash, seq alone, hash in upper case): ok, no issue', async () => {
      const h = head();
      assert.equal(h.seq, N);
      for (const eh of [{seq: N, hash: h.hash}, {seq: N}, {seq: N, hash: h.hash.toUpperCase()}]) {
        const r = await verify(good, KEY.publicKey, eh);
        assert.equal(r.ok, true, JSON.stringify(eh));
        assert.deepEqual(r.issues, []);
      }
    });

    test('an earlier or later seq, or another hash: BUNDLE_HEAD_MISMATCH, an error', async () => {
      const h = head();
      const earlier = await verify(good, KEY.publicKey, {seq: N - 1});
      assert.equal(earlier.ok, false);
      assert.deepEqual(errors(earlier), [['BUNDLE_HEAD_MISMATCH', N]]);
      const later = await verify(good, KEY.publicKey, {seq: N + 5, hash: h.hash});
      assert.equal(later.ok, false);
      assert.deepEqual(errors(later), [['BUNDLE_HEAD_MISMATCH', N + 1]], 'entries from N + 1 on are missing');
      const otherHash = `${h.hash.slice(0, 63)}${h.hash.endsWith('0') ? '1' : '0'}`;
      const wrong = await verify(good, KEY.publicKey, {seq: N, hash: otherHash});
      assert.equal(wrong.ok, false);
      assert.deepEqual(errors(wrong).map(([c]) => c), ['BUNDLE_HEAD_MISMATCH']);
      assert.match(wrong.issues[0]?.message ?? '', new RegExp(`#${N}`));
      const earlierWithHash = await verify(good, KEY.publicKey, {seq: N - 1, hash: lines[entryIdx(lines, N - 1)]?.hash as string});
      assert.deepEqual(mismatch(earlierWithHash), [['BUNDLE_HEAD_MISMATCH', N, 'error']]);
    });

    test('a bundle cut back to any earlier checkpoint verifies on its own, and fails against the expected head', async () => {
      const h = head();
      const earlier = checkpointSeqs().filter((k) => k < N);
      assert.ok(earlier.includes(1) && earlier.length >= 3, `checkpoints ${earlier.join()}`);
      for (const k of earlier) {
        const cut = cutBackTo(k);
        const alone = await verify(cut);
        assert.equal(alone.ok, true, `cut back to ${k}: ${JSON.stringify(alone.issues)}`);
        assert.deepEqual(alone.issues, [], `cut back to ${k} looks complete and signed`);
        assert.equal(alone.head.seq, k);
        for (const eh of [{seq: h.seq, hash: h.hash}, {seq: h.seq}]) {
          const r = await verify(cut, KEY.publicKey, eh);
          assert.equal(r.ok, false, `cut back to ${k} passed with expectHead ${JSON.stringify(eh)}`);
          assert.deepEqual(errors(r), [['BUNDLE_HEAD_MISMATCH', k + 1]]);
        }
        const matching = await verify(cut, KEY.publicKey, {seq: k, hash: alone.head.hash});
        assert.equal(matching.ok, true, 'the cut bundle does end where it says');
      }
    });

    test('expectHead adds to, and does not hide, the other issues of a tampered bundle', async () => {
      const tampered = variant((ls) => (((ls[entryIdx(ls, 9)] as Line).hash = '00'.repeat(32)), ls));
      const alone = errors(await verify(tampered));
      assert.ok(alone.some(([c, s]) => c === 'ENTRY_MODIFIED' && s === 9), JSON.stringify(alone));
      const r = await verify(tampered, KEY.publicKey, {seq: N, hash: head().hash});
      assert.deepEqual(errors(r), alone, 'the head still matches: nothing is added or hidden');
      const both = await verify(tampered, KEY.publicKey, {seq: N - 2});
      assert.deepEqual(errors(both), [...alone, ['BUNDLE_HEAD_MISMATCH', N - 1]].sort((a, b) => (a[1] as number) - (b[1] as number)));
    });
  });

  test('a file that is not a bundle is refused with LEDGER_BUNDLE_INVALID', async () => {
    const notBundles = ['', '\n\n', '{"format":"something-else","version":1}\n', '{"format":"astrid-ledger-bundle","version":2}\n', 'PK\u0003\u0004 binary', '[1,2,3]\n', '42'];
    for (const raw of notBundles) await assert.rejects(verify(variant(() => [], raw)), code('LEDGER_BUNDLE_INVALID'), JSON.stringify(raw));
    await assert.rejects(verify(join(home.dir, 'does-not-exist.jsonl')), code('LEDGER_BUNDLE_INVALID'));
    await assert.rejects(verify(home.dir), code('LEDGER_BUNDLE_INVALID'), 'a directory');
  });

  test('an over-long line is refused, with or without a newline', async () => {
    const header = JSON.stringify(lines[0]);
    const huge = 'A'.repeat(2 * MAX_ENTRY_BYTES);
    await assert.rejects(verify(variant(() => [], `${header}\n{"t":"e","seq":1,"entry":"${huge}"}\n`)), code('LEDGER_BUNDLE_INVALID'));
    await assert.rejects(verify(variant(() => [], `${header}\n${huge}`)), code('LEDGER_BUNDLE_INVALID'));
  });

  test('exporting to a path that cannot be written fails with LEDGER_BUNDLE_INVALID', async () => {
    const ledger = await openLedger(new MemoryStore());
    await assert.rejects(exportBundle(ledger, join(home.dir, 'no', 'such', 'dir', 'x.jsonl'), {exportedAt: 0}), code('LEDGER_BUNDLE_INVALID'));
    await ledger.close();
  });
});
