/**
 * Benchmark harness: run a measurement several times after a warm-up, keep the median,
 * collect results and ratios into a Report, print them as a table or as JSON.
 *
 * A benchmark never asserts. It measures, and a ratio with a target is marked MET or
 * NOT MET; the exit code does not depend on it.
 */
import {performance} from 'node:perf_hooks';

/** One measured number. `samples` are the per-run values the median was taken from. */
export interface Result {
  readonly bench: string;
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  readonly samples: readonly number[];
  /** (max - min) / median over the samples, when there is more than one. */
  readonly spread: number | undefined;
  /** Results measured in the same interleaved rounds share a group; sample i of each is from round i. */
  readonly group?: string;
  readonly note?: string;
}

/** A ratio of two results measured in the same run, optionally against a target. */
export interface Ratio {
  readonly bench: string;
  readonly numerator: string;
  readonly denominator: string;
  readonly value: number;
  /** The ratio must be at least this to meet the target. */
  readonly target: number | undefined;
  readonly met: boolean | undefined;
  /** Per-round ratios, when both sides were measured in the same interleaved rounds. */
  readonly rounds?: readonly number[];
  readonly note?: string;
}

export interface Measurement {
  /** Median over the timed runs. */
  readonly median: number;
  readonly min: number;
  readonly max: number;
  readonly samples: readonly number[];
}

export interface MeasureOptions<S> {
  /** Untimed, before every run (warm-up included); its value is passed to `run` and `teardown`. */
  readonly setup?: () => S | Promise<S>;
  /** The timed part. Returns how many operations it performed. */
  readonly run: (state: S) => number | Promise<number>;
  /** Untimed, after every run. */
  readonly teardown?: (state: S) => void | Promise<void>;
  /** Untimed runs before measuring (default 1). */
  readonly warmup?: number;
  /** Timed runs; the median is reported (default 3). */
  readonly runs?: number;
}

/** Median of a non-empty list. */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/** The p-th percentile (0..100, nearest rank) of a non-empty list. */
export function percentile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const rank = Math.min(s.length, Math.max(1, Math.ceil((p / 100) * s.length)));
  return s[rank - 1] as number;
}

function summarise(samples: readonly number[]): Measurement {
  return {median: median(samples), min: Math.min(...samples), max: Math.max(...samples), samples};
}

/** One run of `o`: setup, timed run, teardown. Returns operations per second. */
async function once<S>(o: MeasureOptions<S>): Promise<number> {
  const state = (o.setup ? await o.setup() : undefined) as S;
  let ops: number;
  let ms: number;
  try {
    const t0 = performance.now();
    ops = await o.run(state);
    ms = performance.now() - t0;
  } finally {
    if (o.teardown) await o.teardown(state);
  }
  return ops / (ms / 1000);
}

/** Time `o.run` over warm-up + timed runs; returns operations per second (median, min, max). */
export async function measure<S = undefined>(o: MeasureOptions<S>): Promise<Measurement> {
  const warmup = o.warmup ?? 1;
  const runs = o.runs ?? 3;
  const rates: number[] = [];
  for (let i = 0; i < warmup + runs; i++) {
    const r = await once(o);
    if (i >= warmup) rates.push(r);
  }
  return summarise(rates);
}

/** One timed run (setup and teardown untimed) returning operations per second. */
export type Case = () => Promise<number>;

/** A case for `measureInterleaved` (its `warmup` and `runs` are ignored). */
export function timed<S = undefined>(o: MeasureOptions<S>): Case {
  return () => once(o);
}

/**
 * Measure several cases in rounds (warm-up rounds, then timed rounds), each round running
 * every case once in order. Cases to be compared then share the machine's conditions
 * (load from other processes, thermal state, page cache), so their ratio is steadier
 * than the ratio of two back-to-back series.
 */
export async function measureInterleaved<K extends string>(
  cases: Record<K, Case>,
  o: {warmup?: number; runs?: number} = {},
): Promise<Record<K, Measurement>> {
  const warmup = o.warmup ?? 1;
  const runs = o.runs ?? 3;
  const keys = Object.keys(cases) as K[];
  const rates = new Map<K, number[]>(keys.map((k) => [k, []]));
  for (let i = 0; i < warmup + runs; i++) {
    for (const k of keys) {
      const r = await cases[k]();
      if (i >= warmup) (rates.get(k) as number[]).push(r);
    }
  }
  return Object.fromEntries(keys.map((k) => [k, summarise(rates.get(k) as number[])])) as Record<K, Measurement>;
}

/** Collected results of one `npm run bench` invocation. */
export class Report {
  readonly results: Result[] = [];
  readonly ratios: Ratio[] = [];
  readonly notes: {bench: string; text: string}[] = [];

  /** Record a measurement (ops/s) or a single value. Returns the median value. */
  add(bench: string, name: string, m: Measurement | number, unit: string, note?: string, group?: string): number {
    const samples = typeof m === 'number' ? [m] : m.samples;
    const value = typeof m === 'number' ? m : m.median;
    const spread = samples.length > 1 ? (Math.max(...samples) - Math.min(...samples)) / value : undefined;
    this.results.push({bench, name, value, unit, samples, spread, ...(group === undefined ? {} : {group}), ...(note === undefined ? {} : {note})});
    return value;
  }

  #result(bench: string, name: string): Result {
    const r = this.results.find((x) => x.bench === bench && x.name === name);
    if (r === undefined) throw new Error(`no result "${name}" in ${bench}`);
    return r;
  }

  /** The value of a result recorded earlier. @throws Error when there is none by that name. */
  value(bench: string, name: string): number {
    return this.#result(bench, name).value;
  }

  /**
   * Record numerator / denominator (both results already added; the ratio of their medians),
   * with an optional minimum target. When both were measured in the same interleaved rounds,
   * the per-round ratios are kept too.
   */
  ratio(bench: string, numerator: string, denominator: string, target?: number, note?: string): Ratio {
    const a = this.#result(bench, numerator);
    const b = this.#result(bench, denominator);
    const value = a.value / b.value;
    const paired = a.group !== undefined && a.group === b.group && a.samples.length === b.samples.length && a.samples.length > 1;
    const r: Ratio = {
      bench,
      numerator,
      denominator,
      value,
      target,
      met: target === undefined ? undefined : value >= target,
      ...(paired ? {rounds: a.samples.map((x, i) => x / (b.samples[i] as number))} : {}),
      ...(note === undefined ? {} : {note}),
    };
    this.ratios.push(r);
    return r;
  }

  note(bench: string, text: string): void {
    this.notes.push({bench, text});
  }

  toJSON(): object {
    return {results: this.results, ratios: this.ratios, notes: this.notes};
  }

  /** The human-readable form: per benchmark, a table of results, then ratio lines, then notes. */
  format(): string {
    const out: string[] = [];
    const benches = [...new Set([...this.results.map((r) => r.bench), ...this.ratios.map((r) => r.bench)])];
    for (const bench of benches) {
      const rows = this.results.filter((r) => r.bench === bench);
      out.push(`== ${bench} ==`);
      const table = rows.map((r) => [
        r.name,
        formatNumber(r.value),
        r.unit,
        r.samples.length > 1 ? `${formatNumber(Math.min(...r.samples))} .. ${formatNumber(Math.max(...r.samples))}` : '',
        r.spread === undefined ? '' : `${(r.spread * 100).toFixed(0)}%`,
        r.note ?? '',
      ]);
      out.push(...formatTable(['name', 'median', 'unit', 'min .. max', 'spread', 'note'], table, [false, true, false, true, true, false]));
      const ratios = this.ratios.filter((r) => r.bench === bench);
      if (ratios.length > 0) out.push('');
      for (const r of ratios) {
        let line = `${r.numerator} / ${r.denominator} = ${r.value.toFixed(2)}`;
        if (r.target !== undefined) line += ` (target >= ${r.target.toFixed(2)}) ${r.met ? 'MET' : 'NOT MET'}`;
        if (r.rounds !== undefined) line += `; per round ${r.rounds.map((x) => x.toFixed(2)).join(', ')}`;
        if (r.note !== undefined) line += `  [${r.note}]`;
        out.push(line);
      }
      const notes = this.notes.filter((n) => n.bench === bench);
      if (notes.length > 0) out.push('');
      for (const n of notes) out.push(`note: ${n.text}`);
      out.push('');
    }
    return out.join('\n');
  }
}

/** 3 significant digits for small numbers, thousands separators for large ones. */
export function formatNumber(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  if (a >= 1000) return Math.round(x).toLocaleString('en-US');
  if (a >= 100) return x.toFixed(0);
  if (a >= 10) return x.toFixed(1);
  if (a >= 1) return x.toFixed(2);
  return x.toPrecision(3);
}

function formatTable(head: readonly string[], rows: readonly (readonly string[])[], rightAlign: readonly boolean[]): string[] {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((c, i) => (rightAlign[i] ? c.padStart(widths[i] as number) : c.padEnd(widths[i] as number)))
      .join('  ')
      .trimEnd();
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)];
}

/** What a benchmark receives. Progress goes to stderr so that `--json` output stays clean. */
export interface BenchContext {
  readonly report: Report;
  /** `--quick`: fewer entries and runs, for a smoke test; the numbers are not meaningful. */
  readonly quick: boolean;
  progress(text: string): void;
}

/** A registered benchmark module exports `benchmark` of this shape. */
export interface Benchmark {
  readonly name: string;
  readonly description: string;
  run(ctx: BenchContext): Promise<void>;
}
