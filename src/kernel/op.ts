/**
 * The shape of a kernel operation: what every CLI command that reads or changes state
 * asks of the kernel. An operation has a name, a TypeBox schema for its arguments (which
 * may come from a socket, so they are untrusted), the ledger mode it needs when run
 * without a daemon, and a body that takes a runtime. The daemon and the one-shot CLI run
 * the very same body.
 */
import type {Static, TSchema} from '@sinclair/typebox';
import type {KernelRuntime} from './runtime.js';

/** What an operation can tell its caller while it runs. */
export interface OpIO {
  /** Progress of a long step (throttled by the transport; the last one always arrives). */
  progress(done: number, total: number, step?: string): void;
  /** An event for the caller (e.g. a session's activations as they happen). */
  event(e: Record<string, unknown>): void;
  /** The uplink the request came through. */
  readonly via: 'cli';
  /** Resolves when the caller has gone (its connection closed): long-running operations end then. */
  readonly gone: Promise<void>;
  /** Resolves when the caller has room for more events (its connection's unread answers are few): stream with it. */
  drain(): Promise<void>;
}

export interface OpSpec<S extends TSchema = TSchema, R = unknown> {
  /** The ledger mode a one-shot runtime needs ('read' never writes). The daemon is always writable. */
  readonly mode: 'read' | 'write';
  readonly args: S;
  /** Only a running daemon can do it (status, stop). */
  readonly daemonOnly?: boolean;
  /**
   * Checks that need no kernel (flag syntax, JSON, grammar). They run before a one-shot kernel
   * opens the ledger (so a bad flag never waits on, or takes, its lock) and in the daemon
   * before the body. @throws AstridError INPUT_INVALID (or the grammar's own code).
   */
  precheck?(args: Static<S>): void;
  run(rt: KernelRuntime, args: Static<S>, io: OpIO): Promise<R>;
}

/**
 * Send a list to the caller as `{type: 'items', items}` events of at most `chunk` items (and,
 * with `size`, about `chunkBytes` of them), each item passed through `map`, waiting while the
 * caller falls behind: a list may be larger than one frame. Returns how many.
 */
export async function streamItems<S, T = S>(
  io: OpIO,
  items: Iterable<S> | AsyncIterable<S>,
  o: {chunk?: number; chunkBytes?: number; size?: (x: S) => number; map?: (x: S) => T} = {},
): Promise<{count: number}> {
  const chunk = o.chunk ?? 200;
  const chunkBytes = o.chunkBytes ?? Infinity;
  let batch: Array<S | T> = [];
  let bytes = 0;
  let count = 0;
  for await (const x of items) {
    batch.push(o.map === undefined ? x : o.map(x));
    count++;
    bytes += o.size?.(x) ?? 0;
    if (batch.length >= chunk || bytes >= chunkBytes) {
      io.event({type: 'items', items: batch});
      batch = [];
      bytes = 0;
      await io.drain();
    }
  }
  if (batch.length > 0) io.event({type: 'items', items: batch});
  return {count};
}

/** Define an operation (keeps the argument type tied to its schema). */
export function defineOp<S extends TSchema, R>(spec: OpSpec<S, R>): OpSpec<S, R> {
  return spec;
}
