/**
 * Boot: what `astrid start` does until the daemon exists. Records a `kernel.boot` entry,
 * verifies the chain, folds the stats projection (from its snapshot when valid), stores a
 * fresh snapshot, and reports. The caller records `kernel.shutdown` and closes.
 */
import {rebuild, saveSnapshot, type VerifyReport} from '../ledger/index.js';
import type {KernelState} from './open.js';
import {statsProjection, statsView, type LedgerStats} from './stats.js';

export const ASTRID_VERSION = '0.1.0';

export interface BootReport {
  readonly home: string;
  readonly kernelKey: string;
  readonly bootSeq: number;
  readonly head: {readonly seq: number; readonly hash: string};
  readonly verify: VerifyReport;
  readonly stats: LedgerStats;
  readonly snapshot: {readonly used: boolean; readonly discarded?: string; readonly folded: number; readonly stateHash: string};
}

/** Boot the embedded kernel state: append kernel.boot, verify, rebuild projections. */
export async function bootReport(k: KernelState, onProgress?: (n: number, total: number) => void): Promise<BootReport> {
  const boot = await k.ledger.append({kind: 'kernel.boot', body: {version: ASTRID_VERSION, mode: 'start'}});
  await k.ledger.checkpoint(); // sign the head so the verification below covers every entry
  const total = k.ledger.head.seq;
  const verify = await k.ledger.verify({
    maxUnsignedTailMs: 60_000,
    ...(k.anchor === undefined ? {} : {anchor: k.anchor}),
    ...(onProgress ? {onProgress: (n: number) => onProgress(n, total)} : {}),
  });
  const rebuilt = await rebuild(k.ledger, statsProjection);
  await saveSnapshot(k.ledger, statsProjection, rebuilt.state, rebuilt.seq);
  return {
    home: k.home,
    kernelKey: k.publicKeyHex,
    bootSeq: boot.seq,
    head: verify.head,
    verify,
    stats: statsView(rebuilt.state),
    snapshot: {
      used: rebuilt.source === 'snapshot',
      ...(rebuilt.discarded === undefined ? {} : {discarded: rebuilt.discarded}),
      folded: rebuilt.folded,
      stateHash: rebuilt.stateHash,
    },
  };
}
