/**
 * Kernel benchmark, part 3: `Daemon.start` to ready on a home whose ledger holds 1M entries
 * (20k with --quick), and `daemon.stop()`:
 * - with --full-verify and no snapshots (the whole chain verified before serving, every
 *   projection folded from genesis in one pass): the worst case;
 * - the default boot without snapshots (the tail after the anchor verified before serving,
 *   the whole chain in the background after; projections from genesis);
 * - the default boot with the snapshots the previous stop saved.
 * The state hashes of every boot are compared.
 */
import {rm} from 'node:fs/promises';
import {join} from 'node:path';
import {performance} from 'node:perf_hooks';
import {authorityProjection} from '../src/capabilities/index.js';
import {Daemon, openKernelState, sessionsProjection, capsulesProjection} from '../src/kernel/index.js';
import {packMsgpack, rebuild, snapshotKey, type Ledger, type Projection} from '../src/ledger/index.js';
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

/** One boot and stop (the stop saves a snapshot of every projection). */
async function bootOnce(home: string, fullVerify: boolean): Promise<Boot> {
  let lastProgress = 0;
  const t0 = performance.now();
  const d = await Daemon.start({home, fullVerify, onVerify: () => (lastProgress = performance.now())});
  const totalMs = performance.now() - t0;
  const state = await d.runtime.stateHashes();
  const t1 = performance.now();
  await d.stop('bench');
  return {totalMs, verifyMs: Math.max(0, (lastProgress || t0) - t0), bootMs: d.boot.bootMs, stopMs: performance.now() - t1, entries: d.boot.verify.entries, stateAll: state.all};
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
    ctx.progress('boot with --full-verify, no snapshots');
    const full = await bootOnce(home, true);
    await dropSnapshots(home);
    ctx.progress('boot (default), no snapshots');
    const plain = await bootOnce(home, false);
    ctx.progress('boot (default), with the snapshots the last stop saved');
    const snapped = await bootOnce(home, false);
    const use = await snapshotUse(home);
    const one = (b: Boot, f: (x: Boot) => number): Measurement => ms([f(b)]);
    rec('boot to ready, --full-verify, no snapshots', one(full, (b) => b.totalMs), 'ms', `Daemon.start on ${formatNumber(full.entries)} entries: verify the whole chain, kernel.boot + checkpoint, rebuild 5 projections from genesis in one pass, load capsules, listen`, 'boot');
    rec('  of which verification', one(full, (b) => b.verifyMs), 'ms', 'until the verifier reports its last entry', 'boot');
    rec('  verify rate', one(full, (b) => b.entries / (Math.max(1, b.verifyMs) / 1000)), 'entries/s', 'entries / verification time', 'boot');
    const noSnap = rec('boot to ready, no snapshots', one(plain, (b) => b.totalMs), 'ms', 'default boot: the tail after the anchor verified (the whole chain follows in the background), 5 projections rebuilt from genesis in one pass', 'boot');
    rec('  of which rebuild and the rest', one(plain, (b) => b.totalMs - b.verifyMs), 'ms', 'kernel.boot, checkpoint, one-pass rebuild, capsules, socket', 'boot');
    const snap = rec('boot to ready, with snapshots', one(snapped, (b) => b.totalMs), 'ms', 'default boot: tail verified, every projection from its signed snapshot plus the entries after it', 'boot');
    rec('daemon.stop()', ms([full, plain, snapped].map((b) => b.stopMs)), 'ms', 'kernel.shutdown, snapshots of 5 projections, signed checkpoint, close', 'boot');
    report.note(B, `snapshot use after a stop: ${use}`);
    const same = [full, plain, snapped].every((b) => b.stateAll === full.stateAll);
    report.note(B, `state hashes (all projections) of every boot: ${same ? 'equal' : 'DIFFERENT'}`);
    report.note(B, `boot without snapshots ${formatNumber(noSnap / 1000)} s (target <= 10 s): ${noSnap <= 10_000 ? 'MET' : 'NOT MET'}; with --full-verify ${formatNumber(full.totalMs / 1000)} s`);
    report.note(B, `boot with snapshots ${formatNumber(snap / 1000)} s (target <= 1 s): ${snap <= 1000 ? 'MET' : 'NOT MET'}`);
  } finally {
    await rm(root, {recursive: true, force: true});
  }
}
