/**
 * Child process of the kernel benchmark's memory part (run by kernel-idle.ts as
 * `node --expose-gc kernel-idle-child.js N HOME`): open HOME, where the parent installed
 * capsules/echo (so this process loads it from the store as a booting daemon does, and never
 * loads binaryen), then create N capsule instances, each in its own session (its own SessionGate and capsule
 * actor) as a session in the daemon does, deliver one message to each, let them idle, and
 * print one JSON line of memory figures on stdout. Running in its own process keeps the
 * parent's heap out of the figures.
 */
import {performance} from 'node:perf_hooks';
import {startCapsuleActor, capsuleState, type CapsuleActor} from '../src/actors/index.js';
import {DEFAULT_RESERVED_TOPICS, SessionGate} from '../src/capabilities/index.js';
import {budgetBook, openAuthority, openCapsuleStore, openKernelState} from '../src/kernel/index.js';
import {rebuild} from '../src/ledger/index.js';
import {installedProjection, pack, CapsuleInstance, type KvState, type SessionContext} from '../src/sandbox/index.js';
import {clock, random, windowed} from './kit.js';

/** Instances created (and messages delivered) at once, so their ledger entries share fsyncs. */
const CONCURRENCY = 50;

export interface IdleFigures {
  readonly n: number;
  /** process.memoryUsage() after imports, before anything is opened. */
  readonly start: NodeJS.MemoryUsage;
  /** After the ledger is open, the authority rebuilt and the capsule loaded from the store (compiled): the baseline. */
  readonly base: NodeJS.MemoryUsage;
  /** After N instances, actors and one delivery each, idle, collected. */
  readonly after: NodeJS.MemoryUsage;
  readonly createMs: number;
  readonly deliverMs: number;
  readonly idle: number;
  readonly initialPages: number;
  readonly gc: boolean;
}

async function settle(): Promise<NodeJS.MemoryUsage> {
  const gc = (globalThis as {gc?: () => void}).gc;
  for (let i = 0; i < 3; i++) {
    gc?.();
    await new Promise((r) => setTimeout(r, 50));
  }
  return process.memoryUsage();
}

async function main(n: number, home: string): Promise<IdleFigures> {
  const start = await settle();
  {
    const k = await openKernelState({home, mode: 'write'});
    try {
      const installed = (await rebuild(k.ledger, installedProjection)).state.get('echo');
      if (installed === undefined) throw new Error(`capsules/echo is not installed in ${home}`);
      const loaded = await openCapsuleStore(k).load(installed);
      const authority = await openAuthority(k, 'write');
      const token = await authority.grant({to: 'owner', resources: ['bus.send:echo.>'], exp: clock.now() + 3600_000});
      const book = budgetBook(authority);
      const kv: KvState = new Map();
      const bounds = {hash: loaded.hash, ...loaded.manifest.resources, sends: loaded.manifest.topics.sends};
      const policy = {denyRoots: [home], reservedTopics: DEFAULT_RESERVED_TOPICS};
      const base = await settle();

      const live: Array<{inst: CapsuleInstance; actor: CapsuleActor; session: string}> = [];
      const t0 = performance.now();
      await windowed(n, CONCURRENCY, async (i) => {
        const session = `s-idle-${i}`;
        const gate = new SessionGate({authority, budget: book, session, principal: 'owner', tokens: [token.id], sessionLimits: {}, capsules: (name) => (name === loaded.name ? bounds : undefined), policy});
        const ctx: SessionContext = {ledger: k.ledger, clock, gate, random, kv, session, principal: 'owner', budget: loaded.manifest.budget};
        const actor = startCapsuleActor(loaded.name);
        const inst = await CapsuleInstance.create(loaded, ctx);
        actor.send({type: 'LOADED'});
        live.push({inst, actor, session});
      });
      const t1 = performance.now();
      await windowed(live.length, CONCURRENCY, async (i) => {
        const x = live[i] as (typeof live)[number];
        const payload = {text: `hello ${i}`};
        const m = k.ledger.enqueue({kind: 'bus.message', body: {topic: 'echo.hello', payload: pack(payload), from: 'cli', corr: ''}, session: x.session, principal: 'owner', actor: 'cli'});
        x.actor.send({type: 'DELIVER', seq: m.seq});
        const r = await x.inst.activate({topic: 'echo.hello', payload, from: 'cli', seq: m.seq});
        x.actor.send({type: 'DONE', outcome: r.outcome});
        if (r.outcome !== 'ok' || r.sends.length !== 1) throw new Error(`echo ${i}: ${r.outcome} ${r.message}`);
      });
      const t2 = performance.now();
      await k.ledger.flush();
      const after = await settle();
      const idle = live.filter((x) => capsuleState(x.actor) === 'idle' && !x.inst.dead).length;
      for (const x of live) x.actor.stop();
      return {n, start, base, after, createMs: t1 - t0, deliverMs: t2 - t1, idle, initialPages: loaded.initialPages, gc: typeof (globalThis as {gc?: unknown}).gc === 'function'};
    } finally {
      await k.close();
    }
  }
}

const n = Number(process.argv[2]);
const home = process.argv[3];
if (!Number.isSafeInteger(n) || n < 1 || home === undefined) {
  process.stderr.write('usage: node --expose-gc kernel-idle-child.js N HOME\n');
  process.exitCode = 2;
} else {
  main(n, home).then(
    (r) => process.stdout.write(`${JSON.stringify(r)}\n`),
    (e: unknown) => {
      process.stderr.write(`kernel-idle-child failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exitCode = 1;
    },
  );
}
