/**
 * Kernel benchmark, part 4: resident memory with 1,000 idle capsule actors, measured in a
 * child process (kernel-idle-child.ts, run with --expose-gc) so that nothing of this
 * process's heap is counted.
 */
import {spawn} from 'node:child_process';
import {rm} from 'node:fs/promises';
import {join} from 'node:path';
import {fileURLToPath} from 'node:url';
import {DAEMON_NODE_FLAGS, openCapsuleStore, openKernelState} from '../src/kernel/index.js';
import {repoRoot} from '../test/helpers/index.js';
import {formatNumber, type BenchContext} from './harness.js';
import {recorder, tempDir} from './kit.js';
import type {IdleFigures} from './kernel-idle-child.js';

const MB = 1024 * 1024;
const TARGET_MB = 300;

function runChild(n: number, home: string): Promise<string> {
  const script = fileURLToPath(new URL('./kernel-idle-child.js', import.meta.url));
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [...DAEMON_NODE_FLAGS, '--expose-gc', script, String(n), home], {stdio: ['ignore', 'pipe', 'pipe']});
    let out = '';
    let err = '';
    c.stdout.setEncoding('utf8').on('data', (s: string) => (out += s));
    c.stderr.setEncoding('utf8').on('data', (s: string) => (err += s));
    c.once('error', reject);
    c.once('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`the memory child exited with ${code}: ${err.trim().slice(-2000)}`))));
  });
}

const isUsage = (v: unknown): v is NodeJS.MemoryUsage =>
  typeof v === 'object' && v !== null && ['rss', 'heapTotal', 'heapUsed', 'external', 'arrayBuffers'].every((k) => typeof (v as Record<string, unknown>)[k] === 'number');

/** The child's one line of JSON, checked field by field. */
function parseFigures(text: string): IdleFigures {
  const v: unknown = JSON.parse(text.trim().split('\n').pop() ?? '');
  if (typeof v !== 'object' || v === null) throw new Error('the memory child printed no figures');
  const o = v as Record<string, unknown>;
  for (const k of ['n', 'createMs', 'deliverMs', 'idle', 'initialPages']) if (typeof o[k] !== 'number') throw new Error(`the memory child's figures lack ${k}`);
  if (!isUsage(o.start) || !isUsage(o.base) || !isUsage(o.after) || typeof o.gc !== 'boolean') throw new Error("the memory child's figures are malformed");
  return {n: o.n as number, start: o.start, base: o.base, after: o.after, createMs: o.createMs as number, deliverMs: o.deliverMs as number, idle: o.idle as number, initialPages: o.initialPages as number, gc: o.gc};
}

/** Section 4: RSS of a process holding 1,000 idle capsule actors, against the same process before. */
export async function idleSection(ctx: BenchContext, B: string): Promise<void> {
  const {report, quick} = ctx;
  const rec = recorder(ctx, B);
  const N = quick ? 100 : 1000;
  const home = join(await tempDir('kernel-idle'), 'home');
  let f: IdleFigures;
  try {
    const k = await openKernelState({home, mode: 'write'});
    try {
      await openCapsuleStore(k).install(join(repoRoot, 'capsules', 'echo'));
    } finally {
      await k.close();
    }
    ctx.progress(`${N} idle capsule actors in a child process`);
    f = parseFigures(await runChild(N, home));
  } finally {
    await rm(join(home, '..'), {recursive: true, force: true});
  }
  const mb = (x: number): number => x / MB;
  rec('RSS at start (child, after imports)', mb(f.start.rss), 'MB', `node --expose-gc; heap used ${formatNumber(mb(f.start.heapUsed))} MB`);
  rec('RSS baseline: kernel state open, capsule compiled', mb(f.base.rss), 'MB', `kernel state open (ledger, authority), capsules/echo loaded from the store and compiled (installed beforehand by the parent); heap used ${formatNumber(mb(f.base.heapUsed))} MB`);
  const total = rec(`RSS with ${N} idle capsule actors`, mb(f.after.rss), 'MB', `heap used ${formatNumber(mb(f.after.heapUsed))} MB, external ${formatNumber(mb(f.after.external))} MB (array buffers ${formatNumber(mb(f.after.arrayBuffers))} MB)`);
  const per = (f.after.rss - f.base.rss) / N;
  rec('RSS per idle capsule actor', per / 1024, 'KiB', `(with - baseline) / ${N}: instance with its ${f.initialPages}-page memory, session gate, XState actor; heap ${formatNumber((f.after.heapUsed - f.base.heapUsed) / N / 1024)} KiB each`);
  rec('create + init, per capsule', f.createMs / N, 'ms', `CapsuleInstance.create (astrid_init is an activation, durable) + actor, ${N} at 50 at a time`);
  rec('first delivery, per capsule', f.deliverMs / N, 'ms', 'bus.message recorded, activate (echo), durable; 50 at a time');
  report.ratio(B, `RSS with ${N} idle capsule actors`, 'RSS baseline: kernel state open, capsule compiled', undefined, 'how much the actors add to a process that already runs the kernel');
  report.note(B, `${f.idle} of ${N} actors idle after their delivery; global.gc ${f.gc ? 'run' : 'NOT exposed'} before each figure`);
  report.note(B, `resident memory with ${N} idle capsule actors ${formatNumber(total)} MB (target <= ${TARGET_MB} MB)${quick ? ' (--quick: fewer actors)' : ''}: ${total <= TARGET_MB ? 'MET' : 'NOT MET'}; ${formatNumber(per / 1024)} KiB each over the baseline`);
}
