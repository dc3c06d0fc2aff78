/**
 * CLI support: the base command, renderers, progress, and the operations each command
 * calls. Commands in /commands stay thin and import only this (and errors).
 */
export {AstridCommand} from './base.js';
export {progressBar, type Progress} from './progress.js';
export {entryView, entryLine, verifyLines, jsonSafe, type EntryView} from './render.js';
export {auditNote, auditShow, auditVerify, auditVerifyBundle, auditExport, kernelPublicKey, readPublicKeyArg, type NoteResult, type ShowQuery} from './audit.js';
export {startOnce} from './start.js';
export {ENTRY_KINDS} from '../ledger/index.js';
export {systemClock} from '../kernel/index.js';
export type {VerifyReport, ExportResult} from '../ledger/index.js';
export type {BootReport} from '../kernel/index.js';
export {capsuleInstall, capsuleList, capsuleInspect, capsuleRemove, capsuleNew, capsuleBuild, runCapsule, type CapsuleView, type CapsuleDetail, type RunFlags} from './capsule.js';
export type {RunResult} from '../kernel/index.js';
export type {BuildResult} from '../sandbox/index.js';
export {
  principalCreate,
  principalList,
  grantIssue,
  grantList,
  tokenAttenuate,
  tokenRevoke,
  tokenShow,
  approvalsList,
  approvalAnswer,
  parseTokenBudget,
  parseWhen,
  parseCaveats,
  type PrincipalView,
  type TokenView,
  type ApprovalView,
  type GrantFlags,
  type AttenuateFlags,
} from './authority.js';
export {secretSet, secretList, secretRemove, readSecretValue, type SecretView} from './secrets.js';
