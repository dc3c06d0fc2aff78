/**
 * Ledger benchmark: durable append with group commit against a raw classic-level synced
 * batch of the same bytes, and chain verification against raw BLAKE3 hashing of the same
 * bytes, all measured in one run. See bench/README.md for what each number means.
 */
import {randomBytes} from 'node:crypto';
import {rm} from 'node:fs/promises';
import {performance} from 'node:perf_hooks';
import {ClassicLevel} from 'classic-level';
import {Blake3, SigningKey} from '../src/crypto/index.js';
import {
  ChainVerifier,
  ENTRY_FORMAT_VERSION,
  Ledger,
  LedgerStore,
  LevelStore,
  P_CHECKPOINT,
  P_ENTRY,
  encodeEntry,
  levelStats,
  prefixRange,
  type ActorId,
  type AppendInput,
  type BatchWriter,
  type LedgerEntry,
  type PrincipalId,
  type RangeOptions,
  type Seq,
  type SessionId,
} from '../src/ledger/index.js';
import {formatNumber, measure, measureInterleaved, percentile, timed, type BenchContext, type Benchmark, type Measurement} from './harness.js';
import {clock, tempDir, windowed} from './kit.js';

const B = 'ledger';
type Db = ClassicLevel<Uint8Array, Uint8Array>;
type Pair = [Uint8Array, Uint8Array];

/** Distinct inputs cycled through by the append loops (payloads are random, so incompressible). */
const POOL = 1024;
const SESSIONS = 16;
const TEXT_CHARS = 176;
/** Same as LevelStore's iterator chunk, so raw iteration reads the way the ledger does. */
const ITER_CHUNK = 1000;

/**
 * LevelStore that counts the batches the ledger writes (one counter bump per batch). It
 * wraps LevelStore's own writer (the path the ledger takes) rather than `_batch`: a subclass
 * that overrides `_batch` gets the slower buffered writer, and the count would then be of
 * another path than the one measured.
 */
class CountingLevelStore extends LevelStore {
  batches = 0;
  ops = 0;
  protected override _writer(): BatchWriter {
    const w = super._writer();
    return {
      get length() {
        return w.length;
      },
      copies: w.copies,
      put: (key, value) => w.put(key, value),
      del: (key) => w.del(key),
      write: (options) => {
        this.batches++;
        this.ops += w.length;
        return w.write(options);
      },
      discard: () => w.discard(),
    };
  }
}

/** A store that drops every write: what the ledger itself costs, without LevelDB. */
class NullStore extends LedgerStore {
  protected async _open(): Promise<void> {}
  protected async _close(): Promise<void> {}
  protected async _batch(): Promise<void> {}
  protected async _get(): Promise<Uint8Array | undefined> {
    return undefined;
  }
  // eslint-disable-next-line require-yield
  protected async *_iterate(_o: RangeOptions): AsyncGenerator<readonly Pair[]> {
    return;
  }
}

function makeInputs(): AppendInput<'note'>[] {
  const out: AppendInput<'note'>[] = [];
  for (let i = 0; i < POOL; i++) {
    // base64 of random bytes: printable, and as incompressible as text gets (LevelDB uses Snappy).
    const text = randomBytes((TEXT_CHARS * 3) / 4).toString('base64');
    out.push({kind: 'note', body: {text}, session: `s${i % SESSIONS}`, actor: `a${i % SESSIONS}`, principal: 'owner'});
  }
  return out;
}

/** Append `n` entries keeping at most `window` appends in flight (sliding window). */
function appendWindowed(ledger: Ledger, inputs: readonly AppendInput<'note'>[], n: number, window: number): Promise<void> {
  return windowed(n, window, (i) => ledger.append(inputs[i % POOL] as AppendInput<'note'>));
}

async function openRaw(dir: string): Promise<Db> {
  const db = new ClassicLevel<Uint8Array, Uint8Array>(dir, {keyEncoding: 'view', valueEncoding: 'view'});
  await db.open({createIfMissing: true});
  return db;
}

/** Every [key, value] of a range, read with nextv like LevelStore does. */
async function readRange(db: Db, range: {gte: Uint8Array; lt: Uint8Array}): Promise<Pair[]> {
  const out: Pair[] = [];
  const it = db.iterator(range);
  try {
    for (;;) {
      const chunk = await it.nextv(ITER_CHUNK);
      if (chunk.length === 0) break;
      for (const p of chunk) out.push(p as Pair);
    }
  } finally {
    await it.close();
  }
  return out;
}

const fmtN = (n: number): string => (n >= 1000 && n % 1000 === 0 ? `${n / 1000}k` : String(n));

export const benchmark: Benchmark = {
  name: B,
  description: 'durable append vs raw synced batch; verification vs raw BLAKE3',
  async run(ctx: BenchContext): Promise<void> {
    const {report, quick} = ctx;
    const rec = (name: string, m: Measurement | number, unit: string, note?: string, group?: string): void => {
      const v = report.add(B, name, m, unit, note, group);
      ctx.progress(`${name}: ${formatNumber(v)} ${unit}`);
    };
    const N = quick ? 20_000 : 200_000;
    /** The array-batch baseline is ~4x slower than the chained one; it runs on the first N/4 entries. */
    const N_ARRAY = N / 4;
    /** The null-store run measures CPU only; half the entries give the same rate. */
    const N_NULL = N / 2;
    const WINDOWS = quick ? [1_000] : [1_000, 10_000];
    const RUNS = quick ? 1 : 3;
    /** Append vs raw swings most from round to round on a shared 2-core machine: five rounds for its median. */
    const APPEND_RUNS = quick ? 1 : 5;
    const LATENCY_APPENDS = quick ? 100 : 500;
    const SCAN_LIMIT = N / 4;
    const signer = SigningKey.generate();
    const hasher = await Blake3.create();
    const inputs = makeInputs();
    const dirs = new Set<string>();
    const cleanup = async (dir: string): Promise<void> => {
      await rm(dir, {recursive: true, force: true});
      dirs.delete(dir);
    };

    try {
      // --- entry size ------------------------------------------------------------------
      const sample: LedgerEntry<'note'> = {
        v: ENTRY_FORMAT_VERSION,
        seq: N as Seq,
        prev: new Uint8Array(32),
        time: clock.now(),
        session: 's0' as SessionId,
        principal: 'owner' as PrincipalId,
        actor: 'a0' as ActorId,
        kind: 'note',
        body: (inputs[0] as AppendInput<'note'>).body,
      };
      const entryBytes = encodeEntry(sample).length;
      rec('entry size (encoded note)', entryBytes, 'B', `${TEXT_CHARS}-char text; stored value = 32 + this`);

      // --- reference ledger: the warm-up append run; kept for the read benchmarks ---------------
      const ledgerDir = await tempDir('ledger');
      dirs.add(ledgerDir);
      {
        const ledger = await Ledger.open({store: new LevelStore(ledgerDir), clock, signer, hasher, checkpointIntervalMs: 0});
        await appendWindowed(ledger, inputs, N, WINDOWS[0] as number);
        await ledger.close();
      }
      // Its exact stored entries (seq 1 is genesis, 2.. the notes) and checkpoints.
      let entries: Pair[];
      let checkpoints: Pair[];
      {
        const db = await openRaw(ledgerDir);
        entries = await readRange(db, prefixRange(P_ENTRY));
        checkpoints = await readRange(db, prefixRange(P_CHECKPOINT));
        await db.close();
      }
      const notes = entries.slice(1);
      let valueBytes = 0;
      for (const [, v] of notes) valueBytes += v.length;
      rec('stored value size (mean)', valueBytes / notes.length, 'B', '32-byte hash + entry bytes; key 9 bytes');

      // --- 1 + 2. durable append vs raw synced batches of the same bytes, interleaved ------------
      const rawSetup = async (): Promise<{dir: string; db: Db}> => {
        const dir = await tempDir('raw');
        dirs.add(dir);
        return {dir, db: await openRaw(dir)};
      };
      const rawTeardown = async ({dir, db}: {dir: string; db: Db}): Promise<void> => {
        await db.close();
        await cleanup(dir);
      };
      for (const window of WINDOWS) {
        const opsByBatch: {type: 'put'; key: Uint8Array; value: Uint8Array}[][] = [];
        for (let i = 0; i < notes.length; i += window) {
          opsByBatch.push(notes.slice(i, i + window).map(([key, value]) => ({type: 'put' as const, key, value})));
        }
        const arrayBatches = opsByBatch.slice(0, Math.ceil(N_ARRAY / window));
        const arrayCount = arrayBatches.reduce((n, ops) => n + ops.length, 0);
        let batches = 0;
        let ops = 0;
        // Bytes LevelDB's compactions wrote in the last round of each (MB), read before closing.
        let ledgerCompaction = {chain: 0, aux: 0};
        let rawCompaction = 0;
        const m = await measureInterleaved(
          {
            append: timed({
              setup: async () => {
                const dir = await tempDir('append');
                dirs.add(dir);
                const store = new CountingLevelStore(dir);
                const ledger = await Ledger.open({store, clock, signer, hasher, checkpointIntervalMs: 0});
                store.batches = 0;
                store.ops = 0;
                return {dir, store, ledger};
              },
              run: async ({ledger}) => {
                await appendWindowed(ledger, inputs, N, window);
                return N;
              },
              teardown: async ({dir, store, ledger}) => {
                batches = store.batches;
                ops = store.ops;
                const st = store.compactionStats();
                if (st !== undefined) ledgerCompaction = {chain: st.chain.compactionWriteMB, aux: st.aux.compactionWriteMB};
                await ledger.close();
                await cleanup(dir);
              },
            }),
            chained: timed({
              setup: rawSetup,
              run: async ({db}) => {
                for (const ops of opsByBatch) {
                  const b = db.batch();
                  for (const op of ops) b.put(op.key, op.value);
                  await b.write({sync: true});
                }
                return notes.length;
              },
              teardown: async (raw) => {
                rawCompaction = levelStats(raw.db).compactionWriteMB;
                await rawTeardown(raw);
              },
            }),
            array: timed({
              setup: rawSetup,
              run: async ({db}) => {
                for (const ops of arrayBatches) await db.batch(ops, {sync: true});
                return arrayCount;
              },
              teardown: rawTeardown,
            }),
          },
          {warmup: 0, runs: APPEND_RUNS},
        );
        const g = `append-${window}`;
        rec(`append, ${fmtN(window)} in flight`, m.append, 'entries/s', `${batches} synced batches of ${(ops / batches).toFixed(0)} entries`, g);
        rec(`raw chained batch, ${fmtN(window)} per sync`, m.chained, 'entries/s', 'db.batch().put()...write({sync: true})', g);
        rec(`raw array batch, ${fmtN(window)} per sync`, m.array, 'entries/s', `db.batch(ops, {sync: true}); first ${fmtN(arrayCount)} entries`, g);
        const entryMB = valueBytes / 2 ** 20;
        rec(
          `LevelDB compaction writes, append ${fmtN(window)}`,
          ledgerCompaction.chain + ledgerCompaction.aux,
          'MB',
          `chain ${ledgerCompaction.chain} + aux ${ledgerCompaction.aux}, for ${entryMB.toFixed(0)} MB of entry values; last round`,
          g,
        );
        rec(`LevelDB compaction writes, raw ${fmtN(window)}`, rawCompaction, 'MB', 'the raw chained batch run, last round', g);
      }

      // The ledger's CPU cost alone: same appends, writes discarded.
      {
        const window = WINDOWS[WINDOWS.length - 1] as number;
        const m = await measure({
          warmup: 0,
          runs: RUNS,
          setup: () => Ledger.open({store: new NullStore(), clock, signer, hasher, checkpointIntervalMs: 0}),
          run: async (ledger) => {
            await appendWindowed(ledger, inputs, N_NULL, window);
            return N_NULL;
          },
          teardown: (ledger) => ledger.close(),
        });
        rec(`append, null store (ledger CPU only)`, m, 'entries/s', `${fmtN(N_NULL)} entries, ${fmtN(window)} in flight; validate + encode + hash + index, no LevelDB`);
      }

      // --- 3a. verification core: ChainVerifier over in-memory values vs raw BLAKE3 -----------
      const rawHash = (pairs: readonly Pair[], prev: Uint8Array): Uint8Array => {
        for (const [, val] of pairs) {
          hasher.hash(prev, val.subarray(32));
          prev = val.subarray(0, 32);
        }
        return prev;
      };
      {
        const m = await measureInterleaved(
          {
            verifier: timed({
              run: () => {
                const v = new ChainVerifier(hasher, signer.publicKey);
                for (const [k, val] of checkpoints) v.checkpoint({keySeq: seqOfCheckpointKey(k), bytes: val});
                for (let i = 0; i < entries.length; i++) v.entry(i + 1, (entries[i] as Pair)[1]);
                const r = v.finish();
                if (!r.ok) report.note(B, `ChainVerifier reported issues: ${r.issues.map((x) => x.code).join(', ')}`);
                return entries.length;
              },
            }),
            hash: timed({
              run: () => {
                rawHash(entries, new Uint8Array(32));
                return entries.length;
              },
            }),
            hashOne: timed({
              run: () => {
                // prev || bytes laid out in one buffer, hashed with one update (a copy, no allocation).
                const scratch = new Uint8Array(64 * 1024);
                let prev: Uint8Array = new Uint8Array(32);
                for (const [, val] of entries) {
                  scratch.set(val, 0);
                  scratch.set(prev, 0);
                  hasher.hash(scratch.subarray(0, val.length));
                  prev = val.subarray(0, 32);
                }
                return entries.length;
              },
            }),
          },
          {warmup: 1, runs: RUNS},
        );
        rec('verify core: ChainVerifier, in memory', m.verifier, 'entries/s', 'decode + validate + hash + link; values pre-read', 'verify-core');
        rec('raw BLAKE3 (prev || entry), in memory', m.hash, 'hashes/s', 'Blake3.hash(prev, bytes), one reused hasher', 'verify-core');
        rec('raw BLAKE3, one update, in memory', m.hashOne, 'hashes/s', 'prev || bytes copied to a scratch buffer, Blake3.hash(scratch)', 'verify-core');
      }

      // --- 3b. end to end from disk: ledger.verify() vs raw iteration (+ hashing) ----------------
      {
        const rawIterate = async (db: Db, hash: boolean): Promise<number> => {
          let n = 0;
          let prev: Uint8Array = new Uint8Array(32);
          const it = db.iterator(prefixRange(P_ENTRY));
          try {
            for (;;) {
              const chunk = (await it.nextv(ITER_CHUNK)) as Pair[];
              if (chunk.length === 0) break;
              n += chunk.length;
              if (hash) prev = rawHash(chunk, prev);
            }
          } finally {
            await it.close();
          }
          return n;
        };
        const m = await measureInterleaved(
          {
            verify: timed({
              setup: () => Ledger.open({store: new LevelStore(ledgerDir), clock, mode: 'read', hasher}),
              run: async (ledger) => {
                const r = await ledger.verify({trustedKey: signer.publicKey});
                if (!r.ok) report.note(B, `ledger.verify() reported issues: ${r.issues.map((x) => x.code).join(', ')}`);
                return r.entries;
              },
              teardown: (ledger) => ledger.close(),
            }),
            iterHash: timed({setup: () => openRaw(ledgerDir), run: (db) => rawIterate(db, true), teardown: (db) => db.close()}),
            iter: timed({setup: () => openRaw(ledgerDir), run: (db) => rawIterate(db, false), teardown: (db) => db.close()}),
          },
          {warmup: 0, runs: RUNS},
        );
        rec('verify end to end: ledger.verify()', m.verify, 'entries/s', 'from disk (page cache warm)', 'verify-disk');
        rec('raw iterate + BLAKE3, from disk', m.iterHash, 'entries/s', `iterator nextv(${ITER_CHUNK}) + hash(prev, bytes)`, 'verify-disk');
        rec('raw iterate only, from disk', m.iter, 'entries/s', `iterator nextv(${ITER_CHUNK})`, 'verify-disk');
      }

      // --- 4. queries and single-append latency -----------------------------------------------
      {
        const ledger = await Ledger.open({store: new LevelStore(ledgerDir), clock, mode: 'read', hasher});
        try {
          const m = await measureInterleaved(
            {
              session: timed({
                run: async () => {
                  let n = 0;
                  for await (const _ of ledger.entries({session: 's3'})) n++;
                  return n;
                },
              }),
              scan: timed({
                run: async () => {
                  let n = 0;
                  for await (const _ of ledger.entries({limit: SCAN_LIMIT})) n++;
                  return n;
                },
              }),
            },
            {warmup: 0, runs: RUNS},
          );
          rec(`entries({session}) via postings index`, m.session, 'entries/s', `one of ${SESSIONS} sessions: ${fmtN(N / SESSIONS)} entries`);
          rec(`entries() scan`, m.scan, 'entries/s', `first ${fmtN(SCAN_LIMIT)} entries, decoded, seq order`);
        } finally {
          await ledger.close();
        }
      }

      {
        const WARM = 50;
        const dir = await tempDir('latency');
        dirs.add(dir);
        const ledger = await Ledger.open({store: new LevelStore(dir), clock, signer, hasher, checkpointIntervalMs: 0});
        const lat: number[] = [];
        try {
          for (let i = 0; i < LATENCY_APPENDS + WARM; i++) {
            const t0 = performance.now();
            await ledger.append(inputs[i % POOL] as AppendInput<'note'>);
            if (i >= WARM) lat.push(performance.now() - t0);
          }
        } finally {
          await ledger.close();
          await cleanup(dir);
        }
        const raw = await tempDir('latency-raw');
        dirs.add(raw);
        const db = await openRaw(raw);
        const rawLat: number[] = [];
        try {
          for (let i = 0; i < LATENCY_APPENDS + WARM; i++) {
            const [k, v] = notes[i] as Pair;
            const t0 = performance.now();
            await db.put(k, v, {sync: true});
            if (i >= WARM) rawLat.push(performance.now() - t0);
          }
        } finally {
          await db.close();
          await cleanup(raw);
        }
        const note = `${LATENCY_APPENDS} sequential awaited appends, nothing else in flight`;
        rec('single append latency p50', percentile(lat, 50), 'ms', note);
        rec('single append latency p99', percentile(lat, 99), 'ms', note);
        rec('raw synced put latency p50', percentile(rawLat, 50), 'ms', 'db.put(k, v, {sync: true}) of the same values: the fsync floor');
        rec('raw synced put latency p99', percentile(rawLat, 99), 'ms', 'db.put(k, v, {sync: true})');
      }

      // --- ratios (same run) -------------------------------------------------------------------
      for (const w of WINDOWS) {
        const a = `append, ${fmtN(w)} in flight`;
        report.ratio(B, a, `raw chained batch, ${fmtN(w)} per sync`, 0.5, 'the fair one: the fastest raw path, and what LevelStore uses');
        report.ratio(B, a, `raw array batch, ${fmtN(w)} per sync`);
        report.ratio(B, `LevelDB compaction writes, append ${fmtN(w)}`, `LevelDB compaction writes, raw ${fmtN(w)}`, undefined, 'write amplification against a raw log of the same entries: 1 is none beyond it');
      }
      report.ratio(B, 'append, null store (ledger CPU only)', `raw chained batch, ${fmtN(WINDOWS[WINDOWS.length - 1] as number)} per sync`, undefined, 'with no overlap of CPU and fsync, append / raw = x / (1 + x) for this x: 0.50 needs x >= 1');
      report.ratio(B, 'verify core: ChainVerifier, in memory', 'raw BLAKE3 (prev || entry), in memory', 0.5, 'the verify target');
      report.ratio(B, 'verify core: ChainVerifier, in memory', 'raw BLAKE3, one update, in memory', undefined, 'against the cheaper way to hash the same bytes');
      report.ratio(B, 'verify end to end: ledger.verify()', 'raw iterate + BLAKE3, from disk', 0.5);
      report.ratio(B, 'raw iterate + BLAKE3, from disk', 'raw iterate only, from disk');
      report.ratio(B, 'single append latency p50', 'raw synced put latency p50');
      const best = Math.max(...WINDOWS.map((w) => report.value(B, `append, ${fmtN(w)} in flight`)));
      report.note(
        B,
        `best durable append rate ${Math.round(best).toLocaleString('en-US')} entries/s at ${entryBytes} B per entry: ` +
          `${best >= 100_000 ? 'MET' : 'NOT MET'} (expected >= 100,000 entries/s)`,
      );
    } finally {
      for (const dir of [...dirs]) await cleanup(dir);
    }
  },
};

function seqOfCheckpointKey(k: Uint8Array): number | undefined {
  if (k.length !== 9 || k[0] !== P_CHECKPOINT) return undefined;
  return Number(Buffer.from(k.buffer, k.byteOffset + 1, 8).readBigUInt64BE(0));
}

