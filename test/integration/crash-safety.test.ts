// Proves: a writer SIGKILLed at random moments never loses an append whose promise resolved; the chain still verifies and accepts appends, and the session index still agrees with the entries (read-only and after a writer's rebuild).
/*
 * Each trial spawns test/helpers/crash-child (real process, real LevelDB on disk) which
 * appends notes with up to ~400 in flight and prints `<seq> <hash>` for each append only
 * after its promise resolved. The parent SIGKILLs it 20..400 ms after it is ready (delays
 * from a seeded xorshift PRNG), then opens the same ledger itself and checks that every
 * append any child ever reported on that home is there with the same hash, that
 * verification finds no error (an unsigned tail is expected after a crash), and that the
 * ledger takes a new append.
 *
 * One home is shared across most trials, so later children append to a ledger that has
 * survived earlier kills. Some of those trials are "chained": the parent only reads after
 * the kill, so the next child opens a crashed, uncheckpointed ledger directly and is killed
 * only after its first append on it has resolved. The remaining trials use fresh homes, and a
 * last group kills children on fresh homes at moments spread around the end of their start-up,
 * ready or not, so some land while the home, the key or genesis is being written: whatever a
 * kill leaves is either no entry at all or a genesis with its signed checkpoint.
 * Set ASTRID_CRASH_SEED to replay another PRNG sequence (kill timing stays up to the OS).
 */
import {describe, it} from 'node:test';
import {strict as assert} from 'node:assert';
import {spawn} from 'node:child_process';
import {join} from 'node:path';
import {openKernelState} from '../../src/kernel/index.js';
import {toHex} from '../../src/crypto/index.js';
import type {Ledger} from '../../src/ledger/index.js';
import {repoRoot, tmpDir} from '../helpers/index.js';
import {xorshift32} from '../helpers/prng.js';

const CHILD = join(repoRoot, 'dist', 'test', 'helpers', 'crash-child.js');
const SHARED_TRIALS = 16;
const FRESH_TRIALS = 6;
const EARLY_TRIALS = 6;
const CHECKPOINT_EVERY = [1, 7, 50, 100, 1000, 10_000] as const;


interface Killed {
  readonly readyHead: number;
  /** (seq, hash hex) of every append the child reported as resolved. */
  readonly reported: ReadonlyArray<readonly [number, string]>;
  readonly signal: NodeJS.Signals | null;
  readonly status: number | null;
  readonly stderr: string;
}

/**
 * Run the append child and SIGKILL it `delayMs` after it is ready (or after its first
 * reported append when `afterFirstAppend`). Only complete lines count as reports.
 */
function runAndKill(home: string, seed: number, checkpointEvery: number, delayMs: number, afterFirstAppend: boolean): Promise<Killed> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD, 'append', home, String(seed), String(checkpointEvery)], {stdio: ['ignore', 'pipe', 'pipe']});
    let buf = '';
    let stderr = '';
    let readyHead = -1;
    let armed = false;
    const reported: Array<readonly [number, string]> = [];
    const arm = (): void => {
      if (armed) return;
      armed = true;
      setTimeout(() => child.kill('SIGKILL'), delayMs);
    };
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      buf += d;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const ready = /^ready (\d+) [0-9a-f]{64}$/.exec(line);
        if (ready) {
          readyHead = Number(ready[1]);
          if (!afterFirstAppend) arm();
          continue;
        }
        const m = /^(\d+) ([0-9a-f]{64})$/.exec(line);
        if (m === null) {
          child.kill('SIGKILL');
          reject(new Error(`unexpected line from child: ${JSON.stringify(line)}`));
          return;
        }
        reported.push([Number(m[1]), m[2] as string]);
        arm();
      }
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (status, signal) => resolve({readyHead, reported, signal, status, stderr}));
  });
}

/**
 * After a kill: every reported append at or above `from` is present with its hash, and the
 * chain verifies. Entries below `from` are not re-read: `from` is a head an earlier check
 * saw, its hash is in `expected`, and in a chain that verifies each hash covers the entry
 * before it, so an unchanged entry at `from` means nothing below it changed either.
 * Returns the head, which the caller adds to `expected` as the next anchor.
 */
async function checkAfterCrash(home: string, expected: ReadonlyMap<number, string>, label: string, from = 1): Promise<{seq: number; hash: string}> {
  const k = await openKernelState({home, mode: 'read'});
  try {
    let found = 0;
    let wanted = 0;
    for (const s of expected.keys()) if (s >= from) wanted++;
    for await (const e of k.ledger.entries({from})) {
      const want = expected.get(e.seq);
      if (want === undefined) continue;
      assert.equal(toHex(e.hash), want, `${label}: entry ${e.seq} has a different hash than the child was promised`);
      found++;
    }
    if (found !== wanted) {
      const missing = [...expected.keys()].filter((s) => s > k.ledger.head.seq).slice(0, 5);
      assert.fail(`${label}: ${wanted - found} resolved appends are missing (head #${k.ledger.head.seq}, e.g. ${missing.join(', ')})`);
    }
    await sameBySession(k.ledger, from, `${label} (read-only: an unindexed tail is scanned)`);
    const report = await k.ledger.verify();
    const errors = report.issues.filter((i) => i.severity === 'error');
    assert.deepEqual(errors, [], `${label}: verification errors after a crash`);
    for (const i of report.issues) assert.equal(i.code, 'TAIL_UNCHECKPOINTED', `${label}: unexpected warning ${i.code}`);
    // Genesis and its checkpoint are one batch, so no crash can leave entries without any signed checkpoint.
    if (k.ledger.head.seq > 0) {
      assert.ok(report.checkpoints.lastSignedSeq >= 1, `${label}: entries but no valid checkpoint: ${JSON.stringify(report.checkpoints)}`);
      for (const i of report.issues) assert.ok(i.seq > 1, `${label}: genesis is not covered by its checkpoint`);
    }
    assert.equal(report.head.seq, k.ledger.head.seq);
    assert.equal(report.entries, k.ledger.head.seq, `${label}: entry count differs from the head (a hole?)`);
    return {seq: k.ledger.head.seq, hash: toHex(k.ledger.head.hash)};
  } finally {
    await k.close();
  }
}

/**
 * Every session's entries from `from` as the session index gives them equal those a scan
 * finds: the postings lost with a crash's last write beside the chain are scanned by a
 * reader and rebuilt by a writer.
 */
async function sameBySession(ledger: Ledger, from: number, label: string): Promise<void> {
  const bySession = new Map<string, number[]>();
  for await (const e of ledger.entries({from})) {
    const list = bySession.get(e.entry.session);
    if (list === undefined) bySession.set(e.entry.session, [e.seq]);
    else list.push(e.seq);
  }
  for (const [session, seqs] of bySession) {
    const got: number[] = [];
    for await (const e of ledger.entries({session, from})) got.push(e.seq);
    assert.deepEqual(got, seqs, `${label}: session ${session} through its index`);
  }
}

/** The crashed ledger accepts an append that links to the surviving head; it is added to `expected`. */
async function appendAfterCrash(home: string, expected: Map<number, string>, label: string): Promise<void> {
  const k = await openKernelState({home, mode: 'write'});
  try {
    const before = k.ledger.head;
    // The writer has rebuilt any postings the crash lost: the index agrees with a scan.
    await sameBySession(k.ledger, Math.max(1, before.seq - 2000), `${label} (rebuilt by the writer)`);
    const a = await k.ledger.append({kind: 'note', body: {text: `appended after ${label}`}, session: 'crash-test'});
    assert.equal(a.seq, before.seq + 1);
    const back = await k.ledger.read(a.seq);
    assert.ok(back !== undefined);
    // Compared as hex: a head made by this process (a genesis it just wrote) is a Uint8Array, a decoded prev may be a Buffer.
    assert.equal(toHex(back.entry.prev), toHex(before.hash), `${label}: the new entry does not link to the surviving head`);
    expected.set(a.seq, toHex(a.hash)); // the next checkAfterCrash verifies the chain through it
  } finally {
    await k.close();
  }
}

/** SIGKILL the append child `delayMs` after spawning it, whether or not it became ready ('ready': as soon as it is). */
function killAfterSpawn(
  home: string,
  seed: number,
  delayMs: number | 'ready',
): Promise<{readyAfterMs: number | undefined; signal: NodeJS.Signals | null; stderr: string}> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, [CHILD, 'append', home, String(seed), '100'], {stdio: ['ignore', 'pipe', 'pipe']});
    let readyAfterMs: number | undefined;
    let stderr = '';
    const timer = delayMs === 'ready' ? undefined : setTimeout(() => child.kill('SIGKILL'), delayMs);
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      if (readyAfterMs === undefined && /^ready /m.test(d)) {
        readyAfterMs = performance.now() - started;
        if (delayMs === 'ready') child.kill('SIGKILL');
      }
    });
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (_status, signal) => {
      clearTimeout(timer);
      resolve({readyAfterMs, signal, stderr});
    });
  });
}

interface TrialPlan {
  readonly seed: number;
  readonly checkpointEvery: number;
  readonly delayMs: number;
}

function plan(rnd: () => number): TrialPlan {
  return {
    seed: rnd(),
    checkpointEvery: CHECKPOINT_EVERY[rnd() % CHECKPOINT_EVERY.length] as number,
    delayMs: 20 + (rnd() % 381),
  };
}

/** One kill on `home`, with the reports merged into `expected`; returns the trial's label. */
async function trial(home: string, p: TrialPlan, n: number, afterFirstAppend: boolean, expected: Map<number, string>): Promise<string> {
  const label = `trial ${n} (seed ${p.seed}, checkpointEvery ${p.checkpointEvery}, kill ${p.delayMs} ms after ${afterFirstAppend ? 'first append' : 'ready'})`;
  const r = await runAndKill(home, p.seed, p.checkpointEvery, p.delayMs, afterFirstAppend);
  assert.equal(r.signal, 'SIGKILL', `${label}: the child ended on its own (status ${r.status}): ${r.stderr}`);
  assert.ok(r.readyHead >= 1, `${label}: the child never became ready: ${r.stderr}`);
  for (const [seq, hash] of r.reported) {
    assert.ok(seq > r.readyHead, `${label}: reported seq ${seq} is not after the head it opened at (${r.readyHead})`);
    assert.equal(expected.has(seq), false, `${label}: seq ${seq} reported twice`);
    expected.set(seq, hash);
  }
  if (afterFirstAppend) assert.ok(r.reported.length > 0, `${label}: killed before its first append on the crashed ledger`);
  return label;
}

const baseSeed = Number(process.env.ASTRID_CRASH_SEED ?? 0x5eed_a571d) >>> 0;

describe('crash safety under SIGKILL', {timeout: 110_000}, () => {
  it(`${SHARED_TRIALS} kills on one home that keeps growing`, async (t) => {
    t.diagnostic(`base seed ${baseSeed}`);
    const rnd = xorshift32(baseSeed);
    const {dir, cleanup} = tmpDir('astrid-crash-');
    const home = join(dir, 'home');
    const expected = new Map<number, string>();
    try {
      let chained = false;
      let anchor = 1;
      for (let n = 1; n <= SHARED_TRIALS; n++) {
        const label = await trial(home, plan(rnd), n, chained, expected);
        const head = await checkAfterCrash(home, expected, label, anchor);
        t.diagnostic(`${label}: ${expected.size} resolved appends so far, all present; head seq ${head.seq}`);
        // What survived this crash must survive every later one: it anchors the next check.
        expected.set(head.seq, head.hash);
        anchor = head.seq;
        // A third of the trials leave the crashed ledger as it is for the next child.
        chained = n < SHARED_TRIALS && rnd() % 3 === 0;
        if (!chained) await appendAfterCrash(home, expected, label);
      }
      await checkAfterCrash(home, expected, 'final (every append of every trial, re-read)');
    } finally {
      cleanup();
    }
  });

  it(`${FRESH_TRIALS} kills on fresh homes`, async (t) => {
    const rnd = xorshift32(baseSeed ^ 0xf7e5_4321);
    for (let n = 1; n <= FRESH_TRIALS; n++) {
      const {dir, cleanup} = tmpDir('astrid-crash-fresh-');
      try {
        const home = join(dir, 'home');
        const expected = new Map<number, string>();
        const label = await trial(home, plan(rnd), n, false, expected);
        const head = await checkAfterCrash(home, expected, label);
        t.diagnostic(`${label}: ${expected.size} resolved appends so far, all present; head seq ${head.seq}`);
        await appendAfterCrash(home, expected, label);
        await checkAfterCrash(home, expected, `${label}, after the new append`);
      } finally {
        cleanup();
      }
    }
  });
});

describe('crash safety under SIGKILL while a fresh home is created', {timeout: 90_000}, () => {
  it(`${EARLY_TRIALS} kills around the end of start-up: never a genesis without its checkpoint`, async (t) => {
    const rnd = xorshift32(baseSeed ^ 0x0e4e_1e55);
    // Calibrate: how long this machine takes to open a fresh home and report ready.
    let readyMs = 0;
    {
      const {dir, cleanup} = tmpDir('astrid-crash-early-');
      try {
        const r = await killAfterSpawn(join(dir, 'home'), rnd(), 'ready');
        assert.equal(r.signal, 'SIGKILL', r.stderr);
        assert.ok(r.readyAfterMs !== undefined, `the calibration child never became ready: ${r.stderr}`);
        readyMs = r.readyAfterMs;
      } finally {
        cleanup();
      }
    }
    const outcomes: string[] = [];
    for (let n = 1; n <= EARLY_TRIALS; n++) {
      const {dir, cleanup} = tmpDir('astrid-crash-early-');
      try {
        const home = join(dir, 'home');
        // 70% .. 105% of the calibrated start-up time: most kills land inside the open.
        const delayMs = Math.round((readyMs * (700 + (rnd() % 351))) / 1000);
        const label = `early trial ${n} (kill ${delayMs} ms after spawn, ready takes ~${Math.round(readyMs)} ms)`;
        const r = await killAfterSpawn(home, rnd(), delayMs);
        assert.equal(r.signal, 'SIGKILL', `${label}: the child ended on its own: ${r.stderr}`);
        const expected = new Map<number, string>();
        const head = await checkAfterCrash(home, expected, label);
        outcomes.push(head.seq === 0 ? 'empty' : r.readyAfterMs === undefined ? 'genesis, not ready' : 'ready');
        t.diagnostic(`${label}: ${r.readyAfterMs === undefined ? 'killed before ready' : 'killed after ready'}, head seq ${head.seq}`);
        // Whatever the kill left, the next open completes it (or starts it) and the ledger verifies.
        await appendAfterCrash(home, expected, label);
        const after = await checkAfterCrash(home, expected, `${label}, after the new append`);
        assert.ok(after.seq >= 2, `${label}: no genesis after reopening`);
      } finally {
        cleanup();
      }
    }
    t.diagnostic(`outcomes: ${outcomes.join(', ')}`);
  });
});
