/**
 * The audit operations behind `astrid audit ...`: note, show, verify and export run in the
 * kernel (the daemon's, or a one-shot one); verifying a bundle and reading the public key
 * touch no ledger and run where they are called.
 */
import {Type} from '@sinclair/typebox';
import {readFileSync, existsSync, statSync} from 'node:fs';
import {join, isAbsolute} from 'node:path';
import {AstridError} from '../errors/index.js';
import {parsePublicKey, toHex, Blake3, loadOrCreateKernelKey, KEYS_DIR, KERNEL_KEY_FILE, KERNEL_PUB_FILE} from '../crypto/index.js';
import {ID_RE, exportBundle, isEntryKind, isId, verifyBundle, OWNER_PRINCIPAL, type EntryKind, type EntryQuery, type VerifyReport} from '../ledger/index.js';
import {prepareHome} from './home.js';
import {systemClock} from './clock.js';
import {defineOp, streamItems} from './op.js';
import {entryView} from './views.js';

export interface NoteResult {
  readonly seq: number;
  readonly hash: string;
  readonly time: number;
}

export interface ReindexResult {
  /** The indexes now cover the entries up to this seq. */
  readonly indexed: number;
  /** Index keys of those entries that the rebuild did not write, deleted (see LedgerReindexedBody). */
  readonly replaced: number;
  /** The `ledger.reindexed` entry recording it. */
  readonly entry: {readonly seq: number; readonly hash: string};
}

export interface ShowQuery {
  readonly session?: string;
  readonly actor?: string;
  readonly kind?: string;
  readonly from?: number;
  readonly limit?: number;
}

/** audit.show sends entries in chunks of at most this many, or about this many stored bytes (hex in JSON doubles them). */
const SHOW_CHUNK_ENTRIES = 500;
const SHOW_CHUNK_BYTES = 128 * 1024;

/** An unsigned tail longer than this (in entry time) is an error for `audit verify`. */
export const MAX_UNSIGNED_TAIL_MS = 60_000;

const Str = (max: number) => Type.String({maxLength: max});
const Int = Type.Integer({minimum: -(2 ** 53) + 1, maximum: 2 ** 53 - 1});

export const auditOps = {
  /** Append an owner annotation. @throws AstridError INPUT_INVALID when the text is empty or too long. */
  'audit.note': defineOp({
    mode: 'write',
    args: Type.Object({text: Str(1 << 20), session: Type.Optional(Str(128))}, {additionalProperties: false}),
    precheck(a) {
      if (a.text.length === 0) throw new AstridError('INPUT_INVALID', 'the note text must not be empty');
    },
    async run(rt, a): Promise<NoteResult> {
      try {
        const r = await rt.k.ledger.append({kind: 'note', body: {text: a.text}, session: a.session ?? 'cli', principal: OWNER_PRINCIPAL, actor: 'cli'});
        return {seq: r.seq, hash: toHex(r.hash), time: r.time};
      } catch (e) {
        if (e instanceof AstridError && e.code === 'LEDGER_ENTRY_INVALID') throw new AstridError('INPUT_INVALID', e.message, {cause: e});
        throw e;
      }
    },
  }),

  /** Entries matching the query, oldest first. @throws AstridError INPUT_INVALID on a bad filter. */
  'audit.show': defineOp({
    mode: 'read',
    args: Type.Object(
      {session: Type.Optional(Str(256)), actor: Type.Optional(Str(256)), kind: Type.Optional(Str(64)), from: Type.Optional(Int), limit: Type.Optional(Int)},
      {additionalProperties: false},
    ),
    precheck(q) {
      if (q.kind !== undefined && !isEntryKind(q.kind)) throw new AstridError('INPUT_INVALID', `unknown kind "${q.kind}"`);
      // An id no entry can carry is a mistake to report, not a query that finds nothing.
      for (const [flag, id] of [['--session', q.session], ['--actor', q.actor]] as const) {
        if (id !== undefined && !isId(id)) throw new AstridError('INPUT_INVALID', `${flag} must be an id (${ID_RE.source}): ${JSON.stringify(id).slice(0, 80)}`);
      }
      if (q.from !== undefined && q.from < 1) throw new AstridError('INPUT_INVALID', '--from must be >= 1');
      if (q.limit !== undefined && q.limit < 0) throw new AstridError('INPUT_INVALID', '--limit must be >= 0');
    },
    async run(rt, q, io): Promise<{count: number}> {
      const query: EntryQuery = {
        ...(q.session === undefined ? {} : {session: q.session}),
        ...(q.actor === undefined ? {} : {actor: q.actor}),
        ...(q.kind === undefined ? {} : {kind: q.kind as EntryKind}),
        ...(q.from === undefined ? {} : {from: q.from}),
        ...(q.limit === undefined ? {} : {limit: q.limit}),
      };
      // streamed in chunks (a whole ledger does not fit one frame), waiting for the caller to keep up
      return streamItems(io, rt.k.ledger.entries(query), {chunk: SHOW_CHUNK_ENTRIES, chunkBytes: SHOW_CHUNK_BYTES, size: (e) => e.bytes.length, map: entryView});
    },
  }),

  /** Verify the home's ledger against the local kernel key. */
  'audit.verify': defineOp({
    mode: 'read',
    args: Type.Object({}, {additionalProperties: false}),
    async run(rt, _a, io): Promise<VerifyReport> {
      const k = rt.k;
      const total = k.ledger.head.seq;
      return k.ledger.verify({trustedKey: k.publicKey, maxUnsignedTailMs: MAX_UNSIGNED_TAIL_MS, ...(k.anchor ? {anchor: k.anchor} : {}), onProgress: (n: number) => io.progress(n, total)});
    },
  }),

  /** Rebuild the session and actor indexes from the entries (after INDEX_MISMATCH), and record it. */
  'audit.reindex': defineOp({
    mode: 'write',
    args: Type.Object({}, {additionalProperties: false}),
    async run(rt, _a, io): Promise<ReindexResult> {
      const ledger = rt.k.ledger;
      const r = await ledger.reindex((d, t) => io.progress(d, t));
      const e = await ledger.append({kind: 'ledger.reindexed', body: r, session: 'cli', principal: OWNER_PRINCIPAL, actor: 'cli'});
      return {...r, entry: {seq: e.seq, hash: toHex(e.hash)}};
    },
  }),

  /** Export the ledger as a bundle (after writing a checkpoint at the head). The path must be absolute. */
  'audit.export': defineOp({
    mode: 'write',
    args: Type.Object({out: Type.String({minLength: 1, maxLength: 4096})}, {additionalProperties: false}),
    async run(rt, a, io) {
      if (!isAbsolute(a.out) || a.out.includes('\u0000')) throw new AstridError('INPUT_INVALID', '--out must be an absolute path');
      const total = rt.k.ledger.head.seq;
      const r = await exportBundle(rt.k.ledger, a.out, {exportedAt: systemClock.now(), onProgress: (n: number) => io.progress(n, total)});
      return {...r, kernelKey: rt.k.publicKeyHex};
    },
  }),
};

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
    // Not a key, and it reads like a path (a slash, or a key file's ending): name what is wrong.
    if (text === arg && !existsSync(arg) && /[/\\]|\.(pub|pem|key)$/i.test(arg)) throw new AstridError('INPUT_INVALID', `--pubkey: no such file: ${arg}`, {cause});
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

/** The kernel public key of a home (creating the key on first use). */
export async function kernelPublicKey(home: string): Promise<{publicKey: string; path: string; pubPath: string}> {
  prepareHome(home);
  const key = loadOrCreateKernelKey(home);
  // path: the private key (where the identity lives); pubPath: the file to hand to verifiers.
  return {publicKey: toHex(key.publicKey), path: join(home, KEYS_DIR, KERNEL_KEY_FILE), pubPath: join(home, KEYS_DIR, KERNEL_PUB_FILE)};
}
