/**
 * The LedgerStore contract, run against every backend: lifecycle states, atomic ordered
 * batches, copies in and out, byte-ordered ranges, chunked iteration, and the errors a
 * misuse gets (LEDGER_NOT_OPEN, TypeError, RangeError).
 */
import {describe, test} from 'node:test';
import {strict as assert} from 'node:assert';
import fc from 'fast-check';
import type {BatchOp, LedgerStore, RangeOptions} from '../../src/ledger/index.js';
import {code, u8, withStore, type StoreFactory} from './ledger-fixtures.js';

const b = (...xs: number[]): Uint8Array => Uint8Array.from(xs);
const cmp = (x: Uint8Array, y: Uint8Array): number => Buffer.compare(x, y);
const hex = (x: Uint8Array): string => Buffer.from(x).toString('hex');

async function drain(it: AsyncIterable<[Uint8Array, Uint8Array]>): Promise<Array<[string, string]>> {
  const out: Array<[string, string]> = [];
  for await (const [k, v] of it) out.push([hex(k), hex(v)]);
  return out;
}

async function clear(store: LedgerStore): Promise<void> {
  const ops: BatchOp[] = [];
  for await (const [key] of store.iterate()) ops.push({type: 'del', key});
  await store.batch(ops, {sync: false});
}

/** What a range query must return, computed on a plain sorted array. */
function model(keys: Uint8Array[], o: RangeOptions): string[] {
  let r = [...keys].sort(cmp).filter((k) => (o.gte === undefined || cmp(k, o.gte) >= 0) && (o.lt === undefined || cmp(k, o.lt) < 0));
  if (o.reverse === true) r.reverse();
  if (o.limit !== undefined) r = r.slice(0, o.limit);
  return r.map(hex);
}

export function storeContract(name: string, makeStore: StoreFactory): void {
  describe(`${name}: store contract`, () => {
    test('status goes new -> open -> closed; close is idempotent; open while open is refused; data survives a reopen', async () => {
      await withStore(makeStore, async (store) => {
        assert.equal(store.status, 'new');
        await store.open();
        assert.equal(store.status, 'open');
        await assert.rejects(store.open(), code('LEDGER_OPEN_FAILED'));
        assert.equal(store.status, 'open');
        await store.batch([{type: 'put', key: b(1), value: b(42)}], {sync: true});
        await store.close();
        assert.equal(store.status, 'closed');
        await store.close();
        assert.equal(store.status, 'closed');
        await store.open();
        assert.deepEqual(u8(await store.get(b(1))), b(42));
      });
    });

    test('LEDGER_NOT_OPEN before open and after close, for batch, get, iterate and iterateChunks', async () => {
      await withStore(makeStore, async (store) => {
        const all = async (): Promise<void> => {
          await assert.rejects(store.batch([{type: 'put', key: b(1), value: b(1)}], {sync: true}), code('LEDGER_NOT_OPEN'));
          await assert.rejects(store.get(b(1)), code('LEDGER_NOT_OPEN'));
          await assert.rejects(drain(store.iterate()), code('LEDGER_NOT_OPEN'));
          await assert.rejects(async () => {
            for await (const _ of store.iterateChunks()) assert.fail('yielded');
          }, code('LEDGER_NOT_OPEN'));
        };
        await all();
        await store.open();
        await store.close();
        await all();
      });
    });

    test('get of a missing key is undefined; an empty value is not missing; values are copied in and out', async () => {
      await withStore(makeStore, async (store) => {
        await store.open();
        assert.equal(await store.get(b(9, 9)), undefined);
        const v = b(1, 2, 3);
        await store.batch([{type: 'put', key: b(1), value: v}, {type: 'put', key: b(2), value: new Uint8Array(0)}], {sync: true});
        v[0] = 99;
        const got = await store.get(b(1));
        assert.deepEqual(u8(got), b(1, 2, 3));
        (got as Uint8Array)[1] = 99;
        assert.deepEqual(u8(await store.get(b(1))), b(1, 2, 3));
        const empty = await store.get(b(2));
        assert.ok(empty instanceof Uint8Array);
        assert.equal(empty.length, 0);
        for await (const [, iv] of store.iterate({gte: b(1), lt: b(2)})) iv[0] = 77;
        assert.deepEqual(u8(await store.get(b(1))), b(1, 2, 3));
      });
    });

    test('a batch applies its ops in order, and nothing at all when one op is malformed', async () => {
      await withStore(makeStore, async (store) => {
        await store.open();
        await store.batch([{type: 'put', key: b(1), value: b(1)}, {type: 'del', key: b(1)}], {sync: true});
        assert.equal(await store.get(b(1)), undefined);
        await store.batch([{type: 'del', key: b(2)}, {type: 'put', key: b(2), value: b(2)}, {type: 'put', key: b(2), value: b(3)}], {sync: false});
        assert.deepEqual(u8(await store.get(b(2))), b(3));
        const bad = [
          {type: 'put', key: b(5), value: b(5)},
          {type: 'put', key: b(6), value: 'not bytes'},
        ] as unknown as BatchOp[];
        await assert.rejects(store.batch(bad, {sync: true}), TypeError);
        assert.equal(await store.get(b(5)), undefined, 'the valid op before a malformed one must not be applied');
        await store.batch([], {sync: true});
        assert.deepEqual(await drain(store.iterate()), [[hex(b(2)), hex(b(3))]]);
      });
    });

    test('TypeError on malformed ops and keys, RangeError on a bad limit', async () => {
      await withStore(makeStore, async (store) => {
        await store.open();
        const malformed: unknown[] = [
          'not an array',
          [{type: 'put', key: 'k', value: b(1)}],
          [{type: 'put', key: new Uint8Array(0), value: b(1)}],
          [{type: 'put', key: b(1)}],
          [{type: 'put', key: b(1), value: [1, 2]}],
          [{type: 'merge', key: b(1), value: b(1)}],
          [{key: b(1), value: b(1)}],
          [null],
        ];
        for (const ops of malformed) {
          await assert.rejects(store.batch(ops as BatchOp[], {sync: true}), TypeError, JSON.stringify(ops));
        }
        await assert.rejects(store.get('k' as unknown as Uint8Array), TypeError);
        for (const limit of [-1, 1.5, Number.NaN, Infinity]) {
          await assert.rejects(drain(store.iterate({limit})), RangeError);
          await assert.rejects(async () => {
            for await (const _ of store.iterateChunks({limit})) assert.fail('yielded');
          }, RangeError);
        }
        assert.deepEqual(await drain(store.iterate()), []);
      });
    });

    test('empty bounds: gte of no bytes is below every key, lt of no bytes above none', async () => {
      await withStore(makeStore, async (store) => {
        await store.open();
        const keys = [b(0), b(0x43, 0, 0, 0, 0, 0, 0, 0, 1), b(0x44), b(0x45, 1), b(0x53), b(0xff)];
        await store.batch(keys.map((k) => ({type: 'put', key: k, value: b(1)})), {sync: false});
        const empty = new Uint8Array(0);
        assert.deepEqual((await drain(store.iterate({gte: empty}))).map(([k]) => k), keys.map(hex));
        assert.deepEqual(await drain(store.iterate({lt: empty})), []);
        assert.deepEqual((await drain(store.iterate({gte: empty, reverse: true, limit: 2}))).map(([k]) => k), [hex(b(0xff)), hex(b(0x53))]);
      });
    });

    test('iterate returns exactly the model range in byte order (gte, lt, reverse, limit)', async () => {
      await withStore(makeStore, async (store) => {
        await store.open();
        const key = fc.uint8Array({minLength: 1, maxLength: 4, min: 0, max: 255});
        // 0x44 and 0x45 start the keys LevelStore keeps in its chain database; the others go to the one beside it.
        const edgy = fc.constantFrom(b(0), b(0, 0), b(0x7f), b(0x80), b(0xff), b(0xff, 0xff), b(0x44), b(0x44, 0xff), b(0x45), b(0x45, 0), b(0x45, 0xff, 0), b(0x46), b(0x43, 0xff));
        await fc.assert(
          fc.asyncProperty(
            fc.uniqueArray(fc.oneof(key, edgy), {maxLength: 40, selector: hex}),
            fc.option(fc.oneof(key, edgy), {nil: undefined}),
            fc.option(fc.oneof(key, edgy), {nil: undefined}),
            fc.boolean(),
            fc.option(fc.nat(45), {nil: undefined}),
            async (keys, gte, lt, reverse, limit) => {
              await clear(store);
              await store.batch(keys.map((k) => ({type: 'put', key: k, value: Uint8Array.of(k.length, ...k)})), {sync: false});
              const o: RangeOptions = {reverse, ...(gte ? {gte} : {}), ...(lt ? {lt} : {}), ...(limit === undefined ? {} : {limit})};
              const got = await drain(store.iterate(o));
              assert.deepEqual(got.map(([k]) => k), model(keys, o));
              for (const [k, v] of got) assert.equal(v, hex(Uint8Array.of(k.length / 2, ...Buffer.from(k, 'hex'))));
            },
          ),
          {numRuns: 40},
        );
      });
    });

    test('an iteration reads a snapshot: what is put, replaced or deleted after its first chunk is not seen', async () => {
      await withStore(makeStore, async (store) => {
        await store.open();
        const n = 2500;
        const key = (i: number): Uint8Array => b(0x45, i >> 8, i & 0xff);
        await store.batch(Array.from({length: n}, (_, i) => ({type: 'put' as const, key: key(i), value: b(1)})), {sync: true});
        let seen = 0;
        let first = true;
        for await (const chunk of store.iterateChunks({})) {
          if (first) {
            first = false;
            const later: BatchOp[] = [];
            for (let i = 0; i < n; i += 2) later.push({type: 'del', key: key(i)});
            for (let i = 1; i < n; i += 2) later.push({type: 'put', key: key(i), value: b(2)});
            later.push({type: 'put', key: key(n + 1), value: b(2)});
            await store.batch(later, {sync: true});
          }
          for (const [, v] of chunk) assert.deepEqual([...v], [1], 'values as they were');
          seen += chunk.length;
        }
        assert.equal(seen, n, 'keys as they were');
      });
    });

    test('iterateChunks yields non-empty chunks covering the range, and limit holds across chunks', async () => {
      await withStore(makeStore, async (store) => {
        await store.open();
        const n = 2500;
        const key = (i: number): Uint8Array => b(0x45, i >> 8, i & 0xff);
        const ops: BatchOp[] = Array.from({length: n}, (_, i) => ({type: 'put', key: key(i), value: b(i & 0xff)}));
        await store.batch(ops, {sync: true});
        const chunkSizes = async (o: RangeOptions): Promise<{sizes: number[]; first: string; last: string}> => {
          const sizes: number[] = [];
          let first = '';
          let last = '';
          for await (const chunk of store.iterateChunks(o)) {
            assert.ok(chunk.length > 0, 'chunks are never empty');
            sizes.push(chunk.length);
            first ||= hex((chunk[0] as [Uint8Array, Uint8Array])[0]);
            last = hex((chunk[chunk.length - 1] as [Uint8Array, Uint8Array])[0]);
          }
          return {sizes, first, last};
        };
        const all = await chunkSizes({});
        assert.ok(all.sizes.length > 1, 'a large range comes in several chunks');
        assert.equal(all.sizes.reduce((a, x) => a + x, 0), n);
        const lim = await chunkSizes({limit: 1500});
        assert.equal(lim.sizes.reduce((a, x) => a + x, 0), 1500);
        assert.equal(lim.last, hex(key(1499)));
        const rev = await chunkSizes({reverse: true, limit: 1200, gte: key(100), lt: key(2000)});
        assert.equal(rev.sizes.reduce((a, x) => a + x, 0), 1200);
        assert.equal(rev.first, hex(key(1999)));
        assert.equal(rev.last, hex(key(800)));
        assert.deepEqual((await chunkSizes({limit: 0})).sizes, []);
        assert.deepEqual((await chunkSizes({gte: key(10), lt: key(10)})).sizes, []);
        assert.deepEqual((await chunkSizes({gte: key(20), lt: key(10)})).sizes, []);
        // stopping early releases the iterator; the store stays usable
        for await (const _ of store.iterate()) break;
        await store.batch([{type: 'del', key: key(0)}], {sync: true});
        assert.equal(await store.get(key(0)), undefined);
      });
    });
  });
}
