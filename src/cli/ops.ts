/**
 * What each command asks of the kernel. Every function here goes through `invoke`: to the
 * daemon when one runs for the home (it is then the ledger's only writer), else to a
 * one-shot kernel in this process. Paths are made absolute here, where the user's working
 * directory is known.
 */
import {resolve} from 'node:path';
import {invoke, type ChannelCall, type EntryView, type WatchResult, type SessionView, type TokenView, type ApprovalView, type AttenuateFlags, type GrantFlags, type ShowQuery, type StreamHooks} from '../kernel/index.js';

type Progress = (done: number, total: number) => void;
const progressOnly = (p?: Progress): StreamHooks => (p === undefined ? {} : {progress: (d, t) => p(d, t)});

export const auditNote = (home: string, text: string, session?: string) => invoke(home, 'audit.note', {text, ...(session === undefined ? {} : {session})});
/** Run a listing operation, collecting the items it streams (a list may be larger than one frame). */
async function listOf<T>(run: (hooks: {event: (e: Record<string, unknown>) => void}) => Promise<unknown>): Promise<T[]> {
  const out: T[] = [];
  await run({
    event: (e) => {
      if (e.type === 'items' && Array.isArray(e.items)) out.push(...(e.items as T[]));
    },
  });
  return out;
}

/** Entries matching the query, oldest first. */
export const auditShow = (home: string, q: ShowQuery) => listOf<EntryView>((h) => invoke(home, 'audit.show', q, h));
export const auditVerify = (home: string, onProgress?: Progress) => invoke(home, 'audit.verify', {}, progressOnly(onProgress));
export const auditReindex = (home: string, onProgress?: Progress) => invoke(home, 'audit.reindex', {}, progressOnly(onProgress));
export const auditExport = (home: string, out: string, onProgress?: Progress) => invoke(home, 'audit.export', {out: resolve(out)}, progressOnly(onProgress));

export const capsuleInstall = (home: string, dir: string, onProgress?: (step: string, done: number, total: number) => void) =>
  invoke(home, 'capsule.install', {dir: resolve(dir)}, onProgress === undefined ? {} : {progress: (d, t, s) => onProgress(s ?? '', d, t)});
export const capsuleList = (home: string) => invoke(home, 'capsule.list', {});
export const capsuleInspect = (home: string, name: string) => invoke(home, 'capsule.inspect', {name});
export const capsuleRemove = (home: string, name: string) => invoke(home, 'capsule.remove', {name});

export const principalCreate = (home: string, name: string, role: 'user' | 'agent') => invoke(home, 'principal.create', {name, role});
export const principalList = (home: string) => invoke(home, 'principal.list', {});
export const grantIssue = (home: string, f: GrantFlags) => {
  const {caveats, resources, ...rest} = f;
  return invoke(home, 'grant.issue', {...rest, resources: [...resources], ...(caveats ? {caveats: [...caveats]} : {})});
};
export const grantList = (home: string, principal?: string) => listOf<TokenView>((h) => invoke(home, 'grant.list', principal === undefined ? {} : {principal}, h));
export const tokenShow = (home: string, id: string) => invoke(home, 'token.show', {id});
export const tokenAttenuate = (home: string, f: AttenuateFlags) => {
  const {caveats, resources, ...rest} = f;
  return invoke(home, 'token.attenuate', {...rest, ...(resources ? {resources: [...resources]} : {}), ...(caveats ? {caveats: [...caveats]} : {})});
};
export const tokenRevoke = (home: string, id: string, reason: string) => invoke(home, 'token.revoke', {id, reason});
export const approvalsList = (home: string, all: boolean) => listOf<ApprovalView>((h) => invoke(home, 'approval.list', {all}, h));
export const approvalAnswer = (home: string, id: string, answer: 'approved' | 'denied', scope: 'once' | 'session' | 'always' | undefined, reason: string | undefined): Promise<ApprovalView> =>
  invoke(home, 'approval.answer', {id, answer, ...(scope === undefined ? {} : {scope}), ...(reason === undefined ? {} : {reason})});

export interface RunFlags {
  readonly capsule: string;
  readonly grants: readonly string[];
  readonly tokens?: readonly string[];
  readonly sessionBudget?: string;
  readonly ask?: boolean;
  /** With ask: wait for answers to the session's approval requests, then deliver the message again. */
  readonly wait?: boolean;
  readonly budget?: string;
  readonly topic?: string;
  readonly input?: string;
}

/** `astrid run`: a session in the daemon when one runs, else in this process; events arrive as they happen. */
export const runCapsule = (home: string, f: RunFlags, onEvent?: (e: Record<string, unknown>, call: ChannelCall) => void) =>
  invoke(
    home,
    'session.run',
    {
      capsule: f.capsule,
      grants: [...f.grants],
      tokens: [...(f.tokens ?? [])],
      ask: f.ask === true,
      ...(f.wait === true ? {wait: true} : {}),
      ...(f.sessionBudget === undefined ? {} : {sessionBudget: f.sessionBudget}),
      ...(f.budget === undefined ? {} : {budget: f.budget}),
      ...(f.topic === undefined ? {} : {topic: f.topic}),
      ...(f.input === undefined ? {} : {input: f.input}),
    },
    onEvent === undefined ? {} : {event: onEvent},
  );

export const sessionList = (home: string, all: boolean) => listOf<SessionView>((h) => invoke(home, 'session.list', {all}, h));
export const sessionShow = (home: string, id: string) => invoke(home, 'session.show', {id});
export const sessionEnd = (home: string, id: string, reason: string) => invoke(home, 'session.end', {id, reason});
export const actorInspect = (home: string, id?: string) => invoke(home, 'actor.inspect', id === undefined ? {} : {id});
/** Watch the kernel bus; with `collect`, the messages are also kept here and returned (for --json). */
export const busWatch = async (
  home: string,
  a: {patterns: string[]; limit?: number; timeoutMs?: number; collect?: boolean},
  onEvent: (e: Record<string, unknown>) => void,
): Promise<WatchResult & {messages: Array<Record<string, unknown>>}> => {
  const messages: Array<Record<string, unknown>> = [];
  const {collect, ...args} = a;
  const r = await invoke(home, 'bus.watch', args, {
    event: (e) => {
      if (collect === true && e.type === 'message') messages.push(e);
      onEvent(e);
    },
  });
  return {...r, messages};
};
