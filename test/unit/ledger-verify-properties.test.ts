// Proves with random ledgers that verification names the exact seq of any single tamper: a byte change, a deletion, a swap, a truncation, a checkpoint byte change; and never complains about an intact ledger.
import {describe, test} from 'node:test';
import {strict as assert} from 'node:assert';
import {join} from 'node:path';
import fc from 'fast-check';
import {LevelStore, MemoryStore, checkpointKey, entryKey, type AppendInput, type Appended, type LedgerStore, type VerifyReport} from '../../src/ledger/index.js';
import {tmpDir} from '../helpers/index.js';
import {KEY, del, errors, openLedger, openReader, put, rawAll, rawEntry, testClock} from '../helpers/ledger-fixtures.js';

interface Spec {
  readonly kind: 'note' | 'kernel.boot' | 'kernel.shutdown';
  readonly text: string;
  readonly session: string;
  readonly actor: string;
  /** Issued in the same commit batch as the previous entry. */
  readonly together: boolean;
}

const spec: fc.Arbitrary<Spec> = fc.record({
  kind: fc.constantFrom('note', 'note', 'note', 'kernel.boot', 'kernel.shutdown'),
  text: fc.string({minLength: 1, maxLength: 40}),
  session: fc.constantFrom('kernel', 's1', 's10', 'sess:42'),
  actor: fc.constantFrom('kernel', 'cli', 'capsule@1'),
  together: fc.boolean(),
});

/** A random ledger: 4..59 entries after genesis (n = 5..60), in random batches, sometimes with intermediate checkpoints. */
const ledgerArb = fc.record({
  specs: fc.array(spec, {minLength: 4, maxLength: 59}),
  checkpointEvery: fc.constantFrom(10_000, 10_000, 3, 7),
});
type LedgerSpec = typeof ledgerArb extends fc.Arbitrary<infer T> ? T : never;

function input(s: Spec): AppendInput {
  const ids = {session: s.session, actor: s.actor};
  if (s.kind === 'kernel.boot') return {kind: s.kind, body: {version: s.text.slice(0, 64), mode: 'start'}, ...ids};
  if (s.kind === 'kernel.shutdown') return {kind: s.kind, body: {reason: s.text}, ...ids};
  return {kind: 'note', body: {text: s.text}, ...ids};
}

/** Build the ledger and close it (the final checkpoint covers the head); returns n. */
async function build(store: LedgerStore, l: LedgerSpec): Promise<number> {
  const clock = testClock();
  const ledger = await openLedger(store, {clock, checkpointEvery: l.checkpointEvery});
  let group: Array<Promise<Appended>> = [];
  for (const s of l.specs) {
    clock.t += 7;
    if (!s.together) {
      await Promise.all(group);
      group = [];
    }
    group.push(ledger.append(input(s)));
  }
  await Promise.all(group);
  await ledger.close();
  return l.specs.length + 1;
}

/** Build, let `tamper` change the stored ledger, verify read-only against the kernel key. */
async function tamperAndVerify(store: LedgerStore, l: LedgerSpec, tamper: (s: LedgerStore, n: number) => Promise<void>): Promise<{n: number; report: VerifyReport}> {
  const n = await build(store, l);
  const reader = await openReader(store);
  try {
    await tamper(reader.store, n);
    return {n, report: await reader.verify({trustedKey: KEY.publicKey})};
  } finally {
    await reader.close();
  }
}

const firstError = (r: VerifyReport): [string, number] | undefined => errors(r)[0];

/** (a) one byte of one stored entry value (hash or entry bytes) changed at a random offset. */
async function byteChangeIsPinned(store: LedgerStore, l: LedgerSpec, which: number, offset: number, mask: number): Promise<void> {
  let k = 0;
  const {report} = await tamperAndVerify(store, l, async (s, n) => {
    k = 1 + (which % n);
    const v = (await rawEntry(s, k)).slice();
    const at = offset % v.length;
    v[at] = (v[at] as number) ^ mask;
    await put(s, entryKey(k), v);
  });
  assert.equal(report.ok, false);
  assert.equal(firstError(report)?.[1], k, JSON.stringify(report.issues));
}

describe('verification properties on MemoryStore', () => {
  const runs = {numRuns: 100};

  test('(a) any single-byte change to a stored entry is reported first at exactly that seq', async () => {
    await fc.assert(
      fc.asyncProperty(ledgerArb, fc.nat(), fc.nat(), fc.integer({min: 1, max: 255}), (l, which, offset, mask) =>
        byteChangeIsPinned(new MemoryStore(), l, which, offset, mask),
      ),
      runs,
    );
  });

  test('(b) deleting any entry is reported at that seq (the last one as a truncation below the checkpoint)', async () => {
    await fc.assert(
      fc.asyncProperty(ledgerArb, fc.nat(), async (l, which) => {
        let k = 0;
        const {n, report} = await tamperAndVerify(new MemoryStore(), l, async (s, n) => {
          k = 1 + (which % n);
          await del(s, entryKey(k));
        });
        assert.deepEqual(errors(report), [[k === n ? 'LEDGER_TRUNCATED' : 'ENTRY_MISSING', k]]);
      }),
      runs,
    );
  });

  test('(c) swapping any two entries is reported first at the smaller seq', async () => {
    await fc.assert(
      fc.asyncProperty(ledgerArb, fc.nat(), fc.nat(), async (l, a, b) => {
        let i = 0;
        let j = 0;
        const {report} = await tamperAndVerify(new MemoryStore(), l, async (s, n) => {
          i = 1 + (a % (n - 1));
          j = i + 1 + (b % (n - i));
          const [vi, vj] = [await rawEntry(s, i), await rawEntry(s, j)];
          await s.batch([{type: 'put', key: entryKey(i), value: vj}, {type: 'put', key: entryKey(j), value: vi}], {sync: true});
        });
        assert.equal(report.ok, false);
        assert.equal(firstError(report)?.[1], i);
        assert.ok(errors(report).some(([c, s]) => c === 'ENTRY_OUT_OF_ORDER' && s === j), JSON.stringify(report.issues));
      }),
      runs,
    );
  });

  test('(d) truncating k >= 1 entries from the end yields exactly LEDGER_TRUNCATED at newHead + 1', async () => {
    await fc.assert(
      fc.asyncProperty(ledgerArb, fc.nat(), async (l, cut) => {
        let newHead = 0;
        const {report} = await tamperAndVerify(new MemoryStore(), l, async (s, n) => {
          newHead = n - (1 + (cut % n));
          await s.batch(
            (await rawAll(s)).slice(newHead).map(([key]) => ({type: 'del' as const, key})),
            {sync: true},
          );
        });
        assert.deepEqual(errors(report), [['LEDGER_TRUNCATED', newHead + 1]]);
        assert.equal(report.head.seq, newHead);
      }),
      runs,
    );
  });

  test('(e) an intact ledger always verifies ok with no issue at all', async () => {
    await fc.assert(
      fc.asyncProperty(ledgerArb, async (l) => {
        const {n, report} = await tamperAndVerify(new MemoryStore(), l, async () => undefined);
        assert.equal(report.ok, true);
        assert.deepEqual(report.issues, []);
        assert.equal(report.entries, n);
        assert.equal(report.checkpoints.lastSignedSeq, n);
        assert.equal(report.checkpoints.valid, report.checkpoints.count);
      }),
      runs,
    );
  });

  test('(f) any single-byte change to the final checkpoint record is reported as a checkpoint issue at its seq', async () => {
    await fc.assert(
      fc.asyncProperty(ledgerArb, fc.nat(), fc.integer({min: 1, max: 255}), async (l, offset, mask) => {
        const {n, report} = await tamperAndVerify(new MemoryStore(), l, async (s, n) => {
          const v = (await s.get(checkpointKey(n))) as Uint8Array;
          const out = v.slice();
          out[offset % out.length] = (out[offset % out.length] as number) ^ mask;
          await put(s, checkpointKey(n), out);
        });
        const e = errors(report);
        assert.equal(e.length, 1, JSON.stringify(report.issues));
        assert.match(e[0]?.[0] ?? '', /^CHECKPOINT_(BAD_SIGNATURE|FOREIGN_KEY|UNSIGNED|UNDECODABLE)$/);
        assert.equal(e[0]?.[1], n);
      }),
      runs,
    );
  });
});

describe('verification properties on LevelStore', () => {
  test('(a) any single-byte change to a stored entry is reported first at exactly that seq', async () => {
    const {dir, cleanup} = tmpDir('astrid-ledger-prop-');
    let i = 0;
    try {
      await fc.assert(
        fc.asyncProperty(ledgerArb, fc.nat(), fc.nat(), fc.integer({min: 1, max: 255}), async (l, which, offset, mask) => {
          const store = new LevelStore(join(dir, `run-${i++}`));
          try {
            await byteChangeIsPinned(store, l, which, offset, mask);
          } finally {
            await store.close();
          }
        }),
        {numRuns: 10},
      );
    } finally {
      cleanup();
    }
  });
});
