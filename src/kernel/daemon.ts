/**
 * The daemon (`astrid start`): one process per home that owns the ledger (it is then the
 * only writer), keeps the kernel's state in memory, and serves uplinks on a Unix socket.
 *
 * Boot: take the ledger (LevelDB's lock refuses a second opener); verify it (a ledger with
 * errors does not boot): the tail after the anchor (the newest checkpoint this kernel
 * signed, which must still be there and match) before listening, and the whole chain in the
 * background right after (a failure there stops the daemon), or all of it before listening
 * with `fullVerify`; record kernel.boot, sign a checkpoint, rebuild state in one pass
 * (authority, approvals, sessions, capsules, installed, kv, each from its snapshot when it
 * checks out), check every installed capsule's hashes, write a fresh token file and the pid
 * file, listen. Stop: stop accepting, end live sessions, answer in-flight requests, record
 * kernel.shutdown, snapshot every projection, close the ledger with a signed checkpoint,
 * remove socket/token/pid.
 *
 * The socket sits in `run/` (0700) and is 0600: connect(2) needs write permission on it, so
 * the OS admits only this user (and root). Node has no SO_PEERCRED, so the peer's uid is
 * proven a second way: the handshake must carry the token from `run/token` (0600), which
 * only this user can read. Each connection is bounded: handshake deadline, frame size,
 * requests in flight; a malformed frame closes that connection only, and is recorded.
 */
import {createServer, type Server, type Socket} from 'node:net';
import {chmodSync, closeSync, constants, existsSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, writeSync} from 'node:fs';
import {randomBytes, timingSafeEqual} from 'node:crypto';
import {AstridError, ERROR_CODES, type ErrorCode} from '../errors/index.js';
import {ensurePrivateDir} from '../crypto/index.js';
import {encodeFrame, FrameDecoder, PROTOCOL_VERSION, type UplinkMessage} from '../protocol/index.js';
import type {Clock, VerifyReport} from '../ledger/index.js';
import {openKernelState} from './open.js';
import {prepareHome} from './home.js';
import {ASTRID_VERSION} from './boot.js';
import {KernelRuntime} from './runtime.js';
import {checkedOp} from './ops.js';
import {plain} from './invoke.js';
import {daemonRunning, runPaths} from './client.js';
import {systemClock} from './clock.js';
import type {OpIO} from './op.js';

export interface DaemonOptions {
  readonly home: string;
  readonly clock?: Clock;
  /** Lines for the daemon's log (stdout in the foreground). */
  readonly log?: (line: string) => void;
  readonly maxConnections?: number;
  readonly maxInFlight?: number;
  readonly handshakeTimeoutMs?: number;
  /** Verification progress during boot. */
  readonly onVerify?: (done: number, total: number) => void;
  /** Verify the whole chain before listening (default: the tail before, the whole chain in the background). */
  readonly fullVerify?: boolean;
}

export interface DaemonBoot {
  readonly pid: number;
  readonly socket: string;
  readonly head: {readonly seq: number; readonly hash: string};
  readonly verify: VerifyReport;
  /** What the boot verified before listening: the whole chain, or the tail after the anchor. */
  readonly verified: 'full' | 'tail';
  /** How each projection was rebuilt (from a snapshot or genesis) and how many entries it folded. */
  readonly rebuilt: ReadonlyArray<{readonly name: string; readonly source: string; readonly folded: number; readonly discarded?: string}>;
  readonly capsules: {readonly loaded: number; readonly failed: ReadonlyArray<{readonly name: string; readonly code: string}>};
  readonly bootMs: number;
}

const PROGRESS_EVERY_MS = 100;
const DRAIN_MS = 10_000;
/** Bytes of answers and stream messages a connection may leave unread before it is closed (UPLINK_BUSY). */
export const MAX_UNREAD_BYTES = 8 * 1024 * 1024;
/** A streaming operation waits until fewer than this many bytes of its answers are unread. */
const DRAIN_BELOW_BYTES = 1024 * 1024;

function errCode(e: unknown): ErrorCode {
  return e instanceof AstridError && (ERROR_CODES as readonly string[]).includes(e.code) ? e.code : 'INTERNAL';
}

/** The pid in a home's pid file, when it names a live process. */
export function livePid(home: string): number | undefined {
  try {
    const pid = Number(readFileSync(runPaths(home).pid, 'utf8').trim());
    if (!Number.isSafeInteger(pid) || pid < 2) return undefined;
    process.kill(pid, 0);
    return pid;
  } catch {
    return undefined;
  }
}

export class Daemon {
  readonly #o: DaemonOptions;
  readonly #rt: KernelRuntime;
  readonly #server: Server;
  readonly #token: Buffer;
  readonly #sockets = new Set<Socket>();
  readonly #inflight = new Set<Promise<unknown>>();
  #conn = 0;
  #stopping: Promise<void> | undefined;
  #stopReason = '';
  /** Resolves when the daemon has stopped (by `stop`, `astrid stop` or a signal). */
  readonly stopped: Promise<void>;
  #resolveStopped!: () => void;
  boot!: DaemonBoot;
  #sweep: NodeJS.Timeout | undefined;
  #fullCheck: 'running' | 'ok' | 'failed' = 'running';

  /** The whole-chain verification: done before listening, or running / done in the background. */
  get fullVerification(): 'running' | 'ok' | 'failed' {
    return this.#fullCheck;
  }

  /** Verify the whole chain while serving; errors stop the daemon (fail secure). */
  async #verifyAll(): Promise<void> {
    const k = this.#rt.k;
    try {
      const r = await k.ledger.verify({trustedKey: k.publicKey, ...(k.anchor ? {anchor: k.anchor} : {})});
      const errors = r.issues.filter((i) => i.severity === 'error');
      if (errors.length === 0) {
        this.#fullCheck = 'ok';
        this.#log(`full verification ok: ${r.entries} entries, ${r.checkpoints.valid} checkpoints`);
        return;
      }
      this.#fullCheck = 'failed';
      const what = errors.slice(0, 5).map((i) => `${i.code} at #${i.seq}`).join(', ');
      this.#log(`full verification FAILED: ${what}`);
      await this.stop(`the ledger does not verify (${what}): stopping (astrid audit verify)`);
    } catch (e) {
      if (this.#stopping !== undefined) return; // closed under it
      this.#fullCheck = 'failed';
      this.#log(`full verification could not run: ${(e as Error).message}`);
      await this.stop(`full verification could not run: ${(e as Error).message}`);
    }
  }

  private constructor(o: DaemonOptions, rt: KernelRuntime, server: Server, token: Buffer) {
    this.#o = o;
    this.#rt = rt;
    this.#server = server;
    this.#token = token;
    this.stopped = new Promise((r) => (this.#resolveStopped = r));
  }

  /** Open connections. */
  get connectionCount(): number {
    return this.#sockets.size;
  }

  get runtime(): KernelRuntime {
    return this.#rt;
  }

  /**
   * Boot and listen.
   * @throws AstridError DAEMON_RUNNING when a daemon already serves this home, LEDGER_LOCKED when
   *   another process holds the ledger, LEDGER_CORRUPT when verification finds errors.
   */
  static async start(o: DaemonOptions): Promise<Daemon> {
    const clock = o.clock ?? systemClock;
    const t0 = clock.now();
    prepareHome(o.home);
    const paths = runPaths(o.home);
    ensurePrivateDir(paths.dir);
    if (await daemonRunning(o.home)) throw new AstridError('DAEMON_RUNNING', `a daemon already serves ${o.home} (pid ${livePid(o.home) ?? '?'}); astrid stop first`);
    let k;
    try {
      k = await openKernelState({home: o.home, mode: 'write', clock});
    } catch (e) {
      const pid = livePid(o.home);
      if (e instanceof AstridError && e.code === 'LEDGER_LOCKED' && pid !== undefined && pid !== process.pid) {
        throw new AstridError('DAEMON_RUNNING', `a daemon (pid ${pid}) holds ${o.home}; astrid stop first`, {cause: e});
      }
      throw e;
    }
    let rt: KernelRuntime | undefined;
    try {
      const total = k.ledger.head.seq;
      const tail = o.fullVerify !== true && k.anchor !== undefined;
      const verify = await k.ledger.verify({
        trustedKey: k.publicKey,
        ...(k.anchor ? {anchor: k.anchor} : {}),
        tailOnly: tail,
        ...(o.onVerify ? {onProgress: (n: number) => o.onVerify?.(n, total)} : {}),
      });
      const errors = verify.issues.filter((i) => i.severity === 'error');
      if (errors.length > 0) {
        throw new AstridError('LEDGER_CORRUPT', `the ledger does not verify (${errors.map((i) => `${i.code} at #${i.seq}`).slice(0, 5).join(', ')}); the daemon will not run on it (astrid audit verify)`, {
          details: {issues: errors.slice(0, 20).map((i) => ({code: i.code, seq: i.seq, message: i.message}))},
        });
      }
      await k.ledger.append({kind: 'kernel.boot', body: {version: ASTRID_VERSION, mode: 'start'}});
      await k.ledger.checkpoint();
      const token = randomBytes(32);
      const startedAt = clock.now();
      const server = createServer({allowHalfOpen: false, pauseOnConnect: false});
      const ref: {daemon?: Daemon} = {};
      rt = new KernelRuntime(k, 'write', {
        pid: process.pid,
        startedAt,
        socket: paths.socket,
        connections: () => ref.daemon?.connectionCount ?? 0,
        requestStop: (reason) => void ref.daemon?.stop(reason),
        verification: () => ({boot: ref.daemon?.boot.verified ?? 'full', full: ref.daemon?.fullVerification ?? 'running'}),
      });
      // rebuild everything now (one pass, from snapshots), not on the first request
      const rebuilt = await rt.rebuildState();
      const approvals = await rt.approvals();
      approvals.expireDue();
      await rt.buildActors();
      const failed: Array<{name: string; code: string}> = [];
      const installed = await rt.installed.current();
      for (const c of installed.values()) {
        try {
          await rt.store().load(c);
        } catch (e) {
          failed.push({name: c.name, code: errCode(e)});
        }
      }
      const daemon = new Daemon(o, rt, server, token);
      ref.daemon = daemon;
      await daemon.#listen(paths);
      const head = k.ledger.durableHead;
      daemon.boot = {
        pid: process.pid,
        socket: paths.socket,
        head: {seq: head.seq, hash: Buffer.from(head.hash).toString('hex')},
        verify,
        verified: tail ? 'tail' : 'full',
        rebuilt,
        capsules: {loaded: installed.size - failed.length, failed},
        bootMs: clock.now() - t0,
      };
      daemon.#sweep = setInterval(() => {
        approvals.expireDue();
        // a daemon whose home was removed under it (or whose socket was) serves nothing: stop
        if (!existsSync(paths.socket)) void daemon.stop('its socket or home was removed');
      }, 1000);
      daemon.#sweep.unref();
      daemon.#fullCheck = tail ? 'running' : 'ok';
      if (tail) void daemon.#verifyAll();
      return daemon;
    } catch (e) {
      if (rt !== undefined) await rt.close('boot failed').catch(() => undefined);
      else await k.close().catch(() => undefined);
      throw e;
    }
  }

  async #listen(paths: ReturnType<typeof runPaths>): Promise<void> {
    // we hold the ledger: a socket file left here is a dead daemon's
    rmSync(paths.socket, {force: true});
    writePrivateFile(paths.token, this.#token.toString('hex') + '\n');
    this.#server.maxConnections = this.#o.maxConnections ?? 64;
    this.#server.on('connection', (s) => this.#accept(s));
    const old = process.umask(0o177);
    try {
      await new Promise<void>((resolve, reject) => {
        this.#server.once('error', reject);
        this.#server.listen(paths.socket, () => {
          this.#server.off('error', reject);
          resolve();
        });
      });
    } finally {
      process.umask(old);
    }
    chmodSync(paths.socket, 0o600);
    writePrivateFile(paths.pid, `${process.pid}\n`);
  }

  #log(line: string): void {
    this.#o.log?.(line);
  }

  #record(kind: 'uplink.opened' | 'uplink.refused' | 'uplink.closed', body: Record<string, unknown>): void {
    // Fail secure: a daemon whose ledger refuses its records serves nobody (the gate already
    // denies every action then; this also stops it answering requests it cannot record).
    const failed = (e: unknown): void => {
      if (this.#stopping !== undefined) return; // closing: records after the close are expected to fail
      this.#log(`the ledger refused an uplink record (${(e as Error).message}): stopping`);
      void this.stop('the ledger refuses appends');
    };
    try {
      // attributed to the owner: the socket admits only the owner's uid
      this.#rt.k.ledger.append({kind, body: body as never, session: 'uplink', principal: 'owner', actor: 'daemon'}).catch(failed);
    } catch (e) {
      failed(e);
    }
  }

  #accept(s: Socket): void {
    const id = `c${++this.#conn}`;
    if (this.#stopping !== undefined) {
      s.destroy();
      return;
    }
    this.#sockets.add(s);
    const decoder = new FrameDecoder();
    let state: 'hello' | 'open' | 'closed' = 'hello';
    let requests = 0;
    let inflight = 0;
    let closeCode = '';
    let closeReason = 'client closed the connection';
    let onGone: () => void = () => undefined;
    const gone = new Promise<void>((r) => (onGone = r));
    const close = (code: string, reason: string): void => {
      if (state === 'closed') return;
      closeCode = code;
      closeReason = reason;
      s.destroy();
    };
    const send = (m: UplinkMessage): void => {
      if (state === 'closed' || s.destroyed) return;
      let frame: Uint8Array;
      try {
        frame = encodeFrame(m);
      } catch (e) {
        // a result (or error details) too large for a frame or not plain: tell the client instead
        if (m.t !== 'res' && m.t !== 'err') throw e;
        frame = encodeFrame({t: 'err', id: m.id, code: errCode(e), message: (e as Error).message.slice(0, 1024), details: {}});
      }
      s.write(frame);
      // a client that does not read what it asked for is not served without bound
      if (s.writableLength > MAX_UNREAD_BYTES) close('UPLINK_BUSY', `more than ${MAX_UNREAD_BYTES} bytes of answers left unread`);
    };
    /** Resolves once fewer than 1 MiB of answers wait unread (or the connection is gone). */
    const drain = (): Promise<void> =>
      s.destroyed || s.writableLength < DRAIN_BELOW_BYTES
        ? Promise.resolve()
        : new Promise<void>((r) => {
            const done = (): void => {
              s.off('drain', done);
              s.off('close', done);
              r();
            };
            s.on('drain', done);
            s.on('close', done);
          });
    const refuse = (code: ErrorCode, reason: string): void => {
      this.#record('uplink.refused', {connection: id, code, reason: reason.slice(0, 1024)});
      send({t: 'refused', code, message: reason.slice(0, 1024)});
      state = 'closed';
      s.end();
    };
    const deadline = setTimeout(() => {
      if (state === 'hello') refuse('UPLINK_AUTH_FAILED', 'no hello within the handshake deadline');
    }, this.#o.handshakeTimeoutMs ?? 5000);
    deadline.unref();
    s.on('error', () => undefined);
    s.on('close', () => {
      onGone();
      clearTimeout(deadline);
      this.#sockets.delete(s);
      if (state === 'open' || closeCode !== '') this.#record('uplink.closed', {connection: id, code: closeCode, reason: closeReason.slice(0, 1024), requests});
      state = 'closed';
    });
    s.on('data', (chunk: Buffer) => {
      if (state === 'closed') return;
      let msgs: UplinkMessage[];
      try {
        msgs = decoder.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
      } catch (e) {
        const code = errCode(e);
        this.#log(`${id}: closed: ${code}: ${(e as Error).message}`);
        if (state === 'hello') {
          this.#record('uplink.refused', {connection: id, code, reason: (e as Error).message.slice(0, 1024)});
          state = 'closed';
          s.destroy();
        } else close(code, (e as Error).message);
        return;
      }
      for (const m of msgs) {
        if ((state as string) === 'closed') return; // refuse() or close() may have run for an earlier message
        if (state === 'hello') {
          if (m.t !== 'hello') {
            refuse('UPLINK_AUTH_FAILED', `the first message must be hello, not ${m.t}`);
            return;
          }
          if (m.v !== PROTOCOL_VERSION) {
            refuse('UPLINK_VERSION', `protocol version ${m.v} is not supported; this daemon speaks ${PROTOCOL_VERSION}`);
            return;
          }
          const given = Buffer.from(m.token, 'hex');
          if (given.length !== this.#token.length || !timingSafeEqual(given, this.#token)) {
            refuse('UPLINK_AUTH_FAILED', 'wrong token (read it from run/token as the daemon\'s user)');
            return;
          }
          clearTimeout(deadline);
          state = 'open';
          this.#record('uplink.opened', {connection: id, client: m.client.slice(0, 128)});
          send({t: 'welcome', v: PROTOCOL_VERSION, kernel: this.#rt.k.publicKeyHex, connection: id});
          continue;
        }
        if (m.t === 'bye') {
          s.end();
          return;
        }
        if (m.t !== 'req') {
          close('PROTOCOL_MALFORMED', `a client may send req or bye, not ${m.t}`);
          return;
        }
        requests++;
        if (inflight >= (this.#o.maxInFlight ?? 16)) {
          send({t: 'err', id: m.id, code: 'UPLINK_BUSY', message: `more than ${this.#o.maxInFlight ?? 16} requests in flight on one connection`, details: {}});
          continue;
        }
        inflight++;
        const p = this.#dispatch(m.id, m.op, m.args, send, gone, drain)
          .catch((e: unknown) => {
            // an answer that could not be sent at all: that connection ends, never the daemon
            this.#log(`${id}: request ${m.op} could not be answered: ${(e as Error).message}`);
            close('INTERNAL', 'a request could not be answered');
          })
          .finally(() => {
            inflight--;
            this.#inflight.delete(p);
          });
        this.#inflight.add(p);
      }
    });
  }

  async #dispatch(id: number, op: string, args: unknown, send: (m: UplinkMessage) => void, gone: Promise<void>, drain: () => Promise<void>): Promise<void> {
    let last = 0;
    const io: OpIO = {
      via: 'cli',
      gone,
      drain,
      progress: (done, total, step) => {
        const now = this.#rt.k.clock.now();
        if (done < total && now - last < PROGRESS_EVERY_MS) return;
        last = now;
        send({t: 'stream', id, payload: {progress: step === undefined ? [done, total] : [done, total, step.slice(0, 256)]}});
      },
      event: (e) => send({t: 'stream', id, payload: {event: plain(e)}}),
    };
    try {
      if (this.#stopping !== undefined && op !== 'kernel.status') throw new AstridError('UPLINK_CLOSED', 'the daemon is stopping');
      const {spec, args: checked} = checkedOp(op, args);
      const value = plain(await spec.run(this.#rt, checked, io));
      send({t: 'res', id, value});
    } catch (e) {
      const code = errCode(e);
      if (code === 'INTERNAL') this.#log(`request ${op} failed: ${(e as Error).stack ?? String(e)}`);
      let details: unknown = {};
      try {
        details = e instanceof AstridError ? plain(e.details) : {};
      } catch {
        // details that are not plain data are left out, not allowed to take the daemon down
      }
      send({t: 'err', id, code, message: String((e as Error).message ?? e).slice(0, 1024), details});
    }
  }

  /** Drain and stop. Safe to call more than once. */
  stop(reason = 'stopped'): Promise<void> {
    this.#stopping ??= (async () => {
      this.#stopReason = reason;
      this.#log(`stopping: ${reason}`);
      if (this.#sweep) clearInterval(this.#sweep);
      this.#server.close();
      // let requests already running answer (a stop request answers at once), then end live sessions
      await within(Promise.allSettled([...this.#rt.live.values()].map((s) => s.end(`daemon stopping: ${reason}`))), DRAIN_MS);
      await within(Promise.allSettled([...this.#inflight]), DRAIN_MS);
      for (const s of this.#sockets) s.end();
      await sleep(20);
      for (const s of this.#sockets) s.destroy();
      try {
        await this.#rt.k.ledger.append({kind: 'kernel.shutdown', body: {reason: reason.slice(0, 256) || 'stopped'}});
        if (this.#fullCheck !== 'failed') await this.#rt.saveSnapshots();
      } catch (e) {
        this.#log(`could not record the shutdown or the snapshots: ${(e as Error).message}`);
      }
      await this.#rt.close(`daemon stopping: ${reason}`).catch((e: unknown) => this.#log(`close: ${(e as Error).message}`));
      const p = runPaths(this.#o.home);
      for (const f of [p.socket, p.token, p.pid]) rmSync(f, {force: true});
      this.#resolveStopped();
    })();
    return this.#stopping;
  }

  get stopReason(): string {
    return this.#stopReason;
  }
}

/**
 * Write a 0600 file in run/ by a fresh temporary file renamed over it: whatever was planted at
 * either name (a symlink to another file included) is replaced, never followed or written through.
 */
function writePrivateFile(path: string, text: string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  rmSync(tmp, {force: true}); // removes a symlink itself, not its target
  const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms)); // referenced: a stopping daemon must not exit before it has closed the ledger
}

/** Wait for `p`, at most `ms`. */
async function within(p: Promise<unknown>, ms: number): Promise<void> {
  let t: NodeJS.Timeout | undefined;
  await Promise.race([p, new Promise<void>((r) => (t = setTimeout(r, ms)))]);
  clearTimeout(t);
}
