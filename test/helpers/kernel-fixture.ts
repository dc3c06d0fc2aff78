/**
 * A kernel on a fresh home for one describe block: opened (with its capsule store) before
 * the block's tests, closed and removed after them. Call it inside `describe`.
 */
import {after, before} from 'node:test';
import {join} from 'node:path';
import {openCapsuleStore, openKernelState, type KernelState} from '../../src/kernel/index.js';
import type {CapsuleStore} from '../../src/sandbox/index.js';
import {tmpDir} from './index.js';

export interface KernelFixture {
  /** The temporary directory: the home is `dir/home`; put packages and data beside it. */
  readonly dir: string;
  readonly k: KernelState;
  readonly store: CapsuleStore;
}

export function kernelFixture(prefix: string): KernelFixture {
  const {dir, cleanup} = tmpDir(prefix);
  let k: KernelState | undefined;
  let store: CapsuleStore | undefined;
  before(async () => {
    k = await openKernelState({home: join(dir, 'home'), mode: 'write'});
    store = openCapsuleStore(k);
  });
  after(async () => {
    await k?.close();
    cleanup();
  });
  const opened = <T>(v: T | undefined): T => {
    if (v === undefined) throw new Error('kernelFixture: used before its before() hook ran');
    return v;
  };
  return {
    dir,
    get k() {
      return opened(k);
    },
    get store() {
      return opened(store);
    },
  };
}
