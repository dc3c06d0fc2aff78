/**
 * Capability tokens: what a principal may do, signed by whoever handed it over.
 *
 * A token's body is a fixed-order msgpack array (its canonical bytes); the signature is
 * Ed25519 by the issuer over `"astrid.token.v1\0" || body`. The id is derived from the
 * body (`tk_` + 32 hex of BLAKE3(body)), so it cannot be chosen, and a random nonce makes
 * two otherwise equal grants distinct. Parsing is strict: a body that does not re-encode
 * to the same bytes (non-canonical integers, unsorted or duplicate resources/caveats,
 * unknown caveats, extra fields) is refused with TOKEN_INVALID. The chain rules
 * (attenuation, roots, revocation) live in chain.ts.
 */
import {bytesEqual, toHex, verifyStrict, verifyStrictAsync, publicKeyProblem, type Blake3, type SigningKey} from '../crypto/index.js';
import {AstridError} from '../errors/index.js';
import {decodePlainMsgpack, packMsgpack} from '../ledger/index.js';
import {parseResource, RESOURCE_TYPES, type Resource, type ResourceType} from './resource.js';

export const TOKEN_VERSION = 1;
const DOMAIN = new TextEncoder().encode('astrid.token.v1\u0000');
export const MAX_TOKEN_BYTES = 64 * 1024;
export const MAX_RESOURCES = 64;
export const MAX_CAVEATS = 32;
export const MAX_ALLOW_VALUES = 64;


declare const tokenIdBrand: unique symbol;
/** `tk_` + 32 lowercase hex digits. */
export type TokenId = string & {readonly [tokenIdBrand]: true};
const TOKEN_ID_RE = /^tk_[0-9a-f]{32}$/;

/** @throws AstridError TOKEN_INVALID when `s` is not a token id. */
export function parseTokenId(s: unknown): TokenId {
  if (typeof s !== 'string' || !TOKEN_ID_RE.test(s)) throw new AstridError('TOKEN_INVALID', `not a token id: ${JSON.stringify(String(s).slice(0, 80))} (want tk_ and 32 hex digits)`);
  return s as TokenId;
}

export const PRINCIPAL_RE = /^[a-z][a-z0-9-]{0,63}$/;

/** Budget axes a token can bound. Absent = unbounded by this token (its parent may still bound it). */
export const BUDGET_AXES = ['fuel', 'memory_pages', 'wall_ms', 'messages', 'egress_bytes'] as const;
export type BudgetAxis = (typeof BUDGET_AXES)[number];
export type TokenBudget = {readonly [A in BudgetAxis]?: number};

/** Caveats: a closed union. Each only ever narrows what the token allows. */
export type Caveat =
  | {readonly type: 'capsule'; readonly hash: string}
  | {readonly type: 'single_use'}
  | {readonly type: 'max_uses'; readonly n: number}
  | {readonly type: 'allow'; readonly resource: ResourceType; readonly values: readonly string[]};

export interface TokenBody {
  readonly v: number;
  /** Issuer's Ed25519 public key. */
  readonly issuer: Uint8Array;
  /** The principal the token is for, and that principal's key (the key that may attenuate it). */
  readonly subject: string;
  readonly subjectKey: Uint8Array;
  /** Resource strings, parsed, sorted and unique. */
  readonly resources: readonly Resource[];
  readonly budget: TokenBudget;
  /** Validity window in ms since the epoch; `exp` null = no expiry of its own. */
  readonly nbf: number;
  readonly exp: number | null;
  readonly caveats: readonly Caveat[];
  readonly parent: TokenId | null;
  readonly nonce: Uint8Array;
}

/** A parsed, self-consistent token (signature checked against its stated issuer key). */
export interface Token extends TokenBody {
  readonly id: TokenId;
  /** BLAKE3 hex of body || sig: the memo key of chain verification. */
  readonly hash: string;
  readonly bytes: Uint8Array;
  readonly sig: Uint8Array;
}

function bad(why: string): never {
  throw new AstridError('TOKEN_INVALID', `token: ${why}`);
}

function caveatKey(c: Caveat): string {
  switch (c.type) {
    case 'capsule':
      return `capsule:${c.hash}`;
    case 'single_use':
      return 'single_use';
    case 'max_uses':
      return `max_uses:${c.n}`;
    case 'allow':
      return `allow:${c.resource}:${c.values.join('\u0000')}`;
  }
}

function caveatArray(c: Caveat): unknown[] {
  switch (c.type) {
    case 'capsule':
      return ['capsule', c.hash];
    case 'single_use':
      return ['single_use'];
    case 'max_uses':
      return ['max_uses', c.n];
    case 'allow':
      return ['allow', c.resource, [...c.values]];
  }
}

/** Normalise caveats: validated, values sorted, list sorted and deduplicated. @throws AstridError TOKEN_INVALID. */
export function normaliseCaveats(list: readonly Caveat[]): Caveat[] {
  if (list.length > MAX_CAVEATS) bad(`at most ${MAX_CAVEATS} caveats`);
  const out = new Map<string, Caveat>();
  for (const c of list) {
    let n: Caveat;
    switch (c.type) {
      case 'capsule':
        if (!/^[0-9a-f]{64}$/.test(c.hash)) bad('capsule caveat needs a 64-hex BLAKE3 hash');
        n = {type: 'capsule', hash: c.hash};
        break;
      case 'single_use':
        n = {type: 'single_use'};
        break;
      case 'max_uses':
        if (!Number.isSafeInteger(c.n) || c.n < 1 || c.n > 1_000_000_000) bad('max_uses must be 1 to 1e9');
        n = {type: 'max_uses', n: c.n};
        break;
      case 'allow': {
        if (!(RESOURCE_TYPES as readonly string[]).includes(c.resource)) bad(`allow caveat: unknown resource type ${String(c.resource)}`);
        const vals = [...new Set(c.values)].sort();
        if (vals.length === 0 || vals.length > MAX_ALLOW_VALUES || vals.some((x) => typeof x !== 'string' || x.length === 0 || x.length > 4096)) {
          bad(`allow caveat needs 1 to ${MAX_ALLOW_VALUES} non-empty values`);
        }
        n = {type: 'allow', resource: c.resource, values: vals};
        break;
      }
      default:
        bad('unknown caveat');
    }
    out.set(caveatKey(n), n);
  }
  return [...out.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map(([, c]) => c);
}

function budgetArray(b: TokenBudget): Array<number | null> {
  return BUDGET_AXES.map((a) => b[a] ?? null);
}

/** Canonical body bytes. Inputs must already be normalised (see buildBody). */
function encodeBody(b: TokenBody): Uint8Array {
  return packMsgpack([
    b.v,
    b.issuer,
    b.subject,
    b.subjectKey,
    b.resources.map((r) => r.text),
    budgetArray(b.budget),
    b.nbf,
    b.exp,
    b.caveats.map(caveatArray),
    b.parent,
    b.nonce,
  ]);
}

export interface TokenDraft {
  readonly subject: string;
  readonly subjectKey: Uint8Array;
  readonly resources: readonly string[];
  readonly budget?: TokenBudget;
  readonly nbf: number;
  readonly exp: number | null;
  readonly caveats?: readonly Caveat[];
  readonly parent?: TokenId | null;
  readonly nonce: Uint8Array;
}

function checkKey(k: Uint8Array, what: string): void {
  const p = publicKeyProblem(k);
  if (p !== null) bad(`${what} is not a valid Ed25519 public key (${p})`);
}

function checkBudget(b: TokenBudget): TokenBudget {
  const out: Record<string, number> = {};
  for (const a of BUDGET_AXES) {
    const x = b[a];
    if (x === undefined) continue;
    if (!Number.isSafeInteger(x) || x < 0) bad(`budget ${a} must be a non-negative integer`);
    out[a] = x;
  }
  for (const k of Object.keys(b)) if (!(BUDGET_AXES as readonly string[]).includes(k)) bad(`unknown budget axis ${k}`);
  return out;
}

function normaliseBody(d: TokenDraft, issuer: Uint8Array, drafting = false): TokenBody {
  if (!PRINCIPAL_RE.test(d.subject)) bad(`subject must match ${PRINCIPAL_RE.source}`);
  checkKey(issuer, 'issuer');
  checkKey(d.subjectKey, 'subject key');
  if (d.resources.length === 0 || d.resources.length > MAX_RESOURCES) bad(`1 to ${MAX_RESOURCES} resources`);
  const parsed = new Map<string, Resource>();
  for (const r of d.resources) {
    let res: Resource;
    try {
      res = parseResource(r);
    } catch (e) {
      if (drafting) throw e; // RESOURCE_INVALID: the caller's resource, not a token, is malformed
      return bad((e as Error).message);
    }
    parsed.set(res.text, res);
  }
  const resources = [...parsed.values()].sort((a, b) => (a.text < b.text ? -1 : a.text > b.text ? 1 : 0));
  if (!Number.isSafeInteger(d.nbf) || d.nbf < 0) bad('nbf must be a non-negative integer (ms)');
  if (d.exp !== null && (!Number.isSafeInteger(d.exp) || d.exp <= d.nbf)) bad('exp must be an integer after nbf');
  if (!(d.nonce instanceof Uint8Array) || d.nonce.length !== 16) bad('nonce must be 16 bytes');
  return {
    v: TOKEN_VERSION,
    issuer: new Uint8Array(issuer),
    subject: d.subject,
    subjectKey: new Uint8Array(d.subjectKey),
    resources,
    budget: checkBudget(d.budget ?? {}),
    nbf: d.nbf,
    exp: d.exp,
    caveats: normaliseCaveats(d.caveats ?? []),
    parent: d.parent ?? null,
    nonce: new Uint8Array(d.nonce),
  };
}

function signedMessage(body: Uint8Array): Uint8Array {
  const m = new Uint8Array(DOMAIN.length + body.length);
  m.set(DOMAIN, 0);
  m.set(body, DOMAIN.length);
  return m;
}

function finish(h: Blake3, b: TokenBody, bytes: Uint8Array, sig: Uint8Array): Token {
  const id = ('tk_' + toHex(h.hashOne(bytes)).slice(0, 32)) as TokenId;
  return {...b, id, hash: toHex(h.hash(bytes, sig)), bytes, sig};
}

/**
 * Sign a token with `key` (the issuer). The draft is normalised (resources parsed, sorted,
 * unique; caveats sorted) before signing.
 * @throws AstridError RESOURCE_INVALID when a resource does not parse, TOKEN_INVALID when the draft is otherwise malformed.
 */
export function signToken(h: Blake3, key: SigningKey, draft: TokenDraft): Token {
  const b = normaliseBody(draft, key.publicKey, true);
  const bytes = encodeBody(b);
  if (bytes.length > MAX_TOKEN_BYTES) bad(`encodes to more than ${MAX_TOKEN_BYTES} bytes`);
  return finish(h, b, bytes, key.sign(signedMessage(bytes)));
}

function isBytes(u: unknown, n?: number): u is Uint8Array {
  return u instanceof Uint8Array && (n === undefined || u.length === n);
}

function readCaveat(u: unknown): Caveat {
  if (!Array.isArray(u) || typeof u[0] !== 'string') return bad('caveat must be [type, ...]');
  switch (u[0]) {
    case 'capsule':
      if (u.length !== 2 || typeof u[1] !== 'string') bad('capsule caveat malformed');
      return {type: 'capsule', hash: u[1] as string};
    case 'single_use':
      if (u.length !== 1) bad('single_use caveat malformed');
      return {type: 'single_use'};
    case 'max_uses':
      if (u.length !== 2 || typeof u[1] !== 'number') bad('max_uses caveat malformed');
      return {type: 'max_uses', n: u[1] as number};
    case 'allow':
      if (u.length !== 3 || typeof u[1] !== 'string' || !Array.isArray(u[2]) || !u[2].every((x) => typeof x === 'string')) bad('allow caveat malformed');
      return {type: 'allow', resource: u[1] as ResourceType, values: u[2] as string[]};
    default:
      return bad(`unknown caveat type ${JSON.stringify(String(u[0]).slice(0, 40))}`);
  }
}

/**
 * Parse and check a token from its body bytes and signature: strict canonical decoding,
 * every field validated, and the signature verified strictly against the stated issuer.
 * Says nothing about whether the issuer is trusted (see chain.ts).
 * @throws AstridError TOKEN_INVALID (malformed or non-canonical), TOKEN_BAD_SIGNATURE.
 */
export function parseToken(h: Blake3, bytes: Uint8Array, sig: Uint8Array): Token {
  const body = decodeBody(bytes, sig);
  if (!verifyStrict(body.issuer, signedMessage(bytes), sig)) badSignature();
  return finish(h, body, new Uint8Array(bytes), new Uint8Array(sig));
}

/** parseToken with the signature checked on the thread pool (see verifyStrictAsync). */
export async function parseTokenAsync(h: Blake3, bytes: Uint8Array, sig: Uint8Array): Promise<Token> {
  const body = decodeBody(bytes, sig);
  const b = new Uint8Array(bytes);
  const s = new Uint8Array(sig);
  if (!(await verifyStrictAsync(body.issuer, signedMessage(b), s))) badSignature();
  return finish(h, body, b, s);
}

function badSignature(): never {
  throw new AstridError('TOKEN_BAD_SIGNATURE', 'token: signature does not verify under its issuer key');
}

/** Strict decoding of a token body (everything but the signature check). */
function decodeBody(bytes: Uint8Array, sig: Uint8Array): TokenBody {
  if (!isBytes(bytes) || bytes.length === 0 || bytes.length > MAX_TOKEN_BYTES) bad('body must be 1 to 65536 bytes');
  if (!isBytes(sig, 64)) bad('signature must be 64 bytes');
  const d = decodePlainMsgpack(bytes);
  if ('problem' in d) return bad(`body is ${d.problem}`);
  const u = d.value;
  if (!Array.isArray(u) || u.length !== 11) bad('body must be an array of 11 fields');
  const [v, issuer, subject, subjectKey, resources, budget, nbf, exp, caveats, parent, nonce] = u as unknown[];
  if (v !== TOKEN_VERSION) bad(`unsupported version ${String(v)}`);
  if (!isBytes(issuer, 32) || !isBytes(subjectKey, 32) || !isBytes(nonce, 16)) bad('keys must be 32 bytes and the nonce 16');
  if (typeof subject !== 'string') bad('subject must be a string');
  if (!Array.isArray(resources) || !resources.every((r) => typeof r === 'string')) bad('resources must be strings');
  if (!Array.isArray(budget) || budget.length !== BUDGET_AXES.length) bad('budget malformed');
  const b: Record<string, number> = {};
  BUDGET_AXES.forEach((a, i) => {
    const x: unknown = budget[i];
    if (x === null) return;
    if (typeof x !== 'number') bad(`budget ${a} malformed`);
    b[a] = x;
  });
  if (typeof nbf !== 'number' || (exp !== null && typeof exp !== 'number')) bad('validity window malformed');
  if (!Array.isArray(caveats)) bad('caveats must be a list');
  if (parent !== null) parseTokenId(parent);
  const body = normaliseBody(
    {subject, subjectKey, resources: resources as string[], budget: b, nbf, exp: exp as number | null, caveats: caveats.map(readCaveat), parent: parent as TokenId | null, nonce},
    issuer,
  );
  if (!bytesEqual(encodeBody(body), bytes)) bad('body is not in canonical form');
  return body;
}

/** Portable text form: `astrid-token.<base64url body>.<base64url sig>`. */
export function tokenToText(t: Token): string {
  return `astrid-token.${Buffer.from(t.bytes).toString('base64url')}.${Buffer.from(t.sig).toString('base64url')}`;
}

/** Parse the portable text form. @throws AstridError TOKEN_INVALID, TOKEN_BAD_SIGNATURE. */
export function tokenFromText(h: Blake3, text: string): Token {
  const m = /^astrid-token\.([A-Za-z0-9_-]{1,90000})\.([A-Za-z0-9_-]{86})$/.exec(text.trim());
  if (m === null) bad('not an astrid-token text');
  return parseToken(h, new Uint8Array(Buffer.from(m[1] as string, 'base64url')), new Uint8Array(Buffer.from(m[2] as string, 'base64url')));
}

/** A plain JSON view of a token (for --json and docs). */
export function tokenJson(t: Token): Record<string, unknown> {
  return {
    id: t.id,
    issuer: toHex(t.issuer),
    subject: t.subject,
    subjectKey: toHex(t.subjectKey),
    resources: t.resources.map((r) => r.text),
    budget: t.budget,
    notBefore: new Date(t.nbf).toISOString(),
    notAfter: t.exp === null ? null : new Date(t.exp).toISOString(),
    caveats: t.caveats,
    parent: t.parent,
    hash: t.hash,
  };
}
