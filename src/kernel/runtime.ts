/**
 * The kernel runtime: one open kernel state and what hangs off it (the authority, the
 * approval actors, the capsule store, live sessions). The daemon holds one for its whole
 * life; without a daemon, each CLI command opens one, runs one operation and closes it.
 * Operations (ops.ts) take a runtime, never a home path, so both ways run the same code.
 */
import {authorityProjection, type Authority} from '../capabilities/index.js';
import {ActorRegistry, SERVICE_NAMES, startPrincipalActor, startServiceActor, startSessionActor, type ApprovalService} from '../actors/index.js';
import {installedProjection, kvProjection, type CapsuleStore, type InstalledState, type KvState} from '../sandbox/index.js';
import {projectionStateHash, rebuildAll, saveSnapshot, type Projection} from '../ledger/index.js';
import {LiveProjection, capsulesProjection, sessionsProjection, type CapsulesState, type SessionsState} from './sessions.js';
import {approvalService, openAuthority} from './authority.js';
import {openCapsuleStore} from './capsules.js';
import {sendQuotas} from './policy.js';
import {Bus, type QuotaBook} from '../bus/index.js';
import {randomIds} from './clock.js';
import type {KernelState} from './open.js';

/** Facts about the daemon a runtime lives in (absent for a one-shot CLI runtime). */
export interface DaemonFacts {
  readonly pid: number;
  readonly startedAt: number;
  readonly socket: string;
  /** Open connections right now. */
  connections(): number;
  /** Ask the daemon to drain and stop (after the current reply is sent). */
  requestStop(reason: string): void;
  /** What boot verified before listening, and the state of the whole-chain verification. */
  verification(): {readonly boot: 'full' | 'tail'; readonly full: 'running' | 'ok' | 'failed'};
}

/** A session running in this runtime: how to end it early. */
export interface LiveSession {
  readonly id: string;
  readonly capsule: string;
  readonly principal: string;
  readonly startedAt: number;
  /** Ask the session to stop after its current activation; resolves when it has ended. */
  end(reason: string): Promise<void>;
}

export class KernelRuntime {
  readonly k: KernelState;
  readonly mode: 'read' | 'write';
  readonly daemon: DaemonFacts | undefined;
  /** Sessions running now, by id. */
  readonly live = new Map<string, LiveSession>();
  /** The live actors: principals, running (and interrupted) sessions, capsules in sessions. */
  readonly actors = new ActorRegistry();
  #actorsBuilt: Promise<void> | undefined;
  #approvals: Promise<ApprovalService> | undefined;
  #store: CapsuleStore | undefined;
  #quotas: QuotaBook | undefined;
  #kvLive: Promise<KvState> | undefined;
  #bus: Bus | undefined;
  /** Projections kept current by folding new entries before each read. */
  readonly sessions: LiveProjection<SessionsState>;
  readonly capsules: LiveProjection<CapsulesState>;
  readonly installed: LiveProjection<InstalledState>;
  readonly kv: LiveProjection<KvState>;

  constructor(k: KernelState, mode: 'read' | 'write', daemon?: DaemonFacts) {
    this.k = k;
    this.mode = mode;
    this.daemon = daemon;
    this.sessions = new LiveProjection(k.ledger, sessionsProjection);
    this.capsules = new LiveProjection(k.ledger, capsulesProjection);
    this.installed = new LiveProjection(k.ledger, installedProjection);
    this.kv = new LiveProjection(k.ledger, kvProjection);
  }

  /**
   * BLAKE3 of each projection the kernel's state is rebuilt into (authority: principals,
   * grants, revocations, uses, spending, approvals; sessions; capsules; installed; kv), and
   * of them all together. Equal hashes mean equal state: the restart test compares these.
   */
  async stateHashes(): Promise<{readonly all: string; readonly parts: Readonly<Record<string, string>>}> {
    await this.k.ledger.flush();
    const a = await this.authority();
    const parts: Record<string, string> = {
      'kernel.authority': projectionStateHash(this.k.ledger, authorityProjection, a.state),
      [this.sessions.name]: await this.sessions.stateHash(),
      [this.capsules.name]: await this.capsules.stateHash(),
      [this.installed.name]: await this.installed.stateHash(),
      [this.kv.name]: await this.kv.stateHash(),
    };
    const all = this.k.ledger.hasher.hex(new Uint8Array(Buffer.from(Object.entries(parts).map(([n, h]) => `${n}=${h}`).join('\n'), 'utf8')));
    return {all, parts};
  }

  /** The authority (state rebuilt from the ledger once per runtime). */
  authority(): Promise<Authority> {
    return openAuthority(this.k, this.mode);
  }

  get #live(): ReadonlyArray<LiveProjection<unknown>> {
    return [this.sessions, this.capsules, this.installed, this.kv] as unknown as ReadonlyArray<LiveProjection<unknown>>;
  }

  /**
   * Rebuild every projection in one pass over the ledger, each from its snapshot when one
   * checks out (a boot). Returns what each started from and how many entries it folded.
   */
  async rebuildState(): Promise<Array<{name: string; source: string; folded: number; discarded?: string}>> {
    const live = this.#live;
    const ps = [authorityProjection, ...live.map((l) => l.projection)] as ReadonlyArray<Projection<unknown>>;
    const r = await rebuildAll(this.k.ledger, ps);
    await openAuthority(this.k, this.mode, (r[0] as {state: unknown}).state as Parameters<typeof openAuthority>[2]);
    live.forEach((l, i) => {
      const x = r[i + 1] as {state: unknown; seq: number};
      l.seed(x.state, x.seq);
    });
    return r.map((x, i) => ({name: (ps[i] as Projection<unknown>).name, source: x.source, folded: x.folded, ...(x.discarded === undefined ? {} : {discarded: x.discarded})}));
  }

  /** Snapshot every projection at the durable head (the daemon at stop), so the next boot folds only what follows. */
  async saveSnapshots(): Promise<number> {
    await this.k.ledger.flush();
    const seq = this.k.ledger.durableHead.seq;
    const a = await this.authority();
    await saveSnapshot(this.k.ledger, authorityProjection, a.state, seq);
    for (const l of this.#live) {
      const {state, seq: at} = await l.at();
      await saveSnapshot(this.k.ledger, l.projection, state, at);
    }
    return seq;
  }

  /** The approval actors: one service per runtime, so an answer from any uplink reaches the session waiting on it. */
  approvals(timeoutMs?: number): Promise<ApprovalService> {
    this.#approvals ??= this.authority().then((a) => approvalService(a, timeoutMs));
    return this.#approvals;
  }

  /** The send quotas every session of this runtime shares (per capsule, per principal). */
  quotas(): QuotaBook {
    this.#quotas ??= sendQuotas(this.k.home, this.k.clock);
    return this.#quotas;
  }

  /**
   * The kv data sessions read and write: one map per runtime, taken from the ledger once and
   * then changed only by the sandbox as it records each kv.set/kv.delete.
   */
  kvState(): Promise<KvState> {
    this.#kvLive ??= this.kv.current().then((s) => new Map(s));
    return this.#kvLive;
  }

  /**
   * The kernel's bus: capsule messages from every session of this runtime and session events
   * are delivered on it (once recorded and durable) to subscribers such as `astrid watch`.
   */
  bus(): Bus {
    this.#bus ??= new Bus({ledger: this.k.ledger, clock: this.k.clock, nextCorr: () => randomIds.next('c')});
    return this.#bus;
  }

  store(): CapsuleStore {
    this.#store ??= openCapsuleStore(this.k);
    return this.#store;
  }

  /**
   * Build the actors from the ledger's state (once): a principal actor per principal, with
   * the sessions the ledger says it is running; a session actor per running session, which
   * no kernel runs yet, so `interrupted` until this kernel runs it; and an actor per kernel
   * service (`service:fs.write`, `service:http`, `service:approval`, `service:spawn`).
   */
  buildActors(): Promise<void> {
    this.#actorsBuilt ??= (async () => {
      const a = await this.authority();
      const sessions = await this.sessions.current();
      const running = [...sessions.values()].filter((x) => x.status === 'running');
      for (const p of a.state.principals.values()) {
        const mine = running.filter((x) => x.principal === p.name).map((x) => x.id);
        this.actors.add(`principal:${p.name}`, 'principal', startPrincipalActor({name: p.name, role: p.role, sessions: mine}));
      }
      for (const x of running) {
        if (this.live.has(x.id)) continue;
        this.actors.add(`session:${x.id}`, 'session', startSessionActor({id: x.id, principal: x.principal, capsule: x.capsule, activations: x.activations, fuelUsed: x.fuelUsed, interrupted: true}));
      }
      // the kernel's services, one actor each, shared by every session this runtime runs
      for (const name of SERVICE_NAMES) this.actors.add(`service:${name}`, 'service', startServiceActor(name));
    })();
    return this.#actorsBuilt;
  }

  /** The principal actor for `name`, started on first use (a principal created since boot). */
  async principalActor(name: string) {
    await this.buildActors();
    const id = `principal:${name}`;
    let p = this.actors.get(id);
    if (p === undefined) {
      const rec = (await this.authority()).principal(name);
      p = startPrincipalActor({name, role: rec?.role ?? 'agent'});
      this.actors.add(id, 'principal', p);
    }
    return p;
  }

  /** End live sessions, stop the approval actors (their deadlines are in the ledger) and close the kernel state. */
  async close(reason = 'kernel closing'): Promise<void> {
    await Promise.allSettled([...this.live.values()].map((s) => s.end(reason)));
    if (this.#approvals !== undefined) (await this.#approvals.catch(() => undefined))?.stop();
    this.actors.stopAll();
    this.#bus?.close();
    await this.k.close();
  }
}
