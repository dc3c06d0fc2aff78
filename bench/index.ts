/**
 * `npm run bench [-- NAME...] [--json] [--quick]`
 *
 * Runs every registered benchmark, or only those named. An unknown name prints the list
 * and exits with status 2. `--json` prints the report as JSON on stdout (progress still
 * goes to stderr); `--quick` shrinks the workloads for a smoke test.
 *
 * To add a benchmark, write bench/NAME.ts exporting `benchmark: Benchmark` and add one
 * line to BENCHMARKS. Modules load lazily, so one benchmark's imports never slow another.
 */
import {spawnSync} from 'node:child_process';
import {fileURLToPath} from 'node:url';
import {DAEMON_NODE_FLAGS} from '../src/kernel/node-flags.js';
import {Report, type BenchContext, type Benchmark} from './harness.js';

const BENCHMARKS: Record<string, () => Promise<{benchmark: Benchmark}>> = {
  ledger: () => import('./ledger.js'),
  sandbox: () => import('./sandbox.js'),
  authority: () => import('./authority.js'),
  kernel: () => import('./kernel.js'),
};

function usage(): string {
  return `usage: npm run bench [-- NAME... [--json] [--quick]]\nbenchmarks: ${Object.keys(BENCHMARKS).join(', ')}`;
}

async function main(argv: readonly string[]): Promise<number> {
  const flags = new Set(argv.filter((a) => a.startsWith('-')));
  const names = argv.filter((a) => !a.startsWith('-'));
  for (const f of flags) {
    if (f !== '--json' && f !== '--quick' && f !== '--help' && f !== '-h') {
      process.stderr.write(`unknown option ${f}\n${usage()}\n`);
      return 2;
    }
  }
  if (flags.has('--help') || flags.has('-h')) {
    process.stdout.write(`${usage()}\n`);
    return 0;
  }
  const unknown = names.filter((n) => !Object.hasOwn(BENCHMARKS, n));
  if (unknown.length > 0) {
    process.stderr.write(`unknown benchmark ${unknown.map((n) => JSON.stringify(n)).join(', ')}\n${usage()}\n`);
    return 2;
  }
  const selected = names.length > 0 ? [...new Set(names)] : Object.keys(BENCHMARKS);
  const json = flags.has('--json');
  const report = new Report();
  const start = process.hrtime.bigint();
  const ctx: BenchContext = {
    report,
    quick: flags.has('--quick'),
    progress: (text) => process.stderr.write(`  [${(Number(process.hrtime.bigint() - start) / 1e9).toFixed(1).padStart(5)} s] ${text}\n`),
  };
  for (const name of selected) {
    const load = BENCHMARKS[name] as () => Promise<{benchmark: Benchmark}>;
    const {benchmark} = await load();
    process.stderr.write(`${benchmark.name}: ${benchmark.description}\n`);
    const t0 = process.hrtime.bigint();
    await benchmark.run(ctx);
    process.stderr.write(`${benchmark.name}: done in ${(Number(process.hrtime.bigint() - t0) / 1e9).toFixed(1)} s\n`);
  }
  const env = {node: process.version, platform: `${process.platform}-${process.arch}`, cpus: (await import('node:os')).availableParallelism()};
  if (json) process.stdout.write(`${JSON.stringify({env, ...report.toJSON()}, null, 2)}\n`);
  else process.stdout.write(`node ${env.node}, ${env.platform}, ${env.cpus} CPUs\n\n${report.format()}`);
  return 0;
}

/**
 * The benchmarks measure the kernel as the daemon runs it, so they run under the daemon's
 * node flags: without them, this re-runs itself with them (once; the child has them).
 */
/** The node flags this process runs with: its command line's and NODE_OPTIONS'. */
const givenFlags = [...process.execArgv, ...(process.env['NODE_OPTIONS'] ?? '').split(/\s+/)].filter((f) => f.startsWith('--'));

function missingFlags(): string[] {
  // by name: a value given on the command line or in NODE_OPTIONS is the user's choice, kept
  const names = givenFlags.map((f) => f.split('=')[0]);
  return DAEMON_NODE_FLAGS.filter((f) => !names.includes(f.split('=')[0]));
}

const missing = missingFlags();
if (missing.length > 0) {
  const r = spawnSync(process.execPath, [...process.execArgv, ...missing, fileURLToPath(import.meta.url), ...process.argv.slice(2)], {stdio: 'inherit'});
  if (r.error !== undefined) process.stderr.write(`bench: cannot re-run under ${missing.join(' ')}: ${r.error.message}\n`);
  process.exitCode = r.status ?? 1;
} else {
  process.stderr.write(`node flags: ${givenFlags.join(' ') || '(none)'} (the daemon's: ${DAEMON_NODE_FLAGS.join(' ')})\n`);
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(`bench failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
