/**
 * Ed25519 through node:crypto (OpenSSL), with strict verification on top:
 *  - the signature's S must be canonical (S < L), so a signature has one valid form
 *    (no malleability);
 *  - R and the public key A must be canonical point encodings (y < p);
 *  - A must not be a point of small order (such keys make "valid" signatures for
 *    many messages).
 * The small-order test decodes the point with @noble/ed25519 (RFC 8032 strict mode)
 * and is memoised per key: a kernel sees few distinct keys.
 */
import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign as nodeSign,
  verify as nodeVerify,
  type KeyObject,
} from 'node:crypto';
import {Point} from '@noble/ed25519';
import {toHex} from './bytes.js';

export const ED25519_PUBLIC_KEY_LEN = 32;
export const ED25519_SIGNATURE_LEN = 64;
export const ED25519_SEED_LEN = 32;

const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

/** Group order L = 2^252 + 27742317777372353535851937790883648493, little-endian. */
const L_LE = Buffer.from('edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010', 'hex');

/** True when the 32-byte little-endian scalar is < L. */
export function isCanonicalScalar(s: Uint8Array): boolean {
  if (s.length !== 32) return false;
  for (let i = 31; i >= 0; i--) {
    const a = s[i] as number;
    const b = L_LE[i] as number;
    if (a < b) return true;
    if (a > b) return false;
  }
  return false; // equal to L
}

/** True when a point encoding's y (sign bit cleared) is < p = 2^255 - 19. */
export function isCanonicalPointEncoding(enc: Uint8Array): boolean {
  if (enc.length !== 32) return false;
  // y >= p only when bytes 1..30 are 0xff, byte 31 (masked) is 0x7f and byte 0 >= 0xed.
  if (((enc[31] as number) & 0x7f) !== 0x7f) return true;
  for (let i = 30; i >= 1; i--) if (enc[i] !== 0xff) return true;
  return (enc[0] as number) < 0xed;
}

const keyCheckCache = new Map<string, KeyProblem | null>();
const KEY_CACHE_MAX = 4096;

/** Why a public key is unacceptable. */
export type KeyProblem = 'wrong-length' | 'non-canonical' | 'not-on-curve' | 'small-order';

/**
 * Check a raw 32-byte Ed25519 public key: canonical, on the curve, not of small order.
 * @returns null when acceptable, otherwise the problem.
 */
export function publicKeyProblem(pub: Uint8Array): KeyProblem | null {
  if (!(pub instanceof Uint8Array) || pub.length !== ED25519_PUBLIC_KEY_LEN) return 'wrong-length';
  const k = toHex(pub);
  const cached = keyCheckCache.get(k);
  if (cached !== undefined) return cached;
  let problem: KeyProblem | null = null;
  if (!isCanonicalPointEncoding(pub)) problem = 'non-canonical';
  else {
    try {
      const p = Point.fromBytes(pub, false);
      if (p.isSmallOrder()) problem = 'small-order';
    } catch {
      problem = 'not-on-curve';
    }
  }
  if (keyCheckCache.size >= KEY_CACHE_MAX) keyCheckCache.clear();
  keyCheckCache.set(k, problem);
  return problem;
}

const pubKeyObjects = new Map<string, KeyObject>();

function publicKeyObject(pub: Uint8Array): KeyObject {
  const k = toHex(pub);
  let o = pubKeyObjects.get(k);
  if (o === undefined) {
    o = createPublicKey({key: Buffer.concat([SPKI_PREFIX, pub]), format: 'der', type: 'spki'});
    if (pubKeyObjects.size >= KEY_CACHE_MAX) pubKeyObjects.clear();
    pubKeyObjects.set(k, o);
  }
  return o;
}

/**
 * Strict Ed25519 verification (RFC 8032 §5.1.7 with canonical S, R and A, and no
 * small-order A). Returns false for anything malformed; never throws on bad input bytes.
 */
export function verifyStrict(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (!(message instanceof Uint8Array)) throw new TypeError('message must be a Uint8Array');
  if (!(signature instanceof Uint8Array) || signature.length !== ED25519_SIGNATURE_LEN) return false;
  if (!isCanonicalScalar(signature.subarray(32))) return false;
  if (!isCanonicalPointEncoding(signature.subarray(0, 32))) return false;
  if (publicKeyProblem(publicKey) !== null) return false;
  try {
    return nodeVerify(null, message, publicKeyObject(publicKey), signature);
  } catch {
    return false;
  }
}

/**
 * verifyStrict on libuv's thread pool: the same checks, with the curve work off the main
 * thread, so several signatures (a delegation chain) verify in parallel on several cores.
 */
export function verifyStrictAsync(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): Promise<boolean> {
  if (!(message instanceof Uint8Array)) return Promise.reject(new TypeError('message must be a Uint8Array'));
  if (!(signature instanceof Uint8Array) || signature.length !== ED25519_SIGNATURE_LEN) return Promise.resolve(false);
  if (!isCanonicalScalar(signature.subarray(32)) || !isCanonicalPointEncoding(signature.subarray(0, 32))) return Promise.resolve(false);
  if (publicKeyProblem(publicKey) !== null) return Promise.resolve(false);
  return new Promise<boolean>((resolve) => {
    try {
      nodeVerify(null, message, publicKeyObject(publicKey), signature, (err, ok) => resolve(err === null && ok));
    } catch {
      resolve(false);
    }
  });
}

/** An Ed25519 signing key held in process memory. */
export class SigningKey {
  readonly #key: KeyObject;
  /** The raw 32-byte public key. */
  readonly publicKey: Uint8Array;

  private constructor(key: KeyObject) {
    this.#key = key;
    // createPublicKey(privateKey) derives the public half.
    const pub = createPublicKey(key).export({format: 'der', type: 'spki'});
    this.publicKey = new Uint8Array(pub.subarray(SPKI_PREFIX.length));
  }

  /** A fresh random key from the operating system's CSPRNG. */
  static generate(): SigningKey {
    return new SigningKey(generateKeyPairSync('ed25519').privateKey);
  }

  /**
   * The key for a 32-byte seed (the RFC 8032 "secret key").
   * @throws TypeError when the seed is not 32 bytes.
   */
  static fromSeed(seed: Uint8Array): SigningKey {
    if (!(seed instanceof Uint8Array) || seed.length !== ED25519_SEED_LEN) {
      throw new TypeError('seed must be 32 bytes');
    }
    return new SigningKey(createPrivateKey({key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8'}));
  }

  /**
   * Parse a PKCS#8 PEM private key.
   * @throws TypeError when the PEM is not an Ed25519 private key.
   */
  static fromPem(pem: string): SigningKey {
    let key: KeyObject;
    try {
      key = createPrivateKey({key: pem, format: 'pem'});
    } catch (cause) {
      throw new TypeError('not a PEM private key', {cause});
    }
    if (key.asymmetricKeyType !== 'ed25519') throw new TypeError('not an Ed25519 key');
    return new SigningKey(key);
  }

  /** PKCS#8 PEM encoding of the private key. */
  toPem(): string {
    return this.#key.export({format: 'pem', type: 'pkcs8'}).toString();
  }

  /** Sign `message` (pure Ed25519, deterministic). */
  sign(message: Uint8Array): Uint8Array {
    return new Uint8Array(nodeSign(null, message, this.#key));
  }
}

/**
 * Parse a public key given as 64 hex digits, standard or URL-safe base64 of 32 bytes,
 * or an SPKI PEM.
 * @throws TypeError when it is none of these or the key is unacceptable (see publicKeyProblem).
 */
export function parsePublicKey(text: string): Uint8Array {
  const t = text.trim();
  let raw: Uint8Array | undefined;
  if (/^[0-9a-fA-F]{64}$/.test(t)) raw = new Uint8Array(Buffer.from(t, 'hex'));
  else if (t.startsWith('-----BEGIN PUBLIC KEY-----')) {
    try {
      const k = createPublicKey({key: t, format: 'pem'});
      if (k.asymmetricKeyType !== 'ed25519') throw new TypeError('not an Ed25519 key');
      raw = new Uint8Array(k.export({format: 'der', type: 'spki'}).subarray(SPKI_PREFIX.length));
    } catch (cause) {
      throw new TypeError('not an Ed25519 SPKI PEM public key', {cause});
    }
  } else if (/^[A-Za-z0-9+/_-]{43}=?$/.test(t)) {
    const b = Buffer.from(t.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
    if (b.length === 32) raw = new Uint8Array(b);
  }
  if (raw === undefined) throw new TypeError('public key must be 64 hex digits, base64 of 32 bytes, or an SPKI PEM');
  const problem = publicKeyProblem(raw);
  if (problem !== null) throw new TypeError(`unacceptable public key: ${problem}`);
  return raw;
}
