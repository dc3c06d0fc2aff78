/**
 * Open the embedded kernel state for one operation and always close it (a write-mode close
 * writes the final checkpoint).
 */
import {openKernelState, type KernelState} from '../kernel/index.js';

export async function withKernel<T>(home: string, mode: 'read' | 'write', f: (k: KernelState) => Promise<T>): Promise<T> {
  const k = await openKernelState({home, mode});
  try {
    return await f(k);
  } finally {
    await k.close();
  }
}
