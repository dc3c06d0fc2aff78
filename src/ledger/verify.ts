/**
 * Chain verification. Walks entries in key order and reports typed issues, each with a
 * stable code and the seq where it starts; never a bare boolean. The same ChainVerifier
 * serves the on-disk ledger and exported bundles.
 *
 * Per entry at position n (its key): the value must split into hash || bytes and decode
 * (ENTRY_UNDECODABLE); its seq must equal n (ENTRY_OUT_OF_ORDER); BLAKE3(prev || bytes)
 * must equal the stored hash (ENTRY_MODIFIED); its prev must equal the hash of entry n-1
 * (LINK_BROKEN); a gap in positions is ENTRY_MISSING. One issue per entry, the most
 * specific; the link check after a modified entry accepts either the stored or the
 * recomputed hash so that one edit yields one issue. Checkpoints: signature and key
 * (CHECKPOINT_BAD_SIGNATURE, CHECKPOINT_FOREIGN_KEY, CHECKPOINT_UNSIGNED,
 * CHECKPOINT_UNDECODABLE), the hash they sign against the entry (CHECKPOINT_MISMATCH),
 * and the head against the highest signed seq (LEDGER_TRUNCATED).
 */
import {Blake3, BLAKE3_DIRECT_MAX, bytesEqual, readU64be, toHex} from '../crypto/index.js';
import {randomBytes} from 'node:crypto';
import {checkStoredEntry, decodeEntry, storedIds, type CheckedEntry} from './codec.js';
import {ENTRY_KINDS, type EntryKind} from './kinds.js';
import {INDEXED_KEY, P_ACTOR, P_CHECKPOINT, P_ENTRY, P_SESSION, entryKey, indexedMark, prefixRange, seqOfKey} from './keys.js';
import {checkCheckpoint, decodeCheckpoint, type Checkpoint} from './checkpoint.js';
import type {LedgerStore} from './store.js';

export const VERIFY_ISSUE_CODES = [
  'ENTRY_UNDECODABLE',
  'ENTRY_MODIFIED',
  'ENTRY_OUT_OF_ORDER',
  'ENTRY_MISSING',
  'LINK_BROKEN',
  'GENESIS_INVALID',
  'LEDGER_TRUNCATED',
  'CHECKPOINT_MISMATCH',
  'CHECKPOINT_BAD_SIGNATURE',
  'CHECKPOINT_FOREIGN_KEY',
  'CHECKPOINT_UNSIGNED',
  'CHECKPOINT_UNDECODABLE',
  'TAIL_UNCHECKPOINTED',
  'CHECKPOINT_MISSING',
  'BUNDLE_HEAD_MISMATCH',
  'ANCHOR_MISMATCH',
  'NO_TRUSTED_KEY',
  'MORE_ISSUES',
  'BUNDLE_MALFORMED',
  'INDEX_MISMATCH',
] as const;
export type VerifyIssueCode = (typeof VERIFY_ISSUE_CODES)[number];

export interface VerifyIssue {
  readonly code: VerifyIssueCode;
  /** The seq where the problem starts (0 when it concerns no particular entry). */
  readonly seq: number;
  /** `error` makes the report fail; `warning` is information (e.g. an unsigned tail). */
  readonly severity: 'error' | 'warning';
  readonly message: string;
}

export interface VerifyReport {
  /** True when there is no issue of severity `error`. */
  readonly ok: boolean;
  readonly head: {readonly seq: number; readonly hash: string};
  readonly entries: number;
  readonly checkpoints: {readonly count: number; readonly valid: number; readonly lastSignedSeq: number};
  readonly issues: readonly VerifyIssue[];
}

export interface VerifyOptions {
  /** The kernel public key checkpoints must be signed with. Without it, checkpoints cannot be trusted. */
  readonly trustedKey: Uint8Array | undefined;
  readonly hasher?: Blake3;
  /** Called every `progressEvery` entries with the number verified so far. */
  readonly onProgress?: (verified: number) => void;
  readonly progressEvery?: number;
  /** Stop collecting after this many issues (default 1000); the report says how many were cut. */
  readonly maxIssues?: number;
  /**
   * When set, an unsigned tail whose entries run more than this many ms past the newest
   * valid checkpoint is an error, not a warning (`astrid audit verify` uses 60 s: the kernel
   * checkpoints every 5 s when busy and at every close, so only a crash leaves a short tail).
   */
  readonly maxUnsignedTailMs?: number;
  /** The kernel's remembered newest checkpoint (see LedgerOptions.anchor): it must still be there. */
  readonly anchor?: {readonly seq: number; readonly hash: Uint8Array};
  /**
   * Verify only the tail after the anchor (the daemon's fast boot): entries 1..anchor.seq are
   * taken as verified when the anchor's signed checkpoint is present and valid and the entry
   * at anchor.seq still carries the anchored hash; the walk starts at anchor.seq + 1 linked to
   * it. Tampering below the anchor that keeps those two intact is found only by a full
   * verification (`astrid audit verify`). Requires `anchor`.
   */
  readonly tailOnly?: boolean;
}

/** A raw checkpoint as found in storage: its key seq and bytes. */
export interface RawCheckpoint {
  readonly keySeq: number | undefined;
  readonly bytes: Uint8Array;
}

const ZERO = new Uint8Array(32);

/** a[ai, ai + 32) equals b[bi, bi + 32). */
function equalAt(a: Uint8Array, ai: number, b: Uint8Array, bi: number): boolean {
  let diff = 0;
  for (let i = 0; i < 32; i++) diff |= (a[ai + i] as number) ^ (b[bi + i] as number);
  return diff === 0;
}

/** Incremental verifier: feed checkpoints first, then entries in position order, then finish(). */
export class ChainVerifier {
  readonly #issues: VerifyIssue[] = [];
  readonly #hasher: Blake3;
  readonly #trusted: Uint8Array | undefined;
  readonly #maxIssues: number;
  #cut = 0;
  /** Signed, valid checkpoints by seq, waiting for their entry. */
  readonly #cpBySeq = new Map<number, Checkpoint[]>();
  #cpCount = 0;
  #cpValid = 0;
  #lastSignedSeq = 0;
  #indexedSeq = 0;
  #expected = 1;
  #count = 0;
  /** The previous entry's stored value (its hash is the first 32 bytes), or 32 zero bytes before the first. */
  #prevValue: Uint8Array | undefined = ZERO;
  #prevComputed: Uint8Array | undefined = ZERO;
  #headSeq = 0;
  /** The last entry's stored value (hash first), or 32 zero bytes. */
  #headValue: Uint8Array = ZERO;
  readonly #checked: CheckedEntry = {seq: 0, time: 0, prevAt: 0, kind: 0};

  readonly #tailSeverity: 'error' | 'warning';
  /** Time of the newest valid checkpoint, and of the newest entry seen. */
  #lastSignedTime = 0;
  #headTime = 0;
  #scratch = new Uint8Array(4096);
  /** Where computed hashes are kept, alternately: this entry's, and the one before it. */
  readonly #computed = [new Uint8Array(32), new Uint8Array(32)];
  #flip = 0;
  /** See VerifyOptions.anchor. */
  anchor: {readonly seq: number; readonly hash: Uint8Array} | undefined;
  #anchorCheckpoint = false;
  #anchorEntry = false;
  /** See VerifyOptions.maxUnsignedTailMs. */
  maxUnsignedTailMs: number | undefined;

  /**
   * @param requireFullCoverage when true an entry not covered by a signed checkpoint is an
   *   error (bundles: an export always ends with a checkpoint at its head).
   */
  constructor(hasher: Blake3, trustedKey: Uint8Array | undefined, maxIssues = 1000, requireFullCoverage = false) {
    this.#tailSeverity = requireFullCoverage ? 'error' : 'warning';
    this.#hasher = hasher;
    this.#trusted = trustedKey;
    this.#maxIssues = maxIssues;
    if (trustedKey === undefined) {
      this.#issue('NO_TRUSTED_KEY', 0, 'error', 'no trusted kernel public key: checkpoints cannot be checked');
    }
  }

  /** The store's indexes claim every entry up to `seq` (its 'I' mark): a chain ending before it was cut. */
  indexedThrough(seq: number): void {
    this.#indexedSeq = seq;
  }

  /** Record an issue found outside the chain walk (e.g. a malformed bundle line). */
  external(code: VerifyIssueCode, seq: number, message: string): void {
    this.#issue(code, seq, 'error', message);
  }

  #issue(code: VerifyIssueCode, seq: number, severity: 'error' | 'warning', message: string): void {
    if (this.#issues.length >= this.#maxIssues) {
      this.#cut++;
      return;
    }
    this.#issues.push({code, seq, severity, message});
  }

  /** Feed one stored checkpoint record. */
  checkpoint(raw: RawCheckpoint): void {
    this.#cpCount++;
    const c = decodeCheckpoint(raw.bytes);
    if (typeof c === 'string') {
      this.#issue('CHECKPOINT_UNDECODABLE', raw.keySeq ?? 0, 'error', `checkpoint record cannot be decoded: ${c}`);
      return;
    }
    if (raw.keySeq !== undefined && raw.keySeq !== c.seq) {
      this.#issue('CHECKPOINT_UNDECODABLE', raw.keySeq, 'error', `checkpoint stored at ${raw.keySeq} claims seq ${c.seq}`);
      return;
    }
    if (this.#trusted === undefined) return;
    const check = checkCheckpoint(c, this.#trusted);
    switch (check) {
      case 'valid':
        if (this.anchor !== undefined && c.seq === this.anchor.seq && bytesEqual(c.hash, this.anchor.hash)) this.#anchorCheckpoint = true;
        this.#cpValid++;
        if (c.seq >= this.#lastSignedSeq) this.#lastSignedTime = c.time;
        this.#lastSignedSeq = Math.max(this.#lastSignedSeq, c.seq);
        this.#cpBySeq.set(c.seq, [...(this.#cpBySeq.get(c.seq) ?? []), c]);
        return;
      case 'unsigned':
        this.#issue('CHECKPOINT_UNSIGNED', c.seq, 'error', `checkpoint at seq ${c.seq} carries no signature`);
        return;
      case 'foreign-key':
        this.#issue('CHECKPOINT_FOREIGN_KEY', c.seq, 'error', `checkpoint at seq ${c.seq} is signed by key ${toHex(c.key).slice(0, 16)}…, not the trusted kernel key`);
        return;
      case 'bad-signature':
        this.#issue('CHECKPOINT_BAD_SIGNATURE', c.seq, 'error', `checkpoint at seq ${c.seq} has an invalid signature (forged or altered)`);
        return;
    }
  }

  /** Feed the entry stored at position `keySeq` (undefined when the key itself is malformed). */
  entry(keySeq: number | undefined, value: Uint8Array): void {
    this.#count++;
    if (keySeq === undefined) {
      this.#issue('ENTRY_UNDECODABLE', this.#expected, 'error', 'an entry key is malformed');
      return;
    }
    if (keySeq < this.#expected) {
      this.#issue('ENTRY_OUT_OF_ORDER', keySeq, 'error', `entry at ${keySeq} appears after ${this.#expected - 1}`);
      return;
    }
    let gap = false;
    if (keySeq > this.#expected) {
      const n = keySeq - this.#expected;
      this.#issue('ENTRY_MISSING', this.#expected, 'error', n === 1 ? `entry ${this.#expected} is missing (deleted)` : `entries ${this.#expected}..${keySeq - 1} are missing (deleted)`);
      gap = true;
    }
    this.#expected = keySeq + 1;
    // The previous entry's stored hash is the first 32 bytes of its value: kept as the value,
    // compared in place (no subarray per entry).
    const prevValue = this.#prevValue;
    const prevComputed = this.#prevComputed;
    this.#prevValue = undefined;
    this.#prevComputed = undefined;
    this.#headSeq = keySeq;
    if (value.length <= 32) {
      this.#issue('ENTRY_UNDECODABLE', keySeq, 'error', `entry ${keySeq} is too short to hold a hash and an entry`);
      return;
    }
    this.#prevValue = value;
    this.#headValue = value;
    if (this.anchor !== undefined && keySeq === this.anchor.seq && bytesEqual(value.subarray(0, 32), this.anchor.hash)) this.#anchorEntry = true;
    if (this.#cpBySeq.has(keySeq)) this.#checkCheckpointsAt(keySeq, value.subarray(0, 32));
    // Where prev is (an array and an offset), the entry's seq, time and kind.
    let prevArr: Uint8Array;
    let prevAt: number;
    let seq: number;
    let kind: EntryKind;
    let genesisKey: Uint8Array | undefined;
    const c = this.#checked;
    if (checkStoredEntry(value, c)) {
      // Valid, and not a genesis: fields read in place.
      prevArr = value;
      prevAt = c.prevAt;
      seq = c.seq;
      this.#headTime = c.time;
      kind = ENTRY_KINDS[c.kind] as EntryKind;
    } else {
      const dec = decodeEntry(value.subarray(32));
      if (!dec.ok) {
        this.#issue('ENTRY_UNDECODABLE', keySeq, 'error', `entry ${keySeq} cannot be decoded: ${dec.problem}`);
        return;
      }
      const e = dec.entry;
      prevArr = e.prev;
      prevAt = 0;
      seq = e.seq;
      this.#headTime = e.time;
      kind = e.kind;
      if (e.kind === 'genesis') genesisKey = e.body.kernelKey;
    }
    // prev || bytes in one reused scratch buffer: one hash update instead of two. The value
    // is hash || bytes, so copy it whole and put prev over the hash.
    const need = value.length;
    let computed: Uint8Array;
    const direct = need <= BLAKE3_DIRECT_MAX ? this.#hasher.buffer : undefined;
    if (direct !== undefined) {
      // Straight into the hasher's buffer, hashed in place; the digest is copied into one
      // of two alternating arrays (the previous entry's is still needed for this link).
      direct.set(value, 0);
      for (let i = 0; i < 32; i++) direct[i] = prevArr[prevAt + i] as number;
      this.#hasher.hashBuffer(need);
      computed = this.#computed[(this.#flip ^= 1)] as Uint8Array;
      for (let i = 0; i < 32; i++) computed[i] = direct[i] as number;
    } else {
      if (this.#scratch.length < need) this.#scratch = new Uint8Array(Math.max(need, this.#scratch.length * 2));
      const scratch = this.#scratch;
      scratch.set(value, 0);
      for (let i = 0; i < 32; i++) scratch[i] = prevArr[prevAt + i] as number;
      computed = this.#hasher.hashOne(scratch.subarray(0, need));
    }
    this.#prevComputed = computed;
    if (keySeq === 1) {
      if (genesisKey === undefined) this.#issue('GENESIS_INVALID', 1, 'error', `entry 1 is a ${kind}, not genesis`);
      else if (this.#trusted !== undefined && !bytesEqual(genesisKey, this.#trusted)) {
        this.#issue('GENESIS_INVALID', 1, 'error', 'the genesis entry names a different kernel key than the trusted one');
      }
    } else if (genesisKey !== undefined) {
      this.#issue('GENESIS_INVALID', keySeq, 'error', `a second genesis entry at ${keySeq}`);
    }
    if (seq !== keySeq) {
      this.#issue('ENTRY_OUT_OF_ORDER', keySeq, 'error', `entry stored at ${keySeq} claims seq ${seq} (reordered or moved)`);
      return;
    }
    if (!equalAt(computed, 0, value, 0)) {
      this.#issue('ENTRY_MODIFIED', keySeq, 'error', `entry ${keySeq} does not match its hash (modified)`);
      return;
    }
    if (gap) return; // the link across a gap is already reported as ENTRY_MISSING
    const linked = (prevValue !== undefined && equalAt(prevArr, prevAt, prevValue, 0)) || (prevComputed !== undefined && equalAt(prevArr, prevAt, prevComputed, 0));
    if (!linked) this.#issue('LINK_BROKEN', keySeq, 'error', `entry ${keySeq} does not link to entry ${keySeq - 1}`);
  }

  #checkCheckpointsAt(seq: number, stored: Uint8Array): void {
    const cps = this.#cpBySeq.get(seq);
    if (cps === undefined) return;
    this.#cpBySeq.delete(seq);
    for (const c of cps) {
      if (!bytesEqual(c.hash, stored)) {
        this.#issue('CHECKPOINT_MISMATCH', seq, 'error', `entry ${seq} differs from what the signed checkpoint states (rewritten)`);
      }
    }
  }

  /** The last entry position fed and its stored hash (hex). */
  get head(): {seq: number; hash: string} {
    return {seq: this.#headSeq, hash: toHex(this.#headValue.subarray(0, 32))};
  }

  /**
   * Start the walk after `seq`, linked to `hash` (see VerifyOptions.tailOnly). `stored` is the
   * value stored at `seq` (undefined when missing): it must carry `hash`.
   */
  startAfter(seq: number, hash: Uint8Array, stored: Uint8Array | undefined): void {
    this.#expected = seq + 1;
    this.#prevValue = hash;
    this.#prevComputed = hash;
    this.#headSeq = seq;
    this.#headValue = hash;
    if (stored !== undefined && stored.length > 32 && equalAt(stored, 0, hash, 0)) {
      if (this.anchor !== undefined && this.anchor.seq === seq && bytesEqual(hash, this.anchor.hash)) this.#anchorEntry = true;
      const c = this.#checked;
      if (checkStoredEntry(stored, c)) this.#headTime = c.time;
    }
    this.#checkCheckpointsAt(seq, hash);
    for (const s of [...this.#cpBySeq.keys()]) if (s < seq) this.#cpBySeq.delete(s);
  }

  /** Entries fed so far. */
  get count(): number {
    return this.#count;
  }

  finish(): VerifyReport {
    if (this.anchor !== undefined && !(this.#anchorCheckpoint && this.#anchorEntry)) {
      this.#issue(
        'ANCHOR_MISMATCH',
        this.anchor.seq,
        'error',
        `this kernel signed seq ${this.anchor.seq} with hash ${toHex(this.anchor.hash).slice(0, 16)}…, and the ledger no longer holds that checkpoint and entry (rolled back, stripped or rewritten)`,
      );
    }
    if (this.#lastSignedSeq > this.#headSeq) {
      this.#issue(
        'LEDGER_TRUNCATED',
        this.#headSeq + 1,
        'error',
        `the ledger ends at seq ${this.#headSeq} but a signed checkpoint covers seq ${this.#lastSignedSeq} (entries removed from the end)`,
      );
    } else if (this.#indexedSeq > this.#headSeq) {
      // The indexes are written only after the entries they list: the end of the chain was cut off.
      this.#issue(
        'LEDGER_TRUNCATED',
        this.#headSeq + 1,
        'error',
        `the ledger ends at seq ${this.#headSeq} but its indexes list entries up to seq ${this.#indexedSeq} (entries removed from the end)`,
      );
    }
    // Valid checkpoints whose seq was never met inside the range (holes) are covered by ENTRY_MISSING/TRUNCATED.
    if (this.#count > 0 && this.#lastSignedSeq === 0 && this.#trusted !== undefined) {
      // Genesis is always checkpointed in the same batch that writes it (ledger.ts), so a
      // ledger without any valid checkpoint has had its signatures stripped or forged.
      this.#issue('CHECKPOINT_MISSING', 1, 'error', 'no valid signed checkpoint at all: every ledger is signed from genesis on, so checkpoints were removed or replaced');
    } else if (this.#headSeq > this.#lastSignedSeq && this.#trusted !== undefined) {
      // An honest kernel signs at least every few seconds and at every close, so an unsigned
      // tail is what a crash leaves: a few seconds of entries. A long one means checkpoints
      // were removed and history after them may have been rewritten.
      const span = this.#headTime - this.#lastSignedTime;
      const long = this.maxUnsignedTailMs !== undefined && span > this.maxUnsignedTailMs;
      this.#issue(
        'TAIL_UNCHECKPOINTED',
        this.#lastSignedSeq + 1,
        long ? 'error' : this.#tailSeverity,
        `entries ${this.#lastSignedSeq + 1}..${this.#headSeq} are not yet covered by a signed checkpoint` +
          (long ? `, and they span ${Math.round(span / 1000)} s after it (a crash leaves seconds): checkpoints were probably removed` : ''),
      );
    }
    if (this.#cut > 0) {
      this.#issues.push({code: 'MORE_ISSUES', seq: 0, severity: 'error', message: `${this.#cut} more issues not listed`});
    }
    const issues = [...this.#issues].sort((a, b) => a.seq - b.seq);
    return {
      ok: !issues.some((i) => i.severity === 'error'),
      head: {seq: this.#headSeq, hash: toHex(this.#headValue.subarray(0, 32))},
      entries: this.#count,
      checkpoints: {count: this.#cpCount, valid: this.#cpValid, lastSignedSeq: this.#lastSignedSeq},
      issues,
    };
  }
}

/** Verify everything in a LedgerStore. */
export async function verifyStore(store: LedgerStore, o: VerifyOptions): Promise<VerifyReport> {
  const hasher = o.hasher ?? (await Blake3.create());
  const v = new ChainVerifier(hasher, o.trustedKey, o.maxIssues);
  v.maxUnsignedTailMs = o.maxUnsignedTailMs;
  v.anchor = o.anchor;
  for await (const [k, val] of store.iterate(prefixRange(P_CHECKPOINT))) {
    v.checkpoint({keySeq: seqOfKey(k, P_CHECKPOINT), bytes: val});
  }
  let range = prefixRange(P_ENTRY);
  if (o.tailOnly === true && o.anchor !== undefined && o.anchor.seq > 0) {
    v.startAfter(o.anchor.seq, o.anchor.hash, await store.get(entryKey(o.anchor.seq)));
    range = {gte: entryKey(o.anchor.seq + 1), lt: range.lt};
  }
  const every = o.progressEvery ?? 10_000;
  let next = every;
  // The session and actor indexes are checked too, on a whole-chain verify: they are derived
  // data, but a posting removed would hide an entry from a query by session.
  const index = o.tailOnly === true && o.anchor !== undefined ? undefined : await IndexCheck.open(store);
  for await (const chunk of store.iterateChunks(range)) {
    for (const [k, val] of chunk) {
      const seq = seqOfKey(k, P_ENTRY);
      v.entry(seq, val);
      index?.entry(seq, val);
    }
    if (o.onProgress && v.count >= next) {
      o.onProgress(v.count);
      next = v.count + every;
    }
  }
  o.onProgress?.(v.count);
  // The mark was read before the entries, so appends since cannot put it past their end.
  if (index !== undefined) v.indexedThrough(index.mark);
  const report = v.finish();
  // With the chain itself in error, the indexes cannot agree with it either: those issues say enough.
  if (!report.ok) return report;
  const mismatched = index === undefined ? [] : await index.finish(store);
  if (mismatched.length === 0) return report;
  const issues = [...report.issues, ...mismatched].sort((a, b) => a.seq - b.seq);
  return {...report, ok: !issues.some((i) => i.severity === 'error'), issues};
}

/**
 * The postings of each session and actor against the entries, up to the 'I' mark (beyond it
 * the indexes are not yet written: a crash's tail). Each id's seqs are summed, both ways, as
 * a count, a sum and an xor of a mix keyed at random for this run, so no edit of the
 * postings can be made to match without the key; memory is per id, not per entry.
 */
class IndexCheck {
  readonly #mark: number;
  readonly #k1: number;
  readonly #k2: number;
  /** Digests by id, from the entries and from the postings: [sessions, actors] each. */
  readonly #fromEntries: [Map<string, Digest>, Map<string, Digest>] = [new Map(), new Map()];
  readonly #fromIndex: [Map<string, Digest>, Map<string, Digest>] = [new Map(), new Map()];

  /** The 'I' mark: the indexes claim every entry up to it. */
  get mark(): number {
    return this.#mark;
  }

  private constructor(mark: number) {
    this.#mark = mark;
    const r = randomBytes(8);
    this.#k1 = r.readUInt32LE(0);
    this.#k2 = r.readUInt32LE(4);
  }

  static async open(store: LedgerStore): Promise<IndexCheck | undefined> {
    const mark = indexedMark(await store.get(INDEXED_KEY));
    // No mark: nothing claims to be indexed. Past 2^53: a writer refuses such a ledger on open.
    return mark > 0 && mark < Number.MAX_SAFE_INTEGER ? new IndexCheck(mark) : undefined;
  }

  entry(seq: number | undefined, value: Uint8Array): void {
    if (seq === undefined || seq > this.#mark) return;
    const ids = storedIds(value);
    if (ids === undefined) return; // reported by the chain check
    this.#add(this.#fromEntries[0], ids.session, seq);
    this.#add(this.#fromEntries[1], ids.actor, seq);
  }

  async finish(store: LedgerStore): Promise<VerifyIssue[]> {
    for (const [i, p] of [P_SESSION, P_ACTOR].entries()) {
      const fromIndex = this.#fromIndex[i] as Map<string, Digest>;
      for await (const [k, v] of store.iterate(prefixRange(p))) {
        const id = Buffer.from(k.subarray(1, Math.max(1, k.length - 9))).toString('latin1');
        if (k.length < 10 || v.length % 8 !== 0) {
          this.#add(fromIndex, id, -1); // malformed: counts as a difference
          continue;
        }
        for (let off = 0; off < v.length; off += 8) {
          let seq: number;
          try {
            seq = readU64be(v, off);
          } catch {
            seq = -1;
          }
          if (seq <= this.#mark) this.#add(fromIndex, id, seq);
        }
      }
    }
    const issues: VerifyIssue[] = [];
    for (const [i, what] of (['session', 'actor'] as const).entries()) {
      const fromEntries = this.#fromEntries[i] as Map<string, Digest>;
      const fromIndex = this.#fromIndex[i] as Map<string, Digest>;
      for (const id of new Set([...fromEntries.keys(), ...fromIndex.keys()])) {
        const a = fromEntries.get(id);
        const b = fromIndex.get(id);
        if (a !== undefined && b !== undefined && a.n === b.n && a.sum === b.sum && a.x === b.x) continue;
        if (issues.length >= 100) return issues;
        issues.push({
          code: 'INDEX_MISMATCH',
          seq: a?.first ?? 0,
          severity: 'error',
          message:
            `the ${what} index for ${JSON.stringify(id).slice(0, 80)} does not list the entries up to seq ${this.#mark} that name it ` +
            `(${a?.n ?? 0} entries, ${b?.n ?? 0} listed): a query by ${what} can miss or repeat entries`,
        });
      }
    }
    return issues;
  }

  #add(m: Map<string, Digest>, id: string, seq: number): void {
    let d = m.get(id);
    if (d === undefined) m.set(id, (d = {n: 0, sum: 0, x: 0, first: seq}));
    const h = mix(seq, this.#k1, this.#k2);
    d.n++;
    d.sum = (d.sum + h) >>> 0;
    d.x = (d.x ^ Math.imul(h, 0x9e3779b1)) >>> 0;
  }
}

interface Digest {
  n: number;
  sum: number;
  x: number;
  first: number;
}

/** A 32-bit mix of a seq (up to 2^53) under a key. */
function mix(seq: number, k1: number, k2: number): number {
  let h = (seq >>> 0) ^ k1;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h ^= (Math.floor(seq / 0x1_0000_0000) ^ k2) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}
