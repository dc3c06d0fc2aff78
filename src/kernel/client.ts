/**
 * The uplink client: how the CLI (and later the web and MCP frontends) talk to a running
 * daemon over `$ASTRID_HOME/run/astrid.sock`. Handshake: `hello` with the protocol version
 * and the token from `run/token` (0600; reading it proves the caller runs as the daemon's
 * user); then requests by id, each answered by `res` or `err`, optionally after `stream`
 * messages (progress, events).
 */
import {createConnection, type Socket} from 'node:net';
import {existsSync, readFileSync, statSync} from 'node:fs';
import {join} from 'node:path';
import {AstridError, ERROR_CODES, type ErrorCode} from '../errors/index.js';
import {encodeFrame, FrameDecoder, PROTOCOL_VERSION, type UplinkMessage} from '../protocol/index.js';

export const RUN_DIR = 'run';

/** Where a home's daemon keeps its socket, token, pid file and log. */
export function runPaths(home: string): {dir: string; socket: string; token: string; pid: string; log: string} {
  const dir = join(home, RUN_DIR);
  return {dir, socket: join(dir, 'astrid.sock'), token: join(dir, 'token'), pid: join(dir, 'astrid.pid'), log: join(dir, 'daemon.log')};
}

/** Another request on the same channel (the same connection, or the same one-shot kernel). */
export type ChannelCall = (op: string, args: unknown) => Promise<unknown>;

/** What a request can receive before its answer. */
export interface StreamHooks {
  progress?(done: number, total: number, step?: string): void;
  /** An event; `call` makes another request on the same channel (e.g. to answer an approval the event asks about). */
  event?(e: Record<string, unknown>, call: ChannelCall): void;
}

interface Pending {
  resolve(v: unknown): void;
  reject(e: Error): void;
  hooks: StreamHooks;
}

function knownCode(code: string): ErrorCode {
  return (ERROR_CODES as readonly string[]).includes(code) ? (code as ErrorCode) : 'INTERNAL';
}

function readToken(path: string): string {
  let st;
  try {
    st = statSync(path);
  } catch (cause) {
    throw new AstridError('UPLINK_AUTH_FAILED', `cannot read the daemon's token file ${path}`, {cause});
  }
  if (typeof process.getuid === 'function' && st.uid !== process.getuid()) throw new AstridError('UPLINK_PERMISSIONS', `${path} belongs to uid ${st.uid}, not to this user; refusing to use it`);
  if ((st.mode & 0o077) !== 0) throw new AstridError('UPLINK_PERMISSIONS', `${path} is readable by others (mode ${(st.mode & 0o777).toString(8)}); refusing to use it`);
  if (st.size > 256) throw new AstridError('UPLINK_AUTH_FAILED', `${path} is not a token file`);
  return readFileSync(path, 'utf8').trim();
}

export class DaemonClient {
  readonly #socket: Socket;
  readonly #pending = new Map<number, Pending>();
  #next = 1;
  #closed: AstridError | undefined;
  /** The daemon's kernel key and the id it gave this connection. */
  readonly kernel: string;
  readonly connection: string;

  private constructor(socket: Socket, decoder: FrameDecoder, welcome: {kernel: string; connection: string}) {
    this.#socket = socket;
    this.kernel = welcome.kernel;
    this.connection = welcome.connection;
    socket.on('data', (chunk: Buffer) => {
      let msgs: UplinkMessage[];
      try {
        msgs = decoder.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
      } catch (e) {
        this.#fail(e as AstridError);
        socket.destroy();
        return;
      }
      for (const m of msgs) this.#on(m);
    });
    socket.on('close', () => this.#fail(new AstridError('UPLINK_CLOSED', 'the daemon closed the connection')));
    socket.on('error', () => undefined); // 'close' follows
  }

  /**
   * Connect to the home's daemon. Returns undefined when none is running (no socket, or a
   * stale one nobody listens on).
   * @throws AstridError UPLINK_AUTH_FAILED / UPLINK_VERSION / UPLINK_BUSY when the daemon refuses us,
   *   UPLINK_PERMISSIONS when the token file is readable by others.
   */
  static async connect(home: string, client = 'cli', timeoutMs = 10_000): Promise<DaemonClient | undefined> {
    const p = runPaths(home);
    if (!existsSync(p.socket)) return undefined;
    const socket = await new Promise<Socket | undefined>((resolve) => {
      const s = createConnection(p.socket);
      s.once('connect', () => resolve(s));
      s.once('error', () => resolve(undefined)); // ENOENT, ECONNREFUSED: nobody is listening
    });
    if (socket === undefined) return undefined;
    try {
      const token = readToken(p.token);
      if (!/^[0-9a-f]{64}$/.test(token)) throw new AstridError('UPLINK_AUTH_FAILED', `${p.token} does not hold a token`);
      const decoder = new FrameDecoder();
      const welcome = await new Promise<{kernel: string; connection: string}>((resolve, reject) => {
        const timer = setTimeout(() => reject(new AstridError('UPLINK_CLOSED', 'the daemon did not answer the handshake in time')), timeoutMs);
        const onData = (chunk: Buffer): void => {
          try {
            const msgs = decoder.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
            const m = msgs[0];
            if (m === undefined) return;
            clearTimeout(timer);
            socket.off('data', onData);
            socket.off('close', onClose);
            if (m.t === 'welcome') resolve({kernel: m.kernel, connection: m.connection});
            else if (m.t === 'refused') reject(new AstridError(knownCode(m.code), `the daemon refused the connection: ${m.message}`));
            else reject(new AstridError('PROTOCOL_MALFORMED', `expected welcome, got ${m.t}`));
          } catch (e) {
            clearTimeout(timer);
            reject(e as Error);
          }
        };
        const onClose = (): void => {
          clearTimeout(timer);
          reject(new AstridError('UPLINK_CLOSED', 'the daemon closed the connection during the handshake'));
        };
        socket.on('data', onData);
        socket.once('close', onClose);
        socket.write(encodeFrame({t: 'hello', v: PROTOCOL_VERSION, token, client: client.slice(0, 64)}));
      });
      return new DaemonClient(socket, decoder, welcome);
    } catch (e) {
      socket.destroy();
      throw e;
    }
  }

  /**
   * Send one request and wait for its answer.
   * @throws AstridError with the daemon's code when it answers `err`; UPLINK_CLOSED when the connection drops.
   */
  request(op: string, args: unknown, hooks: StreamHooks = {}): Promise<unknown> {
    if (this.#closed !== undefined) return Promise.reject(this.#closed);
    const id = this.#next++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, {resolve, reject, hooks});
      try {
        this.#socket.write(encodeFrame({t: 'req', id, op, args}));
      } catch (e) {
        this.#pending.delete(id);
        reject(e as Error);
      }
    });
  }

  #on(m: UplinkMessage): void {
    if (m.t === 'bye') {
      this.#fail(new AstridError('UPLINK_CLOSED', `the daemon said goodbye: ${m.reason}`));
      return;
    }
    if (m.t !== 'res' && m.t !== 'err' && m.t !== 'stream') return; // kernel events: not subscribed to yet
    const p = this.#pending.get(m.id);
    if (p === undefined) return;
    if (m.t === 'stream') {
      const s = m.payload as {progress?: unknown; event?: unknown} | null;
      if (s !== null && typeof s === 'object') {
        const pr = s.progress;
        if (Array.isArray(pr) && typeof pr[0] === 'number' && typeof pr[1] === 'number') p.hooks.progress?.(pr[0], pr[1], typeof pr[2] === 'string' ? pr[2] : undefined);
        if (s.event !== null && typeof s.event === 'object' && !Array.isArray(s.event)) p.hooks.event?.(s.event as Record<string, unknown>, (op, args) => this.request(op, args));
      }
      return;
    }
    this.#pending.delete(m.id);
    if (m.t === 'res') p.resolve(m.value);
    else {
      const details = m.details !== null && typeof m.details === 'object' && !Array.isArray(m.details) ? (m.details as Record<string, unknown>) : {};
      p.reject(new AstridError(knownCode(m.code), m.message, {details}));
    }
  }

  #fail(e: AstridError): void {
    this.#closed ??= e;
    for (const p of this.#pending.values()) p.reject(e);
    this.#pending.clear();
  }

  close(): void {
    if (this.#closed === undefined) {
      try {
        this.#socket.end(encodeFrame({t: 'bye', reason: 'done'}));
      } catch {
        this.#socket.destroy();
      }
    }
    this.#fail(new AstridError('UPLINK_CLOSED', 'closed by the client'));
  }
}

/** True when a daemon answers on the home's socket (even one that refuses us: it holds the home). */
export async function daemonRunning(home: string, client = 'probe', timeoutMs = 2000): Promise<boolean> {
  try {
    const c = await DaemonClient.connect(home, client, timeoutMs);
    c?.close();
    return c !== undefined;
  } catch {
    return true;
  }
}
