/**
 * Run an operation where it belongs: in the home's daemon when one is running (it is then
 * the ledger's only writer), else in a one-shot kernel opened for this call. Both ways
 * check the arguments against the same schema, run the same body and hand back the same
 * plain data, so a command behaves the same with or without a daemon.
 */
import {AstridError} from '../errors/index.js';
import {DaemonClient, type ChannelCall, type StreamHooks} from './client.js';
import {checkedOp, type OpArgs, type OpName, type OpResult} from './ops.js';
import {openKernelState} from './open.js';
import {KernelRuntime} from './runtime.js';
import type {OpIO} from './op.js';

/**
 * Plain data as it crosses the socket: keys whose value is undefined are dropped (as JSON
 * drops them), undefined in an array becomes null, Maps become objects, Sets arrays. Keys are
 * copied as data: a `__proto__` key is a key of the copy (which a closed argument schema then
 * refuses), never its prototype.
 */
export function plain(v: unknown, depth = 0): unknown {
  if (depth > 64) throw new AstridError('INTERNAL', 'result nested too deeply');
  if (v === undefined) return null;
  if (v === null || typeof v !== 'object') return typeof v === 'function' || typeof v === 'symbol' ? null : v;
  if (v instanceof Uint8Array) return v;
  if (Array.isArray(v)) return v.map((x) => plain(x, depth + 1));
  if (v instanceof Map) return plain(Object.fromEntries(v), depth + 1);
  if (v instanceof Set) return plain([...v], depth + 1);
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) {
    // defined, not assigned: an own `__proto__` key (JSON.parse makes them) stays a key and never becomes the prototype
    if (x !== undefined && typeof x !== 'function') Object.defineProperty(out, k, {value: plain(x, depth + 1), enumerable: true, writable: true, configurable: true});
  }
  return out;
}

/** The OpIO for a call made in this process; `call` runs another operation on the same runtime. */
export function localIO(hooks: StreamHooks, call: ChannelCall, via: OpIO['via'] = 'cli'): OpIO {
  return {
    via,
    gone: new Promise<void>(() => undefined), // the caller is this process: it is gone only when it exits
    drain: () => Promise.resolve(),
    progress: (d, t, step) => hooks.progress?.(d, t, step),
    event: (e) => hooks.event?.(plain(e) as Record<string, unknown>, call),
  };
}

/** Run an operation in a one-shot kernel in this process. @throws AstridError DAEMON_NOT_RUNNING for daemon-only operations. */
export async function invokeLocal<N extends OpName>(home: string, name: N, args: OpArgs<N>, hooks: StreamHooks = {}): Promise<OpResult<N>> {
  const {spec, args: checked} = checkedOp(name, plain(args));
  if (spec.daemonOnly === true) throw new AstridError('DAEMON_NOT_RUNNING', `no daemon is running for ${home} (astrid start)`);
  const k = await openKernelState({home, mode: spec.mode});
  const rt = new KernelRuntime(k, spec.mode);
  const call: ChannelCall = async (op, a) => {
    const c = checkedOp(op, plain(a));
    if (c.spec.daemonOnly === true) throw new AstridError('DAEMON_NOT_RUNNING', `no daemon is running for ${home}`);
    if (c.spec.mode === 'write' && spec.mode !== 'write') throw new AstridError('LEDGER_READ_ONLY', `${op} needs a writable kernel`);
    return plain(await c.spec.run(rt, c.args, localIO({}, call)));
  };
  try {
    return plain(await spec.run(rt, checked, localIO(hooks, call))) as OpResult<N>;
  } finally {
    await rt.close('one-shot command finished');
  }
}

/** Run an operation in the daemon if one is running, else in this process. */
export async function invoke<N extends OpName>(home: string, name: N, args: OpArgs<N>, hooks: StreamHooks = {}): Promise<OpResult<N>> {
  const c = await DaemonClient.connect(home);
  if (c === undefined) return invokeLocal(home, name, args, hooks);
  try {
    return (await c.request(name, plain(args), hooks)) as OpResult<N>;
  } finally {
    c.close();
  }
}
