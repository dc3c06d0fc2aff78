/**
 * Opening the embedded kernel state: the home directory, the kernel key and the ledger on
 * LevelDB. Until the daemon exists, each CLI command opens this directly; LevelDB's lock
 * makes concurrent openers fail with LEDGER_LOCKED instead of corrupting anything.
 */
import {join} from 'node:path';
import {ensurePrivateDir, loadOrCreateKernelKey, toHex} from '../crypto/index.js';
import {Ledger, LevelStore, auxLocation, type Clock, type LedgerAnchor} from '../ledger/index.js';
import {readAnchor, writeAnchor} from './anchor.js';
import {LEDGER_DIR, prepareHome} from './home.js';
import {systemClock} from './clock.js';

export interface KernelState {
  readonly home: string;
  readonly ledger: Ledger;
  /** Hex of the kernel's Ed25519 public key. */
  readonly publicKeyHex: string;
  readonly publicKey: Uint8Array;
  readonly clock: Clock;
  /** The anchor read at open (the newest checkpoint this kernel remembers writing). */
  readonly anchor: LedgerAnchor | undefined;
  close(): Promise<void>;
}

export interface OpenOptions {
  readonly home: string;
  /** 'read' never writes to the ledger (no genesis, no checkpoint at close). */
  readonly mode: 'read' | 'write';
  readonly clock?: Clock;
  readonly checkpointEvery?: number;
  readonly checkpointIntervalMs?: number;
}

/**
 * Open the home's key and ledger.
 * @throws AstridError KEY_* for key problems, LEDGER_LOCKED when another process has the
 *   ledger open, LEDGER_KEY_MISMATCH when the ledger belongs to another key (write mode).
 */
export async function openKernelState(o: OpenOptions): Promise<KernelState> {
  prepareHome(o.home);
  const key = loadOrCreateKernelKey(o.home);
  ensurePrivateDir(join(o.home, LEDGER_DIR));
  ensurePrivateDir(auxLocation(join(o.home, LEDGER_DIR)));
  const clock = o.clock ?? systemClock;
  const anchor = readAnchor(o.home);
  const home = o.home;
  const ledger = await Ledger.open({
    store: new LevelStore(join(o.home, LEDGER_DIR)),
    clock,
    signer: key,
    mode: o.mode,
    ...(anchor === undefined ? {} : {anchor}),
    onCheckpoint: (a) => writeAnchor(home, a),
    ...(o.checkpointEvery === undefined ? {} : {checkpointEvery: o.checkpointEvery}),
    ...(o.checkpointIntervalMs === undefined ? {} : {checkpointIntervalMs: o.checkpointIntervalMs}),
  });
  return {
    home: o.home,
    ledger,
    publicKey: key.publicKey,
    publicKeyHex: toHex(key.publicKey),
    clock,
    anchor,
    close: () => ledger.close(),
  };
}
