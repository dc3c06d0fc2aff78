/**
 * Audit bundles: a self-contained export of the ledger that a third party can verify with
 * only the kernel's public key. Format (JSON Lines, UTF-8, one object per line; see
 * docs/ledger.md for the normative text):
 *   {"format":"astrid-ledger-bundle","version":1,"kernelKey":hex,"head":{"seq":n,"hash":hex},"exportedAt":ms}
 *   {"t":"c","seq":n,"hash":hex,"time":ms,"key":hex,"sig":hex}        every checkpoint, in seq order
 *   {"t":"e","seq":n,"hash":hex,"entry":base64}                       every entry, in seq order
 *   {"t":"end","entries":n,"checkpoints":m}
 * Export first writes a checkpoint at the head, so a complete bundle is fully signed.
 */
import {createReadStream} from 'node:fs';
import {open, rename, rm, type FileHandle} from 'node:fs/promises';
import {AstridError} from '../errors/index.js';
import {Blake3, fromHex, toHex} from '../crypto/index.js';
import {MAX_ENTRY_BYTES} from './codec.js';
import {encodeCheckpoint, CHECKPOINT_FORMAT_VERSION} from './checkpoint.js';
import type {Ledger} from './ledger.js';
import {ChainVerifier, type VerifyReport} from './verify.js';

export const BUNDLE_FORMAT = 'astrid-ledger-bundle';
export const BUNDLE_VERSION = 1;
/** Longest accepted line: a maximal entry in base64 plus the JSON around it. */
export const MAX_BUNDLE_LINE = Math.ceil(((MAX_ENTRY_BYTES + 32) * 4) / 3) + 1024;

export interface ExportResult {
  readonly path: string;
  readonly entries: number;
  readonly checkpoints: number;
  readonly head: {readonly seq: number; readonly hash: string};
}

/**
 * Export the whole ledger to `path` (written to a temporary file, then renamed; mode 0600).
 * @throws AstridError LEDGER_* from the ledger, LEDGER_BUNDLE_INVALID on I/O failure.
 */
export async function exportBundle(
  ledger: Ledger,
  path: string,
  options: {exportedAt: number; onProgress?: (n: number) => void},
): Promise<ExportResult> {
  if (ledger.mode === 'write') await ledger.checkpoint();
  const head = ledger.durableHead;
  const kernelKey = ledger.kernelKey;
  if (kernelKey === undefined) throw new AstridError('LEDGER_CORRUPT', 'the ledger has no genesis entry to export');
  const tmp = `${path}.tmp-${process.pid}`;
  let fh: FileHandle | undefined;
  try {
    fh = await open(tmp, 'w', 0o600);
  } catch (cause) {
    throw new AstridError('LEDGER_BUNDLE_INVALID', `cannot write ${path}: ${(cause as Error).message}`, {cause});
  }
  let entries = 0;
  let checkpoints = 0;
  try {
    const out: string[] = [];
    let size = 0;
    const push = async (line: string): Promise<void> => {
      out.push(line);
      size += line.length;
      if (size > 1 << 20) {
        await (fh as FileHandle).write(out.join('\n') + '\n');
        out.length = 0;
        size = 0;
      }
    };
    await push(
      JSON.stringify({format: BUNDLE_FORMAT, version: BUNDLE_VERSION, kernelKey: toHex(kernelKey), head: {seq: head.seq, hash: toHex(head.hash)}, exportedAt: options.exportedAt}),
    );
    for await (const c of ledger.checkpoints()) {
      if (c.seq > head.seq) continue;
      await push(JSON.stringify({t: 'c', seq: c.seq, hash: toHex(c.hash), time: c.time, key: toHex(c.key), sig: toHex(c.sig)}));
      checkpoints++;
    }
    for await (const e of ledger.entries({to: head.seq})) {
      await push(JSON.stringify({t: 'e', seq: e.seq, hash: toHex(e.hash), entry: Buffer.from(e.bytes).toString('base64')}));
      entries++;
      if (entries % 10_000 === 0) options.onProgress?.(entries);
    }
    await push(JSON.stringify({t: 'end', entries, checkpoints}));
    if (out.length > 0) await fh.write(out.join('\n') + '\n');
    await fh.sync();
    await fh.close();
    fh = undefined;
    try {
      await rename(tmp, path);
    } catch (cause) {
      // e.g. a directory there: a file system error, not a bug
      throw new AstridError('LEDGER_BUNDLE_INVALID', `cannot write ${path}: ${(cause as Error).message}`, {cause});
    }
  } catch (e) {
    await fh?.close().catch(() => undefined);
    await rm(tmp, {force: true});
    throw e;
  }
  options.onProgress?.(entries);
  return {path, entries, checkpoints, head: {seq: head.seq, hash: toHex(head.hash)}};
}

/** Yield lines of a file, refusing any longer than `max` characters. */
async function* readLines(path: string, max: number): AsyncGenerator<string> {
  let buf = '';
  for await (const chunk of createReadStream(path, {encoding: 'utf8', highWaterMark: 1 << 20})) {
    buf += chunk as string;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      if (line.length > max) throw new AstridError('LEDGER_BUNDLE_INVALID', `a line exceeds ${max} characters`);
      yield line;
    }
    if (buf.length > max) throw new AstridError('LEDGER_BUNDLE_INVALID', `a line exceeds ${max} characters`);
  }
  if (buf.length > 0) yield buf;
}

const HEX64 = /^[0-9a-f]{64}$/;
const HEX128 = /^[0-9a-f]{128}$/;
const B64 = /^[A-Za-z0-9+/]*={0,2}$/;
const isSeq = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= 1;

/**
 * Verify a bundle file with only the trusted kernel public key. Every entry must chain, and
 * the head must be covered by a checkpoint signed with that key.
 * @throws AstridError LEDGER_BUNDLE_INVALID when the file cannot be read at all or is not a bundle.
 */
export async function verifyBundle(
  path: string,
  trustedKey: Uint8Array,
  options: {hasher?: Blake3; onProgress?: (n: number) => void; expectHead?: {seq: number; hash?: string}} = {},
): Promise<VerifyReport> {
  const hasher = options.hasher ?? (await Blake3.create());
  const v = new ChainVerifier(hasher, trustedKey, 1000, true);
  let lineNo = 0;
  let header = false;
  let ended = false;
  let phase: 'c' | 'e' = 'c';
  let headerHead: {seq: number; hash: string} | undefined;
  let lastSeq = 0;
  /** Checkpoint lines read, for the end line's count. */
  let cpLines = 0;
  const bad = (msg: string): void => v.external('BUNDLE_MALFORMED', lastSeq, `line ${lineNo}: ${msg}`);
  try {
    for await (const line of readLines(path, MAX_BUNDLE_LINE)) {
      lineNo++;
      if (line.length === 0) continue;
      let o: unknown;
      try {
        o = JSON.parse(line);
      } catch {
        bad('not JSON');
        continue;
      }
      if (typeof o !== 'object' || o === null || Array.isArray(o)) {
        bad('not an object');
        continue;
      }
      const r = o as Record<string, unknown>;
      if (!header) {
        if (r.format !== BUNDLE_FORMAT || r.version !== BUNDLE_VERSION) {
          throw new AstridError('LEDGER_BUNDLE_INVALID', `${path} is not an ${BUNDLE_FORMAT} v${BUNDLE_VERSION} file`);
        }
        header = true;
        const h = r.head as {seq?: unknown; hash?: unknown} | undefined;
        if (h !== null && typeof h === 'object' && isSeq(h.seq) && typeof h.hash === 'string' && HEX64.test(h.hash)) headerHead = {seq: h.seq, hash: h.hash};
        else bad('the header has no valid head');
        continue;
      }
      if (ended) {
        bad('content after the end line');
        continue;
      }
      if (r.t === 'c') {
        cpLines++;
        if (phase !== 'c') bad('checkpoint after entries');
        if (!isSeq(r.seq) || typeof r.hash !== 'string' || !HEX64.test(r.hash) || typeof r.key !== 'string' || !HEX64.test(r.key)) {
          bad('malformed checkpoint line');
          continue;
        }
        if (typeof r.time !== 'number' || !Number.isSafeInteger(r.time) || r.time < 0 || typeof r.sig !== 'string' || (r.sig !== '' && !HEX128.test(r.sig))) {
          bad('malformed checkpoint line');
          continue;
        }
        v.checkpoint({
          keySeq: r.seq,
          bytes: encodeCheckpoint({v: CHECKPOINT_FORMAT_VERSION, seq: r.seq, hash: fromHex(r.hash), time: r.time, key: fromHex(r.key), sig: fromHex(r.sig)}),
        });
      } else if (r.t === 'e') {
        phase = 'e';
        if (!isSeq(r.seq) || typeof r.hash !== 'string' || !HEX64.test(r.hash) || typeof r.entry !== 'string' || !B64.test(r.entry)) {
          bad('malformed entry line');
          continue;
        }
        const bytes = Buffer.from(r.entry, 'base64');
        const value = new Uint8Array(32 + bytes.length);
        value.set(fromHex(r.hash), 0);
        value.set(bytes, 32);
        lastSeq = r.seq;
        v.entry(r.seq, value);
        if (v.count % 10_000 === 0) options.onProgress?.(v.count);
      } else if (r.t === 'end') {
        ended = true;
        if (r.entries !== v.count) bad(`end line says ${String(r.entries)} entries, found ${v.count}`);
        if (r.checkpoints !== cpLines) bad(`end line says ${String(r.checkpoints)} checkpoints, found ${cpLines}`);
      } else {
        bad('unknown line type');
      }
    }
  } catch (e) {
    if (e instanceof AstridError) throw e;
    throw new AstridError('LEDGER_BUNDLE_INVALID', `cannot read ${path}: ${(e as Error).message}`, {cause: e});
  }
  if (!header) throw new AstridError('LEDGER_BUNDLE_INVALID', `${path} is empty or not a bundle`);
  if (!ended) v.external('BUNDLE_MALFORMED', lastSeq + 1, 'the bundle has no end line (cut short)');
  // The header is unsigned, so this only catches a careless cut; --expect-head is the real check.
  if (headerHead !== undefined && (headerHead.seq !== v.head.seq || headerHead.hash !== v.head.hash)) {
    v.external('BUNDLE_HEAD_MISMATCH', Math.min(headerHead.seq, v.head.seq) + 1, `the header says the head is #${headerHead.seq}, the entries end at #${v.head.seq}`);
  }
  const eh = options.expectHead;
  if (eh !== undefined) {
    const head = v.head;
    if (head.seq !== eh.seq || (eh.hash !== undefined && head.hash !== eh.hash.toLowerCase())) {
      // A bundle cut back to an earlier checkpoint verifies on its own; only the expected head exposes it.
      v.external('BUNDLE_HEAD_MISMATCH', Math.min(head.seq, eh.seq) + 1, `the bundle ends at #${head.seq} ${head.hash.slice(0, 16)}…, expected #${eh.seq}${eh.hash ? ` ${eh.hash.slice(0, 16)}…` : ''}`);
    }
  }
  options.onProgress?.(v.count);
  return v.finish();
}
