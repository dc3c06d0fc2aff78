/**
 * The kernel: the embedded state (home, key, ledger), the runtime and its operations, the
 * daemon and its uplink client. One way in.
 */
export {resolveHome, prepareHome, LEDGER_DIR} from './home.js';
export {openKernelState, type KernelState, type OpenOptions} from './open.js';
export {systemClock, systemRandom, SimulatedClock, randomIds, type IdSource} from './clock.js';
export {runSession, parseBudgetFlag, restartBackoffMs, MAX_RESTARTS, MAX_ACTIVATIONS_PER_RUN, type RunOptions, type RunResult} from './session.js';
export {openCapsuleStore} from './capsules.js';
export {MAX_SPAWN_DEPTH, MAX_SPAWNS_PER_TREE} from './spawn.js';
export {statsProjection, statsView, type LedgerStats} from './stats.js';
export {ASTRID_VERSION} from './boot.js';
export {readAnchor, writeAnchor, anchorPath, ANCHOR_FILE} from './anchor.js';
export {openAuthority, budgetBook, ownerKey, principalKey, createPrincipal, approvalService, OWNER_KEY_FILE, PRINCIPALS_DIR} from './authority.js';
export {loadPolicy, POLICY_FILE} from './policy.js';
export {KernelRuntime, type DaemonFacts, type LiveSession} from './runtime.js';
export {OPS, isOpName, checkedOp, type OpName, type OpArgs, type OpResult} from './ops.js';
export {defineOp, streamItems, type OpSpec, type OpIO} from './op.js';
export {invoke, invokeLocal, plain} from './invoke.js';
export {DAEMON_NODE_FLAGS} from './node-flags.js';
export {DaemonClient, daemonRunning, runPaths, RUN_DIR, type StreamHooks, type ChannelCall} from './client.js';
export {Daemon, livePid, type DaemonOptions, type DaemonBoot} from './daemon.js';
export {sessionsProjection, capsulesProjection, LiveProjection, type SessionRecord, type CapsuleRecord} from './sessions.js';
export {entryView, jsonSafe, payloadJson, type EntryView} from './views.js';
export {auditVerifyBundle, kernelPublicKey, readPublicKeyArg, MAX_UNSIGNED_TAIL_MS, type NoteResult, type ReindexResult, type ShowQuery} from './op-audit.js';
export {capsuleNew, capsuleBuild, type CapsuleView, type CapsuleDetail} from './op-capsule.js';
export {parseTokenBudget, parseWhen, parseCaveats, type PrincipalView, type TokenView, type ApprovalView, type GrantFlags, type AttenuateFlags} from './op-authority.js';
export type {SessionView, RunView, WatchResult} from './op-session.js';
export type {KernelStatus} from './op-kernel.js';
export {openSecrets, secretSource, setSecret, removeSecret, SECRETS_DIR} from './secrets.js';
export {MAX_SECRET_BYTES, SECRET_NAME_RE} from '../services/index.js';
export type {SecretView} from './op-secret.js';
export type {ActorView} from '../actors/index.js';
