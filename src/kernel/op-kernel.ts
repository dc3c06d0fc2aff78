/**
 * Operations only a running daemon answers: `astrid status` and `astrid stop`.
 */
import {Type} from '@sinclair/typebox';
import {AstridError} from '../errors/index.js';
import {toHex} from '../crypto/index.js';
import {defineOp} from './op.js';
import {ASTRID_VERSION} from './boot.js';
import type {KernelRuntime} from './runtime.js';

export interface KernelStatus {
  readonly running: true;
  readonly version: string;
  readonly pid: number;
  readonly home: string;
  readonly socket: string;
  readonly startedAt: string;
  readonly uptimeMs: number;
  readonly kernelKey: string;
  readonly head: {readonly seq: number; readonly hash: string};
  readonly checkpointedSeq: number;
  /** Boot verified the whole chain, or the tail after the anchor; the whole chain is then checked in the background. */
  readonly verification: {readonly boot: 'full' | 'tail'; readonly full: 'running' | 'ok' | 'failed'};
  readonly capsules: ReadonlyArray<{readonly name: string; readonly hash: string; readonly activations: number; readonly lastOutcome: string}>;
  readonly sessions: {readonly running: number; readonly live: ReadonlyArray<{readonly id: string; readonly capsule: string; readonly principal: string}>; readonly total: number};
  readonly connections: number;
  readonly approvals: {readonly pending: number};
  readonly state: {readonly all: string; readonly parts: Readonly<Record<string, string>>};
}

const NONE = Type.Object({}, {additionalProperties: false});

function daemonOf(rt: KernelRuntime) {
  if (rt.daemon === undefined) throw new AstridError('DAEMON_NOT_RUNNING', 'no daemon is running for this home (astrid start)');
  return rt.daemon;
}

export const kernelOps = {
  'kernel.status': defineOp({
    mode: 'read',
    daemonOnly: true,
    args: NONE,
    async run(rt): Promise<KernelStatus> {
      const d = daemonOf(rt);
      const k = rt.k;
      const state = await rt.stateHashes(); // flushes first: the head below is durable
      const head = k.ledger.durableHead;
      const capsules = [...(await rt.capsules.current()).values()].filter((c) => c.hash !== '').sort((a, b) => (a.name < b.name ? -1 : 1));
      const sessions = [...(await rt.sessions.current()).values()];
      const now = k.clock.now();
      return {
        running: true,
        version: ASTRID_VERSION,
        pid: d.pid,
        home: k.home,
        socket: d.socket,
        startedAt: new Date(d.startedAt).toISOString(),
        uptimeMs: Math.max(0, now - d.startedAt),
        kernelKey: k.publicKeyHex,
        head: {seq: head.seq, hash: toHex(head.hash)},
        checkpointedSeq: k.ledger.lastCheckpointSeq,
        verification: d.verification(),
        capsules: capsules.map((c) => ({name: c.name, hash: c.hash, activations: c.activations, lastOutcome: c.lastOutcome})),
        sessions: {
          running: sessions.filter((s) => s.status === 'running').length,
          live: [...rt.live.values()].map((s) => ({id: s.id, capsule: s.capsule, principal: s.principal})),
          total: sessions.length,
        },
        connections: d.connections(),
        approvals: {pending: (await rt.approvals()).pending(now).length},
        state,
      };
    },
  }),

  /** Drain and stop the daemon: live sessions end, a checkpoint is signed, the ledger closes. */
  'kernel.stop': defineOp({
    mode: 'write',
    daemonOnly: true,
    args: Type.Object({reason: Type.String({maxLength: 256})}, {additionalProperties: false}),
    async run(rt, {reason}): Promise<{stopping: true; pid: number}> {
      const d = daemonOf(rt);
      d.requestStop(reason || 'astrid stop');
      return {stopping: true, pid: d.pid};
    },
  }),
};
