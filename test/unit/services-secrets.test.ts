// Proves: the secret store keeps each secret in a 0600 file in a 0700 directory, refuses looser permissions, symlinks and bad names or values, never quotes a value in an error, and lists names only.
import {describe, it} from 'node:test';
import {strict as assert} from 'node:assert';
import {chmodSync, readdirSync, statSync, symlinkSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';
import {SecretStore} from '../../src/services/index.js';
import {AstridError} from '../../src/errors/index.js';
import {tmpDir} from '../helpers/index.js';

const VALUE = 'Bearer unit-secret-4d2a';

/** Assert `f` throws an AstridError with `code` whose message and details never contain the value. */
function throwsCode(f: () => unknown, code: string): void {
  assert.throws(f, (e: unknown) => {
    assert.ok(e instanceof AstridError, String(e));
    assert.equal(e.code, code, e.message);
    assert.equal(JSON.stringify(e.toJSON()).includes('unit-secret'), false, 'the value is never in an error');
    return true;
  });
}

describe('services: the secret store', () => {
  it('stores a value as a 0600 file in a 0700 directory, bound to hosts; lists names only', () => {
    const {dir, cleanup} = tmpDir('astrid-secrets-');
    try {
      const s = SecretStore.open(join(dir, 'secrets'));
      assert.equal(statSync(s.dir).mode & 0o777, 0o700);
      assert.deepEqual(s.set('API_TOKEN', VALUE, ['API.Example.com', 'api.example.com']), {value: VALUE, hosts: ['api.example.com']});
      assert.equal(statSync(join(s.dir, 'API_TOKEN')).mode & 0o777, 0o600);
      assert.deepEqual(s.get('API_TOKEN'), {value: VALUE, hosts: ['api.example.com']});
      assert.equal(s.has('API_TOKEN'), true);
      s.set('B', 'x', ['[::1]']);
      assert.deepEqual(s.list(), ['API_TOKEN', 'B']);
      s.set('API_TOKEN', 'replaced', ['a.test']);
      assert.equal(s.get('API_TOKEN').value, 'replaced');
      assert.deepEqual(readdirSync(s.dir).sort(), ['API_TOKEN', 'B'], 'no temporary files left behind');
      s.remove('B');
      assert.equal(s.has('B'), false);
      throwsCode(() => s.remove('B'), 'SECRET_NOT_FOUND');
      throwsCode(() => s.get('NOPE'), 'SECRET_NOT_FOUND');
    } finally {
      cleanup();
    }
  });

  it('refuses a directory or a file open to group or others, and a symlinked secret', () => {
    const {dir, cleanup} = tmpDir('astrid-secrets-');
    try {
      const d = join(dir, 'secrets');
      const s = SecretStore.open(d);
      s.set('API_TOKEN', VALUE, ['a.test']);
      chmodSync(join(d, 'API_TOKEN'), 0o644);
      throwsCode(() => s.get('API_TOKEN'), 'KEY_PERMISSIONS_TOO_OPEN');
      chmodSync(join(d, 'API_TOKEN'), 0o600);
      chmodSync(d, 0o755);
      throwsCode(() => s.get('API_TOKEN'), 'KEY_PERMISSIONS_TOO_OPEN');
      throwsCode(() => s.list(), 'KEY_PERMISSIONS_TOO_OPEN');
      throwsCode(() => s.set('OTHER', VALUE, ['a.test']), 'KEY_PERMISSIONS_TOO_OPEN');
      throwsCode(() => SecretStore.open(d), 'KEY_PERMISSIONS_TOO_OPEN');
      chmodSync(d, 0o700);
      writeFileSync(join(dir, 'elsewhere'), JSON.stringify({v: 1, hosts: ['a.test'], value: 'x'}), {mode: 0o600});
      symlinkSync(join(dir, 'elsewhere'), join(d, 'LINKED'));
      throwsCode(() => s.get('LINKED'), 'KEY_IO');
      writeFileSync(join(d, 'DAMAGED'), '{"v":1,"hosts":[],"value":"x"}', {mode: 0o600});
      throwsCode(() => s.get('DAMAGED'), 'SECRET_INVALID');
    } finally {
      cleanup();
    }
  });

  it('refuses bad names, values and hosts without quoting the value', () => {
    const {dir, cleanup} = tmpDir('astrid-secrets-');
    try {
      const s = SecretStore.open(join(dir, 'secrets'));
      for (const name of ['lower', '_X', '1A', 'A-B', '../A', 'A'.repeat(65), '']) throwsCode(() => s.set(name, VALUE, ['a.test']), 'SECRET_INVALID');
      for (const value of ['', `${VALUE}\r\nX: y`, `${VALUE}\u0000`, 'unit-secret-' + 'x'.repeat(8192), `unit-secret-\u00e9`]) throwsCode(() => s.set('A', value, ['a.test']), 'SECRET_INVALID');
      for (const hosts of [[], ['http://a.test'], ['a.test/x'], ['*.a.test'], Array.from({length: 17}, (_, i) => `h${i}.test`)]) throwsCode(() => s.set('A', VALUE, hosts), 'SECRET_INVALID');
      assert.deepEqual(s.list(), [], 'nothing was stored');
    } finally {
      cleanup();
    }
  });
});
