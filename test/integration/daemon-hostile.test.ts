// Proves: a hostile client of the daemon's socket (same uid, valid token) cannot make the daemon buffer without bound, and files planted in run/ before boot are not followed.
import {describe, it, before, after} from 'node:test';
import {strict as assert} from 'node:assert';
import {createConnection, type Socket} from 'node:net';
import {readFileSync, symlinkSync, writeFileSync, lstatSync} from 'node:fs';
import {join} from 'node:path';
import {tmpDir, repoRoot} from '../helpers/index.js';
import {daemonSpawn, daemonStop, binPath} from '../../src/cli/index.js';
import {Daemon, runPaths, prepareHome} from '../../src/kernel/index.js';
import {ensurePrivateDir} from '../../src/crypto/index.js';
import {encodeFrame, FrameDecoder, PROTOCOL_VERSION, type UplinkMessage} from '../../src/protocol/index.js';

/** A raw connection that has passed the handshake. */
async function connect(home: string): Promise<{socket: Socket; received: UplinkMessage[]; closed: Promise<void>}> {
  const socket = createConnection(runPaths(home).socket);
  const received: UplinkMessage[] = [];
  const dec = new FrameDecoder();
  const closed = new Promise<void>((r) => socket.on('close', () => r()));
  socket.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const welcome = new Promise<void>((resolve) => {
    socket.on('data', (b: Buffer) => {
      received.push(...dec.push(new Uint8Array(b)));
      if (received.some((m) => m.t === 'welcome')) resolve();
    });
  });
  const token = readFileSync(runPaths(home).token, 'utf8').trim();
  socket.write(encodeFrame({t: 'hello', v: PROTOCOL_VERSION, token, client: 'hostile'}));
  await welcome;
  return {socket, received, closed};
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('daemon: a client that never reads its socket', () => {
  const {dir: home, cleanup} = tmpDir('astrid-daemon-hostile-');
  let d: Daemon;
  before(async () => {
    d = await Daemon.start({home});
  });
  after(async () => {
    await d.stop('test over');
    cleanup();
  });

  it('is disconnected once too much is waiting for it, instead of growing the daemon without bound', async () => {
    const c = await connect(home);
    // 25 notes of 4,000 characters: each audit.show answer below is ~100 KiB
    for (let i = 1; i <= 25; i++) {
      c.socket.write(encodeFrame({t: 'req', id: i, op: 'audit.note', args: {text: 'x'.repeat(4000)}}));
      for (let n = 0; n < 100 && c.received.filter((m) => m.t === 'res').length < i; n++) await sleep(10);
    }
    assert.equal(c.received.filter((m) => m.t === 'res').length, 25);
    c.socket.pause(); // never read again
    let id = 26;
    const t0 = performance.now();
    while (d.connectionCount > 0 && performance.now() - t0 < 20_000) {
      for (let i = 0; i < 8; i++) c.socket.write(encodeFrame({t: 'req', id: id++, op: 'audit.show', args: {kind: 'note'}}));
      await sleep(20);
    }
    assert.equal(d.connectionCount, 0, `the daemon still serves a client that never reads, after ${id} requests`);
    assert.ok(id < 2000, `disconnected only after ${id} requests`);
    c.socket.destroy();
    // the daemon carries on for everyone else
    const other = await connect(home);
    other.socket.write(encodeFrame({t: 'req', id: 1, op: 'principal.list', args: {}}));
    for (let i = 0; i < 100 && !other.received.some((m) => m.t === 'res'); i++) await sleep(20);
    assert.ok(other.received.some((m) => m.t === 'res'));
    other.socket.destroy();
  });
});

describe('daemon: files planted in run/ before it starts', () => {
  const {dir: home, cleanup} = tmpDir('astrid-daemon-planted-');
  const victim = join(home, 'victim.txt');
  let d: Daemon | undefined;
  before(() => {
    prepareHome(home);
    ensurePrivateDir(runPaths(home).dir);
    writeFileSync(victim, 'precious\n');
  });
  after(async () => {
    await d?.stop('test over');
    cleanup();
  });

  it('a symlink at run/astrid.pid or run/token (or the token\'s temporary name) is replaced, never followed', async () => {
    const p = runPaths(home);
    symlinkSync(victim, p.pid);
    symlinkSync(victim, p.token);
    for (let pid = process.pid; pid < process.pid + 1; pid++) symlinkSync(victim, `${p.token}.${pid}.tmp`);
    d = await Daemon.start({home});
    assert.equal(readFileSync(victim, 'utf8'), 'precious\n');
    assert.ok(!lstatSync(p.pid).isSymbolicLink());
    assert.ok(!lstatSync(p.token).isSymbolicLink());
    assert.equal(lstatSync(p.pid).mode & 0o777, 0o600);
    assert.equal(lstatSync(p.token).mode & 0o777, 0o600);
    assert.equal(readFileSync(p.pid, 'utf8').trim(), String(process.pid));
  });
});

describe('daemon: a symlink planted at run/daemon.log', () => {
  const {dir: home, cleanup} = tmpDir('astrid-daemon-log-');
  const victim = join(home, 'victim.txt');
  after(cleanup);

  it('astrid start (in the background) does not append its log through it', async () => {
    prepareHome(home);
    ensurePrivateDir(runPaths(home).dir);
    writeFileSync(victim, 'precious\n');
    symlinkSync(victim, runPaths(home).log);
    await daemonSpawn(home, binPath(repoRoot));
    await daemonStop(home, 'test over');
    assert.equal(readFileSync(victim, 'utf8'), 'precious\n');
    assert.ok(!lstatSync(runPaths(home).log).isSymbolicLink());
    assert.equal(lstatSync(runPaths(home).log).mode & 0o777, 0o600);
  });
});
