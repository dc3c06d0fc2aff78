// Proves the uplink codec treats every byte as hostile: any input ends in exactly-one-known-message decodes or a sticky PROTOCOL_* refusal, oversized frames are refused from their header alone, and valid messages round-trip whatever the chunking.
import {describe, it} from 'node:test';
import {strict as assert} from 'node:assert';
import {spawnSync} from 'node:child_process';
import fc from 'fast-check';
import {Packr} from 'msgpackr';
import {AstridError} from '../../src/errors/index.js';
import {DEFAULT_MAX_FRAME_BYTES, encodeFrame, FrameDecoder, parseMessage, PROTOCOL_VERSION, type UplinkMessage} from '../../src/protocol/index.js';
import {xorshift32} from '../helpers/prng.js';

const packr = new Packr({useRecords: false, moreTypes: false, variableMapSize: true});
const HEX = 'ab'.repeat(32);

const header = (len: number): number[] => [(len >>> 24) & 0xff, (len >>> 16) & 0xff, (len >>> 8) & 0xff, len & 0xff];
/** A frame around arbitrary body bytes, with an honest length. */
const frameOf = (body: ArrayLike<number>): Uint8Array => Uint8Array.from([...header(body.length), ...Array.from(body)]);
const packed = (v: unknown): Uint8Array => frameOf(packr.pack(v));
/** msgpack fixstr bytes. */
const s = (str: string): number[] => {
  const b = new TextEncoder().encode(str);
  return [0xa0 + b.length, ...b];
};
/** A `res` body whose `value` is the given raw msgpack bytes. */
const resWith = (value: number[], id = 1): number[] => [0x83, ...s('t'), ...s('res'), ...s('id'), id, ...s('value'), ...value];
const concat = (parts: readonly Uint8Array[]): Uint8Array => Uint8Array.from(parts.flatMap((p) => Array.from(p)));

const isProtocolError = (e: unknown): e is AstridError => e instanceof AstridError && (e.code === 'PROTOCOL_MALFORMED' || e.code === 'PROTOCOL_FRAME_TOO_LARGE');
const throwsCode = (fn: () => unknown, code: 'PROTOCOL_MALFORMED' | 'PROTOCOL_FRAME_TOO_LARGE'): void =>
  assert.throws(fn, (e: unknown) => e instanceof AstridError && e.code === code);

const BYE = encodeFrame({t: 'bye', reason: 'ok'});

/** Push chunks in order; on a refusal, check it is a PROTOCOL_* error that every later push repeats. */
function feed(dec: FrameDecoder, chunks: readonly Uint8Array[]): {msgs: UplinkMessage[]; error: AstridError | undefined} {
  const msgs: UplinkMessage[] = [];
  for (const c of chunks) {
    try {
      for (const m of dec.push(c)) {
        assert.deepEqual(parseMessage(m), m, 'only valid messages come out');
        msgs.push(m);
      }
    } catch (e) {
      assert.ok(isProtocolError(e), `unexpected throw: ${String(e)}`);
      assert.equal(dec.buffered, 0);
      for (const later of [new Uint8Array(0), BYE, c]) assert.throws(() => dec.push(later), (x: unknown) => x === e, 'a dead decoder repeats its error');
      return {msgs, error: e};
    }
  }
  return {msgs, error: undefined};
}

/** Split bytes at the given points (taken modulo length+1; empty chunks allowed). */
function splitAt(bytes: Uint8Array, points: readonly number[]): Uint8Array[] {
  const cuts = points.map((p) => p % (bytes.length + 1)).sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let at = 0;
  for (const c of [...cuts, bytes.length]) {
    out.push(bytes.subarray(at, c));
    at = c;
  }
  return out;
}

// --- arbitraries -------------------------------------------------------------------------
const key = fc.string({maxLength: 6}).filter((k) => k !== '__proto__');
const {opaque} = fc.letrec<{opaque: unknown}>((tie) => ({
  opaque: fc.oneof(
    {maxDepth: 3},
    fc.constant(null),
    fc.boolean(),
    fc.integer(),
    fc.maxSafeInteger(),
    fc.double().filter((x) => !Object.is(x, -0)),
    fc.string({unit: 'grapheme', maxLength: 12}),
    fc.uint8Array({maxLength: 8}),
    fc.array(tie('opaque'), {maxLength: 4}),
    fc.dictionary(key, tie('opaque'), {maxKeys: 4, noNullPrototype: true}),
  ),
}));
const text = fc.oneof({arbitrary: fc.string({unit: 'grapheme', maxLength: 24}), weight: 9}, {arbitrary: fc.constant('é'.repeat(1024)), weight: 1});
const hex64 = fc.uint8Array({minLength: 32, maxLength: 32}).map((b) => Buffer.from(b).toString('hex'));
const version = fc.integer({min: 0, max: 0xffff});
const id = fc.oneof(fc.constantFrom(0, 0xffffffff), fc.integer({min: 0, max: 0xffffffff}));
const op = fc.stringMatching(/^[a-z][a-z0-9.-]{0,63}$/);
const code = fc.stringMatching(/^[A-Z][A-Z0-9_]{0,63}$/);
const topic = fc.string({unit: 'grapheme', minLength: 1, maxLength: 24}).filter((t) => t.length <= 256);
const message: fc.Arbitrary<UplinkMessage> = fc.oneof(
  fc.tuple(version, hex64, text).map(([v, token, client]): UplinkMessage => ({t: 'hello', v, token, client})),
  fc.tuple(version, hex64, text).map(([v, kernel, connection]): UplinkMessage => ({t: 'welcome', v, kernel, connection})),
  fc.tuple(code, text).map(([c, m]): UplinkMessage => ({t: 'refused', code: c, message: m})),
  fc.tuple(id, op, opaque).map(([i, o, args]): UplinkMessage => ({t: 'req', id: i, op: o, args})),
  fc.tuple(id, opaque).map(([i, value]): UplinkMessage => ({t: 'res', id: i, value})),
  fc.tuple(id, code, text).map(([i, c, m]): UplinkMessage => ({t: 'err', id: i, code: c, message: m, details: {}})),
  fc.tuple(id, opaque).map(([i, payload]): UplinkMessage => ({t: 'stream', id: i, payload})),
  fc.tuple(topic, opaque).map(([tp, payload]): UplinkMessage => ({t: 'event', topic: tp, payload})),
  text.map((reason): UplinkMessage => ({t: 'bye', reason})),
);
/** msgpack fragments that steer random bodies into interesting decoder paths (not ext 0x62: see its own test). */
const fragment = fc.oneof(
  fc.integer({min: 0, max: 255}).map((b) => [b]),
  fc.constantFrom(
    [0x81], [0x83], [0x84], [0x91], [0xc0], [0xc1], [0xc3], [0x40], ...['t', 'req', 'res', 'bye', 'id', 'op', 'args', 'value', 'reason', '__proto__', 'constructor'].map(s),
    [0xcb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 0], [0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], [0xd3, 0x80, 0, 0, 0, 0, 0, 0, 0],
    [0xdc, 0xff, 0xff], [0xdd, 0xff, 0xff, 0xff, 0xff], [0xdf, 0xff, 0xff, 0xff, 0xff], [0xdb, 0x7f, 0xff, 0xff, 0xff], [0xc6, 0xff, 0xff, 0xff, 0xff],
    [0xc9, 0xff, 0xff, 0xff, 0xff, 0x01], [0xd4, 0x72, 0x40], [0xd5, 0x72, 0x40, 0x00], [0xd6, 0x69, 0, 0, 0, 1], [0xd6, 0x70, 0, 0, 0, 1],
    [0xd4, 0x65, 0], [0xd4, 0x78, 0], [0xd4, 0x73, 0], [0xd5, 0x74, 0x05, 0], [0xd6, 0xff, 0, 0, 0, 0], [0xd4, 0, 0],
  ),
);
const framedGarbage = fc.array(fragment, {minLength: 1, maxLength: 24}).map((fs) => frameOf(fs.flat()));

describe('hostile bytes', () => {
  it('property: random bytes in random chunks only ever yield valid messages or a sticky PROTOCOL_* error', () => {
    fc.assert(
      fc.property(fc.uint8Array({maxLength: 200}), fc.array(fc.nat(), {maxLength: 8}), fc.constantFrom(1, 16, DEFAULT_MAX_FRAME_BYTES), (bytes, cuts, max) => {
        feed(new FrameDecoder(max), splitAt(bytes, cuts));
      }),
      {seed: 0x9a01, numRuns: 400},
    );
  });

  it('property: honestly framed msgpack-ish garbage, several frames, random chunks: same contract', () => {
    fc.assert(
      fc.property(fc.array(framedGarbage, {minLength: 1, maxLength: 4}), fc.array(fc.nat(), {maxLength: 8}), (frames, cuts) => {
        feed(new FrameDecoder(), splitAt(concat(frames), cuts));
      }),
      {seed: 0x9a02, numRuns: 600},
    );
  });

  it('property: valid frames with one corrupted byte decode to valid messages or fail with a sticky PROTOCOL_* error', () => {
    fc.assert(
      fc.property(fc.array(message, {minLength: 1, maxLength: 4}), fc.nat(), fc.integer({min: 1, max: 255}), fc.array(fc.nat(), {maxLength: 6}), (msgs, where, flip, cuts) => {
        const bytes = concat(msgs.map((m) => encodeFrame(m)));
        const i = where % bytes.length;
        bytes[i] = (bytes[i] ?? 0) ^ flip;
        feed(new FrameDecoder(), splitAt(bytes, cuts));
      }),
      {seed: 0x9a03, numRuns: 400},
    );
  });

  it('a deeply nested value (stack overflow in msgpack) is PROTOCOL_MALFORMED and leaves other decoders working', () => {
    const dec = new FrameDecoder();
    const {error} = feed(dec, [frameOf(resWith([...new Array<number>(200_000).fill(0x91), 0xc0]))]);
    assert.equal(error?.code, 'PROTOCOL_MALFORMED');
    assert.deepEqual(new FrameDecoder().push(BYE), [{t: 'bye', reason: 'ok'}]);
  });

  it('a 13-byte frame using msgpackr bundled strings (ext 0x62) with a negative size is refused, not decoded forever', () => {
    // the size 0xfffffffc is read as -4, moving the read position back before the ext, so every
    // further value read re-reads it; run in a child with a small heap so a loop cannot take this process down
    const body = [0xa0, 0xa0, 0xd6, 0x62, 0xff, 0xff, 0xff, 0xfc, 0xc0];
    const url = new URL('../../src/protocol/index.js', import.meta.url).href;
    const code =
      `import {FrameDecoder} from ${JSON.stringify(url)};` +
      `try { new FrameDecoder().push(Uint8Array.from(${JSON.stringify([...header(body.length), ...body])})); process.stdout.write('accepted'); }` +
      `catch (e) { process.stdout.write(String(e.code)); }`;
    const r = spawnSync(process.execPath, ['--max-old-space-size=32', '--input-type=module', '-e', code], {encoding: 'utf8', timeout: 120_000});
    assert.equal(r.stdout, 'PROTOCOL_MALFORMED', `child exited ${String(r.status)}/${String(r.signal)}: ${r.stderr.split('\n').find((l) => /error/i.test(l)) ?? ''}`);
  });
});

describe('frame lengths', () => {
  for (const max of [DEFAULT_MAX_FRAME_BYTES, 16]) {
    for (const len of [0xffffffff, max + 1]) {
      it(`max ${max}: a length prefix of ${len} is refused from its 4 header bytes, even fed one byte at a time, and no body is held`, () => {
        const dec = new FrameDecoder(max);
        const hdr = header(len);
        for (let i = 0; i < 3; i++) {
          assert.deepEqual(dec.push(Uint8Array.of(hdr[i] ?? 0)), []);
          assert.equal(dec.buffered, i + 1);
        }
        throwsCode(() => dec.push(Uint8Array.of(hdr[3] ?? 0, 0x83, 0xa1)), 'PROTOCOL_FRAME_TOO_LARGE');
        assert.ok(dec.buffered <= 4);
        const {error} = feed(dec, [new Uint8Array(64)]);
        assert.equal(error?.code, 'PROTOCOL_FRAME_TOO_LARGE');

        const whole = new FrameDecoder(max);
        throwsCode(() => whole.push(Uint8Array.from([...hdr, ...new Array<number>(4096).fill(0x61)])), 'PROTOCOL_FRAME_TOO_LARGE');
        assert.equal(whole.buffered, 0);
      });
    }
  }

  it('a length of exactly the maximum is held, not refused', () => {
    const dec = new FrameDecoder(16);
    assert.deepEqual(dec.push(Uint8Array.from([...header(16), 0x8f])), []);
    assert.equal(dec.buffered, 5);
  });

  it('a truncated frame is held byte for byte at every cut, then completes; the held bytes are a copy', () => {
    const m: UplinkMessage = {t: 'req', id: 7, op: 'bus.send', args: {to: 'tool.x', data: Uint8Array.of(1, 2, 3)}};
    const f = encodeFrame(m);
    for (let k = 0; k < f.length; k++) {
      const dec = new FrameDecoder();
      const head = f.slice(0, k);
      assert.deepEqual(dec.push(head), []);
      assert.equal(dec.buffered, k);
      head.fill(0xc1); // the caller reuses its buffer
      assert.deepEqual(dec.push(f.slice(k)), [m]);
      assert.equal(dec.buffered, 0);
    }
    const dec = new FrameDecoder();
    assert.deepEqual(dec.push(concat([BYE, f.subarray(0, 9)])), [{t: 'bye', reason: 'ok'}]);
    assert.equal(dec.buffered, 9);
  });
});

describe('round trip', () => {
  it('property: any messages of every type, framed, concatenated and split anywhere, decode to the same messages in order', () => {
    fc.assert(
      fc.property(fc.array(message, {minLength: 1, maxLength: 12}), fc.array(fc.nat(), {maxLength: 12}), (msgs, cuts) => {
        for (const m of msgs) assert.deepEqual(parseMessage(m), m, 'the generator makes valid messages');
        const frames = msgs.map((m) => encodeFrame(m));
        for (const f of frames) assert.equal(new DataView(f.buffer).getUint32(0), f.length - 4);
        const largest = Math.max(...frames.map((f) => f.length));
        const dec = new FrameDecoder();
        const out: UplinkMessage[] = [];
        for (const c of splitAt(concat(frames), cuts)) {
          out.push(...dec.push(c));
          assert.ok(dec.buffered < largest, 'never more than one frame held');
        }
        assert.deepEqual(out, msgs);
        assert.equal(dec.buffered, 0);
      }),
      {seed: 0x9a04, numRuns: 300},
    );
  });

  it('a random byte-at-a-time stream of 50 messages decodes in order (xorshift chunking)', () => {
    const rnd = xorshift32(0x9a05);
    const msgs: UplinkMessage[] = Array.from({length: 50}, (_, i) => ({t: 'res', id: i, value: {i, s: 'x'.repeat(rnd() % 40)}}));
    const bytes = concat(msgs.map((m) => encodeFrame(m)));
    const dec = new FrameDecoder();
    const out: UplinkMessage[] = [];
    for (let at = 0; at < bytes.length; ) {
      const n = rnd() % 3 === 0 ? 1 : rnd() % 64;
      out.push(...dec.push(bytes.subarray(at, at + n)));
      at += n;
    }
    assert.deepEqual(out, msgs);
  });
});

describe('strict messages', () => {
  const valid: Record<UplinkMessage['t'], Record<string, unknown>> = {
    hello: {t: 'hello', v: PROTOCOL_VERSION, token: HEX, client: 'cli'},
    welcome: {t: 'welcome', v: PROTOCOL_VERSION, kernel: HEX, connection: 'c1'},
    refused: {t: 'refused', code: 'AUTH_FAILED', message: 'no'},
    req: {t: 'req', id: 1, op: 'bus.send', args: {x: 1}},
    res: {t: 'res', id: 1, value: null},
    err: {t: 'err', id: 1, code: 'GATE_DENIED', message: 'm', details: null},
    stream: {t: 'stream', id: 2, payload: {progress: 1}},
    event: {t: 'event', topic: 'tool.x', payload: [1]},
    bye: {t: 'bye', reason: ''},
  };
  const wrong: Record<string, unknown[]> = {
    id: [-1, 1.5, 2 ** 32, 2 ** 53, NaN, Infinity, '1', null],
    v: [-1, 0x10000, 0.5, '1', null],
    token: [HEX.slice(1), HEX + 'a', HEX.toUpperCase(), 'g' + HEX.slice(1), HEX.slice(1) + '\n', 1],
    kernel: [HEX.toUpperCase(), ''],
    op: ['Bus.send', '1op', '', 'a'.repeat(65), 'bus send', 'bus_send', 7],
    code: ['gate_denied', 'Gate', '_X', 'A'.repeat(65), 'A-B', ''],
    message: ['x'.repeat(1025), 1, null, Uint8Array.of(0x61)],
    client: ['x'.repeat(1025), ['a']],
    connection: [{}],
    reason: ['é'.repeat(1025), true],
    topic: ['', 'x'.repeat(257), 3],
  };
  const refusals: Array<[string, unknown]> = [
    ['unknown t', {t: 'hi', reason: ''}],
    ['t uppercase', {t: 'BYE', reason: ''}],
    ['t from Object.prototype', {t: 'toString', reason: ''}],
    ['t __proto__', {t: '__proto__'}],
    ['t not a string', {t: 1, reason: ''}],
    ['t missing', {reason: ''}],
    ['null', null],
    ['a number', 1],
    ['a string', 'bye'],
    ['an array', [{t: 'bye', reason: ''}]],
    ['a binary', Uint8Array.of(0x81, 0xa1, 0x74)],
    ['__proto__ key', JSON.parse('{"t":"bye","reason":"","__proto__":{"polluted":1}}')],
    ['constructor key', {t: 'bye', reason: '', constructor: {prototype: {polluted: 1}}}],
    ['prototype key', {t: 'bye', reason: '', prototype: 1}],
  ];
  for (const [t, base] of Object.entries(valid)) {
    for (const f of Object.keys(base).filter((k) => k !== 't')) {
      const {[f]: _gone, ...rest} = base;
      refusals.push([`${t} missing ${f}`, rest]);
      for (const w of wrong[f] ?? []) refusals.push([`${t}.${f} = ${typeof w === 'string' && w.length > 20 ? `${w.slice(0, 8)}… (${w.length})` : String(w)}`, {...base, [f]: w}]);
    }
    refusals.push([`${t} with an extra field`, {...base, extra: 1}]);
  }

  it('every type parses at its limits (id 0 and 2^32-1, 1024-char strings, 64-char op, 256-char topic, null prototype)', () => {
    const edge = [
      ...Object.values(valid),
      {t: 'res', id: 0xffffffff, value: null},
      {t: 'err', id: 0, code: 'A'.repeat(64), message: '€'.repeat(1024), details: {seq: 3}},
      {t: 'req', id: 0, op: 'a'.repeat(64), args: null},
      {t: 'event', topic: 't'.repeat(256), payload: {}},
      {t: 'hello', v: 0xffff, token: '0123456789abcdef'.repeat(4), client: ''},
    ];
    for (const m of edge) {
      assert.deepEqual(parseMessage(m), m);
      assert.deepEqual(new FrameDecoder().push(packed(m)), [m]);
    }
    assert.deepEqual(parseMessage(Object.assign(Object.create(null) as object, {t: 'bye', reason: 'r'})), {t: 'bye', reason: 'r'});
    // undefined has no standard msgpack type (msgpackr writes an extension): not on the wire
    throwsCode(() => new FrameDecoder().push(packed({t: 'res', id: 1, value: undefined})), 'PROTOCOL_MALFORMED');
    throwsCode(() => encodeFrame({t: 'res', id: 1, value: undefined}), 'PROTOCOL_MALFORMED');
  });

  for (const [name, v] of refusals) {
    it(`refused: ${name}`, () => {
      assert.equal(typeof parseMessage(v), 'string');
      throwsCode(() => new FrameDecoder().push(packed(v)), 'PROTOCOL_MALFORMED');
    });
  }

  it('a Map, a class instance or an object with a foreign prototype is not a message', () => {
    const bye = new (class Bye {
      t = 'bye';
      reason = '';
    })();
    for (const v of [new Map([['t', 'bye'], ['reason', '']]), bye, Object.assign(Object.create({polluted: 1}) as object, {t: 'bye', reason: ''}), new Date(0)]) {
      assert.equal(typeof parseMessage(v), 'string', String(v));
    }
  });

  it('args, value and payload are opaque: nested garbage passes through, nothing is polluted', () => {
    const args: unknown = JSON.parse('{"__proto__":{"polluted":1},"constructor":{"prototype":{"polluted":1}},"deep":[[[[[1]]]]],"n":null}');
    const m = {t: 'req', id: 3, op: 'x', args};
    const parsed = parseMessage(m);
    assert.ok(typeof parsed === 'object' && parsed.t === 'req');
    assert.equal(parsed.args, args, 'passed through by reference, not inspected');
    const [decoded] = new FrameDecoder().push(packed(m));
    assert.ok(decoded?.t === 'req');
    const a = decoded.args as Record<string, unknown>;
    assert.equal(Object.getPrototypeOf(a), Object.prototype);
    assert.deepEqual(a.constructor, {prototype: {polluted: 1}});
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });
});

describe('frame contents', () => {
  const cases: Array<[string, number[]]> = [
    ['two msgpack values', [...packr.pack({t: 'bye', reason: ''}), 0xc0]],
    ['two whole messages in one frame', [...packr.pack({t: 'bye', reason: ''}), ...packr.pack({t: 'bye', reason: ''})]],
    ['a trailing never-used byte 0xc1', [...packr.pack({t: 'bye', reason: ''}), 0xc1]],
    ['a trailing partial value', [...packr.pack({t: 'bye', reason: ''}), 0xd9]],
    ['a lone nil', [0xc0]],
    ['a lone 0xc1', [0xc1]],
  ];
  for (const [name, body] of cases) {
    it(`a frame holding ${name} is PROTOCOL_MALFORMED`, () => throwsCode(() => new FrameDecoder().push(frameOf(body)), 'PROTOCOL_MALFORMED'));
  }

  it('an empty frame (length 0) is PROTOCOL_MALFORMED as soon as its header arrives', () => {
    const dec = new FrameDecoder();
    throwsCode(() => dec.push(Uint8Array.of(0, 0, 0, 0)), 'PROTOCOL_MALFORMED');
    assert.equal(feed(dec, [BYE]).error?.code, 'PROTOCOL_MALFORMED');
    throwsCode(() => new FrameDecoder().push(concat([BYE, Uint8Array.of(0, 0, 0, 0), BYE])), 'PROTOCOL_MALFORMED');
  });

  it('structured-clone id (0x69) and pointer (0x70) extensions are refused: no reference graphs', () => {
    const selfRef = [0xd6, 0x69, 0, 0, 0, 1, 0x91, 0xd6, 0x70, 0, 0, 0, 1]; // id 1: an array holding pointer 1
    for (const value of [selfRef, [0xd6, 0x69, 0, 0, 0, 1, 0x80], [0xd6, 0x70, 0, 0, 0, 1]]) throwsCode(() => new FrameDecoder().push(frameOf(resWith(value))), 'PROTOCOL_MALFORMED');
  });

  it('record extension 0x72 is refused or yields plain, unshared data, and leaks nothing to another connection', () => {
    // define record 0x40 with the one key __proto__, then use it five times (past msgpackr's compiled-reader threshold)
    const use = [0x40, 0x81, ...s('polluted'), 1];
    const value = [0x95, 0xd4, 0x72, 0x40, 0x91, ...s('__proto__'), 0x81, ...s('polluted'), 1, ...use, ...use, ...use, ...use];
    const {msgs, error} = feed(new FrameDecoder(), [frameOf(resWith(value))]);
    if (error === undefined) {
      const first = msgs[0];
      const v = first?.t === 'res' ? first.value : undefined;
      assert.ok(Array.isArray(v) && v.length === 5);
      for (const o of v) assert.equal(Object.getPrototypeOf(o), Object.prototype);
      assert.equal(new Set(v).size, 5, 'no shared references');
    }
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.deepEqual(new FrameDecoder().push(frameOf(resWith([0x40], 0x40))), [{t: 'res', id: 64, value: 64}], 'fixint 64 is still 64 on another connection');
  });
});

describe('limits', () => {
  it('encodeFrame refuses a message over the maximum with PROTOCOL_FRAME_TOO_LARGE, and accepts exactly the maximum', () => {
    const m: UplinkMessage = {t: 'res', id: 1, value: 'x'.repeat(100)};
    const size = encodeFrame(m).length - 4;
    assert.equal(encodeFrame(m, size).length, size + 4);
    throwsCode(() => encodeFrame(m, size - 1), 'PROTOCOL_FRAME_TOO_LARGE');
    throwsCode(() => encodeFrame({t: 'res', id: 1, value: new Uint8Array(DEFAULT_MAX_FRAME_BYTES)}), 'PROTOCOL_FRAME_TOO_LARGE');
  });

  it('the decoder maximum must be 1 byte to 64 MiB (RangeError otherwise); push takes only bytes (TypeError)', () => {
    for (const max of [0, -1, 64 * 1024 * 1024 + 1, 1.5, NaN, Infinity]) assert.throws(() => new FrameDecoder(max), RangeError, String(max));
    assert.equal(new FrameDecoder(1).buffered, 0);
    assert.equal(new FrameDecoder(64 * 1024 * 1024).buffered, 0);
    assert.throws(() => new FrameDecoder().push('abcd' as unknown as Uint8Array), TypeError);
  });
});
