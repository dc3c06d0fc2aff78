// Proves verifyStrict accepts exactly the one canonical signature by an acceptable key: RFC 8032 vectors, noble as oracle, and malleable, small-order, non-canonical and malformed inputs rejected.
import {test, describe} from 'node:test';
import {strict as assert} from 'node:assert';
import {createHash, createPublicKey, generateKeyPairSync} from 'node:crypto';
import {readFileSync} from 'node:fs';
import fc from 'fast-check';
import * as ed from '@noble/ed25519';
import {
  SigningKey,
  verifyStrict,
  publicKeyProblem,
  parsePublicKey,
  isCanonicalScalar,
  isCanonicalPointEncoding,
  fromHex,
  toHex,
  concatBytes,
} from '../../src/crypto/index.js';
import {vectorPath} from '../helpers/index.js';

// noble's synchronous API needs a SHA-512; node's is the same function.
ed.hashes.sha512 = (m) => new Uint8Array(createHash('sha512').update(m).digest());

const L = 2n ** 252n + 27742317777372353535851937790883648493n;
const P = 2n ** 255n - 19n;
const FC = {seed: 0xed25519, numRuns: 50} as const;
const SPKI_PREFIX = fromHex('302a300506032b6570032100');

function le(n: bigint, len = 32): Uint8Array {
  const out = new Uint8Array(len);
  for (let i = 0; i < len; i++) {
    out[i] = Number(n & 0xffn);
    n >>= 8n;
  }
  assert.equal(n, 0n, 'value does not fit');
  return out;
}
function fromLe(b: Uint8Array): bigint {
  let n = 0n;
  for (let i = b.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(b[i] as number);
  return n;
}
function withS(sig: Uint8Array, s: bigint): Uint8Array {
  const out = sig.slice();
  out.set(le(s), 32);
  return out;
}
function flipBit(b: Uint8Array, bit: number): Uint8Array {
  const out = b.slice();
  out[bit >> 3] = (out[bit >> 3] as number) ^ (1 << (bit & 7));
  return out;
}
function nobleStrict(pub: Uint8Array, msg: Uint8Array, sig: Uint8Array): boolean {
  return ed.verify(sig, msg, pub, {zip215: false});
}
/** Run verifyStrict on values of the wrong type, as hostile callers holding `unknown` might. */
function verifyUntyped(pub: unknown, msg: unknown, sig: unknown): boolean {
  return verifyStrict(pub as Uint8Array, msg as Uint8Array, sig as Uint8Array);
}
function spkiPem(pub: Uint8Array): string {
  const k = createPublicKey({key: Buffer.from(concatBytes(SPKI_PREFIX, pub)), format: 'der', type: 'spki'});
  return k.export({format: 'pem', type: 'spki'}).toString();
}
function readJson(name: string): unknown {
  return JSON.parse(readFileSync(vectorPath(name), 'utf8'));
}
function hexField(o: unknown, field: string): Uint8Array {
  assert.ok(typeof o === 'object' && o !== null);
  const v: unknown = Object.getOwnPropertyDescriptor(o, field)?.value;
  assert.equal(typeof v, 'string', `field ${field}`);
  return fromHex(v as string);
}

interface Rfc8032Vector {
  readonly name: string;
  readonly seed: Uint8Array;
  readonly pub: Uint8Array;
  readonly msg: Uint8Array;
  readonly sig: Uint8Array;
}
const rfcDoc = readJson('ed25519-rfc8032.json');
assert.ok(typeof rfcDoc === 'object' && rfcDoc !== null && 'vectors' in rfcDoc && Array.isArray(rfcDoc.vectors));
const RFC: Rfc8032Vector[] = rfcDoc.vectors.map((v: unknown): Rfc8032Vector => {
  assert.ok(typeof v === 'object' && v !== null && 'name' in v && typeof v.name === 'string');
  return {name: v.name, seed: hexField(v, 'secretKey'), pub: hexField(v, 'publicKey'), msg: hexField(v, 'message'), sig: hexField(v, 'signature')};
});

interface SpecCase {
  readonly pub: Uint8Array;
  readonly msg: Uint8Array;
  readonly sig: Uint8Array;
}
const specDoc = readJson('ed25519-speccheck.json');
assert.ok(Array.isArray(specDoc));
const SPEC: SpecCase[] = specDoc.map((c: unknown) => ({pub: hexField(c, 'pub_key'), msg: hexField(c, 'message'), sig: hexField(c, 'signature')}));

/** The 8 points of small order: the multiples of a point of order 8 (speccheck case 0's A). */
function smallOrderEncodings(): Uint8Array[] {
  const t = ed.Point.fromBytes(fromHex('c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa'));
  assert.ok(!t.multiply(4n, false).is0() && t.multiply(8n, false).is0(), 'generator must have order exactly 8');
  const out: Uint8Array[] = [];
  let q = ed.Point.ZERO;
  for (let i = 0; i < 8; i++) {
    out.push(q.toBytes());
    q = q.add(t);
  }
  assert.equal(new Set(out.map(toHex)).size, 8);
  return out;
}
const SMALL_ORDER = smallOrderEncodings();

/** Every encoding whose y (sign bit cleared) is >= p: y = p + d for d in 0..18, with either sign bit. */
function nonCanonicalEncodings(): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let d = 0n; d < 19n; d++) {
    const e = le(P + d);
    out.push(e);
    const signed = e.slice();
    signed[31] = (signed[31] as number) | 0x80;
    out.push(signed);
  }
  return out;
}
const NON_CANONICAL = nonCanonicalEncodings();

const VEC = RFC[2] as Rfc8032Vector; // TEST 3: two-byte message

describe('RFC 8032 section 7.1 vectors', () => {
  test('all five vectors are present', () => {
    assert.deepEqual(RFC.map((v) => v.msg.length), [0, 1, 2, 1023, 64]);
  });
  for (const v of RFC) {
    test(`${v.name}: fromSeed, sign and verifyStrict reproduce the vector`, () => {
      const k = SigningKey.fromSeed(v.seed);
      assert.deepEqual(k.publicKey, v.pub);
      assert.deepEqual(k.sign(v.msg), v.sig);
      assert.equal(verifyStrict(v.pub, v.msg, v.sig), true);
      assert.equal(publicKeyProblem(v.pub), null);
    });
    test(`${v.name}: the noble oracle agrees`, () => {
      assert.deepEqual(ed.getPublicKey(v.seed), v.pub);
      assert.deepEqual(ed.sign(v.msg, v.seed), v.sig);
      assert.equal(nobleStrict(v.pub, v.msg, v.sig), true);
    });
  }
});

describe('noble as oracle', () => {
  const seedArb = fc.uint8Array({minLength: 32, maxLength: 32});
  const msgArb = fc.uint8Array({maxLength: 300});

  test('property: node keys and signatures are byte-identical to noble, and both verifiers accept', () => {
    fc.assert(
      fc.property(seedArb, msgArb, (seed, msg) => {
        const k = SigningKey.fromSeed(seed);
        assert.deepEqual(k.publicKey, ed.getPublicKey(seed));
        const sig = k.sign(msg);
        assert.deepEqual(sig, ed.sign(msg, seed));
        assert.equal(verifyStrict(k.publicKey, msg, sig), true);
        assert.equal(nobleStrict(k.publicKey, msg, sig), true);
      }),
      FC,
    );
  });

  test('property: on a signature, message or key with one bit flipped, both verifiers reject', () => {
    fc.assert(
      fc.property(seedArb, msgArb, fc.nat(), fc.constantFrom('sig', 'msg', 'key'), (seed, msg, n, where) => {
        const k = SigningKey.fromSeed(seed);
        let [pub, m, sig]: [Uint8Array, Uint8Array, Uint8Array] = [k.publicKey, msg, k.sign(msg)];
        if (where === 'sig') sig = flipBit(sig, n % 512);
        else if (where === 'key') pub = flipBit(pub, n % 256);
        else if (m.length > 0) m = flipBit(m, n % (m.length * 8));
        else m = new Uint8Array([n & 0xff]);
        assert.equal(verifyStrict(pub, m, sig), false);
        assert.equal(nobleStrict(pub, m, sig), false);
      }),
      FC,
    );
  });

  test('property: on arbitrary bytes, verifyStrict and noble (strict mode) agree', () => {
    const bytes = (n: number): fc.Arbitrary<Uint8Array> => fc.uint8Array({minLength: n, maxLength: n});
    fc.assert(
      fc.property(bytes(32), bytes(64), msgArb, (pub, sig, msg) => {
        assert.equal(verifyStrict(pub, msg, sig), nobleStrict(pub, msg, sig));
      }),
      {...FC, numRuns: 200},
    );
  });
});

describe('hostile: malleable S', () => {
  test('S + L (same signature modulo L) is rejected', () => {
    for (const v of RFC) {
      const s = fromLe(v.sig.subarray(32));
      assert.equal(verifyStrict(v.pub, v.msg, withS(v.sig, s + L)), false, v.name);
    }
  });

  test('S + n*L is rejected for every n that still fits in 32 bytes', () => {
    const s = fromLe(VEC.sig.subarray(32));
    for (let n = 1n; s + n * L < 2n ** 256n; n++) {
      assert.equal(verifyStrict(VEC.pub, VEC.msg, withS(VEC.sig, s + n * L)), false, `n=${n}`);
    }
  });

  test('property: S + L is rejected for random keys and messages', () => {
    fc.assert(
      fc.property(fc.uint8Array({minLength: 32, maxLength: 32}), fc.uint8Array({maxLength: 100}), (seed, msg) => {
        const k = SigningKey.fromSeed(seed);
        const sig = k.sign(msg);
        assert.equal(verifyStrict(k.publicKey, msg, withS(sig, fromLe(sig.subarray(32)) + L)), false);
      }),
      FC,
    );
  });

  test('S = L exactly, S = 2^256 - 1 and S = 2^255 are rejected', () => {
    for (const s of [L, 2n ** 256n - 1n, 2n ** 255n]) {
      assert.equal(verifyStrict(VEC.pub, VEC.msg, withS(VEC.sig, s)), false, `S=${s}`);
    }
  });

  test('isCanonicalScalar: boundaries', () => {
    assert.equal(isCanonicalScalar(le(0n)), true);
    assert.equal(isCanonicalScalar(le(L - 1n)), true);
    assert.equal(isCanonicalScalar(le(L)), false);
    assert.equal(isCanonicalScalar(le(L + 1n)), false);
    assert.equal(isCanonicalScalar(le(2n ** 256n - 1n)), false);
    assert.equal(isCanonicalScalar(new Uint8Array(31)), false);
    assert.equal(isCanonicalScalar(new Uint8Array(33)), false);
  });

  test('property: isCanonicalScalar(s) is exactly s < L', () => {
    const near = fc.bigInt({min: L - 2n ** 20n, max: L + 2n ** 20n});
    fc.assert(
      fc.property(fc.oneof(fc.bigInt({min: 0n, max: 2n ** 256n - 1n}), near), (s) => {
        assert.equal(isCanonicalScalar(le(s)), s < L);
      }),
      {...FC, numRuns: 500},
    );
  });
});

describe('hostile: tampering and malformed input', () => {
  test('every single-bit flip of signature, key or message of RFC TEST 3 is rejected', () => {
    for (let bit = 0; bit < 512; bit++) assert.equal(verifyStrict(VEC.pub, VEC.msg, flipBit(VEC.sig, bit)), false, `sig bit ${bit}`);
    for (let bit = 0; bit < 256; bit++) assert.equal(verifyStrict(flipBit(VEC.pub, bit), VEC.msg, VEC.sig), false, `key bit ${bit}`);
    for (let bit = 0; bit < VEC.msg.length * 8; bit++) assert.equal(verifyStrict(VEC.pub, flipBit(VEC.msg, bit), VEC.sig), false, `msg bit ${bit}`);
  });

  test('a message with a byte appended or removed is rejected', () => {
    assert.equal(verifyStrict(VEC.pub, concatBytes(VEC.msg, new Uint8Array(1)), VEC.sig), false);
    assert.equal(verifyStrict(VEC.pub, VEC.msg.subarray(1), VEC.sig), false);
    assert.equal(verifyStrict(VEC.pub, new Uint8Array(0), VEC.sig), false);
  });

  test('a signature by another key, and R and S swapped, are rejected', () => {
    const other = RFC[1] as Rfc8032Vector;
    assert.equal(verifyStrict(other.pub, VEC.msg, VEC.sig), false);
    assert.equal(verifyStrict(VEC.pub, VEC.msg, concatBytes(VEC.sig.subarray(32), VEC.sig.subarray(0, 32))), false);
  });

  test('signatures of the wrong length give false, never a throw', () => {
    for (const n of [0, 1, 32, 63, 65, 96, 128]) {
      const sig = new Uint8Array(n);
      sig.set(VEC.sig.subarray(0, Math.min(n, 64)));
      assert.equal(verifyStrict(VEC.pub, VEC.msg, sig), false, `length ${n}`);
    }
    assert.equal(verifyStrict(VEC.pub, VEC.msg, concatBytes(VEC.sig, new Uint8Array(1))), false, 'valid signature plus one byte');
  });

  test('public keys of the wrong length give false, never a throw', () => {
    for (const n of [0, 1, 31, 33, 44, 64]) {
      const pub = new Uint8Array(n);
      pub.set(VEC.pub.subarray(0, Math.min(n, 32)));
      assert.equal(verifyStrict(pub, VEC.msg, VEC.sig), false, `length ${n}`);
      assert.equal(publicKeyProblem(pub), 'wrong-length');
    }
    assert.equal(verifyStrict(concatBytes(VEC.pub, VEC.pub), VEC.msg, VEC.sig), false, 'key doubled');
  });

  test('a signature or key that is not a Uint8Array gives false, never a throw', () => {
    const notBytes: unknown[] = [undefined, null, 0, toHex(VEC.sig), [...VEC.sig], VEC.sig.buffer, new DataView(VEC.sig.buffer), new Uint16Array(32), {length: 64}];
    for (const x of notBytes) {
      assert.equal(verifyUntyped(VEC.pub, VEC.msg, x), false, `signature ${String(x)}`);
      assert.equal(verifyUntyped(x, VEC.msg, VEC.sig), false, `key ${String(x)}`);
      assert.equal(publicKeyProblem(x as Uint8Array), 'wrong-length');
    }
  });

  test('a message that is not a Uint8Array throws TypeError (caller bug), even with a bad signature', () => {
    for (const m of [undefined, null, 'ab', [0x61, 0x62], VEC.msg.buffer, 7]) {
      assert.throws(() => verifyUntyped(VEC.pub, m, VEC.sig), TypeError);
      assert.throws(() => verifyUntyped(VEC.pub, m, new Uint8Array(3)), TypeError);
    }
  });

  test('Buffers and offset views are read at their offset', () => {
    const pad = (b: Uint8Array): Uint8Array => concatBytes(new Uint8Array([9, 9, 9]), b, new Uint8Array([9])).subarray(3, 3 + b.length);
    assert.equal(verifyStrict(pad(VEC.pub), pad(VEC.msg), pad(VEC.sig)), true);
    assert.equal(verifyStrict(Buffer.from(VEC.pub), Buffer.from(VEC.msg), Buffer.from(VEC.sig)), true);
    assert.equal(publicKeyProblem(pad(SMALL_ORDER[1] as Uint8Array)), 'small-order');
  });

  test('the key caches follow content, not array identity', () => {
    const pub = VEC.pub.slice();
    assert.equal(publicKeyProblem(pub), null);
    assert.equal(verifyStrict(pub, VEC.msg, VEC.sig), true);
    pub.set(SMALL_ORDER[0] as Uint8Array);
    assert.equal(publicKeyProblem(pub), 'small-order');
    assert.equal(verifyStrict(pub, VEC.msg, VEC.sig), false);
    const other = RFC[1] as Rfc8032Vector;
    pub.set(other.pub);
    assert.equal(verifyStrict(pub, VEC.msg, VEC.sig), false);
    assert.equal(verifyStrict(pub, other.msg, other.sig), true);
  });
});

describe('hostile: small-order public keys', () => {
  test('publicKeyProblem reports all 8 small-order points', () => {
    for (const a of SMALL_ORDER) assert.equal(publicKeyProblem(a), 'small-order', toHex(a));
  });

  test('verifyStrict rejects the signatures that small-order keys make "valid" for any message', () => {
    // With A of small order, (R, S) = (identity, 0) or (A, 0) satisfy the equation for many messages.
    const identity = SMALL_ORDER[0] as Uint8Array;
    const msgs = [new Uint8Array(0), new Uint8Array([0]), new TextEncoder().encode('transfer everything')];
    for (const a of SMALL_ORDER) {
      for (const r of [identity, a, ...SMALL_ORDER]) {
        for (const m of msgs) assert.equal(verifyStrict(a, m, concatBytes(r, new Uint8Array(32))), false);
      }
    }
  });

  test('parsePublicKey refuses small-order keys in every format', () => {
    for (const a of SMALL_ORDER) {
      for (const text of [toHex(a), Buffer.from(a).toString('base64'), Buffer.from(a).toString('base64url'), spkiPem(a)]) {
        assert.throws(() => parsePublicKey(text), (e: unknown) => e instanceof TypeError && /small-order/.test(e.message), text);
      }
    }
  });
});

describe('hostile: non-canonical point encodings (y >= p)', () => {
  test('all 38 encodings with y >= p are non-canonical and refused as keys', () => {
    assert.equal(NON_CANONICAL.length, 38);
    for (const e of NON_CANONICAL) {
      assert.equal(isCanonicalPointEncoding(e), false, toHex(e));
      assert.equal(publicKeyProblem(e), 'non-canonical', toHex(e));
      assert.equal(verifyStrict(e, VEC.msg, VEC.sig), false);
      assert.throws(() => parsePublicKey(toHex(e)), TypeError);
    }
  });

  test('every non-canonical R in an otherwise valid signature is rejected', () => {
    for (const e of NON_CANONICAL) assert.equal(verifyStrict(VEC.pub, VEC.msg, concatBytes(e, VEC.sig.subarray(32))), false);
  });

  test('the largest canonical y (p - 1) is canonical', () => {
    assert.equal(isCanonicalPointEncoding(le(P - 1n)), true);
    assert.equal(publicKeyProblem(le(P - 1n)), 'small-order'); // (0, -1) has order 2
  });

  test('property: isCanonicalPointEncoding is exactly y < p, whatever the sign bit', () => {
    const near = fc.bigInt({min: P - 2n ** 16n, max: 2n ** 255n - 1n});
    fc.assert(
      fc.property(fc.oneof(fc.bigInt({min: 0n, max: 2n ** 255n - 1n}), near), fc.boolean(), (y, sign) => {
        assert.equal(isCanonicalPointEncoding(le(sign ? y + 2n ** 255n : y)), y < P);
      }),
      {...FC, numRuns: 500},
    );
  });

  test('a signature built on a non-canonical encoding of the identity as R is rejected', () => {
    // The signer knows the secret scalar a, so S = k*a mod L with k = H(R_bytes || A || M) and R = identity
    // satisfies [S]B = R + [k]A. Encoded canonically (y = 1) that is a genuine signature (small-order R is
    // allowed, as in speccheck case 2). Encoded as y = p + 1, or as x = 0 with the sign bit set, it is a second
    // encoding of the same R: a strict verifier must refuse it, or signatures become malleable.
    const seed = VEC.seed;
    const a = ed.utils.getExtendedPublicKey(seed).scalar;
    const forge = (r: Uint8Array): Uint8Array => {
      const k = fromLe(createHash('sha512').update(r).update(VEC.pub).update(VEC.msg).digest()) % L;
      return concatBytes(r, le((k * a) % L));
    };
    const signBit = le(1n);
    signBit[31] = 0x80;
    assert.equal(verifyStrict(VEC.pub, VEC.msg, forge(le(1n))), true, 'canonical identity R (sanity of the construction)');
    for (const r of [le(P + 1n), signBit]) {
      const sig = forge(r);
      assert.equal(ed.verify(sig, VEC.msg, VEC.pub, {zip215: true}), true, 'valid under ZIP-215 lax decoding, so the test has teeth');
      assert.equal(verifyStrict(VEC.pub, VEC.msg, sig), false, toHex(r));
    }
  });

  test('x = 0 with the sign bit set (RFC 8032 5.1.3 decoding failure) is refused as a key', () => {
    for (const y of [1n, P - 1n]) {
      const e = le(y);
      e[31] = (e[31] as number) | 0x80;
      assert.notEqual(publicKeyProblem(e), null, toHex(e));
      assert.equal(verifyStrict(e, VEC.msg, VEC.sig), false);
    }
  });
});

describe('ed25519-speccheck cases', () => {
  // Our policy: RFC 8032 strict decoding (canonical y, no x = 0 with sign bit), S < L, small-order A refused,
  // small-order or mixed-order R allowed, and the cofactorless equation [S]B = R + [k]A (what OpenSSL checks;
  // RFC 8032 5.1.7 permits it). Expected results, by case:
  const expected: readonly (readonly [boolean, string])[] = [
    [false, 'small A and small R: A of small order is refused'],
    [false, 'small A, mixed R: A of small order is refused'],
    [true, 'mixed A, small R: A is not of small order and the equation holds either way'],
    [true, 'mixed A, mixed R: the equation holds either way; we do not require A to be torsion-free'],
    [false, 'mixed A, mixed R: holds only cofactored; we check the cofactorless equation'],
    [false, 'mixed A, R of order L: holds only cofactored without pre-reducing 8h; cofactorless rejects'],
    [false, 'S > L: non-canonical S, malleable'],
    [false, 'S >> L: S not even reducible to a canonical encoding'],
    [false, 'R is x = 0 with the sign bit set (non-canonical), reduced for the hash'],
    [false, 'R is x = 0 with the sign bit set (non-canonical), not reduced for the hash'],
    [false, 'A is x = 0 with the sign bit set (non-canonical, small), reduced for the hash'],
    [false, 'A is x = 0 with the sign bit set (non-canonical, small), not reduced for the hash'],
  ];

  test('the file holds 12 cases', () => {
    assert.equal(SPEC.length, 12);
  });

  SPEC.forEach((c, i) => {
    const [want, why] = expected[i] as readonly [boolean, string];
    test(`case ${i}: ${want ? 'accept' : 'reject'} (${why})`, () => {
      assert.equal(verifyStrict(c.pub, c.msg, c.sig), want);
    });
  });

  test('each rejection comes from the layer that should make it', () => {
    const at = (i: number): SpecCase => SPEC[i] as SpecCase;
    for (const i of [0, 1]) assert.equal(publicKeyProblem(at(i).pub), 'small-order', `case ${i}`);
    for (const i of [6, 7]) assert.equal(isCanonicalScalar(at(i).sig.subarray(32)), false, `case ${i}`);
    for (const i of [8, 9]) assert.throws(() => ed.Point.fromBytes(at(i).sig.subarray(0, 32), false), `case ${i}: R must not decode strictly`);
    for (const i of [10, 11]) assert.notEqual(publicKeyProblem(at(i).pub), null, `case ${i}`);
    for (const i of [2, 3, 4, 5]) assert.equal(publicKeyProblem(at(i).pub), null, `case ${i}: mixed-order A is acceptable`);
  });
});

describe('SigningKey', () => {
  test('fromSeed refuses seeds that are not 32 bytes with TypeError', () => {
    for (const s of [new Uint8Array(0), new Uint8Array(31), new Uint8Array(33), new Uint8Array(64), toHex(VEC.seed), null, [...VEC.seed]]) {
      assert.throws(() => SigningKey.fromSeed(s as Uint8Array), TypeError);
    }
  });

  test('generate gives distinct acceptable keys that verify their own signatures', () => {
    const a = SigningKey.generate();
    const b = SigningKey.generate();
    assert.notDeepEqual(a.publicKey, b.publicKey);
    assert.equal(publicKeyProblem(a.publicKey), null);
    const m = new TextEncoder().encode('checkpoint');
    assert.deepEqual(a.sign(m), a.sign(m), 'deterministic');
    assert.equal(verifyStrict(a.publicKey, m, a.sign(m)), true);
    assert.equal(verifyStrict(b.publicKey, m, a.sign(m)), false);
  });

  test('toPem and fromPem round-trip to the same key', () => {
    const k = SigningKey.fromSeed(VEC.seed);
    const back = SigningKey.fromPem(k.toPem());
    assert.deepEqual(back.publicKey, VEC.pub);
    assert.deepEqual(back.sign(VEC.msg), VEC.sig);
  });

  test('fromPem refuses garbage, public keys and keys of other algorithms with TypeError', () => {
    const x25519 = generateKeyPairSync('x25519').privateKey.export({format: 'pem', type: 'pkcs8'}).toString();
    const p256 = generateKeyPairSync('ec', {namedCurve: 'P-256'}).privateKey.export({format: 'pem', type: 'pkcs8'}).toString();
    for (const pem of ['', 'garbage', '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n', spkiPem(VEC.pub), x25519, p256]) {
      assert.throws(() => SigningKey.fromPem(pem), TypeError, pem);
    }
  });
});

describe('parsePublicKey', () => {
  const k = SigningKey.fromSeed(fromHex('07'.repeat(32))); // its base64 contains '+'
  const b64 = Buffer.from(k.publicKey).toString('base64');

  test('accepts hex (any case, surrounding whitespace), base64 with or without padding, base64url and SPKI PEM', () => {
    assert.ok(b64.includes('+'), 'the key exercises the base64/base64url difference');
    const forms = [
      toHex(k.publicKey),
      toHex(k.publicKey).toUpperCase(),
      `  ${toHex(k.publicKey)}\n`,
      b64,
      b64.replace(/=$/, ''),
      Buffer.from(k.publicKey).toString('base64url'),
      spkiPem(k.publicKey),
      spkiPem(k.publicKey).replace(/\n/g, '\r\n'),
    ];
    for (const f of forms) assert.deepEqual(parsePublicKey(f), k.publicKey, f);
  });

  test('property: every format round-trips for random keys', () => {
    fc.assert(
      fc.property(fc.uint8Array({minLength: 32, maxLength: 32}), (seed) => {
        const pub = SigningKey.fromSeed(seed).publicKey;
        const buf = Buffer.from(pub);
        for (const f of [toHex(pub), buf.toString('base64'), buf.toString('base64url'), spkiPem(pub)]) assert.deepEqual(parsePublicKey(f), pub);
      }),
      FC,
    );
  });

  test('rejects garbage and near misses with TypeError', () => {
    const hex = toHex(k.publicKey);
    const bad = [
      '',
      'garbage',
      hex.slice(2),
      `${hex}00`,
      `0x${hex}`,
      `${hex.slice(0, 63)}g`,
      Buffer.from(k.publicKey.subarray(1)).toString('base64'),
      Buffer.from(concatBytes(k.publicKey, new Uint8Array(1))).toString('base64'),
      `${b64}=`,
      '-----BEGIN PUBLIC KEY-----\ngarbage\n-----END PUBLIC KEY-----\n',
      SigningKey.fromSeed(VEC.seed).toPem(),
      generateKeyPairSync('x25519').publicKey.export({format: 'pem', type: 'spki'}).toString(),
      generateKeyPairSync('ec', {namedCurve: 'P-256'}).publicKey.export({format: 'pem', type: 'spki'}).toString(),
    ];
    for (const t of bad) assert.throws(() => parsePublicKey(t), TypeError, t);
  });

  test('rejects a 32-byte value that is not a point on the curve', () => {
    const notOnCurve = le(2n); // y = 2 gives no x: (y^2 - 1) / (d y^2 + 1) is not a square
    assert.equal(publicKeyProblem(notOnCurve), 'not-on-curve');
    assert.throws(() => parsePublicKey(toHex(notOnCurve)), TypeError);
  });

  test('rejects non-strings with TypeError', () => {
    const notStrings: unknown[] = [undefined, null, 42, k.publicKey];
    for (const x of notStrings) assert.throws(() => parsePublicKey(x as string), TypeError);
  });
});
