/**
 * The closed, versioned union of ledger entry kinds. Each kind has a body parser that
 * takes `unknown` (decoded msgpack) and returns the typed body or a problem string.
 * Adding a kind is a deliberate act: add it here, document it in docs/ledger.md, and
 * every exhaustive switch over `EntryKind` will point at the code that must handle it.
 * Changing a body's shape means a new kind name (e.g. `note.v2`), never an edit.
 */

/** Format version of the entry envelope (the `v` field of every entry). */
export const ENTRY_FORMAT_VERSION = 1;

export const MAX_NOTE_CHARS = 4096;

export interface GenesisBody {
  /** Entry envelope format version. */
  readonly format: number;
  /** The kernel's Ed25519 public key (32 bytes): the key that signs checkpoints. */
  readonly kernelKey: Uint8Array;
}
export interface NoteBody {
  /** Owner annotation, 1 to 4096 characters. */
  readonly text: string;
}
export interface KernelBootBody {
  /** Astrid version that booted. */
  readonly version: string;
  /** Why it booted: `start` (the daemon/main job), `cli` (a one-shot command). */
  readonly mode: 'start' | 'cli';
}
export interface KernelShutdownBody {
  readonly reason: string;
}

/** A capsule package was installed into the store. */
export interface CapsuleInstalledBody {
  readonly name: string;
  readonly version: string;
  /** BLAKE3 (hex) of the original module, as the manifest states. */
  readonly hash: string;
  /** BLAKE3 (hex) of the instrumented module cached for it. */
  readonly instrumentedHash: string;
  /** The manifest text as installed. */
  readonly manifest: string;
}
export interface CapsuleRemovedBody {
  readonly name: string;
  readonly hash: string;
}
/** A session began: who runs it, under which grants and budget. */
export interface SessionStartedBody {
  readonly principal: string;
  readonly capsule: string;
  readonly hash: string;
  readonly grants: readonly string[];
  readonly budget: {readonly fuel: number; readonly memory_pages: number; readonly wall_ms: number};
}
export interface SessionEndedBody {
  readonly status: 'ok' | 'error';
  readonly code: string;
}
/** A message on the bus (capsule send, kernel delivery, service result). `payload` is msgpack bytes. */
export interface BusMessageBody {
  readonly topic: string;
  readonly payload: Uint8Array;
  readonly from: string;
  readonly corr: string;
}
export interface ActivationStartedBody {
  readonly capsule: string;
  readonly hash: string;
  /** Seq of the bus.message being handled. */
  readonly input: number;
  readonly topic: string;
}
export interface ActivationEndedBody {
  readonly capsule: string;
  /** `ok` or a SANDBOX_* code. */
  readonly outcome: string;
  readonly fuelUsed: number;
  readonly memoryPages: number;
  readonly calls: number;
  readonly message: string;
}
/** A synchronous host call with its recorded reply (so replay can answer it). */
export interface HostCallBody {
  readonly capsule: string;
  readonly op: string;
  /** The request as the guest sent it (msgpack bytes). */
  readonly request: Uint8Array;
  /** Reply length (>= 0) or a negative ABI error code. */
  readonly status: number;
  readonly reply: Uint8Array;
}
/** A gate decision that denied something. */
export interface GateDeniedBody {
  readonly code: 'GATE_DENIED';
  readonly layer: string;
  readonly rule: string;
  readonly resource: string;
  readonly reason: string;
  readonly capsule: string;
}
export interface CapsuleLogBody {
  readonly capsule: string;
  readonly level: string;
  readonly text: string;
}
export interface MemoryRefusedBody {
  readonly capsule: string;
  readonly code: 'SANDBOX_MEMORY_LIMIT';
  readonly requestedPages: number;
  readonly limitPages: number;
}
/** The result of a service effect (e.g. an fs write) performed after its authorising entry was durable. */
export interface ServiceResultBody {
  readonly service: string;
  /** Seq of the authorising entry. */
  readonly cause: number;
  readonly ok: boolean;
  readonly code: string;
  readonly detail: string;
}

/** A principal was registered with its public key (the key that signs what it delegates). */
export interface PrincipalCreatedBody {
  readonly name: string;
  readonly role: 'owner' | 'user' | 'agent';
  readonly key: Uint8Array;
}
/** A capability token was issued (body bytes and signature exactly as signed). */
export interface GrantIssuedBody {
  readonly id: string;
  readonly token: Uint8Array;
  readonly sig: Uint8Array;
  readonly subject: string;
  readonly parent: string;
  /** How it came to be: `cli`, `session`, `approval:<id>`, `attenuate`. */
  readonly via: string;
}
export interface GrantRevokedBody {
  readonly id: string;
  readonly reason: string;
}
/** One use of a token with use limits (single use, max uses): counted for it and every ancestor. */
export interface GrantUsedBody {
  readonly id: string;
  readonly chain: readonly string[];
  readonly resource: string;
}
/** A gate decision that allowed something, naming the layer and the token or rule that decided. */
export interface GateAllowedBody {
  readonly layer: string;
  readonly rule: string;
  readonly token: string;
  readonly resource: string;
  readonly capsule: string;
  /** Why: which token (and its chain) or which human answer covered it. */
  readonly reason: string;
}
/** Budget spent by a session (envelope) and charged to each listed token. */
export interface BudgetChargedBody {
  readonly tokens: readonly string[];
  readonly fuel: number;
  readonly wall_ms: number;
  readonly messages: number;
  readonly egress_bytes: number;
}
export interface BudgetExhaustedBody {
  /** `session` or a token id. */
  readonly scope: string;
  readonly axis: string;
  readonly limit: number;
  readonly wanted: number;
  readonly capsule: string;
}
/** A human was asked to approve a request. */
export interface ApprovalRequestedBody {
  readonly id: string;
  readonly capsule: string;
  /** BLAKE3 of the asking capsule's module: an "always" token is pinned to it. */
  readonly hash: string;
  readonly resource: string;
  readonly reason: string;
  /** Deadline (ms since the epoch): unanswered by then means denied. */
  readonly expires: number;
}
export interface ApprovalAnsweredBody {
  readonly id: string;
  readonly answer: 'approved' | 'denied' | 'expired';
  /** once | session | always when approved, '' otherwise. */
  readonly scope: string;
  /** The human principal who answered ('' when expired). */
  readonly by: string;
  /** The uplink it came through (cli, web, ...; 'kernel' for expiry). */
  readonly via: string;
  readonly reason: string;
  /** The token minted for an "always" answer, else ''. */
  readonly token: string;
}
export interface ApprovalUsedBody {
  readonly id: string;
  readonly resource: string;
}
/** A client connected to the daemon and passed the handshake. */
export interface UplinkOpenedBody {
  /** The daemon's id for the connection (c1, c2, ...; unique within one boot). */
  readonly connection: string;
  /** What the client calls itself (cli, web, mcp, ...), as it said: untrusted text. */
  readonly client: string;
}
/** A client was turned away at the handshake (wrong token, wrong protocol version, too many connections). */
export interface UplinkRefusedBody {
  readonly connection: string;
  readonly code: string;
  readonly reason: string;
}
/** A connection ended: by the client (code ''), or closed by the daemon for a malformed or oversized frame. */
export interface UplinkClosedBody {
  readonly connection: string;
  readonly code: string;
  readonly reason: string;
  /** Requests the connection made. */
  readonly requests: number;
}
/** A secret was stored (or replaced) in the kernel's secret store: its name and the hosts it may be sent to, never its value. */
export interface SecretSetBody {
  readonly name: string;
  readonly hosts: readonly string[];
}
/** A secret was removed from the kernel's secret store. */
export interface SecretRemovedBody {
  readonly name: string;
}

/** The session and actor indexes were rebuilt from the entries (`astrid audit reindex`). */
export interface LedgerReindexedBody {
  /** They were rebuilt from the entries up to this seq. */
  readonly indexed: number;
  /**
   * Index keys of those entries deleted because the rebuild did not write them: the ledger's
   * own keys (one per id per batch, replaced by one per id per 10,000 entries) and any other.
   */
  readonly replaced: number;
}

/** Body type for each kind. */
export interface BodyByKind {
  genesis: GenesisBody;
  note: NoteBody;
  'kernel.boot': KernelBootBody;
  'kernel.shutdown': KernelShutdownBody;
  'capsule.installed': CapsuleInstalledBody;
  'capsule.removed': CapsuleRemovedBody;
  'session.started': SessionStartedBody;
  'session.ended': SessionEndedBody;
  'bus.message': BusMessageBody;
  'activation.started': ActivationStartedBody;
  'activation.ended': ActivationEndedBody;
  'host.call': HostCallBody;
  'gate.denied': GateDeniedBody;
  'capsule.log': CapsuleLogBody;
  'sandbox.memory_refused': MemoryRefusedBody;
  'service.result': ServiceResultBody;
  'principal.created': PrincipalCreatedBody;
  'grant.issued': GrantIssuedBody;
  'grant.revoked': GrantRevokedBody;
  'grant.used': GrantUsedBody;
  'gate.allowed': GateAllowedBody;
  'budget.charged': BudgetChargedBody;
  'budget.exhausted': BudgetExhaustedBody;
  'approval.requested': ApprovalRequestedBody;
  'approval.answered': ApprovalAnsweredBody;
  'approval.used': ApprovalUsedBody;
  'uplink.opened': UplinkOpenedBody;
  'uplink.refused': UplinkRefusedBody;
  'uplink.closed': UplinkClosedBody;
  'secret.set': SecretSetBody;
  'secret.removed': SecretRemovedBody;
  'ledger.reindexed': LedgerReindexedBody;
}
export type EntryKind = keyof BodyByKind;
export type EntryBody = BodyByKind[EntryKind];

type Parser<B> = (u: unknown) => B | string;

function isRecord(u: unknown): u is Record<string, unknown> {
  return typeof u === 'object' && u !== null && !Array.isArray(u) && !(u instanceof Uint8Array);
}

function exactKeys(u: Record<string, unknown>, keys: readonly string[]): string | null {
  // for-in with an own-property check visits what Object.keys lists, without the array it makes.
  for (const k in u) if (Object.hasOwn(u, k) && !keys.includes(k)) return `unexpected field "${k}"`;
  for (const k of keys) if (!(k in u)) return `missing field "${k}"`;
  return null;
}

function boundedString(u: unknown, min: number, max: number): u is string {
  return typeof u === 'string' && u.length >= min && u.length <= max;
}

/** Field spec for the small schema helper below. */
type Spec =
  | {t: 'str'; min?: number; max: number}
  | {t: 'int'; min?: number}
  | {t: 'bin'; min?: number; max: number}
  | {t: 'bool'}
  | {t: 'enum'; of: readonly string[]}
  | {t: 'strs'; max: number; itemMax: number}
  | {t: 'budget'};

function checkField(v: unknown, spec: Spec): string | null {
  switch (spec.t) {
    case 'str':
      return boundedString(v, spec.min ?? 0, spec.max) ? null : `must be a string of ${spec.min ?? 0} to ${spec.max} characters`;
    case 'int':
      return typeof v === 'number' && Number.isSafeInteger(v) && v >= (spec.min ?? 0) ? null : `must be an integer >= ${spec.min ?? 0}`;
    case 'bin':
      return ArrayBuffer.isView(v) && v instanceof Uint8Array && v.length <= spec.max && v.length >= (spec.min ?? 0) ? null : `must be ${spec.min ?? 0} to ${spec.max} bytes`;
    case 'bool':
      return typeof v === 'boolean' ? null : 'must be a boolean';
    case 'enum':
      return typeof v === 'string' && spec.of.includes(v) ? null : `must be one of ${spec.of.join(', ')}`;
    case 'strs':
      return Array.isArray(v) && v.length <= spec.max && v.every((x) => boundedString(x, 1, spec.itemMax)) ? null : `must be at most ${spec.max} strings`;
    case 'budget': {
      if (!isRecord(v)) return 'must be a map';
      const k = exactKeys(v, ['fuel', 'memory_pages', 'wall_ms']);
      if (k) return k;
      for (const f of ['fuel', 'memory_pages', 'wall_ms']) {
        const x = v[f];
        if (typeof x !== 'number' || !Number.isSafeInteger(x) || x < 0) return `${f} must be a non-negative integer`;
      }
      return null;
    }
  }
}

/** A field's value read once into plain data, so what is checked is what gets encoded. */
function copyField(v: unknown, spec: Spec): unknown {
  // A copy into a plain Uint8Array, read through internal slots (no getter, species or
  // iterator of the value runs): a subclass or an own property cannot then run code while
  // the entry is encoded. A Proxy is no view, and fails the check.
  if (spec.t === 'bin' && ArrayBuffer.isView(v) && v instanceof Uint8Array) return new Uint8Array(v);
  if (spec.t === 'strs' && Array.isArray(v)) return Array.from(v);
  if (spec.t === 'budget' && isRecord(v)) return {...v};
  return v;
}

/**
 * A parser for a map body with exactly the given fields. It returns a fresh body in the
 * fields' order, built from values read once: a getter or proxy in the input cannot make
 * the ledger encode something other than what was validated.
 */
function shape<B>(fields: Readonly<Record<string, Spec>>): Parser<B> {
  const keys = Object.keys(fields);
  return (u: unknown) => {
    if (!isRecord(u)) return 'body must be a map';
    const k = exactKeys(u, keys);
    if (k) return k;
    const out: Record<string, unknown> = {};
    for (const key of keys) {
      const spec = fields[key] as Spec;
      const v = copyField(u[key], spec);
      const problem = checkField(v, spec);
      if (problem !== null) return `${key} ${problem}`;
      out[key] = v;
    }
    return out as B;
  };
}

const NAME: Spec = {t: 'str', min: 1, max: 64};
const HASH: Spec = {t: 'str', min: 64, max: 64};
const MAX_PAYLOAD = 1024 * 1024;
const TOKEN_ID: Spec = {t: 'str', min: 35, max: 35};
const APPROVAL_ID: Spec = {t: 'str', min: 1, max: 64};

const PARSERS: {readonly [K in EntryKind]: Parser<BodyByKind[K]>} = {
  'capsule.installed': shape({name: NAME, version: {t: 'str', min: 1, max: 160}, hash: HASH, instrumentedHash: HASH, manifest: {t: 'str', min: 1, max: 65536}}),
  'capsule.removed': shape({name: NAME, hash: HASH}),
  'session.started': shape({principal: {t: 'str', min: 1, max: 128}, capsule: NAME, hash: HASH, grants: {t: 'strs', max: 256, itemMax: 1024}, budget: {t: 'budget'}}),
  'session.ended': shape({status: {t: 'enum', of: ['ok', 'error']}, code: {t: 'str', max: 64}}),
  'bus.message': shape({topic: {t: 'str', min: 1, max: 256}, payload: {t: 'bin', max: MAX_PAYLOAD}, from: {t: 'str', min: 1, max: 128}, corr: {t: 'str', max: 128}}),
  'activation.started': shape({capsule: NAME, hash: HASH, input: {t: 'int'}, topic: {t: 'str', min: 1, max: 256}}),
  'activation.ended': shape({
    capsule: NAME,
    outcome: {t: 'str', min: 1, max: 64},
    fuelUsed: {t: 'int'},
    memoryPages: {t: 'int'},
    calls: {t: 'int'},
    message: {t: 'str', max: 1024},
  }),
  'host.call': shape({capsule: NAME, op: {t: 'str', min: 1, max: 64}, request: {t: 'bin', max: MAX_PAYLOAD}, status: {t: 'int', min: -1_000_000}, reply: {t: 'bin', max: MAX_PAYLOAD}}),
  'gate.denied': shape({
    code: {t: 'enum', of: ['GATE_DENIED']},
    layer: {t: 'str', min: 1, max: 64},
    rule: {t: 'str', min: 1, max: 256},
    resource: {t: 'str', max: 1024},
    reason: {t: 'str', min: 1, max: 1024},
    capsule: NAME,
  }),
  'capsule.log': shape({capsule: NAME, level: {t: 'enum', of: ['trace', 'debug', 'info', 'warn', 'error']}, text: {t: 'str', max: 4096}}),
  'sandbox.memory_refused': shape({capsule: NAME, code: {t: 'enum', of: ['SANDBOX_MEMORY_LIMIT']}, requestedPages: {t: 'int'}, limitPages: {t: 'int'}}),
  'principal.created': shape({name: NAME, role: {t: 'enum', of: ['owner', 'user', 'agent']}, key: {t: 'bin', min: 32, max: 32}}),
  'grant.issued': shape({
    id: TOKEN_ID,
    token: {t: 'bin', min: 1, max: 65536},
    sig: {t: 'bin', min: 64, max: 64},
    subject: NAME,
    parent: {t: 'str', max: 35},
    via: {t: 'str', min: 1, max: 128},
  }),
  'grant.revoked': shape({id: TOKEN_ID, reason: {t: 'str', max: 1024}}),
  'grant.used': shape({id: TOKEN_ID, chain: {t: 'strs', max: 16, itemMax: 35}, resource: {t: 'str', max: 4200}}),
  'gate.allowed': shape({
    layer: {t: 'str', min: 1, max: 64},
    rule: {t: 'str', min: 1, max: 256},
    token: {t: 'str', max: 35},
    resource: {t: 'str', max: 4200},
    capsule: {t: 'str', max: 64},
    reason: {t: 'str', max: 1024},
  }),
  'budget.charged': shape({tokens: {t: 'strs', max: 64, itemMax: 35}, fuel: {t: 'int'}, wall_ms: {t: 'int'}, messages: {t: 'int'}, egress_bytes: {t: 'int'}}),
  'budget.exhausted': shape({scope: {t: 'str', min: 1, max: 64}, axis: {t: 'str', min: 1, max: 32}, limit: {t: 'int'}, wanted: {t: 'int'}, capsule: {t: 'str', max: 64}}),
  'approval.requested': shape({id: APPROVAL_ID, capsule: {t: 'str', max: 64}, hash: HASH, resource: {t: 'str', min: 1, max: 4200}, reason: {t: 'str', max: 1024}, expires: {t: 'int'}}),
  'approval.answered': shape({
    id: APPROVAL_ID,
    answer: {t: 'enum', of: ['approved', 'denied', 'expired']},
    scope: {t: 'enum', of: ['', 'once', 'session', 'always']},
    by: {t: 'str', max: 64},
    via: {t: 'str', max: 64},
    reason: {t: 'str', max: 1024},
    token: {t: 'str', max: 35},
  }),
  'approval.used': shape({id: APPROVAL_ID, resource: {t: 'str', max: 4200}}),
  'uplink.opened': shape({connection: {t: 'str', min: 1, max: 32}, client: {t: 'str', max: 128}}),
  'uplink.refused': shape({connection: {t: 'str', min: 1, max: 32}, code: {t: 'str', min: 1, max: 64}, reason: {t: 'str', max: 1024}}),
  'uplink.closed': shape({connection: {t: 'str', min: 1, max: 32}, code: {t: 'str', max: 64}, reason: {t: 'str', max: 1024}, requests: {t: 'int'}}),
  'secret.set': shape({name: {t: 'str', min: 1, max: 64}, hosts: {t: 'strs', max: 16, itemMax: 253}}),
  'secret.removed': shape({name: {t: 'str', min: 1, max: 64}}),
  'service.result': shape({service: {t: 'str', min: 1, max: 64}, cause: {t: 'int'}, ok: {t: 'bool'}, code: {t: 'str', max: 64}, detail: {t: 'str', max: 4096}}),
  genesis(u) {
    if (!isRecord(u)) return 'body must be a map';
    const k = exactKeys(u, ['format', 'kernelKey']);
    if (k) return k;
    const {format, kernelKey} = u; // each field read once: what is checked is what is encoded
    if (format !== ENTRY_FORMAT_VERSION) return `unsupported format ${String(format)}`;
    if (!ArrayBuffer.isView(kernelKey) || !(kernelKey instanceof Uint8Array) || kernelKey.length !== 32) return 'kernelKey must be 32 bytes';
    return {format, kernelKey: new Uint8Array(kernelKey)};
  },
  note(u) {
    if (!isRecord(u)) return 'body must be a map';
    const k = exactKeys(u, ['text']);
    if (k) return k;
    const {text} = u;
    if (!boundedString(text, 1, MAX_NOTE_CHARS)) return `text must be 1 to ${MAX_NOTE_CHARS} characters`;
    return {text};
  },
  'kernel.boot'(u) {
    if (!isRecord(u)) return 'body must be a map';
    const k = exactKeys(u, ['version', 'mode']);
    if (k) return k;
    const {version, mode} = u;
    if (!boundedString(version, 1, 64)) return 'version must be 1 to 64 characters';
    if (mode !== 'start' && mode !== 'cli') return 'mode must be "start" or "cli"';
    return {version, mode};
  },
  'kernel.shutdown'(u) {
    if (!isRecord(u)) return 'body must be a map';
    const k = exactKeys(u, ['reason']);
    if (k) return k;
    const {reason} = u;
    if (!boundedString(reason, 1, 256)) return 'reason must be 1 to 256 characters';
    return {reason};
  },
  'ledger.reindexed': shape({indexed: {t: 'int'}, replaced: {t: 'int'}}),
};

/** Every kind, in a stable order. */
export const ENTRY_KINDS: readonly EntryKind[] = Object.freeze(Object.keys(PARSERS) as EntryKind[]);

/** True when `k` names a kind of the closed union. */
export function isEntryKind(k: unknown): k is EntryKind {
  return typeof k === 'string' && Object.prototype.hasOwnProperty.call(PARSERS, k);
}

/** Parse a body for `kind`; returns the typed body or a problem string. */
export function parseBody<K extends EntryKind>(kind: K, body: unknown): BodyByKind[K] | string {
  return (PARSERS[kind] as Parser<BodyByKind[K]>)(body);
}
