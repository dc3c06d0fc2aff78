/**
 * Signed checkpoints. A checkpoint states "the entry at `seq` has hash `hash`", signed by
 * the kernel key over domain-separated canonical bytes:
 *   "astrid.checkpoint.v1" 0x00 || u64be(seq) || hash(32) || u64be(time) || key(32)
 * Stored as a msgpack map {v, seq, hash, time, key, sig}. A checkpoint lets a verifier
 * with only the public key detect truncation below it and any rewrite of the entries it covers.
 */
import {Packr, Unpackr} from 'msgpackr';
import {concatBytes, u64be, verifyStrict, bytesEqual, type SigningKey} from '../crypto/index.js';

export const CHECKPOINT_DOMAIN = new Uint8Array(Buffer.from('astrid.checkpoint.v1\u0000', 'utf8'));
export const CHECKPOINT_FORMAT_VERSION = 1;

export interface Checkpoint {
  readonly v: number;
  readonly seq: number;
  readonly hash: Uint8Array;
  readonly time: number;
  readonly key: Uint8Array;
  /** Ed25519 signature; an empty array means unsigned. */
  readonly sig: Uint8Array;
}

/** Anything that can sign checkpoints (SigningKey satisfies it). */
export type CheckpointSigner = Pick<SigningKey, 'publicKey' | 'sign'>;

const packr = new Packr({useRecords: false, moreTypes: false, variableMapSize: true});
const unpackr = new Unpackr({useRecords: false, mapsAsObjects: true, int64AsType: 'number'});

/** The exact bytes a checkpoint signature covers. */
export function checkpointMessage(seq: number, hash: Uint8Array, time: number, key: Uint8Array): Uint8Array {
  return concatBytes(CHECKPOINT_DOMAIN, u64be(seq), hash, u64be(time), key);
}

/** Make and sign a checkpoint. */
export function signCheckpoint(signer: CheckpointSigner, seq: number, hash: Uint8Array, time: number): Checkpoint {
  const sig = signer.sign(checkpointMessage(seq, hash, time, signer.publicKey));
  return {v: CHECKPOINT_FORMAT_VERSION, seq, hash, time, key: signer.publicKey, sig};
}

export function encodeCheckpoint(c: Checkpoint): Uint8Array {
  return packr.pack({v: c.v, seq: c.seq, hash: c.hash, time: c.time, key: c.key, sig: c.sig});
}

/** Decode untrusted checkpoint bytes; returns the checkpoint or a problem string. Never throws. */
export function decodeCheckpoint(bytes: Uint8Array): Checkpoint | string {
  let u: unknown;
  try {
    u = unpackr.unpack(bytes);
  } catch {
    return 'not msgpack';
  }
  if (typeof u !== 'object' || u === null || Array.isArray(u)) return 'not a map';
  const o = u as Record<string, unknown>;
  if (Object.keys(o).join(',') !== 'v,seq,hash,time,key,sig') return 'wrong fields';
  if (o.v !== CHECKPOINT_FORMAT_VERSION) return 'unsupported checkpoint format';
  if (typeof o.seq !== 'number' || !Number.isSafeInteger(o.seq) || o.seq < 1) return 'bad seq';
  if (!(o.hash instanceof Uint8Array) || o.hash.length !== 32) return 'bad hash';
  if (typeof o.time !== 'number' || !Number.isSafeInteger(o.time) || o.time < 0) return 'bad time';
  if (!(o.key instanceof Uint8Array) || o.key.length !== 32) return 'bad key';
  if (!(o.sig instanceof Uint8Array) || (o.sig.length !== 64 && o.sig.length !== 0)) return 'bad sig';
  return {v: o.v, seq: o.seq, hash: o.hash, time: o.time, key: o.key, sig: o.sig};
}

/** How a checkpoint fares against the trusted key. */
export type CheckpointCheck = 'valid' | 'unsigned' | 'foreign-key' | 'bad-signature';

export function checkCheckpoint(c: Checkpoint, trustedKey: Uint8Array): CheckpointCheck {
  if (c.sig.length === 0) return 'unsigned';
  if (!bytesEqual(c.key, trustedKey)) return 'foreign-key';
  return verifyStrict(trustedKey, checkpointMessage(c.seq, c.hash, c.time, c.key), c.sig) ? 'valid' : 'bad-signature';
}
