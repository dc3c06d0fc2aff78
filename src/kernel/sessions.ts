/**
 * Projections the daemon keeps for sessions and capsule lifecycles, and a holder that
 * keeps any projection current by folding the ledger's new entries before each read.
 *
 * - `kernel.sessions`: every session: principal, capsule, its grants, when it started and
 *   ended, status (running | ok | error), the ending code, activations and fuel.
 * - `kernel.capsules`: per capsule name: installed hash (or removed), activations, the last
 *   outcome, crashes and exhaustions.
 * Both are pure folds, canonical encodings (sorted keys), so their state hashes can be
 * compared across a restart.
 */
import {packMsgpack, unpackMsgpack, rebuild, projectionStateHash, type Ledger, type Projection, type StoredEntry} from '../ledger/index.js';

export interface SessionRecord {
  readonly id: string;
  readonly principal: string;
  readonly capsule: string;
  readonly hash: string;
  readonly grants: readonly string[];
  readonly startedSeq: number;
  readonly startedAt: number;
  readonly status: 'running' | 'ok' | 'error';
  readonly code: string;
  readonly endedSeq: number;
  readonly endedAt: number;
  readonly activations: number;
  readonly fuelUsed: number;
}

export type SessionsState = ReadonlyMap<string, SessionRecord>;

function decodeMap<T>(bytes: Uint8Array, what: string, check: (v: unknown) => v is T): Map<string, T> {
  const u = unpackMsgpack(bytes);
  if (!Array.isArray(u)) throw new TypeError(`malformed ${what} state`);
  const out = new Map<string, T>();
  for (const pair of u) {
    if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== 'string' || !check(pair[1])) throw new TypeError(`malformed ${what} state`);
    out.set(pair[0], pair[1]);
  }
  return out;
}

function encodeMap<T>(m: ReadonlyMap<string, T>): Uint8Array {
  return packMsgpack([...m.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)));
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

export const sessionsProjection: Projection<SessionsState> = {
  name: 'kernel.sessions',
  version: 1,
  kinds: new Set(['session.started', 'session.ended', 'activation.ended'] as const),
  initial: () => new Map(),
  apply(s, e: StoredEntry) {
    const x = e.entry;
    if (x.kind === 'session.started') {
      const m = new Map(s);
      m.set(x.session, {
        id: x.session,
        principal: x.body.principal,
        capsule: x.body.capsule,
        hash: x.body.hash,
        grants: [...x.body.grants],
        startedSeq: e.seq,
        startedAt: x.time,
        status: 'running',
        code: '',
        endedSeq: 0,
        endedAt: 0,
        activations: 0,
        fuelUsed: 0,
      });
      return m;
    }
    if (x.kind !== 'session.ended' && x.kind !== 'activation.ended') return s;
    const cur = s.get(x.session);
    if (cur === undefined || cur.status !== 'running') return s;
    const m = new Map(s);
    if (x.kind === 'session.ended') m.set(x.session, {...cur, status: x.body.status, code: x.body.code, endedSeq: e.seq, endedAt: x.time});
    else m.set(x.session, {...cur, activations: cur.activations + 1, fuelUsed: cur.fuelUsed + x.body.fuelUsed});
    return m;
  },
  encode: (s) => encodeMap(s),
  decode: (b) => decodeMap(b, 'sessions', (v): v is SessionRecord => isObj(v) && typeof v.id === 'string' && typeof v.status === 'string' && Array.isArray(v.grants)),
};

export interface CapsuleRecord {
  readonly name: string;
  /** Installed module hash, '' once removed. */
  readonly hash: string;
  readonly activations: number;
  readonly lastOutcome: string;
  readonly crashes: number;
  readonly exhaustions: number;
}

export type CapsulesState = ReadonlyMap<string, CapsuleRecord>;

const EXHAUSTED = new Set(['SANDBOX_FUEL_EXHAUSTED', 'SANDBOX_MEMORY_LIMIT', 'SANDBOX_TIMEOUT']);

export const capsulesProjection: Projection<CapsulesState> = {
  name: 'kernel.capsules',
  version: 1,
  kinds: new Set(['capsule.installed', 'capsule.removed', 'activation.ended'] as const),
  initial: () => new Map(),
  apply(s, e: StoredEntry) {
    const x = e.entry;
    if (x.kind === 'capsule.installed' || x.kind === 'capsule.removed') {
      const m = new Map(s);
      const cur = s.get(x.body.name) ?? {name: x.body.name, hash: '', activations: 0, lastOutcome: '', crashes: 0, exhaustions: 0};
      m.set(x.body.name, {...cur, hash: x.kind === 'capsule.installed' ? x.body.hash : ''});
      return m;
    }
    if (x.kind !== 'activation.ended') return s;
    const cur = s.get(x.body.capsule);
    if (cur === undefined) return s;
    const m = new Map(s);
    const o = x.body.outcome;
    m.set(cur.name, {
      ...cur,
      activations: cur.activations + 1,
      lastOutcome: o,
      crashes: cur.crashes + (o !== 'ok' && !EXHAUSTED.has(o) ? 1 : 0),
      exhaustions: cur.exhaustions + (EXHAUSTED.has(o) ? 1 : 0),
    });
    return m;
  },
  encode: (s) => encodeMap(s),
  decode: (b) => decodeMap(b, 'capsules', (v): v is CapsuleRecord => isObj(v) && typeof v.name === 'string' && typeof v.hash === 'string'),
};

/**
 * A projection kept current: rebuilt once, then each `current()` folds the entries appended
 * since (reads are serialised, so two callers never fold the same entry twice).
 */
export class LiveProjection<S> {
  readonly #ledger: Ledger;
  readonly #p: Projection<S>;
  #state: S | undefined;
  #seq = 0;
  #chain: Promise<unknown> = Promise.resolve();

  constructor(ledger: Ledger, p: Projection<S>) {
    this.#ledger = ledger;
    this.#p = p;
  }

  get name(): string {
    return this.#p.name;
  }

  get projection(): Projection<S> {
    return this.#p;
  }

  /** Start from a state already rebuilt up to `seq` (a boot's single pass). */
  seed(state: S, seq: number): void {
    this.#state = state;
    this.#seq = seq;
  }

  /** The current state and the seq it is folded to. */
  async at(): Promise<{state: S; seq: number}> {
    const state = await this.current();
    return {state, seq: this.#seq};
  }

  /** The state as of the ledger's durable head. */
  current(): Promise<S> {
    const next = this.#chain.then(async () => {
      if (this.#state === undefined) {
        const r = await rebuild(this.#ledger, this.#p);
        this.#state = r.state;
        this.#seq = r.seq;
      }
      const head = this.#ledger.durableHead.seq;
      if (head > this.#seq) {
        let s = this.#state as S;
        for await (const e of this.#ledger.entries({from: this.#seq + 1})) {
          if (e.seq > head) break;
          s = this.#p.apply(s, e);
          this.#seq = e.seq;
        }
        this.#state = s;
      }
      return this.#state as S;
    });
    this.#chain = next.catch(() => undefined);
    return next;
  }

  /** BLAKE3 (hex) of the current state's canonical encoding. */
  async stateHash(): Promise<string> {
    return projectionStateHash(this.#ledger, this.#p, await this.current());
  }
}
