/**
 * A capsule instance and its activations. One instance = one WebAssembly instance of the
 * instrumented module, with a memory whose maximum is the budget, and the ABI shim bound
 * to the session's gate, services and ledger. An activation delivers one message to
 * `astrid_handle` and runs to completion within its fuel; every host call, send, denial,
 * log line and refused memory growth is a ledger entry, sequenced as it happens (the seq is
 * assigned synchronously; effects wait for durability elsewhere). The exception: reads of kv
 * (state that lives only in the ledger) are recorded in `call.batch` entries, written before
 * the activation's next entry of its own and before its end (call-batch.ts). A trap, fuel exhaustion,
 * memory exhaustion or timeout ends the activation and the instance is discarded; the
 * kernel's JavaScript stack unwinds normally and nothing else is touched.
 */
import {AstridError} from '../errors/index.js';
import type {Appended, Clock, Ledger} from '../ledger/index.js';
import {ABI_ERRORS, ABI_LIMITS, FUEL_EXPORT, LOG_LEVELS, RT_MODULE, type AbiErrorName} from './abi.js';
import type {Budget, Manifest} from './manifest.js';
import type {Gate} from '../capabilities/index.js';
import type {KvState} from './kv.js';
import {asMap, pack, unpackUntrusted} from './msgpack.js';
import {checkFsWrite, dispatchCall, type Denial, type ServiceContext} from './services.js';
import {decodeCallRequest, decodeSendRequest} from './call-request.js';
import {BATCHED_OPS, CALL_BATCH_OP, CallBatch, binSize, recordSize, writeBin} from './call-batch.js';
import {isTopic} from '../topics/index.js';

/** A compiled, validated, instrumented capsule ready to instantiate. */
export interface LoadedCapsule {
  readonly name: string;
  /** BLAKE3 hex of the original module. */
  readonly hash: string;
  readonly manifest: Manifest;
  readonly module: WebAssembly.Module;
  readonly initialPages: number;
  readonly declaredMaxPages: number | undefined;
  readonly hasInit: boolean;
}

/** What a session gives its capsules. */
export interface SessionContext {
  readonly ledger: Ledger;
  readonly clock: Clock;
  readonly gate: Gate;
  readonly random: (n: number) => Uint8Array;
  readonly kv: KvState;
  readonly session: string;
  readonly principal: string;
  readonly budget: Budget;
  /**
   * The kernel's send quotas (messages and bytes per second, per capsule and per principal):
   * 0 admits and charges one message of `bytes`; otherwise the milliseconds to wait and which
   * quota is short. Absent: no rate limit beyond the ABI's per-activation bounds.
   */
  readonly sendQuota?: (bytes: number) => {readonly wait: 0} | {readonly wait: number; readonly key: string};
}

/** Per-activation limits below the session budget (e.g. what a token's budget has left). */
export interface ActivationLimits {
  readonly fuel?: number;
  readonly wall_ms?: number;
}

/** One message delivered to a capsule. */
export interface Delivery {
  readonly topic: string;
  readonly payload: unknown;
  readonly from: string;
  /** Ledger seq of the bus.message being delivered. */
  readonly seq: number;
  readonly corr?: string;
}

export interface SendRecord {
  readonly seq: number;
  readonly topic: string;
  readonly payload: unknown;
  readonly corr: string;
}

export const OUTCOMES = ['ok', 'CAPSULE_ERROR', 'SANDBOX_FUEL_EXHAUSTED', 'SANDBOX_MEMORY_LIMIT', 'SANDBOX_TRAP', 'SANDBOX_TIMEOUT', 'SANDBOX_INSTANCE_FAILED'] as const;
export type Outcome = (typeof OUTCOMES)[number];

export interface ActivationResult {
  readonly outcome: Outcome;
  readonly message: string;
  readonly fuelUsed: number;
  readonly memoryPages: number;
  readonly calls: number;
  readonly sends: readonly SendRecord[];
  /** Seq of the activation.ended entry. */
  readonly endSeq: number;
  /** True when the instance must not be used again. */
  readonly discard: boolean;
}

/** Thrown from a host function to unwind the guest; never escapes activate(). */
class Unwind extends Error {
  constructor(
    readonly outcome: Outcome,
    message: string,
  ) {
    super(message);
  }
}

const td = new TextDecoder('utf-8', {fatal: false});

export class CapsuleInstance {
  readonly capsule: LoadedCapsule;
  readonly #ctx: SessionContext;
  readonly #memory: WebAssembly.Memory;
  readonly #maxPages: number;
  #exports!: {alloc: (n: number) => number; handle: (p: number, n: number) => number; init?: () => void; fuel: WebAssembly.Global};
  #calls = 0;
  #quotaRecorded = false;
  #rateRecorded = false;
  #deadline = 0;
  #limits: {fuel: number; wall_ms: number} = {fuel: 1, wall_ms: 1};
  #lastFuelUsed = 0;
  /** The pending reply of the last successful `call`: `#reply[0, #replyLen)`; none when #replyLen < 0. */
  #replyBytes: Uint8Array = new Uint8Array(0);
  #replyLen = -1;
  /** Scratch for bin replies, reused (the reply is copied out by `reply` or replaced by the next call). */
  #replyScratch: Uint8Array = new Uint8Array(256);
  /** Records of batched reads (kv.get, kv.list) not yet written; see call-batch.ts. */
  readonly #batch = new CallBatch();
  /** The services' view of this instance (constant: built once, not per call). */
  readonly #svc: ServiceContext;
  /** A Buffer over the memory's current ArrayBuffer (replaced when a growth detaches it). */
  #view: Buffer = Buffer.alloc(0);
  #sends: SendRecord[] = [];
  #memRefused = false;
  #fatal: unknown;
  /**
   * Set when the host ends an activation. Sticky: a guest built with exception handling can
   * catch the JavaScript exception an import throws (catch_all), so every later host call
   * throws it again and the activation's result is this outcome whatever the guest returns.
   */
  #stopped: Unwind | undefined;
  #active = false;
  #dead = false;

  private constructor(capsule: LoadedCapsule, ctx: SessionContext) {
    this.capsule = capsule;
    this.#ctx = ctx;
    this.#maxPages = Math.min(capsule.declaredMaxPages ?? 65_536, ctx.budget.memory_pages);
    this.#memory = new WebAssembly.Memory({initial: capsule.initialPages, maximum: Math.max(this.#maxPages, capsule.initialPages)});
    this.#svc = {capsule: capsule.name, principal: ctx.principal, session: ctx.session, gate: ctx.gate, clock: ctx.clock, random: ctx.random, kv: ctx.kv, kvKeys: {byNs: new Map(), size: 0}};
  }

  /**
   * Instantiate `capsule` for a session and run its `astrid_init` (if any) as an activation.
   * @throws AstridError SANDBOX_INSTANCE_FAILED when instantiation or init fails (recorded).
   */
  static async create(capsule: LoadedCapsule, ctx: SessionContext): Promise<CapsuleInstance> {
    if (capsule.initialPages > ctx.budget.memory_pages) {
      throw new AstridError('SANDBOX_MEMORY_INVALID', `${capsule.name} needs ${capsule.initialPages} memory pages at start, over the budget of ${ctx.budget.memory_pages}`);
    }
    const inst = new CapsuleInstance(capsule, ctx);
    let instance: WebAssembly.Instance;
    try {
      instance = new WebAssembly.Instance(capsule.module, inst.#imports());
    } catch (e) {
      throw new AstridError('SANDBOX_INSTANCE_FAILED', `cannot instantiate ${capsule.name}: ${(e as Error).message}`, {cause: e});
    }
    const x = instance.exports;
    const fuel = x[FUEL_EXPORT];
    if (typeof x.astrid_alloc !== 'function' || typeof x.astrid_handle !== 'function' || !(fuel instanceof WebAssembly.Global)) {
      throw new AstridError('SANDBOX_INSTANCE_FAILED', `${capsule.name} is not an instrumented capsule module`);
    }
    inst.#exports = {
      alloc: x.astrid_alloc as (n: number) => number,
      handle: x.astrid_handle as (p: number, n: number) => number,
      fuel,
      ...(typeof x.astrid_init === 'function' ? {init: x.astrid_init as () => void} : {}),
    };
    if (inst.#exports.init !== undefined) {
      inst.#limits = {fuel: ctx.budget.fuel, wall_ms: ctx.budget.wall_ms};
      const r = await inst.#run({topic: 'astrid.init', payload: null, from: 'kernel', seq: 0}, true);
      if (r.outcome !== 'ok') {
        throw new AstridError('SANDBOX_INSTANCE_FAILED', `${capsule.name}: astrid_init ended with ${r.outcome}: ${r.message}`, {
          details: {outcome: r.outcome},
        });
      }
    }
    return inst;
  }

  /** Fuel used by the last activation (also when it threw). */
  get lastFuelUsed(): number {
    return this.#lastFuelUsed;
  }

  /** True when the instance trapped or ran out of budget and must be replaced. */
  get dead(): boolean {
    return this.#dead;
  }

  /**
   * Deliver one message. Resolves when the activation's entries are durable.
   * @throws AstridError INPUT_INVALID for an undeliverable message, SANDBOX_INSTANCE_FAILED
   *   when the instance is dead or busy, LEDGER_* when the ledger cannot record (fail secure).
   */
  activate(d: Delivery, limits?: ActivationLimits): Promise<ActivationResult> {
    this.#setLimits(limits);
    return this.#run(d, false);
  }

  /**
   * Deliver one message and return as soon as the activation has run and all its entries are
   * sequenced in the ledger, with `durable` resolving (to the same result) once they are on
   * stable storage. For deliveries inside the kernel (law 2 holds back only outside effects
   * and replies to clients until their entries are durable): the instance may take its next
   * message before this one is durable. Whoever performs an effect or answers a client from
   * the result must await `durable` first.
   * @throws AstridError synchronously, as `activate` rejects.
   */
  activateSequenced(d: Delivery, limits?: ActivationLimits): {readonly result: ActivationResult; readonly durable: Promise<ActivationResult>} {
    this.#setLimits(limits);
    const {result, ended} = this.#runSync(d, false);
    return {result, durable: ended.durable.then(() => result)};
  }

  #setLimits(limits: ActivationLimits | undefined): void {
    if (limits !== undefined) {
      for (const k of ['fuel', 'wall_ms'] as const) {
        const v = limits[k];
        if (v !== undefined && (!Number.isSafeInteger(v) || v < 1)) throw new RangeError(`limits.${k} must be a positive integer`);
      }
    }
    this.#limits = {fuel: Math.min(limits?.fuel ?? Infinity, this.#ctx.budget.fuel), wall_ms: Math.min(limits?.wall_ms ?? Infinity, this.#ctx.budget.wall_ms)};
  }

  #imports(): WebAssembly.Imports {
    return {
      astrid: {
        send: (ptr: number, len: number) => this.#send(ptr, len),
        call: (ptr: number, len: number) => this.#call(ptr, len),
        reply: (ptr: number) => this.#reply(ptr),
        log: (level: number, ptr: number, len: number) => this.#log(level, ptr, len),
      },
      [RT_MODULE]: {
        memory: this.#memory,
        grow: (delta: number) => this.#grow(delta),
      },
    };
  }

  /** Record an entry of this activation, after the batched reads that precede it. */
  #enqueue(input: Parameters<Ledger['enqueue']>[0]): Appended {
    if (this.#batch.count > 0) this.#flushCalls();
    return this.#append(input);
  }

  /** Write the batched read records as one host.call entry (call-batch.ts). */
  #flushCalls(): void {
    const count = this.#batch.count;
    this.#append({kind: 'host.call', body: {capsule: this.capsule.name, op: CALL_BATCH_OP, request: this.#batch.take(), status: count, reply: new Uint8Array(0)}});
  }

  #append(input: Parameters<Ledger['enqueue']>[0]): Appended {
    const c = this.#ctx;
    try {
      // An explicit literal: object spread is an order of magnitude slower on this hot path (Node 20).
      return c.ledger.enqueue({kind: input.kind, body: input.body, session: c.session, principal: c.principal, actor: this.capsule.name} as typeof input);
    } catch (e) {
      this.#fatal ??= e;
      throw this.#stop('SANDBOX_INSTANCE_FAILED', 'the ledger cannot record; stopping (fail secure)');
    }
  }

  async #run(d: Delivery, init: boolean): Promise<ActivationResult> {
    const {result, ended} = this.#runSync(d, init);
    await ended.durable;
    return result;
  }

  /** The activation up to its last entry's enqueue: everything but the wait for durability. */
  #runSync(d: Delivery, init: boolean): {result: ActivationResult; ended: Appended & {readonly durable: Promise<Appended>}} {
    if (this.#dead) throw new AstridError('SANDBOX_INSTANCE_FAILED', `the ${this.capsule.name} instance is discarded; create a new one`);
    if (this.#active) throw new AstridError('SANDBOX_INSTANCE_FAILED', 'an instance handles one message at a time');
    if (!init && (typeof d.topic !== 'string' || !isTopic(d.topic))) throw new AstridError('INPUT_INVALID', `not a topic: ${String(d.topic)}`);
    const message = pack(d.corr === undefined ? {topic: d.topic, payload: d.payload, from: d.from, seq: d.seq, session: this.#ctx.session} : {topic: d.topic, payload: d.payload, from: d.from, seq: d.seq, session: this.#ctx.session, corr: d.corr});
    if (message.length > ABI_LIMITS.maxMessageBytes) {
      throw new AstridError('INPUT_INVALID', `message of ${message.length} bytes exceeds the ABI limit of ${ABI_LIMITS.maxMessageBytes}`);
    }
    const c = this.#ctx;
    this.#active = true;
    this.#calls = 0;
    this.#quotaRecorded = false;
    this.#rateRecorded = false;
    this.#replyLen = -1;
    this.#batch.clear();
    this.#sends = [];
    this.#memRefused = false;
    this.#fatal = undefined;
    this.#stopped = undefined;
    let outcome: Outcome = 'ok';
    let msg = '';
    const fuel = this.#exports.fuel;
    try {
      this.#enqueue({kind: 'activation.started', body: {capsule: this.capsule.name, hash: this.capsule.hash, input: d.seq, topic: d.topic}});
      this.#deadline = c.clock.now() + this.#limits.wall_ms;
      fuel.value = BigInt(this.#limits.fuel);
      if (init) {
        (this.#exports.init as () => void)();
      } else {
        const ptr = this.#exports.alloc(message.length) >>> 0;
        if (ptr + message.length > this.#memory.buffer.byteLength) throw new Unwind('SANDBOX_TRAP', 'astrid_alloc returned a pointer outside memory');
        new Uint8Array(this.#memory.buffer, ptr, message.length).set(message);
        const rc = this.#exports.handle(ptr, message.length);
        if (rc !== 0) {
          outcome = 'CAPSULE_ERROR';
          msg = `astrid_handle returned ${rc}`;
        }
      }
    } catch (e) {
      ({outcome, msg} = this.#classify(e, fuel));
    }
    if (this.#batch.count > 0 && this.#fatal === undefined) {
      try {
        this.#flushCalls(); // every host call is in the ledger before activation.ended
      } catch {
        // #append recorded the failure in #fatal
      }
    }
    const stopped = this.#stopped as Unwind | undefined; // set by host calls during the guest run
    if (stopped !== undefined) ({outcome, msg} = {outcome: stopped.outcome, msg: stopped.message});
    const remaining = Number(fuel.value as bigint);
    const fuelUsed = Math.min(this.#limits.fuel, Math.max(0, this.#limits.fuel - remaining));
    this.#lastFuelUsed = fuelUsed;
    if (this.#fatal !== undefined) {
      this.#active = false;
      this.#dead = true;
      throw this.#fatal;
    }
    const discard = outcome !== 'ok' && outcome !== 'CAPSULE_ERROR';
    const pages = this.#memory.buffer.byteLength / 65_536;
    const ended = c.ledger.enqueue({
      kind: 'activation.ended',
      body: {capsule: this.capsule.name, outcome, fuelUsed, memoryPages: pages, calls: this.#calls, message: msg.slice(0, 1024)},
      session: c.session,
      principal: c.principal,
      actor: this.capsule.name,
    });
    this.#active = false;
    if (discard) this.#dead = true;
    return {result: {outcome, message: msg, fuelUsed, memoryPages: pages, calls: this.#calls, sends: this.#sends, endSeq: ended.seq, discard}, ended};
  }

  #classify(e: unknown, fuel: WebAssembly.Global): {outcome: Outcome; msg: string} {
    if (e instanceof Unwind) return {outcome: e.outcome, msg: e.message};
    if (e instanceof WebAssembly.RuntimeError) {
      if ((fuel.value as bigint) < 0n) return {outcome: 'SANDBOX_FUEL_EXHAUSTED', msg: 'fuel exhausted'};
      if (this.#memRefused) return {outcome: 'SANDBOX_MEMORY_LIMIT', msg: `trapped after a memory.grow was refused: ${e.message}`};
      return {outcome: 'SANDBOX_TRAP', msg: e.message};
    }
    if (e instanceof RangeError) return {outcome: 'SANDBOX_TRAP', msg: `stack overflow: ${e.message}`};
    return {outcome: 'SANDBOX_INSTANCE_FAILED', msg: `kernel-side failure during the activation: ${(e as Error)?.message ?? String(e)}`};
  }

  #stop(outcome: Outcome, message: string): Unwind {
    this.#stopped ??= new Unwind(outcome, message);
    return this.#stopped;
  }

  /** Common prologue of every host call: the wall-clock backstop and the per-activation quota. */
  #admit(op: string): bigint | undefined {
    if (this.#stopped !== undefined) throw this.#stopped;
    if (this.#ctx.clock.now() > this.#deadline) throw this.#stop('SANDBOX_TIMEOUT', `wall-clock budget of ${this.#limits.wall_ms} ms exceeded (at ${op})`);
    this.#calls++;
    if (this.#calls > ABI_LIMITS.maxCallsPerActivation) {
      if (!this.#quotaRecorded) {
        this.#quotaRecorded = true;
        this.#deny({allow: false, layer: 'quota', rule: 'abi.max-calls', reason: `more than ${ABI_LIMITS.maxCallsPerActivation} host calls in one activation`}, `abi:${op}`);
      }
      return BigInt(ABI_ERRORS.QUOTA);
    }
    return undefined;
  }

  #guest(ptr: number, len: number): Uint8Array | undefined {
    const p = ptr >>> 0;
    const n = len >>> 0;
    if (p + n > this.#memory.buffer.byteLength) return undefined;
    return new Uint8Array(this.#memory.buffer, p, n).slice();
  }

  #deny(d: Denial, resource: string): void {
    if (d.recorded === true) return; // the gate wrote it
    this.#enqueue({kind: 'gate.denied', body: {code: 'GATE_DENIED', layer: d.layer, rule: d.rule.slice(0, 256), resource: resource.slice(0, 1024), reason: d.reason.slice(0, 1024), capsule: this.capsule.name}});
  }

  #record(op: string, request: Uint8Array, status: number, reply: Uint8Array = new Uint8Array(0)): void {
    this.#enqueue({kind: 'host.call', body: {capsule: this.capsule.name, op, request, status, reply}});
  }

  #err(name: AbiErrorName): bigint {
    return BigInt(ABI_ERRORS[name]);
  }

  #send(ptr: number, len: number): bigint {
    const q = this.#admit('send');
    if (q !== undefined) return q;
    if (len >>> 0 > ABI_LIMITS.maxMessageBytes) {
      this.#record('send', new Uint8Array(0), ABI_ERRORS.TOO_LARGE);
      return this.#err('TOO_LARGE');
    }
    const n = len >>> 0;
    const p = ptr >>> 0;
    const mem = this.#mem();
    if (p + n > mem.length) {
      this.#record('send', new Uint8Array(0), ABI_ERRORS.INVALID);
      return this.#err('INVALID');
    }
    // The guest's bytes, copied only when a record needs them (the common shape is decoded in place).
    const copy = (): Uint8Array => new Uint8Array(mem.buffer, p, n).slice();
    let bytes: Uint8Array | undefined;
    let m: {topic?: unknown; payload?: unknown; corr?: unknown} | undefined = decodeSendRequest(mem, p, p + n);
    if (m === undefined) {
      bytes = copy();
      m = asMap(unpackUntrusted(bytes), ['topic', 'payload'], ['corr']);
    }
    const corr = m?.corr ?? '';
    if (m === undefined || typeof m.topic !== 'string' || typeof corr !== 'string' || corr.length > 128) {
      this.#record('send', bytes ?? copy(), ABI_ERRORS.INVALID);
      return this.#err('INVALID');
    }
    const c = this.#ctx;
    const who = {capsule: this.capsule.name, principal: c.principal, session: c.session};
    const d = c.gate.check({capsule: who.capsule, principal: who.principal, session: who.session, type: 'bus.send', value: m.topic});
    if (!d.allow) {
      this.#deny(d, `bus.send:${m.topic}`);
      return this.#err('DENIED');
    }
    if (m.topic === 'svc.fs.write') {
      const w = checkFsWrite({capsule: who.capsule, principal: who.principal, session: who.session, gate: c.gate}, m.payload);
      if (!w.ok) {
        if (w.denial) this.#deny(w.denial, `fs.write:${String(asMap(m.payload, ['path', 'data'])?.path ?? '')}`);
        else this.#record('send', bytes ?? copy(), ABI_ERRORS[w.error]);
        return this.#err(w.error);
      }
    }
    const pl = m.payload;
    let encoded: Uint8Array;
    if (pl instanceof Uint8Array) {
      encoded = new Uint8Array(binSize(pl.length)); // what pack() gives for bytes, without msgpackr's set-up
      writeBin(encoded, pl);
    } else encoded = pack(pl);
    const rate = c.sendQuota?.(encoded.length);
    if (rate !== undefined && rate.wait > 0) {
      // back-pressure: the guest gets QUOTA and may try again later; one denial entry per activation
      if (!this.#rateRecorded) {
        this.#rateRecorded = true;
        const key = 'key' in rate ? rate.key : '';
        this.#deny({allow: false, layer: 'quota', rule: 'bus.rate', reason: `${key} is over its send rate; retry in ${rate.wait} ms (further refusals in this activation are not recorded one by one)`}, `bus.send:${m.topic}`);
      }
      return this.#err('QUOTA');
    }
    const a = this.#enqueue({kind: 'bus.message', body: {topic: m.topic, payload: encoded, from: this.capsule.name, corr}});
    this.#sends.push({seq: a.seq, topic: m.topic, payload: m.payload, corr});
    return BigInt(a.seq);
  }

  /** A Buffer over guest memory as it is now (cheap: rebuilt only after a growth). */
  #mem(): Buffer {
    const ab = this.#memory.buffer;
    if (this.#view.buffer !== ab) this.#view = Buffer.from(ab);
    return this.#view;
  }

  #call(ptr: number, len: number): bigint {
    const q = this.#admit('call');
    if (q !== undefined) return q;
    this.#replyLen = -1;
    const n = len >>> 0;
    const p = ptr >>> 0;
    if (n > ABI_LIMITS.maxMessageBytes) {
      this.#record('call', new Uint8Array(0), ABI_ERRORS.TOO_LARGE);
      return this.#err('TOO_LARGE');
    }
    let mem = this.#mem();
    if (p + n > mem.length) {
      this.#record('call', new Uint8Array(0), ABI_ERRORS.INVALID);
      return this.#err('INVALID');
    }
    // The common shape is decoded in place; anything else by the generic strict decoder (same result).
    let op: string;
    let args: unknown;
    const fast = decodeCallRequest(mem, p, p + n);
    if (fast !== undefined) {
      op = fast.op;
      args = fast.args;
    } else {
      const bytes = new Uint8Array(mem.buffer, p, n).slice(); // a plain copy, as the generic decoder always had
      const m = asMap(unpackUntrusted(bytes), ['op', 'args']);
      if (m === undefined || typeof m.op !== 'string') {
        this.#record('call', bytes, ABI_ERRORS.INVALID);
        return this.#err('INVALID');
      }
      op = m.op;
      args = m.args;
    }
    if (op.length > 64) {
      this.#record('call', new Uint8Array(mem.subarray(p, p + n)), ABI_ERRORS.INVALID);
      return this.#err('INVALID');
    }
    let r;
    try {
      r = dispatchCall(this.#svc, op, args);
    } catch (e) {
      this.#record(op, new Uint8Array(this.#mem().subarray(p, p + n)), ABI_ERRORS.INTERNAL, pack(String((e as Error)?.message ?? e).slice(0, 256)));
      return this.#err('INTERNAL');
    }
    mem = this.#mem(); // a service cannot grow guest memory, but never keep a view across foreign code
    const batched = BATCHED_OPS.has(op);
    if (!r.ok) {
      if (r.denial) {
        const a = asMap(args, [], ['path', 'ns', 'key', 'offset', 'len', 'value', 'prefix', 'limit', 'n']);
        const target = typeof a?.path === 'string' ? a.path : typeof a?.ns === 'string' ? a.ns : '';
        this.#deny(r.denial, `${op}:${target}`);
      } else if (batched && this.#batch.fits(recordSize(op, n, 0))) {
        this.#batch.add(this.#calls, op, mem, p, n, ABI_ERRORS[r.error], this.#replyScratch, 0);
        return this.#err(r.error);
      }
      this.#record(op, new Uint8Array(mem.subarray(p, p + n)), ABI_ERRORS[r.error]);
      return this.#err(r.error);
    }
    let reply: Uint8Array;
    let replyLen: number;
    const v = r.value;
    if (v instanceof Uint8Array) {
      // msgpack bin, byte for byte what pack() gives, without msgpackr's per-call set-up
      replyLen = binSize(v.length);
      if (replyLen <= ABI_LIMITS.maxReplyBytes) {
        if (this.#replyScratch.length < replyLen) this.#replyScratch = new Uint8Array(Math.max(replyLen, this.#replyScratch.length * 2));
        writeBin(this.#replyScratch, v);
      }
      reply = this.#replyScratch;
    } else {
      reply = pack(v);
      replyLen = reply.length;
    }
    if (replyLen > ABI_LIMITS.maxReplyBytes) {
      this.#record(op, new Uint8Array(mem.subarray(p, p + n)), ABI_ERRORS.TOO_LARGE);
      return this.#err('TOO_LARGE');
    }
    if (batched && this.#batch.fits(recordSize(op, n, replyLen))) {
      this.#batch.add(this.#calls, op, mem, p, n, replyLen, reply, replyLen);
    } else {
      this.#record(op, new Uint8Array(mem.subarray(p, p + n)), replyLen, reply.slice(0, replyLen));
    }
    this.#replyBytes = reply;
    this.#replyLen = replyLen;
    return BigInt(replyLen);
  }

  #reply(ptr: number): void {
    const n = this.#replyLen;
    if (this.#stopped !== undefined) throw this.#stopped;
    if (n < 0) throw this.#stop('SANDBOX_TRAP', 'reply called without a pending reply');
    const p = ptr >>> 0;
    if (p + n > this.#memory.buffer.byteLength) throw this.#stop('SANDBOX_TRAP', 'reply pointer outside memory');
    new Uint8Array(this.#memory.buffer, p, n).set(n === this.#replyBytes.length ? this.#replyBytes : this.#replyBytes.subarray(0, n));
    this.#replyLen = -1;
  }

  #log(level: number, ptr: number, len: number): void {
    const q = this.#admit('log');
    if (q !== undefined) return;
    const n = Math.min(len >>> 0, ABI_LIMITS.maxLogBytes);
    const bytes = this.#guest(ptr, n);
    const lvl = LOG_LEVELS[level] ?? 'info';
    const text = bytes === undefined ? '[log pointer outside memory]' : td.decode(bytes);
    this.#enqueue({kind: 'capsule.log', body: {capsule: this.capsule.name, level: lvl, text: text.slice(0, 4096)}});
  }

  #grow(delta: number): number {
    if (this.#stopped !== undefined) throw this.#stopped;
    if (this.#ctx.clock.now() > this.#deadline) throw this.#stop('SANDBOX_TIMEOUT', `wall-clock budget of ${this.#limits.wall_ms} ms exceeded (at memory.grow)`);
    const current = this.#memory.buffer.byteLength / 65_536;
    const want = delta >>> 0;
    if (current + want <= this.#maxPages) {
      try {
        return this.#memory.grow(want);
      } catch {
        // fall through: the engine refused (e.g. no address space)
      }
    }
    if (this.#memRefused) return -1; // recorded once per activation: a refusal loop must not flood the ledger
    this.#memRefused = true;
    this.#enqueue({kind: 'sandbox.memory_refused', body: {capsule: this.capsule.name, code: 'SANDBOX_MEMORY_LIMIT', requestedPages: current + want, limitPages: this.#maxPages}});
    return -1;
  }
}
