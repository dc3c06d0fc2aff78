// Proves Blake3 matches every official BLAKE3 vector, on the direct in-place path as on the regular one, hashes a split input like the whole, and parseBlake3Hex admits only 64 hex digits.
import {test, describe, before} from 'node:test';
import {strict as assert} from 'node:assert';
import {readFileSync} from 'node:fs';
import fc from 'fast-check';
import {createBLAKE3} from 'hash-wasm';
import {Blake3, BLAKE3_DIRECT_MAX, BLAKE3_LEN, parseBlake3Hex, concatBytes, toHex} from '../../src/crypto/index.js';
import {vectorPath} from '../helpers/index.js';

interface Blake3Case {
  readonly input_len: number;
  readonly hash: string;
}

function loadCases(): Blake3Case[] {
  const doc: unknown = JSON.parse(readFileSync(vectorPath('blake3.json'), 'utf8'));
  assert.ok(typeof doc === 'object' && doc !== null && 'cases' in doc && Array.isArray(doc.cases));
  return doc.cases.map((c: unknown): Blake3Case => {
    assert.ok(typeof c === 'object' && c !== null && 'input_len' in c && 'hash' in c);
    assert.ok(typeof c.input_len === 'number' && typeof c.hash === 'string');
    return {input_len: c.input_len, hash: c.hash};
  });
}

/** The official vectors' input: byte i is i % 251. */
function vectorInput(len: number): Uint8Array {
  const out = new Uint8Array(len);
  for (let i = 0; i < len; i++) out[i] = i % 251;
  return out;
}

const HEX64 = 'af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262'; // BLAKE3("")
const FC = {seed: 0xb1a4e3, numRuns: 200} as const;

let b3: Blake3;
before(async () => {
  b3 = await Blake3.create();
});

describe('Blake3 official vectors', () => {
  const cases = loadCases();

  test('the vector file holds all 22 cases', () => {
    assert.equal(cases.length, 22);
  });

  for (const c of cases) {
    test(`input_len ${c.input_len}`, () => {
      const want = c.hash.slice(0, BLAKE3_LEN * 2);
      const input = vectorInput(c.input_len);
      const got = b3.hash(input);
      assert.equal(got.length, BLAKE3_LEN);
      assert.equal(toHex(got), want);
      assert.equal(b3.hex(input), want);
    });
  }

  test('vectors also pass when the input is a view at an offset into a larger buffer', () => {
    for (const c of cases) {
      const big = new Uint8Array(c.input_len + 13).fill(0xaa);
      big.set(vectorInput(c.input_len), 7);
      assert.equal(b3.hex(big.subarray(7, 7 + c.input_len)), c.hash.slice(0, 64), `input_len ${c.input_len}`);
    }
  });
});

describe('Blake3 hashing of parts', () => {
  test('no parts hashes the empty input', () => {
    assert.equal(b3.hex(), HEX64);
    assert.equal(b3.hex(new Uint8Array(0), new Uint8Array(0)), HEX64);
  });

  test('property: hash(a, b) equals hash(concat(a, b))', () => {
    fc.assert(
      fc.property(fc.uint8Array({maxLength: 3000}), fc.uint8Array({maxLength: 3000}), (a, b) => {
        assert.deepEqual(b3.hash(a, b), b3.hash(concatBytes(a, b)));
      }),
      FC,
    );
  });

  test('property: any split of an input into parts gives the same digest', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({maxLength: 1100}), {maxLength: 6}), (parts) => {
        assert.equal(b3.hex(...parts), b3.hex(concatBytes(...parts)));
      }),
      FC,
    );
  });

  test('property: hash(a) differs from hash(a with one byte changed)', () => {
    fc.assert(
      fc.property(fc.uint8Array({minLength: 1, maxLength: 2000}), fc.nat(), fc.integer({min: 1, max: 255}), (a, i, x) => {
        const b = a.slice();
        const at = i % b.length;
        b[at] = (b[at] as number) ^ x;
        assert.notEqual(b3.hex(a), b3.hex(b));
      }),
      FC,
    );
  });

  test('a returned digest is not aliased by later hashes', () => {
    const first = b3.hash(new Uint8Array([1, 2, 3]));
    const copy = first.slice();
    b3.hash(new Uint8Array(5000).fill(9));
    b3.hash();
    assert.deepEqual(first, copy);
  });

  test('hashing does not modify its input', () => {
    const input = vectorInput(4097);
    const copy = input.slice();
    b3.hash(input, input);
    assert.deepEqual(input, copy);
  });
});

describe('Blake3 direct path (hash-wasm module driven in place)', () => {
  /** hash-wasm's regular streaming hasher, as the oracle. */
  const reference = async (): Promise<(b: Uint8Array) => string> => {
    const h = await createBLAKE3(256);
    return (b) => h.init().update(b).digest('hex');
  };

  test('is in use: the module loads from hash-wasm and agrees with its regular hasher', () => {
    assert.equal(b3.directProblem, undefined);
    assert.equal(b3.direct, true);
    const buf = b3.buffer;
    assert.ok(buf instanceof Uint8Array);
    assert.equal(buf.length, BLAKE3_DIRECT_MAX);
  });

  test('hashBuffer gives every official vector that fits, written over the first 32 bytes', () => {
    for (const c of loadCases().filter((x) => x.input_len <= BLAKE3_DIRECT_MAX)) {
      const buf = b3.buffer as Uint8Array;
      buf.set(vectorInput(c.input_len), 0);
      b3.hashBuffer(c.input_len);
      assert.equal(toHex(buf.subarray(0, 32)), c.hash.slice(0, 64), `input_len ${c.input_len}`);
    }
  });

  test('property: hashBuffer, hashOne and hash(parts) equal the reference, up to and across the buffer size', async () => {
    const ref = await reference();
    const lengths = fc.oneof(fc.integer({min: 0, max: 2100}), fc.integer({min: BLAKE3_DIRECT_MAX - 70, max: BLAKE3_DIRECT_MAX + 70}));
    fc.assert(
      fc.property(lengths, fc.integer({min: 0, max: 255}), fc.nat(), (len, seed, cut) => {
        const input = new Uint8Array(len);
        for (let i = 0; i < len; i++) input[i] = (i * 31 + seed) & 0xff;
        const want = ref(input);
        assert.equal(toHex(b3.hashOne(input)), want);
        const at = len === 0 ? 0 : cut % len;
        assert.equal(b3.hex(input.subarray(0, at), input.subarray(at)), want);
        if (len <= BLAKE3_DIRECT_MAX) {
          const buf = b3.buffer as Uint8Array;
          buf.set(input, 0);
          b3.hashBuffer(len);
          assert.equal(toHex(buf.subarray(0, 32)), want);
        }
      }),
      {seed: 0xd1ec7, numRuns: 150},
    );
  });

  test('views of the direct buffer itself, as one part or several, hash like copies of them', async () => {
    const ref = await reference();
    const b = b3.buffer as Uint8Array;
    const cases: [string, () => Uint8Array[]][] = [
      ['a fresh part, then a view at 0', () => [new Uint8Array(40), b.subarray(0, 50)]],
      ['a view at 100, then a view at 0', () => [b.subarray(100, 200), b.subarray(0, 50)]],
      ['the same view twice', () => [b.subarray(0, 64), b.subarray(0, 64)]],
      ['one view at an offset', () => [b.subarray(3, 3000)]],
      ['the whole buffer', () => [b]],
    ];
    for (const [what, parts] of cases) {
      for (let i = 0; i < b.length; i++) b[i] = (i * 7 + 1) & 0xff;
      const ps = parts();
      const want = ref(concatBytes(...ps.map((p) => p.slice())));
      assert.equal(toHex(b3.hash(...ps)), want, what);
      if (ps.length === 1) {
        for (let i = 0; i < b.length; i++) b[i] = (i * 7 + 1) & 0xff;
        assert.equal(toHex(b3.hashOne((parts()[0] as Uint8Array))), want, `${what}: hashOne`);
      }
    }
  });

  test('other typed arrays are hashed by their bytes, as hash-wasm does', async () => {
    const ref = await reference();
    const u16 = new Uint16Array([0x0102, 0x0304, 0xfffe]);
    const bytes = new Uint8Array(u16.buffer.slice(0));
    assert.equal(toHex(b3.hash(u16 as unknown as Uint8Array)), ref(bytes));
    assert.equal(toHex(b3.hashOne(u16 as unknown as Uint8Array)), ref(bytes));
    assert.equal(toHex(b3.hash(new Uint8Array(2), u16 as unknown as Uint8Array)), ref(concatBytes(new Uint8Array(2), bytes)));
  });

  test('hashBuffer refuses a length outside the buffer', () => {
    for (const bad of [-1, BLAKE3_DIRECT_MAX + 1, 1.5, Number.NaN]) assert.throws(() => b3.hashBuffer(bad), RangeError, String(bad));
  });
});

describe('parseBlake3Hex', () => {
  const upper = HEX64.toUpperCase();

  test('accepts 64 lowercase hex digits unchanged', () => {
    assert.equal(parseBlake3Hex(HEX64), HEX64);
  });

  test('accepts the blake3: prefix and strips it', () => {
    assert.equal(parseBlake3Hex(`blake3:${HEX64}`), HEX64);
  });

  test('normalises uppercase and mixed case to lowercase', () => {
    assert.equal(parseBlake3Hex(upper), HEX64);
    assert.equal(parseBlake3Hex(`blake3:${upper}`), HEX64);
    const mixed = [...HEX64].map((ch, i) => (i % 2 === 0 ? ch.toUpperCase() : ch)).join('');
    assert.equal(parseBlake3Hex(mixed), HEX64);
  });

  test('accepts what Blake3.hex produces', () => {
    const h = b3.hex(new Uint8Array([42]));
    assert.equal(parseBlake3Hex(h), h);
  });

  const badStrings: readonly [string, string][] = [
    ['empty', ''],
    ['63 digits', HEX64.slice(1)],
    ['65 digits', `${HEX64}0`],
    ['128 digits', HEX64 + HEX64],
    ['non-hex digit g', `g${HEX64.slice(1)}`],
    ['prefix only', 'blake3:'],
    ['prefix with short digest', `blake3:${HEX64.slice(2)}`],
    ['doubled prefix', `blake3:blake3:${HEX64}`],
    ['uppercase prefix', `BLAKE3:${HEX64}`],
    ['other algorithm prefix', `sha256:${HEX64}`],
    ['0x prefix', `0x${HEX64.slice(2)}`],
    ['leading space', ` ${HEX64}`],
    ['trailing space', `${HEX64} `],
    ['trailing newline', `${HEX64}\n`],
    ['leading newline', `\n${HEX64}`],
    ['embedded NUL', `${HEX64.slice(0, 32)}\u0000${HEX64.slice(33)}`],
    ['fullwidth digit', `\uff10${HEX64.slice(1)}`],
    ['Arabic-Indic digit', `\u0660${HEX64.slice(1)}`],
    ['Kelvin sign (lowercases to k)', `\u212a${HEX64.slice(1)}`],
    ['base64 of the digest', Buffer.from(HEX64, 'hex').toString('base64')],
    ['separator inside', `${HEX64.slice(0, 32)}-${HEX64.slice(32, 63)}`],
  ];
  for (const [name, value] of badStrings) {
    test(`rejects ${name} with TypeError`, () => {
      assert.throws(() => parseBlake3Hex(value), TypeError);
    });
  }

  const badValues: readonly [string, unknown][] = [
    ['undefined', undefined],
    ['null', null],
    ['a number', 42],
    ['a bigint', 1n],
    ['the 32 digest bytes', Buffer.from(HEX64, 'hex')],
    ['a String object', new String(HEX64)],
    ['an object whose toString is a digest', {toString: () => HEX64}],
    ['an array of one digest', [HEX64]],
  ];
  for (const [name, value] of badValues) {
    test(`rejects ${name} with TypeError`, () => {
      assert.throws(() => parseBlake3Hex(value), TypeError);
    });
  }

  test('property: any mixed-case 64-digit hex string (optionally prefixed) is accepted and lowercased', () => {
    const hexChar = fc.constantFrom(...'0123456789abcdefABCDEF');
    fc.assert(
      fc.property(fc.array(hexChar, {minLength: 64, maxLength: 64}), fc.boolean(), (chars, prefixed) => {
        const s = chars.join('');
        assert.equal(parseBlake3Hex(prefixed ? `blake3:${s}` : s), s.toLowerCase());
      }),
      FC,
    );
  });

  test('property: any other string is rejected, and whatever is accepted is 64 lowercase hex digits', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({unit: 'grapheme', maxLength: 80}), fc.string({unit: 'binary', minLength: 60, maxLength: 72})), (s) => {
        let out: string;
        try {
          out = parseBlake3Hex(s);
        } catch (e) {
          assert.ok(e instanceof TypeError);
          return;
        }
        assert.match(out, /^[0-9a-f]{64}$/);
        assert.equal(out, (s.startsWith('blake3:') ? s.slice(7) : s).toLowerCase());
      }),
      FC,
    );
  });
});
