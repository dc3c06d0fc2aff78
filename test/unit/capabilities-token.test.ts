// Proves a capability token parses only as the exact canonical bytes its issuer signed: forged, malleable, small-order, non-canonical, oversize and garbage tokens are refused with the right code.
import {describe, it} from 'node:test';
import {strict as assert} from 'node:assert';
import fc from 'fast-check';
import {
  normaliseCaveats,
  parseToken,
  parseTokenAsync,
  parseTokenId,
  signToken,
  tokenFromText,
  tokenJson,
  tokenToText,
  MAX_TOKEN_BYTES,
  TOKEN_VERSION,
  type Caveat,
  type Token,
  type TokenDraft,
} from '../../src/capabilities/index.js';
import {SigningKey, concatBytes, fromHex, publicKeyProblem, toHex} from '../../src/crypto/index.js';
import {code, hasher} from '../helpers/ledger-fixtures.js';
import {xorshift32} from '../helpers/prng.js';

const FC = {seed: 0x70c3e, numRuns: 60} as const;
const L = 2n ** 252n + 27742317777372353535851937790883648493n;
const h = await hasher();
const seed = (b: number): Uint8Array => new Uint8Array(32).fill(b);
const OWNER = SigningKey.fromSeed(seed(11));
const ALICE = SigningKey.fromSeed(seed(21));
const MALLORY = SigningKey.fromSeed(seed(66));
const T0 = 1_700_000_000_000;
const HASH = 'ab'.repeat(32);

// Written out from the format (token.ts), not imported: a change to what is signed shows up here.
const DOMAIN = new Uint8Array(Buffer.from('astrid.token.v1\u0000', 'utf8'));
const AXES = ['fuel', 'memory_pages', 'wall_ms', 'messages', 'egress_bytes'] as const;

const rand = xorshift32(0x5eed);
const nonce = (): Uint8Array => Uint8Array.from({length: 16}, () => rand() & 0xff);

function draft(over: Partial<TokenDraft> = {}): TokenDraft {
  return {
    subject: 'alice',
    subjectKey: ALICE.publicKey,
    resources: ['fs.read:/srv/project/**', 'bus.send:tool.>', 'net.http:GET https://api.example.com/v1/'],
    budget: {messages: 10, fuel: 1_000_000},
    nbf: T0,
    exp: T0 + 3_600_000,
    caveats: [{type: 'capsule', hash: HASH}, {type: 'max_uses', n: 5}, {type: 'allow', resource: 'fs.read', values: ['/srv/project/a', '/srv/project/b']}],
    parent: null,
    nonce: nonce(),
    ...over,
  };
}
const TOKEN = signToken(h, OWNER, draft());

// ---- a hand msgpack encoder, so tests can choose encodings msgpackr would never produce ----
/** `{raw}` is written as is (for values the encoder does not write, such as -1 or 1.5). */
type Mp = null | number | string | Uint8Array | {readonly raw: readonly number[]} | readonly Mp[];
interface Widths {
  readonly int?: 'u32' | 'u64' | 'f64';
  readonly str?: 'str8' | 'str16';
  readonly bin16?: boolean;
  readonly arr16?: boolean;
}
const be = (n: number, len: number): number[] => Array.from({length: len}, (_, i) => Number((BigInt(n) >> BigInt(8 * (len - 1 - i))) & 0xffn));
const f64 = (n: number): number[] => [0xcb, ...new Uint8Array(new Float64Array([n]).buffer).reverse()];
function mp(v: Mp, w: Widths = {}): Uint8Array {
  const out: number[] = [];
  const put = (x: Mp): void => {
    if (x === null) out.push(0xc0);
    else if (typeof x === 'number') {
      assert.ok(Number.isSafeInteger(x) && x >= 0, 'the hand encoder writes non-negative integers only');
      if (w.int === 'u32') out.push(0xce, ...be(x, 4));
      else if (w.int === 'u64') out.push(0xcf, ...be(x, 8));
      else if (w.int === 'f64' || x >= 2 ** 32) out.push(...f64(x)); // msgpackr writes integers beyond 32 bits as float64
      else if (x < 0x80) out.push(x);
      else out.push(...(x < 0x100 ? [0xcc, x] : x < 0x10000 ? [0xcd, ...be(x, 2)] : [0xce, ...be(x, 4)]));
    } else if (typeof x === 'string') {
      const b = Buffer.from(x, 'utf8');
      if (w.str === 'str16' || b.length >= 0x100) out.push(0xda, ...be(b.length, 2));
      else out.push(...(w.str === 'str8' || b.length >= 32 ? [0xd9, b.length] : [0xa0 | b.length]));
      out.push(...b);
    } else if (x instanceof Uint8Array) {
      out.push(...(w.bin16 === true || x.length >= 0x100 ? [0xc5, ...be(x.length, 2)] : [0xc4, x.length]), ...x);
    } else if ('raw' in x) out.push(...x.raw);
    else {
      out.push(...(w.arr16 === true || x.length >= 16 ? [0xdc, ...be(x.length, 2)] : [0x90 | x.length]));
      for (const y of x) put(y);
    }
  };
  put(v);
  return new Uint8Array(out);
}

function caveatMp(c: Caveat): Mp {
  switch (c.type) {
    case 'capsule':
      return ['capsule', c.hash];
    case 'single_use':
      return ['single_use'];
    case 'max_uses':
      return ['max_uses', c.n];
    case 'allow':
      return ['allow', c.resource, [...c.values]];
  }
}
/** The body array of a token, field by field, as the format says. */
function bodyOf(t: Token): Mp[] {
  return [t.v, t.issuer, t.subject, t.subjectKey, t.resources.map((r) => r.text), AXES.map((a) => t.budget[a] ?? null), t.nbf, t.exp, t.caveats.map(caveatMp), t.parent, t.nonce];
}
const signBody = (key: SigningKey, body: Uint8Array): Uint8Array => key.sign(concatBytes(DOMAIN, body));
/** Edit one field of TOKEN's body, re-encode canonically, and sign it properly with `key`. */
function edited(edit: (b: Mp[]) => Mp[], key: SigningKey = OWNER, w: Widths = {}): [Uint8Array, Uint8Array] {
  const body = mp(edit(bodyOf(TOKEN)), w);
  return [body, signBody(key, body)];
}
function flipBit(b: Uint8Array, bit: number): Uint8Array {
  const out = new Uint8Array(b); // a copy (Buffer#slice would be a view)
  out[bit >> 3] = (out[bit >> 3] as number) ^ (1 << (bit & 7));
  return out;
}
function le(n: bigint): Uint8Array {
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) out[i] = Number((n >> BigInt(8 * i)) & 0xffn);
  return out;
}
const fromLe = (b: Uint8Array): bigint => b.reduceRight((n, x) => (n << 8n) | BigInt(x), 0n);
const set = (b: Mp[], i: number, v: Mp): Mp[] => b.map((x, j) => (j === i ? v : x));
/** Refused as forged or malformed: never accepted, never another kind of error. */
const refused = (e: unknown): boolean => e instanceof Error && 'code' in e && (e.code === 'TOKEN_BAD_SIGNATURE' || e.code === 'TOKEN_INVALID');

// Points of small order (orders 1, 2, 4, 4, 8): each verifies "signatures" for many messages.
const SMALL_ORDER = [
  '0100000000000000000000000000000000000000000000000000000000000000',
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  '0000000000000000000000000000000000000000000000000000000000000000',
  '0000000000000000000000000000000000000000000000000000000000000080',
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa',
].map((x) => fromHex(x));

describe('round trip and the signed format', () => {
  it('parseToken(signToken(d)) gives back every field, the id and the hash', () => {
    const p = parseToken(h, TOKEN.bytes, TOKEN.sig);
    assert.equal(p.id, TOKEN.id);
    assert.equal(p.hash, TOKEN.hash);
    assert.deepEqual(tokenJson(p), tokenJson(TOKEN));
    assert.deepEqual(p.nonce, TOKEN.nonce);
    assert.deepEqual(p.issuer, OWNER.publicKey);
    assert.equal(p.v, TOKEN_VERSION);
  });

  it('the body is the 11-field array of the format, and the signature covers "astrid.token.v1\\0" || body', () => {
    assert.equal(toHex(mp(bodyOf(TOKEN))), toHex(TOKEN.bytes));
    assert.equal(toHex(signBody(OWNER, TOKEN.bytes)), toHex(TOKEN.sig));
  });

  it('the id is tk_ + the first 32 hex of BLAKE3(body); the hash is BLAKE3(body || sig)', () => {
    assert.match(TOKEN.id, /^tk_[0-9a-f]{32}$/);
    assert.equal(TOKEN.id, 'tk_' + toHex(h.hashOne(TOKEN.bytes)).slice(0, 32));
    assert.equal(TOKEN.hash, toHex(h.hash(TOKEN.bytes, TOKEN.sig)));
    assert.equal(parseTokenId(TOKEN.id), TOKEN.id);
    for (const bad of ['tk_' + 'A'.repeat(32), 'tk_' + 'a'.repeat(31), 'tk_' + 'a'.repeat(33), 'TK_' + 'a'.repeat(32), 7, null]) {
      assert.throws(() => parseTokenId(bad), code('TOKEN_INVALID'));
    }
  });

  it('property: different nonces give different ids; the same draft and nonce give the same bytes', () => {
    const n16 = fc.uint8Array({minLength: 16, maxLength: 16});
    fc.assert(
      fc.property(n16, n16, (a, b) => {
        const ta = signToken(h, OWNER, draft({nonce: a}));
        assert.deepEqual(signToken(h, OWNER, draft({nonce: a})).bytes, ta.bytes);
        if (toHex(a) !== toHex(b)) assert.notEqual(signToken(h, OWNER, draft({nonce: b})).id, ta.id);
      }),
      FC,
    );
  });

  it('property: drafts that differ only in resource and caveat order or duplicates sign the same bytes', () => {
    const d = draft();
    fc.assert(
      fc.property(fc.shuffledSubarray([...d.resources, ...d.resources], {minLength: 6}), fc.shuffledSubarray([...(d.caveats ?? []), ...(d.caveats ?? [])], {minLength: 6}), (rs, cs) => {
        const t = signToken(h, OWNER, {...d, resources: rs, caveats: cs});
        assert.deepEqual(t.bytes, signToken(h, OWNER, d).bytes);
      }),
      FC,
    );
  });

  it('a token with no budget, no expiry and no caveats round trips', () => {
    const t = signToken(h, OWNER, draft({budget: {}, exp: null, caveats: []}));
    const p = parseToken(h, t.bytes, t.sig);
    assert.deepEqual(p.budget, {});
    assert.equal(p.exp, null);
    assert.deepEqual(p.caveats, []);
  });
});

describe('hostile: signatures', () => {
  it('every single-bit flip of the signature is TOKEN_BAD_SIGNATURE', () => {
    for (let bit = 0; bit < 512; bit++) assert.throws(() => parseToken(h, TOKEN.bytes, flipBit(TOKEN.sig, bit)), code('TOKEN_BAD_SIGNATURE'), `sig bit ${bit}`);
  });

  it('every single-bit flip of the body is refused (TOKEN_BAD_SIGNATURE or TOKEN_INVALID), never accepted', () => {
    for (let bit = 0; bit < TOKEN.bytes.length * 8; bit++) assert.throws(() => parseToken(h, flipBit(TOKEN.bytes, bit), TOKEN.sig), refused, `body bit ${bit}`);
  });

  it('the non-canonical signature S + L (the same signature modulo L) is refused', () => {
    const s = fromLe(TOKEN.sig.subarray(32));
    for (let n = 1n; s + n * L < 2n ** 256n; n++) {
      const sig = new Uint8Array(TOKEN.sig);
      sig.set(le(s + n * L), 32);
      assert.throws(() => parseToken(h, TOKEN.bytes, sig), code('TOKEN_BAD_SIGNATURE'), `S + ${n}L`);
    }
  });

  it('a body signed by someone else than its stated issuer is TOKEN_BAD_SIGNATURE', () => {
    assert.throws(() => parseToken(h, TOKEN.bytes, signBody(MALLORY, TOKEN.bytes)), code('TOKEN_BAD_SIGNATURE'));
    assert.throws(() => parseToken(h, TOKEN.bytes, MALLORY.sign(TOKEN.bytes)), code('TOKEN_BAD_SIGNATURE'), 'no domain prefix');
    assert.throws(() => parseToken(h, TOKEN.bytes, OWNER.sign(TOKEN.bytes)), code('TOKEN_BAD_SIGNATURE'), 'issuer key, no domain prefix');
  });

  it('re-issuing under another key parses (issuer is stated, not trusted) but gets a different id', () => {
    const [body, sig] = edited((b) => set(b, 1, MALLORY.publicKey), MALLORY);
    const t = parseToken(h, body, sig);
    assert.deepEqual(t.issuer, MALLORY.publicKey);
    assert.notEqual(t.id, TOKEN.id);
  });

  it('small-order, non-canonical and wrong-length issuer keys are TOKEN_INVALID, whatever the signature', () => {
    for (const k of SMALL_ORDER) assert.equal(publicKeyProblem(k), 'small-order', toHex(k));
    const nonCanonical = le(2n ** 255n - 19n); // y = p
    for (const k of [...SMALL_ORDER, nonCanonical, new Uint8Array(31), new Uint8Array(33)]) {
      const [body] = edited((b) => set(b, 1, k));
      // (R, S) = (identity, 0): the signature small-order keys "verify" for many messages.
      assert.throws(() => parseToken(h, body, concatBytes(SMALL_ORDER[0] as Uint8Array, new Uint8Array(32))), code('TOKEN_INVALID'), toHex(k));
      assert.throws(() => parseToken(h, body, signBody(OWNER, body)), code('TOKEN_INVALID'), toHex(k));
    }
  });

  it('signToken refuses a small-order subject key', () => {
    for (const k of SMALL_ORDER) assert.throws(() => signToken(h, OWNER, draft({subjectKey: k})), code('TOKEN_INVALID'));
  });

  it('signatures of the wrong length are TOKEN_INVALID', () => {
    for (const n of [0, 63, 65, 128]) assert.throws(() => parseToken(h, TOKEN.bytes, new Uint8Array(n)), code('TOKEN_INVALID'), `length ${n}`);
  });
});

describe('hostile: non-canonical bodies, each properly signed by the issuer', () => {
  const widthCases: Array<[string, Widths]> = [
    ['every integer as uint64', {int: 'u64'}], ['every integer as float64', {int: 'f64'}], ['every integer as uint32', {int: 'u32'}],
    ['every short string as str8', {str: 'str8'}], ['every string as str16', {str: 'str16'}],
    ['every byte string as bin16', {bin16: true}], ['every array with a 16-bit length', {arr16: true}],
  ];
  for (const [name, w] of widthCases) {
    it(`the same array re-encoded with ${name} is TOKEN_INVALID`, () => {
      const [body, sig] = edited((b) => b, OWNER, w);
      assert.notDeepEqual(body, TOKEN.bytes);
      assert.throws(() => parseToken(h, body, sig), code('TOKEN_INVALID'));
    });
  }

  it('one wider integer (the version as 0xcc 0x01) is TOKEN_INVALID', () => {
    const body = concatBytes(TOKEN.bytes.subarray(0, 1), Uint8Array.of(0xcc, 0x01), TOKEN.bytes.subarray(2));
    assert.equal(TOKEN.bytes[1], 0x01);
    assert.throws(() => parseToken(h, body, signBody(OWNER, body)), code('TOKEN_INVALID'));
  });

  it('trailing bytes after the body array are TOKEN_INVALID', () => {
    const body = concatBytes(TOKEN.bytes, Uint8Array.of(0xc0));
    assert.throws(() => parseToken(h, body, signBody(OWNER, body)), code('TOKEN_INVALID'));
  });

  const r = TOKEN.resources.map((x) => x.text);
  const cv = TOKEN.caveats.map(caveatMp);
  const fieldCases: Array<[string, (b: Mp[]) => Mp[]]> = [
    ['unsorted resources', (b) => set(b, 4, [...r].reverse())], ['a duplicated resource', (b) => set(b, 4, [r[0] as string, ...r])], ['no resources', (b) => set(b, 4, [])],
    ['65 resources', (b) => set(b, 4, Array.from({length: 65}, (_, i) => `kv:ns${String(i).padStart(3, '0')}`))],
    ['an unnormalised resource (..)', (b) => set(b, 4, ['fs.read:/srv/../etc/**'])],
    ['a resource that is not a string', (b) => set(b, 4, [7])],
    ['a duplicated caveat', (b) => set(b, 8, [...cv, ['capsule', HASH]])], ['unsorted caveats', (b) => set(b, 8, [...cv].reverse())],
    ['unsorted allow values', (b) => set(b, 8, cv.map((c) => (Array.isArray(c) && c[0] === 'allow' ? ['allow', 'fs.read', ['/srv/project/b', '/srv/project/a']] : c)))],
    ['an unknown caveat', (b) => set(b, 8, [...cv, ['frobnicate']])], ['single_use with an argument', (b) => set(b, 8, [['single_use', 1]])],
    ['max_uses 0', (b) => set(b, 8, [['max_uses', 0]])], ['max_uses -1', (b) => set(b, 8, [['max_uses', {raw: [0xff]}]])],
    ['budget messages -1', (b) => set(b, 5, [null, null, null, {raw: [0xff]}, null])], ['budget messages 1.5', (b) => set(b, 5, [null, null, null, {raw: f64(1.5)}, null])],
    ['a budget of 4 axes', (b) => set(b, 5, [null, null, null, 10])], ['a budget axis as a string', (b) => set(b, 5, [null, null, null, '10', null])],
    ['nbf -1', (b) => set(b, 6, {raw: [0xff]})], ['a fractional nbf', (b) => set(b, 6, {raw: f64(T0 + 0.5)})], ['exp NaN', (b) => set(b, 7, {raw: f64(NaN)})],
    ['exp equal to nbf', (b) => set(b, 7, T0)], ['exp before nbf', (b) => set(b, 7, T0 - 1)],
    ['an extra 12th field', (b) => [...b, null]], ['a missing 11th field', (b) => b.slice(0, 10)], ['version 2', (b) => set(b, 0, 2)], ['version 0', (b) => set(b, 0, 0)],
    ['an upper-case subject', (b) => set(b, 2, 'Alice')], ['a parent that is not a token id', (b) => set(b, 9, 'tk_XYZ')],
    ['a 15-byte nonce', (b) => set(b, 10, new Uint8Array(15))], ['a 31-byte subject key', (b) => set(b, 3, new Uint8Array(31))],
  ];
  for (const [name, edit] of fieldCases) {
    it(`${name} is TOKEN_INVALID`, () => {
      const [body, sig] = edited(edit);
      assert.throws(() => parseToken(h, body, sig), code('TOKEN_INVALID'));
    });
  }

  it('bodies that are not an array, or not msgpack at all, are TOKEN_INVALID', () => {
    for (const body of [Uint8Array.of(0xc1), Uint8Array.of(0x80), mp('astrid'), Uint8Array.of(0x9b), new Uint8Array(0)]) {
      assert.throws(() => parseToken(h, body, signBody(OWNER, body)), code('TOKEN_INVALID'), toHex(body));
    }
  });
});

describe('hostile: size limits', () => {
  it(`a body over ${MAX_TOKEN_BYTES} bytes is TOKEN_INVALID before anything is decoded`, () => {
    const body = new Uint8Array(MAX_TOKEN_BYTES + 1).fill(0x90);
    assert.throws(() => parseToken(h, body, new Uint8Array(64)), code('TOKEN_INVALID'));
  });

  it('signToken refuses a draft that would encode to more than the limit', () => {
    const resources = Array.from({length: 64}, (_, i) => `fs.read:/${String(i).padStart(2, '0')}${'x'.repeat(4000)}`);
    assert.throws(() => signToken(h, OWNER, draft({resources})), code('TOKEN_INVALID'));
  });

  it('signToken refuses 0 or 65 resources, 33 caveats, an invalid resource (RESOURCE_INVALID), a bad window, budget, nonce or subject', () => {
    const bad: Array<Partial<TokenDraft>> = [
      {resources: []}, {resources: Array.from({length: 65}, (_, i) => `kv:n${i}`)},
      {caveats: Array.from({length: 33}, (_, i): Caveat => ({type: 'max_uses', n: i + 1}))},
      {exp: T0}, {nbf: -1}, {nbf: 0.5}, {budget: {messages: -1}}, {budget: {messages: Infinity}}, {budget: JSON.parse('{"coins": 1}') as Record<string, number>},
      {nonce: new Uint8Array(8)}, {subject: 'Alice'},
    ];
    for (const over of bad) assert.throws(() => signToken(h, OWNER, draft(over)), code('TOKEN_INVALID'), JSON.stringify(over).slice(0, 80));
    // the caller's resource is what is malformed, not a token: the resource grammar's own code
    assert.throws(() => signToken(h, OWNER, draft({resources: ['fs.read:/srv/%2e%2e/etc']})), code('RESOURCE_INVALID'));
  });
});

describe('text form', () => {
  it('tokenToText / tokenFromText round trip, surrounding whitespace ignored', () => {
    const text = tokenToText(TOKEN);
    assert.match(text, /^astrid-token\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{86}$/);
    assert.equal(tokenFromText(h, text).id, TOKEN.id);
    assert.equal(tokenFromText(h, `\n  ${text}\n`).hash, TOKEN.hash);
  });

  it('garbage is TOKEN_INVALID', () => {
    const [, body, sig] = tokenToText(TOKEN).split('.') as [string, string, string];
    const garbage = [
      ...['', 'astrid-token', 'astrid-token..', `astrid-token.${body}`, `astrid-token.${body}.${sig.slice(1)}`, `astrid-token.${body}.${sig}A`, `astrid-token.${body}.${sig}.`],
      ...[`Astrid-token.${body}.${sig}`, `astrid-token:${body}:${sig}`, `astrid-token.${body}=.${sig}`, `astrid-token.${body.replace(/^./, '+')}.${sig}`],
      ...[`astrid-token.${body.slice(0, 10)}\n${body.slice(10)}.${sig}`, `astrid-token.${'A'.repeat(90_001)}.${sig}`, `astrid-token.AAAA.${sig}`],
    ];
    for (const g of garbage) assert.throws(() => tokenFromText(h, g), code('TOKEN_INVALID'), g.slice(0, 60));
  });

  it('a text with one body or signature character changed is refused', () => {
    const text = tokenToText(TOKEN);
    const start = 'astrid-token.'.length;
    for (let i = start; i < text.length - 1; i += 7) {
      if (text[i] === '.') continue;
      const swapped = text.slice(0, i) + (text[i] === 'A' ? 'B' : 'A') + text.slice(i + 1);
      assert.throws(() => tokenFromText(h, swapped), refused, `char ${i}`);
    }
  });
});

describe('normaliseCaveats', () => {
  const untyped = (list: unknown[]): Caveat[] => list as Caveat[];

  it('validates, sorts values, sorts the list and deduplicates', () => {
    const out = normaliseCaveats([{type: 'single_use'}, {type: 'allow', resource: 'kv', values: ['b', 'a', 'b']}, {type: 'single_use'}, {type: 'capsule', hash: HASH}, {type: 'max_uses', n: 3}]);
    assert.deepEqual(out, [{type: 'allow', resource: 'kv', values: ['a', 'b']}, {type: 'capsule', hash: HASH}, {type: 'max_uses', n: 3}, {type: 'single_use'}]);
    assert.deepEqual(normaliseCaveats(out), out, 'idempotent');
  });

  const bad: Array<[string, unknown[]]> = [
    ['33 caveats', Array.from({length: 33}, (_, i) => ({type: 'max_uses', n: i + 1}))],
    ['an upper-case capsule hash', [{type: 'capsule', hash: 'AB'.repeat(32)}]],
    ['a 63-hex capsule hash', [{type: 'capsule', hash: HASH.slice(1)}]],
    ['a blake3:-prefixed capsule hash', [{type: 'capsule', hash: 'blake3:' + HASH}]],
    ['max_uses 0', [{type: 'max_uses', n: 0}]], ['max_uses -1', [{type: 'max_uses', n: -1}]], ['max_uses 1.5', [{type: 'max_uses', n: 1.5}]],
    ['max_uses NaN', [{type: 'max_uses', n: NaN}]], ['max_uses 1e9 + 1', [{type: 'max_uses', n: 1_000_000_001}]], ['max_uses as a string', [{type: 'max_uses', n: '3'}]],
    ['allow on an unknown resource type', [{type: 'allow', resource: 'fs.exec', values: ['/x']}]],
    ['allow with no values', [{type: 'allow', resource: 'kv', values: []}]], ['allow with an empty value', [{type: 'allow', resource: 'kv', values: ['']}]],
    ['allow with a 4097-char value', [{type: 'allow', resource: 'kv', values: ['a'.repeat(4097)]}]],
    ['allow with 65 values', [{type: 'allow', resource: 'kv', values: Array.from({length: 65}, (_, i) => `v${i}`)}]],
    ['allow with a non-string value', [{type: 'allow', resource: 'kv', values: [1]}]],
    ['an unknown caveat type', [{type: 'expires_soon'}]],
  ];
  for (const [name, list] of bad) {
    it(`refuses ${name} with TOKEN_INVALID`, () => {
      assert.throws(() => normaliseCaveats(untyped(list)), code('TOKEN_INVALID'));
    });
  }

  it('max_uses 1e9 and 64 allow values are the accepted limits', () => {
    assert.doesNotThrow(() => normaliseCaveats([{type: 'max_uses', n: 1_000_000_000}]));
    assert.doesNotThrow(() => normaliseCaveats([{type: 'allow', resource: 'kv', values: Array.from({length: 64}, (_, i) => `v${i}`)}]));
  });
});

describe('parseTokenAsync (signatures on the thread pool)', () => {
  it('agrees with parseToken: a good token parses to the same id and hash; a forged or malleated signature is refused', async () => {
    const t = signToken(h, OWNER, draft());
    const a = await parseTokenAsync(h, t.bytes, t.sig);
    assert.deepEqual([a.id, a.hash], [t.id, t.hash]);
    const flipped = new Uint8Array(t.sig);
    flipped[5] = (flipped[5] as number) ^ 1;
    await assert.rejects(parseTokenAsync(h, t.bytes, flipped), code('TOKEN_BAD_SIGNATURE'));
    // S + L: the same point equation, a non-canonical scalar: refused before any curve work
    const L = fromHex('edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010');
    const s = t.sig.subarray(32);
    const sum = new Uint8Array(32);
    let carry = 0;
    for (let i = 0; i < 32; i++) {
      const x = (s[i] as number) + (L[i] as number) + carry;
      sum[i] = x & 0xff;
      carry = x >> 8;
    }
    if (carry === 0) await assert.rejects(parseTokenAsync(h, t.bytes, concatBytes(t.sig.subarray(0, 32), sum)), code('TOKEN_BAD_SIGNATURE'));
    await assert.rejects(parseTokenAsync(h, t.bytes.subarray(1), t.sig), code('TOKEN_INVALID'));
  });
});
