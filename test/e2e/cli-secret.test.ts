// Proves: from outside, `astrid secret set` takes the value from stdin or a file (never from argv), stores it 0600 bound to hosts, records only the name and hosts, and `list`/`remove` work with the JSON contract.
import {after, describe, it} from 'node:test';
import {strict as assert} from 'node:assert';
import {readFileSync, statSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';
import {runCli, tmpDir, cliFails, cliOk} from '../helpers/index.js';

const VALUE = 'Bearer e2e-secret-91b0';

describe('astrid secret set, list, remove', () => {
  const {dir, cleanup} = tmpDir('astrid-e2e-secret-');
  const home = join(dir, 'home');
  after(cleanup);

  it('set from stdin (one trailing newline dropped) and from a file; list shows names and hosts only', () => {
    const a = cliOk(runCli(['secret', 'set', 'API_TOKEN', '--host', 'api.example.com', '--json'], home, {}, `${VALUE}\n`));
    assert.deepEqual([a.name, a.hosts], ['API_TOKEN', ['api.example.com']]);
    assert.equal(typeof a.seq, 'number');
    const stored = JSON.parse(readFileSync(join(home, 'secrets', 'API_TOKEN'), 'utf8')) as {value: string};
    assert.equal(stored.value, VALUE);
    assert.equal(statSync(join(home, 'secrets', 'API_TOKEN')).mode & 0o777, 0o600);
    assert.equal(statSync(join(home, 'secrets')).mode & 0o777, 0o700);
    writeFileSync(join(dir, 'v.txt'), 'from-a-file\r\n');
    cliOk(runCli(['secret', 'set', 'FILE_TOKEN', '--host', 'a.test', '--host', 'b.test', '--from-file', join(dir, 'v.txt'), '--json'], home));
    assert.equal((JSON.parse(readFileSync(join(home, 'secrets', 'FILE_TOKEN'), 'utf8')) as {value: string}).value, 'from-a-file');
    const list = runCli(['secret', 'list', '--json'], home);
    assert.equal(list.status, 0, list.stderr);
    assert.deepEqual(JSON.parse(list.stdout), [
      {name: 'API_TOKEN', hosts: ['api.example.com']},
      {name: 'FILE_TOKEN', hosts: ['a.test', 'b.test']},
    ]);
    assert.equal(list.stdout.includes('e2e-secret'), false);
  });

  it('the ledger records secret.set and secret.removed with the name, never the value', () => {
    cliOk(runCli(['secret', 'remove', 'FILE_TOKEN', '--json'], home));
    const show = runCli(['audit', 'show', '--json'], home);
    assert.equal(show.status, 0, show.stderr);
    const entries = JSON.parse(show.stdout) as Array<{kind: string; body: Record<string, unknown>}>;
    assert.deepEqual(
      entries.filter((e) => e.kind.startsWith('secret.')).map((e) => [e.kind, e.body]),
      [
        ['secret.set', {name: 'API_TOKEN', hosts: ['api.example.com']}],
        ['secret.set', {name: 'FILE_TOKEN', hosts: ['a.test', 'b.test']}],
        ['secret.removed', {name: 'FILE_TOKEN'}],
      ],
    );
    assert.equal(show.stdout.includes('e2e-secret'), false);
  });

  it('refuses a value as an argument, a missing --host, bad names, empty input, and removing what is not there', () => {
    cliFails(runCli(['secret', 'set', 'X_TOKEN', VALUE, '--host', 'a.test', '--json'], home, {}, VALUE), 'INPUT_INVALID', 2);
    cliFails(runCli(['secret', 'set', 'X_TOKEN', '--json'], home, {}, VALUE), 'INPUT_INVALID', 2);
    const bad = cliFails(runCli(['secret', 'set', 'lower', '--host', 'a.test', '--json'], home, {}, VALUE), 'SECRET_INVALID');
    assert.equal(String(bad.message).includes('e2e-secret'), false);
    cliFails(runCli(['secret', 'set', 'X_TOKEN', '--host', 'a.test', '--json'], home, {}, ''), 'SECRET_INVALID');
    cliFails(runCli(['secret', 'set', 'X_TOKEN', '--host', 'a.test', '--json'], home, {}, `${VALUE}\nsecond line`), 'SECRET_INVALID');
    cliFails(runCli(['secret', 'remove', 'X_TOKEN', '--json'], home), 'SECRET_NOT_FOUND');
    const list = cliOk(runCli(['secret', 'list', '--json'], home)) as unknown as Array<{name: string}>;
    assert.deepEqual(list.map((s) => s.name), ['API_TOKEN']);
  });
});
