// Proves: plain(), which shapes every value that crosses the uplink socket, copies data and never an object's prototype: a `__proto__` key stays a key.
import {describe, it} from 'node:test';
import {strict as assert} from 'node:assert';
import {plain, checkedOp} from '../../src/kernel/index.js';

describe('plain: prototype keys', () => {
  it('an own __proto__ key (as JSON.parse makes) is copied as a key, never installed as the prototype', () => {
    const hostile = JSON.parse('{"a":1,"nested":{"__proto__":{"polluted":true}},"__proto__":{"admin":true}}') as Record<string, unknown>;
    const out = plain(hostile) as Record<string, unknown>;
    assert.equal(Object.getPrototypeOf(out), Object.prototype);
    assert.equal((out as {admin?: unknown}).admin, undefined);
    assert.deepEqual(Object.keys(out), ['a', 'nested', '__proto__']);
    const nested = out.nested as Record<string, unknown>;
    assert.equal(Object.getPrototypeOf(nested), Object.prototype);
    assert.equal((nested as {polluted?: unknown}).polluted, undefined);
    assert.ok(Object.hasOwn(nested, '__proto__'));
    assert.equal(({} as {polluted?: unknown}).polluted, undefined);
  });

  it('an operation closed argument object refuses a __proto__ key', () => {
    const args = JSON.parse('{"all":true,"__proto__":{"x":1}}') as unknown;
    assert.throws(() => checkedOp('session.list', args), (e: Error & {code?: string}) => e.code === 'INPUT_INVALID');
    assert.throws(() => checkedOp('session.list', plain(args)), (e: Error & {code?: string}) => e.code === 'INPUT_INVALID');
  });
});
