// Proves: while one process holds a ledger, any other opener (library or CLI) fails fast with LEDGER_LOCKED, changes nothing, and can open once it is released.
import {describe, it} from 'node:test';
import {strict as assert} from 'node:assert';
import {spawn, type ChildProcessWithoutNullStreams} from 'node:child_process';
import {join} from 'node:path';
import {openKernelState} from '../../src/kernel/index.js';
import {AstridError} from '../../src/errors/index.js';
import {toHex} from '../../src/crypto/index.js';
import {repoRoot, runCliAsync, tmpDir} from '../helpers/index.js';

const CHILD = join(repoRoot, 'dist', 'test', 'helpers', 'crash-child.js');

/** Read stdout lines of a child as they arrive. */
function lines(child: ChildProcessWithoutNullStreams): () => Promise<string> {
  const queue: string[] = [];
  const waiters: Array<(l: string) => void> = [];
  let buf = '';
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    buf += d;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const l = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      const w = waiters.shift();
      if (w) w(l);
      else queue.push(l);
    }
  });
  child.on('close', (status) => {
    for (const w of waiters.splice(0)) w(`<exited ${status}: ${stderr}>`);
  });
  return () => {
    const l = queue.shift();
    if (l !== undefined) return Promise.resolve(l);
    return new Promise((resolve) => waiters.push(resolve));
  };
}

interface Holder {
  readonly head: {seq: number; hash: string};
  /** Close the ledger in the child (end its stdin) and wait for it to exit. */
  release(): Promise<void>;
  /** For cleanup after a failure: SIGKILL the child if it is still running. */
  kill(): void;
}

/** Start a child process that opens the ledger on `home` for writing and keeps it open. */
async function holdInChild(home: string): Promise<Holder> {
  const child = spawn(process.execPath, [CHILD, 'hold', home], {stdio: 'pipe'});
  const next = lines(child);
  const exited = new Promise<number | null>((resolve) => child.on('close', (s) => resolve(s)));
  const ready = /^ready (\d+) ([0-9a-f]{64})$/.exec(await next());
  assert.ok(ready, 'the holder child did not become ready');
  return {
    head: {seq: Number(ready[1]), hash: ready[2] as string},
    async release() {
      child.stdin.end();
      assert.equal(await next(), 'closed');
      assert.equal(await exited, 0);
    },
    kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    },
  };
}

interface ProbeResult {
  readonly ok: boolean;
  readonly head?: number;
  readonly astrid?: boolean;
  readonly code?: string;
  readonly message?: string;
}

/** Open the ledger once in a separate process and report what happened. */
async function probeInChild(home: string, mode: 'read' | 'write'): Promise<ProbeResult> {
  const child = spawn(process.execPath, [CHILD, 'probe', home, mode], {stdio: 'pipe'});
  child.stdin.end();
  const next = lines(child);
  const line = await next();
  const parsed: unknown = JSON.parse(line);
  assert.ok(typeof parsed === 'object' && parsed !== null, `probe printed ${line}`);
  return parsed as ProbeResult;
}

function parseJsonObject(text: string): Record<string, unknown> {
  const v: unknown = JSON.parse(text);
  assert.ok(typeof v === 'object' && v !== null && !Array.isArray(v), `expected a JSON object, got ${text}`);
  return v as Record<string, unknown>;
}

describe('ledger lock', {timeout: 60_000}, () => {
  it('a second process gets LEDGER_LOCKED (not corruption) while this one holds the ledger, and opens it after close', async () => {
    const {dir, cleanup} = tmpDir('astrid-lock-');
    const home = join(dir, 'home');
    try {
      const k = await openKernelState({home, mode: 'write'});
      const a = await k.ledger.append({kind: 'note', body: {text: 'held by the parent'}});
      for (const mode of ['write', 'read'] as const) {
        const r = await probeInChild(home, mode);
        assert.equal(r.ok, false, `a ${mode} open succeeded while the ledger was held`);
        assert.equal(r.astrid, true, `not an AstridError: ${r.message}`);
        assert.equal(r.code, 'LEDGER_LOCKED', `${mode} open: ${r.code}: ${r.message}`);
      }
      // The refused openers changed nothing: the holder still appends on the same chain.
      const b = await k.ledger.append({kind: 'note', body: {text: 'still ours'}});
      assert.equal(b.seq, a.seq + 1);
      await k.close();

      const after = await probeInChild(home, 'write');
      assert.deepEqual(after, {ok: true, head: b.seq});
      const v = await openKernelState({home, mode: 'read'});
      try {
        const report = await v.ledger.verify();
        assert.equal(report.ok, true);
        assert.deepEqual(report.issues, []);
        assert.equal(toHex((await v.ledger.read(b.seq))?.hash ?? new Uint8Array()), toHex(b.hash));
      } finally {
        await v.close();
      }
    } finally {
      cleanup();
    }
  });

  it('this process gets an AstridError LEDGER_LOCKED while a child holds the ledger, and opens it after release', async (t) => {
    const {dir, cleanup} = tmpDir('astrid-lock-');
    const home = join(dir, 'home');
    try {
      const holder = await holdInChild(home);
      t.after(() => holder.kill());
      for (const mode of ['write', 'read'] as const) {
        await assert.rejects(openKernelState({home, mode}), (e: unknown) => {
          assert.ok(e instanceof AstridError, `expected an AstridError, got ${String(e)}`);
          assert.equal(e.code, 'LEDGER_LOCKED');
          return true;
        });
      }
      await holder.release();
      const k = await openKernelState({home, mode: 'write'});
      try {
        assert.equal(k.ledger.head.seq, holder.head.seq);
        assert.equal(toHex(k.ledger.head.hash), holder.head.hash);
        const report = await k.ledger.verify();
        assert.equal(report.ok, true, JSON.stringify(report.issues));
      } finally {
        await k.close();
      }
    } finally {
      cleanup();
    }
  });

  it('`astrid audit note|show|verify` fail with LEDGER_LOCKED (exit 1, stderr or --json) while a child holds the ledger', async (t) => {
    const {dir, cleanup} = tmpDir('astrid-lock-');
    const home = join(dir, 'home');
    try {
      const holder = await holdInChild(home);
      t.after(() => holder.kill());
      const [note, noteJson, show, verify] = await Promise.all([
        runCliAsync(['audit', 'note', 'must not land'], home),
        runCliAsync(['audit', 'note', 'must not land either', '--json'], home),
        runCliAsync(['audit', 'show'], home),
        runCliAsync(['audit', 'verify', '--json'], home),
      ]);
      assert.equal(note.status, 1, note.stderr);
      assert.match(note.stderr, /^error LEDGER_LOCKED: /m);
      assert.equal(note.stdout, '');

      assert.equal(noteJson.status, 1, noteJson.stderr);
      const err = parseJsonObject(noteJson.stdout).error;
      assert.ok(typeof err === 'object' && err !== null, noteJson.stdout);
      const e = err as Record<string, unknown>;
      assert.equal(e.code, 'LEDGER_LOCKED');
      assert.equal(typeof e.message, 'string');

      assert.equal(show.status, 1);
      assert.match(show.stderr, /LEDGER_LOCKED/);
      assert.equal(verify.status, 1);
      assert.equal((parseJsonObject(verify.stdout).error as Record<string, unknown>).code, 'LEDGER_LOCKED');

      await holder.release();
      const ok = await runCliAsync(['audit', 'note', 'after release', '--json'], home);
      assert.equal(ok.status, 0, ok.stderr);
      assert.equal(parseJsonObject(ok.stdout).seq, holder.head.seq + 1, 'a refused note was appended after all');
      const v = await runCliAsync(['audit', 'verify', '--json'], home);
      assert.equal(v.status, 0, v.stdout);
      assert.equal(parseJsonObject(v.stdout).ok, true);
    } finally {
      cleanup();
    }
  });
});
