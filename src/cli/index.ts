/**
 * CLI support: the base command, renderers, progress, and the operations each command
 * calls (through the daemon when one runs). Commands in /commands stay thin and import
 * only this (and errors).
 */
export {AstridCommand} from './base.js';
export {progressBar, type Progress} from './progress.js';
export {entryLine, verifyLines} from './render.js';
export {
  auditNote,
  auditShow,
  auditVerify,
  auditExport,
  auditReindex,
  capsuleInstall,
  capsuleList,
  capsuleInspect,
  capsuleRemove,
  principalCreate,
  principalList,
  grantIssue,
  grantList,
  tokenShow,
  tokenAttenuate,
  tokenRevoke,
  approvalsList,
  approvalAnswer,
  runCapsule,
  sessionList,
  sessionShow,
  sessionEnd,
  actorInspect,
  busWatch,
  type RunFlags,
} from './ops.js';
export {daemonStatus, daemonSpawn, daemonStop, binPath} from './daemon.js';
export {ApprovalPrompter} from './prompt.js';
export {ENTRY_KINDS} from '../ledger/index.js';
export {
  systemClock,
  entryView,
  jsonSafe,
  payloadJson,
  auditVerifyBundle,
  kernelPublicKey,
  readPublicKeyArg,
  capsuleNew,
  capsuleBuild,
  parseTokenBudget,
  parseWhen,
  parseCaveats,
  Daemon,
  type EntryView,
  type NoteResult,
  type ReindexResult,
  type ShowQuery,
  type CapsuleView,
  type CapsuleDetail,
  type PrincipalView,
  type TokenView,
  type ApprovalView,
  type GrantFlags,
  type AttenuateFlags,
  type RunView,
  type SessionView,
  type KernelStatus,
  type DaemonBoot,
  type ActorView,
  type ChannelCall,
  type WatchResult,
} from '../kernel/index.js';
export type {VerifyReport, ExportResult} from '../ledger/index.js';
export type {RunResult} from '../kernel/index.js';
export type {BuildResult} from '../sandbox/index.js';
export {secretSet, secretList, secretRemove, readSecretValue, type SecretView} from './secrets.js';
