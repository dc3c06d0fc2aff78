/**
 * Starting, stopping and asking after the daemon from the CLI. `astrid start` runs the
 * daemon in the background by default: it starts `astrid start --foreground` detached,
 * with its output appended to `run/daemon.log`, and waits until it answers on the socket
 * (or exits, in which case the log's tail says why).
 */
import {spawn} from 'node:child_process';
import {closeSync, constants, existsSync, lstatSync, openSync, readFileSync, rmSync, statSync} from 'node:fs';
import {join} from 'node:path';
import {AstridError, ERROR_CODES, type ErrorCode} from '../errors/index.js';
import {DAEMON_NODE_FLAGS, DaemonClient, daemonRunning, livePid, prepareHome, runPaths, type KernelStatus} from '../kernel/index.js';
import {ensurePrivateDir, loadOrCreateKernelKey} from '../crypto/index.js';

/** The daemon's status, or `{running: false}` when none answers. */
export async function daemonStatus(home: string): Promise<KernelStatus | {running: false; home: string}> {
  const c = await DaemonClient.connect(home, 'cli');
  if (c === undefined) return {running: false, home};
  try {
    return (await c.request('kernel.status', {})) as KernelStatus;
  } finally {
    c.close();
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function logTail(path: string, from: number): string {
  try {
    const text = readFileSync(path, 'utf8').slice(from);
    return text.trim().split('\n').slice(-8).join('\n');
  } catch {
    return '';
  }
}

/**
 * Start the daemon in the background and wait until it answers.
 * @throws AstridError DAEMON_RUNNING, DAEMON_START_FAILED (with the log's last lines).
 */
export async function daemonSpawn(home: string, binPath: string, timeoutMs = 180_000, onWait?: (ms: number) => void, fullVerify = false): Promise<KernelStatus> {
  // the checks a user can fix, here, with their own codes: a home or key open to others
  prepareHome(home);
  loadOrCreateKernelKey(home);
  const p = runPaths(home);
  ensurePrivateDir(p.dir);
  if (await daemonRunning(home, 'cli')) {
    throw new AstridError('DAEMON_RUNNING', `a daemon already serves ${home} (pid ${livePid(home) ?? '?'}); astrid status, or astrid stop first`);
  }
  // the log is appended to, never through a symlink planted in its place (that one is removed)
  if (lstatSync(p.log, {throwIfNoEntry: false})?.isSymbolicLink() === true) rmSync(p.log, {force: true});
  const logStart = existsSync(p.log) ? statSync(p.log).size : 0;
  const fd = openSync(p.log, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW, 0o600);
  let exited: string | undefined;
  try {
    const child = spawn(process.execPath, [...DAEMON_NODE_FLAGS, binPath, 'start', '--foreground', '--home', home, ...(fullVerify ? ['--full-verify'] : [])], {detached: true, stdio: ['ignore', fd, fd], env: {...process.env, ASTRID_HOME: home}});
    child.once('exit', (code, sig) => (exited = sig ?? `exit ${code}`));
    child.once('error', (e) => (exited = e.message));
    child.unref();
  } finally {
    closeSync(fd);
  }
  const t0 = performance.now();
  for (;;) {
    const waited = performance.now() - t0;
    if (exited !== undefined) {
      // the foreground daemon reports a failure as `error CODE: message`: pass that on as it is
      const tail = logTail(p.log, logStart);
      const m = /^error ([A-Z][A-Z0-9_]{0,63}): (.*)$/m.exec(tail);
      if (m !== null && (ERROR_CODES as readonly string[]).includes(m[1] as string)) throw new AstridError(m[1] as ErrorCode, m[2] as string, {details: {log: p.log}});
      throw new AstridError('DAEMON_START_FAILED', `the daemon stopped during boot (${exited}):\n${tail}`, {details: {log: p.log}});
    }
    if (waited > timeoutMs) throw new AstridError('DAEMON_START_FAILED', `the daemon did not answer within ${timeoutMs} ms; see ${p.log}`, {details: {log: p.log}});
    const s = await daemonStatus(home).catch(() => undefined);
    if (s !== undefined && s.running) return s;
    onWait?.(waited);
    await sleep(100);
  }
}

/**
 * Ask the daemon to stop and wait until it has (its pid gone, its socket removed).
 * @throws AstridError DAEMON_NOT_RUNNING.
 */
export async function daemonStop(home: string, reason: string, timeoutMs = 60_000): Promise<{stopped: true; pid: number; ms: number}> {
  const c = await DaemonClient.connect(home, 'cli');
  if (c === undefined) throw new AstridError('DAEMON_NOT_RUNNING', `no daemon is running for ${home}`);
  let pid: number;
  try {
    pid = ((await c.request('kernel.stop', {reason})) as {pid: number}).pid;
  } finally {
    c.close();
  }
  const t0 = performance.now();
  const socket = runPaths(home).socket;
  for (;;) {
    let alive = true;
    try {
      process.kill(pid, 0);
    } catch {
      alive = false;
    }
    if (!alive || (!existsSync(socket) && livePid(home) === undefined)) {
      // the process may linger a moment after removing its files; give it that moment
      for (let i = 0; i < 50 && alive; i++) {
        await sleep(20);
        try {
          process.kill(pid, 0);
        } catch {
          alive = false;
        }
      }
      return {stopped: true, pid, ms: Math.round(performance.now() - t0)};
    }
    if (performance.now() - t0 > timeoutMs) throw new AstridError('DAEMON_RUNNING', `the daemon (pid ${pid}) has not stopped after ${timeoutMs} ms`);
    await sleep(50);
  }
}

/** Where the `astrid` entry point is (to start the daemon with). */
export function binPath(root: string): string {
  return join(root, 'bin', 'run.js');
}
