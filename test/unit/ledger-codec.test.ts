// Proves the entry codec round-trips every valid entry, never throws on hostile bytes, and rejects anything but the exact plain-msgpack entry map: extra, missing or reordered fields, wrong types, extensions, unknown kinds, bad ids.
import {describe, test} from 'node:test';
import {strict as assert} from 'node:assert';
import fc from 'fast-check';
import {Packr} from 'msgpackr';
import {
  ID_RE,
  MAX_ENTRY_BYTES,
  MAX_NOTE_CHARS,
  decodeEntry,
  encodeEntry,
  isId,
  parseSeq,
  parseSessionId,
  type LedgerEntry,
} from '../../src/ledger/index.js';
import {checkStoredEntry, encodeFieldsInto, encodeWithPrev, packBody, type CheckedEntry} from '../../src/ledger/codec.js';
import {ENTRY_KINDS} from '../../src/ledger/index.js';

const plain = new Packr({useRecords: false, moreTypes: false, variableMapSize: true});
const bytes = (n: number, fill = 0): Uint8Array => new Uint8Array(n).fill(fill);

const BASE = {
  v: 1,
  seq: 7,
  prev: bytes(32, 9),
  time: 1_700_000_000_000,
  session: 'sess-1',
  principal: 'owner',
  actor: 'cli',
  kind: 'note',
  body: {text: 'hello'},
} as const;
const base = (): Record<string, unknown> => ({...BASE, prev: bytes(32, 9), body: {...BASE.body}});

/** Bytes to splice into rawMap as they are. */
class Raw {
  constructor(readonly bytes: Uint8Array) {}
}
/** A msgpack map built pair by pair, so keys can repeat or be of any type. */
function rawMap(pairs: Array<[unknown, unknown]>): Uint8Array {
  const enc = (x: unknown): Uint8Array => (x instanceof Raw ? x.bytes : plain.pack(x));
  return Buffer.concat([Uint8Array.of(0xde, pairs.length >> 8, pairs.length & 0xff), ...pairs.flatMap(([k, v]) => [enc(k), enc(v)])]);
}
const pairsOf = (o: Record<string, unknown>): Array<[unknown, unknown]> => Object.entries(o);

/** Bytes as hex, recursively: decoders hand out Buffers, which deepStrictEqual tells from Uint8Arrays. */
function norm(x: unknown): unknown {
  if (x instanceof Uint8Array) return `bytes:${Buffer.from(x).toString('hex')}`;
  if (typeof x === 'object' && x !== null) return Object.fromEntries(Object.entries(x).map(([k, v]) => [k, norm(v)]));
  return x;
}

function rejects(b: Uint8Array, why: RegExp, label: string): void {
  const r = decodeEntry(b);
  assert.equal(r.ok, false, `${label}: accepted`);
  if (!r.ok) assert.match(r.problem, why, label);
}

const id = fc.stringMatching(ID_RE);
type Known = 'genesis' | 'note' | 'kernel.boot' | 'kernel.shutdown';
const bodyFor: {[K in Known]: fc.Arbitrary<LedgerEntry<K>['body']>} = {
  genesis: fc.record({format: fc.constant(1), kernelKey: fc.uint8Array({minLength: 32, maxLength: 32})}),
  note: fc.record({text: fc.string({minLength: 1, maxLength: MAX_NOTE_CHARS, unit: 'binary'}).filter((s) => s.length <= MAX_NOTE_CHARS)}),
  'kernel.boot': fc.record({version: fc.string({minLength: 1, maxLength: 64}), mode: fc.constantFrom('start' as const, 'cli' as const)}),
  'kernel.shutdown': fc.record({reason: fc.string({minLength: 1, maxLength: 256})}),
};
const entryArb: fc.Arbitrary<LedgerEntry> = fc
  .constantFrom(...(Object.keys(bodyFor) as Known[]))
  .chain((kind) => fc.tuple(fc.constant(kind), bodyFor[kind] as fc.Arbitrary<LedgerEntry['body']>))
  .chain(([kind, body]) =>
    fc.record({
      v: fc.constant(1),
      seq: fc.integer({min: 1, max: Number.MAX_SAFE_INTEGER}),
      prev: fc.uint8Array({minLength: 32, maxLength: 32}),
      time: fc.integer({min: 0, max: Number.MAX_SAFE_INTEGER}),
      session: id,
      principal: id,
      actor: id,
      kind: fc.constant(kind),
      body: fc.constant(body),
    }),
  ) as fc.Arbitrary<LedgerEntry>;

describe('entry codec', () => {
  test('round trip: every valid entry decodes to itself, and re-encodes to the same bytes', () => {
    fc.assert(
      fc.property(entryArb, (e) => {
        const b = encodeEntry(e);
        assert.ok(b.length <= MAX_ENTRY_BYTES);
        const d = decodeEntry(b);
        assert.ok(d.ok, d.ok ? '' : d.problem);
        const got = d.entry as LedgerEntry;
        assert.deepEqual(Object.keys(got), ['v', 'seq', 'prev', 'time', 'session', 'principal', 'actor', 'kind', 'body']);
        assert.deepEqual(norm(got), norm(e));
        assert.deepEqual(new Uint8Array(encodeEntry(got)), new Uint8Array(b));
      }),
      {numRuns: 300},
    );
  });

  test('decode never throws on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({maxLength: 600}), (b) => {
        const r = decodeEntry(b);
        assert.equal(typeof r.ok, 'boolean');
        if (!r.ok) assert.equal(typeof r.problem, 'string');
      }),
      {numRuns: 2000},
    );
  });

  test('decode never throws on valid entries with bytes flipped, cut or inserted, and never accepts trailing bytes', () => {
    fc.assert(
      fc.property(entryArb, fc.nat(), fc.integer({min: 1, max: 255}), fc.constantFrom('flip', 'cut', 'insert', 'append'), (e, at, x, how) => {
        const b = encodeEntry(e);
        const p = at % b.length;
        const m =
          how === 'flip'
            ? Uint8Array.from(b, (v, i) => (i === p ? v ^ x : v))
            : how === 'cut'
              ? b.subarray(0, p)
              : how === 'insert'
                ? Buffer.concat([b.subarray(0, p), Uint8Array.of(x), b.subarray(p)])
                : Buffer.concat([b, Uint8Array.of(x)]);
        const r = decodeEntry(m);
        if (how === 'append' || how === 'cut') assert.equal(r.ok, false);
        if (r.ok) assert.equal(r.entry.kind.length > 0, true);
      }),
      {numRuns: 1000},
    );
  });

  test('rejects empty, oversize and non-map input', () => {
    rejects(new Uint8Array(0), /empty/, 'empty');
    rejects(new Uint8Array(MAX_ENTRY_BYTES + 1), /too large/, 'oversize');
    for (const v of [[1, 2], 'entry', null, 42, bytes(4), true]) rejects(plain.pack(v), /not a map/, JSON.stringify(v));
  });

  test('rejects extra, missing, renamed, repeated and reordered fields', () => {
    const o = base();
    rejects(plain.pack({...o, extra: 1}), /field count/, 'extra');
    const {actor: _a, ...missing} = o;
    rejects(plain.pack(missing), /field count/, 'missing');
    rejects(plain.pack({...missing, acter: 'cli'}), /order or name/, 'renamed');
    const {seq, prev, ...rest} = o;
    rejects(plain.pack({v: rest.v, prev, seq, ...rest}), /order or name/, 'seq and prev swapped');
    rejects(plain.pack({body: o.body, ...o}), /order or name/, 'body first');
    const pairs = pairsOf(o);
    rejects(rawMap([...pairs.slice(0, 8), ['kind', 'kernel.shutdown'], pairs[8] as [unknown, unknown]]), /plain msgpack/, 'repeated key');
    rejects(rawMap([...pairs.slice(0, 8), ['body', new Raw(rawMap([['text', 'x'], ['text', 'y']]))]]), /plain msgpack/, 'repeated body key');
    rejects(rawMap([...pairs.slice(0, 8), ['__proto__', {text: 'x'}]]), /order or name/, '__proto__ in place of body');
    rejects(plain.pack({...o, body: {text: 'x', extra: 1}}), /unexpected field/, 'extra body field');
    rejects(rawMap([...pairs.slice(0, 8), ['body', new Map<unknown, unknown>([['text', 'x'], ['__proto__', {polluted: true}]])]]), /body/, '__proto__ in body');
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  test('rejects wrong types and values in every field', () => {
    const bad: Array<[string, unknown, RegExp]> = [
      ['v', 2, /format/],
      ['v', '1', /format/],
      ['seq', 0, /bad seq/],
      ['seq', -1, /bad seq/],
      ['seq', 1.5, /bad seq/],
      ['seq', '7', /bad seq/],
      ['seq', 2 ** 60, /bad seq/],
      ['prev', bytes(31), /bad prev/],
      ['prev', bytes(33), /bad prev/],
      ['prev', 'ab'.repeat(16), /bad prev/],
      ['prev', Array.from(bytes(32)), /bad prev/],
      ['time', -1, /bad time/],
      ['time', 0.5, /bad time/],
      ['time', 'now', /bad time/],
      ['time', null, /bad time/],
      ['session', '', /bad session/],
      ['session', 'two words', /bad session/],
      ['session', '.hidden', /bad session/],
      ['session', 'x'.repeat(129), /bad session/],
      ['session', 'nul\u0000', /bad session/],
      ['session', 7, /bad session/],
      ['principal', 'a/b', /bad principal/],
      ['actor', 'ünï', /bad actor/],
      ['kind', 'nope', /unknown kind/],
      ['kind', 'toString', /unknown kind/],
      ['kind', '__proto__', /unknown kind/],
      ['kind', 1, /unknown kind/],
      ['body', null, /bad note body/],
      ['body', 'hello', /bad note body/],
      ['body', [], /bad note body/],
      ['body', {text: ''}, /bad note body/],
      ['body', {text: 'x'.repeat(MAX_NOTE_CHARS + 1)}, /bad note body/],
      ['body', {text: bytes(3)}, /bad note body/],
      ['body', {}, /bad note body/],
    ];
    for (const [field, value, why] of bad) rejects(plain.pack({...base(), [field]: value}), why, `${field}=${JSON.stringify(value)}`);
    const kindBody: Array<[string, unknown]> = [
      ['genesis', {format: 2, kernelKey: bytes(32)}],
      ['genesis', {format: 1, kernelKey: bytes(31)}],
      ['genesis', {format: 1, kernelKey: 'k'.repeat(32)}],
      ['genesis', {format: 1}],
      ['kernel.boot', {version: '1', mode: 'daemon'}],
      ['kernel.boot', {version: '', mode: 'cli'}],
      ['kernel.boot', {version: 'v'.repeat(65), mode: 'cli'}],
      ['kernel.shutdown', {reason: ''}],
      ['kernel.shutdown', {reason: 'r'.repeat(257)}],
      ['note', {text: 'x', mode: 'cli'}],
    ];
    for (const [kind, body] of kindBody) rejects(plain.pack({...base(), kind, body}), new RegExp(`bad ${kind.replace('.', '\\.')} body`), `${kind} ${JSON.stringify(body)}`);
  });

  test('rejects anything but plain msgpack: msgpackr records, typed-array and timestamp extensions, non-string keys', () => {
    const o = base();
    const good = plain.pack(o);
    assert.ok(decodeEntry(good).ok);
    rejects(new Packr({useRecords: true}).pack(o), /plain msgpack/, 'msgpackr record');
    const genesis = {...o, kind: 'genesis', body: {format: 1, kernelKey: bytes(32)}};
    assert.ok(decodeEntry(plain.pack(genesis)).ok);
    rejects(new Packr({useRecords: false, moreTypes: true}).pack(genesis), /plain msgpack/, 'typed-array extension');
    rejects(plain.pack({...o, time: new Date(5)}), /plain msgpack|bad time/, 'timestamp extension');
    rejects(rawMap(pairsOf(o).map(([k, v]) => [k === 'kind' ? Buffer.from('kind') : k, v])), /plain msgpack/, 'bin key');
    rejects(rawMap([...pairsOf(o).slice(0, 8), ['body', new Map<unknown, unknown>([[1, 'x']])]]), /plain msgpack/, 'integer key in body');
    rejects(rawMap([...pairsOf(o).slice(0, 8), ['body', new Map([['tëxt', 'x']])]]), /plain msgpack/, 'non-ASCII key');
    const deep = new Raw(Buffer.concat([new Uint8Array(100_000).fill(0x91), Uint8Array.of(0xc0)]));
    rejects(rawMap([...pairsOf(o).slice(0, 8), ['body', deep]]), /plain msgpack/, 'deeply nested');
    const huge = new Raw(Uint8Array.of(0xdd, 0xff, 0xff, 0xff, 0xff, 0xc0));
    rejects(rawMap([...pairsOf(o).slice(0, 8), ['body', huge]]), /plain msgpack/, 'array claiming 2^32-1 items');
  });
});

describe('verification fast path', () => {
  const stored = (b: Uint8Array): Uint8Array => Buffer.concat([bytes(32, 7), b]);
  /** checkStoredEntry never accepts what decodeEntry refuses, and reads the same fields. */
  function agrees(b: Uint8Array): boolean {
    const out: CheckedEntry = {seq: -1, time: -1, prevAt: -1, kind: -1};
    const fast = checkStoredEntry(stored(b), out);
    const d = decodeEntry(b);
    if (fast) {
      assert.ok(d.ok, `fast path accepted what decodeEntry refuses: ${d.ok ? '' : d.problem}`);
      assert.equal(out.seq, d.entry.seq);
      assert.equal(out.time, d.entry.time);
      assert.equal(ENTRY_KINDS[out.kind], d.entry.kind);
      assert.deepEqual(new Uint8Array(stored(b).subarray(out.prevAt, out.prevAt + 32)), new Uint8Array(d.entry.prev));
      assert.notEqual(d.entry.kind, 'genesis');
    }
    return fast;
  }

  test('accepts exactly what decodeEntry accepts, on valid entries and on entries with bytes flipped, cut or inserted', () => {
    fc.assert(
      fc.property(entryArb, fc.nat(), fc.integer({min: 1, max: 255}), fc.constantFrom('none', 'flip', 'cut', 'insert', 'append'), (e, at, x, how) => {
        const b = encodeEntry(e);
        const p = at % b.length;
        const m =
          how === 'none'
            ? b
            : how === 'flip'
              ? Uint8Array.from(b, (v, i) => (i === p ? v ^ x : v))
              : how === 'cut'
                ? b.subarray(0, p)
                : how === 'insert'
                  ? Buffer.concat([b.subarray(0, p), Uint8Array.of(x), b.subarray(p)])
                  : Buffer.concat([b, Uint8Array.of(x)]);
        const fast = agrees(m);
        // Every valid entry but a genesis takes the fast path when it is written the way the ledger writes it.
        if (how === 'none' && e.kind !== 'genesis') assert.ok(fast, 'a canonical entry missed the fast path');
      }),
      {numRuns: 3000},
    );
  });

  test('notes at the edges: empty, longest, one over, non-ASCII, other string widths, other key encodings', () => {
    const note = (body: Uint8Array): Uint8Array => {
      const e = encodeEntry({...BASE, prev: bytes(32, 9), body: {text: 'x'}} as unknown as LedgerEntry);
      const head = e.subarray(0, e.length - plain.pack({text: 'x'}).length);
      return Buffer.concat([head, body]);
    };
    const str = (t: string, header: number[]): Uint8Array => Buffer.concat([Uint8Array.from(header), Buffer.from(t, 'utf8')]);
    const cases: Array<[Uint8Array, boolean]> = [
      [plain.pack({text: 'a'}), true],
      [plain.pack({text: 'a'.repeat(MAX_NOTE_CHARS)}), true],
      [plain.pack({text: 'a'.repeat(MAX_NOTE_CHARS + 1)}), false],
      [plain.pack({text: ''}), false],
      [plain.pack({text: 'é'}), true],
      [plain.pack({text: 'é'.repeat(MAX_NOTE_CHARS)}), true],
      [Buffer.concat([Uint8Array.of(0x81), plain.pack('text'), str('abc', [0xda, 0, 3])]), true],
      [Buffer.concat([Uint8Array.of(0x81), plain.pack('text'), str('abc', [0xdb, 0, 0, 0, 3])]), true],
      [Buffer.concat([Uint8Array.of(0x81), str('text', [0xd9, 4]), plain.pack('abc')]), true],
      [Buffer.concat([Uint8Array.of(0x81), plain.pack('text'), str('abc', [0xd9, 4])]), false],
      [Buffer.concat([Uint8Array.of(0x81), plain.pack('text'), str('abcd', [0xd9, 3])]), false],
      [Buffer.concat([Uint8Array.of(0x82), plain.pack('text'), plain.pack('abc'), plain.pack('text'), plain.pack('abc')]), false],
      [plain.pack({text: 'abc', more: 1}), false],
      [plain.pack({text: 5}), false],
      [Buffer.concat([plain.pack({text: 'abc'}), Uint8Array.of(0xc0)]), false],
    ];
    for (const [body, valid] of cases) {
      const b = note(body);
      assert.equal(decodeEntry(b).ok, valid, Buffer.from(body).toString('hex'));
      agrees(b);
    }
  });
});

describe('body encoder', () => {
  // Any UTF-16 unit, lone surrogates included, so both of msgpackr's string paths (by hand
  // under 64 units, Buffer's UTF-8 writer from 64) are compared on the awkward cases.
  const unit = fc.oneof(fc.integer({min: 0, max: 0x7f}), fc.integer({min: 0x80, max: 0xffff})).map((c) => String.fromCharCode(c));
  const str = fc.oneof(fc.string({unit, maxLength: 80}), fc.string({unit, minLength: 60, maxLength: 300}), fc.string({unit: 'grapheme', maxLength: 200}));
  const num = fc.oneof(
    fc.integer({min: -0x80000000, max: 0xffffffff}),
    fc.integer({min: -300, max: 300}),
    fc.constantFrom(0x7f, 0x80, 0xff, 0x100, 0xffff, 0x10000, 0xffffffff, 2 ** 32, -0x20, -0x21, -0x80, -0x81, -0x8000, -0x8001, -0, Number.NaN, Infinity),
    fc.maxSafeInteger(),
    fc.double(),
  );
  const bin = fc.oneof(fc.uint8Array({maxLength: 300}), fc.uint8Array({maxLength: 40}).map((b) => Buffer.from(b)), fc.constant(new Uint8Array(70_000)));
  const {value} = fc.letrec<{value: unknown}>((tie) => ({
    value: fc.oneof(
      {depthSize: 'small', withCrossShrink: true},
      str,
      num,
      fc.boolean(),
      fc.constant(null),
      bin,
      fc.array(tie('value'), {maxLength: 20}),
      fc.dictionary(str, tie('value'), {maxKeys: 20}),
    ),
  }));

  test('writes exactly the bytes msgpackr writes, for every value a body can hold', () => {
    fc.assert(
      fc.property(value, (v) => {
        assert.deepEqual(Buffer.from(packBody(v)).toString('hex'), Buffer.from(plain.pack(v)).toString('hex'));
      }),
      {numRuns: 2000},
    );
  });

  test('long strings, big maps and arrays, and values it leaves to msgpackr', () => {
    const big: Record<string, number> = {};
    for (let i = 0; i < 70_000; i++) big[`k${i}`] = i;
    const cases: unknown[] = [
      'x'.repeat(70_000),
      'é'.repeat(40_000),
      '\ud800'.repeat(100),
      big,
      Array.from({length: 70_000}, (_, i) => i),
      {a: undefined},
      {d: new Date(0)},
      {s: new Set([1])},
      {n: 2n},
      Object.create(null),
    ];
    for (const v of cases) assert.equal(Buffer.from(packBody(v)).toString('hex'), Buffer.from(plain.pack(v)).toString('hex'));
  });
  // A string whose UTF-8 length needs a longer header than its UTF-16 length suggests (20
  // units of U+0800 are 60 bytes: str 8, not fixstr) moves up a byte as it is written; at
  // the very end of the encoder's buffer that byte must still be in room. Compared with
  // msgpackr itself: both of the ledger's paths share the string writer.
  test('strings that end exactly at the end of the buffer, whatever their header, on both paths', async () => {
    const strings = ['\u0800'.repeat(20), '\u0800'.repeat(100)]; // 60 bytes (str 8, not fixstr), 300 (str 16, not str 8)
    const bodyOf = (p: number, s: string, last: boolean) => ({topic: 't', payload: new Uint8Array(p).fill(7), from: last ? 'f' : s, corr: last ? s : 'c'});
    // The scratch (body at 0, 16 KiB at first): each case in a module instance of its own,
    // as the first body past the end grows the scratch for good. These payloads put the
    // string's end at byte 16,384 (and around it) for each string in each place.
    let instance = 0;
    const fresh = async (): Promise<{packBody: typeof packBody}> => (await import(new URL(`../../src/ledger/codec.js?fresh=${instance++}`, import.meta.url).href)) as {packBody: typeof packBody};
    for (const s of strings) {
      for (let p = 16_040; p < 16_305; p = p === 16_064 ? 16_285 : p + 1) {
        for (const last of [false, true]) {
          const body = bodyOf(p, s, last);
          assert.equal(Buffer.from((await fresh()).packBody(body)).toString('hex'), Buffer.from(plain.pack(body)).toString('hex'), `scratch, payload ${p}`);
        }
      }
    }
    // In place (after the envelope, in a 16 KiB buffer): every payload up to and past the edge.
    const out = new Uint8Array(16 * 1024);
    let inPlace = 0;
    for (const s of strings) {
      for (let p = 15_900; p < 16_400; p++) {
        for (const last of [false, true]) {
          const body = bodyOf(p, s, last);
          const want = plain.pack(body);
          const n = encodeFieldsInto(out, 1, 9, bytes(32, 3), 5, 's', 'p', 'a', 'bus.message', body);
          if (n < 0) {
            assert.ok(want.length > out.length - 400, `refused a body of ${want.length} bytes`);
            continue;
          }
          inPlace++;
          assert.equal(Buffer.from(out.subarray(n - want.length, n)).toString('hex'), Buffer.from(want).toString('hex'), `in place, payload ${p}`);
        }
      }
    }
    assert.ok(inPlace > 500, 'the in-place path was taken up to its edge');
  });

  // The ledger's append path encodes into the hasher's 16 KiB buffer, the body in place.
  test('in place: the same bytes as encodeWithPrev for any fields and body, -1 only when it does not fit, and the scratch left sound', () => {
    const out = new Uint8Array(16 * 1024);
    const fields = fc.record({
      seq: fc.integer({min: 1, max: Number.MAX_SAFE_INTEGER}),
      time: fc.integer({min: 0, max: Number.MAX_SAFE_INTEGER}),
      session: id,
      principal: id,
      actor: id,
      kind: fc.constantFrom(...ENTRY_KINDS),
      fill: fc.integer({min: 0, max: 255}),
    });
    const bodies = fc.oneof(value, fc.constantFrom<unknown>('x'.repeat(20_000), {d: new Date(0)}, {n: 2n}, {a: undefined}, {big: new Uint8Array(16_000)}));
    fc.assert(
      fc.property(fields, bodies, ({seq, time, session, principal, actor, kind, fill}, body) => {
        const prev = Uint8Array.from({length: 32}, (_, i) => (i * 37 + fill) & 0xff);
        out.fill(0xee);
        const want = encodeWithPrev({v: 1, seq, prev, time, session, principal, actor, kind, body} as unknown as LedgerEntry);
        const n = encodeFieldsInto(out, 1, seq, prev, time, session, principal, actor, kind, body);
        if (n < 0) assert.ok(want.length > out.length / 3, `refused an entry of ${want.length} bytes`);
        else assert.equal(Buffer.from(out.subarray(0, n)).toString('hex'), Buffer.from(want).toString('hex'));
        // The shared scratch is the encoder's own again, whatever happened.
        assert.equal(Buffer.from(packBody({k: body === undefined ? null : 'v'.repeat(70)})).toString('hex'), Buffer.from(plain.pack({k: body === undefined ? null : 'v'.repeat(70)})).toString('hex'));
      }),
      {numRuns: 1500},
    );
    assert.equal(encodeFieldsInto(new Uint8Array(40), 1, 1, bytes(32), 0, 's', 'p', 'a', 'note', {text: 'x'}), -1, 'an envelope larger than the buffer');
  });
});

describe('ids and seqs', () => {
  test('isId and the parsers agree with the grammar for any string', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({maxLength: 140}), id, fc.string({unit: 'binary', maxLength: 10})), (s) => {
        assert.equal(isId(s), ID_RE.test(s));
        if (isId(s)) assert.equal(parseSessionId(s), s);
        else assert.throws(() => parseSessionId(s), TypeError);
      }),
      {numRuns: 500},
    );
    for (const v of [undefined, null, 5, ['a'], {}]) assert.equal(isId(v), false);
    for (const v of [0, -1, 1.5, Number.MAX_SAFE_INTEGER + 1, '1', Number.NaN]) assert.throws(() => parseSeq(v), RangeError);
    assert.equal(parseSeq(Number.MAX_SAFE_INTEGER), Number.MAX_SAFE_INTEGER);
  });
});
