/**
 * `astrid start` until the daemon exists: open the embedded kernel state, boot (verify,
 * rebuild projections), print status, record shutdown, close with a checkpoint.
 */
import {openKernelState, bootReport, type BootReport} from '../kernel/index.js';

export async function startOnce(home: string, onProgress?: (done: number, total: number) => void): Promise<BootReport> {
  const k = await openKernelState({home, mode: 'write'});
  try {
    const report = await bootReport(k, onProgress);
    await k.ledger.append({kind: 'kernel.shutdown', body: {reason: 'one-shot start finished (daemon mode arrives with the kernel issue)'}});
    return report;
  } finally {
    await k.close();
  }
}
