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

/** Body type for each kind. */
export interface BodyByKind {
  genesis: GenesisBody;
  note: NoteBody;
  'kernel.boot': KernelBootBody;
  'kernel.shutdown': KernelShutdownBody;
}
export type EntryKind = keyof BodyByKind;
export type EntryBody = BodyByKind[EntryKind];

type Parser<B> = (u: unknown) => B | string;

function isRecord(u: unknown): u is Record<string, unknown> {
  return typeof u === 'object' && u !== null && !Array.isArray(u) && !(u instanceof Uint8Array);
}

function exactKeys(u: Record<string, unknown>, keys: readonly string[]): string | null {
  const have = Object.keys(u);
  for (const k of have) if (!keys.includes(k)) return `unexpected field "${k}"`;
  for (const k of keys) if (!(k in u)) return `missing field "${k}"`;
  return null;
}

function boundedString(u: unknown, min: number, max: number): u is string {
  return typeof u === 'string' && u.length >= min && u.length <= max;
}

const PARSERS: {readonly [K in EntryKind]: Parser<BodyByKind[K]>} = {
  genesis(u) {
    if (!isRecord(u)) return 'body must be a map';
    const k = exactKeys(u, ['format', 'kernelKey']);
    if (k) return k;
    if (u.format !== ENTRY_FORMAT_VERSION) return `unsupported format ${String(u.format)}`;
    if (!(u.kernelKey instanceof Uint8Array) || u.kernelKey.length !== 32) return 'kernelKey must be 32 bytes';
    return {format: u.format, kernelKey: u.kernelKey};
  },
  note(u) {
    if (!isRecord(u)) return 'body must be a map';
    const k = exactKeys(u, ['text']);
    if (k) return k;
    if (!boundedString(u.text, 1, MAX_NOTE_CHARS)) return `text must be 1 to ${MAX_NOTE_CHARS} characters`;
    return {text: u.text};
  },
  'kernel.boot'(u) {
    if (!isRecord(u)) return 'body must be a map';
    const k = exactKeys(u, ['version', 'mode']);
    if (k) return k;
    if (!boundedString(u.version, 1, 64)) return 'version must be 1 to 64 characters';
    if (u.mode !== 'start' && u.mode !== 'cli') return 'mode must be "start" or "cli"';
    return {version: u.version, mode: u.mode};
  },
  'kernel.shutdown'(u) {
    if (!isRecord(u)) return 'body must be a map';
    const k = exactKeys(u, ['reason']);
    if (k) return k;
    if (!boundedString(u.reason, 1, 256)) return 'reason must be 1 to 256 characters';
    return {reason: u.reason};
  },
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
