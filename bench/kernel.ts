/**
 * Kernel benchmark (issue 5 point 7), with real parts throughout (LevelDB in temporary
 * directories, Unix sockets, wasm), all in one run:
 * 1. Capsule-to-capsule publish-to-delivery through the Bus with the gate as an interceptor
 *    and the ledger, against raw ledger appends of the same entries (kernel-bus.ts).
 * 2. A client's round trip over the daemon's socket, against a raw socket echo of the same
 *    frames (kernel-uplink.ts).
 * 3. Daemon boot on a 1M-entry ledger, without and with snapshots (kernel-boot.ts).
 * 4. Resident memory with 1,000 idle capsule actors, in a child process (kernel-idle.ts).
 * Targets: 50k messages/s; boot at most 10 s without snapshots and 1 s with; at most 300 MB.
 * See bench/README.md ("kernel") for what each number includes.
 */
import {availableParallelism} from 'node:os';
import {Blake3, SigningKey} from '../src/crypto/index.js';
import type {BenchContext, Benchmark} from './harness.js';
import {loadAverage} from './kit.js';
import {busSection} from './kernel-bus.js';
import {uplinkSection} from './kernel-uplink.js';
import {bootSection} from './kernel-boot.js';
import {idleSection} from './kernel-idle.js';

const B = 'kernel';

export const benchmark: Benchmark = {
  name: B,
  description: 'bus publish-to-delivery with gate and ledger, socket round trips, boot on a large ledger, memory of idle capsule actors',
  async run(ctx: BenchContext): Promise<void> {
    ctx.report.note(B, `load average (1, 5, 15 min) at start: ${loadAverage()} on ${availableParallelism()} CPUs`);
    const signer = SigningKey.generate();
    const hasher = await Blake3.create();
    await busSection(ctx, B, signer, hasher);
    await uplinkSection(ctx, B);
    await bootSection(ctx, B);
    await idleSection(ctx, B);
    ctx.report.note(B, `load average at end: ${loadAverage()}`);
  },
};
