/**
 * Wiring of the capsule store for a kernel state: the home's store directory, the ledger,
 * and the binaryen instrumenter (loaded lazily, only when a module must be instrumented).
 */
import {CapsuleStore, instrument, METER_VERSION} from '../sandbox/index.js';
import type {KernelState} from './open.js';

export function openCapsuleStore(k: KernelState): CapsuleStore {
  return new CapsuleStore({home: k.home, ledger: k.ledger, hasher: k.ledger.hasher, instrument, meterVersion: METER_VERSION});
}
