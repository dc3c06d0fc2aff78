/**
 * Branded identifiers used in ledger entries. A string becomes one only through its
 * parser, which checks the grammar: 1 to 128 characters from [A-Za-z0-9._:@+-],
 * starting with a letter or digit. The grammar excludes NUL, so ids can be used
 * inside index keys, and excludes whitespace and path separators.
 */

declare const seqBrand: unique symbol;
declare const sessionBrand: unique symbol;
declare const principalBrand: unique symbol;
declare const actorBrand: unique symbol;

/** A ledger sequence number: a safe integer >= 1. */
export type Seq = number & {readonly [seqBrand]: true};
export type SessionId = string & {readonly [sessionBrand]: true};
export type PrincipalId = string & {readonly [principalBrand]: true};
export type ActorId = string & {readonly [actorBrand]: true};

export const ID_RE = /^[A-Za-z0-9][A-Za-z0-9._:@+-]{0,127}$/;

/** True when `v` matches the id grammar. */
export function isId(v: unknown): v is string {
  return typeof v === 'string' && ID_RE.test(v);
}

function parseId(v: unknown, what: string): string {
  if (!isId(v)) throw new TypeError(`${what} must match ${ID_RE.source}`);
  return v;
}

/** @throws TypeError when `v` is not a valid session id. */
export function parseSessionId(v: unknown): SessionId {
  return parseId(v, 'session') as SessionId;
}
/** @throws TypeError when `v` is not a valid principal id. */
export function parsePrincipalId(v: unknown): PrincipalId {
  return parseId(v, 'principal') as PrincipalId;
}
/** @throws TypeError when `v` is not a valid actor id. */
export function parseActorId(v: unknown): ActorId {
  return parseId(v, 'actor') as ActorId;
}
/** @throws RangeError when `v` is not a safe integer >= 1. */
export function parseSeq(v: unknown): Seq {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) throw new RangeError('seq must be a safe integer >= 1');
  return v as Seq;
}

/** The session, principal and actor the kernel itself uses for its own entries. */
export const KERNEL_SESSION = 'kernel' as SessionId;
export const KERNEL_PRINCIPAL = 'kernel' as PrincipalId;
export const KERNEL_ACTOR = 'kernel' as ActorId;
/** The owner principal: whoever holds the kernel key (the CLI user on this machine). */
export const OWNER_PRINCIPAL = 'owner' as PrincipalId;
