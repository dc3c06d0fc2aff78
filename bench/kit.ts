/**
 * Small helpers shared by the benchmarks: the wall clock they inject, random bytes from
 * node:crypto, temporary directories, a recorder that adds a result and prints progress,
 * a sliding-window driver for pipelined work, and rates per CPU second beside the wall-time
 * ones.
 */
import {randomBytes} from 'node:crypto';
import {mkdtemp} from 'node:fs/promises';
import {loadavg, tmpdir} from 'node:os';
import {join} from 'node:path';
import type {Clock} from '../src/ledger/index.js';
import {formatNumber, median, type BenchContext, type Measurement} from './harness.js';

/** The real clock, injected where the kernel takes a Clock. */
export const clock: Clock = {now: () => Date.now()};

/** Random bytes from node:crypto (Math.random is banned by lint). */
export const random = (n: number): Uint8Array => new Uint8Array(randomBytes(n));

/** A fresh directory under os.tmpdir(); the caller removes it. */
export function tempDir(tag: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `astrid-bench-${tag}-`));
}

/** The 1, 5 and 15 minute load averages, for notes. */
export const loadAverage = (): string =>
  loadavg()
    .map((x) => x.toFixed(1))
    .join(' ');

/** `report.add` for one benchmark that also prints the value as progress; returns the value. */
export function recorder(ctx: BenchContext, bench: string): (name: string, m: Measurement | number, unit: string, note?: string, group?: string) => number {
  return (name, m, unit, note, group) => {
    const v = ctx.report.add(bench, name, m, unit, note, group);
    ctx.progress(`${name}: ${formatNumber(v)} ${unit}`);
    return v;
  };
}

/**
 * Run `n` asynchronous operations with at most `window` unresolved at once (a sliding
 * window); resolves when all have, rejects on the first failure.
 */
export function windowed(n: number, window: number, op: (i: number) => Promise<unknown>): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (n === 0) {
      resolve();
      return;
    }
    let issued = 0;
    let done = 0;
    let inFlight = 0;
    const onDone = (): void => {
      inFlight--;
      if (++done === n) resolve();
      else pump();
    };
    const pump = (): void => {
      while (inFlight < window && issued < n) {
        inFlight++;
        op(issued++).then(onDone, reject);
      }
    };
    pump();
  });
}

/**
 * Operations per second of process CPU time (all threads, LevelDB's and libuv's included),
 * per run, by key: less sensitive to other load on the machine than wall time.
 */
export class CpuRates {
  readonly #rates = new Map<string, number[]>();

  /** `run`, timed by CPU as well: its rate is kept under `key`. */
  wrap<S>(key: string, run: (state: S) => number | Promise<number>): (state: S) => Promise<number> {
    return async (state) => {
      const c0 = process.cpuUsage();
      const ops = await run(state);
      const c = process.cpuUsage(c0);
      const list = this.#rates.get(key) ?? [];
      list.push(ops / ((c.user + c.system) / 1e6));
      this.#rates.set(key, list);
      return ops;
    };
  }

  /** The rates kept under `key`, the first `warmup` runs left out. */
  summary(key: string, warmup: number): Measurement {
    const xs = (this.#rates.get(key) ?? []).slice(warmup);
    return {median: median(xs), min: Math.min(...xs), max: Math.max(...xs), samples: xs};
  }
}
