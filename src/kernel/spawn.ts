/**
 * The spawn service (`svc.spawn`): a capsule starts a child capsule in a child session, under
 * a token attenuated from one of its own session's tokens. The child gets at most the
 * resources it asks for, which must be inside that token's (and the budget inside its
 * budget): never wider. Spawning is a resource like any other (`spawn:<capsule>`, checked by
 * the gate: manifest bound, token, budget, approval). The child's spending is charged to its
 * whole chain, so it comes out of the parent's budget; revoking the parent's token (as the
 * parent session does when it ends) revokes the child's. Depth is bounded, and so is breadth:
 * a whole tree of sessions starts at most MAX_SPAWNS_PER_TREE children.
 */
import {AstridError} from '../errors/index.js';
import {checkPayload} from '../bus/index.js';
import {parseTopic} from '../topics/index.js';
import {pack, type Delivery} from '../sandbox/index.js';
import {parseTokenId, type Authority, type Gate, type Token} from '../capabilities/index.js';
import type {Ledger} from '../ledger/index.js';
import {principalKey} from './authority.js';

/** What the spawn service asks of the session runner for a child. */
export interface ChildRun {
  readonly capsule: string;
  readonly grants: readonly string[];
  readonly tokens: readonly string[];
  readonly topic: string;
  readonly input: unknown;
  readonly depth: number;
}

/** What it needs back. */
export interface ChildResult {
  readonly session: string;
  readonly status: 'ok' | 'error';
  readonly code?: string;
  readonly sends: ReadonlyArray<{readonly topic: string; readonly payload: unknown}>;
}

/** How deep spawns may nest (a capsule spawning a capsule spawning ...). */
export const MAX_SPAWN_DEPTH = 4;
/** How many children one session tree (a session started by a user and all its descendants) may start. */
export const MAX_SPAWNS_PER_TREE = 32;
/** Child sends passed back to the parent (the rest are in the ledger). */
const MAX_CHILD_SENDS = 16;
const MAX_CHILD_SEND_BYTES = 32 * 1024;

export interface SpawnContext {
  readonly ledger: Ledger;
  readonly home: string;
  readonly authority: Authority;
  readonly gate: Gate;
  readonly who: {readonly session: string; readonly principal: string; readonly actor: string};
  readonly capsule: string;
  /** The tokens the parent session runs under (ids). */
  readonly tokens: readonly string[];
  readonly depth: number;
  /** The installed module hash of a capsule (undefined when none is installed by that name). */
  hashOf(name: string): string | undefined;
  /** Children started so far by the whole session tree (shared by a root session and all its descendants). */
  readonly tree: {spawned: number};
  /** Run the child session (runSession with the parent's kernel, store, quotas...). */
  run(o: ChildRun): Promise<ChildResult>;
}

type Outcome = {ok: true; session: string; token: string; result: ChildResult} | {ok: false; code: string; reason: string};

async function perform(c: SpawnContext, payload: unknown): Promise<Outcome> {
  const v = checkPayload(parseTopic('svc.spawn'), payload);
  if (!v.ok) return {ok: false, code: 'SPAWN_INVALID', reason: v.reason};
  const p = payload as {capsule: string; topic: string; input?: unknown; resources: string[]; budget?: Record<string, number>};
  if (c.depth >= MAX_SPAWN_DEPTH) return {ok: false, code: 'SPAWN_TOO_DEEP', reason: `spawns nest at most ${MAX_SPAWN_DEPTH} deep`};
  if (c.tree.spawned >= MAX_SPAWNS_PER_TREE) return {ok: false, code: 'SPAWN_LIMIT', reason: `a session and its descendants start at most ${MAX_SPAWNS_PER_TREE} children`};
  // the target names the installed module too, so a grant may pin it (spawn:blake3:<hex>)
  const hash = c.hashOf(p.capsule);
  const d = c.gate.check({capsule: c.capsule, principal: c.who.principal, session: c.who.session, type: 'spawn', value: hash === undefined ? p.capsule : `${p.capsule}@blake3:${hash}`});
  if (!d.allow) return {ok: false, code: 'GATE_DENIED', reason: `${d.layer}/${d.rule}: ${d.reason}`};
  // attenuate from the first of the session's tokens the child fits inside
  let child: Token | undefined;
  let last = 'the session runs under no token to attenuate';
  for (const id of c.tokens) {
    const parent = c.authority.token(parseTokenId(id));
    if (parent === undefined) continue;
    try {
      child = await c.authority.attenuate(
        principalKey(c.home, parent.subject),
        {parent: parseTokenId(id), to: parent.subject, resources: p.resources, ...(p.budget === undefined ? {} : {budget: p.budget})},
        {session: c.who.session, principal: c.who.principal, actor: 'svc.spawn'},
      );
      break;
    } catch (e) {
      last = e instanceof AstridError ? `${e.code}: ${e.message}` : String(e);
    }
  }
  if (child === undefined) return {ok: false, code: 'TOKEN_WIDENED', reason: `no token of this session can be narrowed to that: ${last}`};
  c.tree.spawned++;
  try {
    const result = await c.run({capsule: p.capsule, grants: [], tokens: [child.id], topic: p.topic, input: p.input ?? {}, depth: c.depth + 1});
    return {ok: true, session: result.session, token: child.id, result};
  } catch (e) {
    return {ok: false, code: e instanceof AstridError ? e.code : 'SPAWN_FAILED', reason: (e as Error).message};
  } finally {
    // the child's token lives as long as the child session, whatever the parent runs under
    await c.authority.revoke(child.id, 'child session ended', {session: c.who.session, principal: c.who.principal, actor: 'svc.spawn'}).catch(() => undefined);
  }
}

/** Serve one `svc.spawn` send: run the child, record the outcome, deliver `svc.spawn.result` to the caller. */
export async function serveSpawn(c: SpawnContext, send: {readonly seq: number; readonly payload: unknown; readonly corr: string}): Promise<Delivery> {
  const out = await perform(c, send.payload);
  const name = typeof (send.payload as {capsule?: unknown} | null)?.capsule === 'string' ? ((send.payload as {capsule: string}).capsule.slice(0, 64)) : '';
  const actor = {...c.who, actor: 'svc.spawn'};
  const detail = out.ok ? `child session ${out.session} under ${out.token}: ${out.result.status}${out.result.code ? ` ${out.result.code}` : ''}` : out.reason;
  await c.ledger.append({kind: 'service.result', body: {service: 'spawn', cause: send.seq, ok: out.ok && out.result.status === 'ok', code: out.ok ? (out.result.code ?? '') : out.code, detail: detail.slice(0, 4096)}, ...actor});
  let result: Record<string, unknown>;
  if (out.ok) {
    const sends: Array<{topic: string; payload: unknown}> = [];
    let bytes = 0;
    for (const s of out.result.sends.slice(0, MAX_CHILD_SENDS)) {
      bytes += pack(s.payload).length;
      if (bytes > MAX_CHILD_SEND_BYTES) break;
      sends.push({topic: s.topic, payload: s.payload});
    }
    result = {ok: out.result.status === 'ok', capsule: name, session: out.session, token: out.token, status: out.result.status, ...(out.result.code ? {code: out.result.code} : {}), sends};
  } else result = {ok: false, capsule: name, code: out.code};
  const res = await c.ledger.append({kind: 'bus.message', body: {topic: 'svc.spawn.result', payload: pack(result), from: 'svc.spawn', corr: send.corr}, ...actor});
  return {topic: 'svc.spawn.result', payload: result, from: 'svc.spawn', seq: res.seq, ...(send.corr ? {corr: send.corr} : {})};
}
