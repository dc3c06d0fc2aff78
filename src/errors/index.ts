/**
 * Errors with stable codes. Every failure that crosses a module boundary is an
 * `AstridError` (or a subclass) carrying a `code` from the closed `ErrorCode` union
 * and, where there is one, the underlying `cause`. API misuse (a wrong argument type)
 * throws `TypeError`/`RangeError` instead: that is a bug in the caller, not a condition.
 */

/** Every stable error code, grouped by the folder that raises it. See each folder's README. */
export const ERROR_CODES = [
  // crypto
  'KEY_PERMISSIONS_TOO_OPEN',
  'KEY_INVALID',
  'KEY_IO',
  'KEY_MISSING',
  // ledger
  'LEDGER_LOCKED',
  'LEDGER_OPEN_FAILED',
  'LEDGER_NOT_OPEN',
  'LEDGER_CLOSED',
  'LEDGER_WRITE_FAILED',
  'LEDGER_CORRUPT',
  'LEDGER_KEY_MISMATCH',
  'LEDGER_READ_ONLY',
  'LEDGER_OVERLOADED',
  'LEDGER_ENTRY_INVALID',
  'LEDGER_ENTRY_TOO_LARGE',
  'LEDGER_KIND_UNKNOWN',
  'LEDGER_CHAIN_BROKEN',
  'LEDGER_BUNDLE_INVALID',
  // sandbox
  'CAPSULE_MANIFEST_INVALID',
  'CAPSULE_HASH_MISMATCH',
  'CAPSULE_NOT_FOUND',
  'CAPSULE_BUILD_FAILED',
  'SANDBOX_MODULE_INVALID',
  'SANDBOX_IMPORT_DENIED',
  'SANDBOX_EXPORT_MISSING',
  'SANDBOX_START_DENIED',
  'SANDBOX_MEMORY_INVALID',
  'SANDBOX_ABI_VERSION',
  'SANDBOX_FUEL_EXHAUSTED',
  'SANDBOX_MEMORY_LIMIT',
  'SANDBOX_TRAP',
  'SANDBOX_TIMEOUT',
  'SANDBOX_INSTANCE_FAILED',
  // authority
  'GATE_DENIED',
  'RESOURCE_INVALID',
  // capabilities: tokens, delegation, principals, budgets, approvals
  'TOKEN_INVALID',
  'TOKEN_BAD_SIGNATURE',
  'TOKEN_NOT_FOUND',
  'TOKEN_NOT_ACTIVE',
  'TOKEN_NOT_HOLDER',
  'TOKEN_WIDENED',
  'TOKEN_CHAIN_BROKEN',
  'TOKEN_UNTRUSTED_ROOT',
  'TOKEN_CHAIN_TOO_DEEP',
  'PRINCIPAL_EXISTS',
  'PRINCIPAL_NOT_FOUND',
  'BUDGET_EXHAUSTED',
  'APPROVAL_NOT_FOUND',
  'APPROVAL_EXPIRED',
  'APPROVAL_ANSWERED',
  'APPROVAL_FORBIDDEN',
  'APPROVAL_PENDING',
  'APPROVAL_UNAVAILABLE',
  'POLICY_INVALID',
  // protocol
  'PROTOCOL_FRAME_TOO_LARGE',
  'PROTOCOL_MALFORMED',
  // bus
  'BUS_INVALID',
  'BUS_DENIED',
  'BUS_QUOTA',
  'BUS_TIMEOUT',
  // services: http egress and the secret store
  'HTTP_DENIED',
  'HTTP_INVALID',
  'HTTP_PRIVATE_ADDRESS',
  'HTTP_DNS_FAILED',
  'HTTP_CONNECT_FAILED',
  'HTTP_TIMEOUT',
  'HTTP_TOO_LARGE',
  'HTTP_REDIRECT_LIMIT',
  'SECRET_NOT_FOUND',
  'SECRET_INVALID',
  'SECRET_HOST_DENIED',
  // kernel / cli
  'HOME_INVALID',
  'INPUT_INVALID',
  'INTERNAL',
  'DAEMON_RUNNING',
  'DAEMON_NOT_RUNNING',
  'DAEMON_START_FAILED',
  'UPLINK_AUTH_FAILED',
  'UPLINK_VERSION',
  'UPLINK_BUSY',
  'UPLINK_CLOSED',
  'UPLINK_PERMISSIONS',
  'OP_UNKNOWN',
  'SESSION_NOT_FOUND',
  'SESSION_NOT_RUNNING',
  'SESSION_ENDED',
  'ACTOR_NOT_FOUND',
  'SPAWN_INVALID',
  'SPAWN_TOO_DEEP',
  'SPAWN_LIMIT',
  'SPAWN_FAILED',
  'SANDBOX_RESTART_LIMIT',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/** Base class of all Astrid errors: a stable `code`, a message for people, an optional cause. */
export class AstridError extends Error {
  readonly code: ErrorCode;
  /** Extra machine-readable facts (seq, path, ...). Never secrets. */
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: ErrorCode, message: string, options: {cause?: unknown; details?: Record<string, unknown>} = {}) {
    super(message, options.cause === undefined ? undefined : {cause: options.cause});
    this.name = 'AstridError';
    this.code = code;
    this.details = Object.freeze({...(options.details ?? {})});
  }

  /** A JSON-safe view for `--json` output. */
  toJSON(): {code: ErrorCode; message: string; details: Readonly<Record<string, unknown>>} {
    return {code: this.code, message: this.message, details: this.details};
  }
}

/** True when `e` is an AstridError, optionally with the given code. */
export function isAstridError(e: unknown, code?: ErrorCode): e is AstridError {
  return e instanceof AstridError && (code === undefined || e.code === code);
}

/** Exhaustiveness guard for closed unions: a `switch` over a union ends in `assertNever(x)`. */
export function assertNever(value: never, what = 'value'): never {
  throw new TypeError(`unexpected ${what}: ${JSON.stringify(value)}`);
}
