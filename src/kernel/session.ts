/**
 * One-shot sessions (`astrid run`, in-process until the daemon exists): a principal runs
 * one capsule under explicit grants and a budget. The session delivers one message, lets
 * the capsule work (service effects requested by `send` are performed only once their
 * authorising entry is durable, and their results are delivered back), and ends. Every
 * step is a ledger entry: session.started, bus.message, activation.*, host.call,
 * gate.denied, service.result, session.ended.
 */
import {AstridError} from '../errors/index.js';
import {chainScopes, parseResource, scopeName, SessionGate, type Authority, type BudgetBook, type BudgetScope, type Token, type TokenBudget} from '../capabilities/index.js';
import {rebuild, type Ledger} from '../ledger/index.js';
import {isTopic, matches, parseTopic, type Topic} from '../topics/index.js';
import {
  BUDGET_LIMITS,
  CapsuleInstance,
  installedProjection,
  kvProjection,
  pack,
  type ActivationResult,
  type Budget,
  type CapsuleStore,
  type Delivery,
  type LoadedCapsule,
  type SessionContext,
  type InstalledState,
  type KvState,
} from '../sandbox/index.js';
import {startCapsuleActor, type ActorRegistry, type ServiceName} from '../actors/index.js';
import {FS_WRITE_TOPIC, HTTP_REQUEST_TOPIC, serveFsWrite, serveHttpRequest, type HttpLimits, type Resolver, type ServiceSend} from '../services/index.js';
import {secretSource} from './secrets.js';
import type {KernelState} from './open.js';
import {approvalService, budgetBook, openAuthority} from './authority.js';
import type {ApprovalService} from '../actors/index.js';
import {loadPolicy, sendQuotas} from './policy.js';
import type {Bus, QuotaBook} from '../bus/index.js';
import {serveSpawn} from './spawn.js';
import {checkPayload} from '../bus/index.js';
import {randomIds, systemRandom, type IdSource} from './clock.js';

export const MAX_ACTIVATIONS_PER_RUN = 64;

export interface RunOptions {
  readonly capsule: string;
  /** Resources granted for this session only (an owner-signed token, revoked when the session ends). */
  readonly grants: readonly string[];
  /** Existing tokens to run under; the session's principal is their subject. */
  readonly tokens?: readonly string[];
  /** Totals for the whole session (fuel, wall_ms, messages, egress_bytes). */
  readonly sessionBudget?: TokenBudget;
  /** Ask a human (an approval request) when no token covers a request, instead of denying outright. */
  readonly ask?: boolean;
  readonly approvalTimeoutMs?: number;
  readonly budget?: Partial<Budget>;
  readonly topic?: string;
  readonly input?: unknown;
  readonly principal?: string;
  readonly ids?: IdSource;
  readonly random?: (n: number) => Uint8Array;
  /** Called after each activation (for streaming output). */
  readonly onActivation?: (r: ActivationResult) => void;
  /** The approval actors to ask (the daemon's shared ones, so any uplink can answer); else the session makes its own. */
  readonly approvals?: ApprovalService;
  /** The kernel's installed capsules and live kv state (a daemon's; else rebuilt for this session). */
  readonly installed?: InstalledState;
  readonly kv?: KvState;
  /** How deep in a chain of spawns this session is (0: started by a user). */
  readonly depth?: number;
  /** The session tree's spawn count (a child shares its root's; a root session starts a fresh one). */
  readonly tree?: {spawned: number};
  /**
   * With `ask`: when an activation opens approval requests, wait for the answers (or their
   * deadlines), and deliver the same message again if one was approved (at most
   * MAX_APPROVAL_RETRIES times). Without it, the request stays open for a later session.
   */
  readonly waitForApprovals?: boolean;
  /** Called for each approval request an activation opened (to prompt a human). */
  readonly onApproval?: (r: {id: string; capsule: string; resource: string; reason: string; expires: number}) => void;
  /** The kernel bus the session's messages and events are delivered on (after they are durable). */
  readonly bus?: Bus;
  /** Where the session's capsule actor is registered while it lives (astrid inspect actor). */
  readonly actors?: ActorRegistry;
  /** The kernel's send quotas (shared by every session of a daemon); else the home's quotas for this session alone. */
  readonly quotas?: QuotaBook;
  /** Called once the session exists (its id is in the ledger), with a way to end it early. */
  readonly onStart?: (session: string, principal: string, end: (reason: string) => void) => void;
  /** The http service's DNS resolver (default: the system's) and limits. */
  readonly http?: {readonly resolve?: Resolver; readonly limits?: Partial<HttpLimits>};
}

export interface RunResult {
  readonly session: string;
  readonly principal: string;
  /** Token ids the session ran under (its root grant first). */
  readonly tokens: readonly string[];
  readonly status: 'ok' | 'error';
  readonly code?: string;
  readonly message?: string;
  readonly sends: ReadonlyArray<{readonly topic: string; readonly payload: unknown}>;
  readonly fuelUsed: number;
  readonly activations: number;
  readonly denials: ReadonlyArray<{readonly layer: string; readonly rule: string; readonly resource: string; readonly reason: string}>;
}

/** Parse `--budget fuel=N,memory_pages=N,wall_ms=N` into a partial budget. @throws AstridError INPUT_INVALID. */
export function parseBudgetFlag(text: string): Partial<Budget> {
  const out: Record<string, number> = {};
  for (const part of text.split(',')) {
    const m = /^(fuel|memory_pages|wall_ms)=(\d{1,15})$/.exec(part.trim());
    if (m === null) throw new AstridError('INPUT_INVALID', `--budget: "${part}" is not fuel=N, memory_pages=N or wall_ms=N`);
    const key = m[1] as keyof Budget;
    const n = Number(m[2]);
    if (n < 1 || n > BUDGET_LIMITS[key]) throw new AstridError('INPUT_INVALID', `--budget: ${key} must be 1 to ${BUDGET_LIMITS[key]}`);
    out[key] = n;
  }
  return out;
}

/**
 * Serve `svc.approval.request` {resource, reason}: a capsule asks a human for a resource
 * ahead of using it. Only a session that asks (`--ask`) has approvers; the answer comes later
 * (astrid approve), and the capsule's next use of the resource passes the approval layer.
 */
async function serveApprovalRequest(
  ledger: Ledger,
  who: {session: string; principal: string; actor: string},
  approvals: ApprovalService | undefined,
  capsule: {capsule: string; hash: string},
  send: {seq: number; payload: unknown; corr: string},
): Promise<Delivery> {
  let result: {ok: boolean; id?: string; code?: string};
  let detail: string;
  const v = checkPayload(parseTopic('svc.approval.request'), send.payload);
  const p = send.payload as {resource: string; reason: string};
  if (!v.ok) [result, detail] = [{ok: false, code: 'INPUT_INVALID'}, v.reason];
  else if (approvals === undefined) [result, detail] = [{ok: false, code: 'APPROVAL_UNAVAILABLE'}, 'this session does not ask for approvals (astrid run --ask)'];
  else {
    try {
      parseResource(p.resource);
      const id = approvals.request({session: who.session, principal: who.principal, capsule: capsule.capsule, hash: capsule.hash, resource: p.resource, reason: p.reason || `${capsule.capsule} asks for ${p.resource}`});
      [result, detail] = [{ok: true, id}, `approval ${id} for ${p.resource}`];
    } catch (e) {
      [result, detail] = [{ok: false, code: e instanceof AstridError ? e.code : 'INPUT_INVALID'}, (e as Error).message];
    }
  }
  const actor = {...who, actor: 'svc.approval'};
  await ledger.append({kind: 'service.result', body: {service: 'approval', cause: send.seq, ok: result.ok, code: result.code ?? '', detail: detail.slice(0, 4096)}, ...actor});
  const res = await ledger.append({kind: 'bus.message', body: {topic: 'svc.approval.request.result', payload: pack(result), from: 'svc.approval', corr: send.corr}, ...actor});
  return {topic: 'svc.approval.request.result', payload: result, from: 'svc.approval', seq: res.seq, ...(send.corr ? {corr: send.corr} : {})};
}

/** Restarts of a crashed or exhausted capsule instance per session, and the backoff before each. */
export const MAX_RESTARTS = 8;
export function restartBackoffMs(restarts: number): number {
  return Math.min(10 * 2 ** restarts, 1000);
}

/** Deliveries retried after approvals, per session. */
export const MAX_APPROVAL_RETRIES = 8;

/**
 * Wait until none of `ids` is pending (answered, or past its deadline and recorded expired),
 * or the session is asked to stop. True when at least one was approved.
 */
async function waitForAnswers(a: Authority, approvals: ApprovalService, ids: readonly string[], stop: {readonly reason?: string}, clock: {now(): number}): Promise<boolean> {
  for (;;) {
    const recs = ids.map((id) => a.state.approvals.get(id));
    if (stop.reason !== undefined) return false;
    const now = clock.now();
    if (recs.every((x) => x === undefined || x.status !== 'pending' || x.expires <= now)) {
      approvals.expireDue();
      return recs.some((x) => x?.status === 'approved');
    }
    // woken by the approval actors as soon as one is answered or expires; the timeout is for
    // a session stopped meanwhile and for approvals whose actor lives in no process any more
    await approvals.changed(ids, 100);
  }
}

/** Check `--grant` resources. @throws AstridError INPUT_INVALID naming the flag. */
export function checkGrants(grants: readonly string[]): void {
  for (const g of grants) {
    try {
      parseResource(g);
    } catch (e) {
      throw new AstridError('INPUT_INVALID', `--grant: ${(e as Error).message}`, {cause: e});
    }
  }
}

/** Run one capsule for one message in a fresh session. */
export async function runSession(k: KernelState, store: CapsuleStore, o: RunOptions): Promise<RunResult> {
  const ledger: Ledger = k.ledger;
  checkGrants(o.grants);
  const installedState = o.installed ?? (await rebuild(ledger, installedProjection)).state;
  const installed = installedState.get(o.capsule);
  if (installed === undefined) throw new AstridError('CAPSULE_NOT_FOUND', `no installed capsule named "${o.capsule}" (see astrid capsule list)`);
  const loaded: LoadedCapsule = await store.load(installed);
  const m = loaded.manifest;
  let topic = o.topic;
  if (topic === undefined) {
    const concrete = m.topics.handles.find((p) => isTopic(p));
    if (concrete === undefined) throw new AstridError('INPUT_INVALID', `${o.capsule} handles ${m.topics.handles.join(', ') || 'nothing'}: give --topic`);
    topic = concrete;
  }
  if (!isTopic(topic)) throw new AstridError('INPUT_INVALID', `--topic: not a valid topic: ${topic}`);
  const t = parseTopic(topic);
  if (!m.topics.handles.some((p) => matches(p, t))) throw new AstridError('INPUT_INVALID', `${o.capsule} does not handle ${topic} (it handles ${m.topics.handles.join(', ')})`);

  const authority = await openAuthority(k, 'write');
  const reports = await Promise.all((o.tokens ?? []).map((id) => authority.reportAsync(id)));
  const given = (o.tokens ?? []).map((id, i) => {
    const rep = reports[i] as Awaited<ReturnType<typeof authority.reportAsync>>;
    if (rep.token === undefined) throw new AstridError('TOKEN_NOT_FOUND', `--token ${id}: ${rep.reason}`);
    if (rep.status !== 'active') throw new AstridError('TOKEN_NOT_ACTIVE', `--token ${id} is ${rep.status}: ${rep.reason}`, {details: {status: rep.status}});
    return rep.token;
  });
  const subjects = new Set(given.map((x) => x.subject));
  if (subjects.size > 1) throw new AstridError('INPUT_INVALID', `--token: the tokens are for different principals (${[...subjects].join(', ')}); a session runs under one`);
  const principal = given[0]?.subject ?? o.principal ?? 'owner';
  if (o.principal !== undefined && o.principal !== principal) throw new AstridError('INPUT_INVALID', `the tokens are for ${principal}, not ${o.principal}`);

  const ids = o.ids ?? randomIds;
  const session = ids.next('s');
  const who = {session, principal, actor: 'kernel'};
  let sessionToken: Token | undefined;
  if (o.grants.length > 0) {
    sessionToken = authority.mint({to: principal, resources: o.grants, exp: k.clock.now() + 24 * 3600_000});
  }
  const tokens = [...given, ...(sessionToken ? [sessionToken] : [])];
  // Activation resources (fuel, wall time, memory) are bounded and charged by every token the
  // session runs under and all their ancestors: which token comes first must not matter.
  const seen = new Set<string>();
  const rootChain: Token[] = [];
  for (const t of tokens) {
    for (const x of t === sessionToken ? [t] : authority.report(t.id).chain) {
      if (!seen.has(x.id)) {
        seen.add(x.id);
        rootChain.push(x);
      }
    }
  }
  const sessionLimits: TokenBudget = o.sessionBudget ?? {};
  const scopes: BudgetScope[] = chainScopes(session, sessionLimits, rootChain);
  const memCap = Math.min(...rootChain.map((x) => x.budget.memory_pages ?? Infinity));
  const budget: {-readonly [K in keyof Budget]: Budget[K]} = {...m.budget, ...(o.budget ?? {})};
  if (memCap < budget.memory_pages) budget.memory_pages = Math.max(1, memCap);
  const kv = o.kv ?? (await rebuild(ledger, kvProjection)).state;
  const book = budgetBook(authority);
  const ownApprovals = o.ask === true && o.approvals === undefined ? approvalService(authority, o.approvalTimeoutMs) : undefined;
  const approvals = o.ask === true ? (o.approvals ?? ownApprovals) : undefined;
  const gate = new SessionGate({
    authority,
    budget: book,
    session,
    principal,
    tokens: tokens.map((x) => x.id),
    sessionLimits,
    capsules: (name) => (name === loaded.name ? {hash: loaded.hash, ...m.resources, sends: m.topics.sends} : undefined),
    policy: loadPolicy(k.home),
    ...(approvals === undefined ? {} : {approver: approvals}),
  });
  const quotas = o.quotas ?? sendQuotas(k.home, k.clock);
  const quotaKeys = [`capsule:${loaded.name}`, `principal:${principal}`];
  const ctx: SessionContext = {ledger, clock: k.clock, gate, random: o.random ?? systemRandom, kv, session, principal, budget, sendQuota: (bytes) => quotas.admit(quotaKeys, bytes)};
  const started = await ledger.append({kind: 'session.started', body: {principal, capsule: loaded.name, hash: loaded.hash, grants: tokens.map((x) => x.id), budget}, ...who});
  if (sessionToken !== undefined) await authority.issue(sessionToken, `session:${session}`, who);
  const stop: {reason?: string} = {};
  o.onStart?.(session, principal, (reason) => {
    stop.reason ??= reason;
  });
  const first = await ledger.append({kind: 'bus.message', body: {topic, payload: pack(o.input ?? {}), from: 'cli', corr: ''}, ...who, actor: 'cli'});
  o.bus?.deliverRecorded({topic: 'kernel.session.started' as Topic, payload: {session, status: 'running'}, from: 'kernel', principal, session, corr: '', seq: started.seq});
  try {
    return await deliverAll(k, authority, {loaded, ctx, gate, book, scopes, who, first: first.seq, topic, input: o.input ?? {}, onActivation: o.onActivation, sessionToken, tokenIds: tokens.map((x) => x.id), stop, http: o.http, actors: o.actors, options: o, store, approvals, installed: installedState, inherited: {
      ...(o.quotas ? {quotas: o.quotas} : {}),
      ...(o.bus ? {bus: o.bus} : {}),
      ...(o.actors ? {actors: o.actors} : {}),
      installed: installedState,
      kv,
      ...(o.http ? {http: o.http} : {}),
      ...(o.random ? {random: o.random} : {}),
      ...(o.ids ? {ids: o.ids} : {}),
      tree: o.tree ?? {spawned: 0},
    }});
  } finally {
    ownApprovals?.stop();
  }
}

interface DeliverContext {
  readonly loaded: LoadedCapsule;
  readonly ctx: SessionContext;
  readonly gate: SessionGate;
  readonly book: BudgetBook;
  readonly scopes: readonly BudgetScope[];
  readonly who: {session: string; principal: string; actor: string};
  readonly first: number;
  readonly topic: string;
  readonly input: unknown;
  readonly onActivation: ((r: ActivationResult) => void) | undefined;
  readonly sessionToken: Token | undefined;
  readonly tokenIds: readonly string[];
  readonly actors: ActorRegistry | undefined;
  readonly options: RunOptions;
  readonly approvals: ApprovalService | undefined;
  readonly installed: InstalledState;
  readonly store: CapsuleStore;
  /** What a spawned child session shares with this one (kernel-wide state, hooks that are not per-session). */
  readonly inherited: Partial<RunOptions>;
  /** Set when the session is asked to end early (astrid session end, daemon stopping). */
  readonly stop: {readonly reason?: string};
  readonly http: RunOptions['http'];
}

/**
 * `serve`, reported to the service's actor (`service:<name>` in `actors`, when the kernel
 * runs one): REQUEST before, DONE with the result's ok and code after (a throw is a failure).
 */
function tracked(actors: ActorRegistry | undefined, name: ServiceName, serve: (s: ServiceSend) => Promise<Delivery>): (s: ServiceSend) => Promise<Delivery> {
  return async (s) => {
    const a = actors?.get(`service:${name}`);
    a?.send({type: 'REQUEST'});
    let ok = false;
    let code = 'INTERNAL';
    try {
      const d = await serve(s);
      const p = d.payload as {ok?: unknown; code?: unknown} | null;
      ok = typeof p === 'object' && p !== null && p.ok === true;
      code = typeof p === 'object' && p !== null && typeof p.code === 'string' ? p.code : '';
      return d;
    } finally {
      a?.send({type: 'DONE', ok, code});
    }
  };
}

async function deliverAll(k: KernelState, authority: Authority, c: DeliverContext): Promise<RunResult> {
  const ledger = k.ledger;
  const {loaded, ctx, gate, book, scopes, who, topic} = c;
  const {session, principal} = who;
  const input = c.input;
  const actor = startCapsuleActor(loaded.name);
  const unregister = c.actors?.add(`capsule:${session}/${loaded.name}`, 'capsule', actor);
  const queue: Delivery[] = [{topic, payload: input, from: 'cli', seq: c.first}];
  const sends: Array<{topic: string; payload: unknown}> = [];
  const denials: RunResult['denials'][number][] = [];
  let fuelUsed = 0;
  let activations = 0;
  let failure: {code: string; message: string} | undefined;
  let instance: CapsuleInstance | undefined;
  let retries = 0;
  const fromSeq = c.first;
  /** Record a budget that ran out (budget.exhausted) and say so as the session's failure. */
  const exhausted = async (key: string, axis: string, limit: number, wanted: number, why: string): Promise<{code: string; message: string}> => {
    const scope = scopeName(key, session);
    await ledger.append({kind: 'budget.exhausted', body: {scope: scope.slice(0, 64), axis, limit, wanted, capsule: loaded.name}, ...who});
    return {code: 'BUDGET_EXHAUSTED', message: `${scope === 'session' ? 'the session' : scope} ${why}`};
  };
  /**
   * The kernel's services, by the topic a capsule sends to: each is performed once the send's
   * entry is durable, records its outcome, and returns the result message to deliver back.
   * Any other send is an ordinary message, handed to the bus.
   */
  const services: ReadonlyMap<string, (s: ServiceSend) => Promise<Delivery>> = new Map([
    [FS_WRITE_TOPIC, tracked(c.actors, 'fs.write', (s: ServiceSend) => serveFsWrite(ledger, who, {gate, capsule: loaded.name, principal, session}, s))],
    [HTTP_REQUEST_TOPIC, tracked(c.actors, 'http', (s: ServiceSend) => serveHttpRequest(ledger, who, {gate, capsule: loaded.name, principal, session, secrets: secretSource(k.home), ...c.http}, s))],
    ['svc.approval.request', tracked(c.actors, 'approval', (s: ServiceSend) => serveApprovalRequest(ledger, who, c.approvals, {capsule: loaded.name, hash: loaded.hash}, s))],
    [
      'svc.spawn',
      tracked(c.actors, 'spawn', (s: ServiceSend) =>
        serveSpawn(
          {
            ledger,
            home: k.home,
            authority,
            gate,
            who,
            capsule: loaded.name,
            tokens: c.tokenIds,
            depth: c.options.depth ?? 0,
            hashOf: (name) => c.installed.get(name)?.hash,
            tree: c.inherited.tree ?? {spawned: 0},
            run: (child) => runSession(k, c.store, {...c.inherited, ...child}),
          },
          s,
        ),
      ),
    ],
  ]);
  try {
    while (queue.length > 0 && activations < MAX_ACTIVATIONS_PER_RUN) {
      if (c.stop.reason !== undefined) {
        failure ??= {code: 'SESSION_ENDED', message: `ended early: ${c.stop.reason}`};
        queue.length = 0;
        break;
      }
      const d = queue.shift() as Delivery;
      const askedBefore = c.options.waitForApprovals === true && c.approvals !== undefined ? new Set(c.approvals.all().filter((x) => x.session === session).map((x) => x.id)) : undefined;
      if (instance === undefined || instance.dead) {
        if (instance !== undefined) {
          // a crashed or exhausted instance is discarded; its replacement starts after a backoff, a bounded number of times
          const restarts = actor.getSnapshot().context.restarts;
          if (restarts >= MAX_RESTARTS) {
            failure ??= {code: 'SANDBOX_RESTART_LIMIT', message: `${loaded.name} was restarted ${restarts} times in this session; not again`};
            queue.length = 0;
            break;
          }
          await new Promise((r) => setTimeout(r, restartBackoffMs(restarts)));
          actor.send({type: 'RESTART'});
        }
        try {
          instance = await CapsuleInstance.create(loaded, ctx);
          actor.send({type: 'LOADED'});
        } catch (e) {
          actor.send({type: 'LOAD_FAILED', code: (e as AstridError).code ?? 'SANDBOX_INSTANCE_FAILED'});
          throw e;
        }
      }
      const fuelRes = book.reserve(scopes, 'fuel', ctx.budget.fuel, true);
      const wallRes = fuelRes.ok ? book.reserve(scopes, 'wall_ms', ctx.budget.wall_ms, true) : fuelRes;
      if (!fuelRes.ok || !wallRes.ok) {
        const x = !fuelRes.ok ? fuelRes : (wallRes as Extract<typeof wallRes, {ok: false}>);
        if (fuelRes.ok) fuelRes.reservation.release();
        failure ??= await exhausted(x.scope, x.axis, x.limit, x.wanted, `has no ${x.axis} left (limit ${x.limit})`);
        break;
      }
      actor.send({type: 'DELIVER', seq: d.seq});
      const started = k.clock.now();
      let r: ActivationResult;
      try {
        r = await instance.activate(d, {fuel: fuelRes.reservation.amount, wall_ms: wallRes.reservation.amount});
      } finally {
        fuelRes.reservation.settle(instance.lastFuelUsed);
        wallRes.reservation.settle(Math.max(0, k.clock.now() - started));
        book.flush(who);
      }
      actor.send({type: 'DONE', outcome: r.outcome});
      activations++;
      fuelUsed += r.fuelUsed;
      c.onActivation?.(r);
      if (r.outcome === 'SANDBOX_FUEL_EXHAUSTED' && fuelRes.reservation.amount < ctx.budget.fuel) {
        // the activation got less than its own budget because a token or the session had no more: that is the budget running out
        const x = scopes.find((sc) => book.remaining(sc, 'fuel') < 1);
        const why = `ran out of fuel (${fuelRes.reservation.amount} was left of the ${ctx.budget.fuel} an activation may use)`;
        failure ??= await exhausted(x?.key ?? `session:${session}`, 'fuel', x?.limits.fuel ?? 0, ctx.budget.fuel, why);
      }
      if (r.outcome !== 'ok') failure ??= {code: r.outcome, message: r.message};
      if (askedBefore !== undefined && c.approvals !== undefined && retries < MAX_APPROVAL_RETRIES) {
        // the activation asked a human: wait for the answers, and deliver the message again if one was yes
        const asked = c.approvals.pending().filter((x) => x.session === session && !askedBefore.has(x.id));
        if (asked.length > 0) {
          for (const x of asked) c.options.onApproval?.({id: x.id, capsule: x.capsule, resource: x.resource, reason: x.reason, expires: x.expires});
          const approved = await waitForAnswers(authority, c.approvals, asked.map((x) => x.id), c.stop, k.clock);
          if (approved && c.stop.reason === undefined) {
            retries++;
            queue.unshift(d);
            if (failure?.code === r.outcome) failure = undefined; // the retry decides
          }
        }
      }
      for (const s of r.sends) {
        const serve = services.get(s.topic);
        if (serve !== undefined) {
          queue.push(await serve(s));
        } else {
          sends.push({topic: s.topic, payload: s.payload});
          c.options.bus?.deliverRecorded({topic: s.topic as Topic, payload: s.payload, from: loaded.name, principal, session, corr: s.corr, seq: s.seq});
        }
      }
    }
    if (queue.length > 0) failure ??= {code: 'QUOTA', message: `more than ${MAX_ACTIVATIONS_PER_RUN} activations in one run`};
  } catch (e) {
    const code = e instanceof AstridError ? e.code : 'SANDBOX_INSTANCE_FAILED';
    failure ??= {code, message: (e as Error).message};
    if (e instanceof AstridError && e.code.startsWith('LEDGER_')) throw e; // cannot record: fail secure, loudly
  } finally {
    actor.send({type: 'STOP'});
    unregister?.();
  }
  for await (const e of ledger.entries({session, kind: 'gate.denied', from: fromSeq})) {
    if (e.entry.kind === 'gate.denied') {
      const b = e.entry.body;
      denials.push({layer: b.layer, rule: b.rule, resource: b.resource, reason: b.reason});
    }
  }
  book.flush(who);
  if (c.sessionToken !== undefined) await authority.revoke(c.sessionToken.id, `session ${session} ended`, who);
  const ended = await ledger.append({kind: 'session.ended', body: {status: failure ? 'error' : 'ok', code: failure?.code ?? ''}, ...who});
  c.options.bus?.deliverRecorded({topic: 'kernel.session.ended' as Topic, payload: {session, status: failure?.code ?? 'ok'}, from: 'kernel', principal, session, corr: '', seq: ended.seq});
  return {
    session,
    principal,
    tokens: c.tokenIds,
    status: failure ? 'error' : 'ok',
    ...(failure ? {code: failure.code, message: failure.message} : {}),
    sends,
    fuelUsed,
    activations,
    denials,
  };
}
