/**
 * Approval gates: one XState actor per request.
 *   pending -APPROVE(once|session|always)-> approved;  pending -DENY-> denied;
 *   pending -(timeout)-> expired.   Expired or unanswered means denied.
 * The service records every step in the ledger (approval.requested, approval.answered),
 * mints a token scoped to exactly the approved resource for "always", and accepts answers
 * only from a human principal (role owner or user) through an uplink (cli, web, mcp): no
 * capsule has a way to reach `answer`. State is a projection, so a pending approval made by
 * one process can be answered by another (`astrid approve`), within its deadline.
 */
import {assign, createActor, setup, type ActorRefFrom} from 'xstate';
import {AstridError} from '../errors/index.js';
import {parseHttpTarget, parseResource, type ApprovalRecord, type Approver, type Authority, type Caveat, type ResourceType} from '../capabilities/index.js';

export type ApprovalScope = 'once' | 'session' | 'always';
export const UPLINKS = ['cli', 'web', 'mcp'] as const;
export type Uplink = (typeof UPLINKS)[number];

export type ApprovalEvent = {type: 'APPROVE'; scope: ApprovalScope; by: string} | {type: 'DENY'; by: string; reason: string};

interface ApprovalContext {
  readonly id: string;
  readonly timeoutMs: number;
  readonly scope: ApprovalScope | '';
  readonly by: string;
  readonly reason: string;
}

export const approvalMachine = setup({
  types: {context: {} as ApprovalContext, events: {} as ApprovalEvent, input: {} as {id: string; timeoutMs: number}},
  delays: {timeout: ({context}) => context.timeoutMs},
}).createMachine({
  id: 'approval',
  initial: 'pending',
  context: ({input}) => ({id: input.id, timeoutMs: input.timeoutMs, scope: '', by: '', reason: ''}),
  states: {
    pending: {
      after: {timeout: 'expired'},
      on: {
        APPROVE: {target: 'approved', actions: assign({scope: ({event}) => event.scope, by: ({event}) => event.by})},
        DENY: {target: 'denied', actions: assign({by: ({event}) => event.by, reason: ({event}) => event.reason})},
      },
    },
    approved: {type: 'final'},
    denied: {type: 'final'},
    expired: {type: 'final'},
  },
});

export type ApprovalActor = ActorRefFrom<typeof approvalMachine>;

/** Timers for the actors' deadlines (XState's clock interface); tests pass a simulated one. */
export interface ApprovalTimers {
  setTimeout(fn: (...args: unknown[]) => void, ms: number): unknown;
  clearTimeout(id: unknown): void;
}

export interface ApprovalServiceOptions {
  readonly authority: Authority;
  readonly timers: ApprovalTimers;
  readonly nextId: () => string;
  /** How long a human has to answer (default 5 minutes). */
  readonly timeoutMs?: number;
  /** Most pending approvals one session may open (a capsule must not flood the human). */
  readonly maxPendingPerSession?: number;
}

export interface AnswerInput {
  readonly answer: 'approved' | 'denied';
  readonly scope?: ApprovalScope;
  readonly by: string;
  readonly via: string;
  readonly reason?: string;
}

export const DEFAULT_APPROVAL_TIMEOUT_MS = 5 * 60_000;

/**
 * The grant for an "always" answer: a resource that covers the approved request, an
 * `allow` caveat pinning the request's exact value (a URL grant is a prefix, a query is not
 * part of a grant: the caveat keeps the token to exactly what the human saw), and a
 * `capsule` caveat pinning the module that asked.
 * @throws AstridError INPUT_INVALID when no grant can express it.
 */
function exactGrant(resource: string, hash: string): {resources: string[]; caveats: Caveat[]} {
  const colon = resource.indexOf(':');
  const type = resource.slice(0, colon) as ResourceType;
  const value = resource.slice(colon + 1);
  let grant = resource;
  if (type === 'net.http') {
    const t = parseHttpTarget(value, true);
    if (typeof t === 'string') throw new AstridError('INPUT_INVALID', `cannot mint a lasting token for ${resource}: ${t}`);
    grant = `net.http:${(t.methods ?? []).join(',')} ${t.scheme}://${t.host}:${t.port}${t.path.split('?')[0] as string}`;
  }
  try {
    parseResource(grant);
  } catch (e) {
    throw new AstridError('INPUT_INVALID', `cannot mint a lasting token for ${resource}: ${(e as Error).message}; answer with --scope once or session`);
  }
  return {resources: [grant], caveats: [{type: 'allow', resource: type, values: [value]}, {type: 'capsule', hash}]};
}

export class ApprovalService implements Approver {
  readonly #o: ApprovalServiceOptions;
  readonly #actors = new Map<string, ApprovalActor>();

  constructor(o: ApprovalServiceOptions) {
    this.#o = o;
  }

  get #timeout(): number {
    return this.#o.timeoutMs ?? DEFAULT_APPROVAL_TIMEOUT_MS;
  }

  /** Pending approvals (not answered, deadline not passed), oldest first. */
  pending(now = this.#o.authority.clock.now()): ApprovalRecord[] {
    return [...this.#o.authority.state.approvals.values()].filter((a) => a.status === 'pending' && a.expires > now).sort((a, b) => a.seq - b.seq);
  }

  /** Every approval, oldest first. */
  all(): ApprovalRecord[] {
    return [...this.#o.authority.state.approvals.values()].sort((a, b) => a.seq - b.seq);
  }

  request(r: {session: string; principal: string; capsule: string; hash: string; resource: string; reason: string}): string {
    const a = this.#o.authority;
    const now = a.clock.now();
    const open = this.pending(now).filter((x) => x.session === r.session);
    const same = open.find((x) => x.principal === r.principal && x.capsule === r.capsule && x.hash === r.hash && x.resource === r.resource);
    if (same !== undefined) return same.id;
    if (open.length >= (this.#o.maxPendingPerSession ?? 8)) throw new AstridError('APPROVAL_PENDING', `session ${r.session} already has ${open.length} approvals waiting`);
    const id = this.#o.nextId();
    a.record({
      kind: 'approval.requested',
      body: {id, capsule: r.capsule.slice(0, 64), hash: r.hash, resource: r.resource.slice(0, 4200), reason: r.reason.slice(0, 1024), expires: now + this.#timeout},
      session: r.session,
      principal: r.principal,
      actor: 'approvals',
    });
    this.#start(id, this.#timeout);
    return id;
  }

  #start(id: string, timeoutMs: number): ApprovalActor {
    const actor = createActor(approvalMachine, {input: {id, timeoutMs}, clock: this.#o.timers});
    this.#actors.set(id, actor);
    actor.subscribe((snap) => {
      if (snap.value === 'expired') this.#recordExpired(id);
      if (snap.status === 'done') this.#actors.delete(id);
    });
    actor.start();
    return actor;
  }

  #recordExpired(id: string): void {
    const rec = this.#o.authority.state.approvals.get(id);
    if (rec === undefined || rec.status !== 'pending') return;
    try {
      this.#o.authority.record({
        kind: 'approval.answered',
        body: {id, answer: 'expired', scope: '', by: '', via: 'kernel', reason: 'unanswered by the deadline', token: ''},
        session: rec.session,
        principal: rec.principal,
        actor: 'approvals',
      });
    } catch {
      // the ledger refused: the approval stays unanswered, and unanswered past its deadline is denied anyway
    }
  }

  /** Record expiry for every pending approval whose deadline has passed. Returns how many. */
  expireDue(): number {
    const now = this.#o.authority.clock.now();
    let n = 0;
    for (const a of this.#o.authority.state.approvals.values()) {
      if (a.status === 'pending' && a.expires <= now) {
        this.#recordExpired(a.id);
        n++;
      }
    }
    return n;
  }

  /**
   * Answer a pending approval as a human principal through an uplink.
   * @throws AstridError APPROVAL_NOT_FOUND, APPROVAL_ANSWERED, APPROVAL_EXPIRED,
   *   APPROVAL_FORBIDDEN (not a human principal, or not through an uplink), INPUT_INVALID.
   */
  async answer(id: string, ans: AnswerInput): Promise<ApprovalRecord> {
    const a = this.#o.authority;
    const rec = a.state.approvals.get(id);
    if (rec === undefined) throw new AstridError('APPROVAL_NOT_FOUND', `no approval ${id.slice(0, 64)} (astrid approvals)`);
    const who = a.principal(ans.by);
    if (who === undefined || (who.role !== 'owner' && who.role !== 'user')) {
      throw new AstridError('APPROVAL_FORBIDDEN', `${ans.by} is not a human principal; only the owner or a user can answer approvals`);
    }
    if (!(UPLINKS as readonly string[]).includes(ans.via)) throw new AstridError('APPROVAL_FORBIDDEN', `answers come only through an uplink (${UPLINKS.join(', ')}), not ${ans.via}`);
    if (rec.status === 'expired') throw new AstridError('APPROVAL_EXPIRED', `approval ${id} expired at ${new Date(rec.expires).toISOString()}: it counts as denied`);
    if (rec.status !== 'pending') throw new AstridError('APPROVAL_ANSWERED', `approval ${id} was already ${rec.status}`);
    const now = a.clock.now();
    if (now >= rec.expires) {
      this.#recordExpired(id);
      throw new AstridError('APPROVAL_EXPIRED', `approval ${id} expired at ${new Date(rec.expires).toISOString()}: it counts as denied`);
    }
    if (ans.answer === 'approved' && ans.scope === undefined) throw new AstridError('INPUT_INVALID', 'an approval needs a scope: once, session or always');
    const actor = this.#actors.get(id) ?? this.#start(id, rec.expires - now);
    if (actor.getSnapshot().value !== 'pending') throw new AstridError('APPROVAL_EXPIRED', `approval ${id} expired: it counts as denied`);
    let token = '';
    if (ans.answer === 'approved' && ans.scope === 'always') {
      const t = await a.grant(
        {to: rec.principal, ...exactGrant(rec.resource, rec.hash), via: `approval:${id}`},
        {session: rec.session, principal: ans.by, actor: `uplink:${ans.via}`},
      );
      token = t.id;
    }
    const reason = (ans.reason ?? '').slice(0, 1024);
    await a.record({
      kind: 'approval.answered',
      body: {id, answer: ans.answer, scope: ans.answer === 'approved' ? (ans.scope as string) : '', by: ans.by, via: ans.via, reason, token},
      session: rec.session,
      principal: ans.by,
      actor: `uplink:${ans.via}`,
    }).durable;
    actor.send(ans.answer === 'approved' ? {type: 'APPROVE', scope: ans.scope as ApprovalScope, by: ans.by} : {type: 'DENY', by: ans.by, reason});
    return a.state.approvals.get(id) as ApprovalRecord;
  }

  /**
   * Resolves when one of the approvals `ids` running here leaves pending (answered or
   * expired), or after `ms`, whichever comes first: a waiter re-checks the records then.
   * Approvals with no actor here (unknown, or already settled) only have the timeout.
   */
  changed(ids: readonly string[], ms: number): Promise<void> {
    return new Promise((resolve) => {
      const subs: {unsubscribe(): void}[] = [];
      let timer: ReturnType<typeof setTimeout> | undefined;
      const done = (): void => {
        if (timer === undefined) return;
        clearTimeout(timer);
        timer = undefined;
        for (const s of subs) s.unsubscribe();
        resolve();
      };
      timer = setTimeout(done, ms);
      for (const id of ids) {
        const actor = this.#actors.get(id);
        if (actor === undefined || actor.getSnapshot().value !== 'pending') continue; // settled: only the timeout, never a busy loop
        subs.push(actor.subscribe((snap) => (snap.value !== 'pending' ? done() : undefined)));
      }
    });
  }

  /** The live actor for a pending approval (for inspection). */
  actor(id: string): ApprovalActor | undefined {
    return this.#actors.get(id);
  }

  /** Stop every live actor (their deadlines are in the ledger; nothing is lost). */
  stop(): void {
    for (const a of this.#actors.values()) a.stop();
    this.#actors.clear();
  }
}
