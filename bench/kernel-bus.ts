/**
 * Kernel benchmark, part 1: capsule-to-capsule publish-to-delivery through the real Bus,
 * with the real gate as an interceptor, on a real Ledger on LevelDB; against raw
 * `ledger.enqueue` of the same bus.message entries on the same kind of ledger.
 */
import {rm} from 'node:fs/promises';
import {join} from 'node:path';
import {Bus, MAX_MESSAGE_BYTES, type InterceptVerdict, type Published} from '../src/bus/index.js';
import {Authority, authorityProjection, BudgetBook, DEFAULT_RESERVED_TOPICS, SessionGate} from '../src/capabilities/index.js';
import {SigningKey, type Blake3} from '../src/crypto/index.js';
import {Ledger, LevelStore, packMsgpack, rebuild} from '../src/ledger/index.js';
import {parsePattern} from '../src/topics/index.js';
import {formatNumber, measureInterleaved, timed, type BenchContext} from './harness.js';
import {clock, CpuRates, random, recorder, tempDir} from './kit.js';

const SENDER = 'capsule-a';
const RECEIVER = 'capsule-b';
const PRINCIPAL = 'bench-agent';
const SESSION = 's-bench-bus';
const TOPIC = 'bench.ping';
/** Payload bytes per message (a msgpack bin: 102 bytes encoded). */
const PAYLOAD_BYTES = 100;
/** Publishes between two turns of the event loop, so group commit runs while the sender goes on. */
const CHUNK = 1000;
const CONTINUE: InterceptVerdict = {action: 'continue'};

interface Rig {
  readonly dir: string;
  readonly ledger: Ledger;
  readonly bus?: Bus;
  readonly book?: BudgetBook;
  /** Resolves when the subscriber has received `expect` messages since `arm`. */
  arm?(expect: number): Promise<void>;
}

/** Let the event loop turn (LevelDB callbacks, group commit, deliveries). */
const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

async function openLedger(dir: string, signer: SigningKey, hasher: Blake3): Promise<Ledger> {
  return Ledger.open({store: new LevelStore(join(dir, 'ledger')), clock, signer, hasher, checkpointIntervalMs: 0});
}

/**
 * A fresh ledger with an authority, a principal holding a token for `bus.send:bench.>`
 * (unlimited, or with a message budget), its session's gate, a bus whose interceptor runs
 * that gate on every publish, and a subscriber. One message is published and delivered
 * before the run, so the gate's first decision (and its gate.allowed entry) is not timed.
 */
async function busRig(signer: SigningKey, hasher: Blake3, token: 'unlimited' | 'budget' | 'no gate'): Promise<Rig> {
  const dir = await tempDir('kernel-bus');
  const ledger = await openLedger(dir, signer, hasher);
  const authority = new Authority({ledger, blake3: hasher, clock, random, owner: SigningKey.generate(), state: (await rebuild(ledger, authorityProjection)).state});
  await authority.ensureOwner();
  await authority.createPrincipal(PRINCIPAL, 'agent', SigningKey.generate().publicKey);
  const t = await authority.grant({to: PRINCIPAL, resources: ['bus.send:bench.>'], exp: clock.now() + 3600_000, ...(token === 'budget' ? {budget: {messages: 1e12}} : {})});
  const book = new BudgetBook(authority);
  const gate = new SessionGate({
    authority,
    budget: book,
    session: SESSION,
    principal: PRINCIPAL,
    tokens: [t.id],
    sessionLimits: {},
    capsules: (name) => (name === SENDER ? {hash: '0'.repeat(64), fs_read: [], fs_write: [], net_http: [], kv: [], spawn: [], sends: [parsePattern('bench.>')]} : undefined),
    policy: {denyRoots: [dir], reservedTopics: DEFAULT_RESERVED_TOPICS},
  });
  let corr = 0;
  // The default quota (10,000 messages/s per capsule) would refuse the burst: raised so the run measures the cost, not the limit.
  const bus = new Bus({ledger, clock, nextCorr: () => `c${++corr}`, quotas: {messagesPerSecond: 1e9, bytesPerSecond: 1e12, maxMessageBytes: MAX_MESSAGE_BYTES}});
  if (token !== 'no gate') {
    bus.intercept({
      name: 'gate',
      pattern: '>',
      priority: 0,
      intercept: (m) => {
        const d = gate.check({capsule: m.from, principal: m.principal, session: m.session, type: 'bus.send', value: m.topic});
        return d.allow ? CONTINUE : {action: 'deny', reason: d.reason};
      },
    });
  }
  let received = 0;
  let want = Infinity;
  let done: () => void = () => undefined;
  bus.subscribe('bench.>', RECEIVER).subscribe(() => {
    if (++received === want) done();
  });
  const rig: Rig = {
    dir,
    ledger,
    bus,
    book,
    arm(expect) {
      received = 0;
      want = expect;
      return new Promise<void>((r) => (done = r));
    },
  };
  const first = (rig.arm as (n: number) => Promise<void>)(1);
  await bus.publish({topic: TOPIC, payload: random(PAYLOAD_BYTES), from: SENDER, principal: PRINCIPAL, session: SESSION}).delivered;
  await first;
  return rig;
}

async function closeRig(r: Rig): Promise<void> {
  r.bus?.close();
  await r.ledger.close();
  await rm(r.dir, {recursive: true, force: true});
}

/** Section 1: publish-to-delivery through bus + gate + ledger, against raw ledger appends. */
export async function busSection(ctx: BenchContext, B: string, signer: SigningKey, hasher: Blake3): Promise<void> {
  const {report, quick} = ctx;
  const rec = recorder(ctx, B);
  const N = quick ? 2000 : 50_000;
  const RUNS = quick ? 1 : 3;
  const payloads = Array.from({length: 64}, () => random(PAYLOAD_BYTES));
  const packed = payloads.map((p) => packMsgpack(p));
  const rigs = new Set<Rig>();
  const cpu = new CpuRates();
  const WARMUP = 1;
  const setup = async (make: () => Promise<Rig>): Promise<Rig> => {
    const r = await make();
    rigs.add(r);
    return r;
  };
  const teardown = async (r: Rig): Promise<void> => {
    rigs.delete(r);
    await closeRig(r);
  };
  /** N publishes from A, pipelined (a turn of the event loop every CHUNK), until B has them all. */
  const publishAll = async (r: Rig): Promise<number> => {
    const bus = r.bus as Bus;
    const all = (r.arm as (n: number) => Promise<void>)(N);
    let last: Published | undefined;
    for (let i = 0; i < N; i++) {
      last = bus.publish({topic: TOPIC, payload: payloads[i & 63], from: SENDER, principal: PRINCIPAL, session: SESSION});
      if (i % CHUNK === CHUNK - 1) await tick();
    }
    if ((await last?.delivered) !== 1) throw new Error('the last message reached no subscriber');
    await all;
    r.book?.flush({session: SESSION, principal: PRINCIPAL, actor: 'gate'});
    return N;
  };
  try {
    const m = await measureInterleaved(
      {
        bus: timed({setup: () => setup(() => busRig(signer, hasher, 'unlimited')), run: cpu.wrap('bus', publishAll), teardown}),
        budget: timed({setup: () => setup(() => busRig(signer, hasher, 'budget')), run: publishAll, teardown}),
        nogate: timed({setup: () => setup(() => busRig(signer, hasher, 'no gate')), run: publishAll, teardown}),
        raw: timed({
          setup: () =>
            setup(async () => {
              const dir = await tempDir('kernel-raw');
              return {dir, ledger: await openLedger(dir, signer, hasher)};
            }),
          run: cpu.wrap('raw', async (r: Rig) => {
            let last: {readonly durable: Promise<unknown>} | undefined;
            for (let i = 0; i < N; i++) {
              last = r.ledger.enqueue({kind: 'bus.message', body: {topic: TOPIC, payload: packed[i & 63] as Uint8Array, from: SENDER, corr: ''}, session: SESSION, principal: PRINCIPAL, actor: SENDER});
              if (i % CHUNK === CHUNK - 1) await tick();
            }
            await last?.durable;
            return N;
          }),
          teardown,
        }),
      },
      {warmup: WARMUP, runs: RUNS},
    );
    const us = (rate: number): string => `${formatNumber(1e6 / rate)} us per message`;
    const what = `${formatNumber(N)} messages of ${PAYLOAD_BYTES} B, ${CHUNK} per event-loop turn, first publish to last delivery`;
    rec('bus publish-to-delivery, gate + ledger (unlimited token)', m.bus, 'msgs/s', `${us(m.bus.median)}; ${what}; gate fast path (memoised)`, 'bus');
    rec('bus publish-to-delivery, gate + ledger (token with a message budget)', m.budget, 'msgs/s', `${us(m.budget.median)}; the gate also reserves 1 message per publish; budget.charged flushed at the end`, 'bus');
    rec('bus publish-to-delivery, no interceptor (no gate)', m.nogate, 'msgs/s', `${us(m.nogate.median)}; the same without the gate: validation, quotas, encode/decode, ledger, routing`, 'bus');
    rec('raw ledger.enqueue of the same bus.message entries', m.raw, 'entries/s', `${us(m.raw.median)}; same bytes, same chunking, until the last is durable`, 'bus');
    const cb = cpu.summary('bus', WARMUP);
    const cr = cpu.summary('raw', WARMUP);
    rec('bus publish-to-delivery, gate + ledger, per CPU second', cb, 'msgs/CPU-s', `${formatNumber(1e6 / cb.median)} us of process CPU (all threads) per message; unlimited token`, 'bus');
    rec('raw ledger.enqueue, per CPU second', cr, 'entries/CPU-s', `${formatNumber(1e6 / cr.median)} us of process CPU per entry`, 'bus');
    report.ratio(B, 'bus publish-to-delivery, gate + ledger (unlimited token)', 'raw ledger.enqueue of the same bus.message entries', undefined, 'what validation, the gate, quotas, encode/decode and routing cost over recording the message');
    report.ratio(B, 'bus publish-to-delivery, gate + ledger (token with a message budget)', 'raw ledger.enqueue of the same bus.message entries');
    report.ratio(B, 'bus publish-to-delivery, no interceptor (no gate)', 'raw ledger.enqueue of the same bus.message entries', undefined, 'the bus alone over the ledger');
    report.ratio(B, 'bus publish-to-delivery, gate + ledger (unlimited token)', 'bus publish-to-delivery, no interceptor (no gate)', undefined, "the gate's share: 1 would be free");
    report.ratio(B, 'bus publish-to-delivery, gate + ledger, per CPU second', 'raw ledger.enqueue, per CPU second', undefined, 'by process CPU time: robust to other load');
    const rate = m.bus.median;
    report.note(
      B,
      `publish-to-delivery ${formatNumber(rate)} msgs/s with an unlimited token, ${formatNumber(m.budget.median)} with a budget (target >= 50,000 msgs/s on 2 cores): ${rate >= 50_000 ? 'MET' : 'NOT MET'}; ` +
        `${formatNumber(cb.median)} per CPU second (when the load average is above 2, other processes take cores from the run)`,
    );
  } finally {
    for (const r of [...rigs]) await closeRig(r);
  }
}
