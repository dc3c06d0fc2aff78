/**
 * Capabilities: the resource grammar, signed tokens with attenuation-only delegation,
 * chain verification, the authority projection (principals, grants, revocations, uses,
 * budgets, approvals), budgets and the gate. One way in.
 */
export {
  parseResource,
  pathSegments,
  pathMatches,
  kvMatches,
  resourceAllows,
  resourceCovers,
  globCovers,
  parseHttpTarget,
  httpAllows,
  RESOURCE_TYPES,
  type Resource,
  type ResourceType,
  type HttpTarget,
} from './resource.js';
export {
  signToken,
  parseToken,
  parseTokenAsync,
  parseTokenId,
  tokenToText,
  tokenFromText,
  tokenJson,
  normaliseCaveats,
  BUDGET_AXES,
  PRINCIPAL_RE,
  TOKEN_VERSION,
  MAX_TOKEN_BYTES,
  type Token,
  type TokenId,
  type TokenBody,
  type TokenDraft,
  type TokenBudget,
  type BudgetAxis,
  type Caveat,
} from './token.js';
export {ChainVerifier, attenuationProblem, MAX_CHAIN_DEPTH, type ChainVerdict, type AttenuationAxis, type ChainProblemCode, type TokenLookup} from './chain.js';
export {authorityProjection, applyAuthority, emptyAuthorityState, type AuthorityState, type PrincipalRecord, type TokenRecord, type ApprovalRecord, type ApprovalStatus, type Spent} from './state.js';
export {Authority, useLimit, type AuthorityOptions, type TokenReport, type TokenStatus, type AttenuateOptions, type GrantOptions, type Attribution} from './authority.js';
export {BudgetBook, chainScopes, scopeName, type BudgetScope, type Reservation, type ReserveResult, type ChargeAxis} from './budget.js';
export {
  SessionGate,
  isInternalHost,
  isInternalAddress,
  DEFAULT_RESERVED_TOPICS,
  type Gate,
  type GateDecision,
  type GateRequest,
  type GateLayer,
  type GatePolicy,
  type CapsuleBounds,
  type Approver,
  type SessionGateOptions,
} from './gate.js';
