/**
 * The audit operations behind `astrid audit ...`: each opens the embedded kernel state,
 * does one thing, closes, and returns a typed, JSON-ready result.
 */
import {AstridError} from '../errors/index.js';
import {parsePublicKey, toHex, Blake3, loadOrCreateKernelKey, KEYS_DIR, KERNEL_KEY_FILE} from '../crypto/index.js';
import {
  exportBundle,
  isEntryKind,
  verifyBundle,
  OWNER_PRINCIPAL,
  type EntryKind,
  type EntryQuery,
  type ExportResult,
  type VerifyReport,
} from '../ledger/index.js';
import {prepareHome, systemClock} from '../kernel/index.js';
import {withKernel} from './with-kernel.js';
import {readFileSync, existsSync, statSync} from 'node:fs';
import {join} from 'node:path';
import {entryView, type EntryView} from './render.js';


export interface NoteResult {
  readonly seq: number;
  readonly hash: string;
  readonly time: number;
}

/** Append an owner annotation. @throws AstridError INPUT_INVALID when the text is empty or too long. */
export async function auditNote(home: string, text: string, session = 'cli'): Promise<NoteResult> {
  if (typeof text !== 'string' || text.length === 0) throw new AstridError('INPUT_INVALID', 'the note text must not be empty');
  return withKernel(home, 'write', async (k) => {
    try {
      const r = await k.ledger.append({kind: 'note', body: {text}, session, principal: OWNER_PRINCIPAL, actor: 'cli'});
      return {seq: r.seq, hash: toHex(r.hash), time: r.time};
    } catch (e) {
      if (e instanceof AstridError && e.code === 'LEDGER_ENTRY_INVALID') {
        throw new AstridError('INPUT_INVALID', e.message, {cause: e});
      }
      throw e;
    }
  });
}

export interface ShowQuery {
  readonly session?: string;
  readonly actor?: string;
  readonly kind?: string;
  readonly from?: number;
  readonly limit?: number;
}

/** Entries matching the query, oldest first. @throws AstridError INPUT_INVALID on a bad filter. */
export async function auditShow(home: string, q: ShowQuery): Promise<EntryView[]> {
  if (q.kind !== undefined && !isEntryKind(q.kind)) throw new AstridError('INPUT_INVALID', `unknown kind "${q.kind}"`);
  if (q.from !== undefined && (!Number.isSafeInteger(q.from) || q.from < 1)) throw new AstridError('INPUT_INVALID', '--from must be >= 1');
  if (q.limit !== undefined && (!Number.isSafeInteger(q.limit) || q.limit < 0)) throw new AstridError('INPUT_INVALID', '--limit must be >= 0');
  return withKernel(home, 'read', async (k) => {
    const query: EntryQuery = {
      ...(q.session === undefined ? {} : {session: q.session}),
      ...(q.actor === undefined ? {} : {actor: q.actor}),
      ...(q.kind === undefined ? {} : {kind: q.kind as EntryKind}),
      ...(q.from === undefined ? {} : {from: q.from}),
      ...(q.limit === undefined ? {} : {limit: q.limit}),
    };
    const out: EntryView[] = [];
    for await (const e of k.ledger.entries(query)) out.push(entryView(e));
    return out;
  });
}

/** An unsigned tail longer than this (in entry time) is an error for `audit verify`. */
export const MAX_UNSIGNED_TAIL_MS = 60_000;

/** Verify the home's ledger against the local kernel key. */
export async function auditVerify(home: string, onProgress?: (done: number, total: number) => void): Promise<VerifyReport> {
  return withKernel(home, 'read', async (k) => {
    const total = k.ledger.head.seq;
    return k.ledger.verify({trustedKey: k.publicKey, maxUnsignedTailMs: MAX_UNSIGNED_TAIL_MS, ...(k.anchor ? {anchor: k.anchor} : {}), ...(onProgress ? {onProgress: (n: number) => onProgress(n, total)} : {})});
  });
}

/**
 * Read a public key given inline (hex/base64/PEM) or as a path to a file holding one.
 * @throws AstridError INPUT_INVALID when it is neither.
 */
export function readPublicKeyArg(arg: string): Uint8Array {
  let text = arg;
  if (existsSync(arg) && statSync(arg).isFile()) {
    if (statSync(arg).size > 16 * 1024) throw new AstridError('INPUT_INVALID', `${arg} is too large to be a public key`);
    text = readFileSync(arg, 'utf8');
  }
  try {
    return parsePublicKey(text);
  } catch (cause) {
    throw new AstridError('INPUT_INVALID', `--pubkey: ${(cause as Error).message}`, {cause});
  }
}

/** Verify an exported bundle with only a public key; opens nothing in the home. */
export async function auditVerifyBundle(path: string, pubkey: string, onProgress?: (done: number) => void, expectHead?: string): Promise<VerifyReport> {
  const key = readPublicKeyArg(pubkey);
  if (!existsSync(path)) throw new AstridError('INPUT_INVALID', `no such file: ${path}`);
  let eh: {seq: number; hash?: string} | undefined;
  if (expectHead !== undefined) {
    const m = /^(\d{1,15})(?::([0-9a-fA-F]{64}))?$/.exec(expectHead);
    if (m === null) throw new AstridError('INPUT_INVALID', '--expect-head must be SEQ or SEQ:HASH (64 hex digits)');
    eh = m[2] === undefined ? {seq: Number(m[1])} : {seq: Number(m[1]), hash: m[2]};
  }
  return verifyBundle(path, key, {hasher: await Blake3.create(), ...(onProgress ? {onProgress} : {}), ...(eh ? {expectHead: eh} : {})});
}

/** Export the ledger as a bundle (after writing a checkpoint at the head). */
export async function auditExport(home: string, out: string, onProgress?: (done: number, total: number) => void): Promise<ExportResult & {kernelKey: string}> {
  return withKernel(home, 'write', async (k) => {
    const total = k.ledger.head.seq;
    const r = await exportBundle(k.ledger, out, {exportedAt: systemClock.now(), ...(onProgress ? {onProgress: (n: number) => onProgress(n, total)} : {})});
    return {...r, kernelKey: k.publicKeyHex};
  });
}

/** The kernel public key of a home (creating the key on first use). */
export async function kernelPublicKey(home: string): Promise<{publicKey: string; path: string}> {
  prepareHome(home);
  const key = loadOrCreateKernelKey(home);
  return {publicKey: toHex(key.publicKey), path: join(home, KEYS_DIR, KERNEL_KEY_FILE)};
}
