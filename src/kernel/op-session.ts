/**
 * Session operations: `astrid run` (a session in the runtime it reaches: the daemon's when
 * one runs, else a one-shot kernel), `astrid sessions`, `session show`, `session end`.
 */
import {Type} from '@sinclair/typebox';
import {AstridError} from '../errors/index.js';
import {defineOp} from './op.js';
import {runSession, parseBudgetFlag, type RunResult} from './session.js';
import {parseTokenBudget} from './op-authority.js';
import {payloadJson} from './views.js';
import type {SessionRecord} from './sessions.js';
import type {KernelRuntime} from './runtime.js';

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
        budget: Type.Optional(Str(1024)),
        topic: Type.Optional(Str(256)),
        input: Type.Optional(Str(1 << 20)),
      },
      closed,
    ),
    async run(rt, f, io): Promise<RunView> {
      let input: unknown = {};
      if (f.input !== undefined) {
        try {
          input = JSON.parse(f.input);
        } catch (e) {
          throw new AstridError('INPUT_INVALID', `--input is not valid JSON: ${(e as Error).message}`);
        }
      }
      const budget = f.budget === undefined ? undefined : parseBudgetFlag(f.budget);
      let done: (() => void) | undefined;
      const ended = new Promise<void>((r) => (done = r));
      let id: string | undefined;
      try {
        const r = await runSession(rt.k, rt.store(), {
          capsule: f.capsule,
          grants: f.grants,
          tokens: f.tokens,
          ...(f.sessionBudget === undefined ? {} : {sessionBudget: parseTokenBudget(f.sessionBudget, ['fuel', 'wall_ms', 'messages', 'egress_bytes'])}),
          ...(f.ask ? {ask: true, approvals: await rt.approvals()} : {}),
          input,
          ...(budget === undefined ? {} : {budget}),
          ...(f.topic === undefined ? {} : {topic: f.topic}),
          onStart: (session, principal, end) => {
            id = session;
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
          onActivation: (a) =>
            io.event({type: 'activation', outcome: a.outcome, fuelUsed: a.fuelUsed, sends: a.sends.map((s) => ({topic: s.topic, payload: payloadJson(s.payload)}))}),
        });
        // byte strings in payloads as base64, for the terminal and for --json alike
        return {...r, sends: r.sends.map((s) => ({topic: s.topic, payload: payloadJson(s.payload)})), where: rt.daemon ? 'daemon' : 'in-process'};
      } finally {
        if (id !== undefined) rt.live.delete(id);
        done?.();
      }
    },
  }),

  /** Every session the ledger knows, newest first (running ones marked live when this kernel runs them). */
  'session.list': defineOp({
    mode: 'read',
    args: Type.Object({all: Type.Boolean()}, closed),
    async run(rt, {all}): Promise<SessionView[]> {
      const out = [...(await rt.sessions.current()).values()].filter((s) => all || s.status === 'running').sort((a, b) => b.startedSeq - a.startedSeq);
      return out.map((s) => ({...s, live: rt.live.has(s.id)}));
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
      }
      return sessionView(rt, id);
    },
  }),
};
