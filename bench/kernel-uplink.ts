/**
 * Kernel benchmark, part 2: a client's request round trip over the daemon's Unix socket
 * (handshake done, `principal.list` with no arguments), sequential and with 16 in flight;
 * against a raw Unix-socket echo of the same frames, both sides framed with the protocol's
 * own encodeFrame / FrameDecoder.
 */
import {createConnection, createServer, type Server, type Socket} from 'node:net';
import {rm} from 'node:fs/promises';
import {join} from 'node:path';
import {Daemon, DaemonClient} from '../src/kernel/index.js';
import {encodeFrame, FrameDecoder, type UplinkMessage} from '../src/protocol/index.js';
import {formatNumber, measureInterleaved, timed, type BenchContext} from './harness.js';
import {recorder, tempDir, windowed} from './kit.js';

const OP = 'principal.list';
const IN_FLIGHT = 16;

/** Something that answers one request at a time by id: the daemon's client, or the raw one. */
interface Requester {
  request(op: string, args: unknown): Promise<unknown>;
}

/** The echo server: answers every `req` with a `res` carrying `value` (the daemon's answer), so both frames match the daemon's in size. */
function echoServer(path: string, value: unknown): Promise<Server> {
  const server = createServer((s) => {
    const decoder = new FrameDecoder();
    s.on('error', () => undefined);
    s.on('data', (chunk: Buffer) => {
      for (const m of decoder.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength))) {
        if (m.t === 'req') s.write(encodeFrame({t: 'res', id: m.id, value}));
      }
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => resolve(server));
  });
}

/** The raw client: frames out, frames in, answers matched to requests by id. */
class RawClient implements Requester {
  readonly #s: Socket;
  readonly #pending = new Map<number, (v: unknown) => void>();
  #next = 1;

  private constructor(s: Socket) {
    this.#s = s;
    const decoder = new FrameDecoder();
    s.on('data', (chunk: Buffer) => {
      for (const m of decoder.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength))) this.#on(m);
    });
  }

  static connect(path: string): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = createConnection(path);
      s.once('connect', () => resolve(new RawClient(s)));
      s.once('error', reject);
    });
  }

  #on(m: UplinkMessage): void {
    if (m.t !== 'res') return;
    const p = this.#pending.get(m.id);
    this.#pending.delete(m.id);
    p?.(m.value);
  }

  request(op: string, args: unknown): Promise<unknown> {
    const id = this.#next++;
    return new Promise((resolve) => {
      this.#pending.set(id, resolve);
      this.#s.write(encodeFrame({t: 'req', id, op, args}));
    });
  }

  close(): void {
    this.#s.destroy();
  }
}

/** Section 2: the socket round trip, daemon against a raw echo. */
export async function uplinkSection(ctx: BenchContext, B: string): Promise<void> {
  const {report, quick} = ctx;
  const rec = recorder(ctx, B);
  const SEQ = quick ? 500 : 4000;
  const PAR = quick ? 2000 : 16_000;
  const RUNS = quick ? 1 : 5;
  const root = await tempDir('kernel-uplink');
  let daemon: Daemon | undefined;
  let client: DaemonClient | undefined;
  let raw: RawClient | undefined;
  let server: Server | undefined;
  try {
    ctx.progress('starting a daemon in a fresh home');
    daemon = await Daemon.start({home: join(root, 'home')});
    const c = await DaemonClient.connect(join(root, 'home'), 'bench');
    if (c === undefined) throw new Error('the daemon does not answer on its socket');
    client = c;
    const value = await c.request(OP, {});
    const reqBytes = encodeFrame({t: 'req', id: 1, op: OP, args: {}}).length;
    const resBytes = encodeFrame({t: 'res', id: 1, value}).length;
    server = await echoServer(join(root, 'echo.sock'), value);
    const r = await RawClient.connect(join(root, 'echo.sock'));
    raw = r;
    const sequential = (q: Requester, n: number) => async (): Promise<number> => {
      for (let i = 0; i < n; i++) await q.request(OP, {});
      return n;
    };
    const parallel = (q: Requester, n: number) => async (): Promise<number> => {
      await windowed(n, IN_FLIGHT, () => q.request(OP, {}));
      return n;
    };
    const m = await measureInterleaved(
      {
        daemonSeq: timed({run: sequential(c, SEQ)}),
        rawSeq: timed({run: sequential(r, SEQ)}),
        daemonPar: timed({run: parallel(c, PAR)}),
        rawPar: timed({run: parallel(r, PAR)}),
      },
      {warmup: 1, runs: RUNS},
    );
    const us = (rate: number, inFlight: number): string => `${formatNumber(1e6 / rate)} us per request${inFlight > 1 ? ' (throughput)' : ' round trip'}`;
    const frames = `req ${reqBytes} B, res ${resBytes} B`;
    rec(`daemon round trip, ${OP}, 1 in flight`, m.daemonSeq, 'req/s', `${us(m.daemonSeq.median, 1)}; ${frames}; DaemonClient -> socket -> parse, op, plain(), encode -> client`, 'uplink-seq');
    rec('raw socket echo, same frames, 1 in flight', m.rawSeq, 'req/s', `${us(m.rawSeq.median, 1)}; encodeFrame / FrameDecoder both sides`, 'uplink-seq');
    rec(`daemon round trip, ${OP}, ${IN_FLIGHT} in flight`, m.daemonPar, 'req/s', `${us(m.daemonPar.median, IN_FLIGHT)}; the daemon's per-connection limit`, 'uplink-par');
    rec(`raw socket echo, same frames, ${IN_FLIGHT} in flight`, m.rawPar, 'req/s', us(m.rawPar.median, IN_FLIGHT), 'uplink-par');
    report.ratio(B, `daemon round trip, ${OP}, 1 in flight`, 'raw socket echo, same frames, 1 in flight', undefined, 'what the protocol checks, the operation and the result encoding cost per round trip');
    report.ratio(B, `daemon round trip, ${OP}, ${IN_FLIGHT} in flight`, `raw socket echo, same frames, ${IN_FLIGHT} in flight`);
    report.note(B, 'round trips: client and daemon (and the echo server and its client) share this process and its one JavaScript thread; a CLI in another process would run beside the daemon on the second core');
  } finally {
    client?.close();
    raw?.close();
    await new Promise<void>((resolve) => (server === undefined ? resolve() : server.close(() => resolve())));
    await daemon?.stop('bench done');
    await rm(root, {recursive: true, force: true});
  }
}
