/**
 * A service request sent by a capsule, served by the kernel: the effect is performed (its
 * authorising message is already durable), its outcome recorded as a `service.result` entry,
 * and the result sent back to the capsule as a `bus.message` on the service's result topic,
 * which is then delivered. The one-shot session and (later) the daemon call these.
 */
import type {HttpResponse} from '../bus/index.js';
import type {Ledger} from '../ledger/index.js';
import {pack, performFsWrite, type Delivery} from '../sandbox/index.js';
import {HTTP_RESPONSE_TOPIC, performHttp, type HttpDeps, type HttpOutcome} from './http.js';

/** Who the entries are written as (the session and principal of the request). */
export interface ServeWho {
  readonly session: string;
  readonly principal: string;
}

/** The capsule's message that asked for the service. */
export interface ServiceSend {
  readonly seq: number;
  readonly payload: unknown;
  readonly corr: string;
}

/** What a capsule is told: never a reason (it could carry what the gate saw), never a request header. */
export function httpResponse(o: HttpOutcome): HttpResponse {
  if (o.ok) return {ok: true, status: o.status, headers: {...o.headers}, body: o.body, url: o.url};
  return o.url === '' ? {ok: false, code: o.code} : {ok: false, code: o.code, url: o.url};
}

/**
 * Serve one `svc.http.request`: perform it, record `service.result` (service `http`, cause
 * the request's seq), and record and return the `svc.http.response` delivery.
 * @throws AstridError LEDGER_* when the ledger refuses the record (the caller fails loudly).
 */
export async function serveHttpRequest(ledger: Ledger, who: ServeWho, deps: Omit<HttpDeps, 'durable'>, send: ServiceSend): Promise<Delivery> {
  const out = await performHttp({...deps, durable: () => ledger.flush()}, send.payload);
  const actor = {...who, actor: 'svc.http'};
  const detail = out.ok ? `${out.status} from ${out.url}: ${out.body.length} bytes after ${out.hops} redirect(s)` : `${out.reason}${out.url === '' ? '' : ` (${out.url})`}`;
  await ledger.append({kind: 'service.result', body: {service: 'http', cause: send.seq, ok: out.ok, code: out.ok ? '' : out.code, detail: detail.slice(0, 4096)}, ...actor});
  const result = httpResponse(out);
  const res = await ledger.append({kind: 'bus.message', body: {topic: HTTP_RESPONSE_TOPIC, payload: pack(result), from: 'svc.http', corr: send.corr}, ...actor});
  return {topic: HTTP_RESPONSE_TOPIC, payload: result, from: 'svc.http', seq: res.seq, ...(send.corr ? {corr: send.corr} : {})};
}

/** The topic of a capsule's fs.write request, and of its result. */
export const FS_WRITE_TOPIC = 'svc.fs.write';
export const FS_WRITE_RESULT_TOPIC = 'svc.fs.write.result';

/**
 * Serve one `svc.fs.write` {path, data} (its payload checked by the sandbox when sent):
 * perform it, confined again now that it happens; a refusal at this point (e.g. a parent
 * swapped for a symlink since the send) is recorded as a `gate.denied` like any other;
 * record `service.result` (service `fs.write`), and record and return the
 * `svc.fs.write.result` delivery.
 * @throws AstridError LEDGER_* when the ledger refuses the record (the caller fails loudly).
 */
export async function serveFsWrite(ledger: Ledger, who: ServeWho, ctx: Parameters<typeof performFsWrite>[0], send: ServiceSend): Promise<Delivery> {
  const p = send.payload as {path: string; data: Uint8Array};
  const actor = {...who, actor: 'svc.fs'};
  const done = performFsWrite(ctx, p.path, p.data);
  const result = done.ok ? {ok: true, path: p.path, bytes: done.bytes} : {ok: false, path: p.path, code: done.code};
  if (!done.ok && done.denial !== undefined) {
    const d = done.denial;
    const body = {code: 'GATE_DENIED', layer: d.layer, rule: d.rule.slice(0, 256), resource: `fs.write:${p.path}`.slice(0, 1024), reason: d.reason.slice(0, 1024), capsule: ctx.capsule} as const;
    await ledger.append({kind: 'gate.denied', body, ...actor});
  }
  await ledger.append({
    kind: 'service.result',
    body: {service: 'fs.write', cause: send.seq, ok: done.ok, code: done.ok ? '' : done.code, detail: done.ok ? `${done.bytes} bytes` : done.reason.slice(0, 4096)},
    ...actor,
  });
  const res = await ledger.append({kind: 'bus.message', body: {topic: FS_WRITE_RESULT_TOPIC, payload: pack(result), from: 'svc.fs', corr: send.corr}, ...actor});
  return {topic: FS_WRITE_RESULT_TOPIC, payload: result, from: 'svc.fs', seq: res.seq, ...(send.corr ? {corr: send.corr} : {})};
}
