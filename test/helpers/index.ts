/**
 * Shared test helpers: where the repository is, private temporary homes, and running the
 * real `astrid` binary (bin/run.js) as a child process.
 */
import {mkdtempSync, rmSync, existsSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {dirname, join} from 'node:path';
import {fileURLToPath} from 'node:url';
import {spawn, spawnSync} from 'node:child_process';
import {strict as assert} from 'node:assert';

function findRoot(): string {
  let d = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(d, 'package.json'))) {
    const up = dirname(d);
    if (up === d) throw new Error('repository root not found');
    d = up;
  }
  return d;
}

/** Absolute path of the repository root (where package.json is). */
export const repoRoot = findRoot();

/** Path of a file under test/vectors. */
export const vectorPath = (name: string): string => join(repoRoot, 'test', 'vectors', name);

/** A fresh private temporary directory; call the returned cleanup when done. */
export function tmpDir(prefix = 'astrid-test-'): {dir: string; cleanup: () => void} {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return {dir, cleanup: () => rmSync(dir, {recursive: true, force: true})};
}

export interface CliResult {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Run `astrid <args>` synchronously with ASTRID_HOME=home (and `input`, if given, on stdin). */
export function runCli(args: readonly string[], home: string, env: NodeJS.ProcessEnv = {}, input?: string): CliResult {
  const r = spawnSync(process.execPath, [join(repoRoot, 'bin', 'run.js'), ...args], {
    env: {...process.env, ASTRID_HOME: home, NO_COLOR: '1', ...env},
    encoding: 'utf8',
    ...(input === undefined ? {} : {input}),
    timeout: 60_000,
  });
  return {status: r.status, stdout: r.stdout, stderr: r.stderr};
}

/** Run `astrid <args>` asynchronously (lets tests run several at once). */
export function runCliAsync(args: readonly string[], home: string, env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [join(repoRoot, 'bin', 'run.js'), ...args], {
      env: {...process.env, ASTRID_HOME: home, NO_COLOR: '1', ...env},
    });
    let stdout = '';
    let stderr = '';
    c.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    c.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    c.on('error', reject);
    c.on('close', (status) => resolve({status, stdout, stderr}));
  });
}

export type Json = Record<string, unknown>;

/** stdout as exactly one JSON value, or a failed assertion showing what came out. */
export function cliJson(r: CliResult): unknown {
  try {
    return JSON.parse(r.stdout);
  } catch {
    return assert.fail(`stdout is not one JSON value (status ${r.status}): ${r.stdout}\nstderr: ${r.stderr}`);
  }
}

/** A successful --json run's result object. */
export function cliOk(r: CliResult): Json {
  assert.equal(r.status, 0, `exit ${r.status}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  return cliJson(r) as Json;
}

/** A failed --json run: exactly `{"error": {code, message, ...}}` with this code and exit status; returns the error. */
export function cliFails(r: CliResult, code: string, exit = 1): Json {
  assert.equal(r.status, exit, `exit ${r.status}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  const out = cliJson(r) as Json;
  assert.deepEqual(Object.keys(out), ['error'], r.stdout);
  const e = out.error as Json;
  assert.equal(e.code, code, String(e.message));
  assert.equal(typeof e.message, 'string');
  return e;
}

/** Boot a home the way a user does (`astrid start`, then `astrid stop`): keys, genesis, a boot and a shutdown, no daemon left running. */
export function initHome(home: string): void {
  for (const cmd of ['start', 'stop']) {
    const r = runCli([cmd], home);
    assert.equal(r.status, 0, `astrid ${cmd}: exit ${r.status}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
  }
}
