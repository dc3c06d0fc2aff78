// Proves the in-place call-request decoder returns exactly what the generic strict decoder returns or declines, and that batched read records decode to the calls they record.
import {test} from 'node:test';
import {strict as assert} from 'node:assert';
import fc from 'fast-check';
import {Packr} from 'msgpackr';
import {decodeCallRequest, decodeSendRequest} from '../../src/sandbox/call-request.js';
import {CallBatch, binSize, writeBin} from '../../src/sandbox/call-batch.js';
import {asMap, pack, unpackUntrusted} from '../../src/sandbox/msgpack.js';

/** What the instance's generic path returns (it decodes a plain Uint8Array copy of guest memory). */
function generic(bytes: Uint8Array): {op: unknown; args: unknown} | undefined {
  const m = asMap(unpackUntrusted(new Uint8Array(bytes)), ['op', 'args']);
  return m === undefined ? undefined : {op: m.op, args: m.args};
}

function fast(bytes: Uint8Array): {op: unknown; args: unknown} | undefined {
  const mem = Buffer.alloc(bytes.length + 16, 0xee);
  mem.set(bytes, 7);
  return decodeCallRequest(mem, 7, 7 + bytes.length);
}

const scalar = fc.oneof(
  fc.string({maxLength: 40}),
  fc.string({unit: 'binary', maxLength: 12}),
  fc.uint8Array({maxLength: 300}),
  fc.nat(),
  fc.integer({min: -100, max: 100}),
  fc.constant(null),
  fc.boolean(),
  fc.double(),
);
const key = fc.oneof(fc.constantFrom('ns', 'key', 'value', 'n', 'path', 'limit', '__proto__', 'constructor'), fc.string({maxLength: 10}));
const args = fc.oneof(fc.dictionary(key, scalar, {maxKeys: 10}), fc.dictionary(key, fc.oneof(scalar, fc.array(scalar, {maxLength: 3})), {maxKeys: 3}));
const request = fc.oneof(
  fc.record({op: fc.oneof(fc.constantFrom('kv.get', 'kv.set', 'kv.list', 'clock.now'), fc.string({maxLength: 70})), args}),
  fc.record({args, op: fc.string({maxLength: 8})}),
  fc.record({op: fc.string(), args, extra: scalar}),
  fc.record({op: scalar, args: scalar}),
);

test('fast decode equals the generic decode whenever it answers', () => {
  let answered = 0;
  fc.assert(
    fc.property(request, (r) => {
      const bytes = pack(r);
      const f = fast(bytes);
      if (f !== undefined) {
        answered++;
        assert.deepEqual(f, generic(bytes));
        assert.equal(Object.getPrototypeOf(f.args), Object.prototype);
      }
    }),
    {numRuns: 3000},
  );
  assert.ok(answered > 300, `the fast path answered only ${answered} times`);
});

test('fast send decode equals the generic decode whenever it answers', () => {
  const genericSend = (bytes: Uint8Array): unknown => {
    const m = asMap(unpackUntrusted(new Uint8Array(bytes)), ['topic', 'payload'], ['corr']);
    return m === undefined ? undefined : {topic: m.topic, payload: m.payload, corr: m.corr};
  };
  const fastSend = (bytes: Uint8Array): unknown => {
    const mem = Buffer.alloc(bytes.length + 5, 0xee);
    mem.set(bytes, 3);
    return decodeSendRequest(mem, 3, 3 + bytes.length);
  };
  const send = fc.oneof(
    fc.record({topic: fc.oneof(fc.constantFrom('bench.reply', 'svc.fs.write'), fc.string({maxLength: 30})), payload: scalar}),
    fc.record({topic: fc.string({maxLength: 30}), payload: fc.oneof(scalar, args), corr: fc.oneof(scalar, fc.constant(undefined))}, {requiredKeys: ['topic', 'payload']}),
    fc.record({payload: scalar, corr: scalar, topic: scalar}),
    fc.record({topic: fc.string(), payload: scalar, extra: scalar}),
  );
  let answered = 0;
  fc.assert(
    fc.property(send, (r) => {
      const bytes = pack(r);
      const f = fastSend(bytes);
      if (f !== undefined) {
        answered++;
        assert.deepEqual(f, genericSend(bytes));
      }
    }),
    {numRuns: 3000},
  );
  assert.ok(answered > 300, `the fast path answered only ${answered} times`);
});

test('truncated, padded and mutated requests: fast decode never disagrees with the generic one', () => {
  const base = pack({op: 'kv.get', args: {ns: 'bench', key: 'bench-key-0123456789abcdef-00001'}});
  assert.deepEqual(fast(base), {op: 'kv.get', args: {ns: 'bench', key: 'bench-key-0123456789abcdef-00001'}});
  for (let n = 0; n < base.length; n++) assert.equal(fast(base.subarray(0, n)), undefined, `truncated to ${n}`);
  const padded = new Uint8Array(base.length + 1);
  padded.set(base);
  assert.equal(fast(padded), undefined, 'trailing byte');
  assert.equal(generic(padded), undefined);
  fc.assert(
    fc.property(fc.nat(base.length - 1), fc.nat(255), (at, v) => {
      const m = new Uint8Array(base);
      m[at] = v;
      const f = fast(m);
      if (f !== undefined) assert.deepEqual(f, generic(m));
    }),
    {numRuns: 3000},
  );
  // duplicate keys and non-string keys go to the generic path
  const dup = new Packr({useRecords: false, variableMapSize: true}).pack(new Map<unknown, unknown>([['op', 'a'], ['op', 'b']]));
  assert.equal(fast(dup), undefined);
});

test('a batch decodes to its records, in order, with the exact request and reply bytes', () => {
  fc.assert(
    fc.property(
      fc.array(fc.record({op: fc.constantFrom('kv.get', 'kv.list', 'x'.repeat(40)), request: fc.uint8Array({maxLength: 70_000}), status: fc.integer({min: -40, max: 2_000_000}), reply: fc.uint8Array({maxLength: 300})}), {maxLength: 8}),
      (calls) => {
        const b = new CallBatch();
        calls.forEach((c, i) => {
          const req = new Uint8Array(c.request.length + 3);
          req.set(c.request, 3);
          b.add(i + 120, c.op, req, 3, c.request.length, c.status, c.reply, c.reply.length);
        });
        assert.equal(b.count, calls.length);
        const out = unpackUntrusted(b.take());
        assert.ok(Array.isArray(out));
        assert.deepEqual(
          out.map((x: unknown) => (x as unknown[]).map((y) => (y instanceof Uint8Array ? new Uint8Array(y) : y))),
          calls.map((c, i) => [i + 120, c.op, c.request, c.status, c.reply]),
        );
        assert.equal(b.count, 0);
      },
    ),
    {numRuns: 200},
  );
});

test('writeBin gives the bytes pack() gives for a Uint8Array', () => {
  for (const n of [0, 1, 14, 255, 256, 65_535, 65_536, 70_000]) {
    const v = new Uint8Array(n).map((_, i) => i * 7);
    const out = new Uint8Array(binSize(n));
    assert.equal(writeBin(out, v), binSize(n));
    assert.deepEqual(Buffer.from(out), Buffer.from(pack(v)), `n = ${n}`);
  }
});
