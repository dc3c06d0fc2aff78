// A child program for the crash-safety and lock tests: appends until killed, holds the ledger open, or probes the lock.
/*
 * Usage: node dist/test/helpers/crash-child.js <mode> <home> [seed] [checkpointEvery]
 *
 *   append  open the kernel state on <home> for writing, print `ready <seq> <hash>`, then append
 *           note entries forever in windows of 1..200 appends in flight (sizes, sessions and
 *           actors chosen by an xorshift PRNG seeded with <seed>). For each append, only after
 *           its promise resolved, print `<seq> <hash>` with a synchronous write(2), so every
 *           line the parent reads names an append the ledger promised was durable.
 *   hold    open the kernel state for writing, print `ready <seq> <hash>`, and keep the ledger
 *           (and its LevelDB lock) until stdin ends; then close and print `closed`.
 *   probe   try once to open the kernel state (mode read or write in <seed>, default write) and
 *           print one JSON line: {"ok": true, "head": n} or {"ok": false, "astrid": bool, "code", "message"}.
 *
 * Anything unexpected is written to stderr and ends the process with status 3, so a parent
 * that meant to SIGKILL it can tell a kill from a crash of its own.
 */
import {writeSync} from 'node:fs';
import {openKernelState} from '../../src/kernel/index.js';
import {AstridError} from '../../src/errors/index.js';
import {toHex} from '../../src/crypto/index.js';
import {xorshift32} from './prng.js';


/** Write a whole line to fd 1 with write(2), retrying while the pipe is full. */
function writeLine(line: string): void {
  const buf = Buffer.from(line + '\n', 'utf8');
  let off = 0;
  while (off < buf.length) {
    try {
      off += writeSync(1, buf, off);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EAGAIN') throw e;
    }
  }
}

function fail(e: unknown): never {
  process.stderr.write(`crash-child: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(3);
}

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,-é€';

async function appendForever(home: string, seed: number, checkpointEvery: number): Promise<never> {
  const rnd = xorshift32(seed);
  // One long random text; notes are slices of it (1..4096 characters, mostly short).
  let pool = '';
  for (let i = 0; i < 8192; i++) pool += ALPHABET[rnd() % ALPHABET.length];
  const k = await openKernelState({home, mode: 'write', checkpointEvery, checkpointIntervalMs: 25});
  writeLine(`ready ${k.ledger.head.seq} ${toHex(k.ledger.head.hash)}`);
  for (let round = 0; ; round++) {
    const window = 1 + (rnd() % 200);
    const inFlight: Promise<void>[] = [];
    for (let i = 0; i < window; i++) {
      const r = rnd();
      const len = r % 16 === 0 ? 1 + (rnd() % 4096) : 1 + (rnd() % 120);
      const start = rnd() % (pool.length - len);
      const p = k.ledger
        .append({
          kind: 'note',
          body: {text: pool.slice(start, start + len)},
          session: `s-${r % 7}`,
          actor: `a-${(r >>> 8) % 5}`,
          principal: 'owner',
        })
        .then((a) => writeLine(`${a.seq} ${toHex(a.hash)}`));
      inFlight.push(p);
    }
    // Every other round, start the next window before this one is durable: more overlap.
    if (round % 2 === 0) await Promise.all(inFlight);
    else void Promise.all(inFlight).catch(fail);
    // A short, varying pause, so a kill also lands between batches and not only in one.
    await new Promise<void>((resolve) => setTimeout(resolve, rnd() % 8));
  }
}

async function hold(home: string): Promise<void> {
  const k = await openKernelState({home, mode: 'write'});
  writeLine(`ready ${k.ledger.head.seq} ${toHex(k.ledger.head.hash)}`);
  process.stdin.resume();
  await new Promise<void>((resolve) => process.stdin.on('end', resolve));
  await k.close();
  writeLine('closed');
}

async function probe(home: string, mode: 'read' | 'write'): Promise<void> {
  try {
    const k = await openKernelState({home, mode});
    const head = k.ledger.head.seq;
    await k.close();
    writeLine(JSON.stringify({ok: true, head}));
  } catch (e) {
    writeLine(
      JSON.stringify({
        ok: false,
        astrid: e instanceof AstridError,
        code: e instanceof AstridError ? e.code : undefined,
        message: e instanceof Error ? e.message : String(e),
      }),
    );
  }
}

async function main(argv: readonly string[]): Promise<void> {
  const [mode, home, arg, cpEvery] = argv;
  if (home === undefined) throw new TypeError('usage: crash-child <append|hold|probe> <home> [seed|mode] [checkpointEvery]');
  switch (mode) {
    case 'append':
      await appendForever(home, Number(arg ?? '1'), Number(cpEvery ?? '100'));
      return;
    case 'hold':
      await hold(home);
      return;
    case 'probe':
      await probe(home, arg === 'read' ? 'read' : 'write');
      return;
    default:
      throw new TypeError(`unknown mode ${String(mode)}`);
  }
}

main(process.argv.slice(2)).catch(fail);
