/**
 * The bus: publish validates (topic grammar, size, kernel-topic schema), runs the
 * interceptors in priority order (continue, replace, deny), charges the sender's quotas
 * (messages/s and bytes/s per actor and per principal, token buckets on the injected
 * clock), appends the message to the ledger, and delivers it to every matching
 * subscription (found through the routing index) once its entry is durable: every message
 * is a ledger entry before it is delivered. Deliveries keep the order of the ledger.
 * Subscriptions are RxJS Observables. Request/reply: `request` publishes with a fresh
 * correlation id and waits (with a timeout) for a `reply` carrying it.
 * A refusal throws AstridError BUS_INVALID / BUS_DENIED / BUS_QUOTA (with
 * `details.retryAfterMs`: back-pressure) / BUS_TIMEOUT, and is recorded (gate.denied,
 * layer `bus`) when a ledger entry can say who was refused.
 */
import {Observable, Subject} from 'rxjs';
import {AstridError} from '../errors/index.js';
import {packMsgpack, unpackMsgpack, type Clock, type Ledger} from '../ledger/index.js';
import {isTopic, matches, parsePattern, type Topic, type TopicPattern} from '../topics/index.js';
import {RoutingIndex} from './router.js';
import {checkPayload} from './schemas.js';
import {QuotaBook, type QuotaLimits} from './quota.js';

export type {QuotaLimits};


/** The most payload bytes a message may have: a ledger entry is at most 1 MiB, envelope included. */
export const MAX_MESSAGE_BYTES = 1024 * 1024 - 16 * 1024;

export interface BusMessage {
  readonly topic: Topic;
  readonly payload: unknown;
  /** The sending actor (a capsule name, `cli`, `svc.fs`, ...). */
  readonly from: string;
  readonly principal: string;
  readonly session: string;
  readonly corr: string;
  /** Ledger seq of the bus.message entry. */
  readonly seq: number;
}

export interface PublishInput {
  readonly topic: string;
  readonly payload: unknown;
  readonly from: string;
  readonly principal: string;
  readonly session: string;
  readonly corr?: string;
}

export type InterceptVerdict = {readonly action: 'continue'} | {readonly action: 'replace'; readonly payload: unknown} | {readonly action: 'deny'; readonly reason: string};

export interface Interceptor {
  readonly name: string;
  readonly pattern: string;
  /** Lower runs first. */
  readonly priority: number;
  intercept(m: Omit<BusMessage, 'seq'>): InterceptVerdict;
}


export const DEFAULT_QUOTAS: QuotaLimits = {messagesPerSecond: 10_000, bytesPerSecond: 16 * 1024 * 1024, maxMessageBytes: MAX_MESSAGE_BYTES};

export interface BusOptions {
  readonly ledger: Ledger;
  readonly clock: Clock;
  readonly nextCorr: () => string;
  readonly quotas?: QuotaLimits;
  /** Per-actor or per-principal overrides (key: `actor:<name>` or `principal:<name>`). */
  readonly quotaFor?: (key: string) => QuotaLimits | undefined;
}

interface Sub {
  readonly subject: Subject<BusMessage>;
  readonly owner: string;
}

export interface Published {
  readonly seq: number;
  /** Resolves (with the number of subscriptions reached) once the entry is durable and the message handed to its subscribers. */
  readonly delivered: Promise<number>;
}

interface Queued {
  readonly msg: BusMessage;
  readonly durable: () => Promise<unknown>;
  waiters?: Array<{resolve: (n: number) => void; reject: (e: Error) => void}>;
  /** Set once delivered (the count) or failed. */
  outcome?: {readonly n: number} | {readonly error: Error};
}

export class Bus {
  readonly #o: BusOptions;
  readonly #index = new RoutingIndex<Sub>();
  readonly #interceptors: Array<Interceptor & {readonly compiled: TopicPattern}> = [];
  readonly #quota: QuotaBook;
  readonly #subs = new Set<{readonly sub: Sub; readonly pattern: TopicPattern}>();
  readonly #pending = new Map<string, {resolve: (m: BusMessage) => void; reject: (e: Error) => void; timer: ReturnType<typeof setTimeout>}>();
  /** Appended, not yet delivered, in ledger order. Drained in batches as the ledger makes them durable. */
  #queue: Queued[] = [];
  #head = 0;
  #draining = false;

  constructor(o: BusOptions) {
    this.#o = o;
    this.#quota = new QuotaBook(o.clock, (key) => o.quotaFor?.(key) ?? o.quotas ?? DEFAULT_QUOTAS);
  }

  /** Messages matching `pattern`, for `owner` (an actor id). Unsubscribing removes it from the index. */
  subscribe(pattern: string, owner: string): Observable<BusMessage> {
    const p = parsePattern(pattern);
    return new Observable<BusMessage>((observer) => {
      const sub: Sub = {subject: new Subject<BusMessage>(), owner};
      const s = sub.subject.subscribe(observer);
      const entry = {sub, pattern: p};
      this.#index.add(p, sub);
      this.#subs.add(entry);
      return () => {
        this.#index.remove(p, sub);
        this.#subs.delete(entry);
        s.unsubscribe();
      };
    });
  }

  /** Number of live subscriptions. */
  get subscriptions(): number {
    return this.#index.size;
  }

  /** Add an interceptor; returns a function that removes it. */
  intercept(i: Interceptor): () => void {
    const entry = {...i, compiled: parsePattern(i.pattern)};
    this.#interceptors.push(entry);
    this.#interceptors.sort((a, b) => a.priority - b.priority);
    return () => {
      const k = this.#interceptors.indexOf(entry);
      if (k >= 0) this.#interceptors.splice(k, 1);
    };
  }

  #refuse(code: 'BUS_INVALID' | 'BUS_DENIED' | 'BUS_QUOTA', m: PublishInput, rule: string, reason: string, details: Record<string, unknown> = {}): never {
    try {
      this.#o.ledger.enqueue({
        kind: 'gate.denied',
        body: {code: 'GATE_DENIED', layer: 'bus', rule: rule.slice(0, 256), resource: `bus.send:${String(m.topic).slice(0, 256)}`, reason: reason.slice(0, 1024), capsule: m.from.slice(0, 64) || '-'},
        session: m.session,
        principal: m.principal,
        actor: 'bus',
      });
    } catch {
      // the refusal stands whether or not it could be recorded
    }
    throw new AstridError(code, reason, {details: {rule, ...details}});
  }

  /**
   * Publish a message. Synchronous up to the ledger append (the seq is known at return);
   * delivery follows durability.
   * @throws AstridError BUS_INVALID (topic, size, schema), BUS_DENIED (an interceptor), BUS_QUOTA
   *   (`details.retryAfterMs`), LEDGER_* (nothing delivered).
   */
  publish(m: PublishInput): Published {
    if (!isTopic(m.topic)) this.#refuse('BUS_INVALID', m, 'topic-grammar', `not a valid topic: ${JSON.stringify(String(m.topic).slice(0, 80))}`);
    const topic = m.topic as Topic;
    const corr = m.corr ?? '';
    if (typeof corr !== 'string' || corr.length > 128) this.#refuse('BUS_INVALID', m, 'corr', 'corr must be a string of at most 128 characters');
    const schema = checkPayload(topic, m.payload);
    if (!schema.ok) this.#refuse('BUS_INVALID', m, 'schema', schema.reason);
    let payload = m.payload;
    for (const i of this.#interceptors) {
      if (!matches(i.compiled, topic)) continue;
      const v = i.intercept({topic, payload, from: m.from, principal: m.principal, session: m.session, corr});
      if (v.action === 'deny') this.#refuse('BUS_DENIED', m, `interceptor:${i.name}`, v.reason);
      if (v.action === 'replace') {
        const again = checkPayload(topic, v.payload);
        if (!again.ok) this.#refuse('BUS_INVALID', m, `interceptor:${i.name}`, `replacement ${again.reason}`);
        payload = v.payload;
      }
    }
    let bytes: Uint8Array;
    try {
      bytes = packMsgpack(payload);
    } catch (e) {
      this.#refuse('BUS_INVALID', m, 'encoding', `payload cannot be encoded: ${(e as Error).message}`);
    }
    const actorKey = `actor:${m.from}`;
    const principalKey = `principal:${m.principal}`;
    const la = this.#quota.limits(actorKey);
    const lp = this.#quota.limits(principalKey);
    const max = Math.min(la.maxMessageBytes, lp.maxMessageBytes, MAX_MESSAGE_BYTES);
    if (bytes.length > max) this.#refuse('BUS_QUOTA', m, 'max-message-bytes', `message of ${bytes.length} bytes over the limit of ${max}`, {limit: max, bytes: bytes.length});
    const perSecond = Math.min(la.bytesPerSecond, lp.bytesPerSecond);
    if (bytes.length > perSecond) {
      this.#refuse('BUS_QUOTA', m, 'bytes-per-second', `message of ${bytes.length} bytes is more than ${m.from} may send in a second (${perSecond}); it can never pass`, {limit: perSecond, bytes: bytes.length});
    }
    const now = this.#o.clock.now();
    const wait = Math.max(this.#quota.wait(actorKey, bytes.length, now), this.#quota.wait(principalKey, bytes.length, now));
    if (wait > 0) this.#refuse('BUS_QUOTA', m, 'rate', `${m.from} (${m.principal}) is over its message rate; retry in ${wait} ms`, {retryAfterMs: wait});
    const a = this.#o.ledger.enqueue({kind: 'bus.message', body: {topic, payload: bytes, from: m.from, corr}, session: m.session, principal: m.principal, actor: m.from});
    this.#quota.charge(actorKey, bytes.length); // charged only once recorded
    this.#quota.charge(principalKey, bytes.length);
    // Subscribers get exactly what the ledger recorded (decoded from the recorded bytes), not the
    // sender's object, which it could change after the checks.
    const msg: BusMessage = {topic, payload: unpackMsgpack(bytes) as unknown, from: m.from, principal: m.principal, session: m.session, corr, seq: a.seq};
    const q: Queued = {msg, durable: () => a.durable};
    this.#queue.push(q);
    this.#schedule();
    return {
      seq: a.seq,
      get delivered(): Promise<number> {
        const o = q.outcome;
        if (o !== undefined) return 'n' in o ? Promise.resolve(o.n) : Promise.reject(o.error);
        return new Promise<number>((resolve, reject) => {
          (q.waiters ??= []).push({resolve, reject});
        });
      },
    };
  }

  /** Wait for the newest queued entry to be durable (group commit makes that one wait for the batch), then deliver all that are. */
  #schedule(): void {
    if (this.#draining || this.#head >= this.#queue.length) return;
    this.#draining = true;
    const last = this.#queue[this.#queue.length - 1] as Queued;
    last.durable().then(
      () => this.#drain(last.msg.seq),
      (e: unknown) => this.#fail(e instanceof Error ? e : new Error(String(e))),
    );
  }

  #drain(upTo: number): void {
    this.#draining = false;
    while (this.#head < this.#queue.length && (this.#queue[this.#head] as Queued).msg.seq <= upTo) {
      const q = this.#queue[this.#head++] as Queued;
      let n = 0;
      try {
        n = this.#deliver(q.msg);
      } finally {
        q.outcome = {n};
        for (const w of q.waiters ?? []) w.resolve(n);
      }
    }
    if (this.#head === this.#queue.length) {
      this.#queue = [];
      this.#head = 0;
    } else if (this.#head > 4096) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
    this.#schedule();
  }

  /** The ledger failed: nothing queued is delivered (it is not known to be recorded). */
  #fail(e: Error): void {
    this.#draining = false;
    for (const q of this.#queue.slice(this.#head)) {
      q.outcome = {error: e};
      for (const w of q.waiters ?? []) w.reject(e);
    }
    this.#queue = [];
    this.#head = 0;
  }

  #deliver(msg: BusMessage): number {
    const p = msg.corr === '' ? undefined : this.#pending.get(msg.corr);
    if (p !== undefined && msg.topic === 'reply') {
      this.#pending.delete(msg.corr);
      clearTimeout(p.timer);
      p.resolve(msg);
    }
    const subs = this.#index.route(msg.topic);
    for (const s of subs) s.subject.next(msg);
    return subs.size;
  }

  /**
   * Deliver a message that is already recorded and durable (a capsule's send, which the
   * sandbox recorded under the gate and the quotas; a kernel event whose entry is durable):
   * routed through the index to every matching subscription, nothing appended. The caller
   * vouches for `seq` being a durable entry that records the message.
   * @throws AstridError BUS_INVALID when the topic is not valid.
   */
  deliverRecorded(msg: BusMessage): number {
    if (!isTopic(msg.topic)) throw new AstridError('BUS_INVALID', `not a valid topic: ${JSON.stringify(String(msg.topic).slice(0, 80))}`);
    if (msg.seq > this.#o.ledger.durableHead.seq) throw new RangeError(`seq ${msg.seq} is not durable`);
    return this.#deliver(msg);
  }

  /**
   * Publish `m` with a fresh correlation id and wait for a `reply` carrying it.
   * @throws AstridError BUS_TIMEOUT when no reply arrives in `timeoutMs`, or what publish throws.
   */
  request(m: Omit<PublishInput, 'corr'>, timeoutMs: number): Promise<BusMessage> {
    if (!Number.isSafeInteger(timeoutMs) || timeoutMs < 1) throw new RangeError('timeoutMs must be a positive integer');
    if (m.topic === 'reply') throw new AstridError('BUS_INVALID', 'a request cannot be sent on the reply topic');
    const corr = this.#o.nextCorr();
    return new Promise<BusMessage>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(corr);
        reject(new AstridError('BUS_TIMEOUT', `no reply to ${m.topic} within ${timeoutMs} ms`, {details: {corr}}));
      }, timeoutMs);
      this.#pending.set(corr, {resolve, reject, timer});
      try {
        this.publish({...m, corr});
      } catch (e) {
        clearTimeout(timer);
        this.#pending.delete(corr);
        reject(e as Error);
      }
    });
  }

  /** Answer a request (`to` is the message being answered). */
  reply(to: BusMessage, m: Omit<PublishInput, 'corr' | 'topic'>): Published {
    if (to.corr === '') throw new AstridError('BUS_INVALID', 'the message has no correlation id to answer');
    return this.publish({...m, topic: 'reply', corr: to.corr});
  }

  /** Reject every pending request and complete every subscription. */
  close(): void {
    for (const [corr, p] of this.#pending) {
      clearTimeout(p.timer);
      p.reject(new AstridError('BUS_TIMEOUT', 'the bus closed before a reply', {details: {corr}}));
    }
    this.#pending.clear();
    for (const e of [...this.#subs]) {
      this.#index.remove(e.pattern, e.sub);
      this.#subs.delete(e);
      e.sub.subject.complete();
    }
  }
}
