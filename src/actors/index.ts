/**
 * Actors: XState machines. Now the capsule lifecycle; principals, sessions and approval
 * gates arrive with the authority and kernel issues. One way in.
 */
export {serviceMachine, startServiceActor, SERVICE_NAMES, type ServiceActor, type ServiceEvent, type ServiceContext, type ServiceName} from './service.js';
export {capsuleMachine, startCapsuleActor, capsuleState, type CapsuleActor, type CapsuleEvent, type CapsuleState, type CapsuleContext} from './capsule.js';
export {
  approvalMachine,
  ApprovalService,
  UPLINKS,
  DEFAULT_APPROVAL_TIMEOUT_MS,
  type ApprovalActor,
  type ApprovalEvent,
  type ApprovalScope,
  type ApprovalServiceOptions,
  type ApprovalTimers,
  type AnswerInput,
  type Uplink,
} from './approval.js';
export {
  sessionMachine,
  principalMachine,
  ActorRegistry,
  startSessionActor,
  startPrincipalActor,
  type SessionEvent,
  type SessionActorContext,
  type PrincipalEvent,
  type PrincipalActorContext,
  type ActorView,
} from './session.js';
