/**
 * Every kernel operation by name: the table the daemon dispatches requests from and the
 * one-shot CLI runs locally. A request's arguments are checked against the operation's
 * schema (compiled once) before its body sees them.
 */
import type {Static} from '@sinclair/typebox';
import {TypeCompiler, type TypeCheck} from '@sinclair/typebox/compiler';
import {AstridError} from '../errors/index.js';
import type {OpSpec} from './op.js';
import {auditOps} from './op-audit.js';
import {authorityOps} from './op-authority.js';
import {capsuleOps} from './op-capsule.js';
import {sessionOps, actorOps, busOps} from './op-session.js';
import {kernelOps} from './op-kernel.js';
import {secretOps} from './op-secret.js';

export const OPS = {...auditOps, ...authorityOps, ...capsuleOps, ...sessionOps, ...actorOps, ...busOps, ...secretOps, ...kernelOps};

export type Ops = typeof OPS;
export type OpName = keyof Ops;
export type OpArgs<N extends OpName> = Static<Ops[N]['args']>;
export type OpResult<N extends OpName> = Awaited<ReturnType<Ops[N]['run']>>;

/** True when `name` is an operation. */
export function isOpName(name: string): name is OpName {
  return Object.prototype.hasOwnProperty.call(OPS, name);
}

const checks = new Map<string, TypeCheck<Ops[OpName]['args']>>();

/**
 * The operation for `name`, with `args` checked against its schema.
 * @throws AstridError OP_UNKNOWN, INPUT_INVALID.
 */
export function checkedOp(name: string, args: unknown): {spec: OpSpec; args: unknown} {
  if (!isOpName(name)) throw new AstridError('OP_UNKNOWN', `no operation ${JSON.stringify(name.slice(0, 64))}`);
  const spec = OPS[name] as OpSpec;
  let c = checks.get(name);
  if (c === undefined) {
    c = TypeCompiler.Compile(spec.args) as TypeCheck<Ops[OpName]['args']>;
    checks.set(name, c);
  }
  if (!c.Check(args)) {
    const e = c.Errors(args).First();
    throw new AstridError('INPUT_INVALID', `${name}: arguments do not match${e ? `: ${e.path || '/'} ${e.message}` : ''}`);
  }
  spec.precheck?.(args);
  return {spec, args};
}
