// Proves the bus: no subscriber sees a message before its bus.message entry is durable, deliveries follow ledger order, routing reaches exactly the matching subscribers, kernel topics are schema-checked, interceptors/quotas/request-reply behave, and every refusal is a gate.denied entry.
import {describe, it} from 'node:test';
import {strict as assert} from 'node:assert';
import {join} from 'node:path';
import fc from 'fast-check';
import {unpack} from 'msgpackr';
import {AstridError, type ErrorCode} from '../../src/errors/index.js';
import {Bus, MAX_FS_WRITE_BYTES, type BusMessage, type BusOptions, type PublishInput, type QuotaLimits} from '../../src/bus/index.js';
import {LevelStore, MemoryStore, type BodyByKind, type Ledger, type LedgerStore, type StoredEntry} from '../../src/ledger/index.js';
import {matches, parsePattern, parseTopic} from '../../src/topics/index.js';
import {InstrumentedStore, code, openLedger, testClock, turns, type TestClock} from '../helpers/ledger-fixtures.js';
import {tmpDir} from '../helpers/index.js';
import {xorshift32} from '../helpers/prng.js';

type World = {readonly ledger: Ledger; readonly bus: Bus; readonly clock: TestClock};
type Opts = Partial<BusOptions> & {readonly store?: LedgerStore; readonly todo?: string};

/** A bus over a real ledger (MemoryStore unless given), its clock moved by hand; both closed after `fn`. */
async function withBus(fn: (w: World) => Promise<void>, o: Opts = {}): Promise<void> {
  const {store = new MemoryStore(), todo: _todo, ...options} = o;
  const clock = testClock();
  const ledger = await openLedger(store, {clock});
  let n = 0;
  const bus = new Bus({ledger, clock, nextCorr: () => `corr-${++n}`, ...options});
  try {
    await fn({ledger, bus, clock});
  } finally {
    bus.close();
    await ledger.close();
  }
}
/** A test of one fresh bus; `o.todo` marks a known src bug (the test runs, its failure is reported, the suite stays green). */
const busIt = (name: string, fn: (w: World) => Promise<void>, o: Opts = {}): void => {
  it(name, o.todo === undefined ? {} : {todo: o.todo}, () => withBus(fn, o));
};

const msg = (topic: string, payload: unknown = {n: 1}, from = 'echo', principal = 'alice', extra: Partial<PublishInput> = {}): PublishInput => ({topic, payload, from, principal, session: 's1', ...extra});
const lim = (messagesPerSecond: number, bytesPerSecond = 1e9, maxMessageBytes = 65_536): QuotaLimits => ({messagesPerSecond, bytesPerSecond, maxMessageBytes});
const BIG = lim(1e9);

function collect(bus: Bus, pattern: string, owner = 'watcher'): {readonly got: BusMessage[]; stop(): void} {
  const got: BusMessage[] = [];
  const s = bus.subscribe(pattern, owner).subscribe((m) => got.push(m));
  return {got, stop: () => s.unsubscribe()};
}

/** What `f` throws (undefined when it returns). */
function thrown(f: () => unknown): unknown {
  try {
    f();
    return undefined;
  } catch (e) {
    return e;
  }
}
/** `f` throws AstridError `c` (with `details.rule` when given); returns it. */
function refused(f: () => unknown, c: ErrorCode, rule?: string): AstridError {
  let err: unknown;
  assert.throws(f, (e: unknown) => code(c)((err = e)));
  const e = err as AstridError;
  if (rule !== undefined) assert.equal(e.details.rule, rule);
  return e;
}

/** The flushed entries of `kind`, with their typed bodies. */
async function entriesOf<K extends 'bus.message' | 'gate.denied'>(l: Ledger, kind: K): Promise<Array<StoredEntry & {body: BodyByKind[K]}>> {
  await l.flush();
  const out: Array<StoredEntry & {body: BodyByKind[K]}> = [];
  for await (const s of l.entries({kind})) out.push({...s, body: s.entry.body as BodyByKind[K]});
  return out;
}
const lastDenial = async (l: Ledger): Promise<BodyByKind['gate.denied'] | undefined> => (await entriesOf(l, 'gate.denied')).at(-1)?.body;
const payloadOf = async (l: Ledger, i = 0): Promise<unknown> => unpack((await entriesOf(l, 'bus.message'))[i]?.body.payload ?? new Uint8Array());

describe('every message is a ledger entry before delivery', () => {
  const held = new InstrumentedStore(new MemoryStore());
  busIt('a subscriber runs only once its bus.message entry (topic, from, corr, msgpack payload) is durable', async ({ledger, bus}) => {
    const seen: Array<{m: BusMessage; durable: number; stored: Promise<StoredEntry | undefined>}> = [];
    bus.subscribe('tool.>', 'watcher').subscribe((m) => seen.push({m, durable: ledger.durableHead.seq, stored: ledger.read(m.seq)}));
    const open = held.hold();
    const payload = {text: 'hi', n: 7, list: [1, 'two', null]};
    const p = bus.publish(msg('tool.echo.say', payload, 'echo', 'alice', {corr: 'c-1'}));
    const delivered = p.delivered;
    await turns(5);
    assert.equal(seen.length, 0, 'nothing is delivered while the write is held');
    open();
    assert.equal(await delivered, 1);
    const [s] = seen;
    assert.ok(s !== undefined && s.m.seq === p.seq && s.durable >= p.seq);
    const e = await s.stored;
    assert.ok(e !== undefined && e.entry.kind === 'bus.message');
    assert.deepEqual({...e.entry.body, payload: unpack(e.entry.body.payload)}, {topic: 'tool.echo.say', from: 'echo', corr: 'c-1', payload});
    assert.deepEqual([e.entry.session, e.entry.principal, e.entry.actor], ['s1', 'alice', 'echo']);
    assert.deepEqual(s.m.payload, payload);
  }, {store: held});

  it('on LevelStore: every delivered message was durable when delivered and is there after reopening', async () => {
    const {dir, cleanup} = tmpDir('astrid-bus-');
    try {
      const delivered: Array<[number, boolean]> = [];
      await withBus(async ({ledger, bus}) => {
        bus.subscribe('>', 'watcher').subscribe((m) => delivered.push([m.seq, ledger.durableHead.seq >= m.seq]));
        await Promise.all(Array.from({length: 20}, (_, i) => bus.publish(msg(`note.t${i % 3}`, {i})).delivered));
      }, {store: new LevelStore(join(dir, 'ledger'))});
      const again = await openLedger(new LevelStore(join(dir, 'ledger')));
      assert.deepEqual((await entriesOf(again, 'bus.message')).map((e) => [e.seq, true]), delivered);
      assert.equal(delivered.length, 20);
      await again.close();
    } finally {
      cleanup();
    }
  });

  busIt('delivery order is ledger order across topics, senders, commit batches and refusals', async ({ledger, bus}) => {
    const rnd = xorshift32(0xb05);
    const topics = ['a.x', 'b.y', 'c.z.w', 'a.q'];
    const all = collect(bus, '>');
    const per = topics.map((t) => [t, collect(bus, t)] as const);
    const ps: Array<Promise<number>> = [];
    for (let i = 0; i < 300; i++) {
      if (rnd() % 4 === 0) await turns(1);
      if (rnd() % 10 === 0) refused(() => bus.publish(msg('Not.A.Topic')), 'BUS_INVALID');
      ps.push(bus.publish(msg(topics[rnd() % topics.length] as string, {i}, `actor${rnd() % 3}`)).delivered);
    }
    await Promise.all(ps);
    const recorded = await entriesOf(ledger, 'bus.message');
    assert.deepEqual(all.got.map((m) => [m.seq, m.topic]), recorded.map((e) => [e.seq, e.body.topic]));
    for (const [t, c] of per) assert.deepEqual(c.got.map((m) => m.seq), recorded.filter((e) => e.body.topic === t).map((e) => e.seq), t);
    assert.ok((await entriesOf(ledger, 'gate.denied')).length > 0, 'refusals were interleaved');
  });

  busIt('1,000 subscribers with distinct patterns each get exactly their messages', async ({bus}) => {
    const rnd = xorshift32(1000);
    const pats = new Set<string>();
    const grow = (prefix: string[]): void => {
      if (prefix.length > 0) pats.add(prefix.join('.'));
      if (prefix.length < 4) pats.add([...prefix, '>'].join('.'));
      if (prefix.length < 4) for (const s of ['a', 'b', 'c', 'd', 'e', '*']) grow([...prefix, s]);
    };
    grow([]);
    const shuffled = [...pats];
    for (let i = shuffled.length - 1; i > 0; i--) {
      const j = rnd() % (i + 1);
      [shuffled[i], shuffled[j]] = [shuffled[j] as string, shuffled[i] as string];
    }
    const patterns = shuffled.slice(0, 1000);
    assert.equal(new Set(patterns).size, 1000);
    const subs = patterns.map((p, i) => [p, collect(bus, p, `sub${i}`)] as const);
    assert.equal(bus.subscriptions, 1000);
    const alphabet = ['a', 'b', 'c', 'd', 'e', 'f'];
    const topics = Array.from({length: 400}, () => Array.from({length: 1 + (rnd() % 4)}, () => alphabet[rnd() % alphabet.length]).join('.'));
    const reached = await Promise.all(topics.map((t) => bus.publish(msg(t)).delivered));
    for (const [p, c] of subs) assert.deepEqual(c.got.map((m) => m.topic), topics.filter((t) => matches(parsePattern(p), parseTopic(t))), p);
    assert.deepEqual(reached, topics.map((t) => patterns.filter((p) => matches(parsePattern(p), parseTopic(t))).length));
    for (const [, c] of subs) c.stop();
    assert.equal(bus.subscriptions, 0);
  });

  busIt('unsubscribing removes from the index; an invalid pattern is refused at subscribe', async ({bus}) => {
    const obs = bus.subscribe('a.*', 'x');
    const got: number[] = [];
    const s1 = obs.subscribe(() => got.push(1));
    const s2 = obs.subscribe(() => got.push(2));
    const s3 = collect(bus, '>', 'y');
    assert.equal(bus.subscriptions, 3);
    s1.unsubscribe();
    s1.unsubscribe();
    assert.equal(bus.subscriptions, 2);
    assert.equal(await bus.publish(msg('a.b')).delivered, 2);
    assert.deepEqual(got, [2]);
    s2.unsubscribe();
    s3.stop();
    assert.equal(bus.subscriptions, 0);
    assert.equal(await bus.publish(msg('a.b')).delivered, 0);
    for (const p of ['a..b', 'A', 'a.>.b', 'a*']) assert.throws(() => bus.subscribe(p, 'x'), TypeError, p);
    assert.equal(bus.subscriptions, 0);
  });
});

describe('kernel topic schemas', () => {
  const data = Uint8Array.of(1, 2, 3);
  const BAD_WRITES: ReadonlyArray<readonly [string, unknown]> = [
    ['missing data', {path: '/w/a'}], ['an extra field', {path: '/w/a', data, mode: 0o777}], ['data too large', {path: '/w/a', data: new Uint8Array(MAX_FS_WRITE_BYTES + 1)}],
    ['path not a string', {path: 42, data}], ['an empty path', {path: '', data}], ['data as a number array', {path: '/w/a', data: [1, 2, 3]}],
    ['data as a string', {path: '/w/a', data: 'AQID'}], ['a null payload', null], ['a string payload', '/w/a'],
  ];
  for (const [why, payload] of BAD_WRITES) {
    busIt(`svc.fs.write with ${why}: BUS_INVALID, recorded as gate.denied (bus, schema), nothing sent`, async ({ledger, bus}) => {
      const w = collect(bus, '>', 'svc.fs');
      refused(() => bus.publish(msg('svc.fs.write', payload)), 'BUS_INVALID', 'schema');
      await turns(3);
      assert.deepEqual([w.got.length, (await entriesOf(ledger, 'bus.message')).length], [0, 0]);
      const d = await entriesOf(ledger, 'gate.denied');
      assert.equal(d.length, 1);
      assert.deepEqual({...d[0]?.body, reason: undefined}, {code: 'GATE_DENIED', layer: 'bus', rule: 'schema', resource: 'bus.send:svc.fs.write', capsule: 'echo', reason: undefined});
      assert.match(d[0]?.body.reason ?? '', /svc\.fs\.write/);
      assert.deepEqual([d[0]?.entry.session, d[0]?.entry.principal, d[0]?.entry.actor], ['s1', 'alice', 'bus']);
    });
  }

  busIt('valid kernel payloads pass; the schema is per topic', async ({ledger, bus}) => {
    const w = collect(bus, '>');
    const ok = {'svc.fs.write': {path: '/w/a', data}, 'svc.fs.write.result': {ok: true, path: '/w/a', bytes: 3}, 'svc.approval.request': {resource: 'fs.write:/w/a', reason: 'save'}, 'kernel.session.started': {session: 's1', status: 'running'}};
    for (const [t, p] of Object.entries(ok)) await bus.publish(msg(t, p)).delivered;
    assert.deepEqual(w.got.map((m) => m.topic), Object.keys(ok));
    assert.deepEqual(new Uint8Array(((await payloadOf(ledger)) as {data: Uint8Array}).data), data);
    refused(() => bus.publish(msg('svc.fs.write.result', {ok: 'yes', path: '/w/a'})), 'BUS_INVALID', 'schema');
    refused(() => bus.publish(msg('kernel.session.started', {session: 's1'})), 'BUS_INVALID', 'schema');
  });

  busIt('a topic under a kernel prefix without a schema is refused; look-alikes outside the prefixes pass', async ({ledger, bus}) => {
    for (const t of ['svc.other', 'svc.fs', 'svc.fs.write.extra', 'kernel.x', 'kernel.session.a.b', 'approval.granted']) {
      const e = refused(() => bus.publish(msg(t)), 'BUS_INVALID', 'schema');
      assert.match(e.message, /kernel prefix/, t);
      assert.equal((await lastDenial(ledger))?.resource, `bus.send:${t}`);
    }
    for (const t of ['svcx.a', 'tool.svc.fs.write', 'kernels.x', 'approvals.y']) await bus.publish(msg(t)).delivered;
  });

  busIt('an invalid topic, or a corr over 128 characters or not a string, is refused (BUS_INVALID) and recorded', async ({ledger, bus}) => {
    const bad: unknown[] = ['', 'Tool.x', 'a..b', 'tool.*', 'tool.>', 'a.b.c.d.e.f.g.h.i', 'x'.repeat(257), 'tööl', 42, null];
    for (const t of bad) refused(() => bus.publish({...msg('x'), topic: t as string}), 'BUS_INVALID', 'topic-grammar');
    refused(() => bus.publish(msg('a', 1, 'echo', 'alice', {corr: 'c'.repeat(129)})), 'BUS_INVALID', 'corr');
    refused(() => bus.publish(msg('a', 1, 'echo', 'alice', {corr: 7 as unknown as string})), 'BUS_INVALID', 'corr');
    assert.deepEqual((await entriesOf(ledger, 'gate.denied')).map((d) => [d.body.layer, d.body.rule]), [...bad.map(() => ['bus', 'topic-grammar']), ['bus', 'corr'], ['bus', 'corr']]);
    assert.equal((await entriesOf(ledger, 'bus.message')).length, 0);
    await bus.publish(msg('a', 1, 'echo', 'alice', {corr: 'c'.repeat(128)})).delivered; // 128 characters is the limit, not over it
  });
});

describe('interceptors', () => {
  busIt('run in priority order (ties in insertion order), only on topics their pattern matches', async ({bus}) => {
    const ran: string[] = [];
    const add = (name: string, priority: number, pattern = 'tool.>'): (() => void) =>
      bus.intercept({name, pattern, priority, intercept: () => (ran.push(name), {action: 'continue'})});
    for (const [name, priority, pattern] of [['late', 10], ['first', -5], ['mid-a', 0], ['other', -100, 'notes.>'], ['mid-b', 0]] as const) add(name, priority, pattern);
    await bus.publish(msg('tool.x')).delivered;
    assert.deepEqual(ran, ['first', 'mid-a', 'mid-b', 'late']);
  });

  busIt('replace changes the delivered and the recorded payload; later interceptors see the replacement', async ({ledger, bus}) => {
    const w = collect(bus, 'tool.>');
    const seenByLater: unknown[] = [];
    bus.intercept({name: 'redact', pattern: 'tool.*', priority: 1, intercept: () => ({action: 'replace', payload: {secret: '[redacted]'}})});
    bus.intercept({name: 'audit', pattern: '>', priority: 2, intercept: (m) => (seenByLater.push(m.payload), {action: 'continue'})});
    await bus.publish(msg('tool.x', {secret: 'hunter2'})).delivered;
    assert.deepEqual(w.got.map((m) => m.payload), [{secret: '[redacted]'}]);
    assert.deepEqual(seenByLater, [{secret: '[redacted]'}]);
    assert.deepEqual(await payloadOf(ledger), {secret: '[redacted]'});
  });

  busIt('a replacement that breaks the kernel schema is refused, naming the interceptor', async ({ledger, bus}) => {
    const w = collect(bus, '>');
    bus.intercept({name: 'mangler', pattern: 'svc.>', priority: 0, intercept: () => ({action: 'replace', payload: {path: '/w/a'}})});
    const e = refused(() => bus.publish(msg('svc.fs.write', {path: '/w/a', data: Uint8Array.of(1)})), 'BUS_INVALID', 'interceptor:mangler');
    assert.match(e.message, /replacement/);
    assert.equal((await lastDenial(ledger))?.rule, 'interceptor:mangler');
    await turns(3);
    assert.deepEqual([w.got.length, (await entriesOf(ledger, 'bus.message')).length], [0, 0]);
  });

  busIt('deny stops the message with BUS_DENIED naming the interceptor; later ones do not run; removal lets it through', async ({ledger, bus}) => {
    const w = collect(bus, '>');
    let laterRan = 0;
    const remove = bus.intercept({name: 'no-egress', pattern: 'net.>', priority: 0, intercept: () => ({action: 'deny', reason: 'egress is off'})});
    bus.intercept({name: 'later', pattern: '>', priority: 1, intercept: () => (laterRan++, {action: 'continue'})});
    const e = refused(() => bus.publish(msg('net.http.get')), 'BUS_DENIED', 'interceptor:no-egress');
    assert.equal(e.message, 'egress is off');
    const d = await lastDenial(ledger);
    assert.deepEqual([d?.rule, d?.reason, d?.resource], ['interceptor:no-egress', 'egress is off', 'bus.send:net.http.get']);
    assert.equal(laterRan, 0);
    remove();
    remove();
    await bus.publish(msg('net.http.get')).delivered;
    assert.deepEqual([w.got.length, laterRan], [1, 1]);
  });
});

describe('quotas', () => {
  const perActor = (a: QuotaLimits, p: QuotaLimits = BIG) => ({quotaFor: (k: string) => (k.startsWith('actor:') ? a : p)});

  busIt('messages/s per actor: a burst of one second, BUS_QUOTA with retryAfterMs, refill with the clock, no bigger burst after idling', async ({ledger, bus, clock}) => {
    for (let i = 0; i < 5; i++) bus.publish(msg('a'));
    const e = refused(() => bus.publish(msg('a')), 'BUS_QUOTA', 'rate');
    const wait = e.details.retryAfterMs as number;
    assert.ok(Number.isInteger(wait) && wait > 0 && wait <= 200, String(wait));
    assert.deepEqual(await lastDenial(ledger).then((d) => [d?.rule, d?.capsule]), ['rate', 'echo']);
    clock.t += wait;
    bus.publish(msg('a'));
    refused(() => bus.publish(msg('a')), 'BUS_QUOTA', 'rate');
    clock.t += 3_600_000;
    for (let i = 0; i < 5; i++) bus.publish(msg('a'));
    refused(() => bus.publish(msg('a')), 'BUS_QUOTA', 'rate');
    assert.equal((await entriesOf(ledger, 'bus.message')).length, 11);
  }, perActor(lim(5)));

  busIt('bytes/s per actor: refused when the bytes are spent, accepted once the clock refills them', async ({bus, clock}) => {
    const p = new Uint8Array(40); // 42 bytes of msgpack
    bus.publish(msg('a', p));
    bus.publish(msg('a', p));
    assert.ok((refused(() => bus.publish(msg('a', p)), 'BUS_QUOTA', 'rate').details.retryAfterMs as number) > 0);
    bus.publish(msg('a', 1)); // a smaller message still fits
    clock.t += 1000;
    bus.publish(msg('a', p));
  }, perActor(lim(1000, 100)));

  busIt('per principal: all actors of a principal share its bucket; another principal is untouched', async ({bus, clock}) => {
    for (const from of ['echo', 'notes', 'echo']) bus.publish(msg('a', 1, from, 'alice'));
    for (const from of ['echo', 'notes', 'fresh']) assert.ok((refused(() => bus.publish(msg('a', 1, from, 'alice')), 'BUS_QUOTA', 'rate').details.retryAfterMs as number) > 0);
    for (let i = 0; i < 50; i++) bus.publish(msg('a', 1, 'echo', 'bob'));
    clock.t += 1000;
    bus.publish(msg('a', 1, 'fresh', 'alice'));
  }, {quotaFor: (k) => (k === 'principal:alice' ? lim(3) : BIG)});

  busIt('max message size: at the limit accepted, one byte over refused (no retryAfterMs); the smaller of actor and principal limits applies', async ({ledger, bus}) => {
    bus.publish(msg('a', new Uint8Array(62))); // 64 bytes of msgpack
    const e = refused(() => bus.publish(msg('a', new Uint8Array(63))), 'BUS_QUOTA', 'max-message-bytes');
    assert.deepEqual([e.details.limit, e.details.bytes, e.details.retryAfterMs], [64, 65, undefined]);
    assert.equal((await lastDenial(ledger))?.rule, 'max-message-bytes');
    refused(() => bus.publish(msg('a', 'x'.repeat(10_000), 'echo', 'bob')), 'BUS_QUOTA', 'max-message-bytes');
  }, {quotaFor: (k) => (k.startsWith('actor:') ? lim(1e6, 1e9, 100) : k === 'principal:alice' ? lim(1e6, 1e9, 64) : undefined), quotas: lim(1e6, 1e9, 4096)});

  busIt('a flooding sender is throttled while another sender of the same principal is unaffected', async ({ledger, bus, clock}) => {
    const w = collect(bus, '>');
    const outcomes = new Map<string, number>();
    for (let i = 0; i < 1000; i++) {
      const e = thrown(() => bus.publish(msg('flood.x', i, 'flood')));
      const k = e === undefined ? 'ok' : e instanceof AstridError ? e.code : String(e);
      outcomes.set(k, (outcomes.get(k) ?? 0) + 1);
      if (i % 100 === 0) bus.publish(msg('calm.x', i, 'calm'));
    }
    assert.deepEqual(Object.fromEntries(outcomes), {ok: 10, BUS_QUOTA: 990});
    clock.t += 1000;
    bus.publish(msg('flood.x', 'again', 'flood'));
    await bus.publish(msg('calm.x', 'last', 'calm')).delivered;
    assert.deepEqual([w.got.filter((m) => m.from === 'flood').length, w.got.filter((m) => m.from === 'calm').length], [11, 11]);
    assert.equal((await entriesOf(ledger, 'bus.message')).length, 22);
  }, perActor(lim(10)));

  it('property: waiting retryAfterMs is always enough, and accepted traffic never exceeds one second of burst plus the rate', async () => {
    const ledger = await openLedger(new MemoryStore());
    let waited = 0;
    try {
      const op = fc.record({advance: fc.oneof(fc.constant(0), fc.nat({max: 60}), fc.nat({max: 1500})), size: fc.nat({max: 200})});
      await fc.assert(
        fc.asyncProperty(fc.integer({min: 1, max: 40}), fc.integer({min: 250, max: 5000}), fc.array(op, {maxLength: 80}), async (mps, bps, ops) => {
          const clock = testClock(0);
          const bus = new Bus({ledger, clock, nextCorr: () => 'c', quotas: lim(mps, bps)});
          let [n, bytes] = [0, 0];
          const send = (size: number): void => {
            bus.publish(msg('a', new Uint8Array(size), 'p', 'q'));
            n++;
            bytes += size + 2;
          };
          for (const {advance, size} of ops) {
            clock.t += advance;
            const e = thrown(() => send(size));
            if (e !== undefined) {
              assert.ok(code('BUS_QUOTA')(e));
              const wait = (e as AstridError).details.retryAfterMs as number;
              assert.ok(Number.isInteger(wait) && wait > 0, String(wait));
              clock.t += wait;
              send(size);
              waited++;
            }
            assert.ok(n <= mps + (mps * clock.t) / 1000 + 1e-6, `${n} messages in ${clock.t} ms at ${mps}/s`);
            assert.ok(bytes <= bps + (bps * clock.t) / 1000 + 1e-6, `${bytes} bytes in ${clock.t} ms at ${bps}/s`);
          }
          await ledger.flush();
        }),
        {seed: 0x9a07a, numRuns: 150},
      );
      assert.ok(waited > 100, `the property must exercise back-pressure, saw ${waited} waits`);
    } finally {
      await ledger.close();
    }
  });

  busIt('a message bigger than one second of bytes is refused for good: no retry is promised', async ({bus, clock}) => {
    const e = refused(() => bus.publish(msg('a', new Uint8Array(200))), 'BUS_QUOTA');
    assert.equal(e.details.retryAfterMs, undefined);
    assert.equal(e.details.rule, 'bytes-per-second');
    clock.t += 60_000;
    refused(() => bus.publish(msg('a', new Uint8Array(200))), 'BUS_QUOTA');
  }, {quotas: lim(100, 100, 4096)});
});

describe('request/reply', () => {
  const who = {principal: 'alice', session: 's1'};

  busIt('a request resolves with the reply; both are in the ledger under one corr', async ({ledger, bus}) => {
    bus.subscribe('tool.echo', 'echo').subscribe((m) => bus.reply(m, {...who, payload: {echo: m.payload}, from: 'echo'}));
    const r = await bus.request({...who, topic: 'tool.echo', payload: 'ping', from: 'cli'}, 5_000);
    assert.deepEqual([r.topic, r.corr, r.from, r.payload], ['reply', 'corr-1', 'echo', {echo: 'ping'}]);
    assert.deepEqual((await entriesOf(ledger, 'bus.message')).map((e) => [e.body.topic, e.body.corr, e.body.from]), [['tool.echo', 'corr-1', 'cli'], ['reply', 'corr-1', 'echo']]);
  });

  busIt('no reply: BUS_TIMEOUT naming the corr; a late reply is then just a delivered message', async ({bus}) => {
    const asked: BusMessage[] = [];
    bus.subscribe('tool.slow', 'slow').subscribe((m) => asked.push(m));
    const replies = collect(bus, 'reply');
    await assert.rejects(bus.request({...who, topic: 'tool.slow', payload: 1, from: 'cli'}, 20), (e: unknown) => code('BUS_TIMEOUT')(e) && (e as AstridError).details.corr === 'corr-1');
    assert.equal(asked.length, 1);
    assert.equal(await bus.reply(asked[0] as BusMessage, {...who, payload: 'late', from: 'slow'}).delivered, 1);
    assert.deepEqual(replies.got.map((m) => m.payload), ['late']);
  });

  busIt('a reply to an unknown corr is just delivered; a non-reply message with a pending corr does not answer it', async ({bus}) => {
    const replies = collect(bus, 'reply');
    let settled = false;
    const r = bus.request({...who, topic: 'tool.q', payload: 1, from: 'cli'}, 5_000).finally(() => (settled = true));
    await bus.publish({...who, topic: 'reply', corr: 'nobody', payload: 'stray', from: 'x'}).delivered;
    await bus.publish({...who, topic: 'tool.other', corr: 'corr-1', payload: 'not a reply', from: 'x'}).delivered;
    await turns(3);
    assert.equal(settled, false);
    assert.deepEqual(replies.got.map((m) => m.corr), ['nobody']);
    await bus.publish({...who, topic: 'reply', corr: 'corr-1', payload: 'answer', from: 'x'}).delivered;
    assert.equal((await r).payload, 'answer');
  });

  busIt('reply needs a corr; request checks its timeout and rejects with what publish throws', async ({bus}) => {
    const m = await new Promise<BusMessage>((res) => {
      bus.subscribe('a', 'w').subscribe(res);
      bus.publish(msg('a'));
    });
    refused(() => bus.reply(m, {...who, payload: 1, from: 'x'}), 'BUS_INVALID');
    for (const t of [0, -1, 1.5, Number.NaN]) assert.throws(() => void bus.request({...who, topic: 'a', payload: 1, from: 'x'}, t), RangeError);
    await assert.rejects(bus.request({...who, topic: 'Bad', payload: 1, from: 'x'}, 5_000), code('BUS_INVALID'));
  });

  busIt('close() rejects every pending request with BUS_TIMEOUT', async ({bus}) => {
    const pending = [1, 2].map((payload) => bus.request({...who, topic: 'tool.q', payload, from: 'cli'}, 60_000));
    bus.close();
    for (const p of pending) await assert.rejects(p, code('BUS_TIMEOUT'));
    bus.close();
  });

  busIt('close() completes every subscription and empties the index', async ({bus}) => {
    let completed = false;
    bus.subscribe('>', 'w').subscribe({complete: () => (completed = true)});
    bus.close();
    assert.ok(completed);
    assert.equal(bus.subscriptions, 0);
  });
});

describe('when the ledger cannot record, nothing is delivered', () => {
  busIt('a closed ledger: publish throws LEDGER_CLOSED, refusals still stand', async ({ledger, bus}) => {
    const w = collect(bus, '>');
    await ledger.close();
    refused(() => bus.publish(msg('a')), 'LEDGER_CLOSED');
    refused(() => bus.publish(msg('Bad')), 'BUS_INVALID', 'topic-grammar');
    await turns(5);
    assert.equal(w.got.length, 0);
  });

  const failing = new InstrumentedStore(new MemoryStore());
  busIt('a failed write: `delivered` rejects LEDGER_WRITE_FAILED, no subscriber sees it, the next publish throws', async ({bus}) => {
    const w = collect(bus, '>');
    failing.failWith = new Error('disk on fire');
    await assert.rejects(bus.publish(msg('a')).delivered, code('LEDGER_WRITE_FAILED'));
    refused(() => bus.publish(msg('a')), 'LEDGER_WRITE_FAILED');
    await turns(5);
    assert.equal(w.got.length, 0);
  }, {store: failing});
});

describe('regressions (bugs found by these tests, fixed)', () => {
  busIt('the payload delivered is the payload recorded, even if the sender mutates its object after publish', async ({ledger, bus}) => {
    const w = collect(bus, 'svc.fs.write', 'svc.fs');
    const payload = {path: '/w/notes.txt', data: Uint8Array.of(1)};
    const p = bus.publish(msg('svc.fs.write', payload)).delivered;
    (payload as {path: unknown}).path = '/etc/passwd'; // after the schema check, the interceptors and the ledger
    await p;
    const recorded = (await payloadOf(ledger)) as {path: string};
    assert.equal(recorded.path, '/w/notes.txt');
    assert.equal((w.got[0]?.payload as {path: string}).path, recorded.path);
  });

  busIt('`delivered` read after delivery settles', async ({bus}) => {
    const p = bus.publish(msg('a'));
    await turns(5);
    const r = await Promise.race([p.delivered, new Promise((res) => setTimeout(() => res('never settled'), 200))]);
    assert.equal(r, 0);
  });

  busIt('a message within maxMessageBytes is published or refused with a BUS_ code, never LEDGER_ENTRY_TOO_LARGE', async ({bus}) => {
    const err = thrown(() => bus.publish(msg('blob.put', new Uint8Array(1024 * 1024 - 5)))); // packs to exactly 1 MiB, the default limit
    assert.ok(err === undefined || (err instanceof AstridError && err.code.startsWith('BUS_')), String(err));
  });
});
