/**
 * Session operations: `astrid run` (a session in the runtime it reaches: the daemon's when
 * one runs, else a one-shot kernel), `astrid sessions`, `session show`, `session end`.
 */
import {Type} from '@sinclair/typebox';
import {AstridError} from '../errors/index.js';
import {defineOp, streamItems} from './op.js';
import {runSession, parseBudgetFlag, checkGrants, type RunResult} from './session.js';
import {isTopic, parsePattern} from '../topics/index.js';
import {parseTokenBudget} from './op-authority.js';
import {payloadJson} from './views.js';
import type {SessionRecord} from './sessions.js';
import type {KernelRuntime} from './runtime.js';
import {startSessionActor, type ActorView} from '../actors/index.js';

const Str = (max: number) => Type.String({maxLength: max});
const closed = {additionalProperties: false} as const;

export interface SessionView extends SessionRecord {
  /** Running in this kernel right now (false for a session a crash or restart interrupted). */
  readonly live: boolean;
}

async function sessionView(rt: KernelRuntime, id: string): Promise<SessionView> {
  const rec = (await rt.sessions.current()).get(id);
  if (rec === undefined) throw new AstridError('SESSION_NOT_FOUND', `no session ${id.slice(0, 128)} (astrid sessions)`);
  return {...rec, live: rt.live.has(id)};
}

const SESSION_AXES = ['fuel', 'wall_ms', 'messages', 'egress_bytes'];

function parseInput(text: string | undefined): unknown {
  if (text === undefined) return {};
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new AstridError('INPUT_INVALID', `--input is not valid JSON: ${(e as Error).message}`);
  }
}

export interface RunView extends RunResult {
  /** Where the session ran: in the daemon, or in this process. */
  readonly where: 'daemon' | 'in-process';
}

export const sessionOps = {
  /** Run an installed capsule for one message in a fresh session, streaming its activations. */
  'session.run': defineOp({
    mode: 'write',
    args: Type.Object(
      {
        capsule: Str(128),
        grants: Type.Array(Str(4200), {maxItems: 256}),
        tokens: Type.Array(Str(64), {maxItems: 64}),
        sessionBudget: Type.Optional(Str(1024)),
        ask: Type.Boolean(),
        wait: Type.Optional(Type.Boolean()),
        budget: Type.Optional(Str(1024)),
        topic: Type.Optional(Str(256)),
        input: Type.Optional(Str(1 << 20)),
      },
      closed,
    ),
    precheck(f) {
      parseInput(f.input);
      if (f.budget !== undefined) parseBudgetFlag(f.budget);
      if (f.sessionBudget !== undefined) parseTokenBudget(f.sessionBudget, SESSION_AXES);
      checkGrants(f.grants);
      if (f.topic !== undefined && !isTopic(f.topic)) throw new AstridError('INPUT_INVALID', `--topic: not a valid topic: ${f.topic}`);
    },
    async run(rt, f, io): Promise<RunView> {
      const input = parseInput(f.input);
      const budget = f.budget === undefined ? undefined : parseBudgetFlag(f.budget);
      let done: (() => void) | undefined;
      const ended = new Promise<void>((r) => (done = r));
      let id: string | undefined;
      let principalName = '';
      let sessionActor: ReturnType<typeof startSessionActor> | undefined;
      let unregister: (() => void) | undefined;
      await rt.buildActors();
      try {
        const r = await runSession(rt.k, rt.store(), {
          capsule: f.capsule,
          grants: f.grants,
          tokens: f.tokens,
          ...(f.sessionBudget === undefined ? {} : {sessionBudget: parseTokenBudget(f.sessionBudget, SESSION_AXES)}),
          ...(f.ask ? {ask: true, approvals: await rt.approvals()} : {}),
          ...(f.ask && f.wait === true ? {waitForApprovals: true, onApproval: (a) => io.event({type: 'approval', ...a})} : {}),
          input,
          quotas: rt.quotas(),
          bus: rt.bus(),
          installed: await rt.installed.current(),
          kv: await rt.kvState(),
          ...(budget === undefined ? {} : {budget}),
          ...(f.topic === undefined ? {} : {topic: f.topic}),
          actors: rt.actors,
          onStart: (session, principal, end) => {
            id = session;
            principalName = principal;
            sessionActor = startSessionActor({id: session, principal, capsule: f.capsule});
            sessionActor.send({type: 'RUN'});
            unregister = rt.actors.add(`session:${session}`, 'session', sessionActor);
            void rt.principalActor(principal).then((p) => p.send({type: 'SESSION_STARTED', session}));
            rt.live.set(session, {
              id: session,
              capsule: f.capsule,
              principal,
              startedAt: rt.k.clock.now(),
              end: async (reason) => {
                end(reason);
                await ended;
              },
            });
            io.event({type: 'session.started', session, principal, where: rt.daemon ? 'daemon' : 'in-process'});
          },
          onActivation: (a) => {
            sessionActor?.send({type: 'ACTIVATED', outcome: a.outcome, fuel: a.fuelUsed});
            io.event({type: 'activation', outcome: a.outcome, fuelUsed: a.fuelUsed, sends: a.sends.map((s) => ({topic: s.topic, payload: payloadJson(s.payload)}))});
          },
        });
        sessionActor?.send({type: 'END', status: r.status, code: r.code ?? ''});
        // byte strings in payloads as base64, for the terminal and for --json alike
        return {...r, sends: r.sends.map((s) => ({topic: s.topic, payload: payloadJson(s.payload)})), where: rt.daemon ? 'daemon' : 'in-process'};
      } finally {
        if (id !== undefined) {
          rt.live.delete(id);
          const sid = id;
          void rt.principalActor(principalName).then((p) => p.send({type: 'SESSION_ENDED', session: sid}));
        }
        unregister?.();
        done?.();
      }
    },
  }),

  /** Every session the ledger knows, newest first (running ones marked live when this kernel runs them). */
  'session.list': defineOp({
    mode: 'read',
    args: Type.Object({all: Type.Boolean()}, closed),
    async run(rt, {all}, io): Promise<{count: number}> {
      const out = [...(await rt.sessions.current()).values()].filter((s) => all || s.status === 'running').sort((a, b) => b.startedSeq - a.startedSeq);
      return streamItems(io, out.map((s): SessionView => ({...s, live: rt.live.has(s.id)})));
    },
  }),

  /** One session. */
  'session.show': defineOp({
    mode: 'read',
    args: Type.Object({id: Str(128)}, closed),
    run: (rt, {id}) => sessionView(rt, id),
  }),

  /**
   * End a session: a live one stops after its current activation; one left running by a
   * crash or restart is closed in the ledger (session.ended, SESSION_ENDED).
   */
  'session.end': defineOp({
    mode: 'write',
    args: Type.Object({id: Str(128), reason: Str(1024)}, closed),
    async run(rt, {id, reason}): Promise<SessionView> {
      const v = await sessionView(rt, id);
      if (v.status !== 'running') throw new AstridError('SESSION_NOT_RUNNING', `session ${id} already ended (${v.status}${v.code ? ` ${v.code}` : ''})`);
      const live = rt.live.get(id);
      if (live !== undefined) await live.end(reason || 'ended by the owner');
      else {
        const a = await rt.authority();
        // its session-only token dies with it
        for (const t of v.grants) if (a.state.tokens.get(t)?.via === `session:${id}` && !a.state.revoked.has(t)) await a.revoke(t, `session ${id} ended`, {session: id, principal: v.principal, actor: 'kernel'});
        await rt.k.ledger.append({kind: 'session.ended', body: {status: 'error', code: 'SESSION_ENDED'}, session: id, principal: v.principal, actor: 'kernel'});
        await rt.buildActors();
        rt.actors.get(`session:${id}`)?.send({type: 'END', status: 'error', code: 'SESSION_ENDED'});
        rt.actors.get(`principal:${v.principal}`)?.send({type: 'SESSION_ENDED', session: id});
      }
      return sessionView(rt, id);
    },
  }),
};

export const actorOps = {
  /** Every live actor (principals, running sessions, capsules in sessions, pending approvals), or one by id. */
  'actor.inspect': defineOp({
    mode: 'read',
    args: Type.Object({id: Type.Optional(Str(256))}, closed),
    async run(rt, {id}): Promise<ActorView[]> {
      await rt.buildActors();
      for (const p of (await rt.authority()).state.principals.values()) await rt.principalActor(p.name); // principals created since boot
      const approvals = await rt.approvals();
      const now = rt.k.clock.now();
      const views: ActorView[] = rt.actors.ids().map((x) => rt.actors.view(x) as ActorView);
      for (const p of approvals.pending(now)) {
        const a = approvals.actor(p.id);
        views.push({id: `approval:${p.id}`, kind: 'approval', state: a === undefined ? 'pending' : String(a.getSnapshot().value), context: {session: p.session, principal: p.principal, capsule: p.capsule, resource: p.resource, expires: p.expires}});
      }
      if (id === undefined) return views;
      const one = views.filter((v) => v.id === id);
      if (one.length === 0) throw new AstridError('ACTOR_NOT_FOUND', `no live actor ${id.slice(0, 256)} (astrid inspect actor lists them)`);
      return one;
    },
  }),
};

export interface WatchResult {
  readonly count: number;
  readonly reason: 'limit' | 'timeout' | 'gone' | 'stopping';
}

export const busOps = {
  /**
   * Watch the kernel bus: every capsule message and session event matching the patterns, as
   * it is delivered (each one already recorded and durable), streamed to the caller until
   * `limit` messages, `timeoutMs`, or the caller goes. Only a daemon has sessions to watch.
   */
  'bus.watch': defineOp({
    mode: 'read',
    daemonOnly: true,
    args: Type.Object(
      {
        patterns: Type.Array(Str(256), {minItems: 1, maxItems: 16}),
        limit: Type.Optional(Type.Integer({minimum: 1, maximum: 100_000})),
        timeoutMs: Type.Optional(Type.Integer({minimum: 1, maximum: 24 * 3600_000})),
      },
      closed,
    ),
    precheck(a) {
      for (const p of a.patterns) {
        try {
          parsePattern(p);
        } catch (e) {
          throw new AstridError('INPUT_INVALID', `pattern ${JSON.stringify(p.slice(0, 64))}: ${(e as Error).message}`);
        }
      }
    },
    async run(rt, a, io): Promise<WatchResult> {
      const bus = rt.bus();
      let count = 0;
      let finish: (reason: WatchResult['reason']) => void = () => undefined;
      const done = new Promise<WatchResult['reason']>((r) => (finish = r));
      const subs = a.patterns.map((p) =>
        bus.subscribe(p, 'uplink').subscribe({
          next: (m) => {
            if (count >= (a.limit ?? Infinity)) return;
            count++;
            const view = {topic: m.topic, from: m.from, session: m.session, principal: m.principal, seq: m.seq, payload: payloadJson(m.payload)};
            io.event({type: 'message', ...view}); // a caller that does not keep up is cut off by the daemon's unread limit
            if (count >= (a.limit ?? Infinity)) finish('limit');
          },
          complete: () => finish('stopping'),
        }),
      );
      const timer = a.timeoutMs === undefined ? undefined : setTimeout(() => finish('timeout'), a.timeoutMs);
      void io.gone.then(() => finish('gone'));
      try {
        const reason = await done;
        return {count, reason};
      } finally {
        if (timer !== undefined) clearTimeout(timer);
        for (const s of subs) s.unsubscribe();
      }
    },
  }),
};
