/**
 * Kernel benchmark, part 3: `Daemon.start` to ready on a home whose ledger holds 1M entries
 * (20k with --quick), without snapshots and with a signed snapshot of each projection the
 * daemon rebuilds, and `daemon.stop()`.
 *
 * `Daemon.stop` saves no snapshots in this checkout, so the benchmark saves them itself,
 * with `saveSnapshot`, from the states of the idle daemon just before it stops (as a stop
 * that saved them would); the next `Daemon.start` then rebuilds from them through the same
 * `rebuild` it always calls. The state hashes of both boots are compared.
 */
import {rm} from 'node:fs/promises';
import {join} from 'node:path';
import {performance} from 'node:perf_hooks';
import {authorityProjection} from '../src/capabilities/index.js';
import {Daemon, openKernelState, sessionsProjection, capsulesProjection} from '../src/kernel/index.js';
import {packMsgpack, rebuild, saveSnapshot, snapshotKey, type Ledger, type Projection} from '../src/ledger/index.js';
import {installedProjection, kvProjection} from '../src/sandbox/index.js';
import {formatNumber, median, type BenchContext, type Measurement} from './harness.js';
import {random, recorder, tempDir} from './kit.js';

/** Names of the projections the daemon rebuilds at boot (runtime.ts and authority.ts). */
const PROJECTIONS = [authorityProjection, sessionsProjection, capsulesProjection, installedProjection, kvProjection].map((p) => p.name);
const BUILD_CHUNK = 20_000;
const PAYLOAD_BYTES = 100;

interface Boot {
  /** Daemon.start called until it resolved (listening). */
  readonly totalMs: number;
  /** From the call until the verifier's last progress report: opening the ledger and verifying the chain. */
  readonly verifyMs: number;
  /** The daemon's own boot.bootMs. */
  readonly bootMs: number;
  readonly stopMs: number;
  readonly entries: number;
  readonly stateAll: string;
}

/** Append `n` bus.message entries in chunks, one chunk's durability awaited while the next is queued. */
async function fill(ledger: Ledger, n: number): Promise<void> {
  const payloads = Array.from({length: 64}, () => packMsgpack(random(PAYLOAD_BYTES)));
  let pending: Promise<unknown> | undefined;
  for (let i = 0; i < n; ) {
    let last: Promise<unknown> | undefined;
    const end = Math.min(n, i + BUILD_CHUNK);
    for (; i < end; i++) {
      last = ledger.enqueue({kind: 'bus.message', body: {topic: 'bench.fill', payload: payloads[i & 63] as Uint8Array, from: 'capsule-a', corr: ''}, session: `s-fill-${i & 15}`, principal: 'owner', actor: 'capsule-a'}).durable;
    }
    await pending;
    pending = last;
  }
  await pending;
}

/** One boot and stop; with `save`, the daemon's states are saved as snapshots before it stops. */
async function bootOnce(home: string, save: boolean): Promise<Boot> {
  let lastProgress = 0;
  const t0 = performance.now();
  const d = await Daemon.start({home, onVerify: () => (lastProgress = performance.now())});
  const totalMs = performance.now() - t0;
  const rt = d.runtime;
  const state = await rt.stateHashes();
  if (save) {
    const ledger = rt.k.ledger;
    await ledger.flush();
    const seq = ledger.durableHead.seq;
    const authority = (await rt.authority()).state;
    const [sessions, capsules, installed, kv] = [await rt.sessions.current(), await rt.capsules.current(), await rt.installed.current(), await rt.kv.current()];
    if (ledger.durableHead.seq !== seq) throw new Error('the idle daemon appended while its states were read');
    await saveSnapshot(ledger, authorityProjection, authority, seq);
    await saveSnapshot(ledger, sessionsProjection, sessions, seq);
    await saveSnapshot(ledger, capsulesProjection, capsules, seq);
    await saveSnapshot(ledger, installedProjection, installed, seq);
    await saveSnapshot(ledger, kvProjection, kv, seq);
  }
  const t1 = performance.now();
  await d.stop('bench');
  return {totalMs, verifyMs: lastProgress - t0, bootMs: d.boot.bootMs, stopMs: performance.now() - t1, entries: d.boot.verify.entries, stateAll: state.all};
}

/** Remove every projection's snapshot record. */
async function dropSnapshots(home: string): Promise<void> {
  const k = await openKernelState({home, mode: 'write'});
  try {
    await k.ledger.store.batch(
      PROJECTIONS.map((name) => ({type: 'del' as const, key: snapshotKey(name)})),
      {sync: true},
    );
  } finally {
    await k.close();
  }
}

/** Which projections a rebuild takes from a snapshot now, and how many entries each folds after it. */
async function snapshotUse(home: string): Promise<string> {
  const k = await openKernelState({home, mode: 'read'});
  try {
    const say = async <S>(p: Projection<S>): Promise<string> => {
      const r = await rebuild(k.ledger, p);
      return `${p.name} ${r.source}${r.source === 'snapshot' ? ` +${r.folded}` : ''}${r.discarded === undefined ? '' : ` (discarded: ${r.discarded})`}`;
    };
    return [await say(authorityProjection), await say(sessionsProjection), await say(capsulesProjection), await say(installedProjection), await say(kvProjection)].join(', ');
  } finally {
    await k.close();
  }
}

const ms = (xs: readonly number[]): Measurement => ({median: median(xs), min: Math.min(...xs), max: Math.max(...xs), samples: xs});

/** Section 3: boot on a large ledger, without and with snapshots. */
export async function bootSection(ctx: BenchContext, B: string): Promise<void> {
  const {report, quick} = ctx;
  const rec = recorder(ctx, B);
  const N = quick ? 20_000 : 1_000_000;
  /** One round: a boot without snapshots takes over a minute on 1M entries here. More rounds drop the snapshots between them. */
  const RUNS = 1;
  const root = await tempDir('kernel-boot');
  const home = join(root, 'home');
  try {
    ctx.progress(`building a ledger of ${formatNumber(N)} bus.message entries`);
    const t0 = performance.now();
    {
      const k = await openKernelState({home, mode: 'write'});
      try {
        await fill(k.ledger, N);
      } finally {
        await k.close();
      }
    }
    const buildMs = performance.now() - t0;
    rec('ledger build (untimed setup)', N / (buildMs / 1000), 'entries/s', `${formatNumber(N)} bus.message entries (${PAYLOAD_BYTES} B payloads, 16 sessions) through openKernelState, ${formatNumber(BUILD_CHUNK)} per chunk`);
    // Rounds: a boot without snapshots (the first has never had one; later ones after dropping them)
    // whose stop saves snapshots, then a boot that uses them.
    const without: Boot[] = [];
    const withSnap: Boot[] = [];
    let use = '';
    for (let i = 0; i < RUNS; i++) {
      if (i > 0) await dropSnapshots(home);
      ctx.progress(`boot ${i + 1} without snapshots`);
      without.push(await bootOnce(home, true));
      ctx.progress(`boot ${i + 1} with snapshots`);
      withSnap.push(await bootOnce(home, false));
      if (i === 0) use = await snapshotUse(home);
    }
    const entries = without[0]?.entries ?? 0;
    const part = (xs: readonly Boot[], f: (b: Boot) => number): Measurement => ms(xs.map(f));
    const noSnap = rec('boot to ready, no snapshots', part(without, (b) => b.totalMs), 'ms', `Daemon.start on ${formatNumber(entries)} entries: open, verify, kernel.boot + checkpoint, rebuild 5 projections from genesis, load capsules, listen`, 'boot');
    rec('boot, no snapshots: open + verify', part(without, (b) => b.verifyMs), 'ms', 'until the verifier reports its last entry (the chain, checkpoints and anchor)', 'boot');
    rec('boot, no snapshots: after verify', part(without, (b) => b.totalMs - b.verifyMs), 'ms', 'kernel.boot, checkpoint, rebuild, capsules, socket', 'boot');
    rec('boot, no snapshots: verify rate', part(without, (b) => b.entries / (b.verifyMs / 1000)), 'entries/s', 'entries / (open + verify)', 'boot');
    rec('boot, no snapshots: rebuild rate', part(without, (b) => (PROJECTIONS.length * b.entries) / ((b.totalMs - b.verifyMs) / 1000)), 'entries/s', `${PROJECTIONS.length} projections x entries, each projection folding its own scan of the ledger, / (after verify)`, 'boot');
    rec('boot, no snapshots: daemon boot.bootMs', part(without, (b) => b.bootMs), 'ms', "the daemon's own figure (its clock, from the start of Daemon.start)", 'boot');
    const snap = rec('boot to ready, with snapshots', part(withSnap, (b) => b.totalMs), 'ms', 'the same, each projection rebuilt from its signed snapshot plus the few entries after it; the chain is still verified in full', 'boot');
    rec('boot, with snapshots: open + verify', part(withSnap, (b) => b.verifyMs), 'ms', 'as above', 'boot');
    const rest = rec('boot, with snapshots: after verify', part(withSnap, (b) => b.totalMs - b.verifyMs), 'ms', 'snapshots loaded (signature, state hash, entry hash checked) and decoded', 'boot');
    rec('daemon.stop()', part([...without, ...withSnap], (b) => b.stopMs), 'ms', 'kernel.shutdown, signed checkpoint, close; all boots', 'boot');
    report.note(B, `snapshot use after the first save: ${use}`);
    const same = [...without, ...withSnap].every((b) => b.stateAll === without[0]?.stateAll);
    report.note(B, `state hashes (all projections) of every boot, with and without snapshots: ${same ? 'equal' : 'DIFFERENT'}`);
    report.note(B, 'Daemon.stop saves no snapshots in this checkout: the benchmark saves one per projection with saveSnapshot from the idle daemon just before its stop (untimed), then times the next Daemon.start');
    report.note(B, `boot without snapshots ${formatNumber(noSnap / 1000)} s (target <= 10 s): ${noSnap <= 10_000 ? 'MET' : 'NOT MET'}`);
    report.note(
      B,
      `boot with snapshots ${formatNumber(snap / 1000)} s (target <= 1 s): ${snap <= 1000 ? 'MET' : 'NOT MET'}; without the full chain verification (${formatNumber(rest)} ms): ${rest <= 1000 ? 'MET' : 'NOT MET'}`,
    );
  } finally {
    await rm(root, {recursive: true, force: true});
  }
}
