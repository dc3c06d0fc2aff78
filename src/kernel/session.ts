/**
 * One-shot sessions (`astrid run`, in-process until the daemon exists): a principal runs
 * one capsule under explicit grants and a budget. The session delivers one message, lets
 * the capsule work (service effects requested by `send` are performed only once their
 * authorising entry is durable, and their results are delivered back), and ends. Every
 * step is a ledger entry: session.started, bus.message, activation.*, host.call,
 * gate.denied, service.result, session.ended.
 */
import {realpathSync} from 'node:fs';
import {AstridError} from '../errors/index.js';
import {parseResource, type Resource} from '../capabilities/index.js';
import {rebuild, type Ledger} from '../ledger/index.js';
import {isTopic, matches, parseTopic} from '../topics/index.js';
import {
  BUDGET_LIMITS,
  CapsuleInstance,
  GrantGate,
  installedProjection,
  kvProjection,
  pack,
  performFsWrite,
  type ActivationResult,
  type Budget,
  type CapsuleStore,
  type Delivery,
  type LoadedCapsule,
} from '../sandbox/index.js';
import {startCapsuleActor} from '../actors/index.js';
import type {KernelState} from './open.js';
import {randomIds, systemRandom, type IdSource} from './clock.js';

export const MAX_ACTIVATIONS_PER_RUN = 64;

export interface RunOptions {
  readonly capsule: string;
  readonly grants: readonly string[];
  readonly budget?: Partial<Budget>;
  readonly topic?: string;
  readonly input?: unknown;
  readonly principal?: string;
  readonly ids?: IdSource;
  readonly random?: (n: number) => Uint8Array;
  /** Called after each activation (for streaming output). */
  readonly onActivation?: (r: ActivationResult) => void;
}

export interface RunResult {
  readonly session: string;
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

function realOrSelf(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    return p;
  }
}

/** Run one capsule for one message in a fresh session. */
export async function runSession(k: KernelState, store: CapsuleStore, o: RunOptions): Promise<RunResult> {
  const ledger: Ledger = k.ledger;
  const grants: Resource[] = o.grants.map((g) => {
    try {
      return parseResource(g);
    } catch (e) {
      throw new AstridError('INPUT_INVALID', `--grant: ${(e as Error).message}`, {cause: e});
    }
  });
  const installed = (await rebuild(ledger, installedProjection)).state.get(o.capsule);
  if (installed === undefined) throw new AstridError('CAPSULE_NOT_FOUND', `no installed capsule named "${o.capsule}" (see astrid capsule list)`);
  const loaded: LoadedCapsule = await store.load(installed);
  const m = loaded.manifest;
  const budget: Budget = {...m.budget, ...(o.budget ?? {})};
  let topic = o.topic;
  if (topic === undefined) {
    const concrete = m.topics.handles.find((p) => isTopic(p));
    if (concrete === undefined) throw new AstridError('INPUT_INVALID', `${o.capsule} handles ${m.topics.handles.join(', ') || 'nothing'}: give --topic`);
    topic = concrete;
  }
  if (!isTopic(topic)) throw new AstridError('INPUT_INVALID', `--topic: not a valid topic: ${topic}`);
  const t = parseTopic(topic);
  if (!m.topics.handles.some((p) => matches(p, t))) throw new AstridError('INPUT_INVALID', `${o.capsule} does not handle ${topic} (it handles ${m.topics.handles.join(', ')})`);

  const ids = o.ids ?? randomIds;
  const session = ids.next('s');
  const principal = o.principal ?? 'owner';
  const kv = (await rebuild(ledger, kvProjection)).state;
  const gate = new GrantGate({grants, manifest: {resources: m.resources, sends: m.topics.sends}, denyRoots: [...new Set([k.home, realOrSelf(k.home)])]});
  const ctx = {ledger, clock: k.clock, gate, random: o.random ?? systemRandom, kv, session, principal, budget};
  const who = {session, principal, actor: 'kernel'};
  await ledger.append({kind: 'session.started', body: {principal, capsule: loaded.name, hash: loaded.hash, grants: grants.map((g) => g.text), budget}, ...who});
  const first = await ledger.append({kind: 'bus.message', body: {topic, payload: pack(o.input ?? {}), from: 'cli', corr: ''}, ...who, actor: 'cli'});

  const actor = startCapsuleActor(loaded.name);
  const queue: Delivery[] = [{topic, payload: o.input ?? {}, from: 'cli', seq: first.seq}];
  const sends: Array<{topic: string; payload: unknown}> = [];
  const denials: RunResult['denials'][number][] = [];
  let fuelUsed = 0;
  let activations = 0;
  let failure: {code: string; message: string} | undefined;
  let instance: CapsuleInstance | undefined;
  const fromSeq = first.seq;
  try {
    while (queue.length > 0 && activations < MAX_ACTIVATIONS_PER_RUN) {
      const d = queue.shift() as Delivery;
      if (instance === undefined || instance.dead) {
        if (instance !== undefined) actor.send({type: 'RESTART'});
        try {
          instance = await CapsuleInstance.create(loaded, ctx);
          actor.send({type: 'LOADED'});
        } catch (e) {
          actor.send({type: 'LOAD_FAILED', code: (e as AstridError).code ?? 'SANDBOX_INSTANCE_FAILED'});
          throw e;
        }
      }
      actor.send({type: 'DELIVER', seq: d.seq});
      const r = await instance.activate(d);
      actor.send({type: 'DONE', outcome: r.outcome});
      activations++;
      fuelUsed += r.fuelUsed;
      o.onActivation?.(r);
      if (r.outcome !== 'ok') failure ??= {code: r.outcome, message: r.message};
      for (const s of r.sends) {
        if (s.topic === 'svc.fs.write') {
          const p = s.payload as {path: string; data: Uint8Array};
          const done = performFsWrite({gate, capsule: loaded.name, principal, session}, p.path, p.data);
          const result = done.ok ? {ok: true, path: p.path, bytes: done.bytes} : {ok: false, path: p.path, code: done.code};
          if (!done.ok && done.denial !== undefined) {
            // refused when performed (e.g. a parent swapped for a symlink since the send): a denial like any other
            const d = done.denial;
            const body = {code: 'GATE_DENIED', layer: d.layer, rule: d.rule.slice(0, 256), resource: `fs.write:${p.path}`.slice(0, 1024), reason: d.reason.slice(0, 1024), capsule: loaded.name} as const;
            await ledger.append({kind: 'gate.denied', body, ...who, actor: 'svc.fs'});
          }
          await ledger.append({
            kind: 'service.result',
            body: {service: 'fs.write', cause: s.seq, ok: done.ok, code: done.ok ? '' : done.code, detail: done.ok ? `${done.bytes} bytes` : done.reason.slice(0, 4096)},
            ...who,
            actor: 'svc.fs',
          });
          const res = await ledger.append({kind: 'bus.message', body: {topic: 'svc.fs.write.result', payload: pack(result), from: 'svc.fs', corr: s.corr}, ...who, actor: 'svc.fs'});
          queue.push({topic: 'svc.fs.write.result', payload: result, from: 'svc.fs', seq: res.seq, ...(s.corr ? {corr: s.corr} : {})});
        } else {
          sends.push({topic: s.topic, payload: s.payload});
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
  }
  for await (const e of ledger.entries({session, kind: 'gate.denied', from: fromSeq})) {
    if (e.entry.kind === 'gate.denied') {
      const b = e.entry.body;
      denials.push({layer: b.layer, rule: b.rule, resource: b.resource, reason: b.reason});
    }
  }
  await ledger.append({kind: 'session.ended', body: {status: failure ? 'error' : 'ok', code: failure?.code ?? ''}, ...who});
  return {
    session,
    status: failure ? 'error' : 'ok',
    ...(failure ? {code: failure.code, message: failure.message} : {}),
    sends,
    fuelUsed,
    activations,
    denials,
  };
}
